/*
 * kern/spinlock.h - the lowest-level lock: spin until a flag is ours.
 *
 * Spinlocks are for the few places that must work before threads exist or
 * across CPUs for a handful of instructions: the console line lock, the
 * thread and stack pools, later the page queues.  Anything longer uses an
 * LWKT token or a port.
 *
 * A spinlock is never held across a block.  Each CPU counts the spinlocks
 * it holds (mycpu->gd_spinlocks, through machine/cpu.h); lwkt_switch()
 * panics with an explanation if the count is not zero, because the
 * thread that would run next could spin forever on a lock whose holder is
 * switched out.
 *
 * spin_lock_irqsave() also disables interrupts on this CPU, so an interrupt
 * handler that takes the same lock cannot deadlock against the code it
 * interrupted.
 */
#ifndef KERN_SPINLOCK_H
#define KERN_SPINLOCK_H

#include <kern/types.h>
#include <machine/cpu.h>
#include <machine/cpufunc.h>

struct spinlock {
	volatile uint32_t locked;	/* 0 free, 1 held; atomic xchg only */
	const char *name;		/* for panics and debuggers */
};

#define SPINLOCK_INITIALIZER(n) { .locked = 0, .name = (n) }

static inline void spin_init(struct spinlock *lk, const char *name)
{
	lk->locked = 0;
	lk->name = name;
}

static inline bool spin_trylock(struct spinlock *lk)
{
	if (__atomic_exchange_n(&lk->locked, 1, __ATOMIC_ACQUIRE) != 0)
		return false;
	cpu_spinlocks_add(1);
	return true;
}

static inline void spin_lock(struct spinlock *lk)
{
	while (!spin_trylock(lk))
		while (lk->locked)
			cpu_pause();	/* spin on a read, not on xchg */
}

static inline void spin_unlock(struct spinlock *lk)
{
	cpu_spinlocks_add(-1);
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
