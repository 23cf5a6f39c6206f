/*
 * vm/vm_kern.h - kernel virtual memory: the KVA region's address
 * allocator, page-backed allocations and kernel stacks with guard pages
 * (vm/vm_kern.c; docs/memory.md).
 *
 *   KVA_BASE                                                   KVA_END
 *   | guard | stack A (16 KiB) | guard | stack B | kmem ... | mapdev |
 *     ^ unmapped: an overflow of A faults here instead of corrupting
 *
 * Addresses are handed out first-fit from a sorted list of free extents
 * (spinlock "kva").  Pages behind kmem and stacks come from vm_page.
 */
#ifndef VM_VM_KERN_H
#define VM_VM_KERN_H

#include <kern/types.h>

/* Reserve size bytes (rounded to pages) of kernel virtual addresses, not
 * mapped.  Returns 0 when the region is full.  Any CPU; spinlock. */
vm_offset_t kva_alloc(size_t size);
void kva_free(vm_offset_t va, size_t size);

/* Bytes of KVA currently free (tests compare it before and after). */
size_t kva_free_bytes(void);

/*
 * kmem_alloc: size bytes (rounded up to pages) of wired, mapped kernel
 * memory, read+write+no-execute, with one unmapped guard page after it.
 * flags: VM_ALLOC_NOWAIT (NULL, with nothing kept, when the pages or
 * the page-table pages their addresses need ran out), VM_ALLOC_ZERO.
 * Without NOWAIT, running out panics.  Each page's
 * vm_page has PG_KMEM.  kmem_free takes the same size.  Any CPU, not from
 * an interrupt handler (kva spinlock, pmap lock).
 */
void *kmem_alloc(size_t size, int flags);
void kmem_free(void *va, size_t size);

/*
 * Kernel stacks.  vm_kstack_alloc returns the BASE (lowest address) of a
 * size-byte stack (a multiple of PAGE_SIZE) whose page below is an
 * unmapped guard; the stack pointer starts at base + size.  name (copied)
 * is what a stack overflow panic reports: "kernel stack overflow in thread
 * <name>".  Returns NULL if memory or KVA ran out (flags as kmem_alloc).
 * vm_kstack_free takes the base.  Any CPU, not from an interrupt handler.
 */
#define KSTACK_DEFAULT_SIZE (16 * 1024)
void *vm_kstack_alloc(size_t size, const char *name);
void vm_kstack_free(void *base);

/* Rename a stack's owner (when the thread is given its final name). */
void vm_kstack_set_name(void *base, const char *name);

/* If va lies in a kernel stack's guard page, copy the owner's name into
 * name (size bytes) and return true.  Lock-free; for the fault path. */
bool vm_kstack_guard_owner(vm_offset_t va, char *name, size_t size);

/* Map size bytes of device registers at physical pa, uncached; returns
 * the kernel virtual address (page offset kept).  Boot-time drivers. */
void *pmap_mapdev(vm_paddr_t pa, size_t size);
void pmap_unmapdev(void *va, size_t size);

/* Does [start, end) touch physical memory pmap_mapdev ever mapped (a
 * driver's registers, kept from /dev/mem)?  Any thread; spinlock. */
bool pmap_mapdev_claimed(vm_paddr_t start, vm_paddr_t end);

/* Set up the KVA allocator; called by pmap_init(). */
void kva_init(void);

#endif /* VM_VM_KERN_H */
