/*
 * acpi_test.c - drivers/acpi_parse.c on crafted tables: good tables pass,
 * a table with one flipped byte or a lying length is rejected, the RSDP's
 * two checksums are both enforced, and the SRAT and MADT parsers keep only
 * enabled entries and never read past the table or past an entry (every
 * crafted table is allocated at exactly its length, so ASan sees a read
 * even one byte beyond it).
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

/* ---- MADT (ACPI 6.5, 5.2.12) ---- */

/* A MADT being built: entries are appended at len, then it is sealed
 * into a buffer of exactly its length. */
struct madt_build {
	uint8_t bytes[512];
	uint32_t len;
};

static void madt_begin(struct madt_build *m)
{
	uint32_t lapic = 0xfee00000;

	memset(m, 0, sizeof(*m));
	memcpy(m->bytes, "APIC", 4);
	memcpy(m->bytes + 36, &lapic, 4);
	m->bytes[40] = 1; /* flags: PC-AT compatible 8259s present */
	m->len = 44;
}

/* Append an entry of type and length len whose body (len - 2 bytes,
 * possibly fewer than len claims) is body. */
static void madt_add(struct madt_build *m, uint8_t type, uint8_t len,
		     const void *body, uint32_t body_len)
{
	m->bytes[m->len] = type;
	m->bytes[m->len + 1] = len;
	memcpy(m->bytes + m->len + 2, body, body_len);
	m->len += 2 + body_len;
}

static void madt_lapic(struct madt_build *m, uint8_t apic_id, uint32_t flags)
{
	uint8_t b[6] = { apic_id, apic_id };

	memcpy(b + 2, &flags, 4);
	madt_add(m, 0, 8, b, 6);
}

static void madt_ioapic(struct madt_build *m, uint8_t id, uint32_t phys,
			uint32_t gsi_base)
{
	uint8_t b[10] = { id, 0 };

	memcpy(b + 2, &phys, 4);
	memcpy(b + 6, &gsi_base, 4);
	madt_add(m, 1, 12, b, 10);
}

/* A malloc'd, sealed copy of exactly m->len bytes. */
static struct acpi_sdt_header *madt_seal(struct madt_build *m)
{
	struct acpi_sdt_header *h = malloc(m->len);

	memcpy(h, m->bytes, m->len);
	h->length = m->len;
	seal(h);
	return h;
}

HTEST(acpi, madt_decodes_every_entry_type)
{
	struct madt_build m;
	struct acpi_madt out;
	uint8_t iso[8] = { 0, 0 }, x2[14] = { 0 }, ovr[10] = { 0 };
	uint32_t gsi = 2, x2id = 300, on = 1;
	uint64_t lapic = 0xfed00000UL;
	uint16_t inti = 0xd; /* active high (01), level (11) */

	madt_begin(&m);
	madt_lapic(&m, 0, 1);
	madt_lapic(&m, 1, 0); /* disabled: not a CPU we may start */
	madt_lapic(&m, 2, 1);
	memcpy(x2 + 2, &x2id, 4);
	memcpy(x2 + 6, &on, 4);
	madt_add(&m, 9, 16, x2, 14);
	madt_ioapic(&m, 5, 0xfec00000, 0);
	memcpy(iso + 2, &gsi, 4); /* ISA IRQ 0 -> GSI 2, the PC's timer */
	memcpy(iso + 6, &inti, 2);
	madt_add(&m, 2, 10, iso, 8);
	memcpy(ovr + 2, &lapic, 8);
	madt_add(&m, 5, 12, ovr, 10);
	struct acpi_sdt_header *h = madt_seal(&m);

	HT_ASSERT_TRUE(acpi_madt_parse(h, &out) == NULL);
	HT_ASSERT_EQ(out.ncpus, 3);
	HT_EXPECT_EQ(out.apic_ids[0], 0);
	HT_EXPECT_EQ(out.apic_ids[1], 2);
	HT_EXPECT_EQ(out.apic_ids[2], 300);
	HT_ASSERT_EQ(out.nioapics, 1);
	HT_EXPECT_EQ(out.ioapics[0].id, 5);
	HT_EXPECT_EQ(out.ioapics[0].phys, 0xfec00000);
	HT_EXPECT_EQ(out.isa_irq[0].gsi, 2);
	HT_EXPECT_EQ(out.isa_irq[0].flags, 0xd);
	HT_EXPECT_EQ(out.isa_irq[1].gsi, 1); /* no override: identity */
	HT_EXPECT_EQ(out.lapic_phys, lapic);
	HT_EXPECT_EQ(acpi_madt_count_cpus(h), 3);
	free(h);
}

HTEST(acpi, madt_entry_of_length_zero_stops_the_walk)
{
	struct madt_build m;
	struct acpi_madt out;
	uint8_t junk[6] = { 7, 7, 1, 0, 0, 0 };

	madt_begin(&m);
	madt_lapic(&m, 0, 1);
	madt_add(&m, 0, 0, junk, 6); /* length 0: would never advance */
	madt_lapic(&m, 1, 1);	     /* after it: not trusted */
	struct acpi_sdt_header *h = madt_seal(&m);

	HT_EXPECT_STREQ(acpi_madt_parse(h, &out),
			"an entry whose length is below 2");
	HT_EXPECT_EQ(out.error_offset, 52);
	HT_EXPECT_EQ(out.ncpus, 1);
	HT_EXPECT_EQ(acpi_madt_count_cpus(h), 1);
	free(h);
}

HTEST(acpi, madt_entry_running_past_the_end_is_not_read)
{
	struct madt_build m;
	struct acpi_madt out;
	uint8_t part[6] = { 9, 0, 0, 0, 0xc0, 0xfe };

	madt_begin(&m);
	madt_lapic(&m, 0, 1);
	/* An I/O APIC entry claiming 12 bytes with only 8 left. */
	madt_add(&m, 1, 12, part, 6);
	struct acpi_sdt_header *h = madt_seal(&m);

	HT_EXPECT_STREQ(acpi_madt_parse(h, &out),
			"an entry that runs past the end of the table");
	HT_EXPECT_EQ(out.nioapics, 0);
	HT_EXPECT_EQ(out.ncpus, 1);
	free(h);
}

HTEST(acpi, madt_entry_shorter_than_its_type_is_not_read)
{
	struct madt_build m;
	struct acpi_madt out;

	madt_begin(&m);
	madt_lapic(&m, 0, 1);
	/* A Local APIC entry of length 2: its APIC id and flags would be
	 * read from beyond the table's last byte. */
	madt_add(&m, 0, 2, "", 0);
	struct acpi_sdt_header *h = madt_seal(&m);

	HT_EXPECT_STREQ(acpi_madt_parse(h, &out),
			"an entry shorter than its type's fields");
	HT_EXPECT_EQ(out.ncpus, 1);
	HT_EXPECT_EQ(acpi_madt_count_cpus(h), 1);
	free(h);
}

HTEST(acpi, madt_shorter_than_its_fixed_fields_is_not_read)
{
	struct madt_build m;
	struct acpi_madt out;

	madt_begin(&m);
	m.len = 38; /* ends inside the local APIC address */
	struct acpi_sdt_header *h = madt_seal(&m);

	HT_EXPECT_STREQ(acpi_madt_parse(h, &out),
			"the table ends inside its fixed fields");
	HT_EXPECT_EQ(out.ncpus, 0);
	HT_EXPECT_EQ(out.lapic_phys, 0xfee00000UL); /* the default */
	HT_EXPECT_EQ(acpi_madt_count_cpus(h), 0);
	free(h);
}

/* Random bytes over a valid MADT: never a read outside it (ASan), never
 * more CPUs than entries could hold, and a verdict either way. */
HTEST(acpi, madt_survives_random_corruption)
{
	struct madt_build m;
	struct acpi_madt out;

	srand((unsigned)htest_seed()); /* the run prints its seed */
	for (int round = 0; round < 3000; round++) {
		madt_begin(&m);
		for (int i = 0; i < 4; i++)
			madt_lapic(&m, (uint8_t)i, 1);
		madt_ioapic(&m, 4, 0xfec00000, 0);
		for (int k = 0; k < 3; k++)
			m.bytes[44 + rand() % (m.len - 44)] = (uint8_t)rand();
		struct acpi_sdt_header *h = madt_seal(&m);
		const char *why = acpi_madt_parse(h, &out);

		HT_EXPECT_LE(out.ncpus, (int)(m.len - 44) / 8);
		HT_EXPECT_TRUE(why == NULL || out.error_offset < m.len);
		HT_EXPECT_EQ(acpi_madt_count_cpus(h), out.ncpus);
		free(h);
	}
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

/* ---- FADT: the PM timer (ACPI 6.5, 5.2.9) ---- */

/* A FADT of len bytes with PM_TMR_BLK port, PM_TMR_LEN tlen and flags. */
static struct acpi_sdt_header *make_fadt(uint32_t len, uint32_t port,
					 uint8_t tlen, uint32_t flags)
{
	struct acpi_sdt_header *h = make_table("FACP", len);
	uint8_t *b = (uint8_t *)h;

	memcpy(b + 76, &port, 4);
	if (len > 91)
		b[91] = tlen;
	if (len >= 116)
		memcpy(b + 112, &flags, 4);
	seal(h);
	return h;
}

HTEST(acpi, fadt_gives_the_pm_timer_port_and_width)
{
	struct acpi_sdt_header *h = make_fadt(244, 0x608, 4, 1U << 8);
	struct acpi_pm_timer t;

	HT_ASSERT_EQ(acpi_fadt_pm_timer(h, &t), 0);
	HT_EXPECT_EQ(t.port, 0x608);
	HT_EXPECT_EQ(t.bits, 32);
	free(h);
	h = make_fadt(244, 0x408, 4, 0); /* TMR_VAL_EXT clear: 24 bits */
	HT_ASSERT_EQ(acpi_fadt_pm_timer(h, &t), 0);
	HT_EXPECT_EQ(t.bits, 24);
	free(h);
}

HTEST(acpi, fadt_without_a_usable_pm_timer_says_so)
{
	struct acpi_pm_timer t;
	struct acpi_sdt_header *h = make_fadt(244, 0, 4, 0);

	HT_EXPECT_EQ(acpi_fadt_pm_timer(h, &t), -1); /* no port */
	free(h);
	h = make_fadt(244, 0x608, 2, 0);
	HT_EXPECT_EQ(acpi_fadt_pm_timer(h, &t), -1); /* PM_TMR_LEN != 4 */
	free(h);
	h = make_fadt(244, 0x10000, 4, 0);
	HT_EXPECT_EQ(acpi_fadt_pm_timer(h, &t), -1); /* not an I/O port */
	free(h);
	h = make_fadt(90, 0x608, 0, 0); /* ends before PM_TMR_LEN */
	HT_EXPECT_EQ(acpi_fadt_pm_timer(h, &t), -1);
	free(h);
}

HTEST(acpi, short_fadt_is_read_only_inside_its_length)
{
	struct acpi_pm_timer t;
	/* Long enough for PM_TMR_LEN, too short for the flags: 24 bits,
	 * and ASan checks the flags are not read from beyond the end. */
	struct acpi_sdt_header *h = make_fadt(100, 0x608, 4, 0);

	HT_ASSERT_EQ(acpi_fadt_pm_timer(h, &t), 0);
	HT_EXPECT_EQ(t.bits, 24);
	free(h);
}
