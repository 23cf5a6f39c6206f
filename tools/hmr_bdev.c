/*
 * hmr_bdev.c - host block devices: an image file (pread/pwrite/fdatasync)
 * and a plain memory array.  The core sees only struct hmr_bdev.
 *
 * An image file is locked while a tool has it open, the way QEMU locks
 * its disk images (QEMU's block/file-posix.c), so two tools -- or a tool
 * and a running VM -- never use one image at once.  Each lock is a read
 * lock on one byte; which bytes a program holds says what it does:
 *
 *   byte 100 + p   "I use permission p"        p = 0: read
 *   byte 200 + p   "nobody else may use p"     p = 1: write
 *
 *   reader (fsck.hmr, hmrctl cat, hmr-fuse -o ro)
 *       holds 100, 201; refused if another holds 101 (a writer) or 200
 *   writer (mkfs.hmr, hmr-fuse, hmrctl snapshot, fsck.hmr -r)
 *       holds 100, 101, 201; refused if another holds 101, 201 (a
 *       reader or a writer) or 200
 *
 * Readers share; a writer is alone.  QEMU with a writable disk holds 100,
 * 101 and 201, so it refuses the tools and they refuse it.  The locks are
 * open file description locks (F_OFD_SETLK): they belong to the open
 * file, survive hmr-fuse's fork into the background, and go when the last
 * descriptor closes, however the program ends -- after its last commit,
 * which is what hmr_bdev_file_wait() waits for.  OFD locks carry no pid,
 * so a refusal names the programs that have the image open (/proc).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* ---- image locks -------------------------------------------------------- */

#define LOCK_USES	100	/* + p: the holder uses permission p */
#define LOCK_FORBIDS	200	/* + p: the holder lets nobody else use p */
#define PERM_READ	0
#define PERM_WRITE	1

/* Take a read lock on one byte (it never conflicts with another's). */
static int lock_byte(int fd, off_t byte)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET,
			    .l_start = byte, .l_len = 1 };

	return fcntl(fd, F_OFD_SETLK, &fl);
}

/* Does another open file hold a lock on [start, start + len)? */
static int held(int fd, off_t start, off_t len)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = start, .l_len = len };

	return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

/* Append "name (pid N)" for process pid if it has the image open. */
static void note_user(const char *pid, const struct stat *img, char *buf,
		      size_t len)
{
	char path[600], comm[32] = "?";
	struct dirent *d;
	struct stat st;
	DIR *fds;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	if ((fds = opendir(path)) == NULL)
		return;
	while ((d = readdir(fds)) != NULL) {
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, d->d_name);
		if (stat(path, &st) == 0 && st.st_dev == img->st_dev &&
		    st.st_ino == img->st_ino)
			break;
	}
	closedir(fds);
	if (d == NULL)
		return;
	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(buf + strlen(buf), len - strlen(buf), "%s%s (pid %s)",
		 buf[0] ? ", " : "", comm, pid);
}

/* The other programs that have the image on fd open, into buf. */
static void image_users(int fd, char *buf, size_t len)
{
	char self[24];
	struct dirent *d;
	struct stat img;
	DIR *proc = opendir("/proc");

	buf[0] = '\0';
	snprintf(self, sizeof(self), "%d", (int)getpid());
	if (proc == NULL || fstat(fd, &img) != 0) {
		if (proc)
			closedir(proc);
		return;
	}
	while ((d = readdir(proc)) != NULL)
		if (d->d_name[0] >= '1' && d->d_name[0] <= '9' &&
		    strcmp(d->d_name, self) != 0)
			note_user(d->d_name, &img, buf, len);
	closedir(proc);
}

/* Say on stderr why path is refused, who has it, and what to do. */
static void complain(int fd, const char *path, const char *why)
{
	char users[1024];

	image_users(fd, users, sizeof(users));
	fprintf(stderr, "%s: in use: %s; %s %s.\n", path, why,
		users[0] ? "open in" : "held by",
		users[0] ? users : "a program this user cannot see");
	if (strstr(users, "qemu") != NULL)
		fprintf(stderr, "%s: QEMU locks the disk images it runs: "
			"stop the VM first.\n", path);
	else
		fprintf(stderr, "%s: `hmrctl %s wait` waits until it is free "
			"(after its last commit).\n", path, path);
}

/* Lock the image as a reader or a writer (see the top of this file).
 * 0, or EBUSY after saying why.  Where the filesystem has no locks at all
 * the image is used unlocked, with a warning. */
static int image_lock(int fd, int readonly, const char *path)
{
	const char *why = NULL;

	if (lock_byte(fd, LOCK_USES + PERM_READ) != 0 ||
	    lock_byte(fd, LOCK_FORBIDS + PERM_WRITE) != 0 ||
	    (!readonly && lock_byte(fd, LOCK_USES + PERM_WRITE) != 0)) {
		if (errno != EAGAIN && errno != EACCES) {
			fprintf(stderr, "%s: cannot lock it (%s): nothing stops "
				"another program using it at once\n", path,
				strerror(errno));
			return 0;
		}
		why = "another program holds a lock on it";
	} else if (held(fd, LOCK_USES + PERM_WRITE, 1)) {
		why = "another program is writing it";
	} else if (!readonly && held(fd, LOCK_FORBIDS + PERM_WRITE, 1)) {
		why = "another program is reading it";
	} else if (held(fd, LOCK_FORBIDS + PERM_READ, 1)) {
		why = "another program lets nobody else read it";
	}
	if (why == NULL)
		return 0;
	complain(fd, path, why);
	return EBUSY;
}

/*
 * hmr_bdev_file_wait - wait until no program has the image locked.  It
 * takes no lock itself (so it never makes another tool fail), and polls.
 */
int hmr_bdev_file_wait(const char *path, unsigned seconds)
{
	struct timespec start, now;
	char users[1024];
	int fd = open(path, O_RDONLY), waited = 0;

	if (fd < 0)
		return errno;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (held(fd, LOCK_USES, LOCK_FORBIDS + 2 - LOCK_USES)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (seconds && now.tv_sec - start.tv_sec >= (time_t)seconds) {
			close(fd);
			return ETIMEDOUT;
		}
		if (!waited++) {
			image_users(fd, users, sizeof(users));
			fprintf(stderr, "%s: waiting for %s\n", path,
				users[0] ? users : "its user");
		}
		usleep(20000);
	}
	close(fd);
	return 0;
}

/* ---- the image file ------------------------------------------------------- */

struct hmr_bdev *hmr_bdev_file_open(const char *path, int readonly)
{
	struct host_dev *h = calloc(1, sizeof(*h));
	struct stat st;
	int error;

	if (h == NULL)
		return NULL;
	h->fd = open(path, readonly ? O_RDONLY : O_RDWR);
	if (h->fd < 0 || fstat(h->fd, &st) != 0) {
		free(h);
		return NULL;
	}
	if ((error = image_lock(h->fd, readonly, path)) != 0) {
		close(h->fd);
		free(h);
		errno = error;
		return NULL;
	}
	h->dev = (struct hmr_bdev){ .nblocks = (uint64_t)st.st_size / HMR_BLOCK_SIZE,
				    .ctx = h, .read = file_read,
				    .write = file_write, .flush = file_flush };
	return &h->dev;
}

int hmr_bdev_file_resize(struct hmr_bdev *dev, uint64_t bytes)
{
	struct host_dev *h = (struct host_dev *)dev;

	if (ftruncate(h->fd, (off_t)bytes) != 0)
		return errno;
	dev->nblocks = bytes / HMR_BLOCK_SIZE;
	return 0;
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
