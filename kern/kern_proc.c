/*
 * kern_proc.c - processes: creation, fork, exit, wait, and the process
 * list.
 *
 * A process is born one of two ways.  The kernel starts a program with
 * proc_spawn (the shell's `run`, the tests): the image is built in a new
 * address space by the caller (kern_exec.c), then a thread is made whose
 * first act is to enter user mode at the program's entry point.  A process
 * forks (proc_fork): the child gets a copy-on-write view of the parent's
 * address space (vmspace_fork), references to the same open files, and a
 * thread that enters user mode with the parent's registers, except RAX =
 * 0 -- fork's return value in the child.
 *
 * Either way the new thread starts in the kernel (proc_thread_start) and
 * enters user mode through user_enter, which copies the prepared user
 * frame to the top of its kernel stack:
 *
 *   p_startframe (in struct proc) --copied--> top of the thread's stack
 *                                             --> user_return --> IRETQ
 *
 * The end.  proc_exit runs on the process's own thread: it closes the
 * files, leaves and frees the address space, gives its children away
 * (they become orphans, reaped by the kernel when they exit), becomes a
 * ZOMBIE holding its wait status, wakes its parent and lets its thread
 * exit.  The parent's wait4 (or the kernel's proc_wait) joins the thread
 * -- so its kernel stack is surely freed -- and frees the process.
 *
 *     NEW --start--> RUN --proc_exit--> ZOMBIE --wait4/proc_wait--> freed
 *                   |   ^
 *       stop signal v   | SIGCONT        (kern/kern_sig.c; ps: "stop")
 *                  stopped
 *
 * wait4 reports an exit always; with WUNTRACED a stop and with WCONTINUED
 * a continue too, once each (p_waitevent), without reaping the child.
 *
 * The lists.  Every process, in any state, is on allproc (p_list) from
 * proc_alloc to proc_free.  Its p_sibling link is on at most one list:
 *
 *   p_pptr != NULL         on the parent's p_children (alive or zombie)
 *   p_pptr == NULL,        a child of the kernel (proc_spawn): on no
 *     !p_orphan            list; proc_wait finds it by pid on allproc
 *   p_orphan, not ZOMBIE   on no list (its parent exited first)
 *   p_orphan, ZOMBIE       on orphan_zombies, until reap_orphans
 *
 * So a zombie always has exactly one reaper: its parent's wait4, the
 * kernel's proc_wait, or reap_orphans, which runs at the start of
 * spawn, fork, wait4 and proc_count.  The reaper joins the thread
 * (lwkt_thread_join) before it frees the struct proc, because the dying
 * thread still runs on its kernel stack after it has become a zombie.
 *
 * CPUs.  A new process's thread is placed on the next CPU in turn
 * (next_cpu) or the one spawn_opts names, and stays there: the LWKT
 * scheduler never moves a thread.
 *
 * Locking: proc_token for the process list, the parent/child links,
 * p_stat and p_xstat; sleeping parents use tsleep_interlock under it, so
 * an exit between their look and their sleep still wakes them.  The fd
 * table, the cwd and the machine state belong to the process's own
 * thread (or to its maker before the thread starts); p_vmspace is
 * changed by the own thread under proc_token too, since the OOM killer
 * (kern_oom.c) reads other processes' sizes.  proc_token is a token, not
 * a spinlock: a holder may block (proc_free's join does), and the token
 * is let go while it sleeps and held again when it wakes.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/file.h>
#include <kern/globaldata.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <kern/signal.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/tty.h>
#include <kern/uport.h>
#include <machine/frame.h>
#include <vm/vm_map.h>
#include <vm/vm_page.h>

MALLOC_DEFINE(M_PROC, "proc", "user processes");

/* Guards the lists below and the fields of struct proc marked so. */
struct lwkt_token proc_token = LWKT_TOKEN_INITIALIZER("proc");

struct proclist allproc = TAILQ_HEAD_INITIALIZER(allproc); /* proc_token */
/* Orphans that exited: nobody waits for them, the kernel reaps them.
 * Linked through p_sibling; proc_token. */
static TAILQ_HEAD(, proc) orphan_zombies =
	TAILQ_HEAD_INITIALIZER(orphan_zombies);
static int next_pid = 1;		/* proc_token */
static int nprocs;			/* proc_token */
static int next_cpu;			/* round robin, atomic increment:
					 * only the spread depends on it */

#define FCW_DEFAULT   0x037f	/* x87: all exceptions masked, 64-bit */
#define MXCSR_DEFAULT 0x1f80	/* SSE: all exceptions masked */

/* The calling thread's process, or NULL in a kernel thread.  Any
 * context; no lock: td_proc changes only on its own thread. */
struct proc *curproc_get(void)
{
	return curthread->td_proc;
}

/* ----------------------------------------------------------------------- */
/* Making and freeing processes.                                           */

/* A pid no process on allproc has (zombies keep theirs until reaped),
 * counting up and wrapping to 2 after 99999.  proc_token held. */
static int pid_alloc(void)
{
	KASSERT(lwkt_token_is_held(&proc_token), "pid_alloc without "
		"proc_token: two new processes could get the same pid");
	for (;;) {
		struct proc *p;
		int pid = next_pid++;

		if (next_pid > 99999)
			next_pid = 2;
		TAILQ_FOREACH(p, &allproc, p_list)
			if (p->p_pid == pid)
				break;
		if (p == NULL)
			return pid;
	}
}

/* A new process in state NEW, on the process list, with no address space,
 * no files and a clean FPU.  Thread context. */
static struct proc *proc_alloc(const char *comm, struct proc *parent)
{
	struct proc *p = kmalloc(sizeof(*p), M_PROC, M_WAITOK | M_ZERO);

	strlcpy(p->p_comm, comm, sizeof(p->p_comm));
	strlcpy(p->p_cwd, "/", sizeof(p->p_cwd));
	p->p_umask = 022;
	*(uint16_t *)&p->p_md.fxsave[0] = FCW_DEFAULT;
	*(uint32_t *)&p->p_md.fxsave[24] = MXCSR_DEFAULT;
	TAILQ_INIT(&p->p_children);
	lwkt_gettoken(&proc_token);
	p->p_pid = pid_alloc();
	p->p_pptr = parent;
	/* A fork stays in its parent's group and session; a spawned
	 * program leads a new session and group (kern_pgrp.c). */
	p->p_pgid = parent != NULL ? parent->p_pgid : p->p_pid;
	p->p_sid = parent != NULL ? parent->p_sid : p->p_pid;
	if (parent != NULL)
		TAILQ_INSERT_TAIL(&parent->p_children, p, p_sibling);
	TAILQ_INSERT_TAIL(&allproc, p, p_list);
	nprocs++;
	lwkt_reltoken(&proc_token);
	return p;
}

/* Unlink a zombie (or a NEW process that never ran) and free it, after
 * its thread is surely gone.  The caller has taken p off orphan_zombies
 * if it was there.  proc_token held; may block in the join. */
static void proc_free(struct proc *p)
{
	KASSERT(lwkt_token_is_held(&proc_token), "proc_free without "
		"proc_token: the lists it unlinks p from are the token's");
	TAILQ_REMOVE(&allproc, p, p_list);
	if (p->p_pptr != NULL)
		TAILQ_REMOVE(&p->p_pptr->p_children, p, p_sibling);
	nprocs--;
	if (p->p_thread != NULL)
		lwkt_thread_join(p->p_thread);	/* may block: token let go */
	kfree(p, M_PROC);
}

/* Reap the orphans that exited.  Any thread context. */
static void reap_orphans(void)
{
	lwkt_gettoken(&proc_token);
	while (!TAILQ_EMPTY(&orphan_zombies)) {
		struct proc *p = TAILQ_FIRST(&orphan_zombies);

		TAILQ_REMOVE(&orphan_zombies, p, p_sibling);
		p->p_pptr = NULL;
		proc_free(p);
	}
	lwkt_reltoken(&proc_token);
}
KTEST_DRAIN(proc_orphans, "exited orphan processes", reap_orphans);

/*
 * The first code of every process's thread: into user mode.  user_enter
 * copies the prepared frame to the top of the kernel stack, where every
 * later entry from user mode leaves one, and returns through it.  (Run
 * from p_startframe itself, the kernel's calls on the way out would be
 * written over the struct proc below it.)
 */
static void proc_thread_start(void *arg)
{
	struct proc *p = arg;

	KASSERT(curthread->td_proc == p, "process thread started without "
		"its process");
	user_enter(&p->p_startframe, proc_frame(curthread));
}

/* Give p its thread, on a CPU chosen in turn (or cpu), and start it:
 * p goes NEW -> RUN.  Returns 0, or lwkt_create's error with p still NEW
 * and threadless.  Thread context; takes proc_token. */
static int proc_start(struct proc *p, int cpu)
{
	struct thread *td;
	int error;

	if (cpu < 0)
		cpu = __atomic_fetch_add(&next_cpu, 1, __ATOMIC_RELAXED) % ncpus;
	error = lwkt_create(proc_thread_start, p, &td, TDF_NOSTART, cpu,
			    "%s[%d]", p->p_comm, p->p_pid);
	if (error)
		return error;
	td->td_pri = TDPRI_USER_NORM;
	td->td_proc = p;
	p->p_thread = td;
	lwkt_gettoken(&proc_token);
	p->p_stat = PS_RUN;
	lwkt_reltoken(&proc_token);
	lwkt_schedule(td);
	return 0;
}

/* ----------------------------------------------------------------------- */
/* Starting programs and forking.                                          */

/* Close every descriptor of p.  Its own thread, or its maker's before it
 * runs (the fd table has no lock: one thread at a time owns it). */
static void fd_close_all(struct proc *p)
{
	for (int fd = 0; fd < PROC_NFILES; fd++) {
		if (p->p_fd[fd] != NULL) {
			ufile_rele(p->p_fd[fd]);
			p->p_fd[fd] = NULL;
		}
	}
}

/* Descriptors 0, 1 and 2 from opts (console where NULL), each with a
 * reference of its own.  Before p runs. */
static void fd_setup_stdio(struct proc *p, const struct spawn_opts *opts)
{
	for (int fd = 0; fd < 3; fd++) {
		struct ufile *f = opts != NULL ? opts->stdio[fd] : NULL;

		if (f != NULL)
			ufile_ref(f);
		p->p_fd[fd] = f != NULL ? f : ufile_console();
	}
}

/* The part of path after its last '/' (all of it when there is none):
 * a pointer into path.  Any context. */
const char *path_basename(const char *path)
{
	const char *base = path;

	for (; *path != '\0'; path++)
		if (*path == '/')
			base = path + 1;
	return base;
}

/* Undo a process that never ran (or whose thread was never made): its
 * descriptors, its address space if it has one, its struct proc. */
static void proc_unmake(struct proc *p)
{
	fd_close_all(p);
	if (p->p_vmspace != NULL)
		vmspace_free(p->p_vmspace);
	lwkt_gettoken(&proc_token);
	proc_free(p);
	lwkt_reltoken(&proc_token);
}

/*
 * Start the program at path as a child of the kernel (kern/proc.h).
 * Returns 0 with *pidp, or an error with nothing left behind.  Thread
 * context; may block (the image is read and built on the caller's
 * thread); takes proc_token.  The caller reaps it with proc_wait.
 */
int proc_spawn(const char *path, char *const argv[], char *const envp[],
	       const struct spawn_opts *opts, int *pidp)
{
	struct proc *p;
	int error;

	KASSERT(pidp != NULL, "proc_spawn: nowhere to put the pid");
	reap_orphans();
	p = proc_alloc(path_basename(path), NULL);
	fd_setup_stdio(p, opts);
	error = exec_image(p, path, argv, envp);
	if (error == 0 && opts != NULL && opts->ctty)
		tty_take(p->p_sid, p->p_pgid);	/* before it can ask */
	if (error == 0)
		error = proc_start(p, opts != NULL ? opts->cpu : -1);
	if (error) {
		proc_unmake(p);
		return error;
	}
	*pidp = p->p_pid;
	return 0;
}

/* Save this CPU's live x87/SSE registers to area (512 bytes, 16-byte
 * aligned; SDM vol. 1, 10.5.1). */
static inline void fxsave_now(void *area)
{
	__asm__ volatile("fxsave64 (%0)" : : "r"(area) : "memory");
}

/* What a fork takes from the kernel before the child runs: its kernel
 * stack, its PML4, and kmalloc zones for the process, map entries and
 * objects.  Asked for above the reserve (vm_page_user_room). */
#define FORK_PAGES (LWKT_STACK_SIZE / PAGE_SIZE + 1 + VM_USER_CALL_PAGES)

/* The child shares the parent's open files (a reference each, offsets
 * shared), with the same FD_CLOEXEC flags, cwd and umask.  Parent's
 * thread, before the child runs. */
static void fork_files(struct proc *child, const struct proc *parent)
{
	for (int fd = 0; fd < PROC_NFILES; fd++) {
		if (parent->p_fd[fd] != NULL)
			ufile_ref(parent->p_fd[fd]);
		child->p_fd[fd] = parent->p_fd[fd];
		child->p_fdflags[fd] = parent->p_fdflags[fd];
	}
	memcpy(child->p_cwd, parent->p_cwd, sizeof(child->p_cwd));
	child->p_umask = parent->p_umask;
}

/* The child's registers: the parent's FPU state as it is now (the
 * parent's thread runs here, so the CPU holds it), its FS base, and its
 * user frame with RAX = 0. */
static void fork_registers(struct proc *child, const struct proc *parent,
			   const struct trapframe *tf)
{
	fxsave_now(child->p_md.fxsave);	/* the parent's live registers */
	child->p_md.fs_base = parent->p_md.fs_base;
	child->p_startframe = *tf;
	child->p_startframe.tf_rax = 0;	/* fork returns 0 in the child */
}

/*
 * Fork the calling process (kern/proc.h).  Returns the child's pid, or
 * -ENOMEM when memory is short (nothing is made), or -error from
 * lwkt_create.  The calling process's own thread, in a system call (the
 * FPU registers saved are the CPU's); may block; takes proc_token.
 */
int proc_fork(struct trapframe *tf)
{
	struct proc *parent = curproc, *child;
	int error;

	KASSERT(parent != NULL, "proc_fork in kernel thread \"%s\"",
		curthread->td_comm);
	reap_orphans();
	if (!vm_page_user_room(FORK_PAGES))
		return -ENOMEM;		/* as Linux's fork when memory is short */
	child = proc_alloc(parent->p_comm, parent);
	child->p_vmspace = vmspace_fork(parent->p_vmspace);
	fork_files(child, parent);
	sig_fork(child, parent);
	fork_registers(child, parent, tf);
	error = proc_start(child, -1);
	if (error) {
		proc_unmake(child);
		return -error;
	}
	return child->p_pid;
}

/* ----------------------------------------------------------------------- */
/* The end of a process.                                                   */

/* Hand p's children over: each becomes an orphan; one that is already a
 * zombie goes straight to the kernel's reap list.  proc_token held,
 * from the exit's first look at the children to its ZOMBIE state, so
 * none of them can exit unseen in between. */
static void orphan_children(struct proc *p)
{
	while (!TAILQ_EMPTY(&p->p_children)) {
		struct proc *c = TAILQ_FIRST(&p->p_children);

		TAILQ_REMOVE(&p->p_children, c, p_sibling);
		c->p_pptr = NULL;
		c->p_orphan = true;
		if (c->p_stat == PS_ZOMBIE)
			TAILQ_INSERT_TAIL(&orphan_zombies, c, p_sibling);
		else
			pgrp_orphan_hangup(c, p, p);	/* p was its link? */
	}
}

/*
 * The exiting thread becomes a kernel thread: it loads the kernel's page
 * tables (critical section: no switch may load the old CR3 between the
 * two steps) and frees the address space, which no CPU has loaded for
 * this thread any more.  Own thread; takes proc_token.
 */
static void proc_leave_vmspace(struct thread *td, struct proc *p)
{
	struct vmspace *vm = p->p_vmspace;

	crit_enter();
	pmap_activate(NULL);
	td->td_proc = NULL;
	crit_exit();
	lwkt_gettoken(&proc_token);	/* kern_oom.c reads it */
	p->p_vmspace = NULL;
	lwkt_reltoken(&proc_token);
	vmspace_free(vm);
}

/*
 * The order matters.  Files and ports go first, while the process can
 * still be named in messages; then the address space, after the thread
 * has left it.  Under proc_token, at once for everybody: the children
 * become orphans (each one's group may be orphaned by that: a stopped
 * one is hung up, kern_pgrp.c), then p's own group and the console
 * (pgrp_exit: SIGHUP to the foreground group if p led the console's
 * session), and only then does p become a ZOMBIE and its parent hear of
 * it -- so a parent that wait4s for p finds those signals already sent.
 *
 * Contract: ends the calling process with wait status xstat and never
 * returns.  Its own thread; it blocks (closing files, freeing memory),
 * so the caller holds no spinlock and is in no critical section.
 */
void proc_exit(int xstat)
{
	struct thread *td = curthread;
	struct proc *p = td->td_proc;

	KASSERT(p != NULL, "proc_exit in kernel thread \"%s\"", td->td_comm);
	fd_close_all(p);
	uport_proc_exit(p);		/* after its ports closed */
	proc_leave_vmspace(td, p);
	lwkt_gettoken(&proc_token);
	orphan_children(p);
	pgrp_exit(p);
	p->p_stopped = false;		/* a SIGKILL can end a stopped one */
	p->p_waitevent = PWE_NONE;
	p->p_xstat = xstat;
	p->p_stat = PS_ZOMBIE;
	if (p->p_orphan)
		TAILQ_INSERT_TAIL(&orphan_zombies, p, p_sibling);
	else if (p->p_pptr != NULL && p->p_pptr->p_stat == PS_RUN)
		sig_post(p->p_pptr, SIGCHLD, p->p_pid);
	wakeup(p->p_pptr != NULL ? (void *)p->p_pptr : (void *)p);
	lwkt_reltoken(&proc_token);
	lwkt_exit();
}

/* "SIGSEGV" for SIGSEGV and so on, "a signal" for a number without a
 * name here.  Any context. */
const char *signal_name(int sig)
{
	static const char *const names[] = {
		[SIGHUP] = "SIGHUP",   [SIGINT] = "SIGINT",
		[SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL",
		[SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",
		[SIGBUS] = "SIGBUS",   [SIGFPE] = "SIGFPE",
		[SIGKILL] = "SIGKILL", [SIGUSR1] = "SIGUSR1",
		[SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
		[SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM",
		[SIGTERM] = "SIGTERM", [SIGCHLD] = "SIGCHLD",
		[SIGCONT] = "SIGCONT", [SIGSTOP] = "SIGSTOP",
		[SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN",
		[SIGTTOU] = "SIGTTOU",
	};

	if (sig > 0 && sig < (int)nitems(names) && names[sig] != NULL)
		return names[sig];
	return "a signal";
}

/* Print why the calling process dies, then proc_exit with the signal's
 * wait status.  Own thread, from a trap (kern/proc.h); never returns. */
void proc_fault_kill(int sig, const char *fmt, ...)
{
	struct proc *p = curproc;
	char why[160];
	va_list ap;

	KASSERT(p != NULL, "proc_fault_kill in kernel thread \"%s\": a "
		"kernel fault is a panic, not a kill", curthread->td_comm);
	va_start(ap, fmt);
	kvsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	kprintf("pid %d (%s): killed by %s: %s\n", p->p_pid, p->p_comm,
		signal_name(sig), why);
	proc_exit(W_SIGNALED(sig));
}

/* The process pid in any state (zombies too), or NULL: a walk of
 * allproc.  proc_token held, and the answer is good only while it is. */
struct proc *proc_find(int pid)
{
	struct proc *p;

	KASSERT(lwkt_token_is_held(&proc_token), "proc_find without "
		"proc_token: the process found could be freed at once");
	TAILQ_FOREACH(p, &allproc, p_list)
		if (p->p_pid == pid)
			return p;
	return NULL;
}

/* kill(2) of one process (kern/proc.h): 0, ESRCH or EINVAL.  Posts only
 * to a RUN process; a NEW one is left alone.  Thread context; takes
 * proc_token; does not block otherwise. */
int proc_kill(int pid, int sig)
{
	struct proc *p;
	int error = 0;

	KASSERT(curthread != NULL, "proc_kill outside a thread");
	if (sig < 0 || sig >= NSIG)
		return EINVAL;
	lwkt_gettoken(&proc_token);
	p = proc_find(pid);
	if (p == NULL || p->p_stat == PS_ZOMBIE)
		error = ESRCH;
	else if (sig != 0 && p->p_stat == PS_RUN)
		sig_post(p, sig, curproc != NULL ? curproc->p_pid : 0);
	lwkt_reltoken(&proc_token);
	return error;
}

/* ----------------------------------------------------------------------- */
/* Waiting.                                                                */

/*
 * Wait for the kernel's child pid (a proc_spawn, not an orphan) to exit,
 * free it and return its wait status, or -ESRCH when there is no such
 * child.  Sleeps without PCATCH: a kernel thread takes no signals.
 * Thread context; takes proc_token.
 */
int proc_wait(int pid)
{
	struct proc *p;
	int status;

	lwkt_gettoken(&proc_token);
	TAILQ_FOREACH(p, &allproc, p_list)
		if (p->p_pid == pid && p->p_pptr == NULL && !p->p_orphan)
			break;
	if (p == NULL) {
		lwkt_reltoken(&proc_token);
		return -ESRCH;
	}
	while (p->p_stat != PS_ZOMBIE) {
		tsleep_interlock(p, 0);
		lwkt_reltoken(&proc_token);
		tsleep(p, PINTERLOCKED, "pwait", 0);
		lwkt_gettoken(&proc_token);
	}
	status = p->p_xstat;
	proc_free(p);
	lwkt_reltoken(&proc_token);
	return status;
}

/* Has child c something for wait4 with options: an exit (always), a
 * stop (WUNTRACED) or a continue (WCONTINUED) not reported yet?  Its
 * wait status then goes to *status.  proc_token held. */
static bool wait_event(const struct proc *c, int options, int *status)
{
	if (c->p_stat == PS_ZOMBIE)
		*status = c->p_xstat;
	else if ((options & WUNTRACED) && c->p_stopped &&
		 c->p_waitevent == PWE_STOPPED)
		*status = W_STOPCODE(c->p_stopsig);
	else if ((options & WCONTINUED) && c->p_waitevent == PWE_CONTINUED)
		*status = W_CONTINUED;
	else
		return false;
	return true;
}

/* A child of p matching wait4's pid (pgrp_wait_match) with something to
 * report (wait_event), or NULL; *any says whether p has a matching child
 * at all.  proc_token held. */
static struct proc *find_waitable(struct proc *p, int pid, int options,
				  bool *any, int *status)
{
	struct proc *c;

	*any = false;
	TAILQ_FOREACH(c, &p->p_children, p_sibling) {
		if (!pgrp_wait_match(c, p, pid))
			continue;
		*any = true;
		if (wait_event(c, options, status))
			return c;
	}
	return NULL;
}

/*
 * wait4 for the calling process (kern/proc.h): the child's pid, 0 (for
 * WNOHANG, nothing yet), -ECHILD or -EINTR.  A zombie child is freed
 * here; a stop or continue is only marked reported.  Own thread; sleeps
 * (PCATCH) on p, which proc_exit wakes; takes proc_token.
 *
 * The sleep looks once more after a signal ends it: the SIGCHLD a child's
 * exit or stop posts comes just before the wake-up for the same event,
 * and that event is reported rather than lost behind EINTR.
 */
int proc_wait4(int pid, int *statusp, int options)
{
	struct proc *p = curproc, *c;
	bool any, interrupted = false;
	int cpid;

	KASSERT(p != NULL, "proc_wait4 in a kernel thread: the kernel waits "
		"for its children with proc_wait");
	reap_orphans();
	lwkt_gettoken(&proc_token);
	for (;;) {
		c = find_waitable(p, pid, options, &any, statusp);
		if (c != NULL || !any || (options & WNOHANG) || interrupted)
			break;
		tsleep_interlock(p, 0);
		lwkt_reltoken(&proc_token);
		interrupted = tsleep(p, PINTERLOCKED | PCATCH, "wait", 0) ==
			      EINTR;	/* killed: userret ends it */
		lwkt_gettoken(&proc_token);
	}
	if (c == NULL) {
		lwkt_reltoken(&proc_token);
		return !any ? -ECHILD : interrupted ? -EINTR : 0;
	}
	cpid = c->p_pid;
	if (c->p_stat == PS_ZOMBIE)
		proc_free(c);
	else
		c->p_waitevent = PWE_NONE;	/* reported once */
	lwkt_reltoken(&proc_token);
	return cpid;
}

/* ----------------------------------------------------------------------- */
/* Looking at processes.                                                   */

/* Processes that exist, in any state, after the exited orphans are
 * reaped: the leak check's count.  Thread context. */
uint64_t proc_count(void)
{
	reap_orphans();
	return (uint64_t)__atomic_load_n(&nprocs, __ATOMIC_RELAXED);
}
KTEST_LEAKCHECK(procs, "processes", proc_count, NULL);

/* p's state as ps shows it: a stopped process is running, stopped. */
static const char *stat_name(const struct proc *p)
{
	if (p->p_stat == PS_RUN && p->p_stopped)
		return "stop";
	return p->p_stat == PS_NEW ? "new" : p->p_stat == PS_RUN ? "run"
								 : "zombie";
}

/* Does running process pid sleep now with wait message wmesg?  For the
 * tests, which wait until a program blocks where they mean it to; the
 * answer may be stale as soon as it is given.  Takes proc_token. */
bool proc_sleeping_in(int pid, const char *wmesg)
{
	struct proc *p;
	bool yes;

	lwkt_gettoken(&proc_token);
	p = proc_find(pid);
	yes = p != NULL && p->p_stat == PS_RUN && p->p_thread != NULL &&
	      p->p_thread->td_wmesg != NULL &&
	      strcmp(p->p_thread->td_wmesg, wmesg) == 0;
	lwkt_reltoken(&proc_token);
	return yes;
}

/* ps: one line per process (pid, parent, state, CPU, wait message,
 * name).  Thread context; takes proc_token while it prints. */
void proc_print_all(void)
{
	struct proc *p;

	kprintf("  %5s %5s %-6s %3s %-10s %s\n", "PID", "PPID", "STATE",
		"CPU", "WCHAN", "COMMAND");
	lwkt_gettoken(&proc_token);
	TAILQ_FOREACH(p, &allproc, p_list) {
		struct thread *td = p->p_stat == PS_RUN ? p->p_thread : NULL;

		kprintf("  %5d %5d %-6s %3d %-10s %s\n", p->p_pid,
			p->p_pptr != NULL ? p->p_pptr->p_pid : 0,
			stat_name(p),
			td != NULL ? td->td_gd->gd_cpuid : -1,
			td != NULL && td->td_wmesg != NULL ? td->td_wmesg : "-",
			p->p_comm);
	}
	lwkt_reltoken(&proc_token);
}
