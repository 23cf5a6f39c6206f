/*
 * net/socketvar.h - the inside of a socket, shared by net/socket.c, UDP
 * and TCP.  Not for users of sockets (they see net/socket.h).
 *
 * Everything in a socket belongs to its netisr (so_cpu) once the socket
 * has been handed to it; the calling thread only reads so_cpu and the
 * type.  A call in progress is a struct so_req, on the caller's stack.
 * A call that cannot finish yet (recv with nothing to read, send with a
 * full buffer, accept with no connection, connect before the handshake)
 * is parked on so_waiters -- not replied -- and retried by so_wakeup()
 * whenever the protocol changes something, or replied EAGAIN when its
 * deadline passes.
 */
#ifndef NET_SOCKETVAR_H
#define NET_SOCKETVAR_H

#include <kern/types.h>
#include <kern/queue.h>
#include <net/netisr.h>
#include <net/socket.h>

struct mbuf;
struct tcpcb;

/* A byte ring: TCP's send and receive buffers. */
struct sockbuf {
	uint8_t *sb_buf;
	uint32_t sb_size;		/* capacity */
	uint32_t sb_off;		/* where the first byte is */
	uint32_t sb_len;		/* bytes held */
};

enum so_op {
	SO_OP_BIND, SO_OP_LISTEN, SO_OP_ACCEPT, SO_OP_CONNECT, SO_OP_SEND,
	SO_OP_RECV, SO_OP_SHUTDOWN, SO_OP_CLOSE, SO_OP_SETOPT, SO_OP_ERROR,
	SO_OP_READABLE, SO_OP_STATE, SO_OP_PARKED,
};

/* One socket call, travelling to the socket's netisr. */
struct so_req {
	struct netmsg nm;		/* first: the request is a message */
	struct socket *so;
	enum so_op op;
	const void *sbuf;		/* send: the caller's bytes */
	void *rbuf;			/* recv: where to put them */
	size_t len, done;
	int flags;			/* MSG_* (SO_NONBLOCK folded in) */
	uint32_t addr;			/* bind, connect, sendto, recvfrom */
	uint16_t port;
	int value;			/* setopt, listen's backlog */
	struct socket *newso;		/* accept's result */
	uint64_t deadline;		/* ticks; 0: none */
	TAILQ_ENTRY(so_req) link;	/* so_waiters */
};

/* A protocol's answer to a call that moved the socket to another CPU
 * (a UDP connect: udp.c): the call is sent on to the socket's new netisr
 * and runs again there.  Never seen by the caller. */
#define SO_MOVED	(-1)

/* so_state */
#define SS_ISCONNECTED	0x0001
#define SS_CANTRCVMORE	0x0002		/* EOF seen, or SHUT_RD */
#define SS_CANTSENDMORE	0x0004		/* SHUT_WR, or reset */
#define SS_NOFDREF	0x0008		/* closed by its user */
#define SS_LISTENING	0x0010

struct socket {
	int so_type;			/* SOCK_STREAM, SOCK_DGRAM */
	volatile int so_cpu;		/* the owning netisr */
	int so_state;			/* SS_* */
	int so_error;			/* pending error */
	bool so_nonblock, so_nodelay;
	int so_rcvtimeo, so_sndtimeo;	/* ticks, 0: for ever */
	uint32_t so_laddr, so_faddr;	/* network order */
	uint16_t so_lport, so_fport;
	bool so_port_owned;		/* we reserved so_lport */
	struct sockbuf so_rcv, so_snd;	/* TCP */
	struct mbuf *so_dgq, *so_dgq_tail;	/* UDP datagrams */
	uint32_t so_dgq_bytes;
	TAILQ_HEAD(, so_req) so_waiters;	/* parked calls */
	struct tcpcb *so_tcp;
	/* Listening (on the listener's netisr). */
	int so_backlog, so_qlen;
	TAILQ_HEAD(, socket) so_acceptq;
	TAILQ_ENTRY(socket) so_qlink;	/* on the listener's queue */
	struct socket *so_head;		/* our listener, until accepted */
	struct netmsg so_handoff;	/* carries us to the listener */
	/* A listener is in every CPU's table at once, so it needs a link
	 * per CPU: so_lents[k] is its entry in CPU k's table, touched only
	 * by netisr k (allocated by so_listen, ncpus of them). */
	struct so_listen_ent *so_lents;
	/* Tables (the owning netisr's). */
	TAILQ_ENTRY(socket) so_link;	/* UDP binds */
	TAILQ_ENTRY(socket) so_timed;	/* parked calls with deadlines */
	bool so_on_timedq;
};

TAILQ_HEAD(socket_list, socket);

/* A listener's place in one CPU's listener table (tcp_subr.c). */
struct so_listen_ent {
	TAILQ_ENTRY(so_listen_ent) link;
	struct socket *so;
};

#define UDP_RCVQ_MAX	(64 * 1024)	/* datagram bytes a socket queues */
#define TCP_SNDBUF	(64 * 1024)
#define TCP_RCVBUF	(64 * 1024)

/* ---- byte rings --------------------------------------------------------- */

int sb_init(struct sockbuf *sb, uint32_t size);
void sb_free(struct sockbuf *sb);
static inline uint32_t sb_space(const struct sockbuf *sb)
{
	return sb->sb_size - sb->sb_len;
}
/* Append up to len bytes; returns how many fit. */
uint32_t sb_append(struct sockbuf *sb, const void *p, uint32_t len);
/* Append up to len bytes that start off bytes into the ring from (which
 * keeps them); returns how many fit.  One copy, ring to ring. */
uint32_t sb_append_ring(struct sockbuf *sb, const struct sockbuf *from,
			uint32_t off, uint32_t len);
/* Copy len bytes starting off bytes in, without removing them. */
void sb_peek(const struct sockbuf *sb, uint32_t off, void *p, uint32_t len);
/* Remove len bytes from the front (copying them to p unless NULL). */
void sb_take(struct sockbuf *sb, void *p, uint32_t len);

/* ---- the socket layer's services to the protocols ------------------------ */

/* Retry the socket's parked calls (something changed).  Its netisr.
 * Most of the time none is parked: that test is inline. */
void so_wakeup_parked(struct socket *so);
static inline void so_wakeup(struct socket *so)
{
	if (!TAILQ_EMPTY(&so->so_waiters))
		so_wakeup_parked(so);
}
/* A new socket of type owned by CPU cpu (for accepted connections). */
struct socket *so_alloc(int type, int cpu);
/* The last reference is gone: free it.  Its netisr. */
void so_free(struct socket *so);
/* Reply every parked call with error (the socket is dying). */
void so_fail_waiters(struct socket *so, int error);

/* Ports: reserve (proto, port), or pick a free ephemeral one. */
int in_port_reserve(int type, uint16_t port);
uint16_t in_port_ephemeral(int type);
void in_port_release(int type, uint16_t port);

/* The CPU that owns a UDP socket or a TCP listener on lport. */
int in_port_cpu(uint16_t lport);

/* ---- the protocols' socket operations (a try: EAGAIN parks the call) ---- */

int udp_usr(struct so_req *req);
void udp_init(void);
int tcp_usr(struct so_req *req);
void udp_close(struct socket *so);

/* The listener on lport in this CPU's copy of the table, or NULL. */
struct socket *tcp_listener(uint32_t laddr, uint16_t lport);

/* The socket layer's per-CPU lists and timers.  Boot (net_init). */
void so_init(void);

/* Arm this CPU's net tick (timers of sockets and connections). */
void net_tick_arm(void);
/* Wait (up to 2 s) until no CPU's net tick is pending or running: it
 * stops by itself once nothing has a deadline.  The test harness's
 * drain, so a suite's leak check sees no tick message in flight. */
void net_tick_quiesce(void);
/* Parked calls with deadlines: the socket joins this CPU's list. */
void so_timed_add(struct socket *so);
/* The tick's work for sockets (deadlines passed: EAGAIN). */
bool so_tick(void);
bool tcp_tick(void);

#endif /* NET_SOCKETVAR_H */
