/*
 * bench_kmalloc.c - what the memory allocators' fast paths cost: a
 * kmalloc+kfree pair of 64 bytes (the inline slab fast paths of
 * kern/malloc.h: a critical section and a free-list pop, then a checked
 * push with one cmpxchg; the loop's own three instructions included) and
 * a vm_page_alloc+vm_page_free pair (the per-CPU page cache).  Under make
 * bench the numbers are guest instructions per pair.
 */
#include <kern/kbench.h>
#include <kern/malloc.h>
#include <vm/vm_page.h>

MALLOC_DEFINE(M_KBENCH, "kbench", "memory allocated by benchmarks");

KBENCH(kmalloc_kfree_64, 100000)
{
	kfree(kmalloc(64, M_KBENCH, M_WAITOK), M_KBENCH); /* warm */
	for (uint64_t i = 0; i < n; i++)
		kfree(kmalloc(64, M_KBENCH, M_WAITOK), M_KBENCH);
}

KBENCH(kmalloc_kfree_16k_large, 2000)
{
	for (uint64_t i = 0; i < n; i++)
		kfree(kmalloc(16384, M_KBENCH, M_WAITOK), M_KBENCH);
}

KBENCH(vm_page_alloc_free, 100000)
{
	vm_page_free(vm_page_alloc(0)); /* warm */
	for (uint64_t i = 0; i < n; i++)
		vm_page_free(vm_page_alloc(0));
}

KBENCH(vm_page_alloc_contig_8, 20000)
{
	for (uint64_t i = 0; i < n; i++)
		vm_page_free_contig(vm_page_alloc_contig(8, 0, 0), 8);
}
