/*
 * hmr_shim.h - the only door between the HMR core and the world around it.
 *
 * The filesystem core (fs/hmr/) is built twice: into host programs (mkfs,
 * fsck, the FUSE daemon, the tests) and, later, into the kernel.  To make
 * that possible the core never includes a libc header.  Everything it needs
 * from its environment passes through this file:
 *
 *   - fixed-width integer types (from the compiler's own freestanding
 *     headers, which exist even with -ffreestanding -nostdinc);
 *   - memory: hmr_alloc() returns zeroed memory, hmr_free() releases it;
 *   - byte helpers: hmr_memcpy/hmr_memset/hmr_memcmp (compiler builtins);
 *   - one mutex type for the mount lock;
 *   - the time of day in nanoseconds, for timestamps only (never for TIDs);
 *   - a log line for events an operator should see (superblock fallback);
 *   - HMR_ASSERT for contracts: a broken contract is a bug, so it panics.
 *
 * On the host (the default) the functions live in hmr_shim_host.c on top
 * of libc.  In the kernel (HMR_KERNEL defined) the kernel supplies the same
 * names; hmr_shim_kern.h lists what it must provide.  Error numbers are the
 * usual errno values (ENOENT, EIO, ...), taken from the environment.
 */
#ifndef FS_HMR_SHIM_H
#define FS_HMR_SHIM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef HMR_KERNEL
#include "hmr_shim_kern.h"
#else
#include <errno.h>
#include <pthread.h>
/* The host lock is a plain pthread mutex. */
typedef pthread_mutex_t hmr_lock_t;
#endif

/* Zeroed allocation of `size` bytes; NULL when memory is exhausted. */
void *hmr_alloc(size_t size);
/* Uninitialised allocation, for buffers the caller fills at once (block
 * buffers: zeroing 4 KiB that a device read overwrites is waste). */
void *hmr_alloc_raw(size_t size);
/* Release memory from hmr_alloc(); NULL is accepted and ignored. */
void hmr_free(void *ptr);

/* The mount lock.  May block; never taken from interrupt context. */
void hmr_lock_init(hmr_lock_t *lock);
void hmr_lock_acquire(hmr_lock_t *lock);
void hmr_lock_release(hmr_lock_t *lock);
void hmr_lock_destroy(hmr_lock_t *lock);

/* Wall-clock nanoseconds since 1970; used for timestamps shown to users. */
uint64_t hmr_now_ns(void);

/* One line for the operator (kernel console or host stderr). */
void hmr_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Stop: a contract was broken.  `why` says which and what usually causes it. */
void hmr_panic(const char *file, int line, const char *why)
	__attribute__((noreturn));

#define HMR_ASSERT(cond, why)                                  \
	do {                                                   \
		if (!(cond))                                   \
			hmr_panic(__FILE__, __LINE__, (why));  \
	} while (0)

#define hmr_memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#define hmr_memmove(d, s, n) __builtin_memmove((d), (s), (n))
#define hmr_memset(d, c, n) __builtin_memset((d), (c), (n))
#define hmr_memcmp(a, b, n) __builtin_memcmp((a), (b), (n))

/* Length of a NUL-terminated string (the core's only string helper). */
static inline size_t hmr_strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}

#endif /* FS_HMR_SHIM_H */
