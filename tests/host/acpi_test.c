/*
 * acpi_test.c - drivers/acpi_parse.c on crafted tables: good tables pass,
 * a table with one flipped byte or a lying length is rejected, the RSDP's
 * two checksums are both enforced, and the SRAT parser keeps only enabled
 * entries and never walks off the end (ASan watches every read).
 */
#include <stdlib.h>

#include "htest.h"
#include <drivers/acpi.h>

/* Make the bytes of a table sum to zero by fixing its checksum field. */
static void seal(struct acpi_sdt_header *h)
{
	uint8_t sum = 0;

	h->checksum = 0;
	for (uint32_t i = 0; i < h->length; i++)
		sum += ((uint8_t *)h)[i];
	h->checksum = (uint8_t)-sum;
}

/* A table of len bytes (zeroed body) with signature sig, sealed. */
static struct acpi_sdt_header *make_table(const char *sig, uint32_t len)
{
	struct acpi_sdt_header *h = calloc(1, len);

	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = 1;
	memcpy(h->oem_id, "DAMSEL", 6);
	seal(h);
	return h;
}

HTEST(acpi, a_sealed_table_passes)
{
	struct acpi_sdt_header *h = make_table("HPET", 56);

	HT_EXPECT_TRUE(acpi_table_check(h, 56) == NULL);
	free(h);
}

HTEST(acpi, any_single_flipped_byte_is_rejected)
{
	struct acpi_sdt_header *h = make_table("FACP", 64);
	uint8_t *b = (uint8_t *)h;
	int accepted = 0;

	for (uint32_t i = 0; i < h->length; i++) {
		b[i] ^= 0x40;
		if (i >= 4 &&
		    i < 8) { /* a flipped length: any verdict but "ok" */
			accepted += acpi_table_check(h, 64) == NULL;
		} else {
			const char *why = acpi_table_check(h, 64);

			accepted += why == NULL;
			HT_EXPECT_TRUE(why != NULL &&
				       strcmp(why, "bad checksum") == 0);
		}
		b[i] ^= 0x40;
	}
	HT_EXPECT_EQ(accepted, 0);
	HT_EXPECT_TRUE(acpi_table_check(h, 64) == NULL);
	free(h);
}

HTEST(acpi, a_length_beyond_the_readable_bytes_is_rejected)
{
	struct acpi_sdt_header *h = make_table("SSDT", 64);

	HT_EXPECT_STREQ(acpi_table_check(h, 40),
			"runs past the memory it claims");
	HT_EXPECT_STREQ(acpi_table_check(h, 20), "shorter than its header");
	h->length = 10;
	seal(h);
	HT_EXPECT_STREQ(acpi_table_check(h, 64), "impossible length");
	free(h);
}

/* An RSDP of revision rev with the given root addresses, both sums right. */
static void make_rsdp(uint8_t r[36], int rev, uint32_t rsdt, uint64_t xsdt)
{
	uint8_t sum = 0;
	uint32_t len = 36;

	memset(r, 0, 36);
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "DAMSEL", 6);
	r[15] = (uint8_t)rev;
	memcpy(r + 16, &rsdt, 4);
	memcpy(r + 20, &len, 4);
	memcpy(r + 24, &xsdt, 8);
	for (int i = 0; i < 20; i++)
		sum += r[i];
	r[8] = (uint8_t)-sum;
	sum = 0;
	for (int i = 0; i < 36; i++)
		sum += r[i];
	r[32] = (uint8_t)-sum;
}

HTEST(acpi, rsdp_checksums_are_both_enforced)
{
	uint8_t r[36];
	struct acpi_root root;

	make_rsdp(r, 2, 0x1000, 0x123456789aUL);
	HT_ASSERT_TRUE(acpi_rsdp_parse(r, 36, &root) == NULL);
	HT_EXPECT_EQ(root.revision, 2);
	HT_EXPECT_EQ(root.rsdt, 0x1000);
	HT_EXPECT_EQ(root.xsdt, 0x123456789aUL);
	r[10] ^= 1; /* inside the first 20 bytes */
	HT_EXPECT_STREQ(acpi_rsdp_parse(r, 36, &root), "bad RSDP checksum");
	r[10] ^= 1;
	r[30] ^= 1; /* only in the extended part */
	HT_EXPECT_STREQ(acpi_rsdp_parse(r, 36, &root),
			"bad extended RSDP checksum or length");
	r[30] ^= 1;
	r[0] = 'X';
	HT_EXPECT_STREQ(acpi_rsdp_parse(r, 36, &root), "no RSDP signature");
	HT_EXPECT_STREQ(acpi_rsdp_parse(NULL, 0, &root), "no RSDP signature");
}

HTEST(acpi, xsdt_entries_are_read_unaligned)
{
	struct acpi_sdt_header *h = make_table("XSDT", 36 + 2 * 8);
	uint64_t a = 0x11223344556677UL, b = 0xfee1deadUL;

	memcpy((uint8_t *)h + 36, &a, 8);
	memcpy((uint8_t *)h + 44, &b, 8);
	seal(h);
	HT_ASSERT_EQ(acpi_root_count(h, 8), 2);
	HT_EXPECT_EQ(acpi_root_entry(h, 8, 0), a);
	HT_EXPECT_EQ(acpi_root_entry(h, 8, 1), b);
	free(h);
}

/* SRAT entry builders (ACPI 6.5, 5.2.16.1 / 5.2.16.2). */
static uint8_t *srat_cpu(uint8_t *p, uint8_t apic, uint32_t pxm, bool on)
{
	uint32_t flags = on;

	p[0] = 0;
	p[1] = 16;
	p[2] = (uint8_t)pxm;
	p[3] = apic;
	memcpy(p + 4, &flags, 4);
	p[9] = (uint8_t)(pxm >> 8);
	return p + 16;
}

static uint8_t *srat_mem(uint8_t *p, uint64_t base, uint64_t len, uint32_t pxm,
			 bool on)
{
	uint32_t flags = on, lo, hi;

	p[0] = 1;
	p[1] = 40;
	memcpy(p + 2, &pxm, 4);
	lo = (uint32_t)base, hi = (uint32_t)(base >> 32);
	memcpy(p + 8, &lo, 4);
	memcpy(p + 12, &hi, 4);
	lo = (uint32_t)len, hi = (uint32_t)(len >> 32);
	memcpy(p + 16, &lo, 4);
	memcpy(p + 20, &hi, 4);
	memcpy(p + 28, &flags, 4);
	return p + 40;
}

HTEST(acpi, srat_two_nodes_keep_only_enabled_entries)
{
	struct acpi_sdt_header *h = make_table("SRAT", 48 + 3 * 16 + 3 * 40);
	uint8_t *p = (uint8_t *)h + 48;
	struct acpi_srat s;
	uint32_t pxm[8];

	p = srat_cpu(p, 0, 7, true);
	p = srat_cpu(p, 1, 3, true);
	p = srat_cpu(p, 2, 3, false); /* disabled: ignored */
	p = srat_mem(p, 0x100000, 0x7f00000, 7, true);
	p = srat_mem(p, 0x8000000, 0x8000000, 3, true);
	srat_mem(p, 0x100000000UL, 0x40000000, 9, false); /* hotplug: off */
	seal(h);
	HT_ASSERT_EQ(acpi_srat_parse(h, &s), 0);
	HT_EXPECT_EQ(s.ncpus, 2);
	HT_EXPECT_EQ(s.nmems, 2);
	HT_EXPECT_EQ(s.mems[1].base, 0x8000000);
	HT_EXPECT_EQ(s.mems[1].length, 0x8000000);
	HT_EXPECT_EQ(s.cpus[0].pxm, 7);
	/* Dense numbering in proximity-domain order: 3 -> 0, 7 -> 1. */
	HT_ASSERT_EQ(acpi_srat_domains(&s, pxm, 8), 2);
	HT_EXPECT_EQ(pxm[0], 3);
	HT_EXPECT_EQ(pxm[1], 7);
	free(h);
}

HTEST(acpi, srat_with_a_zero_length_entry_stops_walking)
{
	struct acpi_sdt_header *h = make_table("SRAT", 48 + 40 + 16);
	uint8_t *p = (uint8_t *)h + 48;
	struct acpi_srat s;

	p = srat_mem(p, 0x100000, 0x100000, 0, true);
	p[0] = 1;
	p[1] = 0; /* would loop forever if trusted */
	seal(h);
	HT_ASSERT_EQ(acpi_srat_parse(h, &s), 0);
	HT_EXPECT_EQ(s.nmems, 1);
	free(h);
}

HTEST(acpi, madt_counts_enabled_cpus_only)
{
	struct acpi_sdt_header *h = make_table("APIC", 44 + 3 * 8);
	uint8_t *p = (uint8_t *)h + 44;

	for (int i = 0; i < 3; i++, p += 8) {
		uint32_t flags = i != 1; /* the second one is disabled */

		p[0] = 0;
		p[1] = 8;
		p[3] = (uint8_t)i;
		memcpy(p + 4, &flags, 4);
	}
	seal(h);
	HT_EXPECT_EQ(acpi_madt_count_cpus(h), 2);
	free(h);
}
