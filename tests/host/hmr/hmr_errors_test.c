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
	HT_EXPECT_EQ(hmr_write(m, ino, 1000000, "", 0), 0);
	HT_EXPECT_EQ(hmr_write(m, ino, 0, NULL, 0), 0);
	HT_ASSERT_EQ(hmr_getattr(m, 0, ino, &after), 0);
	HT_EXPECT_EQ(after.size, 3);
	HT_EXPECT_EQ(after.mtime_ns, before.mtime_ns);
	HT_EXPECT_EQ(after.create_tid, before.create_tid);
	/* nothing to commit: the sync writes nothing */
	uint64_t commits = hmr_counters(m)->commits;
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_EXPECT_EQ(hmr_counters(m)->commits, commits);
	/* the usual errors are still reported */
	HT_EXPECT_EQ(hmr_write(m, HMR_OBJID_ROOT, 0, "", 0), EISDIR);
	HT_EXPECT_EQ(hmr_write(m, 9999, 0, "", 0), ENOENT);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

