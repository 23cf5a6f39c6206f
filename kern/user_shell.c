/*
 * user_shell.c - the kernel shell's commands for user processes: run a
 * program, list processes, list the system calls nobody implemented.
 *
 *   damselfly> run hello world          (/bin/hello, argv "hello" "world")
 *   damselfly> run sh -c "ls | wc -l"   (quotes group words)
 *   hello, world
 *     exit status 0
 *   damselfly> ps
 *
 * Also the boot's init= program (user_run_init), started the same way
 * before the shell's first prompt.
 *
 * Context: the shell's thread (thread0, the boot thread), which is no
 * process: it spawns a program with proc_spawn and waits with proc_wait,
 * the kernel's own wait.  The console is handed to the program as its
 * controlling terminal (ctty), so ^C reaches the program's group and not
 * the shell; the shell reads the console again only after the wait.
 */
#include <kern/types.h>
#include <kern/cmdline.h>
#include <kern/errno.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/proc.h>
#include <kern/shell.h>
#include <kern/signal.h>
#include <kern/syscall.h>
#include <vm/vm_map.h>

#define RUN_MAX_ARGS 16		/* words of a run line; more are dropped */

/*
 * Split line into argv, in place: words are separated by spaces, and a
 * part in "double" or 'single' quotes keeps its spaces (the quotes go):
 *     run sh -c "echo a  b"   ->   sh, -c, echo a  b
 * Returns argc.
 */
static int split_words(char *line, char **argv, int max)
{
	char *in = line, *out = line;
	int argc = 0;

	/* out never passes in: a word loses its quotes and gains only its
	 * NUL, which takes the place of the space that ended it. */
	while (argc < max) {
		char quote = 0;		/* the open quote character, or 0 */

		while (*in == ' ')
			in++;
		if (*in == '\0')
			break;
		argv[argc++] = out;
		for (; *in != '\0' && (quote || *in != ' '); in++) {
			if (quote ? *in == quote : (*in == '"' || *in == '\''))
				quote = quote ? 0 : *in;
			else
				*out++ = *in;
		}
		if (*in != '\0')
			in++;
		*out++ = '\0';
	}
	argv[argc] = NULL;
	return argc;
}

/* The environment of programs the shell starts. */
static char *const run_envp[] = { "PATH=/bin", "HOME=/", "TERM=vt100",
				  NULL };

/* Say how a process ended, from its wait status.  The console echoed
 * ^C or ^\ for the terminal's own signals without a newline (as a
 * terminal does; a shell ends the line), so the line is ended first. */
void print_wait_status(int status)
{
	int sig = status & 0x7f;

	if (sig == 0)
		kprintf("  exit status %d\n", (status >> 8) & 0xff);
	else
		kprintf("%s  killed by %s\n",
			sig == SIGINT || sig == SIGQUIT ? "\n" : "",
			signal_name(sig));
}

/* run PROGRAM ARGS: start it on the console, which becomes its terminal
 * (^C interrupts it), and wait for it.  A name without a slash is looked
 * for in /bin.  Any CPU may get it (cpu -1: the round robin).  A line
 * past 255 bytes is cut; errors are printed, never fatal. */
static void cmd_run(const char *args)
{
	char line[256], path[PROC_PATH_MAX];
	char *argv[RUN_MAX_ARGS + 1];
	struct spawn_opts opts = { .cpu = -1, .ctty = true };
	int pid, error;

	strlcpy(line, args, sizeof(line));
	if (split_words(line, argv, RUN_MAX_ARGS) == 0) {
		kprintf("  usage: run PROGRAM [ARGS...]\n");
		return;
	}
	ksnprintf(path, sizeof(path), "%s%s",
		  strchr(argv[0], '/') ? "" : "/bin/", argv[0]);
	error = proc_spawn(path, argv, run_envp, &opts, &pid);
	if (error) {
		kprintf("  run: %s: cannot start it (error %d%s)\n", path, error,
			error == ENOENT ? ", no such file" :
			error == ENOEXEC ? ", not a static x86-64 ELF" : "");
		return;
	}
	print_wait_status(proc_wait(pid));
}

/* Boot, before the shell: run the program the command line's init=
 * names (an absolute path: no /bin search) and wait for it to end;
 * nothing when there is no init=.  The shell's thread; blocks until
 * the program exits. */
void user_run_init(void)
{
	char path[PROC_PATH_MAX];
	char *argv[2] = { NULL, NULL };
	struct spawn_opts opts = { .cpu = -1, .ctty = true };
	int pid, error;

	if (!cmdline_get("init", path, sizeof(path)))
		return;
	argv[0] = (char *)path_basename(path);
	error = proc_spawn(path, argv, run_envp, &opts, &pid);
	if (error) {
		kprintf("init: %s: cannot start it (error %d)\n", path, error);
		return;
	}
	kprintf("init: %s is process %d\n", path, pid);
	print_wait_status(proc_wait(pid));
	kprintf("init: %s ended; the kernel shell follows\n", path);
}

/* ps: every process, one line each (kern/kern_proc.c prints them). */
static void cmd_ps(const char *args)
{
	proc_print_all();
}

/* syscalls: the calls made, and those that were ENOSYS, by number:
 * what a new program needs that the kernel lacks. */
static void cmd_syscalls(const char *args)
{
	syscall_print_nosys();
}

const struct shell_cmd user_shell_commands[] = {
	{ "run", "run PROGRAM ARGS: start a user program, wait for it",
	  cmd_run },
	{ "ps", "user processes: pid, parent, state (run, stop, zombie), CPU",
	  cmd_ps },
	{ "syscalls", "system calls made, and unimplemented ones by number",
	  cmd_syscalls },
	{ NULL, NULL, NULL },
};
