/*
 * vblk_test.c - the virtio block driver through its message interface.
 *
 * The `vblk` group (tests/ktest-groups) boots with one blank scratch disk
 * the runner creates; without a disk the tests skip and say so.  Data is
 * checked byte for byte against a seeded pattern; the driver's counters
 * show what reached the device.
 */
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/msgport.h>
#include <kern/thread.h>
#include <drivers/blkdev.h>
#include <kern/kprintf.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>

#define SCRATCH_BYTES	(64 * 1024)
#define SECTORS_PER_4K	(4096 / BLK_SECTOR_SIZE)

static struct blkdev *scratch_disk(void)
{
	struct blkdev *bd = blkdev_find(NULL);

	if (bd == NULL)
		KT_SKIP("no virtio-blk disk attached to this boot");
	return bd;
}

/* A pattern that differs per byte, per offset and per seed. */
static void fill_pattern(uint8_t *p, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + (i >> 9) * 7 + seed * 29) ^ (seed >> 3));
}

KTEST(vblk, write_then_read_back_byte_for_byte)
{
	struct blkdev *bd = scratch_disk();
	uint8_t *out = kmem_alloc(SCRATCH_BYTES, 0);
	uint8_t *in = kmem_alloc(SCRATCH_BYTES, VM_ALLOC_ZERO);
	uint64_t seed = ktest_seed();

	/* kmem pages are mapped one by one: the driver must split the
	 * buffer where its pages are not physically adjacent. */
	fill_pattern(out, SCRATCH_BYTES, seed);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_WRITE, 2048, out, SCRATCH_BYTES), 0);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, 2048, in, SCRATCH_BYTES), 0);
	KT_EXPECT_EQ(memcmp(in, out, SCRATCH_BYTES), 0);
	/* An unwritten region of the blank disk reads as zeros. */
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, 8192, in, 4096), 0);
	for (int i = 0; i < 4096; i++)
		if (in[i] != 0) {
			KT_EXPECT_EQ(in[i], 0);
			break;
		}
	kmem_free(in, SCRATCH_BYTES);
	kmem_free(out, SCRATCH_BYTES);
}

KTEST(vblk, a_write_lands_where_it_was_sent_and_nowhere_else)
{
	struct blkdev *bd = scratch_disk();
	uint8_t *a = kmem_alloc(3 * 4096, VM_ALLOC_ZERO), *b;

	b = a + 4096;
	KT_ASSERT_EQ(blkdev_rw(bd, BLK_WRITE, 4096, a, 3 * 4096), 0);
	memset(b, 0x5a, BLK_SECTOR_SIZE);
	KT_ASSERT_EQ(blkdev_rw(bd, BLK_WRITE, 4096 + 9, b, BLK_SECTOR_SIZE),
		     0);
	memset(a, 0xee, 3 * 4096);
	KT_ASSERT_EQ(blkdev_rw(bd, BLK_READ, 4096, a, 3 * 4096), 0);
	for (int i = 0; i < 3 * 4096; i++) {
		int want = i / BLK_SECTOR_SIZE == 9 ? 0x5a : 0;

		if (a[i] != want) {
			KT_EXPECT_EQ(a[i], want);
			kprintf("# first difference at byte %d\n", i);
			break;
		}
	}
	kmem_free(a, 3 * 4096);
}

KTEST(vblk, bad_requests_are_refused_before_the_device_sees_them)
{
	struct blkdev *bd = scratch_disk();
	uint8_t *buf = kmem_alloc(4096, VM_ALLOC_ZERO);
	struct blkdev_stats before = bd->stats;

	KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, bd->nsectors, buf, 512), EINVAL);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, bd->nsectors - 1, buf, 1024),
		     EINVAL);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, ~0ULL, buf, 512), EINVAL);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_WRITE, 0, buf, 100), EINVAL);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_WRITE, 0, buf, 0), EINVAL);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, 0, NULL, 512), EINVAL);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_FLUSH, 0, buf, 512), EINVAL);
	KT_EXPECT_EQ(bd->stats.reads, before.reads);
	KT_EXPECT_EQ(bd->stats.writes, before.writes);
	/* The last sector itself is fine. */
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, bd->nsectors - 1, buf, 512), 0);
	kmem_free(buf, 4096);
}

KTEST(vblk, a_flush_reaches_the_device)
{
	struct blkdev *bd = scratch_disk();
	uint64_t flushes = bd->stats.flushes;

	KT_ASSERT_TRUE(bd->can_flush);	/* QEMU's default write-back cache */
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_FLUSH, 0, NULL, 0), 0);
	KT_EXPECT_EQ(bd->stats.flushes, flushes + 1);
}

/*
 * 64 reads sent at once from the server's own CPU: the server takes all
 * of them before it can see a completion, so at least 32 are at the
 * device together (the queue depth).
 */
#define BURST 64

KTEST(vblk, sixty_four_requests_are_in_flight_together)
{
	struct blkdev *bd = scratch_disk();
	static struct blk_msg msgs[BURST];
	struct lwkt_port rport;
	uint8_t *buf = kmem_alloc(BURST * 4096, 0);
	int replies = 0, errors = 0;

	lwkt_migratecpu(bd->cpu);
	lwkt_initport_thread(&rport, curthread);
	for (int i = 0; i < BURST; i++) {
		msgs[i] = (struct blk_msg){ .br_cmd = BLK_READ,
			.br_sector = (uint64_t)i * SECTORS_PER_4K,
			.br_data = buf + i * 4096, .br_len = 4096 };
		lwkt_initmsg(&msgs[i].br_msg, &rport, 0);
		lwkt_sendmsg(bd->port, &msgs[i].br_msg);
	}
	while (replies < BURST) {
		lwkt_msg_t m = lwkt_waitport(&rport, 0, 0, NULL);

		replies++;
		errors += m->ms_error != 0;
	}
	KT_EXPECT_EQ(errors, 0);
	KT_EXPECT_GE(bd->stats.max_in_flight, 32);
	KT_EXPECT_EQ(bd->stats.in_flight, 0);
	lwkt_destroyport(&rport);
	lwkt_migratecpu(0);
	kmem_free(buf, BURST * 4096);
}

/* ---- every CPU at once ---- */

struct cpu_writer {
	struct blkdev *bd;
	int cpu, failures;
	struct thread *td;
};

static void cpu_writer_main(void *arg)
{
	struct cpu_writer *w = arg;
	uint8_t *out = kmem_alloc(16384, 0), *in = kmem_alloc(16384, 0);
	uint64_t sector = 65536 + (uint64_t)w->cpu * 1024;

	for (int round = 0; round < 8; round++) {
		fill_pattern(out, 16384, w->cpu * 100 + round);
		if (blkdev_rw(w->bd, BLK_WRITE, sector, out, 16384) != 0 ||
		    blkdev_rw(w->bd, BLK_READ, sector, in, 16384) != 0 ||
		    memcmp(in, out, 16384) != 0)
			w->failures++;
	}
	kmem_free(in, 16384);
	kmem_free(out, 16384);
}

KTEST(vblk, every_cpu_writes_and_reads_its_own_region_at_once)
{
	struct blkdev *bd = scratch_disk();
	static struct cpu_writer w[MAXCPU];

	for (int cpu = 0; cpu < ncpus; cpu++) {
		w[cpu] = (struct cpu_writer){ .bd = bd, .cpu = cpu };
		KT_ASSERT_EQ(lwkt_create(cpu_writer_main, &w[cpu], &w[cpu].td,
					 0, cpu, "vblk-writer %d", cpu), 0);
	}
	for (int cpu = 0; cpu < ncpus; cpu++) {
		lwkt_thread_join(w[cpu].td);
		KT_EXPECT_EQ(w[cpu].failures, 0);
	}
}

KTEST(vblk, completions_arrive_as_interrupt_messages)
{
	struct blkdev *bd = scratch_disk();
	uint8_t *buf = kmem_alloc(4096, 0);
	uint64_t before = bd->stats.interrupts;

	for (int i = 0; i < 4; i++)
		KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, 64 * i, buf, 4096), 0);
	KT_EXPECT_GT(bd->stats.interrupts, before);
	kmem_free(buf, 4096);
}

/*
 * The capacity the driver read from the device configuration (a u64,
 * two 32-bit reads) is the size of the image the runner made: every
 * group that runs this suite (vblk, intx, intx_pc) attaches a 256 MiB
 * blank disk first, and group vblk a 32 MiB HMR image second.
 */
KTEST(vblk, the_capacity_read_from_the_device_is_the_image_size)
{
	struct blkdev *d0 = blkdev_find("vblk0"), *d1 = blkdev_find("vblk1");

	if (d0 == NULL)
		KT_SKIP("no virtio disk attached to this boot");
	KT_EXPECT_EQ(d0->nsectors, 256u * 2048);	/* 512-byte sectors */
	if (d1 != NULL)
		KT_EXPECT_EQ(d1->nsectors, 32u * 2048);
}
