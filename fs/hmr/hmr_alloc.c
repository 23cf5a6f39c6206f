/*
 * hmr_alloc.c - the freemap, block allocation and deferred reuse.
 *
 * One byte per block says what the block holds (hmr_disk.h):
 *
 *     0x00 free   0x01..0x40 meta block, that many live 64-byte units
 *     0xFE static (superblocks, freemap)   0xFF owned (node, data block)
 *
 * The whole map lives in memory (m->fm).  At commit N it is written to
 * copy (N & 1); only the blocks of that copy whose entries differ from
 * what the copy already holds are written (m->fm_shadow remembers each
 * copy's contents), and the superblock records a CRC over all entries, so
 * a lost freemap write is caught at mount.  Copy (N-1) & 1 stays intact
 * for superblock N-1, which is why a fallback mount finds a freemap that
 * matches its tree.
 *
 * The deferred-reuse rule, the heart of crash safety: a block that the
 * last durable superblock can reach is never written.  So a block freed
 * in the open commit is HELD (m->bflags) and not handed out until the
 * commit is durable.  The one exception is a block that was allocated
 * (FRESH) and freed in the same open commit: nothing durable can reach
 * it, so it is reusable at once.
 *
 * Small payloads (inodes, dirents, snapshots) are packed into meta blocks
 * in 64-byte units.  Only the one open meta block (m->meta_blk) receives
 * new units; it is closed at commit and never appended to again, because
 * appending would write into a block a durable tree reaches.
 */
#include "hmr_private.h"

/* First block of freemap copy `copy`. */
uint64_t hmr_freemap_first(const struct hmr_mount *m, int copy)
{
	return HMR_BLK_FREEMAP + (uint64_t)copy * m->fm_nblocks;
}

/* Number of static blocks at the start of the device. */
static uint64_t _static_blocks(const struct hmr_mount *m)
{
	return HMR_BLK_FREEMAP + 2ull * m->fm_nblocks;
}

/*
 * hmr_freemap_setup - allocate the in-memory maps for m->nblocks and mark
 * the static blocks.  Returns 0, ENOMEM, or ENOSPC for a device too small.
 */
int hmr_freemap_setup(struct hmr_mount *m)
{
	uint64_t n = m->nblocks;

	m->fm_nblocks = (uint32_t)((n + HMR_FM_PER_BLOCK - 1) / HMR_FM_PER_BLOCK);
	if (n < _static_blocks(m) + 16)
		return ENOSPC;
	m->fm = hmr_alloc(n);
	m->bflags = hmr_alloc(n);
	m->fm_shadow[0] = hmr_alloc(n);
	m->fm_shadow[1] = hmr_alloc(n);
	if (!m->fm || !m->bflags || !m->fm_shadow[0] || !m->fm_shadow[1])
		return ENOMEM;
	hmr_memset(m->fm, HMR_FM_STATIC, _static_blocks(m));
	m->nfree = n - _static_blocks(m);
	m->alloc_cursor = _static_blocks(m);
	return 0;
}

/* hmr_freemap_crc - the CRC the superblock keeps over all entries. */
uint32_t hmr_freemap_crc(const uint8_t *fm, uint64_t nblocks)
{
	return hmr_crc32c(0, fm, nblocks);
}

/* Entries covered by freemap block `i` of a copy. */
static uint32_t _entries_in(const struct hmr_mount *m, uint32_t i)
{
	uint64_t first = (uint64_t)i * HMR_FM_PER_BLOCK;
	uint64_t left = m->nblocks - first;

	return left < HMR_FM_PER_BLOCK ? (uint32_t)left : HMR_FM_PER_BLOCK;
}

/* Read and check freemap block i of `copy` into m->fm.  0 or EIO. */
static int _load_one(struct hmr_mount *m, const struct hmr_super *sb,
		     int copy, uint32_t i, struct hmr_freemap_blk *fb)
{
	uint64_t blkno = hmr_freemap_first(m, copy) + i;

	if (m->dev->read(m->dev, blkno, fb) != 0 ||
	    hmr_blkhdr_check(fb, HMR_MAGIC_FREEMAP, blkno, sb->hdr.fsid) ||
	    fb->hdr.generation > sb->commit_tid ||
	    fb->first_blkno != (uint64_t)i * HMR_FM_PER_BLOCK ||
	    fb->nentries != _entries_in(m, i) || fb->copy != (uint32_t)copy) {
		hmr_log("freemap block %llu is damaged",
			(unsigned long long)blkno);
		m->why = "freemap: bad CRC or header in block";
		m->why_blk = blkno;
		return EIO;
	}
	hmr_memcpy(m->fm + fb->first_blkno, fb->ent, fb->nentries);
	return 0;
}

/* Recount free blocks and check every entry: the static area marked
 * static and nothing else, and every other entry one of the values the
 * format defines (free, a unit count, owned).  Sets m->why on failure. */
static int _recount(struct hmr_mount *m)
{
	m->nfree = 0;
	for (uint64_t b = 0; b < m->nblocks; b++) {
		uint8_t e = m->fm[b];

		if ((b < _static_blocks(m)) != (e == HMR_FM_STATIC)) {
			m->why = "freemap: static area not marked static";
			return EIO;
		}
		if (e > HMR_FM_META_MAX && e != HMR_FM_STATIC &&
		    e != HMR_FM_OWNED) {
			m->why = "freemap: entry with no meaning for block";
			m->why_blk = b;
			return EIO;
		}
		m->nfree += e == HMR_FM_FREE;
	}
	return 0;
}

/*
 * hmr_freemap_load - load the copy superblock `sb` names and check it:
 * every block's header, then the CRC over all entries (catches a lost or
 * stale freemap write).  Returns 0 or EIO.  Mount only.
 */
int hmr_freemap_load(struct hmr_mount *m, const struct hmr_super *sb)
{
	struct hmr_freemap_blk *fb = hmr_alloc(sizeof(*fb));
	int copy = sb->freemap_copy, error = 0;

	if (fb == NULL)
		return ENOMEM;
	for (uint32_t i = 0; i < m->fm_nblocks && !error; i++)
		error = _load_one(m, sb, copy, i, fb);
	hmr_free(fb);
	if (!error && hmr_freemap_crc(m->fm, m->nblocks) != sb->freemap_crc) {
		m->why = "freemap: CRC over its entries is not the superblock's";
		error = EIO;
	}
	if (!error && _recount(m) != 0)
		error = EIO;
	if (error)
		return EIO;
	hmr_memcpy(m->fm_shadow[copy], m->fm, m->nblocks);
	m->shadow_valid[copy] = 1;
	m->shadow_valid[copy ^ 1] = 0;
	return 0;
}

/* Build and write freemap block i of `copy` from m->fm. */
static int _write_one(struct hmr_mount *m, int copy, uint32_t i,
		      struct hmr_freemap_blk *fb)
{
	hmr_memset(fb, 0, sizeof(*fb));
	fb->hdr.magic = HMR_MAGIC_FREEMAP;
	fb->hdr.blkno = hmr_freemap_first(m, copy) + i;
	fb->hdr.generation = m->tid;
	fb->hdr.fsid = m->sb.hdr.fsid;
	fb->first_blkno = (uint64_t)i * HMR_FM_PER_BLOCK;
	fb->nentries = _entries_in(m, i);
	fb->copy = (uint32_t)copy;
	hmr_memcpy(fb->ent, m->fm + fb->first_blkno, fb->nentries);
	hmr_block_seal(fb);
	return hmr_dev_write(m, fb->hdr.blkno, fb);
}

/* Does freemap block i of `copy` need writing this commit? */
static int _fm_block_changed(struct hmr_mount *m, int copy, uint32_t i)
{
	uint64_t first = (uint64_t)i * HMR_FM_PER_BLOCK;

	return !m->shadow_valid[copy] ||
	       hmr_memcmp(m->fm + first, m->fm_shadow[copy] + first,
			  _entries_in(m, i)) != 0;
}

/*
 * hmr_freemap_write - commit step 3b: bring copy (tid & 1) up to date with
 * m->fm.  *copy_crc receives the CRC for the superblock.  0 or EIO.
 */
int hmr_freemap_write(struct hmr_mount *m, uint32_t *copy_crc)
{
	struct hmr_freemap_blk *fb = hmr_alloc(sizeof(*fb));
	int copy = (int)(m->tid & 1), error = 0;

	if (fb == NULL)
		return ENOMEM;
	for (uint32_t i = 0; i < m->fm_nblocks && !error; i++)
		if (_fm_block_changed(m, copy, i))
			error = _write_one(m, copy, i, fb);
	hmr_free(fb);
	if (error)
		return error;
	hmr_memcpy(m->fm_shadow[copy], m->fm, m->nblocks);
	m->shadow_valid[copy] = 1;
	*copy_crc = hmr_freemap_crc(m->fm, m->nblocks);
	return 0;
}

/* hmr_avail_blocks - blocks the allocator could hand out right now. */
uint64_t hmr_avail_blocks(const struct hmr_mount *m)
{
	return m->nfree - m->nheld;
}

/* Is block b allocatable now? */
static inline int _allocatable(const struct hmr_mount *m, uint64_t b)
{
	return m->fm[b] == HMR_FM_FREE && !(m->bflags[b] & HMR_BF_HELD);
}

/* Next-fit scan for an allocatable block; the caller checked one exists. */
static uint64_t _scan(struct hmr_mount *m)
{
	uint64_t b = m->alloc_cursor;

	for (uint64_t n = 0; n < m->nblocks; n++, b++) {
		if (b >= m->nblocks)
			b = _static_blocks(m);
		if (_allocatable(m, b)) {
			m->alloc_cursor = b + 1;
			return b;
		}
	}
	hmr_panic(__FILE__, __LINE__,
		  "freemap count says a block is free but none is; the "
		  "in-memory freemap and m->nfree disagree");
}

/* Test hook: when nonzero, the allocation that brings it to zero fails
 * with ENOSPC (so tests can make any VOP fail at any allocation). */
uint64_t hmr_alloc_fail_countdown;

/* Take one allocatable block for `value` (OWNED or a unit count). */
static int _take(struct hmr_mount *m, uint8_t value, uint64_t *blkno)
{
	if (hmr_alloc_fail_countdown != 0 && --hmr_alloc_fail_countdown == 0)
		return ENOSPC;
	if (!hmr_may_allocate(m)) /* the reserve rules, hmr_space.c */
		return ENOSPC;
	*blkno = _scan(m);
	hmr_undo_fm(m, *blkno, 1);
	m->fm[*blkno] = value;
	m->bflags[*blkno] |= HMR_BF_FRESH;
	m->nfree--;
	return 0;
}

/*
 * hmr_block_alloc - allocate a whole block (node, data, long symlink) for
 * the open commit.  Returns 0 or ENOSPC.  The caller fills the buffer.
 */
int hmr_block_alloc(struct hmr_mount *m, uint64_t *blkno)
{
	HMR_ASSERT(!(m->mnt_flags & HMR_MNT_RDONLY),
		   "allocation on a read-only mount");
	return _take(m, HMR_FM_OWNED, blkno);
}

/* Return block b to the free pool, now or after the commit (see top). */
static void _release(struct hmr_mount *m, uint64_t b)
{
	hmr_undo_fm(m, b, 0);
	m->fm[b] = HMR_FM_FREE;
	m->nfree++;
	/* The cached copy goes - into the VOP's undo log if it holds what
	 * an earlier VOP of the open commit wrote. */
	if (!hmr_undo_keep(m, b))
		hmr_buf_discard(m, b);
	if (m->bflags[b] & HMR_BF_FRESH) {
		m->bflags[b] &= ~HMR_BF_FRESH;
		return;
	}
	m->bflags[b] |= HMR_BF_HELD;
	m->nheld++;
}

/*
 * The tree and the freemap disagree about a block being freed.  With an
 * image HMR wrote this cannot happen, but an image is untrusted input (a
 * crafted or fsck-damaged one passes every CRC), so it is not a panic:
 * the mount stops accepting changes - the open commit will never be
 * written - and the operator is told to run fsck.
 */
static void _free_mismatch(struct hmr_mount *m, uint64_t blkno)
{
	m->dead = 1;
	m->stats.crc_errors++;
	hmr_log("freeing block %llu, which the freemap does not show in that "
		"use: tree and freemap disagree; the mount is now read-only, "
		"run fsck.hmr", (unsigned long long)blkno);
}

/*
 * hmr_block_free - free a whole block.  It must be OWNED; anything else
 * means the tree and the freemap disagree (see _free_mismatch).
 */
void hmr_block_free(struct hmr_mount *m, uint64_t blkno)
{
	if (blkno >= m->nblocks || m->fm[blkno] != HMR_FM_OWNED) {
		_free_mismatch(m, blkno);
		return;
	}
	_release(m, blkno);
}

/* Open a new meta block holding `units` units from its start. */
static int _meta_open(struct hmr_mount *m, int units, uint64_t *off)
{
	uint64_t blkno;
	int error = _take(m, (uint8_t)units, &blkno);

	if (error)
		return error;
	hmr_buf_new(m, blkno);
	m->meta_blk = blkno;
	m->meta_next_unit = units;
	*off = blkno * HMR_BLOCK_SIZE;
	return 0;
}

/*
 * hmr_meta_alloc - room for a `len`-byte payload (1..4096) in the open
 * meta block, opening a new one when it does not fit.  *off receives the
 * byte offset.  The payload never crosses a block boundary.  0 or ENOSPC.
 */
int hmr_meta_alloc(struct hmr_mount *m, uint32_t len, uint64_t *off)
{
	int units = (int)((len + HMR_META_UNIT - 1) / HMR_META_UNIT);
	struct hmr_buf *b;

	HMR_ASSERT(len > 0 && len <= HMR_BLOCK_SIZE, "bad meta payload size");
	if (m->meta_blk == 0 || m->meta_next_unit + units > HMR_META_UNITS)
		return _meta_open(m, units, off);
	*off = m->meta_blk * HMR_BLOCK_SIZE +
	       (uint64_t)m->meta_next_unit * HMR_META_UNIT;
	m->meta_next_unit += units;
	hmr_undo_fm(m, m->meta_blk, 0);
	m->fm[m->meta_blk] += (uint8_t)units;
	if (hmr_buf_get(m, m->meta_blk, &b) == 0)
		hmr_buf_dirty(m, b);
	return 0;
}

/*
 * hmr_meta_free - drop a payload's units; the block is freed when its last
 * unit goes (deferred unless the block is FRESH).
 */
void hmr_meta_free(struct hmr_mount *m, uint64_t off, uint32_t len)
{
	uint64_t b = off / HMR_BLOCK_SIZE;
	uint8_t units = (uint8_t)((len + HMR_META_UNIT - 1) / HMR_META_UNIT);

	if (b >= m->nblocks || m->fm[b] < units || m->fm[b] > HMR_FM_META_MAX) {
		_free_mismatch(m, b); /* a payload freed twice, or not meta */
		return;
	}
	hmr_undo_fm(m, b, 0);
	m->fm[b] -= units;
	if (m->fm[b] != HMR_FM_FREE)
		return;
	if (b == m->meta_blk)
		m->meta_blk = 0;
	_release(m, b);
}

/*
 * hmr_alloc_commit_done - commit step 7: the commit is durable, so HELD
 * blocks become allocatable, FRESH blocks become ordinary, and the open
 * meta block is closed.
 */
void hmr_alloc_commit_done(struct hmr_mount *m)
{
	hmr_memset(m->bflags, 0, m->nblocks);
	m->nheld = 0;
	m->meta_blk = 0;
	m->meta_next_unit = 0;
}
