/*
 * tcp_test.c - TCP's rules, checked segment by segment.
 *
 * The test plays the remote host on the test interface (net_testlib.h):
 * it builds each segment by hand -- as scapy would on a real wire --
 * injects it with ether_input, and reads every segment the stack sends
 * back.  So each rule of RFC 9293, 5681, 6298, 7323 and 5961 that the
 * stack claims is checked on the exact segment it concerns: options in
 * the SYN-ACK, a delayed ACK and its timer, an immediate duplicate ACK
 * for a segment out of order, a zero window and its probes, resets and
 * challenge ACKs, sequence numbers wrapping.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netisr.h>
#include <net/netstat.h>
#include <net/socket.h>
#include <net/socketvar.h>
#include <net/tcp_var.h>
#include "net_testlib.h"

#define PEER_PORT	40000

/* One side of a hand-driven connection. */
struct peer {
	struct socket *lsn, *srv;	/* our listener, the accepted socket */
	uint16_t port;			/* ours (network order) */
	uint32_t snd_nxt;		/* the peer's next sequence number */
	uint32_t rcv_nxt;		/* what the peer has received of ours */
	uint16_t win;			/* the peer's window field */
};

/* A segment the stack sent, parsed. */
struct seg {
	uint8_t flags;
	uint32_t seq, ack, len;
	uint16_t win;
	int mss, wscale;
	uint8_t data[64];
};

/* Teach the stack the peer's MAC, so nothing waits for ARP. */
static void learn_peer(struct ifnet *ifp)
{
	struct arphdr ah;

	memset(&ah, 0, sizeof(ah));
	ah.ar_hrd = htons(ARPHRD_ETHER);
	ah.ar_pro = htons(ETHERTYPE_IP);
	ah.ar_hln = ETHER_ADDR_LEN;
	ah.ar_pln = 4;
	ah.ar_op = htons(ARPOP_REQUEST);
	memcpy(ah.ar_sha, tif_peer_mac, ETHER_ADDR_LEN);
	ah.ar_spa = TIF_PEER;
	ah.ar_tpa = TIF_ADDR;
	ether_input(ifp, tif_frame(ETHERTYPE_ARP, &ah, sizeof(ah)));
	m_freem(tif_next(HZ));
	net_settle();
}

/* Inject a segment from the peer; opt/optlen are TCP options. */
static void inject(struct peer *p, uint8_t flags, uint32_t seq,
		   const void *data, uint32_t len, const uint8_t *opt,
		   uint32_t optlen)
{
	uint8_t buf[1600];
	struct tcphdr *th = (struct tcphdr *)buf;

	memset(th, 0, sizeof(*th));
	th->th_sport = htons(PEER_PORT);
	th->th_dport = p->port;
	th->th_seq = htonl(seq);
	th->th_ack = htonl(p->rcv_nxt);
	th->th_off = (uint8_t)((sizeof(*th) + optlen) / 4) << 4;
	th->th_flags = flags;
	th->th_win = htons(p->win);
	memcpy(buf + sizeof(*th), opt, optlen);
	memcpy(buf + sizeof(*th) + optlen, data, len);
	tif_l4_cksum(IPPROTO_TCP, buf, sizeof(*th) + optlen + len);
	ether_input(tif_find(), tif_ip(IPPROTO_TCP, buf,
				       sizeof(*th) + optlen + len));
}

/* The next segment the stack sends, within timo ticks; false if none. */
static bool next_seg(struct seg *s, int timo)
{
	struct mbuf *m = tif_next(timo);
	struct ip *ip;
	struct tcphdr *th;
	uint32_t off;
	const uint8_t *o;

	if (m == NULL)
		return false;
	ip = (struct ip *)(m->m_data + ETHER_HDR_LEN);
	th = (struct tcphdr *)(ip + 1);
	off = (th->th_off >> 4) * 4u;
	memset(s, 0, sizeof(*s));
	s->flags = th->th_flags;
	s->seq = ntohl(th->th_seq);
	s->ack = ntohl(th->th_ack);
	s->win = ntohs(th->th_win);
	s->len = ntohs(ip->ip_len) - 20 - off;
	s->mss = s->wscale = -1;
	for (o = (uint8_t *)(th + 1); o < (uint8_t *)th + off && *o != 0;)
		if (*o == 1) {
			o++;
		} else {
			if (o[0] == 2)
				s->mss = o[2] << 8 | o[3];
			if (o[0] == 3)
				s->wscale = o[2];
			o += o[1] ? o[1] : 1;
		}
	memcpy(s->data, (uint8_t *)th + off, MIN(s->len, sizeof(s->data)));
	m_freem(m);
	return true;
}

/* Listen on port n, handshake from the peer with ISN isn (and window
 * scale wscale unless negative), accept.  Returns the SYN-ACK. */
static struct seg handshake(struct peer *p, int n, uint32_t isn, int wscale)
{
	uint8_t opt[8] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 0 };
	struct seg s;

	memset(p, 0, sizeof(*p));
	p->port = htons((uint16_t)(7300 + n));
	p->win = 65535;
	learn_peer(tif_find());
	KT_ASSERT_EQ(so_create(SOCK_STREAM, &p->lsn), 0);
	KT_ASSERT_EQ(so_bind(p->lsn, TIF_ADDR, p->port), 0);
	KT_ASSERT_EQ(so_listen(p->lsn, 4), 0);
	opt[7] = (uint8_t)(wscale < 0 ? 0 : wscale);
	inject(p, TH_SYN, isn, NULL, 0, opt, wscale < 0 ? 4 : 8);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_ASSERT_EQ(s.flags, TH_SYN | TH_ACK);
	p->snd_nxt = isn + 1;
	p->rcv_nxt = s.seq + 1;
	inject(p, TH_ACK, p->snd_nxt, NULL, 0, NULL, 0);
	KT_ASSERT_EQ(so_accept(p->lsn, &p->srv, NULL, NULL), 0);
	return s;
}

/* End the connection with an exact reset, and the listener. */
static void teardown(struct peer *p)
{
	struct seg s;

	so_close(p->srv);
	net_settle();
	inject(p, TH_RST, p->snd_nxt, NULL, 0, NULL, 0);
	net_settle();
	while (next_seg(&s, 1))
		;
	so_close(p->lsn);
	net_settle();
}

/* Send len bytes of data from the peer, advancing its sequence. */
static void peer_data(struct peer *p, uint32_t len)
{
	static uint8_t zeros[1460];

	inject(p, TH_ACK | TH_PUSH, p->snd_nxt, zeros, len, NULL, 0);
	p->snd_nxt += len;
}

KTEST(tcp, syn_ack_carries_mss_and_window_scale_and_an_unscaled_window)
{
	struct peer p;
	struct seg s;

	tif_up();
	s = handshake(&p, 1, 1000, 5);
	KT_EXPECT_EQ(s.ack, 1001);
	KT_EXPECT_EQ(s.mss, TCP_MSS);
	KT_EXPECT_EQ(s.wscale, TCP_RCV_SCALE);
	/* The SYN's window is never scaled (RFC 7323 2.2). */
	KT_EXPECT_EQ(s.win, 65535);
	KT_EXPECT_EQ(so_tcpstate(p.srv), TCPS_ESTABLISHED);
	teardown(&p);
	tif_down();
}

KTEST(tcp, without_the_peers_window_scale_none_is_used)
{
	struct peer p;
	struct seg s;

	tif_up();
	handshake(&p, 2, 5000, -1);
	peer_data(&p, 1460);
	peer_data(&p, 1460);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	/* 64 KiB buffer, 2920 bytes held: the field is the window itself,
	 * not shifted (with our scale of 7 it would read 489). */
	KT_EXPECT_EQ(s.win, TCP_RCVBUF - 2920);
	teardown(&p);
	tif_down();
}

KTEST(tcp, out_of_order_data_gets_an_immediate_duplicate_ack)
{
	struct peer p;
	struct seg s;
	int64_t ooo = netstat_get("tcp_rcvoo");
	uint64_t t0;
	char buf[3000];
	size_t n;

	memset(buf, 'x', sizeof(buf));
	tif_up();
	handshake(&p, 3, 7000, -1);
	/* Segments 2 and 3 first: a gap of 1000 bytes.  Each gets its own
	 * duplicate ACK at once -- the peer's fast retransmit counts them,
	 * so they must not be folded into one. */
	inject(&p, TH_ACK, p.snd_nxt + 1000, buf, 1000, NULL, 0);
	inject(&p, TH_ACK, p.snd_nxt + 2000, buf, 1000, NULL, 0);
	t0 = ticks;
	for (int i = 0; i < 2; i++) {
		KT_ASSERT_TRUE(next_seg(&s, HZ));
		KT_EXPECT_EQ(s.ack, p.snd_nxt);	/* still the gap */
	}
	KT_EXPECT_LT(ticks - t0, TCP_DELACK);	/* not the delack timer */
	KT_EXPECT_EQ(netstat_get("tcp_rcvoo"), ooo + 2);
	/* The gap filled: acknowledged at once, all three segments. */
	inject(&p, TH_ACK, p.snd_nxt, buf, 1000, NULL, 0);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_EXPECT_EQ(s.ack, p.snd_nxt + 3000);
	p.snd_nxt += 3000;
	KT_EXPECT_EQ(so_recv(p.srv, buf, sizeof(buf), 0, &n), 0);
	KT_EXPECT_EQ(n, 3000);
	teardown(&p);
	tif_down();
}

KTEST(tcp, a_lone_segment_is_acked_by_the_delack_timer)
{
	struct peer p;
	struct seg s;
	int64_t timer = netstat_get("tcp_delack_timer");
	uint64_t t0;

	tif_up();
	handshake(&p, 4, 9000, -1);
	t0 = ticks;
	peer_data(&p, 100);
	/* No ACK yet: it waits for a second segment or the timer. */
	KT_EXPECT_FALSE(next_seg(&s, TCP_DELACK / 2));
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_EXPECT_EQ(s.ack, p.snd_nxt);
	KT_EXPECT_GE(ticks - t0, TCP_DELACK);
	KT_EXPECT_LT(ticks - t0, HZ / 2);	/* RFC 1122: under 500 ms */
	KT_EXPECT_EQ(netstat_get("tcp_delack_timer"), timer + 1);
	teardown(&p);
	tif_down();
}

KTEST(tcp, two_full_segments_are_acked_at_once_by_one_ack)
{
	struct peer p;
	struct seg s;
	uint64_t t0;

	tif_up();
	handshake(&p, 5, 11000, -1);
	t0 = ticks;
	peer_data(&p, 1460);
	peer_data(&p, 1460);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_EXPECT_EQ(s.ack, p.snd_nxt);		/* both, in one ACK */
	KT_EXPECT_LT(ticks - t0, TCP_DELACK);
	KT_EXPECT_FALSE(next_seg(&s, 2));	/* and no second one */
	teardown(&p);
	tif_down();
}

KTEST(tcp, a_full_buffer_announces_a_zero_window_and_answers_probes)
{
	struct peer p;
	struct seg s;
	static char buf[8192];
	uint32_t sent = 0;
	size_t n;

	tif_up();
	handshake(&p, 6, 13000, -1);
	while (sent < TCP_RCVBUF) {
		uint32_t len = MIN(1460u, TCP_RCVBUF - sent);

		peer_data(&p, len);
		sent += len;
	}
	net_settle();
	/* The last, short segment may be acked by the delack timer (when
	 * the netisr took it in a batch of its own): wait for it. */
	s.win = 1;
	while (next_seg(&s, s.win == 0 ? 2 : HZ))
		;
	KT_EXPECT_EQ(s.win, 0);
	KT_EXPECT_EQ(s.ack, p.snd_nxt);
	/* A one-byte probe beyond the window: answered, not taken. */
	peer_data(&p, 1);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_EXPECT_EQ(s.win, 0);
	KT_EXPECT_EQ(s.ack, p.snd_nxt - 1);
	p.snd_nxt--;
	/* The application reads: the window opens, and says so. */
	KT_EXPECT_EQ(so_recv(p.srv, buf, sizeof(buf), 0, &n), 0);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_EXPECT_GE(s.win, 8192);
	teardown(&p);
	tif_down();
}

/*
 * The other side of a zero window: our data waits, the persist timer
 * probes with one byte, and the probe's byte is data like any other.
 * While the peer's window stays shut its ACKs answer the probes and
 * are no duplicate ACKs (three would resend a segment into the shut
 * window).  When the window has opened by less than the peer would
 * announce on its own (RFC 1122's receiver rule), the peer keeps the
 * byte and acknowledges it: that ACK must be taken, window and all,
 * and the data go on after the byte.  The probe's byte once took no
 * sequence number, its ACK was refused as acknowledging data never
 * sent, and every later probe was a stale duplicate: the transfer hung.
 */
KTEST(tcp, a_probe_byte_the_peer_keeps_is_acknowledged_and_the_data_go_on)
{
	struct peer p;
	struct seg s, probe;
	static uint8_t data[3000];
	int64_t fast = netstat_get("tcp_fastrexmt");
	size_t n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	tif_up();
	handshake(&p, 30, 25000, -1);
	p.win = 0;				/* the peer's window shuts */
	inject(&p, TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	net_settle();
	KT_EXPECT_EQ(so_send(p.srv, data, sizeof(data), MSG_DONTWAIT, &n), 0);
	KT_EXPECT_EQ(n, sizeof(data));
	KT_EXPECT_FALSE(next_seg(&s, 2));	/* nothing into a shut window */
	KT_ASSERT_TRUE(next_seg(&probe, 3 * HZ));
	KT_EXPECT_EQ(probe.len, 1);
	KT_EXPECT_EQ(probe.seq, p.rcv_nxt);
	KT_EXPECT_EQ(probe.data[0], data[0]);
	/* Still shut: three answers that take nothing resend nothing. */
	for (int i = 0; i < 3; i++)
		inject(&p, TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	KT_EXPECT_FALSE(next_seg(&s, 2));
	KT_EXPECT_EQ(netstat_get("tcp_fastrexmt"), fast);
	/* The next probe: the peer's window opened a little; it keeps the
	 * byte and says so. */
	KT_ASSERT_TRUE(next_seg(&probe, 5 * HZ));
	KT_EXPECT_EQ(probe.len, 1);
	KT_EXPECT_EQ(probe.seq, p.rcv_nxt);
	p.rcv_nxt = probe.seq + 1;
	p.win = 2000;
	inject(&p, TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_EXPECT_EQ(s.seq, probe.seq + 1);
	KT_EXPECT_GT(s.len, 0);
	KT_EXPECT_EQ(s.data[0], data[1]);
	p.rcv_nxt = s.seq + s.len;
	teardown(&p);
	tif_down();
}

/* A blocking send in a thread of its own: the test plays the peer. */
struct sender {
	struct socket *so;
	const void *buf;
	size_t len, done;
	int error;
	volatile bool finished;
};

static void sender_thread(void *arg)
{
	struct sender *sd = arg;

	sd->error = so_send(sd->so, sd->buf, sd->len, 0, &sd->done);
	sd->finished = true;
	wakeup(sd);
}

/*
 * An ACK that frees room in a full send buffer wakes the send parked on
 * it, and that send's output must obey the window the same ACK carries.
 * The send was once woken while the ACK was half taken: SND.UNA already
 * moved, the window not yet, so the output measured the old window from
 * the new SND.UNA and went past the peer's right edge by all that was
 * acknowledged (over the loopback's large segments the excess was
 * trimmed and lost, and resent after an RTO).
 */
KTEST(tcp, a_woken_send_keeps_to_the_window_its_ack_carried)
{
	static uint8_t data[100000];
	struct peer p;
	struct seg s;
	struct sender sd = { .buf = data, .len = sizeof(data) };
	uint32_t end = 0;

	tif_up();
	handshake(&p, 31, 27000, -1);
	sd.so = p.srv;
	KT_ASSERT_EQ(lwkt_create(sender_thread, &sd, NULL, 0, -1, "sender"), 0);
	for (int i = 0; i < 100 && so_parked(p.srv) == 0; i++)
		tsleep(&sd, 0, "park", 1);
	KT_EXPECT_EQ(so_parked(p.srv), 1);	/* the buffer is full */
	while (next_seg(&s, 2))			/* the first flight (cwnd) */
		end = s.seq + s.len;
	KT_ASSERT_TRUE(end != 0);
	/* All of it acknowledged, and the window shrinks to 2000. */
	p.rcv_nxt = end;
	p.win = 2000;
	inject(&p, TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	while (next_seg(&s, 2)) {
		KT_EXPECT_LE(s.seq + s.len - end, 2000);
		if (s.seq + s.len - end > 2000)
			break;
	}
	teardown(&p);
	while (!sd.finished)
		tsleep(&sd, 0, "sender", 1);
	tif_down();
}

/*
 * A fast retransmit keeps to the window the peer offered (RFC 9293
 * 3.8.6, RFC 5681 3.2): the peer offers 1,000 bytes, less than its MSS
 * of 1,460, and sends three duplicate ACKs; the resend starts at
 * SND.UNA and ends within the window.  It once took a whole MSS from
 * SND.UNA whatever the window (over the loopback some 64 KiB).  When no
 * ACK comes, the RTO's resend keeps to the window too.
 */
KTEST(tcp, a_fast_retransmit_keeps_to_the_peers_window)
{
	static uint8_t data[4000];
	struct peer p;
	struct seg first, again;
	int64_t fast = netstat_get("tcp_fastrexmt");
	size_t n;

	tif_up();
	handshake(&p, 32, 29000, -1);
	p.win = 1000;				/* under one MSS */
	inject(&p, TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	net_settle();
	KT_EXPECT_EQ(so_send(p.srv, data, sizeof(data), MSG_DONTWAIT, &n), 0);
	KT_ASSERT_TRUE(next_seg(&first, HZ));
	KT_EXPECT_EQ(first.len, 1000);		/* the window, all of it */
	KT_EXPECT_FALSE(next_seg(&again, 2));
	for (int i = 0; i < 3; i++)		/* "still waiting for seq" */
		inject(&p, TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	KT_ASSERT_TRUE(next_seg(&again, HZ));
	KT_EXPECT_EQ(netstat_get("tcp_fastrexmt"), fast + 1);
	KT_EXPECT_EQ(again.seq, first.seq);
	KT_EXPECT_GT(again.len, 0);
	KT_EXPECT_LE(again.len, 1000);
	KT_ASSERT_TRUE(next_seg(&again, 3 * HZ));	/* the RTO's resend */
	KT_EXPECT_EQ(again.seq, first.seq);
	KT_EXPECT_GT(again.len, 0);
	KT_EXPECT_LE(again.len, 1000);
	teardown(&p);
	tif_down();
}

/*
 * NewReno's partial ACK (RFC 6582 3.2 step 4): two segments out, three
 * duplicate ACKs resend the first, then an ACK covers the first only.
 * The second is lost too, and is resent at once: from the new SND.UNA,
 * within the window this same ACK offers (here it shrank to 1,000).
 * The resend once ran while the ACK was half taken -- SND.UNA not yet
 * moved -- and sent again the 1,460 bytes the ACK had just covered,
 * leaving the hole to the RTO.
 */
KTEST(tcp, a_partial_ack_resends_the_next_hole_within_its_window)
{
	static uint8_t data[4000];
	struct peer p;
	struct seg a, b, again;
	int64_t partial = netstat_get("tcp_partialack");
	size_t n;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	tif_up();
	handshake(&p, 33, 31000, -1);
	p.win = 2920;				/* two segments */
	inject(&p, TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	net_settle();
	KT_EXPECT_EQ(so_send(p.srv, data, sizeof(data), MSG_DONTWAIT, &n), 0);
	KT_ASSERT_TRUE(next_seg(&a, HZ));
	KT_ASSERT_TRUE(next_seg(&b, HZ));
	KT_EXPECT_EQ(a.len, 1460);
	KT_EXPECT_EQ(b.seq, a.seq + a.len);
	for (int i = 0; i < 3; i++)
		inject(&p, TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	KT_ASSERT_TRUE(next_seg(&again, HZ));	/* fast retransmit of a */
	KT_EXPECT_EQ(again.seq, a.seq);
	p.rcv_nxt = a.seq + a.len;		/* a arrived, b did not */
	p.win = 1000;
	inject(&p, TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	KT_ASSERT_TRUE(next_seg(&again, HZ));
	KT_EXPECT_EQ(netstat_get("tcp_partialack"), partial + 1);
	KT_EXPECT_EQ(again.seq, b.seq);
	KT_EXPECT_GT(again.len, 0);
	KT_EXPECT_LE(again.len, 1000);
	KT_EXPECT_EQ(memcmp(again.data, data + a.len,
			    MIN(again.len, sizeof(again.data))), 0);
	teardown(&p);
	tif_down();
}

KTEST(tcp, a_reset_not_exactly_in_sequence_gets_a_challenge_ack)
{
	struct peer p;
	struct seg s;
	char c;
	size_t n;
	int64_t challenge = netstat_get("tcp_challenge_ack");

	tif_up();
	handshake(&p, 7, 15000, -1);
	/* In the window but not at RCV.NXT: RFC 5961 3.2. */
	inject(&p, TH_RST, p.snd_nxt + 100, NULL, 0, NULL, 0);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_EXPECT_EQ(s.flags, TH_ACK);
	KT_EXPECT_EQ(netstat_get("tcp_challenge_ack"), challenge + 1);
	KT_EXPECT_EQ(so_tcpstate(p.srv), TCPS_ESTABLISHED);
	/* A SYN on an open connection: also only a challenge. */
	inject(&p, TH_SYN, p.snd_nxt, NULL, 0, NULL, 0);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_EXPECT_EQ(s.flags, TH_ACK);
	/* Exactly at RCV.NXT it resets, and the user hears of it. */
	inject(&p, TH_RST, p.snd_nxt, NULL, 0, NULL, 0);
	KT_EXPECT_EQ(so_recv(p.srv, &c, 1, 0, &n), ECONNRESET);
	so_close(p.srv);
	so_close(p.lsn);
	net_settle();
	tif_down();
}

KTEST(tcp, data_crosses_the_sequence_wrap_intact)
{
	struct peer p;
	uint8_t out[1024], in[1024];
	size_t n, got = 0;

	tif_up();
	handshake(&p, 8, 0xffffff00u, -1);
	for (int i = 0; i < 1024; i++)
		out[i] = (uint8_t)(i * 3 + 1);
	inject(&p, TH_ACK | TH_PUSH, p.snd_nxt, out, 1024, NULL, 0);
	p.snd_nxt += 1024;		/* now past 2^32 */
	while (got < 1024 && so_recv(p.srv, in + got, 1024 - got, 0, &n) == 0)
		got += n;
	KT_EXPECT_EQ(got, 1024);
	KT_EXPECT_EQ(memcmp(in, out, 1024), 0);
	teardown(&p);
	tif_down();
}

KTEST(tcp, we_never_send_more_than_the_scaled_window)
{
	struct peer p;
	struct seg s;
	static char data[4000];
	size_t n;

	tif_up();
	handshake(&p, 9, 17000, 7);
	/* A window field of 2 with scale 7: 256 bytes. */
	p.win = 2;
	inject(&p, TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	net_settle();
	KT_EXPECT_EQ(so_send(p.srv, data, sizeof(data), MSG_DONTWAIT, &n), 0);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_EXPECT_GT(s.len, 0);
	KT_EXPECT_LE(s.len, 256);
	KT_EXPECT_FALSE(next_seg(&s, 2));	/* and nothing beyond it */
	teardown(&p);
	tif_down();
}

KTEST(tcp, unacknowledged_data_is_resent_after_the_rto)
{
	struct peer p;
	struct seg first, again;
	int64_t timeouts = netstat_get("tcp_rexmt_timeout");
	uint64_t t0;
	size_t n;

	tif_up();
	handshake(&p, 10, 19000, -1);
	KT_EXPECT_EQ(so_send(p.srv, "lost", 4, 0, &n), 0);
	KT_ASSERT_TRUE(next_seg(&first, HZ));
	t0 = ticks;
	/* No ACK comes: after the RTO (at least 200 ms), the same bytes. */
	KT_ASSERT_TRUE(next_seg(&again, 3 * HZ));
	KT_EXPECT_GE(ticks - t0, TCP_RTO_MIN);
	KT_EXPECT_EQ(again.seq, first.seq);
	KT_EXPECT_EQ(again.len, 4);
	KT_EXPECT_EQ(memcmp(again.data, "lost", 4), 0);
	KT_EXPECT_EQ(netstat_get("tcp_rexmt_timeout"), timeouts + 1);
	p.rcv_nxt = first.seq + 4;
	teardown(&p);
	tif_down();
}

KTEST(tcp, a_fin_acked_after_its_resend_ends_fin_wait_1)
{
	struct peer p;
	struct seg s, first;
	static char data[3000];
	size_t n;

	tif_up();
	handshake(&p, 11, 21000, -1);
	/* Three segments and the FIN go out; the peer's ACK is lost. */
	KT_EXPECT_EQ(so_send(p.srv, data, sizeof(data), 0, &n), 0);
	KT_EXPECT_EQ(so_shutdown(p.srv, SHUT_WR), 0);
	KT_ASSERT_TRUE(next_seg(&first, HZ));
	while (next_seg(&s, 2))
		;
	KT_EXPECT_TRUE(s.flags & TH_FIN);
	/* The RTO resends only the first segment (cwnd is one MSS now). */
	KT_ASSERT_TRUE(next_seg(&s, 3 * HZ));
	KT_EXPECT_EQ(s.seq, first.seq);
	/* The peer had it all: one ACK covers the data and the FIN.  The
	 * FIN is acknowledged; no second FIN with a new number follows. */
	p.rcv_nxt = first.seq + sizeof(data) + 1;
	inject(&p, TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	net_settle();
	KT_EXPECT_EQ(so_tcpstate(p.srv), TCPS_FIN_WAIT_2);
	KT_EXPECT_FALSE(next_seg(&s, 2));
	teardown(&p);
	tif_down();
}

/* The peer's router says the host is unreachable, quoting our SYN. */
static void inject_unreachable(struct socket *so, uint16_t fport)
{
	uint8_t buf[sizeof(struct icmp) + sizeof(struct ip) + 8];
	struct icmp *ic = (struct icmp *)buf;
	struct ip *q = (struct ip *)(ic + 1);
	uint16_t *ports = (uint16_t *)(q + 1);
	uint32_t laddr;

	memset(buf, 0, sizeof(buf));
	ic->icmp_type = ICMP_UNREACH;
	ic->icmp_code = 1;			/* host unreachable */
	q->ip_vhl = 0x45;
	q->ip_len = htons(sizeof(*q) + 20);
	q->ip_ttl = 64;
	q->ip_p = IPPROTO_TCP;
	so_sockname(so, &laddr, &ports[0]);
	q->ip_src = laddr;
	q->ip_dst = TIF_PEER;
	ports[1] = fport;
	q->ip_sum = in_cksum(q, sizeof(*q));
	ic->icmp_cksum = in_cksum(ic, sizeof(buf));
	ether_input(tif_find(), tif_ip(IPPROTO_ICMP, buf, sizeof(buf)));
}

/*
 * An ICMP error about our SYN ends the connection attempt with
 * EHOSTUNREACH (RFC 1122 4.2.3.9 lets an opening connection give up).
 * Attempts from several ports, until two connections lived on a CPU
 * other than the one the ICMP message's addresses hash to.
 */
KTEST(tcp, icmp_unreachable_ends_a_connection_attempt_on_its_cpu)
{
	struct seg s;

	int icmp_cpu = netisr_hashcpu(netisr_hash4(TIF_PEER, TIF_ADDR, 0, 0));
	int elsewhere = 0, tries = 0;

	tif_up();
	learn_peer(tif_find());
	/* Until two lived elsewhere (16 tries at most; none on one CPU). */
	for (int i = 0; i < 16 && elsewhere < 2 &&
	     (ncpus > 1 || tries < 4); i++, tries++) {
		struct socket *so;
		uint16_t fport = htons((uint16_t)(7400 + i));
		int state = TCPS_SYN_SENT;

		KT_ASSERT_EQ(so_create(SOCK_STREAM, &so), 0);
		so_setopt(so, SO_NONBLOCK, 1);
		KT_EXPECT_EQ(so_connect(so, TIF_PEER, fport), EINPROGRESS);
		KT_ASSERT_TRUE(next_seg(&s, HZ));
		KT_EXPECT_EQ(s.flags, TH_SYN);
		inject_unreachable(so, fport);
		for (int t = 0; t < HZ && state == TCPS_SYN_SENT; t++) {
			tsleep(&state, 0, "icmp", 1);
			state = so_tcpstate(so);
		}
		KT_EXPECT_EQ(state, -1);
		KT_EXPECT_EQ(so_error(so), EHOSTUNREACH);
		if (so_cpu(so) != icmp_cpu)
			elsewhere++;
		so_close(so);
	}
	ktest_diag("%d of %d connections lived on another CPU than the "
		   "ICMP message's address pair", elsewhere, tries);
	net_settle();
	while (next_seg(&s, 1))
		;
	tif_down();
}

/*
 * Simultaneous open (RFC 9293 3.5, figure 7): our SYN and the peer's
 * cross.  We answer its SYN with SYN-ACK (our SYN again, same number)
 * and wait in SYN-RECEIVED; its SYN-ACK, answering ours, ends the
 * handshake.
 */
KTEST(tcp, simultaneous_open_passes_syn_received)
{
	struct peer p;
	struct seg s;
	struct socket *so;
	uint32_t laddr, iss;
	int state = -1;

	tif_up();
	learn_peer(tif_find());
	memset(&p, 0, sizeof(p));
	p.win = 65535;
	KT_ASSERT_EQ(so_create(SOCK_STREAM, &so), 0);
	so_setopt(so, SO_NONBLOCK, 1);
	KT_EXPECT_EQ(so_connect(so, TIF_PEER, htons(PEER_PORT)), EINPROGRESS);
	so_sockname(so, &laddr, &p.port);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_ASSERT_EQ(s.flags, TH_SYN);
	iss = s.seq;
	inject(&p, TH_SYN, 50000, NULL, 0, NULL, 0);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_EXPECT_EQ(s.flags, TH_SYN | TH_ACK);
	KT_EXPECT_EQ(s.seq, iss);
	KT_EXPECT_EQ(s.ack, 50001);
	KT_EXPECT_EQ(so_tcpstate(so), TCPS_SYN_RECEIVED);
	p.rcv_nxt = iss + 1;
	inject(&p, TH_SYN | TH_ACK, 50000, NULL, 0, NULL, 0);
	for (int t = 0; t < HZ && state != TCPS_ESTABLISHED; t++) {
		tsleep(&state, 0, "simopen", 1);
		state = so_tcpstate(so);
	}
	KT_EXPECT_EQ(state, TCPS_ESTABLISHED);
	KT_EXPECT_EQ(so_error(so), 0);
	so_close(so);
	net_settle();
	p.snd_nxt = 50001;
	inject(&p, TH_RST, p.snd_nxt, NULL, 0, NULL, 0);
	net_settle();
	while (next_seg(&s, 1))
		;
	tif_down();
}

/*
 * An active open whose peer's ISN lies half the sequence space from
 * zero: the window in our ACK of its SYN-ACK, scaled, must stay within
 * our receive buffer.  (Our SYN's window was once counted from a
 * rcv_nxt of zero, and the ACK then promised gigabytes: Linux flooded
 * a connection out of ours until it stalled.)
 */
KTEST(tcp, an_active_open_announces_no_more_than_its_buffer)
{
	uint8_t opt[8] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7 };
	struct peer p;
	struct seg s;
	struct socket *so;
	uint32_t laddr;

	tif_up();
	learn_peer(tif_find());
	memset(&p, 0, sizeof(p));
	p.win = 65535;
	KT_ASSERT_EQ(so_create(SOCK_STREAM, &so), 0);
	so_setopt(so, SO_NONBLOCK, 1);
	KT_EXPECT_EQ(so_connect(so, TIF_PEER, htons(PEER_PORT)), EINPROGRESS);
	so_sockname(so, &laddr, &p.port);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_ASSERT_EQ(s.flags, TH_SYN);
	KT_EXPECT_EQ(s.wscale, TCP_RCV_SCALE);
	p.rcv_nxt = s.seq + 1;
	inject(&p, TH_SYN | TH_ACK, 0xf0000000u, NULL, 0, opt, sizeof(opt));
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_EXPECT_EQ(s.flags, TH_ACK);
	KT_EXPECT_EQ(s.ack, 0xf0000001u);
	KT_EXPECT_LE((uint32_t)s.win << TCP_RCV_SCALE, (uint32_t)TCP_RCVBUF);
	KT_EXPECT_GT((uint32_t)s.win << TCP_RCV_SCALE, 0u);
	so_close(so);
	net_settle();
	p.snd_nxt = 0xf0000001u;
	inject(&p, TH_RST, p.snd_nxt, NULL, 0, NULL, 0);
	net_settle();
	while (next_seg(&s, 1))
		;
	tif_down();
}

/* Simultaneous close (figure 6): both FINs cross; each side ACKs the
 * other's from CLOSING, and the ACK of ours leads to TIME-WAIT. */
KTEST(tcp, simultaneous_close_passes_closing_to_time_wait)
{
	struct peer p;
	struct seg s;
	uint32_t fin;

	tif_up();
	handshake(&p, 12, 23000, -1);
	KT_EXPECT_EQ(so_shutdown(p.srv, SHUT_WR), 0);
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_ASSERT_TRUE(s.flags & TH_FIN);
	fin = s.seq;
	KT_EXPECT_EQ(so_tcpstate(p.srv), TCPS_FIN_WAIT_1);
	/* The peer's FIN, not yet acking ours. */
	inject(&p, TH_FIN | TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	p.snd_nxt++;
	KT_ASSERT_TRUE(next_seg(&s, HZ));
	KT_EXPECT_EQ(s.ack, p.snd_nxt);
	KT_EXPECT_EQ(so_tcpstate(p.srv), TCPS_CLOSING);
	p.rcv_nxt = fin + 1;
	inject(&p, TH_ACK, p.snd_nxt, NULL, 0, NULL, 0);
	net_settle();
	KT_EXPECT_EQ(so_tcpstate(p.srv), TCPS_TIME_WAIT);
	teardown(&p);
	tif_down();
}

/* Bring a fresh connection (handshake n) to state, by the peer's and
 * our FINs; p->rcv_nxt/snd_nxt follow.  False if it did not get there. */
static bool reach_state(struct peer *p, int n, int state)
{
	struct seg s;
	uint32_t fin = 0;
	bool ours = state == TCPS_FIN_WAIT_1 || state == TCPS_FIN_WAIT_2 ||
		    state == TCPS_CLOSING || state == TCPS_LAST_ACK;
	bool theirs = state == TCPS_CLOSE_WAIT || state == TCPS_CLOSING ||
		      state == TCPS_LAST_ACK;

	handshake(p, n, 30000 + 1000 * n, -1);
	if (theirs && state != TCPS_CLOSING) {	/* their FIN first */
		inject(p, TH_FIN | TH_ACK, p->snd_nxt, NULL, 0, NULL, 0);
		p->snd_nxt++;
		net_settle();
	}
	if (ours) {
		so_shutdown(p->srv, SHUT_WR);
		while (next_seg(&s, HZ / 2) && !(s.flags & TH_FIN))
			;
		fin = s.seq;
	}
	if (state == TCPS_CLOSING) {		/* theirs crosses ours */
		inject(p, TH_FIN | TH_ACK, p->snd_nxt, NULL, 0, NULL, 0);
		p->snd_nxt++;
	}
	if (state == TCPS_FIN_WAIT_2) {		/* ours acked */
		p->rcv_nxt = fin + 1;
		inject(p, TH_ACK, p->snd_nxt, NULL, 0, NULL, 0);
	}
	net_settle();
	while (next_seg(&s, 2))
		;
	return so_tcpstate(p->srv) == state;
}

/*
 * An exact RST ends the connection in every synchronized state, and the
 * user hears ECONNRESET (RFC 9293 3.10.7.4: ESTABLISHED, FIN-WAIT-1/2,
 * CLOSE-WAIT; CLOSING and LAST-ACK just close).  No RST answers it.
 */
KTEST(tcp, an_exact_reset_ends_the_connection_in_every_state)
{
	static const int states[] = {
		TCPS_ESTABLISHED, TCPS_FIN_WAIT_1, TCPS_FIN_WAIT_2,
		TCPS_CLOSE_WAIT, TCPS_CLOSING, TCPS_LAST_ACK,
	};
	int64_t rst_out = netstat_get("tcp_rst_out");

	tif_up();
	for (size_t i = 0; i < nitems(states); i++) {
		struct peer p;
		struct seg s;
		char c;
		size_t n;

		KT_EXPECT_TRUE(reach_state(&p, 13 + (int)i, states[i]));
		inject(&p, TH_RST, p.snd_nxt, NULL, 0, NULL, 0);
		net_settle();
		KT_EXPECT_EQ(so_tcpstate(p.srv), -1);
		if (states[i] != TCPS_CLOSING && states[i] != TCPS_LAST_ACK &&
		    states[i] != TCPS_CLOSE_WAIT)
			KT_EXPECT_EQ(so_recv(p.srv, &c, 1, MSG_DONTWAIT, &n),
				     ECONNRESET);
		KT_EXPECT_FALSE(next_seg(&s, 2));
		so_close(p.srv);
		so_close(p.lsn);
		net_settle();
	}
	KT_EXPECT_EQ(netstat_get("tcp_rst_out"), rst_out);
	tif_down();
}
