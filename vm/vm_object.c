/*
 * vm_object.c - VM objects: anonymous and file memory, shadow chains for
 * copy-on-write, and their collapse.
 *
 * The idea (Mach's, kept by every BSD): a process's memory is not a list
 * of pages but a list of *ranges* (vm_map entries, vm/vm_map.c), each
 * naming an object and an offset in it.  The object says what the memory
 * is -- zero-fill, or a file -- and holds the pages that have been made
 * so far.  Copy-on-write is one more object: a *shadow* in front of the
 * shared one, which receives a page the first time it is written.
 *
 *       fork                      child writes page 3
 *   parent entry --\          parent entry --------------\
 *                   >-- [O]                               >-- [O: 0 1 2 3]
 *   child entry  --/          child entry --> [S: 3'] ---/
 *
 * O is shared, read-only, by both.  The write made S, a shadow of O, and
 * copied page 3 into it; the parent still reads O's page 3.
 *
 * Collapse.  Each fork-and-write adds a layer, and a long chain makes
 * every fault walk further.  When a backing object B is referenced only
 * by its one shadow S (the other sharer exited, say), nobody else can see
 * B any more, so its pages move up into S -- those S does not already
 * have -- and S points past B to B's own backing object.  B is freed.
 * This is DragonFly's classic vm_object_collapse, without its "bypass"
 * half (which skips a B still shared with others).
 *
 * A device's object (OBJT_DEVICE, vm/device_pager.c) only names the
 * device: it never holds a page, so it frees none when it dies, and it
 * is never shadowed or collapsed.
 *
 * Locking: one token, vm_object_token, for every object (objects, chains,
 * reference counts, page hash tables) -- except an object private to one
 * map (anonymous, unbacked, ref_count 1), which only that map's entry can
 * reach: its pages are looked up and inserted under the map's token alone
 * (vm/vm_fault.c, "Locking").  It is released across any block
 * (the file read of a vnode object's page) and callers look again after.
 * A finer lock per object would let two processes fault in parallel; the
 * single token keeps the chain rules easy to check.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/kernel.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/serialize.h>
#include <kern/thread.h>
#include <kern/token.h>
#include <fs/vfs.h>
#include <vm/vm_map.h>
#include <vm/vm_object.h>

MALLOC_DEFINE(M_VMOBJ, "vm_object", "VM objects and their page hash tables");

struct lwkt_token vm_object_token = LWKT_TOKEN_INITIALIZER("vmobj");

/* Every object that hangs off a vnode (v_object), for
 * vm_object_clean_mount: token. */
static TAILQ_HEAD(, vm_object) vnode_objects =
	TAILQ_HEAD_INITIALIZER(vnode_objects);
static uint64_t clean_passes;		/* token */

static struct vm_object_stats ostats;	/* under vm_object_token; pages:
					 * atomic (a private fault has no token) */

#define HASH_MIN_BUCKETS 8

/* ----------------------------------------------------------------------- */
/* The page hash of one object.                                            */

#define bucket_of vm_object_bucket	/* vm/vm_object.h */

/* A zeroed table of n buckets (n a power of two). */
static vm_page_t *hash_alloc(unsigned n)
{
	return kmalloc(n * sizeof(vm_page_t), M_VMOBJ, M_WAITOK | M_ZERO);
}

/* Double the table when it holds more than two pages per bucket, so a
 * lookup stays a couple of steps long however big the object grows. */
static void hash_grow(vm_object_t obj)
{
	unsigned old_n = obj->hash_mask + 1, n = old_n * 2;
	vm_page_t *old = obj->hash;

	obj->hash = hash_alloc(n);
	obj->hash_mask = n - 1;
	for (unsigned b = 0; b < old_n; b++) {
		while (old[b] != NULL) {
			vm_page_t m = old[b];
			unsigned nb = bucket_of(obj, m->pindex);

			old[b] = m->hnext;
			m->hnext = obj->hash[nb];
			obj->hash[nb] = m;
		}
	}
	kfree(old, M_VMOBJ);
}

/* Hash m in at pindex, which the caller knows to be free. */
static inline void page_hash_in(vm_page_t m, vm_object_t obj,
				vm_pindex_t pindex)
{
	unsigned b;

	if (__predict_false(obj->resident_page_count >=
			    2UL * (obj->hash_mask + 1)))
		hash_grow(obj);
	b = bucket_of(obj, pindex);
	m->object = obj;
	m->pindex = pindex;
	m->hnext = obj->hash[b];
	obj->hash[b] = m;
	obj->resident_page_count++;
	__atomic_fetch_add(&ostats.pages, 1, __ATOMIC_RELAXED);
}

void vm_page_insert(vm_page_t m, vm_object_t obj, vm_pindex_t pindex)
{
	KASSERT(m->object == NULL, "vm_page_insert: page %#lx is already in "
		"object %p; take it out with vm_page_remove first",
		m->phys_addr, m->object);
	KASSERT(vm_page_lookup(obj, pindex) == NULL, "vm_page_insert: object "
		"%p already has a page at pindex %lu", obj, pindex);
	page_hash_in(m, obj, pindex);
}

void vm_page_remove(vm_page_t m)
{
	vm_object_t obj = m->object;
	vm_page_t *pp;

	KASSERT(obj != NULL, "vm_page_remove: page %#lx is in no object",
		m->phys_addr);
	pp = &obj->hash[bucket_of(obj, m->pindex)];
	while (*pp != m)
		pp = &(*pp)->hnext;
	*pp = m->hnext;
	m->object = NULL;
	m->hnext = NULL;
	obj->resident_page_count--;
	__atomic_fetch_sub(&ostats.pages, 1, __ATOMIC_RELAXED);
}

/*
 * The zero-fill fault's insert.  Its caller has just looked pindex up and
 * found nothing, under the lock it still holds, so vm_page_insert's
 * second lookup would only repeat that one: the checked kernel still
 * makes it (INVARIANT), the production kernel trusts the contract.
 */
vm_page_t vm_page_grab_zero(vm_object_t obj, vm_pindex_t pindex)
{
	vm_page_t m = vm_page_alloc(VM_ALLOC_ZERO | VM_ALLOC_USER);

	if (__predict_false(m == NULL))
		return NULL;
	INVARIANT(m->object == NULL && vm_page_lookup(obj, pindex) == NULL,
		  "vm_page_grab_zero: object %p already has a page at pindex "
		  "%lu (the caller must look first), or page %#lx is in "
		  "object %p", obj, pindex, m->phys_addr, m->object);
	page_hash_in(m, obj, pindex);
	return m;
}

/* ----------------------------------------------------------------------- */
/* Life cycle.                                                             */

/* A fresh object of type and size with one reference. */
static vm_object_t object_new(enum vm_object_type type, vm_pindex_t size)
{
	vm_object_t obj = kmalloc(sizeof(*obj), M_VMOBJ, M_WAITOK | M_ZERO);

	obj->type = type;
	obj->ref_count = 1;
	obj->size = size;
	obj->hash = hash_alloc(HASH_MIN_BUCKETS);
	obj->hash_mask = HASH_MIN_BUCKETS - 1;
	lwkt_gettoken(&vm_object_token);
	ostats.objects++;
	lwkt_reltoken(&vm_object_token);
	return obj;
}

vm_object_t vm_object_allocate(vm_pindex_t size)
{
	return object_new(OBJT_DEFAULT, size);
}

vm_object_t vm_object_allocate_type(enum vm_object_type type,
				    vm_pindex_t size)
{
	KASSERT(type != OBJT_DEAD, "vm_object_allocate_type: a new object "
		"cannot be dead");
	return object_new(type, size);
}

/*
 * vp's object, referenced, if it has a live one: it grows to cover the
 * file's size as this mapping saw it (past the end of the file a fault
 * still finds no page: the pager asks the file).  NULL if none.  An
 * object whose last reference is gone but which is still writing its
 * pages back (object_terminate) is waited out, so the next object reads
 * what it wrote.  Token held.
 */
static vm_object_t vnode_object_ref(struct vnode *vp, uint64_t file_size)
{
	vm_object_t obj;

	while ((obj = vp->v_object) != NULL && obj->ref_count == 0)
		lwkt_yield();		/* lets the token go meanwhile */
	if (obj == NULL)
		return NULL;
	obj->ref_count++;
	obj->size = MAX(obj->size,
			roundup2(file_size, PAGE_SIZE) >> PAGE_SHIFT);
	return obj;
}

vm_object_t vm_object_vnode(struct vnode *vp, uint64_t file_size)
{
	vm_object_t obj, fresh = NULL;

	KASSERT(vp->v_type == VREG, "vm_object_vnode: vnode %p is not a "
		"regular file (type %d)", vp, vp->v_type);
	for (;;) {
		lwkt_gettoken(&vm_object_token);
		obj = vnode_object_ref(vp, file_size);
		if (obj == NULL && fresh != NULL) {
			vp->v_object = obj = fresh, fresh = NULL;
			TAILQ_INSERT_TAIL(&vnode_objects, obj, vnode_link);
		}
		lwkt_reltoken(&vm_object_token);
		if (obj != NULL)
			break;
		/* None yet: make one (this may block) and look again. */
		fresh = object_new(OBJT_VNODE,
				   roundup2(file_size, PAGE_SIZE) >> PAGE_SHIFT);
		vref(vp);
		fresh->vnode = vp;
	}
	if (fresh != NULL)	/* another mapping attached one first */
		vm_object_deallocate(fresh);
	return obj;
}

void vm_object_reference(vm_object_t obj)
{
	lwkt_gettoken(&vm_object_token);
	KASSERT(obj->ref_count > 0, "vm_object_reference: object %p has no "
		"references left (it is being freed); a stale pointer", obj);
	obj->ref_count++;
	lwkt_reltoken(&vm_object_token);
}

/* Free every resident page of obj.  Token held; nothing maps them. */
static void free_pages(vm_object_t obj)
{
	for (unsigned b = 0; b <= obj->hash_mask; b++) {
		while (obj->hash[b] != NULL) {
			vm_page_t m = obj->hash[b];

			vm_page_remove(m);
			vm_page_free(m);
		}
	}
}

/* Take the resident pages of obj at or past pindex from out of it and
 * chain them onto *gone through hnext (still allocated: the caller frees
 * them once no pmap maps them).  Token held; does not block. */
static void take_pages_from(vm_object_t obj, vm_pindex_t from,
			    vm_page_t *gone)
{
	for (unsigned b = 0; b <= obj->hash_mask; b++) {
		vm_page_t *pp = &obj->hash[b];

		while (*pp != NULL) {
			vm_page_t m = *pp;

			if (m->pindex < from) {
				pp = &m->hnext;
				continue;
			}
			vm_page_remove(m);	/* *pp is now the next one */
			m->hnext = *gone;	/* the caller's list */
			*gone = m;
		}
	}
}

vm_page_t vm_object_truncate(vm_object_t obj, vm_pindex_t size)
{
	vm_page_t gone = NULL;

	KASSERT(lwkt_token_is_held(&vm_object_token),
		"vm_object_truncate without vm_object_token");
	KASSERT(obj->type == OBJT_VNODE, "vm_object_truncate: object %p "
		"(type %d) is no file's; only a file has an end", obj,
		obj->type);
	obj->size = MIN(obj->size, size);
	take_pages_from(obj, size, &gone);
	return gone;
}

/*
 * A shadow's copies of file pages past a cut.  The shadow keeps its
 * size: the window it shows stays as the map entry made it, and a page
 * it no longer holds is looked for further down the chain again, where
 * the file now ends (its page-in fails past the end: SIGBUS).
 */
void vm_object_take_copies(vm_object_t shadow, vm_pindex_t from,
			   vm_page_t *gone)
{
	KASSERT(lwkt_token_is_held(&vm_object_token),
		"vm_object_take_copies without vm_object_token");
	KASSERT(shadow->type == OBJT_DEFAULT && shadow->backing_object != NULL,
		"vm_object_take_copies: object %p (type %d) is no shadow; "
		"only a shadow holds copies of another object's pages",
		shadow, shadow->type);
	if (shadow->resident_page_count > 0)
		take_pages_from(shadow, from, gone);
}

/*
 * Write-back, and marking a page clean.  A shared mapping's first store
 * to a page faults and marks it PG_MDIRTY (a read maps it read-only
 * until then, vm/vm_fault.c); a write-back takes the mark away again,
 * so that a second msync with no store between writes nothing.  The
 * store after that must fault again, so the mappings that may write the
 * page lose their write right first.  The order is what makes it safe:
 *
 *   1. take the marks (PG_MDIRTY off, PG_WBACK on)     object token
 *   2. write-protect those pages in every pmap        the walk of every
 *      (one invalidation per mapping entry, a         map, token let go
 *      shootdown where it runs on another CPU)
 *   3. write each PG_WBACK page to the file           blocks
 *
 * A store before 2 went through a writable entry and is in the page
 * before 3 copies it; a store after 2 faults and marks the page again,
 * so the next write-back takes it even if 3 copied the page before the
 * store landed.  No store is lost and none is written twice without a
 * reason.  This is how Linux tracks a shared file mapping's dirty pages
 * (it write-protects a page it cleans, and the write fault marks it);
 * the dirty bit of the entry (PG_M) is not used: a munmap would lose it
 * with the entry, and the fault already says what it would.
 */

/* Step 1 for the pages of obj in [start, end) below the file's size:
 * each marked one is marked PG_WBACK instead.  Returns whether any was;
 * *lo and *hi bound them.  Token held. */
static bool clean_take_marks(vm_object_t obj, vm_pindex_t start,
			     vm_pindex_t end, vm_pindex_t *lo, vm_pindex_t *hi)
{
	*lo = end;
	*hi = start;
	for (vm_pindex_t i = start; i < end; i++) {
		vm_page_t m = vm_page_lookup(obj, i);

		if (m == NULL || !(m->flags & PG_MDIRTY))
			continue;
		m->flags = (m->flags & ~PG_MDIRTY) | PG_WBACK;
		*lo = MIN(*lo, i);
		*hi = i + 1;
	}
	return *lo < *hi;
}

/* Step 3: write the PG_WBACK pages of obj in [lo, hi), each cut at
 * size (the file's).  A page whose write fails is marked again, for the
 * next write-back.  Token and v_iolock held (the token is let go while
 * a write blocks: pages are looked up one index at a time, since a
 * fault may add pages and grow the hash meanwhile; none can leave, as
 * that takes v_iolock). */
static int clean_write(vm_object_t obj, vm_pindex_t lo, vm_pindex_t hi,
		       uint64_t size)
{
	int error = 0;

	for (vm_pindex_t i = lo; i < hi; i++) {
		vm_page_t m = vm_page_lookup(obj, i);
		uint64_t off = i << PAGE_SHIFT;
		int e;

		if (m == NULL || !(m->flags & PG_WBACK))
			continue;
		m->flags &= ~PG_WBACK;
		e = vfs_vnode_pwrite(obj->vnode, vm_page_to_dmap(m),
				     MIN(PAGE_SIZE, size - off), off);
		if (e != 0) {
			m->flags |= PG_MDIRTY;
			if (error == 0)
				error = e;
		}
		ostats.cleaned++;
	}
	return error;
}

/*
 * The write-back of vm_object_clean and object_terminate (steps 1-3
 * above).  Token and the vnode's v_iolock held (v_iolock keeps every
 * write(2), page-in and truncation of the file out until the pages are
 * written, see vm/vnode_pager.c); the token is let go during step 2 and
 * while a write blocks, so the caller must hold it once, not nested.
 * An object with no reference left (being terminated) has no mapping,
 * and step 2 is skipped.
 */
static int object_clean(vm_object_t obj, vm_pindex_t start,
			vm_pindex_t end)
{
	vm_pindex_t lo, hi;
	struct vattr va;

	if (obj->type != OBJT_VNODE || obj->resident_page_count == 0)
		return 0;
	KASSERT(lwkt_serialize_held(&obj->vnode->v_iolock), "object_clean "
		"of %p without its vnode's v_iolock: a write(2) could come "
		"between a page's copy and its write", obj);
	if (obj->vnode->v_ops->vop_getattr(obj->vnode, &va) != 0)
		return EIO;
	end = MIN(end, MIN(obj->size, (va.va_size + PAGE_SIZE - 1) >>
					      PAGE_SHIFT));
	if (!clean_take_marks(obj, start, end, &lo, &hi))
		return 0;
	if (obj->ref_count > 0) {
		lwkt_reltoken(&vm_object_token);
		vm_map_protect_object_pages(obj, lo, hi);
		lwkt_gettoken(&vm_object_token);
	}
	return clean_write(obj, lo, hi, va.va_size);
}

int vm_object_clean(vm_object_t obj, vm_pindex_t start, vm_pindex_t end,
		    bool sync)
{
	int error;

	if (obj->type != OBJT_VNODE)
		return 0;
	lwkt_serialize_enter(&obj->vnode->v_iolock);
	lwkt_gettoken(&vm_object_token);
	error = object_clean(obj, start, end);
	lwkt_reltoken(&vm_object_token);
	lwkt_serialize_exit(&obj->vnode->v_iolock);
	if (sync) {
		int e = obj->vnode->v_ops->vop_fsync(obj->vnode);

		if (error == 0)
			error = e;
	}
	return error;
}

/*
 * The next file object of mp not yet cleaned in this pass, referenced
 * (NULL when none is left); it is marked with the pass.  Token held.
 * Starting from the head each time keeps the walk right however the list
 * changed while the previous clean blocked.
 */
static vm_object_t next_to_clean(struct mount *mp, uint64_t pass)
{
	vm_object_t obj;

	TAILQ_FOREACH(obj, &vnode_objects, vnode_link)
		if (obj->vnode->v_mount == mp && obj->ref_count > 0 &&
		    obj->clean_pass != pass) {
			obj->clean_pass = pass;
			obj->ref_count++;
			return obj;
		}
	return NULL;
}

int vm_object_clean_mount(struct mount *mp)
{
	vm_object_t obj;
	uint64_t pass;
	int error = 0;

	lwkt_gettoken(&vm_object_token);
	pass = ++clean_passes;
	while ((obj = next_to_clean(mp, pass)) != NULL) {
		int e;

		lwkt_reltoken(&vm_object_token);
		e = vm_object_clean(obj, 0, obj->size, false);
		if (error == 0)
			error = e;
		vm_object_deallocate(obj);
		lwkt_gettoken(&vm_object_token);
	}
	lwkt_reltoken(&vm_object_token);
	return error;
}

int vm_object_clean_vnode(struct vnode *vp)
{
	vm_object_t obj;
	int error;

	lwkt_gettoken(&vm_object_token);
	obj = vnode_object_ref(vp, 0);	/* waits out one being freed */
	lwkt_reltoken(&vm_object_token);
	if (obj == NULL)
		return 0;
	error = vm_object_clean(obj, 0, obj->size, false);
	vm_object_deallocate(obj);
	return error;
}

/*
 * The last reference to obj is gone: free its pages and itself, and
 * return its backing object (whose reference the caller must now drop),
 * or NULL.  Token held.
 */
static vm_object_t object_terminate(vm_object_t obj)
{
	vm_object_t backing = obj->backing_object;
	struct vnode *vp = obj->type == OBJT_VNODE ? obj->vnode : NULL;

	/* A file's pages a shared mapping wrote go back to it first:
	 * this is munmap's, exit's and execve's write-back.  (A mapping
	 * being made meanwhile finds obj on its vnode with no references
	 * and waits until it is detached below.)  v_iolock, taken before
	 * the write-back and let go only when the pages are gone, keeps a
	 * write(2) of the file from coming between (vm/vnode_pager.c): it
	 * then finds no object, or pages that are already written. */
	if (vp != NULL) {
		lwkt_serialize_enter(&vp->v_iolock);	/* may block */
		object_clean(obj, 0, obj->size);
		if (vp->v_object == obj) {
			vp->v_object = NULL;
			TAILQ_REMOVE(&vnode_objects, obj, vnode_link);
		}
	}
	obj->type = OBJT_DEAD;
	free_pages(obj);
	if (vp != NULL)
		lwkt_serialize_exit(&vp->v_iolock);
	if (backing != NULL)
		backing->shadow_count--;
	ostats.objects--;
	kfree(obj->hash, M_VMOBJ);
	if (obj->vnode != NULL) {
		/* vrele may block: the token is let go and taken back. */
		vrele(obj->vnode);
	}
	kfree(obj, M_VMOBJ);
	return backing;
}

/*
 * Drop one reference.  The loop (not recursion) walks down the chain
 * while each object loses its last reference, so a long chain cannot
 * overflow the kernel stack.
 */
void vm_object_deallocate(vm_object_t obj)
{
	lwkt_gettoken(&vm_object_token);
	while (obj != NULL) {
		KASSERT(obj->ref_count > 0, "vm_object_deallocate: object %p "
			"already has no references; dropped twice", obj);
		if (--obj->ref_count > 0)
			break;
		obj = object_terminate(obj);
	}
	lwkt_reltoken(&vm_object_token);
}

vm_object_t vm_object_shadow(vm_object_t obj, vm_pindex_t offset,
			     vm_pindex_t size)
{
	vm_object_t shadow;

	KASSERT(obj->type != OBJT_DEVICE, "vm_object_shadow: object %p is a "
		"device's, whose pages are never copied; mmap refuses "
		"MAP_PRIVATE of a device", obj);
	shadow = vm_object_allocate(size);
	lwkt_gettoken(&vm_object_token);
	shadow->backing_object = obj;	/* the caller's reference moves here */
	shadow->backing_offset = offset;
	obj->shadow_count++;
	ostats.shadows++;
	lwkt_reltoken(&vm_object_token);
	return shadow;
}

/* ----------------------------------------------------------------------- */
/* Collapse.                                                               */

/*
 * Move backing's pages into obj: a page obj does not have (at the same
 * address) moves up; one obj already has -- obj's copy shadows it -- or
 * one outside obj's window on backing is freed.  Token held.
 */
static void collapse_pages(vm_object_t obj, vm_object_t backing)
{
	vm_pindex_t off = obj->backing_offset;

	for (unsigned b = 0; b <= backing->hash_mask; b++) {
		while (backing->hash[b] != NULL) {
			vm_page_t m = backing->hash[b];
			vm_pindex_t pindex = m->pindex;

			vm_page_remove(m);
			if (pindex < off || pindex - off >= obj->size ||
			    vm_page_lookup(obj, pindex - off) != NULL)
				vm_page_free(m);
			else
				vm_page_insert(m, obj, pindex - off);
		}
	}
}

/*
 * Why can B's pages move?  B's only reference is obj (ref_count 1), so
 * no map entry and no other shadow reads B: whatever obj does not cover
 * is unreachable, and what it covers is what obj's faults would find.
 * A page of B that moves keeps its physical frame, so a read-only
 * mapping of it in obj's pmap stays right.  A page that obj shadows is
 * mapped nowhere: obj's own copy replaced it in obj's pmap when it was
 * made, and nothing else sees B.
 */
void vm_object_collapse(vm_object_t obj)
{
	KASSERT(lwkt_token_is_held(&vm_object_token),
		"vm_object_collapse without vm_object_token");
	for (;;) {
		vm_object_t backing = obj->backing_object;

		if (backing == NULL || backing->ref_count != 1 ||
		    backing->type != OBJT_DEFAULT || obj->type != OBJT_DEFAULT)
			return;
		collapse_pages(obj, backing);
		obj->backing_object = backing->backing_object;
		obj->backing_offset += backing->backing_offset;
		/* backing's reference on its own backing object is ours now;
		 * its shadow count is unchanged: obj replaces backing. */
		backing->backing_object = NULL;
		backing->ref_count = 0;
		backing->shadow_count = 0;
		ostats.collapses++;
		object_terminate(backing);
	}
}

void vm_object_get_stats(struct vm_object_stats *st)
{
	lwkt_gettoken(&vm_object_token);
	*st = ostats;
	lwkt_reltoken(&vm_object_token);
}
