/*
 * hmr_undo.c - an error undoes its own operation, and nothing else.
 *
 * Between commits every change lives in memory: the open commit's nodes,
 * data and meta blocks are dirty buffers, and the freemap is an array.  A
 * VOP that fails half way (out of space, a damaged block it had to read,
 * no memory) has changed some of that and must give it back exactly, while
 * the operations before it - which returned success and wait for the next
 * commit - keep theirs.  So each VOP runs inside a savepoint:
 *
 *   hmr_undo_begin    remember the scalars a VOP may change (the root,
 *                     free counts, the open meta block, dirty_meta);
 *   hmr_undo_fm       before a block's freemap entry or allocation flags
 *                     change for the first time in the VOP, log them;
 *   hmr_undo_touch    before a buffer that predates the VOP is changed in
 *                     place (a node, data or meta block the open commit
 *                     already wrote), keep a copy of it;
 *   hmr_undo_keep     a buffer that predates the VOP is being freed: keep
 *                     the buffer itself instead of dropping it;
 *   hmr_undo_rollback put every kept buffer back, drop the buffers of
 *                     blocks the VOP allocated, restore the logged freemap
 *                     entries and the scalars;
 *   hmr_undo_release  success: forget the log.
 *
 * What needs no log: blocks the VOP allocated (they did not exist before,
 * so rollback drops them), and blocks a durable commit reaches (they are
 * never written in place - copy on write - and a freed one is only HELD).
 * Object ids handed out by a failed VOP are not given back: an inode
 * number is never used twice within a mount.
 *
 * Cost: one freemap entry per block touched, and one 4 KiB copy per
 * buffer of the open commit that the VOP changes in place (usually the
 * few nodes on its paths, already copied earlier in the same commit).
 *
 * If the log itself cannot grow (no memory), the savepoint is marked
 * broken and a rollback falls back to dropping the whole open commit,
 * saying so on the console: never a half-undone VOP.
 */
#include "hmr_private.h"

/* Per-block flags (m->bflags) this file owns; never on disk. */
#define _BF_LOGGED HMR_BF_UNDO_FM   /* freemap entry logged */
#define _BF_SAVED HMR_BF_UNDO_DATA  /* buffer contents kept */
#define _BF_NEW HMR_BF_VOPNEW	    /* allocated by the running VOP */
#define _BF_UNDO (_BF_LOGGED | _BF_SAVED | _BF_NEW)

/* Grow a log array (elements of `size` bytes, first held in `inline_arr`)
 * to hold one more element.  0 or ENOMEM. */
static int _grow(void **arr, size_t *cap, size_t n, size_t size,
		 void *inline_arr)
{
	size_t ncap = *cap * 2;
	void *p;

	if (n < *cap)
		return 0;
	p = hmr_alloc(ncap * size);
	if (p == NULL)
		return ENOMEM;
	hmr_memcpy(p, *arr, n * size);
	if (*arr != inline_arr)
		hmr_free(*arr);
	*arr = p;
	*cap = ncap;
	return 0;
}

/* Room for one more freemap entry / kept buffer in the log. */
static int _grow_fm(struct hmr_undo *u)
{
	return _grow((void **)&u->fm, &u->fm_cap, u->fm_n, sizeof(*u->fm),
		     u->fm_inline);
}

static int _grow_bufs(struct hmr_undo *u)
{
	return _grow((void **)&u->bufs, &u->bufs_cap, u->bufs_n,
		     sizeof(*u->bufs), u->bufs_inline);
}

/* Point the log at the inline arrays, freeing any heap ones. */
static void _log_reset(struct hmr_undo *u)
{
	if (u->fm != NULL && u->fm != u->fm_inline)
		hmr_free(u->fm);
	if (u->bufs != NULL && u->bufs != u->bufs_inline)
		hmr_free(u->bufs);
	u->fm = u->fm_inline;
	u->bufs = u->bufs_inline;
	u->fm_cap = u->bufs_cap = HMR_UNDO_INLINE;
	u->fm_n = u->bufs_n = 0;
}

/*
 * hmr_undo_begin - open the savepoint of a VOP.  Needs the mount lock and
 * no savepoint open.  Cannot fail (the log grows on demand).
 */
void hmr_undo_begin(struct hmr_mount *m)
{
	struct hmr_undo *u = &m->undo;

	HMR_ASSERT(!u->active, "a VOP began inside another VOP's savepoint");
	if (u->fm == NULL)
		_log_reset(u);
	u->active = 1;
	u->broken = 0;
	u->root_blkno = m->root_blkno;
	u->root_crc = m->root_crc;
	u->root_gen_lo = m->root_gen_lo;
	u->root_level = m->root_level;
	u->nfree = m->nfree;
	u->nheld = m->nheld;
	u->meta_blk = m->meta_blk;
	u->meta_next_unit = m->meta_next_unit;
	u->dirty_meta = m->dirty_meta;
}

/*
 * hmr_undo_fm - block b's freemap entry or allocation flags are about to
 * change: log their values the first time in this VOP.  `allocating` says
 * the VOP is taking b (so rollback drops its buffer).  No-op outside a
 * VOP.
 */
void hmr_undo_fm(struct hmr_mount *m, uint64_t b, int allocating)
{
	struct hmr_undo *u = &m->undo;

	if (!u->active)
		return;
	if (!(m->bflags[b] & _BF_LOGGED)) {
		if (_grow_fm(u) != 0) {
			u->broken = 1;
			return;
		}
		u->fm[u->fm_n].blkno = b;
		u->fm[u->fm_n].fm = m->fm[b];
		u->fm[u->fm_n].bflags = m->bflags[b] & (uint8_t)~_BF_UNDO;
		u->fm_n++;
		m->bflags[b] |= _BF_LOGGED;
	}
	if (allocating)
		m->bflags[b] |= _BF_NEW;
}

/* Log one kept buffer (a copy, or the buffer itself, or NULL for "drop
 * the cached copy at rollback").  0 or ENOMEM. */
static int _keep(struct hmr_mount *m, uint64_t b, struct hmr_buf *copy)
{
	struct hmr_undo *u = &m->undo;

	if (_grow_bufs(u) != 0)
		return ENOMEM;
	u->bufs[u->bufs_n].blkno = b;
	u->bufs[u->bufs_n].buf = copy;
	u->bufs_n++;
	m->bflags[b] |= _BF_SAVED;
	return 0;
}

/* Does block b's cached state need keeping before it changes? */
static int _needs_keep(const struct hmr_mount *m, uint64_t b)
{
	return m->undo.active && !(m->bflags[b] & (_BF_SAVED | _BF_NEW));
}

/*
 * hmr_undo_touch - buffer b is about to be changed in place.  Keeps a copy
 * the first time in the VOP unless the VOP allocated the block.  0, or
 * ENOMEM (the caller must then not change b).
 */
int hmr_undo_touch(struct hmr_mount *m, struct hmr_buf *b)
{
	struct hmr_buf *copy = NULL;
	int error;

	if (!_needs_keep(m, b->blkno))
		return 0;
	/* A clean buffer equals the disk: rollback only has to drop it. */
	if (b->flags & HMR_BUF_DIRTY) {
		copy = hmr_buf_clone(m, b);
		if (copy == NULL)
			return ENOMEM;
	}
	error = _keep(m, b->blkno, copy);
	if (error)
		hmr_free(copy);
	return error;
}

/*
 * hmr_undo_keep - block b is being freed and its cached buffer would be
 * dropped.  Inside a VOP a dirty buffer that predates the VOP is taken out
 * of the cache into the log instead (rollback puts it back).  Returns 1
 * when it took the buffer, 0 when the caller should drop it as usual.
 */
int hmr_undo_keep(struct hmr_mount *m, uint64_t b)
{
	struct hmr_buf *buf = hmr_buf_find(m, b);

	if (buf == NULL || !(buf->flags & HMR_BUF_DIRTY) ||
	    !_needs_keep(m, b))
		return 0;
	if (_grow_bufs(&m->undo) != 0) {
		m->undo.broken = 1;
		return 0;
	}
	hmr_buf_detach(m, buf);
	return _keep(m, b, buf) == 0;
}

/* Forget the log; clear the flags it set.  The kept buffers are freed. */
static void _clear(struct hmr_mount *m)
{
	struct hmr_undo *u = &m->undo;

	for (size_t i = 0; i < u->bufs_n; i++) {
		m->bflags[u->bufs[i].blkno] &= (uint8_t)~_BF_UNDO;
		hmr_free(u->bufs[i].buf);
	}
	for (size_t i = 0; i < u->fm_n; i++)
		m->bflags[u->fm[i].blkno] &= (uint8_t)~_BF_UNDO;
	_log_reset(u);
	u->active = 0;
}

/* hmr_undo_release - the VOP succeeded: its changes stay. */
void hmr_undo_release(struct hmr_mount *m)
{
	if (m->undo.active)
		_clear(m);
}

/* Put the freemap entries back; drop the buffers of blocks the VOP
 * allocated (unless a kept buffer is coming back for that block). */
static void _restore_fm(struct hmr_mount *m)
{
	struct hmr_undo *u = &m->undo;

	for (size_t i = u->fm_n; i-- > 0;) {
		uint64_t b = u->fm[i].blkno;

		if ((m->bflags[b] & (_BF_NEW | _BF_SAVED)) == _BF_NEW)
			hmr_buf_discard(m, b);
		m->fm[b] = u->fm[i].fm;
		m->bflags[b] = u->fm[i].bflags;
	}
	u->fm_n = 0;
}

/* Put the kept buffers back (a NULL entry: drop the cached copy). */
static void _restore_bufs(struct hmr_mount *m)
{
	struct hmr_undo *u = &m->undo;

	for (size_t i = 0; i < u->bufs_n; i++) {
		if (u->bufs[i].buf == NULL)
			hmr_buf_discard(m, u->bufs[i].blkno);
		else
			hmr_buf_reinstate(m, u->bufs[i].buf);
		m->bflags[u->bufs[i].blkno] &= (uint8_t)~_BF_UNDO;
	}
	u->bufs_n = 0;
}

/*
 * hmr_undo_rollback - the VOP failed: give back everything it changed.
 * Returns 0, or EIO when the log was incomplete and the whole open commit
 * had to be dropped instead.
 */
int hmr_undo_rollback(struct hmr_mount *m)
{
	struct hmr_undo *u = &m->undo;

	if (!u->active)
		return 0;
	hmr_tree_changed(m);
	if (u->fm_n > 0 || u->bufs_n > 0 || u->dirty_meta != m->dirty_meta)
		m->stats.vop_rollbacks++;
	if (u->broken) {
		_clear(m);
		hmr_log("out of memory for an operation's undo log: dropping "
			"every change since the last sync");
		hmr_abort_open_commit(m);
		return EIO;
	}
	_restore_fm(m);
	_restore_bufs(m);
	m->root_blkno = u->root_blkno;
	m->root_crc = u->root_crc;
	m->root_gen_lo = u->root_gen_lo;
	m->root_level = u->root_level;
	m->nfree = u->nfree;
	m->nheld = u->nheld;
	m->meta_blk = u->meta_blk;
	m->meta_next_unit = u->meta_next_unit;
	m->dirty_meta = u->dirty_meta;
	_log_reset(u);
	u->active = 0;
	return 0;
}

/* hmr_undo_destroy - free what the log holds (unmount). */
void hmr_undo_destroy(struct hmr_mount *m)
{
	if (m->undo.active && m->bflags != NULL)
		_clear(m);
	_log_reset(&m->undo);
}
