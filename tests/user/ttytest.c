/*
 * ttytest.c - terminal ioctls on the console (stdin, as the user suite
 * starts it) and on files that are not terminals, for
 * tests/kern/user_test.c.  Each line is "<what> <result> <errno>" or
 * the values read back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static void report(const char *what, int rv)
{
	dprintf(1, "%s %d %d\n", what, rv, rv < 0 ? errno : 0);
}

int main(void)
{
	unsigned char raw[64];
	struct termios t, saved;
	struct winsize ws;
	int fds[2], pgrp = 0, fd;

	/* The kernel writes Linux's 36-byte struct termios, no more: glibc
	 * hands it a buffer of exactly that size. */
	memset(raw, 0xaa, sizeof(raw));
	report("tcgets", ioctl(0, TCGETS, raw));
	dprintf(1, "bytes past 36 untouched %d\n", raw[36] == 0xaa &&
		raw[63] == 0xaa);
	tcgetattr(0, &saved);
	dprintf(1, "icanon %d echo %d icrnl %d verase %d\n",
		!!(saved.c_lflag & ICANON), !!(saved.c_lflag & ECHO),
		!!(saved.c_iflag & ICRNL), saved.c_cc[VERASE]);
	t = saved;
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_cc[VMIN] = 1;
	report("tcsetattr raw", tcsetattr(0, TCSANOW, &t));
	tcgetattr(0, &t);
	dprintf(1, "now icanon %d echo %d\n", !!(t.c_lflag & ICANON),
		!!(t.c_lflag & ECHO));
	report("tcsetattr back", tcsetattr(0, TCSADRAIN, &saved));
	report("winsize", ioctl(0, TIOCGWINSZ, &ws));
	dprintf(1, "rows %d cols %d\n", ws.ws_row, ws.ws_col);
	report("isatty console", isatty(0));
	report("tiocgpgrp", ioctl(0, TIOCGPGRP, &pgrp));
	pipe(fds);
	report("tcgets pipe", ioctl(fds[0], TCGETS, raw));
	fd = open("/bin/ttytest", O_RDONLY);
	report("tcgets file", ioctl(fd, TCGETS, raw));
	report("tcgets bad fd", ioctl(99, TCGETS, raw));
	report("tcgets kernel ptr", ioctl(0, TCGETS, (void *)0xffffffff80100000UL));
	return 0;
}
