/*
 * kern/critical.h - critical sections: crit_enter() / crit_exit().
 *
 * A critical section is a per-thread counter, curthread->td_critcount, not
 * an interrupt mask.  While it is non-zero:
 *   - the thread is never preempted;
 *   - an interrupt or IPI that arrives does only its minimum (acknowledge
 *     the hardware, record a bit in mycpu->gd_reqflags) and returns;
 *   - the recorded work runs at the outermost crit_exit() (the 1 -> 0
 *     transition), through splz() (kern/kern_intr.c).
 * Entering costs one increment -- no cli, no atomic -- which is why the
 * run queue, sleep queues, callout wheel and per-CPU caches need nothing
 * more.  The count belongs to the thread, so a critical section may be
 * held across lwkt_switch(): every switched-out thread has a count >= 1.
 *
 * Nesting is counted; an exit without an enter panics (crit_panic).
 */
#ifndef KERN_CRITICAL_H
#define KERN_CRITICAL_H

#include <kern/types.h>
#include <kern/thread.h>
#include <machine/cpu.h>

/* Work deferred by a critical section: ran at the outermost exit. */
#define CRIT_DEFERRED_MASK	0x0083	/* RQF_IDLECHECK_MASK, kern/globaldata.h */

void crit_panic(void) __noreturn;
void lwkt_maybe_splz(void);

static inline void crit_enter_quick(struct thread *td)
{
	++td->td_critcount;
	__asm__ volatile("" ::: "memory");	/* compiler barrier */
}

static inline void crit_enter(void)
{
	crit_enter_quick(cpu_curthread());
}

/* Leave without running deferred work (the caller will, or must not). */
static inline void crit_exit_noyield(struct thread *td)
{
	__asm__ volatile("" ::: "memory");
	if (__predict_false(--td->td_critcount < 0))
		crit_panic();
}

/*
 * The decrement's own flags decide: still positive (a nested exit) costs
 * two instructions; zero adds one test of gd_reqflags for deferred work;
 * below zero is a crit_exit without a crit_enter.
 */
static inline void crit_exit_quick(struct thread *td)
{
	__asm__ goto("subl $1, %0\n\t"
		     "jg %l[nested]\n\t"
		     "js %l[unbalanced]\n\t"
		     "testb %1, %%gs:%c2\n\t"
		     "jne %l[deferred]"
		     :
		     : "m"(td->td_critcount), "i"(CRIT_DEFERRED_MASK),
		       "i"(GD_REQFLAGS)
		     : "memory", "cc"
		     : nested, unbalanced, deferred);
	return;
unbalanced:
	crit_panic();
deferred:
	lwkt_maybe_splz();
nested:
	return;
}

static inline void crit_exit(void)
{
	crit_exit_quick(cpu_curthread());
}

/* Is the running thread inside a critical section? */
static inline bool crit_held(void)
{
	return cpu_curthread()->td_critcount > 0;
}

#endif /* KERN_CRITICAL_H */
