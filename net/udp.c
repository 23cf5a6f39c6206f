/*
 * udp.c - UDP (RFC 768): datagrams to and from sockets.
 *
 * A UDP socket is owned by the netisr its local port hashes to (see
 * ip_flow_hash): every datagram for that port arrives there, whoever sent
 * it, and the socket's calls run there too.  Input checks the length and
 * the checksum (0 means "none", RFC 768), then appends the datagram to the
 * bound socket's receive queue, or answers ICMP port unreachable.
 */
#include <kern/types.h>
#include <kern/libkern.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netstat.h>

/* Hand the datagram to the socket bound to its port: none yet. */
static bool udp_deliver(struct mbuf *m __unused, uint32_t hlen __unused,
			uint32_t ulen __unused)
{
	return false;
}

/* An ICMP error about a datagram we sent: no sockets to tell yet. */
void udp_ctlinput(const struct ip *ip __unused, uint32_t len __unused,
		  int error __unused)
{
}

/* On the netisr that owns the destination port.  A checksum of zero
 * means the sender computed none (RFC 768); a device that checked it
 * already set M_CSUM_VALID. */
void udp_input(struct mbuf *m, uint32_t hlen)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct udphdr *uh = (struct udphdr *)(m->m_data + hlen);
	uint32_t len = ntohs(ip->ip_len) - hlen;
	uint32_t ulen;

	NETSTAT_INC(udp_in);
	if (len < sizeof(*uh) || (ulen = ntohs(uh->uh_ulen)) < sizeof(*uh) ||
	    ulen > len) {
		NETSTAT_INC(udp_badlen);
		goto drop;
	}
	if (uh->uh_sum != 0 && !(m->m_flags & M_CSUM_VALID) &&
	    in_cksum_fin(in_cksum_add(in_pseudo(ip->ip_src, ip->ip_dst,
						IPPROTO_UDP, (uint16_t)ulen),
				      uh, ulen)) != 0) {
		NETSTAT_INC(udp_badsum);
		goto drop;
	}
	if (udp_deliver(m, hlen, ulen))
		return;
	NETSTAT_INC(udp_noport);
	icmp_error(m, ICMP_UNREACH, ICMP_UNREACH_PORT);
drop:
	m_freem(m);
}
