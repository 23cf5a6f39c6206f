/*
 * tcp_output.c - deciding what to send, and building segments.
 *
 * tcp_output looks at the connection and sends whatever is due, in as
 * many segments as the windows allow:
 *
 *   SYN (or SYN,ACK)   while the handshake's first sequence number is
 *                      unsent (or being resent);
 *   data               min(peer's window, cwnd) minus what is in flight,
 *                      in segments of t_maxseg; a short last piece waits
 *                      while earlier data is unacknowledged (Nagle, RFC
 *                      1122 4.2.3.4) unless TCP_NODELAY;
 *   FIN                with the segment that carries the last byte, once
 *                      the user has closed;
 *   a pure ACK         when one is owed now (TF_ACKNOW), or the window we
 *                      can announce has grown by two segments or half the
 *                      buffer (receiver silly-window avoidance, RFC 1122
 *                      4.2.3.3).
 *
 * A segment's bytes are copied from the send buffer into a fresh mbuf;
 * the buffer keeps them until they are acknowledged, for resending.  The
 * checksum field gets the pseudo-header's sum and the device (or
 * ip_output) completes it.  Over the loopback, where the MSS is the
 * loopback's (TCP_MSS_LOOP: a segment may be as large as the window), a
 * segment too large for a cluster carries only its headers
 * (M_RINGDATA): the receiver, the connection with the reversed 4-tuple
 * on the same CPU, copies the bytes from this buffer into its own.
 *
 * Nagle and the sender's silly-window rule count a segment as full at
 * the MSS or half the peer's largest window, whichever is smaller.
 *
 * Segment layout: IP (20) | TCP (20) | options (SYN only: MSS 4, NOP,
 * window scale 3) | data.
 *
 * Who calls it: the socket layer after a send or a read that opened the
 * window (tcp_usrreq.c), the rollup at the end of a netisr batch for
 * connections input marked (tcp_subr.c), input directly for an ACK that
 * must not wait (out of order, every second full segment), and the
 * timers.  All on the connection's netisr; nothing here blocks, and a
 * segment that cannot get a buffer is simply not sent -- the
 * retransmission timer or the next call sends it.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/libkern.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netstat.h>
#include <net/socketvar.h>
#include <net/tcp_var.h>

#define TCPOPT_EOL	0
#define TCPOPT_NOP	1
#define TCPOPT_MSS	2
#define TCPOPT_WSCALE	3
#define SYN_OPTLEN	8
/* More data than this (what a cluster holds after the headers) can only
 * be a segment of a loopback MSS: it carries no bytes, the receiver
 * copies them from our send ring (tcp_input.c, tcp_deliver_ring). */
#define TCP_RING_MIN	(MDATAMAX - sizeof(struct ip) - sizeof(struct tcphdr))

/* The window we may announce: the receive ring's free space, but never
 * less than what we already promised (a window does not shrink). */
uint32_t tcp_rcv_window(const struct tcpcb *tp)
{
	uint32_t space = sb_space(&tp->t_so->so_rcv);
	uint32_t announced = tp->rcv_adv - tp->rcv_nxt;

	/* Never take back what was announced (RFC 9293 3.8.6.2.2). */
	if (SEQ_GT(tp->rcv_adv, tp->rcv_nxt) && announced > space)
		return announced;
	return space;
}

/* The window field: unscaled in a SYN, else shifted by our scale. */
static uint16_t tcp_window_field(struct tcpcb *tp, uint8_t flags)
{
	uint32_t win = tcp_rcv_window(tp);

	if (flags & TH_SYN)
		return (uint16_t)MIN(win, 65535u);
	return (uint16_t)MIN(win >> tp->rcv_scale, 65535u);
}

/* The SYN's options: our MSS and the window scale we offer. */
static uint32_t tcp_syn_options(const struct tcpcb *tp, uint8_t *p)
{
	uint16_t mss = tcp_mss_for(tp->t_so->so_faddr);

	p[0] = TCPOPT_MSS;
	p[1] = 4;
	p[2] = mss >> 8;
	p[3] = mss & 0xff;
	p[4] = TCPOPT_NOP;
	p[5] = TCPOPT_WSCALE;
	p[6] = 3;
	p[7] = TCP_RCV_SCALE;
	return SYN_OPTLEN;
}

/*
 * The steps of building a segment.  tcp_send and tcp_respond share
 * them, and each is one thing a reader checks against the layout in
 * the file comment.  They are inline: tcp_send is on every segment's
 * path (make bench's TCP echo counts it), and out of line each call
 * would cost the common path a frame and its registers.
 */

/* The IP and TCP headers at the start of m, zeroed: most of their
 * fields are zero (no IP options, TOS, urgent pointer), and the rest
 * are filled in below.  Returns the TCP header. */
static inline struct tcphdr *_tcp_hdrs(struct mbuf *m)
{
	struct ip *ip = (struct ip *)m->m_data;

	memset(ip, 0, sizeof(*ip) + sizeof(struct tcphdr));
	return (struct tcphdr *)(ip + 1);
}

/* The segment's len bytes, off bytes into the send buffer, copied to
 * dst.  More than a cluster holds is a loopback MSS's segment: the bytes
 * stay in the ring (M_RINGDATA) and the receiver copies them from it. */
static inline void _tcp_payload(struct socket *so, struct mbuf *m,
				uint8_t *dst, uint32_t off, uint32_t len)
{
	if (len > TCP_RING_MIN) {	/* a loopback MSS: bytes stay put */
		m->m_flags |= M_RINGDATA;
		m->m_ringlen = len;
	} else if (len > 0) {	/* off may point past the data after a FIN */
		sb_peek(&so->so_snd, off, dst, len);
	}
}

/* The TCP header's numbers: the connection's ports, seq and ack (host
 * order), the header length with optlen bytes of options, the flags. */
static inline void _tcp_fill(const struct socket *so, struct tcphdr *th,
			     uint32_t seq, uint32_t ack, uint32_t optlen,
			     uint8_t flags)
{
	th->th_sport = so->so_lport;
	th->th_dport = so->so_fport;
	th->th_seq = htonl(seq);
	th->th_ack = htonl(ack);
	th->th_off = (uint8_t)((sizeof(*th) + optlen) / 4) << 4;
	th->th_flags = flags;
}

/* The window field of a segment we send, and rcv_adv, the right edge it
 * announces (scaled, except in a SYN: RFC 7323 2.2). */
static inline uint16_t _tcp_announce(struct tcpcb *tp, uint8_t flags)
{
	uint16_t win = tcp_window_field(tp, flags);

	if (!(flags & TH_SYN))
		tp->rcv_adv = tp->rcv_nxt + ((uint32_t)win << tp->rcv_scale);
	else
		tp->rcv_adv = tp->rcv_nxt + win;
	return win;
}

/* The IP header and the checksum of a segment of tlen TCP bytes: the
 * field gets the pseudo-header's sum, and the device (or ip_output)
 * completes it over the segment (M_CSUM_OFFLOAD; the field is at byte
 * 16 of the TCP header). */
static inline void _tcp_seal(const struct socket *so, struct mbuf *m,
			     uint32_t tlen)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct tcphdr *th = (struct tcphdr *)(ip + 1);

	th->th_sum = htons((uint16_t)in_pseudo(so->so_laddr, so->so_faddr,
					       IPPROTO_TCP, (uint16_t)tlen));
	m->m_flags |= M_CSUM_OFFLOAD;
	m->m_csum_offset = 16;
	ip->ip_p = IPPROTO_TCP;
	ip->ip_src = so->so_laddr;
	ip->ip_dst = so->so_faddr;
}

/* The counters of a segment tcp_send sends: every segment, the pure
 * ACKs, and its data as new bytes or resent ones. */
static inline void _tcp_count_sent(const struct tcpcb *tp, uint32_t seq,
				   uint32_t len, uint8_t flags)
{
	NETSTAT_INC(tcp_sndpack);
	if (len == 0 && flags == TH_ACK)
		NETSTAT_INC(tcp_sndacks);
	if (len > 0 && SEQ_LT(seq, tp->snd_max)) {
		NETSTAT_INC(tcp_sndrexmitpack);
		NETSTAT_ADD(tcp_sndrexmitbyte, len);
	} else {
		NETSTAT_ADD(tcp_sndbyte, len);
	}
}

/*
 * Build and send one segment: seq, flags, and len bytes that start off
 * bytes into the send buffer.  Returns 0 or an errno from ip_output.
 */
static int tcp_send(struct tcpcb *tp, uint32_t seq, uint32_t off,
		    uint32_t len, uint8_t flags)
{
	struct socket *so = tp->t_so;
	struct mbuf *m = m_get();
	struct tcphdr *th;
	uint32_t optlen;

	if (m == NULL)
		return ENOBUFS;
	th = _tcp_hdrs(m);
	optlen = flags & TH_SYN ? tcp_syn_options(tp, (uint8_t *)(th + 1)) : 0;
	_tcp_payload(so, m, (uint8_t *)(th + 1) + optlen, off, len);
	_tcp_fill(so, th, seq, flags & TH_ACK ? tp->rcv_nxt : 0, optlen, flags);
	th->th_win = htons(_tcp_announce(tp, flags));
	_tcp_seal(so, m, sizeof(*th) + optlen + len);
	/* Ring bytes are not in the mbuf: it holds only the headers. */
	m->m_len = sizeof(struct ip) + sizeof(*th) + optlen +
		   (m->m_flags & M_RINGDATA ? 0 : len);
	((struct ip *)m->m_data)->ip_off = htons(IP_DF);
	_tcp_count_sent(tp, seq, len, flags);
	/* Whatever we send carries our ACK: nothing is owed any more. */
	tp->t_flags &= ~(TF_ACKNOW | TF_DELACK);
	tp->t_delack = 0;
	tp->t_unacked = 0;
	return ip_output(m);
}

/* The flags every segment in this state carries. */
static uint8_t tcp_state_flags(const struct tcpcb *tp)
{
	switch (tp->t_state) {
	case TCPS_SYN_SENT:
		return TH_SYN;
	case TCPS_SYN_RECEIVED:
		return TH_SYN | TH_ACK;
	case TCPS_CLOSED:
	case TCPS_LISTEN:
		return 0;
	default:
		return TH_ACK;
	}
}

/* Has the window we could announce grown enough to tell the peer? */
static bool tcp_window_update_due(const struct tcpcb *tp)
{
	uint32_t win = tcp_rcv_window(tp);
	uint32_t announced = SEQ_GT(tp->rcv_adv, tp->rcv_nxt) ?
		tp->rcv_adv - tp->rcv_nxt : 0;

	if (!TCPS_HAVERCVDSYN(tp->t_state) || win <= announced)
		return false;
	return win - announced >= 2u * tp->t_maxseg ||
	       win - announced >= tp->t_so->so_rcv.sb_size / 2;
}

/* Should the FIN go with a segment that ends at sequence end? */
static bool tcp_fin_due(const struct tcpcb *tp, uint32_t end)
{
	return tp->t_flags & TF_NEEDFIN &&
	       TCPS_HAVESENTFIN(tp->t_state) &&
	       tp->t_state != TCPS_TIME_WAIT && tp->t_state != TCPS_FIN_WAIT_2 &&
	       end == tp->snd_una + tp->t_so->so_snd.sb_len;
}

/*
 * The size that counts as a full segment for Nagle's rule: the MSS, but
 * never more than half the largest window the peer has offered (RFC
 * 1122 4.2.3.4's "at least a fraction Fs = 1/2 of the maximum window",
 * BSD's max_sndwnd / 2).  Over the loopback the MSS (TCP_MSS_LOOP) is
 * as large as the whole receive buffer, so by the MSS alone no segment
 * would ever be full: each would wait for the delayed ACK, 100 ms, with
 * the data already there.  The same holds on a wire with a peer whose
 * window is under two segments.
 */
static uint32_t tcp_full_seg(const struct tcpcb *tp)
{
	uint32_t half = tp->t_maxsndwnd / 2;

	return half > 0 && half < tp->t_maxseg ? half : tp->t_maxseg;
}

/* Must a piece of len bytes at off, shorter than a full segment, wait
 * for more data or a wider window?  It is the sender's half of silly-
 * window avoidance (RFC 1122 4.2.3.4), in two rules. */
static inline bool _tcp_short_waits(const struct tcpcb *tp, uint32_t off,
				    uint32_t len)
{
	uint32_t buffered = tp->t_so->so_snd.sb_len;

	/* Nagle: a short segment waits while data is unacknowledged, unless
	 * it is all there is to send and nothing is in flight. */
	if (off + len == buffered &&
	    !(tp->t_flags & TF_NODELAY) && tp->snd_nxt != tp->snd_una &&
	    !(tp->t_flags & TF_NEEDFIN))
		return true;
	/* Sender silly-window avoidance (RFC 1122 4.2.3.4): a piece the
	 * window cut short goes only if it is half the window or more. */
	return off + len < buffered && len < tp->snd_wnd / 2;
}

/* How many new bytes may go now (window, cwnd, MSS, Nagle). */
static uint32_t tcp_data_len(const struct tcpcb *tp, uint32_t off)
{
	struct socket *so = tp->t_so;
	uint32_t win = MIN(tp->snd_wnd, tp->snd_cwnd), len;

	if (off >= so->so_snd.sb_len || off >= win)
		return 0;
	len = MIN(so->so_snd.sb_len - off, win - off);
	len = MIN(len, (uint32_t)tp->t_maxseg);
	if (len >= tcp_full_seg(tp) || !_tcp_short_waits(tp, off, len))
		return len;
	return 0;
}

/* What this pass would send, starting off bytes past snd_una: the
 * state's flags less a SYN already out (a SYN is resent by the timer,
 * not here); for a synchronized connection the bytes that may go
 * (*len), and the FIN if they end the data the user closed. */
static inline uint8_t _tcp_pass_flags(const struct tcpcb *tp, uint8_t flags,
				      uint32_t off, uint32_t *len)
{
	if (flags & TH_SYN) {
		if (tp->snd_nxt != tp->iss)
			flags &= ~TH_SYN;	/* sent, not yet acked */
		return flags;
	}
	*len = tcp_data_len(tp, off);
	if (tcp_fin_due(tp, tp->snd_nxt + *len))
		flags |= TH_FIN;
	return flags;
}

/* Is the pass's segment worth sending: a SYN, a FIN or data, an ACK
 * owed now, or a window update the peer should hear of. */
static inline bool _tcp_pass_due(const struct tcpcb *tp, uint32_t len,
				 uint8_t flags)
{
	return flags & (TH_SYN | TH_FIN) || len != 0 ||
	       tp->t_flags & TF_ACKNOW || tcp_window_update_due(tp);
}

/* A segment that reached past snd_max is new sequence space: snd_max
 * follows, and if no segment is being timed this one is (one round-trip
 * sample at a time, RFC 6298 3; never a resend, Karn's rule). */
static inline void _tcp_advance_max(struct tcpcb *tp, uint32_t seq)
{
	if (SEQ_GT(tp->snd_nxt, tp->snd_max)) {
		tp->snd_max = tp->snd_nxt;
		if (tp->t_rtttime == 0) {	/* time this segment */
			tp->t_rtttime = ticks;
			tp->t_rtseq = seq;
		}
	}
}

/* The books after a segment at seq went: snd_nxt past its data, SYN
 * and FIN, the FIN remembered, and the retransmission timer running if
 * it carried anything to resend (which ends a persist probe's wait). */
static inline void _tcp_sent(struct tcpcb *tp, uint32_t seq, uint32_t len,
			     uint8_t flags)
{
	tp->snd_nxt += len + (flags & TH_SYN ? 1 : 0) + (flags & TH_FIN ? 1 : 0);
	if (flags & TH_FIN)
		tp->t_flags |= TF_SENTFIN;
	_tcp_advance_max(tp, seq);
	if ((len > 0 || flags & (TH_SYN | TH_FIN)) && tp->t_rexmt == 0) {
		tcp_rexmt_arm(tp);
		tp->t_persist = 0;
	}
}

/* One pass: send one segment if anything is due; false if nothing was. */
static bool tcp_output_one(struct tcpcb *tp)
{
	uint8_t flags = tcp_state_flags(tp);
	uint32_t off = tp->snd_nxt - tp->snd_una, len = 0, seq = tp->snd_nxt;

	if (flags == 0)
		return false;
	flags = _tcp_pass_flags(tp, flags, off, &len);
	if (!_tcp_pass_due(tp, len, flags))
		return false;
	if (tcp_send(tp, seq, off, len, flags) != 0)
		return false;
	_tcp_sent(tp, seq, len, flags);
	/* Another pass only if unsent data is left (its window decides). */
	return len > 0 && tp->snd_nxt - tp->snd_una < tp->t_so->so_snd.sb_len;
}

/* The usual "nothing to do" of an established connection after a read
 * or a batch of input: no unsent data, no ACK owed now, no window
 * update due.  Answered without a pass of tcp_output_one. */
static bool tcp_output_idle(const struct tcpcb *tp)
{
	return tp->t_state == TCPS_ESTABLISHED &&
	       !(tp->t_flags & (TF_ACKNOW | TF_NEEDFIN)) &&
	       tp->t_so->so_snd.sb_len <= tp->snd_nxt - tp->snd_una &&
	       !tcp_window_update_due(tp);
}

/* Data waits and the peer's window is shut: probe it later, unless a
 * timer already runs (the retransmission timer's resend comes first).
 * The probe's interval starts at the RTO, never under TCP_PERSIST_MIN,
 * and backs off from a fresh count. */
static inline void _tcp_persist_if_shut(struct tcpcb *tp)
{
	if (tp->snd_wnd == 0 &&
	    tp->t_so->so_snd.sb_len > tp->snd_nxt - tp->snd_una &&
	    tp->t_rexmt == 0 && tp->t_persist == 0 &&
	    TCPS_HAVERCVDSYN(tp->t_state)) {
		tp->t_rxtshift = 0;
		tp->t_persist = ticks + MAX((uint64_t)tp->t_rto,
					    (uint64_t)TCP_PERSIST_MIN);
	}
}

/* Send everything that is due on tp now (see the file comment), and arm
 * the persist timer when data waits on a closed window.  On the
 * connection's netisr; never blocks. */
void tcp_output(struct tcpcb *tp)
{
	if (tcp_output_idle(tp))
		return;
	/* Each pass sends at most one segment; the windows end the loop. */
	for (int n = 0; n < 256 && tcp_output_one(tp); n++)
		;
	_tcp_persist_if_shut(tp);
}

/*
 * The persist timer's probe (tcp_subr.c): one byte past the closed
 * window (RFC 9293 3.8.6.1), and the receiver answers with its window,
 * open or not.  The byte is sent data like any other: it takes its
 * sequence number (snd_nxt, snd_max), because a receiver whose window
 * opened meanwhile keeps it and acknowledges it.  (A loose byte outside
 * the sequence space would make that ACK one for "data never sent",
 * dropped with the window update it carries; every later probe would
 * be an old duplicate, and the connection would hang.)  A byte already
 * out is sent again.  On the netisr.
 */
void tcp_output_probe(struct tcpcb *tp)
{
	struct socket *so = tp->t_so;
	uint32_t off = tp->snd_nxt - tp->snd_una;

	if (off > 0 && so->so_snd.sb_len > 0) {
		tcp_send(tp, tp->snd_una, 0, 1, TH_ACK);	/* again */
		return;
	}
	if (off > 0 || so->so_snd.sb_len == 0) {
		tcp_send(tp, tp->snd_nxt, 0, 0, TH_ACK);	/* a FIN out */
		return;
	}
	tcp_send(tp, tp->snd_nxt, 0, 1, TH_ACK);
	tp->snd_nxt++;
	if (SEQ_GT(tp->snd_nxt, tp->snd_max))
		tp->snd_max = tp->snd_nxt;
}

/*
 * Resend the first unacknowledged segment (fast retransmit, NewReno's
 * partial ACK), with the FIN if it is the last, and restart the timer.
 * snd_nxt is left alone: new data continues where it was.
 *
 * A resend is data like any other and keeps to the window the peer
 * offered: it ends at SND.UNA + SND.WND at the latest (RFC 9293 3.8.6,
 * RFC 5681 3.2 resends "the lost segment", never more than the peer has
 * room for).  So it is at most one MSS and at most the window.  The
 * window matters most over the loopback, whose MSS (TCP_MSS_LOOP, some
 * 64 KiB) can be far wider than a window of a few hundred bytes: a
 * resend of a whole MSS there would be dropped past the window's edge
 * by the receiver, all of it.  A shut
 * window gets no resend here: a byte into it is the persist timer's
 * probe, and tcp_output arms that timer once the retransmission timer
 * finds nothing it may send (tcp_timer_rexmt goes through tcp_output,
 * whose tcp_data_len already keeps to the window).
 */
void tcp_rexmt_one(struct tcpcb *tp)
{
	struct socket *so = tp->t_so;
	uint32_t len = MIN(so->so_snd.sb_len, (uint32_t)tp->t_maxseg);
	uint8_t flags = TH_ACK;

	len = MIN(len, tp->snd_wnd);
	if (len == 0 && so->so_snd.sb_len > 0)
		return;			/* a shut window: persist's work */
	if (tp->t_flags & TF_SENTFIN && len == so->so_snd.sb_len)
		flags |= TH_FIN;
	tp->t_rtttime = 0;		/* Karn: never time a resend */
	tcp_send(tp, tp->snd_una, 0, len, flags);
	tcp_rexmt_arm(tp);
}

/* A bare segment of the connection with the given numbers and flags:
 * a challenge ACK, an ACK for an unacceptable segment, a RST when a
 * connection is dropped.  Carries no data, changes no state. */
void tcp_respond(struct tcpcb *tp, uint32_t seq, uint32_t ack, uint8_t flags)
{
	struct socket *so = tp->t_so;
	struct mbuf *m = m_get();
	struct tcphdr *th;

	if (m == NULL)
		return;
	th = _tcp_hdrs(m);
	_tcp_fill(so, th, seq, ack, 0, flags);
	th->th_win = htons(tcp_window_field(tp, 0));
	_tcp_seal(so, m, sizeof(*th));
	m->m_len = sizeof(struct ip) + sizeof(*th);
	NETSTAT_INC(tcp_sndpack);
	if (flags & TH_RST)
		NETSTAT_INC(tcp_rst_out);
	else
		NETSTAT_INC(tcp_sndacks);
	ip_output(m);
}
