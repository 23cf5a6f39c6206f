/*
 * maptest.c - file mappings (kern/sys_mman.c, vm_object_clean), one
 * behaviour per argument, for tests/kern/user_test.c.  Each mode makes
 * its own file under /mt, checks it with read(2) -- which sees a
 * mapping's stores at once (vm/vnode_pager.c; tests/user/cachetest.c
 * tests that) -- and removes it.
 *
 *   shared   MAP_SHARED writes are in the file at once, and stay there
 *            after msync, munmap, and when a forked child that still
 *            maps it exits
 *   private  MAP_PRIVATE writes never reach the file: not on msync, not
 *            on munmap, not when a child writes and exits
 *   errors   EACCES, EBADF, ENODEV, EINVAL, ENOMEM; SIGBUS past the end
 *   clip     munmap and mprotect of part of a mapping act on that part
 *            only (children probe the pages that must fault)
 *   sync     a store through a MAP_SHARED mapping is in the file before
 *            and after sync(2), with no msync and the mapping still
 *            there (that it is on the disk: the leave modes here and in
 *            cachetest)
 *   again    a page touched, unmapped and touched again faults (the map
 *            must not remember the removed entry)
 *   clean    a store, then msync, four times over, each waiting for a
 *            byte on stdin before going on, so that the kernel test can
 *            count the pages each msync wrote (1, then 0 with no store
 *            between, then 1, then 2); then a store and exit with no
 *            msync, which the mapping's end at exit writes back
 *   leave P  map file P (made, one page of 'a') shared, store
 *            "unmounted" at byte 10 and exit: no msync, no munmap
 *   two      two processes map one file with mmap calls of their own:
 *            MAP_SHARED mappings see each other's stores at once (one
 *            object per file), a MAP_PRIVATE one sees them until it
 *            writes a page, and its writes reach neither
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define PAGES 3

/* A fresh file of PAGES pages of 'a', open read-write. */
static int make_file(const char *path)
{
	char buf[PAGE];
	int fd;

	mkdir("/mt", 0755);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	memset(buf, 'a', sizeof(buf));
	for (int i = 0; i < PAGES; i++)
		if (write(fd, buf, PAGE) != PAGE)
			return -1;
	return fd;
}

/* What read(2) finds at off: n bytes as a string. */
static const char *file_at(int fd, off_t off, int n)
{
	static char buf[64];

	memset(buf, 0, sizeof(buf));
	if (pread(fd, buf, (size_t)n, off) != n)
		return "(short read)";
	return buf;
}

static void reap(const char *who, pid_t pid)
{
	int status = 0;

	waitpid(pid, &status, 0);
	if (WIFEXITED(status))
		dprintf(1, "%s: exit %d\n", who, WEXITSTATUS(status));
	else
		dprintf(1, "%s: signal %d\n", who, WTERMSIG(status));
}

static int mode_shared(void)
{
	int fd = make_file("/mt/shared");
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);
	pid_t pid;

	if (p == MAP_FAILED)
		return 1;
	dprintf(1, "mapped reads %c\n", p[PAGE + 100]);
	memcpy(p + PAGE + 100, "hello", 5);
	dprintf(1, "before msync: %s\n", file_at(fd, PAGE + 100, 5));
	dprintf(1, "msync %d\n", msync(p, PAGES * PAGE, MS_SYNC));
	dprintf(1, "after msync: %s\n", file_at(fd, PAGE + 100, 5));
	memcpy(p + 2 * PAGE, "world", 5);
	dprintf(1, "munmap %d\n", munmap(p, PAGES * PAGE));
	dprintf(1, "after munmap: %s\n", file_at(fd, 2 * PAGE, 5));
	/* A mapping at an offset, inherited by a child that writes and
	 * exits while the parent still maps it: the parent sees the child's
	 * bytes at once, the file gets them when the last mapping goes. */
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PAGE);
	pid = fork();
	if (pid == 0) {
		memcpy(p + 200, "child", 5);
		_exit(0);
	}
	reap("child", pid);
	dprintf(1, "parent sees: %.5s\n", p + 200);
	munmap(p, PAGE);
	dprintf(1, "file after both: %s\n", file_at(fd, PAGE + 200, 5));
	close(fd);
	return unlink("/mt/shared");
}

static int mode_private(void)
{
	int fd = make_file("/mt/private");
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE, fd, 0);
	pid_t pid;

	if (p == MAP_FAILED)
		return 1;
	memcpy(p + 10, "mine", 4);
	dprintf(1, "mapping: %.4s\n", p + 10);
	dprintf(1, "msync %d\n", msync(p, PAGES * PAGE, MS_SYNC));
	dprintf(1, "file: %s\n", file_at(fd, 10, 4));
	pid = fork();
	if (pid == 0) {
		memcpy(p + PAGE, "kid!", 4);
		_exit(0);
	}
	reap("child", pid);
	dprintf(1, "parent sees: %.4s\n", p + PAGE);
	/* A page written by write(2) is seen by a private mapping that has
	 * not written it: the file is read when the page is first touched
	 * (POSIX leaves later changes unspecified). */
	munmap(p, PAGES * PAGE);
	dprintf(1, "file after munmap: %s %s\n", file_at(fd, 10, 4),
		file_at(fd, PAGE, 4));
	close(fd);
	return unlink("/mt/private");
}

static void show(const char *what, void *rc)
{
	dprintf(1, "%s %s %d\n", what, rc == MAP_FAILED ? "failed" : "ok",
		rc == MAP_FAILED ? errno : 0);
	errno = 0;
}

static void sigbus_child(int fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		/* Two pages of a five-byte file: the second is past the
		 * end of the file, SIGBUS. */
		char *p = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, fd, 0);
		volatile char c = p[PAGE];

		(void)c;
		_exit(0);
	}
	reap("read past the end", pid);
}

static int mode_errors(void)
{
	int fd = make_file("/mt/err"), rdonly, wronly, dir, pfd[2], rc;

	rdonly = open("/mt/err", O_RDONLY);
	wronly = open("/mt/err", O_WRONLY);
	dir = open("/mt", O_RDONLY);
	if (pipe(pfd))
		return 1;
	show("shared_write_rdonly", mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
					 MAP_SHARED, rdonly, 0));
	show("shared_read_rdonly", mmap(NULL, PAGE, PROT_READ, MAP_SHARED,
					rdonly, 0));
	show("private_write_rdonly", mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE, rdonly, 0));
	show("wronly", mmap(NULL, PAGE, PROT_READ, MAP_SHARED, wronly, 0));
	show("bad_fd", mmap(NULL, PAGE, PROT_READ, MAP_SHARED, 55, 0));
	show("directory", mmap(NULL, PAGE, PROT_READ, MAP_SHARED, dir, 0));
	show("pipe", mmap(NULL, PAGE, PROT_READ, MAP_SHARED, pfd[0], 0));
	show("odd_offset", mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 100));
	rc = msync((void *)0x10001, PAGE, 0);
	dprintf(1, "msync_odd %d %d\n", rc, errno);
	errno = 0;
	rc = msync((void *)0x7000000000, PAGE, 0);
	dprintf(1, "msync_unmapped %d %d\n", rc, errno);
	close(fd);
	/* A file of one page. */
	fd = open("/mt/small", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (write(fd, "small", 5) != 5)
		return 1;
	sigbus_child(fd);
	close(fd);
	unlink("/mt/small");
	return unlink("/mt/err");
}

/* A child that writes p[0] and exits 0 -- or dies trying. */
static void probe_write(const char *who, char *p)
{
	pid_t pid = fork();

	if (pid == 0) {
		*(volatile char *)p = 'y';
		_exit(0);
	}
	reap(who, pid);
}

static int mode_clip(void)
{
	char *p = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 1;
	memset(p, 'x', 3 * PAGE);
	dprintf(1, "munmap middle %d\n", munmap(p + PAGE, PAGE));
	dprintf(1, "first %c last %c\n", p[0], p[2 * PAGE]);
	probe_write("write middle", p + PAGE);
	dprintf(1, "mprotect first %d\n", mprotect(p, PAGE, PROT_READ));
	probe_write("write first", p);
	probe_write("write last", p + 2 * PAGE);
	/* Three cuts in a row, each next to the entry the one before made:
	 * a cut at the end of a range must leave the list's back links
	 * right for the next cut (the fuzzer found one that did not). */
	p = mmap(NULL, 6 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(p, 'z', 6 * PAGE);
	mprotect(p + 3 * PAGE, 3 * PAGE, PROT_READ);
	munmap(p + PAGE, PAGE);
	munmap(p + 3 * PAGE, 3 * PAGE);
	dprintf(1, "after three cuts: %c %c\n", p[0], p[2 * PAGE]);
	probe_write("write cut", p + 4 * PAGE);
	munmap(p, 3 * PAGE);
	return 0;
}

static int mode_sync(void)
{
	int fd = make_file("/mt/sync");
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);

	if (p == MAP_FAILED)
		return 1;
	memcpy(p + PAGE + 7, "synced", 6);
	dprintf(1, "before sync: %s\n", file_at(fd, PAGE + 7, 6));
	sync();
	dprintf(1, "after sync: %s\n", file_at(fd, PAGE + 7, 6));
	munmap(p, PAGES * PAGE);
	close(fd);
	return unlink("/mt/sync");
}

static int mode_leave(const char *path)
{
	char buf[PAGE], *p;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	memset(buf, 'a', sizeof(buf));
	if (fd < 0 || write(fd, buf, PAGE) != PAGE)
		return 1;
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return 1;
	memcpy(p + 10, "unmounted", 9);
	_exit(0);
}

static sigjmp_buf again_env;

static void again_segv(int sig)
{
	siglongjmp(again_env, sig);
}

static int mode_again(void)
{
	volatile char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int sig;

	if (p == MAP_FAILED)
		return 1;
	signal(SIGSEGV, again_segv);
	p[PAGE] = 1;			/* faulted in: the map's last entry */
	munmap((char *)p + PAGE, PAGE);
	sig = sigsetjmp(again_env, 1);
	if (sig == 0)
		p[PAGE] = 2;
	dprintf(1, "after munmap: %s %d\n", sig ? "signal" : "no signal",
		sig);
	return 0;
}

/* The child of mode_two: its own descriptor and mapping of /mt/two. */
static void two_child(int ready, int go)
{
	int fd = open("/mt/two", O_RDWR);
	char *q = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);
	char c;

	if (q == MAP_FAILED)
		_exit(2);
	memcpy(q + 100, "child", 5);			/* page 0 */
	if (write(ready, "1", 1) != 1 || read(go, &c, 1) != 1)
		_exit(3);
	dprintf(1, "child sees: %.6s\n", q + PAGE + 100);	/* page 1 */
	_exit(0);
}

static int mode_two(void)
{
	int fd = make_file("/mt/two"), ready[2], go[2];
	char *p, *v, c;
	pid_t pid;

	if (fd < 0 || pipe(ready) || pipe(go))
		return 1;
	pid = fork();
	if (pid == 0)
		two_child(ready[1], go[0]);
	p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	v = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
		 0);
	if (p == MAP_FAILED || v == MAP_FAILED || read(ready[0], &c, 1) != 1)
		return 1;
	dprintf(1, "shared sees: %.5s\n", p + 100);
	dprintf(1, "private sees: %.5s\n", v + 100);
	memcpy(p + PAGE + 100, "parent", 6);
	memcpy(v + 2 * PAGE + 100, "privat", 6);
	dprintf(1, "shared sees the private write: %.6s\n",
		p + 2 * PAGE + 100);
	if (write(go[1], "1", 1) != 1)
		return 1;
	reap("child", pid);
	munmap(v, PAGES * PAGE);
	munmap(p, PAGES * PAGE);
	dprintf(1, "file: %s", file_at(fd, 100, 5));
	dprintf(1, " %s", file_at(fd, PAGE + 100, 6));
	dprintf(1, " %s\n", file_at(fd, 2 * PAGE + 100, 6));
	close(fd);
	return unlink("/mt/two");
}

/* msync all of p and say what it returned, then wait for the kernel
 * test's byte on stdin (it reads the write-back counter meanwhile). */
static int msync_and_wait(char *p, const char *what)
{
	char c;

	dprintf(1, "%s: msync %d\n", what, msync(p, PAGES * PAGE, MS_SYNC));
	return read(0, &c, 1) == 1 ? 0 : -1;
}

static int mode_clean(void)
{
	int fd = make_file("/mt/clean");
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		       fd, 0);

	if (fd < 0 || p == MAP_FAILED)
		return 1;
	p[10] = 'x';
	if (msync_and_wait(p, "store") || msync_and_wait(p, "no store"))
		return 1;
	p[20] = 'y';			/* page 0 again, after its write-back */
	if (msync_and_wait(p, "store again"))
		return 1;
	p[30] = 'z';
	p[2 * PAGE + 30] = 'z';
	if (msync_and_wait(p, "two pages"))
		return 1;
	p[40] = 'q';		/* written back when the mapping goes */
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "shared"))
		return mode_shared();
	if (!strcmp(mode, "private"))
		return mode_private();
	if (!strcmp(mode, "errors"))
		return mode_errors();
	if (!strcmp(mode, "clip"))
		return mode_clip();
	if (!strcmp(mode, "two"))
		return mode_two();
	if (!strcmp(mode, "sync"))
		return mode_sync();
	if (!strcmp(mode, "again"))
		return mode_again();
	if (!strcmp(mode, "clean"))
		return mode_clean();
	if (!strcmp(mode, "leave") && argc > 2)
		return mode_leave(argv[2]);
	dprintf(2, "usage: maptest shared|private|errors|clip|two|sync|"
		"again|clean|leave PATH\n");
	return 2;
}
