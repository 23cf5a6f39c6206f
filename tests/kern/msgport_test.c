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

/* A test message: the lwkt_msg first, then what the test needs. */
struct tmsg {
	struct lwkt_msg base;
	int op;
	int value;
	int seen_cpu;		/* the CPU the server ran on */
	int seq;
};

enum { OP_ECHO, OP_FAIL, OP_HOLD, OP_FORWARD, OP_CPU };

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
	lwkt_initmsg(&m.base, &rp, MSGF_PRIORITY);
	KT_EXPECT_EQ(m.base.ms_flags, MSGF_DONE | MSGF_PRIORITY);
	KT_EXPECT_TRUE(m.base.ms_reply_port == &rp);
	KT_EXPECT_EQ(m.base.ms_error, 1234);	/* untouched */
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
	struct tmsg m;

	lwkt_initport_thread(&port, curthread);
	tmsg_init(&m, &port, OP_ECHO);
	lwkt_sendmsg(&port, &m.base);
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

		KT_EXPECT_TRUE(got == &m[i].base);
		lwkt_replymsg(got, 0);
	}
	for (int i = 0; i < 16; i++)	/* the replies, also in order */
		KT_EXPECT_TRUE(lwkt_getport(&port) == &m[i].base);
	lwkt_destroyport(&port);
}

KTEST(msgport, priority_message_sent_last_comes_out_first)
{
	struct lwkt_port port;
	struct tmsg a, b, p;

	lwkt_initport_thread(&port, curthread);
	tmsg_init(&a, &port, OP_ECHO);
	tmsg_init(&b, &port, OP_ECHO);
	tmsg_init(&p, &port, OP_ECHO);
	p.base.ms_flags |= MSGF_PRIORITY;
	lwkt_sendmsg(&port, &a.base);
	lwkt_sendmsg(&port, &b.base);
	lwkt_sendmsg(&port, &p.base);
	KT_EXPECT_TRUE(lwkt_getport(&port) == &p.base);
	KT_EXPECT_TRUE(lwkt_getport(&port) == &a.base);
	KT_EXPECT_TRUE(lwkt_getport(&port) == &b.base);
	lwkt_replymsg(&a.base, 0);
	lwkt_replymsg(&b.base, 0);
	lwkt_replymsg(&p.base, 0);
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

static int dispatch_inline(lwkt_msg_t msg)
{
	struct tmsg *m = (struct tmsg *)msg;

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
	before = mycpu->gd_cnt.v_swtch;
	error = lwkt_domsg(&port, &m.base, 0);
	KT_EXPECT_EQ(mycpu->gd_cnt.v_swtch, before);
	KT_EXPECT_EQ(error, ERR_TEST);
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
	lwkt_destroyport(&rp);
	lwkt_destroyport(&port);
}

/* domsg to a server thread on cpu: reply, error, DONE again. */
static void check_domsg_roundtrip(int cpu)
{
	struct msg_server srv;
	struct lwkt_port rp;
	struct tmsg m;

	KT_ASSERT_EQ(msgserver_start(&srv, "echo", cpu, echo_dispatch, NULL),
		     0);
	rport_init(&rp);
	tmsg_init(&m, &rp, OP_FAIL);
	KT_EXPECT_EQ(lwkt_domsg(&srv.ms_port, &m.base, 0), ERR_TEST);
	KT_EXPECT_EQ(m.value, 1);
	KT_EXPECT_EQ(m.seen_cpu, cpu < 0 ? mycpuid : cpu);
	KT_EXPECT_TRUE(lwkt_checkmsg(&m.base));
	tmsg_init(&m, &rp, OP_ECHO);
	KT_EXPECT_EQ(lwkt_domsg(&srv.ms_port, &m.base, 0), 0);
	/* A SYNC reply wakes the waiter; it is never queued. */
	KT_EXPECT_TRUE(lwkt_getport(&rp) == NULL);
	msgserver_stop(&srv);
	lwkt_destroyport(&rp);
}

KTEST(msgport, domsg_to_thread_on_same_cpu_returns_its_error)
{
	check_domsg_roundtrip(-1);
}

KTEST(msgport, domsg_to_thread_on_another_cpu_returns_its_error)
{
	uint64_t remote_before;
	struct msgport_stats st;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	msgport_get_stats(&st);
	remote_before = st.remote;
	check_domsg_roundtrip(pick_other_cpu());
	msgport_get_stats(&st);
	KT_EXPECT_GE(st.remote - remote_before, 2);	/* put and reply */
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

KTEST(msgport, forwarding_a_queued_message_panics)
{
	struct lwkt_port rp;
	struct panic_catch pc;
	struct tmsg m;

	rport_init(&rp);
	tmsg_init(&m, &rp, OP_ECHO);
	lwkt_sendmsg(&rp, &m.base);
	KT_CATCH_PANIC(&pc, lwkt_forwardmsg(&rp, &m.base));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "not being served");
	lwkt_getport(&rp);
	lwkt_replymsg(&m.base, 0);
	lwkt_getport(&rp);
	lwkt_destroyport(&rp);
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

/* A "driver helper": serves one message under the serializer. */
static void serializer_helper(void *arg)
{
	lwkt_msg_t msg;

	lwkt_serialize_enter(&helper_slz);
	msg = lwkt_waitport(&helper_port, 0, 0, NULL);	/* lets slz go */
	KASSERT(lwkt_serialize_held(&helper_slz), "waitport gave it back");
	((struct tmsg *)msg)->value = 77;
	lwkt_replymsg(msg, 0);
	lwkt_serialize_exit(&helper_slz);
}

KTEST(msgport, serializer_port_lets_driver_and_helper_take_turns)
{
	struct lwkt_port rp;
	struct thread *td;
	struct tmsg m;

	lwkt_serialize_init(&helper_slz);
	lwkt_initport_serialize(&helper_port, &helper_slz);
	lwkt_initport_spin(&rp, "slz-reply");
	KT_ASSERT_EQ(lwkt_create(serializer_helper, NULL, &td, 0, -1,
				 "slzhelper"), 0);
	lwkt_initmsg(&m.base, &rp, 0);
	lwkt_serialize_enter(&helper_slz);
	lwkt_sendmsg(&helper_port, &m.base);
	lwkt_serialize_exit(&helper_slz);
	KT_EXPECT_EQ(lwkt_waitmsg(&m.base, 0), 0);
	KT_EXPECT_EQ(m.value, 77);
	lwkt_thread_join(td);
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
	int aborts_seen;
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
		if (victim == asrv.parked && (victim->ms_flags &
					      (MSGF_DONE | MSGF_REPLY)) == 0) {
			asrv.parked = NULL;
			asrv.replies_sent++;
			lwkt_replymsg(victim, EINTR);
		}
		return 0;
	}
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
	KT_EXPECT_EQ(lwkt_waitmsg(&m.base, 0), EINTR);
	KT_EXPECT_EQ(asrv.replies_sent, 1);
	KT_EXPECT_EQ(asrv.aborts_seen, 1);
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
	lwkt_initmsg(&m.base, &port, 0);	/* not abortable */
	lwkt_sendmsg(&port, &m.base);
	lwkt_abortmsg(&m.base);
	KT_EXPECT_FALSE(m.base.ms_flags & MSGF_ABORTED);
	lwkt_getport(&port);
	lwkt_replymsg(&m.base, 0);
	lwkt_getport(&port);
	lwkt_destroyport(&port);
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
	KT_EXPECT_EQ(lwkt_domsg(&chain_srv[0].ms_port, &m.base, 0), 0);
	KT_EXPECT_EQ(m.value, ncpus);
	for (int i = 0; i < ncpus; i++)
		KT_EXPECT_EQ(chain_visits[i], i);
	KT_EXPECT_TRUE(lwkt_getport(&rp) == NULL);	/* one reply, SYNC */
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
