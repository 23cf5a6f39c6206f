/*
 * kern_ktest.c - the in-kernel test harness: run KTEST()s, print KTAP v1.
 *
 * The registry is the .ktest section (see kern/ktest.h).  A run is:
 *
 *   KTAP version 1
 *   # seed=0x...
 *   # machine: cpus=C numa_domains=D   what this boot really has running
 *   1..S                          S = suites selected, counted up front
 *     KTAP version 1              one block per suite, indented 2 spaces
 *     # Subtest: <suite>
 *     1..T                        T = tests selected in that suite
 *     # running: <test>           lets the host name a test that hung
 *     ok 1 <test>
 *     ...
 *   ok 1 <suite>                  or `not ok 1 <suite> # ERROR leaked ...`
 *   ...
 *   # Totals: pass:P fail:F skip:K total:N
 *   # ktest: done
 *
 * then a write to QEMU's isa-debug-exit port: 0x10 if everything passed,
 * 0x11 otherwise.  The host runner (tools/ktest) treats any other way of
 * ending as an error.
 *
 * Each test runs inside a kern_setjmp() so that a failed ASSERT (or a SKIP)
 * can leave it at once.  A panic inside a test prints `# PANIC:` and a
 * backtrace as diagnostics (kern_panic.c, through the hooks installed
 * here) and exits with the failure code; the host marks the test crashed.
 *
 * The `# machine:` line lets the host compare the machine the kernel got
 * with the one QEMU was asked for: if an AP failed to start, the SMP tests
 * would skip ("needs 2 CPUs") and pass, and only that comparison shows it.
 *
 * All of this runs on the boot CPU, one test at a time.
 */
#include <kern/types.h>
#include <kern/cmdline.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/shutdown.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/setjmp.h>
#include <machine/cpufunc.h>
#include <vm/vm_page.h>

#define KTEST_MAX_LEAKCHECKS	16
#define KTEST_DEFAULT_SEED	0x5eed0001UL

extern const struct ktest __start_ktest[], __stop_ktest[];
extern const struct ktest_leak __start_ktest_leak[], __stop_ktest_leak[];
extern const struct ktest_drain __start_ktest_drain[], __stop_ktest_drain[];

enum ktest_result { KT_PASS, KT_FAIL, KT_SKIPPED };

/* The state of the running test.  Tests run one at a time, on the boot
 * CPU, so one instance suffices. */
static struct {
	bool active;
	enum ktest_result result;
	const char *skip_reason;
	struct kjmp_buf exit_env;
} cur;

static const char *selection;	/* the ktest= value of this run */
static uint64_t seed;		/* ktest.seed=, or KTEST_DEFAULT_SEED */

bool ktest_active(void)
{
	return cur.active;
}

uint64_t ktest_seed(void)
{
	return seed;
}

/*
 * QEMU's isa-debug-exit device turns a write of v to its port into
 * `exit((v << 1) | 1)`, so 0x10 and 0x11 become 33 and 35 -- two codes
 * that nothing else (a crash, a clean shutdown, a killed QEMU) produces.
 */
void ktest_exit_qemu(bool passed)
{
	outl(KTEST_EXIT_PORT, passed ? KTEST_EXIT_PASS : KTEST_EXIT_FAIL);
	/* Without the exit device (e.g. `make run`), stop here. */
	kprintf("ktest: no isa-debug-exit device; halting\n");
	for (;;) {
		cpu_disable_intr();
		cpu_halt();
	}
}

/* panic()'s last act while tests run: the verdict is "failed". */
static void ktest_panic_exit(void)
{
	kprintf("# ktest: aborted by panic\n");
	ktest_exit_qemu(false);
}

/*
 * A panic while booting a test kernel -- before ktest_run -- must still
 * end QEMU with the failure code, or the host would wait for its timeout.
 * Boot CPU, once the command line is known.
 */
void ktest_boot_hooks(void)
{
	char sel[256];

	if (cmdline_get("ktest", sel, sizeof(sel)) ||
	    cmdline_get("kbench", sel, sizeof(sel)))
		panic_set_ktest_hooks(NULL, ktest_panic_exit);
}

/* Diagnostics are indented like the suite's results so that the parser
 * keeps them with the test they explain. */
void ktest_diag(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kprintf("  # %s\n", buf);
}

void ktest_fail(const char *file, int line, const char *fmt, ...)
{
	char buf[768];		/* ktest_fail_str's two windows fit */
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kprintf("  # %s (%s:%d)\n", buf, file, line);
	cur.result = KT_FAIL;
}

/* Up to max bytes of s from off into out (NUL-terminated; out holds at
 * least 4 * max + 1), a newline as \n and other control bytes as \xNN. */
static void str_window(char *out, const char *s, size_t off, size_t max)
{
	size_t len = strlen(s);
	char *o = out;

	for (size_t i = off; i < len && i < off + max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\n')
			o += ksnprintf(o, 3, "\\n");
		else if (c < 0x20 || c == 0x7f)
			o += ksnprintf(o, 5, "\\x%02x", c);
		else
			*o++ = (char)c;
	}
	*o = '\0';
}

/* Record a failed string comparison (contract in kern/ktest.h): the first
 * differing byte, its line, and 60 bytes of each string from a little
 * before it -- a whole program's output would not fit one line. */
void ktest_fail_str(const char *file, int line, const char *what,
		    const char *a, const char *b)
{
	enum { BEFORE = 20, WINDOW = 60 };
	static char wa[4 * WINDOW + 1], wb[4 * WINDOW + 1];	/* one test at a time */
	size_t at = 0, lines = 1, from;

	while (a[at] != '\0' && a[at] == b[at]) {
		if (a[at] == '\n')
			lines++;
		at++;
	}
	from = at > BEFORE ? at - BEFORE : 0;
	str_window(wa, a, from, WINDOW);
	str_window(wb, b, from, WINDOW);
	ktest_fail(file, line, "expected %s: they differ at byte %zu (line "
		   "%zu); from byte %zu: \"%s\" vs \"%s\"", what, at, lines,
		   from, wa, wb);
}

/* Back to the kern_setjmp() in run_test(); the test's result stays as
 * recorded (failed, for an ASSERT). */
void ktest_abort(void)
{
	kern_longjmp(&cur.exit_env, 1);
}

void ktest_skip(const char *reason)
{
	if (cur.result != KT_FAIL)
		cur.result = KT_SKIPPED;
	cur.skip_reason = reason;
	kern_longjmp(&cur.exit_env, 1);
}

/* Manual tests run only when the selection names them, never by "all". */
static bool test_selected(const struct ktest *t)
{
	if (t->flags & KTEST_F_MANUAL)
		return cmdline_list_names(selection, t->suite, t->name);
	return cmdline_list_selects(selection, t->suite, t->name);
}

/*
 * Is t the first selected test of its suite in the registry?  A suite's
 * tests need not be adjacent in the section (a suite may span files), so
 * suites are identified by name, at their first appearance.
 */
static bool first_of_suite(const struct ktest *t)
{
	for (const struct ktest *u = __start_ktest; u < t; u++)
		if (strcmp(u->suite, t->suite) == 0 && test_selected(u))
			return false;
	return true;
}

/* With suite == NULL: how many suites are selected (the top-level plan);
 * otherwise how many tests of that suite are (the suite's plan). */
static int count_selected(const char *suite)
{
	int n = 0;

	for (const struct ktest *t = __start_ktest; t < __stop_ktest; t++)
		if (test_selected(t) && (suite == NULL ? first_of_suite(t) :
					 strcmp(t->suite, suite) == 0))
			n++;
	return n;
}

struct ktest_totals {
	int pass, fail, skip;
};

/*
 * A test that ends (by an ASSERT, say) inside a critical section or
 * holding a spinlock would leave every later test running in it: report
 * it as this test's failure and put the counts back.
 */
static void check_balanced(int crit, int spins)
{
	if (curthread->td_critcount != crit || mycpu->gd_spinlocks != spins) {
		kprintf("  # test left %d critical section(s) and %d "
			"spinlock(s) held\n", curthread->td_critcount - crit,
			mycpu->gd_spinlocks - spins);
		curthread->td_critcount = crit;
		mycpu->gd_spinlocks = spins;
		cur.result = KT_FAIL;
	}
}

/*
 * Run one test and print its result line.  Whatever the test left armed
 * (a trap or panic catcher, if it ended by an ASSERT) is disarmed, so it
 * cannot catch the next test's faults.
 */
static enum ktest_result run_test(const struct ktest *t, int number)
{
	int crit = curthread->td_critcount, spins = mycpu->gd_spinlocks;

	kprintf("  # running: %s\n", t->name);
	cur.result = KT_PASS;
	cur.skip_reason = NULL;
	cur.active = true;
	if (kern_setjmp(&cur.exit_env) == 0)
		t->fn();
	cur.active = false;
	trap_catch_disarm();
	panic_catch_disarm();
	check_balanced(crit, spins);
	if (cur.result == KT_SKIPPED)
		kprintf("  ok %d %s # SKIP %s\n", number, t->name,
			cur.skip_reason);
	else
		kprintf("  %s %d %s\n", cur.result == KT_PASS ? "ok" : "not ok",
			number, t->name);
	return cur.result;
}

/*
 * Take every leak check's sample into counts[]; returns how many.  The
 * registered drains run first, so that what a cache keeps (unreferenced
 * vnodes, a filesystem's clean blocks) is given back and not counted.
 */
static int sample_leaks(uint64_t *counts)
{
	int n = 0;

	for (const struct ktest_drain *d = __start_ktest_drain;
	     d < __stop_ktest_drain; d++)
		d->drain();

	KASSERT(__stop_ktest_leak - __start_ktest_leak <= KTEST_MAX_LEAKCHECKS,
		"%ld leak checks are registered but only %d are sampled; "
		"raise KTEST_MAX_LEAKCHECKS",
		(long)(__stop_ktest_leak - __start_ktest_leak),
		KTEST_MAX_LEAKCHECKS);
	for (const struct ktest_leak *l = __start_ktest_leak;
	     l < __stop_ktest_leak && n < KTEST_MAX_LEAKCHECKS; l++)
		counts[n++] = l->sample();
	return n;
}

/*
 * Compare leak samples taken around a suite.  Prints details for each
 * leak and fills reason with the first one; returns true if any leaked.
 */
static bool check_leaks(const uint64_t *before, char *reason, size_t size)
{
	uint64_t after[KTEST_MAX_LEAKCHECKS];
	int n = sample_leaks(after);
	bool leaked = false;

	for (int i = 0; i < n; i++) {
		const struct ktest_leak *l = &__start_ktest_leak[i];

		if (after[i] <= before[i])
			continue;
		kprintf("  # leak: %lu %s not returned (before %lu, after %lu)\n",
			after[i] - before[i], l->what, before[i], after[i]);
		if (l->explain != NULL)
			l->explain();
		if (!leaked)
			ksnprintf(reason, size, "leaked %lu %s",
				  after[i] - before[i], l->what);
		leaked = true;
	}
	return leaked;
}

/* Run the suite whose first selected test is first; returns its verdict. */
static bool run_suite(const struct ktest *first, int number,
		      struct ktest_totals *tot)
{
	uint64_t before[KTEST_MAX_LEAKCHECKS];
	char leak[96];
	bool failed = false;
	int n = 0;

	kprintf("  KTAP version 1\n  # Subtest: %s\n  1..%d\n", first->suite,
		count_selected(first->suite));
	sample_leaks(before);
	for (const struct ktest *t = first; t < __stop_ktest; t++) {
		if (strcmp(t->suite, first->suite) != 0 || !test_selected(t))
			continue;
		enum ktest_result r = run_test(t, ++n);
		tot->pass += r == KT_PASS;
		tot->fail += r == KT_FAIL;
		tot->skip += r == KT_SKIPPED;
		failed |= r == KT_FAIL;
	}
	if (check_leaks(before, leak, sizeof(leak))) {
		kprintf("not ok %d %s # ERROR %s\n", number, first->suite, leak);
		return false;
	}
	kprintf("%s %d %s\n", failed ? "not ok" : "ok", number, first->suite);
	return !failed;
}

/*
 * The whole run.  The panic hooks make any panic from here on print as
 * KTAP diagnostics and exit with the failure code.  Boot CPU, once.
 */
void ktest_run(const char *spec)
{
	struct ktest_totals tot = { 0, 0, 0 };
	char buf[32];
	bool all_ok = true;
	int number = 0;

	selection = spec;
	seed = KTEST_DEFAULT_SEED;
	if (cmdline_get("ktest.seed", buf, sizeof(buf)))
		parse_u64(buf, strlen(buf), &seed);
	panic_set_ktest_hooks("  # ", ktest_panic_exit);
	kprintf("KTAP version 1\n# seed=%#lx\n", seed);
	kprintf("# machine: cpus=%d numa_domains=%d\n", ncpus,
		vm_page_ndomains());
	kprintf("1..%d\n", count_selected(NULL));
	for (const struct ktest *t = __start_ktest; t < __stop_ktest; t++)
		if (test_selected(t) && first_of_suite(t))
			all_ok &= run_suite(t, ++number, &tot);
	kprintf("# Totals: pass:%d fail:%d skip:%d total:%d\n", tot.pass,
		tot.fail, tot.skip, tot.pass + tot.fail + tot.skip);
	shutdown_run();		/* e.g. commit the filesystems to disk */
	kprintf("# ktest: done\n");
	panic_set_ktest_hooks(NULL, NULL);
	ktest_exit_qemu(all_ok && tot.fail == 0);
}
