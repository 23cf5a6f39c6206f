/*
 * if_arp.c - ARP (RFC 826): IPv4 address -> Ethernet address.
 *
 * Every CPU keeps its own copy of the table, so an output on any netisr
 * resolves with a lookup in its own memory: no lock, no message.  The
 * copies change only by message:
 *
 *   netisr 0 owns the protocol: it receives every ARP frame (ether_input
 *   sends them there), answers requests for our address, and learns; a
 *   learnt entry goes into its table and, by an update message, into
 *   every other CPU's.
 *
 *   A miss on CPU k forwards the packet to netisr 0, which holds it (one
 *   packet per address, RFC 1122 2.3.2.2: a newer one replaces it),
 *   sends a request at most once a second, and gives up after
 *   ARP_MAXTRIES requests (the held packet is dropped and counted).
 *   When the reply comes, the held packet goes out from CPU 0.
 *
 * The merge rule (RFC 826): a frame whose sender is already in the table
 * refreshes it even when the request is for someone else; a request for
 * us adds its sender.  Entries live ARP_LIFETIME; an expired entry is a
 * miss and is resolved again.  The table is small and scanned linearly:
 * a host talks to a handful of neighbours.
 *
 * The frame (RFC 826, for Ethernet and IPv4: 28 bytes after the
 * Ethernet header):
 *
 *   0 hrd (1)  2 pro (0x0800)  4 hln (6)  5 pln (4)  6 op (1 request,
 *   2 reply)  8 sha[6]  14 spa[4]  18 tha[6]  24 tpa[4]
 *
 * Why a copy per CPU rather than one shared table: output happens on
 * every netisr, once per packet, and a shared table would need a lock
 * or a message on that path; updates are rare (a neighbour appears or
 * its entry is refreshed) and can afford a message to every CPU.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/timeout.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netisr.h>
#include <net/netstat.h>

MALLOC_DEFINE(M_ARP, "arp", "ARP table updates");

#define ARP_ENTRIES	64		/* per CPU */
#define ARP_PENDING	16		/* addresses being resolved (CPU 0) */
#define ARP_LIFETIME	(300 * HZ)	/* how long an entry is believed */
#define ARP_RETRY	HZ		/* at most one request a second */
#define ARP_MAXTRIES	3

struct arp_entry {
	uint32_t addr;			/* 0: free slot */
	uint8_t mac[ETHER_ADDR_LEN];
	uint64_t expire;		/* in ticks */
};

/* One CPU's copy: touched only by that CPU's netisr. */
struct arp_table {
	struct arp_entry e[ARP_ENTRIES];
} __aligned(CACHE_LINE_SIZE);

/* An address being resolved: netisr 0 only. */
struct arp_pending {
	uint32_t addr;			/* 0: free */
	struct ifnet *ifp;
	struct mbuf *held;		/* the newest packet waiting */
	int tries;
	uint64_t next_request;		/* ticks */
};

/* An update travelling to another CPU's copy. */
struct arp_update {
	struct netmsg nm;
	struct arp_entry entry;
};

static struct arp_table arp_tables[MAXCPU];
static struct arp_pending arp_pending[ARP_PENDING];
static struct callout arp_timer;	/* CPU 0: retries */
static struct netmsg arp_timer_msg;	/* the timer's message to netisr 0 */
static struct lwkt_port arp_update_rport;	/* replies free updates */

/* ---- the per-CPU tables ------------------------------------------------- */

/* The entry for addr in table t, live or expired, or NULL. */
static struct arp_entry *arp_find(struct arp_table *t, uint32_t addr)
{
	for (int i = 0; i < ARP_ENTRIES; i++)
		if (t->e[i].addr == addr)
			return &t->e[i];
	return NULL;
}

/* Put e into this CPU's table: its slot, a free one, or the oldest. */
static void arp_store(const struct arp_entry *e)
{
	struct arp_table *t = &arp_tables[mycpuid];
	struct arp_entry *slot = arp_find(t, e->addr);

	for (int i = 0; slot == NULL && i < ARP_ENTRIES; i++)
		if (t->e[i].addr == 0 || t->e[i].expire < ticks)
			slot = &t->e[i];
	if (slot == NULL) {
		slot = &t->e[0];
		for (int i = 1; i < ARP_ENTRIES; i++)
			if (t->e[i].expire < slot->expire)
				slot = &t->e[i];
	}
	*slot = *e;
}

/* The MAC of addr from this CPU's copy only: true and *mac set on a
 * hit.  An entry past its lifetime is a miss, so the caller resolves it
 * again.  On a netisr (its own copy: no lock); never blocks. */
bool arp_lookup(uint32_t addr, uint8_t *mac)
{
	struct arp_entry *e = arp_find(&arp_tables[mycpuid], addr);

	if (e == NULL || e->expire < ticks)
		return false;
	memcpy(mac, e->mac, ETHER_ADDR_LEN);
	return true;
}

/* On each other netisr: store the entry netisr 0 learnt.  The message
 * was allocated for the trip; its reply (arp_update_free) frees it. */
static void arp_update_cpu(struct netmsg *nm)
{
	arp_store(&((struct arp_update *)nm)->entry);
	lwkt_replymsg(&nm->nm_lmsg, 0);
}

/* The reply port's function: an update that did its trip is freed on
 * the CPU that took the reply, whichever it is (kfree may free a chunk
 * another CPU allocated). */
static void arp_update_free(lwkt_port_t port __unused, lwkt_msg_t msg)
{
	kfree(msg, M_ARP);
}

/* Netisr 0 learnt addr: its own copy now, the others by message.  A
 * CPU whose update could not be allocated keeps its old view: on a miss
 * it forwards the packet here, where the entry is found. */
static void arp_learn(uint32_t addr, const uint8_t *mac)
{
	struct arp_entry e = { .addr = addr, .expire = ticks + ARP_LIFETIME };

	memcpy(e.mac, mac, ETHER_ADDR_LEN);
	arp_store(&e);
	for (int cpu = 1; cpu < ncpus; cpu++) {
		struct arp_update *u = kmalloc(sizeof(*u), M_ARP, M_NOWAIT);

		if (u == NULL)
			continue;	/* that CPU will ask again on a miss */
		u->entry = e;
		netmsg_init(&u->nm, &arp_update_rport, arp_update_cpu);
		lwkt_sendmsg(netisr_port(cpu), &u->nm.nm_lmsg);
	}
}

/* ---- frames --------------------------------------------------------------- */

/* Send an ARP frame of operation op about target tpa to the MAC dst:
 * we are the sender (our MAC and address), tha is the target's MAC
 * (NULL: unknown, zeros, as in a request).  Without a buffer nothing is
 * sent: a request is retried by the timer, a reply by the asker. */
static void arp_send(struct ifnet *ifp, uint16_t op, uint32_t tpa,
		     const uint8_t *tha, const uint8_t *dst)
{
	struct mbuf *m = m_get();
	struct arphdr *ah;

	if (m == NULL)
		return;
	ah = (struct arphdr *)m->m_data;
	m->m_len = sizeof(*ah);
	ah->ar_hrd = htons(ARPHRD_ETHER);
	ah->ar_pro = htons(ETHERTYPE_IP);
	ah->ar_hln = ETHER_ADDR_LEN;
	ah->ar_pln = 4;
	ah->ar_op = htons(op);
	memcpy(ah->ar_sha, ifp->if_mac, ETHER_ADDR_LEN);
	ah->ar_spa = ifp->if_addr;
	if (tha != NULL)
		memcpy(ah->ar_tha, tha, ETHER_ADDR_LEN);
	else
		memset(ah->ar_tha, 0, ETHER_ADDR_LEN);
	ah->ar_tpa = tpa;
	ether_output(ifp, m, dst, ETHERTYPE_ARP);
}

/* A gratuitous ARP (RFC 5227 calls it an announcement): a request for
 * our own address, so neighbours that know us refresh their entry. */
void arp_announce(struct ifnet *ifp)
{
	NETSTAT_INC(arp_gratuitous);
	arp_send(ifp, ARPOP_REQUEST, ifp->if_addr, NULL, ether_broadcast);
}

/* Is this a well-formed IPv4-over-Ethernet ARP frame: all 28 bytes
 * there, hardware Ethernet with 6-byte addresses, protocol IPv4 with
 * 4-byte ones, and a request or a reply?  (RFC 826 lets other
 * hardware and protocols share the format; we speak only these.) */
static bool arp_valid(const struct mbuf *m, const struct arphdr *ah)
{
	uint16_t op;

	if (m->m_len < sizeof(*ah))
		return false;
	op = ntohs(ah->ar_op);
	return ntohs(ah->ar_hrd) == ARPHRD_ETHER &&
	       ntohs(ah->ar_pro) == ETHERTYPE_IP &&
	       ah->ar_hln == ETHER_ADDR_LEN && ah->ar_pln == 4 &&
	       (op == ARPOP_REQUEST || op == ARPOP_REPLY);
}

/* Send the packet held for addr, now that it resolved, and free its
 * pending slot (the request timer finds nothing left to ask). */
static void arp_release(uint32_t addr, const uint8_t *mac)
{
	for (int i = 0; i < ARP_PENDING; i++) {
		struct arp_pending *p = &arp_pending[i];

		if (p->addr != addr)
			continue;
		if (p->held != NULL)
			ether_output(p->ifp, p->held, mac, ETHERTYPE_IP);
		memset(p, 0, sizeof(*p));
	}
}

/* An ARP frame (Ethernet header stripped), on netisr 0: checked,
 * learnt from by the merge rule, answered if it asks for us, and the
 * held packet released if it resolves an address we wait for.
 * Consumes m. */
void arp_input(struct mbuf *m)
{
	struct arphdr *ah = (struct arphdr *)m->m_data;
	struct ifnet *ifp = m->m_ifp;
	bool for_us;

	KASSERT(netisr_on(0), "arp_input: ARP belongs to netisr 0");
	NETSTAT_INC(arp_in);
	if (!arp_valid(m, ah) || ah->ar_sha[0] & 1) {	/* group MAC */
		NETSTAT_INC(arp_bad);
		goto out;
	}
	if (ntohs(ah->ar_op) == ARPOP_REQUEST)
		NETSTAT_INC(arp_request_in);
	else
		NETSTAT_INC(arp_reply_in);
	for_us = ifp->if_addr != 0 && ah->ar_tpa == ifp->if_addr;
	/* Learn the sender: always if the frame is for us (RFC 826's merge
	 * and add), else only refresh an entry we have. */
	if (ah->ar_spa != 0 && ah->ar_spa != ifp->if_addr &&
	    (for_us || arp_find(&arp_tables[0], ah->ar_spa) != NULL)) {
		arp_learn(ah->ar_spa, ah->ar_sha);
		arp_release(ah->ar_spa, ah->ar_sha);
	}
	if (for_us && ntohs(ah->ar_op) == ARPOP_REQUEST) {
		NETSTAT_INC(arp_reply_out);
		arp_send(ifp, ARPOP_REPLY, ah->ar_spa, ah->ar_sha,
			 ah->ar_sha);
	}
out:
	m_freem(m);
}

/* ---- resolving ------------------------------------------------------------ */

static void arp_tick(struct netmsg *nm);

/* The callout (softclock) only sends the timer message: the pending list
 * is netisr 0's.  A message still out means a tick is already coming. */
static void arp_timer_fire(void *arg __unused)
{
	if (lwkt_checkmsg(&arp_timer_msg.nm_lmsg))
		lwkt_sendmsg(netisr_port(0), &arp_timer_msg.nm_lmsg);
}

/* Make sure a tick comes within ARP_RETRY (one callout, shared by all
 * pending addresses; arp_tick re-arms it while any is left). */
static void arp_timer_arm(void)
{
	if (!callout_pending(&arp_timer))
		callout_reset(&arp_timer, ARP_RETRY, arp_timer_fire, NULL);
}

/* Ask who has p->addr (broadcast), and come back in a second. */
static void arp_request(struct arp_pending *p)
{
	p->tries++;
	p->next_request = ticks + ARP_RETRY;
	NETSTAT_INC(arp_request_out);
	arp_send(p->ifp, ARPOP_REQUEST, p->addr, NULL, ether_broadcast);
	arp_timer_arm();
}

/* The pending slot for addr, or a free one, or NULL when all are busy. */
static struct arp_pending *arp_pending_get(uint32_t addr)
{
	struct arp_pending *free = NULL;

	for (int i = 0; i < ARP_PENDING; i++) {
		if (arp_pending[i].addr == addr)
			return &arp_pending[i];
		if (arp_pending[i].addr == 0 && free == NULL)
			free = &arp_pending[i];
	}
	return free;
}

/* Netisr 0: a packet whose next hop missed in its CPU's table.  CPU
 * 0's own copy may know it already (an update still travelling to the
 * CPU that missed): then it goes out at once.  Else it is held, the
 * newest packet per address (RFC 1122 2.3.2.2), and the first packet
 * for an address sends its first request.  No slot free: dropped and
 * counted (arp_hold_dropped), as is a held packet a newer one replaced. */
static void arp_hold(struct netmsg *nm)
{
	struct mbuf *m = (struct mbuf *)nm;
	uint8_t mac[ETHER_ADDR_LEN];
	struct arp_pending *p;

	if (arp_lookup(m->m_nexthop, mac)) {
		ether_output(m->m_ifp, m, mac, ETHERTYPE_IP);
		return;
	}
	if ((p = arp_pending_get(m->m_nexthop)) == NULL) {
		NETSTAT_INC(arp_hold_dropped);
		m_freem(m);
		return;
	}
	if (p->held != NULL) {		/* one packet per address */
		NETSTAT_INC(arp_hold_dropped);
		m_freem(p->held);
	}
	p->held = m;
	if (p->addr == 0) {
		p->addr = m->m_nexthop;
		p->ifp = m->m_ifp;
		arp_request(p);
	}
}

/*
 * The output path of every IP datagram: broadcast needs no lookup; a hit
 * in this CPU's copy goes straight to the link; a miss travels to netisr
 * 0 (m_nexthop says for whom), which holds it while it asks.  Consumes
 * m.  On a netisr (ip_output's); never blocks.
 */
void arp_output(struct ifnet *ifp, uint32_t nexthop, struct mbuf *m)
{
	uint8_t mac[ETHER_ADDR_LEN];

	if (nexthop == INADDR_BROADCAST ||
	    nexthop == (ifp->if_addr | ~ifp->if_netmask)) {
		ether_output(ifp, m, ether_broadcast, ETHERTYPE_IP);
		return;
	}
	if (arp_lookup(nexthop, mac)) {
		ether_output(ifp, m, mac, ETHERTYPE_IP);
		return;
	}
	m->m_ifp = ifp;
	m->m_nexthop = nexthop;
	netisr_queue(0, m, arp_hold);
}

/* Netisr 0, once a second while addresses are pending: ask again, or
 * give up and drop the held packet. */
static void arp_tick(struct netmsg *nm)
{
	bool any = false;

	for (int i = 0; i < ARP_PENDING; i++) {
		struct arp_pending *p = &arp_pending[i];

		if (p->addr == 0)
			continue;
		if (ticks < p->next_request) {
			any = true;
		} else if (p->tries >= ARP_MAXTRIES) {
			NETSTAT_INC(arp_timeout);
			if (p->held != NULL) {
				NETSTAT_INC(arp_hold_dropped);
				m_freem(p->held);
			}
			memset(p, 0, sizeof(*p));
		} else {
			arp_request(p);
			any = true;
		}
	}
	lwkt_replymsg(&nm->nm_lmsg, 0);
	if (any)
		arp_timer_arm();
}

/* Empty tables and the retry timer.  Boot, before the netisrs start. */
void arp_init(void)
{
	callout_init(&arp_timer);
	lwkt_initport_replyonly(&arp_update_rport, arp_update_free);
	netmsg_init(&arp_timer_msg, netisr_done_port(), arp_tick);
}

/* Each netisr empties its copy; netisr 0 drops what it held too. */
static void arp_flush_cpu(struct netmsg *nm)
{
	memset(&arp_tables[mycpuid], 0, sizeof(arp_tables[0]));
	if (mycpuid == 0)
		for (int i = 0; i < ARP_PENDING; i++) {
			m_freem(arp_pending[i].held);
			memset(&arp_pending[i], 0, sizeof(arp_pending[i]));
		}
	lwkt_replymsg(&nm->nm_lmsg, 0);
}

/* Forget everything on every CPU (tests start from an empty table).
 * Thread context, not a netisr: it waits for each. */
void arp_flush(void)
{
	struct netmsg nm;

	netisr_domsg_all(&nm, arp_flush_cpu);
}

/* The shell's arp: the entries of CPU 0's copy (the master: every other
 * copy holds a subset of it), and what is being resolved.  Read without
 * a message, so a line may be a tick stale; it is only printed. */
void arp_print(void)
{
	char a[16];

	for (int i = 0; i < ARP_ENTRIES; i++) {
		const struct arp_entry *e = &arp_tables[0].e[i];

		if (e->addr == 0)
			continue;
		inet_ntoa_r(e->addr, a, sizeof(a));
		kprintf("  %-15s %02x:%02x:%02x:%02x:%02x:%02x  %s\n", a,
			e->mac[0], e->mac[1], e->mac[2], e->mac[3], e->mac[4],
			e->mac[5], e->expire < ticks ? "expired" : "");
	}
	for (int i = 0; i < ARP_PENDING; i++)
		if (arp_pending[i].addr != 0) {
			inet_ntoa_r(arp_pending[i].addr, a, sizeof(a));
			kprintf("  %-15s (incomplete, %d requests)\n", a,
				arp_pending[i].tries);
		}
}
