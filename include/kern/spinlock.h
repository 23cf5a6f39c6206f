/*
 * kern/spinlock.h - the lowest-level lock: spin until a flag is ours.
 *
 * Spinlocks are for the few places that must work across CPUs for a
 * handful of instructions: the console line lock, the thread and stack
 * pools, the page queues.  Anything longer uses an LWKT token or a port.
 *
 * Holding a spinlock is being in a critical section (as in DragonFly):
 * spin_lock() enters one before it spins and spin_unlock() leaves it
 * after the release.  So while a CPU holds the lock, an interrupt or IPI
 * that arrives does only its minimum and its work waits for the unlock
 * (kern/critical.h); the holder is never preempted, and an IPI callback
 * on this CPU that wants the same lock cannot run into it.
 *
 * A spinlock is never held across a block.  Each CPU counts the spinlocks
 * it holds (mycpu->gd_spinlocks, through machine/cpu.h); lwkt_switch()
 * panics with an explanation if the count is not zero, because the
 * thread that would run next could spin forever on a lock whose holder is
 * switched out.
 *
 * A critical section does not stop the hard interrupt handlers
 * themselves.  spin_lock_irqsave() also disables interrupts on this CPU,
 * for a lock that a hard handler takes too.
 */
#ifndef KERN_SPINLOCK_H
#define KERN_SPINLOCK_H

#include <kern/types.h>
#include <kern/critical.h>
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

/* The lock word alone; the callers below add the critical section. */
static inline bool _spin_trylock_raw(struct spinlock *lk)
{
	if (__atomic_exchange_n(&lk->locked, 1, __ATOMIC_ACQUIRE) != 0)
		return false;
	cpu_spinlocks_add(1);
	return true;
}

static inline void _spin_lock_raw(struct spinlock *lk)
{
	while (!_spin_trylock_raw(lk))
		while (lk->locked)
			cpu_pause();	/* spin on a read, not on xchg */
}

static inline void _spin_unlock_raw(struct spinlock *lk)
{
	cpu_spinlocks_add(-1);
	__atomic_store_n(&lk->locked, 0, __ATOMIC_RELEASE);
}

/* Take lk if it is free: true, in a critical section, if taken. */
static inline bool spin_trylock(struct spinlock *lk)
{
	crit_enter();
	if (_spin_trylock_raw(lk))
		return true;
	crit_exit();
	return false;
}

/* Enter a critical section, then spin until lk is ours.  Any context. */
static inline void spin_lock(struct spinlock *lk)
{
	crit_enter();
	_spin_lock_raw(lk);
}

/* Release lk, then leave the critical section (deferred work runs). */
static inline void spin_unlock(struct spinlock *lk)
{
	_spin_unlock_raw(lk);
	crit_exit();
}

/*
 * spin_lock() with interrupts disabled too; returns the RFLAGS to
 * restore.  The unlock restores interrupts before it leaves the critical
 * section, so work deferred meanwhile runs with them on.
 */
static inline uint64_t spin_lock_irqsave(struct spinlock *lk)
{
	uint64_t rf;

	crit_enter();
	rf = intr_disable();
	_spin_lock_raw(lk);
	return rf;
}

static inline void spin_unlock_irqrestore(struct spinlock *lk, uint64_t rf)
{
	_spin_unlock_raw(lk);
	intr_restore(rf);
	crit_exit();
}

#endif /* KERN_SPINLOCK_H */
