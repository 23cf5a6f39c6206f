/*
 * kern_descrip.c - the things user file descriptors point at: files of
 * the VFS, the console, and in-kernel sinks for tests.
 *
 * A struct ufile is shared by every descriptor that dup or fork made
 * from the same open, so its offset is shared too (POSIX).  It lives
 * while any descriptor references it; the last ufile_rele calls the
 * kind's close.  The descriptor table itself belongs to the process
 * (struct proc's p_fd) and is changed only by the process's own thread,
 * so it needs no lock; a ufile's reference count is atomic because two
 * processes may share one.
 *
 * The console is one ufile for everybody (referenced by each process's
 * descriptors 0, 1 and 2 unless a spawner chose otherwise, and by every
 * open of /dev/console and /dev/tty).  Reading it
 * takes typed bytes from kern/tty.c's input queue, echoing, until a
 * newline (or byte by byte in raw mode).
 *
 *   struct proc                 struct ufile             the kind's data
 *   p_fd[fd] ----------------> f_ops   (vnode_ops)  ---> struct file (VFS)
 *   p_fdflags[fd] FD_CLOEXEC   f_refcnt (atomic)        console: none
 *                              f_flags  (O_*)           sink: struct sink
 *                              f_data, f_path           pipe: sys_pipe.c
 *
 * Invariants:
 *   - f_refcnt counts the descriptor slots (of every process) and the
 *     kernel references (a spawner's, the console's own) that hold the
 *     ufile; it reaches 0 exactly once, and then the ufile is freed.
 *   - p_fd[fd] != NULL holds one of those references; p_fdflags[fd] is
 *     0 whenever p_fd[fd] is NULL.
 *   - f_path is set only for a VFS file, and is the absolute path it
 *     was opened by; the *at() calls and fchdir resolve names by it.
 *   - ufiles_alive counts the ufiles allocated and not yet freed (the
 *     test suites' leak checks); the console's static one is not counted.
 *
 * Context: everything here runs in thread context and may block (the
 * allocations, a VFS close, a console read).  Reference counts may be
 * taken and dropped from any thread; the descriptor table only by its
 * process's own thread (or by the kernel before that thread starts).
 */
#include <kern/types.h>
#include <kern/device.h>
#include <kern/errno.h>
#include <kern/file.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <kern/synch.h>
#include <kern/tty.h>
#include <drivers/uart16550.h>
#include <fs/vfs.h>

MALLOC_DEFINE(M_UFILE, "ufile", "open files of user processes");

static volatile uint64_t ufiles_alive;	/* atomic */

/* A new ufile of kind ops holding data, with one reference (the
 * caller's) and no path.  Never fails; may block.  Thread context. */
struct ufile *ufile_alloc(const struct ufileops *ops, void *data, int flags)
{
	struct ufile *f = kmalloc(sizeof(*f), M_UFILE, M_WAITOK | M_ZERO);

	f->f_ops = ops;
	f->f_data = data;
	f->f_flags = flags;
	f->f_refcnt = 1;
	__atomic_add_fetch(&ufiles_alive, 1, __ATOMIC_RELAXED);
	return f;
}

/* Another reference to f, which must already have one (a ufile is
 * never revived after its last release).  Any thread; never blocks. */
void ufile_ref(struct ufile *f)
{
	int was = __atomic_fetch_add(&f->f_refcnt, 1, __ATOMIC_RELAXED);

	KASSERT(was > 0, "ufile_ref: %s file %p has no references left; a "
		"descriptor was used after its last close", f->f_ops->name, f);
}

/* Drop a reference; the last one calls the kind's close and frees f.
 * Thread context: a close may block (a VFS file's last vnode release
 * may call into the filesystem). */
void ufile_rele(struct ufile *f)
{
	/* Release so that our last writes to the file come before the
	 * free; acquire so that the last releaser sees everyone else's. */
	int left = __atomic_sub_fetch(&f->f_refcnt, 1, __ATOMIC_ACQ_REL);

	KASSERT(left >= 0, "ufile_rele: %s file %p released twice",
		f->f_ops->name, f);
	if (left > 0)
		return;
	if (f->f_ops->close != NULL)
		f->f_ops->close(f);
	if (f->f_path != NULL)
		kfree(f->f_path, M_UFILE);
	__atomic_sub_fetch(&ufiles_alive, 1, __ATOMIC_RELAXED);
	kfree(f, M_UFILE);
}

/* The ufiles alive now: a leak check compares it before and after. */
uint64_t ufile_count(void)
{
	return __atomic_load_n(&ufiles_alive, __ATOMIC_RELAXED);
}

/* ----------------------------------------------------------------------- */
/* Files of the VFS.                                                       */
/* f_data is the VFS's struct file, which holds the vnode reference and  */
/* the offset; these ops only adapt the calling convention (a count or a */
/* negative errno) to the VFS's (an errno and a count).                  */

static ssize_t vnode_read(struct ufile *f, void *buf, size_t len)
{
	size_t done = 0;
	int error = vfs_read(f->f_data, buf, len, &done);

	return error ? -error : (ssize_t)done;
}

static ssize_t vnode_write(struct ufile *f, const void *buf, size_t len)
{
	size_t done = 0;
	int error = vfs_write(f->f_data, buf, len, &done);

	return error ? -error : (ssize_t)done;
}

static int vnode_stat(struct ufile *f, struct vattr *va)
{
	return vfs_fstat(f->f_data, va);
}

static void vnode_close(struct ufile *f)
{
	vfs_close(f->f_data);
}

static const struct ufileops vnode_ops = {
	.name = "vnode",
	.read = vnode_read,
	.write = vnode_write,
	.stat = vnode_stat,
	.close = vnode_close,
};

/* A terminal device (/dev/console, /dev/tty: D_TTY) is the console's
 * one file, so its termios, poll and job control are the console's. */
static bool vnode_is_tty(struct file *vf)
{
	return vf->f_vp->v_type == VCHR &&
	       (devfs_vnode_dev(vf->f_vp)->si_devsw->d_flags & D_TTY);
}

/*
 * Open path (absolute) through the VFS with open(2)'s flags and mode: 0
 * and a new ufile with one reference in *fp, or the VFS's errno.  A
 * terminal device gives the console's one ufile instead, referenced.
 * The ufile keeps a copy of path for the *at() calls.  Thread context;
 * blocks.
 */
int ufile_open_vnode(const char *path, int flags, uint32_t mode,
		     struct ufile **fp)
{
	struct file *vf;
	int error = vfs_open(path, flags, mode, &vf);
	size_t n = strlen(path) + 1;

	KASSERT(path[0] == '/', "ufile_open_vnode: \"%s\" is relative; "
		"system calls make every path absolute first", path);
	if (error)
		return error;
	if (vnode_is_tty(vf)) {
		vfs_close(vf);
		*fp = ufile_console();
		return 0;
	}
	*fp = ufile_alloc(&vnode_ops, vf, flags);
	(*fp)->f_path = kmalloc(n, M_UFILE, M_WAITOK);
	memcpy((*fp)->f_path, path, n);
	return 0;
}

/* The VFS file under f, or NULL when f is no VFS file (a pipe, the
 * console, a sink): what lseek and pread ask before using an offset. */
struct file *ufile_vfs(struct ufile *f)
{
	return f->f_ops == &vnode_ops ? f->f_data : NULL;
}

/* ----------------------------------------------------------------------- */
/* The descriptor table.                                                   */
/* PROC_NFILES slots in struct proc; POSIX wants the lowest free one.    */

/* Put f (the caller's reference) in the lowest free slot >= minfd of
 * the calling process: the descriptor, or -EMFILE with f untouched.
 * The process's own thread; never blocks. */
int fd_alloc(struct ufile *f, int minfd, int fdflags)
{
	struct proc *p = curproc;

	KASSERT(p != NULL, "fd_alloc outside a process");
	for (int fd = MAX(minfd, 0); fd < PROC_NFILES; fd++) {
		if (p->p_fd[fd] == NULL) {
			p->p_fd[fd] = f;
			p->p_fdflags[fd] = (uint8_t)fdflags;
			return fd;
		}
	}
	return -EMFILE;
}

/* Close descriptor fd of p: 0, or EBADF when it is not open.  p's own
 * thread (its exit included); may block in the kind's close. */
int fd_close(struct proc *p, int fd)
{
	if (fd < 0 || fd >= PROC_NFILES || p->p_fd[fd] == NULL)
		return EBADF;
	ufile_rele(p->p_fd[fd]);
	p->p_fd[fd] = NULL;
	p->p_fdflags[fd] = 0;
	return 0;
}

/* execve's step: close every descriptor marked FD_CLOEXEC. */
void fd_close_on_exec(struct proc *p)
{
	for (int fd = 0; fd < PROC_NFILES; fd++)
		if (p->p_fdflags[fd] & FD_CLOEXEC)
			fd_close(p, fd);
}

/* ----------------------------------------------------------------------- */
/* The console.                                                            */
/* kern/tty.c owns the terminal state (termios, the foreground group, the */
/* input queue it fills from the UART); this file only reads and writes   */
/* through it, in the reading process's thread.                           */

/* A typed byte as read: CR becomes NL under ICRNL. */
static int console_cook(int c)
{
	return c == '\r' && tty_icrnl() ? '\n' : c;
}

/* The next typed byte if one has come (kern/tty.c's queue), else -1.
 * Never blocks. */
static int console_trygetc(void)
{
	int c = tty_getc();

	return c < 0 ? -1 : console_cook(c);
}

/* One byte, waiting (a tick at a time) until one comes; -EINTR if a
 * signal comes first.  A retry each tick rather than a sleep until a
 * wakeup: tty_getc itself polls the UART for new bytes, so somebody must
 * keep asking, and a tick's delay is nothing to a typist. */
static int console_getc(void)
{
	int c;

	while ((c = console_trygetc()) < 0)
		if (tsleep(&console_getc, PCATCH, "ttyin", 1) == EINTR)
			return -EINTR;
	return c;
}

/* poll: writable always; readable once a byte has come. */
static int console_poll(struct ufile *f)
{
	return POLLOUT | POLLWRNORM |
	       (tty_input_ready() ? POLLIN | POLLRDNORM : 0);
}

/* Canonical mode: up to a newline (included), with erase; the end-of-file
 * character at a line start reads as the end.  The line is gathered in
 * the caller's kernel buffer, so an erase cannot reach back into bytes
 * an earlier read already returned.  A signal after some bytes returns
 * them; before any, -EINTR. */
static ssize_t console_read_line(char *p, size_t len)
{
	bool echo = tty_echo();
	int erase = tty_erase_char(), eof = tty_eof_char();
	size_t n = 0;

	while (n < len) {
		int c = console_getc();

		if (c < 0)
			return n > 0 ? (ssize_t)n : c;
		if (c == erase || c == '\b') {
			if (n > 0 && echo)	/* back, blank it, back */
				kprintf("\b \b");
			n -= n > 0;
			continue;
		}
		if (c == eof)		/* not stored: ^D ends the read */
			break;
		if (echo)
			kprintf("%c", c);
		p[n++] = (char)c;
		if (c == '\n')
			break;
	}
	return (ssize_t)n;
}

/* Raw mode (ICANON off): the bytes that came, at least one: waits for
 * the first, then takes only what is already queued (as VMIN 1 and
 * VTIME 0 would; other VMIN and VTIME values are not honoured). */
static ssize_t console_read_raw(char *p, size_t len)
{
	bool echo = tty_echo();
	size_t n = 0;

	while (n < len) {
		int c = n == 0 ? console_getc() : console_trygetc();

		if (c < 0)
			return n > 0 ? (ssize_t)n : c == -EINTR ? c : 0;
		if (echo)
			kprintf("%c", c);
		p[n++] = (char)c;
	}
	return (ssize_t)n;
}

/* What the terminal settings (kern/tty.c) say: a line or the bytes. */
static ssize_t console_read(struct ufile *f, void *buf, size_t len)
{
	int error = tty_read_check();	/* a background reader: SIGTTIN */

	if (error)
		return error;
	return tty_canonical() ? console_read_line(buf, len)
			       : console_read_raw(buf, len);
}

/* Every byte goes to the console at once; a background writer with
 * TOSTOP set stops first (or gets EIO), as kern/tty.c decides. */
static ssize_t console_write(struct ufile *f, const void *buf, size_t len)
{
	int error = tty_write_check();	/* TOSTOP: SIGTTOU */

	if (error)
		return error;
	kprintf("%.*s", (int)len, (const char *)buf);
	return (ssize_t)len;
}

/* fstat of the console (and of a sink): a character device, as a
 * terminal is; no size, no times. */
static int console_stat(struct ufile *f, struct vattr *va)
{
	memset(va, 0, sizeof(*va));
	va->va_mode = 0020620;		/* a character device, rw--w---- */
	return 0;
}

/* The termios requests (kern/tty.c); arg is a user pointer. */
static int console_ioctl(struct ufile *f, unsigned long cmd, uint64_t arg)
{
	return tty_ioctl(cmd, arg);
}

static const struct ufileops console_ops = {
	.name = "console",
	.read = console_read,
	.write = console_write,
	.stat = console_stat,
	.ioctl = console_ioctl,
	.poll = console_poll,
};

/* Never closed: one reference stays with the kernel for good. */
static struct ufile console_file = {
	.f_ops = &console_ops, .f_refcnt = 1, .f_flags = O_RDWR,
};

/* The console's ufile with a new reference, for descriptors 0 to 2 and
 * for opens of a terminal device.  Any thread; never blocks. */
struct ufile *ufile_console(void)
{
	ufile_ref(&console_file);
	return &console_file;
}

/* The console's ufile without a reference: only to compare against. */
struct ufile *ufile_console_peek(void)
{
	return &console_file;
}

/* ----------------------------------------------------------------------- */
/* Sinks: what a test's program printed.                                   */
/* A test gives a program a sink as stdout, runs it, and compares what  */
/* the sink holds.  Not locked: a sink is meant for one writer at a time */
/* (processes that share one should not write at once).                  */

struct sink {
	size_t len, cap;		/* bytes held, at most cap */
	char buf[];			/* cap + 1 bytes: always NUL-terminated */
};

static ssize_t sink_write(struct ufile *f, const void *buf, size_t len)
{
	struct sink *s = f->f_data;
	size_t n = MIN(len, s->cap - s->len);

	memcpy(s->buf + s->len, buf, n);
	s->len += n;
	s->buf[s->len] = '\0';
	return (ssize_t)len;		/* the rest is dropped, not an error */
}

static ssize_t sink_read(struct ufile *f, void *buf, size_t len)
{
	return 0;			/* always at end of file */
}

static void sink_close(struct ufile *f)
{
	kfree(f->f_data, M_UFILE);
}

static const struct ufileops sink_ops = {
	.name = "sink",
	.read = sink_read,
	.write = sink_write,
	.stat = console_stat,
	.close = sink_close,
};

/* A new sink keeping the first cap bytes written to it, with one
 * reference.  Thread context; may block. */
struct ufile *ufile_sink(size_t cap)
{
	struct sink *s = kmalloc(sizeof(*s) + cap + 1, M_UFILE,
				 M_WAITOK | M_ZERO);

	s->cap = cap;
	return ufile_alloc(&sink_ops, s, O_RDWR);
}

/* What sink f holds, NUL-terminated, valid until its last release;
 * its length in *len when len is not NULL. */
const char *ufile_sink_data(struct ufile *f, size_t *len)
{
	struct sink *s = f->f_data;

	KASSERT(f->f_ops == &sink_ops, "ufile_sink_data: a %s file is not "
		"a sink", f->f_ops->name);
	if (len != NULL)
		*len = s->len;
	return s->buf;
}
