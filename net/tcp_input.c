/*
 * tcp_input.c - TCP segments arriving (RFC 9293 3.10.7).
 *
 * Every segment is checked before its fields are believed: the header
 * fits, the data offset lies inside the segment, the checksum (over the
 * pseudo-header, RFC 9293 3.1) is right.  A segment for no connection
 * gets a reset (RFC 9293 3.10.7.1), unless it is a reset itself.
 */
#include <kern/types.h>
#include <kern/libkern.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netstat.h>

/* Check the segment in m; false (counted) if it must be dropped. */
static bool tcp_check(struct mbuf *m, uint32_t hlen)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct tcphdr *th = (struct tcphdr *)(m->m_data + hlen);
	uint32_t len = ntohs(ip->ip_len) - hlen;
	uint32_t off;

	if (len < sizeof(*th)) {
		NETSTAT_INC(tcp_badlen);
		return false;
	}
	off = (th->th_off >> 4) * 4u;
	if (off < sizeof(*th) || off > len) {
		NETSTAT_INC(tcp_badoff);
		return false;
	}
	if (!(m->m_flags & M_CSUM_VALID) &&
	    in_cksum_fin(in_cksum_add(in_pseudo(ip->ip_src, ip->ip_dst,
						IPPROTO_TCP, (uint16_t)len),
				      th, len)) != 0) {
		NETSTAT_INC(tcp_badsum);
		return false;
	}
	return true;
}

/*
 * Answer the segment in m (no connection wants it) with a reset, built
 * in m itself (RFC 9293 3.10.7.1): with ACK set, <SEQ=SEG.ACK><RST>;
 * else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK>.  Consumes m.
 */
static void tcp_reset_reply(struct mbuf *m, uint32_t hlen)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct tcphdr th = *(struct tcphdr *)(m->m_data + hlen), *nth;
	uint32_t seglen = ntohs(ip->ip_len) - hlen - (th.th_off >> 4) * 4u;
	uint32_t src = ip->ip_src, dst = ip->ip_dst;

	if (th.th_flags & TH_RST || ip->ip_dst == INADDR_BROADCAST ||
	    m->m_flags & M_BCAST) {
		m_freem(m);
		return;
	}
	seglen += (th.th_flags & TH_SYN ? 1 : 0) + (th.th_flags & TH_FIN ? 1 : 0);
	m->m_len = sizeof(struct ip) + sizeof(struct tcphdr);
	memset(ip, 0, sizeof(*ip));
	ip->ip_src = dst;
	ip->ip_dst = src;
	ip->ip_p = IPPROTO_TCP;
	nth = (struct tcphdr *)(ip + 1);
	memset(nth, 0, sizeof(*nth));
	nth->th_sport = th.th_dport;
	nth->th_dport = th.th_sport;
	nth->th_off = 5 << 4;
	if (th.th_flags & TH_ACK) {
		nth->th_seq = th.th_ack;
		nth->th_flags = TH_RST;
	} else {
		nth->th_ack = htonl(ntohl(th.th_seq) + seglen);
		nth->th_flags = TH_RST | TH_ACK;
	}
	nth->th_sum = in_cksum_fin(in_cksum_add(in_pseudo(dst, src,
		IPPROTO_TCP, sizeof(*nth)), nth, sizeof(*nth)));
	NETSTAT_INC(tcp_rst_out);
	ip_output(m);
}

/* A segment on the netisr its 4-tuple hashes to.  No port is open yet:
 * after the checks, every segment is answered with a reset. */
void tcp_input(struct mbuf *m, uint32_t hlen)
{
	NETSTAT_INC(tcp_in);
	if (!tcp_check(m, hlen)) {
		m_freem(m);
		return;
	}
	NETSTAT_INC(tcp_noport);
	tcp_reset_reply(m, hlen);
}

/* An ICMP error about a segment we sent: no connections to tell yet. */
void tcp_ctlinput(const struct ip *ip __unused, uint32_t len __unused,
		  int error __unused)
{
}
