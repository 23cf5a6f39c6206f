/*
 * hmr_fuse_test.c - real programs on a FUSE mount of a fresh HMR image.
 *
 * Each test makes an image with mkfs.hmr, serves it with hmr-fuse, runs
 * ordinary Linux programs on the mount (coreutils, stress-ng's filesystem
 * stressors, fio with crc32c verification, fs_mark), unmounts, waits for
 * the daemon's final commit, and requires fsck.hmr to find the image
 * clean.  The tools are found next to this binary (build/host/).
 *
 * Tests skip, saying why, only when /dev/fuse is missing or we are not
 * root (mounting is then impossible), or when a program is not installed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "htest.h"

static char bindir[512];
static char workdir[512];
static char image[600], mnt[600];
static pid_t daemon_pid;

static void need_fuse(void)
{
	if (access("/dev/fuse", F_OK) != 0)
		HT_SKIP("/dev/fuse is absent: FUSE mounts are impossible here");
	if (geteuid() != 0)
		HT_SKIP("not root: mounting FUSE needs root here");
}

static void need_program(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	if (system(cmd) != 0) {
		static char why[128];
		snprintf(why, sizeof(why), "%s is not installed "
			 "(tools/packages-hmr.txt lists it)", prog);
		HT_SKIP(why);
	}
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	printf("  # $ %.300s\n", cmd);
	fflush(stdout);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void find_bindir(void)
{
	char self[512];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	HT_ASSERT_TRUE(n > 0);
	self[n] = '\0';
	snprintf(bindir, sizeof(bindir), "%s", dirname(self));
}

/* Is mnt a FUSE mount right now? */
static int mounted(void)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd), "grep -q ' %s fuse' /proc/self/mounts", mnt);
	return system(cmd) == 0;
}

/* mkfs a fresh image of `size` and mount it with `opts` (may be ""). */
static void start(const char *size, const char *opts)
{
	find_bindir();
	snprintf(workdir, sizeof(workdir), "/tmp/hmr-fuse-XXXXXX");
	HT_ASSERT_TRUE(mkdtemp(workdir) != NULL);
	snprintf(image, sizeof(image), "%s/img", workdir);
	snprintf(mnt, sizeof(mnt), "%s/mnt", workdir);
	HT_ASSERT_EQ(mkdir(mnt, 0755), 0);
	HT_ASSERT_EQ(run("%s/mkfs.hmr %s %s >/dev/null", bindir, image, size), 0);
	(void)opts;
}

static void mount_image(const char *opts)
{
	char prog[600];

	snprintf(prog, sizeof(prog), "%s/hmr-fuse", bindir);
	daemon_pid = fork();
	if (daemon_pid == 0) {
		if (opts && *opts)
			execl(prog, prog, image, mnt, "-f", "-o", opts, (char *)NULL);
		else
			execl(prog, prog, image, mnt, "-f", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && !mounted(); i++)
		usleep(50000);
	HT_ASSERT_TRUE(mounted());
}

/* Unmount, wait for the daemon's final commit, and fsck. */
static void unmount_and_fsck(void)
{
	int st;

	HT_EXPECT_EQ(run("fusermount3 -u %s", mnt), 0);
	HT_ASSERT_EQ(waitpid(daemon_pid, &st, 0), daemon_pid);
	HT_EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	HT_EXPECT_EQ(run("%s/fsck.hmr %s", bindir, image), 0);
}

static void cleanup(void)
{
	run("rm -rf %s", workdir);
}

HTEST(hmr_fuse, coreutils_posix_basics_asof_names_and_asof_mounts)
{
	need_fuse();
	start("256M", "");
	mount_image("");
	HT_EXPECT_EQ(run("cd %s && mkdir -p d/e && printf old > d/f && ln d/f d/g "
			 "&& ln -s f d/s && mv d/e e2 && test \"$(cat d/s)\" = old "
			 "&& test $(stat -c %%h d/f) = 2 && rm d/g && test $(stat -c %%h d/f) = 1 "
			 "&& ! rmdir d 2>/dev/null && dd if=/dev/urandom of=big bs=64k count=64 2>/dev/null "
			 "&& cp big big2 && cmp big big2 && truncate -s 1G big2 && test $(stat -c %%s big2) = 1073741824",
			 mnt), 0);
	unmount_and_fsck();
	/* snapshot, change the file, then read it back through @@ */
	char tidfile[700];
	snprintf(tidfile, sizeof(tidfile), "%s/tid", workdir);
	HT_ASSERT_EQ(run("%s/hmrctl %s snapshot s1 > %s", bindir, image, tidfile), 0);
	mount_image("");
	HT_EXPECT_EQ(run("cd %s && printf new > d/f && sync d/f && "
			 "test \"$(cat d/f@@$(cat %s))\" = old && test \"$(cat d/f)\" = new",
			 mnt, tidfile), 0);
	unmount_and_fsck();
	/* an as-of mount shows the old state and refuses writes */
	char opts[200];
	FILE *f = fopen(tidfile, "r");
	char tid[64] = "";
	HT_ASSERT_TRUE(f && fgets(tid, sizeof(tid), f));
	fclose(f);
	tid[strcspn(tid, "\n")] = 0;
	snprintf(opts, sizeof(opts), "asof=%s", tid);
	mount_image(opts);
	HT_EXPECT_EQ(run("test \"$(cat %s/d/f)\" = old && ! touch %s/x 2>/dev/null",
			 mnt, mnt), 0);
	unmount_and_fsck();
	cleanup();
}

HTEST(hmr_fuse, stress_ng_filesystem_stressors_then_fsck_clean)
{
	need_fuse();
	need_program("stress-ng");
	/* HMR keeps every overwritten block until prune, so the hdd
	 * stressor is bounded by operations, not only by time. */
	start("2G", "");
	mount_image("");
	HT_EXPECT_EQ(run("cd %s && timeout 120 stress-ng --temp-path %s "
			 "--dir 1 --dir-dirs 200 --dentry 1 --dentries 200 "
			 "--link 1 --symlink 1 --rename 1 --hdd 1 --hdd-bytes 4M "
			 "--hdd-ops 3000 --hdd-opts wr-seq,rd-seq --chmod 1 --utime 1 "
			 "--timeout 10s --metrics-brief > %s/sng.log 2>&1; rc=$?; "
			 "tail -8 %s/sng.log; exit $rc", mnt, mnt, workdir, workdir), 0);
	HT_EXPECT_EQ(run("cd %s && timeout 120 stress-ng --temp-path %s --dir 1 "
			 "--link 1 --rename 1 --hdd 1 --hdd-bytes 4M --hdd-ops 2000 "
			 "--timeout 8s "
			 ">/dev/null 2>&1", mnt, mnt), 0);
	unmount_and_fsck();
	cleanup();
}

HTEST(hmr_fuse, fio_random_writes_verified_with_crc32c_then_fsck_clean)
{
	need_fuse();
	need_program("fio");
	start("1G", "");
	mount_image("");
	/* fio and fs_mark leave state and log files in the current
	 * directory: run them from the scratch directory. */
	HT_EXPECT_EQ(run("cd %s && timeout 300 fio --name=verify --directory=%s --rw=randwrite "
			 "--bs=4k --size=16M --ioengine=psync --verify=crc32c "
			 "--do_verify=1 --verify_fatal=1 --fsync=64 --numjobs=1 "
			 "--output-format=terse --minimal >/dev/null", workdir, mnt), 0);
	HT_EXPECT_EQ(run("cd %s && timeout 300 fio --name=seq --directory=%s --rw=write "
			 "--bs=128k --size=32M --ioengine=psync --verify=crc32c "
			 "--do_verify=1 --verify_fatal=1 >/dev/null", workdir, mnt), 0);
	unmount_and_fsck();
	cleanup();
}

HTEST(hmr_fuse, fs_mark_creates_with_fsync_then_fsck_clean)
{
	need_fuse();
	need_program("fs_mark");
	start("1G", "");
	mount_image("");
	HT_EXPECT_EQ(run("cd %s && timeout 300 fs_mark -d %s/fsm -n 300 -s 4096 -L 3 -S 1 "
			 "-t 1 > %s/fsm.log 2>&1; rc=$?; tail -4 %s/fsm.log; exit $rc",
			 workdir, mnt, workdir, workdir), 0);
	unmount_and_fsck();
	cleanup();
}

/* As-of objects get FUSE inode numbers from a table of view slots (here
 * shrunk to 4 with -o views=4).  A slot is reused only after the kernel
 * forgot its number, so a number the kernel still holds always names the
 * same object: with every slot held a new as-of lookup fails (ENFILE)
 * rather than take one, and after the kernel drops its caches (forgets)
 * the slots serve other objects. */
HTEST(hmr_fuse, asof_view_slots_are_reused_only_after_forget)
{
	char tidfile[700], tid[64] = "";
	FILE *f;

	need_fuse();
	start("64M", "");
	mount_image("");
	HT_ASSERT_EQ(run("cd %s && for i in 0 1 2 3 4 5 6 7 8 9; do "
			 "printf v$i > f$i; done", mnt), 0);
	unmount_and_fsck();
	snprintf(tidfile, sizeof(tidfile), "%s/tid", workdir);
	HT_ASSERT_EQ(run("%s/hmrctl %s snapshot s > %s", bindir, image,
			 tidfile), 0);
	f = fopen(tidfile, "r");
	HT_ASSERT_TRUE(f && fgets(tid, sizeof(tid), f));
	fclose(f);
	tid[strcspn(tid, "\n")] = 0;
	mount_image("views=4");
	HT_ASSERT_EQ(run("sync; echo 2 > /proc/sys/vm/drop_caches"), 0);
	/* every as-of name looked up while the others stay cached: those
	 * that got a number read their own bytes, and no two share one */
	HT_EXPECT_EQ(run("cd %s && ok=0; for i in 0 1 2 3 4 5 6 7 8 9; do "
			 "if v=$(cat f$i@@%s 2>/dev/null); then "
			 "test \"$v\" = v$i || exit 1; ok=$((ok+1)); "
			 "stat -c %%i f$i@@%s >> %s/inos || exit 2; fi; done; "
			 "test $ok -ge 4 || exit 3; "
			 "test -z \"$(sort %s/inos | uniq -d)\" || exit 4",
			 mnt, tid, tid, workdir, workdir), 0);
	/* once forgotten, the slots serve every other object in turn */
	HT_EXPECT_EQ(run("cd %s && for i in 0 1 2 3 4 5 6 7 8 9; do "
			 "echo 2 > /proc/sys/vm/drop_caches; "
			 "test \"$(cat f$i@@%s)\" = v$i || exit 1; done",
			 mnt, tid), 0);
	unmount_and_fsck();
	cleanup();
}

/*
 * hmr-fuse serves requests from several threads, and a read does not
 * wait behind a commit: a commit is held in the middle of its I/O (the
 * test hook HMR_FUSE_STALL_FLUSH makes every device flush wait while a
 * file exists), and meanwhile a read of a file the kernel has not
 * cached, a directory listing and a stat all complete.  With one thread
 * (-s) the read waits for the commit, and the 60 s bound fails it.
 */
static void reads_during_a_stalled_commit(const char *opts)
{
	char stall[700];

	need_fuse();
	start("64M", "");
	mount_image("");
	HT_ASSERT_EQ(run("cd %s && printf alpha > a && printf beta > b", mnt), 0);
	unmount_and_fsck();
	snprintf(stall, sizeof(stall), "%s/stall", workdir);
	HT_ASSERT_EQ(run("touch %s", stall), 0);
	setenv("HMR_FUSE_STALL_FLUSH", stall, 1);
	mount_image(opts);
	unsetenv("HMR_FUSE_STALL_FLUSH");
	HT_EXPECT_EQ(run("cd %s && printf gamma > c && { sync c & pid=$!; }; "
			 "i=0; while [ ! -e %s.reached ] && [ $i -lt 600 ]; do "
			 "sleep 0.1; i=$((i+1)); done; test -e %s.reached || exit 1; "
			 "echo 3 > /proc/sys/vm/drop_caches; "
			 "test \"$(timeout 60 cat a)\" = alpha || exit 2; "
			 "timeout 60 ls > /dev/null || exit 3; "
			 "timeout 60 stat b > /dev/null || exit 4; "
			 "kill -0 $pid || exit 5; rm %s; wait $pid || exit 6; "
			 "test \"$(cat c)\" = gamma", mnt, stall, stall, stall), 0);
	run("rm -f %s", stall); /* never leave the daemon stalled */
	unmount_and_fsck();
	cleanup();
}

HTEST(hmr_fuse, reads_finish_while_a_commit_is_held_mid_io)
{
	reads_during_a_stalled_commit("");
}

/*
 * Several programs at once through one mount: four writers each rewrite
 * and check their own file, four readers read a shared file and compare
 * it, and one more creates, renames and removes directories, all
 * concurrently for a fixed number of rounds, while the daemon's periodic
 * commits come and go.  Every check must pass, and fsck must find the
 * image clean after unmount.
 */
HTEST(hmr_fuse, concurrent_readers_and_writers_stay_consistent)
{
	need_fuse();
	start("256M", "");
	mount_image("");
	HT_ASSERT_EQ(run("cd %s && head -c 300000 /dev/urandom > %s/shared && "
			 "cp %s/shared shared", mnt, workdir, workdir), 0);
	HT_EXPECT_EQ(run(
		"cd %s && pids=; "
		"for w in 1 2 3 4; do ( for r in $(seq 40); do "
		"  head -c $((50000 + w * 1000 + r)) /dev/urandom > %s/w$w && "
		"  cp %s/w$w f$w && cmp -s %s/w$w f$w || exit 1; done ) & "
		"  pids=\"$pids $!\"; done; "
		"for r in 1 2 3 4; do ( for i in $(seq 60); do "
		"  cmp -s %s/shared shared || exit 1; done ) & "
		"  pids=\"$pids $!\"; done; "
		"( for i in $(seq 100); do mkdir d$i && mv d$i e$i && rmdir e$i "
		"  || exit 1; done ) & pids=\"$pids $!\"; "
		"rc=0; for p in $pids; do wait $p || rc=1; done; exit $rc",
		mnt, workdir, workdir, workdir, workdir), 0);
	unmount_and_fsck();
	cleanup();
}
