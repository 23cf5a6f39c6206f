/*
 * net_testlib.h - helpers the network suites share (tests/net/).
 *
 * A test interface: an ifnet with no device whose output lands on a spin
 * port the test reads, so a test can inject a frame with ether_input and
 * look at exactly what the stack sent back.  And the host peer: a test
 * asks the runner (tools/ktestlib/netns.py) to run a named scenario --
 * ping, curl, scapy -- on the Linux side of the tap wire, and reads its
 * exit status back through the serial port.
 */
#ifndef TESTS_NET_TESTLIB_H
#define TESTS_NET_TESTLIB_H

#include <kern/types.h>
#include <net/if.h>
#include <net/inet.h>
#include <net/mbuf.h>

/* The test interface's addresses: 10.9.9.1/24 is the stack's, the peer
 * 10.9.9.2 has PEER_MAC. */
#define TIF_ADDR	0x0109090au	/* 10.9.9.1, network order */
#define TIF_PEER	0x0209090au	/* 10.9.9.2 */
extern const uint8_t tif_mac[ETHER_ADDR_LEN], tif_peer_mac[ETHER_ADDR_LEN];

/* Attach and configure the test interface; drain its gratuitous ARP. */
struct ifnet *tif_up(void);
/* The test interface (after tif_up). */
struct ifnet *tif_find(void);
/* Detach it, dropping whatever it still holds. */
void tif_down(void);
/* The next frame the stack sent on it (Ethernet header included), or
 * NULL after timo ticks.  The caller m_freem()s it. */
struct mbuf *tif_next(int timo);
/* Wait until every netisr has finished what was queued (two rounds). */
void net_settle(void);

/* A frame from the peer: Ethernet header to us, then len bytes. */
struct mbuf *tif_frame(uint16_t type, const void *payload, uint32_t len);
/* An IPv4 datagram from the peer to us: header built, checksums right. */
struct mbuf *tif_ip(uint8_t proto, const void *payload, uint32_t len);
/* Fill a TCP/UDP checksum for payload p of len bytes (peer -> us). */
void tif_l4_cksum(uint8_t proto, void *p, uint32_t len);

/* ---- the host peer ------------------------------------------------------ */

struct peer_result {
	int status;			/* the scenario's exit status */
	char detail[96];		/* one line it printed */
};

#define PEER_SKIP	77		/* the runner could not make a wire */

/*
 * Run a scenario on the Linux side (the runner's agent), wait for its
 * result.  Skips the test when no wire exists, and fails it when no
 * answer comes.  Also makes sure vnet0 is 192.0.2.2/24.
 */
void peer_run(struct peer_result *r, const char *fmt, ...)
	__printflike(2, 3);

/* Skip unless a host peer is there (a NIC, a wire, an agent). */
void peer_require(void);

/* The virtio interface, configured; skips the test if there is none. */
struct ifnet *peer_if(void);


#endif /* TESTS_NET_TESTLIB_H */
