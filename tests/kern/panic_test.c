/*
 * panic_test.c - panics say what broke and where; backtraces name the
 * functions on the stack.
 */
#include <kern/ksyms.h>
#include <kern/ktest.h>
#include <machine/cpufunc.h>

static int assert_positive(int n)
{
	KASSERT(n > 0, "n must be positive, got %d", n);
	return n;
}

KTEST(panic, kassert_names_expression_function_file_and_why)
{
	struct panic_catch pc;

	KT_CATCH_PANIC(&pc, assert_positive(-3));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "\"n > 0\"");
	KT_EXPECT_SUBSTR(pc.msg, "assert_positive()");
	KT_EXPECT_SUBSTR(pc.msg, "tests/kern/panic_test.c:");
	KT_EXPECT_SUBSTR(pc.msg, "n must be positive, got -3");
}

KTEST(panic, kassert_that_holds_does_nothing)
{
	struct panic_catch pc;
	volatile int r = 0;

	KT_CATCH_PANIC(&pc, r = assert_positive(5));
	KT_EXPECT_FALSE(pc.caught);
	KT_EXPECT_EQ(r, 5);
}

KTEST(panic, fatal_trap_panics_with_a_hint)
{
	struct panic_catch pc;

	/* Nobody catches the trap itself, so trap() turns it into a panic. */
	KT_CATCH_PANIC(&pc, __asm__ volatile("ud2"));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "#UD invalid opcode");
	KT_EXPECT_SUBSTR(pc.msg, "probably");
}

KTEST(panic, unmapped_write_panics_naming_the_page_fault)
{
	struct panic_catch pc;

	KT_CATCH_PANIC(&pc, *(volatile int *)0xffff900000000010UL = 1);
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "#PF page fault");
	KT_EXPECT_SUBSTR(pc.msg, "not mapped");
}

KTEST(ksyms, lookup_names_a_function_and_offset)
{
	uint64_t off = 99;
	uint64_t addr = (uint64_t)ksym_lookup;
	const char *name = ksym_lookup(addr + 3, &off);

	KT_ASSERT_TRUE(name != NULL);
	KT_EXPECT_STREQ(name, "ksym_lookup");
	KT_EXPECT_EQ(off, 3);
	KT_EXPECT_EQ(ksym_address("ksym_lookup"), addr);
}

KTEST(ksyms, addresses_outside_text_have_no_name)
{
	uint64_t off;

	KT_EXPECT_TRUE(ksym_lookup(0, &off) == NULL);
	KT_EXPECT_TRUE(ksym_lookup((uint64_t)&off, &off) == NULL);
	KT_EXPECT_EQ(ksym_address("no_such_function_anywhere"), 0);
}

struct bt_record {
	int n;
	const char *names[16];
};

static void record_frame(int depth, uint64_t pc, void *arg)
{
	struct bt_record *r = arg;
	uint64_t off;

	if (r->n < 16)
		r->names[r->n++] = ksym_lookup(pc, &off);
}

static __attribute__((noinline)) int walk_from_here(struct bt_record *r)
{
	int n = backtrace_walk(0, read_rbp(), 16, record_frame, r);

	__asm__ volatile("" ::: "memory");	/* keep the frame */
	return n;
}

KTEST(ksyms, backtrace_walks_through_the_callers)
{
	struct bt_record r = { 0 };
	bool saw_test = false, saw_harness = false;

	KT_EXPECT_GE(walk_from_here(&r), 3);
	for (int i = 0; i < r.n; i++) {
		if (r.names[i] == NULL)
			continue;
		saw_test |= strcmp(r.names[i],
				   "ktest_ksyms_backtrace_walks_through_the_callers")
			    == 0;
		/* The harness's static helpers may be inlined into ktest_run. */
		saw_harness |= strcmp(r.names[i], "run_test") == 0 ||
			       strcmp(r.names[i], "run_suite") == 0 ||
			       strcmp(r.names[i], "ktest_run") == 0;
	}
	KT_EXPECT_TRUE(saw_test);
	KT_EXPECT_TRUE(saw_harness);
}
