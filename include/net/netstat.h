/*
 * net/netstat.h - the stack's counters (net/netstat.c).
 *
 * One struct netstat per CPU.  Only threads of that CPU bump its slot
 * (netisrs and drivers are bound to their CPUs), each with one
 * instruction, so no lock and no atomic is needed; a reader sums the
 * slots.  Every packet the stack drops is counted under the reason, so a
 * test can say "this malformed frame was dropped, and why".
 *
 * The list is an X-macro: one line per counter, its name as printed by
 * the shell's netstat and as tests name it.
 */
#ifndef NET_NETSTAT_H
#define NET_NETSTAT_H

#include <kern/types.h>
#include <machine/cpu.h>
#include <machine/param.h>

#define NETSTAT_COUNTERS(X)						\
	X(ether_in) X(ether_runt) X(ether_notme) X(ether_badtype)	\
	X(ether_out) X(ether_nomem) X(ether_nostack)					\
	X(arp_in) X(arp_bad) X(arp_request_in) X(arp_reply_in)	\
	X(arp_request_out) X(arp_reply_out) X(arp_hold_dropped)		\
	X(arp_timeout) X(arp_gratuitous)				\
	X(ip_in) X(ip_badver) X(ip_badhlen) X(ip_badlen) X(ip_badsum)	\
	X(ip_fragdrop) X(ip_notme) X(ip_noproto) X(ip_out)		\
	X(ip_noroute) X(ip_toobig)					\
	X(icmp_in) X(icmp_badlen) X(icmp_badsum) X(icmp_echo_in)	\
	X(icmp_echo_reply_out) X(icmp_unreach_out) X(icmp_error_in)	\
	X(icmp_echo_reply_in) X(icmp_noerror)				\
	X(udp_in) X(udp_badlen) X(udp_badsum) X(udp_noport)		\
	X(udp_fullsock) X(udp_out)					\
	X(tcp_in) X(tcp_badlen) X(tcp_badsum) X(tcp_badoff)		\
	X(tcp_badopt) X(tcp_noport) X(tcp_rst_out) X(tcp_rst_in)	\
	X(tcp_rst_ignored) X(tcp_challenge_ack) X(tcp_syn_in)		\
	X(tcp_accepts) X(tcp_connects) X(tcp_established)		\
	X(tcp_closed) X(tcp_drops) X(tcp_timewait)			\
	X(tcp_sndpack) X(tcp_sndbyte) X(tcp_sndrexmitpack)		\
	X(tcp_sndrexmitbyte) X(tcp_sndacks) X(tcp_delack_sent)		\
	X(tcp_delack_timer) X(tcp_rcvpack) X(tcp_rcvbyte)		\
	X(tcp_rcvoo) X(tcp_rcvdupack) X(tcp_rcvdup) X(tcp_rcvafterwin)	\
	X(tcp_rexmt_timeout) X(tcp_fastrexmt) X(tcp_partialack)	\
	X(tcp_persist_probe) X(tcp_rttupdated) X(tcp_wrong_cpu)		\
	X(sock_wrong_cpu) X(vnet_rx_lostintr) X(vnet_rx_idlekick)	\
	X(tcp_rx_oncpu) X(tcp_rx_offcpu) X(so_calls_here)		\
	X(udp_rx_oncpu) X(udp_rx_offcpu) X(udp_forwarded)		\
	X(iperf_tests) X(iperf_bad) X(iperf_denied) X(iperf_refused)	\
	X(tcp_loop_ring) X(tcp_loop_ringgone)

struct netstat {
#define NETSTAT_FIELD(name) uint64_t name;
	NETSTAT_COUNTERS(NETSTAT_FIELD)
#undef NETSTAT_FIELD
} __aligned(CACHE_LINE_SIZE);

extern struct netstat netstat_cpu[MAXCPU];

/* Bump a counter on this CPU: one instruction, so an interrupt or a
 * switch between threads of this CPU cannot split it. */
#define NETSTAT_INC(name) NETSTAT_ADD(name, 1)
#define NETSTAT_ADD(name, n)						\
	__asm__ volatile("addq %1, %0"					\
			 : "+m"(netstat_cpu[cpu_current_id()].name)	\
			 : "er"((uint64_t)(n)))

/* The counters summed over CPUs. */
void netstat_sum(struct netstat *out);

/* The value of one counter by name (tests), or -1 if there is none. */
int64_t netstat_get(const char *name);

/* Print every non-zero counter (shell's netstat). */
void netstat_print(void);

#endif /* NET_NETSTAT_H */
