/*
 * hmr_powercut.c - hmr-powercut: cut the power under an HMR disk, on the
 * host, from a log of everything the disk was asked to do.
 *
 *   hmr-powercut [-s SEED] [-n STATES] [-a ACKS] [-f FINAL] BASE LOG
 *   hmr-powercut -s SEED [-n STATES] -k STATE -o OUT BASE LOG
 *
 * BASE is the image as it was before the boot, LOG what QEMU's
 * blklogwrites driver recorded during it (the dm-log-writes format:
 * every write the disk completed, with its data, and every FLUSH, in the
 * order they completed).  Killing QEMU is no power cut -- the host's page
 * cache keeps what the guest never flushed -- but replaying a prefix of
 * the log onto BASE gives the disk as a power cut at that moment would
 * have left it.  The log, in sectors of `sectorsize` bytes:
 *
 *   sector 0        magic 0x6a736677736872 | version 1 | nr_entries |
 *                   sectorsize (u64, u64, u64, u32; little-endian)
 *   then per entry  one sector: sector | nr_sectors | flags | data_len
 *                   (u64 each; flags FLUSH 1, FUA 2, DISCARD 4, MARK 8)
 *                   nr_sectors sectors of data (none for a DISCARD)
 *
 * What a power cut may leave.  Everything written before the last FLUSH
 * the disk completed is durable.  Of the writes completed since, any may
 * be lost, in any combination (a disk cache keeps no order), and a write
 * in progress may be torn at the sector.  So the states checked are:
 *
 *   at a flush      every entry up to and including that FLUSH;
 *   a cut           a seeded random write entry k between two flushes,
 *                   and everything since the last flush before it, in one
 *                   of three ways: all of it (a "prefix"), a random subset
 *                   ending with k ("lost writes"), or such a subset whose
 *                   last write k is itself torn ("torn": a random part of
 *                   its sectors);
 *
 * at least STATES (default 1000) in all.  Each state must pass HMR's
 * fsck (the same code fsck.hmr runs) and mount a commit at least as new
 * as the newest one the log shows acknowledged by then: a commit whose
 * superblock write is followed by a FLUSH before the cut.
 *
 * The kernel's side: right after it tells a caller that commit T is
 * durable, the test suite writes an ack marker -- a block starting with
 * "HMR-POWERCUT-ACK", then T and ~T (tests/fs/hmr_powercut_test.c) --
 * past the filesystem's end, so the marker's place in the log is the
 * moment of the acknowledgement.  By then the log must show T durable:
 * its superblock written, and a FLUSH after it.  ACKS is the suite's
 * serial output: each "# ack tid=0x<T>" line must have its marker in the
 * log (a marker that never arrived would check nothing).  FINAL is the
 * image QEMU left: the whole log replayed onto BASE must give it back
 * byte for byte (a check of the log and of this replayer).
 *
 * The replay is incremental: one copy of the disk holds the state at the
 * last flush replayed ("durable"), a second the state being checked
 * ("work"); a cut applies its entries to work and copies the touched
 * ranges back from durable afterwards.  The states are chosen from SEED
 * alone, so -s SEED -k STATE -o OUT writes any reported state to a file
 * for fsck.hmr and hmrctl to look at.
 *
 * Exit status: 0 every check passed, 1 a problem (one line each), 2 bad
 * usage, 8 the inputs could not be read.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hmr_bdev.h"
#include "hmr_private.h"

/*
 * The dm-log-writes format (Linux drivers/md/dm-log-writes.c, which
 * QEMU's block/blklogwrites.c writes too).  QEMU logs an entry when the
 * operation has completed on the image, so the log's order is the order
 * of completion: a write the guest saw complete before it sent a FLUSH is
 * always logged before that FLUSH.  QEMU never sets FUA (a FUA write
 * would be durable by itself; here it would be treated as any write,
 * which is only stricter) nor MARK; a MARK entry is refused.
 */
#define LOG_MAGIC	0x6a736677736872ull
#define LOG_VERSION	1
#define LOG_FLUSH	1u	/* a cache flush: what came before is durable */
#define LOG_FUA		2u	/* a write that was durable on completion */
#define LOG_DISCARD	4u	/* the sectors were discarded: no data */
#define LOG_MARK	8u	/* a user's note in the log (dm only) */

#define MAX_SHOWN	12	/* problems printed in full */
#define MARK_MAGIC	"HMR-POWERCUT-ACK"	/* 16 bytes, no NUL */

/* An ack marker, at the start of its block (the suite's struct pc_mark). */
struct mark {
	char magic[16];
	uint64_t tid, not_tid;
};

/* One log entry, annotated with what it does to HMR. */
struct entry {
	uint64_t off, len;	/* bytes of the disk it writes (0: FLUSH) */
	unsigned flags;		/* LOG_* */
	const uint8_t *data;	/* its data in the log; NULL: zeros */
	uint64_t super_tid;	/* the commit of a valid superblock in it */
	uint64_t mark_tid;	/* the commit an ack marker in it names */
};

/* How a state is made from the entries since the last flush (the top of
 * this file says what each means). */
enum cut_kind { AT_FLUSH, CUT_PREFIX, CUT_LOST, CUT_TORN, NKINDS };
static const char *kind_name[] = { "at a flush", "prefix", "lost writes",
				   "torn" };

/* One state: the power failed just after entry `at` completed. */
struct state {
	size_t at;
	enum cut_kind kind;
	uint64_t seed;		/* its own choices (lost, torn) */
};

/*
 * The whole run.  Between states, work and durable hold the same bytes:
 * the disk after entries [0, durable_upto), which always ends at a FLUSH
 * (or is the base).  A cut changes work only, and only in the ranges of
 * the entries after durable_upto; undo_cut() copies those back.
 */
struct replay {
	struct entry *e;	/* the log, in order */
	size_t n;
	uint64_t *acked;	/* acked[i]: newest commit durable after e[i] */
	size_t *last_flush;	/* the last FLUSH at or before i, or SIZE_MAX */
	uint8_t *work, *durable;	/* two copies of the disk */
	uint64_t size;		/* of the disk, in bytes */
	size_t durable_upto;	/* entries applied to durable: [0, upto) */
	struct hmr_bdev dev;	/* what fsck reads: work */
	uint64_t seed;		/* -s: every random choice comes from it */
	int problems;		/* found so far */
	const char *base_path, *log_path;	/* for the rerun lines */
};

/* ---- small helpers ---------------------------------------------------------- */

/* splitmix64: every random choice, from the seed alone. */
static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Report one problem; the first MAX_SHOWN are printed. */
static void problem(struct replay *r, const char *fmt, ...)
{
	va_list ap;

	if (++r->problems > MAX_SHOWN)
		return;
	printf("hmr-powercut: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Read a whole file into memory; NULL (errno set) on failure. */
static uint8_t *slurp(const char *path, uint64_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1)) &&
	    fread(buf, 1, (size_t)len, f) == (size_t)len)
		*size = (uint64_t)len;
	else
		free(buf), buf = NULL, errno = errno ? errno : EIO;
	fclose(f);
	return buf;
}

/* A little-endian u64 at p (any alignment). */
static uint64_t le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);	/* the log and the host are little-endian */
	return v;
}

/* ---- reading the log ------------------------------------------------------- */

/* Is the range all zeros? */
static int all_zero(const uint8_t *p, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/*
 * Check the log's superblock; the sector size, or 0 after printing why.
 * blklogwrites writes the superblock at each FLUSH only: a log whose disk
 * never completed a FLUSH has a zero superblock, and its entries are read
 * with QEMU's default 512-byte sectors.  *n gets the entries the
 * superblock counts (those up to the last FLUSH).
 */
static uint64_t log_header(const uint8_t *log, uint64_t len, uint64_t *n)
{
	uint32_t ss;

	*n = 0;
	if (len >= 512 && all_zero(log, 512)) {
		printf("hmr-powercut: the log's superblock was never written: "
		       "the disk completed no FLUSH\n");
		return 512;
	}
	if (len < 32 || le64(log) != LOG_MAGIC || le64(log + 8) != LOG_VERSION) {
		fprintf(stderr, "hmr-powercut: not a blklogwrites log (magic "
			"0x%" PRIx64 ", version %" PRIu64 ")\n",
			len >= 16 ? le64(log) : 0, len >= 16 ? le64(log + 8) : 0);
		return 0;
	}
	memcpy(&ss, log + 24, 4);
	if (ss < 32 || (ss & (ss - 1)) != 0) {
		fprintf(stderr, "hmr-powercut: bad log sector size %u\n", ss);
		return 0;
	}
	*n = le64(log + 16);
	return ss;
}

/* Decode the entry at pos into e; the log position after its data, or 0
 * if it is not an entry QEMU writes (or runs past the end of the log). */
static uint64_t log_entry(const uint8_t *log, uint64_t len, uint64_t pos,
			  uint64_t ss, uint64_t disk, struct entry *e)
{
	uint64_t sector = le64(log + pos), nsect = le64(log + pos + 8);
	uint64_t flags = le64(log + pos + 16);
	uint64_t data = (flags & LOG_DISCARD) ? 0 : nsect * ss;

	/* Unknown flags, data past the end of the log (QEMU stopped while
	 * writing it), or a write past the end of the disk: not an entry
	 * this replay can trust. */
	if (flags & ~(uint64_t)(LOG_FLUSH | LOG_FUA | LOG_DISCARD) ||
	    pos + ss + data > len || sector * ss + nsect * ss > disk)
		return 0;
	*e = (struct entry){ .off = sector * ss, .len = nsect * ss,
			     .flags = (unsigned)flags,
			     .data = data ? log + pos + ss : NULL };
	return pos + ss + data;
}

/*
 * Parse every entry: those the superblock counts, and those after the
 * last FLUSH (written, but not yet counted) up to the end of the file or
 * to a zero entry header.  0, or -1 after printing why.
 */
static int log_parse(struct replay *r, const uint8_t *log, uint64_t len)
{
	uint64_t counted, pos, next, ss = log_header(log, len, &counted);

	if (ss == 0 || (r->e = calloc(len / ss + 1, sizeof(*r->e))) == NULL)
		return -1;
	for (pos = ss, r->n = 0; pos + ss <= len; pos = next, r->n++) {
		if (r->n >= counted && all_zero(log + pos, 32))
			break;
		next = log_entry(log, len, pos, ss, r->size, &r->e[r->n]);
		if (next == 0 && r->n < counted) {
			fprintf(stderr, "hmr-powercut: log entry %zu (byte %"
				PRIu64 ") is not one QEMU writes, or lies past "
				"the end of the log or of the disk\n", r->n, pos);
			return -1;
		}
		if (next == 0) {
			printf("hmr-powercut: the log ends in a partial entry "
			       "at byte %" PRIu64 "; ignored\n", pos);
			break;
		}
	}
	return 0;
}

/* ---- what each entry means to HMR ---------------------------------------- */

/* If block b (wholly inside e) is a valid HMR superblock, note its
 * commit in e->super_tid; if it is an ack marker, its commit in
 * e->mark_tid. */
static void look_at_block(struct entry *e, uint64_t b)
{
	const uint8_t *blk = e->data + (b * HMR_BLOCK_SIZE - e->off);
	struct hmr_blkhdr h;
	struct mark mk;

	/* A superblock counts only whole and in its own slot: a torn or
	 * misdirected one is no commit (mount would refuse it too). */
	memcpy(&h, blk, sizeof(h));
	if (h.magic == HMR_MAGIC_SUPER && h.blkno == b &&
	    (b == HMR_BLK_SUPER_A || b == HMR_BLK_SUPER_B) &&
	    h.crc == hmr_block_crc(blk))
		e->super_tid = h.generation;
	memcpy(&mk, blk, sizeof(mk));
	if (memcmp(mk.magic, MARK_MAGIC, sizeof(mk.magic)) == 0 &&
	    mk.not_tid == ~mk.tid)
		e->mark_tid = mk.tid;
}

/* Annotate a write with the superblock or marker it carries. */
static void annotate(struct entry *e)
{
	uint64_t first = (e->off + HMR_BLOCK_SIZE - 1) / HMR_BLOCK_SIZE;

	if (e->data == NULL)
		return;
	for (uint64_t b = first; (b + 1) * HMR_BLOCK_SIZE <= e->off + e->len;
	     b++)
		look_at_block(e, b);
}

/*
 * acked[i] and last_flush[i] for every entry.  A commit is acknowledged
 * -- durable, whatever happens next -- once a FLUSH follows its
 * superblock write in the log: the superblock write completed before
 * the FLUSH did, so the FLUSH covers it.  Supers are compared by TID,
 * not by order: two slots alternate, and a later write of an older
 * commit would not make the disk older.
 */
static int find_acknowledged(struct replay *r)
{
	uint64_t written = 0, acked = 0;
	size_t flush = SIZE_MAX;

	r->acked = calloc(r->n + 1, sizeof(*r->acked));
	r->last_flush = calloc(r->n + 1, sizeof(*r->last_flush));
	if (r->acked == NULL || r->last_flush == NULL)
		return -1;
	for (size_t i = 0; i < r->n; i++) {
		annotate(&r->e[i]);
		if (r->e[i].super_tid > written)
			written = r->e[i].super_tid;
		if (r->e[i].flags & LOG_FLUSH)
			acked = written, flush = i;
		r->acked[i] = acked;
		r->last_flush[i] = flush;
	}
	return 0;
}

/* ---- the kernel's acknowledgements against the log ----------------------- */

/* Where commit tid's superblock was written, and the first FLUSH after
 * it: for the report of an early acknowledgement. */
static void explain_early(struct replay *r, size_t mark, uint64_t tid)
{
	size_t s = 0, f;

	while (s < r->n && r->e[s].super_tid != tid)
		s++;
	for (f = s + 1; f < r->n && !(r->e[f].flags & LOG_FLUSH); f++)
		;
	if (s >= r->n)
		problem(r, "commit 0x%" PRIx64 " was acknowledged at entry %zu, "
			"but the log never writes its superblock", tid, mark);
	else if (f >= r->n)
		problem(r, "commit 0x%" PRIx64 " was acknowledged at entry %zu "
			"before it was durable: its superblock is entry %zu, "
			"and no FLUSH ever follows it", tid, mark, s);
	else
		problem(r, "commit 0x%" PRIx64 " was acknowledged at entry %zu "
			"before it was durable: its superblock is entry %zu, "
			"the first FLUSH after it entry %zu", tid, mark, s, f);
}

/* Every ack marker: by its entry, its commit must be durable.  Returns
 * how many markers the log holds. */
static size_t check_marks(struct replay *r)
{
	size_t count = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (r->e[i].mark_tid == 0)
			continue;
		count++;
		if (r->acked[i] < r->e[i].mark_tid)
			explain_early(r, i, r->e[i].mark_tid);
	}
	return count;
}

/* Does the log hold a marker for tid? */
static int marked(struct replay *r, uint64_t tid)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].mark_tid == tid)
			return 1;
	return 0;
}

/* Every "# ack tid=0x..." line of path must have its marker in the log;
 * the number of lines, or -1 if path cannot be read. */
static long check_ack_lines(struct replay *r, const char *path,
			    uint64_t *newest)
{
	char line[512];
	long count = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *at = strstr(line, "# ack tid=");

		if (at == NULL)
			continue;
		uint64_t tid = strtoull(at + 10, NULL, 0);
		if (!marked(r, tid))
			problem(r, "the kernel acknowledged commit 0x%" PRIx64
				", but its ack marker is not in the log", tid);
		*newest = tid > *newest ? tid : *newest;
		count++;
	}
	fclose(f);
	return count;
}

/* ---- choosing the states ------------------------------------------------- */

static int by_position(const void *a, const void *b)
{
	const struct state *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

/*
 * Every FLUSH, then cuts at seeded random writes (each cut's kind and its
 * own seed drawn from the run's seed) until there are `want` states;
 * sorted by position, so the replay only ever moves forward.  Writes are
 * drawn with replacement: a write drawn twice gives two states (of other
 * kinds or other choices).  The count goes to *count; NULL if no memory.
 */
static struct state *choose_states(struct replay *r, size_t want,
				   size_t *count)
{
	size_t nflush = 0, nwrite = 0, k = 0, w = 0;
	uint64_t s = r->seed;

	for (size_t i = 0; i < r->n; i++)
		(r->e[i].flags & LOG_FLUSH) ? nflush++ : nwrite++;
	size_t ncut = nwrite == 0 ? 0 : want > nflush ? want - nflush : 0;
	struct state *st = calloc(nflush + ncut + 1, sizeof(*st));
	size_t *writes = calloc(nwrite + 1, sizeof(*writes));

	if (st == NULL || writes == NULL)
		return free(writes), free(st), NULL;
	for (size_t i = 0; i < r->n; i++) {
		if (r->e[i].flags & LOG_FLUSH)
			st[k++] = (struct state){ .at = i, .kind = AT_FLUSH };
		else
			writes[w++] = i;
	}
	for (size_t c = 0; c < ncut; c++)
		st[k++] = (struct state){ .at = writes[mix(&s) % nwrite],
					  .kind = CUT_PREFIX + mix(&s) % 3,
					  .seed = mix(&s) };
	free(writes);
	qsort(st, k, sizeof(*st), by_position);
	*count = k;
	return st;
}

/* ---- making a state ------------------------------------------------------- */

/* Copy an entry's bytes (or zeros) into a disk image. */
static void apply(uint8_t *disk, const struct entry *e)
{
	if (e->data != NULL)
		memcpy(disk + e->off, e->data, e->len);
	else
		memset(disk + e->off, 0, e->len);
}

/* Bring durable (and work) forward to just after entry `last`. */
static void advance(struct replay *r, size_t last)
{
	for (; r->durable_upto <= last && r->durable_upto < r->n;
	     r->durable_upto++) {
		apply(r->durable, &r->e[r->durable_upto]);
		apply(r->work, &r->e[r->durable_upto]);
	}
}

/* Tear entry e (at least two sectors): a random part of its sectors
 * reaches the disk, never none and never all. */
static void apply_torn(struct replay *r, const struct entry *e, uint64_t *s)
{
	uint64_t nsect = e->len / HMR_SECTOR_SIZE;
	uint64_t keep = mix(s) % nsect;
	uint64_t drop = (keep + 1 + mix(s) % (nsect - 1)) % nsect;

	for (uint64_t i = 0; i < nsect; i++)
		if (i == keep || (i != drop && (mix(s) & 1)))
			memcpy(r->work + e->off + i * HMR_SECTOR_SIZE,
			       e->data + i * HMR_SECTOR_SIZE, HMR_SECTOR_SIZE);
}

/*
 * Apply the entries since the last flush as state st says; returns how
 * many of them it kept (for the description).  A prefix keeps them all;
 * lost writes keeps each but the last with probability 1/2; torn does
 * the same and then tears the last.  The cut entry itself is always
 * (at least partly) there: otherwise the state would be a cut at an
 * earlier entry.  Entries are applied in log order, so when one block
 * was written twice the later write wins, as on the real disk.
 */
static size_t make_cut(struct replay *r, const struct state *st)
{
	size_t from = r->durable_upto, kept = 0;
	uint64_t s = st->seed;

	for (size_t i = from; i <= st->at; i++) {
		const struct entry *e = &r->e[i];
		int last = i == st->at;

		if (st->kind != CUT_PREFIX && !last && (mix(&s) & 1))
			continue;	/* this write was lost */
		if (last && st->kind == CUT_TORN && e->data != NULL &&
		    e->len > HMR_SECTOR_SIZE)
			apply_torn(r, e, &s);
		else
			apply(r->work, e);
		kept++;
	}
	return kept;
}

/* Undo a cut: copy what it touched back from durable. */
static void undo_cut(struct replay *r, const struct state *st)
{
	for (size_t i = r->durable_upto; i <= st->at; i++)
		memcpy(r->work + r->e[i].off, r->durable + r->e[i].off,
		       r->e[i].len);
}

/* ---- checking a state ------------------------------------------------------ */

/* The device fsck sees: the work copy, read-only. */
static int work_read(struct hmr_bdev *dev, uint64_t blk, void *buf)
{
	struct replay *r = dev->ctx;

	if (blk >= dev->nblocks)
		return EIO;
	memcpy(buf, r->work + blk * HMR_BLOCK_SIZE, HMR_BLOCK_SIZE);
	return 0;
}

static int work_write(struct hmr_bdev *dev, uint64_t blk, const void *buf)
{
	(void)dev, (void)blk, (void)buf;
	return EROFS;		/* a check never changes the state */
}

static int work_flush(struct hmr_bdev *dev)
{
	(void)dev;
	return 0;
}

/* fsck's first finding for a state, for the report. */
static void first_finding(void *arg, const char *msg)
{
	char *first = arg;

	if (first[0] == '\0')
		snprintf(first, 256, "%s", msg);
}

/* Describe state number i (st) in words, into buf. */
static void describe(struct replay *r, size_t i, const struct state *st,
		     size_t kept, char *buf, size_t len)
{
	size_t f = r->last_flush[st->at];
	size_t since = f == SIZE_MAX ? st->at + 1 : st->at - f;

	if (st->kind == AT_FLUSH)
		snprintf(buf, len, "state %zu (at the FLUSH of entry %zu)", i,
			 st->at);
	else
		snprintf(buf, len, "state %zu (%s: cut after entry %zu, %zu of "
			 "the %zu entries since the last flush kept)", i,
			 kind_name[st->kind], st->at, kept, since);
}

/*
 * fsck the work image as state i.  hmr_fsck mounts it the way the kernel
 * would (the newest superblock that passes every check), walks the whole
 * tree, checks every CRC, rebuilds the freemap and compares, and checks
 * the namespace (fs/hmr/hmr_fsck.c).  A problem if it finds anything, or
 * if the commit it mounted is older than what the log had acknowledged
 * by entry st->at.
 */
static void check_state(struct replay *r, size_t i, const struct state *st,
			size_t kept)
{
	struct hmr_fsck_result res;
	char first[256] = "", what[160];
	int n = hmr_fsck(&r->dev, 0, first_finding, first, &res);

	if (n == 0 && !res.fatal && res.commit_tid >= r->acked[st->at])
		return;
	describe(r, i, st, kept, what, sizeof(what));
	if (n != 0 || res.fatal)
		problem(r, "%s: fsck found %d problem%s, first: %s", what, n,
			n == 1 ? "" : "s", first);
	else
		problem(r, "%s: the disk holds commit 0x%" PRIx64 ", but commit "
			"0x%" PRIx64 " was acknowledged (superblock flushed) "
			"before the cut", what, res.commit_tid,
			r->acked[st->at]);
	if (r->problems <= MAX_SHOWN)
		printf("hmr-powercut:   to look at it: hmr-powercut -s 0x%"
		       PRIx64 " -k %zu -o state.img %s %s; fsck.hmr state.img\n",
		       r->seed, i, r->base_path, r->log_path);
}

/* ---- running ------------------------------------------------------------ */

/* The command line (see the top of this file). */
struct options {
	uint64_t seed;
	size_t want;
	long only;		/* -k: the one state to write out, or -1 */
	const char *out, *acks, *final, *base, *log;
};

/*
 * Build and check every state, in log order: bring durable forward to the
 * state's last FLUSH, make the cut on work, check, undo.  With -k (only
 * >= 0) build just that state, leave it in work and return 0 (-1 if the
 * seed gives no such state).  The count of each kind goes to kinds[].
 */
static int run_states(struct replay *r, const struct options *opt,
		      size_t kinds[NKINDS])
{
	size_t count;
	struct state *st = choose_states(r, opt->want, &count);

	if (st == NULL)
		return -1;
	for (size_t i = 0; i < count; i++) {
		size_t f = r->last_flush[st[i].at], kept = 0;

		if (st[i].kind == AT_FLUSH)
			advance(r, st[i].at);
		else if (f != SIZE_MAX)
			advance(r, f);
		kinds[st[i].kind]++;
		if (opt->only >= 0 && (size_t)opt->only != i)
			continue;	/* -k: only that one is made */
		if (st[i].kind != AT_FLUSH)
			kept = make_cut(r, &st[i]);
		if (opt->only >= 0)
			return free(st), 0;	/* work holds the state */
		check_state(r, i, &st[i], kept);
		if (st[i].kind != AT_FLUSH)
			undo_cut(r, &st[i]);
	}
	free(st);
	return opt->only < 0 ? 0 : -1;
}

/* The whole log replayed onto BASE must be the image QEMU left.  If it
 * is not, the log missed writes (a log file too small, a QEMU killed
 * before it finished) or the replay is wrong; either way the states
 * checked were not the kernel's. */
static void check_final(struct replay *r, const char *path)
{
	uint64_t size;
	uint8_t *img = slurp(path, &size);

	advance(r, r->n);
	if (img == NULL) {
		problem(r, "cannot read %s: %s", path, strerror(errno));
		return;
	}
	if (size != r->size)
		problem(r, "%s has %" PRIu64 " bytes, the base %" PRIu64, path,
			size, r->size);
	for (uint64_t b = 0; size == r->size && b < size / HMR_BLOCK_SIZE; b++)
		if (memcmp(img + b * HMR_BLOCK_SIZE,
			   r->durable + b * HMR_BLOCK_SIZE, HMR_BLOCK_SIZE)) {
			problem(r, "the log replayed onto the base differs from "
				"%s at block %" PRIu64 ": the log is incomplete",
				path, b);
			break;
		}
	free(img);
}

/* Bad command line: say how it goes; exit status 2. */
static int usage(void)
{
	fprintf(stderr, "usage: hmr-powercut [-s SEED] [-n STATES] [-a ACKS] "
		"[-f FINAL] BASE LOG\n"
		"       hmr-powercut -s SEED [-n STATES] -k STATE -o OUT BASE "
		"LOG\n");
	return 2;
}

/* getopt into *o; 0, or -1 for a bad command line (-k and -o come
 * together, two operands). */
static int parse_options(int argc, char **argv, struct options *o)
{
	int c;

	*o = (struct options){ .want = 1000, .only = -1 };
	while ((c = getopt(argc, argv, "s:n:a:f:k:o:")) != -1) {
		switch (c) {
		case 's': o->seed = strtoull(optarg, NULL, 0); break;
		case 'n': o->want = strtoull(optarg, NULL, 0); break;
		case 'a': o->acks = optarg; break;
		case 'f': o->final = optarg; break;
		case 'k': o->only = strtol(optarg, NULL, 0); break;
		case 'o': o->out = optarg; break;
		default: return -1;
		}
	}
	if (argc - optind != 2 || (o->only >= 0) != (o->out != NULL))
		return -1;
	o->base = argv[optind];
	o->log = argv[optind + 1];
	return 0;
}

/* Load BASE (twice: work and durable) and LOG into r, parse and
 * annotate the log; 0, or -1 after saying why. */
static int load(struct replay *r, const struct options *o, uint8_t **log)
{
	uint64_t loglen;

	r->seed = o->seed;
	r->base_path = o->base;
	r->log_path = o->log;
	r->work = slurp(o->base, &r->size);
	if (r->work == NULL || (*log = slurp(o->log, &loglen)) == NULL) {
		fprintf(stderr, "hmr-powercut: %s: %s\n",
			r->work ? o->log : o->base, strerror(errno));
		return -1;
	}
	r->durable = malloc(r->size ? r->size : 1);
	if (r->durable == NULL || r->size % HMR_BLOCK_SIZE != 0)
		return fprintf(stderr, "hmr-powercut: %s: not whole blocks\n",
			       o->base), -1;
	memcpy(r->durable, r->work, r->size);
	r->dev = (struct hmr_bdev){ .nblocks = r->size / HMR_BLOCK_SIZE,
				    .ctx = r, .read = work_read,
				    .write = work_write, .flush = work_flush };
	if (log_parse(r, *log, loglen) != 0 || find_acknowledged(r) != 0)
		return -1;
	return 0;
}

/* -k STATE -o OUT: write that one state to a file. */
static int write_one(struct replay *r, const struct options *o)
{
	size_t kinds[NKINDS] = { 0 };
	FILE *f;

	if (run_states(r, o, kinds) != 0) {
		fprintf(stderr, "hmr-powercut: no state %ld with this seed\n",
			o->only);
		return 2;
	}
	f = fopen(o->out, "wb");
	if (f == NULL || fwrite(r->work, 1, r->size, f) != r->size ||
	    fclose(f) != 0) {
		perror(o->out);
		return 8;
	}
	printf("hmr-powercut: state %ld written to %s\n", o->only, o->out);
	return 0;
}

/* Parse, load, check the markers and ack lines, every state, the final
 * image; print one summary line.  The exit status is in the header. */
int main(int argc, char **argv)
{
	struct replay r = { 0 };
	struct options o;
	size_t kinds[NKINDS] = { 0 };
	uint64_t newest = 0;
	long acks = 0;
	size_t marks;
	uint8_t *log = NULL;

	if (parse_options(argc, argv, &o) != 0)
		return usage();
	/* Each fsck allocates and frees tables the size of the disk: keep
	 * that memory in the process (no mmap and munmap, no page faults
	 * a thousand times over). */
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, 1 << 30);
	if (load(&r, &o, &log) != 0)
		return 8;
	if (o.only >= 0)
		return write_one(&r, &o);
	marks = check_marks(&r);
	if (o.acks && (acks = check_ack_lines(&r, o.acks, &newest)) < 0)
		return perror(o.acks), 8;
	if (run_states(&r, &o, kinds) != 0)
		return perror("hmr-powercut"), 8;
	if (o.final)
		check_final(&r, o.final);
	if (o.acks && acks == 0)
		problem(&r, "%s holds no '# ack tid=' line: nothing was "
			"acknowledged, so nothing was checked against it", o.acks);
	printf("hmr-powercut: seed 0x%" PRIx64 ": %zu log entries; %zu states "
	       "(%zu at flushes, %zu prefix, %zu lost writes, %zu torn); %ld "
	       "acknowledged commits (newest 0x%" PRIx64 "), %zu ack markers: "
	       "%d problem%s\n", r.seed, r.n,
	       kinds[0] + kinds[1] + kinds[2] + kinds[3], kinds[AT_FLUSH],
	       kinds[CUT_PREFIX], kinds[CUT_LOST], kinds[CUT_TORN], acks,
	       newest, marks, r.problems, r.problems == 1 ? "" : "s");
	return r.problems ? 1 : 0;
}
