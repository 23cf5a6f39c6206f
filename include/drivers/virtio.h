/*
 * drivers/virtio.h - the virtio 1.x PCI transport and split virtqueues
 * (drivers/virtio.c; docs/storage.md).  Shared by every virtio driver.
 *
 * A driver calls, in this order (virtio 1.2, 3.1.1):
 *
 *   virtio_pci_attach   find the structures, reset, ACKNOWLEDGE | DRIVER
 *   virtio_negotiate    offer a feature subset; FEATURES_OK or refused
 *   virtqueue_setup     once per queue: rings, MSI-X entry, enable
 *   virtio_driver_ok    DRIVER_OK: the device is live
 *
 * A virtqueue belongs to one thread (the driver's server): only it adds
 * buffers and collects completions, so the queue needs no lock.
 */
#ifndef DRIVERS_VIRTIO_H
#define DRIVERS_VIRTIO_H

#include <kern/types.h>
#include <drivers/pci.h>

#define VIRTIO_VENDOR		0x1af4
#define VIRTIO_MODERN_BASE	0x1040	/* device id = 0x1040 + type */
#define VIRTIO_TYPE_NET		1
#define VIRTIO_TYPE_BLOCK	2

/* Device status bits (virtio 1.2, 2.1). */
#define VIRTIO_STATUS_ACK		1
#define VIRTIO_STATUS_DRIVER		2
#define VIRTIO_STATUS_DRIVER_OK		4
#define VIRTIO_STATUS_FEATURES_OK	8
#define VIRTIO_STATUS_NEEDS_RESET	64
#define VIRTIO_STATUS_FAILED		128

/* Transport feature bits (virtio 1.2, 6). */
#define VIRTIO_F_INDIRECT_DESC	(1ULL << 28)
#define VIRTIO_F_EVENT_IDX	(1ULL << 29)
#define VIRTIO_F_VERSION_1	(1ULL << 32)

/*
 * A split virtqueue (virtio 1.2, 2.7), three areas the driver allocates:
 *
 *   descriptors [size]      avail (driver -> device)  used (device -> driver)
 *   +------+----+-----+----+  +-------+-----+--------+  +-------+-----+--------------+
 *   | addr | len|flags|next|  | flags | idx | ring[] |  | flags | idx | ring[]{id,len}|
 *   +------+----+-----+----+  +-------+-----+--------+  +-------+-----+--------------+
 *                              used_event after ring[]   avail_event after ring[]
 *
 * idx fields run freely over 16 bits; slot = idx % size.  A used entry's
 * id is the head descriptor of the finished chain and len the bytes the
 * device wrote.  Every field is naturally aligned, so no packing.
 */
struct vring_desc {
	uint64_t addr;		/* guest-physical */
	uint32_t len;
	uint16_t flags;		/* VRING_DESC_F_* */
	uint16_t next;
};
_Static_assert(sizeof(struct vring_desc) == 16, "virtio 1.2, 2.7.5");

#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2	/* the device writes this buffer */
#define VRING_DESC_F_INDIRECT	4	/* addr is a table of descriptors */

struct vring_avail {
	uint16_t flags;		/* VRING_AVAIL_F_NO_INTERRUPT */
	uint16_t idx;
	uint16_t ring[];	/* then uint16_t used_event */
};

#define VRING_AVAIL_F_NO_INTERRUPT 1

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;		/* VRING_USED_F_NO_NOTIFY */
	uint16_t idx;
	struct vring_used_elem ring[];	/* then uint16_t avail_event */
};

#define VRING_USED_F_NO_NOTIFY 1

/* One piece of a request: a physical range and its direction. */
struct vq_seg {
	vm_paddr_t pa;
	uint32_t len;
	bool device_writes;	/* IN for the device: it fills the buffer */
};

#define VQ_MAX_INDIRECT 64	/* segments one indirect table holds */

struct virtio_dev;

/*
 * A queue: owned by one thread after setup (see the file comment); no
 * field has a lock.  The invariants that tie free_head, num_free,
 * cookie[] and last_used together are drawn in drivers/virtio.c.
 */
struct virtqueue {
	struct virtio_dev *vd;
	uint16_t index, size;
	volatile struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
	volatile uint16_t *notify;	/* this queue's doorbell */
	uint16_t free_head;		/* chain of free descriptors */
	uint16_t num_free;
	uint16_t last_used;		/* next used entry to collect */
	uint16_t last_kick;		/* avail.idx at the last notify */
	void **cookie;			/* per head: the driver's pointer */
	struct vring_desc *indirect;	/* size tables of VQ_MAX_INDIRECT */
	vm_paddr_t indirect_pa;
	bool use_indirect, event_idx;
	bool broken;			/* the device misbehaved: stopped */
	int vector;			/* MSI-X vector, or -1 */
	uint64_t kicks, kicks_avoided;	/* counters: the owner thread */
};

/*
 * One device's transport.  Filled by virtio_pci_attach and
 * virtio_negotiate in the attaching thread; read-only once the device
 * is live, so any thread may read it.
 */
struct virtio_dev {
	struct pci_dev *pd;
	const char *name;
	volatile uint8_t *common;	/* common configuration structure */
	volatile uint8_t *isr;
	volatile uint8_t *devcfg;	/* device-specific configuration */
	uint32_t devcfg_len;
	volatile uint8_t *notify_base;
	uint32_t notify_mult;
	uint64_t features;		/* negotiated */
	int msix_entries;		/* 0: no MSI-X */
};

/*
 * Find the virtio structures of pd (vendor capabilities 0x09), map them,
 * reset the device and set ACKNOWLEDGE and DRIVER.  Returns 0, or ENXIO
 * with a printed reason when a structure is missing or unusable (the
 * device is then left FAILED).  Boot thread.
 */
int virtio_pci_attach(struct virtio_dev *vd, struct pci_dev *pd,
		      const char *name);

/*
 * Accept the device's features that are in `wanted` (VERSION_1 is
 * required).  Returns 0 with vd->features set and FEATURES_OK accepted,
 * or ENODEV (printed) if the device lacks VERSION_1 or refuses.
 */
int virtio_negotiate(struct virtio_dev *vd, uint64_t wanted);

/*
 * Set up queue `index` with at most max_size entries, its interrupt on
 * MSI-X entry `msix_entry` targeted at CPU cpu (vq->vector then holds the
 * vector to register), or with msix_entry -1 on a device without MSI-X
 * (the queue then interrupts through INTx, vq->vector is -1).  Returns 0, ENOENT if the device has no such queue,
 * EINVAL for a queue size that is not a power of two, ENOMEM.  Boot
 * thread, before virtio_driver_ok.
 */
int virtqueue_setup(struct virtio_dev *vd, struct virtqueue *vq,
		    uint16_t index, uint16_t max_size, int msix_entry,
		    int cpu);

/* INTx mode: read (and so clear) the ISR byte, which lowers the line;
 * bit 0 says a queue has work, bit 1 that the configuration changed. */
uint8_t virtio_isr_ack(struct virtio_dev *vd);

/* The device is live.  Returns 0, or EIO if it asked for a reset. */
int virtio_driver_ok(struct virtio_dev *vd);

/* Mark the device FAILED (after an error the driver cannot recover). */
void virtio_fail(struct virtio_dev *vd);

/*
 * Read one field of device configuration, len bytes at off, into buf,
 * at the field's width (len 1, 2, 4: one access of that width; 8: two
 * 32-bit accesses; other lengths: a byte array, read byte by byte),
 * retrying while the device changes it (config_generation).  A 2, 4 or
 * 8-byte field must be aligned (KASSERT).  Any thread; never blocks.
 */
void virtio_read_config(struct virtio_dev *vd, unsigned off, void *buf,
			unsigned len);

/* For tests: hook(off, width) is called for every access
 * virtio_read_config makes to the device configuration (NULL: none).
 * Set it only while no driver reads its configuration (after attach). */
void virtio_read_config_hook_set(void (*hook)(unsigned off,
					      unsigned width));

/*
 * Offer a chain of nseg segments (device-readable ones first) with the
 * driver's cookie.  Returns 0, ENOSPC if the ring has no room (try
 * again after collecting completions), EINVAL for a chain longer than
 * the queue (never allowed, indirect or not: virtio 1.2, 2.7.5.3.1), or
 * EIO once the device has misbehaved (vq->broken).  Does not notify: call
 * virtqueue_kick after a batch.  Owner thread.
 */
int virtqueue_add(struct virtqueue *vq, const struct vq_seg *segs, int nseg,
		  void *cookie);

/* Tell the device about new buffers, unless it said it does not need to
 * know (VRING_USED_F_NO_NOTIFY or EVENT_IDX).  Owner thread. */
void virtqueue_kick(struct virtqueue *vq);

/* The next finished chain's cookie (and bytes written into *len), or
 * NULL if none -- or if the device returned a descriptor that was not in
 * flight, which stops the queue (vq->broken).  Owner thread. */
void *virtqueue_get(struct virtqueue *vq, uint32_t *len);

/* Ask for an interrupt at the next completion; true if completions are
 * already waiting (collect them, or one could be lost).  Owner thread. */
bool virtqueue_enable_intr(struct virtqueue *vq);

#endif /* DRIVERS_VIRTIO_H */
