/*
 * printf_test.c - the kernel's printf formatter (kern/subr_prf.c) against
 * what C's printf is specified to print, on the host with sanitizers.
 */
#include <limits.h>
#include <stdio.h>

#include "htest.h"
#include <kern/kprintf.h>

/* Format with the kernel's formatter into a fresh buffer. */
static const char *kfmt(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static const char *kfmt(const char *fmt, ...)
{
	static char buf[256];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

HTEST(printf, formats_signed_decimal)
{
	HT_EXPECT_STREQ(kfmt("%d", 0), "0");
	HT_EXPECT_STREQ(kfmt("%d", -42), "-42");
	HT_EXPECT_STREQ(kfmt("%i", INT_MAX), "2147483647");
	HT_EXPECT_STREQ(kfmt("%d", INT_MIN), "-2147483648");
	HT_EXPECT_STREQ(kfmt("%ld", LONG_MIN), "-9223372036854775808");
	HT_EXPECT_STREQ(kfmt("%+d %+d", 5, -5), "+5 -5");
}

HTEST(printf, formats_unsigned_and_hex)
{
	HT_EXPECT_STREQ(kfmt("%u", 4000000000u), "4000000000");
	HT_EXPECT_STREQ(kfmt("%x", 0xdeadbeefu), "deadbeef");
	HT_EXPECT_STREQ(kfmt("%X", 0xabcu), "ABC");
	HT_EXPECT_STREQ(kfmt("%lx", 0xffffffff80000000ul), "ffffffff80000000");
	HT_EXPECT_STREQ(kfmt("%#x", 255u), "0xff");
	HT_EXPECT_STREQ(kfmt("%o", 8u), "10");
	HT_EXPECT_STREQ(kfmt("%zu", (size_t)123456789), "123456789");
}

HTEST(printf, pads_to_width)
{
	HT_EXPECT_STREQ(kfmt("%5d|", 42), "   42|");
	HT_EXPECT_STREQ(kfmt("%-5d|", 42), "42   |");
	HT_EXPECT_STREQ(kfmt("%05d", -42), "-0042");
	HT_EXPECT_STREQ(kfmt("%016lx", 0x1234ul), "0000000000001234");
	HT_EXPECT_STREQ(kfmt("%*d", 4, 7), "   7");
	HT_EXPECT_STREQ(kfmt("%-*s|", 6, "ab"), "ab    |");
	HT_EXPECT_STREQ(kfmt("%#010x", 0xffu), "0x000000ff");
}

HTEST(printf, honours_precision)
{
	HT_EXPECT_STREQ(kfmt("%.3d", 7), "007");
	HT_EXPECT_STREQ(kfmt("%.2s", "hello"), "he");
	HT_EXPECT_STREQ(kfmt("%.*s", 3, "abcdef"), "abc");
	HT_EXPECT_STREQ(kfmt("%.0d", 0), "");
	HT_EXPECT_STREQ(kfmt("%.4s", "ab"), "ab");
}

HTEST(printf, strings_chars_pointers)
{
	const char *volatile null_string = NULL;	/* hide it from -Wformat */

	HT_EXPECT_STREQ(kfmt("%s", "damselfly"), "damselfly");
	HT_EXPECT_STREQ(kfmt("%s", null_string), "(null)");
	HT_EXPECT_STREQ(kfmt("%c%c", 'o', 'k'), "ok");
	HT_EXPECT_STREQ(kfmt("%3c|", 'x'), "  x|");
	HT_EXPECT_STREQ(kfmt("%p", (void *)0xffff800000001000ul),
			"0xffff800000001000");
	HT_EXPECT_STREQ(kfmt("100%%"), "100%");
}

HTEST(printf, short_lengths_truncate_like_c)
{
	HT_EXPECT_STREQ(kfmt("%hhd", 300), "44");
	HT_EXPECT_STREQ(kfmt("%hu", 70000), "4464");
	HT_EXPECT_STREQ(kfmt("%hhx", 0x1ff), "ff");
}

HTEST(printf, snprintf_truncates_and_terminates)
{
	char buf[8];
	int n;

	memset(buf, 'X', sizeof(buf));
	n = ksnprintf(buf, sizeof(buf), "%s", "0123456789");
	HT_EXPECT_EQ(n, 10);
	HT_EXPECT_STREQ(buf, "0123456");
	n = ksnprintf(buf, 1, "abc");
	HT_EXPECT_EQ(n, 3);
	HT_EXPECT_EQ(buf[0], '\0');
	n = ksnprintf(NULL, 0, "%d", 12345);
	HT_EXPECT_EQ(n, 5);
}

/* Compare against the host's printf on a grid of formats and values. */
HTEST(printf, agrees_with_libc_on_a_grid)
{
	static const char *const fmts[] = { "%d", "%5d", "%-5d|", "%05d",
					    "%x", "%08x", "%#x", "%u", "%+d",
					    "% d", "%.3d", "%8.3d" };
	static const int values[] = { 0, 1, -1, 42, -42, 65535, INT_MAX,
				      INT_MIN };
	char want[64];

	for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++)
		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			snprintf(want, sizeof(want), fmts[f], values[v]);
			HT_EXPECT_STREQ(kfmt(fmts[f], values[v]), want);
#pragma GCC diagnostic pop
		}
}
