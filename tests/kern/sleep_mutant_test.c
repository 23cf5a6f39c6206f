/*
 * sleep_mutant_test.c - sleep queue buckets and the callout wheel at the
 * edges the older tests did not reach (kern/kern_synch.c,
 * kern/kern_timeout.c).
 *
 * Both structures hash: sleepers hang in a per-CPU table of buckets chosen
 * from the wait address, callouts in a wheel of slots chosen from the tick
 * they are due.  Two things share a bucket or a slot without being the same,
 * and the code must tell them apart.  These tests put several things in
 * one bucket (or one slot) on purpose; they were written for `make mutate`
 * (tests/mutants.txt), each to catch a breakage the older tests let through.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/critical.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/ktest.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/timeout.h>

/*
 * More sleepers, on as many distinct addresses, than the sleep queue table
 * has buckets (64): by the pigeonhole principle at least two of them share
 * a bucket.  Each wakeup must wake exactly the one sleeping on its address.
 */
#define NSLEEPERS 65

static volatile char idents[NSLEEPERS];
static volatile int woke[NSLEEPERS];
static volatile int nwoken;

static void sleep_on_own_ident(void *arg)
{
	int i = (int)(uintptr_t)arg;

	tsleep(&idents[i], 0, "bucket", 0);	/* no timeout: only a wakeup */
	woke[i] = 1;
	__atomic_add_fetch(&nwoken, 1, __ATOMIC_SEQ_CST);
}

KTEST(sleep_hash, a_wakeup_wakes_only_sleepers_on_its_own_address)
{
	struct thread *td[NSLEEPERS];
	int extra = 0;

	nwoken = 0;
	for (int i = 0; i < NSLEEPERS; i++) {
		woke[i] = 0;
		KT_ASSERT_EQ(lwkt_create(sleep_on_own_ident,
					 (void *)(uintptr_t)i, &td[i], 0,
					 mycpuid, "t-bkt%d", i), 0);
	}
	for (int i = 0; i < NSLEEPERS; i++)
		while (tsleep_count_sleepers(&idents[i]) != 1)
			tsleep(&nwoken, 0, "bktrdy", 1);
	for (int i = 0; i < NSLEEPERS; i++) {
		wakeup(&idents[i]);
		while (!woke[i])
			tsleep(&nwoken, 0, "bktw", 1);
		/* Everything woken is runnable here and has run by now. */
		if (nwoken != i + 1 && extra++ == 0)
			ktest_diag("waking sleeper %d woke %d in all", i,
				   nwoken);
	}
	for (int i = 0; i < NSLEEPERS; i++)
		lwkt_thread_join(td[i]);
	KT_EXPECT_EQ(extra, 0);
	KT_EXPECT_EQ(nwoken, NSLEEPERS);
}

/*
 * Two threads sleep on one address on CPU 1; one of them times out and
 * leaves the queue.  The other is still there, so CPU 1 must still be
 * marked as having sleepers in that bucket: a wakeup from CPU 0 has to
 * reach it.
 */
static volatile int shared_ident, b_woken;

static void sleep_until_woken(void *arg __unused)
{
	while (tsleep(&shared_ident, 0, "stay", 0) != 0)
		;
	b_woken = 1;
}

static void sleep_one_tick(void *arg __unused)
{
	tsleep(&shared_ident, 0, "leave", 1);
}

static void wakeup_here(void *arg)
{
	wakeup(arg);
}

KTEST(sleep_hash, a_timed_out_sleeper_leaves_its_bucket_mates_wakeable)
{
	struct thread *stay, *leave;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs: the wakeup must come from another CPU");
	lwkt_migratecpu(0);
	b_woken = 0;
	KT_ASSERT_EQ(lwkt_create(sleep_until_woken, NULL, &stay, 0, 1,
				 "t-stay"), 0);
	while (tsleep_count_sleepers(&shared_ident) != 1)
		tsleep(&b_woken, 0, "stayrdy", 1);
	KT_ASSERT_EQ(lwkt_create(sleep_one_tick, NULL, &leave, 0, 1,
				 "t-leave"), 0);
	lwkt_thread_join(leave);	/* it timed out and left the queue */
	wakeup(&shared_ident);		/* from CPU 0 */
	for (int i = 0; i < 100 && !b_woken; i++)
		tsleep(&b_woken, 0, "stayw", 1);
	KT_EXPECT_EQ(b_woken, 1);
	if (!b_woken)			/* wake it from its own CPU */
		lwkt_cpusync(1UL << 1, wakeup_here, (void *)&shared_ident);
	lwkt_thread_join(stay);
}

/*
 * The wheel has fewer slots (64) than the delay: a callout due in 1000
 * ticks sits in a slot that comes round 15 times before it is due, and the
 * softclock runs that slot at each pass (for callouts of that pass).  It
 * must stay put until its own time.  We watch its first 100 ticks, which
 * include a pass over its slot.
 */
#define FAR_TICKS	1000
#define WATCH_TICKS	100

static volatile uint64_t far_ran_at;

static void note_tick(void *arg __unused)
{
	far_ran_at = mycpu->gd_ticks;
}

KTEST(callout_wheel, a_callout_several_laps_away_waits_its_full_time)
{
	struct callout far;
	uint64_t armed;

	far_ran_at = 0;
	callout_init(&far);
	crit_enter();			/* armed and read on one tick count */
	armed = mycpu->gd_ticks;
	callout_reset(&far, FAR_TICKS, note_tick, NULL);
	crit_exit();
	while (mycpu->gd_ticks - armed < WATCH_TICKS && far_ran_at == 0)
		tsleep(&far_ran_at, 0, "lap", 1);
	KT_EXPECT_EQ(far_ran_at, 0);
	if (far_ran_at != 0)
		ktest_diag("a callout due in %d ticks ran after %lu",
			   FAR_TICKS, (unsigned long)(far_ran_at - armed));
	KT_EXPECT_TRUE(callout_stop(&far));	/* still pending */
}

/*
 * Re-arming a pending callout moves it: it must leave its old slot
 * before it joins the new one.  A callout linked into a second slot
 * without leaving the first breaks the first slot's list: whatever was
 * queued behind it there is lost.  So two callouts share a slot, the
 * first is re-armed to fire early, and both must still run once each.
 */
#define SHARED_TICKS	30
static struct callout moved, stayed;
static volatile int moved_ran, stayed_ran;

static void count_run(void *arg)
{
	(*(volatile int *)arg)++;
}

KTEST(callout_wheel, a_rearmed_callout_leaves_its_old_slot)
{
	moved_ran = stayed_ran = 0;
	callout_init(&moved);
	callout_init(&stayed);
	crit_enter();			/* both due on the same tick */
	callout_reset(&moved, SHARED_TICKS, count_run, (void *)&moved_ran);
	callout_reset(&stayed, SHARED_TICKS, count_run, (void *)&stayed_ran);
	callout_reset(&moved, 2, count_run, (void *)&moved_ran);
	crit_exit();
	for (int i = 0; i < 4 * SHARED_TICKS && stayed_ran == 0; i++)
		tsleep(&stayed_ran, 0, "moved", 1);
	tsleep(&stayed_ran, 0, "moved", 2);	/* a late second run shows */
	KT_EXPECT_EQ(moved_ran, 1);
	KT_EXPECT_EQ(stayed_ran, 1);
	KT_EXPECT_FALSE(callout_pending(&moved));
	KT_EXPECT_FALSE(callout_pending(&stayed));
	callout_stop(&stayed);			/* if it never ran */
}

/*
 * A callout armed on another CPU is unlinked there (by an IPI), and
 * callout_stop must still say whether it was pending.
 */
KTEST(callout_cpu, stopping_another_cpus_callout_says_if_it_was_pending)
{
	struct callout c;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs: the callout must belong to another");
	lwkt_migratecpu(0);
	callout_init(&c);
	callout_reset_bycpu(&c, FAR_TICKS, note_tick, NULL, 1);
	KT_EXPECT_TRUE(callout_pending(&c));
	KT_EXPECT_TRUE(callout_stop(&c));	/* it was pending */
	KT_EXPECT_FALSE(callout_pending(&c));
	KT_EXPECT_FALSE(callout_stop(&c));	/* and is no more */
}
