/*
 * kern/ipiq.h - inter-processor interrupt queues: run a function on
 * another CPU (kern/lwkt_ipiq.c).
 *
 * One single-producer/single-consumer ring per ordered (source, target)
 * pair of CPUs carries (function, arg1, arg2) calls.  The target runs them
 * in send order, in a critical section, from its IPI handler or when it
 * leaves a critical section.  A callback must not block or switch; it may
 * send further messages.
 */
#ifndef KERN_IPIQ_H
#define KERN_IPIQ_H

#include <kern/types.h>

struct globaldata;
struct trapframe;

typedef void (*ipifunc3_t)(void *arg1, int arg2, struct trapframe *frame);
typedef void (*ipifunc1_t)(void *arg1);

#define MAXCPUFIFO	256	/* entries per (source, target) ring: power of 2 */
/*
 * How many drains of incoming rings may be on one CPU's stack at once.  A
 * callback that sends to a full ring drains our incoming rings while it
 * waits, which runs more callbacks on top of it; at this depth a wait
 * only pauses.  Two levels are routine (a callback waiting for a reply).
 */
#define IPIQ_MAX_NEST	4

/*
 * Queue func(arg1, arg2) for CPU target and signal it, unless it is already
 * signalled (then no IPI is sent: counted as avoided).  A send to this CPU
 * runs func at once, before returning.  If the ring is full, waits --
 * draining this CPU's own incoming rings meanwhile, so two CPUs flooding
 * each other cannot deadlock.  Returns a sequence number for
 * lwkt_wait_ipiq().  Any context, interrupts on or off; never blocks.
 */
int lwkt_send_ipiq3(struct globaldata *target, ipifunc3_t func, void *arg1,
		    int arg2);
int lwkt_send_ipiq(struct globaldata *target, ipifunc1_t func, void *arg1);
int lwkt_send_ipiq2(struct globaldata *target, ipifunc3_t func, void *arg1,
		    int arg2);
int lwkt_send_ipiq_bycpu(int cpu, ipifunc1_t func, void *arg1);

/*
 * lwkt_send_ipiq for a caller that has entered a critical section for the
 * send (one level, e.g. to read where target is): the send runs in it and
 * leaves it, so the caller's section and the send's are one.
 */
int lwkt_send_ipiq_crit(struct globaldata *target, ipifunc1_t func,
			void *arg1);

/*
 * Queue without signalling: the target runs it at its next clock tick or
 * when something else wakes it.  Falls back to lwkt_send_ipiq3() when the
 * ring is a quarter full.  Never to this CPU.
 */
int lwkt_send_ipiq3_passive(struct globaldata *target, ipifunc3_t func,
			    void *arg1, int arg2);

/*
 * Has target finished running the message numbered seq that this CPU
 * sent it (the call has returned, not merely started)?  Never blocks.
 */
bool lwkt_ipiq_done(struct globaldata *target, int seq);

/*
 * Wait until target has finished running the message numbered seq,
 * running this CPU's own incoming messages meanwhile (up to
 * IPIQ_MAX_NEST drains deep).  Any context; never blocks.
 */
void lwkt_wait_ipiq(struct globaldata *target, int seq);

/* Run every message waiting for this CPU.  In a critical section. */
void lwkt_process_ipiq(void);

/*
 * Run func(arg) on every CPU in mask (this one included if its bit is
 * set) and return when all have finished.  Used for TLB shootdowns.
 * Any thread context; not from an IPI callback.
 */
void lwkt_cpusync(uint64_t mask, ipifunc1_t func, void *arg);

/* The hardware IPI vector and its handler (registered at boot). */
void lwkt_ipiq_init(void);
/* Close gd's table of incoming rings (mi_gdinit); CPU 0 closes all. */
struct globaldata;
void lwkt_ipiq_gdinit(struct globaldata *gd);

/* Counters summed over CPUs. */
struct ipiq_stats {
	uint64_t count, ipis, avoided, fifofull, passive, received;
	uint64_t nest_limited;	/* waits that IPIQ_MAX_NEST kept from draining */
};
void lwkt_ipiq_stats(struct ipiq_stats *st);

#endif /* KERN_IPIQ_H */
