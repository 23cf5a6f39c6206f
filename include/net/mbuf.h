/*
 * net/mbuf.h - packet buffers (net/mbuf.c; docs/net.md).
 *
 * A packet is an mbuf: a small header that points into a 2 KiB cluster,
 * the storage the bytes live in.  A cluster is one kmalloc chunk of the
 * 2048-byte class, which is aligned to its size and so never crosses a
 * page: its physical address is one DMAP_TO_PHYS away, which is what a
 * virtio descriptor needs.
 *
 *   cluster (MCLBYTES)
 *   +-----------+----------------------------------------+-----------+
 *   | headroom  | m_data .. m_data + m_len: the bytes    | tailroom  |
 *   +-----------+----------------------------------------+-----------+
 *   ^ m_buf      (headers are prepended into the headroom)
 *
 * Each mbuf carries its own message (the netmsg at its head), so handing
 * a packet to a protocol thread or a driver allocates nothing: the packet
 * is the message.  An mbuf whose message is out (sent, forwarded) is
 * owned by whoever has taken it off a port; when that owner is done it
 * calls m_freem(), which replies the message, and the reply port puts the
 * mbuf back in its CPU's cache.  A packet that was never sent is freed
 * directly.  Either way every send gets its one reply.
 *
 * m_next chains the buffers of one packet (mergeable virtio receive
 * buffers); m_nextpkt links packets in a queue (ARP hold, reassembly).
 *
 * Headers and clusters come from per-CPU caches of ready pairs (a
 * critical section, no lock); the caches are bounded and the leak check
 * counts live mbufs.
 */
#ifndef NET_MBUF_H
#define NET_MBUF_H

#include <kern/types.h>
#include <net/netisr.h>

#define MCLBYTES	2048		/* one cluster */
#define MHEADROOM	128		/* reserved for headers we prepend */
#define MDATAMAX	(MCLBYTES - MHEADROOM)	/* bytes after the headroom */

/* m_flags */
#define M_BCAST		0x0001	/* arrived as a link-level broadcast */
#define M_CSUM_VALID	0x0002	/* the device vouched for the L4 checksum */
#define M_HASHED	0x0004	/* m_hash is set */
#define M_CSUM_OFFLOAD	0x0008	/* TX: the device finishes the checksum */
#define M_RINGDATA	0x0010	/* TCP over the loopback: the payload is
				 * m_ringlen bytes left in the sender's
				 * send ring, not in the buffer */

struct ifnet;

struct mbuf {
	struct netmsg m_msg;		/* first: the packet is its message */
	struct mbuf *m_next;		/* next buffer of this packet */
	struct mbuf *m_nextpkt;		/* next packet in a queue */
	uint8_t *m_buf;			/* the cluster */
	uint8_t *m_data;		/* first valid byte */
	uint32_t m_len;			/* valid bytes in this buffer */
	uint32_t m_flags;		/* M_* */
	uint32_t m_hash;		/* flow hash, with M_HASHED */
	uint16_t m_csum_start;		/* M_CSUM_OFFLOAD: L4 header offset */
	uint16_t m_csum_offset;		/* ... and its checksum field's */
	struct ifnet *m_ifp;		/* the interface it arrived on */
	uint32_t m_nexthop;		/* ARP: the address it waits for */
	uint32_t m_src;			/* UDP queue: the sender's address */
	uint16_t m_sport;		/* ... and port */
	uint32_t m_seq;			/* TCP reassembly: first byte's seq */
	uint32_t m_ringlen;		/* M_RINGDATA: payload bytes */
	uint64_t m_rxstamp;		/* TSC when the driver took its
					 * interrupt, 0 if none (the probe) */
};

_Static_assert(__builtin_offsetof(struct mbuf, m_msg) == 0,
	       "an mbuf's message must be its first field");

/*
 * The receive-path probe (make bench: net_rx_udp_interrupt_to_socket).
 * A driver stamps each frame with the TSC of the interrupt that brought
 * it (m_rxstamp); while the probe is on, the socket layer adds the
 * ticks from that stamp to the datagram's arrival in its socket.  Under
 * -icount the ticks are instructions.  Any thread; the sums are
 * updated atomically, read and reset by the benchmark.
 */
extern volatile bool net_rxprobe_on;
void net_rxprobe_reset(void);
void net_rxprobe_hit(const struct mbuf *m);
void net_rxprobe_read(uint64_t *ticks, uint64_t *packets);

/* Make the port whose replies free packets.  Boot (net_init). */
void mbuf_init(void);

/*
 * A packet buffer with MHEADROOM bytes of headroom and no data, or NULL
 * when memory is short (the caller drops and counts).  Any thread; never
 * blocks.
 */
struct mbuf *m_get(void);

/*
 * Free a packet and every buffer chained to it.  If its message is out,
 * the free is its reply.  NULL is ignored.  Any thread; never blocks.
 */
void m_freem(struct mbuf *m);

/* Bytes in the whole packet (all buffers). */
uint32_t m_pktlen(const struct mbuf *m);

/* Room before m_data and after its last byte. */
static inline uint32_t m_headroom(const struct mbuf *m)
{
	return (uint32_t)(m->m_data - m->m_buf);
}

static inline uint32_t m_tailroom(const struct mbuf *m)
{
	return (uint32_t)(m->m_buf + MCLBYTES - (m->m_data + m->m_len));
}

/* Prepend len bytes (in the headroom); NULL if there is no room. */
void *m_prepend(struct mbuf *m, uint32_t len);

/* Drop len bytes from the front. */
void m_adj(struct mbuf *m, uint32_t len);

/* Append len bytes from p; false (nothing appended) if they do not fit. */
bool m_append(struct mbuf *m, const void *p, uint32_t len);

/*
 * Make the whole packet one buffer (copying the chain into the first);
 * false if it does not fit (the caller drops it).  One buffer is what
 * the protocols read.
 */
bool m_flatten(struct mbuf *m);

/* The physical address of a byte in a cluster (for descriptors). */
vm_paddr_t m_phys(const void *p);

/*
 * Hand packet m to CPU cpu's netisr, to be served by fn: a send if the
 * packet's message is idle, a forward if it is already out (a netisr
 * passing on a packet it was given).  Any thread; never blocks.
 */
void netisr_queue(int cpu, struct mbuf *m, netisr_fn_t fn);

/* Hand m to a driver's port the same way (its server frees it). */
void m_send_to(lwkt_port_t port, struct mbuf *m);

/* Live mbufs over all CPUs (sampled by the leak check). */
uint64_t mbuf_live(void);

/* Give every CPU's cached buffers back to kmalloc (tests' drain). */
void mbuf_drain(void);

#endif /* NET_MBUF_H */
