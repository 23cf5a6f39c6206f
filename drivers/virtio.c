/*
 * virtio.c - the virtio 1.x PCI transport and split virtqueues, shared by
 * the block driver (virtio_blk.c) and, later, the network driver.
 *
 * Where things are.  A modern virtio PCI device describes its register
 * blocks with vendor capabilities (id 0x09, virtio 1.2, 4.1.4): each
 * names a BAR, an offset and a length for one structure -- the common
 * configuration (feature bits, status, queue setup), the notify area
 * (one doorbell per queue), the ISR byte, and the device-specific
 * configuration.  We map the BARs uncached and keep pointers.
 *
 * A request in flight.  The driver writes a chain of descriptors (each a
 * physical buffer and its direction), puts the chain's head in the
 * available ring, bumps avail.idx and rings the queue's doorbell.  The
 * device processes the chain, writes the head into the used ring, bumps
 * used.idx and raises the queue's MSI-X interrupt.  The driver reads
 * used entries from last_used up to used.idx and frees their chains.
 *
 *   driver                                  device
 *   desc[h..] = chain; avail.ring[i] = h
 *   wmb; avail.idx++ ; mb; doorbell  ------> reads avail, does the I/O
 *                                            used.ring[j] = {h, written}
 *   interrupt (a message to the server) <--- used.idx++ ; MSI-X
 *   virtqueue_get: h's cookie
 *
 * Indirect descriptors (VIRTIO_F_INDIRECT_DESC): a chain of several
 * segments takes one ring descriptor pointing at a table of its own, so
 * the ring holds as many requests as it has entries.  Each head slot owns
 * one preallocated table.
 *
 * Suppression.  Without EVENT_IDX the device sets VRING_USED_F_NO_NOTIFY
 * when it is already polling; with it, the device publishes avail_event,
 * the index at which it wants the next doorbell (virtio 1.2, 2.7.10),
 * and the driver publishes used_event likewise for interrupts (2.7.7).
 *
 * Memory ordering on x86: stores are not reordered with other stores, so
 * a compiler barrier orders "fill the ring" before "publish the index"
 * (2.7.13.3.1 asks for "a suitable memory barrier" there); but a later
 * load may pass an earlier store, so a real fence separates "publish
 * avail.idx" from "read the device's suppression fields" (2.7.13.4.1),
 * and "re-enable interrupts" from "look at used.idx once more" (2.7.14).
 *
 * The free list.  Descriptors not in flight are chained through their
 * own next fields from free_head; num_free counts them.  Invariants of a
 * queue, between calls:
 *
 *   - cookie[h] != NULL  exactly when a chain with head h is in flight;
 *   - num_free + (descriptors of the chains in flight) == size, where an
 *     indirect chain holds one ring descriptor whatever its length;
 *   - last_used <= used.idx <= avail.idx (as 16-bit distances), and
 *     avail.idx - last_used is the number of chains in flight;
 *   - head h's indirect table (when negotiated) is used by h's chain
 *     only, so tables need no allocator of their own.
 *
 * Ownership and locking: there are no locks here.  The transport
 * (struct virtio_dev) is written by the attaching thread at boot and
 * read-only afterwards.  A struct virtqueue belongs to one thread, its
 * driver's server, from virtqueue_setup on: only it adds, kicks and
 * collects, so its fields and the driver-written ring areas (descriptors,
 * avail) need no lock.  The device writes the used ring and avail_event;
 * they are read through volatile pointers, and never written here.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <drivers/virtio.h>
#include <machine/vmparam.h>
#include <vm/vm_page.h>

MALLOC_DEFINE(M_VIRTIO, "virtio", "virtio queues");

/* Capability types (virtio 1.2, 4.1.4). */
#define VIRTIO_PCI_CAP_COMMON	1
#define VIRTIO_PCI_CAP_NOTIFY	2
#define VIRTIO_PCI_CAP_ISR	3
#define VIRTIO_PCI_CAP_DEVICE	4

/* virtio_pci_cap fields, as offsets from the capability (4.1.4):
 * u8 cap_vndr, cap_next, cap_len, cfg_type, bar, id, pad[2];
 * le32 offset, length; and for the notify capability,
 * le32 notify_off_multiplier right after. */
#define CAP_CFG_TYPE	3
#define CAP_BAR		4
#define CAP_OFFSET	8
#define CAP_LENGTH	12
#define CAP_NOTIFY_MULT	16

/*
 * The common configuration structure (virtio 1.2, 4.1.4.3).  The
 * *_select registers pick which 32 feature bits, or which queue, the
 * registers after them show.  64-bit addresses are written as two
 * 32-bit halves, low first (4.1.3).
 */
#define COMMON_DFSELECT		0	/* device_feature_select, le32 */
#define COMMON_DF		4
#define COMMON_GFSELECT		8	/* driver_feature_select */
#define COMMON_GF		12
#define COMMON_MSIX		16	/* config_msix_vector, le16 */
#define COMMON_NUMQ		18
#define COMMON_STATUS		20	/* u8 */
#define COMMON_CFGGEN		21	/* u8 */
#define COMMON_Q_SELECT		22	/* le16 */
#define COMMON_Q_SIZE		24
#define COMMON_Q_MSIX		26
#define COMMON_Q_ENABLE		28
#define COMMON_Q_NOFF		30
#define COMMON_Q_DESCLO		32	/* le64 as two le32 halves */
#define COMMON_Q_DESCHI		36
#define COMMON_Q_AVAILLO	40
#define COMMON_Q_AVAILHI	44
#define COMMON_Q_USEDLO		48
#define COMMON_Q_USEDHI		52

/* "No MSI-X vector" in the *_msix_vector registers (4.1.5.1.2). */
#define VIRTIO_MSI_NO_VECTOR	0xffff
/* Reads of device_status before a reset counts as failed (see
 * virtio_reset); QEMU finishes at once, so this is a generous bound. */
#define RESET_SPINS		1000000

/* ---- register access ---------------------------------------------------- */

/*
 * The common configuration is uncached device memory, read and written
 * at the natural width of each field, as the transport requires
 * (virtio 1.2, 4.1.3.1).  volatile makes each access happen exactly
 * once, in program order.  x86 is little-endian, like virtio 1.x, so no
 * byte swapping.
 */

static inline uint8_t common_r8(struct virtio_dev *vd, unsigned off)
{
	return *(volatile uint8_t *)(vd->common + off);
}

static inline uint16_t common_r16(struct virtio_dev *vd, unsigned off)
{
	return *(volatile uint16_t *)(vd->common + off);
}

static inline uint32_t common_r32(struct virtio_dev *vd, unsigned off)
{
	return *(volatile uint32_t *)(vd->common + off);
}

static inline void common_w8(struct virtio_dev *vd, unsigned off, uint8_t v)
{
	*(volatile uint8_t *)(vd->common + off) = v;
}

static inline void common_w16(struct virtio_dev *vd, unsigned off,
			      uint16_t v)
{
	*(volatile uint16_t *)(vd->common + off) = v;
}

static inline void common_w32(struct virtio_dev *vd, unsigned off,
			      uint32_t v)
{
	*(volatile uint32_t *)(vd->common + off) = v;
}

/* Orders this CPU's stores for the device: x86 keeps stores in order,
 * so only the compiler has to be stopped from moving them. */
static inline void compiler_barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

/* Orders an earlier store before a later load (x86 may reorder those
 * two, Intel SDM 3A, 9.2.3.4): needed before reading what the device
 * wrote in reply to what we just published. */
static inline void full_barrier(void)
{
	__asm__ volatile("mfence" : : : "memory");
}

/* Add bits to device_status: the status only grows during setup
 * (2.1), and writing 0 is a reset, so read-or-write. */
static void set_status(struct virtio_dev *vd, uint8_t bits)
{
	common_w8(vd, COMMON_STATUS, common_r8(vd, COMMON_STATUS) | bits);
}

/*
 * Contract in drivers/virtio.h.  FAILED tells the device the driver has
 * given up (3.1.1); it stays so until a reset.  The attaching thread.
 */
void virtio_fail(struct virtio_dev *vd)
{
	set_status(vd, VIRTIO_STATUS_FAILED);
}

/* ---- finding the structures ------------------------------------------- */

/*
 * Map what capability `cap` describes; NULL if its BAR is unusable: a
 * bar field past 5 is reserved (4.1.4.1 says to ignore such a
 * capability), and a structure that would reach past its BAR's end is
 * refused rather than mapped partly over other memory.
 */
static volatile uint8_t *cap_map(struct virtio_dev *vd, unsigned cap,
				 uint32_t *lenp)
{
	struct pci_dev *pd = vd->pd;
	unsigned bar = pci_cfg_read(pd, cap + CAP_BAR, 1);
	uint32_t off = pci_cfg_read(pd, cap + CAP_OFFSET, 4);
	uint32_t len = pci_cfg_read(pd, cap + CAP_LENGTH, 4);
	uint8_t *base;

	if (bar >= PCI_NBARS)
		return NULL;
	base = pci_map_bar(pd, bar);
	if (base == NULL || (uint64_t)off + len > pd->bar[bar].size)
		return NULL;
	if (lenp)
		*lenp = len;
	return base + off;
}

/*
 * Walk the vendor capabilities; keep the first usable one of each type.
 * A device may list several of a type in order of preference, and types
 * this driver does not know (PCI_CFG, SHARED_MEMORY, ...) are skipped
 * (virtio 1.2, 4.1.4).
 */
static void virtio_find_structures(struct virtio_dev *vd)
{
	for (unsigned cap = pci_find_cap(vd->pd, PCI_CAP_VENDOR, 0); cap;
	     cap = pci_find_cap(vd->pd, PCI_CAP_VENDOR, cap)) {
		switch (pci_cfg_read(vd->pd, cap + CAP_CFG_TYPE, 1)) {
		case VIRTIO_PCI_CAP_COMMON:
			if (!vd->common)
				vd->common = cap_map(vd, cap, NULL);
			break;
		case VIRTIO_PCI_CAP_NOTIFY:
			if (!vd->notify_base) {
				vd->notify_base = cap_map(vd, cap, NULL);
				vd->notify_mult = pci_cfg_read(vd->pd,
					cap + CAP_NOTIFY_MULT, 4);
			}
			break;
		case VIRTIO_PCI_CAP_ISR:
			if (!vd->isr)
				vd->isr = cap_map(vd, cap, NULL);
			break;
		case VIRTIO_PCI_CAP_DEVICE:
			if (!vd->devcfg)
				vd->devcfg = cap_map(vd, cap, &vd->devcfg_len);
			break;
		}
	}
}

/*
 * Write 0 to status and wait for the device to finish resetting: the
 * driver must see status read back 0 before it sets anything up again
 * (virtio 1.2, 4.1.4.3.2).  Spins (boot thread; never sleeps), and gives
 * up with ETIMEDOUT on a device that never finishes.
 */
static int virtio_reset(struct virtio_dev *vd)
{
	common_w8(vd, COMMON_STATUS, 0);
	for (int i = 0; i < RESET_SPINS; i++)
		if (common_r8(vd, COMMON_STATUS) == 0)
			return 0;
	return ETIMEDOUT;
}

/*
 * Contract in drivers/virtio.h: steps 1-3 of device initialization
 * (virtio 1.2, 3.1.1): reset, ACKNOWLEDGE, DRIVER.  Returns 0 or ENXIO
 * (printed).  The attaching thread; may allocate (BAR mappings).
 */
int virtio_pci_attach(struct virtio_dev *vd, struct pci_dev *pd,
		      const char *name)
{
	KASSERT(vd != NULL && pd != NULL && name != NULL,
		"virtio_pci_attach needs a device, its state and a name");
	memset(vd, 0, sizeof(*vd));
	vd->pd = pd;
	vd->name = name;
	/* Memory decoding for the BARs, bus mastering for the rings (the
	 * device reads and writes them by DMA). */
	pci_enable(pd, PCI_CMD_MEMORY | PCI_CMD_BUSMASTER);
	virtio_find_structures(vd);
	if (!vd->common || !vd->notify_base || !vd->isr) {
		kprintf("%s: not a modern virtio device (common %s, notify "
			"%s, isr %s); run it with disable-legacy=on\n", name,
			vd->common ? "ok" : "missing",
			vd->notify_base ? "ok" : "missing",
			vd->isr ? "ok" : "missing");
		return ENXIO;
	}
	if (virtio_reset(vd) != 0) {
		kprintf("%s: the device did not finish its reset\n", name);
		return ENXIO;
	}
	set_status(vd, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	/* MSI-X when the device has it; msix_entries 0 means INTx. */
	if (pci_msix_enable(pd) == 0)
		vd->msix_entries = pd->msix_count;
	/* Configuration changes raise no interrupt: nothing here reacts to
	 * them (a resized disk keeps its old size until reboot). */
	common_w16(vd, COMMON_MSIX, VIRTIO_MSI_NO_VECTOR);
	return 0;
}

/* ---- features ---------------------------------------------------------- */

/* The 64 feature bits the device offers, 32 per select value. */
static uint64_t device_features(struct virtio_dev *vd)
{
	uint64_t lo, hi;

	common_w32(vd, COMMON_DFSELECT, 0);
	lo = common_r32(vd, COMMON_DF);
	common_w32(vd, COMMON_DFSELECT, 1);
	hi = common_r32(vd, COMMON_DF);
	return hi << 32 | lo;
}

/*
 * Contract in drivers/virtio.h: steps 4-6 of 3.1.1.  Only offered bits
 * are ever accepted (the driver must not accept a feature the device
 * did not offer, 2.2.1).  VERSION_1 is what makes this a modern device:
 * little-endian, with FEATURES_OK; without it the device is legacy.
 * The attaching thread.
 */
int virtio_negotiate(struct virtio_dev *vd, uint64_t wanted)
{
	uint64_t offered = device_features(vd);

	if (!(offered & VIRTIO_F_VERSION_1)) {
		kprintf("%s: the device does not offer VIRTIO_F_VERSION_1 "
			"(features %#lx); only virtio 1.x is supported\n",
			vd->name, offered);
		virtio_fail(vd);
		return ENODEV;
	}
	vd->features = offered & (wanted | VIRTIO_F_VERSION_1);
	common_w32(vd, COMMON_GFSELECT, 0);
	common_w32(vd, COMMON_GF, (uint32_t)vd->features);
	common_w32(vd, COMMON_GFSELECT, 1);
	common_w32(vd, COMMON_GF, vd->features >> 32);
	set_status(vd, VIRTIO_STATUS_FEATURES_OK);
	/* The device may refuse the subset: it then leaves the bit clear,
	 * and the driver must re-read to know (3.1.1, step 6). */
	if (!(common_r8(vd, COMMON_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
		kprintf("%s: the device refused features %#lx\n", vd->name,
			vd->features);
		virtio_fail(vd);
		return ENODEV;
	}
	return 0;
}

static void (*config_read_hook)(unsigned off, unsigned width);

/* Contract in drivers/virtio.h. */
void virtio_read_config_hook_set(void (*hook)(unsigned off, unsigned width))
{
	config_read_hook = hook;
}

/*
 * One access of width bytes (1, 2 or 4) at off of the device
 * configuration, into out.  Device memory, so volatile: exactly one
 * access of exactly that width.
 */
static void config_read(struct virtio_dev *vd, unsigned off, unsigned width,
			uint8_t *out)
{
	volatile uint8_t *p = vd->devcfg + off;

	if (config_read_hook)
		config_read_hook(off, width);
	if (width == 4)
		*(uint32_t *)out = *(volatile uint32_t *)p;
	else if (width == 2)
		*(uint16_t *)out = *(volatile uint16_t *)p;
	else
		*out = *p;
}

/*
 * The accesses for one field of len bytes: a u8, u16 or u32 in one
 * access of its width, a u64 in two 32-bit accesses (low word first),
 * anything else (a byte array, such as a MAC address) byte by byte.
 */
static void config_read_field(struct virtio_dev *vd, unsigned off,
			      uint8_t *out, unsigned len)
{
	if (len == 1 || len == 2 || len == 4) {
		config_read(vd, off, len, out);
	} else if (len == 8) {
		config_read(vd, off, 4, out);
		config_read(vd, off + 4, 4, out + 4);
	} else {
		for (unsigned i = 0; i < len; i++)
			config_read(vd, off + i, 1, out + i);
	}
}

/*
 * Contract in drivers/virtio.h.  Each field is read at its own width,
 * as the transport requires (virtio 1.2, 4.1.3.1): 32-bit and 64-bit
 * fields with aligned 32-bit accesses, a 16-bit one with one aligned
 * 16-bit access.  The generation loop is the spec's (2.5.1, 4.1.3.1):
 * a 64-bit field takes two reads, and the device may change it between
 * them; config_generation then changes too, and the whole read is done
 * again.  Any thread; never blocks (spins only while the device
 * changes).
 */
void virtio_read_config(struct virtio_dev *vd, unsigned off, void *buf,
			unsigned len)
{
	uint8_t gen;

	KASSERT(vd->devcfg && off + len <= vd->devcfg_len, "%s: config "
		"bytes %u..%u are outside the device's %u", vd->name, off,
		off + len, vd->devcfg_len);
	KASSERT((len != 2 && len != 4 && len != 8) ||
		off % MIN(len, 4u) == 0, "%s: a %u-byte config field at "
		"offset %u is not aligned; the spec places every field at its "
		"natural alignment, so the offset is wrong", vd->name, len,
		off);
	do {
		gen = common_r8(vd, COMMON_CFGGEN);
		config_read_field(vd, off, buf, len);
	} while (gen != common_r8(vd, COMMON_CFGGEN));
}

/*
 * Contract in drivers/virtio.h.  Reading the ISR byte resets it to 0
 * and makes the device deassert INTx (virtio 1.2, 4.1.4.5): one read
 * both learns and acknowledges.  The driver's server thread.
 */
uint8_t virtio_isr_ack(struct virtio_dev *vd)
{
	return *vd->isr;	/* reading clears it and lowers INTx */
}

/*
 * Contract in drivers/virtio.h: step 8 of 3.1.1.  After this the device
 * may use the queues; before it, no doorbell may be rung.  A device that
 * has already set DEVICE_NEEDS_RESET (2.1) is not used.  The attaching
 * thread.
 */
int virtio_driver_ok(struct virtio_dev *vd)
{
	set_status(vd, VIRTIO_STATUS_DRIVER_OK);
	if (common_r8(vd, COMMON_STATUS) & VIRTIO_STATUS_NEEDS_RESET)
		return EIO;
	return 0;
}

/* ---- queue setup ------------------------------------------------------- */

/*
 * Bytes of each area for a queue of n entries, the EVENT_IDX words
 * included whether or not the feature is negotiated (virtio 1.2, 2.7:
 * 16n, 6 + 2n, 6 + 8n; aligned 16, 2 and 4).
 */
static size_t desc_bytes(uint16_t n)  { return 16 * (size_t)n; }
static size_t avail_bytes(uint16_t n) { return 6 + 2 * (size_t)n; }
static size_t used_bytes(uint16_t n)  { return 6 + 8 * (size_t)n; }

/*
 * Physically contiguous zeroed memory for the rings; NULL when out.
 * Zeroed matters: the used ring's flags must start at 0 (2.7.10.1),
 * and idx fields at 0 are where both sides begin.  Never sleeps.
 */
static void *ring_alloc(size_t bytes, vm_paddr_t *pa)
{
	size_t npages = (bytes + PAGE_SIZE - 1) / PAGE_SIZE;
	vm_page_t m = vm_page_alloc_contig(npages, PAGE_SIZE,
					   VM_ALLOC_NOWAIT | VM_ALLOC_ZERO);

	if (m == NULL)
		return NULL;
	*pa = VM_PAGE_TO_PHYS(m);
	return PHYS_TO_DMAP(*pa);
}

/*
 * Carve the three areas out of one allocation, pa[0..2] = their physical
 * addresses:
 *
 *   pa[0]   descriptors     16 * n             (page aligned: >= 16)
 *   pa[1]   avail ring      6 + 2 * n          (follows: 2-aligned)
 *           padding to 4
 *   pa[2]   used ring       6 + 8 * n          (4-aligned)
 */
static int vq_alloc_rings(struct virtqueue *vq, vm_paddr_t *pa)
{
	uint16_t n = vq->size;
	size_t used_off = roundup2(desc_bytes(n) + avail_bytes(n), 4);
	uint8_t *va = ring_alloc(used_off + used_bytes(n), pa);

	if (va == NULL)
		return ENOMEM;
	vq->desc = (void *)va;
	vq->avail = (void *)(va + desc_bytes(n));
	vq->used = (void *)(va + used_off);
	pa[1] = pa[0] + desc_bytes(n);
	pa[2] = pa[0] + used_off;
	return 0;
}

/*
 * The free list through desc.next (every descriptor free, in order; the
 * last one's next is size, a value never followed since num_free stops
 * first), the per-head cookies, and with INDIRECT_DESC the tables, one
 * of VQ_MAX_INDIRECT entries per head.  May sleep (kmalloc).
 */
static int vq_init_lists(struct virtqueue *vq)
{
	vq->cookie = kmalloc(sizeof(void *) * vq->size, M_VIRTIO,
			     M_WAITOK | M_ZERO);
	for (uint16_t i = 0; i < vq->size; i++)
		vq->desc[i].next = i + 1;
	vq->free_head = 0;
	vq->num_free = vq->size;
	if (!vq->use_indirect)
		return 0;
	vq->indirect = ring_alloc(sizeof(struct vring_desc) * VQ_MAX_INDIRECT *
				  vq->size, &vq->indirect_pa);
	return vq->indirect ? 0 : ENOMEM;
}

/*
 * Tell the device where the rings are, and which MSI-X entry to use,
 * then enable the queue: every other field first, queue_enable last
 * (4.1.4.3.2).  The doorbell is at notify_base + queue_notify_off *
 * notify_off_multiplier (4.1.4.4).  The queue is already selected.
 */
static int vq_program(struct virtio_dev *vd, struct virtqueue *vq,
		      const vm_paddr_t *pa, uint16_t msix_entry)
{
	common_w16(vd, COMMON_Q_SIZE, vq->size);
	common_w32(vd, COMMON_Q_DESCLO, (uint32_t)pa[0]);
	common_w32(vd, COMMON_Q_DESCHI, pa[0] >> 32);
	common_w32(vd, COMMON_Q_AVAILLO, (uint32_t)pa[1]);
	common_w32(vd, COMMON_Q_AVAILHI, pa[1] >> 32);
	common_w32(vd, COMMON_Q_USEDLO, (uint32_t)pa[2]);
	common_w32(vd, COMMON_Q_USEDHI, pa[2] >> 32);
	common_w16(vd, COMMON_Q_MSIX, msix_entry);
	/* A vector the device could not take reads back as NO_VECTOR
	 * (4.1.5.1.2); writing NO_VECTOR itself (INTx) reads back equal. */
	if (common_r16(vd, COMMON_Q_MSIX) != msix_entry) {
		kprintf("%s: queue %u refused MSI-X entry %d\n", vd->name,
			vq->index, msix_entry);
		return EIO;
	}
	vq->notify = (volatile uint16_t *)(vd->notify_base +
		common_r16(vd, COMMON_Q_NOFF) * vd->notify_mult);
	common_w16(vd, COMMON_Q_ENABLE, 1);
	return 0;
}

/*
 * Contract in drivers/virtio.h.  The steps: select the queue, read the
 * device's maximum size (0: no such queue; split rings must be a power
 * of two, 4.1.4.3.1), shrink it to max_size, allocate and link the
 * rings, route the interrupt, program the device.  The attaching
 * thread, between virtio_negotiate (features decide the layout) and
 * virtio_driver_ok.  May sleep.  On an error the memory is not freed
 * (see vblk_attach: the device is then FAILED for good).
 */
int virtqueue_setup(struct virtio_dev *vd, struct virtqueue *vq,
		    uint16_t index, uint16_t max_size, int msix_entry,
		    int cpu)
{
	vm_paddr_t pa[3];
	uint16_t size;
	int error;

	KASSERT(msix_entry < vd->msix_entries, "%s: MSI-X entry %d of %d",
		vd->name, msix_entry, vd->msix_entries);
	KASSERT(msix_entry >= 0 || vd->msix_entries == 0, "%s: INTx (entry "
		"-1) on a device with MSI-X", vd->name);
	memset(vq, 0, sizeof(*vq));
	common_w16(vd, COMMON_Q_SELECT, index);
	size = common_r16(vd, COMMON_Q_SIZE);
	if (size == 0)
		return ENOENT;
	if ((size & (size - 1)) != 0) {
		kprintf("%s: queue %u has size %u, not a power of two\n",
			vd->name, index, size);
		return EINVAL;
	}
	vq->vd = vd;
	vq->index = index;
	/* A driver may ask for a smaller queue than the device's maximum,
	 * power of two still (max_size is one, by the header's contract). */
	vq->size = MIN(size, max_size);
	vq->use_indirect = (vd->features & VIRTIO_F_INDIRECT_DESC) != 0;
	vq->event_idx = (vd->features & VIRTIO_F_EVENT_IDX) != 0;
	if ((error = vq_alloc_rings(vq, pa)) != 0 ||
	    (error = vq_init_lists(vq)) != 0)
		return error;
	vq->vector = msix_entry < 0 ? -1 :
		     pci_msix_route(vd->pd, msix_entry, cpu);
	if (msix_entry >= 0 && vq->vector < 0)
		return -vq->vector;
	return vq_program(vd, vq, pa, msix_entry < 0 ? VIRTIO_MSI_NO_VECTOR :
			  msix_entry);
}

/* ---- the data path (owner thread) -------------------------------------- */

/*
 * Where EVENT_IDX keeps its two words: after each ring.  used_event is
 * written by the driver (interrupt me when used.idx passes this, 2.7.7)
 * and avail_event by the device (ring my doorbell when avail.idx passes
 * this, 2.7.10).
 */
static inline volatile uint16_t *used_event(struct virtqueue *vq)
{
	return &vq->avail->ring[vq->size];
}

static inline volatile uint16_t *avail_event(struct virtqueue *vq)
{
	return (volatile uint16_t *)&vq->used->ring[vq->size];
}

/* One descriptor for one segment; WRITE when the device fills it. */
static inline void fill_desc(volatile struct vring_desc *d,
			     const struct vq_seg *s, uint16_t flags)
{
	d->addr = s->pa;
	d->len = s->len;
	d->flags = flags | (s->device_writes ? VRING_DESC_F_WRITE : 0);
}

/*
 * The whole chain in head's own indirect table: one ring descriptor,
 * flagged INDIRECT (and never NEXT as well, 2.7.5.3.1), whose len is the
 * table's size in bytes.  Inside the table, next counts 1, 2, ... as the
 * entries are laid out.  Takes one descriptor off the free list.
 */
static uint16_t add_indirect(struct virtqueue *vq, const struct vq_seg *segs,
			     int nseg)
{
	uint16_t head = vq->free_head;
	struct vring_desc *table = vq->indirect + head * VQ_MAX_INDIRECT;

	for (int i = 0; i < nseg; i++) {
		fill_desc(&table[i], &segs[i], i + 1 < nseg ?
			  VRING_DESC_F_NEXT : 0);
		table[i].next = i + 1;
	}
	vq->free_head = vq->desc[head].next;
	vq->desc[head].addr = vq->indirect_pa + head * VQ_MAX_INDIRECT *
		sizeof(struct vring_desc);
	vq->desc[head].len = nseg * sizeof(struct vring_desc);
	vq->desc[head].flags = VRING_DESC_F_INDIRECT;
	vq->num_free--;
	return head;
}

/*
 * The chain straight in the ring, one descriptor per segment, following
 * the free list's order: the free descriptors are already linked, so
 * each one's next is left as it is and the chain is the list's first
 * nseg entries.  The last one's NEXT flag is clear, which is what ends
 * the chain for the device; its next still points into the free list.
 */
static uint16_t add_direct(struct virtqueue *vq, const struct vq_seg *segs,
			   int nseg)
{
	uint16_t head = vq->free_head, i = head;

	for (int s = 0; s < nseg; s++) {
		fill_desc(&vq->desc[i], &segs[s], s + 1 < nseg ?
			  VRING_DESC_F_NEXT : 0);
		i = vq->desc[i].next;
	}
	vq->free_head = i;
	vq->num_free -= nseg;
	return head;
}

/*
 * Contract in drivers/virtio.h: put one chain on the ring, publish it,
 * but do not ring the doorbell.  Returns 0, ENOSPC, EINVAL or EIO.  The queue's
 * owner thread; never blocks.  Device-readable segments come first
 * (2.7.4.2): the caller orders them.
 */
int virtqueue_add(struct virtqueue *vq, const struct vq_seg *segs, int nseg,
		  void *cookie)
{
	bool indirect = vq->use_indirect && nseg > 1;
	uint16_t head, slot;

	KASSERT(nseg > 0 && cookie != NULL, "virtqueue_add: %d segments, "
		"cookie %p", nseg, cookie);
	KASSERT(!indirect || nseg <= VQ_MAX_INDIRECT, "virtqueue_add: %d "
		"segments, an indirect table holds %d", nseg,
		VQ_MAX_INDIRECT);
	if (vq->broken)
		return EIO;
	/* 2.7.5.3.1: no chain, an indirect table's included, is longer than
	 * the queue; such a chain could never go, so it is not "no room
	 * now" (ENOSPC) but EINVAL. */
	if (nseg > vq->size)
		return EINVAL;
	if (vq->num_free < (indirect ? 1 : nseg))
		return ENOSPC;
	head = indirect ? add_indirect(vq, segs, nseg) :
			  add_direct(vq, segs, nseg);
	KASSERT(vq->cookie[head] == NULL, "%s: queue %u: descriptor %u was "
		"on the free list and in flight at once; the free list is "
		"corrupt", vq->vd->name, vq->index, head);
	vq->cookie[head] = cookie;
	/* size is a power of two, so the mask is idx % size (2.7.6). */
	slot = vq->avail->idx & (vq->size - 1);
	vq->avail->ring[slot] = head;
	compiler_barrier();		/* the entry before the index */
	vq->avail->idx++;
	return 0;
}

/*
 * Contract in drivers/virtio.h.  With EVENT_IDX the rule is 2.7.10's,
 * in the form of virtq_need_event from the spec's virtio_queue.h
 * appendix: ring if avail_event lies in the window of
 * indices published since the last kick, [old_idx, new_idx), computed
 * in 16-bit arithmetic so it survives wraparound.  The owner thread.
 */
void virtqueue_kick(struct virtqueue *vq)
{
	uint16_t new_idx = vq->avail->idx, old_idx = vq->last_kick;
	bool notify;

	full_barrier();		/* publish avail.idx before reading below */
	if (vq->event_idx)
		notify = (uint16_t)(new_idx - *avail_event(vq) - 1) <
			 (uint16_t)(new_idx - old_idx);
	else
		notify = !(vq->used->flags & VRING_USED_F_NO_NOTIFY);
	vq->last_kick = new_idx;
	if (notify) {
		/* The doorbell takes the queue's index, le16 (4.1.5.2). */
		*vq->notify = vq->index;
		vq->kicks++;
	} else {
		vq->kicks_avoided++;
	}
}

/*
 * Put the chain starting at head back on the free list.  A direct chain
 * is followed to its last descriptor (the one without NEXT), and that
 * one is linked to the old free head, so the whole chain goes back in a
 * single splice.  An indirect chain is one ring descriptor.
 */
static void free_chain(struct virtqueue *vq, uint16_t head)
{
	uint16_t i = head, n = 1;

	if (!(vq->desc[head].flags & VRING_DESC_F_INDIRECT))
		while (vq->desc[i].flags & VRING_DESC_F_NEXT) {
			i = vq->desc[i].next;
			n++;
		}
	vq->desc[i].next = vq->free_head;
	vq->free_head = head;
	vq->num_free += n;
}

/*
 * Contract in drivers/virtio.h: the cookie of the next finished chain,
 * or NULL.  The owner thread; never blocks.  Nothing the device wrote is
 * trusted: the head it names must be a chain in flight, or the queue
 * stops (a device that lies about a head would have us free a chain it
 * may still be writing into).
 */
void *virtqueue_get(struct virtqueue *vq, uint32_t *len)
{
	volatile struct vring_used_elem *e;
	uint16_t head;
	void *cookie;

	/* Acquire: the entry is read after the index that published it. */
	if (vq->last_used == __atomic_load_n(&vq->used->idx,
					     __ATOMIC_ACQUIRE))
		return NULL;
	e = &vq->used->ring[vq->last_used & (vq->size - 1)];
	head = e->id;
	if (head >= vq->size || vq->cookie[head] == NULL) {
		/* A device bug: never trust it with memory again. */
		if (!vq->broken)
			kprintf("%s: queue %u: the device returned descriptor "
				"%u, which is not in flight; queue stopped\n",
				vq->vd->name, vq->index, head);
		vq->broken = true;
		return NULL;
	}
	if (len)
		*len = e->len;
	cookie = vq->cookie[head];
	vq->cookie[head] = NULL;
	free_chain(vq, head);
	vq->last_used++;
	return cookie;
}

/*
 * Contract in drivers/virtio.h: ask for an interrupt at the next
 * completion, then look once more.  The second look closes the race the
 * spec warns of (2.7.14): a completion landing between "the ring is
 * empty" and "interrupts are on" raises no interrupt, so it must be seen
 * here or never.  With EVENT_IDX, used_event = last_used means "the very
 * next entry".  The owner thread.
 */
bool virtqueue_enable_intr(struct virtqueue *vq)
{
	if (vq->event_idx)
		*used_event(vq) = vq->last_used;
	else
		vq->avail->flags &= ~VRING_AVAIL_F_NO_INTERRUPT;
	full_barrier();		/* then look again: a completion may race */
	return vq->last_used != vq->used->idx;
}
