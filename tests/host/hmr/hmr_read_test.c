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

/* ---- the cache budget ---- */

/*
 * A device that checks the cache at every read: a read is a cache miss,
 * the only moment the number of cached blocks grows, so if the clean
 * buffers are within the budget at every read they always are.  It wraps
 * a memory device and knows the mount reading through it.
 */
struct watched {
	struct hmr_bdev dev;
	struct hmr_bdev *inner;
	struct hmr_mount *m; /* set once mounted */
	uint64_t reads, worst;
};

static int watched_read(struct hmr_bdev *d, uint64_t blk, void *buf)
{
	struct watched *w = (struct watched *)d;

	w->reads++;
	if (w->m != NULL && w->m->nbufs - w->m->ndirty > w->worst)
		w->worst = w->m->nbufs - w->m->ndirty;
	return w->inner->read(w->inner, blk, buf);
}

static int watched_write(struct hmr_bdev *d, uint64_t blk, const void *buf)
{
	struct watched *w = (struct watched *)d;

	return w->inner->write(w->inner, blk, buf);
}

static int watched_flush(struct hmr_bdev *d)
{
	struct watched *w = (struct watched *)d;

	return w->inner->flush(w->inner);
}

/* The byte at offset `off` of the big file. */
static uint8_t big_byte(uint64_t off)
{
	return (uint8_t)(off * 7 + off / 4096);
}

/* /big: `blocks` blocks of known bytes, written 1 MiB at a time. */
static void write_big(struct hmr_bdev *dev, uint64_t blocks)
{
	struct hmr_mount *m = tl_mount(dev);
	size_t chunk = 256 * HMR_BLOCK_SIZE;
	uint8_t *buf = malloc(chunk);
	uint64_t ino;

	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "big", 0644, 0, &ino), 0);
	for (uint64_t off = 0; off < blocks * HMR_BLOCK_SIZE; off += chunk) {
		for (size_t i = 0; i < chunk; i++)
			buf[i] = big_byte(off + i);
		HT_ASSERT_EQ(hmr_write(m, 0, ino, off, buf, chunk), 0);
	}
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	free(buf);
}

/* Read /big through `m` in `chunk`-byte calls; 1 if every byte is right. */
static int read_big(struct hmr_mount *m, uint64_t blocks, size_t chunk)
{
	uint8_t *buf = malloc(chunk);
	uint64_t ino;
	size_t got;
	int right = 1;

	HT_ASSERT_EQ(hmr_lookup(m, 0, HMR_OBJID_ROOT, "big", &ino, NULL), 0);
	for (uint64_t off = 0; off < blocks * HMR_BLOCK_SIZE; off += chunk) {
		HT_ASSERT_EQ(hmr_read(m, 0, ino, off, buf, chunk, &got), 0);
		for (size_t i = 0; i < got && right; i++)
			right = buf[i] == big_byte(off + i);
	}
	free(buf);
	return right;
}

/*
 * Reading four times the budget - on a read-only mount, in 128 KiB calls
 * (what FUSE sends) and in one call for the whole file - never caches
 * more clean buffers than HMR_CACHE_BUFS, checked at every device read;
 * fsck of the image stays within it too.  Before the budget, clean
 * buffers were trimmed only after a commit that wrote something, so a
 * read-only mount cached all it read.
 */
HTEST(hmr_cache, reading_four_times_the_budget_stays_within_it)
{
	uint64_t blocks = 4 * HMR_CACHE_BUFS;
	struct hmr_bdev *mem = tl_fresh_dev(blocks + 1024);
	struct watched w = { .dev = { mem->nblocks, NULL, watched_read,
				      watched_write, watched_flush },
			     .inner = mem };
	struct hmr_fsck_result res;

	write_big(mem, blocks);
	HT_ASSERT_EQ(hmr_mount(&w.dev, HMR_MNT_RDONLY, 0, &w.m), 0);
	HT_EXPECT_TRUE(read_big(w.m, blocks, 32 * HMR_BLOCK_SIZE));
	HT_EXPECT_TRUE(read_big(w.m, blocks, blocks * HMR_BLOCK_SIZE));
	printf("  # %llu device reads, at most %llu clean buffers (budget %d), "
	       "%llu evicted\n", (unsigned long long)w.reads,
	       (unsigned long long)w.worst, HMR_CACHE_BUFS,
	       (unsigned long long)hmr_counters(w.m)->cache_evictions);
	HT_EXPECT_GT(w.reads, 2 * blocks);
	HT_EXPECT_LE(w.worst, HMR_CACHE_BUFS);
	HT_EXPECT_LE(hmr_counters(w.m)->cache_clean_peak, HMR_CACHE_BUFS);
	hmr_unmount(w.m);
	w.m = NULL;
	HT_EXPECT_EQ(hmr_fsck(mem, 0, NULL, NULL, &res), 0);
	printf("  # fsck: at most %llu clean buffers\n",
	       (unsigned long long)res.cache_clean_peak);
	HT_EXPECT_LE(res.cache_clean_peak, HMR_CACHE_BUFS);
	hmr_bdev_close(mem);
}

/*
 * The dirty side of the budget: a commit starts when a VOP begins with
 * HMR_DIRTY_COMMIT_LIMIT dirty buffers, and a VOP through FUSE or the
 * kernel writes at most 128 KiB, so the dirty buffers never exceed the
 * limit plus one such VOP: 32 data blocks and the tree and meta blocks
 * it copies (bounded here by 64 more).  Writing 48 MiB without a sync,
 * 128 KiB at a time, the count after every call stays within that, and
 * the limit made commits on its own; clean buffers stay within theirs.
 */
HTEST(hmr_cache, writing_without_sync_stays_within_the_dirty_limit)
{
	struct hmr_bdev *dev = tl_fresh_dev(24576);
	struct hmr_mount *m = tl_mount(dev);
	static uint8_t chunk[128 * 1024];
	uint64_t ino, most = 0;

	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "big", 0644, 0, &ino), 0);
	memset(chunk, 0x3c, sizeof(chunk));
	for (uint64_t off = 0; off < 48ull << 20; off += sizeof(chunk)) {
		HT_ASSERT_EQ(hmr_write(m, 0, ino, off, chunk, sizeof(chunk)), 0);
		most = m->ndirty > most ? m->ndirty : most;
	}
	printf("  # most dirty buffers: %llu (limit %d), commits %llu, clean "
	       "peak %llu\n", (unsigned long long)most, HMR_DIRTY_COMMIT_LIMIT,
	       (unsigned long long)hmr_counters(m)->commits,
	       (unsigned long long)hmr_counters(m)->cache_clean_peak);
	HT_EXPECT_LE(most, HMR_DIRTY_COMMIT_LIMIT + 32 + 64);
	HT_EXPECT_GE(most, HMR_DIRTY_COMMIT_LIMIT);
	HT_EXPECT_GE(hmr_counters(m)->commits, 1);
	HT_EXPECT_LE(hmr_counters(m)->cache_clean_peak, HMR_CACHE_BUFS);
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	HT_EXPECT_EQ(tl_fsck(dev, 0), 0);
	hmr_bdev_close(dev);
}
