/*
 * hmr_file.c - regular file data: read, write, truncate.
 *
 * File data lives in whole 4096-byte blocks, one DATA record per block:
 * (MISC, ino, DATA, key) with key = (lblk + 1) * 4096, the block's END
 * offset (H1's convention).  A block that was never written has no record
 * and reads as zeros (a hole), so sparse files cost nothing.
 *
 * Overwriting a block the durable state holds allocates a new block (copy
 * on write), copies the old bytes, applies the change, and replaces the
 * record: the old version stays in history until prune.  A block the open
 * commit already wrote is changed in place; only its CRC in the leaf is
 * refreshed.  Bytes past EOF inside the last block are always zero:
 * truncate zeroes them, so a later extension reads zeros.
 */
#include "hmr_private.h"

#define HMR_MAX_FILE_SIZE (1ull << 52) /* keeps (lblk + 1) * 4096 exact */

/* The DATA record key of logical block lblk: its end offset, so the
 * record covering byte `off` is the first one with key > off. */
static void _data_key(struct hmr_base *k, uint64_t ino, uint64_t lblk)
{
	hmr_key_make(k, HMR_LOCALIZE_MISC, ino, HMR_REC_DATA,
		     (lblk + 1) * HMR_BLOCK_SIZE);
}

/* Copy bytes [in, in + n) of logical block lblk as of asof into out
 * (zeros for a hole).  A record whose payload is not a whole block
 * cannot be file data: EIO. */
static int _read_block(struct hmr_mount *m, uint64_t asof, uint64_t ino,
		       uint64_t lblk, uint32_t in, uint8_t *out, size_t n)
{
	struct hmr_base key;
	struct hmr_elm e;
	int error;

	_data_key(&key, ino, lblk);
	error = hmr_rec_find(m, asof, &key, &e);
	if (error == ENOENT) {
		hmr_memset(out, 0, n);
		return 0;
	}
	if (!error && e.lf.data_len != HMR_BLOCK_SIZE)
		error = EIO;
	return error ? error : hmr_rec_payload_part(m, &e, in, out, n);
}

/* Copy file bytes [off, off+len) as of asof; len is within the file.
 * Block by block, straight from the cache: each block is checked against
 * its CRC as a whole before any byte of it is copied (hmr_rec.c). */
static int _read_range(struct hmr_mount *m, uint64_t asof, uint64_t ino,
		       uint64_t off, uint8_t *buf, size_t len)
{
	int error = 0;

	while (!error && len > 0) {
		uint64_t lblk = off / HMR_BLOCK_SIZE, in = off % HMR_BLOCK_SIZE;
		size_t n = HMR_BLOCK_SIZE - in < len ? HMR_BLOCK_SIZE - in : len;

		hmr_cache_relax(m, NULL); /* between blocks nothing is held */
		error = _read_block(m, asof, ino, lblk, (uint32_t)in, buf, n);
		buf += n, off += n, len -= n;
	}
	return error;
}

/*
 * The size of regular file ino as of asof: from the mount's size hints
 * when nothing has changed the tree since the file was last read (a
 * file being read again and again costs one B-tree search per block,
 * not two), else from its inode, remembered for next time.  0, ENOENT,
 * EISDIR, EINVAL (not a regular file), EIO.  Mount lock held.
 */
static int _file_size(struct hmr_mount *m, uint64_t asof, uint64_t ino,
		      uint64_t *size)
{
	struct hmr_size_hint *h = &m->size_hints[ino % HMR_SIZE_HINTS];
	struct hmr_inode_data in;
	int error;

	if (h->gen == m->tree_gen && h->ino == ino && h->asof == asof) {
		*size = h->size;
		return 0;
	}
	if ((error = hmr_inode_get(m, asof, ino, &in, NULL)) != 0)
		return error;
	if (in.obj_type != HMR_OBJ_REG)
		return in.obj_type == HMR_OBJ_DIR ? EISDIR : EINVAL;
	*h = (struct hmr_size_hint){ .ino = ino, .asof = asof,
				     .gen = m->tree_gen, .size = in.size };
	*size = in.size;
	return 0;
}

/*
 * hmr_read - read up to len bytes of ino at off, as of asof.  *got
 * receives the count (short at EOF).  0, ENOENT, EISDIR, EINVAL (not a
 * regular file), EIO (a block failed its CRC: no bytes are returned).
 */
int hmr_read(struct hmr_mount *m, uint64_t asof, uint64_t ino, uint64_t off,
	     void *buf, size_t len, size_t *got)
{
	HMR_ASSERT(m && got && (buf || !len),
		   "hmr_read: NULL argument (a caller bug: all are required)");
	uint64_t size;
	int error;

	hmr_enter(m);
	asof = hmr_eff_asof(m, asof);
	*got = 0;
	error = _file_size(m, asof, ino, &size);
	if (error || off >= size)
		return hmr_leave(m, error);
	if (len > size - off)
		len = (size_t)(size - off);
	error = _read_range(m, asof, ino, off, buf, len);
	if (!error)
		*got = len;
	return hmr_leave(m, error);
}

/*
 * Change a block the open commit owns, in place; refresh its CRC.  Safe
 * because the block was allocated by the open commit: no durable
 * superblock reaches it.  The leaf element is fetched writable (copying
 * its leaf if an older commit wrote it) only to store the new CRC.
 */
static int _patch_in_place(struct hmr_mount *m, const struct hmr_elm *e,
			   uint32_t in, const void *src, size_t n)
{
	struct hmr_buf *b;
	struct hmr_elm *w;
	int error = hmr_buf_get(m, e->lf.data_off / HMR_BLOCK_SIZE, &b);

	if (error)
		return EIO;
	error = hmr_undo_touch(m, b);
	if (error)
		return error;
	if (src != NULL)
		hmr_memcpy(b->data + in, src, n);
	else
		hmr_memset(b->data + in, 0, n);
	hmr_buf_dirty(m, b);
	error = hmr_bt_modify(m, &e->base, &w);
	if (!error)
		w->lf.data_crc = hmr_crc32c(0, b->data, HMR_BLOCK_SIZE);
	return error;
}

/*
 * Copy-on-write a block: new block = old bytes (or zeros) + the change.
 * The old record is then deleted (it stays in history) and a record for
 * the new block inserted; the old block is not freed - prune frees it
 * once no snapshot needs it.  The old bytes are CRC-checked on the way,
 * so a damaged block is never silently carried into a new version.
 */
static int _patch_cow(struct hmr_mount *m, uint64_t ino, uint64_t lblk,
		      const struct hmr_elm *old, uint32_t in, const void *src,
		      size_t n)
{
	struct hmr_base key;
	struct hmr_buf *b;
	uint64_t blkno;
	int error = hmr_block_alloc(m, &blkno);

	if (error)
		return error;
	b = hmr_buf_new(m, blkno);
	if (old != NULL && (error = hmr_rec_payload(m, old, b->data)) != 0) {
		hmr_block_free(m, blkno);
		return error;
	}
	if (src != NULL)
		hmr_memcpy(b->data + in, src, n);
	else
		hmr_memset(b->data + in, 0, n);
	if (old != NULL && (error = hmr_rec_delete(m, old)) != 0)
		return error;
	_data_key(&key, ino, lblk);
	return hmr_rec_insert_block(m, &key, blkno,
				    hmr_crc32c(0, b->data, HMR_BLOCK_SIZE));
}

/* Write n bytes (src, or zeros when NULL) at byte `in` of block lblk:
 * a hole gets a fresh zeroed block, a block of this commit is patched in
 * place, an older block is copied on write. */
static int _write_block(struct hmr_mount *m, uint64_t ino, uint64_t lblk,
			uint32_t in, const void *src, size_t n)
{
	struct hmr_base key;
	struct hmr_elm e;
	int error;

	_data_key(&key, ino, lblk);
	error = hmr_rec_find(m, 0, &key, &e);
	if (error == ENOENT)
		return _patch_cow(m, ino, lblk, NULL, in, src, n);
	if (error)
		return error;
	if (e.base.create_tid == m->tid)
		return _patch_in_place(m, &e, in, src, n);
	return _patch_cow(m, ino, lblk, &e, in, src, n);
}

/* Write len bytes at off block by block.  A failure part way leaves the
 * open commit holding some of the blocks; hmr_vop_end undoes this VOP,
 * so the caller sees all or nothing. */
static int _write_range(struct hmr_mount *m, uint64_t ino, uint64_t off,
			const uint8_t *buf, size_t len)
{
	int error = 0;

	while (!error && len > 0) {
		uint64_t lblk = off / HMR_BLOCK_SIZE;
		uint32_t in = (uint32_t)(off % HMR_BLOCK_SIZE);
		size_t n = HMR_BLOCK_SIZE - in < len ? HMR_BLOCK_SIZE - in : len;

		hmr_cache_relax(m, NULL); /* between blocks nothing is held */
		error = _write_block(m, ino, lblk, in, buf, n);
		buf += n, off += n, len -= n;
	}
	return error;
}

/* The body of hmr_write, inside a VOP: data first, then one new inode
 * version with the size and times (rewritten in place by later writes of
 * the same commit, so a stream of small writes costs one inode version). */
static int _write(struct hmr_mount *m, uint64_t ino, uint64_t off,
		  const void *buf, size_t len)
{
	struct hmr_inode_data in;
	int error = hmr_inode_get(m, 0, ino, &in, NULL);

	if (error)
		return error;
	if (in.obj_type != HMR_OBJ_REG)
		return in.obj_type == HMR_OBJ_DIR ? EISDIR : EINVAL;
	if (off > HMR_MAX_FILE_SIZE || len > HMR_MAX_FILE_SIZE - off)
		return EFBIG;
	/* POSIX: writing zero bytes to a regular file returns 0 "and has no
	 * other results" - in particular it never extends the file. */
	if (len == 0)
		return 0;
	error = _write_range(m, ino, off, buf, len);
	if (error)
		return error;
	if (off + len > in.size)
		in.size = off + len;
	in.mtime_ns = in.ctime_ns = hmr_now_ns();
	return hmr_inode_put(m, ino, &in);
}

/*
 * hmr_write - write len bytes at off (extending the file as needed); a
 * zero-length write changes nothing, wherever off points.  All or
 * nothing: on ENOSPC or EIO this write is undone (and nothing else).
 * 0, ENOENT, EISDIR, EINVAL, EFBIG, ENOSPC, EROFS (also for an object of
 * an as-of view, asof != 0), EIO.  May block.
 */
int hmr_write(struct hmr_mount *m, uint64_t asof, uint64_t ino,
	      uint64_t off, const void *buf, size_t len)
{
	HMR_ASSERT(m && (buf || !len),
		   "hmr_write: NULL argument (a caller bug: all are required)");
	int error = hmr_live_object(asof);

	if (error)
		return error;
	hmr_wenter(m);
	error = hmr_vop_begin(m, hmr_est_write(m, len / HMR_BLOCK_SIZE + 2));
	if (!error)
		error = hmr_vop_end(m, _write(m, ino, off, buf, len));
	return hmr_wleave(m, error);
}

/* The largest full key below k, within k's (localization, obj_id,
 * rec_type): one create_tid earlier, or the key before with every
 * create_tid. */
static void _key_before(struct hmr_base *k)
{
	if (k->create_tid-- == 0)
		k->key--;
}

/* The live DATA record of ino with the largest key below *before (a
 * full key: a record's own key finds the one in front of it).  0, ENOENT
 * when there is none, EIO. */
static int _prev_live_block(struct hmr_mount *m, uint64_t ino,
			    const struct hmr_base *before, struct hmr_elm *out)
{
	struct hmr_base key = *before;
	struct hmr_cursor c;

	for (;;) {
		const struct hmr_base *b;
		int error;

		_key_before(&key);
		error = hmr_bt_seek_le(m, &key, &c);
		if (error)
			return error;
		b = &hmr_bt_elm(&c)->base;
		if (b->obj_id != ino || b->rec_type != HMR_REC_DATA ||
		    b->localization != HMR_LOCALIZE_MISC)
			return ENOENT;
		if (hmr_visible(b, 0)) {
			*out = *hmr_bt_elm(&c);
			return 0;
		}
		key = *b; /* an older version: keep walking back */
	}
}

/* Delete the DATA records of blocks >= keep, last block first.  When
 * space runs short in a VOP that may be split, the size shrinks to the
 * end of what is left and that is committed (hmr_space.c rule 3): a
 * crash part way shows the file truncated part way, never holes.
 * 0, ENOSPC, EIO. */
static int _truncate_blocks(struct hmr_mount *m, uint64_t ino,
			    struct hmr_inode_data *in, uint64_t keep)
{
	struct hmr_base key;
	struct hmr_elm e;
	int error;

	hmr_key_make(&key, HMR_LOCALIZE_MISC, ino, HMR_REC_DATA, ~0ull);
	while ((error = _prev_live_block(m, ino, &key, &e)) == 0 &&
	       e.base.key > keep * HMR_BLOCK_SIZE) {
		if (hmr_space_short(m)) {
			in->size = in->size < e.base.key ? in->size
							 : e.base.key;
			error = hmr_inode_put(m, ino, in);
			if (!error)
				error = hmr_vop_checkpoint(m);
		}
		if (!error)
			error = hmr_rec_delete(m, &e);
		if (error)
			return error;
		key = e.base;
	}
	return error == ENOENT || error == 0 ? 0 : error;
}

/*
 * hmr_file_truncate - set the file's size to `size`: drop whole blocks
 * past it, zero the tail of the last partial block.  Updates in->size;
 * the caller stores the inode.  A shrink may commit part way
 * (_truncate_blocks).
 */
int hmr_file_truncate(struct hmr_mount *m, uint64_t ino,
		      struct hmr_inode_data *in, uint64_t size)
{
	uint64_t keep = (size + HMR_BLOCK_SIZE - 1) / HMR_BLOCK_SIZE;
	uint32_t tail = (uint32_t)(size % HMR_BLOCK_SIZE);
	struct hmr_base key;
	struct hmr_elm e;
	int error = 0;

	if (size > HMR_MAX_FILE_SIZE)
		return EFBIG;
	if (size < in->size) {
		error = _truncate_blocks(m, ino, in, keep);
		_data_key(&key, ino, size / HMR_BLOCK_SIZE);
		if (!error && tail != 0 && hmr_rec_find(m, 0, &key, &e) == 0)
			error = _write_block(m, ino, size / HMR_BLOCK_SIZE, tail,
					     NULL, HMR_BLOCK_SIZE - tail);
	}
	if (!error)
		in->size = size;
	return error;
}

/* hmr_file_block_count - data blocks ino holds as of asof (st_blocks).
 * Counts records rather than trusting the size, so holes cost nothing;
 * the scan jumps over old versions, so history costs nothing either. */
uint64_t hmr_file_block_count(struct hmr_mount *m, uint64_t asof,
			      uint64_t ino)
{
	struct hmr_base from, end;
	struct hmr_scan s;
	uint64_t n = 0;
	int error;

	hmr_key_make(&from, HMR_LOCALIZE_MISC, ino, HMR_REC_DATA, 0);
	hmr_key_make(&end, HMR_LOCALIZE_MISC, ino, HMR_REC_DATA + 1, 0);
	for (error = hmr_scan_start(m, &s, asof, &from, &end); !error;
	     error = hmr_scan_next(&s))
		n++;
	return n;
}
