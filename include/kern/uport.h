/*
 * kern/uport.h - message ports for user programs (kern/sys_uport.c; the
 * user's side is include/uapi/damselfly/port.h, the story docs/user.md).
 */
#ifndef KERN_UPORT_H
#define KERN_UPORT_H

#include <kern/types.h>

struct proc;
struct uport_proc;

/*
 * The process p is exiting: reply EPIPE to every request it holds, take
 * back the replies that came home, and leave the messages still out to
 * be replied into nothing.  Its descriptors (and so its ports) should be
 * closed first.  p's own thread; may block briefly (uport_token).
 */
void uport_proc_exit(struct proc *p);

/* User ports plus user messages alive (leak checks). */
uint64_t uport_count(void);

/* One line for the shell's vmstat: ports and messages alive, sent,
 * aborted. */
void uport_print_stats(void);

#endif /* KERN_UPORT_H */
