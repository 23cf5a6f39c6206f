/*
 * kern_cons.c - the console: where kprintf's characters go.
 *
 * Before uart_init() runs, characters go to QEMU's debug console (I/O port
 * 0xE9, which needs no setup); afterwards to COM1.  A newline becomes CR LF
 * for terminals.
 *
 * Locking: cons_lock is held, with interrupts off, for the whole output of
 * one kprintf call, so one CPU's line is never cut into by another's.  Once
 * a panic starts, cons_panicking is set and the lock is ignored: a CPU that
 * panicked while holding it must still be able to print why.
 */
#include <kern/types.h>
#include <kern/kprintf.h>
#include <kern/spinlock.h>
#include <kern/console.h>
#include <machine/cpufunc.h>
#include <drivers/uart16550.h>

#define DEBUGCON_PORT	0xe9	/* QEMU -debugcon, the "0xE9 hack" */

static struct spinlock cons_lock = SPINLOCK_INITIALIZER("console");
static volatile bool cons_panicking;

/* Optional tap on console output, used by tests that check what printed. */
static cons_tap_t cons_tap;
static void *cons_tap_arg;

/*
 * Send one character to wherever console output goes now: the tap, the
 * 0xE9 port (before the UART), or COM1 (with CR before LF, which serial
 * terminals need to return to column 0).  Caller holds cons_lock unless
 * panicking.
 */
static void cons_putc_raw(int c, void *arg __unused)
{
	if (cons_tap != NULL) {
		cons_tap(c, cons_tap_arg);
		return;
	}
	if (!uart_ready()) {
		outb(DEBUGCON_PORT, (uint8_t)c);
		return;
	}
	if (c == '\n')
		uart_putc('\r');
	uart_putc(c);
}

/* Boot CPU, early, interrupts off.  115200 8N1 is what QEMU's -serial and
 * iso/grub.cfg's `serial --speed=115200` expect. */
void cons_init(void)
{
	uart_init(COM1_PORT, 115200);
}

/* Any CPU; called once per panic.  Drops the tap too: a panic must reach
 * the real console even if a test was capturing output. */
void cons_enter_panic(void)
{
	cons_panicking = true;
	cons_tap = NULL;
}

void cons_set_tap(cons_tap_t tap, void *arg)
{
	uint64_t rf = spin_lock_irqsave(&cons_lock);

	cons_tap = tap;
	cons_tap_arg = arg;
	spin_unlock_irqrestore(&cons_lock, rf);
}

/*
 * Format straight into the console while holding its lock, so the whole
 * call's output is contiguous.  Interrupts are off meanwhile: an interrupt
 * handler that printed on this CPU would otherwise spin forever on the
 * lock its own CPU holds.
 */
int kvprintf(const char *fmt, va_list ap)
{
	uint64_t rf;
	int n;

	if (cons_panicking)
		return kvformat(cons_putc_raw, NULL, fmt, ap);
	rf = spin_lock_irqsave(&cons_lock);
	n = kvformat(cons_putc_raw, NULL, fmt, ap);
	spin_unlock_irqrestore(&cons_lock, rf);
	return n;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvprintf(fmt, ap);
	va_end(ap);
	return n;
}
