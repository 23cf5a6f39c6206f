/*
 * hmr_errors_test.c - edge cases of the HMR API that must answer with a
 * precise errno or with no effect at all: zero-length writes, names that
 * could never be looked up again, and writes through as-of objects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"
#include "hmr_private.h"

/* POSIX: write() of zero bytes to a regular file "shall return zero and
 * have no other results" - no size change, no new inode version. */
HTEST(hmr_errors, zero_length_write_changes_nothing)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	struct hmr_stat before, after;
	uint64_t ino;

	HT_ASSERT_EQ(tl_put(m, "f", "abc", 3), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "f", &ino), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_ASSERT_EQ(hmr_getattr(m, 0, ino, &before), 0);
	HT_EXPECT_EQ(hmr_write(m, 0, ino, 1000000, "", 0), 0);
	HT_EXPECT_EQ(hmr_write(m, 0, ino, 0, NULL, 0), 0);
	HT_ASSERT_EQ(hmr_getattr(m, 0, ino, &after), 0);
	HT_EXPECT_EQ(after.size, 3);
	HT_EXPECT_EQ(after.mtime_ns, before.mtime_ns);
	HT_EXPECT_EQ(after.create_tid, before.create_tid);
	/* nothing to commit: the sync writes nothing */
	uint64_t commits = hmr_counters(m)->commits;
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_EXPECT_EQ(hmr_counters(m)->commits, commits);
	/* the usual errors are still reported */
	HT_EXPECT_EQ(hmr_write(m, 0, HMR_OBJID_ROOT, 0, "", 0), EISDIR);
	HT_EXPECT_EQ(hmr_write(m, 0, 9999, 0, "", 0), ENOENT);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

/* "name@@0x<hex>" is how lookup reaches an as-of view, so an entry named
 * like that could be created but never found again.  Every call that makes
 * a new name refuses it; names that only look similar stay legal. */
HTEST(hmr_errors, asof_looking_names_are_refused_at_create)
{
	static const char *const bad[] = { "a@@0x1", "f@@0X00000000000000ff",
					   "x@@0xdeadBEEF" };
	static const char *const good[] = { "@@0x5", "a@@0x0", "a@@0xzz",
					    "a@@0x", "a@@1", "a@@0x11112222333344445" };
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t f, x;

	HT_ASSERT_EQ(tl_put(m, "f", "x", 1), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "f", &f), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		printf("  # refused: %s\n", bad[i]);
		HT_EXPECT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, bad[i], 0644, 0, &x), EINVAL);
		HT_EXPECT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, bad[i], 0755, &x), EINVAL);
		HT_EXPECT_EQ(hmr_symlink(m, 0, HMR_OBJID_ROOT, bad[i], "t", &x), EINVAL);
		HT_EXPECT_EQ(hmr_link(m, 0, f, 0, HMR_OBJID_ROOT, bad[i]), EINVAL);
		HT_EXPECT_EQ(hmr_rename(m, 0, HMR_OBJID_ROOT, "f", 0, HMR_OBJID_ROOT,
					bad[i]), EINVAL);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t got;

		HT_EXPECT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, good[i], 0644, 0, &x), 0);
		HT_EXPECT_EQ(hmr_lookup(m, 0, HMR_OBJID_ROOT, good[i], &got, NULL), 0);
		HT_EXPECT_EQ(got, x);
	}
	HT_EXPECT_EQ(tl_walk(m, 0, "f", &x), 0); /* the refused rename left f */
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

/* Objects reached through "name@@0x<TID>" are history: the core itself
 * refuses every change to them (the kernel's VFS calls it directly, with
 * no FUSE layer in between), and the live objects stay untouched. */
HTEST(hmr_errors, writes_through_asof_objects_are_erofs_in_the_core)
{
	struct hmr_bdev *dev = tl_fresh_dev(1000);
	struct hmr_mount *m = tl_mount(dev);
	struct hmr_setattr sa = { .valid = HMR_SET_SIZE | HMR_SET_MODE,
				  .size = 1, .mode = 0600 };
	uint64_t tid, d, f, dasof, fasof, x;
	char name[64];

	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d", 0755, &d), 0);
	HT_ASSERT_EQ(tl_put(m, "d/f", "old", 3), 0);
	HT_ASSERT_EQ(hmr_sync(m, &tid), 0);
	char *before = tl_digest(m, 0);
	snprintf(name, sizeof(name), "d@@0x%llx", (unsigned long long)tid);
	HT_ASSERT_EQ(hmr_lookup(m, 0, HMR_OBJID_ROOT, name, &d, &dasof), 0);
	HT_ASSERT_EQ(hmr_lookup(m, dasof, d, "f", &f, &fasof), 0);
	HT_ASSERT_EQ(dasof, tid);
	HT_ASSERT_EQ(fasof, tid);
	HT_EXPECT_EQ(hmr_write(m, fasof, f, 0, "new", 3), EROFS);
	HT_EXPECT_EQ(hmr_setattr(m, fasof, f, &sa), EROFS);
	HT_EXPECT_EQ(hmr_create(m, dasof, d, "g", 0644, 0, &x), EROFS);
	HT_EXPECT_EQ(hmr_mkdir(m, dasof, d, "e", 0755, &x), EROFS);
	HT_EXPECT_EQ(hmr_symlink(m, dasof, d, "l", "t", &x), EROFS);
	HT_EXPECT_EQ(hmr_link(m, fasof, f, 0, d, "g"), EROFS);
	HT_EXPECT_EQ(hmr_link(m, 0, f, dasof, d, "g"), EROFS);
	HT_EXPECT_EQ(hmr_unlink(m, dasof, d, "f"), EROFS);
	HT_EXPECT_EQ(hmr_rmdir(m, fasof, HMR_OBJID_ROOT, "d"), EROFS);
	HT_EXPECT_EQ(hmr_rename(m, dasof, d, "f", 0, d, "g"), EROFS);
	HT_EXPECT_EQ(hmr_rename(m, 0, d, "f", dasof, d, "g"), EROFS);
	char *after = tl_digest(m, 0);
	HT_EXPECT_STREQ(after, before);
	/* the same objects through the live view still change */
	HT_EXPECT_EQ(hmr_write(m, 0, f, 0, "new", 3), 0);
	HT_EXPECT_EQ(hmr_rename(m, 0, d, "f", 0, d, "g"), 0);
	free(before), free(after);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

/* ---- an error undoes only its own operation ---- */

static uint8_t *pattern(size_t len, uint64_t seed)
{
	uint8_t *p = malloc(len + 1);

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(tl_rand(&seed) >> 13);
	return p;
}

/* Operations that returned success but are not synced yet survive an
 * operation that runs out of space half way; the failed write leaves no
 * trace (size, content, free space as before); and the inode numbers they
 * were given are never handed out again. */
HTEST(hmr_errors, enospc_undoes_only_the_failing_operation)
{
	struct hmr_bdev *dev = tl_fresh_dev(400);
	struct hmr_mount *m = tl_mount(dev);
	uint8_t *big = pattern(4 << 20, 1), *got;
	struct hmr_statfs before, after;
	struct hmr_stat st;
	uint64_t a, b, c;
	size_t len;

	HT_ASSERT_EQ(tl_put(m, "keep", "synced", 6), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "a", 0644, 0, &a), 0);
	HT_ASSERT_EQ(hmr_write(m, 0, a, 0, "not synced", 10), 0);
	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "b", 0644, 0, &b), 0);
	HT_ASSERT_EQ(hmr_statfs(m, &before), 0);
	/* 4 MiB into a 1.6 MiB volume: fails after writing many blocks */
	HT_EXPECT_EQ(hmr_write(m, 0, b, 0, big, 4 << 20), ENOSPC);
	HT_ASSERT_EQ(hmr_statfs(m, &after), 0);
	HT_EXPECT_EQ(after.free_blocks, before.free_blocks);
	HT_ASSERT_EQ(hmr_getattr(m, 0, b, &st), 0);
	HT_EXPECT_EQ(st.size, 0);
	HT_EXPECT_EQ(st.blocks, 0);
	HT_ASSERT_EQ(tl_get(m, 0, "a", &got, &len), 0);
	HT_ASSERT_EQ(len, 10);
	HT_EXPECT_MEMEQ(got, "not synced", 10);
	free(got);
	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "c", 0644, 0, &c), 0);
	HT_EXPECT_GT(c, b);
	m = tl_remount(m, dev);
	HT_ASSERT_EQ(tl_get(m, 0, "a", &got, &len), 0);
	HT_ASSERT_EQ(len, 10);
	HT_EXPECT_MEMEQ(got, "not synced", 10);
	free(got);
	HT_EXPECT_EQ(tl_walk(m, 0, "b", &b), 0);
	HT_EXPECT_EQ(tl_walk(m, 0, "c", &c), 0);
	free(big);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}

/* The data leaf of `ino` that holds its last DATA record. */
static uint64_t last_data_leaf(struct hmr_mount *m, uint64_t ino,
			       uint64_t nblocks)
{
	struct hmr_base key;
	struct hmr_cursor c;

	hmr_key_make(&key, HMR_LOCALIZE_MISC, ino, HMR_REC_DATA,
		     nblocks * HMR_BLOCK_SIZE);
	HT_ASSERT_EQ(hmr_bt_seek(m, &key, &c), 0);
	return c.path[c.nlevels - 1].buf->blkno;
}

/* A read error half way through an unlink (a damaged leaf among the
 * file's data records) fails that unlink alone: the name stays, and what
 * other operations did since the last sync stays too. */
HTEST(hmr_errors, read_error_undoes_only_the_failing_operation)
{
	struct hmr_bdev *dev = tl_fresh_dev(2000);
	struct hmr_mount *m = tl_mount(dev);
	uint8_t *data = pattern(300 * 4096, 2), *got;
	uint64_t f, a, a2, c, leaf, dirleaf;
	size_t len;

	/* a sorts before victim (smaller object id), so writing a never
	 * reads the damaged leaf at the end of victim's data */
	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "a", 0644, 0, &a), 0);
	HT_ASSERT_EQ(tl_put(m, "victim", data, 300 * 4096), 0);
	HT_ASSERT_EQ(tl_walk(m, 0, "victim", &f), 0);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	leaf = last_data_leaf(m, f, 300);
	hmr_unmount(m);
	hmr_bdev_mem_bytes(dev)[leaf * HMR_BLOCK_SIZE + 0x200] ^= 0x40;
	m = tl_mount(dev);
	HT_ASSERT_EQ(hmr_write(m, 0, a, 0, "not synced", 10), 0);
	HT_ASSERT_EQ(hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d", 0755, &a2), 0);
	struct hmr_base key;
	struct hmr_cursor cur;
	hmr_key_make(&key, HMR_LOCALIZE_MISC, HMR_OBJID_ROOT, HMR_REC_DIRENT, 0);
	HT_ASSERT_EQ(hmr_bt_seek(m, &key, &cur), 0);
	dirleaf = cur.path[cur.nlevels - 1].buf->blkno;
	HT_ASSERT_TRUE(dirleaf != leaf);
	HT_EXPECT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "victim"), EIO);
	HT_EXPECT_EQ(tl_walk(m, 0, "victim", &f), 0);
	HT_ASSERT_EQ(tl_get(m, 0, "a", &got, &len), 0);
	HT_ASSERT_EQ(len, 10);
	HT_EXPECT_MEMEQ(got, "not synced", 10);
	free(got);
	HT_EXPECT_EQ(tl_walk(m, 0, "d", &a2), 0);
	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "c", 0644, 0, &c), 0);
	HT_EXPECT_GT(c, a2);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	/* d and c may share no number with what came before them */
	HT_EXPECT_GT(a2, f);
	m = tl_remount(m, dev);
	HT_EXPECT_EQ(tl_walk(m, 0, "a", &a), 0);
	HT_EXPECT_EQ(tl_walk(m, 0, "d", &a2), 0);
	HT_EXPECT_EQ(tl_walk(m, 0, "c", &c), 0);
	HT_ASSERT_EQ(tl_get(m, 0, "a", &got, &len), 0);
	HT_ASSERT_EQ(len, 10);
	HT_EXPECT_MEMEQ(got, "not synced", 10);
	free(got);
	free(data);
	hmr_unmount(m);
	hmr_bdev_close(dev);
}

/* Everything a rollback must restore, as bytes: every record of the tree
 * (history included) and whether its payload still reads back, the
 * freemap and the allocation flags.  Not the
 * object-id counter: a failed create keeps the number it used up. */
static char *whole_state(struct hmr_mount *m, size_t *len)
{
	char *buf = NULL;
	FILE *out = open_memstream(&buf, len);
	struct hmr_base key = { 0 };
	struct hmr_cursor c;
	int error;

	for (error = hmr_bt_seek(m, &key, &c); !error; error = hmr_bt_next(&c)) {
		struct hmr_elm e = *hmr_bt_elm(&c);
		uint8_t payload[HMR_BLOCK_SIZE];
		struct hmr_cursor keep = c;

		/* the payload must still read back (CRC-checked) */
		fwrite(&e, sizeof(e), 1, out);
		fprintf(out, "payload %d\n", hmr_rec_payload(m, &e, payload));
		c = keep;
	}
	fprintf(out, "end %d root %llu/%d free %llu held %llu meta %llu+%d\n",
		error, (unsigned long long)m->root_blkno, m->root_level,
		(unsigned long long)m->nfree, (unsigned long long)m->nheld,
		(unsigned long long)m->meta_blk, m->meta_next_unit);
	fwrite(m->fm, 1, m->nblocks, out);
	fwrite(m->bflags, 1, m->nblocks, out);
	fclose(out);
	return buf;
}

/* One random changing operation; returns its error.  A missing name is
 * mostly created, an existing one mostly written, so most operations get
 * as far as allocating. */
static int random_op(struct hmr_mount *m, uint64_t *seed)
{
	static uint8_t buf[40000];
	char a[8], b[8];
	uint64_t ino, d = HMR_OBJID_ROOT;
	struct hmr_setattr sa = { .valid = HMR_SET_SIZE };
	int r = (int)(tl_rand(seed) % 10);

	snprintf(a, sizeof(a), "f%d", (int)(tl_rand(seed) % 6));
	snprintf(b, sizeof(b), "f%d", (int)(tl_rand(seed) % 6));
	memset(buf, (int)(tl_rand(seed) & 0xff), sizeof(buf));
	if (tl_rand(seed) % 3 == 0 && hmr_lookup(m, 0, d, "d", &ino, NULL) == 0)
		d = ino;
	if (hmr_lookup(m, 0, d, a, &ino, NULL) != 0) {
		if (r == 0)
			return hmr_mkdir(m, 0, HMR_OBJID_ROOT, "d", 0755, &ino);
		if (r == 1)
			return hmr_symlink(m, 0, d, a, "a-long-enough-target-to-"
					   "need-its-own-record-xxxxxxxxxxxxxxx",
					   &ino);
		return hmr_create(m, 0, d, a, 0644, 0, &ino);
	}
	switch (r) {
	case 0: return hmr_unlink(m, 0, d, a);
	case 1: return hmr_rename(m, 0, d, a, 0, HMR_OBJID_ROOT, b);
	case 2: return hmr_link(m, 0, ino, 0, HMR_OBJID_ROOT, b);
	case 3:
		sa.size = tl_rand(seed) % 30000;
		return hmr_setattr(m, 0, ino, &sa);
	default:
		return hmr_write(m, 0, ino, tl_rand(seed) % 20000, buf,
				 1 + tl_rand(seed) % sizeof(buf));
	}
}

/* Fail random operations at a random allocation or payload read (hooks
 * make it answer ENOSPC or EIO) and check that each failure left the whole
 * in-memory state - records, history, freemap, allocation flags - exactly
 * as it was before that operation, while successes in between, unsynced,
 * survive.  Every few steps a sync; at the end a remount and fsck. */
HTEST(hmr_errors, failure_at_any_allocation_or_read_undoes_exactly_that_operation)
{
	struct hmr_bdev *dev = tl_fresh_dev(3000);
	struct hmr_mount *m = tl_mount(dev);
	uint64_t seed = htest_seed() ^ 0xfa11, failed = 0;

	printf("  # seed=0x%llx\n", (unsigned long long)seed);
	for (int step = 0; step < 600; step++) {
		size_t len0, len1;
		char *before = whole_state(m, &len0);
		uint64_t next_obj_id = m->next_obj_id;
		int error;

		/* odd steps fail at an allocation, even ones at a read */
		if (step % 2)
			hmr_alloc_fail_countdown = 1 + tl_rand(&seed) % 3;
		else
			hmr_payload_fail_countdown = 1 + tl_rand(&seed) % 12;
		error = random_op(m, &seed);
		if ((error == ENOSPC && hmr_alloc_fail_countdown == 0 &&
		     step % 2) ||
		    (error == EIO && hmr_payload_fail_countdown == 0 &&
		     !(step % 2))) {
			char *after = whole_state(m, &len1);

			failed++;
			HT_ASSERT_EQ(len1, len0);
			HT_ASSERT_TRUE(memcmp(before, after, len0) == 0);
			free(after);
		}
		HT_ASSERT_TRUE(m->next_obj_id >= next_obj_id);
		hmr_alloc_fail_countdown = hmr_payload_fail_countdown = 0;
		free(before);
		if (step % 50 == 49)
			HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
	}
	printf("  # operations failed half way and undone: %llu\n",
	       (unsigned long long)failed);
	HT_EXPECT_GT(failed, 100);
	char *live = tl_digest(m, 0);
	m = tl_remount(m, dev);
	char *again = tl_digest(m, 0);
	HT_EXPECT_STREQ(again, live);
	free(live), free(again);
	hmr_unmount(m);
	HT_EXPECT_EQ(tl_fsck(dev, 1), 0);
	hmr_bdev_close(dev);
}
