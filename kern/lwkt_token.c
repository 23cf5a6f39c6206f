/*
 * lwkt_token.c - LWKT tokens.
 *
 * A token is a lock that is held only while its holder is running.  The
 * moment the holder blocks -- tsleep, waiting for another token, anything
 * that calls lwkt_switch() -- all of its tokens are released; the
 * scheduler acquires them all again before the thread runs.  So code
 * that holds a token may block, but must re-check what it read before.
 *
 * Each thread keeps a stack of references (td_toks_array; td_toks_stop is
 * its top).  A reference names the token and the mode (exclusive or
 * shared).  The token itself is one word, t_count:
 *
 *     bit 0  TOK_EXCLUSIVE  held exclusively; t_ref is the holder's ref
 *     bit 1  TOK_EXCLREQ    an exclusive requester is waiting: new shared
 *                           holders whose first token this is hold back
 *     2..    shared holders * TOK_INCR
 *
 * Why no deadlock: nobody ever waits while holding a token.  A thread
 * whose acquisition fails calls lwkt_switch(), which releases every token
 * it has (lwkt_relalltokens) and will run it again only once
 * lwkt_getalltokens() got the whole set -- all or nothing.  Two threads
 * that want {A, B} in opposite orders can at worst retry (livelock);
 * after LWKT_SPIN_SORTED failed picks the scheduler acquires each set in
 * address order, which breaks the symmetry.
 *
 * A failed lwkt_gettoken leaves its new reference on the stack -- it tells
 * the scheduler what to acquire -- but marks it in td_toks_have as wanted,
 * not held, so that the switch releases only what is really held.
 *
 * Recursion: taking a token the thread already holds exclusively adds a
 * shared-style count (TOK_INCR) and is released like a shared reference.
 * t_collisions counts, per token, how often a thread had to wait for it.
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <kern/token.h>
#include <machine/cpufunc.h>

/* A free token; desc names it in panics, counters and td_wmesg. */
void lwkt_token_init(struct lwkt_token *tok, const char *desc)
{
	tok->t_count = 0;
	tok->t_ref = NULL;
	tok->t_collisions = 0;
	tok->t_desc = desc;
}

/* Compare-and-swap t_count; acquire+release, as every token step is. */
static inline bool cas_long(volatile long *p, long old, long new)
{
	return __atomic_compare_exchange_n(p, &old, new, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* Does td already hold tok exclusively? */
static inline bool held_excl_by(struct lwkt_token *tok, struct thread *td)
{
	struct lwkt_tokref *r = tok->t_ref;

	return (tok->t_count & TOK_EXCLUSIVE) && r != NULL &&
	       r->tr_owner == td;
}

/*
 * One attempt at ref, for ref->tr_owner.  An exclusive reference that
 * finds the token busy sets TOK_EXCLREQ when want_excl_req, so that new
 * shared holders make way.
 */
static bool _lwkt_trytokref(struct lwkt_tokref *ref, bool want_excl_req)
{
	struct lwkt_token *tok = ref->tr_tok;
	struct thread *td = ref->tr_owner;
	long count = tok->t_count;

	if (held_excl_by(tok, td)) {		/* recursion */
		ref->tr_count = TOK_EXCLREQ;	/* released as shared */
		__atomic_add_fetch(&tok->t_count, TOK_INCR, __ATOMIC_ACQ_REL);
		return true;
	}
	if (ref->tr_count & TOK_EXCLUSIVE) {
		if ((count & ~TOK_EXCLREQ) == 0 &&
		    cas_long(&tok->t_count, count, TOK_EXCLUSIVE)) {
			tok->t_ref = ref;
			return true;
		}
		if (want_excl_req)
			__atomic_or_fetch(&tok->t_count, TOK_EXCLREQ,
					  __ATOMIC_RELAXED);
		return false;
	}
	/* Shared: a thread's first token defers to a waiting exclusive. */
	if ((count & TOK_EXCLREQ) && ref == td->td_toks_array)
		return false;
	count = __atomic_add_fetch(&tok->t_count, TOK_INCR, __ATOMIC_ACQ_REL);
	if ((count & TOK_EXCLUSIVE) == 0)
		return true;
	__atomic_sub_fetch(&tok->t_count, TOK_INCR, __ATOMIC_ACQ_REL);
	return false;
}

/*
 * Undo one successful _lwkt_trytokref: the exclusive holder clears t_ref
 * and the bit; a shared or recursive reference gives its share back.
 */
static void _lwkt_reltokref(struct lwkt_tokref *ref)
{
	struct lwkt_token *tok = ref->tr_tok;

	if ((ref->tr_count & TOK_EXCLUSIVE) && tok->t_ref == ref) {
		tok->t_ref = NULL;
		__atomic_and_fetch(&tok->t_count, ~(long)TOK_EXCLUSIVE,
				   __ATOMIC_RELEASE);
	} else {
		__atomic_sub_fetch(&tok->t_count, TOK_INCR, __ATOMIC_RELEASE);
	}
}

/*
 * May td take one more reference to tok here?  Checked before anything
 * changes, so a test that provokes the panic finds everything as it was.
 */
static inline __attribute__((always_inline)) void
lwkt_token_check(struct thread *td, struct lwkt_token *tok)
{
	KASSERT(td->td_toks_stop < &td->td_toks_array[LWKT_MAXTOKENS],
		"thread \"%s\" holds %d token references already; a deeper "
		"nesting usually means a token taken in a loop and never "
		"released", td->td_comm, LWKT_MAXTOKENS);
	KASSERT(mycpu->gd_intr_nesting_level == 0, "acquiring token \"%s\" "
		"in an interrupt or IPI callback, which cannot wait for it",
		tok->t_desc);
}

/* Push a reference for tok on the calling thread's stack (checked). */
static struct lwkt_tokref *lwkt_pushref(struct thread *td,
					struct lwkt_token *tok, long mode)
{
	struct lwkt_tokref *ref = td->td_toks_stop;

	ref->tr_tok = tok;
	ref->tr_count = mode;
	ref->tr_owner = td;
	td->td_toks_stop = ref + 1;
	return ref;
}

/* ref (pushed, not obtained) must wait: switch until the scheduler
 * hands its token over.  In td's critical section. */
static __attribute__((noinline)) void
lwkt_gettoken_wait(struct thread *td, struct lwkt_tokref *ref)
{
	struct lwkt_token *tok = ref->tr_tok;

	__atomic_add_fetch(&tok->t_collisions, 1, __ATOMIC_RELAXED);
	td->td_wmesg = tok->t_desc;
	td->td_toks_have = ref;	/* ref is wanted, not held */
	lwkt_switch();		/* returns holding every token */
	td->td_wmesg = NULL;
	KASSERT(tok->t_ref == ref || (ref->tr_count & TOK_EXCLUSIVE) == 0,
		"lwkt_switch resumed thread \"%s\" without token "
		"\"%s\"; lwkt_getalltokens must hand over every "
		"reference before the thread runs", td->td_comm,
		tok->t_desc);
}

/* Acquire with waiting: switch until the scheduler hands it to us. */
static void lwkt_gettoken_mode(struct lwkt_token *tok, long mode)
{
	struct thread *td = curthread;
	struct lwkt_tokref *ref;

	lwkt_token_check(td, tok);
	crit_enter_quick(td);
	ref = lwkt_pushref(td, tok, mode);
	if (!_lwkt_trytokref(ref, true))
		lwkt_gettoken_wait(td, ref);
	crit_exit_quick(td);
}

/*
 * Exclusive; may switch until the scheduler hands it over.  A free token
 * (t_count 0: nobody holds it, so not this thread either, and nobody
 * waits) is taken with one compare-and-swap; anything else -- held,
 * recursion, a waiter's TOK_EXCLREQ, a lost race -- goes the general way
 * with the same reference.
 */
void lwkt_gettoken(struct lwkt_token *tok)
{
	struct thread *td = curthread;
	struct lwkt_tokref *ref;

	lwkt_token_check(td, tok);
	crit_enter_quick(td);
	ref = lwkt_pushref(td, tok, TOK_EXCLUSIVE | TOK_EXCLREQ);
	if (__predict_true(tok->t_count == 0 &&
			   cas_long(&tok->t_count, 0, TOK_EXCLUSIVE)))
		tok->t_ref = ref;
	else if (!_lwkt_trytokref(ref, true))
		lwkt_gettoken_wait(td, ref);
	crit_exit_quick(td);
}

/* Shared with other shared holders; may switch, like lwkt_gettoken. */
void lwkt_gettoken_shared(struct lwkt_token *tok)
{
	lwkt_gettoken_mode(tok, TOK_EXCLREQ);
}

/*
 * Exclusive, without waiting: the reference is popped again on failure,
 * so nothing is left for the scheduler to acquire.
 */
bool lwkt_trytoken(struct lwkt_token *tok)
{
	struct thread *td = curthread;
	struct lwkt_tokref *ref;

	lwkt_token_check(td, tok);
	crit_enter_quick(td);
	ref = lwkt_pushref(td, tok, TOK_EXCLUSIVE | TOK_EXCLREQ);
	if (_lwkt_trytokref(ref, false)) {
		crit_exit_quick(td);
		return true;
	}
	td->td_toks_stop = ref;
	__atomic_add_fetch(&tok->t_collisions, 1, __ATOMIC_RELAXED);
	crit_exit_quick(td);
	return false;
}

/* Release the newest reference, which must be tok's. */
void lwkt_reltoken(struct lwkt_token *tok)
{
	struct thread *td = curthread;
	struct lwkt_tokref *ref = td->td_toks_stop - 1;

	if (ref < td->td_toks_array || ref->tr_tok != tok)
		panic("lwkt_reltoken: illegal release of token \"%s\" by "
		      "thread \"%s\": tokens are released in the reverse "
		      "order of acquisition, and the last one taken is "
		      "\"%s\" (use lwkt_token_swap to reorder)", tok->t_desc,
		      td->td_comm, ref < td->td_toks_array ? "none" :
		      ref->tr_tok->t_desc);
	crit_enter_quick(td);
	_lwkt_reltokref(ref);
	td->td_toks_stop = ref;
	crit_exit_quick(td);
}

/* Swap the two newest references, so the older can be released first. */
void lwkt_token_swap(void)
{
	struct thread *td = curthread;
	struct lwkt_tokref *a = td->td_toks_stop - 2, tmp;

	KASSERT(a >= td->td_toks_array, "lwkt_token_swap needs two tokens");
	crit_enter_quick(td);
	tmp = a[0];
	a[0] = a[1];
	a[1] = tmp;
	/* The exclusive holder's t_ref must follow its reference. */
	for (int i = 0; i < 2; i++)
		if (a[i].tr_tok->t_ref == &a[1 - i])
			a[i].tr_tok->t_ref = &a[i];
	crit_exit_quick(td);
}

/* References td holds on tok (recursion counts each). */
int lwkt_cnttoken(struct lwkt_token *tok, struct thread *td)
{
	int n = 0;

	for (struct lwkt_tokref *r = td->td_toks_array; r < td->td_toks_stop;
	     r++)
		n += r->tr_tok == tok;
	return n;
}

/* Does the running thread hold tok at all? */
bool lwkt_token_is_held(struct lwkt_token *tok)
{
	return lwkt_cnttoken(tok, curthread) > 0;
}

/*
 * lwkt_switch: release everything the outgoing thread holds, newest first.
 * A reference that lwkt_gettoken failed to get (td_toks_have) was never
 * counted in its token, so it must not be "released": subtracting a
 * share that was never added would corrupt t_count for good, and no
 * exclusive request could ever succeed again.
 */
void lwkt_relalltokens(struct thread *td)
{
	struct lwkt_tokref *top = td->td_toks_stop;

	if (td->td_toks_have != NULL) {
		top = td->td_toks_have;
		td->td_toks_have = NULL;
	}
	for (struct lwkt_tokref *r = top - 1; r >= td->td_toks_array; r--)
		_lwkt_reltokref(r);
}

/* Acquire refs in address order of their tokens (breaks livelock). */
static bool lwkt_getalltokens_sorted(struct thread *td)
{
	struct lwkt_tokref *order[LWKT_MAXTOKENS];
	int n = (int)(td->td_toks_stop - td->td_toks_array);

	for (int i = 0; i < n; i++) {
		int j = i;

		while (j > 0 && order[j - 1]->tr_tok > td->td_toks_array[i].tr_tok) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = &td->td_toks_array[i];
	}
	for (int i = 0; i < n; i++) {
		if (_lwkt_trytokref(order[i], true))
			continue;
		while (--i >= 0)
			_lwkt_reltokref(order[i]);
		return false;
	}
	return true;
}

/*
 * lwkt_switch: acquire every token of the incoming thread td, all or
 * nothing.  Recursive references re-take in order, so the first reference
 * to each token is re-taken first.
 */
bool lwkt_getalltokens(struct thread *td, bool sorted)
{
	struct lwkt_tokref *r;

	if (sorted)
		return lwkt_getalltokens_sorted(td);
	for (r = td->td_toks_array; r < td->td_toks_stop; r++) {
		if (_lwkt_trytokref(r, true))
			continue;
		__atomic_add_fetch(&r->tr_tok->t_collisions, 1,
				   __ATOMIC_RELAXED);
		td->td_wmesg = r->tr_tok->t_desc;
		while (--r >= td->td_toks_array)
			_lwkt_reltokref(r);
		return false;
	}
	return true;
}
