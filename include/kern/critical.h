/*
 * kern/critical.h - critical sections: crit_enter() / crit_exit().
 *
 * In DragonFly a critical section is a per-thread counter: while it is
 * non-zero the thread cannot be preempted and interrupts that arrive are
 * only recorded, to run at the outermost crit_exit().  Entering costs one
 * increment -- no cli, no atomic -- which is why per-CPU data structures
 * (page caches, slab zones, run queues) are protected by nothing more.
 *
 * Until LWKT threads exist, the counter lives per CPU and there is nothing
 * to defer: no interrupt source is enabled yet.  The LWKT layer replaces
 * the body of these functions with curthread->td_critcount and the
 * pending-interrupt check; callers do not change.
 */
#ifndef KERN_CRITICAL_H
#define KERN_CRITICAL_H

#include <kern/types.h>
#include <machine/cpu.h>
#include <machine/param.h>

extern int crit_count_early[MAXCPU];

static inline void crit_enter(void)
{
	crit_count_early[cpu_current_id()]++;
	__asm__ volatile("" ::: "memory");	/* compiler barrier */
}

static inline void crit_exit(void)
{
	__asm__ volatile("" ::: "memory");
	crit_count_early[cpu_current_id()]--;
}

/* Is this CPU inside a critical section? */
static inline bool crit_held(void)
{
	return crit_count_early[cpu_current_id()] > 0;
}

#endif /* KERN_CRITICAL_H */
