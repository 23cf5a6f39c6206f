/*
 * sys_uport.c - message ports for user programs: the kernel's own ports
 * (kern/lwkt_msgport.c) handed to processes through system calls 500-506
 * (include/uapi/damselfly/port.h has the numbers and the user library).
 *
 * The idea.  Damselfly's IPC is the message: a request goes to a port,
 * whoever serves the port replies, and the same message comes home.  A
 * user program gets exactly that, with no second implementation: each
 * user port *is* an lwkt spin port, each user message *is* an lwkt_msg
 * (inside a kernel struct umsg holding the payload), and the calls below
 * are lwkt_sendmsg, lwkt_domsg, lwkt_waitport, lwkt_replymsg,
 * lwkt_waitmsg and lwkt_abortmsg with user memory copied in and out.
 *
 *   process A                      kernel                     process B
 *   port_domsg(fd, &m) -> umsg {lwkt_msg, payload}
 *                         lwkt_domsg(&uport.up_port) ---queued---+
 *                         (A sleeps on the message)              |
 *                                              lwkt_waitport <---+ port_wait
 *                                              B holds it (held list)
 *                         lwkt_replymsg <-------------------------- port_reply
 *   m.error, m.data  <--- reply lands on A's home port, A wakes
 *
 * Ports.  A port is a ufile (kern/file.h) of kind "port", so descriptors
 * name it: fork shares it, execve keeps it, close drops it, and a
 * descriptor that is not a port is EBADF.  A spin port because any
 * number of processes holding the descriptor may wait on it at once.
 * When the last descriptor goes, the requests still queued are replied
 * EPIPE and the port is destroyed.
 *
 * Home ports.  Every process that sends gets a private spin port, its
 * *home*, as the reply port of all its messages -- as a kernel thread's
 * own port is the reply port of what it sends.  A domsg reply is SYNC:
 * it only marks the message DONE and wakes the sender.  An asynchronous
 * reply is queued on the home port until the sender takes it
 * (port_waitmsg).
 *
 * Who owns a message (the kernel's rule, docs/msgport.md, plus the
 * process that answers for it):
 *
 *   sent      queued on a port         sender's upp_sent list
 *   served    held by a server process server's upp_held list (and the
 *                                      sender's upp_sent unless domsg)
 *   replied   DONE, on the home port   sender's upp_sent, until taken
 *   orphan    the sender exited, or a  no list; its reply is routed into
 *             signal ended it while    nothing and the message freed
 *             it waited
 *
 * So every message is replied exactly once, whoever goes away first: a
 * server that exits replies EPIPE to what it held; a sender that exits
 * takes back its replies and orphans the rest (umsg_orphan); a port that
 * closes replies EPIPE to what waits in it.
 *
 * Abort.  lwkt_abortmsg calls the message's abort function.  Ours takes
 * a message that is still queued off its port and replies it EINTR at
 * once (the port is a spin port, so the aborting thread may take from
 * it: it takes everything and forwards the others back in order); a
 * message a server already holds is only marked ABORTED, and the
 * server's reply still comes (port_reply says 1: it was aborted).
 *
 * Signals in a sender's wait (port_domsg, port_waitmsg of an id).  A
 * signal that runs a handler aborts the message and the sender waits
 * for the one reply, as the kernel's lwkt_waitmsg(PCATCH) does.  A
 * signal that ends the process (SIGKILL, or one not caught whose default
 * is to terminate: sig_ends_in_wait) aborts it too, but does not wait
 * for a server that may never answer: if the reply is not home by then,
 * the sender gives the message up there and then, as its exit would
 * (umsg_orphan), and goes on to die.  The server still owns what it
 * holds; its reply, or its exit's EPIPE, goes into nothing.  So a server
 * cannot make its client unkillable.  A SIGKILL that comes while a
 * handler's abort waits ends that wait the same way.  The decision is
 * made under uport_token, where every reply is made, so a reply and a
 * kill at the same moment come out one way or the other, whole: the
 * reply is home first (taken, then the process dies) or the message is
 * an orphan first (the reply goes nowhere).  The one soft edge: a new
 * signal with a handler and a lower number, posted between the decision
 * and the return to user mode, runs first; if that handler changes the
 * ending signal's action, the process lives on: its call returned EINTR
 * (or runs again, under SA_RESTART, with a new message), the first
 * message given up.
 *
 * Stops.  A stop is not a reason to take a message back: the process
 * means to go on.  So the senders' waits (umsg_wait) let a signal end
 * the kernel's wait without an abort (PCATCH_RETURN), and if the signal
 * only stops the process, it stops right there, inside the call, the
 * message still out; after SIGCONT the same wait goes on for the same
 * reply.  The usual way -- return EINTR, stop on the way out, run the
 * call again (kern_sig.c) -- would send the message a second time, or
 * would have had to abort the first.  Only a signal with a handler or
 * one that ends the process aborts.
 *
 * Locking.  One token, uport_token, is held by every call below for its
 * whole length (it is let go while the caller sleeps, and taken again
 * before it runs): the lists, the orphan decision and every reply to a
 * user message happen under it, so a reply and an exit never cross.
 * Each port's queue has its own spinlock inside the port code.  User
 * memory is copied with the token let go.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/file.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/msgport.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <kern/queue.h>
#include <kern/signal.h>
#include <kern/synch.h>
#include <kern/syscall.h>
#include <kern/token.h>
#include <kern/uport.h>
#include <fs/vfs.h>
#include <uapi/damselfly/port.h>

MALLOC_DEFINE(M_UPORT, "uport", "user message ports and messages");

#define UPORT_MAX_OUT	256	/* messages a process may have out */
#define UPORT_MAX_ERROR	4095	/* a reply's error: an errno */

/* A port a program holds by descriptor. */
struct uport {
	struct lwkt_port up_port;	/* spin port: queue, lock, waiters */
};

/* A user message: the kernel message, and what the program sees. */
struct umsg {
	struct lwkt_msg um_msg;		/* first: an lwkt_msg_t converts */
	/* uport_token: */
	uint64_t um_id;
	struct proc *um_sender;		/* NULL once orphaned */
	bool um_listed;			/* on the sender's upp_sent */
	TAILQ_ENTRY(umsg) um_slink;	/* the sender's upp_sent */
	TAILQ_ENTRY(umsg) um_hlink;	/* a server's upp_held */
	uint8_t um_data[PORT_PAYLOAD];
};

TAILQ_HEAD(umsg_list, umsg);

/* A process's side of messaging (p_uport, made at its first use). */
struct uport_proc {
	struct lwkt_port upp_home;	/* spin port: its replies come here */
	/* uport_token: */
	struct umsg_list upp_sent;	/* sent with port_send, not taken */
	struct umsg_list upp_held;	/* requests it took, not replied */
	int upp_out;			/* its messages not yet taken back */
};

static struct lwkt_token uport_token = LWKT_TOKEN_INITIALIZER("uport");
static uint64_t next_id = 1;		/* uport_token */
static volatile uint64_t uports_alive;	/* atomic */
static volatile uint64_t umsgs_alive;	/* atomic */
static uint64_t umsgs_sent;		/* uport_token */
static uint64_t umsgs_aborted;		/* uport_token: replied EINTR */

static const struct ufileops uport_ops;

/* ----------------------------------------------------------------------- */
/* Messages.                                                               */

/* A new message from p carrying data, or NULL when p has too many out.
 * uport_token held. */
static struct umsg *umsg_new(struct proc *p, const uint8_t *data)
{
	struct uport_proc *upp = p->p_uport;
	struct umsg *um;

	if (upp->upp_out >= UPORT_MAX_OUT)
		return NULL;
	um = kmalloc(sizeof(*um), M_UPORT, M_WAITOK | M_ZERO);
	um->um_id = next_id++;
	umsgs_sent++;
	um->um_sender = p;
	memcpy(um->um_data, data, PORT_PAYLOAD);
	upp->upp_out++;
	__atomic_add_fetch(&umsgs_alive, 1, __ATOMIC_RELAXED);
	return um;
}

/* Free a message that is home (or orphaned and replied): off its
 * sender's books.  uport_token held. */
static void umsg_free(struct umsg *um)
{
	struct proc *p = um->um_sender;

	if (p != NULL) {
		if (um->um_listed)
			TAILQ_REMOVE(&p->p_uport->upp_sent, um, um_slink);
		p->p_uport->upp_out--;
	}
	__atomic_sub_fetch(&umsgs_alive, 1, __ATOMIC_RELAXED);
	kfree(um, M_UPORT);
}

/*
 * Reply um (taken off a port, not yet replied) with error.  An orphan's
 * reply goes to a reply-only port on this stack, which only marks it
 * DONE -- nobody is left to take it -- and the message is freed.
 * uport_token held; never blocks.
 */
static void umsg_reply(struct umsg *um, int error)
{
	struct lwkt_port nowhere;

	KASSERT(lwkt_token_is_held(&uport_token), "umsg_reply without "
		"uport_token: a reply could cross its sender's exit");
	if (um->um_sender != NULL) {
		lwkt_replymsg(&um->um_msg, error);
		return;
	}
	lwkt_initport_replyonly_null(&nowhere);
	um->um_msg.ms_reply_port = &nowhere;
	lwkt_replymsg(&um->um_msg, error);
	lwkt_destroyport(&nowhere);
	umsg_free(um);
}

/*
 * The abort function (lwkt_abortmsg calls it, in a critical section,
 * with ABORTED set and no reply begun).  Still queued: take it off and
 * reply EINTR now.  The port code has no "take this one", but any thread
 * may take from a spin port, so we take them all and forward the others
 * back in their order; under uport_token no send can slip in between.
 * Already held by a server: nothing more -- its reply will come.
 */
static void umsg_abort(lwkt_msg_t msg)
{
	struct lwkt_msg_queue others = TAILQ_HEAD_INITIALIZER(others);
	lwkt_port_t port = msg->ms_target_port;
	lwkt_msg_t m;
	bool found = false;

	KASSERT(lwkt_token_is_held(&uport_token), "umsg_abort without "
		"uport_token");
	if (!(msg->ms_flags & MSGF_QUEUED))
		return;
	while ((m = lwkt_getport(port)) != NULL) {
		if (m == msg)
			found = true;
		else
			TAILQ_INSERT_TAIL(&others, m, ms_node);
	}
	while ((m = TAILQ_FIRST(&others)) != NULL) {
		TAILQ_REMOVE(&others, m, ms_node);
		lwkt_forwardmsg(port, m);
	}
	if (found) {
		umsgs_aborted++;
		umsg_reply((struct umsg *)msg, EINTR);
	}
}

/*
 * The sender gives um up, unreplied: it exits, or a signal ends it
 * while it waits.  um leaves the sender's books and becomes an orphan:
 * whoever replies later (the server, its exit, the port's close) sends
 * the reply into nothing and frees the message (umsg_reply).
 * uport_token held (so no reply can be half done); never blocks.
 */
static void umsg_orphan(struct umsg *um)
{
	struct uport_proc *upp = um->um_sender->p_uport;

	KASSERT(lwkt_token_is_held(&uport_token), "umsg_orphan without "
		"uport_token: a reply could find the sender half gone");
	KASSERT(!(um->um_msg.ms_flags & MSGF_DONE), "umsg_orphan: message "
		"%lu is home already; take it back instead", um->um_id);
	if (um->um_listed) {
		TAILQ_REMOVE(&upp->upp_sent, um, um_slink);
		um->um_listed = false;
	}
	upp->upp_out--;
	um->um_sender = NULL;
}

/* Fill what the program sees of um.  uport_token held. */
static void umsg_export(const struct umsg *um, struct port_msg *pm)
{
	uint32_t f = um->um_msg.ms_flags;

	memset(pm, 0, sizeof(*pm));
	pm->id = um->um_id;
	pm->flags = ((f & MSGF_REPLY) ? PORT_F_REPLY : 0) |
		    ((f & MSGF_ABORTED) ? PORT_F_ABORTED : 0);
	pm->error = (f & MSGF_REPLY) ? um->um_msg.ms_error : 0;
	memcpy(pm->data, um->um_data, PORT_PAYLOAD);
}

/* ----------------------------------------------------------------------- */
/* Processes.                                                              */

/* p's messaging state, made at first use.  p's own thread, uport_token
 * held (may block for memory). */
static struct uport_proc *uport_proc(struct proc *p)
{
	struct uport_proc *upp = p->p_uport;

	if (upp != NULL)
		return upp;
	upp = kmalloc(sizeof(*upp), M_UPORT, M_WAITOK | M_ZERO);
	if (p->p_uport != NULL) {	/* cannot happen: one thread */
		kfree(upp, M_UPORT);
		return p->p_uport;
	}
	lwkt_initport_spin(&upp->upp_home, "uport-home");
	TAILQ_INIT(&upp->upp_sent);
	TAILQ_INIT(&upp->upp_held);
	p->p_uport = upp;
	return upp;
}

void uport_proc_exit(struct proc *p)
{
	struct uport_proc *upp = p->p_uport;
	struct umsg *um;

	if (upp == NULL)
		return;
	KASSERT(p == curproc, "uport_proc_exit: pid %d is not the caller",
		p->p_pid);
	lwkt_gettoken(&uport_token);
	while ((um = TAILQ_FIRST(&upp->upp_held)) != NULL) {
		TAILQ_REMOVE(&upp->upp_held, um, um_hlink);
		umsg_reply(um, EPIPE);		/* the server went away */
	}
	while ((um = TAILQ_FIRST(&upp->upp_sent)) != NULL) {
		if (um->um_msg.ms_flags & MSGF_DONE) {
			lwkt_waitmsg(&um->um_msg, 0);	/* off the home port */
			umsg_free(um);
		} else {
			umsg_orphan(um);
		}
	}
	KASSERT(upp->upp_out == 0, "uport_proc_exit: pid %d still counts %d "
		"messages out after taking back all it had", p->p_pid,
		upp->upp_out);
	lwkt_destroyport(&upp->upp_home);
	p->p_uport = NULL;
	lwkt_reltoken(&uport_token);
	kfree(upp, M_UPORT);
}

/* ----------------------------------------------------------------------- */
/* Ports as files.                                                         */

/* The last descriptor is gone: reply EPIPE to what is queued, destroy. */
static void uport_close(struct ufile *f)
{
	struct uport *up = f->f_data;
	lwkt_msg_t m;

	lwkt_gettoken(&uport_token);
	while ((m = lwkt_getport(&up->up_port)) != NULL)
		umsg_reply((struct umsg *)m, EPIPE);
	lwkt_destroyport(&up->up_port);
	lwkt_reltoken(&uport_token);
	kfree(up, M_UPORT);
	__atomic_sub_fetch(&uports_alive, 1, __ATOMIC_RELAXED);
}

/* fstat of a port: a socket-like special file (S_IFSOCK). */
static int uport_stat(struct ufile *f, struct vattr *va)
{
	memset(va, 0, sizeof(*va));
	va->va_mode = 0140600;
	return 0;
}

static const struct ufileops uport_ops = {
	.name = "port",
	.stat = uport_stat,
	.close = uport_close,
};

/* The port behind descriptor fd of the caller, its ufile referenced in
 * *fp (ufile_rele when done), or NULL: not open, or not a port. */
static struct uport *uport_get(uint64_t fd, struct ufile **fp)
{
	struct ufile *f = fd < PROC_NFILES ? fd_get((int)fd) : NULL;

	if (f == NULL || f->f_ops != &uport_ops)
		return NULL;
	ufile_ref(f);
	*fp = f;
	return f->f_data;
}

/* ----------------------------------------------------------------------- */
/* The system calls.                                                       */

/* port_create(flags): a new port's descriptor. */
int64_t sys_port_create(struct trapframe *tf, const uint64_t *a)
{
	struct uport *up;
	struct ufile *f;
	int fd;

	if (a[0] & ~(uint64_t)PORT_CLOEXEC)
		return -EINVAL;
	up = kmalloc(sizeof(*up), M_UPORT, M_WAITOK | M_ZERO);
	lwkt_initport_spin(&up->up_port, "uport");
	__atomic_add_fetch(&uports_alive, 1, __ATOMIC_RELAXED);
	f = ufile_alloc(&uport_ops, up, O_RDWR);
	fd = fd_alloc(f, 0, (a[0] & PORT_CLOEXEC) ? FD_CLOEXEC : 0);
	if (fd < 0)
		ufile_rele(f);		/* closes the port */
	return fd;
}

/* The payload of the user's struct port_msg at u. */
static int copyin_payload(uint64_t u, uint8_t *data)
{
	return copyin((const uint8_t *)u + __builtin_offsetof(struct port_msg, data),
		      data, PORT_PAYLOAD);
}

/* port_send(fd, msg): send asynchronously; the message's id. */
int64_t sys_port_send(struct trapframe *tf, const uint64_t *a)
{
	uint8_t data[PORT_PAYLOAD];
	struct ufile *f;
	struct uport *up = uport_get(a[0], &f);
	struct uport_proc *upp;
	struct umsg *um;
	int64_t id = -EAGAIN;
	int error;

	if (up == NULL)
		return -EBADF;
	error = copyin_payload(a[1], data);
	if (error) {
		ufile_rele(f);
		return -error;
	}
	lwkt_gettoken(&uport_token);
	upp = uport_proc(curproc);
	um = umsg_new(curproc, data);
	if (um != NULL) {
		id = (int64_t)um->um_id;
		um->um_listed = true;
		TAILQ_INSERT_TAIL(&upp->upp_sent, um, um_slink);
		lwkt_initmsg_abortable(&um->um_msg, &upp->upp_home, 0,
				       umsg_abort);
		lwkt_sendmsg(&up->up_port, &um->um_msg);
	}
	lwkt_reltoken(&uport_token);
	ufile_rele(f);
	return id;
}

/*
 * After an abort for a signal that runs a handler: wait for the one
 * reply, which the server still owes -- unless a signal that ends the
 * process comes first (a SIGKILL, say).  The kernel's signal mark is
 * cleared before each look at the pending signals, so only a signal
 * posted after the look wakes the sleep again; the handler's own signal
 * stays pending and is delivered on the way out.  True: the reply is
 * home; false: the process ends, the message is still out.
 * uport_token held, let go while asleep.
 */
static bool umsg_wait_aborted(lwkt_msg_t msg)
{
	for (;;) {
		lwkt_signal_clear();	/* before the bits are read */
		if (lwkt_checkmsg(msg))
			return true;
		if (sig_ends_in_wait())
			return false;
		lwkt_waitmsg(msg, PCATCH | PCATCH_RETURN);
	}
}

/*
 * Wait for the reply of um, which the caller sent, and take it off the
 * home port: true.  A signal that only stops the process stops it here
 * and the wait goes on (sig_stop_in_wait).  Any other aborts the
 * message: a queued one comes back EINTR at once; for one a server
 * holds, a signal that runs a handler waits on for the reply, and a
 * signal that ends the process -- then or while the reply is awaited --
 * gives it up (umsg_orphan): false, um is no longer the caller's.
 * uport_token held, let go while asleep.  Returns at once if the reply
 * is home already.
 */
static bool umsg_wait(struct umsg *um)
{
	lwkt_msg_t msg = &um->um_msg;

	do {
		lwkt_waitmsg(msg, PCATCH | PCATCH_RETURN);
	} while (!lwkt_checkmsg(msg) && sig_stop_in_wait());
	if (!lwkt_checkmsg(msg)) {
		lwkt_abortmsg(msg);	/* queued: replied EINTR now */
		if (!umsg_wait_aborted(msg)) {
			umsg_orphan(um);
			return false;
		}
	}
	lwkt_waitmsg(msg, 0);		/* off the home port if queued */
	return true;
}

/* port_domsg(fd, msg): send, wait for the reply, return it in msg. */
int64_t sys_port_domsg(struct trapframe *tf, const uint64_t *a)
{
	struct port_msg pm;
	struct ufile *f;
	struct uport *up = uport_get(a[0], &f);
	struct uport_proc *upp;
	struct umsg *um;
	int error;

	if (up == NULL)
		return -EBADF;
	error = copyin_payload(a[1], pm.data);
	if (error) {
		ufile_rele(f);
		return -error;
	}
	lwkt_gettoken(&uport_token);
	upp = uport_proc(curproc);
	um = umsg_new(curproc, pm.data);
	error = um == NULL ? EAGAIN : 0;
	if (um != NULL) {
		lwkt_initmsg_abortable(&um->um_msg, &upp->upp_home, 0,
				       umsg_abort);
		lwkt_domsg(&up->up_port, &um->um_msg,
			   PCATCH | PCATCH_RETURN);
		if (umsg_wait(um)) {	/* at once unless a signal came */
			umsg_export(um, &pm);
			umsg_free(um);
		} else {
			error = EINTR;	/* the process ends: no reply */
		}
	}
	lwkt_reltoken(&uport_token);
	ufile_rele(f);
	if (error)
		return -error;
	return -copyout(&pm, (void *)a[1], sizeof(pm));
}

/*
 * The next request on up for the caller to serve, or NULL with *errorp
 * (EAGAIN with PORT_NOWAIT, EINTR when killed).  One that was aborted
 * while queued is replied EINTR here and skipped.  uport_token held.
 */
static struct umsg *take_request(struct uport *up, int flags, int *errorp)
{
	for (;;) {
		lwkt_msg_t m;

		*errorp = EAGAIN;
		if (flags & PORT_NOWAIT)
			m = lwkt_getport(&up->up_port);
		else
			m = lwkt_waitport(&up->up_port, PCATCH, 0, errorp);
		if (m == NULL || !(m->ms_flags & MSGF_ABORTED))
			return (struct umsg *)m;
		umsg_reply((struct umsg *)m, EINTR);
	}
}

/* port_wait(fd, msg, flags): take the next request, held for a reply. */
int64_t sys_port_wait(struct trapframe *tf, const uint64_t *a)
{
	struct port_msg pm;
	struct ufile *f;
	struct uport *up = uport_get(a[0], &f);
	struct uport_proc *upp;
	struct umsg *um;
	int error;

	if (up == NULL)
		return -EBADF;
	memset(&pm, 0, sizeof(pm));
	error = (a[2] & ~(uint64_t)PORT_NOWAIT) ? EINVAL
		: copyout(&pm, (void *)a[1], sizeof(pm));  /* writable? */
	if (error) {
		ufile_rele(f);
		return -error;
	}
	lwkt_gettoken(&uport_token);
	upp = uport_proc(curproc);
	um = take_request(up, (int)a[2], &error);
	if (um != NULL) {
		TAILQ_INSERT_TAIL(&upp->upp_held, um, um_hlink);
		umsg_export(um, &pm);
	}
	lwkt_reltoken(&uport_token);
	ufile_rele(f);
	if (um == NULL)
		return -error;
	return -copyout(&pm, (void *)a[1], sizeof(pm));
}

/* The request id the caller holds, or NULL.  uport_token held. */
static struct umsg *held_find(struct proc *p, uint64_t id)
{
	struct umsg *um;

	if (p->p_uport == NULL)
		return NULL;
	TAILQ_FOREACH(um, &p->p_uport->upp_held, um_hlink)
		if (um->um_id == id)
			return um;
	return NULL;
}

/* port_reply(id, msg or NULL, error): 0, or 1 if it had been aborted. */
int64_t sys_port_reply(struct trapframe *tf, const uint64_t *a)
{
	uint8_t data[PORT_PAYLOAD];
	struct umsg *um;
	int64_t rv = -ENOENT;
	int error;

	if (a[2] > UPORT_MAX_ERROR)
		return -EINVAL;
	memset(data, 0, sizeof(data));
	if (a[1] != 0 && (error = copyin_payload(a[1], data)) != 0)
		return -error;
	lwkt_gettoken(&uport_token);
	um = held_find(curproc, a[0]);
	if (um != NULL) {
		TAILQ_REMOVE(&curproc->p_uport->upp_held, um, um_hlink);
		memcpy(um->um_data, data, PORT_PAYLOAD);
		rv = (um->um_msg.ms_flags & MSGF_ABORTED) ? 1 : 0;
		umsg_reply(um, (int)a[2]);
	}
	lwkt_reltoken(&uport_token);
	return rv;
}

/* The message id the caller sent and has not taken back, or NULL.
 * uport_token held. */
static struct umsg *sent_find(struct proc *p, uint64_t id)
{
	struct umsg *um;

	if (p->p_uport == NULL)
		return NULL;
	TAILQ_FOREACH(um, &p->p_uport->upp_sent, um_slink)
		if (um->um_id == id)
			return um;
	return NULL;
}

/*
 * The reply of message id (0: the first to come home), taken off the
 * home port; NULL with *errorp (ENOENT, EAGAIN, EINTR).  uport_token
 * held.
 */
static struct umsg *take_reply(struct proc *p, uint64_t id, int flags,
			       int *errorp)
{
	struct uport_proc *upp = uport_proc(p);
	struct umsg *um;

	*errorp = EAGAIN;
	if (id == 0 && (flags & PORT_NOWAIT))
		return (struct umsg *)lwkt_getport(&upp->upp_home);
	if (id == 0)
		return (struct umsg *)lwkt_waitport(&upp->upp_home, PCATCH, 0,
						    errorp);
	um = sent_find(p, id);
	if (um == NULL)
		*errorp = ENOENT;
	else if ((flags & PORT_NOWAIT) && !lwkt_checkmsg(&um->um_msg))
		um = NULL;
	else if (!umsg_wait(um)) {
		*errorp = EINTR;	/* the process ends: um orphaned */
		um = NULL;
	}
	return um;
}

/* port_waitmsg(id, msg, flags): a reply that came home, into msg. */
int64_t sys_port_waitmsg(struct trapframe *tf, const uint64_t *a)
{
	struct port_msg pm;
	struct umsg *um;
	int error;

	memset(&pm, 0, sizeof(pm));
	error = (a[2] & ~(uint64_t)PORT_NOWAIT) ? EINVAL
		: copyout(&pm, (void *)a[1], sizeof(pm));
	if (error)
		return -error;
	lwkt_gettoken(&uport_token);
	um = take_reply(curproc, a[0], (int)a[2], &error);
	if (um != NULL) {
		umsg_export(um, &pm);
		umsg_free(um);
	}
	lwkt_reltoken(&uport_token);
	if (um == NULL)
		return -error;
	return -copyout(&pm, (void *)a[1], sizeof(pm));
}

/* port_abort(id): ask for a message the caller sent back. */
int64_t sys_port_abort(struct trapframe *tf, const uint64_t *a)
{
	struct umsg *um;

	lwkt_gettoken(&uport_token);
	um = sent_find(curproc, a[0]);
	if (um != NULL)
		lwkt_abortmsg(&um->um_msg);
	lwkt_reltoken(&uport_token);
	return um != NULL ? 0 : -ENOENT;
}

/* ----------------------------------------------------------------------- */
/* Counting.                                                               */

uint64_t uport_count(void)
{
	return __atomic_load_n(&uports_alive, __ATOMIC_RELAXED) +
	       __atomic_load_n(&umsgs_alive, __ATOMIC_RELAXED);
}
KTEST_LEAKCHECK(uports, "user ports and messages", uport_count, NULL);

void uport_print_stats(void)
{
	kprintf("  user ports: %lu alive, %lu messages in flight, %lu sent, "
		"%lu taken back by an abort\n",
		__atomic_load_n(&uports_alive, __ATOMIC_RELAXED),
		__atomic_load_n(&umsgs_alive, __ATOMIC_RELAXED), umsgs_sent,
		umsgs_aborted);
}
