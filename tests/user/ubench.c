/*
 * ubench.c - user-mode benchmark bodies for make bench
 * (tests/kern/bench_user.c runs them and reports their numbers).
 * `ubench MODE N` does the operation N times, timing it with RDTSC --
 * under QEMU's -icount the TSC counts guest instructions -- and prints
 * "TICKS N": the ticks of the N operations together.
 *
 *   null      the cheapest system call (getppid): entry, dispatch, exit
 *   fault     the first write to each of N fresh anonymous pages: a
 *             zero-fill page fault each (the kernel zeroes the page)
 *   cow       after a fork, the parent's first write to each of N pages
 *             it wrote before: a copy-on-write fault each (the kernel
 *             copies the page)
 *   fork      fork, the child _exits at once, wait4 reaps it
 *   port      a message-port round trip to a forked server process:
 *             port_domsg, the server's port_wait and port_reply
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <damselfly/port.h>

#define PAGE 4096

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static long sys0(long n)
{
	long ret;

	__asm__ volatile("syscall" : "=a"(ret) : "a"(n)
			 : "rcx", "r11", "memory");
	return ret;
}

static uint64_t bench_null(long n)
{
	uint64_t t0 = rdtsc();

	for (long i = 0; i < n; i++)
		sys0(SYS_getppid);
	return rdtsc() - t0;
}

/* Write the first byte of each page, timing only the writes. */
static uint64_t touch_pages(volatile char *p, long n)
{
	uint64_t total = 0;

	for (long i = 0; i < n; i++) {
		uint64_t t0 = rdtsc();

		p[i * PAGE] = 1;
		total += rdtsc() - t0;
	}
	return total;
}

static uint64_t bench_fault(long n)
{
	char *p = mmap(NULL, (size_t)n * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? 0 : touch_pages(p, n);
}

static uint64_t bench_cow(long n)
{
	char *p = mmap(NULL, (size_t)n * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int hold[2];
	uint64_t t;
	pid_t pid;

	if (p == MAP_FAILED || pipe(hold) != 0)
		return 0;
	memset(p, 2, (size_t)n * PAGE);
	pid = fork();
	if (pid == 0) {		/* keep the pages shared until told */
		char c;

		close(hold[1]);
		_exit(read(hold[0], &c, 1) < 0);
	}
	t = touch_pages(p, n);
	close(hold[1]);
	waitpid(pid, NULL, 0);
	return t;
}

static uint64_t bench_fork(long n)
{
	uint64_t t0 = rdtsc();

	for (long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
	}
	return rdtsc() - t0;
}

static uint64_t bench_port(long n)
{
	int fd = port_create(0);
	struct port_msg m;
	uint64_t t0;
	pid_t pid = fork();

	memset(&m, 0, sizeof(m));
	if (pid == 0) {
		while (port_wait(fd, &m, 0) == 0) {
			int quit = m.data[0] == 1;

			port_reply(m.id, &m, 0);
			if (quit)
				_exit(0);
		}
		_exit(1);
	}
	port_domsg(fd, &m);	/* the server is waiting from now on */
	t0 = rdtsc();
	for (long i = 0; i < n; i++)
		port_domsg(fd, &m);
	t0 = rdtsc() - t0;
	m.data[0] = 1;
	port_domsg(fd, &m);
	waitpid(pid, NULL, 0);
	return t0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	long n = argc > 2 ? atol(argv[2]) : 1000;
	uint64_t t;

	if (!strcmp(mode, "null"))
		t = bench_null(n);
	else if (!strcmp(mode, "fault"))
		t = bench_fault(n);
	else if (!strcmp(mode, "cow"))
		t = bench_cow(n);
	else if (!strcmp(mode, "fork"))
		t = bench_fork(n);
	else if (!strcmp(mode, "port"))
		t = bench_port(n);
	else
		return 2;
	printf("%lu %ld\n", (unsigned long)t, n);
	return 0;
}
