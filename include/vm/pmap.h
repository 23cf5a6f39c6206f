/*
 * vm/pmap.h - the kernel's page tables (vm/pmap.c; docs/memory.md).
 *
 * pmap_init() replaces the boot page tables with the kernel's own:
 *
 *   direct map   DMAP_BASE + every physical byte (at least 4 GiB),
 *                read+write, no-execute, 1 GiB or 2 MiB pages where the
 *                alignment allows; the part that aliases kernel text and
 *                rodata is read-only
 *   kernel image KERNBASE + phys: text read+execute, rodata read-only,
 *                data and bss read+write+no-execute (W^X)
 *   KVA region   KVA_BASE..KVA_END: 4 KiB pages entered one at a time by
 *                pmap_kenter(); stacks, MMIO and large allocations
 *
 * Every kernel mapping is global (survives CR3 reloads).  CR0.WP is set so
 * that the kernel itself cannot write a read-only page.
 *
 * Translation changes that remove or reduce a mapping must be followed by
 * pmap_invalidate_range(): the one place that does the cross-CPU TLB
 * shootdown.
 */
#ifndef VM_PMAP_H
#define VM_PMAP_H

#include <kern/types.h>
#include <machine/vmparam.h>

/* Page-table entry bits (Intel SDM vol. 3A, 4.5, Tables 4-14 .. 4-20). */
#define PG_V	  0x001UL	       /* present */
#define PG_RW	  0x002UL	       /* writable */
#define PG_U	  0x004UL	       /* user accessible */
#define PG_NC_PWT 0x008UL	       /* write-through */
#define PG_NC_PCD 0x010UL	       /* cache disable */
#define PG_A	  0x020UL	       /* accessed */
#define PG_M	  0x040UL	       /* dirty */
#define PG_PS	  0x080UL	       /* large page (PDPTE, PDE) */
#define PG_G	  0x100UL	       /* global (CR4.PGE) */
#define PG_NX	  (1UL << 63)	       /* no-execute (EFER.NXE) */
#define PG_FRAME  0x000ffffffffff000UL /* physical frame, 4 KiB */

typedef uint64_t pt_entry_t;

/* Protections for pmap_kenter() and friends. */
#define VM_PROT_READ	0x1
#define VM_PROT_WRITE	0x2
#define VM_PROT_EXECUTE 0x4

/* Cache modes for pmap_kenter_attr(). */
#define PMAP_CACHE_WB 0 /* normal memory */
#define PMAP_CACHE_UC 1 /* device registers (PCD|PWT) */

/*
 * Build the kernel page tables and switch CR3 to them.  Needs vm_page_init().
 * Boot CPU, once, interrupts off.  Other CPUs load pmap_kernel_cr3().
 */
void pmap_init(void);

/* CR3 value of the kernel page tables (physical, below 4 GiB). */
uint64_t pmap_kernel_cr3(void);

/* Has pmap_init() switched to the kernel page tables? */
bool pmap_initialized(void);

/*
 * Map the 4 KiB page at kernel virtual address va (in the KVA region,
 * page aligned) to physical pa with prot (VM_PROT_*; no-execute unless
 * VM_PROT_EXECUTE; never VM_PROT_WRITE together with VM_PROT_EXECUTE:
 * that panics, W^X).  va must not be mapped already.  May allocate a
 * page-table page; pmap_kenter panics if there is none (boot-critical
 * callers).  Any CPU, not in an interrupt handler (takes the pmap lock).
 */
void pmap_kenter(vm_offset_t va, vm_paddr_t pa, int prot);

/*
 * pmap_kenter with a cache mode (PMAP_CACHE_*) and allocation flags:
 * with VM_ALLOC_NOWAIT, a page-table page that cannot be had makes it
 * return ENOMEM with nothing mapped, instead of panicking.  Returns 0
 * when mapped.  Same context as pmap_kenter.
 */
int pmap_kenter_attr(vm_offset_t va, vm_paddr_t pa, int prot, int cache,
		     int flags);

/* Unmap the page at va (KVA region) and invalidate its TLB entries on
 * every CPU.  Returns the physical address it mapped.  Thread context,
 * no spinlocks held (the shootdown waits for the other CPUs). */
vm_paddr_t pmap_kremove(vm_offset_t va);

/*
 * Unmap every page of [va, va + size) (KVA region; each must be mapped)
 * with ONE TLB shootdown for the whole range, then call release(pa, arg)
 * for each old frame (release may be NULL): by then no CPU can reach it,
 * so release may free the page.  Thread context, no spinlocks held.
 */
void pmap_kremove_range(vm_offset_t va, size_t size,
			void (*release)(vm_paddr_t pa, void *arg), void *arg);

/* The physical address va maps to (any kernel address), or
 * (vm_paddr_t)-1 if it is not mapped. */
vm_paddr_t pmap_kextract(vm_offset_t va);

/* The leaf entry for va (any kernel address) or 0, and its page size. */
pt_entry_t pmap_kernel_pte(vm_offset_t va, size_t *pagesize);

/*
 * Invalidate the TLB entries for [va, va + size) on every CPU that may
 * hold them: this CPU (INVLPG, or a full flush for big ranges) and, when
 * other CPUs run, all of them through lwkt_cpusync (a shootdown), which
 * returns once every CPU has dropped the entries.  Thread context, not
 * from an IPI callback, no spinlocks held.
 */
void pmap_invalidate_range(vm_offset_t va, size_t size);

/* Counters: page-table pages, kenter/kremove calls (pages), invalidated
 * ranges, and the shootdowns among them (ranges sent to other CPUs). */
struct pmap_stats {
	uint64_t pt_pages;
	uint64_t kenters, kremoves;
	uint64_t invalidations;
	uint64_t shootdowns;
	uint64_t dmap_bytes;
	size_t dmap_page_size; /* largest page used for the DMAP */
};
void pmap_get_stats(struct pmap_stats *st);

/* Which kernel image part holds va: "text", "rodata", "data", or NULL. */
const char *pmap_image_part(vm_offset_t va);

/*
 * Called by trap() for #PF and #DF before the generic report: if the fault
 * has a known cause (a kernel stack overflow into a guard page, a W^X
 * violation), write one teaching sentence into buf and return true.
 */
struct trapframe;
bool pmap_fault_cause(const struct trapframe *tf, uint64_t cr2, char *buf,
		      size_t size);

#endif /* VM_PMAP_H */
