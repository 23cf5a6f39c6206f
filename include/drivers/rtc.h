/*
 * drivers/rtc.h - the wall clock: the CMOS real-time clock read once at
 * boot, carried forward by the monotonic clock (drivers/rtc.c).
 */
#ifndef DRIVERS_RTC_H
#define DRIVERS_RTC_H

#include <kern/types.h>

/* Nanoseconds since 1970-01-01 UTC.  Any context.  Before rtc_init (or
 * with an unreadable RTC) it counts from 1970 at boot. */
uint64_t clock_realtime_ns(void);

/* Read the RTC and set the wall clock.  Boot CPU, once. */
void rtc_init(void);

#endif /* DRIVERS_RTC_H */
