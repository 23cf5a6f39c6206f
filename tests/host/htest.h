/*
 * htest.h - the host-side twin of the in-kernel test harness.
 *
 * Host tests exercise code that does not need the kernel (the printf
 * formatter, the HMR filesystem core, ...) compiled for Linux with
 * AddressSanitizer and UBSan.  They speak the same KTAP v1 dialect as the
 * kernel's ktest, so one parser (tools/ktest) reads both:
 *
 *     KTAP version 1
 *     1..2                         <- one entry per suite
 *       KTAP version 1
 *       # Subtest: printf
 *       1..3                   <- tests in this suite
 *       ok 1 formats_decimal
 *       ...
 *     ok 1 printf
 *     # Totals: pass:5 fail:0 skip:0 total:5
 *
 * Write a test:
 *
 *     #include "htest.h"
 *     HTEST(printf, pads_hex_with_zeroes) {
 *     HT_EXPECT_STREQ("00ff", buf);
 *     }
 *
 * Link the file with tests/host/htest.c, which provides main().  Arguments
 * select what runs, like the kernel's ktest=: `prog suite` or
 * `prog suite.name`.  The exit status is 0 when nothing failed.
 */
#ifndef HTEST_H
#define HTEST_H

#include <stdint.h>
#include <string.h>

struct htest_case {
	const char *suite;
	const char *name;
	void (*fn)(void);
};

/* Called by the HTEST() constructors; not for direct use. */
void htest_register(const char *suite, const char *name, void (*fn)(void));

/* Failure reporting; print a KTAP diagnostic and mark the running test. */
void htest_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* End the running test now (after a failed ASSERT or a SKIP). */
void htest_abort(void) __attribute__((noreturn));
/* Mark the running test skipped with a reason, and end it. */
void htest_skip(const char *reason) __attribute__((noreturn));
/* The seed of the run: from HTEST_SEED in the environment, else fixed. */
uint64_t htest_seed(void);

#define HTEST(suite, name)                                                   \
	static void htest_fn_##suite##_##name(void);                         \
	__attribute__((constructor)) static void htest_reg_##suite##_##name( \
		void)                                                        \
	{                                                                    \
		htest_register(#suite, #name, htest_fn_##suite##_##name);    \
	}                                                                    \
	static void htest_fn_##suite##_##name(void)

/* Integer comparisons print both values in decimal and hex. */
#define HT_CHECK_INT_(a, op, b, fatal)                                        \
	do {                                                                  \
		long long ht_a_ = (long long)(a), ht_b_ = (long long)(b);     \
		if (!(ht_a_ op ht_b_)) {                                      \
			htest_fail(__FILE__, __LINE__,                        \
				   "expected %s " #op " %s: %lld (0x%llx) vs "  \
				   "%lld (0x%llx)",                           \
				   #a, #b, ht_a_, (unsigned long long)ht_a_,  \
				   ht_b_, (unsigned long long)ht_b_);         \
			if (fatal)                                            \
				htest_abort();                                \
		}                                                             \
	} while (0)

#define HT_EXPECT_EQ(a, b) HT_CHECK_INT_(a, ==, b, 0)
#define HT_EXPECT_NE(a, b) HT_CHECK_INT_(a, !=, b, 0)
#define HT_EXPECT_LT(a, b) HT_CHECK_INT_(a, <, b, 0)
#define HT_EXPECT_LE(a, b) HT_CHECK_INT_(a, <=, b, 0)
#define HT_EXPECT_GT(a, b) HT_CHECK_INT_(a, >, b, 0)
#define HT_EXPECT_GE(a, b) HT_CHECK_INT_(a, >=, b, 0)
#define HT_ASSERT_EQ(a, b) HT_CHECK_INT_(a, ==, b, 1)
#define HT_ASSERT_NE(a, b) HT_CHECK_INT_(a, !=, b, 1)

#define HT_EXPECT_TRUE(c) HT_CHECK_INT_(!!(c), ==, 1, 0)
#define HT_EXPECT_FALSE(c) HT_CHECK_INT_(!!(c), ==, 0, 0)
#define HT_ASSERT_TRUE(c) HT_CHECK_INT_(!!(c), ==, 1, 1)
#define HT_ASSERT_FALSE(c) HT_CHECK_INT_(!!(c), ==, 0, 1)

#define HT_CHECK_STR_(a, b, fatal)                                         \
	do {                                                               \
		const char *ht_a_ = (a), *ht_b_ = (b);                     \
		if (strcmp(ht_a_, ht_b_) != 0) {                           \
			htest_fail(__FILE__, __LINE__,                     \
				   "expected %s == %s: \"%s\" vs \"%s\"", #a, \
				   #b, ht_a_, ht_b_);                      \
			if (fatal)                                         \
				htest_abort();                             \
		}                                                          \
	} while (0)

#define HT_EXPECT_STREQ(a, b) HT_CHECK_STR_(a, b, 0)
#define HT_ASSERT_STREQ(a, b) HT_CHECK_STR_(a, b, 1)

#define HT_EXPECT_MEMEQ(a, b, n)                                              \
	do {                                                                  \
		if (memcmp((a), (b), (n)) != 0)                               \
			htest_fail(__FILE__, __LINE__,                        \
				   "expected %zu bytes of %s == %s", (size_t)(n), \
				   #a, #b);                                   \
	} while (0)

#define HT_SKIP(reason) htest_skip(reason)

#endif /* HTEST_H */
