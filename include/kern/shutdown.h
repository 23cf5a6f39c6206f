/*
 * kern/shutdown.h - what must happen before the machine stops
 * (kern/kern_shutdown.c).
 *
 * Upper layers register a hook (the VFS: commit every filesystem and
 * unmount it); whoever stops the machine in an orderly way -- the test
 * harness at the end of a run, the shell's halt and reboot -- calls
 * shutdown_run() first.  A panic does not: after a broken invariant
 * nothing more is written.
 */
#ifndef KERN_SHUTDOWN_H
#define KERN_SHUTDOWN_H

/* Run fn(void) at shutdown, after the hooks registered later.  Boot. */
void shutdown_register(const char *name, void (*fn)(void));

/* Run every hook once, the last registered first.  Thread context; the
 * hooks may block.  A second call does nothing. */
void shutdown_run(void);

#endif /* KERN_SHUTDOWN_H */
