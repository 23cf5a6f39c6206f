/*
 * kern_synch.c - tsleep() and wakeup(): sleeping on an address.
 *
 * A sleeper is queued on its OWN CPU's sleep queue, in the bucket its
 * ident hashes to; only that CPU touches that queue, in a critical
 * section.  A global bitmap per bucket, slpque_cpumasks[], records which
 * CPUs may have sleepers there:
 *
 *    cpu0 buckets: [0] [1]->tdA(&x) [2] ...    slpque_cpumasks[1] = 0b101
 *    cpu2 buckets: [0] [1]->tdB(&x) [2] ...
 *
 * wakeup(&x) wakes local sleepers directly, then sends an IPIQ message to
 * every other CPU whose bit is set; each of them wakes its own sleepers.
 * So a thread is only ever made runnable by its own CPU.
 *
 * No lost wakeups.  tsleep() first queues the thread (tsleep_interlock:
 * TDF_TSLEEPQ, td_wchan = ident, our bit in the mask), and only then
 * deschedules itself.  A wakeup that runs in between takes the thread off
 * the queue; tsleep sees TDF_TSLEEPQ gone and returns without sleeping.
 * Across CPUs the order is: the sleeper sets its mask bit then checks its
 * condition; the waker sets the condition, fences, then reads the mask --
 * so at least one of them sees the other.
 *
 * Timeouts are a callout on the sleeper's CPU (endtsleep); if it fires
 * while the thread is still queued, the thread is woken with TDF_TIMEOUT
 * and tsleep returns EWOULDBLOCK.
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/panic.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/timeout.h>

#define TABLESIZE	64		/* buckets per CPU: power of 2 */
#define LOOKUP(ident)	((((uintptr_t)(ident)) >> 3 ^ ((uintptr_t)(ident)) >> 11) & (TABLESIZE - 1))
#define PWAKEUP_ONE	0x0001		/* internal: wake one thread */
#define PWAKEUP_MYCPU	0x0002		/* internal: this CPU only */

TAILQ_HEAD(tslpque, thread);

static struct tslpque tsleep_hash[MAXCPU][TABLESIZE];	/* owner CPU */
static volatile uint64_t slpque_cpumasks[TABLESIZE];	/* atomic */
static bool synch_ready[MAXCPU];

static struct {
	volatile uint64_t sleeps, wakeups, remote_wakeups, timeouts;
} stats;

/*
 * The queue on cpu that ident hashes to.  A CPU's table is initialised on
 * first use, by that CPU (owner, critical section).
 */
static struct tslpque *bucket(int cpu, const volatile void *ident)
{
	struct tslpque *q = &tsleep_hash[cpu][LOOKUP(ident)];

	if (!synch_ready[cpu]) {
		for (int i = 0; i < TABLESIZE; i++)
			TAILQ_INIT(&tsleep_hash[cpu][i]);
		synch_ready[cpu] = true;
	}
	return q;
}

/*
 * Take td off its sleep queue, which is on its owner CPU: a thread is
 * only ever queued on the CPU it runs on, and lwkt_migratecpu() takes it
 * off before it moves (a migration cancels an interlock).  Owner CPU,
 * critical section.
 */
void tsleep_remove(struct thread *td)
{
	struct globaldata *gd = td->td_gd;
	int h = LOOKUP(td->td_wchan);
	struct tslpque *q = bucket(gd->gd_cpuid, td->td_wchan);

	if ((td->td_flags & TDF_TSLEEPQ) == 0)
		return;
	KASSERT(gd == mycpu, "tsleep_remove of thread \"%s\" from cpu %d; "
		"its sleep queue is cpu %d's and only that CPU touches it",
		td->td_comm, mycpuid, gd->gd_cpuid);
	TAILQ_REMOVE(q, td, td_sleepq);
	td->td_flags &= ~TDF_TSLEEPQ;
	td->td_wchan = NULL;
	if (TAILQ_EMPTY(q))	/* only this CPU adds here: safe to clear */
		__atomic_and_fetch(&slpque_cpumasks[h], ~gd->gd_cpumask,
				   __ATOMIC_SEQ_CST);
}

/*
 * Queue the running thread on ident now, before it checks its condition:
 * from here on a wakeup(ident) on any CPU takes it off the queue, and the
 * tsleep(PINTERLOCKED) that follows returns at once.  Re-queues a thread
 * that was still queued from an earlier interlock.
 */
void tsleep_interlock(const volatile void *ident, int flags)
{
	struct thread *td = curthread;
	struct globaldata *gd;

	crit_enter_quick(td);
	gd = mycpu;
	if (td->td_flags & TDF_TSLEEPQ)
		tsleep_remove(td);
	TAILQ_INSERT_TAIL(bucket(gd->gd_cpuid, ident), td, td_sleepq);
	td->td_wchan = ident;
	td->td_wdomain = flags & PDOMAIN_MASK;
	td->td_flags |= TDF_TSLEEPQ;
	__atomic_or_fetch(&slpque_cpumasks[LOOKUP(ident)], gd->gd_cpumask,
			  __ATOMIC_SEQ_CST);
	crit_exit_quick(td);
}

/* The timeout: still asleep?  Then wake it with TDF_TIMEOUT. */
static void endtsleep(void *arg)
{
	struct thread *td = arg;

	if ((td->td_flags & TDF_TSLEEPQ) == 0)
		return;			/* a wakeup got there first */
	tsleep_remove(td);
	td->td_flags |= TDF_TIMEOUT;
	if (td->td_flags & TDF_TSLEEP_DESCHEDULED)
		lwkt_schedule(td);
}

/*
 * Sleep (contract in kern/synch.h): queue unless already interlocked;
 * if a wakeup already took us off, return 0 at once; else arm the timeout
 * callout, deschedule and switch.  On the way back the timeout either
 * fired (EWOULDBLOCK) or is stopped, and we are off the queue either way.
 */
int tsleep(const volatile void *ident, int flags, const char *wmesg,
	   int timo)
{
	struct thread *td = curthread;
	struct callout timer;
	int error = 0;

	KASSERT(mycpu->gd_intr_nesting_level == 0, "tsleep(\"%s\") from an "
		"interrupt or IPI callback, which cannot block", wmesg);
	crit_enter_quick(td);
	if ((flags & PINTERLOCKED) == 0)
		tsleep_interlock(ident, flags);
	if ((flags & PCATCH) && lwkt_signal_pending()) {
		tsleep_remove(td);	/* interrupted before it slept */
		crit_exit_quick(td);
		return EINTR;
	}
	if ((td->td_flags & TDF_TSLEEPQ) == 0 || td->td_wchan != ident) {
		crit_exit_quick(td);	/* already woken */
		return 0;
	}
	__atomic_add_fetch(&stats.sleeps, 1, __ATOMIC_RELAXED);
	td->td_wmesg = wmesg;
	if (timo > 0) {
		callout_init(&timer);
		callout_reset(&timer, timo, endtsleep, td);
	}
	lwkt_deschedule_self(td);
	td->td_flags |= TDF_TSLEEP_DESCHEDULED;
	if (flags & PCATCH)
		td->td_flags |= TDF_SINTR;	/* lwkt_signal may wake it */
	lwkt_switch();
	td->td_flags &= ~(TDF_TSLEEP_DESCHEDULED | TDF_SINTR);
	td->td_wmesg = NULL;
	if (td->td_flags & TDF_TIMEOUT) {
		td->td_flags &= ~TDF_TIMEOUT;
		__atomic_add_fetch(&stats.timeouts, 1, __ATOMIC_RELAXED);
		error = EWOULDBLOCK;
	} else {
		if (timo > 0)
			callout_stop(&timer);
		if ((flags & PCATCH) && lwkt_signal_pending())
			error = EINTR;
	}
	tsleep_remove(td);		/* a spurious wake leaves it queued */
	crit_exit_quick(td);
	return error;
}

/* Wake matching sleepers on this CPU; returns how many were woken. */
static int wakeup_local(const volatile void *ident, int domain, int flags)
{
	struct globaldata *gd = mycpu;
	struct tslpque *q = bucket(gd->gd_cpuid, ident);
	struct thread *td, *next;
	int woken = 0;

	TAILQ_FOREACH_SAFE(td, q, td_sleepq, next) {
		if (td->td_wchan != ident || td->td_wdomain != domain)
			continue;
		tsleep_remove(td);
		woken++;
		if (td->td_flags & TDF_TSLEEP_DESCHEDULED) {
			lwkt_schedule(td);
			if (flags & PWAKEUP_ONE)
				break;
		}
	}
	return woken;
}

/* IPIQ callback: wake this CPU's sleepers on the ident (arg2 = domain
 * and flags). */
static void wakeup_remote(void *arg1, int arg2,
			  struct trapframe *frame __unused)
{
	wakeup_local(arg1, arg2 & PDOMAIN_MASK, arg2);
}

/*
 * Wake locally first; for wakeup_one, stop if that found someone.  Then
 * one message to each other CPU whose bit says it may have sleepers on
 * this bucket.  A bit may be stale (the sleeper left): that costs a
 * message, never a lost wakeup.
 */
static void _wakeup(const volatile void *ident, int domain, int flags)
{
	struct globaldata *gd;
	uint64_t mask;

	crit_enter();
	gd = mycpu;
	__atomic_add_fetch(&stats.wakeups, 1, __ATOMIC_RELAXED);
	if (wakeup_local(ident, domain, flags) != 0 && (flags & PWAKEUP_ONE)) {
		crit_exit();
		return;
	}
	/* Order the caller's condition store before reading the mask. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	mask = slpque_cpumasks[LOOKUP(ident)] & ~gd->gd_cpumask;
	for (; mask != 0; mask &= mask - 1) {
		__atomic_add_fetch(&stats.remote_wakeups, 1, __ATOMIC_RELAXED);
		lwkt_send_ipiq3(globaldata_find(__builtin_ctzl(mask)),
				wakeup_remote, (void *)(uintptr_t)ident,
				domain | flags);
	}
	crit_exit();
}

/* Every sleeper on ident, on every CPU. */
void wakeup(const volatile void *ident)
{
	_wakeup(ident, 0, 0);
}

/*
 * One sleeper on this CPU if it has one; otherwise at most one on each
 * other CPU that may have sleepers on the bucket.
 */
void wakeup_one(const volatile void *ident)
{
	_wakeup(ident, 0, PWAKEUP_ONE);
}

/* Every sleeper on ident that slept in the same PDOMAIN_* domain. */
void wakeup_domain(const volatile void *ident, int domain)
{
	_wakeup(ident, domain & PDOMAIN_MASK, 0);
}

/* ---- signals (kern/synch.h) ---------------------------------------- */

/*
 * On td's CPU: if td sleeps interruptibly, take it off its sleep queue (if
 * it is on one) and make it runnable; its sleep sees the signal and
 * returns EINTR.  TDF_SINTR is set and cleared by td in a critical section
 * on this CPU, so it cannot change under us.  If td moved to another CPU
 * meanwhile, follow it.  The hold taken by lwkt_signal is let go here.
 */
static void lwkt_signal_remote(void *arg)
{
	struct thread *td = arg;

	if (td->td_gd != mycpu) {
		lwkt_send_ipiq(td->td_gd, lwkt_signal_remote, td);
		return;
	}
	if (td->td_flags & TDF_SINTR) {
		tsleep_remove(td);
		lwkt_schedule(td);
	}
	lwkt_rele(td);
}

/*
 * Pending first, wake second: a thread that checks before it sleeps (in
 * the same critical section as the sleep, on its own CPU) either sees the
 * signal pending or is asleep when lwkt_signal_remote runs there.
 */
void lwkt_signal(struct thread *td)
{
	__atomic_or_fetch(&td->td_mpflags, TDF_MP_SIGPEND, __ATOMIC_SEQ_CST);
	lwkt_hold(td);
	crit_enter();
	lwkt_send_ipiq(td->td_gd, lwkt_signal_remote, td);
	crit_exit();
}

bool lwkt_signal_pending(void)
{
	return (curthread->td_mpflags & TDF_MP_SIGPEND) != 0;
}

void lwkt_signal_clear(void)
{
	__atomic_and_fetch(&curthread->td_mpflags, ~TDF_MP_SIGPEND,
			   __ATOMIC_SEQ_CST);
}

struct sleeper_count {
	const volatile void *ident;
	volatile int count;
};

/* On each CPU: count its own sleepers on the ident (owner, crit section). */
static void count_sleepers_here(void *arg)
{
	struct sleeper_count *sc = arg;
	struct thread *td;
	int n = 0;

	TAILQ_FOREACH(td, bucket(mycpuid, sc->ident), td_sleepq)
		n += td->td_wchan == sc->ident;
	__atomic_add_fetch(&sc->count, n, __ATOMIC_SEQ_CST);
}

int tsleep_count_sleepers(const volatile void *ident)
{
	struct sleeper_count sc = { ident, 0 };

	KASSERT(mycpu->gd_intr_nesting_level == 0, "tsleep_count_sleepers "
		"waits for every CPU; not from an interrupt or IPI callback");
	for (int cpu = 0; cpu < ncpus; cpu++) {
		struct globaldata *gd = globaldata_find(cpu);

		crit_enter();
		lwkt_wait_ipiq(gd, lwkt_send_ipiq(gd, count_sleepers_here, &sc));
		crit_exit();
	}
	return sc.count;
}

/* A snapshot of the counters (each read is atomic, the set is not). */
void synch_stats(struct synch_stats *st)
{
	st->sleeps = stats.sleeps;
	st->wakeups = stats.wakeups;
	st->remote_wakeups = stats.remote_wakeups;
	st->timeouts = stats.timeouts;
}
