/*
 * kern_timeout.c - per-CPU callouts on a hashed timing wheel.
 *
 * Each CPU has its own wheel (Varghese and Lauck's hashed timing wheel,
 * as in DragonFly): CALLWHEEL_SIZE slots, a callout due at tick t lives in
 * slot t % CALLWHEEL_SIZE.  Callouts further away than one turn share the
 * slot and are skipped until their tick comes round.
 *
 *      slot:   0     1     2     3   ...   63
 *             [ ]  [c9 ]  [ ]  [c3,c67] ... [ ]       c3 due at tick 3,
 *                     ^ softticks: next tick to run       c67 at tick 67
 *
 * The wheel is touched only by its own CPU, in a critical section: the
 * clock tick (hardclock -> softclock_tick) looks at the current slot and
 * schedules this CPU's "softclock N" thread when something is due; that
 * thread runs the due callouts, each inside a critical section, at
 * TDPRI_SOFT_TIMER.  Because a callback and a stop both run in a critical
 * section on the owning CPU, a stop that returns "was pending" guarantees
 * the callback never runs.  Another CPU stops or resets a callout by an
 * IPIQ message to the owner, and waits for it.
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/kprintf.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <kern/timeout.h>

/* A power of two, so the slot of tick t is t & CALLWHEEL_MASK. */
#define CALLWHEEL_SIZE	64
#define CALLWHEEL_MASK	(CALLWHEEL_SIZE - 1)

TAILQ_HEAD(callout_list, callout);

/* One per CPU; every field is owned by that CPU, critical section. */
struct softclock_pcpu {
	struct callout_list wheel[CALLWHEEL_SIZE];
	uint64_t softticks;		/* next tick whose slot must run */
	/*
	 * The callout the running slot visits after the current callback
	 * returns, or NULL.  It lives here, not in a local variable, because
	 * a callback may stop or re-arm any callout, this next one included;
	 * callout_unlink() moves it on so that the loop never follows a
	 * callout that has left the slot.
	 */
	struct callout *next;
	bool isrunning;			/* the thread is scheduled or running */
	struct thread *td;
};

static struct softclock_pcpu softclock_pcpu[MAXCPU];

/*
 * Make c an unarmed callout with no owner.  No requirements, but c must
 * not be pending: re-initialising an armed callout would leave it linked
 * on a wheel.
 */
void callout_init(struct callout *c)
{
	c->c_gd = NULL;
	c->c_flags = 0;
	c->c_func = NULL;
}

/*
 * Is c armed?  Exact only on c's owner CPU in a critical section;
 * anywhere else it is a snapshot that may already be stale.
 */
bool callout_pending(const struct callout *c)
{
	return (c->c_flags & CALLOUT_PENDING) != 0;
}

/* Take c off its wheel.  Owner CPU, critical section. */
static bool callout_unlink(struct callout *c)
{
	struct softclock_pcpu *sc = c->c_gd->gd_softclock;

	if ((c->c_flags & CALLOUT_PENDING) == 0)
		return false;
	if (sc->next == c)		/* softclock_run_slot was to visit c */
		sc->next = TAILQ_NEXT(c, c_link);
	TAILQ_REMOVE(&sc->wheel[c->c_time & CALLWHEEL_MASK], c, c_link);
	c->c_flags &= ~CALLOUT_PENDING;
	return true;
}

/* Arm c on this CPU's wheel.  Critical section. */
static void callout_link_here(struct callout *c, int nticks)
{
	struct globaldata *gd = mycpu;
	struct softclock_pcpu *sc = gd->gd_softclock;
	uint64_t when = gd->gd_ticks + (uint64_t)(nticks < 1 ? 1 : nticks);

	/*
	 * A callout due before softticks would sit in a slot the thread
	 * has already passed and never run.  That cannot happen: the thread
	 * runs slots only up to gd_ticks (softticks <= gd_ticks + 1), and
	 * `when` is at least gd_ticks + 1.
	 */
	KASSERT(when >= sc->softticks, "callout due at tick %lu, before the "
		"slot the softclock runs next (%lu)", (unsigned long)when,
		(unsigned long)sc->softticks);
	c->c_gd = gd;
	c->c_time = when;
	c->c_flags = CALLOUT_PENDING;
	TAILQ_INSERT_TAIL(&sc->wheel[when & CALLWHEEL_MASK], c, c_link);
}

/*
 * IPIQ message: stop c on its owner CPU.  The answer travels back in
 * c_req_ticks, which the waiting sender reads once lwkt_wait_ipiq()
 * says this has run.
 */
static void callout_stop_remote(void *arg1, int arg2 __unused,
				struct trapframe *frame __unused)
{
	struct callout *c = arg1;

	c->c_req_ticks = callout_unlink(c);
}

/*
 * Cancel c; true if it was pending (the callback will now never run).
 * Any CPU, thread context.  Never sleeps, but for a callout owned by
 * another CPU it spins, with interrupts enabled, until the owner has
 * handled the request.  Callers must not stop or reset the same callout
 * from two CPUs at once: c_gd is read before the critical section.
 */
bool callout_stop(struct callout *c)
{
	struct globaldata *owner = c->c_gd;
	bool was;

	if (owner == NULL)
		return false;
	crit_enter();
	if (owner == mycpu) {
		was = callout_unlink(c);
	} else {
		lwkt_wait_ipiq(owner, lwkt_send_ipiq3(owner,
				callout_stop_remote, c, 0));
		was = c->c_req_ticks != 0;
	}
	crit_exit();
	return was;
}

/* IPIQ message: arm c (arg1) for arg2 ticks on the receiving CPU. */
static void callout_reset_remote(void *arg1, int arg2,
				 struct trapframe *frame __unused)
{
	callout_link_here(arg1, arg2);
}

/*
 * (Re)arm c to run func(arg) nticks ticks from now on CPU cpu, which
 * becomes c's owner.  Stops it first on its old owner, so it can never
 * be on two wheels.  Same context rules as callout_stop(): may spin on
 * up to two IPIQ round trips, never sleeps.
 */
void callout_reset_bycpu(struct callout *c, int nticks, void (*func)(void *),
			 void *arg, int cpu)
{
	struct globaldata *gd = globaldata_find(cpu);

	KASSERT(func != NULL, "callout_reset with no function");
	KASSERT(cpu >= 0 && cpu < ncpus, "callout on cpu %d of %d", cpu,
		ncpus);
	callout_stop(c);
	c->c_func = func;
	c->c_arg = arg;
	crit_enter();
	if (gd == mycpu)
		callout_link_here(c, nticks);
	else
		lwkt_wait_ipiq(gd, lwkt_send_ipiq3(gd, callout_reset_remote,
						   c, nticks));
	crit_exit();
}

/* callout_reset_bycpu() on the calling CPU: no IPIQ needed. */
void callout_reset(struct callout *c, int nticks, void (*func)(void *),
		   void *arg)
{
	callout_reset_bycpu(c, nticks, func, arg, mycpuid);
}

/*
 * Run every callout due at tick t.  Softclock thread, critical section.
 * The walk keeps its place in sc->next, where callout_unlink() can see
 * it: a callback that stops the callout after it (directly, or through
 * an IPIQ message it lets run) moves sc->next past it, so a stopped
 * callout is never run and the walk never follows a stale link.
 */
static void softclock_run_slot(struct softclock_pcpu *sc, uint64_t t)
{
	struct callout_list *slot = &sc->wheel[t & CALLWHEEL_MASK];
	struct callout *c;

	for (c = TAILQ_FIRST(slot); c != NULL; c = sc->next) {
		sc->next = TAILQ_NEXT(c, c_link);
		if (c->c_time != t)
			continue;
		TAILQ_REMOVE(slot, c, c_link);
		/* No longer pending before the call, so func may re-arm c. */
		c->c_flags = CALLOUT_DID_RUN;
		c->c_func(c->c_arg);
	}
}

/* The "softclock N" thread: catch up with the clock, then sleep. */
static void softclock_thread(void *arg)
{
	struct softclock_pcpu *sc = arg;
	struct globaldata *gd = mycpu;
	struct thread *td = curthread;

	for (;;) {
		/*
		 * Clearing isrunning and descheduling happen in one critical
		 * section, so a tick that wants us again cannot slip in
		 * between and find us "running" while we go to sleep.
		 */
		crit_enter_quick(td);
		while (sc->softticks <= gd->gd_ticks)
			softclock_run_slot(sc, sc->softticks++);
		sc->isrunning = false;
		lwkt_deschedule_self(td);
		lwkt_switch();
		crit_exit_quick(td);
	}
}

/*
 * Called by hardclock() on gd's own CPU, in a critical section.  gd's
 * wheel may not exist yet (a tick before softclock_init_cpu()), hence
 * the NULL checks.  The fast path keeps an idle thread asleep; a slot
 * holding only callouts for a later turn wakes it for nothing, which is
 * harmless.
 */
/* Each tick: schedule the thread if this tick's slot has work. */
void softclock_tick(struct globaldata *gd)
{
	struct softclock_pcpu *sc = gd->gd_softclock;

	if (sc == NULL || sc->td == NULL)
		return;
	if (!sc->isrunning && sc->softticks == gd->gd_ticks &&
	    TAILQ_EMPTY(&sc->wheel[gd->gd_ticks & CALLWHEEL_MASK])) {
		sc->softticks++;	/* nothing due: just keep up */
		return;
	}
	if (!sc->isrunning) {
		sc->isrunning = true;
		lwkt_schedule(sc->td);
	}
}

/*
 * Create this CPU's wheel and its "softclock N" thread.  Each CPU calls
 * it once for itself, after its tick started.  The thread is created
 * with TDF_NOSTART: softclock_tick() schedules it when work is due.
 */
void softclock_init_cpu(void)
{
	struct globaldata *gd = mycpu;
	struct softclock_pcpu *sc = &softclock_pcpu[gd->gd_cpuid];
	int error;

	for (int i = 0; i < CALLWHEEL_SIZE; i++)
		TAILQ_INIT(&sc->wheel[i]);
	crit_enter();
	sc->softticks = gd->gd_ticks + 1;
	gd->gd_softclock = sc;
	crit_exit();
	error = lwkt_create(softclock_thread, sc, &sc->td,
			    TDF_NOSTART | TDF_SYSTHREAD | TDF_INTTHREAD,
			    gd->gd_cpuid, "softclock %d", gd->gd_cpuid);
	KASSERT(error == 0, "no thread for softclock %d", gd->gd_cpuid);
	lwkt_setpri(sc->td, TDPRI_SOFT_TIMER);
}
