/*
 * selftest_test.c - suites that must fail, for proving the harness can
 * fail.  They are KTEST_MANUAL: never part of ktest=all, run only by name
 * from `tools/ktest --selftest`, which checks that each is reported as the
 * kind of failure it is.
 */
#include <kern/ktest.h>
#include <machine/cpufunc.h>

KTEST_MANUAL(selftest_fail, expects_two_plus_two_to_be_five)
{
	int four = 2 + 2;

	KT_EXPECT_EQ(four, 5);
}

/* Two outputs of a program that differ on their third line: the failure
 * must say where, on one KTAP line, with the newlines escaped. */
KTEST_MANUAL(selftest_fail, compares_two_program_outputs_that_differ_on_line_3)
{
	KT_EXPECT_STREQ("one\ntwo\nthree\nfour\n", "one\ntwo\nTHREE\nfour\n");
}

static __attribute__((noinline)) void selftest_inner(void)
{
	panic("selftest: a deliberate panic, to show that the harness reports "
	      "a crash with a symbolized backtrace");
}

static __attribute__((noinline)) void selftest_outer(void)
{
	selftest_inner();
	__asm__ volatile("" ::: "memory");	/* not a tail call */
}

KTEST_MANUAL(selftest_panic, panics_two_calls_deep)
{
	selftest_outer();
}

KTEST_MANUAL(selftest_hang, loops_forever)
{
	for (;;)
		cpu_pause();
}

KTEST_MANUAL(selftest_triple, triple_faults_the_machine)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __packed empty_idt = { 0, 0 };

	/* With no IDT, int3 cannot be delivered (#GP), nor can the #GP (#DF),
	 * nor the #DF: the CPU shuts down and QEMU (-no-reboot) exits 0. */
	__asm__ volatile("lidt %0\n\tint3" : : "m"(empty_idt));
}

static uint64_t selftest_leaked_widgets;

static uint64_t sample_widgets(void)
{
	return selftest_leaked_widgets;
}

KTEST_LEAKCHECK(selftest_widgets, "widgets", sample_widgets, NULL);

KTEST_MANUAL(selftest_leak, forgets_to_return_a_widget)
{
	selftest_leaked_widgets++;
}
