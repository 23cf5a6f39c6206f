/*
 * vm_mutant_test.c - page attributes and NUMA boundaries the older VM
 * tests did not check (vm/pmap.c, vm/vm_page.c).
 *
 *   pmap_cache      a device mapping (pmap_mapdev) is uncached, PCD|PWT in
 *                   its page-table entry; an ordinary mapping is not;
 *   pmap_flush      unmapping a range too long to flush page by page
 *                   (a full flush instead) drops every old translation,
 *                   global ones included;
 *   vm_numa_edges   the first and the last page of every SRAT memory range
 *                   belong to that range's domain, and a page asked of a
 *                   domain comes from it, whichever CPU asks.
 *
 * Written for `make mutate` (tests/mutants.txt): each test catches a
 * one-line breakage the older tests let through.  vm_numa_edges skips
 * without an SRAT; the numa groups of tests/ktest-groups boot with one.
 */
#include <kern/types.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/ktest.h>
#include <kern/thread.h>
#include <kern/trap.h>
#include <drivers/acpi.h>
#include <vm/pmap.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>

#define CACHE_BITS (PG_NC_PCD | PG_NC_PWT)

KTEST(pmap_cache, device_mappings_are_uncached_and_others_are_not)
{
	vm_page_t m = vm_page_alloc(VM_ALLOC_ZERO);
	vm_offset_t va = kva_alloc(PAGE_SIZE);
	size_t size;
	void *dev;

	KT_ASSERT_TRUE(m != NULL && va != 0);
	/* The same frame twice: as a device would be, and as memory. */
	dev = pmap_mapdev(VM_PAGE_TO_PHYS(m), PAGE_SIZE);
	pmap_kenter(va, VM_PAGE_TO_PHYS(m), VM_PROT_READ);
	KT_EXPECT_EQ(pmap_kernel_pte((vm_offset_t)dev, &size) & CACHE_BITS,
		     CACHE_BITS);
	KT_EXPECT_EQ(pmap_kernel_pte(va, &size) & CACHE_BITS, 0);
	pmap_unmapdev(dev, PAGE_SIZE);
	pmap_kremove(va);
	kva_free(va, PAGE_SIZE);
	vm_page_free(m);
}

/*
 * Kernel mappings are global (PG_G): a CR3 reload keeps them, and only
 * INVLPG or a CR4.PGE toggle drops them.  A range of more pages than the
 * shootdown invalidates one by one gets the toggle; after it, touching
 * any page of the range must fault, not use a stale translation.
 */
#define LONG_RANGE 48		/* well above pmap.c's INVLPG_MAX_PAGES */

KTEST(pmap_flush, a_long_range_unmap_leaves_no_stale_translation)
{
	static vm_page_t pages[LONG_RANGE];
	vm_offset_t va = kva_alloc(LONG_RANGE * PAGE_SIZE);
	int stale = 0;

	KT_ASSERT_TRUE(va != 0);
	for (int i = 0; i < LONG_RANGE; i++) {
		pages[i] = vm_page_alloc(VM_ALLOC_ZERO);
		pmap_kenter(va + i * PAGE_SIZE, VM_PAGE_TO_PHYS(pages[i]),
			    VM_PROT_READ);
		(void)*(volatile uint64_t *)(va + i * PAGE_SIZE); /* cache it */
	}
	/* One shootdown for the whole range: the full-flush path. */
	pmap_kremove_range(va, LONG_RANGE * PAGE_SIZE, NULL, NULL);
	/* Every page must fault now; one that reads through was stale. */
	for (int i = 0; i < LONG_RANGE; i++) {
		struct trap_catch tc;

		KT_CATCH_TRAP(&tc, T_PAGE_FAULT,
			      (void)*(volatile uint64_t *)(va + i * PAGE_SIZE));
		stale += !tc.caught;
	}
	KT_EXPECT_EQ(stale, 0);
	for (int i = 0; i < LONG_RANGE; i++)
		vm_page_free(pages[i]);
	kva_free(va, LONG_RANGE * PAGE_SIZE);
}

/* The SRAT's memory ranges and the domain number of each (the kernel
 * numbers the proximity domains with memory 0..n-1, in increasing order). */
static int srat_ranges(struct acpi_srat *s, int *dom_of_range)
{
	const struct acpi_sdt_header *h = acpi_find_table("SRAT");
	uint32_t pxm_of[VM_MAX_DOMAINS];
	int ndoms;

	if (h == NULL || acpi_srat_parse(h, s) != 0)
		return 0;
	ndoms = acpi_srat_domains(s, pxm_of, VM_MAX_DOMAINS);
	for (int i = 0; i < s->nmems; i++) {
		dom_of_range[i] = -1;
		for (int d = 0; d < ndoms; d++)
			if (pxm_of[d] == s->mems[i].pxm)
				dom_of_range[i] = d;
	}
	return s->nmems;
}

/* A page the allocator manages at pa belongs to dom, and to no other. */
static int check_page(vm_paddr_t pa, int dom)
{
	vm_page_t m = PHYS_TO_VM_PAGE(pa);
	int wrong = 0;

	if (m == NULL)			/* not RAM the allocator manages */
		return 0;
	/* The page's own record, and every domain's membership test. */
	wrong += m->domain != dom;
	for (int d = 0; d < vm_page_ndomains(); d++)
		wrong += vm_page_domain_contains(d, pa) != (d == dom);
	if (wrong)
		ktest_diag("page %#lx: domain %d, the SRAT says %d",
			   (unsigned long)pa, m->domain, dom);
	return wrong;
}

KTEST(vm_numa_edges, the_first_and_last_page_of_each_srat_range_are_its_own)
{
	static struct acpi_srat s;
	int dom_of[ACPI_SRAT_MAX_MEMS], n, wrong = 0;

	if (vm_page_ndomains() < 2)
		KT_SKIP("one memory domain: no SRAT on this machine (the numa "
			"groups boot with one)");
	n = srat_ranges(&s, dom_of);
	KT_ASSERT_TRUE(n > 1);
	/* The edges are where an off-by-one in a range test shows. */
	for (int i = 0; i < n; i++) {
		vm_paddr_t first = roundup2(s.mems[i].base, PAGE_SIZE);
		vm_paddr_t end = rounddown2(s.mems[i].base + s.mems[i].length,
					    PAGE_SIZE);

		KT_ASSERT_TRUE(dom_of[i] >= 0);
		if (end > first) {
			wrong += check_page(first, dom_of[i]);
			wrong += check_page(end - PAGE_SIZE, dom_of[i]);
		}
	}
	KT_EXPECT_EQ(wrong, 0);
}

/* On each CPU (an IPI callback, so no sleeping): a page of every domain. */
static volatile int alloc_wrong;

static void alloc_every_domain_here(void *arg __unused)
{
	for (int d = 0; d < vm_page_ndomains(); d++) {
		vm_page_t m = vm_page_alloc_domain(d, VM_ALLOC_NOWAIT);

		if (m == NULL)
			continue;	/* that domain is exhausted: no claim */
		if (m->domain != d)
			alloc_wrong++;
		vm_page_free(m);
	}
}

KTEST(vm_numa_edges, every_cpu_gets_each_domains_pages_from_that_domain)
{
	if (vm_page_ndomains() < 2)
		KT_SKIP("one memory domain: no SRAT on this machine (the numa "
			"groups boot with one)");
	alloc_wrong = 0;
	lwkt_cpusync(smp_active_mask, alloc_every_domain_here, NULL);
	KT_EXPECT_EQ(alloc_wrong, 0);
}
