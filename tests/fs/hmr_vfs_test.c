/*
 * hmr_vfs_test.c - HMR in the kernel, on the `hmr` group's disk (an
 * image the runner makes with mkfs.hmr): the VFS case list as suite
 * `hmrfs`, and what only HMR does -- as-of names, commits on fsync and
 * sync, read-only history -- as suite `hmr_kern`.  Without an HMR root
 * the tests skip and say so.
 */
#include "vfs_cases.h"
#include <kern/clock.h>
#include <kern/synch.h>
#include <fs/hmr_kern.h>

#define HMR_BASE "/ktest-hmr"

static bool root_is_hmr(void)
{
	struct vstatfs st;

	return vfs_statfs("/", &st) == 0 && strcmp(st.fstype, "hmr") == 0;
}

static void on_hmr(void (*body)(const char *base))
{
	if (!root_is_hmr())
		KT_SKIP("the root is not HMR: no HMR disk attached to this boot");
	KT_ASSERT_EQ(vfs_mkdir(HMR_BASE, 0755), 0);
	body(HMR_BASE);
	KT_EXPECT_EQ(vfs_rmdir(HMR_BASE), 0);
}

#define HMRFS_TEST(name)                                                 \
	KTEST(hmrfs, name) { on_hmr(vfs_case_##name); }
VFS_CASES(HMRFS_TEST)

/* The last durable commit, as statfs reports it. */
static uint64_t commit_tid(void)
{
	struct vstatfs st;

	return vfs_statfs("/", &st) == 0 ? st.commit_tid : 0;
}

KTEST(hmr_kern, an_asof_name_reads_the_file_as_a_past_commit_left_it)
{
	char path[64], buf[16];
	struct file *fp;
	uint64_t tid;
	size_t len;

	if (!root_is_hmr())
		KT_SKIP("the root is not HMR: no HMR disk attached to this boot");
	KT_ASSERT_EQ(vt_put("/asof-file", "version one", 11), 0);
	KT_ASSERT_EQ(vfs_sync_all(), 0);
	tid = commit_tid();
	KT_ASSERT_NE(tid, 0);
	KT_ASSERT_EQ(vt_put("/asof-file", "version two!", 12), 0);
	ksnprintf(path, sizeof(path), "/asof-file@@0x%lx", tid);
	KT_ASSERT_EQ(vt_get(path, buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(len, 11);
	KT_EXPECT_EQ(memcmp(buf, "version one", 11), 0);
	KT_ASSERT_EQ(vt_get("/asof-file", buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(len, 12);
	/* The past is read-only, through every door. */
	KT_EXPECT_EQ(vfs_open(path, O_WRONLY, 0, &fp), EROFS);
	KT_EXPECT_EQ(vfs_truncate(path, 0), EROFS);
	KT_EXPECT_EQ(vfs_unlink("/asof-file"), 0);
	/* Deleted now, still there as of the commit. */
	KT_EXPECT_EQ(vt_get(path, buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(vt_get("/asof-file", buf, sizeof(buf), &len), ENOENT);
}

KTEST(hmr_kern, an_asof_directory_shows_the_old_tree_below_it)
{
	char path[96], buf[8];
	uint64_t tid;
	size_t len;

	if (!root_is_hmr())
		KT_SKIP("the root is not HMR: no HMR disk attached to this boot");
	KT_ASSERT_EQ(vfs_mkdir("/asof-dir", 0755), 0);
	KT_ASSERT_EQ(vt_put("/asof-dir/inner", "old", 3), 0);
	KT_ASSERT_EQ(vfs_sync_all(), 0);
	tid = commit_tid();
	KT_ASSERT_EQ(vt_put("/asof-dir/inner", "new", 3), 0);
	KT_ASSERT_EQ(vt_put("/asof-dir/later", "x", 1), 0);
	ksnprintf(path, sizeof(path), "/asof-dir@@0x%lx/inner", tid);
	KT_ASSERT_EQ(vt_get(path, buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(memcmp(buf, "old", 3), 0);
	ksnprintf(path, sizeof(path), "/asof-dir@@0x%lx/later", tid);
	KT_EXPECT_EQ(vt_get(path, buf, sizeof(buf), &len), ENOENT);
	ksnprintf(path, sizeof(path), "/asof-dir@@0x%lx/new", tid);
	KT_EXPECT_EQ(vfs_mkdir(path, 0755), EROFS);
	KT_EXPECT_EQ(vfs_unlink("/asof-dir/inner"), 0);
	KT_EXPECT_EQ(vfs_unlink("/asof-dir/later"), 0);
	KT_EXPECT_EQ(vfs_rmdir("/asof-dir"), 0);
}

KTEST(hmr_kern, fsync_commits_and_the_commit_tid_moves_on)
{
	struct file *fp;
	uint64_t before;
	size_t len;

	if (!root_is_hmr())
		KT_SKIP("the root is not HMR: no HMR disk attached to this boot");
	before = commit_tid();
	KT_ASSERT_EQ(vfs_open("/fsynced", O_WRONLY | O_CREAT, 0644, &fp), 0);
	KT_ASSERT_EQ(vfs_write(fp, "durable", 7, &len), 0);
	KT_EXPECT_EQ(vfs_fsync(fp), 0);
	vfs_close(fp);
	KT_EXPECT_GT(commit_tid(), before);
	KT_EXPECT_EQ(vfs_unlink("/fsynced"), 0);
}

KTEST(hmr_kern, the_flusher_commits_on_its_timer)
{
	uint64_t before, deadline;

	if (!root_is_hmr())
		KT_SKIP("the root is not HMR: no HMR disk attached to this boot");
	KT_ASSERT_EQ(vt_put("/flushed", "tick", 4), 0);
	before = commit_tid();
	/* Nothing here commits: only the flusher can move the TID. */
	deadline = clock_monotonic_ns() + 15ULL * 1000000000;
	while (commit_tid() == before && clock_monotonic_ns() < deadline)
		tsleep(&before, 0, "wflush", hz / 4);
	KT_EXPECT_GT(commit_tid(), before);
	KT_EXPECT_EQ(vfs_unlink("/flushed"), 0);
}

/* A snapshot pins its TID: after a prune the snapshot still reads back,
 * while an unpinned older commit is gone. */
KTEST(hmr_kern, a_snapshot_survives_a_prune_that_drops_unpinned_history)
{
	struct hmr_mount *hm;
	struct vnode *root;
	char path[64], buf[16];
	uint64_t unpinned, snap, freed;
	size_t len;

	if (!root_is_hmr())
		KT_SKIP("the root is not HMR: no HMR disk attached to this boot");
	KT_ASSERT_EQ(vfs_namei("/", true, &root), 0);
	hm = hmr_vfs_core(root->v_mount);
	vrele(root);
	KT_ASSERT_EQ(vt_put("/snapfile", "first", 5), 0);
	KT_ASSERT_EQ(vfs_sync_all(), 0);
	unpinned = commit_tid();
	KT_ASSERT_EQ(vt_put("/snapfile", "second", 6), 0);
	KT_ASSERT_EQ(hmr_snapshot_create(hm, "ktest", &snap), 0);
	KT_ASSERT_EQ(vt_put("/snapfile", "third!!", 7), 0);
	KT_ASSERT_EQ(vfs_sync_all(), 0);
	KT_ASSERT_EQ(hmr_prune(hm, &freed), 0);
	ksnprintf(path, sizeof(path), "/snapfile@@0x%lx", snap);
	KT_ASSERT_EQ(vt_get(path, buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(len, 6);
	KT_EXPECT_EQ(memcmp(buf, "second", 6), 0);
	ksnprintf(path, sizeof(path), "/snapfile@@0x%lx", unpinned);
	KT_EXPECT_NE(vt_get(path, buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(hmr_snapshot_delete(hm, snap), 0);
	KT_EXPECT_EQ(vfs_unlink("/snapfile"), 0);
}
