/*
 * kern/timeout.h - callouts: run a function once, some ticks from now,
 * on a chosen CPU (kern/kern_timeout.c).
 *
 *     static struct callout c;
 *     callout_init(&c);
 *     callout_reset(&c, hz / 10, fn, arg);     fn(arg) in ~100 ms, this CPU
 *     callout_stop(&c);                        cancel; fn will not run
 *
 * The function runs in the CPU's "softclock N" thread, inside a critical
 * section: it must not block.  A callout belongs to the CPU it was last
 * reset on; stop and reset from another CPU go through an IPIQ message
 * and wait for it, so when they return the change has happened.
 */
#ifndef KERN_TIMEOUT_H
#define KERN_TIMEOUT_H

#include <kern/types.h>
#include <kern/queue.h>

struct globaldata;

#define CALLOUT_PENDING	0x1	/* on a wheel, will run */
#define CALLOUT_DID_RUN	0x2	/* ran since the last reset */

struct callout {
	TAILQ_ENTRY(callout) c_link;	/* wheel slot: owner CPU */
	uint64_t c_time;		/* gd_ticks when it is due */
	void (*c_func)(void *);
	void *c_arg;
	struct globaldata *c_gd;	/* owning CPU, NULL before first reset */
	int c_flags;			/* CALLOUT_*: owner CPU */
	int c_req_ticks;		/* a reset in flight to another CPU */
};

void callout_init(struct callout *c);

/* (Re)arm c to call func(arg) in ticks ticks (>= 1) on this CPU / cpu. */
void callout_reset(struct callout *c, int ticks, void (*func)(void *),
		   void *arg);
void callout_reset_bycpu(struct callout *c, int ticks, void (*func)(void *),
			 void *arg, int cpu);

/* Cancel c.  Returns true if it was pending (it will now never run);
 * false if it was not armed or has already run. */
bool callout_stop(struct callout *c);

bool callout_pending(const struct callout *c);

/* Per-CPU wheel and thread (boot: each CPU), and the tick hook. */
void softclock_init_cpu(void);
void softclock_tick(struct globaldata *gd);

#endif /* KERN_TIMEOUT_H */
