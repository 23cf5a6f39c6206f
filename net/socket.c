/*
 * socket.c - kernel sockets as messages to the owning netisr.
 *
 * The life of a socket call:
 *
 *   caller (any thread, any CPU)          netisr so->so_cpu
 *   so_recv: struct so_req on the stack
 *   lwkt_domsg(netisr port) -----------> so_dispatch: udp_usr / tcp_usr
 *                                          try the call:
 *                                            done      -> lwkt_replymsg
 *                                            EAGAIN, may block
 *                                                      -> park on so_waiters
 *                                          ... a segment arrives ...
 *                                          so_wakeup: try again -> reply
 *   lwkt_domsg returns req.nm's error <---
 *
 * So a blocking call waits on its reply, and the socket -- its buffers,
 * its protocol state, its parked calls -- is touched by one thread only.
 * A deadline (SO_RCVTIMEO, SO_SNDTIMEO) puts the socket on its netisr's
 * timed list; the per-CPU net tick replies calls whose time is up with
 * EAGAIN.
 *
 * Which netisr: a UDP socket and a TCP listener belong to the CPU their
 * local port hashes to (in_port_cpu), a TCP connection to the CPU its
 * 4-tuple hashes to -- the same function ip_flow_hash applies to every
 * arriving packet, so the packets of a flow and the calls on its socket
 * meet on one CPU.  bind, listen and connect set so_cpu before they send
 * their message, which is how a socket moves (it is in no table yet).
 *
 * Ports are the one shared table: reserving one takes a spinlock, once
 * per bind or connect, never per packet.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/file.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/msgport.h>
#include <kern/panic.h>
#include <kern/spinlock.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/timeout.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netisr.h>
#include <net/netstat.h>
#include <net/socketvar.h>
#include <net/tcp_var.h>

MALLOC_DEFINE(M_SOCKET, "socket", "sockets and their buffers");

#define EPHEMERAL_FIRST	49152		/* RFC 6335's dynamic range */
#define EPHEMERAL_COUNT	16384
#define PORT_WORDS	(65536 / 64)

static volatile int64_t sockets_live;

/* Ports in use, one bit per port per protocol: the port lock. */
static uint64_t ports_used[2][PORT_WORDS];
static uint16_t ephemeral_next[2];
static struct spinlock port_lock = SPINLOCK_INITIALIZER("inport");

/* Per CPU: sockets with parked calls that have deadlines; the tick. */
static struct socket_list timedq[MAXCPU];
static struct callout net_tick_callout[MAXCPU];
static struct netmsg net_tick_msg[MAXCPU];
static bool net_tick_ready;

/* ---- byte rings ------------------------------------------------------- */

/*
 * A TCP socket's send and receive buffers are byte rings of a fixed size
 * (TCP_SNDBUF, TCP_RCVBUF), allocated once when the connection is made:
 *
 *   sb_buf  [.......|<---------- sb_len bytes ---------->|.........]
 *                   ^ sb_off (the oldest byte)            free space
 *   (the data may wrap: it then ends at sb_off + sb_len - sb_size)
 *
 * Only the owning netisr touches a ring.  The receive ring's free space
 * is the window we announce; the send ring holds everything not yet
 * acknowledged, so a resend reads it again with sb_peek at an offset
 * (snd_nxt - snd_una) and an ACK drops it with sb_take.  A ring needs no
 * chain of buffers and cannot run out in the middle of a segment: what
 * does not fit is simply not taken, and the caller learns how much was.
 */

/* Allocate size bytes for sb.  0 or ENOBUFS; never blocks (netisr). */
int sb_init(struct sockbuf *sb, uint32_t size)
{
	sb->sb_buf = kmalloc(size, M_SOCKET, M_NOWAIT);
	sb->sb_size = sb->sb_buf ? size : 0;
	sb->sb_off = sb->sb_len = 0;
	return sb->sb_buf ? 0 : ENOBUFS;
}

/* Release sb's bytes; safe on a ring that was never allocated. */
void sb_free(struct sockbuf *sb)
{
	if (sb->sb_buf != NULL)
		kfree(sb->sb_buf, M_SOCKET);
	sb->sb_buf = NULL;
	sb->sb_size = sb->sb_len = 0;
}

/* The piece of a copy that wraps: the part past the ring's end goes to
 * (or comes from) its start.  Out of line: the usual copy is one piece. */
static __attribute__((noinline)) void
sb_copy_wrapped(const struct sockbuf *sb, uint32_t at, void *p, uint32_t len,
		bool into_ring)
{
	uint32_t first = sb->sb_size - at;

	if (into_ring) {
		memcpy(sb->sb_buf + at, p, first);
		memcpy(sb->sb_buf, (uint8_t *)p + first, len - first);
	} else {
		memcpy(p, sb->sb_buf + at, first);
		memcpy((uint8_t *)p + first, sb->sb_buf, len - first);
	}
}

/* Copy between the ring (at logical offset off) and p.  sb_off and off
 * are both within the ring, so one subtraction replaces a division; the
 * usual case, no wrap, is a single memcpy. */
static inline void sb_copy(const struct sockbuf *sb, uint32_t off, void *p,
			   uint32_t len, bool into_ring)
{
	uint32_t at = sb->sb_off + off;

	if (at >= sb->sb_size)
		at -= sb->sb_size;
	if (len > sb->sb_size - at)
		sb_copy_wrapped(sb, at, p, len, into_ring);
	else if (into_ring)
		memcpy(sb->sb_buf + at, p, len);
	else
		memcpy(p, sb->sb_buf + at, len);
}

/* Append up to len bytes of p; returns how many fit (maybe 0). */
uint32_t sb_append(struct sockbuf *sb, const void *p, uint32_t len)
{
	len = MIN(len, sb_space(sb));
	if (len > 0)
		sb_copy(sb, sb->sb_len, (void *)p, len, true);
	sb->sb_len += len;
	return len;
}

/* The source may wrap too: its two pieces are appended in turn. */
uint32_t sb_append_ring(struct sockbuf *sb, const struct sockbuf *from,
			uint32_t off, uint32_t len)
{
	uint32_t at = from->sb_off + off, first;

	KASSERT(off + len <= from->sb_len, "sb_append_ring: %u+%u of %u bytes",
		off, len, from->sb_len);
	len = MIN(len, sb_space(sb));
	if (at >= from->sb_size)
		at -= from->sb_size;
	first = MIN(len, from->sb_size - at);
	sb_append(sb, from->sb_buf + at, first);
	if (first < len)
		sb_append(sb, from->sb_buf, len - first);
	return len;
}

void sb_peek(const struct sockbuf *sb, uint32_t off, void *p, uint32_t len)
{
	KASSERT(off + len <= sb->sb_len, "sb_peek: %u+%u of %u bytes", off,
		len, sb->sb_len);
	if (len > 0)
		sb_copy(sb, off, p, len, false);
}

/* Remove len bytes from the front, copying them to p unless p is NULL
 * (an ACK only drops what it acknowledged).  An empty ring restarts at
 * offset 0, so the next bulk copy is one piece, not two. */
void sb_take(struct sockbuf *sb, void *p, uint32_t len)
{
	KASSERT(len <= sb->sb_len, "sb_take: %u of %u bytes", len,
		sb->sb_len);
	if (p != NULL && len > 0)
		sb_copy(sb, 0, p, len, false);
	sb->sb_off += len;
	if (sb->sb_off >= sb->sb_size)
		sb->sb_off -= sb->sb_size;
	sb->sb_len -= len;
	if (sb->sb_len == 0)
		sb->sb_off = 0;
}

/* ---- ports ------------------------------------------------------------- */

/*
 * Local ports: one bit per port per protocol (8 KiB each), set by bind
 * or by the ephemeral choice of connect, cleared when the socket is
 * freed.  This is the only table every CPU shares, and the only lock on
 * the socket paths: it is taken once per bind or connect, never per
 * packet (a packet finds its connection in its own CPU's list).
 * Ephemeral ports come round-robin from RFC 6335's dynamic range, so a
 * port just released (its connection maybe still in TIME_WAIT on the
 * peer) is the last to be handed out again.
 */

/* The bitmap of a socket type: TCP's or UDP's. */
static int ptype(int type)
{
	return type == SOCK_STREAM ? 0 : 1;
}

/* Claim port (network order): 0, or EADDRINUSE.  Any thread; spins. */
int in_port_reserve(int type, uint16_t port)
{
	uint64_t *w = &ports_used[ptype(type)][port / 64];
	uint64_t bit = 1ULL << (port % 64);
	int error = 0;

	spin_lock(&port_lock);
	if (*w & bit)
		error = EADDRINUSE;
	else
		*w |= bit;
	spin_unlock(&port_lock);
	return error;
}

/* A free ephemeral port, claimed (network order), or 0 if all 16384
 * are taken.  Any thread; spins briefly per candidate. */
uint16_t in_port_ephemeral(int type)
{
	for (int i = 0; i < EPHEMERAL_COUNT; i++) {
		uint16_t port;

		spin_lock(&port_lock);
		port = EPHEMERAL_FIRST + ephemeral_next[ptype(type)]++ %
			EPHEMERAL_COUNT;
		spin_unlock(&port_lock);
		if (in_port_reserve(type, htons(port)) == 0)
			return htons(port);
	}
	return 0;
}

/* Give port back (network order).  Any thread. */
void in_port_release(int type, uint16_t port)
{
	spin_lock(&port_lock);
	ports_used[ptype(type)][port / 64] &= ~(1ULL << (port % 64));
	spin_unlock(&port_lock);
}

/* The CPU a socket known only by its local port belongs to (an
 * unconnected UDP socket, a listener): the flow hash with the other
 * fields zero.  A datagram for it that arrives elsewhere is forwarded
 * here (udp.c). */
int in_port_cpu(uint16_t lport)
{
	return netisr_hashcpu(netisr_hash4(0, 0, 0, lport));
}

/* ---- sockets ------------------------------------------------------------ */

/*
 * A socket's life: so_create makes it with no port and no CPU of its own
 * (CPU 0).  bind, listen or connect give it its CPU, before any packet
 * or table can name it, so moving it costs nothing.  From then on only
 * that CPU's netisr reads or writes it.  so_close sets SS_NOFDREF: the
 * caller is done, but a TCP connection may live on through FIN-WAIT or
 * TIME-WAIT, and the netisr frees the socket when the protocol is done
 * with it (tcp_close).  sockets_live counts them for the leak check.
 */

/* A zeroed socket of type on cpu, or NULL.  Never blocks (a netisr
 * calls it for a new connection). */
struct socket *so_alloc(int type, int cpu)
{
	struct socket *so = kmalloc(sizeof(*so), M_SOCKET, M_NOWAIT | M_ZERO);

	if (so == NULL)
		return NULL;
	so->so_type = type;
	so->so_cpu = cpu;
	TAILQ_INIT(&so->so_waiters);
	TAILQ_INIT(&so->so_acceptq);
	__atomic_fetch_add(&sockets_live, 1, __ATOMIC_RELAXED);
	return so;
}

/* Free so and all it holds.  On its netisr, with no call parked. */
void so_free(struct socket *so)
{
	KASSERT(TAILQ_EMPTY(&so->so_waiters), "so_free: socket %p still has "
		"parked calls; every call must be replied before the socket "
		"goes", so);
	if (so->so_on_timedq)
		TAILQ_REMOVE(&timedq[mycpuid], so, so_timed);
	if (so->so_port_owned)
		in_port_release(so->so_type, so->so_lport);
	if (so->so_lents != NULL)
		kfree(so->so_lents, M_SOCKET);
	sb_free(&so->so_rcv);
	sb_free(&so->so_snd);
	while (so->so_dgq != NULL) {	/* UDP: queued through m_nextpkt */
		struct mbuf *m = so->so_dgq;

		so->so_dgq = m->m_nextpkt;
		m->m_nextpkt = NULL;
		m_freem(m);
	}
	kfree(so, M_SOCKET);
	__atomic_fetch_sub(&sockets_live, 1, __ATOMIC_RELAXED);
}

/* Sockets alive on every CPU (the leak check's count).  Any thread. */
uint64_t so_live(void)
{
	return (uint64_t)sockets_live;
}

/* A new socket, on CPU 0 until bind, listen or connect moves it to the
 * CPU its port or 4-tuple hashes to.  No message yet: nobody else can
 * know the socket, so no netisr needs to own it.  EINVAL for a type
 * other than stream or datagram, ENETDOWN before the stack runs,
 * ENOBUFS without memory. */
int so_create(int type, struct socket **sop)
{
	struct socket *so;

	if (type != SOCK_STREAM && type != SOCK_DGRAM)
		return EINVAL;
	if (!netisr_running())
		return ENETDOWN;
	if ((so = so_alloc(type, 0)) == NULL)
		return ENOBUFS;
	*sop = so;
	return 0;
}

/* ---- calls, parking and waking -------------------------------------------- */

/*
 * A call that cannot finish now (no data, no room, no connection yet) is
 * parked: its request stays on so_waiters, unreplied, and its caller
 * stays asleep in lwkt_domsg.  Whenever the protocol changes something a
 * waiter may care about -- data or an ACK arrived, the state moved, an
 * error was posted -- it calls so_wakeup, which retries every parked
 * request in order and replies those that are now done.  No condition
 * variable, no lock: the retry runs on the thread that owns the state.
 * A reply is the only way out, so every call gets exactly one.
 */

/* The protocol's try; EAGAIN means "not yet". */
static int so_try(struct so_req *req)
{
	return req->so->so_type == SOCK_STREAM ? tcp_usr(req) : udp_usr(req);
}

/* May this request be parked?  Not with MSG_DONTWAIT: EAGAIN goes back
 * at once (SO_NONBLOCK sets the flag on every request of the socket). */
static bool so_may_block(const struct so_req *req)
{
	return !(req->flags & MSG_DONTWAIT);
}

/* On the netisr: try the call; park it if it must wait. */
static void so_dispatch(struct netmsg *nm)
{
	struct so_req *req = (struct so_req *)nm;
	struct socket *so = req->so;
	int error;

	if (so->so_cpu != mycpuid) {	/* moved meanwhile: follow it */
		lwkt_forwardmsg(netisr_port(so->so_cpu), &nm->nm_lmsg);
		return;
	}
	if (req->op == SO_OP_PARKED) {	/* the layer's own question */
		struct so_req *r;

		req->value = 0;
		TAILQ_FOREACH(r, &so->so_waiters, link)
			req->value++;
		lwkt_replymsg(&nm->nm_lmsg, 0);
		return;
	}
	error = so_try(req);
	if (error == SO_MOVED) {	/* the call moved it: follow it */
		lwkt_forwardmsg(netisr_port(so->so_cpu), &nm->nm_lmsg);
		return;
	}
	if (error == EAGAIN && so_may_block(req)) {
		TAILQ_INSERT_TAIL(&so->so_waiters, req, link);
		if (req->deadline != 0)
			so_timed_add(so);
		return;
	}
	if (error == EINPROGRESS && so_may_block(req)) {
		TAILQ_INSERT_TAIL(&so->so_waiters, req, link);
		if (req->deadline != 0)
			so_timed_add(so);
		return;
	}
	lwkt_replymsg(&nm->nm_lmsg, error);
}

/* so_wakeup's work when calls are parked (socketvar.h tests first). */
void so_wakeup_parked(struct socket *so)
{
	struct so_req *req, *next;

	TAILQ_FOREACH_SAFE(req, &so->so_waiters, link, next) {
		int error = so_try(req);

		if (error == EAGAIN || error == EINPROGRESS)
			continue;
		TAILQ_REMOVE(&so->so_waiters, req, link);
		lwkt_replymsg(&req->nm.nm_lmsg, error);
	}
}

/* On so's netisr: reply every parked call with error (the socket is
 * going away under them). */
void so_fail_waiters(struct socket *so, int error)
{
	struct so_req *req;

	while ((req = TAILQ_FIRST(&so->so_waiters)) != NULL) {
		TAILQ_REMOVE(&so->so_waiters, req, link);
		lwkt_replymsg(&req->nm.nm_lmsg, error);
	}
}

/*
 * The call in place, when the caller is on the socket's CPU and nobody
 * else acts as its netisr (netisr_enter explains why that is safe): the
 * same try so_dispatch makes, with no message and no switch.  Leaving
 * runs what the try queued for the netisr -- over the loopback the
 * segment it sent, and the other end's answer -- so a call that had to
 * wait is tried once more if anything ran.  True if the call is done
 * (*errorp its result); false if it must wait, and then it goes the
 * message way and is parked by the netisr as before.
 */
static bool so_call_here(struct so_req *req, int *errorp)
{
	int cpu = req->so->so_cpu;

	if (req->op == SO_OP_PARKED)
		return false;		/* a question for the netisr itself */
	for (int tries = 0; tries < 2; tries++) {
		int error, ran;

		if (!netisr_enter(cpu))
			return false;
		error = so_try(req);	/* a close may free the socket */
		ran = netisr_leave(cpu);
		if (error == SO_MOVED)
			return false;	/* on to its new CPU, as a message */
		if ((error != EAGAIN && error != EINPROGRESS) ||
		    !so_may_block(req)) {
			*errorp = error;
			NETSTAT_INC(so_calls_here);
			return true;
		}
		if (ran == 0)
			break;
	}
	return false;
}

/* Build a request; run it in place if it can be (so_call_here), else
 * send it to the socket's netisr and wait for the reply. */
static int so_call(struct so_req *req, struct socket *so, enum so_op op)
{
	struct lwkt_port rport;
	int timeo = op == SO_OP_RECV || op == SO_OP_ACCEPT ? so->so_rcvtimeo :
		    op == SO_OP_SEND || op == SO_OP_CONNECT ? so->so_sndtimeo :
		    0;
	int error;

	/* Every call asks (an INVARIANT: it is on the hot path). */
	INVARIANT(!netisr_on(so->so_cpu), "a socket call from the socket's "
		  "own netisr would wait for itself; protocol code uses the "
		  "protocol functions directly");
	req->so = so;
	req->op = op;
	if (so->so_nonblock)
		req->flags |= MSG_DONTWAIT;
	req->deadline = timeo > 0 ? ticks + (uint64_t)timeo : 0;
	if (so_call_here(req, &error))
		return error;
	lwkt_initport_thread(&rport, curthread);
	netmsg_init(&req->nm, &rport, so_dispatch);
	error = lwkt_domsg(netisr_port(so->so_cpu), &req->nm.nm_lmsg, 0);
	lwkt_destroyport(&rport);
	return error;
}

/* ---- the API ------------------------------------------------------------- */

/*
 * Each call below runs in the caller's thread only long enough to fill a
 * request and pick the CPU; everything that touches protocol state runs
 * on the netisr in so_dispatch.  The contracts are in net/socket.h: any
 * thread but a netisr may call them, they may block unless the socket
 * is non-blocking, and they return 0 or an errno.
 */

/* The port is reserved in the shared table here, under its spinlock
 * (port 0: an ephemeral one), before any message: two binds race for
 * the port, not for a netisr.  The socket then moves to the port's CPU,
 * whose netisr records the address.  A refused bind releases the port. */
int so_bind(struct socket *so, uint32_t addr, uint16_t port)
{
	struct so_req req = { .addr = addr, .port = port };
	int error;

	if (so->so_lport != 0)
		return EINVAL;
	if (port == 0) {
		if ((port = in_port_ephemeral(so->so_type)) == 0)
			return EADDRINUSE;
	} else if ((error = in_port_reserve(so->so_type, port)) != 0) {
		return error;
	}
	req.port = port;
	so->so_cpu = in_port_cpu(port);
	error = so_call(&req, so, SO_OP_BIND);
	if (error != 0)
		in_port_release(so->so_type, port);
	return error;
}

/* A listener goes into every CPU's copy of the table: a SYN may land
 * on any CPU (its 4-tuple decides), and must find it there. */
struct listener_msg {
	struct netmsg nm;
	struct socket *so;
};

/* On each netisr in turn (netisr_domsg_all): into this CPU's table. */
static void listener_add_cpu(struct netmsg *nm)
{
	tcp_listener_add(((struct listener_msg *)nm)->so);
	lwkt_replymsg(&nm->nm_lmsg, 0);
}

/* On each netisr in turn: out of this CPU's table. */
static void listener_remove_cpu(struct netmsg *nm)
{
	tcp_listener_remove(((struct listener_msg *)nm)->so);
	lwkt_replymsg(&nm->nm_lmsg, 0);
}

/* Listen: an unbound socket gets an ephemeral port first; the port's
 * netisr makes it a listener with an accept queue of backlog (at least
 * one); then every CPU's table gets its entry, one netisr at a time, so
 * a SYN that lands anywhere finds it.  Listening twice is harmless. */
int so_listen(struct socket *so, int backlog)
{
	struct so_req req = { .value = backlog > 0 ? backlog : 1 };
	struct listener_msg lm = { .so = so };
	int error;

	if (so->so_type != SOCK_STREAM)
		return EOPNOTSUPP;
	if (so->so_state & SS_LISTENING)
		return 0;
	if (so->so_lport == 0 && (error = so_bind(so, 0, 0)) != 0)
		return error;
	if ((error = so_call(&req, so, SO_OP_LISTEN)) != 0)
		return error;
	/* Its entry in each CPU's table (socketvar.h); freed with it. */
	so->so_lents = kmalloc(sizeof(*so->so_lents) * (size_t)ncpus,
			       M_SOCKET, M_WAITOK | M_ZERO);
	netisr_domsg_all(&lm.nm, listener_add_cpu);
	return 0;
}

/* Accept: parked on the listener until a connection whose handshake
 * completed arrives on its queue (tcp_handoff brings it from the CPU
 * its SYN hashed to).  The new socket stays on that CPU. */
int so_accept(struct socket *so, struct socket **newp, uint32_t *faddr,
	      uint16_t *fport)
{
	struct so_req req = { 0 };
	int error = so_call(&req, so, SO_OP_ACCEPT);

	if (error != 0)
		return error;
	*newp = req.newso;
	if (faddr)
		*faddr = req.newso->so_faddr;
	if (fport)
		*fport = req.newso->so_fport;
	return 0;
}

/* Pick the local address and port of a connection to addr, and the
 * CPU its 4-tuple hashes to. */
static int so_choose_local(struct socket *so, uint32_t addr)
{
	uint32_t nexthop;
	struct ifnet *ifp = if_route(addr, &nexthop);

	if (so->so_laddr == 0)
		so->so_laddr = ifp ? ifp->if_addr :
			       if_is_local(addr) ? addr : 0;
	if (so->so_laddr == 0)
		return ENETUNREACH;
	if (so->so_lport == 0) {
		if ((so->so_lport = in_port_ephemeral(so->so_type)) == 0)
			return EADDRINUSE;
		so->so_port_owned = true;
	}
	return 0;
}

/* Connect.  UDP: bound first if need be; the datagram protocol moves
 * the socket to its 4-tuple's CPU itself (SO_MOVED).  TCP: the local
 * address and port are chosen here, which fixes the 4-tuple, so the
 * socket goes to that CPU before the SYN is sent -- the CPU where every
 * segment of the connection will arrive. */
int so_connect(struct socket *so, uint32_t addr, uint16_t port)
{
	struct so_req req = { .addr = addr, .port = port };
	int error;

	if (so->so_type == SOCK_DGRAM) {
		if (so->so_lport == 0 && (error = so_bind(so, 0, 0)) != 0)
			return error;
		return so_call(&req, so, SO_OP_CONNECT);
	}
	if (so->so_state & (SS_ISCONNECTED | SS_LISTENING) || so->so_tcp)
		return EALREADY;
	if ((error = so_choose_local(so, addr)) != 0)
		return error;
	so->so_cpu = netisr_hashcpu(netisr_hash4(addr, so->so_laddr, port,
						 so->so_lport));
	return so_call(&req, so, SO_OP_CONNECT);
}

/* Send (to addr:port for an unconnected UDP socket, which is bound to
 * an ephemeral port on its first send).  *done says how many bytes were
 * taken, also when an error or a deadline ends a partial send. */
int so_sendto(struct socket *so, const void *buf, size_t len, int flags,
	      uint32_t addr, uint16_t port, size_t *done)
{
	struct so_req req = { .sbuf = buf, .len = len, .flags = flags,
			      .addr = addr, .port = port };
	int error;

	if (so->so_type == SOCK_DGRAM && so->so_lport == 0 &&
	    (error = so_bind(so, 0, 0)) != 0)
		return error;
	error = so_call(&req, so, SO_OP_SEND);
	if (done)
		*done = req.done;
	return error;
}

int so_send(struct socket *so, const void *buf, size_t len, int flags,
	    size_t *done)
{
	return so_sendto(so, buf, len, flags, 0, 0, done);
}

/* Receive, and say who sent it (UDP: the datagram's source; TCP:
 * zero, a stream has one peer).  *done is the byte count, 0 at end of
 * stream. */
int so_recvfrom(struct socket *so, void *buf, size_t len, int flags,
		uint32_t *addr, uint16_t *port, size_t *done)
{
	struct so_req req = { .rbuf = buf, .len = len, .flags = flags };
	int error = so_call(&req, so, SO_OP_RECV);

	if (done)
		*done = req.done;
	if (addr)
		*addr = req.addr;
	if (port)
		*port = req.port;
	return error;
}

int so_recv(struct socket *so, void *buf, size_t len, int flags,
	    size_t *done)
{
	return so_recvfrom(so, buf, len, flags, NULL, NULL, done);
}

/* Shutdown: SHUT_RD, SHUT_WR (TCP sends its FIN) or both; EINVAL for
 * anything else, checked before any message. */
int so_shutdown(struct socket *so, int how)
{
	struct so_req req = { .value = how };

	if (how < SHUT_RD || how > SHUT_RDWR)
		return EINVAL;
	return so_call(&req, so, SO_OP_SHUTDOWN);
}

int so_close(struct socket *so)
{
	struct so_req req = { 0 };
	struct listener_msg lm = { .so = so };

	/* A listener leaves every CPU's table first: then no new SYN can
	 * find it, and the close below may free it. */
	if (so->so_state & SS_LISTENING)
		netisr_domsg_all(&lm.nm, listener_remove_cpu);

	/* The netisr frees the socket (now, or when the connection is
	 * over); the request lives on our stack, so that is safe. */
	return so_call(&req, so, SO_OP_CLOSE);
}

/* Options.  The three the caller's own calls read (non-blocking, the
 * two deadlines) are plain fields of the socket, set here; TCP_NODELAY
 * changes the connection's sending and goes to the netisr. */
int so_setopt(struct socket *so, int opt, int value)
{
	switch (opt) {
	case SO_NONBLOCK:
		so->so_nonblock = value != 0;
		return 0;
	case SO_RCVTIMEO:
		so->so_rcvtimeo = value;
		return 0;
	case SO_SNDTIMEO:
		so->so_sndtimeo = value;
		return 0;
	case TCP_NODELAY: {
		struct so_req req = { .value = value };

		return so_call(&req, so, SO_OP_SETOPT);
	}
	}
	return EINVAL;
}

/* The queries below each ask the owning netisr, which alone may read
 * the state they report; the answer comes back in req.value. */

int so_error(struct socket *so)
{
	struct so_req req = { 0 };

	so_call(&req, so, SO_OP_ERROR);
	return req.value;
}

int so_readable(struct socket *so)
{
	struct so_req req = { 0 };

	so_call(&req, so, SO_OP_READABLE);
	return req.value;
}

int so_parked(struct socket *so)
{
	struct so_req req = { 0 };

	so_call(&req, so, SO_OP_PARKED);
	return req.value;
}

int so_tcpstate(struct socket *so)
{
	struct so_req req = { 0 };

	so_call(&req, so, SO_OP_STATE);
	return req.value;
}

/* The addresses are fixed by bind and connect before the socket is
 * shared, so reading them needs no message. */
void so_sockname(struct socket *so, uint32_t *addr, uint16_t *port)
{
	*addr = so->so_laddr;
	*port = so->so_lport;
}

void so_peername(struct socket *so, uint32_t *addr, uint16_t *port)
{
	*addr = so->so_faddr;
	*port = so->so_fport;
}

int so_cpu(struct socket *so)
{
	return so->so_cpu;
}

/* ---- readiness, for poll(2) ----------------------------------------------- */

/* A question for the owning netisr: which events hold for so now. */
struct poll_msg {
	struct netmsg nm;
	struct socket *so;
	int events;
};

/*
 * What a socket is ready for, on its netisr.  UDP: readable with a
 * datagram queued, always writable.  A listener: readable with a
 * connection to accept.  A TCP socket: readable with bytes, at end of
 * stream or with an error (a read then returns at once); writable when
 * connected with room to send, or when a send would fail at once
 * (shut, or with no connection: never connected, refused, reset --
 * which is also POLLHUP, as on Linux).  A pending error is POLLERR.
 */
static int so_poll_events(const struct socket *so)
{
	int ev = so->so_error != 0 ? POLLERR : 0;
	int shut = SS_CANTRCVMORE | SS_CANTSENDMORE;

	if (so->so_type == SOCK_DGRAM)
		return ev | POLLOUT | (so->so_dgq != NULL ? POLLIN : 0);
	if (so->so_state & SS_LISTENING)
		return ev | (TAILQ_EMPTY(&so->so_acceptq) ? 0 : POLLIN);
	if (so->so_tcp == NULL || (so->so_state & shut) == shut)
		return ev | POLLIN | POLLOUT | POLLHUP;
	if (so->so_rcv.sb_len > 0 || so->so_state & SS_CANTRCVMORE || ev)
		ev |= POLLIN;
	if ((so->so_state & SS_ISCONNECTED && sb_space(&so->so_snd) > 0) ||
	    so->so_state & SS_CANTSENDMORE)
		ev |= POLLOUT;
	return ev;
}

/* On the netisr: answer, or follow the socket if it moved. */
static void so_poll_msg(struct netmsg *nm)
{
	struct poll_msg *pm = (struct poll_msg *)nm;

	if (pm->so->so_cpu != mycpuid) {
		lwkt_forwardmsg(netisr_port(pm->so->so_cpu), &nm->nm_lmsg);
		return;
	}
	pm->events = so_poll_events(pm->so);
	lwkt_replymsg(&nm->nm_lmsg, 0);
}

/* Which of POLLIN, POLLOUT, POLLERR, POLLHUP (kern/file.h) hold for so
 * now.  Any thread but a netisr; waits only for the netisr's answer. */
int so_poll(struct socket *so)
{
	struct poll_msg pm = { .so = so };
	struct lwkt_port rport;

	KASSERT(!netisr_on(so->so_cpu), "so_poll from the socket's own "
		"netisr would wait for itself");
	lwkt_initport_thread(&rport, curthread);
	netmsg_init(&pm.nm, &rport, so_poll_msg);
	lwkt_domsg(netisr_port(so->so_cpu), &pm.nm.nm_lmsg, 0);
	lwkt_destroyport(&rport);
	return pm.events;
}

/* ---- deadlines and the per-CPU tick --------------------------------------- */

/*
 * Each CPU has one callout and one message for its net tick.  The
 * callout runs in softclock and only sends the message; the work (TCP's
 * timers, the deadlines of parked calls) runs on the netisr, where the
 * state lives.  The tick re-arms itself only while something on the CPU
 * has a deadline, so an idle stack costs nothing.  The message is
 * static and goes out only when it is home (lwkt_checkmsg): a slow
 * netisr misses ticks instead of queueing them.
 */

static void net_tick(struct netmsg *nm);

/* The callout (softclock, this CPU): the tick's message, if home. */
static void net_tick_fire(void *arg)
{
	struct netmsg *nm = arg;

	if (lwkt_checkmsg(&nm->nm_lmsg))
		lwkt_sendmsg(netisr_port(mycpuid), &nm->nm_lmsg);
}

/* Timed lists, the ticks' callouts and messages, UDP's tables.  Boot,
 * before the netisrs start. */
void so_init(void)
{
	for (int i = 0; i < MAXCPU; i++) {
		TAILQ_INIT(&timedq[i]);
		callout_init(&net_tick_callout[i]);
		netmsg_init(&net_tick_msg[i], netisr_done_port(), net_tick);
	}
	net_tick_ready = true;
	udp_init();
}

/* Make sure this CPU's tick comes within a tick.  On a netisr (the
 * callout is this CPU's). */
void net_tick_arm(void)
{
	int cpu = mycpuid;

	KASSERT(net_tick_ready, "net_tick_arm before so_init");
	if (!callout_pending(&net_tick_callout[cpu]))
		callout_reset(&net_tick_callout[cpu], 1, net_tick_fire,
			      &net_tick_msg[cpu]);
}

/* Once a tick while anything on this CPU has a deadline. */
static void net_tick(struct netmsg *nm)
{
	bool again = so_tick();

	again |= tcp_tick();
	lwkt_replymsg(&nm->nm_lmsg, 0);
	if (again)
		net_tick_arm();
}

/* Wait (up to 2 s) until no CPU's tick is pending or travelling: the
 * leak checks must not count a tick's work in progress.  Thread
 * context, not a netisr. */
void net_tick_quiesce(void)
{
	for (int t = 0; t < 2 * HZ; t++) {
		bool busy = false;

		for (int cpu = 0; cpu < ncpus; cpu++)
			busy |= callout_pending(&net_tick_callout[cpu]) ||
				!lwkt_checkmsg(&net_tick_msg[cpu].nm_lmsg);
		if (!busy)
			return;
		tsleep(&net_tick_quiesce, 0, "nettick", 1);
	}
}

/* so has a parked call with a deadline: watch it on this CPU's tick.
 * On so's netisr. */
void so_timed_add(struct socket *so)
{
	net_tick_arm();
	if (!so->so_on_timedq) {
		TAILQ_INSERT_TAIL(&timedq[mycpuid], so, so_timed);
		so->so_on_timedq = true;
	}
}

/* This CPU's parked calls whose deadline passed get EAGAIN; sockets
 * with none left leave the list.  True while any deadline remains.  On
 * the netisr, from net_tick. */
bool so_tick(void)
{
	struct socket *so, *next;

	TAILQ_FOREACH_SAFE(so, &timedq[mycpuid], so_timed, next) {
		struct so_req *req, *rnext;
		bool timed = false;

		TAILQ_FOREACH_SAFE(req, &so->so_waiters, link, rnext) {
			if (req->deadline == 0)
				continue;
			if (req->deadline > ticks) {
				timed = true;
				continue;
			}
			TAILQ_REMOVE(&so->so_waiters, req, link);
			lwkt_replymsg(&req->nm.nm_lmsg, EAGAIN);
		}
		if (!timed) {
			TAILQ_REMOVE(&timedq[mycpuid], so, so_timed);
			so->so_on_timedq = false;
		}
	}
	return !TAILQ_EMPTY(&timedq[mycpuid]);
}

static uint64_t so_leak_sample(void)
{
	return so_live();
}

KTEST_LEAKCHECK(sockets, "sockets", so_leak_sample, NULL);
