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
 *   header: magic, owner CPU, size class, free count, the free list,
 *           the remote-free list, one "allocated" bit per 16 bytes
 *
 * Every zone belongs to one CPU.  Each CPU keeps, per size class, a list
 * of its zones that have free chunks; the first zone of the list serves
 * allocations.  Because only the owner touches a zone's free list, the
 * fast paths need no lock and no atomic instruction, only a critical
 * section against interrupts on the same CPU:
 *
 *   kmalloc:  class = table[size / 16]; crit_enter; z = zones[class];
 *             pop z's free list; set the chunk's bit; count; crit_exit
 *   kfree:    z = chunk & ~(ZONE_SIZE - 1); if z's owner is this CPU:
 *             crit_enter; clear the bit; push; count; crit_exit
 *
 * Everything unusual moves to a slow path in its own function: a zone
 * ran dry, a zone became entirely free, a chunk belongs to another CPU,
 * a size above KMALLOC_ZONE_LIMIT, or a pointer that is not a chunk.
 *
 * Remote frees.  A CPU that frees another CPU's chunk must not touch the
 * owner's free list.  It pushes the chunk on the zone's remote list with
 * one compare-and-swap; the owner takes the whole list back (one atomic
 * exchange) when the zone's own free list runs dry.  With SMP the owner
 * is also poked by a passive IPI when a list goes from empty to non-empty
 * (see slab_remote_kick), as DragonFly does.
 *
 * Sizes above the zone limit get whole pages in the kernel-virtual region
 * (kmem_alloc); the page count is kept in the first page's vm_page.
 *
 * Misuse is caught, not trusted: the "allocated" bit of a chunk must be
 * set when it is freed (else: a double free, or a pointer into the middle
 * of a chunk); a pointer must lie in a zone (magic) or be the start of a
 * large allocation.  With kmalloc.debug on, freed chunks are filled with
 * a pattern that kmalloc checks when it hands them out again, catching
 * writes after free.
 *
 * Statistics are per malloc type and per CPU (bytes and allocations in
 * use), written only by their CPU in a critical section; a remote free
 * debits the freeing CPU, so only the sum over CPUs is meaningful.
 */
#include <kern/types.h>
#include <kern/cmdline.h>
#include <kern/critical.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <machine/cpu.h>
#include <vm/pmap.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>

#define ZONE_SIZE	  (32 * 1024)
#define ZONE_PAGES	  (ZONE_SIZE / PAGE_SIZE)
#define ZONE_MAGIC	  0x736c6162 /* "slab" */
#define CHUNK_GRAIN_SHIFT 4	     /* every chunk starts on 16 bytes */
#define ZONE_MAP_WORDS	  (ZONE_SIZE >> CHUNK_GRAIN_SHIFT >> 6)
#define FREE_ZONES_KEEP	  2 /* empty zones a CPU keeps for reuse */
#define POISON_WORD	  0xdeadc0dedeadc0deUL

/* Slow paths stay out of line, so the fast paths need no stack frame. */
#define __slowpath __attribute__((noinline, cold))

/* A free chunk: the first word links it on a free list. */
struct slchunk {
	struct slchunk *c_next;
};

/* The zone header.  Owner fields: z_cpu's critical section only. */
struct slzone {
	uint32_t z_magic; /* ZONE_MAGIC */
	int16_t z_cpu;	  /* owner, set at creation */
	uint8_t z_class;
	uint8_t z_linked; /* on its class list (owner) */
	uint32_t z_chunk_size;
	uint32_t z_nfree, z_nmax;   /* owner */
	struct slchunk *z_freelist; /* owner: LIFO, cache-hot first */
	struct slzone *z_next;	    /* owner: class list / free zones */
	struct slchunk *z_rfree;    /* any CPU: remote frees, CAS push */
	char *z_base;		    /* chunk 0 */
	uint64_t z_allocmap[ZONE_MAP_WORDS]; /* bit per 16 bytes: in use */
};

/* Size classes: power-of-two-ish, each about 1.5x the one before. */
static const uint16_t class_sizes[] = {
    16,	 32,  48,  64,	 96,   128,  192,  256,
    384, 512, 768, 1024, 1536, 2048, 3072, 4096,
};
#define NCLASSES ((int)nitems(class_sizes))

/* size_to_class[(size + 15) / 16]: the smallest class >= size. */
static uint8_t size_to_class[KMALLOC_ZONE_LIMIT / 16 + 1];

/* One CPU's allocator state.  Owned by that CPU, critical section. */
struct slglobaldata {
	struct slzone *zones[NCLASSES]; /* zones with free chunks */
	struct slzone *free_zones;	/* empty zones kept for reuse */
	int nfree_zones;
	uint64_t nzones; /* zones this CPU owns */
	uint64_t large_allocs;
	uint64_t remote_frees;
} __aligned(CACHE_LINE_SIZE);

static struct slglobaldata slab_gd[MAXCPU];
static bool kmalloc_debug;
static vm_offset_t dmap_size; /* zones lie in [DMAP_BASE, + dmap_size) */

extern struct malloc_type *const __start_malloc_types[],
    *const __stop_malloc_types[];

MALLOC_DEFINE(M_TEMP, "temp", "short-lived scratch memory");

static void *kmalloc_slow(size_t size, struct malloc_type *type, int flags);
static void kfree_slow(void *ptr, struct malloc_type *type);
static void kfree_zone_changed_crit(struct slzone *z);
static void *kmalloc_slow_crit(size_t size, struct malloc_type *type,
			       int flags);
static void *kmalloc_finish_crit(struct slzone *z, struct slchunk *c,
				 struct malloc_type *type, int flags);
static void kfree_slow_crit(void *ptr, struct malloc_type *type);
static void kfree_bad_chunk_crit(struct slzone *z, void *ptr);
static void kfree_bad_chunk(struct slzone *z, void *ptr);
static void *debug_check_chunk(struct slzone *z, struct slchunk *c,
			       struct malloc_type *type, int flags);
static void debug_poison_chunk(struct slzone *z, struct slchunk *c);

/* ----------------------------------------------------------------------- */
/* Bits of the allocation map (BTS/BTR: SDM vol. 2A, "BTS", "BTR").        */

/* Set bit; return its old value.  A register bit offset lets BTS address
 * the whole map as one bit string. */
static inline bool map_test_and_set(uint64_t *map, uint64_t bit)
{
	bool old;

	__asm__ volatile("btsq %2, %1"
			 : "=@ccc"(old), "+m"(*map)
			 : "r"(bit)
			 : "memory");
	return old;
}

static inline bool map_test_and_clear(uint64_t *map, uint64_t bit)
{
	bool old;

	__asm__ volatile("btrq %2, %1"
			 : "=@ccc"(old), "+m"(*map)
			 : "r"(bit)
			 : "memory");
	return old;
}

/* A chunk's bit: its offset in the zone in 16-byte units. */
static inline uint64_t chunk_bit(const struct slzone *z, const void *c)
{
	return ((vm_offset_t)c - (vm_offset_t)z) >> CHUNK_GRAIN_SHIFT;
}

/* ----------------------------------------------------------------------- */
/* The fast paths.                                                         */

/*
 * The fast path: a size the zones serve, and a zone of its class with a
 * free chunk on this CPU.  Inside one critical section it pops the chunk,
 * marks it allocated and charges the type; nothing is locked and nothing
 * is atomic, because only this CPU ever touches this zone's list.
 */
void *kmalloc(size_t size, struct malloc_type *type, int flags)
{
	struct slglobaldata *slgd;
	struct slzone *z;
	struct slchunk *c;
	int cpu;

	/* size 0 wraps around and takes the slow path too. */
	if (__predict_false(size - 1 >= KMALLOC_ZONE_LIMIT))
		return kmalloc_slow(size, type, flags);
	crit_enter();
	cpu = cpu_current_id();
	slgd = &slab_gd[cpu];
	z = slgd->zones[size_to_class[(size + 15) >> 4]];
	if (__predict_false(z == NULL || z->z_freelist == NULL))
		return kmalloc_slow_crit(size, type, flags);
	c = z->z_freelist;
	z->z_freelist = c->c_next;
	z->z_nfree--;
	map_test_and_set(z->z_allocmap, chunk_bit(z, c));
	type->ks_cpu[cpu].memuse += z->z_chunk_size;
	type->ks_cpu[cpu].inuse++;
	/* Rare cases leave through tail calls that also end the critical
	 * section, so nothing here must survive a call: no stack frame. */
	if (__predict_false(kmalloc_debug || (flags & M_ZERO)))
		return kmalloc_finish_crit(z, c, type, flags);
	crit_exit();
	return c;
}

/* kfree's body once ptr is known to lie in a zone: give the chunk back
 * if this CPU owns the zone, else hand it to the remote path. */
static inline void _kfree_chunk(struct slzone *z, struct slchunk *c,
				struct malloc_type *type)
{
	int cpu;

	crit_enter();
	cpu = cpu_current_id();
	if (__predict_false(z->z_cpu != cpu))
		return kfree_slow_crit(c, type);
	if (__predict_false(
		!map_test_and_clear(z->z_allocmap, chunk_bit(z, c))))
		return kfree_bad_chunk_crit(z, c);
	c->c_next = z->z_freelist;
	z->z_freelist = c;
	type->ks_cpu[cpu].memuse -= z->z_chunk_size;
	type->ks_cpu[cpu].inuse--;
	if (__predict_false(++z->z_nfree == 1 || z->z_nfree == z->z_nmax))
		return kfree_zone_changed_crit(z);
	crit_exit();
}

/*
 * Ways out of the fast paths' critical sections.  Each is entered with the
 * section held and ends it before the real work, so the fast paths keep
 * nothing alive across crit_exit() (which may run deferred interrupts).
 */
static __slowpath void *kmalloc_slow_crit(size_t size, struct malloc_type *type,
					  int flags)
{
	crit_exit();
	return kmalloc_slow(size, type, flags);
}

static __slowpath void *kmalloc_finish_crit(struct slzone *z, struct slchunk *c,
					    struct malloc_type *type, int flags)
{
	crit_exit();
	if (kmalloc_debug)
		return debug_check_chunk(z, c, type, flags);
	return memset(c, 0, z->z_chunk_size);
}

static __slowpath void kfree_slow_crit(void *ptr, struct malloc_type *type)
{
	crit_exit();
	kfree_slow(ptr, type);
}

static __slowpath void kfree_bad_chunk_crit(struct slzone *z, void *ptr)
{
	crit_exit();
	kfree_bad_chunk(z, ptr);
}

/* kfree with write-after-free poisoning on (kmalloc.debug). */
static __slowpath void kfree_debug(struct slzone *z, struct slchunk *c,
				   struct malloc_type *type)
{
	debug_poison_chunk(z, c);
	_kfree_chunk(z, c, type);
}

/*
 * The fast path: ptr lies in a zone (direct map + magic) that this CPU
 * owns.  Everything else -- large allocations, KMALLOC_ZERO_PTR, foreign
 * pointers, other CPUs' zones -- goes to kfree_slow.
 */
void kfree(void *ptr, struct malloc_type *type)
{
	struct slzone *z =
	    (struct slzone *)((vm_offset_t)ptr & ~(vm_offset_t)(ZONE_SIZE - 1));

	if (__predict_false((vm_offset_t)ptr - DMAP_BASE >= dmap_size ||
			    z->z_magic != ZONE_MAGIC))
		return kfree_slow(ptr, type);
	if (__predict_false(kmalloc_debug))
		return kfree_debug(z, ptr, type);
	_kfree_chunk(z, ptr, type);
}

/* ----------------------------------------------------------------------- */
/* Zones: making, listing, retiring.  Owner CPU, in a critical section     */
/* unless said otherwise.                                                  */

/* Put z at the head of its class list: it serves the next kmalloc. */
static void zone_link(struct slglobaldata *slgd, struct slzone *z)
{
	z->z_next = slgd->zones[z->z_class];
	slgd->zones[z->z_class] = z;
	z->z_linked = 1;
}

/* Take z off its class list (a short singly linked walk). */
static void zone_unlink(struct slglobaldata *slgd, struct slzone *z)
{
	struct slzone **pp = &slgd->zones[z->z_class];

	while (*pp != z)
		pp = &(*pp)->z_next;
	*pp = z->z_next;
	z->z_linked = 0;
}

/* The offset of chunk 0: past the header, aligned like the chunk size's
 * lowest set bit (so power-of-two sizes are size-aligned), at most a page. */
static size_t first_chunk_offset(size_t chunk_size)
{
	size_t align = MIN(chunk_size & -chunk_size, PAGE_SIZE);

	return roundup2(sizeof(struct slzone), align);
}

/* Format a zone for class ci owned by cpu: header and a free list of
 * every chunk in address order.  Any context (the zone is private). */
static void zone_format(struct slzone *z, int ci, int cpu)
{
	size_t size = class_sizes[ci];
	size_t first = first_chunk_offset(size);

	memset(z, 0, sizeof(*z));
	z->z_magic = ZONE_MAGIC;
	z->z_cpu = (int16_t)cpu;
	z->z_class = (uint8_t)ci;
	z->z_chunk_size = (uint32_t)size;
	z->z_base = (char *)z + first;
	z->z_nmax = z->z_nfree = (uint32_t)((ZONE_SIZE - first) / size);
	for (uint32_t i = z->z_nmax; i-- > 0;) {
		struct slchunk *c = (struct slchunk *)(z->z_base + i * size);

		c->c_next = z->z_freelist;
		z->z_freelist = c;
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

/* Give an empty zone's pages back to vm_page. */
static void zone_pages_free(struct slzone *z)
{
	z->z_magic = 0; /* a stale pointer now fails the magic test */
	vm_page_free_contig(PHYS_TO_VM_PAGE(DMAP_TO_PHYS(z)), ZONE_PAGES);
}

/* Take every chunk other CPUs freed back onto z's own free list. */
static void zone_drain_remote(struct slzone *z)
{
	struct slchunk *c =
	    __atomic_exchange_n(&z->z_rfree, NULL, __ATOMIC_ACQUIRE);

	while (c != NULL) {
		struct slchunk *next = c->c_next;

		if (!map_test_and_clear(z->z_allocmap, chunk_bit(z, c)))
			kfree_bad_chunk(z, c);
		c->c_next = z->z_freelist;
		z->z_freelist = c;
		z->z_nfree++;
		c = next;
	}
}

/*
 * A zone of class ci with a free chunk, at the head of this CPU's list:
 * drain remote frees, drop dry zones, else make a new zone (reusing a
 * cached empty one first).  Returns false if memory ran out (M_NOWAIT).
 * Called in a critical section; may leave and re-enter it.
 */
static bool zone_refill(int ci, int flags)
{
	struct slglobaldata *slgd = &slab_gd[cpu_current_id()];
	struct slzone *z;

	while ((z = slgd->zones[ci]) != NULL) {
		zone_drain_remote(z);
		if (z->z_freelist != NULL)
			return true;
		zone_unlink(slgd, z); /* full: relinked by its next kfree */
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
		slgd = &slab_gd[cpu_current_id()];
		slgd->nzones++;
	}
	zone_format(z, ci, cpu_current_id());
	zone_link(slgd, z);
	return true;
}

/*
 * kfree's bookkeeping when z just went from full to one free chunk, or
 * became entirely free.  Owner CPU, called inside kfree's critical
 * section; ends it.
 */
static __slowpath void kfree_zone_changed_crit(struct slzone *z)
{
	struct slglobaldata *slgd;

	slgd = &slab_gd[cpu_current_id()];
	if (!z->z_linked && z->z_nfree > 0)
		zone_link(slgd, z);
	if (z->z_nfree != z->z_nmax || slgd->zones[z->z_class] == z ||
	    !z->z_linked) {
		crit_exit();
		return; /* keep the class's head zone even if empty */
	}
	zone_unlink(slgd, z);
	if (slgd->nfree_zones < FREE_ZONES_KEEP) {
		z->z_next = slgd->free_zones;
		slgd->free_zones = z;
		slgd->nfree_zones++;
	} else {
		slgd->nzones--;
		zone_pages_free(z);
	}
	crit_exit();
}

/* ----------------------------------------------------------------------- */
/* kmalloc's slow paths.                                                   */

/* Charge (or credit) the type on this CPU, for the slow paths. */
static void charge(struct malloc_type *type, int64_t bytes, int64_t count)
{
	crit_enter();
	type->ks_cpu[cpu_current_id()].memuse += bytes;
	type->ks_cpu[cpu_current_id()].inuse += count;
	crit_exit();
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
	slab_gd[cpu_current_id()].large_allocs++;
	crit_exit();
	return p;
}

/*
 * Every kmalloc the fast path declined: size 0, sizes above the zone
 * limit, and a class whose zones ran dry (refill, then retry the fast
 * path, which must now succeed).
 */
static __slowpath void *kmalloc_slow(size_t size, struct malloc_type *type,
				     int flags)
{
	int ci;
	bool ok;

	KASSERT(type->ks_magic == M_MAGIC,
		"kmalloc: type %p is not a "
		"malloc type (define it with MALLOC_DEFINE)",
		type);
	if (size == 0)
		return KMALLOC_ZERO_PTR;
	if (size > KMALLOC_ZONE_LIMIT)
		return kmalloc_large(size, type, flags);
	ci = size_to_class[(size + 15) >> 4];
	crit_enter();
	ok = zone_refill(ci, flags);
	crit_exit();
	if (!ok)
		return NULL;
	return kmalloc(size, type, flags); /* now the fast path succeeds */
}

/* ----------------------------------------------------------------------- */
/* kfree's slow paths.                                                     */

/*
 * Hand a chunk back to the CPU that owns its zone.  Lock-free: one CAS
 * push on the zone's remote list.  The owner picks it up when its free
 * list runs dry.
 */
static void kfree_remote(struct slzone *z, struct slchunk *c,
			 struct malloc_type *type)
{
	struct slchunk *head = __atomic_load_n(&z->z_rfree, __ATOMIC_RELAXED);

	do
		c->c_next = head;
	while (!__atomic_compare_exchange_n(
	    &z->z_rfree, &head, c, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
	charge(type, -(int64_t)z->z_chunk_size, -1);
	crit_enter();
	slab_gd[cpu_current_id()].remote_frees++;
	crit_exit();
	/* slab_remote_kick: with SMP, a passive IPI to z->z_cpu when head
	 * was NULL lets the owner reclaim without waiting for a refill. */
}

/* A chunk whose "allocated" bit was clear: say exactly what is wrong.
 * Never returns (not declared so, so that kfree can tail-call it). */
static __slowpath void kfree_bad_chunk(struct slzone *z, void *ptr)
{
	size_t off = (size_t)((char *)ptr - z->z_base);

	if ((char *)ptr < z->z_base || off % z->z_chunk_size != 0)
		panic("kfree(%p): not a pointer kmalloc returned: it points "
		      "%lu bytes into a %u-byte chunk; free the pointer "
		      "kmalloc gave, not an address inside it",
		      ptr, (char *)ptr < z->z_base ? 0 : off % z->z_chunk_size,
		      z->z_chunk_size);
	panic("kfree(%p): double free of a %u-byte chunk (it is already "
	      "free); the memory was freed twice, or freed and kept in use",
	      ptr, z->z_chunk_size);
}

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
	slab_gd[cpu_current_id()].large_allocs--;
	crit_exit();
}

/*
 * Every kfree that is not a local zone chunk: the zero-size pointer (a
 * no-op), a page-backed allocation, another CPU's chunk, or a pointer
 * kmalloc never returned (panic, naming it).
 */
static __slowpath void kfree_slow(void *ptr, struct malloc_type *type)
{
	vm_offset_t va = (vm_offset_t)ptr;
	struct slzone *z =
	    (struct slzone *)(va & ~(vm_offset_t)(ZONE_SIZE - 1));

	KASSERT(type->ks_magic == M_MAGIC,
		"kfree: type %p is not a malloc "
		"type (memory corruption, or a wrong argument)",
		type);
	if (ptr == KMALLOC_ZERO_PTR)
		return;
	if (va >= KVA_BASE && va < KVA_END)
		return kfree_large(ptr, type);
	if (va - DMAP_BASE >= dmap_size || z->z_magic != ZONE_MAGIC)
		panic("kfree(%p): not a pointer kmalloc returned (it is in "
		      "no kmalloc zone and no large allocation)%s",
		      ptr, ptr == NULL ? "; kfree(NULL) is a bug here" : "");
	kfree_remote(z, ptr, type);
}

/* ----------------------------------------------------------------------- */
/* Write-after-free detection (kmalloc.debug).                             */

/* Fill all but the link word of a chunk being freed with POISON_WORD. */
static __slowpath void debug_poison_chunk(struct slzone *z, struct slchunk *c)
{
	uint64_t *w = (uint64_t *)c;

	for (size_t i = 1; i < z->z_chunk_size / 8; i++)
		w[i] = POISON_WORD;
}

/*
 * A chunk being handed out: if it was poisoned when freed, every word but
 * the link must still be POISON_WORD.  A chunk with no poison at all was
 * freed before debugging was on and is not judged.
 */
static __slowpath void *debug_check_chunk(struct slzone *z, struct slchunk *c,
					  struct malloc_type *type, int flags)
{
	const uint64_t *w = (const uint64_t *)c;
	size_t nwords = z->z_chunk_size / 8, bad = 0, first_bad = 0;

	for (size_t i = 1; i < nwords; i++)
		if (w[i] != POISON_WORD && bad++ == 0)
			first_bad = i;
	if (bad == 0 || bad == nwords - 1)
		return flags & M_ZERO ? memset(c, 0, z->z_chunk_size) : c;
	/* Put the chunk back so the allocator stays consistent, then stop. */
	debug_poison_chunk(z, c);
	crit_enter();
	map_test_and_clear(z->z_allocmap, chunk_bit(z, c));
	c->c_next = z->z_freelist;
	z->z_freelist = c;
	z->z_nfree++;
	type->ks_cpu[cpu_current_id()].memuse -= z->z_chunk_size;
	type->ks_cpu[cpu_current_id()].inuse--;
	crit_exit();
	panic("kmalloc: write after free in a %u-byte chunk at %p: offset %lu "
	      "changed after the chunk was freed (%lu words differ); some code "
	      "kept a pointer to memory it had freed",
	      z->z_chunk_size, (void *)c, first_bad * 8, bad);
}

/* Only chunks freed while debugging is on are poisoned and checked. */
void kmalloc_set_debug(bool on)
{
	kmalloc_debug = on;
}

bool kmalloc_debug_enabled(void)
{
	return kmalloc_debug;
}

/* ----------------------------------------------------------------------- */
/* Boot, statistics, leak check.                                           */

/*
 * Fill the size-to-class table and learn how far the direct map reaches
 * (a kfree pointer outside it cannot be a zone chunk).  No zone is made
 * here: the first kmalloc of each class makes its own.  Boot CPU, after
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
	pmap_get_stats(&ps);
	dmap_size = ps.dmap_bytes;
	if (cmdline_get("kmalloc.debug", val, sizeof(val)))
		kmalloc_debug = val[0] != '0';
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
	const struct slzone *z =
	    (const struct slzone *)(va & ~(vm_offset_t)(ZONE_SIZE - 1));

	if (va >= KVA_BASE && va < KVA_END) {
		vm_page_t m = PHYS_TO_VM_PAGE(pmap_kextract(va));

		return m != NULL ? (size_t)m->ku_pagecnt * PAGE_SIZE : 0;
	}
	if (va - DMAP_BASE < dmap_size && z->z_magic == ZONE_MAGIC)
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
	}
}

/* Return this CPU's kept empty zones to vm_page. */
void kmalloc_reclaim(void)
{
	struct slglobaldata *slgd;

	crit_enter();
	slgd = &slab_gd[cpu_current_id()];
	while (slgd->free_zones != NULL) {
		struct slzone *z = slgd->free_zones;

		slgd->free_zones = z->z_next;
		slgd->nfree_zones--;
		slgd->nzones--;
		zone_pages_free(z);
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
