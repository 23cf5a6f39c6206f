/*
 * kern/libkern.h - the little C library the kernel carries (kern/libkern.c).
 *
 * The usual meanings of the standard C functions of the same names.  All
 * are pure: any context, never block.
 */
#ifndef KERN_LIBKERN_H
#define KERN_LIBKERN_H

#include <kern/types.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
/* Copy at most size-1 bytes and terminate; returns strlen(src). */
size_t strlcpy(char *dst, const char *src, size_t size);
/* Append src to dst (size bytes in all), always terminating; returns the
 * length it tried to make (>= size: cut short). */
size_t strlcat(char *dst, const char *src, size_t size);
/* Does s contain needle? */
bool strcontains(const char *s, const char *needle);
/* Parse an unsigned number (decimal, or hex with 0x); false if malformed. */
bool parse_u64(const char *s, size_t len, uint64_t *out);

#endif /* KERN_LIBKERN_H */
