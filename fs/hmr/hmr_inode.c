/*
 * hmr_inode.c - inodes: the INODE record of each object, and attributes.
 *
 * An object's inode is the record (INODE localization, obj_id, INODE, 0)
 * with a 128-byte hmr_inode_data payload.  Every change to an inode writes
 * a new version (hmr_rec_replace), so history keeps every past size,
 * mode and link count; within one commit the version is rewritten in
 * place.  Inode numbers come from next_obj_id, which only grows: an
 * obj_id is never reused, which is what lets an as-of view name any past
 * object unambiguously (H1's rule).
 *
 * HMR keeps no atime history (it behaves as noatime); atime follows mtime
 * unless set explicitly.
 */
#include "hmr_private.h"

/* hmr_mode_of_type - the S_IF* bits of an HMR object type. */
uint16_t hmr_mode_of_type(uint8_t obj_type)
{
	switch (obj_type) {
	case HMR_OBJ_DIR: return HMR_S_IFDIR;
	case HMR_OBJ_REG: return HMR_S_IFREG;
	case HMR_OBJ_SYMLINK: return HMR_S_IFLNK;
	case HMR_OBJ_FIFO: return HMR_S_IFIFO;
	case HMR_OBJ_CDEV: return HMR_S_IFCHR;
	case HMR_OBJ_BDEV: return HMR_S_IFBLK;
	case HMR_OBJ_SOCK: return HMR_S_IFSOCK;
	default: return 0;
	}
}

/* hmr_type_of_mode - the HMR object type of S_IF* bits (0: unknown). */
uint8_t hmr_type_of_mode(uint16_t mode)
{
	switch (mode & HMR_S_IFMT) {
	case HMR_S_IFDIR: return HMR_OBJ_DIR;
	case HMR_S_IFREG: return HMR_OBJ_REG;
	case HMR_S_IFLNK: return HMR_OBJ_SYMLINK;
	case HMR_S_IFIFO: return HMR_OBJ_FIFO;
	case HMR_S_IFCHR: return HMR_OBJ_CDEV;
	case HMR_S_IFBLK: return HMR_OBJ_BDEV;
	case HMR_S_IFSOCK: return HMR_OBJ_SOCK;
	default: return 0;
	}
}

/* The search key of object ino's inode record.  Inode records use the
 * INODE localization, so all inodes sort ahead of all data and entries:
 * a stat-heavy scan touches few leaves (H1's reason for localization). */
static void _inode_key(struct hmr_base *k, uint64_t ino)
{
	hmr_key_make(k, HMR_LOCALIZE_INODE, ino, HMR_REC_INODE, 0);
}

/*
 * hmr_inode_get - the inode of `ino` as of asof (0 = live).  *elm (may be
 * NULL) receives its leaf element.  0, ENOENT, EIO.
 */
int hmr_inode_get(struct hmr_mount *m, uint64_t asof, uint64_t ino,
		  struct hmr_inode_data *out, struct hmr_elm *elm)
{
	struct hmr_base key;
	struct hmr_elm e;
	int error;

	_inode_key(&key, ino);
	error = hmr_rec_find(m, asof, &key, &e);
	if (error)
		return error;
	/* An INODE record whose payload is not exactly one hmr_inode_data
	 * was not written by HMR: refuse it rather than misread it. */
	if (e.lf.data_len != sizeof(*out))
		return EIO;
	if (elm != NULL)
		*elm = e;
	return hmr_rec_payload(m, &e, out);
}

/* hmr_inode_put - store a changed inode (new version or in place). */
int hmr_inode_put(struct hmr_mount *m, uint64_t ino,
		  const struct hmr_inode_data *in)
{
	struct hmr_inode_data old;
	struct hmr_elm e;
	int error = hmr_inode_get(m, 0, ino, &old, &e);

	if (error)
		return error;
	/* A new version (or, if this commit wrote the current one, the
	 * same version rewritten): hmr_rec_replace decides. */
	return hmr_rec_replace(m, &e, in, sizeof(*in));
}

/*
 * hmr_inode_new - allocate an obj_id and write its first inode version.
 * Directories start with nlinks 2 ("." and the parent's entry).
 */
int hmr_inode_new(struct hmr_mount *m, uint8_t obj_type, uint16_t mode,
		  uint64_t parent, uint64_t *ino, struct hmr_inode_data *in)
{
	uint64_t now = hmr_now_ns();
	struct hmr_base key;

	hmr_memset(in, 0, sizeof(*in));
	in->version = HMR_VERSION;
	in->obj_type = obj_type;
	in->mode = (uint16_t)((mode & 07777) | hmr_mode_of_type(obj_type));
	in->nlinks = obj_type == HMR_OBJ_DIR ? 2 : 1;
	in->parent_obj_id = parent;
	in->ctime_ns = in->mtime_ns = in->atime_ns = in->btime_ns = now;
	*ino = m->next_obj_id++;
	_inode_key(&key, *ino);
	return hmr_rec_insert(m, &key, obj_type, in, sizeof(*in));
}

/* The first live record of one kind of ino at or after *from (a scan
 * of the live view: deleted versions are jumped over, not walked). */
static int _next_live(struct hmr_mount *m, uint64_t ino, uint16_t rtype,
		      const struct hmr_base *from, struct hmr_elm *out)
{
	struct hmr_base end;
	struct hmr_scan s;
	int error;

	hmr_key_make(&end, HMR_LOCALIZE_MISC, ino, (uint16_t)(rtype + 1), 0);
	error = hmr_scan_start(m, &s, 0, from, &end);
	if (!error)
		*out = *hmr_scan_elm(&s);
	return error;
}

/* A destroy in progress: the object, and whether it has been marked an
 * orphan (a live inode with nlinks 0) for a commit part way. */
struct destroy {
	uint64_t ino;
	int marked;	  /* its live inode says nlinks 0 */
	int checkpointed; /* part of the destroy is durable */
};

/* Before a commit part way through a destroy (hmr_space.c rule 3): the
 * inode must read nlinks 0, so the state the commit makes durable is an
 * orphan that prune or fsck -r finish after a crash. */
static int _destroy_checkpoint(struct hmr_mount *m, struct destroy *d)
{
	struct hmr_inode_data in;
	int error = 0;

	if (!d->marked) {
		error = hmr_inode_get(m, 0, d->ino, &in, NULL);
		if (!error && in.nlinks != 0) {
			in.nlinks = 0;
			in.ctime_ns = hmr_now_ns();
			error = hmr_inode_put(m, d->ino, &in);
		}
		d->marked = !error;
	}
	if (!error)
		error = hmr_vop_checkpoint(m);
	d->checkpointed |= !error;
	return error;
}

/* Delete every live record of one kind (DATA, SYMLINK) of the object
 * being destroyed.  After each delete the walk resumes just past the
 * deleted version, so a big file costs one seek per record, not a
 * rescan; when space runs short it commits part way.  0, ENOSPC, EIO. */
static int _destroy_records(struct hmr_mount *m, struct destroy *d,
			    uint16_t rtype)
{
	struct hmr_base from;
	struct hmr_elm e;
	int error;

	hmr_key_make(&from, HMR_LOCALIZE_MISC, d->ino, rtype, 0);
	/* Deleting a record changes leaves (copy on write, maybe a
	 * destroyed record), so seek afresh each time instead of keeping a
	 * cursor - which also makes a commit between two records safe. */
	while ((error = _next_live(m, d->ino, rtype, &from, &e)) == 0) {
		if (hmr_space_short(m) &&
		    (error = _destroy_checkpoint(m, d)) != 0)
			return error;
		error = hmr_rec_delete(m, &e);
		if (error)
			return error;
		from = e.base;
		from.create_tid++;
	}
	return error == ENOENT ? 0 : error;
}

/*
 * hmr_inode_destroy - the object's last link is gone: end the life of its
 * data, link target and inode (they stay in history until prune).  In a
 * VOP that allows it (m->split_ok: the namespace part is done) a big
 * object is destroyed across several commits; an error after the first
 * of them undoes only the part since, leaves the rest an orphan for
 * prune, and is not the caller's failure (0).  0, ENOSPC, EIO.
 */
int hmr_inode_destroy(struct hmr_mount *m, uint64_t ino)
{
	struct destroy d = { .ino = ino };
	struct hmr_inode_data in;
	struct hmr_elm e;
	int error = _destroy_records(m, &d, HMR_REC_DATA);

	if (!error)
		error = _destroy_records(m, &d, HMR_REC_SYMLINK);
	if (!error)
		error = hmr_inode_get(m, 0, ino, &in, &e);
	if (!error)
		error = hmr_rec_delete(m, &e);
	if (error && d.checkpointed) {
		hmr_undo_rollback(m);
		hmr_undo_begin(m);
		hmr_log("object %llu: its destroy stopped (error %d); it is "
			"left an orphan for prune", (unsigned long long)ino,
			error);
		error = 0;
	}
	return error;
}

/* Fill a struct hmr_stat from an inode and the version it came from
 * (create_tid tells which commit wrote these attributes). */
static void _stat_fill(struct hmr_stat *st, uint64_t ino,
		       const struct hmr_inode_data *in, const struct hmr_elm *e)
{
	hmr_memset(st, 0, sizeof(*st));
	st->ino = ino;
	st->mode = in->mode;
	st->obj_type = in->obj_type;
	st->nlinks = in->nlinks;
	st->size = in->size;
	st->uid = in->uid;
	st->gid = in->gid;
	st->rdev = in->rdev;
	st->atime_ns = in->atime_ns;
	st->mtime_ns = in->mtime_ns;
	st->ctime_ns = in->ctime_ns;
	st->btime_ns = in->btime_ns;
	st->create_tid = e->base.create_tid;
}

/*
 * hmr_getattr - attributes of ino as of asof.  0, ENOENT, EIO.  Takes the
 * mount lock; may block on reads.
 */
int hmr_getattr(struct hmr_mount *m, uint64_t asof, uint64_t ino,
		struct hmr_stat *st)
{
	HMR_ASSERT(m && st,
		   "hmr_getattr: NULL argument (a caller bug: all are required)");
	struct hmr_inode_data in;
	struct hmr_elm e;
	int error;

	hmr_enter(m);
	asof = hmr_eff_asof(m, asof);
	error = hmr_inode_get(m, asof, ino, &in, &e);
	if (!error) {
		_stat_fill(st, ino, &in, &e);
		/* st_blocks comes from the records, so sparse files show
		 * only what they occupy. */
		if (in.obj_type == HMR_OBJ_REG)
			st->blocks = hmr_file_block_count(m, asof, ino);
	}
	return hmr_leave(m, error);
}

/* Apply the non-size fields of a setattr to an inode.  The type bits of
 * the mode never change; ctime always moves. */
static void _setattr_apply(struct hmr_inode_data *in,
			   const struct hmr_setattr *sa)
{
	if (sa->valid & HMR_SET_MODE)
		in->mode = (uint16_t)((in->mode & HMR_S_IFMT) |
				      (sa->mode & 07777));
	if (sa->valid & HMR_SET_UID)
		in->uid = sa->uid;
	if (sa->valid & HMR_SET_GID)
		in->gid = sa->gid;
	if (sa->valid & HMR_SET_ATIME)
		in->atime_ns = sa->atime_ns;
	if (sa->valid & HMR_SET_MTIME)
		in->mtime_ns = sa->mtime_ns;
	in->ctime_ns = hmr_now_ns();
}

/* The body of hmr_setattr, under the lock and inside a VOP.  A size
 * change truncates data first, then stores one new inode version. */
static int _setattr(struct hmr_mount *m, uint64_t ino,
		    const struct hmr_setattr *sa)
{
	struct hmr_inode_data in;
	int error = hmr_inode_get(m, 0, ino, &in, NULL);

	if (error)
		return error;
	if ((sa->valid & HMR_SET_SIZE) && in.obj_type == HMR_OBJ_DIR)
		return EISDIR;
	if ((sa->valid & HMR_SET_SIZE) && in.obj_type != HMR_OBJ_REG)
		return EINVAL;
	_setattr_apply(&in, sa);
	if ((sa->valid & HMR_SET_SIZE) && sa->size != in.size) {
		/* A shrink may commit part way: a shorter file, and the
		 * other attributes already changed, is a consistent state. */
		m->split_ok = 1;
		error = hmr_file_truncate(m, ino, &in, sa->size);
		if (error)
			return error;
		if (!(sa->valid & HMR_SET_MTIME))
			in.mtime_ns = in.ctime_ns;
	}
	return hmr_inode_put(m, ino, &in);
}

/*
 * hmr_setattr - change mode, owner, size or times of ino (live view only:
 * an object of an as-of view, asof != 0, is EROFS).  0, ENOENT, EISDIR
 * (size of a directory), EINVAL, EROFS, ENOSPC, EIO.
 */
int hmr_setattr(struct hmr_mount *m, uint64_t asof, uint64_t ino,
		const struct hmr_setattr *sa)
{
	HMR_ASSERT(m && sa,
		   "hmr_setattr: NULL argument (a caller bug: all are required)");
	int error = hmr_live_object(asof);

	if (error)
		return error;
	hmr_wenter(m);
	/* A size change may shrink, which frees space: it may use the
	 * reserve, and commit part way (_setattr). */
	if (sa->valid & HMR_SET_SIZE)
		error = hmr_vop_begin_reclaim(m, HMR_ALLOC_RESERVE,
					      hmr_est_version(m) +
						      hmr_est_write(m, 1));
	else
		error = hmr_vop_begin(m, hmr_est_version(m));
	if (!error)
		error = hmr_vop_end(m, _setattr(m, ino, sa));
	return hmr_wleave(m, error);
}
