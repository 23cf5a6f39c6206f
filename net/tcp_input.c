/*
 * tcp_input.c - TCP segments arriving (RFC 9293 3.10.7), on the netisr
 * that owns the segment's 4-tuple.
 *
 * The order of the work is the RFC's "SEGMENT ARRIVES":
 *
 *   check        header fits, data offset inside, options well formed,
 *                checksum over the pseudo-header             (tcp_check)
 *   find         the connection; else a listener (a SYN makes a new
 *                connection); else answer with a reset
 *   SYN-SENT     our SYN acknowledged?  their SYN?           (tcp_syn_sent)
 *   acceptable?  the segment overlaps the receive window; trimmed to it
 *   RST, SYN     reset only if exactly at RCV.NXT, else a challenge ACK
 *                (RFC 5961); a SYN in a synchronized state, likewise
 *   ACK          SYN-RECEIVED -> ESTABLISHED; new data acknowledged:
 *                RTT sample, congestion window, send buffer, timers;
 *                duplicate ACKs: fast retransmit and NewReno  (tcp_ack)
 *   data         in order: into the receive buffer, delayed ACK; out of
 *                order: kept, duplicate ACK at once          (tcp_data)
 *   FIN          the peer is done: CLOSE-WAIT, CLOSING or TIME-WAIT
 *
 * Then the connection goes on the rollup list: tcp_output runs once for
 * it when the netisr's batch is over.
 *
 * The header (RFC 9293 3.1), after the IP header:
 *
 *   0       2       4         8         12   13      14      16     18     20
 *   | sport | dport |   seq   |   ack   |off |flags | window |  sum  |  urp  |
 *   then options up to off * 4 bytes: MSS (kind 2, 4 bytes), window
 *   scale (kind 3, 3 bytes), NOP (1), EOL (0); others are skipped by
 *   their length.
 *
 * Everything here runs on the connection's netisr and touches only that
 * CPU's tables: the tcpcb, its socket's buffers and parked calls, the
 * CPU's connection list.  No lock is taken and none is needed: the flow
 * hash brought every segment of this 4-tuple to this CPU, and every
 * socket call on the connection runs here too (tcp_usrreq.c).
 *
 * Sequence arithmetic is modulo 2^32 (SEQ_LT and friends: a signed
 * difference), so nothing breaks at the wrap (test
 * tcp.data_crosses_the_sequence_wrap_intact).
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/libkern.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netisr.h>
#include <net/netstat.h>
#include <net/socketvar.h>
#include <net/tcp_var.h>

#define TCPOPT_EOL	0
#define TCPOPT_NOP	1
#define TCPOPT_MSS	2
#define TCPOPT_WSCALE	3
#define TCP_MAX_WSCALE	14	/* RFC 7323 2.3 */

/* What one segment says, in host order, once checked. */
struct tcpseg {
	struct tcphdr *th;
	uint32_t seq, ack, tlen;	/* tlen: data bytes */
	uint32_t win;			/* as sent (not yet scaled) */
	uint8_t flags;
	uint8_t *data;
	int mss, wscale;		/* -1: option absent */
	uint32_t src, dst;
};

/* Parse the options; false if one is malformed (RFC 9293 3.2: a length
 * that runs past the header). */
static bool tcp_options(struct tcpseg *s, const uint8_t *p, uint32_t len)
{
	s->mss = s->wscale = -1;
	while (len > 0) {
		uint8_t kind = p[0], olen;

		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			p++;
			len--;
			continue;
		}
		if (len < 2 || (olen = p[1]) < 2 || olen > len)
			return false;
		if (kind == TCPOPT_MSS && olen == 4)
			s->mss = p[2] << 8 | p[3];
		else if (kind == TCPOPT_WSCALE && olen == 3)
			s->wscale = MIN(p[2], TCP_MAX_WSCALE);
		else if (kind == TCPOPT_MSS || kind == TCPOPT_WSCALE)
			return false;	/* a known option of the wrong size */
		p += olen;
		len -= olen;
	}
	return true;
}

/* Check the segment in m; false (counted) if it must be dropped.  The
 * order of the checks decides which counter a broken segment lands in
 * (the fuzz test expects one count per frame): length, data offset,
 * checksum (skipped when the device verified it), options. */
static bool tcp_check(struct mbuf *m, uint32_t hlen, struct tcpseg *s)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct tcphdr *th = (struct tcphdr *)(m->m_data + hlen);
	uint32_t len = ntohs(ip->ip_len) - hlen, off;

	if (len < sizeof(*th)) {
		NETSTAT_INC(tcp_badlen);
		return false;
	}
	off = (th->th_off >> 4) * 4u;
	if (off < sizeof(*th) || off > len) {
		NETSTAT_INC(tcp_badoff);
		return false;
	}
	if (!(m->m_flags & M_CSUM_VALID) &&
	    in_cksum_fin(in_cksum_add(in_pseudo(ip->ip_src, ip->ip_dst,
						IPPROTO_TCP, (uint16_t)len),
				      th, len)) != 0) {
		NETSTAT_INC(tcp_badsum);
		return false;
	}
	if (!tcp_options(s, (const uint8_t *)(th + 1), off - sizeof(*th))) {
		NETSTAT_INC(tcp_badopt);
		return false;
	}
	s->th = th;
	s->seq = ntohl(th->th_seq);
	s->ack = ntohl(th->th_ack);
	s->flags = th->th_flags;
	s->win = ntohs(th->th_win);
	/* Over the loopback a large segment's bytes are still in its
	 * sender's ring (M_RINGDATA): no pointer, tcp_data fetches them. */
	s->data = m->m_flags & M_RINGDATA ? NULL : (uint8_t *)th + off;
	s->tlen = len - off;
	s->src = ip->ip_src;
	s->dst = ip->ip_dst;
	return true;
}

/*
 * No connection wants the segment in m: answer with a reset built in m
 * itself (RFC 9293 3.10.7.1): with ACK set, <SEQ=SEG.ACK><RST>; else
 * <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK>.  Never a reset for a reset, nor
 * for a broadcast.  Consumes m.
 */
static void tcp_reset_reply(struct mbuf *m, const struct tcpseg *s)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct tcphdr th = *s->th, *nth;
	uint32_t seglen = s->tlen + (s->flags & TH_SYN ? 1 : 0) +
			  (s->flags & TH_FIN ? 1 : 0);

	if (s->flags & TH_RST || s->dst == INADDR_BROADCAST ||
	    m->m_flags & M_BCAST) {
		m_freem(m);
		return;
	}
	m->m_len = sizeof(struct ip) + sizeof(struct tcphdr);
	memset(ip, 0, sizeof(*ip));
	ip->ip_src = s->dst;
	ip->ip_dst = s->src;
	ip->ip_p = IPPROTO_TCP;
	nth = (struct tcphdr *)(ip + 1);
	memset(nth, 0, sizeof(*nth));
	nth->th_sport = th.th_dport;
	nth->th_dport = th.th_sport;
	nth->th_off = 5 << 4;
	if (s->flags & TH_ACK) {
		nth->th_seq = htonl(s->ack);
		nth->th_flags = TH_RST;
	} else {
		nth->th_ack = htonl(s->seq + seglen);
		nth->th_flags = TH_RST | TH_ACK;
	}
	nth->th_sum = in_cksum_fin(in_cksum_add(in_pseudo(s->dst, s->src,
		IPPROTO_TCP, sizeof(*nth)), nth, sizeof(*nth)));
	m->m_flags &= ~(M_CSUM_OFFLOAD | M_CSUM_VALID | M_RINGDATA);
	NETSTAT_INC(tcp_rst_out);
	ip_output(m);
}

/* Take the peer's SYN options: its MSS, and window scaling if both
 * sides offered it (RFC 7323 2.2). */
static void tcp_syn_options_in(struct tcpcb *tp, const struct tcpseg *s)
{
	tp->t_maxseg = s->mss > 0 ?
		(uint16_t)MIN(s->mss, tcp_mss_for(tp->t_so->so_faddr)) :
		TCP_MSS_DEFAULT;
	if (s->wscale >= 0) {
		tp->t_flags |= TF_RCVD_SCALE;
		tp->snd_scale = (uint8_t)s->wscale;
		tp->rcv_scale = TCP_RCV_SCALE;
	}
	/* RFC 5681 3.1: the initial window from the segment size. */
	tp->snd_cwnd = tp->t_maxseg > 2190 ? 2u * tp->t_maxseg :
		       tp->t_maxseg > 1095 ? 3u * tp->t_maxseg :
		       4u * tp->t_maxseg;
	tp->irs = s->seq;
	tp->rcv_nxt = s->seq + 1;
	/* Nothing announced yet in the peer's sequence space: our SYN's
	 * window was counted from a rcv_nxt of zero, and a stale rcv_adv
	 * half the sequence space away read as a huge window already
	 * promised (tcp_rcv_window), which an active open then advertised. */
	tp->rcv_adv = tp->rcv_nxt;
	tp->snd_wnd = s->win;		/* a SYN's window is never scaled */
	tp->t_maxsndwnd = tp->snd_wnd;
	tp->snd_wl1 = s->seq;
}

/* A SYN for a listener: a new connection in SYN-RECEIVED, on this CPU
 * (the one its 4-tuple hashes to).  Consumes m. */
static void tcp_passive_open(struct socket *head, struct mbuf *m,
			     const struct tcpseg *s)
{
	struct socket *so = so_alloc(SOCK_STREAM, mycpuid);
	struct tcpcb *tp;

	NETSTAT_INC(tcp_syn_in);
	if (so == NULL || (tp = tcp_newtcpcb(so)) == NULL) {
		if (so)
			so_free(so);
		m_freem(m);		/* the peer will try again */
		return;
	}
	so->so_laddr = s->dst;
	so->so_lport = s->th->th_dport;
	so->so_faddr = s->src;
	so->so_fport = s->th->th_sport;
	so->so_nodelay = head->so_nodelay;
	tp->t_flags |= TF_PASSIVE | (head->so_nodelay ? TF_NODELAY : 0);
	tcp_syn_options_in(tp, s);
	tp->iss = tcp_iss();
	tp->snd_una = tp->snd_nxt = tp->snd_max = tp->iss;
	tcp_set_state(tp, TCPS_SYN_RECEIVED);
	tcp_attach_conn(tp);
	m_freem(m);
	tcp_output(tp);			/* SYN,ACK */
}

/* SYN-SENT: is this the answer to our SYN?  Returns tp, or NULL when
 * the connection is gone.  Consumes nothing. */
static struct tcpcb *tcp_syn_sent(struct tcpcb *tp, const struct tcpseg *s)
{
	struct socket *so = tp->t_so;
	bool ack_ok = (s->flags & TH_ACK) && SEQ_GT(s->ack, tp->iss) &&
		      SEQ_LEQ(s->ack, tp->snd_max);

	if ((s->flags & TH_ACK) && !ack_ok) {
		if (!(s->flags & TH_RST))
			tcp_respond(tp, s->ack, 0, TH_RST);
		return tp;
	}
	if (s->flags & TH_RST) {
		if (ack_ok) {		/* refused (RFC 9293 3.10.7.3) */
			NETSTAT_INC(tcp_rst_in);
			so->so_error = ECONNREFUSED;
			return tcp_close(tp);
		}
		return tp;
	}
	if (!(s->flags & TH_SYN))
		return tp;
	tcp_syn_options_in(tp, s);
	if (ack_ok) {
		tp->snd_una = s->ack;
		tp->snd_wl2 = s->ack;
		tp->t_rexmt = 0;
		if (tp->t_rtttime)
			tcp_rtt_sample(tp, (int)(ticks - tp->t_rtttime));
		tp->t_rtttime = 0;
		tcp_set_state(tp, TCPS_ESTABLISHED);
		so->so_state |= SS_ISCONNECTED;
		tp->t_flags |= TF_ACKNOW;
		so_wakeup(so);
	} else {			/* simultaneous open */
		tcp_set_state(tp, TCPS_SYN_RECEIVED);
		tp->snd_nxt = tp->iss;	/* resend our SYN, now with ACK */
	}
	tcp_output_later(tp);
	return tp;
}

/* Is the segment (trimmed below) in the receive window?  RFC 9293
 * 3.10.7.4's four cases. */
static bool tcp_acceptable(const struct tcpcb *tp, const struct tcpseg *s,
			   uint32_t wnd)
{
	uint32_t seglen = s->tlen + (s->flags & TH_SYN ? 1 : 0) +
			  (s->flags & TH_FIN ? 1 : 0);
	uint32_t end = tp->rcv_nxt + wnd;

	if (seglen == 0)
		return wnd == 0 ? s->seq == tp->rcv_nxt :
		       SEQ_GEQ(s->seq, tp->rcv_nxt) && SEQ_LT(s->seq, end);
	if (wnd == 0)
		return false;
	return (SEQ_GEQ(s->seq, tp->rcv_nxt) && SEQ_LT(s->seq, end)) ||
	       (SEQ_GEQ(s->seq + seglen - 1, tp->rcv_nxt) &&
		SEQ_LT(s->seq + seglen - 1, end));
}

/* Cut the segment to the window: what we already have off the front,
 * what does not fit off the back. */
static void tcp_trim(struct tcpcb *tp, struct tcpseg *s, uint32_t wnd)
{
	if (SEQ_LT(s->seq, tp->rcv_nxt)) {
		uint32_t todrop = tp->rcv_nxt - s->seq;

		if (s->flags & TH_SYN) {
			s->flags &= ~TH_SYN;
			s->seq++;
			todrop--;
		}
		if (todrop >= s->tlen && !(s->flags & TH_FIN &&
					   todrop == s->tlen)) {
			NETSTAT_INC(tcp_rcvdup);
			todrop = s->tlen;
			s->flags &= ~TH_FIN;
			tp->t_flags |= TF_ACKNOW;	/* they missed our ACK */
		}
		if (s->data != NULL)
			s->data += todrop;
		s->tlen -= todrop;
		s->seq += todrop;
	}
	if (SEQ_GT(s->seq + s->tlen, tp->rcv_nxt + wnd)) {
		uint32_t excess = s->seq + s->tlen - (tp->rcv_nxt + wnd);

		NETSTAT_INC(tcp_rcvafterwin);
		s->tlen = excess > s->tlen ? 0 : s->tlen - excess;
		s->flags &= ~TH_FIN;
		tp->t_flags |= TF_ACKNOW;
	}
}

/* A RST in a synchronized state (RFC 9293 3.10.7.4 with RFC 5961 3.2):
 * exactly at RCV.NXT it resets; elsewhere in the window it earns a
 * challenge ACK.  Returns NULL if the connection is gone. */
static struct tcpcb *tcp_rst(struct tcpcb *tp, const struct tcpseg *s)
{
	if (s->seq != tp->rcv_nxt) {
		NETSTAT_INC(tcp_challenge_ack);
		tcp_respond(tp, tp->snd_nxt, tp->rcv_nxt, TH_ACK);
		return tp;
	}
	NETSTAT_INC(tcp_rst_in);
	if (tp->t_state != TCPS_SYN_RECEIVED || !(tp->t_flags & TF_PASSIVE))
		tp->t_so->so_error = tp->t_state == TCPS_CLOSE_WAIT ||
				     tp->t_state == TCPS_ESTABLISHED ||
				     TCPS_HAVESENTFIN(tp->t_state) ?
				     ECONNRESET : ECONNREFUSED;
	tp->t_flags |= TF_WASRESET;
	if (tp->t_flags & TF_PASSIVE && tp->t_state == TCPS_SYN_RECEIVED)
		tp->t_so->so_state |= SS_NOFDREF;	/* nobody knew it */
	return tcp_close(tp);
}

/* ---- acknowledgments ------------------------------------------------------ */

/* A duplicate ACK (RFC 5681 2): counts toward fast retransmit.  The
 * third starts NewReno's recovery; each one after it means one more
 * segment has left the network, so one more may be sent. */
static void tcp_dupack(struct tcpcb *tp)
{
	uint32_t flight = tp->snd_max - tp->snd_una;

	NETSTAT_INC(tcp_rcvdupack);
	if (++tp->t_dupacks == 3 && !(tp->t_flags & TF_FASTRECOVERY)) {
		/* Fast retransmit, then NewReno's recovery (RFC 6582 3.2):
		 * ssthresh = max(FlightSize / 2, 2 SMSS), cwnd inflated by
		 * the three segments that have left the network. */
		NETSTAT_INC(tcp_fastrexmt);
		tp->snd_ssthresh = MAX(flight / 2, 2u * tp->t_maxseg);
		tp->snd_recover = tp->snd_max;
		tp->t_flags |= TF_FASTRECOVERY;
		tcp_rexmt_one(tp);
		tp->snd_cwnd = tp->snd_ssthresh + 3u * tp->t_maxseg;
	} else if (tp->t_dupacks > 3 && tp->t_flags & TF_FASTRECOVERY) {
		tp->snd_cwnd += tp->t_maxseg;	/* one more has left */
	}
}

/* acked new bytes: grow cwnd, or steer NewReno's recovery. */
static void tcp_cc_ack(struct tcpcb *tp, uint32_t ack, uint32_t acked)
{
	uint32_t mss = tp->t_maxseg;

	if (tp->t_flags & TF_FASTRECOVERY) {
		if (SEQ_GEQ(ack, tp->snd_recover)) {
			/* Full ACK: deflate, leave recovery (RFC 6582 3.2
			 * step 3). */
			uint32_t flight = tp->snd_max - ack;

			tp->snd_cwnd = MIN(tp->snd_ssthresh, flight + mss);
			tp->t_flags &= ~TF_FASTRECOVERY;
		} else {
			/* Partial ACK: the next hole is lost too; deflate by
			 * what was acked, add one segment.  tcp_ack resends
			 * the hole once SND.UNA has moved to it and the ACK's
			 * window is taken: resent from here, it was the bytes
			 * this very ACK acknowledged, and the hole waited for
			 * the RTO. */
			NETSTAT_INC(tcp_partialack);
			tp->snd_cwnd -= MIN(acked, tp->snd_cwnd);
			tp->snd_cwnd += mss;
		}
		return;
	}
	if (tp->snd_cwnd < tp->snd_ssthresh)	/* slow start */
		tp->snd_cwnd += MIN(acked, mss);
	else					/* congestion avoidance */
		tp->snd_cwnd += MAX(1u, mss * mss / tp->snd_cwnd);
}

/* The peer acknowledged up to s->ack (past snd_una): take an RTT sample
 * if the timed segment is covered (never from a resend: Karn), let the
 * congestion window grow, drop the acknowledged bytes from the send
 * ring, and restart or stop the retransmission timer.  (The parked
 * sends, which the ring's new room lets go on, are retried by tcp_ack
 * once the segment's window is taken too.) */
static void tcp_newack(struct tcpcb *tp, const struct tcpseg *s)
{
	struct socket *so = tp->t_so;
	uint32_t acked = s->ack - tp->snd_una;
	uint32_t bytes = acked;

	if (tp->t_rtttime && SEQ_GT(s->ack, tp->t_rtseq)) {
		tcp_rtt_sample(tp, (int)(ticks - tp->t_rtttime));
		tp->t_rtttime = 0;
	}
	tcp_cc_ack(tp, s->ack, acked);
	if (tp->t_flags & TF_SENTFIN && s->ack == tp->snd_max)
		bytes--;		/* the FIN took a number, no byte */
	sb_take(&so->so_snd, NULL, MIN(bytes, so->so_snd.sb_len));
	tp->snd_una = s->ack;
	if (SEQ_LT(tp->snd_nxt, tp->snd_una))
		tp->snd_nxt = tp->snd_una;
	tp->t_dupacks = 0;
	tp->t_rxtshift = 0;
	/* Everything acked: no timer; else restart it (RFC 6298 5.2-5.3). */
	if (tp->snd_una == tp->snd_max)
		tp->t_rexmt = 0;
	else if (!(tp->t_flags & TF_FASTRECOVERY))
		tcp_rexmt_arm(tp);
}

/* After our FIN is acknowledged, the closing states move on. */
static struct tcpcb *tcp_fin_acked(struct tcpcb *tp)
{
	switch (tp->t_state) {
	case TCPS_FIN_WAIT_1:
		tcp_set_state(tp, TCPS_FIN_WAIT_2);
		break;
	case TCPS_CLOSING:
		tcp_set_state(tp, TCPS_TIME_WAIT);
		break;
	case TCPS_LAST_ACK:
		return tcp_close(tp);
	default:
		break;
	}
	return tp;
}

/* The ACK field of a segment in a synchronized state.  NULL if the
 * connection is gone; *drop set if the rest of the segment must go. */
static struct tcpcb *tcp_ack(struct tcpcb *tp, struct tcpseg *s, bool *drop)
{
	uint32_t win = s->win << tp->snd_scale;
	bool newack;

	if (tp->t_state == TCPS_SYN_RECEIVED) {
		if (SEQ_LEQ(s->ack, tp->snd_una) ||
		    SEQ_GT(s->ack, tp->snd_max)) {
			tcp_respond(tp, s->ack, 0, TH_RST);
			*drop = true;
			return tp;
		}
		tcp_set_state(tp, TCPS_ESTABLISHED);
		tp->t_so->so_state |= SS_ISCONNECTED;
		tp->snd_wnd = win;
		tp->t_maxsndwnd = MAX(tp->t_maxsndwnd, win);
		tp->snd_wl1 = s->seq;
		tp->snd_wl2 = s->ack;
		tp->snd_una++;			/* our SYN */
		tp->t_rexmt = 0;
		if (tp->t_flags & TF_PASSIVE)
			tcp_handoff(tp->t_so);
		else
			so_wakeup(tp->t_so);
	}
	if (SEQ_GT(s->ack, tp->snd_max)) {	/* acks what we never sent */
		tp->t_flags |= TF_ACKNOW;
		*drop = true;
		return tp;
	}
	newack = SEQ_GT(s->ack, tp->snd_una);
	if (!newack) {
		/* A zero window's ACK answers a probe: it reports no loss
		 * (else three of them resent a segment into the shut
		 * window and halved the congestion window). */
		if (s->tlen == 0 && win == tp->snd_wnd && s->ack == tp->snd_una &&
		    tp->snd_max != tp->snd_una && !(s->flags & TH_FIN) &&
		    win != 0)
			tcp_dupack(tp);
		else if (s->ack == tp->snd_una)
			tp->t_dupacks = 0;
	} else {
		tcp_newack(tp, s);
	}
	/* The send window, from the newest segment only (RFC 9293
	 * 3.10.7.4, SND.WL1/WL2). */
	if (SEQ_LT(tp->snd_wl1, s->seq) ||
	    (tp->snd_wl1 == s->seq && SEQ_LEQ(tp->snd_wl2, s->ack))) {
		if (win > tp->snd_wnd)
			tp->t_persist = 0;	/* it opened */
		tp->snd_wnd = win;
		tp->snd_wl1 = s->seq;
		tp->snd_wl2 = s->ack;
		tp->t_maxsndwnd = MAX(tp->t_maxsndwnd, win);
	}
	/* Still in recovery after new data was acknowledged: a partial ACK
	 * (a full one ended recovery in tcp_cc_ack).  NewReno resends the
	 * next hole now (RFC 6582 3.2 step 4), from the new SND.UNA and
	 * within the window this ACK carries. */
	if (newack && tp->t_flags & TF_FASTRECOVERY)
		tcp_rexmt_one(tp);
	/* Room in the send buffer: parked sends go on, and their output
	 * must see this segment's window.  Woken from tcp_newack, before
	 * the window was taken, they sent from the new SND.UNA by the old
	 * window, past the peer's edge by what the ACK acknowledged (over
	 * the loopback's large segments: trimmed, lost, resent after an
	 * RTO). */
	if (newack)
		so_wakeup(tp->t_so);
	if (tp->t_flags & TF_SENTFIN && tp->snd_una == tp->snd_max)
		return tcp_fin_acked(tp);
	return tp;
}

/* ---- data ------------------------------------------------------------ */

/* Append in-order bytes to the receive ring; returns how many fit (the
 * rest is dropped: the peer sent past our window, and resends).
 * t_unacked counts what no ACK has covered yet, for delayed ACK. */
static uint32_t tcp_deliver(struct tcpcb *tp, const uint8_t *p, uint32_t len)
{
	uint32_t took = sb_append(&tp->t_so->so_rcv, p, len);

	tp->rcv_nxt += took;
	tp->t_unacked += took;
	NETSTAT_INC(tcp_rcvpack);
	NETSTAT_ADD(tcp_rcvbyte, took);
	return took;
}

/*
 * The bytes of a loopback segment that carried none (M_RINGDATA): they
 * are still in the sender's send ring, and the sender is the connection
 * with our 4-tuple reversed, on this very CPU (the flow hash is
 * symmetric).  So they go from ring to ring in one copy, where a wire
 * needs two (ring to segment, segment to ring).  The sender cannot have
 * let go of them: bytes at or past our rcv_nxt were never acknowledged.
 * Looked up by address, not by a pointer the segment kept, so a sender
 * that died meanwhile only makes the bytes lost (counted; nobody is left
 * to resend them).  Returns how many were taken.
 */
static uint32_t tcp_deliver_ring(struct tcpcb *tp, const struct tcpseg *s)
{
	struct tcpcb *from = tcp_lookup(s->dst, s->th->th_dport, s->src,
					s->th->th_sport);
	struct sockbuf *sb;
	uint32_t took;

	if (from == NULL || SEQ_LT(s->seq, from->snd_una) ||
	    SEQ_GT(s->seq + s->tlen, from->snd_una +
		   from->t_so->so_snd.sb_len)) {
		NETSTAT_INC(tcp_loop_ringgone);
		return 0;
	}
	sb = &from->t_so->so_snd;
	took = sb_append_ring(&tp->t_so->so_rcv, sb, s->seq - from->snd_una,
			      s->tlen);
	tp->rcv_nxt += took;
	tp->t_unacked += took;
	NETSTAT_INC(tcp_loop_ring);
	NETSTAT_INC(tcp_rcvpack);
	NETSTAT_ADD(tcp_rcvbyte, took);
	return took;
}

/* Keep an out-of-order segment (its data only), sorted by sequence.
 * The mbuf itself is the queue entry: m_data and m_len are narrowed to
 * the data, m_seq remembers where it goes.  At most TCP_REASS_MAX are
 * kept; beyond that the segment is dropped and the peer resends it. */
static void tcp_reass_insert(struct tcpcb *tp, struct mbuf *m,
			     const struct tcpseg *s)
{
	struct mbuf **pp = &tp->t_reass;

	if (tp->t_reass_len >= TCP_REASS_MAX || s->tlen == 0) {
		m_freem(m);
		return;
	}
	m->m_data = s->data;
	m->m_len = s->tlen;
	m->m_seq = s->seq;
	while (*pp != NULL && SEQ_LT((*pp)->m_seq, s->seq))
		pp = &(*pp)->m_nextpkt;
	m->m_nextpkt = *pp;
	*pp = m;
	tp->t_reass_len++;
}

/* Pull whatever the queue now continues; true if anything came. */
static bool tcp_reass_pull(struct tcpcb *tp)
{
	bool pulled = false;
	struct mbuf *m;

	while ((m = tp->t_reass) != NULL && SEQ_LEQ(m->m_seq, tp->rcv_nxt)) {
		uint32_t skip = tp->rcv_nxt - m->m_seq;

		tp->t_reass = m->m_nextpkt;
		tp->t_reass_len--;
		m->m_nextpkt = NULL;
		if (skip < m->m_len) {
			tcp_deliver(tp, m->m_data + skip, m->m_len - skip);
			pulled = true;
		}
		m_freem(m);
	}
	return pulled;
}

/*
 * The segment's data.  In order: delivered; an ACK is owed at once for
 * every second full segment, else within TCP_DELACK (RFC 1122 4.2.3.2,
 * RFC 5681 4.2).  Out of order: kept, and a duplicate ACK goes out now,
 * for the peer's fast retransmit.  Returns true if m was kept.
 */
static bool tcp_data(struct tcpcb *tp, struct mbuf *m, struct tcpseg *s)
{
	if (s->tlen == 0)
		return false;
	if (s->seq != tp->rcv_nxt) {
		NETSTAT_INC(tcp_rcvoo);
		s->flags &= ~TH_FIN;	/* the peer resends it in order */
		tp->t_flags |= TF_ACKNOW;
		if (s->data == NULL) {	/* ring bytes: the resend has them */
			tcp_output(tp);
			return false;
		}
		tcp_reass_insert(tp, m, s);
		tcp_output(tp);		/* not aggregated: each one counts */
		return true;
	}
	if ((s->data != NULL ? tcp_deliver(tp, s->data, s->tlen) :
	     tcp_deliver_ring(tp, s)) < s->tlen)
		tp->t_flags |= TF_ACKNOW;	/* could not take it all */
	if (tp->t_reass != NULL && tcp_reass_pull(tp))
		tp->t_flags |= TF_ACKNOW;	/* a gap was filled */
	if (tp->t_unacked >= 2u * tp->t_maxseg) {
		/* The second full segment is acknowledged now, not at the
		 * batch's end: with the rollup alone a batch of eight
		 * segments got one ACK, and the sender's ACK clock (RFC
		 * 5681 4.2: at least every second full segment) slowed. */
		tp->t_flags |= TF_ACKNOW;
		tcp_output(tp);
	} else if (!(tp->t_flags & (TF_DELACK | TF_ACKNOW))) {
		tp->t_flags |= TF_DELACK;
		tp->t_delack = ticks + TCP_DELACK;
	}
	so_wakeup(tp->t_so);
	return false;
}

/* The peer's FIN, in order: no more data will come. */
static struct tcpcb *tcp_fin(struct tcpcb *tp, const struct tcpseg *s)
{
	if (s->seq + s->tlen != tp->rcv_nxt && tp->t_state != TCPS_TIME_WAIT)
		return tp;
	if (tp->t_state != TCPS_TIME_WAIT)
		tp->rcv_nxt++;
	tp->t_flags |= TF_ACKNOW;
	tp->t_so->so_state |= SS_CANTRCVMORE;
	switch (tp->t_state) {
	case TCPS_SYN_RECEIVED:
	case TCPS_ESTABLISHED:
		tcp_set_state(tp, TCPS_CLOSE_WAIT);
		break;
	case TCPS_FIN_WAIT_1:		/* our FIN is not yet acked */
		tcp_set_state(tp, TCPS_CLOSING);
		break;
	case TCPS_FIN_WAIT_2:
	case TCPS_TIME_WAIT:		/* a resent FIN: ACK, wait again */
		tcp_set_state(tp, TCPS_TIME_WAIT);
		break;
	default:
		break;
	}
	so_wakeup(tp->t_so);
	return tp;
}

/* ---- the segment ----------------------------------------------------------- */

/* A segment for a connection in a synchronized state.  Returns true if
 * m was kept (reassembly). */
static bool tcp_segment(struct tcpcb *tp, struct mbuf *m, struct tcpseg *s)
{
	uint32_t wnd = tcp_rcv_window(tp);
	bool drop = false, kept = false;

	/* Simultaneous open (RFC 9293 figure 7): in SYN-RECEIVED the peer's
	 * SYN-ACK repeats the SYN we already have.  Its SYN takes the
	 * number we acked; what is left -- the ACK of our SYN -- is new
	 * and completes the handshake (BSD trims it the same way). */
	if (tp->t_state == TCPS_SYN_RECEIVED &&
	    (s->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) &&
	    s->seq == tp->irs) {
		s->flags &= ~TH_SYN;
		s->seq++;
	}
	if (wnd == 0 && s->seq == tp->rcv_nxt && s->tlen > 0) {
		s->tlen = 0;		/* a window probe: answer, keep ACK */
		s->flags &= ~TH_FIN;
		tp->t_flags |= TF_ACKNOW;
	}
	if (!tcp_acceptable(tp, s, wnd)) {
		if (s->flags & TH_RST)
			NETSTAT_INC(tcp_rst_ignored);
		else
			tcp_respond(tp, tp->snd_nxt, tp->rcv_nxt, TH_ACK);
		return false;
	}
	tcp_trim(tp, s, wnd);
	if (s->flags & TH_RST) {
		tcp_rst(tp, s);
		return false;
	}
	if (s->flags & TH_SYN) {	/* RFC 5961 4: challenge, never reset */
		NETSTAT_INC(tcp_challenge_ack);
		tcp_respond(tp, tp->snd_nxt, tp->rcv_nxt, TH_ACK);
		return false;
	}
	if (!(s->flags & TH_ACK))
		return false;
	if ((tp = tcp_ack(tp, s, &drop)) == NULL || drop)
		goto out;
	if (tp->t_state <= TCPS_FIN_WAIT_2 && tp->t_state != TCPS_CLOSE_WAIT &&
	    tp->t_state != TCPS_CLOSING && tp->t_state != TCPS_LAST_ACK)
		kept = tcp_data(tp, m, s);
	if (s->flags & TH_FIN)
		tp = tcp_fin(tp, s);
out:
	if (tp != NULL)
		tcp_output_later(tp);
	return kept;
}

/*
 * A TCP segment, on the netisr its 4-tuple hashes to (ip_input, after
 * the IP header was checked; hlen is its length).  Consumes m: freed,
 * or kept in a reassembly queue, or turned into a reset.  Never blocks.
 */
void tcp_input(struct mbuf *m, uint32_t hlen)
{
	struct tcpseg s;
	struct tcpcb *tp;
	struct socket *head;

	NETSTAT_INC(tcp_in);
	if (!tcp_check(m, hlen, &s)) {
		m_freem(m);
		return;
	}
	tp = tcp_lookup(s.src, s.th->th_sport, s.dst, s.th->th_dport);
	if (tp == NULL) {
		head = tcp_listener(s.dst, s.th->th_dport);
		if (head != NULL && (s.flags & (TH_SYN | TH_ACK | TH_RST)) ==
		    TH_SYN && !(m->m_flags & M_BCAST)) {
			tcp_passive_open(head, m, &s);
			return;
		}
		if (head == NULL)
			NETSTAT_INC(tcp_noport);
		tcp_reset_reply(m, &s);
		return;
	}
	if (tp->t_state == TCPS_SYN_SENT) {
		tcp_syn_sent(tp, &s);
		m_freem(m);
		return;
	}
	if (!tcp_segment(tp, m, &s))
		m_freem(m);
}

/* An ICMP error about a segment we sent: a connection still opening
 * gives up (the peer's host or port is unreachable); an established one
 * ignores it (RFC 1122 4.2.3.9: soft errors). */
void tcp_ctlinput(const struct ip *ip, uint32_t len __unused, int error)
{
	const struct tcphdr *th = (const struct tcphdr *)
		((const uint8_t *)ip + (ip->ip_vhl & 0xf) * 4u);
	int cpu = netisr_hashcpu(netisr_hash4(ip->ip_dst, ip->ip_src,
					      th->th_dport, th->th_sport));
	struct tcpcb *tp;

	if (cpu != mycpuid)
		return;		/* a lying quote (ip_flow_hash routes true
				 * ones here): another CPU's connection */
	tp = tcp_lookup(ip->ip_dst, th->th_dport, ip->ip_src, th->th_sport);
	if (tp != NULL && tp->t_state == TCPS_SYN_SENT)
		tcp_drop(tp, error);
}
