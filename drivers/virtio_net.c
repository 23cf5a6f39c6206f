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
#include <kern/timeout.h>
#include <drivers/virtio.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/netstat.h>

MALLOC_DEFINE(M_VNET, "vnet", "virtio network devices");

/* Device features (virtio 1.2, 5.1.3). */
#define VIRTIO_NET_F_CSUM	(1ULL << 0)	/* device completes TX sums */
#define VIRTIO_NET_F_GUEST_CSUM	(1ULL << 1)	/* RX sums may be unchecked */
#define VIRTIO_NET_F_MAC	(1ULL << 5)
#define VIRTIO_NET_F_MRG_RXBUF	(1ULL << 15)
#define VIRTIO_NET_F_STATUS	(1ULL << 16)

/* Device configuration (5.1.4). */
#define VNET_CFG_MAC		0
#define VNET_CFG_STATUS		6
#define VIRTIO_NET_S_LINK_UP	1

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

struct vnet_softc {
	struct msg_server server;	/* first: its port takes frames */
	struct ifnet ifnet;
	struct virtio_dev vd;
	struct virtqueue rxq, txq;
	struct intr_msg rx_intr, tx_intr;
	struct callout rx_watch;	/* sends watch_msg every period */
	struct lwkt_msg watch_msg;	/* home (DONE) between rounds */
	struct lwkt_port watch_rport;
	int cpu;
	/* The rest belongs to the server thread. */
	int rx_posted;			/* buffers the device holds */
	struct mbuf *txwait_head, *txwait_tail;	/* no ring room yet */
	int txwait_len;
	bool tx_unkicked;		/* offered frames the device not told of */
	uint64_t rx_merged;		/* frames that spanned buffers */
	uint64_t rx_broken;		/* malformed by the device: dropped */
	uint16_t watch_last;		/* rxq.last_used at the last round */
};

static int vnet_units;

/* ---- receive ---------------------------------------------------------- */

/* Post fresh buffers until the ring is full (or memory runs out). */
static void vnet_rx_fill(struct vnet_softc *sc)
{
	bool posted = false;
	struct mbuf *m;

	while (sc->rxq.num_free > 0 && (m = m_get()) != NULL) {
		struct vq_seg seg = { m_phys(m->m_buf + MRXOFF),
				      MCLBYTES - MRXOFF, true };

		if (virtqueue_add(&sc->rxq, &seg, 1, m) != 0) {
			m_freem(m);
			break;
		}
		sc->rx_posted++;
		posted = true;
	}
	if (posted)
		virtqueue_kick(&sc->rxq);
}

/* Take the next filled buffer as an mbuf of len bytes, or NULL. */
static struct mbuf *vnet_rx_take(struct vnet_softc *sc)
{
	uint32_t len;
	struct mbuf *m = virtqueue_get(&sc->rxq, &len);

	if (m == NULL)
		return NULL;
	sc->rx_posted--;
	m->m_data = m->m_buf + MRXOFF;
	m->m_len = MIN(len, (uint32_t)(MCLBYTES - MRXOFF));
	return m;
}

/*
 * One frame: its first buffer m (virtio header in front) and, with
 * MRG_RXBUF, num_buffers - 1 more.  NULL if the device broke the rules.
 */
static struct mbuf *vnet_rx_frame(struct vnet_softc *sc, struct mbuf *m)
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
	if (sc->vd.features & VIRTIO_NET_F_MRG_RXBUF)
		nbufs = hdr.num_buffers;
	if (nbufs > 1)
		sc->rx_merged++;
	for (uint16_t i = 1; i < nbufs; i++) {
		struct mbuf *n = vnet_rx_take(sc);

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
static void vnet_rx(struct vnet_softc *sc)
{
	struct mbuf *m;

	do {
		while ((m = vnet_rx_take(sc)) != NULL) {
			if ((m = vnet_rx_frame(sc, m)) == NULL) {
				sc->rx_broken++;
				sc->ifnet.if_cnt[mycpuid].ierrors++;
				continue;
			}
			ether_input(&sc->ifnet, m);
		}
		vnet_rx_fill(sc);
	} while (virtqueue_enable_intr(&sc->rxq));
}

/* ---- transmit --------------------------------------------------------- */

/* Free what the device has sent. */

static void vnet_tx_collect(struct vnet_softc *sc)
{
	struct mbuf *m;

	while ((m = virtqueue_get(&sc->txq, NULL)) != NULL)
		m_freem(m);
}

/* Offer one frame; ENOSPC when the ring is full (m stays ours). */
static int vnet_tx_offer(struct vnet_softc *sc, struct mbuf *m)
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
	if (virtqueue_add(&sc->txq, &seg, 1, m) == 0)
		return 0;
	m_adj(m, sizeof(*hdr));
	return ENOSPC;
}

/* Move waiting frames onto the ring while it has room. */
/* Frames wait in arrival order; a frame that can never go (no headroom
 * for the virtio header) is dropped and counted as an output error. */
static bool vnet_tx_drain(struct vnet_softc *sc)
{
	bool offered = false;
	struct mbuf *m;

	while ((m = sc->txwait_head) != NULL) {
		int error = vnet_tx_offer(sc, m);

		if (error == ENOSPC)
			break;
		sc->txwait_head = m->m_nextpkt;
		sc->txwait_len--;
		m->m_nextpkt = NULL;
		if (error != 0) {
			sc->ifnet.if_cnt[mycpuid].oerrors++;
			m_freem(m);
			continue;
		}
		offered = true;
	}
	return offered;
}

/* A frame to send arrived: queue it, offer what fits. */
static void vnet_tx_enqueue(struct vnet_softc *sc, struct mbuf *m)
{
	if (sc->txwait_len >= VNET_TXQ_MAX || sc->txq.broken) {
		sc->ifnet.if_cnt[mycpuid].oerrors++;
		m_freem(m);
		return;
	}
	m->m_nextpkt = NULL;
	if (sc->txwait_head == NULL)
		sc->txwait_head = m;
	else
		sc->txwait_tail->m_nextpkt = m;
	sc->txwait_tail = m;
	sc->txwait_len++;
	if (sc->txq.num_free == 0)
		vnet_tx_collect(sc);
	if (vnet_tx_drain(sc))
		sc->tx_unkicked = true;	/* vnet_dispatch kicks */
}

/* The transmit interrupt: the device is done with some frames; free
 * them and offer what waited for room. */
static void vnet_tx_intr(struct vnet_softc *sc)
{
	do {
		vnet_tx_collect(sc);
	} while (virtqueue_enable_intr(&sc->txq));
	if (vnet_tx_drain(sc))
		sc->tx_unkicked = true;
}

/*
 * Kick at the end of a batch: when no more messages wait on the port,
 * one doorbell covers every frame offered since the last.  Whatever the
 * last message was (a frame or an interrupt), the doorbell is not
 * forgotten.
 */
static void vnet_batch_end(struct vnet_softc *sc)
{
	lwkt_port_t port = &sc->server.ms_port;

	if (sc->tx_unkicked && TAILQ_EMPTY(&port->mp_msgq) &&
	    TAILQ_EMPTY(&port->mp_msgq_prio)) {
		virtqueue_kick(&sc->txq);
		sc->tx_unkicked = false;
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
static void vnet_watch(struct vnet_softc *sc)
{
	if (sc->rxq.last_used != sc->rxq.used->idx) {
		NETSTAT_INC(vnet_rx_lostintr);
		vnet_rx(sc);
	}
	if (sc->rxq.last_used == sc->watch_last && sc->rx_posted > 0 &&
	    !sc->rxq.broken) {
		NETSTAT_INC(vnet_rx_idlekick);
		*sc->rxq.notify = sc->rxq.index;	/* 4.1.5.2 */
	}
	sc->watch_last = sc->rxq.last_used;
}

/* The callout (softclock thread, the server's CPU): send the round if
 * the last one is home, and come back next period. */
static void vnet_watch_tick(void *arg)
{
	struct vnet_softc *sc = arg;

	if (lwkt_checkmsg(&sc->watch_msg))
		lwkt_sendmsg(&sc->server.ms_port, &sc->watch_msg);
	callout_reset(&sc->rx_watch, VNET_WATCH_TICKS, vnet_watch_tick, sc);
}

/* The interface's output: the frame becomes a message to the server. */
static void vnet_output(struct ifnet *ifp, struct mbuf *m)
{
	struct vnet_softc *sc = ifp->if_softc;

	m_send_to(&sc->server.ms_port, m);
}

/* The server's dispatch: one of the two interrupts, the watchdog, or a
 * frame.  The interrupts are replied (which re-arms them); a frame is
 * kept until the device has sent it. */
static int vnet_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct vnet_softc *sc = srv->ms_arg;

	int error = 0;

	if (msg == &sc->rx_intr.im_msg) {
		intrmsg_take(&sc->rx_intr);
		vnet_rx(sc);		/* the reply re-arms the interrupt */
	} else if (msg == &sc->tx_intr.im_msg) {
		intrmsg_take(&sc->tx_intr);
		vnet_tx_intr(sc);
	} else if (msg == &sc->watch_msg) {
		vnet_watch(sc);		/* replied: home for the next round */
	} else {
		vnet_tx_enqueue(sc, (struct mbuf *)msg);
		error = EASYNC;		/* freed (replied) once sent */
	}
	vnet_batch_end(sc);
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

/* The transport steps, in the spec's order (virtio 1.2, 3.1.1). */
static int vnet_setup_device(struct vnet_softc *sc, struct pci_dev *pd)
{
	const char *name = sc->ifnet.if_name;
	int error;

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
				 VIRTIO_NET_F_GUEST_CSUM);
	if (error != 0)
		return error;
	if ((error = virtqueue_setup(&sc->vd, &sc->rxq, 0, VNET_QUEUE_MAX, 0,
				     sc->cpu)) != 0 ||
	    (error = virtqueue_setup(&sc->vd, &sc->txq, 1, VNET_QUEUE_MAX, 1,
				     sc->cpu)) != 0) {
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

/*
 * Attach: transport, queues, server thread, interrupts, receive buffers,
 * DRIVER_OK, then the interface.  The server runs on CPU 0; frames then
 * fan out to the netisr of their flow.  A failure leaves the device
 * FAILED and the machine booting without it.
 */
static int vnet_attach(struct pci_dev *pd)
{
	struct vnet_softc *sc = kmalloc(sizeof(*sc), M_VNET,
					M_WAITOK | M_ZERO);
	const uint8_t *e = sc->ifnet.if_mac;
	int error;

	ksnprintf(sc->ifnet.if_name, IFNAMSIZ, "vnet%d", vnet_units);
	sc->cpu = 0;
	if ((error = vnet_setup_device(sc, pd)) != 0)
		return error;
	vnet_read_config(sc);
	sc->ifnet.if_softc = sc;
	sc->ifnet.if_output = vnet_output;
	if ((error = msgserver_start(&sc->server, sc->ifnet.if_name, sc->cpu,
				     vnet_dispatch, sc)) != 0 ||
	    (error = intrmsg_bind(&sc->rx_intr, sc->rxq.vector, sc->cpu,
				  &sc->server.ms_port)) != 0 ||
	    (error = intrmsg_bind(&sc->tx_intr, sc->txq.vector, sc->cpu,
				  &sc->server.ms_port)) != 0)
		return error;
	/* Receive buffers go in before DRIVER_OK (3.1.1 step 7); the
	 * server is not yet getting interrupts, so filling here is safe. */
	vnet_rx_fill(sc);
	if ((error = virtio_driver_ok(&sc->vd)) != 0)
		return error;
	lwkt_initport_replyonly_null(&sc->watch_rport);
	lwkt_initmsg(&sc->watch_msg, &sc->watch_rport, 0);
	callout_init(&sc->rx_watch);
	callout_reset_bycpu(&sc->rx_watch, VNET_WATCH_TICKS, vnet_watch_tick,
			    sc, sc->cpu);
	if_attach(&sc->ifnet);
	pd->softc = sc;
	vnet_units++;
	kprintf("%s: %02x:%02x:%02x:%02x:%02x:%02x, link %s, queues %u/%u%s%s"
		"%s, on cpu%d\n", sc->ifnet.if_name, e[0], e[1], e[2], e[3],
		e[4], e[5], sc->ifnet.if_link_up ? "up" : "down",
		sc->rxq.size, sc->txq.size,
		sc->vd.features & VIRTIO_NET_F_MRG_RXBUF ? ", mrg-rxbuf" : "",
		sc->ifnet.if_csum_offload ? ", csum" : "",
		sc->rxq.event_idx ? ", event-idx" : "", sc->cpu);
	return 0;
}

static const struct pci_driver vnet_driver = {
	.name = "virtio-net", .probe = vnet_probe, .attach = vnet_attach,
};
PCI_DRIVER(vnet_driver);
