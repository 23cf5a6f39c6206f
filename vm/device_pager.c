/*
 * device_pager.c - the device pager: mapping a device's memory (registers,
 * a frame buffer, a page its driver owns) into a process.
 *
 * mmap of a device (kern/sys_mman.c) makes an OBJT_DEVICE object over
 * the range; the map entry names it as any entry names its object.  The
 * object holds no pages.  A fault in the range asks the driver which
 * physical page is there (d_mmap, include/kern/device.h) and enters
 * that address in the pmap, uncached if the driver says so:
 *
 *   mmap(fd of /dev/mem, len, off)   vm_object_device: d_mmap for every
 *        |                           page of [off, off + len) (or the
 *        |                           driver's d_mmap_range for all) -- a
 *        v                           page the device refuses fails mmap
 *   entry --> [OBJT_DEVICE, dev]     no pages, no chain, never shadowed
 *        |
 *   fault at va                      vm_fault_device: d_mmap(offset of
 *        v                           va, the entry's rights) -> pa, cache
 *   pmap_enter_attr(va -> pa)        the device's page itself
 *
 * Why no vm_page.  DragonFly's classic device pager (sys/vm/device_pager.c)
 * makes a "fictitious" struct vm_page for each device page and hangs it in
 * the object, because its pmap keeps per-page records (pv entries) of
 * every mapping.  Ours keeps none: a user pmap is a cache of the map and
 * looks at no vm_page (vm/pmap_user.c), so the fault can enter the
 * device's address directly.  That gives the device rules for free:
 *
 *   - a device page is never freed: the object has no pages to free, so
 *     munmap, exit and execve drop the mapping and the object only;
 *   - it is never counted as memory: the page allocator's and the
 *     objects' counters never see it;
 *   - it is never copied: mmap refuses MAP_PRIVATE of a device (EINVAL,
 *     as DragonFly does: "device mappings are shared"), so no shadow ever
 *     sits in front of a device object (vm_object_shadow asserts it), and
 *     fork shares the entry (VM_INHERIT_SHARE): the child faults in the
 *     same physical page.
 *
 * Each mmap makes its own object (DragonFly keeps one per device, to
 * find its fictitious pages again; there is nothing here to share).
 *
 * Locking: the fault runs under the map's token only; the object's
 * fields are fixed when it is made, and d_mmap must not block.
 */
#include <kern/types.h>
#include <kern/device.h>
#include <kern/errno.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <vm/vm_map.h>
#include <vm/vm_object.h>

#define CHECK_BATCH 256			/* pages checked between yields */

static uint64_t device_objects;		/* made: atomic */
static uint64_t device_faults;		/* pages entered: atomic */

/* The object for [off, off + len) of dev once the range is judged:
 * error 0 makes it (*objp), any other is returned. */
static int device_object(struct cdev *dev, uint64_t off, uint64_t len,
			 int error, vm_object_t *objp)
{
	vm_object_t obj;

	if (error != 0)
		return error;
	obj = vm_object_allocate_type(OBJT_DEVICE, (off + len) >> PAGE_SHIFT);
	obj->device = dev;
	__atomic_fetch_add(&device_objects, 1, __ATOMIC_RELAXED);
	*objp = obj;
	return 0;
}

int vm_object_device(struct cdev *dev, uint64_t off, uint64_t len, int prot,
		     vm_object_t *objp)
{
	int (*d_mmap)(struct cdev *, uint64_t, int, vm_paddr_t *, int *) =
		dev->si_devsw->d_mmap;

	KASSERT(((off | len) & PAGE_MASK) == 0 && len > 0,
		"vm_object_device: offset %#lx and length %#lx must be whole "
		"pages (mmap checks them)", off, len);
	if (d_mmap == NULL)
		return ENODEV;
	if (off + len < off)
		return ENXIO;
	if (dev->si_devsw->d_mmap_range != NULL)
		return device_object(dev, off, len,
				     dev->si_devsw->d_mmap_range(dev, off, len,
								 prot),
				     objp);
	/* Every page, as DragonFly checks: a long range takes long, so the
	 * CPU is offered to others now and then. */
	for (uint64_t o = off; o < off + len; o += PAGE_SIZE) {
		vm_paddr_t pa;
		int cache, error = d_mmap(dev, o, prot, &pa, &cache);

		if (error != 0)
			return error;
		if (((o - off) >> PAGE_SHIFT) % CHECK_BATCH == CHECK_BATCH - 1)
			lwkt_yield();
	}
	return device_object(dev, off, len, 0, objp);
}

/*
 * The fault at va (page aligned) in entry e of map, whose object is a
 * device's: enter the driver's page with the entry's rights.  A page the
 * driver refuses now (rights mprotect added that the device does not
 * allow, such as execute for /dev/mem) is a protection failure (SIGSEGV).
 * Returns a KERN_* code.  Map token held; does not block.
 */
int vm_fault_device(struct vm_map *map, struct vm_map_entry *e,
		    vm_offset_t va)
{
	struct cdev *dev = e->object->device;
	uint64_t off = (e->offset + ((va - e->start) >> PAGE_SHIFT))
		       << PAGE_SHIFT;
	vm_paddr_t pa;
	int cache;

	KASSERT(e->object->type == OBJT_DEVICE && !(e->eflags &
						    MAP_ENTRY_NEEDS_COPY),
		"vm_fault_device: entry [%#lx, %#lx) is not a shared device "
		"mapping", e->start, e->end);
	if (dev->si_devsw->d_mmap(dev, off, e->protection, &pa, &cache) != 0)
		return KERN_PROTECTION_FAILURE;
	if (pmap_enter_attr(map->pmap, va, pa, e->protection, cache) != 0)
		return KERN_RESOURCE_SHORTAGE;
	__atomic_fetch_add(&device_faults, 1, __ATOMIC_RELAXED);
	return KERN_SUCCESS;
}

void vm_device_pager_print_stats(void)
{
	kprintf("  device pager: %lu objects made, %lu pages entered\n",
		__atomic_load_n(&device_objects, __ATOMIC_RELAXED),
		__atomic_load_n(&device_faults, __ATOMIC_RELAXED));
}
