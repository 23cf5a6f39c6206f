/*
 * vm/vm_physmap.h - from the boot loader's memory map to the segments of
 * RAM the page allocator manages (vm/vm_physmap.c; docs/memory.md).
 *
 * A segment is a run of whole pages that the map says are RAM and nothing
 * else claims, inside one memory domain.  vm_physmap_next() hands them out
 * in address order, one per call, without storing anything: the map may
 * be as long as the boot loader likes.
 */
#ifndef VM_VM_PHYSMAP_H
#define VM_VM_PHYSMAP_H

#include <kern/types.h>
#include <boot/multiboot2.h>
#include <machine/param.h>

/* The first MiB belongs to the firmware (and, later, the AP start-up
 * code): never managed. */
#define LOW_MEMORY_END 0x100000UL

/* No physical address reaches this: 52 bits is the most MAXPHYADDR can
 * be (Intel SDM vol. 3A, 4.1.4).  Map entries are clipped to it, so that
 * no end can wrap around 2^64. */
#define PHYS_ADDR_LIMIT (1UL << 52)

/* A half-open physical range [start, end). */
struct vm_range {
	vm_paddr_t start, end;
};

/* One memory domain's range, as the SRAT gives it. */
struct vm_domain_range {
	vm_paddr_t base, len;
	int dom;
};

/* What vm_physmap_next() returns: [start, end), page aligned, domain. */
struct vm_physmap_seg {
	vm_paddr_t start, end;
	int domain;
};

/*
 * The lowest run of usable pages at or above from: pages at or above
 * LOW_MEMORY_END, wholly inside some "available" entry of bi's map, and
 * touched by no entry of any other type.  Overlapping or unsorted entries
 * give each page once.  Returns false when there is none.  Pure.
 */
bool vm_physmap_next_usable(const struct boot_info *bi, vm_paddr_t from,
			    struct vm_range *out);

/*
 * The lowest segment at or above from: the usable run of
 * vm_physmap_next_usable() cut where the domain changes.  A page outside
 * every range of doms (ndoms of them; 0 without an SRAT) is in domain 0.
 * Walk them with from = the previous segment's end.  Pure.
 */
bool vm_physmap_next(const struct boot_info *bi,
		     const struct vm_domain_range *doms, int ndoms,
		     vm_paddr_t from, struct vm_physmap_seg *out);

#endif /* VM_VM_PHYSMAP_H */
