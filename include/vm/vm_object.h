/*
 * vm/vm_object.h - VM objects: what a range of user memory is made of
 * (vm/vm_object.c; docs/vm.md).
 *
 * An object is a sparse array of pages indexed by page number (pindex),
 * filled on demand by whoever faults on it.  Where a page comes from when
 * it is not resident depends on the object's type:
 *
 *   OBJT_DEFAULT  anonymous memory: a missing page is a zero page
 *   OBJT_VNODE    a file: a missing page is read from the file (its pages
 *                 and read(2)/write(2) are kept coherent: vnode_pager.h)
 *   OBJT_DEVICE   a device's memory (vm/device_pager.c): it holds no
 *                 pages at all; each fault asks the driver which
 *                 physical page to map, and that page stays the driver's
 *
 * Copy-on-write uses *shadow* objects.  A private view of an object is a
 * new anonymous object whose backing_object is the original: a fault
 * looks in the shadow first, then down the chain; a write copies the page
 * it found below up into the shadow, so the original never changes.
 *
 *   map entry --> [shadow S2] --backing--> [shadow S1] --backing--> [O]
 *                  pages the                pages written            the
 *                  child wrote              before the fork          file
 *
 * Chains are kept short by vm_object_collapse(): when a backing object is
 * referenced only by its one shadow, its pages move up into the shadow
 * and it disappears from the chain.
 *
 * Pages.  Each resident page records its object and pindex (struct
 * vm_page's object and pindex fields) and sits in its object's hash
 * table, chained through its hnext field.  The object owns the page: the
 * page is freed when the object dies or gives it up.
 *
 * Locking.  All objects share one LWKT token, vm_object_token: chains are
 * walked and changed under it, and it is dropped (automatically) across
 * a block, such as reading a file page, after which the walker looks
 * again.  Reference counts are changed under the token too.  One
 * exception: an anonymous object with no backing object and one
 * reference, its map entry's, can be reached only through that entry, so
 * the map's token serialises it and the fault path looks up and inserts
 * its pages under the map token alone ("Token held" below then means
 * either).
 */
#ifndef VM_VM_OBJECT_H
#define VM_VM_OBJECT_H

#include <kern/types.h>
#include <kern/queue.h>
#include <kern/token.h>
#include <vm/vm_page.h>

typedef uint64_t vm_pindex_t;

enum vm_object_type {
	OBJT_DEFAULT,	/* anonymous, zero-fill */
	OBJT_VNODE,	/* pages of a file (vo_vnode) */
	OBJT_DEVICE,	/* a device's pages, never resident (device) */
	OBJT_DEAD,	/* being torn down */
};

struct vnode;
struct cdev;

struct vm_object {
	enum vm_object_type type;
	int ref_count;			/* map entries + shadows: token */
	int shadow_count;		/* objects whose backing this is: token */
	vm_pindex_t size;		/* in pages */
	struct vm_object *backing_object; /* next in the chain, or NULL */
	vm_pindex_t backing_offset;	/* our pindex 0 is its pindex this */
	/* Resident pages, hashed by pindex: token. */
	vm_page_t *hash;
	unsigned hash_mask;		/* buckets - 1 (a power of two - 1) */
	uint64_t resident_page_count;
	struct vnode *vnode;		/* OBJT_VNODE: referenced */
	TAILQ_ENTRY(vm_object) vnode_link; /* OBJT_VNODE: vnode_objects */
	uint64_t clean_pass;		/* vm_object_clean_mount's: token */
	struct cdev *device;		/* OBJT_DEVICE: whose pages; fixed */
};
typedef struct vm_object *vm_object_t;

/* The one token that protects every object (see above). */
extern struct lwkt_token vm_object_token;

/*
 * A new anonymous object of size pages with one reference.  Thread
 * context; may block for memory (never returns NULL).
 */
vm_object_t vm_object_allocate(vm_pindex_t size);

/*
 * The object of regular file vp, referenced: the vnode's own (vp's
 * v_object), made at the first mapping and shared by every later one
 * while any is left, so every MAP_SHARED mapping of the file sees the
 * same pages and a MAP_PRIVATE one shadows them.  It holds a reference
 * on vp and leaves v_object when its last reference goes (after writing
 * its dirty pages back).  Sized to cover file_size, the file's size now.
 * Thread context; may block.
 */
vm_object_t vm_object_vnode(struct vnode *vp, uint64_t file_size);

/*
 * A device object for a MAP_SHARED mapping of len bytes (page aligned)
 * of device dev from byte off (page aligned) with prot: every page of
 * the range is first checked with the driver's d_mmap, so a range the
 * device refuses fails here, never at a fault.  Returns 0 and *objp
 * (one reference), or d_mmap's error (ENXIO, EACCES, ...), or ENODEV
 * if the device cannot be mapped.  Thread context (vm/device_pager.c).
 */
int vm_object_device(struct cdev *dev, uint64_t off, uint64_t len, int prot,
		     vm_object_t *objp);

/* A new object of type with size pages and one reference, holding
 * nothing (the pagers' constructor).  Thread context; may block. */
vm_object_t vm_object_allocate_type(enum vm_object_type type,
				    vm_pindex_t size);

/* Add a reference.  Caller holds the token or another reference. */
void vm_object_reference(vm_object_t obj);

/*
 * Drop a reference; the last one frees the object, its pages and its
 * reference on the backing object (and so on down the chain).  Every
 * mapping of its pages must already be gone.  Thread context.
 */
void vm_object_deallocate(vm_object_t obj);

/*
 * A shadow of obj for a private, writable view starting at pindex
 * offset: a new anonymous object of size pages whose backing object is
 * obj.  Takes over the caller's reference on obj.  Thread context.
 */
vm_object_t vm_object_shadow(vm_object_t obj, vm_pindex_t offset,
			     vm_pindex_t size);

/*
 * Merge backing objects referenced only by obj into obj, as far down the
 * chain as that holds (anonymous backing objects only).  Caller holds
 * the token and a reference on obj.
 */
void vm_object_collapse(vm_object_t obj);

/*
 * Write back the pages of file object obj in [start, end) that a shared
 * mapping wrote (PG_MDIRTY) through the filesystem -- into its buffer
 * cache -- each clipped to the file's current size; with sync, then
 * vop_fsync.  The pages stay resident but are marked clean, and every
 * mapping that could write them loses the right to
 * (vm_map_protect_object_pages), so the next store faults and marks the
 * page again: a second clean with no store between writes nothing.  A
 * page whose write fails stays marked.  Returns 0 or the first error.
 * A no-op for an anonymous object.  Thread context; blocks; neither the
 * token nor a map token other than the caller's own map's held.
 */
int vm_object_clean(vm_object_t obj, vm_pindex_t start, vm_pindex_t end,
		    bool sync);

/*
 * File object obj now ends at page size (its file was truncated): every
 * resident page at or past size leaves the object, which shrinks to
 * size pages.  Returns those pages, still allocated, chained through
 * hnext: they may still be mapped, so the caller takes them out of every
 * pmap before it frees them (vnode_pager_setsize).  Token held; does not
 * block.
 */
vm_page_t vm_object_truncate(vm_object_t obj, vm_pindex_t size);

/*
 * Shadow object shadow's own pages at or past its page from -- the
 * private copies a mapping made of file pages that a truncation has
 * now cut off -- leave it and are chained onto *gone through hnext,
 * still allocated: they may be mapped in more than one pmap (a fork
 * shares the shadow), so the caller frees them only once every pmap has
 * lost them (vm_map_remove_object_pages, vnode_pager_setsize).  Token
 * held; does not block.
 */
void vm_object_take_copies(vm_object_t shadow, vm_pindex_t from,
			   vm_page_t *gone);

/* The hash bucket of pindex in obj: a multiplicative hash, so runs of
 * pages spread. */
static inline unsigned vm_object_bucket(vm_object_t obj, vm_pindex_t pindex)
{
	return (unsigned)((pindex * 0x9e3779b97f4a7c15UL) >> 32) &
	       obj->hash_mask;
}

/*
 * Write back the dirty pages of every file object on mount mp (the
 * objects of its mapped files), as msync would: the filesystem's sync and
 * unmount call this first, so that a store through a MAP_SHARED mapping
 * reaches the disk without msync even while the file is still mapped.
 * Returns 0 or the first error.  Thread context; blocks; token not held.
 */
struct mount;
int vm_object_clean_mount(struct mount *mp);

/*
 * Write back the dirty pages of regular file vp's object, if it is
 * mapped (fsync asks this before the filesystem's own sync); an object
 * being freed is waited for, as its own write-back is under way.
 * Returns 0 or the first error.  Thread context; blocks; token not held.
 */
int vm_object_clean_vnode(struct vnode *vp);

/* The resident page at pindex, or NULL.  Token held.  (Inline: every
 * fault makes one lookup per object of its chain.) */
static inline vm_page_t vm_page_lookup(vm_object_t obj, vm_pindex_t pindex)
{
	vm_page_t m = obj->hash[vm_object_bucket(obj, pindex)];

	while (m != NULL && m->pindex != pindex)
		m = m->hnext;
	return m;
}

/*
 * Put page m (allocated, not in any object) into obj at pindex, which
 * must be free.  Token held.  May grow the hash table (kmalloc).
 */
void vm_page_insert(vm_page_t m, vm_object_t obj, vm_pindex_t pindex);

/* Take m out of its object (it stays allocated).  Token held. */
void vm_page_remove(vm_page_t m);

/*
 * Allocate a page for obj at pindex, zeroed, and insert it.  pindex must
 * be free: the caller has looked it up (vm_page_lookup) under the lock it
 * still holds; only the checked kernel looks again.  Token held.  The
 * page is a user program's (VM_ALLOC_USER): NULL, nothing inserted, when
 * memory is down to the kernel's reserve.
 */
vm_page_t vm_page_grab_zero(vm_object_t obj, vm_pindex_t pindex);

/* Objects and their pages, for leak checks and vmstat. */
struct vm_object_stats {
	uint64_t objects;		/* alive now */
	uint64_t pages;			/* resident in them */
	uint64_t collapses;		/* backing objects merged away */
	uint64_t shadows;		/* shadow objects made */
	uint64_t cleaned;		/* file pages written back */
};
void vm_object_get_stats(struct vm_object_stats *st);

#endif /* VM_VM_OBJECT_H */
