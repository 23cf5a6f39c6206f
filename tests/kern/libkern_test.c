/*
 * libkern_test.c - the kernel's own memory, string and console helpers.
 */
#include <kern/console.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>

KTEST(libkern, memmove_handles_overlap_both_ways)
{
	char buf[16] = "abcdefghij";

	memmove(buf + 2, buf, 5);
	KT_EXPECT_STREQ(buf, "ababcdehij");
	memmove(buf, buf + 2, 5);
	KT_EXPECT_STREQ(buf, "abcdedehij");
}

KTEST(libkern, memset_memcpy_memcmp)
{
	uint8_t a[32], b[32];

	memset(a, 0xab, sizeof(a));
	memcpy(b, a, sizeof(b));
	KT_EXPECT_EQ(memcmp(a, b, sizeof(a)), 0);
	b[31] = 0;
	KT_EXPECT_GT(memcmp(a, b, sizeof(a)), 0);
	KT_EXPECT_EQ(a[0], 0xab);
}

KTEST(libkern, strlcpy_truncates_and_terminates)
{
	char buf[4];

	KT_EXPECT_EQ(strlcpy(buf, "damselfly", sizeof(buf)), 9);
	KT_EXPECT_STREQ(buf, "dam");
	KT_EXPECT_EQ(strlcpy(buf, "ok", sizeof(buf)), 2);
	KT_EXPECT_STREQ(buf, "ok");
}

KTEST(libkern, parse_u64_accepts_decimal_and_hex_rejects_garbage)
{
	uint64_t v = 0;

	KT_EXPECT_TRUE(parse_u64("1234", 4, &v));
	KT_EXPECT_EQ(v, 1234);
	KT_EXPECT_TRUE(parse_u64("0xffffffffffffffff", 18, &v));
	KT_EXPECT_EQ(v, UINT64_MAX);
	KT_EXPECT_FALSE(parse_u64("18446744073709551616", 20, &v));
	KT_EXPECT_FALSE(parse_u64("12a", 3, &v));
	KT_EXPECT_FALSE(parse_u64("0x", 2, &v));
	KT_EXPECT_FALSE(parse_u64("", 0, &v));
}

struct capture {
	char buf[128];
	size_t len;
	int calls;
};

static void capture_putc(int c, void *arg)
{
	struct capture *cap = arg;

	if (cap->len + 1 < sizeof(cap->buf))
		cap->buf[cap->len++] = (char)c;
	cap->buf[cap->len] = '\0';
	cap->calls++;
}

KTEST(console, kprintf_formats_through_the_console)
{
	struct capture cap = { .len = 0 };
	int n;

	cons_set_tap(capture_putc, &cap);
	n = kprintf("cpu %d: %s %#x\n", 3, "up", 0x1f);
	cons_set_tap(NULL, NULL);
	KT_EXPECT_STREQ(cap.buf, "cpu 3: up 0x1f\n");
	KT_EXPECT_EQ(n, 15);
	KT_EXPECT_EQ(cap.calls, 15);
}
