/*
 * vfs_ops.c - the kernel's file interface: open files, and the
 * operations on path names, each a lookup followed by one vop call.
 *
 * Every function here returns 0 or an errno and may block.  Each takes
 * the references it needs during the call and gives them back before it
 * returns; an open file holds one reference on its vnode until
 * vfs_close.  A struct file belongs to whoever opened it; two threads
 * sharing one must serialize their reads and writes themselves (the
 * offset is not locked).
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <fs/vfs.h>
#include "vfs_private.h"

/* ---- creating, opening, closing ------------------------------------------ */

/* Create name in the parent of path (O_CREAT), or look it up if it exists
 * and O_EXCL is not given. */
static int open_create(const char *path, int flags, uint32_t mode,
		       struct vnode **vpp)
{
	char name[VFS_NAME_MAX + 1];
	struct vnode *dvp;
	int error;

	if ((error = vfs_namei_parent(path, &dvp, name)) != 0)
		return error;
	error = dvp->v_ops->vop_create(dvp, name, S_IFREG | (mode & 07777),
				       vpp);
	if (error == EEXIST && !(flags & O_EXCL))
		error = vfs_namei(path, !(flags & O_NOFOLLOW), vpp);
	vrele(dvp);
	return error;
}

/* May this vnode be opened this way? */
static int open_check(struct vnode *vp, int flags)
{
	int access = flags & O_ACCMODE;

	if ((flags & O_DIRECTORY) && vp->v_type != VDIR)
		return ENOTDIR;
	if (vp->v_type == VDIR && access != O_RDONLY)
		return EISDIR;
	if (vp->v_type == VLNK)
		return ELOOP;			/* O_NOFOLLOW met a link */
	if (access == O_ACCMODE)
		return EINVAL;
	return 0;
}

int vfs_open(const char *path, int flags, uint32_t mode, struct file **fpp)
{
	struct vnode *vp;
	struct file *fp;
	int error;

	error = (flags & O_CREAT) ? open_create(path, flags, mode, &vp) :
		vfs_namei(path, !(flags & O_NOFOLLOW), &vp);
	if (error)
		return error;
	error = open_check(vp, flags);
	if (error == 0 && vp->v_ops->vop_open)
		error = vp->v_ops->vop_open(vp, flags);
	if (error == 0 && (flags & O_TRUNC) &&
	    (flags & O_ACCMODE) != O_RDONLY) {
		struct vsetattr sa = { .valid = VA_SET_SIZE, .size = 0 };

		error = vp->v_ops->vop_setattr(vp, &sa);
		if (error && vp->v_ops->vop_close)
			vp->v_ops->vop_close(vp);
	}
	if (error) {
		vrele(vp);
		return error;
	}
	fp = kmalloc(sizeof(*fp), M_VFS, M_WAITOK | M_ZERO);
	fp->f_vp = vp;
	fp->f_flags = flags;
	fp->f_refcnt = 1;
	__atomic_add_fetch(&vfs_files_open, 1, __ATOMIC_RELAXED);
	*fpp = fp;
	return 0;
}

int vfs_close(struct file *fp)
{
	struct vnode *vp = fp->f_vp;
	int error = 0;

	KASSERT(fp->f_refcnt == 1, "vfs_close of a file with %d references",
		fp->f_refcnt);
	if (vp->v_ops->vop_close)
		error = vp->v_ops->vop_close(vp);
	vrele(vp);
	fp->f_vp = NULL;
	kfree(fp, M_VFS);
	__atomic_sub_fetch(&vfs_files_open, 1, __ATOMIC_RELAXED);
	return error;
}

/* ---- reading and writing -------------------------------------------------- */

int vfs_pread(struct file *fp, void *buf, size_t len, uint64_t off,
	      size_t *done)
{
	struct vnode *vp = fp->f_vp;

	*done = 0;
	if ((fp->f_flags & O_ACCMODE) == O_WRONLY)
		return EBADF;
	if (vp->v_type == VDIR)
		return EISDIR;
	return vp->v_ops->vop_read(vp, off, buf, len, done);
}

int vfs_read(struct file *fp, void *buf, size_t len, size_t *done)
{
	int error = vfs_pread(fp, buf, len, fp->f_offset, done);

	fp->f_offset += *done;
	return error;
}

int vfs_pwrite(struct file *fp, const void *buf, size_t len, uint64_t off,
	       size_t *done)
{
	struct vnode *vp = fp->f_vp;
	int error;

	*done = 0;
	if ((fp->f_flags & O_ACCMODE) == O_RDONLY)
		return EBADF;
	if (off + len < off)
		return EFBIG;
	if ((error = vp->v_ops->vop_write(vp, off, buf, len)) != 0)
		return error;
	*done = len;
	return 0;
}

int vfs_write(struct file *fp, const void *buf, size_t len, size_t *done)
{
	struct vattr va;
	int error;

	if ((fp->f_flags & O_APPEND) && (fp->f_flags & O_ACCMODE) != O_RDONLY) {
		if ((error = vfs_fstat(fp, &va)) != 0)
			return error;
		fp->f_offset = va.va_size;
	}
	error = vfs_pwrite(fp, buf, len, fp->f_offset, done);
	fp->f_offset += *done;
	return error;
}

int vfs_fsync(struct file *fp)
{
	return fp->f_vp->v_ops->vop_fsync(fp->f_vp);
}

int vfs_fstat(struct file *fp, struct vattr *va)
{
	return fp->f_vp->v_ops->vop_getattr(fp->f_vp, va);
}

/* Directories: the file offset is the readdir cookie to resume at. */
struct readdir_state {
	vfs_filldir_t fill;
	void *arg;
	uint64_t *offset;
};

static int readdir_fill(void *arg, const struct vdirent *d)
{
	struct readdir_state *rs = arg;
	int stop = rs->fill(rs->arg, d);

	if (!stop)
		*rs->offset = d->cookie;
	return stop;
}

int vfs_readdir(struct file *fp, vfs_filldir_t fill, void *arg)
{
	struct readdir_state rs = { fill, arg, &fp->f_offset };

	if (fp->f_vp->v_type != VDIR)
		return ENOTDIR;
	return fp->f_vp->v_ops->vop_readdir(fp->f_vp, fp->f_offset,
					     readdir_fill, &rs);
}

/* ---- operations on names -------------------------------------------------- */

static int stat_common(const char *path, bool follow, struct vattr *va)
{
	struct vnode *vp;
	int error;

	if ((error = vfs_namei(path, follow, &vp)) != 0)
		return error;
	error = vp->v_ops->vop_getattr(vp, va);
	vrele(vp);
	return error;
}

int vfs_stat(const char *path, struct vattr *va)
{
	return stat_common(path, true, va);
}

int vfs_lstat(const char *path, struct vattr *va)
{
	return stat_common(path, false, va);
}

int vfs_mkdir(const char *path, uint32_t mode)
{
	char name[VFS_NAME_MAX + 1];
	struct vnode *dvp, *vp;
	int error;

	if ((error = vfs_namei_parent(path, &dvp, name)) != 0)
		return error == EINVAL ? EEXIST : error;  /* "/", ".", ".." */
	error = dvp->v_ops->vop_mkdir(dvp, name, S_IFDIR | (mode & 07777),
				      &vp);
	if (error == 0)
		vrele(vp);
	vrele(dvp);
	return error;
}

/*
 * The object a remove or a rename-over is about to take a name from,
 * referenced, or NULL.  Holding it across the removal means its last
 * vrele comes after, when vop_inactive can see it is gone and the vnode
 * is reclaimed at once instead of lingering in the cache.
 */
static struct vnode *victim(const char *path)
{
	struct vnode *vp;

	if (vfs_namei(path, false, &vp) != 0)
		return NULL;
	vp->v_maybe_gone = true;	/* its last vrele asks vop_inactive */
	return vp;
}

static void victim_release(struct vnode *vp)
{
	if (vp)
		vrele(vp);
}

/* The pattern of rmdir and unlink: parent, then one vop on the name. */
static int remove_common(const char *path, bool dir)
{
	char name[VFS_NAME_MAX + 1];
	struct vnode *dvp, *vp;
	int error;

	if ((error = vfs_namei_parent(path, &dvp, name)) != 0)
		return error == EINVAL && dir ? EBUSY : error;
	vp = victim(path);
	error = dir ? dvp->v_ops->vop_rmdir(dvp, name) :
		      dvp->v_ops->vop_unlink(dvp, name);
	victim_release(vp);
	vrele(dvp);
	return error;
}

/* Is path the root of a mount (the directory it covers is busy)? */
static bool is_mount_point(const char *path)
{
	struct vnode *vp;
	bool busy;

	if (vfs_namei(path, false, &vp) != 0)
		return false;
	busy = vp == vp->v_mount->mnt_root;
	vrele(vp);
	return busy;
}

int vfs_rmdir(const char *path)
{
	if (is_mount_point(path))
		return EBUSY;
	return remove_common(path, true);
}

int vfs_unlink(const char *path)
{
	return remove_common(path, false);
}

int vfs_rename(const char *from, const char *to)
{
	char fname[VFS_NAME_MAX + 1], tname[VFS_NAME_MAX + 1];
	struct vnode *fdvp, *tdvp;
	int error;

	if ((error = vfs_namei_parent(from, &fdvp, fname)) != 0)
		return error;
	if ((error = vfs_namei_parent(to, &tdvp, tname)) != 0) {
		vrele(fdvp);
		return error;
	}
	if (fdvp->v_mount != tdvp->v_mount) {
		error = EXDEV;
	} else {
		struct vnode *replaced = victim(to);

		error = fdvp->v_ops->vop_rename(fdvp, fname, tdvp, tname);
		victim_release(replaced);
	}
	vrele(tdvp);
	vrele(fdvp);
	return error;
}

int vfs_link(const char *target, const char *path)
{
	char name[VFS_NAME_MAX + 1];
	struct vnode *vp, *dvp;
	int error;

	if ((error = vfs_namei(target, false, &vp)) != 0)
		return error;
	if ((error = vfs_namei_parent(path, &dvp, name)) == 0) {
		if (vp->v_type == VDIR)
			error = EPERM;
		else if (vp->v_mount != dvp->v_mount)
			error = EXDEV;
		else
			error = dvp->v_ops->vop_link(vp, dvp, name);
		vrele(dvp);
	}
	vrele(vp);
	return error;
}

int vfs_symlink(const char *target, const char *path)
{
	char name[VFS_NAME_MAX + 1];
	struct vnode *dvp;
	int error;

	if (target[0] == '\0' || strlen(target) >= VFS_PATH_MAX)
		return target[0] == '\0' ? ENOENT : ENAMETOOLONG;
	if ((error = vfs_namei_parent(path, &dvp, name)) != 0)
		return error;
	error = dvp->v_ops->vop_symlink(dvp, name, target);
	vrele(dvp);
	return error;
}

int vfs_readlink(const char *path, char *buf, size_t size, size_t *len)
{
	struct vnode *vp;
	int error;

	if ((error = vfs_namei(path, false, &vp)) != 0)
		return error;
	error = vp->v_type == VLNK ?
		vp->v_ops->vop_readlink(vp, buf, size, len) : EINVAL;
	vrele(vp);
	return error;
}

static int setattr_path(const char *path, const struct vsetattr *sa)
{
	struct vnode *vp;
	int error;

	if ((error = vfs_namei(path, true, &vp)) != 0)
		return error;
	if ((sa->valid & VA_SET_SIZE) && vp->v_type != VREG)
		error = vp->v_type == VDIR ? EISDIR : EINVAL;
	else
		error = vp->v_ops->vop_setattr(vp, sa);
	vrele(vp);
	return error;
}

int vfs_truncate(const char *path, uint64_t size)
{
	struct vsetattr sa = { .valid = VA_SET_SIZE, .size = size };

	return setattr_path(path, &sa);
}

int vfs_chmod(const char *path, uint32_t mode)
{
	struct vsetattr sa = { .valid = VA_SET_MODE, .mode = mode & 07777 };

	return setattr_path(path, &sa);
}

int vfs_statfs(const char *path, struct vstatfs *st)
{
	struct vnode *vp;
	int error;

	if ((error = vfs_namei(path, true, &vp)) != 0)
		return error;
	memset(st, 0, sizeof(*st));
	strlcpy(st->fstype, vp->v_mount->mnt_op->name, sizeof(st->fstype));
	error = vp->v_mount->mnt_op->vfs_statfs(vp->v_mount, st);
	vrele(vp);
	return error;
}
