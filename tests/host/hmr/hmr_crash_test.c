/*
 * hmr_crash_test.c - the crash harness.
 *
 * A recording block device logs every write and flush a workload issues.
 * For each log, crash states are rebuilt from the image the workload
 * started on:
 *
 *   - every prefix of the log (a power cut after write k);
 *   - every subset of the writes between two flushes (exhaustive when the
 *     epoch holds at most 8 writes, else 64 random subsets): a disk cache
 *     may persist any of them in any order, and because no block is
 *     written twice in an epoch (checked), order does not change the
 *     resulting image, so subsets cover the reorderings too;
 *   - torn writes: the last write of a prefix only partly written, first k
 *     of its 8 sectors.
 *
 * Each state is mounted read-only, checked with fsck (must be clean), and
 * its digest must equal the state of one commit: never a mixture.  Which
 * commits are allowed: at least the newest one a sync, fsync or snapshot
 * create had acknowledged *by returning* before the crash (the log is not
 * consulted for that, so a commit that returns before its superblock is
 * durable fails here) and at least the newest whose superblock the log
 * shows flushed; at most the newest whose superblock the state holds.
 * A state that shows commit k must also show every older commit's history:
 * its views as of their TIDs equal what the workload's mount showed.  From
 * each flushed prefix the state is also recovered on a copy (a writable
 * mount), changed, synced and crashed again; the next mount must show
 * exactly that, the old history and a clean fsck.  A second checker
 * proves the deferred-reuse rule on every log: no write of commit N+1
 * touches a block that commit N's tree reaches.
 *
 * Workloads: every sequence of up to 3 operations over 2 files and 2
 * directories (ACE style), ending in sync or fsync, and long random runs.
 * HMR_CRASH_FULL=1 runs all 3-operation sequences with both endings and
 * longer random runs; the default runs every 1- and 2-operation sequence
 * and a quarter of the 3-operation ones, so the test stays within CI time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "hmr_testlib.h"
#include "htest.h"
#include "hmr_private.h"

#define CR_MAX_BLOCKS 2048 /* the largest image a run may use */

/* The image size of the runs in progress: 256 blocks, or more for the
 * deep-tree runs (set around them). */
static uint64_t cr_nblocks = 256;
#define CR_MAX_LOG 4096

/* ---- the recording device ---- */

struct rec_entry {
	uint64_t blkno; /* ~0 = flush */
	uint8_t *data;
};
struct rec_dev {
	struct hmr_bdev dev;
	struct hmr_bdev *inner;
	struct rec_entry log[CR_MAX_LOG];
	int n;
	int recording;
};

static int rec_read(struct hmr_bdev *d, uint64_t b, void *buf)
{
	struct rec_dev *r = d->ctx;

	return r->inner->read(r->inner, b, buf);
}

static int rec_write(struct hmr_bdev *d, uint64_t b, const void *buf)
{
	struct rec_dev *r = d->ctx;

	if (r->recording) {
		HT_ASSERT_TRUE(r->n < CR_MAX_LOG);
		r->log[r->n].blkno = b;
		r->log[r->n].data = malloc(HMR_BLOCK_SIZE);
		memcpy(r->log[r->n++].data, buf, HMR_BLOCK_SIZE);
	}
	return r->inner->write(r->inner, b, buf);
}

static int rec_flush(struct hmr_bdev *d)
{
	struct rec_dev *r = d->ctx;

	if (r->recording) {
		HT_ASSERT_TRUE(r->n < CR_MAX_LOG);
		r->log[r->n].blkno = ~0ull;
		r->log[r->n++].data = NULL;
	}
	return 0;
}

static void rec_reset(struct rec_dev *r)
{
	for (int i = 0; i < r->n; i++)
		free(r->log[i].data);
	r->n = 0;
}

/* ---- the crash-state device: a base image plus an overlay ---- */

struct crash_dev {
	struct hmr_bdev dev;
	const uint8_t *base;
	const uint8_t *over[CR_MAX_BLOCKS];
	uint64_t touched[CR_MAX_LOG];
	int ntouched;
	uint8_t torn[HMR_BLOCK_SIZE];
};

static int crash_read(struct hmr_bdev *d, uint64_t b, void *buf)
{
	struct crash_dev *c = d->ctx;

	if (b >= cr_nblocks)
		return EIO;
	memcpy(buf, c->over[b] ? c->over[b] : c->base + b * HMR_BLOCK_SIZE,
	       HMR_BLOCK_SIZE);
	return 0;
}

static int crash_write(struct hmr_bdev *d, uint64_t b, const void *buf)
{
	(void)d, (void)b, (void)buf;
	return EIO; /* crash states are only ever mounted read-only */
}

static int crash_flush(struct hmr_bdev *d)
{
	(void)d;
	return 0;
}

static void crash_clear(struct crash_dev *c)
{
	for (int i = 0; i < c->ntouched; i++)
		c->over[c->touched[i]] = NULL;
	c->ntouched = 0;
}

static void crash_apply(struct crash_dev *c, uint64_t b, const uint8_t *data)
{
	if (c->over[b] == NULL)
		c->touched[c->ntouched++] = b;
	c->over[b] = data;
}

/* ---- states and the oracle ---- */

/* A call that promised durability (sync, fsync, snapshot create) and
 * returned success: from log position `pos` on, a crash must show state
 * `state` or a later one. */
struct ack {
	int pos;   /* log entries written when the call returned */
	int state; /* the commit it acknowledged */
};

struct run {
	uint8_t *base;	       /* image before the workload */
	char *states[64];      /* digest of commit 0 (base), 1, 2, ... */
	uint64_t tids[64];     /* each state's TID (0: not known) */
	char *asof[64];	       /* the last state's view as of tids[k] */
	int nstates;
	struct ack acks[64];   /* in call order */
	int nacks;
	struct rec_dev rec;
	struct crash_dev crash;
	uint64_t checked;
	int failures;
};

static uint64_t crash_states_checked;
static uint64_t history_views_checked; /* as-of views compared */
static uint64_t second_crashes_checked;

/* A crash state that shows commit k must also keep every older commit's
 * history: its view as of each earlier commit's TID equals what the
 * workload's own mount showed as of that TID. */
static void check_history(struct run *r, struct hmr_mount *m, int k,
			  const char *what)
{
	for (int j = 1; j < k; j++) {
		if (r->tids[j] == 0 || r->asof[j] == NULL)
			continue;
		char *d = tl_digest(m, r->tids[j]);
		history_views_checked++;
		if (strcmp(d, r->asof[j]) != 0) {
			printf("  # %s (commit %d): the view as of commit %d's "
			       "TID 0x%llx differs:\n%s  # want:\n%s", what, k,
			       j, (unsigned long long)r->tids[j], d, r->asof[j]);
			r->failures++;
		}
		free(d);
	}
}

/* Mount the crash state, fsck it, and compare with commits lo..hi: lo is
 * what the workload was told is durable, hi the newest commit whose
 * superblock the state may hold.  Returns the commit it matched, or -1. */
static int check_state(struct run *r, int acked, int newest, const char *what)
{
	struct hmr_mount *m = NULL;
	int error = hmr_mount(&r->crash.dev, HMR_MNT_RDONLY | HMR_MNT_QUIET, 0, &m);

	r->checked++;
	crash_states_checked++;
	if (error) {
		printf("  # %s: mount failed (%d)\n", what, error);
		r->failures++;
		return -1;
	}
	char *d = tl_digest(m, 0);
	int k, ok = 0;
	for (k = acked; k <= newest && k < r->nstates && !ok; k++)
		ok = !strcmp(d, r->states[k]);
	if (ok)
		check_history(r, m, k - 1, what);
	hmr_mount_abandon(m);
	if (!ok) {
		printf("  # %s: state is none of commits %d..%d:\n%s  # want:\n%s",
		       what, acked, newest, d, r->states[acked]);
		r->failures++;
	}
	free(d);
	if (tl_fsck(&r->crash.dev, 0) != 0) {
		printf("  # %s: fsck not clean\n", what);
		r->failures++;
	}
	return ok ? k - 1 : -1;
}

static int is_super(uint64_t b)
{
	return b == HMR_BLK_SUPER_A || b == HMR_BLK_SUPER_B;
}

/*
 * The oldest commit a crash after log position `upto` may show: the
 * newest one a sync, fsync or snapshot had reported durable by returning
 * before the log reached `upto`.  It is decided by the calls' returns,
 * never by the log: a commit that returns before its superblock is
 * flushed must fail here, whatever the log looks like.
 */
static int acked_by_returns(const struct run *r, int upto)
{
	int acked = 0;

	for (int i = 0; i < r->nacks && r->acks[i].pos <= upto; i++)
		acked = r->acks[i].state > acked ? r->acks[i].state : acked;
	return acked;
}

/* Commits the log itself made durable by position `upto`: superblock
 * writes a later flush (inside the prefix) covered.  A state must never
 * be older than this either - that would be a mount taking the older
 * slot when the newer one was good. */
static int flushed_in_prefix(struct rec_dev *rec, int upto)
{
	int flushed = 0, pending = 0;

	for (int i = 0; i < upto; i++) {
		if (rec->log[i].blkno == ~0ull) {
			flushed += pending;
			pending = 0;
		} else if (is_super(rec->log[i].blkno)) {
			pending++;
		}
	}
	return flushed;
}

/* The oldest commit a crash state may show, given which calls had
 * returned (`returned_by`) and which writes the disk surely holds
 * (`written`: log entries before the last flush it includes). */
static int oldest_allowed(struct run *r, int returned_by, int written)
{
	int acked = acked_by_returns(r, returned_by);
	int flushed = flushed_in_prefix(&r->rec, written);

	return acked > flushed ? acked : flushed;
}

/* The newest commit the state may hold: one per superblock write among
 * the first `upto` entries, plus `extra` written beyond them. */
static int supers_in_prefix(struct rec_dev *rec, int upto, int extra)
{
	int n = extra;

	for (int i = 0; i < upto; i++)
		n += rec->log[i].blkno != ~0ull && is_super(rec->log[i].blkno);
	return n;
}

/*
 * Two crashes in a row: a crash state showing commit k is recovered
 * (mounted writable, on a copy), changed (a new file, an append to A/f)
 * and synced, then the power fails again right after the sync returned.
 * The next mount must show exactly the recovered state plus the change,
 * keep commit k's history (check_history), and pass fsck.
 */
static void check_second_crash(struct run *r, int k, const char *what)
{
	struct hmr_bdev *dev = hmr_bdev_mem_create(cr_nblocks);
	struct hmr_mount *m;
	char *want = NULL, *got = NULL;
	uint64_t ino;

	for (uint64_t b = 0; b < cr_nblocks; b++)
		crash_read(&r->crash.dev, b,
			   hmr_bdev_mem_bytes(dev) + b * HMR_BLOCK_SIZE);
	if (hmr_mount(dev, HMR_MNT_QUIET, 0, &m) != 0)
		goto fail;
	if (tl_put(m, "second", "after the first crash", 21) != 0 ||
	    (tl_walk(m, 0, "A/f", &ino) == 0 &&
	     hmr_write(m, 0, ino, 0, "again", 5) != 0) ||
	    hmr_sync(m, NULL) != 0) {
		hmr_mount_abandon(m);
		goto fail;
	}
	want = tl_digest(m, 0);
	hmr_mount_abandon(m); /* the second crash */
	if (hmr_mount(dev, HMR_MNT_RDONLY | HMR_MNT_QUIET, 0, &m) != 0)
		goto fail;
	got = tl_digest(m, 0);
	check_history(r, m, k + 1, what);
	hmr_mount_abandon(m);
	second_crashes_checked++;
	if (strcmp(want, got) != 0 || tl_fsck(dev, 0) != 0)
		goto fail;
	free(want), free(got);
	hmr_bdev_close(dev);
	return;
fail:
	printf("  # %s: recovered, changed, synced, crashed again: not the "
	       "synced state, or fsck not clean\n", what);
	r->failures++;
	free(want), free(got);
	hmr_bdev_close(dev);
}

/* Every prefix, and every torn version of each prefix's last write. */
static void check_prefixes(struct run *r)
{
	struct rec_dev *rec = &r->rec;

	for (int p = 0; p <= rec->n; p++) {
		char what[64];
		int acked = oldest_allowed(r, p, p);
		int newest = supers_in_prefix(rec, p, 0);

		crash_clear(&r->crash);
		for (int i = 0; i < p; i++)
			if (rec->log[i].blkno != ~0ull)
				crash_apply(&r->crash, rec->log[i].blkno,
					    rec->log[i].data);
		snprintf(what, sizeof(what), "prefix %d", p);
		int k = check_state(r, acked, newest, what);
		/* a second crash after recovery from each flushed prefix
		 * (every prefix would double the harness's time) */
		if (k >= 0 && (p == rec->n || (p > 0 &&
					       rec->log[p - 1].blkno == ~0ull)))
			check_second_crash(r, k, what);
		if (p == 0 || rec->log[p - 1].blkno == ~0ull)
			continue;
		uint64_t b = rec->log[p - 1].blkno;
		for (int k = 1; k < 8; k += (tl_scale() > 1 ? 1 : 3)) {
			/* the first k sectors new, the rest as before */
			uint8_t old[HMR_BLOCK_SIZE];

			r->crash.over[b] = NULL;
			crash_read(&r->crash.dev, b, old);
			for (int i = 0; i < p - 1; i++)
				if (rec->log[i].blkno == b)
					memcpy(old, rec->log[i].data, HMR_BLOCK_SIZE);
			memcpy(r->crash.torn, old, HMR_BLOCK_SIZE);
			memcpy(r->crash.torn, rec->log[p - 1].data,
			       (size_t)k * HMR_SECTOR_SIZE);
			crash_apply(&r->crash, b, r->crash.torn);
			snprintf(what, sizeof(what), "prefix %d torn %d/8", p, k);
			check_state(r, acked, newest, what);
		}
	}
}

/* Is write j of an epoch in the subset `mask` names?  Bit j for the first
 * 64 writes; an epoch longer than that (the deep runs' batches) takes
 * its bits for writes 64.. from a mix of the mask and j / 64. */
static int in_subset(uint64_t mask, int j)
{
	uint64_t bits = mask;

	if (j >= 64) {
		bits = mask + (uint64_t)(j / 64) * 0x9E3779B97F4A7C15ull;
		bits = (bits ^ bits >> 31) * 0xBF58476D1CE4E5B9ull;
		bits ^= bits >> 29;
	}
	return (int)(bits >> (j % 64) & 1);
}

/* Apply log[0, start) then the chosen subset of the epoch [start, end). */
static void apply_subset(struct run *r, int start, int *w, int nw,
			 uint64_t mask)
{
	crash_clear(&r->crash);
	for (int i = 0; i < start; i++)
		if (r->rec.log[i].blkno != ~0ull)
			crash_apply(&r->crash, r->rec.log[i].blkno,
				    r->rec.log[i].data);
	for (int j = 0; j < nw; j++)
		if (in_subset(mask, j))
			crash_apply(&r->crash, r->rec.log[w[j]].blkno,
				    r->rec.log[w[j]].data);
}

/* Subsets of the writes in each flush epoch. */
static void check_epochs(struct run *r, uint64_t *seed)
{
	struct rec_dev *rec = &r->rec;
	int start = 0;

	while (start < rec->n) {
		int w[CR_MAX_LOG], nw = 0, end = start;

		for (; end < rec->n && rec->log[end].blkno != ~0ull; end++)
			w[nw++] = end;
		for (int a = 0; a < nw; a++)
			for (int b = a + 1; b < nw; b++)
				HT_ASSERT_TRUE(rec->log[w[a]].blkno != rec->log[w[b]].blkno);
		/* The crash comes before the flush that ends the epoch:
		 * every call that returned before that flush was issued
		 * has been told its commit is durable. */
		int acked = oldest_allowed(r, end, start);
		uint64_t total = nw <= 8 ? 1ull << nw : 64;
		for (uint64_t s = 0; nw > 0 && s < total; s++) {
			char what[64];
			uint64_t mask = nw <= 8 ? s : tl_rand(seed);
			int supers = 0;

			for (int j = 0; j < nw; j++)
				supers += in_subset(mask, j) &&
					  is_super(rec->log[w[j]].blkno);
			apply_subset(r, start, w, nw, mask);
			snprintf(what, sizeof(what), "epoch @%d subset %llx", start,
				 (unsigned long long)mask);
			check_state(r, acked, supers_in_prefix(rec, start, supers),
				    what);
		}
		start = end + 1;
	}
}

/* ---- deferred reuse: the log checker ---- */

/* Mark every block the tree of the current crash state reaches. */
static void mark_node(struct hmr_mount *m, uint64_t blkno, uint8_t *reach)
{
	struct hmr_buf *b;

	if (hmr_buf_get(m, blkno, &b) != 0)
		return;
	struct hmr_node n = *hmr_buf_node(b);
	reach[blkno] = 1;
	for (int i = 0; i < n.count; i++) {
		if (n.level > 0)
			mark_node(m, n.elms[i].in.child_blkno, reach);
		else if (n.elms[i].lf.data_len)
			reach[n.elms[i].lf.data_off / HMR_BLOCK_SIZE] = 1;
	}
}

static void reachable(struct run *r, uint8_t *reach)
{
	struct hmr_mount *m = NULL;

	memset(reach, 0, cr_nblocks);
	HT_ASSERT_EQ(hmr_mount(&r->crash.dev, HMR_MNT_RDONLY | HMR_MNT_QUIET, 0, &m), 0);
	mark_node(m, m->root_blkno, reach);
	for (uint32_t i = 0; i < m->fm_nblocks; i++)
		reach[hmr_freemap_first(m, (int)(m->durable_tid & 1)) + i] = 1;
	reach[HMR_BLK_SUPER_A + (m->durable_tid & 1)] = 1;
	hmr_mount_abandon(m);
}

/* After each durable commit, no write before the next superblock may hit
 * a block that commit reaches. */
static void check_deferred_reuse(struct run *r)
{
	uint8_t reach[CR_MAX_BLOCKS];
	int i = 0;

	crash_clear(&r->crash);
	reachable(r, reach);
	for (; i < r->rec.n; i++) {
		struct rec_entry *e = &r->rec.log[i];

		if (e->blkno == ~0ull)
			continue;
		if (!is_super(e->blkno) && reach[e->blkno]) {
			printf("  # log entry %d writes block %llu, which the "
			       "durable commit still reaches\n", i,
			       (unsigned long long)e->blkno);
			r->failures++;
		}
		crash_apply(&r->crash, e->blkno, e->data);
		if (is_super(e->blkno))
			reachable(r, reach);
	}
}

/* ---- workloads ---- */

enum { W_CREAT_G, W_CREAT_BF, W_MKDIR_B, W_APPEND, W_OVERWRITE, W_TRUNC,
       W_LINK_BF, W_LINK_G, W_UNLINK, W_RENAME_G, W_RENAME_BF, W_RENAME_DIR,
       W_RMDIR_B, W_SNAPSHOT, W_NOPS,
       /* only on the deep image (D/ holds DEEP_FILES empty files): */
       W_SPLIT,	  /* 80 new names in D/: leaves split along the path */
       W_SHRINK }; /* 80 names of D/ unlinked: leaves go, the tree shrinks */

#define DEEP_FILES 1800
#define DEEP_BATCH 80

/* W_SPLIT and W_SHRINK: a batch of creates or unlinks in D/, keyed by a
 * counter so a repeated W_SPLIT adds new names.  No-ops without D/. */
static void deep_batch(struct hmr_mount *m, int op)
{
	static unsigned next_split;
	uint64_t d, ino;
	char name[32];

	if (tl_walk(m, 0, "D", &d) != 0)
		return;
	for (int i = 0; i < DEEP_BATCH; i++) {
		if (op == W_SPLIT) {
			snprintf(name, sizeof(name), "n%05u", next_split++);
			hmr_create(m, 0, d, name, 0644, 0, &ino);
		} else {
			snprintf(name, sizeof(name), "e%05d", i * 7);
			hmr_unlink(m, 0, d, name);
		}
	}
}

/* Run one operation; returns 1 when it was a snapshot create that
 * succeeded (a promise that the state it names is durable). */
static int do_op(struct hmr_mount *m, int op, uint64_t *seed)
{
	uint64_t a, b, ino;
	uint8_t buf[6000];
	const char *leaf;

	memset(buf, (int)(tl_rand(seed) & 0xff), sizeof(buf));
	tl_walk(m, 0, "A", &a);
	int haveb = tl_walk(m, 0, "B", &b) == 0;
	int havef = tl_walk(m, 0, "A/f", &ino) == 0;
	(void)leaf;
	switch (op) {
	case W_CREAT_G: hmr_create(m, 0, a, "g", 0644, 0, &ino); break;
	case W_CREAT_BF: if (haveb) hmr_create(m, 0, b, "f", 0644, 0, &ino); break;
	case W_MKDIR_B: hmr_mkdir(m, 0, HMR_OBJID_ROOT, "B", 0755, &b); break;
	case W_APPEND: {
		struct hmr_stat st;
		if (havef && hmr_getattr(m, 0, ino, &st) == 0)
			hmr_write(m, 0, ino, st.size, buf, 5000);
		break;
	}
	case W_OVERWRITE: if (havef) hmr_write(m, 0, ino, 100, buf, 200); break;
	case W_TRUNC: {
		struct hmr_setattr sa = { .valid = HMR_SET_SIZE, .size = 10 };
		if (havef)
			hmr_setattr(m, 0, ino, &sa);
		break;
	}
	case W_LINK_BF: if (havef && haveb) hmr_link(m, 0, ino, 0, b, "f"); break;
	case W_LINK_G: if (havef) hmr_link(m, 0, ino, 0, a, "g"); break;
	case W_UNLINK: hmr_unlink(m, 0, a, "f"); break;
	case W_RENAME_G: hmr_rename(m, 0, a, "f", 0, a, "g"); break;
	case W_RENAME_BF: if (haveb) hmr_rename(m, 0, a, "f", 0, b, "f"); break;
	case W_RENAME_DIR: hmr_rename(m, 0, HMR_OBJID_ROOT, "B", 0, a, "C"); break;
	case W_RMDIR_B: hmr_rmdir(m, 0, HMR_OBJID_ROOT, "B"); break;
	case W_SNAPSHOT: { uint64_t t; return hmr_snapshot_create(m, "s", &t) == 0; }
	case W_SPLIT: case W_SHRINK: deep_batch(m, op); break;
	}
	return 0;
}

/* Build the starting image: A/ and A/f with 3000 bytes, committed. */
static struct hmr_bdev *setup_image(void)
{
	struct hmr_bdev *dev = tl_fresh_dev(cr_nblocks);
	struct hmr_mount *m = tl_mount(dev);
	uint8_t data[3000];
	uint64_t a;

	memset(data, 0x5a, sizeof(data));
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "A", 0755, &a), 0);
	HT_ASSERT_EQ(tl_put(m, "A/f", data, sizeof(data)), 0);
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	return dev;
}

/*
 * The deep image: setup_image's A/ and A/f, and D/ with DEEP_FILES empty
 * files (an inode and an entry each), enough records for a B-tree of
 * depth 3 - a root whose children are internal nodes - so every change
 * copies a path of three nodes, and W_SPLIT and W_SHRINK split and
 * remove leaves below an internal node that is not the root.  The depth
 * is asserted: a format change that made nodes wider would otherwise
 * quietly turn these runs back into shallow ones.
 */
static struct hmr_bdev *setup_deep_image(int *depth)
{
	struct hmr_bdev *dev = tl_fresh_dev(cr_nblocks);
	struct hmr_mount *m = tl_mount(dev);
	uint8_t data[3000];
	uint64_t a, d, ino;
	char name[32];

	memset(data, 0x5a, sizeof(data));
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "A", 0755, &a), 0);
	HT_ASSERT_EQ(tl_put(m, "A/f", data, sizeof(data)), 0);
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "D", 0755, &d), 0);
	for (int i = 0; i < DEEP_FILES; i++) {
		snprintf(name, sizeof(name), "e%05d", i);
		HT_ASSERT_EQ(hmr_create(m, 0, d, name, 0644, 0, &ino), 0);
	}
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	*depth = m->root_level + 1;
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	return dev;
}

/* Record the digest after every commit the op made. */
static void note_commits(struct run *r, struct hmr_mount *m, uint64_t before,
			 char *prev_digest)
{
	uint64_t made = hmr_counters(m)->commits - before;

	HT_ASSERT_TRUE(made <= 2);
	if (made == 2)
		r->states[r->nstates++] = strdup(prev_digest); /* TID unknown */
	if (made >= 1) {
		r->tids[r->nstates] = m->durable_tid;
		r->states[r->nstates++] = tl_digest(m, 0);
	}
}

/* After the workload: its mount's view as of every commit's TID, which
 * every later crash state must show too (check_history). */
static void note_history(struct run *r, struct hmr_mount *m)
{
	for (int j = 1; j < r->nstates; j++)
		if (r->tids[j] != 0)
			r->asof[j] = tl_digest(m, r->tids[j]);
}

/* Run ops[] (n of them, then a sync or fsync) and check every crash state. */
static void run_workload(struct hmr_bdev *setup, const int *ops, int n,
			 int end_with_fsync, uint64_t seed, int check_subsets)
{
	struct run *r = calloc(1, sizeof(*r));
	struct hmr_bdev *live = hmr_bdev_mem_create(cr_nblocks);
	struct hmr_mount *m;

	memcpy(hmr_bdev_mem_bytes(live), hmr_bdev_mem_bytes(setup),
	       cr_nblocks * HMR_BLOCK_SIZE);
	r->base = hmr_bdev_mem_bytes(setup);
	r->rec.inner = live;
	r->rec.dev = (struct hmr_bdev){ cr_nblocks, &r->rec, rec_read, rec_write,
					rec_flush };
	r->crash.dev = (struct hmr_bdev){ cr_nblocks, &r->crash, crash_read,
					  crash_write, crash_flush };
	r->crash.base = r->base;
	HT_ASSERT_EQ(hmr_mount(&r->rec.dev, 0, 0, &m), 0);
	r->states[r->nstates++] = tl_digest(m, 0);
	r->rec.recording = 1;
	for (int i = 0; i <= n; i++) {
		char *prev = tl_digest(m, 0);
		uint64_t before = hmr_counters(m)->commits;
		int acked;

		if (i < n)
			acked = do_op(m, ops[i], &seed);
		else if (end_with_fsync)
			acked = hmr_fsync(m, HMR_OBJID_ROOT) == 0;
		else
			acked = hmr_sync(m, NULL) == 0;
		note_commits(r, m, before, prev);
		if (acked)
			r->acks[r->nacks++] = (struct ack){ r->rec.n, r->nstates - 1 };
		free(prev);
		HT_ASSERT_TRUE(r->nstates < 60);
	}
	note_history(r, m);
	hmr_mount_abandon(m);
	check_prefixes(r);
	if (check_subsets)
		check_epochs(r, &seed);
	check_deferred_reuse(r);
	if (r->failures)
		printf("  # workload failed: ops %d %d %d (n=%d)\n", ops[0],
		       n > 1 ? ops[1] : -1, n > 2 ? ops[2] : -1, n);
	HT_EXPECT_EQ(r->failures, 0);
	for (int i = 0; i < r->nstates; i++)
		free(r->states[i]), free(r->asof[i]);
	rec_reset(&r->rec);
	hmr_bdev_close(live);
	free(r);
}

static int full_run(void)
{
	const char *s = getenv("HMR_CRASH_FULL");

	return s && *s == '1';
}

HTEST(hmr_crash, every_workload_of_up_to_3_ops_is_commit_n_or_n_plus_1)
{
	struct hmr_bdev *setup = setup_image();
	uint64_t before = crash_states_checked, workloads = 0;
	int ops[3];

	for (int n = 1; n <= 3; n++) {
		int total = n == 1 ? W_NOPS : n == 2 ? W_NOPS * W_NOPS
						     : W_NOPS * W_NOPS * W_NOPS;
		for (int k = 0; k < total; k++) {
			/* default: all 1- and 2-op workloads, 1 in 4 of 3-op */
			if (n == 3 && !full_run() && k % 4 != 1)
				continue;
			ops[0] = k % W_NOPS;
			ops[1] = k / W_NOPS % W_NOPS;
			ops[2] = k / W_NOPS / W_NOPS;
			for (int end = 0; end < 2; end++) {
				if (!full_run() && end != k % 2)
					continue;
				run_workload(setup, ops, n, end, (uint64_t)k, 1);
				workloads++;
			}
		}
	}
	printf("  # workloads: %llu, crash states checked here: %llu\n",
	       (unsigned long long)workloads,
	       (unsigned long long)(crash_states_checked - before));
	hmr_bdev_close(setup);
}

HTEST(hmr_crash, long_random_runs_survive_every_crash_point)
{
	struct hmr_bdev *setup = setup_image();
	uint64_t seed = htest_seed();
	int runs = full_run() ? 64 : 12, len = full_run() ? 30 : 16;

	printf("  # seed=0x%llx runs=%d length=%d\n", (unsigned long long)seed,
	       runs, len);
	for (int i = 0; i < runs; i++) {
		int ops[32];

		for (int j = 0; j < len; j++)
			ops[j] = (int)(tl_rand(&seed) % W_NOPS);
		run_workload(setup, ops, len, i & 1, seed, 1);
	}
	hmr_bdev_close(setup);
}


/* ---- the spec's crash behaviours, each as a named workload ---- */

static void named_workload(const int *ops, int n)
{
	struct hmr_bdev *setup = setup_image();
	uint64_t before = crash_states_checked;

	run_workload(setup, ops, n, 0, 1, 1);
	run_workload(setup, ops, n, 1, 2, 1);
	printf("  # crash states: %llu\n",
	       (unsigned long long)(crash_states_checked - before));
	HT_EXPECT_GT(crash_states_checked - before, 10);
	hmr_bdev_close(setup);
}

HTEST(hmr_crash, b03_sync_is_durable_at_every_later_crash_point)
{
	int ops[] = { W_APPEND, W_CREAT_G, W_MKDIR_B };
	named_workload(ops, 3);
}

HTEST(hmr_crash, b04_commit_is_atomic_under_prefix_subset_and_torn_writes)
{
	int ops[] = { W_OVERWRITE, W_LINK_G, W_TRUNC };
	named_workload(ops, 3);
}

HTEST(hmr_crash, b12_snapshot_tid_names_a_durable_state)
{
	int ops[] = { W_APPEND, W_SNAPSHOT, W_UNLINK };
	named_workload(ops, 3);
}

HTEST(hmr_crash, b15_rename_over_existing_target_is_atomic)
{
	int ops[] = { W_CREAT_G, W_RENAME_G };
	named_workload(ops, 2);
}

HTEST(hmr_crash, b22_no_write_touches_a_block_the_durable_commit_reaches)
{
	/* check_deferred_reuse runs on every log; this one frees a lot */
	int ops[] = { W_APPEND, W_UNLINK, W_SNAPSHOT };
	named_workload(ops, 3);
}

/* Behaviour 23: a committer thread syncing every millisecond while
 * another thread creates, renames and unlinks; every durable commit in the
 * log must be a consistent namespace (fsck clean). */
struct churn {
	struct hmr_mount *m;
	volatile int stop;
};

static void *committer(void *arg)
{
	struct churn *c = arg;
	struct timespec ts = { 0, 1000000 };

	while (!c->stop) {
		hmr_sync(c->m, NULL);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

HTEST(hmr_crash, b23_background_commits_never_split_a_vop)
{
	struct hmr_bdev *setup = setup_image();
	struct run *r = calloc(1, sizeof(*r));
	struct hmr_bdev *live = hmr_bdev_mem_create(cr_nblocks);
	struct churn c = { 0 };
	pthread_t t;
	uint64_t a, ino;
	int commits = 0;

	memcpy(hmr_bdev_mem_bytes(live), hmr_bdev_mem_bytes(setup),
	       cr_nblocks * HMR_BLOCK_SIZE);
	r->rec.inner = live;
	r->rec.dev = (struct hmr_bdev){ cr_nblocks, &r->rec, rec_read, rec_write,
					rec_flush };
	r->crash.dev = (struct hmr_bdev){ cr_nblocks, &r->crash, crash_read,
					  crash_write, crash_flush };
	r->crash.base = hmr_bdev_mem_bytes(setup);
	HT_ASSERT_EQ(hmr_mount(&r->rec.dev, 0, 0, &c.m), 0);
	HT_ASSERT_EQ(tl_walk(c.m, 0, "A", &a), 0);
	r->rec.recording = 1;
	pthread_create(&t, NULL, committer, &c);
	/* Churn until the committer has landed 20 commits mid-loop (time, not
	 * iterations, decides how many a fixed loop would see). */
	for (int i = 0; i < 200000 && r->rec.n < CR_MAX_LOG - 64 &&
			hmr_counters(c.m)->commits < 20; i++) {
		hmr_create(c.m, 0, a, "t", 0644, 0, &ino);
		hmr_rename(c.m, 0, a, "t", 0, a, "u");
		hmr_link(c.m, 0, ino, 0, a, "v");
		hmr_unlink(c.m, 0, a, "u");
		hmr_unlink(c.m, 0, a, "v");
	}
	c.stop = 1;
	pthread_join(t, NULL);
	hmr_unmount(c.m);
	/* every durable commit point: apply the log up to its flush, fsck */
	crash_clear(&r->crash);
	for (int i = 0; i < r->rec.n; i++) {
		if (r->rec.log[i].blkno != ~0ull) {
			crash_apply(&r->crash, r->rec.log[i].blkno, r->rec.log[i].data);
			continue;
		}
		if (i == 0 || !is_super(r->rec.log[i - 1].blkno))
			continue;
		commits++;
		HT_EXPECT_EQ(tl_fsck(&r->crash.dev, 0), 0);
	}
	printf("  # durable commits checked: %d\n", commits);
	HT_EXPECT_GT(commits, 3);
	rec_reset(&r->rec);
	hmr_bdev_close(live);
	hmr_bdev_close(setup);
	free(r);
}

/*
 * Crash states of a tree of depth 3.  The shallow image above has a
 * root leaf (or one level of internal node), so a commit copies one or
 * two nodes; here every commit copies a root, an internal node and a
 * leaf, and the workloads split leaves under an inner node (W_SPLIT,
 * 80 creates), remove leaves and shrink it (W_SHRINK, 80 unlinks), and
 * mix that with snapshots, renames, appends and unlinks in A/.  Every
 * state gets the same checks as the shallow runs: prefixes, epoch
 * subsets, torn writes, history, a second crash, deferred reuse.
 */
HTEST(hmr_crash, trees_of_depth_3_are_commit_n_or_n_plus_1)
{
	static const int workloads[][3] = {
		{ W_SPLIT, W_APPEND, W_SNAPSHOT },
		{ W_SHRINK, W_UNLINK, W_CREAT_G },
		{ W_SNAPSHOT, W_SHRINK, W_SPLIT },
		{ W_SPLIT, W_RENAME_DIR, W_SHRINK },
		{ W_MKDIR_B, W_SPLIT, W_RENAME_BF },
	};
	uint64_t before = crash_states_checked, saved = cr_nblocks;
	int depth, n = 0;

	cr_nblocks = 1024;
	struct hmr_bdev *setup = setup_deep_image(&depth);
	printf("  # deep image: %d files in D/, tree depth %d\n", DEEP_FILES,
	       depth);
	HT_ASSERT_TRUE(depth >= 3);
	for (size_t i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		for (int end = 0; end < 2; end++, n++)
			run_workload(setup, workloads[i], 3, end, i, 1);
	printf("  # %d workloads, crash states checked: %llu\n", n,
	       (unsigned long long)(crash_states_checked - before));
	HT_EXPECT_GT(crash_states_checked - before, 100);
	hmr_bdev_close(setup);
	cr_nblocks = saved;
}

HTEST(hmr_crash, zz_report_total)
{
	printf("# crash states checked: %llu; as-of views compared: %llu; "
	       "second crashes: %llu\n",
	       (unsigned long long)crash_states_checked,
	       (unsigned long long)history_views_checked,
	       (unsigned long long)second_crashes_checked);
	HT_EXPECT_GT(crash_states_checked, 0);
	HT_EXPECT_GT(history_views_checked, 0);
	HT_EXPECT_GT(second_crashes_checked, 0);
}
