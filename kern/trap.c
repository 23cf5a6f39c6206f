/*
 * trap.c - the interrupt descriptor table and what happens on a trap.
 *
 * Every one of the 256 vectors enters through a stub in trap_vectors.S,
 * which builds a struct trapframe and calls trap().  trap() then:
 *
 *   1. hands the trap to a test that is waiting for it (trap_catch_arm),
 *      so a test can provoke a fault on purpose and carry on;
 *   2. calls the handler registered for the vector (trap_set_handler),
 *      which is how device interrupts and IPIs arrive -- for vectors 32
 *      and up through intr_hard_dispatch() (kern_intr.c), which marks the
 *      CPU as inside a hard interrupt while the handler runs;
 *   3. otherwise, for an exception, prints everything a reader needs to
 *      find the bug -- the vector's name, the error code decoded, CR2 for a
 *      page fault, all registers, a backtrace -- and panics with a hint
 *      about the usual cause;
 *   4. and for an interrupt nobody registered (a "stray"), counts it,
 *      says so on the console and acknowledges it at the local APIC, if
 *      the APIC has it in service.  Unacknowledged, it would stay in the
 *      In-Service Register and hold back every later interrupt of its
 *      priority class or below -- the clock tick included -- for good.
 *
 * IDT gates are interrupt gates (IF cleared on entry, SDM vol. 3A, 6.12.1.3)
 * so a handler starts with interrupts off.  #DF, NMI and #MC run on their
 * own IST stacks (see gdt.c).
 *
 * The IDT is shared by all CPUs and written only at boot.  The catch slot
 * is per CPU.
 */
#include <kern/types.h>
#include <kern/intr.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <kern/trap.h>
#include <machine/apic.h>
#include <machine/cpu.h>
#include <machine/cpufunc.h>
#include <machine/frame.h>
#include <machine/gdt.h>
#include <vm/pmap.h>

/* An IDT gate (SDM vol. 3A, Figure 6-8 "64-Bit IDT Gate Descriptors"). */
struct idt_gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;		/* bits 0-2: IST slot, 0 = none */
	uint8_t type_attr;	/* P, DPL, type */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __packed;

#define GATE_INTERRUPT	0x8e	/* present, DPL 0, 64-bit interrupt gate */

/* Written once at boot by the boot CPU, read-only afterwards. */
static struct idt_gate idt[256] __aligned(16);
/* Written at boot or with the vector masked (trap_set_handler). */
static trap_handler_t handlers[256];
/* Per CPU, owned by that CPU: a test's armed trap catcher, or NULL. */
static struct trap_catch *catchers[MAXCPU];
/* Per CPU, written only by that CPU in its handler: stray interrupts. */
static uint64_t stray_counts[MAXCPU];

/* Strays beyond this many on one CPU are counted but not printed. */
#define STRAY_REPORT_MAX 10

extern const uint64_t trap_stubs[256];

/* The names of the architectural exceptions (SDM vol. 3A, Table 6-1). */
static const char *const exception_names[32] = {
	[T_DIVIDE] = "#DE divide error",
	[T_DEBUG] = "#DB debug",
	[T_NMI] = "NMI",
	[T_BREAKPOINT] = "#BP breakpoint",
	[T_OVERFLOW] = "#OF overflow",
	[T_BOUND] = "#BR bound range exceeded",
	[T_INVALID_OP] = "#UD invalid opcode",
	[T_NO_FPU] = "#NM device not available",
	[T_DOUBLE_FAULT] = "#DF double fault",
	[9] = "coprocessor segment overrun",
	[T_INVALID_TSS] = "#TS invalid TSS",
	[T_SEGMENT_NP] = "#NP segment not present",
	[T_STACK_FAULT] = "#SS stack-segment fault",
	[T_GENERAL_PROT] = "#GP general protection",
	[T_PAGE_FAULT] = "#PF page fault",
	[15] = "reserved 15",
	[T_FPU_ERROR] = "#MF x87 floating-point error",
	[T_ALIGNMENT] = "#AC alignment check",
	[T_MACHINE_CHECK] = "#MC machine check",
	[T_SIMD_ERROR] = "#XM SIMD floating-point",
	[T_VIRTUALIZATION] = "#VE virtualization",
	[T_CONTROL_PROT] = "#CP control protection",
	[22] = "reserved 22", [23] = "reserved 23", [24] = "reserved 24",
	[25] = "reserved 25", [26] = "reserved 26", [27] = "reserved 27",
	[28] = "#HV hypervisor injection",
	[29] = "#VC VMM communication",
	[30] = "#SX security",
	[31] = "reserved 31",
};

/* One plain sentence on the usual cause of each common exception. */
static const char *exception_hint(const struct trapframe *tf)
{
	switch (tf->tf_vector) {
	case T_DIVIDE:
		return "an integer division by zero (or INT_MIN / -1)";
	case T_INVALID_OP:
		return "the CPU met bytes that are not an instruction: a jump "
		       "through a corrupted function pointer, or a ud2";
	case T_DOUBLE_FAULT:
		return "a fault happened while delivering another fault; "
		       "most often the kernel stack overflowed";
	case T_GENERAL_PROT:
		return "a non-canonical address (a pointer with garbage in its "
		       "top bits) or a privileged instruction in the wrong mode";
	case T_PAGE_FAULT:
		if (rcr2() < PAGE_FAULT_NULL_LIMIT)
			return "a NULL pointer (or a small offset from one) was "
			       "dereferenced";
		return "an access to an address that is not mapped, or that "
		       "the mapping does not allow (write to read-only, "
		       "execute of no-execute)";
	default:
		return "see the Intel SDM vol. 3A, chapter 6, for this vector";
	}
}

/* Any context.  Vectors 32..254 are interrupts, named by their handler's
 * owner, not here. */
const char *trap_name(unsigned vector)
{
	if (vector < 32)
		return exception_names[vector];
	return vector == T_SPURIOUS ? "spurious interrupt" : "interrupt";
}

/* Point one IDT gate at a stub: kernel code segment, DPL 0 (so user code
 * cannot `int` into it), interrupt gate, optional IST stack.  The 64-bit
 * handler address is split over three fields. */
static void set_gate(int vector, uint64_t addr, int ist)
{
	idt[vector] = (struct idt_gate){
		.offset_lo = addr & 0xffff,
		.selector = GSEL_KCODE,
		.ist = (uint8_t)ist,
		.type_attr = GATE_INTERRUPT,
		.offset_mid = (addr >> 16) & 0xffff,
		.offset_hi = addr >> 32,
	};
}

/* Boot CPU, once, interrupts off; needs the GDT (gdt_init_cpu) first,
 * since the gates name the kernel code selector and IST slots. */
void idt_init(void)
{
	for (int v = 0; v < 256; v++)
		set_gate(v, trap_stubs[v], 0);
	set_gate(T_DOUBLE_FAULT, trap_stubs[T_DOUBLE_FAULT], IST_DOUBLE_FAULT);
	set_gate(T_NMI, trap_stubs[T_NMI], IST_NMI);
	set_gate(T_MACHINE_CHECK, trap_stubs[T_MACHINE_CHECK], IST_MCHECK);
	idt_load();
}

void idt_load(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __packed idtr = { sizeof(idt) - 1, (uint64_t)idt };

	__asm__ volatile("lidt %0" : : "m"(idtr));
}

bool trap_has_handler(unsigned vector)
{
	KASSERT(vector < 256, "vector %u does not exist", vector);
	return handlers[vector] != NULL;
}

void trap_set_handler(unsigned vector, trap_handler_t fn)
{
	KASSERT(vector < 256, "vector %u does not exist", vector);
	KASSERT(vector >= 32 || fn == NULL || vector == T_BREAKPOINT ||
		vector == T_DEBUG,
		"vector %u is an exception; exceptions are not routed to "
		"handlers", vector);
	handlers[vector] = fn;
}

/* ----------------------------------------------------------------------- */
/* Expected traps, for tests.                                               */

void trap_catch_arm(struct trap_catch *tc, unsigned vector)
{
	tc->vector = vector;
	tc->caught = false;
	tc->owner = cpu_curthread();
	catchers[cpu_current_id()] = tc;
}

void trap_catch_disarm(void)
{
	catchers[cpu_current_id()] = NULL;
}

/*
 * If a test on this CPU waits for this vector, record the frame (and CR2,
 * which the next page fault would overwrite) and jump back into the test.
 * The trap's own stack frame is simply abandoned: kern_longjmp() restores
 * the test's stack pointer and RFLAGS, interrupt flag included.
 */
static void trap_try_catch(struct trapframe *tf)
{
	struct trap_catch *tc = catchers[cpu_current_id()];

	if (tc == NULL || tc->vector != tf->tf_vector ||
	    tc->owner != cpu_curthread())
		return;
	catchers[cpu_current_id()] = NULL;
	tc->caught = true;
	tc->frame = *tf;
	tc->cr2 = tf->tf_vector == T_PAGE_FAULT ? rcr2() : 0;
	kern_longjmp(&tc->env, 1);
}

/* ----------------------------------------------------------------------- */
/* The fault report.                                                        */

/* Page-fault error code bits (SDM vol. 3A, Figure 4-12). */
#define PGEX_P	0x01	/* 0: page not present, 1: protection violation */
#define PGEX_W	0x02	/* write access */
#define PGEX_U	0x04	/* from user mode */
#define PGEX_I	0x10	/* instruction fetch */

/* Decode a page fault's error code and CR2 into one sentence:
 * "page fault address 0x...: write to a page that is not present, in
 * kernel mode". */
static void print_page_fault(const struct trapframe *tf)
{
	uint64_t e = tf->tf_err;
	const char *access = e & PGEX_I ? "instruction fetch from" :
			     e & PGEX_W ? "write to" : "read from";
	const char *why = e & PGEX_P ? "a page whose protection forbids it" :
				       "a page that is not present";

	panic_printf("page fault address %#lx: %s %s, in %s mode\n", rcr2(),
		     access, why, e & PGEX_U ? "user" : "kernel");
}

/* Any context; prints through panic_printf() so that, under tests, the
 * lines become KTAP diagnostics of the running test. */
void trap_print_frame(const struct trapframe *tf)
{
	panic_printf("%s (vector %lu), error code %#lx, at rip %#lx\n",
		     trap_name(tf->tf_vector), tf->tf_vector, tf->tf_err,
		     tf->tf_rip);
	if (tf->tf_vector == T_PAGE_FAULT)
		print_page_fault(tf);
	panic_printf("rax %016lx rbx %016lx rcx %016lx rdx %016lx\n",
		     tf->tf_rax, tf->tf_rbx, tf->tf_rcx, tf->tf_rdx);
	panic_printf("rsi %016lx rdi %016lx rbp %016lx rsp %016lx\n",
		     tf->tf_rsi, tf->tf_rdi, tf->tf_rbp, tf->tf_rsp);
	panic_printf("r8  %016lx r9  %016lx r10 %016lx r11 %016lx\n",
		     tf->tf_r8, tf->tf_r9, tf->tf_r10, tf->tf_r11);
	panic_printf("r12 %016lx r13 %016lx r14 %016lx r15 %016lx\n",
		     tf->tf_r12, tf->tf_r13, tf->tf_r14, tf->tf_r15);
	panic_printf("rip %016lx cs %04lx rflags %08lx ss %04lx cr3 %016lx\n",
		     tf->tf_rip, tf->tf_cs, tf->tf_rflags, tf->tf_ss, rcr3());
}

/*
 * An exception nobody expected: report it and panic.  The message is
 * formatted first so that a test waiting for a panic (KT_CATCH_PANIC) can
 * receive it without anything being printed; otherwise the full report
 * follows: name and error code, registers, backtrace from the faulting
 * instruction.
 */
static void __noreturn trap_fatal(struct trapframe *tf)
{
	char cause[256];
	const char *msg;

	/* The memory layer can name some faults exactly: a kernel stack
	 * overflow into its guard page (#DF on IST1), a W^X violation. */
	if ((tf->tf_vector == T_PAGE_FAULT ||
	     tf->tf_vector == T_DOUBLE_FAULT) &&
	    pmap_fault_cause(tf, rcr2(), cause, sizeof(cause)))
		msg = panic_format("%s (%s at %#lx)", cause,
				   trap_name(tf->tf_vector), tf->tf_rip);
	else
		msg = panic_format("unhandled %s at %#lx: probably %s",
				   trap_name(tf->tf_vector), tf->tf_rip,
				   exception_hint(tf));

	panic_try_catch(msg);
	panic_begin(msg);
	trap_print_frame(tf);
	panic_backtrace(tf->tf_rip, tf->tf_rbp);
	panic_halt();
}

/* ----------------------------------------------------------------------- */
/* Stray interrupts.                                                        */

/*
 * An interrupt on a vector nobody registered: a device routed to the
 * wrong vector, an IPI sent to a vector that was never set up, or
 * software's own `int $n`.  The first two came through the local APIC
 * and are in service there; `int $n` never touched the APIC.  So the
 * EOI goes out only if the APIC has the vector in service
 * (lapic_eoi_if_in_service), never blindly: a blind EOI would
 * acknowledge whatever interrupt this one interrupted.
 */
static void trap_stray(const struct trapframe *tf)
{
	int cpu = cpu_current_id();
	uint64_t n = ++stray_counts[cpu];
	bool eoi = lapic_eoi_if_in_service((unsigned)tf->tf_vector);

	if (n <= STRAY_REPORT_MAX)
		kprintf("trap: stray interrupt on vector %lu, cpu%d (%s)%s\n",
			tf->tf_vector, cpu,
			eoi ? "acknowledged" : "was not in service",
			n == STRAY_REPORT_MAX ? "; further strays on this "
						"CPU are only counted" : "");
}

/* Any context.  The sum over CPUs of a per-CPU count each CPU updates
 * alone, so it is exact once the strays have been handled. */
uint64_t trap_stray_count(void)
{
	uint64_t sum = 0;

	for (int cpu = 0; cpu < MAXCPU; cpu++)
		sum += __atomic_load_n(&stray_counts[cpu], __ATOMIC_RELAXED);
	return sum;
}

/*
 * Called by trap_common (trap_vectors.S) for every vector, on the
 * interrupted stack (or the IST stack for #DF, NMI, #MC), with interrupts
 * off.  Returning resumes the interrupted code via iretq.
 */
void trap(struct trapframe *tf)
{
	trap_handler_t fn = handlers[tf->tf_vector];

	trap_try_catch(tf);
	if (tf->tf_vector == T_NMI && panicking())
		panic_halt_other_cpu();		/* another CPU panicked */
	if (fn != NULL && tf->tf_vector >= 32) {
		intr_hard_dispatch(fn, tf);	/* an interrupt: kern_intr.c */
		return;
	}
	if (fn != NULL) {
		fn(tf);
		return;
	}
	/* User mode's faults, and copyin/copyout's (kern/user_machdep.c). */
	if (tf->tf_vector < 32 && user_trap(tf))
		return;
	if (tf->tf_vector < 32)
		trap_fatal(tf);
	trap_stray(tf);
}
