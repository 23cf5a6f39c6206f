/*
 * hmr_cache.c - the buffer cache: one 4 KiB buffer per cached block.
 *
 * Buffers are found by block number through a hash table of chains that
 * doubles when the buffers outnumber its buckets.  A buffer is DIRTY from
 * the moment the open commit changes it until the commit writes it;
 * dirty buffers are kept on m->dirty and are never evicted.
 *
 * Clean buffers live on the clock ring and are kept within a fixed
 * budget, m->cache_max (HMR_CACHE_BUFS unless a test or the benchmark
 * says otherwise), for reads as much as for writes.  Eviction happens
 * only at safe points - places where the code running holds no pointer to
 * a clean buffer except, possibly, the path of one cursor, which is kept
 * (hmr_cache_relax).  The safe points are: every step of a scan
 * (hmr_bt_next and the scan helpers), every block of a read or write, the
 * end of every public call and of every commit.  Between two safe points
 * a thread caches at most HMR_CACHE_STEP new buffers, and a safe point
 * trims the clean buffers to below m->cache_max - HMR_CACHE_STEP, so the
 * number of clean buffers never exceeds m->cache_max (only one thread at
 * a time works on the cache: the mount lock).
 *
 * The policy is the clock (second chance): a hit sets the buffer's `ref`,
 * and the hand sweeping the ring clears a set `ref` rather than evicting,
 * so the nodes every search passes through (the root, the upper levels)
 * stay while blocks read once move on.
 *
 * Why dirty buffers are safe to keep in memory until the commit: every
 * dirty buffer belongs to a block allocated in the open commit (copy on
 * write), so no durable superblock can reach it, and a crash that loses
 * it loses only the open commit, which was never acknowledged.
 */
#include "hmr_private.h"

#define HMR_HASH_BUCKETS_MIN 1024
#define HMR_HASH_BUCKETS_MAX (1u << 22)

#define _hash hmr_buf_hash

/* hmr_cache_init - an empty cache with the default budget.  0 or ENOMEM. */
int hmr_cache_init(struct hmr_mount *m)
{
	m->hash = hmr_alloc(HMR_HASH_BUCKETS_MIN * sizeof(*m->hash));
	if (m->hash == NULL)
		return ENOMEM;
	m->hash_mask = HMR_HASH_BUCKETS_MIN - 1;
	m->cache_max = HMR_CACHE_BUFS;
	return 0;
}

/* Move every buffer to a new table of n buckets (a power of two).
 * Buffers do not move, only their chain links, so every pointer to a
 * buffer stays valid.  Without memory it keeps the old table (longer
 * chains, nothing lost). */
static void _hash_resize(struct hmr_mount *m, uint64_t n)
{
	struct hmr_buf **t = hmr_alloc(n * sizeof(*t));

	if (t == NULL)
		return;
	for (uint64_t h = 0; h <= m->hash_mask; h++)
		while (m->hash[h] != NULL) {
			struct hmr_buf *b = m->hash[h];

			m->hash[h] = b->hash_next;
			b->hash_next = t[b->blkno & (n - 1)];
			t[b->blkno & (n - 1)] = b;
		}
	hmr_free(m->hash);
	m->hash = t;
	m->hash_mask = n - 1;
}

/* Double the hash table when buffers outnumber buckets, so chains stay
 * about one long. */
static void _hash_grow(struct hmr_mount *m)
{
	uint64_t n = (m->hash_mask + 1) * 2;

	if (m->nbufs > m->hash_mask + 1 && n <= HMR_HASH_BUCKETS_MAX)
		_hash_resize(m, n);
}

/* Shrink the hash table to the smallest size that holds the buffers
 * left (at least HMR_HASH_BUCKETS_MIN): after the cache is dropped, the
 * table a burst of dirty buffers grew is given back too. */
static void _hash_shrink(struct hmr_mount *m)
{
	uint64_t n = HMR_HASH_BUCKETS_MIN;

	while (n < m->nbufs)
		n *= 2;
	if (n < m->hash_mask + 1)
		_hash_resize(m, n);
}

/* ---- the clock ring of clean buffers ------------------------------------ */

/* Put clean buffer b on the ring, just behind the hand: it is the last
 * the hand reaches, so a buffer just read gets a full turn. */
static void _ring_add(struct hmr_mount *m, struct hmr_buf *b)
{
	struct hmr_buf *hand = m->clock;

	if (hand == NULL) {
		b->clock_next = b->clock_prev = b;
		m->clock = b;
	} else {
		b->clock_next = hand;
		b->clock_prev = hand->clock_prev;
		hand->clock_prev->clock_next = b;
		hand->clock_prev = b;
	}
	m->nclean++;
}

/* Take b off the ring (it is on it), moving the hand past it. */
static void _ring_del(struct hmr_mount *m, struct hmr_buf *b)
{
	if (b->clock_next == b) {
		m->clock = NULL;
	} else {
		b->clock_prev->clock_next = b->clock_next;
		b->clock_next->clock_prev = b->clock_prev;
		if (m->clock == b)
			m->clock = b->clock_next;
	}
	m->nclean--;
}

/* Note the number of clean buffers if it is a new high-water mark. */
static void _note_peak(struct hmr_mount *m)
{
	if (m->nclean > m->stats.cache_clean_peak)
		m->stats.cache_clean_peak = m->nclean;
}

#define _lookup hmr_buf_find

/* Allocate an empty, clean buffer for blkno and hash it.  Buffers are
 * 4 KiB plus a small header; the host allocator aligns them to 64 bytes,
 * which the node and element layouts want. */
static struct hmr_buf *_insert(struct hmr_mount *m, uint64_t blkno)
{
	struct hmr_buf *b = hmr_alloc_raw(sizeof(*b));
	uint64_t h = _hash(m, blkno);

	if (b == NULL)
		return NULL;
	/* The data is filled by the caller (device read or hmr_buf_new). */
	b->dirty_next = NULL;
	b->flags = 0;
	b->ok_len = 0;
	b->ref = 1;
	b->blkno = blkno;
	b->hash_next = m->hash[h];
	m->hash[h] = b;
	m->nbufs++;
	_ring_add(m, b);
	_hash_grow(m);
	return b;
}

/* Take b out of its hash chain and free it. */
static void _unhash_free(struct hmr_mount *m, struct hmr_buf *b)
{
	struct hmr_buf **pp = &m->hash[_hash(m, b->blkno)];

	while (*pp != b)
		pp = &(*pp)->hash_next;
	*pp = b->hash_next;
	m->nbufs--;
	hmr_free(b);
}

/* Evict one clean buffer: off the ring, out of the hash, freed.  It must
 * not be dirty: a dirty buffer is the only copy of part of the open
 * commit. */
static void _remove(struct hmr_mount *m, struct hmr_buf *b)
{
	HMR_ASSERT(!(b->flags & HMR_BUF_DIRTY),
		   "evicting a dirty buffer would lose the open commit");
	_ring_del(m, b);
	_unhash_free(m, b);
}

/*
 * hmr_buf_get - the buffer for blkno, read from the device if not cached.
 * Returns 0, EIO (device error or block out of range) or ENOMEM.  Does not
 * verify contents: callers check CRCs (hmr_node_verify, hmr_rec_payload).
 * Never evicts: the caller's other buffers stay valid.
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
	_note_peak(m);
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
	b->ok_len = 0;
	hmr_buf_dirty(m, b);
	return b;
}

/* Put b (on no list) on the dirty list: the next commit writes it. */
static void _queue_dirty(struct hmr_mount *m, struct hmr_buf *b)
{
	b->flags |= HMR_BUF_DIRTY;
	b->dirty_next = m->dirty;
	m->dirty = b;
	m->ndirty++;
	m->dirty_meta = 1;
}

/* hmr_buf_dirty - queue b for the next commit (idempotent).  A dirty
 * buffer leaves the clock ring: it cannot be evicted. */
void hmr_buf_dirty(struct hmr_mount *m, struct hmr_buf *b)
{
	if (b->flags & HMR_BUF_DIRTY)
		return;
	_ring_del(m, b);
	_queue_dirty(m, b);
}

/* Unlink b from the dirty list (it is on it) and clear DIRTY; the caller
 * either frees b or puts it on the ring.  The list is singly linked and
 * searched: it is only walked when a freed block's buffer is dropped,
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

/* Free a buffer that is dirty: it leaves the dirty list and the hash
 * (it is on no ring). */
static void _drop_dirty_buf(struct hmr_mount *m, struct hmr_buf *b)
{
	_undirty(m, b);
	_unhash_free(m, b);
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
		_drop_dirty_buf(m, b);
	else
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
	copy->clock_prev = copy->clock_next = NULL;
	return copy;
}

/* hmr_buf_detach - take b out of the cache without freeing it (the undo
 * log keeps it): out of the hash and off the dirty list or the ring; it
 * keeps its flags, DIRTY included. */
void hmr_buf_detach(struct hmr_mount *m, struct hmr_buf *b)
{
	struct hmr_buf **pp = &m->hash[_hash(m, b->blkno)];
	uint32_t flags = b->flags;

	if (flags & HMR_BUF_DIRTY)
		_undirty(m, b);
	else
		_ring_del(m, b);
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
 * and is queued for the next commit again when DIRTY (else it joins the
 * clock ring).  Takes ownership of `copy`; allocates nothing, so a
 * rollback cannot fail half way.
 */
void hmr_buf_reinstate(struct hmr_mount *m, struct hmr_buf *copy)
{
	uint32_t flags = copy->flags;
	uint64_t h;

	hmr_buf_discard(m, copy->blkno);
	h = _hash(m, copy->blkno);
	copy->hash_next = m->hash[h];
	m->hash[h] = copy;
	m->nbufs++;
	copy->flags = flags & ~HMR_BUF_DIRTY;
	if (flags & HMR_BUF_DIRTY)
		_queue_dirty(m, copy);
	else
		_ring_add(m, copy);
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
 * hmr_cache_write_dirty - write every dirty buffer (commit step 3).
 * Returns 0 or EIO.  Order does not matter: none of these blocks is
 * reachable until the superblock is written after a flush.  Reads only
 * the dirty list and the buffers on it, which nothing else touches while
 * a commit runs (no VOP runs, and readers never dirty or evict a dirty
 * buffer), so the commit may run it without the mount lock.
 */
int hmr_cache_write_dirty(struct hmr_mount *m)
{
	for (struct hmr_buf *b = m->dirty; b != NULL; b = b->dirty_next)
		if (hmr_dev_write(m, b->blkno, b->data) != 0)
			return EIO;
	return 0;
}

/*
 * hmr_cache_mark_clean - after the commit that wrote them is durable, the
 * dirty buffers become clean: they join the clock ring (marked unused,
 * so they are the first to go), and the cache is trimmed to its budget
 * at once.  Needs the mount lock; nobody may hold buffer pointers.
 */
void hmr_cache_mark_clean(struct hmr_mount *m)
{
	while (m->dirty != NULL) {
		struct hmr_buf *b = m->dirty;

		m->dirty = b->dirty_next;
		b->flags &= ~HMR_BUF_DIRTY;
		b->ref = 0;
		_ring_add(m, b);
	}
	m->ndirty = 0;
	hmr_cache_relax(m, NULL);
}

/* hmr_cache_drop_dirty - throw away the open commit's buffers (abort). */
void hmr_cache_drop_dirty(struct hmr_mount *m)
{
	while (m->dirty != NULL)
		_drop_dirty_buf(m, m->dirty);
}

/* Is b on the path of cursor `keep` (NULL: keep nothing)? */
static int _on_path(const struct hmr_buf *b, const struct hmr_cursor *keep)
{
	for (int d = 0; keep != NULL && d < keep->nlevels; d++)
		if (keep->path[d].buf == b)
			return 1;
	return 0;
}

/* Evict clean buffers until at most `target` remain, by the clock: a
 * buffer with `ref` set gets a second chance.  Two turns of the hand are
 * always enough (the first clears every ref); buffers on `keep`'s path
 * are passed over. */
static void _evict_to(struct hmr_mount *m, uint64_t target,
		      const struct hmr_cursor *keep)
{
	uint64_t turns = 2 * m->nclean + 1;

	while (m->nclean > target && turns-- > 0) {
		struct hmr_buf *b = m->clock;

		m->clock = b->clock_next;
		if (_on_path(b, keep))
			continue;
		if (b->ref) {
			b->ref = 0;
			continue;
		}
		_remove(m, b);
		m->stats.cache_evictions++;
	}
}

/*
 * hmr_cache_evict - the slow half of hmr_cache_relax: trim the clean
 * buffers to 7/8 of the relax threshold (so a run of misses does not
 * trim at every step).  The caller holds the mount lock and no pointer
 * to a clean buffer other than keep's path.  Never blocks.
 */
void hmr_cache_evict(struct hmr_mount *m, const struct hmr_cursor *keep)
{
	uint64_t high = m->cache_max > HMR_CACHE_STEP
				? m->cache_max - HMR_CACHE_STEP : 0;

	_evict_to(m, high - high / 8, keep);
}

/*
 * hmr_drop_caches - drop every clean cached block now, whatever the
 * budget, and shrink the hash table to fit what is left: the kernel
 * gives memory back under pressure, and its test harness does so before
 * comparing memory around a suite.  Dirty buffers (the open commit)
 * stay.  Takes the mount lock.
 */
int hmr_drop_caches(struct hmr_mount *m)
{
	hmr_lock_acquire(&m->lock);
	while (m->clock != NULL) {
		_remove(m, m->clock);
		m->stats.cache_evictions++;
	}
	_hash_shrink(m);
	hmr_lock_release(&m->lock);
	return 0;
}

/* hmr_cache_destroy - free every buffer and the hash (unmount). */
void hmr_cache_destroy(struct hmr_mount *m)
{
	if (m->hash == NULL)
		return;
	hmr_cache_drop_dirty(m);
	while (m->clock != NULL)
		_remove(m, m->clock);
	hmr_free(m->hash);
	m->hash = NULL;
}
