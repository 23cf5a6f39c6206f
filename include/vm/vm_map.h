/*
 * vm/vm_map.h - user address spaces: a map of ranges, each backed by a VM
 * object (vm/vm_map.c, vm/vm_fault.c; docs/vm.md).
 *
 *   struct vmspace
 *     vm_map: entries sorted by address, never overlapping
 *       [0x400000 0x401000) r-x  obj A off 0   COPY          program text
 *       [0x401000 0x403000) rw-  obj B off 0   COPY          data + bss
 *       [0x403000 0x405000) rw-  obj C         COPY          brk heap
 *       [0x7fffff7ff000 0x7ffffffff000) rw- obj D  COPY      stack
 *     pmap: the page tables, filled by faults
 *
 * An entry says what may be done (protection, max_protection), what a
 * fork does with it (inheritance), and where its pages come from
 * (object + offset, in pages).  A NULL object is anonymous memory whose
 * object is made at the first fault.  MAP_ENTRY_NEEDS_COPY says the
 * object is shared copy-on-write (after a fork, or a private file
 * mapping): the first write gives the entry a shadow object of its own.
 *
 * Locking: each map has a token, held by whoever changes or searches its
 * entries (the process itself, in system calls and faults; fork reads
 * the parent's; a file's truncation reads every map's and takes pages
 * out of its pmap, vm_map_remove_object_pages).  vm_object_token nests
 * inside it.
 */
#ifndef VM_VM_MAP_H
#define VM_VM_MAP_H

#include <kern/types.h>
#include <kern/queue.h>
#include <kern/token.h>
#include <vm/pmap_user.h>
#include <vm/vm_object.h>

/* Inheritance at fork (DragonFly's VM_INHERIT_*). */
#define VM_INHERIT_SHARE 0	/* the child maps the same object */
#define VM_INHERIT_COPY	 1	/* the child gets a copy-on-write view */
#define VM_INHERIT_NONE	 2	/* nothing in the child */

/* eflags. */
#define MAP_ENTRY_NEEDS_COPY 0x1 /* shared COW: shadow at the first write */
#define MAP_ENTRY_STACK	     0x2 /* the user stack */

#define VM_PROT_NONE 0
#define VM_PROT_ALL  (VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXECUTE)

struct vm_map_entry {
	TAILQ_ENTRY(vm_map_entry) link;
	vm_offset_t start, end;		/* [start, end), page aligned */
	vm_object_t object;		/* referenced, or NULL (anonymous) */
	vm_pindex_t offset;		/* object page of start */
	int protection, max_protection;	/* VM_PROT_* */
	int inheritance;		/* VM_INHERIT_* */
	int eflags;			/* MAP_ENTRY_* */
};

struct vm_map {
	TAILQ_HEAD(, vm_map_entry) entries; /* by address: token */
	int nentries;
	struct vm_map_entry *hint;	/* last found by lookup, or NULL */
	struct lwkt_token token;
	struct pmap *pmap;
};

struct vmspace {
	struct vm_map vm_map;
	struct pmap vm_pmap;
	int vm_refcnt;			/* atomic */
	vm_offset_t vm_brk_base;	/* heap: [vm_brk_base, vm_brk) */
	vm_offset_t vm_brk;
	vm_offset_t vm_mmap_next;	/* where the next mmap search starts */
	TAILQ_ENTRY(vmspace) vm_link;	/* every address space: vm_map.c's
					 * vmspaces_lock */
};

/* Faults: the result of vm_fault. */
#define KERN_SUCCESS		 0
#define KERN_INVALID_ADDRESS	 1	/* no entry there: SIGSEGV */
#define KERN_PROTECTION_FAILURE	 2	/* entry forbids it: SIGSEGV */
#define KERN_RESOURCE_SHORTAGE	 3	/* no memory: the process dies */
#define KERN_PAGER_ERROR	 4	/* file read failed / past EOF: SIGBUS */

/* A new, empty address space with its own page tables.  Thread
 * context; may block. */
struct vmspace *vmspace_alloc(void);

/* Drop a reference; the last removes every entry and frees the page
 * tables.  It must not be loaded on any CPU.  Thread context. */
void vmspace_free(struct vmspace *vm);

/*
 * The child's address space for fork: SHARE entries map the same object,
 * COPY entries become copy-on-write in both (the parent's pages are
 * write-protected now), NONE entries are left out.  Thread context.
 */
struct vmspace *vmspace_fork(struct vmspace *parent);

/*
 * Map [start, start + size) to object obj (reference taken over; NULL for
 * anonymous memory) at page offset, with prot/maxprot and inheritance.
 * The range must be free, page aligned and inside user space.  Returns
 * 0, EINVAL or ENOMEM (the range is taken).  Map token not held.
 */
int vm_map_insert(struct vm_map *map, vm_object_t obj, vm_pindex_t offset,
		  vm_offset_t start, vm_offset_t size, int prot, int maxprot,
		  int inherit, int eflags);

/* Unmap [start, end): entries are cut at the edges; pages unmapped,
 * objects released.  Returns 0 or EINVAL.  Map token not held. */
int vm_map_remove(struct vm_map *map, vm_offset_t start, vm_offset_t end);

/* Change the protection of [start, end) (must be fully mapped, and prot
 * within each entry's max_protection): 0, ENOMEM (a hole) or EACCES. */
int vm_map_protect(struct vm_map *map, vm_offset_t start, vm_offset_t end,
		   int prot);

/* Write back to their files the pages shared file mappings in [start,
 * end) wrote (vm_object_clean; sync: and vop_fsync).  0, EINVAL, ENOMEM
 * (a hole) or the write's error.  Thread context; blocks. */
int vm_map_msync(struct vm_map *map, vm_offset_t start, vm_offset_t end,
		 bool sync);

/*
 * Take the pages of file object obj from page from on out of every pmap
 * that maps them: through every map entry whose object, or an object
 * down its shadow chain, is obj (a file that shrank, vnode_pager_setsize).
 * The private copies of those pages that the shadows on the way hold
 * leave their shadows as well and are chained onto *copies (through
 * hnext) for the caller to free: by the time this returns no pmap maps
 * them.  The entries stay; the next touch of such a page faults again
 * and finds the end of the file.  Thread context; blocks (walks every
 * address space); neither the object token nor a map token held.
 */
void vm_map_remove_object_pages(vm_object_t obj, vm_pindex_t from,
				vm_page_t *copies);

/*
 * Take the write right to pages [start, end) of obj away in every pmap
 * that maps them: through every map entry whose own object is obj (a
 * file's pages a write-back marked clean, vm/vm_object.c), so that the
 * next store faults and marks the page again.  Same context as
 * vm_map_remove_object_pages.
 */
void vm_map_protect_object_pages(vm_object_t obj, vm_pindex_t start,
				 vm_pindex_t end);

/* The lowest free range of size bytes at or above hint, below
 * VM_MAX_USER_ADDRESS: 0 and *addr, or ENOMEM.  Map token not held. */
int vm_map_findspace(struct vm_map *map, vm_offset_t hint, vm_offset_t size,
		     vm_offset_t *addr);

/* The entry containing va, or NULL.  Map token held. */
struct vm_map_entry *vm_map_lookup_entry(struct vm_map *map, vm_offset_t va);

/*
 * Resolve a fault at va for access fault_type (VM_PROT_*): find the page
 * through the entry's object chain (zero-fill, file read, COW copy) and
 * map it.  Returns a KERN_* code.  Thread context; may block.
 */
int vm_fault(struct vm_map *map, vm_offset_t va, int fault_type);

/*
 * vm_fault's step for an entry whose object is a device's (OBJT_DEVICE):
 * map the page the driver names at va (page aligned) with the entry's
 * rights.  Returns a KERN_* code.  Map token held; does not block
 * (vm/device_pager.c).
 */
int vm_fault_device(struct vm_map *map, struct vm_map_entry *e,
		    vm_offset_t va);

/* The device pager's counters, one vmstat line. */
void vm_device_pager_print_stats(void);

/*
 * Copy len bytes from kernel buffer src into map at va, by the kernel,
 * whatever the entries' protection (the ELF loader fills text this way).
 * Each page is taken from (or made in) the entry's own object, so this is
 * for fresh private mappings only.  Returns 0, EFAULT (no entry) or
 * ENOMEM (memory is down to the kernel's reserve).
 */
int vm_map_fill(struct vm_map *map, vm_offset_t va, const void *src,
		size_t len);

/* Fault counters, for vmstat and tests. */
struct vm_fault_stats {
	uint64_t faults;	/* vm_fault calls */
	uint64_t zfod;		/* zero-filled pages */
	uint64_t cow;		/* pages copied for a write */
	uint64_t cow_reuse;	/* COW faults that found the page private */
	uint64_t pagein;	/* file pages read */
	uint64_t failed;	/* faults that ended in a signal */
	uint64_t oom;		/* of those: no page for a user (killed) */
};
void vm_fault_get_stats(struct vm_fault_stats *st);

/* Print the user VM counters: objects, faults, user TLB work (vmstat). */
void vm_user_print_stats(void);

#endif /* VM_VM_MAP_H */
