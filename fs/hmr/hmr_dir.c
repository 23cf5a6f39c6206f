/*
 * hmr_dir.c - directories: name hashing, lookup, insertion, readdir.
 *
 * A directory entry is the record (MISC, dir obj_id, DIRENT, key) whose
 * payload names the target object.  The key is the name's hash shifted
 * into the upper half, plus a collision iterator in the lower half:
 *
 *     key = ((crc32c(name) & 0x7FFFFFFF) << 32) | iter
 *
 * iter is the lowest value no live entry with the same hash uses, so the
 * entries of one hash form a short run that lookup walks, comparing names.
 * Keys below 2^32 never occur (a hash of 0 becomes 1): they are left for
 * "." and "..", whose readdir cookies are 0 and 1.  A readdir cookie is
 * simply "the next key to visit", so cookies survive remounts and other
 * entries coming and going (they are keys in the tree, not positions).
 *
 * The test hook hmr_dirhash_mask, when nonzero, is ANDed into the hash so
 * tests can force thousands of names onto a few hash values.
 */
#include "hmr_private.h"

uint32_t hmr_dirhash_mask;

#define DIRENT_COOKIE_FIRST (1ull << 32) /* the smallest dirent key */

/* hmr_dirhash - the upper 32 bits of a name's dirent key (iter 0). */
uint64_t hmr_dirhash(const char *name, size_t len)
{
	uint64_t h = hmr_crc32c(0, name, len) & 0x7FFFFFFFu;

	if (hmr_dirhash_mask != 0)
		h &= hmr_dirhash_mask;
	if (h == 0)
		h = 1;
	return h << 32;
}

static int _split_asof(const char *name, char *buf, uint64_t *tid);

/*
 * hmr_check_name - may `name` become a new directory entry?  0, EINVAL
 * (empty, contains '/', is "." / "..", or reads as "base@@0x<TID>"),
 * ENAMETOOLONG (more than 255 bytes).  The as-of form is refused because
 * hmr_lookup takes such a name apart and never looks for it whole: the
 * entry could be created but never found.
 */
int hmr_check_name(const char *name)
{
	size_t len = hmr_strlen(name);
	char base[HMR_NAME_MAX + 1];
	uint64_t tid;

	if (len == 0 || (name[0] == '.' && (len == 1 ||
					    (len == 2 && name[1] == '.'))))
		return EINVAL;
	if (len > HMR_NAME_MAX)
		return ENAMETOOLONG;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/')
			return EINVAL;
	return _split_asof(name, base, &tid) ? EINVAL : 0;
}

/*
 * Read a dirent payload and check its shape.  0 or EIO.  The payload's
 * own namelen must agree with the record's data_len: the CRC proves the
 * bytes are the ones written, this proves they were written as a dirent.
 */
static int _dirent_read(struct hmr_mount *m, const struct hmr_elm *e,
			struct hmr_dirent_buf *ent)
{
	if (e->lf.data_len < sizeof(ent->d) + 1 ||
	    e->lf.data_len > sizeof(ent->d) + HMR_NAME_MAX)
		return EIO;
	if (hmr_rec_payload(m, e, ent) != 0)
		return EIO;
	if (ent->d.namelen != e->lf.data_len - sizeof(ent->d))
		return EIO;
	ent->name[ent->d.namelen] = '\0';
	return 0;
}

/* The key range of one hash's run in dir: all its collision iterators,
 * and all versions of each, lie in [(hash | 0), (hash + 1) << 32). */
static void _hash_run(uint64_t dir, uint64_t hash, struct hmr_base *from,
		      struct hmr_base *end)
{
	hmr_key_make(from, HMR_LOCALIZE_MISC, dir, HMR_REC_DIRENT, hash);
	hmr_key_make(end, HMR_LOCALIZE_MISC, dir, HMR_REC_DIRENT,
		     hash + (1ull << 32));
}

/* The key range of all of dir's entries from key `from` on. */
static void _dir_range(uint64_t dir, uint64_t from_key, struct hmr_base *from,
		       struct hmr_base *end)
{
	hmr_key_make(from, HMR_LOCALIZE_MISC, dir, HMR_REC_DIRENT, from_key);
	hmr_key_make(end, HMR_LOCALIZE_MISC, dir, HMR_REC_DIRENT + 1, 0);
}

/*
 * hmr_dir_find - the entry `name` of dir as of asof.  *elm and *ent
 * receive the record and its payload.  0, ENOENT, EIO.
 */
int hmr_dir_find(struct hmr_mount *m, uint64_t asof, uint64_t dir,
		 const char *name, struct hmr_elm *elm,
		 struct hmr_dirent_buf *ent)
{
	size_t len = hmr_strlen(name);
	uint64_t hash = hmr_dirhash(name, len);
	struct hmr_base from, end;
	struct hmr_scan s;
	int error;

	/* Scan the hash's run as of asof; names are compared only on hash
	 * equality, so a lookup reads one payload unless names collide, and
	 * the deleted versions a busy name leaves behind are jumped over. */
	_hash_run(dir, hash, &from, &end);
	for (error = hmr_scan_start(m, &s, asof, &from, &end); !error;
	     error = hmr_scan_next(&s)) {
		*elm = *hmr_scan_elm(&s);
		error = _dirent_read(m, elm, ent);
		if (error)
			return error;
		if (ent->d.namelen == len && !hmr_memcmp(ent->name, name, len))
			return 0;
	}
	return error;
}

/*
 * The lowest collision iterator no live entry of `hash` uses.  Live keys
 * are unique and sorted, so walking them in order and bumping `want`
 * while it is taken finds the first gap.  Deleted versions do not count:
 * their key may be reused, since a new version with a later create_tid
 * never overlaps the old one's [create, delete) interval.
 */
static int _free_iter(struct hmr_mount *m, uint64_t dir, uint64_t hash,
		      uint64_t *key_out)
{
	struct hmr_base from, end;
	struct hmr_scan s;
	uint64_t want = hash;
	int error;

	_hash_run(dir, hash, &from, &end);
	for (error = hmr_scan_start(m, &s, 0, &from, &end); !error;
	     error = hmr_scan_next(&s)) {
		if (hmr_scan_elm(&s)->base.key > want)
			break;
		want++; /* live keys are unique: this one is `want` */
	}
	if (error && error != ENOENT)
		return error;
	/* The iterator lives in the low 32 bits; it cannot spill into the
	 * next hash's run. */
	if (want - hash > 0xFFFFFFFFull)
		return ENOSPC; /* 2^32 live names with one hash */
	*key_out = want;
	return 0;
}

/*
 * hmr_dir_add - add entry name -> ino (of obj_type) to dir.  The caller
 * checked that the name is valid and absent.  0, ENOSPC, EIO.
 */
int hmr_dir_add(struct hmr_mount *m, uint64_t dir, const char *name,
		uint64_t ino, uint8_t obj_type)
{
	size_t len = hmr_strlen(name);
	struct hmr_dirent_buf ent;
	struct hmr_base key;
	uint64_t k;
	int error = _free_iter(m, dir, hmr_dirhash(name, len), &k);

	if (error)
		return error;
	hmr_memset(&ent, 0, sizeof(ent));
	ent.d.obj_id = ino;
	ent.d.localization = HMR_LOCALIZE_INODE;
	ent.d.namelen = (uint16_t)len;
	ent.d.obj_type = obj_type;
	hmr_memcpy(ent.name, name, len);
	hmr_key_make(&key, HMR_LOCALIZE_MISC, dir, HMR_REC_DIRENT, k);
	return hmr_rec_insert(m, &key, obj_type, &ent,
			      (uint32_t)(sizeof(ent.d) + len));
}

/* hmr_dir_is_empty - 1 if dir has no live entries, 0 if it has, or -EIO. */
int hmr_dir_is_empty(struct hmr_mount *m, uint64_t dir)
{
	struct hmr_base from, end;
	struct hmr_scan s;
	int error;

	_dir_range(dir, 0, &from, &end);
	error = hmr_scan_start(m, &s, 0, &from, &end);
	return error == 0 ? 0 : error == ENOENT ? 1 : -EIO;
}

/* Emit "." (cookie 0) and ".." (cookie 1) as needed; 1 = caller stops.
 * Neither is stored: "." is the directory itself and ".." its inode's
 * parent_obj_id (the root is its own parent). */
static int _readdir_dots(uint64_t dir, uint64_t parent, uint64_t cookie,
			 hmr_filldir_fn fill, void *arg)
{
	struct hmr_dirent d = { .obj_type = HMR_OBJ_DIR };

	if (cookie == 0) {
		d.ino = dir, d.cookie = 1, d.namelen = 1, d.name = ".";
		if (fill(arg, &d))
			return 1;
	}
	if (cookie <= 1) {
		d.ino = parent, d.cookie = 2, d.namelen = 2, d.name = "..";
		if (fill(arg, &d))
			return 1;
	}
	return 0;
}

/* Emit the live-as-of entries of dir from key `from` on.  Each entry's
 * cookie is its key + 1, so resuming at a cookie seeks past exactly the
 * entries already returned, whatever happened to the directory since. */
static int _readdir_entries(struct hmr_mount *m, uint64_t asof, uint64_t dir,
			    uint64_t from, hmr_filldir_fn fill, void *arg)
{
	struct hmr_dirent_buf ent;
	struct hmr_base lo, hi;
	struct hmr_scan s;
	int error;

	_dir_range(dir, from, &lo, &hi);
	for (error = hmr_scan_start(m, &s, asof, &lo, &hi); !error;
	     error = hmr_scan_next(&s)) {
		const struct hmr_elm *e = hmr_scan_elm(&s);
		struct hmr_dirent d;

		if (_dirent_read(m, e, &ent) != 0)
			return EIO;
		d.ino = ent.d.obj_id, d.cookie = e->base.key + 1;
		d.obj_type = ent.d.obj_type, d.namelen = ent.d.namelen;
		d.name = ent.name;
		if (fill(arg, &d))
			return 0;
	}
	return error == ENOENT ? 0 : error;
}

/*
 * hmr_readdir - list dir as of asof, starting at `cookie` (0 = start).
 * Each entry carries the cookie to resume after it.  0, ENOENT, ENOTDIR,
 * EIO.  Takes the mount lock; may block.
 */
int hmr_readdir(struct hmr_mount *m, uint64_t asof, uint64_t dir,
		uint64_t cookie, hmr_filldir_fn fill, void *arg)
{
	HMR_ASSERT(m && fill,
		   "hmr_readdir: NULL argument (a caller bug: all are required)");
	struct hmr_inode_data in;
	int error;

	hmr_enter(m);
	asof = hmr_eff_asof(m, asof);
	/* The directory must exist (as of asof) and be a directory. */
	error = hmr_inode_get(m, asof, dir, &in, NULL);
	if (!error && in.obj_type != HMR_OBJ_DIR)
		error = ENOTDIR;
	if (error || _readdir_dots(dir, in.parent_obj_id, cookie, fill, arg))
		return hmr_leave(m, error);
	if (cookie < DIRENT_COOKIE_FIRST)
		cookie = DIRENT_COOKIE_FIRST;
	return hmr_leave(m, _readdir_entries(m, asof, dir, cookie, fill, arg));
}

/* Parse "@@0x<hex>" at s: 0 and *tid, or EINVAL.  H1 prints exactly 16
 * digits; any 1 to 16 are accepted here, TID 0 is not. */
static int _parse_asof(const char *s, uint64_t *tid)
{
	uint64_t v = 0;
	int digits = 0;

	if (s[0] != '@' || s[1] != '@' || s[2] != '0' ||
	    (s[3] != 'x' && s[3] != 'X'))
		return EINVAL;
	for (s += 4; *s != '\0'; s++, digits++) {
		int d = (*s >= '0' && *s <= '9')   ? *s - '0'
			: (*s >= 'a' && *s <= 'f') ? *s - 'a' + 10
			: (*s >= 'A' && *s <= 'F') ? *s - 'A' + 10
						   : -1;
		if (d < 0 || digits >= 16)
			return EINVAL;
		v = v << 4 | (uint64_t)d;
	}
	*tid = v;
	return digits > 0 && v != 0 ? 0 : EINVAL;
}

/* Split "name@@0xTID" into base (copied to buf) and tid; 1 if present.
 * The first "@@0x" that parses wins, so a name may itself contain "@@"
 * elsewhere. */
static int _split_asof(const char *name, char *buf, uint64_t *tid)
{
	size_t len = hmr_strlen(name);

	for (size_t i = 1; i + 4 < len; i++) {
		if (name[i] != '@' || _parse_asof(name + i, tid) != 0)
			continue;
		if (i > HMR_NAME_MAX)
			return 0;
		hmr_memcpy(buf, name, i);
		buf[i] = '\0';
		return 1;
	}
	return 0;
}

/* Resolve one plain name (or "." / "..") in dir as of asof.  The
 * directory is checked as of the same TID, so a name inside a directory
 * deleted since is still found through an as-of lookup. */
static int _lookup(struct hmr_mount *m, uint64_t asof, uint64_t dir,
		   const char *name, uint64_t *ino)
{
	struct hmr_inode_data in;
	struct hmr_dirent_buf ent;
	struct hmr_elm e;
	int error = hmr_inode_get(m, asof, dir, &in, NULL);

	if (error)
		return error;
	if (in.obj_type != HMR_OBJ_DIR)
		return ENOTDIR;
	if (hmr_strlen(name) > HMR_NAME_MAX)
		return ENAMETOOLONG;
	if (name[0] == '.' && name[1] == '\0')
		*ino = dir;
	else if (name[0] == '.' && name[1] == '.' && name[2] == '\0')
		*ino = in.parent_obj_id;
	else if ((error = hmr_dir_find(m, asof, dir, name, &e, &ent)) == 0)
		*ino = ent.d.obj_id;
	return error;
}

/*
 * hmr_lookup - find `name` in dir as of asof.  "name@@0x<TID>" finds name
 * as of that committed TID; *asof_out (may be NULL) receives the TID the
 * object must be read at.  0, ENOENT, ENOTDIR, ENAMETOOLONG, EIO.
 */
int hmr_lookup(struct hmr_mount *m, uint64_t asof, uint64_t dir,
	       const char *name, uint64_t *ino, uint64_t *asof_out)
{
	HMR_ASSERT(m && dir && name && ino,
		   "hmr_lookup: NULL argument (a caller bug: all are required)");
	char base[HMR_NAME_MAX + 1];
	uint64_t tid;
	int error;

	hmr_enter(m);
	asof = hmr_eff_asof(m, asof);
	if (_split_asof(name, base, &tid)) {
		/* Only committed TIDs name a state; a future or open TID
		 * names nothing yet. */
		if (tid > m->durable_tid)
			return hmr_leave(m, ENOENT);
		asof = tid;
		name = base;
	}
	error = _lookup(m, asof, dir, name, ino);
	if (!error && asof_out != NULL)
		*asof_out = asof;
	return hmr_leave(m, error);
}
