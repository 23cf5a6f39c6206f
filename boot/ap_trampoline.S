/*
 * ap_trampoline.S - where an application processor starts: 16-bit real
 * mode at physical AP_TRAMPOLINE_PHYS, to 64-bit kernel code.
 *
 * A start-up IPI (SIPI) starts a CPU in real mode at CS:IP = page<<8 : 0
 * (SDM vol. 3A, 9.4.4 and 11.6.1), so this code is copied below 1 MiB by
 * kern/mp_machdep.c and runs there at a fixed address; REL() turns a
 * label into that address.  It does in a few dozen instructions what
 * boot/entry.S did for the boot CPU:
 *
 *   16-bit: load a tiny GDT, set CR0.PE, far-jump to 32-bit code
 *   32-bit: CR4.PAE, CR3 = the trampoline page tables (identity and
 *           KERNBASE maps of the first GiB; built in mp_machdep.c), EFER.LME
 *           (+NXE), CR0.PG: now in compatibility mode; far-jump to 64-bit
 *   64-bit: load the stack and globaldata pointer the boot CPU left in the
 *           data block, and jump to ap_entry64 in the kernel image
 *
 * ap_entry64 then switches to the boot CPU's real CR4, CR3 and CR0 (before
 * touching the stack, which only the real page tables map) and calls
 * ap_main(gd) in C.  The data block at the end is filled in per CPU.
 */
#include <machine/smp.h>

#define REL(x)		((x) - ap_trampoline + AP_TRAMPOLINE_PHYS)
#define CR0_PE		0x1
#define CR0_PG		0x80000000
#define CR4_PAE		0x20
#define MSR_EFER	0xc0000080

	.section .rodata
	.balign	16
	.globl	ap_trampoline, ap_trampoline_end
	.globl	tramp_pml4, tramp_efer, tramp_stack, tramp_gd, tramp_entry
	.code16
ap_trampoline:
	cli
	cld
	xorw	%ax, %ax
	movw	%ax, %ds
	lgdtl	REL(tramp_gdt_desc)
	movl	%cr0, %eax
	orl	$CR0_PE, %eax
	movl	%eax, %cr0
	ljmpl	$0x08, $REL(tramp32)

	.code32
tramp32:
	movw	$0x10, %ax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	REL(tramp_pml4), %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	REL(tramp_efer), %eax	/* LME, and NXE if the BSP uses it */
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ljmpl	$0x18, $REL(tramp64)

	.code64
tramp64:
	movq	REL(tramp_stack), %rsp
	movq	REL(tramp_gd), %rdi
	movq	REL(tramp_entry), %rax
	jmp	*%rax

	.balign	8
tramp_gdt:
	.quad	0			/* null */
	.quad	0x00cf9a000000ffff	/* 0x08: 32-bit code, 4 GiB flat */
	.quad	0x00cf92000000ffff	/* 0x10: data, 4 GiB flat */
	.quad	0x00209a0000000000	/* 0x18: 64-bit code */
tramp_gdt_desc:
	.word	4 * 8 - 1
	.long	REL(tramp_gdt)

	.balign	8			/* the data block, per AP */
tramp_pml4:	.quad	0
tramp_efer:	.quad	0
tramp_stack:	.quad	0
tramp_gd:	.quad	0
tramp_entry:	.quad	0
ap_trampoline_end:

/* ------------------------------------------------------------------------ */
	.text
	.code64
	.globl	ap_entry64
	.type	ap_entry64, @function
ap_entry64:
	movq	ap_boot_cr4(%rip), %rax
	movq	%rax, %cr4
	movq	ap_boot_cr3(%rip), %rax
	movq	%rax, %cr3		/* the kernel's tables: stack now mapped */
	movq	ap_boot_cr0(%rip), %rax
	movq	%rax, %cr0
	xorl	%ebp, %ebp		/* ends the backtrace */
	call	ap_main
	ud2
	.size	ap_entry64, . - ap_entry64
