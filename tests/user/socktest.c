/*
 * socktest.c - the socket system calls over the loopback (127.0.0.1),
 * one behaviour per argument, for tests/kern/user_test.c.  Each mode
 * prints lines the test compares (through write(2): no stdio buffer to
 * copy on fork); a failed call shows as "-1 errno" (Linux's numbers).
 *
 *   echo      a server and a forked client: connect, accept (the peer is
 *             127.0.0.1), 100000 bytes written, echoed and read back
 *             whole, shutdown(SHUT_WR) giving the server its end of
 *             stream, then the client's
 *   udp       sendto and recvfrom with the sender's address, a reply to
 *             it, a datagram cut to the buffer, connect then send, send
 *             with no destination, MSG_DONTWAIT on an empty socket
 *   names     getsockname and getpeername agree across a connection; an
 *             address cut to the room given, with its full length back;
 *             a second connect EISCONN; a TCP recvfrom names no sender
 *   nonblock  SOCK_NONBLOCK: accept EAGAIN, connect EINPROGRESS then
 *             poll POLLOUT and SO_ERROR 0, the listener readable, a read
 *             EAGAIN, then readable once a byte came; fcntl F_SETFL
 *             makes a blocking listener non-blocking (accept EAGAIN)
 *             and back
 *   refused   connect to a port nobody listens on: ECONNREFUSED, and
 *             non-blocking, POLLERR and SO_ERROR ECONNREFUSED
 *   errors    every bad argument's errno
 *   options   SO_TYPE, SO_REUSEADDR, SO_RCVTIMEO (a recv and an accept
 *             that give up with EAGAIN), TCP_NODELAY
 *   signal    a handler's signal (no SA_RESTART) ends a blocking accept
 *             and a blocking recv with EINTR
 *   sigpipe   a write after shutdown(SHUT_WR): EPIPE with MSG_NOSIGNAL,
 *             else SIGPIPE ends the writer
 *
 * Every mode waits with a timeout or on something it arranged, so a
 * kernel that misbehaves fails the comparison instead of hanging.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define say(...) dprintf(1, __VA_ARGS__)

#define BAD_PTR	 ((void *)8)	/* never mapped: EFAULT */
#define ECHO_LEN 100000		/* fits the two rings on the way back */
#define CLOSED_PORT 5999	/* nobody listens there */

/* The result of a call, and errno when it failed: "-1 11". */
static void show(const char *what, long r)
{
	say("%s %ld %d\n", what, r, r < 0 ? errno : 0);
}

/* A call that returns a descriptor: 0 for any, else as show. */
static void show_fd(const char *what, long r)
{
	show(what, r >= 0 ? 0 : r);
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

/* A TCP listener on 127.0.0.1:port (flags: SOCK_NONBLOCK), or exit. */
static int listener(int port, int flags)
{
	struct sockaddr_in sin = loopback(port);
	int s = socket(AF_INET, SOCK_STREAM | flags, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(s, 4) < 0) {
		show("listener", -1);
		exit(1);
	}
	return s;
}

/* A TCP socket connected to 127.0.0.1:port, or exit. */
static int connected(int port)
{
	struct sockaddr_in sin = loopback(port);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (s < 0 || connect(s, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		show("connected", -1);
		exit(1);
	}
	return s;
}

/* Read until end of stream or len bytes; the count. */
static long read_all(int fd, char *buf, long len)
{
	long got = 0, n;

	while (got < len && (n = read(fd, buf + got, len - got)) > 0)
		got += n;
	return got;
}

static int wait_child(pid_t pid)
{
	int status;

	waitpid(pid, &status, 0);
	return status;
}

/* poll one descriptor for events, 5 s at most; revents. */
static int poll1(int fd, int events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, 5000) == 1 ? p.revents : 0;
}

/* ---- echo ---------------------------------------------------------------- */

/* The client: write ECHO_LEN patterned bytes, shut the sending side,
 * read them back to the end of stream. */
static void echo_client(int port)
{
	static char out[ECHO_LEN], in[ECHO_LEN + 1];
	int s = connected(port), bad = 0;
	long got;

	for (int i = 0; i < ECHO_LEN; i++)
		out[i] = (char)(i * 7 % 251);
	show("client write", write(s, out, ECHO_LEN));
	show("client shutdown", shutdown(s, SHUT_WR));
	got = read_all(s, in, ECHO_LEN + 1);
	for (int i = 0; i < got; i++)
		bad += in[i] != out[i];
	say("client got %ld bad %d\n", got, bad);
	close(s);
	_exit(0);
}

/* The server prints only once the client is done: the two processes
 * share one output, and the client's lines come first. */
static void mode_echo(void)
{
	int l = listener(5001, 0), c, status;
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	static char buf[8192];
	long n, total = 0;
	pid_t pid = fork();

	if (pid == 0)
		echo_client(5001);
	c = accept(l, (struct sockaddr *)&peer, &len);
	while ((n = read(c, buf, sizeof(buf))) > 0) {
		total += n;
		if (write(c, buf, n) != n)
			total = -1000000;
	}
	close(c);
	status = wait_child(pid);
	show_fd("accept", c);
	say("peer %s len %d\n", inet_ntoa(peer.sin_addr), (int)len);
	say("server read %ld then %ld\n", total, n);
	say("client status %d\n", status);
	close(l);
}

/* ---- udp ----------------------------------------------------------------- */

static void mode_udp(void)
{
	struct sockaddr_in a = loopback(5002), b = loopback(0), from, bname;
	socklen_t len = sizeof(bname);
	int sa = socket(AF_INET, SOCK_DGRAM, 0);
	int sb = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[64] = { 0 };

	show("bind a", bind(sa, (struct sockaddr *)&a, sizeof(a)));
	show("bind b", bind(sb, (struct sockaddr *)&b, sizeof(b)));
	getsockname(sb, (struct sockaddr *)&bname, &len);
	show("sendto", sendto(sb, "ping", 4, 0, (struct sockaddr *)&a,
			      sizeof(a)));
	len = sizeof(from);
	show("recvfrom", recvfrom(sa, buf, sizeof(buf), 0,
				  (struct sockaddr *)&from, &len));
	say("got %s from %s, b's port %d len %d\n", buf,
	    inet_ntoa(from.sin_addr), from.sin_port == bname.sin_port,
	    (int)len);
	show("reply", sendto(sa, "pong!", 5, 0, (struct sockaddr *)&from,
			     len));
	/* a reply gone astray fails here, not by hanging the test */
	say("reply pollin %d\n", (poll1(sb, POLLIN) & POLLIN) != 0);
	show("recv reply", recv(sb, buf, sizeof(buf), MSG_DONTWAIT));
	show("sendto 10", sendto(sb, "0123456789", 10, 0,
				 (struct sockaddr *)&a, sizeof(a)));
	show("recv cut to 4", recv(sa, buf, 4, 0));
	show("dontwait empty", recv(sa, buf, sizeof(buf), MSG_DONTWAIT));
	show("send unconnected", send(sb, "x", 1, 0));
	show("connect", connect(sb, (struct sockaddr *)&a, sizeof(a)));
	show("send connected", send(sb, "hey", 3, 0));
	show("read", read(sa, buf, sizeof(buf)));
	close(sa);
	close(sb);
}

/* ---- names --------------------------------------------------------------- */

static void mode_names(void)
{
	int l = listener(5003, 0), c = connected(5003), s;
	struct sockaddr_in cl, cp, sl, sp;
	socklen_t len = sizeof(cl);
	char cut[16];

	s = accept(l, NULL, NULL);
	show_fd("accept with no address", s);
	getsockname(c, (struct sockaddr *)&cl, &len);
	getpeername(c, (struct sockaddr *)&cp, &len);
	getsockname(s, (struct sockaddr *)&sl, &len);
	show("getpeername", getpeername(s, (struct sockaddr *)&sp, &len));
	say("server port %d, ports agree %d %d, addr %s\n",
	    ntohs(sl.sin_port), cl.sin_port == sp.sin_port,
	    cp.sin_port == sl.sin_port, inet_ntoa(sp.sin_addr));
	memset(cut, 0x55, sizeof(cut));
	len = 4;
	show("getsockname cut", getsockname(s, (struct sockaddr *)cut, &len));
	say("len %d, byte 4 untouched %d\n", (int)len, cut[4] == 0x55);
	show("getpeername listener", getpeername(l, (struct sockaddr *)&sp,
						 &len));
	show("connect again", connect(c, (struct sockaddr *)&sp, sizeof(sp)));
	show("recv 0 bytes", recv(c, cut, 0, 0));
	len = sizeof(sp);
	write(c, "k", 1);
	show("recvfrom tcp", recvfrom(s, cut, 1, 0, (struct sockaddr *)&sp,
				      &len));
	say("len %d\n", (int)len);
	close(s);
	close(c);
	close(l);
}

/* ---- nonblock ------------------------------------------------------------ */

static void mode_nonblock(void)
{
	int l = listener(5004, SOCK_NONBLOCK);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), s, err = -1;
	struct sockaddr_in sin = loopback(5004);
	socklen_t len = sizeof(err);
	char b;

	say("getfl nonblock %d\n", (fcntl(l, F_GETFL) & O_NONBLOCK) != 0);
	show("accept empty", accept(l, NULL, NULL));
	show("connect", connect(c, (struct sockaddr *)&sin, sizeof(sin)));
	say("pollout %d\n", (poll1(c, POLLOUT) & POLLOUT) != 0);
	show("so_error", getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len));
	say("error %d len %d\n", err, (int)len);
	say("listener pollin %d\n", (poll1(l, POLLIN) & POLLIN) != 0);
	s = accept4(l, NULL, NULL, SOCK_NONBLOCK);
	show_fd("accept4", s);
	show("read empty", read(s, &b, 1));
	show("write", write(c, "z", 1));
	say("pollin %d\n", (poll1(s, POLLIN) & POLLIN) != 0);
	show("read", read(s, &b, 1));
	close(s);
	close(c);
	close(l);
	/* A blocking listener made non-blocking by fcntl, and back. */
	l = listener(5011, 0);
	show("setfl", fcntl(l, F_SETFL, O_NONBLOCK));
	say("getfl after setfl %d\n", (fcntl(l, F_GETFL) & O_NONBLOCK) != 0);
	show("accept after setfl", accept(l, NULL, NULL));
	show("setfl 0", fcntl(l, F_SETFL, 0));
	say("getfl after setfl 0 %d\n", (fcntl(l, F_GETFL) & O_NONBLOCK) != 0);
	close(l);
}

/* ---- refused ------------------------------------------------------------- */

static void mode_refused(void)
{
	struct sockaddr_in sin = loopback(CLOSED_PORT);
	int c = socket(AF_INET, SOCK_STREAM, 0), err = -1;
	socklen_t len = sizeof(err);

	show("connect", connect(c, (struct sockaddr *)&sin, sizeof(sin)));
	close(c);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	show("nonblocking connect", connect(c, (struct sockaddr *)&sin,
					    sizeof(sin)));
	say("pollerr %d\n", (poll1(c, POLLOUT) & POLLERR) != 0);
	getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len);
	say("so_error %d\n", err);
	close(c);
}

/* ---- errors -------------------------------------------------------------- */

static void errors_socket(void)
{
	show("socket AF_UNIX", socket(AF_UNIX, SOCK_STREAM, 0));
	show("socket type 0", socket(AF_INET, 0, 0));
	show("socket type 15", socket(AF_INET, 15, 0));
	show("socket bad flag", socket(AF_INET, SOCK_STREAM | 0x100, 0));
	show("socket seqpacket", socket(AF_INET, SOCK_SEQPACKET, 0));
	show("socket stream udp", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
	show_fd("socket dgram udp", socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP));
}

static void errors_bind(int s, int pipefd)
{
	struct sockaddr_in sin = loopback(5005);
	struct sockaddr_in six = sin;

	six.sin_family = AF_INET6;
	show("bind addrlen 8", bind(s, (struct sockaddr *)&sin, 8));
	show("bind addrlen 200", bind(s, (struct sockaddr *)&sin, 200));
	show("bind bad pointer", bind(s, BAD_PTR, sizeof(sin)));
	show("bind inet6", bind(s, (struct sockaddr *)&six, sizeof(six)));
	show("bind fd 99", bind(99, (struct sockaddr *)&sin, sizeof(sin)));
	show("bind pipe", bind(pipefd, (struct sockaddr *)&sin, sizeof(sin)));
	show("bind", bind(s, (struct sockaddr *)&sin, sizeof(sin)));
	show("bind again", bind(s, (struct sockaddr *)&sin, sizeof(sin)));
}

static void errors_calls(int s, int pipefd)
{
	struct sockaddr_in sin = loopback(5005);
	int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET,
							   SOCK_STREAM, 0);
	socklen_t neg = (socklen_t)-1;
	char buf[8];

	show("bind in use", bind(t, (struct sockaddr *)&sin, sizeof(sin)));
	show("connect bad pointer", connect(t, BAD_PTR, sizeof(sin)));
	show("connect pipe", connect(pipefd, (struct sockaddr *)&sin,
				     sizeof(sin)));
	show("listen udp", listen(u, 1));
	show("listen", listen(s, 1));
	show("accept bad addrlen", accept(s, (struct sockaddr *)&sin, BAD_PTR));
	show("accept negative addrlen", accept(s, (struct sockaddr *)&sin,
					       &neg));
	/* the system call itself: musl's accept4 falls back to accept */
	show("accept4 bad flags", syscall(SYS_accept4, s, NULL, NULL, 0x1));
	show("accept fd 99", accept(99, NULL, NULL));
	show("shutdown how 7", shutdown(t, 7));
	show("sendto fd 99", sendto(99, "x", 1, 0, NULL, 0));
	show("recvfrom pipe", recvfrom(pipefd, buf, 1, 0, NULL, NULL));
	show("recv peek", recv(u, buf, 1, MSG_PEEK));
	show("recv unconnected", recv(t, buf, 1, MSG_DONTWAIT));
	show("recv listener", recv(s, buf, 1, MSG_DONTWAIT));
	show("sendto bad buffer", sendto(u, BAD_PTR, 4, 0,
					 (struct sockaddr *)&sin, sizeof(sin)));
	show("getsockname bad", getsockname(u, BAD_PTR, (socklen_t *)16));
	close(u);
	close(t);
}

static void errors_options(int s)
{
	int one = 1, v;
	socklen_t len = sizeof(v);

	show("setsockopt short", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one,
					    2));
	show("setsockopt bad pointer", setsockopt(s, SOL_SOCKET,
						  SO_REUSEADDR, BAD_PTR, 4));
	show("setsockopt unknown", setsockopt(s, SOL_SOCKET, SO_BROADCAST,
					      &one, sizeof(one)));
	show("getsockopt unknown", getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v,
					      &len));
	show("getsockopt bad len", getsockopt(s, SOL_SOCKET, SO_TYPE, &v,
					      BAD_PTR));
}

static void mode_errors(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), p[2];

	pipe(p);
	errors_socket();
	errors_bind(s, p[0]);
	errors_calls(s, p[0]);
	errors_options(s);
	close(s);
}

/* ---- options ------------------------------------------------------------- */

static void mode_options(void)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0), l = listener(5006, 0), v = 0;
	struct timeval tv = { .tv_usec = 250000 }, got = { 0 };
	struct sockaddr_in sin = loopback(5007);
	socklen_t len = sizeof(v);
	char buf[4];

	getsockopt(u, SOL_SOCKET, SO_TYPE, &v, &len);
	say("type %d len %d\n", v, (int)len);
	v = 1;
	show("reuseaddr", setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v,
				     sizeof(v)));
	v = 0;
	getsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, &len);
	say("reuseaddr %d\n", v);
	show("rcvtimeo", setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv,
				    sizeof(tv)));
	len = sizeof(got);
	getsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &got, &len);
	say("rcvtimeo %ld %ld len %d\n", (long)got.tv_sec, (long)got.tv_usec,
	    (int)len);
	bind(u, (struct sockaddr *)&sin, sizeof(sin));
	show("recv times out", recv(u, buf, sizeof(buf), 0));
	setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	show("accept times out", accept(l, NULL, NULL));
	v = 1;
	show("nodelay", setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &v,
				   sizeof(v)));
	v = 0;
	len = sizeof(v);
	getsockopt(l, IPPROTO_TCP, TCP_NODELAY, &v, &len);
	say("nodelay %d\n", v);
	show("nodelay on udp", setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &v,
					  sizeof(v)));
	close(u);
	close(l);
}

/* ---- signal -------------------------------------------------------------- */

static void on_usr1(int sig)
{
	(void)sig;
}

/* A child that sends SIGUSR1 to the parent every 50 ms. */
static pid_t nag_parent(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0)
		for (;;) {	/* until killed, or the parent is gone */
			usleep(50000);
			if (kill(parent, SIGUSR1) < 0)
				_exit(0);
		}
	return pid;
}

/* SIGUSR1 blocked or not: the setup between the two waits must not be
 * interrupted itself. */
static void usr1_blocked(int how)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(how, &set, NULL);
}

static void mode_signal(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */
	int l = listener(5008, 0), c, s;
	pid_t pid;
	char b;

	sigaction(SIGUSR1, &sa, NULL);
	pid = nag_parent();
	show("accept", accept(l, NULL, NULL));
	usr1_blocked(SIG_BLOCK);
	c = connected(5008);
	s = accept(l, NULL, NULL);
	usr1_blocked(SIG_UNBLOCK);
	show("recv", recv(s, &b, 1, 0));
	kill(pid, SIGKILL);
	say("nagger killed %d\n", WIFSIGNALED(wait_child(pid)));
	close(s);
	close(c);
	close(l);
}

/* ---- sigpipe ------------------------------------------------------------- */

static void mode_sigpipe(void)
{
	int l = listener(5009, 0), c = connected(5009), s = accept(l, NULL,
								   NULL);
	pid_t pid;
	int status;

	show("shutdown", shutdown(c, SHUT_WR));
	show("send nosignal", send(c, "x", 1, MSG_NOSIGNAL));
	pid = fork();
	if (pid == 0) {
		write(c, "x", 1);
		_exit(0);
	}
	status = wait_child(pid);
	say("writer: signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	close(s);
	close(c);
	close(l);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} modes[] = {
		{ "echo", mode_echo },	     { "udp", mode_udp },
		{ "names", mode_names },     { "nonblock", mode_nonblock },
		{ "refused", mode_refused }, { "errors", mode_errors },
		{ "options", mode_options }, { "signal", mode_signal },
		{ "sigpipe", mode_sigpipe },
	};

	for (size_t i = 0; argc > 1 && i < sizeof(modes) / sizeof(*modes); i++)
		if (strcmp(argv[1], modes[i].name) == 0) {
			modes[i].fn();
			return 0;
		}
	say("usage: socktest echo|udp|names|nonblock|refused|errors|"
	    "options|signal|sigpipe\n");
	return 2;
}
