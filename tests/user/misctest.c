/*
 * misctest.c - the small calls C libraries and busybox make: sendfile,
 * umask, chmod, chown, utimensat, getrlimit/setrlimit/prlimit, prctl,
 * time, for tests/kern/user_test.c.  Each line is "<what> <result>
 * <errno>" or values read back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void report(const char *what, long rv)
{
	dprintf(1, "%s %ld %d\n", what, rv, rv < 0 ? errno : 0);
}

static void files(void)
{
	struct timespec times[2] = { { 0, UTIME_OMIT }, { 981173106, 5 } };
	struct stat st;
	off_t off = 6;
	int fd, fds[2];

	umask(027);
	fd = open("/misc.txt", O_CREAT | O_TRUNC | O_RDWR, 0666);
	write(fd, "hello sendfile\n", 15);
	fstat(fd, &st);
	dprintf(1, "mode under umask 027: %o\n", st.st_mode & 0777);
	report("umask back", umask(022));
	lseek(fd, 0, SEEK_SET);
	report("sendfile", sendfile(1, fd, NULL, 100));
	report("sendfile at 6", sendfile(1, fd, &off, 100));
	dprintf(1, "offset now %ld, file offset %ld\n", (long)off,
		(long)lseek(fd, 0, SEEK_CUR));
	pipe(fds);
	report("sendfile from a pipe", sendfile(1, fds[0], NULL, 10));
	report("chmod", chmod("/misc.txt", 0600));
	stat("/misc.txt", &st);
	dprintf(1, "mode %o\n", st.st_mode & 0777);
	report("chown", chown("/misc.txt", 0, 0));
	report("chown missing", chown("/no-such-file", 0, 0));
	report("utimensat", utimensat(AT_FDCWD, "/misc.txt", times, 0));
	stat("/misc.txt", &st);
	dprintf(1, "mtime %ld\n", (long)st.st_mtime);
	report("utimensat now", utimensat(AT_FDCWD, "/misc.txt", NULL, 0));
	stat("/misc.txt", &st);
	dprintf(1, "mtime recent %d\n", st.st_mtime > 1600000000);
	report("utimensat missing", utimensat(AT_FDCWD, "/nothing", NULL, 0));
	close(fd);
	unlink("/misc.txt");
}

int main(void)
{
	struct rlimit rl, big = { RLIM_INFINITY, RLIM_INFINITY };
	char name[16];

	files();
	report("getrlimit stack", getrlimit(RLIMIT_STACK, &rl));
	dprintf(1, "stack %lu nofile ", (unsigned long)rl.rlim_cur);
	getrlimit(RLIMIT_NOFILE, &rl);
	dprintf(1, "%lu\n", (unsigned long)rl.rlim_cur);
	report("raise nofile", setrlimit(RLIMIT_NOFILE, &big));
	rl.rlim_cur = 32;
	report("lower nofile", setrlimit(RLIMIT_NOFILE, &rl));
	report("set name", prctl(PR_SET_NAME, "renamed-program-long"));
	prctl(PR_GET_NAME, name);
	dprintf(1, "name %s\n", name);
	dprintf(1, "time recent %d\n", time(NULL) > 1600000000);
	return 0;
}
