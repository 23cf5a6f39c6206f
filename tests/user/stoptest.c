/*
 * stoptest.c - job control: stopped processes, SIGCONT, wait4's
 * WUNTRACED and WCONTINUED, the console's SIGTTIN and SIGTTOU, orphaned
 * process groups and SIGHUP, for tests/kern/user_test.c.  Started by
 * the kernel, the program leads a session of its own, and its own group
 * is orphaned (its parent is the kernel): its children in a group of
 * their own are the ones that can stop for the terminal's signals.  One
 * mode per run:
 *
 *   stop      SIGSTOP and SIGCONT: a counter a child bumps in shared
 *             memory stands still while wait4 says it is stopped, and
 *             moves again after the continue (its SIGCONT handler ran);
 *             SIGCHLD for each, none with SA_NOCLDSTOP; SIGKILL ends a
 *             stopped child
 *   pending   a stop signal drops a pending SIGCONT, SIGCONT drops a
 *             pending stop signal (both blocked, seen with sigpending)
 *   tstp      ^Z, typed by the test, stops the foreground child in a
 *             pipe read; the program reads a line from the console while
 *             the test looks at ps; after SIGCONT the child's read goes
 *             on (restarted) and gets the byte written after it
 *   sleep     a child stopped and continued in nanosleep sleeps on (the
 *             call restarts with the time left: the test sees it asleep
 *             again, between two console reads of the program) until a
 *             SIGUSR1 handler ends it with EINTR and most of 1000 s left
 *             (not more than the whole)
 *   sleepon   a child's one-second sleep -- nanosleep without rem,
 *             clock_nanosleep with rem, clock_nanosleep TIMER_ABSTIME --
 *             is stopped and continued while it sleeps (the test sees
 *             it asleep, and the program checks the stop came before
 *             the second was up); each returns 0, and only after at
 *             least the whole second (no upper bound is asserted)
 *   portstop  a client stopped and continued while it waits in
 *             port_domsg, its message still queued (the server has not
 *             taken it) and then held (taken, not yet replied): it
 *             stops, waits again after the continue (the test sees it),
 *             and gets the one reply; the server sees the message once,
 *             not aborted, and nothing more comes
 *   nap       sleep 1000 s in nanosleep and say how it ended (the
 *             kernel shell's kill is tested on it)
 *   ttin      a background reader of the console stops with SIGTTIN; one
 *             that ignores it gets EIO, and so does one in an orphaned
 *             group
 *   ttou      with TOSTOP a background writer stops with SIGTTOU, one
 *             that ignores it writes; a background tcsetattr stops too
 *   orphan    SIGTSTP, SIGTTIN, SIGTTOU to a member of an orphaned group
 *             do nothing; SIGSTOP stops it
 *   hup       the console's session leader exits: its foreground group
 *             gets SIGHUP
 *   orphanhup a group that an exit orphans, with a stopped member, gets
 *             SIGHUP then SIGCONT; an already orphaned one gets nothing
 *
 * Each line is "<what> <result>"; a status is printed in hex.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <damselfly/port.h>

#define NS_PER_SEC	1000000000L
#define SLEEP_KINDS	3		/* sleepon: the sleeps it tries */
#define REPORT_WITHIN_S	10		/* wait_bounded gives up after it */

/* What a child shares with the program: a MAP_SHARED page. */
struct shared {
	volatile unsigned long counter;	/* the child's loop bumps it */
	volatile int conts;		/* SIGCONT handler runs */
	/* sleepon: the sleep the child is in (1..SLEEP_KINDS, 0 before the
	 * first), when it began, and what each sleep gave */
	volatile int asleep;
	volatile long start;
	volatile long rv[SLEEP_KINDS], err[SLEEP_KINDS];
	volatile int whole[SLEEP_KINDS];
	/* portstop: what the server saw and said, what the client got */
	volatile int seen, took, replied;
	volatile long domsg_rv, domsg_errno, reply_error, reply_data;
	volatile pid_t member;	/* orphanhup: B, the stopped member */
};

static struct shared *sh;
static volatile int chlds;		/* SIGCHLD handler runs */
static volatile int flag;

static void on_cont(int sig)
{
	sh->conts++;
}

static void on_chld(int sig)
{
	chlds++;
}

static void on_flag(int sig)
{
	flag = 1;
}

static void report(const char *what, long rv)
{
	dprintf(1, "%s %ld %d\n", what, rv, rv < 0 ? errno : 0);
}

static void catch(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigaction(sig, &sa, NULL);
}

/* Give other processes chances to run (no timing is asserted). */
static void let_others_run(void)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 50; i++) {
		sched_yield();
		nanosleep(&ms, NULL);
	}
}

/* A waitpid result in words: "stopped N", "continued", "exit N",
 * "signal N", "none" (WNOHANG, nothing to say) or "error E". */
static void describe(const char *what, pid_t got, int st)
{
	if (got < 0)
		dprintf(1, "%s: error %d\n", what, errno);
	else if (got == 0)
		dprintf(1, "%s: none\n", what);
	else if (WIFSTOPPED(st))
		dprintf(1, "%s: stopped %d status 0x%x\n", what, WSTOPSIG(st),
			st);
	else if (WIFCONTINUED(st))
		dprintf(1, "%s: continued status 0x%x\n", what, st);
	else if (WIFSIGNALED(st))
		dprintf(1, "%s: signal %d\n", what, WTERMSIG(st));
	else
		dprintf(1, "%s: exit %d\n", what, WEXITSTATUS(st));
}

/* The monotonic clock in nanoseconds. */
static long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * NS_PER_SEC + t.tv_nsec;
}

/* waitpid(pid, st, options) asked again (WNOHANG) after each tick (a
 * 1 ms sleep lasts one) until it has something to say or REPORT_WITHIN_S
 * seconds of the monotonic clock have passed: its result, 0 if nothing
 * came.  No time is asserted: a working kernel answers at once; the
 * bound only turns a hang into a failure. */
static pid_t wait_within(pid_t pid, int *st, int options)
{
	struct timespec ms = { 0, 1000000 };
	long give_up = now_ns() + REPORT_WITHIN_S * NS_PER_SEC;
	pid_t got = 0;

	while (got == 0 && now_ns() < give_up) {
		got = waitpid(pid, st, options | WNOHANG);
		if (got == 0)
			nanosleep(&ms, NULL);
	}
	return got;
}

/* Report a stop, continue or end of pid that is surely coming, or
 * "<what>: no report within 10 s" if none came (wait_within), so a
 * kernel that never stops, continues or ends the child fails the test
 * instead of hanging it.  True if it came. */
static bool wait_bounded(const char *what, pid_t pid, int options)
{
	int st = 0;
	pid_t got = wait_within(pid, &st, options);

	if (got == 0)
		dprintf(1, "%s: no report within %d s\n", what,
			REPORT_WITHIN_S);
	else
		describe(what, got, st);
	return got != 0;
}

/* With WNOHANG: what waitpid says now.  Without: wait_bounded, and a
 * child that did not come is killed and reaped (quietly, bounded too),
 * so it takes nothing meant for the next case -- a console read, say. */
static void wait_report(const char *what, pid_t pid, int options)
{
	int st = 0;

	if (options & WNOHANG) {
		describe(what, waitpid(pid, &st, options), st);
		return;
	}
	if (!wait_bounded(what, pid, options)) {
		kill(pid, SIGKILL);
		wait_within(pid, &st, 0);
	}
}

/* waitpid itself, not bounded: for the one wait the test must see the
 * program asleep in (tstp's, before it types ^Z). */
static void wait_blocking(const char *what, pid_t pid, int options)
{
	int st = 0;
	pid_t got = waitpid(pid, &st, options);

	describe(what, got, st);
}

/* A child that bumps sh->counter for ever, counting its SIGCONTs. */
static pid_t counter_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		catch(SIGCONT, on_cont, SA_RESTART);
		for (;;)
			sh->counter++;
	}
	while (sh->counter == 0)
		sched_yield();
	return pid;
}

/* stop: SIGSTOP and SIGCONT seen by wait4 and by the counter. */
static void mode_stop(void)
{
	unsigned long before, after;
	pid_t k;

	catch(SIGCHLD, on_chld, SA_RESTART);
	k = counter_child();
	report("sigstop", kill(k, SIGSTOP));
	for (int i = 0; i < 100000 && chlds == 0; i++)	/* it stopped */
		sched_yield();
	wait_report("stopped, not continued", k, WCONTINUED | WNOHANG);
	wait_bounded("wuntraced", k, WUNTRACED);
	dprintf(1, "sigchld after the stop %d\n", chlds);
	before = sh->counter;
	let_others_run();
	after = sh->counter;
	dprintf(1, "counter still while stopped %d\n", before == after);
	wait_report("stop reported once", k, WUNTRACED | WNOHANG);
	wait_report("no continue yet", k, WCONTINUED | WNOHANG);
	report("sigcont", kill(k, SIGCONT));
	wait_bounded("wcontinued", k, WCONTINUED);
	dprintf(1, "sigchld after the continue %d\n", chlds);
	for (int i = 0; i < 100000 && sh->counter == after; i++)
		sched_yield();
	dprintf(1, "counter moves after sigcont %d, handler ran %d\n",
		sh->counter != after, sh->conts);
	catch(SIGCHLD, on_chld, SA_RESTART | SA_NOCLDSTOP);
	report("sigstop again", kill(k, SIGSTOP));
	wait_bounded("wuntraced again", k, WUNTRACED);
	dprintf(1, "sigchld with SA_NOCLDSTOP %d\n", chlds);
	report("sigkill while stopped", kill(k, SIGKILL));
	wait_report("stopped child", k, 0);
}

/* pending: what each kind of signal drops from the pending set. */
static void mode_pending(void)
{
	int ready[2], report_pipe[2];
	sigset_t block, pend;
	char c;
	pid_t k;

	pipe(ready);
	pipe(report_pipe);
	k = fork();
	if (k == 0) {
		sigset_t wait_mask;

		sigemptyset(&block);
		sigaddset(&block, SIGCONT);
		sigaddset(&block, SIGTSTP);
		wait_mask = block;	/* SIGUSR1 only, while waiting */
		sigaddset(&block, SIGUSR1);
		sigprocmask(SIG_BLOCK, &block, NULL);
		catch(SIGCONT, on_cont, 0);
		catch(SIGUSR1, on_flag, 0);
		for (int round = 0; round < 2; round++) {
			flag = 0;
			write(ready[1], "r", 1);
			while (!flag)
				sigsuspend(&wait_mask);
			sigpending(&pend);
			c = (char)('0' + sigismember(&pend, SIGCONT) * 2 +
				   sigismember(&pend, SIGTSTP));
			write(report_pipe[1], &c, 1);
		}
		_exit(0);
	}
	read(ready[0], &c, 1);
	kill(k, SIGCONT);		/* pending, blocked */
	kill(k, SIGTSTP);		/* drops it; pending, blocked */
	kill(k, SIGUSR1);
	read(report_pipe[0], &c, 1);
	dprintf(1, "after sigcont, sigtstp: cont %d tstp %d\n",
		(c - '0') >> 1, (c - '0') & 1);
	read(ready[0], &c, 1);
	kill(k, SIGCONT);		/* drops the SIGTSTP */
	kill(k, SIGUSR1);
	read(report_pipe[0], &c, 1);
	dprintf(1, "then sigcont: cont %d tstp %d\n", (c - '0') >> 1,
		(c - '0') & 1);
	wait_report("child", k, WUNTRACED);
}

static void take_console(void)
{
	report("tiocsctty", ioctl(0, TIOCSCTTY, 0));
}

/* A child in a group of its own (set on both sides). */
static pid_t own_group_child(void)
{
	pid_t pid = fork();

	if (pid == 0)
		setpgid(0, 0);
	else
		setpgid(pid, pid);
	return pid;
}

/* tstp: the test types ^Z while the foreground child reads a pipe. */
static void mode_tstp(void)
{
	int p[2];
	char c;
	long n;
	pid_t f;

	take_console();
	signal(SIGTTOU, SIG_IGN);	/* a shell's way: tcsetpgrp back */
	pipe(p);
	f = own_group_child();
	if (f == 0) {
		close(p[1]);
		n = read(p[0], &c, 1);
		_exit(n == 1 && c == 'x' ? 0 : n < 0 ? 10 + errno : 9);
	}
	close(p[0]);
	report("tcsetpgrp child", tcsetpgrp(0, f));
	wait_blocking("after ^Z", f, WUNTRACED);	/* the test: "wait" */
	report("tcsetpgrp back", tcsetpgrp(0, getpgrp()));
	report("read while it is stopped", read(0, &c, 1));	/* test: ps */
	report("sigcont", kill(f, SIGCONT));
	wait_bounded("continued", f, WCONTINUED);
	write(p[1], "x", 1);
	wait_report("its read went on", f, 0);
}

/* sleep: the test types a line once the child sleeps in nanosleep, and
 * again once it sleeps there after the stop and the continue. */
static void mode_sleep(void)
{
	struct timespec ts = { 1000, 0 }, rem = { 0, 0 };
	char line[8];
	pid_t f = fork();
	long rv;

	if (f == 0) {
		catch(SIGUSR1, on_flag, 0);
		rv = nanosleep(&ts, &rem);
		dprintf(1, "nanosleep %ld errno %d handled %d most left %d "
			"not more than asked %d\n", rv, rv < 0 ? errno : 0,
			flag, rem.tv_sec > 900, rem.tv_sec < 1000);
		_exit(0);
	}
	read(0, line, sizeof(line));	/* the child sleeps */
	kill(f, SIGSTOP);
	wait_bounded("stopped", f, WUNTRACED);
	kill(f, SIGCONT);
	wait_bounded("continued", f, WCONTINUED);
	read(0, line, sizeof(line));	/* it sleeps again */
	kill(f, SIGUSR1);
	wait_report("child", f, 0);
}

/* Sleep kind (0..SLEEP_KINDS - 1) for one second from start; the raw
 * calls, so each says -1 and errno. */
static long sleep_a_second(int kind, long start)
{
	struct timespec second = { 1, 0 }, rem;
	struct timespec until = { (start + NS_PER_SEC) / NS_PER_SEC,
				  (start + NS_PER_SEC) % NS_PER_SEC };

	if (kind == 0)
		return syscall(SYS_nanosleep, &second, NULL);
	if (kind == 1)
		return syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0,
			       &second, &rem);
	return syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME,
		       &until, NULL);
}

/* sleepon's child: each kind of sleep in turn, results in sh. */
static void sleeper(void)
{
	for (int k = 0; k < SLEEP_KINDS; k++) {
		long rv;

		sh->start = now_ns();
		sh->asleep = k + 1;
		rv = sleep_a_second(k, sh->start);
		sh->rv[k] = rv;
		sh->err[k] = rv < 0 ? errno : 0;
		sh->whole[k] = now_ns() - sh->start >= NS_PER_SEC;
	}
	_exit(0);
}

/* sleepon: stop and continue each of the child's sleeps.  The test
 * types a line once the child sleeps and the program reads. */
static void mode_sleepon(void)
{
	static const char *const kinds[SLEEP_KINDS] = {
		"nanosleep without rem", "clock_nanosleep",
		"clock_nanosleep TIMER_ABSTIME" };
	char line[8];
	pid_t f = fork();
	long start, sent;

	if (f == 0)
		sleeper();
	for (int k = 0; k < SLEEP_KINDS; k++) {
		while (sh->asleep != k + 1)
			sched_yield();
		read(0, line, sizeof(line));	/* it sleeps in sleep k */
		start = sh->start;		/* before sleep k + 1 moves it */
		sent = now_ns();
		kill(f, SIGSTOP);
		wait_bounded("stopped", f, WUNTRACED);
		kill(f, SIGCONT);
		wait_bounded("continued", f, WCONTINUED);
		dprintf(1, "the stop came during the sleep %d\n",
			sent < start + NS_PER_SEC);
	}
	wait_report("child", f, 0);
	for (int k = 0; k < SLEEP_KINDS; k++)
		dprintf(1, "%s: %ld errno %ld, the whole second %d\n",
			kinds[k], sh->rv[k], sh->err[k], sh->whole[k]);
}

/* portstop's server, one step per byte on ctl: 't' takes a request
 * if one is queued, 'w' waits for one and takes it, 'r' replies to it
 * (its first byte plus one), 'c' counts what else came, then it exits. */
static void port_server(int fd, int ctl)
{
	struct port_msg m;
	bool have = false;
	char step;

	while (read(ctl, &step, 1) == 1) {
		if (step == 't' || step == 'w') {
			have = port_wait(fd, &m, step == 't' ? PORT_NOWAIT
							     : 0) == 0;
			sh->seen += have;
			sh->took = 1;
		} else if (step == 'r' && have) {
			m.data[0]++;
			sh->replied = port_reply(m.id, &m, 0);
		} else if (step == 'c') {
			while (port_wait(fd, &m, PORT_NOWAIT) == 0)
				sh->seen++;
			_exit(0);
		}
	}
	_exit(1);
}

/* portstop's client: one port_domsg of 41, and what came back. */
static void port_client(int fd)
{
	struct port_msg m;
	long rv;

	memset(&m, 0, sizeof(m));
	m.data[0] = 41;
	rv = port_domsg(fd, &m);
	sh->domsg_rv = rv;
	sh->domsg_errno = rv < 0 ? errno : 0;
	sh->reply_error = m.error;
	sh->reply_data = m.data[0];
	_exit(0);
}

/* Stop and continue the client between two console lines (the test
 * types each while the client waits in port_domsg). */
static void stop_while_it_waits(pid_t client)
{
	char line[8];

	read(0, line, sizeof(line));
	kill(client, SIGSTOP);
	wait_bounded("stopped", client, WUNTRACED);
	kill(client, SIGCONT);
	wait_bounded("continued", client, WCONTINUED);
	read(0, line, sizeof(line));
}

/* One portstop case: held = 0, the client is stopped while its message
 * is queued; 1, while the server holds it. */
static void port_case(int held)
{
	int fd = port_create(0), ctl[2];
	pid_t server, client;

	sh->seen = sh->took = 0;
	sh->replied = -1;
	pipe(ctl);
	server = fork();
	if (server == 0)
		port_server(fd, ctl[0]);
	client = fork();
	if (client == 0)
		port_client(fd);
	if (held) {
		write(ctl[1], "w", 1);
		while (!sh->took)
			sched_yield();
	}
	stop_while_it_waits(client);
	if (!held) {
		write(ctl[1], "t", 1);
		while (!sh->took)
			sched_yield();
	}
	write(ctl[1], "r", 1);
	wait_report("client", client, 0);
	write(ctl[1], "c", 1);
	wait_report("server", server, 0);
	dprintf(1, "%s: domsg %ld errno %ld, reply error %ld data %ld; the "
		"server saw it %d times, port_reply said %d\n",
		held ? "held" : "queued", sh->domsg_rv, sh->domsg_errno,
		sh->reply_error, sh->reply_data, sh->seen, sh->replied);
	close(ctl[0]);
	close(ctl[1]);
	close(fd);
}

static void mode_portstop(void)
{
	port_case(0);
	port_case(1);
}

/* nap: a process to signal from outside. */
static void mode_nap(void)
{
	struct timespec ts = { 1000, 0 };

	report("nap", nanosleep(&ts, NULL));
}

/* A child in a background group that reads the console (0, or the
 * negated errno of its read as its exit status). */
static pid_t background_reader(int ignore)
{
	pid_t pid = own_group_child();
	char c;

	if (pid == 0) {
		if (ignore)
			signal(SIGTTIN, SIG_IGN);
		_exit(read(0, &c, 1) < 0 ? errno : 0);
	}
	return pid;
}

static void mode_ttin(void)
{
	pid_t k, member;
	char c;

	take_console();
	signal(SIGTTOU, SIG_IGN);
	k = background_reader(0);
	wait_report("background reader", k, WUNTRACED);
	kill(k, SIGKILL);
	wait_report("killed", k, 0);
	k = background_reader(1);
	wait_report("reader ignoring sigttin", k, 0);
	/* Our own group is orphaned: a member of it in the background. */
	k = own_group_child();
	if (k == 0) {
		struct timespec ts = { 1000, 0 };

		nanosleep(&ts, NULL);
		_exit(0);
	}
	report("tcsetpgrp other", tcsetpgrp(0, k));
	member = fork();
	if (member == 0)
		_exit(read(0, &c, 1) < 0 ? errno : 0);
	wait_report("reader in an orphaned group", member, WUNTRACED);
	report("tcsetpgrp back", tcsetpgrp(0, getpgrp()));
	kill(k, SIGKILL);
	wait_report("sleeper", k, 0);
}

/* Set or clear TOSTOP. */
static long set_tostop(int on)
{
	struct termios t;

	tcgetattr(0, &t);
	t.c_lflag = on ? t.c_lflag | TOSTOP : t.c_lflag & ~TOSTOP;
	return tcsetattr(0, TCSANOW, &t);
}

/* A background child doing what: 'w' write the console, 'i' write it
 * ignoring SIGTTOU, 's' tcsetattr, 'p' tcsetpgrp to its own group;
 * exits 0, or the errno. */
static pid_t background_doer(char what)
{
	pid_t pid = own_group_child();
	struct termios t;

	if (pid == 0) {
		/* The program ignores SIGTTOU (as a shell does); fork kept
		 * that, and only 'i' wants it. */
		signal(SIGTTOU, what == 'i' ? SIG_IGN : SIG_DFL);
		if (what == 's') {
			tcgetattr(0, &t);
			_exit(tcsetattr(0, TCSANOW, &t) < 0 ? errno : 0);
		}
		if (what == 'p')
			_exit(tcsetpgrp(0, getpgrp()) < 0 ? errno : 0);
		_exit(write(0, ".", 1) < 0 ? errno : 0);
	}
	return pid;
}

static void mode_ttou(void)
{
	pid_t k, member;

	take_console();
	signal(SIGTTOU, SIG_IGN);
	k = background_doer('w');
	wait_report("writer without tostop", k, WUNTRACED);
	report("tostop on", set_tostop(1));
	k = background_doer('w');
	wait_report("writer with tostop", k, WUNTRACED);
	kill(k, SIGKILL);
	wait_report("killed", k, 0);
	k = background_doer('i');
	wait_report("writer ignoring sigttou", k, WUNTRACED);
	report("tostop off", set_tostop(0));
	k = background_doer('s');
	wait_report("background tcsetattr", k, WUNTRACED);
	kill(k, SIGKILL);
	wait_report("killed", k, 0);
	k = background_doer('p');
	wait_report("background tcsetpgrp", k, WUNTRACED);
	/* With k's group in front, a member of our orphaned group tries. */
	report("tcsetpgrp to it", tcsetpgrp(0, k));
	member = fork();
	if (member == 0) {
		signal(SIGTTOU, SIG_DFL);
		_exit(tcsetpgrp(0, getpgrp()) < 0 ? errno : 0);
	}
	wait_report("tcsetpgrp in an orphaned group", member, WUNTRACED);
	report("tcsetpgrp back", tcsetpgrp(0, getpgrp()));
	kill(k, SIGKILL);
	wait_report("killed", k, 0);
}

/* A child of our (orphaned) group that waits for SIGWINCH, then exits
 * 7; it says "ready" on the pipe first. */
static pid_t winch_waiter(int ready)
{
	pid_t pid = fork();
	sigset_t block, none;

	if (pid == 0) {
		sigemptyset(&block);
		sigaddset(&block, SIGWINCH);
		sigprocmask(SIG_BLOCK, &block, NULL);
		catch(SIGWINCH, on_flag, 0);
		write(ready, "r", 1);
		sigemptyset(&none);
		while (!flag)
			sigsuspend(&none);
		_exit(7);
	}
	return pid;
}

static void mode_orphan(void)
{
	int p[2];
	char c;
	pid_t k;

	pipe(p);
	k = winch_waiter(p[1]);
	read(p[0], &c, 1);
	kill(k, SIGTSTP);
	kill(k, SIGTTIN);
	kill(k, SIGTTOU);
	kill(k, SIGWINCH);		/* delivered after them: a higher number */
	wait_report("after sigtstp, sigttin, sigttou", k, WUNTRACED);
	k = winch_waiter(p[1]);
	read(p[0], &c, 1);
	kill(k, SIGSTOP);
	wait_bounded("after sigstop", k, WUNTRACED);
	kill(k, SIGKILL);
	wait_report("killed", k, 0);
}

/* Where on_hup_say writes. */
static int hup_out;

/* SIGHUP's handler, with SIGTERM blocked while it runs: says "hup". */
static void on_hup_say(int sig)
{
	write(hup_out, "hup", 3);
	flag = 1;
}

/* A child that waits for SIGHUP and says "hup" on out; "r" on ready.
 * SIGTERM ends it too, but never before the SIGHUP handler spoke. */
static void hup_waiter(int ready, int out)
{
	struct sigaction sa;
	sigset_t block, none;

	hup_out = out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup_say;
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, NULL);
	write(ready, "r", 1);
	sigemptyset(&none);
	while (!flag)
		sigsuspend(&none);
	_exit(0);
}

static void mode_hup(void)
{
	int ready[2], out[2];
	char buf[8];
	long n;
	pid_t leader;

	pipe(ready);
	pipe(out);
	leader = fork();
	if (leader == 0) {
		pid_t member;

		setsid();
		if (ioctl(0, TIOCSCTTY, 1) < 0)
			_exit(1);
		member = fork();
		if (member == 0)
			hup_waiter(ready[1], out[1]);
		sh->counter = (unsigned long)member;	/* for the SIGTERM */
		read(ready[0], buf, 1);
		_exit(0);		/* the controlling process ends */
	}
	close(out[1]);
	close(ready[1]);
	wait_report("leader", leader, 0);
	/* The SIGHUP came with the leader's exit, before wait4 saw it; a
	 * SIGTERM now ends the member after its SIGHUP handler spoke (it
	 * blocks SIGTERM), or at once if no SIGHUP came: no hang. */
	if (sh->counter > 1)
		kill((pid_t)sh->counter, SIGTERM);
	n = read(out[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	dprintf(1, "foreground member says %s\n", buf);
}

/* B's handlers: H for SIGHUP, C for SIGCONT, in the order they ran. */
static int order_pipe;

static void on_hup_mark(int sig)
{
	write(order_pipe, "H", 1);
}

static void on_cont_mark(int sig)
{
	write(order_pipe, "C", 1);
}

/* What B's handlers wrote on fd, to the end (B gone), as a string in
 * buf: its length.  A byte that does not come within REPORT_WITHIN_S
 * seconds (poll's timeout) ends it with "stopped member: no word within
 * 10 s", and B, stopped for ever, is killed, so the test fails instead
 * of hanging. */
static long read_marks(int fd, char *buf, long size)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long n;

	for (n = 0; n < size - 1; n++) {
		if (poll(&pfd, 1, REPORT_WITHIN_S * 1000) != 1) {
			dprintf(1, "stopped member: no word within %d s\n",
				REPORT_WITHIN_S);
			if (sh->member > 0)
				kill(sh->member, SIGKILL);
			break;
		}
		if (read(fd, &buf[n], 1) != 1)
			break;
	}
	buf[n] = '\0';
	return n;
}

static void mode_orphanhup(void)
{
	int out[2];
	char buf[8];
	long n;
	pid_t a, k, m;

	pipe(out);
	a = fork();
	if (a == 0) {			/* A: a group whose link is A */
		pid_t b;

		setpgid(0, 0);
		b = fork();
		if (b == 0) {
			order_pipe = out[1];
			catch(SIGHUP, on_hup_mark, 0);
			catch(SIGCONT, on_cont_mark, 0);
			raise(SIGSTOP);
			_exit(0);
		}
		sh->member = b;		/* for read_marks' SIGKILL */
		close(out[1]);
		waitpid(b, NULL, WUNTRACED);
		_exit(0);		/* b's group is orphaned now */
	}
	close(out[1]);
	wait_report("link", a, 0);
	n = read_marks(out[0], buf, sizeof(buf));
	if (n == 2 && buf[0] > buf[1]) {	/* the handler of the frame */
		buf[0] = 'C';			/* pushed last runs first: */
		buf[1] = 'H';			/* either order is right */
	}
	dprintf(1, "stopped member saw %s\n", buf);
	/* Our own group was orphaned all along: an exit in it says nothing
	 * to a stopped member. */
	k = fork();
	if (k == 0) {
		raise(SIGSTOP);
		_exit(0);
	}
	wait_bounded("member", k, WUNTRACED);
	m = fork();
	if (m == 0)
		_exit(0);
	wait_report("another member", m, 0);
	wait_report("the stopped one", k, WCONTINUED | WNOHANG);
	kill(k, SIGKILL);
	wait_report("killed", k, 0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 3;
	if (strcmp(mode, "stop") == 0)
		mode_stop();
	else if (strcmp(mode, "pending") == 0)
		mode_pending();
	else if (strcmp(mode, "tstp") == 0)
		mode_tstp();
	else if (strcmp(mode, "sleep") == 0)
		mode_sleep();
	else if (strcmp(mode, "sleepon") == 0)
		mode_sleepon();
	else if (strcmp(mode, "nap") == 0)
		mode_nap();
	else if (strcmp(mode, "portstop") == 0)
		mode_portstop();
	else if (strcmp(mode, "ttin") == 0)
		mode_ttin();
	else if (strcmp(mode, "ttou") == 0)
		mode_ttou();
	else if (strcmp(mode, "orphan") == 0)
		mode_orphan();
	else if (strcmp(mode, "hup") == 0)
		mode_hup();
	else if (strcmp(mode, "orphanhup") == 0)
		mode_orphanhup();
	else
		return 2;
	return 0;
}
