/*
 * acpi_pmtimer.c - the ACPI power-management timer, the TSC's second
 * ruler.
 *
 * Every ACPI machine has a free-running counter at 3.579545 MHz on an I/O
 * port the FADT names (ACPI 6.5, 4.8.3.3 "Power Management Timer").  It
 * counts on its own, needs no setup, and wraps every 4.7 s (24 bits) or
 * 20 minutes (32 bits), so a 10 ms measurement sees at most one wrap,
 * which the masked subtraction absorbs.  The clock uses it when the PIT
 * does not count (kern_clock.c): QEMU with -machine pit=off, or chipsets
 * that no longer clock a PIT.
 */
#include <kern/types.h>
#include <machine/cpufunc.h>
#include <drivers/acpi.h>

#define CALIBRATE_MS	 10
#define PM_TICKS_TO_WAIT (ACPI_PM_TIMER_HZ * CALIBRATE_MS / 1000)
/* The same generous budget as the PIT's wait (drivers/i8254.c): seconds
 * of TSC time, or 2^27 port reads if the TSC stands still. */
#define WAIT_TSC_BUDGET	 (1UL << 33)
#define WAIT_MAX_POLLS	 (1UL << 27)

static uint32_t pm_read(const struct acpi_pm_timer *t)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(t->port));
	return t->bits == 32 ? v : v & 0xffffff;
}

/* PM ticks from a to b, across at most one wrap of the counter. */
static uint32_t pm_elapsed(const struct acpi_pm_timer *t, uint32_t a,
			   uint32_t b)
{
	uint32_t mask = t->bits == 32 ? 0xffffffffU : 0xffffffU;

	return (b - a) & mask;
}

/* Spin until the timer has advanced PM_TICKS_TO_WAIT past start; false
 * if the budget ran out first (the timer does not count). */
static bool pm_wait(const struct acpi_pm_timer *t, uint32_t start)
{
	uint64_t t0 = rdtsc();

	for (uint64_t n = 0; n < WAIT_MAX_POLLS; n++) {
		if (pm_elapsed(t, start, pm_read(t)) >= PM_TICKS_TO_WAIT)
			return true;
		if (rdtsc() - t0 >= WAIT_TSC_BUDGET)
			return false;
	}
	return false;
}

/*
 * Start on a fresh edge of the PM timer, so the interval begins at a
 * tick rather than somewhere inside one (the timer's 279 ns step is
 * long next to a TSC cycle), then count TSC cycles for 10 ms of it.
 */
const char *acpi_pmtimer_measure_tsc(uint64_t *hz)
{
	const struct acpi_sdt_header *fadt = acpi_find_table("FACP");
	struct acpi_pm_timer t;
	uint32_t p0, p1;
	uint64_t t0, t1;

	*hz = 0;
	if (fadt == NULL || acpi_fadt_pm_timer(fadt, &t) != 0)
		return "no ACPI PM timer (no FADT, or no PM_TMR_BLK in it)";
	p0 = pm_read(&t);
	for (uint64_t n = 0; n < WAIT_MAX_POLLS && pm_read(&t) == p0; n++)
		;
	p0 = pm_read(&t);
	t0 = rdtsc();
	if (!pm_wait(&t, p0))
		return "the ACPI PM timer did not count within 2^33 TSC cycles";
	p1 = pm_read(&t);
	t1 = rdtsc();
	*hz = (t1 - t0) * ACPI_PM_TIMER_HZ / pm_elapsed(&t, p0, p1);
	return NULL;
}
