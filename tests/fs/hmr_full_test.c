/*
 * hmr_full_test.c - a full HMR disk can always delete, through the VFS
 * (suite hmr_full, on the `hmr` group's third disk, vblk2, a small empty
 * HMR image).
 *
 * Copy on write makes freeing cost space: a delete copies the leaves it
 * changes before anything comes free.  HMR keeps a reserve that only
 * deletes, truncates and prune may use, and splits a big delete across
 * commits (fs/hmr/hmr_space.c).  Each test fills the disk through the
 * VFS until ENOSPC - with one big file, with many small ones, with a
 * snapshot pinning history - then deletes, and checks that every delete
 * succeeds, that the space comes back, and that the kernel's own fsck
 * (the core's hmr_fsck on the unmounted disk) finds nothing wrong.
 */
#include <kern/errno.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <drivers/blkdev.h>
#include <fs/bio.h>
#include <fs/hmr_kern.h>
#include <fs/vfs.h>
#include "vfs_cases.h"

#define FULLMNT "/fulldisk"
#define CHUNK (64 * 1024)

static struct blkdev *full_disk(void)
{
	struct blkdev *bd = blkdev_find("vblk2");

	if (bd == NULL)
		KT_SKIP("no third disk (vblk2) attached to this boot");
	return bd;
}

static void full_mount(void)
{
	struct vattr va;

	if (vfs_stat(FULLMNT, &va) == ENOENT)
		KT_ASSERT_EQ(vfs_mkdir(FULLMNT, 0755), 0);
	KT_ASSERT_EQ(vfs_mount("hmr", "vblk2", FULLMNT, 0), 0);
}

/* The HMR core behind FULLMNT (for prune and snapshots). */
static struct hmr_mount *full_core(void)
{
	struct hmr_mount *hm;
	struct vnode *vp;

	KT_ASSERT_EQ(vfs_namei(FULLMNT, true, &vp), 0);
	hm = hmr_vfs_core(vp->v_mount);
	vrele(vp);
	KT_ASSERT_TRUE(hm != NULL);
	return hm;
}

static uint64_t free_blocks(void)
{
	struct vstatfs st;

	KT_ASSERT_EQ(vfs_statfs(FULLMNT, &st), 0);
	return st.free_blocks;
}

/* Each fsck finding, on the serial line. */
static void fsck_report(void *arg, const char *msg)
{
	kprintf("# fsck: %s\n", msg);
}

/* Unmount, forget the cached blocks, run fsck on the disk and mount
 * again: what the disk holds is clean. */
static void fsck_clean(struct blkdev *bd)
{
	struct hmr_fsck_result res;
	struct hmr_bdev dev;

	KT_ASSERT_EQ(vfs_unmount(FULLMNT), 0);
	binval(bd);
	hmr_kbdev_init(&dev, bd);
	KT_EXPECT_EQ(hmr_fsck(&dev, 0, fsck_report, NULL, &res), 0);
	KT_EXPECT_EQ(res.fatal, 0);
	full_mount();
}

/* Write `path` in CHUNK pieces, then 4 KiB ones, until ENOSPC; fsync;
 * returns its size.  A write HMR refuses writes nothing. */
static uint64_t fill_file(const char *path)
{
	static uint8_t buf[CHUNK];
	size_t piece = CHUNK, done;
	uint64_t size = 0;
	struct file *fp;
	int error;

	memset(buf, 0x5a, sizeof(buf));
	KT_ASSERT_EQ(vfs_open(path, O_WRONLY | O_CREAT, 0644, &fp), 0);
	for (;;) {
		error = vfs_pwrite(fp, buf, piece, size, &done);
		if (error == 0) {
			size += piece;
			continue;
		}
		KT_EXPECT_EQ(error, ENOSPC);
		if (error != ENOSPC || piece == 4096)
			break;
		piece = 4096;
	}
	KT_EXPECT_EQ(vfs_fsync(fp), 0);
	vfs_close(fp);
	return size;
}

/* Prune, sync: every block but mkfs's (and the root directory's latest
 * version) is free again. */
static void prune_gives_all_back(uint64_t fresh)
{
	uint64_t freed;

	KT_ASSERT_EQ(hmr_prune(full_core(), &freed), 0);
	KT_ASSERT_EQ(vfs_sync_all(), 0);
	KT_EXPECT_GE(free_blocks() + 2, fresh);
}

KTEST(hmr_full, one_big_file_unlinked_and_truncated_on_a_full_disk)
{
	struct blkdev *bd = full_disk();
	uint64_t fresh, size;

	full_mount();
	fresh = free_blocks();
	size = fill_file(FULLMNT "/big");
	kprintf("# full disk: a file of %lu blocks, %lu blocks free of %lu\n",
		size / 4096, free_blocks(), fresh);
	KT_EXPECT_GT(size, 0);
	KT_EXPECT_LT(free_blocks(), fresh / 4);
	/* a truncate to a few bytes, then the unlink */
	KT_EXPECT_EQ(vfs_truncate(FULLMNT "/big", 5000), 0);
	KT_ASSERT_EQ(vfs_sync_all(), 0);
	fsck_clean(bd);
	prune_gives_all_back(fresh - 2);
	size = fill_file(FULLMNT "/big");
	KT_EXPECT_EQ(vfs_unlink(FULLMNT "/big"), 0);
	KT_ASSERT_EQ(vfs_sync_all(), 0);
	fsck_clean(bd);
	prune_gives_all_back(fresh);
	/* the space is usable again: the same file fits once more */
	KT_EXPECT_GE(fill_file(FULLMNT "/again"), size);
	KT_EXPECT_EQ(vfs_unlink(FULLMNT "/again"), 0);
	prune_gives_all_back(fresh);
	fsck_clean(bd);
	KT_EXPECT_EQ(vfs_unmount(FULLMNT), 0);
}

/* Files of 4 KiB in FULLMNT/d until ENOSPC; returns how many. */
static int fill_small(void)
{
	static uint8_t buf[4096];
	char path[48];
	int n, error;

	memset(buf, 0x3c, sizeof(buf));
	for (n = 0;; n++) {
		ksnprintf(path, sizeof(path), FULLMNT "/d/f%d", n);
		error = vt_put(path, buf, sizeof(buf));
		if (error != 0) {
			KT_EXPECT_EQ(error, ENOSPC);
			return n;
		}
	}
}

KTEST(hmr_full, many_small_files_and_a_directory_go_from_a_full_disk)
{
	struct blkdev *bd = full_disk();
	uint64_t fresh;
	char path[48];
	int n;

	full_mount();
	fresh = free_blocks();
	KT_ASSERT_EQ(vfs_mkdir(FULLMNT "/empty", 0755), 0);
	KT_ASSERT_EQ(vfs_mkdir(FULLMNT "/d", 0755), 0);
	n = fill_small();
	KT_ASSERT_EQ(vfs_sync_all(), 0);
	kprintf("# full disk: %d files, %lu blocks free of %lu\n", n,
		free_blocks(), fresh);
	KT_EXPECT_GT(n, 0);
	KT_EXPECT_LT(free_blocks(), fresh / 4);
	KT_EXPECT_EQ(vfs_rmdir(FULLMNT "/empty"), 0);
	for (int i = 0; i < n; i++) {
		ksnprintf(path, sizeof(path), FULLMNT "/d/f%d", i);
		KT_EXPECT_EQ(vfs_unlink(path), 0);
	}
	KT_EXPECT_EQ(vfs_rmdir(FULLMNT "/d"), 0);
	KT_ASSERT_EQ(vfs_sync_all(), 0);
	fsck_clean(bd);
	prune_gives_all_back(fresh);
	fsck_clean(bd);
	KT_EXPECT_EQ(vfs_unmount(FULLMNT), 0);
}

KTEST(hmr_full, a_snapshot_keeps_what_a_full_disk_deletes)
{
	struct blkdev *bd = full_disk();
	static uint8_t buf[CHUNK];
	uint64_t fresh, snap;
	char path[64];
	size_t len;

	full_mount();
	fresh = free_blocks();
	memset(buf, 0x77, sizeof(buf));
	KT_ASSERT_EQ(vt_put(FULLMNT "/kept", buf, sizeof(buf)), 0);
	KT_ASSERT_EQ(hmr_snapshot_create(full_core(), "full", &snap), 0);
	fill_file(FULLMNT "/big");
	KT_EXPECT_LT(free_blocks(), fresh / 4);
	/* the snapshot pins kept: deleting it frees nothing, yet succeeds */
	KT_EXPECT_EQ(vfs_unlink(FULLMNT "/kept"), 0);
	KT_EXPECT_EQ(vfs_unlink(FULLMNT "/big"), 0);
	KT_ASSERT_EQ(vfs_sync_all(), 0);
	KT_ASSERT_EQ(hmr_prune(full_core(), NULL), 0);
	ksnprintf(path, sizeof(path), FULLMNT "/kept@@0x%lx", snap);
	memset(buf, 0, sizeof(buf));
	KT_EXPECT_EQ(vt_get(path, buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(len, sizeof(buf));
	KT_EXPECT_EQ(buf[CHUNK - 1], 0x77);
	fsck_clean(bd);
	KT_ASSERT_EQ(hmr_snapshot_delete(full_core(), snap), 0);
	prune_gives_all_back(fresh);
	fsck_clean(bd);
	KT_EXPECT_EQ(vfs_unmount(FULLMNT), 0);
}
