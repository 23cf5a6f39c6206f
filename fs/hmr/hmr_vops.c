/*
 * hmr_vops.c - namespace operations: create, mkdir, symlink, link,
 * unlink, rmdir, rename, and the open counts that keep orphans alive.
 *
 * Each operation is one VOP: it runs under the mount lock between
 * hmr_vop_begin() and hmr_vop_end(), so it lands in exactly one commit
 * and a crash shows all of it or none of it.  That is the whole reason
 * rename is atomic: removing the old entry, removing a replaced target
 * and adding the new entry all carry the same TID.
 *
 * Every operation checks everything that can fail (names, types, an
 * existing target, a directory moved under itself) before it changes
 * anything, so ordinary errors leave the open commit untouched.
 *
 * Link counts: a file's nlinks is its number of live entries; a
 * directory's is 2 plus its number of subdirectories ("." and each
 * child's ".."), the Unix convention fsck checks.
 */
#include "hmr_private.h"

#define HMR_LINK_MAX 65000

/* The most blocks the VOPs below can allocate (hmr_space.c rule 2): an
 * object made is its inode and entry added and its directory's inode
 * replaced; a link, the inode replaced instead of added; an entry
 * removed, the entry changed, the directory replaced, and (for a destroy
 * split across commits) the inode marked an orphan. */
static uint64_t _est_make(const struct hmr_mount *m)
{
	return 2 * hmr_est_insert(m) + 2 * hmr_est_version(m);
}

static uint64_t _est_remove(const struct hmr_mount *m)
{
	return 2 * hmr_est_modify(m) + 2 * hmr_est_version(m);
}

/*
 * Adjust dir's link count by delta and stamp its mtime/ctime.  Every
 * namespace change ends by touching the directories it changed: that is
 * what makes `ls -l` show the new mtime, and delta keeps the "2 plus
 * subdirectories" rule true when a directory is created, removed or moved.
 * The inode is re-read each time, so two touches of one directory in one
 * VOP (rename within a directory) compose instead of overwriting.
 */
static int _dir_touch(struct hmr_mount *m, uint64_t dir, int delta)
{
	struct hmr_inode_data in;
	int error = hmr_inode_get(m, 0, dir, &in, NULL);

	if (error)
		return error;
	in.nlinks = (uint64_t)((int64_t)in.nlinks + delta);
	in.mtime_ns = in.ctime_ns = hmr_now_ns();
	return hmr_inode_put(m, dir, &in);
}

/* dir must be a live directory: 0, ENOENT or ENOTDIR. */
static int _need_dir(struct hmr_mount *m, uint64_t dir)
{
	struct hmr_inode_data in;
	int error = hmr_inode_get(m, 0, dir, &in, NULL);

	if (error)
		return error;
	return in.obj_type == HMR_OBJ_DIR ? 0 : ENOTDIR;
}

/*
 * Common checks for a new name: valid, dir is a directory, name absent.
 * The order matters because POSIX callers observe it: a bad name is
 * reported before anything is looked up, "." and ".." always exist
 * (EEXIST, as Linux answers mkdir("..")), and ENOTDIR for the parent comes
 * before EEXIST for the name.
 */
static int _new_name_ok(struct hmr_mount *m, uint64_t dir, const char *name)
{
	struct hmr_dirent_buf ent;
	struct hmr_elm e;
	int error = hmr_check_name(name);

	if (error == EINVAL && name[0] == '.')
		error = EEXIST; /* "." and ".." always exist */
	if (!error)
		error = _need_dir(m, dir);
	if (!error) {
		error = hmr_dir_find(m, 0, dir, name, &e, &ent);
		error = error == 0 ? EEXIST : error == ENOENT ? 0 : error;
	}
	return error;
}

/*
 * Create an object of obj_type named name in dir (inside a VOP).  Three
 * records change: the new INODE, the new DIRENT, and a new version of the
 * parent's INODE (mtime, and nlinks for a subdirectory).  They all carry
 * the open TID, so a crash shows all three or none.
 */
static int _make(struct hmr_mount *m, uint64_t dir, const char *name,
		 uint8_t obj_type, uint16_t mode, uint32_t rdev, uint64_t *ino)
{
	struct hmr_inode_data in;
	int error = _new_name_ok(m, dir, name);

	if (!error)
		error = hmr_inode_new(m, obj_type, mode, dir, ino, &in);
	if (!error && rdev != 0) {
		in.rdev = rdev;
		error = hmr_inode_put(m, *ino, &in);
	}
	if (!error)
		error = hmr_dir_add(m, dir, name, *ino, obj_type);
	if (!error)
		error = _dir_touch(m, dir, obj_type == HMR_OBJ_DIR ? 1 : 0);
	return error;
}

/*
 * hmr_create - create a non-directory object (regular file, FIFO, device,
 * socket: the S_IF bits of mode say which; none means regular).  0,
 * EEXIST, ENOENT, ENOTDIR, EINVAL, ENAMETOOLONG, ENOSPC, EROFS (also for a
 * directory of an as-of view, asof != 0), EIO.
 */
int hmr_create(struct hmr_mount *m, uint64_t asof, uint64_t dir,
	       const char *name, uint16_t mode, uint32_t rdev, uint64_t *ino)
{
	HMR_ASSERT(m && name && ino,
		   "hmr_create: NULL argument (a caller bug: all are required)");
	uint8_t type = hmr_type_of_mode(mode);
	int error;

	if (asof != 0)
		return EROFS;
	if (type == 0)
		type = HMR_OBJ_REG;
	if (type == HMR_OBJ_DIR || type == HMR_OBJ_SYMLINK)
		return EINVAL;
	hmr_wenter(m);
	error = hmr_vop_begin(m, _est_make(m));
	if (!error)
		error = hmr_vop_end(m, _make(m, dir, name, type, mode, rdev, ino));
	return hmr_wleave(m, error);
}

/* hmr_mkdir - create a directory.  Errors as hmr_create, plus EMLINK. */
int hmr_mkdir(struct hmr_mount *m, uint64_t asof, uint64_t dir,
	      const char *name, uint16_t mode, uint64_t *ino)
{
	HMR_ASSERT(m && name && ino,
		   "hmr_mkdir: NULL argument (a caller bug: all are required)");
	int error = hmr_live_object(asof);

	if (error)
		return error;
	hmr_wenter(m);
	error = hmr_vop_begin(m, _est_make(m));
	if (!error)
		error = hmr_vop_end(m, _make(m, dir, name, HMR_OBJ_DIR, mode, 0,
					     ino));
	return hmr_wleave(m, error);
}

/*
 * Store a symlink target: inline in the inode when it fits in 48 bytes
 * (most targets do, and then reading a link costs no second record), else
 * as a SYMLINK record whose payload is the target.  The inode's size is
 * the target length either way, which is what readlink(2) callers use to
 * size their buffer.
 */
static int _symlink_target(struct hmr_mount *m, uint64_t ino,
			   const char *target, size_t len)
{
	struct hmr_inode_data in;
	struct hmr_base key;
	int error = hmr_inode_get(m, 0, ino, &in, NULL);

	if (error)
		return error;
	in.size = len;
	if (len <= HMR_SYMLINK_INLINE) {
		hmr_memcpy(in.symlink, target, len);
		return hmr_inode_put(m, ino, &in);
	}
	hmr_key_make(&key, HMR_LOCALIZE_MISC, ino, HMR_REC_SYMLINK, 1);
	error = hmr_rec_insert(m, &key, HMR_OBJ_SYMLINK, target,
			       (uint32_t)len);
	return error ? error : hmr_inode_put(m, ino, &in);
}

/*
 * hmr_symlink - create symlink name -> target.  Targets up to 4095 bytes;
 * longer is ENAMETOOLONG, empty is ENOENT.  Other errors as hmr_create.
 */
int hmr_symlink(struct hmr_mount *m, uint64_t asof, uint64_t dir,
		const char *name, const char *target, uint64_t *ino)
{
	HMR_ASSERT(m && name && target && ino,
		   "hmr_symlink: NULL argument (a caller bug: all are required)");
	size_t len = hmr_strlen(target);
	int error;

	if (asof != 0)
		return EROFS;
	if (len == 0)
		return ENOENT;
	if (len >= HMR_BLOCK_SIZE)
		return ENAMETOOLONG;
	hmr_wenter(m);
	error = hmr_vop_begin(m, _est_make(m) + hmr_est_insert(m));
	if (!error) {
		error = _make(m, dir, name, HMR_OBJ_SYMLINK, 0777, 0, ino);
		if (!error)
			error = _symlink_target(m, *ino, target, len);
		error = hmr_vop_end(m, error);
	}
	return hmr_wleave(m, error);
}

/*
 * Read a symlink target as of asof into buf (no NUL added).  The length
 * check against the inode's size catches a SYMLINK record that does not
 * belong with this inode version (a damaged tree): EIO, not a wrong link.
 */
static int _readlink(struct hmr_mount *m, uint64_t asof, uint64_t ino,
		     char *buf, size_t size, size_t *len)
{
	struct hmr_inode_data in;
	struct hmr_base key;
	struct hmr_elm e;
	char *target;
	int error = hmr_inode_get(m, asof, ino, &in, NULL);

	if (error || in.obj_type != HMR_OBJ_SYMLINK)
		return error ? error : EINVAL;
	*len = in.size < size ? (size_t)in.size : size;
	if (in.size <= HMR_SYMLINK_INLINE) {
		hmr_memcpy(buf, in.symlink, *len);
		return 0;
	}
	hmr_key_make(&key, HMR_LOCALIZE_MISC, ino, HMR_REC_SYMLINK, 1);
	error = hmr_rec_find(m, asof, &key, &e);
	if (!error && e.lf.data_len != in.size)
		error = EIO;
	target = error ? NULL : hmr_alloc(HMR_BLOCK_SIZE);
	if (!error && target == NULL)
		error = ENOMEM;
	if (!error && (error = hmr_rec_payload(m, &e, target)) == 0)
		hmr_memcpy(buf, target, *len);
	hmr_free(target);
	return error;
}

/*
 * hmr_readlink - the target of symlink ino as of asof, truncated to size
 * bytes; *len receives the length copied.  0, ENOENT, EINVAL, EIO.
 */
int hmr_readlink(struct hmr_mount *m, uint64_t asof, uint64_t ino, char *buf,
		 size_t size, size_t *len)
{
	HMR_ASSERT(m && buf && len,
		   "hmr_readlink: NULL argument (a caller bug: all are required)");
	int error;

	hmr_enter(m);
	error = _readlink(m, hmr_eff_asof(m, asof), ino, buf, size, len);
	return hmr_leave(m, error);
}

/*
 * The body of hmr_link.  The target's inode gets a new version with one
 * more link, then the new entry is added; both in the open commit.
 * Directories are refused (EPERM) because a second parent would break the
 * ".." of the directory and make cycles possible.
 */
static int _link(struct hmr_mount *m, uint64_t ino, uint64_t dir,
		 const char *name)
{
	struct hmr_inode_data in;
	int error = hmr_inode_get(m, 0, ino, &in, NULL);

	if (!error)
		error = _new_name_ok(m, dir, name);
	if (error)
		return error;
	if (in.obj_type == HMR_OBJ_DIR)
		return EPERM;
	if (in.nlinks >= HMR_LINK_MAX)
		return EMLINK;
	in.nlinks++;
	in.ctime_ns = hmr_now_ns();
	error = hmr_inode_put(m, ino, &in);
	if (!error)
		error = hmr_dir_add(m, dir, name, ino, in.obj_type);
	return error ? error : _dir_touch(m, dir, 0);
}

/*
 * hmr_link - add a hard link dir/name -> ino.  Directories cannot be
 * linked (EPERM).  Other errors as hmr_create, plus EMLINK; EROFS when
 * either object belongs to an as-of view.
 */
int hmr_link(struct hmr_mount *m, uint64_t asof, uint64_t ino,
	     uint64_t dir_asof, uint64_t dir, const char *name)
{
	HMR_ASSERT(m && name,
		   "hmr_link: NULL argument (a caller bug: all are required)");
	int error = hmr_live_object(asof | dir_asof);

	if (error)
		return error;
	hmr_wenter(m);
	error = hmr_vop_begin(m, _est_make(m));
	if (!error)
		error = hmr_vop_end(m, _link(m, ino, dir, name));
	return hmr_wleave(m, error);
}

/*
 * Drop one link of non-directory ino; destroy it at zero unless open.
 * "Destroy" means setting delete_tid on its inode and data records: the
 * bytes stay in history (readable as of earlier TIDs) until prune.  An
 * open file keeps a live inode with nlinks 0, an orphan, until its last
 * close (hmr_release) or, after a crash, until prune or fsck -r.
 */
static int _drop_link(struct hmr_mount *m, uint64_t ino)
{
	struct hmr_inode_data in;
	int error = hmr_inode_get(m, 0, ino, &in, NULL);

	if (error)
		return error;
	if (in.nlinks <= 1 && !hmr_is_open(m, ino))
		return hmr_inode_destroy(m, ino);
	in.nlinks = in.nlinks ? in.nlinks - 1 : 0;
	in.ctime_ns = hmr_now_ns();
	return hmr_inode_put(m, ino, &in); /* nlinks 0 + open: an orphan */
}

/* Find entry name in dir and the type of what it names.  The entry's
 * payload records the target's type, so callers can refuse EISDIR or
 * ENOTDIR without reading the target's inode. */
static int _find_entry(struct hmr_mount *m, uint64_t dir, const char *name,
		       struct hmr_elm *e, struct hmr_dirent_buf *ent)
{
	int error = _need_dir(m, dir);

	if (!error && hmr_strlen(name) > HMR_NAME_MAX)
		error = ENAMETOOLONG;
	return error ? error : hmr_dir_find(m, 0, dir, name, e, ent);
}

/* The body of hmr_unlink: the entry, the parent's times, then the link
 * count - last, because destroying a big file may commit part way
 * (hmr_space.c rule 3), and by then the namespace part must be done.
 * Linux answers unlink() of a directory with EISDIR. */
static int _unlink(struct hmr_mount *m, uint64_t dir, const char *name)
{
	struct hmr_dirent_buf ent;
	struct hmr_elm e;
	int error = _find_entry(m, dir, name, &e, &ent);

	if (error)
		return error;
	if (ent.d.obj_type == HMR_OBJ_DIR)
		return EISDIR;
	error = hmr_rec_delete(m, &e);
	if (!error)
		error = _dir_touch(m, dir, 0);
	if (error)
		return error;
	m->split_ok = 1;
	return _drop_link(m, ent.d.obj_id);
}

/*
 * hmr_unlink - remove a non-directory entry.  0, ENOENT, ENOTDIR, EISDIR,
 * ENAMETOOLONG, EROFS (also for an as-of directory), ENOSPC, EIO.  May use
 * the space reserve.
 */
int hmr_unlink(struct hmr_mount *m, uint64_t asof, uint64_t dir,
	       const char *name)
{
	HMR_ASSERT(m && name,
		   "hmr_unlink: NULL argument (a caller bug: all are required)");
	int error = hmr_live_object(asof);

	if (error)
		return error;
	hmr_wenter(m);
	error = hmr_vop_begin_reclaim(m, HMR_ALLOC_RESERVE, _est_remove(m));
	if (!error)
		error = hmr_vop_end(m, _unlink(m, dir, name));
	return hmr_wleave(m, error);
}

/*
 * Remove empty directory `child` (entry e in dir): entry, inode, link.
 * Emptiness is judged on the live view only; entries deleted earlier are
 * history, not contents.  The parent loses the link the child's ".."
 * gave it.
 */
static int _remove_dir(struct hmr_mount *m, uint64_t dir,
		       const struct hmr_elm *e, uint64_t child)
{
	int empty = hmr_dir_is_empty(m, child);
	int error;

	if (empty < 0)
		return EIO;
	if (!empty)
		return ENOTEMPTY;
	error = hmr_rec_delete(m, e);
	if (!error)
		error = hmr_inode_destroy(m, child);
	return error ? error : _dir_touch(m, dir, -1);
}

/* The body of hmr_rmdir. */
static int _rmdir(struct hmr_mount *m, uint64_t dir, const char *name)
{
	struct hmr_dirent_buf ent;
	struct hmr_elm e;
	int error;

	if (name[0] == '.' && name[1] == '\0')
		return EINVAL;
	if (name[0] == '.' && name[1] == '.' && name[2] == '\0')
		return ENOTEMPTY;
	error = _find_entry(m, dir, name, &e, &ent);
	if (error)
		return error;
	if (ent.d.obj_type != HMR_OBJ_DIR)
		return ENOTDIR;
	return _remove_dir(m, dir, &e, ent.d.obj_id);
}

/*
 * hmr_rmdir - remove an empty directory.  0, ENOENT, ENOTDIR, ENOTEMPTY,
 * EINVAL ("."), EROFS (also for an as-of directory), ENOSPC, EIO.  May
 * use the space reserve.
 */
int hmr_rmdir(struct hmr_mount *m, uint64_t asof, uint64_t dir,
	      const char *name)
{
	HMR_ASSERT(m && name,
		   "hmr_rmdir: NULL argument (a caller bug: all are required)");
	int error = hmr_live_object(asof);

	if (error)
		return error;
	hmr_wenter(m);
	error = hmr_vop_begin_reclaim(m, HMR_ALLOC_RESERVE, _est_remove(m));
	if (!error)
		error = hmr_vop_end(m, _rmdir(m, dir, name));
	return hmr_wleave(m, error);
}

/*
 * Is `dir` equal to `anc` or somewhere below it?  1, 0, or -EIO.  Walks
 * parent_obj_id up to the root.  rename uses it to refuse moving a
 * directory into its own subtree, which would cut the subtree off from
 * the root and make a cycle.  A walk that does not end is a damaged tree.
 */
static int _is_below(struct hmr_mount *m, uint64_t dir, uint64_t anc)
{
	struct hmr_inode_data in;

	for (int depth = 0; depth < 100000; depth++) {
		if (dir == anc)
			return 1;
		if (dir == HMR_OBJID_ROOT)
			return 0;
		if (hmr_inode_get(m, 0, dir, &in, NULL) != 0)
			return -EIO;
		dir = in.parent_obj_id;
	}
	return -EIO; /* a parent cycle: the tree is corrupt */
}

/* Everything a rename needs to know about its two names, gathered by
 * _rename_check before any change, so the changes cannot fail half way on
 * anything but ENOSPC or EIO (and those undo exactly this VOP). */
struct rename_args {
	uint64_t odir, ndir;
	const char *oname, *nname;
	struct hmr_elm src_elm, tgt_elm;
	struct hmr_dirent_buf src, tgt;
	int have_target;
};

/* May the existing target be replaced by the source?  0 or an errno.
 * POSIX: a directory may only replace an empty directory, and a
 * non-directory only a non-directory. */
static int _rename_target_ok(struct hmr_mount *m, struct rename_args *r)
{
	int empty;

	if (r->src.d.obj_type != HMR_OBJ_DIR)
		return r->tgt.d.obj_type == HMR_OBJ_DIR ? EISDIR : 0;
	if (r->tgt.d.obj_type != HMR_OBJ_DIR)
		return ENOTDIR;
	empty = hmr_dir_is_empty(m, r->tgt.d.obj_id);
	return empty < 0 ? EIO : empty ? 0 : ENOTEMPTY;
}

/* Check a rename completely before changing anything. */
static int _rename_check(struct hmr_mount *m, struct rename_args *r)
{
	int error = _find_entry(m, r->odir, r->oname, &r->src_elm, &r->src);
	int below;

	if (!error)
		error = hmr_check_name(r->nname);
	if (!error)
		error = _need_dir(m, r->ndir);
	if (error)
		return error;
	if (r->src.d.obj_type == HMR_OBJ_DIR) {
		below = _is_below(m, r->ndir, r->src.d.obj_id);
		if (below)
			return below < 0 ? EIO : EINVAL;
	}
	error = hmr_dir_find(m, 0, r->ndir, r->nname, &r->tgt_elm, &r->tgt);
	r->have_target = error == 0;
	if (error && error != ENOENT)
		return error;
	if (r->have_target && r->tgt.d.obj_id == r->src.d.obj_id)
		return 0; /* _rename sees the same object and does nothing */
	return r->have_target ? _rename_target_ok(m, r) : 0;
}

/* After the replaced entry is gone: what it alone kept alive.  A file
 * loses a link (and dies at zero - last, since a big one may be destroyed
 * across commits), a directory (empty, checked) dies and its parent loses
 * the link its ".." gave. */
static int _rename_release_target(struct hmr_mount *m, struct rename_args *r)
{
	int error;

	m->split_ok = 1; /* the rename itself is complete */
	if (r->tgt.d.obj_type != HMR_OBJ_DIR)
		return _drop_link(m, r->tgt.d.obj_id);
	error = _dir_touch(m, r->ndir, -1);
	return error ? error : hmr_inode_destroy(m, r->tgt.d.obj_id);
}

/* A directory changed parents: fix its ".." and both link counts. */
static int _rename_reparent(struct hmr_mount *m, struct rename_args *r)
{
	struct hmr_inode_data in;
	uint64_t ino = r->src.d.obj_id;
	int error = hmr_inode_get(m, 0, ino, &in, NULL);

	if (error)
		return error;
	in.parent_obj_id = r->ndir;
	in.ctime_ns = hmr_now_ns();
	error = hmr_inode_put(m, ino, &in);
	if (!error)
		error = _dir_touch(m, r->odir, -1);
	return error ? error : _dir_touch(m, r->ndir, +1);
}

/* The body of hmr_rename (all checks first, then the changes). */
static int _rename(struct hmr_mount *m, struct rename_args *r)
{
	int is_dir, error = _rename_check(m, r);

	if (error)
		return error;
	if (r->have_target && r->tgt.d.obj_id == r->src.d.obj_id)
		return 0; /* two links to one file: POSIX says do nothing */
	is_dir = r->src.d.obj_type == HMR_OBJ_DIR;
	if (r->have_target)
		error = hmr_rec_delete(m, &r->tgt_elm);
	if (!error)
		error = hmr_rec_delete(m, &r->src_elm);
	if (!error)
		error = hmr_dir_add(m, r->ndir, r->nname, r->src.d.obj_id,
				    r->src.d.obj_type);
	if (!error && is_dir && r->odir != r->ndir)
		error = _rename_reparent(m, r);
	else if (!error)
		error = _dir_touch(m, r->odir, 0);
	if (!error && !(is_dir && r->odir != r->ndir))
		error = _dir_touch(m, r->ndir, 0);
	if (!error && r->have_target)
		error = _rename_release_target(m, r);
	return error;
}

/*
 * hmr_rename - atomically move odir/oname to ndir/nname, replacing a
 * compatible target.  0, ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL (a
 * directory into its own subtree, or "."/".."), ENAMETOOLONG, EROFS (also
 * when either directory belongs to an as-of view), ENOSPC, EIO.
 */
int hmr_rename(struct hmr_mount *m, uint64_t oasof, uint64_t odir,
	       const char *oname, uint64_t nasof, uint64_t ndir,
	       const char *nname)
{
	HMR_ASSERT(m && oname && nname,
		   "hmr_rename: NULL argument (a caller bug: all are required)");
	struct rename_args *r;
	int error = hmr_live_object(oasof | nasof);

	if (error)
		return error;
	r = hmr_alloc(sizeof(*r));
	if (r == NULL)
		return ENOMEM;
	r->odir = odir, r->ndir = ndir, r->oname = oname, r->nname = nname;
	hmr_wenter(m);
	error = hmr_vop_begin(m, 2 * _est_remove(m) + _est_make(m));
	if (!error)
		error = hmr_vop_end(m, _rename(m, r));
	hmr_free(r);
	return hmr_wleave(m, error);
}

/* ---- open counts -------------------------------------------------------- */

/*
 * The open-count table is a short list: a FUSE daemon or a kernel has at
 * most a few thousand files open, and the table is consulted only on
 * open, release and the last unlink.  It lives in memory only; after a
 * crash nothing is open, and orphans are found by scanning instead.
 */

/* The open-count entry of ino, or NULL. */
static struct hmr_openfile *_open_entry(struct hmr_mount *m, uint64_t ino)
{
	struct hmr_openfile *of = m->open_files;

	while (of != NULL && of->ino != ino)
		of = of->next;
	return of;
}

/* hmr_is_open - does anyone hold ino open? */
int hmr_is_open(struct hmr_mount *m, uint64_t ino)
{
	return _open_entry(m, ino) != NULL;
}

/* hmr_open - note one more opener of ino.  0 or ENOMEM. */
int hmr_open(struct hmr_mount *m, uint64_t ino)
{
	HMR_ASSERT(m,
		   "hmr_open: NULL argument (a caller bug: all are required)");
	struct hmr_openfile *of;

	hmr_enter(m);
	of = _open_entry(m, ino);
	if (of == NULL) {
		of = hmr_alloc(sizeof(*of));
		if (of == NULL)
			return hmr_leave(m, ENOMEM);
		of->ino = ino;
		of->next = m->open_files;
		m->open_files = of;
	}
	of->count++;
	return hmr_leave(m, 0);
}

/* Forget ino's open-count entry. */
static void _open_remove(struct hmr_mount *m, struct hmr_openfile *of)
{
	struct hmr_openfile **pp = &m->open_files;

	while (*pp != of)
		pp = &(*pp)->next;
	*pp = of->next;
	hmr_free(of);
}

/* Last close of an orphan (nlinks 0): destroy it now. */
static int _reap_orphan(struct hmr_mount *m, uint64_t ino)
{
	struct hmr_inode_data in;
	int error;

	if (hmr_writable(m) != 0 ||
	    hmr_inode_get(m, 0, ino, &in, NULL) != 0 || in.nlinks != 0)
		return 0;
	error = hmr_vop_begin_reclaim(m, HMR_ALLOC_RESERVE, _est_remove(m));
	if (error)
		return error;
	m->split_ok = 1;
	return hmr_vop_end(m, hmr_inode_destroy(m, ino));
}

/*
 * hmr_release - one opener of ino is gone; the last close of an unlinked
 * file destroys it.  0, or the destroy's error.
 */
int hmr_release(struct hmr_mount *m, uint64_t ino)
{
	HMR_ASSERT(m,
		   "hmr_release: NULL argument (a caller bug: all are required)");
	struct hmr_openfile *of;

	hmr_wenter(m);
	of = _open_entry(m, ino);
	if (of == NULL || --of->count > 0)
		return hmr_wleave(m, 0);
	_open_remove(m, of);
	return hmr_wleave(m, _reap_orphan(m, ino));
}
