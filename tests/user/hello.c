/*
 * hello.c - the first user program: prints a greeting and its arguments,
 * then exits with status 0.  Built with Debian's musl-gcc -static.
 */
#include <stdio.h>

int main(int argc, char **argv)
{
	printf("hello, world\n");
	for (int i = 1; i < argc; i++)
		printf("arg %d: %s\n", i, argv[i]);
	return 0;
}
