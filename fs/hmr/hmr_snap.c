/*
 * hmr_snap.c - snapshots, history listing, prune and orphans.
 *
 * History is already in the tree: every record knows the TIDs that
 * created and deleted it, so "the filesystem as of T" costs nothing to
 * keep.  A snapshot is therefore only a name for a TID: a SNAPSHOT record
 * (MISC, root, SNAPSHOT, key = TID) that prune honours.
 *
 *   snapshot create: commit (TID N is now durable), insert SNAPSHOT(N),
 *                    commit again, return N.  N names a durable state.
 *   prune:           destroy every deleted record that no live snapshot
 *                    pins, where s pins [create_tid, delete_tid) when
 *                    create_tid <= s < delete_tid.  Every as-of view at a
 *                    snapshot TID is therefore unchanged by prune; views
 *                    at other TIDs may lose records (H1 behaves the same).
 *
 * Orphans are inodes still live with nlinks == 0: a file unlinked while
 * open whose last close never came (a crash).  Prune and fsck -r destroy
 * them, as H1's prune does.
 */
#include "hmr_private.h"

/* The key of snapshot `tid`'s record: snapshots hang off the root
 * object, keyed by TID, so listing them is one ordered scan. */
static void _snap_key(struct hmr_base *k, uint64_t tid)
{
	hmr_key_make(k, HMR_LOCALIZE_MISC, HMR_OBJID_ROOT, HMR_REC_SNAPSHOT,
		     tid);
}

/* Insert SNAPSHOT(tid) unless a live one exists (nothing changed since
 * the last snapshot: the commit was skipped and the TID is the same). */
static int _snap_insert(struct hmr_mount *m, uint64_t tid, const char *label)
{
	struct hmr_snap_data sd;
	struct hmr_base key;
	struct hmr_elm e;
	size_t n = label ? hmr_strlen(label) : 0;

	_snap_key(&key, tid);
	if (hmr_rec_find(m, 0, &key, &e) == 0)
		return 0; /* nothing changed since that snapshot */
	hmr_memset(&sd, 0, sizeof(sd));
	sd.tid = tid;
	sd.time_ns = hmr_now_ns();
	hmr_memcpy(sd.label, label ? label : "", n < 63 ? n : 63);
	return hmr_rec_insert(m, &key, 0, &sd, sizeof(sd));
}

/*
 * hmr_snapshot_create - name the current state.  *tid receives a TID
 * that is durable before this returns.  0, EROFS, ENOSPC, EIO.  Blocks
 * for two commits.
 */
int hmr_snapshot_create(struct hmr_mount *m, const char *label,
			uint64_t *tid)
{
	HMR_ASSERT(m && tid,
		   "hmr_snapshot_create: NULL argument (a caller bug: all are required)");
	int error;

	hmr_wenter(m);
	error = hmr_writable(m);
	/* First commit: everything done so far becomes durable TID N. */
	if (!error)
		error = hmr_commit(m);
	if (!error)
		error = hmr_vop_begin(m, hmr_est_insert(m));
	if (!error) {
		*tid = m->durable_tid;
		error = hmr_vop_end(m, _snap_insert(m, *tid, label));
	}
	if (!error && *tid > m->snap_max_tid)
		m->snap_max_tid = *tid;
	/* Second commit: the SNAPSHOT record itself becomes durable, so the
	 * name survives a crash right after this returns. */
	if (!error)
		error = hmr_commit(m);
	return hmr_wleave(m, error);
}

/* Walk the snapshot records visible as of asof (an as-of mount lists
 * the snapshots that existed then). */
static int _snap_walk(struct hmr_mount *m, uint64_t asof, hmr_snap_fn fn,
		      void *arg)
{
	struct hmr_snap_data sd;
	struct hmr_snapshot s;
	struct hmr_base from, end;
	struct hmr_scan sc;
	int error;

	_snap_key(&from, 0);
	hmr_key_make(&end, HMR_LOCALIZE_MISC, HMR_OBJID_ROOT,
		     HMR_REC_SNAPSHOT + 1, 0);
	for (error = hmr_scan_start(m, &sc, asof, &from, &end); !error;
	     error = hmr_scan_next(&sc)) {
		const struct hmr_elm *e = hmr_scan_elm(&sc);

		if (e->lf.data_len != sizeof(sd) || hmr_rec_payload(m, e, &sd))
			return EIO;
		hmr_memset(&s, 0, sizeof(s));
		s.tid = sd.tid, s.time_ns = sd.time_ns;
		hmr_memcpy(s.label, sd.label, 64);
		if (fn(arg, &s))
			return 0;
	}
	return error == ENOENT ? 0 : error;
}

/* Keep the largest snapshot TID (callback for _snap_walk). */
static int _max_snap(void *arg, const struct hmr_snapshot *s)
{
	uint64_t *max = arg;

	*max = s->tid > *max ? s->tid : *max;
	return 0;
}

/*
 * hmr_snap_recount - set m->snap_max_tid, the newest live snapshot, which
 * decides what a delete in emergency mode must keep (hmr_pinned).  When
 * the snapshots cannot be read, everything counts as pinned.  Needs the
 * mount lock (or a private mount).
 */
void hmr_snap_recount(struct hmr_mount *m)
{
	uint64_t max = 0;

	if (_snap_walk(m, 0, _max_snap, &max) != 0)
		max = ~0ull;
	m->snap_max_tid = max;
}

/* hmr_snapshot_list - call fn for each snapshot, oldest first.  0, EIO. */
int hmr_snapshot_list(struct hmr_mount *m, hmr_snap_fn fn, void *arg)
{
	HMR_ASSERT(m && fn,
		   "hmr_snapshot_list: NULL argument (a caller bug: all are required)");
	hmr_enter(m);
	return hmr_leave(m, _snap_walk(m, m->asof, fn, arg));
}

/* Delete snapshot tid (inside a VOP). */
static int _snap_delete(struct hmr_mount *m, uint64_t tid)
{
	struct hmr_base key;
	struct hmr_elm e;
	int error;

	_snap_key(&key, tid);
	error = hmr_rec_find(m, 0, &key, &e);
	return error ? error : hmr_rec_delete(m, &e);
}

/*
 * hmr_snapshot_delete - forget snapshot tid (its history becomes prunable)
 * and commit.  0, ENOENT, EROFS, EIO.
 */
int hmr_snapshot_delete(struct hmr_mount *m, uint64_t tid)
{
	HMR_ASSERT(m,
		   "hmr_snapshot_delete: NULL argument (a caller bug: all are required)");
	int error;

	hmr_wenter(m);
	error = hmr_vop_begin_reclaim(m, HMR_ALLOC_PRUNE, hmr_est_modify(m));
	if (!error)
		error = hmr_vop_end(m, _snap_delete(m, tid));
	if (!error)
		hmr_snap_recount(m);
	if (!error)
		error = hmr_commit(m);
	return hmr_wleave(m, error);
}

/* ---- history ------------------------------------------------------------ */

/* A growable, sorted set of TIDs with their first timestamp.  Sets are
 * small (a file's history, the snapshot list), so insertion keeps them
 * sorted by moving elements. */
struct tid_set {
	uint64_t *tid;
	uint32_t *ts;
	size_t n, cap;
};

/* Add tid to the set (keeps it sorted, no duplicates).  0 or ENOMEM. */
static int _tid_add(struct tid_set *s, uint64_t tid, uint32_t ts)
{
	size_t i = 0;

	while (i < s->n && s->tid[i] < tid)
		i++;
	if (i < s->n && s->tid[i] == tid)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		uint64_t *t = hmr_alloc(cap * sizeof(*t));
		uint32_t *w = hmr_alloc(cap * sizeof(*w));

		if (t == NULL || w == NULL) {
			hmr_free(t);
			hmr_free(w);
			return ENOMEM;
		}
		if (s->n > 0) {
			hmr_memcpy(t, s->tid, s->n * sizeof(*t));
			hmr_memcpy(w, s->ts, s->n * sizeof(*w));
		}
		hmr_free(s->tid), hmr_free(s->ts);
		s->tid = t, s->ts = w, s->cap = cap;
	}
	hmr_memmove(&s->tid[i + 1], &s->tid[i], (s->n - i) * sizeof(*s->tid));
	hmr_memmove(&s->ts[i + 1], &s->ts[i], (s->n - i) * sizeof(*s->ts));
	s->tid[i] = tid, s->ts[i] = ts, s->n++;
	return 0;
}

/* Collect create/delete TIDs of every record of ino in localization loc:
 * the inode's own versions (INODE localization) or its data, entries and
 * link target (MISC). */
static int _history_scan(struct hmr_mount *m, uint32_t loc, uint64_t ino,
			 struct tid_set *s)
{
	struct hmr_base key;
	struct hmr_cursor c;
	int error;

	hmr_key_make(&key, loc, ino, 0, 0);
	for (error = hmr_bt_seek(m, &key, &c); !error; error = hmr_bt_next(&c)) {
		const struct hmr_elm *e = hmr_bt_elm(&c);

		if (e->base.obj_id != ino || e->base.localization != loc)
			break;
		error = _tid_add(s, e->base.create_tid, e->lf.create_ts);
		if (!error && e->base.delete_tid != 0)
			error = _tid_add(s, e->base.delete_tid,
					 e->lf.delete_ts);
		if (error)
			return error;
	}
	return error == ENOENT ? 0 : error;
}

/*
 * hmr_history - report every TID at which ino's inode, data, entries or
 * link target changed, oldest first.  0, ENOENT, EIO, ENOMEM.
 */
int hmr_history(struct hmr_mount *m, uint64_t ino, hmr_history_fn fn,
		void *arg)
{
	HMR_ASSERT(m && fn,
		   "hmr_history: NULL argument (a caller bug: all are required)");
	struct tid_set s = { 0 };
	int error;

	hmr_enter(m);
	error = _history_scan(m, HMR_LOCALIZE_INODE, ino, &s);
	if (!error)
		error = _history_scan(m, HMR_LOCALIZE_MISC, ino, &s);
	if (!error && s.n == 0)
		error = ENOENT;
	for (size_t i = 0; !error && i < s.n; i++)
		if (fn(arg, s.tid[i], s.ts[i], "changed"))
			break;
	hmr_free(s.tid), hmr_free(s.ts);
	return hmr_leave(m, error);
}

/* ---- prune --------------------------------------------------------------- */

/* Collect the live snapshot TIDs (callback for _snap_walk). */
static int _collect_snap(void *arg, const struct hmr_snapshot *snap)
{
	return _tid_add(arg, snap->tid, 0) != 0;
}

/* Does some snapshot in s pin the record's [create, delete) interval?
 * Then the record is visible as of that snapshot and must stay. */
static int _pinned(const struct tid_set *s, const struct hmr_base *b)
{
	for (size_t i = 0; i < s->n; i++)
		if (b->create_tid <= s->tid[i] && s->tid[i] < b->delete_tid)
			return 1;
	return 0;
}

/* The next deleted, unpinned record at or after *from.  Live records are
 * never prunable, whatever the snapshots. */
static int _next_prunable(struct hmr_mount *m, const struct tid_set *snaps,
			  const struct hmr_base *from, struct hmr_elm *out)
{
	struct hmr_cursor c;
	int error = hmr_bt_seek(m, from, &c);

	for (; !error; error = hmr_bt_next(&c)) {
		const struct hmr_elm *e = hmr_bt_elm(&c);

		if (e->base.delete_tid != 0 && !_pinned(snaps, &e->base)) {
			*out = *e;
			return 0;
		}
	}
	return error;
}

/* Destroy every prunable record; *n counts them.  Each destroy changes
 * the tree, so the walk re-seeks just past the record it destroyed
 * rather than keeping a cursor into leaves that may have moved. */
static int _prune_records(struct hmr_mount *m, const struct tid_set *snaps,
			  uint64_t *n)
{
	struct hmr_base from;
	struct hmr_elm e;
	int error;

	hmr_memset(&from, 0, sizeof(from));
	while ((error = _next_prunable(m, snaps, &from, &e)) == 0) {
		/* Short of space: commit what is destroyed so far; every
		 * state in between is a consistent, smaller history. */
		if (hmr_space_short(m) && (error = hmr_vop_checkpoint(m)) != 0)
			return error;
		error = hmr_rec_destroy(m, &e);
		if (error)
			return error;
		(*n)++;
		from = e.base;
		from.create_tid++;
	}
	return error == ENOENT ? 0 : error;
}

/* The body of hmr_prune, inside a VOP: orphans first (their records
 * then become prunable history too), then the records.  Not inlined:
 * its locals would otherwise stay in hmr_prune's frame while the
 * reblock pass, prune's deepest path, runs below it. */
static __attribute__((noinline)) int _prune(struct hmr_mount *m)
{
	struct tid_set snaps = { 0 };
	uint64_t destroyed = 0, orphans = 0;
	int error = _snap_walk(m, 0, _collect_snap, &snaps);

	if (!error)
		error = hmr_remove_orphans(m, &orphans);
	if (!error)
		error = _prune_records(m, &snaps, &destroyed);
	hmr_free(snaps.tid), hmr_free(snaps.ts);
	return error;
}

/*
 * Reblock what prune left sparse (hmr_reblock.c): meta blocks whose other
 * units prune just freed, and leaves it emptied to a few records.  Prune
 * has committed its own work first, so a reblock that runs out of space
 * costs nothing: it stops, and what it moved is committed; only EIO is
 * an error.  Then commit, which makes the emptied blocks free.
 */
static int _prune_reblock(struct hmr_mount *m)
{
	uint64_t moved = 0;
	int error = hmr_reblock_passes(m, &moved);

	if (error == ENOSPC)
		error = 0;
	if (!error || error == EIO)
		error = hmr_commit(m) ? EIO : error;
	return error;
}

/*
 * hmr_prune - destroy the history no snapshot pins, remove orphans,
 * commit, then reblock what that left sparse and commit again.  *freed
 * (may be NULL) receives the net blocks reclaimed.  0, EROFS, ENOSPC,
 * EIO.  May use the space reserve.
 */
int hmr_prune(struct hmr_mount *m, uint64_t *freed)
{
	HMR_ASSERT(m,
		   "hmr_prune: NULL argument (a caller bug: all are required)");
	uint64_t before;
	int error;

	hmr_wenter(m);
	/* Prune is how a full filesystem gets space back, so it may use the
	 * whole reserve and commits part way when space runs short. */
	error = hmr_vop_begin_reclaim(m, HMR_ALLOC_PRUNE, hmr_est_modify(m));
	before = m->nfree;
	if (!error) {
		m->split_ok = 1;
		error = hmr_vop_end(m, _prune(m));
	}
	/* The commit makes the destroyed records' blocks reusable (they
	 * were held until it is durable), so the count is net of it. */
	if (!error)
		error = hmr_commit(m);
	if (!error)
		error = _prune_reblock(m);
	if (freed != NULL)
		*freed = m->nfree > before ? m->nfree - before : 0;
	return hmr_wleave(m, error);
}

/* The next live inode with nlinks == 0 that nobody holds open.  Inode
 * records all sort first (INODE localization), so the scan stops at the
 * first MISC record. */
static int _next_orphan(struct hmr_mount *m, const struct hmr_base *from,
			struct hmr_elm *out)
{
	struct hmr_inode_data in;
	struct hmr_base end = { .localization = HMR_LOCALIZE_INODE + 1 };
	struct hmr_scan s;
	int error;

	for (error = hmr_scan_start(m, &s, 0, from, &end); !error;
	     error = hmr_scan_next(&s)) {
		const struct hmr_elm *e = hmr_scan_elm(&s);

		if (hmr_is_open(m, e->base.obj_id))
			continue;
		if (e->lf.data_len != sizeof(in) || hmr_rec_payload(m, e, &in))
			return EIO;
		if (in.nlinks == 0) {
			*out = *e;
			return 0;
		}
	}
	return error;
}

/*
 * hmr_remove_orphans - destroy live inodes with nlinks == 0 that are not
 * open.  *removed counts them.  Needs the lock and an open VOP.
 */
int hmr_remove_orphans(struct hmr_mount *m, uint64_t *removed)
{
	struct hmr_base from;
	struct hmr_elm e;
	int error;

	/* Resume after each destroyed orphan at the next object id: the
	 * destroy changed the tree under any cursor. */
	hmr_key_make(&from, HMR_LOCALIZE_INODE, 0, 0, 0);
	while ((error = _next_orphan(m, &from, &e)) == 0) {
		error = hmr_inode_destroy(m, e.base.obj_id);
		if (error)
			return error;
		(*removed)++;
		from = e.base;
		from.obj_id++;
		from.create_tid = 0;
	}
	return error == ENOENT ? 0 : error;
}

/*
 * hmr_reap_orphans - at a writable mount, destroy the orphans a crash left
 * (nothing is open yet, so every live inode with nlinks 0 is one), in a
 * reclaiming VOP that may go across commits, and commit.  0, or the error
 * that stopped it (the orphans left stay for prune; a failed commit has
 * made the mount refuse changes, as any failed commit does).  Takes the
 * locks; may block.
 */
int hmr_reap_orphans(struct hmr_mount *m)
{
	uint64_t removed = 0;
	int error;

	HMR_ASSERT(!(m->mnt_flags & HMR_MNT_RDONLY),
		   "hmr_reap_orphans: a read-only mount never writes");
	hmr_wenter(m);
	error = hmr_vop_begin_reclaim(m, HMR_ALLOC_RESERVE, hmr_est_modify(m));
	if (!error) {
		m->split_ok = 1;
		error = hmr_vop_end(m, hmr_remove_orphans(m, &removed));
	}
	if (!error && removed > 0)
		error = hmr_commit(m);
	if (removed > 0)
		hmr_log("mount: destroyed %llu orphan(s) a crash left",
			(unsigned long long)removed);
	return hmr_wleave(m, error);
}
