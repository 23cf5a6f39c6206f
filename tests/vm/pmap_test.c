/*
 * pmap_test.c - the kernel page tables: W^X on the image, the direct map,
 * pmap_kenter/kremove with TLB invalidation, the KVA allocator, and the
 * two faults that must panic with a named cause: a write to kernel text
 * and a kernel stack running into its guard page.  With two CPUs or more
 * (group pmap_smp): another CPU never keeps a stale translation after an
 * unmap, a remap or a lost write right, and a range costs one shootdown.
 */
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/malloc.h>
#include <kern/thread.h>
#include <machine/cpufunc.h>
#include <vm/pmap.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>

extern char _text[], _rodata[], _data[];

MALLOC_DEFINE(M_PMAPTEST, "pmaptest", "pmap tests' large allocations");

#define GIB (1UL << 30)

static pt_entry_t pte_of(const void *va)
{
	size_t size = 0;

	return pmap_kernel_pte((vm_offset_t)va, &size);
}

static bool writable(pt_entry_t e)
{
	return (e & PG_RW) != 0;
}

static bool executable(pt_entry_t e)
{
	return (e & PG_NX) == 0;
}

KTEST(pmap, image_sections_are_write_xor_execute)
{
	static int some_data;

	KT_EXPECT_TRUE(pte_of(_text) != 0);
	KT_EXPECT_FALSE(writable(pte_of(_text)));
	KT_EXPECT_TRUE(executable(pte_of(_text)));
	KT_EXPECT_FALSE(writable(pte_of(_rodata)));
	KT_EXPECT_FALSE(executable(pte_of(_rodata)));
	KT_EXPECT_TRUE(writable(pte_of(&some_data)));
	KT_EXPECT_FALSE(executable(pte_of(&some_data)));
	KT_EXPECT_TRUE(rcr0() & (1UL << 16)); /* CR0.WP: kernel obeys RO */
}

KTEST(pmap, direct_map_is_no_execute_and_read_only_over_text)
{
	void *text_alias = PHYS_TO_DMAP(KVA_TO_PHYS(_text));
	vm_page_t m = vm_page_alloc(0);

	KT_EXPECT_FALSE(writable(pte_of(text_alias)));
	KT_EXPECT_FALSE(executable(pte_of(text_alias)));
	KT_EXPECT_TRUE(writable(pte_of(vm_page_to_dmap(m))));
	KT_EXPECT_FALSE(executable(pte_of(vm_page_to_dmap(m))));
	KT_EXPECT_EQ(pmap_kextract((vm_offset_t)vm_page_to_dmap(m) + 5),
		     m->phys_addr + 5);
	vm_page_free(m);
}

KTEST(pmap, write_to_kernel_text_panics_naming_wx)
{
	struct panic_catch pc;
	volatile uint8_t *text = (volatile uint8_t *)_text;

	KT_CATCH_PANIC(&pc, *text = 0xcc);
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "W^X violation");
	KT_EXPECT_SUBSTR(pc.msg, "kernel text");
	ktest_diag("panic: %s", pc.msg);
}

KTEST(pmap, write_to_text_through_the_direct_map_panics_too)
{
	struct panic_catch pc;
	volatile uint8_t *alias = PHYS_TO_DMAP(KVA_TO_PHYS(_text));

	KT_CATCH_PANIC(&pc, *alias = 0xcc);
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "W^X violation");
}

KTEST(pmap, executing_data_panics_naming_wx)
{
	static uint8_t ret_insn[16] = {0xc3}; /* "ret", in .data */
	struct panic_catch pc;
	void (*fn)(void) = (void (*)(void))(void *)ret_insn;

	KT_CATCH_PANIC(&pc, fn());
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "W^X violation: instruction fetch");
}

KTEST(pmap, kenter_maps_and_kremove_unmaps_with_invalidation)
{
	vm_offset_t va = kva_alloc(PAGE_SIZE);
	vm_page_t a = vm_page_alloc(VM_ALLOC_ZERO), b = vm_page_alloc(0);
	struct trap_catch tc;

	*(uint64_t *)vm_page_to_dmap(a) = 0xaaaa;
	*(uint64_t *)vm_page_to_dmap(b) = 0xbbbb;
	pmap_kenter(va, a->phys_addr, VM_PROT_READ | VM_PROT_WRITE);
	KT_EXPECT_EQ(*(volatile uint64_t *)va, 0xaaaa); /* now in the TLB */
	KT_EXPECT_EQ(pmap_kremove(va), a->phys_addr);
	pmap_kenter(va, b->phys_addr, VM_PROT_READ);
	KT_EXPECT_EQ(*(volatile uint64_t *)va, 0xbbbb); /* not stale A */
	pmap_kremove(va);
	KT_CATCH_TRAP(&tc, T_PAGE_FAULT, (void)*(volatile uint64_t *)va);
	KT_EXPECT_TRUE(tc.caught);
	KT_EXPECT_EQ(tc.cr2, va);
	KT_EXPECT_EQ(pmap_kextract(va), (vm_paddr_t)-1);
	vm_page_free(a);
	vm_page_free(b);
	kva_free(va, PAGE_SIZE);
}

KTEST(pmap, kenter_refuses_writable_and_executable)
{
	vm_offset_t va = kva_alloc(PAGE_SIZE);
	vm_page_t m = vm_page_alloc(VM_ALLOC_ZERO);
	struct pmap_stats before, after;
	struct panic_catch pc;

	pmap_get_stats(&before);
	KT_CATCH_PANIC(&pc, pmap_kenter(va, m->phys_addr,
					VM_PROT_READ | VM_PROT_WRITE |
					    VM_PROT_EXECUTE));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "W^X violation");
	/* Refused before anything changed: nothing is mapped there. */
	pmap_get_stats(&after);
	KT_EXPECT_EQ(pmap_kextract(va), (vm_paddr_t)-1);
	KT_EXPECT_EQ(after.kenters, before.kenters);
	/* Each right alone is fine; execute-only maps without NX. */
	pmap_kenter(va, m->phys_addr, VM_PROT_READ | VM_PROT_EXECUTE);
	KT_EXPECT_TRUE(executable(pte_of((void *)va)));
	KT_EXPECT_FALSE(writable(pte_of((void *)va)));
	pmap_kremove(va);
	vm_page_free(m);
	kva_free(va, PAGE_SIZE);
}

/* Other CPUs that run: a shootdown goes to them. */
static bool other_cpus_run(void)
{
	return (smp_active_mask & ~mycpu->gd_cpumask) != 0;
}

KTEST(pmap, unmapping_a_range_invalidates_once)
{
	const size_t npages = 8;
	struct pmap_stats before, after;
	uint8_t *p = kmem_alloc(npages * PAGE_SIZE, VM_ALLOC_ZERO);
	char *stack;

	KT_ASSERT_TRUE(p != NULL);
	for (size_t i = 0; i < npages; i++)
		p[i * PAGE_SIZE] = 1; /* every page in this CPU's TLB */
	pmap_get_stats(&before);
	kmem_free(p, npages * PAGE_SIZE);
	pmap_get_stats(&after);
	KT_EXPECT_EQ(after.kremoves - before.kremoves, npages);
	KT_EXPECT_EQ(after.invalidations - before.invalidations, 1);
	KT_EXPECT_EQ(after.shootdowns - before.shootdowns,
		     other_cpus_run() ? 1 : 0);
	/* A stack goes the same way. */
	stack = vm_kstack_alloc(4 * PAGE_SIZE, "shootdown-count");
	KT_ASSERT_TRUE(stack != NULL);
	pmap_get_stats(&before);
	vm_kstack_free(stack);
	pmap_get_stats(&after);
	KT_EXPECT_EQ(after.invalidations - before.invalidations, 1);
	ktest_diag("%lu pages unmapped with %lu shootdown(s)", npages,
		   after.shootdowns - before.shootdowns);
}

/* ----------------------------------------------------------------------- */
/* Running out of page-table pages.                                        */

/*
 * Every free page, held: 4 MiB runs first (cheap on a big machine), then
 * single pages.  The first page of each run and each single page are
 * linked through pageq_next; a run's first page has ku_pagecnt = its
 * length, which only this file reads.
 */
#define HOLD_RUN 1024

struct held_pages {
	vm_page_t runs, singles;
};

static uint64_t free_pages(void)
{
	struct vm_page_stats st;

	vm_page_stats(&st);
	return st.free + st.cached;
}

/* Runs while more than two runs' worth is free, so that single pages are
 * always left for the list of singles. */
static void take_all_pages(struct held_pages *h)
{
	vm_page_t m;

	h->runs = h->singles = NULL;
	while (free_pages() > 2 * HOLD_RUN &&
	       (m = vm_page_alloc_contig(HOLD_RUN, 0, VM_ALLOC_NOWAIT)) !=
		   NULL) {
		m->pageq_next = h->runs;
		h->runs = m;
	}
	while ((m = vm_page_alloc(VM_ALLOC_NOWAIT)) != NULL) {
		m->pageq_next = h->singles;
		h->singles = m;
	}
}

static void give_back(struct held_pages *h)
{
	vm_page_t m;

	while ((m = h->runs) != NULL) {
		h->runs = m->pageq_next;
		vm_page_free_contig(m, HOLD_RUN);
	}
	while ((m = h->singles) != NULL) {
		h->singles = m->pageq_next;
		vm_page_free(m);
	}
}

/*
 * Reserve KVA so that the next big KVA allocation lands on a 1 GiB
 * boundary past everything in use, where no page table exists yet: take
 * 2 GiB (first fit: the free tail of the region), keep the part below
 * the boundary, give the rest back.  Returns the boundary; *filler and
 * *filler_size say what to free at the end.
 */
static vm_offset_t reserve_up_to_fresh_gib(vm_offset_t *filler,
					   size_t *filler_size)
{
	vm_offset_t va = kva_alloc(2 * GIB), fresh;

	if (va == 0)
		return 0;
	fresh = roundup2(va + GIB, GIB);
	if (fresh < va + 2 * GIB)
		kva_free(fresh, va + 2 * GIB - fresh);
	*filler = va;
	*filler_size = fresh - va;
	return fresh;
}

KTEST(pmap, nowait_fails_cleanly_when_a_page_table_page_is_needed)
{
	size_t kva_before = kva_free_bytes(), filler_size;
	struct pmap_stats st0, st1;
	vm_offset_t filler, fresh, va;
	struct held_pages held;
	vm_page_t m;
	void *p;

	fresh = reserve_up_to_fresh_gib(&filler, &filler_size);
	KT_ASSERT_TRUE(fresh != 0);
	/* All memory but one page: enough for the data page of a large
	 * kmalloc, none left for the page tables its address needs. */
	take_all_pages(&held);
	KT_ASSERT_TRUE(held.singles != NULL);
	m = held.singles;
	held.singles = m->pageq_next;
	vm_page_free(m);
	pmap_get_stats(&st0);
	p = kmalloc(GIB / 2, M_PMAPTEST, M_NOWAIT); /* lands at fresh */
	pmap_get_stats(&st1);
	KT_EXPECT_TRUE(p == NULL);
	KT_EXPECT_EQ(st1.kenters, st0.kenters);
	KT_EXPECT_EQ(st1.pt_pages, st0.pt_pages);
	KT_EXPECT_EQ(malloc_type_count(M_PMAPTEST), 0);
	/* The data page went back, and the KVA too (it is at fresh again). */
	m = vm_page_alloc(VM_ALLOC_NOWAIT);
	KT_ASSERT_TRUE(m != NULL);
	/* Straight to pmap, with no page at all: ENOMEM, nothing mapped. */
	va = kva_alloc(GIB / 2);
	KT_EXPECT_EQ(va, fresh);
	KT_EXPECT_EQ(pmap_kenter_attr(va, m->phys_addr, VM_PROT_READ,
				      PMAP_CACHE_WB, VM_ALLOC_NOWAIT),
		     ENOMEM);
	KT_EXPECT_EQ(pmap_kextract(va), (vm_paddr_t)-1);
	give_back(&held);
	/* And the test was fair: mapping there does need new tables. */
	pmap_kenter(va, m->phys_addr, VM_PROT_READ);
	pmap_get_stats(&st1);
	KT_EXPECT_GT(st1.pt_pages, st0.pt_pages);
	pmap_kremove(va);
	vm_page_free(m);
	kva_free(va, GIB / 2);
	kva_free(filler, filler_size);
	KT_EXPECT_EQ(kva_free_bytes(), kva_before);
}

/* ----------------------------------------------------------------------- */
/* TLB shootdown: what another CPU sees after this one changes a mapping. */

enum probe_op { PROBE_READ, PROBE_WRITE };

/*
 * A thread on another CPU that touches va when asked.  It spins (with
 * interrupts on, so the shootdown IPI reaches it) between requests and
 * touches nothing else of va's, so the TLB entry it made stays cached
 * unless someone invalidates it.
 */
struct tlb_probe {
	vm_offset_t va;
	enum probe_op op;
	volatile int request; /* bumped by the test: touch va once more */
	volatile int done;    /* == request once the touch is over */
	volatile bool quit;
	volatile uint64_t value; /* what the read saw */
	volatile bool faulted;	 /* the touch took a page fault */
};

static void probe_touch(struct tlb_probe *p)
{
	volatile uint64_t *w = (volatile uint64_t *)p->va;
	struct trap_catch tc;

	KT_CATCH_TRAP(&tc, T_PAGE_FAULT,
		      p->op == PROBE_READ ? (void)(p->value = *w)
					  : (void)(*w = 0x5555));
	p->faulted = tc.caught;
}

static void probe_thread(void *arg)
{
	struct tlb_probe *p = arg;
	int seen = 0;

	while (!p->quit) {
		int want = __atomic_load_n(&p->request, __ATOMIC_ACQUIRE);

		if (want == seen) {
			cpu_pause();
			continue;
		}
		probe_touch(p);
		seen = want;
		__atomic_store_n(&p->done, seen, __ATOMIC_RELEASE);
	}
}

/* Ask the probe to touch va with op once, and wait until it has. */
static void probe_ask(struct tlb_probe *p, enum probe_op op)
{
	int want = p->request + 1;

	p->op = op;
	__atomic_store_n(&p->request, want, __ATOMIC_RELEASE);
	while (__atomic_load_n(&p->done, __ATOMIC_ACQUIRE) != want)
		cpu_pause();
}

/* Start the probe on the next CPU; false if there is only this one. */
static bool probe_start(struct tlb_probe *p, vm_offset_t va,
			struct thread **td)
{
	int other = (cpu_current_id() + 1) % ncpus;

	memset(p, 0, sizeof(*p));
	p->va = va;
	return other != cpu_current_id() &&
	       lwkt_create(probe_thread, p, td, 0, other, "tlb-probe") == 0;
}

static void probe_stop(struct tlb_probe *p, struct thread *td)
{
	p->quit = true;
	lwkt_thread_join(td);
}

/* A page holding value in its first word. */
static vm_page_t page_with(uint64_t value)
{
	vm_page_t m = vm_page_alloc(VM_ALLOC_ZERO);

	*(uint64_t *)vm_page_to_dmap(m) = value;
	return m;
}

KTEST(pmap, another_cpu_faults_after_unmap_and_sees_a_remap)
{
	vm_offset_t va;
	vm_page_t a, b;
	struct tlb_probe p;
	struct thread *td;

	if (ncpus < 2)
		KT_SKIP("needs a second CPU (group pmap_smp)");
	va = kva_alloc(PAGE_SIZE);
	a = page_with(0xaaaa);
	b = page_with(0xbbbb);
	KT_ASSERT_TRUE(probe_start(&p, va, &td));
	pmap_kenter(va, a->phys_addr, VM_PROT_READ);
	probe_ask(&p, PROBE_READ); /* the other CPU caches va -> a */
	KT_EXPECT_FALSE(p.faulted);
	KT_EXPECT_EQ(p.value, 0xaaaa);
	pmap_kremove(va);
	probe_ask(&p, PROBE_READ); /* unmapped: it must fault */
	KT_EXPECT_TRUE(p.faulted);
	/* Again, now remapping to b with no touch in between. */
	pmap_kenter(va, a->phys_addr, VM_PROT_READ);
	probe_ask(&p, PROBE_READ);
	KT_EXPECT_EQ(p.value, 0xaaaa);
	pmap_kremove(va);
	pmap_kenter(va, b->phys_addr, VM_PROT_READ);
	probe_ask(&p, PROBE_READ); /* must see b, not the stale a */
	KT_EXPECT_FALSE(p.faulted);
	KT_EXPECT_EQ(p.value, 0xbbbb);
	probe_stop(&p, td);
	pmap_kremove(va);
	vm_page_free(a);
	vm_page_free(b);
	kva_free(va, PAGE_SIZE);
}

KTEST(pmap, another_cpu_cannot_write_once_write_is_taken_away)
{
	vm_offset_t va;
	vm_page_t a;
	struct tlb_probe p;
	struct thread *td;

	if (ncpus < 2)
		KT_SKIP("needs a second CPU (group pmap_smp)");
	va = kva_alloc(PAGE_SIZE);
	a = page_with(0xaaaa);
	KT_ASSERT_TRUE(probe_start(&p, va, &td));
	pmap_kenter(va, a->phys_addr, VM_PROT_READ | VM_PROT_WRITE);
	probe_ask(&p, PROBE_WRITE); /* caches a writable, dirty entry */
	KT_EXPECT_FALSE(p.faulted);
	KT_EXPECT_EQ(*(uint64_t *)vm_page_to_dmap(a), 0x5555);
	*(uint64_t *)vm_page_to_dmap(a) = 0xaaaa;
	/* Protect: the same page again, read-only. */
	pmap_kremove(va);
	pmap_kenter(va, a->phys_addr, VM_PROT_READ);
	probe_ask(&p, PROBE_WRITE); /* must fault, not write */
	KT_EXPECT_TRUE(p.faulted);
	KT_EXPECT_EQ(*(uint64_t *)vm_page_to_dmap(a), 0xaaaa);
	probe_stop(&p, td);
	pmap_kremove(va);
	vm_page_free(a);
	kva_free(va, PAGE_SIZE);
}

KTEST(pmap, kva_allocations_are_disjoint_and_come_back)
{
	size_t before = kva_free_bytes();
	vm_offset_t a = kva_alloc(3 * PAGE_SIZE), b = kva_alloc(PAGE_SIZE);
	vm_offset_t c = kva_alloc(5 * PAGE_SIZE);

	KT_EXPECT_TRUE(a >= KVA_BASE && c + 5 * PAGE_SIZE <= KVA_END);
	KT_EXPECT_TRUE(b >= a + 3 * PAGE_SIZE || b + PAGE_SIZE <= a);
	KT_EXPECT_TRUE(c >= b + PAGE_SIZE || c + 5 * PAGE_SIZE <= b);
	KT_EXPECT_EQ(kva_free_bytes(), before - 9 * PAGE_SIZE);
	kva_free(b, PAGE_SIZE); /* a hole between a and c */
	kva_free(a, 3 * PAGE_SIZE);
	kva_free(c, 5 * PAGE_SIZE);
	KT_EXPECT_EQ(kva_free_bytes(), before);
	KT_EXPECT_EQ(kva_alloc(PAGE_SIZE), a); /* merged back: first fit */
	kva_free(a, PAGE_SIZE);
}

KTEST(pmap, kmem_has_a_guard_page_after_it)
{
	struct trap_catch tc;
	uint8_t *p = kmem_alloc(2 * PAGE_SIZE, VM_ALLOC_ZERO);

	KT_ASSERT_TRUE(p != NULL);
	p[2 * PAGE_SIZE - 1] = 1;
	KT_CATCH_TRAP(&tc, T_PAGE_FAULT, p[2 * PAGE_SIZE] = 1);
	KT_EXPECT_TRUE(tc.caught);
	kmem_free(p, 2 * PAGE_SIZE);
}

/* ----------------------------------------------------------------------- */
/* Kernel stack overflow.                                                  */

/* Switch to the stack whose top is top, call fn there, come back. */
static void call_on_stack(void (*fn)(void), void *top)
{
	__asm__ volatile("movq %%rsp, %%rbx\n\t"
			 "movq %1, %%rsp\n\t"
			 "callq *%0\n\t"
			 "movq %%rbx, %%rsp"
			 :
			 : "r"(fn), "r"(top)
			 : "rbx", "rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9",
			   "r10", "r11", "memory");
}

/* Deep enough for any stack we make, with a frame that cannot be elided. */
static __attribute__((noinline)) int recurse(int depth)
{
	volatile char frame[256];

	frame[0] = (char)depth;
	if (depth > 1000000)
		return frame[0];
	return recurse(depth + 1) + frame[0];
}

static void overflow(void)
{
	recurse(0);
}

static int shallow_ran;
static void shallow(void)
{
	shallow_ran = recurse(999990);
}

KTEST(pmap, kernel_stack_has_an_unmapped_guard_page_below)
{
	char *base = vm_kstack_alloc(KSTACK_DEFAULT_SIZE, "guard-check");
	char name[32];

	KT_ASSERT_TRUE(base != NULL);
	KT_EXPECT_NE(pmap_kextract((vm_offset_t)base), (vm_paddr_t)-1);
	KT_EXPECT_EQ(pmap_kextract((vm_offset_t)base - 1), (vm_paddr_t)-1);
	KT_EXPECT_TRUE(
	    vm_kstack_guard_owner((vm_offset_t)base - 8, name, sizeof(name)));
	KT_EXPECT_STREQ(name, "guard-check");
	call_on_stack(shallow, base + KSTACK_DEFAULT_SIZE);
	KT_EXPECT_NE(shallow_ran, 0); /* a normal call works there */
	vm_kstack_free(base);
}

KTEST(pmap, stack_overflow_panics_naming_the_thread)
{
	char *base = vm_kstack_alloc(KSTACK_DEFAULT_SIZE, "overflow-test");
	struct panic_catch pc;

	KT_ASSERT_TRUE(base != NULL);
	KT_CATCH_PANIC(&pc,
		       call_on_stack(overflow, base + KSTACK_DEFAULT_SIZE));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "kernel stack overflow in thread "
				 "overflow-test");
	KT_EXPECT_SUBSTR(pc.msg, "#DF");
	ktest_diag("panic: %s", pc.msg);
	vm_kstack_free(base);
}
