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

uint32_t netisr_hash4(uint32_t faddr, uint32_t laddr, uint16_t fport,
		      uint16_t lport)
{
	uint8_t in[12];
	uint32_t h = 0;

	memcpy(in, &faddr, 4);
	memcpy(in + 4, &laddr, 4);
	memcpy(in + 8, &fport, 2);
	memcpy(in + 10, &lport, 2);
	for (int i = 0; i < 12; i++)
		h ^= toeplitz_table[i & 1][in[i]];
	return h;
}

int netisr_hashcpu(uint32_t hash)
{
	return netisr_ncpus > 0 ? (int)(hash % netisr_ncpus) : 0;
}

/* ---- the threads ------------------------------------------------------- */

/* A message's own handler does the work; it also owns the reply. */
static int netisr_dispatch(struct msg_server *srv, lwkt_msg_t msg)
{
	struct netmsg *nm = (struct netmsg *)msg;
	lwkt_port_t port = &srv->ms_port;

	KASSERT(nm->nm_dispatch != NULL, "netisr %s: message %p has no "
		"handler; every netmsg names the function that serves it "
		"(netmsg_init)", srv->ms_td->td_comm, msg);
	nm->nm_dispatch(nm);
	/* The batch is over when the queue is empty: run the rollups
	 * (they send what the batch put off, e.g. one ACK for many). */
	if (TAILQ_EMPTY(&port->mp_msgq) && TAILQ_EMPTY(&port->mp_msgq_prio))
		for (int i = 0; i < nrollups; i++)
			rollups[i]();
	return EASYNC;
}

void netisr_init(void)
{
	toeplitz_init();
	lwkt_initport_replyonly_null(&done_port);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		char name[16];
		int error;

		ksnprintf(name, sizeof(name), "netisr %d", cpu);
		netisrs[cpu].cpu = cpu;
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

bool netisr_on(int cpu)
{
	return cpu < netisr_ncpus && curthread == netisrs[cpu].server.ms_td;
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
