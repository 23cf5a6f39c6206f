/*
 * kern/tty.h - the console's terminal settings (kern/tty.c): Linux's
 * struct termios as TCGETS/TCSETS see it, and the few modes the console
 * line discipline (kern/kern_descrip.c) honours.
 */
#ifndef KERN_TTY_H
#define KERN_TTY_H

#include <kern/types.h>

/* Which of the settings the console's read and echo obey. */
bool tty_canonical(void);	/* ICANON: lines, with erase; else bytes */
bool tty_echo(void);		/* ECHO: typed characters are shown */
bool tty_icrnl(void);		/* ICRNL: a typed CR reads as NL */
int tty_erase_char(void);	/* VERASE */
int tty_eof_char(void);		/* VEOF (canonical mode) */

/*
 * ioctl on the console: TCGETS, TCSETS/TCSETSW/TCSETSF, TIOCGWINSZ,
 * TIOCSWINSZ, TIOCSCTTY, TIOCGPGRP/TIOCSPGRP, TIOCGSID; uarg is the user
 * argument.  Returns 0, a negative kernel errno (EFAULT, EPERM, ESRCH,
 * EINVAL), or -ENOTTY for a request a terminal here does not know, and
 * for the job-control requests from outside the console's session.
 * Own thread of a process.
 */
int tty_ioctl(unsigned long cmd, uint64_t uarg);

/*
 * Typed input.  tty_input: one byte typed at the console -- the UART's,
 * or a test's -- through the line discipline: with ISIG, ^C ^\ ^Z
 * signal the foreground group (SIGINT, SIGQUIT, SIGTSTP) and flush the
 * queue; anything else is queued for the console's read.  tty_getc: the
 * next queued byte or -1, after taking what the UART holds; never
 * blocks.  tty_input_ready: a byte is queued.  Thread context.
 */
void tty_input(int c);
int tty_getc(void);
bool tty_input_ready(void);

/*
 * tty_take: the console becomes session sid's terminal, pgrp its
 * foreground group (the kernel's run and init=).  tty_session_end: if
 * it is session sid's, it is nobody's now (its leader exited; queued
 * input is dropped); returns the foreground group it had, for SIGHUP, or
 * 0.  Any thread; never block.  tty_init: start the ttywatch thread
 * (boot, once).
 */
void tty_take(int sid, int pgrp);
int tty_session_end(int sid);
void tty_init(void);

/*
 * Job control at the console's read and write (kern/kern_descrip.c): may
 * the calling process go on?  0 yes; -EIO; -EINTR after SIGTTIN (read)
 * or SIGTTOU (write, with TOSTOP set) went to its group, which is in the
 * background of the console's session.  Own thread of a process, no
 * tokens held; takes proc_token.  A kernel thread always may.
 */
int tty_read_check(void);
int tty_write_check(void);

#endif /* KERN_TTY_H */
