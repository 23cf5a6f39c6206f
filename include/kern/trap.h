/*
 * kern/trap.h - the IDT, trap handlers and expected-trap catching
 * (kern/trap.c).
 */
#ifndef KERN_TRAP_H
#define KERN_TRAP_H

#include <kern/types.h>
#include <kern/setjmp.h>
#include <machine/frame.h>

/* Exception vectors (SDM vol. 3A, Table 6-1). */
#define T_DIVIDE	0
#define T_DEBUG		1
#define T_NMI		2
#define T_BREAKPOINT	3
#define T_OVERFLOW	4
#define T_BOUND		5
#define T_INVALID_OP	6
#define T_NO_FPU	7
#define T_DOUBLE_FAULT	8
#define T_INVALID_TSS	10
#define T_SEGMENT_NP	11
#define T_STACK_FAULT	12
#define T_GENERAL_PROT	13
#define T_PAGE_FAULT	14
#define T_FPU_ERROR	16
#define T_ALIGNMENT	17
#define T_MACHINE_CHECK	18
#define T_SIMD_ERROR	19
#define T_VIRTUALIZATION 20
#define T_CONTROL_PROT	21
#define T_SPURIOUS	255

/* Faults below this address are reported as NULL-pointer dereferences. */
#define PAGE_FAULT_NULL_LIMIT 0x10000

typedef void (*trap_handler_t)(struct trapframe *tf);

/* Fill the IDT with the 256 stubs and load it.  Boot CPU, once. */
void idt_init(void);
/* Load the (shared) IDT on this CPU.  Each application processor, once. */
void idt_load(void);

/*
 * Route a vector to fn (NULL to remove).  Exceptions other than #BP and
 * #DB (a test's int3 or hardware watchpoint) cannot be routed: they are
 * faults of the kernel itself.  Boot-time or with the vector masked; not
 * for concurrent use.
 */
void trap_set_handler(unsigned vector, trap_handler_t fn);

/* Is a handler registered for vector?  Any context. */
bool trap_has_handler(unsigned vector);

/*
 * Interrupts that arrived on a vector with no handler, on all CPUs since
 * boot.  Each was reported on the console (the first few per CPU) and
 * acknowledged at the local APIC if it was in service there.
 */
uint64_t trap_stray_count(void);

/* The human name of a vector ("#PF page fault"). */
const char *trap_name(unsigned vector);

/* Print a trap frame, registers and all, through panic_printf(). */
void trap_print_frame(const struct trapframe *tf);

/*
 * A test that provokes a trap on purpose:
 *
 *     struct trap_catch tc;
 *     if (kern_setjmp(&tc.env) == 0) {
 *             trap_catch_arm(&tc, T_PAGE_FAULT);
 *             ... touch the bad address ...
 *             trap_catch_disarm();          (not reached if it faulted)
 *     }
 *     ... tc.caught, tc.frame, tc.cr2 tell what happened ...
 *
 * When the vector arrives on this CPU, trap() copies the frame into tc,
 * disarms, and kern_longjmp()s back to the setjmp with the interrupt flag
 * as it was.  One catcher per CPU, and it catches only traps taken by the
 * thread that armed it (another thread on the CPU faults as usual).
 */
struct trap_catch {
	struct kjmp_buf env;
	unsigned vector;
	bool caught;
	struct trapframe frame;
	uint64_t cr2;
	struct thread *owner;	/* the thread that armed it */
};

void trap_catch_arm(struct trap_catch *tc, unsigned vector);
void trap_catch_disarm(void);

#endif /* KERN_TRAP_H */
