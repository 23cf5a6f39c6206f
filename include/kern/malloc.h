/*
 * kern/malloc.h - kmalloc/kfree, the kernel's general-purpose allocator
 * (kern/kern_slaballoc.c; docs/memory.md).
 *
 *     MALLOC_DEFINE(M_DEVBUF, "devbuf", "device driver buffers");
 *     p = kmalloc(sizeof(*p), M_DEVBUF, M_WAITOK | M_ZERO);
 *     ...
 *     kfree(p, M_DEVBUF);
 *
 * Every allocation is charged to a malloc type, so the bytes a subsystem
 * holds (and leaks) are visible by name.  Small sizes come from per-CPU
 * slab zones: the fast path is a critical section and a free-list pop, no
 * lock and no atomic.  Sizes above KMALLOC_ZONE_LIMIT get whole pages in
 * the kernel-virtual region.
 *
 * The fast paths are inline functions at the end of this header: a
 * kmalloc of a constant size without M_ZERO, and a kfree of a chunk this
 * CPU owns, cost about twenty instructions each and call nothing.
 * Everything else calls into kern/kern_slaballoc.c.
 *
 * Guarantees: a power-of-two size up to PAGE_SIZE is aligned to its size;
 * every other size is aligned to 16 bytes; large allocations are page
 * aligned.  kmalloc(0) returns a unique-ish non-NULL pointer that must not
 * be dereferenced (KMALLOC_ZERO_PTR) and that kfree ignores.
 */
#ifndef KERN_MALLOC_H
#define KERN_MALLOC_H

#include <kern/types.h>
#include <kern/critical.h>
#include <machine/cpu.h>
#include <machine/param.h>

/* kmalloc flags. */
#define M_WAITOK 0x0000 /* may wait; never returns NULL */
#define M_NOWAIT 0x0001 /* never waits; NULL when memory is short */
#define M_ZERO	 0x0002 /* zero-fill the memory */

#define KMALLOC_ZONE_LIMIT 4096 /* larger sizes are page-backed */
#define KMALLOC_ZERO_PTR   ((void *)-8L)

#define M_MAGIC 0x6d616c6c /* "mall": a malloc_type is valid */

/* Per-CPU statistics of one type; each CPU writes only its own slot, with
 * single instructions (an interrupt cannot split them).  A remote free
 * charges the freeing CPU, so one slot may go negative; only the sum over
 * CPUs means anything. */
struct malloc_type_cpu {
	int64_t memuse; /* bytes in use */
	int64_t inuse;	/* allocations in use */
} __aligned(CACHE_LINE_SIZE);

struct malloc_type {
	uint32_t ks_magic;	  /* M_MAGIC */
	const char *ks_shortdesc; /* "devbuf" */
	const char *ks_longdesc;
	int64_t ks_leak_prev, ks_leak_cur; /* leak check samples (tests) */
	struct malloc_type_cpu ks_cpu[MAXCPU];
};

/*
 * Define a malloc type.  A pointer to it goes into the malloc_types
 * section (the linker provides __start_/__stop_malloc_types), so the leak
 * check and the shell can list every type, used or not.
 */
#define MALLOC_DEFINE(type, shortdesc, longdesc)                               \
	struct malloc_type type[1] = {{.ks_magic = M_MAGIC,                    \
				       .ks_shortdesc = (shortdesc),            \
				       .ks_longdesc = (longdesc)}};            \
	static struct malloc_type *const malloc_type_ref_##type __used         \
	    __section("malloc_types") __aligned(8) = type
#define MALLOC_DECLARE(type) extern struct malloc_type type[1]

MALLOC_DECLARE(M_TEMP); /* short-lived scratch memory */

/* Set up the allocator; after vm_page_init() and pmap_init().  Boot CPU. */
void kmalloc_init(void);

/*
 * kmalloc(size, type, flags) - allocate size bytes charged to type.
 * flags: M_WAITOK or M_NOWAIT, plus M_ZERO.  Returns NULL only with
 * M_NOWAIT (memory exhausted); with M_WAITOK, exhaustion panics (nothing
 * to wait for yet).  Any CPU; from an interrupt handler only with
 * M_NOWAIT and a size <= KMALLOC_ZONE_LIMIT.  (Inline, below.)
 *
 * kfree(ptr, type) - free memory from kmalloc, charged to type.  Any CPU:
 * a chunk owned by another CPU is handed back to its owner.  Panics on a
 * double free and on a pointer that lies in no zone and starts no large
 * allocation.  A pointer into the middle of a chunk is caught when the
 * chunk belongs to another CPU, and always with kmalloc.debug on; the
 * local fast path trusts its alignment.  (Inline, below.)
 */

/* The out-of-line entries: any size and flags, and every kfree that is
 * not a local zone chunk. */
void *kmalloc_any(size_t size, struct malloc_type *type, int flags);
void kfree_slow(void *ptr, struct malloc_type *type);

/* The usable size of an allocation (its size class). */
size_t kmalloc_usable_size(const void *ptr);

/* Sum of bytes and allocations in use for type, over all CPUs. */
int64_t malloc_type_bytes(const struct malloc_type *type);
int64_t malloc_type_count(const struct malloc_type *type);

/* Bytes in use over every type (the kmalloc leak check's sample). */
uint64_t kmalloc_bytes_in_use(void);

/* Print one line per type with bytes in use, prefixed by prefix. */
void kmalloc_print_types(const char *prefix, bool only_used);

/*
 * Debug mode (kmalloc.debug=1 on the command line, or this call): every
 * kmalloc and kfree takes the slow path, which checks that a freed
 * pointer is the start of a chunk, fills freed chunks with a pattern and
 * checks it when the chunk is handed out again (writes after free).
 */
void kmalloc_set_debug(bool on);
bool kmalloc_debug_enabled(void);

/* Size classes, for tests: count, and the chunk size of class i. */
int kmalloc_nclasses(void);
size_t kmalloc_class_size(int i);

/* Per-CPU allocator counters (zones, free chunks held, remote frees). */
struct kmalloc_stats {
	uint64_t zones;	       /* live zones, all CPUs */
	uint64_t free_zones;   /* empty zones kept for reuse */
	uint64_t large_allocs; /* page-backed allocations live */
	uint64_t remote_frees; /* frees handed to another CPU */
	uint64_t remote_kicks; /* passive IPIs telling an owner to drain */
	uint64_t remote_drained; /* chunks owners took back from others */
};
void kmalloc_get_stats(struct kmalloc_stats *st);

/* This CPU only: take back remote frees, then give every entirely free
 * zone (cached or current) back to vm_page.  Any context that may take a
 * spinlock (threads, IPI callbacks); never blocks. */
void kmalloc_reclaim(void);

/* This CPU's live zones (a test compares it before and after). */
uint64_t kmalloc_cpu_zones(void);

/* ======================================================================= */
/* The inline fast paths.  Internal: only kern_slaballoc.c and the inline  */
/* functions below use these names.                                        */

#define KMALLOC_ZONE_SIZE (32 * 1024) /* zones are aligned to their size */
#define KMALLOC_NCLASSES  16

/*
 * Word 1 of every free chunk (word 0 links the free list).  kfree checks
 * it before anything else, so freeing a free chunk panics.  The value is a
 * sign-extended 32-bit immediate (cheap to compare and store) that points
 * nowhere: above the end of the kernel image, below the top of memory.
 */
#define KMALLOC_FREE_MARK 0xfffffffff4eedeadUL

/* A chunk as the allocator sees it while it is free. */
struct kmalloc_chunk {
	struct kmalloc_chunk *kc_next; /* free list link */
	uint64_t kc_mark;	       /* KMALLOC_FREE_MARK while free */
};

/*
 * The start of every zone's header: what the fast paths touch.  The rest
 * of the header is private to kern/kern_slaballoc.c.
 */
struct kmalloc_zone_head {
	struct globaldata *zh_owner;	  /* owner CPU; set at creation */
	struct kmalloc_chunk *zh_freelist; /* owner: pop in a critical
					    * section, push by cmpxchg */
	int64_t zh_size;		  /* chunk size, in bytes */
	uint32_t zh_stat_off;		  /* owner * sizeof(malloc_type_cpu) */
	int32_t zh_avail;		  /* free chunks - bias: owner, single
					   * instructions; 0 = slow path */
};

/*
 * kmalloc_curzone[class][cpu]: the zone this CPU's kmalloc pops from
 * (never NULL: an empty sentinel when there is none, and always in debug
 * mode).  Class-major so that the CPU id indexes it with no multiply;
 * written only by the owner's slow paths, so the lines stay shared.
 */
extern struct kmalloc_zone_head *kmalloc_curzone[KMALLOC_NCLASSES][MAXCPU];
/* Pointers below this (signed) may be zone chunks; the direct map's end,
 * or its start in debug mode, which sends every kfree to the slow path. */
extern intptr_t kfree_fast_limit;

void *kmalloc_class_slow_crit(int ci, struct malloc_type *type, int flags);
void kfree_zone_changed(struct kmalloc_zone_head *z);

/* Chunk sizes: power-of-two-ish, each about 1.5x the one before. */
#define KMALLOC_CLASS_SIZES                                                    \
	{16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048,  \
	 3072, 4096}

/* The smallest class that holds size (a constant for a constant size). */
static inline int _kmalloc_size_class(size_t size)
{
	static const uint16_t bounds[KMALLOC_NCLASSES] = KMALLOC_CLASS_SIZES;

	if (__builtin_constant_p(size))
		return size <= 16     ? 0
		       : size <= 32   ? 1
		       : size <= 48   ? 2
		       : size <= 64   ? 3
		       : size <= 96   ? 4
		       : size <= 128  ? 5
		       : size <= 192  ? 6
		       : size <= 256  ? 7
		       : size <= 384  ? 8
		       : size <= 512  ? 9
		       : size <= 768  ? 10
		       : size <= 1024 ? 11
		       : size <= 1536 ? 12
		       : size <= 2048 ? 13
		       : size <= 3072 ? 14
				      : 15;
	for (int ci = 0;; ci++)
		if (bounds[ci] >= size)
			return ci;
}

/* The chunk size of class ci: 16, then alternately 2^k and 3 * 2^(k-1). */
static inline size_t _kmalloc_class_bytes(int ci)
{
	if (ci == 0)
		return 16;
	return ci & 1 ? (size_t)1 << (ci / 2 + 5) : (size_t)3 << (ci / 2 + 3);
}

/* The type's statistics slot that a zone's owner writes. */
static inline struct malloc_type_cpu *
_kmalloc_stat(struct malloc_type *type, const struct kmalloc_zone_head *z)
{
	return (struct malloc_type_cpu *)((char *)type->ks_cpu +
					  z->zh_stat_off);
}

/* This CPU's id, widened for indexing. */
static inline long _kmalloc_cpu(void)
{
	long id;

	__asm__ volatile("movslq %%gs:%c1, %0" : "=r"(id) : "i"(GD_CPUID));
	return id;
}

/*
 * crit_exit_quick(), with its tests taken from the flags of the decrement
 * itself: the common outermost exit costs a decrement, two branches not
 * taken and one test of gd_reqflags.
 */
static inline void _kmalloc_crit_exit(struct thread *td)
{
	bool zero;

	__asm__ volatile("subl $1, %0"
			 : "+m"(td->td_critcount), "=@ccz"(zero)
			 :
			 : "memory");
	if (__predict_true(zero)) {
		bool deferred;

		__asm__ volatile("testb %1, %%gs:%c2"
				 : "=@ccnz"(deferred)
				 : "i"(CRIT_DEFERRED_MASK), "i"(GD_REQFLAGS)
				 : "memory");
		if (__predict_false(deferred))
			lwkt_maybe_splz();
	} else if (__predict_false(td->td_critcount < 0)) {
		crit_panic();
	}
}

/*
 * The kmalloc fast path for class ci: in a critical section, pop the
 * current zone's free list, clear the free mark, count the chunk out of
 * the zone and charge the type on this CPU.  An empty list (or the
 * sentinel) goes to the slow path, which ends the critical section.
 */
static inline void *_kmalloc_class(int ci, struct malloc_type *type,
				   int flags)
{
	struct thread *td = cpu_curthread();
	struct kmalloc_zone_head *z;
	struct kmalloc_chunk *c;
	struct malloc_type_cpu *stat;

	crit_enter_quick(td);
	z = kmalloc_curzone[ci][_kmalloc_cpu()];
	c = z->zh_freelist;
	if (__predict_false(c == NULL))
		return kmalloc_class_slow_crit(ci, type, flags);
	z->zh_freelist = c->kc_next;
	c->kc_mark = 0;
	z->zh_avail--;
	stat = _kmalloc_stat(type, z);
	stat->memuse += _kmalloc_class_bytes(ci);
	stat->inuse++;
	_kmalloc_crit_exit(td);
	return c;
}

static inline void *kmalloc(size_t size, struct malloc_type *type, int flags)
{
	if (__builtin_constant_p(size) && __builtin_constant_p(flags) &&
	    size - 1 < KMALLOC_ZONE_LIMIT && !(flags & M_ZERO))
		return _kmalloc_class(_kmalloc_size_class(size), type, flags);
	return kmalloc_any(size, type, flags);
}

/* Push c on z's free list with one cmpxchg.  No LOCK prefix: only this
 * CPU writes the list, and one instruction cannot be split by an
 * interrupt (SDM vol. 2A, "CMPXCHG"). */
static inline void _kfree_push(struct kmalloc_zone_head *z,
			       struct kmalloc_chunk *c)
{
	struct kmalloc_chunk *head = z->zh_freelist;

	__asm__ volatile("1: movq %[head], %[link]\n\t"
			 "cmpxchgq %[c], %[list]\n\t"
			 "jne 1b"
			 : [list] "+m"(z->zh_freelist), [head] "+a"(head),
			   [link] "=m"(c->kc_next)
			 : [c] "r"(c)
			 : "memory", "cc");
}

/*
 * The kfree fast path: ptr lies below the direct map's end, its zone
 * (the address with the low bits cleared) is this CPU's, and it is not
 * marked free.  Mark it, credit the type, push it, and count it back into
 * the zone -- all single instructions, so no critical section is needed.
 * A count that reaches zero means the zone filled up or emptied: the
 * slow path relinks or retires it.
 */
static inline void kfree(void *ptr, struct malloc_type *type)
{
	struct kmalloc_chunk *c = ptr;
	struct kmalloc_zone_head *z =
	    (struct kmalloc_zone_head *)((uintptr_t)ptr &
					 ~(uintptr_t)(KMALLOC_ZONE_SIZE - 1));
	struct malloc_type_cpu *stat;
	bool changed;

	if (__predict_false((intptr_t)ptr >= kfree_fast_limit ||
			    z->zh_owner != cpu_globaldata() ||
			    c->kc_mark == KMALLOC_FREE_MARK))
		return kfree_slow(ptr, type);
	c->kc_mark = KMALLOC_FREE_MARK;
	stat = _kmalloc_stat(type, z);
	__asm__ volatile("subq %2, %0\n\t"
			 "subq $1, %1"
			 : "+m"(stat->memuse), "+m"(stat->inuse)
			 : "r"(z->zh_size)
			 : "memory", "cc");
	_kfree_push(z, c);
	__asm__ volatile("addl $1, %0"
			 : "+m"(z->zh_avail), "=@ccz"(changed)
			 :
			 : "memory");
	if (__predict_false(changed))
		kfree_zone_changed(z);
}

#endif /* KERN_MALLOC_H */
