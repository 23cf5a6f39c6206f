/*
 * vm_map.c - user address spaces: the sorted list of ranges (entries)
 * that make up a process's memory, and what fork does to it.
 *
 * A map is a list of non-overlapping entries sorted by address.  Each
 * entry maps [start, end) to pages offset.. of one VM object, with a
 * protection and an inheritance.  The page tables (the pmap) are only a
 * cache of this: a page is entered by the first fault on it
 * (vm/vm_fault.c) and can be dropped at any time.
 *
 * Operations cut entries where a range starts or ends inside one
 * ("clipping"): munmap of the middle of an entry leaves two entries, both
 * referencing the object, with their offsets adjusted.
 *
 *   before   [------------ entry: obj O, offset 0 ------------)
 *   munmap             [xxxxxxxxx)
 *   after    [- O, 0 -)           [--- O, offset 5 -----------)
 *
 * Fork (vmspace_fork) walks the parent's entries:
 *   SHARE  the child's entry names the same object: both see each other's
 *          writes (MAP_SHARED);
 *   COPY   both entries keep the object but are marked NEEDS_COPY and the
 *          parent's pages are write-protected, so the first write on
 *          either side faults and gets a private copy (copy-on-write);
 *   NONE   the child has nothing there.
 *
 * A linear list is the simplest structure that is obviously right; a
 * process here has tens of entries.  DragonFly keeps them in a red-black
 * tree for processes with thousands.
 *
 * Every address space is on one list (vmspaces), so that a file that
 * shrinks can take the pages past its new end out of every pmap that
 * maps them (vm_map_remove_object_pages; docs/vm.md section 6): there
 * are no reverse maps from a page to its mappings, and truncating a
 * mapped file is rare enough that walking every map then is cheap.
 *
 * Locking: the map's token around every search and change; the object
 * token nests inside it.  The list has a serializer of its own, held
 * across the walk (which takes map tokens, and a token can be let go
 * while its holder waits for another: a token could not keep the list
 * still); it comes after a vnode's v_iolock and before the tokens.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/kernel.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/serialize.h>
#include <kern/token.h>
#include <vm/vm_map.h>

MALLOC_DEFINE(M_VMMAP, "vm_map", "address spaces and their entries");

/* Every address space, for vm_map_remove_object_pages: vmspaces_lock. */
static TAILQ_HEAD(, vmspace) vmspaces = TAILQ_HEAD_INITIALIZER(vmspaces);
static struct lwkt_serialize vmspaces_lock = LWKT_SERIALIZE_INITIALIZER;

#define atop(x) ((x) >> PAGE_SHIFT)

/* ----------------------------------------------------------------------- */
/* Entries.                                                                */

/*
 * What holds of a map's entries whenever nobody holds its token (an
 * operation may break a rule only in the middle, with the token held):
 *
 *   sorted, disjoint     each entry's end <= the next one's start; a gap
 *                        is unmapped (a fault there is SEGV_MAPERR)
 *   ranges               page aligned, start < end, inside
 *                        [VM_MIN_USER_ADDRESS, VM_MAX_USER_ADDRESS)
 *   nentries             the length of the list
 *   object               NULL (anonymous memory, its object made at the
 *                        first fault) or one reference held by this
 *                        entry: the two halves of a clipped entry hold
 *                        one each, so either can go first
 *   offset               the object page that start shows: the page at va
 *                        is offset + (va - start) / PAGE_SIZE, and
 *                        clipping moves it with start
 *   protection           within max_protection (mprotect cannot widen
 *                        what mmap allowed)
 *   NEEDS_COPY           only on an entry with an object: the object is
 *                        shared copy-on-write, and the pmap maps its
 *                        pages read-only until the entry has its own
 *   hint                 NULL or an entry on the list
 *
 * And the pmap says less than the map, never more: every page it maps
 * at va comes from the chain of the entry containing va, with at most
 * that entry's rights.  So an operation that shrinks the map (munmap,
 * mprotect) changes the pmap before it lets the token go, while one
 * that grows it leaves the pmap to the faults.
 */

/* A zeroed entry, for the caller to fill in before it links it.  May
 * block (kmalloc M_WAITOK). */
static struct vm_map_entry *entry_alloc(void)
{
	return kmalloc(sizeof(struct vm_map_entry), M_VMMAP,
		       M_WAITOK | M_ZERO);
}

/* Unlink e, drop its object reference and free it.  Token held; its
 * pages must already be out of the pmap. */
static void entry_delete(struct vm_map *map, struct vm_map_entry *e)
{
	TAILQ_REMOVE(&map->entries, e, link);
	map->nentries--;
	if (map->hint == e)
		map->hint = NULL;
	if (e->object != NULL)
		vm_object_deallocate(e->object);
	kfree(e, M_VMMAP);
}

/* Insert e in address order.  Token held; e does not overlap. */
static void entry_link(struct vm_map *map, struct vm_map_entry *e)
{
	struct vm_map_entry *it;

	TAILQ_FOREACH(it, &map->entries, link)
		if (it->start >= e->end)
			break;
	if (it != NULL)
		TAILQ_INSERT_BEFORE(it, e, link);
	else
		TAILQ_INSERT_TAIL(&map->entries, e, link);
	map->nentries++;
}

/*
 * The entry containing va, or NULL if va is in a gap.  Map token held;
 * does not block; sets the hint, so even a lookup changes the map.
 *
 * The hint is the entry found last: faults come in runs over one range
 * (a loop over an array, a stack growing), so most lookups end there.
 * Clipping keeps an entry's struct (only its bounds change, and they are
 * checked here), and entry_delete forgets it.  The walk stops at the
 * first entry past va: the list is sorted, so nothing later can hold it.
 */
struct vm_map_entry *vm_map_lookup_entry(struct vm_map *map, vm_offset_t va)
{
	struct vm_map_entry *e = map->hint;

	if (e != NULL && va >= e->start && va < e->end)
		return e;
	TAILQ_FOREACH(e, &map->entries, link) {
		if (va < e->start)
			return NULL;
		if (va < e->end) {
			map->hint = e;
			return e;
		}
	}
	return NULL;
}

/* Split e at addr (inside it): e keeps [addr, end), a new entry before
 * it takes [start, addr) and its own object reference. */
static void clip_at(struct vm_map *map, struct vm_map_entry *e,
		    vm_offset_t addr)
{
	struct vm_map_entry *front;

	if (addr <= e->start || addr >= e->end)
		return;
	front = entry_alloc();
	*front = *e;
	front->end = addr;
	if (front->object != NULL) {
		vm_object_reference(front->object);
		e->offset += atop(addr - e->start);
	}
	e->start = addr;
	TAILQ_INSERT_BEFORE(e, front, link);
	map->nentries++;
}

/* Split e at addr (inside it): e keeps [start, addr), a new entry after
 * it takes [addr, end) and its own object reference.  (Cutting a range
 * [start, end) out of an entry takes clip_at(start) then clip_end(end):
 * e is then exactly the range.) */
static void clip_end(struct vm_map *map, struct vm_map_entry *e,
		     vm_offset_t addr)
{
	struct vm_map_entry *back, *next = TAILQ_NEXT(e, link);

	if (addr <= e->start || addr >= e->end)
		return;
	back = entry_alloc();
	*back = *e;
	back->start = addr;
	if (back->object != NULL) {
		vm_object_reference(back->object);
		back->offset += atop(addr - e->start);
	}
	e->end = addr;
	/* next was read before the insertion: TAILQ_INSERT_BEFORE names
	 * its list element several times, and TAILQ_NEXT(e) changes on
	 * the way (to back), which left next's back link stale. */
	if (next != NULL)
		TAILQ_INSERT_BEFORE(next, back, link);
	else
		TAILQ_INSERT_TAIL(&map->entries, back, link);
	map->nentries++;
}

/* Is [start, end) a page-aligned range of user space? */
static bool user_range_ok(vm_offset_t start, vm_offset_t end)
{
	return start < end && start >= VM_MIN_USER_ADDRESS &&
	       end <= VM_MAX_USER_ADDRESS && ((start | end) & PAGE_MASK) == 0;
}

/* Does any entry overlap [start, end)?  Token held. */
static bool range_busy(struct vm_map *map, vm_offset_t start,
		       vm_offset_t end)
{
	struct vm_map_entry *e;

	TAILQ_FOREACH(e, &map->entries, link)
		if (e->start < end && start < e->end)
			return true;
	return false;
}

/* ----------------------------------------------------------------------- */
/* Changing a map.                                                         */

/*
 * mmap, brk, execve and the stack: a new entry for [start, start + size)
 * showing obj from page offset (obj's reference is the entry's from now
 * on; on an error it stays the caller's).  Returns 0, EINVAL (a range
 * that is empty, wraps, is not page aligned or leaves user space) or
 * ENOMEM (part of it is mapped already: MAP_FIXED unmaps first).  Map
 * token not held; may block.  The entry is allocated after the range
 * was found free, and the token is let go if that sleeps; the range
 * stays free all the same, since only the process's own thread (one per
 * address space) adds entries to its map.  Nothing enters the pmap: the
 * first touch of each page faults.
 */
int vm_map_insert(struct vm_map *map, vm_object_t obj, vm_pindex_t offset,
		  vm_offset_t start, vm_offset_t size, int prot, int maxprot,
		  int inherit, int eflags)
{
	struct vm_map_entry *e;

	if (size == 0 || start + size < start ||
	    !user_range_ok(start, start + size))
		return EINVAL;
	KASSERT((prot & ~maxprot) == 0, "vm_map_insert: prot %#x exceeds "
		"max_protection %#x", prot, maxprot);
	KASSERT(obj != NULL || !(eflags & MAP_ENTRY_NEEDS_COPY),
		"vm_map_insert: NEEDS_COPY without an object: there is "
		"nothing to share copy-on-write yet");
	lwkt_gettoken(&map->token);
	if (range_busy(map, start, start + size)) {
		lwkt_reltoken(&map->token);
		return ENOMEM;
	}
	e = entry_alloc();
	*e = (struct vm_map_entry){ .start = start, .end = start + size,
		.object = obj, .offset = offset, .protection = prot,
		.max_protection = maxprot, .inheritance = inherit,
		.eflags = eflags };
	entry_link(map, e);
	lwkt_reltoken(&map->token);
	return 0;
}

/*
 * munmap, and the whole of an address space going (vmspace_free): every
 * entry overlapping [start, end) is clipped to it, its pages leave the
 * pmap, and it is deleted with its object reference -- the last one
 * frees the object's pages (a file's written pages go back to it
 * first).  A gap in the range is fine, as POSIX says for munmap.
 * Returns 0 or EINVAL (not page aligned, empty, or past user space).
 * Map token not held; may block.
 *
 * The pmap goes before the entry: were the object's pages freed while
 * a stale translation still pointed at them, the process could read
 * the next owner's data.
 */
int vm_map_remove(struct vm_map *map, vm_offset_t start, vm_offset_t end)
{
	struct vm_map_entry *e, *next;

	if (start >= end || ((start | end) & PAGE_MASK) ||
	    end > VM_MAX_USER_ADDRESS)
		return EINVAL;
	lwkt_gettoken(&map->token);
	for (e = TAILQ_FIRST(&map->entries); e != NULL; e = next) {
		next = TAILQ_NEXT(e, link);
		if (e->end <= start)
			continue;
		if (e->start >= end)
			break;
		clip_at(map, e, start);
		clip_end(map, e, end);
		next = TAILQ_NEXT(e, link);
		pmap_remove(map->pmap, e->start, e->end);
		entry_delete(map, e);
	}
	lwkt_reltoken(&map->token);
	return 0;
}

/* Is [start, end) covered by entries with no gap?  Token held. */
static bool range_covered(struct vm_map *map, vm_offset_t start,
			  vm_offset_t end)
{
	struct vm_map_entry *e = vm_map_lookup_entry(map, start);

	while (e != NULL && e->end < end) {
		struct vm_map_entry *next = TAILQ_NEXT(e, link);

		if (next == NULL || next->start != e->end)
			return false;
		e = next;
	}
	return e != NULL;
}

/*
 * The start of mprotect and msync: [start, end) must be page aligned, not
 * empty (EINVAL) and mapped with no gap (ENOMEM).  Returns 0 with the map
 * token held, or the errno with no token held.
 */
static int map_range_enter(struct vm_map *map, vm_offset_t start,
			   vm_offset_t end)
{
	if (start >= end || ((start | end) & PAGE_MASK))
		return EINVAL;
	lwkt_gettoken(&map->token);
	if (!range_covered(map, start, end)) {
		lwkt_reltoken(&map->token);
		return ENOMEM;
	}
	return 0;
}

/* Does every entry of [start, end) allow prot (its max_protection)?
 * The range is covered (map_range_enter).  Map token held. */
static bool range_allows(struct vm_map *map, vm_offset_t start,
			 vm_offset_t end, int prot)
{
	struct vm_map_entry *e;

	for (e = vm_map_lookup_entry(map, start); e && e->start < end;
	     e = TAILQ_NEXT(e, link))
		if (prot & ~e->max_protection)
			return false;
	return true;
}

/*
 * mprotect: the entries of [start, end), clipped to it, get protection
 * prot.  All or nothing: every entry is checked against its
 * max_protection before any changes (EACCES), so a refused mprotect
 * leaves the map as it was.  Returns 0, EINVAL, ENOMEM (a gap) or
 * EACCES.  Map token not held; may block (a clip allocates).
 */
int vm_map_protect(struct vm_map *map, vm_offset_t start, vm_offset_t end,
		   int prot)
{
	struct vm_map_entry *e;
	int error = map_range_enter(map, start, end);

	if (error)
		return error;
	if (!range_allows(map, start, end, prot))
		error = EACCES;
	for (e = vm_map_lookup_entry(map, start); !error && e &&
	     e->start < end; e = TAILQ_NEXT(e, link)) {
		clip_at(map, e, start);
		clip_end(map, e, end);
		e->protection = prot;
		/* Rights taken away leave the pmap now; rights given are
		 * entered by the next fault. */
		pmap_protect(map->pmap, e->start, e->end, prot);
	}
	lwkt_reltoken(&map->token);
	return error;
}

/* The write-back of the part of entry e inside [start, end), if its
 * own object is a file's: 0 or the write's error.  Map token held (let
 * go while the write blocks). */
static int entry_msync(struct vm_map_entry *e, vm_offset_t start,
		       vm_offset_t end, bool sync)
{
	vm_offset_t s = MAX(start, e->start), t = MIN(end, e->end);

	if (e->object == NULL || e->object->type != OBJT_VNODE)
		return 0;
	return vm_object_clean(e->object, e->offset + atop(s - e->start),
			       e->offset + atop(t - e->start), sync);
}

/*
 * msync: the shared file pages written in [start, end) go back to their
 * files.  Only an entry whose own object is a file's (MAP_SHARED) can
 * have such pages; a private mapping's writes live in its shadow and
 * never reach the file.  Every entry is written even after one fails,
 * and the first error is the answer.  The map token is held throughout
 * (let go only while a write blocks; the process's own thread is the
 * only one that changes its map).
 */
int vm_map_msync(struct vm_map *map, vm_offset_t start, vm_offset_t end,
		 bool sync)
{
	struct vm_map_entry *e;
	int error = map_range_enter(map, start, end);

	if (error)
		return error;
	for (e = vm_map_lookup_entry(map, start); e && e->start < end;
	     e = TAILQ_NEXT(e, link)) {
		int err = entry_msync(e, start, end, sync);

		if (error == 0)
			error = err;
	}
	lwkt_reltoken(&map->token);
	return error;
}

/*
 * Where mmap puts a mapping the caller gave no fixed address for: the
 * lowest gap of size bytes at or above hint (rounded up to a page),
 * first fit.  Returns 0 and *addr, or ENOMEM when no gap is left below
 * VM_MAX_USER_ADDRESS.  Map token not held; does not block.  The answer
 * is only advice once the token is let go; vm_map_insert checks the
 * range again.
 */
int vm_map_findspace(struct vm_map *map, vm_offset_t hint, vm_offset_t size,
		     vm_offset_t *addr)
{
	vm_offset_t start = MAX(roundup2(hint, PAGE_SIZE), VM_MIN_USER_ADDRESS);
	struct vm_map_entry *e;

	lwkt_gettoken(&map->token);
	TAILQ_FOREACH(e, &map->entries, link) {
		if (e->end <= start)
			continue;
		if (e->start >= start + size)
			break;
		start = e->end;
	}
	lwkt_reltoken(&map->token);
	if (start + size < start || start + size > VM_MAX_USER_ADDRESS)
		return ENOMEM;
	*addr = start;
	return 0;
}

/* ----------------------------------------------------------------------- */
/* Address spaces.                                                          */

/*
 * The list of every address space, which only a truncation's walk reads
 * (vm_map_remove_object_pages).  Its serializer is uncontended unless a
 * walk is going on, so fork and exit pay an enter and an exit each.
 */
static void vmspaces_insert(struct vmspace *vm)
{
	lwkt_serialize_enter(&vmspaces_lock);
	TAILQ_INSERT_TAIL(&vmspaces, vm, vm_link);
	lwkt_serialize_exit(&vmspaces_lock);
}

static void vmspaces_remove(struct vmspace *vm)
{
	lwkt_serialize_enter(&vmspaces_lock);
	TAILQ_REMOVE(&vmspaces, vm, vm_link);
	lwkt_serialize_exit(&vmspaces_lock);
}

/*
 * A new, empty address space: no entries, its own page tables (the
 * kernel's half shared), one reference, and on the list of every
 * address space, so that a truncation's walk sees its pmap from the
 * start.  Thread context; may block (the allocation, and the list's
 * serializer while a walk is going on).
 */
struct vmspace *vmspace_alloc(void)
{
	struct vmspace *vm = kmalloc(sizeof(*vm), M_VMMAP, M_WAITOK | M_ZERO);

	TAILQ_INIT(&vm->vm_map.entries);
	lwkt_token_init(&vm->vm_map.token, "vmmap");
	pmap_pinit(&vm->vm_pmap);
	vm->vm_map.pmap = &vm->vm_pmap;
	vm->vm_refcnt = 1;
	vmspaces_insert(vm);
	return vm;
}

/*
 * Drop a reference (a process exiting, or an execve replacing its
 * space); the last one unmaps everything, which frees what only it
 * referenced, and frees the page tables.  The space must not be loaded
 * on any CPU then (the caller switched away from it).  Thread context;
 * may block.
 */
void vmspace_free(struct vmspace *vm)
{
	if (__atomic_sub_fetch(&vm->vm_refcnt, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	/* Off the list first: a walk in progress holds vmspaces_lock, so
	 * this waits for it, and no later walk finds a map going away. */
	vmspaces_remove(vm);
	vm_map_remove(&vm->vm_map, 0, VM_MAX_USER_ADDRESS);
	KASSERT(vm->vm_map.nentries == 0, "vmspace_free: %d entries left",
		vm->vm_map.nentries);
	pmap_release(&vm->vm_pmap);
	kfree(vm, M_VMMAP);
}

/*
 * The child's copy of entry pe (COPY or SHARE); may set the parent's
 * NEEDS_COPY and write-protect its pages.  Parent map token held.
 *
 *   SHARE  both name one object, made now if the entry had none yet
 *          (else each side would make its own at its first fault, and
 *          they would not share)
 *   COPY   both name the object with NEEDS_COPY; the parent's pmap loses
 *          the write right at once, so its next write faults and copies
 *          too -- otherwise it would write into pages the child sees
 *
 * Untouched anonymous memory (no object) is copied as a bare range:
 * there is nothing to share yet, and each side zero-fills its own.
 */
static struct vm_map_entry *fork_entry(struct vm_map *pmap_map,
				       struct vm_map_entry *pe)
{
	struct vm_map_entry *ce = entry_alloc();

	if (pe->inheritance == VM_INHERIT_SHARE && pe->object == NULL)
		pe->object = vm_object_allocate(atop(pe->end - pe->start));
	*ce = *pe;
	if (pe->object == NULL)
		return ce;		/* untouched anonymous memory */
	lwkt_gettoken(&vm_object_token);
	vm_object_collapse(pe->object);	/* keep the chain short */
	pe->object->ref_count++;
	lwkt_reltoken(&vm_object_token);
	if (pe->inheritance == VM_INHERIT_COPY) {
		pe->eflags |= MAP_ENTRY_NEEDS_COPY;
		ce->eflags |= MAP_ENTRY_NEEDS_COPY;
		pmap_protect(pmap_map->pmap, pe->start, pe->end,
			     pe->protection & ~VM_PROT_WRITE);
	}
	return ce;
}

/* The child's entries, in the parent's order (so the child's list is
 * sorted too and needs no entry_link search).  Both map tokens held. */
static void fork_entries(struct vm_map *pm, struct vm_map *cm)
{
	struct vm_map_entry *pe;

	TAILQ_FOREACH(pe, &pm->entries, link) {
		struct vm_map_entry *ce;

		if (pe->inheritance == VM_INHERIT_NONE)
			continue;
		ce = fork_entry(pm, pe);
		TAILQ_INSERT_TAIL(&cm->entries, ce, link);
		cm->nentries++;
	}
}

/*
 * fork's address space: a new one with an entry for each of the
 * parent's that is not VM_INHERIT_NONE (fork_entry says what each
 * becomes), the same heap and mmap bounds, and an empty pmap -- the
 * child faults its pages in, from the objects it now shares.  Thread
 * context; may block.  The parent's map token is held throughout, so
 * the parent's entries cannot change under the copy.
 */
struct vmspace *vmspace_fork(struct vmspace *parent)
{
	struct vmspace *child = vmspace_alloc();
	struct vm_map *pm = &parent->vm_map;

	lwkt_gettoken(&pm->token);
	/* The child is on the list of maps already: its token keeps a
	 * walk (vm_map_remove_object_pages) out of the half-made list. */
	lwkt_gettoken(&child->vm_map.token);
	fork_entries(pm, &child->vm_map);
	child->vm_brk_base = parent->vm_brk_base;
	child->vm_brk = parent->vm_brk;
	child->vm_mmap_next = parent->vm_mmap_next;
	lwkt_reltoken(&child->vm_map.token);
	lwkt_reltoken(&pm->token);
	return child;
}

/* ----------------------------------------------------------------------- */
/* A file that shrank: its pages past the end leave every pmap.            */

/* Does e's chain reach obj?  If so, *base is the page of obj that e's
 * first page shows (the offsets of the shadows on the way added up).
 * Object token held. */
static bool entry_reaches(const struct vm_map_entry *e, vm_object_t obj,
			  vm_pindex_t *base)
{
	vm_pindex_t pindex = e->offset;

	for (vm_object_t o = e->object; o != NULL; o = o->backing_object) {
		if (o == obj) {
			*base = pindex;
			return true;
		}
		pindex += o->backing_offset;
	}
	return false;
}

/* What map_object_pages does to the mappings it finds. */
enum object_pages_op {
	OBJECT_PAGES_REMOVE,		/* out of the pmap: a truncation */
	OBJECT_PAGES_WRITE_PROTECT,	/* read-only: a write-back */
};

/* One walk of every map: pages [start, end) of obj, and what to do to
 * them.  A truncation also gathers the shadows' copies (copies). */
struct object_pages {
	vm_object_t obj;
	vm_pindex_t start, end;
	enum object_pages_op op;
	vm_page_t *copies;		/* OBJECT_PAGES_REMOVE only */
};

/*
 * The addresses [*sva, *eva) at which entry e, whose first page shows
 * page base of the walk's object, shows pages [start, end) of it; false
 * if it shows none of them.
 */
static bool entry_window(const struct vm_map_entry *e, vm_pindex_t base,
			 const struct object_pages *w, vm_offset_t *sva,
			 vm_offset_t *eva)
{
	vm_pindex_t lo = MAX(w->start, base);
	vm_pindex_t hi = MIN(w->end, base + atop(e->end - e->start));

	if (lo >= hi)
		return false;
	*sva = e->start + ((lo - base) << PAGE_SHIFT);
	*eva = e->start + ((hi - base) << PAGE_SHIFT);
	return true;
}

/*
 * A truncation reaches the private copies too: each shadow between e's
 * own object and the file's gives up its copies of the file's pages
 * past the cut (as Linux's truncation unmaps "even COWs").  A shadow's
 * page p shows page p + below of the file, below being the backing
 * offsets from that shadow down to the file added up; e->offset plus
 * the whole chain's is base.  Shadows that others share (a fork) are
 * emptied here once; the other maps' entries lose the pages from their
 * pmaps when the walk reaches them, and the pages are freed after the
 * whole walk.  A copy made meanwhile, in a map the walk has not reached
 * yet, is taken when it gets there; in a map it has passed, a fault
 * finds nothing past the cut to copy (every object of its chains was
 * emptied, and no fork can add a map: vmspace_alloc waits for the
 * walk).  Both tokens held.
 */
static void entry_take_copies(const struct vm_map_entry *e,
			      vm_pindex_t base, const struct object_pages *w)
{
	vm_pindex_t below = base - e->offset;

	for (vm_object_t o = e->object; o != w->obj; o = o->backing_object) {
		vm_object_take_copies(o, w->start > below ? w->start - below
							  : 0, w->copies);
		below -= o->backing_offset;
	}
}

/* map_object_pages for one entry e of map, whose first page shows page
 * base of the walk's object.  Both tokens held. */
static void entry_object_pages(struct vm_map *map, struct vm_map_entry *e,
			       vm_pindex_t base, const struct object_pages *w)
{
	vm_offset_t sva, eva;

	if (w->op == OBJECT_PAGES_WRITE_PROTECT) {
		if (e->object == w->obj && entry_window(e, base, w, &sva, &eva))
			pmap_protect(map->pmap, sva, eva,
				     e->protection & ~VM_PROT_WRITE);
		return;
	}
	if (entry_window(e, base, w, &sva, &eva))
		pmap_remove(map->pmap, sva, eva);
	entry_take_copies(e, base, w);
}

/*
 * The part of map that shows pages [start, end) of obj: out of its pmap,
 * or made read-only (one invalidation per entry, a shootdown when the
 * map is loaded on other CPUs).  Removal looks through shadow chains (a
 * private mapping maps the file's pages read-only, and its copies of
 * them go too); write protection needs only the entries whose own
 * object is obj, as no other may write its pages.  Entries are left as
 * they are: the next touch faults.
 */
static void map_object_pages(struct vm_map *map, const struct object_pages *w)
{
	struct vm_map_entry *e;

	lwkt_gettoken(&map->token);
	lwkt_gettoken(&vm_object_token);	/* the chains */
	TAILQ_FOREACH(e, &map->entries, link) {
		vm_pindex_t base;

		if (entry_reaches(e, w->obj, &base))
			entry_object_pages(map, e, base, w);
	}
	lwkt_reltoken(&vm_object_token);
	lwkt_reltoken(&map->token);
}

/* map_object_pages on every address space. */
static void every_map_object_pages(const struct object_pages *w)
{
	struct vmspace *vm;

	KASSERT(!lwkt_token_is_held(&vm_object_token),
		"vm_map_*_object_pages with vm_object_token held: the "
		"object token nests inside the map tokens it takes");
	lwkt_serialize_enter(&vmspaces_lock);
	TAILQ_FOREACH(vm, &vmspaces, vm_link)
		map_object_pages(&vm->vm_map, w);
	lwkt_serialize_exit(&vmspaces_lock);
}

/* A file cut at page from (vnode_pager_setsize; contract in
 * vm/vm_map.h): the window is open-ended, since an entry may map the
 * file beyond its old size too.  Only a file object is ever cut. */
void vm_map_remove_object_pages(vm_object_t obj, vm_pindex_t from,
				vm_page_t *copies)
{
	struct object_pages w = { .obj = obj, .start = from,
				  .end = (vm_pindex_t)-1,
				  .op = OBJECT_PAGES_REMOVE, .copies = copies };

	KASSERT(obj->type == OBJT_VNODE, "vm_map_remove_object_pages: "
		"object %p (type %d) is no file's; only a file is cut", obj,
		obj->type);
	every_map_object_pages(&w);
}

/* A write-back's step 2 (vm/vm_object.c; contract in vm/vm_map.h):
 * only the entries whose own object is obj lose the write right, as
 * only they were given it for obj's pages. */
void vm_map_protect_object_pages(vm_object_t obj, vm_pindex_t start,
				 vm_pindex_t end)
{
	struct object_pages w = { .obj = obj, .start = start, .end = end,
				  .op = OBJECT_PAGES_WRITE_PROTECT };

	every_map_object_pages(&w);
}

/* ----------------------------------------------------------------------- */
/* Filling fresh memory from the kernel.                                   */

/* The page of entry e at va in its own object, made if missing (NULL if
 * memory is short).  Both tokens held; e is private and fresh (no chain
 * to look through). */
static vm_page_t fill_page(struct vm_map_entry *e, vm_offset_t va)
{
	vm_pindex_t pindex = e->offset + atop(va - e->start);
	vm_page_t m;

	KASSERT(e->object->backing_object == NULL &&
			e->object->type == OBJT_DEFAULT,
		"vm_map_fill: only fresh anonymous entries can be filled");
	m = vm_page_lookup(e->object, pindex);
	return m != NULL ? m : vm_page_grab_zero(e->object, pindex);
}

/* Copy n bytes from `from` to va in map, all inside va's page: 0,
 * EFAULT (no entry there) or ENOMEM.  Both tokens held. */
static int fill_one(struct vm_map *map, vm_offset_t va, const char *from,
		    size_t n)
{
	struct vm_map_entry *e = vm_map_lookup_entry(map, va);
	vm_page_t m;

	if (e == NULL)
		return EFAULT;
	if (e->object == NULL)
		e->object = vm_object_allocate(atop(e->end - e->start));
	m = fill_page(e, va);
	if (m == NULL)
		return ENOMEM;
	memcpy((char *)vm_page_to_dmap(m) + (va & PAGE_MASK), from, n);
	return 0;
}

/*
 * The ELF loader's way into a new address space: len bytes from src
 * into map at va, page by page, whatever the entries' protection (text
 * is read-only to the process, not to its loader).  The pages land in
 * each entry's own object, so only fresh private anonymous entries may
 * be filled (fill_page asserts it): with a chain or a file below, the
 * bytes would have to go through copy-on-write.  Returns 0, EFAULT or
 * ENOMEM (the bytes before the failing page are in).  Thread context;
 * neither token held.
 */
int vm_map_fill(struct vm_map *map, vm_offset_t va, const void *src,
		size_t len)
{
	const char *from = src;
	int error = 0;

	lwkt_gettoken(&map->token);
	lwkt_gettoken(&vm_object_token);
	while (len > 0 && error == 0) {
		size_t n = MIN(len, PAGE_SIZE - (va & PAGE_MASK));

		error = fill_one(map, va, from, n);
		va += n;
		from += n;
		len -= n;
	}
	lwkt_reltoken(&vm_object_token);
	lwkt_reltoken(&map->token);
	return error;
}
