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
 *
 * The contract every call below keeps (Linux's): arguments come in RDI,
 * RSI, RDX, R10, R8, R9 as a[0..5]; the result goes back in RAX, >= 0 on
 * success, -errno on failure, which the C library turns into -1 and
 * errno.  A call never trusts a pointer: copyin/copyout check that it is
 * user memory and return EFAULT for a bad one, so a wrong argument is an
 * error for the program, never a fault of the kernel.
 *
 * Sleeps and signals.  nanosleep and clock_nanosleep sleep until a
 * deadline.  A signal that arrives first ends the sleep with EINTR, and
 * what happens next is Linux's rule: if a handler runs, the program gets
 * EINTR and the time left (rem); if none runs -- the signal stopped the
 * process and SIGCONT continued it, or the signal was ignored by the
 * time it came -- the sleep goes on to the same deadline as if nothing
 * had happened.  The sleep leaves its deadline in the process's restart
 * block (kern/proc.h), and kern_sig.c restarts it through
 * restart_syscall (219), which reads the block:
 *
 *   nanosleep(1 s)  --SIGTSTP-->  EINTR, block {deadline, rem}
 *                                 stopped ... SIGCONT
 *   userret: no handler ran -->   RAX = 219, RIP back over SYSCALL
 *   restart_syscall             -> sleeps until the same deadline -> 0
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

#define MSR_FS_BASE  0xc0000100	/* SDM vol. 4, 2.1: IA32_FS_BASE */
#define ARCH_SET_FS  0x1002	/* arch_prctl codes (Linux asm/prctl.h) */
#define ARCH_GET_FS  0x1003
#define CLOCK_REALTIME	0	/* clock ids (Linux uapi linux/time.h) */
#define CLOCK_MONOTONIC 1
#define CLOCK_BOOTTIME	7
#define TIMER_ABSTIME	1	/* clock_nanosleep flag: req is a time */
#define NS_PER_SEC	1000000000UL
#define NS_PER_TICK	(NS_PER_SEC / HZ)
#define GETRANDOM_MAX	(1 << 20)	/* bytes one getrandom gives at most */

static uint64_t nosys_counts[SYS_NCALLS];	/* atomic */
static uint64_t nosys_other;			/* atomic */
static uint64_t calls_made;			/* atomic */

/* ----------------------------------------------------------------------- */
/* errno: BSD values inside, Linux values outside.                         */

/* Linux's number for a kernel errno.  The first 34 (EPERM .. ERANGE) are
 * the same in both, from the old Unix list; the rest differ and are
 * mapped one by one.  Any thread; never blocks. */
int errno_to_linux(int error)
{
	switch (error) {
	case EDEADLK:		return 35;
	case EAGAIN:		return 11;
	case EINPROGRESS:	return 115;
	case EALREADY:		return 114;
	case ENOTSOCK:		return 88;
	case EDESTADDRREQ:	return 89;
	case EMSGSIZE:		return 90;
	case ENOPROTOOPT:	return 92;
	case EPROTONOSUPPORT:	return 93;
	case ESOCKTNOSUPPORT:	return 94;
	case EOPNOTSUPP:	return 95;
	case EAFNOSUPPORT:	return 97;
	case EADDRINUSE:	return 98;
	case ENETDOWN:		return 100;
	case ENETUNREACH:	return 101;
	case ECONNRESET:	return 104;
	case ENOBUFS:		return 105;
	case EISCONN:		return 106;
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

/* exit(status): end the process with status & 0xff as its exit code
 * (wait4 sees W_EXITCODE).  Never returns; cannot fail. */
int64_t sys_exit(struct trapframe *tf, const uint64_t *a)
{
	proc_exit(W_EXITCODE((int)a[0]));
}

/* getpid(): the caller's process id.  Cannot fail. */
static int64_t sys_getpid(struct trapframe *tf, const uint64_t *a)
{
	return curproc->p_pid;
}

/* getppid(): the parent's pid; 1 when the parent is the kernel or has
 * exited (Linux then names init, which adopts orphans).  Cannot fail. */
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

/* set_tid_address(tidptr): where a thread library wants its tid cleared
 * at exit.  One thread per process, so only the tid (the pid) is
 * returned; nothing is kept. */
static int64_t sys_set_tid_address(struct trapframe *tf, const uint64_t *a)
{
	return curproc->p_pid;
}

/* arch_prctl(code, addr): ARCH_SET_FS sets the FS base, which C
 * libraries point at their TLS block (EPERM for a kernel or
 * non-canonical address, which WRMSR would take or #GP on);
 * ARCH_GET_FS stores it at addr (EFAULT).  Other codes: EINVAL. */
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

/* uname(buf): struct utsname, six fields of 65 bytes (system, node,
 * release, version, machine, domain).  The release names the Linux ABI
 * level implemented, since C libraries compare it.  EFAULT. */
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

/* The time on clock in ns: true, or false for a clock we do not have.
 * CLOCK_BOOTTIME is CLOCK_MONOTONIC: the machine never suspends. */
static bool clock_read(uint64_t clock, uint64_t *ns)
{
	if (clock == CLOCK_REALTIME)
		*ns = clock_realtime_ns();
	else if (clock == CLOCK_MONOTONIC || clock == CLOCK_BOOTTIME)
		*ns = clock_monotonic_ns();
	else
		return false;
	return true;
}

/* Store ns as a struct timespec { tv_sec, tv_nsec } at uts: 0 or EFAULT. */
static int timespec_out(uint64_t ns, uint64_t uts)
{
	uint64_t ts[2] = { ns / NS_PER_SEC, ns % NS_PER_SEC };

	return copyout(ts, (void *)uts, sizeof(ts));
}

/* clock_gettime(clock, ts): the time on CLOCK_REALTIME (wall time from
 * the RTC at boot, advanced by the TSC), CLOCK_MONOTONIC or
 * CLOCK_BOOTTIME (since boot) into ts.  EINVAL for another clock,
 * EFAULT. */
static int64_t sys_clock_gettime(struct trapframe *tf, const uint64_t *a)
{
	uint64_t ns;

	if (!clock_read(a[0], &ns))
		return -EINVAL;
	return -timespec_out(ns, a[1]);
}

/* ----------------------------------------------------------------------- */
/* Sleeping: nanosleep, clock_nanosleep, restart_syscall.                  */

/*
 * A sleep that a signal ended before its deadline: leave the restart
 * block (for a restart if no handler runs, kern_sig.c), write the time
 * left at urem if there is one, and return EINTR -- or EFAULT if urem
 * cannot be written.  Own thread.
 */
static int64_t sleep_interrupted(const struct trapframe *tf, int clock,
				 uint64_t deadline, uint64_t urem)
{
	struct proc *p = curproc;
	uint64_t now = 0;
	int error;

	p->p_restart.rb_call = tf->tf_err;	/* syscall_handler's number */
	p->p_restart.rb_clock = clock;
	p->p_restart.rb_deadline = deadline;
	p->p_restart.rb_urem = urem;
	clock_read((uint64_t)clock, &now);
	if (urem != 0) {
		error = timespec_out(deadline - MIN(deadline, now), urem);
		if (error)
			return -error;
	}
	return -EINTR;
}

/*
 * Sleep until clock reads deadline (ns): 0 once it does, never earlier.
 * tsleep counts whole ticks, and a tick may come a little before the
 * clock has moved a whole tick on, so the loop reads the clock again and
 * sleeps at least one more tick while the deadline is ahead.  A signal
 * ends it first: sleep_interrupted (EINTR, or EFAULT for a bad urem).
 * Own thread; blocks, interruptibly (PCATCH).
 */
static int64_t sleep_until(const struct trapframe *tf, int clock,
			   uint64_t deadline, uint64_t urem)
{
	uint64_t now, ticks;

	while (clock_read((uint64_t)clock, &now) && now < deadline) {
		ticks = (deadline - now + NS_PER_TICK - 1) / NS_PER_TICK;
		if (tsleep(&ticks, PCATCH, "nanosleep",
			   (int)MIN(ticks, 1UL << 30)) == EINTR)
			return sleep_interrupted(tf, clock, deadline, urem);
	}
	return 0;
}

/* A struct timespec from user memory as nanoseconds (huge ones clamped
 * to 2^33 seconds, 272 years).  EFAULT; EINVAL for tv_nsec outside
 * 0..999,999,999 or a negative tv_sec (Linux's checks). */
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

/*
 * nanosleep(req, rem): sleep for the time req gives, on the monotonic
 * clock.  0 after at least that long.  A signal with a handler ends it
 * early: EINTR, and the time left at rem (if not NULL).  A stop and a
 * continue do not end it (restart_syscall goes on).  EFAULT, EINVAL
 * (timespec_in).
 */
static int64_t sys_nanosleep(struct trapframe *tf, const uint64_t *a)
{
	uint64_t ns;
	int error = timespec_in(a[0], &ns);

	if (error)
		return -error;
	return sleep_until(tf, CLOCK_MONOTONIC, clock_monotonic_ns() + ns,
			   a[1]);
}

/*
 * clock_nanosleep(clock, flags, req, rem): as nanosleep, with a clock:
 * CLOCK_REALTIME, _MONOTONIC or _BOOTTIME (EINVAL for others).  With
 * TIMER_ABSTIME req is a time on that clock to sleep until -- already
 * past: 0 at once -- and rem is left alone, as Linux does: a restart
 * sleeps until the same time.  A relative sleep counts on the monotonic
 * clock whatever the clock named, so setting the wall time does not
 * stretch it.
 */
static int64_t sys_clock_nanosleep(struct trapframe *tf, const uint64_t *a)
{
	uint64_t ns, now;
	int error;

	if (!clock_read(a[0], &now))
		return -EINVAL;
	error = timespec_in(a[2], &ns);
	if (error)
		return -error;
	if (a[1] & TIMER_ABSTIME)
		return sleep_until(tf, (int)a[0], ns, 0);
	return sleep_until(tf, CLOCK_MONOTONIC, clock_monotonic_ns() + ns,
			   a[3]);
}

/*
 * restart_syscall(): the kernel's, not a program's -- kern_sig.c points
 * a sleep that a stop (or an ignored signal) ended back at the SYSCALL
 * instruction with this number, and it goes on sleeping until the
 * deadline the sleep left in the restart block, writing rem again if
 * it is ended a second time.  With no block (a program made the call
 * itself, or a handler ran since): EINTR, as on Linux.
 */
static int64_t sys_restart_syscall(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;
	struct restart_block rb = p->p_restart;

	p->p_restart.rb_call = 0;		/* used once */
	if (rb.rb_call == 0)
		return -EINTR;
	return sleep_until(tf, rb.rb_clock, rb.rb_deadline, rb.rb_urem);
}

/* ----------------------------------------------------------------------- */
/* Scheduling and randomness.                                              */

/* sched_yield(): let another thread of this CPU run first.  Always 0. */
static int64_t sys_sched_yield(struct trapframe *tf, const uint64_t *a)
{
	lwkt_yield();
	return 0;
}

/*
 * getrandom(buf, len, flags): len unpredictable bytes into buf, at most
 * 1 MiB a call (Linux caps a call too); flags are not looked at: the
 * source never blocks.  The number of bytes written; EFAULT only if not
 * one could be written (else the count so far, as Linux).
 */
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

/*
 * sysent[n] is the call with Linux's number n, or empty (ENOSYS).  A
 * RAW call sets every register itself (rt_sigreturn loads a whole saved
 * frame), so the dispatcher must not store a result over RAX.  The
 * comments name what a number stands for where one function serves
 * several (Linux keeps old and new names of some calls).
 */

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
	SYSENT(41, sys_socket),
	SYSENT(42, sys_connect),
	SYSENT(43, sys_accept),
	SYSENT(44, sys_sendto),
	SYSENT(45, sys_recvfrom),
	SYSENT(48, sys_shutdown),
	SYSENT(49, sys_bind),
	SYSENT(50, sys_listen),
	SYSENT(51, sys_getsockname),
	SYSENT(52, sys_getpeername),
	SYSENT(54, sys_setsockopt),
	SYSENT(55, sys_getsockopt),
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
	SYSENT(219, sys_restart_syscall),	/* the kernel's own restart */
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
	SYSENT(288, sys_accept4),
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

/*
 * The dispatcher, called by syscall_entry with the user's registers in
 * tf.  The number is kept in tf_err for the rest of the call's life:
 * kern_sig.c needs it to restart the call after a handler (SA_RESTART)
 * or a stop, when RAX already holds the result.  A result in
 * -4095..-1 is an error and is turned into Linux's errno value; any
 * other is passed through (mmap's addresses are large positive
 * numbers).  Own thread, interrupts on; blocks if the call does.
 */
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

/* ----------------------------------------------------------------------- */
/* Counters: which numbers programs asked for that we do not have.        */

/* Copy the ENOSYS counts per number, and those beyond the table.  Any
 * thread; the counts are read one by one, not as one snapshot. */
void syscall_nosys_counts(uint64_t *calls, uint64_t *other)
{
	for (int i = 0; i < SYS_NCALLS; i++)
		calls[i] = __atomic_load_n(&nosys_counts[i], __ATOMIC_RELAXED);
	*other = __atomic_load_n(&nosys_other, __ATOMIC_RELAXED);
}

/* System calls made since boot, all numbers.  Any thread. */
uint64_t syscall_count(void)
{
	return __atomic_load_n(&calls_made, __ATOMIC_RELAXED);
}

/* The shell's `syscalls`: the count of calls, then each number that
 * returned ENOSYS and how often -- the list of what a program wanted
 * that is still missing. */
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
