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
 * The bytes are decoded by acpi_madt_parse() (drivers/acpi_parse.c),
 * which bounds every entry by the table's length and stops at the first
 * malformed one; tests/host/acpi_test.c feeds it crafted tables.  This
 * file turns the result into the kernel's struct madt_info: it says what
 * was wrong, caps the CPUs at MAXCPU, fills in a PC's defaults for what
 * is missing, and puts the boot CPU first, so CPU numbers match the order
 * we start them in.
 */
#include <kern/types.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <drivers/acpi.h>
#include <machine/apic.h>

#define LAPIC_DEFAULT_PHYS	0xfee00000UL	/* SDM vol. 3A, 11.4.1 */
/* Where PCs put the first IOAPIC when firmware says nothing. */
#define IOAPIC_DEFAULT_PHYS	0xfec00000UL

/* Filled once by madt_init() on the boot CPU; read-only afterwards. */
struct madt_info madt;

/* The parser's result; static because it is 1 KiB and used once. */
static struct acpi_madt parsed;

/* Take up to MAXCPU of the enabled processors the MADT lists. */
static void madt_take_cpus(void)
{
	int n = MIN(parsed.ncpus, MAXCPU);

	for (int i = 0; i < n; i++)
		madt.apic_ids[i] = parsed.apic_ids[i];
	madt.ncpus = n;
	if (parsed.ncpus + parsed.cpus_dropped > n)
		kprintf("madt: %d enabled CPUs listed, using %d: MAXCPU is %d\n",
			parsed.ncpus + parsed.cpus_dropped, n, MAXCPU);
}

/* The IOAPICs (room for ACPI_MADT_MAX_IOAPICS, which is plenty for
 * QEMU's one and a typical PC's one or two). */
static void madt_take_ioapics(void)
{
	madt.nioapics = MIN(parsed.nioapics, (int)nitems(madt.ioapics));
	for (int i = 0; i < madt.nioapics; i++) {
		madt.ioapics[i].id = parsed.ioapics[i].id;
		madt.ioapics[i].phys = parsed.ioapics[i].phys;
		madt.ioapics[i].gsi_base = parsed.ioapics[i].gsi_base;
	}
	if (parsed.ioapics_dropped > 0)
		kprintf("madt: %d IOAPIC(s) ignored: room for %d\n",
			parsed.ioapics_dropped, madt.nioapics);
}

/*
 * Copy what the parser found into madt, saying what was left out.  A
 * malformed entry does not throw the table away: the entries before it
 * were well-formed and bounded, and booting with them (at worst with one
 * CPU) teaches more than refusing to boot.
 */
static void madt_take(const struct acpi_sdt_header *h)
{
	const char *why = acpi_madt_parse(h, &parsed);

	if (why != NULL)
		kprintf("madt: %s at offset %u of %u; using the entries "
			"before it\n", why, parsed.error_offset, h->length);
	madt.lapic_phys = parsed.lapic_phys;
	madt_take_cpus();
	madt_take_ioapics();
	for (int i = 0; i < 16; i++) {
		madt.isa_irq[i].gsi = parsed.isa_irq[i].gsi;
		madt.isa_irq[i].flags = parsed.isa_irq[i].flags;
	}
}

/*
 * Put the boot CPU's APIC id first: CPU 0 is the one running now.  If
 * the list lacks it (a MADT that forgets the boot CPU, or one cut at
 * MAXCPU before reaching it), it takes slot 0 from whichever CPU was
 * there, which is then simply not started.
 */
static void madt_bsp_first(uint32_t bsp_id)
{
	int i = 0;

	while (i < madt.ncpus && madt.apic_ids[i] != bsp_id)
		i++;
	if (i == madt.ncpus)
		kprintf("madt: the boot CPU (APIC id %u) is not listed; "
			"listing it in place of APIC id %u\n", bsp_id,
			madt.apic_ids[0]);
	else
		madt.apic_ids[i] = madt.apic_ids[0];
	madt.apic_ids[0] = bsp_id;
}

/*
 * Fill in madt.  Boot CPU, once, after lapic_init() (we ask lapic_id()
 * which CPU we are).  Without a MADT, or with entries missing, fall back
 * to a PC's defaults: one CPU (this one), one IOAPIC at its usual
 * address, ISA IRQs wired one-to-one to GSIs 0..15.
 */
void madt_init(void)
{
	const struct acpi_sdt_header *h = acpi_find_table("APIC");

	memset(&madt, 0, sizeof(madt));
	madt.lapic_phys = LAPIC_DEFAULT_PHYS;
	for (int i = 0; i < 16; i++)
		madt.isa_irq[i].gsi = i; /* identity unless overridden */
	if (h == NULL)
		kprintf("madt: no MADT (ACPI is off or missing): the boot "
			"CPU alone, APICs at their standard addresses\n");
	else
		madt_take(h);
	if (madt.ncpus == 0)
		madt.apic_ids[madt.ncpus++] = lapic_id();
	if (madt.nioapics == 0) {
		madt.ioapics[0].phys = IOAPIC_DEFAULT_PHYS;
		madt.nioapics = 1;
	}
	madt_bsp_first(lapic_id());
}
