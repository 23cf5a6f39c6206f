/*
 * sigtest.c - signals, one behaviour per argument, for
 * tests/kern/user_test.c.  Each mode prints lines the test compares.
 *
 *   handler   a handler runs with siginfo; every register and the SSE
 *             state come back after it; blocking, sigpending, SIG_IGN,
 *             SA_RESETHAND, a handler that raises another signal
 *   default   children ended by default actions (WIFSIGNALED/WTERMSIG),
 *             abort(), SIGKILL cannot be caught, exec resets handlers
 *   execd     (run by default through execve) raise the signals whose
 *             actions exec had to reset or keep
 *   eintr     sleeps the kernel test interrupts with SIGUSR1: nanosleep
 *             (EINTR), a pipe read with SA_RESTART (restarted), wait4
 *             (EINTR)
 *   suspend   rt_sigsuspend waits for a blocked signal; SIGCHLD reaches
 *             a parent that catches it
 *   segv      SIGSEGV and SIGFPE handlers get the fault's siginfo and
 *             leave by siglongjmp
 *   overflow  a SIGSEGV handler with no stack left: killed, with a message
 *   altstack  the same handler on a sigaltstack: it runs, and leaves by
 *             siglongjmp
 *   badreturn a handler makes the saved RIP non-canonical: killed (IRETQ
 *             would fault in the kernel)
 *   maps      mprotect and munmap of one page inside a mapping touch that
 *             page only (probed with a SIGSEGV handler)
 *   poll      poll and ppoll on pipes: readiness, a blocking wait woken by
 *             a write, POLLHUP, POLLNVAL, ppoll's mask letting a signal in
 *   spin      a signal arriving on an interrupt while it spins: RCX and
 *             R11 survive the handler
 *   badstate  a handler writes IOPL 3 and a cleared IF into its frame:
 *             neither takes effect; then reserved MXCSR bits:
 *             killed (FXRSTOR would fault on them)
 */
#define _GNU_SOURCE		/* REG_RIP and friends */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

int main(int argc, char **argv);

static volatile int handled, last_sig, last_code, last_pid;
static volatile uintptr_t last_addr;
static volatile char order[16];
static volatile int norder;

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	handled++;
	last_sig = sig;
	last_code = si->si_code;
	last_pid = si->si_pid;
	last_addr = (uintptr_t)si->si_addr;
	if (norder < (int)sizeof(order) - 1)
		order[norder++] = (char)('0' + sig % 10);
}

static void catch(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | flags;
	sigaction(sig, &sa, NULL);
}

/* A handler that wipes the registers a C function may use. */
static void clobber(int sig)
{
	handled++;
	__asm__ volatile("pxor %%xmm0, %%xmm0\n\t"
			 "pxor %%xmm7, %%xmm7\n\t"
			 "xorl %%edx, %%edx\n\t"
			 "xorl %%r8d, %%r8d\n\t"
			 "xorl %%r9d, %%r9d\n\t"
			 "xorl %%r10d, %%r10d\n\t"
			 "xorl %%r11d, %%r11d"
			 ::: "xmm0", "xmm7", "rdx", "r8", "r9", "r10", "r11");
}

/*
 * tkill(self, SIGUSR1) with known values in the registers the handler
 * wipes; 1 if all of them came back.  RCX and R11 are SYSCALL's.
 */
static int registers_survive(void)
{
	uint64_t rdx = 0x1111, r8 = 0x2222, r9 = 0x3333, r10 = 0x4444;
	uint64_t x0 = 0x5555, x7 = 0x6666, pid = (uint64_t)getpid();

	__asm__ volatile("movq %[x0], %%xmm0\n\t"
			 "movq %[x7], %%xmm7\n\t"
			 "movl $200, %%eax\n\t"		/* tkill */
			 "movl $10, %%esi\n\t"		/* SIGUSR1 */
			 "syscall\n\t"
			 "movq %%xmm0, %[x0]\n\t"
			 "movq %%xmm7, %[x7]"
			 : [x0] "+r"(x0), [x7] "+r"(x7), "+d"(rdx), "+r"(r8),
			   "+r"(r9), "+r"(r10), "+D"(pid)
			 :
			 : "rax", "rsi", "rcx", "r11", "xmm0", "xmm7",
			   "memory");
	return rdx == 0x1111 && r8 == 0x2222 && r9 == 0x3333 &&
	       r10 == 0x4444 && x0 == 0x5555 && x7 == 0x6666;
}

static void raise_usr2(int sig)
{
	order[norder++] = 'a';
	raise(SIGUSR2);
	order[norder++] = 'b';
}

static int mode_handler(void)
{
	struct sigaction sa, old;
	sigset_t set, pending;
	int r;

	catch(SIGUSR1, 0);
	raise(SIGUSR1);
	dprintf(1, "handled %d sig %d from self %d\n", handled, last_sig,
		last_pid == getpid());

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = clobber;
	sigaction(SIGUSR1, &sa, NULL);
	dprintf(1, "registers survive %d\n", registers_survive());

	catch(SIGUSR1, 0);
	handled = 0;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	raise(SIGUSR1);
	sigpending(&pending);
	dprintf(1, "blocked: handled %d pending %d\n", handled,
		sigismember(&pending, SIGUSR1));
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	dprintf(1, "unblocked: handled %d\n", handled);

	signal(SIGTERM, SIG_IGN);
	raise(SIGTERM);
	dprintf(1, "SIGTERM ignored\n");

	catch(SIGUSR2, SA_RESETHAND);
	raise(SIGUSR2);
	sigaction(SIGUSR2, NULL, &old);
	dprintf(1, "resethand: handled %d now default %d\n", handled,
		old.sa_handler == SIG_DFL);

	/* A handler raising another signal: it runs inside the first. */
	norder = 0;
	catch(SIGUSR2, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = raise_usr2;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	order[norder] = 0;
	dprintf(1, "nested %s\n", (const char *)order);

	errno = 0;
	r = sigaction(SIGKILL, &sa, NULL);
	dprintf(1, "catch SIGKILL %d errno %d\n", r, errno);

	{	/* clock_nanosleep: an absolute time past, 1 ms, a bad clock */
		struct timespec past = { 0, 0 }, ms = { 0, 1000000 };

		dprintf(1, "clock_nanosleep %d %d %d\n",
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past,
					NULL),
			clock_nanosleep(CLOCK_REALTIME, 0, &ms, NULL),
			clock_nanosleep(99, 0, &ms, NULL));
	}
	return 0;
}

/* Fork a child that runs fn; its wait status. */
static int child_status(void (*fn)(void))
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		fn();
		_exit(0);
	}
	waitpid(pid, &status, 0);
	return status;
}

static void die_usr2(void)
{
	raise(SIGUSR2);
}

static void die_abort(void)
{
	abort();
}

static void ignore_term(void)
{
	signal(SIGTERM, SIG_IGN);
	kill(getpid(), SIGTERM);
}

static void exec_after_setup(void)
{
	char *argv[] = { "sigtest", "execd", NULL };

	catch(SIGUSR1, 0);		/* exec resets it: USR1 kills */
	signal(SIGUSR2, SIG_IGN);	/* exec keeps it: USR2 ignored */
	execve("/bin/sigtest", argv, NULL);
	_exit(99);
}

static void print_status(const char *what, int status)
{
	if (WIFSIGNALED(status))
		dprintf(1, "%s: signal %d\n", what, WTERMSIG(status));
	else
		dprintf(1, "%s: exit %d\n", what, WEXITSTATUS(status));
}

static int mode_default(void)
{
	print_status("raise SIGUSR2", child_status(die_usr2));
	print_status("abort", child_status(die_abort));
	print_status("ignored SIGTERM", child_status(ignore_term));
	print_status("exec", child_status(exec_after_setup));
	return 0;
}

static int mode_execd(void)
{
	raise(SIGUSR2);
	dprintf(1, "execd: SIGUSR2 still ignored\n");
	raise(SIGUSR1);
	dprintf(1, "execd: SIGUSR1 was caught\n");
	return 0;
}

static int pipe_w = -1;

/* A handler that feeds the read it interrupted. */
static void write_byte(int sig)
{
	handled++;
	write(pipe_w, "x", 1);
}

static void sleep_forever(void)
{
	struct timespec ts = { 1000, 0 };

	for (;;)
		nanosleep(&ts, NULL);
}

/* The kernel test sends SIGUSR1 each time this sleeps: in nanosleep, in
 * a pipe read, in wait4. */
static int mode_eintr(void)
{
	struct timespec ts = { 1000, 0 }, rem = { 0, 0 };
	struct sigaction sa;
	int fds[2], r, status = 0;
	char c = '?';
	pid_t pid;

	catch(SIGUSR1, 0);
	r = nanosleep(&ts, &rem);
	dprintf(1, "nanosleep %d errno %d handled %d rem_ok %d\n", r, errno,
		handled, rem.tv_sec > 900 && rem.tv_sec <= 1000);

	pipe(fds);
	pipe_w = fds[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = write_byte;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	r = (int)read(fds[0], &c, 1);
	dprintf(1, "restarted read %d %c handled %d\n", r, c, handled);

	catch(SIGUSR1, 0);
	pid = fork();
	if (pid == 0)
		sleep_forever();
	errno = 0;
	r = (int)syscall(SYS_wait4, pid, &status, 0, NULL);
	dprintf(1, "wait4 %d errno %d handled %d\n", r, errno, handled);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	print_status("sleeper", status);
	return 0;
}

/* rt_sigsuspend, and SIGCHLD to a parent that catches it. */
static int mode_suspend(void)
{
	sigset_t block, empty, pending;
	int status, r;
	pid_t pid;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, NULL);
	catch(SIGUSR1, 0);
	catch(SIGCHLD, 0);
	pid = fork();
	if (pid == 0) {
		kill(getppid(), SIGUSR1);
		sleep_forever();
	}
	sigemptyset(&empty);
	r = sigsuspend(&empty);
	dprintf(1, "sigsuspend %d errno %d handled %d sig %d\n", r, errno,
		handled, last_sig);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	sigpending(&pending);
	dprintf(1, "sigchld pending %d\n", sigismember(&pending, SIGCHLD));
	handled = 0;
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	dprintf(1, "sigchld handled %d sig %d from child %d\n", handled,
		last_sig, last_pid == pid);
	return 0;
}

static sigjmp_buf fault_jb;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	on_signal(sig, si, uc);
	siglongjmp(fault_jb, 1);
}

static volatile int zero;

static int mode_segv(void)
{
	struct sigaction sa;
	sigset_t cur;
	unsigned char code[16] = { 0xc3 };		/* ret */

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	if (sigsetjmp(fault_jb, 1) == 0)
		*(volatile int *)0 = 1;
	dprintf(1, "null: sig %d code %d addr %lu\n", last_sig, last_code,
		(unsigned long)last_addr);
	if (sigsetjmp(fault_jb, 1) == 0)
		*(volatile char *)(void *)main = 0;
	dprintf(1, "text: sig %d code %d at main %d\n", last_sig, last_code,
		last_addr == (uintptr_t)(void *)main);
	if (sigsetjmp(fault_jb, 1) == 0)
		((void (*)(void))(void *)code)();
	dprintf(1, "stack: sig %d code %d at code %d\n", last_sig, last_code,
		last_addr == (uintptr_t)code);
	if (sigsetjmp(fault_jb, 1) == 0)
		__asm__ volatile("divl %2" : : "a"(1), "d"(0), "r"(zero));
	dprintf(1, "divide: sig %d\n", last_sig);
	sigprocmask(SIG_BLOCK, NULL, &cur);
	dprintf(1, "handled %d segv blocked %d\n", handled,
		sigismember(&cur, SIGSEGV));
	return 0;
}

/* Can p be read (write 0) or written (write 1)?  A SIGSEGV handler
 * (on_fault, installed by the caller) says no. */
static int probe(volatile char *p, int write)
{
	if (sigsetjmp(fault_jb, 1) != 0)
		return 0;
	if (write)
		*p = 1;
	else
		(void)*p;
	return 1;
}

/* mprotect and munmap of a page in the middle of a mapping change that
 * page only (the map entry is cut at both ends). */
static int mode_maps(void)
{
	struct sigaction sa;
	long pg = 4096;
	char *m;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	m = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(m + pg, pg, PROT_READ);
	dprintf(1, "mprotect: w0 %d w1 %d r1 %d w2 %d w3 %d\n",
		probe(m, 1), probe(m + pg, 1), probe(m + pg, 0),
		probe(m + 2 * pg, 1), probe(m + 3 * pg, 1));
	munmap(m + 2 * pg, pg);
	dprintf(1, "munmap: r0 %d r1 %d r2 %d r3 %d w3 %d\n", probe(m, 0),
		probe(m + pg, 0), probe(m + 2 * pg, 0), probe(m + 3 * pg, 0),
		probe(m + 3 * pg, 1));
	munmap(m, pg);
	dprintf(1, "munmap first: r0 %d r1 %d w3 %d\n", probe(m, 0),
		probe(m + pg, 0), probe(m + 3 * pg, 1));
	return 0;
}

static volatile int forever = 1;

/* Each level keeps a page of stack; ends only when the stack does. */
static int recurse(int depth)
{
	volatile char pad[4096];

	pad[0] = (char)depth;
	if (!forever)
		return 0;
	return recurse(depth + 1) + pad[0];
}

static char altstack[64 * 1024];
static volatile int on_alt, flags_in_handler;

static void on_overflow(int sig, siginfo_t *si, void *uc)
{
	char here;
	stack_t cur;

	sigaltstack(NULL, &cur);
	flags_in_handler = cur.ss_flags;
	on_alt = &here > altstack && &here < altstack + sizeof(altstack) &&
		 ((ucontext_t *)uc)->uc_stack.ss_sp == altstack;
	siglongjmp(fault_jb, 1);
}

/* A stack overflow caught by a handler on an alternate stack. */
static int mode_altstack(void)
{
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	stack_t small = { .ss_sp = altstack, .ss_size = 100 }, old;
	struct sigaction sa;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_overflow;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, NULL);
	r = sigaltstack(&small, NULL);
	dprintf(1, "too small %d errno %d\n", r, errno);
	dprintf(1, "sigaltstack %d\n", sigaltstack(&ss, NULL));
	if (sigsetjmp(fault_jb, 1) == 0)
		recurse(0);
	dprintf(1, "overflow caught: on the alternate stack %d, flags %d\n",
		on_alt, flags_in_handler);
	sigaltstack(NULL, &old);
	dprintf(1, "after: flags %d size %d\n", old.ss_flags,
		(int)old.ss_size);
	return 0;
}

static int mode_overflow(void)
{
	catch(SIGSEGV, 0);
	return recurse(0);
}

static void bad_rip(int sig, siginfo_t *si, void *uc)
{
	((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP] =
		(greg_t)0x0000800000000000UL;	/* not canonical */
}

static int mode_badreturn(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = bad_rip;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	dprintf(1, "badreturn: still running\n");
	return 1;
}

static void bad_state(int sig, siginfo_t *si, void *uc)
{
	mcontext_t *mc = &((ucontext_t *)uc)->uc_mcontext;

	mc->gregs[REG_EFL] = 0x3000 | 0x1;		/* IOPL 3, IF 0, CF */
}

static void bad_mxcsr(int sig, siginfo_t *si, void *uc)
{
	((ucontext_t *)uc)->uc_mcontext.fpregs->mxcsr = 0xffffffffu;
}

static int mode_badstate(void)
{
	struct sigaction sa;
	uint64_t flags;
	uint32_t mxcsr;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = bad_state;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	__asm__ volatile("pushfq; popq %0" : "=r"(flags));
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	dprintf(1, "iopl %lu if %lu mxcsr 0x%x\n",
		(unsigned long)(flags >> 12) & 3, (unsigned long)(flags >> 9) & 1,
		mxcsr);
	sa.sa_sigaction = bad_mxcsr;
	sigaction(SIGUSR1, &sa, NULL);
	raise(SIGUSR1);
	dprintf(1, "badstate: reserved MXCSR bits were loaded\n");
	return 1;
}

/* poll on pipe ends and a bad descriptor; a blocking poll woken by a
 * child's write; POLLHUP; ppoll's mask lets in a signal that was
 * already pending (blocked when it came): EINTR at once. */
static int mode_poll(void)
{
	struct pollfd p[3];
	sigset_t block, empty;
	int fds[2], r, status;
	char c;
	pid_t pid;

	pipe(fds);
	p[0] = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	p[1] = (struct pollfd){ .fd = fds[1], .events = POLLOUT };
	p[2] = (struct pollfd){ .fd = 99, .events = POLLIN };
	r = poll(p, 3, 0);
	dprintf(1, "empty: %d in %d out %d bad %d\n", r, p[0].revents,
		p[1].revents, p[2].revents);
	write(fds[1], "x", 1);
	r = poll(p, 1, 0);
	dprintf(1, "a byte: %d in %d\n", r, p[0].revents);
	read(fds[0], &c, 1);
	pid = fork();
	if (pid == 0) {
		write(fds[1], "y", 1);
		_exit(0);
	}
	r = poll(p, 1, -1);
	dprintf(1, "woken: %d in %d\n", r, p[0].revents);
	waitpid(pid, &status, 0);
	close(fds[1]);
	read(fds[0], &c, 1);
	r = poll(p, 1, -1);
	dprintf(1, "no writer: %d hup %d\n", r, (p[0].revents & POLLHUP) != 0);

	pipe(fds);
	p[0].fd = fds[0];
	catch(SIGUSR1, 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	pid = fork();
	if (pid == 0) {
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	waitpid(pid, &status, 0);	/* SIGUSR1 is surely pending now */
	sigemptyset(&empty);
	{	/* 10 s: a bound, not a timing claim (EINTR comes at once) */
		struct timespec bound = { 10, 0 };

		r = ppoll(p, 1, &bound, &empty);
	}
	dprintf(1, "ppoll %d errno %d handled %d\n", r, errno, handled);
	return 0;
}

static volatile int got_usr1;

static void set_flag(int sig)
{
	got_usr1 = 1;
}

/*
 * Spin with known values in RCX and R11 until the kernel test's SIGUSR1
 * (sent once "spinning" is out) has run its handler.  The signal comes
 * in on an interrupt, not a system call; the way back from the handler
 * must restore RCX and R11 too, which SYSRET would not.
 */
static int mode_spin(void)
{
	uint64_t rcx, r11;

	signal(SIGUSR1, set_flag);
	dprintf(1, "spinning\n");
	__asm__ volatile("movl $0x7777, %%ecx\n\t"
			 "movl $0x8888, %%r11d\n\t"
			 "1: cmpl $0, %[flag]\n\t"
			 "je 1b\n\t"
			 "movq %%rcx, %[rcx]\n\t"
			 "movq %%r11, %[r11]"
			 : [rcx] "=r"(rcx), [r11] "=r"(r11)
			 : [flag] "m"(got_usr1)
			 : "rcx", "r11", "cc", "memory");
	dprintf(1, "rcx and r11 kept %d\n", rcx == 0x7777 && r11 == 0x8888);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(void);
} modes[] = {
	{ "handler", mode_handler },	 { "default", mode_default },
	{ "execd", mode_execd },	 { "eintr", mode_eintr },
	{ "suspend", mode_suspend },	 { "segv", mode_segv },
	{ "overflow", mode_overflow },	 { "badreturn", mode_badreturn },
	{ "badstate", mode_badstate },	 { "spin", mode_spin },
	{ "maps", mode_maps },		 { "poll", mode_poll },
	{ "altstack", mode_altstack },
};

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(mode, modes[i].name) == 0)
			return modes[i].fn();
	dprintf(1, "sigtest: unknown mode \"%s\"\n", mode);
	return 2;
}
