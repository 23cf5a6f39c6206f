/*
 * jobtest.c - process groups, sessions and the console's foreground
 * group, for tests/kern/user_test.c.  Started by the kernel, the program
 * leads a session of its own; it takes the console (TIOCSCTTY), and the
 * test types ^C or ^\ through the console's input path (tty_input) while
 * the program waits.  One mode per run:
 *
 *   intr    a child in a group of its own is the foreground: ^C ends it
 *           with SIGINT; the program and a child in its group get nothing
 *   quit    the same with ^\ and SIGQUIT
 *   raw     ISIG off: ^C is read as a byte, and nobody is signalled
 *   fg      the program's own group is the foreground: its read ends with
 *           EINTR after its handler, and its child is ended by SIGINT
 *   groups  kill(-pgid), kill(0), wait4(-pgid), wait4(0), getpgrp, getsid
 *   errors  the Linux errno of each bad call
 *
 * Each line is "<what> <result> <errno>" or a child's end.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static volatile int handled;

static void on_signal(int sig)
{
	handled++;
}

static void report(const char *what, long rv)
{
	dprintf(1, "%s %ld %d\n", what, rv, rv < 0 ? errno : 0);
}

/* Catch SIGINT, SIGQUIT, SIGUSR2 without SA_RESTART (a read ends). */
static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
}

/* A child that sleeps until a signal ends it; in a new group of its own
 * (set by both sides, so either order works) or in ours. */
static pid_t sleeper(int own_group)
{
	struct timespec ts = { 1000, 0 };
	pid_t pid = fork();

	if (pid == 0) {
		if (own_group)
			setpgid(0, 0);
		nanosleep(&ts, NULL);
		_exit(0);
	}
	if (own_group)
		setpgid(pid, pid);
	return pid;
}

/* Wait for pid and say how it ended. */
static void reap(const char *who, pid_t pid)
{
	int st = 0;
	pid_t got = waitpid(pid, &st, 0);

	if (got < 0)
		dprintf(1, "%s: waitpid -1 %d\n", who, errno);
	else if (WIFSIGNALED(st))
		dprintf(1, "%s: signal %d\n", who, WTERMSIG(st));
	else
		dprintf(1, "%s: exit %d\n", who, WEXITSTATUS(st));
}

static void take_console(void)
{
	report("tiocsctty", ioctl(0, TIOCSCTTY, 0));
	dprintf(1, "foreground is mine %d\n", tcgetpgrp(0) == getpgrp());
}

/* intr and quit: the test types the key while we wait for the child. */
static void mode_key(void)
{
	pid_t bg, fg;

	take_console();
	bg = sleeper(0);
	fg = sleeper(1);
	catch_signals();
	report("tcsetpgrp child", tcsetpgrp(0, fg) == 0 && tcgetpgrp(0) == fg);
	reap("foreground child", fg);
	signal(SIGTTOU, SIG_IGN);	/* from the background, as a shell */
	report("tcsetpgrp back", tcsetpgrp(0, getpgrp()));
	dprintf(1, "handled %d\n", handled);
	kill(bg, SIGTERM);
	reap("background child", bg);
}

/* raw: ISIG off, ^C is data. */
static void mode_raw(void)
{
	struct termios t, saved;
	unsigned char c = 0;
	long n;

	take_console();
	catch_signals();
	tcgetattr(0, &saved);
	t = saved;
	t.c_lflag &= ~(ISIG | ICANON | ECHO);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	report("raw", tcsetattr(0, TCSANOW, &t));
	n = read(0, &c, 1);
	dprintf(1, "read %ld byte %d handled %d\n", n, c, handled);
	report("back", tcsetattr(0, TCSANOW, &saved));
}

/* fg: our own group in the foreground, reading. */
static void mode_fg(void)
{
	char line[16];
	pid_t member;
	long n;

	take_console();
	member = sleeper(0);
	catch_signals();
	n = read(0, line, sizeof(line));
	dprintf(1, "read %ld errno %d handled %d\n", n, n < 0 ? errno : 0,
		handled);
	reap("group member", member);
}

static void mode_groups(void)
{
	pid_t a, b, mine, other, outsider;
	int st;

	dprintf(1, "leader: pgrp %d sid %d\n", getpgrp() == getpid(),
		getsid(0) == getpid());
	outsider = sleeper(1);		/* wait4(-a) must leave it */
	kill(outsider, SIGTERM);
	a = sleeper(1);
	b = fork();
	if (b == 0) {
		struct timespec ts = { 1000, 0 };

		setpgid(0, a);
		nanosleep(&ts, NULL);
		_exit(0);
	}
	report("setpgid into a sibling's group", setpgid(b, a));
	dprintf(1, "getpgid %d %d\n", getpgid(a) == a, getpgid(b) == a);
	report("kill group", kill(-a, SIGUSR1));
	reap("group, first", -a);
	reap("group, second", -a);
	reap("group, none left", -a);
	reap("outsider", outsider);
	mine = sleeper(0);
	other = sleeper(1);
	kill(other, SIGTERM);
	kill(mine, SIGTERM);
	dprintf(1, "wait4 0 took mine %d\n",
		waitpid(0, &st, 0) == mine && WTERMSIG(st) == SIGTERM);
	reap("other group", other);
	mine = sleeper(0);
	catch_signals();
	report("kill 0", kill(0, SIGUSR2));
	dprintf(1, "handled %d\n", handled);
	reap("my group", mine);
}

/* A child that makes its own session; returns once it has. */
static pid_t other_session(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct timespec ts = { 1000, 0 };

		setsid();
		nanosleep(&ts, NULL);
		_exit(0);
	}
	while (getsid(pid) != pid)
		sched_yield();
	return pid;
}

/* Seconds on the monotonic clock. */
static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* A child that execs /bin/jobtest sleep; returns once it has (its parent
 * may no longer move it: EACCES).  Tried again after each tick for 10 s
 * of the monotonic clock at most, so a kernel that lets the parent move
 * an execed child fails the test (the line says so, and setpgid's 0
 * follows) instead of hanging it; no time is asserted. */
static long execed_child(pid_t *pidp)
{
	struct timespec ms = { 0, 1000000 };
	double give_up = now_s() + 10;
	long rv = 0;
	pid_t pid = fork();

	if (pid == 0) {
		char *argv[] = { "jobtest", "sleep", NULL };

		execv("/bin/jobtest", argv);
		_exit(127);
	}
	while ((rv = setpgid(pid, pid)) == 0 && now_s() < give_up)
		nanosleep(&ms, NULL);
	if (rv == 0)
		dprintf(1, "execed child: setpgid still works after 10 s\n");
	*pidp = pid;
	return rv;
}

static void mode_errors(void)
{
	pid_t s, t, u;
	int id = 0;

	report("setsid of a group leader", setsid());
	report("setpgid of a session leader", setpgid(0, 0));
	report("setpgid to a negative group", setpgid(0, -1));
	report("setpgid of no such process", setpgid(99999, 0));
	report("getpgid of no such process", getpgid(99999));
	report("getsid of no such process", getsid(99999));
	report("kill of an empty group", kill(-99999, 0));
	report("tiocgpgrp before the console is ours", tcgetpgrp(0));
	s = other_session();
	t = sleeper(0);
	report("setpgid of a child in another session", setpgid(s, s));
	report("setpgid into another session's group", setpgid(t, s));
	report("setpgid into no group", setpgid(t, 99999));
	report("setpgid of a child into a new group", setpgid(t, t));
	report("setpgid of a child after execve", execed_child(&u));
	if (fork() == 0) {
		report("tiocsctty by a non-leader", ioctl(0, TIOCSCTTY, 0));
		_exit(0);
	}
	wait(NULL);
	take_console();
	report("tcsetpgrp to no group", tcsetpgrp(0, 99999));
	report("tcsetpgrp to another session", tcsetpgrp(0, s));
	report("tcsetpgrp negative", tcsetpgrp(0, -1));
	report("tiocgsid", ioctl(0, TIOCGSID, &id));
	dprintf(1, "sid is mine %d\n", id == getpid());
	kill(s, SIGKILL);
	kill(t, SIGKILL);
	kill(u, SIGKILL);
	reap("other session", s);
	reap("moved child", t);
	reap("execed child", u);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	struct timespec ts = { 1000, 0 };

	if (strcmp(mode, "intr") == 0 || strcmp(mode, "quit") == 0)
		mode_key();
	else if (strcmp(mode, "raw") == 0)
		mode_raw();
	else if (strcmp(mode, "fg") == 0)
		mode_fg();
	else if (strcmp(mode, "groups") == 0)
		mode_groups();
	else if (strcmp(mode, "errors") == 0)
		mode_errors();
	else if (strcmp(mode, "sleep") == 0)
		nanosleep(&ts, NULL);
	else
		return 2;
	return 0;
}
