/*
 * net_peer_test.c - Damselfly against programs it did not write: Linux's
 * ping and arping on the other end of a tap wire.
 *
 * The `net` group (tests/ktest-groups) boots with a virtio-net device
 * whose backend is a tap in a network namespace the runner creates
 * (tools/ktestlib/netns.py): Linux is 192.0.2.1, we are 192.0.2.2.  A test
 * names a scenario (tests/net/peers.py), the runner runs it in the
 * namespace and sends back its exit status; the test checks that status
 * and what its own counters saw.  Without a wire the tests skip.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/synch.h>
#include <kern/malloc.h>
#include <fs/vfs.h>
#include <net/icmp_var.h>
#include <net/net.h>
#include <net/socket.h>
#include <net/netisr.h>
#include <net/netstat.h>
#include "net_testlib.h"

#define HOST_ADDR	"192.0.2.1"

KTEST(net_peer, linux_ping_gets_every_reply)
{
	struct peer_result r;
	int64_t echo = netstat_get("icmp_echo_in");

	peer_run(&r, "ping 5 56");
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "5 received");
	KT_EXPECT_GE(netstat_get("icmp_echo_in") - echo, 5);
}

KTEST(net_peer, linux_ping_of_the_full_mtu_gets_replies)
{
	struct peer_result r;

	/* 1472 data + 8 ICMP + 20 IP = 1500 bytes: the whole MTU. */
	peer_run(&r, "ping 3 1472");
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "3 received");
}

KTEST(net_peer, linux_flood_ping_of_1000_loses_nothing)
{
	struct peer_result r;

	peer_run(&r, "flood 1000");
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "1000 received");
}

KTEST(net_peer, arping_gets_our_mac)
{
	struct peer_result r;
	int64_t replies = netstat_get("arp_reply_out");

	peer_run(&r, "arping 3");
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "52:54:00:12:34:56");
	KT_EXPECT_GE(netstat_get("arp_reply_out") - replies, 3);
}

struct echo_msg {
	struct netmsg nm;
	uint32_t dst;
	uint16_t seq;
};

static void echo_send(struct netmsg *nm)
{
	struct echo_msg *em = (struct echo_msg *)nm;

	icmp_send_echo(em->dst, 0x7777, em->seq, 100);
	lwkt_replymsg(&nm->nm_lmsg, 0);
}

KTEST(net_peer, we_resolve_and_ping_linux)
{
	struct lwkt_port rport;
	struct echo_msg em;
	uint32_t had;

	peer_if();
	inet_aton(HOST_ADDR, &em.dst);
	arp_flush();
	icmp_ping.id = 0x7777;
	had = icmp_ping.received;
	lwkt_initport_thread(&rport, curthread);
	/* The first request waits for ARP; resend until a reply comes. */
	for (int i = 0; i < 5 && icmp_ping.received == had; i++) {
		em.seq = (uint16_t)i;
		netmsg_init(&em.nm, &rport, echo_send);
		lwkt_domsg(netisr_port(0), &em.nm.nm_lmsg, 0);
		for (int t = 0; t < 20 && icmp_ping.received == had; t++)
			tsleep(&icmp_ping, 0, "ping", HZ / 10);
	}
	lwkt_destroyport(&rport);
	KT_EXPECT_GT(icmp_ping.received, had);
	{
		uint8_t mac[ETHER_ADDR_LEN];

		KT_EXPECT_TRUE(arp_lookup(em.dst, mac));
	}
}

/* ---- the services, and a connection out ------------------------------------ */

/* Wait until the services' connection threads are gone (a test's
 * connections end when Linux sees them end, a little before). */
static void services_settle(void)
{
	for (int i = 0; i < 500 && net_services_active() > 0; i++)
		tsleep(&services_settle, 0, "svc", HZ / 50);
	KT_EXPECT_EQ(net_services_active(), 0);
	tsleep(&services_settle, 0, "svc", HZ / 10);	/* threads exit */
}

KTEST(net_peer, udp_echo_sends_a_datagram_back_unchanged)
{
	struct peer_result r;

	peer_run(&r, "udp_echo 1000");
	KT_EXPECT_EQ(r.status, 0);
}

KTEST(net_peer, udp_to_a_closed_port_is_refused_by_icmp)
{
	struct peer_result r;
	int64_t unreach = netstat_get("icmp_unreach_out");

	/* socat reads the ICMP port unreachable as a refused connection. */
	peer_run(&r, "udp_echo_closed 9999");
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_GT(netstat_get("icmp_unreach_out"), unreach);
}

KTEST(net_peer, tcp_echo_of_256_kib_comes_back_intact)
{
	struct peer_result r;

	peer_run(&r, "tcp_echo 262144");
	KT_EXPECT_EQ(r.status, 0);
	services_settle();
}

KTEST(net_peer, nc_sends_a_mebibyte_to_discard)
{
	struct peer_result r;
	int64_t bytes = netstat_get("tcp_rcvbyte");

	peer_run(&r, "discard 1048576");
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_GE(netstat_get("tcp_rcvbyte") - bytes, 1048576);
	services_settle();
}

KTEST(net_peer, a_closed_port_refuses_at_once)
{
	struct peer_result r;

	peer_run(&r, "closed_port 81");
	KT_EXPECT_EQ(r.status, 0);
}

/* Write the test pattern (block k: (j * 131 + k) & 0xff) to path. */
static int write_pattern(const char *path, size_t size)
{
	uint8_t *buf = kmalloc(4096, M_TEMP, M_WAITOK);
	struct file *fp;
	int error = vfs_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fp);

	for (size_t k = 0; error == 0 && k * 4096 < size; k++) {
		size_t n = MIN((size_t)4096, size - k * 4096), done;

		for (size_t j = 0; j < 4096; j++)
			buf[j] = (uint8_t)(j * 131 + k);
		error = vfs_write(fp, buf, n, &done);
	}
	if (error == 0)
		error = vfs_close(fp);
	kfree(buf, M_TEMP);
	return error;
}

KTEST(net_peer, curl_downloads_a_file_and_its_sha256_matches)
{
	struct peer_result r;

	peer_require();
	/* A file the kernel writes itself; the 50 MiB download the runner
	 * puts on the disk is net_bulk's. */
	KT_ASSERT_EQ(write_pattern("/net-http.bin", 256 << 10), 0);
	peer_run(&r, "http_get %d /net-http.bin", 256 << 10);
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "matches");
	peer_run(&r, "http_keepalive 3 /net-http.bin");
	KT_EXPECT_EQ(r.status, 0);
	services_settle();
	vfs_unlink("/net-http.bin");
}

KTEST(net_peer, two_hundred_parallel_connections_all_echo)
{
	struct peer_result r;

	peer_run(&r, "parallel 200 2000");
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "200 of 200");
	services_settle();
}

KTEST(net_peer, we_connect_out_to_a_linux_server)
{
	struct peer_result r;
	struct socket *so;
	uint8_t *out, *in;
	uint32_t host;
	size_t n, got = 0;

	peer_run(&r, "serve_echo 5000");
	KT_ASSERT_EQ(r.status, 0);
	out = kmalloc(65536, M_TEMP, M_WAITOK);
	in = kmalloc(65536, M_TEMP, M_WAITOK);
	inet_aton(HOST_ADDR, &host);
	for (int i = 0; i < 65536; i++)
		out[i] = (uint8_t)(i * 7 + 3);
	KT_ASSERT_EQ(so_create(SOCK_STREAM, &so), 0);
	KT_ASSERT_EQ(so_connect(so, host, htons(5000)), 0);
	KT_EXPECT_EQ(so_send(so, out, 65536, 0, &n), 0);
	so_shutdown(so, SHUT_WR);
	while (got < 65536 && so_recv(so, in + got, 65536 - got, 0, &n) == 0 &&
	       n > 0)
		got += n;
	KT_EXPECT_EQ(got, 65536);
	KT_EXPECT_EQ(memcmp(in, out, 65536), 0);
	so_close(so);
	kfree(in, M_TEMP);
	kfree(out, M_TEMP);
}

KTEST(net_peer, a_lossy_wire_still_delivers_every_byte)
{
	struct peer_result r;
	int64_t rexmit = netstat_get("tcp_sndrexmitpack");
	int64_t ooo = netstat_get("tcp_rcvoo");
	uint64_t conns = tcp_live();

	/* Every 7th segment is dropped in each direction: we must resend
	 * ours.  (Linux hands nftables its segments before it cuts them
	 * for the wire, so one drop may take a whole burst, and whether
	 * any of theirs arrive out of order varies: tcp_ooo_* tests that
	 * deterministically.) */
	peer_run(&r, "lossy_echo 131072 7");
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "131072 of 131072");
	KT_EXPECT_GT(netstat_get("tcp_sndrexmitpack"), rexmit);
	ktest_diag("resent %ld segments, %ld arrived out of order",
		   netstat_get("tcp_sndrexmitpack") - rexmit,
		   netstat_get("tcp_rcvoo") - ooo);
	services_settle();
	/* A lost last ACK leaves a connection resending its FIN a while. */
	for (int i = 0; i < 10 * HZ && tcp_live() > conns; i++)
		tsleep(&conns, 0, "tcpend", 1);
	KT_EXPECT_EQ(tcp_live(), conns);
}

/* Every counter that means "a frame was dropped as malformed or not
 * ours" (net/netstat.h). */
static const char *const drop_counters[] = {
	"ether_runt", "ether_notme", "ether_badtype", "arp_bad",
	"ip_badver", "ip_badhlen", "ip_badlen", "ip_badsum", "ip_fragdrop",
	"ip_notme", "ip_noproto", "icmp_badlen", "icmp_badsum",
	"udp_badlen", "udp_badsum", "tcp_badlen", "tcp_badsum", "tcp_badoff",
	"tcp_badopt",
};

static int64_t drops_now(int64_t each[])
{
	int64_t sum = 0;

	for (size_t i = 0; i < nitems(drop_counters); i++) {
		int64_t v = netstat_get(drop_counters[i]);

		if (each != NULL)
			each[i] = v - each[i];
		sum += v;
	}
	return sum;
}

/*
 * Scapy on the Linux side sends 100,000 malformed frames (cut short,
 * damaged headers, lying lengths, bad TCP options, fragments, bad ARP:
 * tests/net/fuzz_frames.py), checking every 500 that our UDP echo still
 * answers.  Each must be dropped and counted exactly once, none
 * answered; the suite's leak check then sees every buffer back.
 */
KTEST(net_peer, a_hundred_thousand_malformed_frames_are_dropped_and_counted)
{
	struct peer_result r;
	int64_t each[nitems(drop_counters)], drops;
	int64_t syn = netstat_get("tcp_syn_in");
	int64_t rst = netstat_get("tcp_rst_out");
	int64_t unreach = netstat_get("icmp_unreach_out");
	int64_t echo = netstat_get("icmp_echo_in");
	int64_t lost = netstat_get("vnet_rx_lostintr");
	int64_t kicks = netstat_get("vnet_rx_idlekick");

	peer_require();
	for (size_t i = 0; i < nitems(drop_counters); i++)
		each[i] = netstat_get(drop_counters[i]);
	drops = drops_now(NULL);
	peer_run(&r, "fuzz 100000 %u", (unsigned)ktest_seed());
	KT_EXPECT_EQ(r.status, 0);
	KT_EXPECT_SUBSTR(r.detail, "sent 100000 frames");
	net_settle();
	KT_EXPECT_EQ(drops_now(NULL) - drops, 100000);
	KT_EXPECT_EQ(netstat_get("tcp_syn_in"), syn);
	KT_EXPECT_EQ(netstat_get("tcp_rst_out"), rst);
	KT_EXPECT_EQ(netstat_get("icmp_unreach_out"), unreach);
	KT_EXPECT_EQ(netstat_get("icmp_echo_in"), echo);
	drops_now(each);
	for (size_t i = 0; i < nitems(drop_counters); i++)
		if (each[i] != 0)
			ktest_diag("%s +%ld", drop_counters[i], each[i]);
	ktest_diag("the receive watchdog found %ld lost interrupts, rang "
		   "%ld idle doorbells", netstat_get("vnet_rx_lostintr") - lost,
		   netstat_get("vnet_rx_idlekick") - kicks);
}
