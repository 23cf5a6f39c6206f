/*
 * kern/device.h - character devices: what a driver gives the kernel so
 * that user programs can reach it by a name under /dev (fs/devfs.c;
 * drivers in kern/kern_memio.c; docs/user.md, docs/vm.md section 7).
 *
 * A driver fills a struct cdevsw (its operations) and calls make_dev()
 * at boot for each device it has; devfs, mounted on /dev, lists every
 * device made and hands its vnodes the device:
 *
 *   open("/dev/zero")  -> vfs_namei -> devfs vnode (VCHR, v_data = cdev)
 *   read(fd, ...)      -> vop_read  -> cdev->si_devsw->d_read
 *   mmap(fd, ...)      -> vm_object_device -> d_mmap for every page
 *   page fault         -> vm_fault  -> d_mmap -> the physical page
 *
 * d_mmap is the device pager's one question (vm/device_pager.c): "which
 * physical page holds byte offset off of the device, and may it be
 * mapped with prot?"  The page is the device's -- registers, a frame
 * buffer, a page the driver owns -- and never the allocator's: the VM
 * maps it and unmaps it but never frees it, copies it or counts it.
 *
 * Devices are made at boot, by one thread, before the first user
 * program, and are never removed: the table needs no lock after that.
 */
#ifndef KERN_DEVICE_H
#define KERN_DEVICE_H

#include <kern/types.h>

struct cdev;

/* d_flags. */
#define D_TTY		0x1	/* opening it gives the console's ufile */
#define D_MMAP_ANON	0x2	/* mmap gives anonymous memory (/dev/zero) */

/*
 * A driver's operations.  Each returns 0 or a kernel errno and may
 * block; buf is a kernel buffer.  A NULL operation is refused with
 * ENODEV.
 */
struct cdevsw {
	const char *d_name;
	unsigned d_flags;
	/* Up to len bytes at off into buf; *done: how many (0: the end). */
	int (*d_read)(struct cdev *dev, uint64_t off, void *buf, size_t len,
		      size_t *done);
	/* len bytes at off (all of them, or an error). */
	int (*d_write)(struct cdev *dev, uint64_t off, const void *buf,
		       size_t len);
	/*
	 * The physical page of byte off (page aligned) for a mapping with
	 * prot (VM_PROT_*), and its cache mode (PMAP_CACHE_*), or: ENXIO
	 * past the end of the device, EACCES for a page it will not let
	 * be mapped or not with prot.  Any context that may take a token;
	 * must not block (the fault path holds its map's token).
	 */
	int (*d_mmap)(struct cdev *dev, uint64_t off, int prot,
		      vm_paddr_t *pa, int *cache);
	/*
	 * Optional: d_mmap's answer for a whole range [off, off + len) at
	 * once -- 0 if every page may be mapped with prot, else the error
	 * the first refused page would get -- for a device whose pages can
	 * be judged without asking one by one (/dev/mem: a range of
	 * terabytes is a few comparisons).  Without it, mmap asks d_mmap
	 * for every page.  Same context as d_mmap.
	 */
	int (*d_mmap_range)(struct cdev *dev, uint64_t off, uint64_t len,
			    int prot);
};

/* One device.  Set by make_dev, then never changed. */
struct cdev {
	const char *si_name;		/* its name under /dev */
	const struct cdevsw *si_devsw;
	uint32_t si_mode;		/* permission bits for stat */
	uint64_t si_rdev;		/* st_rdev: major << 8 | minor */
	uint64_t si_ino;		/* its devfs inode number */
	void *si_drv1;			/* the driver's */
};

/* Linux's device number encoding for numbers below 256 (st_rdev). */
#define makedev(major, minor) (((uint64_t)(major) << 8) | (minor))

/*
 * Make device name (one path component, kept by reference) with
 * operations devsw, permission bits mode and number rdev; drv1 is the
 * driver's.  Boot only, before user programs run; panics when the table
 * (DEVFS_MAX_DEVICES) is full -- a build-time size, raise it.
 */
struct cdev *make_dev(const struct cdevsw *devsw, const char *name,
		      uint32_t mode, uint64_t rdev, void *drv1);

/* The device named name, or NULL.  Any thread. */
struct cdev *dev_lookup(const char *name);

/* The device behind a devfs vnode of type VCHR.  Any thread. */
struct vnode;
struct cdev *devfs_vnode_dev(struct vnode *vp);

/* Make the memory devices and the console's (kern/kern_memio.c):
 * null, zero, mem, kpmap, console, tty.  Boot, once, after the clock
 * and the other CPUs started, before vfs_init. */
void memio_init(void);

/* The kernel's shared page (/dev/kpmap), NULL before memio_init.
 * hardclock writes kp_ticks on CPU 0; everything else is set once. */
struct kpmap;
extern struct kpmap *kpmap;

/* Mount devfs on /dev (a tmpfs root gets the directory made).  Boot,
 * from vfs_init, after the root is mounted. */
void devfs_mount_boot(void);

#endif /* KERN_DEVICE_H */
