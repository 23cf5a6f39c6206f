/*
 * kern/synch.h - tsleep()/wakeup(): wait for an event named by an
 * address (kern/kern_synch.c).
 *
 * The sleeper:                       The waker:
 *     while (!condition)                 condition = true;
 *             tsleep(&condition, 0,      wakeup(&condition);
 *                    "cond", 0);
 *
 * No lost wakeups, without a lock: a sleeper that must check its condition
 * after dropping something first calls tsleep_interlock(ident), then
 * checks, then tsleep(ident, PINTERLOCKED, ...).  A wakeup that happens in
 * between makes that tsleep return at once.  Without PINTERLOCKED,
 * tsleep() interlocks itself, which is enough when the condition is set
 * before wakeup() is called and checked before tsleep() is.
 */
#ifndef KERN_SYNCH_H
#define KERN_SYNCH_H

#include <kern/types.h>
#include <kern/errno.h>

struct thread;

#define PCATCH		0x0100	/* a signal (lwkt_signal) ends it: EINTR */
#define PINTERLOCKED	0x0400	/* tsleep_interlock() was already called */
#define PDOMAIN_MASK	0xf000	/* sleep domain: must match the wakeup's */
#define PDOMAIN_UMTX	0x1000
#define PDOMAIN_XLOCK	0x2000


/*
 * Sleep until wakeup(ident) or timo ticks (0: forever).  Returns 0 when
 * woken, EWOULDBLOCK on timeout; with PCATCH, EINTR if the thread has a
 * signal pending (lwkt_signal), at once or when one comes.  Thread
 * context, may block; must not hold spinlocks.  Tokens are released while
 * asleep and held again on return.
 */
int tsleep(const volatile void *ident, int flags, const char *wmesg,
	   int timo);

/*
 * Queue the caller as a sleeper on ident without blocking yet, on this
 * CPU's sleep queue.  lwkt_migratecpu() cancels it (the next
 * tsleep(PINTERLOCKED) returns at once).  Thread context.
 */
void tsleep_interlock(const volatile void *ident, int flags);

/* Take td off its sleep queue.  td's owner CPU, critical section. */
void tsleep_remove(struct thread *td);

/* Wake every / one thread sleeping on ident, on any CPU.  Any context
 * except a hard interrupt handler; never blocks. */
void wakeup(const volatile void *ident);
void wakeup_one(const volatile void *ident);
void wakeup_domain(const volatile void *ident, int domain);

/*
 * How many threads, on all CPUs, are queued on ident (asleep, or
 * interlocked and about to sleep).  Asks each CPU to count its own queue
 * and waits for the answers.  Thread context; for tests and debugging.
 */
int tsleep_count_sleepers(const volatile void *ident);

/*
 * Signals: DragonFly's way of interrupting a sleeping thread (a signal
 * posted to an lwp wakes it from an interruptible sleep), for kernel
 * threads and without signal numbers.  lwkt_signal(td) marks a signal
 * pending on td and wakes td if it sleeps with PCATCH; every PCATCH sleep
 * -- tsleep, or a message-port wait (kern/msgport.h) -- then ends with
 * EINTR until td takes the signal with lwkt_signal_clear().  Sleeps
 * without PCATCH never notice one.
 *
 * lwkt_signal: any thread, any CPU, never blocks; td must not have exited
 * (hold a handle to it).  The other two: the thread itself.
 */
void lwkt_signal(struct thread *td);
bool lwkt_signal_pending(void);
void lwkt_signal_clear(void);

/* Sleep/wakeup counters, summed. */
struct synch_stats {
	uint64_t sleeps, wakeups, remote_wakeups, timeouts;
};
void synch_stats(struct synch_stats *st);

#endif /* KERN_SYNCH_H */
