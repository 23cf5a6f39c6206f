/*
 * kern_shutdown.c - hooks that run before an orderly stop.
 *
 * A short table filled at boot, run last-in first-out, so that what was
 * set up last (filesystems, on top of drivers) is taken down first.
 * Today there is one hook: the VFS's, which commits and unmounts every
 * filesystem, so that an image is clean on disk when QEMU exits.
 *
 * Invariants and locking: hooks[0..nhooks) are filled by
 * shutdown_register during boot, before any thread can stop the
 * machine, and never change after; so the table needs no lock.
 * shut_down makes the run happen at most once: the shell's halt and the
 * test harness's end both call shutdown_run, and a second run would
 * unmount what is already gone.  It is a plain flag, not an atomic: the
 * callers are one thread at a time (whoever is stopping the machine).
 */
#include <kern/types.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/panic.h>
#include <kern/shutdown.h>

#define SHUTDOWN_MAX_HOOKS 8

static struct {
	const char *name;		/* for messages: who registered */
	void (*fn)(void);
} hooks[SHUTDOWN_MAX_HOOKS];		/* written at boot, then read-only */
static int nhooks;
static bool shut_down;			/* shutdown_run has started */

/*
 * Contract in kern/shutdown.h: add fn to the table.  Boot thread, before
 * anything may call shutdown_run (a hook added after the run would
 * never run).  Never blocks.
 */
void shutdown_register(const char *name, void (*fn)(void))
{
	KASSERT(fn != NULL && !shut_down, "shutdown_register(%s): %s", name,
		fn == NULL ? "no function" : "too late: shutdown has run");
	KASSERT(nhooks < SHUTDOWN_MAX_HOOKS, "shutdown_register(%s): more "
		"than %d hooks; raise SHUTDOWN_MAX_HOOKS", name,
		SHUTDOWN_MAX_HOOKS);
	hooks[nhooks].name = name;
	hooks[nhooks].fn = fn;
	nhooks++;
}

/*
 * Contract in kern/shutdown.h: run every hook, newest first, once.
 * Thread context (the hooks write to disks and wait for them).
 */
void shutdown_run(void)
{
	KASSERT(mycpu->gd_intr_nesting_level == 0, "shutdown_run blocks in "
		"its hooks; call it from a thread, not an interrupt");
	if (shut_down)
		return;
	shut_down = true;
	for (int i = nhooks - 1; i >= 0; i--)
		hooks[i].fn();
}
