/*
 * lwkt_switch.S - the machine half of a thread switch.
 *
 * struct thread *cpu_lwkt_switch(struct thread *ntd)
 *
 * Called by lwkt_switch() (kern/lwkt_thread.c) inside a critical section,
 * through cpu_lwkt_switch_call() (kern/thread.h), an inline call that
 * tells the compiler every register but rbp, r15 and rsp is destroyed.  So
 * this function saves almost nothing itself: the caller's compiler has
 * already saved, in its own prologue, whatever callee-saved registers
 * (rbx, r12-r14) it uses -- typically a few, instead of all six pushed
 * and popped here on every switch -- and keeps nothing in the
 * caller-saved ones across the call.  rbp cannot be named in such a list
 * (it is the frame pointer), so it is saved here, with RFLAGS (each
 * thread keeps its own interrupt flag), and so is r15: lwkt_switch needs
 * only three callee-saved registers of its own, and with r15 kept here
 * the four it then saves (rbx, r12-r14) leave its stack 16-byte aligned
 * without an adjustment.  The kernel is built without
 * SSE/x87 (-mgeneral-regs-only), so there is no FPU state to save.  The
 * outgoing thread's stack then looks like:
 *
 *        +----------------------+
 *        | return into caller   |  pushed by the call
 *        | rbp r15              |
 *        | rflags               |  <- old->td_sp
 *        +----------------------+
 *
 * and the switch is: push, save rsp, install the new thread as curthread,
 * load its rsp, pop, ret -- twelve instructions.  Interrupts are off for the
 * few instructions in which curthread and the stack disagree.  The
 * previous thread comes back in rax, so the new thread can finish the
 * hand-off (lwkt_switch_return).
 *
 * A thread that has never run has a stack built by lwkt_create() in the
 * same shape, whose return address is cpu_kthread_restore.
 */
#include <machine/cpu.h>

#define TD_SP	96	/* offsetof(struct thread, td_sp); asserted in C */

	.text
	.globl	cpu_lwkt_switch
	.type	cpu_lwkt_switch, @function
cpu_lwkt_switch:
	pushq	%rbp
	pushq	%r15
	pushfq
	cli
	movq	%gs:GD_CURTHREAD, %rax		/* the old thread */
	movq	%rsp, TD_SP(%rax)
	movq	%rdi, %gs:GD_CURTHREAD
	movq	TD_SP(%rdi), %rsp
	popfq
	popq	%r15
	popq	%rbp
	ret
	.size	cpu_lwkt_switch, . - cpu_lwkt_switch

/*
 * The first instruction a new thread runs: rax holds the thread we came
 * from.  lwkt_kthread_start(old) finishes the switch, leaves the critical
 * section every thread starts in, and calls the thread's function.
 */
	.globl	cpu_kthread_restore
	.type	cpu_kthread_restore, @function
cpu_kthread_restore:
	movq	%rax, %rdi
	xorl	%ebp, %ebp		/* ends the backtrace here */
	call	lwkt_kthread_start
	ud2				/* lwkt_kthread_start never returns */
	.size	cpu_kthread_restore, . - cpu_kthread_restore
