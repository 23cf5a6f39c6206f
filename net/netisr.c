/*
 * netisr.c - one protocol thread per CPU, and the hash that picks one.
 *
 * DragonFly's rule, kept here: a connection belongs to the CPU its
 * 4-tuple hashes to, and only that CPU's protocol thread ("netisr N")
 * touches it.  Everything that concerns a connection -- a segment that
 * arrived, a socket call, a timer -- is a message to that thread.  The
 * thread serves its messages one at a time, so a control block, its
 * timers and its socket buffers need no lock: the port is the lock.
 *
 *      any thread                 netisr k (CPU k)
 *   lwkt_domsg(port k, nm) --->  nm->nm_dispatch(nm) ... lwkt_replymsg
 *   driver: lwkt_sendmsg(m) -->  ether/ip/tcp input on m
 *                                (queue empty) -> rollups: TCP output
 *
 * The hash.  The Toeplitz hash (the one RSS network cards compute) of
 * (faddr, laddr, fport, lport) with a key that repeats two bytes, 0x6d
 * 0x5a.  Each input bit selects the 32-bit window of the key that starts
 * at that bit; with a key of period 16 bits the window depends only on
 * the bit's position modulo 16, so two 256-entry tables (even and odd
 * bytes) give a byte's whole contribution, and swapping the source and
 * destination fields (which moves them by multiples of 16 bits) changes
 * nothing: both directions of a flow hash alike.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/msgport.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <net/netisr.h>

#define MAX_ROLLUPS	4

struct netisr {
	struct msg_server server;	/* first: its port is the netisr's */
	int cpu;
	/* The thread acting as this netisr right now: the netisr's own
	 * thread while it serves a message, a caller on this CPU while it
	 * runs a socket call in place (netisr_enter), else NULL.  Written
	 * only on this CPU. */
	struct thread *actor;
	/* Work the actor handed to itself (loopback packets): run before
	 * its message or call ends, in order.  Only the actor touches it. */
	TAILQ_HEAD(, lwkt_msg) localq;
};

static struct netisr netisrs[MAXCPU];
static int netisr_ncpus;
static uint32_t toeplitz_table[2][256];
static struct lwkt_port done_port;
static void (*rollups[MAX_ROLLUPS])(void);
static int nrollups;

/* ---- the hash ---------------------------------------------------------- */

/* The 32 key bits starting at bit `bit` (0..15) of the repeating key. */
static uint32_t toeplitz_window(int bit)
{
	/* Three periods of the key hold any 32-bit window that starts in
	 * the first period: 48 bits. */
	uint64_t period = (uint64_t)TOEPLITZ_KEY0 << 8 | TOEPLITZ_KEY1;
	uint64_t key = period << 32 | period << 16 | period;

	return (uint32_t)(key >> (48 - 32 - bit));
}

/* The two tables: entry v of table parity is the XOR of the key windows
 * of v's set bits, for a byte at an even (0) or odd (1) position.  Then
 * a byte's whole contribution to the hash is one lookup.  Boot. */
static void toeplitz_init(void)
{
	for (int parity = 0; parity < 2; parity++)
		for (int v = 0; v < 256; v++) {
			uint32_t h = 0;

			for (int k = 0; k < 8; k++)
				if (v & (0x80 >> k))
					h ^= toeplitz_window(8 * parity + k);
			toeplitz_table[parity][v] = h;
		}
}

/* The Toeplitz hash of a 4-tuple (addresses and ports in network
 * order), symmetric: swapping the ends gives the same value.  Any
 * thread; touches only the tables. */
uint32_t netisr_hash4(uint32_t faddr, uint32_t laddr, uint16_t fport,
		      uint16_t lport)
{
	/* The fields are in network order, so their bytes in memory order
	 * are the low byte first: even bytes index table 0, odd table 1.
	 * Shifts instead of a byte array keep it in registers. */
	uint64_t addrs = (uint64_t)laddr << 32 | faddr;
	uint32_t ports = (uint32_t)lport << 16 | fport;
	uint32_t h = 0;

	for (int i = 0; i < 8; i += 2, addrs >>= 16)
		h ^= toeplitz_table[0][addrs & 0xff] ^
		     toeplitz_table[1][(addrs >> 8) & 0xff];
	for (int i = 0; i < 4; i += 2, ports >>= 16)
		h ^= toeplitz_table[0][ports & 0xff] ^
		     toeplitz_table[1][(ports >> 8) & 0xff];
	return h;
}

/* The CPU a hash belongs to: hash mod the CPU count, as the device's
 * indirection table (entry i = i mod N) picks it when N divides 128.
 * CPU 0 before the netisrs start. */
int netisr_hashcpu(uint32_t hash)
{
	return netisr_ncpus > 0 ? (int)(hash % netisr_ncpus) : 0;
}

/* ---- the threads ------------------------------------------------------- */

/*
 * The end of a message or of a call run in place: the work the actor
 * queued for itself (netisr_queue_local), then -- if the port is empty,
 * so the batch is over -- the rollups (they send what the batch put off,
 * e.g. one ACK for many), and again the local work the rollups made.
 * Returns how many local messages ran.
 */
static int netisr_finish(struct netisr *ni)
{
	lwkt_port_t port = &ni->server.ms_port;
	int ran = 0;

	for (;;) {
		lwkt_msg_t msg;

		while ((msg = TAILQ_FIRST(&ni->localq)) != NULL) {
			TAILQ_REMOVE(&ni->localq, msg, ms_node);
			((struct netmsg *)msg)->nm_dispatch((struct netmsg *)msg);
			ran++;
		}
		if (!TAILQ_EMPTY(&port->mp_msgq) ||
		    !TAILQ_EMPTY(&port->mp_msgq_prio))
			return ran;	/* the netisr runs them later */
		for (int i = 0; i < nrollups; i++)
			rollups[i]();
		if (TAILQ_EMPTY(&ni->localq))
			return ran;
	}
}

/* A message's own handler does the work; it also owns the reply.  The
 * actor is saved and restored: the netisr's own domsg to itself is
 * dispatched in place, inside another message (lwkt_msgport.c). */
static int netisr_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct netmsg *nm = (struct netmsg *)msg;
	struct netisr *ni = srv->ms_arg;
	struct thread *outer = ni->actor;

	KASSERT(nm->nm_dispatch != NULL, "netisr %s: message %p has no "
		"handler; every netmsg names the function that serves it "
		"(netmsg_init)", srv->ms_td->td_comm, msg);
	KASSERT(outer == NULL || outer == curthread, "netisr %s: a message "
		"while thread %s runs a call in place; an in-place call never "
		"blocks, so the netisr cannot run in the middle of one",
		srv->ms_td->td_comm, outer->td_comm);
	ni->actor = curthread;
	nm->nm_dispatch(nm);
	netisr_finish(ni);
	ni->actor = outer;
	return EASYNC;
}

/*
 * Socket calls in place (DragonFly runs a same-CPU request directly in
 * the same spirit).  A caller already on the owning CPU may run the
 * protocol code itself instead of sending a message and switching twice:
 * the ownership rule is about the CPU, and on one CPU two threads only
 * interleave where one blocks or an interrupt thread preempts.  Protocol
 * code never blocks, so it is enough that nobody else acts as the netisr
 * at the time: not the netisr thread (between messages whenever another
 * thread of its CPU runs, unless an interrupt thread preempted it), not
 * another caller.  The actor field says who acts; an interrupt thread
 * that finds it taken sends a message like anyone on another CPU.
 */
bool netisr_enter(int cpu)
{
	struct netisr *ni = &netisrs[cpu];

	if (cpu != mycpuid || cpu >= netisr_ncpus || ni->actor != NULL)
		return false;
	ni->actor = curthread;
	return true;
}

/* End a call in place: run what the call queued on the local list (and
 * the rollups if the port is empty), then give up acting as cpu's
 * netisr.  Returns how many local messages ran. */
int netisr_leave(int cpu)
{
	struct netisr *ni = &netisrs[cpu];
	int ran;

	KASSERT(ni->actor == curthread, "netisr_leave: cpu%d's netisr is "
		"not acted by this thread; pair it with a netisr_enter that "
		"returned true", cpu);
	ran = netisr_finish(ni);
	ni->actor = NULL;
	return ran;
}

/* A message for cpu's netisr from the thread acting as it: onto the
 * local list, run in order before the current message or call ends.
 * False (the caller sends it through the port) from anyone else. */
bool netisr_queue_local(int cpu, struct netmsg *nm)
{
	struct netisr *ni = &netisrs[cpu];

	if (cpu != mycpuid || ni->actor != curthread)
		return false;
	TAILQ_INSERT_TAIL(&ni->localq, &nm->nm_lmsg, ms_node);
	return true;
}

/* A protocol thread per CPU, each a message server bound to its CPU.
 * Boot, once; panics if a thread cannot start (the stack needs all). */
void netisr_init(void)
{
	toeplitz_init();
	lwkt_initport_replyonly_null(&done_port);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		char name[16];
		int error;

		ksnprintf(name, sizeof(name), "netisr %d", cpu);
		netisrs[cpu].cpu = cpu;
		TAILQ_INIT(&netisrs[cpu].localq);
		error = msgserver_start(&netisrs[cpu].server, name, cpu,
					netisr_dispatch, &netisrs[cpu]);
		if (error != 0)
			panic("netisr_init: cannot start the protocol thread "
			      "of cpu%d (error %d); the stack needs one per "
			      "CPU", cpu, error);
	}
	netisr_ncpus = ncpus;
}

bool netisr_running(void)
{
	return netisr_ncpus > 0;
}

lwkt_port_t netisr_port(int cpu)
{
	KASSERT(cpu >= 0 && cpu < netisr_ncpus, "netisr_port: cpu %d of %d",
		cpu, netisr_ncpus);
	return &netisrs[cpu].server.ms_port;
}

/* Does the calling thread act as cpu's netisr now (its own thread
 * serving a message, or a caller running a call in place)?  The
 * contract check of every function that touches a CPU's tables. */
bool netisr_on(int cpu)
{
	return cpu < netisr_ncpus && curthread == netisrs[cpu].actor;
}

void netmsg_init(struct netmsg *nm, lwkt_port_t rport, netisr_fn_t fn)
{
	lwkt_initmsg(&nm->nm_lmsg, rport, 0);
	nm->nm_dispatch = fn;
}

lwkt_port_t netisr_done_port(void)
{
	return &done_port;
}

/* Run fn on every netisr in turn, each time waiting for its reply (a
 * configuration change, a table walk).  Thread context, never a netisr:
 * it would wait for itself.  Blocks. */
void netisr_domsg_all(struct netmsg *nm, netisr_fn_t fn)
{
	struct lwkt_port rport;

	lwkt_initport_thread(&rport, curthread);
	for (int cpu = 0; cpu < netisr_ncpus; cpu++) {
		netmsg_init(nm, &rport, fn);
		lwkt_domsg(netisr_port(cpu), &nm->nm_lmsg, 0);
	}
	lwkt_destroyport(&rport);
}

void netisr_register_rollup(void (*fn)(void))
{
	KASSERT(nrollups < MAX_ROLLUPS, "netisr: more than %d rollups",
		MAX_ROLLUPS);
	rollups[nrollups++] = fn;
}

uint64_t netisr_served(int cpu)
{
	return cpu < netisr_ncpus ? netisrs[cpu].server.ms_served : 0;
}
