/*
 * hmr_space.c - the space rules: what a VOP may allocate, and why a full
 * volume is never stuck.
 *
 * Copy on write makes freeing cost space: before a delete can set a
 * record's delete_tid it must copy the record's leaf (and the path above
 * it), and the old copies only become free when the commit is durable.
 * Deleting a 31 MiB file touches hundreds of leaves.  So a volume that
 * ordinary writes filled to the last block could not delete anything;
 * these rules make sure it always can:
 *
 *  1. The emergency reserve.  Ordinary VOPs (writes, creates, renames,
 *     setattr, snapshots) stop when only hmr_reserve_blocks() blocks are
 *     left.  Reclaiming VOPs - unlink, rmdir, a truncate that shrinks,
 *     the last close of an unlinked file - may use the reserve down to a
 *     small floor (hmr_floor_blocks), and prune and snapshot delete down to
 *     the last block: when snapshots pin everything, deletes free nothing
 *     and their new directory versions cost space, so the floor keeps
 *     what it takes to delete a snapshot and prune.
 *
 *  2. Reservation up front.  Every VOP states the most blocks it can
 *     allocate (hmr_est_*: a COW path per record changed, splits per
 *     record added, a meta block per payload area, the data blocks).  An
 *     ordinary VOP that would not fit above the reserve fails with ENOSPC
 *     before it changes anything; first, if blocks are held for deferred
 *     reuse, it commits, which frees them.
 *
 *  3. Reclaiming VOPs are split across commits.  They delete one record
 *     at a time, and before each one check that a full step and their
 *     closing steps still fit (hmr_space_short).  If not, they commit
 *     what they did so far (hmr_vop_checkpoint) - the leaves they copied
 *     replace the old ones, whose blocks come free - and go on.  Each
 *     commit leaves a consistent state: an unlink has already removed the
 *     name and marked the inode an orphan (nlinks 0; prune or fsck -r
 *     finish it after a crash), a truncate has shrunk the size to what is
 *     left, a prune has destroyed whole records.  Without a checkpoint
 *     (the usual case) the VOP is one commit, as every other VOP.
 *
 *  4. Emergency mode.  When a reclaiming VOP starts with fewer than twice
 *     the reserve allocatable, the records it deletes that no snapshot
 *     pins are destroyed at once, as prune would destroy them, instead of
 *     being kept as history.  So deletes on a full volume free space
 *     themselves (the new versions of the directories they touch would
 *     otherwise eat the reserve, one meta block per commit), and as-of
 *     views at TIDs no snapshot names may lose those records early - the
 *     same thing prune does.  History that snapshots pin is kept.
 *
 * Commits themselves never allocate (the freemap copies are static).
 */
#include "hmr_private.h"

/*
 * hmr_reserve_blocks - blocks only reclaiming VOPs may take: enough for
 * the first steps of an unlink (the entry, the directory's new version,
 * the orphan mark, a few records) with room to spare, growing with the
 * tree because every step copies a root-to-leaf path.
 */
uint64_t hmr_reserve_blocks(const struct hmr_mount *m)
{
	return 16 * (uint64_t)(m->root_level + 3);
}

/* Depth of a path after a possible root split. */
static uint64_t _depth(const struct hmr_mount *m)
{
	return (uint64_t)m->root_level + 2;
}

/* hmr_floor_blocks - what unlink, rmdir and truncate leave for snapshot
 * delete and prune (rule 1). */
uint64_t hmr_floor_blocks(const struct hmr_mount *m)
{
	return 4 * _depth(m) + 4;
}

/* hmr_est_modify - most blocks one record changed in place can take:
 * its root-to-leaf path, copied. */
uint64_t hmr_est_modify(const struct hmr_mount *m)
{
	return _depth(m);
}

/* hmr_est_insert - most blocks one record added can take: the copied
 * path, one split per level, a new root, and a meta block for its
 * payload. */
uint64_t hmr_est_insert(const struct hmr_mount *m)
{
	return 2 * _depth(m) + 2;
}

/* hmr_est_version - a record replaced by a new version (an inode). */
uint64_t hmr_est_version(const struct hmr_mount *m)
{
	return hmr_est_modify(m) + hmr_est_insert(m);
}

/*
 * hmr_est_write - most blocks writing `nblocks` file blocks can take: the
 * data blocks, the records (an old version ended and a new one added per
 * block, adjacent in the tree, so a leaf of at least 31 records takes a
 * new path and split per 16 blocks), and the inode's new version.
 */
uint64_t hmr_est_write(const struct hmr_mount *m, uint64_t nblocks)
{
	return nblocks + (nblocks / 16 + 2) * 2 * _depth(m) +
	       hmr_est_version(m);
}

/* Blocks the allocator can hand out now. */
static uint64_t _avail(const struct hmr_mount *m)
{
	return hmr_avail_blocks(m);
}

/* Is the volume so full that reclaiming VOPs destroy unpinned history
 * right away (rule 4)? */
static int _emergency(const struct hmr_mount *m)
{
	return m->alloc_class != HMR_ALLOC_NORMAL &&
	       _avail(m) < 2 * hmr_reserve_blocks(m);
}

/* Commit if that would free held blocks and the VOP needs `need`. */
static int _commit_for(struct hmr_mount *m, uint64_t need)
{
	if (_avail(m) >= need || m->nheld == 0 || !m->dirty_meta)
		return 0;
	return hmr_commit(m);
}

/*
 * hmr_space_begin - the space half of hmr_vop_begin (rules 2 and 4) for a
 * VOP of `class` that may allocate `est` blocks.  0, ENOSPC (an ordinary
 * VOP that does not fit above the reserve; nothing was changed), EIO (the
 * commit that would have freed held blocks failed).
 */
int hmr_space_begin(struct hmr_mount *m, enum hmr_alloc_class class,
		    uint64_t est)
{
	uint64_t need = est;
	int error;

	HMR_ASSERT(m->alloc_class == HMR_ALLOC_NORMAL && !m->split_ok,
		   "hmr_space_begin: the last VOP did not end through "
		   "hmr_vop_end, which resets its space class; every VOP "
		   "must end there");
	if (class == HMR_ALLOC_NORMAL)
		need += hmr_reserve_blocks(m) + 1;
	error = _commit_for(m, need);
	if (error)
		return error;
	m->alloc_class = class;
	m->split_ok = 0;
	m->emergency = _emergency(m);
	/* A reclaiming VOP starts even when short: it splits (rule 3). */
	return class == HMR_ALLOC_NORMAL && _avail(m) < need ? ENOSPC : 0;
}

/* The fewest blocks the running VOP's class must leave (rule 1). */
static uint64_t _limit(const struct hmr_mount *m)
{
	switch (m->alloc_class) {
	case HMR_ALLOC_NORMAL: return hmr_reserve_blocks(m);
	case HMR_ALLOC_RESERVE: return hmr_floor_blocks(m);
	default: return 0;
	}
}

/*
 * hmr_may_allocate - may the running VOP take one more block?  Ordinary
 * VOPs leave the reserve alone, reclaiming ones the floor (rule 1).
 */
int hmr_may_allocate(const struct hmr_mount *m)
{
	return _avail(m) > _limit(m);
}

/*
 * hmr_space_short - inside a VOP that may be split: is it time to commit
 * before the next record?  True when one more step might not fit above
 * the VOP's limit: a record deleted and, except in prune, up to three new
 * versions and a partly zeroed block to close with.  (A rename over a
 * file is an ordinary VOP that destroys one: it splits above the reserve.)
 */
int hmr_space_short(const struct hmr_mount *m)
{
	uint64_t step = hmr_est_modify(m) + 1;

	if (m->alloc_class != HMR_ALLOC_PRUNE)
		step += 3 * hmr_est_version(m);
	return m->split_ok && _avail(m) < _limit(m) + step;
}

/*
 * hmr_vop_checkpoint - rule 3: commit the running VOP's work so far (the
 * caller made the state consistent first) and go on in a new savepoint,
 * so a later error undoes only what came after.  0 or EIO.
 */
int hmr_vop_checkpoint(struct hmr_mount *m)
{
	int error;

	HMR_ASSERT(m->split_ok,
		   "hmr_vop_checkpoint: this VOP may not commit part way "
		   "(split_ok unset): its state is not consistent yet");
	error = hmr_commit(m);

	if (error)
		return error;
	m->stats.split_commits++;
	hmr_undo_begin(m);
	m->emergency = _emergency(m);
	return 0;
}

/*
 * hmr_pinned - would a snapshot still see a record created at
 * `create_tid` if it were deleted now?  Snapshots name durable TIDs,
 * which are all below the open one, so the newest snapshot decides.
 */
int hmr_pinned(const struct hmr_mount *m, uint64_t create_tid)
{
	return create_tid <= m->snap_max_tid;
}
