/*
 * crit_watch_test.c - per-CPU scheduler and port state changes only
 * inside a critical section, checked by a hardware watchpoint.
 *
 * A CPU's run queue and a thread port's message queue belong to one CPU,
 * and the only thing that can touch them behind a thread's back is an
 * interrupt on that CPU: its handler work (splz) may schedule threads and
 * deliver IPIQ messages that queue to ports.  Code that changes them must
 * therefore be in a critical section, or an interrupt arriving halfway
 * through a list update sees the list broken.  Such a race is almost never
 * hit by a test, so instead of waiting for it we check the rule itself:
 *
 *   debug register DR0 holds the address of a word the queue code writes
 *   on every change (the run-queue count, the message queue's tail
 *   pointer); DR7 makes every write to it raise #DB (SDM vol. 3B, 17.2);
 *   the #DB handler looks at the thread that wrote: in a critical section,
 *   or in interrupt context, is fine; anything else is a violation.
 *
 * The watchpoint is this CPU's only, and the tests stay on their CPU.
 * Written for `make mutate` (tests/mutants.txt): a dropped crit_enter and
 * crit_exit pair around a queue change passes every functional test.
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/ksyms.h>
#include <kern/ktest.h>
#include <kern/msgport.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/trap.h>
#include <machine/frame.h>

#define DR7_L0		(1UL << 0)	/* enable breakpoint 0 on this CPU */
#define DR7_RW0_WRITE	(1UL << 16)	/* RW0 = 01: break on data writes */
#define DR7_LEN0_SHIFT	18		/* LEN0: 00 1 byte, 01 2, 11 4, 10 8 */
#define DR6_B0		(1UL << 0)	/* breakpoint 0 was hit */
#define DR6_CLEAR	0xffff0ff0UL	/* DR6 with no condition bits set */

static struct {
	volatile int hits;		/* writes seen */
	volatile int outside;		/* ... made outside a critical section */
	uint64_t first_rip;		/* where the first of those was */
} watch;

static void watch_trap(struct trapframe *tf)
{
	uint64_t dr6;

	__asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
	__asm__ volatile("mov %0, %%dr6" : : "r"(DR6_CLEAR));
	if (!(dr6 & DR6_B0))
		return;
	watch.hits++;
	if (curthread->td_critcount == 0 &&
	    mycpu->gd_intr_nesting_level == 0 && watch.outside++ == 0)
		watch.first_rip = tf->tf_rip;
}

/* Raise #DB on every write to the len-byte word at addr, on this CPU. */
static void watch_start(volatile void *addr, int len)
{
	uint64_t dr7 = DR7_L0 | DR7_RW0_WRITE |
		       (uint64_t)(len == 8 ? 2 : 3) << DR7_LEN0_SHIFT;

	KASSERT(len == 4 || len == 8, "watch 4 or 8 bytes");
	watch.hits = watch.outside = 0;
	watch.first_rip = 0;
	trap_set_handler(T_DEBUG, watch_trap);
	__asm__ volatile("mov %0, %%dr0" : : "r"(addr));
	__asm__ volatile("mov %0, %%dr7" : : "r"(dr7) : "memory");
}

static void watch_stop(void)
{
	__asm__ volatile("mov %0, %%dr7" : : "r"(0UL) : "memory");
	trap_set_handler(T_DEBUG, NULL);
	if (watch.outside != 0) {
		uint64_t off = 0;
		const char *fn = ksym_lookup(watch.first_rip, &off);

		ktest_diag("%d of %d writes outside a critical section, the "
			   "first just before %s+%#lx", watch.outside,
			   watch.hits, fn ? fn : "?", (unsigned long)off);
	}
}

static void nothing(void *arg __unused)
{
}

/*
 * Every way a thread enters or leaves this CPU's run queue, with the
 * run-queue count watched: scheduling and descheduling another thread,
 * changing its priority while queued, sleeping, yielding, exiting.
 */
KTEST(crit_rule, the_run_queue_changes_only_inside_critical_sections)
{
	struct thread *td;

	KT_ASSERT_EQ(lwkt_create(nothing, NULL, &td, TDF_NOSTART, mycpuid,
				 "t-watch"), 0);
	watch_start(&mycpu->gd_tdrunqcount, sizeof(int));
	for (int i = 0; i < 3; i++) {
		lwkt_schedule(td);
		lwkt_setpri(td, td->td_pri + 1);
		lwkt_setpri(td, td->td_pri - 1);
		lwkt_deschedule(td);
	}
	lwkt_schedule(td);
	tsleep(&td, 0, "watch", 1);
	lwkt_yield();
	watch_stop();
	lwkt_thread_join(td);
	KT_EXPECT_GT(watch.hits, 0);	/* the watchpoint does fire */
	KT_EXPECT_EQ(watch.outside, 0);
}

/*
 * A thread port's queue, with its tail pointer watched: local sends,
 * replies and takes.
 */
KTEST(crit_rule, a_thread_ports_queue_changes_only_inside_critical_sections)
{
	struct lwkt_port port;
	struct lwkt_msg msg[4];

	lwkt_initport_thread(&port, curthread);
	watch_start(&port.mp_msgq.tqh_last, sizeof(void *));
	for (int i = 0; i < 4; i++) {
		lwkt_initmsg(&msg[i], &port, 0);
		lwkt_sendmsg(&port, &msg[i]);
	}
	for (int i = 0; i < 4; i++)
		lwkt_replymsg(lwkt_getport(&port), 0);
	while (lwkt_getport(&port) != NULL)
		;
	watch_stop();
	lwkt_destroyport(&port);
	KT_EXPECT_GT(watch.hits, 0);
	KT_EXPECT_EQ(watch.outside, 0);
}
