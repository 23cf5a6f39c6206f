/*
 * net_bulk_test.c - large transfers against Linux on the tap wire: suite
 * `net_bulk`, in the `net` group (tests/ktest-groups).
 *
 * What iperf3 and curl would show a user: tens of megabytes cross the
 * wire in each direction, as server and as client, and arrive byte for
 * byte.  The 50 MiB file curl downloads is put on the group's HMR disk
 * by the runner (@hmr:<size>:net@, tools/ktestlib/disks.py), so the boot
 * spends its time on the network, not on writing the file.  The bytes
 * are always the test pattern: block k of 4096 bytes holds
 * (j * 131 + k) & 0xff at offset j, which both sides can make or check
 * without storing it (tests/net/peers.py pattern()).
 *
 * The delayed-ACK test captures a bulk transfer on the tap (tcpdump, on
 * the Linux side) and checks our delayed ACKs in it: about one ACK for
 * two full segments, none later than 200 ms.
 *
 * The iperf3 tests run Debian's iperf3 client against our iperf3 server
 * (net/iperf.c): forward, reverse (-R) and four streams (-P 4), each for
 * two seconds with -J, whose JSON must report no error and megabytes
 * both ways; then sessions that break the protocol on purpose, which
 * must end cleanly and be counted, with the server still serving.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/synch.h>
#include <fs/vfs.h>
#include <net/net.h>
#include <net/socket.h>
#include <net/netstat.h>
#include "net_testlib.h"

#define HOST_ADDR	"192.0.2.1"
#define BIG_FILE	"/net/big.bin"
#define BIG_SIZE	(50u << 20)	/* the runner's file, 50 MiB */
#define BULK_SIZE	(16u << 20)	/* each way of a bulk transfer */
#define CAPTURE_SIZE	(2u << 20)	/* the captured transfer */
#define CLIENT_SIZE	(8u << 20)	/* each way as a client of Linux */
#define CLIENT_PORT_SINK	5002
#define CLIENT_PORT_SOURCE	5003
#define CHUNK		65536
#define IPERF_SECONDS	2
#define IPERF_LEAST	(2u << 20)	/* bytes each way, at the least */

/* The pattern's byte at offset off (tests/net/peers.py pattern()). */
static inline uint8_t pattern_byte(uint64_t off)
{
	return (uint8_t)((off % 4096) * 131 + off / 4096);
}

/* Wait until the services' connection threads are gone. */
static void bulk_settle(void)
{
	for (int i = 0; i < 1000 && net_services_active() > 0; i++)
		tsleep(&bulk_settle, 0, "svc", HZ / 50);
	KT_EXPECT_EQ(net_services_active(), 0);
	tsleep(&bulk_settle, 0, "svc", HZ / 10);	/* threads exit */
}

KTEST(net_bulk, curl_downloads_50_mib_and_its_sha256_matches)
{
	struct peer_result r;
	struct vattr va;
	int64_t sent = netstat_get("tcp_sndbyte");

	peer_require();
	KT_ASSERT_EQ(vfs_stat(BIG_FILE, &va), 0);
	KT_ASSERT_EQ(va.va_size, BIG_SIZE);
	peer_run(&r, "http_get %u %s", BIG_SIZE, BIG_FILE);
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "52428800 bytes, sha256 matches");
	KT_EXPECT_GE(netstat_get("tcp_sndbyte") - sent, BIG_SIZE);
	bulk_settle();
}

/*
 * The bulk service (port 5001, net/services.c) with socat on the other
 * end: Linux sends and we check every byte, then we send and Linux
 * checks the SHA-256.  This is the transfer iperf3 makes, memory to
 * memory, with the bytes checked too (docs/net.md).
 */
KTEST(net_bulk, bulk_transfer_both_ways_arrives_intact)
{
	struct peer_result r;

	peer_run(&r, "bulk_to_guest %u", BULK_SIZE);
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "16777216 bytes, 0 wrong");
	peer_run(&r, "bulk_from_guest %u", BULK_SIZE);
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "16777216 of 16777216 bytes, sha256 "
			 "matches");
	bulk_settle();
}

/* Connect to HOST_ADDR:port; the socket, or NULL (a failure noted). */
static struct socket *connect_out(uint16_t port)
{
	struct socket *so;
	uint32_t host;

	inet_aton(HOST_ADDR, &host);
	if (so_create(SOCK_STREAM, &so) != 0)
		return NULL;
	if (so_connect(so, host, htons(port)) != 0) {
		so_close(so);
		return NULL;
	}
	return so;
}

/* Send size bytes of the pattern on so; true if all went. */
static bool send_pattern(struct socket *so, uint8_t *buf, uint64_t size)
{
	for (uint64_t off = 0; off < size;) {
		size_t n = (size_t)MIN((uint64_t)CHUNK, size - off), done;

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern_byte(off + i);
		if (so_send(so, buf, n, 0, &done) != 0 || done != n)
			return false;
		off += n;
	}
	return true;
}

/* Receive until the peer closes; the bytes that differ from the
 * pattern go to *wrong.  Returns how many came. */
static uint64_t recv_pattern(struct socket *so, uint8_t *buf,
			     uint64_t *wrong)
{
	uint64_t off = 0;
	size_t n;

	*wrong = 0;
	while (so_recv(so, buf, CHUNK, 0, &n) == 0 && n > 0)
		for (size_t i = 0; i < n; i++, off++)
			*wrong += buf[i] != pattern_byte(off);
	return off;
}

/*
 * We are the client: Linux runs socat servers (a sink that keeps what
 * it gets, a source that sends the pattern); we send CLIENT_SIZE bytes
 * to one and take CLIENT_SIZE from the other.
 */
KTEST(net_bulk, we_send_and_receive_bulk_as_a_client_of_linux)
{
	struct peer_result r;
	struct socket *so;
	uint64_t got = 0, wrong = 0;
	uint8_t *buf;
	bool sent = false;

	/* The servers first: without a wire the test skips before it
	 * allocates anything. */
	peer_run(&r, "serve_sink %u", CLIENT_PORT_SINK);
	KT_ASSERT_EQ(r.status, 0);
	peer_run(&r, "serve_source %u %u", CLIENT_PORT_SOURCE, CLIENT_SIZE);
	KT_ASSERT_EQ(r.status, 0);
	buf = kmalloc(CHUNK, M_TEMP, M_WAITOK);
	if ((so = connect_out(CLIENT_PORT_SINK)) != NULL) {
		sent = send_pattern(so, buf, CLIENT_SIZE);
		so_close(so);
	}
	if ((so = connect_out(CLIENT_PORT_SOURCE)) != NULL) {
		got = recv_pattern(so, buf, &wrong);
		so_close(so);
	}
	kfree(buf, M_TEMP);
	KT_EXPECT_TRUE(sent);
	KT_EXPECT_EQ(got, CLIENT_SIZE);
	KT_EXPECT_EQ(wrong, 0);
	peer_run(&r, "check_sink %u %u", CLIENT_PORT_SINK, CLIENT_SIZE);
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "sha256 matches");
}

/*
 * tcpdump on the tap records Linux sending CAPTURE_SIZE bytes to the
 * bulk service; the scenario reads the capture (tests/net/peers.py
 * delack_capture) and fails unless our pure ACKs number between a third
 * and two thirds of Linux's full segments, and every full segment is
 * acknowledged within 200 ms of its arrival.  With an ACK for every
 * segment (delayed ACK off) the ratio is near one.
 */
KTEST(net_bulk, a_capture_shows_one_ack_per_two_full_segments)
{
	struct peer_result r;
	int64_t timer = netstat_get("tcp_delack_timer");

	peer_run(&r, "delack_capture %u", CAPTURE_SIZE);
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "acks per 2 segments");
	ktest_diag("%s (delack timer fired %ld times)", r.detail,
		   netstat_get("tcp_delack_timer") - timer);
	bulk_settle();
}

/* One iperf3 client run with options; it must complete as one test. */
static void iperf3_run(const char *options)
{
	struct peer_result r;
	int64_t tests = netstat_get("iperf_tests");

	peer_run(&r, "iperf3 %d %u %s", IPERF_SECONDS, IPERF_LEAST, options);
	ktest_diag("iperf3 %s: %s", options, r.detail);
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "error none");
	bulk_settle();
	KT_EXPECT_EQ(netstat_get("iperf_tests") - tests, 1);
}

KTEST(net_bulk, iperf3_client_sends_to_our_iperf3_server)
{
	iperf3_run("-P 1");
}

/* -R: the server sends (net/iperf.c iperf_stream_source). */
KTEST(net_bulk, iperf3_client_receives_from_our_server_in_reverse)
{
	iperf3_run("-R");
}

KTEST(net_bulk, iperf3_with_four_parallel_streams_completes)
{
	struct peer_result r;

	iperf3_run("-P 4");
	peer_run(&r, "iperf3 %d %u -P 4 -R", IPERF_SECONDS, IPERF_LEAST);
	ktest_diag("iperf3 -P 4 -R: %s", r.detail);
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "4 streams, error none");
	bulk_settle();
}

/*
 * Five sessions that break the protocol (tests/net/peers.py iperf3_bad):
 * four end as bad input, one is refused (UDP), one stream is denied (a
 * wrong cookie).  Then a real client is served as if nothing happened.
 */
KTEST(net_bulk, malformed_iperf3_sessions_end_cleanly_and_are_counted)
{
	struct peer_result r;
	int64_t bad = netstat_get("iperf_bad");
	int64_t refused = netstat_get("iperf_refused");
	int64_t denied = netstat_get("iperf_denied");

	peer_run(&r, "iperf3_bad");
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "ended as expected");
	bulk_settle();
	KT_EXPECT_EQ(netstat_get("iperf_bad") - bad, 4);
	KT_EXPECT_EQ(netstat_get("iperf_refused") - refused, 1);
	KT_EXPECT_EQ(netstat_get("iperf_denied") - denied, 1);
	iperf3_run("-P 2");
}
