/*
 * blkdev.c - the list of block devices, and the synchronous request.
 *
 * Drivers register a struct blkdev at attach time; filesystems find it
 * by name and send it struct blk_msg requests (drivers/blkdev.h).  The
 * list is written only during boot and read afterwards, so it needs no
 * lock.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <drivers/blkdev.h>

static TAILQ_HEAD(, blkdev) blkdevs = TAILQ_HEAD_INITIALIZER(blkdevs);

void blkdev_register(struct blkdev *bd)
{
	KASSERT(bd->port != NULL && bd->name[0] != '\0', "blkdev_register: "
		"a device needs a name and a port");
	TAILQ_INSERT_TAIL(&blkdevs, bd, link);
}

struct blkdev *blkdev_find(const char *name)
{
	struct blkdev *bd;

	TAILQ_FOREACH(bd, &blkdevs, link)
		if (name == NULL || strcmp(bd->name, name) == 0)
			return bd;
	return NULL;
}

void blkdev_foreach(void (*fn)(struct blkdev *bd, void *arg), void *arg)
{
	struct blkdev *bd;

	TAILQ_FOREACH(bd, &blkdevs, link)
		fn(bd, arg);
}

int blkdev_check(const struct blkdev *bd, const struct blk_msg *bm)
{
	if (bm->br_cmd == BLK_FLUSH)
		return bm->br_len == 0 ? 0 : EINVAL;
	if (bm->br_cmd != BLK_READ && bm->br_cmd != BLK_WRITE)
		return EINVAL;
	if (bm->br_len == 0 || bm->br_len % BLK_SECTOR_SIZE != 0 ||
	    bm->br_len > BLK_MAX_TRANSFER || bm->br_data == NULL)
		return EINVAL;
	if (bm->br_sector > bd->nsectors ||
	    bm->br_len / BLK_SECTOR_SIZE > bd->nsectors - bm->br_sector)
		return EINVAL;
	if (bm->br_cmd == BLK_WRITE && bd->read_only)
		return EROFS;
	return 0;
}

int blkdev_rw(struct blkdev *bd, enum blk_cmd cmd, uint64_t sector,
	      void *data, size_t len)
{
	struct lwkt_port rport;
	struct blk_msg bm = {
		.br_cmd = cmd, .br_sector = sector, .br_data = data,
		.br_len = len,
	};
	int error;

	KASSERT(mycpu->gd_intr_nesting_level == 0, "blkdev_rw blocks; call "
		"it from a thread, not an interrupt or IPI callback");
	if ((error = blkdev_check(bd, &bm)) != 0)
		return error;
	lwkt_initport_thread(&rport, curthread);
	lwkt_initmsg(&bm.br_msg, &rport, 0);
	error = lwkt_domsg(bd->port, &bm.br_msg, 0);
	lwkt_destroyport(&rport);
	return error;
}
