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
 *   writev    the same promises for writev, whose request is the total
 *             of its iovecs: records of a 16-byte header, a body and a
 *             16-byte trailer (three iovecs, totals 4096 and 1000) from
 *             three children come out whole and in shape; the overtake
 *             case with a three-iovec write; non-blocking, a small total
 *             is all or nothing and a large one what fits; a bad iovec
 *             in a small total is EFAULT with nothing written; iovcnt
 *             and lengths checked (EINVAL) for readv and writev alike
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
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define say(...) dprintf(1, __VA_ARGS__)

#define WRITERS	  3
#define RECORDS	  40		/* per writer: 4096, 1000, 4096, ... */
#define BIG	  4096		/* PIPE_BUF: the largest atomic write */
#define SMALL	  1000
#define READ_SIZE 300		/* the parent's slow reads */
#define EDGE	  16		/* writev mode: header and trailer bytes */
#define BAD_PTR	  ((void *)8)	/* never mapped: EFAULT */

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

/* Write n bytes of body, as one write(2) (edge 0), or as a writev of
 * three iovecs: edge bytes of head, n - 2 * edge of body, edge of head
 * again.  Returns what the call returned. */
static long write_record(int fd, const char *head, const char *body,
			 long n, int edge)
{
	struct iovec iov[3] = {
		{ (void *)head, edge },
		{ (void *)body, n - 2 * edge },
		{ (void *)head, edge },
	};

	return edge == 0 ? write(fd, body, n) : writev(fd, iov, 3);
}

/* A child: RECORDS records of fill byte 'a' + w, each one write(2) or
 * (edge > 0) one writev whose header and trailer are 'A' + w. */
static void writer(int w, int fd, int edge)
{
	static char rec[BIG], head[EDGE];

	memset(rec, 'a' + w, sizeof(rec));
	memset(head, 'A' + w, sizeof(head));
	for (int k = 0; k < RECORDS; k++) {
		sched_yield();
		if (write_record(fd, head, rec, record_len(k), edge) !=
		    record_len(k))
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
	int edge;		/* header and trailer bytes (upper case) */
	long cut;		/* records cut by another writer's bytes */
	long bad;		/* bytes of no writer, past its last record, or
				 * of the wrong case for where they are */
};

/* One byte of the stream.  A writer's record, once begun, must run to
 * its end before another writer's byte comes, and its first and last
 * pr->edge bytes are upper case, the others lower. */
static void take_byte(struct progress *pr, char c)
{
	int w = (c | 0x20) - 'a';
	long at;

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
	at = record_len(pr->record[w] - 1) - pr->left[w];
	if ((at < pr->edge || pr->left[w] <= pr->edge) != (c < 'a'))
		pr->bad++;
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

/* A child: wait for a byte on gate (if >= 0), then write n bytes of c
 * (as write_record does with edge; the header bytes c too). */
static void write_after(int fd, int gate, char c, size_t n, int edge)
{
	static char rec[BIG];
	char g;

	if (gate >= 0)
		read(gate, &g, 1);
	memset(rec, c, n);
	_exit(write_record(fd, rec, rec, n, edge) == (ssize_t)n ? 0 : 1);
}

/*
 * The case that shows a small write cut in two, whatever the order the
 * scheduler picks: the pipe has 100 bytes free when A writes 1000 bytes
 * of 'a' (it must wait, putting nothing in); then B, let go through a
 * gate pipe, writes 200 bytes of 'b' while the reader has freed 500 more.
 * A pipe that let A put in its first 100 bytes would have B's bytes
 * after them, and A's remaining 900 after B's: two runs of 'a'.  Prints
 * how many runs of each letter the pipe gave.  With edge > 0, A's write
 * is a writev of three iovecs (edge, 1000 - 2 * edge, edge): a kernel
 * that took each iovec as its own request would put in A's header.
 */
static void atomic_overtake(const char *name, int edge)
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
		say("%s: F_SETFL O_NONBLOCK did not take\n", name);
		return;				/* the fill would never end */
	}
	memset(buf, 'f', sizeof(buf));
	while (write(data[1], buf, sizeof(buf)) > 0 ||
	       write(data[1], buf, 1) > 0)
		;
	fcntl(data[1], F_SETFL, 0);
	read(data[0], buf, 100);
	if ((a = fork()) == 0)
		write_after(data[1], -1, 'a', SMALL, edge);
	pause_a_little();			/* A waits for room */
	if ((b = fork()) == 0)
		write_after(data[1], gate[0], 'b', 200, 0);
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
	say("%s: runs of a %d, of b %d\n", name, runs[0], runs[1]);
	close(data[0]);
	close(gate[0]);
	close(gate[1]);
}

/* WRITERS children write RECORDS records each into one pipe (writer;
 * edge 0: write(2), else writev) while the parent reads it slowly;
 * prints what the reader saw, prefixed by name. */
static void crowd(const char *name, int edge)
{
	struct progress pr = { .current = -1, .edge = edge };
	char buf[READ_SIZE];
	long n, total = 0, whole = 0;
	int fds[2], status, failed = 0;
	pid_t pids[WRITERS];

	pipe(fds);
	for (int w = 0; w < WRITERS; w++)
		if ((pids[w] = fork()) == 0) {
			close(fds[0]);
			writer(w, fds[1], edge);
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
	say("%sbytes %ld records %ld cut %ld bad %ld writers failed %d\n",
	    name, total, whole, pr.cut, pr.bad, failed);
	close(fds[0]);
}

static int mode_atomic(void)
{
	crowd("", 0);
	atomic_overtake("overtake", 0);
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

/* Three iovecs of n bytes in all, edge bytes at each end: head, body,
 * head (which may be BAD_PTR); in iov. */
static struct iovec *three(struct iovec *iov, const char *head,
			   const char *body, long n)
{
	iov[0] = (struct iovec){ (void *)head, EDGE };
	iov[1] = (struct iovec){ (void *)body, n - 2 * EDGE };
	iov[2] = (struct iovec){ (void *)head, EDGE };
	return iov;
}

/* A non-blocking pipe with 100 bytes free: a small writev is all or
 * nothing, a large one writes what fits, as write(2) does.  Then on the
 * empty pipe a bad iovec: EFAULT with nothing written for a small
 * total, the iovecs before it for a large one. */
static void writev_nonblock(void)
{
	static char big[BIG + 100], small[SMALL], head[EDGE];
	struct iovec iov[3];
	int fds[2];

	pipe2(fds, O_NONBLOCK);
	if (!check_nonblock("w", fds[1]))
		return;			/* the fill would never end */
	memset(big, 'f', sizeof(big));
	while (write(fds[1], big, BIG) > 0 || write(fds[1], big, 1) > 0)
		;
	read(fds[0], big, 100);
	memset(small, 's', sizeof(small));
	memset(head, 's', sizeof(head));
	show("small_no_room", writev(fds[1], three(iov, head, small, SMALL), 3));
	memset(big, 'L', sizeof(big));
	memset(head, 'L', sizeof(head));
	/* 16 + 4000 + 4176: only the total makes it a large request */
	iov[0] = (struct iovec){ head, EDGE };
	iov[1] = (struct iovec){ big, 4000 };
	iov[2] = (struct iovec){ big, 2 * BIG - 4000 - EDGE };
	show("large_what_fits", writev(fds[1], iov, 3));
	drain(fds[0], 'L', "drained");
	show("small_bad_iovec",
	     writev(fds[1], three(iov, head, BAD_PTR, SMALL), 3));
	show("nothing written", read(fds[0], big, 1));
	show("bad_iov_array", writev(fds[1], BAD_PTR, 3));
	show("large_bad_iovec",
	     writev(fds[1], three(iov, head, BAD_PTR, 2 * BIG), 3));
	drain(fds[0], 'L', "drained");
	close(fds[0]);
	close(fds[1]);
}

/* The checks of readv's and writev's arguments, on a non-blocking pipe
 * (a kernel that missed one moves bytes or says EAGAIN, never waits);
 * then 1024 one-byte iovecs gathered, read back through three. */
static void writev_arguments(void)
{
	static struct iovec many[1025];
	static char buf[BIG], back[BIG];
	struct iovec huge[2] = { { buf, 1UL << 62 }, { buf, 1UL << 62 } };
	struct iovec all = { buf, (size_t)-1 };
	struct iovec iov[3] = { { back, 100 }, { back + 100, 900 },
				{ back + 1000, 100 } };
	int fds[2], ok = 1;

	pipe2(fds, O_NONBLOCK);
	for (int i = 0; i < 1025; i++) {
		buf[i] = 'a' + i % 26;
		many[i] = (struct iovec){ buf + i, 1 };
	}
	show("writev_iovcnt_-1", writev(fds[1], many, -1));
	show("writev_iovcnt_1025", writev(fds[1], many, 1025));
	show("readv_iovcnt_-1", readv(fds[0], many, -1));
	show("readv_iovcnt_1025", readv(fds[0], many, 1025));
	show("writev_null_0", writev(fds[1], NULL, 0));
	show("readv_null_0", readv(fds[0], NULL, 0));
	show("writev_total_past_ssize_max", writev(fds[1], huge, 2));
	show("readv_total_past_ssize_max", readv(fds[0], huge, 2));
	show("writev_length_-1", writev(fds[1], &all, 1));
	show("writev_1024", writev(fds[1], many, 1024));
	show("readv_3", readv(fds[0], iov, 3));
	for (int i = 0; i < 1024; i++)
		ok &= back[i] == 'a' + i % 26;
	say("in order %d\n", ok);
	close(fds[0]);
	close(fds[1]);
}

static int mode_writev(void)
{
	crowd("writev: ", EDGE);
	atomic_overtake("writev overtake", EDGE);
	writev_nonblock();
	writev_arguments();
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "atomic") == 0)
		return mode_atomic();
	if (strcmp(mode, "nonblock") == 0)
		return mode_nonblock();
	if (strcmp(mode, "writev") == 0)
		return mode_writev();
	say("usage: pipetest atomic|nonblock|writev\n");
	return 2;
}
