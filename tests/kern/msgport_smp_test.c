/*
 * msgport_smp_test.c - messages between many threads on many CPUs: none
 * lost, none duplicated, none leaked, order kept per (sender, port); and
 * aborts racing replies still give exactly one reply.  Run at 2, 4 and 8
 * CPUs (tests/ktest-groups); seeded where random.
 */
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/ktest.h>
#include <kern/msgport.h>
#include <kern/synch.h>
#include <kern/thread.h>

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
