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
 * Guarantees: a power-of-two size up to PAGE_SIZE is aligned to its size;
 * every other size is aligned to 16 bytes; large allocations are page
 * aligned.  kmalloc(0) returns a unique-ish non-NULL pointer that must not
 * be dereferenced (KMALLOC_ZERO_PTR) and that kfree ignores.
 */
#ifndef KERN_MALLOC_H
#define KERN_MALLOC_H

#include <kern/types.h>
#include <machine/param.h>

/* kmalloc flags. */
#define M_WAITOK 0x0000 /* may wait; never returns NULL */
#define M_NOWAIT 0x0001 /* never waits; NULL when memory is short */
#define M_ZERO	 0x0002 /* zero-fill the memory */

#define KMALLOC_ZONE_LIMIT 4096 /* larger sizes are page-backed */
#define KMALLOC_ZERO_PTR   ((void *)-8L)

#define M_MAGIC 0x6d616c6c /* "mall": a malloc_type is valid */

/* Per-CPU statistics of one type; each CPU writes only its own slot, in
 * a critical section.  A remote free charges the freeing CPU, so one slot
 * may go negative; only the sum over CPUs means anything. */
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
 * Allocate size bytes charged to type.  flags: M_WAITOK or M_NOWAIT, plus
 * M_ZERO.  Returns NULL only with M_NOWAIT (memory exhausted); with
 * M_WAITOK, exhaustion panics (nothing to wait for yet).  Any CPU; from an
 * interrupt handler only with M_NOWAIT and a size <= KMALLOC_ZONE_LIMIT.
 */
void *kmalloc(size_t size, struct malloc_type *type, int flags);

/*
 * Free memory from kmalloc, charged to type.  Any CPU: a chunk owned by
 * another CPU is handed back to its owner.  Panics on a double free, a
 * pointer kmalloc never returned, or a type that does not match.
 */
void kfree(void *ptr, struct malloc_type *type);

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
 * Write-after-free detection: while enabled (kmalloc.debug=1 on the
 * command line, or this call), freed chunks are filled with a pattern
 * that kmalloc checks when it hands the chunk out again.
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
};
void kmalloc_get_stats(struct kmalloc_stats *st);

/* Give back every cached empty zone of this CPU (tests, low memory). */
void kmalloc_reclaim(void);

#endif /* KERN_MALLOC_H */
