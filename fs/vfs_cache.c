/*
 * vfs_cache.c - the name cache and the attribute cache: what a repeated
 * lookup and stat find without asking the filesystem.
 *
 * Asking HMR costs a B-tree search under its mount lock for every path
 * component and another for the attributes.  A name that was just looked
 * up, and a file whose attributes were just read, usually have not
 * changed since, and the VFS can know that cheaply: every operation that
 * changes a mount's contents goes through the VFS (vfs_ops.c), which then
 * calls vfs_modified() to advance the mount's generation, mnt_gen.
 *
 *   name cache   per mount, VFS_NCACHE entries, direct-mapped by a hash of
 *                (directory inode, name):  (dir, name) -> inode, tagged
 *                with the generation it was looked up in
 *   attr cache   per vnode: v_attr, tagged with its generation v_attr_gen
 *
 * An entry counts only while its tag equals mnt_gen, so any change to the
 * mount makes every entry stale at once: no entry is ever wrong, and none
 * needs finding to be purged.  The price is that one write anywhere empties
 * the mount's caches; a filesystem busy writing gets few hits, one being
 * read gets almost only hits.  The tag is the generation read *before* the
 * filesystem was asked, so an answer that raced with a change is stale
 * from the start.
 *
 * Only the live view is cached.  History (a directory or file as of a
 * TID, "name@@0x<tid>") can vanish under a prune that the VFS never sees,
 * so those lookups always go to the filesystem.
 *
 * A name cache hit still needs the vnode: the entry names an inode, and
 * the vnode is taken from the mount's vnode table in the same hold of the
 * mount token.  If the vnode was reclaimed meanwhile, the hit is a miss.
 * Entries hold no references, so nothing here pins memory or a vnode.
 *
 * A stat whose every step is cached (vfs_cache_stat) goes further: it
 * walks the whole path and copies the attributes in one hold of the
 * root mount's token, taking no vnode reference at all -- while the
 * token is held no vnode of the mount can be reclaimed, so none needs
 * pinning.  It answers only the plain case: names in the root mount,
 * no "..", no symlink to follow, no mount point on the way.  Anything
 * else is a miss, and the lookup takes the long way (vfs_lookup.c),
 * which gives the same answer.
 *
 * Locking: entries, v_attr and v_attr_gen change and are read under the
 * mount's token (mnt_token); mnt_gen is atomic.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <fs/vfs.h>
#include "vfs_private.h"

/* One name cache entry: (dir_ino, name) -> ino, valid in generation gen. */
struct ncentry {
	uint64_t gen;			/* 0: never filled */
	uint64_t dir_ino, ino;
	uint8_t len;
	char name[VFS_NC_NAMELEN];
};

/* Counters: atomics, reported by vfs_get_stats. */
volatile uint64_t vfs_nc_hits, vfs_nc_misses, vfs_attr_hits;

/* FNV-1a over the name, seeded with the directory: the entry's slot. */
static struct ncentry *nc_slot(struct mount *mp, uint64_t dir_ino,
			       const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ dir_ino;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 0x100000001b3ull;
	return &mp->mnt_ncache[(h ^ (h >> 32)) % VFS_NCACHE];
}

/* Is e the entry for (dir_ino, name) in generation gen? */
static bool nc_match(const struct ncentry *e, uint64_t gen, uint64_t dir_ino,
		     const char *name, size_t len)
{
	return e->gen == gen && e->dir_ino == dir_ino && e->len == len &&
	       memcmp(e->name, name, len) == 0;
}

/* Give a new mount its empty name cache.  Thread context; may block. */
void vfs_cache_init(struct mount *mp)
{
	mp->mnt_gen = 1;		/* 0 tags nothing cached */
	mp->mnt_ncache = kmalloc(VFS_NCACHE * sizeof(struct ncentry), M_VFS,
				 M_WAITOK | M_ZERO);
}

/* Free mp's name cache; nobody may look up in mp any more. */
void vfs_cache_fini(struct mount *mp)
{
	kfree(mp->mnt_ncache, M_VFS);
	mp->mnt_ncache = NULL;
}

/*
 * Advance mp's generation: everything cached about it so far is stale.
 * Called after each operation that may have changed the mount (also when
 * it failed: it may have changed something first).  Any context.
 */
void vfs_modified(struct mount *mp)
{
	__atomic_add_fetch(&mp->mnt_gen, 1, __ATOMIC_RELEASE);
}

/* The generation to tag an answer with; read before asking the fs. */
uint64_t vfs_generation(struct mount *mp)
{
	return __atomic_load_n(&mp->mnt_gen, __ATOMIC_ACQUIRE);
}

/* May (dvp, name) be cached at all?  Live view, short names only. */
static bool nc_cacheable(struct vnode *dvp, size_t len)
{
	return dvp->v_asof == 0 && len <= VFS_NC_NAMELEN;
}

/*
 * The vnode a fresh cache entry names for (dvp, name), referenced, or
 * NULL (not cached, stale, or its vnode was reclaimed: ask the
 * filesystem).  Never "." or "..": the lookup handles those first.
 * Thread context; takes and drops mnt_token; does not block.
 */
struct vnode *vfs_cache_lookup(struct vnode *dvp, const char *name)
{
	struct mount *mp = dvp->v_mount;
	size_t len = strlen(name);
	struct ncentry *e;
	struct vnode *vp = NULL;

	if (!nc_cacheable(dvp, len))
		return NULL;
	e = nc_slot(mp, dvp->v_ino, name, len);
	lwkt_gettoken(&mp->mnt_token);
	if (nc_match(e, vfs_generation(mp), dvp->v_ino, name, len) &&
	    !mp->mnt_unmounting)
		vp = vfs_vget_locked(mp, e->ino, 0);
	lwkt_reltoken(&mp->mnt_token);
	__atomic_add_fetch(vp ? &vfs_nc_hits : &vfs_nc_misses, 1,
			   __ATOMIC_RELAXED);
	return vp;
}

/*
 * Remember that the filesystem found vp under (dvp, name) in generation
 * gen (read before it was asked).  Dropped if the mount changed since,
 * or if either side is a view of history.  Thread context; mnt_token.
 */
void vfs_cache_enter(struct vnode *dvp, const char *name, struct vnode *vp,
		     uint64_t gen)
{
	struct mount *mp = dvp->v_mount;
	size_t len = strlen(name);
	struct ncentry *e;

	KASSERT(vp->v_mount == mp, "vfs_cache_enter: %s names a vnode of "
		"another mount; enter before crossing mount points", name);
	if (!nc_cacheable(dvp, len) || vp->v_asof != 0)
		return;
	e = nc_slot(mp, dvp->v_ino, name, len);
	lwkt_gettoken(&mp->mnt_token);
	if (vfs_generation(mp) == gen) {
		e->gen = gen;
		e->dir_ino = dvp->v_ino;
		e->ino = vp->v_ino;
		e->len = (uint8_t)len;
		memcpy(e->name, name, len);
	}
	lwkt_reltoken(&mp->mnt_token);
}

/*
 * vp's attributes: the copy cached in the vnode if the mount has not
 * changed since it was read, else the filesystem's (then cached).
 * Returns 0 or the filesystem's errno.  Thread context; may block.
 */
int vfs_getattr(struct vnode *vp, struct vattr *va)
{
	struct mount *mp = vp->v_mount;
	uint64_t gen = vfs_generation(mp);
	bool hit;
	int error;

	lwkt_gettoken(&mp->mnt_token);
	hit = vp->v_attr_gen == gen && vp->v_asof == 0;
	if (hit)
		*va = vp->v_attr;
	lwkt_reltoken(&mp->mnt_token);
	if (hit) {
		__atomic_add_fetch(&vfs_attr_hits, 1, __ATOMIC_RELAXED);
		return 0;
	}
	if ((error = vp->v_ops->vop_getattr(vp, va)) != 0)
		return error;
	lwkt_gettoken(&mp->mnt_token);
	if (vfs_generation(mp) == gen) {
		vp->v_attr = *va;
		vp->v_attr_gen = gen;
	}
	lwkt_reltoken(&mp->mnt_token);
	return 0;
}

/*
 * The vnode (not referenced) that the name cache says name[0..len) is
 * in directory dir, or NULL if it does not know.  mnt_token held.
 */
static struct vnode *nc_step_locked(struct mount *mp, uint64_t gen,
				    struct vnode *dir, const char *name,
				    size_t len)
{
	struct ncentry *e;

	if (dir->v_type != VDIR || !nc_cacheable(dir, len))
		return NULL;
	e = nc_slot(mp, dir->v_ino, name, len);
	if (!nc_match(e, gen, dir->v_ino, name, len))
		return NULL;
	return vfs_vfind_locked(mp, e->ino, 0);
}

/*
 * May a cached walk pass through vp (more follows) or stop at it?  Not
 * at a mount point, and not at a symlink that must be followed.
 */
static bool nc_plain(struct vnode *vp, const char *rest, bool follow)
{
	if (__atomic_load_n(&vp->v_mountedhere, __ATOMIC_ACQUIRE) != NULL)
		return false;
	if (*rest == '/')		/* "name/": a directory, never a link */
		return vp->v_type == VDIR;
	return vp->v_type != VLNK || !follow;
}

/*
 * Walk path from mp's root through the name cache alone: the vnode it
 * names (not referenced), or NULL as soon as a step is not plainly
 * cached.  The limits are the long way's, so a path it would refuse is
 * never answered here.  mnt_token held.
 */
static struct vnode *nc_walk_locked(struct mount *mp, uint64_t gen,
				    const char *path, bool follow)
{
	struct vnode *vp = mp->mnt_root;
	const char *p = path, *name;
	int depth = 1;

	while (vp != NULL) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			return p - path < VFS_PATH_MAX ? vp : NULL;
		for (name = p; *p != '\0' && *p != '/'; p++)
			;
		if (p - name == 1 && name[0] == '.')
			continue;
		if (p - name == 2 && name[0] == '.' && name[1] == '.')
			return NULL;		/* ".." needs the walked stack */
		if (++depth == VFS_MAXDEPTH)
			return NULL;
		vp = nc_step_locked(mp, gen, vp, name, (size_t)(p - name));
		if (vp != NULL && !nc_plain(vp, p, follow))
			return NULL;
	}
	return NULL;
}

/*
 * Answer a stat (follow) or lstat of path from the caches alone: true
 * with *va filled if every name on the way and the attributes at the end
 * are cached in the current generation; false, with nothing changed, if
 * not (the caller looks it up the long way).  Counts as a lookup.
 * Thread context; holds vfs_token, then the root mount's mnt_token,
 * briefly; does not block.
 */
bool vfs_cache_stat(const char *path, bool follow, struct vattr *va)
{
	struct mount *mp;
	struct vnode *vp;
	uint64_t gen;
	bool hit = false;

	if (path == NULL || path[0] != '/' || (mp = vfs_root_mount_hold()) == NULL)
		return false;
	gen = vfs_generation(mp);
	vp = mp->mnt_unmounting ? NULL : nc_walk_locked(mp, gen, path, follow);
	if (vp != NULL && vp->v_attr_gen == gen && vp->v_asof == 0) {
		*va = vp->v_attr;
		hit = true;
	}
	lwkt_reltoken(&mp->mnt_token);
	if (hit) {
		__atomic_add_fetch(&vfs_lookups, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&vfs_attr_hits, 1, __ATOMIC_RELAXED);
	}
	return hit;
}
