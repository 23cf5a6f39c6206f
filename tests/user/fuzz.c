/*
 * fuzz.c - a seeded system call fuzzer: `fuzz SEED COUNT` makes COUNT
 * system calls with random numbers (0..519, Linux's and Damselfly's own)
 * and random arguments, then prints one line.  The kernel must survive
 * every one -- no panic -- and the test around it checks that nothing
 * the calls made was left behind once the fuzzer is gone.
 *
 * Arguments are drawn from a pool that finds bugs: small integers
 * (descriptors, flags, lengths), values near a power of two, any 64-bit
 * value, NULL, kernel addresses, non-canonical addresses, and pointers
 * into a scratch buffer of random bytes -- whose strings are lower-case
 * letters only, so every path is a short relative name inside the
 * fuzzer's own directory.
 *
 * What it must not do to itself is kept out, and only that:
 *   - end or replace itself, or signal anyone: exit, exit_group, execve,
 *     execveat, kill, tkill, tgkill, rt_sigqueueinfo, reboot, fork,
 *     vfork, clone, clone3 (children would fuzz too);
 *   - block for ever: nanosleep, clock_nanosleep, pause, rt_sigsuspend,
 *     rt_sigtimedwait, futex, select, poll, epoll, waitid, flock, the
 *     socket and System V IPC calls, pipe and pipe2 (a read of an empty
 *     pipe waits), port_domsg (nobody serves the fuzzer's ports); the
 *     port waits always get PORT_NOWAIT;
 *   - take its own memory, stack or TLS away: brk, arch_prctl,
 *     rt_sigaction, rt_sigreturn, and mmap's MAP_FIXED bits; munmap,
 *     mprotect, mremap, madvise and msync get an address inside a
 *     scratch mapping;
 *   - lose its output: no argument is KEEP_FD in its low 32 bits (a
 *     descriptor is an int); 0, 1 and 2 are closed first, so the console
 *     is out of reach too.
 *
 * If the fuzzer itself faults, it prints the last calls it made.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <damselfly/port.h>

#define NCALLS	520
#define KEEP_FD	60			/* the output: never an argument */
#define SCRATCH_MAP (64 * 4096)

#define SCRATCH_SIZE 8192
/* Fixed, far above everything else: a call that writes past the end of
 * the scratch buffer meets unmapped memory (EFAULT), not the fuzzer's
 * own variables. */
#define SCRATCH_AT	0x600000000000UL
#define SCRATCH_MAP_AT	0x600001000000UL

static uint64_t rng;			/* xorshift64* */
static char *scratch, *scratch_map;

static uint64_t next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

/* Calls the fuzzer never makes (see above). */
static int forbidden(long n)
{
	static const short deny[] = {
		60, 231, 59, 322, 62, 200, 234, 129, 297, 424, 169, 56, 57,
		58, 435, 35, 230, 34, 130, 128, 202, 449, 7, 23, 270, 271,
		213, 232, 233, 281, 291, 247, 73, 22, 293, 12, 158, 13, 15,
		208, 243, 64, 65, 66, 67, 68, 69, 70, 71, 29, 30, 31,
		155, 161, 163, 165, 166, 167, 168, 175, 176, 246, 313,
		SYS_port_domsg,
	};

	if (n >= 41 && n <= 55)		/* sockets */
		return 1;
	for (unsigned i = 0; i < sizeof(deny) / sizeof(deny[0]); i++)
		if (deny[i] == n)
			return 1;
	return 0;
}

/* One random argument from the pool. */
static long arg(void)
{
	uint64_t r = next();

	switch (r % 10) {
	case 0: case 1: case 2:
		return (long)(next() % 73) - 2;		/* -2 .. 70 */
	case 3:
		return (long)(1UL << (next() % 64)) - (long)(next() % 3);
	case 4:
		return (long)next();
	case 5:
		return 0;
	case 6:
		return (long)(0xffffffff80000000UL + (next() % 0x1000000));
	case 7:
		return (long)(0x0000800000000000UL + (next() % 4096));
	default:
		return (long)(scratch + next() % SCRATCH_SIZE);
	}
}

/* Keep a call within what the fuzzer may do to itself (see above). */
static void shape(long n, long *a)
{
	switch (n) {
	case 9:				/* mmap: never MAP_FIXED */
		a[3] &= ~(long)(0x10 | 0x100000);
		break;
	case 10: case 11: case 25: case 26: case 28:
		a[0] = (long)(scratch_map + (next() % 64) * 4096);
		a[1] = (long)(next() % (SCRATCH_MAP / 2));
		if (n == 25)		/* mremap: no MREMAP_FIXED */
			a[3] &= ~2L;
		break;
	case SYS_port_wait:
	case SYS_port_waitmsg:
		a[2] |= PORT_NOWAIT;
		break;
	}
}

/* Fresh random bytes in the scratch buffer: letters and NULs. */
static void refill(void)
{
	for (unsigned i = 0; i < SCRATCH_SIZE; i++) {
		uint64_t r = next() % 8;

		scratch[i] = r == 0 ? 0 : (char)('a' + next() % 26);
	}
}

/* The last calls made, printed if the fuzzer itself faults: a call that
 * broke its memory is then easy to find. */
#define RECENT 8
static long recent[RECENT][7];
static unsigned long made;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	dprintf(KEEP_FD, "fuzz: signal %d at %p after %lu calls; the last:\n",
		sig, si->si_addr, made);
	for (unsigned long i = made > RECENT ? made - RECENT : 0; i < made;
	     i++) {
		const long *c = recent[i % RECENT];

		dprintf(KEEP_FD, "  %ld(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx)\n",
			c[0], c[1], c[2], c[3], c[4], c[5], c[6]);
	}
	_exit(100 + sig);
}

static long raw(long n, const long *a)
{
	register long r10 __asm__("r10") = a[3];
	register long r8 __asm__("r8") = a[4];
	register long r9 __asm__("r9") = a[5];
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10),
			   "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* Remove what the calls left under the current directory. */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[512];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (unlink(sub) != 0) {
			remove_tree(sub);
			rmdir(sub);
		}
		rewinddir(d);
	}
	if (d != NULL)
		closedir(d);
}

int main(int argc, char **argv)
{
	unsigned long seed = argc > 1 ? strtoul(argv[1], NULL, 0) : 1;
	long count = argc > 2 ? atol(argv[2]) : 1000, ok = 0, failed = 0;

	rng = seed * 0x9e3779b97f4a7c15ULL + 1;
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_sigaction = on_fault,
				.sa_flags = SA_SIGINFO };

	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	dup2(1, KEEP_FD);
	for (int fd = 0; fd < 3; fd++)
		close(fd);
	scratch = mmap((void *)SCRATCH_AT, SCRATCH_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	scratch_map = mmap((void *)SCRATCH_MAP_AT, SCRATCH_MAP,
			   PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	mkdir("/fuzz", 0755);
	if (chdir("/fuzz") != 0 || scratch_map == MAP_FAILED ||
	    scratch == MAP_FAILED)
		return 3;
	while (ok + failed < count) {
		long n = (long)(next() % NCALLS), a[6];

		if (forbidden(n))
			continue;
		if ((ok + failed) % 256 == 0)
			refill();
		for (int k = 0; k < 6; k++) {
			a[k] = arg();
			/* The kernel reads a descriptor as an int: no value
			 * whose low half is KEEP_FD, whatever its top. */
			if ((int)a[k] == KEEP_FD)
				a[k] ^= 1;
		}
		shape(n, a);
		recent[made % RECENT][0] = n;
		memcpy(&recent[made % RECENT][1], a, sizeof(a));
		made++;
		if (raw(n, a) < 0)
			failed++;
		else
			ok++;
	}
	for (int fd = 0; fd < 64; fd++)
		if (fd != KEEP_FD)
			close(fd);
	if (chdir("/") != 0)
		return 4;
	remove_tree("/fuzz");
	rmdir("/fuzz");
	dprintf(KEEP_FD, "fuzz seed %lu: %ld calls, %ld ok, %ld failed\n",
		seed, ok + failed, ok, failed);
	return 0;
}
