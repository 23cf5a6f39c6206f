/*
 * blkerr_test.c - device errors reach the caller as EIO and hurt nothing
 * else.
 *
 * Suite `blk_errors` runs in group `blkerr`, whose disk sits on QEMU's
 * blkdebug driver with three errors planted (tests/ktest-groups): reads
 * of sector 4096 always fail, writes of sector 8192 always fail, and the
 * first write of sector 16384 fails once.  Suite `hmr_errors` (group
 * `hmr`) makes the driver fail chosen requests (blkdev inject_eio) under
 * a mounted HMR filesystem, whose image the runner then checks on the
 * host.
 */
#include <kern/errno.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <drivers/blkdev.h>
#include <fs/bio.h>
#include <fs/vfs.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>
#include "vfs_cases.h"

#define BAD_READ_SECTOR		4096
#define BAD_WRITE_SECTOR	8192
#define ONCE_WRITE_SECTOR	16384

static struct blkdev *blkdebug_disk(void)
{
	struct blkdev *bd = blkdev_find(NULL);

	if (bd == NULL)
		KT_SKIP("no virtio-blk disk attached to this boot");
	return bd;
}

KTEST(blk_errors, a_bad_sector_reads_as_eio_and_its_neighbours_do_not)
{
	struct blkdev *bd = blkdebug_disk();
	uint8_t *buf = kmem_alloc(4096, 0);
	uint64_t errors = bd->stats.errors;
	struct buf *bp;

	KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, BAD_READ_SECTOR, buf, 512), EIO);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, BAD_READ_SECTOR, buf, 512), EIO);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, BAD_READ_SECTOR - 8, buf, 4096),
		     0);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, BAD_READ_SECTOR + 8, buf, 4096),
		     0);
	KT_EXPECT_EQ(bd->stats.errors, errors + 2);
	/* Through the cache: EIO, and nothing is cached for the block. */
	KT_EXPECT_EQ(bread(bd, BAD_READ_SECTOR / 8, &bp), EIO);
	KT_EXPECT_EQ(bread(bd, BAD_READ_SECTOR / 8, &bp), EIO);
	kmem_free(buf, 4096);
}

KTEST(blk_errors, a_bad_sector_refuses_writes_and_the_disk_goes_on)
{
	struct blkdev *bd = blkdebug_disk();
	uint8_t *buf = kmem_alloc(4096, VM_ALLOC_ZERO);

	buf[0] = 0x77;
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_WRITE, BAD_WRITE_SECTOR, buf, 4096),
		     EIO);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_WRITE, BAD_WRITE_SECTOR + 8, buf, 4096),
		     0);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_FLUSH, 0, NULL, 0), 0);
	kmem_free(buf, 4096);
}

KTEST(blk_errors, a_transient_write_error_fails_once_then_the_data_lands)
{
	struct blkdev *bd = blkdebug_disk();
	uint8_t *out = kmem_alloc(4096, 0), *in = kmem_alloc(4096, 0);

	memset(out, 0x5c, 4096);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_WRITE, ONCE_WRITE_SECTOR, out, 4096),
		     EIO);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_WRITE, ONCE_WRITE_SECTOR, out, 4096), 0);
	KT_EXPECT_EQ(blkdev_rw(bd, BLK_READ, ONCE_WRITE_SECTOR, in, 4096), 0);
	KT_EXPECT_EQ(memcmp(in, out, 4096), 0);
	kmem_free(in, 4096);
	kmem_free(out, 4096);
}

/* ---- errors under HMR (group hmr) ----
 *
 * HMR's rule: a commit that cannot be written kills the mount -- every
 * later change is refused with EIO -- and the disk keeps the last good
 * commit.  These tests use the group's second disk (vblk1), mounted at
 * ERRMNT for each test and mounted again afterwards to see what the disk
 * really holds.
 */
#define ERRMNT "/errdisk"

static struct blkdev *err_disk(void)
{
	struct blkdev *bd = blkdev_find("vblk1");

	if (bd == NULL)
		KT_SKIP("no second disk (vblk1) attached to this boot");
	return bd;
}

static void err_mount(void)
{
	struct vattr va;

	if (vfs_stat(ERRMNT, &va) == ENOENT)
		KT_ASSERT_EQ(vfs_mkdir(ERRMNT, 0755), 0);
	KT_ASSERT_EQ(vfs_mount("hmr", "vblk1", ERRMNT, 0), 0);
}

/* Unmount (a dead mount's unmount reports its error) and forget the
 * cached blocks, so the next mount reads the disk itself. */
static void err_unmount(struct blkdev *bd)
{
	vfs_unmount(ERRMNT);
	binval(bd);
}

KTEST(hmr_errors, a_read_error_is_eio_to_the_reader_and_passes)
{
	struct blkdev *bd = err_disk();
	static uint8_t data[8192], back[8192];
	size_t len;

	err_mount();
	memset(data, 0x61, sizeof(data));
	KT_ASSERT_EQ(vt_put(ERRMNT "/r", data, sizeof(data)), 0);
	err_unmount(bd);
	err_mount();
	bd->inject_eio[BLK_READ] = 1;
	KT_EXPECT_EQ(vt_get(ERRMNT "/r", back, sizeof(back), &len), EIO);
	KT_EXPECT_EQ(bd->inject_eio[BLK_READ], 0);	/* it was used */
	KT_ASSERT_EQ(vt_get(ERRMNT "/r", back, sizeof(back), &len), 0);
	KT_EXPECT_EQ(len, sizeof(data));
	KT_EXPECT_EQ(memcmp(back, data, sizeof(data)), 0);
	KT_EXPECT_EQ(vfs_unlink(ERRMNT "/r"), 0);
	err_unmount(bd);
}

/* The mount is dead after a failed commit; the disk has the last good
 * one, with what was committed before the error. */
static void check_dead_then_remount(struct blkdev *bd, const char *lost)
{
	char back[32];
	size_t len;

	KT_EXPECT_EQ(vt_put(ERRMNT "/after", "x", 1), EIO);
	KT_EXPECT_EQ(vt_get(ERRMNT "/kept", back, sizeof(back), &len), 0);
	err_unmount(bd);
	err_mount();			/* the disk is still usable */
	KT_ASSERT_EQ(vt_get(ERRMNT "/kept", back, sizeof(back), &len), 0);
	KT_EXPECT_EQ(len, 4);
	KT_EXPECT_EQ(memcmp(back, "kept", 4), 0);
	KT_EXPECT_EQ(vt_get(lost, back, sizeof(back), &len), ENOENT);
	KT_EXPECT_EQ(vfs_unlink(ERRMNT "/kept"), 0);
	err_unmount(bd);
}

KTEST(hmr_errors, a_failed_flush_fails_fsync_and_keeps_the_last_commit)
{
	struct blkdev *bd = err_disk();
	struct file *fp;
	size_t len;

	err_mount();
	KT_ASSERT_EQ(vt_put(ERRMNT "/kept", "kept", 4), 0);
	KT_ASSERT_EQ(vfs_sync_all(), 0);
	KT_ASSERT_EQ(vfs_open(ERRMNT "/new", O_WRONLY | O_CREAT, 0644, &fp),
		     0);
	KT_ASSERT_EQ(vfs_write(fp, "not durable", 11, &len), 0);
	bd->inject_eio[BLK_FLUSH] = 1;
	KT_EXPECT_EQ(vfs_fsync(fp), EIO);
	vfs_close(fp);
	check_dead_then_remount(bd, ERRMNT "/new");
}

KTEST(hmr_errors, a_failed_write_fails_the_sync_and_keeps_the_last_commit)
{
	struct blkdev *bd = err_disk();
	struct vnode *vp;

	err_mount();
	KT_ASSERT_EQ(vt_put(ERRMNT "/kept", "kept", 4), 0);
	KT_ASSERT_EQ(vfs_sync_all(), 0);
	KT_ASSERT_EQ(vt_put(ERRMNT "/new", "not durable", 11), 0);
	bd->inject_eio[BLK_WRITE] = 1;
	KT_ASSERT_EQ(vfs_namei(ERRMNT, true, &vp), 0);
	KT_EXPECT_EQ(vp->v_mount->mnt_op->vfs_sync(vp->v_mount), EIO);
	vrele(vp);
	check_dead_then_remount(bd, ERRMNT "/new");
}
