/*
 * tmpfs.c - a filesystem in memory, the VFS's second implementation.
 *
 * Every object is a tmpfs_node; nothing is ever written to a device.  A
 * directory keeps its entries in a list, each with a readdir cookie that
 * never changes (cookies 1 and 2 are "." and ".."); a file keeps its data
 * in 4 KiB pages, NULL for a hole; a symlink keeps its target.
 *
 * A node lives while a directory entry names it (nlink > 0) or a vnode
 * stands for it (nvnodes > 0): an unlinked file that is still open stays
 * readable until its vnode is reclaimed, as on any Unix system.
 *
 * One serializer per mount makes each operation atomic; operations on
 * different tmpfs mounts run in parallel.  The pages a mount may use are
 * bounded (TMPFS_MAX_PAGES): a write beyond that gets ENOSPC.
 *
 * The structures:
 *
 *   struct tmpfs_mount          struct tmpfs_node (a directory)
 *   +-----------+               +------+-------+-------+---------+
 *   | lock      |     root ---> | ino  | nlink | parent| entries |--+
 *   | next_ino  |               +------+-------+-------+---------+  |
 *   | pages_used|                                                   |
 *   +-----------+    tmpfs_dirent: { node, cookie, name }  <---------+
 *                        |            (one per name, in creation order)
 *                        v
 *                    tmpfs_node (a file): pages[0..npages), NULL = hole
 *
 * Invariants, true whenever the serializer is free:
 *
 *   - a file's or symlink's nlink is the number of dirents naming it;
 *   - a directory's nlink is 2 + its subdirectories while it has a name
 *     ("." and the name in its parent; each child's ".." adds one), and
 *     0 once removed; the root's is 2 with no name (its parent is NULL,
 *     and its ".." reads as itself);
 *   - a directory has at most one name, and `parent` is the directory
 *     holding it: so walking parent pointers from any directory reaches
 *     the root, with no loop (rename_check keeps it so);
 *   - a node exists while nlink > 0 or nvnodes > 0 (node_maybe_free);
 *   - pages_used is the number of non-NULL pages of all the mount's
 *     nodes, and never exceeds TMPFS_MAX_PAGES;
 *   - a dirent's cookie never changes and is unique in its directory:
 *     next_cookie only grows, so readdir resumes after the last entry it
 *     returned even when entries were removed meanwhile.
 *
 * Locking: tm->lock, a serializer (it stays held if its holder sleeps
 * in kmalloc), protects every field of the mount and of all its nodes
 * and dirents.  Every vop takes it for its whole operation, but two
 * that need not: readlink (a symlink's target never changes after
 * make_node, and the vnode reference keeps the node alive) and fsync
 * (nothing to do).  statfs reads counters without it (a snapshot for
 * display).  The VFS's mnt_token is taken inside it, by vfs_vget, never
 * the other way round.
 */
#include <kern/types.h>
#include <drivers/rtc.h>
#include <kern/errno.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/serialize.h>
#include <fs/vfs.h>

MALLOC_DEFINE(M_TMPFS, "tmpfs", "tmpfs nodes and data");

#define TMPFS_PAGE		4096
#define TMPFS_MAX_PAGES		4096	/* 16 MiB of file data per mount */
#define TMPFS_ROOT_INO		1

/* One name in a directory.  All fields: the mount's lock. */
struct tmpfs_dirent {
	struct tmpfs_node *node;	/* what the name names */
	uint64_t cookie;		/* readdir position, >= 3 */
	TAILQ_ENTRY(tmpfs_dirent) link;	/* the directory's entries */
	char name[];			/* NUL-terminated */
};

/* One object.  All fields: the mount's lock (target: set once). */
struct tmpfs_node {
	uint64_t ino;			/* unique in the mount, never reused */
	enum vtype type;
	uint32_t mode;			/* S_IF* | permissions */
	uint64_t nlink;			/* see the invariants above */
	int nvnodes;			/* vnodes standing for it */
	uint64_t size;			/* bytes; a symlink: target length */
	uint64_t mtime_ns, ctime_ns;
	struct tmpfs_node *parent;	/* directories */
	TAILQ_HEAD(, tmpfs_dirent) entries;
	uint64_t next_cookie;
	uint8_t **pages;		/* files: npages pointers */
	uint64_t npages;
	char *target;			/* symlinks */
};

/* One mount (mnt_data). */
struct tmpfs_mount {
	struct lwkt_serialize lock;	/* every operation */
	struct tmpfs_node *root;
	uint64_t next_ino;
	uint64_t pages_used;
	uint64_t nodes;
};

static const struct vop_ops tmpfs_vops;

/* The mount and the node behind a tmpfs vnode. */
static struct tmpfs_mount *tm_of(struct vnode *vp)
{
	return vp->v_mount->mnt_data;
}

static struct tmpfs_node *tn_of(struct vnode *vp)
{
	return vp->v_data;
}

/* Timestamps are wall-clock nanoseconds, as HMR's. */
static uint64_t now_ns(void)
{
	return clock_realtime_ns();
}

/* ---- nodes ----------------------------------------------------------------- */

/* A new node with no name yet (nlink 0: the caller adds one before it
 * lets the lock go).  The mount's lock, or the mount being made; may
 * sleep for memory (the serializer stays held). */
static struct tmpfs_node *node_alloc(struct tmpfs_mount *tm, enum vtype type,
				     uint32_t mode)
{
	struct tmpfs_node *n = kmalloc(sizeof(*n), M_TMPFS, M_WAITOK | M_ZERO);

	n->ino = tm->next_ino++;
	n->type = type;
	n->mode = mode;
	n->mtime_ns = n->ctime_ns = now_ns();
	n->next_cookie = 3;		/* 1 ".", 2 ".." */
	TAILQ_INIT(&n->entries);
	tm->nodes++;
	return n;
}

/* Free a file's pages and page array, counting them off the mount. */
static void node_free_data(struct tmpfs_mount *tm, struct tmpfs_node *n)
{
	for (uint64_t i = 0; i < n->npages; i++)
		if (n->pages[i]) {
			kfree(n->pages[i], M_TMPFS);
			tm->pages_used--;
		}
	if (n->pages)
		kfree(n->pages, M_TMPFS);
	n->pages = NULL;
	n->npages = 0;
}

/* Free n if nothing names it and no vnode stands for it. */
static void node_maybe_free(struct tmpfs_mount *tm, struct tmpfs_node *n)
{
	if (n->nlink > 0 || n->nvnodes > 0)
		return;
	node_free_data(tm, n);
	if (n->target)
		kfree(n->target, M_TMPFS);
	kfree(n, M_TMPFS);
	tm->nodes--;
}

/* vfs_vget's init for a node's first vnode (a cached vnode is reused
 * without it).  Runs inside node_vnode, so under the mount's lock. */
static int vnode_init(struct vnode *vp, void *arg)
{
	struct tmpfs_node *n = arg;

	vp->v_type = n->type;
	vp->v_ops = &tmpfs_vops;
	vp->v_data = n;
	n->nvnodes++;			/* under the mount's serializer */
	return 0;
}

/* The vnode for node n; the serializer is held (vnode_init needs it). */
static int node_vnode(struct mount *mp, struct tmpfs_node *n,
		      struct vnode **vpp)
{
	return vfs_vget(mp, n->ino, 0, vnode_init, n, vpp);
}

/* ---- directories ------------------------------------------------------------- */

/* The entry called name in dir, or NULL.  A linear search: tmpfs
 * directories are small, and the list keeps readdir's order. */
static struct tmpfs_dirent *dir_find(struct tmpfs_node *dir, const char *name)
{
	struct tmpfs_dirent *de;

	TAILQ_FOREACH(de, &dir->entries, link)
		if (strcmp(de->name, name) == 0)
			return de;
	return NULL;
}

/* Name n in dir as name (the caller checked it is free): the node
 * gains a link, and a directory gets its parent and gives dir a link
 * for its "..".  The mount's lock; may sleep for memory. */
static void dir_add(struct tmpfs_node *dir, const char *name,
		    struct tmpfs_node *n)
{
	size_t len = strlen(name) + 1;
	struct tmpfs_dirent *de = kmalloc(sizeof(*de) + len, M_TMPFS,
					  M_WAITOK);

	de->node = n;
	de->cookie = dir->next_cookie++;
	memcpy(de->name, name, len);
	TAILQ_INSERT_TAIL(&dir->entries, de, link);
	n->nlink++;
	if (n->type == VDIR) {
		n->parent = dir;
		dir->nlink++;		/* the child's ".." */
	}
	dir->mtime_ns = now_ns();
}

/* Take de out of dir; the node loses a link (and maybe its life). */
static void dir_remove(struct tmpfs_mount *tm, struct tmpfs_node *dir,
		       struct tmpfs_dirent *de)
{
	struct tmpfs_node *n = de->node;

	TAILQ_REMOVE(&dir->entries, de, link);
	kfree(de, M_TMPFS);
	/* The name's link, and for a directory also its "." and the
	 * parent's link from its "..": a removed directory has nlink 0. */
	n->nlink--;
	if (n->type == VDIR) {
		n->nlink--;		/* its own "." */
		dir->nlink--;		/* its ".." */
	}
	n->ctime_ns = dir->mtime_ns = now_ns();
	node_maybe_free(tm, n);
}

/*
 * The vops.  Contracts are struct vop_ops's (fs/vfs.h); each takes the
 * mount's lock for its whole operation, so each is atomic with respect
 * to the others on this mount.  All may sleep (for memory, or for the
 * lock).
 */

/* The vnode of name in dvp; ENOENT if there is no such name. */
static int tmpfs_lookup(struct vnode *dvp, const char *name,
			struct vnode **vpp)
{
	struct tmpfs_mount *tm = tm_of(dvp);
	struct tmpfs_dirent *de;
	int error = ENOENT;

	lwkt_serialize_enter(&tm->lock);
	if ((de = dir_find(tn_of(dvp), name)) != NULL)
		error = node_vnode(dvp->v_mount, de->node, vpp);
	lwkt_serialize_exit(&tm->lock);
	return error;
}

/* Make a node of type in dvp as name; its vnode through vpp if asked.
 * A directory that was removed (still referenced, nlink 0) takes no
 * new names: ENOENT, as POSIX has it. */
static int make_node(struct vnode *dvp, const char *name, enum vtype type,
		     uint32_t mode, const char *target, struct vnode **vpp)
{
	struct tmpfs_mount *tm = tm_of(dvp);
	struct tmpfs_node *dir = tn_of(dvp), *n;
	int error = 0;

	lwkt_serialize_enter(&tm->lock);
	if (dir->nlink == 0)
		error = ENOENT;		/* the directory was removed */
	else if (dir_find(dir, name))
		error = EEXIST;
	if (error == 0) {
		n = node_alloc(tm, type, mode);
		/* A symlink's size is its target's length, as lstat
		 * reports it on any Unix system. */
		if (target) {
			n->target = kmalloc(strlen(target) + 1, M_TMPFS,
					    M_WAITOK);
			strlcpy(n->target, target, strlen(target) + 1);
			n->size = strlen(target);
		}
		if (type == VDIR)
			n->nlink = 1;	/* "." */
		dir_add(dir, name, n);
		if (vpp)
			error = node_vnode(dvp->v_mount, n, vpp);
	}
	lwkt_serialize_exit(&tm->lock);
	return error;
}

/* create, mkdir, symlink: make_node with a type. */
static int tmpfs_create(struct vnode *dvp, const char *name, uint32_t mode,
			struct vnode **vpp)
{
	return make_node(dvp, name, VREG, mode, NULL, vpp);
}

static int tmpfs_mkdir(struct vnode *dvp, const char *name, uint32_t mode,
		       struct vnode **vpp)
{
	return make_node(dvp, name, VDIR, mode, NULL, vpp);
}

static int tmpfs_symlink(struct vnode *dvp, const char *name,
			 const char *target)
{
	return make_node(dvp, name, VLNK, S_IFLNK | 0777, target, NULL);
}

/* Another name for vp in dvp.  Neither may be removed already (a file
 * with no name left cannot be given one back).  The VFS has refused
 * directories (EPERM) before this is called. */
static int tmpfs_link(struct vnode *vp, struct vnode *dvp, const char *name)
{
	struct tmpfs_mount *tm = tm_of(dvp);
	int error = 0;

	lwkt_serialize_enter(&tm->lock);
	if (tn_of(vp)->nlink == 0 || tn_of(dvp)->nlink == 0)
		error = ENOENT;
	else if (dir_find(tn_of(dvp), name))
		error = EEXIST;
	else
		dir_add(tn_of(dvp), name, tn_of(vp));
	lwkt_serialize_exit(&tm->lock);
	return error;
}

/* Remove a name that is not a directory's.  The node lives on while a
 * vnode stands for it (an open file stays readable). */
static int tmpfs_unlink(struct vnode *dvp, const char *name)
{
	struct tmpfs_mount *tm = tm_of(dvp);
	struct tmpfs_dirent *de;
	int error = 0;

	lwkt_serialize_enter(&tm->lock);
	de = dir_find(tn_of(dvp), name);
	if (de == NULL)
		error = ENOENT;
	else if (de->node->type == VDIR)
		error = EISDIR;
	else
		dir_remove(tm, tn_of(dvp), de);
	lwkt_serialize_exit(&tm->lock);
	return error;
}

/* Remove an empty directory's name.  "." and ".." are not in entries,
 * so "empty" is simply an empty list. */
static int tmpfs_rmdir(struct vnode *dvp, const char *name)
{
	struct tmpfs_mount *tm = tm_of(dvp);
	struct tmpfs_dirent *de;
	int error = 0;

	lwkt_serialize_enter(&tm->lock);
	de = dir_find(tn_of(dvp), name);
	if (de == NULL)
		error = ENOENT;
	else if (de->node->type != VDIR)
		error = ENOTDIR;
	else if (!TAILQ_EMPTY(&de->node->entries))
		error = ENOTEMPTY;
	else
		dir_remove(tm, tn_of(dvp), de);
	lwkt_serialize_exit(&tm->lock);
	return error;
}

/* Is dir inside (or equal to) n?  Renaming n there would orphan a loop. */
static bool is_inside(struct tmpfs_node *dir, struct tmpfs_node *n)
{
	for (; dir != NULL; dir = dir->parent)
		if (dir == n)
			return true;
	return false;
}

/* Check a rename; 0 or the errno POSIX gives.  Two names of one file
 * (to->node == from->node) is allowed, and changes nothing. */
static int rename_check(struct tmpfs_dirent *from, struct tmpfs_node *tdir,
			struct tmpfs_dirent *to)
{
	if (from == NULL)
		return ENOENT;
	if (tdir->nlink == 0)
		return ENOENT;
	if (from->node->type == VDIR && is_inside(tdir, from->node))
		return EINVAL;
	if (to == NULL || to->node == from->node)
		return 0;
	if (from->node->type == VDIR && to->node->type != VDIR)
		return ENOTDIR;
	if (from->node->type != VDIR && to->node->type == VDIR)
		return EISDIR;
	if (to->node->type == VDIR && !TAILQ_EMPTY(&to->node->entries))
		return ENOTEMPTY;
	return 0;
}

/*
 * Move fname in fdvp to tname in tdvp, replacing what tname named.  The
 * steps, all under the lock, so no one sees a state between them: pin
 * the node with an extra link (removing its last name must not free
 * it), drop the replaced entry, drop the old entry, give a directory
 * back the "." dir_remove took, add the new entry, unpin.
 */
static int tmpfs_rename(struct vnode *fdvp, const char *fname,
			struct vnode *tdvp, const char *tname)
{
	struct tmpfs_mount *tm = tm_of(fdvp);
	struct tmpfs_node *fdir = tn_of(fdvp), *tdir = tn_of(tdvp), *n;
	struct tmpfs_dirent *from, *to;
	int error;

	lwkt_serialize_enter(&tm->lock);
	from = dir_find(fdir, fname);
	to = dir_find(tdir, tname);
	error = rename_check(from, tdir, to);
	/* Two names of one file: POSIX says do nothing, successfully. */
	if (error == 0 && !(to && to->node == from->node)) {
		n = from->node;
		n->nlink++;		/* keep it alive across the move */
		if (to)
			dir_remove(tm, tdir, to);
		dir_remove(tm, fdir, from);
		if (n->type == VDIR)
			n->nlink++;	/* dir_remove took "." too */
		dir_add(tdir, tname, n);
		n->nlink--;
	}
	lwkt_serialize_exit(&tm->lock);
	return error;
}

/*
 * Entries after position `cookie`: "." is 1, ".." is 2, then the
 * entries in creation order with their own cookies.  fill runs under
 * the lock (vfs_filldir_t forbids it to call back into the VFS).  Always
 * 0: a directory cannot fail to be read.
 */
static int tmpfs_readdir(struct vnode *vp, uint64_t cookie,
			 vfs_filldir_t fill, void *arg)
{
	struct tmpfs_mount *tm = tm_of(vp);
	struct tmpfs_node *dir = tn_of(vp);
	struct tmpfs_dirent *de;
	struct vdirent d;

	lwkt_serialize_enter(&tm->lock);
	/* "." and "..", unless the caller is already past them. */
	if (cookie < 1 && fill(arg, &(struct vdirent){ dir->ino, 1, VDIR,
						       ".", 1 }))
		goto out;
	if (cookie < 2 && fill(arg, &(struct vdirent){
			dir->parent ? dir->parent->ino : dir->ino, 2, VDIR,
			"..", 2 }))
		goto out;
	TAILQ_FOREACH(de, &dir->entries, link) {
		if (de->cookie <= cookie)
			continue;
		d = (struct vdirent){ de->node->ino, de->cookie,
				      de->node->type, de->name,
				      strlen(de->name) };
		if (fill(arg, &d))
			break;
	}
out:
	lwkt_serialize_exit(&tm->lock);
	return 0;
}

/* ---- file data --------------------------------------------------------------- */

/* Grow the page array to hold npages pointers (new ones NULL: holes).
 * It never shrinks: truncate frees pages, not slots.  May sleep. */
static void pages_reserve(struct tmpfs_node *n, uint64_t npages)
{
	uint8_t **pages;

	if (npages <= n->npages)
		return;
	pages = kmalloc(sizeof(*pages) * npages, M_TMPFS, M_WAITOK | M_ZERO);
	if (n->pages) {
		memcpy(pages, n->pages, sizeof(*pages) * n->npages);
		kfree(n->pages, M_TMPFS);
	}
	n->pages = pages;
	n->npages = npages;
}

/* Up to len bytes at off, stopping at the size; a hole reads as
 * zeroes.  Page by page: a chunk never crosses a page. */
static int tmpfs_read(struct vnode *vp, uint64_t off, void *buf, size_t len,
		      size_t *done)
{
	struct tmpfs_mount *tm = tm_of(vp);
	struct tmpfs_node *n = tn_of(vp);
	uint8_t *out = buf;

	lwkt_serialize_enter(&tm->lock);
	*done = 0;
	while (len > 0 && off < n->size) {
		uint64_t pg = off / TMPFS_PAGE, in = off % TMPFS_PAGE;
		/* The least of: what is asked, what is left of this page,
		 * what is left of the file. */
		size_t chunk = MIN(MIN(len, TMPFS_PAGE - in), n->size - off);

		if (pg < n->npages && n->pages[pg])
			memcpy(out, n->pages[pg] + in, chunk);
		else
			memset(out, 0, chunk);		/* a hole */
		out += chunk;
		off += chunk;
		len -= chunk;
		*done += chunk;
	}
	lwkt_serialize_exit(&tm->lock);
	return 0;
}

/* The page holding byte off, allocated (zeroed) if need be; NULL when
 * the mount has used its TMPFS_MAX_PAGES.  May sleep. */
static uint8_t *page_for_write(struct tmpfs_mount *tm, struct tmpfs_node *n,
			       uint64_t off)
{
	uint64_t pg = off / TMPFS_PAGE;

	pages_reserve(n, pg + 1);
	if (n->pages[pg] == NULL) {
		if (tm->pages_used >= TMPFS_MAX_PAGES)
			return NULL;
		n->pages[pg] = kmalloc(TMPFS_PAGE, M_TMPFS,
				       M_WAITOK | M_ZERO);
		tm->pages_used++;
	}
	return n->pages[pg];
}

/*
 * len bytes at *offp (with IO_APPEND: at the size, read under the lock,
 * so appends never overlap), page by page, growing the size as it goes;
 * *offp ends past the last byte.  ENOSPC when the mount's pages run out:
 * what was copied before stays written, and the size covers it.  Writing
 * past the end leaves a hole between.
 */
static int tmpfs_write(struct vnode *vp, uint64_t *offp, const void *buf,
		       size_t len, int ioflag)
{
	struct tmpfs_mount *tm = tm_of(vp);
	struct tmpfs_node *n = tn_of(vp);
	const uint8_t *in = buf;
	uint64_t off;
	int error = 0;

	lwkt_serialize_enter(&tm->lock);
	off = (ioflag & IO_APPEND) ? n->size : *offp;
	while (len > 0) {
		uint8_t *page = page_for_write(tm, n, off);
		size_t at = off % TMPFS_PAGE, chunk = MIN(len, TMPFS_PAGE - at);

		if (page == NULL) {
			error = ENOSPC;
			break;
		}
		memcpy(page + at, in, chunk);
		in += chunk;
		off += chunk;
		len -= chunk;
		n->size = MAX(n->size, off);
	}
	/* Also after ENOSPC: the bytes before it did change. */
	n->mtime_ns = now_ns();
	*offp = off;
	lwkt_serialize_exit(&tm->lock);
	return error;
}

/* Cut or extend n to size: pages past the end go, the tail is zeroed.
 * Zeroing the tail of the last kept page matters: growing the file
 * again later must read zeroes there, not the bytes cut off. */
static void truncate_node(struct tmpfs_mount *tm, struct tmpfs_node *n,
			  uint64_t size)
{
	uint64_t keep = (size + TMPFS_PAGE - 1) / TMPFS_PAGE;

	/* keep = pages that still hold bytes below size (rounded up). */
	for (uint64_t pg = keep; pg < n->npages; pg++)
		if (n->pages[pg]) {
			kfree(n->pages[pg], M_TMPFS);
			n->pages[pg] = NULL;
			tm->pages_used--;
		}
	/* size % TMPFS_PAGE != 0 implies keep >= 1, so keep - 1 is safe. */
	if (size % TMPFS_PAGE && keep - 1 < n->npages && n->pages[keep - 1])
		memset(n->pages[keep - 1] + size % TMPFS_PAGE, 0,
		       TMPFS_PAGE - size % TMPFS_PAGE);
	n->size = size;
}

/* Mode (permission bits only: the type stays), size, mtime.  Owner
 * fields are accepted and ignored: tmpfs keeps no uid or gid. */
static int tmpfs_setattr(struct vnode *vp, const struct vsetattr *sa)
{
	struct tmpfs_mount *tm = tm_of(vp);
	struct tmpfs_node *n = tn_of(vp);

	lwkt_serialize_enter(&tm->lock);
	if (sa->valid & VA_SET_MODE)
		n->mode = (n->mode & S_IFMT) | (sa->mode & 07777);
	if (sa->valid & VA_SET_SIZE)
		truncate_node(tm, n, sa->size);
	if (sa->valid & VA_SET_MTIME)
		n->mtime_ns = sa->mtime_ns;
	n->ctime_ns = now_ns();
	lwkt_serialize_exit(&tm->lock);
	return 0;
}

/* The node's attributes; blocks counts pages that exist (holes are
 * free), and atime reads as mtime (reads are not timed). */
static int tmpfs_getattr(struct vnode *vp, struct vattr *va)
{
	struct tmpfs_mount *tm = tm_of(vp);
	struct tmpfs_node *n = tn_of(vp);
	uint64_t blocks = 0;

	lwkt_serialize_enter(&tm->lock);
	/* Counted on demand: a per-node counter would need upkeep in write,
	 * truncate and free, for a number only stat shows. */
	for (uint64_t i = 0; i < n->npages; i++)
		blocks += n->pages[i] != NULL;
	*va = (struct vattr){
		.va_ino = n->ino, .va_mode = n->mode, .va_nlink = n->nlink,
		.va_size = n->size, .va_blocks = blocks,
		.va_mtime_ns = n->mtime_ns, .va_ctime_ns = n->ctime_ns,
		.va_atime_ns = n->mtime_ns,
	};
	lwkt_serialize_exit(&tm->lock);
	return 0;
}

/* The target, cut to size, without a NUL.  No lock: see the file
 * comment. */
static int tmpfs_readlink(struct vnode *vp, char *buf, size_t size,
			  size_t *len)
{
	struct tmpfs_node *n = tn_of(vp);

	*len = MIN(size, n->size);
	memcpy(buf, n->target, *len);
	return 0;
}

static int tmpfs_fsync(struct vnode *vp)
{
	return 0;			/* memory is as durable as it gets */
}

/* Gone when no name is left; the reclaim that follows frees it. */
static bool tmpfs_inactive(struct vnode *vp)
{
	struct tmpfs_mount *tm = tm_of(vp);
	bool gone;

	lwkt_serialize_enter(&tm->lock);
	gone = tn_of(vp)->nlink == 0;
	lwkt_serialize_exit(&tm->lock);
	return gone;
}

/* The vnode goes: the node loses it, and is freed if it had no name
 * left either. */
static void tmpfs_reclaim(struct vnode *vp)
{
	struct tmpfs_mount *tm = tm_of(vp);
	struct tmpfs_node *n = tn_of(vp);

	lwkt_serialize_enter(&tm->lock);
	n->nvnodes--;
	node_maybe_free(tm, n);
	lwkt_serialize_exit(&tm->lock);
}

static const struct vop_ops tmpfs_vops = {
	.vop_lookup = tmpfs_lookup,	.vop_create = tmpfs_create,
	.vop_mkdir = tmpfs_mkdir,	.vop_symlink = tmpfs_symlink,
	.vop_link = tmpfs_link,		.vop_unlink = tmpfs_unlink,
	.vop_rmdir = tmpfs_rmdir,	.vop_rename = tmpfs_rename,
	.vop_readlink = tmpfs_readlink,	.vop_read = tmpfs_read,
	.vop_write = tmpfs_write,	.vop_getattr = tmpfs_getattr,
	.vop_setattr = tmpfs_setattr,	.vop_readdir = tmpfs_readdir,
	.vop_fsync = tmpfs_fsync,	.vop_inactive = tmpfs_inactive,
	.vop_reclaim = tmpfs_reclaim,
};

/* ---- the mount ------------------------------------------------------------------ */

/* A new empty filesystem: only the root.  source and flags are unused:
 * there is no device, and MNT_RDONLY needs nothing here (the VFS refuses
 * every change on a read-only mount before a vop is called: EROFS).
 * Never fails; may sleep for memory. */
static int tmpfs_mount(struct mount *mp, const char *source, unsigned flags)
{
	struct tmpfs_mount *tm = kmalloc(sizeof(*tm), M_TMPFS,
					 M_WAITOK | M_ZERO);

	lwkt_serialize_init(&tm->lock);
	/* No other thread knows the mount yet: no lock needed here. */
	tm->next_ino = TMPFS_ROOT_INO;
	tm->root = node_alloc(tm, VDIR, S_IFDIR | 0755);
	tm->root->nlink = 2;		/* "." and its name in the parent */
	mp->mnt_data = tm;
	return 0;
}

/* The root directory's vnode, referenced. */
static int tmpfs_root(struct mount *mp, struct vnode **vpp)
{
	struct tmpfs_mount *tm = mp->mnt_data;
	int error;

	lwkt_serialize_enter(&tm->lock);
	error = node_vnode(mp, tm->root, vpp);
	lwkt_serialize_exit(&tm->lock);
	return error;
}

/*
 * Free a whole subtree; every vnode is gone already (vfs_unmount), so
 * nothing else can reach it and no lock is taken.  Depth-first: a
 * directory's children go before the directory.  Each dirent takes away
 * the one link it gave: a directory (one name only) is walked and
 * freed, any other node is freed with its last name, so a file with two
 * names is met twice but freed once.
 */
static void free_tree(struct tmpfs_mount *tm, struct tmpfs_node *n)
{
	struct tmpfs_dirent *de;
	struct tmpfs_node *child;

	while ((de = TAILQ_FIRST(&n->entries)) != NULL) {
		child = de->node;
		TAILQ_REMOVE(&n->entries, de, link);
		kfree(de, M_TMPFS);
		if (child->type == VDIR) {
			free_tree(tm, child);
		} else {
			child->nlink--;		/* this name's link */
			node_maybe_free(tm, child);
		}
	}
	n->nlink = 0;
	node_maybe_free(tm, n);
}

/* Everything goes; checks that no page was leaked.  Always 0. */
static int tmpfs_unmount(struct mount *mp)
{
	struct tmpfs_mount *tm = mp->mnt_data;

	free_tree(tm, tm->root);
	KASSERT(tm->pages_used == 0, "tmpfs unmount left %lu pages",
		tm->pages_used);
	kfree(tm, M_TMPFS);
	return 0;
}

/* The page bound and what is left of it, and the number of nodes. */
static int tmpfs_statfs(struct mount *mp, struct vstatfs *st)
{
	struct tmpfs_mount *tm = mp->mnt_data;

	/* Unlocked reads: a display snapshot, possibly a moment old.  The
	 * bound is the mount's, not the machine's free memory. */
	st->blocks = TMPFS_MAX_PAGES;
	st->free_blocks = TMPFS_MAX_PAGES - tm->pages_used;
	st->files = tm->nodes;
	return 0;
}

/* Nothing is ever waiting to be written. */
static int tmpfs_sync(struct mount *mp)
{
	return 0;
}

const struct vfsops tmpfs_vfsops = {
	.name = "tmpfs", .vfs_mount = tmpfs_mount, .vfs_unmount = tmpfs_unmount,
	.vfs_root = tmpfs_root, .vfs_statfs = tmpfs_statfs,
	.vfs_sync = tmpfs_sync,
};
