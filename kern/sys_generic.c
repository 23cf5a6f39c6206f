/*
 * sys_generic.c - reading and writing descriptors: read, write, readv,
 * writev, close, ioctl, sendfile.
 *
 * User buffers never reach a file's operations: each call moves the data
 * through a kernel bounce buffer, a chunk at a time, with copyin or
 * copyout.  So a bad pointer is EFAULT at the copy (after whatever was
 * already moved, as Linux does), and the file code only ever sees kernel
 * memory.
 *
 * readv and writev first copy in the whole iovec array and check it
 * once: more than IOV_MAX iovecs, or lengths whose sum would not fit the
 * ssize_t the call returns, are EINVAL before a byte moves (POSIX).  The
 * kernel then works from its own copy, so another process changing the
 * array through shared memory cannot make it move more than was checked.
 *
 * A writev is one request of its total, as POSIX says, and that matters
 * for a pipe, where a request of PIPE_BUF bytes or fewer is atomic.  For
 * a kind with write_chunk (a pipe's write end), a writev whose total is
 * PIPE_BUF or less is gathered into one bounce buffer -- every iovec
 * copied in first, so a bad one is EFAULT with nothing written -- and
 * handed over as one chunk.  A larger one goes iovec by iovec, each
 * chunk naming the whole total as its request, so a pipe puts it in as
 * room comes, like a large write(2):
 *
 *   writev(pipe, { hdr 16, body 968, trl 16 }, 3)     total 1000
 *        copyin x3 --> [ hdr | body | trl ]  --> write_chunk(1000, 1000)
 *                                                 (all at once, or wait)
 *   writev(pipe, { a 16, b 8160, c 16 }, 3)           total 8192
 *        a --> write_chunk(16, 8192), b --> 4096, 4064, c --> 16
 *                                                 (each as room comes)
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/file.h>
#include <kern/kernel.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <kern/syscall.h>
#include <fs/vfs.h>

#define IO_CHUNK   4096		/* bytes per bounce: at least PIPE_BUF,
				 * so that a pipe's atomic write comes
				 * whole (ufileops.write_chunk) */
#define IOV_MAX	   1024		/* iovecs per call (Linux's UIO_MAXIOV) */
#define IOV_FAST   8		/* iovecs kept on the stack; more are
				 * kmalloc'd (musl's stdio passes 2) */
#define SSIZE_MAX  ((size_t)INT64_MAX)

_Static_assert(IO_CHUNK >= PIPE_BUF, "write(2) of PIPE_BUF bytes must reach "
	       "write_chunk as one chunk, or a pipe cannot make it atomic");

/* One iovec, as Linux's struct iovec lays it out (16 bytes). */
struct uiovec {
	uint64_t iov_base;	/* a user address */
	uint64_t iov_len;
};

/* A readv's or writev's iovecs, copied in and checked (iovs_copyin). */
struct iovs {
	struct uiovec *iov;	/* fast[], or kmalloc'd for many */
	uint64_t cnt;
	size_t total;		/* the sum of the lengths, <= SSIZE_MAX */
	struct uiovec fast[IOV_FAST];
};

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

/* Write len bytes from user memory at ubuf to f, part of one request
 * of request bytes (len for write(2); a writev's total): a kind with
 * write_chunk learns the request's size with every chunk.  Returns the
 * bytes written, or with none -EBADF (a kind that cannot write), -EFAULT
 * or the file's error.  Thread context; may block. */
static int64_t write_from_user(struct ufile *f, const char *ubuf, size_t len,
			       size_t request)
{
	char buf[IO_CHUNK];
	size_t done = 0;

	KASSERT(len <= request, "write_from_user: %zu bytes of a request of "
		"%zu; the request is the whole of what the call writes",
		len, request);
	if (f->f_ops->write == NULL)
		return -EBADF;
	while (done < len) {
		size_t chunk = MIN(len - done, sizeof(buf));
		int error = copyin(ubuf + done, buf, chunk);
		ssize_t n;

		if (error)
			return done > 0 ? (int64_t)done : -error;
		n = f->f_ops->write_chunk != NULL
			    ? f->f_ops->write_chunk(f, buf, chunk, request)
			    : f->f_ops->write(f, buf, chunk);
		if (n < 0)
			return done > 0 ? (int64_t)done : n;
		done += (size_t)n;
		if ((size_t)n < chunk)
			break;
	}
	return (int64_t)done;
}

/* May f be read (not opened O_WRONLY)?  May it be written? */
static bool readable(struct ufile *f)
{
	return (f->f_flags & O_ACCMODE) != O_WRONLY;
}

static bool writable(struct ufile *f)
{
	return (f->f_flags & O_ACCMODE) != O_RDONLY;
}

/* read(fd, buf, count) and write(fd, buf, count): the bytes moved, or
 * -EBADF (no such descriptor, or not open for it), -EFAULT, the file's
 * error.  Thread context (the caller's); may block. */
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
	return write_from_user(f, (const char *)a[1], a[2], a[2]);
}

/* Copy in the cnt iovecs at uiov and check them: 0, or EINVAL (more
 * than IOV_MAX, or lengths that add up past SSIZE_MAX), EFAULT (the
 * array).  On success the caller calls iovs_release; on failure nothing
 * is held.  Thread context; may block (kmalloc, a page fault). */
static int iovs_copyin(struct iovs *v, const void *uiov, uint64_t cnt)
{
	int error;

	if (cnt > IOV_MAX)	/* a negative int iovcnt lands here too */
		return EINVAL;
	v->cnt = cnt;
	v->total = 0;
	v->iov = cnt <= IOV_FAST ? v->fast
				 : kmalloc(cnt * sizeof(*v->iov), M_TEMP,
					   M_WAITOK);
	error = copyin(uiov, v->iov, cnt * sizeof(*v->iov));
	for (uint64_t i = 0; i < cnt && error == 0; i++) {
		if (v->iov[i].iov_len > SSIZE_MAX - v->total)
			error = EINVAL;	/* the count could not be returned */
		else
			v->total += v->iov[i].iov_len;
	}
	if (error && v->iov != v->fast)
		kfree(v->iov, M_TEMP);
	return error;
}

/* Let go of what iovs_copyin took. */
static void iovs_release(struct iovs *v)
{
	if (v->iov != v->fast)
		kfree(v->iov, M_TEMP);
}

/* A writev of PIPE_BUF bytes or fewer to a kind with write_chunk: every
 * iovec copied into one buffer, then one chunk that is the whole
 * request, so a pipe puts it in atomically.  Returns as write_chunk, or
 * -EFAULT with nothing written when an iovec cannot be read.  Thread
 * context; may block. */
static int64_t writev_gathered(struct ufile *f, const struct iovs *v)
{
	char buf[PIPE_BUF];
	size_t off = 0;

	KASSERT(f->f_ops->write_chunk != NULL && v->total <= sizeof(buf),
		"writev_gathered: %zu bytes to a %s; only a write_chunk kind's "
		"writev of PIPE_BUF bytes or fewer is gathered", v->total,
		f->f_ops->name);
	if (v->total == 0)
		return 0;
	for (uint64_t i = 0; i < v->cnt; i++) {
		int error = copyin((const void *)v->iov[i].iov_base, buf + off,
				   v->iov[i].iov_len);

		if (error)
			return -error;
		off += v->iov[i].iov_len;
	}
	return f->f_ops->write_chunk(f, buf, v->total, v->total);
}

/* readv, and a writev not gathered: each iovec in turn, stopping at a
 * short transfer; a write's chunks all name the total as their request.
 * Returns the bytes moved, or with none the first error.  Thread
 * context; may block. */
static int64_t iovs_piecemeal(struct ufile *f, const struct iovs *v,
			      bool write)
{
	int64_t total = 0;

	for (uint64_t i = 0; i < v->cnt; i++) {
		char *base = (char *)v->iov[i].iov_base;
		size_t len = v->iov[i].iov_len;
		int64_t n = write ? write_from_user(f, base, len, v->total)
				  : read_to_user(f, base, len);

		if (n < 0)
			return total > 0 ? total : n;
		total += n;
		if ((uint64_t)n < len)
			break;
	}
	return total;
}

/* readv/writev of the cnt iovecs at uiov: the bytes moved, or -EINVAL,
 * -EFAULT (iovs_copyin), or the transfer's error.  Thread context; may
 * block. */
static int64_t do_iov(struct ufile *f, const void *uiov, uint64_t cnt,
		      bool write)
{
	struct iovs v;
	int64_t n;
	int error = iovs_copyin(&v, uiov, cnt);

	if (error)
		return -error;
	if (write && f->f_ops->write_chunk != NULL && v.total <= PIPE_BUF)
		n = writev_gathered(f, &v);
	else
		n = iovs_piecemeal(f, &v, write);
	iovs_release(&v);
	return n;
}

/* readv(fd, iov, iovcnt) and writev(fd, iov, iovcnt): as read and
 * write, for the iovecs' total (do_iov); -EBADF is checked first, then
 * iovcnt and the lengths (-EINVAL) before a byte moves.  A NULL iov with
 * iovcnt 0 is 0.  Thread context; may block. */
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
