/*
 * lwkt_serialize.c - serializers: exclusive, held across blocking.
 *
 * The state is an owner pointer and a count of waiters, under a spinlock
 * held for a few instructions at a time.  A thread that finds the
 * serializer taken registers on the sleep queue for it (tsleep_interlock)
 * while still holding the spinlock, lets the spinlock go and sleeps; exit
 * clears the owner and, if anyone waits, wakes them all to race for it.
 * Registering before unlocking is what makes the wakeup impossible to
 * miss.  Waking all rather than one keeps the code obviously correct; a
 * serializer is contended by two or three threads, not hundreds.
 */
#include <kern/types.h>
#include <kern/globaldata.h>
#include <kern/panic.h>
#include <kern/serialize.h>
#include <kern/synch.h>
#include <kern/thread.h>

/* Free, with no waiters.  Any context. */
void lwkt_serialize_init(struct lwkt_serialize *s)
{
	spin_init(&s->sz_spin, "serializer");
	s->sz_owner = NULL;
	s->sz_waiters = 0;
	s->sz_contended = 0;
}

/* One attempt under the spinlock; a second entry by the holder is a
 * programming error (it would wait for itself forever), so it panics. */
bool lwkt_serialize_try(struct lwkt_serialize *s)
{
	bool taken = false;

	KASSERT(s->sz_owner != curthread,
		"lwkt_serialize: thread %s enters a serializer it already "
		"holds; serializers are not recursive", curthread->td_comm);
	spin_lock(&s->sz_spin);
	if (s->sz_owner == NULL) {
		s->sz_owner = curthread;
		taken = true;
	}
	spin_unlock(&s->sz_spin);
	return taken;
}

/*
 * Loop: try; if taken, register as a sleeper on s *before* letting the
 * spinlock go (tsleep_interlock), then sleep.  An exit between the unlock
 * and the tsleep finds us registered, and its wakeup makes the tsleep
 * return at once.  On waking, try again: another thread may have won.
 */
void lwkt_serialize_enter(struct lwkt_serialize *s)
{
	while (!lwkt_serialize_try(s)) {
		spin_lock(&s->sz_spin);
		if (s->sz_owner == NULL) {	/* freed meanwhile: retry */
			spin_unlock(&s->sz_spin);
			continue;
		}
		s->sz_waiters++;
		s->sz_contended++;
		tsleep_interlock(s, 0);
		spin_unlock(&s->sz_spin);
		tsleep(s, PINTERLOCKED, "slzwait", 0);
		spin_lock(&s->sz_spin);
		s->sz_waiters--;
		spin_unlock(&s->sz_spin);
	}
}

/* The wakeup comes after the unlock, so the woken threads do not spin
 * on a lock the exiting thread still holds. */
void lwkt_serialize_exit(struct lwkt_serialize *s)
{
	int waiters;

	spin_lock(&s->sz_spin);
	KASSERT(s->sz_owner == curthread,
		"lwkt_serialize_exit: thread %s lets go of a serializer held "
		"by %s", curthread->td_comm,
		s->sz_owner ? s->sz_owner->td_comm : "nobody");
	s->sz_owner = NULL;
	waiters = s->sz_waiters;
	spin_unlock(&s->sz_spin);
	if (waiters > 0)
		wakeup(s);
}

/* A read without the lock is enough: only the calling thread can make
 * the answer true or change it from true. */
bool lwkt_serialize_held(struct lwkt_serialize *s)
{
	return s->sz_owner == curthread;
}
