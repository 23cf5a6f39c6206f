/*
 * pmap_user.c - the page tables of user address spaces.
 *
 * The kernel's own tables live in vm/pmap.c.  Here each process gets a
 * PML4 whose upper half points at the kernel's (shared, never changing)
 * and whose lower half maps that process's pages, 4 KiB at a time:
 *
 *   user va  47      39 38     30 29     21 20     12 11      0
 *           | PML4 idx | PDPT idx| PD idx  | PT idx  | offset  |
 *              0..255
 *
 * The walk for one va (pte_lookup; SDM vol. 3A, 4.5, 4-level paging).
 * Every table is one 4 KiB page of 512 eight-byte entries, reached
 * through the kernel's direct map (table_of: PHYS_TO_DMAP of the entry's
 * frame), never through the user's own mapping:
 *
 *   CR3 = pm_pml4_pa
 *    |
 *    v   PML4 (pm_pml4)      PDPT               PD                 PT
 *   +---------------+   +------------+    +------------+    +------------+
 *   | [0..255] user |-->| [38..30]   |--->| [29..21]   |--->| [20..12]   |
 *   |  one entry    |   |  1 GiB per |    |  2 MiB per |    |  the leaf: |
 *   |  per 512 GiB  |   |  entry     |    |  entry     |    |  frame|bits|
 *   | [256..511]    |   +------------+    +------------+    +------------+
 *   |  the kernel's |                                            |
 *   +---------------+                            4 KiB page <-----+
 *
 * walk_down makes a missing table on the way (a zeroed page, entry
 * PG_V | PG_RW | PG_U); pte_quick walks without making anything, for the
 * common case; next_mapped finds where the next table begins, so a walk
 * over a large range skips the holes a level at a time.  No large pages
 * (PG_PS) are made here: every leaf is in a PT.
 *
 * Every level of a user walk has PG_U set (the CPU ANDs the levels,
 * SDM vol. 3A, 4.6), and the intermediate levels are writable and
 * executable: the leaf alone decides.  A leaf is
 *
 *   PG_V | PG_U | (PG_RW if VM_PROT_WRITE) | (PG_NX unless VM_PROT_EXECUTE)
 *
 * and, for a device's page mapped uncached (pmap_enter_attr with
 * PMAP_CACHE_UC), PG_NC_PCD | PG_NC_PWT: PAT entry 3, UC (SDM vol. 3A,
 * 11.12.3; the PAT is left at its power-on value).
 *
 * The pmap is a cache of what the VM objects say (vm/vm_fault.c): any
 * mapping can be dropped and is rebuilt by the next fault.  Page-table
 * pages are only freed when the whole pmap goes (pmap_release).
 *
 * TLBs.  Only CPUs that have the pmap loaded can cache its entries, and
 * pm_active says which.  A CPU sets its bit *before* it loads CR3 and
 * clears it after loading another, so a CPU changing an entry either
 * sees the bit (and shoots the CPU down) or the other CPU loads CR3
 * after the change (and never sees the old entry).
 *
 * Locking: pm_lock (a spinlock) around changes to the tables; the
 * invalidation comes after it is released, since it may wait for other
 * CPUs.  Entries are only reduced or removed under the VM map's token
 * (by its owner, or by the walk of a file's truncation,
 * vm_map_remove_object_pages), so nothing can reuse a removed page
 * before the invalidation: the caller frees pages only after
 * pmap_remove returns.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/kernel.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/spinlock.h>
#include <machine/cpufunc.h>
#include <vm/pmap_user.h>
#include <vm/vm_page.h>

/* Index of va in each level's table: 9 bits at these shifts. */
#define NPTEPG	   512		/* entries in one table page */
#define PML4_SHIFT 39
#define PDPT_SHIFT 30
#define PD_SHIFT   21
#define PT_SHIFT   12
#define NUPML4E	   256		/* user half of the PML4 */

#define MSR_EFER  0xc0000080	/* IA32_EFER (SDM vol. 4, table 2-2) */
#define EFER_NXE  (1UL << 11)	/* PG_NX allowed; else it is reserved */
#define CPUID_7_EBX_SMEP (1U << 7)	/* CPUID.(EAX=7,ECX=0):EBX */
#define CPUID_7_EBX_SMAP (1U << 20)

/* Invalidate page by page up to this many pages, else reload CR3. */
#define INVLPG_MAX 32

static struct pmap_user_stats ustats;	/* atomic updates, plain reads */
/* PG_NX when EFER.NXE is on (every CPU copies the boot CPU's EFER, so one
 * value serves all), else 0; set by pmap_user_cpu_init before any pmap. */
static pt_entry_t user_pg_nx;
static bool user_pg_nx_known;
/* What CPUID let each CPU turn on in CR4; written once by that CPU at
 * pmap_user_cpu_init, read by threads on that CPU. */
static bool cpu_smap[MAXCPU], cpu_smep[MAXCPU];

/* Drop this CPU's TLB entry for the page va (SDM vol. 3A, 4.10.4.1). */
static inline void invlpg(vm_offset_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* Load CR3: this CPU's TLB entries other than global ones (PG_G, which
 * user entries never have) go with the old value. */
static inline void load_cr3(uint64_t v)
{
	__asm__ volatile("movq %0, %%cr3" : : "r"(v) : "memory");
}

static inline void load_cr4(uint64_t v)
{
	__asm__ volatile("movq %0, %%cr4" : : "r"(v) : "memory");
}

/* The index of va in the table of the level whose shift is given. */
static inline int pidx(vm_offset_t va, int shift)
{
	return (int)((va >> shift) & (NPTEPG - 1));
}

/* The table a valid non-leaf entry e points at, as a kernel pointer. */
static inline pt_entry_t *table_of(pt_entry_t e)
{
	return PHYS_TO_DMAP(e & PG_FRAME);
}

/* ----------------------------------------------------------------------- */
/* Creation and teardown.                                                   */

/* A zeroed page for a table, or NULL when memory is gone.  flags: the
 * PML4 is the kernel's (VM_ALLOC_NOWAIT), the tables below it map what
 * a user asked for and leave the reserve alone (VM_ALLOC_USER). */
static pt_entry_t *ptpage_alloc(struct pmap *pm, vm_paddr_t *pa, int flags)
{
	vm_page_t m = vm_page_alloc(VM_ALLOC_ZERO | flags);

	if (m == NULL)
		return NULL;
	pm->pm_ptpages++;
	__atomic_fetch_add(&ustats.ptpages, 1, __ATOMIC_RELAXED);
	*pa = VM_PAGE_TO_PHYS(m);
	return vm_page_to_dmap(m);
}

/* Give back a table page made by ptpage_alloc. */
static void ptpage_free(struct pmap *pm, vm_paddr_t pa)
{
	pm->pm_ptpages--;
	__atomic_fetch_sub(&ustats.ptpages, 1, __ATOMIC_RELAXED);
	vm_page_free(PHYS_TO_VM_PAGE(pa));
}

/*
 * Make pm an empty pmap: a zeroed PML4 whose upper half is the kernel's
 * (copied; the kernel's entries never change, so the copy stays right).
 * Panics when no page is left for the PML4.  Thread context, after
 * pmap_user_cpu_init on the boot CPU; pm is not shared yet, so no lock.
 */
void pmap_pinit(struct pmap *pm)
{
	const pt_entry_t *kpml4 = PHYS_TO_DMAP(pmap_kernel_cr3());

	KASSERT(user_pg_nx_known, "pmap_pinit before pmap_user_cpu_init: "
		"leaf entries would be made without knowing whether NX works");
	memset(pm, 0, sizeof(*pm));
	spin_init(&pm->pm_lock, "pmap_user");
	pm->pm_pml4 = ptpage_alloc(pm, &pm->pm_pml4_pa, VM_ALLOC_NOWAIT);
	if (pm->pm_pml4 == NULL)
		panic("pmap_pinit: no memory for a PML4; there is no pageout "
		      "to wait for yet -- give the machine more memory");
	for (int i = NUPML4E; i < NPTEPG; i++)
		pm->pm_pml4[i] = kpml4[i];
}

/* Free the table under entry e (level: 3 = PDPT, 2 = PD, 1 = PT) and
 * everything below it. */
static void free_tree(struct pmap *pm, pt_entry_t e, int level)
{
	pt_entry_t *t = table_of(e);

	if (level > 1)
		for (int i = 0; i < NPTEPG; i++)
			if (t[i] & PG_V)
				free_tree(pm, t[i], level - 1);
	ptpage_free(pm, e & PG_FRAME);
}

/* Free every table page of pm, the PML4 last.  The caller has removed
 * every mapping and no CPU has pm loaded (asserted); pm is no longer
 * shared, so no lock.  Thread context. */
void pmap_release(struct pmap *pm)
{
	KASSERT(pm->pm_resident == 0, "pmap_release: %lu pages still mapped; "
		"remove every map entry before the pmap goes",
		pm->pm_resident);
	KASSERT(pm->pm_active == 0, "pmap_release: pmap still loaded on "
		"CPUs %#lx; switch away from it first", pm->pm_active);
	for (int i = 0; i < NUPML4E; i++)
		if (pm->pm_pml4[i] & PG_V)
			free_tree(pm, pm->pm_pml4[i], 3);
	ptpage_free(pm, pm->pm_pml4_pa);
	KASSERT(pm->pm_ptpages == 0, "pmap_release: %lu table pages lost",
		pm->pm_ptpages);
	pm->pm_pml4 = NULL;
}

/* ----------------------------------------------------------------------- */
/* Walking.                                                                 */

/* The entry one level down from *e for va, making the table if asked
 * (NULL when it is missing and not asked for, or no page is left).
 * pm_lock held when create is true: two makers would each put a table
 * in the same entry and one would be lost. */
static pt_entry_t *walk_down(struct pmap *pm, pt_entry_t *e, vm_offset_t va,
			     int shift, bool create)
{
	if (!(*e & PG_V)) {
		vm_paddr_t pa;

		if (!create || ptpage_alloc(pm, &pa, VM_ALLOC_USER) == NULL)
			return NULL;
		*e = pa | PG_V | PG_RW | PG_U;
	}
	return &table_of(*e)[pidx(va, shift)];
}

/* The leaf entry for va, or NULL (no table, or none could be made).  The
 * entry itself may be empty (no PG_V): only its tables exist. */
static pt_entry_t *pte_lookup(struct pmap *pm, vm_offset_t va, bool create)
{
	pt_entry_t *e = &pm->pm_pml4[pidx(va, PML4_SHIFT)];

	e = walk_down(pm, e, va, PDPT_SHIFT, create);
	if (e != NULL)
		e = walk_down(pm, e, va, PD_SHIFT, create);
	if (e != NULL)
		e = walk_down(pm, e, va, PT_SHIFT, create);
	return e;
}

/*
 * The leaf entry for va when every table above it exists, else NULL: the
 * common case of a fault next to an earlier one, walked without making
 * anything (pte_lookup is the general walk).
 */
static inline pt_entry_t *pte_quick(struct pmap *pm, vm_offset_t va)
{
	pt_entry_t e = pm->pm_pml4[pidx(va, PML4_SHIFT)];

	if (!(e & PG_V))
		return NULL;
	e = table_of(e)[pidx(va, PDPT_SHIFT)];
	if (!(e & PG_V))
		return NULL;
	e = table_of(e)[pidx(va, PD_SHIFT)];
	if (!(e & PG_V))
		return NULL;
	return &table_of(e)[pidx(va, PT_SHIFT)];
}

/*
 * The next address at or after va that may have a leaf: va itself if
 * its page table exists, else the start of the next table's range (so a
 * walk over a large, mostly empty range skips what was never mapped).
 */
static vm_offset_t next_mapped(struct pmap *pm, vm_offset_t va)
{
	static const int shifts[] = { PML4_SHIFT, PDPT_SHIFT, PD_SHIFT };
	pt_entry_t *t = pm->pm_pml4;

	for (int l = 0; l < 3; l++) {
		pt_entry_t e = t[pidx(va, shifts[l])];

		if (!(e & PG_V))
			return (va & ~((1UL << shifts[l]) - 1)) +
			       (1UL << shifts[l]);
		t = table_of(e);
	}
	return va;
}

/* The bits of a leaf that gives prot (VM_PROT_*): reading is always
 * allowed, since x86 has no present-but-unreadable page. */
static pt_entry_t leaf_bits(int prot)
{
	pt_entry_t bits = PG_V | PG_U;

	if (prot & VM_PROT_WRITE)
		bits |= PG_RW;
	if (!(prot & VM_PROT_EXECUTE))
		bits |= user_pg_nx;
	return bits;
}

/* leaf_bits backwards: the VM_PROT_* a present leaf gives. */
static int bits_prot(pt_entry_t e)
{
	int prot = VM_PROT_READ;

	if (e & PG_RW)
		prot |= VM_PROT_WRITE;
	if (!(e & PG_NX))
		prot |= VM_PROT_EXECUTE;
	return prot;
}

/* ----------------------------------------------------------------------- */
/* Invalidation.                                                            */

/* One invalidation, as the CPUs that take part see it.  It lives on the
 * initiator's stack; lwkt_cpusync returns only after every CPU ran. */
struct urange {
	vm_offset_t va;			/* first page */
	size_t npages;
	vm_paddr_t cr3;			/* whose entries */
};

/* On one CPU: drop the range's entries, if that CPU still runs the pmap
 * (it may have switched away since the mask was read: then its CR3 load
 * already dropped them). */
static void invalidate_here(void *arg)
{
	const struct urange *r = arg;

	if ((rcr3() & PG_FRAME) != r->cr3)
		return;
	if (r->npages > INVLPG_MAX) {
		load_cr3(rcr3());	/* user entries are never global */
		return;
	}
	for (size_t i = 0; i < r->npages; i++)
		invlpg(r->va + i * PAGE_SIZE);
}

/* Invalidate [sva, eva) wherever pm is loaded: one call for the range.
 * Locally when no other CPU has pm; else one lwkt_cpusync to them all,
 * which waits for them, so no spinlock may be held.  Thread context. */
static void pmap_user_invalidate(struct pmap *pm, vm_offset_t sva,
				 vm_offset_t eva)
{
	struct urange r = { sva, (eva - sva) >> PAGE_SHIFT, pm->pm_pml4_pa };
	uint64_t active, me;

	crit_enter();
	me = mycpu->gd_cpumask;
	active = __atomic_load_n(&pm->pm_active, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&ustats.invalidations, 1, __ATOMIC_RELAXED);
	if ((active & ~me) == 0) {
		if (active & me)
			invalidate_here(&r);
		crit_exit();
		return;
	}
	crit_exit();
	__atomic_fetch_add(&ustats.shootdowns, 1, __ATOMIC_RELAXED);
	lwkt_cpusync(active | me, invalidate_here, &r);
}

/*
 * Invalidate the one page va of pm: pmap_enter's replacement of an entry.
 * When pm is loaded here alone (the faulting process's own CPU) that is
 * one INVLPG; otherwise the general path's shootdown.
 */
static void pmap_user_invalidate_page(struct pmap *pm, vm_offset_t va)
{
	uint64_t active;

	crit_enter();
	active = __atomic_load_n(&pm->pm_active, __ATOMIC_SEQ_CST);
	if ((active & ~mycpu->gd_cpumask) == 0) {
		__atomic_fetch_add(&ustats.invalidations, 1, __ATOMIC_RELAXED);
		if (active != 0)
			invlpg(va);
		crit_exit();
		return;
	}
	crit_exit();
	pmap_user_invalidate(pm, va, va + PAGE_SIZE);
}

/* ----------------------------------------------------------------------- */
/* Changing mappings.                                                       */

/* Assert [sva, eva) is page aligned and within user space. */
static void check_user_range(vm_offset_t sva, vm_offset_t eva,
			     const char *who)
{
	KASSERT(sva <= eva && eva <= VM_MAX_USER_ADDRESS &&
			((sva | eva) & PAGE_MASK) == 0,
		"%s: [%#lx, %#lx) is not a page-aligned user range", who, sva,
		eva);
}

/*
 * pmap_enter's work for the leaf frame | leaf_bits(prot): frame is the
 * physical address with the cache bits (PG_NC_*) already in it, so a
 * plain pmap_enter (write-back, no cache bits) pays nothing for
 * pmap_enter_attr's choice.
 */
static inline int enter_leaf(struct pmap *pm, vm_offset_t va,
			     pt_entry_t frame, int prot)
{
	pt_entry_t *e, old;

	check_user_range(va, va + PAGE_SIZE, "pmap_enter");
	spin_lock(&pm->pm_lock);
	e = pte_quick(pm, va);
	if (__predict_false(e == NULL))
		e = pte_lookup(pm, va, true);
	if (e == NULL) {
		spin_unlock(&pm->pm_lock);
		return ENOMEM;
	}
	old = *e;
	*e = frame | leaf_bits(prot);
	if (!(old & PG_V))
		pm->pm_resident++;
	spin_unlock(&pm->pm_lock);
	__atomic_fetch_add(&ustats.enters, 1, __ATOMIC_RELAXED);
	/* A new entry needs no flush; a changed one does (SDM 4.10.4.3). */
	if ((old & PG_V) && (old & ~(PG_A | PG_M)) != (*e & ~(PG_A | PG_M)))
		pmap_user_invalidate_page(pm, va);
	return 0;
}

/*
 * Map va to pa with prot, write-back (vm/pmap_user.h).  Returns 0, or
 * ENOMEM when a table page is needed and none is left (the fault then
 * reports a resource shortage, vm_fault.c).  Thread context; takes
 * pm_lock; may wait for other CPUs when it replaces a mapping.
 */
int pmap_enter(struct pmap *pm, vm_offset_t va, vm_paddr_t pa, int prot)
{
	return enter_leaf(pm, va, pa, prot);
}

/* pmap_enter with a cache mode: PMAP_CACHE_UC for device registers and
 * frame buffers (vm/device_pager.c), PMAP_CACHE_WB for memory. */
int pmap_enter_attr(struct pmap *pm, vm_offset_t va, vm_paddr_t pa,
		    int prot, int cache)
{
	KASSERT(cache == PMAP_CACHE_WB || cache == PMAP_CACHE_UC,
		"pmap_enter_attr: cache mode %d is neither PMAP_CACHE_WB nor "
		"PMAP_CACHE_UC", cache);
	return enter_leaf(pm, va, pa | (cache == PMAP_CACHE_UC
					? PG_NC_PCD | PG_NC_PWT : 0), prot);
}

/* Apply fn to every present leaf in [sva, eva); true if any changed.
 * fn runs under pm_lock (a spinlock): it must not block.  The caller
 * invalidates after, with the lock let go. */
static bool for_each_leaf(struct pmap *pm, vm_offset_t sva, vm_offset_t eva,
			  bool (*fn)(struct pmap *, pt_entry_t *, int),
			  int arg)
{
	bool changed = false;

	spin_lock(&pm->pm_lock);
	for (vm_offset_t va = sva; va < eva;) {
		vm_offset_t next = next_mapped(pm, va);
		pt_entry_t *e;

		if (next != va) {
			va = next;
			continue;
		}
		e = pte_lookup(pm, va, false);
		if (*e & PG_V)
			changed |= fn(pm, e, arg);
		va += PAGE_SIZE;
	}
	spin_unlock(&pm->pm_lock);
	return changed;
}

/* for_each_leaf's step for pmap_remove: the leaf goes. */
static bool leaf_remove(struct pmap *pm, pt_entry_t *e, int unused)
{
	*e = 0;
	pm->pm_resident--;
	return true;
}

/* for_each_leaf's step for pmap_protect: rights are only taken away
 * (never given: a fault gives them); no read right removes the leaf. */
static bool leaf_protect(struct pmap *pm, pt_entry_t *e, int prot)
{
	pt_entry_t old = *e;

	if (!(prot & VM_PROT_WRITE))
		*e &= ~PG_RW;
	if (!(prot & VM_PROT_EXECUTE))
		*e |= user_pg_nx;
	if (!(prot & VM_PROT_READ))
		return leaf_remove(pm, e, 0);
	return *e != old;
}

/*
 * Remove every mapping in [sva, eva) (page aligned, user space) and
 * invalidate the range once, if anything was there.  On return no CPU
 * can reach the old pages through pm, so the caller may free them.
 * Thread context; takes pm_lock; may wait for other CPUs, so no
 * spinlock held.  Called under the VM map's token (see above).
 */
void pmap_remove(struct pmap *pm, vm_offset_t sva, vm_offset_t eva)
{
	check_user_range(sva, eva, "pmap_remove");
	if (for_each_leaf(pm, sva, eva, leaf_remove, 0))
		pmap_user_invalidate(pm, sva, eva);
}

/* Reduce the rights in [sva, eva) to at most prot, one invalidation;
 * as pmap_remove for context and locks.  Fork uses it to make the
 * parent's writable private pages copy-on-write. */
void pmap_protect(struct pmap *pm, vm_offset_t sva, vm_offset_t eva,
		  int prot)
{
	check_user_range(sva, eva, "pmap_protect");
	if (for_each_leaf(pm, sva, eva, leaf_protect, prot))
		pmap_user_invalidate(pm, sva, eva);
}

/* The physical address va maps to, or (vm_paddr_t)-1; *prot the rights
 * when prot is not NULL.  Any context: no lock, since table pages are
 * freed only with the pmap, so the walk never reads a freed table; the
 * answer may be stale if another thread changes the mapping. */
vm_paddr_t pmap_extract(struct pmap *pm, vm_offset_t va, int *prot)
{
	pt_entry_t *e;

	if (va >= VM_MAX_USER_ADDRESS)
		return (vm_paddr_t)-1;
	e = pte_lookup(pm, va & ~PAGE_MASK, false);
	if (e == NULL || !(*e & PG_V))
		return (vm_paddr_t)-1;
	if (prot != NULL)
		*prot = bits_prot(*e);
	return (*e & PG_FRAME) | (va & PAGE_MASK);
}

/* PMAP_CACHE_UC when va's leaf has PCD and PWT (PAT entry 3), else
 * PMAP_CACHE_WB; -1 when va is not mapped.  Any context, as
 * pmap_extract. */
int pmap_cache_mode(struct pmap *pm, vm_offset_t va)
{
	pt_entry_t *e;

	if (va >= VM_MAX_USER_ADDRESS)
		return -1;
	e = pte_lookup(pm, va & ~PAGE_MASK, false);
	if (e == NULL || !(*e & PG_V))
		return -1;
	return (*e & (PG_NC_PCD | PG_NC_PWT)) == (PG_NC_PCD | PG_NC_PWT)
		       ? PMAP_CACHE_UC : PMAP_CACHE_WB;
}

/* ----------------------------------------------------------------------- */
/* Switching and per-CPU setup.                                             */

/*
 * Load pm on this CPU (NULL: the kernel's tables).  The order keeps the
 * TLB rule of the design comment: our bit in pm's pm_active is set
 * before CR3 is loaded, and our bit in the old pmap's is cleared only
 * after, so a shootdown never misses this CPU while it may still hold
 * entries.  A critical section (or an interrupt) keeps the thread on
 * the CPU and gd_pmap in step with CR3 (asserted).  Does not block.
 */
void pmap_activate(struct pmap *pm)
{
	struct globaldata *gd = mycpu;
	uint64_t cr3 = pm != NULL ? pm->pm_pml4_pa : pmap_kernel_cr3();
	uint64_t old = rcr3() & PG_FRAME;
	struct pmap *oldpm = gd->gd_pmap;

	KASSERT(curthread->td_critcount > 0 || gd->gd_intr_nesting_level,
		"pmap_activate outside a critical section");
	if (pm != NULL)
		__atomic_or_fetch(&pm->pm_active, gd->gd_cpumask,
				  __ATOMIC_SEQ_CST);
	if (cr3 != old)
		load_cr3(cr3);
	if (oldpm != NULL && oldpm != pm)
		__atomic_and_fetch(&oldpm->pm_active, ~gd->gd_cpumask,
				   __ATOMIC_SEQ_CST);
	gd->gd_pmap = pm;
}

/* Has this CPU turned SMAP / SMEP on?  copyin and copyout ask before
 * STAC/CLAC, which are #UD without SMAP.  A thread never changes CPU,
 * so the answer holds for the caller.  Any context. */
bool pmap_have_smap(void)
{
	return cpu_smap[mycpuid];
}

bool pmap_have_smep(void)
{
	return cpu_smep[mycpuid];
}

/*
 * Per CPU, once, at its start (before any user pmap on the boot CPU):
 * SSE for user code (CR4.OSFXSR, OSXMMEXCPT), SMEP and SMAP when
 * CPUID.(EAX=7,ECX=0):EBX has them (SDM vol. 3A, 4.6), and the NX bit
 * leaf_bits uses, read from EFER, which the boot code set.
 */
void pmap_user_cpu_init(void)
{
	uint32_t r[4];
	uint64_t cr4 = rcr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;
	int cpu = mycpuid;

	user_pg_nx = (rdmsr(MSR_EFER) & EFER_NXE) ? PG_NX : 0;
	user_pg_nx_known = true;
	cpuid_count(7, 0, r);
	cpu_smep[cpu] = (r[1] & CPUID_7_EBX_SMEP) != 0;
	cpu_smap[cpu] = (r[1] & CPUID_7_EBX_SMAP) != 0;
	if (cpu_smep[cpu])
		cr4 |= CR4_SMEP;
	if (cpu_smap[cpu])
		cr4 |= CR4_SMAP;
	load_cr4(cr4);
}

/* Copy the counters for vmstat: each one is exact, the set together is
 * only roughly a snapshot (no lock is taken).  Any context. */
void pmap_user_get_stats(struct pmap_user_stats *st)
{
	*st = ustats;
}
