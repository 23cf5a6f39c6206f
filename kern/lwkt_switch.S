/*
 * lwkt_switch.S - the machine half of a thread switch.
 *
 * struct thread *cpu_lwkt_switch(struct thread *ntd)
 *
 * Called by lwkt_switch() (kern/lwkt_thread.c) inside a critical section.
 * The System V ABI lets a called function clobber rax, rcx, rdx, rsi, rdi,
 * r8-r11 (System V AMD64 ABI, 3.2.1 "Registers"), so a switch that happens
 * inside a function call only has to keep the callee-saved ones: rbp, rbx,
 * r12-r15, plus RFLAGS (so each thread keeps its own interrupt flag).  The
 * kernel is built without SSE/x87 (-mgeneral-regs-only), so there is no
 * FPU state to save.  The outgoing thread's stack then looks like:
 *
 *        +----------------------+
 *        | return into caller   |  pushed by the call
 *        | rbp rbx r12..r15     |  6 callee-saved registers
 *        | rflags               |  <- old->td_sp
 *        +----------------------+
 *
 * and the switch is: push, save rsp, install the new thread as curthread,
 * load its rsp, pop, ret.  Interrupts are off for the few instructions in
 * which curthread and the stack disagree.  The previous thread comes back
 * in rax, so the new thread can finish the hand-off (lwkt_switch_return).
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
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	pushfq
	cli
	movq	%gs:GD_CURTHREAD, %rax		/* the old thread */
	movq	%rsp, TD_SP(%rax)
	movq	%rdi, %gs:GD_CURTHREAD
	movq	TD_SP(%rdi), %rsp
	popfq
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
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
