/*
 * sys_generic.c - reading and writing descriptors: read, write, readv,
 * writev, close, ioctl, sendfile.
 *
 * User buffers never reach a file's operations: each call moves the data
 * through a kernel bounce buffer, a chunk at a time, with copyin or
 * copyout.  So a bad pointer is EFAULT at the copy (after whatever was
 * already moved, as Linux does), and the file code only ever sees kernel
 * memory.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/file.h>
#include <kern/kernel.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/proc.h>
#include <kern/syscall.h>
#include <fs/vfs.h>

#define IO_CHUNK   4096		/* bytes per bounce: at least PIPE_BUF,
				 * so that a pipe's atomic write comes
				 * whole (ufileops.write_chunk) */
#define IOV_MAX	   1024

/* The file behind fd in the calling process, or NULL. */
struct ufile *fd_get(int fd)
{
	struct proc *p = curproc;

	if (fd < 0 || fd >= PROC_NFILES)
		return NULL;
	return p->p_fd[fd];
}

/* Read up to len bytes from f into user memory at ubuf. */
static int64_t read_to_user(struct ufile *f, char *ubuf, size_t len)
{
	char buf[IO_CHUNK];
	size_t done = 0;

	if (f->f_ops->read == NULL)
		return -EBADF;
	while (done < len) {
		size_t chunk = MIN(len - done, sizeof(buf));
		ssize_t n = f->f_ops->read(f, buf, chunk);
		int error;

		if (n < 0)
			return done > 0 ? (int64_t)done : n;
		error = copyout(buf, ubuf + done, (size_t)n);
		if (error)
			return done > 0 ? (int64_t)done : -error;
		done += (size_t)n;
		if ((size_t)n < chunk || ufile_vfs(f) == NULL)
			break;		/* a short read: end of file, a line;
					 * a pipe or the console: what came */
	}
	return (int64_t)done;
}

/* Write len bytes from user memory at ubuf to f, one request: a kind
 * with write_chunk learns its size with every chunk. */
static int64_t write_from_user(struct ufile *f, const char *ubuf, size_t len)
{
	char buf[IO_CHUNK];
	size_t done = 0;

	if (f->f_ops->write == NULL)
		return -EBADF;
	while (done < len) {
		size_t chunk = MIN(len - done, sizeof(buf));
		int error = copyin(ubuf + done, buf, chunk);
		ssize_t n;

		if (error)
			return done > 0 ? (int64_t)done : -error;
		n = f->f_ops->write_chunk != NULL
			    ? f->f_ops->write_chunk(f, buf, chunk, len)
			    : f->f_ops->write(f, buf, chunk);
		if (n < 0)
			return done > 0 ? (int64_t)done : n;
		done += (size_t)n;
		if ((size_t)n < chunk)
			break;
	}
	return (int64_t)done;
}

static bool readable(struct ufile *f)
{
	return (f->f_flags & O_ACCMODE) != O_WRONLY;
}

static bool writable(struct ufile *f)
{
	return (f->f_flags & O_ACCMODE) != O_RDONLY;
}

int64_t sys_read(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f = fd_get((int)a[0]);

	if (f == NULL || !readable(f))
		return -EBADF;
	return read_to_user(f, (char *)a[1], a[2]);
}

int64_t sys_write(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f = fd_get((int)a[0]);

	if (f == NULL || !writable(f))
		return -EBADF;
	return write_from_user(f, (const char *)a[1], a[2]);
}

/* readv/writev: each iovec in turn, stopping at a short transfer. */
static int64_t do_iov(struct ufile *f, const void *uiov, uint64_t cnt,
		      bool write)
{
	int64_t total = 0;

	if (cnt > IOV_MAX)
		return -EINVAL;
	for (uint64_t i = 0; i < cnt; i++) {
		uint64_t iov[2];
		int64_t n;
		int error = copyin((const char *)uiov + i * 16, iov,
				   sizeof(iov));

		if (error)
			return total > 0 ? total : -error;
		n = write ? write_from_user(f, (const char *)iov[0], iov[1])
			  : read_to_user(f, (char *)iov[0], iov[1]);
		if (n < 0)
			return total > 0 ? total : n;
		total += n;
		if ((uint64_t)n < iov[1])
			break;
	}
	return total;
}

int64_t sys_readv(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f = fd_get((int)a[0]);

	if (f == NULL || !readable(f))
		return -EBADF;
	return do_iov(f, (const void *)a[1], a[2], false);
}

int64_t sys_writev(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f = fd_get((int)a[0]);

	if (f == NULL || !writable(f))
		return -EBADF;
	return do_iov(f, (const void *)a[1], a[2], true);
}

int64_t sys_close(struct trapframe *tf, const uint64_t *a)
{
	return -fd_close(curproc, (int)a[0]);
}

/*
 * ioctl(fd, request, arg): the file's own ioctl operation answers (the
 * console's are the termios requests, kern/tty.c); a file without one --
 * a file on disk, a pipe -- is not a terminal: ENOTTY.
 */
int64_t sys_ioctl(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f = fd_get((int)a[0]);

	if (f == NULL)
		return -EBADF;
	if (f->f_ops->ioctl == NULL)
		return -ENOTTY;
	return f->f_ops->ioctl(f, (unsigned long)a[1], a[2]);
}

/* One chunk for sendfile: from f's offset, or at *off (then *off moves
 * and f's offset does not).  Bytes read, 0 at the end, or -errno. */
static ssize_t sendfile_read(struct ufile *f, char *buf, size_t len,
			     uint64_t *off)
{
	size_t done = 0;
	int error;

	if (off == NULL)
		return f->f_ops->read(f, buf, len);
	error = vfs_pread(ufile_vfs(f), buf, len, *off, &done);
	if (error)
		return -error;
	*off += done;
	return (ssize_t)done;
}

/* Write all n bytes of buf to f: n, or what went before an error. */
static ssize_t sendfile_write(struct ufile *f, const char *buf, size_t n)
{
	size_t put = 0;

	while (put < n) {
		ssize_t w = f->f_ops->write(f, buf + put, n - put);

		if (w <= 0)
			return put > 0 ? (ssize_t)put : (w < 0 ? w : -EIO);
		put += (size_t)w;
	}
	return (ssize_t)put;
}

/*
 * sendfile(out_fd, in_fd, offset, count): copy up to count bytes from a
 * file on disk to any descriptor, inside the kernel.  As in Linux, in_fd
 * must be a file (a pipe or the console is EINVAL); with offset given
 * the copy starts there, *offset is moved on and the file's own offset
 * is not.  Returns the bytes copied; stops at the end of the file.
 */
int64_t sys_sendfile(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *out = fd_get((int)a[0]), *in = fd_get((int)a[1]);
	uint64_t off, *offp = a[2] != 0 ? &off : NULL;
	char buf[IO_CHUNK];
	int64_t total = 0;
	int error;

	if (out == NULL || in == NULL || !writable(out) || !readable(in) ||
	    out->f_ops->write == NULL)
		return -EBADF;
	if (ufile_vfs(in) == NULL)
		return -EINVAL;
	if (offp != NULL && (error = copyin((void *)a[2], &off, 8)) != 0)
		return -error;
	while ((uint64_t)total < a[3]) {
		ssize_t n = sendfile_read(in, buf, MIN(a[3] - total,
						       sizeof(buf)), offp);

		if (n > 0)
			n = sendfile_write(out, buf, (size_t)n);
		if (n <= 0) {
			if (total == 0 && n < 0)
				return n;
			break;
		}
		total += n;
	}
	if (offp != NULL && (error = copyout(&off, (void *)a[2], 8)) != 0)
		return -error;
	return total;
}
