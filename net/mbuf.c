/*
 * mbuf.c - packet buffers and their per-CPU caches.
 *
 * An mbuf is a header (struct mbuf, which begins with the packet's
 * message) and a 2 KiB cluster.  Both come from kmalloc, but a freed pair
 * is kept on the freeing CPU's cache (up to MBUF_CACHE_MAX) so that the
 * steady state of a busy interface allocates nothing: m_get pops a ready
 * pair in a critical section, m_freem pushes it back.  No lock: a cache is
 * touched only by its own CPU.
 *
 * The life of a received packet, as an example:
 *
 *   driver: m_get, post cluster to the device ... frame arrives
 *   driver: ether_input -> lwkt_sendmsg(netisr port, m)    message out
 *   netisr: ip_input ... icmp echo: turn m into the reply
 *   netisr: ether_output -> lwkt_forwardmsg(driver port)  still out
 *   driver: device sent it -> m_freem(m)                 = the reply
 *   reply port (mbuf_reply): back into this CPU's cache
 *
 * A packet that never went out as a message (built and dropped in one
 * thread) is freed without a reply.  mbuf_live() counts pairs handed out
 * and not yet freed: the test harness's leak check.
 */
#include <kern/types.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/ktest.h>
#include <kern/thread.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/msgport.h>
#include <kern/panic.h>
#include <machine/cpufunc.h>
#include <machine/vmparam.h>
#include <net/mbuf.h>

MALLOC_DEFINE(M_MBUF, "mbuf", "packet buffers (headers and clusters)");

#define MBUF_CACHE_MAX	512	/* pairs kept per CPU */

/*
 * One CPU's cache of ready (header, cluster) pairs, touched only by its
 * own CPU in a critical section (a driver's interrupt thread may preempt
 * a netisr on the same CPU, and both take buffers):
 *
 *   free -> [mbuf | cluster] -> [mbuf | cluster] -> ... (count of them)
 *            linked through m_nextpkt, newest first (the warmest cache
 *            lines are reused first)
 *
 * Aligned to a cache line, so two CPUs' caches never share one.
 */
struct mbuf_cache {
	struct mbuf *free;		/* linked by m_nextpkt */
	int count;
	int64_t live;			/* handed out minus freed here */
} __aligned(CACHE_LINE_SIZE);

static struct mbuf_cache mbuf_caches[MAXCPU];
static struct lwkt_port mbuf_free_port;	/* replies free the packet */
static bool mbuf_ready;

static void mbuf_reply(lwkt_port_t port, lwkt_msg_t msg);

/* The free port is made once, at the first m_get (a driver attaching
 * before net_init) or at net_init, whichever comes first: always at
 * boot, never inside a test. */
void mbuf_init(void)
{
	if (mbuf_ready)
		return;
	lwkt_initport_replyonly(&mbuf_free_port, mbuf_reply);
	mbuf_ready = true;
}

/* A new pair from kmalloc; NULL when memory is short. */
static struct mbuf *mbuf_alloc_pair(void)
{
	struct mbuf *m = kmalloc(sizeof(*m), M_MBUF, M_NOWAIT);

	if (m == NULL)
		return NULL;
	m->m_buf = kmalloc(MCLBYTES, M_MBUF, M_NOWAIT);
	if (m->m_buf == NULL) {
		kfree(m, M_MBUF);
		return NULL;
	}
	return m;
}

/* Contract in include/net/mbuf.h.  The fast path is this CPU's cache
 * in a critical section (the cache is the CPU's alone, so no lock);
 * only an empty cache goes to kmalloc.  Every field a previous user may
 * have set is reset here, so a recycled packet carries nothing over. */
struct mbuf *m_get(void)
{
	struct mbuf_cache *c;
	struct mbuf *m;

	mbuf_init();
	crit_enter();
	c = &mbuf_caches[mycpuid];
	if ((m = c->free) != NULL) {
		c->free = m->m_nextpkt;
		c->count--;
	}
	c->live++;		/* counted before a kmalloc that may fail */
	crit_exit();
	if (m == NULL && (m = mbuf_alloc_pair()) == NULL) {
		crit_enter();
		mbuf_caches[mycpuid].live--;
		crit_exit();
		return NULL;
	}
	/* The message starts idle (DONE), replying to the free port. */
	lwkt_initmsg(&m->m_msg.nm_lmsg, &mbuf_free_port, 0);
	m->m_msg.nm_dispatch = NULL;
	m->m_next = m->m_nextpkt = NULL;
	m->m_data = m->m_buf + MHEADROOM;
	m->m_len = 0;
	m->m_flags = 0;
	m->m_hash = 0;
	m->m_ifp = NULL;
	m->m_rxstamp = 0;
	return m;
}

/* ---- the receive-path probe (include/net/mbuf.h) -------------------------- */

/* The receive-path benchmark (tests/net/bench_net.c): the driver stamps
 * each frame with the TSC at its interrupt, and UDP reports the ticks
 * to the socket here.  Off, it costs one test per datagram.  Sums are
 * atomic: every CPU's UDP may add to them. */
volatile bool net_rxprobe_on;
static uint64_t rxprobe_ticks, rxprobe_packets;

/* Zero the sums (the benchmark, before its packets). */
void net_rxprobe_reset(void)
{
	__atomic_store_n(&rxprobe_ticks, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&rxprobe_packets, 0, __ATOMIC_RELAXED);
}

/* A stamped packet reached its socket: count the ticks since the stamp. */
void net_rxprobe_hit(const struct mbuf *m)
{
	if (!net_rxprobe_on || m->m_rxstamp == 0)
		return;
	__atomic_fetch_add(&rxprobe_ticks, rdtsc() - m->m_rxstamp,
			   __ATOMIC_RELAXED);
	__atomic_fetch_add(&rxprobe_packets, 1, __ATOMIC_RELAXED);
}

/* The sums so far: ticks from stamps to sockets, and packets counted. */
void net_rxprobe_read(uint64_t *ticks, uint64_t *packets)
{
	*ticks = __atomic_load_n(&rxprobe_ticks, __ATOMIC_RELAXED);
	*packets = __atomic_load_n(&rxprobe_packets, __ATOMIC_RELAXED);
}

/* Back into this CPU's cache, or to kmalloc when the cache is full (a
 * burst on one CPU does not pin memory for ever).  Any CPU: the pair
 * joins the cache of the CPU that frees it, whichever allocated it. */
static void mbuf_put(struct mbuf *m)
{
	struct mbuf_cache *c;

	crit_enter();
	c = &mbuf_caches[mycpuid];
	c->live--;
	if (c->count < MBUF_CACHE_MAX) {
		m->m_nextpkt = c->free;
		c->free = m;
		c->count++;
		m = NULL;
	}
	crit_exit();
	if (m != NULL) {
		kfree(m->m_buf, M_MBUF);
		kfree(m, M_MBUF);
	}
}

/* The free port's reply function: the packet's last owner let go. */
static void mbuf_reply(lwkt_port_t port __unused, lwkt_msg_t msg)
{
	mbuf_put((struct mbuf *)msg);
}

/* Contract in include/net/mbuf.h.  A packet that travelled as a message
 * is freed by replying it (mbuf_reply puts it back); one that never left
 * its thread goes back to the cache directly. */
void m_freem(struct mbuf *m)
{
	while (m != NULL) {
		struct mbuf *next = m->m_next;

		/* Only the head's message can be out; chained buffers
		 * are never sent on their own. */
		if (!(m->m_msg.nm_lmsg.ms_flags & MSGF_DONE))
			lwkt_replymsg(&m->m_msg.nm_lmsg, 0);
		else
			mbuf_put(m);
		m = next;
	}
}

/* The bytes of the whole packet, every chained buffer's m_len summed;
 * the protocols flatten a chain first, so usually one step. */
uint32_t m_pktlen(const struct mbuf *m)
{
	uint32_t len = 0;

	for (; m != NULL; m = m->m_next)
		len += m->m_len;
	return len;
}

/* Headers grow towards the front of the cluster: every buffer starts
 * with MHEADROOM (128) bytes free, where the 20 of IP, the 20 to 60 of
 * TCP, the 14 of Ethernet and the 12 of virtio-net's header all fit.
 * Returns the new front, or NULL (nothing changed) without room. */
void *m_prepend(struct mbuf *m, uint32_t len)
{
	if (m_headroom(m) < len)
		return NULL;
	m->m_data -= len;
	m->m_len += len;
	return m->m_data;
}

/* Strip a header that has been read: the data start moves past it,
 * the bytes stay where they are (a reply may grow it back in place). */
void m_adj(struct mbuf *m, uint32_t len)
{
	KASSERT(len <= m->m_len, "m_adj: dropping %u of %u bytes", len,
		m->m_len);
	m->m_data += len;
	m->m_len -= len;
}

/* Copy bytes to the end of the buffer (payloads, padding); false, and
 * nothing copied, if they do not fit in the tailroom. */
bool m_append(struct mbuf *m, const void *p, uint32_t len)
{
	if (m_tailroom(m) < len)
		return false;
	memcpy(m->m_data + m->m_len, p, len);
	m->m_len += len;
	return true;
}

/* Copy every chained buffer into the first and free them; a packet
 * longer than the first cluster's room cannot be flattened (dropped by
 * the caller: with the features we accept, frames never are). */
bool m_flatten(struct mbuf *m)
{
	struct mbuf *n;

	if (m->m_next == NULL)
		return true;
	if (m_pktlen(m) > MCLBYTES - m_headroom(m))
		return false;
	while ((n = m->m_next) != NULL) {
		memcpy(m->m_data + m->m_len, n->m_data, n->m_len);
		m->m_len += n->m_len;
		m->m_next = n->m_next;
		n->m_next = NULL;
		m_freem(n);
	}
	return true;
}

/* The one rule for handing on a packet: an idle message is sent, one
 * that is out (the packet came to us as a message) is forwarded, so it
 * still gets exactly one reply in the end. */
void m_send_to(lwkt_port_t port, struct mbuf *m)
{
	if (m->m_msg.nm_lmsg.ms_flags & MSGF_DONE)
		lwkt_sendmsg(port, &m->m_msg.nm_lmsg);
	else
		lwkt_forwardmsg(port, &m->m_msg.nm_lmsg);
}

/* The packet becomes a message for CPU cpu's netisr, to be served by
 * fn: no allocation, the mbuf's own netmsg carries it. */
void netisr_queue(int cpu, struct mbuf *m, netisr_fn_t fn)
{
	m->m_msg.nm_dispatch = fn;
	/* Already that netisr (a loopback packet): run it before this
	 * message ends, without a trip through the port. */
	if (netisr_queue_local(cpu, &m->m_msg))
		return;
	m_send_to(netisr_port(cpu), m);
}

/* Clusters are kmalloc chunks in the direct map, so their physical
 * address is an offset away; a 2 KiB chunk never crosses a page, so
 * one address and a length make a whole virtio descriptor. */
vm_paddr_t m_phys(const void *p)
{
	return DMAP_TO_PHYS(p);
}

/* Summed over the CPUs: one CPU's count may go negative (it freed
 * buffers another allocated); only the sum means anything. */
uint64_t mbuf_live(void)
{
	int64_t live = 0;

	for (int cpu = 0; cpu < MAXCPU; cpu++)
		live += mbuf_caches[cpu].live;
	return (uint64_t)live;
}

/* Give this CPU's cached pairs back to kmalloc. */
static void mbuf_drain_cpu(void)
{
	struct mbuf *m;

	for (;;) {
		crit_enter();
		struct mbuf_cache *c = &mbuf_caches[mycpuid];
		if ((m = c->free) != NULL) {
			c->free = m->m_nextpkt;
			c->count--;
		}
		crit_exit();
		if (m == NULL)
			return;
		kfree(m->m_buf, M_MBUF);
		kfree(m, M_MBUF);
	}
}

/* Give every CPU's cached pairs back to kmalloc (the leak check's
 * drain, before the memory counts are compared).  The caller visits
 * every CPU in turn, since a cache is only its CPU's, and comes home.
 * Thread context; it migrates, so never from a netisr. */
void mbuf_drain(void)
{
	int home = mycpuid;

	for (int cpu = 0; cpu < ncpus; cpu++) {
		lwkt_migratecpu(cpu);
		mbuf_drain_cpu();
	}
	lwkt_migratecpu(home);
}

/* The leak check's count: pairs handed out and not yet freed. */
static uint64_t mbuf_leak_sample(void)
{
	return mbuf_live();
}

KTEST_LEAKCHECK(mbufs, "mbufs", mbuf_leak_sample, NULL);
KTEST_DRAIN(mbufs, "mbuf caches", mbuf_drain);
