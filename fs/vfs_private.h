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

/* Find (mp, ino, asof) in the vnode table and reference it; NULL if it
 * is not there.  mnt_token held. */
struct vnode *vfs_vget_locked(struct mount *mp, uint64_t ino, uint64_t asof);
/* The same without taking a reference: the vnode stays valid only while
 * mnt_token is held. */
struct vnode *vfs_vfind_locked(struct mount *mp, uint64_t ino, uint64_t asof);
/* The root mount with its mnt_token held, or NULL (nothing mounted). */
struct mount *vfs_root_mount_hold(void);

/* vfs_cache.c: the name and attribute caches (see there). */
extern volatile uint64_t vfs_nc_hits, vfs_nc_misses, vfs_attr_hits;
void vfs_cache_init(struct mount *mp);	/* a new mount's; may block */
void vfs_cache_fini(struct mount *mp);	/* before the mount is freed */
void vfs_modified(struct mount *mp);
uint64_t vfs_generation(struct mount *mp);
struct vnode *vfs_cache_lookup(struct vnode *dvp, const char *name);
void vfs_cache_enter(struct vnode *dvp, const char *name, struct vnode *vp,
		     uint64_t gen);
int vfs_getattr(struct vnode *vp, struct vattr *va);
bool vfs_cache_stat(const char *path, bool follow, struct vattr *va);

/* The root mount's root vnode, referenced; NULL before vfs_init. */
struct vnode *vfs_rootvnode(void);
/* The root of the mount covering dir, referenced; NULL if none. */
struct vnode *vfs_mounted_root(struct vnode *dir);

#endif /* FS_VFS_PRIVATE_H */
