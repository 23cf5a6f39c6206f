/*
 * hmr_bdev.h - host block devices for the HMR core: an image file, or a
 * block array in memory.  Used by the tools and the tests.
 */
#ifndef TOOLS_HMR_BDEV_H
#define TOOLS_HMR_BDEV_H

#include "fs/hmr.h"

/* Open IMAGE as a block device; nblocks = file size / 4096.  NULL on
 * failure (errno set).  `readonly` opens it O_RDONLY: writes then fail.
 * The image is locked until hmr_bdev_close: readers share it, a writer
 * is alone (QEMU counts as a writer).  An image in use is refused with
 * EBUSY after a message on stderr naming the programs that have it. */
struct hmr_bdev *hmr_bdev_file_open(const char *path, int readonly);
/* Make an image opened read-write exactly `bytes` long (sparse); 0 or
 * errno.  mkfs sizes the image this way, under its lock. */
int hmr_bdev_file_resize(struct hmr_bdev *dev, uint64_t bytes);
/* Wait until no program (tool or QEMU) has IMAGE locked: 0, ETIMEDOUT
 * after `seconds` (0: no limit), or open's errno.  Takes no lock. */
int hmr_bdev_file_wait(const char *path, unsigned seconds);
/* A zero-filled in-memory device of nblocks blocks. */
struct hmr_bdev *hmr_bdev_mem_create(uint64_t nblocks);
/* The raw bytes of a memory device (nblocks * 4096). */
uint8_t *hmr_bdev_mem_bytes(struct hmr_bdev *dev);
void hmr_bdev_close(struct hmr_bdev *dev);

#endif /* TOOLS_HMR_BDEV_H */
