/*
 * efault.c - bad pointers handed to the kernel come back as EFAULT.
 *
 * Each line is "<what> <return value> <errno>", read by the user suite
 * (tests/kern/user_test.c).  The process must survive every one of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *what, long rv)
{
	char line[96];
	int n = snprintf(line, sizeof(line), "%s %ld %d\n", what, rv,
			 rv < 0 ? errno : 0);

	write(1, line, (size_t)n);
}

int main(void)
{
	char *kernel = (char *)0xffffffff80100000UL;	/* kernel text */
	char *dmap = (char *)0xffff800000001000UL;	/* the direct map */
	char *unmapped = (char *)0x10000UL;		/* nothing there */
	char *noncanon = (char *)0x0000900000000000UL;	/* non-canonical */

	report("write_kernel_ptr", syscall(SYS_write, 1, kernel, 8));
	report("write_dmap_ptr", syscall(SYS_write, 1, dmap, 8));
	report("write_unmapped_ptr", syscall(SYS_write, 1, unmapped, 8));
	report("write_noncanonical_ptr", syscall(SYS_write, 1, noncanon, 8));
	{
		int fd = open("/bin/efault", O_RDONLY);

		report("read_kernel_ptr", syscall(SYS_read, fd, kernel, 8));
		report("read_dmap_ptr", syscall(SYS_read, fd, dmap, 8));
		close(fd);
	}
	report("uname_kernel_ptr", syscall(SYS_uname, kernel));
	report("clock_gettime_kernel_ptr",
	       syscall(SYS_clock_gettime, 0, dmap));
	report("unknown_syscall", syscall(400));
	report("still_alive", 0);
	return 0;
}
