/*
 * vm/vnode_pager.h - a mapped file's pages and the file system calls
 * kept coherent (vm/vnode_pager.c; docs/vm.md section 6).
 *
 * While a regular file is mapped its vnode has an object (v_object)
 * whose resident pages are what every MAP_SHARED mapping sees.  The
 * filesystem's read and write see the same bytes because:
 *
 *   read(2)    reads the filesystem, then lays the object's resident
 *              pages over what it read (vnode_pager_read)
 *   write(2)   writes the filesystem, then copies the bytes into the
 *              resident pages (vnode_pager_written)
 *   truncate   zeroes the resident bytes between the old and the new
 *              end of the file (vnode_pager_setsize)
 *   page-in    reads the filesystem (vnode_pager_getpage)
 *
 * and the last three, with the object's write-back, hold the vnode's
 * v_iolock, so a page is never read in the middle of a write and never
 * written back with bytes older than a write(2) that already returned.
 *
 * The rule this keeps: every byte of a resident page below the end of
 * the file is the file's byte -- what read(2) returns.  (Bytes of the
 * last page past the end may hold a mapping's stores; they are zeroed
 * whenever the end of the file moves over them, as the filesystem reads
 * zeros there.)
 */
#ifndef VM_VNODE_PAGER_H
#define VM_VNODE_PAGER_H

#include <kern/types.h>
#include <vm/vm_object.h>

struct vnode;

/*
 * The page at pindex of vnode object obj, read from the file and
 * inserted if it is not resident (a user page, VM_ALLOC_USER); NULL
 * with *error KERN_PAGER_ERROR when the page is wholly past the end of
 * the file (pindex at or past its size rounded up to a page, as the
 * filesystem says now) or on a read error, KERN_RESOURCE_SHORTAGE when
 * no page is left.  Takes and lets go of the vnode's v_iolock (so the
 * caller must not hold it).  Thread context; blocks.  vm_object_token held (let
 * go while blocked: the caller looks again after); the caller's
 * reference keeps obj alive.
 */
vm_page_t vnode_pager_getpage(vm_object_t obj, vm_pindex_t pindex,
			      int *error);

/*
 * read(2) of a mapped regular file: up to len bytes at off into buf
 * (kernel memory) from the filesystem, with each resident page of the
 * vnode's object copied over its part; *done as vop_read's.  Returns
 * vop_read's error.  Thread context; blocks; no locks held.
 */
int vnode_pager_read(struct vnode *vp, uint64_t off, void *buf, size_t len,
		     size_t *done);

/*
 * After a successful write of len bytes at off to vp, when the file was
 * old_size bytes long before it: the object's resident pages get the
 * bytes, and the resident bytes between old_size and off (a hole the
 * write left) become zeros.  A no-op when vp has no object.  Caller
 * holds vp->v_iolock (since before the write).  Thread context; does not
 * block.
 */
void vnode_pager_written(struct vnode *vp, uint64_t off, const void *buf,
			 size_t len, uint64_t old_size);

/*
 * After vp's size changed from old_size to new_size (a truncation or
 * an extension): the resident bytes between the two become zeros, as
 * the filesystem reads them; and after a truncation the resident pages
 * wholly past the new end, and the private copies shadows made of them,
 * leave their objects and every pmap that maps them
 * (vm_map_remove_object_pages) and are freed, so that the next touch of
 * one faults and gets SIGBUS.  A no-op when vp has no object.
 * Caller holds vp->v_iolock (since before the change) and no token.
 * Thread context; may block (the walk of every address space).
 */
void vnode_pager_setsize(struct vnode *vp, uint64_t old_size,
			 uint64_t new_size);

/* What the coherence paths did, for vmstat and the tests. */
struct vnode_pager_stats {
	uint64_t reads;			/* read(2)s of mapped files */
	uint64_t read_pages;		/* resident pages laid over them */
	uint64_t writes;		/* write(2)s into mapped files */
	uint64_t written_pages;		/* resident pages they updated */
	uint64_t resizes;		/* size changes of mapped files */
	uint64_t truncated_pages;	/* resident pages a shrink dropped */
	uint64_t truncated_copies;	/* private copies of those dropped */
	uint64_t past_eof;		/* faults wholly past the end (SIGBUS) */
};
void vnode_pager_get_stats(struct vnode_pager_stats *st);

#endif /* VM_VNODE_PAGER_H */
