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

struct nameidata {
	struct vnode *stack[VFS_MAXDEPTH];	/* each referenced */
	int depth;
	int links;				/* symlinks followed */
	char path[VFS_PATH_MAX];		/* what is left to walk */
	char link[VFS_PATH_MAX];		/* scratch for a target */
};

static void nd_release(struct nameidata *nd, int keep)
{
	while (nd->depth > keep)
		vrele(nd->stack[--nd->depth]);
}

static struct vnode *nd_top(struct nameidata *nd)
{
	return nd->stack[nd->depth - 1];
}

/* Step from the directory on top of the stack to the object name. */
static int nd_step(struct nameidata *nd, const char *name, struct vnode **vpp)
{
	struct vnode *dir = nd_top(nd), *vp, *root;
	int error;

	if (dir->v_type != VDIR)
		return ENOTDIR;
	if ((vp = vfs_cache_lookup(dir, name)) == NULL) {
		uint64_t gen = vfs_generation(dir->v_mount);

		error = dir->v_ops->vop_lookup(dir, name, &vp);
		if (error)
			return error;
		vfs_cache_enter(dir, name, vp, gen);
	}
	while ((root = vfs_mounted_root(vp)) != NULL) {
		vrele(vp);
		vp = root;
	}
	*vpp = vp;
	return 0;
}

/*
 * Replace the walked part with the symlink's target: path becomes
 * target + rest (rest is empty or starts with its slash, which keeps a
 * "link/" meaning a directory).  An absolute target starts again from the root.
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

/* Copy the next component of *p into name; advance *p past it. */
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

static bool only_slashes(const char *s)
{
	while (*s == '/')
		s++;
	return *s == '\0';
}

/* Handle one component: 0, ND_RESTART, or an errno. */
static int nd_component(struct nameidata *nd, const char *name,
			const char *rest, bool follow)
{
	struct vnode *vp;
	int error;

	if (strcmp(name, ".") == 0)
		return 0;
	if (strcmp(name, "..") == 0) {
		if (nd->depth > 1)
			vrele(nd->stack[--nd->depth]);
		return 0;
	}
	if ((error = nd_step(nd, name, &vp)) != 0)
		return error;
	if (vp->v_type == VLNK && follow) {
		char rest_copy[VFS_PATH_MAX];

		strlcpy(rest_copy, rest, sizeof(rest_copy));
		error = nd_follow(nd, vp, rest_copy);
		vrele(vp);
		return error ? error : ND_RESTART;	/* walk nd->path */
	}
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

/*
 * Walk nd->path.  With parent_name, stop before the last component and
 * copy it there (the caller creates or removes it).
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
		if (parent_name && only_slashes(p)) {
			if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
				return EINVAL;
			strlcpy(parent_name, name, VFS_NAME_MAX + 1);
			return nd_top(nd)->v_type == VDIR ? 0 : ENOTDIR;
		}
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

/* Set up, walk, and hand back the top of the stack. */
static int namei_common(const char *path, bool follow, char *parent_name,
			struct vnode **vpp)
{
	struct nameidata *nd;
	int error;

	if (path == NULL || path[0] != '/')
		return EINVAL;
	if (strlen(path) >= VFS_PATH_MAX)
		return ENAMETOOLONG;
	nd = kmalloc(sizeof(*nd), M_VFS, M_WAITOK);
	nd->depth = nd->links = 0;
	strlcpy(nd->path, path, sizeof(nd->path));
	nd->stack[nd->depth++] = vfs_rootvnode();
	__atomic_add_fetch(&vfs_lookups, 1, __ATOMIC_RELAXED);
	if (nd->stack[0] == NULL) {
		kfree(nd, M_VFS);
		return ENOENT;		/* nothing is mounted yet */
	}
	error = nd_walk(nd, follow, parent_name);
	if (error == 0) {
		*vpp = nd_top(nd);
		nd->depth--;		/* the caller has its reference */
	}
	nd_release(nd, 0);
	kfree(nd, M_VFS);
	return error;
}

int vfs_namei(const char *path, bool follow, struct vnode **vpp)
{
	return namei_common(path, follow, NULL, vpp);
}

int vfs_namei_parent(const char *path, struct vnode **dvpp, char *name)
{
	return namei_common(path, true, name, dvpp);
}
