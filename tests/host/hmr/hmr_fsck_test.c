/*
 * hmr_fsck_test.c - fsck's own checks and limits: each inconsistency it
 * must name (made with valid CRCs, so only fsck's logic can find it), the
 * stack it may use, and what mount and fsck say when an image cannot be
 * used at all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"
#include "hmr_private.h"

/* fsck's findings collected into one string. */
struct findings {
	char text[8192];
	size_t n;
};

/* hmr_report_fn: append one finding (a line) to the collection; a
 * collection that fills up is cut, never overflowed. */
static void collect(void *arg, const char *msg)
{
	struct findings *f = arg;

	f->n += (size_t)snprintf(f->text + f->n, sizeof(f->text) - f->n,
				 "%s\n", msg);
	if (f->n >= sizeof(f->text))
		f->n = sizeof(f->text) - 1;
}

/* Run fsck; 1 when it reports problems and one of them contains needle. */
static int fsck_reports(struct hmr_bdev *dev, const char *needle)
{
	struct findings f = { .n = 0 };
	struct hmr_fsck_result res;
	int problems = hmr_fsck(dev, 0, collect, &f, &res);

	printf("  # fsck: %d problems: %.400s\n", problems, f.text);
	return problems > 0 && strstr(f.text, needle) != NULL;
}

/* A small image whose root holds one file, /f, of `len` bytes of 0x5a,
 * written and committed the ordinary way, so fsck finds it clean. */
static struct hmr_bdev *image_with_file(size_t len)
{
	struct hmr_bdev *dev = tl_fresh_dev(1024);
	struct hmr_mount *m = tl_mount(dev);
	uint8_t *p = calloc(1, len + 1);

	memset(p, 0x5a, len);
	HT_ASSERT_EQ(tl_put(m, "f", p, len), 0);
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	free(p);
	HT_ASSERT_EQ(tl_fsck(dev, 1), 0);
	return dev;
}

/* Mount, let fn damage the open commit with the core's own functions
 * (so every CRC is valid and only fsck's logic can see the damage), then
 * commit and drop the mount without the unmount's bookkeeping. */
static void damage(struct hmr_bdev *dev, void (*fn)(struct hmr_mount *))
{
	struct hmr_mount *m = tl_mount(dev);

	HT_ASSERT_EQ(hmr_vop_begin(m, 16), 0);
	fn(m);
	m->dirty_meta = 1;
	HT_ASSERT_EQ(hmr_commit(m), 0);
	hmr_mount_abandon(m);
}

/* Store new_size in /f's inode without touching its data records: what a
 * truncate that forgot to delete blocks would leave behind. */
static uint64_t new_size;
static void set_size_only(struct hmr_mount *m)
{
	struct hmr_inode_data in;
	uint64_t ino;

	HT_ASSERT_EQ(tl_walk(m, 0, "f", &ino), 0);
	HT_ASSERT_EQ(hmr_inode_get(m, 0, ino, &in, NULL), 0);
	in.size = new_size;
	HT_ASSERT_EQ(hmr_inode_put(m, ino, &in), 0);
}

/*
 * A file of size S may own data blocks 0 .. ceil(S / 4096) - 1 and no
 * more.  The block right after that limit is the case an off-by-one
 * misses, so each case puts exactly one block there: two blocks with a
 * size of one block, one block with a size of zero.
 */
HTEST(hmr_fsck, data_block_just_past_eof_is_reported)
{
	struct { size_t len; uint64_t size; } cases[] = {
		{ 6000, 4096 }, { 100, 0 }, { 8192, 4095 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hmr_bdev *dev = image_with_file(cases[i].len);

		new_size = cases[i].size;
		damage(dev, set_size_only);
		printf("  # %zu bytes of data, size %llu\n", cases[i].len,
		       (unsigned long long)cases[i].size);
		HT_EXPECT_TRUE(fsck_reports(dev, "data past end of file"));
		hmr_bdev_close(dev);
	}
}

/* The same files with sizes that do cover every block they hold: the
 * last block may be partly past EOF (its tail reads as zeros), so a size
 * anywhere inside it is consistent and fsck must stay quiet.  This is the
 * other side of the edge the test above pins down. */
HTEST(hmr_fsck, data_inside_the_last_block_is_not_reported)
{
	struct { size_t len; uint64_t size; } cases[] = {
		{ 6000, 4097 }, { 100, 1 }, { 8192, 8192 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hmr_bdev *dev = image_with_file(cases[i].len);

		new_size = cases[i].size;
		damage(dev, set_size_only);
		HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
		hmr_bdev_close(dev);
	}
}

/* Set the next object id back to 3: above /f (2) but equal to the id of
 * /g, which is deleted but still in history.  The next create would reuse
 * 3, and an as-of view would then mix /g's old records with its own. */
static void rewind_next_obj_id(struct hmr_mount *m)
{
	m->next_obj_id = 3;
}

/* next_obj_id must lie above every object id any record uses, history
 * included. */
HTEST(hmr_fsck, next_obj_id_not_above_every_id_in_use_is_reported)
{
	struct hmr_bdev *dev = image_with_file(10);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t ino;

	HT_ASSERT_EQ(hmr_create(m, HMR_OBJID_ROOT, "g", 0644, 0, &ino), 0);
	HT_ASSERT_EQ(ino, 3);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0); /* /g's records become history */
	HT_ASSERT_EQ(hmr_unlink(m, HMR_OBJID_ROOT, "g"), 0);
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	HT_ASSERT_EQ(tl_fsck(dev, 1), 0);
	damage(dev, rewind_next_obj_id);
	HT_EXPECT_TRUE(fsck_reports(dev, "next_obj_id"));
	hmr_bdev_close(dev);
}
