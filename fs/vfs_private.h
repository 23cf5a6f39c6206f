/*
 * vfs_private.h - what the VFS files share and nothing else may use.
 */
#ifndef FS_VFS_PRIVATE_H
#define FS_VFS_PRIVATE_H

#include <fs/vfs.h>
#include <kern/malloc.h>

MALLOC_DECLARE(M_VFS);

extern struct lwkt_token vfs_token;
extern volatile uint64_t vfs_files_open, vfs_lookups;

/* The root mount's root vnode, referenced; NULL before vfs_init. */
struct vnode *vfs_rootvnode(void);
/* The root of the mount covering dir, referenced; NULL if none. */
struct vnode *vfs_mounted_root(struct vnode *dir);

#endif /* FS_VFS_PRIVATE_H */
