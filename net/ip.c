/*
 * ip.c - IPv4 (RFC 791, RFC 1122 3.2.1): checks, demultiplexing, output,
 * and the Internet checksum (RFC 1071).
 *
 * Input happens in two places.  ip_check runs where the frame arrived
 * (the driver's thread, in ether_input): it verifies everything the
 * header claims -- version, header length, checksum, total length --
 * trims the Ethernet padding, drops fragments (this stack does not
 * reassemble; each is counted as ip_fragdrop) and datagrams not for us.
 * Only a checked header is trusted to pick the owning CPU (ip_flow_hash).
 * ip_input then runs on that CPU's netisr and hands the payload to ICMP,
 * UDP or TCP.
 *
 * Output fills in what every datagram shares (version, length, id, TTL,
 * checksum), finds the interface (net/if.c) and lets ARP find the next
 * hop's address.  A datagram to one of our own addresses never touches a
 * device: it is queued to the netisr that owns its flow (the loopback).
 */
#include <kern/types.h>
#include <kern/globaldata.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netisr.h>
#include <net/netstat.h>

static uint16_t ip_ids[MAXCPU];		/* per CPU: the next datagram id */

/* ---- the Internet checksum ---------------------------------------------- */

uint32_t in_cksum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t acc = sum;

	/* Four bytes a step: a 32-bit big-endian word is two 16-bit words,
	 * and since 2^16 = 1 modulo 0xffff their sum folds to the same
	 * one's complement sum (RFC 1071 2(B), "parallel summation"). */
	while (len >= 4) {
		uint32_t w;

		__builtin_memcpy(&w, b, 4);	/* inlined: one load */
		acc += ntohl(w);
		b += 4;
		len -= 4;
	}
	/* Then 16-bit words; an odd last byte is padded with a zero (RFC
	 * 1071 4.1).  64 bits of accumulator cannot overflow. */
	while (len >= 2) {
		acc += (uint32_t)b[0] << 8 | b[1];
		b += 2;
		len -= 2;
	}
	if (len)
		acc += (uint32_t)b[0] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint32_t)acc;
}

/* The checksum field holds the complement of the folded sum, in network
 * order.  Checking a received header sums it with its checksum field:
 * the result is 0xffff, whose complement is 0. */
uint16_t in_cksum_fin(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Sum and finish in one step: what headers without a pseudo-header use. */
uint16_t in_cksum(const void *p, size_t len)
{
	return in_cksum_fin(in_cksum_add(0, p, len));
}

/*
 * TCP and UDP checksums also cover a pseudo-header (RFC 9293 3.1):
 *   source address, destination address, zero, protocol, L4 length
 * so a segment delivered to the wrong host or protocol fails the check.
 */
uint32_t in_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len)
{
	/* Each address is two 16-bit words; zero and protocol make one. */
	uint64_t acc = (uint64_t)ntohl(src) + ntohl(dst) + proto + len;

	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint32_t)acc;
}

/* ---- input ------------------------------------------------------------- */

/* Count reason and say no. */
#define IP_REJECT(reason)	({ NETSTAT_INC(reason); false; })

bool ip_check(struct mbuf *m)
{
	struct ip *ip = (struct ip *)m->m_data;
	uint32_t hlen, len;

	NETSTAT_INC(ip_in);
	if (m->m_len < sizeof(struct ip))
		return IP_REJECT(ip_badhlen);
	if (ip->ip_vhl >> 4 != 4)
		return IP_REJECT(ip_badver);
	hlen = (ip->ip_vhl & 0xf) * 4u;
	if (hlen < sizeof(struct ip) || hlen > m->m_len)
		return IP_REJECT(ip_badhlen);
	if (in_cksum(ip, hlen) != 0)
		return IP_REJECT(ip_badsum);
	len = ntohs(ip->ip_len);
	if (len < hlen || len > m->m_len)
		return IP_REJECT(ip_badlen);
	m->m_len = len;			/* drop the Ethernet padding */
	if (ntohs(ip->ip_off) & (IP_MF | IP_OFFMASK))
		return IP_REJECT(ip_fragdrop);
	if (!if_is_local(ip->ip_dst))
		return IP_REJECT(ip_notme);
	return true;
}

/*
 * The hash that picks the owning netisr.  It must be computed the same
 * way for a packet that arrives and for the socket that will own its
 * flow (net/socket.c), or the two would meet on different CPUs.
 */
/*
 * An ICMP error (unreachable, time exceeded) concerns one of our flows:
 * the datagram it quotes, which we sent.  It must reach the CPU that
 * owns that flow -- the socket to tell lives there -- so it hashes as
 * the flow's own packets do when they arrive: source and destination
 * swapped back.  The quote is not trusted yet (the ICMP checksum is
 * checked on that CPU): a damaged one only picks another CPU, whose
 * ICMP input then drops it.  False if m is no such error.
 */
static bool ip_icmp_error_hash(const struct mbuf *m, uint32_t hlen,
			       uint32_t *hash)
{
	const struct icmp *ic = (const struct icmp *)(m->m_data + hlen);
	const struct ip *q = (const struct ip *)(ic + 1);
	uint32_t qhlen;
	uint16_t ports[2];

	if (hlen + sizeof(*ic) + sizeof(*q) > m->m_len ||
	    (ic->icmp_type != ICMP_UNREACH && ic->icmp_type != ICMP_TIMXCEED))
		return false;
	qhlen = (q->ip_vhl & 0xf) * 4u;
	if (qhlen < sizeof(*q) ||
	    hlen + sizeof(*ic) + qhlen + 4 > m->m_len)
		return false;
	memcpy(ports, (const uint8_t *)q + qhlen, 4);
	if (q->ip_p != IPPROTO_TCP && q->ip_p != IPPROTO_UDP)
		return false;
	*hash = netisr_hash4(q->ip_dst, q->ip_src, ports[1], ports[0]);
	return true;
}

uint32_t ip_flow_hash(const struct mbuf *m)
{
	const struct ip *ip = (const struct ip *)m->m_data;
	uint32_t hlen = (ip->ip_vhl & 0xf) * 4u, hash;
	uint16_t ports[2] = { 0, 0 };

	if (hlen + 4 <= m->m_len)
		memcpy(ports, m->m_data + hlen, 4);
	/* TCP and UDP: the 4-tuple, the hash a device computes for RSS (a
	 * UDP datagram for an unconnected socket goes on from there to its
	 * port's CPU: udp.c).  An ICMP error: the flow it quotes.  Anything
	 * else: the address pair. */
	if (ip->ip_p == IPPROTO_TCP || ip->ip_p == IPPROTO_UDP)
		return netisr_hash4(ip->ip_src, ip->ip_dst, ports[0],
				    ports[1]);
	if (ip->ip_p == IPPROTO_ICMP && ip_icmp_error_hash(m, hlen, &hash))
		return hash;
	return netisr_hash4(ip->ip_src, ip->ip_dst, 0, 0);
}

/* On the owning netisr: the header was checked by ip_check.  Options,
 * if any, are skipped by the header length, never interpreted. */
void ip_input(struct mbuf *m)
{
	struct ip *ip = (struct ip *)m->m_data;
	uint32_t hlen = (ip->ip_vhl & 0xf) * 4u;

	switch (ip->ip_p) {
	case IPPROTO_ICMP:
		icmp_input(m, hlen);
		return;
	case IPPROTO_UDP:
		udp_input(m, hlen);
		return;
	case IPPROTO_TCP:
		tcp_input(m, hlen);
		return;
	}
	NETSTAT_INC(ip_noproto);
	m_freem(m);
}

/* ---- output ------------------------------------------------------------ */

static void ip_input_nm(struct netmsg *nm)
{
	ip_input((struct mbuf *)nm);
}

/*
 * A datagram for ourselves: to the owning netisr, no device.  Its bytes
 * never left memory, so no checksum is computed or checked on the way
 * (FreeBSD's loopback marks its packets checked in the same spirit): the
 * L4 checksum is marked valid, and the IP header's was never filled in
 * (ip_output), since ip_check, the only reader, runs on device input.
 * With one CPU there is one owner, and the flow hash is not needed.
 */
static void ip_loop(struct mbuf *m)
{
	m->m_flags |= M_CSUM_VALID;
	m->m_flags &= ~M_CSUM_OFFLOAD;
	m->m_ifp = if_find(NULL);
	netisr_queue(ncpus == 1 ? 0 : netisr_hashcpu(ip_flow_hash(m)), m,
		     ip_input_nm);
}

/*
 * Finish the L4 checksum a protocol left to the device (M_CSUM_OFFLOAD:
 * the field holds the pseudo-header's sum).  Summing the whole segment,
 * field included, gives the total; its complement is the checksum.
 */
static void ip_finish_cksum(struct mbuf *m, uint32_t hlen)
{
	uint8_t *l4 = m->m_data + hlen;
	uint16_t sum = in_cksum_fin(in_cksum_add(0, l4, m->m_len - hlen));

	if (sum == 0 && m->m_csum_offset == 6)
		sum = 0xffff;		/* UDP: 0 would mean "no checksum" */
	memcpy(l4 + m->m_csum_offset, &sum, 2);
	m->m_flags &= ~M_CSUM_OFFLOAD;
}

/* The header fields every datagram gets; src from ifp if unset. */
static void ip_fill(struct ip *ip, uint32_t len, const struct ifnet *ifp)
{
	ip->ip_vhl = 0x45;
	ip->ip_len = htons((uint16_t)len);
	ip->ip_id = htons(ip_ids[mycpuid]++);
	if (ip->ip_ttl == 0)
		ip->ip_ttl = IPDEFTTL;
	if (ip->ip_src == 0)
		ip->ip_src = ifp != NULL ? ifp->if_addr : ip->ip_dst;
	ip->ip_sum = 0;
	NETSTAT_INC(ip_out);
}

/*
 * A datagram for one of our own addresses takes the loopback, whose MTU
 * is the largest datagram IPv4 can describe (IF_LOOP_MTU, as Linux's lo
 * has 64 KiB): TCP's loopback segments are that large.  The route is
 * looked up only for a source address the sender left open.
 */
static int ip_output_local(struct mbuf *m, uint32_t len)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct ifnet *ifp = NULL;
	uint32_t nexthop;

	if (len > IF_LOOP_MTU) {
		NETSTAT_INC(ip_toobig);
		m_freem(m);
		return EMSGSIZE;
	}
	if (ip->ip_src == 0)
		ifp = if_route(ip->ip_dst, &nexthop);
	ip_fill(ip, len, ifp);
	ip_loop(m);
	return 0;
}

/*
 * The last step before the link: a datagram bigger than the MTU is
 * refused (EMSGSIZE: this stack never fragments; TCP sizes its segments
 * by the MSS), one to nowhere is refused (ENETUNREACH), and the id comes
 * from a per-CPU counter, so no two CPUs share a variable.
 * A datagram for ourselves goes to the loopback first.
 */
int ip_output(struct mbuf *m)
{
	struct ip *ip = (struct ip *)m->m_data;
	uint32_t nexthop, len = m_pktlen(m);
	struct ifnet *ifp;

	if (m->m_flags & M_RINGDATA)	/* bytes only the loopback carries */
		len += m->m_ringlen;
	if (if_is_local(ip->ip_dst) && ip->ip_dst != INADDR_BROADCAST)
		return ip_output_local(m, len);
	/* A TCP segment whose bytes wait in its sender's ring cannot leave
	 * through a device (the address it was made for is no longer
	 * ours): refused like a datagram with no route, and resent. */
	if ((m->m_flags & M_RINGDATA) ||
	    (ifp = if_route(ip->ip_dst, &nexthop)) == NULL) {
		NETSTAT_INC(ip_noroute);
		m_freem(m);
		return ENETUNREACH;
	}
	if (len > ifp->if_mtu) {
		NETSTAT_INC(ip_toobig);
		m_freem(m);
		return EMSGSIZE;
	}
	ip_fill(ip, len, ifp);
	ip->ip_sum = in_cksum(ip, sizeof(*ip));
	if (m->m_flags & M_CSUM_OFFLOAD) {
		if (ifp->if_csum_offload)	/* from the frame's start */
			m->m_csum_start = ETHER_HDR_LEN + sizeof(*ip);
		else
			ip_finish_cksum(m, sizeof(*ip));
	}
	arp_output(ifp, nexthop, m);
	return 0;
}
