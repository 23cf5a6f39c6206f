/*
 * sys_mman.c - memory system calls: brk, mmap, munmap, mprotect.
 *
 * Each is a thin layer over the VM map (vm/vm_map.c): check the
 * arguments the way Linux does, pick an address, insert or remove map
 * entries.  No page is touched here; the first access faults it in.
 *
 *   brk     the heap: one or more anonymous entries from the end of the
 *           program's data (vm_brk_base) up to the break
 *   mmap    MAP_ANONYMOUS memory, private (COW after fork) or shared
 *           (the same object in parent and child); MAP_FIXED replaces
 *           whatever was there, MAP_FIXED_NOREPLACE refuses (EEXIST)
 *           if anything is.  A regular file: MAP_SHARED maps the
 *           file's object itself, so writes mark its pages for
 *           write-back; MAP_PRIVATE maps it copy-on-write, so writes go
 *           to a shadow and never reach the file.  A device (/dev/mem):
 *           MAP_SHARED only, a device object whose faults map the
 *           driver's own pages (vm/device_pager.c); /dev/zero gives
 *           anonymous memory
 *   munmap  remove entries (cutting them at the edges)
 *   mprotect change rights; taking write away reaches the TLBs at once
 *   msync   write the pages shared file mappings wrote back to the files
 *
 * When file pages go back (vm_object_clean): on msync, when the last
 * mapping of the file's object goes -- munmap, exit, execve -- and when
 * its filesystem is synced or unmounted (vm_object_clean_mount).  They go
 * through the filesystem's write, into its buffer cache, like write(2);
 * MS_SYNC also asks for fsync.  A file has one object, shared by every
 * mapping of it (vm_object_vnode), so two processes that map it see each
 * other's writes at once.
 *
 * Context: each call runs in the calling process's own thread and works
 * on its own map (curproc->p_vmspace); the map's token, taken inside
 * vm_map_*, is the only lock, and it serializes these calls against the
 * process's page faults.  Every call may block.
 */
#include <kern/types.h>
#include <kern/device.h>
#include <kern/errno.h>
#include <kern/kernel.h>
#include <kern/proc.h>
#include <kern/file.h>
#include <kern/syscall.h>
#include <fs/vfs.h>
#include <vm/vm_map.h>
#include <vm/vm_object.h>
#include <vm/vm_page.h>

/* mmap's prot and flags (Linux values). */
#define PROT_READ	0x1
#define PROT_WRITE	0x2
#define PROT_EXEC	0x4
#define MAP_SHARED	0x01
#define MAP_PRIVATE	0x02
#define MAP_TYPE	0x0f
#define MAP_FIXED	0x10
#define MAP_ANONYMOUS	0x20
#define MAP_NORESERVE	0x4000
#define MAP_FIXED_NOREPLACE 0x100000
#define MS_ASYNC	1
#define MS_INVALIDATE	2
#define MS_SYNC		4

/* The calling process's address space. */
static struct vmspace *cur_vm(void)
{
	return curproc->p_vmspace;
}

/*
 * brk(addr): move the end of the heap to addr and return the new end;
 * any refusal returns the old end instead (Linux's raw system call
 * never fails with an errno; the C library compares the result).  0 (or
 * anything below the heap's start) is the usual way to ask where it
 * is.  Growth maps whole pages, shrinking unmaps them.
 */
int64_t sys_brk(struct trapframe *tf, const uint64_t *a)
{
	struct vmspace *vm = cur_vm();
	vm_offset_t want = a[0];
	vm_offset_t old_end = roundup2(vm->vm_brk, PAGE_SIZE);
	vm_offset_t new_end = roundup2(want, PAGE_SIZE);

	if (want < vm->vm_brk_base || want >= VM_MAX_USER_ADDRESS)
		return (int64_t)vm->vm_brk;	/* a query, or refused */
	if (new_end > old_end && !vm_page_user_room(VM_USER_CALL_PAGES))
		return (int64_t)vm->vm_brk;	/* memory is short: refused */
	if (new_end > old_end &&
	    vm_map_insert(&vm->vm_map, NULL, 0, old_end, new_end - old_end,
			  VM_PROT_READ | VM_PROT_WRITE, VM_PROT_ALL,
			  VM_INHERIT_COPY, 0) != 0)
		return (int64_t)vm->vm_brk;	/* something is in the way */
	if (new_end < old_end)
		vm_map_remove(&vm->vm_map, new_end, old_end);
	vm->vm_brk = want;
	return (int64_t)want;
}

/* PROT_* to VM_PROT_* (the same bits, named for what they are). */
static int vm_prot(uint64_t prot)
{
	return (int)(prot & (PROT_READ | PROT_WRITE | PROT_EXEC));
}

/* Where an mmap of len bytes goes: at addr for MAP_FIXED, else the
 * first hole at or above the hint (or the mmap area).  MAP_FIXED first
 * unmaps what was there, as Linux does; MAP_FIXED_NOREPLACE (which wins
 * over MAP_FIXED when both are given, as in Linux) leaves it, and the
 * insert then finds the range taken (sys_mmap says EEXIST).  EINVAL for
 * an unaligned fixed address, ENOMEM outside user space or when no hole
 * is big enough. */
static int mmap_place(struct vmspace *vm, uint64_t addr, uint64_t len,
		      uint64_t flags, vm_offset_t *where)
{
	if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
		if (addr & PAGE_MASK)
			return EINVAL;
		if (addr < VM_MIN_USER_ADDRESS ||
		    addr + len > VM_MAX_USER_ADDRESS || addr + len < addr)
			return ENOMEM;
		if (!(flags & MAP_FIXED_NOREPLACE))
			vm_map_remove(&vm->vm_map, addr, addr + len);
		*where = addr;
		return 0;
	}
	if (addr >= VM_MIN_USER_ADDRESS &&
	    vm_map_findspace(&vm->vm_map, addr, len, where) == 0)
		return 0;
	return vm_map_findspace(&vm->vm_map, vm->vm_mmap_next, len, where);
}

/*
 * A device's object (vm/device_pager.c) for len bytes at byte off, or
 * none (*objp NULL: anonymous memory) for /dev/zero (D_MMAP_ANON).
 * Device memory is shared or nothing: MAP_PRIVATE is EINVAL (a private
 * copy of a register makes no sense, and DragonFly refuses it too); the
 * driver's d_mmap refuses what it will not map (ENXIO past its end,
 * EACCES for a page or a right it keeps back); ENODEV if it has none.
 */
static int mmap_device_object(struct cdev *dev, uint64_t type, uint64_t off,
			      uint64_t len, uint64_t prot, vm_object_t *objp)
{
	if (dev->si_devsw->d_flags & D_MMAP_ANON) {
		*objp = NULL;
		return 0;
	}
	if (dev->si_devsw->d_mmap == NULL)
		return ENODEV;
	if (type != MAP_SHARED)
		return EINVAL;
	return vm_object_device(dev, off, len, vm_prot(prot), objp);
}

/*
 * The object for an mmap of len bytes at off of descriptor fd (a new
 * reference; NULL for /dev/zero, whose mapping is anonymous memory) and
 * the rights the descriptor allows (*maxprot): the file must be open for
 * reading, and for writing too if a shared mapping may ever write.
 * EBADF, ENODEV (not a regular file or a device: a pipe, the console, a
 * directory), EACCES, and a device's errors (mmap_device_object).
 */
static int mmap_file_object(uint64_t fd, uint64_t type, uint64_t prot,
			    uint64_t off, uint64_t len, vm_object_t *objp,
			    int *maxprot)
{
	struct ufile *f = fd < PROC_NFILES ? fd_get((int)fd) : NULL;
	struct file *fp = f != NULL ? ufile_vfs(f) : NULL;
	int mode;
	struct vattr va;

	if (f == NULL)
		return EBADF;
	if (fp == NULL ||
	    (fp->f_vp->v_type != VREG && fp->f_vp->v_type != VCHR))
		return ENODEV;
	mode = fp->f_flags & O_ACCMODE;
	if (mode == O_WRONLY)
		return EACCES;
	*maxprot = VM_PROT_ALL;
	if (type == MAP_SHARED && mode == O_RDONLY) {
		if (prot & PROT_WRITE)
			return EACCES;
		*maxprot &= ~VM_PROT_WRITE;
	}
	if (fp->f_vp->v_type == VCHR)
		return mmap_device_object(devfs_vnode_dev(fp->f_vp), type, off,
					  len, prot, objp);
	if (vfs_fstat(fp, &va) != 0)
		return EIO;
	*objp = vm_object_vnode(fp->f_vp, va.va_size);
	return 0;
}

/*
 * mmap(addr, len, prot, flags, fd, off): the address of the new mapping,
 * or -EINVAL (len 0 or wrapping, neither or both of MAP_SHARED and
 * MAP_PRIVATE, an unaligned offset), -ENOMEM (no room, or memory short),
 * -EEXIST (MAP_FIXED_NOREPLACE over a mapping: nothing changes), -EBADF,
 * -EACCES, -ENODEV (mmap_file_object).  Flags other than those
 * named above are ignored, as Linux ignores MAP_NORESERVE and the hint
 * flags.  Nothing is touched: every page comes at its first fault.
 */
int64_t sys_mmap(struct trapframe *tf, const uint64_t *a)
{
	struct vmspace *vm = cur_vm();
	uint64_t addr = a[0], len = roundup2(a[1], PAGE_SIZE);
	uint64_t prot = a[2], flags = a[3];
	uint64_t type = flags & MAP_TYPE;
	vm_offset_t where;
	vm_object_t obj = NULL;
	int maxprot = VM_PROT_ALL, eflags = 0, error;

	if (a[1] == 0 || len < a[1] || (type != MAP_SHARED &&
					type != MAP_PRIVATE))
		return -EINVAL;
	if (!(flags & MAP_ANONYMOUS) && (a[5] & PAGE_MASK))
		return -EINVAL;		/* the file offset: page aligned */
	if (!vm_page_user_room(VM_USER_CALL_PAGES))
		return -ENOMEM;		/* only the kernel's reserve is left */
	if (!(flags & MAP_ANONYMOUS) &&
	    (error = mmap_file_object(a[4], type, prot, a[5], len, &obj,
				      &maxprot)) != 0)
		return -error;
	if (obj == NULL)
		flags |= MAP_ANONYMOUS;	/* also /dev/zero's */
	error = mmap_place(vm, addr, len, flags, &where);
	/* Shared anonymous memory needs an object now, so that fork's
	 * child shares the object and not a copy of the entry's pages. */
	if (error == 0 && obj == NULL && type == MAP_SHARED)
		obj = vm_object_allocate(len >> PAGE_SHIFT);
	if (obj != NULL && obj->type == OBJT_VNODE && type == MAP_PRIVATE)
		eflags = MAP_ENTRY_NEEDS_COPY;	/* writes go to a shadow */
	if (error == 0)
		error = vm_map_insert(&vm->vm_map, obj,
				      (flags & MAP_ANONYMOUS) ? 0
							      : a[5] >> PAGE_SHIFT,
				      where, len, vm_prot(prot), maxprot,
				      type == MAP_SHARED ? VM_INHERIT_SHARE
							 : VM_INHERIT_COPY,
				      eflags);
	if (error == ENOMEM && (flags & MAP_FIXED_NOREPLACE))
		error = EEXIST;		/* vm_map_insert: the range is taken */
	if (error) {
		if (obj != NULL)
			vm_object_deallocate(obj);
		return -error;
	}
	return (int64_t)where;
}

/* msync(addr, len, flags): shared file pages written in the range go
 * back to their files (MS_INVALIDATE has nothing to do: every mapping of
 * an object sees its pages). */
int64_t sys_msync(struct trapframe *tf, const uint64_t *a)
{
	uint64_t addr = a[0], len = roundup2(a[1], PAGE_SIZE);

	if ((addr & PAGE_MASK) || addr + len < addr ||
	    (a[2] & ~(uint64_t)(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) ||
	    (a[2] & (MS_ASYNC | MS_SYNC)) == (MS_ASYNC | MS_SYNC))
		return -EINVAL;
	if (len == 0)
		return 0;
	return -vm_map_msync(&cur_vm()->vm_map, addr, addr + len,
			     (a[2] & MS_SYNC) != 0);
}

/* munmap(addr, len): remove every mapping in the range (a hole in it is
 * no error, as in Linux); the last mapping of a shared file's object
 * writes its pages back first.  EINVAL for an unaligned address, len 0,
 * or a range that wraps or leaves user space. */
int64_t sys_munmap(struct trapframe *tf, const uint64_t *a)
{
	uint64_t addr = a[0], len = roundup2(a[1], PAGE_SIZE);

	if ((addr & PAGE_MASK) || a[1] == 0 || addr + len < addr ||
	    addr + len > VM_MAX_USER_ADDRESS)
		return -EINVAL;
	return -vm_map_remove(&cur_vm()->vm_map, addr, addr + len);
}

/* mprotect(addr, len, prot): new rights for every page in the range,
 * within each mapping's maximum (EACCES past it, as a write on a
 * read-only shared file).  ENOMEM when part of the range is unmapped,
 * EINVAL for an unaligned address or unknown prot bits. */
int64_t sys_mprotect(struct trapframe *tf, const uint64_t *a)
{
	uint64_t addr = a[0], len = roundup2(a[1], PAGE_SIZE);

	if ((addr & PAGE_MASK) || addr + len < addr ||
	    (a[2] & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC)))
		return -EINVAL;
	if (len == 0)
		return 0;
	return -vm_map_protect(&cur_vm()->vm_map, addr, addr + len,
			       vm_prot(a[2]));
}
