/*
 * hmr_unit_test.c - unit tests of the HMR core and the spec's behaviours
 * that need no kernel (named behaviour_NN_...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"
#include "hmr_private.h"

HTEST(hmr_btree, insert_and_find_many_keys_in_order)
{
	struct hmr_bdev *dev = tl_fresh_dev(4096);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t seed = htest_seed(), n = 5000;

	printf("  # seed=0x%llx\n", (unsigned long long)seed);
	for (uint64_t i = 0; i < n; i++) {
		struct hmr_elm e = { 0 };

		e.base.localization = 9;
		e.base.obj_id = 7;
		e.base.rec_type = 3;
		e.base.key = tl_rand(&seed) | 1;
		e.base.create_tid = m->tid;
		HT_ASSERT_EQ(hmr_bt_insert(m, &e), 0);
	}
	HT_EXPECT_GE(m->root_level, 1);
	struct hmr_base k = { .localization = 9 };
	struct hmr_cursor c;
	uint64_t count = 0, last = 0;
	int error;
	for (error = hmr_bt_seek(m, &k, &c); !error; error = hmr_bt_next(&c)) {
		if (hmr_bt_elm(&c)->base.localization != 9)
			break;
		HT_ASSERT_TRUE(count == 0 || hmr_bt_elm(&c)->base.key > last);
		last = hmr_bt_elm(&c)->base.key;
		count++;
	}
	HT_EXPECT_EQ(count, n);
	hmr_mount_abandon(m);
	hmr_bdev_close(dev);
}

/* ---- helpers ---- */

static uint8_t *pattern(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len + 1);

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(tl_rand(&seed) >> 13);
	return p;
}

static int count_entries(void *arg, const struct hmr_dirent *d)
{
	(void)d;
	(*(int *)arg)++;
	return 0;
}

/* ---- the spec's behaviours ---- */

HTEST(hmr_behaviour, b01_fresh_image_is_empty_and_statfs_counts)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	struct hmr_statfs sf;
	int n = 0;

	HT_ASSERT_EQ(hmr_readdir(m, 0, HMR_OBJID_ROOT, 0, count_entries, &n), 0);
	HT_EXPECT_EQ(n, 2); /* "." and ".." only */
	HT_ASSERT_EQ(hmr_statfs(m, &sf), 0);
	/* static = block 0, 2 superblocks, 2 freemap copies of 1 block */
	HT_EXPECT_EQ(sf.free_blocks, 1000 - 5 - 2);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

HTEST(hmr_behaviour, b02_files_read_back_identical_after_remount)
{
	struct hmr_bdev *dev = tl_fresh_dev(8192);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t d;
	size_t sizes[] = { 0, 1, 4095, 4096, 4097, 100000 };
	char path[64];

	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "dir", 0755, &d), 0);
	for (int i = 0; i < 6; i++) {
		uint8_t *p = pattern(sizes[i], (uint64_t)i);
		snprintf(path, sizeof(path), "dir/f%d", i);
		HT_ASSERT_EQ(tl_put(m, path, p, sizes[i]), 0);
		free(p);
	}
	m = tl_remount(m, dev);
	for (int i = 0; i < 6; i++) {
		uint8_t *p = pattern(sizes[i], (uint64_t)i), *got;
		size_t len;
		snprintf(path, sizeof(path), "dir/f%d", i);
		HT_ASSERT_EQ(tl_get(m, 0, path, &got, &len), 0);
		HT_EXPECT_EQ(len, sizes[i]);
		HT_EXPECT_MEMEQ(got, p, sizes[i]);
		free(p), free(got);
	}
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

HTEST(hmr_behaviour, b09_asof_read_returns_overwritten_data)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t tid1, ino, asof;
	uint8_t *got;
	size_t len;
	char name[64];

	HT_ASSERT_EQ(tl_put(m, "f", "AAAA", 4), 0);
	HT_ASSERT_EQ(hmr_sync(m, &tid1), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "f", &ino), 0);
	HT_ASSERT_EQ(hmr_write(m, 0, ino, 0, "BBBB", 4), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_ASSERT_EQ(tl_get(m, tid1, "f", &got, &len), 0);
	HT_EXPECT_MEMEQ(got, "AAAA", 4);
	free(got);
	HT_ASSERT_EQ(tl_get(m, 0, "f", &got, &len), 0);
	HT_EXPECT_MEMEQ(got, "BBBB", 4);
	free(got);
	/* the same through the name@@0x<tid> syntax */
	snprintf(name, sizeof(name), "f@@0x%016llx", (unsigned long long)tid1);
	HT_ASSERT_EQ(hmr_lookup(m, 0, HMR_OBJID_ROOT, name, &ino, &asof), 0);
	HT_EXPECT_EQ(asof, tid1);
	uint8_t buf[8];
	HT_ASSERT_EQ(hmr_read(m, asof, ino, 0, buf, 4, &len), 0);
	HT_EXPECT_MEMEQ(buf, "AAAA", 4);
	hmr_unmount(m);
	/* and through an as-of mount */
	HT_ASSERT_EQ(hmr_mount(dev, 0, tid1, &m), 0);
	HT_ASSERT_EQ(tl_get(m, 0, "f", &got, &len), 0);
	HT_EXPECT_MEMEQ(got, "AAAA", 4);
	free(got);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

HTEST(hmr_behaviour, b10_file_deleted_after_snapshot_is_readable_at_it)
{
	struct hmr_bdev *dev = tl_fresh_dev(2000);
	struct hmr_mount *m = tl_mount(dev);
	uint8_t *p = pattern(10000, 3), *got;
	uint64_t snap, ino;
	size_t len;

	HT_ASSERT_EQ(tl_put(m, "doomed", p, 10000), 0);
	HT_ASSERT_EQ(hmr_snapshot_create(m, "before", &snap), 0);
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "doomed"), 0);
	HT_ASSERT_EQ(hmr_prune(m, NULL), 0);
	HT_EXPECT_EQ(tl_walk(m, 0, "doomed", &ino), ENOENT);
	HT_ASSERT_EQ(tl_get(m, snap, "doomed", &got, &len), 0);
	HT_EXPECT_EQ(len, 10000);
	HT_EXPECT_MEMEQ(got, p, 10000);
	int n = 0;
	HT_ASSERT_EQ(hmr_readdir(m, snap, HMR_OBJID_ROOT, 0, count_entries, &n), 0);
	HT_EXPECT_EQ(n, 3);
	free(got), free(p);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

HTEST(hmr_behaviour, b11_asof_views_are_read_only)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t tid, ino, d;
	struct hmr_setattr sa = { .valid = HMR_SET_MODE, .mode = 0600 };

	HT_ASSERT_EQ(tl_put(m, "f", "x", 1), 0);
	HT_ASSERT_EQ(hmr_sync(m, &tid), 0);
	hmr_unmount(m);
	HT_ASSERT_EQ(hmr_mount(dev, 0, tid, &m), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "f", &ino), 0);
	HT_EXPECT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "g", 0644, 0, &d), EROFS);
	HT_EXPECT_EQ(hmr_write(m, 0, ino, 0, "y", 1), EROFS);
	HT_EXPECT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "f"), EROFS);
	HT_EXPECT_EQ(hmr_setattr(m, 0, ino, &sa), EROFS);
	HT_EXPECT_EQ(hmr_rename(m, 0, HMR_OBJID_ROOT, "f", 0, HMR_OBJID_ROOT, "h"), EROFS);
	HT_EXPECT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d", 0755, &d), EROFS);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

HTEST(hmr_behaviour, b13_prune_keeps_every_snapshot_view)
{
	struct hmr_bdev *dev = tl_fresh_dev(4000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t seed = htest_seed(), snaps[8];
	char *views[8];
	int nsnap = 0;

	printf("  # seed=0x%llx\n", (unsigned long long)seed);
	for (int round = 0; round < 40; round++) {
		char path[16];
		size_t len = tl_rand(&seed) % 9000;
		uint8_t *p = pattern(len, seed);

		snprintf(path, sizeof(path), "f%d", (int)(tl_rand(&seed) % 5));
		if (tl_rand(&seed) % 4 == 0)
			hmr_unlink(m, 0, HMR_OBJID_ROOT, path);
		else
			HT_ASSERT_EQ(tl_put(m, path, p, len), 0);
		free(p);
		if (tl_rand(&seed) % 3 == 0)
			hmr_sync(m, NULL);
		if (round % 6 == 5 && nsnap < 8) {
			HT_ASSERT_EQ(hmr_snapshot_create(m, "s", &snaps[nsnap]), 0);
			views[nsnap] = tl_digest(m, snaps[nsnap]);
			nsnap++;
		}
	}
	HT_ASSERT_EQ(hmr_snapshot_delete(m, snaps[1]), 0);
	uint64_t freed = 0;
	HT_ASSERT_EQ(hmr_prune(m, &freed), 0);
	HT_EXPECT_GT(freed, 0);
	m = tl_remount(m, dev);
	for (int i = 0; i < nsnap; i++) {
		if (i == 1)
			continue;
		char *now = tl_digest(m, snaps[i]);
		HT_EXPECT_STREQ(now, views[i]);
		free(now);
	}
	for (int i = 0; i < nsnap; i++)
		free(views[i]);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

HTEST(hmr_behaviour, b14_prune_reclaims_a_deleted_10mib_file)
{
	struct hmr_bdev *dev = tl_fresh_dev(8192);
	struct hmr_mount *m = tl_mount(dev);
	uint8_t *p = pattern(10 << 20, 1);
	uint64_t snap, freed = 0;

	HT_ASSERT_EQ(tl_put(m, "big", p, 10 << 20), 0);
	HT_ASSERT_EQ(hmr_snapshot_create(m, "s", &snap), 0);
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "big"), 0);
	HT_ASSERT_EQ(hmr_prune(m, &freed), 0);
	HT_EXPECT_LT(freed, 100); /* the snapshot still pins it */
	HT_ASSERT_EQ(hmr_snapshot_delete(m, snap), 0);
	HT_ASSERT_EQ(hmr_prune(m, &freed), 0);
	HT_EXPECT_GE(freed, 2560);
	HT_ASSERT_EQ(hmr_prune(m, &freed), 0);
	HT_EXPECT_EQ(freed, 0);
	free(p);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

HTEST(hmr_behaviour, b16_hard_links_share_data_and_count)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t f, d;
	struct hmr_stat st;
	uint8_t *got;
	size_t len;

	HT_ASSERT_EQ(tl_put(m, "f", "hello", 5), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "f", &f), 0);
	HT_ASSERT_EQ(hmr_link(m, 0, f, 0, HMR_OBJID_ROOT, "g"), 0);
	HT_ASSERT_EQ(hmr_getattr(m, 0, f, &st), 0);
	HT_EXPECT_EQ(st.nlinks, 2);
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "f"), 0);
	HT_ASSERT_EQ(tl_get(m, 0, "g", &got, &len), 0);
	HT_EXPECT_MEMEQ(got, "hello", 5);
	free(got);
	m = tl_remount(m, dev);
	HT_ASSERT_EQ(hmr_getattr(m, 0, f, &st), 0);
	HT_EXPECT_EQ(st.nlinks, 1);
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d", 0755, &d), 0);
	HT_EXPECT_EQ(hmr_link(m, 0, d, 0, HMR_OBJID_ROOT, "d2"), EPERM);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

struct seen {
	uint8_t *hit;
	int n, dup;
	uint64_t last_cookie;
	int stop_after;
};

static int seen_fill(void *arg, const struct hmr_dirent *d)
{
	struct seen *s = arg;
	int idx;

	s->last_cookie = d->cookie;
	if (d->name[0] == '.')
		return 0;
	idx = atoi(d->name + 1);
	s->dup += s->hit[idx]++ != 0;
	s->n++;
	return s->stop_after && s->n % s->stop_after == 0;
}

static void large_dir(uint32_t mask, int n)
{
	struct hmr_bdev *dev = tl_fresh_dev(8192);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t dir, ino;
	char name[32];

	hmr_dirhash_mask = mask;
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "big", 0755, &dir), 0);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		HT_ASSERT_EQ(hmr_create(m, 0, dir, name, 0644, 0, &ino), 0);
	}
	m = tl_remount(m, dev);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		HT_ASSERT_EQ(hmr_lookup(m, 0, dir, name, &ino, NULL), 0);
	}
	/* readdir in chunks of 97, resuming from each cookie, across a remount */
	struct seen s = { .hit = calloc((size_t)n, 1), .stop_after = 97 };
	uint64_t cookie = 0;
	do {
		int before = s.n;
		HT_ASSERT_EQ(hmr_readdir(m, 0, dir, cookie, seen_fill, &s), 0);
		if (s.n == before)
			break;
		cookie = s.last_cookie;
		m = tl_remount(m, dev);
	} while (s.n < n);
	HT_EXPECT_EQ(s.n, n);
	HT_EXPECT_EQ(s.dup, 0);
	free(s.hit);
	hmr_dirhash_mask = 0;
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

HTEST(hmr_behaviour, b17_large_directory_lookups_and_stable_cookies)
{
	large_dir(0, 10000);
}

HTEST(hmr_behaviour, b17_forced_hash_collisions_resolve_through_iterator)
{
	large_dir(0x3, 2000);
}

HTEST(hmr_behaviour, b18_big_file_and_tree_depth_3)
{
	struct hmr_bdev *dev = tl_fresh_dev(20000);
	struct hmr_mount *m = tl_mount(dev);
	size_t size = 64u << 20, chunk = 1 << 20;
	uint8_t *p = pattern(chunk, 9), *got = malloc(chunk);
	uint64_t ino;
	size_t len;

	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "big", 0644, 0, &ino), 0);
	for (size_t off = 0; off < size; off += chunk) {
		p[0] = (uint8_t)(off >> 20);
		HT_ASSERT_EQ(hmr_write(m, 0, ino, off, p, chunk), 0);
	}
	m = tl_remount(m, dev);
	HT_EXPECT_GE(m->root_level, 2);
	for (size_t off = 0; off < size; off += chunk) {
		p[0] = (uint8_t)(off >> 20);
		HT_ASSERT_EQ(hmr_read(m, 0, ino, off, got, chunk, &len), 0);
		HT_ASSERT_EQ(hmr_crc32c(0, got, chunk), hmr_crc32c(0, p, chunk));
	}
	free(p), free(got);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

HTEST(hmr_behaviour, b19_sparse_files_and_truncate)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t ino, tid;
	struct hmr_stat st;
	struct hmr_statfs a, b;
	uint8_t buf[8192];
	size_t len;

	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "s", 0644, 0, &ino), 0);
	HT_ASSERT_EQ(hmr_statfs(m, &a), 0);
	HT_ASSERT_EQ(hmr_write(m, 0, ino, 1ull << 30, "end", 3), 0);
	HT_ASSERT_EQ(hmr_getattr(m, 0, ino, &st), 0);
	HT_EXPECT_EQ(st.size, (1ull << 30) + 3);
	HT_EXPECT_EQ(st.blocks, 1);
	HT_ASSERT_EQ(hmr_statfs(m, &b), 0);
	HT_EXPECT_LT(a.free_blocks - b.free_blocks, 8);
	HT_ASSERT_EQ(hmr_read(m, 0, ino, 12345678, buf, 100, &len), 0);
	for (int i = 0; i < 100; i++)
		HT_ASSERT_EQ(buf[i], 0);
	/* truncate down mid-block, sync, then back up: the tail reads zeros */
	memset(buf, 'x', sizeof(buf));
	HT_ASSERT_EQ(tl_put(m, "t", buf, 8192), 0);
	HT_ASSERT_EQ(hmr_sync(m, &tid), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "t", &ino), 0);
	struct hmr_setattr sa = { .valid = HMR_SET_SIZE, .size = 100 };
	HT_ASSERT_EQ(hmr_setattr(m, 0, ino, &sa), 0);
	sa.size = 8192;
	HT_ASSERT_EQ(hmr_setattr(m, 0, ino, &sa), 0);
	HT_ASSERT_EQ(hmr_read(m, 0, ino, 0, buf, 8192, &len), 0);
	HT_EXPECT_EQ(buf[99], 'x');
	HT_EXPECT_EQ(buf[100], 0);
	HT_EXPECT_EQ(buf[8191], 0);
	HT_ASSERT_EQ(hmr_read(m, tid, ino, 0, buf, 8192, &len), 0);
	HT_EXPECT_EQ(buf[8191], 'x'); /* as of before the truncate */
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

HTEST(hmr_behaviour, b20_enospc_is_clean_and_recoverable)
{
	struct hmr_bdev *dev = tl_fresh_dev(600);
	struct hmr_mount *m = tl_mount(dev);
	uint8_t *p = pattern(65536, 4);
	uint8_t *keep = pattern(5000, 5), *got;
	char name[32];
	int i, error = 0;
	size_t len;

	HT_ASSERT_EQ(tl_put(m, "keep", keep, 5000), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	for (i = 0; i < 100 && !error; i++) {
		snprintf(name, sizeof(name), "fill%d", i);
		error = tl_put(m, name, p, 65536);
	}
	HT_EXPECT_EQ(error, ENOSPC);
	HT_ASSERT_EQ(tl_get(m, 0, "keep", &got, &len), 0);
	HT_EXPECT_MEMEQ(got, keep, 5000);
	free(got);
	m = tl_remount(m, dev);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	for (int j = 0; j < i; j++) {
		snprintf(name, sizeof(name), "fill%d", j);
		hmr_unlink(m, 0, HMR_OBJID_ROOT, name);
	}
	HT_ASSERT_EQ(hmr_prune(m, NULL), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_EXPECT_EQ(tl_put(m, "again", p, 65536), 0);
	free(p), free(keep);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

struct snaps {
	uint64_t t[8];
	int n;
};

static int collect_snap(void *arg, const struct hmr_snapshot *x)
{
	struct snaps *ss = arg;

	if (ss->n < 8)
		ss->t[ss->n++] = x->tid;
	return 0;
}

HTEST(hmr_behaviour, b21_everything_removed_and_pruned_frees_all)
{
	struct hmr_bdev *dev = tl_fresh_dev(4000);
	struct hmr_mount *m = tl_mount(dev);
	struct hmr_statfs fresh, after;
	uint64_t d, snap;
	char name[32];

	HT_ASSERT_EQ(hmr_statfs(m, &fresh), 0);
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d", 0755, &d), 0);
	for (int i = 0; i < 200; i++) {
		uint8_t *p = pattern((size_t)i * 97, (uint64_t)i);
		snprintf(name, sizeof(name), "d/f%d", i);
		HT_ASSERT_EQ(tl_put(m, name, p, (size_t)i * 97), 0);
		free(p);
		if (i % 50 == 0)
			HT_ASSERT_EQ(hmr_snapshot_create(m, "s", &snap), 0);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		HT_ASSERT_EQ(hmr_unlink(m, 0, d, name), 0);
	}
	HT_ASSERT_EQ(hmr_rmdir(m, 0, HMR_OBJID_ROOT, "d"), 0);
	struct snaps s = { .n = 0 };
	HT_ASSERT_EQ(hmr_snapshot_list(m, collect_snap, &s), 0);
	HT_EXPECT_EQ(s.n, 4);
	for (int i = 0; i < s.n; i++)
		HT_ASSERT_EQ(hmr_snapshot_delete(m, s.t[i]), 0);
	HT_ASSERT_EQ(hmr_prune(m, NULL), 0);
	HT_ASSERT_EQ(hmr_prune(m, NULL), 0); /* the snapshot records too */
	m = tl_remount(m, dev);
	HT_ASSERT_EQ(hmr_statfs(m, &after), 0);
	HT_EXPECT_EQ(after.free_blocks, fresh.free_blocks);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

/* A device that counts writes, for the read-only test. */
static int writes_seen;
static int (*real_write)(struct hmr_bdev *, uint64_t, const void *);
static int counting_write(struct hmr_bdev *d, uint64_t b, const void *buf)
{
	writes_seen++;
	return real_write(d, b, buf);
}

HTEST(hmr_behaviour, b24_read_only_and_asof_mounts_write_nothing)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t tid;

	HT_ASSERT_EQ(tl_put(m, "f", "data", 4), 0);
	HT_ASSERT_EQ(hmr_sync(m, &tid), 0);
	hmr_unmount(m);
	real_write = dev->write;
	dev->write = counting_write;
	writes_seen = 0;
	for (int asof = 0; asof < 2; asof++) {
		HT_ASSERT_EQ(hmr_mount(dev, HMR_MNT_RDONLY, asof ? tid : 0, &m), 0);
		char *d = tl_digest(m, 0);
		free(d);
		HT_ASSERT_EQ(hmr_unmount(m), 0);
	}
	HT_EXPECT_EQ(writes_seen, 0);
	dev->write = real_write;
	hmr_bdev_close(dev);
}

HTEST(hmr_behaviour, b27_format_constants_and_golden_image)
{
	struct hmr_bdev *dev = tl_fresh_dev(4032 + 10);
	const uint8_t *img = hmr_bdev_mem_bytes(dev);
	const uint8_t *sb = img + 2 * HMR_BLOCK_SIZE; /* commit 1 -> slot B */
	uint64_t v;

	HT_EXPECT_EQ(sizeof(struct hmr_node), 4096);
	HT_EXPECT_EQ(sizeof(struct hmr_elm), 64);
	HT_EXPECT_EQ(sizeof(struct hmr_base), 40);
	HT_EXPECT_EQ(sizeof(struct hmr_super), 4096);
	HT_EXPECT_EQ(sizeof(struct hmr_inode_data), 128);
	/* decode the superblock by raw offsets, as docs/hmr.md draws it */
	HT_EXPECT_EQ(memcmp(sb, "HMRS", 4), 0);
	memcpy(&v, sb + 0x08, 8); HT_EXPECT_EQ(v, 2);         /* blkno */
	memcpy(&v, sb + 0x10, 8); HT_EXPECT_EQ(v, 1);         /* generation */
	memcpy(&v, sb + 0x28, 8); HT_EXPECT_EQ(v, 4042);      /* nblocks */
	memcpy(&v, sb + 0x38, 8); HT_EXPECT_EQ(v, 2);         /* next_obj_id */
	HT_EXPECT_EQ(sb[0x60], 2);                            /* freemap blocks */
	HT_EXPECT_EQ(memcmp(sb + 0x78, "test", 5), 0);        /* label */
	uint32_t crc;
	memcpy(&crc, sb + 4, 4);
	HT_EXPECT_EQ(crc, hmr_block_crc(sb));
	/* slot A and block 0 are zero; freemap copy 1 marks statics 0xFE */
	for (int i = 0; i < HMR_BLOCK_SIZE; i++)
		HT_ASSERT_EQ(img[HMR_BLOCK_SIZE + i] | img[i], 0);
	const uint8_t *fm1 = img + 5 * HMR_BLOCK_SIZE;
	HT_EXPECT_EQ(memcmp(fm1, "HMRF", 4), 0);
	for (int b = 0; b < 7; b++)
		HT_EXPECT_EQ(fm1[0x40 + b], 0xFE);
	/* root leaf then meta block: the first two allocatable blocks */
	HT_EXPECT_EQ(fm1[0x40 + 7], 0xFF);
	HT_EXPECT_EQ(fm1[0x40 + 8], 2); /* one 128-byte inode = 2 units */
	memcpy(&v, sb + 0x40, 8); HT_EXPECT_EQ(v, 7);          /* root_blkno */
	const uint8_t *root = img + 7 * HMR_BLOCK_SIZE;
	HT_EXPECT_EQ(memcmp(root, "HMRN", 4), 0);
	HT_EXPECT_EQ(root[0x20], 1);   /* count */
	HT_EXPECT_EQ(root[0x22], 'L'); /* type */
	memcpy(&v, root + 0x40, 8); HT_EXPECT_EQ(v, 1);        /* obj_id */
	hmr_bdev_close(dev);
}

HTEST(hmr_errors, names_and_types_give_the_spec_errors)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t d, f, x;
	char longname[300];

	memset(longname, 'n', 299);
	longname[299] = 0;
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d", 0755, &d), 0);
	HT_ASSERT_EQ(hmr_create(m, 0, d, "f", 0644, 0, &f), 0);
	HT_EXPECT_EQ(hmr_create(m, 0, d, "f", 0644, 0, &x), EEXIST);
	HT_EXPECT_EQ(hmr_create(m, 0, f, "g", 0644, 0, &x), ENOTDIR);
	HT_EXPECT_EQ(hmr_create(m, 0, d, longname, 0644, 0, &x), ENAMETOOLONG);
	HT_EXPECT_EQ(hmr_lookup(m, 0, d, "nope", &x, NULL), ENOENT);
	HT_EXPECT_EQ(hmr_rmdir(m, 0, HMR_OBJID_ROOT, "d"), ENOTEMPTY);
	HT_EXPECT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "d"), EISDIR);
	HT_EXPECT_EQ(hmr_rmdir(m, 0, d, "f"), ENOTDIR);
	HT_EXPECT_EQ(hmr_write(m, 0, d, 0, "x", 1), EISDIR);
	HT_EXPECT_EQ(hmr_rename(m, 0, HMR_OBJID_ROOT, "d", 0, d, "sub"), EINVAL);
	HT_ASSERT_EQ(hmr_mkdir(m, 0, d, "e", 0755, &x), 0);
	HT_EXPECT_EQ(hmr_rename(m, 0, HMR_OBJID_ROOT, "d", 0, x, "deeper"), EINVAL);
	HT_EXPECT_EQ(hmr_rename(m, 0, d, "f", 0, d, "e"), EISDIR);
	HT_EXPECT_EQ(hmr_rename(m, 0, d, "e", 0, d, "f"), ENOTDIR);
	HT_EXPECT_EQ(hmr_symlink(m, 0, d, "l", "", &x), ENOENT);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

HTEST(hmr_vops, rename_replaces_moves_and_keeps_link_counts)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t a, b, c, ino;
	struct hmr_stat st;
	uint8_t *got;
	size_t len;

	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "a", 0755, &a), 0);
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "b", 0755, &b), 0);
	HT_ASSERT_EQ(hmr_mkdir(m, 0, a, "c", 0755, &c), 0);
	HT_ASSERT_EQ(tl_put(m, "a/x", "old", 3), 0);
	HT_ASSERT_EQ(tl_put(m, "b/y", "new", 3), 0);
	HT_ASSERT_EQ(hmr_rename(m, 0, b, "y", 0, a, "x"), 0);
	HT_ASSERT_EQ(tl_get(m, 0, "a/x", &got, &len), 0);
	HT_EXPECT_MEMEQ(got, "new", 3);
	free(got);
	HT_EXPECT_EQ(tl_walk(m, 0, "b/y", &ino), ENOENT);
	HT_ASSERT_EQ(hmr_rename(m, 0, a, "c", 0, b, "c2"), 0);
	HT_ASSERT_EQ(hmr_getattr(m, 0, a, &st), 0);
	HT_EXPECT_EQ(st.nlinks, 2);
	HT_ASSERT_EQ(hmr_getattr(m, 0, b, &st), 0);
	HT_EXPECT_EQ(st.nlinks, 3);
	HT_ASSERT_EQ(tl_walk(m, 0, "b/c2/..", &ino), 0);
	HT_EXPECT_EQ(ino, b);
	char target[200];
	memset(target, 'T', 199);
	target[199] = 0;
	HT_ASSERT_EQ(hmr_symlink(m, 0, a, "long", target, &ino), 0);
	HT_ASSERT_EQ(hmr_symlink(m, 0, a, "short", "x", &ino), 0);
	m = tl_remount(m, dev);
	char buf[300];
	HT_ASSERT_EQ(tl_walk(m, 0, "a/long", &ino), 0);
	HT_ASSERT_EQ(hmr_readlink(m, 0, ino, buf, sizeof(buf), &len), 0);
	HT_EXPECT_EQ(len, 199);
	HT_EXPECT_MEMEQ(buf, target, 199);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

static int hist_count(void *arg, uint64_t tid, uint32_t ts, const char *w)
{
	(void)tid, (void)ts, (void)w;
	(*(int *)arg)++;
	return 0;
}

HTEST(hmr_vops, history_lists_each_commit_that_changed_a_file)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t ino;
	int n = 0;

	HT_ASSERT_EQ(tl_put(m, "f", "1", 1), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "f", &ino), 0);
	for (int i = 0; i < 3; i++) {
		HT_ASSERT_EQ(hmr_write(m, 0, ino, 0, "2", 1), 0);
		HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	}
	HT_ASSERT_EQ(hmr_history(m, ino, hist_count, &n), 0);
	HT_EXPECT_EQ(n, 4);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

HTEST(hmr_vops, unlinked_open_file_lives_until_release_and_orphans_pruned)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t ino;
	uint8_t buf[4];
	size_t len;
	struct hmr_stat st;

	HT_ASSERT_EQ(tl_put(m, "f", "abcd", 4), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "f", &ino), 0);
	HT_ASSERT_EQ(hmr_open(m, ino), 0);
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "f"), 0);
	HT_ASSERT_EQ(hmr_read(m, 0, ino, 0, buf, 4, &len), 0);
	HT_EXPECT_MEMEQ(buf, "abcd", 4);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	/* crash with the orphan open: fsck reports it, prune removes it */
	hmr_mount_abandon(m);
	HT_EXPECT_EQ(tl_fsck(dev, 0), 1);
	m = tl_mount(dev);
	HT_ASSERT_EQ(hmr_prune(m, NULL), 0);
	HT_EXPECT_EQ(hmr_getattr(m, 0, ino, &st), ENOENT);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	/* the normal path: release destroys it */
	m = tl_mount(dev);
	HT_ASSERT_EQ(tl_put(m, "g", "x", 1), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "g", &ino), 0);
	HT_ASSERT_EQ(hmr_open(m, ino), 0);
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "g"), 0);
	HT_ASSERT_EQ(hmr_release(m, ino), 0);
	HT_EXPECT_EQ(hmr_getattr(m, 0, ino, &st), ENOENT);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

HTEST(hmr_commit, small_update_writes_few_blocks)
{
	struct hmr_bdev *dev = tl_fresh_dev(20000);
	struct hmr_mount *m = tl_mount(dev);
	char name[32];
	uint64_t ino;

	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, name, 0644, 0, &ino), 0);
	}
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_ASSERT_EQ(hmr_write(m, 0, ino, 0, "x", 1), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	uint64_t blocks = hmr_counters(m)->last_commit_blocks;
	printf("  # blocks written by a 1-byte write commit: %llu (depth %d)\n",
	       (unsigned long long)blocks, m->root_level + 1);
	/* data + meta + a leaf per record path + freemap + super */
	HT_EXPECT_LE(blocks, 4 + 2 * (uint64_t)(m->root_level + 1) + 2);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

HTEST(hmr_btree, seek_lands_on_the_smallest_key_not_below_the_probe)
{
	struct hmr_bdev *dev = tl_fresh_dev(4096);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t seed = htest_seed() ^ 0x5ee4, n = 6000, *keys = malloc(n * 8);

	printf("  # seed=0x%llx\n", (unsigned long long)seed);
	for (uint64_t i = 0; i < n; i++) {
		struct hmr_elm e = { 0 };

		/* clustered keys, with duplicates as versions (create_tid) */
		keys[i] = (tl_rand(&seed) % 50000) * 3;
		e.base.localization = 9, e.base.obj_id = 7, e.base.rec_type = 3;
		e.base.key = keys[i];
		e.base.create_tid = m->tid;
		if (hmr_bt_insert(m, &e) == EEXIST) {
			e.base.create_tid = m->tid + 1 + i; /* another version */
			HT_ASSERT_EQ(hmr_bt_insert(m, &e), 0);
		}
	}
	qsort(keys, n, 8, cmp_u64);
	for (int probe = 0; probe < 20000; probe++) {
		struct hmr_base k = { .localization = 9, .obj_id = 7, .rec_type = 3 };
		struct hmr_cursor c;
		uint64_t lo = 0, hi = n;

		k.key = tl_rand(&seed) % 160000;
		while (lo < hi) { /* reference lower bound */
			uint64_t mid = (lo + hi) / 2;
			if (keys[mid] < k.key)
				lo = mid + 1;
			else
				hi = mid;
		}
		int error = hmr_bt_seek(m, &k, &c);
		if (lo == n) {
			HT_ASSERT_TRUE(error == ENOENT ||
				       hmr_bt_elm(&c)->base.localization != 9);
			continue;
		}
		HT_ASSERT_EQ(error, 0);
		HT_ASSERT_EQ(hmr_bt_elm(&c)->base.key, keys[lo]);
		/* the oldest version comes first: create_tid m->tid */
		HT_ASSERT_EQ(hmr_bt_elm(&c)->base.create_tid, m->tid);
	}
	free(keys);
	hmr_mount_abandon(m);
	hmr_bdev_close(dev);
}
