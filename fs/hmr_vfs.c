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
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <drivers/blkdev.h>
#include <fs/bio.h>
#include <fs/hmr.h>
#include <fs/vfs.h>
#include <fs/hmr_kern.h>

MALLOC_DECLARE(M_HMR);

#define HMR_FLUSH_SECONDS	5

struct hmr_vfs {
	struct hmr_mount *hm;
	struct hmr_bdev bdev;
	struct blkdev *bd;
	struct thread *flusher;
	volatile bool stopping;		/* unmount asks the flusher to go */
	uint64_t flusher_commits;	/* the flusher's own hmr_sync calls */
};

static const struct vop_ops hmr_vops;

static struct hmr_mount *hm_of(struct vnode *vp)
{
	return ((struct hmr_vfs *)vp->v_mount->mnt_data)->hm;
}

static enum vtype vtype_of(uint16_t mode)
{
	return S_ISDIR(mode) ? VDIR : S_ISLNK(mode) ? VLNK :
	       S_ISREG(mode) ? VREG : VNON;
}

/* ---- vnodes ---------------------------------------------------------------- */

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

static int hmr_vget(struct mount *mp, uint64_t ino, uint64_t asof,
		    struct vnode **vpp)
{
	return vfs_vget(mp, ino, asof, hmr_vnode_init, NULL, vpp);
}

/* Changes are refused on a past view of the filesystem. */
static int writable(struct vnode *vp)
{
	if (vp->v_asof != 0 || (vp->v_mount->mnt_flags & MNT_RDONLY))
		return EROFS;
	return 0;
}

/* ---- names ---------------------------------------------------------------- */

static int hmr_vop_lookup(struct vnode *dvp, const char *name,
			  struct vnode **vpp)
{
	uint64_t ino, asof = dvp->v_asof;
	int error = hmr_lookup(hm_of(dvp), dvp->v_asof, dvp->v_ino, name, &ino,
			       &asof);

	return error ? error : hmr_vget(dvp->v_mount, ino, asof, vpp);
}

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

/* readdir: turn HMR's entries into the VFS's. */
struct fill_adapter {
	vfs_filldir_t fill;
	void *arg;
};

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

static int hmr_vop_write(struct vnode *vp, uint64_t off, const void *buf,
			 size_t len)
{
	int error = writable(vp);

	return error ? error : hmr_write(hm_of(vp), vp->v_asof, vp->v_ino, off,
					 buf, len);
}

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

static int hmr_vop_setattr(struct vnode *vp, const struct vsetattr *sa)
{
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
	return hmr_setattr(hm_of(vp), vp->v_asof, vp->v_ino, &hs);
}

static int hmr_vop_fsync(struct vnode *vp)
{
	return vp->v_asof ? 0 : hmr_fsync(hm_of(vp), vp->v_ino);
}

static int hmr_vop_open(struct vnode *vp, int flags)
{
	if ((flags & O_ACCMODE) != O_RDONLY && writable(vp))
		return EROFS;
	return vp->v_asof ? 0 : hmr_open(hm_of(vp), vp->v_ino);
}

static int hmr_vop_close(struct vnode *vp)
{
	return vp->v_asof ? 0 : hmr_release(hm_of(vp), vp->v_ino);
}

/* Gone: no name left (nlinks 0) or no such object any more. */
static bool hmr_vop_inactive(struct vnode *vp)
{
	struct hmr_stat st;

	if (vp->v_asof)
		return false;
	return hmr_getattr(hm_of(vp), 0, vp->v_ino, &st) != 0 ||
	       st.nlinks == 0;
}

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

static void hmr_flusher_main(void *arg)
{
	struct hmr_vfs *hv = arg;

	while (!hv->stopping) {
		tsleep(hv, 0, "hmrflush", HMR_FLUSH_SECONDS * hz);
		if (hv->stopping)
			break;
		if (hmr_sync(hv->hm, NULL) == 0)
			hv->flusher_commits++;
	}
}

/* ---- the mount ---------------------------------------------------------------- */

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
	mp->mnt_data = hv;
	if (!(mp->mnt_flags & MNT_RDONLY))
		lwkt_create(hmr_flusher_main, hv, &hv->flusher, 0, -1,
			    "hmr flush %s", bd->name);
	return 0;
}

static int hmr_vfs_root(struct mount *mp, struct vnode **vpp)
{
	return hmr_vget(mp, HMR_OBJID_ROOT, 0, vpp);
}

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
 * mount is not HMR. */
struct hmr_mount *hmr_vfs_core(struct mount *mp)
{
	return mp->mnt_op == &hmr_vfsops ?
	       ((struct hmr_vfs *)mp->mnt_data)->hm : NULL;
}
