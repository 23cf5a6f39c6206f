/*
 * vm_kern.c - the kernel-virtual region: who owns which addresses, the
 * page-backed allocations that live there, and kernel stacks with guard
 * pages.
 *
 * The region [KVA_BASE, KVA_END) is one PML4 slot of 512 GiB.  Its free
 * addresses are a short sorted array of extents; kva_alloc() takes the
 * first extent that fits (first fit), kva_free() puts the range back and
 * merges it with its neighbours:
 *
 *   free:  [base ............ a)   [b ...... c)   [d ........ end)
 *   alloc 3 pages -> carve them from the front of the first extent
 *
 * Addresses are cheap and plentiful here, so fragmentation is not a
 * worry; the extent array's length is the only limit, and running out of
 * slots is reported plainly.  The spinlock "kva" protects the array.
 *
 * On top of it:
 *   kmem_alloc    pages from vm_page, entered with pmap_kenter, read+write
 *                 and no-execute, followed by an unmapped guard page;
 *   kernel stacks one unmapped guard page BELOW the stack (stacks grow
 *                 down), recorded with their owner's name so that the
 *                 double-fault handler can say whose stack overflowed:
 *
 *     lower addresses                                 higher addresses
 *     | guard (unmapped) | stack pages ............ top | next guard ...
 *       ^ a push past the bottom faults here; the #PF cannot be pushed
 *         either, so the CPU raises #DF, which runs on its own IST stack
 *
 *   pmap_mapdev   device registers mapped uncached; the physical ranges
 *                 are remembered for good (merged when they touch), so
 *                 that /dev/mem can keep programs out of the device
 *                 memory the kernel's drivers use (pmap_mapdev_claimed).
 */
#include <kern/types.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/spinlock.h>
#include <vm/pmap.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>

#define KVA_MAX_EXTENTS 256 /* free extents the region can be cut into */
#define KSTACK_MAX	256 /* kernel stacks alive at once */
#define KSTACK_NAME_MAX 32

struct kva_extent {
	vm_offset_t start, end;
};

/* Free extents, sorted by address, never touching.  Locked by kva_lock. */
static struct kva_extent extents[KVA_MAX_EXTENTS];
static int nextents;
static size_t kva_free_total;
static struct spinlock kva_lock = SPINLOCK_INITIALIZER("kva");

/*
 * The stack registry.  A slot is taken under kstack_lock; the fault path
 * reads it without the lock (it must work when everything else is broken;
 * a torn read can at worst print a wrong name).
 */
struct kstack {
	vm_offset_t guard;     /* lowest address: the guard page */
	vm_offset_t base, top; /* the stack: [base, top) */
	char name[KSTACK_NAME_MAX];
};
static struct kstack kstacks[KSTACK_MAX];
static struct spinlock kstack_lock = SPINLOCK_INITIALIZER("kstack");

/* ----------------------------------------------------------------------- */
/* The address allocator.                                                  */

/* The whole region starts as one free extent.  Called by pmap_init(). */
void kva_init(void)
{
	extents[0] = (struct kva_extent){KVA_BASE, KVA_END};
	nextents = 1;
	kva_free_total = KVA_SIZE;
}

/* Remove extents[i] from the array. */
/* Remove extents[i], closing the gap.  kva_lock held. */
static void extent_delete(int i)
{
	memmove(&extents[i], &extents[i + 1],
		(size_t)(nextents - i - 1) * sizeof(extents[0]));
	nextents--;
}

/*
 * First fit: carve size bytes from the front of the first extent big
 * enough.  The addresses are not mapped; the caller maps what it needs
 * and leaves guard pages unmapped.  0 when nothing fits.
 */
vm_offset_t kva_alloc(size_t size)
{
	vm_offset_t va = 0;
	uint64_t rf;

	size = roundup2(size, PAGE_SIZE);
	KASSERT(size > 0, "kva_alloc(0)");
	rf = spin_lock_irqsave(&kva_lock);
	for (int i = 0; i < nextents; i++) {
		if (extents[i].end - extents[i].start < size)
			continue;
		va = extents[i].start;
		extents[i].start += size;
		if (extents[i].start == extents[i].end)
			extent_delete(i);
		kva_free_total -= size;
		break;
	}
	spin_unlock_irqrestore(&kva_lock, rf);
	return va;
}

/* Insert [va, end) at position i, merging with the neighbours. */
/* Four cases: the freed range touches the extent before it, the one
 * after it, both (three become one), or neither (a new extent). */
static void extent_insert(int i, vm_offset_t va, vm_offset_t end)
{
	bool join_left = i > 0 && extents[i - 1].end == va;
	bool join_right = i < nextents && extents[i].start == end;

	if (join_left && join_right) {
		extents[i - 1].end = extents[i].end;
		extent_delete(i);
	} else if (join_left) {
		extents[i - 1].end = end;
	} else if (join_right) {
		extents[i].start = va;
	} else {
		if (nextents == KVA_MAX_EXTENTS)
			panic("kva_free: the kernel-virtual region is cut into "
			      "%d free pieces, the most the table holds; raise "
			      "KVA_MAX_EXTENTS",
			      KVA_MAX_EXTENTS);
		memmove(&extents[i + 1], &extents[i],
			(size_t)(nextents - i) * sizeof(extents[0]));
		extents[i] = (struct kva_extent){va, end};
		nextents++;
	}
}

/*
 * Return a range.  It must not overlap a free extent (asserted: that is a
 * double free of addresses).  The extents stay sorted and merged.
 */
void kva_free(vm_offset_t va, size_t size)
{
	vm_offset_t end;
	uint64_t rf;
	int i = 0;

	size = roundup2(size, PAGE_SIZE);
	end = va + size;
	KASSERT(va >= KVA_BASE && end <= KVA_END && (va & PAGE_MASK) == 0,
		"kva_free(%#lx, %#lx): not a range of the KVA region", va,
		size);
	rf = spin_lock_irqsave(&kva_lock);
	while (i < nextents && extents[i].start < va)
		i++;
	KASSERT((i == 0 || extents[i - 1].end <= va) &&
		    (i == nextents || extents[i].start >= end),
		"kva_free(%#lx, %#lx): part of the range is free already "
		"(a double free)",
		va, size);
	extent_insert(i, va, end);
	kva_free_total += size;
	spin_unlock_irqrestore(&kva_lock, rf);
}

/* A counter, for tests: KVA in use must come back after a free. */
size_t kva_free_bytes(void)
{
	return kva_free_total;
}

/* ----------------------------------------------------------------------- */
/* Page-backed mappings.                                                   */

/* pmap_kremove_range's release: every CPU has dropped the old mapping,
 * so the page may go back. */
static void free_frame(vm_paddr_t pa, void *arg)
{
	vm_page_free(PHYS_TO_VM_PAGE(pa));
}

/* Unmap npages at va and free the pages behind them, with one TLB
 * shootdown for the whole range, done before any page is freed, so no
 * CPU can still reach memory that is being reused. */
static void unmap_and_free(vm_offset_t va, size_t npages)
{
	if (npages > 0)
		pmap_kremove_range(va, npages * PAGE_SIZE, free_frame, NULL);
}

/* Map one fresh page at va; false (nothing mapped, nothing kept) if a
 * page -- for the data or for a page table -- ran out under NOWAIT. */
static bool map_fresh_page(vm_offset_t va, vm_offset_t owner, int flags)
{
	vm_page_t m = vm_page_alloc(flags);

	if (m == NULL)
		return false;
	if (pmap_kenter_attr(va, VM_PAGE_TO_PHYS(m),
			     VM_PROT_READ | VM_PROT_WRITE, PMAP_CACHE_WB,
			     flags & VM_ALLOC_NOWAIT) != 0) {
		vm_page_free(m);
		return false;
	}
	vm_page_flag_set(m, PG_KMEM);
	m->owner = (void *)owner;
	return true;
}

/* Back [va, va + npages pages) with fresh pages; false (nothing left
 * mapped) if memory ran out under VM_ALLOC_NOWAIT. */
static bool map_fresh_pages(vm_offset_t va, size_t npages, int flags)
{
	for (size_t i = 0; i < npages; i++) {
		if (!map_fresh_page(va + i * PAGE_SIZE, va, flags)) {
			unmap_and_free(va, i);
			return false;
		}
	}
	return true;
}

/*
 * Pages need not be contiguous: each gets its own PTE.  The page after
 * the allocation is reserved but never mapped, so running off the end
 * faults at once instead of corrupting the neighbour.
 */
void *kmem_alloc(size_t size, int flags)
{
	size_t npages = roundup2(size, PAGE_SIZE) >> PAGE_SHIFT;
	vm_offset_t va;

	KASSERT(size > 0, "kmem_alloc(0)");
	va = kva_alloc((npages + 1) * PAGE_SIZE); /* + guard */
	if (va == 0) {
		KASSERT(flags & VM_ALLOC_NOWAIT,
			"kmem_alloc: the kernel-"
			"virtual region is full (%lu bytes asked)",
			size);
		return NULL;
	}
	if (!map_fresh_pages(va, npages, flags)) {
		kva_free(va, (npages + 1) * PAGE_SIZE);
		return NULL;
	}
	return (void *)va;
}

/* The same size as given to kmem_alloc; the guard page goes back too. */
void kmem_free(void *p, size_t size)
{
	size_t npages = roundup2(size, PAGE_SIZE) >> PAGE_SHIFT;
	vm_offset_t va = (vm_offset_t)p;

	unmap_and_free(va, npages);
	kva_free(va, (npages + 1) * PAGE_SIZE);
}

/*
 * Device registers must not be cached (SDM vol. 3A, 12.3 "Methods of
 * Caching Available"): PCD|PWT select uncached in the default PAT.  The
 * offset inside the first page is kept.
 */
/* Physical ranges pmap_mapdev has mapped, disjoint and not touching:
 * mapdev_lock.  Never shrunk: a driver's registers stay its own. */
#define MAPDEV_RANGES 64
static struct { vm_paddr_t start, end; } claimed[MAPDEV_RANGES];
static int nclaimed;
static struct spinlock mapdev_lock = SPINLOCK_INITIALIZER("mapdev");

/* Add [start, end) to claimed, swallowing the ranges it touches. */
static void mapdev_claim(vm_paddr_t start, vm_paddr_t end)
{
	spin_lock(&mapdev_lock);
	for (int i = 0; i < nclaimed;) {
		if (claimed[i].start <= end && start <= claimed[i].end) {
			start = MIN(start, claimed[i].start);
			end = MAX(end, claimed[i].end);
			claimed[i] = claimed[--nclaimed];
		} else {
			i++;
		}
	}
	if (nclaimed == MAPDEV_RANGES)
		panic("pmap_mapdev: more than %d separate device ranges "
		      "mapped; raise MAPDEV_RANGES in vm/vm_kern.c",
		      MAPDEV_RANGES);
	claimed[nclaimed].start = start;
	claimed[nclaimed++].end = end;
	spin_unlock(&mapdev_lock);
}

bool pmap_mapdev_claimed(vm_paddr_t start, vm_paddr_t end)
{
	bool hit = false;

	spin_lock(&mapdev_lock);
	for (int i = 0; i < nclaimed && !hit; i++)
		hit = claimed[i].start < end && start < claimed[i].end;
	spin_unlock(&mapdev_lock);
	return hit;
}

void *pmap_mapdev(vm_paddr_t pa, size_t size)
{
	vm_paddr_t first = rounddown2(pa, PAGE_SIZE);
	size_t len = roundup2(pa + size, PAGE_SIZE) - first;
	vm_offset_t va = kva_alloc(len);

	KASSERT(va != 0, "pmap_mapdev: no kernel-virtual space for %lu bytes",
		len);
	for (size_t off = 0; off < len; off += PAGE_SIZE)
		(void)pmap_kenter_attr(va + off, first + off,
				       VM_PROT_READ | VM_PROT_WRITE,
				       PMAP_CACHE_UC, 0);
	mapdev_claim(first, first + len);
	return (void *)(va + (pa - first));
}

/* Undo pmap_mapdev: remove the PTEs (with invalidation), free the KVA. */
void pmap_unmapdev(void *p, size_t size)
{
	vm_offset_t va = rounddown2((vm_offset_t)p, PAGE_SIZE);
	size_t len = roundup2((vm_offset_t)p + size, PAGE_SIZE) - va;

	pmap_kremove_range(va, len, NULL, NULL);
	kva_free(va, len);
}

/* ----------------------------------------------------------------------- */
/* Kernel stacks.                                                          */

/* The registry slot of the stack based at base, or NULL. */
static struct kstack *kstack_find(vm_offset_t base)
{
	for (int i = 0; i < KSTACK_MAX; i++)
		if (kstacks[i].base == base && base != 0)
			return &kstacks[i];
	return NULL;
}

/* Claim a registry slot for [base, base + size); NULL if all are used. */
static struct kstack *kstack_claim(vm_offset_t guard, size_t size,
				   const char *name)
{
	struct kstack *ks = NULL;
	uint64_t rf = spin_lock_irqsave(&kstack_lock);

	for (int i = 0; i < KSTACK_MAX && ks == NULL; i++)
		if (kstacks[i].base == 0)
			ks = &kstacks[i];
	if (ks != NULL) {
		strlcpy(ks->name, name, sizeof(ks->name));
		ks->guard = guard;
		ks->top = guard + PAGE_SIZE + size;
		__atomic_store_n(&ks->base, guard + PAGE_SIZE,
				 __ATOMIC_RELEASE);
	}
	spin_unlock_irqrestore(&kstack_lock, rf);
	return ks;
}

/*
 * A stack: KVA for a guard page plus size bytes, pages for the stack part
 * only, and a registry slot naming the owner.  Every failure unwinds what
 * was done, so nothing leaks when memory or slots run out.
 */
void *vm_kstack_alloc(size_t size, const char *name)
{
	vm_offset_t guard;

	KASSERT(size > 0 && (size & PAGE_MASK) == 0,
		"vm_kstack_alloc: size "
		"%#lx must be a positive multiple of PAGE_SIZE",
		size);
	guard = kva_alloc(PAGE_SIZE + size);
	if (guard == 0)
		return NULL;
	if (!map_fresh_pages(guard + PAGE_SIZE, size >> PAGE_SHIFT,
			     VM_ALLOC_NOWAIT)) {
		kva_free(guard, PAGE_SIZE + size);
		return NULL;
	}
	if (kstack_claim(guard, size, name) == NULL) {
		unmap_and_free(guard + PAGE_SIZE, size >> PAGE_SHIFT);
		kva_free(guard, PAGE_SIZE + size);
		return NULL;
	}
	return (void *)(guard + PAGE_SIZE);
}

/* The slot is released first, so the fault path never names a stack that
 * is being torn down; then the pages and the addresses go back. */
void vm_kstack_free(void *base)
{
	struct kstack *ks = kstack_find((vm_offset_t)base);
	vm_offset_t guard, top;

	if (ks == NULL)
		panic("vm_kstack_free(%p): not a stack from vm_kstack_alloc, "
		      "or freed twice",
		      base);
	guard = ks->guard;
	top = ks->top;
	__atomic_store_n(&ks->base, 0, __ATOMIC_RELEASE);
	unmap_and_free(guard + PAGE_SIZE, (top - guard) / PAGE_SIZE - 1);
	kva_free(guard, top - guard);
}

void vm_kstack_set_name(void *base, const char *name)
{
	struct kstack *ks = kstack_find((vm_offset_t)base);

	KASSERT(ks != NULL, "vm_kstack_set_name(%p): not a kernel stack", base);
	strlcpy(ks->name, name, sizeof(ks->name));
}

/* Lock-free on purpose: the double-fault handler calls this with the
 * machine in an unknown state, and must never wait for a lock. */
bool vm_kstack_guard_owner(vm_offset_t va, char *name, size_t size)
{
	for (int i = 0; i < KSTACK_MAX; i++) {
		const struct kstack *ks = &kstacks[i];

		if (ks->base != 0 && va >= ks->guard && va < ks->base) {
			strlcpy(name, ks->name, size);
			return true;
		}
	}
	return false;
}
