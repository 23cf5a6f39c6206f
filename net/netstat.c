/*
 * netstat.c - the stack's counters: per-CPU slots, summed when read.
 *
 * Every event the stack can name -- a frame dropped and why, a segment
 * resent, an ACK delayed -- has a counter (include/net/netstat.h lists
 * them once, as an X-macro, so the struct, the names and the order can
 * never disagree).  Each CPU bumps only its own slot, with one add
 * instruction and no lock or atomic: the slot is a cache line of its
 * own, so CPUs never fight over a line, and a thread switch cannot split
 * a single instruction.  Reading sums the slots; the sum is a moment's
 * value, good for the shell and for tests that compare before and after
 * a quiet interval (net_settle first).
 */
#include <kern/types.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <net/netstat.h>

struct netstat netstat_cpu[MAXCPU];

/* The names, in the order of the fields. */
static const char *const netstat_names[] = {
#define NETSTAT_NAME(name) #name,
	NETSTAT_COUNTERS(NETSTAT_NAME)
#undef NETSTAT_NAME
};

#define NETSTAT_N (sizeof(struct netstat) / sizeof(uint64_t))
_Static_assert(nitems(netstat_names) <= NETSTAT_N, "one name a counter");

/* The struct is an array of counters in disguise: add slot by slot.
 * Any thread; slots still moving are read as they are. */
void netstat_sum(struct netstat *out)
{
	uint64_t *o = (uint64_t *)out;

	memset(out, 0, sizeof(*out));
	for (int cpu = 0; cpu < MAXCPU; cpu++) {
		const uint64_t *c = (const uint64_t *)&netstat_cpu[cpu];

		for (size_t i = 0; i < nitems(netstat_names); i++)
			o[i] += c[i];
	}
}

/* Tests name the counter they expect to move, as the shell prints it.
 * The sum, or -1 for a name that is not a counter (a typo in a test
 * then fails its comparison instead of reading zero). */
int64_t netstat_get(const char *name)
{
	struct netstat sum;

	netstat_sum(&sum);
	for (size_t i = 0; i < nitems(netstat_names); i++)
		if (strcmp(netstat_names[i], name) == 0)
			return (int64_t)((uint64_t *)&sum)[i];
	return -1;
}

/* Two columns of every counter that is not zero. */
void netstat_print(void)
{
	struct netstat sum;
	int col = 0;

	netstat_sum(&sum);
	for (size_t i = 0; i < nitems(netstat_names); i++) {
		uint64_t v = ((uint64_t *)&sum)[i];

		if (v == 0)
			continue;
		kprintf("  %-22s %10lu%s", netstat_names[i], v,
			++col % 2 == 0 ? "\n" : "");
	}
	if (col % 2)
		kprintf("\n");
}
