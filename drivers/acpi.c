/*
 * acpi.c - the firmware's description of the machine, read but not trusted.
 *
 * ACPI tables form a tree rooted at the RSDP (ACPI 6.5, 5.2):
 *
 *   RSDP --(rsdt_address, 32-bit)--> RSDT: header + u32 table pointers
 *        --(xsdt_address, 64-bit)--> XSDT: header + u64 table pointers
 *                                           |-> "APIC" (MADT): CPUs, APICs
 *                                           |-> "SRAT": NUMA affinity
 *                                           `-> "FACP", "HPET", ...
 *
 * Every table carries a checksum: its bytes sum to 0 modulo 256.  A table
 * whose checksum or length is wrong is reported and left out of the list;
 * nothing later can find it.  Tables are read through the direct map.
 *
 * The list is filled once at boot on the boot CPU and read-only after.
 */
#include <kern/types.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <machine/vmparam.h>
#include <drivers/acpi.h>

#define ACPI_MAX_TABLES	32
/* A table longer than this is taken as corrupt. */
#define ACPI_MAX_TABLE_LEN (1U << 20)

struct acpi_rsdp {
	char signature[8];	/* "RSD PTR " */
	uint8_t checksum;	/* over the first 20 bytes */
	char oem_id[6];
	uint8_t revision;	/* 0: ACPI 1.0, 2: ACPI 2.0+ */
	uint32_t rsdt_address;
	uint32_t length;	/* 2.0+: whole structure */
	uint64_t xsdt_address;
	uint8_t extended_checksum;
	uint8_t reserved[3];
} __packed;

/* MADT (ACPI 6.5, 5.2.12) entries we count. */
#define MADT_LOCAL_APIC		0
#define MADT_LOCAL_X2APIC	9
#define MADT_ENABLED		0x1

static const struct acpi_sdt_header *tables[ACPI_MAX_TABLES];
static int ntables;

bool acpi_checksum_ok(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return sum == 0;
}

/* Map a table's physical address and check its length and checksum. */
static const struct acpi_sdt_header *table_at(uint64_t phys)
{
	const struct acpi_sdt_header *h;

	if (phys == 0 || phys + sizeof(*h) > BOOT_DMAP_SIZE)
		return NULL;
	h = PHYS_TO_DMAP(phys);
	if (h->length < sizeof(*h) || h->length > ACPI_MAX_TABLE_LEN ||
	    phys + h->length > BOOT_DMAP_SIZE)
		return NULL;
	return h;
}

static void add_table(uint64_t phys)
{
	const struct acpi_sdt_header *h = table_at(phys);

	if (h == NULL) {
		kprintf("acpi: table at %#lx has an impossible length; ignored\n",
			phys);
		return;
	}
	if (!acpi_checksum_ok(h, h->length)) {
		kprintf("acpi: %.4s at %#lx has a bad checksum; ignored\n",
			h->signature, phys);
		return;
	}
	kprintf("acpi: %.4s %#010lx len %5u rev %u %.6s\n", h->signature, phys,
		h->length, h->revision, h->oem_id);
	if (ntables < ACPI_MAX_TABLES)
		tables[ntables++] = h;
}

/* Walk the entries of the XSDT (entry_size 8) or RSDT (entry_size 4). */
static void walk_root(const struct acpi_sdt_header *root, size_t entry_size)
{
	const uint8_t *p = (const uint8_t *)(root + 1);
	size_t n = (root->length - sizeof(*root)) / entry_size;

	for (size_t i = 0; i < n; i++) {
		uint64_t phys = 0;

		memcpy(&phys, p + i * entry_size, entry_size);
		add_table(phys);
	}
}

/* The root table the RSDP points to, or NULL with a message. */
static const struct acpi_sdt_header *root_table(const struct acpi_rsdp *r,
						int version, size_t *entry_size)
{
	bool xsdt = version >= 2 && r->revision >= 2 && r->xsdt_address != 0;
	const struct acpi_sdt_header *root;

	*entry_size = xsdt ? 8 : 4;
	root = table_at(xsdt ? r->xsdt_address : r->rsdt_address);
	if (root == NULL || !acpi_checksum_ok(root, root->length) ||
	    memcmp(root->signature, xsdt ? "XSDT" : "RSDT", 4) != 0) {
		kprintf("acpi: root table %s is missing or corrupt; "
			"ACPI tables ignored\n", xsdt ? "XSDT" : "RSDT");
		return NULL;
	}
	return root;
}

int acpi_init(const void *rsdp, int version)
{
	const struct acpi_rsdp *r = rsdp;
	const struct acpi_sdt_header *root;
	size_t entry_size;

	ntables = 0;
	if (r == NULL || memcmp(r->signature, "RSD PTR ", 8) != 0 ||
	    !acpi_checksum_ok(r, 20)) {
		kprintf("acpi: no valid RSDP from the boot loader; "
			"assuming one CPU and no NUMA\n");
		return -1;
	}
	root = root_table(r, version, &entry_size);
	if (root == NULL)
		return -1;
	walk_root(root, entry_size);
	return 0;
}

const struct acpi_sdt_header *acpi_find_table(const char *sig)
{
	for (int i = 0; i < ntables; i++)
		if (memcmp(tables[i]->signature, sig, 4) == 0)
			return tables[i];
	return NULL;
}

int acpi_cpu_count(void)
{
	const struct acpi_sdt_header *madt = acpi_find_table("APIC");
	const uint8_t *p, *end;
	int n = 0;

	if (madt == NULL)
		return 1;
	/* Entries follow the header and two u32 fields (LAPIC addr, flags). */
	p = (const uint8_t *)(madt + 1) + 8;
	end = (const uint8_t *)madt + madt->length;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		uint32_t flags = 0;

		if (p[0] == MADT_LOCAL_APIC && p[1] >= 8)
			flags = *(const uint32_t *)(p + 4);
		else if (p[0] == MADT_LOCAL_X2APIC && p[1] >= 16)
			flags = *(const uint32_t *)(p + 8);
		n += (flags & MADT_ENABLED) != 0;
		p += p[1];
	}
	return n > 0 ? n : 1;
}
