/*
 * sys_socket.c - the Linux socket system calls, for AF_INET stream (TCP)
 * and datagram (UDP) sockets, on the kernel sockets of net/socket.h.
 *
 * A socket descriptor is a ufile (kern/file.h) whose f_data is a struct
 * usock: the kernel socket and the options only user mode has.  Fork and
 * dup share the ufile; the last close of it closes the socket
 * (so_close: TCP then ends the connection gracefully, or resets it when
 * unread bytes are left).  read, write and poll reach the socket through
 * the ufile's operations, the socket calls through the descriptor:
 *
 *   fd --> ufile (sock_ops, O_NONBLOCK?) --> usock --> struct socket
 *                                             |         (its netisr)
 *                                             +- SO_RCVTIMEO, SO_SNDTIMEO,
 *                                                SO_REUSEADDR, TCP_NODELAY
 *
 * Addresses cross the boundary as Linux's struct sockaddr_in, 16 bytes,
 * the port and address in network order as the kernel keeps them:
 *
 *    0      2      4              8                             16
 *   +------+------+--------------+------------------------------+
 *   |family| port |  IPv4 addr   |     zero (8 bytes, unused)   |
 *   | u16  | be16 |    be32      |                              |
 *   +------+------+--------------+------------------------------+
 *
 * Waiting, and signals.  A kernel socket call that must wait is parked
 * on its netisr and its caller sleeps in lwkt_domsg, which no signal
 * ends.  So a blocking accept, recv or send here waits in slices: the
 * kernel socket's own deadlines (so_rcvtimeo, so_sndtimeo) are SLICE
 * ticks, a slice that ends empty-handed comes back EAGAIN, and between
 * slices the call looks for a signal (EINTR; kern_sig.c restarts the
 * call if the handler asked for SA_RESTART) and for the user's own
 * SO_RCVTIMEO or SO_SNDTIMEO (EAGAIN).  Data that arrives mid-slice
 * replies the parked call at once, so a slice costs latency only to a
 * signal: it is seen within SLICE ticks.  A blocking connect starts the
 * handshake without blocking and then polls the socket once a tick
 * (PCATCH), so a signal ends it at once with EINTR while the handshake
 * goes on, as on Linux.
 *
 * A non-blocking descriptor (SOCK_NONBLOCK; accept4's flag) has a
 * non-blocking kernel socket: EAGAIN instead of a wait, EINPROGRESS for
 * connect (its result then in SO_ERROR once poll says POLLOUT).
 *
 * Poll asks the socket's netisr (so_poll).  Sockets do not call
 * ufile_poll_wakeup, so a poll sees a socket change within a tick (the
 * poller's sleep is one tick at most).
 *
 * Errors are Linux's (socket(2), bind(2), connect(2), accept(2), ...):
 * EBADF for a descriptor not open, ENOTSOCK for one that is not a socket,
 * EAFNOSUPPORT for a family other than AF_INET, EINVAL for a bad type,
 * flag or address length, ESOCKTNOSUPPORT for a type other than stream
 * and datagram, EPROTONOSUPPORT for a protocol not the type's own, EFAULT for memory the process cannot reach.  A write or
 * send on a connection that can send no more is EPIPE and SIGPIPE (not
 * with MSG_NOSIGNAL).
 */
#include <kern/types.h>
#include <kern/clock.h>
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
#include <fs/vfs.h>
#include <net/netisr.h>
#include <net/socket.h>
#include <net/tcp_var.h>

MALLOC_DEFINE(M_USOCK, "usock", "user sockets and their bounce buffers");

/* Linux's values (the C library's headers say the same): the family,
 * the type word's flags, the protocols, the message flags, the option
 * levels and names this file knows. */
#define AF_INET		 2
#define L_SOCK_TYPE_MASK 0xf
#define L_SOCK_MAX	 10		/* the highest type Linux knows */
#define L_SOCK_NONBLOCK	 0x800		/* = O_NONBLOCK */
#define L_SOCK_CLOEXEC	 0x80000	/* = O_CLOEXEC */
#define IPPROTO_TCP	 6
#define IPPROTO_UDP	 17
#define L_MSG_DONTWAIT	 0x40
#define L_MSG_NOSIGNAL	 0x4000
#define L_MSG_MORE	 0x8000
#define SOL_SOCKET	 1
#define L_SO_REUSEADDR	 2
#define L_SO_TYPE	 3
#define L_SO_ERROR	 4
#define L_SO_RCVTIMEO	 20
#define L_SO_SNDTIMEO	 21
#define L_TCP_NODELAY	 1
#define S_IFSOCK	 0140000
#define SOCKADDR_MAX	 128		/* sizeof(struct sockaddr_storage) */

#define SLICE		 (HZ / 20)	/* ticks a blocking call waits
					 * before it looks for a signal */
#define BOUNCE_MAX	 65536		/* bytes a sendto/recvfrom copies at
					 * once (a datagram's most) */

struct l_sockaddr_in {			/* Linux's struct sockaddr_in */
	uint16_t sin_family;
	uint16_t sin_port;		/* network order */
	uint32_t sin_addr;		/* network order */
	uint8_t sin_zero[8];
};
_Static_assert(sizeof(struct l_sockaddr_in) == 16, "sockaddr_in is 16 "
	       "bytes on Linux");

struct l_timeval {			/* SO_RCVTIMEO's, SO_SNDTIMEO's value */
	int64_t tv_sec, tv_usec;	/* usec below 1000000 */
};

/* A socket descriptor's own (f_data): one per ufile, so dup and fork
 * share it with the socket.  Freed by the ufile's last close.  The
 * options are set by the calling process's thread; a racing setsockopt
 * in another process sharing the socket may win either way, as on
 * Linux.  The ticks are HZ's (100 a second).
 */
struct usock {
	struct socket *us_so;		/* ours; so_close'd with the ufile */
	int us_type;			/* SOCK_STREAM, SOCK_DGRAM */
	int us_rcvtimeo, us_sndtimeo;	/* ticks; 0: wait for ever */
	int us_reuseaddr, us_nodelay;	/* as set (getsockopt shows them) */
};

static const struct ufileops sock_ops;

/* ----------------------------------------------------------------------- */
/* Waiting.                                                                */

/* Is f non-blocking?  One read of f_flags decides. */
static bool us_nonblocking(struct ufile *f)
{
	return (__atomic_load_n(&f->f_flags, __ATOMIC_RELAXED) &
		L_SOCK_NONBLOCK) != 0;
}

/* A deadline timeo ticks from now (0: none). */
static uint64_t us_deadline(int timeo)
{
	return timeo > 0 ? ticks + (uint64_t)timeo : 0;
}

/* A slice ended empty-handed: 0 to wait another, EINTR for a signal to
 * deliver, EAGAIN when the user's deadline passed. */
static int us_keep_waiting(uint64_t deadline)
{
	if (lwkt_signal_pending())
		return EINTR;
	if (deadline != 0 && ticks >= deadline)
		return EAGAIN;
	return 0;
}

/* ----------------------------------------------------------------------- */
/* Sending and receiving (kernel buffers).                                 */

/* Receive up to len bytes into buf, waiting in slices unless f is
 * non-blocking; the sender in *addr and *port (UDP).  0 and *done (0 at
 * end of stream), or an errno.  Thread context. */
static int us_recv(struct ufile *f, void *buf, size_t len, bool dontwait,
		   uint32_t *addr, uint16_t *port, size_t *done)
{
	struct usock *us = f->f_data;
	bool nonblock = dontwait || us_nonblocking(f);
	uint64_t deadline = us_deadline(us->us_rcvtimeo);
	int error;

	for (;;) {
		error = so_recvfrom(us->us_so, buf, len,
				    nonblock ? MSG_DONTWAIT : 0, addr, port,
				    done);
		if (error != EAGAIN || nonblock)
			return error;
		if ((error = us_keep_waiting(deadline)) != 0)
			return error;
	}
}

/* Send len bytes of buf (to addr:port, or 0:0 for the connected peer),
 * waiting in slices for room unless non-blocking.  The bytes sent, or
 * with none a negative errno; EPIPE posts SIGPIPE unless nosignal.
 * Thread context. */
static ssize_t us_send(struct ufile *f, const void *buf, size_t len,
		       int lflags, uint32_t addr, uint16_t port)
{
	struct usock *us = f->f_data;
	bool nonblock = (lflags & L_MSG_DONTWAIT) || us_nonblocking(f);
	uint64_t deadline = us_deadline(us->us_sndtimeo);
	size_t done = 0;
	int error;

	for (;;) {
		size_t n = 0;

		error = so_sendto(us->us_so, (const char *)buf + done,
				  len - done, nonblock ? MSG_DONTWAIT : 0,
				  addr, port, &n);
		done += n;
		if (error != EAGAIN || nonblock || done == len)
			break;
		if ((error = us_keep_waiting(deadline)) != 0)
			break;
	}
	if (done > 0)
		return (ssize_t)done;
	if (error == EPIPE && !(lflags & L_MSG_NOSIGNAL))
		proc_kill(curproc->p_pid, SIGPIPE);
	if (error == ENOTCONN && us->us_type == SOCK_DGRAM)
		error = EDESTADDRREQ;	/* Linux's word for "to whom?" */
	return -error;
}

/* ----------------------------------------------------------------------- */
/* The descriptor's operations.                                            */

/* read(2): as recv with no flags.  buf is the kernel's bounce buffer
 * (kern/sys_generic.c), which copies the bytes out; a short count ends
 * the read there, as for a pipe. */
static ssize_t sock_read(struct ufile *f, void *buf, size_t len)
{
	size_t done = 0;
	int error = us_recv(f, buf, len, false, NULL, NULL, &done);

	return error ? -error : (ssize_t)done;
}

/* write(2): as send with no flags (so SIGPIPE with EPIPE).  Called
 * once per bounce-buffer chunk; a blocking one sends all of it, so only
 * a non-blocking socket or an error makes the count short. */
static ssize_t sock_write(struct ufile *f, const void *buf, size_t len)
{
	return us_send(f, buf, len, 0, 0, 0);
}

/* fstat: a socket (S_ISSOCK). */
static int sock_stat(struct ufile *f, struct vattr *va)
{
	memset(va, 0, sizeof(*va));
	va->va_mode = S_IFSOCK | 0777;
	va->va_nlink = 1;
	return 0;
}

/* poll: the socket's netisr says (so_poll); the RDNORM and WRNORM
 * twins go with POLLIN and POLLOUT. */
static int sock_poll(struct ufile *f)
{
	struct usock *us = f->f_data;
	int ev = so_poll(us->us_so);

	return ev | (ev & POLLIN ? POLLRDNORM : 0) |
	       (ev & POLLOUT ? POLLWRNORM : 0);
}

/* The last reference went: close the socket, free the rest. */
static void sock_close(struct ufile *f)
{
	struct usock *us = f->f_data;

	KASSERT(f->f_ops == &sock_ops && us != NULL, "sock_close: ufile "
		"%p is not a socket's", f);
	so_close(us->us_so);
	kfree(us, M_USOCK);
}

static const struct ufileops sock_ops = {
	.name = "socket",
	.read = sock_read,
	.write = sock_write,
	.stat = sock_stat,
	.poll = sock_poll,
	.close = sock_close,
	.nonblock_settable = true,	/* each call reads f_flags */
};

/* ----------------------------------------------------------------------- */
/* Descriptors and addresses.                                              */

/* The usock behind descriptor fd: 0, or EBADF (not open) or ENOTSOCK. */
static int us_get(int fd, struct ufile **fp)
{
	struct ufile *f = fd_get(fd);

	if (f == NULL)
		return EBADF;
	if (f->f_ops != &sock_ops)
		return ENOTSOCK;
	*fp = f;
	return 0;
}

/* The kernel socket behind f, a descriptor us_get found. */
static inline struct socket *us_so(struct ufile *f)
{
	return ((struct usock *)f->f_data)->us_so;
}

/* A descriptor for kernel socket so of type, with flags (SOCK_NONBLOCK,
 * SOCK_CLOEXEC): the descriptor, or -EMFILE with so closed. */
static int64_t us_install(struct socket *so, int type, int flags)
{
	struct usock *us = kmalloc(sizeof(*us), M_USOCK, M_WAITOK | M_ZERO);
	bool nonblock = (flags & L_SOCK_NONBLOCK) != 0;
	struct ufile *f;
	int fd;

	KASSERT(type == SOCK_STREAM || type == SOCK_DGRAM, "us_install: "
		"type %d is no kernel socket type", type);
	us->us_so = so;
	us->us_type = type;
	so_setopt(so, SO_NONBLOCK, nonblock);
	so_setopt(so, SO_RCVTIMEO, SLICE);
	so_setopt(so, SO_SNDTIMEO, SLICE);
	f = ufile_alloc(&sock_ops, us, O_RDWR | (nonblock ? L_SOCK_NONBLOCK
							  : 0));
	fd = fd_alloc(f, 0, (flags & L_SOCK_CLOEXEC) ? FD_CLOEXEC : 0);
	if (fd < 0)
		ufile_rele(f);		/* closes the socket */
	return fd;
}

/* Copy in a sockaddr_in of len bytes: its address and port, 0; EINVAL
 * for a length that cannot hold one, EFAULT, EAFNOSUPPORT for another
 * family. */
static int sa_in(uint64_t uaddr, uint64_t len, uint32_t *addr,
		 uint16_t *port)
{
	struct l_sockaddr_in sin;
	int error;

	if (len < sizeof(sin) || len > SOCKADDR_MAX)
		return EINVAL;
	if ((error = copyin((void *)uaddr, &sin, sizeof(sin))) != 0)
		return error;
	if (sin.sin_family != AF_INET)
		return EAFNOSUPPORT;
	*addr = sin.sin_addr;
	*port = sin.sin_port;
	return 0;
}

/* The room the caller gave at *ulenp (a socklen_t): 0 and *lenp, EFAULT,
 * or EINVAL when negative. */
static int sa_room(uint64_t ulenp, int *lenp)
{
	int error = copyin((void *)ulenp, lenp, sizeof(*lenp));

	if (error == 0 && *lenp < 0)
		error = EINVAL;
	return error;
}

/* Copy addr:port out as a sockaddr_in, cut to the room len the caller
 * gave, and its full length to *ulenp (Linux's rule: the caller can see
 * it was cut).  0 or EFAULT. */
static int sa_out(uint64_t uaddr, uint64_t ulenp, int len, uint32_t addr,
		  uint16_t port)
{
	struct l_sockaddr_in sin = { .sin_family = AF_INET,
				     .sin_port = port, .sin_addr = addr };
	int full = sizeof(sin);
	int error = copyout(&sin, (void *)uaddr,
			    MIN((size_t)len, sizeof(sin)));

	return error ? error : copyout(&full, (void *)ulenp, sizeof(full));
}

/* ----------------------------------------------------------------------- */
/* The system calls.                                                       */

/* The kernel socket type for Linux's (type, protocol): 0, or EINVAL
 * (unknown type or flags), ESOCKTNOSUPPORT (a type the stack lacks:
 * raw, seqpacket, ...), EPROTONOSUPPORT (a protocol that is not the
 * type's). */
static int sock_type(int ltype, int protocol, int *typep)
{
	int type = ltype & L_SOCK_TYPE_MASK;

	if (ltype & ~(L_SOCK_TYPE_MASK | L_SOCK_NONBLOCK | L_SOCK_CLOEXEC) ||
	    type == 0 || type > L_SOCK_MAX)
		return EINVAL;
	if (type != 1 && type != 2)
		return ESOCKTNOSUPPORT;
	if (protocol != 0 && protocol != (type == 1 ? IPPROTO_TCP
						     : IPPROTO_UDP))
		return EPROTONOSUPPORT;
	*typep = type == 1 ? SOCK_STREAM : SOCK_DGRAM;
	return 0;
}

/* socket(domain, type, protocol): a new socket's descriptor. */
int64_t sys_socket(struct trapframe *tf, const uint64_t *a)
{
	struct socket *so;
	int type, error;

	if ((int)a[0] != AF_INET)
		return -EAFNOSUPPORT;
	if ((error = sock_type((int)a[1], (int)a[2], &type)) != 0 ||
	    (error = so_create(type, &so)) != 0)
		return -error;
	return us_install(so, type, (int)a[1]);
}

/* The socket of descriptor a[0] and the address at a[1] of length a[2]
 * (bind's and connect's first three arguments): 0, or the errno of
 * the first that is bad (EBADF, ENOTSOCK, EFAULT, EINVAL, ...). */
static int us_get_addr(const uint64_t *a, struct ufile **fp, uint32_t *addr,
		       uint16_t *port)
{
	int error = us_get((int)a[0], fp);

	return error ? error : sa_in(a[1], a[2], addr, port);
}

/* bind(fd, addr, addrlen): the local address and port (0: any, and an
 * ephemeral port).  EADDRINUSE, EINVAL when already bound. */
int64_t sys_bind(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f;
	uint32_t addr;
	uint16_t port;
	int error = us_get_addr(a, &f, &addr, &port);

	if (error)
		return -error;
	return -so_bind(us_so(f), addr, port);
}

/* listen(fd, backlog): TCP only (EOPNOTSUPP for UDP, as on Linux). */
int64_t sys_listen(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f;
	int error = us_get((int)a[0], &f);

	if (error)
		return -error;
	return -so_listen(us_so(f), (int)a[1]);
}

/* Wait for the handshake of a connect that was started: 0 when
 * connected, its error (ECONNREFUSED, ETIMEDOUT, ...), or EINTR.  Looks
 * once a tick; a signal ends the wait, not the handshake. */
static int connect_wait(struct usock *us)
{
	while (!(so_poll(us->us_so) & (POLLOUT | POLLERR | POLLHUP)))
		if (tsleep(us, PCATCH, "connect", 1) == EINTR)
			return EINTR;
	return so_error(us->us_so);
}

/* connect(fd, addr, addrlen).  TCP: the handshake (EINPROGRESS when
 * non-blocking; EALREADY while one runs, EISCONN once connected); UDP:
 * the default peer.  The kernel call never parks
 * here: so a signal can end the wait (connect_wait). */
int64_t sys_connect(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f;
	struct usock *us;
	uint32_t addr;
	uint16_t port;
	int error = us_get_addr(a, &f, &addr, &port);

	if (error)
		return -error;
	us = f->f_data;
	if (us->us_type == SOCK_DGRAM)
		return -so_connect(us->us_so, addr, port);
	so_setopt(us->us_so, SO_NONBLOCK, 1);
	error = so_connect(us->us_so, addr, port);
	so_setopt(us->us_so, SO_NONBLOCK, us_nonblocking(f));
	if (error == EINPROGRESS && !us_nonblocking(f))
		error = connect_wait(us);
	if (error == EALREADY && so_tcpstate(us->us_so) >= TCPS_ESTABLISHED)
		error = EISCONN;	/* Linux's word once it is done */
	return -error;
}

/* The next connection on listener f, waiting in slices unless
 * non-blocking: 0, *newp and the peer, or an errno. */
static int accept_wait(struct ufile *f, struct socket **newp,
		       uint32_t *addr, uint16_t *port)
{
	struct usock *us = f->f_data;
	uint64_t deadline = us_deadline(us->us_rcvtimeo);
	int error;

	for (;;) {
		error = so_accept(us->us_so, newp, addr, port);
		if (error != EAGAIN || us_nonblocking(f))
			return error;
		if ((error = us_keep_waiting(deadline)) != 0)
			return error;
	}
}

/* accept4(fd, addr, addrlen, flags): the next connection's descriptor,
 * its peer at addr (when not NULL).  The room at addrlen is checked
 * before the wait; an address that cannot be written then loses the
 * connection (EFAULT), as on Linux. */
int64_t sys_accept4(struct trapframe *tf, const uint64_t *a)
{
	struct socket *nso;
	struct ufile *f;
	uint32_t addr;
	uint16_t port;
	int len = 0, flags = (int)a[3], error;
	int64_t fd;

	if ((error = us_get((int)a[0], &f)) != 0)
		return -error;
	if (flags & ~(L_SOCK_NONBLOCK | L_SOCK_CLOEXEC))
		return -EINVAL;
	if (a[1] != 0 && (error = sa_room(a[2], &len)) != 0)
		return -error;
	if ((error = accept_wait(f, &nso, &addr, &port)) != 0)
		return -error;
	if ((fd = us_install(nso, SOCK_STREAM, flags)) < 0)
		return fd;
	if (a[1] != 0 && (error = sa_out(a[1], a[2], len, addr, port)) != 0) {
		fd_close(curproc, (int)fd);
		return -error;
	}
	return fd;
}

/* accept(fd, addr, addrlen): accept4 with no flags. */
int64_t sys_accept(struct trapframe *tf, const uint64_t *a)
{
	const uint64_t args[4] = { a[0], a[1], a[2], 0 };

	return sys_accept4(tf, args);
}

/* Send len bytes of user memory at ubuf, BOUNCE_MAX at a time: the
 * bytes sent, or with none a negative errno (EFAULT, the socket's). */
static int64_t send_from_user(struct ufile *f, const char *ubuf, size_t len,
			      int lflags, uint32_t addr, uint16_t port)
{
	char *buf = kmalloc(MAX(MIN(len, BOUNCE_MAX), 1), M_USOCK, M_WAITOK);
	size_t done = 0;
	int64_t rv = 0;

	do {			/* once at least: a UDP datagram may be empty */
		size_t chunk = MIN(len - done, BOUNCE_MAX);
		int error = copyin(ubuf + done, buf, chunk);
		ssize_t n = error ? -error
				  : us_send(f, buf, chunk, lflags, addr, port);

		if (n < 0) {
			rv = n;
			break;
		}
		done += (size_t)n;
		if ((size_t)n < chunk)
			break;
	} while (done < len);
	kfree(buf, M_USOCK);
	return done > 0 ? (int64_t)done : rv;
}

/* sendto(fd, buf, len, flags, addr, addrlen): the bytes sent.  The
 * address counts for UDP only (a TCP socket has its peer).  Flags:
 * MSG_DONTWAIT, MSG_NOSIGNAL, MSG_MORE (taken, no effect); others
 * EOPNOTSUPP.  A datagram larger than BOUNCE_MAX is EMSGSIZE. */
int64_t sys_sendto(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f;
	uint32_t addr = 0;
	uint16_t port = 0;
	int lflags = (int)a[3], error;

	if ((error = us_get((int)a[0], &f)) != 0)
		return -error;
	if (lflags & ~(L_MSG_DONTWAIT | L_MSG_NOSIGNAL | L_MSG_MORE))
		return -EOPNOTSUPP;
	if (((struct usock *)f->f_data)->us_type == SOCK_DGRAM) {
		if (a[4] != 0 && (error = sa_in(a[4], a[5], &addr, &port)))
			return -error;
		if (a[2] > BOUNCE_MAX)
			return -EMSGSIZE;
	}
	return send_from_user(f, (const char *)a[1], a[2], lflags, addr,
			      port);
}

/* recvfrom's sender: UDP's address, or for TCP (a stream has no
 * sender per byte) nothing, and a length of 0, as on Linux. */
static int recv_from_out(struct ufile *f, const uint64_t *a, int room,
			 uint32_t addr, uint16_t port)
{
	int none = 0;

	if (((struct usock *)f->f_data)->us_type == SOCK_DGRAM)
		return sa_out(a[4], a[5], room, addr, port);
	return copyout(&none, (void *)a[5], sizeof(none));
}

/* recvfrom(fd, buf, len, flags, addr, addrlen): the bytes received (0
 * at end of stream; UDP: one datagram, cut to len), the sender at addr
 * when not NULL.  MSG_DONTWAIT is the only flag (others EOPNOTSUPP).
 * Bytes taken from the socket that cannot be copied out are lost
 * (EFAULT), as on Linux. */
int64_t sys_recvfrom(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f;
	size_t len = MIN(a[2], BOUNCE_MAX), done = 0;
	uint32_t addr = 0;
	uint16_t port = 0;
	int room = 0, error;
	void *buf;

	if ((error = us_get((int)a[0], &f)) != 0)
		return -error;
	if ((int)a[3] & ~L_MSG_DONTWAIT)
		return -EOPNOTSUPP;
	if (a[4] != 0 && (error = sa_room(a[5], &room)) != 0)
		return -error;
	if (len == 0 && ((struct usock *)f->f_data)->us_type == SOCK_STREAM)
		return 0;	/* nothing asked: nothing waited for */
	buf = kmalloc(MAX(len, 1), M_USOCK, M_WAITOK);
	error = us_recv(f, buf, len, (int)a[3] & L_MSG_DONTWAIT, &addr, &port,
			&done);
	if (error == 0)
		error = copyout(buf, (void *)a[1], done);
	if (error == 0 && a[4] != 0)
		error = recv_from_out(f, a, room, addr, port);
	kfree(buf, M_USOCK);
	return error ? -error : (int64_t)done;
}

/* shutdown(fd, how): SHUT_RD, SHUT_WR, SHUT_RDWR (else EINVAL). */
int64_t sys_shutdown(struct trapframe *tf, const uint64_t *a)
{
	struct ufile *f;
	int error = us_get((int)a[0], &f);

	if (error)
		return -error;
	return -so_shutdown(us_so(f), (int)a[1]);
}

/* getsockname and getpeername: the local or the peer's address;
 * ENOTCONN for the peer of a socket that has none. */
static int64_t sock_name(const uint64_t *a, bool peer)
{
	struct ufile *f;
	struct socket *so;
	uint32_t addr;
	uint16_t port;
	int len, error;

	if ((error = us_get((int)a[0], &f)) != 0 ||
	    (error = sa_room(a[2], &len)) != 0)
		return -error;
	so = us_so(f);
	if (peer)
		so_peername(so, &addr, &port);
	else
		so_sockname(so, &addr, &port);
	if (peer && port == 0)
		return -ENOTCONN;
	return -sa_out(a[1], a[2], len, addr, port);
}

/* getsockname(fd, addr, addrlen): the address and port bind or
 * connect chose (0.0.0.0:0 before either). */
int64_t sys_getsockname(struct trapframe *tf, const uint64_t *a)
{
	return sock_name(a, false);
}

/* getpeername(fd, addr, addrlen): the connected peer's address and
 * port; ENOTCONN before a connection (or on a listener). */
int64_t sys_getpeername(struct trapframe *tf, const uint64_t *a)
{
	return sock_name(a, true);
}

/* A timeval as ticks, rounded up (a short timeout is at least one);
 * EINVAL for one out of range. */
static int tv_ticks(const struct l_timeval *tv, int *ticksp)
{
	if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000)
		return EINVAL;
	*ticksp = (int)MIN((uint64_t)tv->tv_sec * HZ +
			   ((uint64_t)tv->tv_usec * HZ + 999999) / 1000000,
			   (uint64_t)0x7fffffff);
	return 0;
}

/* setsockopt's work, with the value copied in (val, len bytes). */
static int set_option(struct usock *us, int level, int name,
		      const void *val, size_t len)
{
	int v = *(const int *)val;

	if (level == SOL_SOCKET && name == L_SO_REUSEADDR) {
		us->us_reuseaddr = v != 0;	/* ports are never shared */
		return 0;
	}
	if (level == SOL_SOCKET &&
	    (name == L_SO_RCVTIMEO || name == L_SO_SNDTIMEO)) {
		if (len < sizeof(struct l_timeval))
			return EINVAL;
		return tv_ticks(val, name == L_SO_RCVTIMEO ? &us->us_rcvtimeo
							   : &us->us_sndtimeo);
	}
	if (level == IPPROTO_TCP && name == L_TCP_NODELAY &&
	    us->us_type == SOCK_STREAM) {
		us->us_nodelay = v != 0;
		return so_setopt(us->us_so, TCP_NODELAY, v != 0);
	}
	return ENOPROTOOPT;
}

/* setsockopt(fd, level, name, val, len): SO_REUSEADDR (taken: a port
 * here is free again once its socket is gone), SO_RCVTIMEO and
 * SO_SNDTIMEO (a struct timeval; 0 waits for ever), TCP_NODELAY.
 * Others ENOPROTOOPT; a value shorter than an int EINVAL. */
int64_t sys_setsockopt(struct trapframe *tf, const uint64_t *a)
{
	struct l_timeval val;		/* the largest value taken */
	struct ufile *f;
	size_t len = MIN(a[4], sizeof(val));
	int error;

	if ((error = us_get((int)a[0], &f)) != 0)
		return -error;
	if ((int)a[4] < (int)sizeof(int))
		return -EINVAL;
	if ((error = copyin((void *)a[3], &val, len)) != 0)
		return -error;
	return -set_option(f->f_data, (int)a[1], (int)a[2], &val, len);
}

/* getsockopt's work: the value in val and its size, or ENOPROTOOPT. */
static int get_option(struct usock *us, int level, int name,
		      struct l_timeval *val, size_t *size)
{
	int *v = (int *)val;
	int timeo = name == L_SO_RCVTIMEO ? us->us_rcvtimeo : us->us_sndtimeo;

	*size = sizeof(int);
	if (level == SOL_SOCKET && name == L_SO_ERROR)
		*v = errno_to_linux(so_error(us->us_so));
	else if (level == SOL_SOCKET && name == L_SO_TYPE)
		*v = us->us_type;
	else if (level == SOL_SOCKET && name == L_SO_REUSEADDR)
		*v = us->us_reuseaddr;
	else if (level == IPPROTO_TCP && name == L_TCP_NODELAY &&
		 us->us_type == SOCK_STREAM)
		*v = us->us_nodelay;
	else if (level == SOL_SOCKET &&
		 (name == L_SO_RCVTIMEO || name == L_SO_SNDTIMEO)) {
		val->tv_sec = timeo / HZ;
		val->tv_usec = (int64_t)(timeo % HZ) * (1000000 / HZ);
		*size = sizeof(*val);
	} else
		return ENOPROTOOPT;
	return 0;
}

/* getsockopt(fd, level, name, val, lenp): the options setsockopt takes,
 * and SO_ERROR (the pending error, cleared: a non-blocking connect's
 * result) and SO_TYPE.  The value is cut to *lenp, which then says its
 * size.  EINVAL for a negative *lenp, EFAULT. */
int64_t sys_getsockopt(struct trapframe *tf, const uint64_t *a)
{
	struct l_timeval val = { 0 };
	struct ufile *f;
	size_t size;
	int room, error;

	if ((error = us_get((int)a[0], &f)) != 0 ||
	    (error = sa_room(a[4], &room)) != 0 ||
	    (error = get_option(f->f_data, (int)a[1], (int)a[2], &val,
				&size)) != 0)
		return -error;
	room = (int)MIN(size, (size_t)room);
	if ((error = copyout(&val, (void *)a[3], (size_t)room)) != 0 ||
	    (error = copyout(&room, (void *)a[4], sizeof(room))) != 0)
		return -error;
	return 0;
}
