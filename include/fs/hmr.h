/*
 * hmr.h - the HMR filesystem's public interface.
 *
 * HMR is reached through a mount handle.  Objects are named by their
 * 64-bit obj_id (the inode number; the root is 1) and, for reads, by an
 * `asof` TID: 0 means "the live filesystem", any committed TID means "the
 * filesystem exactly as commit TID left it" (read-only).  Every function
 * returns 0 or an errno value (ENOENT, EIO, ...); none returns wrong data:
 * anything a CRC or a structure check rejects is reported as EIO.
 *
 * Concurrency: calls may come from several threads.  Calls that change
 * anything run one at a time, and a commit (sync, fsync, the dirty-limit
 * commit) never lands in the middle of one; calls that only read run
 * while a commit writes to the disk, and one at a time with each other
 * and with changes (fs/hmr/hmr_private.h says how; docs/hmr.md section 6
 * draws the table).  Every call may block on the block device.
 *
 * Storage is reached only through struct hmr_bdev: read a block, write a
 * block, flush the device's volatile cache.  A commit is durable when the
 * flush after its superblock write returns.
 */
#ifndef FS_HMR_H
#define FS_HMR_H

#include "hmr_disk.h"

/* A block device: 4096-byte blocks, numbered 0 .. nblocks-1. */
struct hmr_bdev {
	uint64_t nblocks;
	void *ctx;
	int (*read)(struct hmr_bdev *dev, uint64_t blkno, void *buf);
	int (*write)(struct hmr_bdev *dev, uint64_t blkno, const void *buf);
	int (*flush)(struct hmr_bdev *dev);
};

struct hmr_mount;

/* Mount flags. */
#define HMR_MNT_RDONLY 0x1u
#define HMR_MNT_QUIET 0x2u /* do not log superblock fallbacks */
/* A writable mount destroys the orphans a crash left (inodes with nlinks
 * 0 that nothing holds open any more); this flag leaves them, for fsck -r
 * to count. */
#define HMR_MNT_KEEP_ORPHANS 0x4u

/* Attributes of an object, as getattr reports them. */
struct hmr_stat {
	uint64_t ino;
	uint16_t mode; /* S_IF* type bits | permissions */
	uint8_t obj_type;
	uint64_t nlinks;
	uint64_t size;
	uint32_t uid, gid, rdev;
	uint64_t blocks; /* 4096-byte blocks holding file data */
	uint64_t atime_ns, mtime_ns, ctime_ns, btime_ns;
	uint64_t create_tid; /* TID of the inode version shown */
};

/* Which fields hmr_setattr changes. */
#define HMR_SET_MODE 0x01u
#define HMR_SET_UID 0x02u
#define HMR_SET_GID 0x04u
#define HMR_SET_SIZE 0x08u
#define HMR_SET_ATIME 0x10u
#define HMR_SET_MTIME 0x20u

struct hmr_setattr {
	unsigned valid; /* HMR_SET_* */
	uint16_t mode;
	uint32_t uid, gid;
	uint64_t size;
	uint64_t atime_ns, mtime_ns;
};

struct hmr_statfs {
	uint64_t nblocks;
	uint64_t free_blocks; /* free now, including deferred-reuse blocks */
	uint64_t avail_blocks; /* allocatable by ordinary writes */
	uint64_t next_obj_id;
	uint64_t commit_tid; /* last durable commit */
};

/* Counters, always on (style rule 9). */
struct hmr_counters {
	uint64_t commits;
	uint64_t blocks_written;      /* all block writes */
	uint64_t last_commit_blocks;  /* writes in the last commit */
	uint64_t flushes;
	uint64_t cow_copies;	      /* nodes copied on write */
	uint64_t node_splits;
	uint64_t crc_errors;	      /* EIOs from CRC or structure checks */
	uint64_t super_fallbacks;
	uint64_t searches;	      /* descents from the root */
	uint64_t nodes_visited;	      /* nodes entered: descents, steps */
	uint64_t records_visited;     /* elements stepped over by scans */
	uint64_t cache_clean_peak;    /* most clean buffers ever cached */
	uint64_t cache_evictions;     /* clean buffers dropped */
	uint64_t leaves_merged;	      /* sibling leaves reblock joined */
	uint64_t split_commits;	      /* commits inside a split delete/prune */
	uint64_t vop_rollbacks;	      /* VOPs that failed after changing
				       * something, undone (hmr_undo.c) */
};

/* A name found by readdir; `cookie` resumes after this entry. */
struct hmr_dirent {
	uint64_t ino;
	uint64_t cookie;
	uint8_t obj_type;
	uint16_t namelen;
	const char *name; /* not NUL-terminated */
};
/* readdir callback: return nonzero to stop early (buffer full). */
typedef int (*hmr_filldir_fn)(void *arg, const struct hmr_dirent *d);

/* mkfs: format `dev` as an empty filesystem.  May block. */
int hmr_mkfs(struct hmr_bdev *dev, const char *label, uint64_t fsid);

/* Mount: pick the newest valid superblock; asof != 0 implies read-only. */
int hmr_mount(struct hmr_bdev *dev, unsigned flags, uint64_t asof,
	      struct hmr_mount **out);
/* A line for the operator saying what was found wrong, e.g.
 * "slot A (block 1): bad CRC; slot B (block 2): unknown version". */
struct hmr_diag {
	char text[240];
};
/* hmr_mount, and say which check each unusable superblock slot failed
 * (text empty when none failed; print it when the mount fails). */
int hmr_mount_diag(struct hmr_bdev *dev, unsigned flags, uint64_t asof,
		   struct hmr_mount **out, struct hmr_diag *diag);
/* Commit (unless read-only) and release everything. */
int hmr_unmount(struct hmr_mount *m);
/* Drop the mount without committing (a crash, for tests). */
void hmr_mount_abandon(struct hmr_mount *m);

/* Commit now; *tid (may be NULL) receives the durable TID. */
int hmr_sync(struct hmr_mount *m, uint64_t *tid);
int hmr_fsync(struct hmr_mount *m, uint64_t ino);

int hmr_statfs(struct hmr_mount *m, struct hmr_statfs *out);
/* Drop every clean cached block (memory pressure; leak checks). */
int hmr_drop_caches(struct hmr_mount *m);
const struct hmr_counters *hmr_counters(struct hmr_mount *m);
uint64_t hmr_mount_asof(struct hmr_mount *m);

/*
 * Names.  lookup accepts "name@@0x<hex TID>": *asof_out is then that TID.
 *
 * Every call names each object by the pair (asof, ino) that lookup handed
 * out, changing calls included: an object reached through an as-of view
 * (asof != 0) is history, and every call that would change it, or change
 * a directory of that view, answers EROFS before it looks at anything.
 * The caller (FUSE, the kernel's VFS) simply passes on the asof it got.
 */
int hmr_lookup(struct hmr_mount *m, uint64_t asof, uint64_t dir,
	       const char *name, uint64_t *ino, uint64_t *asof_out);
int hmr_getattr(struct hmr_mount *m, uint64_t asof, uint64_t ino,
		struct hmr_stat *st);
int hmr_setattr(struct hmr_mount *m, uint64_t asof, uint64_t ino,
		const struct hmr_setattr *sa);
int hmr_create(struct hmr_mount *m, uint64_t asof, uint64_t dir,
	       const char *name, uint16_t mode, uint32_t rdev, uint64_t *ino);
int hmr_mkdir(struct hmr_mount *m, uint64_t asof, uint64_t dir,
	      const char *name, uint16_t mode, uint64_t *ino);
int hmr_symlink(struct hmr_mount *m, uint64_t asof, uint64_t dir,
		const char *name, const char *target, uint64_t *ino);
int hmr_readlink(struct hmr_mount *m, uint64_t asof, uint64_t ino, char *buf,
		 size_t size, size_t *len);
int hmr_link(struct hmr_mount *m, uint64_t asof, uint64_t ino,
	     uint64_t dir_asof, uint64_t dir, const char *name);
int hmr_unlink(struct hmr_mount *m, uint64_t asof, uint64_t dir,
	       const char *name);
int hmr_rmdir(struct hmr_mount *m, uint64_t asof, uint64_t dir,
	      const char *name);
int hmr_rename(struct hmr_mount *m, uint64_t oasof, uint64_t odir,
	       const char *oname, uint64_t nasof, uint64_t ndir,
	       const char *nname);
int hmr_readdir(struct hmr_mount *m, uint64_t asof, uint64_t dir,
		uint64_t cookie, hmr_filldir_fn fill, void *arg);

/* Files. */
int hmr_read(struct hmr_mount *m, uint64_t asof, uint64_t ino, uint64_t off,
	     void *buf, size_t len, size_t *got);
int hmr_write(struct hmr_mount *m, uint64_t asof, uint64_t ino,
	      uint64_t off, const void *buf, size_t len);
/* Open counts keep unlinked-but-open files (orphans) alive until release. */
int hmr_open(struct hmr_mount *m, uint64_t ino);
int hmr_release(struct hmr_mount *m, uint64_t ino);

/* Snapshots, history and prune. */
struct hmr_snapshot {
	uint64_t tid;
	uint64_t time_ns;
	char label[65];
};
typedef int (*hmr_snap_fn)(void *arg, const struct hmr_snapshot *s);
typedef int (*hmr_history_fn)(void *arg, uint64_t tid, uint32_t ts,
			      const char *what);
int hmr_snapshot_create(struct hmr_mount *m, const char *label,
			uint64_t *tid);
int hmr_snapshot_list(struct hmr_mount *m, hmr_snap_fn fn, void *arg);
int hmr_snapshot_delete(struct hmr_mount *m, uint64_t tid);
int hmr_history(struct hmr_mount *m, uint64_t ino, hmr_history_fn fn,
		void *arg);
/* Destroy history no snapshot pins; *freed receives blocks reclaimed. */
int hmr_prune(struct hmr_mount *m, uint64_t *freed);
/* Compact the meta blocks at most half full (history included), merge
 * sparse sibling leaves, and commit; *moved receives payloads moved, *freed blocks reclaimed (either
 * may be NULL).  ENOSPC when space ran out part way. */
int hmr_reblock(struct hmr_mount *m, uint64_t *moved, uint64_t *freed);

/* fsck: check (and with HMR_FSCK_REPAIR rebuild the freemap and remove
 * orphans).  Each finding goes to `report`.  Returns the number of
 * problems left; *fatal is set when the image could not be read at all. */
#define HMR_FSCK_REPAIR 0x1u
#define HMR_FSCK_VERBOSE 0x2u
typedef void (*hmr_report_fn)(void *arg, const char *msg);
struct hmr_fsck_result {
	uint64_t problems;
	uint64_t repaired;
	uint64_t nodes, records, data_blocks, meta_blocks, orphans;
	uint64_t cache_clean_peak; /* most clean buffers fsck's mount held */
	uint64_t commit_tid;
	int slot_used; /* 0 = A, 1 = B */
	int fatal;
};
int hmr_fsck(struct hmr_bdev *dev, unsigned flags, hmr_report_fn report,
	     void *arg, struct hmr_fsck_result *res);

/* Test hooks.  hmr_dirhash_mask forces hash collisions when nonzero. */
extern uint32_t hmr_dirhash_mask;
/* CRC32C (Castagnoli), as used everywhere on disk. */
uint32_t hmr_crc32c(uint32_t crc, const void *buf, size_t len);

#endif /* FS_HMR_H */
