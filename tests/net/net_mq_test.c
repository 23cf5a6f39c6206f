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
 */
#include <kern/types.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <drivers/virtio_net.h>
#include <net/if.h>
#include <net/net.h>
#include <net/netstat.h>
#include "net_testlib.h"

#define CONNECTIONS	40

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
