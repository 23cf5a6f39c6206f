/*
 * kern/syscall.h - the system call table (kern/kern_syscall.c; the calls
 * themselves in kern/sys_*.c).
 *
 * Numbers, arguments and structures are Linux's for x86-64, so programs
 * built with an ordinary Linux C library (musl, glibc) run unchanged:
 * RAX holds the number, RDI RSI RDX R10 R8 R9 the arguments, and RAX the
 * result -- or -errno, with Linux's errno values.  A number with no entry
 * returns -ENOSYS and is counted (the shell's `syscalls` lists them).
 */
#ifndef KERN_SYSCALL_H
#define KERN_SYSCALL_H

#include <kern/types.h>

struct trapframe;

/*
 * A system call: its arguments (a[0..5]) and the caller's user frame.
 * Returns a result >= 0 or a negative *kernel* errno (kern/errno.h); the
 * dispatcher turns that into Linux's number.  Runs in the process's own
 * thread with interrupts on; may block.
 */
typedef int64_t (*sy_call_t)(struct trapframe *tf, const uint64_t *a);

struct sysent {
	const char *name;
	sy_call_t call;
	bool raw;	/* the call set every register itself (rt_sigreturn):
			 * the dispatcher leaves RAX alone */
};

#define SYS_NCALLS 512	/* numbers 0..511 have a slot in the table */

/* restart_syscall: the number a stopped and continued sleep is restarted
 * with (Linux's; struct restart_block in kern/proc.h). */
#define SYS_RESTART_SYSCALL 219

/* Called by the SYSCALL entry (kern/user_entry.S). */
void syscall_handler(struct trapframe *tf);

/* Linux's errno value for a kernel errno (positive in, positive out). */
int errno_to_linux(int error);

/* Calls that returned ENOSYS: calls[n] for n < SYS_NCALLS, and how many
 * had a number beyond the table (other). */
void syscall_nosys_counts(uint64_t *calls, uint64_t *other);
/* System calls made, in all. */
uint64_t syscall_count(void);
/* Print every number that returned ENOSYS and how often (shell). */
void syscall_print_nosys(void);

/* The system calls, by file. */
int64_t sys_read(struct trapframe *tf, const uint64_t *a);
int64_t sys_write(struct trapframe *tf, const uint64_t *a);
int64_t sys_readv(struct trapframe *tf, const uint64_t *a);
int64_t sys_writev(struct trapframe *tf, const uint64_t *a);
int64_t sys_close(struct trapframe *tf, const uint64_t *a);
int64_t sys_sendfile(struct trapframe *tf, const uint64_t *a);
int64_t sys_ioctl(struct trapframe *tf, const uint64_t *a);
int64_t sys_brk(struct trapframe *tf, const uint64_t *a);
int64_t sys_mmap(struct trapframe *tf, const uint64_t *a);
int64_t sys_munmap(struct trapframe *tf, const uint64_t *a);
int64_t sys_mprotect(struct trapframe *tf, const uint64_t *a);
int64_t sys_msync(struct trapframe *tf, const uint64_t *a);
int64_t sys_fork(struct trapframe *tf, const uint64_t *a);
int64_t sys_clone(struct trapframe *tf, const uint64_t *a);
int64_t sys_execve(struct trapframe *tf, const uint64_t *a);
int64_t sys_wait4(struct trapframe *tf, const uint64_t *a);
int64_t sys_kill(struct trapframe *tf, const uint64_t *a);
int64_t sys_exit(struct trapframe *tf, const uint64_t *a);
/* kern/kern_pgrp.c */
int64_t sys_setpgid(struct trapframe *tf, const uint64_t *a);
int64_t sys_getpgid(struct trapframe *tf, const uint64_t *a);
int64_t sys_getpgrp(struct trapframe *tf, const uint64_t *a);
int64_t sys_setsid(struct trapframe *tf, const uint64_t *a);
int64_t sys_getsid(struct trapframe *tf, const uint64_t *a);
/* kern/sys_socket.c */
int64_t sys_socket(struct trapframe *tf, const uint64_t *a);
int64_t sys_connect(struct trapframe *tf, const uint64_t *a);
int64_t sys_accept(struct trapframe *tf, const uint64_t *a);
int64_t sys_accept4(struct trapframe *tf, const uint64_t *a);
int64_t sys_sendto(struct trapframe *tf, const uint64_t *a);
int64_t sys_recvfrom(struct trapframe *tf, const uint64_t *a);
int64_t sys_shutdown(struct trapframe *tf, const uint64_t *a);
int64_t sys_bind(struct trapframe *tf, const uint64_t *a);
int64_t sys_listen(struct trapframe *tf, const uint64_t *a);
int64_t sys_getsockname(struct trapframe *tf, const uint64_t *a);
int64_t sys_getpeername(struct trapframe *tf, const uint64_t *a);
int64_t sys_setsockopt(struct trapframe *tf, const uint64_t *a);
int64_t sys_getsockopt(struct trapframe *tf, const uint64_t *a);

/* kern/sys_poll.c, kern/sys_misc.c */
int64_t sys_poll(struct trapframe *tf, const uint64_t *a);
int64_t sys_ppoll(struct trapframe *tf, const uint64_t *a);
int64_t sys_time(struct trapframe *tf, const uint64_t *a);
int64_t sys_getrlimit(struct trapframe *tf, const uint64_t *a);
int64_t sys_setrlimit(struct trapframe *tf, const uint64_t *a);
int64_t sys_prlimit64(struct trapframe *tf, const uint64_t *a);
int64_t sys_set_robust_list(struct trapframe *tf, const uint64_t *a);
int64_t sys_prctl(struct trapframe *tf, const uint64_t *a);
/* kern/kern_sig.c */
int64_t sys_rt_sigaction(struct trapframe *tf, const uint64_t *a);
int64_t sys_rt_sigprocmask(struct trapframe *tf, const uint64_t *a);
int64_t sys_rt_sigreturn(struct trapframe *tf, const uint64_t *a);
int64_t sys_rt_sigpending(struct trapframe *tf, const uint64_t *a);
int64_t sys_rt_sigsuspend(struct trapframe *tf, const uint64_t *a);
int64_t sys_sigaltstack(struct trapframe *tf, const uint64_t *a);
int64_t sys_tkill(struct trapframe *tf, const uint64_t *a);
int64_t sys_tgkill(struct trapframe *tf, const uint64_t *a);
/* kern/sys_file.c and kern/sys_pipe.c */
int64_t sys_access(struct trapframe *tf, const uint64_t *a);
int64_t sys_chdir(struct trapframe *tf, const uint64_t *a);
int64_t sys_chmod(struct trapframe *tf, const uint64_t *a);
int64_t sys_fchmod(struct trapframe *tf, const uint64_t *a);
int64_t sys_fchmodat(struct trapframe *tf, const uint64_t *a);
int64_t sys_umask(struct trapframe *tf, const uint64_t *a);
int64_t sys_chown(struct trapframe *tf, const uint64_t *a);
int64_t sys_fchown(struct trapframe *tf, const uint64_t *a);
int64_t sys_lchown(struct trapframe *tf, const uint64_t *a);
int64_t sys_fchownat(struct trapframe *tf, const uint64_t *a);
int64_t sys_utimensat(struct trapframe *tf, const uint64_t *a);
int64_t sys_dup(struct trapframe *tf, const uint64_t *a);
int64_t sys_dup2(struct trapframe *tf, const uint64_t *a);
int64_t sys_dup3(struct trapframe *tf, const uint64_t *a);
int64_t sys_faccessat(struct trapframe *tf, const uint64_t *a);
int64_t sys_fchdir(struct trapframe *tf, const uint64_t *a);
int64_t sys_fcntl(struct trapframe *tf, const uint64_t *a);
int64_t sys_fstat(struct trapframe *tf, const uint64_t *a);
int64_t sys_fsync(struct trapframe *tf, const uint64_t *a);
int64_t sys_sync(struct trapframe *tf, const uint64_t *a);
int64_t sys_getcwd(struct trapframe *tf, const uint64_t *a);
int64_t sys_getdents64(struct trapframe *tf, const uint64_t *a);
int64_t sys_lseek(struct trapframe *tf, const uint64_t *a);
int64_t sys_lstat(struct trapframe *tf, const uint64_t *a);
int64_t sys_mkdir(struct trapframe *tf, const uint64_t *a);
int64_t sys_mkdirat(struct trapframe *tf, const uint64_t *a);
int64_t sys_newfstatat(struct trapframe *tf, const uint64_t *a);
int64_t sys_open(struct trapframe *tf, const uint64_t *a);
int64_t sys_openat(struct trapframe *tf, const uint64_t *a);
int64_t sys_pipe(struct trapframe *tf, const uint64_t *a);
int64_t sys_pipe2(struct trapframe *tf, const uint64_t *a);
int64_t sys_pread64(struct trapframe *tf, const uint64_t *a);
int64_t sys_pwrite64(struct trapframe *tf, const uint64_t *a);
int64_t sys_truncate(struct trapframe *tf, const uint64_t *a);
int64_t sys_ftruncate(struct trapframe *tf, const uint64_t *a);
int64_t sys_readlink(struct trapframe *tf, const uint64_t *a);
int64_t sys_readlinkat(struct trapframe *tf, const uint64_t *a);
int64_t sys_rename(struct trapframe *tf, const uint64_t *a);
int64_t sys_renameat(struct trapframe *tf, const uint64_t *a);
int64_t sys_renameat2(struct trapframe *tf, const uint64_t *a);
int64_t sys_rmdir(struct trapframe *tf, const uint64_t *a);
int64_t sys_stat(struct trapframe *tf, const uint64_t *a);
int64_t sys_symlink(struct trapframe *tf, const uint64_t *a);
int64_t sys_symlinkat(struct trapframe *tf, const uint64_t *a);
int64_t sys_unlink(struct trapframe *tf, const uint64_t *a);
int64_t sys_unlinkat(struct trapframe *tf, const uint64_t *a);

/* kern/sys_uport.c: user message ports (numbers above Linux's) */
int64_t sys_port_create(struct trapframe *tf, const uint64_t *a);
int64_t sys_port_send(struct trapframe *tf, const uint64_t *a);
int64_t sys_port_domsg(struct trapframe *tf, const uint64_t *a);
int64_t sys_port_wait(struct trapframe *tf, const uint64_t *a);
int64_t sys_port_reply(struct trapframe *tf, const uint64_t *a);
int64_t sys_port_waitmsg(struct trapframe *tf, const uint64_t *a);
int64_t sys_port_abort(struct trapframe *tf, const uint64_t *a);

#endif /* KERN_SYSCALL_H */
