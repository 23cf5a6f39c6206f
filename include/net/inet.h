/*
 * net/inet.h - the wire formats of Ethernet, ARP, IPv4, ICMP, UDP and TCP,
 * and the functions that move packets between the layers (the files of net/).
 *
 * Every multi-byte field is in network order (big-endian) on the wire and
 * in these structures; convert with ntohs/ntohl at the point of use.
 * Structures are packed: a header may start at any byte of a cluster.
 */
#ifndef NET_INET_H
#define NET_INET_H

#include <kern/types.h>
#include <net/if.h>

struct mbuf;

/*
 * Ethernet II (IEEE 802.3 framing with a type, RFC 894), 14 bytes:
 *   0 destination MAC (6)  6 source MAC (6)  12 EtherType (2)
 * The frame check sequence is the device's business; virtio never shows
 * it.  Frames shorter than 60 bytes are padded on output.
 */
struct ether_header {
	uint8_t ether_dhost[ETHER_ADDR_LEN];
	uint8_t ether_shost[ETHER_ADDR_LEN];
	uint16_t ether_type;
} __packed;

#define ETHER_HDR_LEN	14
#define ETHER_MIN_LEN	60		/* without the FCS */
#define ETHERTYPE_IP	0x0800
#define ETHERTYPE_ARP	0x0806

/*
 * ARP for IPv4 over Ethernet (RFC 826), 28 bytes:
 *   0 htype=1  2 ptype=0x0800  4 hlen=6  5 plen=4  6 op (1 req, 2 reply)
 *   8 sender MAC  14 sender IP  18 target MAC  24 target IP
 */
struct arphdr {
	uint16_t ar_hrd, ar_pro;
	uint8_t ar_hln, ar_pln;
	uint16_t ar_op;
	uint8_t ar_sha[ETHER_ADDR_LEN];
	uint32_t ar_spa;
	uint8_t ar_tha[ETHER_ADDR_LEN];
	uint32_t ar_tpa;
} __packed;

#define ARPHRD_ETHER	1
#define ARPOP_REQUEST	1
#define ARPOP_REPLY	2

/*
 * IPv4 (RFC 791), 20..60 bytes:
 *   0 version(4)|IHL(4)  1 TOS  2 total length  4 id  6 flags|fragment
 *   8 TTL  9 protocol  10 header checksum  12 source  16 destination
 */
struct ip {
	uint8_t ip_vhl;			/* version << 4 | header words */
	uint8_t ip_tos;
	uint16_t ip_len;		/* header + data, bytes */
	uint16_t ip_id;
	uint16_t ip_off;		/* IP_DF | IP_MF | offset / 8 */
	uint8_t ip_ttl;
	uint8_t ip_p;
	uint16_t ip_sum;
	uint32_t ip_src, ip_dst;
} __packed;

#define IP_DF		0x4000
#define IP_MF		0x2000
#define IP_OFFMASK	0x1fff
#define IPDEFTTL	64
#define IPPROTO_ICMP	1
#define IPPROTO_TCP	6
#define IPPROTO_UDP	17
#define INADDR_ANY	0u
#define INADDR_BROADCAST 0xffffffffu

/*
 * ICMP (RFC 792): 0 type  1 code  2 checksum (whole message)  4 rest
 * (echo: id, seq; errors: unused word, then the offending IP header and
 * its first 8 data bytes).
 */
struct icmp {
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_cksum;
	uint16_t icmp_id, icmp_seq;	/* echo; "unused" in errors */
} __packed;

#define ICMP_ECHOREPLY		0
#define ICMP_UNREACH		3
#define ICMP_UNREACH_PORT	3
#define ICMP_ECHO		8
#define ICMP_TIMXCEED		11

/* UDP (RFC 768): 0 source port  2 destination port  4 length  6 checksum */
struct udphdr {
	uint16_t uh_sport, uh_dport, uh_ulen, uh_sum;
} __packed;

/*
 * TCP (RFC 9293, 3.1), 20..60 bytes:
 *   0 sport  2 dport  4 seq  8 ack  12 data offset(4)|reserved(4)
 *   13 flags  14 window  16 checksum  18 urgent pointer  20 options
 */
struct tcphdr {
	uint16_t th_sport, th_dport;
	uint32_t th_seq, th_ack;
	uint8_t th_off;			/* data offset in words << 4 */
	uint8_t th_flags;
	uint16_t th_win, th_sum, th_urp;
} __packed;

#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04
#define TH_PUSH	0x08
#define TH_ACK	0x10
#define TH_URG	0x20

/* ---- checksums (RFC 1071) --------------------------------------------- */

/* The one's-complement sum of len bytes, folded to 16 bits, not
 * complemented; start from `sum` (another partial sum).  Pure. */
uint32_t in_cksum_add(uint32_t sum, const void *p, size_t len);
/* Fold and complement: the checksum field's value. */
uint16_t in_cksum_fin(uint32_t sum);
/* The checksum of len bytes (0 when a received header checks). */
uint16_t in_cksum(const void *p, size_t len);
/* The TCP/UDP pseudo-header's partial sum (RFC 9293 3.1, RFC 768). */
uint32_t in_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

/* ---- the layers --------------------------------------------------------- */

/*
 * A frame from a driver (or a test): check it, count it, and send it on
 * to the netisr that owns it (ARP: CPU 0; IPv4: by its flow hash), or
 * drop it.  The caller's thread; never blocks; consumes m.
 */
void ether_input(struct ifnet *ifp, struct mbuf *m);

/* Prepend an Ethernet header to dst with type, pad, hand to the driver.
 * Consumes m. */
void ether_output(struct ifnet *ifp, struct mbuf *m, const uint8_t *dst,
		  uint16_t type);

extern const uint8_t ether_broadcast[ETHER_ADDR_LEN];

/* ARP (net/if_arp.c). */
void arp_input(struct mbuf *m);		/* netisr 0 */
/* Send m (an IP datagram) to nexthop on ifp, resolving its MAC first if
 * needed (the packet then waits, one per address).  Consumes m. */
void arp_output(struct ifnet *ifp, uint32_t nexthop, struct mbuf *m);
void arp_announce(struct ifnet *ifp);	/* gratuitous ARP */
void arp_init(void);
void arp_print(void);			/* shell: arp */
/* Look up addr in this CPU's table: true and the MAC, or false. */
bool arp_lookup(uint32_t addr, uint8_t *mac);
/* Forget every entry (tests). */
void arp_flush(void);

/* IPv4 (net/ip.c). */
void ip_input(struct mbuf *m);		/* the owning netisr */
/* Classify a checked IPv4 frame for ether_input: its flow hash.  The
 * frame is not trusted beyond what ip_check verified. */
uint32_t ip_flow_hash(const struct mbuf *m);
/*
 * Send an IPv4 datagram whose header the caller filled except for
 * version, length, id, TTL (if 0) and checksum.  Returns 0 or an errno
 * (ENETUNREACH, EMSGSIZE); consumes m either way.  A netisr.
 */
int ip_output(struct mbuf *m);
/* Are the IPv4 header's checks passed?  0, or the counter's reason. */
bool ip_check(struct mbuf *m);

/* ICMP (net/icmp.c). */
void icmp_input(struct mbuf *m, uint32_t hlen);
/* Send an error about the datagram in m (its IP header at m_data):
 * type/code; never about an ICMP error, a broadcast or a fragment.
 * Does not consume m. */
void icmp_error(struct mbuf *m, uint8_t type, uint8_t code);
/* Errors for a UDP/TCP socket (net/udp.c, net/tcp_*.c). */

/* UDP and TCP (net/udp.c, net/tcp_input.c). */
void udp_input(struct mbuf *m, uint32_t hlen);
void tcp_input(struct mbuf *m, uint32_t hlen);
/* An ICMP error about a datagram we sent (quoted IP header at ip). */
void udp_ctlinput(const struct ip *ip, uint32_t len, int error);
void tcp_ctlinput(const struct ip *ip, uint32_t len, int error);

/* Sequence numbers compare modulo 2^32 (RFC 9293 3.4). */
#define SEQ_LT(a, b)	((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b)	((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b)	((int32_t)((a) - (b)) > 0)
#define SEQ_GEQ(a, b)	((int32_t)((a) - (b)) >= 0)

#endif /* NET_INET_H */
