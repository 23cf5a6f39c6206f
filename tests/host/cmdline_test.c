/*
 * cmdline_test.c - kern/kern_cmdline.c: key lookup and selection lists.
 */
#include "htest.h"
#include <kern/cmdline.h>

HTEST(cmdline, finds_values_and_bare_keys)
{
	char v[32];

	HT_EXPECT_TRUE(cmdline_lookup("a=1 ktest=all b", "ktest", v, sizeof(v)));
	HT_EXPECT_STREQ(v, "all");
	HT_EXPECT_TRUE(cmdline_lookup("a=1 ktest=all b", "b", v, sizeof(v)));
	HT_EXPECT_STREQ(v, "");
	HT_EXPECT_TRUE(cmdline_lookup("  spaced=yes  ", "spaced", v, sizeof(v)));
	HT_EXPECT_STREQ(v, "yes");
}

HTEST(cmdline, does_not_match_prefixes)
{
	char v[32];

	HT_EXPECT_FALSE(cmdline_lookup("ktest.seed=5", "ktest", v, sizeof(v)));
	HT_EXPECT_TRUE(cmdline_lookup("ktest.seed=5", "ktest.seed", v,
				      sizeof(v)));
	HT_EXPECT_STREQ(v, "5");
	HT_EXPECT_FALSE(cmdline_lookup("kt=1", "ktest", v, sizeof(v)));
	HT_EXPECT_FALSE(cmdline_lookup("", "ktest", v, sizeof(v)));
}

HTEST(cmdline, refuses_values_that_do_not_fit)
{
	char v[4];

	HT_EXPECT_FALSE(cmdline_lookup("k=12345", "k", v, sizeof(v)));
	HT_EXPECT_STREQ(v, "");
	HT_EXPECT_TRUE(cmdline_lookup("k=123", "k", v, sizeof(v)));
	HT_EXPECT_STREQ(v, "123");
}

HTEST(cmdline, selection_lists)
{
	HT_EXPECT_TRUE(cmdline_list_selects("all", "printf", "x"));
	HT_EXPECT_TRUE(cmdline_list_selects("trap,printf", "printf", "x"));
	HT_EXPECT_TRUE(cmdline_list_selects("printf.x", "printf", "x"));
	HT_EXPECT_FALSE(cmdline_list_selects("printf.y", "printf", "x"));
	HT_EXPECT_FALSE(cmdline_list_selects("printfs", "printf", "x"));
	HT_EXPECT_FALSE(cmdline_list_selects("print", "printf", "x"));
	HT_EXPECT_FALSE(cmdline_list_selects("printf.xy", "printf", "x"));
	HT_EXPECT_FALSE(cmdline_list_selects("", "printf", "x"));
	HT_EXPECT_FALSE(cmdline_list_selects(",,", "printf", "x"));
}

HTEST(cmdline, manual_suites_need_their_name)
{
	HT_EXPECT_FALSE(cmdline_list_names("all", "selftest_fail", "t"));
	HT_EXPECT_TRUE(cmdline_list_names("selftest_fail", "selftest_fail", "t"));
	HT_EXPECT_TRUE(cmdline_list_names("all,selftest_fail.t",
					  "selftest_fail", "t"));
}
