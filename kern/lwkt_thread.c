/*
 * lwkt_thread.c - LWKT threads and the per-CPU scheduler.
 *
 * The idea (DragonFly's): every CPU runs its own scheduler over the threads
 * it owns, and no other CPU ever touches that scheduler.  Scheduling a
 * thread of another CPU is a function call sent to that CPU through its
 * IPIQ (lwkt_ipiq.c); the owner then does it locally.  The run queue,
 * the thread list and the reaper therefore need no lock at all -- only a
 * critical section against this CPU's own interrupts.
 *
 * The run queue (mycpu->gd_tdrunq) is one list sorted by priority, highest
 * first, FIFO among equals.  The running thread STAYS on the queue while it
 * runs, normally at its head:
 *
 *     gd_tdrunq:  [ithread 28] -> [A 12 running] -> [B 12] -> [C 12]
 *
 * lwkt_switch() runs the head.  A thread blocks by taking itself off the
 * queue (lwkt_deschedule_self) and calling lwkt_switch().  Equal-priority
 * threads share the CPU by rotation once per clock tick: the tick moves
 * the running thread behind its equals and asks for a reschedule, which
 * the thread honours at its next lwkt_yield().  This is DragonFly's modern
 * rule, chosen over its original 32 queues + bitmap because one sorted
 * list is easier to draw, to check and to teach, and the queues are short
 * (docs/lwkt.md has the comparison).
 *
 * Tokens are per-thread and held only while the thread runs: lwkt_switch()
 * releases all the outgoing thread's tokens and acquires all of the
 * incoming thread's before it runs (lwkt_token.c).  A thread whose tokens
 * are busy is skipped in favour of the next runnable one.
 *
 * Preemption happens in one place only: when an interrupt thread (one
 * with td_preemptable set) is scheduled on its own CPU while the current
 * thread is not in a critical section, holds no spinlock and is of lower
 * priority, lwkt_preempt() switches straight to it.  The preempted thread
 * is pinned (TDF_PREEMPT_LOCK) and keeps its tokens; when the interrupt
 * thread blocks, lwkt_switch() returns straight to it.
 *
 * Every thread starts in a critical section (td_critcount = 1) that
 * lwkt_kthread_start() leaves just before calling the thread's function.
 * An exiting thread parks itself in gd_freetd; its stack is reused or
 * freed by the next exit or creation on that CPU, after it is certainly
 * off the CPU ("lazy reaping").  A thread someone holds a handle to is
 * kept until lwkt_thread_join() lets go of it too, so a handle never
 * names a newer thread that reused the structure.
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/ipiq.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/spinlock.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/token.h>
#include <kern/intr.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>
#include <machine/cpufunc.h>

void lwkt_setcpu_remote(void *arg);

_Static_assert(__builtin_offsetof(struct thread, td_sp) == 96,
	       "kern/lwkt_switch.S TD_SP is stale");

#define RFLAGS_RESERVED	0x2	/* bit 1 of RFLAGS always reads 1 (SDM vol. 1, 3.4.3) */

struct globaldata globaldata_array[MAXCPU];
int ncpus = 1;
uint64_t smp_active_mask = 1;

static struct thread thread0;		/* the boot context of CPU 0 */
extern char boot_stack[], boot_stack_top[];

static volatile uint64_t threads_alive;	/* created and not fully exited */
static volatile uint64_t threads_exiting; /* in lwkt_exit, not yet off-CPU */

/* ----------------------------------------------------------------------- */
/* Thread structures and stacks.                                            */

/*
 * Thread structures come from a fixed pool: a thread is needed before
 * kmalloc exists (the idle threads), and a fixed pool makes "no thread
 * leaked" a simple count.  Stacks come from vm_kstack_alloc(), which puts
 * an unmapped guard page below each, so an overflow faults at once with
 * the thread's name instead of corrupting a neighbour.  The pool is shared
 * by all CPUs behind one spinlock, taken only at creation and reaping.
 */
#define LWKT_POOL_THREADS 200

static struct thread thread_pool[LWKT_POOL_THREADS];
static bool pool_used[LWKT_POOL_THREADS];
static struct spinlock pool_lock = SPINLOCK_INITIALIZER("lwkt pool");
static uint64_t stacks_in_use;

/* Take a free pool slot and give it a stack.  NULL if none is free or
 * there is no memory for the stack. */
static struct thread *pool_alloc(void)
{
	uint64_t rf = spin_lock_irqsave(&pool_lock);
	struct thread *td = NULL;

	for (int i = 0; i < LWKT_POOL_THREADS && td == NULL; i++) {
		if (!pool_used[i]) {
			pool_used[i] = true;
			td = &thread_pool[i];
		}
	}
	spin_unlock_irqrestore(&pool_lock, rf);
	if (td == NULL)
		return NULL;
	td->td_kstack = vm_kstack_alloc(LWKT_STACK_SIZE, "thread");
	td->td_kstack_size = LWKT_STACK_SIZE;
	if (td->td_kstack == NULL) {	/* no memory: lwkt_create's ENOMEM */
		rf = spin_lock_irqsave(&pool_lock);
		pool_used[td - thread_pool] = false;
		spin_unlock_irqrestore(&pool_lock, rf);
		return NULL;
	}
	__atomic_add_fetch(&stacks_in_use, 1, __ATOMIC_SEQ_CST);
	return td;
}

/*
 * Give td's slot and stack back.  Only for a thread that is certainly off
 * every CPU: never started, or parked in gd_freetd after its exit switch.
 */
static void pool_free(struct thread *td)
{
	long i = td - thread_pool;
	uint64_t rf;

	KASSERT(i >= 0 && i < LWKT_POOL_THREADS && pool_used[i],
		"freeing thread %p that the pool never handed out", td);
	vm_kstack_free(td->td_kstack);
	td->td_kstack = NULL;
	__atomic_sub_fetch(&stacks_in_use, 1, __ATOMIC_SEQ_CST);
	rf = spin_lock_irqsave(&pool_lock);
	pool_used[i] = false;
	spin_unlock_irqrestore(&pool_lock, rf);
}

static void lwkt_reap_parked(void);

/*
 * Let go of td for one of its two holders after it exited: its CPU (the
 * gd_freetd slot, TDF_MP_UNPARKED) or its joiner (TDF_MP_COLLECTED).
 * The holder that lets go second gives the structure back to the pool.
 */
static void lwkt_release_exited(struct thread *td, uint32_t mine)
{
	uint32_t other = mine ^ (TDF_MP_COLLECTED | TDF_MP_UNPARKED);
	uint32_t old = __atomic_fetch_or(&td->td_mpflags, mine,
					 __ATOMIC_ACQ_REL);

	KASSERT((old & mine) == 0, "thread \"%s\" let go twice (flag %#x): "
		"a thread is joined at most once", td->td_comm, mine);
	if (old & other)
		pool_free(td);
}

/*
 * Threads alive.  First visit every CPU (lwkt_reap_parked migrates us
 * there, behind the runnable threads of our priority): a thread that has
 * finished its work but not yet exited -- a test that waits for a
 * "done" counter rather than joining -- gets to run its lwkt_exit before
 * we count.  Then let exits in progress on other CPUs finish (bounded).
 * Thread context; may switch.
 */
uint64_t lwkt_thread_count(void)
{
	lwkt_reap_parked();
	for (int spin = 0; threads_exiting != 0 && spin < 1000000; spin++)
		cpu_pause();
	return threads_alive;
}

/*
 * Free every CPU's parked exited thread, so that counts of stacks and
 * pages return to their baseline.  The caller visits each CPU in turn
 * (a stack must not be freed from an IPI callback: freeing may need a
 * TLB shootdown, which waits for other CPUs).  Thread context.
 */
static void lwkt_reap_parked(void)
{
	int home = mycpuid;

	for (int i = 0; i < ncpus; i++) {
		struct globaldata *gd;
		struct thread *td;

		lwkt_migratecpu(i);
		crit_enter();
		gd = mycpu;
		td = gd->gd_freetd;
		if (td != NULL && (td->td_mpflags & TDF_MP_EXITSIG)) {
			gd->gd_freetd = NULL;
			lwkt_release_exited(td, TDF_MP_UNPARKED);
		}
		crit_exit();
	}
	lwkt_migratecpu(home);
}

/*
 * Kernel stacks in use.  Parked exited threads still own theirs, so the
 * count is taken after reaping them on every CPU.  Thread context.
 */
uint64_t lwkt_stack_count(void)
{
	lwkt_thread_count();
	lwkt_reap_parked();	/* the exits just counted parked their threads */
	return stacks_in_use;
}

/*
 * Leak checks around every test suite.  Registered here, in kern/, so
 * they run before the page count (vm/): reaping parked threads frees
 * their stacks' pages first.
 */
KTEST_LEAKCHECK(lwkt_stacks, "kernel stacks", lwkt_stack_count, NULL);
KTEST_LEAKCHECK(lwkt_threads, "threads", lwkt_thread_count, NULL);

/* ----------------------------------------------------------------------- */
/* Per-CPU setup.                                                           */

/*
 * The machine-independent part of a CPU's globaldata: identity, empty run
 * and thread queues, and its outgoing IPIQ rings.  Runs once per CPU,
 * before that CPU schedules anything (kern/mp_machdep.c for the APs).
 */
void mi_gdinit(struct globaldata *gd, int cpuid)
{
	gd->gd_self = gd;
	gd->gd_cpuid = cpuid;
	gd->gd_cpumask = 1UL << cpuid;
	TAILQ_INIT(&gd->gd_tdrunq);
	TAILQ_INIT(&gd->gd_tdallq);
	lwkt_ipiq_gdinit(gd);
}

/* Fill in a thread structure owned by gd; it starts in a critical section. */
static void lwkt_init_thread(struct thread *td, struct globaldata *gd,
			     uint32_t flags, const char *name)
{
	void *stack = td->td_kstack;
	size_t size = td->td_kstack_size;

	memset(td, 0, sizeof(*td));
	td->td_kstack = stack;
	td->td_kstack_size = size;
	td->td_gd = gd;
	td->td_pri = TDPRI_KERN_DAEMON;
	td->td_critcount = 1;
	td->td_flags = flags & (TDF_NOSTART | TDF_SYSTHREAD | TDF_INTTHREAD);
	td->td_toks_stop = td->td_toks_array;
	td->td_oncpu = -1;
	strlcpy(td->td_comm, name, sizeof(td->td_comm));
	if (stack != NULL && td != &thread0)
		vm_kstack_set_name(stack, td->td_comm);
	__atomic_add_fetch(&threads_alive, 1, __ATOMIC_SEQ_CST);
}

/*
 * Build the first switch frame (kern/lwkt_switch.S) at the top of the
 * stack: RFLAGS with interrupts off, a zero r15, a zero rbp (the end of
 * every backtrace), and cpu_kthread_restore as the return address, leaving the
 * stack 16-byte aligned at the first call as the ABI requires.
 */
static void lwkt_build_frame(struct thread *td)
{
	uint64_t top = (uint64_t)td->td_kstack + td->td_kstack_size;
	uint64_t *sp = (uint64_t *)(top - 16);

	*--sp = (uint64_t)cpu_kthread_restore;
	*--sp = 0;				/* rbp */
	*--sp = 0;				/* r15 */
	*--sp = RFLAGS_RESERVED;
	td->td_sp = (uint64_t)sp;
}

/*
 * Boot CPU, first thing in kmain: the boot stack becomes thread0, running
 * and at the head of CPU 0's run queue, outside any critical section.
 */
void lwkt_init_thread0(void)
{
	struct globaldata *gd = &globaldata_array[0];
	struct thread *td = &thread0;

	mi_gdinit(gd, 0);
	wrmsr(MSR_GS_BASE, (uint64_t)gd);
	td->td_kstack = boot_stack;
	td->td_kstack_size = boot_stack_top - boot_stack;
	lwkt_init_thread(td, gd, 0, "thread0");
	td->td_critcount = 0;			/* already running */
	td->td_flags |= TDF_RUNNING;
	td->td_oncpu = 0;
	gd->gd_curthread = td;
	TAILQ_INSERT_TAIL(&gd->gd_tdallq, td, td_allq);
	TAILQ_INSERT_TAIL(&gd->gd_tdrunq, td, td_threadq);
	td->td_flags |= TDF_RUNQ;
	gd->gd_tdrunqcount = 1;
	gd->gd_online = true;
}

/* CPU 0's idle thread, once kernel stacks can be allocated. */
void lwkt_init_bsp(void)
{
	lwkt_alloc_idlethread(&globaldata_array[0]);
}

static void lwkt_idle_entry(void *arg __unused)
{
	lwkt_idle_loop();
}

/*
 * Give gd its idle thread.  It is never on the run queue: lwkt_switch
 * falls back to it when the queue is empty.  For an AP its stack is also
 * the stack the CPU boots on.
 */
struct thread *lwkt_alloc_idlethread(struct globaldata *gd)
{
	struct thread *td = pool_alloc();
	char name[TD_COMM_SIZE];

	KASSERT(td != NULL, "no thread for cpu %d's idle thread: raise "
		"LWKT_POOL_THREADS", gd->gd_cpuid);
	ksnprintf(name, sizeof(name), "idle %d", gd->gd_cpuid);
	lwkt_init_thread(td, gd, TDF_SYSTHREAD, name);
	td->td_pri = TDPRI_IDLE_THREAD;
	td->td_func = lwkt_idle_entry;
	lwkt_build_frame(td);
	TAILQ_INSERT_TAIL(&gd->gd_tdallq, td, td_allq);
	gd->gd_idlethread = td;
	return td;
}

/*
 * The idle thread: run anything runnable; otherwise run deferred work;
 * otherwise zero a free page for the VM's pre-zeroed pool (one page,
 * then look again: work that arrives waits for one page at most);
 * otherwise halt until an interrupt.  "sti; hlt" is one step: STI delays
 * interrupts until after the next instruction (SDM vol. 2B, STI), so an
 * interrupt that arrives after the check still ends the HLT.
 */
void lwkt_idle_loop(void)
{
	struct globaldata *gd = mycpu;

	for (;;) {
		if (gd->gd_tdrunqcount != 0) {
			lwkt_switch();
			continue;
		}
		if (vm_page_zero_idle())
			continue;
		cpu_disable_intr();
		if (gd->gd_reqflags & (RQF_IDLECHECK_MASK | RQF_AST_LWKT_RESCHED)) {
			cpu_enable_intr();
			splz();
			continue;
		}
		if (gd->gd_tdrunqcount == 0) {
			uint64_t t0 = rdtsc();

			__asm__ volatile("sti; hlt" ::: "memory");
			gd->gd_cnt.idle_tsc += rdtsc() - t0;
		}
		cpu_enable_intr();
	}
}

/* ----------------------------------------------------------------------- */
/* The run queue.  Owner CPU, critical section.                             */

/*
 * Ask this CPU to switch at its next lwkt_yield (or keep its idle loop
 * from halting).  Atomic: interrupt handlers set gd_reqflags bits too.
 */
static inline void need_lwkt_resched(struct globaldata *gd)
{
	__atomic_or_fetch(&gd->gd_reqflags, RQF_AST_LWKT_RESCHED,
			  __ATOMIC_RELAXED);
}

/* Insert td behind every thread of equal or higher priority. */
static void _lwkt_enqueue(struct thread *td)
{
	struct globaldata *gd = td->td_gd;
	struct thread *xtd;

	if (td->td_flags & (TDF_RUNQ | TDF_MIGRATING))
		return;
	TAILQ_FOREACH(xtd, &gd->gd_tdrunq, td_threadq)
		if (xtd->td_pri < td->td_pri)
			break;
	if (xtd == NULL)
		TAILQ_INSERT_TAIL(&gd->gd_tdrunq, td, td_threadq);
	else
		TAILQ_INSERT_BEFORE(xtd, td, td_threadq);
	td->td_flags |= TDF_RUNQ;
	gd->gd_tdrunqcount++;
	if (TAILQ_FIRST(&gd->gd_tdrunq) == td && td != gd->gd_curthread)
		need_lwkt_resched(gd);
}

/* Take td off its CPU's run queue (no-op if it is not on it). */
static inline void _lwkt_dequeue(struct thread *td)
{
	struct globaldata *gd = td->td_gd;

	if ((td->td_flags & TDF_RUNQ) == 0)
		return;
	TAILQ_REMOVE(&gd->gd_tdrunq, td, td_threadq);
	td->td_flags &= ~TDF_RUNQ;
	gd->gd_tdrunqcount--;
}

/* ----------------------------------------------------------------------- */
/* Switching.                                                               */

/*
 * Runs on the new thread right after every switch: the old thread is now
 * off this CPU, so its stack may be reused, a migration may complete and
 * an exit may be signalled.  Inline in lwkt_switch (the common case is
 * two stores); the rare migration and exit work is out of line.
 */
static __attribute__((noinline)) void lwkt_switch_return_slow(
	struct thread *otd)
{
	uint32_t flags = otd->td_flags;

	otd->td_flags = flags & ~TDF_RUNNING;
	__atomic_store_n(&otd->td_oncpu, -1, __ATOMIC_RELEASE);
	if (flags & TDF_EXITING) {
		__atomic_or_fetch(&otd->td_mpflags, TDF_MP_EXITSIG,
				  __ATOMIC_SEQ_CST);
		__atomic_sub_fetch(&threads_alive, 1, __ATOMIC_SEQ_CST);
		__atomic_sub_fetch(&threads_exiting, 1, __ATOMIC_SEQ_CST);
		wakeup(otd);		/* lwkt_thread_join */
	} else if ((flags & TDF_PREEMPT_LOCK) == 0) {
		/*
		 * Hand the thread over here, the first moment it is known
		 * to be off this CPU: from now on td_gd names the new CPU,
		 * so nothing on this one touches the thread's per-CPU state
		 * (its run queue entry, its message ports) again.  What is
		 * meant for it goes to the new CPU and waits there until
		 * lwkt_setcpu_remote makes it runnable.
		 */
		__atomic_store_n(&otd->td_gd, otd->td_migrate_gd,
				 __ATOMIC_RELEASE);
		lwkt_send_ipiq(otd->td_migrate_gd, lwkt_setcpu_remote, otd);
	}
}

/* The common case: clear RUNNING (and, checked kernel, td_oncpu). */
static inline void _lwkt_switch_return(struct thread *otd)
{
	if (__predict_false(*(volatile uint32_t *)&otd->td_flags &
			    (TDF_MIGRATING | TDF_EXITING))) {
		lwkt_switch_return_slow(otd);
		return;
	}
	otd->td_flags &= ~TDF_RUNNING;
	if (INVARIANTS_ON)
		__atomic_store_n(&otd->td_oncpu, -1, __ATOMIC_RELEASE);
}

void lwkt_switch_return(struct thread *otd)
{
	_lwkt_switch_return(otd);
}

/* The checks of lwkt_switch, out of line: each panic explains itself. */
static __attribute__((noinline)) void lwkt_switch_check(void)
{
	struct globaldata *gd = mycpu;
	struct thread *td = gd->gd_curthread;

	if (gd->gd_intr_nesting_level != 0 && !panicking())
		panic("lwkt_switch: called from an interrupt handler or IPI "
		      "callback (nesting level %d) in thread \"%s\"; such "
		      "code runs on borrowed time and must not block -- "
		      "schedule a thread to do the blocking work instead",
		      gd->gd_intr_nesting_level, td->td_comm);
	if (gd->gd_spinlocks != 0)
		panic("lwkt_switch: thread \"%s\" blocks while holding %d "
		      "spinlock(s); a spinlock may only be held for a few "
		      "instructions -- use an LWKT token to hold something "
		      "across a block", td->td_comm, gd->gd_spinlocks);
}

/* The thread ntd was claimed by another CPU: say so (out of line). */
static void __noreturn lwkt_switch_twice_panic(struct globaldata *gd,
						struct thread *ntd, int was)
{
	panic("lwkt_switch: thread \"%s\" is already running on cpu %d "
	      "while cpu %d switches to it; only the owning CPU may schedule "
	      "or run a thread", ntd->td_comm, was, gd->gd_cpuid);
}

/*
 * Claim ntd for this CPU: td_oncpu must be -1 (nowhere) before.  A thread
 * runs on at most one CPU because only its owner ever queues it or
 * switches to it, and the owner changes only once the thread is off its
 * old CPU (lwkt_switch_return_slow); the checked kernel asserts it on
 * every switch with this exchange.
 */
static inline void lwkt_claim(struct globaldata *gd, struct thread *ntd)
{
	int was;

	if (!INVARIANTS_ON)
		return;
	was = __atomic_exchange_n(&ntd->td_oncpu, gd->gd_cpuid,
				  __ATOMIC_ACQ_REL);
	if (__predict_false(was != -1))
		lwkt_switch_twice_panic(gd, ntd, was);
}

/*
 * Hand the CPU from td (the running thread) to ntd.  That ntd runs
 * nowhere else, is this CPU's and was switched out inside a critical
 * section is what the run queue guarantees (only the owner queues a
 * thread; every switch happens in one), so the checked kernel asserts
 * them and the production kernel trusts them.
 */
static inline __attribute__((always_inline)) void
lwkt_switch_to(struct globaldata *gd, struct thread *td, struct thread *ntd)
{
	lwkt_claim(gd, ntd);
	INVARIANT(ntd->td_gd == gd, "cpu %d switching to thread \"%s\" "
		  "owned by cpu %d", gd->gd_cpuid, ntd->td_comm,
		  ntd->td_gd->gd_cpuid);
	INVARIANT(ntd->td_critcount > 0, "thread \"%s\" was switched out "
		  "outside a critical section", ntd->td_comm);
	ntd->td_flags |= TDF_RUNNING;
	ntd->td_switches++;
	gd->gd_cnt.v_swtch++;
	/* From or to a user process: page tables, FPU, kernel stack top. */
	if (__predict_false(((uintptr_t)td->td_proc |
			     (uintptr_t)ntd->td_proc) != 0))
		cpu_user_switch(td, ntd);
	_lwkt_switch_return(cpu_lwkt_switch_call(ntd));
}

/*
 * Pick the thread to run: the head of the run queue if its tokens can be
 * had, else the first runnable thread whose tokens can, else idle.  The
 * slow part: the head holds tokens, or nothing is runnable.
 */
static __attribute__((noinline)) struct thread *
lwkt_pick_slow(struct globaldata *gd, struct thread *td)
{
	struct thread *ntd = TAILQ_FIRST(&gd->gd_tdrunq);

	for (int spinning = 0;; spinning++) {
		if (ntd == NULL)
			return gd->gd_idlethread;
		if (ntd->td_toks_stop == ntd->td_toks_array ||
		    lwkt_getalltokens(ntd, spinning > LWKT_SPIN_SORTED))
			return ntd;
		gd->gd_cnt.v_token_colls++;
		ntd = TAILQ_NEXT(ntd, td_threadq);
		if (ntd != NULL)
			continue;
		/* Everything runnable is waiting for tokens. */
		if ((td->td_flags & TDF_RUNQ) == 0 || td == gd->gd_idlethread) {
			need_lwkt_resched(gd);
			return gd->gd_idlethread;
		}
		cpu_pause();
		splz_check();
		ntd = TAILQ_FIRST(&gd->gd_tdrunq);
	}
}

/* The common case inline: a head of the queue that needs no tokens. */
static inline struct thread *lwkt_pick(struct globaldata *gd,
				       struct thread *td)
{
	struct thread *ntd = TAILQ_FIRST(&gd->gd_tdrunq);

	if (__predict_true(ntd != NULL &&
			   ntd->td_toks_stop == ntd->td_toks_array))
		return ntd;
	return lwkt_pick_slow(gd, td);
}

/* lwkt_switch_crit_exit's way out when gd_reqflags has work: run it. */
static __attribute__((noinline)) void lwkt_switch_splz(struct thread *td)
{
	if (td->td_critcount == 0)
		lwkt_maybe_splz();
	else
		splz_check();
}

/*
 * Leave lwkt_switch's critical section and run any interrupt work that
 * arrived meanwhile -- even when the caller's own critical section goes
 * on, since lwkt_switch never runs at a raised nesting level.  One
 * decrement, one test of gd_reqflags, whatever the depth.
 */
static inline void lwkt_switch_crit_exit(struct thread *td)
{
	__asm__ goto("subl $1, %0\n\t"
		     "js %l[unbalanced]\n\t"
		     "testb %1, %%gs:%c2\n\t"
		     "jne %l[deferred]"
		     :
		     : "m"(td->td_critcount), "i"(CRIT_DEFERRED_MASK),
		       "i"(GD_REQFLAGS)
		     : "memory", "cc"
		     : unbalanced, deferred);
	return;
unbalanced:
	crit_panic();
deferred:
	lwkt_switch_splz(td);
}

/*
 * The scheduler (contract in kern/thread.h).  In order: refuse to run
 * where switching is illegal, release the outgoing thread's tokens,
 * clear the reschedule request, choose (the preempted thread if we are a
 * preemptor that blocks, else lwkt_pick), switch, and on the way back run
 * any interrupt work that arrived meanwhile.
 */
void lwkt_switch(void)
{
	struct globaldata *gd = mycpu;
	struct thread *td = gd->gd_curthread;
	struct thread *ntd;

	/* A drain of IPIQ messages always raises the nesting level too. */
	INVARIANT(gd->gd_processing_ipiq == 0 ||
		  gd->gd_intr_nesting_level != 0,
		  "cpu %d drains IPIQ messages at nesting level 0",
		  gd->gd_cpuid);
	if (__predict_false(gd->gd_noswitch != 0))
		lwkt_switch_check();
	crit_enter_quick(td);
	if (td->td_toks_stop != td->td_toks_array)
		lwkt_relalltokens(td);
	__atomic_and_fetch(&gd->gd_reqflags, ~RQF_AST_LWKT_RESCHED,
			   __ATOMIC_RELAXED);
	if (__predict_false(td->td_preempted != NULL)) {
		/* A preempting thread blocks: straight back to its victim. */
		ntd = td->td_preempted;
		td->td_preempted = NULL;
		ntd->td_flags |= TDF_PREEMPT_DONE;
		need_lwkt_resched(gd);
	} else {
		ntd = lwkt_pick(gd, td);
	}
	if (ntd != td) {
		lwkt_switch_to(gd, td, ntd);
		/* Registers are lost across the switch: reload from %gs. */
		td = curthread;
	}
	lwkt_switch_crit_exit(td);
}

/*
 * May lwkt_handoff take its short way?  Only when the result is the one
 * lwkt_schedule(ntd) + lwkt_deschedule_self() + lwkt_switch() would give:
 * switching is legal here, neither thread holds tokens, td is no
 * preemptor owed a return, ntd is a waiting thread of this CPU (not the
 * idle thread, not queued, not moving, no interrupt thread), and once td
 * is off the run queue nothing runnable has ntd's priority or better --
 * so ntd would be the head, and lwkt_pick would choose it.
 */
static inline bool lwkt_handoff_ok(struct globaldata *gd, struct thread *td,
				   struct thread *ntd)
{
	struct thread *head = TAILQ_FIRST(&gd->gd_tdrunq);

	if (gd->gd_noswitch != 0 ||
	    td->td_toks_stop != td->td_toks_array || td->td_preempted != NULL ||
	    ntd->td_gd != gd || ntd == gd->gd_idlethread ||
	    (ntd->td_flags & (TDF_RUNQ | TDF_MIGRATING)) != 0 ||
	    ntd->td_toks_stop != ntd->td_toks_array ||
	    ntd->td_preemptable != NULL)
		return false;
	if (head == td)
		head = TAILQ_NEXT(td, td_threadq);
	return head == NULL || head->td_pri < ntd->td_pri;
}

/*
 * ntd takes td's place at the head of the run queue: the removal of the
 * head and an insertion there, in one.  td is the head and queued.
 */
static inline void lwkt_replace_head(struct globaldata *gd, struct thread *td,
				     struct thread *ntd)
{
	struct thread *next = TAILQ_NEXT(td, td_threadq);

	ntd->td_threadq.tqe_next = next;
	if (next != NULL)
		next->td_threadq.tqe_prev = &ntd->td_threadq.tqe_next;
	else
		gd->gd_tdrunq.tqh_last = &ntd->td_threadq.tqe_next;
	gd->gd_tdrunq.tqh_first = ntd;
	ntd->td_threadq.tqe_prev = &gd->gd_tdrunq.tqh_first;
	td->td_flags &= ~TDF_RUNQ;
	ntd->td_flags |= TDF_RUNQ;
}

/*
 * Block the running thread and run ntd, a thread of this CPU that waits
 * for what the caller has just done (kern/thread.h).  The short way puts
 * ntd at the head of the run queue in td's place and switches to it
 * without a pick: when td is the head (as it is unless the tick rotated
 * it), one replacement; else one list removal and one insertion.
 */
void lwkt_handoff(struct thread *ntd)
{
	struct globaldata *gd = mycpu;
	struct thread *td = gd->gd_curthread;

	crit_enter_quick(td);
	if (__predict_false(!lwkt_handoff_ok(gd, td, ntd))) {
		lwkt_schedule(ntd);
		lwkt_deschedule_self(td);
		lwkt_switch();
		crit_exit_quick(td);
		return;
	}
	if (__predict_true(TAILQ_FIRST(&gd->gd_tdrunq) == td)) {
		lwkt_replace_head(gd, td, ntd);
	} else {
		_lwkt_dequeue(td);
		TAILQ_INSERT_HEAD(&gd->gd_tdrunq, ntd, td_threadq);
		ntd->td_flags |= TDF_RUNQ;
		gd->gd_tdrunqcount++;
	}
	__atomic_and_fetch(&gd->gd_reqflags, ~RQF_AST_LWKT_RESCHED,
			   __ATOMIC_RELAXED);
	lwkt_switch_to(gd, td, ntd);
	lwkt_switch_crit_exit(curthread);
}

/* A new thread's first C code (from cpu_kthread_restore). */
void lwkt_kthread_start(struct thread *otd) __noreturn;
void lwkt_kthread_start(struct thread *otd)
{
	struct thread *td = curthread;

	lwkt_switch_return(otd);
	cpu_enable_intr();
	crit_exit_quick(td);
	td->td_func(td->td_arg);
	lwkt_exit();
}

/*
 * Run deferred interrupt work, then switch if the scheduler asked for it
 * (the tick rotated us behind an equal, or a better thread is runnable).
 * Without a request it costs a few instructions and never switches.
 */
void lwkt_yield(void)
{
	if (cpu_reqflags() & RQF_IDLECHECK_MASK)
		splz();
	if (cpu_reqflags() & RQF_AST_LWKT_RESCHED)
		lwkt_switch();
}

/*
 * Once per tick (kern_clock.c): rotate the running thread behind the
 * threads of its own priority, so equals share the CPU; a better thread
 * at the head always gets a reschedule request.
 */
void lwkt_schedulerclock(struct globaldata *gd)
{
	struct thread *td = gd->gd_curthread;
	struct thread *next;

	if ((td->td_flags & TDF_RUNQ) == 0 || td->td_preempted != NULL ||
	    (td->td_flags & TDF_PREEMPT_LOCK))
		return;
	if (TAILQ_FIRST(&gd->gd_tdrunq) != td) {
		need_lwkt_resched(gd);
		return;
	}
	next = TAILQ_NEXT(td, td_threadq);
	if (next == NULL || next->td_pri != td->td_pri)
		return;
	_lwkt_dequeue(td);
	_lwkt_enqueue(td);
	need_lwkt_resched(gd);
}

/* ----------------------------------------------------------------------- */
/* Scheduling and descheduling.                                             */

/* IPIQ callback on td's owner: schedule it there. */
static void lwkt_schedule_remote(void *arg1, int arg2 __unused,
				 struct trapframe *frame __unused)
{
	lwkt_schedule(arg1);
}

/*
 * Schedule td with ccount = the critical-section depth that does not
 * count against preemption (our own crit_enter, and splz's).
 */
void _lwkt_schedule(struct thread *td, int ccount)
{
	struct globaldata *gd = mycpu;
	struct thread *cur = gd->gd_curthread;

	KASSERT(td != td->td_gd->gd_idlethread,
		"scheduling gd_idlethread is illegal: the idle thread runs "
		"only when the run queue is empty");
	KASSERT((td->td_flags & TDF_MIGRATING) == 0,
		"scheduling thread \"%s\" while it migrates", td->td_comm);
	crit_enter_quick(cur);
	if (td->td_gd == gd) {
		_lwkt_enqueue(td);
		if (td->td_preemptable != NULL && td != cur &&
		    (td->td_flags & TDF_RUNQ))
			td->td_preemptable(td, ccount);
	} else {
		lwkt_send_ipiq3(td->td_gd, lwkt_schedule_remote, td, 0);
	}
	crit_exit_quick(cur);
}

/* Any thread, any CPU (kern/thread.h).  ccount 1: our own crit_enter. */
void lwkt_schedule(struct thread *td)
{
	_lwkt_schedule(td, 1);
}

/* Put the running thread back on its queue (before a switch). */
void lwkt_schedule_self(struct thread *td)
{
	KASSERT(td == curthread, "lwkt_schedule_self on another thread");
	crit_enter_quick(td);
	_lwkt_enqueue(td);
	crit_exit_quick(td);
}

/*
 * Take the running thread off its queue; it keeps running until it calls
 * lwkt_switch().  Whoever schedules it again must know it is waiting.
 */
void lwkt_deschedule_self(struct thread *td)
{
	KASSERT(td == curthread, "lwkt_deschedule_self on another thread");
	crit_enter_quick(td);
	_lwkt_dequeue(td);
	crit_exit_quick(td);
}

/* IPIQ callback on td's owner: deschedule it there. */
static void lwkt_deschedule_remote(void *arg1, int arg2 __unused,
				   struct trapframe *frame __unused)
{
	lwkt_deschedule(arg1);
}

/* Any thread: locally, or by a message to its owner. */
void lwkt_deschedule(struct thread *td)
{
	crit_enter();
	if (td->td_gd == mycpu)
		_lwkt_dequeue(td);
	else
		lwkt_send_ipiq3(td->td_gd, lwkt_deschedule_remote, td, 0);
	crit_exit();
}

/* The running thread's priority; takes effect at the next switch. */
void lwkt_setpri_self(int pri)
{
	lwkt_setpri(curthread, pri);
}

/*
 * Owner CPU only.  A queued thread is re-inserted so the queue stays
 * sorted; it never switches (the caller yields if it wants the effect).
 */
void lwkt_setpri(struct thread *td, int pri)
{
	KASSERT(pri >= 0 && pri <= TDPRI_MAX, "priority %d out of range", pri);
	KASSERT(td->td_gd == mycpu, "lwkt_setpri on a thread of cpu %d from "
		"cpu %d; only the owner changes a thread's priority",
		td->td_gd->gd_cpuid, mycpuid);
	crit_enter();
	if (td->td_flags & TDF_RUNQ) {
		_lwkt_dequeue(td);
		td->td_pri = pri;
		_lwkt_enqueue(td);
	} else {
		td->td_pri = pri;
	}
	crit_exit();
}

/* ----------------------------------------------------------------------- */
/* Preemption.                                                              */

/* May the current thread td be preempted by ntd?  Counts refusals. */
static bool lwkt_preempt_ok(struct globaldata *gd, struct thread *td,
			    struct thread *ntd, int critcount)
{
	if (ntd->td_pri <= td->td_pri ||		/* not strictly better */
	    td->td_critcount > critcount ||		/* victim in a crit section */
	    gd->gd_spinlocks != 0 || gd->gd_intr_nesting_level != 0 ||
	    ntd->td_gd != gd ||
	    ntd->td_toks_stop != ntd->td_toks_array ||	/* preemptors hold no tokens */
	    (td->td_flags & TDF_PREEMPT_LOCK) || ntd->td_preempted != NULL ||
	    (ntd->td_flags & TDF_RUNNING)) {
		gd->gd_cnt.preempt_miss++;
		need_lwkt_resched(gd);
		return false;
	}
	return true;
}

/*
 * The td_preemptable hook of interrupt threads: switch to ntd at once,
 * leaving the current thread pinned where it was interrupted.
 */
void lwkt_preempt(struct thread *ntd, int critcount)
{
	struct globaldata *gd = mycpu;
	struct thread *td = gd->gd_curthread;
	int nesting;

	if (!lwkt_preempt_ok(gd, td, ntd, critcount))
		return;
	gd->gd_cnt.preempt_hit++;
	ntd->td_preempted = td;
	td->td_flags |= TDF_PREEMPT_LOCK;
	nesting = gd->gd_intr_nesting_level;
	gd->gd_intr_nesting_level = 0;
	lwkt_switch_to(gd, td, ntd);
	KASSERT(ntd->td_preempted == NULL && (td->td_flags & TDF_PREEMPT_DONE),
		"preempted thread \"%s\" resumed before its preemptor "
		"\"%s\" blocked", td->td_comm, ntd->td_comm);
	gd->gd_intr_nesting_level = nesting;
	td->td_flags &= ~(TDF_PREEMPT_LOCK | TDF_PREEMPT_DONE);
}

/*
 * Turn td into an interrupt thread: high priority and the right to
 * preempt (lwkt_preempt) when scheduled on its own CPU.
 */
void lwkt_set_interrupt_thread(struct thread *td, int pri)
{
	KASSERT(td->td_gd == mycpu, "interrupt threads are set up on their "
		"own CPU");
	td->td_flags |= TDF_INTTHREAD;
	td->td_preemptable = lwkt_preempt;
	lwkt_setpri(td, pri);
}

/* ----------------------------------------------------------------------- */
/* Creation and exit.                                                       */

/*
 * Allocate a thread: this CPU's last exited one first (lazy reaping),
 * if its joiner is done with it; else let go of it and take a fresh one.
 */
static struct thread *lwkt_alloc_thread(void)
{
	struct globaldata *gd;
	struct thread *td = NULL, *parked = NULL;

	crit_enter();
	gd = mycpu;
	if (gd->gd_freetd != NULL &&
	    (gd->gd_freetd->td_mpflags & TDF_MP_EXITSIG)) {
		if (gd->gd_freetd->td_mpflags & TDF_MP_COLLECTED)
			td = gd->gd_freetd;
		else
			parked = gd->gd_freetd;
		gd->gd_freetd = NULL;
	}
	crit_exit();
	if (parked != NULL)
		lwkt_release_exited(parked, TDF_MP_UNPARKED);
	return td != NULL ? td : pool_alloc();
}

/* IPIQ callback on the new thread's CPU: adopt it, and start it unless
 * TDF_NOSTART. */
static void lwkt_create_remote(void *arg1, int arg2 __unused,
			       struct trapframe *frame __unused)
{
	struct thread *td = arg1;

	TAILQ_INSERT_TAIL(&td->td_gd->gd_tdallq, td, td_allq);
	if ((td->td_flags & TDF_NOSTART) == 0)
		_lwkt_enqueue(td);
}

/*
 * Build the thread here (any CPU may), then hand it to its owner with an
 * IPIQ message: only the owner puts it on a queue.
 */
int lwkt_create(void (*func)(void *), void *arg, struct thread **tdp,
		uint32_t flags, int cpu, const char *fmt, ...)
{
	struct globaldata *gd;
	struct thread *td;
	char name[TD_COMM_SIZE];
	va_list ap;

	KASSERT(cpu < ncpus, "lwkt_create on cpu %d; only %d CPUs run", cpu,
		ncpus);
	KASSERT(mycpu->gd_intr_nesting_level == 0,
		"lwkt_create from an interrupt or IPI callback");
	td = lwkt_alloc_thread();
	if (td == NULL)
		return ENOMEM;
	va_start(ap, fmt);
	kvsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	gd = globaldata_find(cpu < 0 ? mycpuid : cpu);
	lwkt_init_thread(td, gd, flags, name);
	td->td_func = func;
	td->td_arg = arg;
	lwkt_build_frame(td);
	if (tdp != NULL)
		*tdp = td;
	else
		td->td_mpflags = TDF_MP_COLLECTED;	/* nobody can join it */
	crit_enter();
	lwkt_send_ipiq3(gd, lwkt_create_remote, td, 0);
	crit_exit();
	return 0;
}

/*
 * Leave for good.  Waits for lwkt_hold references, leaves any sleep
 * queue, parks the structure in gd_freetd and switches away; the next
 * thread's lwkt_switch_return signals TDF_MP_EXITSIG and wakes joiners.
 */
void lwkt_exit(void)
{
	struct thread *td = curthread;
	struct globaldata *gd;

	KASSERT(td != &thread0, "thread0 (the boot context) cannot exit");
	KASSERT(td->td_toks_stop == td->td_toks_array, "thread \"%s\" "
		"exits holding %ld token(s); release them first", td->td_comm,
		(long)(td->td_toks_stop - td->td_toks_array));
	while (td->td_refs != 0)
		tsleep(td, 0, "tdreap", 1);
	crit_enter_quick(td);
	gd = mycpu;
	if (td->td_flags & TDF_TSLEEPQ)
		tsleep_remove(td);
	__atomic_add_fetch(&threads_exiting, 1, __ATOMIC_SEQ_CST);
	td->td_flags |= TDF_EXITING;
	_lwkt_dequeue(td);
	TAILQ_REMOVE(&gd->gd_tdallq, td, td_allq);
	/*
	 * Any earlier exited thread is off the CPU by now (we are running), so
	 * its slot can go back to the pool; this one waits in gd_freetd until
	 * the next exit or creation here.
	 */
	if (gd->gd_freetd != NULL)
		lwkt_release_exited(gd->gd_freetd, TDF_MP_UNPARKED);
	gd->gd_freetd = td;
	lwkt_switch();
	panic("lwkt_exit: exited thread \"%s\" was switched back in",
	      td->td_comm);
}

/*
 * Sleep until td is off its CPU for good, then let go of its structure
 * (contract in kern/thread.h).  Until this thread lets go, td cannot be
 * reused, so the wait can only ever see td's own exit.  The 1-tick
 * timeout is a safety net only: the exit's wakeup(td) normally ends it.
 */
void lwkt_thread_join(struct thread *td)
{
	KASSERT((td->td_mpflags & TDF_MP_COLLECTED) == 0, "joining thread "
		"\"%s\", which was joined before or created without a "
		"handle", td->td_comm);
	while ((td->td_mpflags & TDF_MP_EXITSIG) == 0) {
		tsleep_interlock(td, 0);
		if (td->td_mpflags & TDF_MP_EXITSIG)
			break;
		tsleep(td, PINTERLOCKED, "join", 1);
	}
	if (curthread->td_flags & TDF_TSLEEPQ) {
		crit_enter();
		tsleep_remove(curthread);
		crit_exit();
	}
	lwkt_release_exited(td, TDF_MP_COLLECTED);
}

/* Keep td's structure from being reused: lwkt_exit waits for zero. */
void lwkt_hold(struct thread *td)
{
	__atomic_add_fetch(&td->td_refs, 1, __ATOMIC_SEQ_CST);
}

/* Drop a lwkt_hold reference. */
void lwkt_rele(struct thread *td)
{
	int n = __atomic_sub_fetch(&td->td_refs, 1, __ATOMIC_SEQ_CST);

	KASSERT(n >= 0, "lwkt_rele of thread \"%s\" without a hold",
		td->td_comm);
}

/* ----------------------------------------------------------------------- */
/* Migration.                                                               */

/* On the target CPU, which the old one already named in td_gd: put the
 * thread on this CPU's lists and make it runnable here. */
void lwkt_setcpu_remote(void *arg)
{
	struct thread *td = arg;
	struct globaldata *gd = mycpu;

	KASSERT(td->td_migrate_gd == gd && td->td_gd == gd, "migration of "
		"\"%s\" landed on the wrong cpu %d", td->td_comm,
		gd->gd_cpuid);
	td->td_migrate_gd = NULL;
	td->td_flags &= ~TDF_MIGRATING;
	TAILQ_INSERT_TAIL(&gd->gd_tdallq, td, td_allq);
	_lwkt_enqueue(td);
}

/*
 * Leave this CPU's queues and switch away marked TDF_MIGRATING; the
 * switch return on the old CPU sends us to the new owner, and we return
 * from lwkt_switch() running there.  The critical section is held across,
 * so nothing on either CPU sees a half-moved thread.  A pending
 * tsleep_interlock() is cancelled (kern/thread.h).
 */
void lwkt_migratecpu(int cpu)
{
	struct thread *td = curthread;
	struct globaldata *gd;

	KASSERT(cpu >= 0 && cpu < ncpus, "migrate to cpu %d of %d", cpu,
		ncpus);
	crit_enter_quick(td);
	gd = mycpu;
	if (gd->gd_cpuid != cpu) {
		/*
		 * A sleep queue is per CPU: leave this one rather than be
		 * found on it from afar.  A tsleep(PINTERLOCKED) after the
		 * move then returns at once, as after a wakeup.
		 */
		if (td->td_flags & TDF_TSLEEPQ)
			tsleep_remove(td);
		_lwkt_dequeue(td);
		TAILQ_REMOVE(&gd->gd_tdallq, td, td_allq);
		td->td_migrate_gd = globaldata_find(cpu);
		td->td_flags |= TDF_MIGRATING;
		lwkt_switch();		/* resumes on cpu */
	}
	crit_exit_quick(td);
}

/* Sum the per-CPU counters.  Racy by design: counters, not state. */
void lwkt_get_stats(struct lwkt_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (int i = 0; i < ncpus; i++) {
		struct lwkt_counters *c = &globaldata_array[i].gd_cnt;

		st->switches += c->v_swtch;
		st->preempt_hit += c->preempt_hit;
		st->preempt_miss += c->preempt_miss;
		st->token_colls += c->v_token_colls;
	}
}
