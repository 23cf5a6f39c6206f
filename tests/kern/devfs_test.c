/*
 * devfs_test.c - /dev (fs/devfs.c), the memory devices
 * (kern/kern_memio.c) and the device pager (vm/device_pager.c), suite
 * `devfs`.
 *
 * The kernel-level tests run on any root (a tmpfs root gets its /dev at
 * boot): the VFS view of /dev, and a device object over a page a test
 * "driver" owns, faulted into an address space of the test's own.  The
 * rest run tests/user/devtest.c and busybox from the `user` group's
 * disk, and skip without it.
 *
 * The physical page the /dev/mem test maps is the VGA text buffer at
 * 0xb8000, which QEMU's pc and q35 machines have (their VGA card's
 * legacy window): device memory, in none of the memory map's RAM.  The
 * test keeps its bytes and puts them back.  The device memory it must
 * refuse is the I/O APIC's registers at 0xfec00000, which the kernel's
 * driver has mapped.
 */
#include <kern/errno.h>
#include <kern/device.h>
#include <kern/file.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/proc.h>
#include <kern/signal.h>
#include <fs/vfs.h>
#include <vm/vm_kern.h>
#include <vm/vm_map.h>
#include <vm/vm_object.h>
#include <vm/vm_page.h>
#include <kern/clock.h>
#include <kern/globaldata.h>
#include <uapi/damselfly/kpmap.h>

#define OUT_MAX	 2048
#define VGA_TEXT 0xb8000UL	/* the VGA text buffer (device memory) */
#define DEV_VA	 0x60000000UL	/* where the kernel-level test maps */

static char *const test_envp[] = { "PATH=/bin", "HOME=/", NULL };

/* ---- running a program -------------------------------------------------- */

/* Run path with argv, stdout and stderr into out (NUL-terminated);
 * returns the wait status, or -1 if it could not start. */
static int run(const char *path, char *const argv[], char *out)
{
	struct ufile *sink = ufile_sink(OUT_MAX - 1);
	struct spawn_opts opts = { .stdio = { NULL, sink, sink }, .cpu = -1 };
	int pid = 0, status = -1;

	if (proc_spawn(path, argv, test_envp, &opts, &pid) == 0)
		status = proc_wait(pid);
	strlcpy(out, ufile_sink_data(sink, NULL), OUT_MAX);
	ufile_rele(sink);
	return status;
}

static void need_programs(void)
{
	struct vattr va;

	if (vfs_stat("/bin/devtest", &va) != 0)
		KT_SKIP("no /bin/devtest: boot with the user disk "
			"(build/user.img, group `user`)");
}

/* ---- /dev through the VFS -------------------------------------------------- */

KTEST(devfs, dev_holds_the_devices_and_null_and_zero_read_and_write)
{
	struct file *fp;
	struct vattr va;
	char buf[16];
	size_t done = 99;

	KT_ASSERT_EQ(vfs_stat("/dev/null", &va), 0);
	KT_EXPECT_TRUE(S_ISCHR(va.va_mode));
	KT_EXPECT_EQ(va.va_rdev, makedev(1, 3));
	KT_ASSERT_EQ(vfs_open("/dev/null", O_RDWR, 0, &fp), 0);
	KT_EXPECT_EQ(vfs_read(fp, buf, sizeof(buf), &done), 0);
	KT_EXPECT_EQ(done, 0);
	KT_EXPECT_EQ(vfs_write(fp, "abc", 3, &done), 0);
	KT_EXPECT_EQ(done, 3);
	vfs_close(fp);
	KT_ASSERT_EQ(vfs_open("/dev/zero", O_RDONLY, 0, &fp), 0);
	memset(buf, 'x', sizeof(buf));
	KT_EXPECT_EQ(vfs_read(fp, buf, sizeof(buf), &done), 0);
	KT_EXPECT_EQ(done, sizeof(buf));
	KT_EXPECT_EQ(buf[0] | buf[7] | buf[15], 0);
	vfs_close(fp);
	KT_EXPECT_EQ(vfs_stat("/dev/nothere", &va), ENOENT);
	KT_EXPECT_EQ(vfs_open("/dev/new", O_RDWR | O_CREAT, 0644, &fp), EPERM);
	KT_EXPECT_EQ(vfs_unlink("/dev/zero"), EPERM);
	KT_EXPECT_EQ(vfs_mkdir("/dev/sub", 0755), EPERM);
	KT_EXPECT_EQ(vfs_open("/dev/mem", O_RDONLY, 0, &fp), 0);
	KT_EXPECT_EQ(vfs_read(fp, buf, 1, &done), ENODEV);
	vfs_close(fp);
}

/* ---- the device pager, without a user program ------------------------------- */

static vm_page_t driver_page;		/* what the test "driver" owns */
static int driver_cache = PMAP_CACHE_WB; /* what its d_mmap answers */

/* One page long; never executable. */
static int testdev_mmap(struct cdev *dev, uint64_t off, int prot,
			vm_paddr_t *pa, int *cache)
{
	if (off >= PAGE_SIZE)
		return ENXIO;
	if (prot & VM_PROT_EXECUTE)
		return EACCES;
	*pa = VM_PAGE_TO_PHYS(driver_page);
	*cache = driver_cache;
	return 0;
}

static const struct cdevsw testdev_cdevsw = {
	.d_name = "testpage", .d_mmap = testdev_mmap,
};

static struct cdev testdev = {
	.si_name = "testpage", .si_devsw = &testdev_cdevsw,
};

/* Map the driver's page at DEV_VA of a new address space. */
static struct vmspace *map_testdev(void)
{
	struct vmspace *vm = vmspace_alloc();
	vm_object_t obj;

	KT_ASSERT_EQ(vm_object_device(&testdev, 0, PAGE_SIZE, VM_PROT_READ |
				      VM_PROT_WRITE, &obj), 0);
	KT_EXPECT_EQ(obj->type, OBJT_DEVICE);
	KT_ASSERT_EQ(vm_map_insert(&vm->vm_map, obj, 0, DEV_VA, PAGE_SIZE,
				   VM_PROT_READ | VM_PROT_WRITE, VM_PROT_ALL,
				   VM_INHERIT_SHARE, 0), 0);
	return vm;
}

KTEST(devfs, a_device_object_refuses_what_the_driver_refuses)
{
	vm_object_t obj = NULL;

	KT_EXPECT_EQ(vm_object_device(&testdev, PAGE_SIZE, PAGE_SIZE,
				      VM_PROT_READ, &obj), ENXIO);
	KT_EXPECT_EQ(vm_object_device(&testdev, 0, 2 * PAGE_SIZE,
				      VM_PROT_READ, &obj), ENXIO);
	KT_EXPECT_EQ(vm_object_device(&testdev, 0, PAGE_SIZE, VM_PROT_READ |
				      VM_PROT_EXECUTE, &obj), EACCES);
	KT_EXPECT_TRUE(obj == NULL);
}

KTEST(devfs, a_device_page_is_mapped_shared_by_fork_with_its_cache_mode_and_never_freed)
{
	struct vm_object_stats before, after;
	struct vmspace *vm, *child;
	vm_paddr_t pa;
	uint64_t pages;
	int prot = 0;

	driver_page = vm_page_alloc(VM_ALLOC_ZERO);
	pa = VM_PAGE_TO_PHYS(driver_page);
	strlcpy(vm_page_to_dmap(driver_page), "the driver's", PAGE_SIZE);
	vm_object_get_stats(&before);
	pages = vm_page_leak_sample();
	vm = map_testdev();
	KT_EXPECT_EQ(vm_fault(&vm->vm_map, DEV_VA, VM_PROT_WRITE),
		     KERN_SUCCESS);
	KT_EXPECT_EQ(pmap_extract(&vm->vm_pmap, DEV_VA, &prot), pa);
	KT_EXPECT_TRUE(prot & VM_PROT_WRITE);
	KT_EXPECT_EQ(pmap_cache_mode(&vm->vm_pmap, DEV_VA), PMAP_CACHE_WB);
	KT_EXPECT_EQ(vm_map_lookup_entry(&vm->vm_map, DEV_VA)->object
			     ->resident_page_count, 0);
	/* fork shares the entry: the child faults in the same page, with
	 * the cache mode the driver names now (registers: uncached).  The
	 * page is never touched through that mapping. */
	child = vmspace_fork(vm);
	driver_cache = PMAP_CACHE_UC;
	KT_EXPECT_EQ(vm_fault(&child->vm_map, DEV_VA, VM_PROT_WRITE),
		     KERN_SUCCESS);
	driver_cache = PMAP_CACHE_WB;
	KT_EXPECT_EQ(pmap_extract(&child->vm_pmap, DEV_VA, NULL), pa);
	KT_EXPECT_EQ(pmap_cache_mode(&child->vm_pmap, DEV_VA), PMAP_CACHE_UC);
	/* Rights the driver refuses fail at the fault, as a protection
	 * failure (SIGSEGV), not a panic. */
	KT_EXPECT_EQ(vm_map_protect(&child->vm_map, DEV_VA, DEV_VA + PAGE_SIZE,
				    VM_PROT_READ | VM_PROT_EXECUTE), 0);
	KT_EXPECT_EQ(vm_fault(&child->vm_map, DEV_VA, VM_PROT_READ),
		     KERN_PROTECTION_FAILURE);
	vmspace_free(child);
	vmspace_free(vm);
	/* The page is still the driver's: allocated, its bytes intact, no
	 * page counted in or out. */
	KT_EXPECT_EQ(driver_page->flags & PG_FREE, 0);
	KT_EXPECT_STREQ(vm_page_to_dmap(driver_page), "the driver's");
	KT_EXPECT_EQ(vm_page_leak_sample(), pages);
	vm_object_get_stats(&after);
	KT_EXPECT_EQ(after.objects, before.objects);
	KT_EXPECT_EQ(after.pages, before.pages);
	vm_page_free(driver_page);
}

/* ---- user programs ---------------------------------------------------------- */

KTEST(devfs, a_program_reads_and_writes_null_and_zero_and_lists_dev)
{
	char *argv[] = { "devtest", "files", NULL };
	char *out;

	need_programs();
	out = kmalloc(OUT_MAX, M_TEMP, M_WAITOK);
	KT_EXPECT_EQ(run("/bin/devtest", argv, out), W_EXITCODE(0));
	KT_EXPECT_STREQ(out,
		"/dev: console kpmap mem null tty zero\n"
		"null: read 0, write 3, creat+trunc ok\n"
		"zero: read 64, all zero 1, write 3\n"
		"stat null: chr 1, rdev 1:3, mode 666\n"
		"stat /dev: dir 1\n"
		"open missing ENOENT, create EPERM, unlink EPERM, mkdir EPERM\n"
		"tty: open ok, isatty 1\n"
		"map zero: first 0 last 0, stored 7\n");
	kfree(out, M_TEMP);
}

/* The VGA text buffer through the direct map (its memory type is the
 * MTRRs' for the legacy window: uncached); NULL (the test skips) if it
 * does not hold what is stored in it: no VGA.  Not pmap_mapdev: what
 * that maps is a driver's, which /dev/mem then refuses. */
static char *vga_map(char *saved)
{
	char *vga = PHYS_TO_DMAP(VGA_TEXT);

	memcpy(saved, vga, PAGE_SIZE);
	vga[0x10] = 0x5a;
	return vga[0x10] == 0x5a ? vga : NULL;
}

/* Run devtest mem on the VGA page: the kernel's string must reach the
 * program, the parent's and the child's stores the page itself. */
static void mem_round_trip(char *vga, char *out)
{
	char *argv[] = { "devtest", "mem", "0xb8000", NULL };

	memset(vga + 0x100, 0, 0x300);
	strlcpy(vga + 0x100, "from the kernel", 32);
	KT_EXPECT_EQ(run("/bin/devtest", argv, out), W_EXITCODE(0));
	KT_EXPECT_STREQ(out, "kernel wrote: from the kernel\n"
			     "child sees: from the parent\n"
			     "parent sees: from the child\n");
	KT_EXPECT_STREQ(vga + 0x200, "from the parent");
	KT_EXPECT_STREQ(vga + 0x300, "from the child");
}

KTEST(devfs, dev_mem_maps_device_memory_shared_with_a_child_and_frees_nothing)
{
	struct vm_object_stats before, after;
	char *out, *saved, *vga;
	uint64_t pages;

	need_programs();
	out = kmalloc(OUT_MAX, M_TEMP, M_WAITOK);
	saved = kmalloc(PAGE_SIZE, M_TEMP, M_WAITOK);
	if ((vga = vga_map(saved)) == NULL) {
		kfree(saved, M_TEMP);
		kfree(out, M_TEMP);
		KT_SKIP("no memory at 0xb8000 (a machine without VGA)");
	}
	/* A first run, so that the kernel stacks exited threads leave
	 * parked on their CPUs (freed lazily) are there both times the
	 * pages are counted. */
	mem_round_trip(vga, out);
	vfs_drain();
	vm_object_get_stats(&before);
	pages = vm_page_leak_sample();
	mem_round_trip(vga, out);
	vfs_drain();
	KT_EXPECT_EQ(vm_page_leak_sample(), pages);
	vm_object_get_stats(&after);
	KT_EXPECT_EQ(after.objects, before.objects);
	KT_EXPECT_EQ(after.pages, before.pages);
	memcpy(vga, saved, PAGE_SIZE);
	kfree(saved, M_TEMP);
	kfree(out, M_TEMP);
}

KTEST(devfs, dev_mem_refuses_ram_private_maps_bad_rights_and_the_far_end)
{
	char *argv[] = { "devtest", "memerrors", NULL };
	char *out;

	need_programs();
	out = kmalloc(OUT_MAX, M_TEMP, M_WAITOK);
	KT_EXPECT_EQ(run("/bin/devtest", argv, out), W_EXITCODE(0));
	KT_EXPECT_STREQ(out,
		"vga shared ok, private EINVAL, I/O APIC EACCES\n"
		"ram at 0 EACCES, at 1 MiB EACCES, crossing into RAM EACCES\n"
		"32 GiB above 4 GiB ok, past the end ENXIO, exec EACCES, "
		"write on read-only open EACCES\n"
		"map null ENODEV, read mem ENODEV\n"
		"touch after mprotect exec: SIGSEGV\n");
	kfree(out, M_TEMP);
}

KTEST(devfs, busybox_lists_dev_and_redirects_to_dev_null)
{
	char *argv[] = { "sh", "-c", "ls /dev; echo x > /dev/null; "
			 "cat /dev/null; echo status $?; "
			 "head -c 4 /dev/zero | wc -c", NULL };
	char *out;
	struct vattr va;

	need_programs();
	if (vfs_stat("/bin/busybox", &va) != 0)
		KT_SKIP("no /bin/busybox on the user disk");
	out = kmalloc(OUT_MAX, M_TEMP, M_WAITOK);
	KT_EXPECT_EQ(run("/bin/busybox", argv, out), W_EXITCODE(0));
	KT_EXPECT_STREQ(out, "console\nkpmap\nmem\nnull\ntty\nzero\nstatus 0\n"
			     "4\n");
	kfree(out, M_TEMP);
}

KTEST(devfs, kpmap_is_the_kernels_page_read_only_and_outlives_its_mappers)
{
	char *argv[] = { "devtest", "kpmap", NULL };
	char *out, *want;
	vm_page_t m;
	uint64_t pages;

	need_programs();
	out = kmalloc(OUT_MAX, M_TEMP, M_WAITOK);
	want = kmalloc(OUT_MAX, M_TEMP, M_WAITOK);
	m = PHYS_TO_VM_PAGE(pmap_kextract((vm_offset_t)kpmap));
	KT_ASSERT_TRUE(m != NULL);
	ksnprintf(want, OUT_MAX, "version %u, hz %d, cpus %d, tsc known 1\n"
		  "ticks moved 1\n"
		  "write EACCES, private EINVAL, past the page ENXIO, read 4 "
		  "version %u\n"
		  "store: SIGSEGV\n"
		  "store after mprotect: SIGSEGV\n", KPMAP_VERSION, hz, ncpus,
		  KPMAP_VERSION);
	/* Twice: the first run leaves the kernel stacks of exited threads
	 * parked on their CPUs (freed lazily), as the second will. */
	KT_EXPECT_EQ(run("/bin/devtest", argv, out), W_EXITCODE(0));
	KT_EXPECT_STREQ(out, want);
	vfs_drain();
	pages = vm_page_leak_sample();
	KT_EXPECT_EQ(run("/bin/devtest", argv, out), W_EXITCODE(0));
	KT_EXPECT_STREQ(out, want);
	vfs_drain();
	/* Every mapping of it is gone; the page is still the driver's. */
	KT_EXPECT_EQ(m->flags & PG_FREE, 0);
	KT_EXPECT_EQ(kpmap->kp_version, KPMAP_VERSION);
	KT_EXPECT_EQ(vm_page_leak_sample(), pages);
	kfree(want, M_TEMP);
	kfree(out, M_TEMP);
}
