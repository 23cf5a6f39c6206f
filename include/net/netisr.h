/*
 * net/netisr.h - the per-CPU protocol threads (net/netisr.c; docs/net.md).
 *
 * Every CPU runs one protocol thread, "netisr N", a message server.  A
 * connection belongs to one CPU, chosen by a hash of its 4-tuple, and only
 * that CPU's netisr ever touches its state -- so protocol control blocks,
 * socket buffers and per-CPU tables need no lock.  Work reaches a netisr
 * as a message that carries its own handler:
 *
 *     struct netmsg { struct lwkt_msg; void (*nm_dispatch)(netmsg); }
 *
 * Packets are netmsgs (struct mbuf begins with one); so are socket calls
 * (net/socket.c builds one on the caller's stack and lwkt_domsg()s it),
 * timers (a callout sends the connection's timer message) and table
 * updates sent to every CPU.  A handler owns the message it was given: it
 * replies it, forwards it, keeps it (a parked blocking call) or -- for a
 * packet -- frees it, which is its reply.
 *
 * After a netisr has emptied its queue it runs the registered rollups:
 * TCP's sends the ACKs and data it put off while the batch lasted.
 */
#ifndef NET_NETISR_H
#define NET_NETISR_H

#include <kern/types.h>
#include <kern/msgport.h>

struct netmsg;
typedef void (*netisr_fn_t)(struct netmsg *nm);

struct netmsg {
	struct lwkt_msg nm_lmsg;	/* first: a netmsg is a message */
	netisr_fn_t nm_dispatch;	/* what the netisr calls */
};

/* Start one netisr per CPU.  Boot thread, after SMP is up. */
void netisr_init(void);

/* Is the network stack up (netisr threads running)? */
bool netisr_running(void);

/* The port of CPU cpu's netisr. */
lwkt_port_t netisr_port(int cpu);

/* Does the caller act as CPU cpu's netisr now: its thread serving a
 * message, or a call run in place (netisr_enter)? */
bool netisr_on(int cpu);

/*
 * Act as CPU cpu's netisr in the calling thread, to run a socket call in
 * place.  True if the caller is on cpu and nobody else acts as its netisr
 * (then the caller may touch cpu's connections until netisr_leave); false
 * otherwise, and the caller sends a message instead.  Must not block
 * between the two.  Any thread but a netisr.
 */
bool netisr_enter(int cpu);

/* Stop acting as cpu's netisr: first run what was queued locally and,
 * if the netisr's port is empty, the rollups.  Returns how many local
 * messages ran (0: nothing changed behind the caller's back). */
int netisr_leave(int cpu);

/* Queue nm for cpu's netisr without a message: true if the caller acts
 * as that netisr (it runs nm before its message or call ends), false if
 * the caller must send it.  Loopback packets travel this way. */
bool netisr_queue_local(int cpu, struct netmsg *nm);

/* The CPU owning a flow hash (hash % ncpus; the same on every path). */
int netisr_hashcpu(uint32_t hash);

/* The Toeplitz key repeats these two bytes (DragonFly's seeds): a device
 * that hashes for receive steering (virtio-net RSS) is given the same key,
 * so it computes the very hash netisr_hash4 does. */
#define TOEPLITZ_KEY0	0x6d	/* even key bytes */
#define TOEPLITZ_KEY1	0x5a	/* odd key bytes */

/*
 * The symmetric Toeplitz hash of a 4-tuple (addresses and ports in
 * network order): swapping source and destination gives the same value,
 * so both directions of a flow land on one CPU.  Pure.
 */
uint32_t netisr_hash4(uint32_t faddr, uint32_t laddr, uint16_t fport,
		      uint16_t lport);

/*
 * Initialise nm to run fn on a netisr, replying to rport.  Then
 * lwkt_domsg(netisr_port(cpu), &nm->nm_lmsg, 0) or lwkt_sendmsg().
 */
void netmsg_init(struct netmsg *nm, lwkt_port_t rport, netisr_fn_t fn);

/* A reply-only port for fire-and-forget messages that stay allocated:
 * a reply only marks them DONE (timers, table updates). */
lwkt_port_t netisr_done_port(void);

/*
 * Run fn on every CPU's netisr, one after the other, and wait for each
 * (a table update every CPU must make).  Thread context, not a netisr.
 */
void netisr_domsg_all(struct netmsg *nm, netisr_fn_t fn);

/* Register fn to run after each batch a netisr finishes.  Boot. */
void netisr_register_rollup(void (*fn)(void));

/* Messages each netisr served (netstat). */
uint64_t netisr_served(int cpu);

#endif /* NET_NETISR_H */
