/*
 * bench_net.c - what the stack costs, over the in-kernel loopback
 * (docs/net.md, "Measured").  Both ends live in this boot; every socket
 * call is a message to the netisr that owns the flow, and every segment
 * goes down through ip_output and up through ip_input on that netisr,
 * as on a wire -- only the device is missing.
 *
 *   net_tcp_echo_1byte_roundtrip  one byte each way on an established
 *                                 connection: four socket calls, two
 *                                 segments (each carries the other's ACK)
 *   net_tcp_bulk_per_byte         16 KiB sent and read back per round,
 *                                 reported per byte
 *   net_udp_send_recv_64          one 64-byte datagram sent and received
 *   net_rx_udp_interrupt_to_socket
 *                                 a 64-byte datagram received by
 *                                 virtio-net, from the driver taking the
 *                                 receive interrupt to the datagram in
 *                                 its socket (the wire below)
 *
 * The harness runs a body with interrupts off, so nothing here may wait
 * for a timer: TCP_NODELAY on both ends, and reads that drain what was
 * sent before the next send.  The receive-path row is the exception: it
 * needs the device's interrupt, turns interrupts on for its packets and
 * times only the path itself (the probe in include/net/mbuf.h).
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/clock.h>
#include <kern/kbench.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <machine/cpufunc.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/mbuf.h>
#include <net/socket.h>

#define LOOP		0x0100007fu	/* 127.0.0.1, network order */
#define BENCH_PORT	7900
#define BULK		16384

struct bench_pair {
	struct socket *lsn, *cli, *srv;
};

/* A connected pair on port BENCH_PORT + k; false if it could not be
 * made (then nothing is left open). */
static bool pair_open(struct bench_pair *p, int k)
{
	uint16_t port = htons((uint16_t)(BENCH_PORT + k));

	memset(p, 0, sizeof(*p));
	if (so_create(SOCK_STREAM, &p->lsn) != 0)
		return false;
	if (so_bind(p->lsn, LOOP, port) != 0 || so_listen(p->lsn, 1) != 0 ||
	    so_create(SOCK_STREAM, &p->cli) != 0) {
		so_close(p->lsn);
		return false;
	}
	if (so_connect(p->cli, LOOP, port) != 0 ||
	    so_accept(p->lsn, &p->srv, NULL, NULL) != 0) {
		so_close(p->cli);
		so_close(p->lsn);
		return false;
	}
	so_setopt(p->cli, TCP_NODELAY, 1);
	so_setopt(p->srv, TCP_NODELAY, 1);
	return true;
}

/* Both ends and the listener; the connection passes TIME_WAIT later,
 * on the netisr's clock, once the harness turns interrupts back on. */
static void pair_close(struct bench_pair *p)
{
	so_close(p->cli);
	so_close(p->srv);
	so_close(p->lsn);
}

/* Read exactly len bytes from so; false on an error or end of stream. */
static bool read_all(struct socket *so, uint8_t *buf, size_t len)
{
	size_t got = 0, n;

	while (got < len) {
		if (so_recv(so, buf + got, len - got, 0, &n) != 0 || n == 0)
			return false;
		got += n;
	}
	return true;
}

/*
 * The client sends one byte, the server reads it and sends it back, the
 * client reads it.  Each data segment carries the ACK of the one before
 * it, so no delayed ACK and no timer is involved: the round trip is the
 * four calls (each a message to the netisr and its reply) and the two
 * segments' trips down and up the stack.
 */
KBENCH(net_tcp_echo_1byte_roundtrip, 2000)
{
	struct bench_pair p;
	uint8_t c = 'x';
	size_t done;

	if (!pair_open(&p, 0)) {
		kbench_skip("no loopback connection");
		return;
	}
	for (uint64_t i = 0; i < n; i++) {
		so_send(p.cli, &c, 1, 0, &done);
		read_all(p.srv, &c, 1);
		so_send(p.srv, &c, 1, 0, &done);
		read_all(p.cli, &c, 1);
	}
	pair_close(&p);
}

/*
 * 16 KiB into the send buffer, then read on the other end until all of
 * it arrived: full segments, the receive window opening as the reader
 * drains it, ACKs for every second segment.  The time of the whole
 * round is divided by the bytes it moved.
 */
KBENCH(net_tcp_bulk_per_byte, 64)
{
	struct bench_pair p;
	uint8_t *buf = kmalloc(BULK, M_TEMP, M_WAITOK | M_ZERO);
	uint64_t t0;
	size_t done;

	if (!pair_open(&p, 1)) {
		kfree(buf, M_TEMP);
		kbench_skip("no loopback connection");
		return;
	}
	t0 = rdtsc();
	for (uint64_t i = 0; i < n; i++) {
		so_send(p.cli, buf, BULK, 0, &done);
		read_all(p.srv, buf, BULK);
	}
	kbench_report(rdtsc() - t0, n * BULK);
	pair_close(&p);
	kfree(buf, M_TEMP);
}

/*
 * One datagram from an unbound socket (bound once, on the first send) to
 * a bound one, and read there: the send's message, udp_output, the
 * loopback into the receiver's netisr, its queue, the recv's message.
 */
KBENCH(net_udp_send_recv_64, 2000)
{
	struct socket *a, *b;
	uint8_t buf[64] = { 0 };
	uint16_t port = htons(BENCH_PORT + 2);
	size_t done;

	if (so_create(SOCK_DGRAM, &a) != 0) {
		kbench_skip("no socket");
		return;
	}
	if (so_create(SOCK_DGRAM, &b) != 0) {
		kbench_skip("no socket");
		so_close(a);
		return;
	}
	if (so_bind(a, LOOP, port) != 0) {
		kbench_skip("loopback port taken");
		so_close(a);
		so_close(b);
		return;
	}
	for (uint64_t i = 0; i < n; i++) {
		so_sendto(b, buf, sizeof(buf), 0, LOOP, port, &done);
		so_recv(a, buf, sizeof(buf), 0, &done);
	}
	so_close(a);
	so_close(b);
}

/* ---- the receive path from the device -------------------------------------- */

/*
 * make bench gives the boot a virtio-net device whose wire reflects
 * every frame back to it (tools/kbench: QEMU's socket backend sending
 * UDP datagrams to its own address).  The benchmark sends, for each
 * packet, an Ethernet frame addressed to our own MAC holding a datagram
 * from a made-up peer (10.99.0.2) to a bound socket; the frame leaves
 * through the device, comes back, and takes the whole receive path:
 * the interrupt message to the driver's thread, the used ring, the
 * frame's checks, the flow hash, the message to the netisr, IP, UDP, the
 * socket's queue.  The probe counts ticks from the driver taking the
 * interrupt to the datagram in its queue (under -icount, instructions).
 */
#define RX_ADDR		0x0163630au	/* 10.99.99.1, network order */
#define RX_PEER		0x0263630au	/* 10.99.99.2 */
#define RX_PORT		(BENCH_PORT + 3)

/* One frame from RX_PEER to (RX_ADDR, RX_PORT) out of ifp, addressed to
 * ifp's own MAC.  False if no buffer. */
static bool rx_send_one(struct ifnet *ifp)
{
	struct mbuf *m = m_get();
	struct ip *ip;
	struct udphdr *uh;

	if (m == NULL)
		return false;
	ip = (struct ip *)m->m_data;
	uh = (struct udphdr *)(ip + 1);
	memset(ip, 0, sizeof(*ip) + sizeof(*uh) + 64);
	ip->ip_vhl = 0x45;
	ip->ip_len = htons(sizeof(*ip) + sizeof(*uh) + 64);
	ip->ip_ttl = IPDEFTTL;
	ip->ip_p = IPPROTO_UDP;
	ip->ip_src = RX_PEER;
	ip->ip_dst = RX_ADDR;
	ip->ip_sum = in_cksum(ip, sizeof(*ip));
	uh->uh_sport = htons(RX_PORT);
	uh->uh_dport = htons(RX_PORT);
	uh->uh_ulen = htons(sizeof(*uh) + 64);	/* checksum 0: none */
	m->m_len = sizeof(*ip) + sizeof(*uh) + 64;
	ether_output(ifp, m, ifp->if_mac, ETHERTYPE_IP);
	return true;
}

/* n frames out and back, one at a time, interrupts on; the probe's
 * ticks per packet go to the harness.  A frame the wire lost costs a
 * second and is not counted. */
static void rx_round(struct ifnet *ifp, struct socket *so, uint64_t n)
{
	uint64_t rf = read_rflags(), ticks, packets;
	uint8_t buf[64];
	size_t done;

	net_rxprobe_reset();
	net_rxprobe_on = true;
	cpu_enable_intr();
	for (uint64_t i = 0; i < n; i++)
		if (rx_send_one(ifp))
			so_recv(so, buf, sizeof(buf), 0, &done);
	write_rflags(rf);
	net_rxprobe_on = false;
	net_rxprobe_read(&ticks, &packets);
	if (packets == 0)
		kbench_skip("no frame came back on the wire");
	else
		kbench_report(ticks, packets);
}

KBENCH(net_rx_udp_interrupt_to_socket, 200)
{
	struct ifnet *ifp = if_find("vnet0");
	struct socket *so;

	if (ifp == NULL) {
		kbench_skip("no virtio-net device in this boot");
		return;
	}
	if (ifp->if_addr != RX_ADDR)
		if_set_addr(ifp, RX_ADDR, htonl(0xffffff00u), 0);
	if (so_create(SOCK_DGRAM, &so) != 0) {
		kbench_skip("no socket");
		return;
	}
	so_setopt(so, SO_RCVTIMEO, HZ);
	if (so_bind(so, 0, htons(RX_PORT)) != 0) {
		kbench_skip("port taken");
		so_close(so);
		return;
	}
	rx_round(ifp, so, n);
	so_close(so);
}
