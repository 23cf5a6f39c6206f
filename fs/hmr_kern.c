/*
 * hmr_kern.c - what the HMR core needs from the kernel (fs/hmr/, the same
 * files the host tools build): memory, the mount lock, time, a log line,
 * a panic -- the functions include/fs/hmr_shim.h declares -- and a block
 * device built on the buffer cache.
 *
 *   HMR core --hmr_bdev.read/write/flush--> bio (buffer cache) --> blk_msg
 *                                                             --> vblk
 *
 * A block HMR writes goes into a cache buffer marked dirty (bdwrite); the
 * buffer cache sends it to the device when it needs the page or at the
 * next flush, and HMR's flush is bflush(): every dirty buffer of the
 * device written, then a device FLUSH.  HMR commits copy-on-write and
 * flushes before and after writing its superblock, so a dirty buffer
 * written early (evicted) is always a block no committed superblock
 * points to yet.
 *
 * What each shim function maps to, and why:
 *
 *   hmr_alloc*      kmalloc(M_NOWAIT): the shim promises NULL when
 *                   memory is short, and the core turns that into
 *                   ENOMEM for its caller instead of waiting;
 *   hmr_lock_*      a serializer, not a token: the mount lock is held
 *                   across disk I/O, and a token would be dropped
 *                   whenever the holder sleeps on the disk;
 *   hmr_now_ns      the wall clock (drivers/rtc.h), for timestamps only;
 *   hmr_log         one console line, "hmr: " in front;
 *   hmr_panic       panic(), which names the file and line.
 *
 * Locking: this file keeps no state of its own.  Each hmr_bdev's ctx is
 * the struct blkdev it was made for, read-only; the buffer cache has its
 * own token (fs/bio.c).  The core calls the block device with its mount
 * lock held, from any thread on any CPU.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/serialize.h>
#include <drivers/blkdev.h>
#include <drivers/rtc.h>
#include <fs/bio.h>
#include <fs/hmr.h>
#include <fs/hmr_shim.h>
#include <fs/hmr_kern.h>

MALLOC_DEFINE(M_HMR, "hmr", "the HMR filesystem core");

/* ---- the shim ------------------------------------------------------------ */

/* Zeroed memory, or NULL: never waits for memory.  Any thread. */
void *hmr_alloc(size_t size)
{
	return kmalloc(size, M_HMR, M_NOWAIT | M_ZERO);
}

/* Uninitialised memory, or NULL: never waits.  Any thread. */
void *hmr_alloc_raw(size_t size)
{
	return kmalloc(size, M_HMR, M_NOWAIT);
}

/* Give back what hmr_alloc* returned; NULL is allowed (the shim's
 * contract, unlike kfree's).  Any thread. */
void hmr_free(void *ptr)
{
	if (ptr != NULL)
		kfree(ptr, M_HMR);
}

/* The mount lock, free.  The mounting thread. */
void hmr_lock_init(hmr_lock_t *lock)
{
	lwkt_serialize_init(lock);
}

/* Take the mount lock; sleeps while another thread holds it (which
 * may be for a whole commit).  Thread context, not recursive. */
void hmr_lock_acquire(hmr_lock_t *lock)
{
	KASSERT(mycpu->gd_intr_nesting_level == 0, "the HMR mount lock may "
		"sleep: take it from a thread, not an interrupt");
	lwkt_serialize_enter(lock);
}

/* Let it go; the caller holds it.  Wakes one waiter; never blocks. */
void hmr_lock_release(hmr_lock_t *lock)
{
	lwkt_serialize_exit(lock);
}

/* The lock is going away with its mount: nobody may hold it.  A
 * serializer owns no memory, so this only checks. */
void hmr_lock_destroy(hmr_lock_t *lock)
{
	KASSERT(!lwkt_serialize_held(lock), "destroying a held HMR lock");
}

/* Wall-clock nanoseconds since 1970.  Any context. */
uint64_t hmr_now_ns(void)
{
	return clock_realtime_ns();
}

/* One line on the console.  Three kprintf calls, so another CPU's
 * output may land between the prefix and the text.  Any thread. */
void hmr_log(const char *fmt, ...)
{
	va_list ap;

	kprintf("hmr: ");
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
}

/* HMR_ASSERT failed: `why` already says what broke and the likely
 * cause (the core's panics teach, too). */
void hmr_panic(const char *file, int line, const char *why)
{
	panic("hmr: %s (%s:%d)", why, file, line);
}

/* ---- the block device ------------------------------------------------------ */

/*
 * Read block blkno into buf through the cache.  A block number past the
 * end of the device comes from a corrupt pointer on disk, not from a
 * caller's mistake, so bio's EINVAL becomes EIO: to the core it is an
 * unreadable block like any other.  Thread context; blocks.
 */
static int kbdev_read(struct hmr_bdev *dev, uint64_t blkno, void *buf)
{
	struct buf *bp;
	int error = bread(dev->ctx, blkno, &bp);

	if (error)
		return error == EINVAL ? EIO : error;
	memcpy(buf, bp->b_data, BIO_BLOCK_SIZE);
	brelse(bp);
	return 0;
}

/*
 * Write block blkno: into the cache, dirty (bget, since the whole block
 * is overwritten: no read first).  It reaches the disk at eviction or
 * at the next kbdev_flush.  EROFS for a read-only device, checked here
 * so nothing is dirtied that could never be written.  Thread context;
 * may block (for a buffer).
 */
static int kbdev_write(struct hmr_bdev *dev, uint64_t blkno, const void *buf)
{
	struct blkdev *bd = dev->ctx;
	struct buf *bp;
	int error;

	if (bd->read_only)
		return EROFS;
	if ((error = bget(bd, blkno, &bp)) != 0)
		return error == EINVAL ? EIO : error;
	memcpy(bp->b_data, buf, BIO_BLOCK_SIZE);
	bdwrite(bp);
	return 0;
}

/* Every dirty block of the device written, then a device FLUSH: after
 * a 0, all earlier writes are durable.  Thread context; blocks. */
static int kbdev_flush(struct hmr_bdev *dev)
{
	return bflush(dev->ctx);
}

/*
 * Contract in fs/hmr_kern.h: dev reaches bd through the buffer cache.
 * The device's size is rounded down to whole 4 KiB blocks.  Never
 * blocks; dev belongs to the caller (one per mount).
 */
void hmr_kbdev_init(struct hmr_bdev *dev, struct blkdev *bd)
{
	KASSERT(bd != NULL, "hmr_kbdev_init: no block device");
	*dev = (struct hmr_bdev){
		.nblocks = bd->nsectors / (BIO_BLOCK_SIZE / BLK_SECTOR_SIZE),
		.ctx = bd, .read = kbdev_read, .write = kbdev_write,
		.flush = kbdev_flush,
	};
}
