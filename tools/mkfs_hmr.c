/*
 * mkfs_hmr.c - mkfs.hmr IMAGE SIZE [--label L]: format an HMR image.
 *
 * SIZE accepts a K, M or G suffix (powers of 1024) and is rounded down to
 * whole 4096-byte blocks.  The image file is created or resized (sparse),
 * then hmr_mkfs() writes block 0, the superblocks, both freemap copies and
 * the root directory as commit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "hmr_bdev.h"

/* Parse "64M" style sizes; 0 on error. */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	return *end == '\0' ? v : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: mkfs.hmr IMAGE SIZE [--label LABEL]\n");
	return 2;
}

/* Create or resize the image file to exactly `bytes`. */
static int size_image(const char *path, uint64_t bytes)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);

	if (fd < 0 || ftruncate(fd, (off_t)bytes) != 0) {
		perror(path);
		return -1;
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	const char *label = "";
	uint64_t bytes, fsid = 0;
	struct hmr_bdev *dev;
	int error;

	if (argc != 3 && !(argc == 5 && !strcmp(argv[3], "--label")))
		return usage();
	if (argc == 5)
		label = argv[4];
	bytes = parse_size(argv[2]) / HMR_BLOCK_SIZE * HMR_BLOCK_SIZE;
	if (bytes == 0)
		return usage();
	if (size_image(argv[1], bytes) != 0)
		return 1;
	if (getrandom(&fsid, sizeof(fsid), 0) != sizeof(fsid))
		fsid = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
	dev = hmr_bdev_file_open(argv[1], 0);
	if (dev == NULL) {
		perror(argv[1]);
		return 1;
	}
	error = hmr_mkfs(dev, label, fsid);
	hmr_bdev_close(dev);
	if (error) {
		fprintf(stderr, "mkfs.hmr: %s: %s\n", argv[1],
			error == ENOSPC ? "image too small" : strerror(error));
		return 1;
	}
	printf("mkfs.hmr: %s: %llu blocks of %d bytes, label \"%s\"\n", argv[1],
	       (unsigned long long)(bytes / HMR_BLOCK_SIZE), HMR_BLOCK_SIZE,
	       label);
	return 0;
}
