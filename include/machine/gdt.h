/*
 * machine/gdt.h - segment selectors, IST slots and per-CPU GDT/TSS setup
 * (kern/gdt.c).
 */
#ifndef MACHINE_GDT_H
#define MACHINE_GDT_H

#include <kern/types.h>
#include <machine/param.h>

#define GSEL_KCODE	0x08
#define GSEL_KDATA	0x10
#define GSEL_UDATA	0x20
#define GSEL_UCODE	0x28
#define GSEL_TSS	0x30
#define GDT_ENTRIES	8	/* 6 descriptors + the TSS's second slot + spare */

/* Interrupt stack table slots (1-based, as in the IDT gate). */
#define IST_DOUBLE_FAULT 1
#define IST_NMI		2
#define IST_MCHECK	3
#define IST_COUNT	3
#define IST_STACK_SIZE	8192

/*
 * Build and load this CPU's GDT and TSS, then reload the segment registers
 * and the task register.  Called once by each CPU for itself, interrupts
 * off.  Panics if cpu >= MAXCPU.
 */
void gdt_init_cpu(int cpu);

/* The top of a CPU's IST stack, for tests and the fault printer. */
uint64_t gdt_ist_top(int cpu, int ist);

/* Set the ring-0 stack used on entry from user mode.  The CPU itself. */
void gdt_set_rsp0(int cpu, uint64_t rsp0);

#endif /* MACHINE_GDT_H */
