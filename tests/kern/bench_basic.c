/*
 * bench_basic.c - the first benchmarks: what an empty loop costs (the
 * harness's own floor) and what one short kprintf costs.
 */
#include <kern/console.h>
#include <kern/kbench.h>
#include <kern/kprintf.h>

KBENCH(empty_loop, 1000000)
{
	for (uint64_t i = 0; i < n; i++)
		__asm__ volatile("" ::: "memory");
}

static void discard(int c, void *arg)
{
}

/* kprintf of a short line, formatted and sent to a console that discards
 * it: the cost of formatting and the console lock, not of the UART. */
KBENCH(kprintf_short_line, 10000)
{
	cons_set_tap(discard, NULL);
	for (uint64_t i = 0; i < n; i++)
		kprintf("cpu %d: tick %lu\n", 0, i);
	cons_set_tap(NULL, NULL);
}
