/*
 * kern_cmdline.c - look words up in the kernel command line.
 *
 * The line GRUB passes is the rest of the `multiboot2` line in grub.cfg:
 *
 *     ktest=trap,panic ktest.seed=7 quiet
 *     \____________/ \__________/ \___/
 *      key=value       key=value    bare key
 *
 * The parser copies nothing and allocates nothing: it walks the string
 * word by word each time it is asked.  Command lines are short and asked
 * a handful of times at boot, so simplicity wins over speed here.
 *
 * Selection lists (the value of ktest= and kbench=) are comma-separated
 * entries, each "all", a group ("trap") or one item ("trap.int3_...").
 *
 * Every function here is pure, so tests/host/cmdline_test.c compiles this
 * file for the host and checks it under the sanitizers.
 */
#include <kern/types.h>
#include <kern/cmdline.h>
#include <kern/libkern.h>

static const char *boot_cmdline = "";

/* Boot CPU, once, before anything asks. */
void cmdline_init(const char *line)
{
	boot_cmdline = line != NULL ? line : "";
}

const char *cmdline_string(void)
{
	return boot_cmdline;
}

/* Length of the word at s: up to the next space or the end. */
static size_t word_length(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0' && s[n] != ' ')
		n++;
	return n;
}

/* If word (of length len) is key or key=value, return the value's start
 * (the empty string's end for a bare key); else NULL. */
static const char *word_matches(const char *word, size_t len, const char *key)
{
	size_t klen = strlen(key);

	if (len < klen || strncmp(word, key, klen) != 0)
		return NULL;
	if (len == klen)
		return word + len;
	return word[klen] == '=' ? word + klen + 1 : NULL;
}

bool cmdline_lookup(const char *line, const char *key, char *val, size_t size)
{
	const char *p = line;

	if (size > 0)
		val[0] = '\0';
	/* One word per iteration; runs of spaces between words are skipped. */
	while (*p != '\0') {
		size_t len = word_length(p);
		const char *v = word_matches(p, len, key);

		if (v != NULL) {
			size_t vlen = len - (size_t)(v - p);

			/* A truncated value could select the wrong tests
			 * ("ktest=trap,pani"): refuse rather than guess. */
			if (vlen + 1 > size)
				return false;
			memcpy(val, v, vlen);
			val[vlen] = '\0';
			return true;
		}
		p += len;
		while (*p == ' ')
			p++;
	}
	return false;
}

bool cmdline_get(const char *key, char *val, size_t size)
{
	return cmdline_lookup(boot_cmdline, key, val, size);
}

/*
 * Does the single entry (len bytes at e, not terminated) select
 * (group, item)?  "all" does when all_counts; "group" selects each of its
 * items; "group.item" selects exactly one.  A prefix never matches:
 * "print" does not select group "printf".
 */
static bool entry_selects(const char *e, size_t len, const char *group,
			  const char *item, bool all_counts)
{
	size_t glen = strlen(group);

	if (len == 3 && strncmp(e, "all", 3) == 0)
		return all_counts;
	if (len < glen || strncmp(e, group, glen) != 0)
		return false;
	if (len == glen)
		return true;
	return e[glen] == '.' && len - glen - 1 == strlen(item) &&
	       strncmp(e + glen + 1, item, len - glen - 1) == 0;
}

/* The walk behind cmdline_list_selects() and cmdline_list_names(). */
static bool list_selects(const char *list, const char *group,
			 const char *item, bool all_counts)
{
	const char *p = list;

	/* One comma-separated entry per iteration; empty entries are
	 * ignored, so ",," or a trailing comma selects nothing extra. */
	while (*p != '\0') {
		size_t len = 0;

		while (p[len] != '\0' && p[len] != ',')
			len++;
		if (len > 0 && entry_selects(p, len, group, item, all_counts))
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

bool cmdline_list_selects(const char *list, const char *group,
			  const char *item)
{
	return list_selects(list, group, item, true);
}

bool cmdline_list_names(const char *list, const char *group, const char *item)
{
	return list_selects(list, group, item, false);
}
