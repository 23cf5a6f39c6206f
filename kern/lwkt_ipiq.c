/*
 * lwkt_ipiq.c - IPI queues: function calls from one CPU to another.
 *
 * CPUs never take locks on each other's scheduler state.  When CPU A
 * needs CPU B to do something -- schedule one of B's threads, wake a
 * sleeper on B, free memory B owns, flush B's TLB -- A queues a
 * (function, arg1, arg2) call for B and B runs it.  Each ordered pair of
 * CPUs has its own ring, so each ring has exactly one writer and one
 * reader and needs no lock:
 *
 *                 ipiq_rings[source][target]
 *            +-----+-----+-----+-----+-----+-----+
 *     ring:  |     | f,a | f,a | f,a |     |     |   MAXCPUFIFO slots
 *            +-----+-----+-----+-----+-----+-----+
 *                     ^ ip_rindex        ^ ip_windex
 *                     | target advances  | source advances
 *
 * The indices run freely (slot = index % MAXCPUFIFO); windex - rindex is
 * the fill level.  The source writes the entry, then publishes it by
 * storing windex with release order; the target loads windex with acquire
 * order before reading entries -- so a half-written entry is never seen.
 * The target frees the slot (rindex++) before calling the function and
 * records completion in ip_xindex after it, which lwkt_wait_ipiq() uses.
 *
 * Signalling.  After queueing, the source sets its bit in the target's
 * gd_ipimask and swaps 1 into the target's gd_npoll.  Only the 0 -> 1
 * transition sends a hardware IPI; the target puts gd_npoll back to 0
 * when it starts draining.  So a burst of sends to a CPU that is already
 * signalled -- or busy draining -- costs one IPI (lwkt_ipiq_stats
 * counts the rest as avoided).  Passive sends skip the signal entirely; the target's clock
 * tick finds them.
 *
 * A full ring: the sender waits, and while it waits it drains its OWN
 * incoming rings.  Two CPUs that fill each other's rings therefore keep
 * emptying each other's, and neither can deadlock.
 *
 * Nesting.  A callback may itself send, find a ring full and drain, which
 * runs more callbacks -- the same ring's later calls among them -- on top
 * of the first one.  Two rules keep that sound:
 *   - completion (ip_xindex) is published only by the outermost drain of
 *     a ring: a nested drain that finishes later calls must not report
 *     the call below it, still on the stack, as finished;
 *   - a CPU already IPIQ_MAX_NEST drains deep waits without draining
 *     (ipiq_nest_limited counts it), so the stack stays bounded.  The
 *     CPU it waits for is draining, unless it too is that deep in
 *     callbacks that each flood a full ring -- a design error in the
 *     callbacks, never reached by the kernel's own (each sends a few).
 *
 * Messages run on the target inside a critical section with
 * gd_intr_nesting_level raised: they must not block or switch.  Messages
 * from one source to one target run in the order they were sent; there
 * is no order between different sources.
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/intr.h>
#include <kern/ipiq.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/trap.h>
#include <machine/apic.h>
#include <machine/cpufunc.h>

#define IPIQ_MASK	(MAXCPUFIFO - 1)
#define IPIQ_HIGHWATER	(MAXCPUFIFO / 2)	/* above this a sender waits */
#define IPIQ_LOWWATER	(MAXCPUFIFO / 4)	/* ... until this */
#define IPIQ_PASSIVE_MAX (MAXCPUFIFO / 4)

/*
 * One queued call.  A one-argument function (ipifunc1_t) is stored as a
 * three-argument one and called with all three, as DragonFly does: the
 * System V calling convention passes arguments in registers, so a
 * function that takes fewer simply ignores the others (System V AMD64
 * ABI, 3.2.3).  One pointer to store and one to test less on every send
 * and every call.  32 bytes, so a slot is found with one shift.
 */
struct ipiq_entry {
	ipifunc3_t func;
	void *arg1;
	int arg2;
} __aligned(32);

/* A one-argument function as the ring stores it. */
static inline ipifunc3_t ipiq_func1(ipifunc1_t func)
{
	return (ipifunc3_t)(void (*)(void))func;
}

struct lwkt_ipiq {
	volatile uint32_t ip_rindex;	/* written by the target */
	volatile uint32_t ip_xindex;	/* target: finished up to here */
	int ip_draining;		/* target: drains of this ring on its stack */
	char ip_pad0[CACHE_LINE_SIZE - 12];
	volatile uint32_t ip_windex;	/* written by the source */
	char ip_pad1[CACHE_LINE_SIZE - 4];
	struct ipiq_entry ip_info[MAXCPUFIFO];
} __aligned(CACHE_LINE_SIZE);

static struct lwkt_ipiq ipiq_rings[MAXCPU][MAXCPU];	/* [source][target] */
/*
 * gd_ipiq_in[source] of CPU target: the ring from source to target, so
 * that a send finds its ring with one indexed load (no multiply by the
 * ring's size), indexed by the sender's own %gs-relative id.  Each entry
 * starts out pointing at ipiq_closed, a ring that always reads as full
 * and is never written: the first send of each source to each target
 * therefore takes the slow path, which checks that the target is running
 * and only then points the entry at the real ring.  So the contract
 * "never to a CPU that is not running" is checked once per pair of CPUs
 * and costs the fast path nothing.  A CPU's entry for itself stays
 * closed: a send to this CPU, which runs the call at once, is found on
 * the slow path too, and the fast path has no test for it.  Only the
 * source CPU writes its entry.
 */
static struct lwkt_ipiq ipiq_closed = { .ip_windex = IPIQ_HIGHWATER + 1 };

/*
 * The 0 -> 1 transition of the target's gd_npoll: raise the hardware IPI.
 * Out of line: a busy target is already signalled and needs none.
 */
static __attribute__((noinline)) void ipiq_send_ipi(struct globaldata *gd,
						    struct globaldata *target)
{
	gd->gd_cnt.ipiq_ipis++;
	lapic_send_ipi(target->gd_apic_id, IPI_VECTOR_IPIQ);
}

/*
 * Signal target unless it already is.  A plain load of gd_npoll decides
 * the common case: it runs after the locked OR of gd_ipimask (ipiq_put),
 * which is a full fence, so if it still reads 1 the target has not begun
 * the drain that resets it -- and that drain, which takes gd_ipimask
 * after resetting gd_npoll, will see our bit.  Only a 0 needs the swap,
 * so that of several senders exactly one raises the IPI.  A send that
 * raises none is "avoided"; lwkt_ipiq_stats derives that count (active
 * sends minus IPIs), so the common case counts nothing here.
 */
static inline void ipiq_signal(struct globaldata *gd, struct globaldata *target)
{
	if (__atomic_load_n(&target->gd_npoll, __ATOMIC_RELAXED) == 0 &&
	    __atomic_exchange_n(&target->gd_npoll, 1, __ATOMIC_SEQ_CST) == 0)
		ipiq_send_ipi(gd, target);
}

static void ipiq_drain_nested(struct globaldata *gd);

/*
 * One step of a wait for another CPU: run the calls queued for us, so a
 * CPU that waits for us meanwhile makes progress -- unless this CPU is
 * already IPIQ_MAX_NEST drains deep, where it only pauses.  *limited
 * makes each refusing wait count once in ipiq_nest_limited.
 */
static void ipiq_poll_while_waiting(struct globaldata *gd, bool *limited)
{
	if (gd->gd_processing_ipiq == 0) {
		lwkt_process_ipiq();
	} else if (gd->gd_processing_ipiq < IPIQ_MAX_NEST) {
		ipiq_drain_nested(gd);
	} else if (!*limited) {
		*limited = true;
		gd->gd_cnt.ipiq_nest_limited++;
	}
	cpu_pause();
}

/*
 * The ring to target is above the high-water mark: drain our own incoming
 * rings (so a target that is itself blocked sending to us makes progress)
 * until the target has brought it down to the low-water mark.
 */
static __attribute__((noinline)) void
ipiq_wait_room(struct globaldata *gd, struct globaldata *target,
	       struct lwkt_ipiq *ip)
{
	uint64_t rf = read_rflags();
	uint64_t spins = 0;
	bool limited = false;

	gd->gd_cnt.ipiq_fifofull++;
	gd->gd_intr_nesting_level++;	/* callbacks we drain must not block */
	cpu_enable_intr();
	while (ip->ip_windex - ip->ip_rindex > IPIQ_LOWWATER) {
		ipiq_poll_while_waiting(gd, &limited);
		if ((++spins & 0xfffff) == 0) {	/* lost signal? signal again */
			__atomic_or_fetch(&target->gd_ipimask, gd->gd_cpumask,
					  __ATOMIC_SEQ_CST);
			lapic_send_ipi(target->gd_apic_id, IPI_VECTOR_IPIQ);
		}
	}
	write_rflags(rf);
	gd->gd_intr_nesting_level--;
}

/*
 * Put one entry on the ring and publish it: fill the slot, then release
 * windex (the target acquires it before reading the slot), then set our
 * bit in the target's gd_ipimask.  The locked OR is also the full fence
 * that keeps the windex store ahead of the target's next look at the
 * mask.  The caller is in a critical section, which is what keeps this
 * ring single-producer: interrupt handlers on this CPU never send while
 * the thread they interrupted is in one (kern_intr.c).  wi is windex,
 * read in that critical section.
 */
static inline uint32_t ipiq_put(struct globaldata *gd,
				struct globaldata *target,
				struct lwkt_ipiq *ip, uint32_t wi,
				ipifunc3_t func, void *arg1, int arg2)
{
	struct ipiq_entry *e = &ip->ip_info[wi & IPIQ_MASK];

	e->func = func;
	e->arg1 = arg1;
	e->arg2 = arg2;
	__atomic_store_n(&ip->ip_windex, wi + 1, __ATOMIC_RELEASE);
	__atomic_or_fetch(&target->gd_ipimask, gd->gd_cpumask,
			  __ATOMIC_SEQ_CST);
	gd->gd_cnt.ipiq_count++;
	return wi + 1;
}

/* Is the ring above the high-water mark?  wi: windex, read in the
 * critical section. */
static inline bool ipiq_full(struct lwkt_ipiq *ip, uint32_t wi)
{
	return wi - ip->ip_rindex > IPIQ_HIGHWATER;
}

/*
 * The send's way out of its critical section: the common exit is one
 * decrement and one test of gd_reqflags (crit_exit_quick's), and the
 * rare one -- deferred interrupt work to run, or an unbalanced count --
 * is a call that hands the sequence number back, so that the fast path
 * keeps nothing across a call and needs no callee-saved registers.
 */
static __attribute__((noinline)) int ipiq_exit_slow(struct thread *td,
						    int seq)
{
	if (td->td_critcount < 0)
		crit_panic();
	lwkt_maybe_splz();
	return seq;
}

static inline int ipiq_exit(struct thread *td, int seq)
{
	__asm__ goto("subl $1, %0\n\t"
		     "jg %l[done]\n\t"
		     "js %l[slow]\n\t"
		     "testb %1, %%gs:%c2\n\t"
		     "jne %l[slow]"
		     :
		     : "m"(td->td_critcount), "i"(CRIT_DEFERRED_MASK),
		       "i"(GD_REQFLAGS)
		     : "memory", "cc"
		     : done, slow);
done:
	return seq;
slow:
	return ipiq_exit_slow(td, seq);
}

/* A send to this CPU: leave the send's critical section, then run the
 * call at once, in the caller's context as if it had called it. */
static int ipiq_send_self(struct thread *td, ipifunc3_t func, void *arg1,
			  int arg2)
{
	crit_exit_quick(td);
	func(arg1, arg2, NULL);
	return 0;
}

/*
 * The sends that leave the fast path, in its critical section: the ring
 * is above the high-water mark (wait for room), the target is this CPU or
 * not yet known to be running (ipiq_closed), or the target needs its IPI.
 * ipiq_send_slow takes the send's arguments first, in the registers they
 * arrived in, so that the fast path need not move them aside.  Out of line and called last, so the fast path stays a leaf.
 */
static __attribute__((noinline)) int
ipiq_send_slow(struct globaldata *target, ipifunc3_t func, void *arg1,
	       int arg2, struct globaldata *gd, struct lwkt_ipiq *ip)
{
	struct thread *td = gd->gd_curthread;
	int seq;

	if (ip == &ipiq_closed) {
		if (target == gd)
			return ipiq_send_self(td, func, arg1, arg2);
		KASSERT(target->gd_online, "IPIQ send to cpu %d, which is not "
			"running", target->gd_cpuid);
		ip = &ipiq_rings[gd->gd_cpuid][target->gd_cpuid];
		target->gd_ipiq_in[gd->gd_cpuid] = ip;
	}
	if (ipiq_full(ip, ip->ip_windex))
		ipiq_wait_room(gd, target, ip);
	seq = (int)ipiq_put(gd, target, ip, ip->ip_windex, func, arg1, arg2);
	ipiq_signal(gd, target);
	return ipiq_exit(td, seq);
}

static __attribute__((noinline)) int ipiq_signal_slow(
	struct globaldata *gd, struct globaldata *target, int seq)
{
	ipiq_signal(gd, target);
	return ipiq_exit(gd->gd_curthread, seq);
}


/* This CPU's id, widened for indexing by one %gs-relative load. */
static inline long ipiq_source(void)
{
	long id;

	__asm__ volatile("movslq %%gs:%c1, %0" : "=r"(id) : "i"(GD_CPUID));
	return id;
}

/*
 * Queue a call for target and signal it: the body of every active send.
 * Inline, so each entry point fills the slot straight from its arguments.
 * The common case -- room on the ring, target already signalled -- is a
 * leaf: a critical section, three stores and the windex store, the
 * locked OR, one counter and one load of gd_npoll.
 */
static inline __attribute__((always_inline)) int
ipiq_send_in(struct globaldata *target, ipifunc3_t func, void *arg1,
	     int arg2, bool entered)
{
	struct globaldata *gd = mycpu;
	struct lwkt_ipiq *ip;
	uint32_t wi;
	int seq;

	ip = target->gd_ipiq_in[ipiq_source()];	/* or ipiq_closed */
	if (!entered)
		crit_enter_quick(gd->gd_curthread);
	wi = ip->ip_windex;
	if (__predict_false(ipiq_full(ip, wi)))
		return ipiq_send_slow(target, func, arg1, arg2, gd, ip);
	seq = (int)ipiq_put(gd, target, ip, wi, func, arg1, arg2);
	if (__predict_false(__atomic_load_n(&target->gd_npoll,
					    __ATOMIC_RELAXED) == 0))
		return ipiq_signal_slow(gd, target, seq);
	/* Re-read rather than kept: one register fewer, so no frame. */
	return ipiq_exit(cpu_curthread(), seq);
}

/* The send, in a critical section of its own. */
static inline __attribute__((always_inline)) int
ipiq_send(struct globaldata *target, ipifunc3_t func, void *arg1, int arg2)
{
	return ipiq_send_in(target, func, arg1, arg2, false);
}

int lwkt_send_ipiq3(struct globaldata *target, ipifunc3_t func, void *arg1,
		    int arg2)
{
	return ipiq_send(target, func, arg1, arg2);
}

int lwkt_send_ipiq2(struct globaldata *target, ipifunc3_t func, void *arg1,
		    int arg2)
{
	return ipiq_send(target, func, arg1, arg2);
}

int lwkt_send_ipiq(struct globaldata *target, ipifunc1_t func, void *arg1)
{
	return ipiq_send(target, ipiq_func1(func), arg1, 0);
}

/* The caller's critical section is the send's: every way out of
 * ipiq_send_in leaves one level. */
int lwkt_send_ipiq_crit(struct globaldata *target, ipifunc1_t func,
			void *arg1)
{
	INVARIANT(crit_held(), "lwkt_send_ipiq_crit outside a critical "
		  "section; the send would leave one it never entered");
	return ipiq_send_in(target, ipiq_func1(func), arg1, 0, true);
}

int lwkt_send_ipiq_bycpu(int cpu, ipifunc1_t func, void *arg1)
{
	return lwkt_send_ipiq(globaldata_find(cpu), func, arg1);
}

int lwkt_send_ipiq3_passive(struct globaldata *target, ipifunc3_t func,
			    void *arg1, int arg2)
{
	struct thread *td = curthread;
	struct globaldata *gd = mycpu;
	struct lwkt_ipiq *ip;
	uint32_t seq;

	KASSERT(target != gd, "a passive IPIQ send to this CPU would never "
		"run: there is no tick to find it before the caller returns");
	ip = target->gd_ipiq_in[gd->gd_cpuid];
	if (ip->ip_windex - ip->ip_rindex >= IPIQ_PASSIVE_MAX)
		return lwkt_send_ipiq3(target, func, arg1, arg2);
	crit_enter_quick(td);
	seq = ipiq_put(gd, target, ip, ip->ip_windex, func, arg1, arg2);
	gd->gd_cnt.ipiq_passive++;
	crit_exit_quick(td);
	return (int)seq;
}

/* ----------------------------------------------------------------------- */
/* Receiving.                                                               */

/*
 * Run everything on the ring from source to us.  The slot is released
 * (rindex) before the call, so a callback may itself send; completion is
 * published (xindex) after it, and only by the outermost drain of this
 * ring: when that call returns, every call before rindex has returned
 * too, including those a nested drain ran on top of it.
 */
static void ipiq_drain_ring(struct globaldata *gd, struct lwkt_ipiq *ip)
{
	uint32_t wi = __atomic_load_n(&ip->ip_windex, __ATOMIC_ACQUIRE);

	ip->ip_draining++;
	while (ip->ip_rindex != wi) {
		uint32_t ri = ip->ip_rindex;
		struct ipiq_entry e = ip->ip_info[ri & IPIQ_MASK];

		__atomic_store_n(&ip->ip_rindex, ri + 1, __ATOMIC_RELEASE);
		e.func(e.arg1, e.arg2, NULL);
		gd->gd_cnt.ipiq_received++;
		if (ip->ip_draining == 1)
			__atomic_store_n(&ip->ip_xindex, ip->ip_rindex,
					 __ATOMIC_RELEASE);
		wi = __atomic_load_n(&ip->ip_windex, __ATOMIC_ACQUIRE);
	}
	ip->ip_draining--;
}

/* Enter and leave IPIQ processing: callbacks run in a critical section
 * with the nesting level raised, so they cannot block. */
static inline void ipiq_processing_enter(struct globaldata *gd)
{
	crit_enter_quick(gd->gd_curthread);
	gd->gd_processing_ipiq++;
	gd->gd_intr_nesting_level++;
}

static inline void ipiq_processing_leave(struct globaldata *gd)
{
	gd->gd_intr_nesting_level--;
	gd->gd_processing_ipiq--;
	crit_exit_noyield(gd->gd_curthread);
}

void lwkt_process_ipiq(void)
{
	struct globaldata *gd = mycpu;
	uint64_t mask;

	ipiq_processing_enter(gd);
	while ((mask = __atomic_exchange_n(&gd->gd_ipimask, 0,
					   __ATOMIC_ACQ_REL)) != 0) {
		while (mask != 0) {
			int src = __builtin_ctzl(mask);

			mask &= mask - 1;
			ipiq_drain_ring(gd, &ipiq_rings[src][gd->gd_cpuid]);
		}
	}
	ipiq_processing_leave(gd);
}

/*
 * A wait inside a callback: drain every ring that holds calls for us.
 * The gd_ipimask bits cannot be trusted here, because the drain below us
 * on the stack took them before it started -- its own ring's later calls,
 * or a ring whose sender is blocked waiting for us, would never be seen.
 */
static void ipiq_drain_nested(struct globaldata *gd)
{
	ipiq_processing_enter(gd);
	for (int src = 0; src < ncpus; src++) {
		struct lwkt_ipiq *ip = &ipiq_rings[src][gd->gd_cpuid];

		if (ip->ip_rindex !=
		    __atomic_load_n(&ip->ip_windex, __ATOMIC_ACQUIRE))
			ipiq_drain_ring(gd, ip);
	}
	ipiq_processing_leave(gd);
}

bool lwkt_ipiq_done(struct globaldata *target, int seq)
{
	struct lwkt_ipiq *ip = target->gd_ipiq_in[mycpuid];

	if (target == mycpu || seq == 0)
		return true;
	return (int32_t)(__atomic_load_n(&ip->ip_xindex, __ATOMIC_ACQUIRE) -
			 (uint32_t)seq) >= 0;
}

void lwkt_wait_ipiq(struct globaldata *target, int seq)
{
	struct globaldata *gd = mycpu;
	bool limited = false;
	uint64_t rf;

	if (lwkt_ipiq_done(target, seq))
		return;
	rf = read_rflags();
	cpu_enable_intr();
	while (!lwkt_ipiq_done(target, seq))
		ipiq_poll_while_waiting(gd, &limited);
	write_rflags(rf);
}

/* The IPI: acknowledge, and let splz() drain (now or at crit_exit). */
static void ipiq_intr(struct trapframe *tf __unused)
{
	lapic_eoi();
	intr_hard_done(RQF_IPIQ);
}

/* Point every entry of gd's table of incoming rings at ipiq_closed. */
static void ipiq_close_table(struct globaldata *gd)
{
	for (int source = 0; source < MAXCPU; source++)
		gd->gd_ipiq_in[source] = &ipiq_closed;
}

/* CPU 0 comes first and closes every CPU's table, so that a send to a
 * CPU that never starts still meets the check; each other CPU closes its
 * own again after its globaldata is cleared (kern/mp_machdep.c). */
void lwkt_ipiq_gdinit(struct globaldata *gd)
{
	if (gd->gd_cpuid != 0) {
		ipiq_close_table(gd);
		return;
	}
	for (int cpu = 0; cpu < MAXCPU; cpu++)
		ipiq_close_table(&globaldata_array[cpu]);
}

void lwkt_ipiq_init(void)
{
	trap_set_handler(IPI_VECTOR_IPIQ, ipiq_intr);
}

/* ----------------------------------------------------------------------- */
/* cpusync: run a function on a set of CPUs and wait for all of them.      */

struct cpusync {
	ipifunc1_t func;
	void *arg;
	volatile int remaining;
};

static void cpusync_remote(void *arg)
{
	struct cpusync *cs = arg;

	cs->func(cs->arg);
	__atomic_sub_fetch(&cs->remaining, 1, __ATOMIC_RELEASE);
}

void lwkt_cpusync(uint64_t mask, ipifunc1_t func, void *arg)
{
	struct cpusync cs = { func, arg, 0 };
	struct globaldata *gd = mycpu;
	bool limited = false;
	uint64_t others = mask & smp_active_mask & ~gd->gd_cpumask;
	uint64_t rf;

	KASSERT(gd->gd_processing_ipiq == 0, "lwkt_cpusync from an IPI "
		"callback would wait for CPUs that may be waiting for us");
	for (uint64_t m = others; m != 0; m &= m - 1)
		cs.remaining++;
	for (uint64_t m = others; m != 0; m &= m - 1)
		lwkt_send_ipiq(globaldata_find(__builtin_ctzl(m)),
			       cpusync_remote, &cs);
	if (mask & gd->gd_cpumask)
		func(arg);
	rf = read_rflags();
	cpu_enable_intr();
	while (__atomic_load_n(&cs.remaining, __ATOMIC_ACQUIRE) != 0)
		ipiq_poll_while_waiting(gd, &limited);
	write_rflags(rf);
}

void lwkt_ipiq_stats(struct ipiq_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < ncpus; i++) {
		struct lwkt_counters *c = &globaldata_array[i].gd_cnt;

		st->count += c->ipiq_count;
		st->ipis += c->ipiq_ipis;
		/* Every active send raises an IPI or avoids one. */
		st->avoided += c->ipiq_count - c->ipiq_passive - c->ipiq_ipis;
		st->fifofull += c->ipiq_fifofull;
		st->passive += c->ipiq_passive;
		st->received += c->ipiq_received;
		st->nest_limited += c->ipiq_nest_limited;
	}
}
