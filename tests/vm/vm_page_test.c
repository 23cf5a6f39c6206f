/*
 * vm_page_test.c - the physical page allocator: every page can be taken
 * exactly once and given back, runs are contiguous and aligned, counters
 * add up, misuse panics, and NUMA placement follows the SRAT.
 */
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/ktest.h>
#include <kern/kernel.h>
#include <kern/console.h>
#include <kern/kprintf.h>
#include <kern/synch.h>
#include <drivers/acpi.h>
#include <machine/cpu.h>
#include <vm/vm_page.h>

extern char _kernel_phys_start[], _kernel_phys_end[];

static char test_marker; /* its address tags pages the test holds */

static uint64_t free_now(void)
{
	struct vm_page_stats st;

	vm_page_stats(&st);
	return st.free + st.cached;
}

/* Is pa inside something that must never be handed out? */
static bool overlaps_boot_data(vm_paddr_t pa)
{
	if (pa < 0x100000)
		return true;
	if (pa >= (vm_paddr_t)_kernel_phys_start &&
	    pa < (vm_paddr_t)_kernel_phys_end)
		return true;
	return pa + PAGE_SIZE > boot_info.info_phys &&
	       pa < boot_info.info_phys + boot_info.info_size;
}

KTEST(vm_page, every_free_page_is_handed_out_once_then_all_come_back)
{
	struct vm_page_stats before, empty, after;
	vm_page_t list = NULL, m;
	uint64_t got = 0, bad = 0;

	vm_page_stats(&before);
	while ((m = vm_page_alloc(VM_ALLOC_NOWAIT)) != NULL) {
		/* A page handed out twice would already carry the mark
		 * (vm_page_free clears it). */
		bad += m->owner == &test_marker;
		bad += overlaps_boot_data(m->phys_addr);
		m->owner = &test_marker;
		m->pageq_next = list;
		list = m;
		got++;
	}
	vm_page_stats(&empty);
	KT_EXPECT_EQ(bad, 0);
	/* Other CPUs' caches are drained when the domains run dry (the
	 * other CPUs are idle here, so they do not refill meanwhile). */
	KT_EXPECT_EQ(got, before.free + before.cached);
	KT_EXPECT_EQ(empty.free + empty.cached, 0);
	KT_EXPECT_EQ(empty.alloc_failures, before.alloc_failures + 1);
	KT_EXPECT_TRUE(vm_page_alloc_contig(1, 0, VM_ALLOC_NOWAIT) == NULL);
	while ((m = list) != NULL) {
		list = m->pageq_next;
		vm_page_free(m);
	}
	vm_page_stats(&after);
	KT_EXPECT_EQ(after.free + after.cached, before.free + before.cached);
	KT_EXPECT_EQ(after.wired, before.wired);
	ktest_diag("%lu pages allocated and freed", got);
}

KTEST(vm_page, user_allocations_stop_at_the_reserve_and_the_kernel_goes_on)
{
	struct vm_page_stats before, empty, after;
	vm_page_t list = NULL, m, kernel;
	uint64_t got = 0;

	vm_page_stats(&before);
	KT_ASSERT_TRUE(before.reserve > 0);
	while ((m = vm_page_alloc(VM_ALLOC_USER)) != NULL) {
		m->pageq_next = list;
		list = m;
		got++;
	}
	vm_page_stats(&empty);
	/* Users took everything but the reserve, which is whole. */
	KT_EXPECT_EQ(empty.free, before.reserve);
	KT_EXPECT_FALSE(vm_page_user_room(1));
	KT_EXPECT_EQ(empty.user_refusals, before.user_refusals + 1);
	/* The kernel still gets pages, from the reserve. */
	kernel = vm_page_alloc(VM_ALLOC_NOWAIT);
	KT_EXPECT_TRUE(kernel != NULL);
	if (kernel != NULL)
		vm_page_free(kernel);
	while ((m = list) != NULL) {
		list = m->pageq_next;
		vm_page_free(m);
	}
	vm_page_stats(&after);
	KT_EXPECT_EQ(after.free + after.cached, before.free + before.cached);
	KT_EXPECT_TRUE(vm_page_user_room(1));
	ktest_diag("%lu user pages, %lu kept in reserve", got, before.reserve);
}

/* ----------------------------------------------------------------------- */
/* The pre-zeroed pools.                                                    */

#define ZTEST_PAGES 16	/* dirty pages the idle thread is given */

/* Sleep, so that this CPU's idle thread runs, until its pool holds want
 * pages (or a few hundred ticks passed: then the caller's check fails). */
static uint64_t wait_for_zeroed(uint64_t want)
{
	struct vm_page_stats st;
	int cpu = cpu_current_id();

	for (int i = 0; i < 500; i++) {
		vm_page_stats(&st);
		if (st.cpu_zeroed[cpu] >= want)
			break;
		tsleep(&test_marker, 0, "zwait", 1);
	}
	return st.cpu_zeroed[cpu];
}

/* How many of the page's 8-byte words are not zero. */
static uint64_t nonzero_words(vm_page_t m)
{
	const uint64_t *w = vm_page_to_dmap(m);
	uint64_t n = 0;

	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		n += w[i] != 0;
	return n;
}

/* Leave exactly ZTEST_PAGES pages in this CPU's cache, all dirty, and
 * its pool empty; their addresses in pa[]. */
static void dirty_the_cache(vm_paddr_t *pa)
{
	vm_page_t m[ZTEST_PAGES];

	vm_page_cache_drain();
	for (int i = 0; i < ZTEST_PAGES; i++)
		m[i] = vm_page_alloc(0);
	vm_page_cache_drain();		/* the rest of the refill */
	for (int i = 0; i < ZTEST_PAGES; i++) {
		memset(vm_page_to_dmap(m[i]), 0xa5, PAGE_SIZE);
		pa[i] = m[i]->phys_addr;
		vm_page_free(m[i]);
	}
}

static bool one_of(vm_paddr_t pa, const vm_paddr_t *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i] == pa)
			return true;
	return false;
}

KTEST(vm_page, the_idle_thread_zeroes_freed_dirty_pages_for_zero_allocations)
{
	struct vm_page_stats before, after;
	vm_paddr_t dirty[ZTEST_PAGES];
	vm_page_t m[ZTEST_PAGES];
	uint64_t bad = 0, foreign = 0;

	dirty_the_cache(dirty);
	vm_page_stats(&before);
	KT_ASSERT_EQ(wait_for_zeroed(ZTEST_PAGES), ZTEST_PAGES);
	for (int i = 0; i < ZTEST_PAGES; i++) {
		m[i] = vm_page_alloc(VM_ALLOC_ZERO);
		bad += nonzero_words(m[i]);
		foreign += !one_of(m[i]->phys_addr, dirty, ZTEST_PAGES);
	}
	vm_page_stats(&after);
	KT_EXPECT_EQ(bad, 0);
	KT_EXPECT_EQ(foreign, 0);	/* the very pages that were dirty */
	KT_EXPECT_GE(after.zero_idle, before.zero_idle + ZTEST_PAGES);
	KT_EXPECT_EQ(after.zero_hits, before.zero_hits + ZTEST_PAGES);
	KT_EXPECT_EQ(after.zero_misses, before.zero_misses);
	for (int i = 0; i < ZTEST_PAGES; i++)
		vm_page_free(m[i]);
}

/* What vm_page_print_stats (the shell's vmstat) printed, caught here. */
static char printed[2048];
static size_t printed_len;

static void catch_console(int c, void *arg)
{
	if (printed_len + 1 < sizeof(printed)) {
		printed[printed_len++] = (char)c;
		printed[printed_len] = '\0';
	}
}

KTEST(vm_page, vmstat_shows_the_pools_and_their_counters)
{
	struct vm_page_stats st;
	char line[200];

	printed_len = 0;
	printed[0] = '\0';
	cons_set_tap(catch_console, NULL);
	vm_page_stats(&st);
	vm_page_print_stats();
	cons_set_tap(NULL, NULL);
	ksnprintf(line, sizeof(line), "pre-zeroed: %lu pages in the CPUs' "
		  "pools, %lu zero allocations from a pool, %lu zeroed on the "
		  "spot, %lu pages zeroed by idle CPUs", st.zeroed,
		  st.zero_hits, st.zero_misses, st.zero_idle);
	KT_EXPECT_SUBSTR(printed, line);
	KT_EXPECT_SUBSTR(printed, "reserve: ");
}

KTEST(vm_page, a_zero_allocation_with_an_empty_pool_zeroes_the_page_itself)
{
	struct vm_page_stats before, after;
	vm_paddr_t dirty[ZTEST_PAGES];
	vm_page_t m;

	/* No sleep after this: this CPU's idle thread cannot run. */
	dirty_the_cache(dirty);
	vm_page_stats(&before);
	KT_ASSERT_EQ(before.cpu_zeroed[cpu_current_id()], 0);
	m = vm_page_alloc(VM_ALLOC_ZERO);
	vm_page_stats(&after);
	KT_EXPECT_TRUE(one_of(m->phys_addr, dirty, ZTEST_PAGES));
	KT_EXPECT_EQ(nonzero_words(m), 0);
	KT_EXPECT_EQ(after.zero_misses, before.zero_misses + 1);
	KT_EXPECT_EQ(after.zero_hits, before.zero_hits);
	vm_page_free(m);
}

KTEST(vm_page, a_full_pool_gives_its_pages_back_when_memory_runs_out)
{
	struct vm_page_stats before, empty, after;
	vm_paddr_t dirty[ZTEST_PAGES];
	vm_page_t list = NULL, m;
	uint64_t got = 0;

	dirty_the_cache(dirty);
	KT_ASSERT_EQ(wait_for_zeroed(ZTEST_PAGES), ZTEST_PAGES);
	vm_page_stats(&before);
	while ((m = vm_page_alloc(VM_ALLOC_NOWAIT)) != NULL) {
		m->pageq_next = list;
		list = m;
		got++;
	}
	vm_page_stats(&empty);
	/* Every page, the pre-zeroed ones included, was handed out. */
	KT_EXPECT_EQ(got, before.free + before.cached);
	KT_EXPECT_EQ(empty.zeroed, 0);
	KT_EXPECT_EQ(empty.free + empty.cached, 0);
	while ((m = list) != NULL) {
		list = m->pageq_next;
		vm_page_free(m);
	}
	vm_page_stats(&after);
	KT_EXPECT_EQ(after.free + after.cached, before.free + before.cached);
}

KTEST(vm_page, counters_add_up_over_domains_and_cpus)
{
	struct vm_page_stats st;
	uint64_t dom_total = 0, dom_free = 0, cpu_cached = 0;

	vm_page_stats(&st);
	for (int d = 0; d < st.ndomains; d++) {
		dom_total += st.domain_total[d];
		dom_free += st.domain_free[d];
	}
	for (int c = 0; c < MAXCPU; c++)
		cpu_cached += st.cpu_cached[c];
	KT_EXPECT_EQ(dom_total, st.total - st.reserved);
	KT_EXPECT_EQ(dom_free, st.free + st.cached);
	KT_EXPECT_EQ(cpu_cached, st.cached);
	KT_EXPECT_EQ(st.free + st.cached + st.wired + st.reserved, st.total);
	KT_EXPECT_GT(st.reserved, 0);
}

/*
 * Boot puts every free run on the buddy lists; each block costs one
 * insert, and at most one remove when a later block merges with it.  So
 * the links touched stay within twice the blocks, and the blocks within
 * the pages: linear in memory.  A list walk per insert (appending at the
 * tail) would be quadratic, and its steps would break the bound.
 */
KTEST(vm_page, boot_builds_the_free_lists_in_linear_work)
{
	struct vm_page_stats st;

	vm_page_stats(&st);
	ktest_diag("%lu pages, %lu free blocks, %lu list steps",
		   st.total - st.reserved, st.boot_free_blocks,
		   st.boot_list_steps);
	KT_EXPECT_GT(st.boot_free_blocks, 0);
	KT_EXPECT_LE(st.boot_free_blocks, st.total - st.reserved);
	KT_EXPECT_LE(st.boot_list_steps, 2 * st.boot_free_blocks);
}

KTEST(vm_page, single_pages_come_from_the_cpu_cache)
{
	struct vm_page_stats a, b;
	vm_page_t m;

	vm_page_cache_drain();
	vm_page_stats(&a);
	KT_EXPECT_EQ(a.cpu_cached[cpu_current_id()], 0);
	m = vm_page_alloc(0);
	vm_page_stats(&b);
	/* One refill moved a batch out of the buddy lists; one page left it. */
	KT_EXPECT_GT(b.cpu_cached[cpu_current_id()], 0);
	KT_EXPECT_EQ(a.free - b.free, b.cpu_cached[cpu_current_id()] + 1);
	vm_page_free(m);
	vm_page_stats(&b);
	KT_EXPECT_EQ(b.free + b.cpu_cached[cpu_current_id()], a.free);
}

KTEST(vm_page, zero_flag_gives_a_zeroed_page)
{
	vm_page_t m = vm_page_alloc(0);
	uint64_t *w;
	uint64_t nonzero = 0;

	memset(vm_page_to_dmap(m), 0xa5, PAGE_SIZE);
	vm_page_free(m);
	m = vm_page_alloc(VM_ALLOC_ZERO); /* LIFO: likely the same page */
	w = vm_page_to_dmap(m);
	for (size_t i = 0; i < PAGE_SIZE / 8; i++)
		nonzero += w[i] != 0;
	KT_EXPECT_EQ(nonzero, 0);
	vm_page_free(m);
}

KTEST(vm_page, phys_to_vm_page_roundtrips)
{
	vm_page_t m = vm_page_alloc(0);

	KT_EXPECT_TRUE(PHYS_TO_VM_PAGE(VM_PAGE_TO_PHYS(m)) == m);
	KT_EXPECT_TRUE(PHYS_TO_VM_PAGE(VM_PAGE_TO_PHYS(m) + 123) == m);
	KT_EXPECT_TRUE(PHYS_TO_VM_PAGE(0) == NULL); /* first MiB: not ours */
	vm_page_free(m);
}

KTEST(vm_page, contiguous_runs_are_contiguous_and_aligned)
{
	static const struct {
		size_t n;
		vm_paddr_t align;
	} cases[] = {
	    {1, 0}, {3, 0}, {5, 0x10000}, {16, 0}, {1, 0x200000}, {100, 0x8000},
	};
	uint64_t before = free_now();

	for (size_t i = 0; i < nitems(cases); i++) {
		vm_page_t m = vm_page_alloc_contig(cases[i].n, cases[i].align,
						   VM_ALLOC_ZERO);
		vm_paddr_t want_align =
		    cases[i].align ? cases[i].align : PAGE_SIZE;

		KT_ASSERT_TRUE(m != NULL);
		KT_EXPECT_EQ(m->phys_addr % want_align, 0);
		for (size_t j = 0; j < cases[i].n; j++)
			KT_EXPECT_EQ(m[j].phys_addr,
				     m->phys_addr + j * PAGE_SIZE);
		vm_page_free_contig(m, cases[i].n);
	}
	KT_EXPECT_EQ(free_now(), before);
}

KTEST(vm_page, alloc_below_stays_under_the_limit)
{
	const vm_paddr_t limit = 32UL << 20;
	vm_page_t got[16];
	uint64_t before = free_now();

	/* The calling CPU's domain may lie wholly above the limit (group
	 * numa_high: CPU 0 in the node above 4 GiB): it must not matter. */
	for (size_t i = 0; i < nitems(got); i++) {
		got[i] = vm_page_alloc_below(limit, VM_ALLOC_NOWAIT);
		KT_ASSERT_TRUE(got[i] != NULL);
		KT_EXPECT_LT(got[i]->phys_addr, limit);
	}
	ktest_diag("cpu %d (domain %d) got %#lx .. below %#lx",
		   cpu_current_id(), vm_page_cpu_domain(cpu_current_id()),
		   got[0]->phys_addr, limit);
	for (size_t i = 0; i < nitems(got); i++)
		vm_page_free(got[i]);
	KT_EXPECT_EQ(free_now(), before);
}

KTEST(vm_page, double_free_panics_and_changes_nothing)
{
	struct panic_catch pc;
	vm_page_t m = vm_page_alloc(0);
	uint64_t before;

	vm_page_free(m);
	before = free_now();
	KT_CATCH_PANIC(&pc, vm_page_free(m));
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "double free");
	KT_EXPECT_EQ(free_now(), before);
}

KTEST(vm_page, freeing_a_reserved_page_panics)
{
	struct panic_catch pc;
	vm_page_t m = PHYS_TO_VM_PAGE((vm_paddr_t)_kernel_phys_start);

	KT_ASSERT_TRUE(m != NULL);
	KT_CATCH_PANIC(&pc, vm_page_free(m));
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "reserved");
}

/* ----------------------------------------------------------------------- */
/* NUMA: meaningful on the two-node machine (group numa).                  */

KTEST(vm_numa, cpu0_allocates_from_its_srat_domain)
{
	int dom = vm_page_cpu_domain(cpu_current_id());
	vm_page_t m;

	if (vm_page_ndomains() < 2)
		KT_SKIP("one memory domain: no SRAT on this machine (the numa "
			"test group boots two nodes)");
	KT_EXPECT_EQ(dom, acpi_srat_cpu_domain(acpi_bsp_apic_id()));
	vm_page_cache_drain();
	m = vm_page_alloc(0);
	KT_EXPECT_EQ(m->domain, dom);
	KT_EXPECT_TRUE(vm_page_domain_contains(dom, m->phys_addr));
	ktest_diag("cpu %d in domain %d got page %#lx", cpu_current_id(), dom,
		   m->phys_addr);
	vm_page_free(m);
}

KTEST(vm_numa, domain_allocation_returns_pages_in_that_domains_range)
{
	int n = vm_page_ndomains();

	if (n < 2)
		KT_SKIP("one memory domain: no SRAT on this machine");
	for (int d = 0; d < n; d++) {
		vm_page_t m = vm_page_alloc_domain(d, 0);
		vm_page_t r = vm_page_alloc_contig(4, 0, VM_ALLOC_NOWAIT);

		KT_ASSERT_TRUE(m != NULL);
		KT_EXPECT_EQ(m->domain, d);
		KT_EXPECT_TRUE(vm_page_domain_contains(d, m->phys_addr));
		KT_EXPECT_TRUE(
		    !vm_page_domain_contains((d + 1) % n, m->phys_addr));
		vm_page_free(m);
		/* A run prefers the calling CPU's domain. */
		KT_ASSERT_TRUE(r != NULL);
		KT_EXPECT_EQ(r->domain, vm_page_cpu_domain(cpu_current_id()));
		vm_page_free_contig(r, 4);
	}
}

KTEST(vm_numa, domains_split_memory_and_counts_add_up)
{
	struct vm_page_stats st;
	uint64_t sum = 0;

	vm_page_stats(&st);
	if (st.ndomains < 2)
		KT_SKIP("one memory domain: no SRAT on this machine");
	KT_EXPECT_EQ(st.ndomains, acpi_srat_domain_count());
	for (int d = 0; d < st.ndomains; d++) {
		KT_EXPECT_GT(st.domain_total[d], 0);
		sum += st.domain_free[d];
		ktest_diag("domain %d: %lu pages, %lu free", d,
			   st.domain_total[d], st.domain_free[d]);
	}
	KT_EXPECT_EQ(sum, st.free + st.cached);
}

/* Runs on another CPU (an IPI callback): which domain do its pages come
 * from?  vm_page_alloc is safe in any context. */
static void alloc_here(void *arg)
{
	vm_page_t m = vm_page_alloc(0);

	*(int *)arg = m->domain;
	vm_page_free(m);
}

KTEST(vm_numa, every_cpu_allocates_from_its_own_srat_domain)
{
	int checked = 0;

	if (vm_page_ndomains() < 2 || ncpus < 2)
		KT_SKIP("needs two SRAT domains and a second CPU (numa group)");
	for (int cpu = 0; cpu < ncpus; cpu++) {
		uint32_t apic = globaldata_find(cpu)->gd_apic_id;
		int got = -1;

		lwkt_cpusync(1UL << cpu, alloc_here, &got);
		KT_EXPECT_EQ(got, acpi_srat_cpu_domain(apic));
		KT_EXPECT_EQ(vm_page_cpu_domain(cpu),
			     acpi_srat_cpu_domain(apic));
		ktest_diag("cpu %d (APIC %u): domain %d", cpu, apic, got);
		checked++;
	}
	KT_EXPECT_EQ(checked, ncpus);
}
