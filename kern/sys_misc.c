/*
 * sys_misc.c - small system calls C libraries make at start-up or now and
 * then, answered simply: time, getrlimit/setrlimit/prlimit64,
 * set_robust_list, prctl (the process name only).
 *
 * Resource limits.  Damselfly enforces none through this interface; the
 * limits reported are the ones that are real anyway (the 8 MiB stack,
 * PROC_NFILES descriptors) and "unlimited" for the rest.  A process may
 * set any limit no higher than it is: the call succeeds and changes
 * nothing, which is what a program that only lowers its limits (as
 * shells do) can observe anyway.
 *
 * set_robust_list registers a thread's list of robust futexes with the
 * kernel, to be released when the thread dies.  A process has one thread
 * and there are no futexes to release: the call is accepted.
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/errno.h>
#include <kern/kernel.h>
#include <kern/libkern.h>
#include <kern/proc.h>
#include <kern/syscall.h>
#include <drivers/rtc.h>

#define RLIMIT_STACK	3
#define RLIMIT_NOFILE	7
#define RLIM_NLIMITS	16
#define RLIM_INFINITY	(~0UL)
#define USER_STACK_LIMIT (8UL << 20)	/* kern_exec.c's stack entry */
#define NS_PER_SEC	1000000000UL
#define PR_SET_NAME	15
#define PR_GET_NAME	16

/* time(tloc): seconds since 1970; stored at tloc too if it is given. */
int64_t sys_time(struct trapframe *tf, const uint64_t *a)
{
	uint64_t now = clock_realtime_ns() / NS_PER_SEC;
	int error = a[0] != 0 ? copyout(&now, (void *)a[0], sizeof(now)) : 0;

	return error ? -error : (int64_t)now;
}

/* The limit resource has: {soft, hard}. */
static void limit_of(int resource, uint64_t lim[2])
{
	uint64_t v = resource == RLIMIT_STACK	? USER_STACK_LIMIT :
		     resource == RLIMIT_NOFILE	? PROC_NFILES :
						  RLIM_INFINITY;

	lim[0] = lim[1] = v;
}

/* A new limit is taken (and ignored) when it is coherent and no higher
 * than the present one. */
static int limit_check(int resource, const uint64_t lim[2])
{
	uint64_t cur[2];

	limit_of(resource, cur);
	if (lim[0] > lim[1])
		return EINVAL;
	return lim[1] > cur[1] ? EPERM : 0;
}

/* prlimit64(pid, resource, new, old): pid 0 or the caller's own. */
int64_t sys_prlimit64(struct trapframe *tf, const uint64_t *a)
{
	int resource = (int)a[1];
	uint64_t lim[2];
	int error;

	if ((int)a[0] != 0 && (int)a[0] != curproc->p_pid)
		return -ESRCH;
	if (resource < 0 || resource >= RLIM_NLIMITS)
		return -EINVAL;
	if (a[2] != 0) {
		error = copyin((void *)a[2], lim, sizeof(lim));
		if (error == 0)
			error = limit_check(resource, lim);
		if (error)
			return -error;
	}
	limit_of(resource, lim);
	return a[3] != 0 ? -copyout(lim, (void *)a[3], sizeof(lim)) : 0;
}

/* getrlimit(resource, rlim) and setrlimit(resource, rlim): the old
 * calls, prlimit64 of the caller itself. */
int64_t sys_getrlimit(struct trapframe *tf, const uint64_t *a)
{
	const uint64_t args[4] = { 0, a[0], 0, a[1] };

	return sys_prlimit64(tf, args);
}

int64_t sys_setrlimit(struct trapframe *tf, const uint64_t *a)
{
	const uint64_t args[4] = { 0, a[0], a[1], 0 };

	return sys_prlimit64(tf, args);
}

/* set_robust_list(head, len): len must be Linux's 24-byte head. */
int64_t sys_set_robust_list(struct trapframe *tf, const uint64_t *a)
{
	return a[1] == 24 ? 0 : -EINVAL;
}

/*
 * prctl(option, arg2, ...): only PR_SET_NAME and PR_GET_NAME, the name a
 * process is shown with (16 bytes with the NUL; busybox names each applet
 * it runs).  Any other option is EINVAL.
 */
int64_t sys_prctl(struct trapframe *tf, const uint64_t *a)
{
	struct proc *p = curproc;
	char name[PROC_COMM_SIZE];
	int error;

	switch (a[0]) {
	case PR_SET_NAME:
		error = copyinstr((void *)a[1], name, sizeof(name), NULL);
		if (error == ENAMETOOLONG) {	/* Linux cuts it short */
			error = copyin((void *)a[1], name, sizeof(name) - 1);
			name[sizeof(name) - 1] = '\0';
		}
		if (error == 0)
			strlcpy(p->p_comm, name, sizeof(p->p_comm));
		return -error;
	case PR_GET_NAME:
		strlcpy(name, p->p_comm, sizeof(name));
		return -copyout(name, (void *)a[1], sizeof(name));
	default:
		return -EINVAL;
	}
}
