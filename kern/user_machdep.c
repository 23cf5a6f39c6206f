/*
 * user_machdep.c - the machine side of user mode: the SYSCALL MSRs, what
 * a switch to or from a user thread must carry, faults taken in user
 * mode, copyin/copyout, and the last step before every return to user.
 *
 * Faults.  A page fault in user mode goes to vm_fault(); if the VM layer
 * cannot resolve it, the signal is SIGSEGV (SIGBUS for a file page that
 * cannot be read); any other exception in user mode has its matching
 * signal.  A process that catches that signal (and does not block it)
 * runs its handler (kern/kern_sig.c); any other is killed, and a line
 * names the process, the address, the access and the instruction.  The
 * kernel itself lives on.
 *
 * User memory from the kernel.  With SMAP on, the kernel cannot touch a
 * user page by accident: every access goes through copyin, copyout or
 * copyinstr, which
 *   1. refuse any range that is not wholly below VM_MAX_USER_ADDRESS
 *      (a kernel pointer passed to read() is EFAULT, never a leak);
 *   2. set a recovery point (p_onfault, a kern_setjmp) and open the SMAP
 *      window (STAC) for the copy only;
 *   3. on a page fault inside the window, let vm_fault bring the page in
 *      (demand paging works for the kernel's copies too) and, if it
 *      cannot, jump back to the recovery point: the call returns EFAULT.
 * A kernel fault on a user address outside such a window is a kernel
 * bug and panics as any kernel fault does.
 *
 * Context: the trap paths run on the faulting thread's kernel stack with
 * interrupts off at entry; they turn them on around vm_fault and signal
 * delivery (which may block) and off again before the return: the exit
 * (kern/user_entry.S) runs with interrupts off from userret's last look
 * to SYSRET or IRETQ, so no signal or reschedule can arrive unseen.
 * cpu_user_switch runs inside lwkt_switch's critical section and must
 * not block.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <kern/setjmp.h>
#include <kern/signal.h>
#include <kern/thread.h>
#include <kern/trap.h>
#include <machine/cpufunc.h>
#include <machine/frame.h>
#include <machine/gdt.h>
#include <vm/vm_map.h>

#define MSR_EFER	   0xc0000080
#define EFER_SCE	   (1UL << 0)	/* SYSCALL enable */
#define MSR_STAR	   0xc0000081	/* selectors for SYSCALL/SYSRET */
#define MSR_LSTAR	   0xc0000082	/* 64-bit SYSCALL entry */
#define MSR_FMASK	   0xc0000084	/* RFLAGS bits SYSCALL clears */
#define MSR_FS_BASE	   0xc0000100	/* the user's TLS pointer */
#define MSR_KERNEL_GS_BASE 0xc0000102	/* what SWAPGS swaps in */

/* RFLAGS (SDM vol. 1, 3.4.3). */
#define PSL_TF	 0x100
#define PSL_DF	 0x400
#define PSL_NT	 0x4000
#define PSL_IOPL 0x3000
#define PSL_AC	 0x40000

/* The page fault's error code (SDM vol. 3A, 4.7). */
#define PGEX_P 0x01		/* a protection fault, not a missing page */
#define PGEX_W 0x02		/* the access was a write */
#define PGEX_I 0x10		/* an instruction fetch */

#define T_SYSCALL 256
#define USER_CS	  (GSEL_UCODE | 3)
#define USER_SS	  (GSEL_UDATA | 3)

_Static_assert(__builtin_offsetof(struct trapframe, tf_cs) == 144,
	       "TF_CS in kern/trap_vectors.S is stale");
_Static_assert(sizeof(struct trapframe) == 176,
	       "TF_SIZE in kern/user_entry.S is stale");
_Static_assert(USER_CS == 0x2b && USER_SS == 0x23,
	       "USER_CS/USER_SS in kern/user_entry.S are stale");

extern char syscall_entry[];

/* ----------------------------------------------------------------------- */
/* Per-CPU setup.                                                          */

/*
 * SYSCALL's selectors come from IA32_STAR (SDM vol. 2B, "SYSCALL",
 * "SYSRET"): bits 47:32 give the kernel CS (SS is CS + 8); bits 63:48
 * give a base from which SYSRET to 64-bit mode takes CS = base + 16 and
 * SS = base + 8, both with RPL 3.  With base 0x18 that is 0x2b and 0x23:
 * our user code and data selectors (machine/gdt.h orders them for this).
 */
void syscall_cpu_init(void)
{
	uint64_t sysret_base = GSEL_UDATA - 8;

	wrmsr(MSR_STAR, (sysret_base << 48) | ((uint64_t)GSEL_KCODE << 32));
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_FMASK, PSL_I | PSL_TF | PSL_DF | PSL_NT | PSL_IOPL | PSL_AC);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	pmap_user_cpu_init();
}

/* ----------------------------------------------------------------------- */
/* Switching.                                                              */

/* The user frame at the top of td's kernel stack (contract in
 * kern/proc.h): every entry from user mode leaves it exactly there. */
struct trapframe *proc_frame(struct thread *td)
{
	return (struct trapframe *)((char *)td->td_kstack +
				    td->td_kstack_size) - 1;
}

/* Save / load the x87, MMX and SSE state; area is 512 bytes, 16-byte
 * aligned (SDM vol. 1, 10.5). */
static inline void fxsave(void *area)
{
	__asm__ volatile("fxsave64 (%0)" : : "r"(area) : "memory");
}

static inline void fxrstor(const void *area)
{
	__asm__ volatile("fxrstor64 (%0)" : : "r"(area) : "memory");
}

/*
 * The kernel uses no FPU or SSE register (-mgeneral-regs-only), so user
 * FPU state only has to move when one user thread gives way to another;
 * saving it at every switch away from a user thread is simple and cheap
 * next to the switch itself.  The FS base (TLS) is kept current in p_md
 * by arch_prctl, so it is only loaded.
 */
void cpu_user_switch(struct thread *otd, struct thread *ntd)
{
	struct globaldata *gd = mycpu;
	struct proc *np = ntd->td_proc;

	if (otd->td_proc != NULL)
		fxsave(otd->td_proc->p_md.fxsave);
	if (np == NULL) {
		pmap_activate(NULL);
		return;
	}
	fxrstor(np->p_md.fxsave);
	wrmsr(MSR_FS_BASE, np->p_md.fs_base);
	gd->gd_rsp0 = (uint64_t)(proc_frame(ntd) + 1);
	gdt_set_rsp0(gd->gd_cpuid, gd->gd_rsp0);
	pmap_activate(np->p_vmspace != NULL ? &np->p_vmspace->vm_pmap : NULL);
}

/* ----------------------------------------------------------------------- */
/* Back to user mode.                                                      */

/*
 * The last step before every return to user mode (contract in
 * kern/proc.h), called with interrupts off: deliver signals (a handler's
 * frame, a stop, or the exit) and give way to a reschedule, then look
 * again, since either may have let more work arrive.  Returns true when
 * SYSRET may be used: the frame came from SYSCALL and RIP, CS and SS
 * are the user's (see docs/user.md on SYSRET's trap).
 */
bool userret(struct trapframe *tf)
{
	struct proc *p = curproc;

	KASSERT(p != NULL, "userret: returning to user mode in kernel thread "
		"\"%s\"", curthread->td_comm);
	for (;;) {
		if (sig_work(p)) {	/* a handler's frame, or the end */
			cpu_enable_intr();
			sig_deliver(tf);
			cpu_disable_intr();
			continue;
		}
		if (!(cpu_reqflags() & (RQF_AST_LWKT_RESCHED |
					RQF_IDLECHECK_MASK)))
			break;
		cpu_enable_intr();
		lwkt_yield();
		cpu_disable_intr();
	}
	return tf->tf_vector == T_SYSCALL && tf->tf_rip < VM_MAX_USER_ADDRESS &&
	       tf->tf_cs == USER_CS && tf->tf_ss == USER_SS;
}

/* ----------------------------------------------------------------------- */
/* Faults.                                                                 */

/* The access a page fault's error code describes, as a VM_PROT_* bit. */
static int fault_access(uint64_t err)
{
	if (err & PGEX_I)
		return VM_PROT_EXECUTE;
	return err & PGEX_W ? VM_PROT_WRITE : VM_PROT_READ;
}

/* How an access reads in a kill message: "write to 0x1000". */
static const char *access_name(int access)
{
	return access == VM_PROT_EXECUTE ? "execute" :
	       access == VM_PROT_WRITE	 ? "write to" : "read from";
}

/* Has p been sent SIGKILL (by the OOM killer, say) that it has not taken
 * yet?  It then dies on its way back to user mode. */
static bool sigkill_pending(struct proc *p)
{
	return __atomic_load_n(&p->p_siglist, __ATOMIC_SEQ_CST) &
	       SIGBIT(SIGKILL);
}

/* A fault that found no free page (kern/kern_oom.c).  If a larger
 * process was killed for it, or one is still dying, this returns and the
 * instruction runs again; if this process has been chosen already, it
 * returns and dies on its way out; else this one, the largest, is killed
 * now (SIGKILL, which no handler can catch -- a handler would need memory
 * too), and its exit gives back what it had.  The kernel goes on. */
static void user_fault_oom(uint64_t va, int access)
{
	struct proc *p = curproc;

	if (oom_fault(p) || sigkill_pending(p))
		return;
	proc_fault_kill(SIGKILL, "out of memory (a %s 0x%lx found no free "
			"page)", access_name(access), va);
}

/* A user page fault vm_fault could not resolve: the process's handler
 * for the signal runs, or the process is killed with a line saying why. */
static void user_pagefault_signal(struct trapframe *tf,
					   uint64_t va, int access, int rv)
{
	const char *why = rv == KERN_PROTECTION_FAILURE ?
				  "a page that forbids it" :
			  rv == KERN_PAGER_ERROR ? "a file page past its end" :
							 "an unmapped address";

	int sig = rv == KERN_PAGER_ERROR ? SIGBUS : SIGSEGV;
	int code = rv == KERN_PAGER_ERROR ? BUS_ADRERR :
		   rv == KERN_PROTECTION_FAILURE ? SEGV_ACCERR : SEGV_MAPERR;

	if (rv == KERN_RESOURCE_SHORTAGE) {
		user_fault_oom(va, access);
		return;
	}

	if (sig_fault(tf, sig, code, va))
		return;			/* its handler runs */
	proc_fault_kill(sig,
			"%s %s 0x%lx at rip 0x%lx%s", access_name(access), why, va,
			tf->tf_rip,
			va < VM_MIN_USER_ADDRESS ? " (a NULL pointer)" : "");
}

/* The signal for an exception in user mode (POSIX's usual mapping). */
static int exception_signal(unsigned vector)
{
	switch (vector) {
	case T_DIVIDE:
	case T_FPU_ERROR:
	case T_SIMD_ERROR:
		return SIGFPE;
	case T_DEBUG:
	case T_BREAKPOINT:
		return SIGTRAP;
	case T_INVALID_OP:
	case T_NO_FPU:
		return SIGILL;
	case T_ALIGNMENT:
		return SIGBUS;
	default:
		return SIGSEGV;
	}
}

/* An exception in user mode of process p (the current one): a page
 * fault is resolved or kills; any other exception kills with its
 * signal. */
static void user_exception(struct trapframe *tf, struct proc *p)
{
	uint64_t va = tf->tf_vector == T_PAGE_FAULT ? rcr2() : 0;
	int access, rv;

	cpu_enable_intr();
	if (tf->tf_vector != T_PAGE_FAULT) {
		int sig = exception_signal(tf->tf_vector);

		if (!sig_fault(tf, sig, SI_KERNEL, tf->tf_rip))
			proc_fault_kill(sig, "%s at rip 0x%lx",
					trap_name(tf->tf_vector), tf->tf_rip);
		cpu_disable_intr();
		return;
	}
	access = fault_access(tf->tf_err);
	rv = va < VM_MAX_USER_ADDRESS
		     ? vm_fault(&p->p_vmspace->vm_map, va, access)
		     : KERN_INVALID_ADDRESS;
	if (rv != KERN_SUCCESS)
		user_pagefault_signal(tf, va, access, rv);
	cpu_disable_intr();
}

/* A copy window found no page for the process's memory: the copy fails
 * (EFAULT) and the process is sent SIGKILL, which it takes on its way
 * back to user mode, as a fault there would have killed it. */
static void copy_oom_kill(struct proc *p, uint64_t va, int access)
{
	kprintf("pid %d (%s): killed by SIGKILL: out of memory (a system "
		"call's %s 0x%lx found no free page)\n", p->p_pid, p->p_comm,
		access_name(access), va);
	proc_kill(p->p_pid, SIGKILL);
}

/* A kernel-mode page fault: only a copy window's fault on a user address
 * is ours; the rest is left to trap() to report. */
static bool copy_fault(struct trapframe *tf)
{
	struct proc *p = curproc;
	uint64_t va = rcr2();
	struct kjmp_buf *jb;
	int rv;

	if (p == NULL || p->p_onfault == NULL || va >= VM_MAX_USER_ADDRESS)
		return false;
	if (tf->tf_rflags & PSL_I)
		cpu_enable_intr();
	rv = vm_fault(&p->p_vmspace->vm_map, va, fault_access(tf->tf_err));
	if (rv == KERN_SUCCESS) {
		cpu_disable_intr();
		return true;		/* retry the copy */
	}
	if (rv == KERN_RESOURCE_SHORTAGE && (tf->tf_rflags & PSL_I) &&
	    oom_fault(p)) {
		cpu_disable_intr();
		return true;		/* another died for it: retry */
	}
	if (rv == KERN_RESOURCE_SHORTAGE && !sigkill_pending(p))
		copy_oom_kill(p, va, fault_access(tf->tf_err));
	jb = p->p_onfault;
	p->p_onfault = NULL;
	kern_longjmp(jb, 1);
}

/* Every trap from user mode is ours; in kernel mode, only a copy
 * window's page fault.  Contract in kern/proc.h. */
bool user_trap(struct trapframe *tf)
{
	if ((tf->tf_cs & 3) == 3) {
		struct proc *p = curproc;

		KASSERT(p != NULL, "a trap from user mode in kernel "
			"thread \"%s\"", curthread->td_comm);
		user_exception(tf, p);
		return true;
	}
	return tf->tf_vector == T_PAGE_FAULT && copy_fault(tf);
}

/* ----------------------------------------------------------------------- */
/* copyin, copyout, copyinstr.                                             */

/* Is [uaddr, uaddr + len) wholly user space (no wrap)? */
static bool user_range(const void *uaddr, size_t len)
{
	uint64_t a = (uint64_t)uaddr;

	return a + len >= a && a + len <= VM_MAX_USER_ADDRESS;
}

/* Open / close the SMAP window (SDM vol. 2, STAC/CLAC; #UD without SMAP). */
static inline void smap_open(void)
{
	if (pmap_have_smap())
		__asm__ volatile("stac" ::: "memory", "cc");
}

static inline void smap_close(void)
{
	if (pmap_have_smap())
		__asm__ volatile("clac" ::: "memory", "cc");
}

/*
 * Copy len bytes between user and kernel in direction to_user.  The
 * recovery point is set before the window opens; a fault that cannot be
 * resolved comes back through kern_longjmp with RFLAGS as they were at
 * kern_setjmp, which closes the SMAP window (AC clear) by itself.
 */
static int copy_user(void *dst, const void *src, size_t len,
		     const void *uaddr)
{
	struct proc *p = curproc;
	struct kjmp_buf jb;

	if (len == 0)
		return 0;
	if (p == NULL || !user_range(uaddr, len))
		return EFAULT;
	if (kern_setjmp(&jb) != 0)
		return EFAULT;		/* p_onfault was cleared by the fault */
	p->p_onfault = &jb;
	smap_open();
	memcpy(dst, src, len);
	smap_close();
	p->p_onfault = NULL;
	return 0;
}

/* copyin and copyout: 0 or EFAULT (contract in kern/proc.h). */
int copyin(const void *uaddr, void *kaddr, size_t len)
{
	return copy_user(kaddr, uaddr, len, uaddr);
}

int copyout(const void *kaddr, void *uaddr, size_t len)
{
	return copy_user(uaddr, kaddr, len, uaddr);
}

/* Byte by byte up to the NUL: a string may end just before an unmapped
 * page, so reading a whole block first could fault wrongly. */
int copyinstr(const void *uaddr, char *kaddr, size_t maxlen, size_t *done)
{
	const char *u = uaddr;
	size_t n;
	int error = ENAMETOOLONG;

	for (n = 0; n < maxlen; n++) {
		error = copyin(u + n, kaddr + n, 1);
		if (error)
			break;
		if (kaddr[n] == '\0') {
			n++;
			break;
		}
	}
	if (error == 0 && (n == 0 || kaddr[n - 1] != '\0'))
		error = ENAMETOOLONG;
	if (done != NULL)
		*done = n;
	return error;
}
