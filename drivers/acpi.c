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
 * nothing later can find it.  The byte-level checks live in acpi_parse.c
 * (pure, host-tested); this file reaches the tables through the direct
 * map, prints one line per table, and hands the SRAT's memory domains to
 * the physical page allocator before it builds its free lists.
 *
 * The list is filled once at boot on the boot CPU and read-only after.
 */
#include <kern/types.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <machine/cpufunc.h>
#include <machine/vmparam.h>
#include <drivers/acpi.h>
#include <vm/vm_page.h>

#define ACPI_MAX_TABLES 32

static const struct acpi_sdt_header *tables[ACPI_MAX_TABLES];
static int ntables;

/* The SRAT as parsed, and its proximity domains numbered 0..n-1. */
static struct acpi_srat srat;
static uint32_t domain_pxm[VM_MAX_DOMAINS];
static int ndomains = 1;

/* A table's header through the direct map; NULL if it lies outside. */
/*
 * ACPI tables are read where the firmware left them, through the direct
 * map.  The boot direct map covers 4 GiB, and so does ours at least, so
 * anything below 4 GiB is readable; *avail bounds how far a table may
 * claim to extend.
 */
static const struct acpi_sdt_header *table_at(uint64_t phys, size_t *avail)
{
	if (phys == 0 || phys >= BOOT_DMAP_SIZE)
		return NULL;
	*avail = MIN(BOOT_DMAP_SIZE - phys, (uint64_t)ACPI_MAX_TABLE_LEN);
	return PHYS_TO_DMAP(phys);
}

/* Check one table; print its line, or why it is ignored. */
static const struct acpi_sdt_header *checked_table(uint64_t phys)
{
	size_t avail = 0;
	const struct acpi_sdt_header *h = table_at(phys, &avail);
	const char *why =
	    h == NULL ? "outside the direct map" : acpi_table_check(h, avail);

	if (why != NULL && h == NULL)
		kprintf("acpi: table at %#lx is %s; ignored\n", phys, why);
	else if (why != NULL)
		kprintf("acpi: %.4s at %#lx: %s; ignored, never trusted\n",
			h->signature, phys, why);
	return why == NULL ? h : NULL;
}

/* One line per valid table at boot, and remember it for acpi_find_table. */
static void add_table(uint64_t phys)
{
	const struct acpi_sdt_header *h = checked_table(phys);

	if (h == NULL)
		return;
	kprintf("acpi: %.4s %#010lx len %5u rev %u %.6s\n", h->signature, phys,
		h->length, h->revision, h->oem_id);
	if (ntables < ACPI_MAX_TABLES)
		tables[ntables++] = h;
}

/* The root table: the XSDT when there is one, else the RSDT. */
/* The XSDT needs ACPI 2.0+ on both sides: the boot loader's tag (version)
 * and the RSDP's own revision.  A root table that fails is fatal for ACPI
 * as a whole: without it no other table can be found. */
static const struct acpi_sdt_header *root_table(const struct acpi_root *r,
						int version, size_t *entry_size)
{
	bool xsdt = version >= 2 && r->revision >= 2 && r->xsdt != 0;
	const struct acpi_sdt_header *root;

	*entry_size = xsdt ? 8 : 4;
	root = checked_table(xsdt ? r->xsdt : r->rsdt);
	if (root == NULL ||
	    memcmp(root->signature, xsdt ? "XSDT" : "RSDT", 4) != 0) {
		kprintf("acpi: root table %s is missing or corrupt; "
			"ACPI tables ignored\n",
			xsdt ? "XSDT" : "RSDT");
		return NULL;
	}
	return root;
}

/* Every CPU the SRAT lists, with its dense domain number, to vm_page:
 * the APs look themselves up there when they start allocating. */
static void set_apic_domains(void)
{
	uint32_t apic[ACPI_SRAT_MAX_CPUS];
	int dom[ACPI_SRAT_MAX_CPUS];

	for (int i = 0; i < srat.ncpus; i++) {
		apic[i] = srat.cpus[i].apic_id;
		dom[i] = acpi_srat_cpu_domain(apic[i]);
	}
	vm_page_set_apic_domains(srat.ncpus, apic, dom);
}

/* Give the SRAT's memory ranges to vm_page and find CPU 0's domain. */
/*
 * Domains are the SRAT's proximity domains that have memory, renumbered
 * 0..n-1 (proximity domain numbers may be sparse).  The boot CPU's domain
 * comes from its own APIC ID; the other CPUs get theirs when they start.
 */
static void numa_init(void)
{
	const struct acpi_sdt_header *h = acpi_find_table("SRAT");
	vm_paddr_t base[ACPI_SRAT_MAX_MEMS], len[ACPI_SRAT_MAX_MEMS];
	int dom[ACPI_SRAT_MAX_MEMS];

	if (h == NULL || acpi_srat_parse(h, &srat) != 0 || srat.nmems == 0) {
		kprintf("acpi: no SRAT%s; one memory domain\n",
			h == NULL ? "" : " with usable memory ranges");
		return;
	}
	ndomains = acpi_srat_domains(&srat, domain_pxm, VM_MAX_DOMAINS);
	for (int i = 0; i < srat.nmems; i++) {
		base[i] = srat.mems[i].base;
		len[i] = srat.mems[i].length;
		dom[i] = 0;
		for (int d = 0; d < ndomains; d++)
			if (domain_pxm[d] == srat.mems[i].pxm)
				dom[i] = d;
		kprintf("acpi: SRAT memory %#lx-%#lx domain %d\n", base[i],
			base[i] + len[i], dom[i]);
	}
	/* A malformed entry ends the walk (acpi_srat_parse); the ranges
	 * before it are well-formed, so they are used, and we say so. */
	if (srat.error != NULL)
		kprintf("acpi: SRAT: %s at offset %u; using the entries "
			"before it\n", srat.error, srat.error_offset);
	vm_page_set_domains(srat.nmems, base, len, dom);
	vm_page_set_cpu_domain(0, acpi_srat_cpu_domain(acpi_bsp_apic_id()));
	set_apic_domains();
	kprintf("acpi: SRAT: %d memory domains, %d CPUs; boot CPU (APIC %u) "
		"in domain %d\n",
		ndomains, srat.ncpus, acpi_bsp_apic_id(),
		vm_page_cpu_domain(0));
}

/*
 * The RSDP copy in the MB2 tag is 20 bytes (old tag) or 36 (new tag).
 * Without one (QEMU -machine pc,acpi=off) every later question gets the
 * no-ACPI answer: no tables, one CPU (acpi_cpu_count), one domain.
 */
int acpi_init(const void *rsdp, int version)
{
	const struct acpi_sdt_header *root;
	struct acpi_root r;
	const char *why;
	size_t entry_size;

	ntables = 0;
	why = acpi_rsdp_parse(rsdp, rsdp == NULL ? 0 : (version >= 2 ? 36 : 20),
			      &r);
	if (why != NULL) {
		kprintf("acpi: no ACPI tables: the boot loader passed no "
			"valid RSDP (%s); without a MADT to list the other "
			"CPUs only the boot CPU will run, in one memory "
			"domain\n", why);
		return -1;
	}
	root = root_table(&r, version, &entry_size);
	if (root == NULL)
		return -1;
	for (size_t i = 0; i < acpi_root_count(root, entry_size); i++)
		add_table(acpi_root_entry(root, entry_size, i));
	numa_init();
	return 0;
}

/* Only validated tables are in the list, so callers may trust lengths. */
const struct acpi_sdt_header *acpi_find_table(const char *sig)
{
	for (int i = 0; i < ntables; i++)
		if (memcmp(tables[i]->signature, sig, 4) == 0)
			return tables[i];
	return NULL;
}

/* CPUs marked Enabled in the MADT; a machine always has at least one. */
int acpi_cpu_count(void)
{
	const struct acpi_sdt_header *madt = acpi_find_table("APIC");
	int n = madt != NULL ? acpi_madt_count_cpus(madt) : 0;

	return n > 0 ? n : 1;
}

/* 1 without an SRAT: all memory is one domain. */
int acpi_srat_domain_count(void)
{
	return ndomains;
}

/* The dense domain number of the CPU with this APIC ID, via its
 * proximity domain; 0 for CPUs the SRAT does not mention. */
int acpi_srat_cpu_domain(uint32_t apic_id)
{
	for (int i = 0; i < srat.ncpus; i++) {
		if (srat.cpus[i].apic_id != apic_id)
			continue;
		for (int d = 0; d < ndomains; d++)
			if (domain_pxm[d] == srat.cpus[i].pxm)
				return d;
	}
	return 0;
}

/* Not ACPI, but it is how this file matches the running CPU to the
 * SRAT's CPU entries.  Valid for xAPIC IDs below 256. */
uint32_t acpi_bsp_apic_id(void)
{
	uint32_t r[4];

	cpuid_count(1, 0, r);
	return r[1] >> 24; /* SDM vol. 2A, CPUID leaf 01H: EBX[31:24] */
}
