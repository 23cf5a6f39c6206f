/*
 * hmr_bench.c - B-tree lookup and insert cost, HMR against LMDB.
 *
 * hmr_bench NKEYS TMPDIR
 *
 * Both stores get the same NKEYS random 64-bit keys, inserted in one
 * transaction (HMR: one open commit; LMDB: one write txn), then looked up
 * in random order.  Each phase is bracketed by callgrind client requests
 * (zero the counters, dump them named after the phase), so running this
 * under `valgrind --tool=callgrind` (tools/hmr_bench.sh does) yields
 * instructions per operation - a count that does not depend on the
 * machine's load.  Outside callgrind the requests are no-ops and the
 * program prints wall-clock nanoseconds per operation instead.
 *
 * It also prints how many blocks one small commit writes (write
 * amplification): a single record changed in the 1M-record tree.
 *
 * History: one more key gets VERSIONS versions (create_tid 2, 4, 6, ...,
 * each deleted when the next is created), and NKEYS as-of lookups at
 * random odd TIDs - always between two versions, so the answer is the
 * version just before - are made with hmr_rec_find, the lookup every
 * getattr and read uses.  LMDB gets the same versions as 16-byte
 * big-endian (key, TID) keys and answers with a cursor: MDB_SET_RANGE to
 * the first pair >= (key, T), then MDB_PREV.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <valgrind/callgrind.h>

#include "hmr_bdev.h"
#include "hmr_private.h"

static uint64_t *keys;
static uint64_t nkeys;
static uint64_t *asof_tids; /* one random odd TID per as-of lookup */

#define VERSIONS 10000
#define VKEY 2ull /* even: no random key (all odd) collides with it */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Bracket one phase: callgrind dump named `name`, or wall time. */
static double phase_start;
static void begin(void)
{
	CALLGRIND_ZERO_STATS;
	phase_start = now_ns();
}
static void end(const char *name)
{
	double ns = now_ns() - phase_start;

	CALLGRIND_DUMP_STATS_AT(name);
	if (!RUNNING_ON_VALGRIND)
		printf("bench %s_ns %.1f\n", name, ns / (double)nkeys);
}

static void hmr_elm_for(struct hmr_mount *m, struct hmr_elm *e, uint64_t k)
{
	memset(e, 0, sizeof(*e));
	e->base.localization = HMR_LOCALIZE_MISC;
	e->base.obj_id = 1000;
	e->base.rec_type = HMR_REC_DATA;
	e->base.key = k;
	e->base.create_tid = m->tid;
}

static __attribute__((noinline)) void hmr_insert_all(struct hmr_mount *m)
{
	struct hmr_elm e;

	for (uint64_t i = 0; i < nkeys; i++) {
		hmr_elm_for(m, &e, keys[i]);
		if (hmr_bt_insert(m, &e) != 0)
			abort();
	}
}

static __attribute__((noinline)) uint64_t hmr_lookup_all(struct hmr_mount *m,
							  const uint64_t *order)
{
	struct hmr_base k = { .localization = HMR_LOCALIZE_MISC,
			      .obj_id = 1000, .rec_type = HMR_REC_DATA };
	struct hmr_cursor c;
	uint64_t found = 0;

	for (uint64_t i = 0; i < nkeys; i++) {
		k.key = order[i];
		found += hmr_bt_seek(m, &k, &c) == 0 &&
			 hmr_bt_elm(&c)->base.key == order[i];
	}
	return found;
}

/* VERSIONS versions of VKEY: version v created at TID 2v, deleted at
 * 2v + 2 (the last one live). */
static void hmr_add_versions(struct hmr_mount *m)
{
	struct hmr_elm e;

	for (uint64_t v = 1; v <= VERSIONS; v++) {
		hmr_elm_for(m, &e, VKEY);
		e.base.create_tid = 2 * v;
		e.base.delete_tid = v < VERSIONS ? 2 * v + 2 : 0;
		if (hmr_bt_insert(m, &e) != 0)
			abort();
	}
}

/* NKEYS as-of lookups of VKEY through hmr_rec_find; each must find the
 * version created just before its TID.  Returns how many did. */
static __attribute__((noinline)) uint64_t hmr_asof_all(struct hmr_mount *m)
{
	struct hmr_base k = { .localization = HMR_LOCALIZE_MISC,
			      .obj_id = 1000, .rec_type = HMR_REC_DATA,
			      .key = VKEY };
	struct hmr_elm e;
	uint64_t found = 0;

	for (uint64_t i = 0; i < nkeys; i++)
		found += hmr_rec_find(m, asof_tids[i], &k, &e) == 0 &&
			 e.base.create_tid == asof_tids[i] - 1;
	return found;
}

/* The history row: as-of lookups of a key with VERSIONS versions. */
static void bench_hmr_versions(struct hmr_mount *m)
{
	hmr_add_versions(m);
	begin();
	uint64_t found = hmr_asof_all(m);
	end("hmr_asof_10000_versions");
	if (found != nkeys)
		abort();
}

static void bench_hmr(const uint64_t *order)
{
	uint64_t nblocks = nkeys / 20 + 4096;
	struct hmr_bdev *dev = hmr_bdev_mem_create(nblocks);
	struct hmr_mount *m;

	if (!dev || hmr_mkfs(dev, "bench", 1) || hmr_mount(dev, 0, 0, &m))
		abort();
	/* The benchmark measures the search, not the device: give the
	 * cache room for the whole tree (the default budget is 8 MiB). */
	m->cache_max = nblocks;
	begin();
	hmr_insert_all(m);
	end("hmr_btree_insert");
	if (hmr_sync(m, NULL) != 0)
		abort();
	printf("info hmr tree depth %d after %llu inserts\n", m->root_level + 1,
	       (unsigned long long)nkeys);
	begin();
	uint64_t found = hmr_lookup_all(m, order);
	end("hmr_btree_lookup");
	if (found != nkeys)
		abort();
	/* write amplification: one record changed, one commit */
	struct hmr_elm e;
	hmr_elm_for(m, &e, 12345);
	hmr_bt_insert(m, &e);
	hmr_sync(m, NULL);
	printf("bench hmr_blocks_per_small_commit %llu\n",
	       (unsigned long long)hmr_counters(m)->last_commit_blocks);
	bench_hmr_versions(m);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

static __attribute__((noinline)) void lmdb_insert_all(MDB_txn *txn, MDB_dbi dbi)
{
	uint8_t val[16] = { 0 };
	MDB_val k = { 8, NULL }, v = { sizeof(val), val };

	for (uint64_t i = 0; i < nkeys; i++) {
		k.mv_data = &keys[i];
		if (mdb_put(txn, dbi, &k, &v, 0) != 0)
			abort();
	}
}

static __attribute__((noinline)) uint64_t lmdb_lookup_all(MDB_txn *txn,
							   MDB_dbi dbi,
							   const uint64_t *order)
{
	MDB_val k = { 8, NULL }, v;
	uint64_t found = 0;

	for (uint64_t i = 0; i < nkeys; i++) {
		k.mv_data = (void *)&order[i];
		found += mdb_get(txn, dbi, &k, &v) == 0;
	}
	return found;
}

/* A 16-byte LMDB key (key, tid), big-endian so memcmp order is the
 * (key, tid) order. */
static void lmdb_vkey(uint8_t out[16], uint64_t key, uint64_t tid)
{
	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(key >> (56 - 8 * i));
		out[8 + i] = (uint8_t)(tid >> (56 - 8 * i));
	}
}

/* The same VERSIONS versions as hmr_add_versions, as LMDB keys. */
static void lmdb_add_versions(MDB_txn *txn, MDB_dbi dbi)
{
	uint8_t kb[16], val[16] = { 0 };
	MDB_val k = { 16, kb }, v = { sizeof(val), val };

	for (uint64_t ver = 1; ver <= VERSIONS; ver++) {
		lmdb_vkey(kb, VKEY, 2 * ver);
		if (mdb_put(txn, dbi, &k, &v, 0) != 0)
			abort();
	}
}

/* The as-of lookups in LMDB: the first pair >= (VKEY, T), then one step
 * back to the last pair < it; counts the lookups that found T - 1. */
static __attribute__((noinline)) uint64_t lmdb_asof_all(MDB_cursor *cur)
{
	uint8_t kb[16], want[16];
	MDB_val k, v;
	uint64_t found = 0;

	for (uint64_t i = 0; i < nkeys; i++) {
		lmdb_vkey(kb, VKEY, asof_tids[i]);
		k.mv_size = 16, k.mv_data = kb;
		if (mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) != 0 ||
		    mdb_cursor_get(cur, &k, &v, MDB_PREV) != 0)
			continue;
		lmdb_vkey(want, VKEY, asof_tids[i] - 1);
		found += k.mv_size == 16 && memcmp(k.mv_data, want, 16) == 0;
	}
	return found;
}

/* The history row for LMDB: the same versions, the same lookups. */
static void bench_lmdb_versions(MDB_env *env, MDB_dbi dbi)
{
	MDB_txn *txn;
	MDB_cursor *cur;

	if (mdb_txn_begin(env, NULL, 0, &txn))
		abort();
	lmdb_add_versions(txn, dbi);
	if (mdb_txn_commit(txn) || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) ||
	    mdb_cursor_open(txn, dbi, &cur))
		abort();
	begin();
	uint64_t found = lmdb_asof_all(cur);
	end("lmdb_asof_10000_versions");
	if (found != nkeys)
		abort();
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
}

static void bench_lmdb(const char *dir, const uint64_t *order)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;

	if (mdb_env_create(&env) || mdb_env_set_mapsize(env, 4ull << 30) ||
	    mdb_env_open(env, dir, MDB_NOSYNC | MDB_INTEGERKEY * 0, 0644))
		abort();
	if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi))
		abort();
	begin();
	lmdb_insert_all(txn, dbi);
	end("lmdb_insert");
	if (mdb_txn_commit(txn) || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
		abort();
	begin();
	uint64_t found = lmdb_lookup_all(txn, dbi, order);
	end("lmdb_lookup");
	if (found != nkeys)
		abort();
	mdb_txn_abort(txn);
	bench_lmdb_versions(env, dbi);
	mdb_env_close(env);
}

int main(int argc, char **argv)
{
	uint64_t seed = 0x5eed;

	if (argc != 3) {
		fprintf(stderr, "usage: hmr_bench NKEYS TMPDIR\n");
		return 2;
	}
	nkeys = strtoull(argv[1], NULL, 0);
	keys = malloc(nkeys * sizeof(*keys));
	uint64_t *order = malloc(nkeys * sizeof(*order));
	for (uint64_t i = 0; i < nkeys; i++)
		keys[i] = order[i] = splitmix(&seed) | 1;
	for (uint64_t i = nkeys - 1; i > 0; i--) { /* shuffle lookup order */
		uint64_t j = splitmix(&seed) % (i + 1), t = order[i];
		order[i] = order[j], order[j] = t;
	}
	asof_tids = malloc(nkeys * sizeof(*asof_tids));
	for (uint64_t i = 0; i < nkeys; i++) /* odd, between two versions */
		asof_tids[i] = 2 * (1 + splitmix(&seed) % VERSIONS) + 1;
	bench_hmr(order);
	bench_lmdb(argv[2], order);
	free(keys), free(order), free(asof_tids);
	return 0;
}
