/*
 * fs/vfs.h - the virtual file system: mounts, vnodes, path lookup and
 * open files (fs/vfs_mount.c, fs/vfs_lookup.c, fs/vfs_ops.c;
 * docs/storage.md).
 *
 * A filesystem type supplies two tables: struct vfsops for the whole
 * mount (mount, unmount, root, statfs, sync) and struct vop_ops for its
 * objects (lookup, create, read, write, ...).  Everything above -- the
 * shell, the tests, later the system calls -- uses only the vfs_*
 * functions at the bottom of this file, which take path names or open
 * files and never know which filesystem answers.
 *
 *   vfs_open("/docs/a@@0x1f")      file table
 *        |                            |
 *   vfs_namei: one component at a time, crossing mounts, following
 *        |     symlinks (at most VFS_MAXSYMLINKS), ".." from a stack
 *        v
 *   vnode (mount, ino, asof) ---> vop_ops of its filesystem ---> HMR, tmpfs
 *
 * Vnodes.  One vnode per (mount, ino, asof) exists at a time; the mount's
 * vnode table hands it out with a reference (vfs_vget) and vrele() gives
 * the reference back.  An unreferenced vnode stays cached until the table
 * holds more than VFS_VNODE_CACHE of them or the filesystem unmounts; then
 * its filesystem's vop_reclaim frees the private part.  A vnode whose
 * object is gone (vop_inactive says so: removed, and not open) is
 * reclaimed as soon as its last reference goes.
 *
 * Locking.  The mount table and each mount's vnode table are protected by
 * LWKT tokens and never held across a block.  Reference counts are
 * atomic.  A filesystem serializes its own operations (HMR: its mount
 * lock; tmpfs: a serializer per mount), so the VFS adds no lock around
 * a vop call, and calls into different mounts run in parallel.  A mount
 * or unmount, which blocks in the filesystem, marks each decision in
 * the mount's state (enum mnt_state) in the same hold of the token as
 * its check, so overlapping mounts and unmounts of one place never both
 * pass.
 */
#ifndef FS_VFS_H
#define FS_VFS_H

#include <kern/types.h>
#include <kern/queue.h>
#include <kern/serialize.h>
#include <kern/token.h>

/* File types and permission bits, as in st_mode (POSIX <sys/stat.h>). */
#define S_IFMT		0170000
#define S_IFDIR		0040000
#define S_IFREG		0100000
#define S_IFLNK		0120000
#define S_IFCHR		0020000
#define S_ISDIR(m)	(((m) & S_IFMT) == S_IFDIR)
#define S_ISREG(m)	(((m) & S_IFMT) == S_IFREG)
#define S_ISLNK(m)	(((m) & S_IFMT) == S_IFLNK)
#define S_ISCHR(m)	(((m) & S_IFMT) == S_IFCHR)

#define VFS_NAME_MAX	255	/* one path component */
#define VFS_PATH_MAX	1024	/* a whole path, with its NUL */
#define VFS_MAXSYMLINKS	8	/* symlinks followed in one lookup */
#define VFS_MAXDEPTH	64	/* directories deep one lookup may go */
#define VFS_VNODE_CACHE	512	/* unreferenced vnodes a mount keeps */
#define VFS_VHASH	64	/* buckets of a mount's vnode table */
#define VFS_NCACHE	256	/* entries of a mount's name cache */
#define VFS_NC_NAMELEN	40	/* longer names are not cached */

enum vtype { VNON, VREG, VDIR, VLNK, VCHR };	/* VCHR: a device (devfs) */

struct vnode;
struct mount;

/* What getattr reports (a struct stat without the device fields). */
struct vattr {
	uint64_t va_ino;
	uint32_t va_mode;		/* S_IF* | permissions */
	uint64_t va_nlink;
	uint64_t va_size;
	uint32_t va_uid, va_gid;
	uint64_t va_blocks;		/* 4 KiB blocks of data */
	uint64_t va_atime_ns, va_mtime_ns, va_ctime_ns;
	uint64_t va_asof;		/* 0, or the TID this view shows */
	uint64_t va_rdev;		/* a device (S_IFCHR): its number */
};

/* What setattr changes: the VA_SET_* bits say which fields count. */
#define VA_SET_MODE	0x1u
#define VA_SET_SIZE	0x2u
#define VA_SET_UID	0x4u
#define VA_SET_GID	0x8u
#define VA_SET_MTIME	0x10u

struct vsetattr {
	unsigned valid;
	uint32_t mode;
	uint64_t size;
	uint32_t uid, gid;
	uint64_t mtime_ns;
};

struct vstatfs {
	char fstype[16];
	uint64_t blocks, free_blocks;	/* 4 KiB blocks */
	uint64_t files;			/* objects, if known */
	uint64_t commit_tid;		/* HMR: the last durable commit */
};

/* readdir callback: one entry; return nonzero to stop (buffer full).  It
 * runs inside the filesystem's lock: it must not call back into the VFS
 * (copy the entries out, then look at them). */
struct vdirent {
	uint64_t ino;
	uint64_t cookie;		/* resume after this entry */
	enum vtype type;
	const char *name;
	size_t namelen;
};
typedef int (*vfs_filldir_t)(void *arg, const struct vdirent *d);

/* vop_write's ioflag: write at the end of the file (O_APPEND). */
#define IO_APPEND	0x1

/*
 * The operations on one filesystem's objects.  Each returns 0 or an
 * errno.  A vnode argument is referenced by the caller for the whole
 * call; a vnode returned through vpp comes with a new reference.  All may
 * block.  Names are single components, never "." or "..", at most
 * VFS_NAME_MAX bytes (the VFS checks).
 */
struct vop_ops {
	int (*vop_lookup)(struct vnode *dvp, const char *name,
			  struct vnode **vpp);
	int (*vop_create)(struct vnode *dvp, const char *name, uint32_t mode,
			  struct vnode **vpp);
	int (*vop_mkdir)(struct vnode *dvp, const char *name, uint32_t mode,
			 struct vnode **vpp);
	int (*vop_symlink)(struct vnode *dvp, const char *name,
			   const char *target);
	int (*vop_link)(struct vnode *vp, struct vnode *dvp, const char *name);
	int (*vop_unlink)(struct vnode *dvp, const char *name);
	int (*vop_rmdir)(struct vnode *dvp, const char *name);
	int (*vop_rename)(struct vnode *fdvp, const char *fname,
			  struct vnode *tdvp, const char *tname);
	int (*vop_readlink)(struct vnode *vp, char *buf, size_t size,
			    size_t *len);
	int (*vop_read)(struct vnode *vp, uint64_t off, void *buf, size_t len,
			size_t *done);
	/* len bytes at *off, or with IO_APPEND at the end of the file,
	 * which the filesystem reads under the same lock as it writes, so
	 * two appenders never pick one offset.  On success *off is the
	 * offset just past what was written. */
	int (*vop_write)(struct vnode *vp, uint64_t *off, const void *buf,
			 size_t len, int ioflag);
	int (*vop_getattr)(struct vnode *vp, struct vattr *va);
	int (*vop_setattr)(struct vnode *vp, const struct vsetattr *sa);
	int (*vop_readdir)(struct vnode *vp, uint64_t cookie,
			   vfs_filldir_t fill, void *arg);
	int (*vop_fsync)(struct vnode *vp);
	/* A file is opened with these O_* flags (EROFS for a write open of
	 * something read-only), and later closed. */
	int (*vop_open)(struct vnode *vp, int flags);
	int (*vop_close)(struct vnode *vp);
	/* The last reference is going: true if the object is gone (no
	 * name, not open), so the vnode is reclaimed now, not cached.
	 * Asked only of vnodes that lost a name (v_maybe_gone). */
	bool (*vop_inactive)(struct vnode *vp);
	void (*vop_reclaim)(struct vnode *vp);	/* free v_data */
};

struct vnode {
	struct mount *v_mount;
	const struct vop_ops *v_ops;
	enum vtype v_type;
	uint64_t v_ino, v_asof;		/* identity inside the mount */
	void *v_data;			/* the filesystem's */
	volatile int v_refcnt;		/* atomic */
	volatile bool v_maybe_gone;	/* a name of it was removed: ask
					 * vop_inactive at its last vrele */
	struct mount *v_mountedhere;	/* mount covering this dir, from
					 * its claim (MOUNTING): vfs_token */
	bool v_removing;		/* an rmdir of this dir is under
					 * way (vfs_rmdir_claim): vfs_token */
	struct vattr v_attr;		/* cached attributes (vfs_cache.c) */
	uint64_t v_attr_gen;		/* mnt_gen v_attr is from; 0: none */
	TAILQ_ENTRY(vnode) v_hash;	/* mnt_vhash bucket: mnt_token */
	TAILQ_ENTRY(vnode) v_free;	/* mnt_free when unreferenced */
	struct vm_object *v_object;	/* its pages while mapped, or NULL:
					 * vm_object_token (vm_object_vnode) */
	/* Held across every change of a regular file's bytes or size
	 * through the VFS (write, truncate) and every page-in or
	 * write-back of its object, so that none of them interleave
	 * (vm/vnode_pager.c).  Taken before the filesystem's own locks. */
	struct lwkt_serialize v_iolock;
};

struct vfsops {
	const char *name;		/* "hmr", "tmpfs" */
	/* Set mp->mnt_data from source (a device name, or NULL). */
	int (*vfs_mount)(struct mount *mp, const char *source,
			 unsigned flags);
	/* Flush and free; every vnode is already reclaimed. */
	int (*vfs_unmount)(struct mount *mp);
	int (*vfs_root)(struct mount *mp, struct vnode **vpp);
	int (*vfs_statfs)(struct mount *mp, struct vstatfs *st);
	int (*vfs_sync)(struct mount *mp);
};

#define MNT_RDONLY	0x1u

/*
 * Where a mount is in its life (mnt_state, under vfs_token).  Each step
 * is decided and taken in one hold of vfs_token, so two threads never
 * both pass the same check:
 *
 *   vfs_mount claims the directory --> MNTS_MOUNTING --(filesystem up)-->
 *   MNTS_MOUNTED --(vfs_unmount claims it)--> MNTS_UNMOUNTING --> freed
 *                 <--(EBUSY: a vnode still referenced)--'
 *
 * MOUNTING: on the table and on its directory (v_mountedhere), so a
 * second mount there is EBUSY, but lookups do not cross into it and
 * walks skip it.  UNMOUNTING: lookups still cross into it until the
 * unmount's last step; walks skip it; a second unmount, or a mount on
 * one of its directories, is EBUSY.
 */
enum mnt_state {
	MNTS_MOUNTING,
	MNTS_MOUNTED,
	MNTS_UNMOUNTING,
};

struct mount {
	const struct vfsops *mnt_op;
	char mnt_path[VFS_PATH_MAX];	/* where it is mounted */
	char mnt_source[32];		/* the device, or the fs name */
	unsigned mnt_flags;
	void *mnt_data;			/* the filesystem's */
	struct vnode *mnt_root;		/* referenced while mounted */
	struct vnode *mnt_covered;	/* the directory under it, or NULL */
	struct lwkt_token mnt_token;	/* the two vnode lists below */
	TAILQ_HEAD(, vnode) mnt_vhash[VFS_VHASH]; /* every vnode, by ino */
	TAILQ_HEAD(, vnode) mnt_free;	/* the unreferenced ones, LRU */
	int mnt_nvnodes, mnt_nfree;
	bool mnt_unmounting;		/* vfs_vget refuses: mnt_token */
	enum mnt_state mnt_state;	/* vfs_token */
	volatile uint64_t mnt_gen;	/* advances at every change: atomic */
	struct ncentry *mnt_ncache;	/* VFS_NCACHE entries: mnt_token */
	TAILQ_ENTRY(mount) mnt_link;	/* the mount table: vfs_token */
};

/* ---- for filesystems -------------------------------------------------- */

/*
 * The vnode (mp, ino, asof), referenced.  If none is cached, a new one is
 * made and init(vp, arg) sets its v_type, v_ops and v_data before anyone
 * else can see it; if another thread made the same vnode meanwhile, the
 * new one is reclaimed and the other returned.  Returns 0, init's error,
 * or EBUSY while the mount is being unmounted.  Thread context; may
 * block (in init).
 */
int vfs_vget(struct mount *mp, uint64_t ino, uint64_t asof,
	     int (*init)(struct vnode *vp, void *arg), void *arg,
	     struct vnode **vpp);

void vref(struct vnode *vp);
void vrele(struct vnode *vp);

/* ---- the kernel's file interface --------------------------------------- */

/* Open flags. */
#define O_RDONLY	0x0000
#define O_WRONLY	0x0001
#define O_RDWR		0x0002
#define O_ACCMODE	0x0003
#define O_CREAT		0x0040
#define O_EXCL		0x0080
#define O_TRUNC		0x0200
#define O_APPEND	0x0400
#define O_DIRECTORY	0x10000
#define O_NOFOLLOW	0x20000

struct file {
	struct vnode *f_vp;
	uint64_t f_offset;
	int f_flags;
	volatile int f_refcnt;
};

/* Register a filesystem type: at boot, or later (a test's own type).
 * Registering the same ops again does nothing.  Thread context; does not
 * block.  Panics when the table is full (a build error). */
void vfs_register(const struct vfsops *ops);

/*
 * Mount filesystem type fstype from source at path (an existing directory;
 * "/" for the first mount).  Returns 0, ENODEV (no such type), ENOENT,
 * ENOTDIR, EBUSY (something is mounted there or being mounted there, path
 * is a mount's root, or the filesystem holding path is being unmounted),
 * or the filesystem's error.  Of two mounts on one directory at once,
 * exactly one can succeed.  Thread context; blocks.
 */
int vfs_mount(const char *fstype, const char *source, const char *path,
	      unsigned flags);
/*
 * Sync and unmount the mount at path.  Returns 0; EINVAL when nothing is
 * mounted at path; EBUSY while a vnode of it is still referenced, while
 * another mount sits on one of its directories, or while path is being
 * mounted or unmounted by another thread (of two unmounts at once,
 * exactly one can succeed).  A failed sync (a dead filesystem) is
 * returned but does not keep it.  Waits for walks (vfs_foreach_mount)
 * standing on the mount to move on.  Thread context; blocks.
 */
int vfs_unmount(const char *path);
/*
 * Call fn for every mount in service (MNTS_MOUNTED), in mount order (the
 * shell's `mount` and `df`).  fn runs with no token held and may block;
 * the mount it is given stays on the table, its memory valid, until fn
 * returns: an unmount of it waits.  Mounts being made or unmounted are
 * skipped.  fn must not unmount the mount it is given (it would wait for
 * itself; that panics).  Thread context; may block.
 */
void vfs_foreach_mount(void (*fn)(struct mount *mp, void *arg), void *arg);

/*
 * An rmdir's claim on the directory vp (referenced, from a lookup that
 * crossed into mounts), in one hold of vfs_token: EBUSY if vp is the
 * root of a mount or has a mount on it, even one being made; else 0, and
 * until vfs_rmdir_claim_end no mount can claim vp (EBUSY), so the
 * removal never leaves a mount on a directory without a name.  Blocks
 * (the token); any thread.
 */
int vfs_rmdir_claim(struct vnode *vp);
void vfs_rmdir_claim_end(struct vnode *vp);
/* Sync every mount in service; the first error, after trying them all.
 * Thread context; blocks. */
int vfs_sync_all(void);
/* Sync every mount in service and reclaim every unreferenced vnode (the
 * test harness's drain before a leak check; low memory).  Blocks. */
void vfs_drain(void);

/*
 * Path lookup.  Absolute paths only.  follow: follow a final symlink.
 * Returns the referenced vnode, or ENOENT, ENOTDIR, ELOOP (more than
 * VFS_MAXSYMLINKS links), ENAMETOOLONG, EIO.
 */
int vfs_namei(const char *path, bool follow, struct vnode **vpp);
/* The parent directory of path's last component, referenced, and that
 * component (copied into name, VFS_NAME_MAX + 1 bytes). */
int vfs_namei_parent(const char *path, struct vnode **dvpp, char *name);

int vfs_open(const char *path, int flags, uint32_t mode, struct file **fpp);
int vfs_close(struct file *fp);
/* Read/write at the file offset, advancing it; *done: bytes moved. */
int vfs_read(struct file *fp, void *buf, size_t len, size_t *done);
int vfs_write(struct file *fp, const void *buf, size_t len, size_t *done);
int vfs_pread(struct file *fp, void *buf, size_t len, uint64_t off,
	      size_t *done);
/* len bytes at off straight to regular file vp (the VM's write-back of
 * shared file mappings, holding vp's v_iolock); 0 or an errno.  Thread
 * context; blocks. */
int vfs_vnode_pwrite(struct vnode *vp, const void *buf, size_t len,
		     uint64_t off);
int vfs_pwrite(struct file *fp, const void *buf, size_t len, uint64_t off,
	       size_t *done);
int vfs_fsync(struct file *fp);
int vfs_fstat(struct file *fp, struct vattr *va);
int vfs_readdir(struct file *fp, vfs_filldir_t fill, void *arg);

int vfs_stat(const char *path, struct vattr *va);
int vfs_lstat(const char *path, struct vattr *va);
int vfs_mkdir(const char *path, uint32_t mode);
int vfs_rmdir(const char *path);
int vfs_unlink(const char *path);
int vfs_rename(const char *from, const char *to);
int vfs_link(const char *target, const char *path);
int vfs_symlink(const char *target, const char *path);
int vfs_readlink(const char *path, char *buf, size_t size, size_t *len);
int vfs_truncate(const char *path, uint64_t size);
/* Set the size of the regular file open (for writing) as fp; 0, EINVAL,
 * EROFS ...  A mapped file's pages follow.  Thread context; blocks. */
int vfs_ftruncate(struct file *fp, uint64_t size);
int vfs_chmod(const char *path, uint32_t mode);
/* Set the modification time of path (nanoseconds since 1970; symbolic
 * links followed).  0, or ENOENT, EROFS ...  Thread context, may block. */
int vfs_set_mtime(const char *path, uint64_t mtime_ns);
int vfs_statfs(const char *path, struct vstatfs *st);

/* Counters for leak checks and the shell. */
struct vfs_stats {
	uint64_t vnodes;		/* existing, all mounts */
	uint64_t vnodes_referenced;
	uint64_t mounts;		/* struct mounts alive, any state */
	uint64_t files_open;
	uint64_t lookups;
};
void vfs_get_stats(struct vfs_stats *st);

/* Mount the root filesystem and register the built-in types (boot). */
void vfs_init(void);

#endif /* FS_VFS_H */
