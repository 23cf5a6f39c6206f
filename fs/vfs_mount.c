/*
 * vfs_mount.c - filesystem types, the mount table, and the vnode table
 * of each mount.
 *
 * The mount table is a list in mount order under vfs_token.  A mount
 * covers a directory vnode of the mount before it (v_mountedhere), and
 * path lookup steps from that vnode to the new mount's root.  "/" is the
 * first mount and covers nothing.
 *
 * Each mount keeps its vnodes in a hash table by inode (mnt_vhash) --
 * at most one per (ino, asof) -- and the unreferenced ones also in an
 * LRU list (mnt_free).  Both lists change only under the mount's token, which is
 * never held across a block: a new vnode is set up before the token is
 * taken, and reclaimed after it is dropped.
 *
 *   vfs_vget:  token; found? ref (off mnt_free if it was 0) : insert new
 *   vref:      refcnt n -> n+1 (n > 0), atomic, no token
 *   vrele:     n -> n-1 (n > 1) atomic, no token; 1 -> 0 only under
 *              the token: onto the tail of mnt_free;
 *              above VFS_VNODE_CACHE, the head is taken off both lists
 *              and reclaimed once the token is dropped
 *
 * A vnode whose count is 0 and which sits on mnt_free can be found again
 * (and taken off mnt_free) by vfs_vget; one taken off both lists is
 * unreachable, so its reclaim races with nobody.
 *
 *   mounts (vfs_token) --> mount "/" --> mount "/dev" --> ...
 *                           |  mnt_root, mnt_covered (NULL for "/")
 *                           |  mnt_token:
 *                           |    mnt_vhash[ino % VFS_VHASH] -> vnode -> vnode
 *                           |    mnt_free (LRU, refcnt 0)   -> vnode -> vnode
 *                           v
 *   covered dir vnode of "/" --v_mountedhere--> mount "/dev"
 *
 * Invariants, with mnt_token held:
 *   - mnt_nvnodes counts the vnodes in mnt_vhash, mnt_nfree those on
 *     mnt_free; every vnode on mnt_free is also in mnt_vhash;
 *   - a vnode is on mnt_free exactly when its v_refcnt is 0;
 *   - once mnt_unmounting is set, no vnode is added to mnt_vhash.
 * The mount's root vnode holds a reference from vfs_mount to unmount,
 * and each mount holds one on the directory it covers.
 *
 * Token order: vfs_token before a mount's mnt_token (vfs_root_mount_hold
 * takes them so).  An LWKT token is let go while its holder sleeps, so
 * what it protects may change across a block; the code here avoids
 * blocking with either held rather than re-checking after it.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/cmdline.h>
#include <kern/shutdown.h>
#include <kern/device.h>
#include <kern/kprintf.h>
#include <drivers/blkdev.h>
#include <fs/bio.h>
#include <fs/vfs.h>
#include <fs/hmr_kern.h>
#include <vm/vm_object.h>
#include <vm/vm_page.h>
#include "vfs_private.h"

MALLOC_DEFINE(M_VFS, "vfs", "mounts, vnodes and open files");

TAILQ_HEAD(vnode_bucket, vnode);

#define VFS_MAX_TYPES 8

/* Filled at boot, before a second CPU looks; read without a lock. */
static const struct vfsops *vfs_types[VFS_MAX_TYPES];
struct lwkt_token vfs_token;		/* the mount table, v_mountedhere */
static TAILQ_HEAD(, mount) mounts = TAILQ_HEAD_INITIALIZER(mounts);

/* Counters: atomics, summed by vfs_get_stats. */
static volatile uint64_t vnodes_alive, vnodes_referenced;
volatile uint64_t vfs_files_open, vfs_lookups;

/* Add filesystem type ops (contract in fs/vfs.h).  Boot only: the table
 * has no lock.  Panics when the table is full, a build error. */
void vfs_register(const struct vfsops *ops)
{
	for (int i = 0; i < VFS_MAX_TYPES; i++)
		if (vfs_types[i] == NULL) {
			vfs_types[i] = ops;
			return;
		}
	panic("vfs_register(%s): more than %d filesystem types; raise "
	      "VFS_MAX_TYPES", ops->name, VFS_MAX_TYPES);
}

/* The type called name ("hmr", "tmpfs", "devfs"), or NULL. */
static const struct vfsops *vfs_find_type(const char *name)
{
	for (int i = 0; i < VFS_MAX_TYPES && vfs_types[i]; i++)
		if (strcmp(vfs_types[i]->name, name) == 0)
			return vfs_types[i];
	return NULL;
}

/* ---- vnodes -------------------------------------------------------------- */

/* Give vp back to its filesystem (vop_reclaim) and free it.  vp is on
 * no list and has no reference, so nobody else can reach it.  Called
 * with no token held: vop_reclaim may block. */
static void vnode_free(struct vnode *vp)
{
	if (vp->v_ops && vp->v_ops->vop_reclaim)
		vp->v_ops->vop_reclaim(vp);
	kfree(vp, M_VFS);
	__atomic_sub_fetch(&vnodes_alive, 1, __ATOMIC_RELAXED);
}

/* The bucket of mp's vnode table that holds inode ino. */
static inline struct vnode_bucket *vhash_bucket(struct mount *mp,
						uint64_t ino)
{
	return (struct vnode_bucket *)&mp->mnt_vhash[ino % VFS_VHASH];
}

/* Find (mp, ino, asof) without taking a reference: valid only while
 * mnt_token is held.  A vnode of another TID of the same inode is
 * another vnode, in the same bucket. */
struct vnode *vfs_vfind_locked(struct mount *mp, uint64_t ino, uint64_t asof)
{
	struct vnode *vp;

	TAILQ_FOREACH(vp, vhash_bucket(mp, ino), v_hash)
		if (vp->v_ino == ino && vp->v_asof == asof)
			return vp;
	return NULL;
}

/* Find (mp, ino, asof) and take a reference (fs/vfs_private.h);
 * mnt_token held.  A count going 0 -> 1 takes the vnode off mnt_free:
 * that step is why it needs the token, where vref does not. */
struct vnode *vfs_vget_locked(struct mount *mp, uint64_t ino,
					 uint64_t asof)
{
	struct vnode *vp = vfs_vfind_locked(mp, ino, asof);

	if (vp != NULL &&
	    __atomic_fetch_add(&vp->v_refcnt, 1, __ATOMIC_ACQUIRE) == 0) {
		TAILQ_REMOVE(&mp->mnt_free, vp, v_free);
		mp->mnt_nfree--;
		__atomic_add_fetch(&vnodes_referenced, 1, __ATOMIC_RELAXED);
	}
	return vp;
}

/*
 * The vnode of (mp, ino, asof), referenced (contract in fs/vfs.h): the
 * cached one, or a new one that init fills.  Two threads that miss at
 * once both build one; whichever inserts first wins, and the other
 * frees its own and takes the winner's.  EBUSY during an unmount, or
 * init's error.  Thread context; may block in init.
 */
int vfs_vget(struct mount *mp, uint64_t ino, uint64_t asof,
	     int (*init)(struct vnode *vp, void *arg), void *arg,
	     struct vnode **vpp)
{
	struct vnode *vp, *nvp;
	int error;

	lwkt_gettoken(&mp->mnt_token);
	vp = mp->mnt_unmounting ? NULL :
	     vfs_vget_locked(mp, ino, asof);
	error = mp->mnt_unmounting ? EBUSY : 0;
	lwkt_reltoken(&mp->mnt_token);
	if (vp || error) {
		*vpp = vp;
		return error;
	}
	/* Not cached: build one with no token held (init may block). */
	nvp = kmalloc(sizeof(*nvp), M_VFS, M_WAITOK | M_ZERO);
	nvp->v_mount = mp;
	nvp->v_ino = ino;
	nvp->v_asof = asof;
	nvp->v_refcnt = 1;
	lwkt_serialize_init(&nvp->v_iolock);
	__atomic_add_fetch(&vnodes_alive, 1, __ATOMIC_RELAXED);
	if ((error = init(nvp, arg)) != 0) {
		nvp->v_ops = NULL;	/* init failed: nothing to reclaim */
		vnode_free(nvp);
		return error;
	}
	lwkt_gettoken(&mp->mnt_token);
	vp = vfs_vget_locked(mp, ino, asof);	/* raced? */
	if (vp == NULL) {
		TAILQ_INSERT_TAIL(vhash_bucket(mp, ino), nvp, v_hash);
		mp->mnt_nvnodes++;
		__atomic_add_fetch(&vnodes_referenced, 1, __ATOMIC_RELAXED);
	}
	lwkt_reltoken(&mp->mnt_token);
	if (vp != NULL) {
		vnode_free(nvp);
		nvp = vp;
	}
	*vpp = nvp;
	return 0;
}

/* Another reference to vp, which must hold one already.  No token: a
 * count above 0 keeps vp off mnt_free, so only the number changes.  Any
 * thread; never blocks. */
void vref(struct vnode *vp)
{
	KASSERT(vp->v_refcnt > 0, "vref of an unreferenced vnode (ino %lu): "
		"take references with vfs_vget, then vref", vp->v_ino);
	__atomic_add_fetch(&vp->v_refcnt, 1, __ATOMIC_RELAXED);
}

/* Take the LRU head off both lists if the cache is over; mnt_token. */
static struct vnode *vnode_evict_locked(struct mount *mp)
{
	struct vnode *vp = TAILQ_FIRST(&mp->mnt_free);

	if (mp->mnt_nfree <= VFS_VNODE_CACHE || vp == NULL)
		return NULL;
	TAILQ_REMOVE(&mp->mnt_free, vp, v_free);
	TAILQ_REMOVE(vhash_bucket(mp, vp->v_ino), vp, v_hash);
	mp->mnt_nfree--;
	mp->mnt_nvnodes--;
	return vp;
}

/*
 * Drop a reference that is not the last without the token: only the
 * 1 -> 0 step must be ordered against vfs_vget.  True if it was done.
 */
static bool vrele_not_last(struct vnode *vp)
{
	int cnt = vp->v_refcnt;

	while (cnt > 1)
		if (__atomic_compare_exchange_n(&vp->v_refcnt, &cnt, cnt - 1,
						false, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			return true;
	return false;
}

/*
 * Give back a reference to vp.  The last one puts it on mnt_free (the
 * cache), or frees it at once when the filesystem says its object is
 * gone (no name, not open); either may evict the LRU head.  Thread
 * context: the last release may block in vop_inactive or vop_reclaim.
 * Called with no token held.
 */
void vrele(struct vnode *vp)
{
	struct mount *mp = vp->v_mount;
	struct vnode *evict;
	bool gone = false;

	KASSERT(vp->v_refcnt > 0, "vrele of a vnode with no reference (ino "
		"%lu): a reference was given back twice", vp->v_ino);
	if (vrele_not_last(vp))
		return;
	/* Ask while we still hold our reference (the call may block), and
	 * only about a vnode that lost a name: the question costs a call
	 * into the filesystem, and most releases are of live objects. */
	if (vp->v_refcnt == 1 && vp->v_maybe_gone && vp->v_ops->vop_inactive)
		gone = vp->v_ops->vop_inactive(vp);
	/* The last reference goes under the token, so that a racing
	 * vfs_vget either sees it referenced or finds it on mnt_free.
	 * Every change of v_refcnt is atomic: vref and the fast path above
	 * run without the token, and a plain -- here would lose theirs. */
	lwkt_gettoken(&mp->mnt_token);
	if (__atomic_sub_fetch(&vp->v_refcnt, 1, __ATOMIC_ACQ_REL) > 0) {
		lwkt_reltoken(&mp->mnt_token);
		return;
	}
	__atomic_sub_fetch(&vnodes_referenced, 1, __ATOMIC_RELAXED);
	if (gone) {
		TAILQ_REMOVE(vhash_bucket(mp, vp->v_ino), vp, v_hash);
		mp->mnt_nvnodes--;
		evict = vp;
	} else {
		TAILQ_INSERT_TAIL(&mp->mnt_free, vp, v_free);
		mp->mnt_nfree++;
		evict = vnode_evict_locked(mp);
	}
	lwkt_reltoken(&mp->mnt_token);
	if (evict)
		vnode_free(evict);
}

/*
 * Reclaim every unreferenced vnode of mp and refuse new ones.  Returns
 * EBUSY, changing nothing, if any other than the root is still
 * referenced (or the root by more than the mount).  The check and the
 * setting of mnt_unmounting are one hold of mnt_token, so no vfs_vget
 * slips in between.
 */
static void vnodes_trim(struct mount *mp);

static int vnodes_flush(struct mount *mp)
{
	int busy;

	lwkt_gettoken(&mp->mnt_token);
	busy = mp->mnt_nvnodes - mp->mnt_nfree - 1;	/* the root's ref */
	if (busy > 0 || mp->mnt_root->v_refcnt > 1) {
		lwkt_reltoken(&mp->mnt_token);
		return EBUSY;
	}
	mp->mnt_unmounting = true;
	lwkt_reltoken(&mp->mnt_token);
	vrele(mp->mnt_root);
	vnodes_trim(mp);
	return 0;
}

/* ---- the mount table ------------------------------------------------------ */

/* Free mp, which is off the mount table and holds no vnode. */
static void mount_free(struct mount *mp)
{
	vfs_cache_fini(mp);
	kfree(mp, M_VFS);
}

/* A new mount of type ops at path, empty, not yet in the mount table;
 * source (a device name, or NULL for a memory filesystem) names it in
 * the shell's `mount` and `df`.  May block. */
static struct mount *mount_alloc(const struct vfsops *ops, const char *source,
				 const char *path, unsigned flags)
{
	struct mount *mp = kmalloc(sizeof(*mp), M_VFS, M_WAITOK | M_ZERO);

	mp->mnt_op = ops;
	mp->mnt_flags = flags;
	strlcpy(mp->mnt_path, path, sizeof(mp->mnt_path));
	strlcpy(mp->mnt_source, source ? source : ops->name,
		sizeof(mp->mnt_source));
	lwkt_token_init(&mp->mnt_token, "vnodes");
	for (int i = 0; i < VFS_VHASH; i++)
		TAILQ_INIT(&mp->mnt_vhash[i]);
	TAILQ_INIT(&mp->mnt_free);
	vfs_cache_init(mp);
	return mp;
}

/* Find the directory to cover, referenced; NULL (and *error) if it
 * cannot be: ENOENT, ENOTDIR, EBUSY when a mount is on it already or it
 * is a mount's root.  The first mount covers nothing (NULL, error 0),
 * and must be "/". */
static struct vnode *mount_point(const char *path, int *error)
{
	struct vnode *vp;

	if (TAILQ_EMPTY(&mounts)) {
		*error = strcmp(path, "/") == 0 ? 0 : ENOENT;
		return NULL;		/* the root covers nothing */
	}
	if ((*error = vfs_namei(path, true, &vp)) != 0)
		return NULL;
	if (vp->v_type != VDIR)
		*error = ENOTDIR;
	else if (vp->v_mountedhere != NULL || vp == vp->v_mount->mnt_root)
		*error = EBUSY;
	if (*error) {
		vrele(vp);
		return NULL;
	}
	return vp;
}

/* Mount a filesystem of type fstype from source at path (contract in
 * fs/vfs.h).  The filesystem's mount and root run before the mount is
 * in the table, so a lookup never meets a half-made mount.  Thread
 * context; blocks. */
int vfs_mount(const char *fstype, const char *source, const char *path,
	      unsigned flags)
{
	const struct vfsops *ops = vfs_find_type(fstype);
	struct vnode *covered;
	struct mount *mp;
	int error;

	if (ops == NULL)
		return ENODEV;
	covered = mount_point(path, &error);
	if (error)
		return error;
	mp = mount_alloc(ops, source, path, flags);
	if ((error = ops->vfs_mount(mp, source, flags)) == 0 &&
	    (error = ops->vfs_root(mp, &mp->mnt_root)) != 0)
		ops->vfs_unmount(mp);
	if (error) {
		if (covered)
			vrele(covered);
		mount_free(mp);
		return error;
	}
	lwkt_gettoken(&vfs_token);
	mp->mnt_covered = covered;	/* keeps its reference */
	if (covered)
		covered->v_mountedhere = mp;
	TAILQ_INSERT_TAIL(&mounts, mp, mnt_link);
	lwkt_reltoken(&vfs_token);
	return 0;
}

/*
 * Sync mp: first the pages its mapped files' shared mappings dirtied go
 * to the filesystem (they live in VM objects, not in its buffers), then
 * the filesystem commits.  Returns the first error.  Thread context.
 */
static int mount_sync(struct mount *mp)
{
	int vm_error = vm_object_clean_mount(mp), error;

	error = mp->mnt_op->vfs_sync(mp);
	return vm_error ? vm_error : error;
}

/* The mount at path (its mnt_path, exactly), or NULL; vfs_token held. */
static struct mount *mount_find(const char *path)
{
	struct mount *mp;

	TAILQ_FOREACH(mp, &mounts, mnt_link)
		if (strcmp(mp->mnt_path, path) == 0)
			return mp;
	return NULL;
}

/*
 * Unmount the filesystem at path (contract in fs/vfs.h): sync it, make
 * sure nothing of it is referenced (EBUSY), take it out of the table,
 * give back the covered directory, then let the filesystem go.  EINVAL
 * when nothing is mounted at path.  Thread context; blocks.
 */
int vfs_unmount(const char *path)
{
	struct mount *mp, *other;
	int error = 0, sync_error;

	lwkt_gettoken(&vfs_token);
	mp = mount_find(path);
	/* A mount with another mounted on one of its directories stays. */
	TAILQ_FOREACH(other, &mounts, mnt_link)
		if (mp && other->mnt_covered && other->mnt_covered->v_mount == mp)
			mp = NULL, error = EBUSY;
	lwkt_reltoken(&vfs_token);
	if (mp == NULL)
		return error ? error : EINVAL;
	/* A sync that fails (a dead filesystem) does not keep the mount:
	 * the filesystem's own unmount decides what can still be saved. */
	sync_error = mount_sync(mp);
	if ((error = vnodes_flush(mp)) != 0)
		return error;
	lwkt_gettoken(&vfs_token);
	TAILQ_REMOVE(&mounts, mp, mnt_link);
	if (mp->mnt_covered)
		mp->mnt_covered->v_mountedhere = NULL;
	lwkt_reltoken(&vfs_token);
	if (mp->mnt_covered)
		vrele(mp->mnt_covered);
	/* A cached stat may have found mp in the list just before it left
	 * and still hold its mnt_token (vfs_root_mount_hold): wait it out.
	 * Nobody can find mp any more, so nobody takes the token after. */
	lwkt_gettoken(&mp->mnt_token);
	lwkt_reltoken(&mp->mnt_token);
	error = mp->mnt_op->vfs_unmount(mp);
	mount_free(mp);
	return sync_error ? sync_error : error;
}

/* fn for each mount, vfs_token held.  Should fn block (df's statfs may,
 * in the filesystem), the token is let go meanwhile, and a mount
 * unmounted then would be walked past after its free: fn for the shell
 * and the tests only, where nobody unmounts at the same time. */
void vfs_foreach_mount(void (*fn)(struct mount *mp, void *arg), void *arg)
{
	struct mount *mp;

	lwkt_gettoken(&vfs_token);
	TAILQ_FOREACH(mp, &mounts, mnt_link)
		fn(mp, arg);
	lwkt_reltoken(&vfs_token);
}

/* Reclaim every unreferenced vnode of mp (the cache, not the live).  The
 * token is let go around each free, since vop_reclaim may block. */
static void vnodes_trim(struct mount *mp)
{
	struct vnode *vp;

	lwkt_gettoken(&mp->mnt_token);
	while ((vp = TAILQ_FIRST(&mp->mnt_free)) != NULL) {
		TAILQ_REMOVE(&mp->mnt_free, vp, v_free);
		TAILQ_REMOVE(vhash_bucket(mp, vp->v_ino), vp, v_hash);
		mp->mnt_nfree--;
		mp->mnt_nvnodes--;
		lwkt_reltoken(&mp->mnt_token);
		vnode_free(vp);
		lwkt_gettoken(&mp->mnt_token);
	}
	lwkt_reltoken(&mp->mnt_token);
}

/* Sync every mount and empty its caches (contract in fs/vfs.h): the
 * leak checks' baseline, and a way to give memory back.  Walks the list
 * without vfs_token, as vfs_sync_all does. */
void vfs_drain(void)
{
	struct mount *mp;

	vfs_sync_all();
	TAILQ_FOREACH(mp, &mounts, mnt_link) {
		vnodes_trim(mp);
		if (hmr_vfs_core(mp))
			hmr_drop_caches(hmr_vfs_core(mp));
	}
}

/* Sync every mount; the first error, after trying them all.  Thread
 * context; blocks. */
int vfs_sync_all(void)
{
	struct mount *mp;
	int first = 0;

	/* The list only grows at its tail and mounts are not freed while
	 * their sync runs (unmount syncs first, under no token). */
	TAILQ_FOREACH(mp, &mounts, mnt_link) {
		int error = mount_sync(mp);

		if (error && !first)
			first = error;
	}
	return first;
}

/* The root mount's root vnode, referenced; NULL before vfs_init.  Where
 * every lookup starts. */
struct vnode *vfs_rootvnode(void)
{
	struct mount *mp;
	struct vnode *vp = NULL;

	lwkt_gettoken(&vfs_token);
	mp = TAILQ_FIRST(&mounts);
	if (mp) {
		vp = mp->mnt_root;
		vref(vp);
	}
	lwkt_reltoken(&vfs_token);
	return vp;
}

/*
 * The root mount with its mnt_token held (the caller releases it), or
 * NULL before anything is mounted.  Holding mnt_token keeps the mount
 * from being freed: unmount takes it to reclaim the vnodes.  Thread
 * context; does not block.
 */
struct mount *vfs_root_mount_hold(void)
{
	struct mount *mp;

	lwkt_gettoken(&vfs_token);
	mp = TAILQ_FIRST(&mounts);
	if (mp != NULL) {
		lwkt_gettoken(&mp->mnt_token);
		lwkt_token_swap();	/* vfs_token is now the newest */
	}
	lwkt_reltoken(&vfs_token);
	return mp;
}

/* The root of the mount covering dir, referenced, or NULL: how a lookup
 * crosses into a mounted filesystem.  Any thread; never blocks. */
struct vnode *vfs_mounted_root(struct vnode *dir)
{
	struct vnode *root = NULL;

	/* Most directories have no mount on them: a peek without the token
	 * answers those.  One being mounted or unmounted right now may be
	 * seen either way, as if the lookup ran just before or after. */
	if (__atomic_load_n(&dir->v_mountedhere, __ATOMIC_ACQUIRE) == NULL)
		return NULL;
	lwkt_gettoken(&vfs_token);
	if (dir->v_mountedhere) {
		root = dir->v_mountedhere->mnt_root;
		vref(root);
	}
	lwkt_reltoken(&vfs_token);
	return root;
}

/* The counters, each read on its own (they need not agree exactly). */
void vfs_get_stats(struct vfs_stats *st)
{
	st->vnodes = vnodes_alive;
	st->vnodes_referenced = vnodes_referenced;
	st->files_open = vfs_files_open;
	st->lookups = vfs_lookups;
}

/* ---- boot ------------------------------------------------------------------ */

extern const struct vfsops tmpfs_vfsops;

/*
 * Mount the root from a disk: the one root=<name> names, else the first
 * that holds an HMR filesystem.  A disk that is not HMR, or whose HMR is
 * damaged, is reported and skipped; the caller falls back to tmpfs.
 */
static bool mount_root_disk(void)
{
	char want[16];
	struct blkdev *bd;
	bool named = cmdline_get("root", want, sizeof(want));
	int error;

	for (int unit = 0; unit < 8; unit++) {	/* vblk0 .. vblk7 */
		char name[16];

		ksnprintf(name, sizeof(name), "vblk%d", unit);
		if ((bd = blkdev_find(name)) == NULL)
			break;
		if (named && strcmp(want, name) != 0)
			continue;
		error = vfs_mount("hmr", name, "/", 0);
		if (error == 0) {
			kprintf("vfs: root is hmr on %s\n", name);
			return true;
		}
		kprintf("vfs: %s holds no usable HMR filesystem (error %d); "
			"not mounted\n", name, error);
	}
	return false;
}

/* The buffer cache's bound: 1/64 of memory, 64 to 8192 pages. */
static uint64_t bio_budget(void)
{
	struct vm_page_stats vs;

	vm_page_stats(&vs);
	return MIN(MAX(vs.total / 64, 64), 8192);
}

/*
 * At shutdown: commit every filesystem, then unmount them, the last
 * mounted first.  A mount still in use (EBUSY) stays, but was committed.
 */
static void vfs_shutdown(void)
{
	static char paths[16][VFS_PATH_MAX];
	struct mount *mp;
	int n = 0, error = vfs_sync_all(), busy = 0;

	TAILQ_FOREACH(mp, &mounts, mnt_link)
		if (n < (int)nitems(paths))
			strlcpy(paths[n++], mp->mnt_path, VFS_PATH_MAX);
	while (n-- > 0)
		busy += vfs_unmount(paths[n]) != 0;
	kprintf("# vfs: filesystems committed at shutdown%s%s\n",
		error ? " (with errors)" : "",
		busy ? "; some stay mounted (in use)" : "");
}

/* Boot: the buffer cache, the types, the root filesystem and /dev.
 * Once, on the boot CPU, before any process runs.  A tmpfs root that
 * cannot be mounted is a panic: nothing could run without a root. */
void vfs_init(void)
{
	int error;

	shutdown_register("vfs", vfs_shutdown);
	bio_init(bio_budget());
	lwkt_token_init(&vfs_token, "vfs");
	vfs_register(&tmpfs_vfsops);
	vfs_register(&hmr_vfsops);
	if (!mount_root_disk()) {
		error = vfs_mount("tmpfs", NULL, "/", 0);
		if (error)
			panic("vfs_init: cannot mount a tmpfs root (error %d)",
			      error);
		kprintf("vfs: root is tmpfs (memory only: nothing is kept)\n");
	}
	devfs_mount_boot();		/* /dev (fs/devfs.c) */
}
