/*
 * machine/vmparam.h - where things live in the kernel's virtual address space.
 *
 * This is the only header that names these bases; everything else uses the
 * macros, so that a later KASLR can move them.
 *
 *   0xffffffffffffffff +---------------------------------+
 *                      | kernel image (text, rodata,      |
 *                      | data, bss), -mcmodel=kernel      |
 *   0xffffffff80000000 +---------------------------------+ KERNBASE
 *                      |              ...                 |
 *   0xffffc08000000000 +---------------------------------+ KVA_END
 *                      | kernel virtual region (512 GiB): |
 *                      | stacks with guard pages, MMIO,   |
 *                      | large kmalloc  (vm/vm_kern.c)    |
 *   0xffffc00000000000 +---------------------------------+ KVA_BASE
 *                      |              ...                 |
 *   0xffff800000000000 +---------------------------------+ DMAP_BASE
 *                      | direct map: phys P at DMAP+P     |
 *                      +---------------------------------+
 *                      |   (non-canonical hole)           |
 *   0x00007fffffffffff +---------------------------------+
 *                      | user space (later)               |
 *   0x0000000000000000 +---------------------------------+
 *
 * The image is loaded at physical KERNEL_PHYS (1 MiB) and linked at
 * KERNBASE + KERNEL_PHYS, so virtual - KERNBASE = physical for the image.
 */
#ifndef MACHINE_VMPARAM_H
#define MACHINE_VMPARAM_H

#define KERNBASE	0xffffffff80000000UL
#define KERNEL_PHYS	0x100000UL
#define DMAP_BASE	0xffff800000000000UL
/* The boot page tables (boot/entry.S) direct-map the first 4 GiB. */
#define BOOT_DMAP_SIZE	0x100000000UL
/* The direct map is never smaller than this, RAM or not (MMIO below 4G). */
#define DMAP_MIN_SIZE	0x100000000UL
/* The direct map ends where the kernel-virtual region's PML4 slot begins. */
#define DMAP_MAX_SIZE	0x400000000000UL

/* The kernel-virtual region: one PML4 slot (index 384) of 512 GiB. */
#define KVA_BASE	0xffffc00000000000UL
#define KVA_SIZE	0x8000000000UL
#define KVA_END		(KVA_BASE + KVA_SIZE)

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1UL << PAGE_SHIFT)
#define PAGE_MASK	(PAGE_SIZE - 1)

#ifndef __ASSEMBLER__
#define PHYS_TO_DMAP(pa) ((void *)((unsigned long)(pa) + DMAP_BASE))
#define DMAP_TO_PHYS(va) ((unsigned long)(va) - DMAP_BASE)
#define KVA_TO_PHYS(va)	((unsigned long)(va) - KERNBASE)
#endif

#endif /* MACHINE_VMPARAM_H */
