/*
 * kern/ktest.h - in-kernel tests that report KTAP over the serial port
 * (kern/kern_ktest.c; docs/testing.md tells the whole story).
 *
 * A test is a plain function with a name that states a behaviour:
 *
 *     KTEST(printf, pads_hex_with_zeroes)
 *     {
 *             char buf[8];
 *             ksnprintf(buf, sizeof(buf), "%04x", 0xff);
 *             KT_EXPECT_STREQ(buf, "00ff");
 *     }
 *
 * KTEST() puts a struct ktest into the .ktest linker section; the harness
 * walks that array, so the plan (1..N) always comes from the registry.
 * Tests of one suite run in the order they appear in their file.
 *
 * EXPECT checks record a failure and go on; ASSERT checks end the test.
 * Every failure prints expected and actual values and file:line as a KTAP
 * "#" diagnostic before the test's "not ok".
 *
 * KTEST_MANUAL() tests are compiled in but never part of ktest=all: they
 * are the harness's own deliberately failing, panicking and hanging
 * suites, run only when named (tools/ktest --selftest).
 */
#ifndef KERN_KTEST_H
#define KERN_KTEST_H

#include <kern/types.h>
#include <kern/panic.h>
#include <kern/trap.h>
#include <kern/libkern.h>

#define KTEST_F_MANUAL	0x1	/* only when selected by name */

/* tools/ktestlib/registry.py reads this array out of the ELF file (for
 * tests/ktest-list): change the layout there too. */
struct ktest {
	const char *suite;
	const char *name;
	void (*fn)(void);
	unsigned flags;
};

#define KTEST_DEFINE_(suite, name, flags)                                     \
	static void ktest_##suite##_##name(void);                             \
	static const struct ktest ktest_entry_##suite##_##name __used        \
		__section(".ktest") __aligned(8) = {                          \
			#suite, #name, ktest_##suite##_##name, (flags) };     \
	static void ktest_##suite##_##name(void)

#define KTEST(suite, name) KTEST_DEFINE_(suite, name, 0)
#define KTEST_MANUAL(suite, name) KTEST_DEFINE_(suite, name, KTEST_F_MANUAL)

/*
 * Leak checks run around every suite: sample() before and after; if the
 * count grew, the suite is reported `not ok N suite # ERROR leaked D what`
 * and explain() (may be NULL) prints details as diagnostics -- e.g. bytes
 * per malloc type.  Subsystems add theirs with KTEST_LEAKCHECK().
 */
struct ktest_leak {
	const char *what;		/* "pages", "threads", ... */
	uint64_t (*sample)(void);
	void (*explain)(void);
};

#define KTEST_LEAKCHECK(id, what, sample, explain)                           \
	static const struct ktest_leak ktest_leak_##id __used                \
		__section(".ktest_leak") __aligned(8) = { what, sample, explain }

/*
 * A cache that keeps memory between suites on purpose registers a drain:
 * the harness calls every drain before it samples the leak counters, so
 * the cache gives back what it may keep and only real leaks remain.
 * drain() runs in the test thread and may block.
 */
struct ktest_drain {
	const char *what;
	void (*drain)(void);
};

#define KTEST_DRAIN(id, what, fn)                                            \
	static const struct ktest_drain ktest_drain_##id __used              \
		__section(".ktest_drain") __aligned(8) = { what, fn }

/* Run the tests selected by spec ("all", "suite", "suite.test", comma
 * separated), print KTAP, exit QEMU with the verdict.  Never returns. */
void ktest_run(const char *spec) __noreturn;

/* If the command line asks for tests or benchmarks, make a panic during
 * boot exit QEMU with the failure code.  Boot CPU, early. */
void ktest_boot_hooks(void);

/* Is a test running now?  (The panic and trap code print differently.) */
bool ktest_active(void);

/* The run's seed: ktest.seed= from the command line, or a fixed default. */
uint64_t ktest_seed(void);

/* Record a failure of the running test; print a KTAP diagnostic. */
void ktest_fail(const char *file, int line, const char *fmt, ...)
	__printflike(3, 4);
/* Record a failed string comparison: where a and b first differ (byte
 * and line) and a window of each around it, control characters escaped
 * so that the diagnostic stays on its KTAP line however long the strings
 * are. */
void ktest_fail_str(const char *file, int line, const char *what,
		    const char *a, const char *b);
/* Print a KTAP diagnostic line ("  # ...") for the running test. */
void ktest_diag(const char *fmt, ...) __printflike(1, 2);
/* End the running test now (after a failed ASSERT). */
void ktest_abort(void) __noreturn;
/* End the running test as skipped, with a reason. */
void ktest_skip(const char *reason) __noreturn;

/* Exit codes through QEMU's isa-debug-exit device: (value << 1) | 1. */
#define KTEST_EXIT_PORT	0xf4
#define KTEST_EXIT_PASS	0x10	/* QEMU exits 33 */
#define KTEST_EXIT_FAIL	0x11	/* QEMU exits 35 */
void ktest_exit_qemu(bool passed) __noreturn;

#define KT_CHECK_INT_(a, op, b, fatal)                                         \
	do {                                                                   \
		int64_t kt_a_ = (int64_t)(a), kt_b_ = (int64_t)(b);            \
		if (!(kt_a_ op kt_b_)) {                                       \
			ktest_fail(__FILE__, __LINE__,                         \
				   "expected %s " #op " %s: %ld (%#lx) vs %ld " \
				   "(%#lx)", #a, #b, kt_a_, (uint64_t)kt_a_,   \
				   kt_b_, (uint64_t)kt_b_);                    \
			if (fatal)                                             \
				ktest_abort();                                 \
		}                                                              \
	} while (0)

#define KT_EXPECT_EQ(a, b)	KT_CHECK_INT_(a, ==, b, 0)
#define KT_EXPECT_NE(a, b)	KT_CHECK_INT_(a, !=, b, 0)
#define KT_EXPECT_LT(a, b)	KT_CHECK_INT_(a, <, b, 0)
#define KT_EXPECT_LE(a, b)	KT_CHECK_INT_(a, <=, b, 0)
#define KT_EXPECT_GT(a, b)	KT_CHECK_INT_(a, >, b, 0)
#define KT_EXPECT_GE(a, b)	KT_CHECK_INT_(a, >=, b, 0)
#define KT_ASSERT_EQ(a, b)	KT_CHECK_INT_(a, ==, b, 1)
#define KT_ASSERT_NE(a, b)	KT_CHECK_INT_(a, !=, b, 1)
#define KT_EXPECT_TRUE(c)	KT_CHECK_INT_(!!(c), ==, 1, 0)
#define KT_EXPECT_FALSE(c)	KT_CHECK_INT_(!!(c), ==, 0, 0)
#define KT_ASSERT_TRUE(c)	KT_CHECK_INT_(!!(c), ==, 1, 1)
#define KT_ASSERT_FALSE(c)	KT_CHECK_INT_(!!(c), ==, 0, 1)

#define KT_CHECK_STR_(a, b, fatal)                                         \
	do {                                                               \
		const char *kt_a_ = (a), *kt_b_ = (b);                     \
		if (strcmp(kt_a_, kt_b_) != 0) {                           \
			ktest_fail_str(__FILE__, __LINE__, #a " == " #b,   \
				       kt_a_, kt_b_);                      \
			if (fatal)                                         \
				ktest_abort();                             \
		}                                                          \
	} while (0)

#define KT_EXPECT_STREQ(a, b)	KT_CHECK_STR_(a, b, 0)
#define KT_ASSERT_STREQ(a, b)	KT_CHECK_STR_(a, b, 1)

#define KT_EXPECT_SUBSTR(s, needle)                                        \
	do {                                                               \
		if (!strcontains((s), (needle)))                           \
			ktest_fail(__FILE__, __LINE__,                     \
				   "expected \"%s\" to contain \"%s\"", (s), \
				   (needle));                              \
	} while (0)

#define KT_SKIP(reason)		ktest_skip(reason)

/*
 * For a test of an INVARIANT() check (kern/panic.h): skip unless this is
 * the checked kernel.  make test boots the checked one; the production
 * kernel (make run) compiles those checks out, so it skips such tests.
 */
#define KT_REQUIRE_INVARIANTS()                                            \
	do {                                                               \
		if (!INVARIANTS_ON)                                        \
			KT_SKIP("tests an INVARIANT check, which the "     \
				"production kernel leaves out (boot the "  \
				"checked kernel: make test, or make run "  \
				"INVARIANTS=1)");                          \
	} while (0)

/*
 * Run stmt expecting trap vector vec on this CPU; afterwards tc->caught
 * says whether it came (see struct trap_catch in kern/trap.h).
 */
#define KT_CATCH_TRAP(tc, vec, stmt)                                       \
	do {                                                               \
		if (kern_setjmp(&(tc)->env) == 0) {                        \
			trap_catch_arm((tc), (vec));                       \
			stmt;                                              \
			trap_catch_disarm();                               \
		}                                                          \
	} while (0)

/* Run stmt expecting a panic; afterwards pc->caught and pc->msg. */
#define KT_CATCH_PANIC(pc, stmt)                                           \
	do {                                                               \
		if (kern_setjmp(&(pc)->env) == 0) {                        \
			panic_catch_arm((pc));                             \
			stmt;                                              \
			panic_catch_disarm();                              \
		}                                                          \
	} while (0)

#endif /* KERN_KTEST_H */
