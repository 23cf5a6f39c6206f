/*
 * net/socket.h - kernel sockets (net/socket.c; docs/net.md).
 *
 * The API user mode will reach through system calls.  Every call is a
 * message to the netisr that owns the socket (socket->so_cpu): the caller
 * builds it on its stack and lwkt_domsg()s it; the netisr does the work,
 * or parks the message until it can (a blocking recv waits for data by
 * not being replied yet).  So a blocking call waits on its reply, never
 * on a lock, and the socket's state is only ever touched by one thread.
 *
 * Addresses and ports are in network order.  Errors are returned (0 on
 * success).  One thread at a time may call bind, listen or connect on a
 * socket: they may move it to another CPU.
 */
#ifndef NET_SOCKET_H
#define NET_SOCKET_H

#include <kern/types.h>

#define SOCK_STREAM	1		/* TCP */
#define SOCK_DGRAM	2		/* UDP */

#define MSG_DONTWAIT	0x1		/* this call does not block */

#define SHUT_RD		0
#define SHUT_WR		1
#define SHUT_RDWR	2

/* so_setopt options. */
#define SO_NONBLOCK	1		/* every call as with MSG_DONTWAIT */
#define SO_RCVTIMEO	2		/* ticks a recv/accept waits (0: ever) */
#define SO_SNDTIMEO	3		/* ticks a send/connect waits */
#define TCP_NODELAY	4		/* send small segments at once */

struct socket;

/* Make a socket of type SOCK_STREAM or SOCK_DGRAM.  May block (memory). */
int so_create(int type, struct socket **sop);

/* Take a local address (0: any) and port (0: an ephemeral one).
 * EADDRINUSE if the port is taken. */
int so_bind(struct socket *so, uint32_t addr, uint16_t port);

/* TCP: accept connections to the bound port, up to backlog waiting. */
int so_listen(struct socket *so, int backlog);

/* TCP: the next connection; its peer in faddr and fport if not NULL.
 * EAGAIN (non-blocking or timeout) when none is ready. */
int so_accept(struct socket *so, struct socket **newp, uint32_t *faddr,
	      uint16_t *fport);

/* TCP: open a connection (EINPROGRESS when non-blocking; then poll
 * so_error()).  UDP: set the default destination.  ECONNREFUSED,
 * ETIMEDOUT, ENETUNREACH. */
int so_connect(struct socket *so, uint32_t addr, uint16_t port);

/* Send up to len bytes; *done says how many were taken.  TCP blocks
 * until all are buffered (unless non-blocking: EAGAIN if none fit).
 * EPIPE after shutdown; after a reset its error (ECONNRESET) once, then
 * EPIPE -- and a send the reset cut short returns 0 with the bytes that
 * went, leaving the error to the next call. */
int so_send(struct socket *so, const void *buf, size_t len, int flags,
	    size_t *done);
int so_sendto(struct socket *so, const void *buf, size_t len, int flags,
	      uint32_t addr, uint16_t port, size_t *done);

/* Receive up to len bytes (UDP: one datagram, the rest of it dropped).
 * Blocks until something arrives; *done = 0 with 0 means end of stream.
 * EAGAIN when non-blocking (or on timeout) and nothing is there;
 * ENOTCONN on a TCP socket that never had a connection. */
int so_recv(struct socket *so, void *buf, size_t len, int flags,
	    size_t *done);
int so_recvfrom(struct socket *so, void *buf, size_t len, int flags,
		uint32_t *addr, uint16_t *port, size_t *done);

/* Stop reading, writing (TCP: send FIN after the data) or both. */
int so_shutdown(struct socket *so, int how);

/* Let go of the socket.  TCP closes gracefully (FIN), or resets when
 * unread data is left (RFC 1122 4.2.2.13).  The socket is freed by its
 * netisr once the connection is over; the caller must not touch it. */
int so_close(struct socket *so);

/* Options (SO_*, TCP_NODELAY). */
int so_setopt(struct socket *so, int opt, int value);

/* The pending error (a non-blocking connect's result), cleared. */
int so_error(struct socket *so);

/* Bytes that a recv would return now without blocking, -1 at EOF. */
int so_readable(struct socket *so);

/* Which of POLLIN, POLLOUT, POLLERR, POLLHUP (kern/file.h's values)
 * hold now; never parks (poll(2) on a socket descriptor). */
int so_poll(struct socket *so);

/* The local and the peer's address and port. */
void so_sockname(struct socket *so, uint32_t *addr, uint16_t *port);
void so_peername(struct socket *so, uint32_t *addr, uint16_t *port);

/* TCP: the connection's state (TCPS_*, net/tcp_var.h), or -1 when it
 * has none (closed, or never connected).  For tests and netstat. */
int so_tcpstate(struct socket *so);

/* How many calls are parked on the socket, waiting (a service that is
 * ready has its accept or recv parked). */
int so_parked(struct socket *so);

/* The CPU whose netisr owns the socket (tests). */
int so_cpu(struct socket *so);

/* Sockets and TCP connections alive (the leak check's samples). */
uint64_t so_live(void);
uint64_t tcp_live(void);

#endif /* NET_SOCKET_H */
