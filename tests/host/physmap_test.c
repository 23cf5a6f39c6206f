/*
 * physmap_test.c - vm/vm_physmap.c on crafted Multiboot2 memory maps:
 * overlapping, unsorted, unaligned and very long maps must yield every
 * usable page exactly once, in order, cut at domain boundaries; a seeded
 * random map is checked page by page against a plain bitmap model.
 * The maps go through mb2_parse, as the kernel's do.
 */
#include "htest.h"
#include <boot/multiboot2.h>
#include <vm/vm_physmap.h>

#define MIB 0x100000ULL
#define MAP_MAX 512 /* entries a test map may have */

/* ---- building boot information blocks --------------------------------- */

struct entry {
	uint64_t base, length;
	uint32_t type;
};

/* The raw block: header, one memory map tag, end tag (Multiboot2 3.6). */
static uint64_t block[4 + 3 * MAP_MAX + 2];

/* Parse a block holding exactly entries[0..n) into *bi. */
static void parse_map(const struct entry *entries, int n,
		      struct boot_info *bi)
{
	uint32_t *w = (uint32_t *)block;
	uint32_t tag_size = 16 + 24 * (uint32_t)n;
	uint64_t *e = block + 3; /* 8-byte header + 16-byte tag header */

	memset(block, 0, sizeof(block));
	w[2] = MB2_TAG_MMAP;
	w[3] = tag_size;
	w[4] = 24; /* entry size */
	for (int i = 0; i < n; i++, e += 3) {
		e[0] = entries[i].base;
		e[1] = entries[i].length;
		e[2] = entries[i].type;
	}
	/* End tag, 8-byte aligned after the map tag. */
	w[(8 + ((tag_size + 7) & ~7u)) / 4] = MB2_TAG_END;
	w[(8 + ((tag_size + 7) & ~7u)) / 4 + 1] = 8;
	w[0] = 8 + ((tag_size + 7) & ~7u) + 8;
	HT_ASSERT_EQ(mb2_parse(block, 0x9000, bi), 0);
	HT_ASSERT_EQ(boot_mmap_count(bi), n);
}

/* ---- walking the result ------------------------------------------------ */

#define WINDOW_PAGES (512 * MIB / 4096) /* the model covers 0..512 MiB */

struct walk {
	uint8_t seen[WINDOW_PAGES]; /* times each page was returned */
	uint64_t pages;		    /* total returned */
	int nsegs;
	struct vm_physmap_seg segs[4 * MAP_MAX];
};

/*
 * Walk every segment the way vm_page_init does, checking the contract on
 * the way: page aligned, non-empty, above the first MiB, each starting at
 * or after the previous end.  Counts every page it is given.
 */
static void walk(const struct boot_info *bi, const struct vm_domain_range *d,
		 int nd, struct walk *w)
{
	struct vm_physmap_seg s;
	vm_paddr_t from = 0;

	memset(w, 0, sizeof(*w));
	while (vm_physmap_next(bi, d, nd, from, &s)) {
		HT_ASSERT_TRUE(w->nsegs < 4 * MAP_MAX);
		HT_EXPECT_EQ(s.start % 4096, 0);
		HT_EXPECT_EQ(s.end % 4096, 0);
		HT_ASSERT_TRUE(s.start < s.end);
		HT_EXPECT_GE(s.start, from);
		HT_EXPECT_GE(s.start, LOW_MEMORY_END);
		for (vm_paddr_t pa = s.start; pa < s.end; pa += 4096) {
			if (pa / 4096 < WINDOW_PAGES)
				w->seen[pa / 4096]++;
			w->pages++;
		}
		w->segs[w->nsegs++] = s;
		from = s.end;
	}
}

/* Every page of the window was given at most once. */
static void expect_each_page_once(const struct walk *w)
{
	uint64_t twice = 0;

	for (uint64_t p = 0; p < WINDOW_PAGES; p++)
		twice += w->seen[p] > 1;
	HT_EXPECT_EQ(twice, 0);
}

static void expect_seg(const struct walk *w, int i, uint64_t start,
		       uint64_t end, int domain)
{
	HT_ASSERT_TRUE(i < w->nsegs);
	HT_EXPECT_EQ(w->segs[i].start, start);
	HT_EXPECT_EQ(w->segs[i].end, end);
	HT_EXPECT_EQ(w->segs[i].domain, domain);
}

static struct walk w; /* big: keep it off the stack */

/* ---- tests -------------------------------------------------------------- */

HTEST(physmap, overlapping_available_entries_give_each_page_once)
{
	/* The drawing at the top of vm_physmap.c. */
	static const struct entry map[] = {
		{1 * MIB, 63 * MIB, MB2_MMAP_AVAILABLE},
		{32 * MIB, 96 * MIB, MB2_MMAP_AVAILABLE},
		{96 * MIB, 4 * MIB, MB2_MMAP_RESERVED},
		{1 * MIB, 63 * MIB, MB2_MMAP_AVAILABLE}, /* a duplicate */
	};
	static const struct vm_domain_range doms[] = {
		{0, 80 * MIB, 0}, {80 * MIB, 176 * MIB, 1}};
	struct boot_info bi;

	parse_map(map, 4, &bi);
	walk(&bi, doms, 2, &w);
	expect_each_page_once(&w);
	HT_EXPECT_EQ(w.nsegs, 3);
	expect_seg(&w, 0, 1 * MIB, 80 * MIB, 0);
	expect_seg(&w, 1, 80 * MIB, 96 * MIB, 1);
	expect_seg(&w, 2, 100 * MIB, 128 * MIB, 1);
	HT_EXPECT_EQ(w.pages, (95 + 28) * MIB / 4096);
}

HTEST(physmap, other_types_win_and_round_outward_available_rounds_inward)
{
	static const struct entry map[] = {
		/* unaligned available: only whole pages inside it count */
		{2 * MIB + 100, 2 * MIB - 200, MB2_MMAP_AVAILABLE},
		/* a few bytes of ACPI data cost their whole pages */
		{3 * MIB + 10, 20, MB2_MMAP_ACPI_RECLAIM},
		/* below 1 MiB is never managed */
		{0, 2 * MIB, MB2_MMAP_AVAILABLE},
	};
	struct boot_info bi;

	parse_map(map, 3, &bi);
	walk(&bi, NULL, 0, &w);
	HT_EXPECT_EQ(w.nsegs, 3);
	/* The available entry's partial first and last pages are lost, and
	 * so is the page the ACPI bytes sit in. */
	expect_seg(&w, 0, 1 * MIB, 2 * MIB, 0);
	expect_seg(&w, 1, 2 * MIB + 4096, 3 * MIB, 0);
	expect_seg(&w, 2, 3 * MIB + 4096, 4 * MIB - 4096, 0);
	HT_EXPECT_EQ(w.pages, 256 + 255 + 254);
}

HTEST(physmap, unsorted_and_adjacent_entries_chain_into_one_run)
{
	static const struct entry map[] = {
		{8 * MIB, 8 * MIB, MB2_MMAP_AVAILABLE},
		{2 * MIB, 2 * MIB, MB2_MMAP_AVAILABLE},
		{4 * MIB, 4 * MIB, MB2_MMAP_AVAILABLE},
		{1 * MIB, 1 * MIB, MB2_MMAP_BAD},
	};
	struct boot_info bi;

	parse_map(map, 4, &bi);
	walk(&bi, NULL, 0, &w);
	HT_EXPECT_EQ(w.nsegs, 1);
	expect_seg(&w, 0, 2 * MIB, 16 * MIB, 0);
}

HTEST(physmap, a_map_longer_than_the_boot_copy_is_read_to_the_end)
{
	/* 300 entries: 1 MiB available, 1 MiB reserved, alternating, from
	 * 1 MiB up; the copy in boot_info holds only the first 64. */
	static struct entry map[300];
	struct boot_info bi;

	for (int i = 0; i < 300; i++)
		map[i] = (struct entry){(uint64_t)(i + 1) * MIB, MIB,
					i % 2 ? MB2_MMAP_RESERVED
					      : MB2_MMAP_AVAILABLE};
	parse_map(map, 300, &bi);
	HT_EXPECT_EQ(bi.mmap_count, BOOT_MMAP_MAX);
	HT_EXPECT_TRUE(bi.error == NULL);
	HT_EXPECT_EQ(boot_usable_memory(&bi), 150 * MIB);
	walk(&bi, NULL, 0, &w);
	expect_each_page_once(&w);
	HT_EXPECT_EQ(w.nsegs, 150);
	HT_EXPECT_EQ(w.pages, 150 * MIB / 4096);
	expect_seg(&w, 149, 299 * MIB, 300 * MIB, 0);
}

HTEST(physmap, entries_that_would_wrap_are_clipped)
{
	static const struct entry map[] = {
		{4 * MIB, ~0ULL, MB2_MMAP_AVAILABLE},	  /* to 2^64 and past */
		{~0ULL - 4095, 8192, MB2_MMAP_RESERVED}, /* wraps */
		{6 * MIB, 0, MB2_MMAP_RESERVED},	  /* empty: nothing */
	};
	struct vm_range r;
	struct boot_info bi;

	parse_map(map, 3, &bi);
	HT_ASSERT_TRUE(vm_physmap_next_usable(&bi, 0, &r));
	HT_EXPECT_EQ(r.start, 4 * MIB);
	HT_EXPECT_EQ(r.end, PHYS_ADDR_LIMIT);
	HT_EXPECT_FALSE(vm_physmap_next_usable(&bi, r.end, &r));
}

HTEST(physmap, no_usable_memory_is_reported_as_none)
{
	static const struct entry map[] = {
		{0, 640 * 1024, MB2_MMAP_AVAILABLE}, /* all below 1 MiB */
		{1 * MIB, 1 * MIB, MB2_MMAP_NVS},
	};
	struct vm_range r;
	struct boot_info bi;

	parse_map(map, 2, &bi);
	HT_EXPECT_FALSE(vm_physmap_next_usable(&bi, 0, &r));
	/* No map tag at all. */
	HT_EXPECT_EQ(mb2_parse(NULL, 0, &bi), -1);
	HT_EXPECT_FALSE(vm_physmap_next_usable(&bi, 0, &r));
}

/* ---- a random map against a bitmap model -------------------------------- */

static uint64_t rng;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* The definition, page by page: some available entry covers the whole
 * page, no other entry touches any byte of it, and it lies above the
 * first MiB.  (Entries stay inside 0..544 MiB here: no wrap.) */
static void model(const struct entry *map, int n, uint8_t *usable)
{
	static uint8_t avail[WINDOW_PAGES], blocked[WINDOW_PAGES];

	memset(avail, 0, sizeof(avail));
	memset(blocked, 0, sizeof(blocked));
	for (int i = 0; i < n; i++) {
		uint64_t s = map[i].base, e = s + map[i].length;

		for (uint64_t p = s / 4096; p < WINDOW_PAGES && p * 4096 < e;
		     p++) {
			if (map[i].type != MB2_MMAP_AVAILABLE)
				blocked[p] = 1; /* touches the page */
			else if (s <= p * 4096 && p * 4096 + 4096 <= e)
				avail[p] = 1; /* covers it whole */
		}
	}
	for (uint64_t p = 0; p < WINDOW_PAGES; p++)
		usable[p] = avail[p] && !blocked[p] &&
			    p * 4096 >= LOW_MEMORY_END;
}

/* Entries in the window, any type, unaligned half the time. */
static struct entry random_entry(void)
{
	static const uint32_t types[] = {
	    MB2_MMAP_AVAILABLE, MB2_MMAP_AVAILABLE, MB2_MMAP_AVAILABLE,
	    MB2_MMAP_RESERVED, MB2_MMAP_ACPI_RECLAIM, MB2_MMAP_BAD};
	uint64_t base = next_random() % (480 * MIB);
	uint64_t len = next_random() % (next_random() % 2 ? 64 * MIB : 64 * 1024);

	if (next_random() % 2)
		base &= ~4095ULL, len &= ~4095ULL;
	return (struct entry){base, len, types[next_random() % 6]};
}

/* The domain of the page starting at pa, for the table in the test
 * below (outside every range: 0). */
static int page_domain(vm_paddr_t pa)
{
	if (pa < 100 * MIB + 2048)
		return 0;
	if (pa < 300 * MIB)
		return 1;
	return pa < 400 * MIB ? 2 : 0;
}

HTEST(physmap, random_maps_match_the_page_by_page_definition)
{
	static struct entry map[MAP_MAX];
	static uint8_t usable[WINDOW_PAGES];
	static const struct vm_domain_range doms[] = {
		{0, 100 * MIB + 2048, 0}, /* a boundary inside a page */
		{300 * MIB, 100 * MIB, 2},
		{100 * MIB + 2048, 200 * MIB - 2048, 1}};
	struct boot_info bi;
	uint64_t wrong = 0;

	rng = htest_seed() | 1; /* the run prints it: HTEST_SEED replays */
	for (int round = 0; round < 40; round++) {
		int n = 1 + (int)(next_random() % (round < 20 ? 16 : MAP_MAX));

		for (int i = 0; i < n; i++)
			map[i] = random_entry();
		parse_map(map, n, &bi);
		model(map, n, usable);
		walk(&bi, doms, 3, &w);
		for (uint64_t p = 0; p < WINDOW_PAGES; p++)
			wrong += w.seen[p] != usable[p];
		/* A segment's first and last pages both start in its
		 * domain. */
		for (int i = 0; i < w.nsegs; i++) {
			wrong += page_domain(w.segs[i].start) !=
				 w.segs[i].domain;
			wrong += page_domain(w.segs[i].end - 4096) !=
				 w.segs[i].domain;
		}
	}
	HT_EXPECT_EQ(wrong, 0);
}
