/*
 * subr_prf.c - the printf formatter, shared by kprintf and ksnprintf.
 *
 * kvformat() turns a format and its arguments into characters and hands each
 * one to an output function.  It knows nothing about consoles or buffers, so
 * the same file is compiled for the host and tested there with sanitizers
 * (tests/host/printf_test.c).
 *
 * Supported conversions, with GCC's format checking on every caller:
 *
 *     %d %i %u %x %X %o %c %s %p %%
 *     length modifiers  hh h l ll z j t
 *     flags             '-' (left-justify)  '0' (zero pad)  '+' ' ' '#'
 *     width and precision, either as digits or '*'
 *
 * Floating point is deliberately absent: kernel code has no SSE.
 *
 * Context: none needed.  The formatter keeps no state between calls,
 * allocates nothing, takes no lock and never blocks, so it may run in
 * an interrupt handler, a critical section or a panic; whatever the
 * output function needs (kprintf's console lock) is its own affair.
 * Stack use is small and fixed: one struct fmt_spec and 24 bytes of
 * digits per conversion, no recursion.
 */
#include <kern/types.h>
#include <kern/kprintf.h>

/* What one conversion asked for, parsed from "%-08lx" and friends. */
struct fmt_spec {
	bool left;		/* '-': pad on the right */
	bool zero;		/* '0': pad numbers with zeroes */
	bool plus;		/* '+': always print a sign */
	bool space;		/* ' ': a space where '+' would go */
	bool alt;		/* '#': 0x prefix for %x */
	int width;		/* minimum field width, 0 if none */
	int precision;		/* -1 if none */
	int length;		/* number of 'l's; 'z', 'j', 't' count as 2 */
	int half;		/* number of 'h's: 1 short, 2 char */
};

/* The output side: a callback plus a running count of characters. */
struct fmt_out {
	kvformat_putc_t putc;
	void *arg;		/* passed to putc unchanged */
	int count;		/* characters emitted so far: the result */
};

/* Hand one character to the output function and count it. */
static void emit(struct fmt_out *out, char c)
{
	out->putc(c, out->arg);
	out->count++;
}

/* Emit n copies of c (nothing when n <= 0). */
static void emit_pad(struct fmt_out *out, char c, int n)
{
	while (n-- > 0)
		emit(out, c);
}

/* Emit a string of len bytes, padded to the spec's width. */
static void emit_field(struct fmt_out *out, const struct fmt_spec *sp,
		       const char *s, int len)
{
	int pad = sp->width > len ? sp->width - len : 0;

	if (!sp->left)
		emit_pad(out, ' ', pad);
	for (int i = 0; i < len; i++)
		emit(out, s[i]);
	if (sp->left)
		emit_pad(out, ' ', pad);
}

/*
 * Emit an unsigned magnitude in a base, with an optional sign or prefix,
 * honouring width, precision, zero padding and left justification.
 *
 * The field is laid out as
 *
 *     [spaces] [prefix] [zeros] digits [spaces]
 *
 * where the prefix is a sign ("-", "+", " ") or a base marker ("0x"),
 * the zeros come from the precision (minimum digit count) or from the '0'
 * flag, and the spaces fill the width on the left, or on the right with
 * '-'.  C ignores '0' when a precision is given, and so do we.
 */
static void emit_number(struct fmt_out *out, const struct fmt_spec *sp,
			uint64_t value, unsigned base, bool upper,
			const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24];
	int ndigits = 0, nprefix = 0, zeros = 0, pad;

	/* Digits come out least significant first; they are emitted
	 * backwards below. */
	do {
		buf[ndigits++] = digits[value % base];
		value /= base;
	} while (value != 0);
	if (sp->precision == 0 && ndigits == 1 && buf[0] == '0')
		ndigits = 0;	/* C: "%.0d" of zero prints nothing */
	while (prefix[nprefix] != '\0')
		nprefix++;
	if (sp->precision > ndigits)
		zeros = sp->precision - ndigits;
	pad = sp->width - (nprefix + zeros + ndigits);
	if (pad > 0 && sp->zero && !sp->left && sp->precision < 0) {
		zeros += pad;
		pad = 0;
	}
	if (!sp->left)
		emit_pad(out, ' ', pad);
	for (int i = 0; i < nprefix; i++)
		emit(out, prefix[i]);
	emit_pad(out, '0', zeros);
	while (ndigits > 0)
		emit(out, buf[--ndigits]);
	if (sp->left)
		emit_pad(out, ' ', pad);
}

/* The flags, any number of them in any order: "-0+ #".  Returns the
 * first character that is no flag. */
static const char *parse_flags(const char *fmt, struct fmt_spec *sp)
{
	for (;; fmt++) {
		if (*fmt == '-')
			sp->left = true;
		else if (*fmt == '0')
			sp->zero = true;
		else if (*fmt == '+')
			sp->plus = true;
		else if (*fmt == ' ')
			sp->space = true;
		else if (*fmt == '#')
			sp->alt = true;
		else
			return fmt;
	}
}

/* The width: '*' (from the arguments; negative means '-' and its
 * magnitude, as C says) or digits.  Returns what follows it. */
static const char *parse_width(const char *fmt, struct fmt_spec *sp,
			       va_list *ap)
{
	if (*fmt == '*') {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0) {
			sp->left = true;
			sp->width = -sp->width;
		}
		fmt++;
	}
	while (*fmt >= '0' && *fmt <= '9')
		sp->width = sp->width * 10 + (*fmt++ - '0');
	return fmt;
}

/* The precision, if a '.' comes: '*' or digits; "." alone means 0.  A
 * negative '*' precision stays negative, which every conversion reads
 * as "none", as C asks.  Returns what follows it. */
static const char *parse_precision(const char *fmt, struct fmt_spec *sp,
				   va_list *ap)
{
	if (*fmt != '.')
		return fmt;
	fmt++;
	sp->precision = 0;
	if (*fmt == '*') {
		sp->precision = va_arg(*ap, int);
		fmt++;
	}
	while (*fmt >= '0' && *fmt <= '9')
		sp->precision = sp->precision * 10 + (*fmt++ - '0');
	return fmt;
}

/* The length modifiers.  On x86-64 long, long long, size_t, intmax_t
 * and ptrdiff_t are all 64 bits, so 'z', 'j' and 't' are "ll". */
static const char *parse_length(const char *fmt, struct fmt_spec *sp)
{
	for (;; fmt++) {
		if (*fmt == 'l')
			sp->length++;
		else if (*fmt == 'z' || *fmt == 'j' || *fmt == 't')
			sp->length = 2;
		else if (*fmt == 'h')
			sp->half++;
		else
			return fmt;
	}
}

/*
 * Parse the part of a conversion between '%' and its letter -- flags,
 * width, precision and length modifiers, in that order (C11 7.21.6.1) --
 * into *sp.  A '*' takes the value from the argument list; a negative '*'
 * width means '-' plus the positive width.  Returns a pointer to the
 * conversion letter.
 */
static const char *parse_spec(const char *fmt, struct fmt_spec *sp,
			      va_list *ap)
{
	*sp = (struct fmt_spec){ .precision = -1 };
	fmt = parse_flags(fmt, sp);
	fmt = parse_width(fmt, sp, ap);
	fmt = parse_precision(fmt, sp, ap);
	return parse_length(fmt, sp);
}

/*
 * Fetch an integer argument of the size the length modifiers name.  Types
 * narrower than int were promoted to int by the call, so 'h' and 'hh'
 * fetch an int and cut it back down, as C's printf does.
 */
static uint64_t fetch_unsigned(const struct fmt_spec *sp, va_list *ap)
{
	uint64_t v = sp->length ? va_arg(*ap, unsigned long)
				: va_arg(*ap, unsigned int);

	if (sp->half >= 2)
		return (unsigned char)v;
	if (sp->half == 1)
		return (unsigned short)v;
	return v;
}

/* The signed twin of fetch_unsigned(). */
static int64_t fetch_signed(const struct fmt_spec *sp, va_list *ap)
{
	int64_t v = sp->length ? va_arg(*ap, long) : va_arg(*ap, int);

	if (sp->half >= 2)
		return (signed char)v;
	if (sp->half == 1)
		return (short)v;
	return v;
}

/* %d and %i: a sign (or '+'/' ' when asked for), then the magnitude. */
static void convert_signed(struct fmt_out *out, const struct fmt_spec *sp,
			   va_list *ap)
{
	int64_t v = fetch_signed(sp, ap);
	const char *sign = sp->plus ? "+" : sp->space ? " " : "";
	/* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
	uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;

	emit_number(out, sp, mag, 10, false, v < 0 ? "-" : sign);
}

/* %s: at most `precision` bytes of s; a NULL prints "(null)" rather than
 * faulting, because a debugging print should never be what crashes. */
static void convert_string(struct fmt_out *out, const struct fmt_spec *sp,
			   const char *s)
{
	int len = 0;

	if (s == NULL)
		s = "(null)";
	while (s[len] != '\0' && (sp->precision < 0 || len < sp->precision))
		len++;
	emit_field(out, sp, s, len);
}

/* Carry out one conversion; c is the conversion character. */
static void convert(struct fmt_out *out, struct fmt_spec *sp, char c,
		    va_list *ap)
{
	uint64_t v;
	char ch;

	switch (c) {
	case 'd':
	case 'i':
		convert_signed(out, sp, ap);
		break;
	case 'u':
		emit_number(out, sp, fetch_unsigned(sp, ap), 10, false, "");
		break;
	case 'o':
		v = fetch_unsigned(sp, ap);
		emit_number(out, sp, v, 8, false, sp->alt && v ? "0" : "");
		break;
	case 'x':
	case 'X':
		/* C: '#' adds 0x only to a non-zero value. */
		v = fetch_unsigned(sp, ap);
		emit_number(out, sp, v, 16, c == 'X',
			    sp->alt && v ? (c == 'X' ? "0X" : "0x") : "");
		break;
	case 'p':
		sp->length = 2;
		emit_number(out, sp, (uint64_t)(uintptr_t)va_arg(*ap, void *),
			    16, false, "0x");
		break;
	case 'c':
		ch = (char)va_arg(*ap, int);
		emit_field(out, sp, &ch, 1);
		break;
	case 's':
		convert_string(out, sp, va_arg(*ap, const char *));
		break;
	default:
		/* %% and unknown conversions print themselves. */
		emit(out, '%');
		if (c != '%')
			emit(out, c);
		break;
	}
}

/*
 * The formatter's main loop: copy plain characters, hand each conversion
 * to parse_spec() and convert().  Works on a copy of ap so that callers
 * may use their va_list again.  Returns the number of characters emitted.
 */
int kvformat(kvformat_putc_t putc, void *arg, const char *fmt, va_list ap)
{
	struct fmt_out out = { .putc = putc, .arg = arg, .count = 0 };
	struct fmt_spec spec;
	va_list aq;

	va_copy(aq, ap);
	while (*fmt != '\0') {
		if (*fmt != '%') {
			emit(&out, *fmt++);
			continue;
		}
		fmt = parse_spec(fmt + 1, &spec, &aq);
		if (*fmt == '\0')
			break;	/* a lone '%' at the end prints nothing */
		convert(&out, &spec, *fmt++, &aq);
	}
	va_end(aq);
	return out.count;
}

/* ksnprintf's sink: store while there is room, always count. */
struct snbuf {
	char *buf;
	size_t size;		/* bytes of buf, the NUL's included */
	size_t len;		/* characters produced, stored or not */
};

/* Store c if a byte stays free for the NUL; count it either way, so the
 * result says how long the whole output would have been. */
static void snbuf_putc(int c, void *arg)
{
	struct snbuf *sb = arg;

	if (sb->len + 1 < sb->size)
		sb->buf[sb->len] = (char)c;
	sb->len++;
}

/* C's vsnprintf contract: see kern/kprintf.h. */
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct snbuf sb = { .buf = buf, .size = size, .len = 0 };
	int n = kvformat(snbuf_putc, &sb, fmt, ap);

	if (size > 0)
		buf[sb.len < size ? sb.len : size - 1] = '\0';
	return n;
}

/* kvsnprintf with the arguments in place (kern/kprintf.h): the length
 * of the whole output, of which buf holds what fits, NUL-terminated. */
int ksnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
