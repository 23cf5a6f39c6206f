/*
 * net_testlib.c - the test interface and the host peer (net_testlib.h).
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/msgport.h>
#include <kern/synch.h>
#include <drivers/uart16550.h>
#include <net/netisr.h>
#include "net_testlib.h"

const uint8_t tif_mac[ETHER_ADDR_LEN] = { 0x02, 0, 0, 0, 0x0a, 0x01 };
const uint8_t tif_peer_mac[ETHER_ADDR_LEN] = { 0x02, 0, 0, 0, 0x0a, 0x02 };

static struct ifnet tif;
static struct lwkt_port tif_port;	/* spin port: output lands here */
static bool tif_attached;		/* a failed test may leave it up */

/* The interface's output: the frame is a message to the test. */
static void tif_output(struct ifnet *ifp __unused, struct mbuf *m)
{
	m_send_to(&tif_port, m);
}

struct mbuf *tif_next(int timo)
{
	return (struct mbuf *)lwkt_waitport(&tif_port, 0, timo, NULL);
}

static void settle_cpu(struct netmsg *nm)
{
	lwkt_replymsg(&nm->nm_lmsg, 0);
}

void net_settle(void)
{
	struct netmsg nm;

	for (int round = 0; round < 3; round++)
		netisr_domsg_all(&nm, settle_cpu);
}

struct ifnet *tif_up(void)
{
	struct mbuf *m;

	if (tif_attached)
		tif_down();
	tif_attached = true;
	lwkt_initport_spin(&tif_port, "tif");
	memset(&tif, 0, sizeof(tif));
	strlcpy(tif.if_name, "tif0", IFNAMSIZ);
	memcpy(tif.if_mac, tif_mac, ETHER_ADDR_LEN);
	tif.if_output = tif_output;
	tif.if_link_up = true;
	if_attach(&tif);
	if_set_addr(&tif, TIF_ADDR, htonl(0xffffff00u), 0);
	net_settle();
	while ((m = tif_next(1)) != NULL)	/* the gratuitous ARP */
		m_freem(m);
	return &tif;
}

struct ifnet *tif_find(void)
{
	return &tif;
}

void tif_down(void)
{
	struct mbuf *m;

	if_set_addr(&tif, 0, 0, 0);
	net_settle();
	if_detach(&tif);
	while ((m = tif_next(1)) != NULL)
		m_freem(m);
	lwkt_destroyport(&tif_port);
	tif_attached = false;
}

struct mbuf *tif_frame(uint16_t type, const void *payload, uint32_t len)
{
	struct mbuf *m = m_get();
	struct ether_header *eh;

	KASSERT(m != NULL && len <= MDATAMAX - ETHER_HDR_LEN,
		"tif_frame: no buffer for %u bytes", len);
	eh = (struct ether_header *)m->m_data;
	memcpy(eh->ether_dhost, tif_mac, ETHER_ADDR_LEN);
	memcpy(eh->ether_shost, tif_peer_mac, ETHER_ADDR_LEN);
	eh->ether_type = htons(type);
	memcpy(eh + 1, payload, len);
	m->m_len = ETHER_HDR_LEN + len;
	return m;
}

void tif_l4_cksum(uint8_t proto, void *p, uint32_t len)
{
	/* The checksum field: offset 16 in TCP, 6 in UDP. */
	uint8_t *field = (uint8_t *)p + (proto == IPPROTO_TCP ? 16 : 6);
	uint16_t sum = 0;

	memcpy(field, &sum, 2);
	sum = in_cksum_fin(in_cksum_add(in_pseudo(TIF_PEER, TIF_ADDR, proto,
						  (uint16_t)len), p, len));
	memcpy(field, &sum, 2);
}

struct mbuf *tif_ip(uint8_t proto, const void *payload, uint32_t len)
{
	uint8_t buf[1500];
	struct ip *ip = (struct ip *)buf;

	KASSERT(len + sizeof(*ip) <= sizeof(buf), "tif_ip: %u bytes", len);
	memset(ip, 0, sizeof(*ip));
	ip->ip_vhl = 0x45;
	ip->ip_len = htons((uint16_t)(sizeof(*ip) + len));
	ip->ip_ttl = 64;
	ip->ip_p = proto;
	ip->ip_src = TIF_PEER;
	ip->ip_dst = TIF_ADDR;
	ip->ip_sum = in_cksum(ip, sizeof(*ip));
	memcpy(ip + 1, payload, len);
	return tif_frame(ETHERTYPE_IP, buf, sizeof(*ip) + len);
}

/* ---- the host peer ------------------------------------------------------ */

#define PEER_WAIT_FIRST	(10 * HZ)	/* is anyone there at all? */
#define PEER_WAIT	(240 * HZ)	/* a scenario under a loaded TCG */

static int peer_seq;
static bool peer_absent;		/* no agent answered: skip the rest */

struct ifnet *peer_if(void)
{
	struct ifnet *ifp = if_find("vnet0");
	uint32_t addr, mask = htonl(0xffffff00u);

	if (ifp == NULL)
		KT_SKIP("no virtio-net device in this boot");
	inet_aton("192.0.2.2", &addr);
	if (ifp->if_addr != addr)
		if_set_addr(ifp, addr, mask, 0);
	return ifp;
}

/* Read one line from the serial port, waiting up to timo ticks. */
static bool peer_read_line(char *buf, size_t size, int timo)
{
	size_t len = 0;
	uint64_t deadline = ticks + timo;

	while (ticks < deadline) {
		int c = uart_getc();

		if (c < 0) {
			tsleep(&peer_seq, 0, "peer", 1);
			continue;
		}
		if (c == '\n') {
			buf[len] = '\0';
			return true;
		}
		if (c != '\r' && len + 1 < size)
			buf[len++] = (char)c;
	}
	return false;
}

/* Parse "peer ID STATUS DETAIL"; true if it answers request id. */
static bool peer_parse(const char *line, int id, struct peer_result *r)
{
	char want[24];
	uint64_t status;
	const char *p, *sp;
	size_t n = ksnprintf(want, sizeof(want), "peer %d ", id);

	if (strncmp(line, want, n) != 0)
		return false;
	p = line + n;
	sp = strchr(p, ' ');
	if (!parse_u64(p, sp ? (size_t)(sp - p) : strlen(p), &status))
		return false;
	r->status = (int)status;
	strlcpy(r->detail, sp ? sp + 1 : "", sizeof(r->detail));
	return true;
}

/* Send cmd; wait for its answer (the first request waits briefly). */
static void peer_request(struct peer_result *r, const char *cmd)
{
	char line[200];
	int id = ++peer_seq;

	ktest_diag("peer: %d %s", id, cmd);
	for (;;) {
		if (!peer_read_line(line, sizeof(line), id == 1 ?
				    PEER_WAIT_FIRST : PEER_WAIT)) {
			if (id == 1) {
				peer_absent = true;
				KT_SKIP("no host peer answers (run the suite "
					"through tools/ktest, which wires a "
					"tap)");
			}
			ktest_fail(__FILE__, __LINE__, "peer scenario \"%s\" "
				   "gave no answer", cmd);
			ktest_abort();
		}
		if (peer_parse(line, id, r))
			break;
	}
	ktest_diag("peer: %d -> %d %s", id, r->status, r->detail);
}

void peer_require(void)
{
	static struct peer_result hello;

	peer_if();
	if (peer_absent)
		KT_SKIP("no host peer answers (run the suite through "
			"tools/ktest, which wires a tap)");
	if (peer_seq == 0)		/* is there a wire at all? */
		peer_request(&hello, "hello");
	if (hello.status == PEER_SKIP)
		KT_SKIP(hello.detail);
}

void peer_run(struct peer_result *r, const char *fmt, ...)
{
	char cmd[160];
	va_list ap;

	peer_require();
	va_start(ap, fmt);
	kvsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	peer_request(r, cmd);
	if (r->status == PEER_SKIP)
		KT_SKIP(r->detail);
}
