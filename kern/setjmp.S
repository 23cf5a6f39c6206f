/*
 * setjmp.S - save and restore a kernel execution context.
 *
 * Used by the test harness to come back from an expected fault or panic:
 * the trap handler (or panic) calls kern_longjmp() and execution resumes
 * after the matching kern_setjmp(), which then returns 1.
 *
 * The buffer holds what the SysV x86-64 ABI says a callee must preserve,
 * plus RFLAGS so that the interrupt flag comes back as it was:
 *
 *   0 rbx   8 rbp  16 r12  24 r13  32 r14  40 r15  48 rsp  56 rip  64 rflags
 */
	.text
	.globl	kern_setjmp
kern_setjmp:
	movq	%rbx, 0(%rdi)
	movq	%rbp, 8(%rdi)
	movq	%r12, 16(%rdi)
	movq	%r13, 24(%rdi)
	movq	%r14, 32(%rdi)
	movq	%r15, 40(%rdi)
	leaq	8(%rsp), %rax		/* rsp as it will be after our ret */
	movq	%rax, 48(%rdi)
	movq	(%rsp), %rax		/* our return address */
	movq	%rax, 56(%rdi)
	pushfq
	popq	64(%rdi)
	xorl	%eax, %eax
	ret

	.globl	kern_longjmp
kern_longjmp:
	movq	0(%rdi), %rbx
	movq	8(%rdi), %rbp
	movq	16(%rdi), %r12
	movq	24(%rdi), %r13
	movq	32(%rdi), %r14
	movq	40(%rdi), %r15
	movq	48(%rdi), %rsp
	pushq	64(%rdi)
	popfq
	movl	%esi, %eax
	testl	%eax, %eax
	jnz	1f
	incl	%eax			/* longjmp(env, 0) returns 1 */
1:	jmpq	*56(%rdi)
