/*
 * kern/clock.h - time: ticks, a monotonic nanosecond clock, busy waits
 * (kern/kern_clock.c).
 *
 * Each CPU's local APIC timer interrupts it hz times a second; the tick
 * drives that CPU's scheduler rotation, callouts and passive IPIQ
 * messages.  Wall-clock-free time comes from the TSC, calibrated against
 * the PIT (or the ACPI PM timer) at boot: clock_monotonic_ns() never goes backwards on one CPU
 * and, with the invariant TSCs of current CPUs and QEMU, agrees between
 * CPUs.
 */
#ifndef KERN_CLOCK_H
#define KERN_CLOCK_H

#include <kern/types.h>

#define HZ	100		/* clock ticks per second on every CPU */

extern int hz;
extern volatile uint64_t ticks;	/* CPU 0's tick count */
extern uint64_t tsc_hz;		/* TSC ticks per second */

/* Nanoseconds since the clock was calibrated at boot.  Any context. */
uint64_t clock_monotonic_ns(void);

/* Busy-wait at least us microseconds.  Any context. */
void DELAY(uint64_t us);

/* Measure the TSC's rate against the PIT, else the ACPI PM timer; 0 if
 * neither counts (each failure is printed).  Boot CPU, interrupts off. */
uint64_t clock_measure_tsc_hz(void);

/* Calibrate the TSC and the local APIC timer (boot CPU, interrupts off);
 * panics, saying why, if no ruler for the TSC counts. */
void clock_init(void);
/* Start this CPU's periodic tick (every CPU, once). */
void clock_start_cpu(void);

#endif /* KERN_CLOCK_H */
