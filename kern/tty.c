/*
 * tty.c - the console's terminal settings.
 *
 * Programs ask the console what kind of terminal it is with the termios
 * ioctls (Linux's numbers and structure, as musl and glibc send them),
 * and a shell's line editor switches it to "raw" mode: no line
 * buffering, no echo, so that it can read each key and draw the line
 * itself.  The console keeps one struct termios; its read (in
 * kern/kern_descrip.c) looks at three of the settings:
 *
 *   ICANON  on: a line at a time, with backspace (VERASE) and end of
 *           file (VEOF) at a line start; off: the bytes that came, at
 *           least one
 *   ECHO    typed characters are written back to the screen
 *   ICRNL   the Enter key's CR reads as NL
 *
 * Everything else is stored and given back unchanged (output always
 * turns NL into CR NL, as OPOST|ONLCR says; speeds and parity mean
 * nothing on a virtual UART).  There are no process groups, hence no
 * foreground group and no job-control signals from the keyboard:
 * TIOCGPGRP and TIOCSPGRP are ENOTTY, and a shell reading that turns job
 * control off.  Ctrl-C is an ordinary byte.
 *
 * The settings are global to the one console; a whole struct is swapped
 * in under a spinlock, and readers take the flags they need with it.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/libkern.h>
#include <kern/proc.h>
#include <kern/spinlock.h>
#include <kern/tty.h>

/* ioctl requests (Linux x86-64, asm-generic/ioctls.h). */
#define TCGETS	   0x5401
#define TCSETS	   0x5402
#define TCSETSW	   0x5403	/* after output drains: ours never waits */
#define TCSETSF	   0x5404	/* and drop unread input */
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414

/* termios bits (Linux values). */
#define ICRNL	0x0100
#define IXON	0x0400
#define OPOST	0x0001
#define ONLCR	0x0004
#define B38400	0x000f
#define CS8	0x0030
#define CREAD	0x0080
#define ISIG	0x0001
#define ICANON	0x0002
#define ECHO	0x0008
#define ECHOE	0x0010
#define ECHOK	0x0020
#define ECHOCTL 0x0200
#define ECHOKE	0x0800
#define IEXTEN	0x8000
#define VINTR	0
#define VQUIT	1
#define VERASE	2
#define VKILL	3
#define VEOF	4
#define VTIME	5
#define VMIN	6
#define VSTART	8
#define VSTOP	9
#define VSUSP	10
#define NCCS	19

/* The kernel's struct termios (36 bytes; C libraries translate theirs). */
struct l_termios {
	uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
	uint8_t c_line;
	uint8_t c_cc[NCCS];
};
_Static_assert(sizeof(struct l_termios) == 36, "Linux struct termios");

struct l_winsize {
	uint16_t ws_row, ws_col, ws_xpixel, ws_ypixel;
};

static struct spinlock tty_lock = SPINLOCK_INITIALIZER("tty");
static struct l_termios tty = {	/* tty_lock; a Linux console's defaults */
	.c_iflag = ICRNL | IXON,
	.c_oflag = OPOST | ONLCR,
	.c_cflag = B38400 | CS8 | CREAD,
	.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE |
		   IEXTEN,
	.c_cc = { [VINTR] = 0x03, [VQUIT] = 0x1c, [VERASE] = 0x7f,
		  [VKILL] = 0x15, [VEOF] = 0x04, [VTIME] = 0, [VMIN] = 1,
		  [VSTART] = 0x11, [VSTOP] = 0x13, [VSUSP] = 0x1a },
};
static struct l_winsize winsize = { 24, 80, 0, 0 };	/* tty_lock */

/* A copy of the settings, taken whole. */
static struct l_termios tty_get(void)
{
	uint64_t rf = spin_lock_irqsave(&tty_lock);
	struct l_termios t = tty;

	spin_unlock_irqrestore(&tty_lock, rf);
	return t;
}

/* The settings the console's read obeys, each from a whole copy (a
 * TCSETS racing with a read is seen either before or after). */
bool tty_canonical(void)
{
	return (tty_get().c_lflag & ICANON) != 0;
}

bool tty_echo(void)
{
	return (tty_get().c_lflag & ECHO) != 0;
}

bool tty_icrnl(void)
{
	return (tty_get().c_iflag & ICRNL) != 0;
}

int tty_erase_char(void)
{
	return tty_get().c_cc[VERASE];
}

int tty_eof_char(void)
{
	return tty_get().c_cc[VEOF];
}

/* TCSETS*: the new settings from user memory, all at once.  Returns 0
 * or -EFAULT.  TCSETSW would wait for output to drain and TCSETSF would
 * also drop unread input; output never waits here, and the byte or so
 * the UART holds is left for the next read. */
static int tty_set(uint64_t uarg)
{
	struct l_termios t;
	uint64_t rf;
	int error = copyin((const void *)uarg, &t, sizeof(t));

	if (error)
		return -error;
	rf = spin_lock_irqsave(&tty_lock);
	tty = t;
	spin_unlock_irqrestore(&tty_lock, rf);
	return 0;
}

/* TIOCGWINSZ / TIOCSWINSZ. */
static int tty_winsize(bool set, uint64_t uarg)
{
	struct l_winsize w;
	uint64_t rf;
	int error;

	if (!set) {
		rf = spin_lock_irqsave(&tty_lock);
		w = winsize;
		spin_unlock_irqrestore(&tty_lock, rf);
		return -copyout(&w, (void *)uarg, sizeof(w));
	}
	error = copyin((const void *)uarg, &w, sizeof(w));
	if (error)
		return -error;
	rf = spin_lock_irqsave(&tty_lock);
	winsize = w;
	spin_unlock_irqrestore(&tty_lock, rf);
	return 0;
}

/* The requests; anything else -- TIOCGPGRP, TIOCSPGRP, TIOCSCTTY,
 * FIONREAD... -- is ENOTTY, as for a terminal that lacks it. */
int tty_ioctl(unsigned long cmd, uint64_t uarg)
{
	struct l_termios t;

	switch (cmd) {
	case TCGETS:
		t = tty_get();
		return -copyout(&t, (void *)uarg, sizeof(t));
	case TCSETS:
	case TCSETSW:
	case TCSETSF:
		return tty_set(uarg);
	case TIOCGWINSZ:
	case TIOCSWINSZ:
		return tty_winsize(cmd == TIOCSWINSZ, uarg);
	default:
		return -ENOTTY;
	}
}
