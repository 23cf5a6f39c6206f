/*
 * kern/shell.h - commands of the kernel shell (kern/kern_shell.c).
 *
 * A command is a row: its name, one line of help, and the function that
 * runs it with the rest of the line after its name ("" if none).  The
 * shell's own rows live in kern_shell.c; a subsystem adds its commands
 * with a table of its own, listed in kern_shell.c's shell_tables.
 */
#ifndef KERN_SHELL_H
#define KERN_SHELL_H

struct shell_cmd {
	const char *name;
	const char *help;
	void (*fn)(const char *args);
};

/* One prompt, one line read from the console, its command run; blocks
 * until the line comes (kern_shell.c).  The shell loop is this forever. */
void shell_step(void);

/*
 * init=PATH on the kernel command line (`make run CMDLINE=init=/bin/sh`):
 * start PATH on the console, argv[0] its last component, and wait for
 * it; then the kernel shell follows (kern/user_shell.c).  Nothing
 * without init=.  Boot thread.
 */
void user_run_init(void);

/* The filesystem's commands (fs/fs_shell.c); ends with a NULL name. */
extern const struct shell_cmd fs_shell_commands[];
/* A shell argument as an absolute path in out (VFS_PATH_MAX bytes):
 * 0, or ENAMETOOLONG when it would not fit (out is then ""). */
int fs_shell_abspath(const char *arg, char *out);
/* User processes' commands: run, ps, syscalls (kern/user_shell.c). */
extern const struct shell_cmd user_shell_commands[];
/* One console line saying how a process ended, from its wait status
 * ("  exit status 3", "  killed by SIGTERM"); after the terminal's own
 * SIGINT and SIGQUIT, whose ^C or ^\ echo left the line open, a newline
 * first.  Any thread. */
void print_wait_status(int status);

#endif /* KERN_SHELL_H */
