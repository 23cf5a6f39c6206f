/*
 * hmr_bdev.h - host block devices for the HMR core: an image file, or a
 * block array in memory.  Used by the tools and the tests.
 */
#ifndef TOOLS_HMR_BDEV_H
#define TOOLS_HMR_BDEV_H

#include "fs/hmr.h"

/* Open IMAGE as a block device; nblocks = file size / 4096.  NULL on
 * failure (errno set).  `readonly` opens it O_RDONLY: writes then fail. */
struct hmr_bdev *hmr_bdev_file_open(const char *path, int readonly);
/* A zero-filled in-memory device of nblocks blocks. */
struct hmr_bdev *hmr_bdev_mem_create(uint64_t nblocks);
/* The raw bytes of a memory device (nblocks * 4096). */
uint8_t *hmr_bdev_mem_bytes(struct hmr_bdev *dev);
void hmr_bdev_close(struct hmr_bdev *dev);

#endif /* TOOLS_HMR_BDEV_H */
