/*
 * kern/globaldata.h - per-CPU state: struct globaldata, mycpu, curthread.
 *
 * One struct globaldata per CPU, reached through the GS base (see
 * machine/cpu.h for the first fields' fixed offsets).  Everything in it is
 * owned by its CPU and changed only by that CPU inside a critical section,
 * with three exceptions that other CPUs touch atomically: gd_ipimask and
 * gd_npoll (an IPIQ sender announcing work) and gd_reqflags bits set by
 * interrupt handlers on this CPU.
 *
 *   gd_tdrunq:  [ithread pri 28] -> [thread0 pri 12] -> [worker pri 12]
 *                 head runs          round-robin among equals each tick
 *   gd_idlethread: runs when gd_tdrunq is empty; never on the queue.
 */
#ifndef KERN_GLOBALDATA_H
#define KERN_GLOBALDATA_H

#include <kern/types.h>
#include <kern/queue.h>
#include <kern/thread.h>
#include <machine/cpu.h>
#include <machine/param.h>

/* gd_reqflags: work recorded while a critical section deferred it. */
#define RQF_IPIQ		0x0001	/* IPIQ messages are waiting */
#define RQF_INTPEND		0x0002	/* an interrupt thread must be scheduled */
#define RQF_AST_LWKT_RESCHED	0x0020	/* lwkt_yield should switch */
#define RQF_TIMER		0x0080	/* a clock tick is waiting */
#define RQF_IDLECHECK_MASK	(RQF_IPIQ | RQF_INTPEND | RQF_TIMER)

TAILQ_HEAD(thread_list, thread);
struct lwkt_ipiq;
struct pmap;

/* Per-CPU counters: always on, read by tests and benchmarks. */
struct lwkt_counters {
	uint64_t v_swtch;		/* switches to another thread */
	uint64_t preempt_hit;		/* preemptions done */
	uint64_t preempt_miss;		/* preemptions refused (crit, tokens, pri) */
	uint64_t v_token_colls;		/* threads skipped: tokens contended */
	uint64_t ipiq_count;		/* messages sent to other CPUs */
	uint64_t ipiq_ipis;		/* hardware IPIs sent for them */
	uint64_t ipiq_fifofull;		/* sends that found the ring full */
	uint64_t ipiq_passive;		/* passive sends (no IPI by design) */
	uint64_t ipiq_received;		/* messages run on this CPU */
	uint64_t ipiq_nest_limited;	/* waits too deep in callbacks to drain */
	uint64_t intr_count;		/* hardware interrupts taken */
	uint64_t intr_deferred;		/* ... that arrived in a critical section */
	uint64_t idle_tsc;		/* TSC ticks spent halted in the idle loop
					 * (under -icount: the virtual time that
					 * jumped while the CPU waited) */
	/* Message ports (kern/lwkt_msgport.c), each bumped by one %gs-relative
	 * instruction, so no critical section is needed around them. */
	uint64_t msg_sent;		/* messages that went out asynchronously */
	uint64_t msg_replied;		/* replies to them */
	uint64_t msg_dropped;		/* lwkt_dropmsg successes */
	uint64_t msg_remote;		/* puts and replies that crossed CPUs */
	uint64_t msg_chased;		/* ... sent on after a moving owner */
	uint64_t msg_ports;		/* ports initialised ... */
	uint64_t msg_ports_destroyed;	/* ... and destroyed */
};

struct globaldata {
	/* Fixed offsets: machine/cpu.h and kern/lwkt_switch.S use them. */
	struct globaldata *gd_self;	/* %gs:0 */
	struct thread *gd_curthread;	/* %gs:8 */
	int gd_cpuid;			/* %gs:16 */
	volatile uint32_t gd_reqflags;	/* %gs:20, RQF_* */
	union {
		struct {
			int gd_spinlocks;	/* %gs:24 */
			int gd_intr_nesting_level; /* >0 in hard interrupts
						    * and IPI callbacks */
		};
		/* Both at once: non-zero where a thread must not switch
		 * (lwkt_switch tests this one word). */
		uint64_t gd_noswitch;
	};
	/* User mode (kern/user_entry.S): fixed offsets, machine/cpu.h. */
	uint64_t gd_user_rsp;		/* %gs:32, user RSP at SYSCALL entry */
	uint64_t gd_rsp0;		/* %gs:40, kernel stack top of the user
					 * thread running here (= TSS.RSP0) */
	struct pmap *gd_pmap;		/* user pmap loaded here, or NULL */

	uint32_t gd_apic_id;		/* this CPU's local APIC id */
	uint64_t gd_cpumask;		/* 1 << gd_cpuid */

	/* Scheduler: owner, critical section. */
	struct thread_list gd_tdrunq;	/* runnable, sorted by td_pri (desc) */
	int gd_tdrunqcount;
	struct thread_list gd_tdallq;	/* every thread owned by this CPU */
	struct thread *gd_idlethread;
	struct thread *gd_freetd;	/* last exited thread, reaped lazily */

	/* IPIQ (kern/lwkt_ipiq.c). */
	/* The rings to this CPU, by source CPU; each entry is written by
	 * its source only (kern/lwkt_ipiq.c). */
	struct lwkt_ipiq *gd_ipiq_in[MAXCPU];
	volatile uint64_t gd_ipimask;	/* source CPUs with messages for us: atomic */
	volatile int gd_npoll;		/* 1: already signalled, send no IPI: atomic */
	int gd_processing_ipiq;		/* >0 while draining */

	/* Interrupts (kern/kern_intr.c): vectors whose ithread must run. */
	volatile uint64_t gd_ipending[4];

	/* Clock (kern/kern_clock.c): owner. */
	volatile uint64_t gd_ticks;	/* ticks of this CPU's LAPIC timer */
	struct thread *gd_softclock_td;	/* runs this CPU's callouts */
	void *gd_softclock;		/* the callout wheel (kern_timeout.c) */

	struct lwkt_counters gd_cnt;
	bool gd_online;			/* started and running its scheduler */
} __aligned(CACHE_LINE_SIZE);

_Static_assert(__builtin_offsetof(struct globaldata, gd_curthread) ==
	       GD_CURTHREAD, "machine/cpu.h GD_CURTHREAD is stale");
_Static_assert(__builtin_offsetof(struct globaldata, gd_cpuid) == GD_CPUID,
	       "machine/cpu.h GD_CPUID is stale");
_Static_assert(__builtin_offsetof(struct globaldata, gd_spinlocks) ==
	       GD_SPINLOCKS, "machine/cpu.h GD_SPINLOCKS is stale");
_Static_assert(__builtin_offsetof(struct globaldata, gd_reqflags) ==
	       GD_REQFLAGS, "machine/cpu.h GD_REQFLAGS is stale");
_Static_assert(__builtin_offsetof(struct globaldata, gd_user_rsp) ==
	       GD_USER_RSP, "machine/cpu.h GD_USER_RSP is stale");
_Static_assert(__builtin_offsetof(struct globaldata, gd_rsp0) == GD_RSP0,
	       "machine/cpu.h GD_RSP0 is stale");

#define mycpu		(cpu_globaldata())
#define mycpuid		(cpu_current_id())
#define curthread	(cpu_curthread())

extern struct globaldata globaldata_array[MAXCPU];
extern int ncpus;			/* CPUs started (1 until APs run) */
extern uint64_t smp_active_mask;	/* bit per CPU that is online */

/* The globaldata of CPU cpu (0 <= cpu < ncpus). */
static inline struct globaldata *globaldata_find(int cpu)
{
	return &globaldata_array[cpu];
}

/*
 * Point this CPU's GS base at gd and fill in its identity.  The very first
 * thing each CPU does in C, before anything reads mycpu or curthread.
 */
void mi_gdinit(struct globaldata *gd, int cpuid);

#endif /* KERN_GLOBALDATA_H */
