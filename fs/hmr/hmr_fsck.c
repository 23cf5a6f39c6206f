/*
 * hmr_fsck.c - the offline checker (fsck.hmr and the tests share it).
 *
 * fsck trusts nothing it has not checked.  It mounts the image the way
 * the kernel would (newest valid superblock, falling back to the other),
 * then:
 *
 *   1. superblocks: reports each slot as current, older, or unusable;
 *   2. tree: walks every node from the root, checking header and CRC
 *      against the parent's copy (stale or misdirected blocks), level,
 *      count, key order inside the node and across leaves, and that every
 *      key lies inside the bounds the parent gives the child;
 *   3. records: create_tid != 0, create < delete, every TID <= the commit
 *      TID, versions of one key never overlap, every payload's data_crc,
 *      and no object id at or above the superblock's next_obj_id;
 *   4. ownership: rebuilds the freemap from what the tree references
 *      (double references are reported) and compares it with the copy on
 *      disk: leaks and double uses are named by block;
 *   5. namespace (live view): every entry names a live inode of the right
 *      type, nlinks matches the entries (and subdirectories), no data past
 *      EOF, the root exists, parent chains reach the root, orphans.
 *
 * Repair (HMR_FSCK_REPAIR) does only what cannot lose data: remove
 * orphans and rewrite the freemap from the tree.  It refuses when the
 * tree itself is damaged, and it never "fixes" a CRC.
 */
#include "hmr_private.h"

/* Per-object facts gathered for the namespace pass: what the inode says
 * (type, nlinks, size, parent) next to what the rest of the tree says
 * (entries naming it, subdirectories in it, its highest data key). */
struct obj_info {
	uint64_t ino, nlinks, size, parent;
	uint64_t refs, subdirs, max_data_key;
	uint8_t type, live;
};

/* One level of fsck's explicit walk stack: a copy of the node, the key
 * range its parent gave it ([lo, hi), no upper bound when !has_hi), and
 * the next child to visit. */
struct walk_frame {
	struct hmr_node node;
	struct hmr_base lo, hi;
	int has_hi;
	int next;
};

/* The checker's state.  `calc` is the freemap as the tree implies it,
 * built during the walk; `objs` is an open-addressing table sized to at
 * least twice the number of blocks, so it can never fill up. */
struct fsck {
	struct hmr_mount *m;
	hmr_report_fn report;
	void *arg;
	unsigned flags;
	struct hmr_fsck_result *res;
	uint8_t *calc; /* the freemap rebuilt from the tree */
	int tree_damaged;
	struct hmr_base prev; /* the previous record, for order checks */
	int have_prev;
	uint64_t max_obj_id; /* the largest object id any record uses */
	struct obj_info *objs; /* open-addressing table */
	uint64_t objs_mask;
	uint64_t asof; /* the view the namespace pass checks (0 = live) */
	struct walk_frame *frames; /* HMR_MAX_DEPTH of them: the walk's stack */
	uint8_t *payload;	   /* one block: a payload being checked */
	struct hmr_msg *msg;	   /* the message being built */
	struct hmr_diag *diag;	   /* what mount said of unusable slots */
};

/* The one message buffer, emptied for a new message.  It lives in the
 * checker's state (on the heap), not in each reporting function's frame:
 * fsck must fit a kernel thread's small stack. */
static struct hmr_msg *_msg_begin(struct fsck *f)
{
	f->msg->n = 0;
	f->msg->s[0] = '\0';
	return f->msg;
}

/* Report one problem. */
static void _problem(struct fsck *f, struct hmr_msg *mb)
{
	f->res->problems++;
	if (f->report)
		f->report(f->arg, mb->s);
}

/* "block N: what" */
static void _block_problem(struct fsck *f, uint64_t blkno, const char *what)
{
	struct hmr_msg *mb = _msg_begin(f);

	hmr_msg_str(mb, "block "), hmr_msg_num(mb, blkno);
	hmr_msg_str(mb, ": "), hmr_msg_str(mb, what);
	_problem(f, mb);
}

/* "object N: what [value]" */
static void _obj_problem(struct fsck *f, uint64_t ino, const char *what,
			 uint64_t a, uint64_t b)
{
	struct hmr_msg *mb = _msg_begin(f);

	hmr_msg_str(mb, "object "), hmr_msg_num(mb, ino);
	if (f->asof != 0)
		hmr_msg_str(mb, " as of snapshot "), hmr_msg_num(mb, f->asof);
	hmr_msg_str(mb, ": "), hmr_msg_str(mb, what);
	hmr_msg_str(mb, " ("), hmr_msg_num(mb, a);
	hmr_msg_str(mb, " vs "), hmr_msg_num(mb, b);
	hmr_msg_str(mb, ")");
	_problem(f, mb);
}

/* The object table entry for ino (created on first use), or NULL when
 * the table is full (it cannot be: there are fewer objects than blocks).
 * Linear probing; inode 0 marks an empty slot (no object has obj_id 0). */
static struct obj_info *_obj(struct fsck *f, uint64_t ino)
{
	uint64_t i = (ino * 0x9E3779B97F4A7C15ull >> 17) & f->objs_mask;

	for (uint64_t n = 0; n <= f->objs_mask; n++, i = (i + 1) & f->objs_mask) {
		if (f->objs[i].ino == ino)
			return &f->objs[i];
		if (f->objs[i].ino == 0) {
			f->objs[i].ino = ino;
			return &f->objs[i];
		}
	}
	return NULL;
}

/*
 * Mark block b as used by the tree: a whole block (node, data) or some
 * meta units.  A whole block seen twice is a double use - two records or
 * two parents sharing storage, the one corruption that silently destroys
 * data later - so it is reported here, by block.
 */
static void _own(struct fsck *f, uint64_t b, uint8_t units_or_owned)
{
	uint8_t *c = &f->calc[b];

	if (units_or_owned == HMR_FM_OWNED) {
		if (*c != HMR_FM_FREE)
			_block_problem(f, b, "referenced twice (double use)");
		*c = HMR_FM_OWNED;
		return;
	}
	if (*c == HMR_FM_OWNED || *c == HMR_FM_STATIC ||
	    *c + units_or_owned > HMR_FM_META_MAX)
		_block_problem(f, b, "meta units overlap other use");
	else
		*c = (uint8_t)(*c + units_or_owned);
}

/* Check a record's payload and claim the space it uses.  The payload
 * must lie in the allocatable area and be unit-aligned; its bytes must
 * match the leaf's data_crc (a flipped bit in file data is reported
 * here, naming the data block). */
static void _check_payload(struct fsck *f, const struct hmr_elm *e)
{
	uint64_t b = e->lf.data_off / HMR_BLOCK_SIZE;
	uint32_t len = e->lf.data_len;

	if (len == 0)
		return;
	if (b >= f->m->nblocks || f->calc[b] == HMR_FM_STATIC ||
	    e->lf.data_off % HMR_META_UNIT != 0) {
		_block_problem(f, b, "record payload points outside data space");
		return;
	}
	if (hmr_rec_payload(f->m, e, f->payload) != 0)
		_block_problem(f, b, "bad data CRC");
	if (e->base.rec_type == HMR_REC_DATA)
		_own(f, b, HMR_FM_OWNED);
	else
		_own(f, b, (uint8_t)((len + HMR_META_UNIT - 1) / HMR_META_UNIT));
	f->res->data_blocks += e->base.rec_type == HMR_REC_DATA;
}

/*
 * TID rules of one record and its order after the previous record.  The
 * walk visits leaves left to right, so comparing each record with the
 * previous one checks the order across leaf boundaries too, and two
 * versions of one key are neighbours: their intervals must not overlap
 * (the earlier one must be deleted no later than the next was created).
 */
static void _check_record(struct fsck *f, uint64_t blkno,
			  const struct hmr_base *b)
{
	uint64_t top = f->m->durable_tid;

	if (b->create_tid == 0 || b->create_tid > top ||
	    b->delete_tid > top ||
	    (b->delete_tid != 0 && b->delete_tid <= b->create_tid))
		_block_problem(f, blkno, "record with impossible TIDs");
	if (f->have_prev && hmr_key_cmp(&f->prev, b) >= 0)
		_block_problem(f, blkno, "key order violation");
	else if (f->have_prev && f->prev.localization == b->localization &&
		 f->prev.obj_id == b->obj_id &&
		 f->prev.rec_type == b->rec_type && f->prev.key == b->key &&
		 (f->prev.delete_tid == 0 || f->prev.delete_tid > b->create_tid))
		_block_problem(f, blkno, "overlapping TID intervals");
	f->prev = *b;
	f->have_prev = 1;
	f->max_obj_id = b->obj_id > f->max_obj_id ? b->obj_id : f->max_obj_id;
	f->res->records++;
}

/*
 * Object ids are never reused (an as-of view names objects long deleted),
 * so the superblock's next_obj_id must lie above every id a record uses,
 * history included; otherwise the next create would mix its records with
 * another object's.
 */
static void _check_next_obj_id(struct fsck *f)
{
	struct hmr_msg *mb = _msg_begin(f);

	if (f->max_obj_id < f->m->next_obj_id)
		return;
	hmr_msg_str(mb, "superblock: next_obj_id ");
	hmr_msg_num(mb, f->m->next_obj_id);
	hmr_msg_str(mb, " is not above object id ");
	hmr_msg_num(mb, f->max_obj_id);
	hmr_msg_str(mb, ", which records use (a new object would reuse it)");
	_problem(f, mb);
}

/* Is key inside [lo, hi)? */
static int _in_bounds(const struct hmr_base *k, const struct hmr_base *lo,
		      const struct hmr_base *hi)
{
	return hmr_key_cmp(k, lo) >= 0 && (hi == NULL || hmr_key_cmp(k, hi) < 0);
}

/* Check a leaf's records: inside the bounds the parent gave, valid
 * TIDs, in order, payload intact. */
static void _walk_leaf(struct fsck *f, const struct walk_frame *fr)
{
	const struct hmr_node *n = &fr->node;

	for (int i = 0; i < n->count; i++) {
		const struct hmr_elm *e = &n->elms[i];

		/* The walk holds node copies, never buffers: any point of it
		 * is a cache safe point. */
		hmr_cache_relax(f->m, NULL);
		if (!_in_bounds(&e->base, &fr->lo, fr->has_hi ? &fr->hi : NULL))
			_block_problem(f, n->hdr.blkno, "key outside node bounds");
		_check_record(f, n->hdr.blkno, &e->base);
		_check_payload(f, e);
	}
}

/*
 * Read node blkno (as its parent describes it) into frame `fr`, check it,
 * and walk it at once if it is a leaf.  Returns 1 when fr now holds an
 * internal node whose children are still to be walked, else 0.  When the
 * node fails, the message says which check: its own CRC (a damaged
 * block), or only the parent's copy of it (a stale or misplaced but
 * internally consistent block - the lost-write case).  A failed node's
 * subtree is not walked, and the namespace pass is skipped: it could not
 * be trusted.  The node is copied into the frame because walking its
 * children may evict its buffer from the cache.
 */
static int _enter(struct fsck *f, struct walk_frame *fr, uint64_t blkno,
		  uint32_t crc, uint32_t gen, int level)
{
	struct hmr_buf *b;

	if (blkno >= f->m->nblocks || f->calc[blkno] == HMR_FM_STATIC ||
	    hmr_buf_get(f->m, blkno, &b) != 0) {
		_block_problem(f, blkno, "node pointer outside data space");
		f->tree_damaged = 1;
		return 0;
	}
	if (hmr_node_verify(f->m, b, crc, gen, level) != 0) {
		struct hmr_node *n = hmr_buf_node(b);
		int self_ok = hmr_blkhdr_check(n, HMR_MAGIC_NODE, blkno,
					       f->m->sb.hdr.fsid) == 0;

		_block_problem(f, blkno, !self_ok ? "bad CRC (B-tree node)"
				  : n->hdr.crc != crc ? "stale child (parent CRC mismatch)"
						       : "bad node header (level, type or count)");
		f->tree_damaged = 1;
		return 0;
	}
	_own(f, blkno, HMR_FM_OWNED);
	f->res->nodes++;
	fr->node = *hmr_buf_node(b);
	fr->next = 0;
	if (level > 0)
		return 1;
	_walk_leaf(f, fr);
	return 0;
}

/* The checks of internal element i of frame fr before its child is
 * walked: inside the node's bounds, below the next separator, and not
 * newer than the node (the commit that wrote a child, or last pointed at
 * it, also wrote the parent). */
static void _check_child_elm(struct fsck *f, const struct walk_frame *fr,
			     int i)
{
	const struct hmr_node *n = &fr->node;
	const struct hmr_elm *e = &n->elms[i];

	if (!_in_bounds(&e->base, &fr->lo, fr->has_hi ? &fr->hi : NULL) ||
	    hmr_key_cmp(&e->base, &n->elms[i + 1].base) >= 0)
		_block_problem(f, n->hdr.blkno, "key order violation");
	if (e->in.child_gen_lo > (uint32_t)n->hdr.generation)
		_block_problem(f, n->hdr.blkno, "child newer than parent");
}

/* Child i of frame fr gets the range [elms[i], elms[i+1]); the last child
 * inherits the upper bound fr itself was given. */
static void _child_bounds(const struct walk_frame *fr, int i,
			  struct walk_frame *child)
{
	child->lo = fr->node.elms[i].base;
	child->has_hi = i + 1 < fr->node.count || fr->has_hi;
	child->hi = i + 1 < fr->node.count ? fr->node.elms[i + 1].base : fr->hi;
}

/*
 * The tree walk, depth first, left to right (so records arrive in key
 * order), without recursion: f->frames is an explicit stack of at most
 * HMR_MAX_DEPTH nodes on the heap, one per level of the path from the
 * root.  fsck's own stack use is therefore the same for any tree (the
 * kernel's stacks are small; the recursive walk needed a 4 KiB node copy
 * per level on the stack).  Mount already refused a root level of
 * HMR_MAX_DEPTH or more, and every node's level is checked against its
 * place in the path, so the stack cannot overflow.
 */
static void _walk_tree(struct fsck *f)
{
	struct walk_frame *fr = f->frames;
	int depth = 0;

	fr[0].lo = (struct hmr_base){ 0 };
	fr[0].has_hi = 0;
	if (!_enter(f, &fr[0], f->m->root_blkno, f->m->root_crc,
		    f->m->root_gen_lo, f->m->root_level))
		return;
	/* Each turn visits the next child of the deepest internal node; a
	 * node whose children are all done is popped.  Leaves are checked
	 * inside _enter and never pushed. */
	while (depth >= 0) {
		struct walk_frame *top = &fr[depth];
		const struct hmr_elm *e;
		int i = top->next++;

		if (i >= top->node.count) {
			depth--; /* back to the parent's next child */
			continue;
		}
		HMR_ASSERT(depth + 1 < HMR_MAX_DEPTH,
			   "fsck walk deeper than the root level mount checked");
		hmr_cache_relax(f->m, NULL);
		e = &top->node.elms[i];
		_check_child_elm(f, top, i);
		_child_bounds(top, i, &fr[depth + 1]);
		depth += _enter(f, &fr[depth + 1], e->in.child_blkno,
				e->in.child_crc, e->in.child_gen_lo,
				top->node.level - 1);
	}
}

/* ---- namespace ------------------------------------------------------------ */

/* Gather live inodes and data extents into the object table: one pass
 * over every record in key order.  Payloads that fail their CRC were
 * already reported by the tree walk and are skipped here. */
static int _gather(struct fsck *f)
{
	struct hmr_base from = { 0 }, end = { .localization = ~0u };
	struct hmr_scan s;
	int error;

	/* Only the view being checked: history may legitimately name
	 * objects that are gone in it. */
	for (error = hmr_scan_start(f->m, &s, f->asof, &from, &end); !error;
	     error = hmr_scan_next(&s)) {
		const struct hmr_elm *e = hmr_scan_elm(&s);
		struct obj_info *o;

		o = _obj(f, e->base.obj_id);
		if (o == NULL)
			return ENOMEM;
		if (e->base.rec_type == HMR_REC_INODE) {
			struct hmr_inode_data in;

			if (e->lf.data_len != sizeof(in) ||
			    hmr_rec_payload(f->m, e, &in) != 0)
				continue;
			o->live = 1, o->type = in.obj_type, o->nlinks = in.nlinks;
			o->size = in.size, o->parent = in.parent_obj_id;
		} else if (e->base.rec_type == HMR_REC_DATA) {
			o->max_data_key = e->base.key > o->max_data_key
						  ? e->base.key : o->max_data_key;
		}
	}
	return error == ENOENT ? 0 : error;
}

/* Count entries per target and check each names a live object of the
 * type the entry claims; count subdirectories per directory for the
 * nlinks rule. */
static int _count_refs(struct fsck *f)
{
	struct hmr_base from = { .localization = HMR_LOCALIZE_MISC };
	struct hmr_base end = { .localization = HMR_LOCALIZE_MISC + 1 };
	struct hmr_dirent_buf ent;
	struct hmr_scan s;
	int error;

	for (error = hmr_scan_start(f->m, &s, f->asof, &from, &end); !error;
	     error = hmr_scan_next(&s)) {
		const struct hmr_elm *e = hmr_scan_elm(&s);
		struct obj_info *t, *d;

		if (e->base.rec_type != HMR_REC_DIRENT)
			continue;
		if (e->lf.data_len < 17 || e->lf.data_len > sizeof(ent) ||
		    hmr_rec_payload(f->m, e, &ent) != 0)
			continue; /* already reported as a payload problem */
		t = _obj(f, ent.d.obj_id), d = _obj(f, e->base.obj_id);
		if (t == NULL || d == NULL)
			return ENOMEM;
		if (!t->live || t->type != ent.d.obj_type)
			_obj_problem(f, e->base.obj_id, "dangling directory entry",
				     ent.d.obj_id, t->type);
		/* Each entry is one link of its target; a directory entry is
		 * also one ".." link of the directory holding it. */
		t->refs++;
		if (ent.d.obj_type == HMR_OBJ_DIR)
			d->subdirs++;
	}
	return error == ENOENT ? 0 : error;
}

/* Does dir's parent chain reach the root?  A chain that ends in a dead
 * object or loops (bounded walk) means the directory is unreachable. */
static int _reaches_root(struct fsck *f, struct obj_info *o)
{
	for (int i = 0; i < 1 << 16 && o != NULL && o->live; i++) {
		if (o->ino == HMR_OBJID_ROOT)
			return 1;
		o = _obj(f, o->parent);
	}
	return 0;
}

/* Check one live object's link count, size and place in the tree.
 * A DATA key is its block's end offset, (lblk + 1) * 4096, and a file of
 * `size` bytes owns blocks 0 .. ceil(size / 4096) - 1, so `eof_key`, the
 * largest key it may hold, is size rounded up to a block (0 for an empty
 * file).  A larger key is a block truncate should have deleted. */
static void _check_obj(struct fsck *f, struct obj_info *o)
{
	uint64_t want = o->type == HMR_OBJ_DIR ? 2 + o->subdirs : o->refs;
	uint64_t eof_key = (o->size + HMR_BLOCK_SIZE - 1) / HMR_BLOCK_SIZE *
			   HMR_BLOCK_SIZE;

	if (!o->live) {
		if (o->refs || o->subdirs)
			_obj_problem(f, o->ino, "entries without inode", o->refs, 0);
		return;
	}
	/* nlinks 0 with no entries: an orphan (a crash while the file was
	 * open after its last unlink).  Reported; -r destroys it. */
	if (o->nlinks == 0 && o->refs == 0) {
		if (f->asof != 0)
			return; /* open but unlinked when the snapshot was taken */
		f->res->orphans++;
		_obj_problem(f, o->ino, "orphan inode (nlinks 0)", 0, 0);
		return;
	}
	if (o->nlinks != want)
		_obj_problem(f, o->ino, "wrong nlinks", o->nlinks, want);
	if (o->type == HMR_OBJ_DIR && o->ino != HMR_OBJID_ROOT && o->refs != 1)
		_obj_problem(f, o->ino, "directory with extra links", o->refs, 1);
	if (o->max_data_key > eof_key)
		_obj_problem(f, o->ino, "data past end of file", o->max_data_key,
			     o->size);
	if (o->type == HMR_OBJ_DIR && !_reaches_root(f, o))
		_obj_problem(f, o->ino, "directory cut off from the root", 0, 0);
}

/* The namespace pass over one view (f->asof; 0 = live). */
static int _namespace(struct fsck *f)
{
	struct obj_info *root;
	int error;

	hmr_memset(f->objs, 0, (f->objs_mask + 1) * sizeof(*f->objs));
	error = _gather(f);

	if (!error)
		error = _count_refs(f);
	if (error)
		return error;
	root = _obj(f, HMR_OBJID_ROOT);
	if (root == NULL || !root->live || root->type != HMR_OBJ_DIR)
		_obj_problem(f, HMR_OBJID_ROOT, "root directory missing", 0, 0);
	for (uint64_t i = 0; i <= f->objs_mask; i++)
		if (f->objs[i].ino != 0)
			_check_obj(f, &f->objs[i]);
	return 0;
}

/* Collect live snapshot TIDs into a small array (callback). */
struct snap_list {
	uint64_t tid[64];
	int n;
};

static int _collect_snap(void *arg, const struct hmr_snapshot *s)
{
	struct snap_list *l = arg;

	if (l->n < 64)
		l->tid[l->n++] = s->tid;
	return 0;
}

/* The spec's optional check: the namespace as of every snapshot must be
 * as consistent as the live one (prune keeps exactly what they pin). */
static int _namespace_at_snapshots(struct fsck *f)
{
	struct snap_list l = { .n = 0 };
	int error = 0;

	/* fsck's mount is private and unlocked; the public call locks. */
	hmr_snapshot_list(f->m, _collect_snap, &l);
	for (int i = 0; i < l.n && !error; i++) {
		f->asof = l.tid[i];
		error = _namespace(f);
	}
	f->asof = 0;
	return error;
}

/* ---- ownership and repair --------------------------------------------------- */

/* Compare the rebuilt freemap with the one on disk.  A block marked used
 * but unreferenced is a leak (space lost, nothing damaged); a referenced
 * block marked free or with the wrong unit count would be handed out
 * twice - the dangerous direction. */
static uint64_t _compare_freemap(struct fsck *f)
{
	uint64_t bad = 0;

	for (uint64_t b = 0; b < f->m->nblocks; b++) {
		if (f->calc[b] == f->m->fm[b])
			continue;
		bad++;
		_block_problem(f, b, f->calc[b] == HMR_FM_FREE
					     ? "freemap mismatch: leaked (marked used, unreferenced)"
					     : "freemap mismatch: in use but marked free or miscounted");
	}
	return bad;
}

/* Rewrite the freemap from the tree (-r) and commit it.  Only done when
 * the whole tree checked out, so `calc` is complete; the commit writes
 * the freemap copy and a superblock with its new CRC, as any commit. */
static int _repair_freemap(struct fsck *f)
{
	struct hmr_mount *m = f->m;

	hmr_memcpy(m->fm, f->calc, m->nblocks);
	m->nfree = 0;
	for (uint64_t b = 0; b < m->nblocks; b++)
		m->nfree += m->fm[b] == HMR_FM_FREE;
	m->dirty_meta = 1;
	return hmr_commit(m);
}

/* Is a whole block zero (a slot mkfs cleared and nothing wrote yet)? */
static int _all_zero(const uint8_t *b)
{
	for (int i = 0; i < HMR_BLOCK_SIZE; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/* Name the damaged blocks of a newer superblock's freemap copy. */
static void _check_newer_freemap(struct fsck *f, struct hmr_bdev *dev,
				 const struct hmr_super *sb)
{
	struct hmr_freemap_blk *fb = hmr_alloc(sizeof(*fb));

	for (uint32_t i = 0; fb != NULL && i < sb->freemap_nblocks; i++) {
		uint64_t blkno = sb->freemap_blkno[sb->freemap_copy] + i;

		if (dev->read(dev, blkno, fb) != 0 ||
		    hmr_blkhdr_check(fb, HMR_MAGIC_FREEMAP, blkno, sb->hdr.fsid))
			_block_problem(f, blkno, "bad CRC (freemap block of the "
						 "newest superblock)");
	}
	hmr_free(fb);
}

/* Check one superblock slot that mount did not use. */
static void _check_slot(struct fsck *f, struct hmr_bdev *dev, int slot,
			struct hmr_super *sb)
{
	uint64_t blkno = HMR_BLK_SUPER_A + (uint64_t)slot;
	struct hmr_msg *mb = _msg_begin(f);
	const char *why;

	hmr_msg_str(mb, "superblock slot "), hmr_msg_str(mb, slot ? "B" : "A");
	hmr_msg_str(mb, " (block "), hmr_msg_num(mb, blkno);
	hmr_msg_str(mb, ")");
	if (hmr_read_super(dev, slot, sb, &why) != 0) {
		if (dev->read(dev, blkno, sb) == 0 && _all_zero((uint8_t *)sb))
			return; /* never written yet: a fresh image */
		hmr_msg_str(mb, ": "), hmr_msg_str(mb, why);
		_problem(f, mb);
		return;
	}
	if (sb->commit_tid <= f->m->durable_tid)
		return; /* the older slot, intact */
	hmr_msg_str(mb, ": newer commit "), hmr_msg_num(mb, sb->commit_tid);
	hmr_msg_str(mb, " unusable, fell back: ");
	hmr_msg_str(mb, f->diag->text);
	_problem(f, mb);
	_check_newer_freemap(f, dev, sb);
}

/* The superblock's free_blocks is what the freemap it was written with
 * counts free; mount recounts (so a wrong value misleads only statfs
 * tools that read the raw field), but a mismatch means the superblock
 * and its freemap do not belong together. */
static void _check_free_count(struct fsck *f)
{
	struct hmr_msg *mb;

	if (f->m->sb.free_blocks == f->m->nfree)
		return;
	mb = _msg_begin(f);
	hmr_msg_str(mb, "superblock: free_blocks ");
	hmr_msg_num(mb, f->m->sb.free_blocks);
	hmr_msg_str(mb, ", but its freemap has ");
	hmr_msg_num(mb, f->m->nfree);
	hmr_msg_str(mb, " free blocks");
	_problem(f, mb);
}

/* Report which superblock slots are usable and which one is in use. */
static void _check_supers(struct fsck *f, struct hmr_bdev *dev)
{
	struct hmr_super *sb = hmr_alloc(sizeof(*sb));

	f->res->slot_used = (int)(f->m->durable_tid & 1);
	f->res->commit_tid = f->m->durable_tid;
	if (sb != NULL)
		_check_slot(f, dev, f->res->slot_used ^ 1, sb);
	hmr_free(sb);
}

/* The checks, in order; returns an errno only when fsck could not run.
 * Problems are counted through _problem, not returned. */
static int _run(struct fsck *f, struct hmr_bdev *dev)
{
	uint64_t statics = HMR_BLK_FREEMAP + 2ull * f->m->fm_nblocks;
	int error;

	/* Static blocks are claimed first: a tree pointer into them is then
	 * caught as "outside data space" by the walk. */
	_check_supers(f, dev);
	_check_free_count(f);
	hmr_memset(f->calc, HMR_FM_STATIC, statics);
	_walk_tree(f);
	if (f->tree_damaged)
		return 0; /* nothing below can be trusted */
	_check_next_obj_id(f);
	error = _namespace(f);
	if (!error)
		error = _namespace_at_snapshots(f);
	if (error)
		return error;
	/* Repair only what the tree fully explains: the freemap. */
	if (_compare_freemap(f) && (f->flags & HMR_FSCK_REPAIR)) {
		error = _repair_freemap(f);
		f->res->repaired += error == 0;
	}
	return error;
}

/* -r: remove orphans before checking.  They are safe to destroy: an
 * inode with nlinks 0 that nobody can open again (no entry names it, and
 * no process survived the crash to hold it). */
static int _repair_orphans(struct fsck *f)
{
	uint64_t removed = 0;
	int error = hmr_vop_begin_reclaim(f->m, HMR_ALLOC_RESERVE, 16);

	if (!error) {
		f->m->split_ok = 1; /* a big orphan may go across commits */
		error = hmr_vop_end(f->m, hmr_remove_orphans(f->m, &removed));
	}
	if (!error && removed)
		error = hmr_commit(f->m);
	f->res->repaired += removed;
	return error;
}

/* Allocate the checker's tables for mount m (one byte per block for the
 * rebuilt freemap, the object table). */
static int _fsck_alloc(struct fsck *f)
{
	uint64_t slots = 1024;

	while (slots < f->m->nblocks * 2 && slots < (1ull << 24))
		slots <<= 1;
	f->calc = hmr_alloc(f->m->nblocks);
	f->objs = hmr_alloc(slots * sizeof(*f->objs));
	f->objs_mask = slots - 1;
	f->frames = hmr_alloc(HMR_MAX_DEPTH * sizeof(*f->frames));
	f->payload = hmr_alloc(HMR_BLOCK_SIZE);
	return f->calc && f->objs && f->frames && f->payload ? 0 : ENOMEM;
}

/*
 * Mount exactly as the kernel would: if mount cannot find a usable commit,
 * nothing else can be checked, and the one finding says which check each
 * superblock slot failed.  Without -r the mount is read-only, so checking
 * never writes.  0, or an errno with res->fatal set.
 */
static int _fsck_mount(struct fsck *f, struct hmr_bdev *dev)
{
	struct hmr_diag *diag = f->diag;
	unsigned mflags = HMR_MNT_QUIET | HMR_MNT_KEEP_ORPHANS |
			  ((f->flags & HMR_FSCK_REPAIR) ? 0 : HMR_MNT_RDONLY);
	int error = diag ? hmr_mount_diag(dev, mflags, 0, &f->m, diag) : ENOMEM;

	if (error) {
		struct hmr_msg *mb = _msg_begin(f);

		f->m = NULL;
		hmr_msg_str(mb, "no usable superblock, cannot check: ");
		hmr_msg_str(mb, diag ? diag->text : "out of memory");
		f->res->fatal = 1;
		_problem(f, mb);
	}
	return error;
}

/*
 * hmr_fsck - check the filesystem on dev; see the top of this file.
 * Returns the number of problems left (0 = clean); res->fatal is set when
 * no superblock could be mounted.  May block; writes only with
 * HMR_FSCK_REPAIR.
 */
int hmr_fsck(struct hmr_bdev *dev, unsigned flags, hmr_report_fn report,
	     void *arg, struct hmr_fsck_result *res)
{
	HMR_ASSERT(dev && res,
		   "hmr_fsck: NULL argument (a caller bug: all are required)");
	struct fsck f = { .report = report, .arg = arg, .flags = flags, .res = res };
	int error;

	hmr_memset(res, 0, sizeof(*res));
	f.msg = hmr_alloc(sizeof(*f.msg));
	f.diag = hmr_alloc(sizeof(*f.diag)); /* heap: small stacks */
	if (f.msg == NULL || f.diag == NULL) {
		hmr_free(f.msg), hmr_free(f.diag);
		res->fatal = 1;
		return (int)++res->problems;
	}
	error = _fsck_mount(&f, dev);
	if (!error)
		error = _fsck_alloc(&f);
	if (!error && (flags & HMR_FSCK_REPAIR))
		error = _repair_orphans(&f);
	if (!error)
		error = _run(&f, dev);
	if (error && !res->fatal) {
		struct hmr_msg *mb = _msg_begin(&f);

		hmr_msg_str(mb, "fsck stopped: error ");
		hmr_msg_num(mb, (uint64_t)error);
		_problem(&f, mb);
	}
	hmr_free(f.calc), hmr_free(f.objs), hmr_free(f.frames);
	hmr_free(f.payload), hmr_free(f.msg), hmr_free(f.diag);
	if (f.m != NULL) {
		res->cache_clean_peak = f.m->stats.cache_clean_peak;
		hmr_mount_abandon(f.m);
	}
	return (int)res->problems;
}
