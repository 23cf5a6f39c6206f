/*
 * hmr_btree.c - the one global B+tree that holds every record.
 *
 * Shape (HAMMER's, hmr_disk.h draws the node).  Records live only in
 * leaves.  An internal node with `count` children keeps child i's
 * inclusive left bound in elms[i].base and its own exclusive right bound
 * in elms[count].base, so every node knows the key range it covers.  All
 * leaves are at level 0 and the root is at m->root_level; every path from
 * the root to a leaf has the same length.
 *
 * Keys are (localization, obj_id, rec_type, key, create_tid).  The
 * versions of one logical record differ only in create_tid, so they sit
 * next to each other in key order, oldest first.  Two searches exist:
 * hmr_bt_seek, "the first element >= K" (scans start there), and
 * hmr_bt_seek_le, "the last element <= K": a lookup as of TID T asks for
 * the last element <= (..., key, create_tid = T), which is the newest
 * version T can see, so its cost does not grow with the record's history.
 * The element <= K may sit in the leaf before the one the descent reaches
 * (a leaf's first key can be larger than its left bound, the separator
 * its parent keeps), so the cursor can step back a leaf as well as on.
 *
 * Copy on write.  A node whose header generation equals the open TID was
 * created by the open commit and is changed in place.  Any other node is
 * reachable from the durable superblock, so before it changes it is copied
 * to a fresh block, its parent is pointed at the copy, and the old block
 * is freed with deferred reuse (hmr_alloc.c).  Descents that modify the
 * tree copy every node on the path top-down, so a parent is always
 * writable before its child is touched.
 *
 * Integrity.  Each internal element carries the CRC and the low 32 bits of
 * the generation of the child it points to; the superblock carries the
 * same for the root.  A node is checked (hmr_node_verify) the first time
 * it is read from the device; a mismatch is EIO, so a stale copy from a
 * lost write or a block written to the wrong place is never believed.
 * The CRCs of the open commit's nodes are computed once, bottom-up, at
 * commit time (hmr_bt_finalize).
 *
 * Inserts split full nodes on the way down (the root grows first), so the
 * leaf always has room.  Deletes remove empty leaves and then any internal
 * node left empty; there is no other rebalancing (as in H1).
 */
#include "hmr_private.h"

/* The smallest and largest possible keys: the root's bounds. */
static const struct hmr_base key_min;
static const struct hmr_base key_max = {
	.obj_id = ~0ull, .key = ~0ull, .create_tid = ~0ull,
	.rec_type = 0xffff, .localization = ~0u,
};

/* Three-way compare of two keys, field by field in key order.  This is
 * the general path; searches within one object's records use the cheaper
 * _tail_search below.  delete_tid, obj_type and btype are not key. */
static inline int _cmp(const struct hmr_base *a, const struct hmr_base *b)
{
	if (a->localization != b->localization)
		return a->localization < b->localization ? -1 : 1;
	if (a->obj_id != b->obj_id)
		return a->obj_id < b->obj_id ? -1 : 1;
	if (a->rec_type != b->rec_type)
		return a->rec_type < b->rec_type ? -1 : 1;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	if (a->create_tid != b->create_tid)
		return a->create_tid < b->create_tid ? -1 : 1;
	return 0;
}

/* hmr_key_cmp - <0, 0, >0 as a sorts before, with, after b. */
int hmr_key_cmp(const struct hmr_base *a, const struct hmr_base *b)
{
	return _cmp(a, b);
}

/*
 * The prefix (localization, rec_type) packed into one word: bytes 32..39
 * of an element base hold rec_type, obj_type, btype and localization, and
 * the mask drops obj_type and btype, which are not part of the key.
 */
#define PREFIX_MASK 0xFFFFFFFF0000FFFFull

static inline uint64_t _prefix_word(const struct hmr_base *b)
{
	uint64_t w;

	__builtin_memcpy(&w, &b->rec_type, sizeof(w));
	return w & PREFIX_MASK;
}

/* Does element e share the key's (localization, obj_id, rec_type)? */
static inline int _same_prefix(const struct hmr_base *e, uint64_t obj,
			       uint64_t word)
{
	return e->obj_id == obj && _prefix_word(e) == word;
}

/*
 * Fast path of both searches.  When the first and last elements searched
 * share the key's prefix, so do all between them (they are sorted) and
 * only (key, create_tid) matters: a branch-free lower bound on `key`,
 * then a short walk over elements with an equal key (versions of one
 * record) to place create_tid.  This is the common case - the versions,
 * blocks or entries of one object - and it needs about a third of the
 * instructions of the general search.  Returns the first index in
 * [lo, hi] whose element is >= key (or > key when `upper`), else hi + 1.
 */
/* The largest power of two <= i, for i = 0..63 (one load beats clz and
 * a shift in the hottest line of the filesystem). */
static const uint8_t _pow2_floor[64] = {
	0, 1, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8,
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16,
	32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
	32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
};

static inline int _tail_search(const struct hmr_node *n, int lo, int hi,
			       const struct hmr_base *key, int upper)
{
	(void)upper;
	const struct hmr_elm *b = &n->elms[lo];
	const uint64_t k = key->key;
	int len = hi - lo + 1, m;

	if (len <= 0)
		return lo;
	/*
	 * Lower bound on `key` without a loop: let m be the largest power of
	 * two <= len.  One probe picks which m-wide window holds the answer
	 * (the first m elements, or the last m), then the window is halved
	 * with constant steps m/2 ... 1, unrolled by the switch.  A node has
	 * at most 63 elements, so m <= 32.
	 */
	m = _pow2_floor[len];
	if (b[m - 1].base.key < k)
		b += len - m;
	_Static_assert(HMR_NODE_ELMS < 64, "the unrolled search covers m <= 32");
#define _STEP(s) b = b[(s) - 1].base.key < k ? b + (s) : b
	switch (m) {
	case 32: _STEP(16); /* fall through */
	case 16: _STEP(8);  /* fall through */
	case 8: _STEP(4);   /* fall through */
	case 4: _STEP(2);   /* fall through */
	case 2: _STEP(1);   /* fall through */
	default: break;
	}
#undef _STEP
	b += b->base.key < k; /* one candidate left; b <= hi by construction */
	/* Equal keys are versions; a key with create_tid 0 (the only kind
	 * this search gets) sits before all of them, as no record has
	 * create_tid 0, so `upper` changes nothing here. */
	return (int)(b - n->elms);
}

/*
 * The same search for a key with create_tid != 0 (as-of lookups, where
 * many versions of one key may fill a node): the halving steps compare
 * (key, create_tid), so a node full of versions costs six probes, not a
 * walk.  An element counts as "before the key" when its key is smaller,
 * or equal with a smaller create_tid (or, for `upper`, an equal one).
 */
static inline int _before_tid(const struct hmr_elm *e, uint64_t k, uint64_t t,
			      int upper)
{
	return e->base.key < k ||
	       (e->base.key == k && (e->base.create_tid < t ||
				     (upper && e->base.create_tid == t)));
}

static __attribute__((noinline)) int
_tail_search_tid(const struct hmr_node *n, int lo, int hi,
		 const struct hmr_base *key, int upper)
{
	const struct hmr_elm *b = &n->elms[lo];
	const uint64_t k = key->key, t = key->create_tid;
	int len = hi - lo + 1, m;

	if (len <= 0)
		return lo;
	m = _pow2_floor[len];
	if (_before_tid(&b[m - 1], k, t, upper))
		b += len - m;
	for (int step = m / 2; step >= 1; step /= 2)
		if (_before_tid(&b[step - 1], k, t, upper))
			b += step;
	b += _before_tid(b, k, t, upper);
	return (int)(b - n->elms);
}

/* The uniform-prefix search: the unrolled search on `key` alone, then,
 * when the key has a create_tid and versions of it are there, the
 * (key, create_tid) search over them.  A key without versions (every
 * insert of a new record) pays one compare for the second step. */
static inline __attribute__((always_inline)) int
_uniform_search(const struct hmr_node *n, int lo, int hi,
		const struct hmr_base *key, int upper)
{
	int i = _tail_search(n, lo, hi, key, upper);

	if (key->create_tid == 0 || i > hi || n->elms[i].base.key != key->key)
		return i;
	return _tail_search_tid(n, i, hi, key, upper);
}

/*
 * Internal node: the child whose range holds key (largest i with left
 * bound <= key).  *uniform says on entry that every key of this node
 * shares the search key's prefix (its parent proved it), and on return
 * whether that is also true of the chosen child's range.
 */
static inline __attribute__((always_inline)) int
_int_search(const struct hmr_node *n, const struct hmr_base *key, int *uniform)
{
	int lo = 1, hi = n->count - 1, found = 0;

	if (*uniform || (hi >= 1 &&
			 _same_prefix(&n->elms[1].base, key->obj_id, _prefix_word(key)) &&
			 _same_prefix(&n->elms[hi].base, key->obj_id, _prefix_word(key)))) {
		found = _uniform_search(n, 1, hi, key, 1) - 1;
		/* 1 <= found < hi: both bounds of the child were in range */
		*uniform |= (unsigned)(found - 1) < (unsigned)(hi - 1);
		return found;
	}
	*uniform = 0;
	while (lo <= hi) {
		int mid = (lo + hi) >> 1;

		if (_cmp(&n->elms[mid].base, key) <= 0) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}

/* Leaf: the first element >= key, or with `upper` the first > key
 * (count when there is none); `uniform` as for _int_search. */
static inline __attribute__((always_inline)) int
_leaf_search(const struct hmr_node *n, const struct hmr_base *key, int uniform,
	     int upper)
{
	int lo = 0, hi = n->count;

	if (hi > 0 && (uniform ||
		       (_same_prefix(&n->elms[0].base, key->obj_id, _prefix_word(key)) &&
			_same_prefix(&n->elms[hi - 1].base, key->obj_id, _prefix_word(key)))))
		return _uniform_search(n, 0, hi - 1, key, upper);
	while (lo < hi) {
		int mid = (lo + hi) >> 1;

		if (_cmp(&n->elms[mid].base, key) < upper)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A structural check failed: count it and say EIO. */
static int _corrupt(struct hmr_mount *m, uint64_t blkno, const char *what)
{
	m->stats.crc_errors++;
	hmr_log("B-tree node %llu: %s", (unsigned long long)blkno, what);
	return EIO;
}

/*
 * hmr_node_verify - check a node read from the device against what its
 * parent (or the superblock) expects: header, self-CRC, the parent's copy
 * of the CRC and generation, level and count.  Buffers created by the open
 * commit, or checked before, pass at once.  Returns 0 or EIO.
 */
int hmr_node_verify(struct hmr_mount *m, struct hmr_buf *b, uint32_t crc,
		    uint32_t gen_lo, int level)
{
	const struct hmr_node *n = hmr_buf_node(b);
	int max = level ? HMR_INT_MAX : HMR_LEAF_MAX;

	if (b->flags & HMR_BUF_VERIFIED)
		return 0;
	if (hmr_blkhdr_check(n, HMR_MAGIC_NODE, b->blkno, m->sb.hdr.fsid))
		return _corrupt(m, b->blkno, "bad CRC or header");
	if (n->hdr.crc != crc || (uint32_t)n->hdr.generation != gen_lo ||
	    n->hdr.generation > m->durable_tid)
		return _corrupt(m, b->blkno, "stale child (lost write)");
	if (n->level != level || n->count > max ||
	    n->type != (level ? HMR_NODE_INTERNAL : HMR_NODE_LEAF) ||
	    (level && n->count == 0))
		return _corrupt(m, b->blkno, "bad level, type or count");
	b->flags |= HMR_BUF_VERIFIED;
	return 0;
}

/* Read and verify child i of internal node `parent`.  The fast path - a
 * cached, already verified node - is inline; the rest is hmr_buf_get's. */
static inline int _child(struct hmr_mount *m, const struct hmr_node *parent,
			 int i, struct hmr_buf **out)
{
	const struct hmr_elm *e = &parent->elms[i];
	struct hmr_buf *b = hmr_buf_find(m, e->in.child_blkno);
	int error;

	if (b != NULL && (b->flags & HMR_BUF_VERIFIED)) {
		*out = b;
		return 0;
	}
	error = hmr_buf_get(m, e->in.child_blkno, out);

	if (error)
		return error == ENOMEM ? ENOMEM : EIO;
	return hmr_node_verify(m, *out, e->in.child_crc, e->in.child_gen_lo,
			       parent->level - 1);
}

/* Read and verify the root (cached and verified: the inline fast path). */
static inline int _root(struct hmr_mount *m, struct hmr_buf **out)
{
	struct hmr_buf *b = hmr_buf_find(m, m->root_blkno);
	int error;

	if (b != NULL && (b->flags & HMR_BUF_VERIFIED)) {
		*out = b;
		return 0;
	}
	error = hmr_buf_get(m, m->root_blkno, out);
	if (error)
		return EIO;
	return hmr_node_verify(m, *out, m->root_crc, m->root_gen_lo,
			       m->root_level);
}

/* From path[d] down to a leaf, always taking the leftmost child (the
 * first leaf of the subtree right of where the cursor was). */
static int _descend_leftmost(struct hmr_cursor *c, int d)
{
	for (; d + 1 < c->nlevels; d++) {
		struct hmr_node *n = hmr_buf_node(c->path[d].buf);
		int error = _child(c->m, n, c->path[d].index,
				   &c->path[d + 1].buf);

		if (error)
			return error;
		c->m->stats.nodes_visited++;
		c->path[d + 1].index = 0;
	}
	return 0;
}

/* Move the cursor to the first element of the next non-empty leaf: climb
 * to the lowest ancestor with a child further right, step right, and
 * descend leftmost.  Only the root can be an empty leaf. */
static int _next_leaf(struct hmr_cursor *c)
{
	for (int d = c->nlevels - 2; d >= 0; d--) {
		struct hmr_node *n = hmr_buf_node(c->path[d].buf);

		if (c->path[d].index + 1 >= n->count)
			continue;
		c->path[d].index++;
		return _descend_leftmost(c, d);
	}
	return ENOENT;
}

/*
 * hmr_bt_seek - position c at the first element >= key.  Returns 0,
 * ENOENT when no element is >= key, or EIO.  Read-only: copies nothing.
 */
int hmr_bt_seek(struct hmr_mount *m, const struct hmr_base *key,
		struct hmr_cursor *c)
{
	struct hmr_buf *b;
	int d, uniform = 0, error = _root(m, &b);

	c->m = m;
	c->nlevels = m->root_level + 1;
	/* Every node's level was verified against its place in the path, so
	 * the root's level says how many internal nodes lie above the leaf. */
	for (d = 0; !error && d < m->root_level; d++) {
		c->path[d].buf = b;
		c->path[d].index = _int_search(hmr_buf_node(b), key, &uniform);
		error = _child(m, hmr_buf_node(b), c->path[d].index, &b);
	}
	if (error)
		return error;
	m->stats.searches++;
	m->stats.nodes_visited += (uint64_t)c->nlevels;
	c->path[d].buf = b;
	c->path[d].index = _leaf_search(hmr_buf_node(b), key, uniform, 0);
	if (c->path[d].index < hmr_buf_node(b)->count)
		return 0;
	return _next_leaf(c);
}

/* hmr_bt_next - step to the next element: 0, ENOENT at the end, or EIO.
 * A cache safe point: the caller may hold no buffer pointer but the
 * cursor's (the element under it included). */
int hmr_bt_next(struct hmr_cursor *c)
{
	int leaf = c->nlevels - 1;

	hmr_cache_relax(c->m, c); /* a safe point: callers hold only c */
	c->m->stats.records_visited++;
	if (++c->path[leaf].index < hmr_buf_node(c->path[leaf].buf)->count)
		return 0;
	return _next_leaf(c);
}

/* From path[d] down to a leaf, always taking the rightmost child, and
 * stand on that leaf's last element. */
static int _descend_rightmost(struct hmr_cursor *c, int d)
{
	for (; d + 1 < c->nlevels; d++) {
		struct hmr_node *n = hmr_buf_node(c->path[d].buf);
		int error = _child(c->m, n, c->path[d].index,
				   &c->path[d + 1].buf);

		if (error)
			return error;
		c->m->stats.nodes_visited++;
		c->path[d + 1].index = hmr_buf_node(c->path[d + 1].buf)->count - 1;
	}
	return 0;
}

/* Move the cursor to the last element of the previous leaf: climb to the
 * lowest ancestor with a child further left, step left, descend
 * rightmost.  ENOENT when the cursor's leaf is the first. */
static int _prev_leaf(struct hmr_cursor *c)
{
	for (int d = c->nlevels - 2; d >= 0; d--) {
		if (c->path[d].index == 0)
			continue;
		c->path[d].index--;
		return _descend_rightmost(c, d);
	}
	return ENOENT;
}

/*
 * hmr_bt_seek_le - position c at the last element <= key.  Returns 0,
 * ENOENT when every element is larger, or EIO.  Read-only.  The descent
 * is hmr_bt_seek's; in the leaf it takes the first element > key and
 * steps back one, into the previous leaf when the leaf holds nothing
 * <= key (possible: a leaf's first key may lie above its left bound).
 */
int hmr_bt_seek_le(struct hmr_mount *m, const struct hmr_base *key,
		   struct hmr_cursor *c)
{
	struct hmr_buf *b;
	int d, uniform = 0, error = _root(m, &b);

	c->m = m;
	c->nlevels = m->root_level + 1;
	for (d = 0; !error && d < m->root_level; d++) {
		c->path[d].buf = b;
		c->path[d].index = _int_search(hmr_buf_node(b), key, &uniform);
		error = _child(m, hmr_buf_node(b), c->path[d].index, &b);
	}
	if (error)
		return error;
	m->stats.searches++;
	m->stats.nodes_visited += (uint64_t)c->nlevels;
	c->path[d].buf = b;
	c->path[d].index = _leaf_search(hmr_buf_node(b), key, uniform, 1) - 1;
	if (c->path[d].index >= 0)
		return 0;
	return _prev_leaf(c);
}


/* ---- copy on write ---------------------------------------------------- */

/* Copy node buffer `old` to a fresh block; returns the copy's buffer.
 * The old block is freed with deferred reuse: the durable tree still
 * points at it, and a crash before this commit lands must find it intact. */
static int _cow_copy(struct hmr_mount *m, struct hmr_buf *old,
		     struct hmr_buf **out)
{
	uint64_t blkno, old_blkno = old->blkno;
	struct hmr_node *n;
	int error = hmr_block_alloc(m, &blkno);

	if (error)
		return error;
	*out = hmr_buf_new(m, blkno);
	hmr_memcpy((*out)->data, old->data, HMR_BLOCK_SIZE);
	n = hmr_buf_node(*out);
	n->hdr.blkno = blkno;
	n->hdr.generation = m->tid;
	hmr_block_free(m, old_blkno); /* deferred: the durable tree has it */
	m->stats.cow_copies++;
	return 0;
}

/* Make the root writable in the open commit. */
static int _cow_root(struct hmr_mount *m, struct hmr_buf **out)
{
	int error = _root(m, out);

	if (error)
		return error;
	if (hmr_buf_node(*out)->hdr.generation == m->tid)
		return hmr_undo_touch(m, *out); /* changed in place: keep a copy */
	error = _cow_copy(m, *out, out);
	if (!error) {
		m->root_blkno = (*out)->blkno;
		m->root_gen_lo = (uint32_t)m->tid;
	}
	return error;
}

/* Make child i of the (writable) parent writable, pointing the parent at
 * the copy.  The parent's CRC field for it is refreshed at commit. */
static int _cow_child(struct hmr_mount *m, struct hmr_node *parent, int i,
		      struct hmr_buf **out)
{
	int error = _child(m, parent, i, out);

	if (error)
		return error;
	if (hmr_buf_node(*out)->hdr.generation == m->tid)
		return hmr_undo_touch(m, *out); /* changed in place: keep a copy */
	error = _cow_copy(m, *out, out);
	if (!error) {
		parent->elms[i].in.child_blkno = (*out)->blkno;
		parent->elms[i].in.child_gen_lo = (uint32_t)m->tid;
	}
	return error;
}

/* ---- insert ----------------------------------------------------------- */

static int _is_full(const struct hmr_node *n)
{
	return n->count >= (n->level ? HMR_INT_MAX : HMR_LEAF_MAX);
}

/* A fresh, empty node of `level` in a new block, stamped with the open
 * TID (so it is writable in place for the rest of the commit). */
static int _node_new(struct hmr_mount *m, int level, struct hmr_buf **out)
{
	uint64_t blkno;
	struct hmr_node *n;
	int error = hmr_block_alloc(m, &blkno);

	if (error)
		return error;
	*out = hmr_buf_new(m, blkno);
	n = hmr_buf_node(*out);
	n->hdr.magic = HMR_MAGIC_NODE;
	n->hdr.blkno = blkno;
	n->hdr.generation = m->tid;
	n->hdr.fsid = m->sb.hdr.fsid;
	n->level = (uint8_t)level;
	n->type = level ? HMR_NODE_INTERNAL : HMR_NODE_LEAF;
	return 0;
}

/* Point parent element e at the node in buffer b. */
static void _link(struct hmr_mount *m, struct hmr_elm *e, struct hmr_buf *b)
{
	e->in.child_blkno = b->blkno;
	e->in.child_gen_lo = (uint32_t)m->tid;
	e->in.child_crc = 0; /* set by hmr_bt_finalize */
}

/*
 * Split full child `ci` (buffer cb) of writable parent p, which has room.
 * The upper half moves to a new right sibling; its first key becomes the
 * separator.  An internal child keeps elms[half] as its new right bound.
 */
static int _split(struct hmr_mount *m, struct hmr_node *p, int ci,
		  struct hmr_buf *cb)
{
	struct hmr_node *c = hmr_buf_node(cb), *r;
	struct hmr_buf *rb;
	int half = c->count / 2, moved = c->count - half;
	int error = _node_new(m, c->level, &rb);

	if (error)
		return error;
	r = hmr_buf_node(rb);
	/* An internal node also moves its right bound (one more element). */
	hmr_memcpy(r->elms, &c->elms[half],
		   (size_t)(moved + (c->level ? 1 : 0)) * sizeof(struct hmr_elm));
	r->count = (uint16_t)moved;
	c->count = (uint16_t)half;
	hmr_memset(&c->elms[half + (c->level ? 1 : 0)], 0,
		   (size_t)(HMR_NODE_ELMS - half - (c->level ? 1 : 0)) *
			   sizeof(struct hmr_elm));
	if (c->level)
		hmr_memset(&c->elms[half].in, 0, sizeof(c->elms[half].in));
	hmr_memmove(&p->elms[ci + 2], &p->elms[ci + 1],
		    (size_t)(p->count - ci) * sizeof(struct hmr_elm));
	p->elms[ci + 1].base = r->elms[0].base;
	_link(m, &p->elms[ci + 1], rb);
	p->count++;
	m->stats.node_splits++;
	return 0;
}

/* The root is full: put a new root above it, then split the old root. */
static int _grow(struct hmr_mount *m, struct hmr_buf *old_root,
		 struct hmr_buf **out)
{
	struct hmr_node *n;
	int error = _node_new(m, m->root_level + 1, out);

	if (error)
		return error;
	n = hmr_buf_node(*out);
	n->elms[0].base = key_min;
	_link(m, &n->elms[0], old_root);
	n->elms[1].base = key_max;
	n->count = 1;
	m->root_blkno = (*out)->blkno;
	m->root_gen_lo = (uint32_t)m->tid;
	m->root_level++;
	return _split(m, n, 0, old_root);
}

/* One step of the insert descent: the writable child for key, split first
 * when full (the parent has room because it was split on the way down).
 * *uniform is carried down as in hmr_bt_seek; after a split the chosen
 * child's bounds are new, so only an inherited "uniform" survives. */
static int _insert_step(struct hmr_mount *m, struct hmr_node *n,
			const struct hmr_base *key, struct hmr_buf **out,
			int *uniform)
{
	int inherited = *uniform, i = _int_search(n, key, uniform);
	int error = _cow_child(m, n, i, out);

	if (error || !_is_full(hmr_buf_node(*out)))
		return error;
	error = _split(m, n, i, *out);
	if (error)
		return error;
	*uniform = inherited;
	if (_cmp(key, &n->elms[i + 1].base) >= 0)
		i++;
	return _child(m, n, i, out);
}

/*
 * hmr_bt_insert - add a record.  Returns 0, EEXIST when an element with
 * the same full key exists, ENOSPC, or EIO.  On ENOSPC the tree is still
 * well formed (splits done so far are harmless); the VOP's savepoint
 * (hmr_undo.c) takes back whatever the VOP had changed.
 */
int hmr_bt_insert(struct hmr_mount *m, const struct hmr_elm *elm)
{
	struct hmr_buf *b;
	struct hmr_node *n;
	int i, uniform = 0, error;

	HMR_ASSERT(elm->base.create_tid != 0, "records need a create_tid");
	hmr_tree_changed(m);
	error = _cow_root(m, &b);
	if (!error && _is_full(hmr_buf_node(b)))
		error = _grow(m, b, &b);
	while (!error && hmr_buf_node(b)->level > 0)
		error = _insert_step(m, hmr_buf_node(b), &elm->base, &b,
				     &uniform);
	if (error)
		return error;
	n = hmr_buf_node(b);
	i = _leaf_search(n, &elm->base, uniform, 0);
	if (i < n->count && _cmp(&n->elms[i].base, &elm->base) == 0)
		return EEXIST;
	hmr_memmove(&n->elms[i + 1], &n->elms[i],
		    (size_t)(n->count - i) * sizeof(struct hmr_elm));
	n->elms[i] = *elm;
	n->count++;
	return 0;
}

/* ---- modify and delete ------------------------------------------------ */

/* Copy-on-write descent to the leaf holding key, recording the path.  No
 * splits: modify and delete never add elements, so full nodes are fine. */
static int _descend_writable(struct hmr_mount *m, const struct hmr_base *key,
			     struct hmr_cursor *c)
{
	struct hmr_buf *b;
	int d = 0, uniform = 0, error = _cow_root(m, &b);

	c->m = m;
	c->nlevels = m->root_level + 1;
	while (!error && hmr_buf_node(b)->level > 0) {
		c->path[d].buf = b;
		c->path[d].index = _int_search(hmr_buf_node(b), key, &uniform);
		error = _cow_child(m, hmr_buf_node(b), c->path[d].index, &b);
		d++;
	}
	if (error)
		return error;
	c->path[d].buf = b;
	c->path[d].index = _leaf_search(hmr_buf_node(b), key, uniform, 0);
	return 0;
}

/* After a descent: is the exact key under the cursor?  (A lower-bound
 * descent lands on the key if it exists, in the leaf the path names.) */
static int _at_key(struct hmr_cursor *c, const struct hmr_base *key)
{
	struct hmr_node *n = hmr_buf_node(c->path[c->nlevels - 1].buf);
	int i = c->path[c->nlevels - 1].index;

	return i < n->count && _cmp(&n->elms[i].base, key) == 0;
}

/*
 * hmr_bt_modify - a writable pointer to the element with exactly `key`,
 * for changing fields that are not part of the key (delete_tid, payload
 * location and CRC).  Valid until the next tree change.  0, ENOENT, EIO,
 * ENOSPC.
 */
int hmr_bt_modify(struct hmr_mount *m, const struct hmr_base *key,
		  struct hmr_elm **out)
{
	struct hmr_cursor c;
	int error;

	hmr_tree_changed(m);	/* the caller changes *out */
	if ((error = _descend_writable(m, key, &c)) != 0)
		return error;
	if (!_at_key(&c, key))
		return ENOENT;
	*out = hmr_bt_elm(&c);
	return 0;
}

/*
 * Remove element i of writable node n.  For an internal node the right
 * bound moves down with the children; and when child 0 goes, the node's
 * left bound (elms[0].base) is kept, so the node still covers the range
 * its parent gave it and a search for a key in the removed child's range
 * lands in the new first child, which is where such a key would now go.
 */
static void _remove_elm(struct hmr_node *n, int i)
{
	struct hmr_base left = n->elms[0].base;
	int total = n->count + (n->level ? 1 : 0);

	hmr_memmove(&n->elms[i], &n->elms[i + 1],
		    (size_t)(total - i - 1) * sizeof(struct hmr_elm));
	hmr_memset(&n->elms[total - 1], 0, sizeof(struct hmr_elm));
	n->count--;
	if (n->level && i == 0 && n->count > 0)
		n->elms[0].base = left;
}

/* Path level d became empty: unhook it from its parent, upwards, while
 * parents empty too.  Every node on the path was copied by this commit
 * (the descent was copy-on-write), so the emptied blocks are FRESH and
 * freed at once. */
static void _prune_empty(struct hmr_mount *m, struct hmr_cursor *c, int d)
{
	for (; d > 0; d--) {
		struct hmr_node *p = hmr_buf_node(c->path[d - 1].buf);

		hmr_block_free(m, c->path[d].buf->blkno); /* FRESH: no delay */
		_remove_elm(p, c->path[d - 1].index);
		if (p->count > 0)
			return;
	}
	/* The root itself is empty: it becomes an empty leaf. */
	struct hmr_node *root = hmr_buf_node(c->path[0].buf);

	hmr_memset(root->elms, 0, sizeof(root->elms));
	root->level = 0;
	root->type = HMR_NODE_LEAF;
	m->root_level = 0;
}

/*
 * An internal root with a single child is replaced by that child, so a
 * tree that shrinks gives its height back (and its blocks: an emptied
 * filesystem uses exactly what mkfs used).  The old root was copied in
 * this commit, so freeing it is immediate.
 */
static void _collapse_root(struct hmr_mount *m, struct hmr_buf *rb)
{
	while (m->root_level > 0 && hmr_buf_node(rb)->count == 1) {
		struct hmr_elm child = hmr_buf_node(rb)->elms[0];

		HMR_ASSERT(hmr_buf_node(rb)->hdr.generation == m->tid,
			   "collapsing a root the open commit did not copy");
		hmr_block_free(m, rb->blkno);
		m->root_blkno = child.in.child_blkno;
		m->root_crc = child.in.child_crc;
		m->root_gen_lo = child.in.child_gen_lo;
		m->root_level--;
		if (_root(m, &rb) != 0 ||
		    hmr_buf_node(rb)->hdr.generation != m->tid)
			return;
	}
}

/*
 * hmr_bt_delete - physically remove the element with exactly `key` (prune,
 * or a record created and deleted in the same commit).  The caller frees
 * its payload.  0, ENOENT, EIO, ENOSPC.
 */
int hmr_bt_delete(struct hmr_mount *m, const struct hmr_base *key)
{
	struct hmr_cursor c;
	int leaf, error;

	hmr_tree_changed(m);
	if ((error = _descend_writable(m, key, &c)) != 0)
		return error;
	if (!_at_key(&c, key))
		return ENOENT;
	leaf = c.nlevels - 1;
	_remove_elm(hmr_buf_node(c.path[leaf].buf), c.path[leaf].index);
	if (hmr_buf_node(c.path[leaf].buf)->count == 0 && leaf > 0)
		_prune_empty(m, &c, leaf);
	_collapse_root(m, c.path[0].buf);
	return 0;
}

/* hmr_bt_create_root - an empty leaf as the root of a new filesystem. */
int hmr_bt_create_root(struct hmr_mount *m)
{
	struct hmr_buf *b;
	int error;

	hmr_tree_changed(m);
	if ((error = _node_new(m, 0, &b)) != 0)
		return error;
	m->root_blkno = b->blkno;
	m->root_gen_lo = (uint32_t)m->tid;
	m->root_level = 0;
	return 0;
}

/* ---- commit-time CRCs --------------------------------------------------- */

/* Highest TID any record in leaf n mentions (for mirror_tid).  Kept up
 * to date by every commit so a future incremental mirror stream can skip
 * subtrees that did not change since a given TID, as H1's does. */
static uint64_t _leaf_mirror_tid(const struct hmr_node *n)
{
	uint64_t t = 0;

	for (int i = 0; i < n->count; i++) {
		const struct hmr_base *b = &n->elms[i].base;

		t = b->create_tid > t ? b->create_tid : t;
		t = b->delete_tid > t ? b->delete_tid : t;
	}
	return t;
}

/* Is child element e one the open commit wrote (and so must re-CRC)?
 * child_gen_lo says so; the buffer's own DIRTY flag and generation must
 * agree, which guards against a crafted image whose element claims the
 * open TID (we would otherwise reseal a block we never wrote). */
static struct hmr_buf *_dirty_child(struct hmr_mount *m,
				    const struct hmr_elm *e)
{
	struct hmr_buf *b;

	if (e->in.child_gen_lo != (uint32_t)m->tid ||
	    hmr_buf_get(m, e->in.child_blkno, &b) != 0)
		return NULL;
	if (!(b->flags & HMR_BUF_DIRTY) ||
	    hmr_buf_node(b)->hdr.generation != m->tid)
		return NULL;
	return b;
}

/* Seal node b after sealing its dirty children (depth-first): a parent's
 * CRC covers its children's CRCs, so children must be final first.  Clean
 * children keep the CRC already recorded. */
static void _finalize(struct hmr_mount *m, struct hmr_buf *b)
{
	struct hmr_node *n = hmr_buf_node(b);
	uint64_t mirror = 0;

	if (n->level == 0)
		mirror = _leaf_mirror_tid(n);
	for (int i = 0; n->level > 0 && i < n->count; i++) {
		struct hmr_elm *e = &n->elms[i];
		struct hmr_buf *cb = _dirty_child(m, e);

		if (cb != NULL) {
			_finalize(m, cb);
			e->in.child_crc = hmr_buf_node(cb)->hdr.crc;
			e->in.mirror_tid = hmr_buf_node(cb)->mirror_tid;
		}
		mirror = e->in.mirror_tid > mirror ? e->in.mirror_tid : mirror;
	}
	n->mirror_tid = mirror;
	hmr_block_seal(n);
}

/*
 * hmr_bt_finalize - commit step 2: compute the CRCs of every node the
 * open commit wrote, children before parents, then the root's CRC for the
 * superblock.  Nothing to do when the root is unchanged.  Returns 0 or EIO.
 */
int hmr_bt_finalize(struct hmr_mount *m)
{
	struct hmr_buf *b;

	if (hmr_buf_get(m, m->root_blkno, &b) != 0)
		return EIO;
	if (hmr_buf_node(b)->hdr.generation != m->tid)
		return 0;
	_finalize(m, b);
	m->root_crc = hmr_buf_node(b)->hdr.crc;
	return 0;
}
