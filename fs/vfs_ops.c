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
 *
 * The shape of every name operation:
 *
 *   vfs_namei / vfs_namei_parent   referenced vnode(s), or an errno
 *   checks the VFS owns            type (EISDIR, ENOTDIR), mode of the
 *                                  open file (EBADF), one mount (EXDEV)
 *   one vop call                   the filesystem does the rest, under
 *                                  its own lock
 *   vrele of everything taken      on every path, error paths too
 *
 * Read-only mounts: every operation that changes something asks
 * mount_writable() before its vop and returns EROFS on an MNT_RDONLY
 * mount, whatever the filesystem.
 *
 * Invariants: a struct file's f_vp is referenced for the file's whole
 * life and never changes; vfs_files_open counts the files between
 * vfs_open and vfs_close (the leak checks read it).  Locking: none of
 * its own.  No VFS token is held across a vop call, so calls on
 * different mounts, or on one mount whose filesystem allows it, run in
 * parallel; the filesystem serializes what must be (fs/vfs.h).
 *
 * Removal and the vnode cache.  unlink, rmdir and rename-over hold a
 * reference on the object losing a name (victim) across the vop, and
 * mark it v_maybe_gone: its last vrele then asks vop_inactive whether
 * the object is gone, and a gone vnode is reclaimed at once instead of
 * lingering in the cache (fs/vfs_mount.c).
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <fs/vfs.h>
#include <vm/vnode_pager.h>
#include "vfs_private.h"

/* ---- creating, opening, closing ------------------------------------------ */

/*
 * EROFS if vp is on a read-only mount (MNT_RDONLY), else 0.  The VFS asks
 * this once, before the vop of every operation that would change
 * something, so no filesystem needs its own check for the mount flag
 * (HMR still checks its past views, which are read-only on a writable
 * mount).  Any thread.
 */
static int mount_writable(struct vnode *vp)
{
	return (vp->v_mount->mnt_flags & MNT_RDONLY) ? EROFS : 0;
}

/* Create name in the parent of path (O_CREAT), or look it up if it exists
 * and O_EXCL is not given.  The create is tried first, so "exists" is
 * decided by the filesystem under its lock: two threads creating one
 * name with O_EXCL cannot both succeed. */
static int open_create(const char *path, int flags, uint32_t mode,
		       struct vnode **vpp)
{
	char name[VFS_NAME_MAX + 1];
	struct vnode *dvp;
	int error;

	if ((error = vfs_namei_parent(path, &dvp, name)) != 0)
		return error;
	error = mount_writable(dvp);
	if (error == 0)
		error = dvp->v_ops->vop_create(dvp, name,
					       S_IFREG | (mode & 07777), vpp);
	vfs_modified(dvp->v_mount);
	/* On a read-only mount, opening what exists is still allowed; only
	 * a name that would have to be made is EROFS. */
	if ((error == EEXIST || error == EROFS) && !(flags & O_EXCL)) {
		int lookup = vfs_namei(path, !(flags & O_NOFOLLOW), vpp);

		error = (lookup == ENOENT && error == EROFS) ? EROFS : lookup;
	}
	vrele(dvp);
	return error;
}

/* May this vnode be opened this way?  The VFS's own rules; the
 * filesystem's (read-only, past versions) come in vop_open. */
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
	if (access != O_RDONLY)
		return mount_writable(vp);	/* also covers O_TRUNC */
	return 0;
}

/*
 * Set regular file vp's size: the filesystem's setattr, and the resident
 * pages of its object (if it is mapped) read zeros where the file now
 * does (vnode_pager_setsize), all under v_iolock, so no page-in or
 * write-back of the file comes between.  The caller calls vfs_modified
 * after.  Thread context; blocks.
 */
static int set_size(struct vnode *vp, uint64_t size)
{
	struct vsetattr sa = { .valid = VA_SET_SIZE, .size = size };
	struct vattr va = { 0 };
	bool mapped;
	int error;

	lwkt_serialize_enter(&vp->v_iolock);
	mapped = vp->v_object != NULL &&
		 vp->v_ops->vop_getattr(vp, &va) == 0;
	error = vp->v_ops->vop_setattr(vp, &sa);
	if (error == 0 && mapped)
		vnode_pager_setsize(vp, va.va_size, size);
	lwkt_serialize_exit(&vp->v_iolock);
	return error;
}

/*
 * Open path with O_* flags (mode for a file O_CREAT makes).  Returns 0
 * and *fpp, or the errno of the lookup, the checks, vop_open or the
 * O_TRUNC; on an error nothing stays open or referenced.  Thread
 * context; blocks.
 */
int vfs_open(const char *path, int flags, uint32_t mode, struct file **fpp)
{
	struct vnode *vp;
	struct file *fp;
	int error;

	KASSERT(path != NULL && fpp != NULL, "vfs_open needs a path and a "
		"place for the file");
	error = (flags & O_CREAT) ? open_create(path, flags, mode, &vp) :
		vfs_namei(path, !(flags & O_NOFOLLOW), &vp);
	if (error)
		return error;
	error = open_check(vp, flags);
	if (error == 0 && vp->v_ops->vop_open)
		error = vp->v_ops->vop_open(vp, flags);
	/* O_TRUNC after vop_open (which refuses a write open of something
	 * read-only), and undone with vop_close if the truncation fails. */
	if (error == 0 && (flags & O_TRUNC) &&
	    (flags & O_ACCMODE) != O_RDONLY && vp->v_type == VREG) {
		error = set_size(vp, 0);
		vfs_modified(vp->v_mount);
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

/*
 * Close fp: vop_close, then the vnode reference goes, then the file is
 * freed (even when vop_close fails: its error is returned, the file is
 * gone).  The caller holds the only reference.  Thread context; blocks.
 */
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

/*
 * Read up to len bytes at off into buf; *done says how many (0 at end of
 * file).  The file offset does not move.  EBADF for a write-only file,
 * EISDIR for a directory (use vfs_readdir).  Thread context; blocks.
 */
int vfs_pread(struct file *fp, void *buf, size_t len, uint64_t off,
	      size_t *done)
{
	struct vnode *vp = fp->f_vp;

	*done = 0;
	if ((fp->f_flags & O_ACCMODE) == O_WRONLY)
		return EBADF;
	if (vp->v_type == VDIR)
		return EISDIR;
	/* A mapped file's resident pages hold its newest bytes. */
	if (__predict_false(vp->v_object != NULL))
		return vnode_pager_read(vp, off, buf, len, done);
	return vp->v_ops->vop_read(vp, off, buf, len, done);
}

/* vfs_pread at the file offset, which then moves past what was read
 * (also when an error came after some bytes). */
int vfs_read(struct file *fp, void *buf, size_t len, size_t *done)
{
	int error = vfs_pread(fp, buf, len, fp->f_offset, done);

	fp->f_offset += *done;
	return error;
}

/*
 * The filesystem's write of len bytes at *off (or at the end with
 * IO_APPEND) and, if the file is mapped, the copy into its object's
 * resident pages, under v_iolock: no page-in or write-back of the file
 * comes between the two (vm/vnode_pager.c).  A vnode with no object
 * when v_iolock is taken gets no resident page before it is let go.
 */
static int write_locked(struct vnode *vp, uint64_t *off, const void *buf,
			size_t len, int ioflag)
{
	struct vattr va = { 0 };
	bool mapped;
	int error;

	lwkt_serialize_enter(&vp->v_iolock);
	mapped = vp->v_object != NULL &&
		 vp->v_ops->vop_getattr(vp, &va) == 0;
	error = vp->v_ops->vop_write(vp, off, buf, len, ioflag);
	if (error == 0 && mapped)
		vnode_pager_written(vp, *off - len, buf, len, va.va_size);
	lwkt_serialize_exit(&vp->v_iolock);
	return error;
}

/*
 * The write both vfs_pwrite and vfs_write make: len bytes at *off, or at
 * the end with IO_APPEND (the filesystem picks it under its lock); *off
 * then ends past them.  *done is len on success and 0 on an error.
 */
static int write_common(struct file *fp, const void *buf, size_t len,
			uint64_t *off, int ioflag, size_t *done)
{
	struct vnode *vp = fp->f_vp;
	int error;

	*done = 0;
	if ((fp->f_flags & O_ACCMODE) == O_RDONLY)
		return EBADF;
	if (!(ioflag & IO_APPEND) && *off + len < *off)
		return EFBIG;
	/* Opened before the mount became read-only: refused now. */
	if ((error = mount_writable(vp)) != 0)
		return error;
	error = write_locked(vp, off, buf, len, ioflag);
	vfs_modified(vp->v_mount);
	if (error)
		return error;
	*done = len;
	return 0;
}

/*
 * Write len bytes at off straight to the regular file vp, which needs no
 * open file: the VM writes pages of shared file mappings back this way
 * (vm_object_clean).  The same checks and cache invalidation as
 * vfs_pwrite, but the object's pages are not touched (they are what is
 * written).  The caller holds vp->v_iolock.  Returns 0 or an errno
 * (EROFS ...).  Thread context; blocks.
 */
int vfs_vnode_pwrite(struct vnode *vp, const void *buf, size_t len,
		     uint64_t off)
{
	int error;

	KASSERT(vp->v_type == VREG, "vfs_vnode_pwrite: vnode %p is not a "
		"regular file", vp);
	KASSERT(lwkt_serialize_held(&vp->v_iolock), "vfs_vnode_pwrite "
		"without the vnode's v_iolock (vm_object_clean takes it)");
	if ((error = mount_writable(vp)) != 0)
		return error;
	error = vp->v_ops->vop_write(vp, &off, buf, len, 0);
	vfs_modified(vp->v_mount);
	return error;
}

/*
 * Write len bytes at off.  *done is len on success and 0 on an error:
 * vop_write reports no partial count, though a filesystem that fails
 * midway (tmpfs out of pages) may have written a prefix.  EBADF for a
 * read-only file, EFBIG when off + len would wrap.  Thread context;
 * blocks.
 */
int vfs_pwrite(struct file *fp, const void *buf, size_t len, uint64_t off,
	       size_t *done)
{
	return write_common(fp, buf, len, &off, 0, done);
}

/*
 * vfs_pwrite at the file offset, which then moves past what was
 * written.  With O_APPEND the filesystem writes at the end of the file,
 * which it reads under the same lock as it writes (IO_APPEND): two
 * appenders, on any CPUs, never write at one offset.  The offset moves
 * only on success.  Thread context; blocks.
 */
int vfs_write(struct file *fp, const void *buf, size_t len, size_t *done)
{
	uint64_t off = fp->f_offset;
	int error = write_common(fp, buf, len, &off,
				 (fp->f_flags & O_APPEND) ? IO_APPEND : 0,
				 done);

	if (error == 0)
		fp->f_offset = off;
	return error;
}

/*
 * Make the file durable (HMR: a commit).  A mapped file's pages that
 * mappings stored into go to the filesystem first, as read(2) already
 * shows them (vm_object_clean_vnode), so fsync covers them as Linux's
 * does.  Returns the first error.  Thread context; blocks.
 */
int vfs_fsync(struct file *fp)
{
	struct vnode *vp = fp->f_vp;
	int error = 0, e;

	if (vp->v_type == VREG && vp->v_object != NULL)
		error = vm_object_clean_vnode(vp);
	e = vp->v_ops->vop_fsync(vp);
	return error != 0 ? error : e;
}

/* The open object's attributes.  Thread context; may block. */
int vfs_fstat(struct file *fp, struct vattr *va)
{
	return vfs_getattr(fp->f_vp, va);
}

/* Directories: the file offset is the readdir cookie to resume at. */
struct readdir_state {
	vfs_filldir_t fill;
	void *arg;
	uint64_t *offset;
};

/* Pass one entry on; only an entry the caller took moves the offset,
 * so a full buffer resumes with the entry it refused. */
static int readdir_fill(void *arg, const struct vdirent *d)
{
	struct readdir_state *rs = arg;
	int stop = rs->fill(rs->arg, d);

	if (!stop)
		*rs->offset = d->cookie;
	return stop;
}

/*
 * Entries from the file offset on, one fill() each, until fill says stop
 * or the directory ends.  fill runs inside the filesystem's lock (see
 * vfs_filldir_t).  ENOTDIR for anything else.  Thread context; blocks.
 */
int vfs_readdir(struct file *fp, vfs_filldir_t fill, void *arg)
{
	struct readdir_state rs = { fill, arg, &fp->f_offset };

	if (fp->f_vp->v_type != VDIR)
		return ENOTDIR;
	return fp->f_vp->v_ops->vop_readdir(fp->f_vp, fp->f_offset,
					     readdir_fill, &rs);
}

/* ---- operations on names -------------------------------------------------- */

/* stat and lstat: the same but for following a final symlink. */
static int stat_common(const char *path, bool follow, struct vattr *va)
{
	struct vnode *vp;
	int error;

	if (vfs_cache_stat(path, follow, va))
		return 0;
	if ((error = vfs_namei(path, follow, &vp)) != 0)
		return error;
	error = vfs_getattr(vp, va);
	vrele(vp);
	return error;
}

/* Attributes of what path names, symlinks followed.  Blocks. */
int vfs_stat(const char *path, struct vattr *va)
{
	return stat_common(path, true, va);
}

/* The same, of a final symlink itself.  Blocks. */
int vfs_lstat(const char *path, struct vattr *va)
{
	return stat_common(path, false, va);
}

/* Make directory path (permissions from mode).  "/" and a path ending
 * in "." or ".." already exist: EEXIST.  Blocks. */
int vfs_mkdir(const char *path, uint32_t mode)
{
	char name[VFS_NAME_MAX + 1];
	struct vnode *dvp, *vp;
	int error;

	if ((error = vfs_namei_parent(path, &dvp, name)) != 0)
		return error == EINVAL ? EEXIST : error;  /* "/", ".", ".." */
	if ((error = mount_writable(dvp)) == 0)
		error = dvp->v_ops->vop_mkdir(dvp, name,
					      S_IFDIR | (mode & 07777), &vp);
	vfs_modified(dvp->v_mount);
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

/* The victim's reference goes, after the vop (NULL: there was none). */
static void victim_release(struct vnode *vp)
{
	if (vp)
		vrele(vp);
}

/* The pattern of rmdir and unlink: parent, then one vop on the name.
 * rmdir of "/", "." or "..": EBUSY, as the name is in use. */
static int remove_common(const char *path, bool dir)
{
	char name[VFS_NAME_MAX + 1];
	struct vnode *dvp, *vp;
	int error;

	if ((error = vfs_namei_parent(path, &dvp, name)) != 0)
		return error == EINVAL && dir ? EBUSY : error;
	if ((error = mount_writable(dvp)) != 0) {
		vrele(dvp);
		return error;
	}
	vp = victim(path);
	error = dir ? dvp->v_ops->vop_rmdir(dvp, name) :
		      dvp->v_ops->vop_unlink(dvp, name);
	vfs_modified(dvp->v_mount);
	victim_release(vp);
	vrele(dvp);
	return error;
}

/*
 * Remove empty directory path; EBUSY for a mount point, or a directory
 * a mount is being made on.  The directory is claimed against mounts for
 * the length of the removal (vfs_rmdir_claim), so a mount cannot land on
 * it between the check and the removal.  Blocks.
 */
int vfs_rmdir(const char *path)
{
	struct vnode *vp;
	int error;

	if (vfs_namei(path, false, &vp) != 0)
		return remove_common(path, true);	/* names the error */
	error = vfs_rmdir_claim(vp);
	if (error == 0) {
		error = remove_common(path, true);
		vfs_rmdir_claim_end(vp);
	}
	vrele(vp);
	return error;
}

/* Remove the name path (not a directory: the filesystem refuses
 * those).  An open file keeps its data until closed.  Blocks. */
int vfs_unlink(const char *path)
{
	return remove_common(path, false);
}

/*
 * Rename from to to, replacing what to names (the filesystem decides
 * which replacements are allowed).  Both must be in one mount: EXDEV
 * otherwise.  Blocks.
 */
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
	} else if ((error = mount_writable(fdvp)) == 0) {
		struct vnode *replaced = victim(to);

		error = fdvp->v_ops->vop_rename(fdvp, fname, tdvp, tname);
		vfs_modified(fdvp->v_mount);
		victim_release(replaced);
	}
	vrele(tdvp);
	vrele(fdvp);
	return error;
}

/* A new name path for the object target names (a final symlink is not
 * followed).  No links to directories (EPERM), none across mounts
 * (EXDEV).  Blocks. */
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
		else if ((error = mount_writable(dvp)) == 0)
			error = dvp->v_ops->vop_link(vp, dvp, name);
		vfs_modified(dvp->v_mount);
		vrele(dvp);
	}
	vrele(vp);
	return error;
}

/* A symlink path holding target, which is not looked at (it may name
 * nothing), but must be a non-empty path that fits.  Blocks. */
int vfs_symlink(const char *target, const char *path)
{
	char name[VFS_NAME_MAX + 1];
	struct vnode *dvp;
	int error;

	if (target[0] == '\0' || strlen(target) >= VFS_PATH_MAX)
		return target[0] == '\0' ? ENOENT : ENAMETOOLONG;
	if ((error = vfs_namei_parent(path, &dvp, name)) != 0)
		return error;
	if ((error = mount_writable(dvp)) == 0)
		error = dvp->v_ops->vop_symlink(dvp, name, target);
	vfs_modified(dvp->v_mount);
	vrele(dvp);
	return error;
}

/* The target of symlink path into buf (size bytes), *len its length.
 * EINVAL when path is not a symlink.  Blocks. */
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

/* truncate and chmod: one setattr on what path names.  A size is
 * only for regular files. */
static int setattr_path(const char *path, const struct vsetattr *sa)
{
	struct vnode *vp;
	int error;

	if ((error = vfs_namei(path, true, &vp)) != 0)
		return error;
	if ((sa->valid & VA_SET_SIZE) && vp->v_type != VREG)
		error = vp->v_type == VDIR ? EISDIR : EINVAL;
	else if ((error = mount_writable(vp)) == 0)
		error = (sa->valid & VA_SET_SIZE) ? set_size(vp, sa->size)
						  : vp->v_ops->vop_setattr(vp, sa);
	vfs_modified(vp->v_mount);
	vrele(vp);
	return error;
}

/* Set the size of regular file path.  Blocks. */
int vfs_truncate(const char *path, uint64_t size)
{
	struct vsetattr sa = { .valid = VA_SET_SIZE, .size = size };

	return setattr_path(path, &sa);
}

/*
 * Set the size of the regular file open as fp (ftruncate): EINVAL unless
 * it is open for writing and a regular file, EROFS on a read-only mount.
 * A mapped file's pages follow (set_size).  Thread context; blocks.
 */
int vfs_ftruncate(struct file *fp, uint64_t size)
{
	struct vnode *vp = fp->f_vp;
	int error;

	if ((fp->f_flags & O_ACCMODE) == O_RDONLY || vp->v_type != VREG)
		return EINVAL;
	if ((error = mount_writable(vp)) != 0)
		return error;
	error = set_size(vp, size);
	vfs_modified(vp->v_mount);
	return error;
}

/* Set the permission bits of path.  Blocks. */
int vfs_chmod(const char *path, uint32_t mode)
{
	struct vsetattr sa = { .valid = VA_SET_MODE, .mode = mode & 07777 };

	return setattr_path(path, &sa);
}

int vfs_set_mtime(const char *path, uint64_t mtime_ns)
{
	struct vsetattr sa = { .valid = VA_SET_MTIME, .mtime_ns = mtime_ns };

	return setattr_path(path, &sa);
}

/* The numbers of the filesystem path is on, its type's name included.
 * Blocks. */
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
