/*
 * net/tcp_var.h - a TCP connection's control block, inside the stack
 * (net/tcp_*.c).
 *
 * A tcpcb belongs to the netisr its 4-tuple hashes to, like its socket:
 * every field below is that thread's, and nothing needs a lock.  The
 * names are RFC 9293's (3.3.1): SND.UNA is snd_una, and so on.
 *
 *        snd_una        snd_nxt                 snd_una + window
 *   ------+---------------+------------------------+------------
 *  acked  | sent, unacked | may send               | beyond window
 *         ^ so_snd's first byte is snd_una (the SYN and FIN take a
 *           sequence number but no byte of the buffer)
 */
#ifndef NET_TCP_VAR_H
#define NET_TCP_VAR_H

#include <kern/types.h>
#include <kern/queue.h>
#include <net/if.h>

struct socket;
struct mbuf;

enum tcp_state {
	TCPS_CLOSED, TCPS_LISTEN, TCPS_SYN_SENT, TCPS_SYN_RECEIVED,
	TCPS_ESTABLISHED, TCPS_CLOSE_WAIT, TCPS_FIN_WAIT_1, TCPS_CLOSING,
	TCPS_LAST_ACK, TCPS_FIN_WAIT_2, TCPS_TIME_WAIT,
};

/* A state in which the connection has seen the peer's SYN. */
#define TCPS_HAVERCVDSYN(s)	((s) >= TCPS_SYN_RECEIVED)
/* A state from which we have sent (or will send) our FIN. */
#define TCPS_HAVESENTFIN(s)	((s) >= TCPS_FIN_WAIT_1)

/* t_flags */
#define TF_ACKNOW	0x0001	/* send an ACK at the batch's end */
#define TF_DELACK	0x0002	/* an ACK is owed, the delack timer runs */
#define TF_NODELAY	0x0004	/* no Nagle */
#define TF_SENTFIN	0x0008	/* our FIN has been sent */
#define TF_RCVD_SCALE	0x0010	/* the peer's SYN had window scale */
#define TF_FASTRECOVERY	0x0020	/* NewReno recovery (RFC 6582) */
#define TF_ONOUTPUTQ	0x0040	/* on this CPU's rollup list */
#define TF_NEEDFIN	0x0080	/* the user closed: FIN after the data */
#define TF_PASSIVE	0x0100	/* made by a listener (not connect) */
#define TF_WASRESET	0x0200	/* went down by a reset */

#define TCP_MSS		1460	/* ours: Ethernet MTU - 40 */
#define TCP_MSS_LOOP	(IF_LOOP_MTU - 40)	/* ours over the loopback */
#define TCP_MSS_DEFAULT	536	/* the peer's, if its SYN says none */
#define TCP_RCV_SCALE	7	/* the window scale we offer (RFC 7323) */

/* Timers, in ticks (HZ = 100). */
#define TCP_RTO_INIT	(1 * HZ)	/* RFC 6298 2.1 */
#define TCP_RTO_MIN	(HZ / 5)	/* 200 ms (RFC 6298 says 1 s SHOULD;
					 * Linux uses 200 ms, so do we) */
#define TCP_RTO_MAX	(60 * HZ)
#define TCP_DELACK	(HZ / 10)	/* 100 ms; RFC 1122: < 500 ms */
#define TCP_2MSL	(2 * HZ)	/* TIME-WAIT: MSL shortened to 1 s */
#define TCP_SYN_RETRIES	6
#define TCP_MAX_RETRIES	12
#define TCP_PERSIST_MIN	(HZ / 2)
#define TCP_REASS_MAX	64	/* out-of-order segments kept */

struct tcpcb {
	struct socket *t_so;
	enum tcp_state t_state;
	uint32_t t_flags;		/* TF_* */
	/* Send sequence space. */
	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd;		/* peer's window, scaled */
	uint32_t t_maxsndwnd;		/* the largest it has offered */
	uint32_t snd_wl1, snd_wl2;	/* segment seq/ack of the last update */
	/* Receive sequence space. */
	uint32_t irs, rcv_nxt, rcv_adv;	/* rcv_adv: right edge we announced */
	/* Options. */
	uint16_t t_maxseg;		/* what we may send in one segment */
	uint8_t snd_scale, rcv_scale;
	/* Congestion control (RFC 5681, RFC 6582). */
	uint32_t snd_cwnd, snd_ssthresh, snd_recover;
	int t_dupacks;
	/* Round trip time (RFC 6298), in ticks scaled by 8 (srtt) and 4
	 * (rttvar), as in BSD. */
	int t_srtt, t_rttvar, t_rto;
	uint64_t t_rtttime;		/* when the timed segment left, or 0 */
	uint32_t t_rtseq;		/* its sequence number */
	int t_rxtshift;			/* consecutive retransmissions */
	/* Deadlines in ticks (0: off), run by the CPU's net tick. */
	uint64_t t_rexmt, t_persist, t_delack, t_2msl;
	/* Out-of-order segments (m_nextpkt, by sequence), their count. */
	struct mbuf *t_reass;
	int t_reass_len;
	/* Delayed-ACK accounting: bytes received since our last ACK. */
	uint32_t t_unacked;
	TAILQ_ENTRY(tcpcb) t_link;	/* this CPU's connections */
	TAILQ_ENTRY(tcpcb) t_hashlink;	/* ... and its table's bucket */
	TAILQ_ENTRY(tcpcb) t_outq;	/* this CPU's rollup list */
};

/* Module internals (net/tcp_subr.c, tcp_input.c, tcp_output.c). */
struct tcpcb *tcp_newtcpcb(struct socket *so);
struct tcpcb *tcp_lookup(uint32_t faddr, uint16_t fport, uint32_t laddr,
			 uint16_t lport);
void tcp_attach_conn(struct tcpcb *tp);
/* The connection is over: out of the table; the socket is told (error)
 * and freed if its user has let go.  Returns NULL. */
struct tcpcb *tcp_close(struct tcpcb *tp);
/* Close with a reset sent and error reported (ECONNRESET, ETIMEDOUT). */
struct tcpcb *tcp_drop(struct tcpcb *tp, int error);
void tcp_output(struct tcpcb *tp);
/* Send a segment with no data: the given flags at seq (RST, ACK). */
void tcp_respond(struct tcpcb *tp, uint32_t seq, uint32_t ack, uint8_t flags);
/* Queue tp for output when the netisr's batch ends (the rollup). */
void tcp_output_later(struct tcpcb *tp);
void tcp_set_state(struct tcpcb *tp, enum tcp_state state);
void tcp_rtt_sample(struct tcpcb *tp, int rtt);
/* Arm the retransmission timer at the current RTO (with backoff). */
void tcp_rexmt_arm(struct tcpcb *tp);
uint32_t tcp_rcv_window(const struct tcpcb *tp);
/* The MSS we offer a peer at faddr: the loopback's for our own
 * addresses, else the Ethernet's. */
uint16_t tcp_mss_for(uint32_t faddr);
uint32_t tcp_iss(void);
void tcp_init(void);
/* A new connection completed its handshake: to its listener's queue. */
void tcp_handoff(struct socket *so);
/* On a connection's netisr: reset it, nobody will accept it (the
 * message is its so_handoff). */
void tcp_refuse(struct netmsg *nm);
/* Send one segment of at most len bytes from snd_una (a resend). */
void tcp_rexmt_one(struct tcpcb *tp);
/* The persist timer's probe: one byte past the window, or an ACK. */
void tcp_output_probe(struct tcpcb *tp);
/* The listener tables (each netisr's copy). */
void tcp_listener_add(struct socket *so);
void tcp_listener_remove(struct socket *so);
/* netstat: every connection, per CPU. */
void tcp_print_conns(void);

extern const char *const tcp_state_names[];

#endif /* NET_TCP_VAR_H */
