/*
 * virtio_net.c - the virtio network device (virtio 1.2, 5.1) as a message
 * server, like the block driver (virtio_blk.c).
 *
 * A server thread owns the receive and transmit queues.  Three kinds of
 * message reach its port:
 *
 *   the receive interrupt   collect every filled buffer, rebuild each
 *                           frame (several buffers with MRG_RXBUF), hand
 *                           it to ether_input -- which sends it on to the
 *                           owning netisr -- and post fresh buffers;
 *   the transmit interrupt  free the frames the device has sent;
 *   a frame to send         an mbuf whose message a netisr sent or
 *                           forwarded here (vnet_output): header in
 *                           front, one descriptor, kick at the end of
 *                           the batch.
 *
 *   netisr k --- mbuf (the message) ---> vnet server ---> txq --> device
 *   device --> rxq --> MSI-X message --> vnet server --> ether_input
 *                                          --> netisr (flow hash)
 *
 * Every buffer is one mbuf cluster, so every descriptor is one physically
 * contiguous segment.  Each packet on either queue starts with the
 * 12-byte virtio_net_hdr (VERSION_1 fixes its size):
 *
 *   0 flags  1 gso_type  2 hdr_len  4 gso_size  6 csum_start
 *   8 csum_offset  10 num_buffers (receive, with MRG_RXBUF)
 *
 * Receive buffers are posted at MRXOFF into their cluster, so that once
 * the virtio and Ethernet headers are stripped the packet has room to
 * grow them back: an echo reply goes out in the buffer it came in.
 *
 * Several queue pairs (multiqueue, 5.1.6.5.5).  When the device offers
 * MQ (QEMU: mq=on, a tap with queues=N), the driver runs one pair per
 * CPU, up to the device's max_virtqueue_pairs, each pair served by a
 * server thread on its own CPU with its interrupts routed there:
 *
 *   pair k = receiveq k (queue 2k) + transmitq k (queue 2k+1), CPU k
 *   controlq = queue 2 * max_virtqueue_pairs (commands, polled)
 *
 * A netisr sends its frames on its own CPU's pair (vnet_output), and
 * the device is asked to steer each TCP and UDP flow's frames to the
 * receive queue of the CPU that owns it, so a segment goes from the
 * interrupt to its connection without crossing CPUs.  With RSS (bit 60,
 * QEMU rss=on) the driver programs the device's Toeplitz hash with the
 * stack's own key (0x6d 0x5a repeated: net/netisr.c) over the 4-tuple of
 * TCP and of UDP, and an indirection table whose entry i is i % npairs --
 * the CPU netisr_hashcpu picks, as long as npairs divides the table's 128
 * entries.  (A datagram for an unconnected UDP socket arrives on its
 * flow's CPU and is forwarded from there: net/udp.c.)  Without RSS the
 * driver only sets the number of pairs (VQ_PAIRS_SET), and the host's tap
 * steers each flow back to the queue its frames left on.  Other frames
 * (ARP, ICMP) land where the device puts them and go on to their netisr
 * as before.  One pair when MQ is not offered.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/msgport.h>
#include <kern/panic.h>
#include <kern/synch.h>
#include <kern/timeout.h>
#include <machine/cpufunc.h>
#include <drivers/virtio.h>
#include <drivers/virtio_net.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netisr.h>
#include <net/netstat.h>

MALLOC_DEFINE(M_VNET, "vnet", "virtio network devices");

/* Device features (virtio 1.2, 5.1.3). */
#define VIRTIO_NET_F_CSUM	(1ULL << 0)	/* device completes TX sums */
#define VIRTIO_NET_F_GUEST_CSUM	(1ULL << 1)	/* RX sums may be unchecked */
#define VIRTIO_NET_F_MAC	(1ULL << 5)
#define VIRTIO_NET_F_MRG_RXBUF	(1ULL << 15)
#define VIRTIO_NET_F_STATUS	(1ULL << 16)
#define VIRTIO_NET_F_CTRL_VQ	(1ULL << 17)	/* a control queue */
#define VIRTIO_NET_F_MQ		(1ULL << 22)	/* several queue pairs */
#define VIRTIO_NET_F_RSS	(1ULL << 60)	/* device-side steering */

/* Device configuration (5.1.4). */
#define VNET_CFG_MAC		0
#define VNET_CFG_STATUS		6
#define VNET_CFG_MAX_PAIRS	8	/* le16, with MQ or RSS */
#define VIRTIO_NET_S_LINK_UP	1

/* Control commands (5.1.6.5): class, command, data, then the device's
 * one-byte ack. */
#define VIRTIO_NET_CTRL_MQ		4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET	0
#define VIRTIO_NET_CTRL_MQ_RSS_CONFIG	1
#define VIRTIO_NET_OK			0
#define VIRTIO_NET_RSS_HASH_TYPE_TCPv4	(1u << 1)	/* 5.1.6.4.3.1 */
#define VIRTIO_NET_RSS_HASH_TYPE_UDPv4	(1u << 2)
#define VNET_RSS_TABLE		128	/* QEMU's largest */
#define VNET_RSS_KEY		40	/* Toeplitz key bytes (RSS) */
#define VNET_PAIRS_MAX		8

/* virtio_net_hdr.flags (5.1.6). */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM	1
#define VIRTIO_NET_HDR_F_DATA_VALID	2

#define VNET_QUEUE_MAX		256
#define MRXOFF			64	/* where a receive buffer starts */
#define VNET_TXQ_MAX		256	/* frames waiting for ring room */
#define VNET_WATCH_TICKS	(HZ / 4) /* the receive watchdog's period */

struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __packed;

_Static_assert(sizeof(struct virtio_net_hdr) == 12, "virtio 1.2, 5.1.6");

struct vnet_softc;

/* One queue pair and the server thread that owns it, on CPU `cpu`. */
struct vnet_queue {
	struct msg_server server;	/* first: its port takes frames */
	struct vnet_softc *sc;
	int index, cpu;
	struct virtqueue rxq, txq;
	struct intr_msg rx_intr, tx_intr;
	struct callout rx_watch;	/* sends watch_msg every period */
	struct lwkt_msg watch_msg;	/* home (DONE) between rounds */
	struct lwkt_port watch_rport;
	/* The rest belongs to the server thread. */
	int rx_posted;			/* buffers the device holds */
	struct mbuf *txwait_head, *txwait_tail;	/* no ring room yet */
	int txwait_len;
	bool tx_unkicked;		/* offered frames the device not told of */
	uint64_t rx_frames;		/* frames this pair received */
	uint64_t rx_merged;		/* frames that spanned buffers */
	uint64_t rx_broken;		/* malformed by the device: dropped */
	uint16_t watch_last;		/* rxq.last_used at the last round */
	uint64_t rx_stamp;		/* TSC at the interrupt being served */
};

struct vnet_softc {
	struct ifnet ifnet;
	struct virtio_dev vd;
	int npairs;			/* pairs in use (1 without MQ) */
	bool rss;			/* the device steers by our hash */
	struct virtqueue ctrlq;		/* with MQ: the attach thread's */
	struct intr_msg ctrl_intr;	/* its interrupt, to pair 0: ignored */
	struct vnet_queue q[VNET_PAIRS_MAX];
};

static int vnet_units;

/* ---- receive ---------------------------------------------------------- */

/* Post fresh buffers until the ring is full (or memory runs out). */
static void vnet_rx_fill(struct vnet_queue *q)
{
	bool posted = false;
	struct mbuf *m;

	while (q->rxq.num_free > 0 && (m = m_get()) != NULL) {
		struct vq_seg seg = { m_phys(m->m_buf + MRXOFF),
				      MCLBYTES - MRXOFF, true };

		if (virtqueue_add(&q->rxq, &seg, 1, m) != 0) {
			m_freem(m);
			break;
		}
		q->rx_posted++;
		posted = true;
	}
	if (posted)
		virtqueue_kick(&q->rxq);
}

/* Take the next filled buffer as an mbuf of len bytes, or NULL. */
static struct mbuf *vnet_rx_take(struct vnet_queue *q)
{
	uint32_t len;
	struct mbuf *m = virtqueue_get(&q->rxq, &len);

	if (m == NULL)
		return NULL;
	q->rx_posted--;
	m->m_data = m->m_buf + MRXOFF;
	m->m_len = MIN(len, (uint32_t)(MCLBYTES - MRXOFF));
	return m;
}

/*
 * One frame: its first buffer m (virtio header in front) and, with
 * MRG_RXBUF, num_buffers - 1 more.  NULL if the device broke the rules.
 */
static struct mbuf *vnet_rx_frame(struct vnet_queue *q, struct mbuf *m)
{
	struct virtio_net_hdr hdr;
	struct mbuf *tail = m;
	uint16_t nbufs = 1;

	if (m->m_len < sizeof(hdr)) {
		m_freem(m);
		return NULL;
	}
	memcpy(&hdr, m->m_data, sizeof(hdr));
	m_adj(m, sizeof(hdr));
	if (q->sc->vd.features & VIRTIO_NET_F_MRG_RXBUF)
		nbufs = hdr.num_buffers;
	if (nbufs > 1)
		q->rx_merged++;
	for (uint16_t i = 1; i < nbufs; i++) {
		struct mbuf *n = vnet_rx_take(q);

		if (n == NULL) {	/* fewer buffers than it said */
			m_freem(m);
			return NULL;
		}
		tail->m_next = n;
		tail = n;
	}
	if (hdr.flags & (VIRTIO_NET_HDR_F_DATA_VALID |
			 VIRTIO_NET_HDR_F_NEEDS_CSUM))
		m->m_flags |= M_CSUM_VALID;
	return m;
}

/*
 * The receive interrupt's work: every filled buffer becomes a frame for
 * ether_input, which sends it on to its netisr (the driver keeps
 * nothing).  Refill, then re-arm the interrupt; if frames arrived while
 * re-arming, go round again, or one could wait for the next interrupt.
 */
static void vnet_rx(struct vnet_queue *q)
{
	struct mbuf *m;

	do {
		while ((m = vnet_rx_take(q)) != NULL) {
			if ((m = vnet_rx_frame(q, m)) == NULL) {
				q->rx_broken++;
				q->sc->ifnet.if_cnt[mycpuid].ierrors++;
				continue;
			}
			q->rx_frames++;
			m->m_rxstamp = q->rx_stamp;
			ether_input(&q->sc->ifnet, m);
		}
		vnet_rx_fill(q);
	} while (virtqueue_enable_intr(&q->rxq));
}

/* ---- transmit --------------------------------------------------------- */

/* Free what the device has sent. */

static void vnet_tx_collect(struct vnet_queue *q)
{
	struct mbuf *m;

	while ((m = virtqueue_get(&q->txq, NULL)) != NULL)
		m_freem(m);
}

/* Offer one frame; ENOSPC when the ring is full (m stays ours). */
static int vnet_tx_offer(struct vnet_queue *q, struct mbuf *m)
{
	struct virtio_net_hdr *hdr;
	struct vq_seg seg;

	hdr = m_prepend(m, sizeof(*hdr));
	if (hdr == NULL || m->m_next != NULL)
		return EINVAL;
	memset(hdr, 0, sizeof(*hdr));
	if (m->m_flags & M_CSUM_OFFLOAD) {
		hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		hdr->csum_start = m->m_csum_start;
		hdr->csum_offset = m->m_csum_offset;
	}
	seg = (struct vq_seg){ m_phys(m->m_data), m->m_len, false };
	if (virtqueue_add(&q->txq, &seg, 1, m) == 0)
		return 0;
	m_adj(m, sizeof(*hdr));
	return ENOSPC;
}

/* Move waiting frames onto the ring while it has room. */
/* Frames wait in arrival order; a frame that can never go (no headroom
 * for the virtio header) is dropped and counted as an output error. */
static bool vnet_tx_drain(struct vnet_queue *q)
{
	bool offered = false;
	struct mbuf *m;

	while ((m = q->txwait_head) != NULL) {
		int error = vnet_tx_offer(q, m);

		if (error == ENOSPC)
			break;
		q->txwait_head = m->m_nextpkt;
		q->txwait_len--;
		m->m_nextpkt = NULL;
		if (error != 0) {
			q->sc->ifnet.if_cnt[mycpuid].oerrors++;
			m_freem(m);
			continue;
		}
		offered = true;
	}
	return offered;
}

/* A frame to send arrived: queue it, offer what fits. */
static void vnet_tx_enqueue(struct vnet_queue *q, struct mbuf *m)
{
	if (q->txwait_len >= VNET_TXQ_MAX || q->txq.broken) {
		q->sc->ifnet.if_cnt[mycpuid].oerrors++;
		m_freem(m);
		return;
	}
	m->m_nextpkt = NULL;
	if (q->txwait_head == NULL)
		q->txwait_head = m;
	else
		q->txwait_tail->m_nextpkt = m;
	q->txwait_tail = m;
	q->txwait_len++;
	if (q->txq.num_free == 0)
		vnet_tx_collect(q);
	if (vnet_tx_drain(q))
		q->tx_unkicked = true;	/* vnet_dispatch kicks */
}

/* The transmit interrupt: the device is done with some frames; free
 * them and offer what waited for room. */
static void vnet_tx_intr(struct vnet_queue *q)
{
	do {
		vnet_tx_collect(q);
	} while (virtqueue_enable_intr(&q->txq));
	if (vnet_tx_drain(q))
		q->tx_unkicked = true;
}

/*
 * Kick at the end of a batch: when no more messages wait on the port,
 * one doorbell covers every frame offered since the last.  Whatever the
 * last message was (a frame or an interrupt), the doorbell is not
 * forgotten.
 */
static void vnet_batch_end(struct vnet_queue *q)
{
	lwkt_port_t port = &q->server.ms_port;

	if (q->tx_unkicked && TAILQ_EMPTY(&port->mp_msgq) &&
	    TAILQ_EMPTY(&port->mp_msgq_prio)) {
		virtqueue_kick(&q->txq);
		q->tx_unkicked = false;
	}
}

/*
 * The receive watchdog.  Under load QEMU's virtio-net (7.2 here) can
 * stop short: it fills receive buffers but raises no interrupt, or
 * waits for a doorbell for buffers it was already given -- the fuzz test
 * (net_peer) met both, at one CPU, every few runs: used entries that no
 * interrupt announced, while the device took none of 215 posted buffers.
 * QEMU fixed a stall of this kind upstream in 2024 ("virtio-net: fix
 * network stall under load").  The driver cannot fix the device, but it
 * can refuse to sleep forever: every VNET_WATCH_TICKS the server looks
 * at the used ring itself (and counts what it finds: each is an
 * interrupt that never came), and if nothing at all arrived in the
 * period while the device holds buffers, rings the doorbell anyway
 * (virtio 1.2 2.7.13.3 allows a notification at any time).  A healthy
 * device pays one look and, when idle, one doorbell a period.
 */
static void vnet_watch(struct vnet_queue *q)
{
	if (q->rxq.last_used != q->rxq.used->idx) {
		NETSTAT_INC(vnet_rx_lostintr);
		q->rx_stamp = rdtsc();	/* the watchdog stands in for it */
		vnet_rx(q);
	}
	if (q->rxq.last_used == q->watch_last && q->rx_posted > 0 &&
	    !q->rxq.broken) {
		NETSTAT_INC(vnet_rx_idlekick);
		*q->rxq.notify = q->rxq.index;	/* 4.1.5.2 */
	}
	q->watch_last = q->rxq.last_used;
}

/* The callout (softclock thread, the server's CPU): send the round if
 * the last one is home, and come back next period. */
static void vnet_watch_tick(void *arg)
{
	struct vnet_queue *q = arg;

	if (lwkt_checkmsg(&q->watch_msg))
		lwkt_sendmsg(&q->server.ms_port, &q->watch_msg);
	callout_reset(&q->rx_watch, VNET_WATCH_TICKS, vnet_watch_tick, q);
}

/*
 * The interface's output: the frame becomes a message to the server of
 * the sending CPU's pair.  The sender is the netisr that owns the flow,
 * so a flow leaves on its own CPU's queue -- which is also how a tap
 * without RSS learns where to steer the flow's replies.
 */
static void vnet_output(struct ifnet *ifp, struct mbuf *m)
{
	struct vnet_softc *sc = ifp->if_softc;
	struct vnet_queue *q = &sc->q[mycpuid % sc->npairs];

	m_send_to(&q->server.ms_port, m);
}

/* The server's dispatch: one of the two interrupts, the watchdog, or a
 * frame.  The interrupts are replied (which re-arms them); a frame is
 * kept until the device has sent it. */
static int vnet_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct vnet_queue *q = srv->ms_arg;

	int error = 0;

	if (msg == &q->rx_intr.im_msg) {
		q->rx_stamp = rdtsc();	/* the receive-path probe's start */
		intrmsg_take(&q->rx_intr);
		vnet_rx(q);		/* the reply re-arms the interrupt */
	} else if (msg == &q->tx_intr.im_msg) {
		intrmsg_take(&q->tx_intr);
		vnet_tx_intr(q);
	} else if (msg == &q->sc->ctrl_intr.im_msg) {
		intrmsg_take(&q->sc->ctrl_intr);	/* polled: nothing */
	} else if (msg == &q->watch_msg) {
		vnet_watch(q);		/* replied: home for the next round */
	} else {
		vnet_tx_enqueue(q, (struct mbuf *)msg);
		error = EASYNC;		/* freed (replied) once sent */
	}
	vnet_batch_end(q);
	return error;
}

/* ---- attach ------------------------------------------------------------ */

/* Any virtio network device with the modern (1.x) structures. */
static bool vnet_probe(struct pci_dev *pd)
{
	return pd->vendor == VIRTIO_VENDOR &&
	       (pd->device == VIRTIO_MODERN_BASE + VIRTIO_TYPE_NET ||
		pd->device == 0x1000);	/* transitional: modern caps too */
}

/* How many pairs to run: one per CPU, as many as the device and its
 * MSI-X table allow (two entries a pair, one for the control queue). */
static int vnet_pairs_wanted(struct vnet_softc *sc, uint16_t *max_pairs)
{
	int n;

	*max_pairs = 1;
	if (!(sc->vd.features & VIRTIO_NET_F_MQ) ||
	    !(sc->vd.features & VIRTIO_NET_F_CTRL_VQ))	/* 5.1.3.1 */
		return 1;
	virtio_read_config(&sc->vd, VNET_CFG_MAX_PAIRS, max_pairs, 2);
	if (*max_pairs == 0)
		*max_pairs = 1;
	n = MIN(MIN((int)*max_pairs, ncpus), VNET_PAIRS_MAX);
	return MAX(1, MIN(n, (sc->vd.msix_entries - 1) / 2));
}

/* The transport steps, in the spec's order (virtio 1.2, 3.1.1). */
static int vnet_setup_device(struct vnet_softc *sc, struct pci_dev *pd)
{
	const char *name = sc->ifnet.if_name;
	uint16_t max_pairs;
	int error = 0;

	if ((error = virtio_pci_attach(&sc->vd, pd, name)) != 0)
		return error;
	if (sc->vd.msix_entries < 2) {
		kprintf("%s: needs 2 MSI-X entries, has %d\n", name,
			sc->vd.msix_entries);
		virtio_fail(&sc->vd);
		return ENXIO;
	}
	error = virtio_negotiate(&sc->vd, VIRTIO_F_EVENT_IDX |
				 VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS |
				 VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_CSUM |
				 VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_CTRL_VQ |
				 VIRTIO_NET_F_MQ | VIRTIO_NET_F_RSS);
	if (error != 0)
		return error;
	sc->npairs = vnet_pairs_wanted(sc, &max_pairs);
	for (int i = 0; i < sc->npairs && error == 0; i++) {
		struct vnet_queue *q = &sc->q[i];

		q->sc = sc;
		q->index = i;
		q->cpu = i;
		if ((error = virtqueue_setup(&sc->vd, &q->rxq, 2 * i,
					     VNET_QUEUE_MAX, 2 * i,
					     q->cpu)) == 0)
			error = virtqueue_setup(&sc->vd, &q->txq, 2 * i + 1,
						VNET_QUEUE_MAX, 2 * i + 1,
						q->cpu);
	}
	/* The control queue (only to ask for several pairs) is polled;
	 * its interrupt, on the entry after the pairs', goes to pair 0's
	 * server, which only re-arms it. */
	if (error == 0 && sc->npairs > 1)
		error = virtqueue_setup(&sc->vd, &sc->ctrlq, 2 * max_pairs,
					16, 2 * sc->npairs, sc->q[0].cpu);
	if (error != 0) {
		kprintf("%s: queue setup failed (error %d)\n", name, error);
		virtio_fail(&sc->vd);
	}
	return error;
}

/* The MAC (or a fixed local one) and the link state. */
static void vnet_read_config(struct vnet_softc *sc)
{
	static const uint8_t local_mac[ETHER_ADDR_LEN] = {
		0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
	uint16_t status = VIRTIO_NET_S_LINK_UP;

	if (sc->vd.features & VIRTIO_NET_F_MAC)
		virtio_read_config(&sc->vd, VNET_CFG_MAC, sc->ifnet.if_mac,
				   ETHER_ADDR_LEN);
	else
		memcpy(sc->ifnet.if_mac, local_mac, ETHER_ADDR_LEN);
	if (sc->vd.features & VIRTIO_NET_F_STATUS)
		virtio_read_config(&sc->vd, VNET_CFG_STATUS, &status, 2);
	sc->ifnet.if_link_up = (status & VIRTIO_NET_S_LINK_UP) != 0;
	sc->ifnet.if_csum_offload =
		(sc->vd.features & VIRTIO_NET_F_CSUM) != 0;
}

/* ---- the control queue -------------------------------------------------- */

/*
 * The RSS configuration (5.1.6.5.7.1) with our table and key:
 *
 *   le32 hash_types  le16 table_mask  le16 unclassified_queue
 *   le16 table[128]  le16 max_tx_vq   u8 key_length  u8 key[40]
 */
struct vnet_rss_config {
	uint32_t hash_types;
	uint16_t table_mask;
	uint16_t unclassified_queue;
	uint16_t table[VNET_RSS_TABLE];
	uint16_t max_tx_vq;
	uint8_t key_length;
	uint8_t key[VNET_RSS_KEY];
} __packed;

/* The command buffers: one page-contained allocation, so each part is
 * physically contiguous. */
struct vnet_ctrl {
	uint8_t class, cmd;
	uint8_t ack;
	uint16_t pairs;
	struct vnet_rss_config rss;
} __packed;

/*
 * Send one command and wait for the device's ack (a few ticks at most:
 * QEMU answers at the doorbell).  Returns 0, or EIO if the device said
 * no or never answered.  Attach thread, after DRIVER_OK.
 */
static int vnet_ctrl_cmd(struct vnet_softc *sc, struct vnet_ctrl *c,
			 const void *data, uint32_t len)
{
	struct vq_seg segs[3] = {
		{ m_phys(&c->class), 2, false },
		{ m_phys(data), len, false },
		{ m_phys(&c->ack), 1, true },
	};
	uint32_t got;

	c->ack = 0xff;
	if (virtqueue_add(&sc->ctrlq, segs, 3, c) != 0)
		return EIO;
	virtqueue_kick(&sc->ctrlq);
	for (int t = 0; t < HZ; t++) {
		if (virtqueue_get(&sc->ctrlq, &got) != NULL)
			return c->ack == VIRTIO_NET_OK ? 0 : EIO;
		tsleep(&sc->ctrlq, 0, "vnetctl", 1);
	}
	return EIO;
}

/* Ask the device for npairs pairs: with RSS, steering by our own hash;
 * without, just the number.  Attach thread. */
static int vnet_steer(struct vnet_softc *sc)
{
	struct vnet_ctrl *c = kmalloc(MCLBYTES, M_VNET, M_WAITOK | M_ZERO);
	struct vnet_rss_config *r = &c->rss;
	int error;

	_Static_assert(sizeof(struct vnet_ctrl) <= MCLBYTES, "one chunk");
	c->class = VIRTIO_NET_CTRL_MQ;
	if (sc->vd.features & VIRTIO_NET_F_RSS) {
		c->cmd = VIRTIO_NET_CTRL_MQ_RSS_CONFIG;
		r->hash_types = VIRTIO_NET_RSS_HASH_TYPE_TCPv4 |
				VIRTIO_NET_RSS_HASH_TYPE_UDPv4;
		r->table_mask = VNET_RSS_TABLE - 1;
		for (int i = 0; i < VNET_RSS_TABLE; i++)
			r->table[i] = (uint16_t)(i % sc->npairs);
		r->max_tx_vq = (uint16_t)sc->npairs;
		r->key_length = VNET_RSS_KEY;
		for (int i = 0; i < VNET_RSS_KEY; i++)
			r->key[i] = i % 2 ? TOEPLITZ_KEY1 : TOEPLITZ_KEY0;
		error = vnet_ctrl_cmd(sc, c, r, sizeof(*r));
		sc->rss = error == 0;
	} else {
		c->cmd = VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET;
		c->pairs = (uint16_t)sc->npairs;
		error = vnet_ctrl_cmd(sc, c, &c->pairs, sizeof(c->pairs));
	}
	kfree(c, M_VNET);
	return error;
}

/* ---- attach ------------------------------------------------------------ */

/* One pair's server, interrupts and receive buffers (before DRIVER_OK:
 * the server gets no interrupt yet, so filling here is safe). */
static int vnet_queue_start(struct vnet_queue *q)
{
	char name[IFNAMSIZ + 4];
	int error;

	ksnprintf(name, sizeof(name), "%s.%d", q->sc->ifnet.if_name,
		  q->index);
	if ((error = msgserver_start(&q->server, name, q->cpu, vnet_dispatch,
				     q)) != 0 ||
	    (error = intrmsg_bind(&q->rx_intr, q->rxq.vector, q->cpu,
				  &q->server.ms_port)) != 0 ||
	    (error = intrmsg_bind(&q->tx_intr, q->txq.vector, q->cpu,
				  &q->server.ms_port)) != 0)
		return error;
	vnet_rx_fill(q);
	return 0;
}

/* The receive watchdog of one pair, on its CPU (after DRIVER_OK). */
static void vnet_queue_watch(struct vnet_queue *q)
{
	lwkt_initport_replyonly_null(&q->watch_rport);
	lwkt_initmsg(&q->watch_msg, &q->watch_rport, 0);
	callout_init(&q->rx_watch);
	callout_reset_bycpu(&q->rx_watch, VNET_WATCH_TICKS, vnet_watch_tick,
			    q, q->cpu);
}

/*
 * Attach: transport, queues, a server thread per pair, interrupts,
 * receive buffers, DRIVER_OK, the steering command, then the interface.
 * A failure leaves the device FAILED and the machine booting without it;
 * a refused steering command leaves one pair, which always works.
 */
static int vnet_attach(struct pci_dev *pd)
{
	struct vnet_softc *sc = kmalloc(sizeof(*sc), M_VNET,
					M_WAITOK | M_ZERO);
	const uint8_t *e = sc->ifnet.if_mac;
	int error;

	ksnprintf(sc->ifnet.if_name, IFNAMSIZ, "vnet%d", vnet_units);
	if ((error = vnet_setup_device(sc, pd)) != 0)
		return error;
	vnet_read_config(sc);
	sc->ifnet.if_softc = sc;
	sc->ifnet.if_output = vnet_output;
	for (int i = 0; i < sc->npairs; i++)
		if ((error = vnet_queue_start(&sc->q[i])) != 0)
			return error;
	if (sc->npairs > 1 &&
	    (error = intrmsg_bind(&sc->ctrl_intr, sc->ctrlq.vector,
				  sc->q[0].cpu, &sc->q[0].server.ms_port)) != 0)
		return error;
	if ((error = virtio_driver_ok(&sc->vd)) != 0)
		return error;
	if (sc->npairs > 1 && vnet_steer(sc) != 0) {
		kprintf("%s: the device refused %d queue pairs; using one\n",
			sc->ifnet.if_name, sc->npairs);
		sc->npairs = 1;
	}
	for (int i = 0; i < sc->npairs; i++)
		vnet_queue_watch(&sc->q[i]);
	if_attach(&sc->ifnet);
	pd->softc = sc;
	vnet_units++;
	kprintf("%s: %02x:%02x:%02x:%02x:%02x:%02x, link %s, %d queue pair%s "
		"of %u/%u%s%s%s%s\n", sc->ifnet.if_name, e[0], e[1], e[2],
		e[3], e[4], e[5], sc->ifnet.if_link_up ? "up" : "down",
		sc->npairs, sc->npairs > 1 ? "s" : "", sc->q[0].rxq.size,
		sc->q[0].txq.size,
		sc->vd.features & VIRTIO_NET_F_MRG_RXBUF ? ", mrg-rxbuf" : "",
		sc->ifnet.if_csum_offload ? ", csum" : "",
		sc->q[0].rxq.event_idx ? ", event-idx" : "",
		sc->rss ? ", rss" : "");
	return 0;
}

/* Frames each receive queue of ifp took so far, into counts[0..max);
 * returns the number of pairs (0 if ifp is not a virtio-net device). */
int vnet_rx_per_queue(struct ifnet *ifp, uint64_t *counts, int max)
{
	struct vnet_softc *sc;

	if (ifp == NULL || ifp->if_output != vnet_output)
		return 0;
	sc = ifp->if_softc;
	for (int i = 0; i < sc->npairs && i < max; i++)
		counts[i] = __atomic_load_n(&sc->q[i].rx_frames,
					    __ATOMIC_RELAXED);
	return sc->npairs;
}

static const struct pci_driver vnet_driver = {
	.name = "virtio-net", .probe = vnet_probe, .attach = vnet_attach,
};
PCI_DRIVER(vnet_driver);
