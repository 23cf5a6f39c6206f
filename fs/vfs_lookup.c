/*
 * vfs_lookup.c - from a path name to a vnode.
 *
 * A lookup walks the path one component at a time from the root.  It
 * keeps the directories it has entered on a stack, each holding a
 * reference:
 *
 *   "/docs/../etc/motd"     stack: [/]  [/ docs]  [/]  [/ etc]  -> motd
 *
 *   "."        stays where it is
 *   ".."       pops the stack (never above the root).  The stack holds the
 *              directories actually walked through, after symlinks were
 *              followed, so ".." after a symlinked directory goes to the
 *              target's parent, as on a Unix system.
 *   a symlink  its target replaces the component: an absolute target
 *              empties the stack back to the root; at most
 *              VFS_MAXSYMLINKS are followed in one lookup (ELOOP)
 *   a mount    a directory with a mount on it is replaced by that
 *              mount's root before anything else looks at it
 *
 * Everything else -- "name@@0x<tid>" as-of names included -- is the
 * filesystem's vop_lookup to interpret, unless the name cache
 * (vfs_cache.c) remembers the answer from a lookup since which nothing
 * on the mount changed.
 *
 * Locking: none of its own.  A lookup holds references, not locks: each
 * directory on the stack stays alive (but may lose its name meanwhile,
 * and then the next step answers ENOENT).  vop_lookup takes the
 * filesystem's lock for one step at a time, so a long walk never holds
 * a filesystem while it reads another.  Thread context; may block.
 *
 * Paths are absolute kernel strings: the system call layer
 * (kern/sys_file.c) has already put the current directory in front.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <fs/vfs.h>
#include "vfs_private.h"

/* nd_component's answer when a symlink replaced the rest of the path. */
#define ND_RESTART (-1)

/*
 * The state of one lookup.  kmalloc'd, not on the stack: with its two
 * path buffers it is over 2 KiB, too much for a kernel stack that the
 * filesystem's lookup below still needs.  Private to the looking thread,
 * so nothing in it is locked; the vnodes it holds are kept alive by
 * their references.
 *
 * Invariants: stack[0] is the root of the root mount; stack[i + 1] was
 * found in stack[i] (or is the root of a mount on it); every entry
 * holds one reference; 1 <= depth <= VFS_MAXDEPTH while a walk runs.
 */
struct nameidata {
	struct vnode *stack[VFS_MAXDEPTH];	/* each referenced */
	int depth;
	int links;				/* symlinks followed */
	char path[VFS_PATH_MAX];		/* what is left to walk */
	char link[VFS_PATH_MAX];		/* scratch for a target */
};

/* Give back the references of the stack above its first keep entries. */
static void nd_release(struct nameidata *nd, int keep)
{
	while (nd->depth > keep)
		vrele(nd->stack[--nd->depth]);
}

/* The directory the walk is in: the top of the stack. */
static struct vnode *nd_top(struct nameidata *nd)
{
	return nd->stack[nd->depth - 1];
}

/*
 * name in directory dir, referenced: from the name cache while it holds
 * an answer, else from the filesystem.  The mount's generation is read
 * before the filesystem is asked, so a change that lands meanwhile makes
 * the new cache entry stale at once rather than wrong later.
 */
static int dir_lookup(struct vnode *dir, const char *name, struct vnode **vpp)
{
	uint64_t gen;
	int error;

	if ((*vpp = vfs_cache_lookup(dir, name)) != NULL)
		return 0;
	gen = vfs_generation(dir->v_mount);
	error = dir->v_ops->vop_lookup(dir, name, vpp);
	if (error == 0)
		vfs_cache_enter(dir, name, *vpp, gen);
	return error;
}

/* vp, or the root of the mount on it (and of a mount on that root, and
 * so on): a directory with a mount on it is never entered itself.  Takes
 * over the caller's reference to vp and returns one to the result. */
static struct vnode *cross_mounts(struct vnode *vp)
{
	struct vnode *root;

	while ((root = vfs_mounted_root(vp)) != NULL) {
		vrele(vp);
		vp = root;
	}
	return vp;
}

/* Step from the directory on top of the stack to the object name:
 * *vpp referenced, or ENOTDIR (the top is no directory), ENOENT, EIO. */
static int nd_step(struct nameidata *nd, const char *name, struct vnode **vpp)
{
	struct vnode *dir = nd_top(nd), *vp;
	int error;

	if (dir->v_type != VDIR)
		return ENOTDIR;
	if ((error = dir_lookup(dir, name, &vp)) != 0)
		return error;
	*vpp = cross_mounts(vp);
	return 0;
}

/*
 * Replace the walked part with the symlink's target: path becomes
 * target + rest (rest is empty or starts with its slash, which keeps a
 * "link/" meaning a directory).  An absolute target starts again from the root.
 * A relative one goes on from the directory holding the link, which is
 * still on top of the stack.  ELOOP past VFS_MAXSYMLINKS, ENOENT for an
 * empty target (as Linux), ENAMETOOLONG, or the filesystem's error.
 */
static int nd_follow(struct nameidata *nd, struct vnode *link,
		     const char *rest)
{
	size_t len;
	int error;

	if (++nd->links > VFS_MAXSYMLINKS)
		return ELOOP;
	error = link->v_ops->vop_readlink(link, nd->link,
					  sizeof(nd->link) - 1, &len);
	if (error)
		return error;
	nd->link[len] = '\0';
	if (len == 0)
		return ENOENT;
	if (len + strlen(rest) + 1 > sizeof(nd->path))
		return ENAMETOOLONG;
	strlcat(nd->link, rest, sizeof(nd->link));	/* "" or "/..." */
	strlcpy(nd->path, nd->link, sizeof(nd->path));
	if (nd->link[0] == '/')
		nd_release(nd, 1);
	return 0;
}

/* Copy the next component of *p into name (VFS_NAME_MAX + 1 bytes) and
 * advance *p past it; slashes before it are skipped, so "a//b" is
 * "a/b".  An empty name means the path had no more.  ENAMETOOLONG. */
static int next_component(const char **p, char *name)
{
	const char *s = *p;
	size_t n = 0;

	while (*s == '/')
		s++;
	while (s[n] != '\0' && s[n] != '/')
		n++;
	if (n > VFS_NAME_MAX)
		return ENAMETOOLONG;
	memcpy(name, s, n);
	name[n] = '\0';
	*p = s + n;
	return 0;
}

/* Is s all slashes (or empty): is the component just read the last? */
static bool only_slashes(const char *s)
{
	while (*s == '/')
		s++;
	return *s == '\0';
}

/* "." and "..": done on the stack alone (true); false for any other
 * name.  ".." of the root is the root, as on every Unix system. */
static bool nd_dots(struct nameidata *nd, const char *name)
{
	if (strcmp(name, ".") == 0)
		return true;
	if (strcmp(name, "..") != 0)
		return false;
	if (nd->depth > 1)
		vrele(nd->stack[--nd->depth]);
	return true;
}

/* Symlink vp, met with rest still to walk: follow it, giving back vp's
 * reference.  ND_RESTART (walk nd->path again) or an errno.  rest points
 * into nd->path, which nd_follow rewrites, hence the copy. */
static int nd_symlink(struct nameidata *nd, struct vnode *vp,
		      const char *rest)
{
	char rest_copy[VFS_PATH_MAX];
	int error;

	strlcpy(rest_copy, rest, sizeof(rest_copy));
	error = nd_follow(nd, vp, rest_copy);
	vrele(vp);
	return error ? error : ND_RESTART;	/* walk nd->path */
}

/* Enter vp: its reference moves onto the stack.  ENOTDIR when a slash
 * follows a name that is no directory, ENAMETOOLONG when the stack is
 * full (then vp is given back). */
static int nd_push(struct nameidata *nd, struct vnode *vp, const char *rest)
{
	if (*rest == '/' && vp->v_type != VDIR) {
		vrele(vp);
		return ENOTDIR;		/* "file/" */
	}
	if (nd->depth == VFS_MAXDEPTH) {
		vrele(vp);
		return ENAMETOOLONG;
	}
	nd->stack[nd->depth++] = vp;
	return 0;
}

/* Handle one component: 0, ND_RESTART, or an errno.  rest is what
 * follows name in the path; follow says whether a symlink here is
 * followed or becomes the answer itself. */
static int nd_component(struct nameidata *nd, const char *name,
			const char *rest, bool follow)
{
	struct vnode *vp;
	int error;

	if (nd_dots(nd, name))
		return 0;
	if ((error = nd_step(nd, name, &vp)) != 0)
		return error;
	if (vp->v_type == VLNK && follow)
		return nd_symlink(nd, vp, rest);
	return nd_push(nd, vp, rest);
}

/* The last component of a parent lookup: copied to parent_name, with
 * its directory left on top of the stack.  "." and ".." name no entry
 * that could be made or removed: EINVAL. */
static int nd_last_name(struct nameidata *nd, const char *name,
			char *parent_name)
{
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return EINVAL;
	strlcpy(parent_name, name, VFS_NAME_MAX + 1);
	return nd_top(nd)->v_type == VDIR ? 0 : ENOTDIR;
}

/*
 * Walk nd->path.  With parent_name, stop before the last component and
 * copy it there (the caller creates or removes it).  On success the
 * answer is on top of the stack.
 */
static int nd_walk(struct nameidata *nd, bool follow, char *parent_name)
{
	char name[VFS_NAME_MAX + 1];
	const char *p = nd->path;
	int error;

	for (;;) {
		if ((error = next_component(&p, name)) != 0)
			return error;
		if (name[0] == '\0')
			return parent_name ? EINVAL : 0;  /* the path is "/" */
		if (parent_name && only_slashes(p))
			return nd_last_name(nd, name, parent_name);
		/* Only a last name with no slash after it may stay a link:
		 * "link/" means the directory the link names. */
		error = nd_component(nd, name, p, follow || *p != '\0');
		if (error == ND_RESTART) {
			p = nd->path;
			continue;
		}
		if (error || only_slashes(p))
			return error;
	}
}

/* A new lookup of path, standing at the root; NULL when nothing is
 * mounted yet.  May block (M_WAITOK). */
static struct nameidata *nd_start(const char *path)
{
	struct nameidata *nd = kmalloc(sizeof(*nd), M_VFS, M_WAITOK);

	nd->depth = nd->links = 0;
	strlcpy(nd->path, path, sizeof(nd->path));
	nd->stack[nd->depth++] = vfs_rootvnode();
	if (nd->stack[0] == NULL) {
		kfree(nd, M_VFS);
		return NULL;
	}
	return nd;
}

/* Set up, walk, and hand back the top of the stack, referenced; every
 * other reference the walk took is given back, on success or not. */
static int namei_common(const char *path, bool follow, char *parent_name,
			struct vnode **vpp)
{
	struct nameidata *nd;
	int error;

	if (path == NULL || path[0] != '/')
		return EINVAL;
	if (strlen(path) >= VFS_PATH_MAX)
		return ENAMETOOLONG;
	__atomic_add_fetch(&vfs_lookups, 1, __ATOMIC_RELAXED);
	if ((nd = nd_start(path)) == NULL)
		return ENOENT;		/* nothing is mounted yet */
	error = nd_walk(nd, follow, parent_name);
	if (error == 0) {
		*vpp = nd_top(nd);
		nd->depth--;		/* the caller has its reference */
	}
	nd_release(nd, 0);
	kfree(nd, M_VFS);
	return error;
}

/* The vnode path names, referenced (contract in fs/vfs.h): EINVAL for a
 * relative path.  Thread context; blocks in the filesystems. */
int vfs_namei(const char *path, bool follow, struct vnode **vpp)
{
	return namei_common(path, follow, NULL, vpp);
}

/* The directory holding path's last component, referenced, and that
 * component in name (VFS_NAME_MAX + 1 bytes).  EINVAL for "/" and for a
 * last component "." or "..".  Symlinks on the way are followed; the
 * last component is not looked up.  Thread context; blocks. */
int vfs_namei_parent(const char *path, struct vnode **dvpp, char *name)
{
	return namei_common(path, true, name, dvpp);
}
