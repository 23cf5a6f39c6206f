/*
 * kern/intr.h - interrupts, interrupt threads and deferred work
 * (kern/kern_intr.c).
 *
 * A hardware interrupt does the minimum: acknowledge the local APIC and
 * record what must happen in mycpu->gd_reqflags (and, for a device, a bit
 * in gd_ipending).  If the interrupted thread is not in a critical section
 * the work runs at once, in splz(); otherwise it runs at the thread's
 * outermost crit_exit().  Device work runs in an interrupt thread, which
 * has a higher priority than ordinary threads and preempts them.
 */
#ifndef KERN_INTR_H
#define KERN_INTR_H

#include <kern/types.h>
#include <kern/globaldata.h>
#include <kern/trap.h>

/* Vectors (the IDT's 256 entries): 32..47 are the masked legacy PIC's. */
#define IDT_OFFSET_PIC		32	/* legacy 8259 vectors 32..47, masked */
#define IDT_OFFSET_IOAPIC	48	/* IOAPIC input n -> vector 48 + n */
#define INTR_VECTOR_TEST	0xd0	/* self-IPIs in tests of ithreads */
#define INTR_VECTOR_TEST_HARD	0xd1	/* self-IPIs in tests of hard handlers */
#define INTR_VECTOR_TIMER	0xe0	/* the local APIC timer */
#define IPI_VECTOR_IPIQ		0xf0	/* "you have IPIQ messages" */
#define IPI_VECTOR_STOP		0xf1	/* (NMI is used instead, see panic) */
#define APIC_VECTOR_ERROR	0xfe	/* local APIC error */
#define APIC_VECTOR_SPURIOUS	0xff	/* local APIC spurious (SDM 3A 11.9) */

typedef void (*inthand_t)(void *arg);

/*
 * Run handler(arg) in an interrupt thread named name, on CPU cpu, each
 * time vector fires on that CPU.  The thread runs at TDPRI_INT_MED.
 * Returns 0 or an errno.  Thread context, boot time.
 */
int register_int(int vector, inthand_t handler, void *arg, const char *name,
		 int cpu);

/*
 * Run handler(arg) without a thread: from splz on CPU cpu, in a critical
 * section, at the first point where the interrupted thread was outside
 * one -- at once if it was, else at its outermost crit_exit.  For short,
 * non-blocking work such as sending a pre-allocated message
 * (kern/msgport.h, intrmsg_bind).  Returns 0.  Thread context.
 */
int register_int_soft(int vector, inthand_t handler, void *arg, int cpu);
/* Remove a soft handler; it will not run again.  Thread context. */
void unregister_int_soft(int vector);

/* A level-triggered line: mask(arg) runs in the hard handler before the
 * EOI; the driver unmasks the line once its device is quiet. */
void intr_set_level_mask(int vector, void (*mask)(void *), void *arg);

/* How many times vector's handler has run (tests). */
uint64_t intr_handler_runs(int vector);

/*
 * Run the work deferred on this CPU (IPIQ messages, clock ticks, interrupt
 * threads to schedule).  Runs in a critical section of its own; interrupt
 * threads scheduled here may preempt the caller if the caller was not in
 * a critical section.
 */
void splz(void);

/* splz() if anything is pending and we are not in a hard interrupt. */
static inline void splz_check(void)
{
	if (__predict_false(cpu_reqflags() & RQF_IDLECHECK_MASK) &&
	    mycpu->gd_intr_nesting_level == 0)
		splz();
}

/*
 * The end of every hard interrupt handler: record flags in gd_reqflags.
 * intr_hard_dispatch() runs the work when the handler returns, if the
 * interrupted thread allows it; else its outermost crit_exit() does.
 */
void intr_hard_done(uint32_t rqflags);

/*
 * Run a hard interrupt handler (trap() calls this for vectors 32..255)
 * with gd_intr_nesting_level raised, then splz() if the interrupted code
 * was outside any critical section, interrupt and IPI callback.  This
 * CPU, interrupts off.
 */
void intr_hard_dispatch(trap_handler_t handler, struct trapframe *tf);

#endif /* KERN_INTR_H */
