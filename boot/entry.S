/*
 * entry.S - from GRUB to kmain: the Multiboot2 header, the 32-bit entry,
 * the boot page tables and the switch to 64-bit long mode.
 *
 * GRUB loads the ELF image at its physical addresses (1 MiB up) and jumps to
 * _start in 32-bit protected mode with paging off (Multiboot2 spec, 3.3
 * "I386 machine state"): EAX holds the magic 0x36d76289 and EBX the physical
 * address of the boot information.  Nothing else can be trusted: there is no
 * stack and no usable GDT of ours.
 *
 * What this file does, in order:
 *   1. check the magic and that the CPU has long mode (else print and halt);
 *   2. load CR3 with static page tables that map
 *        - identity         0 .. 4 GiB   (so the next instruction still runs)
 *        - direct map       DMAP_BASE + 0 .. 4 GiB
 *        - kernel image     KERNBASE + 0 .. 1 GiB
 *      all with 2 MiB pages;  the real tables (vm/pmap.c) replace these;
 *   3. enable PAE, EFER.LME and EFER.NXE, then paging: the CPU is now in
 *      compatibility mode (SDM vol. 3A, 9.8.5 "Initializing IA-32e Mode");
 *   4. load a 64-bit GDT and far-jump into a 64-bit code segment;
 *   5. jump to the higher-half address of boot64_high and call kmain(mbi, magic).
 *
 * The boot page tables, drawn (each box is one 4 KiB table):
 *
 *   boot_pml4 [0]   -> boot_pdpt   [0..3] -> boot_pd[0..3]  2048 x 2 MiB = 4 GiB
 *             [256] -> boot_pdpt     (the same table: DMAP = identity + DMAP_BASE)
 *             [511] -> boot_pdpt_hi [510] -> boot_pd[0]     first 1 GiB at KERNBASE
 */
#include <machine/vmparam.h>

#define MB2_HEADER_MAGIC	0xe85250d6	/* Multiboot2 spec 3.1.1 */
#define MB2_ARCH_I386		0		/* 32-bit protected mode */
#define MB2_BOOTLOADER_MAGIC	0x36d76289	/* in EAX at entry */

#define CR0_PE		(1 << 0)	/* protection enable */
#define CR0_PG		(1 << 31)	/* paging */
#define CR4_PAE		(1 << 5)	/* physical address extension */
#define MSR_EFER	0xc0000080
#define EFER_LME	(1 << 8)	/* long mode enable */
#define EFER_NXE	(1 << 11)	/* no-execute bit usable in PTEs */
#define CPUID_EXT_LM	(1 << 29)	/* leaf 0x80000001 EDX: long mode */
#define CPUID_EXT_NX	(1 << 20)	/* leaf 0x80000001 EDX: NX */

#define PTE_P		0x001		/* present */
#define PTE_W		0x002		/* writable */
#define PTE_PS		0x080		/* 2 MiB page in a PD entry */

#define DEBUGCON	0xe9		/* QEMU's debug console port */

/* ------------------------------------------------------------------------- */
/* The Multiboot2 header: magic, architecture, length, checksum, then tags.  */
/* It must sit in the first 32 KiB of the file, 8-byte aligned (spec 3.1.1). */

	.section .multiboot2, "a"
	.balign 8
mb2_header:
	.long	MB2_HEADER_MAGIC
	.long	MB2_ARCH_I386
	.long	mb2_header_end - mb2_header
	.long	-(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
	/* end tag: type 0, flags 0, size 8 */
	.word	0, 0
	.long	8
mb2_header_end:

/* ------------------------------------------------------------------------- */
	.section .boot.text, "ax"
	.code32
	.globl	_start
_start:
	cli
	cld
	cmpl	$MB2_BOOTLOADER_MAGIC, %eax
	jne	.Lbad_magic
	movl	%eax, %esi		/* keep magic and MBI address */
	movl	%ebx, %edi		/* (the SysV argument registers) */

	/* Does the CPU have long mode and NX? (SDM vol. 2A, CPUID) */
	movl	$0x80000000, %eax
	cpuid
	cmpl	$0x80000001, %eax
	jb	.Lno_long_mode
	movl	$0x80000001, %eax
	cpuid
	testl	$CPUID_EXT_LM, %edx
	jz	.Lno_long_mode
	movl	%edx, %ebp		/* NX support, looked at below */

	movl	$boot_pml4, %eax
	movl	%eax, %cr3
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4

	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	testl	$CPUID_EXT_NX, %ebp
	jz	1f
	orl	$EFER_NXE, %eax
1:	wrmsr

	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0		/* now in compatibility mode */

	lgdt	boot_gdt_desc
	ljmp	$0x08, $boot64_low

/* Print the NUL-terminated string at %esi on the debug console and COM1,
 * then halt forever.  The UART is not set up yet, but QEMU's accepts bytes. */
.Lpanic32:
	lodsb
	testb	%al, %al
	jz	2f
	outb	%al, $DEBUGCON
	movw	$0x3f8, %dx
	outb	%al, %dx
	jmp	.Lpanic32
2:	hlt
	jmp	2b

.Lbad_magic:
	movl	$msg_bad_magic, %esi
	jmp	.Lpanic32
.Lno_long_mode:
	movl	$msg_no_long_mode, %esi
	jmp	.Lpanic32

	.code64
boot64_low:
	xorl	%eax, %eax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	movabsq	$boot64_high, %rax
	jmp	*%rax

/* ------------------------------------------------------------------------- */
	.section .boot.data, "aw"
msg_bad_magic:
	.asciz	"damselfly: not started by a Multiboot2 loader (bad EAX magic); boot it with GRUB's multiboot2 command\n"
msg_no_long_mode:
	.asciz	"damselfly: this CPU has no 64-bit long mode; use qemu-system-x86_64\n"

	.balign	8
boot_gdt:
	.quad	0			/* null */
	.quad	0x00209a0000000000	/* 0x08: 64-bit code, present, ring 0 */
	.quad	0x0000920000000000	/* 0x10: data, present, writable */
boot_gdt_end:
boot_gdt_desc:
	.word	boot_gdt_end - boot_gdt - 1
	.quad	boot_gdt

	.balign	4096
boot_pml4:
	.quad	boot_pdpt + (PTE_P | PTE_W)
	.fill	255, 8, 0
	.quad	boot_pdpt + (PTE_P | PTE_W)	/* index 256: DMAP_BASE */
	.fill	254, 8, 0
	.quad	boot_pdpt_hi + (PTE_P | PTE_W)	/* index 511: top 512 GiB */

boot_pdpt:
	.quad	boot_pd + 0x0000 + (PTE_P | PTE_W)
	.quad	boot_pd + 0x1000 + (PTE_P | PTE_W)
	.quad	boot_pd + 0x2000 + (PTE_P | PTE_W)
	.quad	boot_pd + 0x3000 + (PTE_P | PTE_W)
	.fill	508, 8, 0

boot_pdpt_hi:
	.fill	510, 8, 0
	.quad	boot_pd + (PTE_P | PTE_W)	/* index 510: KERNBASE */
	.quad	0

	/* 2048 entries of 2 MiB each: entry i maps physical i * 2 MiB. */
	.globl	boot_pd
boot_pd:
	.set	i, 0
	.rept	2048
	.quad	(i << 21) + (PTE_P | PTE_W | PTE_PS)
	.set	i, i + 1
	.endr

/* ------------------------------------------------------------------------- */
	.text
	.code64
boot64_high:
	movabsq	$boot_stack_top, %rsp
	xorl	%ebp, %ebp		/* ends the backtrace's frame chain */
	/* kmain(mbi_phys = %rdi, magic = %rsi); both were zero-extended */
	movl	%edi, %edi
	movl	%esi, %esi
	call	kmain
1:	cli
	hlt
	jmp	1b

	.bss
	.balign	16
	.globl	boot_stack, boot_stack_top
boot_stack:
	.space	16384
boot_stack_top:
