/*
 * multiboot2.c - read the boot information GRUB left for us.
 *
 * The block is trusted no more than a packet from the network: every tag's
 * size is checked against the block's total size before the tag is read,
 * strings must end inside their tag, and a memory map's entry size must be
 * sane.  The first problem stops the walk and is described in bi->error;
 * the kernel then boots with what it has (and says so) instead of
 * faulting on a wild pointer.
 *
 * This file uses nothing but the block itself, so tests/host compiles it
 * for Linux and feeds it crafted and corrupted blocks.
 */
#include <kern/types.h>
#include <boot/multiboot2.h>

/* The fixed part of every tag. */
struct mb2_tag {
	uint32_t type;
	uint32_t size;		/* including this header, excluding padding */
};

/*
 * The memory map tag, drawn:
 *
 *   +0  type = 6     +4  size (whole tag)
 *   +8  entry_size   +12 entry_version (0)
 *   +16 entry 0: base_addr (u64), length (u64), type (u32), reserved (u32)
 *   +16 + entry_size: entry 1 ...
 */
struct mb2_tag_mmap {
	struct mb2_tag tag;
	uint32_t entry_size;	/* 24 today; may grow */
	uint32_t entry_version;
	/* entries follow */
};

struct mb2_mmap_entry {
	uint64_t base;		/* physical start */
	uint64_t length;	/* in bytes */
	uint32_t type;		/* MB2_MMAP_* */
	uint32_t reserved;
};

/* A module GRUB loaded beside the kernel (`module2` in grub.cfg). */
struct mb2_tag_module {
	struct mb2_tag tag;
	uint32_t mod_start;	/* physical, 32-bit: modules live below 4 GiB */
	uint32_t mod_end;
	/* NUL-terminated name follows */
};

/* The fixed part of the framebuffer tag; colour info follows it. */
struct mb2_tag_framebuffer {
	struct mb2_tag tag;
	uint64_t addr;			/* physical address of pixel (0,0) */
	uint32_t pitch, width, height;	/* bytes per row; pixels */
	uint8_t bpp, type;		/* bits per pixel; 0 indexed, 1 RGB, 2 text */
	uint16_t reserved;
};

/* ACPI RSDP lengths: 20 bytes in ACPI 1.0, 36 from 2.0 (ACPI 6.5, 5.2.5.3) */
#define RSDP_V1_LENGTH	20
#define RSDP_V2_LENGTH	36

/* Is there a NUL among the n bytes at s?  (strnlen without libc, so the
 * file stays usable on the host and in the kernel alike.) */
static bool string_fits(const char *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (s[i] == '\0')
			return true;
	return false;
}

/* The string payload of a tag, or NULL (with an error) if unterminated. */
static const char *tag_string(const struct mb2_tag *tag, uint32_t offset,
			      struct boot_info *bi, const char *what)
{
	const char *s = (const char *)tag + offset;

	if (tag->size <= offset || !string_fits(s, tag->size - offset)) {
		bi->error = what;
		return NULL;
	}
	return s;
}

/*
 * The memory map tag (spec 3.6.8): entry_size and entry_version, then
 * entries of entry_size bytes each.  entry_size may grow in later versions
 * of the spec, so we step by it and read only the fields we know; but it
 * must hold at least those fields, and a zero size would never advance.
 */
static int parse_mmap(const struct mb2_tag *tag, struct boot_info *bi)
{
	const struct mb2_tag_mmap *m = (const void *)tag;
	uint32_t off;

	if (tag->size < sizeof(*m) || m->entry_size < sizeof(struct mb2_mmap_entry) ||
	    m->entry_size % 8 != 0 || m->entry_size > tag->size) {
		bi->error = "memory map tag has a bad entry size";
		return -1;
	}
	/* GRUB sends one map tag; a second would replace the first. */
	bi->mmap_raw = (const char *)m + sizeof(*m);
	bi->mmap_entry_size = m->entry_size;
	bi->mmap_total = bi->mmap_count = 0;
	/* Written as a subtraction so that no sum can wrap around 2^32. */
	for (off = sizeof(*m); m->entry_size <= tag->size - off;
	     off += m->entry_size) {
		const struct mb2_mmap_entry *e = (const void *)((const char *)m + off);

		/* A long map is not malformed: every entry stays reachable
		 * through boot_mmap_get; only the copy is bounded. */
		bi->mmap_total++;
		if (bi->mmap_count < BOOT_MMAP_MAX)
			bi->mmap[bi->mmap_count++] = (struct boot_mmap_entry){
				.base = e->base, .length = e->length,
				.type = e->type };
	}
	return 0;
}

/* Every entry of the map tag, the copied ones and the rest: callers that
 * must see the whole map (the page allocator) walk this many. */
int boot_mmap_count(const struct boot_info *bi)
{
	return bi->mmap_total;
}

/* Entry i, straight from the tag parse_mmap checked: it lies inside. */
struct boot_mmap_entry boot_mmap_get(const struct boot_info *bi, int i)
{
	const struct mb2_mmap_entry *e = (const void *)(
		(const char *)bi->mmap_raw + (size_t)i * bi->mmap_entry_size);

	return (struct boot_mmap_entry){ .base = e->base,
					 .length = e->length,
					 .type = e->type };
}

/* A boot module (spec 3.6.6): its physical range and its command line.
 * Recorded so that the page allocator can reserve the range. */
static int parse_module(const struct mb2_tag *tag, struct boot_info *bi)
{
	const struct mb2_tag_module *m = (const void *)tag;
	const char *name;

	if (tag->size < sizeof(*m)) {
		bi->error = "module tag is too short";
		return -1;
	}
	name = tag_string(tag, sizeof(*m), bi, "module name is not terminated");
	if (name == NULL)
		return -1;
	if (bi->module_count == BOOT_MODULES_MAX || m->mod_end < m->mod_start) {
		bi->error = "too many modules, or a module that ends before "
			    "it starts";
		return -1;
	}
	bi->modules[bi->module_count++] = (struct boot_module){
		.start = m->mod_start, .end = m->mod_end, .name = name };
	return 0;
}

/* Framebuffer info (spec 3.6.12); optional, since we boot headless.  The
 * colour information after the fixed part is not needed yet. */
static int parse_framebuffer(const struct mb2_tag *tag, struct boot_info *bi)
{
	const struct mb2_tag_framebuffer *f = (const void *)tag;

	if (tag->size < sizeof(*f)) {
		bi->error = "framebuffer tag is too short";
		return -1;
	}
	bi->has_framebuffer = true;
	bi->framebuffer = (struct boot_framebuffer){
		.addr = f->addr, .pitch = f->pitch, .width = f->width,
		.height = f->height, .bpp = f->bpp, .type = f->type };
	return 0;
}

/* GRUB copies the ACPI RSDP into the block (tags 14 and 15).  Only the
 * length is checked here; drivers/acpi.c checks signature and checksum. */
static int parse_rsdp(const struct mb2_tag *tag, struct boot_info *bi,
		      int version)
{
	uint32_t need = version == 1 ? RSDP_V1_LENGTH : RSDP_V2_LENGTH;

	if (tag->size < sizeof(*tag) + need) {
		bi->error = "ACPI RSDP tag is shorter than an RSDP";
		return -1;
	}
	if (bi->rsdp_version > version)
		return 0;	/* keep the newer one */
	bi->rsdp = (const char *)tag + sizeof(*tag);
	bi->rsdp_version = version;
	bi->rsdp_length = tag->size - (uint32_t)sizeof(*tag);
	return 0;
}

/* Parse one tag whose size is already known to fit in the block; tags we
 * do not use (ELF sections, APM, EFI, ...) are skipped by their size. */
static int parse_tag(const struct mb2_tag *tag, struct boot_info *bi)
{
	switch (tag->type) {
	case MB2_TAG_CMDLINE:
		bi->cmdline = tag_string(tag, sizeof(*tag), bi,
					 "command line is not terminated");
		return bi->cmdline ? 0 : -1;
	case MB2_TAG_LOADER_NAME:
		bi->loader_name = tag_string(tag, sizeof(*tag), bi,
					     "boot loader name is not terminated");
		return bi->loader_name ? 0 : -1;
	case MB2_TAG_MMAP:
		return parse_mmap(tag, bi);
	case MB2_TAG_MODULE:
		return parse_module(tag, bi);
	case MB2_TAG_FRAMEBUFFER:
		return parse_framebuffer(tag, bi);
	case MB2_TAG_ACPI_OLD:
		return parse_rsdp(tag, bi, 1);
	case MB2_TAG_ACPI_NEW:
		return parse_rsdp(tag, bi, 2);
	default:
		return 0;	/* tags we do not need are skipped */
	}
}

/* What the kernel assumes for every tag that is missing. */
static void boot_info_defaults(struct boot_info *bi, uint64_t info_phys)
{
	*bi = (struct boot_info){ .cmdline = "", .loader_name = "unknown",
				  .info_phys = info_phys };
}

int mb2_parse(const void *mbi, uint64_t info_phys, struct boot_info *bi)
{
	const char *base = mbi;
	uint32_t total, off;

	boot_info_defaults(bi, info_phys);
	if (mbi == NULL || ((uintptr_t)mbi & 7) != 0) {
		bi->error = "boot information pointer is NULL or not 8-aligned";
		return -1;
	}
	total = *(const uint32_t *)base;
	if (total < 16 || total > MB2_INFO_MAX_SIZE) {
		bi->error = "boot information total size is implausible";
		return -1;
	}
	bi->info_size = total;
	/* Tags start after the 8-byte header and each is padded to 8 bytes.
	 * Check that a tag's header fits before reading its size, and that
	 * its size fits before reading its payload. */
	for (off = 8; off + sizeof(struct mb2_tag) <= total;
	     off = (off + ((const struct mb2_tag *)(base + off))->size + 7) & ~7U) {
		const struct mb2_tag *tag = (const void *)(base + off);

		if (tag->size < sizeof(*tag) || tag->size > total - off) {
			bi->error = "a tag's size runs past the end of the "
				    "boot information";
			return -1;
		}
		if (tag->type == MB2_TAG_END)
			return 0;
		if (parse_tag(tag, bi) != 0)
			return -1;
	}
	bi->error = "boot information has no end tag";
	return -1;
}

/* Only "available" RAM counts; ACPI-reclaimable memory becomes usable only
 * after the ACPI tables in it have been read, which the kernel never
 * promises. */
uint64_t boot_usable_memory(const struct boot_info *bi)
{
	uint64_t total = 0;

	for (int i = 0; i < boot_mmap_count(bi); i++) {
		struct boot_mmap_entry e = boot_mmap_get(bi, i);

		if (e.type == MB2_MMAP_AVAILABLE)
			total += e.length;
	}
	return total;
}
