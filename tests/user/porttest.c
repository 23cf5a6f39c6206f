/*
 * porttest.c - message ports between processes (include/uapi/damselfly/
 * port.h), one behaviour per argument, for tests/kern/user_test.c.
 * Output goes straight to write(2); every line is printed by the parent
 * after it has waited for what it describes, so the order is fixed.
 *
 *   pingpong N  a forked server answers N domsg round trips (each reply
 *               is the request plus one), then N async sends
 *   abort       abort of a queued message (EINTR at once, the next one
 *               still served in order) and of one a server holds (the
 *               server's reply comes, port_reply says it was aborted)
 *   errors      EBADF, EFAULT, ENOENT, EINVAL, EAGAIN -- and no panic
 *   exec        the port crosses fork and execve (a PORT_CLOEXEC one
 *               does not); the exec'd server answers
 *   exit        messages in flight when a server, a sender, or the last
 *               holder of a port goes away; a kill during domsg of a
 *               message still queued
 *   kill        a signal to a client waiting for a message a server
 *               holds: SIGKILL, or SIGTERM not caught, ends it while the
 *               server still holds the message (in port_domsg and in
 *               port_waitmsg of its id), and the server's late reply or
 *               exit goes nowhere; a SIGTERM handler aborts and waits for
 *               the reply; a SIGKILL ends that wait too; kills racing
 *               the server's reply or exit
 *   server FD CLOFD   (run by exec) serve FD until a quit message
 *   bench N     N domsg round trips to a forked server, nothing printed
 *               per trip (tools/kbench times it)
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <damselfly/port.h>

#define QUIT (~0ULL)		/* the value of a message ending a server */

/* Wait for pid; its status as "exit N" or "signal N". */
static void reap(const char *who, pid_t pid)
{
	int status = 0;

	if (waitpid(pid, &status, 0) != pid)
		dprintf(1, "%s: waitpid errno %d\n", who, errno);
	else if (WIFEXITED(status))
		dprintf(1, "%s: exit %d\n", who, WEXITSTATUS(status));
	else
		dprintf(1, "%s: signal %d\n", who, WTERMSIG(status));
}

/* A message whose first eight bytes hold v. */
static struct port_msg msg_of(uint64_t v)
{
	struct port_msg m;

	memset(&m, 0, sizeof(m));
	memcpy(m.data, &v, sizeof(v));
	return m;
}

static uint64_t value_of(const struct port_msg *m)
{
	uint64_t v;

	memcpy(&v, m->data, sizeof(v));
	return v;
}

/* Serve fd: reply to each request with its value plus one, until QUIT.
 * Returns how many requests were served. */
static int serve(int fd)
{
	struct port_msg m;
	int served = 0;

	while (port_wait(fd, &m, 0) == 0) {
		int quit = value_of(&m) == QUIT;
		uint64_t v = value_of(&m) + 1;

		memcpy(m.data, &v, sizeof(v));
		port_reply(m.id, &m, 0);
		served++;
		if (quit)
			break;
	}
	return served;
}

/* A child that serves fd and exits with how many it served (mod 256). */
static pid_t fork_server(int fd)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(serve(fd) & 0xff);
	return pid;
}

static void quit_server(int fd)
{
	struct port_msg m = msg_of(QUIT);

	port_domsg(fd, &m);
}

static int mode_pingpong(int n)
{
	int fd = port_create(0);
	pid_t pid = fork_server(fd);
	uint64_t sum = 0, bad = 0;
	int64_t ids[8];

	for (int i = 0; i < n; i++) {
		struct port_msg m = msg_of((uint64_t)i);

		if (port_domsg(fd, &m) != 0 || m.error != 0 ||
		    value_of(&m) != (uint64_t)i + 1)
			bad++;
		sum += value_of(&m);
	}
	dprintf(1, "domsg %d round trips, sum %lu, bad %lu\n", n,
		(unsigned long)sum, (unsigned long)bad);
	for (int i = 0; i < 8; i++) {
		struct port_msg m = msg_of(100 + (uint64_t)i);

		ids[i] = port_send(fd, &m);
	}
	for (int i = 0; i < 8; i++) {
		struct port_msg m;
		/* the first four by id, the rest in the order they come */
		int rc = port_waitmsg(i < 4 ? (uint64_t)ids[i] : 0, &m, 0);

		dprintf(1, "%s%lu", i ? " " : "async: ",
			rc == 0 && (m.flags & PORT_F_REPLY) ?
				(unsigned long)value_of(&m) : 0UL);
	}
	dprintf(1, "\n");
	quit_server(fd);
	reap("server", pid);
	return 0;
}

/* Write one byte to fd / wait for one from fd: a handshake. */
static void poke(int fd)
{
	char c = 1;

	if (write(fd, &c, 1) != 1)
		_exit(90);
}

static void await(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1)
		_exit(91);
}

static int mode_abort(void)
{
	int fd = port_create(0), to_parent[2], to_child[2];
	struct port_msg a = msg_of(1), b = msg_of(2), c = msg_of(3),
			d = msg_of(4), r;
	int64_t ida = port_send(fd, &a), idb = port_send(fd, &b),
		idd = port_send(fd, &d), idc;
	pid_t pid;
	int rc;

	/* A, B and D wait in the queue; nobody serves yet. */
	dprintf(1, "abort queued: %d\n", port_abort((uint64_t)ida));
	port_waitmsg((uint64_t)ida, &r, PORT_NOWAIT);
	dprintf(1, "reply of A: error %d aborted %d\n", r.error,
		!!(r.flags & PORT_F_ABORTED));
	rc = port_abort((uint64_t)ida);
	dprintf(1, "abort again: %d errno %d\n", rc, errno);
	if (pipe(to_parent) || pipe(to_child))
		return 1;
	pid = fork();
	if (pid == 0) {
		struct port_msg m;

		/* B then D, in the order sent: the error says which came
		 * first.  A is gone. */
		for (int i = 1; i <= 2; i++) {
			port_wait(fd, &m, 0);
			port_reply(m.id, &m, i);
		}
		port_wait(fd, &m, 0);		/* C */
		poke(to_parent[1]);		/* "I hold C" */
		await(to_child[0]);		/* ... until C is aborted */
		rc = port_reply(m.id, &m, 7);
		_exit(rc == 1 ? 0 : 10 + rc);
	}
	port_waitmsg((uint64_t)idb, &r, 0);
	dprintf(1, "reply of B: order %d value %lu\n", r.error,
		(unsigned long)value_of(&r));
	port_waitmsg((uint64_t)idd, &r, 0);
	dprintf(1, "reply of D: order %d value %lu\n", r.error,
		(unsigned long)value_of(&r));
	idc = port_send(fd, &c);
	await(to_parent[0]);
	dprintf(1, "abort held: %d\n", port_abort((uint64_t)idc));
	poke(to_child[1]);
	port_waitmsg((uint64_t)idc, &r, 0);
	dprintf(1, "reply of C: error %d aborted %d\n", r.error,
		!!(r.flags & PORT_F_ABORTED));
	reap("server", pid);
	return 0;
}

/* Say whether pid has ended, without waiting ("none": not yet). */
static void reap_nohang(const char *who, pid_t pid)
{
	int status = 0;
	pid_t got = waitpid(pid, &status, WNOHANG);

	if (got == 0)
		dprintf(1, "%s: none\n", who);
	else if (got < 0)
		dprintf(1, "%s: waitpid errno %d\n", who, errno);
	else if (WIFSIGNALED(status))
		dprintf(1, "%s: signal %d\n", who, WTERMSIG(status));
	else
		dprintf(1, "%s: exit %d\n", who, WEXITSTATUS(status));
}

/* Print a call's result and errno, as the other test programs do. */
static void show(const char *what, long rc)
{
	dprintf(1, "%s %ld %d\n", what, rc, rc < 0 ? errno : 0);
	errno = 0;
}

static int mode_errors(void)
{
	struct port_msg m = msg_of(1);
	void *kernel = (void *)0xffffffff80100000UL;
	int fd = port_create(0);

	show("create_badflags", port_create(1));
	show("send_stdout", port_send(1, &m));
	show("send_closed", port_send(40, &m));
	show("send_negative", port_send(-1, &m));
	show("send_huge", port_result(port_syscall(SYS_port_send, 1L << 40,
						   (long)&m, 0)));
	show("domsg_kernel_ptr", port_domsg(fd, kernel));
	show("domsg_null", port_domsg(fd, NULL));
	show("wait_kernel_ptr", port_wait(fd, kernel, 0));
	show("wait_badflags", port_wait(fd, &m, 8));
	show("wait_empty", port_wait(fd, &m, PORT_NOWAIT));
	show("reply_unknown", port_reply(12345, &m, 0));
	show("reply_bad_error", port_reply(1, &m, 5000));
	show("waitmsg_unknown", port_waitmsg(999, &m, 0));
	show("waitmsg_none_yet", port_waitmsg(0, &m, PORT_NOWAIT));
	show("abort_unknown", port_abort(999));
	show("read_port", read(fd, &m, 1));
	show("close", close(fd));
	show("send_after_close", port_send(fd, &m));
	return 0;
}

/* The server end of mode exec, after execve: cfd must be gone. */
static int mode_server(int fd, int cfd)
{
	struct port_msg m;

	if (port_wait(cfd, &m, PORT_NOWAIT) != -1 || errno != EBADF)
		return 20;
	return serve(fd) & 0xff;
}

static int mode_exec(void)
{
	int fd = port_create(0), cfd = port_create(PORT_CLOEXEC);
	char a1[16], a2[16];
	pid_t pid;
	uint64_t sum = 0;

	snprintf(a1, sizeof(a1), "%d", fd);
	snprintf(a2, sizeof(a2), "%d", cfd);
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "porttest", "server", a1, a2, NULL };

		execve("/bin/porttest", argv, NULL);
		_exit(99);
	}
	for (int i = 0; i < 10; i++) {
		struct port_msg m = msg_of((uint64_t)i * 10);

		port_domsg(fd, &m);
		sum += value_of(&m);
	}
	dprintf(1, "exec server: 10 replies, sum %lu\n", (unsigned long)sum);
	quit_server(fd);
	reap("exec server", pid);
	return 0;
}

/* A server that takes one request and exits without replying. */
static void exit_holding(void)
{
	int fd = port_create(0);
	struct port_msg m = msg_of(5);
	pid_t pid = fork();
	int rc;

	if (pid == 0) {
		port_wait(fd, &m, 0);
		_exit(0);
	}
	rc = port_domsg(fd, &m);
	dprintf(1, "domsg to a server that exits: %d error %d\n", rc,
		m.error);
	reap("server", pid);
	close(fd);
}

/* A sender that exits with messages queued and held. */
static void sender_exits(void)
{
	int fd = port_create(0);
	struct port_msg m = msg_of(6);
	int served = 0;
	pid_t pid = fork();

	if (pid == 0) {
		int own = port_create(0);

		for (int i = 0; i < 5; i++)
			port_send(fd, &m);
		/* and one whose reply is home, never taken */
		port_send(own, &m);
		port_wait(own, &m, 0);
		port_reply(m.id, &m, 0);
		_exit(0);
	}
	reap("sender", pid);
	/* Take two and reply into nothing; leave three for the close. */
	for (int i = 0; i < 2; i++)
		if (port_wait(fd, &m, PORT_NOWAIT) == 0 &&
		    port_reply(m.id, &m, 0) == 0)
			served++;
	dprintf(1, "orphans replied: %d\n", served);
	close(fd);
}

/* The last holder closes a port with a living sender's message queued. */
static void close_with_queued(void)
{
	int fd = port_create(0), sync[2];
	pid_t pid;

	if (pipe(sync))
		return;
	pid = fork();
	if (pid == 0) {
		struct port_msg m = msg_of(7);
		int64_t id = port_send(fd, &m);

		close(fd);
		poke(sync[1]);
		port_waitmsg((uint64_t)id, &m, 0);
		_exit(m.error);
	}
	await(sync[0]);
	close(fd);
	reap("sender after close", pid);
}

/* Kill a process blocked in domsg with its message queued (nobody
 * serves): the abort takes it back.  (A held one: mode kill.) */
static void kill_in_domsg(void)
{
	int fd = port_create(0);
	struct port_msg m = msg_of(8);
	pid_t pid = fork();

	if (pid == 0)
		_exit(port_domsg(fd, &m) == 0 ? 50 : 51);
	usleep(20000);		/* let it block; either order is correct */
	kill(pid, SIGKILL);
	reap("killed in domsg (queued)", pid);
	close(fd);
}

static int mode_exit(void)
{
	exit_holding();
	sender_exits();
	close_with_queued();
	kill_in_domsg();
	return 0;
}

/* ---- mode kill ---- */

/* Give other processes chances to run: here, a signalled client to
 * take its signal and abort.  Nothing is asserted about time; what the
 * cases print after it is right in either order, except whether the
 * abort came before the reply -- which these 200 chances make sure of
 * on any machine that runs the client at all. */
static void let_others_run(void)
{
	for (int i = 0; i < 200; i++) {
		sched_yield();
		usleep(1000);
	}
}

/* Seconds on the monotonic clock. */
static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Reap pid if it has ended or ends soon: asked again (WNOHANG) after
 * each tick for 10 s at most, so a kernel that keeps a killed client
 * waiting fails the test ("none") instead of hanging it.  No time is
 * asserted: a working kernel answers at once.  True if reaped. */
static int reap_bounded(const char *who, pid_t pid)
{
	double give_up = now_s() + 10;
	int status = 0;
	pid_t got = 0;

	while (got == 0 && now_s() < give_up) {
		got = waitpid(pid, &status, WNOHANG);
		if (got == 0)
			usleep(1000);
	}
	if (got == 0)
		dprintf(1, "%s: none\n", who);
	else if (WIFSIGNALED(status))
		dprintf(1, "%s: signal %d\n", who, WTERMSIG(status));
	else
		dprintf(1, "%s: exit %d\n", who, WEXITSTATUS(status));
	return got != 0;
}

/* reap_bounded, and if pid is still there, kill it and reap it (a
 * broken kernel must not leave the test waiting). */
static void reap_or_kill(const char *who, pid_t pid)
{
	if (!reap_bounded(who, pid)) {
		kill(pid, SIGKILL);
		reap("  killed after all", pid);
	}
}

static volatile int handled;	/* the client's handler ran */

static void on_signal(int sig)
{
	handled = 1;
}

/* How a kill-mode client waits, and what it catches. */
enum { BY_DOMSG, BY_WAITMSG };

/*
 * A client: sends 9 and waits for the reply (port_domsg, or port_send
 * and port_waitmsg of its id), with a handler for catch_sig (0: none).
 * Its exit status says what it got: 1 the call returned 0, 2 the reply
 * was marked aborted, 4 its handler ran, 8 the reply's error was 7.  A
 * client that lingers does not exit after the call but waits to be
 * killed: a reply that beats the kill must not let it end otherwise.
 */
static pid_t kill_client(int fd, int how, int catch_sig, int linger)
{
	pid_t pid = fork();
	struct port_msg m = msg_of(9);
	long rc;

	if (pid != 0)
		return pid;
	if (catch_sig)
		signal(catch_sig, on_signal);
	if (how == BY_DOMSG)
		rc = port_domsg(fd, &m);
	else
		rc = port_waitmsg((uint64_t)port_send(fd, &m), &m, 0);
	while (linger)
		pause();
	_exit((rc == 0) | (m.flags & PORT_F_ABORTED ? 2 : 0) |
	      (handled ? 4 : 0) | (m.error == 7 ? 8 : 0));
}

/* A server: takes one request, says so on held, and at the byte from
 * go replies 7 to it ('r') or exits without a reply ('x').  Exits 10
 * plus what port_reply returned (1: the sender had aborted or gone). */
static pid_t kill_server(int fd, int held, int go)
{
	pid_t pid = fork();
	struct port_msg m;
	char c = 0;

	if (pid != 0)
		return pid;
	if (port_wait(fd, &m, 0) != 0)
		_exit(90);
	poke(held);
	if (read(go, &c, 1) != 1 || c != 'r')
		_exit(0);
	_exit(10 + port_reply(m.id, &m, 7));
}

/* One case: a client waits (how), a server holds its message, the
 * client is sent sig (then SIGKILL too, if then_kill); its end is
 * reaped while the server still holds the message; then the server
 * replies ('r') or exits ('x'). */
static void kill_case(const char *what, int how, int catch_sig, int sig,
		      int then_kill, char server_does)
{
	int fd = port_create(0), held[2], go[2];
	pid_t server, client;
	int ended;

	if (pipe(held) || pipe(go))
		_exit(92);
	server = kill_server(fd, held[1], go[0]);
	client = kill_client(fd, how, catch_sig, 0);
	await(held[0]);			/* the server holds it */
	kill(client, sig);
	if (then_kill) {
		let_others_run();	/* its abort, its wait again */
		kill(client, SIGKILL);
	}
	dprintf(1, "%s\n", what);
	ended = reap_bounded("  client while held", client);
	if (write(go[1], &server_does, 1) != 1)
		_exit(93);
	reap("  server", server);
	if (!ended)
		reap_or_kill("  client after the server", client);
	close(fd);
	close(held[0]);
	close(held[1]);
	close(go[0]);
	close(go[1]);
}

/* A client with a SIGTERM handler: SIGTERM aborts, the client waits on
 * for the reply (it is alive after the signal), gets it marked aborted,
 * and its handler runs. */
static void handler_case(void)
{
	int fd = port_create(0), held[2], go[2];
	pid_t server, client;

	if (pipe(held) || pipe(go))
		_exit(92);
	server = kill_server(fd, held[1], go[0]);
	client = kill_client(fd, BY_DOMSG, SIGTERM, 0);
	await(held[0]);
	kill(client, SIGTERM);
	let_others_run();		/* its abort, its wait again */
	dprintf(1, "sigterm, handled\n");
	reap_nohang("  client after the signal", client);
	if (write(go[1], "r", 1) != 1)
		_exit(93);
	reap("  server", server);
	reap_or_kill("  client (1 returned 0, 2 aborted, 4 handled, "
		     "8 error 7)", client);
	close(fd);
	close(held[0]);
	close(held[1]);
	close(go[0]);
	close(go[1]);
}

/* Kills racing the server: the server replies (even rounds) or exits
 * (odd) at the moment the client is killed (just before, or just after:
 * on one CPU the order of the two calls decides much).  Either may win: the reply
 * is home first (the client takes it and waits in pause) or the message
 * is orphaned first (the reply goes nowhere); the client always dies of
 * the SIGKILL, the server ends cleanly, and nothing is left. */
static void race_case(int rounds)
{
	int killed = 0, replied = 0, gone = 0;

	for (int i = 0; i < rounds; i++) {
		int fd = port_create(0), held[2], go[2], st = 0;
		char does = i % 2 ? 'x' : 'r';
		pid_t server, client;

		if (pipe(held) || pipe(go))
			_exit(92);
		server = kill_server(fd, held[1], go[0]);
		client = kill_client(fd, i % 4 < 2 ? BY_DOMSG : BY_WAITMSG,
				     0, 1);
		await(held[0]);
		if (i % 8 >= 4)		/* the other order first, too */
			kill(client, SIGKILL);
		if (write(go[1], &does, 1) != 1)
			_exit(93);
		kill(client, SIGKILL);
		waitpid(client, &st, 0);
		killed += WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
		waitpid(server, &st, 0);
		replied += does == 'r' && WIFEXITED(st) &&
			   (WEXITSTATUS(st) == 10 || WEXITSTATUS(st) == 11);
		gone += does == 'x' && WIFEXITED(st) && WEXITSTATUS(st) == 0;
		close(fd);
		close(held[0]);
		close(held[1]);
		close(go[0]);
		close(go[1]);
	}
	dprintf(1, "race: %d rounds, %d killed, %d replied, %d exited\n",
		rounds, killed, replied, gone);
}

static int mode_kill(void)
{
	kill_case("sigkill in domsg, then the reply", BY_DOMSG, 0, SIGKILL,
		  0, 'r');
	kill_case("sigkill in domsg, then the server exits", BY_DOMSG, 0,
		  SIGKILL, 0, 'x');
	kill_case("sigkill in waitmsg, then the reply", BY_WAITMSG, 0,
		  SIGKILL, 0, 'r');
	kill_case("sigterm not caught", BY_DOMSG, 0, SIGTERM, 0, 'r');
	kill_case("sigusr1 handled, then sigkill", BY_DOMSG, SIGUSR1,
		  SIGUSR1, 1, 'r');
	handler_case();
	race_case(40);
	return 0;
}

static int mode_bench(int n)
{
	int fd = port_create(0);
	pid_t pid = fork_server(fd);

	for (int i = 0; i < n; i++) {
		struct port_msg m = msg_of((uint64_t)i);

		port_domsg(fd, &m);
	}
	quit_server(fd);
	waitpid(pid, NULL, 0);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "pingpong"))
		return mode_pingpong(argc > 2 ? atoi(argv[2]) : 1000);
	if (!strcmp(mode, "abort"))
		return mode_abort();
	if (!strcmp(mode, "errors"))
		return mode_errors();
	if (!strcmp(mode, "exec"))
		return mode_exec();
	if (!strcmp(mode, "server") && argc > 3)
		return mode_server(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(mode, "exit"))
		return mode_exit();
	if (!strcmp(mode, "kill"))
		return mode_kill();
	if (!strcmp(mode, "bench"))
		return mode_bench(argc > 2 ? atoi(argv[2]) : 1000);
	dprintf(2, "usage: porttest pingpong|abort|errors|exec|exit|kill|bench\n");
	return 2;
}
