/*
 * lwkt_mutant_test.c - scheduler rules the older LWKT tests did not pin
 * down (kern/lwkt_thread.c): where a re-prioritised thread goes in the run
 * queue, when an interrupt thread may preempt, and what an exit must wait
 * for and undo.
 *
 * Written for `make mutate` (tests/mutants.txt): each test catches a
 * one-line breakage the older tests let through.  All run on one CPU: the
 * threads they start are created on the test's own CPU and joined before
 * the test ends.
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/synch.h>
#include <kern/thread.h>

static volatile int first_to_run, nran;

static void note_order(void *arg)
{
	if (nran++ == 0)
		first_to_run = (int)(uintptr_t)arg;
}

static struct thread *make_here(void (*fn)(void *), int arg, const char *name)
{
	struct thread *td;

	KASSERT(lwkt_create(fn, (void *)(uintptr_t)arg, &td, TDF_NOSTART,
			    mycpuid, "%s", name) == 0,
		"no thread for an LWKT test");
	return td;
}

/*
 * Two threads of one priority queue in arrival order.  Raising the second
 * one's priority must move it ahead of the first, not just relabel it.
 */
KTEST(lwkt_sched, raising_a_queued_threads_priority_moves_it_ahead)
{
	struct thread *a = make_here(note_order, 1, "t-prio-a");
	struct thread *b = make_here(note_order, 2, "t-prio-b");

	nran = 0;
	first_to_run = 0;
	crit_enter();			/* neither runs before the setpri */
	lwkt_schedule(a);
	lwkt_schedule(b);
	lwkt_setpri(b, a->td_pri + 1);
	crit_exit();
	lwkt_thread_join(a);
	lwkt_thread_join(b);
	KT_EXPECT_EQ(nran, 2);
	KT_EXPECT_EQ(first_to_run, 2);
}

/*
 * An interrupt thread preempts the current thread only if its priority is
 * strictly higher, and never inside the current thread's critical section:
 * then it waits in the run queue.
 */
static volatile int ithread_ran;

static void mark_ran(void *arg __unused)
{
	ithread_ran = 1;
}

/* Schedule an interrupt thread of priority pri from here; did it run
 * before lwkt_schedule returned? */
static bool preempts_at_once(int pri, bool in_critical_section)
{
	struct thread *td = make_here(mark_ran, 0, "t-ithread");
	bool ran_at_once;

	ithread_ran = 0;
	lwkt_set_interrupt_thread(td, pri);
	if (in_critical_section)
		crit_enter();
	lwkt_schedule(td);
	ran_at_once = ithread_ran;
	if (in_critical_section)
		crit_exit();
	lwkt_thread_join(td);
	KT_EXPECT_EQ(ithread_ran, 1);
	return ran_at_once;
}

KTEST(lwkt_sched, a_higher_priority_ithread_preempts_at_once)
{
	KT_EXPECT_TRUE(preempts_at_once(curthread->td_pri + 1, false));
}

KTEST(lwkt_sched, an_equal_priority_ithread_waits_its_turn)
{
	KT_EXPECT_FALSE(preempts_at_once(curthread->td_pri, false));
}

KTEST(lwkt_sched, no_ithread_preempts_inside_a_critical_section)
{
	KT_EXPECT_FALSE(preempts_at_once(curthread->td_pri + 1, true));
}

/*
 * lwkt_hold keeps an exiting thread from finishing its exit (its
 * structure and stack stay valid) until the matching lwkt_rele.
 */
static volatile int started;

static void just_start(void *arg __unused)
{
	started = 1;
}

KTEST(lwkt_sched, an_exiting_thread_waits_for_its_holds)
{
	struct thread *td = make_here(just_start, 0, "t-held");
	bool exited_while_held;

	started = 0;
	lwkt_hold(td);
	lwkt_schedule(td);
	while (!started)
		tsleep(&started, 0, "heldrun", 1);
	tsleep(&started, 0, "heldwait", 5);	/* it is in lwkt_exit now */
	exited_while_held = (td->td_mpflags & TDF_MP_EXITSIG) != 0;
	lwkt_rele(td);
	lwkt_thread_join(td);
	KT_EXPECT_FALSE(exited_while_held);
}

/*
 * gd_tdallq lists every thread a CPU owns: a thread not yet started is
 * on it, an exited one is not (its structure is reused later, and must
 * not be linked in twice).
 */
#define ALLQ_MAX 1000	/* more threads than the pool has: a cycle */

/* 1 if td is on this CPU's list, 0 if not, -1 if the list loops. */
static int on_allq(struct thread *td)
{
	struct thread *x;
	int found = 0, n = 0;

	crit_enter();
	TAILQ_FOREACH(x, &mycpu->gd_tdallq, td_allq) {
		found |= x == td;
		if (++n > ALLQ_MAX) {
			found = -1;
			break;
		}
	}
	crit_exit();
	return found;
}

KTEST(lwkt_sched, only_live_threads_are_on_the_cpus_thread_list)
{
	struct thread *td = make_here(just_start, 0, "t-allq");

	KT_EXPECT_EQ(on_allq(td), 1);
	lwkt_schedule(td);
	lwkt_thread_join(td);
	KT_EXPECT_EQ(on_allq(td), 0);
}
