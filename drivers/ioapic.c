/*
 * ioapic.c - the I/O APIC: route device interrupt lines to CPUs.
 *
 * Each IOAPIC (Intel 82093AA data sheet, 3.2) is two MMIO registers: an
 * index (IOREGSEL, offset 0) and a window (IOWIN, offset 0x10).  Register
 * 1 holds the number of inputs (bits 16..23, minus one); registers
 * 0x10 + 2n and 0x11 + 2n are input n's 64-bit redirection entry:
 *
 *   bits 0-7 vector | 8-10 delivery mode | 13 polarity (1 = low)
 *   15 trigger (1 = level) | 16 masked | 56-63 destination APIC id
 *
 * At boot every input is masked; a driver routes its ISA IRQ with
 * ioapic_route_isa(), which applies the MADT's interrupt source overrides
 * (an ISA IRQ may arrive on another global system interrupt, GSI, with
 * its own polarity and trigger mode; ACPI 6.5, 5.2.12.5).
 */
#include <kern/types.h>
#include <kern/panic.h>
#include <kern/spinlock.h>
#include <machine/apic.h>
#include <machine/vmparam.h>
#include <vm/vm_kern.h>

/*
 * The two MMIO registers (82093AA data sheet, 3.1) as indexes into a
 * uint32_t array, then the indirect registers reached through them and
 * the redirection-entry bits we set (3.2.4).
 */
#define IOREGSEL	0
#define IOWIN		4	/* in 32-bit words: offset 0x10 */
#define IOAPIC_VER	1
#define IOAPIC_REDTBL	0x10
#define RTE_MASKED	0x10000UL
#define RTE_LEVEL	0x8000UL
#define RTE_ACTIVE_LOW	0x2000UL
/*
 * MPS INTI flags of an interrupt source override (ACPI 6.5, 5.2.12.5):
 * bits 1..0 polarity and 3..2 trigger, each 00 "as the bus says" (for
 * ISA: active high, edge), 01 high / edge, 11 low / level.
 */
#define ISO_POLARITY_MASK 0x3
#define ISO_POLARITY_LOW  0x3
#define ISO_TRIGGER_MASK  0xc
#define ISO_TRIGGER_LEVEL 0xc

/*
 * Indirect access: select register reg in IOREGSEL, then read or write
 * it through IOWIN.  The pair is two separate accesses, so every write
 * goes through ioapic_set_rte, which holds ioapic_lock around its pairs.
 */
static uint32_t ioapic_read(volatile uint32_t *base, uint32_t reg)
{
	base[IOREGSEL] = reg;
	return base[IOWIN];
}

static void ioapic_write(volatile uint32_t *base, uint32_t reg, uint32_t v)
{
	base[IOREGSEL] = reg;
	base[IOWIN] = v;
}

/* Mapped on first use; sized like madt.ioapics. */
static volatile uint32_t *ioapic_regs[4];

static volatile uint32_t *ioapic_base(int i)
{
	if (ioapic_regs[i] == NULL)
		ioapic_regs[i] = pmap_mapdev(madt.ioapics[i].phys, PAGE_SIZE);
	return ioapic_regs[i];
}

/* IOAPICVER bits 23..16 hold the highest entry number, i.e. inputs - 1. */
static int ioapic_inputs(int i)
{
	return ((ioapic_read(ioapic_base(i), IOAPIC_VER) >> 16) & 0xff) + 1;
}

/*
 * Program the redirection entry of global system interrupt gsi: find
 * the IOAPIC whose GSI range holds it.  The high half (destination) is
 * written first, so that when the low half lands -- with the vector and
 * the mask bit -- the entry goes live already pointing at the right CPU.
 * Panics if no IOAPIC serves gsi: the MADT and the caller disagree.
 */
static struct spinlock ioapic_lock = SPINLOCK_INITIALIZER("ioapic");

static void ioapic_set_rte(uint32_t gsi, uint64_t rte)
{
	uint64_t rf;

	for (int i = 0; i < madt.nioapics; i++) {
		uint32_t pin = gsi - madt.ioapics[i].gsi_base;

		if (gsi < madt.ioapics[i].gsi_base ||
		    pin >= (uint32_t)ioapic_inputs(i))
			continue;
		/* The index/window pairs of two CPUs must not mix: a hard
		 * interrupt masks its line while a driver routes another. */
		rf = spin_lock_irqsave(&ioapic_lock);
		ioapic_write(ioapic_base(i), IOAPIC_REDTBL + 2 * pin + 1,
			     rte >> 32);
		ioapic_write(ioapic_base(i), IOAPIC_REDTBL + 2 * pin,
			     (uint32_t)rte);
		spin_unlock_irqrestore(&ioapic_lock, rf);
		return;
	}
	panic("ioapic: no IOAPIC serves GSI %u; the MADT lists %d IOAPIC(s)",
	      gsi, madt.nioapics);
}

/*
 * Mask every input of every IOAPIC.  Boot CPU, once, after madt_init()
 * and before interrupts are enabled: firmware may have left entries
 * routed, and a device must not interrupt before its driver is ready.
 */
void ioapic_init(void)
{
	for (int i = 0; i < madt.nioapics; i++)
		for (int pin = 0; pin < ioapic_inputs(i); pin++)
			ioapic_set_rte(madt.ioapics[i].gsi_base + pin,
				       RTE_MASKED);
}

/*
 * Route ISA irq (0..15) to vector on the CPU with APIC id dest, unmasked,
 * fixed delivery, physical destination mode.  The MADT override, if any,
 * picks the real input, polarity and trigger mode.  Never blocks.
 */
void ioapic_route_isa(int irq, int vector, uint32_t dest)
{
	uint16_t fl = madt.isa_irq[irq].flags;
	uint64_t rte = (uint64_t)vector | (uint64_t)dest << 56;

	KASSERT(irq >= 0 && irq < 16, "ISA IRQ %d does not exist", irq);
	if ((fl & ISO_POLARITY_MASK) == ISO_POLARITY_LOW)
		rte |= RTE_ACTIVE_LOW;
	if ((fl & ISO_TRIGGER_MASK) == ISO_TRIGGER_LEVEL)
		rte |= RTE_LEVEL;
	ioapic_set_rte(madt.isa_irq[irq].gsi, rte);
}

/* Mask ISA irq again; its vector and destination are forgotten. */
void ioapic_mask_isa(int irq)
{
	ioapic_set_rte(madt.isa_irq[irq].gsi, RTE_MASKED);
}

/* The routing of each PCI line, to mask and unmask it (ioapic_lock). */
static uint64_t pci_rte[16];

/*
 * Route a PCI device's INTx line, which firmware connected to ISA irq
 * (the config space's interrupt line), to vector on dest.  PCI lines are
 * level-triggered and shared: the line stays asserted until the driver
 * quiets its device, so the hard handler masks it (ioapic_set_mask_isa)
 * and the driver unmasks it when done.  The MADT override's polarity is
 * used when it gives one (QEMU's declares these lines level, active
 * high).  Never blocks.
 */
void ioapic_route_pci(int irq, int vector, uint32_t dest)
{
	uint16_t fl = madt.isa_irq[irq].flags;
	uint64_t rte = (uint64_t)vector | (uint64_t)dest << 56 | RTE_LEVEL;

	KASSERT(irq > 0 && irq < 16, "PCI line on ISA IRQ %d", irq);
	if ((fl & ISO_POLARITY_MASK) == ISO_POLARITY_LOW)
		rte |= RTE_ACTIVE_LOW;
	pci_rte[irq] = rte;
	ioapic_set_rte(madt.isa_irq[irq].gsi, rte);
}

/* Mask or unmask a line ioapic_route_pci routed, keeping its routing.
 * Any context, hard interrupt handlers included. */
void ioapic_set_mask_isa(int irq, bool masked)
{
	ioapic_set_rte(madt.isa_irq[irq].gsi,
		       pci_rte[irq] | (masked ? RTE_MASKED : 0));
}
