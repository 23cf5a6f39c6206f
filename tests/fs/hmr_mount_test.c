/*
 * hmr_mount_test.c - mounting and unmounting HMR (fs/hmr_vfs.c) on the
 * `hmr` group's third disk (vblk2, a small empty HMR image), as part of
 * suite hmr_kern: a mount whose flusher cannot start fails whole, and
 * an unmount never waits for the flusher's timer.
 */
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <drivers/blkdev.h>
#include <fs/hmr_kern.h>
#include <fs/vfs.h>
#include "vfs_cases.h"

#define MOUNT_PATH "/ktest-hmrmount"

/* The mount point, made if need be; skips without the third disk. */
static void need_disk(void)
{
	struct vattr va;

	if (blkdev_find("vblk2") == NULL)
		KT_SKIP("no third disk (vblk2) attached to this boot");
	if (vfs_stat(MOUNT_PATH, &va) == ENOENT)
		KT_ASSERT_EQ(vfs_mkdir(MOUNT_PATH, 0755), 0);
}

/*
 * A writable mount needs its flusher.  When the thread cannot be made,
 * the mount fails with the error and undoes itself: nothing is mounted
 * (a second mount is not EBUSY), and the disk mounts fine afterwards.
 * A read-only mount has no flusher, so it does not meet the failure.
 */
KTEST(hmr_kern, a_mount_whose_flusher_cannot_start_fails_and_undoes_itself)
{
	need_disk();
	hmr_vfs_fail_next_flusher = true;
	KT_EXPECT_EQ(vfs_mount("hmr", "vblk2", MOUNT_PATH, 0), ENOMEM);
	KT_EXPECT_FALSE(hmr_vfs_fail_next_flusher);
	KT_ASSERT_EQ(vfs_mount("hmr", "vblk2", MOUNT_PATH, 0), 0);
	/* A working writable mount: a file is written and removed. */
	KT_EXPECT_EQ(vt_put(MOUNT_PATH "/f", "x", 1), 0);
	KT_EXPECT_EQ(vfs_unlink(MOUNT_PATH "/f"), 0);
	KT_EXPECT_EQ(vfs_unmount(MOUNT_PATH), 0);
	hmr_vfs_fail_next_flusher = true;
	KT_ASSERT_EQ(vfs_mount("hmr", "vblk2", MOUNT_PATH, MNT_RDONLY), 0);
	KT_EXPECT_TRUE(hmr_vfs_fail_next_flusher);	/* not asked */
	hmr_vfs_fail_next_flusher = false;
	KT_EXPECT_EQ(vfs_unmount(MOUNT_PATH), 0);
	KT_EXPECT_EQ(vfs_rmdir(MOUNT_PATH), 0);
}

/*
 * Unmount wakes the flusher and waits for it to end.  Mount and unmount
 * again and again, letting the flusher reach its sleep (a yield, or a
 * tick's sleep) or not before the unmount: the wakeup must never be lost
 * in between, so no unmount lasts as long as the flusher's timer period
 * (measured in the kernel's ticks; a lost wakeup costs the whole period,
 * a working unmount a few disk writes).
 */
KTEST(hmr_kern, unmount_does_not_wait_for_the_flushers_timer)
{
	uint64_t start, longest = 0;

	need_disk();
	for (int i = 0; i < 12; i++) {
		KT_ASSERT_EQ(vfs_mount("hmr", "vblk2", MOUNT_PATH, 0), 0);
		if (i % 3 == 1)
			lwkt_yield();
		else if (i % 3 == 2)
			tsleep(&start, 0, "kthmru", 1);
		start = ticks;
		KT_EXPECT_EQ(vfs_unmount(MOUNT_PATH), 0);
		longest = MAX(longest, ticks - start);
	}
	KT_EXPECT_LT(longest, (uint64_t)HMR_FLUSH_SECONDS * hz);
	KT_EXPECT_EQ(vfs_rmdir(MOUNT_PATH), 0);
}
