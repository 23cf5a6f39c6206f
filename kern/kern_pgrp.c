/*
 * kern_pgrp.c - process groups and sessions: what Ctrl-C and a shell's
 * jobs stand on.
 *
 * A shell runs each pipeline as a *process group*, so that one signal
 * reaches all of its processes, and the terminal knows one group as its
 * *foreground* group: the one Ctrl-C interrupts (kern/tty.c).  A
 * *session* is the set of groups started from one login; its leader is
 * the process that made it, and the console can be the controlling
 * terminal of one session at a time.
 *
 *   session 7 (leader: sh, pid 7; the console's session)
 *   +-- group 7   sh
 *   +-- group 12  ls | wc          <- the console's foreground group
 *   +-- group 15  sleep 100 &
 *
 * There are no group or session structures: a process carries two
 * numbers, p_pgid and p_sid, and a group is the set of processes with
 * the same p_pgid.  It exists while any of them does, a zombie too (as
 * in Linux, where a zombie keeps its group until it is reaped).  The
 * lists are short, so finding a group is a walk of allproc.
 *
 * Who is in what: a program the kernel starts leads a new session and a
 * new group, both numbered by its pid; fork copies both numbers; execve
 * keeps them.  The rules of the calls are Linux's, with its errno values:
 *
 *   setpgid(pid, pgid)  pid 0: the caller; pgid 0: pgid = pid; pgid < 0
 *                       EINVAL.  pid must be the caller or its child
 *                       (else ESRCH); a child in another session EPERM,
 *                       one that has called execve EACCES; a session
 *                       leader cannot move (EPERM); a group other than
 *                       its own number must exist in the same session
 *                       (EPERM).
 *   setsid()            EPERM if a group with the caller's pid exists
 *                       (the caller leads one); else a new session and
 *                       group, numbered by its pid, with no terminal.
 *   getpgid, getsid     any process; ESRCH if none.
 *
 * Orphaned groups and hang-ups (POSIX XBD 3.250, XSH exit()).  A group
 * is *orphaned* when no member has a parent in another group of the same
 * session: nobody is left whose job control could continue a stopped
 * member.  So a member of an orphaned group never stops for SIGTSTP,
 * SIGTTIN or SIGTTOU (kern/kern_sig.c drops them), and the console answers
 * its background reads and TOSTOP writes with EIO (kern/tty.c).  When an
 * exit makes a group orphaned -- the exiting process was the link, or
 * the parent of the link -- and a member is stopped, every member gets
 * SIGHUP and then SIGCONT: it wakes to a hang-up instead of sleeping for
 * ever.  A group the kernel started (its leader's parent is the kernel)
 * is orphaned from birth, so ^Z never stops the kernel shell's `run`.
 *
 *   session 7 (the console's)
 *   +-- group 7   sh             the link: sh is the parent of 12's
 *   +-- group 12  vi  (stopped)    members, in another group of 7
 *   sh exits: group 12 is orphaned, with a stopped member: SIGHUP, SIGCONT
 *
 * The controlling process -- the leader of the console's session -- ends:
 * the console is nobody's, and its foreground group gets SIGHUP.
 *
 * Locking: proc_token protects p_pgid and p_sid, like the rest of the
 * process list.  The console's session and foreground group are
 * kern/tty.c's, under its spinlock, taken inside proc_token when needed.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kernel.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <kern/signal.h>
#include <kern/syscall.h>
#include <kern/thread.h>
#include <kern/tty.h>

/* Is any process (any state) in group pgid?  proc_token held. */
static struct proc *pgrp_member(int pgid)
{
	struct proc *p;

	TAILQ_FOREACH(p, &allproc, p_list)
		if (p->p_pgid == pgid)
			return p;
	return NULL;
}

int pgrp_in_session(int pgid, int sid)
{
	struct proc *m;
	int error;

	lwkt_gettoken(&proc_token);
	m = pgid > 0 ? pgrp_member(pgid) : NULL;
	error = m == NULL ? ESRCH : m->p_sid != sid ? EPERM : 0;
	lwkt_reltoken(&proc_token);
	return error;
}

/* Post sig (0: none) to every running process for which match(p, arg)
 * holds and that is not skip.  Returns how many matched, in any state.
 * proc_token held. */
static int post_matching(bool (*match)(const struct proc *, int), int arg,
			 const struct proc *skip, int sig)
{
	struct proc *p, *self = curproc;
	int found = 0;

	TAILQ_FOREACH(p, &allproc, p_list) {
		if (p == skip || !match(p, arg))
			continue;
		found++;
		if (sig != 0 && p->p_stat == PS_RUN)
			sig_post(p, sig, self != NULL ? self->p_pid : 0);
	}
	return found;
}

static bool in_group(const struct proc *p, int pgid)
{
	return p->p_pgid == pgid;
}

static bool any_process(const struct proc *p, int unused)
{
	return true;
}

int pgrp_kill(int pgid, int sig)
{
	int found;

	KASSERT(curthread != NULL, "pgrp_kill outside a thread");
	if (sig < 0 || sig >= NSIG)
		return EINVAL;
	lwkt_gettoken(&proc_token);
	found = pgid > 0 ? post_matching(in_group, pgid, NULL, sig) : 0;
	lwkt_reltoken(&proc_token);
	return found > 0 ? 0 : ESRCH;
}

int pgrp_kill_all(int sig)
{
	int found;

	if (sig < 0 || sig >= NSIG)
		return EINVAL;
	lwkt_gettoken(&proc_token);
	found = post_matching(any_process, 0, curproc, sig);
	lwkt_reltoken(&proc_token);
	return found > 0 ? 0 : ESRCH;
}

bool pgrp_wait_match(const struct proc *c, const struct proc *p, int pid)
{
	if (pid > 0)
		return c->p_pid == pid;
	if (pid == -1)
		return true;
	return c->p_pgid == (pid == 0 ? p->p_pgid : -pid);
}

/* Is group pgid orphaned if process gone (NULL: none) is not counted?
 * Zombies are no members; a parent that is the kernel (NULL) is outside
 * every session.  proc_token held. */
static bool orphaned_without(int pgid, const struct proc *gone)
{
	struct proc *m;

	TAILQ_FOREACH(m, &allproc, p_list) {
		const struct proc *pp = m->p_pptr;

		if (m->p_pgid != pgid || m == gone || m->p_stat == PS_ZOMBIE)
			continue;
		if (pp != NULL && pp->p_pgid != pgid && pp->p_sid == m->p_sid)
			return false;	/* a link to the session */
	}
	return true;
}

bool pgrp_is_orphaned(int pgid)
{
	KASSERT(lwkt_token_is_held(&proc_token),
		"pgrp_is_orphaned without proc_token");
	return orphaned_without(pgid, NULL);
}

/* Is a member of group pgid (but gone) stopped?  proc_token held. */
static bool has_stopped(int pgid, const struct proc *gone)
{
	struct proc *m;

	TAILQ_FOREACH(m, &allproc, p_list)
		if (m->p_pgid == pgid && m != gone && m->p_stat == PS_RUN &&
		    m->p_stopped)
			return true;
	return false;
}

void pgrp_orphan_hangup(const struct proc *m, const struct proc *link,
			const struct proc *gone)
{
	int pgid = m->p_pgid;

	KASSERT(lwkt_token_is_held(&proc_token),
		"pgrp_orphan_hangup without proc_token");
	if (link == NULL || link->p_pgid == pgid || link->p_sid != m->p_sid)
		return;			/* link was no link */
	if (!orphaned_without(pgid, gone) || !has_stopped(pgid, gone))
		return;
	post_matching(in_group, pgid, gone, SIGHUP);
	post_matching(in_group, pgid, gone, SIGCONT);
}

void pgrp_exit(struct proc *p)
{
	int fg;

	KASSERT(lwkt_token_is_held(&proc_token),
		"pgrp_exit: process %d exits without proc_token", p->p_pid);
	pgrp_orphan_hangup(p, p->p_pptr, p);
	if (p->p_sid != p->p_pid)
		return;
	fg = tty_session_end(p->p_sid);	/* the controlling process ends */
	if (fg > 0)
		post_matching(in_group, fg, p, SIGHUP);
}

/* setpgid's checks on the process to move (see the rules above).
 * proc_token held. */
static int setpgid_target(struct proc *self, int pid, struct proc **tp)
{
	struct proc *t = pid == self->p_pid ? self : proc_find(pid);

	if (t == NULL || (t != self && t->p_pptr != self))
		return ESRCH;
	if (t != self && t->p_sid != self->p_sid)
		return EPERM;
	if (t != self && t->p_execed)
		return EACCES;
	if (t->p_sid == t->p_pid)
		return EPERM;		/* a session leader stays put */
	*tp = t;
	return 0;
}

/* setpgid(pid, pgid), Linux 109. */
int64_t sys_setpgid(struct trapframe *tf, const uint64_t *a)
{
	struct proc *self = curproc, *t = NULL, *m;
	int pid = (int)a[0], pgid = (int)a[1], error;

	if (pgid < 0)
		return -EINVAL;
	if (pid < 0)
		return -ESRCH;
	pid = pid == 0 ? self->p_pid : pid;
	pgid = pgid == 0 ? pid : pgid;
	lwkt_gettoken(&proc_token);
	error = setpgid_target(self, pid, &t);
	if (error == 0 && pgid != t->p_pid) {
		m = pgrp_member(pgid);
		if (m == NULL || m->p_sid != self->p_sid)
			error = EPERM;
	}
	if (error == 0)
		t->p_pgid = pgid;
	lwkt_reltoken(&proc_token);
	return -error;
}

/* getpgid(pid) (Linux 121) and getsid(pid) (124); which: 0 group, 1
 * session. */
static int64_t get_ids(int pid, int which)
{
	struct proc *p;
	int64_t rv;

	if (pid < 0)
		return -ESRCH;
	lwkt_gettoken(&proc_token);
	p = pid == 0 ? curproc : proc_find(pid);
	rv = p == NULL ? -ESRCH : which == 0 ? p->p_pgid : p->p_sid;
	lwkt_reltoken(&proc_token);
	return rv;
}

int64_t sys_getpgid(struct trapframe *tf, const uint64_t *a)
{
	return get_ids((int)a[0], 0);
}

int64_t sys_getsid(struct trapframe *tf, const uint64_t *a)
{
	return get_ids((int)a[0], 1);
}

/* getpgrp(), Linux 111: getpgid(0). */
int64_t sys_getpgrp(struct trapframe *tf, const uint64_t *a)
{
	return get_ids(0, 0);
}

/* setsid(), Linux 112: returns the new session's number. */
int64_t sys_setsid(struct trapframe *tf, const uint64_t *a)
{
	struct proc *self = curproc;
	int64_t rv = -EPERM;

	lwkt_gettoken(&proc_token);
	if (pgrp_member(self->p_pid) == NULL) {
		self->p_pgid = self->p_pid;
		self->p_sid = self->p_pid;
		rv = self->p_pid;
	}
	lwkt_reltoken(&proc_token);
	return rv;
}
