/*
 * vm/vm_page.h - physical pages: one struct vm_page per page of RAM, and
 * the allocator that hands them out (vm/vm_page.c; docs/memory.md).
 *
 * Three layers, each cheaper than the one below it:
 *
 *   per-CPU page cache   a small stack of single free pages per CPU, from
 *                        that CPU's memory domain; alloc/free of one page
 *                        is a critical section and a push or pop, no lock
 *   buddy free lists     per memory domain, blocks of 2^order pages
 *                        aligned to their size; a spinlock per domain
 *   the vm_page array    one entry per page of usable RAM, built once at
 *                        boot from the Multiboot2 memory map
 *
 * A memory domain is a NUMA node: with an ACPI SRAT each proximity domain
 * gets its own free lists, without one there is a single domain 0.  A page
 * never changes domain.  vm_page_alloc() prefers the calling CPU's domain
 * and falls back to the others in order.
 */
#ifndef VM_VM_PAGE_H
#define VM_VM_PAGE_H

#include <kern/types.h>
#include <machine/param.h>
#include <machine/vmparam.h>

#define VM_MAX_DOMAINS	8  /* memory domains (NUMA nodes) we track */
#define VM_BUDDY_ORDERS 11 /* orders 0..10: up to 4 MiB blocks */

/*
 * One physical page.  Who may touch which fields:
 *   pageq, order          the domain's free-list lock, while PG_FREE
 *   flags                 the current owner of the page (the allocator
 *                         while free, the caller of vm_page_alloc after)
 *   phys_addr, domain     set at boot, read-only after
 *   ku_pagecnt, owner     the subsystem that allocated the page (kmalloc
 *                         records zone/large-allocation facts here)
 *   object, pindex, hnext the VM object the page belongs to, if any
 *                         (vm/vm_object.c, under vm_object_token)
 */
struct vm_page {
	struct vm_page *pageq_next; /* free list / per-CPU cache link */
	struct vm_page *pageq_prev;
	vm_paddr_t phys_addr; /* of the first byte */
	uint16_t flags;	      /* PG_* */
	uint8_t order;	      /* buddy order, valid on a free head */
	uint8_t domain;	      /* memory domain (NUMA node) */
	int32_t ku_pagecnt;   /* kmalloc: pages of a large alloc */
	void *owner;	      /* allocator's cookie (slab zone ...) */
	/* A page of a VM object (vm/vm_object.c): which object, where in
	 * it, and the next page of its hash chain.  Object token. */
	struct vm_object *object;
	uint64_t pindex;
	struct vm_page *hnext;
};
typedef struct vm_page *vm_page_t;

/* Page flags. */
#define PG_FREE	      0x0001 /* in a buddy free list or a CPU cache */
#define PG_RESERVED   0x0002 /* never allocatable: kernel, MB2, array */
#define PG_CACHED     0x0004 /* in a per-CPU cache (PG_FREE too) */
#define PG_BUDDY_HEAD 0x0008 /* first page of a free buddy block */
#define PG_SLAB	      0x0010 /* part of a kmalloc slab zone */
#define PG_KMEM	      0x0020 /* backs a kernel-virtual allocation */
#define PG_PAGETABLE  0x0040 /* a page-table page of the kernel pmap */
#define PG_MDIRTY     0x0080 /* a file object's page written through a
				shared mapping: vm_object_clean writes it */
#define PG_ZEROED     0x0100 /* in a CPU's pre-zeroed pool (PG_FREE and
				PG_CACHED too): all its bytes are 0 */
#define PG_WBACK      0x0200 /* a file object's page whose PG_MDIRTY a
				write-back took and has not written yet */

/* Allocation flags. */
#define VM_ALLOC_NORMAL 0x0000 /* may "wait": panic if memory runs out */
#define VM_ALLOC_NOWAIT 0x0001 /* never wait: return NULL when out */
#define VM_ALLOC_ZERO	0x0002 /* the page(s) come back zero-filled */
#define VM_ALLOC_USER	0x0004 /* for a user program: NULL when out, and
				  NULL rather than dip into the reserve */

/*
 * Counters, readable at any time (a snapshot; fields may be a moment
 * apart on SMP).  free + cached + wired + reserved == total.
 */
struct vm_page_stats {
	uint64_t total;	    /* pages with a struct vm_page */
	uint64_t reserved;  /* PG_RESERVED: never allocatable */
	uint64_t free;	    /* in buddy lists, all domains */
	uint64_t cached;    /* in per-CPU caches and pools, all CPUs */
	uint64_t zeroed;    /* of cached: pre-zeroed (or being zeroed) */
	uint64_t wired;	    /* allocated and not yet freed */
	uint64_t slab;	    /* of wired: held by kmalloc zones */
	uint64_t pagetable; /* of wired: kernel page tables */
	int ndomains;
	uint64_t domain_total[VM_MAX_DOMAINS]; /* allocatable pages */
	uint64_t domain_free[VM_MAX_DOMAINS];  /* buddy + caches */
	uint64_t cpu_cached[MAXCPU];	       /* per-CPU cache sizes */
	uint64_t cpu_zeroed[MAXCPU];	       /* of those: pre-zeroed */
	/* VM_ALLOC_ZERO served from a pool / zeroed on the spot, and pages
	 * the idle threads zeroed. */
	uint64_t zero_hits, zero_misses, zero_idle;
	uint64_t allocs, frees, alloc_failures;
	uint64_t reserve;	  /* buddy pages kept from VM_ALLOC_USER */
	uint64_t user_refusals;	  /* VM_ALLOC_USER calls that got NULL */
	/* Building the free lists at boot: blocks put on a list, and list
	 * links touched doing it (each insert and each remove is one; a
	 * walk along a list costs a step per page it passes). */
	uint64_t boot_free_blocks, boot_list_steps;
};

/*
 * Build the vm_page array from the boot memory map (boot_info), reserving
 * the kernel image, the boot modules, the Multiboot2 block and the array
 * itself, then put every other page on the free lists of its domain
 * (vm_page_set_domains() must have run if there is an SRAT).
 * Boot CPU, once, before anything allocates.  Panics if there is no RAM.
 */
void vm_page_init(void);

/*
 * Describe the memory domains: range i ([base, base+len)) belongs to
 * domain dom[i].  Called by the SRAT parser before vm_page_init(); pages
 * outside every range stay in domain 0.  Boot CPU, once.
 */
void vm_page_set_domains(int n, const vm_paddr_t *base, const vm_paddr_t *len,
			 const int *dom);

/* Map a CPU (by index, as cpu_current_id()) to its memory domain. */
void vm_page_set_cpu_domain(int cpu, int domain);
int vm_page_cpu_domain(int cpu);

/* The SRAT's CPU affinity, APIC ID -> domain: each CPU without a domain
 * set explicitly learns its own from this table when its page cache first
 * needs pages.  Boot CPU, before the APs start. */
void vm_page_set_apic_domains(int n, const uint32_t *apic_id, const int *dom);
int vm_page_ndomains(void);

/*
 * Allocate one page, from the calling CPU's domain if it has any free,
 * else from the other domains.  flags: VM_ALLOC_NOWAIT returns NULL when
 * memory is exhausted; without it, exhaustion panics (there is no pageout
 * daemon to wait for yet).  VM_ALLOC_USER is for memory a user program
 * asked for (its pages, their page tables): it never panics, and it
 * gets NULL once the buddy lists are down to the reserve, which is kept
 * for the kernel (vm_page_user_room).  VM_ALLOC_ZERO zero-fills.
 * Any context (critical section inside); never blocks.
 */
vm_page_t vm_page_alloc(int flags);

/*
 * The reserve: the free pages a user program can never take, so that the
 * kernel itself -- kmalloc, the exit of a process killed for memory, the
 * frees -- still runs when users have taken everything else.  True while
 * the buddy lists hold npages above the reserve.  A system call that is
 * about to spend kernel memory for a user (fork, mmap, brk, execve) asks
 * first and says ENOMEM on false.  A racy read (a snapshot); any context.
 */
bool vm_page_user_room(size_t npages);

/* What a system call's own kernel structures (map entries, objects, a
 * kmalloc zone for them) may take: its vm_page_user_room question. */
#define VM_USER_CALL_PAGES 8

/* Like vm_page_alloc(), but only from domain dom (NULL if it is empty
 * and VM_ALLOC_NOWAIT).  Used to prove NUMA placement; any context. */
vm_page_t vm_page_alloc_domain(int dom, int flags);

/*
 * One page whose physical address is below limit, from any domain (NULL
 * or a panic as vm_page_alloc when there is none).  For what must be
 * reachable before pmap_init's direct map exists, or by 32-bit code (the
 * PML4 the APs load).  Slow (walks the free lists): boot-time callers.
 * Any context; never blocks.
 */
vm_page_t vm_page_alloc_below(vm_paddr_t limit, int flags);

/* Give back one page from vm_page_alloc*(); any context.  Panics on a
 * page that is free already or reserved (a double free). */
void vm_page_free(vm_page_t m);

/*
 * Allocate npages physically contiguous pages whose first physical
 * address is a multiple of align (a power of two, at least PAGE_SIZE, or
 * 0 for "page aligned"), preferring the caller's domain.  Returns the
 * first page (the rest follow in the array) or NULL (VM_ALLOC_NOWAIT).
 * Takes a domain lock; do not call with interrupts that may re-enter it.
 */
vm_page_t vm_page_alloc_contig(size_t npages, vm_paddr_t align, int flags);

/* Free a run from vm_page_alloc_contig(); npages must match. */
void vm_page_free_contig(vm_page_t m, size_t npages);

/* Record what an allocated page is used for (PG_SLAB, PG_PAGETABLE,
 * PG_KMEM) so the counters can tell; vm_page_free forgets it.  Owner. */
void vm_page_flag_set(vm_page_t m, uint16_t flag);

/* The vm_page of physical address pa, or NULL if pa is not managed RAM. */
vm_page_t PHYS_TO_VM_PAGE(vm_paddr_t pa);

static inline vm_paddr_t VM_PAGE_TO_PHYS(vm_page_t m)
{
	return m->phys_addr;
}

/* The page's bytes, through the direct map. */
static inline void *vm_page_to_dmap(vm_page_t m)
{
	return PHYS_TO_DMAP(m->phys_addr);
}

/* Empty this CPU's page cache and pre-zeroed pool into the buddy lists
 * (tests, low memory). */
void vm_page_cache_drain(void);

/*
 * The idle thread's work: zero one page of this CPU's cache into its
 * pre-zeroed pool.  True if it did (the caller looks for runnable work
 * before asking again); false when the pool is full or the cache empty.
 * This CPU's idle thread only (any thread may call it in tests); takes
 * no lock.
 */
bool vm_page_zero_idle(void);

/* Fill *st with the current counters. */
void vm_page_stats(struct vm_page_stats *st);

/* Pages wired by anyone other than kmalloc zones and page tables: the
 * number the test harness's "pages" leak check compares. */
uint64_t vm_page_leak_sample(void);

/* The physical range [*lo, *hi) covered by domain dom's pages. */
void vm_page_domain_span(int dom, vm_paddr_t *lo, vm_paddr_t *hi);

/* Is pa inside one of the SRAT ranges given for domain dom? */
bool vm_page_domain_contains(int dom, vm_paddr_t pa);

/* Print the counters (the shell's `vmstat`). */
void vm_page_print_stats(void);

#endif /* VM_VM_PAGE_H */
