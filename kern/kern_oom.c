/*
 * kern_oom.c - who is killed when memory runs out.
 *
 * Nothing is paged out, so when a user fault finds no page (vm_fault says
 * KERN_RESOURCE_SHORTAGE: memory is down to the kernel's reserve, see
 * vm/vm_page.c) some process must die to give pages back.  Killing the
 * one that faulted is always possible, but it is often the wrong one: a
 * small shell that touches one new page would pay for a big program that
 * took everything.  So, as Linux's OOM killer does (its badness is about
 * a process's resident size), the process with the most pages mapped --
 * its pmap's leaf count, pm_resident -- is chosen:
 *
 *   fault finds no page --> oom_fault(self)
 *     a victim already dying (killed less than OOM_WAIT_TICKS ago)?
 *         wait a tick, retry the fault            (its pages are coming)
 *     the largest process is another, bigger than self, and not a
 *     victim that outlived its wait?
 *         SIGKILL it, with a line naming it; wait a tick, retry the fault
 *     else (self is the largest, or the victim does not die)
 *         self dies                               (the caller kills it)
 *
 * A retry is the faulting instruction run again: back to user mode it
 * goes through userret, which delivers a SIGKILL that arrived meanwhile,
 * so a process that waits is never kept from dying.  pid 1 (a system's
 * init) is never chosen for another's fault.  The victim's exit frees its
 * address space and its pages; a retry then finds them.
 *
 * Locking: proc_token, for the process list and for p_vmspace of other
 * processes (exit and execve change it under the token, so a vmspace
 * read here is not freed meanwhile).  The victim's pid and the tick it
 * was killed at are kept under the same token.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/kprintf.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <kern/signal.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/token.h>
#include <vm/vm_map.h>

/* How long a fault waits for a killed process to go before the faulting
 * process is killed itself (a victim stuck in the kernel). */
#define OOM_WAIT_TICKS	(5 * HZ)

static int oom_victim;			/* pid killed last; proc_token */
static uint64_t oom_victim_ticks;	/* when; proc_token */
static uint64_t oom_kills;		/* others killed for memory; atomic */

/* Pages p has mapped, or 0 if it has no address space.  proc_token. */
static uint64_t resident(struct proc *p)
{
	return p->p_vmspace != NULL ? p->p_vmspace->vm_pmap.pm_resident : 0;
}

/* The running process with the most pages mapped, pid 1 left out;
 * NULL if there is none.  proc_token held. */
static struct proc *largest_process(void)
{
	struct proc *p, *big = NULL;

	TAILQ_FOREACH(p, &allproc, p_list) {
		if (p->p_stat != PS_RUN || p->p_pid == 1)
			continue;
		if (big == NULL || resident(p) > resident(big))
			big = p;
	}
	return big;
}

/* Is the last victim still on its way out, and still worth waiting
 * for?  proc_token held. */
static bool victim_dying(struct proc *self)
{
	struct proc *v;

	if (oom_victim == 0 || ticks - oom_victim_ticks >= OOM_WAIT_TICKS)
		return false;
	v = proc_find(oom_victim);
	return v != NULL && v != self && v->p_stat == PS_RUN;
}

/* Kill victim for self's fault, with a line that names both. */
static void kill_victim(struct proc *victim, struct proc *self)
{
	kprintf("pid %d (%s): killed by SIGKILL: out of memory (the largest "
		"process, %lu pages mapped; pid %d (%s) found no free page)\n",
		victim->p_pid, victim->p_comm, resident(victim), self->p_pid,
		self->p_comm);
	oom_victim = victim->p_pid;
	oom_victim_ticks = ticks;
	__atomic_fetch_add(&oom_kills, 1, __ATOMIC_RELAXED);
	sig_post(victim, SIGKILL, 0);
}

bool oom_fault(struct proc *self)
{
	struct proc *big;
	bool wait = false;

	KASSERT(self == curproc, "oom_fault for pid %d from another thread",
		self->p_pid);
	if (__atomic_load_n(&self->p_siglist, __ATOMIC_SEQ_CST) &
	    SIGBIT(SIGKILL))
		return false;		/* dying already: do not wait */
	lwkt_gettoken(&proc_token);
	if (victim_dying(self)) {
		wait = true;
	} else {
		big = largest_process();
		if (big != NULL && big != self && big->p_pid != oom_victim &&
		    resident(big) > resident(self)) {
			kill_victim(big, self);
			wait = true;
		}
	}
	lwkt_reltoken(&proc_token);
	if (wait)
		tsleep(&oom_victim, 0, "oomwait", 1);
	return wait;
}

uint64_t oom_kill_count(void)
{
	return __atomic_load_n(&oom_kills, __ATOMIC_RELAXED);
}
