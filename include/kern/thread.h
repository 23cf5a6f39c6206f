/*
 * kern/thread.h - LWKT threads: the structure, flags, priorities and API
 * (kern/lwkt_thread.c).
 *
 * A thread belongs to one CPU, td->td_gd.  Only that CPU changes the
 * thread's scheduling state (TDF_RUNQ, its run-queue links, td_pri) and
 * only that CPU ever switches to it.  Another CPU that wants to schedule,
 * deschedule or wake the thread sends an IPIQ message (kern/ipiq.h) to the
 * owner, which does it locally.  That is why the run queue needs no lock:
 * the owner touches it inside a critical section and nobody else touches
 * it at all.
 *
 * Fields are grouped by who may touch them:
 *   - "owner": the owning CPU, in a critical section;
 *   - "self": the thread itself while it runs;
 *   - "atomic": any CPU, with atomic operations only.
 */
#ifndef KERN_THREAD_H
#define KERN_THREAD_H

#include <kern/types.h>
#include <kern/queue.h>
#include <machine/cpu.h>

struct globaldata;
struct lwkt_token;
struct proc;

/* Priorities: higher runs first (DragonFly's TDPRI_*). */
#define TDPRI_IDLE_THREAD	0	/* the per-CPU idle thread */
#define TDPRI_IDLE_WORK		1
#define TDPRI_USER_NORM		6
#define TDPRI_KERN_USER		10
#define TDPRI_KERN_DAEMON	12	/* default for kernel threads */
#define TDPRI_SOFT_NORM		14
#define TDPRI_SOFT_TIMER	16	/* softclock: the callout thread */
#define TDPRI_INT_SUPPORT	20
#define TDPRI_INT_LOW		27
#define TDPRI_INT_MED		28	/* interrupt threads */
#define TDPRI_INT_HIGH		29
#define TDPRI_MAX		31

/* td_flags: owner only (TDF_* keep DragonFly's names and meanings). */
#define TDF_RUNNING		0x0001	/* executing, or in the middle of a switch */
#define TDF_RUNQ		0x0002	/* on its CPU's run queue (stays while running) */
#define TDF_PREEMPT_LOCK	0x0004	/* preempted: pinned until the preemptor blocks */
#define TDF_PREEMPT_DONE	0x0008	/* the preemptor has switched back */
#define TDF_NOSTART		0x0010	/* lwkt_create: do not schedule it */
#define TDF_MIGRATING		0x0020	/* moving to another CPU */
#define TDF_SINTR		0x0040	/* asleep with PCATCH: lwkt_signal wakes it */
#define TDF_TSLEEPQ		0x0080	/* on a tsleep queue */
#define TDF_SYSTHREAD		0x0100	/* a per-CPU system thread (idle, softclock) */
#define TDF_TIMEOUT		0x8000	/* a tsleep timeout fired */
#define TDF_INTTHREAD		0x10000	/* an interrupt thread */
#define TDF_TSLEEP_DESCHEDULED	0x20000	/* tsleep descheduled it; wakeup reschedules */
#define TDF_EXITING		0x400000 /* in lwkt_exit */

/*
 * td_mpflags: atomic, any CPU.  An exited thread's structure goes back
 * to the pool (or is reused) only once both its joiner and its CPU have
 * let go of it: COLLECTED and UNPARKED.  Whoever sets the second frees it.
 */
#define TDF_MP_EXITSIG		0x0001	/* fully switched out after exiting */
#define TDF_MP_COLLECTED	0x0002	/* joined, or created without a handle */
#define TDF_MP_UNPARKED		0x0004	/* no longer its CPU's gd_freetd */
#define TDF_MP_SIGPEND		0x0008	/* lwkt_signal: PCATCH waits end (synch.h) */

/* A reference to a token on a thread's token stack (kern/token.h). */
struct lwkt_tokref {
	struct lwkt_token *tr_tok;
	long tr_count;			/* TOK_EXCLUSIVE|TOK_EXCLREQ or TOK_EXCLREQ */
	struct thread *tr_owner;
};

#define LWKT_MAXTOKENS	32		/* token references one thread may hold */
#define TD_COMM_SIZE	24

typedef void (*lwkt_preempt_t)(struct thread *ntd, int critcount);

struct thread {
	/* Links: owner. */
	TAILQ_ENTRY(thread) td_threadq;	/* run queue, or one blocking queue */
	TAILQ_ENTRY(thread) td_allq;	/* gd_tdallq: every thread of the CPU */
	TAILQ_ENTRY(thread) td_sleepq;	/* a tsleep bucket (kern_synch.c) */

	/* Scheduling: owner. */
	struct globaldata *td_gd;	/* the owning CPU */
	int td_pri;			/* TDPRI_*, higher runs first */
	int td_critcount;		/* critical-section depth: self */
	uint32_t td_flags;		/* TDF_* */
	volatile uint32_t td_mpflags;	/* TDF_MP_*: atomic */
	lwkt_preempt_t td_preemptable;	/* lwkt_preempt for ithreads, else NULL */
	struct thread *td_preempted;	/* the thread we preempted: owner */
	struct globaldata *td_migrate_gd; /* target of a migration: owner */

	/* Machine state: the switch code (kern/lwkt_switch.S). */
	uint64_t td_sp;			/* saved stack pointer while switched out */
	void *td_kstack;		/* stack base (lowest address) */
	size_t td_kstack_size;

	/* Sleeping (kern_synch.c): owner. */
	const volatile void *td_wchan;	/* what tsleep waits on, or NULL */
	const char *td_wmesg;		/* why it waits: tsleep or a token */
	int td_wdomain;			/* PDOMAIN_* of the sleep */

	/* Tokens (lwkt_token.c): self, and lwkt_switch for this thread. */
	struct lwkt_tokref *td_toks_stop; /* next free slot of td_toks_array */
	/*
	 * NULL while every reference below td_toks_stop is held.  A thread
	 * that failed to get its newest reference sets it to that reference
	 * before it switches away: the references from td_toks_have up are
	 * wanted, not held, and lwkt_relalltokens must not release them.
	 */
	struct lwkt_tokref *td_toks_have;
	struct lwkt_tokref td_toks_array[LWKT_MAXTOKENS];

	/*
	 * The thread's message port (kern/lwkt_msgport.c).  A pointer, so
	 * that the port layer can define its own structure; NULL until then.
	 */
	void *td_msgport;

	/* The user process this thread runs (kern/proc.h), or NULL for a
	 * kernel thread: set before it first runs, cleared by its exit. */
	struct proc *td_proc;

	/* Life cycle. */
	volatile int td_refs;		/* lwkt_hold/lwkt_rele: atomic */
	volatile int td_oncpu;		/* CPU it is running on, or -1: atomic */
	void (*td_func)(void *);	/* what lwkt_create runs */
	void *td_arg;
	uint64_t td_switches;		/* times switched in: owner */
	char td_comm[TD_COMM_SIZE];	/* name, for panics and debuggers */
};

#define LWKT_STACK_SIZE	(16 * 1024)

/*
 * Create a kernel thread running func(arg) on CPU cpu (-1: this CPU),
 * named by the printf-style fmt.  Returns 0 and stores the thread in *tdp
 * (may be NULL), or ENOMEM.  Unless TDF_NOSTART is in flags it is
 * scheduled at once.  When func returns the thread exits; if *tdp was
 * given, the caller must lwkt_thread_join() it.  May block only for
 * memory; not from an interrupt or IPI callback.
 */
int lwkt_create(void (*func)(void *), void *arg, struct thread **tdp,
		uint32_t flags, int cpu, const char *fmt, ...)
	__printflike(6, 7);

/* End the calling thread.  Its stack is freed lazily, after it is off
 * the CPU.  Waits first while lwkt_hold references remain.  Never returns. */
void lwkt_exit(void) __noreturn;

/*
 * Give the CPU to the best runnable thread of this CPU (possibly the
 * caller).  Releases the caller's tokens and has them all back before it
 * returns.  Must not be called with spinlocks held, from an interrupt or
 * IPI callback, or while processing IPIs.
 */
void lwkt_switch(void);

/*
 * Block the calling thread (it leaves the run queue) and run ntd, a
 * thread of this CPU waiting for what the caller has just done -- a
 * message put on its port, a reply to its message.  The same as
 * lwkt_schedule(ntd), lwkt_deschedule_self(), lwkt_switch(), and done that
 * way whenever ntd would not be the thread lwkt_switch picks; otherwise
 * without the pick.  Returns when the caller is scheduled again.  Thread
 * context, no spinlocks; the caller may be in a critical section.
 */
void lwkt_handoff(struct thread *ntd);

/* Switch if the scheduler asked for it (a tick rotated equal-priority
 * threads, or a better thread became runnable); otherwise do nothing. */
void lwkt_yield(void);

/*
 * Make td runnable.  On td's own CPU this enqueues it (and may preempt the
 * caller if td is an interrupt thread); for a thread of another CPU it
 * sends an IPIQ message to that CPU.  Scheduling twice is harmless.
 * Any context; never blocks.
 */
void lwkt_schedule(struct thread *td);
void lwkt_schedule_self(struct thread *td);

/* Take td off the run queue (self: it then blocks at the next switch). */
void lwkt_deschedule(struct thread *td);
void lwkt_deschedule_self(struct thread *td);

/* Change a priority; never switches (call lwkt_yield to act on it). */
void lwkt_setpri_self(int pri);
void lwkt_setpri(struct thread *td, int pri);

/*
 * Move the calling thread to CPU cpu; returns running there.  Sleep
 * queues are per CPU, so a pending tsleep_interlock() is cancelled: the
 * tsleep(PINTERLOCKED) after the move returns 0 at once, like one that a
 * wakeup beat (callers re-check their condition anyway).  Thread context.
 */
void lwkt_migratecpu(int cpu);

/*
 * Wait until td has exited and is off its CPU, then let go of its
 * structure.  A thread created with a handle (tdp != NULL) must be
 * joined exactly once: until then its structure and stack are kept, so
 * the handle can never name a newer thread that reused them.  (A thread
 * created without a handle is freed when it exits.)  Thread context;
 * may block.
 */
void lwkt_thread_join(struct thread *td);

/* Hold a thread's structure: lwkt_exit waits until the count is 0. */
void lwkt_hold(struct thread *td);
void lwkt_rele(struct thread *td);

/* Make td an interrupt thread: it preempts ordinary threads when scheduled. */
void lwkt_set_interrupt_thread(struct thread *td, int pri);

/* Called by the switch code on the new thread after every switch. */
void lwkt_switch_return(struct thread *otd);

/* Threads alive, and kernel stacks in use, on all CPUs (leak checks).
 * Thread context: both visit every CPU first, so they may switch. */
uint64_t lwkt_thread_count(void);
uint64_t lwkt_stack_count(void);

/*
 * Boot CPU, first thing in kmain: GS base -> globaldata 0, and the boot
 * context becomes thread0 (so curthread and critical sections work from
 * the first line).  lwkt_init_bsp() later gives CPU 0 its idle thread,
 * once kernel stacks can be allocated.
 */
void lwkt_init_thread0(void);
void lwkt_init_bsp(void);
/* Give CPU gd its idle thread, whose stack the CPU runs on at start. */
struct thread *lwkt_alloc_idlethread(struct globaldata *gd);
void lwkt_idle_loop(void) __noreturn;

/* Counters (summed over CPUs). */
struct lwkt_stats {
	uint64_t switches, preempt_hit, preempt_miss, token_colls;
};
void lwkt_get_stats(struct lwkt_stats *st);

/* Scheduler internals shared with kern_intr.c and kern_clock.c. */
void _lwkt_schedule(struct thread *td, int ccount);
void lwkt_preempt(struct thread *ntd, int critcount);
void lwkt_schedulerclock(struct globaldata *gd);

/* Switching from or to a thread that runs a user process: page tables,
 * FPU registers, kernel stack top (kern/user_machdep.c).  In lwkt_switch,
 * inside its critical section, just before the machine switch. */
void cpu_user_switch(struct thread *otd, struct thread *ntd);

/* The machine switch (kern/lwkt_switch.S): returns the previous thread.
 * It saves only rbp, r15 and RFLAGS: call it through cpu_lwkt_switch_call. */
struct thread *cpu_lwkt_switch(struct thread *ntd);

/*
 * Switch to ntd; returns, once this thread runs again, the thread that
 * ran just before it.  The call is wrapped so that the compiler sees
 * every general register but rbp, r15 and rsp destroyed: the thread that
 * resumes here finds the registers of the one that switched to it.  The
 * compiler then saves the callee-saved registers its caller needs in the
 * caller's own prologue, and cpu_lwkt_switch saves only rbp and r15.
 */
static inline struct thread *cpu_lwkt_switch_call(struct thread *ntd)
{
	struct thread *otd;

	__asm__ volatile("call cpu_lwkt_switch"
			 : "=a"(otd), "+D"(ntd)
			 :
			 : "rbx", "rcx", "rdx", "rsi", "r8", "r9", "r10",
			   "r11", "r12", "r13", "r14", "memory", "cc");
	return otd;
}
void cpu_kthread_restore(void);

#endif /* KERN_THREAD_H */
