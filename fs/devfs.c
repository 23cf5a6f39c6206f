/*
 * devfs.c - the device filesystem: /dev, one name per device a driver
 * made (include/kern/device.h).
 *
 * devfs is an ordinary filesystem type for the VFS, mounted on /dev at
 * boot (devfs_mount_boot), so a path such as "/dev/zero" is found by the
 * usual lookup: the root's /dev directory is covered by the mount, whose
 * root directory lists the devices.
 *
 *   /dev                    inode 1, a directory with no subdirectory
 *     null  zero  mem ...   inode 2 + the device's index, type VCHR,
 *                           v_data = its struct cdev
 *
 * A device vnode's reads and writes go to the driver (d_read, d_write),
 * so an open device is a plain vnode file for everything above the VFS:
 * its descriptor has an offset, fstat says S_IFCHR and st_rdev, and
 * mmap asks the driver's d_mmap (kern/sys_mman.c, vm/device_pager.c).
 *
 * Names are the drivers', never the users': create of a name that is not
 * there, mkdir, link, symlink, unlink, rename and chmod are EPERM.  An
 * O_TRUNC open of a device truncates nothing (as on any Unix system).
 *
 * Locking: none.  The device table is filled at boot before the mount
 * and never changes after (make_dev's contract), so every operation
 * reads it freely; the VFS's own tokens protect the vnodes.
 */
#include <kern/types.h>
#include <kern/device.h>
#include <kern/errno.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <drivers/rtc.h>
#include <fs/vfs.h>

#define DEVFS_MAX_DEVICES 16	/* the kernel makes six */
#define DEVFS_ROOT_INO	  1	/* the directory; devices from 2 on */

static struct cdev devices[DEVFS_MAX_DEVICES];
static int ndevices;			/* boot only, then read-only */
static uint64_t devfs_time_ns;		/* every inode's times: the mount */

static const struct vop_ops devfs_vops;

/* ---- the device table ---------------------------------------------------- */

/*
 * A device is a slot of the static table: its inode number is fixed by
 * its slot, so a vnode of it (cached by the VFS) finds the same device
 * for as long as the kernel runs.  Boot only (see the file comment).
 */
struct cdev *make_dev(const struct cdevsw *devsw, const char *name,
		      uint32_t mode, uint64_t rdev, void *drv1)
{
	struct cdev *dev;

	if (ndevices == DEVFS_MAX_DEVICES)
		panic("make_dev(%s): more than %d devices; raise "
		      "DEVFS_MAX_DEVICES in fs/devfs.c", name,
		      DEVFS_MAX_DEVICES);
	KASSERT(dev_lookup(name) == NULL && strchr(name, '/') == NULL,
		"make_dev: \"%s\" is made twice or is not one path "
		"component", name);
	dev = &devices[ndevices];
	*dev = (struct cdev){ .si_name = name, .si_devsw = devsw,
			      .si_mode = mode & 07777, .si_rdev = rdev,
			      .si_ino = DEVFS_ROOT_INO + 1 + ndevices,
			      .si_drv1 = drv1 };
	ndevices++;
	return dev;
}

/* The device made as name, or NULL.  A linear search: a handful of
 * devices, and the name cache in front.  Any thread; never blocks. */
struct cdev *dev_lookup(const char *name)
{
	for (int i = 0; i < ndevices; i++)
		if (strcmp(devices[i].si_name, name) == 0)
			return &devices[i];
	return NULL;
}

/* The device behind device vnode vp (kern_descrip.c asks whether an
 * open file is a terminal).  vp must be a devfs device vnode. */
struct cdev *devfs_vnode_dev(struct vnode *vp)
{
	KASSERT(vp->v_type == VCHR && vp->v_ops == &devfs_vops,
		"devfs_vnode_dev: vnode %p (type %d) is not a device", vp,
		vp->v_type);
	return vp->v_data;
}

/* ---- vnodes -------------------------------------------------------------- */

/* vfs_vget's init: the root (arg NULL) or a device's vnode. */
static int vnode_init(struct vnode *vp, void *arg)
{
	vp->v_type = arg == NULL ? VDIR : VCHR;
	vp->v_ops = &devfs_vops;
	vp->v_data = arg;
	return 0;
}

/* The vnode of dev on mount mp, referenced (made on first use). */
static int dev_vnode(struct mount *mp, struct cdev *dev, struct vnode **vpp)
{
	return vfs_vget(mp, dev->si_ino, 0, vnode_init, dev, vpp);
}

/* The device behind vp, or NULL for the root directory. */
static struct cdev *dev_of(struct vnode *vp)
{
	return vp->v_data;
}

/* ---- the vops ------------------------------------------------------------- */

/*
 * Contracts are struct vop_ops's (fs/vfs.h).  None blocks except in a
 * driver's d_read or d_write, and none takes a lock of its own (the
 * table is read-only; see the file comment).  Only the root directory
 * has names: the VFS never asks a device vnode for one (it is not a
 * directory: ENOTDIR before any vop).
 */

/* The vnode of device name; ENOENT if no driver made it. */
static int devfs_lookup(struct vnode *dvp, const char *name,
			struct vnode **vpp)
{
	struct cdev *dev = dev_lookup(name);

	return dev == NULL ? ENOENT : dev_vnode(dvp->v_mount, dev, vpp);
}

/* O_CREAT of a device that is there opens it (EEXIST tells the VFS to
 * look it up); any other name cannot be made. */
static int devfs_create(struct vnode *dvp, const char *name, uint32_t mode,
			struct vnode **vpp)
{
	return dev_lookup(name) != NULL ? EEXIST : EPERM;
}

/* mkdir, symlink, link, unlink, rmdir, rename: names are the drivers'. */
static int devfs_mkdir(struct vnode *dvp, const char *name, uint32_t mode,
		       struct vnode **vpp)
{
	return EPERM;
}

static int devfs_symlink(struct vnode *dvp, const char *name,
			 const char *target)
{
	return EPERM;
}

static int devfs_link(struct vnode *vp, struct vnode *dvp, const char *name)
{
	return EPERM;
}

static int devfs_remove(struct vnode *dvp, const char *name)
{
	return EPERM;
}

static int devfs_rename(struct vnode *fdvp, const char *fname,
			struct vnode *tdvp, const char *tname)
{
	return EPERM;
}

static int devfs_readlink(struct vnode *vp, char *buf, size_t size,
			  size_t *len)
{
	return EINVAL;			/* devfs has no links */
}

/* The driver's read; the VFS has refused the directory (EISDIR).  A
 * device with no d_read (/dev/mem maps only) is ENODEV. */
static int devfs_read(struct vnode *vp, uint64_t off, void *buf, size_t len,
		      size_t *done)
{
	struct cdev *dev = dev_of(vp);

	*done = 0;
	if (dev->si_devsw->d_read == NULL)
		return ENODEV;
	return dev->si_devsw->d_read(dev, off, buf, len, done);
}

/* The driver's write, at the offset (a device has no end to append
 * at); *offp moves past it. */
static int devfs_write(struct vnode *vp, uint64_t *offp, const void *buf,
		       size_t len, int ioflag)
{
	struct cdev *dev = dev_of(vp);
	int error;

	if (vp->v_type != VCHR)
		return EISDIR;
	if (dev->si_devsw->d_write == NULL)
		return ENODEV;
	error = dev->si_devsw->d_write(dev, *offp, buf, len);
	if (error == 0)
		*offp += len;
	return error;
}

/* A device: S_IFCHR, its permission bits and number, size 0.  The
 * directory: S_IFDIR 0755.  Every time is the mount's. */
static int devfs_getattr(struct vnode *vp, struct vattr *va)
{
	struct cdev *dev = dev_of(vp);

	*va = (struct vattr){
		.va_ino = dev ? dev->si_ino : DEVFS_ROOT_INO,
		.va_mode = dev ? S_IFCHR | dev->si_mode : S_IFDIR | 0755,
		.va_nlink = dev ? 1 : 2,
		.va_rdev = dev ? dev->si_rdev : 0,
		.va_atime_ns = devfs_time_ns, .va_mtime_ns = devfs_time_ns,
		.va_ctime_ns = devfs_time_ns,
	};
	return 0;
}

/* Only O_TRUNC's size change is accepted, and changes nothing. */
static int devfs_setattr(struct vnode *vp, const struct vsetattr *sa)
{
	if (vp->v_type == VCHR && sa->valid == VA_SET_SIZE)
		return 0;
	return EPERM;
}

/* ".", "..", then the devices in the order they were made; a device's
 * cookie is its inode number + 1 (past "." 1 and ".." 2). */
static int devfs_readdir(struct vnode *vp, uint64_t cookie,
			 vfs_filldir_t fill, void *arg)
{
	if (cookie < 1 && fill(arg, &(struct vdirent){ DEVFS_ROOT_INO, 1,
						       VDIR, ".", 1 }))
		return 0;
	if (cookie < 2 && fill(arg, &(struct vdirent){ DEVFS_ROOT_INO, 2,
						       VDIR, "..", 2 }))
		return 0;
	for (int i = 0; i < ndevices; i++) {
		struct cdev *dev = &devices[i];
		struct vdirent d = { dev->si_ino, dev->si_ino + 1, VCHR,
				     dev->si_name, strlen(dev->si_name) };

		if (d.cookie > cookie && fill(arg, &d))
			break;
	}
	return 0;
}

/* fsync of a device: devfs holds no data of its own to write back. */
static int devfs_fsync(struct vnode *vp)
{
	return 0;			/* nothing is kept */
}

static const struct vop_ops devfs_vops = {
	.vop_lookup = devfs_lookup,	.vop_create = devfs_create,
	.vop_mkdir = devfs_mkdir,	.vop_symlink = devfs_symlink,
	.vop_link = devfs_link,		.vop_unlink = devfs_remove,
	.vop_rmdir = devfs_remove,	.vop_rename = devfs_rename,
	.vop_readlink = devfs_readlink,	.vop_read = devfs_read,
	.vop_write = devfs_write,	.vop_getattr = devfs_getattr,
	.vop_setattr = devfs_setattr,	.vop_readdir = devfs_readdir,
	.vop_fsync = devfs_fsync,
};

/* ---- the mount: no state of its own but the time it was made ---- */

/* Mount: only the time, which every inode shows as its times. */
static int devfs_mount(struct mount *mp, const char *source, unsigned flags)
{
	devfs_time_ns = clock_realtime_ns();
	return 0;
}

/* Nothing to flush or free: the vnodes' data is the static table. */
static int devfs_unmount(struct mount *mp)
{
	return 0;
}

/* The directory, inode DEVFS_ROOT_INO (v_data NULL). */
static int devfs_root(struct mount *mp, struct vnode **vpp)
{
	return vfs_vget(mp, DEVFS_ROOT_INO, 0, vnode_init, NULL, vpp);
}

/* No blocks; its files are the devices and the directory. */
static int devfs_statfs(struct mount *mp, struct vstatfs *st)
{
	st->blocks = st->free_blocks = 0;
	st->files = (uint64_t)ndevices + 1;
	return 0;
}

/* Sync: devfs keeps no data, so there is nothing to commit. */
static int devfs_sync(struct mount *mp)
{
	return 0;
}

static const struct vfsops devfs_vfsops = {
	.name = "devfs", .vfs_mount = devfs_mount,
	.vfs_unmount = devfs_unmount, .vfs_root = devfs_root,
	.vfs_statfs = devfs_statfs, .vfs_sync = devfs_sync,
};

/*
 * A root on tmpfs starts empty, so /dev is made there; a disk's root
 * must have it (make puts one in the images it builds).  Without /dev
 * the devices are not reachable by path, and the kernel says so (and
 * boots on: a program that needs no device still runs).  Boot only,
 * after the root is mounted and after every driver's make_dev.
 */
void devfs_mount_boot(void)
{
	struct vstatfs st;
	int error;

	vfs_register(&devfs_vfsops);
	if (vfs_statfs("/", &st) == 0 && strcmp(st.fstype, "tmpfs") == 0)
		(void)vfs_mkdir("/dev", 0755);
	error = vfs_mount("devfs", NULL, "/dev", 0);
	if (error != 0)
		kprintf("devfs: not mounted on /dev (error %d): the root has "
			"no /dev directory\n", error);
}
