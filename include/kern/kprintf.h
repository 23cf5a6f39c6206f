/*
 * kern/kprintf.h - formatted output: kprintf to the console, ksnprintf to a
 * buffer.  The formatter itself is kern/subr_prf.c; see it for the list of
 * conversions.
 */
#ifndef KERN_KPRINTF_H
#define KERN_KPRINTF_H

#include <kern/types.h>

typedef void (*kvformat_putc_t)(int c, void *arg);

/* Format into putc(c, arg) one character at a time; returns the count. */
int kvformat(kvformat_putc_t putc, void *arg, const char *fmt, va_list ap);

/*
 * Format into buf, never writing more than size bytes, always terminating
 * when size > 0.  Returns the length the full output would have had.
 * Never blocks; any context.
 */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...) __printflike(3, 4);

/*
 * Print to the console.  The whole output of one call is written under the
 * console lock with interrupts off, so a line is never interleaved with
 * another CPU's.  Never blocks (it spins for the lock); any context.
 */
int kprintf(const char *fmt, ...) __printflike(1, 2);
int kvprintf(const char *fmt, va_list ap);

#endif /* KERN_KPRINTF_H */
