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
 * Mounting and unmounting block (the filesystem starts, syncs, stops),
 * so neither can run under vfs_token from its check to its end.  Each
 * instead makes its decision and marks it in one hold of vfs_token, and
 * the mark (mnt_state, fs/vfs.h) is what every later check reads:
 *
 *   vfs_mount:   namei(dir) -- no token, may block
 *                vfs_token: dir free, its mount MOUNTED? -> claim it:
 *                           v_mountedhere = mp, MOUNTING, on the table
 *                filesystem mount and root -- no token, may block
 *                vfs_token: MOUNTED (or, failed: off dir and table)
 *   vfs_unmount: vfs_token: mp at path MOUNTED, nothing on its dirs?
 *                           -> UNMOUNTING
 *                sync -- no token, may block
 *                vfs_token: wait until no walk stands on mp; then with
 *                           mnt_token: a vnode referenced? -> MOUNTED,
 *                           EBUSY; else mnt_unmounting, off table and dir
 *                reclaim, filesystem unmount, free -- nobody can reach mp
 *
 * Invariants, with vfs_token held:
 *   - a directory has at most one mount on it (v_mountedhere), from the
 *     claim on; a mount on a directory of a mount that is not MOUNTED,
 *     or a second on the same directory, is refused at its claim;
 *   - at most one unmount owns a mount (the one that made it
 *     UNMOUNTING), and the mount leaves the table only in its last step;
 *   - lookups cross only into MOUNTED and UNMOUNTING mounts, and take
 *     their reference to its root under vfs_token, so the last step's
 *     busy check and the crossing are ordered;
 *   - a mount some walk stands on (a mount_walk record on `walks` names
 *     it) stays on the table: the walk picks the next mount from it after
 *     fn returns, and the unmount's last step waits for the walk first.
 * A walk (mount_walk_all, for vfs_foreach_mount, vfs_sync_all, vfs_drain
 * and shutdown) visits MOUNTED mounts only, and calls fn with no token
 * held: fn may block as long as it likes.
 *
 * Token order: vfs_token before a mount's mnt_token (vfs_root_mount_hold
 * and the unmount's last step take them so).  An LWKT token is let go
 * while its holder sleeps, so what it protects may change across a
 * block; the code here avoids blocking with either held rather than
 * re-checking after it -- except the unmount's wait for walks, which
 * re-checks after every wakeup.
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
#include <kern/globaldata.h>
#include <kern/synch.h>
#include <kern/thread.h>
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

/* Slots fill in order and are never emptied: written under
 * vfs_types_token with a release store, read without a lock. */
static const struct vfsops *vfs_types[VFS_MAX_TYPES];
static struct lwkt_token vfs_types_token = LWKT_TOKEN_INITIALIZER("vfstypes");
struct lwkt_token vfs_token;		/* the mount table, v_mountedhere,
					 * mnt_state, the walks */
static TAILQ_HEAD(, mount) mounts = TAILQ_HEAD_INITIALIZER(mounts);

/*
 * A walk of the mount table in progress (mount_walk_all): mw_mp is the
 * mount whose fn runs now, or NULL between mounts.  On `walks` from the
 * walk's start to its end; vfs_token.
 */
struct mount_walk {
	TAILQ_ENTRY(mount_walk) mw_link;
	struct mount *mw_mp;
	struct thread *mw_td;		/* the walker: to catch self-waits */
};
static TAILQ_HEAD(, mount_walk) walks = TAILQ_HEAD_INITIALIZER(walks);

/* Counters: atomics, summed by vfs_get_stats. */
static volatile uint64_t vnodes_alive, vnodes_referenced, mounts_alive;
volatile uint64_t vfs_files_open, vfs_lookups;

/* Add filesystem type ops (contract in fs/vfs.h).  A reader that meets
 * the new slot sees the whole table it points to (release/acquire). */
void vfs_register(const struct vfsops *ops)
{
	KASSERT(ops != NULL && ops->name != NULL,
		"vfs_register: a filesystem type needs its ops and a name");
	lwkt_gettoken(&vfs_types_token);
	for (int i = 0; i < VFS_MAX_TYPES; i++) {
		if (vfs_types[i] == ops)
			break;		/* registered already */
		if (vfs_types[i] == NULL) {
			__atomic_store_n(&vfs_types[i], ops, __ATOMIC_RELEASE);
			break;
		}
		if (i == VFS_MAX_TYPES - 1)
			panic("vfs_register(%s): more than %d filesystem "
			      "types; raise VFS_MAX_TYPES", ops->name,
			      VFS_MAX_TYPES);
	}
	lwkt_reltoken(&vfs_types_token);
}

/* The type called name ("hmr", "tmpfs", "devfs"), or NULL.  No lock. */
static const struct vfsops *vfs_find_type(const char *name)
{
	const struct vfsops *ops;

	for (int i = 0; i < VFS_MAX_TYPES; i++) {
		ops = __atomic_load_n(&vfs_types[i], __ATOMIC_ACQUIRE);
		if (ops == NULL)
			break;
		if (strcmp(ops->name, name) == 0)
			return ops;
	}
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

/* ---- the mount table ------------------------------------------------------ */

/* Free mp, which is off the mount table and holds no vnode. */
static void mount_free(struct mount *mp)
{
	vfs_cache_fini(mp);
	kfree(mp, M_VFS);
	__atomic_sub_fetch(&mounts_alive, 1, __ATOMIC_RELAXED);
}

/* A new mount of type ops at path, empty, not yet in the mount table;
 * source (a device name, or NULL for a memory filesystem) names it in
 * the shell's `mount` and `df`.  May block. */
static struct mount *mount_alloc(const struct vfsops *ops, const char *source,
				 const char *path, unsigned flags)
{
	struct mount *mp = kmalloc(sizeof(*mp), M_VFS, M_WAITOK | M_ZERO);

	__atomic_add_fetch(&mounts_alive, 1, __ATOMIC_RELAXED);
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
 * cannot be: ENOENT, ENOTDIR, EBUSY when it is a mount's root.  The
 * first mount covers nothing (NULL, error 0), and must be "/".  Whether
 * it is free is decided later, at the claim (mount_claim). */
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
	else if (vp == vp->v_mount->mnt_root)
		*error = EBUSY;
	if (*error) {
		vrele(vp);
		return NULL;
	}
	return vp;
}

/*
 * Claim covered (NULL: the root) for mp, in one hold of vfs_token: the
 * directory must have no mount on it, not even one being made, no rmdir
 * under way (vfs_rmdir_claim), and its own mount must be MOUNTED (not
 * being made or unmounted); the root only on an empty table.  Then mp is MOUNTING, on the table and on the
 * directory.  0 or EBUSY.
 */
static int mount_claim(struct mount *mp, struct vnode *covered)
{
	int error = 0;

	lwkt_gettoken(&vfs_token);
	if (covered == NULL)
		error = TAILQ_EMPTY(&mounts) ? 0 : EBUSY;
	else if (covered->v_mountedhere != NULL)
		error = EBUSY;
	else if (covered->v_removing)
		error = EBUSY;
	else if (covered->v_mount->mnt_state != MNTS_MOUNTED)
		error = EBUSY;
	if (error == 0) {
		mp->mnt_state = MNTS_MOUNTING;
		mp->mnt_covered = covered;	/* keeps its reference */
		if (covered)
			covered->v_mountedhere = mp;
		TAILQ_INSERT_TAIL(&mounts, mp, mnt_link);
	}
	lwkt_reltoken(&vfs_token);
	return error;
}

/* An rmdir's claim on vp (contract in fs/vfs.h): the mirror of
 * mount_claim, which refuses a directory being removed, so of an rmdir
 * and a mount of one directory at one time exactly one goes on. */
int vfs_rmdir_claim(struct vnode *vp)
{
	int error = 0;

	KASSERT(vp->v_refcnt > 0, "vfs_rmdir_claim: vnode %p unreferenced",
		vp);
	lwkt_gettoken(&vfs_token);
	if (vp == vp->v_mount->mnt_root || vp->v_mountedhere != NULL ||
	    vp->v_removing)
		error = EBUSY;
	else
		vp->v_removing = true;
	lwkt_reltoken(&vfs_token);
	return error;
}

/* The rmdir is over (done or refused): vp may be mounted on again. */
void vfs_rmdir_claim_end(struct vnode *vp)
{
	lwkt_gettoken(&vfs_token);
	KASSERT(vp->v_removing, "vfs_rmdir_claim_end: vnode %p not claimed",
		vp);
	vp->v_removing = false;
	lwkt_reltoken(&vfs_token);
}

/* Take mp off the table and off the directory it covers, so that no
 * lookup or walk can find it again; vfs_token held. */
static void mount_unlink_locked(struct mount *mp)
{
	TAILQ_REMOVE(&mounts, mp, mnt_link);
	if (mp->mnt_covered)
		mp->mnt_covered->v_mountedhere = NULL;
}

/* End a claim: mp is MOUNTED (up true) or leaves the table and its
 * directory, which nothing reached meanwhile (lookups and walks skip a
 * MOUNTING mount, and nothing can be mounted on it). */
static void mount_claim_end(struct mount *mp, bool up)
{
	lwkt_gettoken(&vfs_token);
	KASSERT(mp->mnt_state == MNTS_MOUNTING, "mount %s: state %d at the "
		"end of its mount, not MOUNTING: someone else changed it",
		mp->mnt_path, mp->mnt_state);
	if (up)
		mp->mnt_state = MNTS_MOUNTED;
	else
		mount_unlink_locked(mp);
	lwkt_reltoken(&vfs_token);
}

/* Mount a filesystem of type fstype from source at path (contract in
 * fs/vfs.h).  The directory is claimed first (mount_claim); the
 * filesystem's mount and root run after, while lookups still see the
 * directory under it, so none meets a half-made mount.  Thread context;
 * blocks. */
int vfs_mount(const char *fstype, const char *source, const char *path,
	      unsigned flags)
{
	const struct vfsops *ops = vfs_find_type(fstype);
	struct vnode *covered;
	struct mount *mp;
	int error;

	KASSERT(mycpu->gd_intr_nesting_level == 0, "vfs_mount(%s) from an "
		"interrupt: it blocks; call it from a thread", path);
	if (ops == NULL)
		return ENODEV;
	covered = mount_point(path, &error);
	if (error)
		return error;
	mp = mount_alloc(ops, source, path, flags);
	if ((error = mount_claim(mp, covered)) == 0) {
		if ((error = ops->vfs_mount(mp, source, flags)) == 0 &&
		    (error = ops->vfs_root(mp, &mp->mnt_root)) != 0)
			ops->vfs_unmount(mp);
		mount_claim_end(mp, error == 0);
	}
	if (error) {
		if (covered)
			vrele(covered);
		mount_free(mp);
	}
	return error;
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

/* The mount at path (its mnt_path, exactly), in any state, or NULL;
 * vfs_token held. */
static struct mount *mount_find(const char *path)
{
	struct mount *mp;

	TAILQ_FOREACH(mp, &mounts, mnt_link)
		if (strcmp(mp->mnt_path, path) == 0)
			return mp;
	return NULL;
}

/* Is another mount (in any state) on one of mp's directories? */
static bool mount_has_children_locked(struct mount *mp)
{
	struct mount *other;

	TAILQ_FOREACH(other, &mounts, mnt_link)
		if (other->mnt_covered && other->mnt_covered->v_mount == mp)
			return true;
	return false;
}

/*
 * The first step of an unmount, in one hold of vfs_token: the mount at
 * path, made UNMOUNTING, so that a second unmount, a mount on one of its
 * directories and new walks all keep off.  EINVAL: nothing there;
 * EBUSY: being mounted or unmounted already, or another mount on it.
 */
static int unmount_claim(const char *path, struct mount **mpp)
{
	struct mount *mp;
	int error = 0;

	lwkt_gettoken(&vfs_token);
	mp = mount_find(path);
	if (mp == NULL)
		error = EINVAL;
	else if (mp->mnt_state != MNTS_MOUNTED)
		error = EBUSY;
	else if (mount_has_children_locked(mp))
		error = EBUSY;
	if (error == 0)
		mp->mnt_state = MNTS_UNMOUNTING;
	lwkt_reltoken(&vfs_token);
	*mpp = mp;
	return error;
}

/* Does a walk stand on mp?  vfs_token held.  A walk of this thread's
 * would never move on while we wait for it: a panic says so. */
static bool mount_walked_locked(struct mount *mp)
{
	struct mount_walk *w;

	TAILQ_FOREACH(w, &walks, mw_link)
		if (w->mw_mp == mp) {
			KASSERT(w->mw_td != curthread, "vfs_unmount(%s) from "
				"the fn of a vfs_foreach_mount standing on "
				"it: it would wait for itself; unmount after "
				"the walk", mp->mnt_path);
			return true;
		}
	return false;
}

/* Is a vnode of mp referenced, other than its root by the mount itself?
 * mnt_token held. */
static bool mount_vnodes_busy_locked(struct mount *mp)
{
	return mp->mnt_nvnodes - mp->mnt_nfree > 1 ||
	       mp->mnt_root->v_refcnt > 1;
}

/*
 * The last step of an unmount.  Under vfs_token, wait until no walk
 * stands on mp (the walk wakes us as it moves on; no new one stops here,
 * mp being UNMOUNTING).  Then, with mnt_token too, so that neither a
 * vfs_vget (mnt_token) nor a lookup crossing into mp (vfs_token) slips
 * in between: EBUSY, mp MOUNTED again, if a vnode is referenced; else mp
 * refuses new vnodes and leaves the table and its directory.
 */
static int mount_detach(struct mount *mp)
{
	int error = 0;

	lwkt_gettoken(&vfs_token);
	KASSERT(mp->mnt_state == MNTS_UNMOUNTING, "mount %s: detached in "
		"state %d; only its unmount_claim owner may", mp->mnt_path,
		mp->mnt_state);
	while (mount_walked_locked(mp))
		tsleep(mp, 0, "mntwalk", 0);	/* vfs_token let go */
	lwkt_gettoken(&mp->mnt_token);
	if (mount_vnodes_busy_locked(mp))
		error = EBUSY;
	else
		mp->mnt_unmounting = true;
	lwkt_reltoken(&mp->mnt_token);
	if (error)
		mp->mnt_state = MNTS_MOUNTED;
	else
		mount_unlink_locked(mp);
	lwkt_reltoken(&vfs_token);
	return error;
}

static void vnodes_trim(struct mount *mp);

/*
 * Unmount the filesystem at path (contract in fs/vfs.h): claim it, sync
 * it, detach it (EBUSY while anything of it is referenced), reclaim its
 * vnodes, give back the covered directory, then let the filesystem go.
 * Thread context; blocks.
 */
int vfs_unmount(const char *path)
{
	struct mount *mp;
	int error, sync_error;

	KASSERT(mycpu->gd_intr_nesting_level == 0, "vfs_unmount(%s) from an "
		"interrupt: it blocks; call it from a thread", path);
	if ((error = unmount_claim(path, &mp)) != 0)
		return error;
	/* A sync that fails (a dead filesystem) does not keep the mount:
	 * the filesystem's own unmount decides what can still be saved. */
	sync_error = mount_sync(mp);
	if ((error = mount_detach(mp)) != 0)
		return error;
	vrele(mp->mnt_root);		/* the mount's: onto mnt_free */
	vnodes_trim(mp);
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

/* The first MOUNTED mount after mp (from the head if mp is NULL), or
 * NULL; vfs_token held.  mp itself must still be on the table. */
static struct mount *mount_next_walkable(struct mount *mp)
{
	mp = mp ? TAILQ_NEXT(mp, mnt_link) : TAILQ_FIRST(&mounts);
	while (mp != NULL && mp->mnt_state != MNTS_MOUNTED)
		mp = TAILQ_NEXT(mp, mnt_link);
	return mp;
}

/*
 * fn for each MOUNTED mount, in table order, with no token held.  The
 * walk's record names the mount fn runs on, which keeps that mount on
 * the table (mount_detach waits), so the next one is found from it
 * after fn returns, whatever was mounted or unmounted meanwhile.
 * Leaving a mount an unmount waits on wakes it.  Thread context.
 */
static void mount_walk_all(void (*fn)(struct mount *mp, void *arg),
			   void *arg)
{
	struct mount_walk w = { .mw_td = curthread };
	struct mount *prev;

	KASSERT(mycpu->gd_intr_nesting_level == 0, "a walk of the mount "
		"table from an interrupt: fn may block; walk from a thread");
	lwkt_gettoken(&vfs_token);
	TAILQ_INSERT_TAIL(&walks, &w, mw_link);
	w.mw_mp = mount_next_walkable(NULL);
	while (w.mw_mp != NULL) {
		lwkt_reltoken(&vfs_token);
		fn(w.mw_mp, arg);
		lwkt_gettoken(&vfs_token);
		prev = w.mw_mp;
		w.mw_mp = mount_next_walkable(prev);
		if (prev->mnt_state == MNTS_UNMOUNTING)
			wakeup(prev);		/* its mount_detach waits */
	}
	TAILQ_REMOVE(&walks, &w, mw_link);
	lwkt_reltoken(&vfs_token);
}

/* fn for each mount in service (contract in fs/vfs.h). */
void vfs_foreach_mount(void (*fn)(struct mount *mp, void *arg), void *arg)
{
	mount_walk_all(fn, arg);
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

/* vfs_drain's step for one mount: its vnode cache, HMR's caches. */
static void mount_drain(struct mount *mp, void *arg __unused)
{
	vnodes_trim(mp);
	if (hmr_vfs_core(mp))
		hmr_drop_caches(hmr_vfs_core(mp));
}

/* Sync every mount and empty its caches (contract in fs/vfs.h): the
 * leak checks' baseline, and a way to give memory back. */
void vfs_drain(void)
{
	vfs_sync_all();
	mount_walk_all(mount_drain, NULL);
}

/* vfs_sync_all's step for one mount: keep the first error in *arg. */
static void mount_sync_one(struct mount *mp, void *arg)
{
	int *first = arg, error = mount_sync(mp);

	if (error && *first == 0)
		*first = error;
}

/* Sync every mount in service; the first error, after trying them all.
 * A mount being unmounted is skipped: its unmount syncs it.  Thread
 * context; blocks. */
int vfs_sync_all(void)
{
	int first = 0;

	mount_walk_all(mount_sync_one, &first);
	return first;
}

/* The first mount, "/", if lookups may enter it (MOUNTED or
 * UNMOUNTING), else NULL; vfs_token held. */
static struct mount *mount_root_locked(void)
{
	struct mount *mp = TAILQ_FIRST(&mounts);

	return mp != NULL && mp->mnt_state != MNTS_MOUNTING ? mp : NULL;
}

/* The root mount's root vnode, referenced; NULL before vfs_init (or
 * while "/" is still being mounted).  Where every lookup starts. */
struct vnode *vfs_rootvnode(void)
{
	struct mount *mp;
	struct vnode *vp = NULL;

	lwkt_gettoken(&vfs_token);
	mp = mount_root_locked();
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
	mp = mount_root_locked();
	if (mp != NULL) {
		lwkt_gettoken(&mp->mnt_token);
		lwkt_token_swap();	/* vfs_token is now the newest */
	}
	lwkt_reltoken(&vfs_token);
	return mp;
}

/* The root of the mount covering dir, referenced, or NULL: how a lookup
 * crosses into a mounted filesystem.  A mount still being made is not
 * crossed (its root may not exist yet): the lookup sees the directory
 * under it, as if it ran just before.  Any thread; never blocks. */
struct vnode *vfs_mounted_root(struct vnode *dir)
{
	struct mount *mp;
	struct vnode *root = NULL;

	/* Most directories have no mount on them: a peek without the token
	 * answers those.  One being mounted or unmounted right now may be
	 * seen either way, as if the lookup ran just before or after. */
	if (__atomic_load_n(&dir->v_mountedhere, __ATOMIC_ACQUIRE) == NULL)
		return NULL;
	lwkt_gettoken(&vfs_token);
	mp = dir->v_mountedhere;
	if (mp != NULL && mp->mnt_state != MNTS_MOUNTING) {
		root = mp->mnt_root;	/* the last step of an unmount */
		vref(root);		/* checks it under vfs_token */
	}
	lwkt_reltoken(&vfs_token);
	return root;
}

/* The counters, each read on its own (they need not agree exactly). */
void vfs_get_stats(struct vfs_stats *st)
{
	st->vnodes = vnodes_alive;
	st->vnodes_referenced = vnodes_referenced;
	st->mounts = mounts_alive;
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

/* The mounts vfs_shutdown unmounts: noted by a walk, since a mount
 * cannot be unmounted from the walk that stands on it. */
static struct {
	char path[16][VFS_PATH_MAX];
	int n;
} shutdown_mounts;

/* vfs_shutdown's walk step: note where mp is mounted (the first 16). */
static void shutdown_note(struct mount *mp, void *arg __unused)
{
	if (shutdown_mounts.n < (int)nitems(shutdown_mounts.path))
		strlcpy(shutdown_mounts.path[shutdown_mounts.n++],
			mp->mnt_path, VFS_PATH_MAX);
}

/*
 * At shutdown: commit every filesystem, then unmount them, the last
 * mounted first.  A mount still in use (EBUSY) stays, but was committed.
 */
static void vfs_shutdown(void)
{
	int error = vfs_sync_all(), busy = 0, n;

	shutdown_mounts.n = 0;
	mount_walk_all(shutdown_note, NULL);
	for (n = shutdown_mounts.n - 1; n >= 0; n--)
		busy += vfs_unmount(shutdown_mounts.path[n]) != 0;
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
