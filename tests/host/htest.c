/*
 * htest.c - registry, runner and KTAP output for host tests (see htest.h).
 *
 * Tests register themselves from constructors before main() runs, so the
 * plan (`1..N`) always comes from the registry, never from counting what
 * happened to run.  A failed ASSERT or a SKIP leaves the test function with
 * longjmp back to the runner; the test's own cleanup is then skipped, which
 * is acceptable in a short-lived host process.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htest.h"

#define HTEST_MAX 4096

enum htest_state { HT_PASS, HT_FAIL, HT_SKIPPED };

static struct htest_case registry[HTEST_MAX];
static int nregistered;

static jmp_buf test_exit;
static enum htest_state state;
static const char *skip_reason;

void htest_register(const char *suite, const char *name, void (*fn)(void))
{
	if (nregistered == HTEST_MAX) {
		fprintf(stderr, "htest: more than %d tests; raise HTEST_MAX\n",
			HTEST_MAX);
		exit(2);
	}
	registry[nregistered++] =
		(struct htest_case){ .suite = suite, .name = name, .fn = fn };
}

void htest_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("  # ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (%s:%d)\n", file, line);
	state = HT_FAIL;
}

void htest_abort(void)
{
	longjmp(test_exit, 1);
}

void htest_skip(const char *reason)
{
	if (state != HT_FAIL)
		state = HT_SKIPPED;
	skip_reason = reason;
	longjmp(test_exit, 1);
}

uint64_t htest_seed(void)
{
	const char *s = getenv("HTEST_SEED");

	return s ? strtoull(s, NULL, 0) : 0x5eed0001ULL;
}

/* Does the command-line filter select this test?  No filter means all. */
static int selected(const struct htest_case *c, int argc, char **argv)
{
	char full[256];

	if (argc < 2)
		return 1;
	snprintf(full, sizeof(full), "%s.%s", c->suite, c->name);
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "all") || !strcmp(argv[i], c->suite) ||
		    !strcmp(argv[i], full))
			return 1;
	return 0;
}

/* Is c the first selected test of its suite?  Suites print in the order
 * their first test registered. */
static int first_of_suite(int idx, int argc, char **argv)
{
	for (int i = 0; i < idx; i++)
		if (!strcmp(registry[i].suite, registry[idx].suite) &&
		    selected(&registry[i], argc, argv))
			return 0;
	return 1;
}

struct totals {
	int pass, fail, skip;
};

static enum htest_state run_one(const struct htest_case *c, int number)
{
	state = HT_PASS;
	skip_reason = NULL;
	printf("  # running: %s\n", c->name);
	fflush(stdout);
	if (setjmp(test_exit) == 0)
		c->fn();
	if (state == HT_SKIPPED)
		printf("  ok %d %s # SKIP %s\n", number, c->name, skip_reason);
	else
		printf("  %s %d %s\n", state == HT_PASS ? "ok" : "not ok",
		       number, c->name);
	fflush(stdout);
	return state;
}

/* Run every selected test of the suite that registry[first] starts. */
static int run_suite(int first, int number, int argc, char **argv,
		     struct totals *t)
{
	const char *suite = registry[first].suite;
	int ntests = 0, n = 0, failed = 0;

	for (int i = first; i < nregistered; i++)
		if (!strcmp(registry[i].suite, suite) &&
		    selected(&registry[i], argc, argv))
			ntests++;
	printf("  KTAP version 1\n  # Subtest: %s\n  1..%d\n", suite,
	       ntests);
	for (int i = first; i < nregistered; i++) {
		if (strcmp(registry[i].suite, suite) ||
		    !selected(&registry[i], argc, argv))
			continue;
		enum htest_state s = run_one(&registry[i], ++n);
		t->pass += s == HT_PASS;
		t->fail += s == HT_FAIL;
		t->skip += s == HT_SKIPPED;
		failed |= s == HT_FAIL;
	}
	printf("%s %d %s\n", failed ? "not ok" : "ok", number, suite);
	return failed;
}

int main(int argc, char **argv)
{
	struct totals t = { 0, 0, 0 };
	int nsuites = 0, number = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < nregistered; i++)
		if (selected(&registry[i], argc, argv) &&
		    first_of_suite(i, argc, argv))
			nsuites++;
	printf("KTAP version 1\n1..%d\n", nsuites);
	printf("# seed=0x%llx\n", (unsigned long long)htest_seed());
	for (int i = 0; i < nregistered; i++)
		if (selected(&registry[i], argc, argv) &&
		    first_of_suite(i, argc, argv))
			run_suite(i, ++number, argc, argv, &t);
	printf("# Totals: pass:%d fail:%d skip:%d total:%d\n", t.pass, t.fail,
	       t.skip, t.pass + t.fail + t.skip);
	printf("# ktest: done\n");
	return t.fail ? 1 : 0;
}
