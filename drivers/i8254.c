/*
 * i8254.c - the 8254 programmable interval timer, used as a ruler.
 *
 * Channel 2 of the PIT is the one whose gate software controls (through
 * port 0x61, the old "speaker" port) and whose output it can read back, so
 * it can time an interval without any interrupt:  load a count, open the
 * gate, spin until the output goes high (mode 0, "interrupt on terminal
 * count"), and read the TSC at both ends.  Intel 8254 datasheet, mode 0;
 * port 0x61 bits from the PC/AT technical reference.
 */
#include <kern/types.h>
#include <machine/cpufunc.h>
#include <drivers/i8254.h>

#define PIT_CH2_DATA	0x42
#define PIT_MODE	0x43
#define PIT_SEL_CH2	0x80	/* select channel 2 */
#define PIT_RW_LOHI	0x30	/* write low byte then high byte */
#define PIT_MODE0	0x00	/* interrupt on terminal count */
#define PORT61		0x61
#define PORT61_GATE2	0x01	/* channel 2 gate */
#define PORT61_SPEAKER	0x02	/* speaker enable: keep it off */
#define PORT61_OUT2	0x20	/* channel 2 output, read-only */

#define CALIBRATE_MS	10

uint64_t i8254_calibrate_tsc(void)
{
	uint32_t count = I8254_FREQ_HZ * CALIBRATE_MS / 1000;
	uint8_t p61 = inb(PORT61) & ~(PORT61_GATE2 | PORT61_SPEAKER);
	uint64_t t0, t1;

	outb(PORT61, p61);			/* gate closed */
	outb(PIT_MODE, PIT_SEL_CH2 | PIT_RW_LOHI | PIT_MODE0);
	outb(PIT_CH2_DATA, count & 0xff);
	outb(PIT_CH2_DATA, count >> 8);
	t0 = rdtsc();
	outb(PORT61, p61 | PORT61_GATE2);	/* start counting */
	while ((inb(PORT61) & PORT61_OUT2) == 0)
		cpu_pause();
	t1 = rdtsc();
	outb(PORT61, p61);
	return (t1 - t0) * (1000 / CALIBRATE_MS);
}
