/*
 * kern/types.h - the basic types every kernel file uses.
 *
 * The kernel is freestanding: <stdint.h>, <stddef.h>, <stdbool.h> and
 * <stdarg.h> come from the compiler itself, never from a C library.
 */
#ifndef KERN_TYPES_H
#define KERN_TYPES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t vm_paddr_t;	/* a physical address */
typedef uint64_t vm_offset_t;	/* a kernel virtual address as a number */
typedef int64_t ssize_t;

#define __noreturn	__attribute__((noreturn))
#define __printflike(f, a) __attribute__((format(printf, f, a)))
#define __packed	__attribute__((packed))
#define __aligned(n)	__attribute__((aligned(n)))
#define __unused	__attribute__((unused))
#define __used		__attribute__((used))
#define __section(s)	__attribute__((section(s)))
#define __predict_false(x) __builtin_expect(!!(x), 0)
#define __predict_true(x) __builtin_expect(!!(x), 1)

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define roundup2(x, a)	(((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define rounddown2(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

#endif /* KERN_TYPES_H */
