/*
 * kern/signal.h - signal numbers of user processes, with Linux's x86-64
 * values (the system call ABI is Linux's; docs/user.md).
 */
#ifndef KERN_SIGNAL_H
#define KERN_SIGNAL_H

#define SIGHUP	 1
#define SIGINT	 2
#define SIGQUIT	 3
#define SIGILL	 4	/* an invalid instruction */
#define SIGTRAP	 5	/* a breakpoint or single step */
#define SIGABRT	 6
#define SIGBUS	 7	/* a file page that cannot be had; misalignment */
#define SIGFPE	 8	/* division by zero, an SSE exception */
#define SIGKILL	 9
#define SIGUSR1	 10
#define SIGSEGV	 11	/* a bad memory access */
#define SIGUSR2	 12
#define SIGPIPE	 13
#define SIGALRM	 14
#define SIGTERM	 15
#define SIGCHLD	 17
#define SIGCONT	 18
#define SIGSTOP	 19
#define SIGURG	 23
#define SIGWINCH 28
#define NSIG	 65	/* signals 1..64 */

/* The name of a signal ("SIGSEGV"), or "signal N" in buf. */
const char *signal_name(int sig);

#endif /* KERN_SIGNAL_H */
