/*
 * net/iperf.h - the iperf3 server (net/iperf.c; docs/net.md).
 */
#ifndef NET_IPERF_H
#define NET_IPERF_H

#include <kern/types.h>

#define IPERF_PORT	5201

struct socket;

/* What an iperf3 client asked for: the members of its parameter JSON
 * that the server reads (the others are skipped). */
struct iperf_params {
	bool tcp, udp, sctp, reverse, bidir;
	uint64_t time;		/* seconds; 0 when -n or -k ends the test */
	uint64_t parallel;	/* streams (1 if absent) */
	uint64_t len;		/* the client's block size */
};

/*
 * Serve one accepted connection to port 5201: a test's control
 * connection or one of its streams, told apart by the cookie it opens
 * with.  Returns when the connection is done with; the caller closes
 * the socket.  Thread context (the connection's own thread, services.c),
 * blocks for as long as the test runs.
 */
void iperf_serve(struct socket *so);

/* Read iperf3's parameter object from text[0..len): true and *p filled
 * if it is one well-formed JSON object.  Any thread, never blocks. */
bool iperf_parse_params(const char *text, size_t len, struct iperf_params *p);

/* Is text[0..len) one well-formed JSON object?  Any thread. */
bool iperf_json_is_object(const char *text, size_t len);

#endif /* NET_IPERF_H */
