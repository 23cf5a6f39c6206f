/*
 * hmr_powercut_test.c - a write-heavy run on HMR that the host afterwards
 * cuts the power under, at every flush and at seeded points between them.
 *
 * Suite `hmr_powercut` (group `hmrcut`).  The group's disk sits on QEMU's
 * blklogwrites driver, which appends every write and every FLUSH the disk
 * completes to a log file.  One writer thread per CPU changes the files
 * of its own directory (whole-file writes, overwrites, appends, truncates,
 * renames, unlinks) and ends each round with fsync or sync.  Each time
 * that call returns 0 the thread prints
 *
 *     # ack tid=0x<TID>
 *
 * where TID is the last durable commit statfs reports: the kernel's
 * promise that commit TID survives any power cut from then on.
 *
 * and right after it writes an ack marker (below) to the disk, past the
 * filesystem's end: the marker's place in the log is the moment of the
 * acknowledgement.
 *
 * After the boot the runner (tools/ktestlib/disks.py) hands the starting
 * image, the log and these lines to build/host/hmr-powercut
 * (tools/hmr_powercut.c).  It rebuilds the disk as a power cut would have
 * left it at each flush and at seeded points between flushes (with some
 * unflushed writes lost or torn) and runs HMR's fsck on every state: no
 * problem, and no commit older than the newest one the log shows
 * acknowledged at that point.  It also holds each marker against the log:
 * by the marker's entry, the superblock of its commit was written and a
 * FLUSH followed -- so a kernel that acknowledges too early fails.
 *
 * In the kernel the suite checks what it can see itself: every fsync and
 * sync returns 0, each acknowledged TID is newer than the thread's last
 * one, and at the end every file reads back as the thread's own model of
 * it says.
 */
#include "vfs_cases.h"
#include <kern/malloc.h>
#include <drivers/blkdev.h>
#include <fs/bio.h>

MALLOC_DEFINE(M_POWERCUT, "powercut", "the power-cut suite's file models");

/* The size of the run: about 240 FLUSHes and a thousand log entries at
 * one CPU, a few seconds under TCG, and a checker run of about a second
 * on the host.  More rounds cost boot time and check little more. */
#define PC_BASE		"/powercut"
#define PC_FILES	8		/* file slots per thread */
#define PC_MAXSIZE	(32 * 1024)	/* a file never grows past this */
#define PC_ROUNDS	120		/* rounds in all, shared by the threads */
#define PC_MAXOPS	3		/* changes per round, at most */
#define PC_BURST	8		/* every 8th round rewrites every file */

/*
 * The ack marker: one block written, straight to the device and with no
 * flush, to the first block past the filesystem's end (the hmrcut disk
 * has one spare block there; HMR never touches it).  Several threads may
 * write it; the log keeps every version in order.  tools/hmr_powercut.c
 * reads the same layout: change both or neither.
 */
#define PC_MARK_MAGIC	"HMR-POWERCUT-ACK"	/* 16 bytes, no NUL */
struct pc_mark {
	char magic[16];
	uint64_t tid;		/* the commit acknowledged */
	uint64_t not_tid;	/* ~tid: no stray block passes for a marker */
};

/* Where the markers go: the root's device, the block past HMR's end. */
static struct blkdev *pc_dev;
static uint64_t pc_mark_sector;

/* What a thread believes its files hold: the model the end compares. */
struct pc_file {
	bool exists;
	size_t size;
	uint8_t data[PC_MAXSIZE];
};

/* One writer thread: its own directory PC_BASE/t<cpu>, its own model,
 * its own generator.  Only its thread touches it until the join. */
struct pc_writer {
	int cpu, rounds;
	uint64_t rng;
	uint64_t last_ack;	/* the newest TID this thread acknowledged */
	int failures;		/* calls that failed (each is printed) */
	struct thread *td;
	struct pc_file files[PC_FILES];
	uint8_t buf[PC_MAXSIZE];	/* scratch for reads and new bytes */
	uint8_t mark[BIO_BLOCK_SIZE];	/* the marker block being written */
};

/* xorshift64: the workload's generator, one per thread. */
static uint64_t pc_rand(struct pc_writer *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

/* A number in [0, n). */
static size_t pc_below(struct pc_writer *w, size_t n)
{
	return (size_t)(pc_rand(w) % n);
}

/* The path of a thread's file slot, in buf (VFS_PATH_MAX bytes). */
static const char *pc_path(struct pc_writer *w, int slot, char *buf)
{
	ksnprintf(buf, VFS_PATH_MAX, PC_BASE "/t%d/f%d", w->cpu, slot);
	return buf;
}

/* Count and print a failed call (slot < 0: not about one file); the
 * test fails at the end, after the join.  A writer thread cannot use
 * KT_EXPECT: the harness's failure state belongs to the test's thread. */
static void pc_check(struct pc_writer *w, int error, const char *what,
		     int slot)
{
	if (error == 0)
		return;
	w->failures++;
	if (slot < 0)
		kprintf("# powercut: cpu %d: %s failed with %d\n", w->cpu,
			what, error);
	else
		kprintf("# powercut: cpu %d: %s of f%d failed with %d\n",
			w->cpu, what, slot, error);
}

/* New bytes: random, so no two blocks of the log look alike. */
static void pc_fill(struct pc_writer *w, uint8_t *dst, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = (uint8_t)(pc_rand(w) >> 24);
}

/* ---- the changes: each does it on disk and in the model ---------------- */

/* Write the whole file with new bytes (creating it if needed). */
static void pc_put(struct pc_writer *w, int slot)
{
	struct pc_file *f = &w->files[slot];
	char path[VFS_PATH_MAX];

	f->size = pc_below(w, PC_MAXSIZE + 1);
	pc_fill(w, f->data, f->size);
	f->exists = true;
	pc_check(w, vt_put(pc_path(w, slot, path), f->data, f->size), "put",
		 slot);
}

/* Overwrite a range, possibly past the end (a gap reads as zeros). */
static void pc_overwrite(struct pc_writer *w, int slot)
{
	struct pc_file *f = &w->files[slot];
	char path[VFS_PATH_MAX];
	size_t off = pc_below(w, PC_MAXSIZE), len, done;
	struct file *fp;
	int error;

	len = 1 + pc_below(w, PC_MAXSIZE - off);
	pc_fill(w, w->buf, len);
	error = vfs_open(pc_path(w, slot, path), O_WRONLY, 0, &fp);
	if (error == 0) {
		error = vfs_pwrite(fp, w->buf, len, off, &done);
		vfs_close(fp);
	}
	pc_check(w, error, "overwrite", slot);
	/* The model follows POSIX: the bytes between the old end and off
	 * read as zeros. */
	if (off > f->size)
		memset(f->data + f->size, 0, off - f->size);
	memcpy(f->data + off, w->buf, len);
	if (off + len > f->size)
		f->size = off + len;
}

/* Cut or extend the file (an extension reads as zeros). */
static void pc_truncate(struct pc_writer *w, int slot)
{
	struct pc_file *f = &w->files[slot];
	char path[VFS_PATH_MAX];
	size_t size = pc_below(w, PC_MAXSIZE + 1);

	pc_check(w, vfs_truncate(pc_path(w, slot, path), size), "truncate",
		 slot);
	if (size > f->size)
		memset(f->data + f->size, 0, size - f->size);
	f->size = size;
}

/* Rename slot to another slot, replacing what was there. */
static void pc_rename(struct pc_writer *w, int slot)
{
	int to = (slot + 1 + (int)pc_below(w, PC_FILES - 1)) % PC_FILES;
	char from_path[VFS_PATH_MAX], to_path[VFS_PATH_MAX];

	pc_check(w, vfs_rename(pc_path(w, slot, from_path),
			       pc_path(w, to, to_path)), "rename", slot);
	/* The model moves with the name; the replaced file is gone. */
	w->files[to] = w->files[slot];
	w->files[slot].exists = false;
}

/* Remove the file (never while it is open: no orphans for fsck). */
static void pc_unlink(struct pc_writer *w, int slot)
{
	char path[VFS_PATH_MAX];

	pc_check(w, vfs_unlink(pc_path(w, slot, path)), "unlink", slot);
	w->files[slot].exists = false;
}

/* One random change to a random slot; a missing file is created. */
static void pc_change(struct pc_writer *w)
{
	int slot = (int)pc_below(w, PC_FILES);

	if (!w->files[slot].exists) {
		pc_put(w, slot);
		return;
	}
	switch (pc_below(w, 6)) {
	case 0: pc_put(w, slot); break;
	case 1: pc_overwrite(w, slot); break;
	case 2: pc_overwrite(w, slot); break;	/* the common case twice */
	case 3: pc_truncate(w, slot); break;
	case 4: pc_rename(w, slot); break;
	default: pc_unlink(w, slot); break;
	}
}

/* Rewrite every file: a commit of more blocks than the buffer cache
 * keeps in flight at once, so writes complete out of order. */
static void pc_burst(struct pc_writer *w)
{
	for (int slot = 0; slot < PC_FILES; slot++)
		pc_put(w, slot);
}

/* ---- durability ---------------------------------------------------------- */

/* fsync a random file of the thread's, or sync everything (one round in
 * four, and when that slot holds no file); 0 or the error. */
static int pc_make_durable(struct pc_writer *w)
{
	char path[VFS_PATH_MAX];
	struct file *fp;
	int slot = (int)pc_below(w, PC_FILES), error;

	if (!w->files[slot].exists || pc_below(w, 4) == 0)
		return vfs_sync_all();
	error = vfs_open(pc_path(w, slot, path), O_RDONLY, 0, &fp);
	if (error)
		return error;
	error = vfs_fsync(fp);
	vfs_close(fp);
	return error;
}

/* Write the ack marker of tid: the log's record of this moment. */
static void pc_mark(struct pc_writer *w, uint64_t tid)
{
	struct pc_mark mark = { .tid = tid, .not_tid = ~tid };

	memcpy(mark.magic, PC_MARK_MAGIC, sizeof(mark.magic));
	memset(w->mark, 0, sizeof(w->mark));
	memcpy(w->mark, &mark, sizeof(mark));
	pc_check(w, blkdev_rw(pc_dev, BLK_WRITE, pc_mark_sector, w->mark,
			      sizeof(w->mark)), "ack marker write", -1);
}

/* Make the round durable and say so: the line and the marker the host
 * holds us to. */
static void pc_acknowledge(struct pc_writer *w)
{
	struct vstatfs st;
	int error = pc_make_durable(w);

	pc_check(w, error, "fsync or sync after the changes", -1);
	if (error != 0)
		return;
	error = vfs_statfs("/", &st);
	pc_check(w, error, "statfs", -1);
	if (error != 0)
		return;
	if (st.commit_tid <= w->last_ack) {
		w->failures++;
		kprintf("# powercut: cpu %d: a sync after changes left the "
			"commit at 0x%lx, acknowledged before\n", w->cpu,
			st.commit_tid);
		return;
	}
	w->last_ack = st.commit_tid;
	kprintf("# ack tid=0x%lx\n", st.commit_tid);
	pc_mark(w, st.commit_tid);
}

/* Every file reads back as the model says, and no other file exists. */
static void pc_verify(struct pc_writer *w)
{
	char path[VFS_PATH_MAX];
	size_t len;

	for (int slot = 0; slot < PC_FILES; slot++) {
		struct pc_file *f = &w->files[slot];
		int error = vt_get(pc_path(w, slot, path), w->buf,
				   sizeof(w->buf), &len);

		if (!f->exists) {
			if (error != ENOENT)
				pc_check(w, EEXIST, "looking up a removed "
					 "file", slot);
			continue;
		}
		pc_check(w, error, "read back", slot);
		if (error == 0 && (len != f->size ||
				   memcmp(w->buf, f->data, len) != 0))
			pc_check(w, EIO, "compare with the model", slot);
	}
}

/* A writer thread: rounds of changes, each made durable and
 * acknowledged; then the model comparison. */
static void pc_writer_main(void *arg)
{
	struct pc_writer *w = arg;
	char path[VFS_PATH_MAX];

	ksnprintf(path, sizeof(path), PC_BASE "/t%d", w->cpu);
	pc_check(w, vfs_mkdir(path, 0755), "mkdir", -1);
	for (int r = 0; r < w->rounds && w->failures == 0; r++) {
		if (r % PC_BURST == PC_BURST - 1)
			pc_burst(w);
		else
			for (size_t n = 1 + pc_below(w, PC_MAXOPS); n > 0; n--)
				pc_change(w);
		pc_acknowledge(w);
	}
	pc_verify(w);
}

/* vfs_foreach_mount callback: the device of the mount at "/". */
static void pc_find_root(struct mount *mp, void *arg)
{
	if (strcmp(mp->mnt_path, "/") == 0)
		*(struct blkdev **)arg = blkdev_find(mp->mnt_source);
}

/* The root's device and the first sector past its HMR filesystem; false
 * if the root is not HMR on a device with a spare block after it. */
static bool pc_find_mark_block(const char **why)
{
	struct vstatfs st;

	pc_dev = NULL;
	*why = "the root is not HMR: no HMR disk attached to this boot";
	if (vfs_statfs("/", &st) != 0 || strcmp(st.fstype, "hmr") != 0)
		return false;
	vfs_foreach_mount(pc_find_root, &pc_dev);
	pc_mark_sector = st.blocks * (BIO_BLOCK_SIZE / BLK_SECTOR_SIZE);
	*why = "no block past the filesystem's end for the ack markers "
	       "(the hmrcut group's @hmrlog@ disk has one)";
	return pc_dev != NULL && pc_dev->nsectors >= pc_mark_sector +
	       BIO_BLOCK_SIZE / BLK_SECTOR_SIZE;
}

/*
 * The test: a writer per CPU (each on its own CPU, so at 2 CPUs commits
 * from both interleave on the disk), join, and fail for any call that
 * failed or any thread that acknowledged nothing.  The verdict on
 * durability comes after the boot, from the host; the serial lines and
 * the markers are this test's evidence for it.
 */
KTEST(hmr_powercut, every_acknowledged_commit_is_durable_on_the_log)
{
	struct pc_writer *w[MAXCPU];
	uint64_t seed = ktest_seed();
	const char *why;

	if (!pc_find_mark_block(&why))
		KT_SKIP(why);
	KT_ASSERT_EQ(vfs_mkdir(PC_BASE, 0755), 0);
	for (int c = 0; c < ncpus; c++) {
		w[c] = kmalloc(sizeof(*w[c]), M_POWERCUT, M_WAITOK | M_ZERO);
		w[c]->cpu = c;
		w[c]->rounds = PC_ROUNDS / ncpus;
		w[c]->rng = (seed ^ (0x9e3779b97f4a7c15ull * (c + 1))) | 1;
		KT_EXPECT_EQ(lwkt_create(pc_writer_main, w[c], &w[c]->td, 0, c,
					 "powercut %d", c), 0);
	}
	for (int c = 0; c < ncpus; c++) {
		if (w[c]->td == NULL)
			continue;	/* not created: already a failure */
		lwkt_thread_join(w[c]->td);
		KT_EXPECT_EQ(w[c]->failures, 0);
		KT_EXPECT_NE(w[c]->last_ack, 0);
	}
	for (int c = 0; c < ncpus; c++)
		kfree(w[c], M_POWERCUT);
	kprintf("# powercut: %d rounds on %d CPUs, seed 0x%lx\n", PC_ROUNDS,
		ncpus, seed);
}
