/*
 * kern_critical.c - the slow paths of critical sections (kern/critical.h).
 *
 * crit_enter() and crit_exit() are inline and cost an increment and a
 * decrement.  Only two things leave the inline path:
 *   - the outermost exit finds work deferred in gd_reqflags: run it
 *     (lwkt_maybe_splz), unless we are inside a hard interrupt;
 *   - an exit without a matching enter: panic, after resetting the count
 *     so that a test that provoked it on purpose can carry on.
 */
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/intr.h>
#include <kern/panic.h>

_Static_assert(CRIT_DEFERRED_MASK == RQF_IDLECHECK_MASK,
	       "kern/critical.h CRIT_DEFERRED_MASK is stale");

void lwkt_maybe_splz(void)
{
	if (curthread->td_critcount == 0 && mycpu->gd_intr_nesting_level == 0)
		splz();
}

void crit_panic(void)
{
	struct thread *td = curthread;
	int count = td->td_critcount;

	td->td_critcount = 0;
	panic("crit_exit: thread \"%s\" left a critical section it was not "
	      "in (count %d); every crit_exit() needs a crit_enter() on the "
	      "same thread -- look for an early return that exits twice",
	      td->td_comm, count);
}
