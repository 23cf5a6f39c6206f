/*
 * kmalloc_test.c - the slab allocator: every size class and its
 * boundaries, alignment, M_ZERO, per-type statistics, page-backed large
 * allocations, out-of-memory behaviour, and the misuses it must catch.
 */
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/ktest.h>
#include <kern/malloc.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>

MALLOC_DEFINE(M_KTEST, "ktest", "memory allocated by the kmalloc tests");

/* kfree and kmalloc, out of line: a panic caught by KT_CATCH_PANIC
 * longjmps out of them, and the inline fast paths' locals must not live
 * in the function that called setjmp. */
static __attribute__((noinline)) void kfree_caught(void *p)
{
	kfree(p, M_KTEST);
}

static __attribute__((noinline)) void *kmalloc_caught(size_t size)
{
	return kmalloc(size, M_KTEST, M_WAITOK);
}

static bool all_bytes_are(const void *p, size_t n, uint8_t v)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* The alignment kmalloc promises for size (kern/malloc.h). */
static size_t promised_alignment(size_t size)
{
	if (size > KMALLOC_ZONE_LIMIT)
		return PAGE_SIZE;
	if ((size & (size - 1)) == 0)
		return MAX(size, (size_t)1);
	return 16;
}

/* Allocate size, check alignment and usable size, write all of it. */
static void check_one_size(size_t size, size_t want_usable)
{
	uint8_t *p = kmalloc(size, M_KTEST, M_WAITOK);

	KT_ASSERT_TRUE(p != NULL);
	KT_EXPECT_EQ((uintptr_t)p % promised_alignment(size), 0);
	KT_EXPECT_EQ(kmalloc_usable_size(p), want_usable);
	memset(p, 0x5a, size);
	KT_EXPECT_TRUE(all_bytes_are(p, size, 0x5a));
	kfree(p, M_KTEST);
}

KTEST(kmalloc, every_size_class_and_its_boundaries)
{
	size_t prev = 0;

	for (int i = 0; i < kmalloc_nclasses(); i++) {
		size_t cs = kmalloc_class_size(i);

		check_one_size(prev + 1, cs); /* smallest size in class */
		check_one_size(cs, cs);	      /* largest size in class */
		if (i + 1 < kmalloc_nclasses())
			check_one_size(cs + 1, kmalloc_class_size(i + 1));
		prev = cs;
	}
	/* One past the zone limit is page-backed. */
	check_one_size(KMALLOC_ZONE_LIMIT + 1, 2 * PAGE_SIZE);
	KT_EXPECT_EQ(malloc_type_bytes(M_KTEST), 0);
	KT_EXPECT_EQ(malloc_type_count(M_KTEST), 0);
}

KTEST(kmalloc, random_sizes_are_writable_and_aligned)
{
	uint64_t x = ktest_seed();
	void *held[64];

	ktest_diag("seed %#lx", x);
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < 64; i++) {
			size_t size;

			x = x * 6364136223846793005UL + 1442695040888963407UL;
			size = 1 + (x >> 33) % 9000;
			held[i] = kmalloc(size, M_KTEST, M_WAITOK);
			KT_ASSERT_TRUE(held[i] != NULL);
			KT_EXPECT_EQ(
			    (uintptr_t)held[i] % promised_alignment(size), 0);
			memset(held[i], i, size);
		}
		for (int i = 0; i < 64; i++)
			kfree(held[i], M_KTEST);
	}
	KT_EXPECT_EQ(malloc_type_bytes(M_KTEST), 0);
}

KTEST(kmalloc, zero_flag_zeroes_a_recycled_chunk)
{
	uint8_t *p = kmalloc(256, M_KTEST, M_WAITOK), *q;

	memset(p, 0xaa, 256);
	kfree(p, M_KTEST);
	q = kmalloc(256, M_KTEST, M_WAITOK | M_ZERO);
	KT_EXPECT_TRUE(q == p); /* LIFO: the cache-hot chunk */
	KT_EXPECT_TRUE(all_bytes_are(q, 256, 0));
	kfree(q, M_KTEST);
	q = kmalloc(3 * PAGE_SIZE, M_KTEST, M_ZERO);
	KT_EXPECT_TRUE(all_bytes_are(q, 3 * PAGE_SIZE, 0));
	kfree(q, M_KTEST);
}

KTEST(kmalloc, type_statistics_follow_allocations)
{
	void *p[100];

	for (int i = 0; i < 100; i++)
		p[i] = kmalloc(64, M_KTEST, M_WAITOK);
	KT_EXPECT_EQ(malloc_type_count(M_KTEST), 100);
	KT_EXPECT_EQ(malloc_type_bytes(M_KTEST), 6400);
	for (int i = 0; i < 100; i++)
		kfree(p[i], M_KTEST);
	KT_EXPECT_EQ(malloc_type_count(M_KTEST), 0);
	KT_EXPECT_EQ(malloc_type_bytes(M_KTEST), 0);
}

KTEST(kmalloc, large_allocations_are_page_backed_and_give_back_kva)
{
	size_t kva_before = kva_free_bytes();
	uint8_t *p = kmalloc(64 * 1024, M_KTEST, M_WAITOK);

	KT_ASSERT_TRUE(p != NULL);
	KT_EXPECT_EQ((uintptr_t)p % PAGE_SIZE, 0);
	KT_EXPECT_EQ(kmalloc_usable_size(p), 64 * 1024);
	KT_EXPECT_EQ(malloc_type_bytes(M_KTEST), 64 * 1024);
	p[0] = 1;
	p[64 * 1024 - 1] = 2;
	KT_EXPECT_LT(kva_free_bytes(), kva_before);
	kfree(p, M_KTEST);
	KT_EXPECT_EQ(kva_free_bytes(), kva_before);
	KT_EXPECT_EQ(malloc_type_bytes(M_KTEST), 0);
}

KTEST(kmalloc, zero_size_gives_the_special_pointer)
{
	void *p = kmalloc(0, M_KTEST, M_WAITOK);

	KT_EXPECT_TRUE(p == KMALLOC_ZERO_PTR);
	kfree(p, M_KTEST); /* a no-op */
	KT_EXPECT_EQ(malloc_type_count(M_KTEST), 0);
}

KTEST(kmalloc, nowait_returns_null_when_memory_runs_out_and_recovers)
{
	vm_page_t pages = NULL, m;
	void *chunks = NULL, *c;
	int nchunks = 0;

	kmalloc_reclaim();
	while ((m = vm_page_alloc(VM_ALLOC_NOWAIT)) != NULL) {
		m->pageq_next = pages;
		pages = m;
	}
	KT_EXPECT_TRUE(kmalloc(16384, M_KTEST, M_NOWAIT) == NULL);
	/* Exhaust the 4 KiB class's zones: a new zone cannot be made. */
	while ((c = kmalloc(4000, M_KTEST, M_NOWAIT)) != NULL) {
		*(void **)c = chunks;
		chunks = c;
		nchunks++;
	}
	while ((m = pages) != NULL) {
		pages = m->pageq_next;
		vm_page_free(m);
	}
	/* The allocator still works, and every chunk frees cleanly. */
	c = kmalloc(4000, M_KTEST, M_NOWAIT);
	KT_EXPECT_TRUE(c != NULL);
	kfree(c, M_KTEST);
	while ((c = chunks) != NULL) {
		chunks = *(void **)c;
		kfree(c, M_KTEST);
	}
	ktest_diag("%d chunks before the zones ran out", nchunks);
	KT_EXPECT_EQ(malloc_type_count(M_KTEST), 0);
}

KTEST(kmalloc, double_free_panics_saying_so)
{
	struct panic_catch pc;
	void *p = kmalloc_caught(96);

	kfree(p, M_KTEST);
	KT_CATCH_PANIC(&pc, kfree_caught(p));
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "double free");
	/* Nothing changed: the chunk can be had once more, and only once. */
	KT_EXPECT_TRUE(kmalloc_caught(96) == p);
	kfree(p, M_KTEST);
}

/* The local fast path trusts a pointer's alignment; the slow path (debug
 * mode, and every free of another CPU's chunk) checks it. */
KTEST(kmalloc, freeing_an_interior_pointer_panics)
{
	struct panic_catch pc;
	bool was = kmalloc_debug_enabled();
	char *p;

	kmalloc_set_debug(true);
	p = kmalloc_caught(64);
	KT_CATCH_PANIC(&pc, kfree_caught(p + 16));
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "not a pointer kmalloc returned");
	kfree(p, M_KTEST);
	kmalloc_set_debug(was);
}

KTEST(kmalloc, freeing_a_pointer_kmalloc_never_returned_panics)
{
	static uint64_t not_from_kmalloc[4];
	struct panic_catch pc;
	char *big = kmalloc(3 * PAGE_SIZE, M_KTEST, M_WAITOK);

	KT_CATCH_PANIC(&pc, kfree_caught(not_from_kmalloc));
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "not a pointer kmalloc returned");
	KT_CATCH_PANIC(&pc, kfree_caught(big + PAGE_SIZE));
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "not the start of a large");
	kfree(big, M_KTEST);
	KT_CATCH_PANIC(&pc, kfree_caught(big));
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "double free of a large allocation");
}

KTEST(kmalloc, write_after_free_is_caught_in_debug_mode)
{
	struct panic_catch pc;
	bool was = kmalloc_debug_enabled();
	uint64_t *p, *q = NULL;

	kmalloc_set_debug(true);
	p = kmalloc_caught(128);
	kfree(p, M_KTEST);
	p[5] = 42; /* the bug: p was freed */
	KT_CATCH_PANIC(&pc, q = kmalloc_caught(128));
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "write after free");
	KT_EXPECT_SUBSTR(pc.msg, "offset 40");
	KT_EXPECT_TRUE(q == NULL);
	/* The chunk went back, clean: the next allocation gets it. */
	q = kmalloc_caught(128);
	KT_EXPECT_TRUE(q == p);
	kfree(q, M_KTEST);
	kmalloc_set_debug(was);
	KT_EXPECT_EQ(malloc_type_count(M_KTEST), 0);
}

/* ----------------------------------------------------------------------- */
/* Cross-CPU frees (need a second CPU: the numa and smp groups have one).  */

static void free_on_this_cpu(void *p)
{
	kfree(p, M_KTEST);
}

KTEST(kmalloc, free_on_another_cpu_returns_the_chunk_to_its_owner)
{
	struct kmalloc_stats before, after;
	void *held[64], *p;
	int n = 0, found = -1, other = cpu_current_id() == 0 ? 1 : 0;

	if (ncpus < 2)
		KT_SKIP("needs a second CPU (the numa group boots two)");
	p = kmalloc(2048, M_KTEST, M_WAITOK);
	kmalloc_get_stats(&before);
	lwkt_cpusync(1UL << other, free_on_this_cpu, p);
	kmalloc_get_stats(&after);
	KT_EXPECT_EQ(after.remote_frees, before.remote_frees + 1);
	KT_EXPECT_EQ(malloc_type_count(M_KTEST), 0); /* sum over CPUs */
	/* The owner takes the chunk back once its own free list runs dry:
	 * keep allocating the same class until it comes round. */
	while (n < 64 && found < 0) {
		held[n] = kmalloc(2048, M_KTEST, M_WAITOK);
		if (held[n] == p)
			found = n;
		n++;
	}
	KT_EXPECT_GE(found, 0);
	ktest_diag("the chunk came back after %d allocations", found + 1);
	while (n > 0)
		kfree(held[--n], M_KTEST);
	KT_EXPECT_EQ(malloc_type_bytes(M_KTEST), 0);
}
