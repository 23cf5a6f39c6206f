/*
 * damselfly/port.h - message ports for user programs: the system call
 * numbers, the message a program sees, and (outside the kernel) a
 * header-only library of wrappers.  The kernel side is kern/sys_uport.c;
 * docs/user.md, "User message ports", tells the story.
 *
 * A port is a descriptor.  Any process holding it may send to it and may
 * take requests from it; fork copies it and execve keeps it (unless it was
 * made with PORT_CLOEXEC), so a server hands a port to its children the
 * way it hands them a pipe.  The semantics are the kernel's ports
 * (docs/msgport.md):
 *
 *   client                                  server (holds the same port)
 *   port_domsg(fd, &m)  --- request --->    port_wait(fd, &m, 0)
 *     blocks until                            ... works on m.data ...
 *     the reply         <--- reply -----    port_reply(m.id, &m, error)
 *   m.error, m.data: the reply
 *
 *   port_send(fd, &m)  returns an id at once; the reply comes home later:
 *   port_waitmsg(id, &m, 0)  that message's reply
 *   port_waitmsg(0, &m, 0)   whichever reply came home first
 *   port_abort(id)     asks for the message back: still queued, it is
 *                      taken off and replied EINTR at once; already taken
 *                      by a server, the server's own reply still comes
 *                      (port_reply then returns 1: "it was aborted")
 *
 * Every message gets exactly one reply.  A port closed by its last holder
 * replies EPIPE to what was queued on it; a server that exits replies
 * EPIPE to what it held; a sender that exits leaves its messages to be
 * replied into nothing.  The payload is PORT_PAYLOAD bytes, copied both
 * ways.
 */
#ifndef DAMSELFLY_PORT_H
#define DAMSELFLY_PORT_H

#ifdef HMR_KERNEL
#include <kern/types.h>
#else
#include <stdint.h>
#endif

/* System call numbers: above Linux's range (its numbers end below 500). */
#define SYS_port_create		500
#define SYS_port_send		501
#define SYS_port_domsg		502
#define SYS_port_wait		503
#define SYS_port_reply		504
#define SYS_port_waitmsg	505
#define SYS_port_abort		506

#define PORT_PAYLOAD	64		/* bytes of data a message carries */

/* port_create flags */
#define PORT_CLOEXEC	0x80000		/* closed by execve (Linux O_CLOEXEC) */

/* port_wait / port_waitmsg flags */
#define PORT_NOWAIT	0x1		/* nothing there yet: EAGAIN */

/* port_msg.flags, out */
#define PORT_F_REPLY	0x1		/* this is a reply coming home */
#define PORT_F_ABORTED	0x2		/* the sender asked for it back */

/* A message as a program sees it (80 bytes, the same in and out). */
struct port_msg {
	uint64_t id;			/* out: the message's id (> 0) */
	int32_t error;			/* out: the reply's error (errno) */
	uint32_t flags;			/* out: PORT_F_* */
	uint8_t data[PORT_PAYLOAD];	/* in and out */
};

#ifndef HMR_KERNEL
#include <errno.h>

/* A raw system call: the result, or -errno. */
static inline long port_syscall(long n, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The C library's convention: -1 and errno on failure. */
static inline long port_result(long ret)
{
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

/* A new port: its descriptor, or -1 (EINVAL, EMFILE). */
static inline int port_create(int flags)
{
	return (int)port_result(port_syscall(SYS_port_create, flags, 0, 0));
}

/* Send m's data to port fd; the reply comes home later.  The message's id,
 * or -1 (EBADF: fd is not a port; EFAULT; EAGAIN: too many out). */
static inline int64_t port_send(int fd, const struct port_msg *m)
{
	return port_result(port_syscall(SYS_port_send, fd, (long)m, 0));
}

/* Send m and wait for the reply, which lands in m (m->error: the
 * reply's error, 0 for success).  0, or -1 (EBADF, EFAULT, EAGAIN). */
static inline int port_domsg(int fd, struct port_msg *m)
{
	return (int)port_result(port_syscall(SYS_port_domsg, fd, (long)m, 0));
}

/* Take the next request off port fd into m (m->id names it for
 * port_reply).  0, or -1 (EBADF, EFAULT, EAGAIN with PORT_NOWAIT, EINTR). */
static inline int port_wait(int fd, struct port_msg *m, int flags)
{
	return (int)port_result(port_syscall(SYS_port_wait, fd, (long)m,
					     flags));
}

/* Reply to request id with error and m's data (m may be NULL: no data).
 * 0, 1 if the sender had asked for it back, or -1 (ENOENT: not a request
 * this process holds; EFAULT; EINVAL: error out of range). */
static inline int port_reply(uint64_t id, const struct port_msg *m, int error)
{
	return (int)port_result(port_syscall(SYS_port_reply, (long)id,
					     (long)m, error));
}

/* The reply of message id (0: of whichever came home first) into m.
 * 0, or -1 (ENOENT: no such message out; EAGAIN with PORT_NOWAIT; EFAULT;
 * EINTR while waiting for any). */
static inline int port_waitmsg(uint64_t id, struct port_msg *m, int flags)
{
	return (int)port_result(port_syscall(SYS_port_waitmsg, (long)id,
					     (long)m, flags));
}

/* Ask for message id back (see above).  0, or -1 (ENOENT). */
static inline int port_abort(uint64_t id)
{
	return (int)port_result(port_syscall(SYS_port_abort, (long)id, 0, 0));
}
#endif /* !HMR_KERNEL */

#endif /* DAMSELFLY_PORT_H */
