/*
 * oomtest.c - running the machine out of memory from user mode, to show
 * that only the program pays (tests/kern/user_test.c, suite user_oom,
 * booted with little memory).
 *
 *   touch     map more anonymous memory than the machine has and write
 *             every page: killed by SIGKILL ("out of memory")
 *   malloc    malloc 64 KiB pieces and write them until malloc says NULL
 *             (exit 3) or the kernel kills it (SIGKILL)
 *   exhaust   fill memory through children: each writes pages of a
 *             MAP_SHARED region (kept by this process) until it is
 *             killed, until fork itself is refused; then brk, mmap and
 *             execve must be refused too, and after the region is
 *             unmapped a fork works again.  Exit 0 when all of that held.
 *   copyout   fill memory through children as exhaust does, then read(2)
 *             1 MiB of /dev/zero into pages never written: the kernel's
 *             copy finds no page, and this process (the only one) is
 *             killed by SIGKILL on its way out of the call
 *   hog N     (N: the machine's free pages) a child, the hog, writes 70%
 *             of N pages and waits; then this process writes 50% of N.
 *             Memory runs out on the way, and the larger process, the
 *             hog, must be the one killed: exit 0 when this process got
 *             all its pages and the hog died of SIGKILL.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#define PAGE	   4096UL
#define HUGE	   (1UL << 30)	/* more than the test machine has */
#define MAX_KIDS   64		/* fork is refused long before this */
#define MAX_CALLS  4096	/* brk / mmap calls before giving up */

/* The mmap test's addresses: touched before memory runs short. */
static void *maps[MAX_CALLS];

/* Write one byte in every page of [p, p + len), from page *next on,
 * recording progress in *next (shared memory: the next child goes on). */
static void touch_pages(char *p, size_t len, volatile size_t *next)
{
	for (size_t i = *next; i < len / PAGE; i++) {
		p[i * PAGE] = 1;
		*next = i + 1;
	}
}

static int touch(void)
{
	size_t next = 0;
	char *p = mmap(NULL, HUGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		printf("oomtest: mmap of 1 GiB failed: %s\n", strerror(errno));
		return 2;
	}
	touch_pages(p, HUGE, &next);
	printf("oomtest: wrote 1 GiB and lived\n");
	return 1;
}

static int malloc_until_null(void)
{
	for (size_t n = 0; n < HUGE / 65536; n++) {
		char *p = malloc(65536);

		if (p == NULL) {
			printf("oomtest: malloc said NULL after %zu KiB\n",
			       n * 64);
			return 3;
		}
		memset(p, 1, 65536);
	}
	printf("oomtest: malloc gave 1 GiB\n");
	return 1;
}

/* Fork children that fill the shared region until fork is refused;
 * 0 when it was, with errno ENOMEM or EAGAIN, and every child died of
 * SIGKILL. */
static int fill_through_children(char *region, volatile size_t *next)
{
	for (int kid = 0; kid < MAX_KIDS; kid++) {
		int status;
		pid_t pid = fork();

		if (pid < 0) {
			int e = errno;

			printf("oomtest: fork refused after %d children: %s\n",
			       kid, strerror(e));
			return e == ENOMEM || e == EAGAIN ? 0 : 1;
		}
		if (pid == 0) {
			touch_pages(region, HUGE, next);
			_exit(0);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status) ||
		    WTERMSIG(status) != SIGKILL) {
			printf("oomtest: child %d: status %#x, not SIGKILL\n",
			       kid, status);
			return 1;
		}
	}
	printf("oomtest: fork never refused\n");
	return 1;
}

/* Grow the break a page at a time without writing it: the calls must be
 * refused (the map entries take kernel memory) before MAX_CALLS. */
static int brk_refused(void)
{
	for (int i = 0; i < MAX_CALLS; i++)
		if (sbrk(PAGE) == (void *)-1) {
			printf("oomtest: brk refused after %d calls: %s\n", i,
			       strerror(errno));
			return errno == ENOMEM ? 0 : 1;
		}
	printf("oomtest: brk never refused\n");
	return 1;
}

/* Map single pages, alternately readable and not (so that no two
 * entries merge), until mmap says ENOMEM; then unmap them again. */
static int mmap_refused(void)
{
	int n, ok = 1;

	for (n = 0; n < MAX_CALLS; n++) {
		maps[n] = mmap(NULL, PAGE, n % 2 ? PROT_READ : PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (maps[n] == MAP_FAILED)
			break;
	}
	if (n < MAX_CALLS) {
		printf("oomtest: mmap refused after %d calls: %s\n", n,
		       strerror(errno));
		ok = errno == ENOMEM ? 0 : 1;
	} else {
		printf("oomtest: mmap never refused\n");
	}
	while (n-- > 0)
		munmap(maps[n], PAGE);
	return ok;
}

/* execve of a small program: refused (ENOMEM) while memory is short --
 * had it worked, this process would be hello now, and say so. */
static int exec_refused(void)
{
	char *argv[] = { "hello", NULL }, *envp[] = { NULL };

	execve("/bin/hello", argv, envp);
	printf("oomtest: execve refused: %s\n", strerror(errno));
	return errno == ENOMEM ? 0 : 1;
}

/* After the region is gone, a fork must work again. */
static int fork_works(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(7);
	if (pid < 0 || waitpid(pid, &status, 0) != pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 7) {
		printf("oomtest: fork after the munmap failed\n");
		return 1;
	}
	printf("oomtest: fork works again\n");
	return 0;
}

/* Write 32 KiB of stack now, so that the calls made once memory is
 * short find their stack pages already there. */
static void touch_stack(void)
{
	volatile char pad[32768];

	memset((char *)pad, 1, sizeof(pad));
}

static int exhaust(void)
{
	char *region = mmap(NULL, HUGE, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	volatile size_t *next = (volatile size_t *)(void *)region;
	void *brk0 = sbrk(0);
	int bad;

	if (region == MAP_FAILED) {
		printf("oomtest: mmap of the region failed\n");
		return 2;
	}
	*next = 1;			/* page 0 holds the progress */
	touch_stack();
	memset(maps, 0, sizeof(maps));
	printf("oomtest: filling\n");	/* stdout's buffer is touched now */
	bad = fill_through_children(region, next);
	bad |= brk_refused();
	bad |= mmap_refused();
	bad |= exec_refused();
	brk((char *)brk0);
	munmap(region, HUGE);
	bad |= fork_works();
	return bad;
}

static int copyout_kill(void)
{
	size_t len = 1UL << 20;	/* more than any CPU's page cache */
	char *region = mmap(NULL, HUGE, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int zero = open("/dev/zero", O_RDONLY);
	ssize_t n;

	if (region == MAP_FAILED || buf == MAP_FAILED || zero < 0)
		return 2;
	*(volatile size_t *)(void *)region = 1;
	touch_stack();
	printf("oomtest: filling\n");
	fflush(stdout);
	if (fill_through_children(region, (volatile size_t *)(void *)region))
		return 2;
	fflush(stdout);
	n = read(zero, buf, len);	/* into pages never written */
	printf("oomtest: read returned %zd (%s) and this process lived\n", n,
	       n < 0 ? strerror(errno) : "no error");
	return 1;
}

/* Map npages of anonymous memory and write every page; 0 or -1. */
static int write_pages(long npages)
{
	size_t next = 0, len = (size_t)npages * PAGE;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	touch_pages(p, len, &next);
	return 0;
}

static int hog_and_small(long npages)
{
	int ready[2], never[2], status = 0;
	char c;
	pid_t pid;

	if (npages <= 0 || pipe(ready) != 0 || pipe(never) != 0)
		return 2;
	touch_stack();
	printf("oomtest: a hog of %ld pages, then %ld pages here\n",
	       npages * 7 / 10, npages / 2);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (write_pages(npages * 7 / 10) != 0)
			_exit(2);
		write(ready[1], "r", 1);
		read(never[0], &c, 1);	/* nobody writes: waits for good */
		_exit(0);
	}
	if (pid < 0 || read(ready[0], &c, 1) != 1)
		return 2;
	if (write_pages(npages / 2) != 0)
		return 2;
	printf("oomtest: wrote all %ld pages beside the hog\n", npages / 2);
	if (waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status) ||
	    WTERMSIG(status) != SIGKILL) {
		printf("oomtest: the hog was not killed (status %#x)\n",
		       status);
		return 1;
	}
	printf("oomtest: the hog died of SIGKILL\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "touch") == 0)
		return touch();
	if (strcmp(mode, "malloc") == 0)
		return malloc_until_null();
	if (strcmp(mode, "exhaust") == 0)
		return exhaust();
	if (strcmp(mode, "copyout") == 0)
		return copyout_kill();
	if (strcmp(mode, "hog") == 0 && argc > 2)
		return hog_and_small(atol(argv[2]));
	printf("oomtest: unknown mode \"%s\"\n", mode);
	return 2;
}
