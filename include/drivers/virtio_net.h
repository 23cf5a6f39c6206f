/*
 * drivers/virtio_net.h - what the virtio network driver
 * (drivers/virtio_net.c) tells the rest of the kernel beyond its ifnet.
 */
#ifndef DRIVERS_VIRTIO_NET_H
#define DRIVERS_VIRTIO_NET_H

#include <kern/types.h>

struct ifnet;

/*
 * Frames each receive queue of ifp has taken since attach, into
 * counts[0..max).  Returns how many queue pairs the device runs, or 0 if
 * ifp is not a virtio-net interface.  Any thread; the counts are read
 * without stopping the queues, so each is a moment's value.
 */
int vnet_rx_per_queue(struct ifnet *ifp, uint64_t *counts, int max);

#endif /* DRIVERS_VIRTIO_NET_H */
