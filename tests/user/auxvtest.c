/*
 * auxvtest.c - the initial stack a program finds (psABI 3.4.1): argc,
 * argv, envp and the auxiliary vector, checked field by field, for
 * tests/kern/user_test.c.  Run with "again" it execs itself once more,
 * so both ways in -- the kernel starting a program and execve -- are
 * checked.  Prints one line per check and exits 0 if all held.
 */
#include <elf.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;
extern char _start[];		/* the entry point, from crt1 */

static int failures;

static void check(const char *what, int ok)
{
	dprintf(1, "%s %s\n", what, ok ? "ok" : "BAD");
	failures += !ok;
}

/* The auxv pairs sit right after envp's NULL; every type is known and
 * the vector ends with AT_NULL within a sane count. */
static int auxv_well_formed(void)
{
	char **e = environ;
	const unsigned long *a;
	int n;

	while (*e != NULL)
		e++;
	a = (const unsigned long *)(e + 1);
	for (n = 0; n < 64 && a[2 * n] != AT_NULL; n++)
		if (a[2 * n] > AT_MINSIGSTKSZ)
			return 0;
	return n >= 8 && n < 64;
}

int main(int argc, char **argv)
{
	const unsigned char *rnd = (void *)getauxval(AT_RANDOM);
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	const Elf64_Phdr *ph = (void *)getauxval(AT_PHDR);
	int again = argc > 1 && strcmp(argv[1], "again") == 0;
	int zero = 0;

	check("argc", argc == 3 && argv[3] == NULL);
	check("argv", strcmp(argv[2], "two words") == 0);
	check("envp", getenv("PATH") != NULL &&
		      strcmp(getenv("PATH"), "/bin") == 0);
	check("auxv", auxv_well_formed());
	check("pagesz", getauxval(AT_PAGESZ) == 4096);
	check("entry", getauxval(AT_ENTRY) == (unsigned long)_start);
	check("phdr", ph != NULL && getauxval(AT_PHENT) == sizeof(*ph) &&
		      getauxval(AT_PHNUM) > 0 && ph[0].p_type != PT_NULL);
	for (int i = 0; rnd != NULL && i < 16; i++)
		zero += rnd[i] == 0;
	check("random", rnd != NULL && zero < 16);
	check("execfn", execfn != NULL &&
			strcmp(execfn, "/bin/auxvtest") == 0);
	if (again && failures == 0) {
		char *args[] = { "auxvtest", "exec", "two words", NULL };

		execve("/bin/auxvtest", args, environ);
		return 99;
	}
	return failures;
}
