/*
 * kern/proc.h - user processes (kern/kern_proc.c, kern/kern_exec.c,
 * kern/kern_syscall.c; docs/user.md).
 *
 * A process is an address space (struct vmspace), a table of open files
 * and one LWKT thread that runs it.  The thread runs in user mode until
 * a system call, a fault or an interrupt brings it into the kernel, on
 * its own kernel stack, whose top holds the user registers:
 *
 *   kernel stack of a process's thread
 *   +---------------------------+ <- top = TSS.RSP0 while it runs
 *   | struct trapframe          |    user registers (ss rsp rflags cs rip
 *   |                           |    err vector rax..r15): the syscall
 *   +---------------------------+    entry and every trap from user mode
 *   | kernel frames ...         |    build exactly this
 *
 * Life cycle:  NEW --exec/fork--> RUN --exit or a fatal fault--> ZOMBIE
 * --parent's wait4 (or the kernel's proc_wait)--> freed.  A RUN process
 * may be *stopped* (p_stopped) by a stop signal until SIGCONT or SIGKILL:
 * its thread sleeps in the kernel and never returns to user mode.
 *
 * Locking: proc_token protects the process list, parent/child links and
 * p_stat.  Everything else in a process is touched only by its own thread
 * (the fd table, the machine state), except where a field says otherwise.
 */
#ifndef KERN_PROC_H
#define KERN_PROC_H

#include <kern/types.h>
#include <kern/queue.h>
#include <kern/setjmp.h>
#include <kern/signal.h>
#include <kern/token.h>
#include <machine/frame.h>

struct thread;
struct vmspace;
struct trapframe;
struct ufile;
struct uport_proc;

#define PROC_NFILES	64		/* descriptors per process */
#define PROC_COMM_SIZE	16
#define PROC_PATH_MAX	1024

/* p_stat (proc_token). */
enum proc_stat { PS_NEW, PS_RUN, PS_ZOMBIE };

/* A change of a child's state that wait4 has not reported yet
 * (p_waitevent, proc_token): WUNTRACED takes a stop, WCONTINUED a
 * continue.  The newer event replaces the older. */
enum proc_waitevent { PWE_NONE, PWE_STOPPED, PWE_CONTINUED };

/*
 * What a sleep (nanosleep, clock_nanosleep) leaves when a signal ends it
 * early, so that it can go on if no handler runs: a stop and a continue,
 * or a signal that was ignored by the time it came, restart it through
 * restart_syscall (Linux's number 219), which sleeps on to the same
 * deadline (kern/kern_syscall.c, kern/kern_sig.c).  Own thread only.
 */
struct restart_block {
	uint64_t rb_call;		/* the call that left it; 0: none */
	int rb_clock;			/* CLOCK_* the deadline is read on */
	uint64_t rb_deadline;		/* ns on rb_clock: sleep until then */
	uint64_t rb_urem;		/* the user's rem (time left), or 0 */
};

/* Machine state a context switch must carry for user code: the FPU/SSE
 * registers (FXSAVE image, SDM vol. 1, 10.5.1) and the FS base (TLS). */
struct proc_md {
	uint8_t fxsave[512] __aligned(16);
	uint64_t fs_base;
};

struct proc {
	int p_pid;
	char p_comm[PROC_COMM_SIZE];	/* program name, for ps and messages */
	/* proc_token: */
	enum proc_stat p_stat;
	struct proc *p_pptr;		/* parent, or NULL (kernel's child) */
	TAILQ_HEAD(, proc) p_children;
	TAILQ_ENTRY(proc) p_sibling;	/* parent's p_children, or the
					 * reap list once an orphan exits */
	TAILQ_ENTRY(proc) p_list;	/* allproc */
	int p_xstat;			/* wait status once ZOMBIE */
	int p_pgid;			/* process group (kern_pgrp.c) */
	int p_sid;			/* session: its leader's pid */
	bool p_execed;			/* has called execve since fork:
					 * its parent may not move it */
	bool p_stopped;			/* stopped by p_stopsig: its thread
					 * sleeps until SIGCONT or SIGKILL */
	int p_stopsig;			/* the stop signal, while p_stopped */
	enum proc_waitevent p_waitevent; /* not yet reported to wait4 */
	uint32_t p_contgen;		/* SIGCONTs posted (read atomically):
					 * a stop taken before one is void */
	/* Own thread (changed under proc_token too, since the OOM killer
	 * reads other processes' sizes): */
	struct vmspace *p_vmspace;
	struct thread *p_thread;
	struct ufile *p_fd[PROC_NFILES];
	uint8_t p_fdflags[PROC_NFILES];	/* FD_CLOEXEC */
	char p_cwd[PROC_PATH_MAX];	/* absolute, no trailing slash but "/" */
	int p_umask;			/* mode bits creations leave out */
	struct kjmp_buf *p_onfault;	/* copyin/copyout recovery point */
	/* Signals (kern/kern_sig.c).  The actions and the mask are written
	 * by the own thread only; sig_post reads a handler word and the mask
	 * from another thread with atomic loads. */
	struct k_sigaction p_sigact[NSIG];	/* [1..64] */
	uint64_t p_sigmask;		/* blocked signals: atomic stores */
	uint64_t p_siglist;		/* pending signals: atomic */
	uint64_t p_sigsuspend_mask;	/* rt_sigsuspend: the mask to restore */
	bool p_sigsuspended;		/* rt_sigsuspend's mask is in force */
	int p_sigsender[NSIG];		/* who sent each pending signal (pid) */
	uint64_t p_sigstk_sp;		/* sigaltstack: base and size, */
	uint64_t p_sigstk_size;		/* 0 when there is none */
	struct uport_proc *p_uport;	/* user message ports (sys_uport.c;
					 * uport_token), or NULL */
	bool p_orphan;			/* parent gone: the kernel reaps it */
	struct restart_block p_restart;	/* own thread: a sleep to go on */
	struct proc_md p_md;
	struct trapframe p_startframe;	/* user registers at the first entry */
};

extern struct lwkt_token proc_token;

/* Every process, any state (proc_token): kern_proc.c, kern_pgrp.c. */
TAILQ_HEAD(proclist, proc);
extern struct proclist allproc;

/* The process pid in any state, or NULL.  proc_token held. */
struct proc *proc_find(int pid);

/* The process the calling thread runs, or NULL in a kernel thread. */
struct proc *curproc_get(void);
#define curproc (curproc_get())

/* How the kernel starts a program (the shell's run, the tests). */
struct spawn_opts {
	struct ufile *stdio[3];	/* NULL: the console (each referenced) */
	int cpu;		/* -1: the next CPU in turn */
	bool ctty;		/* the console becomes the new session's
				 * terminal, the process its foreground */
};

/*
 * Start the program at path (absolute) with argv and envp (NULL-ended
 * kernel arrays) as a child of the kernel.  Returns 0 and *pidp, or an
 * error (ENOENT, ENOEXEC, E2BIG, ENOMEM ...) with nothing started.
 * Thread context; may block.
 */
int proc_spawn(const char *path, char *const argv[], char *const envp[],
	       const struct spawn_opts *opts, int *pidp);

/* Wait for the kernel's child pid to exit, reap it, return its wait
 * status (as wait4 encodes it), or -ESRCH.  Thread context. */
int proc_wait(int pid);

/*
 * Fork the calling process (tf: its user frame).  Returns the child's
 * pid, or a negative errno.  The child returns 0 from the same call.
 */
int proc_fork(struct trapframe *tf);

/*
 * Wait for a child of the calling process: pid > 0 that child, -1 any,
 * 0 one in the caller's process group, < -1 one in group -pid.
 * Returns its pid and stores its wait status, 0 with WNOHANG when none
 * has exited yet, or -ECHILD when there is no such child.  With
 * WUNTRACED a child that stopped, and with WCONTINUED one that SIGCONT
 * continued, count too (once each; W_STOPCODE, W_CONTINUED); such a
 * child is not reaped.  May block; -EINTR when a signal comes.
 */
#define WNOHANG    1
#define WUNTRACED  2		/* report a child that stopped */
#define WCONTINUED 8		/* report a child continued by SIGCONT */
int proc_wait4(int pid, int *statusp, int options);

/*
 * Build the program at path into a new address space for p (which must
 * have none yet) and set p_startframe to enter it.  Returns 0, or ENOENT,
 * EACCES, ENOEXEC (not a valid static ELF64 x86-64 executable), E2BIG,
 * ENOMEM, EIO, with p unchanged.  Thread context (kern/kern_exec.c).
 */
int exec_image(struct proc *p, const char *path, char *const argv[],
	       char *const envp[]);

/* execve for the calling process (tf: its user frame, reset on success);
 * errors as exec_image, with the process unchanged. */
int exec_replace(struct trapframe *tf, const char *path, char *const argv[],
		 char *const envp[]);

/* The last component of a path (the name a process is shown with). */
const char *path_basename(const char *path);

/* Fill buf with n unpredictable bytes (RDRAND when the CPU has it, else
 * the TSC through a mixer): AT_RANDOM and getrandom. */
void user_random_bytes(void *buf, size_t n);

/*
 * kill: send sig to process pid from the calling process (sig_post,
 * kern/signal.h: dropped if pid ignores it; else pending, and an
 * interruptible sleep of pid -- wait4, nanosleep, a pipe -- ends with
 * EINTR unless pid blocks sig).  sig 0 only checks that pid lives.
 * Returns 0, ESRCH (no such process, or a zombie) or EINVAL (a bad signal
 * number).  Thread context; takes proc_token.
 */
int proc_kill(int pid, int sig);

/*
 * Process groups and sessions (kern/kern_pgrp.c; Linux's rules and
 * errno values, docs/user.md).  A spawned process leads a new session
 * and group of its own; a forked one inherits both.  Each call: thread
 * context, takes proc_token.
 *
 * pgrp_kill: sig to every running member of group pgid; 0, or ESRCH
 * when no process (a zombie counts) is in it, EINVAL for a bad signal.
 * pgrp_kill_all: kill(-1): every running process but the caller.
 * pgrp_in_session: 0 if group pgid has a member in session sid, ESRCH
 * when the group does not exist, EPERM when it is in another session.
 * pgrp_wait_match: does child c match wait4's pid argument for parent
 * p (> 0 that pid, -1 any, 0 p's group, < -1 group -pid)?  proc_token.
 * pgrp_exit: p (its own thread, exiting, proc_token held) gives up the
 * console if it led the console's session -- SIGHUP to the foreground
 * group -- and its own group gets SIGHUP and SIGCONT if p's exit orphans
 * it while a member is stopped.  pgrp_orphan_hangup: the same rule for
 * the group of m, whose link to its session was link (a parent outside
 * the group) and which no longer counts process gone (proc_token held).
 * pgrp_is_orphaned: POSIX's orphaned process group -- no member has a
 * parent in another group of the same session (proc_token held).
 */
int pgrp_kill(int pgid, int sig);
int pgrp_kill_all(int sig);
int pgrp_in_session(int pgid, int sid);
bool pgrp_wait_match(const struct proc *c, const struct proc *p, int pid);
void pgrp_exit(struct proc *p);
void pgrp_orphan_hangup(const struct proc *m, const struct proc *link,
			const struct proc *gone);
bool pgrp_is_orphaned(int pgid);

/* End the calling process with wait status xstat.  Never returns. */
void proc_exit(int xstat) __noreturn;

/*
 * A fault of self (the calling process) found no free page
 * (kern/kern_oom.c).  True: another process -- the largest -- was killed
 * for memory, or one killed before is still dying; the caller slept a
 * tick and should retry the fault.  False: self is the one to die (it is
 * the largest, it has SIGKILL pending, or the wait ran out).  Thread
 * context, interrupts on; takes proc_token; sleeps.
 */
bool oom_fault(struct proc *self);

/* Processes killed so far to free memory for another's fault. */
uint64_t oom_kill_count(void);

/* Kill the calling process for a fault: print one line naming the
 * process, the signal and why, then exit with that signal. */
void proc_fault_kill(int sig, const char *fmt, ...) __noreturn
	__printflike(2, 3);

/* Wait-status encodings (POSIX <sys/wait.h>, Linux values). */
#define W_EXITCODE(code)	(((code) & 0xff) << 8)
#define W_SIGNALED(sig)		((sig) & 0x7f)
#define W_STOPCODE(sig)		(((sig) << 8) | 0x7f)	/* WIFSTOPPED */
#define W_CONTINUED		0xffff			/* WIFCONTINUED */

/* Processes alive (any state) and the sum of their pages: leak checks. */
uint64_t proc_count(void);

/* Is process pid asleep in a tsleep named wmesg right now?  For tests
 * that must signal a process exactly while it sleeps.  Thread context. */
bool proc_sleeping_in(int pid, const char *wmesg);

/* Print the process list (the shell's ps). */
void proc_print_all(void);

/* The user frame at the top of td's kernel stack. */
struct trapframe *proc_frame(struct thread *td);

/* Enter user mode for the first time: copy src to dst, the frame slot at
 * the top of this thread's kernel stack, and return through it. */
void user_enter(const struct trapframe *src, struct trapframe *dst)
	__noreturn;

/* Before every return to user mode: run pending work (reschedule, a
 * fatal signal).  Returns true when SYSRET may be used. */
bool userret(struct trapframe *tf);

/* User-mode traps and kernel faults on user addresses (kern/trap.c):
 * true when handled (the trap returns), false to let trap() report it. */
bool user_trap(struct trapframe *tf);

/*
 * Copy between user and kernel memory (kern/user_machdep.c).  Return 0,
 * or EFAULT when any byte of the user range is not user memory that the
 * process may read (copyin) or write (copyout) -- never a panic.
 * copyinstr copies a string with its NUL, at most maxlen bytes (*done:
 * bytes copied); ENAMETOOLONG when there is no NUL within maxlen.
 * Thread context of a process; may block (a page fault).
 */
int copyin(const void *uaddr, void *kaddr, size_t len);
int copyout(const void *kaddr, void *uaddr, size_t len);
int copyinstr(const void *uaddr, char *kaddr, size_t maxlen, size_t *done);

/* Per CPU: the SYSCALL MSRs, SMEP/SMAP, SSE for user code. */
void syscall_cpu_init(void);

#endif /* KERN_PROC_H */
