/*
 * user_test.c - user mode, end to end: programs from tests/user/ (built
 * by musl-gcc, put in /bin of the `user` group's disk) are started,
 * their output caught in a sink and their wait status checked.
 *
 * Without the disk (the `core` group boots with none) every test skips
 * and says so.  The suite's leak checks (pages, processes, kmalloc, ...)
 * prove that what the programs used came back.
 */
#include <kern/errno.h>
#include <kern/clock.h>
#include <kern/console.h>
#include <kern/file.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/proc.h>
#include <kern/shell.h>
#include <kern/signal.h>
#include <kern/synch.h>
#include <kern/syscall.h>
#include <kern/tty.h>
#include <kern/uport.h>
#include <drivers/blkdev.h>
#include <fs/vfs.h>
#include <machine/cpufunc.h>
#include <net/socket.h>
#include <vm/vm_map.h>
#include <vm/vm_object.h>
#include <vm/vm_page.h>
#include <vm/vnode_pager.h>

#define OUT_MAX 4096

static char *const test_envp[] = { "PATH=/bin", "HOME=/", NULL };

/* What one run of a program left behind. */
struct run {
	int status;			/* wait status */
	char out[OUT_MAX];		/* stdout and stderr, NUL-terminated */
	char console[1024];		/* what the kernel printed meanwhile */
};

/* Skip unless the user programs are on the root filesystem. */
static void need_programs(void)
{
	struct vattr va;

	if (vfs_stat("/bin/hello", &va) != 0)
		KT_SKIP("no /bin/hello: boot with the user disk "
			"(build/user.img, group `user`)");
}

static struct run *console_run;		/* where the tap writes */
static size_t console_len;

static void console_tap(int c, void *arg)
{
	if (console_len + 1 < sizeof(console_run->console)) {
		console_run->console[console_len++] = (char)c;
		console_run->console[console_len] = '\0';
	}
}

/* Start path with argv on cpu (-1: any), stdin from in (NULL: the
 * console), stdout/stderr into a sink (*sinkp), console output into
 * r->console.  Returns proc_spawn's error; *pidp, and run_finish must
 * follow either way. */
static int run_start_in(const char *path, char *const argv[], int cpu,
			struct ufile *in, struct run *r, struct ufile **sinkp,
			int *pidp)
{
	struct ufile *sink = ufile_sink(OUT_MAX - 1);
	struct spawn_opts opts = { .stdio = { in, sink, sink }, .cpu = cpu };
	int error;

	memset(r, 0, sizeof(*r));
	console_run = r;
	console_len = 0;
	cons_set_tap(console_tap, NULL);
	error = proc_spawn(path, argv, test_envp, &opts, pidp);
	*sinkp = sink;
	return error;
}

/* run_start_in with stdin from the console. */
static int run_start(const char *path, char *const argv[], int cpu,
		     struct run *r, struct ufile **sinkp, int *pidp)
{
	return run_start_in(path, argv, cpu, NULL, r, sinkp, pidp);
}

/* Wait for pid (if it started), then collect its output into r. */
static void run_finish(struct run *r, struct ufile *sink, int pid)
{
	if (pid > 0)
		r->status = proc_wait(pid);
	cons_set_tap(NULL, NULL);
	strlcpy(r->out, ufile_sink_data(sink, NULL), sizeof(r->out));
	ufile_rele(sink);
}

/* Start path with argv on cpu (-1: any), stdout/stderr into r->out,
 * console output into r->console; wait.  Returns proc_spawn's error. */
static int run_on(const char *path, char *const argv[], int cpu,
		  struct run *r)
{
	struct ufile *sink;
	int pid = 0;
	int error = run_start(path, argv, cpu, r, &sink, &pid);

	run_finish(r, sink, error == 0 ? pid : 0);
	return error;
}

static int run(const char *path, char *const argv[], struct run *r)
{
	return run_on(path, argv, -1, r);
}

static struct run *run_alloc(void)
{
	return kmalloc(sizeof(struct run), M_TEMP, M_WAITOK | M_ZERO);
}

KTEST(user, hello_prints_its_arguments_and_exits_zero)
{
	char *argv[] = { "hello", "one", "two words", NULL };
	struct run *r;

	need_programs();
	r = run_alloc();
	KT_ASSERT_EQ(run("/bin/hello", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->out,
			"hello, world\narg 1: one\narg 2: two words\n");
	kfree(r, M_TEMP);
}

KTEST(user, a_program_runs_on_every_cpu)
{
	char *argv[] = { "hello", NULL };
	struct run *r;

	need_programs();
	r = run_alloc();
	for (int cpu = 0; cpu < ncpus; cpu++) {
		KT_ASSERT_EQ(run_on("/bin/hello", argv, cpu, r), 0);
		KT_EXPECT_EQ(r->status, W_EXITCODE(0));
		KT_EXPECT_STREQ(r->out, "hello, world\n");
	}
	kfree(r, M_TEMP);
}

/*
 * Guards the way into user mode: a wrong kernel stack top (TSS.RSP0, the
 * SYSCALL stack), a frame copied over the wrong bytes, or a trapframe
 * layout that assembly and C disagree on shows as a damaged initial
 * stack or registers.  Checked on each CPU, when the kernel starts the
 * program and again after the program's own execve.
 */
KTEST(user, the_initial_stack_holds_argv_envp_and_a_whole_auxv_on_every_cpu)
{
	char *argv[] = { "auxvtest", "again", "two words", NULL };
	static const char block[] = "argc ok\nargv ok\nenvp ok\nauxv ok\n"
				    "pagesz ok\nentry ok\nphdr ok\n"
				    "random ok\nexecfn ok\n";
	char *both;
	struct run *r;

	need_programs();
	r = run_alloc();
	both = kmalloc(2 * sizeof(block), M_TEMP, M_WAITOK);
	ksnprintf(both, 2 * sizeof(block), "%s%s", block, block);
	for (int cpu = 0; cpu < ncpus; cpu++) {
		KT_ASSERT_EQ(run_on("/bin/auxvtest", argv, cpu, r), 0);
		KT_EXPECT_EQ(r->status, W_EXITCODE(0));
		KT_EXPECT_STREQ(r->out, both);
	}
	kfree(both, M_TEMP);
	kfree(r, M_TEMP);
}

KTEST(user, a_missing_program_is_enoent)
{
	char *argv[] = { "nothing", NULL };
	struct run *r;

	need_programs();
	r = run_alloc();
	KT_EXPECT_EQ(run("/bin/no-such-program", argv, r), ENOENT);
	KT_EXPECT_EQ(run("/bin", argv, r), EACCES);	/* a directory */
	KT_EXPECT_EQ(proc_count(), 0);
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* Malformed programs.                                                      */

/* /bin/hello's bytes, in a buffer of *len bytes (kfree with M_TEMP). */
static uint8_t *read_hello(size_t *len)
{
	struct file *fp;
	struct vattr va;
	uint8_t *buf;
	size_t done = 0;

	KT_ASSERT_EQ(vfs_open("/bin/hello", O_RDONLY, 0, &fp), 0);
	KT_ASSERT_EQ(vfs_fstat(fp, &va), 0);
	buf = kmalloc(va.va_size, M_TEMP, M_WAITOK);
	KT_ASSERT_EQ(vfs_read(fp, buf, va.va_size, &done), 0);
	KT_ASSERT_EQ(done, va.va_size);
	vfs_close(fp);
	*len = done;
	return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
	struct file *fp;
	size_t done = 0;

	KT_ASSERT_EQ(vfs_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755, &fp),
		     0);
	KT_ASSERT_EQ(vfs_write(fp, data, len, &done), 0);
	vfs_close(fp);
}

/* ELF64 field offsets (System V gABI): header, then program header 0. */
#define E_CLASS	    4
#define E_MACHINE   18
#define E_PHOFF	    32
#define E_PHENTSIZE 54
#define E_PHNUM	    56
#define PH(i, off)  (64 + 56 * (i) + (off))
#define P_TYPE	    0
#define P_OFFSET    8
#define P_VADDR	    16
#define P_FILESZ    32
#define P_MEMSZ	    40

struct elf_damage {
	const char *what;
	size_t off, width;		/* width 0: truncate the file at off */
	uint64_t value;
};

/* Each of these must make exec fail with ENOEXEC (hello's PT_LOADs are
 * program headers 0..3, PT_GNU_STACK is 4). */
static const struct elf_damage damages[] = {
	{ "bad magic", 0, 1, 0x7e },
	{ "32-bit class", E_CLASS, 1, 1 },
	{ "not x86-64", E_MACHINE, 2, 3 },
	{ "wrong phentsize", E_PHENTSIZE, 2, 32 },
	{ "no program headers", E_PHNUM, 2, 0 },
	{ "program headers past the end", E_PHOFF, 8, 1UL << 40 },
	{ "memsz below filesz", PH(1, P_MEMSZ), 8, 16 },
	{ "file bytes past the end", PH(1, P_OFFSET), 8, 1UL << 32 },
	{ "segment in kernel space", PH(1, P_VADDR), 8,
	  0xffff800000401000UL },
	{ "segment wraps around", PH(1, P_MEMSZ), 8, ~0UL - 0x1000 },
	{ "vaddr and offset disagree", PH(1, P_VADDR), 8, 0x401008 },
	{ "an interpreter", PH(4, P_TYPE), 4, 3 },
	{ "two segments on one page", PH(2, P_VADDR), 8, 0x401000 },
	{ "truncated header", 40, 0, 0 },
};

KTEST(user, a_malformed_executable_is_enoexec_and_leaves_nothing)
{
	size_t len;
	uint8_t *good, *bad;
	char *argv[] = { "bad", NULL };
	struct run *r;
	struct vm_object_stats before, after;

	need_programs();
	r = run_alloc();
	good = read_hello(&len);
	bad = kmalloc(len, M_TEMP, M_WAITOK);
	vm_object_get_stats(&before);
	for (size_t i = 0; i < nitems(damages); i++) {
		const struct elf_damage *d = &damages[i];

		memcpy(bad, good, len);
		if (d->width != 0)
			memcpy(bad + d->off, &d->value, d->width);
		write_file("/bad-elf", bad, d->width ? len : d->off);
		ktest_diag("%s", d->what);
		KT_EXPECT_EQ(run("/bad-elf", argv, r), ENOEXEC);
	}
	vm_object_get_stats(&after);
	KT_EXPECT_EQ(after.objects, before.objects);
	KT_EXPECT_EQ(proc_count(), 0);
	/* The undamaged copy runs: the damage was what failed. */
	write_file("/bad-elf", good, len);
	KT_EXPECT_EQ(run("/bad-elf", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_EQ(vfs_unlink("/bad-elf"), 0);
	kfree(bad, M_TEMP);
	kfree(good, M_TEMP);
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* Bad pointers and faults.                                                 */

KTEST(user, bad_pointers_in_system_calls_are_efault)
{
	char *argv[] = { "efault", NULL };
	struct run *r;
	uint64_t calls[SYS_NCALLS], other, before;

	need_programs();
	r = run_alloc();
	syscall_nosys_counts(calls, &other);
	before = calls[400];
	KT_ASSERT_EQ(run("/bin/efault", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_SUBSTR(r->out, "write_kernel_ptr -1 14\n");
	KT_EXPECT_SUBSTR(r->out, "write_dmap_ptr -1 14\n");
	KT_EXPECT_SUBSTR(r->out, "write_unmapped_ptr -1 14\n");
	KT_EXPECT_SUBSTR(r->out, "write_noncanonical_ptr -1 14\n");
	KT_EXPECT_SUBSTR(r->out, "read_kernel_ptr -1 14\n");
	KT_EXPECT_SUBSTR(r->out, "read_dmap_ptr -1 14\n");
	KT_EXPECT_SUBSTR(r->out, "uname_kernel_ptr -1 14\n");
	KT_EXPECT_SUBSTR(r->out, "clock_gettime_kernel_ptr -1 14\n");
	KT_EXPECT_SUBSTR(r->out, "unknown_syscall -1 38\n");
	KT_EXPECT_SUBSTR(r->out, "still_alive 0 0\n");
	syscall_nosys_counts(calls, &other);
	KT_EXPECT_EQ(calls[400], before + 1);
	kfree(r, M_TEMP);
}

struct crash_case {
	const char *mode;
	int sig;
	const char *says;		/* in the kernel's kill message */
};

static const struct crash_case crashes[] = {
	{ "null", SIGSEGV, "read from an unmapped address 0x0" },
	{ "write_text", SIGSEGV, "write to a page that forbids it" },
	{ "exec_stack", SIGSEGV, "execute a page that forbids it" },
	{ "overflow", SIGSEGV, "write to an unmapped address" },
	{ "divide", SIGFPE, "#DE divide error" },
	{ "ud2", SIGILL, "#UD invalid opcode" },
};

KTEST(user, a_fault_kills_only_the_process_with_the_right_signal)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	for (size_t i = 0; i < nitems(crashes); i++) {
		char *argv[] = { "crash", (char *)crashes[i].mode, NULL };

		KT_ASSERT_EQ(run("/bin/crash", argv, r), 0);
		KT_EXPECT_EQ(r->status, W_SIGNALED(crashes[i].sig));
		KT_EXPECT_SUBSTR(r->console, "(crash): killed by ");
		KT_EXPECT_SUBSTR(r->console, signal_name(crashes[i].sig));
		KT_EXPECT_SUBSTR(r->console, crashes[i].says);
	}
	/* The kernel lives on and runs the next program. */
	{
		char *argv[] = { "hello", NULL };

		KT_EXPECT_EQ(run("/bin/hello", argv, r), 0);
		KT_EXPECT_STREQ(r->out, "hello, world\n");
	}
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* fork, vfork, execve, wait4, kill (tests/user/forktest.c).                */

/* Run forktest in mode; its wait status must be 0.  The output in r. */
static void forktest(const char *mode, struct run *r)
{
	char *argv[] = { "forktest", (char *)mode, NULL };

	KT_ASSERT_EQ(run("/bin/forktest", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->console, "");	/* no process was killed */
}

KTEST(user, fork_gives_the_child_its_own_copy_of_every_page)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	forktest("cow", r);
	KT_EXPECT_STREQ(r->out, "child: child data, child heap, child stack\n"
				"child: exit 7\n"
				"parent: parent data, parent heap, parent stack\n");
	kfree(r, M_TEMP);
}

KTEST(user, map_shared_is_shared_with_the_child_and_map_private_is_not)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	forktest("shared", r);
	KT_EXPECT_STREQ(r->out, "child: exit 0\nshared 42 private 1\n");
	kfree(r, M_TEMP);
}

KTEST(user, vfork_exec_and_wait4_return_the_childs_status)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	forktest("vfork", r);
	KT_EXPECT_STREQ(r->out, "vfork child: exit 3\n");
	forktest("exec", r);
	KT_EXPECT_STREQ(r->out, "hello, world\narg 1: from-child\n"
				"exec child: exit 0\n");
	kfree(r, M_TEMP);
}

KTEST(user, wait4_any_reaps_twenty_children_then_says_echild)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	forktest("many", r);
	KT_EXPECT_STREQ(r->out, "reaped 20 sum 210 then errno 10\n");
	forktest("echild", r);
	KT_EXPECT_STREQ(r->out, "wait4 -1 errno 10\nkill -1 errno 3\n"
				"kill bad signal -1 errno 22\n");
	kfree(r, M_TEMP);
}

KTEST(user, kill_ends_a_spinning_child_and_a_sleeping_one)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	forktest("kill", r);
	KT_EXPECT_STREQ(r->out, "kill 0: 0\nkill SIGCHLD: 0\n"
				"spinner: signal 15\nsleeper: signal 9\n");
	kfree(r, M_TEMP);
}

KTEST(user, an_orphan_is_reaped_by_the_kernel)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	forktest("orphan", r);
	KT_EXPECT_STREQ(r->out, "middle: exit 1\n");
	/* The grandchild sleeps 20 ms after its parent is gone; wait for it
	 * (a bound, not a timing claim: 10 s of ticks). */
	for (int i = 0; i < 10 * HZ && proc_count() != 0; i++)
		tsleep(r, 0, "orphan", 1);
	KT_EXPECT_EQ(proc_count(), 0);
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* Descriptors: files, pipes, dup (tests/user/filetest.c).                  */

/* Run filetest in mode; its wait status must be 0.  The output in r. */
static void filetest(const char *mode, struct run *r)
{
	char *argv[] = { "filetest", (char *)mode, NULL };

	KT_ASSERT_EQ(run("/bin/filetest", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->console, "");	/* no process was killed */
}

KTEST(user, file_calls_create_read_seek_list_rename_and_remove)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	filetest("files", r);
	KT_EXPECT_STREQ(r->out,
		"mkdir 0 0\nchdir 0 0\ncwd /ft\nwrite 11 0\nappend 5 0\n"
		"size 16 regular 1\nread 5 0\ntell 5 0\nseek 6 0\n"
		"read 10 0\ngot file\nmore\npread 4 0\ngot hell\n"
		"seek_end 14 0\nseek_negative -1 22\nwrite_rdonly -1 9\n"
		"mkdir_sub 0 0\nmkdir_again -1 17\nopenat 1 0\n"
		"symlink 0 0\nreadlink 5 0\nlink -> a.txt\n"
		"ls /ft: a.txt b.txt link sub/\n"
		"getdents_small -1 22\nrename 0 0\nstat_old -1 2\nstat_new 0 0\nunlink 0 0\n"
		"unlinkat 0 0\nunlink_link 0 0\nrmdir_notempty -1 39\n"
		"unlinkat_dir 0 0\nls /ft:\nchdir_up 0 0\ncwd /\n"
		"rmdir 0 0\nopen_missing -1 2\nopen_kernel_ptr -1 14\n"
		"chdir_file -1 20\ngetcwd_small -1 34\nbad_fd_read -1 9\n");
	kfree(r, M_TEMP);
}

KTEST(user, a_pipe_carries_every_byte_then_eof_and_a_lone_writer_gets_sigpipe)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	filetest("pipe", r);
	KT_EXPECT_STREQ(r->out, "pipe 0 0\neof 0 0\n"
				"bytes 100000 sum 24984601 status 0\n"
				"writer: signal 13\nlseek_pipe -1 29\n");
	kfree(r, M_TEMP);
}

KTEST(user, dup_dup3_and_fcntl_share_the_file_and_keep_cloexec)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	filetest("dup", r);
	KT_EXPECT_STREQ(r->out, "dup 3 dup3 9\ngetfd 1 0\ngetfd_plain 0 0\n"
				"dupfd_min 20 0\ndup3_same -1 22\n"
				"dup_bad -1 9\ndup2_range -1 9\n"
				"through dup3\nafter close 1\n");
	filetest("cloexec", r);
	KT_EXPECT_STREQ(r->out, "fd 3 open\nfd 4 closed\n");
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* Pipes: atomic writes, non-blocking ends (tests/user/pipetest.c).         */

/* Run pipetest in mode; it must exit 0 with no kill message.  Output in
 * r. */
static void pipetest(const char *mode, struct run *r)
{
	char *argv[] = { "pipetest", (char *)mode, NULL };

	KT_ASSERT_EQ(run("/bin/pipetest", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->console, "");
}

/* Three writers, 40 records each of 4096 and 1000 bytes, one reader
 * taking 300 bytes at a time: no record is cut by another's bytes.  And
 * a 1000-byte write that meets 100 bytes of room while a second writer
 * waits to come in after it: it goes in whole (pipetest's
 * atomic_overtake says why a piecemeal one would be cut every time). */
KTEST(user, small_pipe_writes_from_three_writers_never_interleave)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	pipetest("atomic", r);
	KT_EXPECT_STREQ(r->out, "bytes 305760 records 120 cut 0 bad 0 "
				"writers failed 0\n"
				"overtake: runs of a 1, of b 1\n");
	kfree(r, M_TEMP);
}

KTEST(user, nonblocking_pipe_ends_say_eagain_instead_of_waiting)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	pipetest("nonblock", r);
	KT_EXPECT_STREQ(r->out,
		"pipe2 0 0\ngetfl r 0x800\ngetfl w 0x801\n"
		"read_empty -1 11\nfilled 16384, then -1 11 pollout 0\n"
		"write_full -1 11\nread_100 100 0\nsmall_no_room -1 11\n"
		"pollout with 100 free 0\nlarge_what_fits 100 0\n"
		"large_full -1 11\n"
		"drained 16384 of them L 100, then -1 11\npollout empty 1\n"
		"read_no_writer 0 0\ngetfl plain r 0 w 0x1\nsetfl 0 0\n"
		"getfl shared by dup 0x800\nread_empty -1 11\n"
		"getfl after the child cleared it 0\nblocking_read 1 0\n"
		"setfl_w 0 0\ngetfl w 0xc01\nwrite_no_reader -1 32\n"
		"writer: signal 13\npipe2_bad_flag -1 22\n");
	kfree(r, M_TEMP);
}

/* writev's request is the total of its iovecs (pipetest's writev mode):
 * three-iovec records from three writers come out whole and in shape,
 * the overtake case with a writev, a small non-blocking writev all or
 * nothing, a bad iovec EFAULT with nothing written, and readv's and
 * writev's iovcnt and lengths checked. */
KTEST(user, a_small_pipe_writev_is_one_atomic_write_and_iovecs_are_checked)
{
	/* named, so that a failure prints what came instead */
	static const char want[] =
		"writev: bytes 305760 records 120 cut 0 bad 0 "
		"writers failed 0\n"
		"writev overtake: runs of a 1, of b 1\n"
		"getfl w 0x801\nsmall_no_room -1 11\n"
		"large_what_fits 100 0\n"
		"drained 16384 of them L 100, then -1 11\n"
		"small_bad_iovec -1 14\nnothing written -1 11\n"
		"bad_iov_array -1 14\nlarge_bad_iovec 16 0\n"
		"drained 16 of them L 16, then -1 11\n"
		"writev_iovcnt_-1 -1 22\nwritev_iovcnt_1025 -1 22\n"
		"readv_iovcnt_-1 -1 22\nreadv_iovcnt_1025 -1 22\n"
		"writev_null_0 0 0\nreadv_null_0 0 0\n"
		"writev_total_past_ssize_max -1 22\n"
		"readv_total_past_ssize_max -1 22\n"
		"writev_length_-1 -1 22\nwritev_1024 1024 0\n"
		"readv_3 1024 0\nin order 1\n";
	struct run *r;

	need_programs();
	r = run_alloc();
	pipetest("writev", r);
	KT_EXPECT_STREQ(r->out, want);
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* Signals (tests/user/sigtest.c).                                          */

/* Run sigtest in mode; it must exit 0 with no kill message.  Output in r. */
static void sigtest(const char *mode, struct run *r)
{
	char *argv[] = { "sigtest", (char *)mode, NULL };

	KT_ASSERT_EQ(run("/bin/sigtest", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->console, "");
}

KTEST(user, a_handler_runs_and_every_register_comes_back)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	sigtest("handler", r);
	KT_EXPECT_STREQ(r->out, "handled 1 sig 10 from self 1\n"
				"registers survive 1\n"
				"blocked: handled 0 pending 1\n"
				"unblocked: handled 1\nSIGTERM ignored\n"
				"resethand: handled 2 now default 1\n"
				"nested a2b\ncatch SIGKILL -1 errno 22\n"
				"clock_nanosleep 0 0 22\n");
	kfree(r, M_TEMP);
}

KTEST(user, default_actions_end_the_process_and_exec_resets_handlers)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	sigtest("default", r);
	KT_EXPECT_STREQ(r->out, "raise SIGUSR2: signal 12\nabort: signal 6\n"
				"ignored SIGTERM: exit 0\n"
				"execd: SIGUSR2 still ignored\n"
				"exec: signal 10\n");
	kfree(r, M_TEMP);
}

/* Wait (a bound of 30 s of ticks, not a timing claim) until pid sleeps
 * in wmesg, then send it sig. */
static void signal_when_asleep(int pid, const char *wmesg, int sig)
{
	int i;

	for (i = 0; i < 30 * HZ && !proc_sleeping_in(pid, wmesg); i++)
		tsleep(&i, 0, "sigwait", 1);
	KT_EXPECT_TRUE(proc_sleeping_in(pid, wmesg));
	KT_EXPECT_EQ(proc_kill(pid, sig), 0);
}

KTEST(user, a_signal_interrupts_nanosleep_a_pipe_read_and_wait4)
{
	char *argv[] = { "sigtest", "eintr", NULL };
	struct ufile *sink;
	struct run *r;
	int pid = 0;

	need_programs();
	r = run_alloc();
	KT_ASSERT_EQ(run_start("/bin/sigtest", argv, -1, r, &sink, &pid), 0);
	signal_when_asleep(pid, "nanosleep", SIGUSR1);
	signal_when_asleep(pid, "piperd", SIGUSR1);
	signal_when_asleep(pid, "wait", SIGUSR1);
	run_finish(r, sink, pid);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->out, "nanosleep -1 errno 4 handled 1 rem_ok 1\n"
				"restarted read 1 x handled 2\n"
				"wait4 -1 errno 4 handled 3\n"
				"sleeper: signal 9\n");
	kfree(r, M_TEMP);
}

KTEST(user, a_signal_that_lands_on_an_interrupt_restores_every_register)
{
	char *argv[] = { "sigtest", "spin", NULL };
	struct ufile *sink;
	struct run *r;
	int pid = 0, i;

	need_programs();
	r = run_alloc();
	KT_ASSERT_EQ(run_start("/bin/sigtest", argv, -1, r, &sink, &pid), 0);
	for (i = 0; i < 30 * HZ &&
		    !strcontains(ufile_sink_data(sink, NULL), "spinning");
	     i++)
		tsleep(&i, 0, "spinwait", 1);	/* a bound, not a timing claim */
	KT_EXPECT_EQ(proc_kill(pid, SIGUSR1), 0);
	run_finish(r, sink, pid);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->out, "spinning\nrcx and r11 kept 1\n");
	kfree(r, M_TEMP);
}

KTEST(user, sigsuspend_waits_for_a_blocked_signal_and_sigchld_reaches_the_parent)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	sigtest("suspend", r);
	KT_EXPECT_STREQ(r->out, "sigsuspend -1 errno 4 handled 1 sig 10\n"
				"sigchld pending 1\n"
				"sigchld handled 1 sig 17 from child 1\n");
	kfree(r, M_TEMP);
}

KTEST(user, fault_handlers_get_the_address_and_leave_by_siglongjmp)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	sigtest("segv", r);
	KT_EXPECT_STREQ(r->out, "null: sig 11 code 1 addr 0\n"
				"text: sig 11 code 2 at main 1\n"
				"stack: sig 11 code 2 at code 1\n"
				"divide: sig 8\nhandled 4 segv blocked 0\n");
	kfree(r, M_TEMP);
}

KTEST(user, mprotect_and_munmap_of_one_page_change_only_that_page)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	sigtest("maps", r);
	KT_EXPECT_STREQ(r->out, "mprotect: w0 1 w1 0 r1 1 w2 1 w3 1\n"
				"munmap: r0 1 r1 1 r2 0 r3 1 w3 1\n"
				"munmap first: r0 0 r1 1 w3 1\n");
	kfree(r, M_TEMP);
}

/* MAP_FIXED_NOREPLACE (tests/user/fixedmap.c): EEXIST over a mapping,
 * which keeps its contents; no object is left behind by the refusals
 * (a shared one made for the call, the file's reference). */
KTEST(user, map_fixed_noreplace_over_a_mapping_is_eexist_and_maps_a_hole)
{
	char *argv[] = { "fixedmap", NULL };
	struct vm_object_stats before, after;
	struct run *r;

	need_programs();
	r = run_alloc();
	vm_object_get_stats(&before);
	KT_ASSERT_EQ(run("/bin/fixedmap", argv, r), 0);
	vm_object_get_stats(&after);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->out,
		"anon over page 1 -1 17\nshared over all -1 17\n"
		"file over page 0 -1 17\nwith MAP_FIXED too -1 17\n"
		"half over the hole -1 17\ncontents kept 1\n"
		"hole still empty -1 12\ninto the hole 0 0\n"
		"fresh page zero 1\nwritten B\nunaligned -1 22\n"
		"plain MAP_FIXED 0 0\n"
		"replaced page zero 1, others kept 1 1\n");
	KT_EXPECT_STREQ(r->console, "");
	KT_EXPECT_EQ(after.objects, before.objects);
	kfree(r, M_TEMP);
}

KTEST(user, poll_sees_pipes_become_ready_and_ppoll_lets_a_signal_in)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	sigtest("poll", r);
	KT_EXPECT_STREQ(r->out, "empty: 2 in 0 out 4 bad 32\n"
				"a byte: 1 in 1\nwoken: 1 in 1\n"
				"no writer: 1 hup 1\n"
				"ppoll -1 errno 4 handled 1\n");
	kfree(r, M_TEMP);
}

KTEST(user, the_console_answers_termios_and_other_files_are_not_terminals)
{
	char *argv[] = { "ttytest", NULL };
	struct run *r;

	need_programs();
	r = run_alloc();
	KT_ASSERT_EQ(run("/bin/ttytest", argv, r), 0);	/* stdin: console */
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->out, "tcgets 0 0\nbytes past 36 untouched 1\n"
				"icanon 1 echo 1 icrnl 1 verase 127\n"
				"tcsetattr raw 0 0\nnow icanon 0 echo 0\n"
				"tcsetattr back 0 0\nwinsize 0 0\n"
				"rows 24 cols 80\nisatty console 1 0\n"
				"tiocgpgrp -1 25\ntcgets pipe -1 25\n"
				"tcgets file -1 25\ntcgets bad fd -1 9\n"
				"tcgets kernel ptr -1 14\n");
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* Process groups, sessions, and ^C at the console.                        */

/* Run jobtest MODE; once it sleeps in wmesg (if any), type c at the
 * console through its input path, as the UART's bytes go. */
static void jobtest(const char *mode, const char *wmesg, int c,
		    struct run *r)
{
	char *argv[] = { "jobtest", (char *)mode, NULL };
	struct ufile *sink;
	int pid = 0, i;

	KT_ASSERT_EQ(run_start("/bin/jobtest", argv, -1, r, &sink, &pid), 0);
	for (i = 0; wmesg != NULL && i < 30 * HZ &&
		    !proc_sleeping_in(pid, wmesg); i++)
		tsleep(&i, 0, "jobwait", 1);
	if (wmesg != NULL) {
		KT_EXPECT_TRUE(proc_sleeping_in(pid, wmesg));
		tty_input(c);
	}
	run_finish(r, sink, pid);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
}

KTEST(user, ctrl_c_reaches_only_the_foreground_group_and_isig_off_reads_it)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	jobtest("intr", "wait", 0x03, r);
	KT_EXPECT_STREQ(r->out, "tiocsctty 0 0\nforeground is mine 1\n"
				"tcsetpgrp child 1 0\n"
				"foreground child: signal 2\n"
				"tcsetpgrp back 0 0\nhandled 0\n"
				"background child: signal 15\n");
	jobtest("quit", "wait", 0x1c, r);
	KT_EXPECT_STREQ(r->out, "tiocsctty 0 0\nforeground is mine 1\n"
				"tcsetpgrp child 1 0\n"
				"foreground child: signal 3\n"
				"tcsetpgrp back 0 0\nhandled 0\n"
				"background child: signal 15\n");
	jobtest("raw", "ttyin", 0x03, r);
	KT_EXPECT_STREQ(r->out, "tiocsctty 0 0\nforeground is mine 1\n"
				"raw 0 0\nread 1 byte 3 handled 0\nback 0 0\n");
	jobtest("fg", "ttyin", 0x03, r);
	KT_EXPECT_STREQ(r->out, "tiocsctty 0 0\nforeground is mine 1\n"
				"read -1 errno 4 handled 1\n"
				"group member: signal 2\n");
	kfree(r, M_TEMP);
}

KTEST(user, process_groups_and_sessions_follow_linuxs_rules_and_errnos)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	jobtest("groups", NULL, 0, r);
	KT_EXPECT_STREQ(r->out, "leader: pgrp 1 sid 1\n"
				"setpgid into a sibling's group 0 0\n"
				"getpgid 1 1\nkill group 0 0\n"
				"group, first: signal 10\n"
				"group, second: signal 10\n"
				"group, none left: waitpid -1 10\n"
				"outsider: signal 15\n"
				"wait4 0 took mine 1\n"
				"other group: signal 15\nkill 0 0 0\n"
				"handled 1\nmy group: signal 12\n");
	jobtest("errors", NULL, 0, r);
	KT_EXPECT_STREQ(r->out,
		"setsid of a group leader -1 1\n"
		"setpgid of a session leader -1 1\n"
		"setpgid to a negative group -1 22\n"
		"setpgid of no such process -1 3\n"
		"getpgid of no such process -1 3\n"
		"getsid of no such process -1 3\n"
		"kill of an empty group -1 3\n"
		"tiocgpgrp before the console is ours -1 25\n"
		"setpgid of a child in another session -1 1\n"
		"setpgid into another session's group -1 1\n"
		"setpgid into no group -1 1\n"
		"setpgid of a child into a new group 0 0\n"
		"setpgid of a child after execve -1 13\n"
		"tiocsctty by a non-leader -1 1\n"
		"tiocsctty 0 0\nforeground is mine 1\n"
		"tcsetpgrp to no group -1 3\n"
		"tcsetpgrp to another session -1 1\n"
		"tcsetpgrp negative -1 22\ntiocgsid 0 0\nsid is mine 1\n"
		"other session: signal 9\nmoved child: signal 9\n"
		"execed child: signal 9\n");
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* Job control: stopped processes, the terminal's signals, hang-ups.       */

/* Is a process among the few started after pid asleep in wmesg?  (The
 * children of a program the test just started get the next pids.) */
static bool child_sleeping_in(int pid, const char *wmesg)
{
	for (int c = pid + 1; c <= pid + 4; c++)
		if (proc_sleeping_in(c, wmesg))
			return true;
	return false;
}

/* Wait (30 s at most) until pid sleeps in wmesg and, if cwmesg is not
 * NULL, one of its children in cwmesg. */
static bool await_sleep(int pid, const char *wmesg, const char *cwmesg)
{
	for (int i = 0; i < 30 * HZ; i++) {
		if (proc_sleeping_in(pid, wmesg) &&
		    (cwmesg == NULL || child_sleeping_in(pid, cwmesg)))
			return true;
		tsleep(&i, 0, "jobwait", 1);
	}
	return false;
}

/* Run stoptest MODE and wait.  For tstp: type ^Z once the program waits
 * for its child and the child sleeps in its pipe read; once the program
 * reads the console, print ps (the stopped child shows "stop") and type
 * the line it reads.  For sleep (two rounds) and sleepon (three): type a
 * line each time the program reads the console while its child sleeps
 * in nanosleep; for portstop (four), while a child waits in port_domsg
 * ("waitmsg"). */
static void stoptest(const char *mode, struct run *r)
{
	char *argv[] = { "stoptest", (char *)mode, NULL };
	struct ufile *sink;
	int pid = 0;

	KT_ASSERT_EQ(run_start("/bin/stoptest", argv, -1, r, &sink, &pid), 0);
	if (strcmp(mode, "tstp") == 0) {
		KT_EXPECT_TRUE(await_sleep(pid, "wait", "piperd"));
		tty_input(0x1a);		/* ^Z */
		KT_EXPECT_TRUE(await_sleep(pid, "ttyin", NULL));
		proc_print_all();
		tty_input('\r');
	}
	if (strcmp(mode, "sleep") == 0 || strcmp(mode, "sleepon") == 0 ||
	    strcmp(mode, "portstop") == 0) {
		int rounds = strcmp(mode, "sleep") == 0 ? 2 :
			     strcmp(mode, "sleepon") == 0 ? 3 : 4;
		const char *wmesg = strcmp(mode, "portstop") == 0 ? "waitmsg"
								 : "nanosleep";

		for (int round = 0; round < rounds; round++) {
			KT_EXPECT_TRUE(await_sleep(pid, "ttyin", wmesg));
			tty_input('\r');
			/* Until the program has read it: only then is its
			 * next "ttyin" the read after the continue. */
			for (int i = 0; i < 30 * HZ && tty_input_ready(); i++)
				tsleep(&i, 0, "jobwait", 1);
		}
	}
	run_finish(r, sink, pid);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
}

KTEST(user, the_shell_ends_the_echoed_ctrl_c_line_before_killed_by_sigint)
{
	struct run *r = run_alloc();

	console_run = r;
	console_len = 0;
	cons_set_tap(console_tap, NULL);
	print_wait_status(W_SIGNALED(SIGINT));
	print_wait_status(W_SIGNALED(SIGTERM));
	print_wait_status(W_EXITCODE(3));
	cons_set_tap(NULL, NULL);
	KT_EXPECT_STREQ(r->console, "\n  killed by SIGINT\n"
				    "  killed by SIGTERM\n  exit status 3\n");
	kfree(r, M_TEMP);
}

KTEST(user, sigstop_stops_a_process_until_sigcont_and_wait4_reports_both)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	stoptest("stop", r);
	KT_EXPECT_STREQ(r->out,
		"sigstop 0 0\n"
		"stopped, not continued: none\n"
		"wuntraced: stopped 19 status 0x137f\n"
		"sigchld after the stop 1\n"
		"counter still while stopped 1\n"
		"stop reported once: none\n"
		"no continue yet: none\n"
		"sigcont 0 0\n"
		"wcontinued: continued status 0xffff\n"
		"sigchld after the continue 2\n"
		"counter moves after sigcont 1, handler ran 1\n"
		"sigstop again 0 0\n"
		"wuntraced again: stopped 19 status 0x137f\n"
		"sigchld with SA_NOCLDSTOP 2\n"
		"sigkill while stopped 0 0\n"
		"stopped child: signal 9\n");
	stoptest("pending", r);
	KT_EXPECT_STREQ(r->out,
		"after sigcont, sigtstp: cont 0 tstp 1\n"
		"then sigcont: cont 1 tstp 0\n"
		"child: exit 0\n");
	kfree(r, M_TEMP);
}

KTEST(user, nanosleep_stopped_and_continued_sleeps_on_with_the_time_left)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	stoptest("sleep", r);
	KT_EXPECT_STREQ(r->out,
	"stopped: stopped 19 status 0x137f\n"
		"continued: continued status 0xffff\n"
		"nanosleep -1 errno 4 handled 1 most left 1 "
		"not more than asked 1\n"
		"child: exit 0\n");
	kfree(r, M_TEMP);
}

KTEST(user, a_sleep_stopped_and_continued_returns_0_after_the_whole_time)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	stoptest("sleepon", r);
	KT_EXPECT_STREQ(r->out,
	"stopped: stopped 19 status 0x137f\n"
		"continued: continued status 0xffff\n"
		"the stop came during the sleep 1\n"
	"stopped: stopped 19 status 0x137f\n"
		"continued: continued status 0xffff\n"
		"the stop came during the sleep 1\n"
	"stopped: stopped 19 status 0x137f\n"
		"continued: continued status 0xffff\n"
		"the stop came during the sleep 1\n"
		"child: exit 0\n"
		"nanosleep without rem: 0 errno 0, the whole second 1\n"
		"clock_nanosleep: 0 errno 0, the whole second 1\n"
		"clock_nanosleep TIMER_ABSTIME: 0 errno 0, the whole second 1\n");
	kfree(r, M_TEMP);
}

/* Run the kernel shell's command name with the words printf makes;
 * false if the shell has no such command. */
static bool shell_command(const char *name, const char *fmt, ...)
{
	char args[64];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	for (const struct shell_cmd *c = user_shell_commands; c->name; c++)
		if (strcmp(c->name, name) == 0) {
			c->fn(args);
			return true;
		}
	return false;
}

KTEST(user, the_shell_s_kill_signals_by_number_or_name_and_names_each_mistake)
{
	char *argv[] = { "stoptest", "nap", NULL };
	struct ufile *sink;
	struct run *r;
	int pid = 0;

	need_programs();
	r = run_alloc();
	KT_ASSERT_EQ(run_start("/bin/stoptest", argv, -1, r, &sink, &pid), 0);
	KT_EXPECT_TRUE(await_sleep(pid, "nanosleep", NULL));
	KT_EXPECT_TRUE(shell_command("kill", ""));
	shell_command("kill", "%d 15 9", pid);
	shell_command("kill", "abc");
	shell_command("kill", "-%d", pid);
	shell_command("kill", "0");
	shell_command("kill", "%d FOO", pid);
	shell_command("kill", "%d 65", pid);
	shell_command("kill", "%d 0", pid);
	shell_command("kill", "%d SIG", pid);
	shell_command("kill", "99999 KILL");
	KT_EXPECT_TRUE(proc_sleeping_in(pid, "nanosleep"));	/* untouched */
	shell_command("kill", "%d 19", pid);
	KT_EXPECT_TRUE(await_sleep(pid, "stopped", NULL));
	shell_command("kill", "%d sigcont", pid);
	KT_EXPECT_TRUE(await_sleep(pid, "nanosleep", NULL));
	shell_command("kill", "%d Stop", pid);
	KT_EXPECT_TRUE(await_sleep(pid, "stopped", NULL));
	shell_command("kill", "%d SIGCONT", pid);
	KT_EXPECT_TRUE(await_sleep(pid, "nanosleep", NULL));
	shell_command("kill", "%d", pid);
	run_finish(r, sink, pid);
	KT_EXPECT_EQ(r->status, W_SIGNALED(SIGTERM));
	KT_EXPECT_STREQ(r->out, "");
	KT_EXPECT_SUBSTR(r->console, "usage: kill PID [SIGNAL]");
	KT_EXPECT_SUBSTR(r->console, "kill: 'abc' is not a process id");
	KT_EXPECT_SUBSTR(r->console, "' is not a process id");	/* -pid */
	KT_EXPECT_SUBSTR(r->console, "kill: '0' is not a process id");
	KT_EXPECT_SUBSTR(r->console, "kill: 'FOO' is not a signal");
	KT_EXPECT_SUBSTR(r->console, "kill: '65' is not a signal");
	KT_EXPECT_SUBSTR(r->console, "kill: '0' is not a signal");
	KT_EXPECT_SUBSTR(r->console, "kill: 'SIG' is not a signal");
	KT_EXPECT_SUBSTR(r->console, "kill: no process 99999");
	KT_EXPECT_SUBSTR(r->console, "kill: SIGSTOP sent to process");
	KT_EXPECT_SUBSTR(r->console, "kill: SIGCONT sent to process");
	KT_EXPECT_SUBSTR(r->console, "kill: SIGTERM sent to process");
	kfree(r, M_TEMP);
}

/* portstop: each case stops, continues, and ends with one reply. */
static const char portstop_want[] =
	"stopped: stopped 19 status 0x137f\n"
	"continued: continued status 0xffff\n"
	"client: exit 0\n"
	"server: exit 0\n"
	"queued: domsg 0 errno 0, reply error 0 data 42; the server "
	"saw it 1 times, port_reply said 0\n"
	"stopped: stopped 19 status 0x137f\n"
	"continued: continued status 0xffff\n"
	"client: exit 0\n"
	"server: exit 0\n"
	"held: domsg 0 errno 0, reply error 0 data 42; the server "
	"saw it 1 times, port_reply said 0\n";

KTEST(user, a_client_stopped_in_port_domsg_waits_on_for_the_one_reply)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	stoptest("portstop", r);
	KT_EXPECT_STREQ(r->out, portstop_want);
	KT_EXPECT_EQ(uport_count(), 0);
	kfree(r, M_TEMP);
}

KTEST(user, ctrl_z_stops_the_foreground_job_and_its_read_goes_on_after_sigcont)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	stoptest("tstp", r);
	KT_EXPECT_STREQ(r->out,
		"tiocsctty 0 0\n"
		"tcsetpgrp child 0 0\n"
		"after ^Z: stopped 20 status 0x147f\n"
		"tcsetpgrp back 0 0\n"
		"read while it is stopped 1 0\n"
		"sigcont 0 0\n"
		"continued: continued status 0xffff\n"
		"its read went on: exit 0\n");
	KT_EXPECT_SUBSTR(r->console, " stop  ");	/* ps: the child */
	KT_EXPECT_SUBSTR(r->console, "stopped    stoptest");
	kfree(r, M_TEMP);
}

KTEST(user, background_reads_and_tostop_writes_get_sigttin_sigttou_or_eio)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	stoptest("ttin", r);
	KT_EXPECT_STREQ(r->out,
		"tiocsctty 0 0\n"
		"background reader: stopped 21 status 0x157f\n"
		"killed: signal 9\n"
		"reader ignoring sigttin: exit 5\n"
		"tcsetpgrp other 0 0\n"
		"reader in an orphaned group: exit 5\n"
		"tcsetpgrp back 0 0\n"
		"sleeper: signal 9\n");
	stoptest("ttou", r);
	KT_EXPECT_STREQ(r->out,
		"tiocsctty 0 0\n"
		"writer without tostop: exit 0\n"
		"tostop on 0 0\n"
		"writer with tostop: stopped 22 status 0x167f\n"
		"killed: signal 9\n"
		"writer ignoring sigttou: exit 0\n"
		"tostop off 0 0\n"
		"background tcsetattr: stopped 22 status 0x167f\n"
		"killed: signal 9\n"
		"background tcsetpgrp: stopped 22 status 0x167f\n"
		"tcsetpgrp to it 0 0\n"
		"tcsetpgrp in an orphaned group: exit 25\n"
		"tcsetpgrp back 0 0\n"
		"killed: signal 9\n");
	kfree(r, M_TEMP);
}

KTEST(user, orphaned_groups_ignore_terminal_stops_and_hang_ups_reach_them)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	stoptest("orphan", r);
	KT_EXPECT_STREQ(r->out,
		"after sigtstp, sigttin, sigttou: exit 7\n"
		"after sigstop: stopped 19 status 0x137f\n"
		"killed: signal 9\n");
	stoptest("hup", r);
	KT_EXPECT_STREQ(r->out,
		"leader: exit 0\n"
		"foreground member says hup\n");
	stoptest("orphanhup", r);
	KT_EXPECT_STREQ(r->out,
		"link: exit 0\n"
		"stopped member saw CH\n"
		"member: stopped 19 status 0x137f\n"
		"another member: exit 0\n"
		"the stopped one: none\n"
		"killed: signal 9\n");
	kfree(r, M_TEMP);
}

KTEST(user, a_stack_overflow_is_caught_by_a_handler_on_the_alternate_stack)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	sigtest("altstack", r);
	KT_EXPECT_STREQ(r->out, "too small -1 errno 12\nsigaltstack 0\n"
				"overflow caught: on the alternate stack 1, "
				"flags 1\nafter: flags 0 size 65536\n");
	kfree(r, M_TEMP);
}

KTEST(user, small_calls_sendfile_umask_chmod_utimensat_rlimits_and_prctl)
{
	char *argv[] = { "misctest", NULL };
	struct run *r;

	need_programs();
	r = run_alloc();
	KT_ASSERT_EQ(run("/bin/misctest", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->out,
		"mode under umask 027: 640\numask back 23 0\n"
		"hello sendfile\nsendfile 15 0\nsendfile\nsendfile at 6 9 0\n"
		"offset now 15, file offset 15\n"
		"sendfile from a pipe -1 22\nchmod 0 0\nmode 600\n"
		"chown 0 0\nchown missing -1 2\nutimensat 0 0\n"
		"mtime 981173106\nutimensat now 0 0\nmtime recent 1\n"
		"utimensat missing -1 2\ngetrlimit stack 0 0\n"
		"stack 8388608 nofile 64\nraise nofile -1 1\n"
		"lower nofile 0 0\nset name 0 0\nname renamed-program\n"
		"time recent 1\n");
	kfree(r, M_TEMP);
}

static const struct crash_case bad_frames[] = {
	{ "overflow", SIGSEGV, "no room for the SIGSEGV handler's frame" },
	{ "badreturn", SIGSEGV, "outside user space" },
	{ "badstate", SIGSEGV, "sets reserved MXCSR bits" },
};

KTEST(user, a_bad_signal_frame_kills_only_the_process)
{
	char *hello[] = { "hello", NULL };
	struct run *r;

	need_programs();
	r = run_alloc();
	for (size_t i = 0; i < nitems(bad_frames); i++) {
		char *argv[] = { "sigtest", (char *)bad_frames[i].mode, NULL };

		KT_ASSERT_EQ(run("/bin/sigtest", argv, r), 0);
		KT_EXPECT_EQ(r->status, W_SIGNALED(bad_frames[i].sig));
		KT_EXPECT_SUBSTR(r->console, "(sigtest): killed by SIGSEGV");
		KT_EXPECT_SUBSTR(r->console, bad_frames[i].says);
	}
	/* IOPL and IF from the frame were not taken; the bad MXCSR was not
	 * loaded (the process died before it could say so). */
	KT_EXPECT_STREQ(r->out, "iopl 0 if 1 mxcsr 0x1f80\n");
	KT_EXPECT_EQ(run("/bin/hello", hello, r), 0);
	KT_EXPECT_STREQ(r->out, "hello, world\n");
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* User message ports (tests/user/porttest.c, kern/sys_uport.c).            */

/* Run porttest with mode (and arg); its wait status must be 0, nothing
 * killed, and no port or message left behind. */
static void porttest(const char *mode, const char *arg, struct run *r)
{
	char *argv[] = { "porttest", (char *)mode, (char *)arg, NULL };

	KT_ASSERT_EQ(run("/bin/porttest", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->console, "");
	KT_EXPECT_EQ(uport_count(), 0);
}

KTEST(user, port_ping_pong_between_two_processes_counts_every_round_trip)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	porttest("pingpong", "2000", r);
	/* sum of 1..2000 */
	KT_EXPECT_STREQ(r->out, "domsg 2000 round trips, sum 2001000, bad 0\n"
				"async: 101 102 103 104 105 106 107 108\n"
				"server: exit 217\n");	/* 2009 served */
	kfree(r, M_TEMP);
}

KTEST(user, port_abort_takes_back_a_queued_message_and_marks_a_held_one)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	porttest("abort", NULL, r);
	KT_EXPECT_STREQ(r->out, "abort queued: 0\n"
				"reply of A: error 4 aborted 1\n"
				"abort again: -1 errno 2\n"
				"reply of B: order 1 value 2\n"
				"reply of D: order 2 value 4\n"
				"abort held: 0\n"
				"reply of C: error 7 aborted 1\n"
				"server: exit 0\n");
	kfree(r, M_TEMP);
}

KTEST(user, port_calls_refuse_bad_descriptors_addresses_and_ids)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	porttest("errors", NULL, r);
	KT_EXPECT_STREQ(r->out,
		"create_badflags -1 22\nsend_stdout -1 9\nsend_closed -1 9\n"
		"send_negative -1 9\nsend_huge -1 9\n"
		"domsg_kernel_ptr -1 14\ndomsg_null -1 14\n"
		"wait_kernel_ptr -1 14\nwait_badflags -1 22\n"
		"wait_empty -1 11\nreply_unknown -1 2\n"
		"reply_bad_error -1 22\nwaitmsg_unknown -1 2\n"
		"waitmsg_none_yet -1 11\nabort_unknown -1 2\n"
		"read_port -1 9\nclose 0 0\nsend_after_close -1 9\n");
	kfree(r, M_TEMP);
}

KTEST(user, a_port_crosses_fork_and_execve_but_not_with_cloexec)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	porttest("exec", NULL, r);
	/* 10 + 20 + ... : sum of (10 i + 1) for i < 10, then the quit */
	KT_EXPECT_STREQ(r->out, "exec server: 10 replies, sum 460\n"
				"exec server: exit 11\n");
	kfree(r, M_TEMP);
}

KTEST(user, messages_in_flight_when_a_process_exits_are_replied_and_freed)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	porttest("exit", NULL, r);
	KT_EXPECT_STREQ(r->out,
		"domsg to a server that exits: 0 error 32\nserver: exit 0\n"
		"sender: exit 0\norphans replied: 2\n"
		"sender after close: exit 32\n"
		"killed in domsg (queued): signal 9\n");
	kfree(r, M_TEMP);
}

/* A server that never replies cannot make its client unkillable: the
 * client is reaped while the server still holds its message, whose late
 * reply (port_reply says 1) or EPIPE goes nowhere.  A handler keeps the
 * abort-and-wait; a race of kill and reply, or kill and exit, comes out
 * whole either way.  porttest() checks nothing is left. */
KTEST(user, a_signal_that_ends_a_client_ends_its_wait_for_a_held_message)
{
	/* named, so that a failure prints what came instead */
	static const char want[] =
		"sigkill in domsg, then the reply\n"
		"  client while held: signal 9\n"
		"  server: exit 11\n"
		"sigkill in domsg, then the server exits\n"
		"  client while held: signal 9\n"
		"  server: exit 0\n"
		"sigkill in waitmsg, then the reply\n"
		"  client while held: signal 9\n"
		"  server: exit 11\n"
		"sigterm not caught\n"
		"  client while held: signal 15\n"
		"  server: exit 11\n"
		"sigusr1 handled, then sigkill\n"
		"  client while held: signal 9\n"
		"  server: exit 11\n"
		"sigterm, handled\n"
		"  client after the signal: none\n"
		"  server: exit 11\n"
		"  client (1 returned 0, 2 aborted, 4 handled, 8 error 7): "
		"exit 15\n"
		"race: 40 rounds, 40 killed, 20 replied, 20 exited\n";
	struct run *r;

	need_programs();
	r = run_alloc();
	porttest("kill", NULL, r);
	KT_EXPECT_STREQ(r->out, want);
	if (strcmp(r->out, want) != 0)		/* all of it, a line each */
		for (const char *line = r->out, *nl;
		     (nl = strchr(line, '\n')) != NULL; line = nl + 1)
			ktest_diag("%.*s", (int)(nl - line), line);
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* busybox (Debian's busybox-static): tests/busybox/NAME.sh, each compared  */
/* with what the same busybox printed for it on the build host (the        */
/* Makefile runs tools/busybox-expect and puts NAME.out beside NAME.sh).    */

static const char *const bb_scripts[] = { "files", "pipes", "redirect",
					  "tools" };

/* The whole of a small file into buf (NUL-terminated); its length. */
static size_t read_text(const char *path, char *buf, size_t size)
{
	struct file *fp;
	size_t done = 0;

	KT_ASSERT_EQ(vfs_open(path, O_RDONLY, 0, &fp), 0);
	KT_EXPECT_EQ(vfs_read(fp, buf, size - 1, &done), 0);
	vfs_close(fp);
	buf[done] = '\0';
	return done;
}

/* Run /bbtest/name.sh as tools/busybox-expect does on the host: the
 * script on stdin (sh -s), an empty directory as $1, stdout and stderr
 * together, then "exit N".  The output in r->out. */
static void bb_run(const char *name, struct run *r)
{
	char script[64], work[64];
	char *argv[] = { "sh", "-s", work, NULL };
	struct ufile *in, *sink;
	size_t len;
	int pid = 0;

	ksnprintf(script, sizeof(script), "/bbtest/%s.sh", name);
	ksnprintf(work, sizeof(work), "/bbwork/%s", name);
	KT_ASSERT_EQ(vfs_mkdir(work, 0755), 0);
	KT_ASSERT_EQ(ufile_open_vnode(script, O_RDONLY, 0, &in), 0);
	KT_EXPECT_EQ(run_start_in("/bin/busybox", argv, -1, in, r, &sink,
				  &pid), 0);
	ufile_rele(in);
	run_finish(r, sink, pid);
	len = strlen(r->out);
	if ((r->status & 0x7f) == 0)
		ksnprintf(r->out + len, sizeof(r->out) - len, "exit %d\n",
			  (r->status >> 8) & 0xff);
	else
		ksnprintf(r->out + len, sizeof(r->out) - len, "killed by %s\n",
			  signal_name(r->status & 0x7f));
}

KTEST(user, busybox_scripts_print_what_they_print_on_linux)
{
	struct run *r;
	char *expected;
	struct vattr va;

	need_programs();
	if (vfs_stat("/bin/busybox", &va) != 0)
		KT_SKIP("no /bin/busybox on the user disk");
	r = run_alloc();
	expected = kmalloc(OUT_MAX, M_TEMP, M_WAITOK);
	KT_ASSERT_EQ(vfs_mkdir("/bbwork", 0755), 0);
	for (size_t i = 0; i < nitems(bb_scripts); i++) {
		char path[64];

		ktest_diag("tests/busybox/%s.sh", bb_scripts[i]);
		bb_run(bb_scripts[i], r);
		ksnprintf(path, sizeof(path), "/bbtest/%s.out", bb_scripts[i]);
		read_text(path, expected, OUT_MAX);
		KT_EXPECT_STREQ(r->out, expected);
		KT_EXPECT_STREQ(r->console, "");
	}
	kfree(expected, M_TEMP);
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* File mappings (tests/user/maptest.c).                                    */

static void maptest(const char *mode, struct run *r)
{
	char *argv[] = { "maptest", (char *)mode, NULL };

	KT_ASSERT_EQ(run("/bin/maptest", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
}

KTEST(user, map_shared_file_writes_reach_the_file_on_msync_munmap_and_exit)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	maptest("shared", r);
	KT_EXPECT_STREQ(r->out, "mapped reads a\nbefore msync: hello\n"
				"msync 0\nafter msync: hello\nmunmap 0\n"
				"after munmap: world\nchild: exit 0\n"
				"parent sees: child\n"
				"file after both: child\n");
	KT_EXPECT_STREQ(r->console, "");
	kfree(r, M_TEMP);
}

KTEST(user, two_processes_mapping_one_file_share_its_pages_and_a_private_map_shadows_them)
{
	struct vm_object_stats before, after;
	struct run *r;

	need_programs();
	r = run_alloc();
	vm_object_get_stats(&before);
	maptest("two", r);
	vm_object_get_stats(&after);
	KT_EXPECT_STREQ(r->out, "shared sees: child\nprivate sees: child\n"
				"shared sees the private write: aaaaaa\n"
				"child sees: parent\nchild: exit 0\n"
				"file: child parent aaaaaa\n");
	KT_EXPECT_STREQ(r->console, "");
	KT_EXPECT_EQ(after.objects, before.objects);
	KT_EXPECT_EQ(after.pages, before.pages);
	KT_EXPECT_EQ(proc_count(), 0);
	kfree(r, M_TEMP);
}

KTEST(user, sync_writes_back_a_shared_mapping_that_is_still_mapped)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	maptest("sync", r);
	KT_EXPECT_STREQ(r->out, "before sync: synced\nafter sync: synced\n");
	KT_EXPECT_STREQ(r->console, "");
	kfree(r, M_TEMP);
}

/* n bytes of file path at off, as a string (empty on any error). */
static const char *file_bytes(const char *path, uint64_t off, size_t n)
{
	static char buf[32];
	struct file *fp;
	size_t done = 0;

	memset(buf, 0, sizeof(buf));
	if (n < sizeof(buf) && vfs_open(path, O_RDONLY, 0, &fp) == 0) {
		vfs_pread(fp, buf, n, off, &done);
		vfs_close(fp);
	}
	return buf;
}

/* A program stores through a MAP_SHARED mapping and exits with no msync
 * and no munmap; the filesystem is unmounted and mounted again: the
 * bytes were written back and reached the disk (group user's second
 * disk, a fresh HMR filesystem, vblk1). */
KTEST(user, a_shared_mapping_left_at_exit_is_on_the_disk_after_unmount_and_mount)
{
	char *argv[] = { "maptest", "leave", "/um/f", NULL };
	struct run *r;

	need_programs();
	if (blkdev_find("vblk1") == NULL)
		KT_SKIP("needs a second HMR disk (group user)");
	r = run_alloc();
	vfs_mkdir("/um", 0755);
	KT_ASSERT_EQ(vfs_mount("hmr", "vblk1", "/um", 0), 0);
	KT_EXPECT_EQ(run("/bin/maptest", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_EQ(vfs_unmount("/um"), 0);
	KT_ASSERT_EQ(vfs_mount("hmr", "vblk1", "/um", 0), 0);
	KT_EXPECT_STREQ(file_bytes("/um/f", 10, 9), "unmounted");
	KT_EXPECT_STREQ(file_bytes("/um/f", 0, 10), "aaaaaaaaaa");
	KT_EXPECT_EQ(vfs_unlink("/um/f"), 0);
	KT_EXPECT_EQ(vfs_unmount("/um"), 0);
	kfree(r, M_TEMP);
}

/* Wait until sink holds n lines, or the programs are gone. */
static bool wait_lines(struct ufile *sink, int n)
{
	for (int i = 0; i < 30 * HZ; i++) {
		const char *s = ufile_sink_data(sink, NULL);
		int lines = 0;

		for (; *s != '\0'; s++)
			lines += *s == '\n';
		if (lines >= n)
			return true;
		if (proc_count() == 0)
			return false;
		tsleep(&i, 0, "mslines", 1);
	}
	return false;
}

/* maptest clean: between each msync and the next, the test counts the
 * pages written back ("file pages written back" in vmstat). */
KTEST(user, a_second_msync_with_no_store_between_writes_nothing)
{
	char *argv[] = { "maptest", "clean", NULL };
	static const uint64_t want[] = { 1, 0, 1, 2 };
	uint64_t got[nitems(want)] = { 0 };
	struct ufile *in, *go, *sink;
	struct vm_object_stats st;
	struct run *r;
	uint64_t last;
	int pid = 0;

	need_programs();
	r = run_alloc();
	ufile_pipe(&in, &go);
	vm_object_get_stats(&st);
	last = st.cleaned;
	KT_EXPECT_EQ(run_start_in("/bin/maptest", argv, -1, in, r, &sink,
				  &pid), 0);
	ufile_rele(in);
	for (int i = 0; i < (int)nitems(want) && pid > 0; i++) {
		KT_EXPECT_TRUE(wait_lines(sink, i + 1));
		vm_object_get_stats(&st);
		got[i] = st.cleaned - last;
		last = st.cleaned;
		go->f_ops->write(go, "1", 1);
	}
	ufile_rele(go);
	run_finish(r, sink, pid);	/* the console tap ends here */
	for (size_t i = 0; i < nitems(want); i++) {
		ktest_diag("msync %zu wrote %lu pages", i + 1, got[i]);
		KT_EXPECT_EQ(got[i], want[i]);
	}
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->out, "store: msync 0\nno store: msync 0\n"
				"store again: msync 0\ntwo pages: msync 0\n");
	KT_EXPECT_STREQ(r->console, "");
	/* Every store reached the file: the one after the last msync went
	 * back when the mapping went at exit (it must have faulted and
	 * marked its page, which the previous msync had cleaned). */
	KT_EXPECT_STREQ(file_bytes("/mt/clean", 10, 1), "x");
	KT_EXPECT_STREQ(file_bytes("/mt/clean", 20, 1), "y");
	KT_EXPECT_STREQ(file_bytes("/mt/clean", 30, 1), "z");
	KT_EXPECT_STREQ(file_bytes("/mt/clean", 2 * PAGE_SIZE + 30, 1), "z");
	KT_EXPECT_STREQ(file_bytes("/mt/clean", 40, 1), "q");
	KT_EXPECT_EQ(vfs_unlink("/mt/clean"), 0);
	kfree(r, M_TEMP);
}

KTEST(user, a_page_touched_then_unmapped_faults_when_touched_again)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	maptest("again", r);
	KT_EXPECT_STREQ(r->out, "after munmap: signal 11\n");
	kfree(r, M_TEMP);
}

KTEST(user, map_private_file_writes_never_reach_the_file)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	maptest("private", r);
	KT_EXPECT_STREQ(r->out, "mapping: mine\nmsync 0\nfile: aaaa\n"
				"child: exit 0\nparent sees: aaaa\n"
				"file after munmap: aaaa aaaa\n");
	KT_EXPECT_STREQ(r->console, "");
	kfree(r, M_TEMP);
}

KTEST(user, munmap_and_mprotect_of_part_of_a_mapping_change_that_part_only)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	maptest("clip", r);
	KT_EXPECT_STREQ(r->out, "munmap middle 0\nfirst x last x\n"
				"write middle: signal 11\nmprotect first 0\n"
				"write first: signal 11\nwrite last: exit 0\n"
				"after three cuts: z z\n"
				"write cut: signal 11\n");
	kfree(r, M_TEMP);
}

KTEST(user, file_mappings_check_access_and_fault_past_the_end)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	maptest("errors", r);
	KT_EXPECT_STREQ(r->out, "shared_write_rdonly failed 13\n"
				"shared_read_rdonly ok 0\n"
				"private_write_rdonly ok 0\nwronly failed 13\n"
				"bad_fd failed 9\ndirectory failed 19\n"
				"pipe failed 19\nodd_offset failed 22\n"
				"msync_odd -1 22\nmsync_unmapped -1 12\n"
				"read past the end: signal 7\n");
	KT_EXPECT_TRUE(strcontains(r->console, "SIGBUS"));
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* One file for mappings and read/write (tests/user/cachetest.c).           */

/* Run cachetest in mode; it must exit 0 and print exactly want, with
 * nothing on the console, and leave no object or page behind. */
static void cachetest(const char *mode, const char *want)
{
	char *argv[] = { "cachetest", (char *)mode, NULL };
	struct vm_object_stats before, after;
	struct run *r;

	need_programs();
	r = run_alloc();
	vm_object_get_stats(&before);
	KT_ASSERT_EQ(run("/bin/cachetest", argv, r), 0);
	vm_object_get_stats(&after);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->out, want);
	KT_EXPECT_STREQ(r->console, "");
	KT_EXPECT_EQ(after.objects, before.objects);
	KT_EXPECT_EQ(after.pages, before.pages);
	kfree(r, M_TEMP);
}

KTEST(user, a_write_is_seen_at_once_by_a_shared_mapping_holding_the_page)
{
	cachetest("write_map", "mapping reads a\nafter pwrite: fresh\n"
			       "mapping reads a\nafter write: written\n"
			       "file: fresh written\n");
}

KTEST(user, a_store_through_a_shared_mapping_is_seen_at_once_by_read)
{
	cachetest("store_read", "pread: stored\nread: stored\n"
				"across: endaaa\nmsync 0\n"
				"after msync: stored\n");
}

KTEST(user, parent_and_child_see_each_others_writes_through_one_mapping)
{
	cachetest("two", "parent reads a a\nparent sees: kid\n"
			 "child sees: parent\nchild: exit 0\n");
}

KTEST(user, a_pwrite_across_a_page_boundary_reaches_both_pages)
{
	cachetest("boundary", "reads a a\nresident: 01234|56789\n"
			      "half: ABCDE|FGHIJ\nfile: 0123456789\n");
}

KTEST(user, a_write_past_the_end_grows_the_file_under_its_mappings)
{
	cachetest("extend", "size 4112\nhole in the mapping: 0000\n"
			    "hole in the file: 0000\n"
			    "mapping past the old end: beyond\n"
			    "new mapping: far beyond\n");
}

KTEST(user, a_private_mapping_keeps_the_pages_it_wrote_and_sees_the_others)
{
	cachetest("private", "reads a a\nwritten page: mine\n"
			     "unwritten page: news\nmsync 0\nfile: file\n");
}

KTEST(user, ftruncate_zeroes_a_mapped_files_pages_past_the_new_end)
{
	cachetest("truncate", "ftruncate 0\nread 100\n"
			      "mapping past the end: 0000\n"
			      "mapping before it: aa\nftruncate 0\n"
			      "file: 00000000000000\n"
			      "mapping: 00000000000000\nbad: -1 22\n");
}

/* ----------------------------------------------------------------------- */
/* The end of a mapped file (tests/user/eoftest.c).                         */

/* The counts eoftest checks: what the pager did while it ran. */
struct eof_counts {
	uint64_t dropped;	/* the file's resident pages past a new end */
	uint64_t copies;	/* shadows' private copies of those */
	uint64_t past;		/* faults wholly past the end */
};

/*
 * Run eoftest in mode: it must exit 0 and print exactly want, with
 * nothing on the console (a handled SIGBUS kills nobody), leave no
 * process, object or page behind, and the pager must have dropped
 * want_counts->dropped resident pages and ->copies private copies past
 * a new end and failed ->past faults wholly past the end.
 */
static void eoftest(const char *mode, const char *want,
		    const struct eof_counts *want_counts)
{
	char *argv[] = { "eoftest", (char *)mode, NULL };
	struct vm_object_stats before, after;
	struct vnode_pager_stats vbefore, vafter;
	struct run *r;

	need_programs();
	r = run_alloc();
	vm_object_get_stats(&before);
	vnode_pager_get_stats(&vbefore);
	KT_ASSERT_EQ(run("/bin/eoftest", argv, r), 0);
	vm_object_get_stats(&after);
	vnode_pager_get_stats(&vafter);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->out, want);
	KT_EXPECT_STREQ(r->console, "");
	KT_EXPECT_EQ(after.objects, before.objects);
	KT_EXPECT_EQ(after.pages, before.pages);
	KT_EXPECT_EQ(vafter.truncated_pages - vbefore.truncated_pages,
		     want_counts->dropped);
	KT_EXPECT_EQ(vafter.truncated_copies - vbefore.truncated_copies,
		     want_counts->copies);
	KT_EXPECT_EQ(vafter.past_eof - vbefore.past_eof, want_counts->past);
	KT_EXPECT_EQ(proc_count(), 0);
	kfree(r, M_TEMP);
}

KTEST(user, a_mapped_page_past_the_new_end_of_a_file_that_shrank_is_sigbus)
{
	eoftest("shrink", "before: a b c\nftruncate 0\n"
			  "page 2: SIGBUS code 2\npage 1: SIGBUS code 2\n"
			  "page 2 store: SIGBUS code 2\npage 0: a\n"
			  "page 0 store: w\nsize 4096\nftruncate 0\n"
			  "page 2 after growing: 0\nmsync 0\n",
		&(struct eof_counts){ .dropped = 2, .past = 3 });
}

KTEST(user, a_mapping_longer_than_its_file_is_sigbus_past_the_last_page)
{
	eoftest("beyond", "byte 50: a\nbyte 200: 0\nbyte 300 store: w\n"
			  "page 1: SIGBUS code 2\n"
			  "page 2 store: SIGBUS code 2\nmsync 0\nsize 100\n"
			  "read past the end 0\n",
		&(struct eof_counts){ .dropped = 0, .past = 2 });
}

KTEST(user, a_private_mapping_of_a_file_that_shrank_keeps_only_its_own_pages)
{
	eoftest("private", "before: c b\nftruncate 0\n"
			   "page 2: SIGBUS code 2\npage 1: SIGBUS code 2\n"
			   "page 0: m\n",
		&(struct eof_counts){ .dropped = 2, .past = 2 });
}

KTEST(user, a_file_cut_by_one_process_is_sigbus_in_anothers_mapping)
{
	eoftest("other", "child reads c\nftruncate 0\n"
			 "child page 2: SIGBUS code 2\nchild page 0: a\n"
			 "child: exit 0\n",
		&(struct eof_counts){ .dropped = 1, .past = 1 });
}

static uint64_t pages_after_hello(struct run *r);

/* A private mapping's copies past the cut go with the file's pages, in
 * the process that made them and in a child sharing its shadow, and are
 * freed then: the wired page count after the run is what it was. */
KTEST(user, private_copies_past_the_new_end_of_a_file_are_sigbus_and_freed)
{
	struct run *r;
	uint64_t pages;

	need_programs();
	r = run_alloc();
	pages = pages_after_hello(r);
	eoftest("cow", "child sees m n, copies k\nftruncate 0\n"
		       "page 2: SIGBUS code 2\npage 2 store: SIGBUS code 2\n"
		       "page 1: SIGBUS code 2\npage 0: m\n"
		       "offset mapping page 0: SIGBUS code 2\n"
		       "anonymous: z\nchild page 2: SIGBUS code 2\n"
		       "child page 1: SIGBUS code 2\nchild page 0: m\n"
		       "child: exit 0\n",
		&(struct eof_counts){ .dropped = 2, .copies = 3, .past = 6 });
	KT_EXPECT_EQ(pages_after_hello(r), pages);
	kfree(r, M_TEMP);
}

/* Stores and write(2)s to a mapped file, the program exits with no msync:
 * after an unmount and a mount the disk has the write(2) that came after
 * a store to the same bytes (the page's write-back at exit must not put
 * the store back), the store to another page, and the write past the
 * end (group user's second disk, vblk1). */
KTEST(user, stores_and_writes_to_a_mapped_file_are_on_the_disk_in_their_order)
{
	char *argv[] = { "cachetest", "leave", "/uc/f", NULL };
	struct vattr va;
	struct run *r;

	need_programs();
	if (blkdev_find("vblk1") == NULL)
		KT_SKIP("needs a second HMR disk (group user)");
	r = run_alloc();
	vfs_mkdir("/uc", 0755);
	KT_ASSERT_EQ(vfs_mount("hmr", "vblk1", "/uc", 0), 0);
	KT_EXPECT_EQ(run("/bin/cachetest", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->out, "");
	KT_EXPECT_EQ(vfs_unmount("/uc"), 0);
	KT_ASSERT_EQ(vfs_mount("hmr", "vblk1", "/uc", 0), 0);
	KT_EXPECT_STREQ(file_bytes("/uc/f", 8, 10), "aaWRITE!aa");
	KT_EXPECT_STREQ(file_bytes("/uc/f", 4096 + 20, 6), "mapped");
	KT_EXPECT_STREQ(file_bytes("/uc/f", 8192 + 30, 6), "extend");
	KT_EXPECT_EQ(vfs_stat("/uc/f", &va), 0);
	KT_EXPECT_EQ(va.va_size, 8192 + 36);
	KT_EXPECT_EQ(vfs_unlink("/uc/f"), 0);
	KT_EXPECT_EQ(vfs_unmount("/uc"), 0);
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* The system call fuzzer (tests/user/fuzz.c).                              */

/* Run fuzz with seed for count calls: it must end by itself, print its
 * line, and leave no process, port, message or VM object behind. */
static void fuzz(const char *seed, const char *count, struct run *r)
{
	char *argv[] = { "fuzz", (char *)seed, (char *)count, NULL };
	struct vm_object_stats os;
	char want[64];

	KT_ASSERT_EQ(run("/bin/fuzz", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	ksnprintf(want, sizeof(want), "fuzz seed %s: %s calls,", seed, count);
	KT_EXPECT_TRUE(strcontains(r->out, want));
	kprintf("# %s", r->out);	/* its line: how many calls failed */
	if (!strcontains(r->out, want))
		kprintf("# console: %s\n", r->console);
	KT_EXPECT_EQ(proc_count(), 0);
	KT_EXPECT_EQ(uport_count(), 0);
	vfs_drain();
	vm_object_get_stats(&os);
	KT_EXPECT_EQ(os.objects, 0);
}

/* A tenth of the full run, so the user group stays short; the million
 * is the user_fuzz group's. */
KTEST(user, a_seeded_fuzzer_makes_100000_random_calls_and_the_kernel_lives)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	fuzz("1", "100000", r);
	kfree(r, M_TEMP);
}

/* Group user_fuzz: a million calls for each of two seeds (about 10 s of
 * TCG each). */
KTEST(user_fuzz, a_seeded_fuzzer_makes_a_million_random_calls_and_the_kernel_lives)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	fuzz("1", "1000000", r);
	fuzz("2", "1000000", r);
	kfree(r, M_TEMP);
}

KTEST(user, pages_and_objects_return_to_their_start_after_exit)
{
	char *hello[] = { "hello", NULL };
	char *overflow[] = { "crash", "overflow", NULL };
	struct run *r;
	struct vm_object_stats os;
	struct pmap_user_stats ps;
	uint64_t pages;

	need_programs();
	r = run_alloc();
	/* After a first run on every CPU: an exited thread's kernel stack
	 * is freed lazily, at the next exit on its CPU, so one stays parked
	 * on each CPU both times we count (fork's children go to any CPU;
	 * twenty of them visit each). */
	KT_ASSERT_EQ(run_on("/bin/hello", hello, 0, r), 0);
	forktest("many", r);
	vfs_drain();
	pages = vm_page_leak_sample();
	KT_ASSERT_EQ(run_on("/bin/hello", hello, 0, r), 0);
	KT_ASSERT_EQ(run_on("/bin/crash", overflow, 0, r), 0); /* 8 MiB */
	KT_EXPECT_EQ(r->status, W_SIGNALED(SIGSEGV));
	forktest("cow", r);		/* copies of pages, and shadows */
	forktest("shared", r);
	filetest("pipe", r);		/* pipes, files */
	filetest("files", r);
	sigtest("handler", r);		/* signal frames, fork + exec */
	sigtest("default", r);
	vfs_drain();
	KT_EXPECT_EQ(vm_page_leak_sample(), pages);
	vm_object_get_stats(&os);
	pmap_user_get_stats(&ps);
	KT_EXPECT_EQ(os.objects, 0);
	KT_EXPECT_EQ(os.pages, 0);
	KT_EXPECT_EQ(ps.ptpages, 0);
	kfree(r, M_TEMP);
}

KTEST(user, smep_and_smap_are_on_when_the_cpu_has_them)
{
	uint32_t r[4];

	cpuid_count(7, 0, r);
	KT_EXPECT_EQ((rcr4() & CR4_SMEP) != 0, (r[1] & (1U << 7)) != 0);
	KT_EXPECT_EQ((rcr4() & CR4_SMAP) != 0, (r[1] & (1U << 20)) != 0);
	KT_EXPECT_EQ(pmap_have_smap(), (r[1] & (1U << 20)) != 0);
	if (!(r[1] & (1U << 20)))
		KT_SKIP("this CPU has no SMAP (QEMU -cpu max has it)");
}

/* ----------------------------------------------------------------------- */
/* Out of memory (tests/user/oomtest.c; group `oom`, a small machine).      */

/* The pages wired now, after a run on every CPU has parked its thread's
 * stack there (an exited thread's stack is freed at the next exit on its
 * CPU), so that the same count is comparable after the next such runs.
 * A program that works also shows the kernel is fine. */
static uint64_t pages_after_hello(struct run *r)
{
	char *hello[] = { "hello", NULL };

	for (int cpu = 0; cpu < ncpus; cpu++) {
		KT_ASSERT_EQ(run_on("/bin/hello", hello, cpu, r), 0);
		KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	}
	vfs_drain();
	return vm_page_leak_sample();
}

KTEST(user_oom, a_program_that_writes_more_than_memory_is_killed_and_the_kernel_lives)
{
	char *touch[] = { "oomtest", "touch", NULL };
	struct vm_fault_stats before, after;
	struct vm_page_stats st;
	struct run *r;
	uint64_t pages;

	need_programs();
	r = run_alloc();
	pages = pages_after_hello(r);
	vm_fault_get_stats(&before);
	KT_ASSERT_EQ(run_on("/bin/oomtest", touch, 0, r), 0);
	KT_EXPECT_EQ(r->status, W_SIGNALED(SIGKILL));
	KT_EXPECT_SUBSTR(r->console, "(oomtest): killed by SIGKILL: out of "
			 "memory");
	vm_fault_get_stats(&after);
	KT_EXPECT_EQ(after.oom, before.oom + 1);
	vm_page_stats(&st);
	KT_EXPECT_GT(st.user_refusals, 0);
	/* Every page came back, and a program runs as before. */
	KT_EXPECT_EQ(pages_after_hello(r), pages);
	kfree(r, M_TEMP);
}

KTEST(user_oom, malloc_until_memory_is_gone_gets_null_or_a_kill)
{
	char *argv[] = { "oomtest", "malloc", NULL };
	struct run *r;
	uint64_t pages;

	need_programs();
	r = run_alloc();
	pages = pages_after_hello(r);
	KT_ASSERT_EQ(run_on("/bin/oomtest", argv, 0, r), 0);
	KT_EXPECT_TRUE(r->status == W_SIGNALED(SIGKILL) ||
		       r->status == W_EXITCODE(3));
	KT_EXPECT_EQ(pages_after_hello(r), pages);
	kfree(r, M_TEMP);
}

KTEST(user_oom, fork_brk_mmap_and_execve_say_enomem_while_memory_is_short)
{
	char *argv[] = { "oomtest", "exhaust", NULL };
	struct run *r;
	uint64_t pages;

	need_programs();
	r = run_alloc();
	pages = pages_after_hello(r);
	KT_ASSERT_EQ(run_on("/bin/oomtest", argv, 0, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_SUBSTR(r->out, "fork refused after");
	KT_EXPECT_SUBSTR(r->out, "brk refused after");
	KT_EXPECT_SUBSTR(r->out, "mmap refused after");
	KT_EXPECT_SUBSTR(r->out, "execve refused: Out of memory");
	KT_EXPECT_SUBSTR(r->out, "fork works again");
	KT_EXPECT_SUBSTR(r->console, "killed by SIGKILL: out of memory");
	for (const char *line = r->out, *nl; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			break;
		ktest_diag("%.*s", (int)(nl - line), line);
	}
	KT_EXPECT_EQ(pages_after_hello(r), pages);
	kfree(r, M_TEMP);
}

KTEST(user_oom, a_system_call_s_copy_with_no_page_kills_its_process)
{
	char *argv[] = { "oomtest", "copyout", NULL };
	struct run *r;
	uint64_t pages;

	need_programs();
	r = run_alloc();
	pages = pages_after_hello(r);
	KT_ASSERT_EQ(run_on("/bin/oomtest", argv, 0, r), 0);
	KT_EXPECT_EQ(r->status, W_SIGNALED(SIGKILL));
	KT_EXPECT_SUBSTR(r->out, "fork refused after");
	KT_EXPECT_SUBSTR(r->console, "(oomtest): killed by SIGKILL: out of "
			 "memory (a system call's write to");
	KT_EXPECT_EQ(pages_after_hello(r), pages);
	kfree(r, M_TEMP);
}

KTEST(user_oom, the_largest_process_is_killed_for_another_s_fault)
{
	char npages[24];
	char *argv[] = { "oomtest", "hog", npages, NULL };
	struct vm_page_stats st;
	struct run *r;
	uint64_t pages, kills = oom_kill_count();

	need_programs();
	r = run_alloc();
	pages = pages_after_hello(r);
	vm_page_stats(&st);
	ksnprintf(npages, sizeof(npages), "%lu", st.free + st.cached);
	KT_ASSERT_EQ(run_on("/bin/oomtest", argv, 0, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_SUBSTR(r->out, "the hog died of SIGKILL");
	KT_EXPECT_SUBSTR(r->console, "(oomtest): killed by SIGKILL: out of "
			 "memory (the largest process");
	KT_EXPECT_EQ(oom_kill_count(), kills + 1);
	KT_EXPECT_EQ(pages_after_hello(r), pages);
	kfree(r, M_TEMP);
}

/* ----------------------------------------------------------------------- */
/* Sockets from user mode (tests/user/socktest.c; kern/sys_socket.c).      */

/* Run socktest in mode; it must exit 0 with nothing on the console, and
 * leave no socket behind once its connections are over (TIME-WAIT lasts
 * 2 s: wait up to 5 for the count to come back).  Output in r. */
static void socktest(const char *mode, struct run *r)
{
	char *argv[] = { "socktest", (char *)mode, NULL };
	uint64_t before = so_live();

	KT_ASSERT_EQ(run("/bin/socktest", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->console, "");
	for (int t = 0; t < 5 * HZ && so_live() > before; t++)
		tsleep(&before, 0, "socklive", 1);
	KT_EXPECT_EQ(so_live(), before);
}

/* A server and a forked client over 127.0.0.1: 100000 bytes echoed
 * whole, each side's shutdown seen as the other's end of stream. */
KTEST(user, a_forked_client_and_a_server_echo_over_tcp_on_the_loopback)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	socktest("echo", r);
	KT_EXPECT_STREQ(r->out, "client write 100000 0\nclient shutdown 0 0\n"
			"client got 100000 bad 0\n"
			"accept 0 0\npeer 127.0.0.1 len 16\n"
			"server read 100000 then 0\nclient status 0\n");
	kfree(r, M_TEMP);
}

/* UDP: the sender's address with each datagram, a reply to it, a
 * datagram cut to the buffer, EDESTADDRREQ with no destination. */
KTEST(user, udp_sendto_and_recvfrom_carry_the_senders_address)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	socktest("udp", r);
	KT_EXPECT_STREQ(r->out, "bind a 0 0\nbind b 0 0\nsendto 4 0\n"
			"recvfrom 4 0\n"
			"got ping from 127.0.0.1, b's port 1 len 16\n"
			"reply 5 0\nreply pollin 1\nrecv reply 5 0\n"
			"sendto 10 10 0\n"
			"recv cut to 4 4 0\ndontwait empty -1 11\n"
			"send unconnected -1 89\nconnect 0 0\n"
			"send connected 3 0\nread 3 0\n");
	kfree(r, M_TEMP);
}

KTEST(user, getsockname_and_getpeername_agree_across_a_connection)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	socktest("names", r);
	KT_EXPECT_STREQ(r->out, "accept with no address 0 0\n"
			"getpeername 0 0\n"
			"server port 5003, ports agree 1 1, addr 127.0.0.1\n"
			"getsockname cut 0 0\nlen 16, byte 4 untouched 1\n"
			"getpeername listener -1 107\n"
			"connect again -1 106\nrecv 0 bytes 0 0\n"
			"recvfrom tcp 1 0\nlen 0\n");
	kfree(r, M_TEMP);
}

/* SOCK_NONBLOCK: EAGAIN and EINPROGRESS instead of waits; poll says
 * when to go on. */
KTEST(user, nonblocking_sockets_say_eagain_and_einprogress_and_poll_wakes)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	socktest("nonblock", r);
	KT_EXPECT_STREQ(r->out, "getfl nonblock 1\naccept empty -1 11\n"
			"connect -1 115\npollout 1\nso_error 0 0\n"
			"error 0 len 4\nlistener pollin 1\naccept4 0 0\n"
			"read empty -1 11\nwrite 1 0\npollin 1\nread 1 0\n"
			"setfl 0 0\ngetfl after setfl 1\n"
			"accept after setfl -1 11\nsetfl 0 0 0\n"
			"getfl after setfl 0 0\n");
	kfree(r, M_TEMP);
}

KTEST(user, a_connect_to_a_closed_port_is_refused)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	socktest("refused", r);
	KT_EXPECT_STREQ(r->out, "connect -1 111\nnonblocking connect -1 115\n"
			"pollerr 1\nso_error 111\n");
	kfree(r, M_TEMP);
}

/* Every bad argument gets Linux's errno, and nothing panics. */
KTEST(user, bad_socket_arguments_get_linux_errnos)
{
	static const char want[] =
		"socket AF_UNIX -1 97\nsocket type 0 -1 22\n"
		"socket type 15 -1 22\nsocket bad flag -1 22\n"
		"socket seqpacket -1 94\nsocket stream udp -1 93\n"
		"socket dgram udp 0 0\n"
		"bind addrlen 8 -1 22\nbind addrlen 200 -1 22\n"
		"bind bad pointer -1 14\nbind inet6 -1 97\nbind fd 99 -1 9\n"
		"bind pipe -1 88\nbind 0 0\nbind again -1 22\n"
		"bind in use -1 98\nconnect bad pointer -1 14\n"
		"connect pipe -1 88\nlisten udp -1 95\nlisten 0 0\n"
		"accept bad addrlen -1 14\naccept negative addrlen -1 22\n"
		"accept4 bad flags -1 22\naccept fd 99 -1 9\n"
		"shutdown how 7 -1 22\nsendto fd 99 -1 9\n"
		"recvfrom pipe -1 88\nrecv peek -1 95\n"
		"recv unconnected -1 107\nrecv listener -1 107\n"
		"sendto bad buffer -1 14\ngetsockname bad -1 14\n"
		"setsockopt short -1 22\nsetsockopt bad pointer -1 14\n"
		"setsockopt unknown -1 92\ngetsockopt unknown -1 92\n"
		"getsockopt bad len -1 14\n";
	struct run *r;

	need_programs();
	r = run_alloc();
	socktest("errors", r);
	KT_EXPECT_STREQ(r->out, want);
	kfree(r, M_TEMP);
}

KTEST(user, socket_options_rcvtimeo_gives_up_with_eagain)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	socktest("options", r);
	KT_EXPECT_STREQ(r->out, "type 2 len 4\nreuseaddr 0 0\nreuseaddr 1\n"
			"rcvtimeo 0 0\nrcvtimeo 0 250000 len 16\n"
			"recv times out -1 11\naccept times out -1 11\n"
			"nodelay 0 0\nnodelay 1\nnodelay on udp -1 92\n");
	kfree(r, M_TEMP);
}

/* A blocking accept or recv waits in slices (kern/sys_socket.c): a
 * handler's signal ends it with EINTR. */
KTEST(user, a_signal_ends_a_blocking_accept_and_recv_with_eintr)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	socktest("signal", r);
	KT_EXPECT_STREQ(r->out, "accept -1 4\nrecv -1 4\nnagger killed 1\n");
	kfree(r, M_TEMP);
}

KTEST(user, a_write_after_shutdown_is_epipe_and_sigpipe)
{
	struct run *r;

	need_programs();
	r = run_alloc();
	socktest("sigpipe", r);
	KT_EXPECT_STREQ(r->out, "shutdown 0 0\nsend nosignal -1 32\n"
			"writer: signal 13\n");
	kfree(r, M_TEMP);
}

/* Debian's busybox nc, a program written for Linux, talks to itself
 * over the loopback: a listener (which tries AF_INET6 first and falls
 * back to AF_INET on EAFNOSUPPORT) prints what a client sends, the
 * client's end of input reaching it as the end of stream.  The client
 * retries until the listener is up (a refused connect says nothing). */
KTEST(user, busybox_nc_carries_a_line_to_a_listener_over_the_loopback)
{
	char *argv[] = { "sh", "-c",
		"busybox nc -l -p 5010 </dev/null &\n"
		"for i in $(seq 50); do\n"
		"  echo hello over nc | busybox nc 127.0.0.1 5010 && break\n"
		"  sleep 0.1\n"
		"done 2>/dev/null\n"
		"wait; echo done", NULL };
	struct run *r;
	uint64_t before = so_live();

	need_programs();
	r = run_alloc();
	KT_ASSERT_EQ(run("/bin/busybox", argv, r), 0);
	KT_EXPECT_EQ(r->status, W_EXITCODE(0));
	KT_EXPECT_STREQ(r->out, "hello over nc\ndone\n");
	for (int t = 0; t < 5 * HZ && so_live() > before; t++)
		tsleep(&before, 0, "socklive", 1);
	KT_EXPECT_EQ(so_live(), before);
	kfree(r, M_TEMP);
}
