/*
 * if.c - the list of interfaces, their IPv4 configuration, routing.
 *
 * Routing is what a host with one or two interfaces needs: a destination
 * inside an interface's subnet is sent there directly; anything else goes
 * to that interface's gateway, if it has one.  The configuration is
 * written only by if_set_addr, which runs the change on every netisr in
 * turn: a netisr is never in the middle of a packet when its view
 * changes, so readers need no lock.
 */
#include <kern/types.h>
#include <kern/cmdline.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/netisr.h>

static TAILQ_HEAD(, ifnet) ifnets = TAILQ_HEAD_INITIALIZER(ifnets);

/*
 * The list of interfaces is written at boot (drivers attach) and by
 * tests (the test interface comes and goes); netisrs only walk it.  A
 * test detaches only after every netisr has drained (if_detach).
 */
/* Add ifp to the list of interfaces (no address yet).  Boot or a
 * test's thread; the list is only walked by configuration and lookups
 * that tolerate a new entry appearing at the tail. */
void if_attach(struct ifnet *ifp)
{
	if (ifp->if_mtu == 0)
		ifp->if_mtu = ETHERMTU;
	TAILQ_INSERT_TAIL(&ifnets, ifp, if_link);
}

/* Run on each netisr: after it, no queued packet names the interface. */
static void if_detach_sync(struct netmsg *nm)
{
	lwkt_replymsg(&nm->nm_lmsg, 0);
}

/* Take ifp off the list, then wait until every netisr has served one
 * message: packets queued before that, which may name ifp, are gone by
 * then, and the caller may free it.  Thread context (not a netisr: it
 * waits for each of them); blocks. */
void if_detach(struct ifnet *ifp)
{
	struct netmsg nm;

	TAILQ_REMOVE(&ifnets, ifp, if_link);
	if (netisr_running())
		netisr_domsg_all(&nm, if_detach_sync);
}

/* The interface called name, or NULL.  Any thread.  A linear walk: a
 * machine has one or two interfaces. */
struct ifnet *if_find(const char *name)
{
	struct ifnet *ifp;

	TAILQ_FOREACH(ifp, &ifnets, if_link)
		if (name == NULL || strcmp(ifp->if_name, name) == 0)
			return ifp;
	return NULL;
}

/* The new configuration travels in the message. */
struct if_addr_msg {
	struct netmsg nm;
	struct ifnet *ifp;
	uint32_t addr, netmask, gateway;
};

/* On each netisr in turn: this CPU's view takes the new configuration
 * between two of its packets. */
static void if_set_addr_cpu(struct netmsg *nm)
{
	struct if_addr_msg *am = (struct if_addr_msg *)nm;

	/* Every netisr runs this once; the last one leaves it set.  The
	 * writes are the same each time, so a reader on any CPU sees either
	 * the old or the new value, and its own netisr is not running a
	 * packet meanwhile. */
	am->ifp->if_addr = am->addr;
	am->ifp->if_netmask = am->netmask;
	am->ifp->if_gateway = am->gateway;
	lwkt_replymsg(&nm->nm_lmsg, 0);
}

/*
 * Give ifp an address, netmask and gateway (0: none).  The change runs
 * on every netisr in turn; then the ARP table is emptied (entries
 * learned under the old address may no longer be on-link) and, for a
 * real address, a gratuitous ARP tells the wire who has it now (RFC
 * 5227 3).  Thread context, netisrs running; blocks until each netisr
 * has applied it.
 */
void if_set_addr(struct ifnet *ifp, uint32_t addr, uint32_t netmask,
		 uint32_t gateway)
{
	struct if_addr_msg am = { .ifp = ifp, .addr = addr,
				  .netmask = netmask, .gateway = gateway };

	KASSERT(netisr_running(), "if_set_addr: the netisrs are not up");
	netisr_domsg_all(&am.nm, if_set_addr_cpu);
	arp_flush();
	if (addr != 0)
		arp_announce(ifp);
}

/* Ours: an interface's address, its subnet's broadcast address, the
 * limited broadcast 255.255.255.255 (RFC 1122 3.3.6), or 127/8.  Then
 * ip_output loops the datagram back instead of sending it. */
bool if_is_local(uint32_t addr)
{
	struct ifnet *ifp;

	if (addr == INADDR_BROADCAST || (ntohl(addr) >> 24) == 127)
		return true;		/* 127/8 is the loopback (RFC 1122) */
	TAILQ_FOREACH(ifp, &ifnets, if_link) {
		if (ifp->if_addr == 0)
			continue;
		if (addr == ifp->if_addr ||
		    addr == (ifp->if_addr | ~ifp->if_netmask))
			return true;
	}
	return false;
}

/* The on-link interface first (next hop: addr itself); else the first
 * interface that has a gateway (a host's one default route; next hop:
 * the gateway).  NULL when none can reach addr (ENETUNREACH). */
struct ifnet *if_route(uint32_t addr, uint32_t *nexthop)
{
	struct ifnet *ifp;

	TAILQ_FOREACH(ifp, &ifnets, if_link)
		if (ifp->if_addr != 0 &&
		    ((addr ^ ifp->if_addr) & ifp->if_netmask) == 0) {
			*nexthop = addr;
			return ifp;
		}
	TAILQ_FOREACH(ifp, &ifnets, if_link)
		if (ifp->if_addr != 0 && ifp->if_gateway != 0) {
			*nexthop = ifp->if_gateway;
			return ifp;
		}
	return NULL;
}

/* ---- addresses as text ----------------------------------------------- */

/* Exactly four decimal parts of at most 255, dot-separated, nothing
 * after: "10.0.2.15" yes, "10.0.2" or "1.2.3.4x" no. */
bool inet_aton(const char *s, uint32_t *addr)
{
	uint32_t a = 0;

	for (int part = 0; part < 4; part++) {
		uint32_t v = 0;
		int digits = 0;

		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (uint32_t)(*s++ - '0');
			digits++;
		}
		if (digits == 0 || v > 255)
			return false;
		a = a << 8 | v;
		if (part < 3 && *s++ != '.')
			return false;
	}
	if (*s != '\0')
		return false;
	*addr = htonl(a);
	return true;
}

/* Network order -> "a.b.c.d" (always terminated). */
void inet_ntoa_r(uint32_t addr, char *buf, size_t size)
{
	uint32_t a = ntohl(addr);

	ksnprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff,
		  (a >> 8) & 0xff, a & 0xff);
}

/* "A.B.C.D/len" -> address and netmask; false if malformed. */
static bool parse_cidr(const char *s, uint32_t *addr, uint32_t *mask)
{
	char buf[32];
	char *slash;
	uint64_t len = 24;

	strlcpy(buf, s, sizeof(buf));
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash++ = '\0';
		if (!parse_u64(slash, strlen(slash), &len) || len > 32)
			return false;
	}
	if (!inet_aton(buf, addr))
		return false;
	*mask = len == 0 ? 0 : htonl(~0u << (32 - len));
	return true;
}

/*
 * Configure ifp from text: ip is "A.B.C.D/len" (the length defaults to
 * 24), gw "A.B.C.D" or NULL.  EINVAL (and a message naming the value)
 * if ip is malformed: ifp is left as it was.  A malformed gw is
 * reported and ignored.  Thread context; blocks (if_set_addr).
 */
int if_config(struct ifnet *ifp, const char *ip, const char *gw)
{
	uint32_t addr, mask, gwaddr = 0;

	KASSERT(ifp != NULL && ip != NULL, "if_config: no interface or no "
		"address given; the caller checks both");
	if (!parse_cidr(ip, &addr, &mask)) {
		kprintf("net: ip=%s is not A.B.C.D/len; %s left unconfigured\n",
			ip, ifp->if_name);
		return EINVAL;
	}
	if (gw != NULL && !inet_aton(gw, &gwaddr)) {
		kprintf("net: gw=%s is not A.B.C.D; no gateway\n", gw);
		gwaddr = 0;
	}
	if_set_addr(ifp, addr, mask, gwaddr);
	return 0;
}

/* ip=... and gw=... on the kernel command line configure the first
 * interface at boot (if_config); a malformed value is reported and the
 * machine still boots. */
void if_config_cmdline(void)
{
	struct ifnet *ifp = if_find(NULL);
	char ip[40], gw[40];

	if (ifp == NULL || !cmdline_get("ip", ip, sizeof(ip)))
		return;
	if_config(ifp, ip, cmdline_get("gw", gw, sizeof(gw)) ? gw : NULL);
}

/* ---- counters --------------------------------------------------------- */

/*
 * Interface counters, like netstat's: each CPU bumps only its own slot,
 * readers sum the slots (if_get_counters).  One incq or addq each, with
 * no lock prefix: only threads on this CPU write the slot (a thread
 * changes CPU only when it asks to, lwkt_migratecpu), and an interrupt
 * cannot split a single instruction, so a preempted driver thread loses
 * no count.  A reader on another CPU may see a sum a packet old, never a
 * torn one.
 */

/* A frame received on ifp, of bytes bytes (header included). */
void if_count_in(struct ifnet *ifp, uint32_t bytes)
{
	struct if_counters *c = &ifp->if_cnt[mycpuid];

	__asm__ volatile("incq %0" : "+m"(c->ipackets));
	__asm__ volatile("addq %1, %0" : "+m"(c->ibytes) : "r"((uint64_t)bytes));
}

/* A frame handed to ifp's driver, of bytes bytes. */
void if_count_out(struct ifnet *ifp, uint32_t bytes)
{
	struct if_counters *c = &ifp->if_cnt[mycpuid];

	__asm__ volatile("incq %0" : "+m"(c->opackets));
	__asm__ volatile("addq %1, %0" : "+m"(c->obytes) : "r"((uint64_t)bytes));
}

/* The sum of every CPU's slot into c.  Any thread; no lock (above). */
void if_get_counters(struct ifnet *ifp, struct if_counters *c)
{
	memset(c, 0, sizeof(*c));
	for (int cpu = 0; cpu < MAXCPU; cpu++) {
		c->ipackets += ifp->if_cnt[cpu].ipackets;
		c->opackets += ifp->if_cnt[cpu].opackets;
		c->ibytes += ifp->if_cnt[cpu].ibytes;
		c->obytes += ifp->if_cnt[cpu].obytes;
		c->ierrors += ifp->if_cnt[cpu].ierrors;
		c->oerrors += ifp->if_cnt[cpu].oerrors;
	}
}

/* ifconfig without arguments: what each interface is and has done. */
void if_print_all(void)
{
	struct ifnet *ifp;
	struct if_counters c;
	char a[16], m[16], g[16];

	TAILQ_FOREACH(ifp, &ifnets, if_link) {
		const uint8_t *e = ifp->if_mac;

		inet_ntoa_r(ifp->if_addr, a, sizeof(a));
		inet_ntoa_r(ifp->if_netmask, m, sizeof(m));
		inet_ntoa_r(ifp->if_gateway, g, sizeof(g));
		if_get_counters(ifp, &c);
		kprintf("%s: ether %02x:%02x:%02x:%02x:%02x:%02x mtu %u link "
			"%s%s\n", ifp->if_name, e[0], e[1], e[2], e[3], e[4],
			e[5], ifp->if_mtu, ifp->if_link_up ? "up" : "down",
			ifp->if_csum_offload ? " csum-offload" : "");
		kprintf("  inet %s netmask %s gateway %s\n", a, m, g);
		kprintf("  in %lu packets %lu bytes, out %lu packets %lu bytes, "
			"%lu in-errors, %lu out-errors\n", c.ipackets, c.ibytes,
			c.opackets, c.obytes, c.ierrors, c.oerrors);
	}
}
