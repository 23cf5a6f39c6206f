/*
 * hmr_bdev.c - host block devices: an image file (pread/pwrite/fdatasync)
 * and a plain memory array.  The core sees only struct hmr_bdev.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hmr_bdev.h"

struct host_dev {
	struct hmr_bdev dev;
	int fd;		/* -1 for a memory device */
	uint8_t *mem;
};

static int file_read(struct hmr_bdev *d, uint64_t blk, void *buf)
{
	struct host_dev *h = (struct host_dev *)d;

	return pread(h->fd, buf, HMR_BLOCK_SIZE, (off_t)(blk * HMR_BLOCK_SIZE)) ==
			       HMR_BLOCK_SIZE ? 0 : EIO;
}

static int file_write(struct hmr_bdev *d, uint64_t blk, const void *buf)
{
	struct host_dev *h = (struct host_dev *)d;

	return pwrite(h->fd, buf, HMR_BLOCK_SIZE, (off_t)(blk * HMR_BLOCK_SIZE)) ==
			       HMR_BLOCK_SIZE ? 0 : EIO;
}

static int file_flush(struct hmr_bdev *d)
{
	return fdatasync(((struct host_dev *)d)->fd) == 0 ? 0 : EIO;
}

struct hmr_bdev *hmr_bdev_file_open(const char *path, int readonly)
{
	struct host_dev *h = calloc(1, sizeof(*h));
	struct stat st;

	if (h == NULL)
		return NULL;
	h->fd = open(path, readonly ? O_RDONLY : O_RDWR);
	if (h->fd < 0 || fstat(h->fd, &st) != 0) {
		free(h);
		return NULL;
	}
	h->dev = (struct hmr_bdev){ .nblocks = (uint64_t)st.st_size / HMR_BLOCK_SIZE,
				    .ctx = h, .read = file_read,
				    .write = file_write, .flush = file_flush };
	return &h->dev;
}

static int mem_read(struct hmr_bdev *d, uint64_t blk, void *buf)
{
	struct host_dev *h = (struct host_dev *)d;

	if (blk >= d->nblocks)
		return EIO;
	memcpy(buf, h->mem + blk * HMR_BLOCK_SIZE, HMR_BLOCK_SIZE);
	return 0;
}

static int mem_write(struct hmr_bdev *d, uint64_t blk, const void *buf)
{
	struct host_dev *h = (struct host_dev *)d;

	if (blk >= d->nblocks)
		return EIO;
	memcpy(h->mem + blk * HMR_BLOCK_SIZE, buf, HMR_BLOCK_SIZE);
	return 0;
}

static int mem_flush(struct hmr_bdev *d)
{
	(void)d;
	return 0;
}

struct hmr_bdev *hmr_bdev_mem_create(uint64_t nblocks)
{
	struct host_dev *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->fd = -1;
	h->mem = calloc(nblocks, HMR_BLOCK_SIZE);
	if (h->mem == NULL) {
		free(h);
		return NULL;
	}
	h->dev = (struct hmr_bdev){ .nblocks = nblocks, .ctx = h,
				    .read = mem_read, .write = mem_write,
				    .flush = mem_flush };
	return &h->dev;
}

uint8_t *hmr_bdev_mem_bytes(struct hmr_bdev *dev)
{
	return ((struct host_dev *)dev)->mem;
}

void hmr_bdev_close(struct hmr_bdev *dev)
{
	struct host_dev *h = (struct host_dev *)dev;

	if (h == NULL)
		return;
	if (h->fd >= 0)
		close(h->fd);
	free(h->mem);
	free(h);
}
