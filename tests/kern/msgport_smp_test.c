/*
 * msgport_smp_test.c - messages between many threads on many CPUs: none
 * lost, none duplicated, none leaked, order kept per (sender, port); a
 * port whose owner moves to another CPU while messages travel to it;
 * and aborts racing replies still give exactly one reply.  Run at 2, 4
 * and 8 CPUs (tests/ktest-groups); seeded where random.
 */
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/ktest.h>
#include <kern/msgport.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/clock.h>
#include <machine/cpufunc.h>

#include "msgport_test.h"

/* ---- a million messages, all-to-all ------------------------------------ */

#define STRESS_MESSAGES	1000000
#define STRESS_CLIENTS_PER_CPU 2
#define STRESS_WINDOW	8		/* messages each client keeps out */
#define STRESS_MAX_CLIENTS (MAXCPU * STRESS_CLIENTS_PER_CPU)

struct smsg {
	struct lwkt_msg base;
	uint32_t id;			/* unique over the whole run */
	uint16_t client;
	uint32_t seq;			/* per (client, server) */
};

static struct msg_server stress_srv[MAXCPU];
/* Per server, per client: the next seq expected (server thread only). */
static uint32_t stress_expect[MAXCPU][STRESS_MAX_CLIENTS];
static volatile uint32_t stress_order_errors;
/* One bit per message id: set when its reply comes back. */
static uint8_t stress_replied[STRESS_MESSAGES / 8 + 1];
static volatile uint32_t stress_duplicates;
static volatile uint32_t stress_next_id;
static volatile int stress_clients_done;

static int stress_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct smsg *m = (struct smsg *)msg;
	int server = (int)(srv - stress_srv);

	if (stress_expect[server][m->client] != m->seq)
		__atomic_add_fetch(&stress_order_errors, 1, __ATOMIC_RELAXED);
	stress_expect[server][m->client] = m->seq + 1;
	return 0;
}

/* Take the next unique id, or -1 when the run has sent them all. */
static int64_t stress_take_id(void)
{
	uint32_t id = __atomic_fetch_add(&stress_next_id, 1, __ATOMIC_RELAXED);

	return id < STRESS_MESSAGES ? (int64_t)id : -1;
}

static void stress_record_reply(struct smsg *m)
{
	uint8_t bit = (uint8_t)(1u << (m->id % 8));
	uint8_t old = __atomic_fetch_or(&stress_replied[m->id / 8], bit,
					__ATOMIC_RELAXED);

	if (old & bit)
		__atomic_add_fetch(&stress_duplicates, 1, __ATOMIC_RELAXED);
}

/* Send m (with a fresh id) to the next server in turn; false when done. */
static bool stress_send(struct smsg *m, uint32_t *seqs, int *next_server)
{
	int64_t id = stress_take_id();
	int s = *next_server;

	if (id < 0)
		return false;
	*next_server = (s + 1) % ncpus;
	lwkt_initmsg(&m->base, m->base.ms_reply_port, 0);
	m->id = (uint32_t)id;
	m->seq = seqs[s]++;
	lwkt_sendmsg(&stress_srv[s].ms_port, &m->base);
	return true;
}

static void stress_client(void *arg)
{
	int client = (int)(long)arg;
	struct smsg msgs[STRESS_WINDOW];
	uint32_t seqs[MAXCPU] = { 0 };
	struct lwkt_port rport;
	int next_server = client % ncpus, outstanding = 0;

	lwkt_initport_thread(&rport, curthread);
	for (int i = 0; i < STRESS_WINDOW; i++) {
		msgs[i].client = (uint16_t)client;
		msgs[i].base.ms_reply_port = &rport;
		outstanding += stress_send(&msgs[i], seqs, &next_server);
	}
	while (outstanding > 0) {
		struct smsg *m = (struct smsg *)lwkt_waitport(&rport, 0, 0,
							       NULL);

		stress_record_reply(m);
		outstanding--;
		outstanding += stress_send(m, seqs, &next_server);
	}
	lwkt_destroyport(&rport);
	__atomic_add_fetch(&stress_clients_done, 1, __ATOMIC_SEQ_CST);
	wakeup(&stress_clients_done);
}

static int stress_missing_replies(void)
{
	int missing = 0;

	for (uint32_t id = 0; id < STRESS_MESSAGES; id++)
		missing += !(stress_replied[id / 8] & (1u << (id % 8)));
	return missing;
}

/* Hardware IPIs sent so far, all CPUs. */
static uint64_t ipis_sent(void)
{
	struct ipiq_stats st;

	lwkt_ipiq_stats(&st);
	return st.ipis;
}

KTEST(msgport_smp, million_messages_all_to_all_lose_and_duplicate_none)
{
	int nclients = ncpus * STRESS_CLIENTS_PER_CPU;
	struct thread *clients[STRESS_MAX_CLIENTS];
	uint64_t served = 0, ipis_before, remote_before;
	struct msgport_stats st;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	memset(stress_expect, 0, sizeof(stress_expect));
	memset(stress_replied, 0, sizeof(stress_replied));
	stress_order_errors = stress_duplicates = stress_next_id = 0;
	stress_clients_done = 0;
	msgport_get_stats(&st);
	remote_before = st.remote;
	ipis_before = ipis_sent();
	for (int cpu = 0; cpu < ncpus; cpu++)
		KT_ASSERT_EQ(msgserver_start(&stress_srv[cpu], "stress", cpu,
					     stress_dispatch, NULL), 0);
	for (int c = 0; c < nclients; c++)
		KT_ASSERT_EQ(lwkt_create(stress_client, (void *)(long)c,
					 &clients[c],
					 0, c % ncpus, "client%d", c), 0);
	for (int c = 0; c < nclients; c++)
		lwkt_thread_join(clients[c]);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		served += stress_srv[cpu].ms_served;
		msgserver_stop(&stress_srv[cpu]);
	}
	msgport_get_stats(&st);
	/* Under load most cross-CPU puts and replies find the target CPU
	 * already signalled, so they need no IPI of their own. */
	ktest_diag("cross-CPU puts and replies: %lu, hardware IPIs: %lu",
		   st.remote - remote_before, ipis_sent() - ipis_before);
	KT_EXPECT_EQ(served, STRESS_MESSAGES);
	KT_EXPECT_EQ(stress_missing_replies(), 0);
	KT_EXPECT_EQ(stress_duplicates, 0);
	KT_EXPECT_EQ(stress_order_errors, 0);
}

/* ---- aborts racing replies, seeded ---------------------------------- */

#define RACE_ROUNDS	20000

struct race_abort_req {
	struct lwkt_msg base;
	lwkt_msg_t victim;
};

static struct msg_server race_srv;
static lwkt_msg_t race_parked;
static volatile uint64_t race_replies;
static uint64_t race_rng;

/*
 * How each abort came out.  The race the test is about is the one where
 * lwkt_abortmsg found the message unreplied and called the abort
 * function, but the server replied before the abort request reached it:
 * race_reply_won.  The test fails if that never happened, since then the
 * loop proved nothing about it.
 */
static struct {
	uint64_t abort_won_parked;	/* the request replied a parked one */
	uint64_t abort_won_queued;	/* the server found it ABORTED */
	uint64_t reply_won;		/* the request found it replied */
	uint64_t abortfn_calls;		/* lwkt_abortmsg called the function */
	uint64_t noop_in_flight;	/* abortmsg met a reply in flight */
	uint64_t noop_done;		/* abortmsg met a reply home */
} race;

/* xorshift64: a small, seedable generator for the race's choices. */
static uint64_t race_random(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/*
 * Each round draws where the two sides act: the client pauses before it
 * aborts, the server "works" before it replies.  Both pauses are spread
 * over several orders of magnitude (2^0 .. 2^13 pauses, log-uniform), so
 * that some rounds land the abort inside the server's work whatever the
 * IPI and wakeup latencies of the machine are.
 */
#define RACE_PARK	 0x1	/* ms_result: park it until aborted */
#define RACE_WORK_SHIFT	 8	/* ms_result >> this: the server's pause */
#define RACE_MAX_EXP	14

static void race_pause(unsigned int n)
{
	while (n-- > 0)
		cpu_pause();
}

/* A pause of 0 .. 2^(RACE_MAX_EXP-1) from 18 random bits. */
static unsigned int race_spread(uint64_t bits)
{
	unsigned int exp = (unsigned int)(bits % RACE_MAX_EXP);

	return (unsigned int)(bits >> 4) & ((1u << exp) - 1);
}

static void race_reply(lwkt_msg_t msg, int error)
{
	__atomic_add_fetch(&race_replies, 1, __ATOMIC_RELAXED);
	lwkt_replymsg(msg, error);
}

/* The server parks about half the messages, replies the rest at once,
 * and replies a parked one with EINTR when its abort request comes. */
static int race_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	if (msg->ms_flags & MSGF_USER0) {
		lwkt_msg_t victim = ((struct race_abort_req *)msg)->victim;

		if (victim == race_parked &&
		    (victim->ms_flags & (MSGF_DONE | MSGF_REPLY)) == 0) {
			race_parked = NULL;
			race.abort_won_parked++;
			race_reply(victim, EINTR);
		} else if (victim->ms_error == 0) {
			/* Replied normally before this request came; its
			 * sender waits in lwkt_abortmsg, so the message is
			 * not changing under us. */
			race.reply_won++;
		}
		return 0;
	}
	if (msg->ms_flags & MSGF_ABORTED) {
		race.abort_won_queued++;
		race_reply(msg, EINTR);
		return EASYNC;
	}
	if (msg->u.ms_result & RACE_PARK) {
		race_parked = msg;
		return EASYNC;
	}
	race_pause(msg->u.ms_result >> RACE_WORK_SHIFT);	/* "work" */
	race_reply(msg, 0);
	return EASYNC;
}

static void race_abortfn(lwkt_msg_t msg)
{
	struct race_abort_req req;
	struct lwkt_port rp;

	race.abortfn_calls++;
	lwkt_initport_thread(&rp, curthread);
	lwkt_initmsg(&req.base, &rp, MSGF_USER0);
	req.victim = msg;
	lwkt_domsg(&race_srv.ms_port, &req.base, 0);
	lwkt_destroyport(&rp);
}

/* Abort, and note what the abort met if it did nothing. */
static void race_abort(lwkt_msg_t msg)
{
	uint32_t flags = msg->ms_flags;
	uint64_t calls = race.abortfn_calls;

	lwkt_abortmsg(msg);
	if (race.abortfn_calls != calls)
		return;
	if (flags & MSGF_DONE)
		race.noop_done++;
	else if (flags & MSGF_REPLY)
		race.noop_in_flight++;
}

KTEST(msgport_smp, abort_racing_reply_gives_exactly_one_reply)
{
	struct lwkt_port rport;
	struct lwkt_msg m;
	uint64_t seed = ktest_seed();

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	ktest_diag("seed=%#lx", seed);
	race_rng = seed | 1;
	race_replies = 0;
	race_parked = NULL;
	memset(&race, 0, sizeof(race));
	KT_ASSERT_EQ(msgserver_start(&race_srv, "race", ncpus - 1,
				     race_dispatch, NULL), 0);
	lwkt_initport_thread(&rport, curthread);
	for (int round = 0; round < RACE_ROUNDS; round++) {
		uint64_t r = race_random(&race_rng);
		int error;

		lwkt_initmsg_abortable(&m, &rport, 0, race_abortfn);
		m.u.ms_result = (int)((r & RACE_PARK) |
				      race_spread(r >> 8) << RACE_WORK_SHIFT);
		lwkt_sendmsg(&race_srv.ms_port, &m);
		race_pause(race_spread(r >> 32));
		if ((r & 2) || (r & RACE_PARK))	/* a parked one needs it */
			race_abort(&m);
		error = lwkt_waitmsg(&m, 0);
		KT_ASSERT_TRUE(error == 0 || error == EINTR);
		KT_ASSERT_EQ(race_replies, (uint64_t)round + 1);
	}
	ktest_diag("%d rounds: abort function called %lu times; the abort won "
		   "%lu (parked) + %lu (still queued); the reply won the race "
		   "%lu times; aborts that met a reply in flight %lu, home %lu",
		   RACE_ROUNDS, race.abortfn_calls, race.abort_won_parked,
		   race.abort_won_queued, race.reply_won, race.noop_in_flight,
		   race.noop_done);
	KT_EXPECT_EQ(race.abortfn_calls, race.abort_won_parked +
		     race.abort_won_queued + race.reply_won);
	KT_EXPECT_GT(race.reply_won, 0);	/* the window was hit */
	KT_EXPECT_TRUE(lwkt_getport(&rport) == NULL);
	msgserver_stop(&race_srv);
	lwkt_destroyport(&rport);
}

/* ---- the owner moves while messages travel ------------------------- */

/*
 * A put made on the CPU a port's owner has just left must not touch the
 * queue there: the owner may already run on its new CPU.  Here the new
 * CPU is held still, so the owner has left this CPU but cannot run yet; a
 * put from this CPU must travel to the new one (INTRANSIT), not be queued
 * on the spot.
 */
static struct lwkt_port mover_port;
static volatile bool mover_go, mover_leaving;
static int mover_cpu_after;

static void mover(void *arg)
{
	lwkt_msg_t msg;

	while (!mover_go)
		tsleep(&mover_go, 0, "movergo", 0);
	mover_leaving = true;
	lwkt_migratecpu((int)(long)arg);	/* leaves in one switch */
	msg = lwkt_waitport(&mover_port, 0, 0, NULL);
	mover_cpu_after = mycpuid;
	lwkt_replymsg(msg, 0);
}

KTEST(msgport_smp, a_put_on_the_cpu_the_owner_just_left_goes_to_its_new_cpu)
{
	int to = (mycpuid + 1) % ncpus;
	struct msgport_stats before, after;
	struct cpu_hold hold;
	struct lwkt_port rp;
	struct lwkt_msg m;
	struct thread *td;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	mover_go = mover_leaving = false;
	mover_cpu_after = -1;
	KT_ASSERT_EQ(lwkt_create(mover, (void *)(long)to, &td, TDF_NOSTART,
				 mycpuid, "mover"), 0);
	lwkt_initport_thread(&mover_port, td);
	lwkt_schedule(td);
	lwkt_initport_thread(&rp, curthread);
	lwkt_initmsg(&m, &rp, 0);
	cpu_hold(&hold, to);
	mover_go = true;
	wakeup(&mover_go);
	while (!mover_leaving)		/* it runs here while we sleep */
		tsleep(&m, 0, "leaving", 1);
	msgport_get_stats(&before);
	lwkt_sendmsg(&mover_port, &m);
	KT_EXPECT_EQ(m.ms_flags & (MSGF_INTRANSIT | MSGF_QUEUED),
		     MSGF_INTRANSIT);
	KT_EXPECT_TRUE(TAILQ_EMPTY(&mover_port.mp_msgq));
	cpu_release(&hold);
	KT_EXPECT_EQ(lwkt_waitmsg(&m, 0), 0);
	msgport_get_stats(&after);
	KT_EXPECT_EQ(after.chased - before.chased, 0);	/* went straight */
	lwkt_thread_join(td);
	KT_EXPECT_EQ(mover_cpu_after, to);
	lwkt_destroyport(&rp);
	lwkt_destroyport(&mover_port);
}

/*
 * Messages in flight when their port's owner moves.  The owner holds its
 * CPU ("from") in a critical section while a sender on every other CPU
 * sends it MOVE_MESSAGES messages, so they all wait in from's IPIQ rings;
 * then it moves to "to".  From must chase every one of them to "to" --
 * and since "to" is held still meanwhile, and the owner filled the ring
 * from -> to nearly up first, the chases find that ring full: from waits
 * for room, running the arrivals queued behind (the nesting that could
 * reorder them).  Every message must land once, on "to", and each
 * sender's in the order it sent them.
 */
#define MOVE_MESSAGES	48	/* per sender: a ring holds 128 in flight */
#define MOVE_PREFILL	100	/* calls queued from -> to before the move */

struct move_msg {
	struct lwkt_msg base;
	int sender;			/* the sender's CPU */
	int seq;
};

static struct {
	struct lwkt_port port;		/* the owner's */
	int from, to, nsenders;
	volatile bool holding;		/* the owner holds from */
	volatile int senders_done;
	volatile bool to_held;
	volatile bool chases_waited;	/* from found the ring to "to" full */
	/* what the owner saw, on "to" */
	int expect[MAXCPU];
	int received, order_errors, wrong_cpu, lost;
} mv;

static void move_noop(void *arg)
{
}

/* The owner: hold from until everything is in flight, move, receive. */
static void move_owner(void *arg)
{
	int total = mv.nsenders * MOVE_MESSAGES, error;
	struct move_msg *m;

	crit_enter();
	mv.holding = true;
	while (mv.senders_done < mv.nsenders || !mv.to_held)
		cpu_pause();
	for (int i = 0; i < MOVE_PREFILL; i++)
		lwkt_send_ipiq(globaldata_find(mv.to), move_noop, NULL);
	lwkt_migratecpu(mv.to);
	crit_exit();
	while (mv.received < total) {
		m = (struct move_msg *)lwkt_waitport(&mv.port, 0, 10 * hz,
						     &error);
		if (m == NULL) {
			mv.lost = total - mv.received;
			break;
		}
		mv.received++;
		mv.wrong_cpu += mycpuid != mv.to;
		mv.order_errors += m->seq != mv.expect[m->sender];
		mv.expect[m->sender] = m->seq + 1;
		lwkt_replymsg(&m->base, 0);
	}
}

/* One per CPU but from: send once the owner holds from, then take the
 * replies back. */
static void move_sender(void *arg)
{
	struct move_msg msgs[MOVE_MESSAGES];
	struct lwkt_port rp;

	lwkt_initport_thread(&rp, curthread);
	while (!mv.holding)
		tsleep(&mv.holding, 0, "moveown", 1);
	for (int i = 0; i < MOVE_MESSAGES; i++) {
		lwkt_initmsg(&msgs[i].base, &rp, 0);
		msgs[i].sender = mycpuid;
		msgs[i].seq = i;
		lwkt_sendmsg(&mv.port, &msgs[i].base);
	}
	__atomic_add_fetch(&mv.senders_done, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < MOVE_MESSAGES; i++)
		lwkt_waitmsg(&msgs[i].base, 0);
	lwkt_destroyport(&rp);
}

/* Holds "to" once everything is sent, until from has found the ring to
 * it full (or, if from never does, 20 seconds). */
static void move_holder(void *arg)
{
	struct globaldata *from = globaldata_find(mv.from);
	uint64_t full, deadline;

	while (mv.senders_done < mv.nsenders)
		tsleep(&mv.senders_done, 0, "movesnd", 1);
	crit_enter();
	full = from->gd_cnt.ipiq_fifofull;
	deadline = rdtsc() + 20 * tsc_hz;
	mv.to_held = true;
	while (from->gd_cnt.ipiq_fifofull == full && rdtsc() < deadline)
		cpu_pause();
	mv.chases_waited = from->gd_cnt.ipiq_fifofull != full;
	crit_exit();
}

KTEST(msgport_smp, messages_in_flight_when_the_owner_moves_land_once_in_order)
{
	struct thread *senders[MAXCPU], *owner, *holder;
	struct msgport_stats before, after;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	memset(&mv, 0, sizeof(mv));
	msgport_get_stats(&before);
	mv.from = mycpuid;
	mv.to = (mycpuid + 1) % ncpus;
	mv.nsenders = ncpus - 1;
	for (int cpu = 0; cpu < ncpus; cpu++)
		if (cpu != mv.from)
			KT_ASSERT_EQ(lwkt_create(move_sender, NULL,
						 &senders[cpu], 0, cpu,
						 "msender%d", cpu), 0);
	KT_ASSERT_EQ(lwkt_create(move_holder, NULL, &holder, 0, mv.to,
				 "mholder"), 0);
	KT_ASSERT_EQ(lwkt_create(move_owner, NULL, &owner, TDF_NOSTART,
				 mv.from, "mowner"), 0);
	lwkt_initport_thread(&mv.port, owner);
	lwkt_schedule(owner);		/* runs once we block */
	lwkt_thread_join(owner);
	lwkt_thread_join(holder);
	for (int cpu = 0; cpu < ncpus; cpu++)
		if (cpu != mv.from)
			lwkt_thread_join(senders[cpu]);
	msgport_get_stats(&after);
	ktest_diag("%d messages from %d senders: %d received on cpu %d, %d "
		   "lost, %d out of order, %d on another cpu; %lu chased",
		   mv.nsenders * MOVE_MESSAGES, mv.nsenders, mv.received,
		   mv.to, mv.lost, mv.order_errors, mv.wrong_cpu,
		   after.chased - before.chased);
	/* Each was chased exactly once, from the old CPU to the new. */
	KT_EXPECT_EQ(after.chased - before.chased,
		     (uint64_t)mv.nsenders * MOVE_MESSAGES);
	KT_EXPECT_TRUE(mv.chases_waited);	/* the nesting happened */
	KT_EXPECT_EQ(mv.received, mv.nsenders * MOVE_MESSAGES);
	KT_EXPECT_EQ(mv.lost, 0);
	KT_EXPECT_EQ(mv.order_errors, 0);
	KT_EXPECT_EQ(mv.wrong_cpu, 0);
	for (int cpu = 0; cpu < ncpus; cpu++)
		if (cpu != mv.from)
			KT_EXPECT_EQ(mv.expect[cpu], MOVE_MESSAGES);
	lwkt_destroyport(&mv.port);
}
