/*
 * devtest.c - devices under /dev (fs/devfs.c, kern/kern_memio.c) and the
 * device pager (vm/device_pager.c), one behaviour per argument, for
 * tests/kern/devfs_test.c.  Each mode prints what it saw; the kernel
 * side compares.
 *
 *   files      /dev/null and /dev/zero read and write as on Linux; the
 *              directory lists the devices, stat says character device
 *              and the number, names cannot be made or removed;
 *              /dev/tty is a terminal; /dev/zero maps zeroes
 *   mem ADDR   map the page at physical ADDR through /dev/mem
 *              (MAP_SHARED), print the string the kernel put at +0x100,
 *              store one at +0x200; a forked child (the mapping is
 *              shared) prints that and stores another at +0x300, which
 *              the parent prints after the child's exit
 *   memerrors  what /dev/mem refuses, each with its errno
 *   kpmap      the kernel's shared page: its fields, its tick count
 *              moving while the program sleeps, what it refuses, and
 *              that a store into it kills (SIGSEGV) only the storer
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <damselfly/kpmap.h>

#define PAGE 4096

/* "ok", or the errno's name for the few this test expects. */
static const char *err_name(int e)
{
	switch (e) {
	case 0: return "ok";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EINVAL: return "EINVAL";
	case ENXIO: return "ENXIO";
	case ENODEV: return "ENODEV";
	case EISDIR: return "EISDIR";
	default: return "other";
	}
}

/* The errno of a call that returned r (0 when r is not -1). */
static const char *result(long r)
{
	return err_name(r == -1 ? errno : 0);
}

/* The names in /dev, in the order getdents gave them, on one line. */
static void list_dev(void)
{
	DIR *d = opendir("/dev");
	struct dirent *e;

	printf("/dev:");
	while (d != NULL && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			printf(" %s%s", e->d_name,
			       e->d_type == DT_CHR ? "" : "(not chr)");
	printf("\n");
	if (d != NULL)
		closedir(d);
}

static void null_and_zero(void)
{
	char buf[64];
	int n = open("/dev/null", O_RDWR), z = open("/dev/zero", O_RDWR);
	int w = open("/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	memset(buf, 'x', sizeof(buf));
	printf("null: read %zd, write %zd, creat+trunc %s\n",
	       read(n, buf, sizeof(buf)), write(n, "abc", 3),
	       w >= 0 ? "ok" : err_name(errno));
	printf("zero: read %zd, ", read(z, buf, sizeof(buf)));
	printf("all zero %d, write %zd\n",
	       buf[0] == 0 && !memcmp(buf, buf + 1, sizeof(buf) - 1),
	       write(z, "abc", 3));
	close(n);
	close(z);
	close(w);
}

static void stat_and_names(void)
{
	struct stat st;
	int t;

	stat("/dev/null", &st);
	printf("stat null: chr %d, rdev %u:%u, mode %o\n", S_ISCHR(st.st_mode),
	       major(st.st_rdev), minor(st.st_rdev), st.st_mode & 0777);
	stat("/dev", &st);
	printf("stat /dev: dir %d\n", S_ISDIR(st.st_mode));
	/* One call per statement: errno is read before the next call. */
	printf("open missing %s, ", result(open("/dev/nothere", O_RDONLY)));
	printf("create %s, ", result(open("/dev/new", O_WRONLY | O_CREAT,
					  0644)));
	printf("unlink %s, ", result(unlink("/dev/null")));
	printf("mkdir %s\n", result(mkdir("/dev/d", 0755)));
	t = open("/dev/tty", O_RDWR);
	printf("tty: open %s, isatty %d\n", t >= 0 ? "ok" : err_name(errno),
	       isatty(t));
	close(t);
}

/* /dev/zero maps anonymous memory: zeroes, writable, private. */
static void map_zero(void)
{
	int z = open("/dev/zero", O_RDWR);
	char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		       z, 0);

	if (p == MAP_FAILED) {
		printf("map zero: %s\n", err_name(errno));
		return;
	}
	printf("map zero: first %d last %d, ", p[0], p[2 * PAGE - 1]);
	p[PAGE] = 7;
	printf("stored %d\n", p[PAGE]);
	munmap(p, 2 * PAGE);
	close(z);
}

static int mode_files(void)
{
	list_dev();
	null_and_zero();
	stat_and_names();
	map_zero();
	return 0;
}

/* The parent's store and the child's, through one shared mapping. */
static int mode_mem(unsigned long addr)
{
	int fd = open("/dev/mem", O_RDWR);
	volatile char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				MAP_SHARED, fd, (off_t)addr);
	int status = 0;
	pid_t pid;

	if (p == MAP_FAILED) {
		printf("mmap /dev/mem: %s\n", err_name(errno));
		return 1;
	}
	close(fd);			/* the mapping stays */
	printf("kernel wrote: %s\n", (const char *)p + 0x100);
	strcpy((char *)p + 0x200, "from the parent");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		printf("child sees: %s\n", (const char *)p + 0x200);
		strcpy((char *)p + 0x300, "from the child");
		_exit(0);
	}
	waitpid(pid, &status, 0);
	printf("parent sees: %s\n", (const char *)p + 0x300);
	return munmap((void *)p, PAGE) == 0 ? 0 : 1;
}

/* mmap of /dev/mem with fd's open mode; the errno name. */
static const char *try_map(int flags, off_t off, size_t len, int prot,
			   int mapflags)
{
	int fd = open("/dev/mem", flags);
	void *p = mmap(NULL, len, prot, mapflags, fd, off);
	const char *r = p == MAP_FAILED ? err_name(errno) : "ok";

	if (p != MAP_FAILED)
		munmap(p, len);
	close(fd);
	return r;
}

/* A child touches a mapping mprotect gave rights the device refuses. */
static void exec_rights_fault(void)
{
	int fd = open("/dev/mem", O_RDWR), status = 0;
	volatile char *p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd,
				0xb8000);
	pid_t pid;

	if (p == MAP_FAILED || mprotect((void *)p, PAGE,
					PROT_READ | PROT_EXEC) != 0) {
		printf("mprotect exec: setup failed\n");
		return;
	}
	pid = fork();
	if (pid == 0) {
		(void)p[0];
		_exit(0);
	}
	waitpid(pid, &status, 0);
	printf("touch after mprotect exec: %s\n",
	       WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV ? "SIGSEGV"
								   : "no signal");
	munmap((void *)p, PAGE);
	close(fd);
}

static int mode_memerrors(void)
{
	int rw = PROT_READ | PROT_WRITE, fd;
	char c;

	printf("vga shared %s, private %s, I/O APIC %s\n",
	       try_map(O_RDWR, 0xb8000, PAGE, rw, MAP_SHARED),
	       try_map(O_RDWR, 0xb8000, PAGE, rw, MAP_PRIVATE),
	       try_map(O_RDWR, 0xfec00000, PAGE, rw, MAP_SHARED));
	printf("ram at 0 %s, at 1 MiB %s, crossing into RAM %s\n",
	       try_map(O_RDWR, 0, PAGE, PROT_READ, MAP_SHARED),
	       try_map(O_RDWR, 0x100000, PAGE, PROT_READ, MAP_SHARED),
	       try_map(O_RDWR, 0xb8000, 0x49000, PROT_READ, MAP_SHARED));
	/* 32 GiB of holes above 4 GiB (the test machine has no RAM there;
	 * every CPU has 36 address bits at least): judged at once. */
	printf("32 GiB above 4 GiB %s, ",
	       try_map(O_RDWR, 1L << 32, 1L << 35, PROT_READ, MAP_SHARED));
	printf("past the end %s, exec %s, write on read-only open %s\n",
	       try_map(O_RDWR, 1L << 52, PAGE, PROT_READ, MAP_SHARED),
	       try_map(O_RDWR, 0xb8000, PAGE, PROT_READ | PROT_EXEC,
		       MAP_SHARED),
	       try_map(O_RDONLY, 0xb8000, PAGE, rw, MAP_SHARED));
	fd = open("/dev/null", O_RDWR);
	printf("map null %s, ", mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd,
				     0) == MAP_FAILED ? err_name(errno) : "ok");
	close(fd);
	fd = open("/dev/mem", O_RDONLY);
	printf("read mem %s\n", result(read(fd, &c, 1)));
	close(fd);
	exec_rights_fault();
	return 0;
}

/* mmap of fd; the errno name ("ok" after unmapping what it got). */
static const char *try_fd(int fd, off_t off, int prot, int mapflags)
{
	void *p = mmap(NULL, PAGE, prot, mapflags, fd, off);

	if (p == MAP_FAILED)
		return err_name(errno);
	munmap(p, PAGE);
	return "ok";
}

/* A child stores into p; how it ended. */
static const char *store_in_child(volatile char *p)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		p[8] = 1;
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV
		       ? "SIGSEGV" : "no signal";
}

static int mode_kpmap(void)
{
	int fd = open("/dev/kpmap", O_RDONLY), rw = open("/dev/kpmap", O_RDWR);
	const struct kpmap *kp = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd,
				      0);
	struct timespec nap = { 0, 30 * 1000 * 1000 };
	uint32_t version = 0;
	uint64_t t0;
	ssize_t n;

	if (kp == MAP_FAILED) {
		printf("mmap /dev/kpmap: %s\n", err_name(errno));
		return 1;
	}
	printf("version %u, hz %u, cpus %u, tsc known %d\n", kp->kp_version,
	       kp->kp_hz, kp->kp_ncpus, kp->kp_tsc_hz != 0);
	t0 = kp->kp_ticks;
	nanosleep(&nap, NULL);		/* ends at a tick, so some passed */
	printf("ticks moved %d\n", kp->kp_ticks > t0);
	printf("write %s, private %s, past the page %s, ",
	       try_fd(rw, 0, PROT_READ | PROT_WRITE, MAP_SHARED),
	       try_fd(fd, 0, PROT_READ, MAP_PRIVATE),
	       try_fd(fd, PAGE, PROT_READ, MAP_SHARED));
	n = read(fd, &version, sizeof(version));
	printf("read %zd version %u\n", n, version);
	printf("store: %s\n", store_in_child((volatile char *)kp));
	munmap((void *)kp, PAGE);
	kp = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, rw, 0);
	mprotect((void *)kp, PAGE, PROT_READ | PROT_WRITE);
	printf("store after mprotect: %s\n",
	       store_in_child((volatile char *)kp));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "files") == 0)
		return mode_files();
	if (argc >= 3 && strcmp(argv[1], "mem") == 0)
		return mode_mem(strtoul(argv[2], NULL, 0));
	if (argc >= 2 && strcmp(argv[1], "memerrors") == 0)
		return mode_memerrors();
	if (argc >= 2 && strcmp(argv[1], "kpmap") == 0)
		return mode_kpmap();
	fprintf(stderr, "usage: devtest files | mem ADDR | memerrors | "
		"kpmap\n");
	return 2;
}
