/*
 * cachetest.c - a mapped file and read(2)/write(2) see one file
 * (vm/vnode_pager.c), one behaviour per argument, for
 * tests/kern/user_test.c.  Each mode makes its own file under /ct and
 * removes it.
 *
 *   write_map    a write(2) or pwrite is seen at once by a MAP_SHARED
 *                mapping that already holds the page
 *   store_read   a store through a MAP_SHARED mapping is seen at once by
 *                read(2) and pread, before any msync
 *   two          parent and child share one mapping; each writes with
 *                write(2) and the other sees it through the mapping
 *   boundary     a pwrite across a page boundary reaches both pages,
 *                resident or not
 *   extend       a write past the end of the file leaves a hole of
 *                zeros (also over stores past the old end) and the
 *                mapping reaches the new bytes; a new mapping too
 *   private      a MAP_PRIVATE mapping keeps its copy of a page it
 *                wrote, sees write(2)s to pages it has not written, and
 *                never writes the file
 *   truncate     ftruncate: read(2) stops at the new end, the mapping
 *                reads zeros past it, and an extension reads zeros
 *   leave P      file P: a store and a write(2) to one page (the write
 *                after the store, over the same bytes), a store to
 *                another, and a write past the end; exit with no msync
 *                (the kernel test then unmounts and mounts)
 */
#include <errno.h>
#include <fcntl.h>
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

	mkdir("/ct", 0755);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	memset(buf, 'a', sizeof(buf));
	for (int i = 0; i < PAGES; i++)
		if (write(fd, buf, PAGE) != PAGE)
			return -1;
	return fd;
}

static char *map(int fd, size_t len, int type)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, type, fd, 0);

	if (p == MAP_FAILED) {
		dprintf(1, "mmap failed: %d\n", errno);
		exit(1);
	}
	return p;
}

/* What pread finds at off: n bytes as a string ("(short)" if fewer). */
static const char *file_at(int fd, off_t off, int n)
{
	static char buf[64];

	memset(buf, 0, sizeof(buf));
	if (pread(fd, buf, (size_t)n, off) != n)
		return "(short)";
	return buf;
}

/* n bytes at p as a string, zeros shown as '0'. */
static const char *mem_at(const char *p, int n)
{
	static char buf[64];

	for (int i = 0; i < n; i++)
		buf[i] = p[i] ? p[i] : '0';
	buf[n] = '\0';
	return buf;
}

static void reap(const char *who, pid_t pid)
{
	int status = 0;

	waitpid(pid, &status, 0);
	dprintf(1, "%s: %s %d\n", who, WIFEXITED(status) ? "exit" : "signal",
		WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static int mode_write_map(void)
{
	int fd = make_file("/ct/wm");
	char *p = map(fd, PAGES * PAGE, MAP_SHARED);

	dprintf(1, "mapping reads %c\n", p[PAGE + 100]);	/* resident */
	if (pwrite(fd, "fresh", 5, PAGE + 100) != 5)
		return 1;
	dprintf(1, "after pwrite: %.5s\n", p + PAGE + 100);
	lseek(fd, 2 * PAGE + 9, SEEK_SET);
	dprintf(1, "mapping reads %c\n", p[2 * PAGE]);
	if (write(fd, "written", 7) != 7)
		return 1;
	dprintf(1, "after write: %.7s\n", p + 2 * PAGE + 9);
	munmap(p, PAGES * PAGE);
	dprintf(1, "file: %s", file_at(fd, PAGE + 100, 5));
	dprintf(1, " %s\n", file_at(fd, 2 * PAGE + 9, 7));
	close(fd);
	return unlink("/ct/wm");
}

static int mode_store_read(void)
{
	int fd = make_file("/ct/sr");
	char *p = map(fd, PAGES * PAGE, MAP_SHARED);
	char buf[8] = { 0 };

	memcpy(p + PAGE + 7, "stored", 6);
	dprintf(1, "pread: %s\n", file_at(fd, PAGE + 7, 6));
	lseek(fd, PAGE + 7, SEEK_SET);
	if (read(fd, buf, 6) != 6)
		return 1;
	dprintf(1, "read: %s\n", buf);
	/* A read across the stored page and one never touched. */
	memcpy(p + 2 * PAGE - 3, "end", 3);
	dprintf(1, "across: %s\n", file_at(fd, 2 * PAGE - 3, 6));
	dprintf(1, "msync %d\n", msync(p, PAGES * PAGE, MS_SYNC));
	dprintf(1, "after msync: %s\n", file_at(fd, PAGE + 7, 6));
	munmap(p, PAGES * PAGE);
	close(fd);
	return unlink("/ct/sr");
}

/* Parent and child, one MAP_SHARED mapping (inherited) and one open
 * file: the child writes with write(2), the parent sees it through the
 * mapping; then the other way round.  Pipes order the two. */
static int mode_two(void)
{
	int fd = make_file("/ct/two"), ready[2], go[2];
	char *p = map(fd, PAGES * PAGE, MAP_SHARED), c;
	pid_t pid;

	if (fd < 0 || pipe(ready) || pipe(go))
		return 1;
	dprintf(1, "parent reads %c %c\n", p[PAGE + 50], p[2 * PAGE + 50]);
	pid = fork();
	if (pid == 0) {
		if (pwrite(fd, "kid", 3, PAGE + 50) != 3 ||
		    write(ready[1], "1", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		dprintf(1, "child sees: %.6s\n", p + 2 * PAGE + 50);
		_exit(0);
	}
	if (read(ready[0], &c, 1) != 1)
		return 1;
	dprintf(1, "parent sees: %.3s\n", p + PAGE + 50);
	if (pwrite(fd, "parent", 6, 2 * PAGE + 50) != 6 ||
	    write(go[1], "1", 1) != 1)
		return 1;
	reap("child", pid);
	munmap(p, PAGES * PAGE);
	close(fd);
	return unlink("/ct/two");
}

static int mode_boundary(void)
{
	int fd = make_file("/ct/bd");
	char *p = map(fd, PAGES * PAGE, MAP_SHARED);

	/* Pages 0 and 1 resident: one pwrite lands in both. */
	dprintf(1, "reads %c %c\n", p[0], p[PAGE]);
	if (pwrite(fd, "0123456789", 10, PAGE - 5) != 10)
		return 1;
	dprintf(1, "resident: %.5s|%.5s\n", p + PAGE - 5, p + PAGE);
	/* Page 1 resident, page 2 not yet: the first touch reads the
	 * file, which has the bytes. */
	if (pwrite(fd, "ABCDEFGHIJ", 10, 2 * PAGE - 5) != 10)
		return 1;
	dprintf(1, "half: %.5s|%.5s\n", p + 2 * PAGE - 5, p + 2 * PAGE);
	dprintf(1, "file: %s\n", file_at(fd, PAGE - 5, 10));
	munmap(p, PAGES * PAGE);
	close(fd);
	return unlink("/ct/bd");
}

static int mode_extend(void)
{
	int fd;
	char *p, *q;
	struct stat st;

	mkdir("/ct", 0755);
	fd = open("/ct/ex", O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "short", 5) != 5)
		return 1;
	p = map(fd, 2 * PAGE, MAP_SHARED);
	memcpy(p + 200, "junk", 4);	/* past the end, inside the page */
	if (pwrite(fd, "beyond", 6, PAGE + 10) != 6)
		return 1;
	fstat(fd, &st);
	dprintf(1, "size %ld\n", (long)st.st_size);
	dprintf(1, "hole in the mapping: %s\n", mem_at(p + 200, 4));
	dprintf(1, "hole in the file: %s\n", mem_at(file_at(fd, 200, 4), 4));
	dprintf(1, "mapping past the old end: %.6s\n", p + PAGE + 10);
	/* A file made longer and then mapped. */
	if (pwrite(fd, "far", 3, 3 * PAGE + 1) != 3)
		return 1;
	q = map(fd, 4 * PAGE, MAP_SHARED);
	dprintf(1, "new mapping: %.3s %.6s\n", q + 3 * PAGE + 1,
		q + PAGE + 10);
	munmap(q, 4 * PAGE);
	munmap(p, 2 * PAGE);
	close(fd);
	return unlink("/ct/ex");
}

static int mode_private(void)
{
	int fd = make_file("/ct/pv");
	char *v = map(fd, PAGES * PAGE, MAP_PRIVATE);

	dprintf(1, "reads %c %c\n", v[0], v[PAGE]);
	memcpy(v + 10, "mine", 4);		/* page 0 copied */
	if (pwrite(fd, "file", 4, 10) != 4 ||
	    pwrite(fd, "news", 4, PAGE + 10) != 4)
		return 1;
	dprintf(1, "written page: %.4s\n", v + 10);
	dprintf(1, "unwritten page: %.4s\n", v + PAGE + 10);
	dprintf(1, "msync %d\n", msync(v, PAGES * PAGE, MS_SYNC));
	munmap(v, PAGES * PAGE);
	dprintf(1, "file: %s\n", file_at(fd, 10, 4));
	close(fd);
	return unlink("/ct/pv");
}

static int mode_truncate(void)
{
	int fd = make_file("/ct/tr");
	char *p = map(fd, 2 * PAGE, MAP_SHARED);
	char buf[300];
	int rc;

	memcpy(p + 150, "gone", 4);
	dprintf(1, "ftruncate %d\n", ftruncate(fd, 100));
	dprintf(1, "read %ld\n", (long)pread(fd, buf, sizeof(buf), 0));
	dprintf(1, "mapping past the end: %s\n", mem_at(p + 150, 4));
	dprintf(1, "mapping before it: %.2s\n", p + 98);
	memcpy(p + 160, "late", 4);	/* past the end, inside the page */
	dprintf(1, "ftruncate %d\n", ftruncate(fd, 2 * PAGE));
	dprintf(1, "file: %s\n", mem_at(file_at(fd, 150, 14), 14));
	dprintf(1, "mapping: %s\n", mem_at(p + 150, 14));
	rc = ftruncate(fd, -1);
	dprintf(1, "bad: %d %d\n", rc, errno);
	munmap(p, 2 * PAGE);
	close(fd);
	return unlink("/ct/tr");
}

/* File path: page 0 gets a store and then a write(2) over the same
 * bytes (the later write must win on the disk, though the page is
 * marked for write-back), page 1 a store only, page 2 a write past the
 * end.  Exit with everything still mapped. */
static int mode_leave(const char *path)
{
	char buf[2 * PAGE], *p;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

	memset(buf, 'a', sizeof(buf));
	if (fd < 0 || write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		return 1;
	p = map(fd, 3 * PAGE, MAP_SHARED);
	memcpy(p + 10, "stored", 6);
	if (pwrite(fd, "WRITE!", 6, 10) != 6)
		return 1;
	memcpy(p + PAGE + 20, "mapped", 6);
	if (pwrite(fd, "extend", 6, 2 * PAGE + 30) != 6)
		return 1;
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "write_map"))
		return mode_write_map();
	if (!strcmp(mode, "store_read"))
		return mode_store_read();
	if (!strcmp(mode, "two"))
		return mode_two();
	if (!strcmp(mode, "boundary"))
		return mode_boundary();
	if (!strcmp(mode, "extend"))
		return mode_extend();
	if (!strcmp(mode, "private"))
		return mode_private();
	if (!strcmp(mode, "truncate"))
		return mode_truncate();
	if (!strcmp(mode, "leave") && argc > 2)
		return mode_leave(argv[2]);
	dprintf(2, "usage: cachetest write_map|store_read|two|boundary|"
		"extend|private|truncate|leave PATH\n");
	return 2;
}
