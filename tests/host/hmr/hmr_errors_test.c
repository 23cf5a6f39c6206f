/*
 * hmr_errors_test.c - edge cases of the HMR API that must answer with a
 * precise errno or with no effect at all: zero-length writes, names that
 * could never be looked up again, and writes through as-of objects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"

/* POSIX: write() of zero bytes to a regular file "shall return zero and
 * have no other results" - no size change, no new inode version. */
HTEST(hmr_errors, zero_length_write_changes_nothing)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	struct hmr_stat before, after;
	uint64_t ino;

	HT_ASSERT_EQ(tl_put(m, "f", "abc", 3), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "f", &ino), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_ASSERT_EQ(hmr_getattr(m, 0, ino, &before), 0);
	HT_EXPECT_EQ(hmr_write(m, 0, ino, 1000000, "", 0), 0);
	HT_EXPECT_EQ(hmr_write(m, 0, ino, 0, NULL, 0), 0);
	HT_ASSERT_EQ(hmr_getattr(m, 0, ino, &after), 0);
	HT_EXPECT_EQ(after.size, 3);
	HT_EXPECT_EQ(after.mtime_ns, before.mtime_ns);
	HT_EXPECT_EQ(after.create_tid, before.create_tid);
	/* nothing to commit: the sync writes nothing */
	uint64_t commits = hmr_counters(m)->commits;
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_EXPECT_EQ(hmr_counters(m)->commits, commits);
	/* the usual errors are still reported */
	HT_EXPECT_EQ(hmr_write(m, 0, HMR_OBJID_ROOT, 0, "", 0), EISDIR);
	HT_EXPECT_EQ(hmr_write(m, 0, 9999, 0, "", 0), ENOENT);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

/* "name@@0x<hex>" is how lookup reaches an as-of view, so an entry named
 * like that could be created but never found again.  Every call that makes
 * a new name refuses it; names that only look similar stay legal. */
HTEST(hmr_errors, asof_looking_names_are_refused_at_create)
{
	static const char *const bad[] = { "a@@0x1", "f@@0X00000000000000ff",
					   "x@@0xdeadBEEF" };
	static const char *const good[] = { "@@0x5", "a@@0x0", "a@@0xzz",
					    "a@@0x", "a@@1", "a@@0x11112222333344445" };
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t f, x;

	HT_ASSERT_EQ(tl_put(m, "f", "x", 1), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "f", &f), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		printf("  # refused: %s\n", bad[i]);
		HT_EXPECT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, bad[i], 0644, 0, &x), EINVAL);
		HT_EXPECT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, bad[i], 0755, &x), EINVAL);
		HT_EXPECT_EQ(hmr_symlink(m, 0, HMR_OBJID_ROOT, bad[i], "t", &x), EINVAL);
		HT_EXPECT_EQ(hmr_link(m, 0, f, 0, HMR_OBJID_ROOT, bad[i]), EINVAL);
		HT_EXPECT_EQ(hmr_rename(m, 0, HMR_OBJID_ROOT, "f", 0, HMR_OBJID_ROOT,
					bad[i]), EINVAL);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t got;

		HT_EXPECT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, good[i], 0644, 0, &x), 0);
		HT_EXPECT_EQ(hmr_lookup(m, 0, HMR_OBJID_ROOT, good[i], &got, NULL), 0);
		HT_EXPECT_EQ(got, x);
	}
	HT_EXPECT_EQ(tl_walk(m, 0, "f", &x), 0); /* the refused rename left f */
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

/* Objects reached through "name@@0x<TID>" are history: the core itself
 * refuses every change to them (the kernel's VFS calls it directly, with
 * no FUSE layer in between), and the live objects stay untouched. */
HTEST(hmr_errors, writes_through_asof_objects_are_erofs_in_the_core)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	struct hmr_setattr sa = { .valid = HMR_SET_SIZE | HMR_SET_MODE,
				  .size = 1, .mode = 0600 };
	uint64_t tid, d, f, dasof, fasof, x;
	char name[64];

	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d", 0755, &d), 0);
	HT_ASSERT_EQ(tl_put(m, "d/f", "old", 3), 0);
	HT_ASSERT_EQ(hmr_sync(m, &tid), 0);
	char *before = tl_digest(m, 0);
	snprintf(name, sizeof(name), "d@@0x%llx", (unsigned long long)tid);
	HT_ASSERT_EQ(hmr_lookup(m, 0, HMR_OBJID_ROOT, name, &d, &dasof), 0);
	HT_ASSERT_EQ(hmr_lookup(m, dasof, d, "f", &f, &fasof), 0);
	HT_ASSERT_EQ(dasof, tid);
	HT_ASSERT_EQ(fasof, tid);
	HT_EXPECT_EQ(hmr_write(m, fasof, f, 0, "new", 3), EROFS);
	HT_EXPECT_EQ(hmr_setattr(m, fasof, f, &sa), EROFS);
	HT_EXPECT_EQ(hmr_create(m, dasof, d, "g", 0644, 0, &x), EROFS);
	HT_EXPECT_EQ(hmr_mkdir(m, dasof, d, "e", 0755, &x), EROFS);
	HT_EXPECT_EQ(hmr_symlink(m, dasof, d, "l", "t", &x), EROFS);
	HT_EXPECT_EQ(hmr_link(m, fasof, f, 0, d, "g"), EROFS);
	HT_EXPECT_EQ(hmr_link(m, 0, f, dasof, d, "g"), EROFS);
	HT_EXPECT_EQ(hmr_unlink(m, dasof, d, "f"), EROFS);
	HT_EXPECT_EQ(hmr_rmdir(m, fasof, HMR_OBJID_ROOT, "d"), EROFS);
	HT_EXPECT_EQ(hmr_rename(m, dasof, d, "f", 0, d, "g"), EROFS);
	HT_EXPECT_EQ(hmr_rename(m, 0, d, "f", dasof, d, "g"), EROFS);
	char *after = tl_digest(m, 0);
	HT_EXPECT_STREQ(after, before);
	/* the same objects through the live view still change */
	HT_EXPECT_EQ(hmr_write(m, 0, f, 0, "new", 3), 0);
	HT_EXPECT_EQ(hmr_rename(m, 0, d, "f", 0, d, "g"), 0);
	free(before), free(after);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}
