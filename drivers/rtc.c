/*
 * rtc.c - the wall clock from the PC's CMOS real-time clock.
 *
 * The RTC (Motorola MC146818 and its descendants) keeps the date in
 * battery-backed registers reached through two I/O ports: write a
 * register number to 0x70, read its value at 0x71.  Registers 0, 2, 4,
 * 7, 8, 9 hold seconds, minutes, hours, day, month and year (two
 * digits; QEMU's century register 0x32 gives the rest), in BCD unless
 * status register B says binary.  The clock may tick while we read, so
 * we read until two passes agree and no update was in progress (status
 * register A bit 7).
 *
 * We read it once at boot and add the monotonic clock after that, which
 * is all a filesystem's timestamps need.  The RTC keeps local time or
 * UTC as whoever set it chose; QEMU sets UTC by default (-rtc base=utc),
 * so it is taken as UTC.
 *
 * State and locking: boot_epoch_ns is written once, by rtc_init in the
 * boot thread before any other CPU or thread reads the wall clock, and
 * only read afterwards, so it needs no lock.  The index/data port pair
 * is used only by rtc_init, so it needs none either (a second user
 * would need one: another index write between ours and the data read
 * would hand us the wrong register).
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/kprintf.h>
#include <kern/panic.h>
#include <drivers/rtc.h>
#include <machine/cpufunc.h>

/* The ports, and the register numbers (MC146818 data sheet).  Bit 7 of
 * an index write masks NMI on a PC; it is left 0. */
#define RTC_INDEX	0x70
#define RTC_DATA	0x71
#define RTC_SEC		0x00
#define RTC_MIN		0x02
#define RTC_HOUR	0x04
#define RTC_DAY		0x07
#define RTC_MONTH	0x08
#define RTC_YEAR	0x09
#define RTC_CENTURY	0x32	/* QEMU and most PCs; ACPI FADT names it */
#define RTC_STATUS_A	0x0a
#define RTC_STATUS_B	0x0b
#define RTC_A_UPDATING	0x80	/* UIP: the registers are changing now */
#define RTC_B_BINARY	0x04	/* DM: binary values, not BCD */
#define RTC_B_24HOUR	0x02	/* 24-hour mode; else 12 with RTC_PM */
#define RTC_PM		0x80	/* in the hours register, 12-hour mode */

static uint64_t boot_epoch_ns;	/* wall time when the monotonic clock was 0 */

/* One register: select it, read it.  Boot thread only (no lock). */
static uint8_t rtc_reg(uint8_t reg)
{
	outb(RTC_INDEX, reg);
	return inb(RTC_DATA);
}

/* The registers as read: BCD or binary, 12- or 24-hour, as set. */
struct rtc_time {
	int sec, min, hour, day, month, year, century;
};

/*
 * One pass over the date registers, started when no update is in
 * progress.  An update may still begin during the pass, which is why
 * rtc_init reads twice and compares.
 */
static void rtc_read_raw(struct rtc_time *t)
{
	while (rtc_reg(RTC_STATUS_A) & RTC_A_UPDATING)
		cpu_pause();
	t->sec = rtc_reg(RTC_SEC);
	t->min = rtc_reg(RTC_MIN);
	t->hour = rtc_reg(RTC_HOUR);
	t->day = rtc_reg(RTC_DAY);
	t->month = rtc_reg(RTC_MONTH);
	t->year = rtc_reg(RTC_YEAR);
	t->century = rtc_reg(RTC_CENTURY);
}

/* A BCD byte (two decimal digits, one per nibble) as a number. */
static int bcd(int v)
{
	return (v & 0x0f) + (v >> 4) * 10;
}

/* Days from 1970-01-01 to year-month-day (proleptic Gregorian). */
static int64_t days_since_epoch(int year, int month, int day)
{
	/* Count from March so that February's leap day comes last. */
	int y = month <= 2 ? year - 1 : year;
	int era = y / 400, yoe = y - era * 400;
	int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (int64_t)era * 146097 + doe - 719468;
}

/*
 * Contract in drivers/rtc.h: read the date, convert it to nanoseconds
 * since 1970, and remember it minus the monotonic clock.  Boot thread,
 * once, after the monotonic clock runs.  Spins while the RTC updates
 * (at most a few milliseconds each second).
 */
void rtc_init(void)
{
	struct rtc_time a, b;
	uint8_t status_b;
	int hour;

	KASSERT(boot_epoch_ns == 0, "rtc_init runs once, at boot");
	/* Two passes that agree were not torn by a tick: a tick changes
	 * the seconds, and every larger carry changes minutes or day. */
	do {
		rtc_read_raw(&a);
		rtc_read_raw(&b);
	} while (a.sec != b.sec || a.min != b.min || a.day != b.day);
	status_b = rtc_reg(RTC_STATUS_B);
	/* The PM flag sits in the hours register in 12-hour mode, also
	 * when the rest of it is BCD: take it off before converting. */
	hour = a.hour & ~RTC_PM;
	if (!(status_b & RTC_B_BINARY)) {
		a.sec = bcd(a.sec), a.min = bcd(a.min), hour = bcd(hour);
		a.day = bcd(a.day), a.month = bcd(a.month);
		a.year = bcd(a.year), a.century = bcd(a.century);
	}
	if (!(status_b & RTC_B_24HOUR))	/* 12 AM is 0, 12 PM is 12 */
		hour = hour % 12 + ((a.hour & RTC_PM) ? 12 : 0);
	/* A century register that reads nonsense (some boards have none)
	 * is taken as 20xx. */
	a.year += (a.century >= 19 && a.century <= 30 ? a.century : 20) * 100;
	boot_epoch_ns = ((uint64_t)days_since_epoch(a.year, a.month, a.day) *
			 86400 + hour * 3600 + a.min * 60 + a.sec) * 1000000000ULL
			- clock_monotonic_ns();
	kprintf("rtc: %04d-%02d-%02d %02d:%02d:%02d UTC\n", a.year, a.month,
		a.day, hour, a.min, a.sec);
}

/* Contract in drivers/rtc.h.  Any context, any CPU; no lock. */
uint64_t clock_realtime_ns(void)
{
	return boot_epoch_ns + clock_monotonic_ns();
}
