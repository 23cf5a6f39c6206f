/*
 * user_entry.S - the doors between user mode and the kernel: the SYSCALL
 * entry, and the one way back to user mode.
 *
 * SYSCALL (SDM vol. 2B, "SYSCALL") loads RIP from IA32_LSTAR, saves the
 * user RIP in RCX and RFLAGS in R11, clears the RFLAGS bits of
 * IA32_FMASK (IF among them, so we start with interrupts off) and
 * switches CS/SS -- but not RSP.  So the entry must
 *
 *   1. SWAPGS: GS base becomes this CPU's globaldata (the user's GS base
 *      goes to IA32_KERNEL_GS_BASE until the way back swaps again);
 *   2. park the user RSP in gd_user_rsp and load the kernel stack top of
 *      the running thread from gd_rsp0;
 *   3. push a struct trapframe of exactly the shape an interrupt from
 *      user mode leaves (machine/frame.h), so fork, exec and the fault
 *      path see one kind of frame whichever door was used:
 *
 *          ss    = user data selector     <- pushed here, as the CPU
 *          rsp   = gd_user_rsp               would for an interrupt
 *          rflags= r11
 *          cs    = user code selector
 *          rip   = rcx
 *          err   = 0, vector = T_SYSCALL
 *          rax .. r15 (rax = the system call number)
 *
 * The way back (user_return) is shared with traps from user mode and with
 * the first entry of a new process (user_enter): with interrupts off,
 * userret() runs what is pending (a reschedule, a fatal signal) and says
 * whether SYSRET may be used.  SYSRET is cheaper than IRETQ but loads RIP
 * from RCX without a canonical check on Intel CPUs, where a
 * non-canonical RIP faults *in ring 0 on the user's stack* (CVE-2012-0217);
 * userret allows it only for a canonical user RIP and the standard user
 * selectors.  Otherwise IRETQ takes everything from the frame.
 *
 * A known gap: an NMI that lands between the exit SWAPGS and SYSRET/IRETQ
 * sees a kernel CS with the user's GS base.  Damselfly's NMIs only stop
 * CPUs after a panic.
 */
#include <machine/cpu.h>

#define T_SYSCALL	256	/* a frame made by SYSCALL, not a vector */
#define USER_CS		(0x28 | 3)	/* GSEL_UCODE, RPL 3 (machine/gdt.h) */
#define USER_SS		(0x20 | 3)	/* GSEL_UDATA, RPL 3 */
#define TF_SIZE		176		/* sizeof(struct trapframe) */

	.macro	PUSH_REGS
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	.endm

	.macro	POP_REGS
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	.endm

	.text
	.globl	syscall_entry
	.type	syscall_entry, @function
	.balign	16
syscall_entry:
	swapgs
	movq	%rsp, %gs:GD_USER_RSP
	movq	%gs:GD_RSP0, %rsp
	pushq	$USER_SS
	pushq	%gs:GD_USER_RSP
	pushq	%r11			/* user RFLAGS */
	pushq	$USER_CS
	pushq	%rcx			/* user RIP */
	pushq	$0
	pushq	$T_SYSCALL
	PUSH_REGS
	xorl	%ebp, %ebp		/* the backtrace ends at the frame */
	cld
	sti
	movq	%rsp, %rdi
	call	syscall_handler
	jmp	user_return
	.size	syscall_entry, . - syscall_entry

/* Every return to user mode: rsp points at the user frame. */
	.globl	user_return
	.type	user_return, @function
user_return:
	cli
	movq	%rsp, %rdi
	call	userret			/* returns with interrupts off */
	testl	%eax, %eax
	jz	1f
	POP_REGS
	addq	$16, %rsp		/* vector and error code */
	movq	0(%rsp), %rcx		/* RIP for SYSRET */
	movq	16(%rsp), %r11		/* RFLAGS for SYSRET */
	movq	24(%rsp), %rsp		/* the user stack */
	swapgs
	sysretq
1:	POP_REGS
	addq	$16, %rsp
	swapgs
	iretq
	.size	user_return, . - user_return

/* void user_enter(const struct trapframe *src, struct trapframe *dst):
 * the first entry into user mode of a new process or a fork's child.
 * dst is the frame slot at the top of this thread's kernel stack -- the
 * very bytes the caller's own C frame sits in -- so the copy is made
 * here, where nothing is left to return to, and the stack then starts
 * at dst like after any other entry from user mode. */
	.globl	user_enter
	.type	user_enter, @function
user_enter:
	cli
	movq	%rsi, %rdx		/* dst */
	movq	%rdi, %rsi		/* src */
	movq	%rdx, %rdi
	movl	$(TF_SIZE / 8), %ecx
	cld
	rep movsq
	movq	%rdx, %rsp
	jmp	user_return
	.size	user_enter, . - user_enter
