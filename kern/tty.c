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
 * nothing on a virtual UART).
 *
 * Input and Ctrl-C.  Every typed byte goes through tty_input, the line
 * discipline's door, into a small queue the console's read takes from.
 * With ISIG on, the VINTR, VQUIT and VSUSP characters (^C, ^\, ^Z) are
 * not queued: they empty the queue and become SIGINT, SIGQUIT or SIGTSTP
 * for every process of the console's foreground group.  A raw-mode
 * program (a line editor) turns ISIG off and reads them as bytes.
 *
 *   UART --tty_poll_uart--> tty_input --ISIG and ^C--> pgrp_kill(fg, SIGINT)
 *                                      \--else--> inq --> console read
 *
 * Who polls the UART: a reader of the console, and while a session owns
 * the console, the "ttywatch" thread every tick -- so ^C reaches a
 * program that never reads (the kernel shell polls it itself otherwise).
 *
 * Job control (kern/kern_pgrp.c has the groups, kern/kern_sig.c the
 * stopped state).  The console is the controlling terminal of at most
 * one session (tty_sid) and knows its foreground group (tty_pgrp).  The
 * kernel's `run` and init= give it to the program they start; TIOCSCTTY
 * lets a session leader take it; TIOCGPGRP/TIOCSPGRP read and set the
 * foreground group, for a process of that session only (ENOTTY
 * otherwise).  ^Z is SIGTSTP for the foreground group, which stops
 * whoever does not catch it; a shell then takes the console back with
 * TIOCSPGRP and later gives it to the job again with SIGCONT (`fg`).
 *
 * The terminal's rules for a *background* process -- one of the console's
 * session whose group is not the foreground (POSIX XBD 11.1.4, "Terminal
 * Access Control"); a process of another session, or of none, is not
 * checked at all:
 *
 *   call                     refused: SIG_IGN    orphaned    else
 *                            or blocked          group
 *   read                     EIO                 EIO         SIGTTIN
 *   write, TOSTOP set        write goes on       EIO         SIGTTOU
 *   write, TOSTOP clear      write goes on       --          --
 *   TCSETS*, TIOCSPGRP       call goes on        EIO (1)     SIGTTOU
 *
 *   (1) ENOTTY for TIOCSPGRP, as Linux answers there.
 *
 * "SIGTTIN" means: the signal goes to the caller's whole group, and the
 * call returns EINTR; the group stops (the default action), and when
 * SIGCONT continues it the call runs again (kern/kern_sig.c restarts a
 * call a stop interrupted) -- by then, normally, in the foreground.  A
 * handler for the signal runs instead, and the call is EINTR or restarts
 * as SA_RESTART says.  An orphaned group gets EIO because a stop would be
 * for ever: nobody is left to continue it (and it would not stop anyway,
 * kern_sig.c drops the signal).  The shell that moves the console between
 * groups ignores SIGTTOU for just this table's last line.
 *
 * Hang-up: when the session leader exits, the console is nobody's and its
 * foreground group gets SIGHUP (kern_pgrp.c's pgrp_exit; it also wakes
 * newly orphaned stopped groups with SIGHUP and SIGCONT).  Queued input
 * is dropped: it was typed for that session.
 *
 * The settings are global to the one console; a whole struct is swapped
 * in under a spinlock, and readers take the flags they need with it.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/libkern.h>
#include <kern/proc.h>
#include <kern/clock.h>
#include <kern/kprintf.h>
#include <kern/signal.h>
#include <kern/spinlock.h>
#include <kern/synch.h>
#include <kern/thread.h>
#include <kern/tty.h>
#include <drivers/uart16550.h>

/* ioctl requests (Linux x86-64, asm-generic/ioctls.h). */
#define TCGETS	   0x5401
#define TCSETS	   0x5402
#define TCSETSW	   0x5403	/* after output drains: ours never waits */
#define TCSETSF	   0x5404	/* and drop unread input */
#define TIOCSCTTY  0x540e	/* make this the caller's terminal */
#define TIOCGPGRP  0x540f	/* the foreground group */
#define TIOCSPGRP  0x5410
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define TIOCGSID   0x5429	/* the session it belongs to */

/* termios bits (Linux values). */
#define ICRNL	0x0100
#define IXON	0x0400
#define OPOST	0x0001
#define TOSTOP	0x0100		/* c_lflag: background writes stop */
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
static int tty_sid;		/* tty_lock: the owning session, 0 none */
static int tty_pgrp;		/* tty_lock: its foreground group */

/* Typed bytes not read yet (tty_lock); more are dropped, as a full
 * terminal queue drops them. */
#define TTY_INQ_SIZE 256
static uint8_t inq[TTY_INQ_SIZE];
static unsigned inq_head, inq_count;
static uint64_t inq_dropped;

/* One poller of the UART at a time (atomic flag): two would split one
 * read (LSR, then RBR) or queue two bytes in the wrong order. */
static int uart_polling;

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

/* ----------------------------------------------------------------------- */
/* Input: the line discipline's door, and the queue.                      */

/* The signal a typed byte stands for under settings t, or 0.  A c_cc
 * entry of 0 is disabled (_POSIX_VDISABLE). */
static int tty_sigchar(const struct l_termios *t, int c)
{
	if (!(t->c_lflag & ISIG) || c == 0)
		return 0;
	if (c == t->c_cc[VINTR])
		return SIGINT;
	if (c == t->c_cc[VQUIT])
		return SIGQUIT;
	if (c == t->c_cc[VSUSP])
		return SIGTSTP;
	return 0;
}

void tty_input(int c)
{
	uint64_t rf = spin_lock_irqsave(&tty_lock);
	int sig = tty_sigchar(&tty, c), pgrp = tty_pgrp;
	bool echo = (tty.c_lflag & (ECHO | ECHOCTL)) == (ECHO | ECHOCTL);

	if (sig != 0)
		inq_count = 0;		/* a signal flushes typed input */
	else if (inq_count < TTY_INQ_SIZE)
		inq[(inq_head + inq_count++) % TTY_INQ_SIZE] = (uint8_t)c;
	else
		inq_dropped++;
	spin_unlock_irqrestore(&tty_lock, rf);
	if (sig != 0 && echo)
		kprintf("^%c", (c ^ 0x40) & 0x7f);
	if (sig != 0 && pgrp > 0)
		pgrp_kill(pgrp, sig);
	wakeup(&inq);
}

/* Everything the UART holds, through tty_input, unless another thread
 * is at it already (its bytes are queued before it stops).  Thread
 * context. */
static void tty_poll_uart(void)
{
	int c;

	if (__atomic_exchange_n(&uart_polling, 1, __ATOMIC_ACQUIRE))
		return;
	while ((c = uart_getc()) >= 0)
		tty_input(c);
	__atomic_store_n(&uart_polling, 0, __ATOMIC_RELEASE);
}

int tty_getc(void)
{
	uint64_t rf;
	int c = -1;

	tty_poll_uart();
	rf = spin_lock_irqsave(&tty_lock);
	if (inq_count > 0) {
		c = inq[inq_head];
		inq_head = (inq_head + 1) % TTY_INQ_SIZE;
		inq_count--;
	}
	spin_unlock_irqrestore(&tty_lock, rf);
	return c;
}

bool tty_input_ready(void)
{
	tty_poll_uart();
	return __atomic_load_n(&inq_count, __ATOMIC_ACQUIRE) > 0;
}

/* Is the console some session's terminal? */
static bool tty_owned(void)
{
	return __atomic_load_n(&tty_sid, __ATOMIC_ACQUIRE) != 0;
}

/* The "ttywatch" thread: while a session owns the console, poll the UART
 * every tick so that ^C reaches a program that is not reading; else
 * sleep until tty_take (a second at most: a wakeup that came between
 * the look and the sleep costs that much). */
static void tty_watch(void *arg)
{
	for (;;) {
		if (tty_owned()) {
			tty_poll_uart();
			tsleep(&inq_dropped, 0, "ttywatch", 1);
		} else {
			tsleep(&tty_sid, 0, "ttyidle", HZ);
		}
	}
}

void tty_init(void)
{
	int error = lwkt_create(tty_watch, NULL, NULL, 0, 0, "ttywatch");

	if (error)
		kprintf("tty: no ttywatch thread (error %d): ^C reaches only "
			"a program that reads the console\n", error);
}

/* ----------------------------------------------------------------------- */
/* The controlling terminal and its foreground group.                     */

void tty_take(int sid, int pgrp)
{
	uint64_t rf = spin_lock_irqsave(&tty_lock);

	tty_sid = sid;
	tty_pgrp = pgrp;
	spin_unlock_irqrestore(&tty_lock, rf);
	wakeup(&tty_sid);
}

int tty_session_end(int sid)
{
	uint64_t rf = spin_lock_irqsave(&tty_lock);
	int fg = 0;

	if (tty_sid == sid) {
		fg = tty_pgrp;
		tty_sid = 0;
		tty_pgrp = 0;
		inq_count = 0;		/* typed for that session only */
	}
	spin_unlock_irqrestore(&tty_lock, rf);
	return fg;
}

/* ----------------------------------------------------------------------- */
/* Background processes: SIGTTIN, SIGTTOU, EIO (the table at the top).    */

/* Is p in the background of the console's session?  proc_token held. */
static bool tty_background(const struct proc *p)
{
	uint64_t rf = spin_lock_irqsave(&tty_lock);
	bool bg = tty_sid != 0 && p->p_sid == tty_sid && tty_pgrp != 0 &&
		  p->p_pgid != tty_pgrp;

	spin_unlock_irqrestore(&tty_lock, rf);
	return bg;
}

/*
 * May the calling process go on with a console call that sig (SIGTTIN
 * for a read, SIGTTOU for the rest) guards?  0: yes; -EIO; or -EINTR
 * after sig went to the caller's group.  Own thread of a process (0 for
 * a kernel thread); takes proc_token.
 */
static int tty_job_check(int sig)
{
	struct proc *p = curproc;
	int rv = 0, pgid = 0;

	if (p == NULL)
		return 0;
	lwkt_gettoken(&proc_token);
	if (!tty_background(p))
		rv = 0;
	else if (sig_refused(p, sig))
		rv = sig == SIGTTIN ? -EIO : 0;
	else if (pgrp_is_orphaned(p->p_pgid))
		rv = -EIO;
	else {
		pgid = p->p_pgid;
		rv = -EINTR;
	}
	lwkt_reltoken(&proc_token);
	if (pgid != 0)
		pgrp_kill(pgid, sig);
	return rv;
}

int tty_read_check(void)
{
	return tty_job_check(SIGTTIN);
}

int tty_write_check(void)
{
	if (!(tty_get().c_lflag & TOSTOP))
		return 0;
	return tty_job_check(SIGTTOU);
}

/* The caller's session, if it owns the console; else 0. */
static int tty_my_session(struct proc *p)
{
	int sid;

	lwkt_gettoken(&proc_token);
	sid = p->p_sid;
	lwkt_reltoken(&proc_token);
	return sid == __atomic_load_n(&tty_sid, __ATOMIC_ACQUIRE) ? sid : 0;
}

/* TIOCSCTTY: a session leader takes the console; from another session
 * only with arg 1 (root, which everyone is, may steal it). */
static int tty_sctty(struct proc *p, uint64_t arg)
{
	int sid, pgid, error = 0;
	uint64_t rf;

	lwkt_gettoken(&proc_token);
	sid = p->p_sid;
	pgid = p->p_pgid;
	lwkt_reltoken(&proc_token);
	if (sid != p->p_pid)
		return -EPERM;		/* only a session leader */
	rf = spin_lock_irqsave(&tty_lock);
	if (tty_sid != 0 && tty_sid != sid && arg != 1)
		error = -EPERM;
	else if (tty_sid != sid) {
		tty_sid = sid;
		tty_pgrp = pgid;
	}
	spin_unlock_irqrestore(&tty_lock, rf);
	wakeup(&tty_sid);
	return error;
}

/* TIOCSPGRP: the group must exist in the caller's session. */
static int tty_spgrp(struct proc *p, uint64_t uarg)
{
	int sid = tty_my_session(p), pgrp, error;
	uint64_t rf;

	if (sid == 0)
		return -ENOTTY;
	error = copyin((const void *)uarg, &pgrp, sizeof(pgrp));
	if (error)
		return -error;
	if (pgrp < 0)
		return -EINVAL;
	error = pgrp_in_session(pgrp, sid);
	if (error)
		return -error;
	rf = spin_lock_irqsave(&tty_lock);
	if (tty_sid == sid)
		tty_pgrp = pgrp;
	spin_unlock_irqrestore(&tty_lock, rf);
	return 0;
}

/* TIOCGPGRP and TIOCGSID: for the console's own session only. */
static int tty_getid(struct proc *p, bool session, uint64_t uarg)
{
	int sid = tty_my_session(p);
	int id = session ? sid : __atomic_load_n(&tty_pgrp, __ATOMIC_ACQUIRE);

	if (sid == 0)
		return -ENOTTY;
	return -copyout(&id, (void *)uarg, sizeof(id));
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

/* The requests; anything else -- FIONREAD, TIOCNOTTY... -- is ENOTTY,
 * as for a terminal that lacks it.  The ones that change the terminal
 * are refused to the background first (tty_job_check). */
int tty_ioctl(unsigned long cmd, uint64_t uarg)
{
	struct l_termios t;
	int error;

	switch (cmd) {
	case TCGETS:
		t = tty_get();
		return -copyout(&t, (void *)uarg, sizeof(t));
	case TCSETS:
	case TCSETSW:
	case TCSETSF:
		error = tty_job_check(SIGTTOU);
		return error != 0 ? error : tty_set(uarg);
	case TIOCGWINSZ:
	case TIOCSWINSZ:
		return tty_winsize(cmd == TIOCSWINSZ, uarg);
	case TIOCSCTTY:
		return tty_sctty(curproc, uarg);
	case TIOCSPGRP:			/* Linux says ENOTTY for EIO here */
		error = tty_job_check(SIGTTOU);
		return error == -EIO ? -ENOTTY :
		       error != 0    ? error : tty_spgrp(curproc, uarg);
	case TIOCGPGRP:
	case TIOCGSID:
		return tty_getid(curproc, cmd == TIOCGSID, uarg);
	default:
		return -ENOTTY;
	}
}
