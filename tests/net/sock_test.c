/*
 * sock_test.c - sockets, UDP and TCP over the in-kernel loopback.
 *
 * A datagram or segment for one of our own addresses never reaches a
 * device: ip_output queues it to the netisr that owns its flow.  So
 * these tests run two ends of a conversation inside one boot, with no
 * device and no host: every boot runs them.  Where both ends would block
 * (a send bigger than the buffers), a helper thread plays the far end.
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
#include <net/if.h>
#include <net/inet.h>
#include <net/netisr.h>
#include <net/netstat.h>
#include <net/socket.h>
#include <net/tcp_var.h>
#include "net_testlib.h"

#define LOOP	0x0100007fu		/* 127.0.0.1, network order */

static uint16_t test_port(int n)
{
	return htons((uint16_t)(7100 + n));
}

/* ---- UDP ------------------------------------------------------------- */

KTEST(sock, udp_datagram_arrives_with_its_sender)
{
	struct socket *a, *b;
	char buf[32];
	size_t n;
	uint32_t from;
	uint16_t fport, bport;

	KT_ASSERT_EQ(so_create(SOCK_DGRAM, &a), 0);
	KT_ASSERT_EQ(so_create(SOCK_DGRAM, &b), 0);
	KT_ASSERT_EQ(so_bind(a, LOOP, test_port(1)), 0);
	KT_EXPECT_EQ(so_cpu(a), netisr_hashcpu(netisr_hash4(0, 0, 0,
							    test_port(1))));
	KT_EXPECT_EQ(so_sendto(b, "hello", 5, 0, LOOP, test_port(1), &n), 0);
	KT_EXPECT_EQ(n, 5);
	KT_EXPECT_EQ(so_recvfrom(a, buf, sizeof(buf), 0, &from, &fport, &n),
		     0);
	KT_EXPECT_EQ(n, 5);
	KT_EXPECT_EQ(memcmp(buf, "hello", 5), 0);
	so_sockname(b, &from, &bport);
	KT_EXPECT_EQ(fport, bport);
	so_close(a);
	so_close(b);
}

/*
 * A datagram to a closed port draws ICMP port unreachable (from our own
 * stack here); the connected socket's next recv reports ECONNREFUSED.
 * Eight sockets on eight ports: with two CPUs or more some live on a
 * CPU other than the one the ICMP message's address pair hashes to, so
 * the error must find its way to the socket's CPU (ip_flow_hash).
 */
KTEST(sock, icmp_port_unreachable_reaches_the_udp_socket_on_its_cpu)
{
	int64_t in = netstat_get("icmp_error_in");
	int elsewhere = 0;

	for (int i = 0; i < 8; i++) {
		struct socket *so;
		char c;
		size_t n;

		KT_ASSERT_EQ(so_create(SOCK_DGRAM, &so), 0);
		KT_ASSERT_EQ(so_bind(so, LOOP, test_port(20 + i)), 0);
		KT_ASSERT_EQ(so_connect(so, LOOP, test_port(40 + i)), 0);
		so_setopt(so, SO_RCVTIMEO, HZ);
		KT_EXPECT_EQ(so_send(so, "?", 1, 0, &n), 0);
		KT_EXPECT_EQ(so_recv(so, &c, 1, 0, &n), ECONNREFUSED);
		/* Reported once: the next call waits again. */
		KT_EXPECT_EQ(so_recv(so, &c, 1, MSG_DONTWAIT, &n), EAGAIN);
		if (so_cpu(so) != netisr_hashcpu(netisr_hash4(LOOP, LOOP,
							      0, 0)))
			elsewhere++;
		so_close(so);
	}
	KT_EXPECT_EQ(netstat_get("icmp_error_in") - in, 8);
	ktest_diag("%d of 8 sockets live on another CPU than the address "
		   "pair's", elsewhere);
}

KTEST(sock, udp_recv_times_out_and_nonblocking_says_eagain)
{
	struct socket *a;
	char buf[8];
	size_t n;
	uint64_t t0;

	KT_ASSERT_EQ(so_create(SOCK_DGRAM, &a), 0);
	KT_ASSERT_EQ(so_bind(a, LOOP, test_port(2)), 0);
	KT_EXPECT_EQ(so_recv(a, buf, sizeof(buf), MSG_DONTWAIT, &n), EAGAIN);
	so_setopt(a, SO_RCVTIMEO, 5);
	t0 = ticks;
	KT_EXPECT_EQ(so_recv(a, buf, sizeof(buf), 0, &n), EAGAIN);
	KT_EXPECT_GE(ticks - t0, 5);
	so_close(a);
}

KTEST(sock, a_bound_port_cannot_be_bound_twice)
{
	struct socket *a, *b;

	KT_ASSERT_EQ(so_create(SOCK_DGRAM, &a), 0);
	KT_ASSERT_EQ(so_create(SOCK_DGRAM, &b), 0);
	KT_EXPECT_EQ(so_bind(a, 0, test_port(3)), 0);
	KT_EXPECT_EQ(so_bind(b, 0, test_port(3)), EADDRINUSE);
	so_close(a);
	KT_EXPECT_EQ(so_bind(b, 0, test_port(3)), 0);	/* released */
	so_close(b);
}

/*
 * connect moves a UDP socket to its 4-tuple's CPU (net/udp.c), where
 * its peer's datagrams arrive; from then on it hears its peer only: a
 * datagram from another port is answered as for a closed port.
 */
KTEST(sock, a_connected_udp_socket_moves_to_its_flows_cpu_and_hears_its_peer)
{
	struct socket *a, *b, *c;
	int64_t noport = netstat_get("udp_noport");
	uint32_t from;
	uint16_t fport;
	char buf[8];
	size_t n;

	KT_ASSERT_EQ(so_create(SOCK_DGRAM, &a), 0);
	KT_ASSERT_EQ(so_create(SOCK_DGRAM, &b), 0);
	KT_ASSERT_EQ(so_create(SOCK_DGRAM, &c), 0);
	KT_ASSERT_EQ(so_bind(a, LOOP, test_port(60)), 0);
	KT_ASSERT_EQ(so_bind(b, LOOP, test_port(61)), 0);
	KT_ASSERT_EQ(so_bind(c, LOOP, test_port(62)), 0);
	KT_ASSERT_EQ(so_connect(a, LOOP, test_port(61)), 0);
	KT_EXPECT_EQ(so_cpu(a), netisr_hashcpu(netisr_hash4(LOOP, LOOP,
		test_port(61), test_port(60))));
	KT_EXPECT_EQ(so_sendto(c, "two", 3, 0, LOOP, test_port(60), &n), 0);
	KT_EXPECT_EQ(so_sendto(b, "one", 3, 0, LOOP, test_port(60), &n), 0);
	so_setopt(a, SO_RCVTIMEO, HZ);
	KT_EXPECT_EQ(so_recv(a, buf, sizeof(buf), 0, &n), 0);
	KT_EXPECT_EQ(n, 3);
	KT_EXPECT_EQ(memcmp(buf, "one", 3), 0);
	net_settle();
	KT_EXPECT_EQ(so_recv(a, buf, sizeof(buf), MSG_DONTWAIT, &n), EAGAIN);
	KT_EXPECT_GE(netstat_get("udp_noport") - noport, 1);
	/* And the other way: its datagrams carry the port it was bound to. */
	KT_EXPECT_EQ(so_send(a, "back", 4, 0, &n), 0);
	so_setopt(b, SO_RCVTIMEO, HZ);
	KT_EXPECT_EQ(so_recvfrom(b, buf, sizeof(buf), 0, &from, &fport, &n),
		     0);
	KT_EXPECT_EQ(fport, test_port(60));
	so_close(a);
	so_close(b);
	so_close(c);
}

/* ---- TCP ------------------------------------------------------------- */

/* A listener, a connected client and the accepted server socket. */
struct tcp_pair {
	struct socket *lsn, *cli, *srv;
};

static void pair_open(struct tcp_pair *p, int n)
{
	KT_ASSERT_EQ(so_create(SOCK_STREAM, &p->lsn), 0);
	KT_ASSERT_EQ(so_bind(p->lsn, LOOP, test_port(n)), 0);
	KT_ASSERT_EQ(so_listen(p->lsn, 8), 0);
	KT_ASSERT_EQ(so_create(SOCK_STREAM, &p->cli), 0);
	KT_ASSERT_EQ(so_connect(p->cli, LOOP, test_port(n)), 0);
	KT_ASSERT_EQ(so_accept(p->lsn, &p->srv, NULL, NULL), 0);
}

/* Wait (up to 2 s) until the socket's connection is in state. */
static bool wait_state(struct socket *so, int state)
{
	for (int i = 0; i < 200; i++) {
		if (so_tcpstate(so) == state)
			return true;
		tsleep(&wait_state, 0, "tcpst", 1);
	}
	return false;
}

KTEST(sock, tcp_connect_accept_and_both_ends_hash_to_one_cpu)
{
	struct tcp_pair p;
	uint32_t la, fa;
	uint16_t lp, fp;
	char buf[16];
	size_t n;

	pair_open(&p, 10);
	so_sockname(p.cli, &la, &lp);
	so_peername(p.cli, &fa, &fp);
	KT_EXPECT_EQ(fp, test_port(10));
	KT_EXPECT_EQ(so_cpu(p.cli), netisr_hashcpu(netisr_hash4(fa, la, fp,
								lp)));
	KT_EXPECT_EQ(so_cpu(p.srv), so_cpu(p.cli));
	KT_EXPECT_EQ(so_tcpstate(p.cli), TCPS_ESTABLISHED);
	KT_EXPECT_EQ(so_tcpstate(p.srv), TCPS_ESTABLISHED);
	KT_EXPECT_EQ(so_send(p.cli, "ping", 4, 0, &n), 0);
	KT_EXPECT_EQ(so_recv(p.srv, buf, sizeof(buf), 0, &n), 0);
	KT_EXPECT_EQ(n, 4);
	KT_EXPECT_EQ(memcmp(buf, "ping", 4), 0);
	KT_EXPECT_EQ(so_send(p.srv, "pong!", 5, 0, &n), 0);
	KT_EXPECT_EQ(so_recv(p.cli, buf, sizeof(buf), 0, &n), 0);
	KT_EXPECT_EQ(n, 5);
	so_close(p.cli);
	so_close(p.srv);
	so_close(p.lsn);
}

KTEST(sock, tcp_connect_to_a_closed_port_is_refused)
{
	struct socket *s;

	KT_ASSERT_EQ(so_create(SOCK_STREAM, &s), 0);
	KT_EXPECT_EQ(so_connect(s, LOOP, test_port(11)), ECONNREFUSED);
	so_close(s);
}

KTEST(sock, tcp_nonblocking_connect_is_in_progress_then_connected)
{
	struct socket *lsn, *s, *srv;
	int state = -1;

	KT_ASSERT_EQ(so_create(SOCK_STREAM, &lsn), 0);
	KT_ASSERT_EQ(so_bind(lsn, LOOP, test_port(12)), 0);
	KT_ASSERT_EQ(so_listen(lsn, 4), 0);
	KT_ASSERT_EQ(so_create(SOCK_STREAM, &s), 0);
	so_setopt(s, SO_NONBLOCK, 1);
	KT_EXPECT_EQ(so_connect(s, LOOP, test_port(12)), EINPROGRESS);
	for (int i = 0; i < 200 && state != TCPS_ESTABLISHED; i++) {
		tsleep(&state, 0, "conn", 1);
		state = so_tcpstate(s);
	}
	KT_EXPECT_EQ(state, TCPS_ESTABLISHED);
	KT_EXPECT_EQ(so_error(s), 0);
	KT_EXPECT_EQ(so_accept(lsn, &srv, NULL, NULL), 0);
	so_close(srv);
	so_close(s);
	so_close(lsn);
}

KTEST(sock, tcp_active_close_passes_fin_wait_to_time_wait)
{
	struct tcp_pair p;
	char buf[4];
	size_t n;

	pair_open(&p, 13);
	KT_EXPECT_EQ(so_shutdown(p.cli, SHUT_WR), 0);
	/* The server reads the end of the stream: CLOSE-WAIT. */
	KT_EXPECT_EQ(so_recv(p.srv, buf, sizeof(buf), 0, &n), 0);
	KT_EXPECT_EQ(n, 0);
	KT_EXPECT_TRUE(wait_state(p.srv, TCPS_CLOSE_WAIT));
	KT_EXPECT_TRUE(wait_state(p.cli, TCPS_FIN_WAIT_2));
	so_close(p.srv);		/* LAST-ACK, then gone */
	KT_EXPECT_TRUE(wait_state(p.cli, TCPS_TIME_WAIT));
	so_close(p.cli);
	so_close(p.lsn);
}

KTEST(sock, tcp_close_with_unread_data_resets_the_peer)
{
	struct tcp_pair p;
	char buf[8];
	size_t n;
	int64_t rst = netstat_get("tcp_rst_in");

	pair_open(&p, 14);
	KT_EXPECT_EQ(so_send(p.cli, "unread", 6, 0, &n), 0);
	for (int i = 0; i < 100 && so_readable(p.srv) < 6; i++)
		tsleep(&p, 0, "wait", 1);
	so_close(p.srv);		/* 6 bytes unread: RST, not FIN */
	KT_EXPECT_EQ(so_recv(p.cli, buf, sizeof(buf), 0, &n), ECONNRESET);
	KT_EXPECT_GT(netstat_get("tcp_rst_in"), rst);
	so_close(p.cli);
	so_close(p.lsn);
}

/* A blocking send run by a thread of its own, and what it returned. */
struct parked_send {
	struct socket *so;
	uint8_t *buf;
	size_t len, done;
	int error;
	volatile bool over;
};

static void parked_send_thread(void *arg)
{
	struct parked_send *ps = arg;

	ps->error = so_send(ps->so, ps->buf, ps->len, 0, &ps->done);
	ps->over = true;
	wakeup(ps);
}

/*
 * A reset that ends a blocking send after some of its bytes went: the
 * send returns 0 with the bytes that went (a short write), and the
 * reset's error waits for the next call, which hears ECONNRESET; every
 * send after that one is EPIPE.  The send is far larger than both
 * buffers and the server never reads, so it is parked when the server
 * closes with data unread (an RST).  (The buffer is leaked if the send
 * never returns, since the thread still holds it.)
 */
KTEST(sock, a_reset_during_a_send_is_a_short_write_then_econnreset)
{
	static struct parked_send ps;	/* the thread may outlive a failure */
	struct tcp_pair p;
	size_t n;

	ps = (struct parked_send){ .len = 1024 * 1024 };
	ps.buf = kmalloc(ps.len, M_TEMP, M_WAITOK | M_ZERO);
	pair_open(&p, 19);
	ps.so = p.cli;
	KT_ASSERT_EQ(lwkt_create(parked_send_thread, &ps, NULL, 0, -1,
				 "parked-send"), 0);
	for (int i = 0; i < 200 && so_readable(p.srv) == 0; i++)
		tsleep(&p, 0, "wait", 1);
	KT_EXPECT_GT(so_readable(p.srv), 0);
	so_close(p.srv);		/* data unread: RST */
	for (int i = 0; i < 500 && !ps.over; i++)
		tsleep(&ps, 0, "wait", 1);
	KT_ASSERT_TRUE(ps.over);		/* else a hung send: fail */
	KT_EXPECT_EQ(ps.error, 0);
	KT_EXPECT_GT(ps.done, 0);
	KT_EXPECT_LT(ps.done, ps.len);
	KT_EXPECT_EQ(so_send(p.cli, "x", 1, 0, &n), ECONNRESET);
	KT_EXPECT_EQ(so_send(p.cli, "x", 1, 0, &n), EPIPE);
	so_close(p.cli);
	so_close(p.lsn);
	kfree(ps.buf, M_TEMP);
}

/* The far end of a bulk transfer: read everything in pieces of at most
 * `piece` bytes, sum it, close. */
struct sink {
	struct socket *so;
	size_t piece;
	uint64_t bytes, sum;
	volatile bool done;
};

static void sink_thread(void *arg)
{
	struct sink *sk = arg;
	uint8_t *buf = kmalloc(sk->piece, M_TEMP, M_WAITOK);
	size_t n;

	while (so_recv(sk->so, buf, sk->piece, 0, &n) == 0 && n > 0) {
		for (size_t i = 0; i < n; i++)
			sk->sum = sk->sum * 31 + buf[i];
		sk->bytes += n;
	}
	kfree(buf, M_TEMP);
	so_close(sk->so);
	sk->done = true;
	wakeup(sk);
}

/* Send `chunks` sends of `chunk` bytes on connection n to a sink that
 * reads `piece` bytes at a time; every byte must arrive, in order.  The
 * time it took goes to the log. */
static void bulk_through(int n, size_t chunk, int chunks, size_t piece)
{
	struct tcp_pair p;
	struct sink sk = { .piece = piece };
	uint8_t *buf = kmalloc(chunk, M_TEMP, M_WAITOK);
	uint64_t sum = 0, t0 = ticks;
	size_t done;

	pair_open(&p, n);
	sk.so = p.srv;
	KT_ASSERT_EQ(lwkt_create(sink_thread, &sk, NULL, 0, -1, "sink"), 0);
	for (int c = 0; c < chunks; c++) {
		for (size_t i = 0; i < chunk; i++) {
			buf[i] = (uint8_t)(c * 7 + i * 13);
			sum = sum * 31 + buf[i];
		}
		KT_ASSERT_EQ(so_send(p.cli, buf, chunk, 0, &done), 0);
		KT_ASSERT_EQ(done, chunk);
	}
	so_close(p.cli);
	while (!sk.done)
		tsleep(&sk, 0, "sink", HZ / 10);
	KT_EXPECT_EQ(sk.bytes, (uint64_t)chunks * chunk);
	KT_EXPECT_EQ(sk.sum, sum);
	ktest_diag("%lu bytes in %lu ticks", (unsigned long)sk.bytes,
		   (unsigned long)(ticks - t0));
	kfree(buf, M_TEMP);
	so_close(p.lsn);
}

KTEST(sock, tcp_bulk_transfer_of_a_megabyte_arrives_intact)
{
	bulk_through(15, 8192, 128, 4096);
}

/*
 * Over the loopback a segment may be as large as the receive buffer
 * (MSS TCP_MSS_LOOP), and its bytes go from the sender's ring straight
 * into the receiver's (tcp_loop_ring counts such segments).  A reader
 * that takes much less than a window update's worth at a time (RFC 1122
 * 4.2.3.3: the window is announced again once it grew by min(2 MSS,
 * half the buffer)) must still get every byte, and soon: the window
 * fills, the sender waits, and only the reader's progress opens it.
 * With a probe byte that took no sequence number this hung.
 */
KTEST(sock, small_reads_from_a_sender_with_a_loopback_mss_get_every_byte)
{
	int64_t ring = netstat_get("tcp_loop_ring");
	int64_t past = netstat_get("tcp_rcvafterwin");
	int64_t gone = netstat_get("tcp_loop_ringgone");

	bulk_through(17, 48 * 1024, 22, 1000);
	KT_EXPECT_GT(netstat_get("tcp_loop_ring"), ring);
	/* The sender kept to the window (a send woken by an ACK once went
	 * past it, and the excess was lost), and no ring bytes went. */
	KT_EXPECT_EQ(netstat_get("tcp_rcvafterwin"), past);
	KT_EXPECT_EQ(netstat_get("tcp_loop_ringgone"), gone);
}

/*
 * Nagle's rule holds a short segment while data is unacknowledged, and
 * "short" is less than a full one: over the loopback the MSS is as large
 * as the receive buffer, so a full segment is half the largest window
 * the peer offered.  With 16 KiB unacknowledged (the receiver delays its
 * ACK), 40 KiB more must leave at once; held for the MSS, they waited
 * for the delayed-ACK timer.  Calls deliver their loopback segments
 * before they return, so what arrived is there to count.
 */
KTEST(sock, nagle_lets_half_a_loopback_window_go_at_once)
{
	struct tcp_pair p;
	static uint8_t buf[40 * 1024];
	size_t n;

	pair_open(&p, 18);
	KT_EXPECT_EQ(so_send(p.cli, buf, 16 * 1024, 0, &n), 0);
	KT_EXPECT_EQ(so_send(p.cli, buf, sizeof(buf), 0, &n), 0);
	KT_EXPECT_EQ(so_readable(p.srv), 56 * 1024);
	so_close(p.cli);
	so_close(p.srv);
	so_close(p.lsn);
}

/*
 * A listener sits in every CPU's table at once.  Close one of three and
 * the other two must still be found on every CPU: 8 connections to each
 * (their ephemeral ports spread the SYNs over the CPUs) are all
 * accepted.  With one link field shared by every CPU's list, closing a
 * listener at two CPUs corrupted the other CPU's list, and a SYN or a
 * finished handshake then found no listener there (refused, or an
 * accept that waited forever).
 */
KTEST(sock, closing_a_listener_leaves_the_others_on_every_cpu)
{
	struct socket *lsn[3], *cli, *srv;
	int accepted = 0;

	for (int i = 0; i < 3; i++) {
		KT_ASSERT_EQ(so_create(SOCK_STREAM, &lsn[i]), 0);
		KT_ASSERT_EQ(so_bind(lsn[i], LOOP, test_port(60 + i)), 0);
		KT_ASSERT_EQ(so_listen(lsn[i], 16), 0);
	}
	so_close(lsn[1]);
	for (int i = 0; i < 16; i++) {
		struct socket *l = lsn[i % 2 ? 2 : 0];
		int port = i % 2 ? 62 : 60;

		so_setopt(l, SO_RCVTIMEO, HZ);
		KT_ASSERT_EQ(so_create(SOCK_STREAM, &cli), 0);
		so_setopt(cli, SO_SNDTIMEO, HZ);
		if (so_connect(cli, LOOP, test_port(port)) == 0 &&
		    so_accept(l, &srv, NULL, NULL) == 0) {
			accepted++;
			so_close(srv);
		}
		so_close(cli);
	}
	KT_EXPECT_EQ(accepted, 16);
	so_close(lsn[0]);
	so_close(lsn[2]);
}

/* ---- calls in place ------------------------------------------------------ */

/*
 * On the socket's own CPU a call runs in the caller's thread (net/netisr.c,
 * "Socket calls in place"), and so does the segment it sends over the
 * loopback: twenty one-byte echoes then cost the netisr no message.  A few
 * may still arrive meanwhile (the net tick of an earlier test's TIME-WAIT);
 * with the segments going through the port there would be at least forty.
 */
KTEST(sock, a_call_on_the_sockets_cpu_runs_in_place_with_its_segments)
{
	struct tcp_pair p;
	int home = mycpuid, cpu;
	int64_t here;
	uint64_t served;
	char c = 'x';
	size_t n;

	pair_open(&p, 16);
	cpu = so_cpu(p.cli);
	lwkt_migratecpu(cpu);
	here = netstat_get("so_calls_here");
	served = netisr_served(cpu);
	for (int i = 0; i < 20; i++) {
		KT_EXPECT_EQ(so_send(p.cli, &c, 1, 0, &n), 0);
		KT_EXPECT_EQ(so_recv(p.srv, &c, 1, 0, &n), 0);
		KT_EXPECT_EQ(n, 1);
		KT_EXPECT_EQ(so_send(p.srv, &c, 1, 0, &n), 0);
		KT_EXPECT_EQ(so_recv(p.cli, &c, 1, 0, &n), 0);
		KT_EXPECT_EQ(n, 1);
	}
	KT_EXPECT_EQ(netstat_get("so_calls_here") - here, 80);
	KT_EXPECT_LT(netisr_served(cpu) - served, 20);
	KT_EXPECT_EQ(c, 'x');
	lwkt_migratecpu(home);
	so_close(p.cli);
	so_close(p.srv);
	so_close(p.lsn);
}

/*
 * The rule that makes a call in place safe: one thread at a time acts as
 * a CPU's netisr, and only a thread of that CPU.  A second netisr_enter
 * while the first holds it must fail (the caller then sends a message),
 * and so must one for another CPU's netisr.
 */
KTEST(sock, one_thread_at_a_time_acts_as_a_cpus_netisr)
{
	int cpu = mycpuid;

	KT_EXPECT_FALSE(netisr_on(cpu));
	KT_ASSERT_TRUE(netisr_enter(cpu));
	KT_EXPECT_TRUE(netisr_on(cpu));
	KT_EXPECT_FALSE(netisr_enter(cpu));
	if (ncpus > 1)
		KT_EXPECT_FALSE(netisr_enter((cpu + 1) % ncpus));
	KT_EXPECT_EQ(netisr_leave(cpu), 0);
	KT_EXPECT_FALSE(netisr_on(cpu));
	KT_EXPECT_TRUE(netisr_enter(cpu));	/* free again */
	netisr_leave(cpu);
}
