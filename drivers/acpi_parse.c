/*
 * acpi_parse.c - reading ACPI tables as plain bytes: checksums, lengths,
 * the RSDP, the root table's entries, the SRAT and the MADT.
 *
 * Nothing here maps memory or prints.  Each function gets a pointer to
 * bytes already readable and the number of bytes it may read, checks
 * every length against that before reading, and returns a verdict.  That
 * is what lets tests/host/acpi_test.c feed it crafted and corrupted
 * tables on Linux, and what keeps a lying firmware from steering the
 * kernel into a wild read: a bad table is rejected, never half-trusted.
 *
 * Layouts are from ACPI 6.5, chapter 5.2.  Multi-byte fields are little
 * endian and often unaligned (the XSDT's 64-bit pointers sit at offset
 * 36), so they are read with memcpy.
 */
#include <kern/types.h>
#include <kern/libkern.h>
#include <drivers/acpi.h>

/* The RSDP (ACPI 6.5, 5.2.5.3). */
#define RSDP_V1_LEN   20 /* bytes covered by the first checksum */
#define RSDP_V2_LEN   36
#define RSDP_REV_OFF  15
#define RSDP_RSDT_OFF 16
#define RSDP_LEN_OFF  20
#define RSDP_XSDT_OFF 24

/* SRAT (ACPI 6.5, 5.2.16): 12 reserved bytes after the header, then
 * entries {u8 type, u8 length, ...}. */
#define SRAT_ENTRIES_OFF 48
#define SRAT_CPU_APIC	 0   /* Processor Local APIC affinity */
#define SRAT_MEMORY	 1   /* Memory affinity */
#define SRAT_CPU_X2APIC	 2   /* Processor Local x2APIC affinity */
#define SRAT_ENABLED	 0x1 /* flags bit 0, in all three */

/*
 * MADT (ACPI 6.5, 5.2.12): after the header, the local APIC address (u32
 * at 36) and flags (u32 at 40), then entries from offset 44.  The types
 * we read, with the length their fields need (5.2.12.2 - 5.2.12.12):
 *
 *   type 0  Processor Local APIC   8   uid 2, APIC id 3, flags 4..7
 *   type 1  I/O APIC              12   id 2, address 4..7, GSI base 8..11
 *   type 2  Interrupt Source Override  10   bus 2, IRQ 3, GSI 4..7,
 *                                           flags 8..9
 *   type 5  Local APIC Address Override  12   address 4..11
 *   type 9  Processor Local x2APIC  16  x2APIC id 4..7, flags 8..11
 */
#define MADT_LAPIC_ADDR_OFF 36
#define MADT_ENTRIES_OFF    44
#define MADT_LOCAL_APIC	    0
#define MADT_IO_APIC	    1
#define MADT_ISO	    2
#define MADT_LAPIC_OVERRIDE 5
#define MADT_LOCAL_X2APIC   9
#define MADT_ENABLED	    0x1
#define LAPIC_DEFAULT_PHYS  0xfee00000UL /* SDM vol. 3A, 11.4.1 */

/*
 * FADT (ACPI 6.5, 5.2.9, signature "FACP"): PM_TMR_BLK, the I/O port of
 * the PM timer, at offset 76 (0: none); PM_TMR_LEN at 91, which must be
 * 4 when there is one; Flags at 112, whose bit 8 TMR_VAL_EXT says the
 * counter has 32 bits rather than 24.
 */
#define FADT_PM_TMR_BLK_OFF 76
#define FADT_PM_TMR_LEN_OFF 91
#define FADT_FLAGS_OFF	    112
#define FADT_TMR_VAL_EXT    (1U << 8)

/* Unaligned little-endian reads; memcpy compiles to a plain load. */
static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* ACPI 6.5, 5.2.6: every byte of a table, checksum field included, sums
 * to zero modulo 256. */
bool acpi_checksum_ok(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return sum == 0;
}

/*
 * The order matters: the header must be readable before its length is
 * believed, and the length must be sane and inside the readable bytes
 * before the checksum loop reads that far.
 */
const char *acpi_table_check(const struct acpi_sdt_header *h, size_t avail)
{
	if (avail < sizeof(*h))
		return "shorter than its header";
	if (h->length < sizeof(*h) || h->length > ACPI_MAX_TABLE_LEN)
		return "impossible length";
	if (h->length > avail)
		return "runs past the memory it claims";
	if (!acpi_checksum_ok(h, h->length))
		return "bad checksum";
	return NULL;
}

/*
 * The first 20 bytes (ACPI 1.0) have their own checksum; revision 2 and
 * up add a length, the XSDT address and an extended checksum over the
 * whole structure.  Both sums must hold for the XSDT to be used.
 */
const char *acpi_rsdp_parse(const void *rsdp, size_t avail,
			    struct acpi_root *root)
{
	const uint8_t *r = rsdp;

	memset(root, 0, sizeof(*root));
	if (r == NULL || avail < RSDP_V1_LEN || memcmp(r, "RSD PTR ", 8) != 0)
		return "no RSDP signature";
	if (!acpi_checksum_ok(r, RSDP_V1_LEN))
		return "bad RSDP checksum";
	root->revision = r[RSDP_REV_OFF];
	root->rsdt = rd32(r + RSDP_RSDT_OFF);
	if (root->revision < 2)
		return NULL;
	/* ACPI 2.0+: the extended part has its own checksum and length. */
	if (avail < RSDP_V2_LEN || rd32(r + RSDP_LEN_OFF) < RSDP_V2_LEN ||
	    rd32(r + RSDP_LEN_OFF) > avail ||
	    !acpi_checksum_ok(r, rd32(r + RSDP_LEN_OFF)))
		return "bad extended RSDP checksum or length";
	root->xsdt = rd64(r + RSDP_XSDT_OFF);
	return NULL;
}

/* A root table is a header followed by nothing but table addresses. */
size_t acpi_root_count(const struct acpi_sdt_header *root, size_t entry_size)
{
	return (root->length - sizeof(*root)) / entry_size;
}

/* Entry i: 32-bit in the RSDT, 64-bit (and only 4-byte aligned) in the
 * XSDT. */
uint64_t acpi_root_entry(const struct acpi_sdt_header *root, size_t entry_size,
			 size_t i)
{
	const uint8_t *p = (const uint8_t *)(root + 1) + i * entry_size;

	return entry_size == 8 ? rd64(p) : rd32(p);
}

/*
 * A walk over a table's {u8 type, u8 length, ...} entries (the MADT's and
 * the SRAT's share this shape).  Each entry is checked against the bytes
 * that are left before it is handed out:
 *
 *   offset:  start                     off        off + e[1]     len
 *            |  ...entries already seen  | type len ... |  ...     |
 *
 * A length below 2 would never advance (a length of 0 loops forever), a
 * length past len would read beyond the table, and an entry shorter than
 * its type's fields would be read past its own end.  Each ends the walk,
 * with the reason in why and its offset in off.
 */
struct entry_walk {
	const uint8_t *table;
	uint32_t len, off;
	uint8_t (*min_len)(uint8_t type); /* bytes this type's fields need */
	const char *why;		  /* NULL, or why the walk stopped */
};

static void walk_start(struct entry_walk *w, const struct acpi_sdt_header *h,
		       uint32_t first, uint8_t (*min_len)(uint8_t type))
{
	w->table = (const uint8_t *)h;
	w->len = h->length;
	w->off = first;
	w->min_len = min_len;
	w->why = first > h->length ? "the table ends inside its fixed fields"
				   : NULL;
}

/* The next entry, or NULL at the end of the table or at a bad entry. */
static const uint8_t *walk_next(struct entry_walk *w)
{
	const uint8_t *e = w->table + w->off;
	uint32_t left = w->len - w->off;

	if (w->why != NULL || left == 0)
		return NULL;
	if (left < 2)
		w->why = "a partial entry header at the end of the table";
	else if (e[1] < 2)
		w->why = "an entry whose length is below 2";
	else if (e[1] > left)
		w->why = "an entry that runs past the end of the table";
	else if (e[1] < w->min_len(e[0]))
		w->why = "an entry shorter than its type's fields";
	if (w->why != NULL)
		return NULL;
	w->off += e[1];
	return e;
}

/* Record the proximity domain of one CPU entry (APIC or x2APIC). */
/* Type 0 splits the proximity domain: bits 7:0 at offset 2, bits 31:8 at
 * offsets 9..11.  Type 2 (x2APIC) has it whole at offset 4. */
static void srat_cpu(const uint8_t *e, struct acpi_srat *out)
{
	uint32_t pxm, apic, flags;

	if (e[0] == SRAT_CPU_APIC) {
		pxm = e[2] | (uint32_t)e[9] << 8 | (uint32_t)e[10] << 16 |
		      (uint32_t)e[11] << 24;
		apic = e[3];
		flags = rd32(e + 4);
	} else if (e[0] == SRAT_CPU_X2APIC) {
		pxm = rd32(e + 4);
		apic = rd32(e + 8);
		flags = rd32(e + 12);
	} else {
		return;
	}
	if (!(flags & SRAT_ENABLED) || out->ncpus >= ACPI_SRAT_MAX_CPUS)
		return;
	out->cpus[out->ncpus].apic_id = apic;
	out->cpus[out->ncpus++].pxm = pxm;
}

/*
 * Type 1: base and length are each two u32 halves (offsets 8/12 and
 * 16/20).  Disabled entries and empty ones are skipped: QEMU emits
 * placeholders for hot-pluggable memory.
 */
static void srat_memory(const uint8_t *e, struct acpi_srat *out)
{
	uint64_t len;

	if (!(rd32(e + 28) & SRAT_ENABLED))
		return;
	len = rd32(e + 16) | (uint64_t)rd32(e + 20) << 32;
	if (len == 0 || out->nmems >= ACPI_SRAT_MAX_MEMS)
		return;
	out->mems[out->nmems].pxm = rd32(e + 2);
	out->mems[out->nmems].base = rd32(e + 8) | (uint64_t)rd32(e + 12) << 32;
	out->mems[out->nmems++].length = len;
}

/* The SRAT entry types we read and the length of their fields. */
static uint8_t srat_min_len(uint8_t type)
{
	switch (type) {
	case SRAT_CPU_APIC:
		return 16;
	case SRAT_MEMORY:
		return 40;
	case SRAT_CPU_X2APIC:
		return 24;
	default:
		return 2; /* unknown types are skipped by their length */
	}
}

/* Walk the affinity entries that follow the 48-byte SRAT preamble, up to
 * the end or the first malformed entry (out->error says which). */
int acpi_srat_parse(const struct acpi_sdt_header *srat, struct acpi_srat *out)
{
	struct entry_walk w;
	const uint8_t *e;

	memset(out, 0, sizeof(*out));
	if (memcmp(srat->signature, "SRAT", 4) != 0 ||
	    srat->length < SRAT_ENTRIES_OFF)
		return -1;
	walk_start(&w, srat, SRAT_ENTRIES_OFF, srat_min_len);
	while ((e = walk_next(&w)) != NULL) {
		if (e[0] == SRAT_MEMORY)
			srat_memory(e, out);
		else
			srat_cpu(e, out);
	}
	out->error = w.why;
	out->error_offset = w.off;
	return 0;
}

/* A selection sort of the distinct proximity domains: n is tiny. */
int acpi_srat_domains(const struct acpi_srat *s, uint32_t *pxm_of_domain,
		      int max)
{
	int n = 0;

	/* Dense domain numbers, in increasing proximity-domain order. */
	for (;;) {
		uint64_t best = UINT64_MAX;

		for (int i = 0; i < s->nmems; i++)
			if ((n == 0 || s->mems[i].pxm > pxm_of_domain[n - 1]) &&
			    s->mems[i].pxm < best)
				best = s->mems[i].pxm;
		if (best == UINT64_MAX || n == max)
			return n;
		pxm_of_domain[n++] = (uint32_t)best;
	}
}

/* The MADT entry types we read and the length of their fields. */
static uint8_t madt_min_len(uint8_t type)
{
	switch (type) {
	case MADT_LOCAL_APIC:
		return 8;
	case MADT_IO_APIC:
	case MADT_LAPIC_OVERRIDE:
		return 12;
	case MADT_ISO:
		return 10;
	case MADT_LOCAL_X2APIC:
		return 16;
	default:
		return 2; /* NMI sources, GIC entries, ...: skipped */
	}
}

/* A processor entry's Enabled flag, or 0 for any other entry.  A clear
 * Enabled bit with Online Capable (bit 1) set is a CPU that could be
 * hot-added later; we do not support that, so it counts as disabled. */
static bool madt_cpu_enabled(const uint8_t *e, uint32_t *apic_id)
{
	if (e[0] == MADT_LOCAL_APIC) {
		*apic_id = e[3];
		return (rd32(e + 4) & MADT_ENABLED) != 0;
	}
	if (e[0] == MADT_LOCAL_X2APIC) {
		*apic_id = rd32(e + 4);
		return (rd32(e + 8) & MADT_ENABLED) != 0;
	}
	return false;
}

/* Local APIC (type 0) and x2APIC (type 9) entries with Enabled set. */
int acpi_madt_count_cpus(const struct acpi_sdt_header *madt)
{
	struct entry_walk w;
	const uint8_t *e;
	uint32_t id;
	int n = 0;

	walk_start(&w, madt, MADT_ENTRIES_OFF, madt_min_len);
	while ((e = walk_next(&w)) != NULL)
		n += madt_cpu_enabled(e, &id);
	return n;
}

/* Record an I/O APIC entry, or count it as dropped when there are more
 * than we have room for.  The GSI base says which global system
 * interrupts its inputs carry: input n is GSI gsi_base + n. */
static void madt_ioapic(const uint8_t *e, struct acpi_madt *out)
{
	if (out->nioapics == ACPI_MADT_MAX_IOAPICS) {
		out->ioapics_dropped++;
		return;
	}
	out->ioapics[out->nioapics].id = e[2];
	out->ioapics[out->nioapics].phys = rd32(e + 4);
	out->ioapics[out->nioapics++].gsi_base = rd32(e + 8);
}

/*
 * Decode one entry the walk has already bounded and length-checked, so
 * every offset read here lies inside the entry.  An override for an
 * IRQ beyond the 16 ISA ones is ignored: only ISA IRQs are overridden.
 */
static void madt_entry(const uint8_t *e, struct acpi_madt *out)
{
	uint32_t id;

	if (madt_cpu_enabled(e, &id)) {
		if (out->ncpus < ACPI_MADT_MAX_CPUS)
			out->apic_ids[out->ncpus++] = id;
		else
			out->cpus_dropped++;
	} else if (e[0] == MADT_IO_APIC) {
		madt_ioapic(e, out);
	} else if (e[0] == MADT_ISO && e[3] < ACPI_ISA_IRQS) {
		/* e[2] is the bus, always 0 (ISA); e[3] the ISA IRQ. */
		out->isa_irq[e[3]].gsi = rd32(e + 4);
		out->isa_irq[e[3]].flags = (uint16_t)(e[8] | e[9] << 8);
	} else if (e[0] == MADT_LAPIC_OVERRIDE) {
		out->lapic_phys = rd64(e + 4);
	}
}

/*
 * Defaults first (a PC's: ISA IRQ i on GSI i, the local APIC at its
 * architectural address), then the fixed fields, then every entry up to
 * the end or the first malformed one.  A Local APIC Address Override
 * (type 5) replaces the 32-bit address from the fixed fields.
 */
const char *acpi_madt_parse(const struct acpi_sdt_header *madt,
			    struct acpi_madt *out)
{
	struct entry_walk w;
	const uint8_t *e;

	memset(out, 0, sizeof(*out));
	out->lapic_phys = LAPIC_DEFAULT_PHYS;
	for (int i = 0; i < ACPI_ISA_IRQS; i++)
		out->isa_irq[i].gsi = (uint32_t)i;
	walk_start(&w, madt, MADT_ENTRIES_OFF, madt_min_len);
	if (w.why == NULL)
		out->lapic_phys = rd32((const uint8_t *)madt +
				       MADT_LAPIC_ADDR_OFF);
	while ((e = walk_next(&w)) != NULL)
		madt_entry(e, out);
	out->error_offset = w.off;
	return w.why;
}

/*
 * The PM timer's port and width, read only from bytes inside the table's
 * length: a FADT too short to hold PM_TMR_LEN has no usable timer, and
 * one too short to hold the flags is taken to have the minimal 24 bits.
 * Port numbers are 16 bits on x86; a larger PM_TMR_BLK is not a port.
 */
int acpi_fadt_pm_timer(const struct acpi_sdt_header *fadt,
		       struct acpi_pm_timer *out)
{
	const uint8_t *b = (const uint8_t *)fadt;
	uint32_t port;

	memset(out, 0, sizeof(*out));
	if (memcmp(fadt->signature, "FACP", 4) != 0 ||
	    fadt->length <= FADT_PM_TMR_LEN_OFF)
		return -1;
	port = rd32(b + FADT_PM_TMR_BLK_OFF);
	if (port == 0 || port > 0xffff || b[FADT_PM_TMR_LEN_OFF] != 4)
		return -1;
	out->port = (uint16_t)port;
	out->bits = 24;
	if (fadt->length >= FADT_FLAGS_OFF + 4 &&
	    (rd32(b + FADT_FLAGS_OFF) & FADT_TMR_VAL_EXT))
		out->bits = 32;
	return 0;
}
