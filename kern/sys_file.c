/*
 * sys_file.c - system calls on files by name and on open VFS files:
 * open/openat, lseek, pread64, pwrite64, truncate/ftruncate, stat/lstat/fstat/newfstatat, getdents64,
 * mkdir/mkdirat, unlink/unlinkat/rmdir, rename/renameat/renameat2,
 * symlink/symlinkat, readlink/readlinkat, access/faccessat, getcwd, chdir,
 * fchdir, fsync, chmod/fchmod/fchmodat, umask, chown/fchown/lchown/fchownat,
 * utimensat.  (read, write, close and ioctl, which work on every kind of
 * file, are in kern/sys_generic.c; what a descriptor points at is in
 * kern/kern_descrip.c.)
 *
 * Every path from user memory becomes an absolute kernel string before
 * the VFS sees it (user_path):
 *
 *   "/etc/motd"                      as it is
 *   "notes.txt", dirfd AT_FDCWD  ->  p_cwd + "/" + "notes.txt"
 *   "notes.txt", dirfd 5         ->  (the path fd 5 was opened by) + "/" ...
 *
 * and the VFS's lookup resolves ".", ".." and symbolic links in it.  The
 * current directory is kept as a clean absolute path (path_clean), the
 * way a shell's `pwd` shows it.  So the kernel never holds a vnode for a
 * current directory or a dirfd: a directory renamed under a process
 * leaves its cwd naming the old path, which is the price of the scheme.
 *
 * Ownership of the strings: user_path and user_path_at return a new
 * M_UPATH string that the caller frees on every path out.  User memory
 * is touched only through copyin, copyout and copyinstr, which turn a
 * bad pointer into EFAULT; data moves through kernel bounce buffers a
 * page at a time, never by handing a user pointer to the VFS.
 *
 * Context: every function here runs in the calling process's own thread
 * (curproc), in thread context, and may block in the VFS or on a page
 * fault of a user buffer.  The descriptor table and p_cwd are the
 * process's own, touched by no other thread, so no lock guards them;
 * the VFS does its own locking underneath.
 *
 * Errors: each call returns a result >= 0 or -errno with the kernel's
 * errno values, which the system call layer (errno_to_linux) translates
 * into Linux's.
 * Structures are Linux's x86-64 ones (struct stat, struct
 * linux_dirent64); open's flag values are the VFS's own for the flags
 * the VFS knows (fs/vfs.h follows Linux there), and the others are
 * dropped or refused here.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/file.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <kern/syscall.h>
#include <drivers/rtc.h>
#include <fs/vfs.h>

MALLOC_DEFINE(M_UPATH, "upath", "paths of file system calls");

/* Linux's values for the *at() calls, open, lseek and getdents64. */
#define AT_FDCWD	    (-100)	/* dirfd: relative to the cwd */
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_REMOVEDIR	    0x200
#define AT_EMPTY_PATH	    0x1000
#define LINUX_O_CLOEXEC	    0x80000
#define SEEK_SET	    0
#define SEEK_CUR	    1
#define SEEK_END	    2
#define DT_CHR		    2
#define DT_DIR		    4
#define DT_REG		    8
#define DT_LNK		    10
#define DIRENT_BUF_MAX	    32768	/* bytes of one getdents64 */
/* The open flags passed on to the VFS; the rest (O_NOCTTY, O_NONBLOCK,
 * O_CLOEXEC, which fd_alloc takes) mean nothing to a file on disk. */
#define OPEN_FLAGS_KEPT (O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | \
			 O_DIRECTORY | O_NOFOLLOW)

/* Linux's struct stat for x86-64 (144 bytes). */
struct linux_stat {
	uint64_t st_dev, st_ino, st_nlink;
	uint32_t st_mode, st_uid, st_gid, pad0;
	uint64_t st_rdev;
	int64_t st_size, st_blksize, st_blocks;	/* blocks of 512 bytes */
	uint64_t st_atime, st_atime_nsec, st_mtime, st_mtime_nsec;
	uint64_t st_ctime, st_ctime_nsec;
	int64_t unused[3];
};
_Static_assert(sizeof(struct linux_stat) == 144, "struct stat is 144 bytes");

/* ----------------------------------------------------------------------- */
/* Paths.                                                                  */

/* Remove "." components, empty ones and trailing slashes, and let ".."
 * eat the component before it, in place: "/a/./b/../c/" -> "/a/c".
 * Purely textual: chdir_to calls it only after the VFS has found the
 * path to be a directory, so a ".." after a symlink was already judged
 * by the real lookup.  The result is never longer than the input. */
static void path_clean(char *path)
{
	char *out = path, *in = path;

	KASSERT(path[0] == '/', "path_clean: \"%s\" is not absolute", path);
	while (*in != '\0') {
		char *comp;
		size_t n;

		while (*in == '/')
			in++;
		comp = in;
		while (*in != '\0' && *in != '/')
			in++;
		n = (size_t)(in - comp);
		if (n == 0 || (n == 1 && comp[0] == '.'))
			continue;
		if (n == 2 && comp[0] == '.' && comp[1] == '.') {
			/* Back up over the last component written; at
			 * the root ".." stays at the root. */
			while (out > path && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		memmove(out, comp, n);
		out += n;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}

/* base + "/" + rel as a new M_UPATH string in *out, or ENAMETOOLONG
 * when it would not fit in VFS_PATH_MAX (with its NUL).  The doubled
 * slash of base "/" is harmless: lookup skips empty components.  May
 * block (M_WAITOK). */
static int path_join(const char *base, const char *rel, char **out)
{
	size_t n = strlen(base) + strlen(rel) + 2;

	if (n > VFS_PATH_MAX)
		return ENAMETOOLONG;
	*out = kmalloc(n, M_UPATH, M_WAITOK);
	ksnprintf(*out, n, "%s/%s", base, rel);
	return 0;
}

/*
 * The user path at upath, relative to dirfd, as a new absolute kernel
 * string in *out (kfree with M_UPATH).  An empty path is ENOENT unless
 * empty_ok (then *out is dirfd's own path).  EFAULT, ENAMETOOLONG,
 * EBADF (dirfd), ENOTDIR (dirfd is no opened path).  An absolute path
 * ignores dirfd, as in Linux, so a bad dirfd is no error then.  The
 * calling process's own thread; may block.
 */
static int user_path_at(int dirfd, const void *upath, bool empty_ok,
			char **out)
{
	char *rel = kmalloc(VFS_PATH_MAX, M_UPATH, M_WAITOK);
	const char *base = curproc->p_cwd;
	int error = copyinstr(upath, rel, VFS_PATH_MAX, NULL);

	KASSERT(curproc != NULL, "user_path_at: no process; only system "
		"calls turn user paths into kernel ones");
	if (error == 0 && rel[0] == '\0' && !empty_ok)
		error = ENOENT;
	if (error == 0 && rel[0] != '/' && dirfd != AT_FDCWD) {
		struct ufile *f = fd_get(dirfd);

		error = f == NULL ? EBADF : f->f_path == NULL ? ENOTDIR : 0;
		base = f != NULL ? f->f_path : NULL;
	}
	if (error == 0)
		error = path_join(rel[0] == '/' ? "" : base, rel, out);
	kfree(rel, M_UPATH);
	return error;
}

/* The user path at upath, relative to the cwd; as user_path_at. */
static int user_path(const void *upath, char **out)
{
	return user_path_at(AT_FDCWD, upath, false, out);
}

/* The path descriptor fd was opened by, as a new string; EBADF if fd is
 * not open, EINVAL if it was not opened by a path (a pipe, the console). */
static int user_fd_path(int fd, char **out)
{
	struct ufile *f = fd_get(fd);

	if (f == NULL)
		return EBADF;
	if (f->f_path == NULL)
		return EINVAL;
	return path_join("", f->f_path, out);
}

/* ----------------------------------------------------------------------- */
/* Opening, seeking, reading at an offset.                                 */

/*
 * open and openat: the lowest free descriptor, on a new ufile of its own
 * (offset 0), or -errno: the path's (ENOENT, ENOTDIR, ELOOP, EFAULT,
 * ENAMETOOLONG, EBADF for dirfd), the VFS's (EEXIST for O_CREAT|O_EXCL,
 * EISDIR for a directory opened to write, EROFS, ENOSPC) or EMFILE.  The
 * mode of a created file loses the bits of the umask.
 */
static int64_t do_openat(int dirfd, const void *upath, int flags, int mode)
{
	char *path;
	struct ufile *f;
	int error = user_path_at(dirfd, upath, false, &path), fd;

	if (error)
		return -error;
	mode &= 07777 & ~curproc->p_umask;
	error = ufile_open_vnode(path, flags & OPEN_FLAGS_KEPT,
				 (uint32_t)mode, &f);
	kfree(path, M_UPATH);
	if (error)
		return -error;
	fd = fd_alloc(f, 0, (flags & LINUX_O_CLOEXEC) ? FD_CLOEXEC : 0);
	if (fd < 0)		/* EMFILE: the file was opened for nothing */
		ufile_rele(f);
	return fd;
}

int64_t sys_open(struct trapframe *tf, const uint64_t *a)
{
	return do_openat(AT_FDCWD, (const void *)a[0], (int)a[1], (int)a[2]);
}

int64_t sys_openat(struct trapframe *tf, const uint64_t *a)
{
	return do_openat((int)a[0], (const void *)a[1], (int)a[2],
			 (int)a[3]);
}

/* The VFS file behind fd: 0, EBADF, or ESPIPE (a pipe, the console).
 * Callers for which Linux has another error for "not a file" (fsync
 * and ftruncate EINVAL, getdents64 ENOTDIR) translate the ESPIPE.  The
 * file stays valid while the descriptor does: this thread alone could
 * close it. */
static int fd_vfs(int fd, struct file **vfp)
{
	struct ufile *f = fd_get(fd);

	if (f == NULL)
		return EBADF;
	*vfp = ufile_vfs(f);
	return *vfp != NULL ? 0 : ESPIPE;
}

/*
 * lseek(fd, offset, whence): the new offset from the start, which is
 * also set on the ufile (shared by dup and fork).  EBADF, ESPIPE for a
 * pipe or the console, EINVAL for a bad whence or an offset before the
 * start.  Seeking past the end is allowed; a write there leaves a hole.
 */
int64_t sys_lseek(struct trapframe *tf, const uint64_t *a)
{
	struct file *vf;
	struct vattr va;
	int64_t off = (int64_t)a[1], base;
	int error = fd_vfs((int)a[0], &vf);

	if (error)
		return -error;
	switch (a[2]) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (int64_t)vf->f_offset;
		break;
	case SEEK_END:
		if ((error = vfs_fstat(vf, &va)) != 0)
			return -error;
		base = (int64_t)va.va_size;
		break;
	default:
		return -EINVAL;
	}
	if (base + off < 0)
		return -EINVAL;
	vf->f_offset = (uint64_t)(base + off);
	return base + off;
}

/*
 * pread64(fd, buf, count, offset): up to count bytes from offset, the
 * file offset untouched; the bytes read, 0 at the end of the file.  A
 * page at a time through a bounce buffer on the stack; a short read
 * from the VFS is the end of the file.  Bytes already copied win over a
 * later error (EFAULT midway returns the count so far, as Linux does).
 * EBADF, ESPIPE (not a file), EINVAL (negative offset), EISDIR, EFAULT.
 */
int64_t sys_pread64(struct trapframe *tf, const uint64_t *a)
{
	char buf[4096];
	struct file *vf;
	size_t len = a[2], done = 0;
	int64_t off = (int64_t)a[3];
	int error = fd_vfs((int)a[0], &vf);

	if (error == 0 && off < 0)
		error = EINVAL;
	while (error == 0 && done < len) {
		size_t n = 0, chunk = MIN(len - done, sizeof(buf));

		error = vfs_pread(vf, buf, chunk, (uint64_t)off + done, &n);
		if (error == 0)
			error = copyout(buf, (char *)a[1] + done, n);
		if (error == 0)
			done += n;
		if (n < chunk)
			break;
	}
	return done > 0 ? (int64_t)done : -error;
}

/* pwrite64(fd, buf, count, offset): a write at offset, the file offset
 * untouched; through a kernel bounce buffer, a page at a time (so a
 * mapped file's pages see each page as it is written).  Returns the
 * bytes written, or -errno if none was: EBADF (also for a file not open
 * to write), ESPIPE, EINVAL, EFAULT, EFBIG, ENOSPC, EROFS.  The VFS
 * writes a chunk whole or not at all, so the loop always advances. */
int64_t sys_pwrite64(struct trapframe *tf, const uint64_t *a)
{
	char buf[4096];
	struct file *vf;
	size_t len = a[2], done = 0;
	int64_t off = (int64_t)a[3];
	int error = fd_vfs((int)a[0], &vf);

	if (error == 0 && off < 0)
		error = EINVAL;
	while (error == 0 && done < len) {
		size_t n = 0, chunk = MIN(len - done, sizeof(buf));

		error = copyin((const char *)a[1] + done, buf, chunk);
		if (error == 0)
			error = vfs_pwrite(vf, buf, chunk, (uint64_t)off + done,
					   &n);
		done += n;
	}
	return done > 0 ? (int64_t)done : -error;
}

/* truncate(path, length) and ftruncate(fd, length): the file's new size
 * (a mapped file's pages follow, fs/vfs_ops.c set_size).  A negative
 * length is EINVAL. */
int64_t sys_truncate(struct trapframe *tf, const uint64_t *a)
{
	char *path;
	int error;

	if ((int64_t)a[1] < 0)
		return -EINVAL;
	error = user_path((const void *)a[0], &path);
	if (error)
		return -error;
	error = vfs_truncate(path, a[1]);
	kfree(path, M_UPATH);
	return -error;
}

/* ftruncate: EBADF, EINVAL for a pipe or the console (Linux's answer
 * for a descriptor that is no regular file), or as truncate. */
int64_t sys_ftruncate(struct trapframe *tf, const uint64_t *a)
{
	struct file *vf;
	int error = fd_vfs((int)a[0], &vf);

	if (error == 0 && (int64_t)a[1] < 0)
		error = EINVAL;
	return -(error == ESPIPE ? EINVAL : error != 0 ? error
						       : vfs_ftruncate(vf, a[1]));
}

/* sync(2): every filesystem, the pages of its mapped files included,
 * commits.  Linux's returns nothing and cannot fail; so does this. */
int64_t sys_sync(struct trapframe *tf, const uint64_t *a)
{
	(void)vfs_sync_all();
	return 0;
}

/* fsync(fd): the file's filesystem commits, its mapped pages first;
 * returns when the data is on the disk.  EBADF, EINVAL for a pipe or
 * the console, EIO when the commit could not be written.  Blocks. */
int64_t sys_fsync(struct trapframe *tf, const uint64_t *a)
{
	struct file *vf;
	int error = fd_vfs((int)a[0], &vf);

	return -(error == ESPIPE ? EINVAL : error != 0 ? error : vfs_fsync(vf));
}

/* ----------------------------------------------------------------------- */
/* stat and friends.                                                       */

/* Copy va out as Linux's struct stat at user address ust; 0 or EFAULT.
 * Every file seems to be on one device (st_dev 1): the VFS has no device
 * numbers for its mounts, and no program here compares them. */
static int copyout_stat(const struct vattr *va, void *ust)
{
	struct linux_stat st;

	memset(&st, 0, sizeof(st));
	st.st_dev = 1;
	st.st_ino = va->va_ino;
	st.st_nlink = va->va_nlink;
	st.st_mode = va->va_mode;
	st.st_uid = va->va_uid;
	st.st_gid = va->va_gid;
	st.st_rdev = va->va_rdev;
	st.st_size = (int64_t)va->va_size;
	st.st_blksize = 4096;	/* the filesystems' block: the best I/O size */
	st.st_blocks = (int64_t)va->va_blocks * 8;	/* 4 KiB -> 512 B units */
	st.st_atime = va->va_atime_ns / 1000000000;
	st.st_atime_nsec = va->va_atime_ns % 1000000000;
	st.st_mtime = va->va_mtime_ns / 1000000000;
	st.st_mtime_nsec = va->va_mtime_ns % 1000000000;
	st.st_ctime = va->va_ctime_ns / 1000000000;
	st.st_ctime_nsec = va->va_ctime_ns % 1000000000;
	return copyout(&st, ust, sizeof(st));
}

/* fstat of descriptor fd: every kind of file that has a stat op (a
 * file, the console, a pipe end, a sink); EBADF, EINVAL, EFAULT. */
static int64_t stat_fd(int fd, void *ust)
{
	struct ufile *f = fd_get(fd);
	struct vattr va;
	int error;

	if (f == NULL)
		return -EBADF;
	if (f->f_ops->stat == NULL)
		return -EINVAL;
	error = f->f_ops->stat(f, &va);
	return -(error != 0 ? error : copyout_stat(&va, ust));
}

/* stat (follow) or lstat of path, which is freed here; ENOENT, ENOTDIR,
 * ELOOP, EFAULT. */
static int64_t stat_path(char *path, bool follow, void *ust)
{
	struct vattr va;
	int error = follow ? vfs_stat(path, &va) : vfs_lstat(path, &va);

	kfree(path, M_UPATH);
	return -(error != 0 ? error : copyout_stat(&va, ust));
}

int64_t sys_fstat(struct trapframe *tf, const uint64_t *a)
{
	return stat_fd((int)a[0], (void *)a[1]);
}

int64_t sys_stat(struct trapframe *tf, const uint64_t *a)
{
	char *path;
	int error = user_path((const void *)a[0], &path);

	return error ? -error : stat_path(path, true, (void *)a[1]);
}

int64_t sys_lstat(struct trapframe *tf, const uint64_t *a)
{
	char *path;
	int error = user_path((const void *)a[0], &path);

	return error ? -error : stat_path(path, false, (void *)a[1]);
}

/* newfstatat(dirfd, path, st, flags); "" with AT_EMPTY_PATH is fstat
 * of dirfd itself.  Flags other than those two are EINVAL.  An
 * unreadable path falls through to user_path_at, which says EFAULT. */
int64_t sys_newfstatat(struct trapframe *tf, const uint64_t *a)
{
	int flags = (int)a[3];
	char first, *path;
	int error;

	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if ((flags & AT_EMPTY_PATH) &&
	    copyin((const void *)a[1], &first, 1) == 0 && first == '\0')
		return stat_fd((int)a[0], (void *)a[2]);
	error = user_path_at((int)a[0], (const void *)a[1], false, &path);
	if (error)
		return -error;
	return stat_path(path, !(flags & AT_SYMLINK_NOFOLLOW), (void *)a[2]);
}

/* access/faccessat: everyone is root, so existence is the answer. */
static int64_t access_at(int dirfd, const void *upath)
{
	char *path;
	struct vattr va;
	int error = user_path_at(dirfd, upath, false, &path);

	if (error)
		return -error;
	error = vfs_stat(path, &va);
	kfree(path, M_UPATH);
	return -error;
}

int64_t sys_access(struct trapframe *tf, const uint64_t *a)
{
	return access_at(AT_FDCWD, (const void *)a[0]);
}

int64_t sys_faccessat(struct trapframe *tf, const uint64_t *a)
{
	return access_at((int)a[0], (const void *)a[1]);
}

/* ----------------------------------------------------------------------- */
/* Directories: getdents64.                                                */

/* Filling a kernel buffer with struct linux_dirent64 records: the
 * callback state of one vfs_readdir, copied out in one piece after it
 * (the callback runs inside the filesystem's lock, where a page fault
 * on a user buffer must not happen). */
struct dirent_fill {
	char *buf;			/* kernel buffer, cap + 1 bytes */
	size_t len, cap;		/* bytes filled, bytes it may hold */
	bool refused;			/* an entry did not fit */
};

/* The d_type of a vnode type (DT_UNKNOWN, 0, for anything else). */

static int dirent_type(enum vtype t)
{
	return t == VDIR ? DT_DIR : t == VLNK ? DT_LNK : t == VREG ? DT_REG :
	       t == VCHR ? DT_CHR : 0;
}

/*
 * One record: u64 d_ino, s64 d_off (the cookie after it), u16 d_reclen,
 * u8 d_type, the name and its NUL, padded to 8 bytes.  Returns 1 (stop)
 * when it does not fit; the VFS then resumes at this entry next time.
 */
static int dirent_fill_one(void *arg, const struct vdirent *d)
{
	struct dirent_fill *df = arg;
	size_t reclen = (19 + d->namelen + 1 + 7) & ~(size_t)7;
	char *r = df->buf + df->len;
	uint16_t rl = (uint16_t)reclen;
	int64_t off = (int64_t)d->cookie;

	if (df->len + reclen > df->cap) {
		df->refused = true;
		return 1;
	}
	/* Byte copies: records are only 8-byte aligned by their padding,
	 * and the name is not NUL-terminated in d. */
	memset(r, 0, reclen);
	memcpy(r, &d->ino, 8);
	memcpy(r + 8, &off, 8);
	memcpy(r + 16, &rl, 2);
	r[18] = (char)dirent_type(d->type);
	memcpy(r + 19, d->name, d->namelen);
	df->len += reclen;
	return 0;
}

/*
 * getdents64(fd, dirp, count): as many whole records as fit in count
 * bytes (at most DIRENT_BUF_MAX a call), from where the last call
 * stopped; the bytes filled, 0 at the end of the directory.  EBADF,
 * ENOTDIR (a file, a pipe, the console), EFAULT, and EINVAL when count
 * cannot hold even the next record (a 0 there would read as the end).
 */
int64_t sys_getdents64(struct trapframe *tf, const uint64_t *a)
{
	struct dirent_fill df = { .cap = MIN(a[2], DIRENT_BUF_MAX) };
	struct file *vf;
	int error = fd_vfs((int)a[0], &vf);

	if (error)
		return -(error == ESPIPE ? ENOTDIR : error);
	df.buf = kmalloc(df.cap + 1, M_UPATH, M_WAITOK);
	error = vfs_readdir(vf, dirent_fill_one, &df);	/* ENOTDIR: a file */
	if (error == 0 && df.len == 0 && df.refused)
		error = EINVAL;
	if (error == 0)
		error = copyout(df.buf, (void *)a[1], df.len);
	kfree(df.buf, M_UPATH);
	return error ? -error : (int64_t)df.len;
}

/* ----------------------------------------------------------------------- */
/* Changing names.                                                         */

/* mkdir and mkdirat: 0, or EEXIST, ENOENT (no parent), ENOTDIR, EROFS,
 * ENOSPC, EFAULT.  The new directory's mode loses the umask's bits. */
static int64_t mkdir_at(int dirfd, const void *upath, int mode)
{
	char *path;
	int error = user_path_at(dirfd, upath, false, &path);

	if (error)
		return -error;
	error = vfs_mkdir(path, (uint32_t)(mode & 07777 & ~curproc->p_umask));
	kfree(path, M_UPATH);
	return -error;
}

int64_t sys_mkdir(struct trapframe *tf, const uint64_t *a)
{
	return mkdir_at(AT_FDCWD, (const void *)a[0], (int)a[1]);
}

int64_t sys_mkdirat(struct trapframe *tf, const uint64_t *a)
{
	return mkdir_at((int)a[0], (const void *)a[1], (int)a[2]);
}

/* unlink, rmdir and unlinkat (AT_REMOVEDIR is rmdir).  unlink of a
 * directory is EISDIR, rmdir of a file ENOTDIR, of a directory with
 * entries ENOTEMPTY; EPERM in /dev; an open file lives on unnamed until
 * its last close. */
static int64_t unlink_at(int dirfd, const void *upath, int flags)
{
	char *path;
	int error;

	if (flags & ~AT_REMOVEDIR)
		return -EINVAL;
	error = user_path_at(dirfd, upath, false, &path);
	if (error)
		return -error;
	error = (flags & AT_REMOVEDIR) ? vfs_rmdir(path) : vfs_unlink(path);
	kfree(path, M_UPATH);
	return -error;
}

int64_t sys_unlink(struct trapframe *tf, const uint64_t *a)
{
	return unlink_at(AT_FDCWD, (const void *)a[0], 0);
}

int64_t sys_rmdir(struct trapframe *tf, const uint64_t *a)
{
	return unlink_at(AT_FDCWD, (const void *)a[0], AT_REMOVEDIR);
}

int64_t sys_unlinkat(struct trapframe *tf, const uint64_t *a)
{
	return unlink_at((int)a[0], (const void *)a[1], (int)a[2]);
}

/* rename and renameat: the new name replaces what it named (a file by a
 * file, an empty directory by a directory), in one step as far as other
 * callers can see.  EXDEV across mounts, EROFS, ENOENT, EFAULT, and the
 * filesystem's refusals: EINVAL for a directory moved below itself,
 * ENOTEMPTY, EISDIR, ENOTDIR. */
static int64_t rename_at(int ofd, const void *uold, int nfd, const void *unew)
{
	char *from, *to;
	int error = user_path_at(ofd, uold, false, &from);

	if (error)
		return -error;
	error = user_path_at(nfd, unew, false, &to);
	if (error == 0) {
		error = vfs_rename(from, to);
		kfree(to, M_UPATH);
	}
	kfree(from, M_UPATH);
	return -error;
}

int64_t sys_rename(struct trapframe *tf, const uint64_t *a)
{
	return rename_at(AT_FDCWD, (const void *)a[0], AT_FDCWD,
			 (const void *)a[1]);
}

int64_t sys_renameat(struct trapframe *tf, const uint64_t *a)
{
	return rename_at((int)a[0], (const void *)a[1], (int)a[2],
			 (const void *)a[3]);
}

/* renameat2: no flags (RENAME_NOREPLACE and the others) supported. */
int64_t sys_renameat2(struct trapframe *tf, const uint64_t *a)
{
	return a[4] != 0 ? -EINVAL : sys_renameat(tf, a);
}

/* symlinkat(target, dirfd, path): target is stored as it is, neither
 * checked nor made absolute: lookup interprets it when it is followed,
 * relative to the link's directory.  EEXIST, ENOENT, EROFS, EFAULT,
 * ENAMETOOLONG. */
static int64_t symlink_at(const void *utarget, int dirfd, const void *upath)
{
	char *target = kmalloc(VFS_PATH_MAX, M_UPATH, M_WAITOK), *path;
	int error = copyinstr(utarget, target, VFS_PATH_MAX, NULL);

	if (error == 0)
		error = user_path_at(dirfd, upath, false, &path);
	if (error == 0) {
		error = vfs_symlink(target, path);
		kfree(path, M_UPATH);
	}
	kfree(target, M_UPATH);
	return -error;
}

int64_t sys_symlink(struct trapframe *tf, const uint64_t *a)
{
	return symlink_at((const void *)a[0], AT_FDCWD, (const void *)a[1]);
}

int64_t sys_symlinkat(struct trapframe *tf, const uint64_t *a)
{
	return symlink_at((const void *)a[0], (int)a[1], (const void *)a[2]);
}

/* readlink and readlinkat: the link's target, cut to size bytes and not
 * NUL-terminated (as Linux); its length.  EINVAL for a path that is no
 * symbolic link, ENOENT, EFAULT. */
static int64_t readlink_at(int dirfd, const void *upath, void *ubuf,
			   size_t size)
{
	char *path, *buf;
	size_t len = 0;
	int error = user_path_at(dirfd, upath, false, &path);

	if (error)
		return -error;
	buf = kmalloc(VFS_PATH_MAX, M_UPATH, M_WAITOK);
	error = vfs_readlink(path, buf, VFS_PATH_MAX, &len);
	len = MIN(len, size);
	if (error == 0)
		error = copyout(buf, ubuf, len);
	kfree(buf, M_UPATH);
	kfree(path, M_UPATH);
	return error ? -error : (int64_t)len;
}

int64_t sys_readlink(struct trapframe *tf, const uint64_t *a)
{
	return readlink_at(AT_FDCWD, (const void *)a[0], (void *)a[1], a[2]);
}

int64_t sys_readlinkat(struct trapframe *tf, const uint64_t *a)
{
	return readlink_at((int)a[0], (const void *)a[1], (void *)a[2], a[3]);
}

/* ----------------------------------------------------------------------- */
/* The current directory.                                                  */

/* getcwd(buf, size): the path and its NUL; returns that length (the
 * system call's, not the C library's pointer).  ERANGE when size is too
 * small, EFAULT.  Never asks the VFS: the cwd is kept as a string. */
int64_t sys_getcwd(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;
	size_t n = strlen(p->p_cwd) + 1;
	int error;

	if (a[1] < n)
		return -ERANGE;
	error = copyout(p->p_cwd, (void *)a[0], n);
	return error ? -error : (int64_t)n;
}

/* Make path (absolute, M_UPATH, freed here) the current directory:
 * ENOENT, ENOTDIR, ENAMETOOLONG when the clean path does not fit in
 * p_cwd.  The VFS judges the path as written (symlinks followed, ".."
 * after them), and only then is it cleaned for keeping. */
static int64_t chdir_to(char *path)
{
	struct proc *p = curproc;
	struct vattr va;
	int error = vfs_stat(path, &va);

	if (error == 0 && !S_ISDIR(va.va_mode))
		error = ENOTDIR;
	if (error == 0) {
		path_clean(path);
		error = strlen(path) < sizeof(p->p_cwd) ? 0 : ENAMETOOLONG;
	}
	if (error == 0)
		strlcpy(p->p_cwd, path, sizeof(p->p_cwd));
	kfree(path, M_UPATH);
	return -error;
}

/* chdir(path): as chdir_to; EFAULT for a bad path. */
int64_t sys_chdir(struct trapframe *tf, const uint64_t *a)
{
	char *path;
	int error = user_path((const void *)a[0], &path);

	return error ? -error : chdir_to(path);
}

/* fchdir(fd): to the path fd was opened by.  EBADF, ENOTDIR for a
 * descriptor with no path (a pipe, the console) or a file. */
int64_t sys_fchdir(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f = fd_get((int)a[0]);
	char *path;
	int error;

	if (f == NULL)
		return -EBADF;
	if (f->f_path == NULL)
		return -ENOTDIR;
	error = path_join("", f->f_path, &path);
	return error ? -error : chdir_to(path);
}

/* ----------------------------------------------------------------------- */
/* Modes and owners: chmod, fchmod, fchmodat, umask, chown and friends.    */

/* chmod and fchmodat: the permission bits (07777) of path; the umask
 * does not apply.  ENOENT, EROFS, EPERM in /dev, EFAULT. */
static int64_t chmod_at(int dirfd, const void *upath, uint64_t mode)
{
	char *path;
	int error = user_path_at(dirfd, upath, false, &path);

	if (error)
		return -error;
	error = vfs_chmod(path, (uint32_t)mode & 07777);
	kfree(path, M_UPATH);
	return -error;
}

int64_t sys_chmod(struct trapframe *tf, const uint64_t *a)
{
	return chmod_at(AT_FDCWD, (const void *)a[0], a[1]);
}

/* fchmodat(dirfd, path, mode, flags): Linux's system call has no flags
 * argument (the C library handles AT_SYMLINK_NOFOLLOW). */
int64_t sys_fchmodat(struct trapframe *tf, const uint64_t *a)
{
	return chmod_at((int)a[0], (const void *)a[1], a[2]);
}

/* fchmod(fd, mode): a file opened by path; a pipe or the console has no
 * mode to change (EINVAL). */
int64_t sys_fchmod(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f = fd_get((int)a[0]);

	if (f == NULL)
		return -EBADF;
	if (f->f_path == NULL)
		return -EINVAL;
	return -vfs_chmod(f->f_path, (uint32_t)a[1] & 07777);
}

/* umask(mask): the new mask for the modes of files and directories this
 * process creates; returns the old one.  Never fails. */
int64_t sys_umask(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;
	int old = p->p_umask;

	p->p_umask = (int)(a[0] & 0777);
	return old;
}

/*
 * chown, fchown, lchown, fchownat: there is one user, root, and files
 * record no owner, so a change of owner is accepted and changes nothing
 * -- once the file is found (ENOENT, EBADF as Linux).
 */
static int64_t chown_at(int dirfd, const void *upath, int flags)
{
	char *path;
	struct vattr va;
	int error = user_path_at(dirfd, upath, (flags & AT_EMPTY_PATH) != 0,
				 &path);

	if (error)
		return -error;
	error = (flags & AT_SYMLINK_NOFOLLOW) ? vfs_lstat(path, &va)
					      : vfs_stat(path, &va);
	kfree(path, M_UPATH);
	return -error;
}

int64_t sys_chown(struct trapframe *tf, const uint64_t *a)
{
	return chown_at(AT_FDCWD, (const void *)a[0], 0);
}

int64_t sys_lchown(struct trapframe *tf, const uint64_t *a)
{
	return chown_at(AT_FDCWD, (const void *)a[0], AT_SYMLINK_NOFOLLOW);
}

int64_t sys_fchownat(struct trapframe *tf, const uint64_t *a)
{
	return chown_at((int)a[0], (const void *)a[1], (int)a[4]);
}

/* fchown(fd, uid, gid): any open descriptor will do; EBADF. */
int64_t sys_fchown(struct trapframe *tf, const uint64_t *a)
{
	return fd_get((int)a[0]) == NULL ? -EBADF : 0;
}

/* ----------------------------------------------------------------------- */
/* Times: utimensat.                                                       */

/* Linux's special tv_nsec values. */
#define UTIME_NOW	((1L << 30) - 1)	/* tv_nsec: the time now */
#define UTIME_OMIT	((1L << 30) - 2)	/* tv_nsec: leave it */

/*
 * utimensat(dirfd, path, times[2], flags): set the access and
 * modification times; times NULL (or UTIME_NOW) means now.  Files keep
 * only a modification time, so the access time is checked and dropped.
 * A NULL path means dirfd itself (futimens).  ENOENT for a missing file,
 * which is how `touch` learns that it must create it.
 */
int64_t sys_utimensat(struct trapframe *tf, const uint64_t *a)
{
	int64_t ts[4] = { 0, UTIME_NOW, 0, UTIME_NOW };
	uint64_t mtime;
	char *path;
	int error = a[2] != 0 ? copyin((void *)a[2], ts, sizeof(ts)) : 0;

	if (error)
		return -error;
	/* ts is {atime sec, atime nsec, mtime sec, mtime nsec}: both
	 * nanosecond fields are checked, though only mtime is kept. */
	for (int i = 1; i < 4; i += 2)
		if ((ts[i] < 0 || ts[i] >= 1000000000L) && ts[i] != UTIME_NOW &&
		    ts[i] != UTIME_OMIT)
			return -EINVAL;
	if (a[1] == 0)
		error = user_fd_path((int)a[0], &path);
	else
		error = user_path_at((int)a[0], (const void *)a[1], false,
				     &path);
	if (error)
		return -error;
	mtime = ts[3] == UTIME_NOW ? clock_realtime_ns()
				   : (uint64_t)ts[2] * 1000000000UL + ts[3];
	if (ts[3] != UTIME_OMIT)
		error = vfs_set_mtime(path, mtime);
	else		/* nothing to set, but a missing file is still ENOENT */
		error = vfs_stat(path, &(struct vattr){ 0 });
	kfree(path, M_UPATH);
	return -error;
}
