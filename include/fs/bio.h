/*
 * fs/bio.h - the buffer cache: 4 KiB blocks of block devices kept in
 * memory, written back lazily (fs/bio.c; docs/storage.md).
 *
 * The ownership rule.  A buffer is held by at most one thread at a time:
 * bread() and bget() return it held, and only the holder may look at or
 * change b_data, until it gives the buffer back with brelse() (unchanged),
 * bdwrite() (changed: written back later) or bwrite() (changed: written
 * now).  A thread asking for a held buffer sleeps until it comes back.
 * An unheld buffer belongs to the cache, which may write it back (if
 * dirty) and reuse it for another block.
 *
 * Durability: a bdwrite'n buffer reaches the device when the cache needs
 * its page, or at bflush(dev), which writes every dirty buffer of the
 * device, waits for them, and then sends the device a FLUSH.  When bflush
 * returns 0, everything written before it is durable -- but for a dirty
 * buffer some other thread held while bflush collected (it is skipped).
 */
#ifndef FS_BIO_H
#define FS_BIO_H

#include <kern/types.h>
#include <kern/queue.h>

struct blkdev;

#define BIO_BLOCK_SIZE	4096

/* b_flags */
#define B_VALID		0x1	/* b_data holds the block's contents */
#define B_DIRTY		0x2	/* b_data is newer than the device */
#define B_HELD		0x4	/* a thread holds it (the ownership rule) */
#define B_WANTED	0x8	/* someone sleeps until it is released */

struct buf {
	struct blkdev *b_dev;		/* bio_token, as is everything but */
	uint64_t b_blkno;		/* b_data, which is the holder's */
	uint8_t *b_data;		/* one page, direct-mapped */
	int b_flags;
	TAILQ_ENTRY(buf) b_hash;	/* by (dev, blkno) */
	TAILQ_ENTRY(buf) b_lru;		/* unheld buffers, least recent first */
};

/*
 * Block blkno of dev, held, with its contents.  Returns 0 and *bpp, EIO
 * (the device failed; nothing is cached), or EINVAL past the end of the
 * device.  Thread context; may block (for the device, or for the
 * holder of the buffer).
 */
int bread(struct blkdev *dev, uint64_t blkno, struct buf **bpp);

/* Like bread, but without reading: for a caller that overwrites the whole
 * block.  b_data is zeroed if the block was not cached. */
int bget(struct blkdev *dev, uint64_t blkno, struct buf **bpp);

/* Give a held buffer back unchanged, or changed (written back later), or
 * changed and written now (returns 0 or EIO; the buffer stays dirty on
 * EIO).  Never block but for bwrite. */
void brelse(struct buf *bp);
void bdwrite(struct buf *bp);
int bwrite(struct buf *bp);

/* Write every dirty buffer of dev (several in flight at once), then FLUSH
 * the device.  Returns 0 or the first error.  Thread context; blocks. */
int bflush(struct blkdev *dev);

/* Forget every unheld buffer of dev (after bflush; before a device goes
 * away or an image is replaced underneath).  Dirty ones are written
 * first.  Returns 0 or the first write error. */
int binval(struct blkdev *dev);

struct bio_stats {
	uint64_t bufs;			/* pages the cache has now */
	uint64_t max_bufs;		/* its bound */
	uint64_t dirty, held;
	uint64_t hits, misses, writebacks, evictions, shrinks;
};
void bio_get_stats(struct bio_stats *st);

/* Give back up to n clean unheld buffers' pages to the page allocator
 * (memory pressure).  Returns how many were freed.  Thread context. */
int bio_shrink(int n);

/* Set the cache up with up to max_bufs pages.  Boot, once. */
void bio_init(uint64_t max_bufs);

#endif /* FS_BIO_H */
