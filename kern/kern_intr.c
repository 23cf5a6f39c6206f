/*
 * kern_intr.c - from a hardware interrupt to the code that handles it.
 *
 * An interrupt handler registered with trap_set_handler() runs with
 * interrupts off on whatever thread was interrupted, inside
 * intr_hard_dispatch(), which raises gd_intr_nesting_level around it: a
 * hard handler must not block or switch, and lwkt_switch() panics if it
 * tries.  It does only what cannot wait -- acknowledge the local APIC --
 * and calls intr_hard_done() with the gd_reqflags bit that names the
 * rest:
 *
 *   RQF_TIMER    a clock tick: hardclock() (kern_clock.c)
 *   RQF_IPIQ     IPIQ messages: lwkt_process_ipiq() (lwkt_ipiq.c)
 *   RQF_INTPEND  a device interrupt: schedule its interrupt thread
 *
 *           interrupt                         not in a critical section
 *   thread ----X------------------------------------------------------>
 *              |  EOI, set RQF bit  --->  splz(): run the work now;
 *              |                          an ithread may preempt here
 *              |
 *              |                          in a critical section
 *              +-> EOI, set RQF bit, return; the work runs at the
 *                  thread's outermost crit_exit() (or in lwkt_switch)
 *
 * So code in a critical section is never interrupted by anything but the
 * few instructions of the hard handler, and interrupt work always runs in
 * a well-defined place.
 *
 * Interrupt threads (DragonFly's "ithreads") run a device's handler at
 * TDPRI_INT_MED.  They are preemptive: scheduling one on its own CPU
 * while the current thread is outside a critical section switches to it
 * at once (lwkt_preempt), and when it blocks the CPU goes straight back
 * to the interrupted thread.
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/intr.h>
#include <kern/ipiq.h>
#include <kern/kprintf.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <kern/trap.h>
#include <machine/apic.h>

void hardclock(struct globaldata *gd);

/*
 * One registered device interrupt.  Owned by its CPU.  Either td is set
 * (the handler runs in that interrupt thread) or soft is (the handler
 * runs in splz itself, at the first safe point: see register_int_soft).
 */
struct intr_info {
	inthand_t handler;
	void *arg;
	struct thread *td;		/* the interrupt thread, or NULL */
	bool soft;			/* run the handler from splz */
	int cpu;
	volatile int pending;		/* set by splz, cleared by the ithread */
	volatile uint64_t runs;		/* handler calls */
	void (*mask)(void *);		/* level line: mask before the EOI */
	void *mask_arg;
};

/* Indexed by vector; a slot is claimed once and never moved. */
static struct intr_info intr_table[256];

/*
 * The hard-interrupt entry: trap() calls it for every vector from 32 up
 * that has a handler.  The handler runs with gd_intr_nesting_level
 * raised, so anything in it that would block or switch panics (it runs
 * on the interrupted thread's borrowed time), and a crit_exit inside it
 * runs no deferred work.  Once the level is back down, the work the
 * handler recorded runs at once if the interrupted code allows it: not in
 * a critical section, not itself inside an interrupt or IPI callback.
 * This CPU, interrupts off.
 */
void intr_hard_dispatch(trap_handler_t handler, struct trapframe *tf)
{
	struct globaldata *gd = mycpu;

	gd->gd_intr_nesting_level++;
	handler(tf);
	gd->gd_intr_nesting_level--;
	if ((gd->gd_reqflags & RQF_IDLECHECK_MASK) &&
	    gd->gd_intr_nesting_level == 0 && curthread->td_critcount == 0)
		splz();
}

/*
 * The end of every hard handler: record rqflags in gd_reqflags, for
 * intr_hard_dispatch (or the interrupted code's crit_exit) to run.  This
 * CPU, hard handler context, interrupts off.  The atomic OR is there because
 * splz() clears bits with a read-modify-write on the same word.
 */
void intr_hard_done(uint32_t rqflags)
{
	struct globaldata *gd = mycpu;

	KASSERT(gd->gd_intr_nesting_level > 0, "intr_hard_done outside a "
		"hard interrupt handler; only handlers run by "
		"intr_hard_dispatch record interrupt work");
	__atomic_or_fetch(&gd->gd_reqflags, rqflags, __ATOMIC_RELAXED);
	gd->gd_cnt.intr_count++;
	if (curthread->td_critcount != 0 || gd->gd_intr_nesting_level > 1)
		gd->gd_cnt.intr_deferred++;
}

/* Take bit off gd_reqflags; true if it was set. */
static inline bool rqf_take(struct globaldata *gd, uint32_t bit)
{
	return (__atomic_fetch_and(&gd->gd_reqflags, ~bit, __ATOMIC_ACQ_REL) &
		bit) != 0;
}

/* Schedule the interrupt thread of every pending vector on this CPU. */
static void intr_sched_pending(struct globaldata *gd)
{
	for (int w = 0; w < 4; w++) {
		uint64_t bits = __atomic_exchange_n(&gd->gd_ipending[w], 0,
						    __ATOMIC_ACQ_REL);

		while (bits != 0) {
			int vector = w * 64 + __builtin_ctzl(bits);
			struct intr_info *ii = &intr_table[vector];

			bits &= bits - 1;
			if (ii->soft) {
				ii->handler(ii->arg);
				__atomic_add_fetch(&ii->runs, 1,
						   __ATOMIC_RELAXED);
				continue;
			}
			if (ii->td == NULL)
				continue;	/* unregistered meanwhile */
			ii->pending = 1;
			/* 2: splz's critical section and lwkt_schedule's */
			_lwkt_schedule(ii->td, 2);
		}
	}
}

/*
 * Run all deferred interrupt work on this CPU, in a critical section.
 * It loops because the work can post more (a tick may queue an IPIQ
 * message).  gd_npoll goes back to 0 before the queue is drained, so a
 * sender that queues after this point sends a new IPI rather than
 * assuming we will look.  Leaves with crit_exit_noyield(): splz does
 * not switch threads itself.
 */
void splz(void)
{
	struct globaldata *gd = mycpu;
	struct thread *td = gd->gd_curthread;

	crit_enter_quick(td);
	while (gd->gd_reqflags & RQF_IDLECHECK_MASK) {
		if (rqf_take(gd, RQF_IPIQ)) {
			__atomic_store_n(&gd->gd_npoll, 0, __ATOMIC_SEQ_CST);
			lwkt_process_ipiq();
		}
		if (rqf_take(gd, RQF_TIMER))
			hardclock(gd);
		if (rqf_take(gd, RQF_INTPEND))
			intr_sched_pending(gd);
	}
	crit_exit_noyield(td);
}

/* The hard handler shared by every ithread-backed vector. */
static void intr_ithread_vector(struct trapframe *tf)
{
	uint64_t v = tf->tf_vector;
	struct intr_info *ii = &intr_table[v];

	/* A level-triggered line would fire again at once after the EOI,
	 * until the driver quiets its device: mask it first. */
	if (ii->mask)
		ii->mask(ii->mask_arg);
	/* One bit per vector, 4 x 64 = 256; the ithread is found later. */
	lapic_eoi();
	__atomic_or_fetch(&mycpu->gd_ipending[v / 64], 1UL << (v % 64),
			  __ATOMIC_RELAXED);
	intr_hard_done(RQF_INTPEND);
}

/*
 * The body of an interrupt thread.  Checking pending and descheduling
 * happen in one critical section, so an interrupt cannot be lost
 * between the two.  Several interrupts before the thread runs give one
 * handler call, so a handler must drain everything its device has.
 */
/* The body of an interrupt thread: run the handler once per batch. */
static void ithread_main(void *arg)
{
	struct intr_info *ii = arg;
	struct thread *td = curthread;

	for (;;) {
		crit_enter_quick(td);
		if (ii->pending == 0) {
			lwkt_deschedule_self(td);
			lwkt_switch();
			crit_exit_quick(td);
			continue;
		}
		ii->pending = 0;
		crit_exit_quick(td);
		ii->handler(ii->arg);
		__atomic_add_fetch(&ii->runs, 1, __ATOMIC_RELAXED);
	}
}

/*
 * Runs on ii->cpu through the IPIQ: a thread is changed only by its
 * own CPU, and trap_set_handler() is not for concurrent use.
 */
/* On the ithread's CPU: make it an interrupt thread and route the vector. */
static void intr_setup_remote(void *arg)
{
	struct intr_info *ii = arg;

	lwkt_set_interrupt_thread(ii->td, TDPRI_INT_MED);
	trap_set_handler((unsigned)(ii - intr_table), intr_ithread_vector);
}

/* Claim vector's slot for handler(arg) on cpu; both kinds start here. */
/*
 * Vectors 0..31 are the CPU's exceptions (SDM 3A, 6.3).  Not locked:
 * callers must not register one vector from two places at once.
 */
static struct intr_info *intr_claim(int vector, inthand_t handler, void *arg,
				    int cpu)
{
	struct intr_info *ii = &intr_table[vector];

	KASSERT(vector >= 32 && vector < 256, "vector %d is not a device "
		"interrupt vector", vector);
	KASSERT(ii->handler == NULL, "vector %d already has a handler",
		vector);
	ii->handler = handler;
	ii->arg = arg;
	ii->cpu = cpu;
	return ii;
}

/* Run fn(ii) on ii's CPU and wait until it has run there. */
static void intr_setup_on_cpu(struct intr_info *ii, ipifunc1_t fn)
{
	lwkt_wait_ipiq(globaldata_find(ii->cpu),
		       lwkt_send_ipiq_bycpu(ii->cpu, fn, ii));
}

/*
 * Give vector an interrupt thread "ithread name" on cpu that calls
 * handler(arg).  Thread context; waits for cpu to finish the setup.
 * Returns 0, or lwkt_create()'s error -- in which case the vector stays
 * claimed but is not routed.
 */
int register_int(int vector, inthand_t handler, void *arg, const char *name,
		 int cpu)
{
	struct intr_info *ii = intr_claim(vector, handler, arg, cpu);
	int error;

	error = lwkt_create(ithread_main, ii, &ii->td, TDF_NOSTART |
			    TDF_INTTHREAD | TDF_SYSTHREAD, cpu, "ithread %s",
			    name);
	if (error != 0)
		return error;
	intr_setup_on_cpu(ii, intr_setup_remote);
	return 0;
}

/*
 * For a level-triggered line: the hard handler calls mask(arg) before the
 * EOI, and the driver unmasks the line when it has quieted its device.
 * Set it before the line is unmasked.  Thread context.
 */
void intr_set_level_mask(int vector, void (*mask)(void *), void *arg)
{
	KASSERT(vector >= 32 && vector < 256, "vector %d is not a device "
		"interrupt vector", vector);
	intr_table[vector].mask_arg = arg;
	intr_table[vector].mask = mask;
}

/* How often vector's handler has run; for tests, an unlocked snapshot. */
uint64_t intr_handler_runs(int vector)
{
	return intr_table[vector].runs;
}

/* On the vector's CPU: route it to the shared hard handler, or away. */
static void intr_soft_setup_remote(void *arg)
{
	struct intr_info *ii = arg;

	trap_set_handler((unsigned)(ii - intr_table),
			 ii->soft ? intr_ithread_vector : NULL);
}

/*
 * Run handler(arg) from splz() on cpu, with no thread: quicker, but it
 * runs in a critical section and possibly with interrupts off, so it
 * must not block.  Thread context; waits for cpu.  Always returns 0.
 */
int register_int_soft(int vector, inthand_t handler, void *arg, int cpu)
{
	struct intr_info *ii = intr_claim(vector, handler, arg, cpu);

	ii->td = NULL;
	ii->soft = true;
	intr_setup_on_cpu(ii, intr_soft_setup_remote);
	return 0;
}

/*
 * Undo register_int_soft().  soft is cleared before the IPIQ round
 * trip, so once that returns no splz() on the vector's CPU is still in
 * the handler, and later ones skip it; only then is the slot freed.
 */
void unregister_int_soft(int vector)
{
	struct intr_info *ii = &intr_table[vector];

	KASSERT(ii->soft, "vector %d has no soft handler to unregister",
		vector);
	ii->soft = false;
	intr_setup_on_cpu(ii, intr_soft_setup_remote);
	ii->handler = NULL;
	ii->arg = NULL;
}
