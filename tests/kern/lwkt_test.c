/*
 * lwkt_test.c - threads, the scheduler, critical sections, interrupt
 * threads and preemption (kern/lwkt_thread.c, kern/kern_intr.c).
 *
 * Tests run in thread0 (the boot context) on CPU 0.  A test that starts
 * threads waits for them with lwkt_thread_join(), so the thread and stack
 * leak checks registered here see every suite end at its baseline.
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/intr.h>
#include <kern/ipiq.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/spinlock.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/token.h>
#include <kern/trap.h>
#include <machine/apic.h>
#include <machine/cpufunc.h>


extern void (*volatile intr_test_hook)(void *arg);
static void spin_a_while(void);

static volatile int seen_critcount = -1;
static volatile int ran;

static void record_crit(void *arg __unused)
{
	seen_critcount = curthread->td_critcount;
	ran++;
}

KTEST(lwkt, thread_starts_in_a_critical_section_that_it_leaves)
{
	struct thread *td;

	ran = 0;
	KT_ASSERT_EQ(lwkt_create(record_crit, NULL, &td, TDF_NOSTART, -1,
				 "t-crit"), 0);
	KT_EXPECT_EQ(td->td_critcount, 1);
	lwkt_schedule(td);
	lwkt_thread_join(td);
	KT_EXPECT_EQ(seen_critcount, 0);
	KT_EXPECT_EQ(ran, 1);
}

KTEST(lwkt, nostart_thread_runs_only_once_scheduled)
{
	struct thread *td;

	ran = 0;
	KT_ASSERT_EQ(lwkt_create(record_crit, NULL, &td, TDF_NOSTART, -1,
				 "t-nostart"), 0);
	tsleep(&ran, 0, "wait", 3);
	KT_EXPECT_EQ(ran, 0);
	lwkt_schedule(td);
	lwkt_thread_join(td);
	KT_EXPECT_EQ(ran, 1);
}

static volatile int order[3], norder;

static void record_pri(void *arg __unused)
{
	order[norder++] = curthread->td_pri;
}

KTEST(lwkt, runnable_threads_run_highest_priority_first)
{
	static const int pris[3] = { 12, 14, 20 };
	struct thread *td[3];

	norder = 0;
	for (int i = 0; i < 3; i++) {
		KT_ASSERT_EQ(lwkt_create(record_pri, NULL, &td[i], TDF_NOSTART,
					 -1, "t-pri%d", pris[i]), 0);
		lwkt_setpri(td[i], pris[i]);
	}
	crit_enter();
	for (int i = 0; i < 3; i++)
		lwkt_schedule(td[i]);
	crit_exit();
	for (int i = 0; i < 3; i++)
		lwkt_thread_join(td[i]);
	KT_ASSERT_EQ(norder, 3);
	KT_EXPECT_EQ(order[0], 20);
	KT_EXPECT_EQ(order[1], 14);
	KT_EXPECT_EQ(order[2], 12);
}

KTEST(lwkt, scheduling_twice_queues_once)
{
	struct thread *td;
	int before;

	KT_ASSERT_EQ(lwkt_create(record_crit, NULL, &td, TDF_NOSTART, -1,
				 "t-twice"), 0);
	crit_enter();
	before = mycpu->gd_tdrunqcount;
	lwkt_schedule(td);
	lwkt_schedule(td);
	KT_EXPECT_EQ(mycpu->gd_tdrunqcount, before + 1);
	crit_exit();
	lwkt_thread_join(td);
}

KTEST(lwkt, scheduling_the_idle_thread_panics)
{
	struct panic_catch pc;

	KT_CATCH_PANIC(&pc, lwkt_schedule(mycpu->gd_idlethread));
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "gd_idlethread is illegal");
}

KTEST(lwkt, switching_inside_an_interrupt_handler_panics)
{
	struct panic_catch pc;

	crit_enter();
	mycpu->gd_intr_nesting_level++;
	KT_CATCH_PANIC(&pc, lwkt_switch());
	mycpu->gd_intr_nesting_level--;
	crit_exit();
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "must not block");
}

/*
 * The same from a real hard interrupt: its handler runs with the nesting
 * level raised (intr_hard_dispatch), so a switch there panics instead of
 * switching away inside the interrupt frame.
 */
static struct panic_catch hard_pc;
static volatile int hard_level, hard_runs;

static void hard_switch_probe(struct trapframe *tf __unused)
{
	lapic_eoi();
	hard_level = mycpu->gd_intr_nesting_level;
	KT_CATCH_PANIC(&hard_pc, lwkt_switch());
	hard_runs++;
}

KTEST(lwkt, switching_inside_a_hard_interrupt_handler_panics)
{
	memset(&hard_pc, 0, sizeof(hard_pc));
	hard_level = -1;
	hard_runs = 0;
	trap_set_handler(INTR_VECTOR_TEST_HARD, hard_switch_probe);
	lapic_send_self(INTR_VECTOR_TEST_HARD);
	spin_a_while();
	trap_set_handler(INTR_VECTOR_TEST_HARD, NULL);
	KT_EXPECT_EQ(hard_runs, 1);
	KT_EXPECT_GE(hard_level, 1);
	KT_EXPECT_TRUE(hard_pc.caught);
	KT_EXPECT_SUBSTR(hard_pc.msg, "must not block");
}

KTEST(lwkt, blocking_with_a_spinlock_held_panics)
{
	static struct spinlock lk = SPINLOCK_INITIALIZER("test");
	struct panic_catch pc;

	spin_lock(&lk);
	KT_CATCH_PANIC(&pc, lwkt_switch());
	spin_unlock(&lk);
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "spinlock");
}

KTEST(crit, nesting_is_counted_and_an_extra_exit_panics)
{
	struct thread *td = curthread;
	int base = td->td_critcount;
	struct panic_catch pc;

	crit_enter();
	crit_enter();
	crit_enter();
	KT_EXPECT_EQ(td->td_critcount, base + 3);
	crit_exit();
	crit_exit();
	crit_exit();
	KT_EXPECT_EQ(td->td_critcount, base);
	KT_CATCH_PANIC(&pc, crit_exit());
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "was not in");
	KT_EXPECT_EQ(td->td_critcount, 0);
}

static volatile int hook_runs;
static volatile bool hook_in_ithread;

static void count_hook(void *arg __unused)
{
	hook_runs++;
	hook_in_ithread = (curthread->td_flags & TDF_INTTHREAD) != 0;
}

/* Busy-wait long enough for a self-IPI to have been delivered. */
static void spin_a_while(void)
{
	for (volatile int i = 0; i < 20000; i++)
		cpu_pause();
}

KTEST(crit, interrupt_inside_is_deferred_to_the_outermost_exit)
{
	struct lwkt_stats a, b;

	hook_runs = 0;
	intr_test_hook = count_hook;
	lwkt_get_stats(&a);
	crit_enter();
	crit_enter();
	lapic_send_self(INTR_VECTOR_TEST);
	spin_a_while();
	KT_EXPECT_EQ(hook_runs, 0);
	KT_EXPECT_TRUE(mycpu->gd_reqflags & RQF_INTPEND);
	crit_exit();			/* 2 -> 1: nothing runs yet */
	KT_EXPECT_EQ(hook_runs, 0);
	crit_exit();			/* 1 -> 0: the ithread preempts us */
	KT_EXPECT_EQ(hook_runs, 1);
	lwkt_get_stats(&b);
	KT_EXPECT_GE(b.preempt_hit, a.preempt_hit + 1);
	KT_EXPECT_TRUE(hook_in_ithread);
	intr_test_hook = NULL;
}

KTEST(crit, interrupt_outside_preempts_at_once)
{
	struct lwkt_stats a, b;

	hook_runs = 0;
	intr_test_hook = count_hook;
	lwkt_get_stats(&a);
	lapic_send_self(INTR_VECTOR_TEST);
	spin_a_while();
	KT_EXPECT_EQ(hook_runs, 1);
	lwkt_get_stats(&b);
	KT_EXPECT_EQ(b.preempt_hit, a.preempt_hit + 1);
	intr_test_hook = NULL;
}

/*
 * Holding a spinlock is being in a critical section: an interrupt that
 * arrives meanwhile is only recorded, and its interrupt thread runs at
 * the unlock (the 1 -> 0 crit_exit), not inside the locked region.
 */
KTEST(crit, a_spinlock_holds_a_critical_section_that_defers_interrupts)
{
	static struct spinlock lk = SPINLOCK_INITIALIZER("test-crit");
	int base = curthread->td_critcount;
	int held_count, runs_inside;
	bool deferred;

	hook_runs = 0;
	intr_test_hook = count_hook;
	spin_lock(&lk);
	held_count = curthread->td_critcount;
	lapic_send_self(INTR_VECTOR_TEST);
	spin_a_while();
	deferred = (mycpu->gd_reqflags & RQF_INTPEND) != 0;
	runs_inside = hook_runs;
	spin_unlock(&lk);		/* the interrupt thread preempts here */
	KT_EXPECT_EQ(hook_runs, 1);
	intr_test_hook = NULL;
	KT_EXPECT_EQ(held_count, base + 1);
	KT_EXPECT_TRUE(deferred);
	KT_EXPECT_EQ(runs_inside, 0);
	KT_EXPECT_EQ(curthread->td_critcount, base);
}

/*
 * A critical section belongs to the thread: one that switches inside
 * three of them comes back with the same count, and the thread that ran
 * meanwhile had its own count (0 in its function), not ours.
 */
static volatile int partner_count;

static void partner_wakes(void *arg)
{
	partner_count = curthread->td_critcount;
	wakeup(arg);
}

KTEST(crit, a_thread_that_switches_inside_keeps_its_count)
{
	struct thread *td = curthread, *partner;
	int base = td->td_critcount, after, error;

	partner_count = -1;
	crit_enter();
	crit_enter();
	crit_enter();
	KT_ASSERT_EQ(lwkt_create(partner_wakes, (void *)&partner_count,
				 &partner, 0, mycpuid, "t-partner"), 0);
	error = tsleep(&partner_count, 0, "critsw", 100);
	after = td->td_critcount;
	crit_exit();
	crit_exit();
	crit_exit();
	lwkt_thread_join(partner);
	KT_EXPECT_EQ(error, 0);
	KT_EXPECT_EQ(after, base + 3);
	KT_EXPECT_EQ(partner_count, 0);
}

/*
 * A preemptable (interrupt) thread of our own, on this CPU, that records
 * that it ran.  lwkt_set_interrupt_thread must run on the thread's CPU.
 */
static volatile int ithread_stage;

static struct thread *make_ithread(void (*fn)(void *))
{
	struct thread *td;

	ithread_stage = 0;
	if (lwkt_create(fn, NULL, &td, TDF_NOSTART, mycpuid, "t-ithread") != 0)
		return NULL;
	lwkt_set_interrupt_thread(td, TDPRI_INT_MED);
	return td;
}

static void ithread_mark(void *arg __unused)
{
	ithread_stage = 1;
}

/*
 * Scheduling an interrupt thread while we are in a critical section does
 * not preempt us: the refusal is counted (preempt_miss) and turns into a
 * reschedule request, which the next yield honours.
 */
KTEST(crit, an_interrupt_thread_scheduled_inside_waits_for_a_yield)
{
	struct thread *td = make_ithread(ithread_mark);
	uint64_t miss0, miss1;
	int ran_inside;

	KT_ASSERT_TRUE(td != NULL);
	crit_enter();
	miss0 = mycpu->gd_cnt.preempt_miss;
	lwkt_schedule(td);
	ran_inside = ithread_stage;
	miss1 = mycpu->gd_cnt.preempt_miss;
	crit_exit();
	lwkt_yield();
	KT_EXPECT_EQ(ran_inside, 0);
	KT_EXPECT_EQ(miss1, miss0 + 1);
	KT_EXPECT_EQ(ithread_stage, 1);
	lwkt_thread_join(td);
}

/*
 * An interrupt thread that holds a token (it took one, then blocked) is
 * not allowed to preempt: a preemptor must not need tokens, since the
 * thread it preempts keeps its own.  The refusal is counted, and the
 * next yield runs it with its token.
 */
static struct lwkt_token tok_ithread = LWKT_TOKEN_INITIALIZER("test-ithread");

static void ithread_with_token(void *arg __unused)
{
	struct thread *td = curthread;

	lwkt_gettoken(&tok_ithread);
	ithread_stage = 1;
	crit_enter();
	lwkt_deschedule_self(td);
	lwkt_switch();			/* back to the thread it preempted */
	crit_exit();
	ithread_stage = 2;
	lwkt_reltoken(&tok_ithread);
}

KTEST(crit, an_interrupt_thread_holding_a_token_does_not_preempt)
{
	struct thread *td = make_ithread(ithread_with_token);
	uint64_t miss0, miss1;
	int stage_at_once;

	KT_ASSERT_TRUE(td != NULL);
	lwkt_schedule(td);		/* preempts us: takes the token, blocks */
	KT_ASSERT_EQ(ithread_stage, 1);
	miss0 = mycpu->gd_cnt.preempt_miss;
	lwkt_schedule(td);		/* now it holds a token: refused */
	stage_at_once = ithread_stage;
	miss1 = mycpu->gd_cnt.preempt_miss;
	lwkt_yield();
	KT_EXPECT_EQ(stage_at_once, 1);
	KT_EXPECT_EQ(miss1, miss0 + 1);
	KT_EXPECT_EQ(ithread_stage, 2);
	lwkt_thread_join(td);
	KT_EXPECT_EQ(tok_ithread.t_count & ~(long)TOK_EXCLREQ, 0);
}

KTEST(lwkt, exited_thread_is_reaped_lazily_and_reused)
{
	struct thread *td, *td2;

	KT_ASSERT_EQ(lwkt_create(record_crit, NULL, &td, 0, -1, "t-reap"), 0);
	lwkt_thread_join(td);
	KT_EXPECT_TRUE(mycpu->gd_freetd == td);
	KT_ASSERT_EQ(lwkt_create(record_crit, NULL, &td2, 0, -1, "t-reuse"),
		     0);
	KT_EXPECT_TRUE(td2 == td);
	lwkt_thread_join(td2);
}

/*
 * A join must wait for its own thread even when another creation on the
 * same CPU would reuse the exited structure: A exits, B is created (it
 * once got A's structure back from gd_freetd), and only then is A joined.
 * The join must return while B is still waiting to be released.
 */
static volatile int b_release, b_done;

static void wait_for_release(void *arg __unused)
{
	for (int i = 0; i < 300 && !b_release; i++)
		tsleep(&b_release, 0, "release", 1);
	b_done = 1;
}

KTEST(lwkt, join_waits_for_its_own_thread_after_another_creation)
{
	struct thread *a, *b;

	b_release = b_done = 0;
	KT_ASSERT_EQ(lwkt_create(record_crit, NULL, &a, 0, mycpuid, "t-a"), 0);
	while ((a->td_mpflags & TDF_MP_EXITSIG) == 0)
		tsleep(&b_release, 0, "exit", 1);
	KT_ASSERT_EQ(lwkt_create(wait_for_release, NULL, &b, 0, mycpuid,
				 "t-b"), 0);
	lwkt_thread_join(a);
	KT_EXPECT_EQ(b_done, 0);
	KT_EXPECT_TRUE(a != b);
	b_release = 1;
	wakeup(&b_release);
	lwkt_thread_join(b);
	KT_EXPECT_EQ(b_done, 1);
}

/*
 * Blocking is descheduling oneself and switching: the thread then stays
 * off the CPU, however long its CPU has nothing else to do, until
 * someone schedules it.
 */
static volatile int ds_stage;

static void deschedule_and_switch(void *arg __unused)
{
	struct thread *td = curthread;

	ds_stage = 1;
	crit_enter();
	lwkt_deschedule_self(td);
	lwkt_switch();
	crit_exit();
	ds_stage = 2;
}

KTEST(lwkt, a_descheduled_thread_runs_again_only_once_scheduled)
{
	struct thread *td;
	int stage_before;

	ds_stage = 0;
	KT_ASSERT_EQ(lwkt_create(deschedule_and_switch, NULL, &td, 0, mycpuid,
				 "t-desched"), 0);
	while (ds_stage == 0)
		tsleep(&ds_stage, 0, "desched", 1);
	tsleep(&ds_stage, 0, "desched", 3);	/* time it could have run */
	stage_before = ds_stage;
	lwkt_schedule(td);
	lwkt_thread_join(td);
	KT_EXPECT_EQ(stage_before, 1);
	KT_EXPECT_EQ(ds_stage, 2);
}

/*
 * Scheduling a thread of another CPU is one IPIQ message to its owner,
 * and the thread runs there.  The critical section keeps interrupt work
 * on this CPU from sending anything in between.
 */
static volatile int ran_on;

static void record_cpu(void *arg __unused)
{
	ran_on = mycpuid;
}

KTEST(lwkt, scheduling_a_thread_of_another_cpu_is_one_ipiq_message)
{
	struct thread *td;
	uint64_t before, after;
	int other = mycpuid == 0 ? 1 : 0;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	ran_on = -1;
	KT_ASSERT_EQ(lwkt_create(record_cpu, NULL, &td, TDF_NOSTART, other,
				 "t-remote"), 0);
	crit_enter();
	before = mycpu->gd_cnt.ipiq_count;
	lwkt_schedule(td);
	after = mycpu->gd_cnt.ipiq_count;
	crit_exit();
	lwkt_thread_join(td);
	KT_EXPECT_EQ(after, before + 1);
	KT_EXPECT_EQ(ran_on, other);
}

/* lwkt_exit waits while lwkt_hold references remain. */
KTEST(lwkt, exit_waits_while_the_thread_is_held)
{
	struct thread *td;
	bool exited_while_held;

	ran = 0;
	KT_ASSERT_EQ(lwkt_create(record_crit, NULL, &td, TDF_NOSTART, mycpuid,
				 "t-held"), 0);
	lwkt_hold(td);
	lwkt_schedule(td);
	while (ran == 0)
		tsleep(&ran, 0, "held", 1);
	tsleep(&ran, 0, "held", 3);		/* time it could have exited */
	exited_while_held = (td->td_mpflags & TDF_MP_EXITSIG) != 0;
	lwkt_rele(td);
	lwkt_thread_join(td);
	KT_EXPECT_EQ(ran, 1);
	KT_EXPECT_FALSE(exited_while_held);
}

/*
 * After A switches to B, B has TDF_RUNNING and A has lost it: B looks at
 * both as soon as it runs, then schedules A again.
 */
static struct thread *handoff_from;
static volatile uint32_t seen_self_flags, seen_from_flags;

static void check_running_flags(void *arg __unused)
{
	seen_self_flags = curthread->td_flags;
	seen_from_flags = handoff_from->td_flags;
	lwkt_schedule(handoff_from);
}

KTEST(lwkt, a_switch_hands_the_running_flag_to_the_new_thread)
{
	struct thread *td;

	handoff_from = curthread;
	seen_self_flags = 0;
	seen_from_flags = TDF_RUNNING;
	KT_ASSERT_EQ(lwkt_create(check_running_flags, NULL, &td, TDF_NOSTART,
				 mycpuid, "t-handoff"), 0);
	crit_enter();
	lwkt_schedule(td);
	lwkt_deschedule_self(curthread);
	lwkt_switch();				/* B runs, then wakes us */
	crit_exit();
	lwkt_thread_join(td);
	KT_EXPECT_TRUE(seen_self_flags & TDF_RUNNING);
	KT_EXPECT_FALSE(seen_from_flags & TDF_RUNNING);
	KT_EXPECT_TRUE(curthread->td_flags & TDF_RUNNING);
}

/* Round robin: three equal threads log each change of runner. */
static volatile int rr_log[12], rr_n, rr_last = -1;

static void rr_thread(void *arg)
{
	int me = (int)(uintptr_t)arg;

	while (rr_n < 12) {
		if (rr_last != me) {
			rr_log[rr_n++] = me;
			rr_last = me;
		}
		lwkt_yield();
	}
}

KTEST(lwkt, equal_priority_threads_take_turns_each_tick)
{
	struct thread *td[3];

	rr_n = 0;
	rr_last = -1;
	crit_enter();
	for (int i = 0; i < 3; i++)
		KT_ASSERT_EQ(lwkt_create(rr_thread, (void *)(uintptr_t)i,
					 &td[i], 0, -1, "t-rr%d", i), 0);
	crit_exit();
	for (int i = 0; i < 3; i++)
		lwkt_thread_join(td[i]);
	for (int i = 3; i < 12; i++)
		KT_EXPECT_EQ(rr_log[i], rr_log[i - 3]);
	KT_EXPECT_NE(rr_log[0], rr_log[1]);
	KT_EXPECT_NE(rr_log[1], rr_log[2]);
}

/*
 * A yield switches only when the scheduler asked for it.  An equal-
 * priority rival waits behind us on the run queue, so a yield that
 * switched anyway (say, one that rotated us behind our equals every
 * time) would run it.  Interrupts are off, so no tick can rotate us
 * meanwhile; deferred work is run first, for the same reason.  Then the
 * tick's rotation asks, and the same yield does run the rival.
 */
static volatile int rival_ran;

static void mark_rival(void *arg __unused)
{
	rival_ran = 1;
}

KTEST(lwkt, yield_without_a_resched_request_does_not_switch)
{
	struct thread *td = curthread, *rival;
	uint64_t before, rf;
	bool quiet;

	rival_ran = 0;
	KT_ASSERT_EQ(lwkt_create(mark_rival, NULL, &rival, TDF_NOSTART,
				 mycpuid, "t-rival"), 0);
	lwkt_setpri(rival, td->td_pri);
	crit_enter();
	lwkt_schedule(rival);			/* queued behind us */
	rf = intr_disable();
	while (cpu_reqflags() & RQF_IDLECHECK_MASK)
		splz();
	__atomic_and_fetch(&mycpu->gd_reqflags, ~RQF_AST_LWKT_RESCHED,
			   __ATOMIC_RELAXED);
	before = td->td_switches;
	lwkt_yield();
	quiet = td->td_switches == before && !rival_ran;
	intr_restore(rf);
	lwkt_schedulerclock(mycpu);		/* the tick: rotate, ask */
	lwkt_yield();
	crit_exit();
	lwkt_thread_join(rival);
	KT_EXPECT_TRUE(quiet);
	KT_EXPECT_EQ(rival_ran, 1);
	KT_EXPECT_GT(td->td_switches, before);
}

static volatile int migrated_to = -1;
static volatile bool on_new_allq, on_old_allq;

/* Is td on gd's list of threads?  gd's own CPU, critical section. */
static bool on_allq(struct globaldata *gd, struct thread *td)
{
	struct thread *x;

	TAILQ_FOREACH(x, &gd->gd_tdallq, td_allq)
		if (x == td)
			return true;
	return false;
}

/* IPIQ callback on the old CPU: does it still list the thread? */
static void check_old_allq(void *arg)
{
	on_old_allq = on_allq(mycpu, arg);
}

static void migrate_thread(void *arg __unused)
{
	struct globaldata *old = mycpu;

	lwkt_migratecpu(1);
	migrated_to = mycpuid;
	crit_enter();
	on_new_allq = on_allq(mycpu, curthread);
	lwkt_wait_ipiq(old, lwkt_send_ipiq(old, check_old_allq, curthread));
	crit_exit();
}

KTEST(lwkt, thread_migrates_to_another_cpu)
{
	struct thread *td;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	migrated_to = -1;
	on_new_allq = false;
	on_old_allq = true;
	KT_ASSERT_EQ(lwkt_create(migrate_thread, NULL, &td, 0, 0, "t-mig"),
		     0);
	lwkt_thread_join(td);
	KT_EXPECT_EQ(migrated_to, 1);
	KT_EXPECT_TRUE(td->td_gd == globaldata_find(1));
	KT_EXPECT_TRUE(on_new_allq);
	KT_EXPECT_FALSE(on_old_allq);
}

/*
 * Stress: threads on every CPU that yield, sleep and migrate at random.
 * lwkt_switch asserts on every switch that the incoming thread is not
 * running anywhere else, so "a thread never runs on two CPUs" is checked
 * continuously; the test passes if every thread finishes.
 */
#define STRESS_THREADS_PER_CPU	3
#define STRESS_ROUNDS		300

static volatile int stress_done;
static uint64_t stress_seed;

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void stress_thread(void *arg)
{
	uint64_t rng = stress_seed + (uintptr_t)arg * 0x9e3779b97f4a7c15UL;

	for (int i = 0; i < STRESS_ROUNDS; i++) {
		switch (xorshift(&rng) % 4) {
		case 0:
			lwkt_migratecpu((int)(xorshift(&rng) % ncpus));
			break;
		case 1:
			tsleep(&stress_done, 0, "stress", 1);
			break;
		default:
			lwkt_switch();
			break;
		}
	}
	__atomic_add_fetch(&stress_done, 1, __ATOMIC_SEQ_CST);
}

KTEST(lwkt, stress_no_thread_ever_runs_on_two_cpus)
{
	struct thread *td[MAXCPU * STRESS_THREADS_PER_CPU];
	int n = ncpus * STRESS_THREADS_PER_CPU;

	stress_seed = ktest_seed();
	ktest_diag("seed %#lx, %d threads, %d rounds", stress_seed, n,
		   STRESS_ROUNDS);
	stress_done = 0;
	for (int i = 0; i < n; i++)
		KT_ASSERT_EQ(lwkt_create(stress_thread, (void *)(uintptr_t)i,
					 &td[i], 0, i % ncpus, "t-stress%d", i),
			     0);
	for (int i = 0; i < n; i++)
		lwkt_thread_join(td[i]);
	KT_EXPECT_EQ(stress_done, n);
}
