/*
 * kern/serialize.h - serializers: an exclusive lock that may be held
 * across blocking (kern/lwkt_serialize.c).
 *
 * A token is dropped whenever its holder blocks; a spinlock must never be
 * held across a block at all.  A serializer stays held while its holder
 * sleeps, which is what a driver and its helper thread need to take turns
 * at a device, and what a serializer port (kern/msgport.h) is built on.
 * Not recursive: entering one already held by the caller panics.
 */
#ifndef KERN_SERIALIZE_H
#define KERN_SERIALIZE_H

#include <kern/types.h>
#include <kern/spinlock.h>

struct thread;

struct lwkt_serialize {
	struct spinlock sz_spin;	/* protects the two fields below */
	struct thread *sz_owner;	/* holder, or NULL */
	int sz_waiters;			/* threads sleeping in enter */
	uint64_t sz_contended;		/* enters that had to sleep */
};

/* A free serializer, for a static one. */
#define LWKT_SERIALIZE_INITIALIZER \
	{ .sz_spin = SPINLOCK_INITIALIZER("serializer"), .sz_owner = NULL, \
	  .sz_waiters = 0, .sz_contended = 0 }

/* Initialise s as free. */
void lwkt_serialize_init(struct lwkt_serialize *s);

/* Take s, sleeping until it is free.  Thread context; may block. */
void lwkt_serialize_enter(struct lwkt_serialize *s);

/* Take s if it is free: true if taken.  Never blocks. */
bool lwkt_serialize_try(struct lwkt_serialize *s);

/* Let s go; the caller must hold it.  Wakes a waiter.  Never blocks. */
void lwkt_serialize_exit(struct lwkt_serialize *s);

/* Does the calling thread hold s? */
bool lwkt_serialize_held(struct lwkt_serialize *s);

#endif /* KERN_SERIALIZE_H */
