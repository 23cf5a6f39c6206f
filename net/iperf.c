/*
 * iperf.c - an iperf3 server (TCP port 5201), so the real iperf3 client
 * can measure the stack: forward (the client sends), reverse (-R: we
 * send), one stream or several (-P N).
 *
 * The protocol, as iperf3 3.x speaks it (read from its sources for the
 * facts; this is our own implementation).  Every connection to 5201
 * opens with a 37-byte cookie, a UUID-like text and its NUL, that names
 * the test.  The first connection with a new cookie is the control
 * connection; on it the server drives a state machine of one-byte
 * messages:
 *
 *   server -> client          client -> server
 *   PARAM_EXCHANGE (9)        4-byte big-endian length, JSON parameters
 *   CREATE_STREAMS (10)       N more connections, each sends the cookie
 *   TEST_START (1)
 *   TEST_RUNNING (2)          ... the data flows on the N streams ...
 *                             TEST_END (4)  (the client's timer, or -n)
 *   EXCHANGE_RESULTS (13)     length + JSON, the client's results
 *   length + JSON, ours
 *   DISPLAY_RESULTS (14)      IPERF_DONE (16), then it closes
 *
 * ACCESS_DENIED (-1) answers a connection that comes while another test
 * runs or names no test we know; SERVER_ERROR (-2) and two 32-bit
 * big-endian numbers (iperf3's error code, an errno) refuse parameters we
 * do not support: UDP, SCTP, bidirectional tests, more than
 * IPERF_MAX_STREAMS streams.
 *
 * Threads.  Each accepted connection already has a thread of its own on
 * its CPU (services.c), which calls iperf_serve.  The control
 * connection's thread runs the state machine; a stream's thread moves
 * the bytes (receives and counts them, or sends them) until the control
 * thread says stop.  They meet in a struct iperf_session: iperf_lock
 * guards which session is current and its list of streams; the counters
 * each stream thread writes alone and the control thread reads.  A
 * session is freed by whichever thread lets go of it last (s_refs).
 *
 * What the results say: bytes and the time per stream, as iperf3's
 * server reports them; CPU use is reported as 0 and retransmissions as
 * unknown (-1).  The bytes are not checked (iperf3 sends whatever its
 * buffer holds); the bulk service on port 5001 (services.c) is the
 * transfer that checks every byte.
 *
 * Bad input -- a short cookie, a length over IPERF_JSON_MAX, JSON we
 * cannot read, an unexpected state byte, a peer that goes silent past a
 * deadline -- ends the session and its streams cleanly and is counted
 * (netstat iperf_bad); nothing a client sends can stop the service.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/spinlock.h>
#include <kern/synch.h>
#include <net/inet.h>
#include <net/iperf.h>
#include <net/netstat.h>
#include <net/socket.h>

MALLOC_DEFINE(M_IPERF, "iperf", "iperf3 server sessions");

/*
 * Sizes and deadlines.  Every wait on the client has a deadline, so a
 * client that stops talking (or never meant to) costs a thread for that
 * long at most: the cookie must come within IPERF_COOKIE_WAIT of the
 * connection, all streams within IPERF_STREAMS_WAIT of CREATE_STREAMS,
 * each later reply within IPERF_STEP_WAIT, and TEST_END within the
 * test's own time plus 30 s (IPERF_TEST_MAX, ten minutes, when the
 * client ends the test by bytes or blocks or asks for longer), as
 * iperf3's own server bounds a test by a timer of its own.
 */
#define COOKIE_SIZE		37	/* 36 characters and a NUL */
#define IPERF_MAX_STREAMS	16	/* -P beyond this is refused */
#define IPERF_JSON_MAX		4096	/* parameters and results */
#define IPERF_CHUNK		16384	/* one send or recv of a stream */
#define IPERF_SLICE		(HZ / 2) /* a stream looks at s_phase this often */
#define IPERF_COOKIE_WAIT	(10 * HZ)
#define IPERF_STREAMS_WAIT	(10 * HZ)
#define IPERF_STEP_WAIT		(30 * HZ) /* any one reply of the client */
#define IPERF_TEST_MAX		(600 * HZ)

/* The state bytes (iperf3's iperf_api.h numbers them). */
#define TEST_START		1
#define TEST_RUNNING		2
#define TEST_END		4
#define PARAM_EXCHANGE		9
#define CREATE_STREAMS		10
#define CLIENT_TERMINATE	12
#define EXCHANGE_RESULTS	13
#define DISPLAY_RESULTS		14
#define IPERF_DONE		16
#define ACCESS_DENIED		(-1)
#define SERVER_ERROR		(-2)

/* iperf3's error codes that SERVER_ERROR may carry (its i_errno). */
#define IENUMSTREAMS		6
#define IEUNIMP			13

/* One data connection of a test.  so is set once when it attaches;
 * bytes is written only by the stream's thread (atomically, since the
 * control thread reads it for the results on another CPU). */
struct iperf_stream {
	struct socket *so;
	volatile uint64_t bytes;	/* moved during the test */
};

/* Where a session is; only the control thread moves it forward, and only
 * forward (iperf_set_phase).  Streams read it to know when to start and
 * when to stop. */
enum iperf_phase {
	PH_PARAMS,	/* control connection open, parameters coming */
	PH_STREAMS,	/* CREATE_STREAMS sent: streams may attach */
	PH_RUNNING,	/* TEST_RUNNING sent: move the bytes */
	PH_OVER,	/* the control thread let go: streams stop */
};

/* One test: its cookie, the client's parameters, and its streams, in
 * the order they attached (which is the client's order: it opens them
 * one after another). */
struct iperf_session {
	char s_cookie[COOKIE_SIZE];		/* set once, then read-only */
	struct iperf_params s_params;		/* set before PH_STREAMS */
	volatile int s_phase;			/* iperf_lock; wakeup(s) */
	int s_nstreams;				/* iperf_lock */
	int s_refs;				/* iperf_lock */
	uint64_t s_start_ns, s_end_ns;		/* the control thread's */
	struct iperf_stream s_streams[IPERF_MAX_STREAMS];
};

static struct spinlock iperf_lock = SPINLOCK_INITIALIZER("iperf");
/* The session that takes streams or runs a test; NULL when none does.
 * iperf_lock. */
static struct iperf_session *iperf_current;

/* ---- the wire: exact reads and writes ------------------------------------ */

/* Send all of buf; false if the connection failed or timed out. */
static bool iperf_send(struct socket *so, const void *buf, size_t len)
{
	size_t done;

	return so_send(so, buf, len, 0, &done) == 0 && done == len;
}

/* Receive exactly len bytes; false on end of stream, error or timeout. */
static bool iperf_recv(struct socket *so, void *buf, size_t len)
{
	for (size_t have = 0, n; have < len; have += n)
		if (so_recv(so, (char *)buf + have, len - have, 0, &n) != 0 ||
		    n == 0)
			return false;
	return true;
}

/* One state byte to the client (signed: ACCESS_DENIED is -1). */
static bool iperf_send_state(struct socket *so, int8_t state)
{
	return iperf_send(so, &state, 1);
}

/* One state byte from the client within timo ticks; -128 if none. */
static int iperf_recv_state(struct socket *so, int timo)
{
	int8_t state;

	so_setopt(so, SO_RCVTIMEO, timo);
	return iperf_recv(so, &state, 1) ? state : -128;
}

/* A length-prefixed JSON text into buf (NUL-terminated); its length, or
 * -1 when it does not come or does not fit. */
static int iperf_recv_json(struct socket *so, char *buf, size_t cap)
{
	uint32_t len;

	so_setopt(so, SO_RCVTIMEO, IPERF_STEP_WAIT);
	if (!iperf_recv(so, &len, sizeof(len)))
		return -1;
	len = ntohl(len);
	if (len == 0 || len >= cap || !iperf_recv(so, buf, len))
		return -1;
	buf[len] = '\0';
	return (int)len;
}

/* A JSON text as iperf3 frames it: its length as a 32-bit big-endian
 * number, then the text without a NUL. */
static bool iperf_send_json(struct socket *so, const char *text, size_t len)
{
	uint32_t be = htonl((uint32_t)len);

	return iperf_send(so, &be, sizeof(be)) && iperf_send(so, text, len);
}

/* ---- a minimal JSON reader ---------------------------------------------- */

/*
 * Enough of RFC 8259 to read iperf3's parameters and to check that its
 * results are well formed: objects, arrays, strings (escapes skipped
 * over, \uXXXX included), numbers (only their integer part is kept),
 * true, false, null.  Nesting is limited to JSON_DEPTH.  Any deviation
 * makes the whole text unreadable: the caller then ends the session.
 */
#define JSON_DEPTH	8
#define JSON_KEY	32
#define JSON_NUM_MAX	(~0ULL)	/* a number past it reads as this */

enum json_kind { J_BAD, J_TRUE, J_FALSE, J_NULL, J_NUM, J_STR, J_OBJ, J_ARR };

/* The text being read: p moves forward, never past end. */
struct json_in {
	const char *p, *end;
};

/* Skip the four characters RFC 8259 calls whitespace. */
static void json_ws(struct json_in *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* The next character, if it is c, is consumed. */
static bool json_eat(struct json_in *j, char c)
{
	json_ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	return false;
}

/* A literal word (true, false, null). */
static bool json_word(struct json_in *j, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return false;
	j->p += n;
	return true;
}

/* A string after its opening quote; its first cap - 1 characters (an
 * escape counts as one '?') go to out.  False if it never ends or
 * holds a control character or a bad escape. */
static bool json_string(struct json_in *j, char *out, size_t cap)
{
	size_t n = 0;

	while (j->p < j->end && *j->p != '"') {
		char c = *j->p++;

		if ((unsigned char)c < 0x20)
			return false;
		if (c == '\\') {
			if (j->p >= j->end)
				return false;
			c = *j->p++;
			if (c == 'u') {
				if (j->end - j->p < 4)
					return false;
				j->p += 4;
			} else if (strchr("\"\\/bfnrt", c) == NULL) {
				return false;
			}
			c = '?';
		}
		if (out != NULL && n + 1 < cap)
			out[n++] = c;
	}
	if (out != NULL)
		out[n] = '\0';
	return j->p < j->end && *j->p++ == '"';
}

/* A number: -?digits(.digits)?([eE][+-]?digits)?; *v its integer part
 * (saturated; negative numbers read as 0). */
static bool json_number(struct json_in *j, uint64_t *v)
{
	bool neg = j->p < j->end && *j->p == '-', digits = false;

	*v = 0;
	if (neg)
		j->p++;
	for (; j->p < j->end && *j->p >= '0' && *j->p <= '9'; j->p++) {
		*v = *v > JSON_NUM_MAX / 16 ? JSON_NUM_MAX :
		     *v * 10 + (uint64_t)(*j->p - '0');
		digits = true;
	}
	if (!digits)
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return false;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return false;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (neg)
		*v = 0;
	return true;
}

static enum json_kind json_value(struct json_in *j, int depth, uint64_t *num);

/* The rest of an object or array after its opening bracket: members
 * ("key": value) or values, separated by commas, no comma before the
 * closing bracket (RFC 8259 allows none).  depth is the container's. */
static bool json_container(struct json_in *j, int depth, bool object)
{
	char close = object ? '}' : ']';
	uint64_t num;

	if (json_eat(j, close))
		return true;
	do {
		if (object && (!json_eat(j, '"') ||
			       !json_string(j, NULL, 0) || !json_eat(j, ':')))
			return false;
		if (json_value(j, depth + 1, &num) == J_BAD)
			return false;
	} while (json_eat(j, ','));
	return json_eat(j, close);
}

/* One value of any kind; for J_NUM its integer part in *num. */
static enum json_kind json_value(struct json_in *j, int depth, uint64_t *num)
{
	json_ws(j);
	if (j->p >= j->end || depth > JSON_DEPTH)
		return J_BAD;
	switch (*j->p) {
	case '{':
		j->p++;
		return json_container(j, depth, true) ? J_OBJ : J_BAD;
	case '[':
		j->p++;
		return json_container(j, depth, false) ? J_ARR : J_BAD;
	case '"':
		j->p++;
		return json_string(j, NULL, 0) ? J_STR : J_BAD;
	case 't':
		return json_word(j, "true") ? J_TRUE : J_BAD;
	case 'f':
		return json_word(j, "false") ? J_FALSE : J_BAD;
	case 'n':
		return json_word(j, "null") ? J_NULL : J_BAD;
	default:
		return json_number(j, num) ? J_NUM : J_BAD;
	}
}

/* One member of the parameters: the fields we use, the rest ignored. */
static void iperf_param(struct iperf_params *p, const char *key,
			enum json_kind kind, uint64_t num)
{
	bool yes = kind == J_TRUE || (kind == J_NUM && num != 0);

	if (strcmp(key, "tcp") == 0)
		p->tcp = yes;
	else if (strcmp(key, "udp") == 0)
		p->udp = yes;
	else if (strcmp(key, "sctp") == 0)
		p->sctp = yes;
	else if (strcmp(key, "reverse") == 0)
		p->reverse = yes;
	else if (strcmp(key, "bidirectional") == 0)
		p->bidir = yes;
	else if (strcmp(key, "time") == 0 && kind == J_NUM)
		p->time = num;
	else if (strcmp(key, "parallel") == 0 && kind == J_NUM)
		p->parallel = num;
	else if (strcmp(key, "len") == 0 && kind == J_NUM)
		p->len = num;
}

/*
 * Read the parameters object (the whole text must be one object and
 * nothing after it).  Unknown members are skipped.  False if the text
 * is not such an object.  Any thread.
 */
bool iperf_parse_params(const char *text, size_t len, struct iperf_params *p)
{
	struct json_in j = { text, text + len };

	memset(p, 0, sizeof(*p));
	p->parallel = 1;
	if (!json_eat(&j, '{'))
		return false;
	if (!json_eat(&j, '}')) {
		do {
			char key[JSON_KEY];
			uint64_t num = 0;
			enum json_kind kind;

			if (!json_eat(&j, '"') ||
			    !json_string(&j, key, sizeof(key)) ||
			    !json_eat(&j, ':'))
				return false;
			if ((kind = json_value(&j, 1, &num)) == J_BAD)
				return false;
			iperf_param(p, key, kind, num);
		} while (json_eat(&j, ','));
		if (!json_eat(&j, '}'))
			return false;
	}
	json_ws(&j);
	return j.p == j.end;
}

/* Is text one well-formed JSON object (the client's results)? */
bool iperf_json_is_object(const char *text, size_t len)
{
	struct json_in j = { text, text + len };
	uint64_t num;

	json_ws(&j);
	if (j.p >= j.end || *j.p != '{' || json_value(&j, 0, &num) != J_OBJ)
		return false;
	json_ws(&j);
	return j.p == j.end;
}

/* ---- results ---------------------------------------------------------- */

/*
 * Our results, as iperf3's server sends them: CPU use (we report 0),
 * whether the sender knows its retransmissions (-1: we are the
 * receiver; 0: we send but do not report them), and per stream its id,
 * bytes and times.  iperf3 numbers its streams 1, 3, 4, 5, ... in the
 * order they connect (its iperf_add_stream), so we do too.  Returns the
 * length written into buf (cap bytes; IPERF_JSON_MAX holds 16 streams).
 */
static size_t iperf_results(struct iperf_session *s, char *buf, size_t cap)
{
	uint64_t us = (s->s_end_ns - s->s_start_ns) / 1000;
	size_t n;

	n = (size_t)ksnprintf(buf, cap, "{\"cpu_util_total\":0,"
			      "\"cpu_util_user\":0,\"cpu_util_system\":0,"
			      "\"sender_has_retransmits\":%d,\"streams\":[",
			      s->s_params.reverse ? 0 : -1);
	for (int i = 0; i < s->s_nstreams && n < cap; i++)
		n += (size_t)ksnprintf(buf + n, cap - n, "%s{\"id\":%d,"
			"\"bytes\":%lu,\"retransmits\":-1,\"jitter\":0,"
			"\"errors\":0,\"packets\":0,\"start_time\":0,"
			"\"end_time\":%lu.%06lu}", i ? "," : "",
			i == 0 ? 1 : i + 2,
			__atomic_load_n(&s->s_streams[i].bytes,
					__ATOMIC_RELAXED),
			us / 1000000, us % 1000000);
	if (n < cap)
		n += (size_t)ksnprintf(buf + n, cap - n, "]}");
	return MIN(n, cap - 1);
}

/* ---- sessions ------------------------------------------------------------ */

/* Drop one reference; the last one frees the session. */
static void iperf_release(struct iperf_session *s)
{
	bool last;

	spin_lock(&iperf_lock);
	last = --s->s_refs == 0;
	spin_unlock(&iperf_lock);
	if (last)
		kfree(s, M_IPERF);
}

/* Move the session to phase and wake whoever waits on it (the control
 * thread for its streams, the streams for TEST_RUNNING or the end).
 * PH_OVER also lets the next test begin at once, while this one's
 * streams are still winding down. */
static void iperf_set_phase(struct iperf_session *s, int phase)
{
	spin_lock(&iperf_lock);
	s->s_phase = phase;
	if (phase == PH_OVER && iperf_current == s)
		iperf_current = NULL;	/* the next client may start */
	spin_unlock(&iperf_lock);
	wakeup(s);
}

/* Wait until the session leaves phase `from` (or timo ticks pass);
 * true if it moved. */
static bool iperf_wait_phase(struct iperf_session *s, int from, int timo)
{
	uint64_t until = ticks + (uint64_t)timo;

	while (s->s_phase == from && ticks < until)
		tsleep(s, 0, "iperfph", HZ / 10);
	return s->s_phase != from;
}

/* ---- the streams --------------------------------------------------------- */

/* Forward: take what comes, count it, until the client closes or the
 * test is over (then the client stops sending anyway). */
static void iperf_stream_sink(struct iperf_session *s, struct iperf_stream *st,
			      uint8_t *buf)
{
	for (;;) {
		size_t n;
		int error = so_recv(st->so, buf, IPERF_CHUNK, 0, &n);

		if (error == EAGAIN && s->s_phase != PH_OVER)
			continue;
		if (error != 0 || n == 0)
			return;
		__atomic_fetch_add(&st->bytes, n, __ATOMIC_RELAXED);
	}
}

/* Reverse: send until the control thread says the test is over.  A
 * send that finds the window closed gives up after IPERF_SLICE and
 * looks at the phase again. */
static void iperf_stream_source(struct iperf_session *s,
				struct iperf_stream *st, uint8_t *buf)
{
	for (size_t i = 0; i < IPERF_CHUNK; i++)
		buf[i] = (uint8_t)(i * 131);
	while (s->s_phase == PH_RUNNING) {
		size_t n = 0;
		int error = so_send(st->so, buf, IPERF_CHUNK, 0, &n);

		if (s->s_phase == PH_RUNNING)	/* only bytes of the test */
			__atomic_fetch_add(&st->bytes, n, __ATOMIC_RELAXED);
		if (error != 0 && error != EAGAIN)
			return;
	}
}

/* A stream's thread: wait for TEST_RUNNING, move bytes, let go.  Its
 * calls time out every IPERF_SLICE, so it notices PH_OVER soon even
 * when the client neither sends nor reads. */
static void iperf_stream(struct iperf_session *s, struct iperf_stream *st)
{
	uint8_t *buf = kmalloc(IPERF_CHUNK, M_IPERF, M_WAITOK);

	so_setopt(st->so, SO_RCVTIMEO, IPERF_SLICE);
	so_setopt(st->so, SO_SNDTIMEO, IPERF_SLICE);
	if (iperf_wait_phase(s, PH_STREAMS, IPERF_STREAMS_WAIT) &&
	    s->s_phase == PH_RUNNING) {
		if (s->s_params.reverse)
			iperf_stream_source(s, st, buf);
		else
			iperf_stream_sink(s, st, buf);
	}
	kfree(buf, M_IPERF);
}

/* ---- the control connection --------------------------------------------- */

/* Refuse the parameters: SERVER_ERROR, iperf3's code, errno 0. */
static void iperf_refuse(struct socket *so, int code)
{
	uint32_t words[2] = { htonl((uint32_t)code), 0 };

	NETSTAT_INC(iperf_refused);
	if (iperf_send_state(so, SERVER_ERROR))
		iperf_send(so, words, sizeof(words));
}

/* PARAM_EXCHANGE: read and check the parameters.  False ends the
 * session (bad input counted, or refused with SERVER_ERROR). */
static bool iperf_params_phase(struct socket *so, struct iperf_session *s,
			       char *json)
{
	struct iperf_params *p = &s->s_params;
	int len;

	if (!iperf_send_state(so, PARAM_EXCHANGE))
		return false;
	if ((len = iperf_recv_json(so, json, IPERF_JSON_MAX)) < 0 ||
	    !iperf_parse_params(json, (size_t)len, p)) {
		NETSTAT_INC(iperf_bad);
		return false;
	}
	if (!p->tcp || p->udp || p->sctp || p->bidir) {
		iperf_refuse(so, IEUNIMP);
		return false;
	}
	if (p->parallel < 1 || p->parallel > IPERF_MAX_STREAMS) {
		iperf_refuse(so, IENUMSTREAMS);
		return false;
	}
	return true;
}

/* CREATE_STREAMS, wait for them all, then TEST_START and TEST_RUNNING. */
static bool iperf_streams_phase(struct socket *so, struct iperf_session *s)
{
	uint64_t until = ticks + IPERF_STREAMS_WAIT;

	iperf_set_phase(s, PH_STREAMS);
	if (!iperf_send_state(so, CREATE_STREAMS))
		return false;
	while (s->s_nstreams < (int)s->s_params.parallel && ticks < until)
		tsleep(s, 0, "iperfst", HZ / 10);
	if (s->s_nstreams < (int)s->s_params.parallel) {
		NETSTAT_INC(iperf_bad);		/* streams never came */
		return false;
	}
	s->s_start_ns = clock_monotonic_ns();
	iperf_set_phase(s, PH_RUNNING);
	return iperf_send_state(so, TEST_START) &&
	       iperf_send_state(so, TEST_RUNNING);
}

/* The test runs until the client's TEST_END; then the results both
 * ways and DISPLAY_RESULTS.  True if the client said IPERF_DONE. */
static bool iperf_results_phase(struct socket *so, struct iperf_session *s,
				char *json)
{
	uint64_t secs = s->s_params.time;	/* any number a client sent */
	int timo = secs != 0 && secs < IPERF_TEST_MAX / HZ ?
		(int)(secs + 30) * HZ : IPERF_TEST_MAX;
	int state = iperf_recv_state(so, MIN(timo, IPERF_TEST_MAX));
	int len;

	s->s_end_ns = clock_monotonic_ns();
	if (state == CLIENT_TERMINATE)
		return false;			/* the client's ^C */
	if (state != TEST_END) {
		NETSTAT_INC(iperf_bad);
		return false;
	}
	iperf_set_phase(s, PH_OVER);		/* the streams stop */
	if (!iperf_send_state(so, EXCHANGE_RESULTS))
		return false;
	if ((len = iperf_recv_json(so, json, IPERF_JSON_MAX)) < 0 ||
	    !iperf_json_is_object(json, (size_t)len)) {
		NETSTAT_INC(iperf_bad);
		return false;
	}
	len = (int)iperf_results(s, json, IPERF_JSON_MAX);
	if (!iperf_send_json(so, json, (size_t)len) ||
	    !iperf_send_state(so, DISPLAY_RESULTS))
		return false;
	return iperf_recv_state(so, IPERF_STEP_WAIT) == IPERF_DONE;
}

/*
 * The control connection, from the first state byte to IPERF_DONE: the
 * three phases in turn, each of which may end the test early (bad
 * input, a refusal, a client that went away).  However it ends, the
 * session goes to PH_OVER, so its streams stop and the next test may
 * begin; iperf_tests counts the tests that ran to the end.
 */
static void iperf_control(struct socket *so, struct iperf_session *s)
{
	char *json = kmalloc(IPERF_JSON_MAX, M_IPERF, M_WAITOK);

	so_setopt(so, TCP_NODELAY, 1);
	if (iperf_params_phase(so, s, json) && iperf_streams_phase(so, s) &&
	    iperf_results_phase(so, s, json))
		NETSTAT_INC(iperf_tests);
	iperf_set_phase(s, PH_OVER);
	kfree(json, M_IPERF);
}

/* ---- entry ------------------------------------------------------------- */

/* What a new connection turns out to be (iperf_classify). */
enum iperf_role { ROLE_DENIED, ROLE_CONTROL, ROLE_STREAM };

/*
 * Which connection is this: a new test (no test is current: fresh
 * becomes it), a stream of the current test (its cookie, while it takes
 * streams), or one we turn away.  *sp and *idx say where it belongs.
 */
static enum iperf_role iperf_classify(const char *cookie,
				      struct iperf_session *fresh,
				      struct iperf_session **sp, int *idx)
{
	struct iperf_session *s;
	enum iperf_role role = ROLE_DENIED;

	spin_lock(&iperf_lock);
	s = iperf_current;
	if (s == NULL) {
		iperf_current = *sp = fresh;
		fresh->s_refs = 1;
		role = ROLE_CONTROL;
	} else if (s->s_phase == PH_STREAMS &&
		   memcmp(s->s_cookie, cookie, COOKIE_SIZE) == 0 &&
		   s->s_nstreams < (int)s->s_params.parallel) {
		*idx = s->s_nstreams++;
		s->s_refs++;
		*sp = s;
		role = ROLE_STREAM;
	}
	spin_unlock(&iperf_lock);
	return role;
}

/* The entry from services.c (the contract is in net/iperf.h): read the
 * cookie, decide what the connection is, serve it as that.  The session
 * is allocated before the lock is taken (kmalloc may block) and freed
 * again if the connection turns out not to start a test. */
void iperf_serve(struct socket *so)
{
	struct iperf_session *fresh = kmalloc(sizeof(*fresh), M_IPERF,
					      M_WAITOK | M_ZERO);
	struct iperf_session *s = NULL;
	char cookie[COOKIE_SIZE];
	int idx = 0;

	so_setopt(so, SO_RCVTIMEO, IPERF_COOKIE_WAIT);
	if (!iperf_recv(so, cookie, COOKIE_SIZE)) {
		NETSTAT_INC(iperf_bad);
		kfree(fresh, M_IPERF);
		return;
	}
	memcpy(fresh->s_cookie, cookie, COOKIE_SIZE);
	switch (iperf_classify(cookie, fresh, &s, &idx)) {
	case ROLE_CONTROL:
		iperf_control(so, s);
		iperf_release(s);
		return;
	case ROLE_STREAM:
		kfree(fresh, M_IPERF);
		s->s_streams[idx].so = so;
		wakeup(s);
		iperf_stream(s, &s->s_streams[idx]);
		iperf_release(s);
		return;
	case ROLE_DENIED:
		kfree(fresh, M_IPERF);
		NETSTAT_INC(iperf_denied);
		iperf_send_state(so, ACCESS_DENIED);
		return;
	}
}
