/*
 * hmrctl.c - HMR's history tools on an image file:
 *
 *   hmrctl IMAGE snapshot [LABEL]     commit and print the snapshot TID
 *   hmrctl IMAGE snapls               list snapshots: TID, time, label
 *   hmrctl IMAGE snaprm TID           delete a snapshot
 *   hmrctl IMAGE history PATH         TIDs at which PATH changed
 *   hmrctl IMAGE prune                destroy history no snapshot pins
 *   hmrctl IMAGE reblock              pack the meta blocks at most half
 *                                     full (after prune: what it leaves)
 *   hmrctl IMAGE asof-cat TID PATH    print PATH as of TID
 *   hmrctl IMAGE cat PATH             print PATH as the last commit left it
 *   hmrctl IMAGE synctid              print the last durable TID
 *   hmrctl IMAGE wait [SECONDS]       wait until no program uses IMAGE
 *                                     (e.g. hmr-fuse's last commit after
 *                                     fusermount3 -u); exit 1 on timeout
 *
 * TIDs are printed as 0x%016llx, the form "name@@0x<TID>" accepts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hmr_bdev.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: hmrctl IMAGE snapshot [LABEL] | snapls | snaprm TID |\n"
		"       history PATH | prune | reblock | asof-cat TID PATH |\n"
		"       cat PATH | synctid | wait [SECONDS]\n");
	return 2;
}

/* Resolve PATH from the root as of asof. */
static int walk(struct hmr_mount *m, uint64_t asof, const char *path,
		uint64_t *ino, uint64_t *asof_out)
{
	char buf[4096], *save = NULL;
	uint64_t cur = HMR_OBJID_ROOT;
	int error = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strtok_r(buf, "/", &save); p && !error;
	     p = strtok_r(NULL, "/", &save))
		error = hmr_lookup(m, asof, cur, p, &cur, &asof);
	*ino = cur;
	*asof_out = asof;
	return error;
}

static int print_snap(void *arg, const struct hmr_snapshot *s)
{
	time_t t = (time_t)(s->time_ns / 1000000000ull);
	char when[64];

	(void)arg;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime(&t));
	printf("0x%016llx %s %s\n", (unsigned long long)s->tid, when, s->label);
	return 0;
}

static int print_hist(void *arg, uint64_t tid, uint32_t ts, const char *what)
{
	time_t t = (time_t)ts;
	char when[64];

	(void)arg, (void)what;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime(&t));
	printf("0x%016llx %s\n", (unsigned long long)tid, when);
	return 0;
}

/* Copy a file as of asof to stdout. */
static int cat(struct hmr_mount *m, uint64_t asof, uint64_t ino)
{
	static char buf[1 << 16];
	uint64_t off = 0;
	size_t got;
	int error;

	while ((error = hmr_read(m, asof, ino, off, buf, sizeof(buf), &got)) == 0 &&
	       got > 0) {
		fwrite(buf, 1, got, stdout);
		off += got;
	}
	return error;
}

static int run(struct hmr_mount *m, int argc, char **argv)
{
	const char *cmd = argv[2];
	uint64_t tid, ino, asof, freed;
	int error;

	if (!strcmp(cmd, "snapshot")) {
		error = hmr_snapshot_create(m, argc > 3 ? argv[3] : "", &tid);
		if (!error)
			printf("0x%016llx\n", (unsigned long long)tid);
		return error;
	}
	if (!strcmp(cmd, "snapls"))
		return hmr_snapshot_list(m, print_snap, NULL);
	if (!strcmp(cmd, "snaprm") && argc == 4)
		return hmr_snapshot_delete(m, strtoull(argv[3], NULL, 0));
	if (!strcmp(cmd, "prune")) {
		error = hmr_prune(m, &freed);
		if (!error)
			printf("freed %llu blocks\n", (unsigned long long)freed);
		return error;
	}
	if (!strcmp(cmd, "reblock")) {
		uint64_t moved = 0;

		error = hmr_reblock(m, &moved, &freed);
		printf("moved %llu payloads, freed %llu blocks\n",
		       (unsigned long long)moved, (unsigned long long)freed);
		return error;
	}
	if (!strcmp(cmd, "synctid")) {
		error = hmr_sync(m, &tid);
		printf("0x%016llx\n", (unsigned long long)tid);
		return error;
	}
	if (!strcmp(cmd, "history") && argc == 4) {
		error = walk(m, 0, argv[3], &ino, &asof);
		return error ? error : hmr_history(m, ino, print_hist, NULL);
	}
	if (!strcmp(cmd, "cat") && argc == 4) {
		error = walk(m, 0, argv[3], &ino, &asof);
		return error ? error : cat(m, asof, ino);
	}
	if (!strcmp(cmd, "asof-cat") && argc == 5) {
		error = walk(m, strtoull(argv[3], NULL, 0), argv[4], &ino, &asof);
		return error ? error : cat(m, asof, ino);
	}
	return -1;
}

/* wait [SECONDS]: until the image is free; nothing is opened for it. */
static int wait_free(const char *image, int argc, char **argv)
{
	int error = hmr_bdev_file_wait(image, argc > 3 ?
				       (unsigned)strtoul(argv[3], NULL, 0) : 0);

	if (error)
		fprintf(stderr, "hmrctl: %s: %s\n", image, error == ETIMEDOUT ?
			"still in use" : strerror(error));
	return error ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct hmr_bdev *dev;
	struct hmr_mount *m;
	int error, rdonly;

	if (argc < 3)
		return usage();
	if (!strcmp(argv[2], "wait"))
		return wait_free(argv[1], argc, argv);
	rdonly = !strcmp(argv[2], "snapls") || !strcmp(argv[2], "history") ||
		 !strcmp(argv[2], "asof-cat") || !strcmp(argv[2], "cat");
	dev = hmr_bdev_file_open(argv[1], rdonly);
	if (dev == NULL) {
		perror(argv[1]);
		return 1;
	}
	struct hmr_diag diag;
	error = hmr_mount_diag(dev, rdonly ? HMR_MNT_RDONLY : 0, 0, &m, &diag);
	if (error) {
		fprintf(stderr, "hmrctl: %s: mount: %s: %s\n", argv[1],
			strerror(error), diag.text);
		hmr_bdev_close(dev);
		return 1;
	}
	error = run(m, argc, argv);
	int uerr = hmr_unmount(m);
	hmr_bdev_close(dev);
	if (error < 0)
		return usage();
	if (error || uerr) {
		fprintf(stderr, "hmrctl: %s: %s\n", argv[2],
			strerror(error ? error : uerr));
		return 1;
	}
	return 0;
}
