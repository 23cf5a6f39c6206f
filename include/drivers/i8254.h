/*
 * drivers/i8254.h - the PC's programmable interval timer (drivers/i8254.c).
 */
#ifndef DRIVERS_I8254_H
#define DRIVERS_I8254_H

#include <kern/types.h>

#define I8254_FREQ_HZ	1193182		/* the PIT's input clock */

/*
 * Measure the TSC's frequency against PIT channel 2 over about 10 ms, by
 * busy-waiting.  On success sets *hz (TSC ticks per second) and returns
 * NULL; otherwise sets *hz to 0 and returns why: no PIT answers, or it
 * did not count within a timeout far above 10 ms.  Interrupts off, one
 * CPU at a time (channel 2 is one shared device).
 */
const char *i8254_measure_tsc(uint64_t *hz);

/*
 * The wait inside i8254_measure_tsc, exposed for tests: spin until
 * out_high() returns true (then true), or until tsc_budget TSC cycles or
 * max_polls calls have passed (then false).  Any context.
 */
bool i8254_wait_out(bool (*out_high)(void), uint64_t tsc_budget,
		    uint64_t max_polls);

#endif /* DRIVERS_I8254_H */
