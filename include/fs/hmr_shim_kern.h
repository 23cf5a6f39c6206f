/*
 * hmr_shim_kern.h - what the kernel must supply to host the HMR core.
 *
 * Included by hmr_shim.h when HMR_KERNEL is defined.  The kernel provides
 * a sleepable mutex type named hmr_lock_t, the errno values, and the
 * functions declared in hmr_shim.h (hmr_alloc, hmr_alloc_raw, hmr_free,
 * hmr_lock_*, hmr_now_ns, hmr_log, hmr_panic), plus memcpy, memmove,
 * memset and memcmp, which the
 * compiler may call for the __builtin_ helpers.  Until the kernel port
 * exists this file gives a stand-in so that `make` can prove the core
 * compiles freestanding, with no libc header anywhere.
 */
#ifndef FS_HMR_SHIM_KERN_H
#define FS_HMR_SHIM_KERN_H

/* A sleep mutex; the kernel's real type replaces this stand-in. */
typedef struct {
	volatile int owner;
} hmr_lock_t;

/* errno values, as in the kernel's sys/errno.h (BSD numbering). */
#define EPERM 1
#define ENOENT 2
#define EIO 5
#define ENOMEM 12
#define EEXIST 17
#define EXDEV 18
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define EFBIG 27
#define ENOSPC 28
#define EROFS 30
#define EMLINK 31
#define ERANGE 34
#define ENAMETOOLONG 63
#define ENOTEMPTY 66
#define EBUSY 16

#endif /* FS_HMR_SHIM_KERN_H */
