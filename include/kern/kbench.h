/*
 * kern/kbench.h - in-kernel micro-benchmarks (kern/kern_kbench.c).
 *
 *     KBENCH(kmalloc_kfree_64, 100000)
 *     {
 *             for (uint64_t i = 0; i < n; i++)
 *                     kfree(kmalloc(64, M_TEMP, M_WAITOK), M_TEMP);
 *     }
 *
 * The body runs the operation n times (the second argument).  The harness
 * runs it with interrupts off, several repetitions, and prints the minimum
 * and the median TSC ticks per operation.  Under QEMU's
 * `-icount shift=0,sleep=off` the TSC counts guest instructions, so the
 * numbers are deterministic instruction counts (make bench).
 */
#ifndef KERN_KBENCH_H
#define KERN_KBENCH_H

#include <kern/types.h>

struct kbench {
	const char *name;
	void (*fn)(uint64_t n);
	uint64_t iterations;
};

#define KBENCH(name, iters)                                                   \
	static void kbench_##name(uint64_t n);                                \
	static const struct kbench kbench_entry_##name __used                 \
		__section(".kbench") __aligned(8) = { #name, kbench_##name,   \
						      (iters) };              \
	static void kbench_##name(uint64_t n)

/*
 * For a body that cannot run here (e.g. it needs two CPUs): say why, and
 * return.  The harness prints "# bench <name> skipped: <why>" instead of
 * a number.  Call it in the body, before doing any work.
 */
void kbench_skip(const char *why);

/*
 * For a body that times only part of its work itself (e.g. the sender's
 * side of a cross-CPU message, with rdtsc around each send): report
 * ticks spent over ops operations; the harness uses that instead of
 * timing the whole body.
 */
void kbench_report(uint64_t ticks, uint64_t ops);

/* Run the benchmarks selected by spec ("all" or names), print one line
 * each, exit QEMU.  Never returns.  Boot CPU. */
void kbench_run(const char *spec) __noreturn;

#endif /* KERN_KBENCH_H */
