/*
 * pipetest.c - what POSIX and Linux promise of a pipe beyond carrying
 * bytes, one behaviour per argument, for tests/kern/user_test.c.  Each
 * mode prints lines the test compares (through write(2): no stdio
 * buffer to copy on fork).
 *
 *   atomic    three children write records of 4096 and 1000 bytes (each
 *             writer its own fill byte) into one pipe while the parent
 *             reads it a few hundred bytes at a time; every record must
 *             come out whole, none cut by another writer's bytes
 *             (writes of PIPE_BUF bytes or fewer are atomic).  Then one
 *             case arranged so that a write put in piecemeal is always
 *             cut (atomic_overtake)
 *   nonblock  pipe2(O_NONBLOCK) and fcntl(F_SETFL, O_NONBLOCK): EAGAIN
 *             for a read of an empty pipe and a write that must wait, a
 *             small write all or nothing, a large one what fits; 0 at
 *             the end; EPIPE and SIGPIPE with no reader; poll's POLLOUT
 *             only while PIPE_BUF bytes fit
 *
 * A mode never waits on a pipe it was meant to find non-blocking: it
 * checks F_GETFL first, so a kernel that ignores the flag fails the
 * comparison instead of hanging the test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define say(...) dprintf(1, __VA_ARGS__)

#define WRITERS	  3
#define RECORDS	  40		/* per writer: 4096, 1000, 4096, ... */
#define BIG	  4096		/* PIPE_BUF: the largest atomic write */
#define SMALL	  1000
#define READ_SIZE 300		/* the parent's slow reads */

/* The result of a call, and errno when it failed: "-1 11". */
static void show(const char *what, long r)
{
	say("%s %ld %d\n", what, r, r < 0 ? errno : 0);
}

/* Writer w's record k: its length. */
static long record_len(int k)
{
	return k % 2 == 0 ? BIG : SMALL;
}

/* A child: RECORDS records of fill byte 'a' + w, each one write(2). */
static void writer(int w, int fd)
{
	static char rec[BIG];

	memset(rec, 'a' + w, sizeof(rec));
	for (int k = 0; k < RECORDS; k++) {
		sched_yield();
		if (write(fd, rec, record_len(k)) != record_len(k))
			_exit(1);
	}
	_exit(0);
}

/* What the reader knows of each writer: the record it is inside, and
 * the bytes of it still to come. */
struct progress {
	int record[WRITERS];
	long left[WRITERS];
	int current;		/* whose record the stream is inside, or -1 */
	long cut;		/* records cut by another writer's bytes */
	long bad;		/* bytes of no writer, or past its last record */
};

/* One byte of the stream.  A writer's record, once begun, must run to
 * its end before another writer's byte comes. */
static void take_byte(struct progress *pr, char c)
{
	int w = c - 'a';

	if (w < 0 || w >= WRITERS) {
		pr->bad++;
		return;
	}
	if (pr->current >= 0 && pr->current != w)
		pr->cut++;		/* pr->current's record is cut */
	if (pr->left[w] == 0) {		/* w begins its next record */
		if (pr->record[w] == RECORDS) {
			pr->bad++;
			return;
		}
		pr->left[w] = record_len(pr->record[w]++);
	}
	pr->current = --pr->left[w] > 0 ? w : -1;
}

/* Let the other processes run until they block (50 ms).  Only the
 * chance a broken kernel gets to show itself depends on it: a correct
 * one gives the same answer however the processes are scheduled. */
static void pause_a_little(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* A child: wait for a byte on gate (if >= 0), then write n bytes of c. */
static void write_after(int fd, int gate, char c, size_t n)
{
	static char rec[BIG];
	char g;

	if (gate >= 0)
		read(gate, &g, 1);
	memset(rec, c, n);
	_exit(write(fd, rec, n) == (ssize_t)n ? 0 : 1);
}

/*
 * The case that shows a small write cut in two, whatever the order the
 * scheduler picks: the pipe has 100 bytes free when A writes 1000 bytes
 * of 'a' (it must wait, putting nothing in); then B, let go through a
 * gate pipe, writes 200 bytes of 'b' while the reader has freed 500 more.
 * A pipe that let A put in its first 100 bytes would have B's bytes
 * after them, and A's remaining 900 after B's: two runs of 'a'.  Prints
 * how many runs of each letter the pipe gave.
 */
static void atomic_overtake(void)
{
	static char buf[BIG];
	int data[2], gate[2], runs[3] = { 0 }, status;
	char last = 0;
	pid_t a, b;
	long n;

	pipe(data);
	pipe(gate);
	fcntl(data[1], F_SETFL, O_NONBLOCK);	/* fill it to the brim */
	if (!(fcntl(data[1], F_GETFL) & O_NONBLOCK)) {
		say("overtake: F_SETFL O_NONBLOCK did not take\n");
		return;				/* the fill would never end */
	}
	memset(buf, 'f', sizeof(buf));
	while (write(data[1], buf, sizeof(buf)) > 0 ||
	       write(data[1], buf, 1) > 0)
		;
	fcntl(data[1], F_SETFL, 0);
	read(data[0], buf, 100);
	if ((a = fork()) == 0)
		write_after(data[1], -1, 'a', SMALL);
	pause_a_little();			/* A waits for room */
	if ((b = fork()) == 0)
		write_after(data[1], gate[0], 'b', 200);
	pause_a_little();			/* B waits at the gate */
	write(gate[1], "g", 1);
	read(data[0], buf, 500);
	pause_a_little();			/* B writes */
	close(data[1]);
	while ((n = read(data[0], buf, sizeof(buf))) > 0)
		for (long i = 0; i < n; last = buf[i++])
			if (buf[i] != last && buf[i] >= 'a' && buf[i] <= 'b')
				runs[buf[i] - 'a']++;
	waitpid(a, &status, 0);
	waitpid(b, &status, 0);
	say("overtake: runs of a %d, of b %d\n", runs[0], runs[1]);
	close(data[0]);
	close(gate[0]);
	close(gate[1]);
}

static int mode_atomic(void)
{
	struct progress pr = { .current = -1 };
	char buf[READ_SIZE];
	long n, total = 0, whole = 0;
	int fds[2], status, failed = 0;
	pid_t pids[WRITERS];

	pipe(fds);
	for (int w = 0; w < WRITERS; w++)
		if ((pids[w] = fork()) == 0) {
			close(fds[0]);
			writer(w, fds[1]);
		}
	close(fds[1]);
	while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
		for (long i = 0; i < n; i++)
			take_byte(&pr, buf[i]);
		total += n;
		sched_yield();		/* slow: let the writers crowd in */
	}
	for (int w = 0; w < WRITERS; w++) {
		waitpid(pids[w], &status, 0);
		failed += status != 0;
		whole += pr.record[w] - (pr.left[w] > 0);
	}
	say("bytes %ld records %ld cut %ld bad %ld writers failed %d\n",
	    total, whole, pr.cut, pr.bad, failed);
	atomic_overtake();
	return 0;
}

/* Is fd non-blocking?  Prints its F_GETFL value under name. */
static int check_nonblock(const char *name, int fd)
{
	int fl = fcntl(fd, F_GETFL);

	say("getfl %s %#x\n", name, fl);
	return fl >= 0 && (fl & O_NONBLOCK);
}

/* Read all fd holds (it must be non-blocking): the bytes, and how many
 * equal c; the last read's result and errno. */
static void drain(int fd, char c, const char *what)
{
	static char buf[BIG];
	long total = 0, same = 0, n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (long i = 0; i < n; i++)
			same += buf[i] == c;
		total += n;
	}
	say("%s %ld of them %c %ld, then %ld %d\n", what, total, c, same, n,
	    n < 0 ? errno : 0);
}

/* POLLOUT of the write end w, now. */
static int pollout(int w)
{
	struct pollfd p = { .fd = w, .events = POLLOUT };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0;
}

/* A non-blocking pipe from pipe2: reads and writes that would wait. */
static void nonblock_pipe2(void)
{
	static char big[2 * BIG], small[SMALL];
	char c;
	long filled = 0, n;
	int fds[2];

	show("pipe2", pipe2(fds, O_NONBLOCK));
	if (!check_nonblock("r", fds[0]) | !check_nonblock("w", fds[1]))
		return;
	show("read_empty", read(fds[0], &c, 1));
	memset(big, 'b', sizeof(big));
	while ((n = write(fds[1], big, BIG)) > 0)
		filled += n;
	say("filled %ld, then %ld %d pollout %d\n", filled, n, errno,
	    pollout(fds[1]));
	show("write_full", write(fds[1], "x", 1));
	show("read_100", read(fds[0], big, 100));
	memset(small, 's', sizeof(small));
	show("small_no_room", write(fds[1], small, SMALL));
	say("pollout with 100 free %d\n", pollout(fds[1]));
	memset(big, 'L', sizeof(big));
	show("large_what_fits", write(fds[1], big, sizeof(big)));
	show("large_full", write(fds[1], big, sizeof(big)));
	drain(fds[0], 'L', "drained");
	say("pollout empty %d\n", pollout(fds[1]));
	close(fds[1]);
	show("read_no_writer", read(fds[0], &c, 1));
	close(fds[0]);
}

/* fcntl turns O_NONBLOCK on and off; dup and fork share it. */
static void nonblock_fcntl(void)
{
	char c;
	int fds[2], copy, status;
	pid_t pid;

	pipe(fds);
	say("getfl plain r %#x w %#x\n", fcntl(fds[0], F_GETFL),
	    fcntl(fds[1], F_GETFL));
	copy = dup(fds[0]);
	show("setfl", fcntl(copy, F_SETFL, O_NONBLOCK));
	if (check_nonblock("shared by dup", fds[0]))
		show("read_empty", read(fds[0], &c, 1));
	pid = fork();
	if (pid == 0) {		/* the child's end is the same open end */
		fcntl(fds[0], F_SETFL, 0);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	say("getfl after the child cleared it %#x\n", fcntl(copy, F_GETFL));
	/* Blocking again: this read waits for the child's byte. */
	pid = fork();
	if (pid == 0) {
		sched_yield();
		write(fds[1], "z", 1);
		_exit(0);
	}
	show("blocking_read", read(fds[0], &c, 1));
	waitpid(pid, &status, 0);
	close(fds[0]);
	close(copy);
	show("setfl_w", fcntl(fds[1], F_SETFL, O_NONBLOCK | O_APPEND));
	say("getfl w %#x\n", fcntl(fds[1], F_GETFL));
	signal(SIGPIPE, SIG_IGN);
	show("write_no_reader", write(fds[1], "x", 1));
	signal(SIGPIPE, SIG_DFL);
	pid = fork();
	if (pid == 0) {
		write(fds[1], "x", 1);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	say("writer: signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	close(fds[1]);
}

static int mode_nonblock(void)
{
	nonblock_pipe2();
	nonblock_fcntl();
	show("pipe2_bad_flag", pipe2((int[2]){ 0, 0 }, O_APPEND));
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "atomic") == 0)
		return mode_atomic();
	if (strcmp(mode, "nonblock") == 0)
		return mode_nonblock();
	say("usage: pipetest atomic|nonblock\n");
	return 2;
}
