/*
 * fixedmap.c - mmap at a fixed address, for tests/kern/user_test.c:
 * MAP_FIXED_NOREPLACE over a mapping, or over part of one, is EEXIST and
 * leaves the mapping and its contents alone, for anonymous, shared and
 * file mappings alike, and with MAP_FIXED given too; over a hole it maps
 * exactly there.  Plain MAP_FIXED replaces what was there.  Each line is
 * "<what> <result> <errno>" (the result 0 for an address that is the one
 * asked for) or values read back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE	  4096
#define ANON	  (MAP_PRIVATE | MAP_ANONYMOUS)
#define RW	  (PROT_READ | PROT_WRITE)
#define say(...)  dprintf(1, __VA_ARGS__)

/* The result of a call, and errno when it failed: "-1 12". */
static void show(const char *what, long r)
{
	say("%s %ld %d\n", what, r, r < 0 ? errno : 0);
}

/* The result of an mmap asked for at want: 0 if it is want, -1 and
 * errno if it failed, else 1 (somewhere else). */
static void show_map(const char *what, void *got, void *want)
{
	long r = got == MAP_FAILED ? -1 : got == want ? 0 : 1;

	say("%s %ld %d\n", what, r, r < 0 ? errno : 0);
}

/* Do the first bytes of each of n pages at p still hold c? */
static int pages_hold(const char *p, int n, char c)
{
	for (int i = 0; i < n; i++)
		if (p[i * PAGE] != c || p[i * PAGE + PAGE - 1] != c)
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	char *p = mmap(NULL, 4 * PAGE, RW, ANON, -1, 0), *q;
	int fd = open("/bin/fixedmap", O_RDONLY);

	memset(p, 'A', 3 * PAGE);
	munmap(p + 3 * PAGE, PAGE);	/* a hole after three pages */
	show_map("anon over page 1",
		 mmap(p + PAGE, PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0),
		 p + PAGE);
	show_map("shared over all", mmap(p, 3 * PAGE, RW,
					 MAP_SHARED | MAP_ANONYMOUS |
						 MAP_FIXED_NOREPLACE, -1, 0),
		 p);
	show_map("file over page 0", mmap(p, PAGE, PROT_READ,
					  MAP_PRIVATE | MAP_FIXED_NOREPLACE,
					  fd, 0),
		 p);
	show_map("with MAP_FIXED too",
		 mmap(p, PAGE, RW, ANON | MAP_FIXED | MAP_FIXED_NOREPLACE,
		      -1, 0),
		 p);
	show_map("half over the hole",
		 mmap(p + 2 * PAGE, 2 * PAGE, RW, ANON | MAP_FIXED_NOREPLACE,
		      -1, 0),
		 p + 2 * PAGE);
	say("contents kept %d\n", pages_hold(p, 3, 'A'));
	show("hole still empty", msync(p + 3 * PAGE, PAGE, MS_ASYNC));
	q = mmap(p + 3 * PAGE, PAGE, RW, ANON | MAP_FIXED_NOREPLACE, -1, 0);
	show_map("into the hole", q, p + 3 * PAGE);
	if (q == p + 3 * PAGE) {
		say("fresh page zero %d\n", q[0] == 0 && q[PAGE - 1] == 0);
		q[0] = 'B';
		say("written %c\n", q[0]);
	}
	show_map("unaligned", mmap(p + 1, PAGE, RW,
				   ANON | MAP_FIXED_NOREPLACE, -1, 0),
		 p + 1);
	show_map("plain MAP_FIXED", mmap(p + PAGE, PAGE, RW, ANON | MAP_FIXED,
					 -1, 0),
		 p + PAGE);
	say("replaced page zero %d, others kept %d %d\n", p[PAGE] == 0,
	    pages_hold(p, 1, 'A'), pages_hold(p + 2 * PAGE, 1, 'A'));
	close(fd);
	return 0;
}
