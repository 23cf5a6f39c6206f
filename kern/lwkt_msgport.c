/*
 * lwkt_msgport.c - message ports, the kernel's IPC core.
 *
 * A message is owned by exactly one party at a time: the sender until it is
 * sent, the target port (and then the thread serving it) until it is
 * replied, the reply port after that.  MSGF_DONE says the sender owns it
 * again.  Only the owner touches a message, so a message needs no lock; the
 * ports that hold messages are protected by whatever their kind says.
 *
 * The life of a message (docs/msgport.md draws it):
 *
 *   initmsg: DONE
 *     | sendmsg / domsg: clear DONE (domsg also sets SYNC)
 *     v
 *   put to the target port -- the port may finish it at once ("synchronous
 *     |                       completion"): domsg returns the error, sendmsg
 *     |                       turns it into an ordinary reply
 *     v
 *   QUEUED on the target port  (INTRANSIT first, if it crossed CPUs)
 *     | getport / waitport by the server: clear QUEUED
 *     v
 *   being served  --forwardmsg--> QUEUED on another port (same reply port)
 *     | replymsg(error): REPLY, then on the sender's CPU DONE
 *     v
 *   SYNC: DONE|REPLY, the waiter is woken, nothing is queued
 *   async: DONE|REPLY|QUEUED on the reply port until the sender takes it
 *
 * Port kinds are tables of operations (struct lwkt_portops).  The API
 * functions check the message's state, then call the port's operation:
 *
 *   thread port      one owner thread; a put or reply from another CPU
 *                    goes to the owner's CPU by IPIQ, so the queue is only
 *                    ever touched on that CPU, in a critical section
 *   spin port        a spinlock around the queue; many waiters, who sleep
 *                    with tsleep and are woken with wakeup
 *   serializer port  the same, under a serializer the caller holds
 *   dispatch port    no queue: a put calls the handler in the sender
 *   reply-only port  replies only: set DONE (or call a function)
 *   panic port       every operation is a mistake, and says which
 *
 * Flags change with atomic operations (the owner of the message and a
 * remote replier may both touch ms_flags); everything else about a message
 * is written only by its owner.
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/intr.h>
#include <kern/ipiq.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/msgport.h>
#include <kern/panic.h>
#include <kern/serialize.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/timeout.h>

/* ---- small helpers ------------------------------------------------------ */

/*
 * Flags are changed atomically: while a message is out, its sender may set
 * ABORTED (lwkt_abortmsg) at the same moment the server's CPU sets QUEUED
 * or REPLY, and neither bit may be lost.  A locked OR/AND is one
 * instruction; nothing cheaper would be correct.
 */
static inline void msg_set_flags(lwkt_msg_t msg, uint32_t f)
{
	__atomic_fetch_or(&msg->ms_flags, f, __ATOMIC_SEQ_CST);
}

static inline void msg_clear_flags(lwkt_msg_t msg, uint32_t f)
{
	__atomic_fetch_and(&msg->ms_flags, ~f, __ATOMIC_SEQ_CST);
}

/*
 * Count one event in this CPU's counters (struct globaldata, gd_cnt).  One
 * %gs-relative increment: it cannot be split by a preemption or a
 * migration, so no critical section is needed, and no other CPU ever
 * writes the field.
 */
#define MSGSTAT_INC(field)                                                \
	__asm__ volatile("incq %%gs:%c0"                                  \
			 :                                                \
			 : "i"(__builtin_offsetof(struct globaldata,      \
						  gd_cnt.field))          \
			 : "memory", "cc")

/* Queue msg on port (QUEUED first, so a waiter never sees an unflagged
 * message on the queue).  A queued message also ends a thread port's
 * MSGPORTF_TAKES: its owner, once woken, takes from the queue, and a
 * message handed to it after this one would overtake it.  Caller holds
 * whatever protects the port. */
static inline void _lwkt_pushmsg(lwkt_port_t port, lwkt_msg_t msg)
{
	msg_set_flags(msg, MSGF_QUEUED);
	port->mp_flags &= ~MSGPORTF_TAKES;
	if (msg->ms_flags & MSGF_PRIORITY)
		TAILQ_INSERT_TAIL(&port->mp_msgq_prio, msg, ms_node);
	else
		TAILQ_INSERT_TAIL(&port->mp_msgq, msg, ms_node);
}

/* The message getport would return next, without taking it. */
static inline lwkt_msg_t _lwkt_pollmsg(lwkt_port_t port)
{
	lwkt_msg_t msg = TAILQ_FIRST(&port->mp_msgq_prio);

	return msg != NULL ? msg : TAILQ_FIRST(&port->mp_msgq);
}

/* Take msg off port's queue. */
static inline void _lwkt_pullmsg(lwkt_port_t port, lwkt_msg_t msg)
{
	if (msg->ms_flags & MSGF_PRIORITY)
		TAILQ_REMOVE(&port->mp_msgq_prio, msg, ms_node);
	else
		TAILQ_REMOVE(&port->mp_msgq, msg, ms_node);
	msg_clear_flags(msg, MSGF_QUEUED);
}

/* What every port kind starts from: empty queues, its operations, a name
 * for panics, and one more live port in the counters (lwkt_destroyport
 * takes it back, so the leak check can see a port nobody destroyed). */
static void port_init_common(lwkt_port_t port,
			     const struct lwkt_portops *ops, const char *name)
{
	memset(port, 0, sizeof(*port));
	port->mp_ops = ops;
	TAILQ_INIT(&port->mp_msgq);
	TAILQ_INIT(&port->mp_msgq_prio);
	port->mp_name = name;
	MSGSTAT_INC(msg_ports);
}

/* ---- the API: check the message's state, then ask the port ---------- */

/* DragonFly's rule, kept: initmsg touches only the flags and the reply
 * port, so a caller may fill its own fields before or after. */
void lwkt_initmsg(lwkt_msg_t msg, lwkt_port_t rport, uint32_t flags)
{
	msg->ms_flags = MSGF_DONE | flags;
	msg->ms_reply_port = rport;
}

void lwkt_initmsg_abortable(lwkt_msg_t msg, lwkt_port_t rport,
			    uint32_t flags, void (*abortfn)(lwkt_msg_t))
{
	lwkt_initmsg(msg, rport, flags | MSGF_ABORTABLE);
	msg->ms_abortfn = abortfn;
}

/* Why a send was refused: out of line, so the fast path stays short. */
static void __noreturn sendable_panic(lwkt_msg_t msg, const char *who,
					     uint32_t forbidden)
{
	if (msg->ms_reply_port == NULL)
		panic("%s: message %p has no reply port; lwkt_initmsg must say "
		      "where the reply goes", who, msg);
	if (msg->ms_flags & forbidden & MSGF_DROPABLE)
		panic("%s: message %p is DROPABLE, and a dropped message is "
		      "never replied, so waiting for it could last forever",
		      who, msg);
	panic("%s: message %p is still in use (flags %#x): it was sent and "
	      "has not been replied yet; wait for the reply before sending "
	      "it again", who, msg, msg->ms_flags);
}

/* The checks every send makes: a reply port, and an idle message (and,
 * for a send that will wait, one that can be waited for). */
static inline uint32_t assert_sendable(lwkt_msg_t msg, const char *who,
				       uint32_t forbidden)
{
	uint32_t flags = msg->ms_flags;

	if (__predict_false(msg->ms_reply_port == NULL ||
			    (flags & (MSGF_DONE | MSGF_QUEUED | forbidden)) !=
				    MSGF_DONE))
		sendable_panic(msg, who, forbidden);
	return flags;
}

/*
 * Clearing DONE hands the message over; from the put on, the port owns it
 * and this thread must not touch it until it comes back.  A put that
 * completes the message at once (error != EASYNC) is turned into a normal
 * reply, so an asynchronous sender always finds its answer on the reply
 * port, whatever the port did.
 */
static __attribute__((noinline)) void sendmsg_put(lwkt_port_t port,
						  lwkt_msg_t msg)
{
	int error = port->mp_ops->po_putport(port, msg);

	if (error != EASYNC)
		lwkt_replymsg(msg, error);
}

static void thread_put_async(lwkt_port_t port, lwkt_msg_t msg, uint32_t f);

/* A thread port (MSGPORTF_THREAD) is put to directly, other kinds through
 * their table (sendmsg_put); both calls are the last thing done. */
void lwkt_sendmsg(lwkt_port_t port, lwkt_msg_t msg)
{
	uint32_t f;

	f = assert_sendable(msg, "lwkt_sendmsg", 0) &
	    ~(MSGF_REPLY | MSGF_SYNC | MSGF_DONE | MSGF_ABORTED);
	MSGSTAT_INC(msg_sent);
	if (port->mp_flags & MSGPORTF_THREAD) {
		thread_put_async(port, msg, f);
		return;
	}
	msg->ms_flags = f;
	sendmsg_put(port, msg);
}

/*
 * SYNC tells the reply path that this sender is waiting for this very
 * message, so the reply only marks it DONE and wakes the sender: it is
 * never queued on the reply port.  SYNC is set before the put because the
 * server may reply before lwkt_waitmsg is even reached; the waiter then
 * finds DONE set and does not sleep at all.  The message's flags are
 * set for the send already.
 */
static inline int domsg_put(lwkt_port_t port, lwkt_msg_t msg, int flags)
{
	int error;

	error = port->mp_ops->po_putport(port, msg);
	if (error == EASYNC) {
		/* Counted only now: a message completed in the put itself
		 * was never in flight.  (Its reply may be counted first, on
		 * another CPU; the sums agree once things are quiet.) */
		MSGSTAT_INC(msg_sent);
		return lwkt_waitmsg(msg, flags);
	}
	/* Completed in the put itself: no reply port, no switch. */
	msg_set_flags(msg, MSGF_DONE | MSGF_REPLY);
	return error;
}

static int thread_port_hand(lwkt_port_t port, lwkt_msg_t msg, int flags);

/* A thread port whose owner waits for any message takes the message
 * straight from the sender's hand (thread_port_hand).  The flag is only
 * a hint here; the hand tests it again where it is exact. */
int lwkt_domsg(lwkt_port_t port, lwkt_msg_t msg, int flags)
{
	msg->ms_flags = (assert_sendable(msg, "lwkt_domsg", MSGF_DROPABLE) &
			 ~(MSGF_REPLY | MSGF_DONE | MSGF_ABORTED)) | MSGF_SYNC;
	if (__predict_false(port->mp_flags & MSGPORTF_TAKES))
		return thread_port_hand(port, msg, flags);
	return domsg_put(port, msg, flags);
}

/* Forwarding changes only the target: the reply port and SYNC stay, so
 * whichever server finally replies, the reply goes to the first sender. */
void lwkt_forwardmsg(lwkt_port_t port, lwkt_msg_t msg)
{
	int error;

	KASSERT((msg->ms_flags & (MSGF_QUEUED | MSGF_DONE | MSGF_REPLY)) == 0,
		"lwkt_forwardmsg: message %p is not being served (flags %#x): "
		"only a message taken off a port and not yet replied can be "
		"forwarded", msg, msg->ms_flags);
	error = port->mp_ops->po_putport(port, msg);
	if (error != EASYNC)
		lwkt_replymsg(msg, error);
}

/*
 * The reply runs the *reply* port's operation, in the replier's thread:
 * a thread port queues it (or just marks a SYNC message DONE) on the
 * sender's CPU; a reply-only port marks it DONE; a panic port refuses.
 */
static inline void reply_begin(lwkt_msg_t msg, int error)
{
	KASSERT((msg->ms_flags & (MSGF_DONE | MSGF_REPLY | MSGF_QUEUED |
				  MSGF_INTRANSIT)) == 0,
		"lwkt_replymsg: message %p replied twice, or replied while "
		"still queued (flags %#x); every send gets exactly one reply, "
		"from the thread that took the message off its port",
		msg, msg->ms_flags);
	msg->ms_error = error;
	MSGSTAT_INC(msg_replied);
}

void lwkt_replymsg(lwkt_msg_t msg, int error)
{
	lwkt_port_t rport = msg->ms_reply_port;

	reply_begin(msg, error);
	rport->mp_ops->po_replyport(rport, msg);
}

/* Waiting is done by the reply port, whose kind knows how its owner
 * sleeps and is woken (and checks that flags is 0, PCATCH, or PCATCH
 * with PCATCH_RETURN). */
int lwkt_waitmsg(lwkt_msg_t msg, int flags)
{
	KASSERT((msg->ms_flags & MSGF_DROPABLE) == 0,
		"lwkt_waitmsg: message %p is DROPABLE and may never be "
		"replied; poll it with lwkt_checkmsg instead", msg);
	return msg->ms_reply_port->mp_ops->po_waitmsg(msg, flags);
}

/* getport and waitport are the server's side: straight to the port. */
lwkt_msg_t lwkt_getport(lwkt_port_t port)
{
	return port->mp_ops->po_getport(port);
}

lwkt_msg_t lwkt_waitport(lwkt_port_t port, int flags, int timo, int *errorp)
{
	KASSERT(timo >= 0, "lwkt_waitport: negative timeout %d", timo);
	return port->mp_ops->po_waitport(port, flags, timo, errorp);
}

/*
 * The test of DONE|REPLY and the call of the abort function run in one
 * critical section, so on this CPU nothing can slip between them; a reply
 * on another CPU can, which is why the server re-tests on its side (see
 * docs/msgport.md, "Abort").  The abort function may block.
 */
void lwkt_abortmsg(lwkt_msg_t msg)
{
	crit_enter();
	if ((msg->ms_flags & MSGF_ABORTABLE) &&
	    (msg->ms_flags & (MSGF_DONE | MSGF_REPLY)) == 0) {
		msg_set_flags(msg, MSGF_ABORTED);
		msg->ms_abortfn(msg);
	}
	crit_exit();
}

/* ms_target_port is where the message was last put; if it was never put
 * anywhere there is nothing to take back. */
int lwkt_dropmsg(lwkt_msg_t msg)
{
	lwkt_port_t port = msg->ms_target_port;

	KASSERT(msg->ms_flags & MSGF_DROPABLE,
		"lwkt_dropmsg: message %p was not sent DROPABLE", msg);
	if (port == NULL)
		return ENOENT;
	return port->mp_ops->po_dropmsg(port, msg);
}

/* Clearing mp_ops makes any later use of the port fault at once, with
 * the culprit on the stack, instead of corrupting a reused structure. */
void lwkt_destroyport(lwkt_port_t port)
{
	KASSERT(port->mp_ops != NULL, "lwkt_destroyport: port %p destroyed "
		"twice (or never initialised)", port);
	KASSERT(TAILQ_EMPTY(&port->mp_msgq) &&
		TAILQ_EMPTY(&port->mp_msgq_prio) && port->mp_handed == NULL,
		"lwkt_destroyport: port %p (%s) still holds messages; their "
		"senders would wait for replies that never come",
		port, port->mp_name ? port->mp_name : port->mp_ops->po_kind);
	port->mp_ops = NULL;
	MSGSTAT_INC(msg_ports_destroyed);
}

/* Sums per-CPU counters without stopping anything: exact once the
 * kernel is quiet (as around a test suite), approximate while busy. */
void msgport_get_stats(struct msgport_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < MAXCPU; i++) {
		const struct lwkt_counters *c = &globaldata_array[i].gd_cnt;

		st->sent += c->msg_sent;
		st->replied += c->msg_replied;
		st->dropped += c->msg_dropped;
		st->remote += c->msg_remote;
		st->chased += c->msg_chased;
		st->ports += c->msg_ports - c->msg_ports_destroyed;
	}
}

/* ---- thread ports ------------------------------------------------------ */
/*
 * Everything that changes a thread port's queue or flags runs on the
 * owner's CPU in a critical section.  A sender or replier on another CPU
 * marks the message INTRANSIT and sends it there by IPIQ; the IPIQ
 * callback queues it, or sends it on if the owner has migrated meanwhile.
 *
 * "The owner's CPU" is the owner's td_gd, read in a critical section.
 * When the owner migrates, its old CPU hands it over at the moment it has
 * switched it out (kern/lwkt_thread.c): from then on td_gd names the new
 * CPU, even before the owner runs there.  So a CPU that reads its own
 * name in td_gd holds the queue for as long as its critical section
 * lasts -- the owner is here, or on its way here and unable to run
 * anywhere until this CPU lets lwkt_setcpu_remote run -- and no two CPUs
 * can ever both believe the queue is theirs.  (Trusting a td_gd that is
 * set only on the new CPU, as DragonFly does, leaves a window: the old
 * CPU still reads its own name while the owner already runs elsewhere.)
 *
 * Blocking is the LWKT idiom: in a critical section, test the condition,
 * deschedule self, switch.  The waker (same CPU, or the IPIQ callback on
 * it) changes the condition and lwkt_schedule()s the owner.  Because both
 * run on the owner's CPU and the test and the sleep are one critical
 * section, no wakeup can fall between them.
 */

/* The thread-port rule: only the owner takes messages or waits. */
static void assert_owner(lwkt_port_t port, const char *who)
{
	KASSERT(port->mpu_td == curthread,
		"%s: thread %s is not the owner of thread port %p (owner %s); "
		"only its owner may take messages from or wait on a thread "
		"port", who, curthread->td_comm, port, port->mpu_td->td_comm);
}

/* The CPU whose critical section protects port's queue (see above).  The
 * acquire pairs with the old CPU's release when it hands the owner over,
 * so what that CPU did to the queue is seen here.  Critical section. */
static inline struct globaldata *owner_cpu(lwkt_port_t port)
{
	return __atomic_load_n(&port->mpu_td->td_gd, __ATOMIC_ACQUIRE);
}

/* On the owner's CPU: queue msg and wake the owner if it waits. */
static void thread_port_enqueue(lwkt_port_t port, lwkt_msg_t msg)
{
	_lwkt_pushmsg(port, msg);
	if (port->mp_flags & MSGPORTF_WAITING)
		lwkt_schedule(port->mpu_td);
}

static int thread_waitmsg(lwkt_msg_t msg, int flags);

/*
 * Will the sender of msg wait for it on this CPU at once, in
 * thread_waitmsg?  So it is for a SYNC message (only lwkt_domsg sets
 * SYNC, and it waits right after the put) whose reply port is a thread
 * port of the running thread.  Such a put leaves the waking of the
 * port's owner to that wait (thread_wait_wakes_target), which can then
 * hand the CPU straight to it.
 */
static inline bool thread_put_wait_follows(lwkt_msg_t msg)
{
	lwkt_port_t rport = msg->ms_reply_port;

	return (msg->ms_flags & MSGF_SYNC) &&
	       rport->mp_ops->po_waitmsg == thread_waitmsg &&
	       rport->mpu_td == curthread;
}

/* A local put: queue msg; wake the owner now, or leave it to the wait. */
static void thread_port_put_local(lwkt_port_t port, lwkt_msg_t msg)
{
	_lwkt_pushmsg(port, msg);
	if ((port->mp_flags & MSGPORTF_WAITING) &&
	    !thread_put_wait_follows(msg))
		lwkt_schedule(port->mpu_td);
}

static void thread_reply_local(lwkt_port_t port, lwkt_msg_t msg);

/*
 * Arrivals: a put or a reply sent from another CPU lands here, in an IPIQ
 * callback on the CPU that was the owner's when it was sent.  If the owner
 * has moved on since, the message follows it (a "chase"): one more IPIQ
 * message, to the CPU td_gd names now.
 *
 * A chase must keep the order in which messages arrived, or two messages
 * of one sender could swap.  The chase's send may find the ring to the
 * owner's new CPU full, and while it waits for room this CPU runs the
 * callbacks queued behind it (kern/lwkt_ipiq.c, "Nesting") -- the same
 * sender's next message among them, which would then be chased first.
 * So while one arrival is being handled on a CPU, arrivals that nest on
 * top of it only join that CPU's pa_later list, and the first one handles
 * them, in order, once its own send is done.
 */
struct port_arrivals {
	struct lwkt_msg_queue pa_later;	/* arrived while one was handled */
	bool pa_busy;			/* an arrival is being handled */
} __aligned(CACHE_LINE_SIZE);

static struct port_arrivals port_arrivals[MAXCPU];	/* own CPU, crit */

static void thread_port_arrive(void *arg);

/* Queue msg here if the owner's port is ours, else chase the owner.  A
 * reply (REPLY is set before it travels) goes to the reply port. */
static void thread_port_land(lwkt_msg_t msg)
{
	bool reply = (msg->ms_flags & MSGF_REPLY) != 0;
	lwkt_port_t port = reply ? msg->ms_reply_port : msg->ms_target_port;
	struct globaldata *gd = owner_cpu(port);

	if (gd != mycpu) {
		MSGSTAT_INC(msg_chased);
		lwkt_send_ipiq(gd, thread_port_arrive, msg);
		return;
	}
	msg_clear_flags(msg, MSGF_INTRANSIT);
	if (reply)
		thread_reply_local(port, msg);
	else
		thread_port_enqueue(port, msg);
}

/* Wait behind the arrival being handled on this CPU.  The list is set up
 * the first time it is needed: a zeroed TAILQ head is not an empty one. */
static __attribute__((noinline)) void
thread_port_arrive_later(struct port_arrivals *pa, lwkt_msg_t msg)
{
	if (pa->pa_later.tqh_last == NULL)
		TAILQ_INIT(&pa->pa_later);
	TAILQ_INSERT_TAIL(&pa->pa_later, msg, ms_node);
}

/* The IPIQ callback of every remote put and reply, and of every chase. */
static void thread_port_arrive(void *arg)
{
	struct port_arrivals *pa = &port_arrivals[mycpuid];
	lwkt_msg_t msg = arg;

	if (pa->pa_busy) {
		thread_port_arrive_later(pa, msg);
		return;
	}
	pa->pa_busy = true;
	for (;;) {
		thread_port_land(msg);
		if ((msg = TAILQ_FIRST(&pa->pa_later)) == NULL)
			break;
		TAILQ_REMOVE(&pa->pa_later, msg, ms_node);
	}
	pa->pa_busy = false;
}

/*
 * Local put: queue in a critical section and wake the owner if it sleeps
 * on the port.  Remote put: mark the message INTRANSIT -- it belongs to
 * nobody who could touch it -- and let an IPIQ message carry it to the
 * owner's CPU, where thread_port_arrive queues it.  The IPIQ ring from
 * this CPU to that one is FIFO and arrivals keep their order, so one
 * sender's messages to one port arrive in the order they were sent, as
 * long as they take the same way (docs/msgport.md, "Order").
 */
static int thread_putport(lwkt_port_t port, lwkt_msg_t msg)
{
	struct globaldata *gd;

	KASSERT((msg->ms_flags & (MSGF_DONE | MSGF_REPLY)) == 0,
		"put of message %p that is done or replied (flags %#x)",
		msg, msg->ms_flags);
	/* The thread's own domsg (SYNC, from itself, answered to itself) would
	 * wait for itself; a message it forwards to its own port is fine. */
	KASSERT(!((msg->ms_flags & MSGF_SYNC) && port->mpu_td == curthread &&
		  msg->ms_reply_port->mpu_td == curthread),
		"lwkt_domsg by thread %s to its own port: it would wait for "
		"itself forever; serve the message directly, or make the "
		"thread a message server, whose own domsgs are served inline",
		curthread->td_comm);
	msg->ms_target_port = port;
	/* In the critical section before the owner's CPU is read: no
	 * preemption can move this thread between the test and the queue
	 * operation, and the owner cannot be handed to another CPU. */
	crit_enter();
	gd = owner_cpu(port);
	if (gd == mycpu) {
		thread_port_put_local(port, msg);
	} else {
		msg_set_flags(msg, MSGF_INTRANSIT);
		MSGSTAT_INC(msg_remote);
		lwkt_send_ipiq(gd, thread_port_arrive, msg);
	}
	crit_exit();
	return EASYNC;
}

/* thread_put_async's local half: put, and leave its critical section. */
static __attribute__((noinline)) void
thread_put_local_exit(lwkt_port_t port, lwkt_msg_t msg)
{
	thread_port_put_local(port, msg);
	crit_exit();
}

/*
 * lwkt_sendmsg's put to a thread port (MSGPORTF_THREAD), without the port
 * table: what thread_putport does for a message without SYNC -- which is
 * also a message server's put of one (msgserver_putport) -- with its
 * checks answered by the send's own.  The message is nobody else's until
 * the put, so its flags are stored plainly, INTRANSIT included; the
 * critical section that reads the owner's CPU is also the IPIQ send's.
 * f: the message's flags for the send.
 */
static inline void thread_put_async(lwkt_port_t port, lwkt_msg_t msg,
				    uint32_t f)
{
	struct globaldata *gd;

	msg->ms_target_port = port;
	crit_enter();
	gd = owner_cpu(port);
	if (__predict_true(gd != mycpu)) {
		msg->ms_flags = f | MSGF_INTRANSIT;
		MSGSTAT_INC(msg_remote);
		lwkt_send_ipiq_crit(gd, thread_port_arrive, msg);
		return;
	}
	msg->ms_flags = f;
	thread_put_local_exit(port, msg);
}

/* On the owner's CPU: complete a reply (sets DONE|REPLY; on the remote
 * path REPLY was set already, before the message travelled). */
static void thread_reply_local(lwkt_port_t port, lwkt_msg_t msg)
{
	if (msg->ms_flags & MSGF_SYNC) {
		/* The sender waits for this very message: no queueing. */
		msg_set_flags(msg, MSGF_DONE | MSGF_REPLY);
		if (port->mp_flags & MSGPORTF_WAITING)
			lwkt_schedule(port->mpu_td);
		return;
	}
	_lwkt_pushmsg(port, msg);
	msg_set_flags(msg, MSGF_DONE | MSGF_REPLY);
	if (port->mp_flags & MSGPORTF_WAITING)
		lwkt_schedule(port->mpu_td);
}

/* The reply's twin of thread_putport: done locally, or carried to the
 * sender's CPU by IPIQ. */
static void thread_replyport(lwkt_port_t port, lwkt_msg_t msg)
{
	struct globaldata *gd;

	crit_enter();
	gd = owner_cpu(port);
	if (gd == mycpu) {
		thread_reply_local(port, msg);
	} else {
		/* REPLY now, so that a second reply is caught even while
		 * this one is still travelling; DONE only when it arrives. */
		msg_set_flags(msg, MSGF_REPLY | MSGF_INTRANSIT);
		MSGSTAT_INC(msg_remote);
		lwkt_send_ipiq(gd, thread_port_arrive, msg);
	}
	crit_exit();
}

/* Block the owner until the port's state changes; in a critical section. */
static void thread_port_block(lwkt_port_t port)
{
	port->mp_flags |= MSGPORTF_WAITING;
	lwkt_deschedule_self(curthread);
	lwkt_switch();
	port->mp_flags &= ~MSGPORTF_WAITING;
}

/*
 * Taking a message in a plain wait (thread_waitport's, and a message
 * server's after its reply), with the port empty: the owner blocks with
 * MSGPORTF_TAKES set as well as WAITING, which tells a same-CPU domsg
 * that it may skip the queue and hand its message over in mp_handed
 * (thread_port_hand).  While TAKES is set the queue is empty: it is set
 * only on an empty queue, and the first message queued ends it
 * (_lwkt_pushmsg), as does the first hand.  So a handed message is older
 * than anything on the queue, and is taken first.  On the owner's CPU,
 * in a critical section; the owner found the queue empty.
 */
static inline lwkt_msg_t thread_port_woken(lwkt_port_t port);

static inline lwkt_msg_t thread_port_take(lwkt_port_t port)
{
	lwkt_msg_t msg;

	while ((msg = _lwkt_pollmsg(port)) == NULL) {
		port->mp_flags |= MSGPORTF_WAITING | MSGPORTF_TAKES;
		lwkt_deschedule_self(curthread);
		lwkt_switch();
		if ((msg = thread_port_woken(port)) != NULL)
			return msg;
	}
	_lwkt_pullmsg(port, msg);
	return msg;
}

/* Back from a block with TAKES set: end it, and take a handed message
 * if there is one (it is the server's now; nothing marks it).  NULL:
 * look at the queue. */
static inline lwkt_msg_t thread_port_woken(lwkt_port_t port)
{
	lwkt_msg_t msg = port->mp_handed;

	port->mp_flags &= ~(MSGPORTF_WAITING | MSGPORTF_TAKES);
	if (msg != NULL)
		port->mp_handed = NULL;
	return msg;
}

/*
 * The fast path of a same-CPU lwkt_domsg to a thread port whose owner
 * waits for any message (TAKES): the message is not queued but handed
 * over (mp_handed), with the flags the server would see after taking it
 * off the queue, and the sender hands the CPU straight to the owner and
 * waits for the reply.  Everything the put, lwkt_waitmsg and the take
 * would check holds by construction: the owner is blocked, so it is not
 * the sender; the queue is empty; the reply port is the sender's own
 * thread port, so the wait is its owner's.  Anything else -- another
 * CPU, a reply port of another kind or owner -- takes the ordinary way
 * (domsg_put) without having touched anything.  The message's flags
 * are set for the send already.  Returns the reply's error; blocks.
 */
static __attribute__((noinline)) int
thread_port_hand(lwkt_port_t port, lwkt_msg_t msg, int flags)
{
	lwkt_port_t rport = msg->ms_reply_port;
	struct thread *td = curthread;

	crit_enter_quick(td);
	if (__predict_false(flags != 0 || owner_cpu(port) != mycpu ||
			    (port->mp_flags & MSGPORTF_TAKES) == 0 ||
			    rport->mp_ops->po_waitmsg != thread_waitmsg ||
			    rport->mpu_td != td)) {
		crit_exit_quick(td);
		return domsg_put(port, msg, flags);
	}
	INVARIANT(_lwkt_pollmsg(port) == NULL && port->mp_handed == NULL &&
		  port->mpu_td != td, "thread_port_hand: port %p of %s takes "
		  "a handed message, but its queue is not empty, or one is "
		  "handed already, or its owner is running",
		  port, port->mpu_td->td_comm);
	msg->ms_target_port = port;
	port->mp_handed = msg;
	port->mp_flags &= ~MSGPORTF_TAKES;
	MSGSTAT_INC(msg_sent);
	rport->mp_flags |= MSGPORTF_WAITING;
	lwkt_handoff(port->mpu_td);
	rport->mp_flags &= ~MSGPORTF_WAITING;
	while ((msg->ms_flags & MSGF_DONE) == 0)
		thread_port_block(rport);
	crit_exit_quick(td);
	return msg->ms_error;
}

/*
 * The same, interruptibly (PCATCH): EINTR at once if a signal is pending
 * (lwkt_signal, kern/synch.h), else block with TDF_SINTR set, so that a
 * signal wakes the owner.  Like DragonFly's lwkt_sleep it reports only a
 * signal pending when it is called: the caller's loop calls it again.
 */
static int thread_port_block_catch(lwkt_port_t port)
{
	struct thread *td = curthread;

	if (lwkt_signal_pending())
		return EINTR;
	td->td_flags |= TDF_SINTR;
	thread_port_block(port);
	td->td_flags &= ~TDF_SINTR;
	return 0;
}

/*
 * The interruptible part of a PCATCH waitmsg: wait until the message is
 * home or a signal comes.  A signal does not end the wait -- the message
 * is out, and only its reply can give it back -- but aborts the message,
 * once; the caller then waits, no longer interruptibly, for the reply the
 * abort brings about (or the one that was coming anyway).  With
 * PCATCH_RETURN the signal only ends this part: true, the message still
 * out and not aborted, and the wait returns EINTR.
 */
static __attribute__((noinline)) bool
thread_waitmsg_catch(lwkt_msg_t msg, lwkt_port_t port, int flags)
{
	KASSERT((flags & ~PCATCH_RETURN) == PCATCH, "lwkt_waitmsg: flags "
		"%#x; a wait takes PCATCH, and PCATCH_RETURN only with it",
		flags);
	while ((msg->ms_flags & MSGF_DONE) == 0) {
		if (thread_port_block_catch(port) != 0) {
			if (flags & PCATCH_RETURN)
				return true;
			lwkt_abortmsg(msg);	/* may block */
			return false;
		}
	}
	return false;
}

/*
 * Wait for one message to come home.  A SYNC reply only sets DONE; an
 * asynchronous one also sits on this port's queue, and is taken off here
 * so that QUEUED stays true to where the message is.  PCATCH adds an
 * interruptible first part (above); the plain wait, every lwkt_domsg's,
 * pays one test for it.
 */
/*
 * The other half of thread_put_wait_follows: if msg still waits on the
 * queue of a thread port of this CPU whose owner is blocked and not yet
 * runnable, wake that owner -- by handing it the CPU, when this wait
 * blocks anyway (flags 0), so the owner runs next exactly as
 * lwkt_switch would have chosen, without the queue work of a separate
 * wake and block.  Any other owner of a port with a message on it has
 * been woken by the put.  Critical section.
 */
static __attribute__((noinline)) void
thread_wait_wakes_target(lwkt_msg_t msg, lwkt_port_t port, int flags)
{
	lwkt_port_t tport = msg->ms_target_port;
	struct thread *owner = tport->mpu_td;

	if (tport->mp_ops->po_waitmsg != thread_waitmsg ||
	    (tport->mp_flags & MSGPORTF_WAITING) == 0 ||
	    owner_cpu(tport) != mycpu || (owner->td_flags & TDF_RUNQ))
		return;
	if (flags != 0) {
		lwkt_schedule(owner);
		return;
	}
	port->mp_flags |= MSGPORTF_WAITING;
	lwkt_handoff(owner);
	port->mp_flags &= ~MSGPORTF_WAITING;
}

static int thread_waitmsg(lwkt_msg_t msg, int flags)
{
	lwkt_port_t port = msg->ms_reply_port;

	assert_owner(port, "lwkt_waitmsg");
	crit_enter();
	if ((msg->ms_flags & (MSGF_QUEUED | MSGF_DONE)) == MSGF_QUEUED)
		thread_wait_wakes_target(msg, port, flags);
	if (__predict_false(flags != 0) &&
	    thread_waitmsg_catch(msg, port, flags)) {
		crit_exit();
		return EINTR;		/* PCATCH_RETURN: still out */
	}
	while ((msg->ms_flags & MSGF_DONE) == 0)
		thread_port_block(port);
	if (msg->ms_flags & MSGF_QUEUED)
		_lwkt_pullmsg(port, msg);
	crit_exit();
	return msg->ms_error;
}

/* Priority messages first, then ordinary ones, each FIFO. */
static lwkt_msg_t thread_getport(lwkt_port_t port)
{
	lwkt_msg_t msg;

	assert_owner(port, "lwkt_getport");
	crit_enter();
	msg = _lwkt_pollmsg(port);
	if (msg != NULL)
		_lwkt_pullmsg(port, msg);
	crit_exit();
	return msg;
}

/* A callout's half of a timed thread-port wait: on the owner's CPU, mark
 * the time as up and wake the owner. */
struct port_timer {
	struct callout pt_callout;
	struct thread *pt_td;
	volatile bool pt_expired;
};

static void thread_port_timeout(void *arg)
{
	struct port_timer *pt = arg;

	pt->pt_expired = true;
	lwkt_schedule(pt->pt_td);
}

/*
 * A wait with a timeout, or interruptible (PCATCH), or both: a callout on
 * this CPU ends it after timo ticks (EWOULDBLOCK), a signal ends it at
 * once (EINTR).  The callout runs on this CPU (callouts belong to the CPU
 * that arms them), so it cannot race the loop below, which is in a
 * critical section; callout_stop makes sure it will not fire later.
 */
static __attribute__((noinline)) lwkt_msg_t
thread_waitport_slow(lwkt_port_t port, int flags, int timo, int *errorp)
{
	struct port_timer pt = { .pt_td = curthread, .pt_expired = false };
	lwkt_msg_t msg;
	int error = 0;

	KASSERT((flags & ~PCATCH) == 0, "lwkt_waitport: flags %#x; the only "
		"flag a wait takes is PCATCH", flags);
	crit_enter();
	if (timo > 0) {
		callout_init(&pt.pt_callout);
		callout_reset(&pt.pt_callout, timo, thread_port_timeout, &pt);
	}
	while ((msg = _lwkt_pollmsg(port)) == NULL) {
		if (pt.pt_expired) {
			error = EWOULDBLOCK;
			break;
		}
		if (flags & PCATCH)
			error = thread_port_block_catch(port);
		else
			thread_port_block(port);
		if (error != 0)
			break;
	}
	if (timo > 0)
		callout_stop(&pt.pt_callout);
	if (msg != NULL)
		_lwkt_pullmsg(port, msg);
	crit_exit();
	if (errorp != NULL)
		*errorp = error;
	return msg;
}

/* The plain wait -- every message server's loop -- needs no timer and
 * no signal check; the others take the slow path above. */
static lwkt_msg_t thread_waitport(lwkt_port_t port, int flags, int timo,
				  int *errorp)
{
	lwkt_msg_t msg;

	assert_owner(port, "lwkt_waitport");
	if (__predict_false((timo | flags) != 0))
		return thread_waitport_slow(port, flags, timo, errorp);
	crit_enter();
	msg = thread_port_take(port);
	crit_exit();
	if (errorp != NULL)
		*errorp = 0;
	return msg;
}

/* Only a message still on this queue and not replied can be taken back;
 * once the server has it, the sender must wait for the reply. */
static int thread_dropmsg(lwkt_port_t port, lwkt_msg_t msg)
{
	int error = ENOENT;

	assert_owner(port, "lwkt_dropmsg");
	crit_enter();
	if ((msg->ms_flags & (MSGF_REPLY | MSGF_QUEUED)) == MSGF_QUEUED) {
		_lwkt_pullmsg(port, msg);
		msg_set_flags(msg, MSGF_DONE);
		MSGSTAT_INC(msg_dropped);
		error = 0;
	}
	crit_exit();
	return error;
}

static const struct lwkt_portops thread_port_ops = {
	.po_kind = "thread",
	.po_getport = thread_getport,
	.po_putport = thread_putport,
	.po_waitmsg = thread_waitmsg,
	.po_waitport = thread_waitport,
	.po_replyport = thread_replyport,
	.po_dropmsg = thread_dropmsg,
};

/* The port takes its owner's name, so panics say whose port it was. */
void lwkt_initport_thread(lwkt_port_t port, struct thread *td)
{
	port_init_common(port, &thread_port_ops, td->td_comm);
	port->mp_flags = MSGPORTF_THREAD;
	port->mpu_td = td;
}

/* ---- spin ports and serializer ports ----------------------------------- */
/*
 * A spin port's queue is protected by its spinlock; a serializer port's by
 * a serializer the caller already holds.  Any thread may wait, so waiting
 * is tsleep on an address and waking is wakeup on it:
 *
 *   waiting for the port:     sleep on the port,  woken by a put
 *   waiting for a SYNC reply: sleep on the msg,   woken by the reply
 *
 * The sleep is "interlocked": the thread registers on the sleep queue
 * (tsleep_interlock) before it lets go of the lock, so a wakeup that
 * comes between the unlock and the tsleep is not lost.  The two kinds
 * differ only in how the lock is held and let go, which slock() and
 * sunlock() hide.
 */

static bool port_is_serializer(lwkt_port_t port);

static void slock(lwkt_port_t port)
{
	if (port_is_serializer(port))
		KASSERT(lwkt_serialize_held(port->mp_u.serialize),
			"serializer port %p used without holding its "
			"serializer; take it with lwkt_serialize_enter first",
			port);
	else
		spin_lock(&port->mp_u.spin);
}

static void sunlock(lwkt_port_t port)
{
	if (!port_is_serializer(port))
		spin_unlock(&port->mp_u.spin);
}

/* Sleep on ident with the port's lock let go meanwhile; returns tsleep's
 * result (EINTR for a signal, with PCATCH in flags) with the lock held
 * again. */
static int ssleep_port(lwkt_port_t port, const volatile void *ident,
		       const char *wmesg, int timo, int flags)
{
	int error;

	tsleep_interlock(ident, 0);
	if (port_is_serializer(port))
		lwkt_serialize_exit(port->mp_u.serialize);
	else
		spin_unlock(&port->mp_u.spin);
	error = tsleep(ident, PINTERLOCKED | (flags & PCATCH), wmesg, timo);
	if (port_is_serializer(port))
		lwkt_serialize_enter(port->mp_u.serialize);
	else
		spin_lock(&port->mp_u.spin);
	return error;
}

/* Any thread may take messages from a spin port: that is its point. */
static lwkt_msg_t spin_getport(lwkt_port_t port)
{
	lwkt_msg_t msg;

	slock(port);
	msg = _lwkt_pollmsg(port);
	if (msg != NULL)
		_lwkt_pullmsg(port, msg);
	sunlock(port);
	return msg;
}

/* The wakeup happens after the unlock, so the woken thread does not
 * at once spin on the lock the waker still holds. */
static int spin_putport(lwkt_port_t port, lwkt_msg_t msg)
{
	bool wake;

	msg->ms_target_port = port;
	slock(port);
	_lwkt_pushmsg(port, msg);
	wake = (port->mp_flags & MSGPORTF_WAITING) != 0;
	port->mp_flags &= ~MSGPORTF_WAITING;
	sunlock(port);
	if (wake)
		wakeup(port);
	return EASYNC;
}

/* Many waiters may sleep here; each wakes, re-checks the queue under the
 * lock, and sleeps again if another waiter was faster.  A timeout or a
 * signal (PCATCH) ends the wait empty-handed. */
static lwkt_msg_t spin_waitport(lwkt_port_t port, int flags, int timo,
				int *errorp)
{
	lwkt_msg_t msg;
	int error = 0;

	KASSERT((flags & ~PCATCH) == 0, "lwkt_waitport: flags %#x; the only "
		"flag a wait takes is PCATCH", flags);
	slock(port);
	while ((msg = _lwkt_pollmsg(port)) == NULL && error == 0) {
		port->mp_flags |= MSGPORTF_WAITING;
		error = ssleep_port(port, port, "waitport", timo, flags);
	}
	if (msg != NULL)
		_lwkt_pullmsg(port, msg);
	sunlock(port);
	if (errorp != NULL)
		*errorp = msg != NULL ? 0 : error;
	return msg;
}

/* A SYNC reply is never queued: the waiter sleeps on the message.  An
 * asynchronous one is queued, and whoever waits on the port is woken. */
static void spin_replyport(lwkt_port_t port, lwkt_msg_t msg)
{
	bool wake_msg, wake_port = false;

	slock(port);
	/* Someone in waitmsg sleeps on the message itself, SYNC or not. */
	wake_msg = (msg->ms_flags & MSGF_WAITING) != 0;
	msg_clear_flags(msg, MSGF_WAITING);
	if ((msg->ms_flags & MSGF_SYNC) == 0) {
		_lwkt_pushmsg(port, msg);
		wake_port = (port->mp_flags & MSGPORTF_WAITING) != 0;
		port->mp_flags &= ~MSGPORTF_WAITING;
	}
	msg_set_flags(msg, MSGF_DONE | MSGF_REPLY);
	sunlock(port);
	if (wake_msg)
		wakeup(msg);
	if (wake_port)
		wakeup(port);
}

/*
 * The waiter sleeps on the message itself (MSGF_WAITING tells the
 * replier to wake it), since several threads may share the port.  A
 * signal (PCATCH) aborts the message once, as for a thread port, with
 * the lock let go around the abort function, which may block; with
 * PCATCH_RETURN it returns EINTR instead, the message still out (a
 * WAITING left behind only makes the reply wake nobody).  (DragonFly
 * then turns a final EINTR into the signal's own error; here a signal's
 * error is always EINTR.)
 */
static int spin_waitmsg(lwkt_msg_t msg, int flags)
{
	lwkt_port_t port = msg->ms_reply_port;

	KASSERT((flags & ~(PCATCH | PCATCH_RETURN)) == 0 &&
		(flags & (PCATCH | PCATCH_RETURN)) != PCATCH_RETURN,
		"lwkt_waitmsg: flags %#x; a wait takes PCATCH, and "
		"PCATCH_RETURN only with it", flags);
	slock(port);
	while ((msg->ms_flags & MSGF_DONE) == 0) {
		msg_set_flags(msg, MSGF_WAITING);
		if (ssleep_port(port, msg, "waitmsg", 0, flags) != 0) {
			if (flags & PCATCH_RETURN) {
				sunlock(port);
				return EINTR;	/* still out, not aborted */
			}
			flags &= ~PCATCH;
			sunlock(port);
			lwkt_abortmsg(msg);
			slock(port);
		}
	}
	if (msg->ms_flags & MSGF_QUEUED)
		_lwkt_pullmsg(port, msg);
	sunlock(port);
	return msg->ms_error;
}

/* As for a thread port, but any thread may drop from a spin port. */
static int spin_dropmsg(lwkt_port_t port, lwkt_msg_t msg)
{
	int error = ENOENT;

	slock(port);
	if ((msg->ms_flags & (MSGF_REPLY | MSGF_QUEUED)) == MSGF_QUEUED) {
		_lwkt_pullmsg(port, msg);
		msg_set_flags(msg, MSGF_DONE);
		MSGSTAT_INC(msg_dropped);
		error = 0;
	}
	sunlock(port);
	return error;
}

static const struct lwkt_portops spin_port_ops = {
	.po_kind = "spin",
	.po_getport = spin_getport,
	.po_putport = spin_putport,
	.po_waitmsg = spin_waitmsg,
	.po_waitport = spin_waitport,
	.po_replyport = spin_replyport,
	.po_dropmsg = spin_dropmsg,
};

/* The same operations; slock() and friends tell the kinds apart. */
static const struct lwkt_portops serialize_port_ops = {
	.po_kind = "serializer",
	.po_getport = spin_getport,
	.po_putport = spin_putport,
	.po_waitmsg = spin_waitmsg,
	.po_waitport = spin_waitport,
	.po_replyport = spin_replyport,
	.po_dropmsg = spin_dropmsg,
};

static bool port_is_serializer(lwkt_port_t port)
{
	return port->mp_ops == &serialize_port_ops;
}

void lwkt_initport_spin(lwkt_port_t port, const char *name)
{
	port_init_common(port, &spin_port_ops, name);
	spin_init(&port->mp_u.spin, name);
}

void lwkt_initport_serialize(lwkt_port_t port, struct lwkt_serialize *slz)
{
	port_init_common(port, &serialize_port_ops, "serializer");
	port->mp_u.serialize = slz;
}

/* ---- ports that refuse: panics that say what was meant ----------------- */

static lwkt_msg_t refuse_getport(lwkt_port_t port)
{
	panic("lwkt_getport() illegal on %s port %p: it has no queue to take "
	      "messages from", port->mp_ops->po_kind, port);
}

static int refuse_putport(lwkt_port_t port, lwkt_msg_t msg)
{
	panic("lwkt_sendmsg/domsg() illegal on %s port %p msg %p: this port "
	      "only receives replies; was the reply port passed as the "
	      "target?", port->mp_ops->po_kind, port, msg);
}

static int refuse_waitmsg(lwkt_msg_t msg, int flags)
{
	panic("port %p msg %p cannot be waited on: a %s port has no owner to "
	      "wake; poll the message with lwkt_checkmsg()",
	      msg->ms_reply_port, msg, msg->ms_reply_port->mp_ops->po_kind);
}

static lwkt_msg_t refuse_waitport(lwkt_port_t port, int flags, int timo,
				  int *errorp)
{
	panic("port %p cannot be waited on: it is a %s port, with no queue",
	      port, port->mp_ops->po_kind);
}

static void refuse_replyport(lwkt_port_t port, lwkt_msg_t msg)
{
	panic("lwkt_replymsg() is illegal on port %p msg %p: this message's "
	      "reply port is a %s port, which says the message must never be "
	      "replied", port, msg, port->mp_ops->po_kind);
}

static int refuse_dropmsg(lwkt_port_t port, lwkt_msg_t msg)
{
	panic("lwkt_dropmsg() is illegal on port %p msg %p: a %s port keeps "
	      "no queue to drop from", port, msg, port->mp_ops->po_kind);
}

static const struct lwkt_portops panic_port_ops = {
	.po_kind = "panic",
	.po_getport = refuse_getport,
	.po_putport = refuse_putport,
	.po_waitmsg = refuse_waitmsg,
	.po_waitport = refuse_waitport,
	.po_replyport = refuse_replyport,
	.po_dropmsg = refuse_dropmsg,
};

/* Every operation is one of the refusals above. */
void lwkt_initport_panic(lwkt_port_t port)
{
	port_init_common(port, &panic_port_ops, "panic");
}

/* ---- reply-only ports --------------------------------------------------- */

/* DONE first, so a reply function may reuse (or resend) the message.
 * Without one, the sender polls lwkt_checkmsg(): nobody is woken. */
static void replyonly_replyport(lwkt_port_t port, lwkt_msg_t msg)
{
	msg_set_flags(msg, MSGF_DONE | MSGF_REPLY);
	if (port->mp_u.replyfn != NULL)
		port->mp_u.replyfn(port, msg);
}

static const struct lwkt_portops replyonly_ops = {
	.po_kind = "reply-only",
	.po_getport = refuse_getport,
	.po_putport = refuse_putport,
	.po_waitmsg = refuse_waitmsg,
	.po_waitport = refuse_waitport,
	.po_replyport = replyonly_replyport,
	.po_dropmsg = refuse_dropmsg,
};

void lwkt_initport_replyonly_null(lwkt_port_t port)
{
	port_init_common(port, &replyonly_ops, "reply-only");
}

void lwkt_initport_replyonly(lwkt_port_t port,
			     void (*fn)(lwkt_port_t, lwkt_msg_t))
{
	port_init_common(port, &replyonly_ops, "reply-only");
	port->mp_u.replyfn = fn;
}

/* ---- synchronous (dispatch) ports --------------------------------------- */
/*
 * The put runs the handler in the sender's own thread.  A handler that
 * returns an error completes the message there and then: lwkt_domsg
 * returns that error without queueing or switching, lwkt_sendmsg turns it
 * into a reply.  A handler that returns EASYNC has taken the message to
 * reply or forward it later.
 */

/* ms_target_port is set before the call so an abort, or a handler that
 * forwards, knows where the message was. */
static int dispatch_putport(lwkt_port_t port, lwkt_msg_t msg)
{
	msg->ms_target_port = port;
	return port->mp_u.dispatch(msg);
}

static const struct lwkt_portops dispatch_port_ops = {
	.po_kind = "dispatch",
	.po_getport = refuse_getport,
	.po_putport = dispatch_putport,
	.po_waitmsg = refuse_waitmsg,
	.po_waitport = refuse_waitport,
	.po_replyport = refuse_replyport,
	.po_dropmsg = refuse_dropmsg,
};

void lwkt_initport_dispatch(lwkt_port_t port, int (*dispatch)(lwkt_msg_t),
			    const char *name)
{
	port_init_common(port, &dispatch_port_ops, name);
	port->mp_u.dispatch = dispatch;
}

/* ---- message servers ---------------------------------------------------- */
/*
 * May the server hand the CPU straight to the sender of msg with the
 * reply?  When the reply is the local SYNC kind (thread_reply_local only
 * marks it DONE and wakes the sender), the sender is blocked waiting for
 * it on this CPU, and the server has nothing queued, so it would block
 * right after.  Critical section.
 */
static inline bool msgserver_reply_hands_off(struct msg_server *srv,
					     lwkt_msg_t msg)
{
	lwkt_port_t rport = msg->ms_reply_port;

	return (msg->ms_flags & MSGF_SYNC) &&
	       rport->mp_ops->po_replyport == thread_replyport &&
	       (rport->mp_flags & MSGPORTF_WAITING) &&
	       _lwkt_pollmsg(&srv->ms_port) == NULL &&
	       owner_cpu(rport) == mycpu &&
	       (rport->mpu_td->td_flags & TDF_RUNQ) == 0;
}

/*
 * Reply to msg with error, then wait for the next message: what the
 * server loop does after each dispatch.  lwkt_replymsg and lwkt_waitport
 * in turn, except in the common case of a request/reply conversation on
 * one CPU (msgserver_reply_hands_off), where the reply marks the message
 * DONE and the server blocks by handing the CPU to the waiting sender
 * (lwkt_handoff) -- the thread lwkt_switch would have picked -- instead
 * of waking it and then blocking.
 */
static lwkt_msg_t msgserver_reply_wait(struct msg_server *srv,
				       lwkt_msg_t msg, int error)
{
	lwkt_port_t port = &srv->ms_port;
	struct thread *sender;
	lwkt_msg_t next;

	crit_enter();
	if (!msgserver_reply_hands_off(srv, msg)) {
		crit_exit();
		lwkt_replymsg(msg, error);
		return lwkt_waitport(port, 0, 0, NULL);
	}
	sender = msg->ms_reply_port->mpu_td;
	reply_begin(msg, error);
	msg_set_flags(msg, MSGF_DONE | MSGF_REPLY);	/* the sender's again */
	port->mp_flags |= MSGPORTF_WAITING | MSGPORTF_TAKES;
	lwkt_handoff(sender);
	if ((next = thread_port_woken(port)) == NULL)
		next = thread_port_take(port);
	crit_exit();
	return next;
}

/*
 * The server thread's whole life: wait for a message, dispatch it, reply
 * with the result unless the dispatch kept it (EASYNC).  Messages on one
 * port are served one at a time, in order, by one thread: whatever state
 * the dispatch function keeps needs no lock.
 */
static void msgserver_thread(void *arg)
{
	struct msg_server *srv = arg;
	lwkt_msg_t msg;
	int error;

	msg = lwkt_waitport(&srv->ms_port, 0, 0, NULL);
	while (msg != &srv->ms_quit) {
		srv->ms_served++;
		error = srv->ms_dispatch(srv, msg);
		if (error != EASYNC)
			msg = msgserver_reply_wait(srv, msg, error);
		else
			msg = lwkt_waitport(&srv->ms_port, 0, 0, NULL);
	}
	/* The queue is empty: the quit message was the last thing sent. */
	lwkt_destroyport(&srv->ms_port);
	lwkt_replymsg(msg, 0);
}

/*
 * A server's port is a thread port with one difference, borrowed from
 * DragonFly's netisr ports: a domsg from the server thread to its own port
 * is dispatched at once, in place, instead of deadlocking on itself.  The
 * dispatch must finish such a message (it may not return EASYNC), since
 * nobody else would ever serve it.
 */
static int msgserver_putport(lwkt_port_t port, lwkt_msg_t msg)
{
	struct msg_server *srv = (struct msg_server *)port;	/* first field */
	int error;

	/* Only the server's own domsg: a message it forwards to itself, or
	 * an asynchronous one, is queued like any other. */
	if (!((msg->ms_flags & MSGF_SYNC) && port->mpu_td == curthread &&
	      msg->ms_reply_port->mpu_td == curthread))
		return thread_putport(port, msg);
	msg->ms_target_port = port;
	srv->ms_served++;
	error = srv->ms_dispatch(srv, msg);
	KASSERT(error != EASYNC, "msg_server %s kept (EASYNC) a message it "
		"sent to itself with lwkt_domsg; it would wait for it forever",
		curthread->td_comm);
	return error;
}

static const struct lwkt_portops msgserver_port_ops = {
	.po_kind = "thread",
	.po_getport = thread_getport,
	.po_putport = msgserver_putport,
	.po_waitmsg = thread_waitmsg,
	.po_waitport = thread_waitport,
	.po_replyport = thread_replyport,
	.po_dropmsg = thread_dropmsg,
};

/*
 * The thread is created stopped, so that its port exists (and its owner
 * is known) before it can run; only then is it scheduled.
 */
int msgserver_start(struct msg_server *srv, const char *name, int cpu,
		    int (*dispatch)(struct msg_server *, lwkt_msg_t),
		    void *arg)
{
	struct thread *td;
	int error;

	srv->ms_dispatch = dispatch;
	srv->ms_arg = arg;
	srv->ms_served = 0;
	error = lwkt_create(msgserver_thread, srv, &td, TDF_NOSTART, cpu,
			    "%s", name);
	if (error != 0)
		return error;
	srv->ms_td = td;
	lwkt_initport_thread(&srv->ms_port, td);
	srv->ms_port.mp_ops = &msgserver_port_ops;
	td->td_msgport = &srv->ms_port;
	lwkt_schedule(td);
	return 0;
}

/*
 * Stop by message, not by flag: the quit message queues behind whatever
 * was sent before it, so those are served first, and the server exits
 * at a point where it holds nothing.  Then wait for the thread to be
 * gone, so the caller may free srv.
 */
void msgserver_stop(struct msg_server *srv)
{
	struct lwkt_port rport;
	int error;

	/* The reply comes back to a throw-away thread port of the caller. */
	lwkt_initport_thread(&rport, curthread);
	lwkt_initmsg(&srv->ms_quit, &rport, 0);
	error = lwkt_domsg(&srv->ms_port, &srv->ms_quit, 0);
	KASSERT(error == 0, "msgserver_stop: quit failed (%d)", error);
	lwkt_destroyport(&rport);
	lwkt_thread_join(srv->ms_td);
	srv->ms_td = NULL;
}

/* ---- interrupts as messages --------------------------------------------- */
/*
 * All sends of an intr_msg happen on the CPU that takes the interrupt,
 * inside a critical section, in intrmsg_kick(): "if the message is home
 * and interrupts are waiting, send it".  Both events that can make that
 * true call it there: an interrupt (from splz, the soft handler) and the
 * server's reply (by IPIQ if the server runs elsewhere).  So the message
 * is never sent twice, and an interrupt that arrives while it is out is
 * delivered by the next send.
 */
static void intrmsg_kick(void *arg)
{
	struct intr_msg *im = arg;

	crit_enter();
	if (lwkt_checkmsg(&im->im_msg) && im->im_pending > 0) {
		im->im_sends++;
		lwkt_sendmsg(im->im_port, &im->im_msg);
	}
	crit_exit();
}

/* intrmsg_kick, sent from the replier's CPU; the last use of im. */
static void intrmsg_kick_remote(void *arg)
{
	struct intr_msg *im = arg;

	intrmsg_kick(im);
	__atomic_sub_fetch(&im->im_kicks, 1, __ATOMIC_ACQ_REL);
}

/* The soft interrupt handler: count, then deliver if the message is home. */
static void intrmsg_interrupt(void *arg)
{
	struct intr_msg *im = arg;

	if (!lwkt_checkmsg(&im->im_msg))
		im->im_coalesced++;
	__atomic_add_fetch(&im->im_pending, 1, __ATOMIC_RELEASE);
	intrmsg_kick(im);
}

/* The reply port's function: the message is DONE; re-arm on its CPU. */
static void intrmsg_replied(lwkt_port_t port, lwkt_msg_t msg)
{
	struct intr_msg *im = (struct intr_msg *)msg;

	if (im->im_cpu == mycpuid) {
		intrmsg_kick(im);
		return;
	}
	/* Counted while in flight, so intrmsg_unbind can wait for it. */
	__atomic_add_fetch(&im->im_kicks, 1, __ATOMIC_ACQ_REL);
	lwkt_send_ipiq_bycpu(im->im_cpu, intrmsg_kick_remote, im);
}

/*
 * The message's reply port is a reply-only port whose function re-arms
 * it; the soft handler is registered last, when the message is ready.
 */
int intrmsg_bind(struct intr_msg *im, int vector, int cpu, lwkt_port_t port)
{
	int error;

	KASSERT(port->mp_ops->po_getport == thread_getport,
		"intrmsg_bind: port %p is a %s port; interrupts are sent from "
		"splz, which must not take a port's lock, so bind a thread "
		"port", port, port->mp_ops->po_kind);
	im->im_port = port;
	im->im_vector = vector;
	im->im_cpu = cpu;
	im->im_pending = 0;
	im->im_sends = im->im_coalesced = 0;
	im->im_kicks = 0;
	lwkt_initport_replyonly(&im->im_rport, intrmsg_replied);
	lwkt_initmsg(&im->im_msg, &im->im_rport, 0);
	error = register_int_soft(vector, intrmsg_interrupt, im, cpu);
	if (error != 0)
		lwkt_destroyport(&im->im_rport);
	return error;
}

/*
 * No new interrupt is counted once the handler is gone; dropping the
 * pending count then stops a re-arm in flight from sending again, and
 * waiting for im_kicks lets that re-arm finish before im may be freed.
 */
void intrmsg_unbind(struct intr_msg *im)
{
	unregister_int_soft(im->im_vector);
	intrmsg_take(im);
	while (__atomic_load_n(&im->im_kicks, __ATOMIC_ACQUIRE) != 0)
		tsleep(im, 0, "intrunbd", 1);
	KASSERT(lwkt_checkmsg(&im->im_msg), "intrmsg_unbind: the interrupt "
		"message of vector %d is still out; wait for its reply first",
		im->im_vector);
	lwkt_destroyport(&im->im_rport);
}

/* An exchange, so an interrupt counted during the take is neither lost
 * nor counted twice. */
uint64_t intrmsg_take(struct intr_msg *im)
{
	return __atomic_exchange_n(&im->im_pending, 0, __ATOMIC_ACQ_REL);
}
