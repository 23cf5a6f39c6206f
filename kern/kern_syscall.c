/*
 * kern_syscall.c - the system call dispatcher and the small calls that
 * need no file of their own.
 *
 * The path of one call, from user mode and back:
 *
 *   user: mov $39, %eax; syscall           (getpid)
 *    -> syscall_entry (user_entry.S): swapgs, kernel stack, user frame
 *    -> syscall_handler(tf): look up sysent[tf->tf_rax], call it with the
 *       six argument registers, store the result (or -Linux errno) in
 *       tf->tf_rax
 *    -> user_return: userret (reschedule? killed?), SYSRET
 *
 * Why Linux's numbers: the programs we run are built by Debian's
 * musl-gcc and Debian's static busybox, whose C libraries speak the
 * Linux x86-64 ABI.  Taking its numbers and structures for the calls we
 * implement means no C library of our own.  The kernel's errno values
 * are BSD's (kern/errno.h), so results are translated on the way out.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/proc.h>
#include <kern/synch.h>
#include <kern/syscall.h>
#include <kern/thread.h>
#include <drivers/rtc.h>
#include <machine/cpufunc.h>
#include <machine/frame.h>
#include <vm/vm_map.h>

#define MSR_FS_BASE  0xc0000100
#define ARCH_SET_FS  0x1002
#define ARCH_GET_FS  0x1003
#define CLOCK_REALTIME	0
#define CLOCK_MONOTONIC 1
#define CLOCK_BOOTTIME	7
#define TIMER_ABSTIME	1
#define NS_PER_SEC	1000000000UL
#define GETRANDOM_MAX	(1 << 20)

static uint64_t nosys_counts[SYS_NCALLS];	/* atomic */
static uint64_t nosys_other;			/* atomic */
static uint64_t calls_made;			/* atomic */

/* ----------------------------------------------------------------------- */
/* errno: BSD values inside, Linux values outside.                         */

int errno_to_linux(int error)
{
	switch (error) {
	case EDEADLK:		return 35;
	case EAGAIN:		return 11;
	case EINPROGRESS:	return 115;
	case EALREADY:		return 114;
	case EMSGSIZE:		return 90;
	case EOPNOTSUPP:	return 95;
	case EADDRINUSE:	return 98;
	case ENETDOWN:		return 100;
	case ENETUNREACH:	return 101;
	case ECONNRESET:	return 104;
	case ENOBUFS:		return 105;
	case ENOTCONN:		return 107;
	case ETIMEDOUT:		return 110;
	case ECONNREFUSED:	return 111;
	case ELOOP:		return 40;
	case ENAMETOOLONG:	return 36;
	case EHOSTUNREACH:	return 113;
	case ENOTEMPTY:		return 39;
	case ENOSYS:		return 38;
	default:		return error;	/* 1..34 are the same */
	}
}

/* ----------------------------------------------------------------------- */
/* Small calls.                                                            */

int64_t sys_exit(struct trapframe *tf, const uint64_t *a)
{
	proc_exit(W_EXITCODE((int)a[0]));
}

static int64_t sys_getpid(struct trapframe *tf, const uint64_t *a)
{
	return curproc->p_pid;
}

static int64_t sys_getppid(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;
	int ppid;

	lwkt_gettoken(&proc_token);
	ppid = p->p_pptr != NULL ? p->p_pptr->p_pid : 1;
	lwkt_reltoken(&proc_token);
	return ppid;
}

/* getuid, geteuid, getgid, getegid: everyone is root for now. */
static int64_t sys_getuid(struct trapframe *tf, const uint64_t *a)
{
	return 0;
}

/* set_tid_address: one thread per process, so the tid is the pid. */
static int64_t sys_set_tid_address(struct trapframe *tf, const uint64_t *a)
{
	return curproc->p_pid;
}

/* arch_prctl: the FS base, which C libraries point at their TLS block. */
static int64_t sys_arch_prctl(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;

	if (a[0] == ARCH_SET_FS) {
		if (a[1] >= VM_MAX_USER_ADDRESS)
			return -EPERM;	/* a kernel or non-canonical base */
		p->p_md.fs_base = a[1];
		wrmsr(MSR_FS_BASE, a[1]);
		return 0;
	}
	if (a[0] == ARCH_GET_FS)
		return -copyout(&p->p_md.fs_base, (void *)a[1], 8);
	return -EINVAL;
}

/* uname: struct utsname, six fields of 65 bytes.  The release names the
 * Linux ABI level implemented, since C libraries compare it. */
static int64_t sys_uname(struct trapframe *tf, const uint64_t *a)
{
	char u[6][65];

	memset(u, 0, sizeof(u));
	strlcpy(u[0], "Damselfly", 65);
	strlcpy(u[1], "damselfly", 65);
	strlcpy(u[2], "6.1.0", 65);
	strlcpy(u[3], "Damselfly " DAMSELFLY_VERSION " (Linux x86-64 ABI)",
		65);
	strlcpy(u[4], "x86_64", 65);
	return -copyout(u, (void *)a[0], sizeof(u));
}

static int64_t sys_clock_gettime(struct trapframe *tf, const uint64_t *a)
{
	uint64_t ns, ts[2];

	switch (a[0]) {
	case CLOCK_REALTIME:
		ns = clock_realtime_ns();
		break;
	case CLOCK_MONOTONIC:
	case CLOCK_BOOTTIME:
		ns = clock_monotonic_ns();
		break;
	default:
		return -EINVAL;
	}
	ts[0] = ns / NS_PER_SEC;
	ts[1] = ns % NS_PER_SEC;
	return -copyout(ts, (void *)a[1], sizeof(ts));
}

/* Sleep ns nanoseconds, in ticks, at least one for any nonzero time.  A
 * signal ends it early: EINTR, and the time left at urem (if not 0). */
static int64_t sleep_for(uint64_t ns, uint64_t urem)
{
	uint64_t start = clock_monotonic_ns(), ticks, left, ts[2];
	int error;

	ticks = (ns + NS_PER_SEC / HZ - 1) / (NS_PER_SEC / HZ);
	if (ticks == 0 || tsleep(&ticks, PCATCH, "nanosleep",
				 (int)MIN(ticks, 1UL << 30)) != EINTR)
		return 0;
	left = ns - MIN(ns, clock_monotonic_ns() - start);
	ts[0] = left / NS_PER_SEC;
	ts[1] = left % NS_PER_SEC;
	if (urem != 0 && (error = copyout(ts, (void *)urem, sizeof(ts))))
		return -error;
	return -EINTR;
}

/* A struct timespec from user memory as nanoseconds (huge ones clamped
 * to 2^33 seconds, 272 years). */
static int timespec_in(uint64_t uts, uint64_t *ns)
{
	uint64_t ts[2];
	int error = copyin((void *)uts, ts, sizeof(ts));

	if (error)
		return error;
	if (ts[1] >= NS_PER_SEC || (int64_t)ts[0] < 0)
		return EINVAL;
	*ns = MIN(ts[0], 1UL << 33) * NS_PER_SEC + ts[1];
	return 0;
}

/* nanosleep(req, rem). */
static int64_t sys_nanosleep(struct trapframe *tf, const uint64_t *a)
{
	uint64_t ns;
	int error = timespec_in(a[0], &ns);

	return error ? -error : sleep_for(ns, a[1]);
}

/* clock_nanosleep(clock, flags, req, rem): CLOCK_REALTIME, _MONOTONIC or
 * _BOOTTIME; with TIMER_ABSTIME req is a time on that clock to sleep
 * until (rem is then left alone, as Linux does). */
static int64_t sys_clock_nanosleep(struct trapframe *tf, const uint64_t *a)
{
	uint64_t ns, now;
	int error;

	if (a[0] == CLOCK_REALTIME)
		now = clock_realtime_ns();
	else if (a[0] == CLOCK_MONOTONIC || a[0] == CLOCK_BOOTTIME)
		now = clock_monotonic_ns();
	else
		return -EINVAL;
	error = timespec_in(a[2], &ns);
	if (error)
		return -error;
	if (a[1] & TIMER_ABSTIME)
		return sleep_for(ns > now ? ns - now : 0, 0);
	return sleep_for(ns, a[3]);
}

static int64_t sys_sched_yield(struct trapframe *tf, const uint64_t *a)
{
	lwkt_yield();
	return 0;
}

static int64_t sys_getrandom(struct trapframe *tf, const uint64_t *a)
{
	uint8_t buf[256];
	size_t len = MIN(a[1], GETRANDOM_MAX), done = 0;

	while (done < len) {
		size_t n = MIN(len - done, sizeof(buf));
		int error;

		user_random_bytes(buf, n);
		error = copyout(buf, (char *)a[0] + done, n);
		if (error)
			return done > 0 ? (int64_t)done : -error;
		done += n;
	}
	return (int64_t)done;
}

/* ----------------------------------------------------------------------- */
/* The table.                                                              */

#define SYSENT(n, f) [n] = { #f, f, false }
#define SYSENT_RAW(n, f) [n] = { #f, f, true }

static const struct sysent sysent[SYS_NCALLS] = {
	SYSENT(0, sys_read),
	SYSENT(1, sys_write),
	SYSENT(2, sys_open),
	SYSENT(3, sys_close),
	SYSENT(4, sys_stat),
	SYSENT(5, sys_fstat),
	SYSENT(6, sys_lstat),
	SYSENT(7, sys_poll),
	SYSENT(8, sys_lseek),
	SYSENT(9, sys_mmap),
	SYSENT(10, sys_mprotect),
	SYSENT(11, sys_munmap),
	SYSENT(12, sys_brk),
	SYSENT(13, sys_rt_sigaction),
	SYSENT(14, sys_rt_sigprocmask),
	SYSENT_RAW(15, sys_rt_sigreturn),
	SYSENT(16, sys_ioctl),
	SYSENT(17, sys_pread64),
	SYSENT(18, sys_pwrite64),
	SYSENT(19, sys_readv),
	SYSENT(20, sys_writev),
	SYSENT(21, sys_access),
	SYSENT(22, sys_pipe),
	SYSENT(24, sys_sched_yield),
	SYSENT(26, sys_msync),
	SYSENT(32, sys_dup),
	SYSENT(33, sys_dup2),
	SYSENT(35, sys_nanosleep),
	SYSENT(39, sys_getpid),
	SYSENT(40, sys_sendfile),
	SYSENT(56, sys_clone),
	SYSENT(57, sys_fork),
	SYSENT(58, sys_fork),		/* vfork: a fork (COW is cheap) */
	SYSENT(59, sys_execve),
	SYSENT(60, sys_exit),
	SYSENT(61, sys_wait4),
	SYSENT(62, sys_kill),
	SYSENT(63, sys_uname),
	SYSENT(72, sys_fcntl),
	SYSENT(74, sys_fsync),
	SYSENT(76, sys_truncate),
	SYSENT(77, sys_ftruncate),
	SYSENT(162, sys_sync),
	SYSENT(79, sys_getcwd),
	SYSENT(80, sys_chdir),
	SYSENT(81, sys_fchdir),
	SYSENT(82, sys_rename),
	SYSENT(83, sys_mkdir),
	SYSENT(84, sys_rmdir),
	SYSENT(87, sys_unlink),
	SYSENT(88, sys_symlink),
	SYSENT(89, sys_readlink),
	SYSENT(90, sys_chmod),
	SYSENT(91, sys_fchmod),
	SYSENT(92, sys_chown),
	SYSENT(93, sys_fchown),
	SYSENT(94, sys_lchown),
	SYSENT(95, sys_umask),
	SYSENT(97, sys_getrlimit),
	SYSENT(102, sys_getuid),
	SYSENT(104, sys_getuid),	/* getgid */
	SYSENT(107, sys_getuid),	/* geteuid */
	SYSENT(108, sys_getuid),	/* getegid */
	SYSENT(109, sys_setpgid),
	SYSENT(110, sys_getppid),
	SYSENT(111, sys_getpgrp),
	SYSENT(112, sys_setsid),
	SYSENT(121, sys_getpgid),
	SYSENT(124, sys_getsid),
	SYSENT(127, sys_rt_sigpending),
	SYSENT(130, sys_rt_sigsuspend),
	SYSENT(131, sys_sigaltstack),
	SYSENT(158, sys_arch_prctl),
	SYSENT(157, sys_prctl),
	SYSENT(160, sys_setrlimit),
	SYSENT(186, sys_getpid),	/* gettid */
	SYSENT(200, sys_tkill),
	SYSENT(201, sys_time),
	SYSENT(217, sys_getdents64),
	SYSENT(218, sys_set_tid_address),
	SYSENT(228, sys_clock_gettime),
	SYSENT(230, sys_clock_nanosleep),
	SYSENT(231, sys_exit),		/* exit_group: one thread */
	SYSENT(234, sys_tgkill),
	SYSENT(257, sys_openat),
	SYSENT(258, sys_mkdirat),
	SYSENT(260, sys_fchownat),
	SYSENT(262, sys_newfstatat),
	SYSENT(263, sys_unlinkat),
	SYSENT(264, sys_renameat),
	SYSENT(266, sys_symlinkat),
	SYSENT(267, sys_readlinkat),
	SYSENT(268, sys_fchmodat),
	SYSENT(269, sys_faccessat),
	SYSENT(271, sys_ppoll),
	SYSENT(273, sys_set_robust_list),
	SYSENT(280, sys_utimensat),
	SYSENT(292, sys_dup3),
	SYSENT(293, sys_pipe2),
	SYSENT(302, sys_prlimit64),
	SYSENT(316, sys_renameat2),
	SYSENT(318, sys_getrandom),
	/* Damselfly's own, above Linux's numbers (uapi/damselfly/port.h) */
	SYSENT(500, sys_port_create),
	SYSENT(501, sys_port_send),
	SYSENT(502, sys_port_domsg),
	SYSENT(503, sys_port_wait),
	SYSENT(504, sys_port_reply),
	SYSENT(505, sys_port_waitmsg),
	SYSENT(506, sys_port_abort),
};

void syscall_handler(struct trapframe *tf)
{
	uint64_t num = tf->tf_rax;
	const uint64_t args[6] = { tf->tf_rdi, tf->tf_rsi, tf->tf_rdx,
				   tf->tf_r10, tf->tf_r8, tf->tf_r9 };
	int64_t rv;

	__atomic_fetch_add(&calls_made, 1, __ATOMIC_RELAXED);
	tf->tf_err = num;	/* kept for a restart after a signal handler */
	if (num < SYS_NCALLS && sysent[num].call != NULL) {
		rv = sysent[num].call(tf, args);
		if (sysent[num].raw)
			return;
	} else {
		__atomic_fetch_add(num < SYS_NCALLS ? &nosys_counts[num]
						    : &nosys_other,
				   1, __ATOMIC_RELAXED);
		rv = -ENOSYS;
	}
	if (rv < 0 && rv > -4096)
		rv = -errno_to_linux((int)-rv);
	tf->tf_rax = (uint64_t)rv;
}

void syscall_nosys_counts(uint64_t *calls, uint64_t *other)
{
	for (int i = 0; i < SYS_NCALLS; i++)
		calls[i] = __atomic_load_n(&nosys_counts[i], __ATOMIC_RELAXED);
	*other = __atomic_load_n(&nosys_other, __ATOMIC_RELAXED);
}

uint64_t syscall_count(void)
{
	return __atomic_load_n(&calls_made, __ATOMIC_RELAXED);
}

void syscall_print_nosys(void)
{
	int shown = 0;

	kprintf("  %lu system calls made\n", syscall_count());
	for (int i = 0; i < SYS_NCALLS; i++) {
		uint64_t n = __atomic_load_n(&nosys_counts[i],
					     __ATOMIC_RELAXED);

		if (n != 0) {
			kprintf("  unimplemented %3d: %lu call%s\n", i, n,
				n == 1 ? "" : "s");
			shown++;
		}
	}
	if (nosys_other != 0)
		kprintf("  beyond the table: %lu calls\n", nosys_other);
	if (shown == 0 && nosys_other == 0)
		kprintf("  no unimplemented call was made\n");
}
