/*
 * kmalloc_smp_test.c - kmalloc and kfree across CPUs: chunks allocated on
 * one CPU and freed on another all go back to their owners, the passive
 * IPIQ message makes an owner take them back without allocating, nothing
 * leaks (every CPU's zones and every type's counters return to where
 * they were), and a double free through the remote path still panics.
 * Run at 2, 4 and 8 CPUs (tests/ktest-groups); seeded where random.
 */
#include <kern/clock.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/ktest.h>
#include <kern/malloc.h>
#include <kern/synch.h>
#include <kern/thread.h>

MALLOC_DEFINE(M_KSMP, "kmalloc_smp", "memory passed between CPUs by tests");

/* ---- every CPU allocates, another CPU frees ----------------------------- */

#define HAMMER_PER_CPU 6000 /* allocations each CPU makes */
#define RING_SLOTS     64   /* per (producer, consumer) pair: power of 2 */

/* A single-producer, single-consumer ring from one CPU to another. */
struct ring {
	void *volatile slot[RING_SLOTS];
	volatile uint32_t head; /* producer: next slot to fill */
	volatile uint32_t tail; /* consumer: next slot to empty */
} __aligned(CACHE_LINE_SIZE);

static struct ring rings[MAXCPU][MAXCPU]; /* [producer][consumer] */
static volatile uint32_t hammer_freed, hammer_bad, hammer_done;
static uint64_t hammer_seed;

/* Every chunk carries its size and a pattern derived from its address,
 * so the freeing CPU can tell whether anyone else wrote to it. */
static uint8_t pattern_byte(const void *p, size_t i)
{
	return (uint8_t)(((uintptr_t)p >> 4) + i);
}

static void *hammer_alloc(uint64_t *x)
{
	size_t size, *p;

	*x = *x * 6364136223846793005UL + 1442695040888963407UL;
	size = 16 + (*x >> 33) % 2000;
	p = kmalloc(size, M_KSMP, M_WAITOK);
	p[0] = size;
	for (size_t i = sizeof(size_t); i < size; i++)
		((uint8_t *)p)[i] = pattern_byte(p, i);
	return p;
}

static void hammer_free(size_t *p)
{
	for (size_t i = sizeof(size_t); i < p[0]; i++)
		if (((uint8_t *)p)[i] != pattern_byte(p, i)) {
			__atomic_add_fetch(&hammer_bad, 1, __ATOMIC_RELAXED);
			break;
		}
	kfree(p, M_KSMP);
	__atomic_add_fetch(&hammer_freed, 1, __ATOMIC_RELAXED);
}

static bool ring_put(struct ring *r, void *p)
{
	uint32_t head = r->head;

	if (head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) == RING_SLOTS)
		return false;
	r->slot[head % RING_SLOTS] = p;
	__atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
	return true;
}

/* Free everything other CPUs sent to cpu; returns how many. */
static int drain_incoming(int cpu)
{
	int n = 0;

	for (int from = 0; from < ncpus; from++) {
		struct ring *r = &rings[from][cpu];
		uint32_t tail = r->tail;

		while (tail != __atomic_load_n(&r->head, __ATOMIC_ACQUIRE)) {
			hammer_free(r->slot[tail % RING_SLOTS]);
			__atomic_store_n(&r->tail, ++tail, __ATOMIC_RELEASE);
			n++;
		}
	}
	return n;
}

/* One per CPU: allocate, send to a random other CPU, free what arrives. */
static void hammer_worker(void *arg)
{
	int cpu = (int)(long)arg;
	uint64_t x = hammer_seed ^ ((uint64_t)cpu * 0x9e3779b97f4a7c15UL);
	uint32_t total = (uint32_t)ncpus * HAMMER_PER_CPU;
	void *pending = NULL;
	int sent = 0;

	while (sent < HAMMER_PER_CPU || hammer_freed < total) {
		if (sent < HAMMER_PER_CPU) {
			int to = (cpu + 1 + (int)((x >> 40) % (ncpus - 1))) %
				 ncpus;

			if (pending == NULL)
				pending = hammer_alloc(&x);
			if (ring_put(&rings[cpu][to], pending)) {
				pending = NULL;
				sent++;
			}
		}
		if (drain_incoming(cpu) == 0)
			lwkt_yield();
	}
	__atomic_add_fetch(&hammer_done, 1, __ATOMIC_RELEASE);
	wakeup(&hammer_done);
}

static uint64_t zones_seen[MAXCPU];

/* On each CPU: give back entirely free zones, then count what is left. */
static void reclaim_and_count(void *arg)
{
	kmalloc_reclaim();
	zones_seen[cpu_current_id()] = kmalloc_cpu_zones();
}

KTEST(kmalloc_smp, every_cpu_frees_what_others_allocated_and_nothing_leaks)
{
	uint64_t before[MAXCPU];
	struct kmalloc_stats st0, st1;

	if (ncpus < 2)
		KT_SKIP("needs two CPUs or more");
	hammer_seed = ktest_seed();
	ktest_diag("seed %#lx, %d CPUs, %d allocations each", hammer_seed,
		   ncpus, HAMMER_PER_CPU);
	memset(rings, 0, sizeof(rings));
	hammer_freed = hammer_bad = hammer_done = 0;
	lwkt_cpusync(smp_active_mask, reclaim_and_count, NULL);
	memcpy(before, zones_seen, sizeof(before));
	kmalloc_get_stats(&st0);
	for (int cpu = 0; cpu < ncpus; cpu++)
		KT_ASSERT_EQ(lwkt_create(hammer_worker, (void *)(long)cpu, NULL,
					 0, cpu, "kmsmp%d", cpu),
			     0);
	while (hammer_done < (uint32_t)ncpus)
		tsleep(&hammer_done, 0, "kmsmp", hz / 10 + 1);
	kmalloc_get_stats(&st1);
	KT_EXPECT_EQ(hammer_bad, 0);
	KT_EXPECT_EQ(hammer_freed, (uint32_t)ncpus * HAMMER_PER_CPU);
	KT_EXPECT_EQ(st1.remote_frees - st0.remote_frees,
		     (uint64_t)ncpus * HAMMER_PER_CPU);
	KT_EXPECT_GT(st1.remote_kicks, st0.remote_kicks);
	ktest_diag("remote frees %lu, passive IPIs %lu, chunks taken back %lu",
		   st1.remote_frees - st0.remote_frees,
		   st1.remote_kicks - st0.remote_kicks,
		   st1.remote_drained - st0.remote_drained);
	KT_EXPECT_EQ(malloc_type_count(M_KSMP), 0);
	KT_EXPECT_EQ(malloc_type_bytes(M_KSMP), 0);
	/* Every chunk went home: each CPU can retire the zones it made. */
	lwkt_cpusync(smp_active_mask, reclaim_and_count, NULL);
	for (int cpu = 0; cpu < ncpus; cpu++)
		KT_EXPECT_EQ(zones_seen[cpu], before[cpu]);
}

/* ---- the passive IPIQ message ------------------------------------------ */

static void free_here(void *p)
{
	kfree(p, M_KSMP);
}

KTEST(kmalloc_smp, the_owner_takes_a_remote_free_back_without_allocating)
{
	struct kmalloc_stats st0, st1;
	int other = cpu_current_id() == 0 ? 1 : 0;
	void *p;

	if (ncpus < 2)
		KT_SKIP("needs two CPUs or more");
	kmalloc_reclaim(); /* this CPU's list of zones to drain is empty */
	p = kmalloc(512, M_KSMP, M_WAITOK);
	kmalloc_get_stats(&st0);
	lwkt_cpusync(1UL << other, free_here, p);
	/* No kmalloc here: only the passive message can bring it back,
	 * at this CPU's next tick. */
	for (int i = 0; i < 100; i++) {
		kmalloc_get_stats(&st1);
		if (st1.remote_drained > st0.remote_drained)
			break;
		tsleep(&st1, 0, "kmkick", 1);
	}
	KT_EXPECT_EQ(st1.remote_kicks, st0.remote_kicks + 1);
	KT_EXPECT_EQ(st1.remote_drained, st0.remote_drained + 1);
	KT_EXPECT_EQ(malloc_type_count(M_KSMP), 0);
}

/* ---- a double free through the remote path ----------------------------- */

static void *other_cpus_chunk;

static void alloc_here(void *arg)
{
	other_cpus_chunk = kmalloc(96, M_KSMP, M_WAITOK);
}

static __attribute__((noinline)) void kfree_caught(void *p)
{
	kfree(p, M_KSMP);
}

KTEST(kmalloc_smp, a_remote_double_free_panics_saying_so)
{
	struct panic_catch pc;
	int other = cpu_current_id() == 0 ? 1 : 0;
	void *p;

	if (ncpus < 2)
		KT_SKIP("needs two CPUs or more");
	/* Another CPU's chunk, freed here twice: both frees are remote. */
	lwkt_cpusync(1UL << other, alloc_here, NULL);
	p = other_cpus_chunk;
	kfree(p, M_KSMP);
	KT_CATCH_PANIC(&pc, kfree_caught(p));
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "double free");
	/* This CPU's chunk, freed on another CPU, then again by its owner. */
	p = kmalloc(96, M_KSMP, M_WAITOK);
	lwkt_cpusync(1UL << other, free_here, p);
	KT_CATCH_PANIC(&pc, kfree_caught(p));
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "double free");
	KT_EXPECT_EQ(malloc_type_count(M_KSMP), 0);
}
