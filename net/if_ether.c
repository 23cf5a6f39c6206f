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
 *
 * The frame (Ethernet II, "DIX"), as the driver hands it over, without
 * preamble or CRC (the device strips and checks those):
 *
 *   0             6             12     14
 *   | destination | source      | type | payload (46 to 1,500 bytes)
 *
 * A type of 0x0806 is ARP, 0x0800 IPv4; a payload under 46 bytes is
 * padded to it on output (ETHER_MIN_LEN: 60 bytes without the CRC).
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

/* The netisr handlers of a received frame: the mbuf is the message
 * (it begins with its netmsg), so the cast gives back the packet. */
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

/*
 * A frame from ifp's driver (or a test), with the Ethernet header at
 * m_data.  Checked just enough to route it: the stack is up, the header
 * is there, the frame is for our MAC or broadcast, the type is ARP or
 * IPv4 (IPv4's header is checked here too, so a broken one never
 * crosses CPUs).  Then it is queued, header stripped, on the netisr
 * that owns it; anything else is counted and freed.  Consumes m.  In
 * the driver's thread, any CPU; never blocks.
 */
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

/* Send the packet in m to the MAC dst as a frame of the given type:
 * the header prepended (in the cluster's headroom), the frame padded to
 * the minimum, counted, and handed to the driver, which frees it once
 * sent.  Consumes m (freed and counted if no room for the header).  On
 * a netisr; never blocks. */
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
