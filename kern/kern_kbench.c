/*
 * kern_kbench.c - run KBENCH()es and print their cost per operation.
 *
 * For each benchmark: one warm-up run, then KBENCH_REPS timed runs of n
 * operations each, all with interrupts off so that no timer or device
 * lands inside a measurement.  Each run's cost per operation is
 * (TSC after - TSC before) / n, kept in tenths; the output line gives the
 * minimum (the run least disturbed) and the median:
 *
 *   # tsc_hz=1000123456
 *   bench empty_loop min=2.0 median=2.0 reps=7 unit=tsc
 *   # kbench: done
 *
 * tools/kbench knows whether the guest ran under -icount (then a TSC tick is
 * one instruction) or under KVM (then tsc_hz converts ticks to ns).
 */
#include <kern/types.h>
#include <kern/cmdline.h>
#include <kern/kbench.h>
#include <kern/kprintf.h>
#include <kern/panic.h>
#include <kern/ktest.h>
#include <machine/cpufunc.h>
#include <kern/clock.h>

/* Odd, so the median is one real run rather than an average. */
#define KBENCH_REPS	7

/*
 * Every KBENCH() puts one struct kbench into section .kbench; the linker
 * script brackets the section with these two symbols.
 */
extern const struct kbench __start_kbench[], __stop_kbench[];

/* Insertion sort, ascending: n is KBENCH_REPS, too small for more. */
static void sort_u64(uint64_t *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

/* What the running benchmark asked for (kbench_skip, kbench_report). */
static const char *skip_reason;
static bool have_override;
static uint64_t override_tenths;

/*
 * Both are called from inside a benchmark body, on the boot CPU with
 * interrupts off; they only record, run_one() and timed_run() act.
 */
void kbench_skip(const char *why)
{
	skip_reason = why;
}

void kbench_report(uint64_t ticks, uint64_t ops)
{
	have_override = true;
	override_tenths = ops != 0 ? ticks * 10 / ops : 0;
}

/* Tenths of a TSC tick per operation for one timed run. */
static uint64_t timed_run(const struct kbench *b)
{
	uint64_t t0, t1;

	have_override = false;
	t0 = rdtsc();
	b->fn(b->iterations);
	t1 = rdtsc();
	if (have_override)
		return override_tenths;
	return (t1 - t0) * 10 / b->iterations;
}

/*
 * Warm up (fills caches and TLBs, and lets the body call kbench_skip),
 * then time KBENCH_REPS runs and print one line.  Interrupts stay off
 * throughout, so the body must not block or wait for an interrupt.
 */
static void run_one(const struct kbench *b)
{
	KASSERT(b->iterations > 0, "benchmark %s runs 0 iterations; its "
		"cost per operation would divide by zero", b->name);
	uint64_t tenths[KBENCH_REPS];
	uint64_t rf = intr_disable();

	skip_reason = NULL;
	b->fn(b->iterations / 10 + 1);		/* warm-up */
	if (skip_reason != NULL) {
		intr_restore(rf);
		kprintf("# bench %s skipped: %s\n", b->name, skip_reason);
		return;
	}
	for (int i = 0; i < KBENCH_REPS; i++)
		tenths[i] = timed_run(b);
	intr_restore(rf);
	sort_u64(tenths, KBENCH_REPS);
	kprintf("bench %s min=%lu.%lu median=%lu.%lu reps=%d unit=tsc\n",
		b->name, tenths[0] / 10, tenths[0] % 10,
		tenths[KBENCH_REPS / 2] / 10, tenths[KBENCH_REPS / 2] % 10,
		KBENCH_REPS);
}

/*
 * Boot CPU, thread context; never returns (QEMU exits).  The TSC rate
 * is measured again (against the PIT, or the ACPI PM timer) with
 * interrupts off, so nothing stretches the measuring window.
 */
void kbench_run(const char *spec)
{
	uint64_t rf = intr_disable();
	uint64_t hz = clock_measure_tsc_hz();

	intr_restore(rf);
	kprintf("# tsc_hz=%lu\n", hz);
	for (const struct kbench *b = __start_kbench; b < __stop_kbench; b++)
		if (cmdline_list_selects(spec, b->name, ""))
			run_one(b);
	kprintf("# kbench: done\n");
	ktest_exit_qemu(true);
}
