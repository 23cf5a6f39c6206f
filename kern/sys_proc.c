/*
 * sys_proc.c - process system calls: fork, vfork, clone, execve, wait4,
 * kill.
 *
 * The work is in kern_proc.c and kern_exec.c; here the arguments come
 * in from user memory.  execve copies the path, argv and envp into the
 * kernel *before* anything is built, because the old address space --
 * where they live -- is gone once the new image replaces it:
 *
 *   user memory (old image)              kernel (M_EXECARGS)
 *   argv --> [p0][p1]...[NULL]           argv --> [s0][s1]...[NULL]
 *             |   |                                |   |
 *             v   v                                v   v
 *           "sh" "-c" ...   --copyinstr-->       "sh" "-c" ...
 *
 * One kmalloc'd buffer per string, bounded together by EXEC_STRINGS_MAX
 * (the room left is charged as each is copied) and in number by
 * EXEC_VECTOR_MAX; past either the call is E2BIG, as on Linux.
 *
 * Each sys_* entry follows the system call convention (kern/syscall.h):
 * tf is the caller's user frame at the top of its kernel stack, a[0..5]
 * the arguments from RDI RSI RDX R10 R8 R9, and the result goes back in
 * RAX: a value, or a negative errno.  Each runs on the calling process's
 * own thread, with interrupts on and no locks held, and may block.  A bad
 * user pointer is EFAULT from copyin/copyinstr/copyout, never a panic.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/proc.h>
#include <kern/syscall.h>
#include <machine/frame.h>
#include <vm/vm_map.h>

MALLOC_DEFINE(M_EXECARGS, "execargs", "execve arguments copied in");

/* clone(2) flags (Linux's values, include/uapi/linux/sched.h there). */
#define CLONE_VM	0x00000100	/* share the address space */
#define CLONE_THREAD	0x00010000	/* a thread of the same process */
#define CLONE_VFORK	0x00004000	/* parent waits for exec or exit */
#define EXEC_STRINGS_MAX (128 * 1024)	/* bytes for all strings */
#define EXEC_VECTOR_MAX	 4096		/* pointers in argv or envp */

/* fork(): the child's pid in the parent, 0 in the child, or -ENOMEM. */
int64_t sys_fork(struct trapframe *tf, const uint64_t *a)
{
	return proc_fork(tf);
}

/*
 * clone: the fork-like uses only.  A new thread in the same address
 * space (CLONE_VM without CLONE_VFORK, or CLONE_THREAD) is not supported:
 * a process has one thread.  vfork-style clone (musl's posix_spawn) is a
 * fork whose child starts on the stack it was given.  a[0] is flags, a[1]
 * the child's stack (0: the parent's); the TLS and tid arguments are
 * not used.  Returns as fork, or -ENOSYS for a thread.
 */
int64_t sys_clone(struct trapframe *tf, const uint64_t *a)
{
	uint64_t flags = a[0], stack = a[1];
	struct trapframe ctf;

	if ((flags & CLONE_THREAD) ||
	    ((flags & CLONE_VM) && !(flags & CLONE_VFORK)))
		return -ENOSYS;
	ctf = *tf;
	if (stack != 0)
		ctf.tf_rsp = stack;
	return proc_fork(&ctf);
}

/* A kernel copy of a user vector of strings (argv, envp): a NULL-ended
 * array of pointers to kmalloc'd strings.  Charges *room for the bytes.
 * Returns 0, E2BIG, or EFAULT; on error too *out holds what was copied,
 * NULL-ended, for free_vector.  uvec NULL is an empty vector (Linux
 * allows it).  Own thread; may block. */
static int copyin_vector(const uint64_t *uvec, char ***out, size_t *room)
{
	char **vec = kmalloc((EXEC_VECTOR_MAX + 1) * sizeof(char *),
			     M_EXECARGS, M_WAITOK | M_ZERO);
	int error = 0, n = 0;

	for (; uvec != NULL; n++) {
		uint64_t up;
		char *s;
		size_t len;

		error = n == EXEC_VECTOR_MAX ? E2BIG :
			copyin(&uvec[n], &up, sizeof(up));
		if (error || up == 0)
			break;
		s = kmalloc(MIN(*room, 4096) + 1, M_EXECARGS, M_WAITOK);
		error = copyinstr((void *)up, s, MIN(*room, 4096), &len);
		vec[n] = s;
		if (error) {
			error = error == ENAMETOOLONG ? E2BIG : error;
			break;
		}
		*room -= len;
	}
	*out = vec;
	return error;
}

/* Free a vector made by copyin_vector (NULL: nothing). */
static void free_vector(char **vec)
{
	for (int i = 0; vec != NULL && vec[i] != NULL; i++)
		kfree(vec[i], M_EXECARGS);
	kfree(vec, M_EXECARGS);
}

/* Make a kernel copy of a user path absolute against the process's cwd:
 * a new M_EXECARGS string the caller kfrees.  Own thread (the cwd is
 * the process's own); may block in kmalloc. */
char *path_absolute(const char *path)
{
	struct proc *p = curproc;
	size_t n = strlen(p->p_cwd) + strlen(path) + 2;
	char *abs = kmalloc(n, M_EXECARGS, M_WAITOK);

	if (path[0] == '/')
		strlcpy(abs, path, n);
	else
		ksnprintf(abs, n, "%s%s%s", p->p_cwd,
			  strcmp(p->p_cwd, "/") == 0 ? "" : "/", path);
	return abs;
}

/* execve(path, argv, envp): 0 on success, with tf reset to enter the
 * new image (so the 0 lands in its RAX); else -errno with the old image
 * untouched. */
int64_t sys_execve(struct trapframe *tf, const uint64_t *a)
{
	char path[PROC_PATH_MAX], *abs;
	char **argv = NULL, **envp = NULL;
	size_t room = EXEC_STRINGS_MAX;
	int error = copyinstr((const void *)a[0], path, sizeof(path), NULL);

	if (error)
		return -error;
	error = copyin_vector((const uint64_t *)a[1], &argv, &room);
	if (error == 0)
		error = copyin_vector((const uint64_t *)a[2], &envp, &room);
	abs = path_absolute(path);
	if (error == 0)
		error = exec_replace(tf, abs, argv, envp);
	if (error == 0) {
		lwkt_gettoken(&proc_token);
		curproc->p_execed = true;	/* setpgid by the parent: EACCES */
		lwkt_reltoken(&proc_token);
	}
	kfree(abs, M_EXECARGS);
	free_vector(argv);
	free_vector(envp);
	return -error;
}

/* wait4(pid, status, options, rusage): proc_wait4's answer; the status
 * is stored only for a child found, and rusage (a[3]) is not filled. */
int64_t sys_wait4(struct trapframe *tf, const uint64_t *a)
{
	int status = 0;
	int pid = proc_wait4((int)a[0], &status, (int)a[2]);
	int error;

	if (pid > 0 && a[1] != 0) {
		error = copyout(&status, (void *)a[1], sizeof(status));
		if (error)
			return -error;
	}
	return pid;
}

/* kill(pid, sig): pid > 0 one process, 0 the caller's process group,
 * -1 every process but the caller, < -1 the group -pid (kern_pgrp.c). */
int64_t sys_kill(struct trapframe *tf, const uint64_t *a)
{
	int pid = (int)a[0], sig = (int)a[1];

	if (pid > 0)
		return -proc_kill(pid, sig);
	if (pid == -1)
		return -pgrp_kill_all(sig);
	if (pid == 0) {
		lwkt_gettoken(&proc_token);
		pid = -curproc->p_pgid;
		lwkt_reltoken(&proc_token);
	}
	if (pid < -0x7fffffff)
		return -ESRCH;		/* -pid would overflow */
	return -pgrp_kill(-pid, sig);
}
