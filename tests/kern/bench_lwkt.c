/*
 * bench_lwkt.c - what the LWKT primitives cost (docs/lwkt.md, "Costs").
 *
 *   lwkt_switch_two_threads   one thread hands the CPU to another on the
 *                             same CPU: lwkt_schedule(other),
 *                             lwkt_deschedule_self(), lwkt_switch().
 *                             Reported per switch.
 *   lwkt_yield_round_trip     two equal-priority threads take turns the
 *                             way round robin does: the tick's rotation
 *                             (lwkt_schedulerclock) and lwkt_yield(), on
 *                             each side.  Reported per round trip (two
 *                             switches).
 *   ipiq_send_sender_side     one lwkt_send_ipiq3() to another CPU that
 *                             is already signalled (no IPI), timed on the
 *                             sender alone; the cheapest send counts
 *                             (needs 2 CPUs, as do the next two).
 *   ipiq_send_with_ipi        the same to an idle CPU: the send raises
 *                             a hardware IPI.
 *   ipiq_pingpong_ipis        a wakeup ping-pong between two CPUs; prints
 *                             how many hardware IPIs the IPIQ sent and how
 *                             many it avoided (needs 2 CPUs).
 *
 * The harness runs every body with interrupts off.  Switching is fine
 * with interrupts off: RFLAGS is part of each thread's switch frame, so
 * the partner thread turns them off for itself before its loop (a new
 * thread starts with them on) and the measuring thread gets its own
 * RFLAGS, interrupts off, back at every switch.  The partner is created
 * and joined outside the timed region: each body times its loop with
 * rdtsc and reports through kbench_report().
 */
#include <kern/clock.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/kbench.h>
#include <kern/kprintf.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <machine/cpufunc.h>

/* ---- two threads on one CPU ---- */

struct pair {
	struct thread *main, *partner;
	volatile bool stop;
	enum { PAIR_HANDOFF, PAIR_YIELD } mode;
};

/* Give the CPU to other: it runs, and we wait off the run queue. */
static void handoff(struct thread *self, struct thread *other)
{
	lwkt_schedule(other);
	lwkt_deschedule_self(self);
	lwkt_switch();
}

/* Round robin's way: rotate behind our equal, then honour the request. */
static void rotate_and_yield(void)
{
	crit_enter();
	lwkt_schedulerclock(mycpu);
	crit_exit();
	lwkt_yield();
}

static void pair_partner(void *arg)
{
	struct pair *p = arg;

	cpu_disable_intr();		/* as the measuring thread runs */
	while (!p->stop) {
		if (p->mode == PAIR_HANDOFF)
			handoff(p->partner, p->main);
		else
			rotate_and_yield();
	}
	if (p->mode == PAIR_HANDOFF)
		lwkt_schedule(p->main);
	cpu_enable_intr();
}

/* Start the partner and let it reach its loop (untimed). */
static void pair_start(struct pair *p, int mode)
{
	p->main = curthread;
	p->stop = false;
	p->mode = mode;
	lwkt_create(pair_partner, p, &p->partner, 0, -1, "bench-pair");
	if (mode == PAIR_HANDOFF)
		handoff(p->main, p->partner);	/* it runs and hands back */
	else
		rotate_and_yield();
}

/* Stop the partner: one last turn for it to see the flag and exit. */
static void pair_stop(struct pair *p)
{
	p->stop = true;
	if (p->mode == PAIR_HANDOFF)
		handoff(p->main, p->partner);
	else
		rotate_and_yield();
	lwkt_thread_join(p->partner);
}

KBENCH(lwkt_switch_two_threads, 20000)
{
	struct pair p;
	uint64_t t0, t1;

	pair_start(&p, PAIR_HANDOFF);
	t0 = rdtsc();
	for (uint64_t i = 0; i < n; i++)
		handoff(p.main, p.partner);	/* two switches: there and back */
	t1 = rdtsc();
	pair_stop(&p);
	kbench_report(t1 - t0, 2 * n);
}

/*
 * The queue work of a handoff without the switch: schedule a thread that
 * is off the run queue, then take it off again.  lwkt_switch_two_threads
 * minus this is what lwkt_switch itself costs.
 */
static void bench_noop(void *arg)
{
}

KBENCH(lwkt_schedule_deschedule_pair, 20000)
{
	struct thread *td;
	uint64_t t0, t1;

	lwkt_create(bench_noop, NULL, &td, TDF_NOSTART, -1, "bench-noop");
	lwkt_schedule(td);		/* the creation message has run now */
	lwkt_deschedule(td);
	t0 = rdtsc();
	for (uint64_t i = 0; i < n; i++) {
		lwkt_schedule(td);
		lwkt_deschedule(td);
	}
	t1 = rdtsc();
	lwkt_schedule(td);		/* let it run and exit */
	lwkt_thread_join(td);
	kbench_report(t1 - t0, n);
}

KBENCH(lwkt_yield_round_trip, 20000)
{
	struct pair p;
	uint64_t t0, t1;

	pair_start(&p, PAIR_YIELD);
	t0 = rdtsc();
	for (uint64_t i = 0; i < n; i++)
		rotate_and_yield();		/* partner's turn, then ours */
	t1 = rdtsc();
	pair_stop(&p);
	kbench_report(t1 - t0, n);
}

/* ---- IPIQ between two CPUs ---- */

static void ipiq_nothing(void *arg1, int arg2, struct trapframe *frame)
{
}

#define IPIQ_WINDOW 32			/* sends between waits for the target */

/* What an empty rdtsc-to-rdtsc region costs: subtracted from each sample. */
static uint64_t rdtsc_overhead(void)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 16; i++) {
		uint64_t t0 = rdtsc();

		best = MIN(best, rdtsc() - t0);
	}
	return best;
}

/* One timed send; the cheapest so far stays in *best. */
static int timed_send(struct globaldata *target, uint64_t *best)
{
	uint64_t t0 = rdtsc();
	int seq = lwkt_send_ipiq3(target, ipiq_nothing, NULL, 0);

	*best = MIN(*best, rdtsc() - t0);
	return seq;
}

/*
 * The target thread sits in a critical section while each window of
 * sends arrives, so it does not drain: the first send of a window
 * signals it (one IPI), the others find gd_npoll set and send none.
 */
static volatile int window_open, window_done;

static void ipiq_target(void *arg)
{
	uint64_t windows = (uint64_t)arg;

	for (uint64_t w = 0; w < windows; w++) {
		crit_enter();
		window_open = 1;
		while (!window_done)
			cpu_pause();
		window_done = 0;
		crit_exit();			/* drains the window here */
	}
}

static bool need_two_cpus(void)
{
	if (ncpus >= 2)
		return true;
	kbench_skip("needs 2 CPUs; this boot has 1 (tools/kbench runs the "
		    "cross-CPU benchmarks in a second, 2-CPU boot)");
	return false;
}

/*
 * Each send is timed on its own and the cheapest counts: a round-robin
 * vCPU switch (or the window's one IPI) that lands inside a sample only
 * makes that sample larger.  This is the common case: the target is
 * already signalled and no IPI is needed.
 */
KBENCH(ipiq_send_sender_side, 4096)
{
	struct globaldata *target;
	struct thread *td;
	uint64_t windows = n / IPIQ_WINDOW, best = UINT64_MAX;
	int seq = 0;

	if (!need_two_cpus())
		return;
	target = globaldata_find(1);
	window_open = window_done = 0;
	lwkt_create(ipiq_target, (void *)windows, &td, 0, 1, "bench-ipiq");
	for (uint64_t w = 0; w < windows; w++) {
		while (!window_open)
			cpu_pause();
		window_open = 0;
		for (int k = 0; k < IPIQ_WINDOW; k++)
			seq = timed_send(target, &best);
		window_done = 1;
		lwkt_wait_ipiq(target, seq);
	}
	lwkt_thread_join(td);
	kbench_report(best - rdtsc_overhead(), 1);
}

/* The same send when the target is idle: every send raises an IPI. */
KBENCH(ipiq_send_with_ipi, 1024)
{
	struct globaldata *target;
	uint64_t best = UINT64_MAX;

	if (!need_two_cpus())
		return;
	target = globaldata_find(1);
	for (uint64_t i = 0; i < n; i++)
		lwkt_wait_ipiq(target, timed_send(target, &best));
	kbench_report(best - rdtsc_overhead(), 1);
}

/* A tsleep/wakeup ping-pong between CPU 0 and CPU 1. */
static volatile int pp_turn;

static void pp_player(int me, uint64_t rounds)
{
	for (uint64_t i = 0; i < rounds; i++) {
		while (pp_turn != me) {
			tsleep_interlock(&pp_turn, 0);
			if (pp_turn == me)
				break;
			tsleep(&pp_turn, PINTERLOCKED, "pp", hz);
		}
		pp_turn = 1 - me;
		wakeup(&pp_turn);
	}
}

static void pp_remote(void *arg)
{
	pp_player(1, (uint64_t)arg);
}

/*
 * The number is TSC ticks per round trip.  Under -icount with round-robin
 * vCPUs that is the instructions BOTH CPUs executed per round trip (the
 * virtual clock advances with whichever vCPU runs).  The IPI counts are
 * the point: they come out on a "# note" line, once.
 */
KBENCH(ipiq_pingpong_ipis, 2000)
{
	static bool noted;
	struct ipiq_stats a, b;
	struct thread *td;
	uint64_t t0, t1;

	if (!need_two_cpus())
		return;
	pp_turn = 0;
	lwkt_create(pp_remote, (void *)n, &td, 0, 1, "bench-pong");
	lwkt_ipiq_stats(&a);
	t0 = rdtsc();
	pp_player(0, n);
	t1 = rdtsc();
	lwkt_thread_join(td);
	lwkt_ipiq_stats(&b);
	if (!noted && n >= 1000) {
		noted = true;
		kprintf("# note ipiq_pingpong_ipis: %lu round trips, %lu IPIQ "
			"messages, %lu IPIs sent, %lu avoided\n",
			(unsigned long)n, (unsigned long)(b.count - a.count),
			(unsigned long)(b.ipis - a.ipis),
			(unsigned long)(b.avoided - a.avoided));
	}
	kbench_report(t1 - t0, n);
}
