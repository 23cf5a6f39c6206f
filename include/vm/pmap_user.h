/*
 * vm/pmap_user.h - page tables of user address spaces (vm/pmap_user.c).
 *
 * Every process has its own PML4.  Its lower half (entries 0..255, user
 * addresses 0 .. 0x00007fffffffffff) is the process's own; its upper half
 * is a copy of the kernel's PML4 entries, which never change after boot
 * (vm/pmap.c), so every process sees the same kernel.
 *
 *   PML4 of a process
 *   [0 .. 255]    user: tables made on demand by pmap_enter, PG_U at
 *                 every level, freed by pmap_release
 *   [256 .. 511]  the kernel's entries, copied at pmap_pinit
 *
 * A pmap is *active* on the CPUs whose CR3 holds it (pm_active, one bit
 * per CPU).  A change that removes or reduces a user mapping must reach
 * their TLBs: pmap_remove and pmap_protect invalidate the whole range
 * once, here and -- through one lwkt_cpusync -- on the other CPUs where
 * the pmap is active (a shootdown).  A CPU that loads another CR3 drops
 * the pmap's entries by that load (no PCID), so only active CPUs count.
 */
#ifndef VM_PMAP_USER_H
#define VM_PMAP_USER_H

#include <kern/types.h>
#include <kern/spinlock.h>
#include <vm/pmap.h>

/* User addresses: [VM_MIN_USER_ADDRESS, VM_MAX_USER_ADDRESS). */
#define VM_MIN_USER_ADDRESS 0x10000UL		/* nothing below 64 KiB */
#define VM_MAX_USER_ADDRESS 0x00007ffffffff000UL /* last page left out */

struct pmap {
	pt_entry_t *pm_pml4;		/* via the direct map */
	vm_paddr_t pm_pml4_pa;		/* what CR3 holds */
	volatile uint64_t pm_active;	/* CPUs with it loaded: atomic */
	struct spinlock pm_lock;	/* the user half of the tables */
	uint64_t pm_ptpages;		/* page-table pages, PML4 included:
					 * pm_lock once the pmap is shared */
	uint64_t pm_resident;		/* leaf mappings present: pm_lock */
};

/* Make an empty pmap sharing the kernel's upper half.  Thread context;
 * may block for memory. */
void pmap_pinit(struct pmap *pm);

/* Free its page-table pages.  No mapping may remain and no CPU may have
 * it loaded.  Thread context. */
void pmap_release(struct pmap *pm);

/*
 * Map user page va to physical page pa with prot (VM_PROT_*) and cache
 * mode cache (PMAP_CACHE_WB or PMAP_CACHE_UC), replacing
 * any mapping there.  Returns 0, or ENOMEM when a page-table page is
 * needed and memory is gone.  Thread context; takes pm_lock.  A
 * replaced mapping is invalidated on every CPU where pm is active.
 */
int pmap_enter_attr(struct pmap *pm, vm_offset_t va, vm_paddr_t pa,
		    int prot, int cache);

/* pmap_enter_attr for memory (write-back): every page but a device's
 * (the device pager asks for PMAP_CACHE_UC, vm/device_pager.c). */
int pmap_enter(struct pmap *pm, vm_offset_t va, vm_paddr_t pa, int prot);

/* Remove every mapping in [sva, eva), with one invalidation.  Thread
 * context, no spinlocks held (it may wait for other CPUs). */
void pmap_remove(struct pmap *pm, vm_offset_t sva, vm_offset_t eva);

/* Take away rights in [sva, eva): the new rights are prot.  One
 * invalidation.  Same context as pmap_remove. */
void pmap_protect(struct pmap *pm, vm_offset_t sva, vm_offset_t eva,
		  int prot);

/* The physical address va maps to in pm, or (vm_paddr_t)-1; *prot gets
 * the rights if prot is not NULL.  Any context. */
vm_paddr_t pmap_extract(struct pmap *pm, vm_offset_t va, int *prot);

/* The cache mode va is mapped with in pm (PMAP_CACHE_UC or _WB), or -1
 * if it is not mapped.  Any context (tests). */
int pmap_cache_mode(struct pmap *pm, vm_offset_t va);

/* Load pm (NULL: the kernel's tables) on this CPU, updating pm_active.
 * Called by the scheduler's switch hook, in a critical section. */
void pmap_activate(struct pmap *pm);

/* Counters for vmstat: user page-table pages now, mappings entered,
 * invalidations of user ranges and how many crossed to other CPUs. */
struct pmap_user_stats {
	uint64_t ptpages;
	uint64_t enters;
	uint64_t invalidations;
	uint64_t shootdowns;
};
void pmap_user_get_stats(struct pmap_user_stats *st);

/* CR4 and EFER bits the user layer turns on per CPU. */
#define CR4_OSFXSR	(1UL << 9)	/* FXSAVE/SSE usable */
#define CR4_OSXMMEXCPT	(1UL << 10)	/* SSE exceptions as #XM */
#define CR4_SMEP	(1UL << 20)	/* no kernel fetch from user pages */
#define CR4_SMAP	(1UL << 21)	/* no kernel access to user pages */

/* Did this CPU turn SMAP / SMEP on (CPUID said it may)? */
bool pmap_have_smap(void);
bool pmap_have_smep(void);

/* Per CPU, once: SMEP and SMAP when CPUID has them, SSE for user code. */
void pmap_user_cpu_init(void);

#endif /* VM_PMAP_USER_H */
