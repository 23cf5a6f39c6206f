/*
 * gdt.c - segments and the task-state segment, the x86's leftovers that
 * long mode still needs.
 *
 * In 64-bit mode segmentation is almost off (SDM vol. 3A, 3.2.4): code and
 * data descriptors only say "64-bit code, ring N".  What still matters is
 * the TSS (SDM vol. 3A, 7.7 "Task Management in 64-bit Mode"), which holds
 *   - RSP0: the stack the CPU switches to on an interrupt from user mode;
 *   - IST1..IST7: stacks that an IDT entry can demand unconditionally.
 * We give the double fault (#DF), NMI and machine check (#MC) their own IST
 * stacks: a double fault is often caused by a kernel stack overflow, so its
 * handler must not run on the stack that overflowed.
 *
 * The GDT, one per CPU (selectors are the same on every CPU):
 *
 *   0x00  null
 *   0x08  kernel code, 64-bit          GSEL_KCODE
 *   0x10  kernel data                  GSEL_KDATA
 *   0x18  user code, 32-bit (unused)   ordering required by SYSRET
 *   0x20  user data                    GSEL_UDATA
 *   0x28  user code, 64-bit            GSEL_UCODE
 *   0x30  TSS descriptor (16 bytes)    GSEL_TSS
 *
 * Each CPU calls gdt_init_cpu() once for itself; nothing here is shared.
 */
#include <kern/types.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <machine/gdt.h>

/* Descriptor bits (SDM vol. 3A, 3.4.5 "Segment Descriptors"). */
#define SEG_PRESENT	(1UL << 47)
#define SEG_USER	(3UL << 45)	/* DPL 3 */
#define SEG_CODEDATA	(1UL << 44)	/* S: code or data, not system */
#define SEG_CODE	(1UL << 43)	/* executable */
#define SEG_WRITABLE	(1UL << 41)	/* data: writable; code: readable */
#define SEG_LONG	(1UL << 53)	/* L: 64-bit code */
#define SEG_TSS_AVAIL	(9UL << 40)	/* system type 9: available 64-bit TSS */

#define KCODE	(SEG_PRESENT | SEG_CODEDATA | SEG_CODE | SEG_WRITABLE | SEG_LONG)
#define KDATA	(SEG_PRESENT | SEG_CODEDATA | SEG_WRITABLE)

/* The 64-bit TSS (SDM vol. 3A, Figure 7-11).  Packed: rsp0 is unaligned. */
struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];	/* stacks for rings 0..2 */
	uint64_t reserved1;
	uint64_t ist[7];	/* IST1..IST7 */
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;	/* offset of the I/O bitmap: none */
} __packed;

struct cpu_tables {
	uint64_t gdt[GDT_ENTRIES];
	struct tss tss;
	/* One stack per IST slot we use; 16-byte aligned tops. */
	uint8_t ist_stack[IST_COUNT][IST_STACK_SIZE] __aligned(16);
};

static struct cpu_tables cpu_tables[MAXCPU];

/* Build the two-slot system descriptor that points at a TSS. */
static void set_tss_descriptor(uint64_t *slot, struct tss *tss)
{
	uint64_t base = (uint64_t)tss, limit = sizeof(*tss) - 1;

	slot[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
		  SEG_TSS_AVAIL | SEG_PRESENT | ((limit >> 16 & 0xf) << 48) |
		  ((base >> 24 & 0xff) << 56);
	slot[1] = base >> 32;
}

/* Load GDTR, reload every segment register, then load the task register. */
static void load_tables(uint64_t *gdt)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __packed gdtr = { GDT_ENTRIES * 8 - 1, (uint64_t)gdt };

	__asm__ volatile("lgdt %0\n\t"
			 "movw %w1, %%ds\n\t"
			 "movw %w1, %%es\n\t"
			 "movw %w1, %%ss\n\t"
			 "pushq %2\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"	/* far return reloads CS */
			 "1:\n\t"
			 "ltr %w3"
			 :
			 : "m"(gdtr), "r"(GSEL_KDATA), "i"(GSEL_KCODE),
			   "r"(GSEL_TSS)
			 : "rax", "memory");
}

void gdt_init_cpu(int cpu)
{
	struct cpu_tables *t;

	KASSERT(cpu >= 0 && cpu < MAXCPU,
		"cpu %d out of range: MAXCPU (%d) is too small", cpu, MAXCPU);
	t = &cpu_tables[cpu];
	memset(t->gdt, 0, sizeof(t->gdt));
	t->gdt[GSEL_KCODE >> 3] = KCODE;
	t->gdt[GSEL_KDATA >> 3] = KDATA;
	t->gdt[GSEL_UDATA >> 3] = KDATA | SEG_USER;
	t->gdt[GSEL_UCODE >> 3] = KCODE | SEG_USER;
	memset(&t->tss, 0, sizeof(t->tss));
	t->tss.iomap_base = sizeof(t->tss);
	for (int i = 0; i < IST_COUNT; i++)
		t->tss.ist[i] = (uint64_t)&t->ist_stack[i][IST_STACK_SIZE];
	set_tss_descriptor(&t->gdt[GSEL_TSS >> 3], &t->tss);
	load_tables(t->gdt);
	syscall_cpu_init();	/* SYSCALL, SMEP/SMAP: kern/user_machdep.c */
}

uint64_t gdt_ist_top(int cpu, int ist)
{
	KASSERT(cpu >= 0 && cpu < MAXCPU && ist >= 1 && ist <= IST_COUNT,
		"no IST%d on cpu %d", ist, cpu);
	return cpu_tables[cpu].tss.ist[ist - 1];
}

void gdt_set_rsp0(int cpu, uint64_t rsp0)
{
	cpu_tables[cpu].tss.rsp[0] = rsp0;
}
