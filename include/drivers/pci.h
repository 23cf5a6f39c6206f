/*
 * drivers/pci.h - the PCI bus: devices found at boot, their configuration
 * space, BARs, capabilities and interrupts (drivers/pci.c; docs/storage.md).
 *
 * A driver declares itself with PCI_DRIVER(); at boot pci_init() walks
 * every bus, prints one line per function, and offers each function to
 * the drivers in turn: the first whose probe() returns true gets
 * attach().  A driver reaches its device only through the struct
 * pci_dev it is given.
 */
#ifndef DRIVERS_PCI_H
#define DRIVERS_PCI_H

#include <kern/types.h>
#include <kern/queue.h>

/* Type-0 configuration header offsets (PCI Local Bus 3.0, 6.1). */
#define PCI_VENDOR	0x00	/* 16 bits; 0xffff: no function here */
#define PCI_DEVICE	0x02
#define PCI_COMMAND	0x04
#define PCI_STATUS	0x06
#define PCI_REVISION	0x08
#define PCI_PROGIF	0x09
#define PCI_SUBCLASS	0x0a
#define PCI_CLASS	0x0b
#define PCI_HEADER	0x0e	/* bits 0-6 layout, bit 7 multi-function */
#define PCI_BAR0	0x10
#define PCI_SECONDARY_BUS 0x19	/* type-1 (bridge) header */
#define PCI_SUBSYS_ID	0x2e
#define PCI_CAP_PTR	0x34
#define PCI_INTR_LINE	0x3c
#define PCI_INTR_PIN	0x3d	/* 0 none, 1..4 INTA..INTD */

#define PCI_CMD_IO		0x0001
#define PCI_CMD_MEMORY		0x0002
#define PCI_CMD_BUSMASTER	0x0004	/* may the device do DMA */
#define PCI_CMD_INTX_OFF	0x0400
#define PCI_STATUS_CAPS		0x0010	/* a capability list exists */

/* Capability IDs (PCI Local Bus 3.0, appendix H). */
#define PCI_CAP_MSI	0x05
#define PCI_CAP_VENDOR	0x09	/* virtio's structures are these */
#define PCI_CAP_PCIE	0x10
#define PCI_CAP_MSIX	0x11

#define PCI_NBARS	6

enum pci_bar_kind { PCI_BAR_NONE, PCI_BAR_IO, PCI_BAR_MEM32, PCI_BAR_MEM64 };

struct pci_bar {
	enum pci_bar_kind kind;
	bool prefetchable;
	uint64_t addr;		/* bus address, as firmware assigned it */
	uint64_t size;		/* bytes decoded; 0 for PCI_BAR_NONE */
	void *va;		/* pci_map_bar()'s mapping, or NULL */
};

/*
 * One PCI function.  Filled in by pci_init() and not changed after, but
 * for the driver fields, which belong to the attached driver.
 */
struct pci_dev {
	uint8_t bus, slot, func;
	uint16_t vendor, device;
	uint8_t class, subclass, progif, revision;
	uint8_t header;			/* layout: 0 device, 1 bridge */
	uint8_t intr_pin;		/* 0 none, 1..4 INTA..INTD */
	struct pci_bar bar[PCI_NBARS];
	uint8_t msix_cap;		/* offset of MSI-X, 0 if none */
	uint16_t msix_count;		/* its table entries */
	volatile uint32_t *msix_table;	/* mapped by pci_msix_enable */
	const struct pci_driver *driver;	/* who attached, or NULL */
	void *softc;			/* the driver's state */
	TAILQ_ENTRY(pci_dev) link;	/* pci_devices, boot order */
};

TAILQ_HEAD(pci_dev_list, pci_dev);
/* Every function found, in bus/slot/function order.  Read-only after
 * pci_init(). */
extern struct pci_dev_list pci_devices;

/*
 * A driver: probe() says whether it wants the device (no side effects);
 * attach() takes it and returns 0 or an errno (the device is then left
 * alone, with its failure printed).  Both run in the boot thread.
 */
struct pci_driver {
	const char *name;
	bool (*probe)(struct pci_dev *pd);
	int (*attach)(struct pci_dev *pd);
};

#define PCI_DRIVER(var)                                                      \
	static const struct pci_driver *const var##_entry                    \
		__section(".pci_drivers") __used __aligned(8) = &var

/*
 * Configuration space, width 1, 2 or 4 bytes at an offset aligned to it.
 * ECAM where ACPI's MCFG gives one, else I/O ports 0xcf8/0xcfc (which
 * reach only the first 256 bytes).  Any thread; a spinlock serializes the
 * port pair.
 */
uint32_t pci_cfg_read(const struct pci_dev *pd, unsigned off, int width);
void pci_cfg_write(const struct pci_dev *pd, unsigned off, int width,
		   uint32_t value);

/* Set bits in the command register (PCI_CMD_MEMORY, PCI_CMD_BUSMASTER). */
void pci_enable(struct pci_dev *pd, uint16_t command_bits);

/*
 * Offset of the first capability of this id after offset `after` (0: from
 * the start), or 0 if there is none.  The walk stops after 48 entries, so
 * a looping list cannot hang it.
 */
unsigned pci_find_cap(const struct pci_dev *pd, uint8_t id, unsigned after);

/*
 * Map memory BAR n uncached and return its kernel address, or NULL if it
 * is not a memory BAR.  Mapped once; later calls return the same address.
 * Boot thread.
 */
void *pci_map_bar(struct pci_dev *pd, int n);

/*
 * Interrupts.  pci_msix_enable() maps the MSI-X table and turns MSI-X on
 * with every entry masked (ENODEV if the device has none).
 * pci_msix_route() points entry n at a newly allocated vector on CPU cpu
 * and returns that vector, or -errno.  The caller then registers the
 * vector (register_int, intrmsg_bind).  Boot thread.
 *
 * Without MSI-X, pci_intx_route() routes the function's INTx line
 * through the IOAPIC to CPU cpu, masked, and returns the vector (and the
 * ISA IRQ in *irqp), or -ENODEV (no pin), -ENXIO (firmware connected it
 * nowhere).  The line is level-triggered: the hard handler masks it, and
 * the driver calls pci_intx_unmask(irq) when its device is quiet (and
 * once, when it is ready).  A line serves one device: sharing is not
 * supported.
 */
int pci_msix_enable(struct pci_dev *pd);
int pci_msix_route(struct pci_dev *pd, int entry, int cpu);
int pci_intx_route(struct pci_dev *pd, int cpu, int *irqp);
void pci_intx_unmask(int irq);

/* A free interrupt vector for a device, or -1 when none is left. */
int pci_vector_alloc(void);

/* Find the functions, print them, attach drivers.  Boot CPU, once. */
void pci_init(void);

/* One line per function, as at boot (the shell's `pci`). */
void pci_print_all(void);

/* How config space is reached: "ECAM" or "0xcf8". */
const char *pci_access_method(void);

#endif /* DRIVERS_PCI_H */
