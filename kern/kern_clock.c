/*
 * kern_clock.c - the clock tick and the monotonic clock.
 *
 * Boot: clock_init() measures the TSC against PIT channel 2
 * (drivers/i8254.c) -- or, if no PIT counts, against the ACPI PM timer
 * (drivers/acpi_pmtimer.c) -- then the local APIC timer against the TSC
 * (drivers/lapic.c).  Each CPU then runs its own APIC timer at HZ.
 *
 * A tick arrives as RQF_TIMER and runs hardclock() from splz(), on the
 * CPU it hit, in a critical section -- never inside another critical
 * section.  hardclock() does three per-CPU jobs:
 *   1. lwkt_schedulerclock(): round-robin among equal-priority threads;
 *   2. softclock_tick(): wake this CPU's callout thread when a callout
 *      is due (kern_timeout.c);
 *   3. pick up passive IPIQ messages nobody signalled us about.
 * CPU 0 also counts the global ticks, and copies them into the shared
 * page user programs map (/dev/kpmap, kern/kern_memio.c).
 *
 * clock_monotonic_ns() scales the TSC by a fixed-point factor computed
 * once: ns = (tsc - tsc0) * mult >> 32, split into whole seconds first so
 * the product cannot overflow.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/device.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <kern/timeout.h>
#include <drivers/acpi.h>
#include <drivers/i8254.h>
#include <machine/apic.h>
#include <machine/cpufunc.h>
#include <uapi/damselfly/kpmap.h>

#define NS_PER_SEC	1000000000UL

int hz = HZ;
volatile uint64_t ticks;
uint64_t tsc_hz;
static uint64_t tsc0;
static uint64_t ns_mult;	/* (10^9 << 32) / tsc_hz */

void hardclock(struct globaldata *gd);

uint64_t clock_monotonic_ns(void)
{
	uint64_t d = rdtsc() - tsc0;
	uint64_t sec = d / tsc_hz, rem = d % tsc_hz;

	return sec * NS_PER_SEC + ((rem * ns_mult) >> 32);
}

void DELAY(uint64_t us)
{
	uint64_t t0 = rdtsc();
	uint64_t wait = tsc_hz != 0 ? tsc_hz / 1000000 * us : us * 4000;

	while (rdtsc() - t0 < wait)
		cpu_pause();
}

/* The middle one of three. */
static uint64_t median3(uint64_t a, uint64_t b, uint64_t c)
{
	if (a > b) {
		uint64_t t = a;

		a = b;
		b = t;
	}
	return c <= a ? a : c >= b ? b : c;
}

/*
 * One ruler, three times, and the median: a host that preempts the
 * emulator in the middle of one 10 ms interval (TCG on a busy machine)
 * stretches that one measurement, not the rate the kernel keeps.
 * NULL and *hz set, or why the ruler failed.
 */
static const char *measure_tsc_median(const char *(*ruler)(uint64_t *),
				      uint64_t *hz)
{
	uint64_t m[3];

	for (int i = 0; i < 3; i++) {
		const char *why = ruler(&m[i]);

		if (why != NULL)
			return why;
	}
	*hz = median3(m[0], m[1], m[2]);
	return NULL;
}

/*
 * The TSC's rate, against the PIT, or, if the PIT does not count (QEMU
 * with -machine pit=off, chipsets without one), against the ACPI PM
 * timer; each the median of three measurements.  Each failure is said
 * on the console.  Returns 0 if neither ruler works.  Boot CPU,
 * interrupts off (nothing may stretch the measured interval).
 */
uint64_t clock_measure_tsc_hz(void)
{
	uint64_t hz = 0;
	const char *why = measure_tsc_median(i8254_measure_tsc, &hz);

	if (why == NULL)
		return hz;
	kprintf("clock: PIT: %s; measuring the TSC against the ACPI PM "
		"timer instead\n", why);
	why = measure_tsc_median(acpi_pmtimer_measure_tsc, &hz);
	if (why == NULL)
		return hz;
	kprintf("clock: %s\n", why);
	return 0;
}

void clock_init(void)
{
	tsc_hz = clock_measure_tsc_hz();
	if (tsc_hz == 0)
		panic("clock: no ruler for the TSC: neither the PIT nor an "
		      "ACPI PM timer counts (see above), and every delay and "
		      "the tick need its rate; under QEMU, pit=off needs ACPI "
		      "left on");
	ns_mult = (NS_PER_SEC << 32) / tsc_hz;
	tsc0 = rdtsc();
	lapic_timer_calibrate(tsc_hz);
	kprintf("clock: TSC %lu.%03lu MHz, APIC timer %lu kHz, hz %d\n",
		tsc_hz / 1000000, tsc_hz / 1000 % 1000,
		lapic_timer_hz() / 1000, hz);
}

void clock_start_cpu(void)
{
	lapic_timer_start(hz);
}

void hardclock(struct globaldata *gd)
{
	gd->gd_ticks++;
	if (gd->gd_cpuid == 0) {
		ticks++;
		if (kpmap != NULL)	/* the shared page (/dev/kpmap) */
			kpmap->kp_ticks = ticks;
	}
	lwkt_schedulerclock(gd);
	softclock_tick(gd);
	if (gd->gd_ipimask != 0)	/* passive messages wait for us */
		__atomic_or_fetch(&gd->gd_reqflags, RQF_IPIQ,
				  __ATOMIC_RELAXED);
}
