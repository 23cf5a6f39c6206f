/*
 * hmr_read_test.c - the read path: lookups whose cost does not grow with
 * history, and the buffer cache's budget.  Costs are counted (B-tree
 * descents, nodes and records a search touches, buffers cached), never
 * timed, so the tests say the same on a loaded machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"
#include "hmr_private.h"

/* ---- lookups and history ---- */

/* What one getattr + lookup cost, from the mount's counters. */
struct cost {
	uint64_t searches, nodes, records;
	int depth;
};

/* Run a lookup of `name` in the root and a getattr of what it names (the
 * pair `ls -l` and stat(2) issue) as of asof; return what they touched. */
static struct cost lookup_cost(struct hmr_mount *m, uint64_t asof,
			       const char *name)
{
	const struct hmr_counters *k = hmr_counters(m);
	struct hmr_counters before = *k;
	struct hmr_stat st;
	uint64_t ino;

	HT_ASSERT_EQ(hmr_lookup(m, asof, HMR_OBJID_ROOT, name, &ino, NULL), 0);
	HT_ASSERT_EQ(hmr_getattr(m, asof, ino, &st), 0);
	return (struct cost){ k->searches - before.searches,
			      k->nodes_visited - before.nodes_visited,
			      k->records_visited - before.records_visited,
			      m->root_level + 1 };
}

/* Give /f `n` more versions: each commit rewrites its first byte, which
 * makes a new version of its inode and of its data block. */
static void add_versions(struct hmr_mount *m, uint64_t ino, int n,
			 uint64_t *first_tid)
{
	for (int i = 0; i < n; i++) {
		uint8_t byte = (uint8_t)i;

		HT_ASSERT_EQ(hmr_write(m, 0, ino, 0, &byte, 1), 0);
		HT_ASSERT_EQ(hmr_sync(m, i == 0 ? first_tid : NULL), 0);
	}
}

/* Print a cost and what it is made of. */
static void show(const char *what, struct cost c)
{
	printf("  # %s: %llu descents, %llu nodes, %llu records, depth %d\n",
	       what, (unsigned long long)c.searches,
	       (unsigned long long)c.nodes, (unsigned long long)c.records,
	       c.depth);
}

/* Same number of descents, of records stepped over, and of nodes beyond
 * the descents themselves (sideways steps between leaves). */
static void expect_same_cost(struct cost a, struct cost b)
{
	HT_EXPECT_EQ(b.searches, a.searches);
	HT_EXPECT_EQ(b.records, a.records);
	HT_EXPECT_EQ(b.nodes - b.searches * (uint64_t)b.depth,
		     a.nodes - a.searches * (uint64_t)a.depth);
}

/*
 * getattr + lookup of a file with 10 versions and with 10,000: the live
 * view and an as-of view in the middle of its history must cost the same
 * number of descents and records (a descent is one root-to-leaf path,
 * whose length is the tree's depth, which may grow by one meanwhile).
 * The old lookup walked forward from the oldest version: 10,000 versions
 * made it step over 10,000 inode and 10,000 data records.
 */
HTEST(hmr_history, lookup_cost_does_not_grow_with_versions)
{
	struct hmr_bdev *dev = tl_fresh_dev(32768);
	struct hmr_mount *m = tl_mount(dev);
	struct cost live10, asof10, live_many, asof_many;
	uint64_t ino, tid10, tid_mid;
	char name[32];

	for (int i = 0; i < 300; i++) { /* neighbours on both sides */
		snprintf(name, sizeof(name), "n%03d", i);
		HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, name, 0644, 0, &ino), 0);
	}
	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "f", 0644, 0, &ino), 0);
	HT_ASSERT_EQ(hmr_write(m, 0, ino, 0, "x", 1), 0);
	add_versions(m, ino, 10, &tid10);
	live10 = lookup_cost(m, 0, "f");
	asof10 = lookup_cost(m, tid10 + 5, "f");
	add_versions(m, ino, 5000, &tid_mid);
	add_versions(m, ino, 4990, NULL);
	live_many = lookup_cost(m, 0, "f");
	asof_many = lookup_cost(m, tid_mid + 2000, "f");
	show("live, 10 versions", live10);
	show("live, 10,000 versions", live_many);
	show("as of, 10 versions", asof10);
	show("as of, 10,000 versions", asof_many);
	expect_same_cost(live10, live_many);
	expect_same_cost(asof10, asof_many);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

/* ---- the two searches against a reference ---- */

/* A (key, create_tid) pair, as the tree orders them. */
struct kt {
	uint64_t key, tid;
};

/* qsort order of pairs: key, then create_tid - the tree's order for
 * elements that share localization, object and type. */
static int kt_cmp(const void *a, const void *b)
{
	const struct kt *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* The element a test record of (key, tid) has: one object, one type. */
static struct hmr_elm kt_elm(struct kt k)
{
	struct hmr_elm e = { 0 };

	e.base.localization = 9, e.base.obj_id = 7, e.base.rec_type = 3;
	e.base.key = k.key, e.base.create_tid = k.tid;
	return e;
}

/* Index of the last pair <= p in the sorted array, or -1. */
static long ref_floor(const struct kt *v, long n, struct kt p)
{
	long lo = 0, hi = n; /* first index > p */

	while (lo < hi) {
		long mid = (lo + hi) / 2;

		if (kt_cmp(&v[mid], &p) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

/* Fill a tree with runs of versions (up to 200 of one key, so runs span
 * leaves), then delete a random half: leaves then start above the bound
 * their parent gives them, which is where the floor search must step
 * back a leaf.  Returns the sorted pairs that remain; *n their count. */
static struct kt *versioned_tree(struct hmr_mount *m, uint64_t *seed, long *n)
{
	long cap = 8000, live = 0;
	struct kt *v = malloc((size_t)cap * sizeof(*v));

	for (long i = 0; i < cap;) {
		uint64_t key = (tl_rand(seed) % 400) * 5;
		long run = 1 + (long)(tl_rand(seed) % 200);

		for (long j = 0; j < run && i < cap; j++, i++)
			v[i] = (struct kt){ key, 10 + i };
	}
	for (long i = 0; i < cap; i++) {
		struct hmr_elm e = kt_elm(v[i]);

		HT_ASSERT_EQ(hmr_bt_insert(m, &e), 0);
	}
	for (long i = 0; i < cap; i++) {
		struct hmr_elm e = kt_elm(v[i]);

		if (tl_rand(seed) & 1)
			HT_ASSERT_EQ(hmr_bt_delete(m, &e.base), 0);
		else
			v[live++] = v[i];
	}
	qsort(v, (size_t)live, sizeof(*v), kt_cmp);
	*n = live;
	return v;
}

/*
 * hmr_bt_seek_le must land on the last element <= the probe and
 * hmr_bt_seek on the first >= it, for probes with a create_tid (the
 * (key, create_tid) search inside nodes) and without.  Each is checked
 * against a binary search over the sorted pairs.
 */
HTEST(hmr_btree, seek_le_lands_on_the_last_pair_not_above_the_probe)
{
	struct hmr_bdev *dev = tl_fresh_dev(4096);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t seed = htest_seed() ^ 0xf100, steps_back = 0;
	long n;
	struct kt *v;

	printf("  # seed=0x%llx\n", (unsigned long long)seed);
	v = versioned_tree(m, &seed, &n);
	printf("  # %ld pairs, depth %d\n", n, m->root_level + 1);
	/* Probes cover every key and TID range the tree holds, and a little
	 * beyond both ends; a floor search that enters more nodes than one
	 * descent has stepped back a leaf, which must happen sometimes. */
	for (int probe = 0; probe < 20000; probe++) {
		struct kt p = { (tl_rand(&seed) % 2010), tl_rand(&seed) % 8020 };
		struct hmr_elm k = kt_elm(p);
		struct hmr_cursor c;
		long want = ref_floor(v, n, p);
		uint64_t before = hmr_counters(m)->nodes_visited;
		int error = hmr_bt_seek_le(m, &k.base, &c);

		steps_back += hmr_counters(m)->nodes_visited - before >
			      (uint64_t)m->root_level + 1;
		if (want < 0) {
			HT_ASSERT_TRUE(error == ENOENT ||
				       hmr_bt_elm(&c)->base.localization != 9);
		} else {
			HT_ASSERT_EQ(error, 0);
			HT_ASSERT_EQ(hmr_bt_elm(&c)->base.key, v[want].key);
			HT_ASSERT_EQ(hmr_bt_elm(&c)->base.create_tid, v[want].tid);
		}
		/* and the lower bound: the pair after the floor, or the
		 * floor itself when it equals the probe */
		long first = want >= 0 && kt_cmp(&v[want], &p) == 0 ? want : want + 1;
		error = hmr_bt_seek(m, &k.base, &c);
		if (first < n) {
			HT_ASSERT_EQ(error, 0);
			HT_ASSERT_EQ(hmr_bt_elm(&c)->base.key, v[first].key);
			HT_ASSERT_EQ(hmr_bt_elm(&c)->base.create_tid, v[first].tid);
		}
	}
	printf("  # %llu floor searches stepped back a leaf\n",
	       (unsigned long long)steps_back);
	HT_EXPECT_GT(steps_back, 0);
	free(v);
	hmr_mount_abandon(m);
	hmr_bdev_close(dev);
}
