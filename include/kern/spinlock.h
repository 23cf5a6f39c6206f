/*
 * kern/spinlock.h - the lowest-level lock: spin until a flag is ours.
 *
 * Spinlocks are for the few places that must work before threads exist or
 * across CPUs for a handful of instructions: the console line lock, later
 * the IPIQ setup and page queues.  Anything longer uses an LWKT token or a
 * port.  A spinlock is never held across a block.
 *
 * spin_lock_irqsave() also disables interrupts on this CPU, so an interrupt
 * handler that takes the same lock cannot deadlock against the code it
 * interrupted.
 */
#ifndef KERN_SPINLOCK_H
#define KERN_SPINLOCK_H

#include <kern/types.h>
#include <machine/cpufunc.h>

struct spinlock {
	volatile uint32_t locked;	/* 0 free, 1 held; atomic xchg only */
	const char *name;		/* for panics and debuggers */
};

#define SPINLOCK_INITIALIZER(n) { .locked = 0, .name = (n) }

static inline bool spin_trylock(struct spinlock *lk)
{
	return __atomic_exchange_n(&lk->locked, 1, __ATOMIC_ACQUIRE) == 0;
}

static inline void spin_lock(struct spinlock *lk)
{
	while (!spin_trylock(lk))
		while (lk->locked)
			cpu_pause();	/* spin on a read, not on xchg */
}

static inline void spin_unlock(struct spinlock *lk)
{
	__atomic_store_n(&lk->locked, 0, __ATOMIC_RELEASE);
}

/* Disable interrupts, take the lock; returns the RFLAGS to restore. */
static inline uint64_t spin_lock_irqsave(struct spinlock *lk)
{
	uint64_t rf = intr_disable();

	spin_lock(lk);
	return rf;
}

static inline void spin_unlock_irqrestore(struct spinlock *lk, uint64_t rf)
{
	spin_unlock(lk);
	intr_restore(rf);
}

#endif /* KERN_SPINLOCK_H */
