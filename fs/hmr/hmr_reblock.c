/*
 * hmr_reblock.c - reblocking: moving the small payloads out of meta blocks
 * that are mostly empty, and merging sibling leaves that are mostly empty,
 * so that those blocks come back.
 *
 * Why meta blocks fragment: a commit never writes a block the last
 * durable commit reaches (the invariant of hmr_commit.c), so it cannot
 * append to the meta block an earlier commit filled part of.  Each commit
 * opens a meta block of its own for the inodes, entries and snapshot
 * records it writes, and small commits - a chmod and a sync, a create and
 * an fsync - leave blocks holding 2 to 5 of their 64 units.  Prune frees
 * the units of the versions it destroys, but a block stays in use while
 * one unit in it lives.  H1 has the same property (it counts free space
 * per big-block) and the same cure: reblock copies what lives in a
 * sparse block to new space, repoints it, and frees the old space.
 *
 * hmr_reblock walks every leaf element in key order, history included,
 * and moves each meta payload whose block holds at most HMR_REBLOCK_UNITS
 * live units and was written by an earlier commit.  Moved payloads go to
 * the open commit's meta blocks, packed; those blocks are never a source
 * (they are FRESH).  A source block's count only falls during the pass,
 * so once a block qualifies every payload in it moves and the block is
 * freed.  The bytes, length and CRC of a payload do not change, so every
 * view, live or as of any TID, reads the same afterwards.
 *
 * A pass starts only when at least two blocks qualify: the last block a
 * pass fills is partly used, and moving it alone would gain nothing.
 *
 * Leaves: prune removes a leaf it empties, but leaves that held history
 * next to live records stay mostly empty.  After the payloads, reblock
 * merges each leaf with its right sibling while their elements fit in
 * HMR_REBLOCK_LEAF_FILL (_pack_leaves), as H1's rebalancer packs nodes.
 *
 * The work is split into VOPs of HMR_REBLOCK_BATCH moves, each its own
 * savepoint (an error undoes only the batch that hit it), and ends with
 * a commit.  Reblocking gives space back - every block it fills replaces
 * at least two it empties - so it allocates in the reclaiming class, as
 * unlink does (hmr_space.c): it may go into the reserve down to the
 * floor that prune and snapshot delete keep.  It is most needed on a
 * full volume, where the ordinary class could not start it at all.  A
 * batch that would need held blocks first commits (hmr_space_begin).
 * When space runs out it stops, commits what it moved, and returns
 * ENOSPC.
 *
 * Prune runs both passes after destroying history (hmr_reblock_passes):
 * what prune leaves in sparse meta blocks and leaves is exactly what
 * history no longer needs, and freeing it is prune's job.
 */
#include "hmr_private.h"

/* A meta block holding at most this many live units is compacted: two
 * such blocks fit in one, so each move pays for itself. */
#define HMR_REBLOCK_UNITS (HMR_META_UNITS / 2)
/* Moves per VOP. */
#define HMR_REBLOCK_BATCH 64

/* Is e a version whose payload reblocking should move: a meta payload in
 * a sparse block that an earlier commit wrote? */
static int _movable(const struct hmr_mount *m, const struct hmr_elm *e)
{
	uint64_t b = e->lf.data_off / HMR_BLOCK_SIZE;

	if (e->base.rec_type == HMR_REC_DATA || e->lf.data_len == 0 ||
	    b >= m->nblocks)
		return 0;
	return m->fm[b] != HMR_FM_FREE && m->fm[b] <= HMR_REBLOCK_UNITS &&
	       !(m->bflags[b] & HMR_BF_FRESH);
}

/* How many meta blocks are sources: sparse, and written by an earlier
 * commit.  With fewer than two, moving gains nothing (one sparse block
 * would only become another), so a pass right after a pass moves nothing. */
static uint64_t _sparse_blocks(const struct hmr_mount *m)
{
	uint64_t n = 0;

	for (uint64_t b = 0; b < m->nblocks; b++)
		n += m->fm[b] != HMR_FM_FREE && m->fm[b] <= HMR_REBLOCK_UNITS &&
		     !(m->bflags[b] & HMR_BF_FRESH);
	return n;
}

/* The first movable element at or after `from`: 0, ENOENT at the end of
 * the tree, EIO. */
static int _next_movable(struct hmr_mount *m, const struct hmr_base *from,
			 struct hmr_elm *out)
{
	struct hmr_cursor c;
	int error = hmr_bt_seek(m, from, &c);

	for (; !error; error = hmr_bt_next(&c))
		if (_movable(m, hmr_bt_elm(&c))) {
			*out = *hmr_bt_elm(&c);
			return 0;
		}
	return error;
}

/* The progress of one pass: where the walk resumes, how many moved. */
struct reblock_pass {
	struct hmr_base from;
	uint64_t moved;
	int done; /* the walk reached the end of the tree */
};

/*
 * One batch, inside a VOP: up to HMR_REBLOCK_BATCH moves from p->from.
 * Each move changes the tree, so the walk re-seeks just past the version
 * it moved rather than keeping a cursor into leaves that may have moved.
 * Updates *p only when the whole batch succeeds (an error undoes the
 * batch).  0, ENOSPC, EIO.
 */
static int _batch(struct hmr_mount *m, struct reblock_pass *p)
{
	struct reblock_pass next = *p;
	struct hmr_elm e;
	int error = 0;

	for (int n = 0; n < HMR_REBLOCK_BATCH && !next.done; n++) {
		error = _next_movable(m, &next.from, &e);
		if (error == ENOENT) {
			next.done = 1;
			error = 0;
			break;
		}
		/* keys only grow along the walk, unless the tree is damaged */
		if (!error && hmr_key_cmp(&e.base, &next.from) < 0)
			error = EIO;
		if (!error)
			error = hmr_rec_move_payload(m, &e);
		if (error)
			return error;
		next.moved++;
		next.from = e.base;
		next.from.create_tid++; /* the next version or record */
	}
	*p = next;
	return error;
}

/* Run batches until the walk ends or one fails. */
static int _reblock(struct hmr_mount *m, struct reblock_pass *p)
{
	int error = 0;

	while (!p->done && !error) {
		error = hmr_vop_begin_reclaim(m, HMR_ALLOC_RESERVE,
					      HMR_REBLOCK_BATCH +
						      hmr_est_insert(m));
		if (!error)
			error = hmr_vop_end(m, _batch(m, p));
	}
	return error;
}

/* ---- leaves ---------------------------------------------------------- */

/* Neighbouring leaves whose elements fit in this many are merged; the
 * room left over keeps the merged leaf from splitting at the next
 * insert. */
#define HMR_REBLOCK_LEAF_FILL (HMR_LEAF_MAX - 8)

/* A leaf and the leaf after it, as _pair_at sees them. */
struct leaf_pair {
	int nl, nr;	      /* their element counts */
	int same_parent;      /* R is L's right sibling under one parent */
	struct hmr_base rfirst; /* R's first key */
};

/* Look at the leaf that holds key `from` and at the next leaf.  0,
 * ENOENT when there is no next leaf (or the root is a leaf), EIO. */
static int _pair_at(struct hmr_mount *m, const struct hmr_base *from,
		    struct leaf_pair *p)
{
	struct hmr_cursor c;
	int leaf, error = hmr_bt_seek(m, from, &c);
	uint64_t parent;

	if (error)
		return error;
	leaf = c.nlevels - 1;
	if (leaf == 0)
		return ENOENT;
	p->nl = hmr_buf_node(c.path[leaf].buf)->count;
	parent = c.path[leaf - 1].buf->blkno;
	c.path[leaf].index = p->nl - 1;
	error = hmr_bt_next(&c); /* L's last element -> R's first */
	if (error)
		return error;
	p->nr = hmr_buf_node(c.path[leaf].buf)->count;
	p->same_parent = c.path[leaf - 1].buf->blkno == parent;
	p->rfirst = hmr_bt_elm(&c)->base;
	return 0;
}

/*
 * Merge leaf R (first key rfirst, nr elements) into its left sibling L,
 * inside a VOP: take R's elements out - the last one out removes R from
 * its parent, so R's key range falls to L - and insert them again, into
 * L, which has room.  Elements are copied whole: TIDs and payload
 * pointers do not change.  `tmp` holds HMR_LEAF_MAX elements.  0,
 * ENOSPC, EIO.
 */
static int _merge(struct hmr_mount *m, const struct hmr_base *rfirst,
		  int nr, struct hmr_elm *tmp)
{
	struct hmr_cursor c;
	struct hmr_node *r;
	int error = hmr_bt_seek(m, rfirst, &c);

	if (error)
		return error;
	r = hmr_buf_node(c.path[c.nlevels - 1].buf);
	/* What _pair_at saw is found again, unless the tree's keys are out
	 * of order (a damaged image): then nothing is touched. */
	if (r->count != nr || c.path[c.nlevels - 1].index != 0)
		return EIO;
	hmr_memcpy(tmp, r->elms, (size_t)nr * sizeof(*tmp));
	for (int i = 0; i < nr && !error; i++)
		error = hmr_bt_delete(m, &tmp[i].base);
	for (int i = 0; i < nr && !error; i++)
		error = hmr_bt_insert(m, &tmp[i]);
	return error;
}

/* Do L and R make one leaf with room to spare? */
static int _mergeable(const struct leaf_pair *p)
{
	return p->same_parent && p->nl + p->nr <= HMR_REBLOCK_LEAF_FILL;
}

/* One merge, as a VOP of its own. */
static int _merge_vop(struct hmr_mount *m, const struct leaf_pair *p,
		      struct hmr_elm *tmp)
{
	int error = hmr_vop_begin_reclaim(m, HMR_ALLOC_RESERVE,
					  4 * HMR_MAX_DEPTH);

	if (!error)
		error = hmr_vop_end(m, _merge(m, &p->rfirst, p->nr, tmp));
	return error;
}

/*
 * Merge every pair of sibling leaves whose elements fit in
 * HMR_REBLOCK_LEAF_FILL, left to right, one VOP per merge; *merged
 * counts them.  A leaf that absorbed its neighbour is looked at again
 * with its new neighbour, so a run of sparse leaves becomes a few full
 * ones.  Each turn either moves on to a larger key or removes a leaf,
 * so a tree of n blocks needs fewer than 2n turns; a walk that does not
 * move on, or takes more, is a tree whose keys are out of order (a
 * damaged image) and stops with EIO instead of going round forever.
 * 0, ENOSPC, EIO.
 */
static int _pack_leaves(struct hmr_mount *m, uint64_t *merged)
{
	struct hmr_elm *tmp = hmr_alloc(HMR_LEAF_MAX * sizeof(*tmp));
	struct hmr_base from;
	struct leaf_pair p;
	int error = tmp == NULL ? ENOMEM : 0;

	hmr_memset(&from, 0, sizeof(from));
	for (uint64_t turns = 0; !error; turns++) {
		error = _pair_at(m, &from, &p);
		if (!error && (turns > 2 * m->nblocks ||
			       hmr_key_cmp(&p.rfirst, &from) <= 0))
			error = EIO;
		if (error)
			break;
		if (!_mergeable(&p)) {
			from = p.rfirst;
			continue;
		}
		error = _merge_vop(m, &p, tmp);
		*merged += error == 0;
	}
	hmr_free(tmp);
	return error == ENOENT ? 0 : error;
}

/* Both passes: payloads (when two blocks or more qualify), then leaves.
 * 0, EROFS, EIO, ENOSPC. */
static int _passes(struct hmr_mount *m, struct reblock_pass *p,
		   uint64_t *merged)
{
	int error = hmr_writable(m);

	if (!error && _sparse_blocks(m) >= 2)
		error = _reblock(m, p);
	if (!error)
		error = _pack_leaves(m, merged);
	return error;
}

/*
 * hmr_reblock_passes - both reblock passes, without the final commit:
 * for prune, which holds the locks and commits itself.  *moved receives
 * the payloads moved; the merge counter is updated.  0, EROFS, EIO,
 * ENOSPC (what finished before is whole and stays).  Needs both locks
 * and no open VOP; may block.
 */
int hmr_reblock_passes(struct hmr_mount *m, uint64_t *moved)
{
	struct reblock_pass p = { 0 };
	uint64_t merged = 0;
	int error = _passes(m, &p, &merged);

	m->stats.leaves_merged += merged;
	*moved = p.moved;
	return error;
}

/*
 * hmr_reblock - compact the meta blocks at most half full: move their
 * payloads (history included) into packed blocks, free them, and commit.
 * *moved (may be NULL) receives the payloads moved, *freed (may be NULL)
 * the net blocks reclaimed.  Returns 0, EROFS, EIO, or ENOSPC when space
 * ran out part way (what moved before is committed).  Takes the commit
 * and mount locks; may block.
 */
int hmr_reblock(struct hmr_mount *m, uint64_t *moved, uint64_t *freed)
{
	HMR_ASSERT(m, "hmr_reblock: NULL mount (a caller bug)");
	struct reblock_pass p = { 0 };
	uint64_t before, merged = 0;
	int error, commit_error;

	hmr_wenter(m);
	before = m->nfree;
	error = _passes(m, &p, &merged);
	HMR_ASSERT(m->alloc_class == HMR_ALLOC_NORMAL && !m->undo.active,
		   "hmr_reblock: a pass left its VOP open");
	/* Commit what moved, even after an error: each finished batch is
	 * whole, and the blocks it emptied come back only with a commit. */
	commit_error = hmr_writable(m) == 0 ? hmr_commit(m) : 0;
	if (!error)
		error = commit_error;
	m->stats.leaves_merged += merged;
	if (moved != NULL)
		*moved = p.moved;
	if (freed != NULL)
		*freed = m->nfree > before ? m->nfree - before : 0;
	return hmr_wleave(m, error);
}
