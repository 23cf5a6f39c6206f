/*
 * kern_memio.c - the memory devices and the terminal's names:
 * /dev/null, /dev/zero, /dev/mem, /dev/kpmap, /dev/console and /dev/tty.
 *
 *   null     reads end at once; writes vanish (and succeed)
 *   zero     reads give zeroes; writes vanish; mmap gives anonymous
 *            memory (D_MMAP_ANON: kern/sys_mman.c), as on the BSDs and
 *            Linux
 *   mem      physical memory by address, for mmap only: byte offset X
 *            of the device is physical address X.  Only what is *not*
 *            RAM may be mapped -- device registers, a frame buffer such
 *            as the VGA text buffer at 0xb8000, firmware ROM -- since a
 *            RAM page belongs to the page allocator, which would hand it
 *            to someone else while the mapping still wrote it.
 *   kpmap    the kernel's shared page (include/uapi/damselfly/kpmap.h):
 *            a page of RAM this driver allocates at boot and owns for
 *            good, holding numbers the kernel keeps current (the tick
 *            count, written by hardclock).  Mapped shared and read-only
 *            through the device pager, cached (it is memory); a read
 *            gives its bytes too.
 *   console  the serial console (D_TTY: an open gives the one console
 *   tty      file, kern/kern_descrip.c, with its termios and job control)
 *
 * Which pages of /dev/mem are RAM.  A page is refused (EACCES) if the
 * page allocator manages it (PHYS_TO_VM_PAGE) or any entry of the boot
 * loader's memory map that is not "reserved" touches it: available
 * memory, ACPI tables, ACPI NVS and bad RAM are all RAM.  What is left
 * is the holes of the map and its reserved entries: device memory and
 * ROM -- less what the kernel's own drivers have mapped (pmap_mapdev:
 * the APICs, PCI configuration space, virtio registers), which is
 * refused too (EACCES): a store there would disturb the kernel.  mmap judges a whole range at once by its overlaps with the map
 * (d_mmap_range), so mapping a terabyte of holes costs no more than a
 * page.  Past the CPU's physical address width (CPUID's MAXPHYADDR) the
 * device ends: ENXIO.  A mapping is uncached (PMAP_CACHE_UC): a
 * device's registers must see every access, in order.  Nothing of
 * /dev/mem may be executed (EACCES for PROT_EXEC).
 *
 * Device numbers are Linux's (st_rdev): mem 1:1, null 1:3, zero 1:5,
 * tty 5:0, console 5:1; kpmap, which Linux has not, is 1:64.
 */
#include <kern/types.h>
#include <kern/device.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/clock.h>
#include <kern/kernel.h>
#include <kern/libkern.h>
#include <boot/multiboot2.h>
#include <machine/cpufunc.h>
#include <vm/pmap.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>
#include <uapi/damselfly/kpmap.h>

#define CPUID_EXT_MAX	0x80000000	/* EAX: the highest extended leaf */
#define CPUID_ADDR_SIZE 0x80000008	/* EAX[7:0]: MAXPHYADDR (SDM 2A) */
#define MAXPHYADDR_DEFAULT 36		/* without that leaf (SDM 3A 4.1.4) */

static uint64_t mem_end;		/* 1 << MAXPHYADDR: set at boot */

/* ---- null and zero -------------------------------------------------------- */

static int null_read(struct cdev *dev, uint64_t off, void *buf, size_t len,
		     size_t *done)
{
	*done = 0;
	return 0;
}

static int null_write(struct cdev *dev, uint64_t off, const void *buf,
		      size_t len)
{
	return 0;
}

static int zero_read(struct cdev *dev, uint64_t off, void *buf, size_t len,
		     size_t *done)
{
	memset(buf, 0, len);
	*done = len;
	return 0;
}

static const struct cdevsw null_cdevsw = {
	.d_name = "null", .d_read = null_read, .d_write = null_write,
};

static const struct cdevsw zero_cdevsw = {
	.d_name = "zero", .d_flags = D_MMAP_ANON, .d_read = zero_read,
	.d_write = null_write,
};

/* ---- mem ------------------------------------------------------------------ */

/* Does an entry of the boot memory map that is not "reserved" touch
 * [start, end)? */
static bool mem_map_says_ram_in(vm_paddr_t start, vm_paddr_t end)
{
	int n = boot_mmap_count(&boot_info);

	for (int i = 0; i < n; i++) {
		struct boot_mmap_entry e = boot_mmap_get(&boot_info, i);

		if (e.type != MB2_MMAP_RESERVED && e.base < end &&
		    start < e.base + e.length)
			return true;
	}
	return false;
}

/* Is the page at pa RAM (see the file comment)? */
static bool mem_is_ram(vm_paddr_t pa)
{
	return PHYS_TO_VM_PAGE(pa) != NULL ||
	       mem_map_says_ram_in(pa, pa + PAGE_SIZE);
}

/* Is any of [start, end) the kernel's: RAM, or a driver's registers? */
static bool mem_is_kernels(vm_paddr_t start, vm_paddr_t end)
{
	return mem_map_says_ram_in(start, end) ||
	       pmap_mapdev_claimed(start, end);
}

/* d_mmap: offset off is physical address off, if it is not RAM. */
static int mem_mmap(struct cdev *dev, uint64_t off, int prot, vm_paddr_t *pa,
		    int *cache)
{
	if (off >= mem_end)
		return ENXIO;
	if ((prot & VM_PROT_EXECUTE) || mem_is_ram(off) ||
	    pmap_mapdev_claimed(off, off + PAGE_SIZE))
		return EACCES;
	*pa = off;
	*cache = PMAP_CACHE_UC;
	return 0;
}

/* d_mmap_range: the whole range by its overlaps, not page by page, in
 * d_mmap's order: a start past the end is ENXIO; execute, or RAM
 * anywhere before the end, is EACCES; a range running past the end is
 * ENXIO.  (The page allocator's pages all lie in available entries.) */
static int mem_mmap_range(struct cdev *dev, uint64_t off, uint64_t len,
			  int prot)
{
	if (off >= mem_end)
		return ENXIO;
	if ((prot & VM_PROT_EXECUTE) ||
	    mem_is_kernels(off, MIN(off + len, mem_end)))
		return EACCES;
	return off + len > mem_end ? ENXIO : 0;
}

static const struct cdevsw mem_cdevsw = {
	.d_name = "mem", .d_mmap = mem_mmap, .d_mmap_range = mem_mmap_range,
};

/* 1 << MAXPHYADDR, from CPUID (SDM vol. 2A, CPUID leaf 80000008H). */
static uint64_t phys_addr_end(void)
{
	uint32_t r[4];
	unsigned bits = MAXPHYADDR_DEFAULT;

	cpuid_count(CPUID_EXT_MAX, 0, r);
	if (r[0] >= CPUID_ADDR_SIZE) {
		cpuid_count(CPUID_ADDR_SIZE, 0, r);
		bits = r[0] & 0xff;
	}
	return 1UL << MIN(bits, 52u);
}

/* ---- kpmap -------------------------------------------------------------------- */

struct kpmap *kpmap;			/* the page, through the direct map */
static vm_page_t kpmap_page;		/* allocated at boot, never freed */

/* Read-only, one page long, never executed. */
static int kpmap_mmap(struct cdev *dev, uint64_t off, int prot,
		      vm_paddr_t *pa, int *cache)
{
	if (off >= PAGE_SIZE)
		return ENXIO;
	if (prot & (VM_PROT_WRITE | VM_PROT_EXECUTE))
		return EACCES;
	*pa = VM_PAGE_TO_PHYS(kpmap_page);
	*cache = PMAP_CACHE_WB;
	return 0;
}

/* The page's bytes from off, up to its end. */
static int kpmap_read(struct cdev *dev, uint64_t off, void *buf, size_t len,
		      size_t *done)
{
	*done = off < PAGE_SIZE ? MIN(len, PAGE_SIZE - off) : 0;
	memcpy(buf, (const char *)kpmap + off, *done);
	return 0;
}

static const struct cdevsw kpmap_cdevsw = {
	.d_name = "kpmap", .d_read = kpmap_read, .d_mmap = kpmap_mmap,
};

/* The page and what never changes in it; hardclock keeps kp_ticks. */
static void kpmap_init(void)
{
	kpmap_page = vm_page_alloc(VM_ALLOC_ZERO);
	kpmap = vm_page_to_dmap(kpmap_page);
	kpmap->kp_version = KPMAP_VERSION;
	kpmap->kp_hz = (uint32_t)hz;
	kpmap->kp_tsc_hz = tsc_hz;
	kpmap->kp_ncpus = (uint32_t)ncpus;
}

/* ---- the terminal ------------------------------------------------------------ */

/* No operations: an open is answered with the console's own file. */
static const struct cdevsw tty_cdevsw = {
	.d_name = "tty", .d_flags = D_TTY,
};

void memio_init(void)
{
	mem_end = phys_addr_end();
	kpmap_init();
	make_dev(&tty_cdevsw, "console", 0600, makedev(5, 1), NULL);
	make_dev(&kpmap_cdevsw, "kpmap", 0444, makedev(1, 64), NULL);
	make_dev(&mem_cdevsw, "mem", 0640, makedev(1, 1), NULL);
	make_dev(&null_cdevsw, "null", 0666, makedev(1, 3), NULL);
	make_dev(&tty_cdevsw, "tty", 0666, makedev(5, 0), NULL);
	make_dev(&zero_cdevsw, "zero", 0666, makedev(1, 5), NULL);
}
