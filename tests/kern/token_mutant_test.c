/*
 * token_mutant_test.c - what a token excludes, and what a failed attempt
 * leaves behind (kern/lwkt_token.c).
 *
 * A token excludes only while its holder runs, so on one CPU two threads
 * never contend: the holder gives its tokens up when it blocks.  Exclusion
 * shows only across CPUs, while the holder keeps running: here the test
 * thread holds the token inside a critical section (so nothing switches it
 * out) and a thread on CPU 1 asks for it.  A failed attempt counts a
 * collision on the token, which tells the test, without any timing, that
 * the other thread has really tried and been refused.
 *
 * These tests were written for `make mutate` (tests/mutants.txt): each
 * catches a one-line breakage the older token tests let through.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/token.h>
#include <machine/cpufunc.h>

static struct lwkt_token tok_x = LWKT_TOKEN_INITIALIZER("test-excl-x");
static struct lwkt_token tok_y = LWKT_TOKEN_INITIALIZER("test-excl-y");
static volatile int got;		/* the other CPU's thread holds tok_x */

/* Thread bodies for CPU 1: take tok_x in one mode, say so, let go. */
static void take_shared(void *arg __unused)
{
	lwkt_gettoken_shared(&tok_x);
	got = 1;
	lwkt_reltoken(&tok_x);
}

static void take_exclusive(void *arg __unused)
{
	lwkt_gettoken(&tok_x);
	got = 1;
	lwkt_reltoken(&tok_x);
}

/*
 * Hold tok_x (shared or exclusive) on this CPU while a thread on CPU 1
 * runs `take`.  Returns true if that thread was refused at least once
 * before we let go, and checks that it got the token after.
 */
static bool other_cpu_waits(void (*take)(void *), bool hold_shared)
{
	uint64_t colls = tok_x.t_collisions;
	struct thread *td;
	bool refused;

	got = 0;
	/* Created first (creation may block), started once we hold tok_x. */
	KASSERT(lwkt_create(take, NULL, &td, TDF_NOSTART, 1, "t-excl") == 0,
		"no thread for the token test");
	crit_enter();			/* keeps us running: the token stays held */
	if (hold_shared)
		lwkt_gettoken_shared(&tok_x);
	else
		lwkt_gettoken(&tok_x);
	lwkt_schedule(td);
	/* Either it got the token at once, or its first try was refused. */
	while (!got && tok_x.t_collisions == colls)
		cpu_pause();
	refused = !got;
	lwkt_reltoken(&tok_x);
	crit_exit();
	lwkt_thread_join(td);
	KT_EXPECT_EQ(got, 1);
	KT_EXPECT_EQ(tok_x.t_count & ~(long)TOK_EXCLREQ, 0);
	return refused;
}

KTEST(token_exclusion, shared_request_waits_for_an_exclusive_holder)
{
	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs: on one, a token holder never runs "
			"beside a waiter");
	KT_EXPECT_TRUE(other_cpu_waits(take_shared, false));
}

KTEST(token_exclusion, exclusive_request_waits_for_a_shared_holder)
{
	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs: on one, a token holder never runs "
			"beside a waiter");
	KT_EXPECT_TRUE(other_cpu_waits(take_exclusive, true));
}

KTEST(token_exclusion, shared_holders_do_not_exclude_each_other)
{
	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs: on one, a token holder never runs "
			"beside a waiter");
	KT_EXPECT_FALSE(other_cpu_waits(take_shared, true));
}

/*
 * A thread that held x and y wakes up while y is held elsewhere: the
 * scheduler takes x, fails on y, and must give x back before it tries
 * again -- all of the thread's tokens, or none.
 */
static volatile int sleeper_ready;

static void hold_two_and_sleep(void *arg __unused)
{
	lwkt_gettoken(&tok_x);
	lwkt_gettoken(&tok_y);
	tsleep_interlock(&sleeper_ready, 0);
	sleeper_ready = 1;
	tsleep(&sleeper_ready, PINTERLOCKED, "twotok", 0); /* gives both up */
	lwkt_reltoken(&tok_y);
	lwkt_reltoken(&tok_x);
}

/* Try for tok_x until we get it or two seconds pass. */
static bool try_x_for_a_while(void)
{
	uint64_t start = rdtsc();

	while (rdtsc() - start < 2 * tsc_hz) {
		if (lwkt_trytoken(&tok_x))
			return true;
		cpu_pause();
	}
	return false;
}

KTEST(token_exclusion, a_refused_resume_gives_back_the_tokens_it_took)
{
	struct thread *td;
	uint64_t colls;
	bool got_x;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs: the resume must fail while we hold y");
	sleeper_ready = 0;
	/* 1. On CPU 1: take x then y, and sleep (which lets both go). */
	KT_ASSERT_EQ(lwkt_create(hold_two_and_sleep, NULL, &td, 0, 1,
				 "t-twotok"), 0);
	while (!sleeper_ready)
		tsleep(&sleeper_ready, 0, "twordy", 1);
	/* 2. Here: take y, and stay running (critical section) so we keep
	 *    it while the sleeper is woken and tries to resume. */
	lwkt_gettoken(&tok_y);		/* the sleeper has let go of it */
	crit_enter();
	colls = tok_y.t_collisions;
	wakeup(&sleeper_ready);		/* its resume takes x, fails on y */
	/* 3. Its resume was refused on y; x must be free again. */
	while (tok_y.t_collisions == colls)
		cpu_pause();
	got_x = try_x_for_a_while();
	if (got_x)
		lwkt_reltoken(&tok_x);
	lwkt_reltoken(&tok_y);
	crit_exit();
	lwkt_thread_join(td);
	KT_EXPECT_TRUE(got_x);
	KT_EXPECT_EQ(tok_x.t_count & ~(long)TOK_EXCLREQ, 0);
	KT_EXPECT_EQ(tok_y.t_count & ~(long)TOK_EXCLREQ, 0);
}

KTEST(token_exclusion, a_failed_trytoken_leaves_no_reference)
{
	KT_ASSERT_TRUE(lwkt_trytoken(&tok_x));	/* free: it succeeds */
	KT_EXPECT_EQ(lwkt_cnttoken(&tok_x, curthread), 1);
	lwkt_reltoken(&tok_x);

	lwkt_gettoken_shared(&tok_x);
	/* Exclusive while we hold a share ourselves: refused at once. */
	KT_EXPECT_FALSE(lwkt_trytoken(&tok_x));
	KT_EXPECT_EQ(lwkt_cnttoken(&tok_x, curthread), 1);
	lwkt_reltoken(&tok_x);
	KT_EXPECT_EQ(lwkt_cnttoken(&tok_x, curthread), 0);
	KT_EXPECT_EQ(tok_x.t_count & ~(long)TOK_EXCLREQ, 0);
}
