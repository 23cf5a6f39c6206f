/*
 * hmr_reblock_test.c - space that history and partly used metadata blocks
 * hold, and getting it back: prune must free what no snapshot needs, and
 * partly used meta blocks must be compacted (reblocked) so the space they
 * waste comes back.  Space is counted in blocks from hmr_statfs, never
 * timed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"
#include "hmr_private.h"

/* Blocks in use now (everything not free, static blocks included). */
static uint64_t used_blocks(struct hmr_mount *m)
{
	struct hmr_statfs st;

	HT_ASSERT_EQ(hmr_statfs(m, &st), 0);
	return st.nblocks - st.free_blocks;
}

/* One chmod and one sync, `n` times: n new versions of the inode. */
static void chmod_sync(struct hmr_mount *m, uint64_t ino, int n)
{
	struct hmr_setattr sa = { .valid = HMR_SET_MODE };

	for (int i = 0; i < n; i++) {
		sa.mode = (i & 1) ? 0600 : 0644;
		HT_ASSERT_EQ(hmr_setattr(m, 0, ino, &sa), 0);
		HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	}
}

/*
 * The experiment of the report: 1,000 chmod + sync of one file, then
 * prune with no snapshot.  Each commit writes the new inode version into
 * a meta block of its own, so the history costs about a block per
 * version; prune destroys that history, and the space must come back to
 * within a few blocks of where it started.
 */
HTEST(hmr_reblock, prune_frees_the_history_of_1000_chmods)
{
	struct hmr_bdev *dev = tl_fresh_dev(8192);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t ino, start, grown, freed = 0;

	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "f", 0644, 0, &ino), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	start = used_blocks(m);
	chmod_sync(m, ino, 1000);
	grown = used_blocks(m);
	HT_ASSERT_EQ(hmr_prune(m, &freed), 0);
	printf("  # used blocks: %llu at the start, %llu after 1,000 chmod + "
	       "sync, %llu after prune (it reports %llu freed)\n",
	       (unsigned long long)start, (unsigned long long)grown,
	       (unsigned long long)used_blocks(m), (unsigned long long)freed);
	HT_EXPECT_LE(used_blocks(m), start + 8);
	HT_EXPECT_GE(freed + start + 8, grown);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

/* Meta blocks in use and the live units they hold, from the freemap. */
static void meta_usage(struct hmr_mount *m, uint64_t *blocks, uint64_t *units)
{
	*blocks = *units = 0;
	for (uint64_t b = 0; b < m->nblocks; b++)
		if (m->fm[b] != HMR_FM_FREE && m->fm[b] <= HMR_FM_META_MAX) {
			(*blocks)++;
			*units += m->fm[b];
		}
}

/* Print the meta blocks and units of `m`, labelled; return the blocks. */
static uint64_t show_meta(struct hmr_mount *m, const char *when)
{
	uint64_t blocks, units;

	meta_usage(m, &blocks, &units);
	printf("  # %s: %llu used blocks, %llu meta blocks holding %llu "
	       "units\n", when, (unsigned long long)used_blocks(m),
	       (unsigned long long)blocks, (unsigned long long)units);
	return blocks;
}

/* The fewest meta blocks `units` units fit in, plus the open commit's
 * partly filled last block and one for rounding. */
static uint64_t packed(struct hmr_mount *m)
{
	uint64_t blocks, units;

	meta_usage(m, &blocks, &units);
	return (units + HMR_META_UNITS - 1) / HMR_META_UNITS + 2;
}

/* The file's mode as of `tid`. */
static uint16_t mode_asof(struct hmr_mount *m, uint64_t tid, uint64_t ino)
{
	struct hmr_stat st;

	HT_ASSERT_EQ(hmr_getattr(m, tid, ino, &st), 0);
	return (uint16_t)(st.mode & 07777);
}

/*
 * 1,000 chmod + sync and no prune: the history is kept, but its 1,000
 * inode versions (2 units each) need 32 blocks, not 1,000.  Reblock packs
 * them; the mode read as of every tenth TID is the same before and after,
 * and after a remount; fsck finds nothing.  Without reblocking the 1,000
 * blocks stay.
 */
HTEST(hmr_reblock, reblock_packs_the_history_of_1000_chmods)
{
	struct hmr_bdev *dev = tl_fresh_dev(8192);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t ino, tids[100], moved = 0, freed = 0, grown;
	uint16_t modes[100];

	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "f", 0644, 0, &ino), 0);
	for (int i = 0; i < 100; i++) {
		chmod_sync(m, ino, 10);
		HT_ASSERT_EQ(hmr_sync(m, &tids[i]), 0);
		modes[i] = mode_asof(m, tids[i], ino);
	}
	grown = show_meta(m, "after 1,000 chmod + sync");
	HT_ASSERT_EQ(hmr_reblock(m, &moved, &freed), 0);
	show_meta(m, "after reblock");
	printf("  # reblock moved %llu payloads, freed %llu blocks\n",
	       (unsigned long long)moved, (unsigned long long)freed);
	HT_EXPECT_GE(grown, 1000);
	HT_EXPECT_LE(show_meta(m, "now"), packed(m));
	HT_EXPECT_GE(freed, grown - packed(m) - 64); /* less new leaves */
	m = tl_remount(m, dev);
	for (int i = 0; i < 100; i++)
		HT_EXPECT_EQ(mode_asof(m, tids[i], ino), modes[i]);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

/*
 * Files created one commit each (an fsync per file, as fs_mark does):
 * every commit's meta block gets the file's inode and entry and a new
 * version of the directory.  Prune destroys the directory's old versions,
 * which leaves 300 blocks each holding one file's few live units; prune
 * then reblocks them, so after prune alone they fit in about 20 blocks
 * and the used blocks are back near where the files' own records need.
 * The live tree reads the same, fsck is clean, and a reblock right after
 * finds nothing to move.  (Prune without its reblock pass left 300.)
 */
HTEST(hmr_reblock, prune_packs_what_one_file_per_commit_leaves)
{
	struct hmr_bdev *dev = tl_fresh_dev(8192);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t ino, moved = 0, freed = 0, start, grown;
	char name[32], *before;

	start = used_blocks(m);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "file-%03d", i);
		HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, name, 0644, 0,
					&ino), 0);
		HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	}
	grown = show_meta(m, "after 300 creates, a sync each");
	before = tl_digest(m, 0);
	HT_ASSERT_EQ(hmr_prune(m, &freed), 0);
	show_meta(m, "after prune");
	printf("  # used blocks: %llu at the start, %llu after prune (it "
	       "reports %llu freed)\n", (unsigned long long)start,
	       (unsigned long long)used_blocks(m), (unsigned long long)freed);
	HT_EXPECT_GE(grown, 300);
	HT_EXPECT_LE(show_meta(m, "now"), packed(m));
	/* the files' 900 units need 15 blocks, their ~600 records 10 leaves */
	HT_EXPECT_LE(used_blocks(m), start + 40);
	HT_ASSERT_EQ(hmr_reblock(m, &moved, &freed), 0);
	HT_EXPECT_EQ(moved, 0);
	m = tl_remount(m, dev);
	char *after = tl_digest(m, 0);
	HT_EXPECT_STREQ(after, before);
	free(after), free(before);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

/*
 * Reblocking gives space back, so it runs on a volume ordinary writes
 * filled: 300 files created a commit each (300 sparse meta blocks, their
 * history kept), then one file written until ENOSPC.  Reblock, in the
 * reclaiming class, packs the blocks and the free space grows by more
 * than 250 blocks; in the ordinary class it could not start (ENOSPC,
 * nothing moved).  Then prune, also on the full volume.
 */
HTEST(hmr_reblock, reblock_and_prune_work_on_a_full_volume)
{
	struct hmr_bdev *dev = tl_fresh_dev(2048);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t ino, big, moved = 0, freed = 0, off = 0, full;
	static uint8_t chunk[64 * 1024];
	char name[32], *before, *after;
	int error;

	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "file-%03d", i);
		HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, name, 0644, 0,
					&ino), 0);
		HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	}
	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "big", 0644, 0, &big), 0);
	memset(chunk, 0x6b, sizeof(chunk));
	while ((error = hmr_write(m, 0, big, off, chunk, sizeof(chunk))) == 0)
		off += sizeof(chunk);
	HT_ASSERT_EQ(error, ENOSPC);
	while (hmr_write(m, 0, big, off, chunk, 4096) == 0)
		off += 4096;
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	full = used_blocks(m);
	before = tl_digest(m, 0);
	printf("  # full: %llu of 2048 blocks used, the big file %llu KiB\n",
	       (unsigned long long)full, (unsigned long long)(off / 1024));
	error = hmr_reblock(m, &moved, &freed);
	printf("  # reblock: error %d, %llu moved, %llu blocks freed\n", error,
	       (unsigned long long)moved, (unsigned long long)freed);
	HT_EXPECT_EQ(error, 0);
	HT_EXPECT_GE(moved, 600);
	HT_EXPECT_GE(freed, 250);
	after = tl_digest(m, 0);
	HT_EXPECT_STREQ(after, before);
	free(after);
	HT_EXPECT_EQ(hmr_prune(m, &freed), 0);
	after = tl_digest(m, 0);
	HT_EXPECT_STREQ(after, before);
	free(after), free(before);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

/*
 * An allocation that fails part way (the test hook makes the tenth one
 * ENOSPC) stops reblock with ENOSPC: the batch it struck is undone, the
 * batches before it are committed, and nothing reads differently; fsck
 * is clean.  A second reblock then finishes the job.
 */
HTEST(hmr_reblock, a_failed_allocation_stops_reblock_and_changes_nothing_seen)
{
	struct hmr_bdev *dev = tl_fresh_dev(8192);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t ino, moved = 0, freed = 0;
	struct hmr_statfs st0, st1;
	char name[32], *before, *after;

	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "file-%03d", i);
		HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, name, 0644, 0,
					&ino), 0);
		HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	}
	before = tl_digest(m, 0);
	HT_ASSERT_EQ(hmr_statfs(m, &st0), 0);
	hmr_alloc_fail_countdown = 10;
	HT_EXPECT_EQ(hmr_reblock(m, &moved, &freed), ENOSPC);
	hmr_alloc_fail_countdown = 0;
	HT_ASSERT_EQ(hmr_statfs(m, &st1), 0);
	HT_EXPECT_GT(st1.commit_tid, st0.commit_tid); /* the first batch */
	printf("  # stopped after %llu moves, %llu blocks freed\n",
	       (unsigned long long)moved, (unsigned long long)freed);
	HT_EXPECT_GT(moved, 0);
	HT_EXPECT_LT(moved, 1501);
	after = tl_digest(m, 0);
	HT_EXPECT_STREQ(after, before);
	free(after);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	HT_ASSERT_EQ(hmr_reblock(m, &moved, &freed), 0);
	HT_EXPECT_GT(moved, 0);
	HT_EXPECT_LE(show_meta(m, "after the second reblock"), packed(m));
	m = tl_remount(m, dev);
	after = tl_digest(m, 0);
	HT_EXPECT_STREQ(after, before);
	free(after), free(before);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

/* Leaves of the tree, and pairs of sibling leaves whose elements would
 * fit in 55 (what reblock merges), by walking the tree. */
static void leaf_usage(struct hmr_mount *m, uint64_t *leaves,
		       uint64_t *mergeable)
{
	struct hmr_cursor c;
	struct hmr_base zero;
	uint64_t last = 0, last_parent = 0;
	int error, last_count = 0;

	memset(&zero, 0, sizeof(zero));
	*leaves = *mergeable = 0;
	for (error = hmr_bt_seek(m, &zero, &c); !error; error = hmr_bt_next(&c)) {
		int leaf = c.nlevels - 1;
		uint64_t blk = c.path[leaf].buf->blkno;
		uint64_t parent = leaf > 0 ? c.path[leaf - 1].buf->blkno : 0;
		int count = hmr_buf_node(c.path[leaf].buf)->count;

		if (blk == last)
			continue;
		*mergeable += *leaves > 0 && parent == last_parent &&
			      last_count + count <= 55;
		(*leaves)++;
		last = blk, last_parent = parent, last_count = count;
	}
	HT_EXPECT_EQ(error, ENOENT);
}

/*
 * 200 files chmod-ed in 6 rounds, a commit per round, a snapshot after
 * the third: each file's inode versions sit side by side, so prune's
 * destroying the unpinned ones leaves the leaves that held them about a
 * seventh full.  Prune then merges sibling leaves whose elements fit in
 * 55, until no such pair is left (a run of sparse leaves becomes a few
 * full ones), and the live view and the snapshot's view read the same,
 * after a remount too; fsck is clean.  (Without prune's reblock pass 31
 * leaves with 25 mergeable pairs stayed.)
 */
HTEST(hmr_reblock, prune_merges_the_leaves_it_leaves_sparse)
{
	struct hmr_bdev *dev = tl_fresh_dev(8192);
	struct hmr_mount *m = tl_mount(dev);
	struct hmr_setattr sa = { .valid = HMR_SET_MODE };
	uint64_t inos[200], snap = 0, leaves, pairs, full, full_pairs;
	char name[32], *live, *old, *now;

	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "file-%03d", i);
		HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, name, 0644, 0,
					&inos[i]), 0);
	}
	for (int round = 0; round < 6; round++) {
		sa.mode = (uint16_t)(0600 + round);
		for (int i = 0; i < 200; i++)
			HT_ASSERT_EQ(hmr_setattr(m, 0, inos[i], &sa), 0);
		HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
		if (round == 2)
			HT_ASSERT_EQ(hmr_snapshot_create(m, "s", &snap), 0);
	}
	live = tl_digest(m, 0), old = tl_digest(m, snap);
	leaf_usage(m, &full, &full_pairs);
	HT_ASSERT_EQ(hmr_prune(m, NULL), 0);
	leaf_usage(m, &leaves, &pairs);
	printf("  # leaves: %llu before prune (%llu mergeable pairs), %llu "
	       "after (%llu pairs, %llu merges)\n",
	       (unsigned long long)full, (unsigned long long)full_pairs,
	       (unsigned long long)leaves, (unsigned long long)pairs,
	       (unsigned long long)hmr_counters(m)->leaves_merged);
	HT_EXPECT_GE(hmr_counters(m)->leaves_merged, 10);
	HT_EXPECT_EQ(pairs, 0);
	HT_EXPECT_LE(leaves + 10, full);
	m = tl_remount(m, dev);
	now = tl_digest(m, 0);
	HT_EXPECT_STREQ(now, live);
	free(now);
	now = tl_digest(m, snap);
	HT_EXPECT_STREQ(now, old);
	free(now), free(live), free(old);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}
