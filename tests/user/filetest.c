/*
 * filetest.c - descriptors over the VFS, pipes and dup, one behaviour per
 * argument, for tests/kern/user_test.c.  Each mode prints lines the test
 * compares (through write(2): no stdio buffer to copy on fork).
 *
 *   files     mkdir, chdir, getcwd, open/creat, write, read, lseek, pread,
 *             fstat/stat, O_APPEND, openat with a dirfd, getdents64,
 *             rename, symlink/readlink, unlink, rmdir, and their errors
 *   pipe      100,000 bytes from a child through a pipe on its stdout
 *             (dup2), then end of file; a writer with no reader dies of
 *             SIGPIPE
 *   dup       dup, dup3 with O_CLOEXEC, fcntl F_DUPFD/F_GETFD, errors
 *   cloexec   an O_CLOEXEC descriptor is gone after execve, another stays
 *   fdcheck N...  (run by cloexec) whether each descriptor N is open
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define say(...) dprintf(1, __VA_ARGS__)

/* The result of a call, and errno when it failed: "-1 2". */
static void show(const char *what, long r)
{
	say("%s %ld %d\n", what, r, r < 0 ? errno : 0);
}

/* The names in directory path, sorted, on one line. */
static void list_dir(const char *path)
{
	char buf[1024], names[16][32];
	int fd = open(path, O_RDONLY | O_DIRECTORY), n = 0;
	long len;

	while ((len = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < len;) {
			struct dirent *d = (struct dirent *)(buf + off);

			if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") &&
			    n < 16) {
				size_t len = strlen(d->d_name);

				len = len < 30 ? len : 30;
				memcpy(names[n], d->d_name, len);
				names[n][len] = '\0';
				if (d->d_type == DT_DIR)
					strcat(names[n], "/");
				n++;
			}
			off += d->d_reclen;
		}
	}
	qsort(names, n, 32, (int (*)(const void *, const void *))strcmp);
	say("ls %s:", path);
	for (int i = 0; i < n; i++)
		say(" %s", names[i]);
	say("\n");
	close(fd);
}

static void files_read_back(void)
{
	char buf[32] = "";
	struct stat st;
	int fd = open("a.txt", O_RDONLY);

	fstat(fd, &st);
	say("size %ld regular %d\n", (long)st.st_size, S_ISREG(st.st_mode));
	show("read", read(fd, buf, 5));
	show("tell", lseek(fd, 0, SEEK_CUR));
	show("seek", lseek(fd, 6, SEEK_SET));
	memset(buf, 0, sizeof(buf));
	show("read", read(fd, buf, sizeof(buf)));
	say("got %s", buf);
	memset(buf, 0, sizeof(buf));
	show("pread", pread(fd, buf, 4, 0));
	say("got %s\n", buf);
	show("seek_end", lseek(fd, -2, SEEK_END));
	show("seek_negative", lseek(fd, -100, SEEK_SET));
	show("write_rdonly", write(fd, "x", 1));
	close(fd);
}

static void files_names(void)
{
	char buf[64] = "";
	struct stat st;
	int dfd = open("/ft", O_RDONLY | O_DIRECTORY);

	show("mkdir_sub", mkdir("sub", 0755));
	show("mkdir_again", mkdir("sub", 0755));
	show("openat", openat(dfd, "b.txt", O_CREAT | O_WRONLY, 0644) >= 0);
	show("symlink", symlink("a.txt", "link"));
	show("readlink", readlink("link", buf, sizeof(buf)));
	say("link -> %s\n", buf);
	list_dir("/ft");
	/* Too small for one record: EINVAL, not 0 (the end). */
	show("getdents_small", syscall(SYS_getdents64, dfd, buf, 8));
	show("rename", rename("a.txt", "c.txt"));
	show("stat_old", stat("a.txt", &st));
	show("stat_new", stat("/ft/sub/../c.txt", &st));
	show("unlink", unlink("c.txt"));
	show("unlinkat", unlinkat(dfd, "b.txt", 0));
	show("unlink_link", unlink("link"));
	show("rmdir_notempty", rmdir("/bin"));
	show("unlinkat_dir", unlinkat(dfd, "sub", AT_REMOVEDIR));
	list_dir("/ft");
	close(dfd);
}

static int mode_files(void)
{
	char cwd[64];
	int fd;

	show("mkdir", mkdir("/ft", 0755));
	show("chdir", chdir("/ft/./"));
	say("cwd %s\n", getcwd(cwd, sizeof(cwd)));
	fd = open("a.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	show("write", write(fd, "hello file\n", 11));
	close(fd);
	fd = open("a.txt", O_WRONLY | O_APPEND);
	show("append", write(fd, "more\n", 5));
	close(fd);
	files_read_back();
	files_names();
	show("chdir_up", chdir(".."));
	say("cwd %s\n", getcwd(cwd, sizeof(cwd)));
	show("rmdir", rmdir("/ft"));
	show("open_missing", open("/ft/a.txt", O_RDONLY));
	show("open_kernel_ptr", open((char *)0xffffffff80100000UL, O_RDONLY));
	show("chdir_file", chdir("/bin/hello"));
	show("getcwd_small", syscall(SYS_getcwd, cwd, 1));
	show("bad_fd_read", read(55, cwd, 1));
	return 0;
}

static int mode_pipe(void)
{
	char buf[3000];
	long total = 0, sum = 0, n;
	int fds[2], status;
	pid_t pid;

	show("pipe", pipe(fds));
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		static char out[100000];
		long done = 0;

		for (int i = 0; i < 100000; i++)
			out[i] = (char)(i % 251);
		for (int k = 0; done < 100000; k++) {	/* 1..5000 at a time */
			long n = (k * 37) % 5000 + 1;

			n = n < 100000 - done ? n : 100000 - done;
			done += write(1, out + done, n);
		}
		_exit(0);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf, sizeof(buf))) > 0) {
		for (long i = 0; i < n; i++)
			sum += (unsigned char)buf[i] * ((total + i) % 3 + 1);
		total += n;
	}
	show("eof", n);
	close(fds[0]);		/* first: a child still writing then ends */
	waitpid(pid, &status, 0);
	say("bytes %ld sum %ld status %d\n", total, sum, status);
	/* No reader: the writer is ended by SIGPIPE. */
	pipe(fds);
	close(fds[0]);
	pid = fork();
	if (pid == 0) {
		write(fds[1], "x", 1);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	say("writer: signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	signal(SIGPIPE, SIG_IGN);
	close(fds[1]);
	show("lseek_pipe", (pipe(fds), lseek(fds[0], 0, SEEK_SET)));
	return 0;
}

static int mode_dup(void)
{
	int fd = dup(1), fd3 = dup3(1, 9, O_CLOEXEC);

	say("dup %d dup3 %d\n", fd, fd3);
	show("getfd", fcntl(9, F_GETFD));
	show("getfd_plain", fcntl(fd, F_GETFD));
	show("dupfd_min", fcntl(1, F_DUPFD, 20));
	show("dup3_same", dup3(1, 1, 0));
	show("dup_bad", dup(63));
	show("dup2_range", dup2(1, 4096));
	write(fd3, "through dup3\n", 13);
	close(1);
	write(fd, "after close 1\n", 14);
	return 0;
}

static int mode_cloexec(void)
{
	int keep = open("/bin", O_RDONLY | O_DIRECTORY);
	int gone = open("/bin", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char k[8], g[8];

	snprintf(k, sizeof(k), "%d", keep);
	snprintf(g, sizeof(g), "%d", gone);
	execl("/bin/filetest", "filetest", "fdcheck", k, g, (char *)NULL);
	return 99;
}

static int mode_fdcheck(int argc, char **argv)
{
	for (int i = 2; i < argc; i++)
		say("fd %s %s\n", argv[i],
		    fcntl(atoi(argv[i]), F_GETFD) >= 0 ? "open" : "closed");
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "files") == 0)
		return mode_files();
	if (strcmp(mode, "pipe") == 0)
		return mode_pipe();
	if (strcmp(mode, "dup") == 0)
		return mode_dup();
	if (strcmp(mode, "cloexec") == 0)
		return mode_cloexec();
	if (strcmp(mode, "fdcheck") == 0)
		return mode_fdcheck(argc, argv);
	say("filetest: unknown mode \"%s\"\n", mode);
	return 2;
}
