/*
 * drivers/acpi.h - ACPI tables: find, validate, list (drivers/acpi.c), and
 * the pure parsers underneath (drivers/acpi_parse.c, host-tested).
 */
#ifndef DRIVERS_ACPI_H
#define DRIVERS_ACPI_H

#include <kern/types.h>

/* Every ACPI table starts with this header (ACPI 6.5, 5.2.6). */
struct acpi_sdt_header {
	char signature[4];
	uint32_t length; /* of the whole table, header included */
	uint8_t revision;
	uint8_t checksum; /* all bytes of the table sum to 0 mod 256 */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __packed;

/* A table longer than this is taken as corrupt. */
#define ACPI_MAX_TABLE_LEN (1U << 20)
#define ACPI_SRAT_MAX_MEMS 32
#define ACPI_SRAT_MAX_CPUS 64

/* ---- Pure parsers: any context, read only the bytes they are given. ---- */

/* Do the len bytes at p sum to zero (mod 256)? */
bool acpi_checksum_ok(const void *p, size_t len);

/* Check a table of which avail bytes are readable: NULL if its length is
 * sane and its checksum right, else what is wrong ("bad checksum"). */
const char *acpi_table_check(const struct acpi_sdt_header *h, size_t avail);

/* The root table addresses from an RSDP copy of avail bytes. */
struct acpi_root {
	int revision;	     /* 0: ACPI 1.0 (RSDT only), 2+: XSDT too */
	uint64_t rsdt, xsdt; /* physical; 0 if absent */
};
/* NULL on success, else why the RSDP is unusable. */
const char *acpi_rsdp_parse(const void *rsdp, size_t avail,
			    struct acpi_root *root);

/* Entries of a checked RSDT (entry_size 4) or XSDT (8). */
size_t acpi_root_count(const struct acpi_sdt_header *root, size_t entry_size);
uint64_t acpi_root_entry(const struct acpi_sdt_header *root, size_t entry_size,
			 size_t i);

/* What the SRAT (ACPI 6.5, 5.2.16) says: enabled entries only. */
struct acpi_srat {
	int nmems;
	struct {
		uint64_t base, length;
		uint32_t pxm; /* proximity domain */
	} mems[ACPI_SRAT_MAX_MEMS];
	int ncpus;
	struct {
		uint32_t apic_id, pxm;
	} cpus[ACPI_SRAT_MAX_CPUS];
	/* NULL, or why the walk stopped early (a malformed entry at
	 * error_offset); the entries before it are kept. */
	const char *error;
	uint32_t error_offset;
};
/* Parse a checked SRAT; 0, or -1 if it is not one.  Entries are bounded
 * like the MADT's (acpi_madt_parse). */
int acpi_srat_parse(const struct acpi_sdt_header *srat, struct acpi_srat *out);
/* Number the proximity domains that have memory 0..n-1 in increasing
 * order: pxm_of_domain[d] is domain d's proximity domain.  Returns n. */
int acpi_srat_domains(const struct acpi_srat *s, uint32_t *pxm_of_domain,
		      int max);
/* Enabled CPUs (LAPIC and x2APIC entries) in a checked MADT, counted
 * up to the first malformed entry. */
int acpi_madt_count_cpus(const struct acpi_sdt_header *madt);

#define ACPI_MADT_MAX_CPUS    64
#define ACPI_MADT_MAX_IOAPICS 4
#define ACPI_ISA_IRQS	      16

/* What the MADT (ACPI 6.5, 5.2.12) says, as acpi_madt_parse found it. */
struct acpi_madt {
	uint64_t lapic_phys; /* header field, or a type 5 override */
	int ncpus;	     /* enabled processors recorded below */
	int cpus_dropped;    /* enabled ones beyond ACPI_MADT_MAX_CPUS */
	uint32_t apic_ids[ACPI_MADT_MAX_CPUS];
	int nioapics; /* extra IOAPICs are dropped (ioapics_dropped) */
	int ioapics_dropped;
	struct {
		uint32_t id, phys, gsi_base;
	} ioapics[ACPI_MADT_MAX_IOAPICS];
	/* ISA IRQ i arrives on GSI i unless an override says otherwise;
	 * flags are the override's MPS INTI flags (0: bus default). */
	struct {
		uint32_t gsi;
		uint16_t flags;
	} isa_irq[ACPI_ISA_IRQS];
	uint32_t error_offset; /* where the walk stopped, if it did */
};

/*
 * Decode a checked MADT into out.  Every entry is bounded by the table's
 * length before a byte of it is read, and must be at least as long as its
 * type's fields; the first entry that is not (length 0 or 1, running past
 * the end, too short for its type) stops the walk.  Returns NULL, or why
 * it stopped (out then holds the entries before out->error_offset).  Pure;
 * any context.
 */
const char *acpi_madt_parse(const struct acpi_sdt_header *madt,
			    struct acpi_madt *out);

/* The ACPI power-management timer: a free-running counter at
 * ACPI_PM_TIMER_HZ on an I/O port (ACPI 6.5, 4.8.3.3). */
#define ACPI_PM_TIMER_HZ 3579545
struct acpi_pm_timer {
	uint16_t port; /* I/O port of the 32-bit read-only counter */
	int bits;      /* 24 or 32 counting bits (FADT TMR_VAL_EXT) */
};
/* Where the FADT ("FACP") puts the PM timer: 0, or -1 if it has none. */
int acpi_fadt_pm_timer(const struct acpi_sdt_header *fadt,
		       struct acpi_pm_timer *out);

/* ---- The kernel's view (drivers/acpi.c). ---- */

/*
 * Validate the RSDP copy the boot loader gave (version 1 or 2), walk the
 * XSDT (or RSDT), check every table's checksum and print one line per
 * table.  Tables that fail are reported and never used.  Boot CPU, once.
 * Returns 0, or -1 if there is no usable root table.
 */
int acpi_init(const void *rsdp, int version);

/* A validated table by signature ("APIC", "SRAT"), or NULL. */
const struct acpi_sdt_header *acpi_find_table(const char *sig);

/* Enabled CPUs listed in the MADT; 1 if there is no MADT. */
int acpi_cpu_count(void);

/* Memory domains the SRAT describes (1 without an SRAT), and the domain
 * of the CPU with this APIC ID (0 if the SRAT does not list it). */
int acpi_srat_domain_count(void);
int acpi_srat_cpu_domain(uint32_t apic_id);

/* The APIC ID of the CPU running this (CPUID leaf 1, EBX[31:24]). */
uint32_t acpi_bsp_apic_id(void);

/*
 * Measure the TSC's frequency against the ACPI PM timer over about 10 ms
 * (drivers/acpi_pmtimer.c), the fallback when the PIT does not count.
 * NULL and *hz set, or why not (no FADT or no timer in it, or it did
 * not count).  Interrupts off, after acpi_init().
 */
const char *acpi_pmtimer_measure_tsc(uint64_t *hz);

#endif /* DRIVERS_ACPI_H */
