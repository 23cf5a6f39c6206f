/*
 * vm_fault.c - turning a page fault into a mapped page.
 *
 * The page tables are a cache of the VM map; a fault is a miss.  The
 * path, for a fault at va with access type fault_type:
 *
 *   trap (#PF) --> vm_fault(map, va, type)
 *     1. entry = the map entry containing va        none: INVALID_ADDRESS
 *        type not allowed by entry->protection?     PROTECTION_FAILURE
 *     2. a write to a NEEDS_COPY entry: give it a private shadow object
 *        now (or just clear the flag if nobody else shares the object);
 *        a device's object (never NEEDS_COPY, never private): the
 *        driver names the page, which is mapped -- done
 *        (vm/device_pager.c)
 *     3. walk the chain, top object first, at the page's pindex:
 *          resident page?          found
 *          file object?            read the page from the file: found
 *          backing object?         go down, pindex += backing_offset
 *          end of the chain        zero-fill a page in the top object
 *     4. found below the top and this is a write: copy it up into the
 *        top object (COW); found below on a read: map it read-only
 *     5. pmap_enter(va -> page, rights)
 *
 *        top (entry's object)   [   |   |   |   ]   <- COW copies land here
 *            backing            [ P |   | P |   ]   <- found on the way down
 *            backing (a file)   [ P | P | P | P ]   <- read in on demand
 *
 * The rights entered for a page found below the top, or in a top that is
 * still shared (NEEDS_COPY), never include write: the next write faults
 * again and takes step 2 or 4.
 *
 * Locking: the map's token (the process's), then vm_object_token.  A
 * file read blocks, which lets both tokens go for the duration; after it
 * the page may already be there (another process read it meanwhile): the
 * copy made second is dropped.
 *
 * One token is enough when the entry's object is *private to the map*:
 * anonymous, backed by nothing, and referenced only by this entry
 * (ref_count 1).  Nothing else can reach such an object -- no other map
 * entry, no shadow -- and a second reference can only be made by someone
 * holding this map's token (a clip, a fork), so the map token alone
 * serialises everything done to it, as DragonFly's per-object token
 * would, without a second acquisition.  A count above 1 may drop to 1
 * meanwhile (the other sharer exits); the fault then merely takes the
 * object token it did not need.  A fresh anonymous page (the zero-fill
 * fault of every heap and stack page) and every fault after a private
 * object's collapse take this path.
 *
 * Out of memory.  Every page a fault allocates -- a zero page, a COW
 * copy, a file page, a page table -- is the user's (VM_ALLOC_USER): when
 * only the kernel's reserve is left the allocation says NULL and the
 * fault KERN_RESOURCE_SHORTAGE, with nothing half done (a page is
 * inserted only once it exists).  The trap code kills the process with
 * SIGKILL and "out of memory"; its exit gives every page back.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/token.h>
#include <fs/vfs.h>
#include <vm/vm_map.h>
#include <vm/vnode_pager.h>

static struct vm_fault_stats fstats;	/* atomic updates */

#define atop(x) ((x) >> PAGE_SHIFT)
#define count(field) __atomic_fetch_add(&fstats.field, 1, __ATOMIC_RELAXED)

/* Is obj private to the map whose token the caller holds (see Locking
 * above)?  Read without the object token: a count of 1 cannot rise
 * without the map token.  The load acquires, so a count that fell to 1
 * when the other sharer let go also shows what that sharer wrote into
 * the object (a page it zero-filled there) under the token before. */
static inline bool object_private(vm_object_t obj)
{
	return obj->type == OBJT_DEFAULT && obj->backing_object == NULL &&
	       __atomic_load_n(&obj->ref_count, __ATOMIC_ACQUIRE) == 1;
}

/* Step 2: make the entry's object its own, for a write.  Map token held. */
static void entry_make_private(struct vm_map_entry *e)
{
	vm_object_t obj = e->object;

	if (obj == NULL) {
		e->object = vm_object_allocate(atop(e->end - e->start));
		e->offset = 0;
		return;
	}
	if (!(e->eflags & MAP_ENTRY_NEEDS_COPY))
		return;
	e->eflags &= ~MAP_ENTRY_NEEDS_COPY;
	if (obj->ref_count == 1 && obj->type == OBJT_DEFAULT) {
		count(cow_reuse);	/* the other sharers are gone */
		return;
	}
	e->object = vm_object_shadow(obj, e->offset, atop(e->end - e->start));
	e->offset = 0;
}

/*
 * Page pindex of file object obj, read from the file if it is not
 * resident (vm/vnode_pager.c, which keeps it coherent with read(2) and
 * write(2)).  Object token held (let go while the read blocks).  Returns
 * the page, or NULL with *error set: KERN_PAGER_ERROR for a page wholly
 * past the end of the file (SIGBUS) or on a read error,
 * KERN_RESOURCE_SHORTAGE when there is no page to read into.
 */
static vm_page_t pagein(vm_object_t obj, vm_pindex_t pindex, int *error)
{
	vm_page_t m = vnode_pager_getpage(obj, pindex, error);

	if (m != NULL)
		count(pagein);
	return m;
}

/* Step 3: the first page on the chain at pindex, and the object holding
 * it (*where); NULL at the end of the chain.  *error is set when a file
 * object cannot supply a page it should have.  Object token held. */
static vm_page_t chain_lookup(vm_object_t obj, vm_pindex_t pindex,
			      vm_object_t *where, int *error)
{
	for (; obj != NULL; obj = obj->backing_object) {
		vm_page_t m = vm_page_lookup(obj, pindex);

		if (m == NULL && obj->type == OBJT_VNODE) {
			m = pagein(obj, pindex, error);
			if (m == NULL)
				return NULL;
		}
		if (m != NULL) {
			*where = obj;
			return m;
		}
		pindex += obj->backing_offset;
	}
	return NULL;
}

/* Step 4, a write: copy page m into the top object at pindex; NULL when
 * memory is short. */
static vm_page_t cow_copy(vm_object_t top, vm_pindex_t pindex, vm_page_t m)
{
	vm_page_t copy = vm_page_alloc(VM_ALLOC_USER);

	if (copy == NULL)
		return NULL;
	memcpy(vm_page_to_dmap(copy), vm_page_to_dmap(m), PAGE_SIZE);
	vm_page_insert(copy, top, pindex);
	count(cow);
	return copy;
}

/* Steps 3 and 4: the page to map for e at va and the rights to map it
 * with (*prot).  Both tokens held, or the map token alone for an object
 * private to the map (object_private). */
static int fault_object(struct vm_map_entry *e, vm_offset_t va,
			int fault_type, vm_page_t *mp, int *prot)
{
	vm_object_t top = e->object, where = NULL;
	vm_pindex_t pindex = e->offset + atop(va - e->start);
	int error = KERN_SUCCESS;
	vm_page_t m = chain_lookup(top, pindex, &where, &error);

	*prot = e->protection;
	if (error != KERN_SUCCESS)
		return error;
	if (m == NULL) {
		m = vm_page_grab_zero(top, pindex);
		if (m == NULL)
			return KERN_RESOURCE_SHORTAGE;
		count(zfod);
	} else if (where != top && (fault_type & VM_PROT_WRITE)) {
		m = cow_copy(top, pindex, m);
		if (m == NULL)
			return KERN_RESOURCE_SHORTAGE;
		if (top->backing_object->ref_count == 1)
			vm_object_collapse(top);	/* the sharer is gone */
	} else if (where != top) {
		*prot &= ~VM_PROT_WRITE;
	} else if (top->type == OBJT_VNODE) {
		/* A shared file mapping: a write marks the page for
		 * write-back; a read maps it read-only until it is marked,
		 * so the first write comes here -- and so does the first
		 * after a write-back, which takes the mark and the write
		 * right away (vm/vm_object.c). */
		if (fault_type & VM_PROT_WRITE)
			m->flags |= PG_MDIRTY;
		else if (!(m->flags & PG_MDIRTY))
			*prot &= ~VM_PROT_WRITE;
	}
	if (e->eflags & MAP_ENTRY_NEEDS_COPY)
		*prot &= ~VM_PROT_WRITE;
	*mp = m;
	return KERN_SUCCESS;
}

/* Steps 3-4 for an object private to the map (object_private): it has
 * no chain and no file, so its page is there or is a new zero page, and
 * the entry's rights apply (less write while NEEDS_COPY: a fork's other
 * side may have gone, leaving the count at 1 and the flag set).  NULL
 * when there is no page for it.  Map token held. */
static vm_page_t fault_private(struct vm_map_entry *e, vm_offset_t va,
			       int *prot)
{
	vm_pindex_t pindex = e->offset + atop(va - e->start);
	vm_page_t m = vm_page_lookup(e->object, pindex);

	if (m == NULL) {
		m = vm_page_grab_zero(e->object, pindex);
		if (m == NULL)
			return NULL;
		count(zfod);
	}
	*prot = e->protection;
	if (e->eflags & MAP_ENTRY_NEEDS_COPY)
		*prot &= ~VM_PROT_WRITE;
	return m;
}

/* Count a fault that ends in a signal (or, out of memory, a kill). */
static __attribute__((noinline, cold)) void fault_failed(int error)
{
	count(failed);
	if (error == KERN_RESOURCE_SHORTAGE)
		count(oom);
}

/* A fault's result, counted: failed, and out of memory among those. */
static inline int fault_counted(int error)
{
	if (__predict_false(error != KERN_SUCCESS))
		fault_failed(error);
	return error;
}

int vm_fault(struct vm_map *map, vm_offset_t va, int fault_type)
{
	struct vm_map_entry *e;
	vm_page_t m = NULL;
	int prot = 0, error;
	bool shared;

	count(faults);
	va &= ~PAGE_MASK;
	lwkt_gettoken(&map->token);
	e = vm_map_lookup_entry(map, va);
	if (e == NULL || (fault_type & ~e->protection)) {
		lwkt_reltoken(&map->token);
		count(failed);
		return e == NULL ? KERN_INVALID_ADDRESS
				 : KERN_PROTECTION_FAILURE;
	}
	if ((fault_type & VM_PROT_WRITE) || e->object == NULL)
		entry_make_private(e);	/* a device entry: nothing to do */
	shared = !object_private(e->object);
	if (shared) {
		if (__predict_false(e->object->type == OBJT_DEVICE)) {
			/* The driver's page: no object pages, no chain, no
			 * copy, no object token (vm/device_pager.c). */
			error = vm_fault_device(map, e, va);
			lwkt_reltoken(&map->token);
			return fault_counted(error);
		}
		lwkt_gettoken(&vm_object_token);
		error = fault_object(e, va, fault_type, &m, &prot);
	} else {
		m = fault_private(e, va, &prot);
		error = m != NULL ? KERN_SUCCESS : KERN_RESOURCE_SHORTAGE;
	}
	if (error == KERN_SUCCESS &&
	    pmap_enter(map->pmap, va, VM_PAGE_TO_PHYS(m), prot) != 0)
		error = KERN_RESOURCE_SHORTAGE;
	if (shared)
		lwkt_reltoken(&vm_object_token);
	lwkt_reltoken(&map->token);
	return fault_counted(error);
}

void vm_fault_get_stats(struct vm_fault_stats *st)
{
	*st = fstats;
}

void vm_user_print_stats(void)
{
	struct vm_object_stats os;
	struct pmap_user_stats ps;
	struct vnode_pager_stats vs;

	vm_object_get_stats(&os);
	vnode_pager_get_stats(&vs);
	pmap_user_get_stats(&ps);
	kprintf("  vm objects: %lu (%lu pages), %lu shadows made, %lu "
		"collapsed, %lu file pages written back\n", os.objects,
		os.pages, os.shadows, os.collapses, os.cleaned);
	kprintf("  faults: %lu (%lu zero-fill, %lu copy-on-write, %lu reused, "
		"%lu file pages, %lu failed, %lu out of memory)\n",
		fstats.faults, fstats.zfod, fstats.cow, fstats.cow_reuse,
		fstats.pagein, fstats.failed, fstats.oom);
	kprintf("  mapped files: %lu reads (%lu resident pages laid over), "
		"%lu writes (%lu resident pages updated), %lu size changes "
		"(%lu pages past the new end dropped, %lu private copies of "
		"them), %lu faults past the end\n", vs.reads, vs.read_pages,
		vs.writes, vs.written_pages, vs.resizes, vs.truncated_pages,
		vs.truncated_copies, vs.past_eof);
	kprintf("  user pmaps: %lu table pages, %lu enters, %lu invalidations "
		"(%lu shootdowns)\n", ps.ptpages, ps.enters, ps.invalidations,
		ps.shootdowns);
	vm_device_pager_print_stats();
}
