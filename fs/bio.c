/*
 * bio.c - the buffer cache.
 *
 * What it holds.  A fixed array of struct buf, each with at most one page
 * of memory.  A buffer with an identity (device, block number) sits in a
 * hash chain; when no thread holds it, it is also on the LRU list, least
 * recently released first.  Buffers without an identity wait on the
 * free list, with or without a page.
 *
 *   bread(dev, n):  hash hit?   held by someone: sleep; else take it
 *                   miss:       a free buffer, or the LRU head (written
 *                               back first if dirty), read from dev
 *
 * The bound.  The cache never has more than max_bufs pages, allocated at
 * boot.  When the page allocator runs low (fewer than
 * BIO_LOWMEM_FRACTION of all pages free), the cache gives clean pages
 * back (bio_shrink) and takes them again later when memory is plentiful.
 *
 * Locking.  bio_token protects every list, every b_flags and the
 * identities; it is never held across I/O (a token is dropped whenever
 * its holder blocks, and re-taken when it resumes, so the code re-checks
 * after every sleep).  A held buffer's b_data belongs to its holder (see
 * fs/bio.h); the token is not needed to use it.
 *
 * Writes.  bdwrite only marks the buffer dirty.  Dirty buffers reach the
 * device when their page is needed for another block, or at bflush(),
 * which sends up to BIO_BATCH writes at once as messages to the device's
 * port, waits for all of them, and then sends a FLUSH.  That order is
 * what makes bflush's 0 mean "durable": a FLUSH covers only the writes
 * that completed before it was sent (virtio 1.2, 5.2.6.2).
 *
 * Where each buffer is.  Every struct buf is in exactly one of three
 * states, and the lists say which (all under bio_token):
 *
 *   state         b_dev    B_HELD  hash chain  list       b_data
 *   free          NULL     no      no          bio_free   page or NULL
 *   cached        set      no      yes         bio_lru    page
 *   held          set      yes     yes         none       page
 *
 * (A buffer also passes through "held, no identity" inside take_buffer,
 * between losing its old block and getting its new one.)  So a buffer
 * with an identity always has a page: only free buffers give pages
 * back.  B_DIRTY implies an identity.  stats.held counts the held
 * buffers, stats.dirty the B_DIRTY ones, stats.bufs the pages owned.
 *
 * Waiting.  A thread that wants a held buffer sets B_WANTED and sleeps
 * on the buffer; brelse wakes it.  The check and the sleep are under
 * bio_token, and brelse takes the token before it looks at B_WANTED,
 * so the wakeup cannot slip between them.  A thread that finds every
 * buffer held sleeps on bio_lru for a tick at most and looks again.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/msgport.h>
#include <kern/panic.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/token.h>
#include <drivers/blkdev.h>
#include <fs/bio.h>
#include <machine/vmparam.h>
#include <vm/vm_page.h>

MALLOC_DEFINE(M_BIO, "bio", "the buffer cache");

#define BIO_HASH		256	/* chains; blocks spread by number */
#define BIO_BATCH		32	/* writes bflush keeps in flight */
#define BIO_LOWMEM_FRACTION	32	/* low: 1/32 of pages free */
#define SECTORS_PER_BLOCK	(BIO_BLOCK_SIZE / BLK_SECTOR_SIZE)

/* Everything below is written at bio_init and under bio_token after. */
static struct lwkt_token bio_token;
static struct buf *bufs;		/* the fixed array, never freed */
static uint64_t nbufs_max;
static TAILQ_HEAD(, buf) bio_hash[BIO_HASH];	/* identities */
static TAILQ_HEAD(, buf) bio_lru = TAILQ_HEAD_INITIALIZER(bio_lru);
static TAILQ_HEAD(, buf) bio_free = TAILQ_HEAD_INITIALIZER(bio_free);
static struct bio_stats stats;		/* bio_token */

/* ---- identity, lists ----------------------------------------------------- */

/*
 * The chain of (dev, blkno).  Consecutive blocks of one device land in
 * consecutive chains; the device's address (shifted past its alignment
 * bits) moves each device's blocks to its own place in the table.
 */
static unsigned bucket(struct blkdev *dev, uint64_t blkno)
{
	return (unsigned)((blkno ^ ((uintptr_t)dev >> 6)) % BIO_HASH);
}

/* The buffer with identity (dev, blkno), held or not; NULL.  bio_token. */
static struct buf *hash_find(struct blkdev *dev, uint64_t blkno)
{
	struct buf *bp;

	TAILQ_FOREACH(bp, &bio_hash[bucket(dev, blkno)], b_hash)
		if (bp->b_dev == dev && bp->b_blkno == blkno)
			return bp;
	return NULL;
}

/* Take a cached bp for the caller: off the LRU, held.  bio_token.  (A
 * buffer without an identity is on bio_free, not the LRU: see
 * take_buffer.) */
static void hold(struct buf *bp)
{
	KASSERT(!(bp->b_flags & B_HELD), "buffer %lu is already held",
		bp->b_blkno);
	if (bp->b_dev != NULL)
		TAILQ_REMOVE(&bio_lru, bp, b_lru);
	bp->b_flags |= B_HELD;
	stats.held++;
}

/* Drop the identity of an unheld, clean buffer: cached -> free, page
 * kept.  bio_token. */
static void forget(struct buf *bp)
{
	KASSERT(!(bp->b_flags & (B_DIRTY | B_HELD)), "forgetting a dirty or "
		"held buffer (block %lu) would lose data", bp->b_blkno);
	TAILQ_REMOVE(&bio_hash[bucket(bp->b_dev, bp->b_blkno)], bp, b_hash);
	TAILQ_REMOVE(&bio_lru, bp, b_lru);
	bp->b_dev = NULL;
	bp->b_flags = 0;
	TAILQ_INSERT_TAIL(&bio_free, bp, b_lru);
}

/* ---- I/O ----------------------------------------------------------------------- */

/* Read or write one held buffer synchronously.  Blocks; bio_token, if
 * held, is released while the thread sleeps (tokens are). */
static int buf_io(struct buf *bp, enum blk_cmd cmd)
{
	return blkdev_rw(bp->b_dev, cmd, bp->b_blkno * SECTORS_PER_BLOCK,
			 bp->b_data, BIO_BLOCK_SIZE);
}

/* A page for a free buffer that has none, if the page allocator can
 * spare one without waiting.  bio_token (or bio_init). */
static bool give_page(struct buf *bp)
{
	vm_page_t m;

	if (bp->b_data != NULL)
		return true;
	if ((m = vm_page_alloc(VM_ALLOC_NOWAIT)) == NULL)
		return false;
	bp->b_data = vm_page_to_dmap(m);
	stats.bufs++;
	return true;
}

/*
 * A buffer to give a new identity, held; NULL if every buffer is held.
 * bio_token; may block to write a dirty LRU buffer back (then the caller
 * must look the block up again: someone else may have cached it).
 *
 * Order of preference: a free buffer (with a page, or one that can get
 * a page now), then the least recently used cached buffer.  A dirty LRU
 * head is written back and released to the LRU's tail -- clean, or still
 * dirty with its data kept if the write failed -- and NULL tells the
 * caller to look again.
 */
static struct buf *take_buffer(bool *slept)
{
	struct buf *bp;

	TAILQ_FOREACH(bp, &bio_free, b_lru)
		if (give_page(bp)) {
			TAILQ_REMOVE(&bio_free, bp, b_lru);
			bp->b_flags = B_HELD;
			stats.held++;
			return bp;
		}
	if ((bp = TAILQ_FIRST(&bio_lru)) == NULL)
		return NULL;
	hold(bp);
	if (bp->b_flags & B_DIRTY) {
		*slept = true;
		stats.writebacks++;
		if (buf_io(bp, BLK_WRITE) == 0) {
			bp->b_flags &= ~B_DIRTY;
			stats.dirty--;
		}
		brelse(bp);		/* back on the LRU, clean or not */
		return NULL;
	}
	/* A clean victim: it loses its block, keeps its page. */
	stats.evictions++;
	TAILQ_REMOVE(&bio_hash[bucket(bp->b_dev, bp->b_blkno)], bp, b_hash);
	bp->b_dev = NULL;
	bp->b_flags = B_HELD;
	return bp;
}

/* Give pages back when the page allocator runs low.  Thread context;
 * takes bio_token (in bio_shrink) only when memory is low. */
static void check_memory(void)
{
	struct vm_page_stats vs;

	vm_page_stats(&vs);
	if (vs.free + vs.cached < vs.total / BIO_LOWMEM_FRACTION)
		bio_shrink(BIO_BATCH);
}

/*
 * Find or make the buffer for (dev, blkno), held.  *fresh says whether
 * it came without contents.  bio_token held; may sleep.
 */
static int getblk(struct blkdev *dev, uint64_t blkno, struct buf **bpp,
		  bool *fresh)
{
	struct buf *bp;
	bool slept;

	if (blkno >= dev->nsectors / SECTORS_PER_BLOCK)
		return EINVAL;
	for (;;) {
		if ((bp = hash_find(dev, blkno)) != NULL) {
			/* Held: wait for brelse; the holder may even be
			 * reading it in right now (bread holds it for
			 * that). */
			if (bp->b_flags & B_HELD) {
				bp->b_flags |= B_WANTED;
				tsleep(bp, 0, "bufwait", 0);
				continue;	/* anything may have changed */
			}
			hold(bp);
			stats.hits++;
			*fresh = false;
			*bpp = bp;
			return 0;
		}
		/* A miss: find a buffer for it.  After any sleep the
		 * block may have been cached meanwhile: look again. */
		slept = false;
		if ((bp = take_buffer(&slept)) == NULL) {
			if (!slept)		/* every buffer is held */
				tsleep(&bio_lru, 0, "bufall", 1);
			continue;
		}
		/* Held and hashed before the token can drop: another
		 * thread asking for this block now waits for us. */
		bp->b_dev = dev;
		bp->b_blkno = blkno;
		TAILQ_INSERT_HEAD(&bio_hash[bucket(dev, blkno)], bp, b_hash);
		stats.misses++;
		*fresh = true;
		*bpp = bp;
		return 0;
	}
}

/*
 * Contract in fs/bio.h: block blkno, held, read from the device on a
 * miss.  Thread context, any CPU; blocks.  Takes bio_token, and holds no
 * token of the caller's against a sleep (tokens are released then).
 */
int bread(struct blkdev *dev, uint64_t blkno, struct buf **bpp)
{
	struct buf *bp;
	bool fresh;
	int error;

	KASSERT(mycpu->gd_intr_nesting_level == 0 && dev != NULL, "bread "
		"blocks: call it from a thread, with a device");
	check_memory();
	lwkt_gettoken(&bio_token);
	error = getblk(dev, blkno, &bp, &fresh);
	if (error == 0 && fresh) {
		error = buf_io(bp, BLK_READ);	/* others wait: it is held */
		/* A failed read caches nothing: the buffer goes back to
		 * the free list, and a waiter tries the device itself. */
		if (error) {
			bp->b_flags &= ~B_HELD;
			stats.held--;
			TAILQ_INSERT_TAIL(&bio_lru, bp, b_lru);
			forget(bp);
			wakeup(bp);
		} else {
			bp->b_flags |= B_VALID;
		}
	}
	lwkt_reltoken(&bio_token);
	*bpp = error ? NULL : bp;
	return error;
}

/*
 * Contract in fs/bio.h: like bread, without the read.  The caller is
 * about to overwrite the whole block, so a miss gets zeroes instead of
 * the device's contents.  Thread context; may block (for a holder, or
 * to write back an LRU buffer).
 */
int bget(struct blkdev *dev, uint64_t blkno, struct buf **bpp)
{
	struct buf *bp;
	bool fresh;
	int error;

	KASSERT(mycpu->gd_intr_nesting_level == 0 && dev != NULL, "bget "
		"may block: call it from a thread, with a device");
	check_memory();
	lwkt_gettoken(&bio_token);
	error = getblk(dev, blkno, &bp, &fresh);
	if (error == 0 && fresh) {
		memset(bp->b_data, 0, BIO_BLOCK_SIZE);
		bp->b_flags |= B_VALID;
	}
	lwkt_reltoken(&bio_token);
	*bpp = error ? NULL : bp;
	return error;
}

/* ---- giving buffers back ------------------------------------------------------ */

/*
 * Contract in fs/bio.h: the holder gives bp back unchanged (as far as
 * this call knows): held -> cached, at the LRU's most recent end; wake
 * whoever waits for it, and whoever waits for any buffer.  Thread
 * context; takes bio_token; does not sleep.
 */
void brelse(struct buf *bp)
{
	lwkt_gettoken(&bio_token);
	KASSERT(bp->b_flags & B_HELD, "brelse of a buffer nobody holds "
		"(block %lu): released twice?", bp->b_blkno);
	bp->b_flags &= ~B_HELD;
	stats.held--;
	TAILQ_INSERT_TAIL(&bio_lru, bp, b_lru);
	if (bp->b_flags & B_WANTED) {
		bp->b_flags &= ~B_WANTED;
		wakeup(bp);
	}
	wakeup(&bio_lru);
	lwkt_reltoken(&bio_token);
}

/*
 * Contract in fs/bio.h: the holder changed b_data; mark it dirty and
 * give it back.  The write happens later (LRU eviction or bflush).
 * Thread context; does not sleep.
 */
void bdwrite(struct buf *bp)
{
	lwkt_gettoken(&bio_token);
	KASSERT(bp->b_flags & B_HELD, "bdwrite of a buffer nobody holds "
		"(block %lu): only the holder may change it", bp->b_blkno);
	if (!(bp->b_flags & B_DIRTY))
		stats.dirty++;
	bp->b_flags |= B_DIRTY;
	lwkt_reltoken(&bio_token);
	brelse(bp);
}

/*
 * Contract in fs/bio.h: write the held buffer now, then give it back.
 * The write happens without bio_token (the buffer is ours while held).
 * On EIO the buffer is kept dirty: its contents are newer than the disk
 * and must not be lost.  Thread context; blocks.
 */
int bwrite(struct buf *bp)
{
	int error;

	/* B_HELD is cleared only by its holder: reading it untokened is
	 * safe for the holder itself. */
	KASSERT(bp->b_flags & B_HELD, "bwrite of a buffer nobody holds "
		"(block %lu): only the holder may write it", bp->b_blkno);
	error = buf_io(bp, BLK_WRITE);

	lwkt_gettoken(&bio_token);
	if (error == 0 && (bp->b_flags & B_DIRTY)) {
		bp->b_flags &= ~B_DIRTY;
		stats.dirty--;
	} else if (error && !(bp->b_flags & B_DIRTY)) {
		bp->b_flags |= B_DIRTY;	/* keep the data for a retry */
		stats.dirty++;
	}
	lwkt_reltoken(&bio_token);
	brelse(bp);
	return error;
}

/* ---- flushing ------------------------------------------------------------------ */

/* Hold up to BIO_BATCH dirty unheld buffers of dev, oldest first;
 * returns how many.  bio_token.  Only the LRU is walked, so a buffer
 * that some thread holds right now is not collected, dirty or not. */
static int collect_dirty(struct blkdev *dev, struct buf **batch)
{
	struct buf *bp, *next;
	int n = 0;

	for (bp = TAILQ_FIRST(&bio_lru); bp && n < BIO_BATCH; bp = next) {
		next = TAILQ_NEXT(bp, b_lru);
		if (bp->b_dev == dev && (bp->b_flags & B_DIRTY)) {
			hold(bp);
			batch[n++] = bp;
		}
	}
	return n;
}

/*
 * Write n held buffers with all n requests in flight at once: send every
 * message, then collect n replies on our own port (the order does not
 * matter: each reply carries its own error).  The messages are
 * allocated, not on the stack, since BIO_BATCH of them are large.  Each
 * buffer is released clean, or dirty if its write failed.  Returns 0 or
 * the first error.  Thread context; blocks; no token held on entry.
 */
static int write_batch(struct buf **batch, int n)
{
	struct blk_msg *msgs = kmalloc(sizeof(*msgs) * n, M_BIO, M_WAITOK);
	struct lwkt_port rport;
	int first = 0;

	lwkt_initport_thread(&rport, curthread);
	for (int i = 0; i < n; i++) {
		msgs[i] = (struct blk_msg){ .br_cmd = BLK_WRITE,
			.br_sector = batch[i]->b_blkno * SECTORS_PER_BLOCK,
			.br_data = batch[i]->b_data, .br_len = BIO_BLOCK_SIZE };
		lwkt_initmsg(&msgs[i].br_msg, &rport, 0);
		lwkt_sendmsg(batch[i]->b_dev->port, &msgs[i].br_msg);
	}
	for (int i = 0; i < n; i++)
		lwkt_waitport(&rport, 0, 0, NULL);
	for (int i = 0; i < n; i++) {
		int error = msgs[i].br_msg.ms_error;

		if (error && !first)
			first = error;
		lwkt_gettoken(&bio_token);
		if (!error) {
			batch[i]->b_flags &= ~B_DIRTY;
			stats.dirty--;
			stats.writebacks++;
		}
		lwkt_reltoken(&bio_token);
		brelse(batch[i]);
	}
	lwkt_destroyport(&rport);
	kfree(msgs, M_BIO);
	return first;
}

/*
 * Contract in fs/bio.h: write back every dirty buffer of dev, batch by
 * batch, then FLUSH.  A write error stops the loop and skips the FLUSH:
 * a 0 from bflush must mean everything is durable.  Thread context;
 * blocks.  Buffers dirtied while it runs may or may not be included, and
 * a dirty buffer held by another thread while collect_dirty looks is
 * skipped.  HMR, the caller that relies on the 0, reaches its buffers
 * only under its mount lock and calls this under the same lock, so for
 * it no such buffer exists.
 */
int bflush(struct blkdev *dev)
{
	struct buf *batch[BIO_BATCH];
	int n, error = 0, e;

	KASSERT(mycpu->gd_intr_nesting_level == 0, "bflush blocks: call it "
		"from a thread");
	for (;;) {
		lwkt_gettoken(&bio_token);
		n = collect_dirty(dev, batch);
		lwkt_reltoken(&bio_token);
		if (n == 0)
			break;
		if ((e = write_batch(batch, n)) != 0) {
			error = e;
			break;		/* the failed ones stay dirty */
		}
	}
	if (error == 0)
		error = blkdev_rw(dev, BLK_FLUSH, 0, NULL, 0);
	return error;
}

/*
 * Contract in fs/bio.h: flush, then forget every clean unheld buffer of
 * dev.  A buffer still dirty (its write failed) or held is kept: dropping
 * it would lose data.  Thread context; blocks.
 */
int binval(struct blkdev *dev)
{
	struct buf *bp, *next;
	int error = bflush(dev);

	lwkt_gettoken(&bio_token);
	for (bp = TAILQ_FIRST(&bio_lru); bp; bp = next) {
		next = TAILQ_NEXT(bp, b_lru);
		if (bp->b_dev == dev && !(bp->b_flags & B_DIRTY))
			forget(bp);
	}
	lwkt_reltoken(&bio_token);
	return error;
}

/* ---- memory ------------------------------------------------------------------ */

/*
 * Contract in fs/bio.h: two passes under bio_token.  First up to n clean
 * cached buffers, least recently used first, become free (they keep
 * their pages); then up to n free buffers' pages go back to the page
 * allocator.  Dirty buffers are never touched: only a write may make
 * their pages free.  Thread context; takes bio_token; does not sleep
 * itself.
 */
int bio_shrink(int n)
{
	struct buf *bp, *next;
	int freed = 0, forgotten = 0;

	lwkt_gettoken(&bio_token);
	/* The least recently used clean buffers lose their blocks first. */
	for (bp = TAILQ_FIRST(&bio_lru); bp && forgotten < n; bp = next) {
		next = TAILQ_NEXT(bp, b_lru);
		if (bp->b_flags & B_DIRTY)
			continue;
		forget(bp);
		forgotten++;
	}
	TAILQ_FOREACH(bp, &bio_free, b_lru) {
		if (freed == n)
			break;
		if (bp->b_data == NULL)
			continue;
		vm_page_free(PHYS_TO_VM_PAGE(DMAP_TO_PHYS(bp->b_data)));
		bp->b_data = NULL;
		stats.bufs--;
		stats.shrinks++;
		freed++;
	}
	lwkt_reltoken(&bio_token);
	return freed;
}

/* A consistent snapshot of the counters.  Thread context; bio_token. */
void bio_get_stats(struct bio_stats *st)
{
	lwkt_gettoken(&bio_token);
	*st = stats;
	lwkt_reltoken(&bio_token);
}

/*
 * Contract in fs/bio.h: the array of max_bufs buffers, each with a page
 * if the allocator has one, all free.  Boot thread, once, before any
 * filesystem mounts.  May sleep (kmalloc).
 */
void bio_init(uint64_t max_bufs)
{
	KASSERT(bufs == NULL, "bio_init runs once");
	lwkt_token_init(&bio_token, "bio");
	for (int i = 0; i < BIO_HASH; i++)
		TAILQ_INIT(&bio_hash[i]);
	nbufs_max = max_bufs;
	stats.max_bufs = max_bufs;
	bufs = kmalloc(sizeof(*bufs) * max_bufs, M_BIO, M_WAITOK | M_ZERO);
	for (uint64_t i = 0; i < max_bufs; i++) {
		give_page(&bufs[i]);	/* every page now: a fixed budget */
		TAILQ_INSERT_TAIL(&bio_free, &bufs[i], b_lru);
	}
}
