/*
 * drivers/i8254.h - the PC's programmable interval timer (drivers/i8254.c).
 */
#ifndef DRIVERS_I8254_H
#define DRIVERS_I8254_H

#include <kern/types.h>

#define I8254_FREQ_HZ	1193182		/* the PIT's input clock */

/*
 * Measure the TSC's frequency against PIT channel 2 over about 10 ms, by
 * busy-waiting.  Returns ticks per second.  Boot CPU, interrupts off.
 */
uint64_t i8254_calibrate_tsc(void);

#endif /* DRIVERS_I8254_H */
