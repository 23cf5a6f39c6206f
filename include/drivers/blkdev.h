/*
 * drivers/blkdev.h - block devices as message servers (drivers/blkdev.c;
 * docs/storage.md).
 *
 * A block device is a port.  A request is a message, struct blk_msg:
 * read, write or flush, a sector, a buffer.  The driver replies when the
 * device has finished it, with ms_error 0 or EIO.  A caller that wants
 * to wait sends it with lwkt_domsg (blkdev_rw does); one that wants
 * several in flight sends them with lwkt_sendmsg and collects the replies
 * on its own port.
 *
 * Ordering: requests in flight complete in any order.  A write is durable
 * only after a FLUSH that was sent after the write completed (virtio 1.2,
 * 5.2.6): the caller waits for its writes, then flushes.
 */
#ifndef DRIVERS_BLKDEV_H
#define DRIVERS_BLKDEV_H

#include <kern/types.h>
#include <kern/msgport.h>
#include <kern/queue.h>

#define BLK_SECTOR_SIZE	512

enum blk_cmd { BLK_READ, BLK_WRITE, BLK_FLUSH };

/*
 * One request.  The sender fills cmd, sector, data and len; the buffer
 * must stay put until the reply (the device reads or writes it by DMA).
 * len is a multiple of BLK_SECTOR_SIZE and at most BLK_MAX_TRANSFER; a
 * flush has no data.  The driver may use br_link while it owns the
 * message.
 */
struct blk_msg {
	struct lwkt_msg br_msg;		/* first: ms_error is the result */
	enum blk_cmd br_cmd;
	uint64_t br_sector;		/* in BLK_SECTOR_SIZE units */
	void *br_data;			/* kernel virtual address */
	size_t br_len;			/* bytes */
	TAILQ_ENTRY(blk_msg) br_link;	/* the driver's, while it has it */
};

#define BLK_MAX_TRANSFER (128 * 1024)

/* Counters of one device; written by its server thread only. */
struct blkdev_stats {
	uint64_t reads, writes, flushes, errors;
	uint64_t bytes_read, bytes_written;
	uint64_t in_flight, max_in_flight;	/* at the device */
	uint64_t interrupts;
};

struct blkdev {
	char name[16];			/* "vblk0" */
	lwkt_port_t port;		/* where requests go */
	uint64_t nsectors;		/* capacity */
	bool can_flush;			/* false: writes are write-through */
	bool read_only;
	int cpu;			/* where its server thread runs */
	/* Tests: fail the next N requests of each kind with EIO before they
	 * reach the device (a FLUSH error cannot be made any other way). */
	volatile int inject_eio[3];	/* by enum blk_cmd; atomic */
	struct blkdev_stats stats;
	TAILQ_ENTRY(blkdev) link;
};

/* Make a device findable by name.  Boot thread. */
void blkdev_register(struct blkdev *bd);

/* The device named name, or the first one for NULL; NULL if none. */
struct blkdev *blkdev_find(const char *name);

/* Call fn for each registered device (the shell's list). */
void blkdev_foreach(void (*fn)(struct blkdev *bd, void *arg), void *arg);

/*
 * Read, write or flush synchronously: one message, wait for the reply.
 * Returns 0, EINVAL for a bad range or length (checked here, before the
 * driver sees it), EROFS for a write to a read-only device, or the
 * device's EIO.  Thread context; blocks.
 */
int blkdev_rw(struct blkdev *bd, enum blk_cmd cmd, uint64_t sector,
	      void *data, size_t len);

/* Check a request against the device; 0 or the errno blkdev_rw gives. */
int blkdev_check(const struct blkdev *bd, const struct blk_msg *bm);

#endif /* DRIVERS_BLKDEV_H */
