/*
 * bio_test.c - the buffer cache on the `vblk` group's blank scratch disk:
 * contents, the ownership rule, write-back and flush, the bound, and
 * giving memory back.  What reached the device is read back around the
 * cache with blkdev_rw.
 */
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <drivers/blkdev.h>
#include <fs/bio.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>

#define BASE_BLOCK	20000	/* away from the vblk suite's sectors */
#define SPB		(BIO_BLOCK_SIZE / BLK_SECTOR_SIZE)

static struct blkdev *scratch(void)
{
	struct blkdev *bd = blkdev_find(NULL);

	if (bd == NULL)
		KT_SKIP("no virtio-blk disk attached to this boot");
	return bd;
}

/* What the device itself holds at block blkno (not the cache). */
static uint8_t device_byte(struct blkdev *bd, uint64_t blkno, int at)
{
	static uint8_t raw[BIO_BLOCK_SIZE];

	if (blkdev_rw(bd, BLK_READ, blkno * SPB, raw, sizeof(raw)) != 0)
		return 0xee;
	return raw[at];
}

KTEST(bio, a_dirty_block_reaches_the_device_at_bflush_not_before)
{
	struct blkdev *bd = scratch();
	uint64_t flushes = bd->stats.flushes;
	struct buf *bp;

	KT_ASSERT_EQ(bget(bd, BASE_BLOCK, &bp), 0);
	memset(bp->b_data, 0x3c, BIO_BLOCK_SIZE);
	bdwrite(bp);
	KT_EXPECT_EQ(device_byte(bd, BASE_BLOCK, 100), 0);	/* not yet */
	KT_ASSERT_EQ(bflush(bd), 0);
	KT_EXPECT_EQ(device_byte(bd, BASE_BLOCK, 100), 0x3c);
	KT_EXPECT_EQ(bd->stats.flushes, flushes + 1);
	/* Read back through the cache: a hit, same bytes. */
	KT_ASSERT_EQ(bread(bd, BASE_BLOCK, &bp), 0);
	KT_EXPECT_EQ(bp->b_data[4095], 0x3c);
	brelse(bp);
}

KTEST(bio, bwrite_writes_at_once)
{
	struct blkdev *bd = scratch();
	struct buf *bp;

	KT_ASSERT_EQ(bread(bd, BASE_BLOCK + 1, &bp), 0);
	bp->b_data[7] = 0x99;
	KT_EXPECT_EQ(bwrite(bp), 0);
	KT_EXPECT_EQ(device_byte(bd, BASE_BLOCK + 1, 7), 0x99);
}

KTEST(bio, reads_past_the_end_of_the_device_are_einval)
{
	struct blkdev *bd = scratch();
	struct buf *bp;

	KT_EXPECT_EQ(bread(bd, bd->nsectors / SPB, &bp), EINVAL);
	KT_EXPECT_EQ(bget(bd, ~0ULL, &bp), EINVAL);
}

/* The ownership rule: a second thread waits until the holder releases. */
struct waiter {
	struct blkdev *bd;
	volatile int stage;		/* 1 asking, 2 got it */
	uint8_t seen;
	struct thread *td;
};

static void waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct buf *bp;

	w->stage = 1;
	if (bread(w->bd, BASE_BLOCK + 2, &bp) != 0)
		return;
	w->seen = bp->b_data[0];
	w->stage = 2;
	brelse(bp);
}

KTEST(bio, a_held_buffer_waits_for_its_holder)
{
	struct blkdev *bd = scratch();
	static struct waiter w;
	struct buf *bp;

	KT_ASSERT_EQ(bread(bd, BASE_BLOCK + 2, &bp), 0);
	w = (struct waiter){ .bd = bd };
	KT_ASSERT_EQ(lwkt_create(waiter_main, &w, &w.td, 0, ncpus - 1,
				 "bio-waiter"), 0);
	while (w.stage < 1)
		tsleep(&w, 0, "wstart", 1);
	for (int i = 0; i < 5; i++)
		tsleep(&w, 0, "hold", 1);	/* let it try, and wait */
	KT_EXPECT_EQ(w.stage, 1);
	bp->b_data[0] = 0x42;
	bdwrite(bp);
	lwkt_thread_join(w.td);
	KT_EXPECT_EQ(w.stage, 2);
	KT_EXPECT_EQ(w.seen, 0x42);		/* the holder's change */
	KT_EXPECT_EQ(bflush(bd), 0);
}

KTEST(bio, the_cache_stays_within_its_bound_and_evicts_least_recent)
{
	struct blkdev *bd = scratch();
	struct bio_stats before, after;
	struct buf *bp;
	uint64_t n;

	bio_get_stats(&before);
	n = before.max_bufs + 64;
	KT_ASSERT_TRUE(BASE_BLOCK + 100 + n < bd->nsectors / SPB);
	for (uint64_t i = 0; i < n; i++) {
		KT_ASSERT_EQ(bget(bd, BASE_BLOCK + 100 + i, &bp), 0);
		*(uint64_t *)bp->b_data = i;
		bdwrite(bp);
		bio_get_stats(&after);
		KT_ASSERT_TRUE(after.bufs <= after.max_bufs);
	}
	KT_EXPECT_GT(after.evictions, before.evictions);
	KT_EXPECT_GT(after.writebacks, before.writebacks);
	/* Every block still reads back right, from the cache or the disk. */
	for (uint64_t i = 0; i < n; i += 37) {
		KT_ASSERT_EQ(bread(bd, BASE_BLOCK + 100 + i, &bp), 0);
		KT_EXPECT_EQ(*(uint64_t *)bp->b_data, i);
		brelse(bp);
	}
	KT_EXPECT_EQ(bflush(bd), 0);
	bio_get_stats(&after);
	KT_EXPECT_EQ(after.dirty, 0);
	KT_EXPECT_EQ(after.held, 0);
}

KTEST(bio, bflush_keeps_many_writes_in_flight)
{
	struct blkdev *bd = scratch();
	struct buf *bp;

	lwkt_migratecpu(bd->cpu);	/* the device's server sees them all */
	for (int i = 0; i < 64; i++) {
		KT_ASSERT_EQ(bget(bd, BASE_BLOCK + 5000 + i, &bp), 0);
		bp->b_data[0] = i;
		bdwrite(bp);
	}
	KT_EXPECT_EQ(bflush(bd), 0);
	KT_EXPECT_GE(bd->stats.max_in_flight, 32);
	lwkt_migratecpu(0);
}

KTEST(bio, shrinking_gives_pages_back_and_they_return)
{
	struct blkdev *bd = scratch();
	struct bio_stats before, after;
	struct buf *bp;

	for (int i = 0; i < 16; i++) {
		KT_ASSERT_EQ(bread(bd, BASE_BLOCK + 9000 + i, &bp), 0);
		brelse(bp);
	}
	bio_get_stats(&before);
	KT_EXPECT_EQ(bio_shrink(8), 8);
	bio_get_stats(&after);
	KT_EXPECT_EQ(after.bufs, before.bufs - 8);
	/* Later reads take pages again, up to the bound. */
	for (int i = 0; i < (int)after.max_bufs; i++) {
		KT_ASSERT_EQ(bread(bd, BASE_BLOCK + 10000 + i, &bp), 0);
		brelse(bp);
	}
	bio_get_stats(&after);
	KT_EXPECT_EQ(after.bufs, before.bufs);
}

/* Held buffers and requests at a device are leaks when a suite ends. */
static uint64_t held_buffers(void)
{
	struct bio_stats st;

	bio_get_stats(&st);
	return st.held;
}

static void count_in_flight(struct blkdev *bd, void *arg)
{
	*(uint64_t *)arg += bd->stats.in_flight;
}

static uint64_t requests_in_flight(void)
{
	uint64_t n = 0;

	blkdev_foreach(count_in_flight, &n);
	return n;
}

KTEST_LEAKCHECK(bio_held, "held buffers", held_buffers, NULL);
KTEST_LEAKCHECK(blk_inflight, "block requests in flight", requests_in_flight,
		NULL);
