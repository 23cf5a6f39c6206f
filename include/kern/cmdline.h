/*
 * kern/cmdline.h - the kernel command line (kern/kern_cmdline.c).
 *
 * The line is a list of words separated by spaces; a word is `key=value`
 * or a bare `key`.  Known keys:
 *
 *   ktest=all | suite[,suite|suite.test ...]   run in-kernel tests, then exit
 *   ktest.seed=N                               seed for randomised tests
 *   kbench=all | name[,name ...]               run benchmarks, then exit
 */
#ifndef KERN_CMDLINE_H
#define KERN_CMDLINE_H

#include <kern/types.h>

/* Remember the boot command line (the string must stay valid). */
void cmdline_init(const char *line);
/* The boot command line as given. */
const char *cmdline_string(void);

/*
 * Look key up in line.  If found, copy its value (empty for a bare key)
 * into val (size bytes, always terminated) and return true; a value that
 * does not fit is an error: false is returned and *val is "".
 * Pure; any context.
 */
bool cmdline_lookup(const char *line, const char *key, char *val, size_t size);

/* cmdline_lookup() on the boot command line. */
bool cmdline_get(const char *key, char *val, size_t size);

/*
 * Does a comma-separated selection list select (group, item)?  "all"
 * selects everything; "group" selects all items of a group; "group.item"
 * selects one item.  Pure; any context.
 */
bool cmdline_list_selects(const char *list, const char *group,
			  const char *item);

/* The same, except that "all" does not count: the group must be named. */
bool cmdline_list_names(const char *list, const char *group, const char *item);

#endif /* KERN_CMDLINE_H */
