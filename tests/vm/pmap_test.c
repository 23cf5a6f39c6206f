/*
 * pmap_test.c - the kernel page tables: W^X on the image, the direct map,
 * pmap_kenter/kremove with TLB invalidation, the KVA allocator, and the
 * two faults that must panic with a named cause: a write to kernel text
 * and a kernel stack running into its guard page.
 */
#include <kern/ktest.h>
#include <machine/cpufunc.h>
#include <vm/pmap.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>

extern char _text[], _rodata[], _data[];

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
