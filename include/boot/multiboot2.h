/*
 * boot/multiboot2.h - what the boot loader told us (boot/multiboot2.c).
 *
 * GRUB hands the kernel a "boot information" block: a size, then a list of
 * tags, each 8-byte aligned (Multiboot2 spec, 3.6 "Boot information format"):
 *
 *   +0  u32 total_size   +4  u32 reserved
 *   +8  tag: u32 type, u32 size, payload ... padding to 8
 *       tag ...
 *       end tag: type 0, size 8
 *
 * mb2_parse() copies what the kernel needs into a struct boot_info and
 * validates every size on the way; a malformed block yields a message in
 * bi->error, never a fault.
 */
#ifndef BOOT_MULTIBOOT2_H
#define BOOT_MULTIBOOT2_H

#include <kern/types.h>

#define MB2_BOOTLOADER_MAGIC	0x36d76289

/* Tag types (spec 3.6.x). */
#define MB2_TAG_END		0
#define MB2_TAG_CMDLINE		1
#define MB2_TAG_LOADER_NAME	2
#define MB2_TAG_MODULE		3
#define MB2_TAG_BASIC_MEMINFO	4
#define MB2_TAG_MMAP		6
#define MB2_TAG_FRAMEBUFFER	8
#define MB2_TAG_ACPI_OLD	14	/* a copy of the ACPI 1.0 RSDP */
#define MB2_TAG_ACPI_NEW	15	/* a copy of the ACPI 2.0+ RSDP */

/* Memory map entry types (spec 3.6.8). */
#define MB2_MMAP_AVAILABLE	1
#define MB2_MMAP_RESERVED	2
#define MB2_MMAP_ACPI_RECLAIM	3
#define MB2_MMAP_NVS		4
#define MB2_MMAP_BAD		5

#define BOOT_MMAP_MAX		64
#define BOOT_MODULES_MAX	8
/* A boot information block larger than this is taken as corrupt. */
#define MB2_INFO_MAX_SIZE	(1U << 20)

struct boot_mmap_entry {
	uint64_t base;
	uint64_t length;
	uint32_t type;		/* MB2_MMAP_* */
};

struct boot_module {
	uint64_t start, end;	/* physical, end exclusive */
	const char *name;
};

struct boot_framebuffer {
	uint64_t addr;		/* physical */
	uint32_t pitch, width, height;
	uint8_t bpp, type;
};

struct boot_info {
	const char *cmdline;		/* "" when absent */
	const char *loader_name;	/* "unknown" when absent */
	/* The first BOOT_MMAP_MAX memory map entries, copied (for reports);
	 * boot_mmap_count()/boot_mmap_get() reach all of them. */
	struct boot_mmap_entry mmap[BOOT_MMAP_MAX];
	int mmap_count;
	const void *mmap_raw;		/* the tag's entries, in the block */
	uint32_t mmap_entry_size;	/* their stride */
	int mmap_total;			/* how many there are */
	struct boot_module modules[BOOT_MODULES_MAX];
	int module_count;
	const void *rsdp;		/* the RSDP copy in the info block */
	int rsdp_version;		/* 1 (old tag), 2 (new tag), 0 none */
	uint32_t rsdp_length;
	bool has_framebuffer;
	struct boot_framebuffer framebuffer;
	uint64_t info_phys;		/* where the block itself lies */
	uint32_t info_size;
	const char *error;		/* first problem found, or NULL */
};

/*
 * Parse the boot information at mbi (a mapped pointer to it; info_phys is
 * its physical address, recorded so it can be reserved).  Fills *bi.
 * Returns 0 if the block was well formed, -1 if not; on -1, bi->error says
 * what was wrong and bi holds whatever came before the problem.
 * Pure: any context, host-testable.  Strings in *bi point into the block.
 */
int mb2_parse(const void *mbi, uint64_t info_phys, struct boot_info *bi);

/* Every entry of the memory map, however many (the copy in bi->mmap
 * holds only the first BOOT_MMAP_MAX): the count, and entry i of it,
 * read from the boot information block.  Pure, any context. */
int boot_mmap_count(const struct boot_info *bi);
struct boot_mmap_entry boot_mmap_get(const struct boot_info *bi, int i);

/* Total bytes of MB2_MMAP_AVAILABLE memory in bi's map (every entry). */
uint64_t boot_usable_memory(const struct boot_info *bi);

#endif /* BOOT_MULTIBOOT2_H */
