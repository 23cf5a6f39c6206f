/*
 * kern/msgport.h - messages and message ports, the kernel's IPC core
 * (kern/lwkt_msgport.c; docs/msgport.md tells the whole story).
 *
 * A request is a message; whoever serves it owns a port; the answer is the
 * same message coming back to its reply port.  Messages are embedded in the
 * caller's own structure, so sending one allocates nothing:
 *
 *     struct kv_msg {
 *             struct lwkt_msg base;        first, so a lwkt_msg * converts
 *             int op, key, value;
 *     };
 *
 *     lwkt_initmsg(&m.base, &curthread_port, 0);
 *     error = lwkt_domsg(server_port, &m.base, 0);   send, wait, reply
 *
 * Who owns a message, and so who may touch it:
 *
 *     sender     from lwkt_initmsg until it sends, and again once DONE
 *     the port   while QUEUED on it, and its server while it works on it
 *     the reply  from lwkt_replymsg until the sender sees DONE
 *
 * A port is a queue plus a small table of operations (struct lwkt_portops):
 * a thread port, a spin port, a serializer port, a synchronous dispatch
 * port and a reply-only port differ only in that table.
 */
#ifndef KERN_MSGPORT_H
#define KERN_MSGPORT_H

#include <kern/types.h>
#include <kern/errno.h>
#include <kern/queue.h>
#include <kern/spinlock.h>

struct thread;
struct lwkt_port;
struct lwkt_msg;
struct lwkt_serialize;

typedef struct lwkt_msg *lwkt_msg_t;
typedef struct lwkt_port *lwkt_port_t;

/*
 * ms_flags.  DONE is the ownership bit: set, the sender owns the message.
 * An unsent message is DONE; sending clears it; the reply sets it again --
 * on the sender's CPU for a thread port, wherever the replier runs for a
 * spin, serializer or reply-only port.
 */
#define MSGF_DONE	0x0001	/* complete, owned by the sender */
#define MSGF_REPLY	0x0002	/* a reply has begun (stays set after) */
#define MSGF_QUEUED	0x0004	/* on a port's queue (target or reply) */
#define MSGF_SYNC	0x0008	/* the sender is blocked in lwkt_domsg */
#define MSGF_INTRANSIT	0x0010	/* travelling to another CPU by IPIQ */
#define MSGF_WAITING	0x0020	/* spin/serializer ports: waiter sleeps on msg */
#define MSGF_DROPABLE	0x0040	/* lwkt_dropmsg may take it back */
#define MSGF_ABORTABLE	0x0080	/* ms_abortfn is valid */
#define MSGF_PRIORITY	0x0100	/* dequeued before ordinary messages */
#define MSGF_ABORTED	0x0200	/* lwkt_abortmsg asked the server to stop */
#define MSGF_USER0	0x10000	/* 0x10000..0x80000 belong to servers */

struct lwkt_msg {
	TAILQ_ENTRY(lwkt_msg) ms_node;	/* queue link: owner of the queue */
	lwkt_port_t ms_target_port;	/* port of the last put */
	lwkt_port_t ms_reply_port;	/* where the reply goes; never NULL */
	void (*ms_abortfn)(lwkt_msg_t);	/* with MSGF_ABORTABLE */
	volatile uint32_t ms_flags;	/* MSGF_*; changed atomically */
	int ms_error;			/* written by lwkt_replymsg */
	union {
		void *ms_resultp;
		int ms_result;
		long ms_lresult;
		uint64_t ms_result64;
	} u;
};

TAILQ_HEAD(lwkt_msg_queue, lwkt_msg);

/*
 * What makes one kind of port different from another.  Each operation's
 * contract is that of the API function of the same name below; the port
 * kinds in lwkt_msgport.c implement them.
 */
struct lwkt_portops {
	const char *po_kind;		/* "thread", "spin", ... for panics */
	lwkt_msg_t (*po_getport)(lwkt_port_t port);
	int (*po_putport)(lwkt_port_t port, lwkt_msg_t msg);
	int (*po_waitmsg)(lwkt_msg_t msg, int flags);
	lwkt_msg_t (*po_waitport)(lwkt_port_t port, int flags, int timo,
				  int *errorp);
	void (*po_replyport)(lwkt_port_t port, lwkt_msg_t msg);
	int (*po_dropmsg)(lwkt_port_t port, lwkt_msg_t msg);
};

/* mp_flags */
#define MSGPORTF_WAITING 0x0001	/* the owner (or a waiter) is blocked on it */
#define MSGPORTF_TAKES	 0x0002	/* thread port: the owner is blocked in a plain
				   waitport on an empty queue, and takes a
				   message handed to it in mp_handed */
#define MSGPORTF_THREAD	 0x0004	/* a thread port (or a message server's):
				   lwkt_sendmsg puts to it directly */

struct lwkt_port {
	const struct lwkt_portops *mp_ops;
	struct lwkt_msg_queue mp_msgq;		/* ordinary messages, FIFO */
	struct lwkt_msg_queue mp_msgq_prio;	/* MSGF_PRIORITY, FIFO */
	uint32_t mp_flags;			/* MSGPORTF_* */
	struct thread *mpu_td;			/* owner thread, if any */
	union {
		struct spinlock spin;		/* spin ports */
		struct lwkt_serialize *serialize; /* serializer ports */
		int (*dispatch)(lwkt_msg_t);	/* synchronous ports */
		void (*replyfn)(lwkt_port_t, lwkt_msg_t); /* reply-only */
	} mp_u;
	const char *mp_name;			/* for panics and counters */
	lwkt_msg_t mp_handed;			/* thread port: handed to the
						   owner, not yet taken */
};

/* ---- ports ------------------------------------------------------------ */

/*
 * A thread port belongs to td: only td may get, wait on or drop from it;
 * any thread on any CPU may put to it or reply to it.  A put or reply from
 * another CPU travels by IPIQ, so the queue is touched only on td's CPU.
 */
void lwkt_initport_thread(lwkt_port_t port, struct thread *td);

/* A spin port: any number of threads on any CPU may wait on it; every
 * operation holds the port's spinlock. */
void lwkt_initport_spin(lwkt_port_t port, const char *name);

/* A serializer port: like a spin port, but every operation requires the
 * caller to hold the serializer, which waiting releases. */
void lwkt_initport_serialize(lwkt_port_t port, struct lwkt_serialize *slz);

/*
 * A synchronous (dispatch) port: a put runs dispatch(msg) at once, in the
 * sender's thread.  dispatch returns the message's error, or EASYNC if it
 * kept the message to reply (or forward) later.  lwkt_domsg to such a
 * port is a function call: no queue, no switch.
 */
void lwkt_initport_dispatch(lwkt_port_t port, int (*dispatch)(lwkt_msg_t),
			    const char *name);

/* Reply-only ports.  _null: a reply only sets DONE|REPLY; the sender polls
 * lwkt_checkmsg().  With fn: a reply calls fn(port, msg).  Sending to,
 * getting from or waiting on either panics. */
void lwkt_initport_replyonly_null(lwkt_port_t port);
void lwkt_initport_replyonly(lwkt_port_t port,
			     void (*fn)(lwkt_port_t, lwkt_msg_t));

/* A port on which every operation panics: for messages that must never
 * be replied (their reply port) or never sent to. */
void lwkt_initport_panic(lwkt_port_t port);

/* The end of a port's life: asserts that nothing is queued on it. */
void lwkt_destroyport(lwkt_port_t port);

/* ---- messages --------------------------------------------------------- */

/* Make msg ready to send: DONE | flags, replies to rport.  Touches no
 * other field. */
void lwkt_initmsg(lwkt_msg_t msg, lwkt_port_t rport, uint32_t flags);
void lwkt_initmsg_abortable(lwkt_msg_t msg, lwkt_port_t rport,
			    uint32_t flags, void (*abortfn)(lwkt_msg_t));

/*
 * Send asynchronously: the reply arrives later on the reply port.  msg
 * must be DONE (idle).  If the port completes it at once, that result
 * becomes an ordinary reply.  Any thread; never blocks.
 */
void lwkt_sendmsg(lwkt_port_t port, lwkt_msg_t msg);

/*
 * Send and wait for the reply; returns the reply's error.  msg must be
 * DONE.  If the port completes it at once, that error is returned with no
 * queueing and no switch.  flags: 0 or PCATCH, as for lwkt_waitmsg.
 * Blocks (thread context only, no spinlocks).
 */
int lwkt_domsg(lwkt_port_t port, lwkt_msg_t msg, int flags);

/*
 * Pass a message being served on to another port.  The reply port and
 * SYNC stay, so the sender still gets exactly one reply.  msg must be
 * dequeued and not yet replied.  Never blocks.
 */
void lwkt_forwardmsg(lwkt_port_t port, lwkt_msg_t msg);

/*
 * Complete msg with error and return it to its reply port.  Exactly once
 * per send, by whoever owns the message (it must not be queued).  Any
 * thread, or a soft interrupt handler replying to a thread or reply-only
 * port (spin and serializer ports take a lock); never blocks.
 */
void lwkt_replymsg(lwkt_msg_t msg, int error);

/*
 * Wait until msg is DONE, take it off its reply port, return ms_error.
 * flags: 0, or PCATCH (kern/synch.h): a signal (lwkt_signal) during the
 * wait aborts the message, once, with lwkt_abortmsg, and the wait goes on,
 * no longer interruptible, for the real reply -- whose error is returned.
 * The message is out, so only its reply can end the wait.
 * PCATCH | PCATCH_RETURN: a signal ends the wait at once with EINTR and
 * leaves the message out, not aborted (lwkt_checkmsg is false); the
 * caller decides -- wait again, or wait with PCATCH alone to abort.
 * Blocks; on a thread port only its owner may wait.  lwkt_domsg takes
 * the same flags.
 */
int lwkt_waitmsg(lwkt_msg_t msg, int flags);

/* With PCATCH: a signal returns from the wait instead of aborting (see
 * lwkt_waitmsg).  Waits on a message only, not on a port. */
#define PCATCH_RETURN	0x00010000

/* The next message on port, or NULL.  Never blocks. */
lwkt_msg_t lwkt_getport(lwkt_port_t port);

/*
 * The next message on port, waiting for one up to timo ticks (0: for
 * ever).  On timeout returns NULL and stores EWOULDBLOCK in *errorp (if
 * not NULL).  flags: 0, or PCATCH (kern/synch.h): a signal (lwkt_signal),
 * pending or arriving, ends the wait with NULL and EINTR.  Blocks.
 */
lwkt_msg_t lwkt_waitport(lwkt_port_t port, int flags, int timo, int *errorp);

/*
 * Ask the message's current server to finish it early.  Acts only on an
 * ABORTABLE message that is neither DONE nor replied: marks it ABORTED and
 * calls its abort function.  Never replies or frees it itself: the
 * message is still replied exactly once.
 */
void lwkt_abortmsg(lwkt_msg_t msg);

/* Take a DROPABLE message back before it is served: 0 and the message is
 * DONE without a reply, or ENOENT if it was already dequeued.  On a thread
 * port only its owner may drop (the queue is the owner's); on a spin port
 * anyone may.  A message that was never put anywhere gives ENOENT. */
int lwkt_dropmsg(lwkt_msg_t msg);

/* Is msg complete (and owned by its sender)? */
static inline bool lwkt_checkmsg(lwkt_msg_t msg)
{
	return (msg->ms_flags & MSGF_DONE) != 0;
}

/* ---- message servers -------------------------------------------------- */

/*
 * A message server: a thread with a port and a dispatch function, the
 * pattern block drivers, filesystem flushers and protocol threads use.
 * The thread loops: wait for a message, ms_dispatch(server, msg), reply
 * with the returned error unless it is EASYNC (the dispatch kept it).
 */
struct msg_server {
	struct lwkt_port ms_port;	/* the thread port clients send to */
	struct thread *ms_td;
	int (*ms_dispatch)(struct msg_server *srv, lwkt_msg_t msg);
	void *ms_arg;			/* the dispatch function's state */
	struct lwkt_msg ms_quit;	/* msgserver_stop's message */
	uint64_t ms_served;		/* messages dispatched: server thread */
};

_Static_assert(__builtin_offsetof(struct msg_server, ms_port) == 0,
	       "a server's port must be its first field");

/* Start a server thread named name on CPU cpu (-1: this one).  Returns 0
 * or ENOMEM.  May block for memory. */
int msgserver_start(struct msg_server *srv, const char *name, int cpu,
		    int (*dispatch)(struct msg_server *, lwkt_msg_t),
		    void *arg);

/* Stop it: the server finishes the messages queued before, then exits.
 * Blocks until the thread is gone.  Senders must have stopped sending:
 * a message still travelling from another CPU could land after the quit
 * message and find no server. */
void msgserver_stop(struct msg_server *srv);

/* ---- interrupts as messages -------------------------------------------- */

/*
 * Bind an interrupt vector to a port: each interrupt arrives as the one
 * pre-allocated message im->im_msg, sent to port (a thread port).  While
 * the message is out, further interrupts are counted in im_pending, not
 * lost; when the server replies, the message goes out again if any came.
 * The server learns how many interrupts a delivery stands for with
 * intrmsg_take().
 */
struct intr_msg {
	struct lwkt_msg im_msg;		/* first: the server gets this */
	struct lwkt_port im_rport;	/* reply-only: a reply re-arms */
	lwkt_port_t im_port;		/* where interrupts are sent */
	int im_vector;
	int im_cpu;			/* the CPU taking the interrupt */
	volatile uint64_t im_pending;	/* interrupts not yet taken: atomic */
	uint64_t im_sends;		/* messages sent: im_cpu only */
	uint64_t im_coalesced;		/* interrupts folded into one: im_cpu */
	volatile int im_kicks;		/* re-arms in flight by IPIQ: atomic */
};

/* Route vector (taken on CPU cpu) to port.  0 or an errno.  Thread
 * context. */
int intrmsg_bind(struct intr_msg *im, int vector, int cpu, lwkt_port_t port);
/* Undo intrmsg_bind; the message must be home (DONE).  Thread context. */
void intrmsg_unbind(struct intr_msg *im);
/* Server side: how many interrupts this delivery stands for (resets). */
uint64_t intrmsg_take(struct intr_msg *im);

/* ---- counters ---------------------------------------------------------- */

struct msgport_stats {
	uint64_t sent;		/* sendmsg + domsg */
	uint64_t replied;	/* replies and synchronous completions */
	uint64_t dropped;	/* lwkt_dropmsg successes */
	uint64_t remote;	/* puts and replies that crossed CPUs */
	uint64_t chased;	/* ... sent on again: the owner had moved */
	uint64_t ports;		/* ports initialised minus destroyed */
};

/* Counters summed over CPUs.  Messages in flight = sent - replied -
 * dropped; the test harness checks it returns to where it was. */
void msgport_get_stats(struct msgport_stats *st);

#endif /* KERN_MSGPORT_H */
