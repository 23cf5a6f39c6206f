/*
 * hmr_cache.c - the buffer cache: one 4 KiB buffer per cached block.
 *
 * Buffers are found by block number through a hash table of chains.  A
 * buffer is DIRTY from the moment the open commit changes it until the
 * commit writes it; dirty buffers are kept on m->dirty and are never
 * evicted.  Clean buffers are dropped in bulk (hmr_cache_trim) only
 * between commits, so a pointer to a buffer stays valid for the whole VOP
 * that obtained it: VOPs and commits never overlap (mount lock).
 *
 * Why dirty buffers are safe to keep in memory until the commit: every
 * dirty buffer belongs to a block allocated in the open commit (copy on
 * write), so no durable superblock can reach it, and a crash that loses
 * it loses only the open commit, which was never acknowledged.
 */
#include "hmr_private.h"

#define HMR_HASH_BUCKETS_MIN 1024

#define _hash hmr_buf_hash

/* hmr_cache_init - size the hash for the device.  ENOMEM on failure. */
int hmr_cache_init(struct hmr_mount *m)
{
	uint64_t buckets = HMR_HASH_BUCKETS_MIN;

	while (buckets < m->nblocks && buckets < (1u << 20))
		buckets <<= 1;
	m->hash = hmr_alloc(buckets * sizeof(*m->hash));
	if (m->hash == NULL)
		return ENOMEM;
	m->hash_mask = buckets - 1;
	return 0;
}

#define _lookup hmr_buf_find

/* Allocate an empty buffer for blkno and hash it.  Buffers are 4 KiB plus
 * a small header; the host allocator aligns them to 64 bytes, which the
 * node and element layouts want. */
static struct hmr_buf *_insert(struct hmr_mount *m, uint64_t blkno)
{
	struct hmr_buf *b = hmr_alloc_raw(sizeof(*b));
	uint64_t h = _hash(m, blkno);

	if (b == NULL)
		return NULL;
	/* The data is filled by the caller (device read or hmr_buf_new). */
	b->dirty_next = NULL;
	b->flags = 0;
	b->blkno = blkno;
	b->hash_next = m->hash[h];
	m->hash[h] = b;
	m->nbufs++;
	return b;
}

/* Unhash and free one buffer; it must not be dirty (a dirty buffer is
 * the only copy of part of the open commit). */
static void _remove(struct hmr_mount *m, struct hmr_buf *b)
{
	struct hmr_buf **pp = &m->hash[_hash(m, b->blkno)];

	HMR_ASSERT(!(b->flags & HMR_BUF_DIRTY),
		   "evicting a dirty buffer would lose the open commit");
	while (*pp != b)
		pp = &(*pp)->hash_next;
	*pp = b->hash_next;
	m->nbufs--;
	hmr_free(b);
}

/*
 * hmr_buf_get - the buffer for blkno, read from the device if not cached.
 * Returns 0, EIO (device error or block out of range) or ENOMEM.  Does not
 * verify contents: callers check CRCs (hmr_node_verify, hmr_rec_payload).
 */
int hmr_buf_get(struct hmr_mount *m, uint64_t blkno, struct hmr_buf **out)
{
	struct hmr_buf *b = _lookup(m, blkno);

	if (b != NULL) {
		*out = b;
		return 0;
	}
	if (blkno >= m->nblocks)
		return EIO;
	b = _insert(m, blkno);
	if (b == NULL)
		return ENOMEM;
	if (m->dev->read(m->dev, blkno, b->data) != 0) {
		_remove(m, b);
		return EIO;
	}
	*out = b;
	return 0;
}

/*
 * hmr_buf_new - a zeroed, dirty, verified buffer for a block the open
 * commit just allocated.  Whatever was cached for that block is replaced.
 * Panics on ENOMEM: a commit cannot be half-built (the host never fails).
 */
struct hmr_buf *hmr_buf_new(struct hmr_mount *m, uint64_t blkno)
{
	struct hmr_buf *b = _lookup(m, blkno);

	if (b == NULL)
		b = _insert(m, blkno);
	HMR_ASSERT(b != NULL, "out of memory for a new buffer");
	hmr_memset(b->data, 0, HMR_BLOCK_SIZE);
	b->flags |= HMR_BUF_VERIFIED;
	hmr_buf_dirty(m, b);
	return b;
}

/* hmr_buf_dirty - queue b for the next commit (idempotent). */
void hmr_buf_dirty(struct hmr_mount *m, struct hmr_buf *b)
{
	if (b->flags & HMR_BUF_DIRTY)
		return;
	b->flags |= HMR_BUF_DIRTY;
	b->dirty_next = m->dirty;
	m->dirty = b;
	m->ndirty++;
	m->dirty_meta = 1;
}

/* Unlink b from the dirty list (it is on it).  The list is singly linked
 * and searched: it is only walked when a freed block's buffer is dropped,
 * which is rare next to the writes that dirty buffers. */
static void _undirty(struct hmr_mount *m, struct hmr_buf *b)
{
	struct hmr_buf **pp = &m->dirty;

	while (*pp != b)
		pp = &(*pp)->dirty_next;
	*pp = b->dirty_next;
	b->flags &= ~HMR_BUF_DIRTY;
	m->ndirty--;
}

/*
 * hmr_buf_discard - forget the cached copy of a block being freed, so a
 * dirty buffer of a block freed in its own commit is never written.
 */
void hmr_buf_discard(struct hmr_mount *m, uint64_t blkno)
{
	struct hmr_buf *b = _lookup(m, blkno);

	if (b == NULL)
		return;
	if (b->flags & HMR_BUF_DIRTY)
		_undirty(m, b);
	_remove(m, b);
}

/*
 * hmr_buf_clone - a detached copy of b (data and flags), not in the hash
 * or on the dirty list: the undo log's saved contents.  NULL on ENOMEM.
 */
struct hmr_buf *hmr_buf_clone(struct hmr_mount *m, const struct hmr_buf *b)
{
	struct hmr_buf *copy = hmr_alloc_raw(sizeof(*copy));

	(void)m;
	if (copy == NULL)
		return NULL;
	hmr_memcpy(copy, b, sizeof(*copy));
	copy->hash_next = copy->dirty_next = NULL;
	return copy;
}

/* hmr_buf_detach - take b out of the cache without freeing it (the undo
 * log keeps it); it keeps its flags, DIRTY included. */
void hmr_buf_detach(struct hmr_mount *m, struct hmr_buf *b)
{
	struct hmr_buf **pp = &m->hash[_hash(m, b->blkno)];
	uint32_t flags = b->flags;

	if (flags & HMR_BUF_DIRTY)
		_undirty(m, b);
	while (*pp != b)
		pp = &(*pp)->hash_next;
	*pp = b->hash_next;
	m->nbufs--;
	b->flags = flags;
	b->hash_next = b->dirty_next = NULL;
}

/*
 * hmr_buf_reinstate - put a detached buffer back as the cached state of
 * its block (undo): it replaces whatever is cached, keeps its own flags,
 * and is queued for the next commit again when DIRTY.  Takes ownership
 * of `copy`; allocates nothing, so a rollback cannot fail half way.
 */
void hmr_buf_reinstate(struct hmr_mount *m, struct hmr_buf *copy)
{
	uint32_t flags = copy->flags;
	uint64_t h = _hash(m, copy->blkno);

	hmr_buf_discard(m, copy->blkno);
	copy->flags = 0;
	copy->hash_next = m->hash[h];
	m->hash[h] = copy;
	m->nbufs++;
	if (flags & HMR_BUF_DIRTY)
		hmr_buf_dirty(m, copy);
	copy->flags = flags;
}

/* hmr_dev_write - one counted block write; EIO marks the mount dead. */
int hmr_dev_write(struct hmr_mount *m, uint64_t blkno, const void *data)
{
	m->stats.blocks_written++;
	m->stats.last_commit_blocks++;
	if (m->dev->write(m->dev, blkno, data) == 0)
		return 0;
	m->dead = 1;
	return EIO;
}

/* hmr_dev_flush - a counted cache flush; EIO marks the mount dead. */
int hmr_dev_flush(struct hmr_mount *m)
{
	m->stats.flushes++;
	if (m->dev->flush(m->dev) == 0)
		return 0;
	m->dead = 1;
	return EIO;
}

/*
 * hmr_cache_write_dirty - write every dirty buffer (commit step 3) and
 * mark it clean.  Returns 0 or EIO.  Order does not matter: none of these
 * blocks is reachable until the superblock is written after a flush.
 */
int hmr_cache_write_dirty(struct hmr_mount *m)
{
	while (m->dirty != NULL) {
		struct hmr_buf *b = m->dirty;

		if (hmr_dev_write(m, b->blkno, b->data) != 0)
			return EIO;
		_undirty(m, b);
	}
	return 0;
}

/* hmr_cache_drop_dirty - throw away the open commit's buffers (abort). */
void hmr_cache_drop_dirty(struct hmr_mount *m)
{
	while (m->dirty != NULL) {
		struct hmr_buf *b = m->dirty;

		_undirty(m, b);
		_remove(m, b);
	}
}

/* Drop every clean buffer of one hash chain (dirty ones stay: they are
 * the open commit). */
static void _trim_chain(struct hmr_mount *m, uint64_t h)
{
	struct hmr_buf **pp = &m->hash[h];

	while (*pp != NULL) {
		struct hmr_buf *b = *pp;

		if (b->flags & HMR_BUF_DIRTY) {
			pp = &b->hash_next;
			continue;
		}
		*pp = b->hash_next;
		m->nbufs--;
		hmr_free(b);
	}
}

/*
 * hmr_cache_trim - between commits, drop clean buffers when the cache has
 * grown past HMR_CACHE_LIMIT.  Never called while a VOP holds pointers.
 */
void hmr_cache_trim(struct hmr_mount *m)
{
	if (m->nbufs <= HMR_CACHE_LIMIT)
		return;
	for (uint64_t h = 0; h <= m->hash_mask; h++)
		_trim_chain(m, h);
}

/*
 * hmr_drop_caches - drop every clean cached block now, whatever the
 * limit: the kernel gives memory back under pressure, and its test
 * harness does so before comparing memory around a suite.  Dirty
 * buffers (the open commit) stay.  Takes the mount lock.
 */
int hmr_drop_caches(struct hmr_mount *m)
{
	hmr_lock_acquire(&m->lock);
	for (uint64_t h = 0; h <= m->hash_mask; h++)
		_trim_chain(m, h);
	hmr_lock_release(&m->lock);
	return 0;
}

/* hmr_cache_destroy - free every buffer and the hash (unmount). */
void hmr_cache_destroy(struct hmr_mount *m)
{
	if (m->hash == NULL)
		return;
	hmr_cache_drop_dirty(m);
	for (uint64_t h = 0; h <= m->hash_mask; h++)
		_trim_chain(m, h);
	hmr_free(m->hash);
	m->hash = NULL;
}
