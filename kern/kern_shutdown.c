/*
 * kern_shutdown.c - hooks that run before an orderly stop.
 *
 * A short table filled at boot, run last-in first-out, so that what was
 * set up last (filesystems, on top of drivers) is taken down first.
 */
#include <kern/types.h>
#include <kern/kprintf.h>
#include <kern/panic.h>
#include <kern/shutdown.h>

#define SHUTDOWN_MAX_HOOKS 8

static struct {
	const char *name;
	void (*fn)(void);
} hooks[SHUTDOWN_MAX_HOOKS];
static int nhooks;
static bool shut_down;

void shutdown_register(const char *name, void (*fn)(void))
{
	KASSERT(nhooks < SHUTDOWN_MAX_HOOKS, "shutdown_register(%s): more "
		"than %d hooks; raise SHUTDOWN_MAX_HOOKS", name,
		SHUTDOWN_MAX_HOOKS);
	hooks[nhooks].name = name;
	hooks[nhooks].fn = fn;
	nhooks++;
}

void shutdown_run(void)
{
	if (shut_down)
		return;
	shut_down = true;
	for (int i = nhooks - 1; i >= 0; i--)
		hooks[i].fn();
}
