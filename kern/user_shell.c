/*
 * user_shell.c - the kernel shell's commands for user processes: run a
 * program, list processes, signal one, list the system calls nobody
 * implemented.
 *
 *   damselfly> run hello world          (/bin/hello, argv "hello" "world")
 *   damselfly> run sh -c "ls | wc -l"   (quotes group words)
 *   hello, world
 *     exit status 0
 *   damselfly> ps
 *   damselfly> kill 5 STOP              (SIGSTOP to process 5; also
 *   damselfly> kill 5 9                  by number; SIGTERM by default)
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

/*
 * A signal named by its number ("9") or its name, any case, with or
 * without "SIG" ("KILL", "sigkill"): the number, or 0 if word names
 * none.  Only the signals signal_name knows have names.
 */
static int signal_parse(const char *word)
{
	uint64_t n;
	char up[16];
	size_t len = strlen(word);

	if (parse_u64(word, len, &n))
		return n > 0 && n < NSIG ? (int)n : 0;
	if (len + 4 > sizeof(up))
		return 0;
	strlcpy(up, "SIG", sizeof(up));
	if (len > 3 && (word[0] | 0x20) == 's' && (word[1] | 0x20) == 'i' &&
	    (word[2] | 0x20) == 'g')
		word += 3;		/* "SIG" already there */
	strlcat(up, word, sizeof(up));
	for (char *c = up; *c != '\0'; c++)
		if (*c >= 'a' && *c <= 'z')
			*c -= 'a' - 'A';
	for (int sig = 1; sig < NSIG; sig++)
		if (strcmp(signal_name(sig), up) == 0)
			return sig;
	return 0;
}

/* A process id: a positive number that fits an int (0 if word is
 * none). */
static int pid_parse(const char *word)
{
	uint64_t n;

	if (!parse_u64(word, strlen(word), &n) || n == 0 || n > 0x7fffffff)
		return 0;
	return (int)n;
}

/* kill's words as a pid and a signal: true, or false after a line
 * saying what is wrong with them. */
static bool kill_words(char **argv, int argc, int *pid, int *sig)
{
	if (argc < 1 || argc > 2) {
		kprintf("usage: kill PID [SIGNAL]   (SIGNAL: a number or a name "
			"such as TERM, KILL, STOP, CONT; TERM if none)\n");
		return false;
	}
	*pid = pid_parse(argv[0]);
	if (*pid == 0) {
		kprintf("kill: '%s' is not a process id (ps lists them)\n",
			argv[0]);
		return false;
	}
	*sig = argc == 2 ? signal_parse(argv[1]) : SIGTERM;
	if (*sig == 0) {
		kprintf("kill: '%s' is not a signal (1 to %d, or a name such "
			"as TERM, KILL, STOP, CONT)\n", argv[1], NSIG - 1);
		return false;
	}
	return true;
}

/*
 * kill PID [SIGNAL]: post a signal to a process, as kill(2) would from
 * the kernel (sender pid 0): SIGTERM unless a number or a name says
 * otherwise.  Every mistake gets a line saying what was wrong: no or too
 * many words, a PID that is not a number, no such process (or a zombie),
 * a signal that does not exist.  Nothing is sent then.
 */
static void cmd_kill(const char *args)
{
	char line[64], *argv[4];
	int argc, pid, sig;

	strlcpy(line, args, sizeof(line));
	argc = split_words(line, argv, 3);
	if (!kill_words(argv, argc, &pid, &sig))
		return;
	if (proc_kill(pid, sig) != 0)
		kprintf("kill: no process %d (ps lists them)\n", pid);
	else
		kprintf("kill: %s sent to process %d\n", signal_name(sig), pid);
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
	{ "kill", "kill PID [SIGNAL]: signal a process (SIGTERM, or a number "
	  "or a name: 9, KILL, STOP, CONT)", cmd_kill },
	{ "syscalls", "system calls made, and unimplemented ones by number",
	  cmd_syscalls },
	{ NULL, NULL, NULL },
};
