/*
 * if_ether.c - Ethernet II framing: the stack's entry from the drivers.
 *
 * ether_input runs in the driver's thread (or a test's), like DragonFly's
 * ether_input_pkt: it checks the frame just enough to know where it goes,
 * counts it, and sends it -- the mbuf is the message -- to the netisr
 * that owns it:
 *
 *   ARP                       -> netisr 0 (the ARP table's master copy)
 *   IPv4, header checked      -> netisr (flow hash % ncpus)
 *   anything else, or broken  -> dropped and counted (netstat ether_*)
 *
 * ether_output prepends the header, pads short frames to the Ethernet
 * minimum and hands the frame to the interface's driver.
 */
#include <kern/types.h>
#include <kern/globaldata.h>
#include <kern/libkern.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netisr.h>
#include <net/netstat.h>

const uint8_t ether_broadcast[ETHER_ADDR_LEN] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff
};

static void arp_input_nm(struct netmsg *nm)
{
	arp_input((struct mbuf *)nm);
}

static void ip_input_nm(struct netmsg *nm)
{
	ip_input((struct mbuf *)nm);
}

/*
 * A checked IPv4 packet to the netisr that owns its flow.  For TCP and
 * UDP, count whether it arrived on that CPU already (a device that
 * steers, or luck) or must cross to another: with virtio-net's receive
 * steering (drivers/virtio_net.c) every segment and datagram should
 * arrive on the CPU of its 4-tuple.
 */
static void ether_to_netisr(struct mbuf *m)
{
	int cpu = netisr_hashcpu(ip_flow_hash(m));
	uint8_t proto = ((const struct ip *)m->m_data)->ip_p;

	if (proto == IPPROTO_TCP) {
		if (cpu == mycpuid)
			NETSTAT_INC(tcp_rx_oncpu);
		else
			NETSTAT_INC(tcp_rx_offcpu);
	} else if (proto == IPPROTO_UDP) {
		if (cpu == mycpuid)
			NETSTAT_INC(udp_rx_oncpu);
		else
			NETSTAT_INC(udp_rx_offcpu);
	}
	netisr_queue(cpu, m, ip_input_nm);
}

/* Is the frame for us: our MAC, or broadcast (marked M_BCAST)? */
static bool ether_for_us(struct ifnet *ifp, struct mbuf *m,
			 const struct ether_header *eh)
{
	if (memcmp(eh->ether_dhost, ifp->if_mac, ETHER_ADDR_LEN) == 0)
		return true;
	if (memcmp(eh->ether_dhost, ether_broadcast, ETHER_ADDR_LEN) == 0) {
		m->m_flags |= M_BCAST;
		return true;
	}
	return false;
}

void ether_input(struct ifnet *ifp, struct mbuf *m)
{
	const struct ether_header *eh;
	uint16_t type;

	NETSTAT_INC(ether_in);
	if (!netisr_running()) {	/* a frame before the stack is up */
		NETSTAT_INC(ether_nostack);
		goto drop;
	}
	if (!m_flatten(m) || m->m_len < ETHER_HDR_LEN) {
		NETSTAT_INC(ether_runt);
		goto drop;
	}
	eh = (const struct ether_header *)m->m_data;
	if (!ether_for_us(ifp, m, eh)) {
		NETSTAT_INC(ether_notme);
		goto drop;
	}
	type = ntohs(eh->ether_type);
	m->m_ifp = ifp;
	if_count_in(ifp, m->m_len);
	m_adj(m, ETHER_HDR_LEN);
	if (type == ETHERTYPE_ARP) {
		netisr_queue(0, m, arp_input_nm);
	} else if (type == ETHERTYPE_IP) {
		if (!ip_check(m))
			goto drop;	/* counted by ip_check */
		ether_to_netisr(m);
	} else {
		NETSTAT_INC(ether_badtype);
		goto drop;
	}
	return;
drop:
	m_freem(m);
}

void ether_output(struct ifnet *ifp, struct mbuf *m, const uint8_t *dst,
		  uint16_t type)
{
	struct ether_header *eh = m_prepend(m, ETHER_HDR_LEN);
	static const uint8_t zeros[ETHER_MIN_LEN];

	if (eh == NULL) {
		NETSTAT_INC(ether_nomem);
		m_freem(m);
		return;
	}
	memcpy(eh->ether_dhost, dst, ETHER_ADDR_LEN);
	memcpy(eh->ether_shost, ifp->if_mac, ETHER_ADDR_LEN);
	eh->ether_type = htons(type);
	/* Pad to the minimum frame; the padding is not part of the IP
	 * datagram (the receiver trims by the IP length). */
	if (m->m_len < ETHER_MIN_LEN)
		m_append(m, zeros, ETHER_MIN_LEN - m->m_len);
	NETSTAT_INC(ether_out);
	if_count_out(ifp, m->m_len);
	ifp->if_output(ifp, m);
}
