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

/* MADT (ACPI 6.5, 5.2.12): LAPIC address and flags, then entries. */
#define MADT_ENTRIES_OFF  44
#define MADT_LOCAL_APIC	  0
#define MADT_LOCAL_X2APIC 9
#define MADT_ENABLED	  0x1

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

/* The next well-formed {type, length} entry in [p, end), or NULL.  A
 * length below 2 would loop forever; it ends the walk instead. */
static const uint8_t *next_entry(const uint8_t *p, const uint8_t *end)
{
	if (p + 2 > end || p[1] < 2 || p + p[1] > end)
		return NULL;
	return p;
}

/* Record the proximity domain of one CPU entry (APIC or x2APIC). */
/* Type 0 splits the proximity domain: bits 7:0 at offset 2, bits 31:8 at
 * offsets 9..11.  Type 2 (x2APIC) has it whole at offset 4. */
static void srat_cpu(const uint8_t *e, struct acpi_srat *out)
{
	uint32_t pxm, apic, flags;

	if (e[0] == SRAT_CPU_APIC && e[1] >= 16) {
		pxm = e[2] | (uint32_t)e[9] << 8 | (uint32_t)e[10] << 16 |
		      (uint32_t)e[11] << 24;
		apic = e[3];
		flags = rd32(e + 4);
	} else if (e[0] == SRAT_CPU_X2APIC && e[1] >= 24) {
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

	if (e[1] < 40 || !(rd32(e + 28) & SRAT_ENABLED))
		return;
	len = rd32(e + 16) | (uint64_t)rd32(e + 20) << 32;
	if (len == 0 || out->nmems >= ACPI_SRAT_MAX_MEMS)
		return;
	out->mems[out->nmems].pxm = rd32(e + 2);
	out->mems[out->nmems].base = rd32(e + 8) | (uint64_t)rd32(e + 12) << 32;
	out->mems[out->nmems++].length = len;
}

/* Walk the affinity entries that follow the 48-byte SRAT preamble;
 * entries of unknown types are skipped by their length. */
int acpi_srat_parse(const struct acpi_sdt_header *srat, struct acpi_srat *out)
{
	const uint8_t *base = (const uint8_t *)srat;
	const uint8_t *end = base + srat->length;
	const uint8_t *e;

	memset(out, 0, sizeof(*out));
	if (memcmp(srat->signature, "SRAT", 4) != 0 ||
	    srat->length < SRAT_ENTRIES_OFF)
		return -1;
	for (e = next_entry(base + SRAT_ENTRIES_OFF, end); e != NULL;
	     e = next_entry(e + e[1], end)) {
		if (e[0] == SRAT_MEMORY)
			srat_memory(e, out);
		else
			srat_cpu(e, out);
	}
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

/* Local APIC (type 0) and x2APIC (type 9) entries with Enabled set. */
int acpi_madt_count_cpus(const struct acpi_sdt_header *madt)
{
	const uint8_t *base = (const uint8_t *)madt;
	const uint8_t *end = base + madt->length;
	const uint8_t *e;
	int n = 0;

	if (madt->length < MADT_ENTRIES_OFF)
		return 0;
	for (e = next_entry(base + MADT_ENTRIES_OFF, end); e != NULL;
	     e = next_entry(e + e[1], end)) {
		uint32_t flags = 0;

		if (e[0] == MADT_LOCAL_APIC && e[1] >= 8)
			flags = rd32(e + 4);
		else if (e[0] == MADT_LOCAL_X2APIC && e[1] >= 16)
			flags = rd32(e + 8);
		n += (flags & MADT_ENABLED) != 0;
	}
	return n;
}
