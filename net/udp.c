/*
 * udp.c - UDP (RFC 768): datagrams to and from sockets.
 *
 * Which CPU owns a UDP socket.  A datagram belongs to the CPU of its
 * 4-tuple, the very hash TCP uses (ip_flow_hash: Toeplitz of source and
 * destination address and port), because that is a hash a device can
 * compute: with RSS the virtio-net device steers each datagram to the
 * receive queue of that CPU (drivers/virtio_net.c), as it does for TCP.
 * The sockets follow the rule as far as they can:
 *
 *   connected socket     the CPU of its 4-tuple: its peer's datagrams
 *                        arrive there and are delivered with no crossing
 *   unconnected socket   the CPU of its local port (in_port_cpu): it
 *                        hears from any peer, so no single 4-tuple names
 *                        it; a datagram that arrives on its flow's CPU
 *                        and finds no socket there is forwarded, as a
 *                        message, to the port's CPU (udp_forwarded)
 *
 * So udp_input looks in its own CPU's table first (a connected socket
 * for the exact 4-tuple, or an unconnected one if this is also the
 * port's CPU); finding none, it forwards the datagram to the port's CPU
 * (once: there the port's CPU is this CPU), and only the port's CPU
 * answers ICMP port unreachable.  connect moves a socket from its port's
 * CPU to its 4-tuple's (udp_connect, below), with its local address
 * fixed as BSD does, since the hash needs it.  Each CPU's table lists the
 * sockets it owns; a lookup is a walk of a short list.
 *
 * Input checks the length and the checksum (0 means "none", RFC 768),
 * then queues the datagram -- the mbuf itself, its headers stripped -- on
 * the socket, or answers ICMP port unreachable.  A socket holds at most
 * UDP_RCVQ_MAX bytes; beyond that datagrams are dropped and counted
 * (udp_fullsock), as UDP allows.  A connected socket takes datagrams
 * from its peer only (as BSD's does).
 *
 * The header (RFC 768), after the IP header:
 *
 *   0      2      4        6          8
 *   | sport | dport | length | checksum | data ...
 *   length counts the header too (8 at least); the checksum covers a
 *   pseudo-header (source, destination, protocol 17, length), the header
 *   and the data, and 0 means the sender computed none.
 *
 * A datagram is never copied on the way in: the mbuf that arrived is the
 * queue entry (m_nextpkt links them, m_src and m_sport remember the
 * sender), and recv copies straight from it into the caller's buffer.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/libkern.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netisr.h>
#include <net/netstat.h>
#include <net/socketvar.h>

static struct socket_list udp_tables[MAXCPU];	/* per CPU: bound sockets */

/* Empty tables.  Boot, before the netisrs start. */
void udp_init(void)
{
	for (int i = 0; i < MAXCPU; i++)
		TAILQ_INIT(&udp_tables[i]);
}

/* This CPU's table: only its netisr walks or changes it. */
static struct socket_list *udp_table(void)
{
	return &udp_tables[mycpuid];
}

/*
 * The socket on this CPU for a datagram from (faddr, fport) to (laddr,
 * lport): a socket connected to exactly that peer first, then one bound
 * to that address, then one bound to any address.  A socket connected
 * to another peer never matches.
 */
static struct socket *udp_lookup(uint32_t faddr, uint16_t fport,
				 uint32_t laddr, uint16_t lport)
{
	struct socket *so, *bound = NULL, *wild = NULL;

	TAILQ_FOREACH(so, udp_table(), so_link) {
		if (so->so_lport != lport)
			continue;
		if (so->so_faddr != 0) {
			if (so->so_faddr == faddr && so->so_fport == fport &&
			    (so->so_laddr == laddr || so->so_laddr == 0))
				return so;
		} else if (so->so_laddr == laddr) {
			bound = so;
		} else if (so->so_laddr == 0) {
			wild = so;
		}
	}
	return bound != NULL ? bound : wild;
}

/* The datagram m, its headers stripped, at the tail of so's queue; a
 * recv parked on so is retried. */
static inline void _udp_enqueue(struct socket *so, struct mbuf *m)
{
	m->m_nextpkt = NULL;
	if (so->so_dgq == NULL)
		so->so_dgq = m;
	else
		so->so_dgq_tail->m_nextpkt = m;
	so->so_dgq_tail = m;
	so->so_dgq_bytes += m->m_len;
	so_wakeup(so);
}

/* Queue the datagram on so (or drop it, counted, if so is full or
 * shut for reading).  The mbuf is the queue entry: it keeps the
 * sender's address and port, and its data becomes the payload alone. */
static void udp_deliver(struct socket *so, struct mbuf *m, uint32_t hlen,
			uint32_t ulen)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct udphdr *uh = (struct udphdr *)(m->m_data + hlen);

	if (so->so_dgq_bytes + ulen > UDP_RCVQ_MAX ||
	    so->so_state & SS_CANTRCVMORE) {
		NETSTAT_INC(udp_fullsock);
		m_freem(m);
		return;
	}
	net_rxprobe_hit(m);
	m->m_src = ip->ip_src;
	m->m_sport = uh->uh_sport;
	m_adj(m, hlen + sizeof(*uh));
	m->m_len = ulen - sizeof(*uh);
	_udp_enqueue(so, m);
}

static void udp_demux(struct mbuf *m, uint32_t hlen, uint32_t ulen);

/* A datagram forwarded by the CPU it arrived on (udp_demux): its
 * headers were checked there, the checksum included. */
static void udp_forwarded_nm(struct netmsg *nm)
{
	struct mbuf *m = (struct mbuf *)nm;
	const struct ip *ip = (const struct ip *)m->m_data;
	uint32_t hlen = (ip->ip_vhl & 0xf) * 4u;
	const struct udphdr *uh = (const struct udphdr *)(m->m_data + hlen);

	udp_demux(m, hlen, ntohs(uh->uh_ulen));
}

/* No socket on this CPU takes the datagram m, for port dport: forward
 * it to the port's CPU, where an unconnected socket would live, or --
 * on the port's CPU already -- answer port unreachable.  Consumes m. */
static void udp_unclaimed(struct mbuf *m, uint16_t dport)
{
	int port_cpu = in_port_cpu(dport);

	if (port_cpu != mycpuid) {
		NETSTAT_INC(udp_forwarded);
		netisr_queue(port_cpu, m, udp_forwarded_nm);
		return;
	}
	NETSTAT_INC(udp_noport);
	icmp_error(m, ICMP_UNREACH, ICMP_UNREACH_PORT);
	m_freem(m);
}

/*
 * A checked datagram, on the CPU its 4-tuple hashed to or on its port's
 * CPU: deliver it to a socket of this CPU, else forward it to the port's
 * CPU (where an unconnected socket lives), else -- on the port's CPU --
 * answer port unreachable.  Consumes m.
 */
static void udp_demux(struct mbuf *m, uint32_t hlen, uint32_t ulen)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct udphdr *uh = (struct udphdr *)(m->m_data + hlen);
	struct socket *so = udp_lookup(ip->ip_src, uh->uh_sport, ip->ip_dst,
				       uh->uh_dport);

	if (so != NULL)
		udp_deliver(so, m, hlen, ulen);
	else
		udp_unclaimed(m, uh->uh_dport);
}

/* An ICMP error about a datagram a socket sent: the socket's pending
 * error (a connected socket's next call reports it). */
void udp_ctlinput(const struct ip *ip, uint32_t len __unused, int error)
{
	const struct udphdr *uh = (const struct udphdr *)
		((const uint8_t *)ip + (ip->ip_vhl & 0xf) * 4u);
	struct socket *so;

	/* ip_flow_hash sent the error to the CPU of the 4-tuple it quotes,
	 * where a connected socket for that peer lives (a quote that lies
	 * finds none). */
	so = udp_lookup(ip->ip_dst, uh->uh_dport, ip->ip_src, uh->uh_sport);
	if (so != NULL && so->so_faddr != 0) {
		so->so_error = error;
		so_wakeup(so);
	}
}

/* The datagram's length from its header (which counts the header), if
 * it is sane: at least a header, and within the IP packet's len bytes
 * of payload.  0 if not. */
static inline uint32_t _udp_ulen(const struct udphdr *uh, uint32_t len)
{
	uint32_t ulen;

	if (len < sizeof(*uh) || (ulen = ntohs(uh->uh_ulen)) < sizeof(*uh) ||
	    ulen > len)
		return 0;
	return ulen;
}

/* Is the checksum right over the pseudo-header, the header and the
 * data?  A zero checksum is none (RFC 768), and a device that checked
 * the datagram already said so (M_CSUM_VALID). */
static inline bool _udp_sum_ok(const struct mbuf *m, const struct ip *ip,
			       const struct udphdr *uh, uint32_t ulen)
{
	return uh->uh_sum == 0 || m->m_flags & M_CSUM_VALID ||
	       in_cksum_fin(in_cksum_add(in_pseudo(ip->ip_src, ip->ip_dst,
						   IPPROTO_UDP, (uint16_t)ulen),
					 uh, ulen)) == 0;
}

/* On the netisr of the datagram's 4-tuple (ip_flow_hash).  A checksum
 * of zero means the sender computed none (RFC 768); a device that
 * checked it already set M_CSUM_VALID.  ip_input checked the IP header
 * and that ip_len fits the packet; hlen is its length.  Consumes m. */
void udp_input(struct mbuf *m, uint32_t hlen)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct udphdr *uh = (struct udphdr *)(m->m_data + hlen);
	uint32_t ulen = _udp_ulen(uh, ntohs(ip->ip_len) - hlen);

	NETSTAT_INC(udp_in);
	if (ulen == 0) {
		NETSTAT_INC(udp_badlen);
		goto drop;
	}
	if (!_udp_sum_ok(m, ip, uh, ulen)) {
		NETSTAT_INC(udp_badsum);
		goto drop;
	}
	udp_demux(m, hlen, ulen);
	return;
drop:
	m_freem(m);
}

/* ---- output ------------------------------------------------------------- */

/* The local address a datagram to dst goes from: the address of the
 * interface its route leaves by, or dst itself if it is one of ours
 * (the loopback); 0 if there is no route. */
static uint32_t udp_source_addr(uint32_t dst)
{
	uint32_t nexthop;
	struct ifnet *ifp = if_route(dst, &nexthop);

	return ifp ? ifp->if_addr : if_is_local(dst) ? dst : 0;
}

/* The IP and UDP headers at the start of m, for len bytes of data from
 * (src, sport) to (dst, dport).  The checksum field gets the
 * pseudo-header's sum; ip_output (or the device) finishes it over the
 * whole datagram (M_CSUM_OFFLOAD; the field is at byte 6 of the UDP
 * header). */
static inline void _udp_hdrs(struct mbuf *m, uint32_t src, uint16_t sport,
			     uint32_t dst, uint16_t dport, size_t len)
{
	struct ip *ip = (struct ip *)m->m_data;
	struct udphdr *uh = (struct udphdr *)(ip + 1);

	memset(ip, 0, sizeof(*ip));
	ip->ip_p = IPPROTO_UDP;
	ip->ip_src = src;
	ip->ip_dst = dst;
	uh->uh_sport = sport;
	uh->uh_dport = dport;
	uh->uh_ulen = htons((uint16_t)(sizeof(*uh) + len));
	uh->uh_sum = htons((uint16_t)in_pseudo(src, dst, IPPROTO_UDP,
					       (uint16_t)(sizeof(*uh) + len)));
	m->m_flags |= M_CSUM_OFFLOAD;
	m->m_csum_offset = 6;
}

/*
 * One datagram from so to (addr, port), from the socket's address or,
 * for a socket bound to any, the one its route leaves by.  Returns 0,
 * EMSGSIZE for more than one Ethernet frame holds (the stack sends no
 * fragments), ENOBUFS, or ip_output's error.
 */
static int udp_output(struct socket *so, const void *p, size_t len,
		      uint32_t addr, uint16_t port)
{
	const size_t hdrlen = sizeof(struct ip) + sizeof(struct udphdr);
	uint32_t src = so->so_laddr;
	struct mbuf *m;

	if (len > ETHERMTU - hdrlen)
		return EMSGSIZE;
	if ((m = m_get()) == NULL)
		return ENOBUFS;
	if (src == 0)
		src = udp_source_addr(addr);
	_udp_hdrs(m, src, so->so_lport, addr, port, len);
	memcpy(m->m_data + hdrlen, p, len);
	m->m_len = hdrlen + len;
	NETSTAT_INC(udp_out);
	return ip_output(m);
}

/* ---- socket calls ---------------------------------------------------------- */

/* The socket's pending error, consumed: a user sees each error once.
 * 0 if there is none. */
static inline int _udp_take_error(struct socket *so)
{
	int error = so->so_error;

	so->so_error = 0;
	return error;
}

/* A recv that finds no datagram: a pending error first (an ICMP error,
 * udp_ctlinput), then end of stream (0) after SHUT_RD, else EAGAIN to
 * wait for one. */
static int udp_recv_empty(struct socket *so)
{
	int error = _udp_take_error(so);

	if (error)
		return error;
	return so->so_state & SS_CANTRCVMORE ? 0 : EAGAIN;
}

/* recv: the first datagram, cut to the caller's buffer. */
static int udp_recv(struct so_req *req)
{
	struct socket *so = req->so;
	struct mbuf *m = so->so_dgq;

	if (m == NULL)
		return udp_recv_empty(so);
	so->so_dgq = m->m_nextpkt;
	so->so_dgq_bytes -= m->m_len;
	m->m_nextpkt = NULL;
	req->done = MIN(req->len, m->m_len);
	memcpy(req->rbuf, m->m_data, req->done);
	req->addr = m->m_src;
	req->port = m->m_sport;
	m_freem(m);
	return 0;
}

/* send / sendto: one call, one datagram, never partial.  sendto's
 * address wins over connect's; a datagram that does not fit the MTU is
 * refused (EMSGSIZE), since the stack sends no fragments. */
static int udp_send(struct so_req *req)
{
	struct socket *so = req->so;
	uint32_t addr = req->addr ? req->addr : so->so_faddr;
	uint16_t port = req->addr ? req->port : so->so_fport;
	int error;

	if (so->so_state & SS_CANTSENDMORE)
		return EPIPE;
	if (addr == 0 || port == 0)
		return ENOTCONN;
	error = udp_output(so, req->sbuf, req->len, addr, port);
	if (error == 0)
		req->done = req->len;
	return error;
}

/* close: out of this CPU's table, parked calls failed, then freed
 * with whatever datagrams were still queued. */
void udp_close(struct socket *so)
{
	TAILQ_REMOVE(udp_table(), so, so_link);
	so_fail_waiters(so, EINTR);
	so_free(so);
}

/* Is so in this CPU's table?  (A connect that moved it left its old
 * CPU's table and joins this one when the call arrives here.) */
static bool udp_in_table(struct socket *so)
{
	struct socket *it;

	TAILQ_FOREACH(it, udp_table(), so_link)
		if (it == so)
			return true;
	return false;
}

/*
 * connect: remember the peer, fix the local address (the 4-tuple's hash
 * needs it), and move the socket to the CPU of its 4-tuple, where the
 * peer's datagrams arrive.  The move is two steps: here the socket
 * leaves this CPU's table and so_cpu changes, and SO_MOVED sends the
 * call on (so_dispatch); there it runs again and joins that CPU's table.
 * A datagram that arrives in between finds no socket and is answered as
 * for a closed port, as UDP allows.  A socket with calls parked on it
 * (another thread's recv) stays where it is: its datagrams then reach
 * it through the port's CPU (udp_demux forwards them there).
 */
static int udp_connect(struct so_req *req)
{
	struct socket *so = req->so;
	int cpu;

	if (so->so_laddr == 0)
		so->so_laddr = udp_source_addr(req->addr);
	so->so_faddr = req->addr;
	so->so_fport = req->port;
	cpu = netisr_hashcpu(netisr_hash4(req->addr, so->so_laddr, req->port,
					  so->so_lport));
	if (udp_in_table(so)) {
		if (cpu == mycpuid || !TAILQ_EMPTY(&so->so_waiters))
			return 0;
		TAILQ_REMOVE(udp_table(), so, so_link);
		so->so_cpu = cpu;
		return SO_MOVED;
	}
	TAILQ_INSERT_TAIL(udp_table(), so, so_link);	/* arrived */
	return 0;
}

/* bind: the local address and port so_bind reserved, owned by the
 * socket from now on, and the socket into this CPU's table (so_bind
 * chose this CPU from the port). */
static int udp_bind(struct so_req *req)
{
	struct socket *so = req->so;

	so->so_laddr = req->addr;
	so->so_lport = req->port;
	so->so_port_owned = true;
	TAILQ_INSERT_TAIL(udp_table(), so, so_link);
	return 0;
}

/* shutdown: SHUT_RD drops what comes from now on (udp_deliver) and ends
 * recv's wait; SHUT_WR refuses sends (EPIPE).  Parked calls are retried,
 * so a blocked recv sees its end of stream. */
static int udp_shutdown(struct so_req *req)
{
	struct socket *so = req->so;

	if (req->value != SHUT_WR)
		so->so_state |= SS_CANTRCVMORE;
	if (req->value != SHUT_RD)
		so->so_state |= SS_CANTSENDMORE;
	so_wakeup(so);
	return 0;
}

/*
 * Every socket call on a UDP socket, on the netisr that owns it
 * (so_dispatch).  Returns the result, EAGAIN to park a recv, or SO_MOVED
 * when connect moved the socket to another CPU.  Never blocks.  bind
 * puts the socket in this CPU's table (so_bind chose this CPU from the
 * port); connect remembers the peer, for send, for receive and for ICMP
 * errors (udp_ctlinput), and moves the socket (udp_connect).
 */
int udp_usr(struct so_req *req)
{
	struct socket *so = req->so;

	switch (req->op) {
	case SO_OP_BIND:
		return udp_bind(req);
	case SO_OP_CONNECT:
		return udp_connect(req);
	case SO_OP_SEND:
		return udp_send(req);
	case SO_OP_RECV:
		return udp_recv(req);
	case SO_OP_SHUTDOWN:
		return udp_shutdown(req);
	case SO_OP_CLOSE:
		if (so->so_lport != 0)
			udp_close(so);
		else
			so_free(so);
		return 0;
	case SO_OP_ERROR:
		req->value = _udp_take_error(so);
		return 0;
	case SO_OP_READABLE:
		req->value = so->so_dgq ? (int)so->so_dgq->m_len : 0;
		return 0;
	default:
		return EOPNOTSUPP;
	}
}
