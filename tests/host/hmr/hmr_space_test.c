/*
 * hmr_space_test.c - a full volume is never stuck.
 *
 * Deletes, truncates and prunes must succeed on a volume that ordinary
 * writes have filled completely - with one big file, with many small
 * ones, with snapshots pinning history - and prune must then give the
 * space back, cycle after cycle.  Also: repeated metadata updates must
 * not leave the volume fragmented once prune has run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"
#include "hmr_private.h"

#define MIB_BLOCKS(n) ((uint64_t)(n) * 256)

static uint64_t free_blocks(struct hmr_mount *m)
{
	struct hmr_statfs sf;

	HT_ASSERT_EQ(hmr_statfs(m, &sf), 0);
	return sf.free_blocks;
}

/* Write `ino` from `off` on until ENOSPC, in 1 MiB then 4 KiB pieces;
 * returns the new end of file. */
static uint64_t fill_file(struct hmr_mount *m, uint64_t ino, uint64_t off)
{
	static uint8_t buf[1 << 20];
	size_t piece = sizeof(buf);
	int error;

	memset(buf, 0x6b, sizeof(buf));
	for (;;) {
		error = hmr_write(m, 0, ino, off, buf, piece);
		if (error == 0) {
			off += piece;
			continue;
		}
		HT_ASSERT_EQ(error, ENOSPC);
		if (piece == HMR_BLOCK_SIZE)
			return off;
		piece = HMR_BLOCK_SIZE;
	}
}

/* Is the volume full: no more than twice the reserve left (what a
 * one-block write or a create needs above the reserve is less than the
 * reserve itself), which is where deletes go into emergency mode? */
static void expect_full(struct hmr_mount *m)
{
	HT_EXPECT_LE(hmr_avail_blocks(m), 2 * hmr_reserve_blocks(m));
}

/* A volume of `nblocks` blocks filled by one file "big", synced.  Also a
 * small file "small", synced before the fill.  *fresh: free blocks after
 * mkfs. */
static struct hmr_bdev *full_with_one_file(uint64_t nblocks,
					   struct hmr_mount **mp,
					   uint64_t *size, uint64_t *fresh)
{
	struct hmr_bdev *dev = tl_fresh_dev(nblocks);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t ino;

	*fresh = free_blocks(m);
	HT_ASSERT_EQ(tl_put(m, "small", "tiny", 4), 0);
	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "big", 0644, 0, &ino), 0);
	*size = fill_file(m, ino, 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	printf("  # %llu-block volume: file of %llu blocks, %llu blocks free, "
	       "depth %d\n", (unsigned long long)nblocks,
	       (unsigned long long)(*size / HMR_BLOCK_SIZE),
	       (unsigned long long)free_blocks(m), m->root_level + 1);
	/* ordinary writes left the reserve alone, and nothing else */
	HT_EXPECT_GE(free_blocks(m), hmr_reserve_blocks(m));
	expect_full(m);
	HT_EXPECT_GT(*size, 0);
	*mp = m;
	return dev;
}

/* Prune; then every block but mkfs's is free again (give or take the
 * directory's last version and the open meta block), and fsck is clean. */
static void prune_gives_all_back(struct hmr_mount *m, struct hmr_bdev *dev,
				 uint64_t fresh)
{
	uint64_t freed = 0;

	HT_ASSERT_EQ(hmr_prune(m, &freed), 0);
	printf("  # prune freed %llu blocks; %llu free of %llu after mkfs\n",
	       (unsigned long long)freed, (unsigned long long)free_blocks(m),
	       (unsigned long long)fresh);
	HT_EXPECT_GE(free_blocks(m) + 2, fresh);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
}

static void unlink_full_volume(uint64_t nblocks)
{
	struct hmr_mount *m;
	uint64_t size, fresh, ino;
	struct hmr_bdev *dev = full_with_one_file(nblocks, &m, &size, &fresh);

	/* an unsynced change before the big delete must survive it */
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "small"), 0);
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "big"), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	prune_gives_all_back(m, dev, fresh);
	m = tl_remount(m, dev);
	HT_EXPECT_EQ(tl_walk(m, 0, "small", &ino), ENOENT);
	HT_EXPECT_EQ(tl_walk(m, 0, "big", &ino), ENOENT);
	HT_EXPECT_GE(free_blocks(m) + 2, fresh);
	/* and the space is usable again: the same file fits once more */
	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "again", 0644, 0, &ino), 0);
	HT_EXPECT_GE(fill_file(m, ino, 0), size);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

HTEST(hmr_space, unlink_on_a_full_31mib_volume_then_prune)
{
	unlink_full_volume(MIB_BLOCKS(31));
}

HTEST(hmr_space, unlink_on_a_full_125mib_volume_then_prune)
{
	unlink_full_volume(MIB_BLOCKS(125));
}

/* A tiny volume: 1 MiB, where the reserve is a large share of it. */
HTEST(hmr_space, unlink_on_a_full_tiny_volume_then_prune)
{
	unlink_full_volume(MIB_BLOCKS(1));
}

static void truncate_full_volume(uint64_t nblocks)
{
	struct hmr_mount *m;
	uint64_t size, fresh, ino;
	struct hmr_bdev *dev = full_with_one_file(nblocks, &m, &size, &fresh);
	struct hmr_setattr sa = { .valid = HMR_SET_SIZE, .size = 5000 };
	uint8_t *got;
	size_t len;

	HT_ASSERT_EQ(tl_walk(m, 0, "big", &ino), 0);
	HT_ASSERT_EQ(hmr_setattr(m, 0, ino, &sa), 0);
	HT_ASSERT_EQ(tl_get(m, 0, "big", &got, &len), 0);
	HT_ASSERT_EQ(len, 5000);
	HT_EXPECT_EQ(got[0], 0x6b);
	HT_EXPECT_EQ(got[4999], 0x6b);
	free(got);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	/* big and small keep 3 data blocks and a meta block */
	prune_gives_all_back(m, dev, fresh - 4);
	/* down to nothing, pruned: the same file fits once more */
	sa.size = 0;
	HT_ASSERT_EQ(hmr_setattr(m, 0, ino, &sa), 0);
	HT_ASSERT_EQ(hmr_prune(m, NULL), 0);
	HT_EXPECT_GE(fill_file(m, ino, 0), size);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

HTEST(hmr_space, truncate_on_a_full_volume_then_prune)
{
	truncate_full_volume(MIB_BLOCKS(31));
}

HTEST(hmr_space, truncate_on_a_full_tiny_volume_then_prune)
{
	truncate_full_volume(MIB_BLOCKS(1));
}

/* A snapshot pins the whole file: the truncate cannot free anything and
 * must copy every leaf it changes, across several commits, on a volume
 * with no room; the snapshot still reads the whole file; once it goes,
 * prune gives the space back. */
HTEST(hmr_space, truncate_with_a_snapshot_pinning_the_file)
{
	struct hmr_mount *m;
	uint64_t size, fresh, ino, big2, snap, freed;
	struct hmr_bdev *dev = full_with_one_file(MIB_BLOCKS(31), &m, &size,
						&fresh);
	struct hmr_setattr sa = { .valid = HMR_SET_SIZE,
				  .size = size - (2 << 20) };
	struct hmr_stat st;

	/* make room for the snapshot, take it, fill up again */
	HT_ASSERT_EQ(tl_walk(m, 0, "big", &ino), 0);
	HT_ASSERT_EQ(hmr_setattr(m, 0, ino, &sa), 0);
	HT_ASSERT_EQ(hmr_snapshot_create(m, "pin", &snap), 0);
	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "big2", 0644, 0, &big2), 0);
	fill_file(m, big2, 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	printf("  # full again with a snapshot: %llu blocks free\n",
	       (unsigned long long)free_blocks(m));
	uint64_t splits = hmr_counters(m)->split_commits;
	sa.size = 5000;
	HT_ASSERT_EQ(hmr_setattr(m, 0, ino, &sa), 0);
	printf("  # the truncate took %llu commits part way\n",
	       (unsigned long long)(hmr_counters(m)->split_commits - splits));
	HT_EXPECT_GT(hmr_counters(m)->split_commits, splits);
	HT_ASSERT_EQ(hmr_getattr(m, 0, ino, &st), 0);
	HT_EXPECT_EQ(st.size, 5000);
	HT_ASSERT_EQ(hmr_getattr(m, snap, ino, &st), 0);
	HT_EXPECT_EQ(st.size, size - (2 << 20));
	HT_ASSERT_EQ(hmr_prune(m, &freed), 0);
	HT_EXPECT_LT(freed, 64);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	/* still full, still pinned: the unlink succeeds too, and the
	 * snapshot still reads the file */
	expect_full(m);
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "big"), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	HT_ASSERT_EQ(hmr_getattr(m, snap, ino, &st), 0);
	HT_EXPECT_EQ(st.size, size - (2 << 20));
	HT_ASSERT_EQ(hmr_snapshot_delete(m, snap), 0);
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "big2"), 0);
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "small"), 0);
	HT_ASSERT_EQ(hmr_prune(m, NULL), 0);
	prune_gives_all_back(m, dev, fresh);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

/* A rename over a big file is an ordinary VOP that destroys the file it
 * replaces: on a nearly full volume it commits part way above the
 * reserve instead of failing with ENOSPC half way. */
HTEST(hmr_space, rename_over_a_big_file_on_a_nearly_full_volume)
{
	static uint8_t pad[600 * 1024];
	struct hmr_bdev *dev = tl_fresh_dev(MIB_BLOCKS(31));
	struct hmr_mount *m = tl_mount(dev);
	uint64_t ino, splits, fresh = free_blocks(m);
	uint8_t *got;
	size_t len;

	HT_ASSERT_EQ(tl_put(m, "x", "newer", 5), 0);
	HT_ASSERT_EQ(tl_put(m, "pad", pad, sizeof(pad)), 0);
	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "big", 0644, 0, &ino), 0);
	fill_file(m, ino, 0);
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "pad"), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	printf("  # %llu blocks free before the rename\n",
	       (unsigned long long)free_blocks(m));
	splits = hmr_counters(m)->split_commits;
	HT_ASSERT_EQ(hmr_rename(m, 0, HMR_OBJID_ROOT, "x", 0, HMR_OBJID_ROOT,
				"big"), 0);
	HT_EXPECT_GT(hmr_counters(m)->split_commits, splits);
	HT_ASSERT_TRUE(hmr_avail_blocks(m) >= hmr_reserve_blocks(m));
	HT_ASSERT_EQ(tl_get(m, 0, "big", &got, &len), 0);
	HT_ASSERT_EQ(len, 5);
	HT_EXPECT_MEMEQ(got, "newer", 5);
	free(got);
	HT_EXPECT_EQ(tl_walk(m, 0, "x", &ino), ENOENT);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	prune_gives_all_back(m, dev, fresh - 2); /* big's block, a meta block */
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

/* Fill with files of `each` bytes until ENOSPC; returns how many. */
static int fill_small(struct hmr_mount *m, const char *dir, size_t each,
		      int start)
{
	static uint8_t buf[16384];
	char path[64];
	int n = start;

	memset(buf, 0x3c, sizeof(buf));
	for (;; n++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, n);
		int error = tl_put(m, path, buf, each);
		if (error) {
			HT_ASSERT_EQ(error, ENOSPC);
			return n - start;
		}
	}
}

/* Many small files, each unlink followed by a sync (the worst case: every
 * commit writes a new version of the directory), then prune.  First, on
 * the full volume, an empty directory goes (rmdir). */
static void many_small_files(uint64_t nblocks)
{
	struct hmr_bdev *dev = tl_fresh_dev(nblocks);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t d, e, fresh = free_blocks(m);
	char name[32];
	int n;

	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "e", 0755, &e), 0);
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d", 0755, &d), 0);
	n = fill_small(m, "d", 4096, 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	printf("  # %d files of 4 KiB, %llu blocks free, depth %d\n", n,
	       (unsigned long long)free_blocks(m), m->root_level + 1);
	HT_EXPECT_GT(n, 0);
	expect_full(m);
	HT_ASSERT_EQ(hmr_rmdir(m, 0, HMR_OBJID_ROOT, "e"), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		HT_ASSERT_EQ(hmr_unlink(m, 0, d, name), 0);
		HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	}
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	HT_ASSERT_EQ(hmr_rmdir(m, 0, HMR_OBJID_ROOT, "d"), 0);
	prune_gives_all_back(m, dev, fresh);
	m = tl_remount(m, dev);
	HT_EXPECT_GE(free_blocks(m) + 2, fresh);
	/* as many files fit again */
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d", 0755, &d), 0);
	HT_EXPECT_GE(fill_small(m, "d", 4096, 0), n);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

HTEST(hmr_space, many_small_files_unlinked_one_sync_each)
{
	many_small_files(MIB_BLOCKS(8));
}

HTEST(hmr_space, many_small_files_on_a_tiny_volume)
{
	many_small_files(MIB_BLOCKS(1));
}

/* Snapshots pin everything: deletes still succeed on the full volume,
 * prune frees nothing until the snapshots go, then everything. */
HTEST(hmr_space, full_volume_with_snapshots)
{
	struct hmr_bdev *dev = tl_fresh_dev(MIB_BLOCKS(8));
	struct hmr_mount *m = tl_mount(dev);
	uint64_t d, s1, s2, fresh = free_blocks(m), freed;
	char name[32];
	int n;

	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d", 0755, &d), 0);
	n = fill_small(m, "d", 12000, 0);
	HT_ASSERT_EQ(hmr_snapshot_create(m, "half", &s1), 0);
	expect_full(m);
	for (int i = 0; i < n; i += 2) {
		snprintf(name, sizeof(name), "f%d", i);
		HT_ASSERT_EQ(hmr_unlink(m, 0, d, name), 0);
	}
	HT_ASSERT_EQ(hmr_snapshot_create(m, "full", &s2), 0);
	printf("  # %d files, %llu blocks free with two snapshots\n", n,
	       (unsigned long long)free_blocks(m));
	for (int i = 1; i < n; i += 2) {
		snprintf(name, sizeof(name), "f%d", i);
		HT_ASSERT_EQ(hmr_unlink(m, 0, d, name), 0);
	}
	HT_ASSERT_EQ(hmr_rmdir(m, 0, HMR_OBJID_ROOT, "d"), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	HT_ASSERT_EQ(hmr_prune(m, &freed), 0);
	HT_EXPECT_LT(freed, 64); /* the snapshots pin the files */
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	uint8_t *got;
	size_t len;
	HT_ASSERT_EQ(tl_get(m, s1, "d/f0", &got, &len), 0);
	HT_EXPECT_EQ(len, 12000);
	free(got);
	HT_ASSERT_EQ(hmr_snapshot_delete(m, s1), 0);
	HT_ASSERT_EQ(hmr_snapshot_delete(m, s2), 0);
	HT_ASSERT_EQ(hmr_prune(m, &freed), 0);
	HT_ASSERT_EQ(hmr_prune(m, NULL), 0); /* the snapshot records too */
	m = tl_remount(m, dev);
	HT_EXPECT_GE(free_blocks(m) + 2, fresh);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

/* Fill, delete everything, prune; five times, alternating one big file
 * and many small ones.  Each cycle ends where the first began. */
HTEST(hmr_space, fill_and_delete_cycles_end_where_they_began)
{
	struct hmr_bdev *dev = tl_fresh_dev(MIB_BLOCKS(6));
	struct hmr_mount *m = tl_mount(dev);
	uint64_t fresh = free_blocks(m), ino, d;
	char name[32];

	for (int cycle = 0; cycle < 5; cycle++) {
		int n = 0;

		if (cycle % 2 == 0) {
			HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "big", 0644, 0,
						&ino), 0);
			HT_EXPECT_GT(fill_file(m, ino, 0), 5 << 20);
		} else {
			HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d", 0755, &d), 0);
			n = fill_small(m, "d", 100 + 3000 * (cycle % 3), 0);
		}
		HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
		if (cycle % 2 == 0) {
			HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "big"), 0);
		} else {
			for (int i = 0; i < n; i++) {
				snprintf(name, sizeof(name), "f%d", i);
				HT_ASSERT_EQ(hmr_unlink(m, 0, d, name), 0);
			}
			HT_ASSERT_EQ(hmr_rmdir(m, 0, HMR_OBJID_ROOT, "d"), 0);
		}
		HT_ASSERT_EQ(hmr_prune(m, NULL), 0);
		printf("  # cycle %d (%d files): %llu of %llu blocks free\n",
		       cycle, n, (unsigned long long)free_blocks(m),
		       (unsigned long long)fresh);
		HT_EXPECT_GE(free_blocks(m) + 2, fresh);
	}
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

static char target[4000]; /* a long symlink target */

/* One random ordinary operation (no deletes); returns its error. */
static int ordinary_op(struct hmr_mount *m, uint64_t *seed)
{
	static uint8_t buf[70000];
	struct hmr_setattr sa = { .valid = HMR_SET_MODE, .mode = 0600 };
	char name[16], other[16];
	uint64_t ino;

	snprintf(name, sizeof(name), "n%d", (int)(tl_rand(seed) % 400));
	snprintf(other, sizeof(other), "l%d", (int)(tl_rand(seed) % 100000));
	if (hmr_lookup(m, 0, HMR_OBJID_ROOT, name, &ino, NULL) != 0)
		return tl_rand(seed) % 8 == 0
			       ? hmr_mkdir(m, 0, HMR_OBJID_ROOT, name, 0755, &ino)
			       : hmr_create(m, 0, HMR_OBJID_ROOT, name, 0644, 0,
					    &ino);
	switch (tl_rand(seed) % 6) {
	case 0: return hmr_setattr(m, 0, ino, &sa);
	case 1: return hmr_link(m, 0, ino, 0, HMR_OBJID_ROOT, other);
	case 2: return hmr_symlink(m, 0, HMR_OBJID_ROOT, other, target, &ino);
	default:
		return hmr_write(m, 0, ino, tl_rand(seed) % 100000, buf,
				 1 + tl_rand(seed) % 70000);
	}
}

/* Rules 1 and 2: random ordinary operations on a small volume, until
 * they all fail: none ever takes the reserve, and none runs out of space
 * half way - each that does not fit says ENOSPC before changing anything
 * (its estimate is an upper bound).  Then deletes still work. */
HTEST(hmr_space, ordinary_operations_fail_up_front_and_leave_the_reserve)
{
	struct hmr_bdev *dev = tl_fresh_dev(MIB_BLOCKS(3));
	struct hmr_mount *m = tl_mount(dev);
	uint64_t seed = htest_seed() ^ 0x5ace, enospc = 0;

	memset(target, 't', sizeof(target) - 1);
	printf("  # seed=0x%llx\n", (unsigned long long)seed);
	for (int step = 0; step < 4000 && enospc < 300; step++) {
		uint64_t rollbacks = hmr_counters(m)->vop_rollbacks;
		int error = ordinary_op(m, &seed);

		if (error == ENOSPC) {
			enospc++;
			HT_ASSERT_EQ(hmr_counters(m)->vop_rollbacks, rollbacks);
		}
		HT_ASSERT_TRUE(hmr_avail_blocks(m) >= hmr_reserve_blocks(m));
		if (step % 100 == 99)
			HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	}
	printf("  # %llu operations refused up front; %llu blocks free\n",
	       (unsigned long long)enospc, (unsigned long long)free_blocks(m));
	HT_EXPECT_GE(enospc, 300);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	for (int i = 0; i < 400; i++) {
		char name[16];
		uint64_t ino;

		snprintf(name, sizeof(name), "n%d", i);
		if (hmr_lookup(m, 0, HMR_OBJID_ROOT, name, &ino, NULL) == 0)
			HT_EXPECT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, name) == 0 ||
					     hmr_rmdir(m, 0, HMR_OBJID_ROOT, name) == 0,
				     1);
	}
	HT_ASSERT_EQ(hmr_prune(m, NULL), 0);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

/* A crash while an unlinked file is still open leaves an orphan: a live
 * inode with nlinks 0 that holds its blocks.  The next writable mount
 * destroys it - here a file filling the volume, so the mount's own
 * destroy runs on a full volume - while a read-only mount and fsck
 * leave it (fsck reports it). */
HTEST(hmr_space, the_next_mount_destroys_an_orphan_a_crash_left)
{
	struct hmr_mount *m;
	uint64_t size, fresh, ino;
	struct hmr_bdev *dev = full_with_one_file(MIB_BLOCKS(8), &m, &size,
						&fresh);
	struct hmr_stat st;

	HT_ASSERT_EQ(tl_walk(m, 0, "big", &ino), 0);
	HT_ASSERT_EQ(hmr_open(m, ino), 0);
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "big"), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	hmr_mount_abandon(m); /* the crash, with big still open */
	HT_EXPECT_EQ(tl_fsck(dev, 0), 1);
	HT_ASSERT_EQ(hmr_mount(dev, HMR_MNT_RDONLY, 0, &m), 0);
	HT_EXPECT_EQ(hmr_getattr(m, 0, ino, &st), 0);
	hmr_unmount(m);
	m = tl_mount(dev);
	HT_EXPECT_EQ(hmr_getattr(m, 0, ino, &st), ENOENT);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	prune_gives_all_back(m, dev, fresh - 2); /* small's block, a meta block */
	hmr_unmount(m);
	hmr_bdev_close(dev);
}
