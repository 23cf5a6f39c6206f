/*
 * clock_test.c - the rulers the TSC is measured against: the PIT's wait
 * ends even when the PIT never answers, and the TSC rate found at boot
 * agrees with an independent ruler, the ACPI PM timer.
 */
#include <kern/clock.h>
#include <kern/ktest.h>
#include <drivers/acpi.h>
#include <drivers/i8254.h>
#include <machine/cpufunc.h>

static uint64_t polls;

/* A PIT output that never rises: a PIT whose clock does not run. */
static bool never_high(void)
{
	polls++;
	return false;
}

/* One that rises on the fifth look. */
static bool high_on_fifth_poll(void)
{
	return ++polls >= 5;
}

KTEST(clock, pit_wait_gives_up_on_an_output_that_never_rises)
{
	polls = 0;
	KT_EXPECT_FALSE(i8254_wait_out(never_high, 1UL << 20, 1UL << 40));
	KT_EXPECT_GT(polls, 0);
	/* A TSC that stood still would never use up the cycle budget; the
	 * poll cap still ends the wait, after exactly that many looks. */
	polls = 0;
	KT_EXPECT_FALSE(i8254_wait_out(never_high, UINT64_MAX, 1000));
	KT_EXPECT_EQ(polls, 1000);
	polls = 0;
	KT_EXPECT_TRUE(i8254_wait_out(high_on_fifth_poll, 1UL << 40, 1000));
	KT_EXPECT_EQ(polls, 5);
}

/* |a - b| <= b / 10: within 10 percent of b. */
static bool within_tenth(uint64_t a, uint64_t b)
{
	return (a > b ? a - b : b - a) <= b / 10;
}

/*
 * The boot measured tsc_hz against the PIT (or, without one, against the
 * PM timer).  Measuring again against the PM timer must agree.  The
 * bound is loose (10%) and three tries are allowed because a vCPU that
 * is descheduled between two reads of a loaded host stretches one
 * measurement; a PIT that lied (QEMU with pit=off once gave "2 MHz" for
 * a 2 GHz TSC) is off by far more.
 */
KTEST(clock, tsc_rate_agrees_with_the_acpi_pm_timer)
{
	uint64_t hz = 0;
	bool agree = false;
	const char *why = NULL;

	for (int i = 0; i < 3 && !agree; i++) {
		uint64_t rf = intr_disable();

		why = acpi_pmtimer_measure_tsc(&hz);
		intr_restore(rf);
		if (why != NULL)
			KT_SKIP(why);
		agree = within_tenth(hz, tsc_hz);
	}
	ktest_diag("boot: %lu Hz, ACPI PM timer: %lu Hz", tsc_hz, hz);
	KT_EXPECT_TRUE(agree);
}
