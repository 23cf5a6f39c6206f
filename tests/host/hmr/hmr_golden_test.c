/*
 * hmr_golden_test.c - every build reads the on-disk format as it was
 * (spec behaviour 27).
 *
 * tests/host/hmr/golden-v1.img.gz is a 1 MiB HMR image written once, by
 * the build of the format's first version, and kept: regular files of one
 * and of several blocks, a sparse file, a directory tree, a hard link, a
 * short and a long symlink, history (an overwritten file) and a snapshot
 * pinning the old version.  The test mounts it read-only and checks every
 * one of those by value, checks it with fsck, then mounts a copy writable,
 * changes it, and checks again.  A change to the format that old images
 * cannot follow makes this test fail: such a change needs a new format
 * version and a new golden image beside this one, never a rewrite of it.
 *
 * HMR_GOLDEN_WRITE=<path> writes a fresh image to <path> (gzip it by
 * hand); the test then fails, so that it is never done by accident.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hmr_testlib.h"
#include "htest.h"

#define GOLDEN_BLOCKS 256

/* The bytes of dir/sub/data: several blocks of a pattern. */
static void data_pattern(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + (i >> 12));
}

static char long_target[201];

static void fill_long_target(void)
{
	memset(long_target, 'x', 200);
	long_target[200] = '\0';
}

/* Write the golden image's contents (used once, by HMR_GOLDEN_WRITE). */
static void write_golden(const char *path)
{
	struct hmr_bdev *dev = tl_fresh_dev(GOLDEN_BLOCKS);
	struct hmr_mount *m = tl_mount(dev);
	static uint8_t data[20000];
	uint64_t ino, d, snap;
	FILE *out;

	fill_long_target();
	data_pattern(data, sizeof(data));
	HT_ASSERT_EQ(tl_put(m, "hello", "first version\n", 14), 0);
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "dir", 0755, &d), 0);
	HT_ASSERT_EQ(hmr_mkdir(m, 0, d, "sub", 0700, &ino), 0);
	HT_ASSERT_EQ(tl_put(m, "dir/sub/data", data, sizeof(data)), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "dir/sub/data", &ino), 0);
	HT_ASSERT_EQ(hmr_link(m, 0, ino, 0, d, "data2"), 0);
	HT_ASSERT_EQ(hmr_symlink(m, 0, d, "link", "sub/data", &ino), 0);
	HT_ASSERT_EQ(hmr_symlink(m, 0, d, "longlink", long_target, &ino), 0);
	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "sparse", 0600, 0, &ino),
		     0);
	HT_ASSERT_EQ(hmr_write(m, 0, ino, 512 * 1024, "middle", 6), 0);
	HT_ASSERT_EQ(hmr_snapshot_create(m, "v1", &snap), 0);
	HT_ASSERT_EQ(tl_put(m, "hello", "hello, golden image\n", 20), 0);
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	out = fopen(path, "wb");
	HT_ASSERT_TRUE(out != NULL);
	HT_ASSERT_EQ(fwrite(hmr_bdev_mem_bytes(dev), HMR_BLOCK_SIZE,
			    GOLDEN_BLOCKS, out), GOLDEN_BLOCKS);
	fclose(out);
	hmr_bdev_close(dev);
	printf("  # wrote %s (snapshot v1 = 0x%llx): gzip it by hand\n", path,
	       (unsigned long long)snap);
}

/* The golden image, unpacked into a fresh in-memory device. */
static struct hmr_bdev *load_golden(void)
{
	char self[512], cmd[1200];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct hmr_bdev *dev = hmr_bdev_mem_create(GOLDEN_BLOCKS);
	FILE *in;

	HT_ASSERT_TRUE(n > 0);
	self[n] = '\0';
	/* the binary is build/host/<name>; the image is in the source tree */
	snprintf(cmd, sizeof(cmd), "gzip -dc %s/../../tests/host/hmr/"
		 "golden-v1.img.gz", dirname(self));
	in = popen(cmd, "r");
	HT_ASSERT_TRUE(in != NULL);
	HT_ASSERT_EQ(fread(hmr_bdev_mem_bytes(dev), HMR_BLOCK_SIZE,
			   GOLDEN_BLOCKS, in), GOLDEN_BLOCKS);
	HT_ASSERT_EQ(pclose(in), 0);
	return dev;
}

static int first_snapshot(void *arg, const struct hmr_snapshot *s)
{
	uint64_t *tid = arg;

	if (*tid == 0 && strcmp(s->label, "v1") == 0)
		*tid = s->tid;
	return 0;
}

/* File `path` as of asof holds exactly `want` (len bytes). */
static void expect_file(struct hmr_mount *m, uint64_t asof, const char *path,
			const void *want, size_t len)
{
	uint8_t *got;
	size_t got_len;

	HT_ASSERT_EQ(tl_get(m, asof, path, &got, &got_len), 0);
	HT_EXPECT_EQ(got_len, len);
	if (got_len == len)
		HT_EXPECT_MEMEQ(got, want, len);
	free(got);
}

/* Everything write_golden put in, by value. */
static void check_contents(struct hmr_mount *m)
{
	static uint8_t data[20000], sparse[1024 * 1024];
	uint64_t ino, ino2, snap = 0;
	struct hmr_stat st;
	char buf[256];
	size_t len;

	fill_long_target();
	data_pattern(data, sizeof(data));
	expect_file(m, 0, "hello", "hello, golden image\n", 20);
	expect_file(m, 0, "dir/sub/data", data, sizeof(data));
	HT_ASSERT_EQ(tl_walk(m, 0, "dir/sub/data", &ino), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "dir/data2", &ino2), 0);
	HT_EXPECT_EQ(ino, ino2);
	HT_ASSERT_EQ(hmr_getattr(m, 0, ino, &st), 0);
	HT_EXPECT_EQ(st.nlinks, 2);
	HT_ASSERT_EQ(tl_walk(m, 0, "dir/sub", &ino), 0);
	HT_ASSERT_EQ(hmr_getattr(m, 0, ino, &st), 0);
	HT_EXPECT_EQ(st.obj_type, HMR_OBJ_DIR);
	HT_EXPECT_EQ(st.mode & 07777, 0700);
	HT_ASSERT_EQ(tl_walk(m, 0, "dir/link", &ino), 0);
	HT_ASSERT_EQ(hmr_readlink(m, 0, ino, buf, sizeof(buf), &len), 0);
	HT_EXPECT_EQ(len, 8);
	HT_EXPECT_MEMEQ(buf, "sub/data", 8);
	HT_ASSERT_EQ(tl_walk(m, 0, "dir/longlink", &ino), 0);
	HT_ASSERT_EQ(hmr_readlink(m, 0, ino, buf, sizeof(buf), &len), 0);
	HT_EXPECT_EQ(len, 200);
	HT_EXPECT_MEMEQ(buf, long_target, 200);
	memset(sparse, 0, sizeof(sparse));
	memcpy(sparse + 512 * 1024, "middle", 6);
	expect_file(m, 0, "sparse", sparse, 512 * 1024 + 6);
	HT_ASSERT_EQ(hmr_snapshot_list(m, first_snapshot, &snap), 0);
	HT_ASSERT_NE(snap, 0);
	expect_file(m, snap, "hello", "first version\n", 14);
	expect_file(m, snap, "dir/sub/data", data, sizeof(data));
}

HTEST(hmr_golden, todays_build_reads_the_first_format_image)
{
	const char *w = getenv("HMR_GOLDEN_WRITE");
	struct hmr_bdev *dev;
	struct hmr_mount *m;

	if (w != NULL) {
		write_golden(w);
		HT_ASSERT_TRUE(!"HMR_GOLDEN_WRITE set: wrote an image, "
				"checked nothing");
	}
	dev = load_golden();
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	HT_ASSERT_EQ(hmr_mount(dev, HMR_MNT_RDONLY, 0, &m), 0);
	check_contents(m);
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	/* writable too: a change, a commit, and the old contents stay */
	m = tl_mount(dev);
	HT_ASSERT_EQ(tl_put(m, "new", "written by this build", 21), 0);
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "sparse"), 0);
	m = tl_remount(m, dev);
	expect_file(m, 0, "new", "written by this build", 21);
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}
