/*
 * msgport_test.h - what the message-port suites (msgport_test.c,
 * msgport_smp_test.c) share: a thread that holds a CPU still.
 *
 * Some behaviours can only be seen while a message is in flight: the IPIQ
 * message that carries it to another CPU has been sent but has not run
 * yet.  A holder thread sits on that CPU in a critical section, so the CPU
 * runs no IPIQ callbacks (they wait in its rings) until the holder is
 * released; then they all run, in order, before the holder goes on.
 *
 *     struct cpu_hold hold;
 *
 *     cpu_hold(&hold, cpu);        cpu now runs nothing but the holder
 *     ... send to cpu, look at the message in flight ...
 *     cpu_release(&hold);          the held IPIQ messages run; joined
 *
 * A port owned by the holder (lwkt_initport_thread(&p, hold.ch_td)) lives
 * on the held CPU; set ch_port and ch_drain before the release and the
 * holder takes that many messages off it before it exits.
 *
 * Never hold the caller's own CPU, and do nothing while holding that waits
 * for the held CPU to answer (lwkt_wait_ipiq, tsleep_count_sleepers): it
 * would spin until the release.
 */
#ifndef TESTS_KERN_MSGPORT_TEST_H
#define TESTS_KERN_MSGPORT_TEST_H

#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/msgport.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <machine/cpufunc.h>

enum { HOLD_STARTING, HOLD_HOLDING, HOLD_RELEASED };

struct cpu_hold {
	struct thread *ch_td;		/* the holder */
	lwkt_port_t ch_port;		/* a port it owns, or NULL */
	int ch_drain;			/* messages it takes off ch_port */
	volatile int ch_state;		/* HOLD_*: atomic */
};

/* The holder: a critical section until released, then the drain. */
static inline void cpu_hold_main(void *arg)
{
	struct cpu_hold *ch = arg;

	crit_enter();
	__atomic_store_n(&ch->ch_state, HOLD_HOLDING, __ATOMIC_RELEASE);
	while (__atomic_load_n(&ch->ch_state, __ATOMIC_ACQUIRE) ==
	       HOLD_HOLDING)
		cpu_pause();
	crit_exit();		/* the IPIQ messages held back run here */
	for (int i = 0; i < ch->ch_drain; i++)
		lwkt_waitport(ch->ch_port, 0, 0, NULL);
}

/* Returns once cpu is held.  Thread context, another CPU than cpu. */
static inline void cpu_hold(struct cpu_hold *ch, int cpu)
{
	KASSERT(cpu != mycpuid, "cpu_hold of the caller's own cpu %d would "
		"never return", cpu);
	ch->ch_port = NULL;
	ch->ch_drain = 0;
	ch->ch_state = HOLD_STARTING;
	KASSERT(lwkt_create(cpu_hold_main, ch, &ch->ch_td, 0, cpu, "hold%d",
			    cpu) == 0, "cpu_hold: no memory for a thread");
	while (__atomic_load_n(&ch->ch_state, __ATOMIC_ACQUIRE) !=
	       HOLD_HOLDING)
		cpu_pause();
}

/* Let the held CPU go, and wait until the holder has drained and exited. */
static inline void cpu_release(struct cpu_hold *ch)
{
	__atomic_store_n(&ch->ch_state, HOLD_RELEASED, __ATOMIC_RELEASE);
	lwkt_thread_join(ch->ch_td);
}

#endif /* TESTS_KERN_MSGPORT_TEST_H */
