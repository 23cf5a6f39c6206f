/*
 * tcp_input.c - TCP segments arriving (RFC 9293 3.10.7), on the netisr
 * that owns the segment's 4-tuple.
 *
 * The file follows the RFC's "SEGMENT ARRIVES" from top to bottom, so
 * it can be read beside section 3.10.7; each step is a function:
 *
 *   check        header fits, data offset inside, options well formed,
 *                checksum over the pseudo-header             (tcp_check)
 *   find         the connection by 4-tuple                (tcp_input)
 *   CLOSED       nobody wants it: answer with a reset  (tcp_reset_reply)
 *   LISTEN       a SYN makes a new connection          (tcp_passive_open)
 *   SYN-SENT     our SYN acknowledged?  their SYN?           (tcp_syn_sent)
 *   any other state, the RFC's eight steps in order       (tcp_segment):
 *     1 sequence   the segment overlaps the receive window; trimmed to
 *                  it; else an ACK goes back               (tcp_check_seq)
 *     2 RST        resets only if exactly at RCV.NXT, else a challenge
 *                  ACK (RFC 5961)                              (tcp_rst)
 *     3 security   no IP security option here: nothing to check
 *     4 SYN        in a synchronized state, a challenge ACK (tcp_check_ctl)
 *     5 ACK        SYN-RECEIVED -> ESTABLISHED; new data acknowledged:
 *                  RTT sample, congestion window, send buffer, timers;
 *                  duplicate ACKs: fast retransmit and NewReno; the
 *                  send window                                 (tcp_ack)
 *     6 URG        not supported: the urgent pointer is ignored and the
 *                  bytes come in line, as RFC 6093 advises
 *     7 text       in order: into the receive buffer, delayed ACK; out
 *                  of order: kept, duplicate ACK at once      (tcp_data)
 *     8 FIN        the peer is done: CLOSE-WAIT, CLOSING or TIME-WAIT
 *                                                               (tcp_fin)
 *
 * Then the connection goes on the rollup list: tcp_output runs once for
 * it when the netisr's batch is over (tcp_subr.c), so a burst of
 * segments is answered by one ACK.
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

#define TCPOPT_EOL	0	/* end of the option list */
#define TCPOPT_NOP	1	/* one byte of padding */
#define TCPOPT_MSS	2	/* maximum segment size, 4 bytes */
#define TCPOPT_WSCALE	3	/* window scale shift, 3 bytes (RFC 7323) */
#define TCP_MAX_WSCALE	14	/* RFC 7323 2.3 */

/* A step the usual segment -- in order, on an established connection --
 * never takes: out of line and marked unlikely, so the common path
 * stays short and reads straight down (make bench's TCP echo counts
 * it). */
#define TCP_SLOWPATH	__attribute__((noinline, cold))
/* Out of line, though taken often enough: ring-to-ring delivery (each
 * large loopback segment) and the reassembly queue.  Inlined, they cost
 * the common path registers, and the echo a few instructions. */
#define TCP_OUTOFLINE	__attribute__((noinline))

/* What one segment says, in host order, once checked.  The steps below
 * narrow it (trimming moves seq and data, clears SYN or FIN), never the
 * packet itself. */
struct tcpseg {
	struct tcphdr *th;		/* in the mbuf: ports, for replies */
	uint32_t seq, ack, tlen;	/* tlen: data bytes */
	uint32_t win;			/* as sent (not yet scaled) */
	uint8_t flags;
	uint8_t *data;			/* NULL: loopback ring bytes */
	int mss, wscale;		/* -1: option absent */
	uint32_t src, dst;		/* IP addresses, network order */
};

/* SEG.LEN (RFC 9293 3.4): the sequence numbers the segment occupies,
 * its data plus one each for SYN and FIN. */
static inline uint32_t tcp_seglen(const struct tcpseg *s)
{
	return s->tlen + (s->flags & TH_SYN ? 1 : 0) +
	       (s->flags & TH_FIN ? 1 : 0);
}

/* ---- checking the segment (RFC 9293 3.1, 3.2) -------------------------- */

/*
 * One option other than EOL and NOP, at p, with len bytes of option
 * space left.  Returns its length, or 0 if it is malformed: a length
 * that runs past the header (RFC 9293 3.2), or an MSS or window scale
 * of the wrong size.  An option we do not know is skipped by its length.
 */
static uint32_t tcp_option(struct tcpseg *s, const uint8_t *p, uint32_t len)
{
	uint8_t kind = p[0], olen;

	if (len < 2 || (olen = p[1]) < 2 || olen > len)
		return 0;
	if (kind == TCPOPT_MSS && olen == 4)
		s->mss = p[2] << 8 | p[3];
	else if (kind == TCPOPT_WSCALE && olen == 3)
		s->wscale = MIN(p[2], TCP_MAX_WSCALE);
	else if (kind == TCPOPT_MSS || kind == TCPOPT_WSCALE)
		return 0;	/* a known option of the wrong size */
	return olen;
}

/* Parse the options into s; false if one is malformed.  EOL ends the
 * list early, NOP is a byte of padding. */
static bool tcp_options(struct tcpseg *s, const uint8_t *p, uint32_t len)
{
	s->mss = s->wscale = -1;
	while (len > 0 && p[0] != TCPOPT_EOL) {
		uint32_t olen = p[0] == TCPOPT_NOP ? 1 : tcp_option(s, p, len);

		if (olen == 0)
			return false;
		p += olen;
		len -= olen;
	}
	return true;
}

/* Does a TCP header fit in the segment's len bytes, and its data offset
 * (header and options) inside them?  Returns the offset in bytes, or 0,
 * counted, if not. */
static uint32_t tcp_check_offset(const struct tcphdr *th, uint32_t len)
{
	uint32_t off;

	if (len < sizeof(*th)) {
		NETSTAT_INC(tcp_badlen);
		return 0;
	}
	off = (th->th_off >> 4) * 4u;
	if (off < sizeof(*th) || off > len) {
		NETSTAT_INC(tcp_badoff);
		return 0;
	}
	return off;
}

/* The checksum covers a pseudo-header (both addresses, the protocol,
 * the TCP length: RFC 9293 3.1) and the whole segment.  A device that
 * verified it, and the loopback, set M_CSUM_VALID instead. */
static bool tcp_cksum_ok(const struct mbuf *m, const struct ip *ip,
			 const struct tcphdr *th, uint32_t len)
{
	if (m->m_flags & M_CSUM_VALID)
		return true;
	return in_cksum_fin(in_cksum_add(in_pseudo(ip->ip_src, ip->ip_dst,
						   IPPROTO_TCP, (uint16_t)len),
					 th, len)) == 0;
}

/* Fill s from a checked header of len bytes, off of them header.  Over
 * the loopback a large segment's bytes are still in its sender's ring
 * (M_RINGDATA): no data pointer then, tcp_data fetches them. */
static void tcp_seg_fill(struct tcpseg *s, const struct mbuf *m,
			 const struct ip *ip, struct tcphdr *th,
			 uint32_t len, uint32_t off)
{
	s->th = th;
	s->seq = ntohl(th->th_seq);
	s->ack = ntohl(th->th_ack);
	s->flags = th->th_flags;
	s->win = ntohs(th->th_win);
	s->data = m->m_flags & M_RINGDATA ? NULL : (uint8_t *)th + off;
	s->tlen = len - off;
	s->src = ip->ip_src;
	s->dst = ip->ip_dst;
}

/* Check the segment in m; false (counted) if it must be dropped.  The
 * order of the checks decides which counter a broken segment lands in
 * (the fuzz test expects one count per frame): length, data offset,
 * checksum (skipped when the device verified it), options. */
static bool tcp_check(struct mbuf *m, uint32_t hlen, struct tcpseg *s)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct tcphdr *th = (struct tcphdr *)(m->m_data + hlen);
	uint32_t len = ntohs(ip->ip_len) - hlen;
	uint32_t off = tcp_check_offset(th, len);

	if (off == 0)
		return false;
	if (!tcp_cksum_ok(m, ip, th, len)) {
		NETSTAT_INC(tcp_badsum);
		return false;
	}
	if (!tcp_options(s, (const uint8_t *)(th + 1), off - sizeof(*th))) {
		NETSTAT_INC(tcp_badopt);
		return false;
	}
	tcp_seg_fill(s, m, ip, th, len, off);
	return true;
}

/* ---- CLOSED: nobody wants the segment (RFC 9293 3.10.7.1) -------------- */

/* Turn m into the bare headers of an answer to s: addresses and ports
 * swapped, every other field zero, no options.  Returns its TCP header.
 * (The old header may lie where the new one goes: its ports are read
 * first.) */
static struct tcphdr *tcp_answer_headers(struct mbuf *m,
					 const struct tcpseg *s)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct tcphdr *nth = (struct tcphdr *)(ip + 1);
	uint16_t sport = s->th->th_sport, dport = s->th->th_dport;

	m->m_len = sizeof(struct ip) + sizeof(struct tcphdr);
	memset(ip, 0, sizeof(*ip));
	ip->ip_src = s->dst;
	ip->ip_dst = s->src;
	ip->ip_p = IPPROTO_TCP;
	memset(nth, 0, sizeof(*nth));
	nth->th_sport = dport;
	nth->th_dport = sport;
	nth->th_off = 5 << 4;
	return nth;
}

/*
 * No connection wants the segment in m: answer with a reset built in m
 * itself.  A segment with an ACK gets a reset that takes the number it
 * acknowledged, <SEQ=SEG.ACK><CTL=RST>; any other gets one that
 * acknowledges it, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, so the
 * sender's check of the ACK accepts it.  Never a reset for a reset (two
 * stacks would answer each other for ever), nor for a broadcast.
 * Consumes m.
 */
static void tcp_reset_reply(struct mbuf *m, const struct tcpseg *s)
{
	struct tcphdr *nth;

	if (s->flags & TH_RST || s->dst == INADDR_BROADCAST ||
	    m->m_flags & M_BCAST) {
		m_freem(m);
		return;
	}
	nth = tcp_answer_headers(m, s);
	if (s->flags & TH_ACK) {
		nth->th_seq = htonl(s->ack);
		nth->th_flags = TH_RST;
	} else {
		nth->th_ack = htonl(s->seq + tcp_seglen(s));
		nth->th_flags = TH_RST | TH_ACK;
	}
	nth->th_sum = in_cksum_fin(in_cksum_add(in_pseudo(s->dst, s->src,
		IPPROTO_TCP, sizeof(*nth)), nth, sizeof(*nth)));
	m->m_flags &= ~(M_CSUM_OFFLOAD | M_CSUM_VALID | M_RINGDATA);
	NETSTAT_INC(tcp_rst_out);
	ip_output(m);
}

/* ---- the peer's SYN, in LISTEN or SYN-SENT ----------------------------- */

/* RFC 5681 3.1: the initial congestion window, by the segment size:
 * two segments over 2,190 bytes, three over 1,095, else four. */
static uint32_t tcp_initial_cwnd(uint32_t mss)
{
	if (mss > 2190)
		return 2u * mss;
	if (mss > 1095)
		return 3u * mss;
	return 4u * mss;
}

/* The SYN's options: the peer's MSS (never more than our route's), and
 * window scaling if both sides offered it (RFC 7323 2.2). */
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
	tp->snd_cwnd = tcp_initial_cwnd(tp->t_maxseg);
}

/*
 * Take the peer's SYN: its options, its initial sequence number (IRS:
 * RCV.NXT is one past it) and its window, which a SYN never scales.
 * Nothing is announced yet in the peer's sequence space (RCV.ADV at
 * RCV.NXT): our SYN's window was counted from a rcv_nxt of zero, and a
 * stale rcv_adv half the sequence space away read as a huge window
 * already promised (tcp_rcv_window), which an active open then
 * advertised.
 */
static void tcp_syn_in(struct tcpcb *tp, const struct tcpseg *s)
{
	tcp_syn_options_in(tp, s);
	tp->irs = s->seq;
	tp->rcv_nxt = s->seq + 1;
	tp->rcv_adv = tp->rcv_nxt;
	tp->snd_wnd = s->win;		/* a SYN's window is never scaled */
	tp->t_maxsndwnd = tp->snd_wnd;
	tp->snd_wl1 = s->seq;
}

/* ---- LISTEN (RFC 9293 3.10.7.2) ---------------------------------------- */

/* A socket and tcpcb for the connection a SYN opens on listener head:
 * its 4-tuple from the segment, TCP_NODELAY inherited.  NULL when
 * memory is short. */
static struct tcpcb *tcp_new_conn(struct socket *head, const struct tcpseg *s)
{
	struct socket *so = so_alloc(SOCK_STREAM, mycpuid);
	struct tcpcb *tp;

	if (so == NULL || (tp = tcp_newtcpcb(so)) == NULL) {
		if (so)
			so_free(so);
		return NULL;
	}
	so->so_laddr = s->dst;
	so->so_lport = s->th->th_dport;
	so->so_faddr = s->src;
	so->so_fport = s->th->th_sport;
	so->so_nodelay = head->so_nodelay;
	tp->t_flags |= TF_PASSIVE | (head->so_nodelay ? TF_NODELAY : 0);
	return tp;
}

/* A SYN for a listener: a new connection in SYN-RECEIVED, on this CPU
 * (the one its 4-tuple hashes to), which answers SYN,ACK with our ISS.
 * Without memory the SYN is dropped: the peer will try again.  Consumes
 * m. */
static void tcp_passive_open(struct socket *head, struct mbuf *m,
			     const struct tcpseg *s)
{
	struct tcpcb *tp;

	NETSTAT_INC(tcp_syn_in);
	if ((tp = tcp_new_conn(head, s)) == NULL) {
		m_freem(m);
		return;
	}
	tcp_syn_in(tp, s);
	tp->iss = tcp_iss();
	tp->snd_una = tp->snd_nxt = tp->snd_max = tp->iss;
	tcp_set_state(tp, TCPS_SYN_RECEIVED);
	tcp_attach_conn(tp);
	m_freem(m);
	tcp_output(tp);			/* SYN,ACK */
}

/* ---- SYN-SENT (RFC 9293 3.10.7.3) -------------------------------------- */

/* Does the segment acknowledge our SYN, ISS < SEG.ACK =< SND.NXT? */
static bool tcp_acks_our_syn(const struct tcpcb *tp, const struct tcpseg *s)
{
	return (s->flags & TH_ACK) && SEQ_GT(s->ack, tp->iss) &&
	       SEQ_LEQ(s->ack, tp->snd_max);
}

/* Our SYN is acknowledged and the peer's has come: ESTABLISHED.  The
 * handshake's round trip is the first RTT sample (unless the SYN was
 * resent: Karn), and the connect call parked on the socket wakes. */
static void tcp_syn_sent_established(struct tcpcb *tp, const struct tcpseg *s)
{
	struct socket *so = tp->t_so;

	tp->snd_una = s->ack;
	tp->snd_wl2 = s->ack;
	tp->t_rexmt = 0;
	if (tp->t_rtttime)
		tcp_rtt_sample(tp, (int)(ticks - tp->t_rtttime));
	tp->t_rtttime = 0;
	tcp_set_state(tp, TCPS_ESTABLISHED);
	so->so_state |= SS_ISCONNECTED;
	tp->t_flags |= TF_ACKNOW;	/* the handshake's third segment */
	so_wakeup(so);
}

/* A reset in SYN-SENT counts only if it acknowledges our SYN: the port
 * is closed (ECONNREFUSED).  Returns NULL if the connection is gone. */
static struct tcpcb *tcp_syn_sent_rst(struct tcpcb *tp, bool ack_ok)
{
	if (!ack_ok)
		return tp;
	NETSTAT_INC(tcp_rst_in);
	tp->t_so->so_error = ECONNREFUSED;
	return tcp_close(tp);
}

/* SYN-SENT: is this the answer to our SYN?  The RFC's steps in order:
 * the ACK, the RST, (security,) the SYN.  Returns tp, or NULL when the
 * connection is gone.  Consumes nothing. */
TCP_SLOWPATH
static struct tcpcb *tcp_syn_sent(struct tcpcb *tp, const struct tcpseg *s)
{
	bool ack_ok = tcp_acks_our_syn(tp, s);

	if ((s->flags & TH_ACK) && !ack_ok) {	/* acks another SYN */
		if (!(s->flags & TH_RST))
			tcp_respond(tp, s->ack, 0, TH_RST);
		return tp;
	}
	if (s->flags & TH_RST)
		return tcp_syn_sent_rst(tp, ack_ok);
	if (!(s->flags & TH_SYN))	/* neither SYN nor RST: dropped */
		return tp;
	tcp_syn_in(tp, s);
	if (ack_ok) {
		tcp_syn_sent_established(tp, s);
	} else {			/* simultaneous open */
		tcp_set_state(tp, TCPS_SYN_RECEIVED);
		tp->snd_nxt = tp->iss;	/* resend our SYN, now with ACK */
	}
	tcp_output_later(tp);
	return tp;
}

/* ---- step 1: the sequence number (RFC 9293 3.10.7.4) ------------------- */

/* Is the segment in the receive window?  The RFC's four cases: an empty
 * segment must start inside it (exactly at RCV.NXT when it is zero);
 * one with data must have its first or its last byte inside. */
static bool tcp_acceptable(const struct tcpcb *tp, const struct tcpseg *s,
			   uint32_t wnd)
{
	uint32_t seglen = tcp_seglen(s);
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

/* Cut off the front of a segment that starts before RCV.NXT: bytes we
 * already have (and a SYN we already took).  If nothing new is left it
 * is a duplicate: the peer missed our ACK, so one goes at once. */
TCP_SLOWPATH
static void tcp_trim_front(struct tcpcb *tp, struct tcpseg *s)
{
	uint32_t todrop = tp->rcv_nxt - s->seq;

	if (s->flags & TH_SYN) {
		s->flags &= ~TH_SYN;
		s->seq++;
		todrop--;
	}
	if (todrop >= s->tlen && !(s->flags & TH_FIN && todrop == s->tlen)) {
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

/* Cut off what lies past the right edge of the window (and the FIN with
 * it); an ACK at once tells the peer where the edge is. */
TCP_SLOWPATH
static void tcp_trim_back(struct tcpcb *tp, struct tcpseg *s, uint32_t wnd)
{
	uint32_t excess = s->seq + s->tlen - (tp->rcv_nxt + wnd);

	NETSTAT_INC(tcp_rcvafterwin);
	s->tlen = excess > s->tlen ? 0 : s->tlen - excess;
	s->flags &= ~TH_FIN;
	tp->t_flags |= TF_ACKNOW;
}

/* Cut the segment to the window: what we already have off the front,
 * what does not fit off the back. */
static void tcp_trim(struct tcpcb *tp, struct tcpseg *s, uint32_t wnd)
{
	if (SEQ_LT(s->seq, tp->rcv_nxt))
		tcp_trim_front(tp, s);
	if (SEQ_GT(s->seq + s->tlen, tp->rcv_nxt + wnd))
		tcp_trim_back(tp, s, wnd);
}

/* Simultaneous open (RFC 9293 figure 7): in SYN-RECEIVED the peer's
 * SYN-ACK repeats the SYN we already have.  Its SYN takes the number we
 * acked; what is left -- the ACK of our SYN -- is new and completes the
 * handshake (strict sequence checks alone would ignore it and wait for a
 * resend; BSD trims it the same way). */
static void tcp_trim_repeated_syn(const struct tcpcb *tp, struct tcpseg *s)
{
	if (tp->t_state == TCPS_SYN_RECEIVED &&
	    (s->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) &&
	    s->seq == tp->irs) {
		s->flags &= ~TH_SYN;
		s->seq++;
	}
}

/* A zero window takes no data, but a probe at RCV.NXT is not refused:
 * its byte is dropped and its ACK and window still count, and it is
 * answered at once with our window (RFC 9293 3.8.6.1). */
static void tcp_window_probe(struct tcpcb *tp, struct tcpseg *s, uint32_t wnd)
{
	if (wnd == 0 && s->seq == tp->rcv_nxt && s->tlen > 0) {
		s->tlen = 0;
		s->flags &= ~TH_FIN;
		tp->t_flags |= TF_ACKNOW;
	}
}

/* Step 1: keep the segment only if it overlaps the receive window of
 * wnd bytes, and trim it to the window.  An unacceptable one is
 * answered with an ACK (which tells the peer what we expect), unless it
 * is a reset.  Returns false if the segment must go. */
static bool tcp_check_seq(struct tcpcb *tp, struct tcpseg *s, uint32_t wnd)
{
	tcp_trim_repeated_syn(tp, s);
	tcp_window_probe(tp, s, wnd);
	if (!tcp_acceptable(tp, s, wnd)) {
		if (s->flags & TH_RST)
			NETSTAT_INC(tcp_rst_ignored);
		else
			tcp_respond(tp, tp->snd_nxt, tp->rcv_nxt, TH_ACK);
		return false;
	}
	tcp_trim(tp, s, wnd);
	return true;
}

/* ---- steps 2 to 4: RST, security, SYN ---------------------------------- */

/* The error a reset leaves for the user: "refused" while the
 * connection was still opening, "reset" once it was established. */
static int tcp_rst_error(const struct tcpcb *tp)
{
	return tp->t_state == TCPS_CLOSE_WAIT ||
	       tp->t_state == TCPS_ESTABLISHED ||
	       TCPS_HAVESENTFIN(tp->t_state) ? ECONNRESET : ECONNREFUSED;
}

/* A RST in a synchronized state (RFC 9293 3.10.7.4 with RFC 5961 3.2):
 * exactly at RCV.NXT it resets; elsewhere in the window it earns a
 * challenge ACK, so a blind attacker must guess the exact number.  A
 * connection a listener made and nobody accepted yet just goes.
 * Returns NULL if the connection is gone. */
TCP_SLOWPATH
static struct tcpcb *tcp_rst(struct tcpcb *tp, const struct tcpseg *s)
{
	if (s->seq != tp->rcv_nxt) {
		NETSTAT_INC(tcp_challenge_ack);
		tcp_respond(tp, tp->snd_nxt, tp->rcv_nxt, TH_ACK);
		return tp;
	}
	NETSTAT_INC(tcp_rst_in);
	if (tp->t_state != TCPS_SYN_RECEIVED || !(tp->t_flags & TF_PASSIVE))
		tp->t_so->so_error = tcp_rst_error(tp);
	tp->t_flags |= TF_WASRESET;
	if (tp->t_flags & TF_PASSIVE && tp->t_state == TCPS_SYN_RECEIVED)
		tp->t_so->so_state |= SS_NOFDREF;	/* nobody knew it */
	return tcp_close(tp);
}

/* Steps 2 to 4 and the start of 5: a RST (tcp_rst); no security
 * option to check; a SYN in a synchronized state earns a challenge ACK,
 * never a reset (RFC 5961 4); a segment without ACK is dropped.
 * Returns true if the segment goes on to its ACK. */
static bool tcp_check_ctl(struct tcpcb *tp, const struct tcpseg *s)
{
	if (s->flags & TH_RST) {
		tcp_rst(tp, s);
		return false;
	}
	if (s->flags & TH_SYN) {
		NETSTAT_INC(tcp_challenge_ack);
		tcp_respond(tp, tp->snd_nxt, tp->rcv_nxt, TH_ACK);
		return false;
	}
	return (s->flags & TH_ACK) != 0;
}

/* ---- step 5: the acknowledgment ---------------------------------------- */

/* The third duplicate ACK: fast retransmit, then NewReno's recovery
 * (RFC 6582 3.2 step 2): ssthresh = max(FlightSize / 2, 2 SMSS), the
 * first unacknowledged segment resent, cwnd inflated by the three
 * segments that have left the network. */
static void tcp_fast_retransmit(struct tcpcb *tp)
{
	uint32_t flight = tp->snd_max - tp->snd_una;

	NETSTAT_INC(tcp_fastrexmt);
	tp->snd_ssthresh = MAX(flight / 2, 2u * tp->t_maxseg);
	tp->snd_recover = tp->snd_max;
	tp->t_flags |= TF_FASTRECOVERY;
	tcp_rexmt_one(tp);
	tp->snd_cwnd = tp->snd_ssthresh + 3u * tp->t_maxseg;
}

/* A duplicate ACK (RFC 5681 2): counts toward fast retransmit.  The
 * third starts NewReno's recovery; each one after it means one more
 * segment has left the network, so one more may be sent. */
TCP_SLOWPATH
static void tcp_dupack(struct tcpcb *tp)
{
	NETSTAT_INC(tcp_rcvdupack);
	if (++tp->t_dupacks == 3 && !(tp->t_flags & TF_FASTRECOVERY))
		tcp_fast_retransmit(tp);
	else if (tp->t_dupacks > 3 && tp->t_flags & TF_FASTRECOVERY)
		tp->snd_cwnd += tp->t_maxseg;	/* one more has left */
}

/* New data acknowledged during recovery.  A full ACK (all that was out
 * when recovery began) deflates cwnd and ends it (RFC 6582 3.2 step
 * 3).  A partial ACK means the next hole is lost too: deflate by what
 * was acked, add one segment.  tcp_ack resends the hole once SND.UNA has
 * moved to it and the ACK's window is taken: resent from here, it was
 * the bytes this very ACK acknowledged, and the hole waited for the
 * RTO. */
TCP_SLOWPATH
static void tcp_recovery_ack(struct tcpcb *tp, uint32_t ack, uint32_t acked)
{
	uint32_t mss = tp->t_maxseg;

	if (SEQ_GEQ(ack, tp->snd_recover)) {
		uint32_t flight = tp->snd_max - ack;

		tp->snd_cwnd = MIN(tp->snd_ssthresh, flight + mss);
		tp->t_flags &= ~TF_FASTRECOVERY;
		return;
	}
	NETSTAT_INC(tcp_partialack);
	tp->snd_cwnd -= MIN(acked, tp->snd_cwnd);
	tp->snd_cwnd += mss;
}

/* acked new bytes: steer NewReno's recovery, or grow cwnd (RFC 5681
 * 3.1): by up to a segment per ACK in slow start, by about a segment
 * per round trip in congestion avoidance. */
static void tcp_cc_ack(struct tcpcb *tp, uint32_t ack, uint32_t acked)
{
	uint32_t mss = tp->t_maxseg;

	if (tp->t_flags & TF_FASTRECOVERY)
		tcp_recovery_ack(tp, ack, acked);
	else if (tp->snd_cwnd < tp->snd_ssthresh)	/* slow start */
		tp->snd_cwnd += MIN(acked, mss);
	else					/* congestion avoidance */
		tp->snd_cwnd += MAX(1u, mss * mss / tp->snd_cwnd);
}

/* An RTT sample if the timed segment is now covered (RFC 6298 3; t_rtttime
 * is cleared by any resend, so none comes from one: Karn). */
static void tcp_ack_rtt(struct tcpcb *tp, uint32_t ack)
{
	if (tp->t_rtttime && SEQ_GT(ack, tp->t_rtseq)) {
		tcp_rtt_sample(tp, (int)(ticks - tp->t_rtttime));
		tp->t_rtttime = 0;
	}
}

/* The peer acknowledged up to s->ack (past snd_una): take an RTT sample,
 * let the congestion window grow, drop the acknowledged bytes from the
 * send ring, and restart or stop the retransmission timer.  (The parked
 * sends, which the ring's new room lets go on, are retried by tcp_ack
 * once the segment's window is taken too.) */
static void tcp_newack(struct tcpcb *tp, const struct tcpseg *s)
{
	struct socket *so = tp->t_so;
	uint32_t acked = s->ack - tp->snd_una;
	uint32_t bytes = acked;

	tcp_ack_rtt(tp, s->ack);
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

/* After our FIN is acknowledged, the closing states move on:
 * FIN-WAIT-1 to FIN-WAIT-2, CLOSING to TIME-WAIT, LAST-ACK to CLOSED.
 * Returns NULL if the connection is gone. */
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

/* SYN-RECEIVED: the ACK must acknowledge our SYN, SND.UNA < SEG.ACK =<
 * SND.NXT, else a reset answers it and false drops the segment.  If it
 * does: ESTABLISHED, the send window from this segment, and the new
 * connection goes to its listener's accept queue (or, after a
 * simultaneous open, the connect call wakes). */
TCP_SLOWPATH
static bool tcp_synrcvd_ack(struct tcpcb *tp, const struct tcpseg *s,
			    uint32_t win)
{
	if (SEQ_LEQ(s->ack, tp->snd_una) || SEQ_GT(s->ack, tp->snd_max)) {
		tcp_respond(tp, s->ack, 0, TH_RST);
		return false;
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
	return true;
}

/* Is this a duplicate ACK in RFC 5681 2's sense: nothing new
 * acknowledged with data outstanding, no data, no FIN, the same window?
 * A zero window's ACK is not one: it answers a probe and reports no
 * loss (counted as duplicates, three of them resent a segment into the
 * shut window and halved the congestion window). */
static bool tcp_is_dupack(const struct tcpcb *tp, const struct tcpseg *s,
			  uint32_t win)
{
	return s->tlen == 0 && win == tp->snd_wnd && s->ack == tp->snd_una &&
	       tp->snd_max != tp->snd_una && !(s->flags & TH_FIN) &&
	       win != 0;
}

/* The send window, taken from the newest segment only: one whose
 * sequence is later, or the same with an ACK no older (RFC 9293
 * 3.10.7.4, SND.WL1 and SND.WL2), so a reordered old segment cannot
 * shrink it. */
static void tcp_update_window(struct tcpcb *tp, const struct tcpseg *s,
			      uint32_t win)
{
	if (SEQ_LT(tp->snd_wl1, s->seq) ||
	    (tp->snd_wl1 == s->seq && SEQ_LEQ(tp->snd_wl2, s->ack))) {
		if (win > tp->snd_wnd)
			tp->t_persist = 0;	/* it opened */
		tp->snd_wnd = win;
		tp->snd_wl1 = s->seq;
		tp->snd_wl2 = s->ack;
		tp->t_maxsndwnd = MAX(tp->t_maxsndwnd, win);
	}
}

/* An ACK that acknowledges nothing new: a duplicate counts toward fast
 * retransmit; any other ACK of SND.UNA ends a run of duplicates. */
static void tcp_oldack(struct tcpcb *tp, const struct tcpseg *s, uint32_t win)
{
	if (tcp_is_dupack(tp, s, win))
		tcp_dupack(tp);
	else if (s->ack == tp->snd_una)
		tp->t_dupacks = 0;
}

/*
 * Step 5, the ACK field of a segment in a synchronized state.  NULL if
 * the connection is gone; *drop set if the rest of the segment must go.
 *
 * Two things wait until the ACK is wholly taken, SND.UNA moved and the
 * window updated.  A partial ACK's resend: still in recovery after new
 * data was acknowledged (a full ACK ended it in tcp_recovery_ack),
 * NewReno resends the next hole (RFC 6582 3.2 step 4), from the new
 * SND.UNA and within the window this ACK carries.  And the parked sends
 * that the ring's new room lets go on: woken from tcp_newack, before
 * the window was taken, they sent from the new SND.UNA by the old
 * window, past the peer's edge by what the ACK acknowledged (over the
 * loopback's large segments: trimmed, lost, resent after an RTO).
 */
static struct tcpcb *tcp_ack(struct tcpcb *tp, struct tcpseg *s, bool *drop)
{
	uint32_t win = s->win << tp->snd_scale;
	bool newack;

	if (tp->t_state == TCPS_SYN_RECEIVED && !tcp_synrcvd_ack(tp, s, win)) {
		*drop = true;
		return tp;
	}
	if (SEQ_GT(s->ack, tp->snd_max)) {	/* acks what we never sent */
		tp->t_flags |= TF_ACKNOW;
		*drop = true;
		return tp;
	}
	newack = SEQ_GT(s->ack, tp->snd_una);
	if (!newack)
		tcp_oldack(tp, s, win);
	else
		tcp_newack(tp, s);
	tcp_update_window(tp, s, win);
	if (newack && tp->t_flags & TF_FASTRECOVERY)
		tcp_rexmt_one(tp);	/* a partial ACK: the next hole */
	if (newack)
		so_wakeup(tp->t_so);	/* room in the send buffer */
	if (tp->t_flags & TF_SENTFIN && tp->snd_una == tp->snd_max)
		return tcp_fin_acked(tp);
	return tp;
}

/* ---- step 7: the segment text ------------------------------------------ */

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

/* The sender of a loopback segment whose bytes stayed in its ring: the
 * connection with our 4-tuple reversed, on this very CPU (the flow hash
 * is symmetric).  NULL, counted, if it is gone or no longer holds the
 * bytes between its SND.UNA and the end of its ring. */
static struct tcpcb *tcp_ring_sender(const struct tcpseg *s)
{
	struct tcpcb *from = tcp_lookup(s->dst, s->th->th_dport, s->src,
					s->th->th_sport);

	if (from == NULL || SEQ_LT(s->seq, from->snd_una) ||
	    SEQ_GT(s->seq + s->tlen, from->snd_una +
		   from->t_so->so_snd.sb_len)) {
		NETSTAT_INC(tcp_loop_ringgone);
		return NULL;
	}
	return from;
}

/*
 * The bytes of a loopback segment that carried none (M_RINGDATA): they
 * are still in the sender's send ring, so they go from ring to ring in
 * one copy, where a wire needs two (ring to segment, segment to ring).
 * The sender cannot have let go of them: bytes at or past our rcv_nxt
 * were never acknowledged.  It is looked up by address, not through a
 * pointer the segment kept, so a sender that died meanwhile only makes
 * the bytes lost (counted; nobody is left to resend them).  Returns how
 * many were taken.
 */
TCP_OUTOFLINE
static uint32_t tcp_deliver_ring(struct tcpcb *tp, const struct tcpseg *s)
{
	struct tcpcb *from = tcp_ring_sender(s);
	struct sockbuf *sb;
	uint32_t took;

	if (from == NULL)
		return 0;
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

/* Pull whatever the queue now continues; true if anything came.  A kept
 * segment may overlap what arrived since: only its new bytes count. */
TCP_OUTOFLINE
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

/* Data out of order: kept for reassembly (ring bytes are not: the
 * resend brings them), and a duplicate ACK goes out now, not
 * aggregated, because each one counts toward the peer's fast
 * retransmit (RFC 5681 4.2).  A FIN on it waits for its resend in
 * order.  Returns true if m was kept. */
TCP_SLOWPATH
static bool tcp_data_out_of_order(struct tcpcb *tp, struct mbuf *m,
				  struct tcpseg *s)
{
	NETSTAT_INC(tcp_rcvoo);
	s->flags &= ~TH_FIN;
	tp->t_flags |= TF_ACKNOW;
	if (s->data == NULL) {
		tcp_output(tp);
		return false;
	}
	tcp_reass_insert(tp, m, s);
	tcp_output(tp);
	return true;
}

/* When to acknowledge data taken in order (RFC 1122 4.2.3.2, RFC 5681
 * 4.2): at once for every second full segment, else within TCP_DELACK.
 * The second full segment is acknowledged now, not at the batch's end:
 * with the rollup alone a batch of eight segments got one ACK, and the
 * sender's ACK clock (RFC 5681 4.2: at least every second full segment)
 * slowed. */
static void tcp_ack_or_delay(struct tcpcb *tp)
{
	if (tp->t_unacked >= 2u * tp->t_maxseg) {
		tp->t_flags |= TF_ACKNOW;
		tcp_output(tp);
	} else if (!(tp->t_flags & (TF_DELACK | TF_ACKNOW))) {
		tp->t_flags |= TF_DELACK;
		tp->t_delack = ticks + TCP_DELACK;
	}
}

/*
 * Step 7, the segment's data.  In order: delivered, with whatever the
 * reassembly queue now continues, and the ACK owed now or delayed.  Out
 * of order: kept, and a duplicate ACK at once.  An ACK goes at once too
 * when a gap was filled or the data did not all fit.  Returns true if m
 * was kept.
 */
static bool tcp_data(struct tcpcb *tp, struct mbuf *m, struct tcpseg *s)
{
	uint32_t took;

	if (s->tlen == 0)
		return false;
	if (s->seq != tp->rcv_nxt)
		return tcp_data_out_of_order(tp, m, s);
	took = s->data != NULL ? tcp_deliver(tp, s->data, s->tlen) :
				 tcp_deliver_ring(tp, s);
	if (took < s->tlen)
		tp->t_flags |= TF_ACKNOW;	/* could not take it all */
	if (tp->t_reass != NULL && tcp_reass_pull(tp))
		tp->t_flags |= TF_ACKNOW;	/* a gap was filled */
	tcp_ack_or_delay(tp);
	so_wakeup(tp->t_so);
	return false;
}

/* Do segments' data still count in this state?  In ESTABLISHED and
 * FIN-WAIT-1/2 (RFC 9293 3.10.7.4, seventh); once the peer's FIN came
 * (CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT) no more can. */
static bool tcp_takes_data(enum tcp_state state)
{
	return state <= TCPS_FIN_WAIT_2 && state != TCPS_CLOSE_WAIT &&
	       state != TCPS_CLOSING && state != TCPS_LAST_ACK;
}

/* ---- step 8: the FIN --------------------------------------------------- */

/* The state a FIN moves to: CLOSE-WAIT from an open connection, CLOSING
 * when our own FIN is not yet acknowledged (simultaneous close),
 * TIME-WAIT when it is; a FIN resent in TIME-WAIT restarts the wait. */
static void tcp_fin_next_state(struct tcpcb *tp)
{
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
}

/* The peer's FIN, in order (it follows the last byte we took): it takes
 * a sequence number, is acknowledged at once, and no more data will
 * come, which a parked recv learns (end of stream). */
TCP_SLOWPATH
static struct tcpcb *tcp_fin(struct tcpcb *tp, const struct tcpseg *s)
{
	if (s->seq + s->tlen != tp->rcv_nxt && tp->t_state != TCPS_TIME_WAIT)
		return tp;
	if (tp->t_state != TCPS_TIME_WAIT)
		tp->rcv_nxt++;
	tp->t_flags |= TF_ACKNOW;
	tp->t_so->so_state |= SS_CANTRCVMORE;
	tcp_fin_next_state(tp);
	so_wakeup(tp->t_so);
	return tp;
}

/* ---- the segment ------------------------------------------------------- */

/* A segment for a connection in a synchronized state: the eight steps
 * of RFC 9293 3.10.7.4 in order, then the connection owes the rollup a
 * look.  Returns true if m was kept (reassembly). */
static bool tcp_segment(struct tcpcb *tp, struct mbuf *m, struct tcpseg *s)
{
	bool drop = false, kept = false;

	if (!tcp_check_seq(tp, s, tcp_rcv_window(tp)) || !tcp_check_ctl(tp, s))
		return false;
	if ((tp = tcp_ack(tp, s, &drop)) == NULL)
		return false;
	if (!drop) {
		if (tcp_takes_data(tp->t_state))
			kept = tcp_data(tp, m, s);
		if (s->flags & TH_FIN)
			tp = tcp_fin(tp, s);
	}
	tcp_output_later(tp);
	return kept;
}

/* No connection has the segment's 4-tuple.  A listener on its address
 * and port takes a SYN (LISTEN, RFC 9293 3.10.7.2: anything else to a
 * listener, and anything to a port nobody listens on, gets a reset as
 * in CLOSED).  Consumes m. */
TCP_SLOWPATH
static void tcp_input_noconn(struct mbuf *m, const struct tcpseg *s)
{
	struct socket *head = tcp_listener(s->dst, s->th->th_dport);

	if (head != NULL && (s->flags & (TH_SYN | TH_ACK | TH_RST)) ==
	    TH_SYN && !(m->m_flags & M_BCAST)) {
		tcp_passive_open(head, m, s);
		return;
	}
	if (head == NULL)
		NETSTAT_INC(tcp_noport);
	tcp_reset_reply(m, s);
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

	NETSTAT_INC(tcp_in);
	if (!tcp_check(m, hlen, &s)) {
		m_freem(m);
		return;
	}
	tp = tcp_lookup(s.src, s.th->th_sport, s.dst, s.th->th_dport);
	if (tp == NULL) {
		tcp_input_noconn(m, &s);
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
