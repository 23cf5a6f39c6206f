/*
 * virtio_blk.c - the virtio block device as a message server.
 *
 * Each disk gets a server thread (msgserver) that owns its virtqueue.
 * Everything the driver does happens in that thread, in response to one
 * of two kinds of message arriving on its port:
 *
 *   a struct blk_msg      a request from any thread on any CPU: checked,
 *                         turned into a descriptor chain, offered to the
 *                         device, and kept (EASYNC) until it completes;
 *   the interrupt message the queue's MSI-X vector, delivered through
 *                         intrmsg_bind: collect every finished chain and
 *                         reply to its request with 0 or EIO.
 *
 *        any thread                 vblk server thread            device
 *   lwkt_domsg(port, bm) ---------> vblk_start: chain, kick -----> DMA
 *                                                                   |
 *   wakes with ms_error <--------- vblk_complete: reply  <--- MSI-X message
 *
 * So the queue has a single owner and no lock; the hard interrupt does
 * nothing but post the message (and, for a device without MSI-X, mask
 * its level-triggered INTx line, which the server unmasks after reading
 * the ISR byte that lowers it).  Requests that find the ring full wait
 * on vblk_softc.waiting, in arrival order, and go out as completions
 * free room.
 *
 * One request on the ring (virtio 1.2, 5.2.6):
 *
 *   [ header: type, reserved, sector ]  device reads    16 bytes
 *   [ data ... one segment per page ]   device reads (write) or writes
 *   [ status ]                          device writes    1 byte
 *
 * The header and status live in a per-slot array in one physically
 * contiguous allocation; the data is the caller's buffer, split where
 * its pages are not physically adjacent.  The status starts at 0xff, so
 * a device that never writes it shows up as an error.
 *
 * Slots and their invariants.  There is one slot per ring entry (nslots
 * == vq.size), so with indirect descriptors a full set of slots is a
 * full ring; without them a request takes several ring descriptors, and
 * the ring may fill first (virtqueue_add says ENOSPC, and the request
 * waits like any other).  Between messages:
 *
 *   - slot_req[s] != NULL exactly when slot s is on the ring, and the
 *     virtqueue's cookie for its chain is &slot_req[s] (so a completion
 *     names its slot by pointer arithmetic, with nothing to look up);
 *   - free_slots[0..nfree) are the other slots: nfree + in_flight ==
 *     nslots;
 *   - a request is in exactly one place: the sender's, `waiting`, a
 *     slot, or replied.
 *
 * Durability (virtio 1.2, 5.2.6.2): a completed write is stable only
 * after a FLUSH sent after it completed has completed too.  Requests in
 * flight complete in any order, so this driver never reorders anything
 * for the caller: HMR waits for its writes, then sends the flush.  A
 * device without VIRTIO_BLK_F_FLUSH is write-through (5.2.5.1 lets the
 * driver deduce so), and a flush then completes at once.
 *
 * Locking: none.  Every field after `intx_irq` in struct vblk_softc
 * belongs to the server thread, which runs on sc->cpu and never moves;
 * the fields up to it are set at attach and read-only afterwards, but
 * for the queue and the interrupt message (the server's too) and two
 * fields of bd: bd.stats, written by the server and read racily by
 * anyone (counters, for display), and bd.inject_eio, which tests arm
 * from any thread and the server decrements, both atomically.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/msgport.h>
#include <kern/panic.h>
#include <drivers/blkdev.h>
#include <drivers/virtio.h>
#include <machine/vmparam.h>
#include <vm/pmap.h>
#include <vm/vm_page.h>

MALLOC_DEFINE(M_VBLK, "vblk", "virtio block devices");

/* Device features (virtio 1.2, 5.2.3): the bit numbers. */
#define VIRTIO_BLK_F_SEG_MAX	(1ULL << 2)
#define VIRTIO_BLK_F_RO		(1ULL << 5)
#define VIRTIO_BLK_F_BLK_SIZE	(1ULL << 6)
#define VIRTIO_BLK_F_FLUSH	(1ULL << 9)

/* Device configuration offsets (5.2.4).  capacity is in 512-byte
 * sectors whatever blk_size says; seg_max exists with F_SEG_MAX. */
#define VBLK_CFG_CAPACITY	0	/* le64, 512-byte sectors */
#define VBLK_CFG_SEG_MAX	12	/* le32, data segments per request */

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_S_OK		0	/* 1 IOERR, 2 UNSUPP: both EIO here */
#define VBLK_STATUS_UNSET	0xff	/* no status the device can write */

#define VBLK_QUEUE_MAX		256	/* ring entries we ask for */
/* Segments of the largest request: one per data page, one more for a
 * buffer that does not start on a page boundary, and the header and
 * status.  Also within one indirect table (VQ_MAX_INDIRECT). */
#define VBLK_MAX_SEGS		(BLK_MAX_TRANSFER / PAGE_SIZE + 1 + 2)
_Static_assert(VBLK_MAX_SEGS <= VQ_MAX_INDIRECT,
	       "a request must fit one indirect table");

/*
 * A slot's device-visible part: the request header the device reads
 * (struct virtio_blk_req's first 16 bytes, 5.2.6) and the status byte it
 * writes, at offset 16.  32 bytes, so none crosses a page of the
 * page-aligned array: each is physically contiguous.
 */
struct vblk_slot {
	uint32_t type;			/* VIRTIO_BLK_T_* */
	uint32_t reserved;
	uint64_t sector;		/* 512-byte units; 0 for a flush */
	uint8_t status;			/* VIRTIO_BLK_S_*, device-written */
	uint8_t pad[15];
};
_Static_assert(sizeof(struct vblk_slot) == 32, "a slot is 32 bytes");

/* One disk; who owns which field is in the file comment. */
struct vblk_softc {
	struct msg_server server;	/* first: its port is the device's */
	struct blkdev bd;
	struct virtio_dev vd;
	struct virtqueue vq;
	struct intr_msg intr;
	int cpu;			/* where the server runs */
	int intx_irq;			/* INTx mode: its ISA IRQ; 0 with MSI-X */
	/* The rest belongs to the server thread. */
	struct vblk_slot *slots;	/* direct-mapped, contiguous */
	vm_paddr_t slots_pa;
	struct blk_msg **slot_req;	/* the request in each slot */
	uint16_t *free_slots;		/* a stack of free slot numbers */
	int nfree, nslots;
	uint32_t seg_max;		/* data segments per request */
	TAILQ_HEAD(, blk_msg) waiting;	/* no ring room yet */
};

static int vblk_units;			/* disks attached: boot thread */

/* ---- building a request --------------------------------------------------- */

/*
 * Split [va, va + len) into physically contiguous segments, merging
 * pages that happen to be adjacent.  Returns the count, -EFAULT for an
 * address with no page behind it, or -EINVAL when more than max
 * segments would be needed.  A read fills the buffer, so its segments
 * are device-writable.
 */
static int vblk_data_segs(const struct blk_msg *bm, struct vq_seg *segs,
			  int max)
{
	vm_offset_t va = (vm_offset_t)bm->br_data, end = va + bm->br_len;
	bool to_memory = bm->br_cmd == BLK_READ;
	int n = 0;

	while (va < end) {
		vm_paddr_t pa = pmap_kextract(va);
		uint32_t chunk = MIN(end - va, PAGE_SIZE - (va & PAGE_MASK));

		if (pa == (vm_paddr_t)-1)
			return -EFAULT;
		if (n > 0 && segs[n - 1].pa + segs[n - 1].len == pa) {
			segs[n - 1].len += chunk;
		} else {
			if (n == max)
				return -EINVAL;
			segs[n++] = (struct vq_seg){ pa, chunk, to_memory };
		}
		va += chunk;
	}
	return n;
}

/* The virtio request type of a blk_msg (blkdev_check allowed these). */
static uint32_t vblk_type(enum blk_cmd cmd)
{
	return cmd == BLK_READ ? VIRTIO_BLK_T_IN :
	       cmd == BLK_WRITE ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_FLUSH;
}

/*
 * Offer bm to the device in a free slot.  Returns 0, ENOSPC when the
 * ring is full (bm stays with the caller), or another errno for a
 * request that can never go (bm is then the caller's to reply).
 */
static int vblk_offer(struct vblk_softc *sc, struct blk_msg *bm)
{
	struct vq_seg segs[VBLK_MAX_SEGS];
	int slot, ndata = 0, error;

	KASSERT(sc->nfree >= 0 && sc->nfree <= sc->nslots, "%s: %d free "
		"slots of %d", sc->bd.name, sc->nfree, sc->nslots);
	if (sc->nfree == 0)
		return ENOSPC;
	/* A flush has no data segments (5.2.6.1): header and status only. */
	if (bm->br_cmd != BLK_FLUSH) {
		ndata = vblk_data_segs(bm, segs + 1, sc->seg_max);
		if (ndata < 0)
			return -ndata;
	}
	/* Peek at a free slot; it is taken only once the ring took the
	 * chain, so an ENOSPC leaves everything as it was. */
	slot = sc->free_slots[sc->nfree - 1];
	sc->slots[slot] = (struct vblk_slot){
		.type = vblk_type(bm->br_cmd), .sector = bm->br_sector,
		.status = VBLK_STATUS_UNSET,
	};
	/* Readable header first, then data, then the writable status. */
	segs[0] = (struct vq_seg){ sc->slots_pa + slot * 32, 16, false };
	segs[ndata + 1] = (struct vq_seg){ sc->slots_pa + slot * 32 + 16, 1,
					   true };
	error = virtqueue_add(&sc->vq, segs, ndata + 2,
			      &sc->slot_req[slot]);
	if (error != 0)
		return error;
	sc->nfree--;
	sc->slot_req[slot] = bm;
	if (++sc->bd.stats.in_flight > sc->bd.stats.max_in_flight)
		sc->bd.stats.max_in_flight = sc->bd.stats.in_flight;
	return 0;
}

/*
 * Move waiting requests onto the ring while it has room, in arrival
 * order, then kick once for the batch.  A request that can never go
 * (a buffer with no page behind it, too many segments) is replied to
 * with its error here.  Server thread.
 */
static void vblk_start(struct vblk_softc *sc)
{
	struct blk_msg *bm;
	bool offered = false;

	while ((bm = TAILQ_FIRST(&sc->waiting)) != NULL) {
		int error = vblk_offer(sc, bm);

		if (error == ENOSPC)
			break;
		TAILQ_REMOVE(&sc->waiting, bm, br_link);
		if (error != 0) {
			sc->bd.stats.errors++;
			lwkt_replymsg(&bm->br_msg, error);
			continue;
		}
		offered = true;
	}
	if (offered)
		virtqueue_kick(&sc->vq);
}

/* ---- completion ------------------------------------------------------------ */

/* Count a finished request, whatever its outcome.  Server thread. */
static void vblk_count(struct blkdev_stats *st, const struct blk_msg *bm)
{
	if (bm->br_cmd == BLK_READ) {
		st->reads++;
		st->bytes_read += bm->br_len;
	} else if (bm->br_cmd == BLK_WRITE) {
		st->writes++;
		st->bytes_written += bm->br_len;
	} else {
		st->flushes++;
	}
}

/*
 * Reply to the request in one finished slot, and free the slot.  Any
 * status but OK -- IOERR, UNSUPP, or the 0xff the device never
 * overwrote -- is EIO for this request and nothing else.  Server thread.
 */
static void vblk_finish(struct vblk_softc *sc, struct blk_msg **cookie)
{
	int slot = cookie - sc->slot_req;
	struct blk_msg *bm = *cookie;
	int error = sc->slots[slot].status == VIRTIO_BLK_S_OK ? 0 : EIO;

	KASSERT(slot >= 0 && slot < sc->nslots && bm != NULL, "%s: a "
		"completion for slot %d, which holds no request", sc->bd.name,
		slot);
	*cookie = NULL;
	sc->free_slots[sc->nfree++] = slot;
	sc->bd.stats.in_flight--;
	vblk_count(&sc->bd.stats, bm);
	if (error)
		sc->bd.stats.errors++;
	lwkt_replymsg(&bm->br_msg, error);
}

/*
 * Collect every finished chain; re-arm the interrupt without losing one
 * (virtqueue_enable_intr looks again after re-arming).  Then start
 * waiting requests in the slots just freed.  Server thread.
 */
static void vblk_complete(struct vblk_softc *sc)
{
	struct blk_msg **cookie;

	do {
		while ((cookie = virtqueue_get(&sc->vq, NULL)) != NULL)
			vblk_finish(sc, cookie);
	} while (virtqueue_enable_intr(&sc->vq));
	vblk_start(sc);
}

/*
 * The server's dispatch: an interrupt, or a request.  The return value
 * is the reply: 0 or an errno replies at once, EASYNC keeps the message
 * (a request on its way to the device, replied by vblk_finish).  Runs in
 * the server thread on sc->cpu, one message at a time.
 */
static int vblk_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct vblk_softc *sc = srv->ms_arg;
	struct blk_msg *bm = (struct blk_msg *)msg;
	int error;

	KASSERT(mycpu->gd_cpuid == sc->cpu, "%s: served on cpu%d, owned by "
		"cpu%d", sc->bd.name, mycpu->gd_cpuid, sc->cpu);
	if (msg == &sc->intr.im_msg) {
		sc->bd.stats.interrupts += intrmsg_take(&sc->intr);
		if (sc->intx_irq)
			virtio_isr_ack(&sc->vd);	/* lowers the line */
		vblk_complete(sc);
		if (sc->intx_irq)		/* quiet now: let it fire again */
			pci_intx_unmask(sc->intx_irq);
		return 0;		/* the reply re-arms the interrupt */
	}
	/* Checked again here: a sender may skip blkdev_rw's check. */
	if ((error = blkdev_check(&sc->bd, bm)) != 0)
		return error;
	/* Decrement only a positive count; the atomic keeps a test that
	 * arms it from another CPU from losing or doubling an error. */
	if (sc->bd.inject_eio[bm->br_cmd] > 0 &&
	    __atomic_sub_fetch(&sc->bd.inject_eio[bm->br_cmd], 1,
			       __ATOMIC_RELAXED) >= 0) {
		sc->bd.stats.errors++;
		return EIO;		/* a test asked for this error */
	}
	if (bm->br_cmd == BLK_FLUSH && !sc->bd.can_flush) {
		sc->bd.stats.flushes++;
		return 0;		/* write-through: nothing to flush */
	}
	if (sc->vq.broken)
		return EIO;
	TAILQ_INSERT_TAIL(&sc->waiting, bm, br_link);
	vblk_start(sc);
	return EASYNC;
}

/* ---- attach -------------------------------------------------------------- */

/*
 * A virtio block device: vendor 0x1af4 with the modern id 0x1040 + 2, or
 * the transitional id 0x1001 (virtio 1.2, 4.1.2), which also has the
 * modern capabilities when QEMU is not told disable-modern.  No side
 * effects (pci_driver's rule).
 */
static bool vblk_probe(struct pci_dev *pd)
{
	return pd->vendor == VIRTIO_VENDOR &&
	       (pd->device == VIRTIO_MODERN_BASE + VIRTIO_TYPE_BLOCK ||
		pd->device == 0x1001);	/* transitional: modern caps too */
}

/*
 * Slots: the device-visible array (contiguous, so slot s is at
 * slots_pa + 32 s), and the server's bookkeeping.  free_slots starts
 * as a stack with slot 0 on top.  Attaching thread; may sleep.
 */
static int vblk_alloc_slots(struct vblk_softc *sc)
{
	size_t bytes = sizeof(struct vblk_slot) * sc->nslots;
	vm_page_t m = vm_page_alloc_contig((bytes + PAGE_SIZE - 1) / PAGE_SIZE,
					   PAGE_SIZE, VM_ALLOC_NOWAIT |
					   VM_ALLOC_ZERO);

	if (m == NULL)
		return ENOMEM;
	sc->slots_pa = VM_PAGE_TO_PHYS(m);
	sc->slots = PHYS_TO_DMAP(sc->slots_pa);
	sc->slot_req = kmalloc(sizeof(*sc->slot_req) * sc->nslots, M_VBLK,
			       M_WAITOK | M_ZERO);
	sc->free_slots = kmalloc(sizeof(uint16_t) * sc->nslots, M_VBLK,
				 M_WAITOK);
	for (int i = 0; i < sc->nslots; i++)
		sc->free_slots[i] = sc->nslots - 1 - i;
	sc->nfree = sc->nslots;
	return 0;
}

/*
 * What the device says about itself: size, read-only, segments.  Our
 * own limit wins when it is smaller, and a request's whole chain
 * (data + 2) must be no longer than the queue, indirect or not.
 */
static void vblk_read_config(struct vblk_softc *sc)
{
	uint64_t capacity;
	uint32_t seg_max = VBLK_MAX_SEGS - 2;

	virtio_read_config(&sc->vd, VBLK_CFG_CAPACITY, &capacity, 8);
	if (sc->vd.features & VIRTIO_BLK_F_SEG_MAX)
		virtio_read_config(&sc->vd, VBLK_CFG_SEG_MAX, &seg_max, 4);
	sc->bd.nsectors = capacity;
	sc->bd.read_only = (sc->vd.features & VIRTIO_BLK_F_RO) != 0;
	sc->bd.can_flush = (sc->vd.features & VIRTIO_BLK_F_FLUSH) != 0;
	sc->seg_max = MIN(seg_max, (uint32_t)VBLK_MAX_SEGS - 2);
	/* A chain (header, data, status) is never longer than the queue,
	 * indirect or not (virtio 1.2, 2.7.5.3.1): on a small queue a
	 * request with more data segments is refused with EINVAL. */
	sc->seg_max = MIN(sc->seg_max, (uint32_t)sc->vq.size - 2);
}

/*
 * Without MSI-X: the INTx line through the IOAPIC (drivers/pci.h).  The
 * line stays masked until vblk_attach is done; the vector goes in
 * vq.vector so that attach binds one vector either way.
 */
static int vblk_setup_intx(struct vblk_softc *sc, struct pci_dev *pd)
{
	int vector = pci_intx_route(pd, sc->cpu, &sc->intx_irq);

	if (vector < 0) {
		kprintf("%s: no MSI-X and no usable INTx line (error %d)\n",
			sc->bd.name, -vector);
		return -vector;
	}
	sc->vq.vector = vector;
	return 0;
}

/* The transport steps, in the spec's order (virtio 1.2, 3.1.1). */
static int vblk_setup_device(struct vblk_softc *sc, struct pci_dev *pd)
{
	int error;

	if ((error = virtio_pci_attach(&sc->vd, pd, sc->bd.name)) != 0)
		return error;
	error = virtio_negotiate(&sc->vd, VIRTIO_F_INDIRECT_DESC |
				 VIRTIO_F_EVENT_IDX | VIRTIO_BLK_F_SEG_MAX |
				 VIRTIO_BLK_F_RO | VIRTIO_BLK_F_BLK_SIZE |
				 VIRTIO_BLK_F_FLUSH);
	if (error != 0)
		return error;
	error = virtqueue_setup(&sc->vd, &sc->vq, 0, VBLK_QUEUE_MAX,
				sc->vd.msix_entries ? 0 : -1, sc->cpu);
	if (error == 0 && sc->vd.msix_entries == 0)
		error = vblk_setup_intx(sc, pd);
	if (error != 0) {
		kprintf("%s: queue 0 setup failed (error %d)\n", sc->bd.name,
			error);
		virtio_fail(&sc->vd);
	}
	return error;
}

/*
 * Attach one disk: device setup, slots, the server thread on its CPU
 * (disks are spread round-robin over the CPUs), the interrupt bound to
 * its port, DRIVER_OK, and only then the name in the device list, so
 * no request can arrive before the device is live.  Boot thread.
 */
static int vblk_attach(struct pci_dev *pd)
{
	struct vblk_softc *sc = kmalloc(sizeof(*sc), M_VBLK,
					M_WAITOK | M_ZERO);
	int error;

	ksnprintf(sc->bd.name, sizeof(sc->bd.name), "vblk%d", vblk_units);
	sc->cpu = sc->bd.cpu = vblk_units % ncpus;
	TAILQ_INIT(&sc->waiting);
	if ((error = vblk_setup_device(sc, pd)) != 0)
		goto fail;
	sc->nslots = sc->vq.size;
	vblk_read_config(sc);
	if ((error = vblk_alloc_slots(sc)) != 0 ||
	    (error = msgserver_start(&sc->server, sc->bd.name, sc->cpu,
				     vblk_dispatch, sc)) != 0 ||
	    (error = intrmsg_bind(&sc->intr, sc->vq.vector, sc->cpu,
				  &sc->server.ms_port)) != 0 ||
	    (error = virtio_driver_ok(&sc->vd)) != 0)
		goto fail;
	if (sc->intx_irq)
		pci_intx_unmask(sc->intx_irq);
	sc->bd.port = &sc->server.ms_port;
	blkdev_register(&sc->bd);
	pd->softc = sc;
	vblk_units++;
	kprintf("%s: %lu MiB%s, queue %u%s%s, flush %s, %s%d, on cpu%d\n",
		sc->bd.name, sc->bd.nsectors * BLK_SECTOR_SIZE >> 20,
		sc->bd.read_only ? " read-only" : "", sc->vq.size,
		sc->vq.use_indirect ? ", indirect" : "",
		sc->vq.event_idx ? ", event-idx" : "",
		sc->bd.can_flush ? "yes" : "no (write-through)",
		sc->intx_irq ? "INTx on IRQ " : "MSI-X vector ",
		sc->intx_irq ? sc->intx_irq : sc->vq.vector, sc->cpu);
	return 0;
fail:
	/* The device stays FAILED; the memory is not worth unwinding at
	 * boot, and the softc must outlive a half-started server. */
	return error;
}

static const struct pci_driver vblk_driver = {
	.name = "virtio-blk", .probe = vblk_probe, .attach = vblk_attach,
};
PCI_DRIVER(vblk_driver);
