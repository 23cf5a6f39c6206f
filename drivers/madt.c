/*
 * madt.c - read the ACPI MADT ("APIC" table): which processors exist,
 * where the local APIC and the IOAPICs are, and how ISA IRQs are wired.
 *
 * ACPI 6.5, 5.2.12 "Multiple APIC Description Table": a header, the local
 * APIC's physical address and flags, then variable-length entries, each
 * starting with (type, length):
 *
 *   type 0  Processor Local APIC   uid, apic id (8 bit), flags
 *   type 1  I/O APIC               id, address, GSI base
 *   type 2  Interrupt Source Override  bus, source irq, GSI, flags
 *   type 5  Local APIC Address Override  64-bit address
 *   type 9  Processor Local x2APIC  apic id (32 bit), flags, uid
 *
 * A processor counts if its flags say Enabled (bit 0).  The boot CPU's
 * id goes first, so CPU numbers match the order we start them in.
 */
#include <kern/types.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <drivers/acpi.h>
#include <machine/apic.h>

/* Entry types (ACPI 6.5, 5.2.12, "Interrupt Controller Structure
 * Types") and the processor structures' Enabled flag. */
#define MADT_LAPIC		0
#define MADT_IOAPIC		1
#define MADT_ISO		2
#define MADT_LAPIC_ADDR		5
#define MADT_X2APIC		9
#define MADT_ENABLED		0x1

#define LAPIC_DEFAULT_PHYS	0xfee00000UL	/* SDM vol. 3A, 11.4.1 */
/* Where PCs put the first IOAPIC when firmware says nothing. */
#define IOAPIC_DEFAULT_PHYS	0xfec00000UL

/* Filled once by madt_init() on the boot CPU; read-only afterwards. */
struct madt_info madt;

/*
 * MADT entries have odd lengths (an override is 10 bytes), so fields are
 * often misaligned.  x86 does not mind, but C does: dereferencing a
 * misaligned uint32_t * is undefined, while memcpy is not (and compiles
 * to the same single load).
 */
static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Record a processor unless its Enabled bit is clear.  A clear bit with
 * Online Capable (bit 1) set means a CPU that could be hot-added later;
 * we do not support that, so it is skipped like a disabled one.
 */
static void madt_add_cpu(uint32_t apic_id, uint32_t flags)
{
	if ((flags & MADT_ENABLED) == 0)
		return;
	if (madt.ncpus >= MAXCPU) {
		kprintf("madt: cpu with APIC id %u ignored: MAXCPU is %d\n",
			apic_id, MAXCPU);
		return;
	}
	madt.apic_ids[madt.ncpus++] = apic_id;
}

/*
 * Decode one entry; p[0] is its type and p[1] its length.  Offsets are
 * from the start of the entry, as in the ACPI tables for each type.
 * Unknown types (NMI sources, GIC entries, ...) are ignored.
 */
static void madt_entry(const uint8_t *p)
{
	switch (p[0]) {
	case MADT_LAPIC:
		madt_add_cpu(p[3], rd32(p + 4));
		break;
	case MADT_X2APIC:
		madt_add_cpu(rd32(p + 4), rd32(p + 8));
		break;
	case MADT_IOAPIC:
		if (madt.nioapics < (int)nitems(madt.ioapics)) {
			madt.ioapics[madt.nioapics].id = p[2];
			madt.ioapics[madt.nioapics].phys = rd32(p + 4);
			madt.ioapics[madt.nioapics++].gsi_base = rd32(p + 8);
		}
		break;
	case MADT_ISO:
		/* p[2] is the bus, always 0 (ISA); p[3] the ISA IRQ. */
		if (p[3] < 16) {
			madt.isa_irq[p[3]].gsi = rd32(p + 4);
			madt.isa_irq[p[3]].flags = p[8] | p[9] << 8;
		}
		break;
	case MADT_LAPIC_ADDR:
		memcpy(&madt.lapic_phys, p + 4, 8);
		break;
	}
}

/* Put the boot CPU's APIC id first. */
static void madt_bsp_first(uint32_t bsp_id)
{
	for (int i = 1; i < madt.ncpus; i++) {
		if (madt.apic_ids[i] != bsp_id)
			continue;
		madt.apic_ids[i] = madt.apic_ids[0];
		madt.apic_ids[0] = bsp_id;
	}
}

/*
 * Fill in madt.  Boot CPU, once, after lapic_init() (we ask lapic_id()
 * which CPU we are).  Without a MADT, or with entries missing, fall back
 * to a PC's defaults: one CPU, one IOAPIC at its usual address, ISA IRQs
 * wired one-to-one to GSIs 0..15.
 */
void madt_init(void)
{
	const struct acpi_sdt_header *h = acpi_find_table("APIC");
	const uint8_t *p, *end;

	madt.lapic_phys = LAPIC_DEFAULT_PHYS;
	for (int i = 0; i < 16; i++)
		madt.isa_irq[i].gsi = i;	/* identity unless overridden */
	if (h == NULL) {
		kprintf("madt: no MADT; assuming one CPU and standard APICs\n");
		madt.ncpus = 0;
	} else {
		/* After the 36-byte SDT header: the local APIC address (4
		 * bytes), flags (4 bytes, bit 0: 8259s present), entries. */
		madt.lapic_phys = rd32((const uint8_t *)(h + 1));
		end = (const uint8_t *)h + h->length;
		/* A length below 2 would loop forever: treat it as the end. */
		for (p = (const uint8_t *)(h + 1) + 8; p + 2 <= end && p[1] >= 2;
		     p += p[1])
			madt_entry(p);
	}
	if (madt.ncpus == 0)
		madt_add_cpu(lapic_id(), MADT_ENABLED);
	if (madt.nioapics == 0) {
		madt.ioapics[0].phys = IOAPIC_DEFAULT_PHYS;
		madt.nioapics = 1;
	}
	madt_bsp_first(lapic_id());
}
