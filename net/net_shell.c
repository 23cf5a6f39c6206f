/*
 * net_shell.c - the network's shell commands: ifconfig, arp, netstat,
 * ping.  Each is a thin reader of state the stack already keeps, or a
 * message to a netisr; none touches protocol state itself.
 *
 *   ifconfig                          every interface: MAC, MTU, link,
 *                                     address, netmask, gateway, counts
 *   ifconfig NAME A.B.C.D/LEN [GW]    set an address (LEN 24 if omitted)
 *   arp                               the ARP table (netisr 0's copy)
 *   netstat                           messages per netisr, each CPU's TCP
 *                                     listeners and connections, and
 *                                     every counter that is not zero
 *   ping A.B.C.D [COUNT]              COUNT echo requests (4), a second
 *                                     apart, and what came back
 *
 * The shell runs in the boot thread, which is not a netisr, so it may
 * wait for one: ping sends each echo request from netisr 0 with
 * lwkt_domsg (ip_output must run on a netisr) and sleeps on icmp_ping
 * until the reply's counter moves or a second passes; netstat asks each
 * netisr in turn to print its own connections.  Tests type these
 * commands on the serial port (tests/net/net_shell_test.c) and compare
 * what they print with what Linux on the other end of the wire knows.
 *
 * Arguments are words separated by spaces; a bad one gets a usage line
 * and changes nothing.  There are no names to resolve: addresses are
 * dotted quads (inet_aton), and only the first interface matters in
 * practice (vnet0).
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/synch.h>
#include <net/icmp_var.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/net.h>
#include <net/netisr.h>
#include <net/netstat.h>
#include <net/tcp_var.h>

#define PING_ID		0x4446	/* "DF": our echo requests' identifier */
#define WORD_MAX	40	/* longest word kept, its NUL included */

/* Split s at spaces into at most max words of WORD_MAX - 1 bytes
 * (longer ones are cut); returns how many. */
static int split_words(const char *s, char (*w)[WORD_MAX], int max)
{
	int n = 0;

	while (*s != '\0' && n < max) {
		size_t len = 0;

		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		while (*s != '\0' && *s != ' ') {
			if (len + 1 < WORD_MAX)
				w[n][len++] = *s;
			s++;
		}
		w[n++][len] = '\0';
	}
	return n;
}

/*
 * ifconfig                      every interface
 * ifconfig NAME A.B.C.D/len [GW] set an address
 *
 * Setting goes through if_set_addr, which runs on every netisr in turn
 * (each keeps its own copy of the interface's addresses) and announces
 * the address with a gratuitous ARP.  A prefix length over 32, an
 * address that is not a dotted quad, or an unknown interface is
 * refused with a message; a missing gateway means none.
 */
void net_cmd_ifconfig(const char *args)
{
	char w[3][WORD_MAX] = { "", "", "" };
	char *cidr = w[1], *gw = w[2];
	uint32_t addr, mask, gwaddr = 0;
	struct ifnet *ifp;
	uint64_t len = 24;
	char *slash;
	int n = split_words(args, w, 3);

	if (n == 0) {
		if_print_all();
		return;
	}
	if (n < 2 || (ifp = if_find(w[0])) == NULL) {
		kprintf("  usage: ifconfig [NAME A.B.C.D/len [GATEWAY]]\n");
		return;
	}
	if ((slash = strchr(cidr, '/')) != NULL) {
		*slash++ = '\0';
		if (!parse_u64(slash, strlen(slash), &len) || len > 32)
			len = 33;
	}
	if (!inet_aton(cidr, &addr) || len > 32 ||
	    (gw[0] != '\0' && !inet_aton(gw, &gwaddr))) {
		kprintf("  ifconfig: bad address\n");
		return;
	}
	/* Shifting a 32-bit value by 32 is undefined: /0 is all zeros. */
	mask = len == 0 ? 0 : htonl(~0u << (32 - len));
	if_set_addr(ifp, addr, mask, gwaddr);
}

/* arp: the table as netisr 0 sees it (the other CPUs hold copies that
 * netisr 0 updates by message, so they agree once it has settled).
 * Each line: address, MAC, and "expired" once past its lifetime; an
 * address still being resolved shows as incomplete, with the requests
 * sent for it so far. */
void net_cmd_arp(const char *args __unused)
{
	arp_print();
}

/*
 * netstat: messages each netisr served; each CPU's TCP listeners and
 * connections (each CPU prints its own, on its netisr: the lists are its
 * alone); then every counter that is not zero.
 */
void net_cmd_netstat(const char *args __unused)
{
	if (!netisr_running()) {
		kprintf("  netstat: the network stack is not running\n");
		return;
	}
	for (int cpu = 0; cpu < ncpus; cpu++)
		kprintf("  netisr %d: %lu messages\n", cpu,
			netisr_served(cpu));
	tcp_print_conns();
	netstat_print();
}

/* The echo request goes out from netisr 0 (ip_output runs on a netisr).
 * The message lives on the shell's stack: lwkt_domsg waits for it. */
struct ping_msg {
	struct netmsg nm;
	uint32_t dst;
	uint16_t seq;
	int error;
};

/* On netisr 0: build and send one echo request of 56 data bytes (the
 * size Linux's ping sends by default), then reply to the shell with
 * icmp_send_echo's result (e.g. no route, no buffer). */
static void ping_send(struct netmsg *nm)
{
	struct ping_msg *pm = (struct ping_msg *)nm;

	pm->error = icmp_send_echo(pm->dst, PING_ID, pm->seq, 56);
	lwkt_replymsg(&nm->nm_lmsg, 0);
}

/*
 * ping HOST [COUNT]: one request a second, wait up to a second each.
 * Replies are counted by icmp_input (icmp_ping.received, for our id);
 * a reply that comes late counts for the next request.  Only one ping
 * runs at a time (the shell is one thread), so the identifier is fixed
 * and no sequence numbers are matched; it reports each request and the
 * totals, not round-trip times.
 */
void net_cmd_ping(const char *args)
{
	char w[2][WORD_MAX] = { "", "4" };
	struct lwkt_port rport;
	struct ping_msg pm;
	uint64_t count = 4;
	uint32_t before;

	if (split_words(args, w, 2) < 1 || !inet_aton(w[0], &pm.dst) ||
	    !parse_u64(w[1], strlen(w[1]), &count)) {
		kprintf("  usage: ping A.B.C.D [COUNT]\n");
		return;
	}
	icmp_ping.id = PING_ID;
	before = icmp_ping.received;
	lwkt_initport_thread(&rport, curthread);
	for (uint64_t i = 0; i < count; i++) {
		uint32_t had = icmp_ping.received;

		pm.seq = (uint16_t)i;
		netmsg_init(&pm.nm, &rport, ping_send);
		lwkt_domsg(netisr_port(0), &pm.nm.nm_lmsg, 0);
		if (pm.error != 0) {
			kprintf("  ping: send failed (error %d)\n", pm.error);
			break;
		}
		while (icmp_ping.received == had &&
		       tsleep(&icmp_ping, 0, "ping", HZ) == 0)
			;
		kprintf("  seq %lu: %s\n", i, icmp_ping.received != had ?
			"reply" : "no reply");
	}
	lwkt_destroyport(&rport);
	kprintf("  %lu sent, %u received\n", count,
		icmp_ping.received - before);
}
