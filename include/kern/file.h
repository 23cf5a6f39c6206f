/*
 * kern/file.h - what a user file descriptor points at (kern/kern_descrip.c).
 *
 * A descriptor is an index into the process's p_fd table; the slot holds
 * a referenced struct ufile, which several descriptors (dup) and several
 * processes (fork) may share -- together with its offset, as POSIX says.
 * A ufile is one of a few kinds, each a table of operations:
 *
 *   vnode    a file or directory opened through the VFS (struct file)
 *   console  the serial console: reads a line, writes bytes
 *   sink     a growing buffer in the kernel, for tests that read what a
 *            program printed
 *
 *   p_fd[0] --\
 *   p_fd[1] ---+--> ufile (console, refs 3)
 *   p_fd[2] --/
 *   p_fd[3] ----> ufile (vnode, offset 120) ---> struct file ---> vnode
 */
#ifndef KERN_FILE_H
#define KERN_FILE_H

#include <kern/types.h>

struct ufile;
struct vattr;
struct proc;

/* Operations of one kind of file.  buf is a kernel buffer; each returns
 * bytes moved (>= 0) or a negative kernel errno.  May block. */
struct ufileops {
	const char *name;
	ssize_t (*read)(struct ufile *f, void *buf, size_t len);
	ssize_t (*write)(struct ufile *f, const void *buf, size_t len);
	/* Optional, for write(2) and writev in place of write: one chunk
	 * of len bytes of a request of request bytes (a write's length, a
	 * writev's total), the chunks in order, a request of up to
	 * PIPE_BUF bytes in one chunk (a writev's iovecs gathered).  For a
	 * kind whose answer depends on the request's size (a pipe's
	 * atomic writes); a short count ends the request. */
	ssize_t (*write_chunk)(struct ufile *f, const void *buf, size_t len,
			       size_t request);
	int (*stat)(struct ufile *f, struct vattr *va);
	int (*ioctl)(struct ufile *f, unsigned long cmd, uint64_t arg);
	void (*close)(struct ufile *f);	/* the last reference went */
	/* Which of POLLIN, POLLOUT, POLLHUP, POLLERR (and the RDNORM/WRNORM
	 * twins) hold now; never blocks.  NULL: always readable and
	 * writable (a file on disk). */
	int (*poll)(struct ufile *f);
	/* The kind obeys O_NONBLOCK in f_flags, so fcntl F_SETFL may
	 * change it (pipes, sockets); elsewhere F_SETFL leaves it be. */
	bool nonblock_settable;
};

/* A write(2) or writev of this many bytes or fewer is one write_chunk
 * call, so a pipe can make it atomic (POSIX's PIPE_BUF; Linux's value). */
#define PIPE_BUF   4096

/* poll(2) event bits (Linux values). */
#define POLLIN	   0x0001
#define POLLPRI	   0x0002
#define POLLOUT	   0x0004
#define POLLERR	   0x0008
#define POLLHUP	   0x0010
#define POLLNVAL   0x0020
#define POLLRDNORM 0x0040
#define POLLWRNORM 0x0100

/* A file changed in a way a poll() may wait for (kern/sys_poll.c): wake
 * the waiting pollers.  Any thread; cheap when nobody polls. */
void ufile_poll_wakeup(void);

struct ufile {
	const struct ufileops *f_ops;
	volatile int f_refcnt;		/* atomic */
	int f_flags;			/* O_* it was opened with */
	void *f_data;			/* the kind's own */
	char *f_path;			/* vnode: the absolute path it was
					 * opened by (openat's dirfd), or NULL */
};

#define FD_CLOEXEC	1		/* p_fdflags: closed by execve */

/* A new file of a kind, with one reference.  Thread context. */
struct ufile *ufile_alloc(const struct ufileops *ops, void *data, int flags);
void ufile_ref(struct ufile *f);
/* Drop a reference; the last calls its close.  Thread context. */
void ufile_rele(struct ufile *f);

/* The console, referenced (one shared ufile). */
struct ufile *ufile_console(void);

/* The console's ufile, not referenced (to compare against). */
struct ufile *ufile_console_peek(void);

/* The file behind descriptor fd of the calling process, or NULL.  Not
 * referenced: valid until the process changes that descriptor. */
struct ufile *fd_get(int fd);

/* Open path through the VFS as a ufile: 0 and *fp, or a kernel errno. */
int ufile_open_vnode(const char *path, int flags, uint32_t mode,
		     struct ufile **fp);
/* The VFS file under a vnode ufile, or NULL for other kinds. */
struct file *ufile_vfs(struct ufile *f);

/* A sink keeping up to cap bytes of what is written to it (tests). */
struct ufile *ufile_sink(size_t cap);
/* What a sink holds, NUL-terminated, and its length. */
const char *ufile_sink_data(struct ufile *f, size_t *len);

/* The lowest free descriptor >= minfd of the calling process, now
 * holding f (the caller's reference moves to it) with fdflags; or
 * -EMFILE (f untouched).  The process's own thread. */
int fd_alloc(struct ufile *f, int minfd, int fdflags);

/* Close descriptor fd of p (0, or EBADF when it is not open), and every
 * FD_CLOEXEC descriptor (execve).  p's own thread. */
int fd_close(struct proc *p, int fd);
void fd_close_on_exec(struct proc *p);

/* A pipe: *rp reads what *wp writes (kern/sys_pipe.c).  Thread
 * context. */
void ufile_pipe(struct ufile **rp, struct ufile **wp);

/* Live ufiles (leak checks). */
uint64_t ufile_count(void);

#endif /* KERN_FILE_H */
