/*
 * fs/hmr_kern.h - the kernel side of HMR (fs/hmr_kern.c, fs/hmr_vfs.c).
 */
#ifndef FS_HMR_KERN_H
#define FS_HMR_KERN_H

#include <fs/hmr.h>
#include <fs/vfs.h>

struct blkdev;

/* An hmr_bdev whose blocks live in the buffer cache of bd. */
void hmr_kbdev_init(struct hmr_bdev *dev, struct blkdev *bd);

/* HMR as a VFS filesystem type ("hmr"; the source is a blkdev name). */
extern const struct vfsops hmr_vfsops;

/* The HMR core mount behind mp, or NULL if mp is not HMR. */
struct hmr_mount *hmr_vfs_core(struct mount *mp);

#endif /* FS_HMR_KERN_H */
