/*
 * kern/panic.h - stopping the kernel with an explanation (kern/kern_panic.c).
 *
 * A panic message should teach: name the invariant that broke and the likely
 * cause, e.g.
 *
 *     panic("lwkt_switch: called inside a critical section (count %d); "
 *           "a critical section must not block", td->td_critcount);
 *
 * The panic then prints a symbolized backtrace and stops: halts the CPU, or
 * -- when tests are running -- reports the running test as crashed and exits
 * QEMU with the failure code.
 */
#ifndef KERN_PANIC_H
#define KERN_PANIC_H

#include <kern/types.h>
#include <kern/setjmp.h>

void panic(const char *fmt, ...) __noreturn __printflike(1, 2);

/*
 * KASSERT(cond, fmt, ...): if cond is false, panic naming the expression,
 * the function, file and line, and the explanation given by fmt.
 */
#define KASSERT(cond, fmt, ...)                                               \
	do {                                                                  \
		if (__predict_false(!(cond)))                                 \
			panic("assertion \"%s\" failed in %s() at %s:%d: " fmt, \
			      #cond, __func__, __FILE__, __LINE__,            \
			      ##__VA_ARGS__);                                 \
	} while (0)

/*
 * INVARIANT(cond, fmt, ...): a KASSERT that only the checked kernel keeps.
 *
 * Damselfly is built twice from one tree (the Makefile): the checked
 * kernel, build/kernel.elf, with -DINVARIANTS -- every test boots it --
 * and the production kernel, build/kernel-prod.elf, without.  KASSERT is
 * in both.  INVARIANT is for the few contract checks on the hottest paths
 * (a thread switch, an IPIQ send, a message, kmalloc) that the design
 * already guarantees and that would otherwise be paid on every call in
 * production, as DragonFly keeps its checks under "options INVARIANTS".
 * make bench measures both kernels, so the price of each such check is
 * on record (docs/performance.md).  The production kernel does not
 * evaluate cond, so it must have no side effects (it is still compiled,
 * so it cannot rot).
 */
#ifdef INVARIANTS
#define INVARIANTS_ON 1
#define INVARIANT(cond, fmt, ...) KASSERT(cond, fmt, ##__VA_ARGS__)
#else
#define INVARIANTS_ON 0
#define INVARIANT(cond, fmt, ...)                                             \
	do {                                                                  \
		(void)sizeof(!(cond));                                        \
	} while (0)
#endif

/* The steps of a panic, for callers (the trap code) that print more. */
const char *panic_format(const char *fmt, ...) __printflike(1, 2);
void panic_try_catch(const char *msg);
void panic_begin(const char *msg);
int panic_printf(const char *fmt, ...) __printflike(1, 2);
void panic_backtrace(uint64_t rip, uint64_t rbp);
void panic_halt(void) __noreturn;

/* Set by the SMP code: stop the other CPUs when a panic begins. */
extern void (*panic_stop_cpus_hook)(void);
/* What a CPU does on the NMI of another CPU's panic. */
void panic_halt_other_cpu(void) __noreturn;

/* Is a panic in progress (on any CPU)? */
bool panicking(void);

/*
 * How the test harness takes part: while tests run, every panic line is
 * printed behind line_prefix (a KTAP "# " diagnostic), and at the end
 * on_halt() is called instead of halting.
 */
void panic_set_ktest_hooks(const char *line_prefix, void (*on_halt)(void));

/*
 * A test that expects a panic:  arm a catcher, run the code; the panic
 * copies its message into pc->msg and kern_longjmp()s back.  Same use as
 * struct trap_catch (kern/trap.h).  One catcher per CPU.
 */
struct thread;

struct panic_catch {
	struct kjmp_buf env;
	struct thread *owner;	/* only this thread's panics are caught */
	bool caught;
	char msg[256];
};

void panic_catch_arm(struct panic_catch *pc);
void panic_catch_disarm(void);

#endif /* KERN_PANIC_H */
