/*
 * pmap_user_test.c - TLB shootdown of user address spaces across CPUs
 * (vm/pmap_user.c, docs/vm.md section 5), in suite `user` (group `user`,
 * which boots at 1 and 2 CPUs; these tests need two).
 *
 * A helper thread on CPU 1 loads a test address space in its CR3 (so the
 * pmap's pm_active names CPU 1) and reads its pages through their user
 * addresses, which puts them in CPU 1's TLB.  CPU 0 then unmaps, write-
 * protects or forks the range.  Each change must cost exactly one
 * shootdown however many pages it covers, and after an unmap CPU 1 must
 * not read the old page through a stale TLB entry: the test maps a new
 * page with other bytes at the same address (entering a page where none
 * was invalidates nothing) and CPU 1 must see the new bytes.
 */
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/thread.h>
#include <machine/cpufunc.h>
#include <vm/pmap_user.h>
#include <vm/vm_map.h>

#define TEST_VA		0x40000000UL
#define TEST_PAGES	16
#define TEST_LEN	(TEST_PAGES * PAGE_SIZE)

/* What the helper on CPU 1 and the test share. */
struct probe {
	struct vmspace *vm;
	volatile int step;	/* test: 1 read, 2 read again, 3 leave */
	bool read_again;	/* step 2 reads (else the pages may be gone) */
	volatile int done;	/* helper: the last step it finished */
	volatile uint8_t seen[TEST_PAGES]; /* first byte of each page */
};

/* Read the first byte of every page through the user addresses: SMAP
 * would refuse a plain kernel read, so the window is opened for it. */
static void probe_read(struct probe *pr)
{
	__asm__ volatile("stac" ::: "memory", "cc");
	for (int i = 0; i < TEST_PAGES; i++)
		pr->seen[i] = *(volatile uint8_t *)(TEST_VA + i * PAGE_SIZE);
	__asm__ volatile("clac" ::: "memory", "cc");
}

/* The helper: load the address space, read when told, unload.  It spins
 * with interrupts on and outside a critical section, so the shootdown's
 * IPI is served at once. */
static void probe_thread(void *arg)
{
	struct probe *pr = arg;

	crit_enter();
	pmap_activate(&pr->vm->vm_pmap);
	crit_exit();
	for (int step = 1; step <= 2; step++) {
		while (pr->step < step)
			cpu_pause();
		if (step == 1 || pr->read_again)
			probe_read(pr);
		pr->done = step;
	}
	while (pr->step < 3)
		cpu_pause();
	crit_enter();
	pmap_activate(NULL);
	crit_exit();
	pr->done = 3;
}

/* Map TEST_LEN of anonymous memory filled with byte c and fault it in. */
static void map_filled(struct vmspace *vm, uint8_t c)
{
	static uint8_t page[PAGE_SIZE];

	memset(page, c, sizeof(page));
	KT_ASSERT_EQ(vm_map_insert(&vm->vm_map, NULL, 0, TEST_VA, TEST_LEN,
				   VM_PROT_READ | VM_PROT_WRITE, VM_PROT_ALL,
				   VM_INHERIT_COPY, 0), 0);
	for (int i = 0; i < TEST_PAGES; i++) {
		KT_ASSERT_EQ(vm_map_fill(&vm->vm_map, TEST_VA + i * PAGE_SIZE,
					 page, PAGE_SIZE), 0);
		KT_ASSERT_EQ(vm_fault(&vm->vm_map, TEST_VA + i * PAGE_SIZE,
				      VM_PROT_READ), KERN_SUCCESS);
	}
}

static uint64_t shootdowns(void)
{
	struct pmap_user_stats st;

	pmap_user_get_stats(&st);
	return st.shootdowns;
}

/* Tell the helper to run step, and wait until it has. */
static void probe_step(struct probe *pr, int step)
{
	pr->step = step;
	while (pr->done < step)
		lwkt_yield();
}

static void need_two_cpus(void)
{
	if (ncpus < 2)
		KT_SKIP("needs a second CPU (group user at 2 CPUs)");
}

KTEST(user, an_unmap_shoots_down_the_other_cpu_once_and_it_sees_the_new_page)
{
	struct probe *pr;
	struct vmspace *keep;
	struct thread *td;
	uint64_t before;

	need_two_cpus();
	pr = kmalloc(sizeof(*pr), M_TEMP, M_WAITOK | M_ZERO);
	pr->vm = vmspace_alloc();
	map_filled(pr->vm, 'A');
	/* A fork keeps the 'A' frames alive after the unmap, so the new
	 * pages cannot reuse them: a stale entry would still read 'A'. */
	keep = vmspace_fork(pr->vm);
	pr->read_again = true;
	KT_ASSERT_EQ(lwkt_create(probe_thread, pr, &td, 0, 1, "tlbprobe"), 0);
	probe_step(pr, 1);
	KT_EXPECT_EQ(pr->seen[0], 'A');
	KT_EXPECT_EQ(pr->seen[TEST_PAGES - 1], 'A');
	before = shootdowns();
	KT_EXPECT_EQ(vm_map_remove(&pr->vm->vm_map, TEST_VA,
				   TEST_VA + TEST_LEN), 0);
	KT_EXPECT_EQ(shootdowns() - before, 1);	/* 16 pages, one IPI */
	map_filled(pr->vm, 'B');		/* new pages, same addresses */
	probe_step(pr, 2);
	for (int i = 0; i < TEST_PAGES; i++)
		KT_EXPECT_EQ(pr->seen[i], 'B');	/* no stale 'A' */
	probe_step(pr, 3);
	lwkt_thread_join(td);
	vmspace_free(keep);
	vmspace_free(pr->vm);
	kfree(pr, M_TEMP);
}

KTEST(user, mprotect_and_fork_shoot_down_the_other_cpu_once_per_range)
{
	struct probe *pr;
	struct vmspace *child;
	struct thread *td;
	uint64_t before;

	need_two_cpus();
	pr = kmalloc(sizeof(*pr), M_TEMP, M_WAITOK | M_ZERO);
	pr->vm = vmspace_alloc();
	map_filled(pr->vm, 'C');
	/* Write access in the pmap first, so fork has rights to take. */
	for (int i = 0; i < TEST_PAGES; i++)
		KT_ASSERT_EQ(vm_fault(&pr->vm->vm_map, TEST_VA + i * PAGE_SIZE,
				      VM_PROT_WRITE), KERN_SUCCESS);
	KT_ASSERT_EQ(lwkt_create(probe_thread, pr, &td, 0, 1, "tlbprobe"), 0);
	probe_step(pr, 1);
	before = shootdowns();
	child = vmspace_fork(pr->vm);		/* write-protects the parent */
	KT_EXPECT_EQ(shootdowns() - before, 1);
	before = shootdowns();
	KT_EXPECT_EQ(vm_map_protect(&pr->vm->vm_map, TEST_VA,
				    TEST_VA + TEST_LEN, VM_PROT_NONE), 0);
	KT_EXPECT_EQ(shootdowns() - before, 1);	/* no reads after this */
	probe_step(pr, 2);
	probe_step(pr, 3);
	lwkt_thread_join(td);
	/* Loaded nowhere else now: a change is local, no shootdown. */
	before = shootdowns();
	KT_EXPECT_EQ(vm_map_remove(&pr->vm->vm_map, TEST_VA,
				   TEST_VA + TEST_LEN), 0);
	KT_EXPECT_EQ(shootdowns() - before, 0);
	vmspace_free(child);
	vmspace_free(pr->vm);
	kfree(pr, M_TEMP);
}
