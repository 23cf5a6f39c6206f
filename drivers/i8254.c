/*
 * i8254.c - the 8254 programmable interval timer, used as a ruler.
 *
 * Channel 2 of the PIT is the one whose gate software controls (through
 * port 0x61, the old "speaker" port) and whose count it can read back,
 * so it can time an interval without any interrupt: load the largest
 * count in mode 0 ("interrupt on terminal count"), open the gate, and
 * read the count and the TSC together at two moments about 10 ms apart.
 * Each end is a pair of reads taken back to back, so whatever delays the
 * loop in between (a slow port, a descheduled virtual CPU) stretches
 * both rulers alike instead of only the TSC's.  Intel 8254 datasheet:
 * mode 0, "Counter Latch Command"; port 0x61 bits from the PC/AT
 * technical reference.
 *
 * Not every machine has a PIT that answers.  QEMU started with
 * -machine pit=off has none, and the unclaimed ports then read 0xff:
 * port 0x61 shows the output bit set from the start.  A chipset with the
 * PIT's clock gated off would leave the count standing forever.  So the
 * measurement checks that the output is low once the count is loaded
 * (mode 0 drives it low when the control word is written), waits for the
 * count with a timeout, and says which of the two went wrong instead of
 * hanging or returning a rate off by a factor of a thousand.
 */
#include <kern/types.h>
#include <machine/cpufunc.h>
#include <drivers/i8254.h>

#define PIT_CH2_DATA	0x42
#define PIT_MODE	0x43
#define PIT_SEL_CH2	0x80	/* select channel 2 */
#define PIT_RW_LATCH	0x00	/* with a channel: latch its count */
#define PIT_RW_LOHI	0x30	/* write low byte then high byte */
#define PIT_MODE0	0x00	/* interrupt on terminal count */
#define PORT61		0x61
#define PORT61_GATE2	0x01	/* channel 2 gate */
#define PORT61_SPEAKER	0x02	/* speaker enable: keep it off */
#define PORT61_OUT2	0x20	/* channel 2 output, read-only */

#define CALIBRATE_MS	10
#define PIT_FULL_COUNT	0xffff	/* 55 ms to the terminal count */
#define PIT_TICKS_TO_WAIT (I8254_FREQ_HZ * CALIBRATE_MS / 1000)
/* A TSC slower than this (10 MHz) is no TSC of a CPU that runs us. */
#define TSC_MIN_HZ	10000000UL

/* Channel 2's output as port 0x61 shows it. */
static bool out2_high(void)
{
	return (inb(PORT61) & PORT61_OUT2) != 0;
}

/*
 * Spin until out_high() says true, or the budget runs out: tsc_budget
 * TSC cycles, or max_polls reads if the TSC itself does not move.  The
 * budget is set far above the 10 ms being measured (see the caller), so
 * hitting it means the PIT is not counting, not that it is slow.
 * Returns whether the output went high.  Any context; never blocks.
 */
bool i8254_wait_out(bool (*out_high)(void), uint64_t tsc_budget,
		    uint64_t max_polls)
{
	uint64_t t0 = rdtsc();

	for (uint64_t n = 0; n < max_polls; n++) {
		if (out_high())
			return true;
		if (rdtsc() - t0 >= tsc_budget)
			return false;
		cpu_pause();
	}
	return false;
}

/* Load channel 2 for count ticks in mode 0 with its gate closed. */
static void pit_ch2_load(uint8_t p61, uint32_t count)
{
	outb(PORT61, p61);			/* gate closed */
	outb(PIT_MODE, PIT_SEL_CH2 | PIT_RW_LOHI | PIT_MODE0);
	outb(PIT_CH2_DATA, count & 0xff);
	outb(PIT_CH2_DATA, count >> 8);
}

/* Channel 2's count now: latch it, then read low and high byte. */
static uint16_t pit_ch2_count(void)
{
	uint8_t lo, hi;

	outb(PIT_MODE, PIT_SEL_CH2 | PIT_RW_LATCH);
	lo = inb(PIT_CH2_DATA);
	hi = inb(PIT_CH2_DATA);
	return (uint16_t)(lo | hi << 8);
}

/* The count and the TSC read back to back: one end of the interval. */
struct pit_mark {
	uint16_t count;
	uint64_t tsc;
};

static struct pit_mark pit_mark(void)
{
	struct pit_mark m;

	m.count = pit_ch2_count();
	m.tsc = rdtsc();
	return m;
}

static struct pit_mark mark0;	/* the start of the interval being timed */

/* Has channel 2 counted PIT_TICKS_TO_WAIT since mark0 (or finished)? */
static bool counted_enough(void)
{
	return mark0.count - pit_ch2_count() >= PIT_TICKS_TO_WAIT ||
	       (inb(PORT61) & PORT61_OUT2) != 0;
}

/*
 * The budget: 2^33 TSC cycles is 0.86 s even at 10 GHz, and 8 s at
 * 1 GHz; the interval is 10 ms.  The poll cap only matters if the TSC
 * stands still; a port read takes at least tens of nanoseconds, so 2^27
 * polls are seconds too.
 */
#define WAIT_TSC_BUDGET	(1UL << 33)
#define WAIT_MAX_POLLS	(1UL << 27)

/*
 * Interrupts off, one CPU at a time: the channel, the latch and mark0
 * are shared.  The count runs down from 0xffff, so 10 ms (11931 ticks)
 * never reaches the terminal count, and the subtraction cannot wrap.
 */
const char *i8254_measure_tsc(uint64_t *hz)
{
	uint8_t p61 = inb(PORT61) & ~(PORT61_GATE2 | PORT61_SPEAKER);
	struct pit_mark mark1;
	bool done;

	*hz = 0;
	pit_ch2_load(p61, PIT_FULL_COUNT);
	if (out2_high())
		return "channel 2's output is high before it was started; no "
		       "PIT answers at ports 0x42/0x61";
	outb(PORT61, p61 | PORT61_GATE2);	/* start counting */
	mark0 = pit_mark();
	done = i8254_wait_out(counted_enough, WAIT_TSC_BUDGET, WAIT_MAX_POLLS);
	mark1 = pit_mark();
	outb(PORT61, p61);
	if (!done || mark1.count >= mark0.count)
		return "channel 2 did not count 10 ms within 2^33 TSC cycles; "
		       "the PIT is not counting";
	*hz = (mark1.tsc - mark0.tsc) * I8254_FREQ_HZ /
	      (uint64_t)(mark0.count - mark1.count);
	if (*hz < TSC_MIN_HZ)
		return "the TSC counted under 10 MHz against the PIT; the "
		       "PIT's count is not trustworthy";
	return NULL;
}
