/*
 * fs/hmr_kern.h - the kernel side of HMR (fs/hmr_kern.c, fs/hmr_vfs.c;
 * docs/storage.md).
 *
 * The HMR core (fs/hmr/) knows nothing of the kernel: it reads and
 * writes blocks through a struct hmr_bdev and calls the shim functions
 * of fs/hmr_shim.h.  This header gives the kernel's two ends of that:
 * a block device on the buffer cache, and HMR as a VFS filesystem type.
 */
#ifndef FS_HMR_KERN_H
#define FS_HMR_KERN_H

#include <fs/hmr.h>
#include <fs/vfs.h>

struct blkdev;

/* An hmr_bdev whose blocks live in the buffer cache of bd: reads go
 * through bread, writes are bdwrite (written back later), flush is
 * bflush (every dirty block, then a device FLUSH).  Never blocks. */
void hmr_kbdev_init(struct hmr_bdev *dev, struct blkdev *bd);

/* HMR as a VFS filesystem type ("hmr"; the source is a blkdev name). */
extern const struct vfsops hmr_vfsops;

/* The HMR core mount behind mp, or NULL if mp is not HMR (the shell's
 * snap uses it: snapshots are not a VFS operation).  Valid while mp
 * stays mounted.  Any thread. */
struct hmr_mount *hmr_vfs_core(struct mount *mp);

/* The flusher commits at least this often (fs/hmr_vfs.c). */
#define HMR_FLUSH_SECONDS	5

/* For tests: when set, the next writable HMR mount finds its flusher
 * thread cannot be made (ENOMEM, as when memory is out) and clears it.
 * The mounting thread's; no lock. */
extern bool hmr_vfs_fail_next_flusher;

#endif /* FS_HMR_KERN_H */
