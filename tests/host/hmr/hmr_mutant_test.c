/*
 * hmr_mutant_test.c - B-tree and commit edges the other HMR tests did not
 * reach (fs/hmr/hmr_btree.c, fs/hmr/hmr_alloc.c).
 *
 *   hmr_btree_edges  the unrolled search of a leaf whose records share a
 *                    prefix finds the first version of a key, whatever the
 *                    leaf's shape; a key equal to the separator a split
 *                    just made goes right (and is refused as a duplicate);
 *   hmr_lost_write   a freemap block whose write was lost (the super that
 *                    names it landed) is caught by the whole-freemap CRC,
 *                    and the mount falls back to the previous commit.
 *
 * Written for `make mutate` (tests/mutants.txt): each test catches a
 * one-line breakage the older tests let through.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"
#include "hmr_private.h"

/* A mount whose tree holds nothing: mkfs's records deleted, never
 * committed (the mount is abandoned after the test). */
static struct hmr_mount *empty_tree(struct hmr_bdev *dev)
{
	struct hmr_mount *m = tl_mount(dev);
	struct hmr_base all[64], lo = { 0 };
	struct hmr_cursor c;
	int n = 0;

	for (int e = hmr_bt_seek(m, &lo, &c); !e && n < 64; e = hmr_bt_next(&c))
		all[n++] = hmr_bt_elm(&c)->base;
	for (int i = 0; i < n; i++)
		HT_ASSERT_EQ(hmr_bt_delete(m, &all[i]), 0);
	HT_ASSERT_EQ(hmr_bt_seek(m, &lo, &c), ENOENT);
	return m;
}

static struct hmr_elm record(uint64_t key, uint64_t tid)
{
	struct hmr_elm e = { 0 };

	e.base.localization = 9;
	e.base.obj_id = 7;
	e.base.rec_type = 3;
	e.base.key = key;
	e.base.create_tid = tid;
	return e;
}

/* Seek (key, tid) and return the create_tid found there (0: elsewhere). */
static uint64_t version_at(struct hmr_mount *m, uint64_t key, uint64_t tid)
{
	struct hmr_elm probe = record(key, tid);
	struct hmr_cursor c;

	if (hmr_bt_seek(m, &probe.base, &c) != 0 ||
	    hmr_bt_elm(&c)->base.key != key)
		return 0;
	return hmr_bt_elm(&c)->base.create_tid;
}

/*
 * One leaf: nver versions of key 100 (tids 1..nver), then ntail later
 * keys.  All share the prefix, so the search takes the unrolled path,
 * which picks a power-of-two window by one probe: equal keys (versions)
 * straddling that probe must not make it skip the first version.
 */
HTEST(hmr_btree_edges, every_version_is_found_in_a_uniform_leaf_of_any_shape)
{
	int wrong = 0;

	for (int nver = 1; nver <= 9; nver++) {
		for (int ntail = 0; ntail <= 9; ntail++) {
			struct hmr_bdev *dev = tl_fresh_dev(256);
			struct hmr_mount *m = empty_tree(dev);

			for (int v = 1; v <= nver; v++) {
				struct hmr_elm e = record(100, (uint64_t)v);

				HT_ASSERT_EQ(hmr_bt_insert(m, &e), 0);
			}
			for (int t = 0; t < ntail; t++) {
				struct hmr_elm e = record(200 + t, 1);

				HT_ASSERT_EQ(hmr_bt_insert(m, &e), 0);
			}
			for (int v = 0; v <= nver; v++) {
				uint64_t want = v == 0 ? 1 : (uint64_t)v;

				if (version_at(m, 100, (uint64_t)v) != want &&
				    wrong++ < 5)
					printf("  # %d versions + %d keys: "
					       "seek tid %d found tid %llu\n",
					       nver, ntail, v,
					       (unsigned long long)version_at(
						       m, 100, (uint64_t)v));
			}
			hmr_mount_abandon(m);
			hmr_bdev_close(dev);
		}
	}
	HT_EXPECT_EQ(wrong, 0);
}

/* The leaf that holds key, through a cursor. */
static struct hmr_node *leaf_of(struct hmr_mount *m, uint64_t key)
{
	struct hmr_elm probe = record(key, 0);
	struct hmr_cursor c;

	HT_ASSERT_EQ(hmr_bt_seek(m, &probe.base, &c), 0);
	return hmr_buf_node(c.path[c.nlevels - 1].buf);
}

/*
 * Two leaves under a root; the right one full.  Inserting a copy of the
 * record that becomes its separator splits it on the way down, and the
 * insert must follow the key to the right half, where it already is.
 */
HTEST(hmr_btree_edges, a_duplicate_of_a_fresh_separator_is_refused)
{
	struct hmr_bdev *dev = tl_fresh_dev(256);
	struct hmr_mount *m = empty_tree(dev);
	uint64_t key = 0;
	struct hmr_node *leaf;
	struct hmr_elm dup;
	struct hmr_base lo = { 0 };
	struct hmr_cursor c;
	int count = 0;

	do {				/* ascending keys: the right leaf fills */
		struct hmr_elm e = record(++key * 10, 1);

		HT_ASSERT_EQ(hmr_bt_insert(m, &e), 0);
		leaf = leaf_of(m, key * 10);
	} while (m->root_level == 0 || leaf->count < HMR_LEAF_MAX);
	dup.base = leaf->elms[leaf->count / 2].base;	/* the next separator */
	HT_EXPECT_EQ(hmr_bt_insert(m, &dup), EEXIST);
	for (int e = hmr_bt_seek(m, &lo, &c); !e; e = hmr_bt_next(&c))
		count++;
	HT_EXPECT_EQ(count, (int)key);
	hmr_mount_abandon(m);
	hmr_bdev_close(dev);
}

/*
 * Commits alternate between two freemap copies.  Save copy c as commit
 * T-1 left it, let commit T+1 rewrite it, put the old bytes back: the
 * block is well formed (its own CRC, generation and place all check), only
 * the CRC of the whole freemap in commit T+1's super tells it is stale.
 * The mount must not trust it: it falls back to commit T.
 */
HTEST(hmr_lost_write, a_stale_freemap_block_makes_the_mount_fall_back)
{
	struct hmr_bdev *dev = tl_fresh_dev(1024);
	struct hmr_mount *m = tl_mount(dev);
	static uint8_t saved[HMR_BLOCK_SIZE];
	uint64_t t, fmblk, ino;
	uint8_t *disk = hmr_bdev_mem_bytes(dev);

	HT_ASSERT_EQ(tl_put(m, "a", "first", 5), 0);
	HT_ASSERT_EQ(hmr_sync(m, &t), 0);		/* commit T */
	fmblk = hmr_freemap_first(m, (int)((t + 1) & 1));
	memcpy(saved, disk + fmblk * HMR_BLOCK_SIZE, HMR_BLOCK_SIZE);
	HT_ASSERT_EQ(tl_put(m, "b", "second", 6), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);		/* commit T + 1 */
	HT_ASSERT_EQ(m->durable_tid, t + 1);
	HT_ASSERT_TRUE(memcmp(saved, disk + fmblk * HMR_BLOCK_SIZE,
			      HMR_BLOCK_SIZE) != 0);
	hmr_mount_abandon(m);
	memcpy(disk + fmblk * HMR_BLOCK_SIZE, saved, HMR_BLOCK_SIZE);

	m = tl_mount(dev);
	HT_EXPECT_EQ(m->durable_tid, t);
	HT_EXPECT_GE(hmr_counters(m)->super_fallbacks, 1);
	HT_EXPECT_EQ(tl_walk(m, 0, "a", &ino), 0);
	HT_EXPECT_EQ(tl_walk(m, 0, "b", &ino), ENOENT);
	hmr_mount_abandon(m);
	hmr_bdev_close(dev);
}
