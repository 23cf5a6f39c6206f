/*
 * hmr_vfs.c - HMR behind the VFS: each vop is one call into the HMR core
 * (fs/hmr/), and each mount has a flusher thread.
 *
 * A vnode is an HMR object as of a TID: v_ino is the object id, v_asof 0
 * for the live filesystem or the TID of a past commit.  Looking up
 * "name@@0x<tid>" (the core parses it) gives a vnode with that v_asof,
 * and every lookup below it stays at that TID, so a whole old tree reads
 * back as it was.  Objects seen as of a TID are read-only (EROFS).
 *
 * The core serializes its own calls with its mount lock; the VFS adds
 * none.  The flusher commits every HMR_FLUSH_SECONDS; fsync commits at
 * once (hmr_fsync), vfs_sync_all and unmount too.
 *
 *   any thread ---vop---> hmr_* (mount lock) --> bio --> vblk
 *   "hmr flush" thread: sleep 5 s or until woken --> hmr_sync
 *
 * Structure.  A mount's mnt_data is a struct hmr_vfs: the core's mount,
 * the hmr_bdev it reads through (fs/hmr_kern.c), the block device, and
 * the flusher thread.  A vnode carries no private data (v_data is NULL):
 * (v_ino, v_asof) is all the core needs, and it keeps its own caches.
 * So vop_reclaim has nothing to free.
 *
 * Invariants:
 *   - a vnode with v_asof != 0 is never changed through: every vop that
 *     writes checks writable() first, and its error is EROFS;
 *   - a vnode's v_type matches the object's mode as of v_asof, read once
 *     when the vnode is made (an object's type never changes);
 *   - the flusher exists exactly when the mount is writable, and is
 *     joined before hmr_unmount, so no commit runs on a freed mount.
 *
 * Locking: struct hmr_vfs is written by mount and unmount only (the VFS
 * unmounts only when no vnode is referenced, so no vop is in progress),
 * and read-only in between, except
 * `stopping` (set by unmount, read by the flusher) and flusher_commits
 * (the flusher's own).  Every hmr_* call takes the core's mount lock
 * itself.  The one lock held here across core calls is size_lock, a
 * serializer per mount that every write and setattr takes, so that an
 * O_APPEND write reads the size and writes at it with no other write or
 * truncate in between; it is always taken before the core's lock.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/serialize.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <drivers/blkdev.h>
#include <fs/bio.h>
#include <fs/hmr.h>
#include <fs/vfs.h>
#include <fs/hmr_kern.h>

MALLOC_DECLARE(M_HMR);

/* One HMR mount, as the VFS sees it; see the file comment for owners. */
struct hmr_vfs {
	struct hmr_mount *hm;
	struct hmr_bdev bdev;
	struct blkdev *bd;
	struct thread *flusher;
	struct lwkt_serialize size_lock; /* writes and size changes */
	volatile bool stopping;		/* unmount asks the flusher to go */
	uint64_t flusher_commits;	/* the flusher's own hmr_sync calls */
};

static const struct vop_ops hmr_vops;

/* The core mount behind an HMR vnode. */
static struct hmr_mount *hm_of(struct vnode *vp)
{
	KASSERT(vp->v_mount->mnt_op == &hmr_vfsops, "an HMR vop on a vnode "
		"of a %s mount: v_ops and the mount disagree",
		vp->v_mount->mnt_op->name);
	return ((struct hmr_vfs *)vp->v_mount->mnt_data)->hm;
}

/* The VFS type of an HMR mode; VNON for types the VFS does not open. */
static enum vtype vtype_of(uint16_t mode)
{
	return S_ISDIR(mode) ? VDIR : S_ISLNK(mode) ? VLNK :
	       S_ISREG(mode) ? VREG : VNON;
}

/* ---- vnodes ---------------------------------------------------------------- */

/*
 * vfs_vget's init: fill a new vnode before anyone else sees it.  The
 * object must exist as of v_asof (else the core's ENOENT, and vfs_vget
 * drops the vnode).  May block (the core reads the disk).
 */
static int hmr_vnode_init(struct vnode *vp, void *arg)
{
	struct hmr_stat st;
	int error = hmr_getattr(hm_of(vp), vp->v_asof, vp->v_ino, &st);

	if (error)
		return error;
	vp->v_type = vtype_of(st.mode);
	vp->v_ops = &hmr_vops;
	return 0;
}

/* The referenced vnode of object ino as of asof (0: live). */
static int hmr_vget(struct mount *mp, uint64_t ino, uint64_t asof,
		    struct vnode **vpp)
{
	return vfs_vget(mp, ino, asof, hmr_vnode_init, NULL, vpp);
}

/* Changes are refused on a past view of the filesystem, and on a mount
 * that is read-only (asked for, or the device is). */
static int writable(struct vnode *vp)
{
	if (vp->v_asof != 0 || (vp->v_mount->mnt_flags & MNT_RDONLY))
		return EROFS;
	return 0;
}

/* ---- names ---------------------------------------------------------------- */

/*
 * The vops.  Each is one call into the core, with the directory's or
 * object's (v_asof, v_ino), and each returns what the core returns.
 * Their contracts are struct vop_ops's (fs/vfs.h): the caller holds a
 * reference on every vnode argument, and a vnode returned comes with one.
 * All may block on the mount lock and the disk; none is called with a
 * VFS token held.
 */

/* The core resolves "name@@0x<tid>" too: asof may change on the way. */
static int hmr_vop_lookup(struct vnode *dvp, const char *name,
			  struct vnode **vpp)
{
	uint64_t ino, asof = dvp->v_asof;
	int error = hmr_lookup(hm_of(dvp), dvp->v_asof, dvp->v_ino, name, &ino,
			       &asof);

	return error ? error : hmr_vget(dvp->v_mount, ino, asof, vpp);
}

/* A new object is live: its vnode has asof 0. */
static int hmr_vop_create(struct vnode *dvp, const char *name, uint32_t mode,
			  struct vnode **vpp)
{
	uint64_t ino;
	int error = writable(dvp);

	if (!error)
		error = hmr_create(hm_of(dvp), dvp->v_asof, dvp->v_ino, name,
				   mode, 0, &ino);
	return error ? error : hmr_vget(dvp->v_mount, ino, 0, vpp);
}

static int hmr_vop_mkdir(struct vnode *dvp, const char *name, uint32_t mode,
			 struct vnode **vpp)
{
	uint64_t ino;
	int error = writable(dvp);

	if (!error)
		error = hmr_mkdir(hm_of(dvp), dvp->v_asof, dvp->v_ino, name,
				  mode, &ino);
	return error ? error : hmr_vget(dvp->v_mount, ino, 0, vpp);
}

static int hmr_vop_symlink(struct vnode *dvp, const char *name,
			   const char *target)
{
	uint64_t ino;
	int error = writable(dvp);

	return error ? error : hmr_symlink(hm_of(dvp), dvp->v_asof,
					   dvp->v_ino, name, target, &ino);
}

/* Both ends must be live: a link to an old version would be a link to
 * an object that no longer looks like that. */
static int hmr_vop_link(struct vnode *vp, struct vnode *dvp, const char *name)
{
	int error = writable(dvp);

	if (!error)
		error = writable(vp);
	return error ? error : hmr_link(hm_of(dvp), vp->v_asof, vp->v_ino,
					dvp->v_asof, dvp->v_ino, name);
}

static int hmr_vop_unlink(struct vnode *dvp, const char *name)
{
	int error = writable(dvp);

	return error ? error : hmr_unlink(hm_of(dvp), dvp->v_asof, dvp->v_ino,
					  name);
}

static int hmr_vop_rmdir(struct vnode *dvp, const char *name)
{
	int error = writable(dvp);

	return error ? error : hmr_rmdir(hm_of(dvp), dvp->v_asof, dvp->v_ino,
					 name);
}

static int hmr_vop_rename(struct vnode *fdvp, const char *fname,
			  struct vnode *tdvp, const char *tname)
{
	int error = writable(fdvp);

	if (!error)
		error = writable(tdvp);
	return error ? error : hmr_rename(hm_of(fdvp), fdvp->v_asof,
					  fdvp->v_ino, fname, tdvp->v_asof,
					  tdvp->v_ino, tname);
}

static int hmr_vop_readlink(struct vnode *vp, char *buf, size_t size,
			    size_t *len)
{
	return hmr_readlink(hm_of(vp), vp->v_asof, vp->v_ino, buf, size, len);
}

/* readdir: turn HMR's entries into the VFS's.  The adapter runs inside
 * the core's mount lock, like the VFS's fill (see vfs_filldir_t). */
struct fill_adapter {
	vfs_filldir_t fill;
	void *arg;
};

/* One entry: HMR's object type to a vtype; anything else reads VREG. */
static int hmr_fill(void *arg, const struct hmr_dirent *d)
{
	struct fill_adapter *fa = arg;
	struct vdirent vd = {
		.ino = d->ino, .cookie = d->cookie, .name = d->name,
		.namelen = d->namelen,
		.type = d->obj_type == HMR_OBJ_DIR ? VDIR :
			d->obj_type == HMR_OBJ_SYMLINK ? VLNK : VREG,
	};

	return fa->fill(fa->arg, &vd);
}

static int hmr_vop_readdir(struct vnode *vp, uint64_t cookie,
			   vfs_filldir_t fill, void *arg)
{
	struct fill_adapter fa = { fill, arg };

	return hmr_readdir(hm_of(vp), vp->v_asof, vp->v_ino, cookie, hmr_fill,
			   &fa);
}

/* ---- data and attributes --------------------------------------------------- */

static int hmr_vop_read(struct vnode *vp, uint64_t off, void *buf, size_t len,
			size_t *done)
{
	return hmr_read(hm_of(vp), vp->v_asof, vp->v_ino, off, buf, len, done);
}

/*
 * A write, at *offp or with IO_APPEND at the size.  The size is read and
 * the data written in two core calls, so both are done holding the
 * mount's size_lock, which every write and size change takes: no other
 * write or truncate comes between, and two appenders never pick one
 * offset.  (The core's mount lock serializes all calls anyway, so this
 * costs no parallelism.)
 */
static int hmr_vop_write(struct vnode *vp, uint64_t *offp, const void *buf,
			 size_t len, int ioflag)
{
	struct hmr_vfs *hv = vp->v_mount->mnt_data;
	struct hmr_stat st;
	uint64_t off = *offp;
	int error = writable(vp);

	if (error)
		return error;
	lwkt_serialize_enter(&hv->size_lock);
	if (ioflag & IO_APPEND) {
		error = hmr_getattr(hm_of(vp), vp->v_asof, vp->v_ino, &st);
		off = st.size;
	}
	if (error == 0)
		error = hmr_write(hm_of(vp), vp->v_asof, vp->v_ino, off, buf,
				  len);
	lwkt_serialize_exit(&hv->size_lock);
	if (error == 0)
		*offp = off + len;
	return error;
}

/* HMR's stat as the VFS's; va_asof says which version this is. */
static int hmr_vop_getattr(struct vnode *vp, struct vattr *va)
{
	struct hmr_stat st;
	int error = hmr_getattr(hm_of(vp), vp->v_asof, vp->v_ino, &st);

	if (error)
		return error;
	*va = (struct vattr){
		.va_ino = st.ino, .va_mode = st.mode, .va_nlink = st.nlinks,
		.va_size = st.size, .va_uid = st.uid, .va_gid = st.gid,
		.va_blocks = st.blocks, .va_atime_ns = st.atime_ns,
		.va_mtime_ns = st.mtime_ns, .va_ctime_ns = st.ctime_ns,
		.va_asof = vp->v_asof,
	};
	return 0;
}

/* The VFS's VA_SET_* bits translated one by one to HMR's. */
static int hmr_vop_setattr(struct vnode *vp, const struct vsetattr *sa)
{
	struct hmr_vfs *hv = vp->v_mount->mnt_data;
	struct hmr_setattr hs = { 0 };
	int error = writable(vp);

	if (error)
		return error;
	hs.valid = ((sa->valid & VA_SET_MODE) ? HMR_SET_MODE : 0) |
		   ((sa->valid & VA_SET_SIZE) ? HMR_SET_SIZE : 0) |
		   ((sa->valid & VA_SET_UID) ? HMR_SET_UID : 0) |
		   ((sa->valid & VA_SET_GID) ? HMR_SET_GID : 0) |
		   ((sa->valid & VA_SET_MTIME) ? HMR_SET_MTIME : 0);
	hs.mode = sa->mode;
	hs.size = sa->size;
	hs.uid = sa->uid;
	hs.gid = sa->gid;
	hs.mtime_ns = sa->mtime_ns;
	/* A size change must not come between an append's size and its
	 * write (hmr_vop_write). */
	lwkt_serialize_enter(&hv->size_lock);
	error = hmr_setattr(hm_of(vp), vp->v_asof, vp->v_ino, &hs);
	lwkt_serialize_exit(&hv->size_lock);
	return error;
}

/* A commit now (a past version has nothing unwritten).  When it
 * returns 0, the file's data and every earlier change are durable. */
static int hmr_vop_fsync(struct vnode *vp)
{
	return vp->v_asof ? 0 : hmr_fsync(hm_of(vp), vp->v_ino);
}

/* The core counts opens of live objects: an unlinked file that is
 * still open keeps its data until hmr_release. */
static int hmr_vop_open(struct vnode *vp, int flags)
{
	if ((flags & O_ACCMODE) != O_RDONLY && writable(vp))
		return EROFS;
	return vp->v_asof ? 0 : hmr_open(hm_of(vp), vp->v_ino);
}

/* The open's counterpart; the last close of an unlinked file frees it. */
static int hmr_vop_close(struct vnode *vp)
{
	return vp->v_asof ? 0 : hmr_release(hm_of(vp), vp->v_ino);
}

/* Gone: no name left (nlinks 0) or no such object any more.  A past
 * version is never gone: it is what the history says. */
static bool hmr_vop_inactive(struct vnode *vp)
{
	struct hmr_stat st;

	if (vp->v_asof)
		return false;
	return hmr_getattr(hm_of(vp), 0, vp->v_ino, &st) != 0 ||
	       st.nlinks == 0;
}

/* Nothing to free: HMR vnodes have no v_data (see the file comment). */
static void hmr_vop_reclaim(struct vnode *vp)
{
}

static const struct vop_ops hmr_vops = {
	.vop_lookup = hmr_vop_lookup,	.vop_create = hmr_vop_create,
	.vop_mkdir = hmr_vop_mkdir,	.vop_symlink = hmr_vop_symlink,
	.vop_link = hmr_vop_link,	.vop_unlink = hmr_vop_unlink,
	.vop_rmdir = hmr_vop_rmdir,	.vop_rename = hmr_vop_rename,
	.vop_readlink = hmr_vop_readlink, .vop_read = hmr_vop_read,
	.vop_write = hmr_vop_write,	.vop_getattr = hmr_vop_getattr,
	.vop_setattr = hmr_vop_setattr,	.vop_readdir = hmr_vop_readdir,
	.vop_fsync = hmr_vop_fsync,	.vop_open = hmr_vop_open,
	.vop_close = hmr_vop_close,	.vop_inactive = hmr_vop_inactive,
	.vop_reclaim = hmr_vop_reclaim,
};

/* ---- the flusher ------------------------------------------------------------ */

/*
 * The flusher: commit every HMR_FLUSH_SECONDS until unmount says stop.
 * A commit with nothing new to write returns at once, without I/O (the
 * core checks its dirty flag first).  Its own
 * thread, on the CPU that mounted; takes the mount lock in hmr_sync.
 *
 * No wakeup is lost: the flusher queues itself on the sleep queue
 * (tsleep_interlock) before it tests `stopping`, and unmount sets
 * `stopping` before it calls wakeup.  So either the test sees the flag,
 * or the wakeup finds the flusher queued and its tsleep(PINTERLOCKED)
 * returns at once; unmount never waits for the timer.
 */
static void hmr_flusher_main(void *arg)
{
	struct hmr_vfs *hv = arg;

	for (;;) {
		tsleep_interlock(hv, 0);
		if (hv->stopping)
			break;
		tsleep(hv, PINTERLOCKED, "hmrflush", HMR_FLUSH_SECONDS * hz);
		if (hv->stopping)
			break;
		if (hmr_sync(hv->hm, NULL) == 0)
			hv->flusher_commits++;
	}
}

/* ---- the mount ---------------------------------------------------------------- */

bool hmr_vfs_fail_next_flusher;	/* see fs/hmr_kern.h */

/* Make the mount's flusher thread: 0, or lwkt_create's error (ENOMEM),
 * or the ENOMEM a test asked for with hmr_vfs_fail_next_flusher. */
static int flusher_start(struct hmr_vfs *hv)
{
	if (hmr_vfs_fail_next_flusher) {
		hmr_vfs_fail_next_flusher = false;
		return ENOMEM;
	}
	return lwkt_create(hmr_flusher_main, hv, &hv->flusher, 0, -1,
			   "hmr flush %s", hv->bd->name);
}

/*
 * Mount the HMR image on block device `source`.  ENXIO if no such
 * device; else the core's error, with its diagnosis of each superblock
 * slot printed, and the cache forgotten, so a failed mount (a disk that
 * is not HMR, or is corrupt) leaves nothing behind.  A read-only device
 * makes a read-only mount, which has no flusher; a writable mount whose
 * flusher thread cannot be made fails with lwkt_create's error (ENOMEM)
 * and leaves nothing behind either.  Thread context; blocks (reads the
 * disk).
 */
static int hmr_vfs_mount(struct mount *mp, const char *source,
			 unsigned flags)
{
	struct blkdev *bd = blkdev_find(source);
	struct hmr_diag diag = { 0 };
	struct hmr_vfs *hv;
	int error;

	if (bd == NULL)
		return ENXIO;
	hv = kmalloc(sizeof(*hv), M_HMR, M_WAITOK | M_ZERO);
	hv->bd = bd;
	lwkt_serialize_init(&hv->size_lock);
	hmr_kbdev_init(&hv->bdev, bd);
	error = hmr_mount_diag(&hv->bdev, (flags & MNT_RDONLY) ||
			       bd->read_only ? HMR_MNT_RDONLY : 0, 0, &hv->hm,
			       &diag);
	if (error && diag.text[0])
		kprintf("hmr: %s: %s\n", bd->name, diag.text);
	if (error) {
		binval(bd);
		kfree(hv, M_HMR);
		return error;
	}
	if (bd->read_only)
		mp->mnt_flags |= MNT_RDONLY;
	/* A writable mount without its flusher would never commit on its
	 * own: fail whole, the core's mount and the cache undone. */
	if (!(mp->mnt_flags & MNT_RDONLY) && (error = flusher_start(hv))) {
		kprintf("hmr: %s: no flusher thread (error %d): not "
			"mounted\n", bd->name, error);
		hmr_unmount(hv->hm);
		binval(bd);
		kfree(hv, M_HMR);
		return error;
	}
	mp->mnt_data = hv;
	return 0;
}

/* The live root directory, referenced. */
static int hmr_vfs_root(struct mount *mp, struct vnode **vpp)
{
	return hmr_vget(mp, HMR_OBJID_ROOT, 0, vpp);
}

/*
 * Stop the flusher and wait for it (so it cannot commit on a freed
 * mount), then the core's unmount (a last commit), then write back and
 * forget every cached block of the device.  A write-back failure is EIO
 * even if the commit succeeded.  The mount is gone either way.
 * Thread context; blocks.
 */
static int hmr_vfs_unmount(struct mount *mp)
{
	struct hmr_vfs *hv = mp->mnt_data;
	int error;

	if (hv->flusher) {
		hv->stopping = true;
		wakeup(hv);
		lwkt_thread_join(hv->flusher);
	}
	error = hmr_unmount(hv->hm);
	if (binval(hv->bd) != 0 && error == 0)
		error = EIO;
	kfree(hv, M_HMR);
	return error;
}

/* Blocks, free blocks, objects made so far, the last commit's TID. */
static int hmr_vfs_statfs(struct mount *mp, struct vstatfs *st)
{
	struct hmr_vfs *hv = mp->mnt_data;
	struct hmr_statfs hs;
	int error = hmr_statfs(hv->hm, &hs);

	if (error)
		return error;
	st->blocks = hs.nblocks;
	st->free_blocks = hs.free_blocks;
	st->files = hs.next_obj_id;
	st->commit_tid = hs.commit_tid;
	return 0;
}

/* A commit now (the shell's sync, vfs_sync_all); nothing when
 * read-only.  Blocks. */
static int hmr_vfs_sync(struct mount *mp)
{
	struct hmr_vfs *hv = mp->mnt_data;

	if (mp->mnt_flags & MNT_RDONLY)
		return 0;
	return hmr_sync(hv->hm, NULL);
}

const struct vfsops hmr_vfsops = {
	.name = "hmr", .vfs_mount = hmr_vfs_mount,
	.vfs_unmount = hmr_vfs_unmount, .vfs_root = hmr_vfs_root,
	.vfs_statfs = hmr_vfs_statfs, .vfs_sync = hmr_vfs_sync,
};

/* The HMR mount behind a VFS mount, for snapshot commands; NULL if the
 * mount is not HMR.  Valid while mp stays mounted.  Any thread. */
struct hmr_mount *hmr_vfs_core(struct mount *mp)
{
	return mp->mnt_op == &hmr_vfsops ?
	       ((struct hmr_vfs *)mp->mnt_data)->hm : NULL;
}
