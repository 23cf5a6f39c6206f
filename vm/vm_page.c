/*
 * vm_page.c - physical memory: the vm_page array, the buddy allocator of
 * each memory domain, and the per-CPU page caches on top.
 *
 * At boot the Multiboot2 memory map says which physical ranges are RAM.
 * vm_physmap.c reads it by its meaning -- "available" pages from 1 MiB
 * up (the first MiB belongs to the firmware and, later, the AP
 * trampoline) that no entry of another type touches, each page once
 * however the entries overlap -- and cuts the result where memory
 * domains (NUMA nodes) change.  Each piece is a segment:
 *
 *   segs[0]  [1 MiB, 128 MiB) domain 0   pages[0 .. 32511]
 *   segs[1]  [128 MiB, 255 MiB) domain 1 pages[32512 .. ]
 *
 * The segment table and one struct vm_page per page of every segment
 * live in one array, carved from the first RAM above the kernel that
 * nothing else claims; the map is walked twice (count, then fill), so
 * neither has a fixed limit.  The kernel image, the boot information
 * block, the boot modules and the array itself are marked PG_RESERVED
 * and never handed out.
 *
 * Free pages live in a binary buddy system per domain.  A free block of
 * order k is 2^k pages whose first page frame number is a multiple of
 * 2^k; its buddy is the block at pfn ^ 2^k.  Freeing merges a block with
 * its buddy while the buddy is free, of the same order and in the same
 * segment, so runs stay as large as they can be:
 *
 *   order 2  [####|####|....|....]   free 4-page block at pfn 8
 *   order 1            [..]          its buddy at 12 is split: no merge
 *
 * Blocks never cross a segment, so a block is always in one domain, and a
 * block of order k is naturally aligned to 2^k pages -- which is what
 * vm_page_alloc_contig() uses to give aligned runs.  Each domain's lists
 * are protected by its spinlock.
 *
 * Most allocations are single pages, and taking a shared lock for each
 * would make every CPU queue on it.  So each CPU keeps a small stack of
 * free pages from its own domain: vm_page_alloc() and vm_page_free() pop
 * and push it inside a critical section, no lock and no atomic.  The
 * stack refills from (and drains to) the buddy lists in batches.  A page
 * of another domain freed here goes straight back to its domain, so a
 * cache only ever holds local pages.
 *
 * Boot frees each run of free pages as the largest aligned blocks it
 * holds, each pushed on its list in O(1), so building the lists is
 * linear in memory (vm_page_stats counts the steps).  Nothing depends on
 * the order of a free list; what must lie low (the first page tables)
 * asks for it with vm_page_alloc_below().
 *
 * Counting: every page is exactly one of reserved, free (buddy), cached
 * (a CPU's stack) or wired (allocated); the leak check samples "wired by
 * someone other than kmalloc's zones and the page tables".
 *
 * Out of memory.  Nothing is paged out, so a page that is not free is
 * not coming back until its owner lets go.  The kernel's own allocations
 * may panic when nothing is left (their callers cannot cope), but a user
 * program must never get the kernel there: memory it asks for -- its
 * pages, their page tables, copy-on-write copies -- is allocated with
 * VM_ALLOC_USER, which returns NULL instead, and returns NULL already
 * when the buddy lists are down to the *reserve* (a small share of
 * memory, as DragonFly's v_free_reserved).  The fault path then kills
 * the process (SIGKILL, "out of memory"), a system call says ENOMEM, and
 * the kernel keeps the reserve for what it must still do: kmalloc, the
 * dying process's exit, other threads.  The check costs nothing on the
 * fast path: a page in this CPU's cache is handed to anyone; only taking
 * pages from the buddy lists looks at the reserve.
 *
 * Pre-zeroed pages.  Most user pages must start as zeros, and zeroing
 * 4 KiB is the biggest cost of a zero-fill fault.  A CPU with nothing to
 * run can do it ahead of time, as DragonFly's idle zeroing does: each
 * CPU's idle thread takes pages from its own cache, zeroes them one at a
 * time and keeps them in a small pool beside the cache (ZPOOL_HIGH
 * pages); between two pages it looks for work again, so a thread that
 * becomes runnable waits for one page at most.  VM_ALLOC_ZERO takes from
 * the pool first (a hit: no zeroing at all), else zeroes a cache page
 * itself (a miss).  The pool is the CPU's own, like the cache: a
 * critical section, no lock.  Its pages are free memory: they count as
 * cached, vm_page_cache_drain and a reclaim by another CPU empty it, and
 * any allocation that finds nothing else takes them before it fails.
 *
 *   cache   [d][d][d][d]...   dirty free pages, LIFO
 *              |  idle thread: pop, zero, push
 *              v
 *   pool    [0][0][0]...      at most ZPOOL_HIGH, for VM_ALLOC_ZERO
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/spinlock.h>
#include <boot/multiboot2.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <machine/cpu.h>
#include <vm/vm_page.h>
#include <vm/vm_physmap.h>

#define VM_MAX_DOMAIN_RANGES 64 /* SRAT memory ranges kept */
/* Ranges never handed out: the image, the MB2 block, modules, the array. */
#define VM_MAX_RESERVED (BOOT_MODULES_MAX + 3)

/* Slow paths stay out of line, so the fast paths need no stack frame. */
#define __slowpath __attribute__((noinline, cold))

#define PCPU_CACHE_HIGH	 64 /* drain above this many pages */
#define PCPU_CACHE_BATCH 16 /* refill / drain this many at once */
#define ZPOOL_HIGH	 32 /* pre-zeroed pages a CPU keeps at most */
/* The reserve: 1/64 of memory, at least 128 pages (512 KiB: a few
 * kmalloc zones, a process's exit) and at most 4 MiB. */
#define RESERVE_SHARE 64
#define RESERVE_MIN   128
#define RESERVE_MAX   1024

struct vm_phys_seg {
	/* A stretch of RAM in one domain, with its slice of the page array. */
	vm_paddr_t start, end; /* page aligned, end exclusive */
	vm_page_t pages;       /* pages[0] is the page at start */
	int domain;
};

/* One memory domain's buddy lists.  Locked by lock (all fields but
 * total_pages and the span, which are set at boot). */
struct vm_domain {
	struct spinlock lock;
	vm_page_t freelist[VM_BUDDY_ORDERS]; /* doubly linked, by order */
	uint64_t free_pages;
	uint64_t total_pages; /* allocatable, set at boot */
	vm_paddr_t lo, hi;    /* span of its segments */
	uint64_t list_inserts; /* blocks put on a list, ever */
	uint64_t list_steps;   /* links touched: inserts, removes, walks */
};

/* One CPU's page cache.  Owned by that CPU, critical section only. */
struct vm_pcpu {
	vm_page_t head; /* singly linked via pageq_next */
	uint64_t count;
	int domain;	   /* the only domain it caches */
	bool domain_known; /* set, or learnt from the SRAT's CPU table */
	uint64_t allocs, frees, failures;
	/* The pre-zeroed pool, filled by this CPU's idle thread. */
	vm_page_t zhead;	/* linked via pageq_next, PG_ZEROED */
	uint64_t zcount;	/* pages on zhead */
	uint64_t zbusy;		/* 1 while the idle thread zeroes one */
	uint64_t zhits, zmisses; /* VM_ALLOC_ZERO: from the pool or not */
	uint64_t zidle;		/* pages zeroed by the idle thread */
} __aligned(CACHE_LINE_SIZE);

/* Boot-time facts, read-only after vm_page_init().  segs is sorted by
 * address and lives at the start of the page array. */
static struct vm_phys_seg *segs;
static int nsegs;
static uint64_t total_pages, reserved_pages;
/* Buddy pages VM_ALLOC_USER never takes (set at boot), and how often it
 * was refused for them (atomic). */
static uint64_t free_reserve;
static uint64_t user_refusals;
static uint64_t boot_blocks, boot_list_steps; /* free-list work at boot */
static int ndomains = 1;

static struct vm_domain domains[VM_MAX_DOMAINS];
static struct vm_pcpu pcpu[MAXCPU];

/* The SRAT's memory ranges, as given to vm_page_set_domains(). */
static struct vm_domain_range dom_ranges[VM_MAX_DOMAIN_RANGES];
static int ndom_ranges;

/* The SRAT's CPU affinity: APIC ID -> domain, for CPUs to learn theirs. */
static struct {
	uint32_t apic_id;
	int dom;
} apic_domains[MAXCPU * 4];
static int napic_domains;

/* Usage counters of the subsystems that own pages for good (atomic). */
static uint64_t slab_pages, pagetable_pages;

/* The linker's view of the image (linker.ld). */
extern char _kernel_phys_start[], _kernel_phys_end[];

/* ----------------------------------------------------------------------- */
/* Segments and page lookup.                                               */

/*
 * The segment holding physical address pa, or NULL if pa is not managed
 * RAM.  A binary search: the segments are sorted and disjoint, and a map
 * with many holes makes many of them.
 */
static struct vm_phys_seg *seg_of(vm_paddr_t pa)
{
	int lo = 0, hi = nsegs; /* if any segment holds pa, it is in [lo, hi) */

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (pa < segs[mid].start)
			hi = mid;
		else if (pa >= segs[mid].end)
			lo = mid + 1;
		else
			return &segs[mid];
	}
	return NULL;
}

/*
 * The page of pa: its segment's slice of the array, indexed by the page
 * number inside the segment.  Any context; the array never changes.
 */
vm_page_t PHYS_TO_VM_PAGE(vm_paddr_t pa)
{
	struct vm_phys_seg *s = seg_of(pa);

	if (s == NULL)
		return NULL;
	return &s->pages[(pa - s->start) >> PAGE_SHIFT];
}

/* The domain of physical address pa according to the SRAT ranges. */
static int domain_of(vm_paddr_t pa)
{
	for (int i = 0; i < ndom_ranges; i++)
		if (pa >= dom_ranges[i].base &&
		    pa - dom_ranges[i].base < dom_ranges[i].len)
			return dom_ranges[i].dom;
	return 0;
}

/*
 * Is pa managed RAM of domain dom?  Without an SRAT everything is domain
 * 0.  Tests use this to check that NUMA placement really happened.
 */
bool vm_page_domain_contains(int dom, vm_paddr_t pa)
{
	if (ndom_ranges == 0)
		return dom == 0;
	return domain_of(pa) == dom && seg_of(pa) != NULL;
}

/*
 * Remember the SRAT's memory ranges.  Must run before vm_page_init(), which
 * splits segments at these boundaries; asserted, because a late call would
 * leave pages on the wrong domain's lists for good.  Boot CPU.
 */
void vm_page_set_domains(int n, const vm_paddr_t *base, const vm_paddr_t *len,
			 const int *dom)
{
	KASSERT(nsegs == 0,
		"vm_page_set_domains after vm_page_init: the "
		"SRAT must be parsed before the free lists are built");
	ndom_ranges = 0;
	if (n > VM_MAX_DOMAIN_RANGES)
		kprintf("vm: the SRAT lists %d memory ranges; the %d beyond "
			"the first %d are ignored and their pages count as "
			"domain 0\n",
			n, n - VM_MAX_DOMAIN_RANGES, VM_MAX_DOMAIN_RANGES);
	for (int i = 0; i < n && i < VM_MAX_DOMAIN_RANGES; i++) {
		KASSERT(dom[i] >= 0 && dom[i] < VM_MAX_DOMAINS,
			"memory domain %d: only %d supported (VM_MAX_DOMAINS)",
			dom[i], VM_MAX_DOMAINS);
		dom_ranges[ndom_ranges++] =
		    (struct vm_domain_range){base[i], len[i], dom[i]};
		ndomains = MAX(ndomains, dom[i] + 1);
	}
}

/*
 * Say which domain a CPU's page cache draws from.  Only while the cache is
 * empty (asserted): a cache must never hold pages of two domains.
 */
void vm_page_set_cpu_domain(int cpu, int domain)
{
	KASSERT(cpu >= 0 && cpu < MAXCPU && domain >= 0 && domain < ndomains,
		"cpu %d / domain %d out of range", cpu, domain);
	KASSERT(pcpu[cpu].count + pcpu[cpu].zcount == 0,
		"cpu %d changes domain with %lu pages "
		"cached; set domains before allocating",
		cpu, pcpu[cpu].count + pcpu[cpu].zcount);
	pcpu[cpu].domain = domain;
	pcpu[cpu].domain_known = true;
}

/*
 * Remember which domain each APIC ID belongs to (the SRAT's processor
 * affinity).  A CPU looks itself up the first time its cache needs pages
 * (pcpu_learn_domain), so CPUs started later need no call of their own.
 * Boot CPU, before the APs start.
 */
void vm_page_set_apic_domains(int n, const uint32_t *apic_id, const int *dom)
{
	napic_domains = 0;
	for (int i = 0; i < n && i < (int)nitems(apic_domains); i++) {
		KASSERT(dom[i] >= 0 && dom[i] < ndomains,
			"APIC %u: no memory domain %d", apic_id[i], dom[i]);
		apic_domains[i].apic_id = apic_id[i];
		apic_domains[i].dom = dom[i];
		napic_domains++;
	}
}

/* Accessors for tests and the shell; the answers are fixed after boot. */
int vm_page_cpu_domain(int cpu)
{
	return pcpu[cpu].domain;
}

int vm_page_ndomains(void)
{
	return ndomains;
}

void vm_page_domain_span(int dom, vm_paddr_t *lo, vm_paddr_t *hi)
{
	*lo = domains[dom].lo;
	*hi = domains[dom].hi;
}

/* ----------------------------------------------------------------------- */
/* The buddy lists.  Callers hold the domain's lock.                       */

/* The page frame number: buddy arithmetic works on these. */
static inline uint64_t page_pfn(vm_page_t m)
{
	return m->phys_addr >> PAGE_SHIFT;
}

/*
 * Push the free block headed by m on d's list of its order and mark it a
 * block head, so that its buddy can find it when merging.  At the head:
 * O(1), and recently freed memory is cache-hot.  Lock held.
 */
static void freelist_insert(struct vm_domain *d, vm_page_t m, int order)
{
	vm_page_t *head = &d->freelist[order];

	d->list_inserts++;
	d->list_steps++;
	m->flags = PG_FREE | PG_BUDDY_HEAD;
	m->order = (uint8_t)order;
	m->pageq_prev = NULL;
	m->pageq_next = *head;
	if (*head != NULL)
		(*head)->pageq_prev = m;
	*head = m;
}

/* Unlink the block headed by m from its list; it is no longer a head. */
static void freelist_remove(struct vm_domain *d, vm_page_t m)
{
	d->list_steps++;
	if (m->pageq_prev != NULL)
		m->pageq_prev->pageq_next = m->pageq_next;
	else
		d->freelist[m->order] = m->pageq_next;
	if (m->pageq_next != NULL)
		m->pageq_next->pageq_prev = m->pageq_prev;
	m->flags &= ~PG_BUDDY_HEAD;
}

/*
 * Give the block of 2^order pages starting at m back to domain d, merging
 * with free buddies of the same segment.  Lock held.
 */
static void buddy_free(struct vm_domain *d, struct vm_phys_seg *s, vm_page_t m,
		       int order)
{
	d->free_pages += 1UL << order;
	while (order < VM_BUDDY_ORDERS - 1) {
		uint64_t buddy_pfn = page_pfn(m) ^ (1UL << order);
		vm_paddr_t buddy_pa = buddy_pfn << PAGE_SHIFT;
		vm_page_t b;

		/* The buddy must exist in this segment, be a free block head
		 * and have the same order; else the merging stops here. */
		if (buddy_pa < s->start || buddy_pa >= s->end)
			break;
		b = &s->pages[(buddy_pa - s->start) >> PAGE_SHIFT];
		if (!(b->flags & PG_BUDDY_HEAD) || b->order != order)
			break;
		/* Merge: the pair becomes one block of order + 1, headed by
		 * the lower of the two. */
		freelist_remove(d, b);
		b->flags = PG_FREE;
		if (b < m)
			m = b;
		order++;
	}
	freelist_insert(d, m, order);
}

/* Take the free block m of order k off d's lists and cut it down to
 * 2^order pages, its lowest ones; the upper halves split off go back on
 * the lists.  Lock held. */
static vm_page_t buddy_take(struct vm_domain *d, vm_page_t m, int k,
			    int order)
{
	freelist_remove(d, m);
	while (k > order) {
		/* Keep the lower half, free the upper half at order k-1. */
		k--;
		freelist_insert(d, m + (1UL << k), k);
	}
	d->free_pages -= 1UL << order;
	m->flags = 0;
	return m;
}

/* Take a block of exactly 2^order pages from d, splitting a larger one;
 * NULL if none.  Lock held. */
static vm_page_t buddy_alloc(struct vm_domain *d, int order)
{
	int k = order;

	/* The smallest non-empty order that is big enough. */
	while (k < VM_BUDDY_ORDERS && d->freelist[k] == NULL)
		k++;
	if (k == VM_BUDDY_ORDERS)
		return NULL;
	return buddy_take(d, d->freelist[k], k, order);
}

/* One page below physical address limit from d, or NULL: the first free
 * block that starts below it, smallest orders first (splitting keeps the
 * lowest page).  Walks the lists: for the few boot-time callers only.
 * Lock held. */
static vm_page_t buddy_alloc_below(struct vm_domain *d, vm_paddr_t limit)
{
	for (int k = 0; k < VM_BUDDY_ORDERS; k++)
		for (vm_page_t m = d->freelist[k]; m != NULL; m = m->pageq_next)
			if (m->phys_addr < limit)
				return buddy_take(d, m, k, 0);
	return NULL;
}

/*
 * Free the pages [first, first + npages) of segment s into its domain as
 * the largest aligned blocks that fit.  Lock held.
 */
static void buddy_free_run(struct vm_phys_seg *s, vm_page_t first,
			   uint64_t npages)
{
	struct vm_domain *d = &domains[s->domain];

	while (npages > 0) {
		int order = 0;

		/* Grow while aligned and the run is long enough. */
		while (order < VM_BUDDY_ORDERS - 1 &&
		       (page_pfn(first) & ((2UL << order) - 1)) == 0 &&
		       (2UL << order) <= npages)
			order++;
		for (uint64_t i = 0; i < (1UL << order); i++)
			first[i].flags = PG_FREE;
		buddy_free(d, s, first, order);
		first += 1UL << order;
		npages -= 1UL << order;
	}
}

/* ----------------------------------------------------------------------- */
/* Boot: from the memory map to free lists.                                */

/* The ranges that must never be handed out: image, MB2 block, modules.
 * (The page array is added once it is placed.) */
static int boot_reserved_ranges(struct vm_range *out)
{
	int n = 0;

	/* The image: boot sections through bss (linker.ld); this also
	 * covers the boot page tables and the boot stack. */
	out[n++] = (struct vm_range){
	    rounddown2((vm_paddr_t)_kernel_phys_start, PAGE_SIZE),
	    roundup2((vm_paddr_t)_kernel_phys_end, PAGE_SIZE)};
	/* GRUB's block: strings in boot_info, and the memory map itself,
	 * are read from it. */
	out[n++] = (struct vm_range){
	    rounddown2(boot_info.info_phys, PAGE_SIZE),
	    roundup2(boot_info.info_phys + boot_info.info_size, PAGE_SIZE)};
	for (int i = 0; i < boot_info.module_count; i++)
		out[n++] = (struct vm_range){
		    rounddown2(boot_info.modules[i].start, PAGE_SIZE),
		    roundup2(boot_info.modules[i].end, PAGE_SIZE)};
	return n;
}

/* The segment of the memory map at or above from (vm_physmap.c, with the
 * SRAT's domains), or false past the last one. */
static bool map_segment(vm_paddr_t from, struct vm_physmap_seg *out)
{
	return vm_physmap_next(&boot_info, dom_ranges, ndom_ranges, from, out);
}

/* Pass 1: how many segments, and how many pages in them. */
static void count_segments(int *count, uint64_t *pages)
{
	struct vm_physmap_seg s;

	*count = 0;
	*pages = 0;
	for (bool more = map_segment(0, &s); more; more = map_segment(s.end, &s)) {
		(*count)++;
		*pages += (s.end - s.start) >> PAGE_SHIFT;
	}
}

/* Where [pa, pa + bytes) overlaps a reserved range, the highest
 * page-aligned place below that range (the next place to try), or 0 if
 * there is none; else pa itself. */
static vm_paddr_t below_reserved(vm_paddr_t pa, size_t bytes,
				 const struct vm_range *rsv, int nrsv)
{
	for (int j = 0; j < nrsv; j++)
		if (pa < rsv[j].end && pa + bytes > rsv[j].start)
			return rsv[j].start < bytes ? 0 :
			       rounddown2(rsv[j].start - bytes, PAGE_SIZE);
	return pa;
}

/* The highest page-aligned place for bytes in segment s, inside the boot
 * direct map and clear of every reserved range; 0 if none. */
static vm_paddr_t highest_fit(const struct vm_physmap_seg *s, size_t bytes,
			      const struct vm_range *rsv, int nrsv)
{
	vm_paddr_t top = MIN(s->end, BOOT_DMAP_SIZE), pa, next;

	if (top < s->start + bytes)
		return 0;
	pa = rounddown2(top - bytes, PAGE_SIZE);
	while (pa >= s->start && pa != 0) {
		next = below_reserved(pa, bytes, rsv, nrsv);
		if (next == pa)
			return pa;
		pa = next;
	}
	return 0;
}

/*
 * Find room for the array (segment table and pages): the highest
 * page-aligned stretch inside the boot direct map (which ends at 4 GiB)
 * that overlaps no reserved range.  Highest, because low memory is the
 * scarce kind: the AP trampoline, boot page tables and devices that can
 * only reach low addresses take it with vm_page_alloc_below(), and an
 * array of 100 MiB (6 GiB of RAM) placed first-fit would cover it all.
 */
static vm_paddr_t place_array(size_t bytes, const struct vm_range *rsv,
			      int nrsv)
{
	struct vm_physmap_seg s;
	vm_paddr_t best = 0, pa;

	for (bool more = map_segment(0, &s); more; more = map_segment(s.end, &s))
		if ((pa = highest_fit(&s, bytes, rsv, nrsv)) > best)
			best = pa;
	if (best == 0)
		panic("vm_page_init: no room for the %lu-byte page array "
		      "below 4 GiB; the machine has too little RAM (try -m 64M "
		      "or more)", bytes);
	return best;
}

/* Pass 2: fill the segment table; each segment's slice of the page array
 * follows the previous one's. */
static void fill_segments(vm_page_t pages)
{
	struct vm_physmap_seg s;
	int i = 0;

	for (bool more = map_segment(0, &s); more; more = map_segment(s.end, &s)) {
		KASSERT(i < nsegs, "the memory map changed between two walks");
		segs[i++] = (struct vm_phys_seg){s.start, s.end, pages, s.domain};
		pages += (s.end - s.start) >> PAGE_SHIFT;
	}
}

/* Is the page at pa in one of the reserved ranges? */
static bool is_reserved(vm_paddr_t pa, const struct vm_range *rsv, int nrsv)
{
	for (int j = 0; j < nrsv; j++)
		if (pa >= rsv[j].start && pa < rsv[j].end)
			return true;
	return false;
}

/* Fill the array for segment s and free its unreserved runs. */
static void init_segment(struct vm_phys_seg *s, const struct vm_range *rsv,
			 int nrsv)
{
	uint64_t n = (s->end - s->start) >> PAGE_SHIFT;
	struct vm_domain *d = &domains[s->domain];
	uint64_t run = 0;

	for (uint64_t i = 0; i <= n; i++) {
		vm_page_t m = &s->pages[i];
		bool rsvd =
		    i == n || is_reserved(s->start + i * PAGE_SIZE, rsv, nrsv);

		/* i == n is a sentinel "reserved" page that flushes the last
		 * run; it has no array entry of its own. */
		if (i < n)
			*m = (struct vm_page){.phys_addr =
						  s->start + i * PAGE_SIZE,
					      .domain = (uint8_t)s->domain,
					      .flags = rsvd ? PG_RESERVED : 0};
		if (!rsvd) {
			run++;
			continue;
		}
		/* A reserved page ends a run of free ones: free the run. */
		if (run > 0)
			buddy_free_run(s, m - run, run);
		d->total_pages += run;
		reserved_pages += i < n;
		run = 0;
	}
	/* The domain's span grows to cover this segment. */
	d->lo = d->hi == 0 ? s->start : MIN(d->lo, s->start);
	d->hi = MAX(d->hi, s->end);
}

/* What building the lists cost, for vm_page_stats. */
static void record_boot_work(void)
{
	for (int i = 0; i < ndomains; i++) {
		boot_blocks += domains[i].list_inserts;
		boot_list_steps += domains[i].list_steps;
	}
}

/*
 * 1. count the segments and their pages (a walk of the map);
 * 2. find room for the segment table and the page array, reserve it;
 * 3. fill the table (a second walk), giving each segment its slice;
 * 4. fill the entries and free every unreserved run.
 */
void vm_page_init(void)
{
	struct vm_range rsv[VM_MAX_RESERVED];
	int nrsv = boot_reserved_ranges(rsv), count;
	vm_paddr_t array_pa;
	size_t bytes;

	KASSERT(nsegs == 0, "vm_page_init called twice");
	count_segments(&count, &total_pages);
	if (count == 0)
		panic("vm_page_init: the memory map lists no usable RAM above "
		      "1 MiB; the boot loader's map is missing or wrong");
	/* One entry per page of every segment, holes in the segments
	 * (reserved pages) included; the table first (8-byte aligned). */
	bytes = count * sizeof(struct vm_phys_seg) +
		total_pages * sizeof(struct vm_page);
	array_pa = place_array(bytes, rsv, nrsv);
	rsv[nrsv++] = (struct vm_range){array_pa,
					roundup2(array_pa + bytes, PAGE_SIZE)};
	/* Zeroed, so that buddy merges never read a stale PG_BUDDY_HEAD. */
	memset(PHYS_TO_DMAP(array_pa), 0, bytes);
	segs = PHYS_TO_DMAP(array_pa);
	nsegs = count;
	fill_segments((vm_page_t)(segs + nsegs));
	/* Every domain's lock, used or not: lookups never see a bad one. */
	for (int i = 0; i < VM_MAX_DOMAINS; i++)
		domains[i].lock =
		    (struct spinlock)SPINLOCK_INITIALIZER("vm_domain");
	for (int i = 0; i < nsegs; i++)
		init_segment(&segs[i], rsv, nrsv);
	record_boot_work();
	free_reserve = MIN(MAX(total_pages / RESERVE_SHARE, RESERVE_MIN),
			   RESERVE_MAX);
	kprintf("vm: %lu pages (%lu MiB) in %d segment%s, %d domain%s, "
		"%lu reserved; page array at %#lx; free lists built in %lu "
		"steps for %lu blocks\n",
		total_pages, total_pages >> (20 - PAGE_SHIFT), nsegs,
		nsegs == 1 ? "" : "s", ndomains, ndomains == 1 ? "" : "s",
		reserved_pages, array_pa, boot_list_steps, boot_blocks);
}

/* ----------------------------------------------------------------------- */
/* Single pages: the per-CPU cache, and its refill / drain slow paths.     */

/* Take one page from domain dom's buddy lists, or NULL. */
/* Both helpers below take the domain lock with interrupts off: an
 * interrupt handler on this CPU may allocate too. */
static vm_page_t domain_alloc_one(int dom)
{
	struct vm_domain *d = &domains[dom];
	uint64_t rf = spin_lock_irqsave(&d->lock);
	vm_page_t m = buddy_alloc(d, 0);

	spin_unlock_irqrestore(&d->lock, rf);
	return m;
}

/* Give one page straight back to its own domain's buddy lists (a page
 * from another domain, freed on this CPU, must not enter its cache). */
static void domain_free_one(vm_page_t m)
{
	struct vm_domain *d = &domains[m->domain];
	uint64_t rf = spin_lock_irqsave(&d->lock);

	m->flags = PG_FREE;
	buddy_free(d, seg_of(m->phys_addr), m, 0);
	spin_unlock_irqrestore(&d->lock, rf);
}

/* Move up to PCPU_CACHE_BATCH pages from the buddy lists into c.  Runs
 * in the caller's critical section (the lock disables interrupts). */
static void pcpu_refill(struct vm_pcpu *c)
{
	struct vm_domain *d = &domains[c->domain];
	uint64_t rf = spin_lock_irqsave(&d->lock);

	for (int i = 0; i < PCPU_CACHE_BATCH; i++) {
		vm_page_t m = buddy_alloc(d, 0);

		if (m == NULL)
			break;
		m->flags = PG_FREE | PG_CACHED;
		m->pageq_next = c->head;
		c->head = m;
		c->count++;
	}
	spin_unlock_irqrestore(&d->lock, rf);
}

/* Move pages from c back to the buddy lists until it holds keep pages. */
static void pcpu_drain(struct vm_pcpu *c, uint64_t keep)
{
	struct vm_domain *d = &domains[c->domain];
	uint64_t rf = spin_lock_irqsave(&d->lock);

	while (c->count > keep) {
		vm_page_t m = c->head;

		c->head = m->pageq_next;
		c->count--;
		m->flags = PG_FREE;
		buddy_free(d, seg_of(m->phys_addr), m, 0);
	}
	spin_unlock_irqrestore(&d->lock, rf);
}

/* Move c's pre-zeroed pages back to the buddy lists.  Critical section. */
static void zpool_drain(struct vm_pcpu *c)
{
	struct vm_domain *d = &domains[c->domain];
	uint64_t rf = spin_lock_irqsave(&d->lock);

	while (c->zhead != NULL) {
		vm_page_t m = c->zhead;

		c->zhead = m->pageq_next;
		c->zcount--;
		m->flags = PG_FREE;
		buddy_free(d, seg_of(m->phys_addr), m, 0);
	}
	spin_unlock_irqrestore(&d->lock, rf);
}

/*
 * Empty this CPU's cache and pre-zeroed pool into the buddy lists.  Used
 * before contiguous allocations (cached pages keep their buddies from
 * merging), when memory runs short, and by tests that need exact buddy
 * counts.  Any context.
 */
void vm_page_cache_drain(void)
{
	struct vm_pcpu *c;

	crit_enter();
	c = &pcpu[cpu_current_id()];
	pcpu_drain(c, 0);
	if (c->zhead != NULL)
		zpool_drain(c);
	crit_exit();
}

/* Pop a pre-zeroed page from this CPU's pool for any allocation, or
 * NULL: the slow path's last resort.  Critical section inside. */
static vm_page_t zpool_pop(void)
{
	struct vm_pcpu *c;
	vm_page_t m;

	crit_enter();
	c = &pcpu[cpu_current_id()];
	m = c->zhead;
	if (m != NULL) {
		c->zhead = m->pageq_next;
		c->zcount--;
		c->allocs++;
		m->flags = 0;
	}
	crit_exit();
	return m;
}

/* Take one page of c's cache for zeroing (NULL if the cache is empty or
 * the pool is full) and mark the pool busy.  Critical section held. */
static vm_page_t zero_take(struct vm_pcpu *c)
{
	vm_page_t m = c->head;

	if (m == NULL || c->zcount + c->zbusy >= ZPOOL_HIGH)
		return NULL;
	c->head = m->pageq_next;
	c->count--;
	c->zbusy = 1;
	m->flags = 0;
	return m;
}

/* The contract is in vm/vm_page.h. */
bool vm_page_zero_idle(void)
{
	struct vm_pcpu *c;
	vm_page_t m;

	crit_enter();
	c = &pcpu[cpu_current_id()];
	m = zero_take(c);
	crit_exit();
	if (m == NULL)
		return false;
	/* Interrupts stay on: the page is ours alone meanwhile. */
	memset(vm_page_to_dmap(m), 0, PAGE_SIZE);
	crit_enter();
	m->flags = PG_FREE | PG_CACHED | PG_ZEROED;
	m->pageq_next = c->zhead;
	c->zhead = m;
	c->zcount++;
	c->zbusy = 0;
	c->zidle++;
	crit_exit();
	return true;
}

/*
 * Pop a page from this CPU's cache, or NULL if it is empty.  The common
 * case of vm_page_alloc(): a critical section, a pop, a counter.
 */
static inline vm_page_t pcpu_pop(void)
{
	struct vm_pcpu *c;
	vm_page_t m;

	crit_enter();
	c = &pcpu[cpu_current_id()];
	m = c->head;
	if (__predict_true(m != NULL)) {
		c->head = m->pageq_next;
		c->count--;
		c->allocs++;
		m->flags = 0;
	}
	crit_exit();
	return m;
}

/*
 * First time in a slow path on this CPU: find its domain by its APIC ID.
 * Whatever the cache picked up before (pages of domain 0, the default) is
 * drained first, so the cache never mixes domains.  Critical section held.
 */
static void pcpu_learn_domain(struct vm_pcpu *c)
{
	uint32_t apic = mycpu->gd_apic_id;

	c->domain_known = true;
	for (int i = 0; i < napic_domains; i++) {
		if (apic_domains[i].apic_id != apic ||
		    apic_domains[i].dom == c->domain)
			continue;
		pcpu_drain(c, 0);
		zpool_drain(c);
		c->domain = apic_domains[i].dom;
	}
}

/* Refill this CPU's cache from its domain and pop; NULL if it is empty. */
static __slowpath vm_page_t pcpu_refill_pop(void)
{
	struct vm_pcpu *c;

	crit_enter();
	c = &pcpu[cpu_current_id()];
	if (__predict_false(!c->domain_known))
		pcpu_learn_domain(c);
	pcpu_refill(c);
	crit_exit();
	return pcpu_pop();
}

/* Nothing anywhere (or, for a user, nothing above the reserve): NULL for
 * VM_ALLOC_NOWAIT and VM_ALLOC_USER callers, else a panic. */
static __slowpath vm_page_t out_of_memory(const char *who, size_t npages,
					  int flags)
{
	crit_enter();
	pcpu[cpu_current_id()].failures++;
	crit_exit();
	if (flags & VM_ALLOC_USER)
		__atomic_fetch_add(&user_refusals, 1, __ATOMIC_RELAXED);
	if (flags & (VM_ALLOC_NOWAIT | VM_ALLOC_USER))
		return NULL;
	panic("%s: out of physical memory (wanted %lu page%s, %lu of %lu "
	      "pages wired); nothing can be paged out yet, so a caller that "
	      "can cope must pass VM_ALLOC_NOWAIT -- or give QEMU more -m",
	      who, npages, npages == 1 ? "" : "s", total_pages - reserved_pages,
	      total_pages);
}

/* Apply VM_ALLOC_ZERO: the pages are reached through the direct map. */
static vm_page_t finish_alloc(vm_page_t m, size_t npages, int flags)
{
	if (flags & VM_ALLOC_ZERO)
		memset(vm_page_to_dmap(m), 0, npages * PAGE_SIZE);
	return m;
}

/* The local cache and its domain are empty: try the other domains. */
/* Runs on another CPU, in its IPI callback: empty its page cache. */
static void drain_cache_here(void *arg)
{
	vm_page_cache_drain();
}

/*
 * Every domain is empty, but other CPUs' caches may still hold pages
 * (up to PCPU_CACHE_HIGH each).  Ask them to give those back and wait --
 * only where waiting for other CPUs is safe: not in an interrupt or IPI
 * callback, holding no spinlock.  Returns whether it asked.
 */
static bool reclaim_other_caches(void)
{
	struct globaldata *gd = mycpu;
	uint64_t others = smp_active_mask & ~gd->gd_cpumask;

	if (others == 0 || gd->gd_intr_nesting_level > 0 ||
	    gd->gd_processing_ipiq > 0 || gd->gd_spinlocks > 0)
		return false;
	lwkt_cpusync(others, drain_cache_here, NULL);
	return true;
}

/* Pages in every domain's buddy lists: a racy sum, each word read once. */
static uint64_t buddy_free_pages(void)
{
	uint64_t n = 0;

	for (int dom = 0; dom < ndomains; dom++)
		n += __atomic_load_n(&domains[dom].free_pages, __ATOMIC_RELAXED);
	return n;
}

bool vm_page_user_room(size_t npages)
{
	return buddy_free_pages() >= free_reserve + npages;
}

/* May an allocation with flags take npages from the buddy lists?  The
 * kernel's always may; a user's only above the reserve. */
static inline bool may_take(int flags, size_t npages)
{
	return !(flags & VM_ALLOC_USER) || vm_page_user_room(npages);
}

/* One page from any domain's buddy lists, or NULL. */
static vm_page_t any_domain_alloc_one(int flags)
{
	vm_page_t m = NULL;

	for (int dom = 0; m == NULL && dom < ndomains; dom++)
		if (may_take(flags, 1))
			m = domain_alloc_one(dom);
	return m;
}

/* The cache is empty: refill it, else take from any domain, else have
 * the other CPUs give back their caches and pools, else take this CPU's
 * pre-zeroed pages -- and only then NULL or a panic. */
static __slowpath vm_page_t vm_page_alloc_slow(int flags)
{
	vm_page_t m = NULL;

	if (may_take(flags, PCPU_CACHE_BATCH))
		m = pcpu_refill_pop();
	if (m == NULL)
		m = any_domain_alloc_one(flags);
	if (m == NULL && reclaim_other_caches())
		m = any_domain_alloc_one(flags);
	if (m == NULL && (m = zpool_pop()) != NULL)
		return m;		/* already zero */
	if (m == NULL)
		return out_of_memory("vm_page_alloc", 1, flags);
	return finish_alloc(m, 1, flags);
}

/*
 * One page.  Fast path: pop this CPU's cache.  Slow path: refill it from
 * the local domain, else take from any domain, else NULL or panic.
 * Never blocks; any context (interrupt handlers included).
 */
/* VM_ALLOC_ZERO: a pre-zeroed page (a hit), else a cache page zeroed
 * here (a miss), else the slow path (which zeroes what it finds).  One
 * critical section for both lists; each way out has its own exit. */
static vm_page_t alloc_zeroed(int flags)
{
	struct vm_pcpu *c;
	vm_page_t m;

	crit_enter();
	c = &pcpu[cpu_current_id()];
	m = c->zhead;
	if (m != NULL) {
		c->zhead = m->pageq_next;
		c->zcount--;
		c->zhits++;
		c->allocs++;
		m->flags = 0;
		crit_exit();
		return m;
	}
	m = c->head;
	if (__predict_false(m == NULL)) {
		crit_exit();
		return vm_page_alloc_slow(flags);
	}
	c->head = m->pageq_next;
	c->count--;
	c->zmisses++;
	c->allocs++;
	m->flags = 0;
	crit_exit();
	return finish_alloc(m, 1, flags);
}

vm_page_t vm_page_alloc(int flags)
{
	vm_page_t m;

	if (flags & VM_ALLOC_ZERO)
		return alloc_zeroed(flags);
	m = pcpu_pop();
	if (__predict_false(m == NULL))
		return vm_page_alloc_slow(flags);
	return m;
}

/*
 * One page whose physical address is below limit, from whichever domain
 * has one (the calling CPU's may lie entirely above it).  For memory that
 * must be reachable before the kernel's own direct map exists, or by
 * 32-bit code: pmap_init's page tables, the PML4 the APs load.  Skips the
 * per-CPU caches and walks the buddy lists, so it is slow; boot-time
 * callers.  Any context; never blocks.
 */
vm_page_t vm_page_alloc_below(vm_paddr_t limit, int flags)
{
	vm_page_t m = NULL;

	for (int dom = 0; dom < ndomains && m == NULL; dom++) {
		struct vm_domain *d = &domains[dom];
		uint64_t rf;

		if (d->lo >= limit)
			continue;
		rf = spin_lock_irqsave(&d->lock);
		m = buddy_alloc_below(d, limit);
		spin_unlock_irqrestore(&d->lock, rf);
	}
	if (m == NULL)
		return out_of_memory("vm_page_alloc_below", 1, flags);
	return finish_alloc(m, 1, flags);
}

/*
 * One page of domain dom and no other.  From this CPU's cache when it is
 * the local domain (the cache holds only local pages), else directly from
 * that domain's lists under its lock.
 */
vm_page_t vm_page_alloc_domain(int dom, int flags)
{
	vm_page_t m;

	KASSERT(dom >= 0 && dom < ndomains, "no memory domain %d (have %d)",
		dom, ndomains);
	if (dom == pcpu[cpu_current_id()].domain) {
		m = pcpu_pop();
		if (m == NULL)
			m = pcpu_refill_pop();
	} else {
		m = domain_alloc_one(dom);
	}
	if (m == NULL)
		return out_of_memory("vm_page_alloc_domain", 1, flags);
	return finish_alloc(m, 1, flags);
}

/* Why a page cannot be freed; panics. */
static __slowpath void page_misuse(vm_page_t m, const char *who)
{
	KASSERT(m != NULL, "%s(NULL)", who);
	if (m->flags & PG_FREE)
		panic("%s: page %#lx is already free: a double free (the "
		      "page was freed twice, or freed and still in use)",
		      who, m->phys_addr);
	panic("%s: page %#lx is reserved (kernel image, boot data or the "
	      "page array); it was never allocated",
	      who, m->phys_addr);
}

/* Panic unless m is a page someone allocated. */
static inline void check_allocated(vm_page_t m, const char *who)
{
	if (__predict_false(m == NULL || (m->flags & (PG_FREE | PG_RESERVED))))
		page_misuse(m, who);
}

/* Forget what the page was used for, keeping the usage counters right. */
static inline void clear_usage(vm_page_t m)
{
	if (__predict_false(m->flags & PG_SLAB))
		__atomic_fetch_sub(&slab_pages, 1, __ATOMIC_RELAXED);
	if (__predict_false(m->flags & PG_PAGETABLE))
		__atomic_fetch_sub(&pagetable_pages, 1, __ATOMIC_RELAXED);
	m->owner = NULL;
	m->ku_pagecnt = 0;
}

/*
 * A page of another domain, or a cache grown past its high mark.  Entered
 * inside vm_page_free's critical section and ends it, so that the fast
 * path keeps nothing alive across crit_exit() (which may run deferred
 * interrupts) and needs no stack frame.
 */
static __slowpath void vm_page_free_slow_crit(struct vm_pcpu *c, vm_page_t m)
{
	if (__predict_false(!c->domain_known))
		pcpu_learn_domain(c);
	if (m->domain != c->domain) {
		crit_exit();
		domain_free_one(m);
		return;
	}
	m->flags = PG_FREE | PG_CACHED;
	m->pageq_next = c->head;
	c->head = m;
	if (++c->count > PCPU_CACHE_HIGH)
		pcpu_drain(c, PCPU_CACHE_HIGH - PCPU_CACHE_BATCH);
	crit_exit();
}

void vm_page_free(vm_page_t m)
{
	struct vm_pcpu *c;

	check_allocated(m, "vm_page_free");
	clear_usage(m);
	crit_enter();
	c = &pcpu[cpu_current_id()];
	c->frees++;
	if (__predict_false(m->domain != c->domain ||
			    c->count >= PCPU_CACHE_HIGH))
		return vm_page_free_slow_crit(c, m);
	m->flags = PG_FREE | PG_CACHED;
	m->pageq_next = c->head;
	c->head = m;
	c->count++;
	crit_exit();
}

/* Mark a page's use for the counters (PG_SLAB, PG_PAGETABLE, PG_KMEM). */
void vm_page_flag_set(vm_page_t m, uint16_t flag)
{
	if ((flag & PG_SLAB) && !(m->flags & PG_SLAB))
		__atomic_fetch_add(&slab_pages, 1, __ATOMIC_RELAXED);
	if ((flag & PG_PAGETABLE) && !(m->flags & PG_PAGETABLE))
		__atomic_fetch_add(&pagetable_pages, 1, __ATOMIC_RELAXED);
	m->flags |= flag;
}

/* ----------------------------------------------------------------------- */
/* Contiguous runs.                                                        */

/* The buddy order whose blocks hold npages and are aligned to align:
 * a block of order k is aligned to PAGE_SIZE << k by construction. */
static int order_for(size_t npages, vm_paddr_t align)
{
	int order = 0;

	while ((1UL << order) < npages)
		order++;
	while ((PAGE_SIZE << order) < align)
		order++;
	return order;
}

/* Take 2^order pages from dom, give back the tail beyond npages. */
/* Runs are rare and may be long: the slow, simple way is fine here. */
static vm_page_t domain_alloc_run(int dom, int order, size_t npages)
{
	struct vm_domain *d = &domains[dom];
	uint64_t rf = spin_lock_irqsave(&d->lock);
	vm_page_t m = buddy_alloc(d, order);

	if (m != NULL && npages < (1UL << order)) {
		uint64_t tail = (1UL << order) - npages;

		buddy_free_run(seg_of(m->phys_addr), m + npages, tail);
	}
	spin_unlock_irqrestore(&d->lock, rf);
	for (size_t i = 0; m != NULL && i < npages; i++)
		m[i].flags = 0;
	return m;
}

/*
 * npages contiguous pages aligned to align.  Tries the caller's domain
 * first, then the others; if all fail, drains this CPU's cache (its pages
 * may be the missing buddies) and tries once more.
 */
vm_page_t vm_page_alloc_contig(size_t npages, vm_paddr_t align, int flags)
{
	int order = order_for(npages, align), home;
	vm_page_t m = NULL;

	KASSERT(npages > 0 && (align & (align - 1)) == 0,
		"npages %lu, align %#lx: need npages > 0 and a power-of-two "
		"alignment",
		npages, align);
	if (order >= VM_BUDDY_ORDERS)
		return out_of_memory("vm_page_alloc_contig", npages, flags);
	home = pcpu[cpu_current_id()].domain;
	for (int pass = 0; pass < 3 && m == NULL; pass++) {
		/* Pages sitting in CPU caches block merges: drain this CPU's,
		 * then the others'. */
		if (pass == 1)
			vm_page_cache_drain();
		if (pass == 2 && !reclaim_other_caches())
			break;
		for (int i = 0; i < ndomains && m == NULL; i++)
			m = domain_alloc_run((home + i) % ndomains, order,
					     npages);
	}
	if (m == NULL)
		return out_of_memory("vm_page_alloc_contig", npages, flags);
	return finish_alloc(m, npages, flags);
}

/* Give back a run: every page is checked before any is freed, then the
 * run goes back as the largest aligned blocks it contains. */
void vm_page_free_contig(vm_page_t m, size_t npages)
{
	struct vm_domain *d = &domains[m->domain];
	uint64_t rf;

	for (size_t i = 0; i < npages; i++) {
		check_allocated(&m[i], "vm_page_free_contig");
		clear_usage(&m[i]);
	}
	rf = spin_lock_irqsave(&d->lock);
	buddy_free_run(seg_of(m->phys_addr), m, npages);
	spin_unlock_irqrestore(&d->lock, rf);
}

/* ----------------------------------------------------------------------- */
/* Counters.                                                               */

/*
 * Snapshot the counters.  Lock-free: each number is read once and may be
 * a moment older than the next, which is fine for reports and for tests
 * (they run alone).  Cached pages count as free for their domain.
 */
void vm_page_stats(struct vm_page_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->total = total_pages;
	st->reserved = reserved_pages;
	st->boot_free_blocks = boot_blocks;
	st->boot_list_steps = boot_list_steps;
	st->ndomains = ndomains;
	for (int i = 0; i < ndomains; i++) {
		st->domain_total[i] = domains[i].total_pages;
		st->domain_free[i] = domains[i].free_pages;
		st->free += domains[i].free_pages;
	}
	for (int cpu = 0; cpu < MAXCPU; cpu++) {
		const struct vm_pcpu *c = &pcpu[cpu];
		uint64_t zeroed = c->zcount + c->zbusy;

		st->cpu_cached[cpu] = c->count + zeroed;
		st->cpu_zeroed[cpu] = zeroed;
		st->cached += c->count + zeroed;
		st->zeroed += zeroed;
		st->domain_free[c->domain] += c->count + zeroed;
		st->allocs += c->allocs;
		st->frees += c->frees;
		st->alloc_failures += c->failures;
		st->zero_hits += c->zhits;
		st->zero_misses += c->zmisses;
		st->zero_idle += c->zidle;
	}
	st->wired = total_pages - reserved_pages - st->free - st->cached;
	st->reserve = free_reserve;
	st->user_refusals = __atomic_load_n(&user_refusals, __ATOMIC_RELAXED);
	st->slab = __atomic_load_n(&slab_pages, __ATOMIC_RELAXED);
	st->pagetable = __atomic_load_n(&pagetable_pages, __ATOMIC_RELAXED);
}

/* Wired pages that are not kmalloc zones or page tables: those two keep
 * pages for good by design and are checked by their own counters. */
uint64_t vm_page_leak_sample(void)
{
	struct vm_page_stats st;

	vm_page_stats(&st);
	return st.wired - st.slab - st.pagetable;
}

/* The shell's view of the counters, one line per domain and busy CPU. */
void vm_page_print_stats(void)
{
	struct vm_page_stats st;

	vm_page_stats(&st);
	kprintf("  pages: %lu total, %lu reserved, %lu free, %lu cached, "
		"%lu wired (%lu slab, %lu page tables)\n",
		st.total, st.reserved, st.free, st.cached, st.wired, st.slab,
		st.pagetable);
	kprintf("  reserve: %lu pages kept from user programs, %lu user "
		"allocations refused\n", st.reserve, st.user_refusals);
	kprintf("  pre-zeroed: %lu pages in the CPUs' pools, %lu zero "
		"allocations from a pool, %lu zeroed on the spot, %lu pages "
		"zeroed by idle CPUs\n", st.zeroed, st.zero_hits,
		st.zero_misses, st.zero_idle);
	for (int i = 0; i < st.ndomains; i++)
		kprintf("  domain %d: %lu pages, %lu free, span %#lx-%#lx\n", i,
			st.domain_total[i], st.domain_free[i], domains[i].lo,
			domains[i].hi);
	for (int cpu = 0; cpu < MAXCPU; cpu++)
		if (pcpu[cpu].allocs + pcpu[cpu].frees > 0)
			kprintf("  cpu %d: %lu cached (%lu pre-zeroed; domain "
				"%d), %lu allocs, %lu frees, %lu failures\n",
				cpu, st.cpu_cached[cpu], st.cpu_zeroed[cpu],
				pcpu[cpu].domain,
				pcpu[cpu].allocs, pcpu[cpu].frees,
				pcpu[cpu].failures);
}

/* The test harness compares this around every suite (kern/ktest.h). */
KTEST_LEAKCHECK(vm_pages, "pages", vm_page_leak_sample, NULL);
