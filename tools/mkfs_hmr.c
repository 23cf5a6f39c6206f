/*
 * mkfs_hmr.c - mkfs.hmr IMAGE SIZE [--label L] [--from DIR]: format an
 * HMR image, and optionally fill it with a copy of a host directory.
 *
 * SIZE accepts a K, M or G suffix (powers of 1024) and is rounded down to
 * whole 4096-byte blocks.  The image file is created or resized (sparse),
 * then hmr_mkfs() writes block 0, the superblocks, both freemap copies and
 * the root directory as commit 1.  With --from, the directory tree under
 * DIR (regular files, directories, symlinks; modes kept) is copied in
 * through the HMR core and committed, like mke2fs -d.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/random.h>
#include <sys/stat.h>
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
	fprintf(stderr, "usage: mkfs.hmr IMAGE SIZE [--label LABEL] "
		"[--from DIR]\n");
	return 2;
}

static int copy_tree(struct hmr_mount *m, const char *host, uint64_t dir);

/* Copy one regular file's bytes into the new object ino. */
static int copy_file(struct hmr_mount *m, const char *host, uint64_t ino)
{
	char buf[65536];
	uint64_t off = 0;
	ssize_t n;
	int fd = open(host, O_RDONLY), error = 0;

	if (fd < 0)
		return errno;
	while (error == 0 && (n = read(fd, buf, sizeof(buf))) > 0) {
		error = hmr_write(m, 0, ino, off, buf, (size_t)n);
		off += (uint64_t)n;
	}
	close(fd);
	return error;
}

/* Copy one directory entry (a file, a directory, a symlink). */
static int copy_entry(struct hmr_mount *m, const char *host, uint64_t dir,
		      const char *name)
{
	struct stat st;
	char target[4096];
	uint64_t ino;
	ssize_t len;
	int error;

	if (lstat(host, &st) != 0)
		return errno;
	if (S_ISDIR(st.st_mode)) {
		error = hmr_mkdir(m, 0, dir, name, st.st_mode & 07777, &ino);
		return error ? error : copy_tree(m, host, ino);
	}
	if (S_ISLNK(st.st_mode)) {
		len = readlink(host, target, sizeof(target) - 1);
		if (len < 0)
			return errno;
		target[len] = '\0';
		return hmr_symlink(m, 0, dir, name, target, &ino);
	}
	if (!S_ISREG(st.st_mode))
		return 0;		/* devices, sockets: not copied */
	error = hmr_create(m, 0, dir, name, S_IFREG | (st.st_mode & 07777), 0,
			   &ino);
	return error ? error : copy_file(m, host, ino);
}

static int copy_tree(struct hmr_mount *m, const char *host, uint64_t dir)
{
	DIR *d = opendir(host);
	struct dirent *e;
	char path[4096];
	int error = 0;

	if (d == NULL)
		return errno;
	while (error == 0 && (e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", host, e->d_name);
		error = copy_entry(m, path, dir, e->d_name);
		if (error)
			fprintf(stderr, "mkfs.hmr: %s: %s\n", path,
				strerror(error));
	}
	closedir(d);
	return error;
}

/* Mount the new filesystem, copy DIR in, commit. */
static int populate(struct hmr_bdev *dev, const char *from)
{
	struct hmr_mount *m;
	int error = hmr_mount(dev, 0, 0, &m);

	if (error)
		return error;
	error = copy_tree(m, from, HMR_OBJID_ROOT);
	if (error) {
		hmr_mount_abandon(m);
		return error;
	}
	return hmr_unmount(m);
}

/* Open the image (created if missing) locked, and make it exactly
 * `bytes` long; NULL after saying why.  An image another program uses is
 * refused before anything in it changes. */
static struct hmr_bdev *open_image(const char *path, uint64_t bytes)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644), error;
	struct hmr_bdev *dev;

	if (fd < 0 || close(fd) != 0 ||
	    (dev = hmr_bdev_file_open(path, 0)) == NULL) {
		perror(path);
		return NULL;
	}
	if ((error = hmr_bdev_file_resize(dev, bytes)) != 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(error));
		hmr_bdev_close(dev);
		return NULL;
	}
	return dev;
}

int main(int argc, char **argv)
{
	const char *label = "", *from = NULL;
	uint64_t bytes, fsid = 0;
	struct hmr_bdev *dev;
	int error;

	if (argc < 3 || argc % 2 == 0)
		return usage();
	for (int i = 3; i < argc; i += 2) {
		if (!strcmp(argv[i], "--label"))
			label = argv[i + 1];
		else if (!strcmp(argv[i], "--from"))
			from = argv[i + 1];
		else
			return usage();
	}
	bytes = parse_size(argv[2]) / HMR_BLOCK_SIZE * HMR_BLOCK_SIZE;
	if (bytes == 0)
		return usage();
	if ((dev = open_image(argv[1], bytes)) == NULL)
		return 1;
	if (getrandom(&fsid, sizeof(fsid), 0) != sizeof(fsid))
		fsid = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull;
	error = hmr_mkfs(dev, label, fsid);
	if (error == 0 && from != NULL)
		error = populate(dev, from);
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
