/*
 * hmr_commit.c - mkfs, mount, and the commit protocol.
 *
 * The one invariant that makes HMR crash-safe:
 *
 *     No block that the last durable superblock can reach is ever
 *     written.  A commit becomes durable at the instant its superblock
 *     write completes after a cache flush.
 *
 * Everything the open commit changes lives in blocks it allocated itself
 * (copy on write, hmr_btree.c; deferred reuse, hmr_alloc.c).  Commit N:
 *
 *   1. (the mount lock is held, so no VOP is half done)
 *   2. compute node CRCs bottom-up; the root's goes in the superblock;
 *   3. write every dirty buffer, then the changed blocks of freemap copy
 *      N & 1 (the copy superblock N-1 does not use);
 *   4. FLUSH;
 *   5. write superblock slot N & 1 (the slot superblock N-1 does not use);
 *   6. FLUSH - commit N is durable;
 *   7. release blocks held for deferred reuse; open commit N+1.
 *
 * A crash before step 5 completes leaves superblock N-1 and everything it
 * reaches untouched.  A torn step 5 fails the superblock's CRC, so mount
 * again picks N-1.  Mount therefore never replays anything: it reads both
 * slots and uses the newest that passes every check, falling back to the
 * other when the newest one's freemap or root is damaged.
 *
 * One TID per commit: every record created or deleted while commit N is
 * open carries TID N, so "as of N" is exactly the state commit N left.
 */
#include "hmr_private.h"

/*
 * Check the fields of a superblock that do not depend on the device.  A
 * superblock that passes its CRC can still be nonsense (written by a buggy
 * or foreign tool); every field later code trusts without checking -
 * sizes, slot parity, freemap placement, root level - is checked here.
 * Returns NULL, or the name of the check that failed (for the operator).
 */
static const char *_super_insane(const struct hmr_super *sb, int slot)
{
	if (sb->version != HMR_VERSION)
		return "unknown version";
	if (sb->block_size != HMR_BLOCK_SIZE)
		return "block size is not 4096";
	if (sb->commit_tid != sb->hdr.generation || sb->commit_tid == 0)
		return "commit TID is zero or not its generation";
	if ((int)(sb->commit_tid & 1) != slot ||
	    sb->freemap_copy != (sb->commit_tid & 1))
		return "TID does not belong in this slot";
	if (sb->root_level >= HMR_MAX_DEPTH || sb->root_blkno >= sb->nblocks)
		return "root pointer out of range";
	if (sb->freemap_nblocks != (sb->nblocks + HMR_FM_PER_BLOCK - 1) /
					    HMR_FM_PER_BLOCK ||
	    sb->freemap_blkno[0] != HMR_BLK_FREEMAP ||
	    sb->freemap_blkno[1] != HMR_BLK_FREEMAP + sb->freemap_nblocks)
		return "freemap size or place does not follow the format";
	if (sb->next_obj_id <= HMR_OBJID_ROOT)
		return "next_obj_id not above the root's";
	if (sb->features_incompat & ~HMR_INCOMPAT_KNOWN)
		return "unknown incompatible feature (a newer format)";
	return NULL;
}

/* Is the block all zeros (a slot mkfs cleared and no commit wrote)? */
static int _zero_block(const void *block)
{
	const uint64_t *w = block;

	for (int i = 0; i < HMR_BLOCK_SIZE / 8; i++)
		if (w[i] != 0)
			return 0;
	return 1;
}

/* Read slot `slot` into sb and check it; NULL or the failed check. */
static const char *_super_check(struct hmr_bdev *dev, int slot,
				struct hmr_super *sb)
{
	uint64_t blkno = HMR_BLK_SUPER_A + (uint64_t)slot;

	if (dev->read(dev, blkno, sb) != 0)
		return "unreadable";
	if (sb->hdr.magic != HMR_MAGIC_SUPER)
		return _zero_block(sb) ? "blank (never written)"
				       : "no superblock magic";
	if (sb->hdr.crc != hmr_block_crc(sb))
		return "bad CRC";
	if (sb->hdr.blkno != blkno)
		return "written for another block (misdirected)";
	if (sb->nblocks > dev->nblocks)
		return "larger than the device";
	return _super_insane(sb, slot);
}

/*
 * hmr_read_super - read and check superblock slot 0 (A) or 1 (B).  0 or
 * EIO (unreadable, torn, blank, or inconsistent with the device); then
 * *why (may be NULL) names the check that failed.  May block.
 */
int hmr_read_super(struct hmr_bdev *dev, int slot, struct hmr_super *sb,
		   const char **why)
{
	const char *failed = _super_check(dev, slot, sb);

	if (why != NULL)
		*why = failed;
	return failed ? EIO : 0;
}

/* Free everything a (partial) mount allocated, except m itself, so a
 * failed attempt at one slot leaves nothing behind for the next. */
static void _state_free(struct hmr_mount *m)
{
	hmr_cache_destroy(m);
	hmr_free(m->fm);
	hmr_free(m->bflags);
	hmr_free(m->fm_shadow[0]);
	hmr_free(m->fm_shadow[1]);
	m->fm = m->bflags = m->fm_shadow[0] = m->fm_shadow[1] = NULL;
}

/* Take the tree and counters of the open commit from superblock sb.
 * The open commit's TID is one past the durable one; if an earlier,
 * unacknowledged commit with that TID was lost in a crash, its TID is
 * simply handed out again - none of its records are reachable. */
static void _adopt_super(struct hmr_mount *m, const struct hmr_super *sb)
{
	m->sb = *sb;
	m->durable_tid = sb->commit_tid;
	m->tid = sb->commit_tid + 1;
	m->root_blkno = sb->root_blkno;
	m->root_crc = sb->root_crc;
	m->root_gen_lo = sb->root_gen_lo;
	m->root_level = sb->root_level;
	m->next_obj_id = sb->next_obj_id;
	m->dirty_meta = 0;
}

/* The root node failed hmr_node_verify: say which of its checks.  Its
 * own CRC is a damaged block; a CRC or generation that is not the one the
 * superblock recorded is a stale copy (a lost write). */
static const char *_root_why(struct hmr_mount *m, struct hmr_buf *b)
{
	const struct hmr_node *n = hmr_buf_node(b);

	if (hmr_blkhdr_check(n, HMR_MAGIC_NODE, b->blkno, m->sb.hdr.fsid))
		return "root node: bad CRC or header in block";
	if (n->hdr.crc != m->root_crc ||
	    (uint32_t)n->hdr.generation != m->root_gen_lo)
		return "root node: stale (not the one the superblock names) "
		       "in block";
	return "root node: bad level, type or count in block";
}

/* Read and verify the root node the adopted superblock names. */
static int _mount_root(struct hmr_mount *m)
{
	struct hmr_buf *root;

	m->why_blk = m->root_blkno;
	if (hmr_buf_get(m, m->root_blkno, &root) != 0) {
		m->why = "root node unreadable in block";
		return EIO;
	}
	if (hmr_node_verify(m, root, m->root_crc, m->root_gen_lo,
			    m->root_level) != 0) {
		m->why = _root_why(m, root);
		return EIO;
	}
	m->why_blk = 0;
	return 0;
}

/* The largest object id the records of localization `loc` use: the
 * last element at or below (loc, every id).  0 when there is none. */
static int _top_obj_id(struct hmr_mount *m, uint32_t loc, uint64_t *top)
{
	struct hmr_base k = { .localization = loc, .obj_id = ~0ull,
			      .rec_type = 0xFFFF, .key = ~0ull,
			      .create_tid = ~0ull };
	struct hmr_cursor c;
	int error = hmr_bt_seek_le(m, &k, &c);

	if (error == ENOENT)
		return 0;
	if (!error && hmr_bt_elm(&c)->base.obj_id > *top)
		*top = hmr_bt_elm(&c)->base.obj_id;
	return error;
}

/* Object ids are never reused, so next_obj_id must lie above every id
 * the tree holds (history included); a superblock that says otherwise
 * would let the next create collide with an existing object.  Two
 * descents: the last inode record and the last other record.  A node
 * on the way that cannot be read is not this check's business: the
 * commit is still the newest one, and reads of that part of the tree
 * answer EIO by themselves (falling back would lose the commit). */
static int _mount_obj_ids(struct hmr_mount *m)
{
	uint64_t top = 0;
	int error = _top_obj_id(m, HMR_LOCALIZE_INODE, &top);

	if (!error)
		error = _top_obj_id(m, HMR_LOCALIZE_MISC, &top);
	if (error == ENOMEM) {
		m->why = "out of memory";
		return ENOMEM;
	}
	if (!error && top >= m->next_obj_id) {
		m->why = "next_obj_id is not above the largest object id "
			 "in the tree";
		return EIO;
	}
	return 0;
}

/* Try to mount from one superblock: freemap, then the root node.  Both
 * are checked before the slot is accepted, so a commit whose superblock
 * landed but whose freemap or root did not (a lying disk cache) falls
 * back to the previous commit instead of mounting a damaged tree.  On
 * failure m->why (and m->why_blk) name the check. */
static int _mount_from(struct hmr_mount *m, const struct hmr_super *sb)
{
	int error;

	_adopt_super(m, sb);
	m->nblocks = sb->nblocks;
	m->why = NULL;
	m->why_blk = 0;
	error = hmr_freemap_setup(m);
	if (!error)
		error = hmr_cache_init(m);
	if (error)
		m->why = error == ENOSPC ? "too few blocks for a filesystem"
					 : "out of memory";
	if (!error)
		error = hmr_freemap_load(m, sb);
	if (!error)
		error = _mount_root(m);
	if (!error)
		error = _mount_obj_ids(m);
	if (!error && !(m->mnt_flags & HMR_MNT_RDONLY))
		hmr_snap_recount(m); /* what deletes must keep (hmr_space.c) */
	if (error && m->why == NULL)
		m->why = "unusable";
	if (error)
		_state_free(m);
	return error ? EIO : 0;
}

/* Add "slot X (block N): why[ blk]" to the diagnosis, "; " between
 * slots.  d may be NULL (nobody asked). */
static void _diag_slot(struct hmr_msg *d, int slot, const char *why,
		       uint64_t blk)
{
	if (d == NULL)
		return;
	if (d->n > 0)
		hmr_msg_str(d, "; ");
	hmr_msg_str(d, slot ? "slot B (block " : "slot A (block ");
	hmr_msg_num(d, HMR_BLK_SUPER_A + (uint64_t)slot);
	hmr_msg_str(d, "): ");
	hmr_msg_str(d, why);
	if (blk != 0) {
		hmr_msg_str(d, " ");
		hmr_msg_num(d, blk);
	}
}

/* Read both slots; order[] receives the valid ones, newest first.  Slot
 * parity equals TID parity, so two valid slots always differ in TID.
 * An invalid slot is described in d. */
static int _pick_supers(struct hmr_bdev *dev, struct hmr_super sb[2],
			int order[2], struct hmr_msg *d)
{
	const char *why[2];
	int ok0 = hmr_read_super(dev, 0, &sb[0], &why[0]) == 0;
	int ok1 = hmr_read_super(dev, 1, &sb[1], &why[1]) == 0;
	int n = 0;

	if (!ok0)
		_diag_slot(d, 0, why[0], 0);
	if (!ok1)
		_diag_slot(d, 1, why[1], 0);
	if (ok0 && ok1 && sb[1].commit_tid > sb[0].commit_tid) {
		order[n++] = 1;
		order[n++] = 0;
		return n;
	}
	if (ok0)
		order[n++] = 0;
	if (ok1)
		order[n++] = 1;
	return n;
}

/* Mount from the newest superblock that works; count fallbacks (the
 * counter, the log line and the diagnosis are how an operator learns a
 * disk lied). */
static int _mount_best(struct hmr_mount *m, struct hmr_msg *d)
{
	struct hmr_super *sb = hmr_alloc(2 * sizeof(*sb));
	int order[2], n, error = EIO;

	if (sb == NULL)
		return ENOMEM;
	n = _pick_supers(m->dev, sb, order, d);
	if (n < 2 && sb[0].hdr.magic == HMR_MAGIC_SUPER &&
	    sb[1].hdr.magic == HMR_MAGIC_SUPER)
		m->stats.super_fallbacks++; /* one slot is torn or corrupt */
	for (int i = 0; i < n && error; i++) {
		error = _mount_from(m, &sb[order[i]]);
		if (error) {
			m->stats.super_fallbacks++;
			_diag_slot(d, order[i], m->why, m->why_blk);
			hmr_log("superblock slot %c (tid %llu) unusable, "
				"falling back", 'A' + order[i],
				(unsigned long long)sb[order[i]].commit_tid);
		}
	}
	hmr_free(sb);
	return error;
}

/* "asof TID N is beyond the last commit M" */
static void _diag_asof(struct hmr_msg *d, uint64_t asof, uint64_t last)
{
	if (d == NULL)
		return;
	d->n = 0;
	hmr_msg_str(d, "asof TID "), hmr_msg_num(d, asof);
	hmr_msg_str(d, " is beyond the last commit "), hmr_msg_num(d, last);
}

/*
 * hmr_mount_diag - mount the filesystem on dev.  flags: HMR_MNT_*; asof
 * != 0 mounts the state of that committed TID, read-only.  Returns 0 and
 * *out, EIO when no superblock leads to a consistent tree, EINVAL for an
 * asof beyond the last commit, ENOMEM.  diag (may be NULL) receives one
 * line naming what was wrong with each slot that could not be used -
 * empty when both were fine - and is worth printing on failure.  May
 * block.  Never writes.
 */
int hmr_mount_diag(struct hmr_bdev *dev, unsigned flags, uint64_t asof,
		   struct hmr_mount **out, struct hmr_diag *diag)
{
	HMR_ASSERT(dev != NULL && out != NULL, "hmr_mount: NULL argument");
	struct hmr_mount *m = hmr_alloc(sizeof(*m));
	struct hmr_msg *d = hmr_alloc(sizeof(*d)); /* heap: small stacks */
	int error;

	if (m == NULL || d == NULL) {
		hmr_free(m), hmr_free(d);
		return ENOMEM;
	}
	m->dev = dev;
	m->asof = asof;
	m->tree_gen = 1;	/* a zeroed size hint (gen 0) never counts */
	m->mnt_flags = flags | (asof ? HMR_MNT_RDONLY : 0);
	error = _mount_best(m, d);
	if (!error && asof > m->durable_tid) {
		_diag_asof(d, asof, m->durable_tid);
		error = EINVAL;
	}
	if (diag != NULL)
		hmr_memcpy(diag->text, d->s, sizeof(diag->text) - 1);
	if (diag != NULL)
		diag->text[sizeof(diag->text) - 1] = '\0';
	hmr_free(d);
	if (error) {
		_state_free(m);
		hmr_free(m);
		return error;
	}
	hmr_lock_init(&m->lock);
	hmr_lock_init(&m->commit_lock);
	/* Orphans a crash left: nothing holds them open now. */
	if (!(m->mnt_flags & (HMR_MNT_RDONLY | HMR_MNT_KEEP_ORPHANS)) &&
	    (error = hmr_reap_orphans(m)) != 0)
		hmr_log("mount: orphans left for prune (error %d)", error);
	*out = m;
	return 0;
}

/* hmr_mount - hmr_mount_diag without the diagnosis. */
int hmr_mount(struct hmr_bdev *dev, unsigned flags, uint64_t asof,
	      struct hmr_mount **out)
{
	return hmr_mount_diag(dev, flags, asof, out, NULL);
}

/* Build the superblock for the commit being written: the durable one
 * with this commit's root, counters and freemap CRC, sealed with its
 * own CRC. */
static void _build_super(struct hmr_mount *m, struct hmr_super *sb,
			 uint32_t fm_crc)
{
	*sb = m->sb;
	sb->hdr.blkno = HMR_BLK_SUPER_A + (m->tid & 1);
	sb->hdr.generation = m->tid;
	sb->commit_tid = m->tid;
	sb->next_obj_id = m->next_obj_id;
	sb->root_blkno = m->root_blkno;
	sb->root_crc = m->root_crc;
	sb->root_gen_lo = m->root_gen_lo;
	sb->root_level = (uint16_t)m->root_level;
	sb->freemap_copy = (uint16_t)(m->tid & 1);
	sb->free_blocks = m->nfree;
	sb->commit_time_ns = hmr_now_ns();
	sb->freemap_crc = fm_crc;
	hmr_block_seal(sb);
}

/*
 * Steps 3-6, the I/O.  A changing call (hmr_wenter) lets the commit drop
 * the mount lock meanwhile, so readers are not held up by the disk: the
 * commit lock still keeps every change out, so the tree being written is
 * frozen, and this part touches only what readers never write (the dirty
 * list and its buffers, the freemap copies, the write counters).
 */
static int _commit_io(struct hmr_mount *m, struct hmr_super *sb)
{
	int unlock = m->commit_unlocks;
	uint32_t fm_crc;
	int error;

	if (unlock)
		hmr_lock_release(&m->lock);
	error = hmr_cache_write_dirty(m);
	if (!error)
		error = hmr_freemap_write(m, &fm_crc);
	if (!error)
		error = hmr_dev_flush(m);
	if (!error) {
		_build_super(m, sb, fm_crc);
		error = hmr_dev_write(m, sb->hdr.blkno, sb);
	}
	if (!error)
		error = hmr_dev_flush(m);
	if (unlock)
		hmr_lock_acquire(&m->lock);
	return error;
}

/* Steps 2-6 of the protocol (see the top of this file).  Any error stops
 * before the superblock is written, so the disk keeps the previous
 * commit; the caller marks the mount dead. */
static int _commit_write(struct hmr_mount *m, struct hmr_super *sb)
{
	int error = hmr_bt_finalize(m);

	return error ? error : _commit_io(m, sb);
}

/*
 * hmr_commit - make the open commit durable (steps 1-7).  Needs the mount
 * lock and the commit lock (or a private mount); in a changing call it
 * drops the mount lock during the I/O and takes it again (_commit_io), so
 * state read before may have been looked at by readers, never changed.
 * Returns 0 (also when there was nothing to commit) or EIO; after EIO the
 * mount is dead and refuses changes, and the disk still holds the
 * previous commit.  May block.
 */
int hmr_commit(struct hmr_mount *m)
{
	struct hmr_super *sb;
	int error;

	/* Everything in memory becomes durable, a VOP's changes included
	 * (only tests commit inside a VOP): its savepoint is over. */
	hmr_undo_release(m);
	if (m->dead)
		return EIO;
	if ((m->mnt_flags & HMR_MNT_RDONLY) || !m->dirty_meta)
		return 0;
	sb = hmr_alloc(sizeof(*sb));
	if (sb == NULL)
		return ENOMEM;
	m->stats.last_commit_blocks = 0;
	error = _commit_write(m, sb);
	if (!error) {
		m->sb = *sb;
		m->durable_tid = m->tid++;
		hmr_alloc_commit_done(m);
		m->dirty_meta = 0;
		m->stats.commits++;
		hmr_cache_mark_clean(m);
	}
	hmr_free(sb);
	m->dead |= error != 0;
	return error;
}

/* Recount the free entries of m->fm (after an abort restored it). */
static void _recount_free(struct hmr_mount *m)
{
	m->nfree = 0;
	for (uint64_t b = 0; b < m->nblocks; b++)
		m->nfree += m->fm[b] == HMR_FM_FREE;
}

/*
 * hmr_abort_open_commit - throw the open commit away: its buffers, its
 * allocations, its tree root.  The in-memory state returns to the last
 * durable commit, which the disk still holds untouched - except the
 * object-id counter, which never goes back: an inode number handed out
 * once is not handed out again.  Only for when a VOP's own undo is
 * impossible (hmr_undo.c); an ordinary error undoes just its VOP.
 */
void hmr_abort_open_commit(struct hmr_mount *m)
{
	int copy = (int)(m->durable_tid & 1);
	uint64_t next_obj_id = m->next_obj_id;

	HMR_ASSERT(m->shadow_valid[copy],
		   "abort needs the durable freemap copy in memory");
	hmr_tree_changed(m);
	hmr_cache_drop_dirty(m);
	hmr_memcpy(m->fm, m->fm_shadow[copy], m->nblocks);
	hmr_alloc_commit_done(m);
	_recount_free(m);
	_adopt_super(m, &m->sb);
	m->next_obj_id = next_obj_id;
	m->dirty_meta = next_obj_id != m->sb.next_obj_id;
}

/* hmr_writable - 0 when changes are allowed, else EROFS or EIO. */
int hmr_writable(struct hmr_mount *m)
{
	if (m->mnt_flags & HMR_MNT_RDONLY)
		return EROFS;
	return m->dead ? EIO : 0;
}

/*
 * hmr_vop_begin_reclaim - before a modifying operation of `class` (see
 * hmr_space.c) that may allocate at most `est_blocks` blocks.  Commits
 * first when the dirty set is large or when that frees held blocks the VOP
 * needs, checks the space (an ordinary VOP that does not fit: ENOSPC,
 * nothing changed), then opens the VOP's savepoint (hmr_undo.c).  0,
 * EROFS, ENOSPC, EIO.  On success the caller must end the VOP with
 * hmr_vop_end.
 */
int hmr_vop_begin_reclaim(struct hmr_mount *m, enum hmr_alloc_class class,
			  uint64_t est_blocks)
{
	int error = hmr_writable(m);

	if (error)
		return error;
	if (m->ndirty >= HMR_DIRTY_COMMIT_LIMIT)
		error = hmr_commit(m);
	if (!error)
		error = hmr_space_begin(m, class, est_blocks);
	if (!error) {
		hmr_undo_begin(m);
	} else {
		m->alloc_class = HMR_ALLOC_NORMAL;
		m->emergency = 0;
	}
	return error;
}

/* hmr_vop_begin - hmr_vop_begin_reclaim for an ordinary VOP. */
int hmr_vop_begin(struct hmr_mount *m, uint64_t est_blocks)
{
	return hmr_vop_begin_reclaim(m, HMR_ALLOC_NORMAL, est_blocks);
}

/*
 * hmr_vop_end - after a modifying operation.  Any error undoes exactly
 * this VOP's changes (hmr_undo_rollback): what earlier VOPs did since the
 * last commit stays, and an error that struck half way leaves no half
 * VOP behind.  Returns `error`.
 */
int hmr_vop_end(struct hmr_mount *m, int error)
{
	/* A VOP that found the tree and freemap at odds (m->dead) fails. */
	if (error == 0 && m->dead)
		error = EIO;
	if (error != 0)
		hmr_undo_rollback(m);
	else
		hmr_undo_release(m);
	m->alloc_class = HMR_ALLOC_NORMAL;
	m->split_ok = m->emergency = 0;
	return error;
}

/* ---- public entry points ----------------------------------------------- */

/*
 * The functions below take the mount lock themselves.  hmr_sync and
 * hmr_fsync are the same operation: HMR has no per-file log, and a commit
 * of everything costs one tree path per changed leaf, so fsync simply
 * commits.
 */

/* hmr_sync - commit now.  *tid receives the durable TID.  May block. */
int hmr_sync(struct hmr_mount *m, uint64_t *tid)
{
	HMR_ASSERT(m,
		   "hmr_sync: NULL argument (a caller bug: all are required)");
	int error;

	hmr_wenter(m);
	error = hmr_commit(m);
	if (tid != NULL)
		*tid = m->durable_tid;
	return hmr_wleave(m, error);
}

/* hmr_fsync - HMR has no per-file log: fsync is a full commit. */
int hmr_fsync(struct hmr_mount *m, uint64_t ino)
{
	(void)ino;
	return hmr_sync(m, NULL);
}

/* hmr_statfs - space and commit counters.  Never blocks on I/O. */
int hmr_statfs(struct hmr_mount *m, struct hmr_statfs *out)
{
	HMR_ASSERT(m && out,
		   "hmr_statfs: NULL argument (a caller bug: all are required)");
	hmr_enter(m);
	out->nblocks = m->nblocks;
	out->free_blocks = m->nfree;
	out->avail_blocks = hmr_avail_blocks(m) > hmr_reserve_blocks(m)
				    ? hmr_avail_blocks(m) - hmr_reserve_blocks(m)
				    : 0;
	out->next_obj_id = m->next_obj_id;
	out->commit_tid = m->durable_tid;
	return hmr_leave(m, 0);
}

/* hmr_counters - the always-on counters (read without the lock: stats). */
const struct hmr_counters *hmr_counters(struct hmr_mount *m)
{
	return &m->stats;
}

/* hmr_mount_asof - the TID an as-of mount shows, 0 for a live mount. */
uint64_t hmr_mount_asof(struct hmr_mount *m)
{
	return m->asof;
}

/* Release every resource of a mount (the open-file table, the maps, the
 * cache).  Nothing is written here. */
static void _mount_free(struct hmr_mount *m)
{
	struct hmr_openfile *of = m->open_files;

	while (of != NULL) {
		struct hmr_openfile *next = of->next;

		hmr_free(of);
		of = next;
	}
	hmr_undo_destroy(m);
	_state_free(m);
	hmr_lock_destroy(&m->lock);
	hmr_lock_destroy(&m->commit_lock);
	hmr_free(m);
}

/* hmr_unmount - final commit, then free.  Returns the commit's error. */
int hmr_unmount(struct hmr_mount *m)
{
	HMR_ASSERT(m,
		   "hmr_unmount: NULL argument (a caller bug: all are required)");
	int error;

	hmr_wenter(m);
	error = hmr_commit(m);
	m->commit_unlocks = 0;
	hmr_lock_release(&m->lock);
	hmr_lock_release(&m->commit_lock);
	_mount_free(m);
	return error;
}

/* hmr_mount_abandon - forget a mount without writing (simulated crash). */
void hmr_mount_abandon(struct hmr_mount *m)
{
	_mount_free(m);
}

/* ---- mkfs ------------------------------------------------------------- */

/*
 * mkfs builds a private mount with TID 1 open, puts an empty root leaf and
 * the root directory's inode in it, and runs the ordinary commit: the
 * first image is written by the same code as every later commit, so it
 * needs no separate format writer (and cannot disagree with one).
 */

/* The empty superblock template for a new filesystem. */
static void _mkfs_super(struct hmr_mount *m, const char *label, uint64_t fsid)
{
	struct hmr_super *sb = &m->sb;
	size_t n = label ? hmr_strlen(label) : 0;

	sb->hdr.magic = HMR_MAGIC_SUPER;
	sb->hdr.fsid = fsid;
	sb->version = HMR_VERSION;
	sb->block_size = HMR_BLOCK_SIZE;
	sb->nblocks = m->nblocks;
	sb->freemap_nblocks = m->fm_nblocks;
	sb->freemap_blkno[0] = hmr_freemap_first(m, 0);
	sb->freemap_blkno[1] = hmr_freemap_first(m, 1);
	hmr_memcpy(sb->label, label ? label : "", n < 63 ? n : 63);
}

/* Zero block 0 and both superblock slots, so an old filesystem's
 * superblock on a reused image cannot be mistaken for a newer commit. */
static int _mkfs_zero(struct hmr_mount *m)
{
	uint8_t *zero = hmr_alloc(HMR_BLOCK_SIZE);
	int error = zero ? 0 : ENOMEM;

	for (uint64_t b = 0; b <= HMR_BLK_SUPER_B && !error; b++)
		error = hmr_dev_write(m, b, zero);
	hmr_free(zero);
	return error;
}

/* The root directory's inode, written as commit 1. */
static int _mkfs_root(struct hmr_mount *m)
{
	struct hmr_inode_data in;
	uint64_t ino;
	int error = hmr_bt_create_root(m);

	if (!error)
		error = hmr_inode_new(m, HMR_OBJ_DIR, 0755, HMR_OBJID_ROOT,
				      &ino, &in);
	HMR_ASSERT(error || ino == HMR_OBJID_ROOT, "root must be object 1");
	return error;
}

/*
 * hmr_mkfs - format dev: zeroed slots, a root leaf holding the root
 * directory's inode, both freemap copies on their first commits.
 * Returns 0, ENOSPC (device too small), EIO, ENOMEM.  May block.
 */
int hmr_mkfs(struct hmr_bdev *dev, const char *label, uint64_t fsid)
{
	HMR_ASSERT(dev && dev->read && dev->write && dev->flush,
		   "hmr_mkfs: NULL argument (a caller bug: all are required)");
	struct hmr_mount *m = hmr_alloc(sizeof(*m));
	int error;

	if (m == NULL)
		return ENOMEM;
	m->dev = dev;
	m->nblocks = dev->nblocks;
	m->tid = 1;
	m->next_obj_id = HMR_OBJID_ROOT;
	hmr_lock_init(&m->lock);
	hmr_lock_init(&m->commit_lock);
	error = hmr_freemap_setup(m);
	if (!error)
		error = hmr_cache_init(m);
	if (!error) {
		_mkfs_super(m, label, fsid);
		error = _mkfs_zero(m);
	}
	if (!error)
		error = _mkfs_root(m);
	if (!error)
		error = hmr_commit(m);
	_mount_free(m);
	return error;
}
