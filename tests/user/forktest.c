/*
 * forktest.c - fork, vfork, wait4, execve and kill, one behaviour per
 * argument, for tests/kern/user_test.c.  Each mode prints lines the test
 * compares; the parent always waits before it prints, so the order of
 * the lines is fixed.  Output goes straight to write(2) (dprintf on an
 * unbuffered descriptor): a stdio buffer would be copied by fork.
 *
 *   cow       parent and child write the same data, heap and stack pages
 *             and each sees its own
 *   shared    MAP_SHARED memory is shared with the child, MAP_PRIVATE not
 *   vfork     vfork + _exit, the status comes back
 *   exec      the child runs /bin/hello through execve
 *   many      20 children, reaped by wait4(-1) in any order
 *   kill      a spinning child and a sleeping child, each killed
 *   echild    wait4 with no children is ECHILD; kill of no one is ESRCH
 *   orphan    a child leaves a grandchild behind and exits first
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char data_page[4096] = "parent data";

/* Wait for pid and print how it ended. */
static void reap(const char *who, pid_t pid)
{
	int status = 0;
	pid_t got = waitpid(pid, &status, 0);

	if (got != pid)
		dprintf(1, "%s: waitpid %d -> %d errno %d\n", who, pid, got,
			errno);
	else if (WIFEXITED(status))
		dprintf(1, "%s: exit %d\n", who, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		dprintf(1, "%s: signal %d\n", who, WTERMSIG(status));
}

static int mode_cow(void)
{
	char *heap = malloc(64);
	char stack[32] = "parent stack";
	pid_t pid;

	strcpy(heap, "parent heap");
	pid = fork();
	if (pid == 0) {
		strcpy(data_page, "child data");
		strcpy(heap, "child heap");
		strcpy(stack, "child stack");
		dprintf(1, "child: %s, %s, %s\n", data_page, heap, stack);
		_exit(7);
	}
	reap("child", pid);
	dprintf(1, "parent: %s, %s, %s\n", data_page, heap, stack);
	return 0;
}

static int mode_shared(void)
{
	int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int *private = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pid_t pid;

	if (shared == MAP_FAILED || private == MAP_FAILED)
		return 1;
	*shared = 1;
	*private = 1;
	pid = fork();
	if (pid == 0) {
		*shared = 42;
		*private = 42;
		_exit(0);
	}
	reap("child", pid);
	dprintf(1, "shared %d private %d\n", *shared, *private);
	return 0;
}

static int mode_vfork(void)
{
	pid_t pid = vfork();

	if (pid == 0)
		_exit(3);
	reap("vfork child", pid);
	return 0;
}

static int mode_exec(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		char *argv[] = { "hello", "from-child", NULL };
		char *envp[] = { NULL };

		execve("/bin/hello", argv, envp);
		_exit(99);		/* execve failed */
	}
	reap("exec child", pid);
	return 0;
}

static int mode_many(void)
{
	int sum = 0, reaped = 0, status;
	pid_t pid;

	for (int i = 1; i <= 20; i++)
		if (fork() == 0)
			_exit(i);
	while ((pid = wait4(-1, &status, 0, NULL)) > 0) {
		sum += WEXITSTATUS(status);
		reaped++;
		if (!WIFEXITED(status) || WEXITSTATUS(status) == 0)
			dprintf(1, "pid %d status %#x\n", pid, status);
	}
	dprintf(1, "reaped %d sum %d then errno %d\n", reaped, sum, errno);
	return 0;
}

static int mode_kill(void)
{
	pid_t spinner = fork(), sleeper;

	if (spinner == 0)
		for (;;)
			;
	sleeper = fork();
	if (sleeper == 0) {
		struct timespec ts = { 1000, 0 };

		nanosleep(&ts, NULL);
		_exit(5);
	}
	dprintf(1, "kill 0: %d\n", kill(spinner, 0));
	dprintf(1, "kill SIGCHLD: %d\n", kill(spinner, SIGCHLD)); /* ignored */
	kill(spinner, SIGTERM);
	reap("spinner", spinner);
	kill(sleeper, SIGKILL);
	reap("sleeper", sleeper);
	return 0;
}

static int mode_echild(void)
{
	int status;
	int r = wait4(-1, &status, 0, NULL);

	dprintf(1, "wait4 %d errno %d\n", r, errno);
	r = kill(99999, SIGTERM);
	dprintf(1, "kill %d errno %d\n", r, errno);
	r = kill(getpid(), 99);
	dprintf(1, "kill bad signal %d errno %d\n", r, errno);
	return 0;
}

static int mode_orphan(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (fork() == 0) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };

			nanosleep(&ts, NULL);	/* outlive the parent */
			_exit(0);
		}
		_exit(1);
	}
	reap("middle", pid);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(void);
	} modes[] = {
		{ "cow", mode_cow },	   { "shared", mode_shared },
		{ "vfork", mode_vfork },   { "exec", mode_exec },
		{ "many", mode_many },	   { "kill", mode_kill },
		{ "echild", mode_echild }, { "orphan", mode_orphan },
	};
	const char *mode = argc > 1 ? argv[1] : "";

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(mode, modes[i].name) == 0)
			return modes[i].fn();
	dprintf(1, "forktest: unknown mode \"%s\"\n", mode);
	return 2;
}
