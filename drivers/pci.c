/*
 * pci.c - the PCI bus: find every function, size its BARs, walk its
 * capabilities, give it to a driver, and route its interrupts.
 *
 * Configuration space.  Every PCI function has 256 bytes (PCIe: 4 KiB)
 * of configuration registers.  Two ways reach them (PCI Local Bus 3.0,
 * 3.2.2.3.2; PCI Express Base 4.0, 7.2.2):
 *
 *   ports 0xcf8/0xcfc   write the address of a dword to 0xcf8, then move
 *                       the data through 0xcfc..0xcff.  Both machines
 *                       have it; it reaches 256 bytes per function.
 *
 *     31 | 30..24 | 23..16 | 15..11 | 10..8    | 7..2     | 1..0
 *     on |   0    |  bus   | device | function | register |  0
 *
 *   ECAM                memory: a 4 KiB page per function, at
 *                       base + (bus << 20 | device << 15 | function << 12)
 *                       where ACPI's MCFG table gives base (q35 has one,
 *                       the older pc machine does not).
 *
 * Enumeration starts at bus 0 and follows each PCI-to-PCI bridge to its
 * secondary bus; firmware (SeaBIOS) has already numbered the buses and
 * assigned every BAR an address, so we only read them.  A BAR's size is
 * found the classic way: write all ones, read back which bits stuck.
 *
 * Interrupts.  A device with MSI-X gets one message per table entry: the
 * message is a memory write to 0xfee00000 | (APIC id << 12) carrying the
 * vector (Intel SDM 3A, 11.11), so no IOAPIC is involved and each queue
 * can interrupt its own CPU.  Without MSI-X a function raises its INTx
 * pin, which firmware connected to an ISA IRQ (the config space's
 * interrupt line) on the IOAPIC: level-triggered, so the hard handler
 * masks the line before the EOI and the driver unmasks it once its
 * device is quiet (pci_intx_route, pci_intx_unmask).  Vectors come from a small pool
 * (PCI_VECTOR_FIRST..PCI_VECTOR_LAST).  Drivers then register the vector
 * like any other (register_int, intrmsg_bind): no driver does real work
 * in the hard interrupt handler.
 *
 * The core structure is one list, pci_devices, of struct pci_dev in the
 * order enumeration found them (bus, slot, function, depth first through
 * bridges).  Invariants:
 *
 *   - a pci_dev is created by pci_read_function and never freed: drivers
 *     keep pointers to it for the life of the kernel;
 *   - its identity fields (bus..msix_count, bar[].kind/addr/size) are
 *     written once during enumeration and read-only afterwards; bar[].va
 *     and msix_table are written once, by the attaching driver;
 *   - every bus a pci_dev lives on had its ECAM window mapped during the
 *     scan (scanning a bus reads each slot's vendor id), so after boot
 *     ecam_bus() only reads ecam.bus_va[];
 *   - the vector pool only grows: a vector handed out is never returned.
 *
 * Locking: enumeration and attach run once, in the boot thread on CPU 0,
 * before anything else touches the bus.  After that the device list is
 * read-only and needs no lock.  Who holds what:
 *
 *   pci_cfg_lock     the 0xcf8/0xcfc pair: an address write and a data
 *                    access are two I/O operations, and another CPU's
 *                    address write between them would aim ours elsewhere.
 *                    Taken with interrupts off, for a few instructions.
 *                    ECAM accesses are single loads and stores: no lock.
 *   pci_vector_lock  pci_next_vector.
 *   the driver       pd->driver, pd->softc, and the device's registers.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/kprintf.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/spinlock.h>
#include <kern/globaldata.h>
#include <drivers/acpi.h>
#include <drivers/pci.h>
#include <kern/intr.h>
#include <machine/apic.h>
#include <machine/cpufunc.h>
#include <vm/vm_kern.h>

MALLOC_DEFINE(M_PCI, "pci", "PCI devices");

/* Configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2). */
#define PCI_CFG_ADDR	0xcf8
#define PCI_CFG_DATA	0xcfc
#define PCI_CFG_ENABLE	0x80000000u	/* bit 31: a config cycle */

/* The address space the bus numbers span (8, 5 and 3 bits). */
#define PCI_MAX_BUS	256
#define PCI_MAX_SLOT	32
#define PCI_MAX_FUNC	8
/*
 * Capabilities live after the 64-byte header, dword aligned, at least 4
 * bytes each: (256 - 64) / 4 = 48 fit.  A walk longer than that is a
 * loop in a broken list.
 */
#define PCI_CAP_HOPS	48
#define PCI_CAP_FIRST	0x40	/* no capability inside the header */

/* MSI-X capability registers and table entries (PCIe Base 4.0, 7.7.2). */
#define MSIX_CTRL		2
#define MSIX_CTRL_SIZE		0x07ff	/* table entries - 1 */
#define MSIX_CTRL_MASKALL	0x4000
#define MSIX_CTRL_ENABLE	0x8000
#define MSIX_TABLE		4	/* offset | BAR index (low 3 bits) */
#define MSIX_ENTRY_SIZE		16
#define MSIX_ENTRY_ADDR_LO	0	/* in 32-bit words */
#define MSIX_ENTRY_ADDR_HI	1
#define MSIX_ENTRY_DATA		2
#define MSIX_ENTRY_CTRL		3
#define MSIX_ENTRY_MASKED	1

/*
 * The x86 MSI address (Intel SDM 3A, 11.11.1): 0xfee in bits 31..20,
 * the destination APIC id in bits 19..12, redirection hint (bit 3) and
 * destination mode (bit 2) both 0: physical, exactly that CPU.  The data
 * word (11.11.2) is the vector in bits 7..0 with delivery mode 000
 * (fixed) and trigger mode 0 (edge), so the bare vector is a valid one.
 */
#define MSI_ADDR_BASE		0xfee00000u
#define MSI_ADDR_DEST_SHIFT	12

/*
 * Device vectors handed out by pci_vector_alloc: 80 of them, above the
 * exceptions (0..31) and the IOAPIC's ISA range (IDT_OFFSET_IOAPIC, 48
 * up), below the test, timer and IPI vectors (0xd0 up; kern/intr.h).
 */
#define PCI_VECTOR_FIRST	0x80
#define PCI_VECTOR_LAST		0xcf

struct pci_dev_list pci_devices = TAILQ_HEAD_INITIALIZER(pci_devices);

/* The registered drivers, between the linker's section markers. */
extern const struct pci_driver *const __start_pci_drivers[];
extern const struct pci_driver *const __stop_pci_drivers[];

static struct spinlock pci_cfg_lock = SPINLOCK_INITIALIZER("pci cfg");
static struct spinlock pci_vector_lock = SPINLOCK_INITIALIZER("pci vec");
static int pci_next_vector = PCI_VECTOR_FIRST;	/* pci_vector_lock */

/*
 * ECAM: where MCFG says start_bus's page lies, and its bus range.  base
 * is 0 when the machine has no MCFG (-M pc): then every access goes
 * through the port pair.  Written by pci_ecam_init before the scan;
 * bus_va[] filled during the scan (see the invariants above).
 */
static struct {
	uint64_t base;
	uint8_t start_bus, end_bus;
	volatile uint8_t *bus_va[PCI_MAX_BUS];	/* 1 MiB each, on demand */
} ecam;

/* ---- configuration space ---------------------------------------------- */

/* The MCFG table (PCI Firmware 3.0, 4.1.2): header, 8 reserved, entries. */
struct mcfg_entry {
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus, end_bus;
	uint32_t reserved;
} __packed;

#define MCFG_ENTRIES_OFFSET 44

/*
 * Use ECAM if ACPI lists a segment-0 window; else the port pair.  Only
 * the first entry is looked at: QEMU's q35 lists one, and Damselfly
 * knows only segment 0 (a machine with more segments would need them in
 * struct pci_dev too).
 */
static void pci_ecam_init(void)
{
	const struct acpi_sdt_header *h = acpi_find_table("MCFG");
	const struct mcfg_entry *e;

	if (h == NULL || h->length < MCFG_ENTRIES_OFFSET + sizeof(*e))
		return;
	e = (const void *)((const uint8_t *)h + MCFG_ENTRIES_OFFSET);
	if (e->segment != 0 || e->start_bus > e->end_bus)
		return;
	ecam.base = e->base;
	ecam.start_bus = e->start_bus;
	ecam.end_bus = e->end_bus;
}

/*
 * The mapped 1 MiB window of bus, mapped the first time it is needed
 * (32 slots x 8 functions x 4 KiB; PCI Express Base 4.0, 7.2.2).  Mapping
 * all 256 buses up front would spend 256 MiB of address space on buses
 * that do not exist.
 */
static volatile uint8_t *ecam_bus(int bus)
{
	if (ecam.bus_va[bus] == NULL)
		ecam.bus_va[bus] = pmap_mapdev(ecam.base +
			((uint64_t)(bus - ecam.start_bus) << 20), 1 << 20);
	return ecam.bus_va[bus];
}

/* Does the MCFG window include bus?  Otherwise use the port pair. */
static bool ecam_covers(int bus)
{
	return ecam.base != 0 && bus >= ecam.start_bus && bus <= ecam.end_bus;
}

/* Contract in drivers/pci.h.  Any thread; no locks. */
const char *pci_access_method(void)
{
	return ecam.base != 0 ? "ECAM" : "0xcf8";
}

/*
 * Read width bytes at off of bus:slot.func, by whichever way works.
 * Through the port pair, offsets past 256 do not exist: they read as all
 * ones, like a function that is absent, rather than alias the first 256
 * bytes.  Takes pci_cfg_lock (port pair only); never blocks.
 */
static uint32_t cfg_read(int bus, int slot, int func, unsigned off,
			 int width)
{
	uint64_t rf;
	uint32_t v;

	if (ecam_covers(bus)) {
		volatile uint8_t *p = ecam_bus(bus) + (slot << 15 |
						      func << 12 | off);
		return width == 1 ? *p : width == 2 ?
			*(volatile uint16_t *)p : *(volatile uint32_t *)p;
	}
	if (off >= 256)
		return ~0u >> (32 - 8 * width);
	rf = spin_lock_irqsave(&pci_cfg_lock);
	/* The address names a dword; a narrower field is cut out of it. */
	outl(PCI_CFG_ADDR, PCI_CFG_ENABLE | bus << 16 | slot << 11 |
	     func << 8 | (off & 0xfc));
	v = inl(PCI_CFG_DATA) >> (8 * (off & 3));
	spin_unlock_irqrestore(&pci_cfg_lock, rf);
	return width == 4 ? v : v & ((1u << (8 * width)) - 1);
}

/*
 * Write width bytes; the port path merges into the enclosing dword
 * (read, replace the bytes, write back, all under pci_cfg_lock so no
 * other writer's bytes are lost).  ECAM stores exactly width bytes.
 * Never blocks.
 */
static void cfg_write(int bus, int slot, int func, unsigned off, int width,
		      uint32_t value)
{
	uint64_t rf;

	if (ecam_covers(bus)) {
		volatile uint8_t *p = ecam_bus(bus) + (slot << 15 |
						      func << 12 | off);
		if (width == 1)
			*p = value;
		else if (width == 2)
			*(volatile uint16_t *)p = value;
		else
			*(volatile uint32_t *)p = value;
		return;
	}
	KASSERT(off < 256, "config offset %#x needs ECAM", off);
	rf = spin_lock_irqsave(&pci_cfg_lock);
	outl(PCI_CFG_ADDR, PCI_CFG_ENABLE | bus << 16 | slot << 11 |
	     func << 8 | (off & 0xfc));
	if (width == 4) {
		outl(PCI_CFG_DATA, value);
	} else {
		unsigned shift = 8 * (off & 3);
		uint32_t mask = ((1u << (8 * width)) - 1) << shift;
		uint32_t old = inl(PCI_CFG_DATA);

		outl(PCI_CFG_DATA, (old & ~mask) | ((value << shift) & mask));
	}
	spin_unlock_irqrestore(&pci_cfg_lock, rf);
}

/* The rule of every config access: 1, 2 or 4 bytes, naturally aligned. */
static void check_access(unsigned off, int width)
{
	KASSERT((width == 1 || width == 2 || width == 4) &&
		(off & (width - 1)) == 0 && off + width <= 4096,
		"config access of %d bytes at %#x: widths are 1, 2 or 4, "
		"aligned, inside the 4 KiB space", width, off);
}

/*
 * Contract in drivers/pci.h: width bytes at off of pd's configuration
 * space.  Any thread or CPU; spins briefly on pci_cfg_lock without ECAM.
 */
uint32_t pci_cfg_read(const struct pci_dev *pd, unsigned off, int width)
{
	check_access(off, width);
	return cfg_read(pd->bus, pd->slot, pd->func, off, width);
}

/* Contract in drivers/pci.h; the same rules as pci_cfg_read. */
void pci_cfg_write(const struct pci_dev *pd, unsigned off, int width,
		   uint32_t value)
{
	check_access(off, width);
	cfg_write(pd->bus, pd->slot, pd->func, off, width, value);
}

/*
 * Set command_bits in the Command register, leaving the others as they
 * are (a read-modify-write: the register has no set-only form).  The
 * attaching driver's thread; the device is its own, so no lock beyond
 * the config access.
 */
void pci_enable(struct pci_dev *pd, uint16_t command_bits)
{
	uint16_t cmd;

	KASSERT((command_bits & ~(PCI_CMD_IO | PCI_CMD_MEMORY |
				  PCI_CMD_BUSMASTER | PCI_CMD_INTX_OFF)) == 0,
		"pci_enable: command bits %#x include some this kernel does "
		"not know; name them in drivers/pci.h first", command_bits);
	cmd = pci_cfg_read(pd, PCI_COMMAND, 2);
	pci_cfg_write(pd, PCI_COMMAND, 2, cmd | command_bits);
}

/* ---- capabilities and BARs -------------------------------------------- */

/*
 * Contract in drivers/pci.h.  The list (PCI Local Bus 3.0, 6.7): the
 * Status register says whether there is one, the byte at PCI_CAP_PTR
 * points at the first entry, and each entry is "u8 id, u8 next, ...".
 * A next pointer of 0 ends the list; its low two bits are reserved and
 * masked off.  Any thread; never blocks.
 */
unsigned pci_find_cap(const struct pci_dev *pd, uint8_t id, unsigned after)
{
	unsigned off;

	KASSERT(after == 0 || (after >= PCI_CAP_FIRST && after < 256),
		"pci_find_cap: `after` (%#x) must be 0 or an offset an "
		"earlier call returned", after);
	if (!(pci_cfg_read(pd, PCI_STATUS, 2) & PCI_STATUS_CAPS))
		return 0;
	off = after ? pci_cfg_read(pd, after + 1, 1) :
		      pci_cfg_read(pd, PCI_CAP_PTR, 1);
	/* A pointer into the header ends a broken list too. */
	for (int hops = 0; hops < PCI_CAP_HOPS && off >= PCI_CAP_FIRST;
	     hops++) {
		off &= 0xfc;
		if (pci_cfg_read(pd, off, 1) == id)
			return off;
		off = pci_cfg_read(pd, off + 1, 1);
	}
	return 0;
}

/*
 * Size BAR n (PCI Local Bus 3.0, 6.2.5.1): with decoding off, write all
 * ones, read back, restore.  The bits that stay zero are the size's.
 * Returns how many BAR slots it used (2 for a 64-bit BAR).
 */
static int pci_size_bar(struct pci_dev *pd, int n)
{
	unsigned off = PCI_BAR0 + 4 * n;
	uint32_t lo = pci_cfg_read(pd, off, 4), hi = 0, mlo, mhi = ~0u;
	struct pci_bar *b = &pd->bar[n];

	pci_cfg_write(pd, off, 4, ~0u);
	mlo = pci_cfg_read(pd, off, 4);
	pci_cfg_write(pd, off, 4, lo);
	if (mlo == 0)
		return 1;			/* not implemented */
	/*
	 * Bit 0 set: an I/O BAR, address in bits 31..2.  A device that
	 * decodes only the 64 KiB x86 port space may hardwire the upper 16
	 * bits to 0, so the size is computed in 16 bits.
	 */
	if (lo & 1) {
		b->kind = PCI_BAR_IO;
		b->addr = lo & ~3u;
		b->size = (uint16_t)(~(mlo & ~3u) + 1);
		return 1;
	}
	/* Memory: bit 3 prefetchable, bits 2..1 type (10b: 64-bit, and the
	 * next BAR holds the upper half), address in bits 31..4. */
	b->prefetchable = (lo & 8) != 0;
	b->kind = ((lo >> 1) & 3) == 2 ? PCI_BAR_MEM64 : PCI_BAR_MEM32;
	if (b->kind == PCI_BAR_MEM64 && n + 1 < PCI_NBARS) {
		hi = pci_cfg_read(pd, off + 4, 4);
		pci_cfg_write(pd, off + 4, 4, ~0u);
		mhi = pci_cfg_read(pd, off + 4, 4);
		pci_cfg_write(pd, off + 4, 4, hi);
	}
	b->addr = ((uint64_t)hi << 32) | (lo & ~0xfu);
	b->size = ~(((uint64_t)mhi << 32) | (mlo & ~0xfu)) + 1;
	return b->kind == PCI_BAR_MEM64 ? 2 : 1;
}

/*
 * Size every BAR of pd.  A device header has six, a bridge header two
 * (its other dwords are bus numbers and windows).  Boot thread.
 */
static void pci_size_bars(struct pci_dev *pd)
{
	uint16_t cmd = pci_cfg_read(pd, PCI_COMMAND, 2);
	int nbars = pd->header == 0 ? PCI_NBARS : 2;

	/* Stop decoding while a BAR holds all ones: the device would answer
	 * accesses to whatever range all ones happens to name. */
	pci_cfg_write(pd, PCI_COMMAND, 2,
		      cmd & ~(PCI_CMD_IO | PCI_CMD_MEMORY));
	for (int n = 0; n < nbars;)
		n += pci_size_bar(pd, n);
	pci_cfg_write(pd, PCI_COMMAND, 2, cmd);
}

/*
 * Contract in drivers/pci.h: map memory BAR n uncached, once.  The
 * attaching driver's thread (b->va is written without a lock: one
 * driver owns the device).  May allocate kernel address space.
 */
void *pci_map_bar(struct pci_dev *pd, int n)
{
	struct pci_bar *b = &pd->bar[n];

	KASSERT(n >= 0 && n < PCI_NBARS, "BAR %d does not exist", n);
	if (b->kind != PCI_BAR_MEM32 && b->kind != PCI_BAR_MEM64)
		return NULL;
	if (b->va == NULL)
		b->va = pmap_mapdev(b->addr, b->size);
	return b->va;
}

/* ---- enumeration ------------------------------------------------------ */

static void pci_scan_bus(int bus, int depth);

/*
 * Read the header of a function that exists into a new pci_dev: its ids
 * and class (PCI Local Bus 3.0, 6.2.1), its BARs, and where its MSI-X
 * capability is.  The header type's bit 7 (multi-function) is masked
 * off: only the layout is kept.  Type 2 (CardBus) has no BARs of the
 * usual shape, so they are not sized.  Boot thread; may allocate.
 */
static struct pci_dev *pci_read_function(int bus, int slot, int func)
{
	struct pci_dev *pd = kmalloc(sizeof(*pd), M_PCI, M_WAITOK | M_ZERO);

	pd->bus = bus;
	pd->slot = slot;
	pd->func = func;
	pd->vendor = cfg_read(bus, slot, func, PCI_VENDOR, 2);
	pd->device = cfg_read(bus, slot, func, PCI_DEVICE, 2);
	pd->class = cfg_read(bus, slot, func, PCI_CLASS, 1);
	pd->subclass = cfg_read(bus, slot, func, PCI_SUBCLASS, 1);
	pd->progif = cfg_read(bus, slot, func, PCI_PROGIF, 1);
	pd->revision = cfg_read(bus, slot, func, PCI_REVISION, 1);
	pd->header = cfg_read(bus, slot, func, PCI_HEADER, 1) & 0x7f;
	pd->intr_pin = cfg_read(bus, slot, func, PCI_INTR_PIN, 1);
	if (pd->header <= 1)
		pci_size_bars(pd);
	pd->msix_cap = pci_find_cap(pd, PCI_CAP_MSIX, 0);
	/* Table Size is encoded as N - 1 (PCI Express Base 4.0, 7.7.2.2). */
	if (pd->msix_cap)
		pd->msix_count = (pci_cfg_read(pd, pd->msix_cap + MSIX_CTRL,
					       2) & MSIX_CTRL_SIZE) + 1;
	return pd;
}

/*
 * Record one function, and if it is a PCI-to-PCI bridge, scan the bus
 * behind it.  Firmware numbered buses depth first, so a secondary bus
 * is always greater than its bridge's own; one that is not (or a chain
 * deeper than 8) means a firmware mistake or a loop, and is not
 * followed.
 */
static void pci_scan_function(int bus, int slot, int func, int depth)
{
	struct pci_dev *pd = pci_read_function(bus, slot, func);

	TAILQ_INSERT_TAIL(&pci_devices, pd, link);
	/* A bridge: its secondary bus holds more devices (8 levels max). */
	if (pd->header == 1 && depth < 8) {
		int secondary = pci_cfg_read(pd, PCI_SECONDARY_BUS, 1);

		if (secondary > bus)
			pci_scan_bus(secondary, depth + 1);
	}
}

/*
 * One slot.  A vendor id of 0xffff is what a read from nothing returns.
 * Function 0 must exist if any does; functions 1..7 are looked at only
 * when function 0's header says multi-function (bit 7), since a
 * single-function device may answer for all eight numbers.
 */
static void pci_scan_slot(int bus, int slot, int depth)
{
	int nfunc;

	if (cfg_read(bus, slot, 0, PCI_VENDOR, 2) == 0xffff)
		return;
	nfunc = (cfg_read(bus, slot, 0, PCI_HEADER, 1) & 0x80) ?
		PCI_MAX_FUNC : 1;
	for (int func = 0; func < nfunc; func++)
		if (cfg_read(bus, slot, func, PCI_VENDOR, 2) != 0xffff)
			pci_scan_function(bus, slot, func, depth);
}

/* Every slot of bus; recursion through bridges happens per function. */
static void pci_scan_bus(int bus, int depth)
{
	for (int slot = 0; slot < PCI_MAX_SLOT; slot++)
		pci_scan_slot(bus, slot, depth);
}

/* ---- printing ---------------------------------------------------------- */

/* The base class code's name (PCI Code and ID Assignment, class 00..09). */
static const char *pci_class_name(const struct pci_dev *pd)
{
	static const char *const names[] = {
		"old", "storage", "network", "display", "multimedia",
		"memory", "bridge", "communication", "system", "input",
	};

	return pd->class < nitems(names) ? names[pd->class] : "other";
}

/*
 * One line: bus:slot.func vendor:device class, every BAR (address/size),
 * the MSI-X table size, and the driver that took the function.
 */
static void pci_print(const struct pci_dev *pd)
{
	kprintf("pci %02x:%02x.%x %04x:%04x %s (%02x/%02x)", pd->bus,
		pd->slot, pd->func, pd->vendor, pd->device,
		pci_class_name(pd), pd->class, pd->subclass);
	for (int n = 0; n < PCI_NBARS; n++) {
		const struct pci_bar *b = &pd->bar[n];

		if (b->kind == PCI_BAR_NONE)
			continue;
		kprintf(" bar%d=%s%#lx/%#lx", n, b->kind == PCI_BAR_IO ?
			"io:" : "", b->addr, b->size);
	}
	if (pd->msix_cap)
		kprintf(" msix=%u", pd->msix_count);
	if (pd->driver)
		kprintf(" -> %s", pd->driver->name);
	kprintf("\n");
}

/* Contract in drivers/pci.h.  Any thread: the list is read-only now. */
void pci_print_all(void)
{
	struct pci_dev *pd;

	TAILQ_FOREACH(pd, &pci_devices, link)
		pci_print(pd);
}

/* ---- drivers ------------------------------------------------------------ */

/*
 * Offer pd to each driver; the first that wants it attaches.  A driver
 * whose attach fails keeps the device: it is not offered to the next
 * one, since the failed attach may have left it half set up (a virtio
 * device is then FAILED).  Drivers come in link order, which is not a
 * priority: two drivers must not probe true for the same device.
 */
static void pci_attach_one(struct pci_dev *pd)
{
	for (const struct pci_driver *const *d = __start_pci_drivers;
	     d < __stop_pci_drivers; d++) {
		int error;

		if (!(*d)->probe(pd))
			continue;
		error = (*d)->attach(pd);
		if (error == 0) {
			pd->driver = *d;
			return;
		}
		kprintf("pci %02x:%02x.%x: %s did not attach (error %d)\n",
			pd->bus, pd->slot, pd->func, (*d)->name, error);
		return;
	}
}

/*
 * Contract in drivers/pci.h: find, attach and print every function.
 * Boot thread on CPU 0, once, after ACPI (for MCFG) and the APICs (for
 * interrupt routing) are up.  Blocks in the drivers' attach routines.
 */
void pci_init(void)
{
	struct pci_dev *pd;

	KASSERT(mycpu->gd_cpuid == 0 && TAILQ_EMPTY(&pci_devices),
		"pci_init runs once, on the boot CPU (cpu%d, list %s)",
		mycpu->gd_cpuid, TAILQ_EMPTY(&pci_devices) ? "empty" :
		"already filled");
	pci_ecam_init();
	pci_scan_bus(0, 0);
	TAILQ_FOREACH(pd, &pci_devices, link) {
		pci_attach_one(pd);
		pci_print(pd);
	}
}

/* ---- interrupts -------------------------------------------------------- */

/*
 * Contract in drivers/pci.h: the next unused vector, or -1.  Vectors
 * are never freed: devices attach once.  Any thread; takes
 * pci_vector_lock (a spinlock, briefly).
 */
int pci_vector_alloc(void)
{
	int v = -1;

	spin_lock(&pci_vector_lock);
	if (pci_next_vector <= PCI_VECTOR_LAST)
		v = pci_next_vector++;
	spin_unlock(&pci_vector_lock);
	return v;
}

/*
 * Entry n's four words in the mapped MSI-X table (PCI Express Base 4.0,
 * 7.7.2): message address low and high, message data, vector control.
 */
static volatile uint32_t *msix_entry(struct pci_dev *pd, int n)
{
	return pd->msix_table + n * (MSIX_ENTRY_SIZE / 4);
}

/*
 * Contract in drivers/pci.h: map the table, turn MSI-X on with every
 * entry masked.  Returns 0, ENODEV (no MSI-X), or ENXIO (the table does
 * not fit in its BAR).  The attaching driver's thread, once per device.
 */
int pci_msix_enable(struct pci_dev *pd)
{
	uint32_t table;
	uint16_t ctrl;
	uint8_t *bar;

	KASSERT(pd->msix_table == NULL, "pci_msix_enable twice on "
		"%02x:%02x.%x", pd->bus, pd->slot, pd->func);
	if (pd->msix_cap == 0)
		return ENODEV;
	/* The Table Offset/BIR dword: the BAR index in bits 2..0, the
	 * table's offset in that BAR in the rest (8-byte aligned). */
	table = pci_cfg_read(pd, pd->msix_cap + MSIX_TABLE, 4);
	bar = pci_map_bar(pd, table & 7);
	if (bar == NULL || (table & ~7u) + pd->msix_count * MSIX_ENTRY_SIZE >
			   pd->bar[table & 7].size)
		return ENXIO;
	pd->msix_table = (volatile uint32_t *)(bar + (table & ~7u));
	/*
	 * Program entries with the whole function masked (7.7.2.2): set
	 * Enable and Function Mask together, mask each entry on its own,
	 * then drop Function Mask.  Entries stay masked until
	 * pci_msix_route fills them, so no half-written entry can fire.
	 */
	ctrl = pci_cfg_read(pd, pd->msix_cap + MSIX_CTRL, 2);
	pci_cfg_write(pd, pd->msix_cap + MSIX_CTRL, 2,
		      ctrl | MSIX_CTRL_MASKALL | MSIX_CTRL_ENABLE);
	for (int n = 0; n < pd->msix_count; n++)
		msix_entry(pd, n)[MSIX_ENTRY_CTRL] = MSIX_ENTRY_MASKED;
	pci_cfg_write(pd, pd->msix_cap + MSIX_CTRL, 2,
		      (ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_MASKALL);
	/* With MSI-X enabled the function may not use INTx anyway; the
	 * Command register's Interrupt Disable bit says so for certain. */
	pci_enable(pd, PCI_CMD_INTX_OFF);
	return 0;
}

/*
 * Contract in drivers/pci.h: aim entry at a fresh vector on cpu and
 * unmask it.  Returns the vector, or -EINVAL (bad entry or CPU),
 * -ENOSPC (no vector left).  Entries are routed once; routing an entry
 * again would spend another vector.  The attaching driver's thread.
 */
int pci_msix_route(struct pci_dev *pd, int entry, int cpu)
{
	volatile uint32_t *e;
	int vector;

	KASSERT(pd->msix_table != NULL, "pci_msix_route before "
		"pci_msix_enable");
	if (entry < 0 || entry >= pd->msix_count)
		return -EINVAL;
	if (cpu < 0 || cpu >= ncpus)
		return -EINVAL;
	vector = pci_vector_alloc();
	if (vector < 0)
		return -ENOSPC;
	e = msix_entry(pd, entry);
	/* Address and data first, the unmask last: the entry is complete
	 * before the device may use it. */
	e[MSIX_ENTRY_ADDR_LO] = MSI_ADDR_BASE |
		globaldata_find(cpu)->gd_apic_id << MSI_ADDR_DEST_SHIFT;
	e[MSIX_ENTRY_ADDR_HI] = 0;
	e[MSIX_ENTRY_DATA] = vector;	/* fixed delivery, edge */
	e[MSIX_ENTRY_CTRL] = 0;		/* unmasked */
	return vector;
}

/*
 * The hard handler's mask for a level-triggered INTx line.  A level
 * line stays asserted until the driver's thread quiets the device (reads
 * the ISR byte); without the mask, the EOI would let the IOAPIC deliver
 * it again at once, over and over, and the thread would never run.
 * Hard interrupt context, on the CPU the line is routed to.
 */
static void intx_mask(void *arg)
{
	ioapic_set_mask_isa((int)(uintptr_t)arg, true);
}

/*
 * Contract in drivers/pci.h.  The Interrupt Line register is only what
 * firmware wrote there: the ISA IRQ its routing connected the pin to
 * (SeaBIOS fills it in on both machines; 0 and 0xff mean nowhere).  The
 * IOAPIC side programs the pin level-triggered, with the polarity
 * ACPI's interrupt source override gives (ioapic_route_pci).  The
 * attaching driver's thread.
 */
int pci_intx_route(struct pci_dev *pd, int cpu, int *irqp)
{
	int irq = pci_cfg_read(pd, PCI_INTR_LINE, 1), vector;

	KASSERT(irqp != NULL, "pci_intx_route: irqp receives the IRQ");
	if (pd->intr_pin == 0)
		return -ENODEV;		/* the function has no INTx pin */
	if (irq == 0 || irq >= 16)
		return -ENXIO;		/* firmware connected it nowhere */
	if (cpu < 0 || cpu >= ncpus)
		return -EINVAL;
	vector = IDT_OFFSET_IOAPIC + irq;
	intr_set_level_mask(vector, intx_mask, (void *)(uintptr_t)irq);
	ioapic_route_pci(irq, vector, globaldata_find(cpu)->gd_apic_id);
	ioapic_set_mask_isa(irq, true);	/* until the driver is ready */
	*irqp = irq;
	return vector;
}

/*
 * Contract in drivers/pci.h: let irq fire again, once the device is
 * quiet.  The driver's thread (the one the interrupt message wakes).
 */
void pci_intx_unmask(int irq)
{
	KASSERT(irq > 0 && irq < 16, "pci_intx_unmask(%d): not an ISA IRQ "
		"pci_intx_route returned", irq);
	ioapic_set_mask_isa(irq, false);
}
