/*
 * trap_vectors.S - the 256 interrupt entry points and the common path.
 *
 * The CPU pushes an error code for some exceptions only (SDM vol. 3A, 6.13
 * "Error Code"): 8 #DF, 10 #TS, 11 #NP, 12 #SS, 13 #GP, 14 #PF, 17 #AC,
 * 21 #CP, 29 #VC, 30 #SX.  Every other stub pushes a 0 in its place, so
 * all frames have one shape (struct trapframe in machine/frame.h).
 *
 * Each stub then pushes its vector number and jumps to trap_common, which
 * saves the general registers and calls trap(frame) in C.  The stub
 * addresses are collected in trap_stubs[] for the IDT setup (kern/trap.c).
 */
	.text
	.altmacro		/* lets %vec pass a number's value to a macro */

	.macro	TRAP_STUB vec
	.balign	16
trap_stub_\vec:
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$\vec
	jmp	trap_common
	.endm

	.set	vec, 0
	.rept	256
	TRAP_STUB %vec
	.set	vec, vec + 1
	.endr

/*
 * From user mode (the saved CS has RPL 3) the GS base still holds the
 * user's value: SWAPGS makes it this CPU's globaldata, and the way back
 * (user_return, kern/user_entry.S) swaps again.  The LFENCE keeps the
 * CPU from speculating past the test with the wrong GS (CVE-2019-1125).
 */
#define TF_CS	144	/* offsetof(struct trapframe, tf_cs) */
trap_common:
	testb	$3, 24(%rsp)		/* CS above vector and error code */
	jz	1f
	swapgs
1:	lfence
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
	cld
	movq	%rsp, %rdi		/* struct trapframe * */
	call	trap
	testb	$3, TF_CS(%rsp)
	jnz	user_return		/* pending work, then back to user */
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
	addq	$16, %rsp		/* vector and error code */
	iretq

	.section .rodata
	.balign	8
	.globl	trap_stubs
trap_stubs:
	.macro	TRAP_STUB_ADDR vec
	.quad	trap_stub_\vec
	.endm
	.set	vec, 0
	.rept	256
	TRAP_STUB_ADDR %vec
	.set	vec, vec + 1
	.endr
