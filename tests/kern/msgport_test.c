/*
 * msgport_test.c - the behaviours of messages and ports.
 *
 * Each test states one behaviour from the message-port specification
 * (shared reference §8-9, docs/msgport.md).  Servers are message servers
 * (msgserver_start) whose dispatch function the test chooses; replies
 * come back to a thread port owned by the test's own thread.  Every test
 * destroys the ports it made, so the suite's leak checks (messages in
 * flight, live ports) see exactly what the kernel left behind.
 */
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/msgport.h>
#include <kern/serialize.h>
#include <kern/synch.h>
#include <kern/thread.h>

#include "msgport_test.h"

/* A test message: the lwkt_msg first, then what the test needs. */
struct tmsg {
	struct lwkt_msg base;
	int op;
	int value;
	int seen_cpu;		/* the CPU the server ran on */
	int seq;
};

enum { OP_ECHO, OP_FAIL, OP_HOLD, OP_FORWARD, OP_CPU, OP_RELEASE };

#define ERR_TEST 42

/* ---- servers ----------------------------------------------------------- */

/* Echo: reply with value as the error (OP_FAIL) or 0, noting the CPU. */
static int echo_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct tmsg *m = (struct tmsg *)msg;

	m->seen_cpu = mycpuid;
	m->value++;
	return m->op == OP_FAIL ? ERR_TEST : 0;
}

/* A reply port owned by the calling thread, and its destruction. */
static void rport_init(struct lwkt_port *rp)
{
	lwkt_initport_thread(rp, curthread);
}

static void tmsg_init(struct tmsg *m, lwkt_port_t rport, int op)
{
	lwkt_initmsg(&m->base, rport, 0);
	m->op = op;
	m->value = 0;
	m->seen_cpu = -1;
}

static int pick_other_cpu(void)
{
	return ncpus > 1 ? (mycpuid + 1) % ncpus : -1;
}

/* ---- message state -------------------------------------------------------- */

KTEST(msgport, initmsg_sets_done_and_reply_port_only)
{
	struct lwkt_port rp;
	struct tmsg m;

	rport_init(&rp);
	m.base.ms_error = 1234;
	m.base.ms_target_port = &rp;
	m.base.u.ms_result = 77;
	lwkt_initmsg(&m.base, &rp, MSGF_PRIORITY);
	KT_EXPECT_EQ(m.base.ms_flags, MSGF_DONE | MSGF_PRIORITY);
	KT_EXPECT_TRUE(m.base.ms_reply_port == &rp);
	KT_EXPECT_EQ(m.base.ms_error, 1234);	/* untouched */
	KT_EXPECT_TRUE(m.base.ms_target_port == &rp);
	KT_EXPECT_EQ(m.base.u.ms_result, 77);
	KT_EXPECT_TRUE(lwkt_checkmsg(&m.base));
	lwkt_destroyport(&rp);
}

KTEST(msgport, send_without_reply_port_panics)
{
	struct lwkt_port port;
	struct panic_catch pc;
	struct tmsg m;

	lwkt_initport_thread(&port, curthread);
	lwkt_initmsg(&m.base, NULL, 0);
	KT_CATCH_PANIC(&pc, lwkt_sendmsg(&port, &m.base));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "has no reply port");
	lwkt_destroyport(&port);
}

KTEST(msgport, sending_a_queued_message_again_panics)
{
	struct lwkt_port port;
	struct panic_catch pc;
	struct tmsg m;

	lwkt_initport_thread(&port, curthread);
	tmsg_init(&m, &port, OP_ECHO);
	lwkt_sendmsg(&port, &m.base);		/* to ourselves: queued */
	KT_CATCH_PANIC(&pc, lwkt_sendmsg(&port, &m.base));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "still in use");
	/* Serve it ourselves to leave nothing in flight. */
	KT_EXPECT_TRUE(lwkt_getport(&port) == &m.base);
	lwkt_replymsg(&m.base, 0);
	KT_EXPECT_TRUE(lwkt_getport(&port) == &m.base);
	lwkt_destroyport(&port);
}

KTEST(msgport, local_send_queues_and_sets_target)
{
	struct lwkt_port port;
	struct msgport_stats before, after;
	uint64_t ipiqs;
	struct tmsg m;

	lwkt_initport_thread(&port, curthread);
	tmsg_init(&m, &port, OP_ECHO);
	msgport_get_stats(&before);
	crit_enter();		/* nothing else on this CPU sends meanwhile */
	ipiqs = mycpu->gd_cnt.ipiq_count;
	lwkt_sendmsg(&port, &m.base);
	KT_EXPECT_EQ(mycpu->gd_cnt.ipiq_count, ipiqs);	/* no IPIQ */
	crit_exit();
	msgport_get_stats(&after);
	KT_EXPECT_EQ(after.remote, before.remote);
	KT_EXPECT_EQ(m.base.ms_flags & (MSGF_QUEUED | MSGF_DONE), MSGF_QUEUED);
	KT_EXPECT_TRUE(m.base.ms_target_port == &port);
	KT_EXPECT_TRUE(lwkt_getport(&port) == &m.base);
	KT_EXPECT_EQ(m.base.ms_flags & MSGF_QUEUED, 0);
	lwkt_replymsg(&m.base, 7);
	/* An async reply to our own port is queued there, DONE and REPLY. */
	KT_EXPECT_EQ(m.base.ms_flags & (MSGF_DONE | MSGF_REPLY | MSGF_QUEUED),
		     MSGF_DONE | MSGF_REPLY | MSGF_QUEUED);
	KT_EXPECT_EQ(lwkt_waitmsg(&m.base, 0), 7);
	KT_EXPECT_EQ(m.base.ms_flags & MSGF_QUEUED, 0);
	lwkt_destroyport(&port);
}

KTEST(msgport, getport_returns_messages_in_fifo_order)
{
	struct lwkt_port port;
	struct tmsg m[16];

	lwkt_initport_thread(&port, curthread);
	for (int i = 0; i < 16; i++) {
		tmsg_init(&m[i], &port, OP_ECHO);
		lwkt_sendmsg(&port, &m[i].base);
	}
	for (int i = 0; i < 16; i++) {
		lwkt_msg_t got = lwkt_getport(&port);

		KT_ASSERT_TRUE(got == &m[i].base);
		KT_EXPECT_EQ(got->ms_flags & MSGF_QUEUED, 0);
		lwkt_replymsg(got, 0);
	}
	for (int i = 0; i < 16; i++)	/* the replies, also in order */
		KT_EXPECT_TRUE(lwkt_getport(&port) == &m[i].base);
	lwkt_destroyport(&port);
}

/* Priority messages come first, and each class keeps its own order. */
KTEST(msgport, priority_message_sent_last_comes_out_first)
{
	struct lwkt_port port;
	struct tmsg a, b, p, q;

	lwkt_initport_thread(&port, curthread);
	tmsg_init(&a, &port, OP_ECHO);
	tmsg_init(&b, &port, OP_ECHO);
	tmsg_init(&p, &port, OP_ECHO);
	tmsg_init(&q, &port, OP_ECHO);
	p.base.ms_flags |= MSGF_PRIORITY;
	q.base.ms_flags |= MSGF_PRIORITY;
	lwkt_sendmsg(&port, &a.base);
	lwkt_sendmsg(&port, &p.base);
	lwkt_sendmsg(&port, &b.base);
	lwkt_sendmsg(&port, &q.base);
	KT_EXPECT_TRUE(lwkt_getport(&port) == &p.base);
	KT_EXPECT_TRUE(lwkt_getport(&port) == &q.base);
	KT_EXPECT_TRUE(lwkt_getport(&port) == &a.base);
	KT_EXPECT_TRUE(lwkt_getport(&port) == &b.base);
	lwkt_replymsg(&a.base, 0);
	lwkt_replymsg(&b.base, 0);
	lwkt_replymsg(&p.base, 0);
	lwkt_replymsg(&q.base, 0);
	while (lwkt_getport(&port) != NULL)
		;
	lwkt_destroyport(&port);
}

KTEST(msgport, getport_on_empty_port_returns_null_without_blocking)
{
	struct lwkt_port port;
	uint64_t before;

	lwkt_initport_thread(&port, curthread);
	before = mycpu->gd_cnt.v_swtch;
	KT_EXPECT_TRUE(lwkt_getport(&port) == NULL);
	KT_EXPECT_EQ(mycpu->gd_cnt.v_swtch, before);
	lwkt_destroyport(&port);
}

/*
 * A local put wakes the owner only if it waits on the port.  The bystander
 * owns a port but sleeps on something else; a put must leave it asleep
 * (a needless lwkt_schedule would end its tsleep early, and it counts
 * every return).
 */
static volatile int bystander_wakes;
static volatile bool bystander_stop;

static void bystander(void *arg)
{
	lwkt_port_t port = arg;
	lwkt_msg_t msg;

	while (!bystander_stop) {
		tsleep(&bystander_stop, 0, "bystand", 0);
		bystander_wakes++;
	}
	while ((msg = lwkt_getport(port)) != NULL)
		lwkt_replymsg(msg, 0);
}

KTEST(msgport, local_send_wakes_the_owner_only_if_it_waits_on_the_port)
{
	struct lwkt_port port, rp;
	struct thread *td;
	struct tmsg m;

	bystander_wakes = 0;
	bystander_stop = false;
	KT_ASSERT_EQ(lwkt_create(bystander, &port, &td, TDF_NOSTART, -1,
				 "bystander"), 0);
	lwkt_initport_thread(&port, td);
	lwkt_schedule(td);
	while (tsleep_count_sleepers(&bystander_stop) == 0)
		tsleep(&m, 0, "settle", 1);
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_ECHO);
	lwkt_sendmsg(&port, &m.base);		/* same CPU as the owner */
	tsleep(&m, 0, "settle", 2);		/* the owner could run now */
	KT_EXPECT_EQ(bystander_wakes, 0);
	KT_EXPECT_TRUE(m.base.ms_flags & MSGF_QUEUED);
	bystander_stop = true;
	wakeup(&bystander_stop);
	KT_EXPECT_EQ(lwkt_waitmsg(&m.base, 0), 0);
	lwkt_thread_join(td);
	KT_EXPECT_EQ(bystander_wakes, 1);	/* only the real wakeup */
	lwkt_destroyport(&rp);
	lwkt_destroyport(&port);
}

/*
 * A put to a thread on another CPU is one IPIQ message from this CPU, and
 * the message is queued only when that CPU runs it: until then it is
 * INTRANSIT, on nobody's queue.  The target CPU is held still to see it.
 */
KTEST(msgport, remote_send_is_one_ipiq_message_queued_only_on_arrival)
{
	struct msgport_stats before, after;
	struct msg_server srv;
	struct cpu_hold hold;
	struct lwkt_port rp;
	uint64_t ipiqs;
	struct tmsg m;
	int cpu = pick_other_cpu();

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	KT_ASSERT_EQ(msgserver_start(&srv, "echo", cpu, echo_dispatch, NULL),
		     0);
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_ECHO);
	msgport_get_stats(&before);
	cpu_hold(&hold, cpu);
	crit_enter();		/* nothing else on this CPU sends meanwhile */
	ipiqs = mycpu->gd_cnt.ipiq_count;
	lwkt_sendmsg(&srv.ms_port, &m.base);
	KT_EXPECT_EQ(mycpu->gd_cnt.ipiq_count - ipiqs, 1);
	crit_exit();
	tsleep(&m, 0, "inflight", 2);
	KT_EXPECT_EQ(m.base.ms_flags & (MSGF_INTRANSIT | MSGF_QUEUED |
					MSGF_DONE), MSGF_INTRANSIT);
	KT_EXPECT_EQ(srv.ms_served, 0);
	cpu_release(&hold);
	KT_EXPECT_EQ(lwkt_waitmsg(&m.base, 0), 0);
	KT_EXPECT_EQ(m.seen_cpu, cpu);
	KT_EXPECT_EQ(m.base.ms_flags & MSGF_INTRANSIT, 0);
	msgport_get_stats(&after);
	KT_EXPECT_EQ(after.remote - before.remote, 2);	/* put and reply */
	msgserver_stop(&srv);
	lwkt_destroyport(&rp);
}

/* ---- ownership ----------------------------------------------------------- */

static struct lwkt_port *foreign_port;
static struct panic_catch foreign_catch;
static volatile int foreign_done;

static void getport_from_foreign_thread(void *arg)
{
	KT_CATCH_PANIC(&foreign_catch, lwkt_getport(foreign_port));
	foreign_done = 1;
	wakeup(&foreign_done);
}

KTEST(msgport, getport_by_a_thread_that_is_not_the_owner_panics)
{
	struct lwkt_port port;

	struct thread *td;

	lwkt_initport_thread(&port, curthread);
	foreign_port = &port;
	foreign_done = 0;
	KT_ASSERT_EQ(lwkt_create(getport_from_foreign_thread, NULL, &td, 0,
				 -1, "foreign"), 0);
	lwkt_thread_join(td);
	KT_EXPECT_TRUE(foreign_catch.caught);
	KT_EXPECT_SUBSTR(foreign_catch.msg, "not the owner");
	lwkt_destroyport(&port);
}

/* ---- synchronous requests ---------------------------------------------- */

static struct thread *inline_ran_in;

static int dispatch_inline(lwkt_msg_t msg)
{
	struct tmsg *m = (struct tmsg *)msg;

	inline_ran_in = curthread;
	m->value = 99;
	return m->op == OP_FAIL ? ERR_TEST : 0;
}

KTEST(msgport, domsg_to_dispatch_port_is_a_call_without_a_switch)
{
	struct lwkt_port port, rp;
	struct tmsg m;
	uint64_t before;
	int error;

	lwkt_initport_dispatch(&port, dispatch_inline, "inline");
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_FAIL);
	m.base.ms_error = 1234;
	inline_ran_in = NULL;
	before = mycpu->gd_cnt.v_swtch;
	error = lwkt_domsg(&port, &m.base, 0);
	KT_EXPECT_EQ(mycpu->gd_cnt.v_swtch, before);
	KT_EXPECT_EQ(error, ERR_TEST);
	KT_EXPECT_EQ(m.base.ms_error, 1234);	/* returned, not written */
	KT_EXPECT_TRUE(inline_ran_in == curthread);
	KT_EXPECT_EQ(m.value, 99);
	KT_EXPECT_EQ(m.base.ms_flags & (MSGF_DONE | MSGF_REPLY | MSGF_QUEUED),
		     MSGF_DONE | MSGF_REPLY);
	KT_EXPECT_TRUE(m.base.ms_target_port == &port);
	KT_EXPECT_TRUE(lwkt_getport(&rp) == NULL);	/* nothing queued */
	lwkt_destroyport(&rp);
	lwkt_destroyport(&port);
}

KTEST(msgport, sendmsg_turns_a_synchronous_result_into_a_reply)
{
	struct lwkt_port port, rp;
	struct tmsg m;

	lwkt_initport_dispatch(&port, dispatch_inline, "inline");
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_FAIL);
	lwkt_sendmsg(&port, &m.base);
	KT_EXPECT_TRUE(lwkt_getport(&rp) == &m.base);
	KT_EXPECT_EQ(m.base.ms_error, ERR_TEST);
	KT_EXPECT_EQ(m.base.ms_flags & (MSGF_DONE | MSGF_REPLY),
		     MSGF_DONE | MSGF_REPLY);
	lwkt_destroyport(&rp);
	lwkt_destroyport(&port);
}

/* One domsg to srv: its error, and how many times it crossed CPUs (a
 * crossing to a CPU the owner had left counts once more, as a chase). */
static int domsg_counting_crossings(struct msg_server *srv, struct tmsg *m,
				    uint64_t *crossings)
{
	struct msgport_stats before, after;
	int error;

	msgport_get_stats(&before);
	error = lwkt_domsg(&srv->ms_port, &m->base, 0);
	msgport_get_stats(&after);
	*crossings = after.remote - before.remote +
		     after.chased - before.chased;
	return error;
}

/*
 * domsg to a server thread on cpu: the server's error comes back, the
 * message is DONE again, and it crossed CPUs exactly once each way (put
 * and reply) if the server is on another CPU, never if it is on ours.
 */
static void check_domsg_roundtrip(int cpu)
{
	uint64_t crossings, expected = cpu >= 0 && cpu != mycpuid ? 2 : 0;
	struct msg_server srv;
	struct lwkt_port rp;
	struct tmsg m;

	KT_ASSERT_EQ(msgserver_start(&srv, "echo", cpu, echo_dispatch, NULL),
		     0);
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_FAIL);
	KT_EXPECT_EQ(domsg_counting_crossings(&srv, &m, &crossings), ERR_TEST);
	KT_EXPECT_EQ(crossings, expected);
	KT_EXPECT_EQ(m.value, 1);
	KT_EXPECT_EQ(m.seen_cpu, cpu < 0 ? mycpuid : cpu);
	KT_EXPECT_TRUE(lwkt_checkmsg(&m.base));
	tmsg_init(&m, &rp, OP_ECHO);
	KT_EXPECT_EQ(domsg_counting_crossings(&srv, &m, &crossings), 0);
	KT_EXPECT_EQ(crossings, expected);
	msgserver_stop(&srv);
	lwkt_destroyport(&rp);
}

KTEST(msgport, domsg_to_thread_on_same_cpu_returns_its_error)
{
	check_domsg_roundtrip(-1);
}

KTEST(msgport, domsg_to_thread_on_another_cpu_returns_its_error)
{
	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	check_domsg_roundtrip(pick_other_cpu());
}

/*
 * A domsg to a server on this CPU hands the CPU straight to the server
 * (lwkt_handoff) only when the server is what the scheduler would run
 * next anyway: a better thread that is runnable runs first.  Here thread
 * "better" (priority above both) is made runnable, but not yet run, just
 * before the domsg; the server must find that it has run.  A second
 * domsg, with nothing else runnable, takes the short way, and still gets
 * its answer.
 */
static volatile int better_ran, better_seen;

static int note_better_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	better_seen = better_ran;
	return 0;
}

static void better_thread(void *arg)
{
	better_ran = 1;
}

KTEST(msgport, same_cpu_domsg_lets_a_better_runnable_thread_run_first)
{
	struct msg_server srv;
	struct lwkt_port rp;
	struct thread *better;
	struct tmsg m;

	KT_ASSERT_EQ(msgserver_start(&srv, "note", -1, note_better_dispatch,
				     NULL), 0);
	lwkt_initport_thread(&rp, curthread);
	tmsg_init(&m, &rp, OP_ECHO);
	KT_ASSERT_EQ(lwkt_domsg(&srv.ms_port, &m.base, 0), 0); /* it waits */
	better_ran = better_seen = 0;
	KT_ASSERT_EQ(lwkt_create(better_thread, NULL, &better, TDF_NOSTART, -1,
				 "better"), 0);
	lwkt_setpri(better, curthread->td_pri + 2);
	lwkt_schedule(better);		/* runnable; no preemption */
	KT_EXPECT_EQ(better_ran, 0);
	KT_EXPECT_EQ(lwkt_domsg(&srv.ms_port, &m.base, 0), 0);
	KT_EXPECT_EQ(better_seen, 1);
	KT_EXPECT_EQ(lwkt_domsg(&srv.ms_port, &m.base, 0), 0);
	lwkt_thread_join(better);
	msgserver_stop(&srv);
	lwkt_destroyport(&rp);
}

/*
 * A domsg to a server that waits for any message on this CPU is handed
 * over without being queued (thread_port_hand) -- but not past a message
 * already queued for it: the server was woken for that one, which is
 * older, and serves it first.  Here the server waits (TAKES), message a
 * is queued by sendmsg (the server is woken, not yet run: no
 * preemption), then b is sent by domsg; the server must see a, then b.
 * Then the server waits again, and c is handed over: it must know its
 * target port and come back DONE with the server's answer.
 */
static int order_seen[3], order_n, order_bad_target;

static int note_order_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct tmsg *m = (struct tmsg *)msg;

	if (order_n < 3)
		order_seen[order_n++] = m->seq;
	if (msg->ms_target_port != &srv->ms_port)
		order_bad_target++;
	m->value++;
	return m->seq == 3 ? ERR_TEST : 0;
}

KTEST(msgport, a_domsg_is_handed_to_a_waiting_server_but_never_past_a_queued_message)
{
	struct msg_server srv;
	struct lwkt_port rp;
	struct tmsg a, b, c;

	KT_ASSERT_EQ(msgserver_start(&srv, "order", -1, note_order_dispatch,
				     NULL), 0);
	rport_init(&rp);
	tmsg_init(&a, &rp, OP_ECHO);
	KT_ASSERT_EQ(lwkt_domsg(&srv.ms_port, &a.base, 0), 0); /* it waits */
	KT_EXPECT_TRUE(srv.ms_port.mp_flags & MSGPORTF_TAKES);
	order_n = order_bad_target = 0;
	tmsg_init(&a, &rp, OP_ECHO);
	a.seq = 1;
	tmsg_init(&b, &rp, OP_ECHO);
	b.seq = 2;
	lwkt_sendmsg(&srv.ms_port, &a.base);	/* queued, the server woken */
	KT_EXPECT_EQ(srv.ms_port.mp_flags & MSGPORTF_TAKES, 0);
	KT_EXPECT_EQ(lwkt_domsg(&srv.ms_port, &b.base, 0), 0);
	KT_EXPECT_EQ(lwkt_waitmsg(&a.base, 0), 0);
	KT_EXPECT_EQ(order_n, 2);
	KT_EXPECT_EQ(order_seen[0], 1);
	KT_EXPECT_EQ(order_seen[1], 2);
	KT_EXPECT_TRUE(srv.ms_port.mp_flags & MSGPORTF_TAKES);
	tmsg_init(&c, &rp, OP_ECHO);
	c.seq = 3;
	KT_EXPECT_EQ(lwkt_domsg(&srv.ms_port, &c.base, 0), ERR_TEST);
	KT_EXPECT_EQ(order_n, 3);
	KT_EXPECT_EQ(order_seen[2], 3);
	KT_EXPECT_EQ(c.value, 1);
	KT_EXPECT_EQ(c.base.ms_flags & (MSGF_DONE | MSGF_REPLY | MSGF_QUEUED),
		     MSGF_DONE | MSGF_REPLY);
	KT_EXPECT_TRUE(c.base.ms_target_port == &srv.ms_port);
	KT_EXPECT_EQ(order_bad_target, 0);
	msgserver_stop(&srv);
	lwkt_destroyport(&rp);
}

/*
 * A SYNC reply only marks the message DONE and wakes its waiter: it is
 * never queued on the reply port.  (Looking at the port after lwkt_domsg
 * returns proves nothing, since lwkt_waitmsg takes a queued reply off
 * before it returns.)  So the replier looks: the server replies inside
 * its dispatch and looks at the reply port at once.  On the same CPU the
 * waiter cannot run before the server blocks, so the port is exactly as
 * the reply left it.  The same look at an asynchronous reply sees it
 * queued, which shows the look can see one.
 */
static lwkt_port_t look_rport;
static int look_done, look_queued;

static int reply_and_look_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	lwkt_replymsg(msg, 0);
	look_done = (msg->ms_flags & MSGF_DONE) != 0;
	look_queued = (msg->ms_flags & MSGF_QUEUED) != 0 ||
		      !TAILQ_EMPTY(&look_rport->mp_msgq);
	return EASYNC;
}

KTEST(msgport, sync_reply_is_never_queued_on_the_reply_port)
{
	struct msg_server srv;
	struct lwkt_port rp;
	struct tmsg m;

	KT_ASSERT_EQ(msgserver_start(&srv, "look", -1, reply_and_look_dispatch,
				     NULL), 0);
	rport_init(&rp);
	look_rport = &rp;
	tmsg_init(&m, &rp, OP_ECHO);
	look_done = look_queued = -1;
	KT_EXPECT_EQ(lwkt_domsg(&srv.ms_port, &m.base, 0), 0);
	KT_EXPECT_EQ(look_done, 1);
	KT_EXPECT_EQ(look_queued, 0);
	tmsg_init(&m, &rp, OP_ECHO);		/* asynchronously: queued */
	look_done = look_queued = -1;
	lwkt_sendmsg(&srv.ms_port, &m.base);
	KT_EXPECT_EQ(lwkt_waitmsg(&m.base, 0), 0);
	KT_EXPECT_EQ(look_done, 1);
	KT_EXPECT_EQ(look_queued, 1);
	msgserver_stop(&srv);
	lwkt_destroyport(&rp);
}

/*
 * The same across CPUs, seen on the waiter's CPU: a watcher thread there
 * spins until the message is DONE and then looks at the reply port.  It
 * never yields, so the waiter -- made runnable by the reply, behind the
 * watcher -- cannot take anything off the port before the look.  The
 * server replies only once the watcher is watching.
 */
static lwkt_msg_t watch_msg;
static volatile bool watch_ready;
static int watch_queued;

static void reply_watcher(void *arg)
{
	lwkt_port_t rp = arg;

	while (watch_msg->ms_flags & MSGF_DONE)	/* not sent yet */
		tsleep(&watch_ready, 0, "unsent", 1);
	watch_ready = true;
	while ((watch_msg->ms_flags & MSGF_DONE) == 0)
		cpu_pause();
	watch_queued = (watch_msg->ms_flags & MSGF_QUEUED) != 0 ||
		       !TAILQ_EMPTY(&rp->mp_msgq);
}

static int reply_when_watched_dispatch(struct msg_server *srv,
				       lwkt_msg_t msg)
{
	while (!watch_ready)
		tsleep(&watch_ready, 0, "watched", 1);
	return 0;
}

/* Send (sync or not) to srv with the watcher on this CPU: what it saw. */
static int watch_one_reply(struct msg_server *srv, lwkt_port_t rp, bool sync)
{
	struct thread *td;
	struct tmsg m;

	tmsg_init(&m, rp, OP_ECHO);
	watch_msg = &m.base;
	watch_ready = false;
	watch_queued = -1;
	KASSERT(lwkt_create(reply_watcher, rp, &td, 0, -1, "watcher") == 0,
		"no memory for the watcher");
	if (sync) {
		KT_EXPECT_EQ(lwkt_domsg(&srv->ms_port, &m.base, 0), 0);
	} else {
		lwkt_sendmsg(&srv->ms_port, &m.base);
		KT_EXPECT_EQ(lwkt_waitmsg(&m.base, 0), 0);
	}
	lwkt_thread_join(td);
	return watch_queued;
}

KTEST(msgport, sync_reply_from_another_cpu_is_never_queued)
{
	struct msg_server srv;
	struct lwkt_port rp;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	KT_ASSERT_EQ(msgserver_start(&srv, "watched", pick_other_cpu(),
				     reply_when_watched_dispatch, NULL), 0);
	rport_init(&rp);
	KT_EXPECT_EQ(watch_one_reply(&srv, &rp, true), 0);
	KT_EXPECT_EQ(watch_one_reply(&srv, &rp, false), 1);
	msgserver_stop(&srv);
	lwkt_destroyport(&rp);
}

/* ---- asynchronous requests ---------------------------------------------- */

static void check_async_order(int cpu, int n)
{
	struct msg_server srv;
	struct lwkt_port rp;
	struct tmsg m[32];

	KT_ASSERT_EQ(msgserver_start(&srv, "echo", cpu, echo_dispatch, NULL),
		     0);
	rport_init(&rp);
	for (int i = 0; i < n; i++) {
		tmsg_init(&m[i], &rp, OP_ECHO);
		m[i].seq = i;
		lwkt_sendmsg(&srv.ms_port, &m[i].base);
	}
	for (int i = 0; i < n; i++) {
		lwkt_msg_t got = lwkt_waitport(&rp, 0, 0, NULL);

		KT_EXPECT_TRUE(got == &m[i].base);
		KT_EXPECT_EQ(got->ms_flags & (MSGF_DONE | MSGF_REPLY),
			     MSGF_DONE | MSGF_REPLY);
	}
	KT_EXPECT_EQ(srv.ms_served, n);
	msgserver_stop(&srv);
	lwkt_destroyport(&rp);
}

KTEST(msgport, async_replies_land_on_reply_port_in_order)
{
	check_async_order(-1, 32);
}

KTEST(msgport, fifo_per_sender_across_cpus)
{
	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	check_async_order(pick_other_cpu(), 32);
}

/* ---- replies --------------------------------------------------------------- */

KTEST(msgport, second_reply_panics)
{
	struct lwkt_port rp;
	struct panic_catch pc;
	struct tmsg m;

	rport_init(&rp);
	tmsg_init(&m, &rp, OP_ECHO);
	lwkt_sendmsg(&rp, &m.base);
	KT_EXPECT_TRUE(lwkt_getport(&rp) == &m.base);
	lwkt_replymsg(&m.base, 0);
	KT_CATCH_PANIC(&pc, lwkt_replymsg(&m.base, 0));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "replied twice");
	KT_EXPECT_TRUE(lwkt_getport(&rp) == &m.base);
	lwkt_destroyport(&rp);
}

KTEST(msgport, reply_of_a_still_queued_message_panics)
{
	struct lwkt_port rp;
	struct panic_catch pc;
	struct tmsg m;

	rport_init(&rp);
	tmsg_init(&m, &rp, OP_ECHO);
	lwkt_sendmsg(&rp, &m.base);
	KT_CATCH_PANIC(&pc, lwkt_replymsg(&m.base, 0));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "still queued");
	lwkt_getport(&rp);
	lwkt_replymsg(&m.base, 0);
	lwkt_getport(&rp);
	lwkt_destroyport(&rp);
}

/* Forward: the first server passes every message on to a second. */
static struct msg_server *forward_to;

static int forwarding_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	lwkt_forwardmsg(&forward_to->ms_port, msg);
	return EASYNC;
}

KTEST(msgport, forward_moves_the_message_and_the_last_server_replies_once)
{
	struct msg_server first, second;
	struct lwkt_port rp;
	struct tmsg m;

	KT_ASSERT_EQ(msgserver_start(&second, "second", -1, echo_dispatch,
				     NULL), 0);
	forward_to = &second;
	KT_ASSERT_EQ(msgserver_start(&first, "first", ncpus > 1 ?
				     pick_other_cpu() : -1,
				     forwarding_dispatch, NULL), 0);
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_FAIL);
	KT_EXPECT_EQ(lwkt_domsg(&first.ms_port, &m.base, 0), ERR_TEST);
	KT_EXPECT_TRUE(m.base.ms_target_port == &second.ms_port);
	KT_EXPECT_TRUE(m.base.ms_reply_port == &rp);
	KT_EXPECT_EQ(m.value, 1);		/* served once, by second */
	KT_EXPECT_EQ(first.ms_served, 1);
	KT_EXPECT_EQ(second.ms_served, 1);
	msgserver_stop(&first);
	msgserver_stop(&second);
	lwkt_destroyport(&rp);
}

/* Only a message taken off a port and not yet replied can be forwarded:
 * not one still queued, not an idle one, not one already replied. */
KTEST(msgport, forwarding_a_queued_idle_or_replied_message_panics)
{
	struct lwkt_port port, rp;
	struct panic_catch pc;
	struct tmsg m;

	lwkt_initport_thread(&port, curthread);
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_ECHO);
	KT_CATCH_PANIC(&pc, lwkt_forwardmsg(&port, &m.base));	/* idle */
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "not being served");
	lwkt_sendmsg(&port, &m.base);
	KT_CATCH_PANIC(&pc, lwkt_forwardmsg(&port, &m.base));	/* queued */
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "not being served");
	KT_ASSERT_TRUE(lwkt_getport(&port) == &m.base);
	lwkt_replymsg(&m.base, 0);
	KT_CATCH_PANIC(&pc, lwkt_forwardmsg(&port, &m.base));	/* replied */
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "not being served");
	KT_EXPECT_TRUE(lwkt_getport(&port) == NULL);
	KT_EXPECT_TRUE(lwkt_getport(&rp) == &m.base);
	lwkt_destroyport(&rp);
	lwkt_destroyport(&port);
}

/* ---- special ports ---------------------------------------------------------- */

KTEST(msgport, reply_only_port_rejects_a_send)
{
	struct lwkt_port ro, rp;
	struct panic_catch pc;
	struct tmsg m;

	lwkt_initport_replyonly_null(&ro);
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_ECHO);
	KT_CATCH_PANIC(&pc, lwkt_sendmsg(&ro, &m.base));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "illegal on reply-only port");
	/* The panic left the message half-sent; finish its bookkeeping. */
	m.base.ms_flags = 0;
	lwkt_replymsg(&m.base, 0);
	lwkt_getport(&rp);
	lwkt_destroyport(&rp);
	lwkt_destroyport(&ro);
}

KTEST(msgport, reply_only_null_port_just_marks_done)
{
	struct lwkt_port ro, port;
	struct tmsg m;

	lwkt_initport_replyonly_null(&ro);
	lwkt_initport_thread(&port, curthread);
	tmsg_init(&m, &ro, OP_ECHO);
	lwkt_sendmsg(&port, &m.base);
	KT_EXPECT_FALSE(lwkt_checkmsg(&m.base));
	lwkt_getport(&port);
	lwkt_replymsg(&m.base, 5);
	KT_EXPECT_TRUE(lwkt_checkmsg(&m.base));
	KT_EXPECT_EQ(m.base.ms_flags & (MSGF_DONE | MSGF_REPLY | MSGF_QUEUED),
		     MSGF_DONE | MSGF_REPLY);
	KT_EXPECT_EQ(m.base.ms_error, 5);
	KT_EXPECT_TRUE(lwkt_getport(&port) == NULL);
	lwkt_destroyport(&port);
	lwkt_destroyport(&ro);
}

static int replyfn_calls;

static void count_reply(lwkt_port_t port, lwkt_msg_t msg)
{
	replyfn_calls++;
}

KTEST(msgport, reply_only_port_with_function_calls_it_once)
{
	struct lwkt_port ro, port;
	struct tmsg m;

	replyfn_calls = 0;
	lwkt_initport_replyonly(&ro, count_reply);
	lwkt_initport_thread(&port, curthread);
	tmsg_init(&m, &ro, OP_ECHO);
	lwkt_sendmsg(&port, &m.base);
	lwkt_getport(&port);
	lwkt_replymsg(&m.base, 0);
	KT_EXPECT_EQ(replyfn_calls, 1);
	KT_EXPECT_TRUE(lwkt_checkmsg(&m.base));
	lwkt_destroyport(&port);
	lwkt_destroyport(&ro);
}

KTEST(msgport, replying_to_a_panic_port_panics)
{
	struct lwkt_port pp, port;
	struct panic_catch pc;
	struct tmsg m;

	lwkt_initport_panic(&pp);
	lwkt_initport_thread(&port, curthread);
	tmsg_init(&m, &pp, OP_ECHO);
	lwkt_sendmsg(&port, &m.base);
	lwkt_getport(&port);
	KT_CATCH_PANIC(&pc, lwkt_replymsg(&m.base, 0));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "lwkt_replymsg() is illegal");
	lwkt_destroyport(&port);
	lwkt_destroyport(&pp);
}

/* ---- waiting with a timeout --------------------------------------------- */

KTEST(msgport, waitport_times_out_with_ewouldblock)
{
	struct lwkt_port port;
	int error = -1;

	lwkt_initport_thread(&port, curthread);
	KT_EXPECT_TRUE(lwkt_waitport(&port, 0, 2, &error) == NULL);
	KT_EXPECT_EQ(error, EWOULDBLOCK);
	lwkt_destroyport(&port);
}

KTEST(msgport, spin_port_waitport_times_out_with_ewouldblock)
{
	struct lwkt_port port;
	int error = -1;

	lwkt_initport_spin(&port, "spin");
	KT_EXPECT_TRUE(lwkt_waitport(&port, 0, 2, &error) == NULL);
	KT_EXPECT_EQ(error, EWOULDBLOCK);
	lwkt_destroyport(&port);
}

/* ---- spin ports: any thread may wait ------------------------------------- */

#define SPIN_WAITERS 4

static struct lwkt_port spin_port;
static volatile int spin_got[SPIN_WAITERS];
static volatile int spin_finished;

static void spin_waiter(void *arg)
{
	int id = (int)(long)arg;
	lwkt_msg_t msg = lwkt_waitport(&spin_port, 0, 0, NULL);

	spin_got[id] = ((struct tmsg *)msg)->seq;
	lwkt_replymsg(msg, 0);
	__atomic_fetch_add(&spin_finished, 1, __ATOMIC_SEQ_CST);
	wakeup(&spin_finished);
}

/* Four threads asleep on one spin port, four messages: each thread wakes
 * with a different one; none is lost or taken twice. */
KTEST(msgport, spin_port_gives_each_waiter_a_distinct_message)
{
	struct lwkt_port rp;
	struct tmsg m[SPIN_WAITERS];
	struct thread *td[SPIN_WAITERS];
	int seen = 0;

	lwkt_initport_spin(&spin_port, "spin");
	lwkt_initport_spin(&rp, "spin-reply");
	spin_finished = 0;
	for (int i = 0; i < SPIN_WAITERS; i++)
		KT_ASSERT_EQ(lwkt_create(spin_waiter, (void *)(long)i, &td[i], 0,
					 i % ncpus, "spinwait%d", i), 0);
	/* Every waiter asleep on the port before anything is sent, at any
	 * number of CPUs: each message must wake one of them. */
	while (tsleep_count_sleepers(&spin_port) < SPIN_WAITERS)
		tsleep(&spin_finished, 0, "waiters", 1);
	for (int i = 0; i < SPIN_WAITERS; i++) {
		lwkt_initmsg(&m[i].base, &rp, 0);
		m[i].seq = i;
		lwkt_sendmsg(&spin_port, &m[i].base);
	}
	for (int i = 0; i < SPIN_WAITERS; i++)
		lwkt_thread_join(td[i]);
	for (int i = 0; i < SPIN_WAITERS; i++) {
		seen |= 1 << spin_got[i];
		KT_EXPECT_EQ(lwkt_waitmsg(&m[i].base, 0), 0);
	}
	KT_EXPECT_EQ(seen, (1 << SPIN_WAITERS) - 1);	/* no duplicates */
	lwkt_destroyport(&rp);
	lwkt_destroyport(&spin_port);
}

/* ---- serializer ports ------------------------------------------------------ */

KTEST(msgport, serializer_port_used_without_the_serializer_panics)
{
	struct lwkt_serialize slz;
	struct lwkt_port port;
	struct panic_catch pc;

	lwkt_serialize_init(&slz);
	lwkt_initport_serialize(&port, &slz);
	KT_CATCH_PANIC(&pc, lwkt_getport(&port));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "without holding its serializer");
	lwkt_destroyport(&port);
}

static struct lwkt_serialize helper_slz;
static struct lwkt_port helper_port;
static volatile bool helper_held_it_after;

/* A "driver helper": waits on the port holding the serializer, which the
 * wait lets go of, and serves one message with it held again. */
static void serializer_helper(void *arg)
{
	lwkt_msg_t msg;

	lwkt_serialize_enter(&helper_slz);
	msg = lwkt_waitport(&helper_port, 0, 0, NULL);	/* sleeps */
	helper_held_it_after = lwkt_serialize_held(&helper_slz);
	((struct tmsg *)msg)->value = 77;
	lwkt_replymsg(msg, 0);
	lwkt_serialize_exit(&helper_slz);
}

/*
 * The helper goes to sleep in waitport holding the serializer; while it
 * sleeps the "driver" (this thread) must be able to take the serializer
 * -- without waiting -- and send to it.  The helper wakes holding the
 * serializer again.
 */
KTEST(msgport, serializer_port_lets_driver_and_helper_take_turns)
{
	struct lwkt_port rp;
	struct thread *td;
	struct tmsg m;

	lwkt_serialize_init(&helper_slz);
	lwkt_initport_serialize(&helper_port, &helper_slz);
	lwkt_initport_spin(&rp, "slz-reply");
	helper_held_it_after = false;
	KT_ASSERT_EQ(lwkt_create(serializer_helper, NULL, &td, 0, -1,
				 "slzhelper"), 0);
	while (tsleep_count_sleepers(&helper_port) == 0)
		tsleep(&m, 0, "slzwait", 1);	/* until it sleeps */
	lwkt_initmsg(&m.base, &rp, 0);
	KT_ASSERT_TRUE(lwkt_serialize_try(&helper_slz));
	lwkt_sendmsg(&helper_port, &m.base);
	lwkt_serialize_exit(&helper_slz);
	KT_EXPECT_EQ(lwkt_waitmsg(&m.base, 0), 0);
	KT_EXPECT_EQ(m.value, 77);
	lwkt_thread_join(td);
	KT_EXPECT_TRUE(helper_held_it_after);
	lwkt_destroyport(&rp);
	lwkt_destroyport(&helper_port);
}

/* ---- abort ------------------------------------------------------------------ */
/*
 * The abortable server parks OP_HOLD messages (it does not reply) until an
 * abort request -- itself a message, sent by the abort function to the
 * same port -- makes it reply the parked message with EINTR.  As in
 * DragonFly, the abort handler re-tests DONE|REPLY on the server's side.
 */
struct abort_server {
	struct msg_server srv;
	lwkt_msg_t parked;
	bool defer_aborts;	/* abort requests leave the parked one be */
	int aborts_seen;	/* abort requests served */
	int aborts_idle;	/* ... that found nothing left to abort */
	int aborted_on_arrival;	/* messages taken off already ABORTED */
	int replies_sent;
};

struct abort_req {
	struct lwkt_msg base;
	lwkt_msg_t victim;
};

static struct abort_server asrv;
static struct lwkt_port abort_rport;

static int abortable_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct tmsg *m = (struct tmsg *)msg;

	if (msg->ms_flags & MSGF_USER0) {	/* an abort request */
		lwkt_msg_t victim = ((struct abort_req *)msg)->victim;

		asrv.aborts_seen++;
		if (!asrv.defer_aborts && victim == asrv.parked &&
		    (victim->ms_flags & (MSGF_DONE | MSGF_REPLY)) == 0) {
			asrv.parked = NULL;
			asrv.replies_sent++;
			lwkt_replymsg(victim, EINTR);
		} else {
			asrv.aborts_idle++;
		}
		return 0;
	}
	if (m->op == OP_RELEASE) {	/* reply the parked one: value */
		lwkt_msg_t victim = asrv.parked;

		asrv.parked = NULL;
		asrv.replies_sent++;
		lwkt_replymsg(victim, m->value);
		return 0;
	}
	if (msg->ms_flags & MSGF_ABORTED)
		asrv.aborted_on_arrival++;
	if (m->op == OP_HOLD && !(msg->ms_flags & MSGF_ABORTED)) {
		asrv.parked = msg;
		return EASYNC;
	}
	asrv.replies_sent++;
	return msg->ms_flags & MSGF_ABORTED ? EINTR : 0;
}

static void abort_by_message(lwkt_msg_t msg)
{
	struct abort_req req;
	struct lwkt_port rp;

	lwkt_initport_thread(&rp, curthread);
	lwkt_initmsg(&req.base, &rp, MSGF_USER0);
	req.victim = msg;
	lwkt_domsg(&asrv.srv.ms_port, &req.base, 0);
	lwkt_destroyport(&rp);
}

static void abort_server_start(int cpu)
{
	memset(&asrv, 0, sizeof(asrv));
	KASSERT(msgserver_start(&asrv.srv, "abortable", cpu,
				abortable_dispatch, NULL) == 0, "no server");
	rport_init(&abort_rport);
}

static void abort_server_stop(void)
{
	msgserver_stop(&asrv.srv);
	lwkt_destroyport(&abort_rport);
}

KTEST(msgport, abort_of_a_parked_message_replies_once_with_eintr)
{
	struct tmsg m;

	abort_server_start(-1);
	lwkt_initmsg_abortable(&m.base, &abort_rport, 0, abort_by_message);
	m.op = OP_HOLD;
	lwkt_sendmsg(&asrv.srv.ms_port, &m.base);
	lwkt_yield();
	while (asrv.parked == NULL)	/* let the server park it */
		tsleep(&m, 0, "park", 1);
	lwkt_abortmsg(&m.base);
	KT_EXPECT_EQ(lwkt_waitmsg(&m.base, 0), EINTR);
	KT_EXPECT_TRUE(m.base.ms_flags & MSGF_ABORTED);
	KT_EXPECT_EQ(asrv.replies_sent, 1);
	KT_EXPECT_EQ(asrv.aborts_seen, 1);
	KT_EXPECT_EQ(asrv.aborts_idle, 0);	/* it replied the parked one */
	KT_EXPECT_TRUE(lwkt_getport(&abort_rport) == NULL);
	abort_server_stop();
}

KTEST(msgport, abort_of_a_queued_message_is_seen_by_the_server)
{
	struct tmsg m;

	abort_server_start(-1);
	lwkt_initmsg_abortable(&m.base, &abort_rport, 0, abort_by_message);
	m.op = OP_HOLD;
	/* The server shares our CPU and we do not block between the send
	 * and the abort, so the message is still queued when the abort
	 * comes.  The server finds it ABORTED when it gets to it and replies
	 * EINTR; the abort request that follows finds it replied. */
	lwkt_sendmsg(&asrv.srv.ms_port, &m.base);
	KT_EXPECT_TRUE(m.base.ms_flags & MSGF_QUEUED);
	lwkt_abortmsg(&m.base);
	KT_EXPECT_TRUE(m.base.ms_flags & MSGF_ABORTED);
	KT_EXPECT_EQ(lwkt_waitmsg(&m.base, 0), EINTR);
	KT_EXPECT_EQ(asrv.replies_sent, 1);
	/* The server saw the flag when it took the message off, so it never
	 * parked it, and the abort request found nothing left to do. */
	KT_EXPECT_EQ(asrv.aborted_on_arrival, 1);
	KT_EXPECT_EQ(asrv.aborts_seen, 1);
	KT_EXPECT_EQ(asrv.aborts_idle, 1);
	abort_server_stop();
}

static int abortfn_calls;

static void count_abort(lwkt_msg_t msg)
{
	abortfn_calls++;
}

KTEST(msgport, abort_after_reply_and_of_unabortable_do_nothing)
{
	struct lwkt_port port;
	struct tmsg m;

	lwkt_initport_thread(&port, curthread);
	abortfn_calls = 0;
	lwkt_initmsg_abortable(&m.base, &port, 0, count_abort);
	lwkt_sendmsg(&port, &m.base);
	lwkt_getport(&port);
	lwkt_replymsg(&m.base, 0);
	lwkt_abortmsg(&m.base);			/* already replied */
	KT_EXPECT_EQ(abortfn_calls, 0);
	KT_EXPECT_FALSE(m.base.ms_flags & MSGF_ABORTED);
	lwkt_getport(&port);
	/* Not abortable; ms_abortfn still points at count_abort (initmsg
	 * leaves it), so only the ABORTABLE test keeps it from being called. */
	lwkt_initmsg(&m.base, &port, 0);
	lwkt_sendmsg(&port, &m.base);
	lwkt_abortmsg(&m.base);
	KT_EXPECT_EQ(abortfn_calls, 0);
	KT_EXPECT_FALSE(m.base.ms_flags & MSGF_ABORTED);
	lwkt_getport(&port);
	lwkt_replymsg(&m.base, 0);
	lwkt_getport(&port);
	lwkt_destroyport(&port);
}

/*
 * A reply still crossing to another CPU already counts: REPLY is set
 * before the message travels, so a second reply panics before the first
 * has even arrived, and lwkt_abortmsg leaves the message alone.  The reply
 * port's owner sits on a held CPU, so the first reply stays in flight
 * while we try.
 */
KTEST(msgport, second_reply_while_the_first_is_in_flight_panics)
{
	struct lwkt_port port, rp;
	struct panic_catch pc;
	struct cpu_hold hold;
	struct tmsg m;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	cpu_hold(&hold, pick_other_cpu());
	lwkt_initport_thread(&rp, hold.ch_td);	/* on the held CPU */
	hold.ch_port = &rp;
	hold.ch_drain = 1;			/* it takes the reply */
	lwkt_initport_thread(&port, curthread);
	abortfn_calls = 0;
	lwkt_initmsg_abortable(&m.base, &rp, 0, count_abort);
	lwkt_sendmsg(&port, &m.base);
	KT_ASSERT_TRUE(lwkt_getport(&port) == &m.base);
	lwkt_replymsg(&m.base, 0);
	KT_EXPECT_EQ(m.base.ms_flags & (MSGF_REPLY | MSGF_DONE), MSGF_REPLY);
	lwkt_abortmsg(&m.base);
	KT_EXPECT_EQ(abortfn_calls, 0);
	KT_CATCH_PANIC(&pc, lwkt_replymsg(&m.base, 0));
	KT_EXPECT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "replied twice");
	cpu_release(&hold);
	KT_EXPECT_TRUE(lwkt_checkmsg(&m.base));
	lwkt_destroyport(&port);
	lwkt_destroyport(&rp);
}

/* ---- interruptible waits: PCATCH and lwkt_signal ---------------------- */

/*
 * A waiter thread for the PCATCH tests: it waits on port (which it owns,
 * or a spin port) with the given flags and records what the wait gave.
 */
static struct {
	lwkt_port_t port;
	int flags;
	lwkt_msg_t got;
	int error;
	volatile bool done;
} sw;

static void signalled_waiter(void *arg)
{
	sw.got = lwkt_waitport(sw.port, sw.flags, 0, &sw.error);
	if (sw.got != NULL)
		lwkt_replymsg(sw.got, 0);
	sw.done = true;
}

/* Start the waiter on cpu (-1: this one), waiting on port (a thread port
 * it will own if owned is set), and return once it sleeps there. */
static struct thread *waiter_start(lwkt_port_t port, bool owned, int flags,
				   int cpu)
{
	struct thread *td;

	memset(&sw, 0, sizeof(sw));
	sw.port = port;
	sw.flags = flags;
	KASSERT(lwkt_create(signalled_waiter, NULL, &td, TDF_NOSTART, cpu,
			    "sigwaiter") == 0, "no memory for the waiter");
	if (owned)
		lwkt_initport_thread(port, td);
	lwkt_schedule(td);
	while (owned ? (port->mp_flags & MSGPORTF_WAITING) == 0
		     : tsleep_count_sleepers(port) == 0)
		tsleep(&sw, 0, "sigwait", 1);
	return td;
}

/* A signal ends a PCATCH waitport on a thread port: NULL and EINTR. */
static void check_waitport_signalled(int cpu)
{
	struct lwkt_port port;
	struct thread *td;

	td = waiter_start(&port, true, PCATCH, cpu);
	tsleep(&sw, 0, "sigwait", 2);
	KT_EXPECT_FALSE(sw.done);		/* it really waits */
	lwkt_signal(td);
	lwkt_thread_join(td);
	KT_EXPECT_TRUE(sw.got == NULL);
	KT_EXPECT_EQ(sw.error, EINTR);
	lwkt_destroyport(&port);
}

KTEST(msgport, a_signal_ends_a_pcatch_waitport_with_null_and_eintr)
{
	check_waitport_signalled(-1);
	if (ncpus > 1)
		check_waitport_signalled(pick_other_cpu());
}

/* Without PCATCH the signal is not seen: the wait goes on until a
 * message comes.  The same on a spin port, where a PCATCH waiter is
 * interrupted. */
KTEST(msgport, a_signal_does_not_end_a_wait_without_pcatch)
{
	struct lwkt_port port, rp;
	struct thread *td;
	struct tmsg m;

	td = waiter_start(&port, true, 0, -1);
	lwkt_signal(td);
	tsleep(&sw, 0, "sigwait", 2);
	KT_EXPECT_FALSE(sw.done);
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_ECHO);
	lwkt_sendmsg(&port, &m.base);
	KT_EXPECT_EQ(lwkt_waitmsg(&m.base, 0), 0);
	lwkt_thread_join(td);
	KT_EXPECT_TRUE(sw.got == &m.base);
	lwkt_destroyport(&rp);
	lwkt_destroyport(&port);
}

KTEST(msgport, a_signal_ends_a_pcatch_waitport_on_a_spin_port)
{
	struct lwkt_port port;
	struct thread *td;

	lwkt_initport_spin(&port, "sigspin");
	td = waiter_start(&port, false, PCATCH, ncpus > 1 ?
			  pick_other_cpu() : -1);
	lwkt_signal(td);
	lwkt_thread_join(td);
	KT_EXPECT_TRUE(sw.got == NULL);
	KT_EXPECT_EQ(sw.error, EINTR);
	lwkt_destroyport(&port);
}

/* A signal already pending ends a PCATCH wait before it sleeps, timed or
 * not; a wait without PCATCH, or after lwkt_signal_clear, does not end. */
KTEST(msgport, a_pending_signal_ends_a_pcatch_wait_at_once)
{
	struct lwkt_port port;
	uint64_t switches;
	int error = -1;

	lwkt_initport_thread(&port, curthread);
	lwkt_signal(curthread);
	KT_EXPECT_TRUE(lwkt_signal_pending());
	switches = mycpu->gd_cnt.v_swtch;
	KT_EXPECT_TRUE(lwkt_waitport(&port, PCATCH, 0, &error) == NULL);
	KT_EXPECT_EQ(error, EINTR);
	KT_EXPECT_TRUE(lwkt_waitport(&port, PCATCH, 100, &error) == NULL);
	KT_EXPECT_EQ(error, EINTR);
	KT_EXPECT_EQ(mycpu->gd_cnt.v_swtch, switches);	/* never slept */
	KT_EXPECT_TRUE(lwkt_waitport(&port, 0, 2, &error) == NULL);
	KT_EXPECT_EQ(error, EWOULDBLOCK);	/* not interrupted */
	lwkt_signal_clear();
	KT_EXPECT_FALSE(lwkt_signal_pending());
	KT_EXPECT_TRUE(lwkt_waitport(&port, PCATCH, 2, &error) == NULL);
	KT_EXPECT_EQ(error, EWOULDBLOCK);
	lwkt_destroyport(&port);
}

/*
 * A signal during a PCATCH waitmsg does not end the wait -- the message is
 * still out -- but aborts it, once, and the wait goes on for the real
 * reply.  The server here only notes abort requests (defer_aborts); the
 * waiter must still be waiting after the abort, must not abort again on
 * a second signal, and returns the error of the reply that finally
 * comes (OP_RELEASE).
 */
static struct {
	struct lwkt_port rp;
	int flags;
	int error;
	volatile bool done;
} mw;

static void msg_waiter(void *arg)
{
	struct tmsg m;

	lwkt_initmsg_abortable(&m.base, &mw.rp, 0, abort_by_message);
	m.op = OP_HOLD;
	mw.error = lwkt_domsg(&asrv.srv.ms_port, &m.base, mw.flags);
	mw.done = true;
}

/* Start msg_waiter on cpu; return once its message is parked and it
 * sleeps on its reply port. */
static struct thread *msg_waiter_start(int cpu, int flags)
{
	struct thread *td;

	memset(&mw, 0, sizeof(mw));
	mw.flags = flags;
	KASSERT(lwkt_create(msg_waiter, NULL, &td, TDF_NOSTART, cpu,
			    "msgwaiter") == 0, "no memory for the waiter");
	lwkt_initport_thread(&mw.rp, td);
	lwkt_schedule(td);
	while (asrv.parked == NULL || !(mw.rp.mp_flags & MSGPORTF_WAITING))
		tsleep(&mw, 0, "parked", 1);
	return td;
}

KTEST(msgport, a_signal_during_waitmsg_aborts_once_then_waits_for_the_reply)
{
	struct lwkt_port rp;
	struct thread *td;
	struct tmsg rel;

	abort_server_start(-1);
	asrv.defer_aborts = true;
	td = msg_waiter_start(ncpus > 1 ? pick_other_cpu() : -1, PCATCH);
	lwkt_signal(td);
	while (asrv.aborts_seen == 0)
		tsleep(&mw, 0, "abort", 1);
	tsleep(&mw, 0, "abort", 2);
	KT_EXPECT_FALSE(mw.done);		/* still waiting */
	lwkt_signal(td);			/* no second abort */
	tsleep(&mw, 0, "abort", 2);
	KT_EXPECT_FALSE(mw.done);
	KT_EXPECT_EQ(asrv.aborts_seen, 1);
	rport_init(&rp);
	tmsg_init(&rel, &rp, OP_RELEASE);
	rel.value = ERR_TEST;
	KT_EXPECT_EQ(lwkt_domsg(&asrv.srv.ms_port, &rel.base, 0), 0);
	lwkt_thread_join(td);
	KT_EXPECT_EQ(mw.error, ERR_TEST);	/* the real reply's */
	KT_EXPECT_EQ(asrv.aborts_seen, 1);
	lwkt_destroyport(&rp);
	lwkt_destroyport(&mw.rp);
	abort_server_stop();
}

/* With a server that honours the abort, a signalled domsg returns EINTR;
 * without PCATCH the same signal aborts nothing. */
KTEST(msgport, a_signalled_domsg_returns_the_aborted_reply)
{
	struct lwkt_port rp;
	struct thread *td;
	struct tmsg rel;

	abort_server_start(-1);
	td = msg_waiter_start(-1, PCATCH);
	lwkt_signal(td);
	lwkt_thread_join(td);
	KT_EXPECT_EQ(mw.error, EINTR);
	KT_EXPECT_EQ(asrv.aborts_seen, 1);
	KT_EXPECT_EQ(asrv.replies_sent, 1);
	lwkt_destroyport(&mw.rp);
	td = msg_waiter_start(-1, 0);		/* no PCATCH */
	lwkt_signal(td);
	tsleep(&mw, 0, "abort", 2);
	KT_EXPECT_FALSE(mw.done);
	KT_EXPECT_EQ(asrv.aborts_seen, 1);	/* no new abort */
	rport_init(&rp);
	tmsg_init(&rel, &rp, OP_RELEASE);
	KT_EXPECT_EQ(lwkt_domsg(&asrv.srv.ms_port, &rel.base, 0), 0);
	lwkt_thread_join(td);
	KT_EXPECT_EQ(mw.error, 0);
	lwkt_destroyport(&rp);
	lwkt_destroyport(&mw.rp);
	abort_server_stop();
}

/* The same through a spin reply port: tsleep(PCATCH) underneath. */
static struct lwkt_port spin_sig_rport;

static void spin_msg_waiter(void *arg)
{
	struct tmsg m;

	lwkt_initmsg_abortable(&m.base, &spin_sig_rport, 0, abort_by_message);
	m.op = OP_HOLD;
	lwkt_sendmsg(&asrv.srv.ms_port, &m.base);
	mw.error = lwkt_waitmsg(&m.base, PCATCH);
	mw.done = true;
}

KTEST(msgport, a_signal_during_waitmsg_on_a_spin_port_aborts_it)
{
	struct thread *td;

	abort_server_start(-1);
	memset(&mw, 0, sizeof(mw));
	lwkt_initport_spin(&spin_sig_rport, "sigspin-reply");
	KT_ASSERT_EQ(lwkt_create(spin_msg_waiter, NULL, &td, 0, ncpus > 1 ?
				 pick_other_cpu() : -1, "spinmsgwait"), 0);
	while (asrv.parked == NULL)
		tsleep(&mw, 0, "parked", 1);
	while (tsleep_count_sleepers(asrv.parked) == 0)
		tsleep(&mw, 0, "parked", 1);	/* asleep on its message */
	lwkt_signal(td);
	lwkt_thread_join(td);
	KT_EXPECT_EQ(mw.error, EINTR);
	KT_EXPECT_EQ(asrv.aborts_seen, 1);
	lwkt_destroyport(&spin_sig_rport);
	abort_server_stop();
}

/* ---- drop ------------------------------------------------------------------------ */

KTEST(msgport, drop_of_a_queued_message_makes_it_done_without_reply)
{
	struct lwkt_port port, rp;
	struct msgport_stats before, after;
	struct tmsg m;

	lwkt_initport_thread(&port, curthread);
	rport_init(&rp);
	lwkt_initmsg(&m.base, &rp, MSGF_DROPABLE);
	msgport_get_stats(&before);
	lwkt_sendmsg(&port, &m.base);
	KT_EXPECT_EQ(lwkt_dropmsg(&m.base), 0);
	KT_EXPECT_TRUE(lwkt_checkmsg(&m.base));
	KT_EXPECT_FALSE(m.base.ms_flags & MSGF_REPLY);
	KT_EXPECT_TRUE(lwkt_getport(&port) == NULL);
	KT_EXPECT_TRUE(lwkt_getport(&rp) == NULL);
	msgport_get_stats(&after);
	KT_EXPECT_EQ(after.dropped - before.dropped, 1);
	lwkt_destroyport(&rp);
	lwkt_destroyport(&port);
}

KTEST(msgport, drop_after_dequeue_is_enoent_and_wait_on_dropable_panics)
{
	struct lwkt_port port, rp;
	struct panic_catch pc;
	struct tmsg m;

	lwkt_initport_thread(&port, curthread);
	rport_init(&rp);
	lwkt_initmsg(&m.base, &rp, MSGF_DROPABLE);
	lwkt_sendmsg(&port, &m.base);
	lwkt_getport(&port);
	KT_EXPECT_EQ(lwkt_dropmsg(&m.base), ENOENT);
	KT_CATCH_PANIC(&pc, lwkt_waitmsg(&m.base, 0));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "DROPABLE");
	lwkt_replymsg(&m.base, 0);
	lwkt_getport(&rp);
	lwkt_destroyport(&rp);
	lwkt_destroyport(&port);
}

/* A dropmsg after the reply (the reply sits on the reply port) finds
 * nothing to take back, and leaves the reply where it is; so does one of
 * a message that was never put anywhere. */
KTEST(msgport, drop_after_reply_is_enoent_and_leaves_the_reply_queued)
{
	struct lwkt_port port, rp;
	struct tmsg m;

	lwkt_initport_thread(&port, curthread);
	rport_init(&rp);
	lwkt_initmsg(&m.base, &rp, MSGF_DROPABLE);
	m.base.ms_target_port = NULL;		/* never put */
	KT_EXPECT_EQ(lwkt_dropmsg(&m.base), ENOENT);
	lwkt_sendmsg(&port, &m.base);
	KT_ASSERT_TRUE(lwkt_getport(&port) == &m.base);
	lwkt_replymsg(&m.base, 0);
	KT_EXPECT_EQ(lwkt_dropmsg(&m.base), ENOENT);
	KT_EXPECT_EQ(m.base.ms_flags & (MSGF_DONE | MSGF_REPLY | MSGF_QUEUED),
		     MSGF_DONE | MSGF_REPLY | MSGF_QUEUED);
	KT_EXPECT_TRUE(lwkt_getport(&rp) == &m.base);
	KT_EXPECT_TRUE(lwkt_getport(&rp) == NULL);
	lwkt_destroyport(&rp);
	lwkt_destroyport(&port);
}

/* ---- leak checks: messages in flight and live ports ------------------- */

static uint64_t msgs_in_flight(void)
{
	struct msgport_stats st;

	msgport_get_stats(&st);
	return st.sent - st.replied - st.dropped;
}

static uint64_t live_ports(void)
{
	struct msgport_stats st;

	msgport_get_stats(&st);
	return st.ports;
}

KTEST_LEAKCHECK(msgport_inflight, "messages in flight", msgs_in_flight, NULL);
KTEST_LEAKCHECK(msgport_ports, "message ports", live_ports, NULL);

/* ---- interrupts as messages -------------------------------------------- */

#include <machine/apic.h>

#define INTRMSG_TEST_VECTOR	0xd8	/* free: see kern/intr.h's list */

static struct intr_msg tim;
static volatile uint64_t intr_events, intr_deliveries;
static volatile bool intr_hold;

static int intr_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	KASSERT(msg == &tim.im_msg, "the interrupt server got a stranger");
	while (intr_hold)
		tsleep(&intr_hold, 0, "hold", 1);
	intr_events += intrmsg_take(&tim);
	intr_deliveries++;
	return 0;
}

/* Wait (at most about a second) until intr_events reaches n. */
static void wait_for_events(uint64_t n)
{
	for (int i = 0; i < 100 && intr_events < n; i++)
		tsleep(&intr_events, 0, "ievents", 1);
}

static void intr_server_start(struct msg_server *srv)
{
	intr_events = intr_deliveries = 0;
	intr_hold = false;
	KASSERT(msgserver_start(srv, "intr-server", -1, intr_dispatch,
				NULL) == 0, "no server");
	KASSERT(intrmsg_bind(&tim, INTRMSG_TEST_VECTOR, mycpuid,
			     &srv->ms_port) == 0, "bind failed");
}

static void intr_server_stop(struct msg_server *srv)
{
	intrmsg_unbind(&tim);
	msgserver_stop(srv);
}

KTEST(msgport, each_interrupt_arrives_as_the_preallocated_message)
{
	struct msg_server srv;

	intr_server_start(&srv);
	for (uint64_t i = 1; i <= 10; i++) {
		lapic_send_self(INTRMSG_TEST_VECTOR);
		wait_for_events(i);
		KT_ASSERT_EQ(intr_events, i);
	}
	KT_EXPECT_EQ(intr_deliveries, 10);
	KT_EXPECT_EQ(tim.im_sends, 10);
	KT_EXPECT_EQ(tim.im_coalesced, 0);
	intr_server_stop(&srv);
}

KTEST(msgport, interrupts_while_the_message_is_out_are_counted_not_lost)
{
	struct msg_server srv;

	intr_server_start(&srv);
	intr_hold = true;
	lapic_send_self(INTRMSG_TEST_VECTOR);
	for (int i = 0; i < 100 && lwkt_checkmsg(&tim.im_msg); i++)
		tsleep(&tim, 0, "out", 1);
	KT_ASSERT_FALSE(lwkt_checkmsg(&tim.im_msg));	/* it is out */
	for (int i = 0; i < 4; i++)
		lapic_send_self(INTRMSG_TEST_VECTOR);
	intr_hold = false;
	wait_for_events(5);
	KT_EXPECT_EQ(intr_events, 5);
	KT_EXPECT_EQ(tim.im_coalesced, 4);
	KT_EXPECT_LE(tim.im_sends, 2);		/* one, or one more after */
	KT_EXPECT_EQ(tim.im_sends, intr_deliveries);
	intr_server_stop(&srv);
}

/* ---- more behaviours: own port, chains, every CPU, refusals ----------- */

KTEST(msgport, domsg_to_ones_own_thread_port_panics_instead_of_hanging)
{
	struct lwkt_port port;
	struct panic_catch pc;
	struct tmsg m;

	lwkt_initport_thread(&port, curthread);
	tmsg_init(&m, &port, OP_ECHO);
	KT_CATCH_PANIC(&pc, lwkt_domsg(&port, &m.base, 0));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "wait for itself forever");
	lwkt_destroyport(&port);
}

/* A server whose dispatch domsgs a second request to its own port. */
static int self_domsg_depth;

static int self_calling_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct tmsg inner;
	struct lwkt_port rp;
	int error;

	if (((struct tmsg *)msg)->op != OP_FORWARD)
		return ++self_domsg_depth;	/* the inner request */
	lwkt_initport_thread(&rp, curthread);
	tmsg_init(&inner, &rp, OP_ECHO);
	error = lwkt_domsg(&srv->ms_port, &inner.base, 0);
	lwkt_destroyport(&rp);
	return error == 1 ? 0 : EINVAL;
}

KTEST(msgport, a_server_domsg_to_its_own_port_is_served_inline)
{
	struct msg_server srv;
	struct lwkt_port rp;
	struct tmsg m;

	self_domsg_depth = 0;
	KT_ASSERT_EQ(msgserver_start(&srv, "selfcall", -1,
				     self_calling_dispatch, NULL), 0);
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_FORWARD);
	KT_EXPECT_EQ(lwkt_domsg(&srv.ms_port, &m.base, 0), 0);
	KT_EXPECT_EQ(self_domsg_depth, 1);
	KT_EXPECT_EQ(srv.ms_served, 2);
	msgserver_stop(&srv);
	lwkt_destroyport(&rp);
}

/* A chain of servers, one per CPU: each records its CPU and forwards to
 * the next; the last replies.  One reply, every CPU visited in order. */
static struct msg_server chain_srv[MAXCPU];
static int chain_visits[MAXCPU];
static int chain_len;

static int chain_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct tmsg *m = (struct tmsg *)msg;
	int me = (int)(srv - chain_srv);

	chain_visits[m->value++] = mycpuid;
	if (me + 1 == chain_len)
		return 0;
	lwkt_forwardmsg(&chain_srv[me + 1].ms_port, msg);
	return EASYNC;
}

KTEST(msgport, forward_chain_visits_every_cpu_once_in_order)
{
	struct msgport_stats before, after;
	struct lwkt_port rp;
	struct tmsg m;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	chain_len = ncpus;
	for (int cpu = 0; cpu < ncpus; cpu++)
		KT_ASSERT_EQ(msgserver_start(&chain_srv[cpu], "chain", cpu,
					     chain_dispatch, NULL), 0);
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_ECHO);
	msgport_get_stats(&before);
	KT_EXPECT_EQ(lwkt_domsg(&chain_srv[0].ms_port, &m.base, 0), 0);
	msgport_get_stats(&after);
	KT_EXPECT_EQ(m.value, ncpus);
	for (int i = 0; i < ncpus; i++)
		KT_EXPECT_EQ(chain_visits[i], i);
	/* One send, one reply, and one crossing per hop between CPUs: to
	 * CPU 0 (unless we are on it), ncpus - 1 forwards, and the reply
	 * from the last CPU back to ours (unless we are on that one). */
	KT_EXPECT_EQ(after.sent - before.sent, 1);
	KT_EXPECT_EQ(after.replied - before.replied, 1);
	KT_EXPECT_EQ(after.remote - before.remote,
		     (uint64_t)(mycpuid != 0) + (uint64_t)ncpus - 1 +
			     (uint64_t)(mycpuid != ncpus - 1));
	for (int cpu = 0; cpu < ncpus; cpu++)
		msgserver_stop(&chain_srv[cpu]);
	lwkt_destroyport(&rp);
}

KTEST(msgport, domsg_to_a_server_on_every_cpu_returns_its_error)
{
	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	for (int cpu = 0; cpu < ncpus; cpu++)
		check_domsg_roundtrip(cpu);
}

KTEST(msgport, reply_only_port_refuses_get_and_waits_with_the_reason)
{
	struct lwkt_port ro;
	struct panic_catch pc;
	struct tmsg m;

	lwkt_initport_replyonly_null(&ro);
	KT_CATCH_PANIC(&pc, lwkt_getport(&ro));
	KT_EXPECT_SUBSTR(pc.msg, "lwkt_getport() illegal");
	KT_CATCH_PANIC(&pc, lwkt_waitport(&ro, 0, 0, NULL));
	KT_EXPECT_SUBSTR(pc.msg, "cannot be waited on");
	tmsg_init(&m, &ro, OP_ECHO);
	m.base.ms_flags = 0;			/* as if it were out */
	KT_CATCH_PANIC(&pc, lwkt_waitmsg(&m.base, 0));
	KT_EXPECT_SUBSTR(pc.msg, "lwkt_checkmsg");
	lwkt_destroyport(&ro);
}

/* A server that forwards a client's domsg back onto its own port once:
 * it must be queued and served again, not taken for a self-domsg. */
static int requeue_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct tmsg *m = (struct tmsg *)msg;

	if (m->value++ == 0) {
		lwkt_forwardmsg(&srv->ms_port, msg);
		return EASYNC;
	}
	return ERR_TEST;
}

KTEST(msgport, a_server_may_forward_a_clients_domsg_to_its_own_port)
{
	struct msg_server srv;
	struct lwkt_port rp;
	struct tmsg m;

	KT_ASSERT_EQ(msgserver_start(&srv, "requeue", -1, requeue_dispatch,
				     NULL), 0);
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_ECHO);
	KT_EXPECT_EQ(lwkt_domsg(&srv.ms_port, &m.base, 0), ERR_TEST);
	KT_EXPECT_EQ(m.value, 2);
	KT_EXPECT_EQ(srv.ms_served, 2);
	msgserver_stop(&srv);
	lwkt_destroyport(&rp);
}
