/*
 * services.c - small servers in the kernel, for tests and for users:
 *
 *   port  proto     service     what it does
 *   7     TCP, UDP  echo        returns every byte / datagram (RFC 862)
 *   9     TCP, UDP  discard     reads and forgets (RFC 863)
 *   80    TCP       http        HTTP/1.1 GET and HEAD of files on the root
 *   5001  TCP       bulk        memory-to-memory transfer, bytes checked
 *   5201  TCP       iperf3      the iperf3 protocol (net/iperf.c)
 *
 * Each is written against the kernel socket API exactly as a user
 * program would be: a thread accepts, and each connection gets a thread
 * of its own on the connection's CPU (so its socket calls are messages
 * to a netisr on the same CPU, or calls in place).  net_init starts them
 * at boot when an interface exists; they run until the machine stops,
 * and are what the tests' Linux peers talk to (nc, socat, curl, iperf3).
 * A port already taken (a test that bound it first) is reported and
 * skipped.
 *
 * Bulk (port 5001), the memory-to-memory transfer iperf3 measures, in
 * both directions and with every byte checked: the client's first line
 * is "recv N" or "send N".  For "recv N" the client then sends N bytes of
 * the test pattern (bulk_byte) and we answer "N bytes, W wrong" once all
 * have come; for "send N" we send N bytes of the pattern and close.
 * iperf3's own protocol is served too (port 5201, net/iperf.c), but it
 * checks none of the bytes it moves: the tests use both.
 *
 * HTTP: GET and HEAD; a path names a file under the root ("/" is
 * /index.html); responses carry Content-Length; connections are kept
 * alive (HTTP/1.1's default) until the client says "Connection: close"
 * or speaks HTTP/1.0 without keep-alive.  Anything else gets 400, 404 or
 * 501.  A request must fit in REQ_MAX bytes.
 *
 * Limits, all of them deliberate: no request bodies (a POST gets 501,
 * and a body it carried would be read as the next request), no chunked
 * encoding, no Range, no percent-decoding of paths; a UDP
 * datagram longer than IOBUF is cut to IOBUF bytes before it is echoed.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <fs/vfs.h>
#include <net/if.h>
#include <net/iperf.h>
#include <net/net.h>
#include <net/socket.h>

MALLOC_DEFINE(M_NETSVC, "netsvc", "in-kernel network services");

#define PORT_ECHO	7
#define PORT_DISCARD	9
#define PORT_HTTP	80
#define PORT_BULK	5001
#define IOBUF		8192
#define REQ_MAX		2048

/* Connection threads running now: incremented by the accept loop before
 * it creates one, decremented by the thread as its last act.  Atomic
 * (any CPU); tests wait for it to reach 0 before their leak checks. */
static volatile int services_active;

/* One TCP service: its name (the thread names show it), its port, and
 * the function that serves one accepted connection in that connection's
 * thread; the caller closes the socket when it returns. */
struct service {
	const char *name;
	uint16_t port;
	void (*serve)(struct socket *so);
};

/* Send all of buf; false if the connection failed.  so_send blocks
 * until every byte is in the send ring, so one call is enough. */
static bool send_all(struct socket *so, const void *buf, size_t len)
{
	size_t done;

	return so_send(so, buf, len, 0, &done) == 0 && done == len;
}

/* Echo (RFC 862): whatever comes, back, until the peer closes.  A
 * peer that sends without reading is slowed by its own window: our send
 * blocks, so we stop reading, so our window closes.  The peer's FIN ends
 * the loop (recv returns 0); our close then sends ours. */
static void serve_echo(struct socket *so)
{
	uint8_t *buf = kmalloc(IOBUF, M_NETSVC, M_WAITOK);
	size_t n;

	while (so_recv(so, buf, IOBUF, 0, &n) == 0 && n > 0)
		if (!send_all(so, buf, n))
			break;
	kfree(buf, M_NETSVC);
}

/* Discard (RFC 863): read and forget until the peer closes.  It reads
 * as fast as the stack delivers, so it is also the simplest sink for a
 * sender's throughput (nc in the tests). */
static void serve_discard(struct socket *so)
{
	uint8_t *buf = kmalloc(IOBUF, M_NETSVC, M_WAITOK);
	size_t n;

	while (so_recv(so, buf, IOBUF, 0, &n) == 0 && n > 0)
		;
	kfree(buf, M_NETSVC);
}

/* ---- bulk ---------------------------------------------------------------- */

#define BULK_BLOCK	4096	/* the pattern's period of change */
#define BULK_LINE	32	/* the request line, newline included */

/* Byte off of the test pattern: block k of 4096 bytes holds
 * (j * 131 + k) & 0xff at offset j (tests/net/peers.py pattern()). */
static inline uint8_t bulk_byte(uint64_t off)
{
	return (uint8_t)((off % BULK_BLOCK) * 131 + off / BULK_BLOCK);
}

/* Read the request line ("recv N" / "send N") a byte at a time, so
 * nothing after it is consumed.  False on a malformed or lost line. */
static bool bulk_request(struct socket *so, char *verb, uint64_t *count)
{
	char line[BULK_LINE];
	size_t len = 0, n;

	while (len + 1 < sizeof(line)) {
		if (so_recv(so, line + len, 1, 0, &n) != 0 || n == 0)
			return false;
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	if (len < 6 || line[4] != ' ' || len + 1 >= sizeof(line))
		return false;
	memcpy(verb, line, 4);
	verb[4] = '\0';
	return parse_u64(line + 5, len - 5, count);
}

/* "recv N": take N bytes, count those that differ from the pattern.
 * The answer goes after the last byte, so the client learns both that
 * all arrived and that they were right; a peer that closes early gets
 * the count of what did arrive. */
static void bulk_sink(struct socket *so, uint8_t *buf, uint64_t count)
{
	uint64_t off = 0, wrong = 0;
	char answer[64];
	size_t n;
	int len;

	while (off < count && so_recv(so, buf, MIN((uint64_t)IOBUF,
			count - off), 0, &n) == 0 && n > 0)
		for (size_t i = 0; i < n; i++, off++)
			wrong += buf[i] != bulk_byte(off);
	len = ksnprintf(answer, sizeof(answer), "%lu bytes, %lu wrong\n", off,
			wrong);
	send_all(so, answer, (size_t)len);
}

/* "send N": N bytes of the pattern, then the close says "that is all". */
static void bulk_source(struct socket *so, uint8_t *buf, uint64_t count)
{
	for (uint64_t off = 0; off < count;) {
		size_t n = (size_t)MIN((uint64_t)IOBUF, count - off);

		for (size_t i = 0; i < n; i++)
			buf[i] = bulk_byte(off + i);
		if (!send_all(so, buf, n))
			return;
		off += n;
	}
}

/* One bulk connection: its request line, then the transfer it asks
 * for.  A line that is not "recv N" or "send N" gets "bad request". */
static void serve_bulk(struct socket *so)
{
	uint8_t *buf = kmalloc(IOBUF, M_NETSVC, M_WAITOK);
	char verb[5];
	uint64_t count;

	if (!bulk_request(so, verb, &count))
		send_all(so, "bad request\n", 12);
	else if (strcmp(verb, "recv") == 0)
		bulk_sink(so, buf, count);
	else if (strcmp(verb, "send") == 0)
		bulk_source(so, buf, count);
	else
		send_all(so, "bad request\n", 12);
	kfree(buf, M_NETSVC);
}

/* ---- HTTP ---------------------------------------------------------------- */

/* One parsed request line, and whether the connection stays open after
 * the response (HTTP/1.1's default, or HTTP/1.0's explicit keep-alive). */
struct http_req {
	char method[8];		/* "GET", "HEAD", or what we answer 501 */
	char path[256];		/* absolute, as sent (no %-decoding) */
	bool keep_alive;
};

/* Read until the blank line that ends the headers; the bytes after it
 * stay in buf for the next request (pipelining).  Returns the header
 * length, 0 at end of stream, -1 on error or an oversized request. */
static int http_read_head(struct socket *so, char *buf, size_t *have)
{
	for (;;) {
		size_t n;

		buf[*have] = '\0';
		for (size_t i = 3; i < *have; i++)
			if (memcmp(buf + i - 3, "\r\n\r\n", 4) == 0)
				return (int)(i + 1);
		if (*have >= REQ_MAX - 1)
			return -1;
		if (so_recv(so, buf + *have, REQ_MAX - 1 - *have, 0, &n) != 0)
			return -1;
		if (n == 0)
			return 0;
		*have += n;
	}
}

/* Does the header block contain "Connection: <value>" (any case)?
 * value is lower case; only the first Connection header counts, and
 * only the start of its value is compared ("close" matches "closed",
 * harmlessly). */
static bool http_connection_is(const char *head, const char *value)
{
	for (const char *p = head; *p; p++) {
		if ((*p == 'C' || *p == 'c') &&
		    strncmp(p + 1, "onnection:", 10) == 0) {
			p += 11;
			while (*p == ' ')
				p++;
			for (size_t i = 0; value[i]; i++)
				if ((p[i] | 0x20) != value[i])
					return false;
			return true;
		}
	}
	return false;
}

/* "GET /path HTTP/1.1": false if the request line is malformed (no
 * spaces, a method longer than 7 bytes, a path not starting with '/' or
 * longer than 255).  The version decides the default of keep_alive. */
static bool http_parse(const char *head, struct http_req *r)
{
	const char *sp1 = strchr(head, ' '), *sp2;
	size_t len;

	if (sp1 == NULL || (size_t)(sp1 - head) >= sizeof(r->method))
		return false;
	memcpy(r->method, head, sp1 - head);
	r->method[sp1 - head] = '\0';
	if ((sp2 = strchr(sp1 + 1, ' ')) == NULL || sp1[1] != '/')
		return false;
	len = sp2 - (sp1 + 1);
	if (len >= sizeof(r->path))
		return false;
	memcpy(r->path, sp1 + 1, len);
	r->path[len] = '\0';
	if (strcmp(r->path, "/") == 0)
		strlcpy(r->path, "/index.html", sizeof(r->path));
	r->keep_alive = strncmp(sp2 + 1, "HTTP/1.1", 8) == 0 ?
		!http_connection_is(head, "close") :
		http_connection_is(head, "keep-alive");
	return true;
}

/* The status line and the headers every response carries; the body,
 * if any, follows.  False if the connection failed. */
static bool http_status(struct socket *so, int code, const char *reason,
			uint64_t length, bool keep_alive)
{
	char head[160];
	int n = ksnprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-"
			  "Length: %lu\r\nConnection: %s\r\nServer: Damselfly"
			  "\r\n\r\n", code, reason, length,
			  keep_alive ? "keep-alive" : "close");

	return send_all(so, head, (size_t)n);
}

/* The file at r->path: headers, then (for GET) its bytes, read and sent
 * IOBUF at a time.  A missing file or a directory is 404.  False if the
 * connection failed (the caller then ends it). */
static bool http_send_file(struct socket *so, struct http_req *r)
{
	struct file *fp;
	struct vattr va;
	uint8_t *buf;
	bool ok = true;
	size_t n;

	if (vfs_open(r->path, O_RDONLY, 0, &fp) != 0)
		return http_status(so, 404, "Not Found", 0, r->keep_alive);
	if (vfs_fstat(fp, &va) != 0 || (va.va_mode & S_IFMT) != S_IFREG) {
		vfs_close(fp);
		return http_status(so, 404, "Not Found", 0, r->keep_alive);
	}
	ok = http_status(so, 200, "OK", va.va_size, r->keep_alive);
	buf = kmalloc(IOBUF, M_NETSVC, M_WAITOK);
	while (ok && strcmp(r->method, "GET") == 0 &&
	       vfs_read(fp, buf, IOBUF, &n) == 0 && n > 0)
		ok = send_all(so, buf, n);
	kfree(buf, M_NETSVC);
	vfs_close(fp);
	return ok;
}

/*
 * One connection's requests, in order, until the client closes, asks to
 * close, or sends something we refuse.  Bytes after a request's blank
 * line stay in buf for the next one (pipelining).  A request larger than
 * REQ_MAX ends the connection.
 */
static void serve_http(struct socket *so)
{
	char *buf = kmalloc(REQ_MAX, M_NETSVC, M_WAITOK);
	size_t have = 0;
	struct http_req r;
	int hlen;

	while ((hlen = http_read_head(so, buf, &have)) > 0) {
		bool ok;

		if (!http_parse(buf, &r)) {
			http_status(so, 400, "Bad Request", 0, false);
			break;
		}
		if (strcmp(r.method, "GET") == 0 || strcmp(r.method, "HEAD") == 0)
			ok = http_send_file(so, &r);
		else
			ok = http_status(so, 501, "Not Implemented", 0,
					 r.keep_alive);
		memmove(buf, buf + hlen, have - (size_t)hlen);
		have -= (size_t)hlen;
		if (!ok || !r.keep_alive)
			break;
	}
	kfree(buf, M_NETSVC);
}

/* ---- threads --------------------------------------------------------------- */

/* What an accept loop hands a connection's thread (freed by it). */
struct conn {
	struct socket *so;
	void (*serve)(struct socket *so);
};

/* One connection's thread, on the connection's CPU: serve, close, go.
 * services_active lets tests wait until every connection is over. */
static void conn_thread(void *arg)
{
	struct conn *c = arg;

	c->serve(c->so);
	so_close(c->so);
	kfree(c, M_NETSVC);
	__atomic_fetch_sub(&services_active, 1, __ATOMIC_RELEASE);
}

/* The sockets the services wait on, made by net_services_start. */
static struct socket *service_socks[8];
static int nservice_socks;

/* A TCP service: its listening socket, and what serves a connection. */
struct tcp_service {
	struct socket *lsn;
	const struct service *svc;
};

/*
 * A TCP service's accept loop.  Each accepted connection gets a thread
 * on its own CPU (so_cpu: where its 4-tuple hashed), so the service's
 * socket calls are messages to a netisr on the same CPU -- no IPI per
 * call.  If no thread can be made, the connection is closed at once.
 */
static void tcp_service_thread(void *arg)
{
	struct tcp_service *ts = arg;
	const struct service *svc = ts->svc;
	struct socket *lsn = ts->lsn, *so;

	while (so_accept(lsn, &so, NULL, NULL) == 0) {
		struct conn *c = kmalloc(sizeof(*c), M_NETSVC, M_WAITOK);

		c->so = so;
		c->serve = svc->serve;
		__atomic_fetch_add(&services_active, 1, __ATOMIC_RELAXED);
		if (lwkt_create(conn_thread, c, NULL, 0, so_cpu(so), "%s conn",
				svc->name) != 0) {
			so_close(so);
			kfree(c, M_NETSVC);
			__atomic_fetch_sub(&services_active, 1,
					   __ATOMIC_RELAXED);
		}
	}
}

/* UDP echo and discard: one thread each, a datagram at a time.  The
 * socket is unconnected, so it lives on its port's CPU (datagrams that
 * arrive on another CPU are forwarded to it: net/udp.c); the thread may
 * run anywhere, and each recvfrom and sendto is a message there.  The
 * echo goes back to whichever address and port the datagram came from. */
static void udp_service_thread(void *arg)
{
	struct socket *so = arg;
	uint8_t *buf = kmalloc(IOBUF, M_NETSVC, M_WAITOK);
	uint32_t from;
	uint16_t fport, port;
	size_t n;

	so_sockname(so, &from, &port);
	port = ntohs(port);
	while (so_recvfrom(so, buf, IOBUF, 0, &from, &fport, &n) == 0)
		if (port == PORT_ECHO)
			so_sendto(so, buf, n, 0, from, fport, NULL);
}

/* The TCP services, in the order they start. */
static const struct service tcp_services[] = {
	{ "echo", PORT_ECHO, serve_echo },
	{ "discard", PORT_DISCARD, serve_discard },
	{ "http", PORT_HTTP, serve_http },
	{ "bulk", PORT_BULK, serve_bulk },
	{ "iperf3", IPERF_PORT, iperf_serve },
};

static struct tcp_service tcp_running[nitems(tcp_services)];

/* A socket of type bound to port (listening, for TCP, with a backlog
 * of 256 so that the tests' 200 parallel connections all wait), or NULL
 * when the port is taken. */
static struct socket *service_socket(int type, uint16_t port)
{
	struct socket *so;

	if (so_create(type, &so) != 0)
		return NULL;
	if (so_bind(so, 0, htons(port)) != 0 ||
	    (type == SOCK_STREAM && so_listen(so, 256) != 0)) {
		kprintf("net: port %u is taken; no service there\n", port);
		so_close(so);
		return NULL;
	}
	return so;
}

/*
 * Start every service and wait until each has its accept (or recv)
 * parked on its socket: when boot goes on, the services are listening,
 * and the calls they wait in are already counted as messages in flight.
 */
void net_services_start(void)
{
	static const uint16_t udp_ports[] = { PORT_ECHO, PORT_DISCARD };

	for (size_t i = 0; i < nitems(tcp_services); i++) {
		struct tcp_service *ts = &tcp_running[i];

		ts->svc = &tcp_services[i];
		ts->lsn = service_socket(SOCK_STREAM, ts->svc->port);
		if (ts->lsn != NULL && lwkt_create(tcp_service_thread, ts,
						   NULL, 0, -1, "%s",
						   ts->svc->name) == 0)
			service_socks[nservice_socks++] = ts->lsn;
	}
	for (size_t i = 0; i < nitems(udp_ports); i++) {
		struct socket *so = service_socket(SOCK_DGRAM, udp_ports[i]);

		if (so != NULL && lwkt_create(udp_service_thread, so, NULL, 0,
					      -1, "udp %u", udp_ports[i]) == 0)
			service_socks[nservice_socks++] = so;
	}
	for (int i = 0; i < nservice_socks; i++)
		for (int t = 0; t < 100 && so_parked(service_socks[i]) == 0;
		     t++)
			tsleep(&nservice_socks, 0, "svcup", 1);
}

/* Connection threads still serving (tests wait for 0).  Any thread. */
int net_services_active(void)
{
	return __atomic_load_n(&services_active, __ATOMIC_ACQUIRE);
}
