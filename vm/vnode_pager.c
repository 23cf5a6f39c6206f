/*
 * vnode_pager.c - a mapped file's pages, and read(2), write(2) and
 * truncate kept coherent with them.
 *
 * A regular file that is mapped has one object (the vnode's v_object,
 * vm/vm_object.c), and its resident pages are what every MAP_SHARED
 * mapping reads and stores into.  The filesystem keeps its own copy of
 * the file in the buffer cache.  Two copies can disagree: a store
 * through a mapping is only in the page until the page is written back,
 * and a write(2) is only in the buffer cache unless somebody also puts
 * it into the page.  POSIX wants one file, so the file system calls of a
 * mapped file go past the object:
 *
 *                        read(2)                 write(2)
 *                           |                       |
 *                  filesystem read           filesystem write
 *                  (buffer cache)            (buffer cache)
 *                           |                       |
 *               resident pages copied     bytes copied into the
 *               over the bytes read       resident pages
 *                           |                       |
 *                        user                    return
 *
 *   page-in (a fault on a page that is not resident): filesystem read,
 *   or a failure if the page is wholly past the end of the file
 *   write-back (msync, sync, unmount, last unmap): the marked pages,
 *   whole, through the filesystem's write (vm_object_clean)
 *
 * So the page is the newest copy of every byte it holds: the buffer
 * cache has every write(2), the page has every write(2) and every
 * store.  A page that is not resident has no stores, and the buffer
 * cache has all of it.  This is the invariant, and what read(2) relies
 * on: every byte of a resident page below the end of the file is the
 * file's byte.
 *
 * Ordering.  Three things fetch or put a page's bytes while blocked:
 * a write(2) (the filesystem write, then the copy into the page), a
 * page-in (the filesystem read, then the insert), and a write-back (the
 * filesystem write of the page).  Interleaved they break the invariant:
 * a page-in that reads the file before a write(2) and inserts after it
 * would keep old bytes for good; a write-back that copies the page
 * before a write(2)'s copy and writes after the write(2)'s filesystem
 * write puts old bytes on the disk.  So all three -- and a truncation --
 * hold the vnode's v_iolock (a serializer) from start to end; read(2)
 * needs none, as a read racing a write may see either.  The order of
 * locks is v_iolock, then vm_object_token (a token: let go while its
 * holder sleeps, so a fault waiting for v_iolock blocks nobody), then
 * the filesystem's own.
 *
 * The end of the file.  As on Linux, a page wholly past the end of the
 * file is not there: a fault on it fails (the fault path makes that
 * SIGBUS, BUS_ADRERR), whether the mapping was longer than the file
 * from the start or the file shrank under it; the part of the last page
 * past the end reads zeros, and stores there never reach the file.  The
 * page-in asks the filesystem for the size under v_iolock, so it cannot
 * race a truncation.  A truncation must also take away the pages that
 * are already resident past the new end, and every mapping of them.
 * There are no reverse maps (a user pmap records nothing per page), so
 * it does it in three steps, under v_iolock:
 *
 *   1. under the token, the pages past the end leave the object
 *      (vm_object_truncate): from now on no fault can find them, and a
 *      fault that found one before has already entered it in its pmap
 *   2. every address space is walked (vm_map_remove_object_pages), and
 *      each entry whose chain reaches the object has the range past the
 *      end taken out of its pmap -- one invalidation per entry, a
 *      shootdown when the map runs on other CPUs; the shadows on such a
 *      chain give up their private copies of pages past the end
 *   3. the pages, the file's and the copies, are freed: nothing maps
 *      them any more
 *
 *      MAP_PRIVATE entry --> [shadow: 0' 2'] --> [file: 0 1 2]
 *      cut to one page:       [shadow: 0'   ] --> [file: 0    ]
 *
 * So a private mapping loses its copies past the end with the file's
 * pages, as on Linux (whose truncation unmaps "even COWs"): a touch
 * there is SIGBUS too, in the process that copied the page and in every
 * child that shares its shadow.  Copies below the end stay the
 * mapping's own, the last page's bytes past the end included.  Walking
 * every map is the simple way, not the fast one; it happens only when a
 * mapped file shrinks and had resident pages past the new end (a copy
 * is made from a resident page of the file, which stays until a
 * truncation takes it: no such page, no such copy).
 *
 * A file without an object pays one test of v_object on read and the
 * uncontended serializer on write: its data is in the buffer cache only.
 *
 * DragonFly goes further: its buffer cache is made of the VM object's
 * pages (B_VMIO), so there is only one copy.  Here the buffer cache is
 * the filesystem's (blocks of a device, fs/bio.c), and the object keeps
 * pages only while the file is mapped.
 */
#include <kern/types.h>
#include <kern/kernel.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/serialize.h>
#include <kern/token.h>
#include <fs/vfs.h>
#include <vm/vm_map.h>
#include <vm/vnode_pager.h>

static struct vnode_pager_stats vpstats;	/* atomic updates */

#define count(field, n) \
	__atomic_fetch_add(&vpstats.field, (n), __ATOMIC_RELAXED)

enum copy_dir {
	PAGES_TO_BUF,		/* read(2): the pages win */
	BUF_TO_PAGES,		/* write(2): the pages get the bytes */
	ZERO_PAGES,		/* a size change: the pages read zeros */
};

/*
 * Copy between buf and the resident pages of obj in the byte range
 * [off, off + len) as dir says; pages that are not resident are skipped
 * (buf's part of them is left alone).  Returns the pages touched.
 * Token held; does not block.  Only pages below obj->size can be
 * resident (getpage and the size changes below keep it so), which
 * bounds the walk.
 */
static uint64_t resident_copy(vm_object_t obj, uint64_t off, char *buf,
			      uint64_t len, enum copy_dir dir)
{
	uint64_t end = MIN(off + len, obj->size << PAGE_SHIFT), n = 0;

	for (; off < end; ) {
		uint64_t in = off & PAGE_MASK;
		uint64_t chunk = MIN(end - off, PAGE_SIZE - in);
		vm_page_t m = vm_page_lookup(obj, off >> PAGE_SHIFT);

		if (m != NULL) {
			char *p = (char *)vm_page_to_dmap(m) + in;

			if (dir == PAGES_TO_BUF)
				memcpy(buf, p, chunk);
			else if (dir == BUF_TO_PAGES)
				memcpy(p, buf, chunk);
			else
				memset(p, 0, chunk);
			n++;
		}
		off += chunk;
		if (buf != NULL)
			buf += chunk;
	}
	return n;
}

/* Let obj cover the file up to size bytes.  Token held. */
static void object_cover(vm_object_t obj, uint64_t size)
{
	obj->size = MAX(obj->size, roundup2(size, PAGE_SIZE) >> PAGE_SHIFT);
}

/* ----------------------------------------------------------------------- */
/* Page-in.                                                                */

/* Is page pindex wholly past the end of vp's file (or its size
 * unknown)?  The part of the last page past the end is not: it reads
 * zeros.  v_iolock held, so the size cannot change under the answer. */
static bool page_past_eof(struct vnode *vp, vm_pindex_t pindex)
{
	struct vattr va;

	if (vp->v_ops->vop_getattr(vp, &va) != 0)
		return true;
	return pindex >= roundup2(va.va_size, PAGE_SIZE) >> PAGE_SHIFT;
}

/* Read page pindex of obj's file into a new page and insert it; NULL
 * with *error set (see vnode_pager_getpage).  v_iolock and the token
 * held (the token is let go while the read blocks).  A read that comes
 * back short leaves zeros in the rest of the page. */
static vm_page_t page_read(vm_object_t obj, vm_pindex_t pindex, int *error)
{
	struct vnode *vp = obj->vnode;
	vm_page_t m;
	size_t done = 0;

	if (page_past_eof(vp, pindex)) {
		count(past_eof, 1);
		*error = KERN_PAGER_ERROR;	/* SIGBUS, BUS_ADRERR */
		return NULL;
	}
	m = vm_page_alloc(VM_ALLOC_ZERO | VM_ALLOC_USER);
	if (m == NULL) {
		*error = KERN_RESOURCE_SHORTAGE;
		return NULL;
	}
	if (vp->v_ops->vop_read(vp, pindex << PAGE_SHIFT, vm_page_to_dmap(m),
				PAGE_SIZE, &done) != 0) {
		vm_page_free(m);
		*error = KERN_PAGER_ERROR;	/* a read error: SIGBUS */
		return NULL;
	}
	/* Nobody else reads pages of this file in: v_iolock. */
	vm_page_insert(m, obj, pindex);
	object_cover(obj, (pindex + 1) << PAGE_SHIFT);
	return m;
}

vm_page_t vnode_pager_getpage(vm_object_t obj, vm_pindex_t pindex,
			      int *error)
{
	struct vnode *vp = obj->vnode;
	vm_page_t m;

	KASSERT(obj->type == OBJT_VNODE && vp != NULL, "vnode_pager_getpage: "
		"object %p (type %d) is no file's", obj, obj->type);
	KASSERT(lwkt_token_is_held(&vm_object_token),
		"vnode_pager_getpage without vm_object_token");
	lwkt_serialize_enter(&vp->v_iolock);
	/* Waiting may have let another fault read it in. */
	m = vm_page_lookup(obj, pindex);
	if (m == NULL)
		m = page_read(obj, pindex, error);
	lwkt_serialize_exit(&vp->v_iolock);
	return m;
}

/* ----------------------------------------------------------------------- */
/* The file system calls.                                                  */

int vnode_pager_read(struct vnode *vp, uint64_t off, void *buf, size_t len,
		     size_t *done)
{
	int error = vp->v_ops->vop_read(vp, off, buf, len, done);
	vm_object_t obj;

	KASSERT(vp->v_type == VREG, "vnode_pager_read: vnode %p is not a "
		"regular file", vp);
	if (*done == 0)
		return error;
	lwkt_gettoken(&vm_object_token);
	obj = vp->v_object;		/* it may have gone meanwhile */
	if (obj != NULL) {
		count(reads, 1);
		count(read_pages, resident_copy(obj, off, buf, *done,
						PAGES_TO_BUF));
	}
	lwkt_reltoken(&vm_object_token);
	return error;
}

void vnode_pager_written(struct vnode *vp, uint64_t off, const void *buf,
			 size_t len, uint64_t old_size)
{
	vm_object_t obj;

	KASSERT(lwkt_serialize_held(&vp->v_iolock), "vnode_pager_written: "
		"the write did not hold the vnode's v_iolock, so a page-in or "
		"write-back may have come between it and this copy");
	lwkt_gettoken(&vm_object_token);
	obj = vp->v_object;
	if (obj != NULL) {
		/* A hole between the old end and the write reads zeros;
		 * the last page may hold stores past the old end. */
		if (off > old_size)
			resident_copy(obj, old_size, NULL, off - old_size,
				      ZERO_PAGES);
		count(writes, 1);
		count(written_pages, resident_copy(obj, off, (char *)buf, len,
						   BUF_TO_PAGES));
		object_cover(obj, off + len);
	}
	lwkt_reltoken(&vm_object_token);
}

/* Free the pages a truncation took out of their objects (the file's,
 * vm_object_truncate, or the shadows', vm_object_take_copies), chained
 * through hnext; they are mapped nowhere any more.  Returns how many. */
static uint64_t pages_free(vm_page_t m)
{
	uint64_t n = 0;

	while (m != NULL) {
		vm_page_t next = m->hnext;

		m->hnext = NULL;
		vm_page_free(m);
		m = next;
		n++;
	}
	return n;
}

void vnode_pager_setsize(struct vnode *vp, uint64_t old_size,
			 uint64_t new_size)
{
	vm_pindex_t end = roundup2(new_size, PAGE_SIZE) >> PAGE_SHIFT;
	vm_page_t gone = NULL, copies = NULL;
	vm_object_t obj;

	KASSERT(lwkt_serialize_held(&vp->v_iolock), "vnode_pager_setsize: "
		"the size change did not hold the vnode's v_iolock");
	lwkt_gettoken(&vm_object_token);
	obj = vp->v_object;
	if (obj != NULL) {
		uint64_t lo = MIN(old_size, new_size);

		count(resizes, 1);
		resident_copy(obj, lo, NULL, MAX(old_size, new_size) - lo,
			      ZERO_PAGES);
		object_cover(obj, new_size);
		if (new_size < old_size)
			gone = vm_object_truncate(obj, end);
	}
	lwkt_reltoken(&vm_object_token);
	/* A private copy is made from the file's page, which stays in the
	 * object until a truncation takes it and the copies with it: with
	 * none of the file's pages resident past the end, there is no copy
	 * of one either. */
	if (gone == NULL)
		return;
	/* No fault can find those pages now (a page-in waits for
	 * v_iolock, then finds the new end), and none can copy them again;
	 * those already mapped, and the private copies made of them, leave
	 * every pmap before they are freed.  obj cannot go meanwhile: its
	 * end (object_terminate) waits for v_iolock too. */
	vm_map_remove_object_pages(obj, end, &copies);
	count(truncated_pages, pages_free(gone));
	count(truncated_copies, pages_free(copies));
}

void vnode_pager_get_stats(struct vnode_pager_stats *st)
{
	st->reads = __atomic_load_n(&vpstats.reads, __ATOMIC_RELAXED);
	st->read_pages = __atomic_load_n(&vpstats.read_pages,
					 __ATOMIC_RELAXED);
	st->writes = __atomic_load_n(&vpstats.writes, __ATOMIC_RELAXED);
	st->written_pages = __atomic_load_n(&vpstats.written_pages,
					    __ATOMIC_RELAXED);
	st->resizes = __atomic_load_n(&vpstats.resizes, __ATOMIC_RELAXED);
	st->truncated_pages = __atomic_load_n(&vpstats.truncated_pages,
					      __ATOMIC_RELAXED);
	st->truncated_copies = __atomic_load_n(&vpstats.truncated_copies,
					       __ATOMIC_RELAXED);
	st->past_eof = __atomic_load_n(&vpstats.past_eof, __ATOMIC_RELAXED);
}
