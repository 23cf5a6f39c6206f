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
 */
#include <kern/types.h>
#include <kern/errno.h>
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

void *hmr_alloc(size_t size)
{
	return kmalloc(size, M_HMR, M_NOWAIT | M_ZERO);
}

void *hmr_alloc_raw(size_t size)
{
	return kmalloc(size, M_HMR, M_NOWAIT);
}

void hmr_free(void *ptr)
{
	if (ptr != NULL)
		kfree(ptr, M_HMR);
}

void hmr_lock_init(hmr_lock_t *lock)
{
	lwkt_serialize_init(lock);
}

void hmr_lock_acquire(hmr_lock_t *lock)
{
	lwkt_serialize_enter(lock);
}

void hmr_lock_release(hmr_lock_t *lock)
{
	lwkt_serialize_exit(lock);
}

void hmr_lock_destroy(hmr_lock_t *lock)
{
	KASSERT(!lwkt_serialize_held(lock), "destroying a held HMR lock");
}

uint64_t hmr_now_ns(void)
{
	return clock_realtime_ns();
}

void hmr_log(const char *fmt, ...)
{
	va_list ap;

	kprintf("hmr: ");
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
}

void hmr_panic(const char *file, int line, const char *why)
{
	panic("hmr: %s (%s:%d)", why, file, line);
}

/* ---- the block device ------------------------------------------------------ */

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

static int kbdev_flush(struct hmr_bdev *dev)
{
	return bflush(dev->ctx);
}

void hmr_kbdev_init(struct hmr_bdev *dev, struct blkdev *bd)
{
	*dev = (struct hmr_bdev){
		.nblocks = bd->nsectors / (BIO_BLOCK_SIZE / BLK_SECTOR_SIZE),
		.ctx = bd, .read = kbdev_read, .write = kbdev_write,
		.flush = kbdev_flush,
	};
}
