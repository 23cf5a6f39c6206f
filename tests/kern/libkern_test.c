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

/* Words then a tail: every length and alignment up to 40 bytes copies and
 * fills exactly its bytes, and not one more. */
KTEST(libkern, memcpy_and_memset_are_exact_at_every_length_and_offset)
{
	uint8_t src[64], dst[64];

	for (int i = 0; i < 64; i++)
		src[i] = (uint8_t)(i * 37 + 1);
	for (int off = 0; off < 8; off++)
		for (int n = 0; n <= 40; n++) {
			memset(dst, 0xee, sizeof(dst));
			memcpy(dst + off, src + (7 - off), n);
			KT_ASSERT_EQ(memcmp(dst + off, src + (7 - off), n), 0);
			KT_ASSERT_EQ(dst[off + n], 0xee);
			if (off > 0)
				KT_ASSERT_EQ(dst[off - 1], 0xee);
			memset(dst + off, 0x5a, n);
			for (int i = 0; i < n; i++)
				KT_ASSERT_EQ(dst[off + i], 0x5a);
			KT_ASSERT_EQ(dst[off + n], 0xee);
		}
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

/* ---- the console lock keeps lines whole across CPUs ------------------- */

#include <kern/globaldata.h>
#include <kern/synch.h>
#include <kern/thread.h>

#define LINES_PER_CPU	200
#define CAPTURE_SIZE	(128 * 1024)

static char capture_buf[CAPTURE_SIZE];
static volatile size_t capture_len;
static volatile int printers_done;

/* Runs under the console lock, so no atomics are needed. */
static void capture_all(int c, void *arg)
{
	if (capture_len < CAPTURE_SIZE)
		capture_buf[capture_len++] = (char)c;
}

static void line_printer(void *arg)
{
	int cpu = (int)(long)arg;

	for (int i = 0; i < LINES_PER_CPU; i++)
		kprintf("<cpu %d line %03d: the quick brown fox>\n", cpu, i);
	__atomic_add_fetch(&printers_done, 1, __ATOMIC_SEQ_CST);
	wakeup(&printers_done);
}

/* Is the line at p (up to its '\n') exactly one printer's line? */
static bool line_is_whole(const char *p, size_t len)
{
	static const char tail[] = ": the quick brown fox>";
	size_t tlen = sizeof(tail) - 1;

	if (len <= tlen + 5 || strncmp(p, "<cpu ", 5) != 0 ||
	    strncmp(p + len - tlen, tail, tlen) != 0)
		return false;
	for (size_t i = 1; i < len; i++)	/* no second line inside */
		if (p[i] == '<')
			return false;
	return true;
}

KTEST(console, lines_from_all_cpus_are_never_interleaved)
{
	struct thread *td[MAXCPU];
	int lines = 0, broken = 0;
	size_t start = 0;

	if (ncpus < 2)
		KT_SKIP("needs 2 CPUs, booted with 1");
	capture_len = 0;
	printers_done = 0;
	cons_set_tap(capture_all, NULL);
	for (int cpu = 0; cpu < ncpus; cpu++)
		KT_ASSERT_EQ(lwkt_create(line_printer, (void *)(long)cpu, &td[cpu],
					 0, cpu, "printer%d", cpu), 0);
	for (int cpu = 0; cpu < ncpus; cpu++)
		lwkt_thread_join(td[cpu]);
	cons_set_tap(NULL, NULL);
	for (size_t i = 0; i < capture_len; i++) {
		if (capture_buf[i] != '\n')
			continue;
		lines++;
		broken += !line_is_whole(&capture_buf[start], i - start);
		start = i + 1;
	}
	KT_EXPECT_EQ(lines, ncpus * LINES_PER_CPU);
	KT_EXPECT_EQ(broken, 0);
}
