/*
 * bench_fs.c - what a file costs, from the VFS down (docs/storage.md).
 *
 *   vfs_read_4k_cached       pread of 4 KiB that the caches hold: the VFS,
 *                            HMR's lookup of the data record, one copy
 *   vfs_read_4k_miss         the same with every cache cold: HMR asks the
 *                            buffer cache, which sends a blk_msg to the
 *                            virtio-blk server, and the reply comes back
 *                            from the interrupt (only the read is timed)
 *   vfs_create_write_fsync   create a file, write 4 KiB, fsync (a commit
 *                            and its two flushes), close
 *   vfs_stat_cached          stat of a name whose vnode is cached
 *
 * The miss and the fsync wait for the disk.  While the CPU waits it
 * halts in its idle loop, and under -icount,sleep=off the guest TSC jumps
 * ahead to the next timer then: so those two subtract the ticks the idle
 * loop spent halted (gd_cnt.idle_tsc) and report the instructions the
 * guest really ran -- the request path, the interrupt, the reply.
 *
 * They need the root on HMR: make bench attaches an HMR image holding
 * /bench/4k (tools/kbench); without it they skip and say so.
 */
#include <kern/globaldata.h>
#include <kern/kbench.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <drivers/blkdev.h>
#include <fs/bio.h>
#include <fs/vfs.h>
#include <machine/cpufunc.h>

#define BENCH_FILE "/bench/4k"

static uint8_t bench_buf[4096] __aligned(64);

/* TSC ticks now, minus what this CPU's idle loop spent halted. */
static uint64_t busy_ticks(void)
{
	return rdtsc() - mycpu->gd_cnt.idle_tsc;
}

/* The benchmark file, open for reading; NULL (and a skip) without it. */
static struct file *bench_open(void)
{
	struct file *fp;

	if (vfs_open(BENCH_FILE, O_RDONLY, 0, &fp) != 0) {
		kbench_skip("needs an HMR root holding " BENCH_FILE);
		return NULL;
	}
	return fp;
}

KBENCH(vfs_read_4k_cached, 2000)
{
	struct file *fp = bench_open();
	size_t got;

	if (fp == NULL)
		return;
	vfs_pread(fp, bench_buf, sizeof(bench_buf), 0, &got);	/* warm */
	for (uint64_t i = 0; i < n; i++)
		vfs_pread(fp, bench_buf, sizeof(bench_buf), 0, &got);
	vfs_close(fp);
}

KBENCH(vfs_read_4k_miss, 50)
{
	struct file *fp = bench_open();
	uint64_t ticks = 0, t0;
	size_t got;

	if (fp == NULL)
		return;
	for (uint64_t i = 0; i < n; i++) {
		vfs_drain();			/* not timed: cool every cache */
		binval(blkdev_find(NULL));
		t0 = busy_ticks();
		vfs_pread(fp, bench_buf, sizeof(bench_buf), 0, &got);
		ticks += busy_ticks() - t0;
	}
	vfs_close(fp);
	kbench_report(ticks, n);
}

KBENCH(vfs_create_write_fsync, 20)
{
	char name[32];
	struct file *fp;
	uint64_t ticks = 0, t0;
	size_t done;

	if (vfs_open(BENCH_FILE, O_RDONLY, 0, &fp) != 0) {
		kbench_skip("needs an HMR root holding " BENCH_FILE);
		return;
	}
	vfs_close(fp);
	for (uint64_t i = 0; i < n; i++) {
		ksnprintf(name, sizeof(name), "/bench/new%lu", i);
		t0 = busy_ticks();
		vfs_open(name, O_WRONLY | O_CREAT, 0644, &fp);
		vfs_write(fp, bench_buf, sizeof(bench_buf), &done);
		vfs_fsync(fp);
		vfs_close(fp);
		ticks += busy_ticks() - t0;
		vfs_unlink(name);		/* not timed */
	}
	kbench_report(ticks, n);
}

KBENCH(vfs_stat_cached, 2000)
{
	struct vattr va;

	if (vfs_stat(BENCH_FILE, &va) != 0) {
		kbench_skip("needs an HMR root holding " BENCH_FILE);
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		vfs_stat(BENCH_FILE, &va);
}
