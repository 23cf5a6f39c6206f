/*
 * hmr_reblock.c - reblocking: moving the small payloads out of meta blocks
 * that are mostly empty, so that those blocks come back.
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
 * The work is split into VOPs of HMR_REBLOCK_BATCH moves, each its own
 * savepoint (an error undoes only the batch that hit it), and ends with
 * a commit.  Reblock allocates in the ordinary class: it never takes the
 * reserve that deletes and prune may use.  When space runs out it stops,
 * commits what it moved, and returns ENOSPC.
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
		error = hmr_vop_begin(m, HMR_REBLOCK_BATCH);
		if (!error)
			error = hmr_vop_end(m, _batch(m, p));
	}
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
	uint64_t before;
	int error, commit_error;

	hmr_wenter(m);
	before = m->nfree;
	error = hmr_writable(m);
	if (!error && _sparse_blocks(m) >= 2)
		error = _reblock(m, &p);
	/* Commit what moved, even after an error: each finished batch is
	 * whole, and the blocks it emptied come back only with a commit. */
	commit_error = hmr_writable(m) == 0 ? hmr_commit(m) : 0;
	if (!error)
		error = commit_error;
	if (moved != NULL)
		*moved = p.moved;
	if (freed != NULL)
		*freed = m->nfree > before ? m->nfree - before : 0;
	return hmr_wleave(m, error);
}
