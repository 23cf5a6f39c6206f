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
#include <net/icmp_var.h>
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
