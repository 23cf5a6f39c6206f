/*
 * libkern.c - memory and string helpers for a kernel without a C library.
 *
 * memcpy and memset use the x86 string instructions: rep movsq / rep stosq
 * for the 8-byte words, then rep movsb / rep stosb for the last 0-7 bytes.
 * Eight bytes a step matter under QEMU's -icount, which counts every
 * repetition as one instruction (a 4 KiB copy is 512 steps, not 4096), and
 * cost nothing on real CPUs.  They are also the functions GCC calls on its
 * own for struct copies, so they must exist even if no source file names
 * them.
 */
/*
 * Every function here is pure or touches only the memory it is given:
 * any context, any CPU, never blocks, takes no locks.
 */
#include <kern/types.h>
#include <kern/libkern.h>

/*
 * rep movsq copies RCX 8-byte words from [RSI] to [RDI], ascending (the
 * direction flag is clear: the ABI requires it, and trap_common does cld),
 * leaving RSI and RDI just past them for the rep movsb of the tail.
 */
/* The buffers must not overlap (use memmove then).  Returns dst. */
void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	size_t words = n / 8, tail = n % 8;

	/* The registers are "+" operands because the instructions move
	 * them; "memory" tells GCC the buffers changed behind its back. */
	__asm__ volatile("rep movsq\n\tmovq %3, %%rcx\n\trep movsb"
			 : "+D"(d), "+S"(src), "+c"(words)
			 : "r"(tail)
			 : "memory");
	return dst;
}

/* Like memcpy, but any overlap is allowed.  Returns dst. */
void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	/* An ascending copy is safe unless dst starts inside src. */
	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	/* Overlap with dst above src: copy backwards, last byte first. */
	while (n-- > 0)
		d[n] = s[n];
	return dst;
}

/* rep stosq stores RAX into RCX words at [RDI]; rep stosb the tail. */
/* Only the low byte of c is stored, as C requires.  Returns dst. */
void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	uint64_t pattern = 0x0101010101010101ULL * (uint8_t)c;
	size_t words = n / 8, tail = n % 8;

	__asm__ volatile("rep stosq\n\tmovq %3, %%rcx\n\trep stosb"
			 : "+D"(d), "+c"(words)
			 : "a"(pattern), "r"(tail)
			 : "memory");
	return dst;
}

/* The sign of the first differing byte, compared as unsigned (C11). */
int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (size_t i = 0; i < n; i++)
		if (p[i] != q[i])
			return p[i] < q[i] ? -1 : 1;
	return 0;
}

/* Bytes before the terminating NUL. */
size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}

/* strlen, but looks at no more than max bytes: safe on a buffer that
 * may lack its NUL. */
size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n] != '\0')
		n++;
	return n;
}

/* Like memcmp, the difference of the first differing bytes as unsigned
 * char; the terminating NUL takes part, so "ab" < "abc". */
int strcmp(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b) {
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

/* strcmp over at most n bytes; equal strings shorter than n stop at
 * their NUL. */
int strncmp(const char *a, const char *b, size_t n)
{
	for (; n > 0; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (*a == '\0')
			return 0;
	}
	return 0;
}

/* The NUL itself can be found: strchr(s, 0) points at the terminator. */
char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (*s == '\0')
			return NULL;
	}
}

/* Append src to the string in dst (size bytes in all), always
 * terminating; returns the length it tried to make, so a result >= size
 * means src was cut short. */
size_t strlcat(char *dst, const char *src, size_t size)
{
	size_t used = strnlen(dst, size);

	if (used == size)
		return size + strlen(src);
	return used + strlcpy(dst + used, src, size - used);
}

/* Returns strlen(src), so `strlcpy(...) >= size` detects truncation. */
/* Copies at most size - 1 bytes and always terminates (if size > 0). */
size_t strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/* A plain O(n*m) search: fine for tests and messages, its only users. */
/* Does needle occur in s?  The empty needle occurs in every string. */
bool strcontains(const char *s, const char *needle)
{
	size_t n = strlen(needle);

	for (; *s != '\0'; s++)
		if (strncmp(s, needle, n) == 0)
			return true;
	return n == 0;
}

/* The value of one digit in base, or -1. */
static int digit_value(char c, unsigned base)
{
	int v = -1;

	if (c >= '0' && c <= '9')
		v = c - '0';
	else if (c >= 'a' && c <= 'f')
		v = c - 'a' + 10;
	else if (c >= 'A' && c <= 'F')
		v = c - 'A' + 10;
	return v >= 0 && (unsigned)v < base ? v : -1;
}

/*
 * The string is not necessarily terminated (it may be a word inside the
 * command line), hence the explicit length.  No sign, no whitespace, no
 * trailing garbage: "12a" is an error, not 12.  *out is written only on
 * success.
 */
/* Parse decimal, or hex after 0x/0X; false on any error or overflow. */
bool parse_u64(const char *s, size_t len, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		len -= 2;
	}
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		int d = digit_value(s[i], base);

		/* v * base + d must not exceed UINT64_MAX; checked by
		 * dividing, since the multiplication itself could wrap. */
		if (d < 0 || v > (UINT64_MAX - (uint64_t)d) / base)
			return false;
		v = v * base + (uint64_t)d;
	}
	*out = v;
	return true;
}
