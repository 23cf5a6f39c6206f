/*
 * multiboot2_test.c - boot/multiboot2.c on crafted boot information blocks:
 * well-formed ones must parse completely, corrupted ones must be refused
 * with a message, and nothing may be read outside the block (ASan watches).
 */
#include <stdio.h>
#include <stdlib.h>

#include "htest.h"
#include <boot/multiboot2.h>

/* A builder for boot information blocks, 8-byte aligned like GRUB's. */
struct mbi {
	uint64_t words[512];
	uint32_t len;
};

static void mbi_begin(struct mbi *m)
{
	memset(m, 0, sizeof(*m));
	m->len = 8;
}

static void *mbi_tag(struct mbi *m, uint32_t type, uint32_t size)
{
	uint8_t *base = (uint8_t *)m->words;
	uint32_t *tag = (uint32_t *)(base + m->len);

	tag[0] = type;
	tag[1] = size;
	m->len = (m->len + size + 7) & ~7u;
	return tag;
}

static void mbi_string_tag(struct mbi *m, uint32_t type, const char *s)
{
	char *tag = mbi_tag(m, type, 8 + (uint32_t)strlen(s) + 1);

	memcpy(tag + 8, s, strlen(s) + 1);
}

static void mbi_mmap(struct mbi *m, int n)
{
	uint32_t *tag = mbi_tag(m, MB2_TAG_MMAP, 16 + 24 * n);

	tag[2] = 24;	/* entry size */
	tag[3] = 0;	/* entry version */
	for (int i = 0; i < n; i++) {
		uint64_t *e = (uint64_t *)((uint8_t *)tag + 16 + 24 * i);

		e[0] = 0x100000ull * (i + 1);
		e[1] = 0x100000;
		((uint32_t *)&e[2])[0] = i % 2 ? MB2_MMAP_RESERVED :
						 MB2_MMAP_AVAILABLE;
	}
}

static void mbi_end(struct mbi *m)
{
	mbi_tag(m, MB2_TAG_END, 8);
	((uint32_t *)m->words)[0] = m->len;
}

/* A copy of the block in a heap buffer of exactly its size, so that ASan
 * catches any read past the end. */
static void *exact_copy(const struct mbi *m)
{
	void *p = aligned_alloc(8, (m->len + 7) & ~7u);

	memcpy(p, m->words, m->len);
	return p;
}

HTEST(multiboot2, parses_a_complete_block)
{
	struct mbi m;
	struct boot_info bi;
	uint8_t *rsdp;

	mbi_begin(&m);
	mbi_string_tag(&m, MB2_TAG_CMDLINE, "ktest=all ktest.seed=7");
	mbi_string_tag(&m, MB2_TAG_LOADER_NAME, "GRUB 2.06");
	mbi_mmap(&m, 3);
	rsdp = mbi_tag(&m, MB2_TAG_ACPI_NEW, 8 + 36);
	memcpy(rsdp + 8, "RSD PTR ", 8);
	mbi_end(&m);
	void *p = exact_copy(&m);
	HT_ASSERT_EQ(mb2_parse(p, 0x9000, &bi), 0);
	HT_EXPECT_TRUE(bi.error == NULL);
	HT_EXPECT_STREQ(bi.cmdline, "ktest=all ktest.seed=7");
	HT_EXPECT_STREQ(bi.loader_name, "GRUB 2.06");
	HT_EXPECT_EQ(bi.mmap_count, 3);
	HT_EXPECT_EQ(bi.mmap[2].base, 0x300000);
	HT_EXPECT_EQ(boot_usable_memory(&bi), 2 * 0x100000);
	HT_EXPECT_EQ(bi.rsdp_version, 2);
	HT_EXPECT_EQ(bi.info_phys, 0x9000);
	HT_EXPECT_EQ(bi.info_size, m.len);
	free(p);
}

HTEST(multiboot2, missing_tags_get_defaults)
{
	struct mbi m;
	struct boot_info bi;

	mbi_begin(&m);
	mbi_end(&m);
	void *p = exact_copy(&m);
	HT_ASSERT_EQ(mb2_parse(p, 0, &bi), 0);
	HT_EXPECT_STREQ(bi.cmdline, "");
	HT_EXPECT_STREQ(bi.loader_name, "unknown");
	HT_EXPECT_EQ(bi.mmap_count, 0);
	HT_EXPECT_EQ(bi.rsdp_version, 0);
	free(p);
}

HTEST(multiboot2, prefers_the_new_rsdp_whatever_the_order)
{
	struct mbi m;
	struct boot_info bi;

	mbi_begin(&m);
	mbi_tag(&m, MB2_TAG_ACPI_NEW, 8 + 36);
	mbi_tag(&m, MB2_TAG_ACPI_OLD, 8 + 20);
	mbi_end(&m);
	void *p = exact_copy(&m);
	HT_ASSERT_EQ(mb2_parse(p, 0, &bi), 0);
	HT_EXPECT_EQ(bi.rsdp_version, 2);
	free(p);
}

HTEST(multiboot2, rejects_a_tag_running_past_the_end)
{
	struct mbi m;
	struct boot_info bi;
	uint32_t *tag;

	mbi_begin(&m);
	mbi_string_tag(&m, MB2_TAG_CMDLINE, "hello");
	tag = mbi_tag(&m, MB2_TAG_LOADER_NAME, 16);
	mbi_end(&m);
	tag[1] = 4000;	/* claims far more than the block holds */
	void *p = exact_copy(&m);
	HT_EXPECT_EQ(mb2_parse(p, 0, &bi), -1);
	HT_EXPECT_TRUE(bi.error != NULL);
	HT_EXPECT_STREQ(bi.cmdline, "hello");	/* what came before survives */
	free(p);
}

HTEST(multiboot2, rejects_a_block_without_end_tag)
{
	struct mbi m;
	struct boot_info bi;

	mbi_begin(&m);
	mbi_string_tag(&m, MB2_TAG_CMDLINE, "x");
	((uint32_t *)m.words)[0] = m.len;	/* no end tag */
	void *p = exact_copy(&m);
	HT_EXPECT_EQ(mb2_parse(p, 0, &bi), -1);
	HT_EXPECT_TRUE(bi.error != NULL && strstr(bi.error, "end tag"));
	free(p);
}

HTEST(multiboot2, rejects_an_unterminated_string)
{
	struct mbi m;
	struct boot_info bi;
	char *tag;

	mbi_begin(&m);
	tag = mbi_tag(&m, MB2_TAG_CMDLINE, 8 + 8);
	memcpy(tag + 8, "ABCDEFGH", 8);	/* no NUL inside the tag */
	mbi_end(&m);
	void *p = exact_copy(&m);
	HT_EXPECT_EQ(mb2_parse(p, 0, &bi), -1);
	HT_EXPECT_TRUE(strstr(bi.error, "command line") != NULL);
	free(p);
}

HTEST(multiboot2, rejects_bad_mmap_entry_size_and_zero_tag_size)
{
	struct mbi m;
	struct boot_info bi;
	uint32_t *tag;

	mbi_begin(&m);
	tag = mbi_tag(&m, MB2_TAG_MMAP, 16 + 24);
	tag[2] = 0;	/* entry size 0 would loop forever */
	mbi_end(&m);
	void *p = exact_copy(&m);
	HT_EXPECT_EQ(mb2_parse(p, 0, &bi), -1);
	free(p);

	mbi_begin(&m);
	tag = mbi_tag(&m, 77, 8);
	mbi_end(&m);
	tag[1] = 0;	/* size 0 would never advance */
	p = exact_copy(&m);
	HT_EXPECT_EQ(mb2_parse(p, 0, &bi), -1);
	free(p);
}

HTEST(multiboot2, rejects_implausible_total_size_and_bad_pointer)
{
	uint64_t block[2] = { 0, 0 };
	struct boot_info bi;

	((uint32_t *)block)[0] = 4;	/* smaller than the header */
	HT_EXPECT_EQ(mb2_parse(block, 0, &bi), -1);
	((uint32_t *)block)[0] = 0x7fffffff;
	HT_EXPECT_EQ(mb2_parse(block, 0, &bi), -1);
	HT_EXPECT_EQ(mb2_parse(NULL, 0, &bi), -1);
	HT_EXPECT_EQ(mb2_parse((char *)block + 4, 0, &bi), -1);
}

/* Random corruption of a valid block must never crash or over-read. */
HTEST(multiboot2, survives_random_corruption)
{
	uint64_t seed = htest_seed();
	struct boot_info bi;
	struct mbi m;

	printf("  # seed=0x%llx\n", (unsigned long long)seed);
	srand((unsigned)seed);
	for (int round = 0; round < 2000; round++) {
		mbi_begin(&m);
		mbi_string_tag(&m, MB2_TAG_CMDLINE, "ktest=all");
		mbi_mmap(&m, 4);
		mbi_string_tag(&m, MB2_TAG_LOADER_NAME, "GRUB");
		mbi_end(&m);
		for (int k = 0; k < 3; k++)
			((uint8_t *)m.words)[rand() % m.len] = (uint8_t)rand();
		if (((uint32_t *)m.words)[0] > m.len)
			((uint32_t *)m.words)[0] = m.len;	/* keep ASan honest */
		void *p = exact_copy(&m);
		int r = mb2_parse(p, 0, &bi);
		HT_EXPECT_TRUE(r == 0 || bi.error != NULL);
		free(p);
	}
}

HTEST(multiboot2, rejects_an_entry_size_that_would_wrap_the_walk)
{
	struct mbi m;
	struct boot_info bi;
	uint32_t *tag;

	mbi_begin(&m);
	tag = mbi_tag(&m, MB2_TAG_MMAP, 16 + 24);
	tag[2] = 0xfffffff0;	/* 8-aligned, >= 24, and 16 + it wraps */
	mbi_end(&m);
	void *p = exact_copy(&m);
	HT_EXPECT_EQ(mb2_parse(p, 0, &bi), -1);
	HT_EXPECT_EQ(bi.mmap_count, 0);
	free(p);
}
