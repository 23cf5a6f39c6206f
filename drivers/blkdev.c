/*
 * blkdev.c - the list of block devices, and the synchronous request.
 *
 * Drivers register a struct blkdev at attach time; filesystems find it
 * by name and send it struct blk_msg requests (drivers/blkdev.h).  The
 * list is written only during boot and read afterwards, so it needs no
 * lock.
 *
 * A request's life, as messages (docs/storage.md draws it):
 *
 *   caller                       device's server thread (its driver)
 *   blk_msg on the stack
 *   blkdev_check (EINVAL early)
 *   lwkt_domsg(bd->port) ------> dispatch: blkdev_check again (a sender
 *     sleeps on its own port         that skipped blkdev_rw is checked
 *                                    too), to the device, EASYNC
 *                                ... the device finishes ...
 *   wakes with ms_error <------- lwkt_replymsg(0 or EIO)
 *
 * Ownership of a blk_msg follows the message: the sender's until sent,
 * the driver's until replied (it may link it on br_link), the sender's
 * again after.  The data buffer belongs to the device for the same span:
 * the sender must not touch it until the reply.
 *
 * What is here and what is in the driver: this file knows no hardware.
 * It keeps the registry, checks a request against a device's size and
 * mode, and gives a blocking call to code that wants one.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <drivers/blkdev.h>

static TAILQ_HEAD(, blkdev) blkdevs = TAILQ_HEAD_INITIALIZER(blkdevs);

/* Contract in drivers/blkdev.h: the device becomes findable.  The
 * attaching (boot) thread: the list has no lock. */
void blkdev_register(struct blkdev *bd)
{
	KASSERT(bd->port != NULL && bd->name[0] != '\0', "blkdev_register: "
		"a device needs a name and a port");
	TAILQ_INSERT_TAIL(&blkdevs, bd, link);
}

/* Contract in drivers/blkdev.h.  Any thread; the list is read-only by
 * the time anything looks for a device. */
struct blkdev *blkdev_find(const char *name)
{
	struct blkdev *bd;

	TAILQ_FOREACH(bd, &blkdevs, link)
		if (name == NULL || strcmp(bd->name, name) == 0)
			return bd;
	return NULL;
}

/* Contract in drivers/blkdev.h.  fn runs in the caller's context. */
void blkdev_foreach(void (*fn)(struct blkdev *bd, void *arg), void *arg)
{
	struct blkdev *bd;

	TAILQ_FOREACH(bd, &blkdevs, link)
		fn(bd, arg);
}

/*
 * Contract in drivers/blkdev.h: is bm a request bd can take?  A flush
 * carries nothing (virtio 1.2, 5.2.6.1: no data, sector 0).  A read or
 * write moves whole sectors, no more than BLK_MAX_TRANSFER, inside the
 * device.  The range test is written so it cannot overflow: sector is
 * checked first, then the length against what is left after it.
 * Any context; reads only.
 */
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

/*
 * Contract in drivers/blkdev.h.  The message and the reply port live on
 * this thread's stack: lwkt_domsg does not return before the reply, so
 * neither is referenced after the frame is gone.  Blocks; thread
 * context, any CPU.
 */
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
