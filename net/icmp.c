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
 *
 * The message (RFC 792), after the IP header:
 *
 *   0      1      2          4        6         8
 *   | type | code | checksum | id     | seq     | data ...     (echo)
 *   | type | code | checksum | unused           | quote ...    (errors)
 *
 * An error's quote is the offending datagram's IP header and the first
 * 8 bytes after it, which hold a UDP or TCP segment's two ports.
 *
 * The checksum covers the whole ICMP message (no pseudo-header, unlike
 * UDP and TCP).  Everything here runs on a netisr: input on the one
 * ip_flow_hash chose, icmp_send_echo on the shell's (netisr 0), and
 * icmp_error on whichever refused the datagram; the rate limit's slot is
 * that CPU's own, so no lock.
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

/* Per CPU, touched only by that CPU's netisr: errors sent in the
 * current second (rate limit). */
static struct {
	uint64_t second;
	int sent;
} icmp_rate[MAXCPU];

/* ---- input ------------------------------------------------------------- */

/* A reply carries a plain 20-byte IP header: if the request had options,
 * slide its header over them (they are not echoed) and drop the gap.
 * Returns the IP header's new place. */
static struct ip *icmp_strip_options(struct mbuf *m, uint32_t hlen)
{
	struct ip *ip = (struct ip *)m->m_data;

	if (hlen > sizeof(struct ip)) {
		memmove(m->m_data + hlen - sizeof(struct ip), ip, sizeof(*ip));
		m_adj(m, hlen - sizeof(struct ip));
		ip = (struct ip *)m->m_data;
	}
	return ip;
}

/* Turn the request in m into its reply and send it: type ECHOREPLY, a
 * new checksum, the addresses swapped.  TTL, fragment field and TOS are
 * cleared as in any datagram of ours (ip_output puts its default TTL in
 * a zero one). */
static void icmp_echo_reply(struct mbuf *m, uint32_t hlen)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct icmp *ic = (struct icmp *)(m->m_data + hlen);
	uint32_t len = ntohs(ip->ip_len) - hlen;
	uint32_t dst = ip->ip_src;

	NETSTAT_INC(icmp_echo_reply_out);
	ip = icmp_strip_options(m, hlen);
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

/* The error a socket sees: a port unreachable means the peer refused
 * (ECONNREFUSED); any other unreachable or a time exceeded means the
 * host could not be reached (EHOSTUNREACH). */
static int icmp_errno(const struct icmp *ic)
{
	if (ic->icmp_type == ICMP_UNREACH && ic->icmp_code == ICMP_UNREACH_PORT)
		return ECONNREFUSED;
	return EHOSTUNREACH;
}

/* Is the quote long enough to name a flow: an IPv4 header of its stated
 * length and the 8 bytes after it, which hold both ports? */
static bool icmp_quote_ok(const struct ip *quoted, uint32_t qlen)
{
	return qlen >= sizeof(struct ip) + 8 && quoted->ip_vhl >> 4 == 4 &&
	       (quoted->ip_vhl & 0xf) * 4u + 8 <= qlen;
}

/* An error about a datagram we sent: tell the protocol that sent it,
 * which finds the socket by the quoted addresses and ports. */
static void icmp_deliver_error(struct icmp *ic, uint32_t len)
{
	const struct ip *quoted = (const struct ip *)(ic + 1);
	uint32_t qlen = len - sizeof(*ic);

	NETSTAT_INC(icmp_error_in);
	if (!icmp_quote_ok(quoted, qlen))
		return;
	if (quoted->ip_p == IPPROTO_UDP)
		udp_ctlinput(quoted, qlen, icmp_errno(ic));
	else if (quoted->ip_p == IPPROTO_TCP)
		tcp_ctlinput(quoted, qlen, icmp_errno(ic));
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

/* Check the message before its type is believed: long enough for the
 * header, and a checksum over the whole message that sums to zero
 * (skipped when the device or the loopback vouched for it).  False,
 * counted, if it must be dropped. */
static bool icmp_check(const struct mbuf *m, const struct icmp *ic,
		       uint32_t len)
{
	if (len < sizeof(struct icmp)) {
		NETSTAT_INC(icmp_badlen);
		return false;
	}
	if (!(m->m_flags & M_CSUM_VALID) && in_cksum(ic, len) != 0) {
		NETSTAT_INC(icmp_badsum);
		return false;
	}
	return true;
}

/* An echo request: answered in the same buffer, unless it came to a
 * broadcast address (RFC 1122 3.2.2.6 lets us stay silent, and a whole
 * subnet answering one ping is a known amplifier).  Consumes m. */
static void icmp_echo_in(struct mbuf *m, uint32_t hlen)
{
	const struct ip *ip = (const struct ip *)m->m_data;

	NETSTAT_INC(icmp_echo_in);
	if (m->m_flags & M_BCAST || ip->ip_dst == INADDR_BROADCAST) {
		m_freem(m);
		return;
	}
	icmp_echo_reply(m, hlen);
}

/*
 * An ICMP message, on the netisr ip_flow_hash chose (an error goes to
 * the CPU of the flow it quotes).  Checked (length, checksum), then: an
 * echo request is answered in the same buffer, an echo reply counted
 * for ping, an error handed to the socket it concerns.  Every other type
 * is counted in icmp_in only and dropped.  Consumes m.
 */
void icmp_input(struct mbuf *m, uint32_t hlen)
{
	struct ip *ip = (struct ip *)m->m_data;
	uint32_t len = ntohs(ip->ip_len) - hlen;
	struct icmp *ic = (struct icmp *)(m->m_data + hlen);

	NETSTAT_INC(icmp_in);
	if (!icmp_check(m, ic, len)) {
		m_freem(m);
		return;
	}
	switch (ic->icmp_type) {
	case ICMP_ECHO:
		icmp_echo_in(m, hlen);
		return;
	case ICMP_ECHOREPLY:
		icmp_got_reply(ic);
		break;
	case ICMP_UNREACH:
	case ICMP_TIMXCEED:
		icmp_deliver_error(ic, len);
		break;
	}
	m_freem(m);
}

/* ---- errors out -------------------------------------------------------- */

/* Is the datagram in m itself an ICMP error?  Only echo request and
 * reply are not (of the types we know); an error about an error could
 * bounce between two hosts for ever (RFC 1122 3.2.2). */
static bool icmp_is_error(const struct mbuf *m, uint32_t hlen)
{
	const struct ip *ip = (const struct ip *)m->m_data;
	uint8_t type;

	if (ip->ip_p != IPPROTO_ICMP || hlen + 1 > m->m_len)
		return false;
	type = m->m_data[hlen];
	return type != ICMP_ECHO && type != ICMP_ECHOREPLY;
}

/* The rate limit: at most ICMP_ERRORS_PER_SEC errors in each second of
 * ticks, counted per CPU (RFC 1812 4.3.2.8 asks routers to limit them;
 * a host flooded with bad datagrams should not answer each one).  True
 * if one more may go, and it is counted. */
static bool icmp_rate_ok(void)
{
	uint64_t second = ticks / HZ;

	if (icmp_rate[mycpuid].second != second) {
		icmp_rate[mycpuid].second = second;
		icmp_rate[mycpuid].sent = 0;
	}
	return icmp_rate[mycpuid].sent++ < ICMP_ERRORS_PER_SEC;
}

/* May we send an error about the datagram in m?  RFC 1122 3.2.2: never
 * about a broadcast (to us or from a source that names no one host),
 * a fragment other than the first, or an ICMP error; and not too often. */
static bool icmp_error_allowed(const struct mbuf *m)
{
	const struct ip *ip = (const struct ip *)m->m_data;
	uint32_t hlen = (ip->ip_vhl & 0xf) * 4u;

	if (m->m_flags & M_BCAST || ip->ip_dst == INADDR_BROADCAST ||
	    ip->ip_src == 0 || ip->ip_src == INADDR_BROADCAST ||
	    (ntohs(ip->ip_off) & IP_OFFMASK) != 0)
		return false;
	if (icmp_is_error(m, hlen))
		return false;
	return icmp_rate_ok();
}

/* Fill n with an error of type and code about the datagram at oip: a
 * plain IP header back to its sender, the ICMP header (its "unused"
 * word zero), and quote bytes of the datagram, checksummed. */
static void icmp_error_build(struct mbuf *n, const struct ip *oip,
			     uint32_t quote, uint8_t type, uint8_t code)
{
	struct ip *ip = (struct ip *)n->m_data;
	struct icmp *ic = (struct icmp *)(ip + 1);

	n->m_len = sizeof(*ip) + sizeof(*ic) + quote;
	memset(ip, 0, sizeof(*ip) + sizeof(*ic));
	memcpy(ic + 1, oip, quote);
	ic->icmp_type = type;
	ic->icmp_code = code;
	ic->icmp_cksum = in_cksum(ic, sizeof(*ic) + quote);
	ip->ip_p = IPPROTO_ICMP;
	ip->ip_src = oip->ip_dst;
	ip->ip_dst = oip->ip_src;
}

/*
 * Send an error of type and code about the datagram in m (today: port
 * unreachable, from UDP).  It is built in a fresh buffer and quotes the
 * datagram's IP header and ICMP_QUOTE bytes after it, enough for the
 * sender to find its socket by the ports.  The original stays the
 * caller's (it frees it), so a caller may still count or log it.  On a
 * netisr; never blocks; without a buffer, or when the rules forbid it,
 * nothing is sent (icmp_noerror).
 */
void icmp_error(struct mbuf *m, uint8_t type, uint8_t code)
{
	const struct ip *oip = (const struct ip *)m->m_data;
	uint32_t quote = MIN(m->m_len, (oip->ip_vhl & 0xf) * 4u + ICMP_QUOTE);
	struct mbuf *n;

	if (!icmp_error_allowed(m) || (n = m_get()) == NULL) {
		NETSTAT_INC(icmp_noerror);
		return;
	}
	icmp_error_build(n, oip, quote, type, code);
	NETSTAT_INC(icmp_unreach_out);
	ip_output(n);
}

/* ---- ping -------------------------------------------------------------- */

/* Fill m with an echo request of size data bytes: id and seq let the
 * pinger match replies, and the data is the byte sequence 0, 1, 2, ...
 * so a reply can be checked by eye in a capture. */
static void icmp_echo_build(struct mbuf *m, uint16_t id, uint16_t seq,
			    uint32_t size)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct icmp *ic = (struct icmp *)(ip + 1);

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
}

/* An echo request of size data bytes to dst (the shell's ping and the
 * tests).  Returns 0, ENOBUFS without a buffer, EMSGSIZE if it would not
 * fit in one cluster, or an errno from ip_output.  On a netisr
 * (ip_output's rule); the shell sends it with a message to netisr 0.
 * Never blocks. */
int icmp_send_echo(uint32_t dst, uint16_t id, uint16_t seq, uint32_t size)
{
	struct mbuf *m = m_get();

	if (m == NULL)
		return ENOBUFS;
	if (size > MDATAMAX - sizeof(struct ip) - sizeof(struct icmp)) {
		m_freem(m);
		return EMSGSIZE;
	}
	icmp_echo_build(m, id, seq, size);
	((struct ip *)m->m_data)->ip_dst = dst;
	return ip_output(m);
}
