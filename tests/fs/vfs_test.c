/*
 * vfs_test.c - the VFS on tmpfs: the shared case list (vfs_cases.h) as
 * suite `tmpfs`, and what belongs to the VFS itself -- mounts, crossing
 * them, unmounting while busy -- as suite `vfs`.  Vnodes and open files
 * are leak-checked around every suite.
 */
#include "vfs_cases.h"
#include <drivers/blkdev.h>
#include <kern/clock.h>
#include <kern/synch.h>
#include <kern/token.h>
#include <machine/cpufunc.h>
#include "../../fs/vfs_private.h"

static uint64_t referenced_vnodes(void)
{
	struct vfs_stats st;

	vfs_get_stats(&st);
	return st.vnodes_referenced;
}

static uint64_t open_files(void)
{
	struct vfs_stats st;

	vfs_get_stats(&st);
	return st.files_open;
}

KTEST_LEAKCHECK(vfs_vnodes, "referenced vnodes", referenced_vnodes, NULL);
KTEST_LEAKCHECK(vfs_files, "open files", open_files, NULL);

#define TMPFS_BASE "/ktest-tmpfs"

/* A fresh tmpfs for each case, mounted on a directory of the root. */
static void on_fresh_tmpfs(void (*body)(const char *base))
{
	KT_ASSERT_EQ(vfs_mkdir(TMPFS_BASE, 0755), 0);
	KT_ASSERT_EQ(vfs_mount("tmpfs", NULL, TMPFS_BASE, 0), 0);
	body(TMPFS_BASE);
	KT_EXPECT_EQ(vfs_unmount(TMPFS_BASE), 0);
	KT_EXPECT_EQ(vfs_rmdir(TMPFS_BASE), 0);
}

#define TMPFS_TEST(name)                                                 \
	KTEST(tmpfs, name) { on_fresh_tmpfs(vfs_case_##name); }
VFS_CASES(TMPFS_TEST)

/*
 * Unmount frees each node once, however many names it still has: a
 * file with three names (two in the root, one in a subdirectory) and
 * one with two names inside a subdirectory are left in place.  A walk
 * that frees a node per name frees these twice, and kfree's double-free
 * check panics the unmount.
 */
KTEST(tmpfs, unmount_frees_a_file_with_several_names_once)
{
	KT_ASSERT_EQ(vfs_mkdir(TMPFS_BASE, 0755), 0);
	KT_ASSERT_EQ(vfs_mount("tmpfs", NULL, TMPFS_BASE, 0), 0);
	KT_ASSERT_EQ(vt_put(TMPFS_BASE "/f", "data", 4), 0);
	KT_ASSERT_EQ(vfs_mkdir(TMPFS_BASE "/d", 0755), 0);
	KT_ASSERT_EQ(vfs_link(TMPFS_BASE "/f", TMPFS_BASE "/g"), 0);
	KT_ASSERT_EQ(vfs_link(TMPFS_BASE "/f", TMPFS_BASE "/d/h"), 0);
	KT_ASSERT_EQ(vt_put(TMPFS_BASE "/d/x", "", 0), 0);
	KT_ASSERT_EQ(vfs_link(TMPFS_BASE "/d/x", TMPFS_BASE "/d/y"), 0);
	KT_EXPECT_EQ(vfs_unmount(TMPFS_BASE), 0);
	KT_EXPECT_EQ(vfs_rmdir(TMPFS_BASE), 0);
}

/* ---- the VFS's own behaviour ---- */

KTEST(vfs, lookup_crosses_into_a_mount_and_dotdot_comes_back)
{
	struct vattr root, mnt, up;

	KT_ASSERT_EQ(vfs_mkdir("/m", 0755), 0);
	KT_ASSERT_EQ(vfs_stat("/m", &mnt), 0);
	KT_ASSERT_EQ(vfs_mount("tmpfs", NULL, "/m", 0), 0);
	KT_ASSERT_EQ(vt_put("/m/inside", "1", 1), 0);
	KT_ASSERT_EQ(vfs_stat("/", &root), 0);
	KT_ASSERT_EQ(vfs_stat("/m/..", &up), 0);
	KT_EXPECT_EQ(up.va_ino, root.va_ino);
	KT_EXPECT_EQ(vfs_stat("/m/../m/inside", &up), 0);
	KT_EXPECT_EQ(vfs_stat("/..", &up), 0);		/* the root's parent */
	KT_EXPECT_EQ(up.va_ino, root.va_ino);
	/* The mount hides the directory under it, and cross links fail. */
	KT_EXPECT_EQ(vfs_link("/m/inside", "/outside"), EXDEV);
	KT_EXPECT_EQ(vfs_rename("/m/inside", "/outside"), EXDEV);
	KT_EXPECT_EQ(vfs_mount("tmpfs", NULL, "/m", 0), EBUSY);
	KT_EXPECT_EQ(vfs_unlink("/m/inside"), 0);
	KT_EXPECT_EQ(vfs_unmount("/m"), 0);
	KT_EXPECT_EQ(vfs_stat("/m/inside", &up), ENOENT);
	KT_EXPECT_EQ(vfs_rmdir("/m"), 0);
}

KTEST(vfs, unmount_refuses_while_a_file_is_open)
{
	struct file *fp;

	KT_ASSERT_EQ(vfs_mkdir("/busy", 0755), 0);
	KT_ASSERT_EQ(vfs_mount("tmpfs", NULL, "/busy", 0), 0);
	KT_ASSERT_EQ(vfs_open("/busy/f", O_RDWR | O_CREAT, 0644, &fp), 0);
	KT_EXPECT_EQ(vfs_unmount("/busy"), EBUSY);
	KT_EXPECT_EQ(vfs_rmdir("/busy"), EBUSY);	/* a mount point */
	vfs_close(fp);
	KT_EXPECT_EQ(vfs_unmount("/busy"), 0);
	KT_EXPECT_EQ(vfs_rmdir("/busy"), 0);
}

KTEST(vfs, bad_mount_requests_are_refused)
{
	KT_EXPECT_EQ(vfs_mount("nosuchfs", NULL, "/", 0), ENODEV);
	KT_EXPECT_EQ(vfs_mount("tmpfs", NULL, "/nothere", 0), ENOENT);
	KT_ASSERT_EQ(vt_put("/plain", "", 0), 0);
	KT_EXPECT_EQ(vfs_mount("tmpfs", NULL, "/plain", 0), ENOTDIR);
	KT_EXPECT_EQ(vfs_unmount("/plain"), EINVAL);
	KT_EXPECT_EQ(vfs_unlink("/plain"), 0);
}

KTEST(vfs, a_symlink_chain_longer_than_the_limit_is_eloop)
{
	char from[16], to[16];
	struct vattr va;

	KT_ASSERT_EQ(vt_put("/chain0", "", 0), 0);
	for (int i = 1; i <= VFS_MAXSYMLINKS + 1; i++) {
		ksnprintf(from, sizeof(from), "/chain%d", i);
		ksnprintf(to, sizeof(to), "chain%d", i - 1);
		KT_ASSERT_EQ(vfs_symlink(to, from), 0);
	}
	ksnprintf(from, sizeof(from), "/chain%d", VFS_MAXSYMLINKS);
	KT_EXPECT_EQ(vfs_stat(from, &va), 0);		/* exactly the limit */
	ksnprintf(from, sizeof(from), "/chain%d", VFS_MAXSYMLINKS + 1);
	KT_EXPECT_EQ(vfs_stat(from, &va), ELOOP);
	for (int i = 0; i <= VFS_MAXSYMLINKS + 1; i++) {
		ksnprintf(from, sizeof(from), "/chain%d", i);
		KT_EXPECT_EQ(vfs_unlink(from), 0);
	}
}

/*
 * References taken and given back on every CPU at once: the root (whose
 * count never reaches 0 -- the mount holds one) through each lookup, and
 * a file whose count goes to 0 and back all the time.  A count changed
 * without an atomic somewhere loses one of them, and the root ends off.
 */
struct vref_worker {
	int failures;
	struct thread *td;
};

static void vref_worker_main(void *arg)
{
	struct vref_worker *w = arg;
	struct vattr va;

	struct vnode *root = vfs_rootvnode();

	for (int i = 0; i < 1000; i++)
		if (vfs_stat("/vref-target", &va) != 0)
			w->failures++;
	for (int i = 0; i < 20000; i++) {	/* the tightest race */
		vref(root);
		vrele(root);
	}
	vrele(root);
}

KTEST(vfs, references_from_every_cpu_add_up)
{
	static struct vref_worker w[2 * MAXCPU];
	int n = 2 * ncpus, before;
	struct vnode *root = vfs_rootvnode();

	KT_ASSERT_EQ(vt_put("/vref-target", "x", 1), 0);
	before = root->v_refcnt;
	for (int i = 0; i < n; i++) {
		w[i] = (struct vref_worker){ 0 };
		KT_ASSERT_EQ(lwkt_create(vref_worker_main, &w[i], &w[i].td, 0,
					 i % ncpus, "vref-worker %d", i), 0);
	}
	for (int i = 0; i < n; i++) {
		lwkt_thread_join(w[i].td);
		KT_EXPECT_EQ(w[i].failures, 0);
	}
	KT_EXPECT_EQ(root->v_refcnt, before);
	vrele(root);
	KT_EXPECT_EQ(vfs_unlink("/vref-target"), 0);
}

/*
 * A release that is not the last is one atomic decrement: it never waits
 * for the mount's token.  A thread on another CPU holds mnt_token,
 * spinning, until it sees our vref+vrele done; a vrele that took the
 * token would wait for it, and the holder would give up and see nothing.
 */
static volatile int vr_held, vr_done;
static volatile bool vr_saw_done;

static void vr_token_holder(void *arg)
{
	struct mount *mp = arg;
	uint64_t start;

	lwkt_gettoken(&mp->mnt_token);
	vr_held = 1;
	start = mycpu->gd_ticks;
	while (!vr_done && mycpu->gd_ticks - start < 30 * (uint64_t)hz)
		cpu_pause();		/* hold it: no switch, no release */
	vr_saw_done = vr_done;
	lwkt_reltoken(&mp->mnt_token);
}

KTEST(vfs, a_release_that_is_not_the_last_takes_no_token)
{
	struct vnode *root = vfs_rootvnode();
	struct thread *td;

	if (ncpus < 2) {
		vrele(root);
		KT_SKIP("needs a second CPU to hold the mount's token");
	}
	vr_held = vr_done = 0;
	KT_ASSERT_EQ(lwkt_create(vr_token_holder, root->v_mount, &td, 0,
				 (mycpuid + 1) % ncpus, "vr-hold"), 0);
	while (!vr_held)
		tsleep(&vr_held, 0, "vrhold", 1);
	vref(root);
	vrele(root);			/* the mount's and ours remain */
	vr_done = 1;
	lwkt_thread_join(td);
	KT_EXPECT_TRUE(vr_saw_done);
	vrele(root);
}

/* Cached vnodes are not leaks: give them back before each sample. */
KTEST_DRAIN(vfs, "vnode caches", vfs_drain);

/*
 * Group vblk attaches a blank disk and an HMR image whose superblocks are
 * destroyed: neither may become the root, the boot goes on with tmpfs,
 * and the damaged disk still refuses a mount with EIO, cleanly, again.
 */
KTEST(vfs, disks_without_a_usable_hmr_leave_the_root_on_tmpfs)
{
	struct vstatfs st;

	if (blkdev_find("vblk1") == NULL)
		KT_SKIP("needs the vblk group's two disks (blank and damaged)");
	KT_ASSERT_EQ(vfs_statfs("/", &st), 0);
	KT_EXPECT_STREQ(st.fstype, "tmpfs");
	KT_ASSERT_EQ(vfs_mkdir("/damaged", 0755), 0);
	KT_EXPECT_EQ(vfs_mount("hmr", "vblk1", "/damaged", 0), EIO);
	KT_EXPECT_EQ(vfs_mount("hmr", "vblk0", "/damaged", 0), EIO);
	KT_EXPECT_EQ(vfs_mount("hmr", "vblk9", "/damaged", 0), ENXIO);
	KT_EXPECT_EQ(vfs_rmdir("/damaged"), 0);
}

/* vfs_open's error; a file it opened anyway is closed again, so a
 * failing check leaves nothing open behind it. */
static int ro_open(const char *path, int flags)
{
	struct file *fp;
	int error = vfs_open(path, flags, 0644, &fp);

	if (error == 0)
		vfs_close(fp);
	return error;
}

/* Every change on a read-only mount is EROFS; reads still work. */
static void expect_every_change_refused(void)
{
	struct file *fp;
	char buf[8];
	size_t len;

	KT_EXPECT_EQ(ro_open(TMPFS_BASE "/new", O_WRONLY | O_CREAT), EROFS);
	KT_EXPECT_EQ(vfs_mkdir(TMPFS_BASE "/newdir", 0755), EROFS);
	KT_EXPECT_EQ(vfs_symlink("f", TMPFS_BASE "/sym"), EROFS);
	KT_EXPECT_EQ(vfs_chmod(TMPFS_BASE, 0700), EROFS);
	KT_EXPECT_EQ(vfs_stat(TMPFS_BASE "/new", &(struct vattr){ 0 }),
		     ENOENT);
	if (vfs_stat(TMPFS_BASE "/f", &(struct vattr){ 0 }) != 0)
		return;				/* the empty mount: done */
	KT_EXPECT_EQ(ro_open(TMPFS_BASE "/f", O_WRONLY), EROFS);
	KT_EXPECT_EQ(ro_open(TMPFS_BASE "/f", O_RDWR | O_TRUNC), EROFS);
	KT_EXPECT_EQ(vfs_truncate(TMPFS_BASE "/f", 0), EROFS);
	KT_EXPECT_EQ(vfs_chmod(TMPFS_BASE "/f", 0600), EROFS);
	KT_EXPECT_EQ(vfs_link(TMPFS_BASE "/f", TMPFS_BASE "/g"), EROFS);
	KT_EXPECT_EQ(vfs_rename(TMPFS_BASE "/f", TMPFS_BASE "/g"), EROFS);
	KT_EXPECT_EQ(vfs_unlink(TMPFS_BASE "/f"), EROFS);
	KT_EXPECT_EQ(vfs_rmdir(TMPFS_BASE "/d"), EROFS);
	/* Opening what exists with O_CREAT, to read, is no change. */
	KT_ASSERT_EQ(vfs_open(TMPFS_BASE "/f", O_RDONLY | O_CREAT, 0644,
			      &fp), 0);
	KT_EXPECT_EQ(vfs_read(fp, buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(len, 4);
	vfs_close(fp);
}

/*
 * A tmpfs mounted MNT_RDONLY takes no change at all; and one whose
 * mount becomes read-only after it was filled (as a remount would make
 * it) refuses every change to what it holds, even through a file opened
 * for writing before, while reads go on.  The VFS refuses, for every
 * filesystem, before any vop is called.
 */
KTEST(tmpfs, a_read_only_mount_refuses_every_change_with_erofs)
{
	struct file *fp;
	struct vnode *vp;
	size_t done;

	KT_ASSERT_EQ(vfs_mkdir(TMPFS_BASE, 0755), 0);
	KT_ASSERT_EQ(vfs_mount("tmpfs", NULL, TMPFS_BASE, MNT_RDONLY), 0);
	expect_every_change_refused();
	KT_EXPECT_EQ(vfs_unmount(TMPFS_BASE), 0);

	KT_ASSERT_EQ(vfs_mount("tmpfs", NULL, TMPFS_BASE, 0), 0);
	KT_ASSERT_EQ(vt_put(TMPFS_BASE "/f", "data", 4), 0);
	KT_ASSERT_EQ(vfs_mkdir(TMPFS_BASE "/d", 0755), 0);
	KT_ASSERT_EQ(vfs_open(TMPFS_BASE "/f", O_WRONLY, 0, &fp), 0);
	KT_ASSERT_EQ(vfs_namei(TMPFS_BASE, true, &vp), 0);
	vp->v_mount->mnt_flags |= MNT_RDONLY;
	expect_every_change_refused();
	KT_EXPECT_EQ(vfs_write(fp, "more", 4, &done), EROFS);
	vp->v_mount->mnt_flags &= ~MNT_RDONLY;
	vrele(vp);
	vfs_close(fp);
	KT_EXPECT_EQ(vfs_unlink(TMPFS_BASE "/f"), 0);
	KT_EXPECT_EQ(vfs_rmdir(TMPFS_BASE "/d"), 0);
	KT_EXPECT_EQ(vfs_unmount(TMPFS_BASE), 0);
	KT_EXPECT_EQ(vfs_rmdir(TMPFS_BASE), 0);
}
