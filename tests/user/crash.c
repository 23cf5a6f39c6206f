/*
 * crash.c - one way to die per argument, to show that a fault kills only
 * the process that made it (tests/kern/user_test.c).
 *
 *   null        read through a NULL pointer          SIGSEGV
 *   write_text  write into its own program text      SIGSEGV
 *   exec_stack  jump to a no-execute stack page      SIGSEGV
 *   overflow    recurse until the stack runs out     SIGSEGV
 *   divide      integer division by zero             SIGFPE
 *   ud2         an invalid instruction               SIGILL
 */
#include <stdio.h>
#include <string.h>

static volatile int zero;
static volatile int forever = 1;

/* Each level keeps a page of stack; ends only when the stack does. */
static int recurse(int depth)
{
	volatile char pad[4096];

	pad[0] = (char)depth;
	if (!forever)
		return 0;
	return recurse(depth + 1) + pad[0];
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "null") == 0)
		return *(volatile int *)0;
	if (strcmp(mode, "write_text") == 0)
		*(volatile char *)(void *)main = 0;
	if (strcmp(mode, "exec_stack") == 0) {
		unsigned char code[16] = { 0xc3 };	/* ret */

		((void (*)(void))(void *)code)();
	}
	if (strcmp(mode, "overflow") == 0)
		return recurse(0);
	if (strcmp(mode, "divide") == 0)	/* a real DIV: gcc folds 1/x */
		__asm__ volatile("divl %2" : : "a"(1), "d"(0), "r"(zero));
	if (strcmp(mode, "ud2") == 0)
		__asm__ volatile("ud2");
	printf("crash: unknown mode \"%s\"\n", mode);
	return 2;
}
