/*
 * tcp_subr.c - TCP connections: their tables, timers, life and death.
 *
 * Each CPU keeps its own list of connections, a hash table of them by
 * 4-tuple (what a segment's lookup walks: one short chain, however many
 * connections the CPU has), and its own copy of the listener table.  A connection is created on the CPU its 4-tuple hashes
 * to -- by connect (the socket moved there first) or by a SYN that
 * arrived there -- and lives and dies there.  A listener is put into
 * every CPU's copy (listen runs on each netisr in turn), so a SYN finds
 * it wherever it lands; the new connection stays on the SYN's CPU, and
 * once its handshake completes it travels, as a message, to the
 * listener's CPU to wait on the accept queue (tcp_handoff).
 *
 * Timers are deadlines in ticks kept in the tcpcb: retransmission,
 * persist, delayed ACK, TIME-WAIT.  While a CPU has connections its net
 * tick runs every tick and calls tcp_tick, which fires what is due.  A
 * timer is then just a field: nothing to cancel when a connection dies.
 *
 * The rollup: input marks connections that owe an ACK (TF_ACKNOW) and
 * queues them here; when the netisr's queue is empty, tcp_rollup sends
 * one segment for each.  A burst of segments processed in one batch is
 * acknowledged once (DragonFly's ACK aggregation).
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netisr.h>
#include <net/netstat.h>
#include <net/socketvar.h>
#include <net/tcp_var.h>

MALLOC_DEFINE(M_TCPCB, "tcpcb", "TCP control blocks");

TAILQ_HEAD(tcpcb_list, tcpcb);

/* Per CPU, owned by that CPU's netisr. */
static struct tcpcb_list tcp_conns[MAXCPU];	/* every connection */
#define TCP_HASH_SIZE	256			/* buckets per CPU */
static struct tcpcb_list tcp_hash[MAXCPU][TCP_HASH_SIZE];	/* by 4-tuple */
static struct tcpcb_list tcp_outq[MAXCPU];	/* owe output (rollup) */
/* Per CPU: every listener, each through its own entry for this CPU (a
 * single link field cannot be on several lists: with two CPUs the lists
 * once shared one, and closing a listener corrupted the other CPU's). */
static TAILQ_HEAD(, so_listen_ent) tcp_listeners[MAXCPU];
static volatile int64_t tcpcbs_live;
static uint32_t tcp_iss_seed;

const char *const tcp_state_names[] = {
	"CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED",
	"CLOSE_WAIT", "FIN_WAIT_1", "CLOSING", "LAST_ACK", "FIN_WAIT_2",
	"TIME_WAIT",
};

static void tcp_rollup(void);

/* At boot, before any netisr runs: empty tables on every CPU, the
 * per-boot secret of the initial sequence numbers, and the rollup
 * registered with the netisrs (it runs at the end of each batch). */
void tcp_init(void)
{
	for (int i = 0; i < MAXCPU; i++) {
		TAILQ_INIT(&tcp_conns[i]);
		for (int b = 0; b < TCP_HASH_SIZE; b++)
			TAILQ_INIT(&tcp_hash[i][b]);
		TAILQ_INIT(&tcp_outq[i]);
		TAILQ_INIT(&tcp_listeners[i]);
	}
	tcp_iss_seed = (uint32_t)clock_monotonic_ns() * 2654435761u;
	netisr_register_rollup(tcp_rollup);
}

/* RFC 6528's idea, simply: a clock (4 µs steps) plus a per-boot
 * secret, so sequence numbers are hard to guess and move forward. */
uint32_t tcp_iss(void)
{
	return tcp_iss_seed + (uint32_t)(clock_monotonic_ns() / 4000);
}

/*
 * A tcpcb for socket so, in CLOSED, with its send and receive rings
 * (TCP_SNDBUF, TCP_RCVBUF), the peer's MSS at RFC 9293's default until
 * its SYN says more, the initial RTO (RFC 6298 2.1), and ssthresh
 * "arbitrarily high" (RFC 5681 3.1).  NULL when memory is short: it
 * runs on a netisr for a passive open, so it takes M_NOWAIT and never
 * blocks.  The tcpcb is in no table yet: tcp_attach_conn puts it there
 * once its 4-tuple is known.
 */
struct tcpcb *tcp_newtcpcb(struct socket *so)
{
	struct tcpcb *tp = kmalloc(sizeof(*tp), M_TCPCB, M_NOWAIT | M_ZERO);

	if (tp == NULL)
		return NULL;
	if (sb_init(&so->so_snd, TCP_SNDBUF) != 0 ||
	    sb_init(&so->so_rcv, TCP_RCVBUF) != 0) {
		sb_free(&so->so_snd);
		kfree(tp, M_TCPCB);
		return NULL;
	}
	tp->t_so = so;
	so->so_tcp = tp;
	tp->t_maxseg = TCP_MSS_DEFAULT;
	tp->t_rto = TCP_RTO_INIT;
	tp->snd_cwnd = 3 * TCP_MSS;	/* RFC 5681 3.1, refined at SYN */
	tp->snd_ssthresh = 0x7fffffff;	/* "arbitrarily high" */
	tp->t_flags = so->so_nodelay ? TF_NODELAY : 0;
	__atomic_fetch_add(&tcpcbs_live, 1, __ATOMIC_RELAXED);
	return tp;
}

/* The MSS we offer a peer at faddr (RFC 9293 3.7.1): for one of our own
 * addresses the loopback's, whose segments never meet a wire; for any
 * other what fits in an Ethernet frame, 1,500 bytes less the IP and TCP
 * headers.  Any CPU; touches nothing. */
uint16_t tcp_mss_for(uint32_t faddr)
{
	return if_is_local(faddr) ? TCP_MSS_LOOP : TCP_MSS;
}

/* The bucket of a 4-tuple in this CPU's table.  Not the flow hash (the
 * CPU is already chosen): a multiplication that mixes the fields. */
static struct tcpcb_list *tcp_bucket(uint32_t faddr, uint16_t fport,
				     uint32_t laddr, uint16_t lport)
{
	uint32_t key = faddr ^ laddr ^ ((uint32_t)fport << 16 | lport);

	return &tcp_hash[mycpuid][(key * 2654435761u) >> 24];
}

_Static_assert(TCP_HASH_SIZE == 256, "tcp_bucket keeps the top 8 bits");

/* The connection's 4-tuple is set (connect, or the SYN that made it):
 * into this CPU's list and table. */
void tcp_attach_conn(struct tcpcb *tp)
{
	struct socket *so = tp->t_so;

	TAILQ_INSERT_TAIL(&tcp_conns[mycpuid], tp, t_link);
	TAILQ_INSERT_HEAD(tcp_bucket(so->so_faddr, so->so_fport, so->so_laddr,
				     so->so_lport), tp, t_hashlink);
	net_tick_arm();
}

/* The connection with this 4-tuple on this CPU, or NULL.  Only this
 * CPU's table is searched: a connection lives on the CPU its 4-tuple
 * hashes to, and the flow hash brought the segment there too.  On the
 * netisr (or the thread acting for it). */
struct tcpcb *tcp_lookup(uint32_t faddr, uint16_t fport, uint32_t laddr,
			 uint16_t lport)
{
	struct tcpcb *tp;

	TAILQ_FOREACH(tp, tcp_bucket(faddr, fport, laddr, lport), t_hashlink) {
		struct socket *so = tp->t_so;

		if (so->so_fport == fport && so->so_lport == lport &&
		    so->so_faddr == faddr && so->so_laddr == laddr)
			return tp;
	}
	return NULL;
}

/* A listener for lport on laddr in this CPU's copy of the table: one
 * bound to that very address or to any (0); the first that matches.
 * NULL if none.  On the netisr. */
struct socket *tcp_listener(uint32_t laddr, uint16_t lport)
{
	struct so_listen_ent *e;

	TAILQ_FOREACH(e, &tcp_listeners[mycpuid], link)
		if (e->so->so_lport == lport &&
		    (e->so->so_laddr == 0 || e->so->so_laddr == laddr))
			return e->so;
	return NULL;
}

/* listen() and close() of a listener run this on every netisr. */
void tcp_listener_add(struct socket *so)
{
	struct so_listen_ent *e = &so->so_lents[mycpuid];

	KASSERT(so->so_lents != NULL, "tcp_listener_add: so_listen makes a "
		"listener's per-CPU entries before any CPU adds it");
	e->so = so;
	TAILQ_INSERT_TAIL(&tcp_listeners[mycpuid], e, link);
}

/* close() of a listener, on every netisr in turn: out of this CPU's
 * table, through this CPU's own entry. */
void tcp_listener_remove(struct socket *so)
{
	TAILQ_REMOVE(&tcp_listeners[mycpuid], &so->so_lents[mycpuid], link);
}

/* Move tp to state, counting the ones netstat shows.  TIME-WAIT stops
 * every other timer and starts the 2 MSL wait (RFC 9293 3.6.1: long
 * enough for any segment of this connection still in the network to
 * die, so a new connection with the same 4-tuple never takes it for
 * its own). */
void tcp_set_state(struct tcpcb *tp, enum tcp_state state)
{
	if (state == TCPS_ESTABLISHED)
		NETSTAT_INC(tcp_established);
	if (state == TCPS_TIME_WAIT) {
		NETSTAT_INC(tcp_timewait);
		tp->t_rexmt = tp->t_persist = tp->t_delack = 0;
		tp->t_2msl = ticks + TCP_2MSL;
	}
	tp->t_state = state;
}

/* Free the out-of-order queue. */
static void tcp_reass_flush(struct tcpcb *tp)
{
	while (tp->t_reass != NULL) {
		struct mbuf *m = tp->t_reass;

		tp->t_reass = m->m_nextpkt;
		m->m_nextpkt = NULL;
		m_freem(m);
	}
	tp->t_reass_len = 0;
}

/*
 * The connection is over: out of this CPU's list, table and rollup
 * queue, its out-of-order segments freed, the tcpcb freed.  The socket
 * stays while its user holds it: parked calls wake and see the end.  If
 * nobody does (SS_NOFDREF: a connection never accepted, or one its user
 * already closed), its parked calls fail and the socket goes too.  On
 * the connection's netisr.  Always NULL, so a caller writes "return
 * tcp_close(tp)" and cannot touch tp again by mistake.
 */
struct tcpcb *tcp_close(struct tcpcb *tp)
{
	struct socket *so = tp->t_so;

	NETSTAT_INC(tcp_closed);
	TAILQ_REMOVE(&tcp_conns[mycpuid], tp, t_link);
	TAILQ_REMOVE(tcp_bucket(so->so_faddr, so->so_fport, so->so_laddr,
				so->so_lport), tp, t_hashlink);
	if (tp->t_flags & TF_ONOUTPUTQ)
		TAILQ_REMOVE(&tcp_outq[mycpuid], tp, t_outq);
	tcp_reass_flush(tp);
	tp->t_state = TCPS_CLOSED;
	so->so_tcp = NULL;
	so->so_state |= SS_CANTRCVMORE | SS_CANTSENDMORE;
	so->so_state &= ~SS_ISCONNECTED;
	kfree(tp, M_TCPCB);
	__atomic_fetch_sub(&tcpcbs_live, 1, __ATOMIC_RELAXED);
	if (so->so_state & SS_NOFDREF) {
		so_fail_waiters(so, ECONNRESET);
		so_free(so);
	} else {
		so_wakeup(so);		/* parked calls see the end */
	}
	return NULL;
}

/*
 * On each netisr in turn (netisr_domsg_all from netstat): this CPU's
 * connections and listeners, one line each.  Read only by their owner,
 * so the lists need no lock even while the shell prints them.
 */
static void tcp_print_cpu(struct netmsg *nm)
{
	struct so_listen_ent *e;
	struct tcpcb *tp;
	struct socket *so;
	char l[16], f[16];
	int n = 0, nlisten = 0;

	TAILQ_FOREACH(e, &tcp_listeners[mycpuid], link)
		nlisten++;
	kprintf("  cpu %d: %d listeners\n", mycpuid, nlisten);
	TAILQ_FOREACH(tp, &tcp_conns[mycpuid], t_link) {
		so = tp->t_so;
		inet_ntoa_r(so->so_laddr, l, sizeof(l));
		inet_ntoa_r(so->so_faddr, f, sizeof(f));
		kprintf("  cpu %d: tcp %s:%u %s:%u %s\n", mycpuid, l,
			ntohs(so->so_lport), f, ntohs(so->so_fport),
			tcp_state_names[tp->t_state]);
		n++;
	}
	kprintf("  cpu %d: %d connections\n", mycpuid, n);
	lwkt_replymsg(&nm->nm_lmsg, 0);
}

/* netstat: every CPU's connections and listeners, each CPU printed by
 * its own netisr.  From a thread that is not a netisr: it waits for each
 * netisr in turn. */
void tcp_print_conns(void)
{
	struct netmsg nm;

	KASSERT(!netisr_on(mycpuid), "tcp_print_conns waits for every "
		"netisr, so a netisr must not call it");
	netisr_domsg_all(&nm, tcp_print_cpu);
}

/* End a connection abortively: a RST to the peer if it ever heard from
 * us, the error for the user's next call, then tcp_close.  On its
 * netisr.  Always NULL (the tcpcb is gone). */
struct tcpcb *tcp_drop(struct tcpcb *tp, int error)
{
	if (TCPS_HAVERCVDSYN(tp->t_state) && tp->t_state != TCPS_TIME_WAIT)
		tcp_respond(tp, tp->snd_nxt, tp->rcv_nxt, TH_RST | TH_ACK);
	NETSTAT_INC(tcp_drops);
	tp->t_so->so_error = error;
	tp->t_flags |= TF_WASRESET;
	return tcp_close(tp);
}

/* Connections alive on every CPU (the leak check's count). */
uint64_t tcp_live(void)
{
	return (uint64_t)tcpcbs_live;
}

/* ---- round trip time (RFC 6298) ------------------------------------------ */

/*
 * SRTT is kept times 8 and RTTVAR times 4, in ticks, BSD's fixed point:
 * the RFC's gains of 1/8 and 1/4 become shifts, and one tick of
 * granularity stays visible.  One segment at a time is timed
 * (t_rtttime, t_rtseq); a resend cancels the measurement (Karn).
 */

/* Fold one round trip of rtt ticks into SRTT/RTTVAR and set the RTO;
 * the backoff starts over.  On the connection's netisr. */
void tcp_rtt_sample(struct tcpcb *tp, int rtt)
{
	NETSTAT_INC(tcp_rttupdated);
	if (rtt < 1)
		rtt = 1;
	if (tp->t_srtt == 0) {		/* first sample: SRTT = R, VAR = R/2 */
		tp->t_srtt = rtt << 3;
		tp->t_rttvar = rtt << 1;
	} else {
		/* RTTVAR += (|SRTT - R| - RTTVAR) / 4; SRTT += (R - SRTT) / 8,
		 * in the scaled units. */
		int delta = rtt - (tp->t_srtt >> 3);

		tp->t_srtt += delta;
		if (delta < 0)
			delta = -delta;
		tp->t_rttvar += delta - (tp->t_rttvar >> 2);
	}
	/* RTO = SRTT + max(G, 4 * RTTVAR), within [min, max]. */
	tp->t_rto = (tp->t_srtt >> 3) + MAX(1, tp->t_rttvar);
	tp->t_rto = MAX(tp->t_rto, TCP_RTO_MIN);
	tp->t_rto = MIN(tp->t_rto, TCP_RTO_MAX);
	tp->t_rxtshift = 0;
}

/* (Re)start the retransmission timer: RTO doubled per resend so far
 * (at most 2^10), never beyond TCP_RTO_MAX. */
void tcp_rexmt_arm(struct tcpcb *tp)
{
	uint64_t rto = (uint64_t)tp->t_rto << MIN(tp->t_rxtshift, 10);

	tp->t_rexmt = ticks + MIN(rto, (uint64_t)TCP_RTO_MAX);
}

/* ---- timers ------------------------------------------------------------- */

/*
 * A timer is a deadline in ticks in the tcpcb (0: not running).  The CPU's
 * net tick (socket.c) calls tcp_tick every tick while the CPU has
 * connections; tcp_tick walks the CPU's list and fires what is due.
 * Nothing to cancel when a connection dies, no callout per connection,
 * and the timers run on the netisr like everything else the tcpcb sees.
 */

/*
 * The retransmission timer fired (RFC 6298 5.4-5.7, RFC 5681 3.1): the
 * oldest unacknowledged segment is taken for lost.  Back off (the next
 * RTO doubles), give up after TCP_MAX_RETRIES (TCP_SYN_RETRIES while
 * no SYN came from the peer), shrink the congestion window to one segment, and go back to
 * SND.UNA: tcp_output resends from there, within the peer's window like
 * any data.  NULL if the connection was dropped.
 */
static struct tcpcb *tcp_timer_rexmt(struct tcpcb *tp)
{
	uint32_t flight = tp->snd_max - tp->snd_una;
	int limit = TCPS_HAVERCVDSYN(tp->t_state) ? TCP_MAX_RETRIES :
		    TCP_SYN_RETRIES;

	tp->t_rexmt = 0;
	if (++tp->t_rxtshift > limit)
		return tcp_drop(tp, ETIMEDOUT);
	NETSTAT_INC(tcp_rexmt_timeout);
	/* Loss: ssthresh = max(FlightSize / 2, 2 SMSS), cwnd = 1 SMSS. */
	tp->snd_ssthresh = MAX(flight / 2, 2u * tp->t_maxseg);
	tp->snd_cwnd = tp->t_maxseg;
	tp->t_flags &= ~TF_FASTRECOVERY;
	tp->t_dupacks = 0;
	tp->t_rtttime = 0;		/* Karn: no sample from a resend */
	/* Go back: resend from the hole.  TF_SENTFIN stays: the FIN keeps
	 * its number (snd_max - 1), and an ACK of snd_max still acks it,
	 * even if it comes before we resend the FIN. */
	tp->snd_nxt = tp->snd_una;
	tcp_output(tp);
	return tp;
}

/* Zero window: send a one-byte probe, back off (RFC 9293 3.8.6.1). */
static void tcp_timer_persist(struct tcpcb *tp)
{
	int backoff = MIN(tp->t_rxtshift, 7);

	NETSTAT_INC(tcp_persist_probe);
	tp->t_persist = ticks + MAX((uint64_t)tp->t_rto << backoff,
				    (uint64_t)TCP_PERSIST_MIN);
	if (tp->t_rxtshift < 7)
		tp->t_rxtshift++;
	tcp_output_probe(tp);
}

/* Run one connection's timers that are due; NULL if it is gone. */
static struct tcpcb *tcp_timers(struct tcpcb *tp)
{
	uint64_t now = ticks;

	if (tp->t_2msl && tp->t_2msl <= now)
		return tcp_close(tp);
	if (tp->t_delack && tp->t_delack <= now) {
		tp->t_delack = 0;
		if (tp->t_flags & TF_DELACK) {
			NETSTAT_INC(tcp_delack_timer);
			tp->t_flags |= TF_ACKNOW;
			tcp_output(tp);
		}
	}
	if (tp->t_rexmt && tp->t_rexmt <= now &&
	    (tp = tcp_timer_rexmt(tp)) == NULL)
		return NULL;
	if (tp->t_persist && tp->t_persist <= now)
		tcp_timer_persist(tp);
	return tp;
}

/* This CPU's connections' due timers; true while any connection is
 * left (the net tick keeps ticking).  On the netisr. */
bool tcp_tick(void)
{
	struct tcpcb *tp, *next;

	TAILQ_FOREACH_SAFE(tp, &tcp_conns[mycpuid], t_link, next)
		tcp_timers(tp);
	return !TAILQ_EMPTY(&tcp_conns[mycpuid]);
}

/* ---- the rollup ------------------------------------------------------------ */

/* Queue tp for one tcp_output at the end of this netisr's batch (once,
 * however many segments of the batch asked). */
void tcp_output_later(struct tcpcb *tp)
{
	if (!(tp->t_flags & TF_ONOUTPUTQ)) {
		tp->t_flags |= TF_ONOUTPUTQ;
		TAILQ_INSERT_TAIL(&tcp_outq[mycpuid], tp, t_outq);
	}
}

/* The rollup (registered with the netisr): the batch is over, send
 * what each queued connection owes. */
static void tcp_rollup(void)
{
	struct tcpcb *tp;

	while ((tp = TAILQ_FIRST(&tcp_outq[mycpuid])) != NULL) {
		TAILQ_REMOVE(&tcp_outq[mycpuid], tp, t_outq);
		tp->t_flags &= ~TF_ONOUTPUTQ;
		tcp_output(tp);
	}
}

/* ---- handing a new connection to its listener ------------------------------ */

/*
 * On the listener's netisr: queue the new connection for accept.  If the
 * listener has gone (closed while the handshake ran) or its queue is
 * full, the same message goes back to the connection's netisr, which
 * resets it.
 */
static void tcp_handoff_arrive(struct netmsg *nm)
{
	struct socket *so = (struct socket *)((uint8_t *)nm -
		__builtin_offsetof(struct socket, so_handoff));
	struct socket *head = tcp_listener(so->so_laddr, so->so_lport);

	lwkt_replymsg(&nm->nm_lmsg, 0);
	if (head == NULL || head->so_cpu != mycpuid ||
	    head->so_qlen >= head->so_backlog) {
		netmsg_init(nm, netisr_done_port(), tcp_refuse);
		lwkt_sendmsg(netisr_port(so->so_cpu), &nm->nm_lmsg);
		return;
	}
	TAILQ_INSERT_TAIL(&head->so_acceptq, so, so_qlink);
	head->so_qlen++;
	so_wakeup(head);
}

/* The listener lives on the CPU its port hashes to (in_port_cpu). */
void tcp_handoff(struct socket *so)
{
	netmsg_init(&so->so_handoff, netisr_done_port(), tcp_handoff_arrive);
	lwkt_sendmsg(netisr_port(in_port_cpu(so->so_lport)),
		     &so->so_handoff.nm_lmsg);
}

/* ---- tests and the shell ---------------------------------------------------- */

/* Each netisr ends its connections in TIME_WAIT at once (a suite ends;
 * the next must not see them as leaks). */
static void tcp_drain_cpu(struct netmsg *nm)
{
	struct tcpcb *tp, *next;

	TAILQ_FOREACH_SAFE(tp, &tcp_conns[mycpuid], t_link, next)
		if (tp->t_state == TCPS_TIME_WAIT)
			tcp_close(tp);
	lwkt_replymsg(&nm->nm_lmsg, 0);
}

/* The suite's drain step: connections in TIME-WAIT are not leaks, so
 * each CPU ends its own at once; then the net tick may stop.  Nothing to
 * do before the netisrs start. */
static void tcp_drain(void)
{
	struct netmsg nm;

	if (netisr_running()) {
		netisr_domsg_all(&nm, tcp_drain_cpu);
		net_tick_quiesce();
	}
}

/* The leak check's count: every tcpcb alive, on any CPU. */
static uint64_t tcp_leak_sample(void)
{
	return tcp_live();
}

KTEST_DRAIN(tcp_timewait, "TCP connections in TIME_WAIT", tcp_drain);
KTEST_LEAKCHECK(tcpcbs, "TCP connections", tcp_leak_sample,
		tcp_print_conns);
