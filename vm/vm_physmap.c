/*
 * vm_physmap.c - from the boot loader's memory map to the segments of RAM
 * the page allocator manages.
 *
 * The Multiboot2 map is a list of entries [base, base + length), each
 * with a type.  Nothing promises that they are sorted, disjoint or page
 * aligned (spec 3.6.8), so we read the map by what it means and not by
 * its layout.  A page is *usable* when
 *
 *   - it lies at or above LOW_MEMORY_END (the first MiB is firmware's,
 *     and the AP start-up code's),
 *   - some "available" entry covers all of it, and
 *   - no entry of another type touches any byte of it.
 *
 * So "not RAM" wins over "available", and a page that two overlapping
 * available entries both list is still one page, handed out once.
 * Usable pages form runs; each run is cut where the SRAT's memory domains
 * change, and the pieces are the *segments*:
 *
 *   map       [avail 1M ..... 64M)                  (entries overlap)
 *                       [avail 32M ............ 128M)
 *                                   [resv 96M..100M)
 *   usable    [1M ..................96M)  [100M .. 128M)
 *   domains   [0 ............ 80M)[1 .......................)
 *   segments  [1M ..... 80M) d0 [80M..96M) d1 [100M..128M) d1
 *
 * vm_physmap_next() returns the lowest segment at or above an address,
 * so its caller walks them in order, and neither side stores the map:
 * it may be as long as the boot loader likes.  Each call reads the whole
 * map a few times over, which is quadratic in the number of entries --
 * tens on real machines, and only at boot -- and nothing here ever
 * visits a page.
 *
 * Pure: it reads only the map (through boot_mmap_get) and the domain
 * table it is given, so tests/host compiles it for Linux and feeds it
 * crafted maps.
 */
#include <kern/types.h>
#include <boot/multiboot2.h>
#include <machine/vmparam.h>
#include <vm/vm_physmap.h>

/* ----------------------------------------------------------------------- */
/* One entry, as whole pages.                                              */

/* Entry i's bytes, clipped to PHYS_ADDR_LIMIT so that no end wraps. */
static struct vm_range entry_bytes(const struct boot_info *bi, int i,
				   uint32_t *type)
{
	struct boot_mmap_entry e = boot_mmap_get(bi, i);
	vm_paddr_t base = MIN(e.base, PHYS_ADDR_LIMIT);

	*type = e.type;
	return (struct vm_range){base,
				 base + MIN(e.length, PHYS_ADDR_LIMIT - base)};
}

/* An available entry shrunk to the whole pages inside it, from
 * LOW_MEMORY_END up; false for any other type or for no page at all. */
static bool available_pages(const struct boot_info *bi, int i,
			    struct vm_range *r)
{
	uint32_t type;
	struct vm_range b = entry_bytes(bi, i, &type);

	r->start = roundup2(MAX(b.start, LOW_MEMORY_END), PAGE_SIZE);
	r->end = rounddown2(b.end, PAGE_SIZE);
	return type == MB2_MMAP_AVAILABLE && r->start < r->end;
}

/* Any other entry grown to every page it touches; false for an available
 * one or an empty one.  (PHYS_ADDR_LIMIT is page aligned: no wrap.) */
static bool blocked_pages(const struct boot_info *bi, int i,
			  struct vm_range *r)
{
	uint32_t type;
	struct vm_range b = entry_bytes(bi, i, &type);

	r->start = rounddown2(b.start, PAGE_SIZE);
	r->end = roundup2(b.end, PAGE_SIZE);
	return type != MB2_MMAP_AVAILABLE && b.start < b.end;
}

/* ----------------------------------------------------------------------- */
/* Questions about the whole map, each one pass over it.                   */

/* The lowest page at or above pa that an available entry covers, or
 * PHYS_ADDR_LIMIT if there is none. */
static vm_paddr_t next_available(const struct boot_info *bi, vm_paddr_t pa)
{
	vm_paddr_t best = PHYS_ADDR_LIMIT;
	struct vm_range r;

	for (int i = 0; i < boot_mmap_count(bi); i++)
		if (available_pages(bi, i, &r) && r.end > pa)
			best = MIN(best, MAX(r.start, pa));
	return best;
}

/* If entries of other types cover page pa, the end of the furthest of
 * them (the next page that might be usable); else pa itself. */
static vm_paddr_t past_blocked(const struct boot_info *bi, vm_paddr_t pa)
{
	vm_paddr_t next = pa;
	struct vm_range r;

	for (int i = 0; i < boot_mmap_count(bi); i++)
		if (blocked_pages(bi, i, &r) && r.start <= pa && pa < r.end)
			next = MAX(next, r.end);
	return next;
}

/* From page pa, which an available entry covers, the end of the run that
 * available entries cover without a gap: overlapping and adjacent ones
 * chain.  Each round passes at least one entry's end. */
static vm_paddr_t available_run_end(const struct boot_info *bi, vm_paddr_t pa)
{
	vm_paddr_t end = pa, next;
	struct vm_range r;

	do {
		next = end;
		for (int i = 0; i < boot_mmap_count(bi); i++)
			if (available_pages(bi, i, &r) && r.start <= end &&
			    end < r.end)
				next = MAX(next, r.end);
		if (next == end)
			return end;
		end = next;
	} while (true);
}

/* The first page in (pa, end) that an entry of another type touches, or
 * end if there is none. */
static vm_paddr_t first_blocked(const struct boot_info *bi, vm_paddr_t pa,
				vm_paddr_t end)
{
	struct vm_range r;

	for (int i = 0; i < boot_mmap_count(bi); i++)
		if (blocked_pages(bi, i, &r) && r.start > pa && r.start < end)
			end = r.start;
	return end;
}

/* ----------------------------------------------------------------------- */
/* Runs and segments.                                                      */

/*
 * Find the lowest usable page: the lowest available page at or above
 * from, stepping past any stretch another entry blocks (each step passes
 * a blocking entry's end, so this ends).  The run then reaches as far as
 * available entries chain, stopped by the first blocked page.
 */
bool vm_physmap_next_usable(const struct boot_info *bi, vm_paddr_t from,
			    struct vm_range *out)
{
	vm_paddr_t pa = roundup2(MIN(MAX(from, LOW_MEMORY_END),
				     PHYS_ADDR_LIMIT),
				 PAGE_SIZE);

	for (;;) {
		vm_paddr_t next;

		pa = next_available(bi, pa);
		if (pa >= PHYS_ADDR_LIMIT)
			return false;
		next = past_blocked(bi, pa);
		if (next == pa)
			break;
		pa = next;
	}
	out->start = pa;
	out->end = first_blocked(bi, pa, available_run_end(bi, pa));
	return true;
}

/* The domain of pa (the first range holding it, else 0) and, in *until,
 * the next address where that may change: the end of every range that
 * holds pa, the start of every range above it. */
static int domain_at(const struct vm_domain_range *doms, int ndoms,
		     vm_paddr_t pa, vm_paddr_t *until)
{
	int dom = -1;

	*until = PHYS_ADDR_LIMIT;
	for (int i = 0; i < ndoms; i++) {
		vm_paddr_t start = MIN(doms[i].base, PHYS_ADDR_LIMIT);
		vm_paddr_t end = start + MIN(doms[i].len,
					     PHYS_ADDR_LIMIT - start);

		if (pa >= start && pa < end) {
			dom = dom < 0 ? doms[i].dom : dom;
			*until = MIN(*until, end);
		} else if (start > pa) {
			*until = MIN(*until, start);
		}
	}
	return dom < 0 ? 0 : dom;
}

/* A domain boundary inside a page belongs to the page's lower part: the
 * page goes whole to the domain it starts in. */
bool vm_physmap_next(const struct boot_info *bi,
		     const struct vm_domain_range *doms, int ndoms,
		     vm_paddr_t from, struct vm_physmap_seg *out)
{
	struct vm_range run;
	vm_paddr_t until;

	if (!vm_physmap_next_usable(bi, from, &run))
		return false;
	out->start = run.start;
	out->domain = domain_at(doms, ndoms, run.start, &until);
	out->end = MIN(run.end, roundup2(until, PAGE_SIZE));
	return true;
}
