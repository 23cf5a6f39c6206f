/*
 * eoftest.c - a file mapping and the end of its file (vm/vnode_pager.c,
 * "The end of the file"), one behaviour per argument, for
 * tests/kern/user_test.c.  As on Linux: a page wholly past the end of
 * the file is SIGBUS (si_code BUS_ADRERR, si_addr the byte touched),
 * whether the mapping was longer than the file or the file shrank; the
 * part of the last page past the end reads zeros and never reaches the
 * file.  Each mode makes its own file under /et and removes it.
 *
 *   shrink   a shared mapping of a 3-page file, every page touched, the
 *            file cut to 1 page: pages 1 and 2 are SIGBUS, page 0 keeps
 *            its data; grown again, page 2 reads zeros
 *   beyond   a 3-page mapping of a 100-byte file: the rest of page 0
 *            reads zeros and takes stores the file never sees; pages 1
 *            and 2 are SIGBUS
 *   private  a MAP_PRIVATE mapping that copied page 0 and read page 2:
 *            after the cut page 2 is SIGBUS, its own page 0 stays
 *   cow      MAP_PRIVATE copies past the cut: a 3-page private mapping
 *            that copied pages 0 and 2, a second one at file offset 1
 *            page that copied its first page, and a forked child that
 *            shares the first one's shadow and copied page 1 into its
 *            own: after the cut to one page every copy past it is SIGBUS
 *            in both processes, page 0 is still the copy, and an
 *            anonymous private mapping is untouched
 *   other    a forked child maps the file too and reads page 2, then
 *            spins while the parent cuts the file: the child's page 2
 *            is SIGBUS afterwards (the cut reached another process's
 *            page tables, on another CPU when there is one)
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define PAGES 3

static sigjmp_buf probe_env;
static volatile int probe_code;
static volatile uintptr_t probe_addr;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	probe_code = si->si_code;
	probe_addr = (uintptr_t)si->si_addr;
	siglongjmp(probe_env, sig);
}

static void catch_faults(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

/*
 * Touch the byte at p (a read, or with store a store of 'w' and a read
 * back) and print what happened: the byte ('0' for a zero), or the
 * signal with its si_code, and a note if si_addr is not p.
 */
static void probe(const char *what, volatile char *p, int store)
{
	int sig = sigsetjmp(probe_env, 1);
	char c;

	if (sig == 0) {
		if (store)
			*p = 'w';
		c = *p;
		dprintf(1, "%s: %c\n", what, c ? c : '0');
		return;
	}
	dprintf(1, "%s: %s code %d%s\n", what,
		sig == SIGBUS ? "SIGBUS" : "SIGSEGV", probe_code,
		probe_addr == (uintptr_t)p ? "" : " (si_addr wrong)");
}

/* A fresh file of PAGES pages, page i all 'a' + i, open read-write. */
static int make_file(const char *path)
{
	char buf[PAGE];
	int fd;

	mkdir("/et", 0755);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	for (int i = 0; i < PAGES; i++) {
		memset(buf, 'a' + i, sizeof(buf));
		if (write(fd, buf, PAGE) != PAGE)
			return -1;
	}
	return fd;
}

static char *map(int fd, int type)
{
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, type, fd,
		       0);

	if (p == MAP_FAILED) {
		dprintf(1, "mmap failed: %d\n", errno);
		_exit(1);
	}
	return p;
}

static long file_size(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? (long)st.st_size : -1;
}

static int mode_shrink(void)
{
	int fd = make_file("/et/shrink");
	char *p = map(fd, MAP_SHARED);

	dprintf(1, "before: %c %c %c\n", p[0], p[PAGE], p[2 * PAGE]);
	p[2 * PAGE + 5] = 'x';		/* page 2 marked for write-back */
	dprintf(1, "ftruncate %d\n", ftruncate(fd, PAGE));
	probe("page 2", p + 2 * PAGE + 5, 0);
	probe("page 1", p + PAGE, 0);
	probe("page 2 store", p + 2 * PAGE + 9, 1);
	probe("page 0", p + 10, 0);
	probe("page 0 store", p + 20, 1);
	dprintf(1, "size %ld\n", file_size(fd));
	dprintf(1, "ftruncate %d\n", ftruncate(fd, PAGES * PAGE));
	probe("page 2 after growing", p + 2 * PAGE + 5, 0);
	dprintf(1, "msync %d\n", msync(p, PAGES * PAGE, MS_SYNC));
	munmap(p, PAGES * PAGE);
	close(fd);
	return unlink("/et/shrink");
}

static int mode_beyond(void)
{
	char buf[PAGE];
	int fd;
	char *p;

	mkdir("/et", 0755);
	fd = open("/et/beyond", O_RDWR | O_CREAT | O_TRUNC, 0644);
	memset(buf, 'a', 100);
	if (fd < 0 || write(fd, buf, 100) != 100)
		return 1;
	p = map(fd, MAP_SHARED);
	probe("byte 50", p + 50, 0);
	probe("byte 200", p + 200, 0);
	probe("byte 300 store", p + 300, 1);
	probe("page 1", p + PAGE + 7, 0);
	probe("page 2 store", p + 2 * PAGE, 1);
	dprintf(1, "msync %d\n", msync(p, PAGES * PAGE, MS_SYNC));
	dprintf(1, "size %ld\n", file_size(fd));
	dprintf(1, "read past the end %ld\n", (long)pread(fd, buf, 10, 300));
	munmap(p, PAGES * PAGE);
	close(fd);
	return unlink("/et/beyond");
}

static int mode_private(void)
{
	int fd = make_file("/et/private");
	char *v = map(fd, MAP_PRIVATE);

	dprintf(1, "before: %c %c\n", v[2 * PAGE], v[PAGE]);	/* the file's */
	v[0] = 'm';				/* page 0 is the mapping's own */
	dprintf(1, "ftruncate %d\n", ftruncate(fd, PAGE));
	probe("page 2", v + 2 * PAGE, 0);
	probe("page 1", v + PAGE, 0);
	probe("page 0", v, 0);
	munmap(v, PAGES * PAGE);
	close(fd);
	return unlink("/et/private");
}

/* The child of mode_cow: it shares v's shadow (pages 0 and 2 copied by
 * the parent) and copies page 1 into a shadow of its own in front of
 * it; after the cut its copies past the end are gone as the parent's. */
static void cow_child(char *v, int ready, volatile int *cut)
{
	dprintf(1, "child sees %c %c, ", v[0], v[2 * PAGE]);
	v[PAGE] = 'k';
	dprintf(1, "copies %c\n", v[PAGE]);
	if (write(ready, "1", 1) != 1)
		_exit(2);
	while (!*cut)
		sched_yield();
	probe("child page 2", v + 2 * PAGE, 0);
	probe("child page 1", v + PAGE + 3, 0);
	probe("child page 0", v, 0);
	_exit(0);
}

static int mode_cow(void)
{
	int fd = make_file("/et/cow"), ready[2], status = 0;
	char *v = map(fd, MAP_PRIVATE), *a, c;
	char *w = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		       fd, PAGE);
	volatile int *cut = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid;

	a = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED || a == MAP_FAILED || cut == MAP_FAILED ||
	    pipe(ready))
		return 1;
	v[0] = 'm';				/* copies below the cut ... */
	v[2 * PAGE] = 'n';			/* ... and past it */
	w[0] = 'o';				/* the file's page 1 */
	a[0] = 'z';
	pid = fork();
	if (pid == 0)
		cow_child(v, ready[1], cut);
	if (read(ready[0], &c, 1) != 1)
		return 1;
	dprintf(1, "ftruncate %d\n", ftruncate(fd, PAGE));
	probe("page 2", v + 2 * PAGE + 7, 0);
	probe("page 2 store", v + 2 * PAGE, 1);
	probe("page 1", v + PAGE, 0);
	probe("page 0", v, 0);
	probe("offset mapping page 0", w, 0);
	probe("anonymous", a, 0);
	*cut = 1;
	waitpid(pid, &status, 0);
	dprintf(1, "child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	close(fd);
	return unlink("/et/cow");
}

/* The child of mode_other: its own mapping of the file, page 2 read;
 * then it spins in user mode (its page tables loaded) until the parent
 * has cut the file, and touches page 2 again. */
static void other_child(int ready, volatile int *cut)
{
	int fd = open("/et/other", O_RDWR);
	char *q = map(fd, MAP_SHARED);

	dprintf(1, "child reads %c\n", q[2 * PAGE + 1]);
	if (write(ready, "1", 1) != 1)
		_exit(2);
	while (!*cut)
		sched_yield();
	probe("child page 2", q + 2 * PAGE + 1, 0);
	probe("child page 0", q + 1, 0);
	_exit(0);
}

static int mode_other(void)
{
	int fd = make_file("/et/other"), ready[2], status = 0;
	volatile int *cut = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid;
	char c;

	if (fd < 0 || cut == MAP_FAILED || pipe(ready))
		return 1;
	pid = fork();
	if (pid == 0)
		other_child(ready[1], cut);
	if (read(ready[0], &c, 1) != 1)
		return 1;
	dprintf(1, "ftruncate %d\n", ftruncate(fd, PAGE));
	*cut = 1;
	waitpid(pid, &status, 0);
	dprintf(1, "child: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	close(fd);
	return unlink("/et/other");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	catch_faults();
	if (!strcmp(mode, "shrink"))
		return mode_shrink();
	if (!strcmp(mode, "beyond"))
		return mode_beyond();
	if (!strcmp(mode, "private"))
		return mode_private();
	if (!strcmp(mode, "cow"))
		return mode_cow();
	if (!strcmp(mode, "other"))
		return mode_other();
	dprintf(2, "usage: eoftest shrink|beyond|private|cow|other\n");
	return 2;
}
