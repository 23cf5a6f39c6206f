/*
 * fsck_hmr.c - fsck.hmr IMAGE [-r] [-v]: check an HMR image.
 *
 * Prints one line per problem, naming the block or object, then a
 * summary.  Exit status: 0 clean, 1 problems found (or left after -r),
 * 8 the image could not be checked at all.  -r removes orphans and
 * rebuilds the freemap from the tree, then checks again; it never touches
 * a block that fails its CRC.
 */
#include <stdio.h>
#include <string.h>

#include "hmr_bdev.h"

static void print_problem(void *arg, const char *msg)
{
	(void)arg;
	printf("fsck.hmr: %s\n", msg);
}

/* One pass; returns the problem count and fills res.  Without -r the image
 * is opened read-only, so a check can never change it. */
static int check(const char *path, unsigned flags,
		 struct hmr_fsck_result *res)
{
	struct hmr_bdev *dev = hmr_bdev_file_open(path, !(flags & HMR_FSCK_REPAIR));
	int problems;

	if (dev == NULL) {
		perror(path);
		res->fatal = 1;
		return 1;
	}
	problems = hmr_fsck(dev, flags, print_problem, NULL, res);
	hmr_bdev_close(dev);
	return problems;
}

int main(int argc, char **argv)
{
	struct hmr_fsck_result res;
	unsigned flags = 0;
	int problems;

	if (argc < 2) {
		fprintf(stderr, "usage: fsck.hmr IMAGE [-r] [-v]\n");
		return 2;
	}
	for (int i = 2; i < argc; i++)
		flags |= !strcmp(argv[i], "-r") ? HMR_FSCK_REPAIR
			 : !strcmp(argv[i], "-v") ? HMR_FSCK_VERBOSE : 0;
	problems = check(argv[1], flags, &res);
	if ((flags & HMR_FSCK_REPAIR) && !res.fatal) {
		printf("fsck.hmr: repaired %llu; checking again\n",
		       (unsigned long long)res.repaired);
		problems = check(argv[1], flags & ~HMR_FSCK_REPAIR, &res);
	}
	printf("fsck.hmr: %s: commit %llu (slot %c), %llu nodes, %llu records, "
	       "%llu data blocks: %d problem%s\n", argv[1],
	       (unsigned long long)res.commit_tid, 'A' + res.slot_used,
	       (unsigned long long)res.nodes, (unsigned long long)res.records,
	       (unsigned long long)res.data_blocks, problems,
	       problems == 1 ? "" : "s");
	return res.fatal ? 8 : problems ? 1 : 0;
}
