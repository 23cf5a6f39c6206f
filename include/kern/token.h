/*
 * kern/token.h - LWKT tokens: serialisation that lasts only while the
 * holder runs (kern/lwkt_token.c).
 *
 *     static struct lwkt_token foo_token = LWKT_TOKEN_INITIALIZER("foo");
 *     lwkt_gettoken(&foo_token);
 *     ... may block: foo_token is released meanwhile, held again after;
 *         so re-check anything read before the block ...
 *     lwkt_reltoken(&foo_token);
 *
 * A thread may hold up to LWKT_MAXTOKENS references, released in the
 * reverse order of acquisition.  Tokens cannot deadlock: a thread that
 * blocks or has to wait for a token gives up all of its tokens, and the
 * scheduler gives it back all of them, or none, before it runs again.
 */
#ifndef KERN_TOKEN_H
#define KERN_TOKEN_H

#include <kern/types.h>

struct thread;

/* t_count: exclusive bit, exclusive-request bit, shared count * TOK_INCR. */
#define TOK_EXCLUSIVE	0x1
#define TOK_EXCLREQ	0x2
#define TOK_INCR	0x4
#define LWKT_SPIN_SORTED 10	/* failed picks before sorted reacquisition */

struct lwkt_token {
	volatile long t_count;		/* atomic */
	struct lwkt_tokref *volatile t_ref; /* exclusive holder's reference */
	volatile uint64_t t_collisions;	/* times a thread had to wait */
	const char *t_desc;		/* name, shown as the waiter's wmesg */
};

#define LWKT_TOKEN_INITIALIZER(name) { 0, NULL, 0, (name) }

void lwkt_token_init(struct lwkt_token *tok, const char *desc);

/* Acquire tok exclusively / shared; may switch while waiting.  Thread
 * context; not in a hard interrupt or IPI callback. */
void lwkt_gettoken(struct lwkt_token *tok);
void lwkt_gettoken_shared(struct lwkt_token *tok);
/* Try without waiting: true if now held. */
bool lwkt_trytoken(struct lwkt_token *tok);
/* Release the most recently acquired reference, which must be tok's. */
void lwkt_reltoken(struct lwkt_token *tok);
/* Swap the top two references (to release out of order). */
void lwkt_token_swap(void);

/* References td holds on tok (0 if none). */
int lwkt_cnttoken(struct lwkt_token *tok, struct thread *td);
bool lwkt_token_is_held(struct lwkt_token *tok);

/* The scheduler's side (lwkt_switch). */
void lwkt_relalltokens(struct thread *td);
bool lwkt_getalltokens(struct thread *td, bool sorted);

#endif /* KERN_TOKEN_H */
