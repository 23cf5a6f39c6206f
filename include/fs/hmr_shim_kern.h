/*
 * hmr_shim_kern.h - what the kernel supplies to host the HMR core.
 *
 * Included by hmr_shim.h when HMR_KERNEL is defined (the kernel build and
 * the freestanding check in fs/hmr/hmr.mk).  The mount lock is a
 * serializer: an exclusive lock that stays held while its holder sleeps
 * on the disk (kern/serialize.h).  Error numbers are the kernel's own
 * (BSD values).  The functions hmr_shim.h declares are defined in
 * fs/hmr_kern.c; memcpy, memmove, memset and memcmp, which the compiler
 * may call for the __builtin_ helpers, are the kernel's libkern.
 */
#ifndef FS_HMR_SHIM_KERN_H
#define FS_HMR_SHIM_KERN_H

#include <kern/errno.h>
#include <kern/serialize.h>

typedef struct lwkt_serialize hmr_lock_t;

#endif /* FS_HMR_SHIM_KERN_H */
