/*
 * hmr_thread_test.c - the HMR core used from several threads at once.
 *
 * This binary is built with ThreadSanitizer (-fsanitize=thread), which
 * reports any two accesses to one memory word from two threads that no
 * lock or atomic orders, even when the timing of this run happened to be
 * harmless.  A report stops the binary in the test that caused it
 * (halt_on_error below), so a race is a failed test, not a warning.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"
#include "hmr_private.h"

/* TSan reads its options from here before main(): stop at the first
 * report, so the test running at that moment is the one blamed. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "halt_on_error=1:exitcode=66";
}

/* ---- CRC tables: built once, whoever asks first ---- */

#define CRC_THREADS 4

static pthread_barrier_t crc_start;
static uint32_t crc_seen[CRC_THREADS];

static void *crc_worker(void *arg)
{
	uint32_t *out = arg;

	pthread_barrier_wait(&crc_start);
	*out = hmr_crc32c(0, "123456789", 9);
	return NULL;
}

/*
 * Several threads make the process's very first CRC calls together (this
 * suite registers first in this binary, so nothing has built the tables
 * yet).  They must all get the standard CRC32C check value, and TSan must
 * see the tables built and published under the once-guard.
 */
HTEST(hmr_crc_first_use, concurrent_first_calls_build_the_tables_once)
{
	pthread_t t[CRC_THREADS];

	pthread_barrier_init(&crc_start, NULL, CRC_THREADS);
	for (int i = 0; i < CRC_THREADS; i++)
		pthread_create(&t[i], NULL, crc_worker, &crc_seen[i]);
	for (int i = 0; i < CRC_THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&crc_start);
	for (int i = 0; i < CRC_THREADS; i++)
		HT_EXPECT_EQ(crc_seen[i], 0xE3069283u); /* RFC 3720 check value */
}

/* ---- readers and a commit in progress ---- */

#include <errno.h>
#include <semaphore.h>
#include <time.h>

/*
 * A device whose next flush, once armed, stops until the test lets it go:
 * the first flush of a commit comes after its blocks and freemap are
 * written and before its superblock, so a commit stopped there is in the
 * middle of its I/O.  `held` is posted when the flush stops; posting
 * `release` lets it go on.
 */
struct gate {
	struct hmr_bdev dev;
	struct hmr_bdev *inner;
	int armed;
	sem_t held, release;
};

static int gate_read(struct hmr_bdev *d, uint64_t blk, void *buf)
{
	struct gate *g = (struct gate *)d;

	return g->inner->read(g->inner, blk, buf);
}

static int gate_write(struct hmr_bdev *d, uint64_t blk, const void *buf)
{
	struct gate *g = (struct gate *)d;

	return g->inner->write(g->inner, blk, buf);
}

static int gate_flush(struct hmr_bdev *d)
{
	struct gate *g = (struct gate *)d;

	if (__atomic_exchange_n(&g->armed, 0, __ATOMIC_ACQ_REL)) {
		sem_post(&g->held);
		sem_wait(&g->release);
	}
	return g->inner->flush(g->inner);
}

/* Wait for s at most `seconds`: 0, or ETIMEDOUT.  Only a deadlock
 * detector: in a passing run the wait ends at once. */
static int wait_for(sem_t *s, int seconds)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += seconds;
	while (sem_timedwait(s, &t) != 0)
		if (errno == ETIMEDOUT)
			return ETIMEDOUT;
	return 0;
}

struct during {
	struct hmr_mount *m;
	uint64_t dir, file, tid;
	int error;
	char data[16];
	size_t got;
	int entries;
	sem_t done;
};

static void *committer_thread(void *arg)
{
	struct during *c = arg;

	c->error = hmr_sync(c->m, &c->tid);
	return NULL;
}

static int count_one(void *arg, const struct hmr_dirent *d)
{
	(void)d;
	(*(int *)arg)++;
	return 0;
}

/* Everything a reader does: lookups, getattr, read, readdir, statfs. */
static void *reader_thread(void *arg)
{
	struct during *r = arg;
	struct hmr_stat st;
	struct hmr_statfs sf;
	uint64_t ino;
	int e = hmr_lookup(r->m, 0, HMR_OBJID_ROOT, "d", &ino, NULL);

	if (!e)
		e = hmr_lookup(r->m, 0, ino, "f", &r->file, NULL);
	if (!e)
		e = hmr_getattr(r->m, 0, r->file, &st);
	if (!e)
		e = hmr_read(r->m, 0, r->file, 0, r->data, sizeof(r->data),
			     &r->got);
	if (!e)
		e = hmr_readdir(r->m, 0, ino, 0, count_one, &r->entries);
	if (!e)
		e = hmr_statfs(r->m, &sf);
	r->error = e;
	sem_post(&r->done);
	return NULL;
}

static void *writer_thread(void *arg)
{
	struct during *w = arg;

	w->error = hmr_create(w->m, 0, w->dir, "g", 0644, 0, &w->file);
	return NULL;
}

/*
 * A commit stopped in the middle of its I/O (between writing its blocks
 * and its superblock) holds up no reader: lookups, getattr, a read, a
 * readdir and statfs all finish, and see the state being committed.  A
 * change started meanwhile waits for the commit and lands in the next
 * one: its inode carries the TID after the one being written.  Before,
 * one lock covered the whole commit and the reader waited for the disk.
 */
HTEST(hmr_thread, readers_finish_while_a_commit_is_held_mid_io)
{
	struct hmr_bdev *mem = tl_fresh_dev(2048);
	struct gate g = { .dev = { mem->nblocks, NULL, gate_read, gate_write,
				   gate_flush }, .inner = mem };
	struct during c = { 0 }, r = { 0 }, w = { 0 };
	struct hmr_stat st;
	pthread_t tc, tr, tw;
	uint64_t d, f;

	sem_init(&g.held, 0, 0), sem_init(&g.release, 0, 0);
	sem_init(&r.done, 0, 0);
	HT_ASSERT_EQ(hmr_mount(&g.dev, 0, 0, &c.m), 0);
	r.m = w.m = c.m;
	HT_ASSERT_EQ(hmr_mkdir(c.m, 0, HMR_OBJID_ROOT, "d", 0755, &d), 0);
	HT_ASSERT_EQ(hmr_create(c.m, 0, d, "f", 0644, 0, &f), 0);
	HT_ASSERT_EQ(hmr_sync(c.m, NULL), 0);
	HT_ASSERT_EQ(hmr_write(c.m, 0, f, 0, "committing", 10), 0);
	__atomic_store_n(&g.armed, 1, __ATOMIC_RELEASE);
	pthread_create(&tc, NULL, committer_thread, &c);
	HT_ASSERT_EQ(wait_for(&g.held, 60), 0); /* the commit is mid-I/O */
	pthread_create(&tr, NULL, reader_thread, &r);
	int reader = wait_for(&r.done, 60);
	w.dir = d;
	pthread_create(&tw, NULL, writer_thread, &w);
	sem_post(&g.release);
	pthread_join(tc, NULL), pthread_join(tr, NULL), pthread_join(tw, NULL);
	HT_EXPECT_EQ(reader, 0); /* ETIMEDOUT: the reader waited for the disk */
	HT_EXPECT_EQ(r.error, 0);
	HT_EXPECT_EQ(r.got, 10);
	HT_EXPECT_TRUE(memcmp(r.data, "committing", 10) == 0);
	HT_EXPECT_EQ(r.entries, 3); /* ".", "..", "f" */
	HT_EXPECT_EQ(c.error, 0);
	HT_EXPECT_EQ(w.error, 0);
	HT_ASSERT_EQ(hmr_getattr(c.m, 0, w.file, &st), 0);
	HT_EXPECT_EQ(st.create_tid, c.tid + 1);
	HT_EXPECT_EQ(hmr_unmount(c.m), 0);
	HT_EXPECT_EQ(tl_fsck(mem, 1), 0);
	hmr_bdev_close(mem);
}

/* ---- many threads at once ---- */

#define MIX_READERS 3
#define MIX_ROUNDS 150

#define MIX_BIG_BLOCKS 256 /* a file larger than the cache budget */

struct mix {
	struct hmr_mount *m;
	uint64_t dir, big;
	int stop, errors;
	uint64_t seed;
};

/* A reader: look names up, stat, read and list, as `ls -l; cat` would.
 * ENOENT is expected (the writer renames and unlinks); anything else
 * but success is an error. */
static void *mix_reader(void *arg)
{
	struct mix *x = arg;
	uint64_t seed = __atomic_fetch_add(&x->seed, 77, __ATOMIC_RELAXED);
	char name[16], buf[64];

	for (int i = 0; i < MIX_ROUNDS; i++) {
		struct hmr_stat st;
		uint64_t ino;
		size_t got;
		int n = 0, e;

		snprintf(name, sizeof(name), "f%d", (int)(tl_rand(&seed) % 20));
		e = hmr_lookup(x->m, 0, x->dir, name, &ino, NULL);
		if (!e)
			e = hmr_getattr(x->m, 0, ino, &st);
		if (!e)
			e = hmr_read(x->m, 0, ino, 0, buf, sizeof(buf), &got);
		if (!e)
			e = hmr_readdir(x->m, 0, x->dir, 0, count_one, &n);
		if (e && e != ENOENT)
			__atomic_fetch_add(&x->errors, 1, __ATOMIC_RELAXED);
		/* A block of the big file: the readers sweep more blocks
		 * than the budget holds, so they evict, whatever the
		 * commits do meanwhile. */
		if (hmr_read(x->m, 0, x->big, (uint64_t)(tl_rand(&seed) %
			     MIX_BIG_BLOCKS) * HMR_BLOCK_SIZE, buf,
			     sizeof(buf), &got) != 0)
			__atomic_fetch_add(&x->errors, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* The writer: create, write, rename and unlink among 20 names. */
static void *mix_writer(void *arg)
{
	struct mix *x = arg;
	uint64_t seed = 99;
	char a[16], b[16];

	for (int i = 0; i < MIX_ROUNDS; i++) {
		uint64_t ino;

		snprintf(a, sizeof(a), "f%d", (int)(tl_rand(&seed) % 20));
		snprintf(b, sizeof(b), "f%d", (int)(tl_rand(&seed) % 20));
		if (hmr_create(x->m, 0, x->dir, a, 0644, 0, &ino) == 0)
			hmr_write(x->m, 0, ino, 0, a, sizeof(a));
		hmr_rename(x->m, 0, x->dir, a, 0, x->dir, b);
		if (i % 3 == 0)
			hmr_unlink(x->m, 0, x->dir, b);
	}
	__atomic_store_n(&x->stop, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The syncer: commit while the writer runs. */
static void *mix_syncer(void *arg)
{
	struct mix *x = arg;

	while (!__atomic_load_n(&x->stop, __ATOMIC_ACQUIRE))
		if (hmr_sync(x->m, NULL) != 0)
			__atomic_fetch_add(&x->errors, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* /big: MIX_BIG_BLOCKS blocks, committed; returns its inode number. */
static uint64_t mix_big_file(struct hmr_mount *m)
{
	static uint8_t block[HMR_BLOCK_SIZE];
	uint64_t ino;

	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "big", 0644, 0, &ino), 0);
	for (uint64_t b = 0; b < MIX_BIG_BLOCKS; b++) {
		block[0] = (uint8_t)b;
		HT_ASSERT_EQ(hmr_write(m, 0, ino, b * HMR_BLOCK_SIZE, block,
				       sizeof(block)), 0);
	}
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	return ino;
}

/*
 * Three readers, a writer and a syncer on one mount whose cache budget is
 * tiny, and readers that also sweep a file larger than it (so evictions
 * happen while the others run, also while commits write):
 * ThreadSanitizer sees no unordered access, no call fails but with
 * ENOENT, and the image is clean afterwards.  The work is counted in
 * rounds, not time.
 */
HTEST(hmr_thread, readers_writer_and_syncer_together_stay_consistent)
{
	struct hmr_bdev *dev = tl_fresh_dev(4096);
	struct mix x = { .seed = 1 };
	pthread_t r[MIX_READERS], w, s;
	uint64_t evicted;

	x.m = tl_mount(dev);
	x.m->cache_max = HMR_CACHE_STEP + 32;
	HT_ASSERT_EQ(hmr_mkdir(x.m, 0, HMR_OBJID_ROOT, "d", 0755, &x.dir), 0);
	x.big = mix_big_file(x.m);
	evicted = hmr_counters(x.m)->cache_evictions;
	for (int i = 0; i < MIX_READERS; i++)
		pthread_create(&r[i], NULL, mix_reader, &x);
	pthread_create(&w, NULL, mix_writer, &x);
	pthread_create(&s, NULL, mix_syncer, &x);
	for (int i = 0; i < MIX_READERS; i++)
		pthread_join(r[i], NULL);
	pthread_join(w, NULL), pthread_join(s, NULL);
	printf("  # %llu commits, %llu evictions\n",
	       (unsigned long long)hmr_counters(x.m)->commits,
	       (unsigned long long)hmr_counters(x.m)->cache_evictions);
	HT_EXPECT_EQ(x.errors, 0);
	HT_EXPECT_GT(hmr_counters(x.m)->cache_evictions, evicted);
	HT_EXPECT_EQ(hmr_unmount(x.m), 0);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}
