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
 * Build and send one segment: seq, flags, and len bytes that start off
 * bytes into the send buffer.  Returns 0 or an errno from ip_output.
 */
static int tcp_send(struct tcpcb *tp, uint32_t seq, uint32_t off,
		    uint32_t len, uint8_t flags)
{
	struct socket *so = tp->t_so;
	struct mbuf *m = m_get();
	struct ip *ip;
	struct tcphdr *th;
	uint32_t optlen, tlen;
	uint16_t win;

	if (m == NULL)
		return ENOBUFS;
	ip = (struct ip *)m->m_data;
	th = (struct tcphdr *)(ip + 1);
	memset(ip, 0, sizeof(*ip) + sizeof(*th));
	optlen = flags & TH_SYN ? tcp_syn_options(tp, (uint8_t *)(th + 1)) : 0;
	tlen = sizeof(*th) + optlen + len;
	if (len > TCP_RING_MIN) {	/* a loopback MSS: bytes stay put */
		m->m_flags |= M_RINGDATA;
		m->m_ringlen = len;
	} else if (len > 0) {	/* off may point past the data after a FIN */
		sb_peek(&so->so_snd, off, (uint8_t *)(th + 1) + optlen, len);
	}
	th->th_sport = so->so_lport;
	th->th_dport = so->so_fport;
	th->th_seq = htonl(seq);
	th->th_ack = flags & TH_ACK ? htonl(tp->rcv_nxt) : 0;
	th->th_off = (uint8_t)((sizeof(*th) + optlen) / 4) << 4;
	th->th_flags = flags;
	win = tcp_window_field(tp, flags);
	th->th_win = htons(win);
	if (!(flags & TH_SYN))
		tp->rcv_adv = tp->rcv_nxt + ((uint32_t)win << tp->rcv_scale);
	else
		tp->rcv_adv = tp->rcv_nxt + win;
	th->th_sum = htons((uint16_t)in_pseudo(so->so_laddr, so->so_faddr,
					       IPPROTO_TCP, (uint16_t)tlen));
	m->m_len = sizeof(*ip) + tlen - (m->m_flags & M_RINGDATA ? len : 0);
	m->m_flags |= M_CSUM_OFFLOAD;
	m->m_csum_offset = 16;
	ip->ip_p = IPPROTO_TCP;
	ip->ip_src = so->so_laddr;
	ip->ip_dst = so->so_faddr;
	ip->ip_off = htons(IP_DF);
	NETSTAT_INC(tcp_sndpack);
	if (len == 0 && flags == TH_ACK)
		NETSTAT_INC(tcp_sndacks);
	if (len > 0 && SEQ_LT(seq, tp->snd_max)) {
		NETSTAT_INC(tcp_sndrexmitpack);
		NETSTAT_ADD(tcp_sndrexmitbyte, len);
	} else {
		NETSTAT_ADD(tcp_sndbyte, len);
	}
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
 * as large as the whole receive buffer, so no segment was ever full:
 * each waited for the delayed ACK, 100 ms, while the data was already
 * there (a megabyte through a reader of 4 KiB took 1.3 s).  The same
 * holds on a wire with a peer whose window is under two segments.
 */
static uint32_t tcp_full_seg(const struct tcpcb *tp)
{
	uint32_t half = tp->t_maxsndwnd / 2;

	return half > 0 && half < tp->t_maxseg ? half : tp->t_maxseg;
}

/* How many new bytes may go now (window, cwnd, MSS, Nagle). */
static uint32_t tcp_data_len(struct tcpcb *tp, uint32_t off)
{
	struct socket *so = tp->t_so;
	uint32_t win = MIN(tp->snd_wnd, tp->snd_cwnd), len;

	if (off >= so->so_snd.sb_len || off >= win)
		return 0;
	len = MIN(so->so_snd.sb_len - off, win - off);
	len = MIN(len, (uint32_t)tp->t_maxseg);
	if (len >= tcp_full_seg(tp))
		return len;
	/* Nagle: a short segment waits while data is unacknowledged, unless
	 * it is all there is to send and nothing is in flight. */
	if (off + len == so->so_snd.sb_len &&
	    !(tp->t_flags & TF_NODELAY) && tp->snd_nxt != tp->snd_una &&
	    !(tp->t_flags & TF_NEEDFIN))
		return 0;
	/* Sender silly-window avoidance (RFC 1122 4.2.3.4): a piece the
	 * window cut short goes only if it is half the window or more. */
	if (off + len < so->so_snd.sb_len && len < tp->snd_wnd / 2)
		return 0;
	return len;
}

/* One pass: send one segment if anything is due; false if nothing was. */
static bool tcp_output_one(struct tcpcb *tp)
{
	uint8_t flags = tcp_state_flags(tp);
	uint32_t off = tp->snd_nxt - tp->snd_una, len = 0, seq = tp->snd_nxt;

	if (flags == 0)
		return false;
	if (flags & TH_SYN) {
		if (tp->snd_nxt != tp->iss)
			flags &= ~TH_SYN;	/* sent, not yet acked */
	} else {
		len = tcp_data_len(tp, off);
		if (tcp_fin_due(tp, seq + len))
			flags |= TH_FIN;
	}
	if (!(flags & (TH_SYN | TH_FIN)) && len == 0 &&
	    !(tp->t_flags & TF_ACKNOW) && !tcp_window_update_due(tp))
		return false;
	if (tcp_send(tp, seq, off, len, flags) != 0)
		return false;
	tp->snd_nxt += len + (flags & TH_SYN ? 1 : 0) + (flags & TH_FIN ? 1 : 0);
	if (flags & TH_FIN)
		tp->t_flags |= TF_SENTFIN;
	if (SEQ_GT(tp->snd_nxt, tp->snd_max)) {
		tp->snd_max = tp->snd_nxt;
		if (tp->t_rtttime == 0) {	/* time this segment */
			tp->t_rtttime = ticks;
			tp->t_rtseq = seq;
		}
	}
	if ((len > 0 || flags & (TH_SYN | TH_FIN)) && tp->t_rexmt == 0) {
		tcp_rexmt_arm(tp);
		tp->t_persist = 0;
	}
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

/* Send everything that is due on tp now (see the file comment), and arm
 * the persist timer when data waits on a closed window.  On the
 * connection's netisr; never blocks. */
void tcp_output(struct tcpcb *tp)
{
	struct socket *so = tp->t_so;

	if (tcp_output_idle(tp))
		return;
	/* Each pass sends at most one segment; the windows end the loop. */
	for (int n = 0; n < 256 && tcp_output_one(tp); n++)
		;
	/* Data waits and the peer's window is shut: probe it later. */
	if (tp->snd_wnd == 0 && so->so_snd.sb_len > tp->snd_nxt - tp->snd_una &&
	    tp->t_rexmt == 0 && tp->t_persist == 0 &&
	    TCPS_HAVERCVDSYN(tp->t_state)) {
		tp->t_rxtshift = 0;
		tp->t_persist = ticks + MAX((uint64_t)tp->t_rto,
					    (uint64_t)TCP_PERSIST_MIN);
	}
}

/*
 * The persist timer's probe (tcp_subr.c): one byte past the closed
 * window (RFC 9293 3.8.6.1), and the receiver answers with its window,
 * open or not.  The byte is sent data like any other: it takes its
 * sequence number (snd_nxt, snd_max), because a receiver whose window
 * opened meanwhile keeps it and acknowledges it.  Sent as a loose byte
 * outside the sequence space, that ACK acknowledged "data never sent"
 * and was dropped with the window update it carried; every later probe
 * was then an old duplicate, and the connection hung (a reader taking
 * less than a window update's worth, min(2 MSS, half the buffer), from
 * a full buffer).  A byte already out is sent again.  On the netisr.
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
 * room for).  So it is at most one MSS and at most the window.  It once
 * took the MSS alone: over the loopback (TCP_MSS_LOOP, some 64 KiB) a
 * fast retransmit could put 64 KiB into a window of a few hundred
 * bytes, and the receiver dropped all of it past its edge.  A shut
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
	struct ip *ip;
	struct tcphdr *th;

	if (m == NULL)
		return;
	ip = (struct ip *)m->m_data;
	th = (struct tcphdr *)(ip + 1);
	memset(ip, 0, sizeof(*ip) + sizeof(*th));
	th->th_sport = so->so_lport;
	th->th_dport = so->so_fport;
	th->th_seq = htonl(seq);
	th->th_ack = htonl(ack);
	th->th_off = 5 << 4;
	th->th_flags = flags;
	th->th_win = htons(tcp_window_field(tp, 0));
	th->th_sum = htons((uint16_t)in_pseudo(so->so_laddr, so->so_faddr,
					       IPPROTO_TCP, sizeof(*th)));
	m->m_len = sizeof(*ip) + sizeof(*th);
	m->m_flags |= M_CSUM_OFFLOAD;
	m->m_csum_offset = 16;
	ip->ip_p = IPPROTO_TCP;
	ip->ip_src = so->so_laddr;
	ip->ip_dst = so->so_faddr;
	NETSTAT_INC(tcp_sndpack);
	if (flags & TH_RST)
		NETSTAT_INC(tcp_rst_out);
	else
		NETSTAT_INC(tcp_sndacks);
	ip_output(m);
}
