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
 * TIOCSWINSZ; uarg is the user pointer.  Returns 0, a
 * negative kernel errno (EFAULT), or -ENOTTY for a request a terminal
 * here does not know -- among them TIOCGPGRP/TIOCSPGRP: there are no
 * process groups, so a shell turns job control off.  Own thread.
 */
int tty_ioctl(unsigned long cmd, uint64_t uarg);

#endif /* KERN_TTY_H */
