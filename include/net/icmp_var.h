/*
 * net/icmp_var.h - ICMP echo from the kernel (net/icmp.c): the shell's
 * ping and the tests that ping a peer.
 */
#ifndef NET_ICMP_VAR_H
#define NET_ICMP_VAR_H

#include <kern/types.h>

/* The pinger's state: written by the netisr that gets the replies, read
 * by the pinging thread, which sleeps on &icmp_ping. */
struct icmp_ping {
	uint16_t id;			/* replies with another id are ignored */
	volatile uint32_t received;
	volatile uint16_t last_seq;
};

extern struct icmp_ping icmp_ping;

/*
 * Send one echo request of size data bytes to dst.  Returns 0 or an
 * errno.  Runs ip_output in the caller: call it on a netisr (the shell's
 * ping sends a message that does).
 */
int icmp_send_echo(uint32_t dst, uint16_t id, uint16_t seq, uint32_t size);

#endif /* NET_ICMP_VAR_H */
