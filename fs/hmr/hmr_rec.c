/*
 * hmr_rec.c - records: visibility, payloads, and the replace/delete rules.
 *
 * A record is a leaf element plus an optional payload elsewhere (a few
 * 64-byte units of a meta block, or a whole data block).  Records are
 * never overwritten once durable:
 *
 *   - replacing a record (a changed inode, an overwritten file block)
 *     sets delete_tid = TID on the old version and inserts a new version
 *     with create_tid = TID;
 *   - deleting sets delete_tid = TID;
 *   - but a record the open commit itself created (create_tid == TID) is
 *     not durable yet, so it is changed in place, or destroyed outright:
 *     create_tid == delete_tid must never reach the disk.
 *
 * Visibility as of T (H1's rule): create_tid <= T and (delete_tid == 0
 * or T < delete_tid).  T == 0 means the live view: delete_tid == 0.  At
 * most one version of a logical record is visible at any T.
 */
#include "hmr_private.h"

/* hmr_visible - is this version visible as of `asof` (0 = live)? */
int hmr_visible(const struct hmr_base *b, uint64_t asof)
{
	if (asof == 0)
		return b->delete_tid == 0;
	return b->create_tid <= asof &&
	       (b->delete_tid == 0 || asof < b->delete_tid);
}

/* hmr_key_make - the search key of a logical record's first version. */
void hmr_key_make(struct hmr_base *k, uint32_t loc, uint64_t obj,
		  uint16_t rec_type, uint64_t key)
{
	hmr_memset(k, 0, sizeof(*k));
	k->localization = loc;
	k->obj_id = obj;
	k->rec_type = rec_type;
	k->key = key;
}

/* Same logical record (every key field but create_tid)?  Versions of one
 * record differ only in create_tid and sit next to each other. */
static int _same_record(const struct hmr_base *a, const struct hmr_base *b)
{
	return a->localization == b->localization && a->obj_id == b->obj_id &&
	       a->rec_type == b->rec_type && a->key == b->key;
}

/*
 * Position c on the version of record r that asof would see if any: the
 * last element <= (r, create_tid = asof), or <= (r, +infinity) for the
 * live view.  Versions of r are sorted by create_tid and their intervals
 * do not overlap, so that element is the only candidate: it is the newest
 * version created at or before asof, and every older one was deleted by
 * the time the next was created.  0, ENOENT, EIO.
 */
static int _seek_version(struct hmr_mount *m, uint64_t asof,
			 const struct hmr_base *r, struct hmr_cursor *c)
{
	struct hmr_base k = *r;

	k.create_tid = asof != 0 ? asof : ~0ull;
	return hmr_bt_seek_le(m, &k, c);
}

/* Is the element under c a version of r that asof sees? */
static int _visible_version(struct hmr_cursor *c, const struct hmr_base *r,
			    uint64_t asof)
{
	const struct hmr_base *b = &hmr_bt_elm(c)->base;

	return _same_record(b, r) && hmr_visible(b, asof);
}

/*
 * hmr_rec_find - the version of logical record `key` visible as of asof.
 * Returns 0 with *out filled, ENOENT, or EIO.  One descent, whatever the
 * record's history: no walk over older or newer versions.
 */
int hmr_rec_find(struct hmr_mount *m, uint64_t asof,
		 const struct hmr_base *key, struct hmr_elm *out)
{
	struct hmr_cursor c;
	int error = _seek_version(m, asof, key, &c);

	if (error)
		return error;
	if (!_visible_version(&c, key, asof))
		return ENOENT;
	*out = *hmr_bt_elm(&c);
	return 0;
}

/* ---- scans of visible records ------------------------------------------- */

/*
 * A scan yields, in key order, the one version of each logical record in
 * [from, end) that asof sees, skipping records no version of which is
 * visible.  A record with a long history is not walked: after
 * HMR_RUN_WALK versions the scan jumps, with one descent to the visible
 * version (_seek_version) and one past the record.  So a scan costs the
 * records it returns plus a bounded amount per record, however many
 * versions history keeps.
 */
#define HMR_RUN_WALK 4

/* Move c past every version of record r: to the first element of the
 * next record (no record has create_tid ~0, so the seek lands there). */
static int _skip_record(struct hmr_scan *s, const struct hmr_base *r)
{
	struct hmr_base k = *r;

	k.create_tid = ~0ull;
	return hmr_bt_seek(s->c.m, &k, &s->c);
}

/* Jump to r's visible version (*found = 1), or past r (*found = 0). */
static int _jump(struct hmr_scan *s, const struct hmr_base *r, int *found)
{
	int error = _seek_version(s->c.m, s->asof, r, &s->c);

	if (error == 0 && _visible_version(&s->c, r, s->asof)) {
		*found = 1;
		return 0;
	}
	if (error != 0 && error != ENOENT)
		return error;
	return _skip_record(s, r);
}

/* The cursor stands on a version of some record r: find r's visible
 * version by walking a few versions, then by jumping.  0 with *found = 1
 * (on it) or *found = 0 (on the next record's first element), ENOENT at
 * the end of the tree, EIO. */
static int _visible_in_run(struct hmr_scan *s, int *found)
{
	struct hmr_base r = hmr_bt_elm(&s->c)->base;
	int error = 0;

	*found = 0;
	for (int steps = 0; !error; steps++) {
		const struct hmr_base *b = &hmr_bt_elm(&s->c)->base;

		if (!_same_record(b, &r))
			return 0;
		if (hmr_visible(b, s->asof)) {
			*found = 1;
			return 0;
		}
		if ((s->asof != 0 && b->create_tid > s->asof) ||
		    steps == HMR_RUN_WALK)
			return _jump(s, &r, found);
		error = hmr_bt_next(&s->c);
	}
	return error;
}

/* From the element under the cursor, the first visible version of a
 * record below s->end: 0, ENOENT (none left), EIO. */
static int _settle(struct hmr_scan *s)
{
	int found = 0, error = 0;

	while (!error && !found) {
		if (hmr_key_cmp(&hmr_bt_elm(&s->c)->base, &s->end) >= 0)
			return ENOENT;
		hmr_cache_relax(s->c.m, &s->c); /* jumps read whole paths */
		error = _visible_in_run(s, &found);
	}
	return error;
}

/*
 * hmr_scan_start - begin a scan of the records in [from, end) visible as
 * of asof (0 = live).  0 with hmr_scan_elm(s) the first one, ENOENT when
 * there is none, EIO.  Needs the mount lock; the element stays valid
 * until the next call that may change the tree.
 */
int hmr_scan_start(struct hmr_mount *m, struct hmr_scan *s, uint64_t asof,
		   const struct hmr_base *from, const struct hmr_base *end)
{
	int error = hmr_bt_seek(m, from, &s->c);

	s->asof = asof;
	s->end = *end;
	return error ? error : _settle(s);
}

/* hmr_scan_next - the next visible record: 0, ENOENT at the end, EIO. */
int hmr_scan_next(struct hmr_scan *s)
{
	struct hmr_base r = hmr_bt_elm(&s->c)->base;
	int error = 0;

	for (int steps = 0; !error; steps++) {
		error = steps < HMR_RUN_WALK ? hmr_bt_next(&s->c)
					     : _skip_record(s, &r);
		if (!error && !_same_record(&hmr_bt_elm(&s->c)->base, &r))
			return _settle(s);
	}
	return error;
}

/* A payload failed its CRC or points outside the device: EIO. */
static int _bad_payload(struct hmr_mount *m, const struct hmr_elm *e)
{
	m->stats.crc_errors++;
	hmr_log("record payload at byte %llu (block %llu): bad CRC",
		(unsigned long long)e->lf.data_off,
		(unsigned long long)(e->lf.data_off / HMR_BLOCK_SIZE));
	return EIO;
}

/*
 * Has record e's payload (at in_blk in buffer b) passed its CRC check
 * since b was filled?  A whole block keeps the verdict in its flags; a
 * small payload in the buffer's one-entry memo, matched by place, length
 * and CRC, so a record rewritten in place (a new CRC) is checked again.
 */
static int _payload_checked(const struct hmr_buf *b, const struct hmr_elm *e,
			    uint64_t in_blk)
{
	if (e->lf.data_len == HMR_BLOCK_SIZE)
		return (b->flags & HMR_BUF_VERIFIED) != 0;
	return b->ok_len == e->lf.data_len && b->ok_off == in_blk &&
	       b->ok_crc == e->lf.data_crc;
}

static void _payload_note_checked(struct hmr_buf *b, const struct hmr_elm *e,
				  uint64_t in_blk)
{
	if (e->lf.data_len == HMR_BLOCK_SIZE) {
		b->flags |= HMR_BUF_VERIFIED;
		return;
	}
	b->ok_off = (uint16_t)in_blk;
	b->ok_len = (uint16_t)e->lf.data_len;
	b->ok_crc = e->lf.data_crc;
}

/* Test hook: when nonzero, the payload read that brings it to zero fails
 * with EIO, as a damaged block would (tests make VOPs fail anywhere). */
uint64_t hmr_payload_fail_countdown;

/* Point *out at record e's payload bytes in the cache, checked against
 * the leaf's data_crc.  Valid until the next cache safe point.  0, EIO. */
static int _payload_ptr(struct hmr_mount *m, const struct hmr_elm *e,
			const uint8_t **out)
{
	uint64_t off = e->lf.data_off, in_blk = off % HMR_BLOCK_SIZE;
	uint32_t len = e->lf.data_len;
	struct hmr_buf *b;

	if (hmr_payload_fail_countdown != 0 &&
	    --hmr_payload_fail_countdown == 0)
		return EIO;
	if (len > HMR_BLOCK_SIZE || in_blk + len > HMR_BLOCK_SIZE ||
	    hmr_buf_get(m, off / HMR_BLOCK_SIZE, &b) != 0)
		return _bad_payload(m, e);
	if (!_payload_checked(b, e, in_blk)) {
		if (hmr_crc32c(0, b->data + in_blk, len) != e->lf.data_crc)
			return _bad_payload(m, e);
		_payload_note_checked(b, e, in_blk);
	}
	*out = b->data + in_blk;
	return 0;
}

/*
 * hmr_rec_payload_part - copy bytes [from, from + n) of record e's
 * payload into buf, after checking the whole payload against the leaf's
 * data_crc: no byte of a damaged payload is ever returned.  The bytes go
 * straight from the cache, so reading part of a block costs one copy.
 * 0 or EIO.
 */
int hmr_rec_payload_part(struct hmr_mount *m, const struct hmr_elm *e,
			 uint32_t from, void *buf, size_t n)
{
	const uint8_t *p;
	int error;

	HMR_ASSERT(from + n <= e->lf.data_len,
		   "hmr_rec_payload_part: bytes past the payload's end");
	if (n == 0)
		return 0;
	error = _payload_ptr(m, e, &p);
	if (!error)
		hmr_memcpy(buf, p + from, n);
	return error;
}

/*
 * hmr_rec_payload - copy a record's payload (data_len bytes) into buf
 * after checking it against the leaf's data_crc.  0 or EIO.
 */
int hmr_rec_payload(struct hmr_mount *m, const struct hmr_elm *e, void *buf)
{
	const uint8_t *p;
	int error;

	if (e->lf.data_len == 0)
		return 0;
	error = _payload_ptr(m, e, &p);
	if (!error)
		hmr_memcpy(buf, p, e->lf.data_len);
	return error;
}

/* A fresh leaf element for `key`, created by the open commit.  The
 * create_ts is for people (history listings); TIDs order everything. */
static void _elm_init(struct hmr_mount *m, struct hmr_elm *e,
		      const struct hmr_base *key, uint8_t obj_type)
{
	hmr_memset(e, 0, sizeof(*e));
	e->base = *key;
	e->base.create_tid = m->tid;
	e->base.delete_tid = 0;
	e->base.obj_type = obj_type;
	e->base.btype = HMR_COMP_NONE;
	e->lf.create_ts = (uint32_t)(hmr_now_ns() / 1000000000ull);
}

/* Store `len` payload bytes in the open meta block; fills e->lf.  The
 * CRC is taken now, from the caller's bytes, so the leaf and the payload
 * can never disagree about what was written. */
static int _payload_store(struct hmr_mount *m, struct hmr_elm *e,
			  const void *payload, uint32_t len)
{
	struct hmr_buf *b;
	uint64_t off;
	int error = hmr_meta_alloc(m, len, &off);

	if (error)
		return error;
	error = hmr_buf_get(m, off / HMR_BLOCK_SIZE, &b);
	HMR_ASSERT(!error, "the open meta block is always cached");
	error = hmr_undo_touch(m, b);
	if (error)
		return error;
	hmr_memcpy(b->data + off % HMR_BLOCK_SIZE, payload, len);
	hmr_buf_dirty(m, b);
	e->lf.data_off = off;
	e->lf.data_len = len;
	e->lf.data_crc = hmr_crc32c(0, payload, len);
	return 0;
}

/*
 * hmr_rec_insert - insert a new version of `key` carrying a small payload
 * (len may be 0).  0, EEXIST, ENOSPC, EIO.
 */
int hmr_rec_insert(struct hmr_mount *m, const struct hmr_base *key,
		   uint8_t obj_type, const void *payload, uint32_t len)
{
	struct hmr_elm e;
	int error;

	_elm_init(m, &e, key, obj_type);
	if (len > 0) {
		error = _payload_store(m, &e, payload, len);
		if (error)
			return error;
	}
	error = hmr_bt_insert(m, &e);
	if (error)
		hmr_payload_free(m, &e);
	return error;
}

/*
 * hmr_rec_insert_block - insert a DATA record that owns whole block blkno
 * (already allocated and filled by the caller).  0, EEXIST, ENOSPC, EIO.
 */
int hmr_rec_insert_block(struct hmr_mount *m, const struct hmr_base *key,
			 uint64_t blkno, uint32_t data_crc)
{
	struct hmr_elm e;

	_elm_init(m, &e, key, 0);
	e.lf.data_off = blkno * HMR_BLOCK_SIZE;
	e.lf.data_len = HMR_BLOCK_SIZE;
	e.lf.data_crc = data_crc;
	return hmr_bt_insert(m, &e);
}

/* hmr_payload_free - release what a record's payload occupies. */
void hmr_payload_free(struct hmr_mount *m, const struct hmr_elm *e)
{
	if (e->lf.data_len == 0)
		return;
	if (e->base.rec_type == HMR_REC_DATA)
		hmr_block_free(m, e->lf.data_off / HMR_BLOCK_SIZE);
	else
		hmr_meta_free(m, e->lf.data_off, e->lf.data_len);
}

/*
 * hmr_rec_move_payload - move the meta payload of record version e
 * (live or history) into the open meta block and repoint its element.
 * The bytes, length and CRC stay, so every view, as of any TID, reads the
 * same; the old units are freed, and their block with them once its last
 * unit goes (reblocking, hmr_reblock.c).  e must have a meta payload.
 * 0, ENOSPC, EIO.
 */
int hmr_rec_move_payload(struct hmr_mount *m, const struct hmr_elm *e)
{
	struct hmr_elm old = *e, fresh = *e; /* e may point into a leaf */
	const uint8_t *bytes;
	struct hmr_elm *w;
	int error;

	HMR_ASSERT(e->base.rec_type != HMR_REC_DATA && e->lf.data_len > 0,
		   "only meta payloads move: a DATA record owns its block");
	/* The source stays cached: nothing below reaches a safe point. */
	error = _payload_ptr(m, &old, &bytes);
	if (!error)
		error = _payload_store(m, &fresh, bytes, old.lf.data_len);
	if (error)
		return error;
	error = hmr_bt_modify(m, &old.base, &w);
	if (error) {
		hmr_payload_free(m, &fresh);
		return error;
	}
	w->lf.data_off = fresh.lf.data_off;
	hmr_payload_free(m, &old);
	return 0;
}

/* hmr_rec_destroy - physically remove a record and free its payload. */
int hmr_rec_destroy(struct hmr_mount *m, const struct hmr_elm *e)
{
	struct hmr_elm copy = *e; /* e may point into the leaf we change */
	int error = hmr_bt_delete(m, &copy.base);

	if (!error)
		hmr_payload_free(m, &copy);
	return error;
}

/*
 * hmr_rec_delete - end a record's life at the open TID: destroy it if the
 * open commit created it, or if the volume is in emergency mode and no
 * snapshot pins it (hmr_space.c rule 4), else set delete_tid.  0, ENOSPC,
 * EIO.
 */
int hmr_rec_delete(struct hmr_mount *m, const struct hmr_elm *e)
{
	struct hmr_elm *w;
	int error;

	if (e->base.create_tid == m->tid ||
	    (m->emergency && !hmr_pinned(m, e->base.create_tid)))
		return hmr_rec_destroy(m, e);
	error = hmr_bt_modify(m, &e->base, &w);
	if (error)
		return error;
	HMR_ASSERT(w->base.delete_tid == 0, "deleting a deleted record");
	w->base.delete_tid = m->tid;
	w->lf.delete_ts = (uint32_t)(hmr_now_ns() / 1000000000ull);
	return 0;
}

/* Replace the payload of a record the open commit created, in place: a
 * new payload (its size may differ), the element repointed, the old
 * payload's units freed at once (they were never durable). */
static int _replace_in_place(struct hmr_mount *m, const struct hmr_elm *old,
			     const void *payload, uint32_t len)
{
	struct hmr_elm *w, fresh;
	int error;

	_elm_init(m, &fresh, &old->base, old->base.obj_type);
	error = _payload_store(m, &fresh, payload, len);
	if (error)
		return error;
	error = hmr_bt_modify(m, &old->base, &w);
	if (error) {
		hmr_payload_free(m, &fresh);
		return error;
	}
	hmr_payload_free(m, w);
	w->lf.data_off = fresh.lf.data_off;
	w->lf.data_len = fresh.lf.data_len;
	w->lf.data_crc = fresh.lf.data_crc;
	return 0;
}

/*
 * hmr_rec_replace - give logical record old->base a new payload: a new
 * version, or (same commit) the old version changed in place.
 */
int hmr_rec_replace(struct hmr_mount *m, const struct hmr_elm *old,
		    const void *payload, uint32_t len)
{
	struct hmr_base key = old->base;
	int error;

	if (old->base.create_tid == m->tid)
		return _replace_in_place(m, old, payload, len);
	error = hmr_rec_delete(m, old);
	if (error)
		return error;
	key.create_tid = 0;
	key.delete_tid = 0;
	return hmr_rec_insert(m, &key, old->base.obj_type, payload, len);
}
