/*
 * net/if.h - network interfaces (net/if.c; docs/net.md).
 *
 * An interface is what a driver registers: a name, a MAC address, an
 * output function that takes an Ethernet frame (an mbuf whose message is
 * the driver's to reply), and the IPv4 configuration.  The configuration
 * changes rarely (ifconfig, boot) and is read by every netisr: it is
 * written only by if_set_addr(), which runs on every netisr in turn
 * (netisr_domsg_all), so each CPU reads its own unchanging copy between
 * updates.
 */
#ifndef NET_IF_H
#define NET_IF_H

#include <kern/types.h>
#include <kern/queue.h>
#include <machine/param.h>

#define ETHER_ADDR_LEN	6
#define IFNAMSIZ	16
#define ETHERMTU	1500
/* The loopback's MTU: the largest datagram an IPv4 header can describe
 * (its total length is 16 bits).  Linux's lo has 64 KiB too. */
#define IF_LOOP_MTU	65535

struct mbuf;

/* Per-interface counters: each CPU writes its own slot. */
struct if_counters {
	uint64_t ipackets, opackets, ibytes, obytes;
	uint64_t ierrors;		/* frames dropped at the driver */
	uint64_t oerrors;		/* frames the driver could not send */
};

struct ifnet {
	char if_name[IFNAMSIZ];
	uint8_t if_mac[ETHER_ADDR_LEN];
	uint32_t if_mtu;
	/* Hand a frame to the driver; it frees it.  Any netisr. */
	void (*if_output)(struct ifnet *ifp, struct mbuf *m);
	void *if_softc;
	bool if_csum_offload;		/* the device finishes L4 checksums */
	bool if_link_up;
	/* IPv4 configuration, network order (see the file comment). */
	uint32_t if_addr, if_netmask, if_gateway;
	struct if_counters if_cnt[MAXCPU];	/* per CPU */
	TAILQ_ENTRY(ifnet) if_link;
};

/* Add an interface (drivers, tests).  Thread context. */
void if_attach(struct ifnet *ifp);

/* Remove it: every netisr drains first, so no packet refers to it
 * after this returns.  Thread context. */
void if_detach(struct ifnet *ifp);

/* The interface named name, or the first one (NULL), or NULL. */
struct ifnet *if_find(const char *name);

/*
 * Set addr/netmask/gateway (network order; 0 clears) on every netisr,
 * then announce the address with a gratuitous ARP.  Thread context.
 */
void if_set_addr(struct ifnet *ifp, uint32_t addr, uint32_t netmask,
		 uint32_t gateway);

/* Is addr one of ours (any interface), or a broadcast we accept? */
bool if_is_local(uint32_t addr);

/* The interface whose subnet holds addr (or the gateway's), or NULL; the
 * next hop goes in *nexthop. */
struct ifnet *if_route(uint32_t addr, uint32_t *nexthop);

/* Configure ifp from "A.B.C.D/len" (length 24 if omitted) and a gateway
 * "A.B.C.D" (or NULL).  0, or EINVAL for a malformed address (ifp
 * unchanged; a malformed gateway is ignored).  Thread context. */
int if_config(struct ifnet *ifp, const char *ip, const char *gw);

/* Configure from the command line: ip=A.B.C.D/len gw=A.B.C.D. */
void if_config_cmdline(void);

/* Count a packet on this CPU's slot. */
void if_count_in(struct ifnet *ifp, uint32_t bytes);
void if_count_out(struct ifnet *ifp, uint32_t bytes);

/* Sum the counters over CPUs. */
void if_get_counters(struct ifnet *ifp, struct if_counters *c);

/* ifconfig: print every interface (shell). */
void if_print_all(void);

/* Dotted quad <-> address in network order.  Pure. */
bool inet_aton(const char *s, uint32_t *addr);
void inet_ntoa_r(uint32_t addr, char *buf, size_t size);

/* Byte order.  x86 is little-endian; the wire is big-endian. */
static inline uint16_t htons(uint16_t x) { return __builtin_bswap16(x); }
static inline uint16_t ntohs(uint16_t x) { return __builtin_bswap16(x); }
static inline uint32_t htonl(uint32_t x) { return __builtin_bswap32(x); }
static inline uint32_t ntohl(uint32_t x) { return __builtin_bswap32(x); }

#endif /* NET_IF_H */
