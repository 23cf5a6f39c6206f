/*
 * kern_slaballoc.c - kmalloc/kfree: a per-CPU slab allocator after
 * DragonFly's, with malloc types that say who holds the memory.
 *
 * A zone is ZONE_SIZE (32 KiB) of physically contiguous pages, aligned to
 * its size, reached through the direct map, cut into chunks of one size
 * class.  Its header sits at the start of the zone, so the zone of any
 * chunk is the chunk's address with the low bits cleared:
 *
 *   zone (32 KiB aligned)
 *   +--------+---------+---------+---------+-- ... --+---------+
 *   | header | chunk 0 | chunk 1 | chunk 2 |         | chunk N |
 *   +--------+---------+---------+---------+-- ... --+---------+
 *   header: owner CPU, free list, type charge, free count (the part the
 *           inline fast paths read, struct kmalloc_zone_head), then
 *           magic, size class, state, list links, the remote-free list
 *
 *   a free chunk: | next | KMALLOC_FREE_MARK | (rest untouched) |
 *
 * Every zone belongs to one CPU.  Each CPU keeps, per size class, a list
 * of its zones that have free chunks.  The head of the list is the
 * class's *current* zone, and kmalloc_curzone[class][cpu] points at it.
 * The fast paths are inline, in kern/malloc.h:
 *
 *   kmalloc:  crit_enter; z = curzone[class][cpu]; pop z's free list;
 *             clear the mark; count the chunk out; charge the type;
 *             crit_exit                                        (18 insns)
 *   kfree:    z = ptr & ~(ZONE_SIZE - 1); z's owner is this CPU and the
 *             chunk is not marked free: mark it; credit the type; push
 *             with one cmpxchg; count it back in              (20 insns)
 *
 * Only the owner touches a zone's free list, so neither needs a lock or
 * a LOCK-prefixed instruction.  kmalloc's pop (a load, then a store)
 * needs a critical section, or an interrupt handler could pop the same
 * chunk in between.  kfree's push and counts are each one instruction,
 * which an interrupt cannot split, so kfree needs no critical section at
 * all: a push interrupted before its cmpxchg simply retries.
 *
 * Zone states, and why kfree's count tells it when to look.  A zone is
 * CURRENT (head of its class list), PARTIAL (further down the list, at
 * least one chunk free) or DRY (off the list: it ran out while current).
 * zh_avail holds the number of free chunks minus a bias that depends on
 * the state, chosen so that zh_avail reaches zero exactly when kfree must
 * do something:
 *
 *   state     bias      zh_avail reaches 0 when...     slow path does
 *   CURRENT   nmax + 1  never (nfree <= nmax)          -
 *   PARTIAL   nmax      the zone is entirely free       retire it
 *   DRY       1         its first chunk comes back      put it on the list
 *
 * Everything else is a slow path in its own function: a class whose
 * current zone ran dry (refill), a zone that changed state, a chunk of
 * another CPU, a size above KMALLOC_ZONE_LIMIT, a pointer that is not a
 * chunk, and the debug mode.
 *
 * Remote frees.  A CPU that frees another CPU's chunk must not touch the
 * owner's free list.  It pushes the chunk on the zone's remote list with
 * one compare-and-swap.  When that list goes from empty to non-empty, it
 * also pushes the zone on the owner's list of zones with remote frees
 * (slglobaldata.rzones), and when *that* goes from empty to non-empty it
 * sends the owner a passive IPIQ message (slab_remote_kick): no hardware
 * interrupt, the owner runs slab_remote_ipi at its next tick or when it
 * next processes its IPI queue, and also drains the list itself whenever
 * a class runs dry.  So one message covers any number of remote frees,
 * as in DragonFly.  Only the owner drains, through rzones, so a zone with
 * chunks on its remote list can never be retired under a remote CPU.
 *
 * Misuse is caught, not trusted.  kfree panics on a chunk whose free mark
 * is set (a double free), on a pointer outside every zone that starts no
 * large allocation, and -- on the slow path, which every remote free and
 * every free in debug mode takes -- on a pointer into the middle of a
 * chunk.  With kmalloc.debug on, every kmalloc and kfree takes the slow
 * path: freed chunks are filled with a pattern that kmalloc checks when
 * it hands them out again, catching writes after free.
 *
 * Statistics are per malloc type and per CPU (bytes and allocations in
 * use), written only by their CPU with single instructions; a remote free
 * debits the freeing CPU, so only the sum over CPUs is meaningful.
 */
#include <kern/types.h>
#include <kern/cmdline.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <machine/cpu.h>
#include <vm/pmap.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>

#define ZONE_SIZE	KMALLOC_ZONE_SIZE
#define ZONE_PAGES	(ZONE_SIZE / PAGE_SIZE)
#define ZONE_MAGIC	0x736c6162 /* "slab" */
#define FREE_ZONES_KEEP 2	   /* empty zones a CPU keeps for reuse */
#define POISON_WORD	0xdeadc0dedeadc0deUL
#define NCLASSES	KMALLOC_NCLASSES

/* Slow paths stay out of line, so the fast paths need no stack frame. */
#define __slowpath __attribute__((noinline, cold))

enum zone_state { ZS_CURRENT, ZS_PARTIAL, ZS_DRY, ZS_CACHED };

/* The zone header.  Owner fields: z_cpu's critical section only. */
struct slzone {
	struct kmalloc_zone_head z_head; /* first: the fast paths' part */
	uint32_t z_magic;		 /* ZONE_MAGIC */
	int16_t z_cpu;			 /* owner, set at creation */
	uint8_t z_class;
	uint8_t z_state;	       /* enum zone_state (owner) */
	uint32_t z_chunk_size;
	uint32_t z_nmax;	       /* chunks in the zone */
	struct slzone *z_next;	       /* owner: class list / cached zones */
	struct kmalloc_chunk *z_rfree; /* any CPU: remote frees, CAS push */
	struct slzone *z_rnext;	       /* any CPU: link on owner's rzones */
	char *z_base;		       /* chunk 0 */
};

_Static_assert(__builtin_offsetof(struct slzone, z_head) == 0,
	       "the fast paths find the zone head at the zone's start");
_Static_assert(sizeof(struct kmalloc_chunk) <= 16,
	       "the smallest class must hold a free chunk's link and mark");

static const uint16_t class_sizes[NCLASSES] = KMALLOC_CLASS_SIZES;

/* size_to_class[(size + 15) / 16]: the smallest class >= size. */
static uint8_t size_to_class[KMALLOC_ZONE_LIMIT / 16 + 1];

/* One CPU's allocator state.  Owned by that CPU, critical section,
 * except rzones, which any CPU pushes on. */
struct slglobaldata {
	struct slzone *zones[NCLASSES]; /* class lists; head is current */
	struct slzone *free_zones;	/* empty zones kept for reuse */
	int nfree_zones;
	uint64_t nzones; /* zones this CPU owns */
	uint64_t large_allocs;
	uint64_t remote_frees;		/* chunks this CPU gave back */
	uint64_t remote_kicks;		/* passive IPIs this CPU sent */
	uint64_t remote_drained;	/* chunks others gave back to us */
	struct slzone *rzones;		/* any CPU: zones with remote frees */
} __aligned(CACHE_LINE_SIZE);

static struct slglobaldata slab_gd[MAXCPU];
static bool kmalloc_debug;
static vm_offset_t dmap_size; /* zones lie in [DMAP_BASE, + dmap_size) */

/* The empty sentinel every kmalloc_curzone slot holds when its class has
 * no zone: its free list is NULL, so the fast path falls through. */
static struct kmalloc_zone_head empty_zone;

struct kmalloc_zone_head *kmalloc_curzone[NCLASSES][MAXCPU];
intptr_t kfree_fast_limit = (intptr_t)DMAP_BASE; /* nothing, until init */

extern struct malloc_type *const __start_malloc_types[],
    *const __stop_malloc_types[];

MALLOC_DEFINE(M_TEMP, "temp", "short-lived scratch memory");

static void zone_settle(struct slglobaldata *slgd, struct slzone *z);
static void drain_remote(struct slglobaldata *slgd);
static void *debug_check_chunk(struct slzone *z, struct kmalloc_chunk *c,
			       struct malloc_type *type, int flags);
static void debug_poison_chunk(struct slzone *z, struct kmalloc_chunk *c);

static inline struct slzone *zone_of(const void *ptr)
{
	return (struct slzone *)((vm_offset_t)ptr &
				 ~(vm_offset_t)(ZONE_SIZE - 1));
}

static inline struct slglobaldata *this_slgd(void)
{
	return &slab_gd[cpu_current_id()];
}

/* Charge (or credit) the type on this CPU, for the slow paths. */
static void charge(struct malloc_type *type, int64_t bytes, int64_t count)
{
	crit_enter();
	type->ks_cpu[cpu_current_id()].memuse += bytes;
	type->ks_cpu[cpu_current_id()].inuse += count;
	crit_exit();
}

/* ----------------------------------------------------------------------- */
/* Zone states and class lists.  Owner CPU, in a critical section.         */

/* The bias of a state: zh_avail = free chunks - bias (table above). */
static int32_t zone_bias(const struct slzone *z)
{
	switch (z->z_state) {
	case ZS_CURRENT:
		return (int32_t)z->z_nmax + 1;
	case ZS_PARTIAL:
		return (int32_t)z->z_nmax;
	default:
		return 1;
	}
}

static uint32_t zone_nfree(const struct slzone *z)
{
	return (uint32_t)(z->z_head.zh_avail + zone_bias(z));
}

/* Move z to state st, keeping its free count. */
static void zone_set_state(struct slzone *z, enum zone_state st)
{
	uint32_t nfree = zone_nfree(z);

	z->z_state = (uint8_t)st;
	z->z_head.zh_avail = (int32_t)nfree - zone_bias(z);
}

/* Point the fast path at class ci's current zone (or the sentinel). */
static void curzone_update(struct slglobaldata *slgd, int ci)
{
	struct slzone *z = slgd->zones[ci];

	kmalloc_curzone[ci][slgd - slab_gd] =
	    z != NULL && !kmalloc_debug ? &z->z_head : &empty_zone;
}

/* Put z on its class list: at the head (current) if the list is empty,
 * else second (partial), so the current zone keeps serving. */
static void zone_link(struct slglobaldata *slgd, struct slzone *z)
{
	struct slzone *head = slgd->zones[z->z_class];

	if (head == NULL) {
		z->z_next = NULL;
		slgd->zones[z->z_class] = z;
		zone_set_state(z, ZS_CURRENT);
		curzone_update(slgd, z->z_class);
		return;
	}
	z->z_next = head->z_next;
	head->z_next = z;
	zone_set_state(z, ZS_PARTIAL);
}

/* Take z off its class list (a short singly linked walk); the next zone
 * becomes current if z was.  z's state is the caller's to set. */
static void zone_unlink(struct slglobaldata *slgd, struct slzone *z)
{
	struct slzone **pp = &slgd->zones[z->z_class];

	while (*pp != z)
		pp = &(*pp)->z_next;
	*pp = z->z_next;
	if (pp == &slgd->zones[z->z_class]) {
		if (z->z_next != NULL)
			zone_set_state(z->z_next, ZS_CURRENT);
		curzone_update(slgd, z->z_class);
	}
}

/* The offset of chunk 0: past the header, aligned like the chunk size's
 * lowest set bit (so power-of-two sizes are size-aligned), at most a page. */
static size_t first_chunk_offset(size_t chunk_size)
{
	size_t align = MIN(chunk_size & -chunk_size, PAGE_SIZE);

	return roundup2(sizeof(struct slzone), align);
}

/* Format a zone for class ci owned by cpu: header and a free list of
 * every chunk in address order, all marked free.  Any context (the zone
 * is private); it starts DRY and off every list. */
static void zone_format(struct slzone *z, int ci, int cpu)
{
	size_t size = class_sizes[ci];
	size_t first = first_chunk_offset(size);

	memset(z, 0, sizeof(*z));
	z->z_head.zh_owner = globaldata_find(cpu);
	z->z_head.zh_size = (int64_t)size;
	z->z_head.zh_stat_off = (uint32_t)(cpu * sizeof(struct malloc_type_cpu));
	z->z_magic = ZONE_MAGIC;
	z->z_cpu = (int16_t)cpu;
	z->z_class = (uint8_t)ci;
	z->z_state = ZS_DRY;
	z->z_chunk_size = (uint32_t)size;
	z->z_base = (char *)z + first;
	z->z_nmax = (uint32_t)((ZONE_SIZE - first) / size);
	z->z_head.zh_avail = (int32_t)z->z_nmax - 1; /* DRY bias */
	for (uint32_t i = z->z_nmax; i-- > 0;) {
		struct kmalloc_chunk *c =
		    (struct kmalloc_chunk *)(z->z_base + i * size);

		c->kc_next = z->z_head.zh_freelist;
		c->kc_mark = KMALLOC_FREE_MARK;
		z->z_head.zh_freelist = c;
	}
}

/* Fresh zone pages from this CPU's domain; outside a critical section. */
static struct slzone *zone_pages_alloc(int flags)
{
	vm_page_t m = vm_page_alloc_contig(ZONE_PAGES, ZONE_SIZE,
					   flags & M_NOWAIT ? VM_ALLOC_NOWAIT
							    : VM_ALLOC_NORMAL);

	if (m == NULL)
		return NULL;
	for (int i = 0; i < (int)ZONE_PAGES; i++) {
		vm_page_flag_set(&m[i], PG_SLAB);
		m[i].owner = vm_page_to_dmap(m);
	}
	return vm_page_to_dmap(m);
}

/* Give a zone's pages back to vm_page; stale pointers into it now fail
 * both the owner test and the magic test. */
static void zone_pages_free(struct slglobaldata *slgd, struct slzone *z)
{
	z->z_magic = 0;
	z->z_head.zh_owner = NULL;
	slgd->nzones--;
	vm_page_free_contig(PHYS_TO_VM_PAGE(DMAP_TO_PHYS(z)), ZONE_PAGES);
}

/* An entirely free zone leaves its list: cached for reuse, or freed. */
static void zone_retire(struct slglobaldata *slgd, struct slzone *z)
{
	zone_unlink(slgd, z);
	z->z_state = ZS_CACHED;
	z->z_head.zh_owner = NULL; /* a stale kfree takes the slow path */
	if (slgd->nfree_zones < FREE_ZONES_KEEP) {
		z->z_next = slgd->free_zones;
		slgd->free_zones = z;
		slgd->nfree_zones++;
	} else {
		zone_pages_free(slgd, z);
	}
}

/*
 * Chunks came back to z (its count hit zero, or a batch of remote frees
 * arrived): a DRY zone with a free chunk goes back on its list, and a
 * PARTIAL zone that is entirely free retires.  The current zone stays
 * even when empty: the next kmalloc of its class would want it back.
 */
static void zone_settle(struct slglobaldata *slgd, struct slzone *z)
{
	if (z->z_state == ZS_DRY && zone_nfree(z) > 0)
		zone_link(slgd, z);
	if (z->z_state == ZS_PARTIAL && zone_nfree(z) == z->z_nmax)
		zone_retire(slgd, z);
}

/*
 * kfree's slow path when zh_avail reached zero: the zone was DRY and got
 * a chunk back, or was PARTIAL and became entirely free.  Owner CPU,
 * outside a critical section (another free may land first: settle looks
 * at the count again, inside one).
 */
void kfree_zone_changed(struct kmalloc_zone_head *zh)
{
	struct slzone *z = (struct slzone *)zh;

	crit_enter();
	KASSERT(z->z_cpu == cpu_current_id(),
		"kfree_zone_changed: zone %p belongs to CPU %d", z, z->z_cpu);
	zone_settle(this_slgd(), z);
	crit_exit();
}

/* ----------------------------------------------------------------------- */
/* Remote frees: any CPU gives, the owner takes back.                      */

/* Take every chunk other CPUs freed in z back onto z's own free list.
 * Owner, critical section. */
static void zone_drain_remote(struct slglobaldata *slgd, struct slzone *z)
{
	struct kmalloc_chunk *c =
	    __atomic_exchange_n(&z->z_rfree, NULL, __ATOMIC_ACQUIRE);
	int32_t n = 0;

	while (c != NULL) {
		struct kmalloc_chunk *next = c->kc_next;

		c->kc_next = z->z_head.zh_freelist;
		z->z_head.zh_freelist = c;
		n++;
		c = next;
	}
	z->z_head.zh_avail += n;
	slgd->remote_drained += (uint64_t)n;
	zone_settle(slgd, z);
}

/*
 * Drain every zone that other CPUs pushed on rzones.  A zone's link is
 * read before its remote list is taken: from then on a remote CPU may
 * push the zone again (its list went empty), reusing the link.  Owner,
 * critical section.
 */
static void drain_remote(struct slglobaldata *slgd)
{
	struct slzone *z;

	if (__atomic_load_n(&slgd->rzones, __ATOMIC_RELAXED) == NULL)
		return;
	z = __atomic_exchange_n(&slgd->rzones, NULL, __ATOMIC_ACQUIRE);
	while (z != NULL) {
		struct slzone *next = z->z_rnext;

		zone_drain_remote(slgd, z);
		z = next;
	}
}

/* The passive IPIQ message: "your rzones list is not empty".  Runs on
 * the owner, in a critical section, from its IPI queue. */
static void slab_remote_ipi(void *arg1, int arg2, struct trapframe *frame)
{
	drain_remote(this_slgd());
}

/*
 * Tell CPU owner that its rzones list went from empty to non-empty.  A
 * passive message: no hardware IPI, the owner runs it at its next clock
 * tick or when something else interrupts it -- remote frees are never
 * urgent, and one message covers every free until the owner drains.
 */
static void slab_remote_kick(int owner)
{
	if (!(smp_active_mask & (1UL << owner)))
		return; /* not running yet: it drains at its first refill */
	lwkt_send_ipiq3_passive(globaldata_find(owner), slab_remote_ipi, NULL,
				0);
	crit_enter();
	this_slgd()->remote_kicks++;
	crit_exit();
}

/*
 * Hand a chunk back to the CPU that owns its zone.  Lock-free: one CAS
 * push on the zone's remote list; if that list was empty, one more on
 * the owner's rzones list, and if that was empty too, a passive IPI.
 * Everything read from the zone is read before the push: once the chunk
 * is visible the owner may drain it and retire the zone -- except while
 * the zone waits on rzones, which only the owner's drain empties.
 */
static void kfree_remote(struct slzone *z, struct kmalloc_chunk *c,
			 struct malloc_type *type)
{
	int64_t size = z->z_chunk_size;
	int owner = z->z_cpu;
	struct slglobaldata *oslgd = &slab_gd[owner];
	struct kmalloc_chunk *head;
	struct slzone *zhead;

	c->kc_mark = KMALLOC_FREE_MARK;
	head = __atomic_load_n(&z->z_rfree, __ATOMIC_RELAXED);
	do
		c->kc_next = head;
	while (!__atomic_compare_exchange_n(
	    &z->z_rfree, &head, c, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	if (head == NULL) {
		zhead = __atomic_load_n(&oslgd->rzones, __ATOMIC_RELAXED);
		do
			z->z_rnext = zhead;
		while (!__atomic_compare_exchange_n(&oslgd->rzones, &zhead, z,
						    true, __ATOMIC_RELEASE,
						    __ATOMIC_RELAXED));
		if (zhead == NULL)
			slab_remote_kick(owner);
	}
	charge(type, -size, -1);
	crit_enter();
	this_slgd()->remote_frees++;
	crit_exit();
}

/* ----------------------------------------------------------------------- */
/* kmalloc's slow paths.                                                   */

/*
 * Make class ci's current zone one with a free chunk: take back remote
 * frees, then retire a dry current zone in favour of the next partial
 * one, then reuse a cached empty zone or make a new one.  Returns false
 * if memory ran out (M_NOWAIT).  Owner, critical section; may leave and
 * re-enter it to allocate pages.
 */
static bool zone_refill(int ci, int flags)
{
	struct slglobaldata *slgd = this_slgd();
	struct slzone *z;

	drain_remote(slgd);
	while ((z = slgd->zones[ci]) != NULL) {
		if (z->z_head.zh_freelist != NULL)
			return true;
		zone_unlink(slgd, z); /* back on the list at its next kfree */
		zone_set_state(z, ZS_DRY);
	}
	if ((z = slgd->free_zones) != NULL) {
		slgd->free_zones = z->z_next;
		slgd->nfree_zones--;
	} else {
		crit_exit();
		z = zone_pages_alloc(flags);
		crit_enter();
		if (z == NULL)
			return false;
		slgd = this_slgd();
		slgd->nzones++;
	}
	zone_format(z, ci, cpu_current_id());
	zone_link(slgd, z);
	return true;
}

/* Pop one chunk of class ci for type: the fast path's work, plus refills.
 * NULL if memory ran out.  Critical section held on entry and exit. */
static struct kmalloc_chunk *zone_alloc_crit(int ci, struct malloc_type *type,
					     int flags)
{
	struct slzone *z;
	struct kmalloc_chunk *c;

	for (;;) {
		z = this_slgd()->zones[ci];
		if (z != NULL && (c = z->z_head.zh_freelist) != NULL)
			break;
		if (!zone_refill(ci, flags))
			return NULL;
	}
	if (c->kc_mark != KMALLOC_FREE_MARK)
		panic("kmalloc: a free %u-byte chunk at %p lost its free mark: "
		      "something wrote to it after it was freed (boot with "
		      "kmalloc.debug=1 to catch the writer's offset)",
		      z->z_chunk_size, (void *)c);
	z->z_head.zh_freelist = c->kc_next;
	c->kc_mark = 0;
	z->z_head.zh_avail--;
	type->ks_cpu[cpu_current_id()].memuse += z->z_chunk_size;
	type->ks_cpu[cpu_current_id()].inuse++;
	return c;
}

/* After the critical section: the debug check and M_ZERO. */
static void *kmalloc_finish(struct kmalloc_chunk *c, int ci,
			    struct malloc_type *type, int flags)
{
	if (c == NULL)
		return NULL;
	if (kmalloc_debug)
		return debug_check_chunk(zone_of(c), c, type, flags);
	if (flags & M_ZERO)
		memset(c, 0, class_sizes[ci]);
	return c;
}

/*
 * The inline fast path found class ci's current zone empty (or the
 * sentinel).  Entered in its critical section; ends it.
 */
__slowpath void *kmalloc_class_slow_crit(int ci, struct malloc_type *type,
					  int flags)
{
	struct kmalloc_chunk *c;

	KASSERT(type->ks_magic == M_MAGIC,
		"kmalloc: type %p is not a malloc type (define it with "
		"MALLOC_DEFINE)",
		type);
	c = zone_alloc_crit(ci, type, flags);
	crit_exit();
	return kmalloc_finish(c, ci, type, flags);
}

/* More than a zone chunk: whole pages in the kernel-virtual region. */
static void *kmalloc_large(size_t size, struct malloc_type *type, int flags)
{
	size_t npages = roundup2(size, PAGE_SIZE) >> PAGE_SHIFT;
	void *p = kmem_alloc(size, (flags & M_NOWAIT ? VM_ALLOC_NOWAIT : 0) |
				       (flags & M_ZERO ? VM_ALLOC_ZERO : 0));
	vm_page_t m;

	if (p == NULL)
		return NULL;
	m = PHYS_TO_VM_PAGE(pmap_kextract((vm_offset_t)p));
	m->ku_pagecnt = (int32_t)npages;
	charge(type, (int64_t)(npages * PAGE_SIZE), 1);
	crit_enter();
	this_slgd()->large_allocs++;
	crit_exit();
	return p;
}

/*
 * Every kmalloc the inline fast path does not take: a size that is not
 * a compile-time constant, M_ZERO, size 0, sizes above the zone limit.
 */
void *kmalloc_any(size_t size, struct malloc_type *type, int flags)
{
	struct kmalloc_chunk *c;
	int ci;

	KASSERT(type->ks_magic == M_MAGIC,
		"kmalloc: type %p is not a malloc type (define it with "
		"MALLOC_DEFINE)",
		type);
	if (size == 0)
		return KMALLOC_ZERO_PTR;
	if (size > KMALLOC_ZONE_LIMIT)
		return kmalloc_large(size, type, flags);
	ci = size_to_class[(size + 15) >> 4];
	crit_enter();
	c = zone_alloc_crit(ci, type, flags);
	crit_exit();
	return kmalloc_finish(c, ci, type, flags);
}

/* ----------------------------------------------------------------------- */
/* kfree's slow paths.                                                     */

/* A page-backed allocation: check it is one, unmap, free the pages. */
static void kfree_large(void *ptr, struct malloc_type *type)
{
	vm_paddr_t pa = pmap_kextract((vm_offset_t)ptr);
	vm_page_t m = pa == (vm_paddr_t)-1 ? NULL : PHYS_TO_VM_PAGE(pa);
	size_t npages;

	if (m == NULL)
		panic("kfree(%p): nothing is mapped there: a double free of a "
		      "large allocation, or a pointer kmalloc never returned",
		      ptr);
	if (!(m->flags & PG_KMEM) || m->ku_pagecnt <= 0 || m->owner != ptr)
		panic("kfree(%p): not the start of a large kmalloc "
		      "allocation; free the pointer kmalloc gave",
		      ptr);
	npages = (size_t)m->ku_pagecnt;
	m->ku_pagecnt = 0;
	kmem_free(ptr, npages * PAGE_SIZE);
	charge(type, -(int64_t)(npages * PAGE_SIZE), -1);
	crit_enter();
	this_slgd()->large_allocs--;
	crit_exit();
}

/* The zone of ptr, or NULL if ptr lies in no zone (outside the direct
 * map, or in pages that are not a live zone). */
static struct slzone *zone_lookup(const void *ptr)
{
	vm_offset_t va = (vm_offset_t)ptr;
	struct slzone *z = zone_of(ptr);

	if (va - DMAP_BASE >= dmap_size || z->z_magic != ZONE_MAGIC)
		return NULL;
	return z;
}

/*
 * The checks the fast path leaves out or cannot decide: ptr must be the
 * start of a chunk in a live zone, and the chunk must not be free.
 * Panics, saying which, otherwise.
 */
static void kfree_check_chunk(struct slzone *z, struct kmalloc_chunk *c)
{
	char *p = (char *)c;
	size_t off = (size_t)(p - z->z_base);

	if (p < z->z_base || off % z->z_chunk_size != 0)
		panic("kfree(%p): not a pointer kmalloc returned: it points "
		      "%lu bytes into a %u-byte chunk; free the pointer "
		      "kmalloc gave, not an address inside it",
		      p, p < z->z_base ? 0 : off % z->z_chunk_size,
		      z->z_chunk_size);
	if (c->kc_mark == KMALLOC_FREE_MARK || z->z_state == ZS_CACHED)
		panic("kfree(%p): double free of a %u-byte chunk (it is already "
		      "free); the memory was freed twice, or freed and kept in "
		      "use.  (A chunk whose second word holds %#lx looks free "
		      "too: that value is kmalloc's free mark.)",
		      p, z->z_chunk_size, KMALLOC_FREE_MARK);
}

/* A chunk of this CPU's zone on the slow path (debug mode, or before
 * kmalloc_init): what the inline fast path does, poisoning in debug mode. */
static void kfree_local(struct slzone *z, struct kmalloc_chunk *c,
			struct malloc_type *type)
{
	if (kmalloc_debug)
		debug_poison_chunk(z, c);
	c->kc_mark = KMALLOC_FREE_MARK;
	crit_enter();
	type->ks_cpu[cpu_current_id()].memuse -= z->z_chunk_size;
	type->ks_cpu[cpu_current_id()].inuse--;
	c->kc_next = z->z_head.zh_freelist;
	z->z_head.zh_freelist = c;
	if (++z->z_head.zh_avail == 0)
		zone_settle(this_slgd(), z);
	crit_exit();
}

/*
 * Every kfree the inline fast path declined: the zero-size pointer (a
 * no-op), a page-backed allocation, another CPU's chunk, a chunk marked
 * free (a double free), everything in debug mode, and pointers kmalloc
 * never returned (panic, naming them).
 */
__slowpath void kfree_slow(void *ptr, struct malloc_type *type)
{
	vm_offset_t va = (vm_offset_t)ptr;
	struct slzone *z;

	KASSERT(type->ks_magic == M_MAGIC,
		"kfree: type %p is not a malloc type (memory corruption, or a "
		"wrong argument)",
		type);
	if (ptr == KMALLOC_ZERO_PTR)
		return;
	if (va >= KVA_BASE && va < KVA_END)
		return kfree_large(ptr, type);
	if ((z = zone_lookup(ptr)) == NULL)
		panic("kfree(%p): not a pointer kmalloc returned (it is in "
		      "no kmalloc zone and no large allocation)%s",
		      ptr, ptr == NULL ? "; kfree(NULL) is a bug here" : "");
	kfree_check_chunk(z, ptr);
	if (z->z_cpu == cpu_current_id())
		return kfree_local(z, ptr, type);
	if (kmalloc_debug)
		debug_poison_chunk(z, ptr);
	kfree_remote(z, ptr, type);
}

/* ----------------------------------------------------------------------- */
/* Write-after-free detection (kmalloc.debug).                             */

/* Fill all but the link and the mark of a chunk being freed. */
static __slowpath void debug_poison_chunk(struct slzone *z,
					  struct kmalloc_chunk *c)
{
	uint64_t *w = (uint64_t *)c;

	for (size_t i = 2; i < z->z_chunk_size / 8; i++)
		w[i] = POISON_WORD;
}

/*
 * A chunk being handed out: if it was poisoned when freed, every word but
 * the link and the mark must still be POISON_WORD.  A chunk with no
 * poison at all was freed before debugging was on and is not judged.
 */
static __slowpath void *debug_check_chunk(struct slzone *z,
					  struct kmalloc_chunk *c,
					  struct malloc_type *type, int flags)
{
	const uint64_t *w = (const uint64_t *)c;
	size_t nwords = z->z_chunk_size / 8, bad = 0, first_bad = 0;

	for (size_t i = 2; i < nwords; i++)
		if (w[i] != POISON_WORD && bad++ == 0)
			first_bad = i;
	if (bad == 0 || bad == nwords - 2)
		return flags & M_ZERO ? memset(c, 0, z->z_chunk_size) : c;
	/* Put the chunk back, clean, so the allocator stays consistent. */
	kfree_local(z, c, type);
	panic("kmalloc: write after free in a %u-byte chunk at %p: offset %lu "
	      "changed after the chunk was freed (%lu words differ); some code "
	      "kept a pointer to memory it had freed",
	      z->z_chunk_size, (void *)c, first_bad * 8, bad);
}

/* This CPU's fast-path view of its classes, after a debug switch. */
static void curzone_refresh(void *arg)
{
	crit_enter();
	for (int ci = 0; ci < NCLASSES; ci++)
		curzone_update(this_slgd(), ci);
	crit_exit();
}

/*
 * Debug on: the fast paths step aside (every kfree pointer is above the
 * limit, every current-zone slot is the sentinel), so every operation
 * takes the slow path, which poisons and checks.  Only chunks freed while
 * debugging is on are checked.  Thread context.
 */
void kmalloc_set_debug(bool on)
{
	kmalloc_debug = on;
	kfree_fast_limit = on ? (intptr_t)DMAP_BASE
			      : (intptr_t)(DMAP_BASE + dmap_size);
	if (smp_active_mask & ~(1UL << cpu_current_id()))
		lwkt_cpusync(smp_active_mask, curzone_refresh, NULL);
	else
		curzone_refresh(NULL);
}

bool kmalloc_debug_enabled(void)
{
	return kmalloc_debug;
}

/* ----------------------------------------------------------------------- */
/* Boot, statistics, leak check.                                           */

/*
 * Fill the size-to-class table, point every fast-path slot at the empty
 * sentinel and learn how far the direct map reaches (a kfree pointer
 * outside it cannot be a zone chunk).  No zone is made here: the first
 * kmalloc of each class on each CPU makes its own.  Boot CPU, after
 * pmap_init().
 */
void kmalloc_init(void)
{
	struct pmap_stats ps;
	char val[8];
	int ci = 0;

	for (size_t i = 0; i < nitems(size_to_class); i++) {
		while (class_sizes[ci] < i * 16)
			ci++;
		size_to_class[i] = (uint8_t)ci;
	}
	for (int c = 0; c < NCLASSES; c++) {
		KASSERT(_kmalloc_class_bytes(c) == class_sizes[c] &&
			    _kmalloc_size_class(class_sizes[c]) == c,
			"kern/malloc.h's class arithmetic disagrees with "
			"class_sizes[%d]",
			c);
		for (int cpu = 0; cpu < MAXCPU; cpu++)
			kmalloc_curzone[c][cpu] = &empty_zone;
	}
	pmap_get_stats(&ps);
	dmap_size = ps.dmap_bytes;
	if (cmdline_get("kmalloc.debug", val, sizeof(val)))
		kmalloc_debug = val[0] != '0';
	kfree_fast_limit = kmalloc_debug ? (intptr_t)DMAP_BASE
					 : (intptr_t)(DMAP_BASE + dmap_size);
	kprintf("kmalloc: %d size classes %u..%u bytes in %u KiB zones, "
		"larger sizes page-backed%s\n",
		NCLASSES, class_sizes[0], class_sizes[NCLASSES - 1],
		ZONE_SIZE / 1024,
		kmalloc_debug ? ", write-after-free checks on" : "");
}

int kmalloc_nclasses(void)
{
	return NCLASSES;
}

size_t kmalloc_class_size(int i)
{
	KASSERT(i >= 0 && i < NCLASSES, "no size class %d", i);
	return class_sizes[i];
}

/* How many bytes the caller may really use: the class size, or whole
 * pages for a large allocation; 0 for anything kmalloc did not return. */
size_t kmalloc_usable_size(const void *ptr)
{
	vm_offset_t va = (vm_offset_t)ptr;
	const struct slzone *z;

	if (va >= KVA_BASE && va < KVA_END) {
		vm_page_t m = PHYS_TO_VM_PAGE(pmap_kextract(va));

		return m != NULL ? (size_t)m->ku_pagecnt * PAGE_SIZE : 0;
	}
	if ((z = zone_lookup(ptr)) != NULL)
		return z->z_chunk_size;
	return 0;
}

/* Sums over the per-CPU slots; a single slot may be negative. */
int64_t malloc_type_bytes(const struct malloc_type *type)
{
	int64_t sum = 0;

	for (int cpu = 0; cpu < MAXCPU; cpu++)
		sum += type->ks_cpu[cpu].memuse;
	return sum;
}

int64_t malloc_type_count(const struct malloc_type *type)
{
	int64_t sum = 0;

	for (int cpu = 0; cpu < MAXCPU; cpu++)
		sum += type->ks_cpu[cpu].inuse;
	return sum;
}

/* Over every type in the malloc_types section. */
uint64_t kmalloc_bytes_in_use(void)
{
	int64_t sum = 0;

	for (struct malloc_type *const *t = __start_malloc_types;
	     t < __stop_malloc_types; t++)
		sum += malloc_type_bytes(*t);
	return sum < 0 ? 0 : (uint64_t)sum;
}

void kmalloc_print_types(const char *prefix, bool only_used)
{
	for (struct malloc_type *const *t = __start_malloc_types;
	     t < __stop_malloc_types; t++)
		if (!only_used || malloc_type_count(*t) != 0)
			kprintf("%stype=%s bytes=%ld count=%ld\n", prefix,
				(*t)->ks_shortdesc, malloc_type_bytes(*t),
				malloc_type_count(*t));
}

/* Allocator-wide counters (a snapshot, read without stopping anyone). */
void kmalloc_get_stats(struct kmalloc_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (int cpu = 0; cpu < MAXCPU; cpu++) {
		st->zones += slab_gd[cpu].nzones;
		st->free_zones += (uint64_t)slab_gd[cpu].nfree_zones;
		st->large_allocs += slab_gd[cpu].large_allocs;
		st->remote_frees += slab_gd[cpu].remote_frees;
		st->remote_kicks += slab_gd[cpu].remote_kicks;
		st->remote_drained += slab_gd[cpu].remote_drained;
	}
}

uint64_t kmalloc_cpu_zones(void)
{
	return this_slgd()->nzones;
}

/*
 * Give this CPU's entirely free zones back to vm_page: take back remote
 * frees first, retire current zones with nothing in use, then empty the
 * cache of retired zones.
 */
void kmalloc_reclaim(void)
{
	struct slglobaldata *slgd;

	crit_enter();
	slgd = this_slgd();
	drain_remote(slgd);
	for (int ci = 0; ci < NCLASSES; ci++) {
		struct slzone *z;

		/* Retiring the current zone makes the next one current. */
		while ((z = slgd->zones[ci]) != NULL &&
		       zone_nfree(z) == z->z_nmax)
			zone_retire(slgd, z);
	}
	while (slgd->free_zones != NULL) {
		struct slzone *z = slgd->free_zones;

		slgd->free_zones = z->z_next;
		slgd->nfree_zones--;
		zone_pages_free(slgd, z);
	}
	crit_exit();
}

/*
 * The test harness's leak check: bytes in use over all types.  Each
 * sample also remembers every type's bytes, so that explain() can name
 * the types that grew since the previous sample.
 */
static uint64_t leak_sample(void)
{
	for (struct malloc_type *const *t = __start_malloc_types;
	     t < __stop_malloc_types; t++) {
		(*t)->ks_leak_prev = (*t)->ks_leak_cur;
		(*t)->ks_leak_cur = malloc_type_bytes(*t);
	}
	return kmalloc_bytes_in_use();
}

static void leak_explain(void)
{
	for (struct malloc_type *const *t = __start_malloc_types;
	     t < __stop_malloc_types; t++)
		if ((*t)->ks_leak_cur > (*t)->ks_leak_prev)
			kprintf("  # leak: type=%s bytes=%ld count=%ld\n",
				(*t)->ks_shortdesc,
				(*t)->ks_leak_cur - (*t)->ks_leak_prev,
				malloc_type_count(*t));
}

KTEST_LEAKCHECK(kmalloc_bytes, "kmalloc bytes", leak_sample, leak_explain);
