/*
 * bench.c - the Linux side of `make bench`: the same operations Damselfly's
 * KBENCH bodies time, done the way a Linux program does them.
 *
 * It runs as /init's child in a small initramfs under the same QEMU
 * options as Damselfly's benchmark boot (-icount shift=0,sleep=off, one
 * CPU, -cpu max).  Under -icount the guest TSC counts executed
 * instructions, so an rdtsc delta around a loop is an instruction count,
 * the same unit the kernel reports.  Each benchmark runs REPS times and the
 * smallest per-operation figure counts: a timer interrupt that lands in a
 * repetition only makes that one larger.
 *
 * Output is the kernel's own benchmark format, so tools/kbench reads both
 * with one parser:
 *
 *     bench linux_<name> min=<n> median=<n> reps=<r> unit=insn
 *     # note linux_<name>: syscalls=<k>     (system calls per operation)
 *     # kbench: done
 *
 * The file benchmarks use the initramfs itself (a ramfs: every page is in
 * the page cache, as a cached file of Damselfly's is in its caches).
 * Built static (gcc -static), so the figures include glibc's wrappers but
 * no dynamic loader.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPS 7

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Print one result line from REPS samples of `total` instructions for
 * `ops` operations each, with the number of system calls one operation
 * makes (tools/kbench subtracts their share for the "without syscalls"
 * column).
 */
static void report(const char *name, uint64_t *samples, uint64_t ops,
		   double syscalls)
{
	qsort(samples, REPS, sizeof(samples[0]), compare_u64);
	printf("bench linux_%s min=%.1f median=%.1f reps=%d unit=insn\n", name,
	       (double)samples[0] / ops, (double)samples[REPS / 2] / ops, REPS);
	printf("# note linux_%s: syscalls=%g\n", name, syscalls);
	fflush(stdout);
}

/* ---- the system call alone: what a user/kernel crossing costs ---- */

static void bench_null_syscall(void)
{
	enum { N = 100000 };
	uint64_t samples[REPS];

	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = rdtsc();
		for (int i = 0; i < N; i++)
			syscall(SYS_getppid);
		samples[r] = rdtsc() - t0;
	}
	report("null_syscall", samples, N, 1);
}

/* ---- sched_yield between two threads: one switch per yield ---- */

static volatile int yield_stop;

static void *yield_partner(void *arg __attribute__((unused)))
{
	while (!yield_stop)
		sched_yield();
	return NULL;
}

/*
 * Each of our yields hands the CPU to the partner, whose yield hands it
 * back: N yields here are 2N switches and 2N system calls.
 */
static void bench_sched_yield(void)
{
	enum { N = 20000 };
	uint64_t samples[REPS];
	pthread_t partner;

	yield_stop = 0;
	pthread_create(&partner, NULL, yield_partner, NULL);
	sched_yield();
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = rdtsc();
		for (int i = 0; i < N; i++)
			sched_yield();
		samples[r] = rdtsc() - t0;
	}
	yield_stop = 1;
	pthread_join(partner, NULL);
	report("sched_yield_switch", samples, 2 * N, 1);
}

/* ---- futex ping-pong: the round trip a blocking request/reply makes ---- */

static volatile int turn;	/* 0: the client's turn, 1: the server's */
static volatile int futex_stop;

static void futex_wait(volatile int *word, int value)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake(volatile int *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *futex_server(void *arg __attribute__((unused)))
{
	for (;;) {
		while (turn == 0)
			futex_wait(&turn, 0);
		if (futex_stop)
			return NULL;
		turn = 0;
		futex_wake(&turn);
	}
}

/* One request: hand the turn over, wake the server, sleep until it is back. */
static void futex_round_trip(void)
{
	turn = 1;
	futex_wake(&turn);
	while (turn == 1)
		futex_wait(&turn, 1);
}

static void bench_futex_pingpong(void)
{
	enum { N = 10000 };
	uint64_t samples[REPS];
	pthread_t server;

	turn = 0;
	futex_stop = 0;
	pthread_create(&server, NULL, futex_server, NULL);
	futex_round_trip();
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = rdtsc();
		for (int i = 0; i < N; i++)
			futex_round_trip();
		samples[r] = rdtsc() - t0;
	}
	futex_stop = 1;
	turn = 1;
	futex_wake(&turn);
	pthread_join(server, NULL);
	report("futex_pingpong_roundtrip", samples, N, 4);
}

/* ---- pipe ping-pong between two processes ---- */

static void pipe_echo_child(int in, int out)
{
	char byte;

	while (read(in, &byte, 1) == 1 && byte != 'q')
		if (write(out, &byte, 1) != 1)
			break;
	_exit(0);
}

static void bench_pipe_pingpong(void)
{
	enum { N = 10000 };
	uint64_t samples[REPS];
	int to_child[2], to_parent[2];
	char byte = 'x';
	pid_t child;

	if (pipe(to_child) != 0 || pipe(to_parent) != 0)
		return;
	child = fork();
	if (child == 0)
		pipe_echo_child(to_child[0], to_parent[1]);
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = rdtsc();
		for (int i = 0; i < N; i++) {
			if (write(to_child[1], &byte, 1) != 1 ||
			    read(to_parent[0], &byte, 1) != 1)
				return;
		}
		samples[r] = rdtsc() - t0;
	}
	byte = 'q';
	if (write(to_child[1], &byte, 1) == 1)
		waitpid(child, NULL, 0);
	report("pipe_pingpong_roundtrip", samples, N, 4);
}

/* ---- malloc and free of 64 bytes: glibc's thread cache ---- */

static void bench_malloc_free_64(void)
{
	enum { N = 100000 };
	uint64_t samples[REPS];

	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = rdtsc();
		for (int i = 0; i < N; i++) {
			void *p = malloc(64);
			/* Keep the pair: GCC may drop a malloc whose memory
			 * nothing uses. */
			__asm__ volatile("" : : "r"(p) : "memory");
			free(p);
		}
		samples[r] = rdtsc() - t0;
	}
	report("malloc_free_64", samples, N, 0);
}

/* ---- files: a 4 KiB pread and a stat that the page cache answers ---- */

static char file_buf[4096];

static void bench_pread_4k_cached(void)
{
	enum { N = 5000 };
	uint64_t samples[REPS];
	int fd = open("/bench4k", O_RDWR | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, file_buf, sizeof(file_buf)) != sizeof(file_buf))
		return;
	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = rdtsc();
		for (int i = 0; i < N; i++)
			if (pread(fd, file_buf, sizeof(file_buf), 0) < 0)
				return;
		samples[r] = rdtsc() - t0;
	}
	close(fd);
	report("pread_4k_cached", samples, N, 1);
}

static void bench_stat_cached(void)
{
	enum { N = 5000 };
	uint64_t samples[REPS];
	struct stat st;

	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = rdtsc();
		for (int i = 0; i < N; i++)
			stat("/bench4k", &st);
		samples[r] = rdtsc() - t0;
	}
	report("stat_cached", samples, N, 1);
}

/* ---- TCP over the loopback: Damselfly's net_tcp_* rows, the Linux way ---- */

/* The initramfs boots with lo down: bring it up (0, or -1). */
static int loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ok;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
	close(fd);
	return ok ? 0 : -1;
}

/* A connected pair on 127.0.0.1, TCP_NODELAY both ends, as the kernel's
 * bench_pair (tests/net/bench_net.c).  0, or -1. */
static int tcp_pair(int *cli, int *srv)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int one = 1, lsn = socket(AF_INET, SOCK_STREAM, 0);

	if (lsn < 0 || bind(lsn, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(lsn, 1) != 0 ||
	    getsockname(lsn, (struct sockaddr *)&a, &alen) != 0)
		return -1;
	*cli = socket(AF_INET, SOCK_STREAM, 0);
	if (*cli < 0 || connect(*cli, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    (*srv = accept(lsn, NULL, NULL)) < 0)
		return -1;
	close(lsn);
	setsockopt(*cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*srv, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

/* Read exactly len bytes (0, or -1). */
static int read_all(int fd, char *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* One byte each way: send, the other end reads it and sends it back,
 * read -- four system calls, two segments, in one thread (Linux's
 * loopback delivers within the send). */
static void bench_tcp_echo(int cli, int srv)
{
	enum { N = 2000 };
	uint64_t samples[REPS];
	char c = 'x';

	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = rdtsc();
		for (int i = 0; i < N; i++)
			if (write(cli, &c, 1) != 1 || read_all(srv, &c, 1) ||
			    write(srv, &c, 1) != 1 || read_all(cli, &c, 1))
				return;
		samples[r] = rdtsc() - t0;
	}
	report("tcp_echo_1byte_roundtrip", samples, N, 4);
}

/* 16 KiB written, then read back on the other end, per byte. */
static void bench_tcp_bulk(int cli, int srv)
{
	enum { N = 64, BULK = 16384 };
	static char buf[BULK];
	uint64_t samples[REPS];

	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = rdtsc();
		for (int i = 0; i < N; i++)
			if (write(cli, buf, BULK) != BULK ||
			    read_all(srv, buf, BULK))
				return;
		samples[r] = rdtsc() - t0;
	}
	report("tcp_bulk_per_byte", samples, (uint64_t)N * BULK, 0);
}

static void bench_tcp(void)
{
	int cli, srv;

	if (loopback_up() != 0 || tcp_pair(&cli, &srv) != 0) {
		printf("# bench linux_tcp_echo_1byte_roundtrip skipped: no "
		       "loopback connection\n");
		return;
	}
	bench_tcp_echo(cli, srv);
	bench_tcp_bulk(cli, srv);
	close(cli);
	close(srv);
}

/* ---- the first write to a fresh anonymous page: a zero-fill fault ---- */

/* Only the writes are timed (the mmap and munmap are not); the kernel
 * zeroes each page inside the fault. */
static void bench_anon_write_fault(void)
{
	enum { N = 1000 };
	uint64_t samples[REPS];

	for (int r = 0; r < REPS; r++) {
		volatile char *p = mmap(NULL, N * 4096UL, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t total = 0;

		for (int i = 0; i < N; i++) {
			uint64_t t0 = rdtsc();

			p[i * 4096UL] = 1;
			total += rdtsc() - t0;
		}
		samples[r] = total;
		munmap((void *)p, N * 4096UL);
	}
	report("anon_write_fault", samples, N, 0);
}

/* ---- fork, the child exits at once, the parent reaps it ---- */

static void bench_fork_exit_wait(void)
{
	enum { N = 100 };
	uint64_t samples[REPS];

	for (int r = 0; r < REPS; r++) {
		uint64_t t0 = rdtsc();

		for (int i = 0; i < N; i++) {
			pid_t pid = fork();

			if (pid == 0)
				_exit(0);
			waitpid(pid, NULL, 0);
		}
		samples[r] = rdtsc() - t0;
	}
	report("fork_exit_wait", samples, N, 3);
}

int main(void)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	sched_setaffinity(0, sizeof(one), &one);	/* all on one CPU */
	bench_null_syscall();
	bench_sched_yield();
	bench_futex_pingpong();
	bench_pipe_pingpong();
	bench_malloc_free_64();
	bench_pread_4k_cached();
	bench_stat_cached();
	bench_tcp();
	bench_anon_write_fault();
	bench_fork_exit_wait();
	printf("# kbench: done\n");
	fflush(stdout);
	return 0;
}
