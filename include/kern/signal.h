/*
 * kern/signal.h - signals of user processes (kern/kern_sig.c), with
 * Linux's x86-64 numbers, flags and structures: the system call ABI is
 * Linux's (docs/user.md), and musl's sigaction() hands these structures
 * to the kernel as they are.
 */
#ifndef KERN_SIGNAL_H
#define KERN_SIGNAL_H

#include <kern/types.h>

struct proc;
struct trapframe;

#define SIGHUP	  1
#define SIGINT	  2
#define SIGQUIT	  3
#define SIGILL	  4	/* an invalid instruction */
#define SIGTRAP	  5	/* a breakpoint or single step */
#define SIGABRT	  6
#define SIGBUS	  7	/* a file page that cannot be had; misalignment */
#define SIGFPE	  8	/* division by zero, an SSE exception */
#define SIGKILL	  9
#define SIGUSR1	  10
#define SIGSEGV	  11	/* a bad memory access */
#define SIGUSR2	  12
#define SIGPIPE	  13
#define SIGALRM	  14
#define SIGTERM	  15
#define SIGCHLD	  17
#define SIGCONT	  18
#define SIGSTOP	  19
#define SIGTSTP	  20
#define SIGTTIN	  21
#define SIGTTOU	  22
#define SIGURG	  23
#define SIGWINCH  28
#define NSIG	  65	/* signals 1..64 */

/* Bit of sig in a signal set (a 64-bit word, as the kernel's sigset_t). */
#define SIGBIT(sig) (1ULL << ((sig) - 1))
/* Signals no mask can block and no handler can catch. */
#define SIG_CANTMASK (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))
/* The stop signals: their default action stops the process. */
#define SIG_STOPSET (SIGBIT(SIGSTOP) | SIGBIT(SIGTSTP) | SIGBIT(SIGTTIN) | \
		     SIGBIT(SIGTTOU))

/* Handler values with a meaning of their own. */
#define SIG_DFL 0
#define SIG_IGN 1

/* sa_flags (Linux values). */
#define SA_NOCLDSTOP 0x00000001
#define SA_SIGINFO   0x00000004
#define SA_RESTORER  0x04000000	/* sa_restorer is the return trampoline */
#define SA_ONSTACK   0x08000000
#define SA_RESTART   0x10000000	/* restart a call the signal interrupted */
#define SA_NODEFER   0x40000000	/* do not block sig in its own handler */
#define SA_RESETHAND 0x80000000	/* back to SIG_DFL once caught */

/* rt_sigprocmask's how. */
#define SIG_BLOCK   0
#define SIG_UNBLOCK 1
#define SIG_SETMASK 2

/* siginfo si_code values the kernel sends. */
#define SI_USER	    0		/* kill, tkill */
#define SI_TKILL    (-6)
#define SI_KERNEL   0x80
#define SEGV_MAPERR 1		/* nothing mapped there */
#define SEGV_ACCERR 2		/* mapped, but not for this access */
#define BUS_ADRERR  2		/* SIGBUS: no such page in the object (a
				 * file page past the end of the file) */

/* struct sigaction as the rt_sigaction system call sees it (Linux's
 * kernel view; C libraries translate theirs into this). */
struct k_sigaction {
	uint64_t sa_handler;	/* SIG_DFL, SIG_IGN or a user address */
	uint64_t sa_flags;
	uint64_t sa_restorer;	/* with SA_RESTORER: where the handler returns */
	uint64_t sa_mask;	/* blocked while the handler runs */
};

/* The name of a signal ("SIGSEGV"), or "a signal". */
const char *signal_name(int sig);

/*
 * Post sig (1..NSIG-1) to p from process sender (0: the kernel): make it
 * pending and, unless p blocks it, interrupt p's interruptible sleep.  A
 * signal p ignores (SIG_IGN, or a default action of "ignore") is dropped
 * here.  Job control happens here too (POSIX): SIGCONT continues a
 * stopped p and drops its pending stop signals, even when SIGCONT itself
 * is blocked or ignored; a stop signal drops a pending SIGCONT; SIGKILL
 * wakes a stopped p to die.  proc_token held; p is running (PS_RUN).
 * Never blocks.
 */
void sig_post(struct proc *p, int sig, int sender);

/*
 * Does p refuse sig -- ignore it (SIG_IGN) or block it?  What the
 * terminal asks before it sends SIGTTIN or SIGTTOU (kern/tty.c).  Any
 * thread; the answer may be stale at once unless p is the caller.
 */
bool sig_refused(const struct proc *p, int sig);

/*
 * A wait that a signal may end (PCATCH) was ended by one, in the
 * calling process.  If every signal waiting for delivery would only stop
 * the process or be dropped (a stop signal or an ignored one, no
 * handler), take them here: stop (wait4 and ps see it stopped) until
 * SIGCONT, then return true -- the caller may go on waiting, as if no
 * signal had come.  Otherwise (a handler would run, or the process
 * would end) leave them to userret and return false: the wait must end.
 * Own thread, a process's; may block for as long as it is stopped, with
 * its tokens let go meanwhile.
 */
bool sig_stop_in_wait(void);

/*
 * Will the signal the calling process acts on next end it -- SIGKILL,
 * or a signal it neither blocks nor catches nor ignores whose default
 * action is to terminate?  False when no signal waits for delivery, or
 * when the next one runs a handler, stops the process or is dropped.
 * What a wait asks that must not outlive its process (kern/sys_uport.c).
 * Own thread, a process's; never blocks.  The answer holds until the
 * return to user mode unless a new signal that sig_deliver takes first
 * (a lower number) comes meanwhile.
 */
bool sig_ends_in_wait(void);

/*
 * Does the calling process have signal work before it returns to user
 * mode: a pending signal it does not block, or a stale interruption to
 * clear?  Own thread; cheap enough for every return.
 */
bool sig_work(struct proc *p);

/*
 * Act on the lowest pending signal the calling process does not block:
 * drop it (ignored), end the process (default action; never returns),
 * stop the process until SIGCONT or SIGKILL (a stop signal's default;
 * a system call the stop interrupted runs again after it), or set up
 * the handler's frame on the user stack and point tf at the handler.  Own thread, interrupts on, on the way back to user mode; may
 * block (the frame is written with copyout).
 */
void sig_deliver(struct trapframe *tf);

/*
 * A synchronous fault in user mode (sig SIGSEGV, SIGBUS, SIGFPE, SIGILL,
 * SIGTRAP; code and addr for siginfo): if the process catches sig and does
 * not block it, run its handler and return true; else return false (the
 * caller kills the process with a message).  Own thread, interrupts on.
 */
bool sig_fault(struct trapframe *tf, int sig, int code, uint64_t addr);

/*
 * rt_sigsuspend and ppoll: put mask in force for a wait.  The old mask
 * comes back when a handler's frame is built (the frame saves the old
 * one), at the next signal check, or by sig_mask_restore (a wait that
 * ended without a signal).  Own thread.
 */
void sig_mask_during(uint64_t mask);
void sig_mask_restore(void);

/* Fork: the child gets the parent's actions and mask, nothing pending.
 * Exec: caught signals go back to SIG_DFL; ignored ones and the mask stay.
 * Own thread (the parent's, or the execing process's). */
void sig_fork(struct proc *child, const struct proc *parent);
void sig_exec(struct proc *p);

#endif /* KERN_SIGNAL_H */
