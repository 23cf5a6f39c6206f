/*
 * icmp.c - ICMP (RFC 792, RFC 1122 3.2.2): echo, errors out, errors in.
 *
 * An echo request is answered in place: the same buffer, addresses
 * swapped, type changed, checksum recomputed -- every byte of id,
 * sequence and data goes back as it came.  Errors we send (port
 * unreachable) quote the offending IP header and its first 8 data bytes,
 * and are never sent about an ICMP error, a broadcast or a fragment (RFC
 * 1122 3.2.2), nor more often than ICMP_ERRORS_PER_SEC per CPU.  Errors
 * we receive are passed to UDP or TCP, which tell the socket.
 *
 * Echo replies to our own pings (the shell's ping) are counted in
 * icmp_ping, which the pinging thread watches.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/libkern.h>
#include <kern/synch.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/icmp_var.h>
#include <net/mbuf.h>
#include <net/netisr.h>
#include <net/netstat.h>

#define ICMP_ERRORS_PER_SEC	100
#define ICMP_QUOTE		8	/* data bytes quoted after the header */

struct icmp_ping icmp_ping;

/* Per CPU: errors sent in the current second (rate limit). */
static struct {
	uint64_t second;
	int sent;
} icmp_rate[MAXCPU];

/* Turn the request in m into its reply and send it. */
static void icmp_echo_reply(struct mbuf *m, uint32_t hlen)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct icmp *ic = (struct icmp *)(m->m_data + hlen);
	uint32_t len = ntohs(ip->ip_len) - hlen;
	uint32_t dst = ip->ip_src;

	NETSTAT_INC(icmp_echo_reply_out);
	/* Options are not echoed: the reply gets a plain header. */
	if (hlen > sizeof(struct ip)) {
		memmove(m->m_data + hlen - sizeof(struct ip), ip, sizeof(*ip));
		m_adj(m, hlen - sizeof(struct ip));
		ip = (struct ip *)m->m_data;
	}
	ic->icmp_type = ICMP_ECHOREPLY;
	ic->icmp_cksum = 0;
	ic->icmp_cksum = in_cksum(ic, len);
	ip->ip_src = ip->ip_dst;
	ip->ip_dst = dst;
	ip->ip_ttl = 0;
	ip->ip_off = 0;
	ip->ip_tos = 0;
	ip_output(m);
}

/* An error about a datagram we sent: tell the protocol that sent it. */
static void icmp_deliver_error(struct icmp *ic, uint32_t len)
{
	const struct ip *quoted = (const struct ip *)(ic + 1);
	uint32_t qlen = len - sizeof(*ic);
	int error = ic->icmp_type == ICMP_UNREACH ?
		(ic->icmp_code == ICMP_UNREACH_PORT ? ECONNREFUSED :
		 EHOSTUNREACH) : EHOSTUNREACH;

	NETSTAT_INC(icmp_error_in);
	if (qlen < sizeof(struct ip) + 8 || quoted->ip_vhl >> 4 != 4 ||
	    (quoted->ip_vhl & 0xf) * 4u + 8 > qlen)
		return;
	if (quoted->ip_p == IPPROTO_UDP)
		udp_ctlinput(quoted, qlen, error);
	else if (quoted->ip_p == IPPROTO_TCP)
		tcp_ctlinput(quoted, qlen, error);
}

/* A reply to one of our requests: count it for the pinger (whose id it
 * must carry) and wake it. */
static void icmp_got_reply(const struct icmp *ic)
{
	NETSTAT_INC(icmp_echo_reply_in);
	if (ic->icmp_id != htons(icmp_ping.id))
		return;
	icmp_ping.received++;
	icmp_ping.last_seq = ntohs(ic->icmp_seq);
	wakeup(&icmp_ping);
}

/*
 * An ICMP message for us, on the netisr that owns its address pair.
 * The length and the checksum (over the whole message, RFC 792) are
 * checked before the type is believed; an echo request is answered in
 * place, a reply goes to the pinger, an error to the socket it concerns.
 * Everything else is counted and dropped.  Consumes m.
 */
/* An ICMP message, on the netisr ip_flow_hash chose (an error goes to
 * the CPU of the flow it quotes).  Checked (length, checksum), then: an
 * echo request is answered in the same buffer, an echo reply counted
 * for ping, an error handed to the socket it concerns.  Consumes m. */
void icmp_input(struct mbuf *m, uint32_t hlen)
{
	struct ip *ip = (struct ip *)m->m_data;
	uint32_t len = ntohs(ip->ip_len) - hlen;
	struct icmp *ic = (struct icmp *)(m->m_data + hlen);

	NETSTAT_INC(icmp_in);
	if (len < sizeof(struct icmp)) {
		NETSTAT_INC(icmp_badlen);
		goto drop;
	}
	if (!(m->m_flags & M_CSUM_VALID) && in_cksum(ic, len) != 0) {
		NETSTAT_INC(icmp_badsum);
		goto drop;
	}
	switch (ic->icmp_type) {
	case ICMP_ECHO:
		NETSTAT_INC(icmp_echo_in);
		if (m->m_flags & M_BCAST || ip->ip_dst == INADDR_BROADCAST)
			goto drop;	/* no answer to broadcast pings */
		icmp_echo_reply(m, hlen);
		return;
	case ICMP_ECHOREPLY:
		icmp_got_reply(ic);
		break;
	case ICMP_UNREACH:
	case ICMP_TIMXCEED:
		icmp_deliver_error(ic, len);
		break;
	}
drop:
	m_freem(m);
}

/* May we send an error about the datagram in m?  RFC 1122 3.2.2. */
static bool icmp_error_allowed(const struct mbuf *m)
{
	const struct ip *ip = (const struct ip *)m->m_data;
	uint32_t hlen = (ip->ip_vhl & 0xf) * 4u;
	uint64_t second = ticks / HZ;

	if (m->m_flags & M_BCAST || ip->ip_dst == INADDR_BROADCAST ||
	    ip->ip_src == 0 || ip->ip_src == INADDR_BROADCAST ||
	    (ntohs(ip->ip_off) & IP_OFFMASK) != 0)
		return false;
	if (ip->ip_p == IPPROTO_ICMP && hlen + 1 <= m->m_len) {
		uint8_t type = m->m_data[hlen];

		if (type != ICMP_ECHO && type != ICMP_ECHOREPLY)
			return false;	/* never an error about an error */
	}
	if (icmp_rate[mycpuid].second != second) {
		icmp_rate[mycpuid].second = second;
		icmp_rate[mycpuid].sent = 0;
	}
	return icmp_rate[mycpuid].sent++ < ICMP_ERRORS_PER_SEC;
}

/*
 * Build the error in a fresh buffer: a plain IP header back to the
 * sender, the ICMP header, and the quote.  The original stays the
 * caller's (it frees it), so a caller may still count or log it.
 */
void icmp_error(struct mbuf *m, uint8_t type, uint8_t code)
{
	const struct ip *oip = (const struct ip *)m->m_data;
	uint32_t quote = MIN(m->m_len, (oip->ip_vhl & 0xf) * 4u + ICMP_QUOTE);
	struct mbuf *n;
	struct ip *ip;
	struct icmp *ic;

	if (!icmp_error_allowed(m) || (n = m_get()) == NULL) {
		NETSTAT_INC(icmp_noerror);
		return;
	}
	ip = (struct ip *)n->m_data;
	ic = (struct icmp *)(ip + 1);
	n->m_len = sizeof(*ip) + sizeof(*ic) + quote;
	memset(ip, 0, sizeof(*ip) + sizeof(*ic));
	memcpy(ic + 1, oip, quote);
	ic->icmp_type = type;
	ic->icmp_code = code;
	ic->icmp_cksum = in_cksum(ic, sizeof(*ic) + quote);
	ip->ip_p = IPPROTO_ICMP;
	ip->ip_src = oip->ip_dst;
	ip->ip_dst = oip->ip_src;
	NETSTAT_INC(icmp_unreach_out);
	ip_output(n);
}

/*
 * The shell's ping and the tests: an echo request whose data is the
 * byte sequence 0, 1, 2, ... so a reply can be checked by eye in a
 * capture.
 */
/* An echo request of size data bytes to dst (ping).  0 or an errno from
 * ip_output.  On a netisr (ip_output's rule); the shell sends it with a
 * message to netisr 0. */
int icmp_send_echo(uint32_t dst, uint16_t id, uint16_t seq, uint32_t size)
{
	struct mbuf *m = m_get();
	struct ip *ip;
	struct icmp *ic;

	if (m == NULL)
		return ENOBUFS;
	if (size > MDATAMAX - sizeof(*ip) - sizeof(*ic)) {
		m_freem(m);
		return EMSGSIZE;
	}
	ip = (struct ip *)m->m_data;
	ic = (struct icmp *)(ip + 1);
	m->m_len = sizeof(*ip) + sizeof(*ic) + size;
	memset(ip, 0, sizeof(*ip));
	for (uint32_t i = 0; i < size; i++)
		((uint8_t *)(ic + 1))[i] = (uint8_t)i;
	ic->icmp_type = ICMP_ECHO;
	ic->icmp_code = 0;
	ic->icmp_id = htons(id);
	ic->icmp_seq = htons(seq);
	ic->icmp_cksum = 0;
	ic->icmp_cksum = in_cksum(ic, sizeof(*ic) + size);
	ip->ip_p = IPPROTO_ICMP;
	ip->ip_dst = dst;
	return ip_output(m);
}
