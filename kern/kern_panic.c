/*
 * kern_panic.c - panic(): report a broken invariant and stop.
 *
 * The order of a panic:
 *
 *   1. format the message (panic_format);
 *   2. if a test on this CPU armed a panic catcher, hand it the message and
 *      jump back into the test -- the panic was expected (panic_try_catch);
 *   3. take over the console, ignoring its lock (panic_begin), and print
 *      "PANIC: <message>";
 *   4. print a backtrace, each frame symbolized as function+offset from
 *      the table embedded in the image (panic_backtrace);
 *   5. stop (panic_halt): exit QEMU with the failure code if tests are
 *      running, else halt the CPU forever.
 *
 * A panic inside a panic (the backtrace faulted, say) skips straight to
 * the stop, so a broken kernel still ends instead of looping.
 *
 * While tests run, every line is printed as a KTAP diagnostic, e.g.
 *     # PANIC: assertion "n > 0" failed in f() at kern/x.c:12: ...
 *     # bt: #0 0xffffffff80104a3c f+0x1c
 * and the host runner adds file:line to each frame with addr2line.
 */
#include <kern/types.h>
#include <kern/console.h>
#include <kern/kprintf.h>
#include <kern/ksyms.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <machine/cpu.h>
#include <machine/cpufunc.h>
#include <machine/param.h>

#define BACKTRACE_MAX_FRAMES 32

/* Each CPU formats its panic message in its own buffer, so a second CPU
 * panicking at the same moment cannot overwrite the first one's text. */
static char panic_msg[MAXCPU][256];
/* Panics in progress, all CPUs; atomic increments only. */
static volatile int panic_depth;
/* Per CPU, owned by that CPU: a test's armed panic catcher, or NULL. */
static struct panic_catch *catchers[MAXCPU];

/* Set by the test harness around a test run (see ktest_run). */
void (*panic_stop_cpus_hook)(void);	/* set once SMP runs */
static const char *ktest_prefix;	/* "  # " while tests run */
static void (*ktest_on_halt)(void);

bool panicking(void)
{
	return panic_depth > 0;
}

void panic_set_ktest_hooks(const char *line_prefix, void (*on_halt)(void))
{
	ktest_prefix = line_prefix;
	ktest_on_halt = on_halt;
}

const char *panic_format(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(panic_msg[cpu_current_id()], sizeof(panic_msg[0]), fmt, ap);
	va_end(ap);
	return panic_msg[cpu_current_id()];
}

void panic_catch_arm(struct panic_catch *pc)
{
	pc->caught = false;
	pc->msg[0] = '\0';
	pc->owner = cpu_curthread();
	catchers[cpu_current_id()] = pc;
}

void panic_catch_disarm(void)
{
	catchers[cpu_current_id()] = NULL;
}

/*
 * If this CPU's running test expects a panic, give it the message and
 * jump back into the test: nothing is printed, and the kernel was never
 * "panicking".  A panic during a panic is never caught.  Returns only if
 * nobody was waiting.
 */
void panic_try_catch(const char *msg)
{
	struct panic_catch *pc = catchers[cpu_current_id()];

	if (pc == NULL || panic_depth > 0 || pc->owner != cpu_curthread())
		return;
	catchers[cpu_current_id()] = NULL;
	strlcpy(pc->msg, msg, sizeof(pc->msg));
	pc->caught = true;
	kern_longjmp(&pc->env, 1);
}

/*
 * Print one formatted piece, putting the KTAP prefix before every line, so
 * that a panic's report stays inside the running test's KTAP block and the
 * host parser files it under that test.
 */
static void print_prefixed(const char *text)
{
	static bool at_line_start = true;

	for (const char *p = text; *p != '\0'; p++) {
		if (at_line_start && ktest_prefix != NULL)
			kprintf("%s", ktest_prefix);
		kprintf("%c", *p);
		at_line_start = *p == '\n';
	}
}

int panic_printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	print_prefixed(buf);
	return n;
}

/*
 * Enter panic mode on this CPU: interrupts off for good, console lock
 * ignored from now on, and the PANIC line printed.  A second panic (for
 * example a fault while walking a corrupted stack) goes straight to halt.
 */
void panic_begin(const char *msg)
{
	cpu_disable_intr();
	if (__atomic_add_fetch(&panic_depth, 1, __ATOMIC_SEQ_CST) > 1) {
		/* A panic while panicking: say so once, then stop. */
		cons_enter_panic();
		kprintf("\nnested panic: %s\n", msg);
		panic_halt();
	}
	if (panic_stop_cpus_hook != NULL)
		panic_stop_cpus_hook();	/* NMI: the other CPUs stop */
	cons_enter_panic();
	panic_printf("PANIC: %s\n", msg);
}

/* One backtrace line: "bt: #2 0xffffffff8010a0a3 run_test+0x53". */
static void print_frame(int depth, uint64_t pc, void *arg __unused)
{
	uint64_t off = 0;
	const char *name = ksym_lookup(pc, &off);

	if (name != NULL)
		panic_printf("bt: #%d 0x%016lx %s+0x%lx\n", depth, pc, name,
			     off);
	else
		panic_printf("bt: #%d 0x%016lx ?\n", depth, pc);
}

void panic_backtrace(uint64_t rip, uint64_t rbp)
{
	backtrace_walk(rip, rbp, BACKTRACE_MAX_FRAMES, print_frame, NULL);
}

/* An NMI from a panicking CPU: stop here, quietly, forever. */
void panic_halt_other_cpu(void)
{
	for (;;) {
		cpu_disable_intr();
		cpu_halt();
	}
}

/* The end of every panic.  Under tests, the harness's hook exits QEMU
 * with the failure code; otherwise the CPU halts with interrupts off. */
void panic_halt(void)
{
	if (ktest_on_halt != NULL)
		ktest_on_halt();	/* exits QEMU; does not return */
	kprintf("System halted.\n");
	for (;;) {
		cpu_disable_intr();
		cpu_halt();
	}
}

void panic(const char *fmt, ...)
{
	va_list ap;
	char *msg = panic_msg[cpu_current_id()];

	va_start(ap, fmt);
	kvsnprintf(msg, sizeof(panic_msg[0]), fmt, ap);
	va_end(ap);
	panic_try_catch(msg);
	panic_begin(msg);
	/* Start at our caller: panic's own frame says nothing. */
	panic_backtrace(0, read_rbp());
	panic_halt();
}
