/*
 * machine/cpu.h - which CPU am I, and what is it running?
 *
 * Each CPU's struct globaldata (kern/globaldata.h) is reached through the
 * GS segment base, which the CPU itself loads into the IA32_GS_BASE MSR
 * (SDM vol. 3A, 3.4.4.1 "Segment Loading Instructions in IA-32e Mode";
 * MSR 0xC0000101, vol. 4 table 2-2).  A %gs-relative load then reads this
 * CPU's copy of a field in one instruction, with no lock and no lookup:
 *
 *     %gs:0   gd_self         the globaldata's own address (mycpu)
 *     %gs:8   gd_curthread    the running thread (curthread)
 *     %gs:16  gd_cpuid        0 .. ncpus-1
 *     %gs:20  gd_reqflags     RQF_* work deferred by a critical section
 *     %gs:24  gd_spinlocks    spinlocks held by this CPU right now
 *     %gs:28  gd_intr_nesting_level  (with gd_spinlocks: one 8-byte word
 *                             that lwkt_switch tests at once)
 *
 * The offsets are fixed here because assembly (kern/lwkt_switch.S) and
 * these one-instruction accessors use them; kern/globaldata.h asserts that
 * the structure agrees.  Every per-CPU array in the kernel is indexed
 * through cpu_current_id().
 */
#ifndef MACHINE_CPU_H
#define MACHINE_CPU_H

#define GD_SELF		0
#define GD_CURTHREAD	8
#define GD_CPUID	16
#define GD_REQFLAGS	20
#define GD_SPINLOCKS	24
#define GD_USER_RSP	32	/* user RSP saved by the SYSCALL entry */
#define GD_RSP0		40	/* kernel stack top for SYSCALL */

#define MSR_GS_BASE	0xc0000101	/* SDM vol. 4, table 2-2 */

#ifndef __ASSEMBLER__
#include <kern/types.h>

struct thread;
struct globaldata;

static inline int cpu_current_id(void)
{
	int id;

	__asm__ volatile("movl %%gs:" "16" ", %0" : "=r"(id));
	return id;
}

static inline struct globaldata *cpu_globaldata(void)
{
	struct globaldata *gd;

	__asm__ volatile("movq %%gs:0, %0" : "=r"(gd));
	return gd;
}

static inline struct thread *cpu_curthread(void)
{
	struct thread *td;

	__asm__ volatile("movq %%gs:8, %0" : "=r"(td));
	return td;
}

static inline uint32_t cpu_reqflags(void)
{
	uint32_t f;

	__asm__ volatile("movl %%gs:20, %0" : "=r"(f) : : "memory");
	return f;
}

/* Count a spinlock taken (+1) or dropped (-1) on this CPU. */
static inline void cpu_spinlocks_add(int delta)
{
	__asm__ volatile("addl %0, %%gs:24" : : "ri"(delta) : "memory", "cc");
}

static inline int cpu_spinlocks_held(void)
{
	int n;

	__asm__ volatile("movl %%gs:24, %0" : "=r"(n) : : "memory");
	return n;
}
#endif /* !__ASSEMBLER__ */

#endif /* MACHINE_CPU_H */
