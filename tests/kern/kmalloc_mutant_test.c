/*
 * kmalloc_mutant_test.c - zones emptied by the inline kfree go back
 * (kern/kern_slaballoc.c, include/kern/malloc.h).
 *
 * The inline kfree (malloc.h) touches only the zone's free list and its
 * biased free count.  When the count crosses zero it must call back into
 * the allocator (kfree_zone_changed): a zone that was full gets back on its
 * class list, a zone that became empty is retired.  Skip that call and
 * every functional test still passes -- chunks are handed out and taken
 * back -- but zones are never reused or given back, and memory only grows.
 *
 * Written for `make mutate` (tests/mutants.txt).
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/malloc.h>
#include <kern/thread.h>

MALLOC_DEFINE(M_ZONETEST, "zonetest", "kmalloc zone recycling tests");

#define CHUNK	1024			/* a size class of its own */
#define NCHUNKS	(4 * KMALLOC_ZONE_SIZE / CHUNK)	/* four zones' worth */

KTEST(kmalloc_zones, zones_emptied_by_inline_frees_are_given_back)
{
	static void *chunks[NCHUNKS];
	uint64_t before, full, after;

	lwkt_migratecpu(0);		/* zones are per CPU: stay on one */
	kmalloc_reclaim();
	before = kmalloc_cpu_zones();
	for (int i = 0; i < NCHUNKS; i++)
		KT_ASSERT_TRUE((chunks[i] = kmalloc(CHUNK, M_ZONETEST,
						    M_WAITOK)) != NULL);
	full = kmalloc_cpu_zones();
	for (int i = 0; i < NCHUNKS; i++)
		kfree(chunks[i], M_ZONETEST);	/* the inline fast path */
	kmalloc_reclaim();
	after = kmalloc_cpu_zones();
	ktest_diag("zones of this CPU: %lu before, %lu full, %lu after",
		   (unsigned long)before, (unsigned long)full,
		   (unsigned long)after);
	KT_EXPECT_GE(full, before + 3);
	KT_EXPECT_EQ(after, before);
	KT_EXPECT_EQ(malloc_type_count(M_ZONETEST), 0);
}
