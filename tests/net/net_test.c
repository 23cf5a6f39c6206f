/*
 * net_test.c - the stack against frames a test builds: Ethernet, ARP,
 * IPv4, ICMP, and what UDP and TCP answer for closed ports.
 *
 * Each test injects frames on the test interface (net_testlib.h) with
 * ether_input, exactly as a driver would, and reads what the stack sends
 * back.  No device and no host are needed, so the suite runs in every
 * boot.  Malformed frames must be dropped and counted under their reason,
 * leave no buffer behind, and never reach a protocol.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/thread.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/synch.h>
#include <net/inet.h>
#include <net/iperf.h>
#include <net/mbuf.h>
#include <net/netisr.h>
#include <net/netstat.h>
#include <net/socket.h>
#include "net_testlib.h"

/* ---- pure functions ---------------------------------------------------- */

KTEST(net, internet_checksum_matches_rfc1071_example)
{
	/* RFC 1071 4.1: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded),
	 * so the checksum is its complement, 220d. */
	static const uint8_t words[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5,
					 0xf6, 0xf7 };

	KT_EXPECT_EQ(in_cksum_add(0, words, sizeof(words)), 0xddf2);
	KT_EXPECT_EQ(ntohs(in_cksum(words, sizeof(words))), 0x220d);
	/* An odd length pads the last byte with a zero. */
	KT_EXPECT_EQ(in_cksum_add(0, words, 3), 0x0001 + 0xf200);
}

KTEST(net, flow_hash_is_the_same_in_both_directions)
{
	uint32_t a = TIF_ADDR, b = TIF_PEER;
	int seen[2] = { 0, 0 };

	for (uint16_t port = 1000; port < 1064; port++) {
		uint32_t h = netisr_hash4(a, b, htons(port), htons(80));

		KT_EXPECT_EQ(h, netisr_hash4(b, a, htons(80), htons(port)));
		seen[h & 1]++;
	}
	/* Not a constant: both halves of the range are used. */
	KT_EXPECT_GT(seen[0], 8);
	KT_EXPECT_GT(seen[1], 8);
}

/*
 * The iperf3 server's JSON reader (net/iperf.c): the parameters iperf3
 * 3.12 sends for -R -P 4 -t 2, members it does not need skipped (a
 * string with escapes, a nested object), and text that is not one JSON
 * object refused.
 */
KTEST(net, iperf_params_reader_takes_iperf3s_json_and_refuses_the_rest)
{
	static const char good[] = "{\"tcp\":true,\"omit\":0,\"time\":2,"
		"\"num\":0,\"blockcount\":0,\"parallel\":4,\"reverse\":true,"
		"\"len\":131072,\"pacing_timer\":1000,\"title\":\"a \\\"q\\\" "
		"\\u00e9\",\"x\":{\"y\":[1,-2.5e3,null,false]},"
		"\"client_version\":\"3.12\"}";
	static const char *const bad[] = {
		"", "{", "{}x", "[1]", "{\"tcp\":true,}", "{\"tcp\" true}",
		"{\"time\":1.}", "{\"a\":\"\\q\"}", "{\"a\":\"open}",
		"{\"a\":tru}", "{\"a\":[[[[[[[[[[1]]]]]]]]]]}", "{\"a\":-}",
	};
	struct iperf_params p;

	KT_ASSERT_TRUE(iperf_parse_params(good, strlen(good), &p));
	KT_EXPECT_TRUE(p.tcp);
	KT_EXPECT_TRUE(p.reverse);
	KT_EXPECT_FALSE(p.udp);
	KT_EXPECT_EQ(p.time, 2);
	KT_EXPECT_EQ(p.parallel, 4);
	KT_EXPECT_EQ(p.len, 131072);
	KT_EXPECT_TRUE(iperf_parse_params("{}", 2, &p));
	KT_EXPECT_EQ(p.parallel, 1);		/* absent: one stream */
	for (size_t i = 0; i < nitems(bad); i++)
		KT_EXPECT_FALSE(iperf_parse_params(bad[i], strlen(bad[i]),
						   &p));
	KT_EXPECT_TRUE(iperf_json_is_object(good, strlen(good)));
	KT_EXPECT_FALSE(iperf_json_is_object("[]", 2));
	KT_EXPECT_FALSE(iperf_json_is_object("{} {}", 5));
}

/* ---- ARP ------------------------------------------------------------- */

static void arp_frame(struct arphdr *ah, uint16_t op, uint32_t spa,
		      uint32_t tpa)
{
	memset(ah, 0, sizeof(*ah));
	ah->ar_hrd = htons(ARPHRD_ETHER);
	ah->ar_pro = htons(ETHERTYPE_IP);
	ah->ar_hln = ETHER_ADDR_LEN;
	ah->ar_pln = 4;
	ah->ar_op = htons(op);
	memcpy(ah->ar_sha, tif_peer_mac, ETHER_ADDR_LEN);
	ah->ar_spa = spa;
	ah->ar_tpa = tpa;
}

KTEST(net, arp_request_for_our_address_is_answered_and_learnt)
{
	struct ifnet *ifp = tif_up();
	struct arphdr req, *rep;
	uint8_t mac[ETHER_ADDR_LEN];
	struct mbuf *m;

	arp_frame(&req, ARPOP_REQUEST, TIF_PEER, TIF_ADDR);
	ether_input(ifp, tif_frame(ETHERTYPE_ARP, &req, sizeof(req)));
	m = tif_next(HZ);
	KT_ASSERT_TRUE(m != NULL);
	/* A reply, to the asker's MAC, padded to the Ethernet minimum. */
	KT_EXPECT_EQ(memcmp(m->m_data, tif_peer_mac, ETHER_ADDR_LEN), 0);
	KT_EXPECT_EQ(m->m_len, ETHER_MIN_LEN);
	rep = (struct arphdr *)(m->m_data + ETHER_HDR_LEN);
	KT_EXPECT_EQ(ntohs(rep->ar_op), ARPOP_REPLY);
	KT_EXPECT_EQ(memcmp(rep->ar_sha, tif_mac, ETHER_ADDR_LEN), 0);
	KT_EXPECT_EQ(rep->ar_spa, TIF_ADDR);
	KT_EXPECT_EQ(rep->ar_tpa, TIF_PEER);
	m_freem(m);
	net_settle();
	/* Every CPU's copy learnt the asker (updates are messages). */
	for (int cpu = 0; cpu < ncpus; cpu++) {
		lwkt_migratecpu(cpu);
		KT_EXPECT_TRUE(arp_lookup(TIF_PEER, mac));
	}
	lwkt_migratecpu(0);
	tif_down();
}

KTEST(net, arp_request_for_another_host_is_not_answered)
{
	struct ifnet *ifp = tif_up();
	struct arphdr req;
	uint8_t mac[ETHER_ADDR_LEN];
	int64_t before = netstat_get("arp_reply_out");

	arp_frame(&req, ARPOP_REQUEST, TIF_PEER, TIF_ADDR + (5u << 24));
	ether_input(ifp, tif_frame(ETHERTYPE_ARP, &req, sizeof(req)));
	net_settle();
	KT_EXPECT_TRUE(tif_next(1) == NULL);
	KT_EXPECT_EQ(netstat_get("arp_reply_out"), before);
	/* Not for us and not known: not learnt either (RFC 826's merge
	 * only refreshes entries that exist). */
	KT_EXPECT_FALSE(arp_lookup(TIF_PEER, mac));
	tif_down();
}

/* The ARP frame in m (an Ethernet frame the stack sent), or NULL. */
static struct arphdr *sent_arp(struct mbuf *m)
{
	const struct ether_header *eh = (const struct ether_header *)m->m_data;

	if (m->m_len < ETHER_HDR_LEN + sizeof(struct arphdr) ||
	    ntohs(eh->ether_type) != ETHERTYPE_ARP)
		return NULL;
	return (struct arphdr *)(m->m_data + ETHER_HDR_LEN);
}

KTEST(net, an_address_set_is_announced_by_gratuitous_arp)
{
	struct ifnet *ifp = tif_up();
	int64_t before = netstat_get("arp_gratuitous");
	struct arphdr *ah;
	struct mbuf *m;

	if_set_addr(ifp, TIF_ADDR, htonl(0xffffff00u), 0);
	m = tif_next(HZ);
	KT_ASSERT_TRUE(m != NULL);
	/* To everyone: a request for our own address, from it. */
	KT_EXPECT_EQ(memcmp(m->m_data, ether_broadcast, ETHER_ADDR_LEN), 0);
	ah = sent_arp(m);
	KT_ASSERT_TRUE(ah != NULL);
	KT_EXPECT_EQ(ntohs(ah->ar_op), ARPOP_REQUEST);
	KT_EXPECT_EQ(ah->ar_spa, TIF_ADDR);
	KT_EXPECT_EQ(ah->ar_tpa, TIF_ADDR);
	KT_EXPECT_EQ(memcmp(ah->ar_sha, tif_mac, ETHER_ADDR_LEN), 0);
	KT_EXPECT_EQ(netstat_get("arp_gratuitous"), before + 1);
	m_freem(m);
	tif_down();
}

/* The boot's ip= and gw= go through if_config: what it accepts, and
 * that a malformed value changes nothing. */
KTEST(net, interface_configuration_from_text_checks_every_field)
{
	struct ifnet *ifp = tif_up();
	uint32_t want;

	KT_EXPECT_EQ(if_config(ifp, "10.9.8.7/16", "10.9.0.1"), 0);
	inet_aton("10.9.8.7", &want);
	KT_EXPECT_EQ(ifp->if_addr, want);
	KT_EXPECT_EQ(ifp->if_netmask, htonl(0xffff0000u));
	inet_aton("10.9.0.1", &want);
	KT_EXPECT_EQ(ifp->if_gateway, want);
	/* No length: /24.  A bad gateway is ignored, not fatal. */
	KT_EXPECT_EQ(if_config(ifp, "10.9.9.1", "10.9.9"), 0);
	KT_EXPECT_EQ(ifp->if_addr, TIF_ADDR);
	KT_EXPECT_EQ(ifp->if_netmask, htonl(0xffffff00u));
	KT_EXPECT_EQ(ifp->if_gateway, 0);
	/* Malformed addresses: refused, the interface as it was. */
	KT_EXPECT_EQ(if_config(ifp, "10.9.9.256/24", NULL), EINVAL);
	KT_EXPECT_EQ(if_config(ifp, "10.9.9.5/33", NULL), EINVAL);
	KT_EXPECT_EQ(if_config(ifp, "10.9.9.5/", NULL), EINVAL);
	KT_EXPECT_EQ(if_config(ifp, "10.9.9/24", NULL), EINVAL);
	KT_EXPECT_EQ(if_config(ifp, "", NULL), EINVAL);
	KT_EXPECT_EQ(ifp->if_addr, TIF_ADDR);
	KT_EXPECT_EQ(ifp->if_netmask, htonl(0xffffff00u));
	tif_down();			/* drops the gratuitous ARPs */
}

/* A datagram to addr on the test network, from a fresh socket. */
static void send_udp_to(uint32_t addr)
{
	struct socket *so;
	size_t n;

	KT_ASSERT_EQ(so_create(SOCK_DGRAM, &so), 0);
	KT_EXPECT_EQ(so_sendto(so, "held", 4, 0, addr, htons(9), &n), 0);
	so_close(so);
}

KTEST(net, a_datagram_waits_for_arp_and_goes_when_the_reply_comes)
{
	struct ifnet *ifp = tif_up();
	struct arphdr rep, *ah;
	struct mbuf *m;

	arp_flush();
	send_udp_to(TIF_PEER);
	m = tif_next(HZ);
	KT_ASSERT_TRUE(m != NULL);
	ah = sent_arp(m);
	KT_ASSERT_TRUE(ah != NULL);
	KT_EXPECT_EQ(ntohs(ah->ar_op), ARPOP_REQUEST);
	KT_EXPECT_EQ(ah->ar_tpa, TIF_PEER);
	m_freem(m);
	/* The reply: the held datagram leaves, to the MAC it names. */
	arp_frame(&rep, ARPOP_REPLY, TIF_PEER, TIF_ADDR);
	ether_input(ifp, tif_frame(ETHERTYPE_ARP, &rep, sizeof(rep)));
	m = tif_next(HZ);
	KT_ASSERT_TRUE(m != NULL);
	KT_EXPECT_EQ(memcmp(m->m_data, tif_peer_mac, ETHER_ADDR_LEN), 0);
	KT_EXPECT_EQ(ntohs(((struct ether_header *)m->m_data)->ether_type),
		     ETHERTYPE_IP);
	m_freem(m);
	tif_down();
}

/* RFC 1122 2.3.2.1: at most one request a second per address; after
 * ARP_MAXTRIES (3) the held datagram is dropped and counted. */
KTEST(net, an_unanswered_address_gets_three_requests_then_its_packet_is_dropped)
{
	struct ifnet *ifp = tif_up();
	uint32_t ghost = TIF_ADDR + (77u << 24) - (1u << 24);	/* .77 */
	int64_t timeouts = netstat_get("arp_timeout");
	int64_t dropped = netstat_get("arp_hold_dropped");
	uint64_t last = 0;
	struct mbuf *m;
	int requests = 0;

	(void)ifp;
	send_udp_to(ghost);
	while (requests < 3 && (m = tif_next(2 * HZ)) != NULL) {
		struct arphdr *ah = sent_arp(m);

		KT_EXPECT_TRUE(ah != NULL && ah->ar_tpa == ghost);
		if (requests++ > 0)
			KT_EXPECT_GE(ticks - last, HZ - 1);
		last = ticks;
		m_freem(m);
	}
	for (int i = 0; i < 3 * HZ && netstat_get("arp_timeout") == timeouts;
	     i++)
		tsleep(&last, 0, "arpto", 1);
	KT_EXPECT_EQ(requests, 3);
	KT_EXPECT_EQ(netstat_get("arp_timeout"), timeouts + 1);
	KT_EXPECT_EQ(netstat_get("arp_hold_dropped"), dropped + 1);
	KT_EXPECT_TRUE(tif_next(1) == NULL);	/* the datagram never left */
	tif_down();
}

/* ---- ICMP echo ----------------------------------------------------------- */

KTEST(net, echo_request_is_answered_with_the_same_data)
{
	struct ifnet *ifp = tif_up();
	uint8_t msg[8 + 18];
	struct icmp *ic = (struct icmp *)msg;
	struct arphdr req;
	struct mbuf *m;

	/* Teach the stack the peer's MAC first. */
	arp_frame(&req, ARPOP_REQUEST, TIF_PEER, TIF_ADDR);
	ether_input(ifp, tif_frame(ETHERTYPE_ARP, &req, sizeof(req)));
	m_freem(tif_next(HZ));
	net_settle();
	/* A short echo: with its Ethernet header the frame is 60 bytes
	 * only after padding, which the stack must not echo back. */
	memset(msg, 0, sizeof(msg));
	ic->icmp_type = ICMP_ECHO;
	ic->icmp_id = htons(0x1234);
	ic->icmp_seq = htons(7);
	for (int i = 8; i < (int)sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7);
	ic->icmp_cksum = in_cksum(msg, sizeof(msg));
	m = tif_ip(IPPROTO_ICMP, msg, sizeof(msg));
	memset(m->m_data + m->m_len, 0xee, 4);	/* padding bytes */
	m->m_len += 4;
	ether_input(ifp, m);
	m = tif_next(HZ);
	KT_ASSERT_TRUE(m != NULL);
	{
		struct ip *ip = (struct ip *)(m->m_data + ETHER_HDR_LEN);
		struct icmp *rc = (struct icmp *)(ip + 1);

		KT_EXPECT_EQ(ntohs(ip->ip_len), sizeof(*ip) + sizeof(msg));
		KT_EXPECT_EQ(ip->ip_dst, TIF_PEER);
		KT_EXPECT_EQ(ip->ip_src, TIF_ADDR);
		KT_EXPECT_EQ(in_cksum(ip, sizeof(*ip)), 0);
		KT_EXPECT_EQ(rc->icmp_type, ICMP_ECHOREPLY);
		KT_EXPECT_EQ(in_cksum(rc, sizeof(msg)), 0);
		KT_EXPECT_EQ(memcmp((uint8_t *)rc + 4, msg + 4,
				    sizeof(msg) - 4), 0);
	}
	m_freem(m);
	tif_down();
}

/* ---- malformed frames ---------------------------------------------------- */

/* One broken frame and the counter that must name its drop. */
struct bad_case {
	const char *what, *counter;
	struct mbuf *(*make)(void);
};

static struct mbuf *bad_runt(void)
{
	struct mbuf *m = tif_frame(ETHERTYPE_IP, "", 0);

	m->m_len = 9;
	return m;
}

/* A valid 20-byte IP header + 8-byte UDP header, to break one field. */
static struct mbuf *udp_base(void)
{
	struct udphdr uh = { htons(5000), htons(9), htons(8), 0 };

	return tif_ip(IPPROTO_UDP, &uh, sizeof(uh));
}

static struct ip *ipof(struct mbuf *m)
{
	return (struct ip *)(m->m_data + ETHER_HDR_LEN);
}

static void ip_resum(struct ip *ip)
{
	ip->ip_sum = 0;
	ip->ip_sum = in_cksum(ip, (ip->ip_vhl & 0xf) * 4u);
}

static struct mbuf *bad_ip_truncated(void)
{
	struct mbuf *m = udp_base();

	m->m_len = ETHER_HDR_LEN + 12;
	return m;
}

static struct mbuf *bad_ip_version(void)
{
	struct mbuf *m = udp_base();

	ipof(m)->ip_vhl = 0x65;
	ip_resum(ipof(m));
	return m;
}

static struct mbuf *bad_ip_ihl(void)
{
	struct mbuf *m = udp_base();

	ipof(m)->ip_vhl = 0x44;
	ip_resum(ipof(m));
	return m;
}

static struct mbuf *bad_ip_sum(void)
{
	struct mbuf *m = udp_base();

	ipof(m)->ip_sum ^= 0x1234;
	return m;
}

static struct mbuf *bad_ip_len_short(void)
{
	struct mbuf *m = udp_base();

	ipof(m)->ip_len = htons(10);
	ip_resum(ipof(m));
	return m;
}

static struct mbuf *bad_ip_len_long(void)
{
	struct mbuf *m = udp_base();

	ipof(m)->ip_len = htons(4000);
	ip_resum(ipof(m));
	return m;
}

static struct mbuf *bad_ip_fragment(void)
{
	struct mbuf *m = udp_base();

	ipof(m)->ip_off = htons(IP_MF);
	ip_resum(ipof(m));
	return m;
}

static struct mbuf *bad_ip_notme(void)
{
	struct mbuf *m = udp_base();

	ipof(m)->ip_dst = TIF_ADDR + (9u << 24);
	ip_resum(ipof(m));
	return m;
}

static struct mbuf *bad_ether_type(void)
{
	return tif_frame(0x86dd, "ipv6, say", 9);
}

static struct mbuf *bad_arp_short(void)
{
	return tif_frame(ETHERTYPE_ARP, "\0\1\10\0\6\4", 6);
}

static struct mbuf *bad_arp_hlen(void)
{
	struct arphdr ah;

	arp_frame(&ah, ARPOP_REQUEST, TIF_PEER, TIF_ADDR);
	ah.ar_hln = 16;
	return tif_frame(ETHERTYPE_ARP, &ah, sizeof(ah));
}

static struct mbuf *bad_udp_len(void)
{
	struct udphdr uh = { htons(5000), htons(9), htons(4), 0 };

	return tif_ip(IPPROTO_UDP, &uh, sizeof(uh));
}

static struct mbuf *bad_udp_sum(void)
{
	struct udphdr uh = { htons(5000), htons(9), htons(8), htons(1) };

	return tif_ip(IPPROTO_UDP, &uh, sizeof(uh));
}

static struct mbuf *bad_tcp_short(void)
{
	return tif_ip(IPPROTO_TCP, "\0\1\0\2", 4);
}

static struct mbuf *bad_tcp_offset(void)
{
	struct tcphdr th = { .th_sport = htons(5000), .th_dport = htons(80),
			     .th_off = 15 << 4, .th_flags = TH_SYN };

	tif_l4_cksum(IPPROTO_TCP, &th, sizeof(th));
	return tif_ip(IPPROTO_TCP, &th, sizeof(th));
}

static struct mbuf *bad_tcp_sum(void)
{
	struct tcphdr th = { .th_sport = htons(5000), .th_dport = htons(80),
			     .th_off = 5 << 4, .th_flags = TH_SYN,
			     .th_sum = htons(0x4242) };

	return tif_ip(IPPROTO_TCP, &th, sizeof(th));
}

static struct mbuf *bad_icmp_sum(void)
{
	struct icmp ic = { ICMP_ECHO, 0, htons(0x1111), 0, 0 };

	return tif_ip(IPPROTO_ICMP, &ic, sizeof(ic));
}

static struct mbuf *bad_icmp_short(void)
{
	return tif_ip(IPPROTO_ICMP, "\10\0", 2);
}

static const struct bad_case bad_cases[] = {
	{ "runt frame", "ether_runt", bad_runt },
	{ "unknown EtherType", "ether_badtype", bad_ether_type },
	{ "truncated ARP", "arp_bad", bad_arp_short },
	{ "ARP with a 16-byte hardware address", "arp_bad", bad_arp_hlen },
	{ "truncated IP header", "ip_badhlen", bad_ip_truncated },
	{ "IP version 6 in an IPv4 frame", "ip_badver", bad_ip_version },
	{ "IHL of 4 words", "ip_badhlen", bad_ip_ihl },
	{ "wrong IP checksum", "ip_badsum", bad_ip_sum },
	{ "total length below the header", "ip_badlen", bad_ip_len_short },
	{ "total length beyond the frame", "ip_badlen", bad_ip_len_long },
	{ "a fragment", "ip_fragdrop", bad_ip_fragment },
	{ "another host's address", "ip_notme", bad_ip_notme },
	{ "UDP length of 4", "udp_badlen", bad_udp_len },
	{ "wrong UDP checksum", "udp_badsum", bad_udp_sum },
	{ "TCP header cut to 4 bytes", "tcp_badlen", bad_tcp_short },
	{ "TCP data offset past the segment", "tcp_badoff", bad_tcp_offset },
	{ "wrong TCP checksum", "tcp_badsum", bad_tcp_sum },
	{ "wrong ICMP checksum", "icmp_badsum", bad_icmp_sum },
	{ "ICMP message of 2 bytes", "icmp_badlen", bad_icmp_short },
};

KTEST(net, each_malformed_frame_is_dropped_and_counted_by_reason)
{
	struct ifnet *ifp = tif_up();
	uint64_t live = mbuf_live();

	for (size_t i = 0; i < nitems(bad_cases); i++) {
		const struct bad_case *bc = &bad_cases[i];
		int64_t before = netstat_get(bc->counter);
		struct mbuf *m;

		ether_input(ifp, bc->make());
		net_settle();
		if (netstat_get(bc->counter) != before + 1)
			ktest_fail(__FILE__, __LINE__, "%s: %s went from %ld "
				   "to %ld, not up by one", bc->what,
				   bc->counter, before,
				   netstat_get(bc->counter));
		if ((m = tif_next(0 + 1)) != NULL) {
			ktest_fail(__FILE__, __LINE__, "%s: the stack "
				   "answered a frame it should have dropped",
				   bc->what);
			m_freem(m);
		}
	}
	KT_EXPECT_EQ(mbuf_live(), live);
	tif_down();
}

/* ---- closed ports ---------------------------------------------------------- */

KTEST(net, udp_to_a_closed_port_gets_port_unreachable_quoting_it)
{
	struct ifnet *ifp = tif_up();
	uint8_t dgram[8 + 4] = { 0x13, 0x88, 0x27, 0x0f, 0, 12, 0, 0,
				 'a', 'b', 'c', 'd' };
	struct arphdr req;
	struct mbuf *m;

	arp_frame(&req, ARPOP_REQUEST, TIF_PEER, TIF_ADDR);
	ether_input(ifp, tif_frame(ETHERTYPE_ARP, &req, sizeof(req)));
	m_freem(tif_next(HZ));
	tif_l4_cksum(IPPROTO_UDP, dgram, sizeof(dgram));
	ether_input(ifp, tif_ip(IPPROTO_UDP, dgram, sizeof(dgram)));
	m = tif_next(HZ);
	KT_ASSERT_TRUE(m != NULL);
	{
		struct ip *ip = (struct ip *)(m->m_data + ETHER_HDR_LEN);
		struct icmp *ic = (struct icmp *)(ip + 1);
		struct ip *quoted = (struct ip *)(ic + 1);

		KT_EXPECT_EQ(ip->ip_p, IPPROTO_ICMP);
		KT_EXPECT_EQ(ic->icmp_type, ICMP_UNREACH);
		KT_EXPECT_EQ(ic->icmp_code, ICMP_UNREACH_PORT);
		/* The offending header and the first 8 bytes of its data. */
		KT_EXPECT_EQ(ntohs(ip->ip_len), 20 + 8 + 20 + 8);
		KT_EXPECT_EQ(quoted->ip_src, TIF_PEER);
		KT_EXPECT_EQ(memcmp(quoted + 1, dgram, 8), 0);
		KT_EXPECT_EQ(in_cksum(ic, 8 + 28), 0);
	}
	m_freem(m);
	tif_down();
}

static struct mbuf *tcp_segment(uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct tcphdr th = { .th_sport = htons(40000), .th_dport = htons(81),
			     .th_seq = htonl(seq), .th_ack = htonl(ack),
			     .th_off = 5 << 4, .th_flags = flags,
			     .th_win = htons(8192) };

	tif_l4_cksum(IPPROTO_TCP, &th, sizeof(th));
	return tif_ip(IPPROTO_TCP, &th, sizeof(th));
}

KTEST(net, tcp_syn_to_a_closed_port_gets_rst_ack_of_isn_plus_one)
{
	struct ifnet *ifp = tif_up();
	struct arphdr req;
	struct mbuf *m;

	arp_frame(&req, ARPOP_REQUEST, TIF_PEER, TIF_ADDR);
	ether_input(ifp, tif_frame(ETHERTYPE_ARP, &req, sizeof(req)));
	m_freem(tif_next(HZ));
	ether_input(ifp, tcp_segment(TH_SYN, 0xfffffff0u, 0));
	m = tif_next(HZ);
	KT_ASSERT_TRUE(m != NULL);
	{
		struct ip *ip = (struct ip *)(m->m_data + ETHER_HDR_LEN);
		struct tcphdr *th = (struct tcphdr *)(ip + 1);

		KT_EXPECT_EQ(th->th_flags, TH_RST | TH_ACK);
		KT_EXPECT_EQ(ntohl(th->th_ack), 0xfffffff1u);
		KT_EXPECT_EQ(th->th_seq, 0);
		KT_EXPECT_EQ(ntohs(th->th_sport), 81);
	}
	m_freem(m);
	/* A segment with ACK gets <SEQ=SEG.ACK><RST>. */
	ether_input(ifp, tcp_segment(TH_ACK, 100, 0x5000));
	m = tif_next(HZ);
	KT_ASSERT_TRUE(m != NULL);
	{
		struct tcphdr *th = (struct tcphdr *)(m->m_data +
						       ETHER_HDR_LEN + 20);

		KT_EXPECT_EQ(th->th_flags, TH_RST);
		KT_EXPECT_EQ(ntohl(th->th_seq), 0x5000);
	}
	m_freem(m);
	tif_down();
}

KTEST(net, rst_to_a_closed_port_is_never_answered)
{
	struct ifnet *ifp = tif_up();
	int64_t before = netstat_get("tcp_rst_out");

	ether_input(ifp, tcp_segment(TH_RST, 5, 0));
	ether_input(ifp, tcp_segment(TH_RST | TH_ACK, 5, 9));
	net_settle();
	KT_EXPECT_TRUE(tif_next(1) == NULL);
	KT_EXPECT_EQ(netstat_get("tcp_rst_out"), before);
	tif_down();
}

/* ---- random damage ------------------------------------------------------ */

/* xorshift64: the fuzz's generator, seeded from ktest_seed(). */
static uint64_t fuzz_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

KTEST(net, twenty_thousand_damaged_frames_leave_the_stack_alive)
{
	struct ifnet *ifp = tif_up();
	uint64_t seed = ktest_seed() | 1, s = seed;
	uint64_t live = mbuf_live();
	struct mbuf *m;
	int answered = 0;

	ktest_diag("seed=%#lx", seed);
	for (int i = 0; i < 20000; i++) {
		struct mbuf *(*make)(void) =
			bad_cases[fuzz_next(&s) % nitems(bad_cases)].make;

		m = make();
		/* Flip up to four random bytes, then maybe cut the end. */
		for (int k = fuzz_next(&s) % 5; k > 0; k--)
			m->m_data[fuzz_next(&s) % m->m_len] ^=
				(uint8_t)(fuzz_next(&s) | 1);
		if (fuzz_next(&s) % 4 == 0)
			m->m_len = fuzz_next(&s) % (m->m_len + 1);
		ether_input(ifp, m);
		if (i % 256 == 0) {
			net_settle();
			while ((m = tif_next(0 + 1)) != NULL) {
				answered++;
				m_freem(m);
			}
		}
	}
	net_settle();
	while ((m = tif_next(1)) != NULL) {
		answered++;
		m_freem(m);
	}
	ktest_diag("%d of 20000 damaged frames were answered", answered);
	KT_EXPECT_EQ(mbuf_live(), live);
	tif_down();
}
