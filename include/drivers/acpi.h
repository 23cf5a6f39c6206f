/*
 * drivers/acpi.h - ACPI tables: find, validate, list (drivers/acpi.c).
 */
#ifndef DRIVERS_ACPI_H
#define DRIVERS_ACPI_H

#include <kern/types.h>

/* Every ACPI table starts with this header (ACPI 6.5, 5.2.6). */
struct acpi_sdt_header {
	char signature[4];
	uint32_t length;	/* of the whole table, header included */
	uint8_t revision;
	uint8_t checksum;	/* all bytes of the table sum to 0 mod 256 */
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __packed;

/* Do the len bytes at p sum to zero (mod 256)?  Pure; host-testable. */
bool acpi_checksum_ok(const void *p, size_t len);

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

#endif /* DRIVERS_ACPI_H */
