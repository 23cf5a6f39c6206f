/*
 * sys_pipe.c - pipes, and the calls that copy descriptors: pipe, pipe2,
 * dup, dup2, dup3, fcntl.
 *
 * A pipe is a ring buffer of PIPE_SIZE bytes with two ends, each its own
 * ufile (kern/file.h): the read end and the write end.  Fork and dup
 * share the ends; the pipe counts how many ufiles of each end are open,
 * which is what "the other side went away" means:
 *
 *        write end (writers = 1)          read end (readers = 1)
 *   write() --> [ . . . d a t a . . . ] --> read()
 *                       ^rpos   rpos+len^      (mod PIPE_SIZE)
 *
 *   - read of an empty pipe sleeps while a writer is left; with none it
 *     returns 0 (end of file);
 *   - a write of PIPE_BUF (4096) bytes or fewer is atomic (POSIX
 *     write(2)): it waits until the whole of it fits, then goes in at
 *     once, so two writers' small records never interleave.  A larger
 *     write puts in whatever fits and waits for room for the rest, so
 *     other writers' bytes may come between its pieces;
 *   - with no reader left a write is EPIPE, and SIGPIPE ends the writer
 *     (its default);
 *   - both sleeps are PCATCH: a kill ends them with EINTR.
 *
 * Non-blocking ends (pipe2's O_NONBLOCK, or fcntl F_SETFL later) never
 * sleep: where a read or write would, it returns EAGAIN instead.  So a
 * read of an empty pipe is EAGAIN while a writer is left (0 without
 * one); a small write that does not wholly fit is EAGAIN with nothing
 * written; a large one writes what fits and returns that count, EAGAIN
 * only when not a byte fits.  O_NONBLOCK lives in the ufile's f_flags:
 * it belongs to the open end, shared by dup and fork, as in POSIX.
 *
 * The size of a request reaches the pipe whole: write(2) and writev
 * hand a file their bytes in chunks of a bounce buffer
 * (kern/sys_generic.c), and a pipe takes them through write_chunk, which
 * also names the size of the whole request (a writev's is the total of
 * its iovecs) -- whether it is atomic depends on that, not on the chunk.
 * A request of PIPE_BUF (include/kern/file.h) bytes or fewer comes as
 * one chunk: a small writev's iovecs are gathered into one.
 *
 * Locking: each pipe has a token, held for every look at the ring and the
 * counts.  A sleeper queues itself (tsleep_interlock) under the token,
 * and tsleep lets the token go while it sleeps, so a wakeup between the
 * look and the sleep is never lost.  Every change wakes the pipe.
 *
 * Lifetime: the pipe lives while either end has an open ufile.  Each
 * end's ufile holds the pipe through f_data, and the last close of the
 * second end frees it; a sleeper in read or write holds its ufile, so
 * the pipe cannot go away beneath it.
 *
 * The descriptor calls (dup, dup2, dup3, fcntl) live here because a pipe
 * is what a shell makes them for: pipe, fork, dup2 onto 0 or 1, close.
 * They change only the calling process's table, in its own thread.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/file.h>
#include <kern/kernel.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <kern/signal.h>
#include <kern/synch.h>
#include <kern/syscall.h>
#include <kern/thread.h>
#include <kern/token.h>
#include <fs/vfs.h>

MALLOC_DEFINE(M_PIPE, "pipe", "pipe buffers");

#define PIPE_SIZE	 16384		/* bytes a pipe holds */
/* Linux's values. */
#define S_IFIFO		 0010000
#define LINUX_O_CLOEXEC	 0x80000
#define LINUX_O_NONBLOCK 0x800
#define F_DUPFD		 0
#define F_GETFD		 1
#define F_SETFD		 2
#define F_GETFL		 3
#define F_SETFL		 4
#define F_DUPFD_CLOEXEC	 1030

_Static_assert(PIPE_BUF <= PIPE_SIZE, "an atomic write must fit an empty "
	       "pipe, or its writer would wait for ever");

struct pipe {
	struct lwkt_token pi_token;
	/* pi_token: */
	size_t pi_rpos, pi_len;		/* the bytes held, from pi_rpos;
					 * pi_rpos < PIPE_SIZE, pi_len <= it */
	int pi_readers, pi_writers;	/* open ufiles of each end (0 or 1:
					 * dup and fork share the ufile) */
	char pi_buf[PIPE_SIZE];
};

/* ----------------------------------------------------------------------- */
/* The ring.                                                               */

/* Sleep until the pipe changes.  pi_token held (let go while asleep,
 * held again on return).  Returns 0, or EINTR when a signal is to be
 * delivered (a kill, or a caught one; the signal code decides whether a
 * caught one restarts the call, SA_RESTART). */
static int pipe_wait(struct pipe *pi, const char *wmesg)
{
	tsleep_interlock(pi, 0);
	return tsleep(pi, PINTERLOCKED | PCATCH, wmesg, 0);
}

/* The pipe changed: wake its sleepers, and poll()ers.  Readers and
 * writers sleep on the same channel; each re-checks its condition, so a
 * wakeup meant for the other side costs a look, never a wrong answer. */
static void pipe_wakeup(struct pipe *pi)
{
	wakeup(pi);
	ufile_poll_wakeup();
}

/* Move up to len bytes out of the ring; returns how many (less when the
 * ring holds less).  At most two copies: up to the end of pi_buf, then
 * from its start.  pi_token held. */
static size_t ring_take(struct pipe *pi, char *buf, size_t len)
{
	size_t n = MIN(len, pi->pi_len), done = 0;

	while (done < n) {
		size_t chunk = MIN(n - done, PIPE_SIZE - pi->pi_rpos);

		memcpy(buf + done, pi->pi_buf + pi->pi_rpos, chunk);
		pi->pi_rpos = (pi->pi_rpos + chunk) % PIPE_SIZE;
		pi->pi_len -= chunk;
		done += chunk;
	}
	return n;
}

/* Move up to len bytes into the ring's free room, which starts at
 * pi_rpos + pi_len (mod PIPE_SIZE); returns how many.  pi_token held. */
static size_t ring_put(struct pipe *pi, const char *buf, size_t len)
{
	size_t n = MIN(len, PIPE_SIZE - pi->pi_len), done = 0;

	while (done < n) {
		size_t wpos = (pi->pi_rpos + pi->pi_len) % PIPE_SIZE;
		size_t chunk = MIN(n - done, PIPE_SIZE - wpos);

		memcpy(pi->pi_buf + wpos, buf + done, chunk);
		pi->pi_len += chunk;
		done += chunk;
	}
	return n;
}

/* ----------------------------------------------------------------------- */
/* The two ends.                                                           */

/* Is f's end non-blocking (O_NONBLOCK)?  f_flags may change under us
 * (fcntl in another process sharing the end); one read of it decides. */
static bool pipe_nonblocking(struct ufile *f)
{
	return (__atomic_load_n(&f->f_flags, __ATOMIC_RELAXED) &
		LINUX_O_NONBLOCK) != 0;
}

/* read on the read end: whatever is there, up to len (at least a byte),
 * waiting for one; 0 at the end (no writer left and nothing held);
 * -EINTR; -EAGAIN instead of the wait on a non-blocking end.  A waiting
 * writer is woken, since room was made.  Thread context; blocks unless
 * non-blocking; buf is a kernel buffer. */
static ssize_t pipe_read(struct ufile *f, void *buf, size_t len)
{
	struct pipe *pi = f->f_data;
	ssize_t n;

	KASSERT(len > 0, "pipe_read: an empty read never reaches the file");
	lwkt_gettoken(&pi->pi_token);
	while (pi->pi_len == 0 && pi->pi_writers > 0) {
		int error = pipe_nonblocking(f) ? EAGAIN
						: pipe_wait(pi, "piperd");

		if (error) {
			lwkt_reltoken(&pi->pi_token);
			return -error;
		}
	}
	n = (ssize_t)ring_take(pi, buf, len);
	pipe_wakeup(pi);
	lwkt_reltoken(&pi->pi_token);
	return n;
}

/* Must a writer of want more bytes (atomic: all of them at once) wait,
 * or on a non-blocking end give up?  An atomic write waits for room for
 * the whole of it, any other for a byte of room.  pi_token held. */
static bool pipe_no_room(struct pipe *pi, size_t want, bool atomic)
{
	size_t room = PIPE_SIZE - pi->pi_len;

	return room == 0 || (atomic && room < want);
}

/* Put len bytes of buf in the pipe, all at once when atomic, else as
 * room comes, waiting for it (or, non-blocking, stopping where none is
 * left).  Returns the bytes put, or with none put -EPIPE (and SIGPIPE
 * to the writer) when no reader is left, -EINTR when a signal came
 * first, -EAGAIN on a non-blocking end.  Thread context; blocks unless
 * non-blocking. */
static ssize_t pipe_put(struct ufile *f, const char *buf, size_t len,
			bool atomic)
{
	struct pipe *pi = f->f_data;
	size_t done = 0;
	int error = 0;

	KASSERT(!atomic || len <= PIPE_BUF, "pipe_put: an atomic write of "
		"%zu bytes is more than PIPE_BUF; it could wait for ever",
		len);
	lwkt_gettoken(&pi->pi_token);
	while (done < len && error == 0) {
		if (pi->pi_readers == 0)
			error = EPIPE;
		else if (pipe_no_room(pi, len - done, atomic))
			error = pipe_nonblocking(f) ? EAGAIN
						    : pipe_wait(pi, "pipewr");
		else {
			done += ring_put(pi, buf + done, len - done);
			pipe_wakeup(pi);
		}
	}
	lwkt_reltoken(&pi->pi_token);
	if (error == EPIPE)	/* posted with the pipe let go: proc_kill
				 * takes proc_token and may wake threads */
		proc_kill(curproc->p_pid, SIGPIPE);
	return done > 0 ? (ssize_t)done : -error;
}

/* write on the write end from the kernel (sendfile; tests): one request
 * of len bytes, atomic when len <= PIPE_BUF; returns as pipe_put. */
static ssize_t pipe_write(struct ufile *f, const void *buf, size_t len)
{
	return pipe_put(f, buf, len, len <= PIPE_BUF);
}

/* write(2) and writev on the write end: a chunk of len bytes of a
 * request of request bytes.  A request of PIPE_BUF bytes or fewer is one chunk, put
 * atomically; the chunks of a larger one are put as room comes.
 * Returns as pipe_put; a short count ends the request. */
static ssize_t pipe_write_chunk(struct ufile *f, const void *buf, size_t len,
				size_t request)
{
	KASSERT(len <= request && (request > PIPE_BUF || len == request),
		"pipe_write_chunk: a chunk of %zu bytes of a %zu-byte "
		"request; a request of PIPE_BUF bytes or fewer must come "
		"whole, or it cannot be atomic", len, request);
	return pipe_put(f, buf, len, request <= PIPE_BUF);
}

/* fstat of either end: a FIFO, so that programs can tell a pipe. */
static int pipe_stat(struct ufile *f, struct vattr *va)
{
	memset(va, 0, sizeof(*va));
	va->va_mode = S_IFIFO | 0600;
	va->va_nlink = 1;
	return 0;
}

/* One end's last ufile closed: count it; the last of both frees.  The
 * wakeup tells the other side: a reader then sees the end of file, a
 * writer EPIPE.  The free happens after the token is released (a token
 * must not be freed while held); nobody else can reach the pipe then. */
static void pipe_close_end(struct pipe *pi, int *count)
{
	bool last;

	lwkt_gettoken(&pi->pi_token);
	(*count)--;
	last = pi->pi_readers == 0 && pi->pi_writers == 0;
	pipe_wakeup(pi);
	lwkt_reltoken(&pi->pi_token);
	if (last)
		kfree(pi, M_PIPE);
}

static void pipe_close_read(struct ufile *f)
{
	struct pipe *pi = f->f_data;

	pipe_close_end(pi, &pi->pi_readers);
}

static void pipe_close_write(struct ufile *f)
{
	struct pipe *pi = f->f_data;

	pipe_close_end(pi, &pi->pi_writers);
}

/* poll: the read end is readable when bytes wait or no writer is left
 * (then also POLLHUP); the write end writable while PIPE_BUF bytes fit
 * (so any write of that size or less goes in at once; Linux's rule too),
 * and in error when no reader is left. */
static int pipe_poll_read(struct ufile *f)
{
	struct pipe *pi = f->f_data;
	int ev;

	lwkt_gettoken(&pi->pi_token);
	ev = (pi->pi_len > 0 ? POLLIN | POLLRDNORM : 0) |
	     (pi->pi_writers == 0 ? POLLHUP : 0);
	lwkt_reltoken(&pi->pi_token);
	return ev;
}

static int pipe_poll_write(struct ufile *f)
{
	struct pipe *pi = f->f_data;
	int ev;

	lwkt_gettoken(&pi->pi_token);
	ev = (PIPE_SIZE - pi->pi_len >= PIPE_BUF ? POLLOUT | POLLWRNORM : 0) |
	     (pi->pi_readers == 0 ? POLLERR : 0);
	lwkt_reltoken(&pi->pi_token);
	return ev;
}

static const struct ufileops pipe_read_ops = {
	.name = "pipe (read end)",
	.read = pipe_read,
	.poll = pipe_poll_read,
	.stat = pipe_stat,
	.close = pipe_close_read,
	.nonblock_settable = true,
};

static const struct ufileops pipe_write_ops = {
	.name = "pipe (write end)",
	.write = pipe_write,
	.write_chunk = pipe_write_chunk,
	.poll = pipe_poll_write,
	.stat = pipe_stat,
	.close = pipe_close_write,
	.nonblock_settable = true,
};

/* A new empty pipe: its read end in *rp and write end in *wp, each a
 * ufile with one reference.  Never fails; may block.  Thread context. */
void ufile_pipe(struct ufile **rp, struct ufile **wp)
{
	struct pipe *pi = kmalloc(sizeof(*pi), M_PIPE, M_WAITOK | M_ZERO);

	lwkt_token_init(&pi->pi_token, "pipe");
	pi->pi_readers = 1;
	pi->pi_writers = 1;
	*rp = ufile_alloc(&pipe_read_ops, pi, O_RDONLY);
	*wp = ufile_alloc(&pipe_write_ops, pi, O_WRONLY);
}

/* ----------------------------------------------------------------------- */
/* The system calls.                                                       */

/* pipe2(fds, flags): two new descriptors, fds[0] the read end and fds[1]
 * the write end; 0.  O_CLOEXEC (on both descriptors) and O_NONBLOCK (on
 * both ends) honoured, other flags EINVAL.  EMFILE, EFAULT (the pipe is
 * closed again, so a failed call leaves no descriptor behind). */
int64_t sys_pipe2(struct trapframe *tf, const uint64_t *a)
{
	int flags = (int)a[1], fdflags, fds[2] = { -1, -1 }, error;
	struct ufile *r, *w;

	if (flags & ~(LINUX_O_CLOEXEC | LINUX_O_NONBLOCK))
		return -EINVAL;
	fdflags = (flags & LINUX_O_CLOEXEC) ? FD_CLOEXEC : 0;
	ufile_pipe(&r, &w);
	r->f_flags |= flags & LINUX_O_NONBLOCK;	/* not yet shared */
	w->f_flags |= flags & LINUX_O_NONBLOCK;
	fds[0] = fd_alloc(r, 0, fdflags);
	if (fds[0] >= 0)
		fds[1] = fd_alloc(w, 0, fdflags);
	error = fds[1] < 0 ? EMFILE : copyout(fds, (void *)a[0], sizeof(fds));
	if (error) {			/* undo: nothing is left open */
		if (fds[0] >= 0)
			fd_close(curproc, fds[0]);
		else
			ufile_rele(r);
		if (fds[1] >= 0)
			fd_close(curproc, fds[1]);
		else
			ufile_rele(w);
		return -error;
	}
	return 0;
}

/* pipe(fds): pipe2 with no flags. */
int64_t sys_pipe(struct trapframe *tf, const uint64_t *a)
{
	const uint64_t args[2] = { a[0], 0 };

	return sys_pipe2(tf, args);
}

/* A new descriptor >= minfd for the file behind fd, sharing it (and its
 * offset); the descriptor, or -EBADF, -EINVAL (minfd out of range),
 * -EMFILE.  The calling process's thread. */
static int64_t dup_from(int fd, int minfd, int fdflags)
{
	struct ufile *f = fd_get(fd);
	int nfd;

	if (f == NULL)
		return -EBADF;
	if (minfd < 0 || minfd >= PROC_NFILES)
		return -EINVAL;
	ufile_ref(f);
	nfd = fd_alloc(f, minfd, fdflags);
	if (nfd < 0)
		ufile_rele(f);
	return nfd;
}

/* dup(fd): the lowest free descriptor, for fd's file, FD_CLOEXEC off. */
int64_t sys_dup(struct trapframe *tf, const uint64_t *a)
{
	return dup_from((int)a[0], 0, 0);
}

/* Make newfd refer to oldfd's file, closing what newfd had; newfd, or
 * -EBADF for an oldfd not open or a newfd out of range.  The reference
 * is taken before the close, so the file survives even if newfd held
 * its only other reference.  The close's error is dropped, as Linux's
 * dup2 drops it.  oldfd != newfd. */
static int64_t dup_onto(int oldfd, int newfd, int fdflags)
{
	struct proc *p = curproc;
	struct ufile *f = fd_get(oldfd);

	KASSERT(oldfd != newfd, "dup_onto: fd %d onto itself would close "
		"it; dup2 and dup3 treat that case first", oldfd);
	if (f == NULL || newfd < 0 || newfd >= PROC_NFILES)
		return -EBADF;
	ufile_ref(f);
	fd_close(p, newfd);		/* EBADF when not open: fine */
	p->p_fd[newfd] = f;
	p->p_fdflags[newfd] = (uint8_t)fdflags;
	return newfd;
}

/* dup2(oldfd, newfd): newfd now names oldfd's file, FD_CLOEXEC off.
 * The same descriptor twice is newfd if it is open, else EBADF. */
int64_t sys_dup2(struct trapframe *tf, const uint64_t *a)
{
	int oldfd = (int)a[0], newfd = (int)a[1];

	if (oldfd == newfd)
		return fd_get(oldfd) != NULL ? newfd : -EBADF;
	return dup_onto(oldfd, newfd, 0);
}

/* dup3(oldfd, newfd, flags): dup2 with O_CLOEXEC as its only flag;
 * the same descriptor twice is EINVAL (Linux's rule, unlike dup2). */
int64_t sys_dup3(struct trapframe *tf, const uint64_t *a)
{
	int oldfd = (int)a[0], newfd = (int)a[1], flags = (int)a[2];

	if (oldfd == newfd || (flags & ~LINUX_O_CLOEXEC))
		return -EINVAL;
	return dup_onto(oldfd, newfd,
			(flags & LINUX_O_CLOEXEC) ? FD_CLOEXEC : 0);
}

/* Is f one end of a pipe? */
/* F_SETFL: O_APPEND can change (a VFS file obeys it), and O_NONBLOCK on
 * a kind that obeys it (nonblock_settable: a pipe end, a socket).  For O_APPEND both copies of the flags
 * change: f_flags is what F_GETFL shows, the VFS file's is what
 * vfs_write obeys.  Other bits, and O_NONBLOCK on other kinds, are
 * ignored (Linux ignores the access mode and creation flags too; O_ASYNC
 * and the console's or a file's O_NONBLOCK have no counterpart here).
 * The store is atomic: a reader or writer of the same pipe end in
 * another process reads f_flags without a lock (pipe_nonblocking). */
static int64_t fcntl_setfl(struct ufile *f, int flags)
{
	struct file *vf = ufile_vfs(f);
	int keep = ~(O_APPEND | LINUX_O_NONBLOCK);
	int change = flags & (f->f_ops->nonblock_settable
			      ? O_APPEND | LINUX_O_NONBLOCK : O_APPEND);

	__atomic_store_n(&f->f_flags, (f->f_flags & keep) | change,
			 __ATOMIC_RELAXED);
	if (vf != NULL)
		vf->f_flags = (vf->f_flags & ~O_APPEND) | (flags & O_APPEND);
	return 0;
}

/*
 * fcntl(fd, cmd, arg): F_DUPFD and F_DUPFD_CLOEXEC (the lowest free
 * descriptor >= arg), F_GETFD and F_SETFD (FD_CLOEXEC, per descriptor),
 * F_GETFL and F_SETFL (per open file, shared by dup and fork).  EBADF;
 * EINVAL for any other command (no locks, no owners, no leases).
 */
int64_t sys_fcntl(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;
	int fd = (int)a[0];
	struct ufile *f = fd_get(fd);

	if (f == NULL)
		return -EBADF;
	switch (a[1]) {
	case F_DUPFD:
		return dup_from(fd, (int)a[2], 0);
	case F_DUPFD_CLOEXEC:
		return dup_from(fd, (int)a[2], FD_CLOEXEC);
	case F_GETFD:
		return p->p_fdflags[fd];
	case F_SETFD:
		p->p_fdflags[fd] = (uint8_t)(a[2] & FD_CLOEXEC);
		return 0;
	case F_GETFL:
		return f->f_flags;
	case F_SETFL:
		return fcntl_setfl(f, (int)a[2]);
	default:
		return -EINVAL;
	}
}
