/*
 * hmr_corrupt_test.c - corruption injection: flip bytes in each kind of
 * block (superblock, freemap, internal node, leaf, meta payload, file
 * data) and put stale copies back.  The filesystem must answer EIO or fall
 * back to the other superblock - never return wrong bytes, never crash -
 * and fsck must name the damaged block.  A seeded fuzz loop does the same
 * with random flips anywhere.  Also: fsck's checks against injected
 * inconsistencies that carry valid CRCs (behaviour 25).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"
#include "hmr_private.h"

#define CO_NBLOCKS 2048

/* fsck output captured into one string. */
struct capture {
	char text[16384];
	size_t n;
};

static void capture_report(void *arg, const char *msg)
{
	struct capture *c = arg;

	c->n += (size_t)snprintf(c->text + c->n, sizeof(c->text) - c->n, "%s\n",
				 msg);
	if (c->n >= sizeof(c->text))
		c->n = sizeof(c->text) - 1;
}

static int fsck_says(struct hmr_bdev *dev, const char *needle, int repair)
{
	struct capture c = { .n = 0 };
	struct hmr_fsck_result res;
	int problems = hmr_fsck(dev, repair ? HMR_FSCK_REPAIR : 0,
				capture_report, &c, &res);

	printf("  # fsck (%d problems): %.300s\n", problems, c.text);
	return problems > 0 && strstr(c.text, needle) != NULL;
}

static void flip(struct hmr_bdev *dev, uint64_t blkno, size_t off)
{
	hmr_bdev_mem_bytes(dev)[blkno * HMR_BLOCK_SIZE + off] ^= 0x40;
}

/* Content of file i of the populated image. */
static uint8_t *content(int i, size_t *len)
{
	uint64_t s = (uint64_t)i * 31 + 7;

	*len = (size_t)(i % 7) * 3000 + 100;
	uint8_t *p = malloc(*len);
	for (size_t k = 0; k < *len; k++)
		p[k] = (uint8_t)(tl_rand(&s) >> 17);
	return p;
}

/* d1/ and d2/ with 150 files each: a tree of depth >= 2. */
static struct hmr_bdev *populated(void)
{
	struct hmr_bdev *dev = tl_fresh_dev(CO_NBLOCKS);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t d;
	char path[32];

	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d1", 0755, &d), 0);
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d2", 0755, &d), 0);
	for (int i = 0; i < 300; i++) {
		size_t len;
		uint8_t *p = content(i, &len);

		snprintf(path, sizeof(path), "d%d/f%d", 1 + i % 2, i);
		HT_ASSERT_EQ(tl_put(m, path, p, len), 0);
		free(p);
	}
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	return dev;
}

/* Read every file; each must be ENOENT/EIO or exactly right.  Returns the
 * number of files read correctly. */
static int check_files(struct hmr_mount *m, int *wrong)
{
	int good = 0;
	char path[32];

	for (int i = 0; i < 300; i++) {
		size_t len, got_len;
		uint8_t *want = content(i, &len), *got = NULL;
		int error;

		snprintf(path, sizeof(path), "d%d/f%d", 1 + i % 2, i);
		error = tl_get(m, 0, path, &got, &got_len);
		if (!error && (got_len != len || memcmp(got, want, len)))
			(*wrong)++;
		good += !error;
		free(want), free(got);
	}
	return good;
}

/* The leaf block that holds d1's entry for `name`. */
static uint64_t leaf_of_entry(struct hmr_mount *m, uint64_t dir,
			      const char *name)
{
	struct hmr_base key;
	struct hmr_cursor c;

	hmr_key_make(&key, HMR_LOCALIZE_MISC, dir, HMR_REC_DIRENT,
		     hmr_dirhash(name, strlen(name)));
	HT_ASSERT_EQ(hmr_bt_seek(m, &key, &c), 0);
	return c.path[c.nlevels - 1].buf->blkno;
}

HTEST(hmr_corrupt, b05_corrupt_newest_superblock_falls_back_to_previous)
{
	struct hmr_bdev *dev = tl_fresh_dev(CO_NBLOCKS);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t tid;

	HT_ASSERT_EQ(tl_put(m, "f", "one", 3), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	char *before = tl_digest(m, 0);
	HT_ASSERT_EQ(tl_put(m, "f", "two!", 4), 0);
	HT_ASSERT_EQ(hmr_sync(m, &tid), 0);
	hmr_unmount(m);
	flip(dev, HMR_BLK_SUPER_A + (tid & 1), 0x30);
	m = tl_mount(dev);
	HT_EXPECT_EQ(m->durable_tid, tid - 1);
	HT_EXPECT_GE(hmr_counters(m)->super_fallbacks, 1);
	char *now = tl_digest(m, 0);
	HT_EXPECT_STREQ(now, before);
	free(now), free(before);
	hmr_mount_abandon(m);
	HT_EXPECT_TRUE(fsck_says(dev, tid & 1 ? "slot B" : "slot A", 0));
	hmr_bdev_close(dev);
}

HTEST(hmr_corrupt, b06_corrupt_leaf_gives_eio_other_subtrees_work)
{
	struct hmr_bdev *dev = populated();
	struct hmr_mount *m = tl_mount(dev);
	uint64_t d1, d2, ino;
	int wrong = 0;

	HT_ASSERT_EQ(tl_walk(m, 0, "d1", &d1), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "d2", &d2), 0);
	uint64_t leaf = leaf_of_entry(m, d1, "f0");
	HT_ASSERT_TRUE(leaf != leaf_of_entry(m, d2, "f1"));
	hmr_mount_abandon(m);
	flip(dev, leaf, 0x100);
	m = tl_mount(dev);
	HT_EXPECT_EQ(hmr_lookup(m, 0, d1, "f0", &ino, NULL), EIO);
	HT_EXPECT_EQ(hmr_lookup(m, 0, d2, "f1", &ino, NULL), 0);
	int good = check_files(m, &wrong);
	HT_EXPECT_EQ(wrong, 0);
	HT_EXPECT_GT(good, 100);
	HT_EXPECT_GT(hmr_counters(m)->crc_errors, 0);
	hmr_mount_abandon(m);
	char needle[64];
	snprintf(needle, sizeof(needle), "block %llu: bad CRC",
		 (unsigned long long)leaf);
	HT_EXPECT_TRUE(fsck_says(dev, needle, 0));
	hmr_bdev_close(dev);
}

HTEST(hmr_corrupt, b07_corrupt_data_block_gives_eio_only_for_that_block)
{
	struct hmr_bdev *dev = tl_fresh_dev(CO_NBLOCKS);
	struct hmr_mount *m = tl_mount(dev);
	uint8_t data[3 * 4096], buf[4096];
	struct hmr_base key;
	struct hmr_elm e;
	uint64_t ino;
	size_t len;

	memset(data, 'q', sizeof(data));
	HT_ASSERT_EQ(tl_put(m, "f", data, sizeof(data)), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "f", &ino), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	hmr_key_make(&key, HMR_LOCALIZE_MISC, ino, HMR_REC_DATA, 2 * 4096);
	HT_ASSERT_EQ(hmr_rec_find(m, 0, &key, &e), 0);
	hmr_unmount(m);
	uint64_t blk = e.lf.data_off / HMR_BLOCK_SIZE;
	flip(dev, blk, 77);
	m = tl_mount(dev);
	HT_EXPECT_EQ(hmr_read(m, 0, ino, 4096, buf, 4096, &len), EIO);
	HT_EXPECT_EQ(hmr_read(m, 0, ino, 0, buf, 4096, &len), 0);
	HT_EXPECT_EQ(buf[10], 'q');
	HT_EXPECT_EQ(hmr_read(m, 0, ino, 8192, buf, 4096, &len), 0);
	hmr_mount_abandon(m);
	char needle[64];
	snprintf(needle, sizeof(needle), "block %llu: bad data CRC",
		 (unsigned long long)blk);
	HT_EXPECT_TRUE(fsck_says(dev, needle, 0));
	hmr_bdev_close(dev);
}

HTEST(hmr_corrupt, b08_stale_node_copy_is_detected_by_parent_crc)
{
	struct hmr_bdev *dev = populated();
	struct hmr_mount *m = tl_mount(dev);
	uint64_t d1, ino;

	HT_ASSERT_EQ(tl_walk(m, 0, "d1", &d1), 0);
	uint64_t leaf = leaf_of_entry(m, d1, "f0");
	hmr_mount_abandon(m);
	/* a self-consistent node with other contents: a lost write's leftover */
	struct hmr_node *n = (struct hmr_node *)(hmr_bdev_mem_bytes(dev) +
						  leaf * HMR_BLOCK_SIZE);
	n->elms[0].base.delete_tid = 0;
	n->elms[0].lf.create_ts ^= 1;
	hmr_block_seal(n);
	m = tl_mount(dev);
	HT_EXPECT_EQ(hmr_lookup(m, 0, d1, "f0", &ino, NULL), EIO);
	hmr_mount_abandon(m);
	HT_EXPECT_TRUE(fsck_says(dev, "stale child", 0));
	hmr_bdev_close(dev);
}

HTEST(hmr_corrupt, corrupt_internal_node_and_inode_payload_give_eio)
{
	struct hmr_bdev *dev = populated();
	struct hmr_mount *m = tl_mount(dev);
	uint64_t root = m->root_blkno, ino;
	struct hmr_elm e;
	struct hmr_base key;
	int wrong = 0;

	HT_ASSERT_TRUE(m->root_level >= 1);
	HT_ASSERT_EQ(tl_walk(m, 0, "d2/f1", &ino), 0);
	hmr_key_make(&key, HMR_LOCALIZE_INODE, ino, HMR_REC_INODE, 0);
	HT_ASSERT_EQ(hmr_rec_find(m, 0, &key, &e), 0);
	hmr_mount_abandon(m);
	/* inode payload first: only that file fails */
	flip(dev, e.lf.data_off / HMR_BLOCK_SIZE, e.lf.data_off % HMR_BLOCK_SIZE + 20);
	m = tl_mount(dev);
	struct hmr_stat st;
	HT_EXPECT_EQ(hmr_getattr(m, 0, ino, &st), EIO);
	HT_EXPECT_GT(check_files(m, &wrong), 250);
	HT_EXPECT_EQ(wrong, 0);
	hmr_mount_abandon(m);
	HT_EXPECT_TRUE(fsck_says(dev, "bad data CRC", 0));
	/* then the root: the newest commit is unusable, mount falls back */
	flip(dev, root, 0x80);
	struct hmr_mount *m2 = NULL;
	int error = hmr_mount(dev, HMR_MNT_QUIET, 0, &m2);
	if (error == 0) {
		HT_EXPECT_GE(hmr_counters(m2)->super_fallbacks, 1);
		HT_EXPECT_EQ(check_files(m2, &wrong) >= 0, 1);
		HT_EXPECT_EQ(wrong, 0);
		hmr_mount_abandon(m2);
	} else {
		HT_EXPECT_EQ(error, EIO);
	}
	hmr_bdev_close(dev);
}

HTEST(hmr_corrupt, corrupt_freemap_falls_back_and_fsck_names_it)
{
	struct hmr_bdev *dev = populated();
	struct hmr_mount *m = tl_mount(dev);
	uint64_t tid = m->durable_tid;
	uint64_t fmblk = hmr_freemap_first(m, (int)(tid & 1));
	int wrong = 0;

	hmr_mount_abandon(m);
	flip(dev, fmblk, 0x200);
	m = tl_mount(dev);
	HT_EXPECT_EQ(m->durable_tid, tid - 1);
	check_files(m, &wrong);
	HT_EXPECT_EQ(wrong, 0);
	hmr_mount_abandon(m);
	char needle[64];
	snprintf(needle, sizeof(needle), "block %llu", (unsigned long long)fmblk);
	HT_EXPECT_TRUE(fsck_says(dev, needle, 0));
	hmr_bdev_close(dev);
}

HTEST(hmr_corrupt, random_flips_never_return_wrong_bytes)
{
	struct hmr_bdev *pristine = populated();
	uint64_t seed = htest_seed();
	int rounds = 60 * tl_scale(), mounted = 0, wrong = 0;

	printf("  # seed=0x%llx rounds=%d\n", (unsigned long long)seed, rounds);
	for (int r = 0; r < rounds; r++) {
		struct hmr_bdev *dev = hmr_bdev_mem_create(CO_NBLOCKS);
		struct hmr_mount *m = NULL;
		struct hmr_fsck_result res;

		memcpy(hmr_bdev_mem_bytes(dev), hmr_bdev_mem_bytes(pristine),
		       (size_t)CO_NBLOCKS * HMR_BLOCK_SIZE);
		for (int k = 0; k < 1 + (int)(tl_rand(&seed) % 4); k++) {
			uint64_t b = tl_rand(&seed) % 600; /* the used area */
			flip(dev, b, tl_rand(&seed) % HMR_BLOCK_SIZE);
		}
		if (hmr_mount(dev, HMR_MNT_QUIET, 0, &m) == 0) {
			mounted++;
			check_files(m, &wrong);
			char *d = tl_digest(m, 0);
			free(d);
			uint64_t ino;
			if (tl_walk(m, 0, "d1", &ino) == 0)
				hmr_create(m, 0, ino, "new", 0644, 0, &ino);
			hmr_mount_abandon(m);
		}
		hmr_fsck(dev, 0, NULL, NULL, &res);
		hmr_bdev_close(dev);
	}
	printf("  # mounted %d of %d damaged images\n", mounted, rounds);
	HT_EXPECT_EQ(wrong, 0);
	hmr_bdev_close(pristine);
}

/* ---- behaviour 25: fsck against inconsistencies with valid CRCs ---- */

/* Open a VOP on a private mount, run fn, commit. */
static void inject(struct hmr_bdev *dev, void (*fn)(struct hmr_mount *))
{
	struct hmr_mount *m = tl_mount(dev);

	HT_ASSERT_EQ(hmr_vop_begin(m, 16), 0);
	fn(m);
	m->dirty_meta = 1;
	HT_ASSERT_EQ(hmr_commit(m), 0);
	hmr_mount_abandon(m);
}

static void inj_dangling(struct hmr_mount *m)
{
	HT_ASSERT_EQ(hmr_dir_add(m, HMR_OBJID_ROOT, "ghost", 9999, HMR_OBJ_REG), 0);
}

static void inj_nlinks(struct hmr_mount *m)
{
	struct hmr_inode_data in;
	uint64_t ino;

	HT_ASSERT_EQ(tl_walk(m, 0, "d1/f0", &ino), 0);
	HT_ASSERT_EQ(hmr_inode_get(m, 0, ino, &in, NULL), 0);
	in.nlinks = 5;
	HT_ASSERT_EQ(hmr_inode_put(m, ino, &in), 0);
}

static void inj_overlap(struct hmr_mount *m)
{
	struct hmr_base key;
	struct hmr_elm e, *w;
	uint64_t ino;

	/* two live versions of one inode record */
	HT_ASSERT_EQ(tl_walk(m, 0, "d1/f2", &ino), 0);
	hmr_key_make(&key, HMR_LOCALIZE_INODE, ino, HMR_REC_INODE, 0);
	HT_ASSERT_EQ(hmr_rec_find(m, 0, &key, &e), 0);
	struct hmr_inode_data in;
	HT_ASSERT_EQ(hmr_rec_payload(m, &e, &in), 0);
	HT_ASSERT_EQ(hmr_rec_replace(m, &e, &in, sizeof(in)), 0);
	HT_ASSERT_EQ(hmr_bt_modify(m, &e.base, &w), 0);
	w->base.delete_tid = 0;
}

static void inj_order(struct hmr_mount *m)
{
	struct hmr_base key;
	struct hmr_elm *w;
	struct hmr_cursor c;

	hmr_key_make(&key, HMR_LOCALIZE_MISC, 0, 0, 0);
	HT_ASSERT_EQ(hmr_bt_seek(m, &key, &c), 0);
	key = hmr_bt_elm(&c)->base;
	HT_ASSERT_EQ(hmr_bt_modify(m, &key, &w), 0);
	struct hmr_elm tmp = w[0];
	w[0] = w[1];
	w[1] = tmp;
}

static void inj_freemap(struct hmr_mount *m)
{
	for (uint64_t b = m->nblocks - 1; b > 0; b--)
		if (m->fm[b] == HMR_FM_FREE) {
			m->fm[b] = HMR_FM_OWNED;
			m->nfree--;
			return;
		}
}

static void inj_data_crc(struct hmr_mount *m)
{
	struct hmr_base key;
	struct hmr_elm e, *w;
	uint64_t ino;

	HT_ASSERT_EQ(tl_walk(m, 0, "d2/f3", &ino), 0);
	hmr_key_make(&key, HMR_LOCALIZE_MISC, ino, HMR_REC_DATA, 4096);
	HT_ASSERT_EQ(hmr_rec_find(m, 0, &key, &e), 0);
	HT_ASSERT_EQ(hmr_bt_modify(m, &e.base, &w), 0);
	w->lf.data_crc ^= 1;
}

HTEST(hmr_fsck, b25_fsck_detects_each_injected_inconsistency)
{
	struct {
		void (*fn)(struct hmr_mount *);
		const char *says;
	} cases[] = {
		{ inj_dangling, "dangling directory entry" },
		{ inj_nlinks, "wrong nlinks" },
		{ inj_overlap, "overlapping TID intervals" },
		{ inj_order, "key order violation" },
		{ inj_freemap, "freemap mismatch" },
		{ inj_data_crc, "bad data CRC" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hmr_bdev *dev = populated();

		HT_ASSERT_EQ(tl_fsck(dev, 0), 0);
		inject(dev, cases[i].fn);
		printf("  # case %zu: expect \"%s\"\n", i, cases[i].says);
		HT_EXPECT_TRUE(fsck_says(dev, cases[i].says, 0));
		if (cases[i].fn == inj_freemap) {
			fsck_says(dev, "freemap", 1); /* -r */
			HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
		}
		hmr_bdev_close(dev);
	}
}

/* ---- crafted images: inconsistencies that carry valid CRCs ---- */

/* Change one field of a random record (or a freemap entry), in a commit,
 * so the damage passes every CRC check. */
static void craft_one(struct hmr_mount *m, uint64_t *seed)
{
	struct hmr_base key = { .localization = 1 + (uint32_t)(tl_rand(seed) & 1),
				.obj_id = tl_rand(seed) % 310 };
	struct hmr_cursor c;
	struct hmr_elm *w;

	if (tl_rand(seed) % 5 == 0) {
		m->fm[tl_rand(seed) % m->nblocks] = (uint8_t)tl_rand(seed);
		return;
	}
	if (hmr_bt_seek(m, &key, &c) != 0)
		return;
	key = hmr_bt_elm(&c)->base;
	if (hmr_bt_modify(m, &key, &w) != 0)
		return;
	switch (tl_rand(seed) % 5) {
	case 0: w->lf.data_off = (tl_rand(seed) % (CO_NBLOCKS + 8)) * 64; break;
	case 1: w->lf.data_len = (uint32_t)(tl_rand(seed) % 5000); break;
	case 2: w->base.delete_tid = tl_rand(seed) % (m->tid + 2); break;
	case 3: w->base.obj_type = (uint8_t)tl_rand(seed); break;
	default: w->lf.data_crc = hmr_crc32c(0, "x", 1); break;
	}
}

/* Everything a user might do to the damaged filesystem. */
static void exercise(struct hmr_mount *m)
{
	int wrong = 0;
	uint64_t ino, freed;
	char *d;

	check_files(m, &wrong);
	d = tl_digest(m, 0);
	free(d);
	if (tl_walk(m, 0, "d1", &ino) == 0) {
		hmr_create(m, 0, ino, "new", 0644, 0, &ino);
		hmr_write(m, 0, ino, 0, "payload", 7);
	}
	hmr_unlink(m, 0, HMR_OBJID_ROOT, "d2/f1");
	if (tl_walk(m, 0, "d2", &ino) == 0) {
		hmr_unlink(m, 0, ino, "f3");
		hmr_rename(m, 0, ino, "f5", 0, HMR_OBJID_ROOT, "moved");
	}
	hmr_prune(m, &freed);
	hmr_sync(m, NULL);
}

HTEST(hmr_corrupt, crafted_images_with_valid_crcs_never_crash)
{
	struct hmr_bdev *pristine = populated();
	uint64_t seed = htest_seed() ^ 0xc4af7ed;
	int rounds = 40 * tl_scale(), mounted = 0;

	printf("  # seed=0x%llx rounds=%d\n", (unsigned long long)seed, rounds);
	for (int r = 0; r < rounds; r++) {
		struct hmr_bdev *dev = hmr_bdev_mem_create(CO_NBLOCKS);
		struct hmr_mount *m = NULL;
		struct hmr_fsck_result res;

		memcpy(hmr_bdev_mem_bytes(dev), hmr_bdev_mem_bytes(pristine),
		       (size_t)CO_NBLOCKS * HMR_BLOCK_SIZE);
		m = tl_mount(dev);
		HT_ASSERT_EQ(hmr_vop_begin(m, 16), 0);
		for (int k = 0; k < 1 + (int)(tl_rand(&seed) % 3); k++)
			craft_one(m, &seed);
		m->dirty_meta = 1;
		HT_ASSERT_EQ(hmr_commit(m), 0);
		hmr_mount_abandon(m);
		hmr_fsck(dev, 0, NULL, NULL, &res);
		if (hmr_mount(dev, HMR_MNT_QUIET, 0, &m) == 0) {
			mounted++;
			exercise(m);
			hmr_unmount(m);
		}
		hmr_fsck(dev, 0, NULL, NULL, &res);
		hmr_bdev_close(dev);
	}
	printf("  # %d of %d crafted images mounted and were exercised\n",
	       mounted, rounds);
	HT_EXPECT_GT(mounted, 0);
	hmr_bdev_close(pristine);
}

/* ---- crafted damage above the leaves, with valid CRCs ----------------------
 *
 * Each case edits one field of an internal node, a freemap block or the
 * superblock of the newest commit, directly in the image, and then
 * recomputes every CRC that covers it: the block's own, its parent's copy
 * up to the superblock (nodes), the superblock's CRC over all freemap
 * entries (freemap), the superblock's own.  So no CRC check can catch the
 * damage; only the semantic checks can.  Each case requires that fsck
 * reports it in words that name the check, and that mount either refuses
 * the commit naming the check (and falls back, or fails) or mounts and
 * survives everything exercise() does - never a crash, which under the
 * sanitizers includes any out-of-bounds access.
 */

/* d1/ and d2/ as populated() makes them, plus 1,500 empty files in d3/:
 * a tree of depth 3, so there are internal nodes below the root. */
static struct hmr_bdev *deep_populated(void)
{
	struct hmr_bdev *dev = populated();
	struct hmr_mount *m = tl_mount(dev);
	uint64_t d, ino;
	char name[32];

	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d3", 0755, &d), 0);
	for (int i = 0; i < 1500; i++) {
		snprintf(name, sizeof(name), "x%05d", i);
		HT_ASSERT_EQ(hmr_create(m, 0, d, name, 0644, 0, &ino), 0);
	}
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_ASSERT_TRUE(m->root_level >= 2);
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	return dev;
}

static uint8_t *blk(struct hmr_bdev *dev, uint64_t b)
{
	return hmr_bdev_mem_bytes(dev) + b * HMR_BLOCK_SIZE;
}

/* The newest superblock in the image (the one mount tries first). */
static struct hmr_super *newest_super(struct hmr_bdev *dev)
{
	struct hmr_super *a = (struct hmr_super *)blk(dev, HMR_BLK_SUPER_A);
	struct hmr_super *b = (struct hmr_super *)blk(dev, HMR_BLK_SUPER_B);

	return a->commit_tid > b->commit_tid ? a : b;
}

/* Reseal the nodes from `at` down to `target` (which was edited): the
 * target's own CRC, then each parent's copy of its child's CRC and the
 * parent's own, bottom up.  Returns 1 when target lies below `at`. */
static int reseal_path(struct hmr_bdev *dev, uint64_t at, uint64_t target,
		       int depth)
{
	struct hmr_node *n = (struct hmr_node *)blk(dev, at);
	int found = at == target;

	for (int i = 0; !found && depth < 8 && n->level > 0 && i < n->count &&
			    i < HMR_INT_MAX; i++) {
		uint64_t c = n->elms[i].in.child_blkno;

		if (c < dev->nblocks && reseal_path(dev, c, target, depth + 1)) {
			n->elms[i].in.child_crc =
				((struct hmr_node *)blk(dev, c))->hdr.crc;
			found = 1;
		}
	}
	if (found)
		hmr_block_seal(n);
	return found;
}

/* After editing node `b`: make every CRC above it match again. */
static void reseal_node(struct hmr_bdev *dev, uint64_t b)
{
	struct hmr_super *sb = newest_super(dev);

	HT_ASSERT_TRUE(reseal_path(dev, sb->root_blkno, b, 0));
	sb->root_crc = ((struct hmr_node *)blk(dev, sb->root_blkno))->hdr.crc;
	hmr_block_seal(sb);
}

/* After editing the newest commit's freemap entries in place: reseal
 * each of its freemap blocks and the superblock's CRC over the entries. */
static void reseal_freemap(struct hmr_bdev *dev)
{
	struct hmr_super *sb = newest_super(dev);
	uint8_t *all = calloc(1, sb->nblocks);

	for (uint32_t i = 0; i < sb->freemap_nblocks; i++) {
		struct hmr_freemap_blk *fb = (struct hmr_freemap_blk *)blk(
			dev, sb->freemap_blkno[sb->freemap_copy] + i);

		hmr_block_seal(fb);
		if (fb->first_blkno + fb->nentries <= sb->nblocks &&
		    fb->nentries <= HMR_FM_PER_BLOCK)
			memcpy(all + fb->first_blkno, fb->ent, fb->nentries);
	}
	sb->freemap_crc = hmr_freemap_crc(all, sb->nblocks);
	hmr_block_seal(sb);
	free(all);
}

/* The newest commit's freemap entry of block b. */
static uint8_t *fm_entry(struct hmr_bdev *dev, uint64_t b)
{
	struct hmr_super *sb = newest_super(dev);
	struct hmr_freemap_blk *fb = (struct hmr_freemap_blk *)blk(
		dev, sb->freemap_blkno[sb->freemap_copy] + b / HMR_FM_PER_BLOCK);

	return &fb->ent[b % HMR_FM_PER_BLOCK];
}

/* An internal node below the root (its first child), and a leaf. */
static struct hmr_node *inner(struct hmr_bdev *dev, uint64_t *b)
{
	struct hmr_node *root = (struct hmr_node *)blk(dev,
						       newest_super(dev)->root_blkno);

	*b = root->elms[1].in.child_blkno;
	return (struct hmr_node *)blk(dev, *b);
}

static uint64_t some_leaf(struct hmr_bdev *dev)
{
	uint64_t b;
	struct hmr_node *n = inner(dev, &b);

	while (n->level > 0) {
		b = n->elms[n->count / 2].in.child_blkno;
		n = (struct hmr_node *)blk(dev, b);
	}
	return b;
}

/* A block the newest freemap marks free, from the end. */
static uint64_t some_free_block(struct hmr_bdev *dev)
{
	for (uint64_t b = dev->nblocks - 1; b > 0; b--)
		if (*fm_entry(dev, b) == HMR_FM_FREE)
			return b;
	HT_ASSERT_TRUE(0);
	return 0;
}

/* ---- the cases: each edits and reseals ---- */

static void cr_int_swap_separators(struct hmr_bdev *dev)
{
	uint64_t b;
	struct hmr_node *n = inner(dev, &b);
	struct hmr_base t = n->elms[1].base;

	n->elms[1].base = n->elms[2].base;
	n->elms[2].base = t;
	reseal_node(dev, b);
}

static void cr_int_right_bound_low(struct hmr_bdev *dev)
{
	uint64_t b;
	struct hmr_node *n = inner(dev, &b);

	n->elms[n->count].base = n->elms[0].base;
	reseal_node(dev, b);
}

static void cr_int_same_child_twice(struct hmr_bdev *dev)
{
	uint64_t b;
	struct hmr_node *n = inner(dev, &b);

	n->elms[3].in = n->elms[2].in;
	reseal_node(dev, b);
}

static void cr_int_child_is_a_leaf(struct hmr_bdev *dev)
{
	struct hmr_super *sb = newest_super(dev);
	struct hmr_node *root = (struct hmr_node *)blk(dev, sb->root_blkno);
	uint64_t leaf = some_leaf(dev);
	struct hmr_node *l = (struct hmr_node *)blk(dev, leaf);

	/* the root (level >= 2) points straight at a leaf, whose CRC and
	 * generation the pointer carries: only the level can tell */
	root->elms[0].in.child_blkno = leaf;
	root->elms[0].in.child_crc = l->hdr.crc;
	root->elms[0].in.child_gen_lo = (uint32_t)l->hdr.generation;
	reseal_node(dev, sb->root_blkno);
}

static void cr_int_count_zero(struct hmr_bdev *dev)
{
	uint64_t b;
	struct hmr_node *n = inner(dev, &b);

	n->count = 0;
	reseal_node(dev, b);
}

static void cr_int_count_too_big(struct hmr_bdev *dev)
{
	uint64_t b;
	struct hmr_node *n = inner(dev, &b);

	n->count = HMR_LEAF_MAX; /* one element past the right bound */
	reseal_node(dev, b);
}

static void cr_int_type_leaf(struct hmr_bdev *dev)
{
	uint64_t b;
	struct hmr_node *n = inner(dev, &b);

	n->type = HMR_NODE_LEAF;
	reseal_node(dev, b);
}

static void cr_int_child_in_freemap(struct hmr_bdev *dev)
{
	uint64_t b;
	struct hmr_node *n = inner(dev, &b);

	n->elms[0].in.child_blkno = HMR_BLK_FREEMAP;
	reseal_node(dev, b);
}

static void cr_int_child_past_end(struct hmr_bdev *dev)
{
	uint64_t b;
	struct hmr_node *n = inner(dev, &b);

	n->elms[0].in.child_blkno = dev->nblocks + 7;
	reseal_node(dev, b);
}

static void cr_fm_live_node_free(struct hmr_bdev *dev)
{
	*fm_entry(dev, some_leaf(dev)) = HMR_FM_FREE;
	reseal_freemap(dev);
}

static void cr_fm_root_free(struct hmr_bdev *dev)
{
	*fm_entry(dev, newest_super(dev)->root_blkno) = HMR_FM_FREE;
	reseal_freemap(dev);
}

static void cr_fm_free_block_owned(struct hmr_bdev *dev)
{
	*fm_entry(dev, some_free_block(dev)) = HMR_FM_OWNED;
	reseal_freemap(dev);
}

static void cr_fm_meaningless_entry(struct hmr_bdev *dev)
{
	*fm_entry(dev, some_free_block(dev)) = 0x77;
	reseal_freemap(dev);
}

static void cr_fm_leaf_is_meta(struct hmr_bdev *dev)
{
	*fm_entry(dev, some_leaf(dev)) = 3; /* a meta block of 3 units */
	reseal_freemap(dev);
}

static void cr_fm_all_free(struct hmr_bdev *dev)
{
	struct hmr_super *sb = newest_super(dev);

	for (uint64_t b = HMR_BLK_FREEMAP + 2ull * sb->freemap_nblocks;
	     b < sb->nblocks; b++)
		*fm_entry(dev, b) = HMR_FM_FREE;
	reseal_freemap(dev);
}

static void cr_fm_header_first_blkno(struct hmr_bdev *dev)
{
	struct hmr_super *sb = newest_super(dev);
	struct hmr_freemap_blk *fb = (struct hmr_freemap_blk *)blk(
		dev, sb->freemap_blkno[sb->freemap_copy]);

	fb->first_blkno = 4032;
	reseal_freemap(dev);
}

static void cr_sb_next_obj_id_low(struct hmr_bdev *dev)
{
	struct hmr_super *sb = newest_super(dev);

	sb->next_obj_id = 5; /* objects up to ~1,800 exist */
	hmr_block_seal(sb);
}

static void cr_sb_incompat_feature(struct hmr_bdev *dev)
{
	struct hmr_super *sb = newest_super(dev);

	sb->features_incompat = 0x80;
	hmr_block_seal(sb);
}

static void cr_sb_root_level_high(struct hmr_bdev *dev)
{
	struct hmr_super *sb = newest_super(dev);

	sb->root_level++;
	hmr_block_seal(sb);
}

static void cr_sb_root_is_a_subtree(struct hmr_bdev *dev)
{
	struct hmr_super *sb = newest_super(dev);
	uint64_t b;
	struct hmr_node *n = inner(dev, &b);

	/* a valid, consistent subtree: only what is missing can tell */
	sb->root_blkno = b;
	sb->root_crc = n->hdr.crc;
	sb->root_gen_lo = (uint32_t)n->hdr.generation;
	sb->root_level = n->level;
	hmr_block_seal(sb);
}

static void cr_sb_root_generation(struct hmr_bdev *dev)
{
	struct hmr_super *sb = newest_super(dev);

	sb->root_gen_lo--; /* the root's CRC matches, its generation not */
	hmr_block_seal(sb);
}

static void cr_sb_free_blocks_wrong(struct hmr_bdev *dev)
{
	struct hmr_super *sb = newest_super(dev);

	sb->free_blocks += 100;
	hmr_block_seal(sb);
}

static void cr_sb_nblocks_smaller(struct hmr_bdev *dev)
{
	struct hmr_super *sb = newest_super(dev);

	sb->nblocks -= 64; /* same freemap size; the tree reaches past it */
	hmr_block_seal(sb);
}

static void cr_sb_root_in_super_slot(struct hmr_bdev *dev)
{
	struct hmr_super *sb = newest_super(dev);

	sb->root_blkno = HMR_BLK_SUPER_A;
	hmr_block_seal(sb);
}

struct craft_case {
	const char *name;
	void (*fn)(struct hmr_bdev *);
	const char *fsck_says; /* a phrase fsck's report must contain */
	int refused;	       /* mount must refuse the newest commit */
};

static const struct craft_case craft_cases[] = {
	{ "internal: separators swapped", cr_int_swap_separators,
	  "key order violation", 0 },
	{ "internal: right bound below its keys", cr_int_right_bound_low,
	  "key order violation", 0 },
	{ "internal: one child named twice", cr_int_same_child_twice,
	  "referenced twice", 0 },
	{ "internal: child pointer to a leaf", cr_int_child_is_a_leaf,
	  "level, type or count", 0 },
	{ "internal: count 0", cr_int_count_zero,
	  "level, type or count", 0 },
	{ "internal: count past the right bound", cr_int_count_too_big,
	  "level, type or count", 0 },
	{ "internal: type says leaf", cr_int_type_leaf,
	  "level, type or count", 0 },
	{ "internal: child in the freemap", cr_int_child_in_freemap,
	  "node pointer outside data space", 0 },
	{ "internal: child past the end", cr_int_child_past_end,
	  "node pointer outside data space", 0 },
	{ "freemap: a live leaf marked free", cr_fm_live_node_free,
	  "in use but marked free", 0 },
	{ "freemap: the root marked free", cr_fm_root_free,
	  "in use but marked free", 0 },
	{ "freemap: a free block marked owned", cr_fm_free_block_owned,
	  "leaked", 0 },
	{ "freemap: an entry with no meaning", cr_fm_meaningless_entry,
	  "freemap: entry", 1 },
	{ "freemap: a leaf marked as a meta block", cr_fm_leaf_is_meta,
	  "miscounted", 0 },
	{ "freemap: everything free", cr_fm_all_free,
	  "in use but marked free", 0 },
	{ "freemap: block header's first_blkno", cr_fm_header_first_blkno,
	  "freemap: bad CRC or header", 1 },
	{ "super: next_obj_id below ids in use", cr_sb_next_obj_id_low,
	  "next_obj_id", 1 },
	{ "super: unknown incompatible feature", cr_sb_incompat_feature,
	  "incompatible feature", 1 },
	{ "super: root level one too high", cr_sb_root_level_high,
	  "root node: bad level", 1 },
	{ "super: root names a subtree", cr_sb_root_is_a_subtree,
	  "root directory missing", 0 },
	{ "super: root generation not the root's", cr_sb_root_generation,
	  "root node: stale", 1 },
	{ "super: free_blocks wrong", cr_sb_free_blocks_wrong, "free_blocks", 0 },
	{ "super: nblocks below what the tree uses", cr_sb_nblocks_smaller,
	  "freemap", 1 },
	{ "super: root in a superblock slot", cr_sb_root_in_super_slot,
	  "root node: bad CRC or header", 1 },
};

/*
 * Every case on a fresh copy of a depth-3 image: the CRCs all check out
 * (asserted: the superblock still passes hmr_read_super's CRC, so the
 * damage is semantic), fsck names the check, and mount refuses with a
 * diagnosis naming it or mounts and survives reads, writes, unlinks,
 * renames, prune and sync; a second fsck afterwards must not crash
 * either.
 */
HTEST(hmr_corrupt, crafted_damage_above_the_leaves_is_named_never_a_crash)
{
	struct hmr_bdev *pristine = deep_populated();
	size_t n = sizeof(craft_cases) / sizeof(craft_cases[0]);
	int refused = 0, survived = 0;

	for (size_t i = 0; i < n; i++) {
		const struct craft_case *cc = &craft_cases[i];
		struct hmr_bdev *dev = hmr_bdev_mem_create(CO_NBLOCKS);
		struct hmr_mount *m = NULL;
		struct hmr_fsck_result res;
		struct hmr_diag diag;
		struct hmr_super sb;
		int slot;

		memcpy(hmr_bdev_mem_bytes(dev), hmr_bdev_mem_bytes(pristine),
		       (size_t)CO_NBLOCKS * HMR_BLOCK_SIZE);
		slot = newest_super(dev) == (struct hmr_super *)blk(
						    dev, HMR_BLK_SUPER_B);
		cc->fn(dev);
		dev->read(dev, HMR_BLK_SUPER_A + (uint64_t)slot, &sb);
		HT_EXPECT_EQ(sb.hdr.crc, hmr_block_crc(&sb));
		printf("  # case \"%s\"\n", cc->name);
		HT_EXPECT_TRUE(fsck_says(dev, cc->fsck_says, 0));
		int error = hmr_mount_diag(dev, HMR_MNT_QUIET, 0, &m, &diag);

		if (cc->refused) /* refused: it falls back, or fails */
			HT_EXPECT_TRUE(error != 0 || m->durable_tid < sb.commit_tid);
		if (error != 0) {
			printf("  #   mount refused: %s\n", diag.text);
			HT_EXPECT_TRUE(diag.text[0] != '\0');
			refused++;
		} else {
			printf("  #   mounted (commit %llu%s)%s%s\n",
			       (unsigned long long)m->durable_tid,
			       hmr_counters(m)->super_fallbacks ? ", fell back"
								  : "",
			       diag.text[0] ? ": " : "", diag.text);
			exercise(m);
			hmr_unmount(m);
			survived++;
		}
		hmr_fsck(dev, 0, NULL, NULL, &res);
		hmr_bdev_close(dev);
	}
	printf("  # %zu cases: %d refused at mount, %d mounted and survived\n",
	       n, refused, survived);
	hmr_bdev_close(pristine);
}
