/*
 * hmr_private.h - state and helpers shared by the HMR core's files.
 *
 * Nothing here is on disk (that is hmr_disk.h) and nothing here is for
 * users of the filesystem (that is hmr.h).  The files of the core are:
 *
 *   hmr_crc.c     CRC32C and the block self-CRC
 *   hmr_cache.c   the buffer cache: one 4 KiB buffer per cached block
 *   hmr_alloc.c   the freemap, block and meta-unit allocation, deferred reuse
 *   hmr_btree.c   the B+tree: search cursor, insert, modify, delete, COW
 *   hmr_commit.c  mkfs, mount, the commit protocol, VOP begin/end
 *   hmr_rec.c     records: visibility, payloads, replace and delete
 *   hmr_inode.c   inodes and attributes
 *   hmr_dir.c     directories: name hashing, lookup, readdir
 *   hmr_file.c    file data: read, write, truncate
 *   hmr_vops.c    namespace operations: create, link, unlink, rename ...
 *   hmr_snap.c    snapshots, history, prune, orphans
 *   hmr_undo.c    per-VOP savepoints: an error undoes only its own VOP
 *   hmr_reblock.c compaction of sparse meta blocks
 *   hmr_space.c   the reserve and the space rules: a full volume deletes
 *   hmr_fsck.c    the offline checker shared by fsck.hmr and the tests
 *
 * Locking: two exclusive locks per mount, always taken in this order.
 *
 *   m->commit_lock  held by every changing call (hmr_wenter) and so by
 *                   every commit, for the whole call: changes and commits
 *                   take turns, and a commit never splits a change.
 *   m->lock         the mount lock: protects every field of struct
 *                   hmr_mount and every buffer.  Every public call holds
 *                   it (readers take only this one, hmr_enter).
 *
 * A commit drops m->lock while it writes and flushes (hmr_commit), still
 * holding m->commit_lock: the tree it writes is frozen (no change can
 * start), and readers, who only read it, go on meanwhile.  What the
 * commit's I/O touches - the dirty list and dirty buffers, the freemap
 * copies, the counters of writes - readers never write.  Everything
 * declared here expects m->lock to be held already (or the mount to be
 * private to one thread, as in mkfs and fsck).
 */
#ifndef FS_HMR_PRIVATE_H
#define FS_HMR_PRIVATE_H

#include "fs/hmr.h"

struct hmr_cursor;

/* One cached block.  Buffers are found by block number in m->hash; a
 * clean one is also on the clock ring (m->clock), a dirty one on
 * m->dirty. */
struct hmr_buf {
	struct hmr_buf *hash_next;  /* chain in m->hash */
	struct hmr_buf *dirty_next; /* chain in m->dirty when DIRTY */
	struct hmr_buf *clock_prev, *clock_next; /* the ring, when clean */
	uint64_t blkno;
	uint32_t flags; /* HMR_BUF_* */
	uint8_t ref;	/* used since the clock hand last passed */
	/* The last small payload in this block that passed its CRC check
	 * (hmr_rec.c): bytes [ok_off, ok_off + ok_len) had CRC ok_crc.
	 * Reading that same record again skips the check, as a whole block
	 * does with HMR_BUF_VERIFIED.  ok_len 0: none. */
	uint16_t ok_off, ok_len;
	uint32_t ok_crc;
	uint8_t data[HMR_BLOCK_SIZE] __attribute__((aligned(64)));
};
#define HMR_BUF_DIRTY 0x1u    /* must be written by the next commit */
#define HMR_BUF_VERIFIED 0x2u /* contents passed their CRC check */

/* Per-block in-memory allocation state (m->bflags), never on disk. */
#define HMR_BF_FRESH 0x1u /* allocated in the open commit */
#define HMR_BF_HELD 0x2u  /* freed in the open commit: reuse after it */
#define HMR_BF_UNDO_FM 0x4u   /* hmr_undo.c: freemap entry logged */
#define HMR_BF_UNDO_DATA 0x8u /* hmr_undo.c: buffer contents kept */
#define HMR_BF_VOPNEW 0x10u   /* allocated by the running VOP */

/* Who may use the emergency reserve (hmr_space.c): ordinary VOPs leave
 * it alone, reclaiming ones (unlink, rmdir, shrinking truncate) may use
 * it down to a floor, prune and snapshot delete down to the last block. */
enum hmr_alloc_class { HMR_ALLOC_NORMAL, HMR_ALLOC_RESERVE, HMR_ALLOC_PRUNE };

/* The savepoint of the running VOP (hmr_undo.c).  Most VOPs touch a few
 * blocks, so the log lives in the mount; a big VOP grows it on the heap,
 * and the heap part is freed when the VOP ends. */
#define HMR_UNDO_INLINE 32
struct hmr_undo_fm {
	uint64_t blkno;
	uint8_t fm, bflags; /* as they were before the VOP touched them */
};
struct hmr_undo_buf {
	uint64_t blkno;
	struct hmr_buf *buf; /* detached copy; NULL: drop the cached one */
};
struct hmr_undo {
	int active; /* a VOP is running */
	int broken; /* the log could not grow: roll back the whole commit */
	uint64_t root_blkno;
	uint32_t root_crc, root_gen_lo;
	int root_level;
	uint64_t nfree, nheld, meta_blk;
	int meta_next_unit, dirty_meta;
	struct hmr_undo_fm *fm; /* fm_inline, or heap when a VOP needs more */
	size_t fm_n, fm_cap;
	struct hmr_undo_buf *bufs; /* likewise */
	size_t bufs_n, bufs_cap;
	struct hmr_undo_fm fm_inline[HMR_UNDO_INLINE];
	struct hmr_undo_buf bufs_inline[HMR_UNDO_INLINE];
};

/* What hmr_read remembers of a file it read (hmr_file.c): its size as
 * of asof, true while the tree is still in generation gen. */
#define HMR_SIZE_HINTS 32
struct hmr_size_hint {
	uint64_t ino, asof, gen, size;
};

/* Open-count table entry (files unlinked while open stay alive). */
struct hmr_openfile {
	uint64_t ino;
	uint32_t count;
	struct hmr_openfile *next;
};

struct hmr_mount {
	struct hmr_bdev *dev;
	hmr_lock_t lock;	/* the mount lock (see the top) */
	hmr_lock_t commit_lock; /* changing calls and commits */
	int commit_unlocks; /* set by hmr_wenter: a commit may drop m->lock
			     * for its I/O (a private mount holds no lock) */
	unsigned mnt_flags; /* HMR_MNT_* */
	uint64_t asof;	    /* nonzero: an as-of (read-only) mount */
	int dead;	    /* a write failed: refuse further changes */

	/* The durable state: the superblock the last commit wrote. */
	struct hmr_super sb;
	uint64_t durable_tid; /* == sb.commit_tid */
	uint64_t tid;	      /* the open commit: durable_tid + 1 */

	/* The tree as the open commit sees it. */
	uint64_t root_blkno;
	uint32_t root_crc;
	uint32_t root_gen_lo;
	int root_level;
	uint64_t next_obj_id;
	int dirty_meta; /* anything changed since the last commit */

	/* Allocation (hmr_alloc.c). */
	uint64_t nblocks;
	uint32_t fm_nblocks; /* freemap blocks per copy */
	uint8_t *fm;	     /* one entry per block, the open commit's view */
	uint8_t *bflags;     /* HMR_BF_* per block */
	uint8_t *fm_shadow[2]; /* what each on-disk copy holds */
	int shadow_valid[2];
	uint64_t nfree; /* entries equal to HMR_FM_FREE (held included) */
	uint64_t nheld;
	uint64_t alloc_cursor;
	uint64_t meta_blk; /* the open meta block, 0 when none */
	int meta_next_unit;
	enum hmr_alloc_class alloc_class; /* may the running VOP use the
					   * reserve?  (deletes may) */
	int split_ok;  /* the running VOP may commit part way (hmr_space.c) */
	int emergency; /* ... and destroys unpinned history at once */
	uint64_t snap_max_tid; /* newest live snapshot (0: none) */

	/* Buffer cache (hmr_cache.c). */
	struct hmr_buf **hash;
	uint64_t hash_mask;
	uint64_t nbufs;
	struct hmr_buf *dirty;
	uint64_t ndirty;
	struct hmr_buf *clock; /* the clock hand on the ring of clean ones */
	uint64_t nclean;
	uint64_t cache_max; /* budget: clean buffers never exceed it */

	/* Advanced before every change to the tree (an element inserted,
	 * changed or deleted, a new root, a rollback, an aborted commit):
	 * anything read in an older generation may be stale.  Starts at 1. */
	uint64_t tree_gen;
	struct hmr_size_hint size_hints[HMR_SIZE_HINTS]; /* by ino */

	struct hmr_undo undo; /* the running VOP's savepoint */
	struct hmr_openfile *open_files;
	struct hmr_counters stats;

	/* Mount only: the check that made the slot being tried unusable
	 * (a constant string) and, when nonzero, the block it concerns. */
	const char *why;
	uint64_t why_blk;
};

/* Incompatible features this code understands: none yet.  A superblock
 * with any other bit set was written by a newer format and is refused. */
#define HMR_INCOMPAT_KNOWN 0u

/* Thresholds. */
#define HMR_DIRTY_COMMIT_LIMIT 8192 /* dirty buffers that force a commit */
#define HMR_CACHE_BUFS 2048	     /* clean buffers a mount keeps: 8 MiB */
/* The most buffers one step between two cache safe points can read: a
 * descent, a second descent and a step back a leaf (a scan's jump over a
 * record's history), each at most HMR_MAX_DEPTH nodes, and a payload. */
#define HMR_CACHE_STEP (3 * HMR_MAX_DEPTH + 16)

static inline struct hmr_node *hmr_buf_node(struct hmr_buf *b)
{
	return (struct hmr_node *)b->data;
}

/*
 * A message under construction: the core has no snprintf (it builds
 * without libc), so fsck's findings and mount's diagnostics are assembled
 * from strings and decimal numbers.  A message longer than the buffer is
 * cut, never overflowed.  Start with `struct hmr_msg mb = { .n = 0 };`.
 */
struct hmr_msg {
	char s[320];
	size_t n;
};

/* Append the NUL-terminated string s. */
static inline void hmr_msg_str(struct hmr_msg *mb, const char *s)
{
	while (*s && mb->n + 1 < sizeof(mb->s))
		mb->s[mb->n++] = *s++;
	mb->s[mb->n] = '\0';
}

/* Append v in decimal. */
static inline void hmr_msg_num(struct hmr_msg *mb, uint64_t v)
{
	char tmp[24];
	int i = 0;

	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i > 0 && mb->n + 1 < sizeof(mb->s))
		mb->s[mb->n++] = tmp[--i];
	mb->s[mb->n] = '\0';
}

/* hmr_crc.c */
uint32_t hmr_block_crc(const void *block);
void hmr_block_seal(void *block);
int hmr_blkhdr_check(const void *block, uint32_t magic, uint64_t blkno,
		     uint64_t fsid);

/* hmr_cache.c */
int hmr_cache_init(struct hmr_mount *m);
void hmr_cache_destroy(struct hmr_mount *m);
int hmr_buf_get(struct hmr_mount *m, uint64_t blkno, struct hmr_buf **out);
struct hmr_buf *hmr_buf_new(struct hmr_mount *m, uint64_t blkno);
void hmr_buf_dirty(struct hmr_mount *m, struct hmr_buf *b);
void hmr_buf_discard(struct hmr_mount *m, uint64_t blkno);
int hmr_cache_write_dirty(struct hmr_mount *m);
void hmr_cache_mark_clean(struct hmr_mount *m);
struct hmr_buf *hmr_buf_clone(struct hmr_mount *m, const struct hmr_buf *b);
void hmr_buf_detach(struct hmr_mount *m, struct hmr_buf *b);
void hmr_buf_reinstate(struct hmr_mount *m, struct hmr_buf *copy);
void hmr_cache_drop_dirty(struct hmr_mount *m);
void hmr_cache_evict(struct hmr_mount *m, const struct hmr_cursor *keep);
int hmr_dev_write(struct hmr_mount *m, uint64_t blkno, const void *data);
int hmr_dev_flush(struct hmr_mount *m);

/* The bucket of a block: its low bits.  Blocks are handed out by a
 * next-fit cursor, so a commit's blocks are mostly consecutive numbers and
 * the low bits spread them evenly; with at least as many buckets as
 * blocks (up to 2^20) chains stay about one long. */
static inline uint64_t hmr_buf_hash(const struct hmr_mount *m, uint64_t blkno)
{
	return blkno & m->hash_mask;
}

/* The cached buffer of blkno or NULL: the fast path of every descent.
 * A hit marks the buffer used, for the clock. */
static inline struct hmr_buf *hmr_buf_find(struct hmr_mount *m,
					   uint64_t blkno)
{
	struct hmr_buf *b = m->hash[hmr_buf_hash(m, blkno)];

	while (b != NULL && b->blkno != blkno)
		b = b->hash_next;
	if (b != NULL)
		b->ref = 1;
	return b;
}

/* hmr_alloc.c */
extern uint64_t hmr_alloc_fail_countdown; /* test hook, see hmr_alloc.c */
int hmr_freemap_setup(struct hmr_mount *m);
int hmr_freemap_load(struct hmr_mount *m, const struct hmr_super *sb);
int hmr_freemap_write(struct hmr_mount *m, uint32_t *copy_crc);
uint32_t hmr_freemap_crc(const uint8_t *fm, uint64_t nblocks);
int hmr_block_alloc(struct hmr_mount *m, uint64_t *blkno);
void hmr_block_free(struct hmr_mount *m, uint64_t blkno);
int hmr_meta_alloc(struct hmr_mount *m, uint32_t len, uint64_t *off);
void hmr_meta_free(struct hmr_mount *m, uint64_t off, uint32_t len);
void hmr_alloc_commit_done(struct hmr_mount *m);
uint64_t hmr_avail_blocks(const struct hmr_mount *m);
uint64_t hmr_freemap_first(const struct hmr_mount *m, int copy);

/* hmr_space.c */
uint64_t hmr_reserve_blocks(const struct hmr_mount *m);
uint64_t hmr_floor_blocks(const struct hmr_mount *m);
uint64_t hmr_est_modify(const struct hmr_mount *m);
uint64_t hmr_est_insert(const struct hmr_mount *m);
uint64_t hmr_est_version(const struct hmr_mount *m);
uint64_t hmr_est_write(const struct hmr_mount *m, uint64_t nblocks);
int hmr_space_begin(struct hmr_mount *m, enum hmr_alloc_class class,
		    uint64_t est);
int hmr_may_allocate(const struct hmr_mount *m);
int hmr_space_short(const struct hmr_mount *m);
int hmr_vop_checkpoint(struct hmr_mount *m);
int hmr_pinned(const struct hmr_mount *m, uint64_t create_tid);

/* hmr_btree.c */
struct hmr_cursor {
	struct hmr_mount *m;
	int nlevels; /* path[0] is the root, path[nlevels-1] the leaf */
	struct {
		struct hmr_buf *buf;
		int index;
	} path[HMR_MAX_DEPTH];
};
/*
 * hmr_cache_relax - a cache safe point: the caller holds the mount lock
 * and no pointer to a clean buffer except the path of cursor `keep` (may
 * be NULL), which survives.  Evicts clean buffers when they come within
 * HMR_CACHE_STEP of the budget.  Never blocks; cheap when there is room.
 */
static inline void hmr_cache_relax(struct hmr_mount *m,
				   const struct hmr_cursor *keep)
{
	if (m->nclean + HMR_CACHE_STEP > m->cache_max)
		hmr_cache_evict(m, keep);
}
int hmr_key_cmp(const struct hmr_base *a, const struct hmr_base *b);
int hmr_bt_seek(struct hmr_mount *m, const struct hmr_base *key,
		struct hmr_cursor *c);
int hmr_bt_next(struct hmr_cursor *c);
int hmr_bt_seek_le(struct hmr_mount *m, const struct hmr_base *key,
		   struct hmr_cursor *c);
/* hmr_bt_elm - the element under the cursor (valid after seek/next = 0). */
static inline struct hmr_elm *hmr_bt_elm(struct hmr_cursor *c)
{
	int leaf = c->nlevels - 1;

	return &hmr_buf_node(c->path[leaf].buf)->elms[c->path[leaf].index];
}
int hmr_bt_insert(struct hmr_mount *m, const struct hmr_elm *elm);
int hmr_bt_modify(struct hmr_mount *m, const struct hmr_base *key,
		  struct hmr_elm **out);
int hmr_bt_delete(struct hmr_mount *m, const struct hmr_base *key);
int hmr_bt_create_root(struct hmr_mount *m);
int hmr_bt_finalize(struct hmr_mount *m);
int hmr_node_verify(struct hmr_mount *m, struct hmr_buf *b, uint32_t crc,
		    uint32_t gen_lo, int level);

/* hmr_commit.c */
int hmr_commit(struct hmr_mount *m);
void hmr_abort_open_commit(struct hmr_mount *m);
int hmr_vop_begin(struct hmr_mount *m, uint64_t est_blocks);
int hmr_vop_begin_reclaim(struct hmr_mount *m, enum hmr_alloc_class class,
			  uint64_t est_blocks);
int hmr_vop_end(struct hmr_mount *m, int error);
int hmr_writable(struct hmr_mount *m);
int hmr_read_super(struct hmr_bdev *dev, int slot, struct hmr_super *sb,
		   const char **why);

/* hmr_undo.c */
void hmr_undo_begin(struct hmr_mount *m);
void hmr_undo_fm(struct hmr_mount *m, uint64_t b, int allocating);
int hmr_undo_touch(struct hmr_mount *m, struct hmr_buf *b);
int hmr_undo_keep(struct hmr_mount *m, uint64_t b);
void hmr_undo_release(struct hmr_mount *m);
int hmr_undo_rollback(struct hmr_mount *m);
void hmr_undo_destroy(struct hmr_mount *m);

/* hmr_rec.c */
extern uint64_t hmr_payload_fail_countdown; /* test hook, see hmr_rec.c */
int hmr_visible(const struct hmr_base *b, uint64_t asof);
void hmr_key_make(struct hmr_base *k, uint32_t loc, uint64_t obj,
		  uint16_t rec_type, uint64_t key);
int hmr_rec_find(struct hmr_mount *m, uint64_t asof,
		 const struct hmr_base *key, struct hmr_elm *out);
/* A scan of the records in [from, end) visible as of asof, one version
 * per record, in key order (hmr_rec.c). */
struct hmr_scan {
	struct hmr_cursor c;
	uint64_t asof;
	struct hmr_base end; /* the first key past the range */
};
int hmr_scan_start(struct hmr_mount *m, struct hmr_scan *s, uint64_t asof,
		   const struct hmr_base *from, const struct hmr_base *end);
int hmr_scan_next(struct hmr_scan *s);
static inline const struct hmr_elm *hmr_scan_elm(struct hmr_scan *s)
{
	return hmr_bt_elm(&s->c);
}
int hmr_rec_payload(struct hmr_mount *m, const struct hmr_elm *e, void *buf);
int hmr_rec_payload_part(struct hmr_mount *m, const struct hmr_elm *e,
			 uint32_t from, void *buf, size_t n);
int hmr_rec_insert(struct hmr_mount *m, const struct hmr_base *key,
		   uint8_t obj_type, const void *payload, uint32_t len);
int hmr_rec_insert_block(struct hmr_mount *m, const struct hmr_base *key,
			 uint64_t blkno, uint32_t data_crc);
int hmr_rec_delete(struct hmr_mount *m, const struct hmr_elm *e);
int hmr_rec_replace(struct hmr_mount *m, const struct hmr_elm *old,
		    const void *payload, uint32_t len);
int hmr_rec_destroy(struct hmr_mount *m, const struct hmr_elm *e);
int hmr_rec_move_payload(struct hmr_mount *m, const struct hmr_elm *e);
void hmr_payload_free(struct hmr_mount *m, const struct hmr_elm *e);

/* hmr_inode.c */
int hmr_inode_get(struct hmr_mount *m, uint64_t asof, uint64_t ino,
		  struct hmr_inode_data *out, struct hmr_elm *elm);
int hmr_inode_put(struct hmr_mount *m, uint64_t ino,
		  const struct hmr_inode_data *in);
int hmr_inode_new(struct hmr_mount *m, uint8_t obj_type, uint16_t mode,
		  uint64_t parent, uint64_t *ino, struct hmr_inode_data *in);
int hmr_inode_destroy(struct hmr_mount *m, uint64_t ino);
uint16_t hmr_mode_of_type(uint8_t obj_type);
uint8_t hmr_type_of_mode(uint16_t mode);

/* hmr_dir.c: a dirent payload with room for the longest name. */
struct hmr_dirent_buf {
	struct hmr_dirent_data d;
	char name[HMR_NAME_MAX + 1];
};
uint64_t hmr_dirhash(const char *name, size_t len);
int hmr_dir_find(struct hmr_mount *m, uint64_t asof, uint64_t dir,
		 const char *name, struct hmr_elm *elm,
		 struct hmr_dirent_buf *ent);
int hmr_dir_add(struct hmr_mount *m, uint64_t dir, const char *name,
		uint64_t ino, uint8_t obj_type);
int hmr_dir_is_empty(struct hmr_mount *m, uint64_t dir);
int hmr_check_name(const char *name);

/* hmr_file.c */
int hmr_file_truncate(struct hmr_mount *m, uint64_t ino,
		      struct hmr_inode_data *in, uint64_t size);
uint64_t hmr_file_block_count(struct hmr_mount *m, uint64_t asof,
			      uint64_t ino);

/* hmr_reblock.c */
int hmr_reblock_passes(struct hmr_mount *m, uint64_t *moved);

/* hmr_snap.c */
int hmr_is_open(struct hmr_mount *m, uint64_t ino);
void hmr_snap_recount(struct hmr_mount *m);
int hmr_remove_orphans(struct hmr_mount *m, uint64_t *removed);
int hmr_reap_orphans(struct hmr_mount *m);

/* Changing calls take the asof of each object they are given: an object
 * of an as-of view is history and cannot change (EROFS). */
static inline int hmr_live_object(uint64_t asof)
{
	return asof != 0 ? EROFS : 0;
}

/* The TID a read should use: its own, else the mount's as-of TID. */
/* The tree is about to change: every size hint becomes stale. */
static inline void hmr_tree_changed(struct hmr_mount *m)
{
	m->tree_gen++;
}

static inline uint64_t hmr_eff_asof(const struct hmr_mount *m, uint64_t asof)
{
	return asof ? asof : m->asof;
}

/* Mode bits, spelled out here because the core includes no libc header
 * (POSIX <sys/stat.h> values, identical on every system we target). */
#define HMR_S_IFMT 0170000
#define HMR_S_IFSOCK 0140000
#define HMR_S_IFLNK 0120000
#define HMR_S_IFREG 0100000
#define HMR_S_IFBLK 0060000
#define HMR_S_IFDIR 0040000
#define HMR_S_IFCHR 0020000
#define HMR_S_IFIFO 0010000

/* Lock helpers used by every public entry point.  A call that only
 * reads takes the mount lock (hmr_enter, hmr_leave); a call that may
 * change anything or commit takes the commit lock first (hmr_wenter,
 * hmr_wleave).  Both may block. */
static inline void hmr_enter(struct hmr_mount *m)
{
	hmr_lock_acquire(&m->lock);
}
static inline int hmr_leave(struct hmr_mount *m, int error)
{
	hmr_cache_relax(m, NULL); /* a safe point: the call is done */
	hmr_lock_release(&m->lock);
	return error;
}
static inline void hmr_wenter(struct hmr_mount *m)
{
	hmr_lock_acquire(&m->commit_lock);
	hmr_lock_acquire(&m->lock);
	m->commit_unlocks = 1;
}
static inline int hmr_wleave(struct hmr_mount *m, int error)
{
	m->commit_unlocks = 0;
	hmr_cache_relax(m, NULL);
	hmr_lock_release(&m->lock);
	hmr_lock_release(&m->commit_lock);
	return error;
}

#endif /* FS_HMR_PRIVATE_H */
