/*
 * net_mq_test.c - multiqueue virtio-net and receive steering: suite
 * `net_mq`, in the `netmq` group (tests/ktest-groups) at two CPUs, whose
 * device offers two queue pairs (a tap with queues=2, mq=on, rss=on).
 *
 * The driver runs a pair per CPU and programs the device's RSS with the
 * stack's Toeplitz key (drivers/virtio_net.c), so every TCP segment
 * should arrive on the receive queue of the CPU whose netisr owns its
 * connection: ether_input counts each one as on its CPU or not
 * (tcp_rx_oncpu, tcp_rx_offcpu).  With one queue, at two CPUs, about
 * half would have to cross.
 *
 * UDP is steered by the same 4-tuple hash (net/udp.c): a connected
 * socket lives on its 4-tuple's CPU and its peer's datagrams arrive
 * there (udp_rx_oncpu, per CPU); a datagram for an unconnected socket
 * arrives on its flow's CPU and, if the socket lives on another (its
 * port's), is forwarded there as a message (udp_forwarded).
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <drivers/virtio_net.h>
#include <net/if.h>
#include <net/net.h>
#include <net/netisr.h>
#include <net/netstat.h>
#include <net/socket.h>
#include <net/socketvar.h>
#include "net_testlib.h"

#define CONNECTIONS	40
#define HOST_ADDR	"192.0.2.1"
#define UDP_SOCKS	8	/* connected sockets, one peer port each */
#define UDP_EACH	4	/* datagrams to each */
#define UDP_PORT	7300	/* ours: UDP_PORT + i */
#define UDP_PEER_PORT	7400	/* Linux's: UDP_PEER_PORT + i */
#define UDP_WILD_PORT	7500	/* an unconnected socket */
#define UDP_SENDERS	16	/* Linux ports that send to it */

/* Each CPU's count of one counter (netstat_cpu), into out[ncpus]. */
static void per_cpu(size_t offset, uint64_t *out)
{
	for (int cpu = 0; cpu < ncpus; cpu++)
		out[cpu] = *(const uint64_t *)((const char *)&netstat_cpu[cpu] +
					       offset);
}

/* Receive n datagrams on so (five seconds for each at most); how many
 * came. */
static int udp_take(struct socket *so, int n)
{
	char buf[64];
	int got = 0;
	size_t len;

	so_setopt(so, SO_RCVTIMEO, 5 * HZ);
	while (got < n && so_recv(so, buf, sizeof(buf), 0, &len) == 0)
		got++;
	return got;
}

KTEST(net_mq, the_device_runs_a_queue_pair_per_cpu)
{
	uint64_t frames[8];
	struct ifnet *ifp = peer_if();

	KT_EXPECT_EQ(vnet_rx_per_queue(ifp, frames, 8), ncpus);
}

KTEST(net_mq, tcp_segments_arrive_on_their_owning_cpus_queue)
{
	struct ifnet *ifp = peer_if();
	uint64_t before[8] = { 0 }, after[8] = { 0 };
	int64_t on = netstat_get("tcp_rx_oncpu");
	int64_t off = netstat_get("tcp_rx_offcpu");
	struct peer_result r;
	int pairs;

	if (ncpus < 2)
		KT_SKIP("steering needs two CPUs");
	pairs = vnet_rx_per_queue(ifp, before, 8);
	KT_ASSERT_EQ(pairs, ncpus);
	peer_run(&r, "parallel %d 2000", CONNECTIONS);
	KT_EXPECT_EQ(r.status, 0);
	vnet_rx_per_queue(ifp, after, 8);
	on = netstat_get("tcp_rx_oncpu") - on;
	off = netstat_get("tcp_rx_offcpu") - off;
	ktest_diag("%ld TCP segments arrived on their CPU, %ld crossed", on,
		   off);
	for (int i = 0; i < pairs; i++) {
		ktest_diag("queue %d took %lu frames", i, after[i] - before[i]);
		KT_EXPECT_GT(after[i] - before[i], 0);
	}
	/* Each connection: a handshake, data, FIN, ACKs, at least four. */
	KT_EXPECT_GE(on, 4 * CONNECTIONS);
	KT_EXPECT_EQ(off, 0);
}

/*
 * Eight sockets, each connected to its own Linux port: each lives on the
 * CPU its 4-tuple hashes to, and with RSS hashing UDP's 4-tuple every
 * datagram of its peer arrives on that CPU's queue -- none crosses, none
 * is forwarded, and each CPU counts the datagrams of its own sockets.
 */
KTEST(net_mq, udp_datagrams_arrive_on_their_connected_sockets_cpu)
{
	struct socket *so[UDP_SOCKS];
	uint64_t on0[MAXCPU], on1[MAXCPU], want[MAXCPU] = { 0 };
	int64_t off = netstat_get("udp_rx_offcpu");
	int64_t fwd = netstat_get("udp_forwarded");
	struct peer_result r;
	uint32_t host, guest;
	int got = 0;

	if (ncpus < 2)
		KT_SKIP("steering needs two CPUs");
	guest = peer_if()->if_addr;
	inet_aton(HOST_ADDR, &host);
	for (int i = 0; i < UDP_SOCKS; i++) {
		uint16_t lport = htons(UDP_PORT + i), fport =
			htons(UDP_PEER_PORT + i);

		KT_ASSERT_EQ(so_create(SOCK_DGRAM, &so[i]), 0);
		KT_ASSERT_EQ(so_bind(so[i], 0, lport), 0);
		KT_ASSERT_EQ(so_connect(so[i], host, fport), 0);
		KT_EXPECT_EQ(so_cpu(so[i]), netisr_hashcpu(netisr_hash4(host,
			guest, fport, lport)));
		want[so_cpu(so[i])] += UDP_EACH;
	}
	per_cpu(__builtin_offsetof(struct netstat, udp_rx_oncpu), on0);
	peer_run(&r, "udp_from %d 1 %d %d %d", UDP_PORT, UDP_PEER_PORT,
		 UDP_SOCKS, UDP_EACH);
	KT_EXPECT_EQ(r.status, 0);
	for (int i = 0; i < UDP_SOCKS; i++) {
		got += udp_take(so[i], UDP_EACH);
		so_close(so[i]);
	}
	per_cpu(__builtin_offsetof(struct netstat, udp_rx_oncpu), on1);
	KT_EXPECT_EQ(got, UDP_SOCKS * UDP_EACH);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		ktest_diag("cpu %d: %lu datagrams arrived on it, %lu for its "
			   "sockets", cpu, on1[cpu] - on0[cpu], want[cpu]);
		KT_EXPECT_GE(on1[cpu] - on0[cpu], want[cpu]);
	}
	KT_EXPECT_EQ(netstat_get("udp_rx_offcpu") - off, 0);
	KT_EXPECT_EQ(netstat_get("udp_forwarded") - fwd, 0);
}

/*
 * One unconnected socket and sixteen Linux ports sending to it: each
 * datagram arrives on its 4-tuple's CPU, and exactly those whose CPU is
 * not the socket's (its port's) are forwarded there as messages.
 */
KTEST(net_mq, udp_datagrams_for_an_unconnected_socket_are_forwarded_to_it)
{
	int64_t off = netstat_get("udp_rx_offcpu");
	int64_t fwd = netstat_get("udp_forwarded");
	uint16_t lport = htons(UDP_WILD_PORT);
	struct peer_result r;
	struct socket *so;
	uint32_t host, guest;
	int cross = 0, got;

	if (ncpus < 2)
		KT_SKIP("steering needs two CPUs");
	guest = peer_if()->if_addr;
	inet_aton(HOST_ADDR, &host);
	KT_ASSERT_EQ(so_create(SOCK_DGRAM, &so), 0);
	KT_ASSERT_EQ(so_bind(so, 0, lport), 0);
	KT_EXPECT_EQ(so_cpu(so), in_port_cpu(lport));
	for (int i = 0; i < UDP_SENDERS; i++)
		cross += netisr_hashcpu(netisr_hash4(host, guest,
			htons(UDP_PEER_PORT + i), lport)) != so_cpu(so);
	peer_run(&r, "udp_from %d 0 %d %d 1", UDP_WILD_PORT, UDP_PEER_PORT,
		 UDP_SENDERS);
	KT_EXPECT_EQ(r.status, 0);
	got = udp_take(so, UDP_SENDERS);
	so_close(so);
	ktest_diag("%d of %d datagrams crossed to the socket's CPU", cross,
		   UDP_SENDERS);
	KT_EXPECT_EQ(got, UDP_SENDERS);
	KT_EXPECT_GT(cross, 0);
	KT_EXPECT_EQ(netstat_get("udp_forwarded") - fwd, cross);
	KT_EXPECT_EQ(netstat_get("udp_rx_offcpu") - off, 0);
}
