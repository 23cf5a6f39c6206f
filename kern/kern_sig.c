/*
 * kern_sig.c - signals: actions, masks, delivery to user handlers, and
 * the system calls around them (rt_sigaction, rt_sigprocmask,
 * rt_sigreturn, rt_sigpending, rt_sigsuspend, sigaltstack, tkill,
 * tgkill).
 *
 * A process holds, per signal, an action (struct k_sigaction: SIG_DFL,
 * SIG_IGN or a handler), and two sets: the signals it blocks (p_sigmask)
 * and the signals pending for it (p_siglist).  A signal travels like this:
 *
 *   kill(pid, sig) -> sig_post:  ignored?  dropped.
 *                                else the bit in p_siglist, and unless
 *                                blocked, lwkt_signal(thread): a PCATCH
 *                                sleep (wait4, nanosleep, a pipe) ends
 *                                with EINTR
 *   ... the thread's next return towards user mode -> userret ->
 *   sig_deliver, for each pending signal not blocked, lowest first:
 *        SIG_IGN, or a default of "ignore"      -> dropped
 *        SIG_DFL otherwise                      -> the process ends with
 *                                                  the signal's status
 *        a handler                              -> a frame on the user
 *                                                  stack, RIP = handler
 *
 * The frame is Linux's x86-64 rt_sigframe, because musl's sigaction and
 * its return trampoline (__restore_rt: rt_sigreturn, SA_RESTORER) expect
 * exactly that:
 *
 *     interrupted RSP ->  +---------------------------+
 *                         | 128-byte red zone (psABI)  |  left alone
 *                         +---------------------------+
 *                         | FXSAVE image (512 bytes)   |  64-aligned; the
 *                         +---------------------------+  FPU/SSE registers
 *                         | siginfo (128 bytes)        |  <- RSI
 *                         | ucontext: flags, link,     |  <- RDX
 *                         |  stack, sigcontext (the    |
 *                         |  registers, fpstate ->),   |
 *                         |  the mask before           |
 *     handler's RSP ->    | pretcode = sa_restorer     |  RSP + 8 is
 *                         +---------------------------+  16-aligned
 *
 * An SA_ONSTACK handler gets this frame at the top of the alternate
 * signal stack instead (sigaltstack), unless it already runs there -- so
 * a handler can catch a stack overflow.
 *
 * The handler runs with RDI = sig, and "returns" into sa_restorer, which
 * calls rt_sigreturn with RSP just above pretcode -- at the ucontext.
 * rt_sigreturn takes everything back from user memory, so nothing of it
 * is trusted: CS and SS stay the user selectors, only the arithmetic
 * flags (and TF, DF, AC) of RFLAGS are taken, and a RIP or RSP outside
 * user space, or reserved MXCSR bits (FXRSTOR would #GP on them), kill the
 * process instead of faulting in the kernel on IRETQ or FXRSTOR.  The return
 * then goes by IRETQ, which restores RCX and R11 too (SYSRET would not).
 *
 * A system call a signal interrupted returns EINTR; if the handler has
 * SA_RESTART the frame holds the call's number and RIP - 2 instead, so
 * the call runs again after the handler (syscall_handler keeps the number
 * in tf_err for that).  The sleeps (nanosleep, clock_nanosleep,
 * restart_syscall: the calls that leave a restart block) and
 * rt_sigsuspend are never restarted after a handler, as on Linux.
 *
 * Faults (SIGSEGV, SIGBUS, SIGFPE, ...) go to a handler the same way if
 * the process has one and does not block the signal; otherwise, or if the
 * frame cannot be written (the stack overflowed), the process is killed
 * with a message (proc_fault_kill).
 *
 * Default actions: terminate, except SIGCHLD, SIGCONT, SIGURG, SIGWINCH
 * (ignore) and the stop signals SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU (stop).
 *
 * Job control (POSIX XSH 2.4.3, "Signal Actions"):
 *
 *   RUN --stop signal, default action--> stopped --SIGCONT--> RUN
 *                                           \--SIGKILL--> exits
 *
 * A process stops in its own thread, on the way back to user mode
 * (sig_stop): p_stopped is set, the parent hears of it (SIGCHLD unless
 * it set SA_NOCLDSTOP, and a wake-up for wait4 WUNTRACED), and the thread
 * sleeps, not interruptibly, until a SIGCONT clears p_stopped or a SIGKILL
 * is pending.  A process has one thread, so that stops all of it.  The
 * other rules are the poster's, in sig_post: SIGCONT continues the
 * process and throws away its pending stop signals even when SIGCONT is
 * blocked or ignored (then it is not delivered; else its handler runs
 * after the continue); a stop signal throws away a pending SIGCONT.
 * SIGTSTP, SIGTTIN and SIGTTOU (not SIGSTOP) are dropped at delivery by
 * a process whose group is orphaned: no one is left in the session to
 * continue it (pgrp_is_orphaned).  A system call the stop interrupted
 * (it returned EINTR) runs again after the continue, as if nothing had
 * happened, unless a signal is waiting then -- that signal decides, as
 * for any EINTR.  So does a call whose signal turned out ignored when
 * it came.  A sleep goes on through restart_syscall to the deadline it
 * left in its restart block (kern/proc.h), with or without a rem.
 *
 * Locking: a process's actions and mask change only in its own thread;
 * sig_post (any thread, proc_token held) reads a handler word and the mask
 * with atomic loads and sets the pending bit atomically.  p_stopped, the
 * stop signal and the wait4 event are proc_token's.  A SIGCONT that comes
 * between the stopping thread's take of its stop signal and its stop
 * would be lost, so SIGCONT counts itself in p_contgen, and a stop whose
 * count moved meanwhile does not happen.  The poster sets
 * the bit then reads the mask; the thread writes the mask then reads the
 * bits (both sequentially consistent), so an unblock racing a post never
 * loses the signal.
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <kern/signal.h>
#include <kern/synch.h>
#include <kern/syscall.h>
#include <kern/thread.h>
#include <kern/trap.h>
#include <machine/frame.h>
#include <machine/gdt.h>
#include <vm/vm_map.h>

#define T_SYSCALL	256	/* a frame made by SYSCALL (user_entry.S) */
#define T_SIGRETURN	257	/* a frame rt_sigreturn rebuilt: IRETQ */
#define SYSCALL_INSN_LEN 2	/* 0f 05 */
#define SYS_RT_SIGSUSPEND 130
#define LINUX_EINTR	4
#define SS_ONSTACK	1	/* stack_t ss_flags */
#define SS_DISABLE	2
#define MINSIGSTKSZ	2048
#define RED_ZONE	128	/* psABI 3.2.2: below RSP, the leaf's */
#define FXSAVE_SIZE	512
#define FXSAVE_MXCSR	24	/* offsets in the FXSAVE image (SDM 1, 10.5.1) */
#define FXSAVE_MXCSR_MASK 28
#define MXCSR_MASK_DEFAULT 0xffbf	/* when FXSAVE reports 0 (SDM 1, 11.6.6) */
#define USER_CS		(GSEL_UCODE | 3)
#define USER_SS		(GSEL_UDATA | 3)

/* RFLAGS bits (SDM vol. 1, 3.4.3): what a handler's frame may change. */
#define PSL_C	0x0001
#define PSL_PF	0x0004
#define PSL_AF	0x0010
#define PSL_Z	0x0040
#define PSL_N	0x0080
#define PSL_T	0x0100
#define PSL_D	0x0400
#define PSL_V	0x0800
#define PSL_RF	0x10000
#define PSL_AC	0x40000
#define PSL_USERCHANGE (PSL_C | PSL_PF | PSL_AF | PSL_Z | PSL_N | PSL_T | \
			PSL_D | PSL_V | PSL_RF | PSL_AC)
#define PSL_RESERVED1 0x0002

/* Linux x86-64 struct sigcontext (uapi asm/sigcontext.h): musl's
 * mcontext_t gregs[] index the same words (REG_R8 = 0 ... REG_CR2 = 22). */
struct l_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;		/* user address of the FXSAVE image */
	uint64_t reserved[8];
};

struct l_stack {
	uint64_t ss_sp;
	int32_t ss_flags;
	int32_t pad;
	uint64_t ss_size;
};

struct l_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	struct l_stack uc_stack;
	struct l_sigcontext uc_mcontext;
	uint64_t uc_sigmask;		/* the kernel's 64-bit sigset */
};

struct l_siginfo {
	int32_t si_signo, si_errno, si_code, pad;
	union {
		struct {
			int32_t pid;	/* kill: the sender */
			uint32_t uid;
		} kill;
		uint64_t addr;		/* faults: the address */
		uint8_t pad[112];
	} u;
};

struct l_rt_sigframe {
	uint64_t pretcode;		/* sa_restorer: the handler's return */
	struct l_ucontext uc;
	struct l_siginfo info;
};

_Static_assert(sizeof(struct l_sigcontext) == 256, "Linux sigcontext");
_Static_assert(__builtin_offsetof(struct l_sigcontext, rip) == 16 * 8,
	       "sigcontext rip is musl's gregs[REG_RIP]");
_Static_assert(__builtin_offsetof(struct l_ucontext, uc_mcontext) == 40,
	       "Linux ucontext");
_Static_assert(sizeof(struct l_ucontext) == 304, "Linux ucontext");
_Static_assert(sizeof(struct l_siginfo) == 128, "Linux siginfo");
_Static_assert(__builtin_offsetof(struct l_rt_sigframe, uc) == 8,
	       "rt_sigreturn finds the ucontext at RSP");

/* What a signal does by default. */
enum sig_default { SIGDFL_TERMINATE, SIGDFL_IGNORE, SIGDFL_STOP };

/* sig's default action (POSIX, Linux's choices for the rest). */
static enum sig_default sig_default_action(int sig)
{
	switch (sig) {
	case SIGCHLD:
	case SIGCONT:
	case SIGURG:
	case SIGWINCH:
		return SIGDFL_IGNORE;
	case SIGSTOP:
	case SIGTSTP:
	case SIGTTIN:
	case SIGTTOU:
		return SIGDFL_STOP;
	default:
		return SIGDFL_TERMINATE;
	}
}

/* Is sig dropped by p as soon as it is sent? */
static bool sig_ignored(const struct proc *p, int sig)
{
	uint64_t h = __atomic_load_n(&p->p_sigact[sig].sa_handler,
				     __ATOMIC_RELAXED);

	if (sig == SIGKILL)
		return false;
	return h == SIG_IGN ||
	       (h == SIG_DFL && sig_default_action(sig) == SIGDFL_IGNORE);
}

/* The mask, read from any thread (sig_post) or the own one. */
static uint64_t sigmask_load(const struct proc *p)
{
	return __atomic_load_n(&p->p_sigmask, __ATOMIC_SEQ_CST);
}

/* A new mask, never with SIGKILL or SIGSTOP in it.  Own thread. */
static void sigmask_store(struct proc *p, uint64_t mask)
{
	__atomic_store_n(&p->p_sigmask, mask & ~SIG_CANTMASK,
			 __ATOMIC_SEQ_CST);
}

/* The pending signals p does not block. */
static uint64_t sig_deliverable(struct proc *p)
{
	return __atomic_load_n(&p->p_siglist, __ATOMIC_SEQ_CST) &
	       ~sigmask_load(p);
}

bool sig_refused(const struct proc *p, int sig)
{
	return __atomic_load_n(&p->p_sigact[sig].sa_handler,
			       __ATOMIC_RELAXED) == SIG_IGN ||
	       (sigmask_load(p) & SIGBIT(sig)) != 0;
}

/* ----------------------------------------------------------------------- */
/* Job control: the parent's news, continuing, stopping.                   */

/* Tell p's parent that p stopped or continued: SIGCHLD unless it asked
 * for none (SA_NOCLDSTOP), and a wake-up for its wait4.  proc_token. */
static void notify_parent(struct proc *p)
{
	struct proc *pp = p->p_pptr;

	if (pp == NULL || pp->p_stat != PS_RUN)
		return;
	if (!(__atomic_load_n(&pp->p_sigact[SIGCHLD].sa_flags,
			      __ATOMIC_RELAXED) & SA_NOCLDSTOP))
		sig_post(pp, SIGCHLD, p->p_pid);
	wakeup(pp);
}

/* SIGCONT was posted to p: its pending stop signals go and, if it is
 * stopped, it runs again.  Whether SIGCONT is then delivered is up to
 * its action and mask, as for any signal.  proc_token held. */
static void sig_continue(struct proc *p)
{
	__atomic_and_fetch(&p->p_siglist, ~SIG_STOPSET, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&p->p_contgen, 1, __ATOMIC_SEQ_CST);
	if (!p->p_stopped)
		return;
	p->p_stopped = false;
	p->p_waitevent = PWE_CONTINUED;
	notify_parent(p);
	wakeup(&p->p_stopped);
}

/* Did system call nr leave p's restart block (it is a sleep that a
 * signal ended, kern_syscall.c)?  Every EINTR of a sleep leaves one, so
 * a block naming the call that just returned EINTR is that call's. */
static bool left_restart_block(const struct proc *p, uint64_t nr)
{
	return p->p_restart.rb_call != 0 && p->p_restart.rb_call == nr;
}

/*
 * After a stop, or a signal ignored by the time it came -- no handler
 * ran: a system call the signal interrupted (it returned EINTR from a
 * PCATCH sleep) runs again, unless another signal waits -- it then
 * decides, as restart_syscall does for a handler.  A sleep goes on
 * through restart_syscall, to the deadline in its restart block; any
 * other call runs again with its own arguments, still in the registers.
 */
static void restart_after_stop(struct proc *p, struct trapframe *tf)
{
	uint64_t nr = tf->tf_err;

	if (tf->tf_vector != T_SYSCALL ||
	    tf->tf_rax != (uint64_t)-LINUX_EINTR || sig_deliverable(p) != 0)
		return;
	tf->tf_rax = left_restart_block(p, nr) ? SYS_RESTART_SYSCALL : nr;
	tf->tf_rip -= SYSCALL_INSN_LEN;
}

/*
 * p, the calling process, took stop signal sig (default action): stop,
 * unless its group is orphaned (SIGTSTP, SIGTTIN, SIGTTOU only), a SIGKILL
 * is pending, or a SIGCONT came since the signal was taken (contgen, read
 * before the take).  Sleeps until continued or killed.  Own thread; may
 * block (tokens it holds are let go while it is stopped).
 */
static void stop_here(struct proc *p, int sig, uint32_t contgen)
{
	lwkt_gettoken(&proc_token);
	if ((sig != SIGSTOP && pgrp_is_orphaned(p->p_pgid)) ||
	    __atomic_load_n(&p->p_contgen, __ATOMIC_SEQ_CST) != contgen ||
	    (__atomic_load_n(&p->p_siglist, __ATOMIC_SEQ_CST) &
	     SIGBIT(SIGKILL))) {
		lwkt_reltoken(&proc_token);
		return;
	}
	p->p_stopped = true;
	p->p_stopsig = sig;
	p->p_waitevent = PWE_STOPPED;
	notify_parent(p);
	while (p->p_stopped && !(__atomic_load_n(&p->p_siglist,
			__ATOMIC_SEQ_CST) & SIGBIT(SIGKILL))) {
		tsleep_interlock(&p->p_stopped, 0);
		lwkt_reltoken(&proc_token);
		tsleep(&p->p_stopped, PINTERLOCKED, "stopped", 0);
		lwkt_gettoken(&proc_token);
	}
	lwkt_reltoken(&proc_token);
}

/* A stop on the way back to user mode (sig_deliver): stop_here, then
 * the interrupted call runs again (restart_after_stop).  No tokens. */
static void sig_stop(struct proc *p, int sig, uint32_t contgen,
		     struct trapframe *tf)
{
	stop_here(p, sig, contgen);
	restart_after_stop(p, tf);
}

/* Would sig, delivered now, only stop p or be dropped -- no handler, no
 * end?  Own thread (the actions are its own). */
static bool sig_only_stops(const struct proc *p, int sig)
{
	uint64_t h = p->p_sigact[sig].sa_handler;

	if (sig == SIGKILL)
		return false;
	return h == SIG_IGN || (h == SIG_DFL && sig_default_action(sig) !=
						 SIGDFL_TERMINATE);
}

/* The signal sig_deliver takes first of ready (not 0): SIGKILL before
 * any other, else the lowest number. */
static int next_signal(uint64_t ready)
{
	KASSERT(ready != 0, "next_signal: no signal is ready");
	return ready & SIGBIT(SIGKILL) ? SIGKILL : __builtin_ctzll(ready) + 1;
}

bool sig_stop_in_wait(void)
{
	struct proc *p = curproc;

	KASSERT(p != NULL, "sig_stop_in_wait in kernel thread \"%s\": only "
		"a process stops", curthread->td_comm);
	for (;;) {
		uint64_t ready;
		uint32_t contgen;
		int sig;

		lwkt_signal_clear();		/* before the bits are read */
		contgen = __atomic_load_n(&p->p_contgen, __ATOMIC_SEQ_CST);
		ready = sig_deliverable(p);
		if (ready == 0)
			return true;
		sig = next_signal(ready);
		if (!sig_only_stops(p, sig)) {
			lwkt_signal(curthread);	/* it is still to come */
			return false;
		}
		__atomic_and_fetch(&p->p_siglist, ~SIGBIT(sig),
				   __ATOMIC_SEQ_CST);
		if (sig_default_action(sig) == SIGDFL_STOP &&
		    p->p_sigact[sig].sa_handler == SIG_DFL)
			stop_here(p, sig, contgen);
	}
}

bool sig_ends_in_wait(void)
{
	struct proc *p = curproc;
	uint64_t ready;
	int sig;

	KASSERT(p != NULL, "sig_ends_in_wait in kernel thread \"%s\": only "
		"a process ends by a signal", curthread->td_comm);
	ready = sig_deliverable(p);
	if (ready == 0)
		return false;
	sig = next_signal(ready);
	/* sig_deliver's own test: SIGKILL, or SIG_DFL whose default is
	 * neither "ignore" nor "stop" */
	return sig == SIGKILL ||
	       (p->p_sigact[sig].sa_handler == SIG_DFL &&
		sig_default_action(sig) == SIGDFL_TERMINATE);
}

/* ----------------------------------------------------------------------- */
/* Posting.                                                                */

void sig_post(struct proc *p, int sig, int sender)
{
	KASSERT(sig > 0 && sig < NSIG, "sig_post: signal %d out of range",
		sig);
	KASSERT(p->p_stat == PS_RUN && p->p_thread != NULL,
		"sig_post: process %d is not running", p->p_pid);
	if (sig == SIGCONT)
		sig_continue(p);	/* even if ignored or blocked */
	else if (SIGBIT(sig) & SIG_STOPSET)
		__atomic_and_fetch(&p->p_siglist, ~SIGBIT(SIGCONT),
				   __ATOMIC_SEQ_CST);
	if (sig_ignored(p, sig))
		return;
	__atomic_store_n(&p->p_sigsender[sig], sender, __ATOMIC_RELAXED);
	__atomic_or_fetch(&p->p_siglist, SIGBIT(sig), __ATOMIC_SEQ_CST);
	if (!(sigmask_load(p) & SIGBIT(sig)))
		lwkt_signal(p->p_thread);
	if (sig == SIGKILL)
		wakeup(&p->p_stopped);	/* a stopped process dies too */
}

bool sig_work(struct proc *p)
{
	return sig_deliverable(p) != 0 || lwkt_signal_pending() ||
	       p->p_sigsuspended;
}

/* ----------------------------------------------------------------------- */
/* The handler's frame.                                                    */

/* Save / load the user's FPU and SSE registers, live in the CPU while
 * its thread runs (SDM vol. 1, 10.5: FXSAVE, FXRSTOR; 16-byte aligned). */
static inline void fxsave_live(void *area)
{
	__asm__ volatile("fxsave64 (%0)" : : "r"(area) : "memory");
}

static inline void fxrstor_live(const void *area)
{
	__asm__ volatile("fxrstor64 (%0)" : : "r"(area) : "memory");
}

/* The registers of tf into sc (the state the handler interrupted). */
static void save_registers(const struct trapframe *tf, struct l_sigcontext *sc)
{
	sc->r8 = tf->tf_r8;	sc->r9 = tf->tf_r9;
	sc->r10 = tf->tf_r10;	sc->r11 = tf->tf_r11;
	sc->r12 = tf->tf_r12;	sc->r13 = tf->tf_r13;
	sc->r14 = tf->tf_r14;	sc->r15 = tf->tf_r15;
	sc->rdi = tf->tf_rdi;	sc->rsi = tf->tf_rsi;
	sc->rbp = tf->tf_rbp;	sc->rbx = tf->tf_rbx;
	sc->rdx = tf->tf_rdx;	sc->rax = tf->tf_rax;
	sc->rcx = tf->tf_rcx;	sc->rsp = tf->tf_rsp;
	sc->rip = tf->tf_rip;	sc->eflags = tf->tf_rflags;
	sc->cs = (uint16_t)tf->tf_cs;
	sc->ss = (uint16_t)tf->tf_ss;
	sc->err = tf->tf_vector == T_SYSCALL ? 0 : tf->tf_err;
	sc->trapno = tf->tf_vector == T_SYSCALL ? 0 : tf->tf_vector;
}

/*
 * A system call interrupted by sig, about to run act's handler: with
 * SA_RESTART (and a call that may be restarted), make the saved state
 * re-run the call.
 */
static void restart_syscall(struct l_sigcontext *sc,
			    const struct trapframe *tf,
			    const struct k_sigaction *act)
{
	uint64_t nr = tf->tf_err;	/* syscall_handler kept the number */

	if (tf->tf_vector != T_SYSCALL ||
	    tf->tf_rax != (uint64_t)-LINUX_EINTR ||
	    !(act->sa_flags & SA_RESTART) ||
	    left_restart_block(curproc, nr) || nr == SYS_RT_SIGSUSPEND)
		return;
	sc->rax = nr;
	sc->rip -= SYSCALL_INSN_LEN;
}

/* Is rsp on p's alternate signal stack? */
static bool on_altstack(const struct proc *p, uint64_t rsp)
{
	return p->p_sigstk_size != 0 && rsp > p->p_sigstk_sp &&
	       rsp - p->p_sigstk_sp <= p->p_sigstk_size;
}

/* The stack_t a frame or sigaltstack reports for p at rsp. */
static struct l_stack altstack_state(const struct proc *p, uint64_t rsp)
{
	struct l_stack ss = { p->p_sigstk_sp, 0, 0, p->p_sigstk_size };

	ss.ss_flags = p->p_sigstk_size == 0 ? SS_DISABLE :
		      on_altstack(p, rsp)    ? SS_ONSTACK : 0;
	return ss;
}

/* Where the frame and the FXSAVE image go: below the interrupted RSP, or
 * at the top of the alternate stack for an SA_ONSTACK handler that is
 * not on it yet. */
static void frame_addresses(const struct proc *p, uint64_t rsp,
			    const struct k_sigaction *act, uint64_t *frame,
			    uint64_t *fpu)
{
	if ((act->sa_flags & SA_ONSTACK) && p->p_sigstk_size != 0 &&
	    !on_altstack(p, rsp))
		rsp = p->p_sigstk_sp + p->p_sigstk_size + RED_ZONE;
	*fpu = rounddown2(rsp - RED_ZONE - FXSAVE_SIZE, 64);
	*frame = rounddown2(*fpu - sizeof(struct l_rt_sigframe), 16) - 8;
}

/*
 * Build sig's frame on the user stack and point tf at act's handler.
 * Returns 0, or EFAULT when the frame cannot be written (the caller
 * kills the process).  Own thread, interrupts on; may block.
 */
static int push_frame(struct trapframe *tf, int sig,
		      const struct k_sigaction *act,
		      const struct l_siginfo *info, uint64_t oldmask)
{
	struct proc *p = curproc;
	struct l_rt_sigframe f;
	uint64_t frame, fpu;
	int error;

	if (tf->tf_rsp >= VM_MAX_USER_ADDRESS || tf->tf_rsp < PAGE_SIZE)
		return EFAULT;
	frame_addresses(p, tf->tf_rsp, act, &frame, &fpu);
	memset(&f, 0, sizeof(f));
	f.pretcode = act->sa_restorer;
	save_registers(tf, &f.uc.uc_mcontext);
	restart_syscall(&f.uc.uc_mcontext, tf, act);
	f.uc.uc_mcontext.oldmask = oldmask;
	f.uc.uc_mcontext.fpstate = fpu;
	if (tf->tf_vector == T_PAGE_FAULT)
		f.uc.uc_mcontext.cr2 = info->u.addr;
	f.uc.uc_sigmask = oldmask;
	f.uc.uc_stack = altstack_state(p, tf->tf_rsp);
	f.info = *info;
	fxsave_live(p->p_md.fxsave);	/* the user's live FPU registers */
	error = copyout(p->p_md.fxsave, (void *)fpu, FXSAVE_SIZE);
	if (error == 0)
		error = copyout(&f, (void *)frame, sizeof(f));
	if (error)
		return error;
	tf->tf_rip = act->sa_handler;
	tf->tf_rsp = frame;
	tf->tf_rdi = (uint64_t)sig;
	tf->tf_rsi = frame + __builtin_offsetof(struct l_rt_sigframe, info);
	tf->tf_rdx = frame + __builtin_offsetof(struct l_rt_sigframe, uc);
	tf->tf_rax = 0;
	tf->tf_rflags &= ~(PSL_T | PSL_D | PSL_RF | PSL_AC);
	return 0;
}

/*
 * Run act's handler for sig: the frame, then the mask the handler runs
 * with (the mask now, plus sa_mask, plus sig unless SA_NODEFER).  The
 * frame saves the mask to return to: after rt_sigsuspend, the one from
 * before it.  A handler outside user space, or a frame that cannot be
 * written, kills the process.  Own thread.
 */
static void run_handler(struct trapframe *tf, int sig,
			struct k_sigaction *act, const struct l_siginfo *info)
{
	struct proc *p = curproc;
	uint64_t mask = sigmask_load(p);
	uint64_t oldmask = p->p_sigsuspended ? p->p_sigsuspend_mask : mask;

	if (act->sa_handler >= VM_MAX_USER_ADDRESS)
		proc_fault_kill(sig, "its %s handler 0x%lx is not a user "
				"address", signal_name(sig), act->sa_handler);
	if (push_frame(tf, sig, act, info, oldmask) != 0)
		proc_fault_kill(SIGSEGV, "no room for the %s handler's frame below "
				"rsp 0x%lx", signal_name(sig), tf->tf_rsp);
	p->p_sigsuspended = false;
	p->p_restart.rb_call = 0;	/* the sleep ended: EINTR, for good */
	sigmask_store(p, mask | act->sa_mask |
			 ((act->sa_flags & SA_NODEFER) ? 0 : SIGBIT(sig)));
	if (act->sa_flags & SA_RESETHAND) {
		act->sa_handler = SIG_DFL;
		act->sa_flags &= ~SA_RESETHAND;
	}
}

/* ----------------------------------------------------------------------- */
/* Delivery.                                                               */

/* Take the lowest deliverable signal off p's pending set; 0 if none. */
static int take_signal(struct proc *p)
{
	uint64_t ready = sig_deliverable(p);
	int sig;

	if (ready == 0)
		return 0;
	sig = next_signal(ready);
	__atomic_and_fetch(&p->p_siglist, ~SIGBIT(sig), __ATOMIC_SEQ_CST);
	return sig;
}

void sig_deliver(struct trapframe *tf)
{
	struct proc *p = curproc;
	struct k_sigaction *act;
	struct l_siginfo info;
	uint32_t contgen;
	int sig;

	KASSERT(p != NULL, "sig_deliver in kernel thread \"%s\"",
		curthread->td_comm);
	lwkt_signal_clear();		/* before the bits are read */
	contgen = __atomic_load_n(&p->p_contgen, __ATOMIC_SEQ_CST);
	sig = take_signal(p);
	if (sig == 0) {
		if (p->p_sigsuspended) {	/* rt_sigsuspend ended: */
			p->p_sigsuspended = false;	/* its mask goes */
			sigmask_store(p, p->p_sigsuspend_mask);
		}
		return;
	}
	act = &p->p_sigact[sig];
	if (sig != SIGKILL && (act->sa_handler == SIG_IGN ||
			       (act->sa_handler == SIG_DFL &&
				sig_default_action(sig) == SIGDFL_IGNORE))) {
		restart_after_stop(p, tf);	/* ignored since posted */
		return;
	}
	if (sig != SIGKILL && act->sa_handler == SIG_DFL &&
	    sig_default_action(sig) == SIGDFL_STOP) {
		sig_stop(p, sig, contgen, tf);
		return;
	}
	if (sig == SIGKILL || act->sa_handler == SIG_DFL)
		proc_exit(W_SIGNALED(sig));
	memset(&info, 0, sizeof(info));
	info.si_signo = sig;
	info.si_code = SI_USER;
	info.u.kill.pid = __atomic_load_n(&p->p_sigsender[sig],
					  __ATOMIC_RELAXED);
	run_handler(tf, sig, act, &info);
}

bool sig_fault(struct trapframe *tf, int sig, int code, uint64_t addr)
{
	struct proc *p = curproc;
	struct k_sigaction *act = &p->p_sigact[sig];
	struct l_siginfo info;

	if (act->sa_handler == SIG_DFL || act->sa_handler == SIG_IGN ||
	    (sigmask_load(p) & SIGBIT(sig)))
		return false;		/* Linux too kills when it is blocked */
	memset(&info, 0, sizeof(info));
	info.si_signo = sig;
	info.si_code = code;
	info.u.addr = addr;
	run_handler(tf, sig, act, &info);
	return true;
}

void sig_fork(struct proc *child, const struct proc *parent)
{
	memcpy(child->p_sigact, parent->p_sigact, sizeof(child->p_sigact));
	child->p_sigmask = parent->p_sigsuspended ? parent->p_sigsuspend_mask
						  : parent->p_sigmask;
	child->p_siglist = 0;
	child->p_sigstk_sp = parent->p_sigstk_sp;
	child->p_sigstk_size = parent->p_sigstk_size;
}

void sig_exec(struct proc *p)
{
	p->p_sigstk_size = 0;		/* the old image's memory is gone */
	p->p_sigstk_sp = 0;
	for (int sig = 1; sig < NSIG; sig++) {
		struct k_sigaction *act = &p->p_sigact[sig];

		if (act->sa_handler != SIG_IGN)
			__atomic_store_n(&act->sa_handler, SIG_DFL,
					 __ATOMIC_RELAXED);
		act->sa_flags = 0;
		act->sa_restorer = 0;
		act->sa_mask = 0;
	}
}

/* ----------------------------------------------------------------------- */
/* System calls.                                                           */

/*
 * rt_sigaction(sig, act, oldact, sigsetsize): set and/or get sig's action.
 * sigsetsize must be 8 (the kernel's sigset); SIGKILL and SIGSTOP keep
 * their default (EINVAL), and no sa_mask can block them.  Setting an
 * action that ignores sig drops a pending sig (POSIX).
 */
int64_t sys_rt_sigaction(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;
	int sig = (int)a[0];
	struct k_sigaction act, old;
	int error;

	if (a[3] != sizeof(uint64_t) || sig <= 0 || sig >= NSIG)
		return -EINVAL;
	old = p->p_sigact[sig];
	if (a[1] != 0) {
		error = copyin((void *)a[1], &act, sizeof(act));
		if (error)
			return -error;
		if (SIGBIT(sig) & SIG_CANTMASK)
			return -EINVAL;
		act.sa_mask &= ~SIG_CANTMASK;
		p->p_sigact[sig] = act;
		if (sig_ignored(p, sig))	/* POSIX: pending ones go */
			__atomic_and_fetch(&p->p_siglist, ~SIGBIT(sig),
					   __ATOMIC_SEQ_CST);
	}
	if (a[2] != 0)
		return -copyout(&old, (void *)a[2], sizeof(old));
	return 0;
}

/*
 * rt_sigprocmask(how, set, oldset, sigsetsize): block (SIG_BLOCK),
 * unblock (SIG_UNBLOCK) or replace (SIG_SETMASK) the mask; oldset gets
 * the mask from before.  A signal it unblocks is delivered on the way
 * out of this very call (userret).
 */
int64_t sys_rt_sigprocmask(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;
	uint64_t old = sigmask_load(p), set;
	int error;

	if (a[3] != sizeof(uint64_t))
		return -EINVAL;
	if (a[1] != 0) {
		error = copyin((void *)a[1], &set, sizeof(set));
		if (error)
			return -error;
		if (a[0] == SIG_BLOCK)
			sigmask_store(p, old | set);
		else if (a[0] == SIG_UNBLOCK)
			sigmask_store(p, old & ~set);
		else if (a[0] == SIG_SETMASK)
			sigmask_store(p, set);
		else
			return -EINVAL;
	}
	if (a[2] != 0)
		return -copyout(&old, (void *)a[2], sizeof(old));
	return 0;
}

/* rt_sigpending(set, sigsetsize): the pending signals that are blocked. */
int64_t sys_rt_sigpending(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;
	uint64_t set = __atomic_load_n(&p->p_siglist, __ATOMIC_SEQ_CST) &
		       sigmask_load(p);

	if (a[1] != sizeof(uint64_t))
		return -EINVAL;
	return -copyout(&set, (void *)a[0], sizeof(set));
}

/* The mask to return to is kept in p_sigsuspend_mask; run_handler saves
 * it in the frame instead of the temporary one. */
void sig_mask_during(uint64_t mask)
{
	struct proc *p = curproc;

	p->p_sigsuspend_mask = sigmask_load(p);
	p->p_sigsuspended = true;
	sigmask_store(p, mask);
	/* A signal the new mask lets in may be pending already: it was
	 * blocked when posted, so nobody interrupted us.  Do it now, so the
	 * wait that follows ends with EINTR at once. */
	if (sig_deliverable(p) != 0)
		lwkt_signal(curthread);
}

/* A wait under a temporary mask ended without a signal. */
void sig_mask_restore(void)
{
	struct proc *p = curproc;

	if (p->p_sigsuspended) {
		p->p_sigsuspended = false;
		sigmask_store(p, p->p_sigsuspend_mask);
	}
}

/*
 * rt_sigsuspend(mask, sigsetsize): wait with mask in force until a
 * signal is delivered; always EINTR.  The old mask comes back when the
 * handler's frame is built (it is the one the frame saves) or, if no
 * handler ran, in sig_deliver.
 */
int64_t sys_rt_sigsuspend(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;
	uint64_t mask;
	int error;

	if (a[1] != sizeof(uint64_t))
		return -EINVAL;
	error = copyin((void *)a[0], &mask, sizeof(mask));
	if (error)
		return -error;
	sig_mask_during(mask);
	while (sig_deliverable(p) == 0)
		if (tsleep(&p->p_siglist, PCATCH, "sigsusp", 0) == EINTR)
			break;
	return -EINTR;
}

/*
 * Load the user's FXSAVE image at ufpu into the FPU registers.  EFAULT if
 * it cannot be read; EINVAL if MXCSR has reserved bits set (FXRSTOR
 * would #GP in the kernel; Linux refuses such a frame too).  Own thread.
 */
static int restore_fpu(struct proc *p, uint64_t ufpu)
{
	uint8_t img[FXSAVE_SIZE] __aligned(16);
	uint32_t mask, mxcsr;
	int error = copyin((void *)ufpu, img, sizeof(img));

	if (error)
		return error;
	fxsave_live(p->p_md.fxsave);	/* for MXCSR_MASK */
	memcpy(&mask, &p->p_md.fxsave[FXSAVE_MXCSR_MASK], 4);
	if (mask == 0)
		mask = MXCSR_MASK_DEFAULT;
	memcpy(&mxcsr, &img[FXSAVE_MXCSR], 4);
	if (mxcsr & ~mask)
		return EINVAL;
	crit_enter();			/* a switch saves p_md.fxsave */
	memcpy(p->p_md.fxsave, img, sizeof(img));
	fxrstor_live(p->p_md.fxsave);
	crit_exit();
	return 0;
}

/* The registers of sc into tf, trusting nothing of the privileged part. */
static void load_registers(struct trapframe *tf, const struct l_sigcontext *sc)
{
	tf->tf_r8 = sc->r8;	tf->tf_r9 = sc->r9;
	tf->tf_r10 = sc->r10;	tf->tf_r11 = sc->r11;
	tf->tf_r12 = sc->r12;	tf->tf_r13 = sc->r13;
	tf->tf_r14 = sc->r14;	tf->tf_r15 = sc->r15;
	tf->tf_rdi = sc->rdi;	tf->tf_rsi = sc->rsi;
	tf->tf_rbp = sc->rbp;	tf->tf_rbx = sc->rbx;
	tf->tf_rdx = sc->rdx;	tf->tf_rax = sc->rax;
	tf->tf_rcx = sc->rcx;	tf->tf_rsp = sc->rsp;
	tf->tf_rip = sc->rip;
	tf->tf_rflags = (sc->eflags & PSL_USERCHANGE) | PSL_I | PSL_RESERVED1;
	tf->tf_cs = USER_CS;
	tf->tf_ss = USER_SS;
	tf->tf_vector = T_SIGRETURN;	/* IRETQ: RCX and R11 come back */
	tf->tf_err = 0;
}

/*
 * rt_sigreturn: back from a handler.  RSP (just above pretcode) points at
 * the ucontext.  Every register comes back as the frame says, so the
 * dispatcher must leave RAX alone (SYSENT_RAW).
 */
int64_t sys_rt_sigreturn(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;
	struct l_ucontext uc;
	uint64_t at = tf->tf_rsp;
	int error;

	if (copyin((void *)at, &uc, sizeof(uc)) != 0)
		proc_fault_kill(SIGSEGV, "rt_sigreturn with no signal frame "
				"at rsp 0x%lx", at);
	if (uc.uc_mcontext.rip >= VM_MAX_USER_ADDRESS ||
	    uc.uc_mcontext.rsp >= VM_MAX_USER_ADDRESS)
		proc_fault_kill(SIGSEGV, "rt_sigreturn to rip 0x%lx rsp 0x%lx, "
				"outside user space", uc.uc_mcontext.rip,
				uc.uc_mcontext.rsp);
	if (uc.uc_mcontext.fpstate != 0 &&
	    (error = restore_fpu(p, uc.uc_mcontext.fpstate)) != 0)
		proc_fault_kill(SIGSEGV, "rt_sigreturn: the FPU state at 0x%lx "
				"%s", uc.uc_mcontext.fpstate,
				error == EFAULT ? "cannot be read" :
				"sets reserved MXCSR bits");
	load_registers(tf, &uc.uc_mcontext);
	sigmask_store(p, uc.uc_sigmask);
	return (int64_t)tf->tf_rax;
}

/*
 * sigaltstack(ss, old): set and/or get the alternate signal stack that
 * SA_ONSTACK handlers run on.  EPERM while running on it, EINVAL for
 * flags other than 0 and SS_DISABLE, ENOMEM below MINSIGSTKSZ.
 */
int64_t sys_sigaltstack(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;
	struct l_stack old = altstack_state(p, tf->tf_rsp), ss;
	int error;

	if (a[0] != 0) {
		error = copyin((void *)a[0], &ss, sizeof(ss));
		if (error)
			return -error;
		if (old.ss_flags == SS_ONSTACK)
			return -EPERM;
		if (ss.ss_flags != 0 && ss.ss_flags != SS_DISABLE)
			return -EINVAL;
		if (ss.ss_flags == 0 && ss.ss_size < MINSIGSTKSZ)
			return -ENOMEM;
		if (ss.ss_flags == 0 && (ss.ss_sp >= VM_MAX_USER_ADDRESS ||
		    ss.ss_size > VM_MAX_USER_ADDRESS - ss.ss_sp))
			return -EINVAL;	/* outside user space */
		p->p_sigstk_sp = ss.ss_flags == 0 ? ss.ss_sp : 0;
		p->p_sigstk_size = ss.ss_flags == 0 ? ss.ss_size : 0;
	}
	if (a[1] != 0)
		return -copyout(&old, (void *)a[1], sizeof(old));
	return 0;
}

/*
 * tkill(tid, sig) and tgkill(tgid, tid, sig): a signal for one thread.  A
 * process has one thread, whose tid is the pid, so these are kill() of
 * that pid (musl's raise() uses tkill).  EINVAL for a tid <= 0; ESRCH
 * when tgid does not own tid.
 */
int64_t sys_tkill(struct trapframe *tf, const uint64_t *a)
{
	if ((int)a[0] <= 0)
		return -EINVAL;
	return -proc_kill((int)a[0], (int)a[1]);
}

int64_t sys_tgkill(struct trapframe *tf, const uint64_t *a)
{
	if ((int)a[0] <= 0 || (int)a[1] <= 0)
		return -EINVAL;
	if (a[0] != a[1])
		return -ESRCH;
	return -proc_kill((int)a[1], (int)a[2]);
}
