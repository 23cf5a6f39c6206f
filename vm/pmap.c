/*
 * pmap.c - the kernel's page tables: a direct map of physical memory, the
 * kernel image with W^X permissions, and the kernel-virtual region.
 *
 * x86-64 translates a 48-bit virtual address with a four-level walk
 * (Intel SDM vol. 3A, 4.5 "4-Level Paging"):
 *
 *     63     48 47    39 38    30 29    21 20    12 11       0
 *    | sign    | PML4   | PDPT   | PD     | PT     | offset   |
 *                 |        |        |        `-> 4 KiB page
 *                 |        |        `-> PDE with PS=1: 2 MiB page
 *                 |        `-> PDPTE with PS=1: 1 GiB page (CPUID Page1GB)
 *                 `-> CR3 points at the PML4
 *
 * The boot tables (boot/entry.S) map everything read+write+execute with
 * 2 MiB pages.  pmap_init() builds the real ones once and switches CR3:
 *
 *   PML4[256..]  direct map: phys 0 .. max(4 GiB, top of RAM), RW, NX,
 *                as 1 GiB / 2 MiB pages where both addresses are aligned;
 *                the stretch that aliases kernel text and rodata is RO
 *   PML4[384]    KVA region: an empty PDPT made now, so the PML4 entry
 *                never changes; lower levels appear on pmap_kenter()
 *   PML4[511]    the image at KERNBASE, in 4 KiB pages so each section
 *                gets its own rights:  text R+X, rodata R, data/bss R+W
 *
 * No page is both writable and executable (W^X).  CR0.WP makes the
 * kernel obey read-only entries too (SDM vol. 3A, 2.5 "Control
 * Registers"); EFER.NXE was set by entry.S when the CPU has NX, and only
 * then may bit 63 be set (else it is a reserved bit).  Kernel entries are
 * global (CR4.PGE), so they survive CR3 reloads.
 *
 * Locking: the lock "pmap" serialises changes to the KVA part of the
 * tables (page-table page creation and PTE writes).  The direct map and
 * image mappings are written once at boot and never change.
 *
 * TLBs: a present entry that is removed or reduced must be invalidated
 * on every CPU that may cache it (SDM vol. 3A, 4.10.4).  All such changes
 * call pmap_invalidate_range(), the one place that does the SMP
 * shootdown; pmap_kremove_range() removes a whole range with one.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/spinlock.h>
#include <kern/trap.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <machine/cpufunc.h>
#include <machine/frame.h>
#include <vm/pmap.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>

#define NPTEPG	   512 /* entries per table */
#define PML4_SHIFT 39
#define PDPT_SHIFT 30
#define PD_SHIFT   21
#define PT_SHIFT   12
#define NBPDP	   (1UL << PDPT_SHIFT) /* bytes under a PDPTE: 1 GiB */
#define NBPDR	   (1UL << PD_SHIFT)   /* bytes under a PDE: 2 MiB */

#define CR0_WP		  (1UL << 16) /* write protect, SDM 3A 2.5 */
#define CR4_PGE		  (1UL << 7)  /* global pages */
#define MSR_EFER	  0xc0000080
#define EFER_NXE	  (1UL << 11)
#define CPUID_EXT_PAGE1GB (1U << 26) /* leaf 0x80000001 EDX */

/* Invalidate page by page up to this many pages, else flush everything. */
#define INVLPG_MAX_PAGES 32

static pt_entry_t *kernel_pml4; /* via the direct map */
static uint64_t kernel_cr3;
static bool pmap_ready;
static bool have_nx, have_1g;
static struct spinlock pmap_lock = SPINLOCK_INITIALIZER("pmap");
static struct pmap_stats stats; /* kenters/kremoves under pmap_lock */

/* Section bounds from linker.ld. */
extern char _kernel_phys_start[], _text[], _etext[], _rodata[], _data[], _end[];

/* ----------------------------------------------------------------------- */
/* Single instructions this file needs (SDM vol. 2).                        */

/* MOV to CR3: switch page tables; flushes non-global TLB entries
 * (SDM vol. 3A, 4.10.4.1). */
static inline void load_cr3(uint64_t v)
{
	__asm__ volatile("movq %0, %%cr3" : : "r"(v) : "memory");
}

/* MOV to CR0 / CR4: set WP, toggle PGE (SDM vol. 3A, 2.5). */
static inline void load_cr0(uint64_t v)
{
	__asm__ volatile("movq %0, %%cr0" : : "r"(v) : "memory");
}

static inline void load_cr4(uint64_t v)
{
	__asm__ volatile("movq %0, %%cr4" : : "r"(v) : "memory");
}

/* INVLPG: drop the TLB entries for one page, global ones included. */
static inline void invlpg(vm_offset_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* ----------------------------------------------------------------------- */
/* Walking and building tables.                                            */

/* The index of va in the table whose entries each map 1 << shift bytes. */
static inline int pindex(vm_offset_t va, int shift)
{
	return (int)((va >> shift) & (NPTEPG - 1));
}

/* The table an entry points to, through the direct map. */
static inline pt_entry_t *table_of(pt_entry_t e)
{
	return PHYS_TO_DMAP(e & PG_FRAME);
}

/*
 * A fresh, zeroed page-table page (counted as such), or NULL if memory
 * is gone and flags has VM_ALLOC_NOWAIT (without it, vm_page_alloc
 * panics).  Until pmap_init has switched to its own tables the page must
 * lie in the boot direct map (the first 4 GiB) to be written at all;
 * the boot CPU's domain may lie entirely above that.
 */
static pt_entry_t *pt_page_alloc(vm_paddr_t *pa, int flags)
{
	vm_page_t m = pmap_ready
			  ? vm_page_alloc(VM_ALLOC_ZERO | flags)
			  : vm_page_alloc_below(BOOT_DMAP_SIZE,
						VM_ALLOC_ZERO | flags);

	if (m == NULL)
		return NULL;
	vm_page_flag_set(m, PG_PAGETABLE);
	stats.pt_pages++;
	*pa = VM_PAGE_TO_PHYS(m);
	return vm_page_to_dmap(m);
}

/*
 * The entry for va in the table one level below *e (shift says which
 * level), creating that table if *e is empty; NULL if that needed a page
 * and none was left (VM_ALLOC_NOWAIT in flags).  Intermediate entries
 * are fully permissive (RW, executable); the leaf decides the rights,
 * since the CPU ANDs the levels (SDM vol. 3A, 4.6).
 */
static pt_entry_t *next_level(pt_entry_t *e, vm_offset_t va, int shift,
			      int flags)
{
	if (!(*e & PG_V)) {
		vm_paddr_t pa;

		if (pt_page_alloc(&pa, flags) == NULL)
			return NULL;
		*e = pa | PG_V | PG_RW;
	}
	KASSERT(!(*e & PG_PS), "va %#lx: walking into a large page", va);
	return &table_of(*e)[pindex(va, shift)];
}

/* The entry that maps va with a page of size 4K, 2M or 1G, creating the
 * tables above it; NULL if a table page was needed and flags has
 * VM_ALLOC_NOWAIT and memory is gone.  Tables made before the failure
 * stay: the kernel's tables only grow, and the next try uses them. */
static pt_entry_t *pte_create(vm_offset_t va, size_t pagesize, int flags)
{
	pt_entry_t *e = &kernel_pml4[pindex(va, PML4_SHIFT)];

	e = next_level(e, va, PDPT_SHIFT, flags);
	if (e == NULL || pagesize == NBPDP)
		return e;
	e = next_level(e, va, PD_SHIFT, flags);
	if (e == NULL || pagesize == NBPDR)
		return e;
	return next_level(e, va, PT_SHIFT, flags);
}

/*
 * Walk the kernel tables for va without creating anything: PML4 -> PDPT
 * -> PD -> PT, stopping early at a large page (PS set).  Returns the leaf
 * entry (0 if not present) and the size of the page it maps.  Lock-free:
 * used by fault reporting and tests.
 */
pt_entry_t pmap_kernel_pte(vm_offset_t va, size_t *pagesize)
{
	static const int shifts[] = {PDPT_SHIFT, PD_SHIFT, PT_SHIFT};
	pt_entry_t e = kernel_pml4[pindex(va, PML4_SHIFT)];

	for (int level = 0; level < 3; level++) {
		if (!(e & PG_V))
			return 0;
		e = table_of(e)[pindex(va, shifts[level])];
		*pagesize = 1UL << shifts[level];
		if ((e & PG_PS) && level < 2)
			return e & PG_V ? e : 0;
	}
	return e & PG_V ? e : 0;
}

/* Translate a kernel virtual address the way the MMU would. */
vm_paddr_t pmap_kextract(vm_offset_t va)
{
	size_t size = PAGE_SIZE;
	pt_entry_t e;

	if (!pmap_ready)
		return (vm_paddr_t)-1;
	e = pmap_kernel_pte(va, &size);
	if (e == 0)
		return (vm_paddr_t)-1;
	/* A large page's frame field has PAT in bit 12: mask by its size. */
	return (e & PG_FRAME & ~(size - 1)) | (va & (size - 1));
}

/* PTE bits for prot on a kernel page. */
/*
 * Leaf bits for a kernel mapping: present, global, writable only with
 * VM_PROT_WRITE, no-execute unless VM_PROT_EXECUTE -- and NX only if the
 * CPU has it, since bit 63 is reserved otherwise (SDM vol. 3A, 4.5).
 */
static pt_entry_t prot_bits(int prot)
{
	pt_entry_t bits = PG_V | PG_G;

	if (prot & VM_PROT_WRITE)
		bits |= PG_RW;
	if (!(prot & VM_PROT_EXECUTE) && have_nx)
		bits |= PG_NX;
	return bits;
}

/* The largest page that fits at (va, pa) with len bytes left. */
/* Large pages need va and pa both aligned to the page size, and at
 * least that much left to map; 1 GiB pages also need CPUID Page1GB. */
static size_t best_page(vm_offset_t va, vm_paddr_t pa, size_t len)
{
	if (have_1g && ((va | pa) & (NBPDP - 1)) == 0 && len >= NBPDP)
		return NBPDP;
	if (((va | pa) & (NBPDR - 1)) == 0 && len >= NBPDR)
		return NBPDR;
	return PAGE_SIZE;
}

/* Map [va, va+len) to [pa, pa+len) at boot, large pages where possible. */
static void map_range(vm_offset_t va, vm_paddr_t pa, size_t len, int prot)
{
	KASSERT(((va | pa | len) & PAGE_MASK) == 0,
		"map_range(%#lx, %#lx, %#lx): not page aligned", va, pa, len);
	while (len > 0) {
		size_t size = best_page(va, pa, len);
		pt_entry_t *e = pte_create(va, size, 0);

		*e = pa | prot_bits(prot) | (size > PAGE_SIZE ? PG_PS : 0);
		va += size;
		pa += size;
		len -= size;
		stats.dmap_page_size = MAX(stats.dmap_page_size, size);
	}
}

/* ----------------------------------------------------------------------- */
/* Boot: build the tables, switch to them.                                 */

/* How far the direct map must reach: all RAM, and at least 4 GiB so that
 * firmware tables and device registers below 4 GiB stay reachable. */
static vm_paddr_t top_of_ram(void)
{
	vm_paddr_t top = DMAP_MIN_SIZE;

	for (int i = 0; i < boot_mmap_count(&boot_info); i++) {
		struct boot_mmap_entry e = boot_mmap_get(&boot_info, i);

		if (e.type == MB2_MMAP_AVAILABLE)
			top = MAX(top, e.base + e.length);
	}
	top = roundup2(top, NBPDR);
	KASSERT(top <= DMAP_MAX_SIZE,
		"RAM reaches %#lx, beyond the direct "
		"map's %#lx",
		top, DMAP_MAX_SIZE);
	return top;
}

/* The direct map, read-only where it aliases kernel text and rodata. */
static void map_dmap(void)
{
	vm_paddr_t text = KVA_TO_PHYS(_text), data = KVA_TO_PHYS(_data);
	vm_paddr_t top = top_of_ram();
	int rw = VM_PROT_READ | VM_PROT_WRITE;

	map_range(DMAP_BASE, 0, text, rw);
	map_range((vm_offset_t)PHYS_TO_DMAP(text), text, data - text,
		  VM_PROT_READ);
	map_range((vm_offset_t)PHYS_TO_DMAP(data), data, top - data, rw);
	stats.dmap_bytes = top;
}

/* The image at KERNBASE: one permission per section (linker.ld). */
static void map_image(void)
{
	vm_offset_t boot = KERNBASE + (vm_offset_t)_kernel_phys_start;
	vm_offset_t end = roundup2((vm_offset_t)_end, PAGE_SIZE);

	map_range(boot, KVA_TO_PHYS(boot), (vm_offset_t)_text - boot,
		  VM_PROT_READ);
	map_range((vm_offset_t)_text, KVA_TO_PHYS(_text),
		  roundup2((vm_offset_t)_etext, PAGE_SIZE) - (vm_offset_t)_text,
		  VM_PROT_READ | VM_PROT_EXECUTE);
	map_range((vm_offset_t)_rodata, KVA_TO_PHYS(_rodata),
		  (vm_offset_t)_data - (vm_offset_t)_rodata, VM_PROT_READ);
	map_range((vm_offset_t)_data, KVA_TO_PHYS(_data),
		  end - (vm_offset_t)_data, VM_PROT_READ | VM_PROT_WRITE);
}

/* NX: EFER.NXE as entry.S left it.  1 GiB pages: CPUID 80000001H EDX[26]. */
static void detect_features(void)
{
	uint32_t r[4];

	have_nx = (rdmsr(MSR_EFER) & EFER_NXE) != 0;
	cpuid_count(0x80000001, 0, r);
	have_1g = (r[3] & CPUID_EXT_PAGE1GB) != 0;
}

/*
 * Build the kernel page tables, then switch: load CR3 (the image, stack
 * and direct map are all mapped in the new tables, so execution simply
 * continues), turn on global pages, then make the kernel honour read-only
 * pages with CR0.WP.  The identity map of the boot tables is gone after
 * this: a stray low pointer now faults.
 */
void pmap_init(void)
{
	vm_paddr_t pml4_pa = 0, kva_pdpt_pa = 0;

	KASSERT(!pmap_ready, "pmap_init called twice");
	detect_features();
	kernel_pml4 = pt_page_alloc(&pml4_pa, 0);
	KASSERT(pml4_pa < BOOT_DMAP_SIZE,
		"the kernel PML4 at %#lx must lie "
		"below 4 GiB so 32-bit AP startup code can load it",
		pml4_pa);
	map_dmap();
	map_image();
	pt_page_alloc(&kva_pdpt_pa, 0);
	kernel_pml4[pindex(KVA_BASE, PML4_SHIFT)] = kva_pdpt_pa | PG_V | PG_RW;
	kernel_cr3 = pml4_pa;
	load_cr3(kernel_cr3);
	load_cr4(rcr4() | CR4_PGE);
	load_cr0(rcr0() | CR0_WP);
	pmap_ready = true;
	kva_init();
	kprintf("pmap: direct map %lu MiB in %lu KiB pages, NX %s, W^X image "
		"(text %lu KiB RX), %lu page-table pages\n",
		stats.dmap_bytes >> 20, stats.dmap_page_size >> 10,
		have_nx ? "on" : "unavailable",
		((vm_offset_t)_etext - (vm_offset_t)_text) >> 10,
		stats.pt_pages);
}

uint64_t pmap_kernel_cr3(void)
{
	return kernel_cr3;
}

bool pmap_initialized(void)
{
	return pmap_ready;
}

/* ----------------------------------------------------------------------- */
/* The KVA region.                                                         */

/* pmap_kenter/kremove only touch the KVA region: the direct map and the
 * image are fixed at boot. */
static void check_kva(vm_offset_t va, const char *who)
{
	KASSERT(va >= KVA_BASE && va < KVA_END && (va & PAGE_MASK) == 0,
		"%s: va %#lx is not a page of the kernel-virtual region "
		"[%#lx, %#lx)",
		who, va, KVA_BASE, KVA_END);
}

/*
 * W^X: no kernel page is ever writable and executable at once, or a
 * stray write could plant code that then runs.  A caller that asks for
 * both has a bug; refuse before anything changes.
 */
static void check_wx(vm_offset_t va, int prot)
{
	const int wx = VM_PROT_WRITE | VM_PROT_EXECUTE;

	if ((prot & wx) == wx)
		panic("pmap_kenter: W^X violation: va %#lx asked to be "
		      "writable and executable at once; no kernel page may "
		      "be both -- map it writable to fill it, remove it, then "
		      "map it read+execute",
		      va);
}

/*
 * Enter one 4 KiB mapping in the KVA region, creating page-table pages on
 * the way (they are never freed: the region's tables only grow).  A va
 * that is already mapped is a bug in the caller's bookkeeping: panic.
 * So is a writable+executable prot (W^X).  Returns 0, or ENOMEM when a
 * table page was needed, memory is gone and flags has VM_ALLOC_NOWAIT.
 */
int pmap_kenter_attr(vm_offset_t va, vm_paddr_t pa, int prot, int cache,
		     int flags)
{
	pt_entry_t *e;
	uint64_t rf;

	check_kva(va, "pmap_kenter");
	check_wx(va, prot);
	KASSERT((pa & PAGE_MASK) == 0, "pmap_kenter: pa %#lx unaligned", pa);
	KASSERT((flags & ~VM_ALLOC_NOWAIT) == 0,
		"pmap_kenter: flags %#x; only VM_ALLOC_NOWAIT means anything "
		"here", flags);
	rf = spin_lock_irqsave(&pmap_lock);
	e = pte_create(va, PAGE_SIZE, flags);
	if (e == NULL) {
		spin_unlock_irqrestore(&pmap_lock, rf);
		return ENOMEM;
	}
	KASSERT(!(*e & PG_V),
		"pmap_kenter: va %#lx is already mapped (to "
		"%#lx); remove the old mapping first",
		va, *e & PG_FRAME);
	*e = pa | prot_bits(prot) |
	     (cache == PMAP_CACHE_UC ? PG_NC_PCD | PG_NC_PWT : 0);
	stats.kenters++;
	spin_unlock_irqrestore(&pmap_lock, rf);
	/* Not present -> present needs no invalidation (SDM 4.10.4.3). */
	return 0;
}

void pmap_kenter(vm_offset_t va, vm_paddr_t pa, int prot)
{
	(void)pmap_kenter_attr(va, pa, prot, PMAP_CACHE_WB, 0);
}

/* The leaf entry of a KVA page whose tables exist, or NULL.  Creates
 * nothing.  The tables are never freed, so no lock is needed to walk
 * them; the entry itself belongs to whoever owns the va. */
static pt_entry_t *kva_pte_find(vm_offset_t va)
{
	static const int shifts[] = {PDPT_SHIFT, PD_SHIFT, PT_SHIFT};
	pt_entry_t *e = &kernel_pml4[pindex(va, PML4_SHIFT)];

	for (int level = 0; level < 3; level++) {
		if (!(*e & PG_V) || (*e & PG_PS))
			return NULL;
		e = &table_of(*e)[pindex(va, shifts[level])];
	}
	return e;
}

/* Phase 1 of a removal: clear the present bit of every page of the
 * range, keeping the frame number in the (now ignored) entry. */
static void kremove_unpresent(vm_offset_t va, size_t npages)
{
	uint64_t rf = spin_lock_irqsave(&pmap_lock);

	for (size_t i = 0; i < npages; i++) {
		pt_entry_t *e = kva_pte_find(va + i * PAGE_SIZE);

		KASSERT(e != NULL && (*e & PG_V),
			"pmap_kremove: va %#lx is not mapped; it was removed "
			"twice, or never entered",
			va + i * PAGE_SIZE);
		*e &= ~PG_V;
		stats.kremoves++;
	}
	spin_unlock_irqrestore(&pmap_lock, rf);
}

/*
 * Remove the mappings of [va, va + size) (each page must be mapped) with
 * one invalidation for the whole range, however long it is:
 *
 *   1. clear the present bit of each entry, keeping its frame number
 *      (the CPU ignores every other bit of a not-present entry, SDM
 *      vol. 3A, 4.5);
 *   2. pmap_invalidate_range: one shootdown, after which no CPU can
 *      reach the old pages through the range;
 *   3. read each frame back from its entry, zero the entry, and hand the
 *      frame to release (if not NULL), which may now free the page.
 *
 * The caller owns the range, so nobody else touches these entries
 * between the steps.  Thread context, no spinlocks held (it waits for
 * the other CPUs).
 */
void pmap_kremove_range(vm_offset_t va, size_t size,
			void (*release)(vm_paddr_t pa, void *arg), void *arg)
{
	size_t npages = roundup2(size, PAGE_SIZE) >> PAGE_SHIFT;

	check_kva(va, "pmap_kremove");
	KASSERT(npages > 0 && va + npages * PAGE_SIZE <= KVA_END,
		"pmap_kremove_range(%#lx, %#lx): not inside the KVA region",
		va, size);
	kremove_unpresent(va, npages);
	pmap_invalidate_range(va, npages * PAGE_SIZE);
	for (size_t i = 0; i < npages; i++) {
		pt_entry_t *e = kva_pte_find(va + i * PAGE_SIZE);
		vm_paddr_t pa = *e & PG_FRAME;

		*e = 0;
		if (release != NULL)
			release(pa, arg);
	}
}

/* pmap_kremove's release: remember the one frame. */
static void note_frame(vm_paddr_t pa, void *arg)
{
	*(vm_paddr_t *)arg = pa;
}

/* One page: the range of one.  Returns the frame it mapped. */
vm_paddr_t pmap_kremove(vm_offset_t va)
{
	vm_paddr_t pa = 0;

	pmap_kremove_range(va, PAGE_SIZE, note_frame, &pa);
	return pa;
}

/* A range of kernel addresses whose TLB entries must go. */
struct tlb_range {
	vm_offset_t va;
	size_t npages;
};

/*
 * Drop this CPU's TLB entries for the range: page by page with INVLPG for
 * small ranges; for big ones a CR4.PGE toggle flushes everything at once
 * (global entries too, SDM vol. 3A 4.10.4.1), cheaper than hundreds of
 * INVLPGs.
 */
static void invalidate_local(void *arg)
{
	const struct tlb_range *r = arg;

	if (r->npages > INVLPG_MAX_PAGES) {
		uint64_t cr4 = rcr4();

		load_cr4(cr4 & ~CR4_PGE);
		load_cr4(cr4);
	} else {
		for (size_t i = 0; i < r->npages; i++)
			invlpg(r->va + i * PAGE_SIZE);
	}
}

/*
 * The single place that invalidates kernel TLB entries, on every CPU.
 * Another CPU may hold a stale entry for the range (it touched the old
 * mapping), and after the caller frees the page and the address is mapped
 * again, that CPU would read the old page through it.  So the range goes
 * to every other running CPU by lwkt_cpusync, which returns once all have
 * dropped it: the "TLB shootdown".  Thread context (it waits for the other
 * CPUs); not from an IPI callback; no spinlocks held.
 */
void pmap_invalidate_range(vm_offset_t va, size_t size)
{
	struct tlb_range r = { va, (size + PAGE_SIZE - 1) >> PAGE_SHIFT };
	uint64_t others = smp_active_mask & ~mycpu->gd_cpumask;

	__atomic_fetch_add(&stats.invalidations, 1, __ATOMIC_RELAXED);
	if (others == 0) {
		invalidate_local(&r);
		return;
	}
	/* Counted per call, not per CPU or page: the number to keep low. */
	__atomic_fetch_add(&stats.shootdowns, 1, __ATOMIC_RELAXED);
	lwkt_cpusync(smp_active_mask, invalidate_local, &r);
}

void pmap_get_stats(struct pmap_stats *st)
{
	*st = stats;
}

/* ----------------------------------------------------------------------- */
/* Explaining faults.                                                      */

/* Which section of the image va falls in, by the linker's symbols. */
const char *pmap_image_part(vm_offset_t va)
{
	if (va >= (vm_offset_t)_text && va < (vm_offset_t)_etext)
		return "text";
	if (va >= (vm_offset_t)_rodata && va < (vm_offset_t)_data)
		return "rodata";
	if (va >= (vm_offset_t)_data && va < (vm_offset_t)_end)
		return "data";
	return NULL;
}

/* The image part of va, seen through the image or the direct map. */
static const char *image_part_any(vm_offset_t va)
{
	if (va >= DMAP_BASE && va < DMAP_BASE + stats.dmap_bytes)
		return pmap_image_part(KERNBASE + DMAP_TO_PHYS(va));
	return pmap_image_part(va);
}

#define PGEX_P 0x01 /* SDM vol. 3A, Figure 4-12: protection fault */
#define PGEX_W 0x02 /* a write */
#define PGEX_I 0x10 /* an instruction fetch */

/*
 * A kernel stack overflow: the fault address (CR2), or the slot just
 * below the saved stack pointer, lies in a registered stack's guard page.
 * On #DF, CR2 still holds the address of the page fault that could not
 * be delivered.
 */
static bool stack_overflow_cause(const struct trapframe *tf, uint64_t cr2,
				 char *buf, size_t size)
{
	char name[32];
	vm_offset_t where = cr2;

	if (!vm_kstack_guard_owner(where, name, sizeof(name))) {
		where = tf->tf_rsp - 8; /* the push that could not happen */
		if (!vm_kstack_guard_owner(where, name, sizeof(name)))
			return false;
	}
	ksnprintf(buf, size,
		  "kernel stack overflow in thread %s: rsp %#lx "
		  "ran into the guard page at %#lx; a recursion too deep or "
		  "a big local array -- make it iterative or kmalloc it",
		  name, tf->tf_rsp, where);
	return true;
}

/* A W^X violation: a protection-fault write to text or rodata (through
 * the image or the direct map), or an instruction fetch from an NX page. */
static bool wx_cause(const struct trapframe *tf, uint64_t cr2, char *buf,
		     size_t size)
{
	const char *part = image_part_any(cr2);

	if ((tf->tf_err & (PGEX_P | PGEX_W)) == (PGEX_P | PGEX_W) &&
	    part != NULL && strcmp(part, "data") != 0) {
		ksnprintf(buf, size,
			  "W^X violation: write to kernel %s at "
			  "%#lx; %s is mapped read-only so code cannot be "
			  "patched at run time -- a wild pointer, or data "
			  "that should not be const",
			  part, cr2, part);
		return true;
	}
	if ((tf->tf_err & (PGEX_P | PGEX_I)) == (PGEX_P | PGEX_I)) {
		ksnprintf(buf, size,
			  "W^X violation: instruction fetch from "
			  "no-execute page %#lx; only kernel text may run -- "
			  "a jump through a corrupted function pointer",
			  cr2);
		return true;
	}
	return false;
}

/* Called from trap_fatal on the faulting CPU; must not allocate or lock. */
bool pmap_fault_cause(const struct trapframe *tf, uint64_t cr2, char *buf,
		      size_t size)
{
	if (!pmap_ready)
		return false;
	if (stack_overflow_cause(tf, cr2, buf, size))
		return true;
	return tf->tf_vector == T_PAGE_FAULT && wx_cause(tf, cr2, buf, size);
}
