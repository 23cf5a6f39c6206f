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

	HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, "g", 0644, 0, &ino), 0);
	HT_ASSERT_EQ(ino, 3);
	HT_ASSERT_EQ(hmr_sync(m, NULL), 0); /* /g's records become history */
	HT_ASSERT_EQ(hmr_unlink(m, 0, HMR_OBJID_ROOT, "g"), 0);
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	HT_ASSERT_EQ(tl_fsck(dev, 1), 0);
	damage(dev, rewind_next_obj_id);
	HT_EXPECT_TRUE(fsck_reports(dev, "next_obj_id"));
	hmr_bdev_close(dev);
}

/* ---- stack use ---- */

/*
 * fsck must run on a kernel thread's stack (LWKT_STACK_SIZE, 16 KiB).  Its
 * stack use is measured by painting: the thread runs on a stack we filled
 * with a pattern, and afterwards the lowest overwritten byte is the
 * high-water mark.  These tests are built with AddressSanitizer, whose
 * redzones around locals make frames two to three times larger than in
 * the kernel's build, so the bound asserted here, 12 KiB, is the
 * sanitizer build's; the recursive walk fsck had before used 24 KiB on
 * this tree (a 4 KiB node copy per level plus a 4 KiB payload buffer).
 */
#include <pthread.h>

#define PAINT 0xA5
#define PAINTED_STACK (1024 * 1024)
#define FSCK_STACK_MAX_ASAN (12 * 1024)

/* One fsck run on a thread: its device and flags in, problems out. */
struct stack_run {
	struct hmr_bdev *dev;
	unsigned flags;
	int problems;
};

/* A readdir callback: count the entries. */
static int count_entry(void *arg, const struct hmr_dirent *d)
{
	(void)d;
	(*(int *)arg)++;
	return 0;
}

/* The thread's body: just fsck, so the high-water mark is fsck's. */
static void *fsck_on_thread(void *arg)
{
	struct stack_run *r = arg;
	struct hmr_fsck_result res;

	r->problems = hmr_fsck(r->dev, r->flags, NULL, NULL, &res);
	return NULL;
}

/* The lowest byte of the painted stack that was written: the stack grows
 * down from the top, so everything above it was used at some point. */
__attribute__((no_sanitize("address")))
static size_t _high_water(const uint8_t *stack, size_t size)
{
	size_t i = 0;

	while (i < size && stack[i] == PAINT)
		i++;
	return size - i;
}

/* Run fn(r) on a thread whose stack we painted; returns the bytes of
 * stack it touched (the thread's own start-up included). */
static size_t stack_use(struct stack_run *r, void *(*fn)(void *))
{
	uint8_t *stack = aligned_alloc(4096, PAINTED_STACK);
	pthread_attr_t attr;
	pthread_t t;
	size_t used;

	memset(stack, PAINT, PAINTED_STACK);
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, stack, PAINTED_STACK);
	HT_ASSERT_EQ(pthread_create(&t, &attr, fn, r), 0);
	pthread_join(t, NULL);
	pthread_attr_destroy(&attr);
	used = _high_water(stack, PAINTED_STACK);
	free(stack);
	return used;
}

/* A tree of depth 3 (3,000 files with data, and a snapshot so fsck also
 * checks a second view): check, and check with repair, each within the
 * bound. */
HTEST(hmr_fsck, stack_use_is_bounded_on_a_deep_tree)
{
	struct hmr_bdev *dev = tl_fresh_dev(8192);
	struct hmr_mount *m = tl_mount(dev);
	struct stack_run r = { .dev = dev };
	uint64_t ino, tid;
	char name[32];
	size_t used;

	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "file-%d", i);
		HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, name, 0644, 0, &ino), 0);
		HT_ASSERT_EQ(hmr_write(m, 0, ino, 0, name, strlen(name)), 0);
	}
	HT_ASSERT_EQ(hmr_snapshot_create(m, "s", &tid), 0);
	printf("  # tree depth %d\n", m->root_level + 1);
	HT_ASSERT_TRUE(m->root_level + 1 >= 3);
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	used = stack_use(&r, fsck_on_thread);
	printf("  # fsck stack: %zu bytes\n", used);
	HT_EXPECT_LE(used, FSCK_STACK_MAX_ASAN);
	HT_EXPECT_EQ(r.problems, 0);
	r.flags = HMR_FSCK_REPAIR;
	used = stack_use(&r, fsck_on_thread);
	printf("  # fsck -r stack: %zu bytes\n", used);
	HT_EXPECT_LE(used, FSCK_STACK_MAX_ASAN);
	hmr_bdev_close(dev);
}

/*
 * The core's other calls share fsck's budget: on the same kind of tree
 * (depth 3), a thread whose stack we painted mounts, looks up, creates,
 * writes 128 KiB, reads, lists a directory of 3,000 entries, links,
 * renames, unlinks, truncates, changes attributes, makes a long symlink,
 * takes and deletes a snapshot, prunes (which reblocks), reblocks, syncs
 * and unmounts; its high-water mark must stay within the same 12 KiB
 * (sanitizer build).
 */
/* Step k of the calls below, on mount m (the mount itself is step 0,
 * outside).  0 or the call's error. */
static int vop_step(struct hmr_mount *m, int k)
{
	static uint8_t buf[128 * 1024];
	static char target[300];
	struct hmr_setattr sa = { .valid = HMR_SET_SIZE | HMR_SET_MODE,
				  .size = 5000, .mode = 0600 };
	static uint64_t ino, ino2, tid;
	uint64_t freed;
	size_t got;
	int n = 0;

	memset(target, 't', sizeof(target) - 1);
	switch (k) {
	case 1: return hmr_lookup(m, 0, HMR_OBJID_ROOT, "file-1234", &ino, NULL);
	case 2: return hmr_create(m, 0, HMR_OBJID_ROOT, "new", 0644, 0, &ino2);
	case 3: return hmr_write(m, 0, ino2, 0, buf, sizeof(buf));
	case 4: return hmr_read(m, 0, ino2, 4096, buf, sizeof(buf), &got);
	case 5: return hmr_readdir(m, 0, HMR_OBJID_ROOT, 0, count_entry, &n);
	case 6: return hmr_link(m, 0, ino, 0, HMR_OBJID_ROOT, "link");
	case 7: return hmr_rename(m, 0, HMR_OBJID_ROOT, "link", 0,
				  HMR_OBJID_ROOT, "file-1");
	case 8: return hmr_unlink(m, 0, HMR_OBJID_ROOT, "file-2");
	case 9: return hmr_setattr(m, 0, ino2, &sa);
	case 10: return hmr_symlink(m, 0, HMR_OBJID_ROOT, "sym", target, &ino);
	case 11: return hmr_snapshot_create(m, "t", &tid);
	case 12: return hmr_snapshot_delete(m, tid);
	case 13: return hmr_prune(m, &freed);
	case 14: return hmr_reblock(m, NULL, NULL);
	case 15: return hmr_sync(m, NULL);
	}
	return 0;
}

static const char *const vop_names[] = {
	"mount", "lookup", "create", "write 128 KiB", "read 128 KiB",
	"readdir", "link", "rename over a file", "unlink", "setattr",
	"symlink", "snapshot", "snapshot delete", "prune", "reblock", "sync",
	"unmount",
};
#define VOP_STEPS 17

/* The thread's body: mount, steps 1 .. r->flags - 2, unmount when
 * r->flags is VOP_STEPS; r->problems counts failed calls. */
static void *vops_on_thread(void *arg)
{
	struct stack_run *r = arg;
	struct hmr_mount *m;
	int last = (int)r->flags;

	r->problems = hmr_mount(r->dev, 0, 0, &m) != 0;
	if (r->problems)
		return NULL;
	for (int k = 1; k < last && k < VOP_STEPS - 1; k++)
		r->problems += vop_step(m, k) != 0;
	if (last == VOP_STEPS)
		r->problems += hmr_unmount(m) != 0;
	else
		hmr_mount_abandon(m);
	return NULL;
}

HTEST(hmr_fsck, every_call_fits_the_same_stack_budget)
{
	struct hmr_bdev *dev = tl_fresh_dev(8192);
	struct hmr_mount *m = tl_mount(dev);
	struct stack_run r = { .dev = dev };
	uint64_t ino, tid;
	char name[32];
	size_t used;

	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "file-%d", i);
		HT_ASSERT_EQ(hmr_create(m, 0, HMR_OBJID_ROOT, name, 0644, 0, &ino), 0);
		HT_ASSERT_EQ(hmr_write(m, 0, ino, 0, name, strlen(name)), 0);
	}
	HT_ASSERT_EQ(hmr_snapshot_create(m, "s", &tid), 0);
	HT_ASSERT_TRUE(m->root_level + 1 >= 3);
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	/* each run on a fresh copy does one more call: the high-water mark
	 * of a run is at least the one before, so its growth is that call's */
	struct hmr_bdev *copy = hmr_bdev_mem_create(8192);
	size_t before = 0;
	for (int k = 1; k <= VOP_STEPS; k++) {
		memcpy(hmr_bdev_mem_bytes(copy), hmr_bdev_mem_bytes(dev),
		       8192ull * HMR_BLOCK_SIZE);
		r.dev = copy, r.flags = (unsigned)k;
		used = stack_use(&r, vops_on_thread);
		printf("  # stack after %-18s %5zu bytes%s\n", vop_names[k - 1],
		       used, used > before ? " (deeper)" : "");
		before = used > before ? used : before;
		HT_EXPECT_LE(used, FSCK_STACK_MAX_ASAN);
		HT_EXPECT_EQ(r.problems, 0);
	}
	HT_EXPECT_EQ(tl_fsck(copy, 0), 0);
	hmr_bdev_close(copy);
	hmr_bdev_close(dev);
}

/* ---- what mount and fsck say about an unusable image ---- */

/* Damage both superblocks differently: slot A (block 1) gets a flipped
 * byte (its CRC fails); slot B (block 2) gets version 9 and a fresh CRC
 * (it is intact but not a format this code reads). */
static void break_both_slots(struct hmr_bdev *dev)
{
	uint8_t *bytes = hmr_bdev_mem_bytes(dev);
	struct hmr_super *b = (struct hmr_super *)(bytes + 2 * HMR_BLOCK_SIZE);

	bytes[1 * HMR_BLOCK_SIZE + 0x80] ^= 0x01; /* inside slot A's label */
	b->version = 9;
	hmr_block_seal(b);
}

/* fsck cannot check such an image; its one finding names each slot and
 * the check that slot failed, so the operator knows what is broken. */
HTEST(hmr_fsck, unusable_image_names_the_check_each_superblock_failed)
{
	struct hmr_bdev *dev = image_with_file(10);
	struct findings f = { .n = 0 };
	struct hmr_fsck_result res;

	break_both_slots(dev);
	HT_EXPECT_GT(hmr_fsck(dev, 0, collect, &f, &res), 0);
	HT_EXPECT_TRUE(res.fatal);
	printf("  # fsck: %s", f.text);
	HT_EXPECT_TRUE(strstr(f.text, "slot A (block 1): bad CRC") != NULL);
	HT_EXPECT_TRUE(strstr(f.text, "slot B (block 2): unknown version") != NULL);
	hmr_bdev_close(dev);
}

/* The newest superblock of dev (the slot with the larger TID). */
static struct hmr_super *newest_super(struct hmr_bdev *dev, int *slot)
{
	uint8_t *bytes = hmr_bdev_mem_bytes(dev);
	struct hmr_super *a = (struct hmr_super *)(bytes + HMR_BLOCK_SIZE);
	struct hmr_super *b = (struct hmr_super *)(bytes + 2 * HMR_BLOCK_SIZE);

	*slot = b->commit_tid > a->commit_tid;
	return *slot ? b : a;
}

/* Mount dev, expecting `error`; the diagnosis must contain `needle`. */
static void expect_diag(struct hmr_bdev *dev, uint64_t asof, int error,
			const char *needle)
{
	struct hmr_mount *m = NULL;
	struct hmr_diag diag;

	HT_EXPECT_EQ(hmr_mount_diag(dev, HMR_MNT_QUIET, asof, &m, &diag),
		     error);
	printf("  # diag: %s (want \"%s\")\n", diag.text, needle);
	HT_EXPECT_TRUE(strstr(diag.text, needle) != NULL);
	if (m != NULL)
		hmr_mount_abandon(m);
}

/* Beyond the superblock itself: a newest commit whose freemap or root is
 * damaged is named (the mount falls back to the older slot and succeeds),
 * and so is an as-of TID that no commit reached. */
HTEST(hmr_fsck, mount_diagnosis_names_freemap_root_and_asof_failures)
{
	struct hmr_bdev *dev = image_with_file(10);
	uint8_t *bytes = hmr_bdev_mem_bytes(dev);
	uint8_t saved[HMR_BLOCK_SIZE];
	char want[96];
	int slot;
	struct hmr_super *sb = newest_super(dev, &slot);
	uint64_t fm = sb->freemap_blkno[sb->freemap_copy];
	uint64_t root = sb->root_blkno;

	expect_diag(dev, 0, 0, ""); /* intact: mounts, nothing to say */
	memcpy(saved, bytes + fm * HMR_BLOCK_SIZE, HMR_BLOCK_SIZE);
	bytes[fm * HMR_BLOCK_SIZE + 100] ^= 0x10;
	snprintf(want, sizeof(want), "slot %c (block %d): freemap: bad CRC or "
		 "header in block %llu", 'A' + slot, 1 + slot,
		 (unsigned long long)fm);
	expect_diag(dev, 0, 0, want);
	memcpy(bytes + fm * HMR_BLOCK_SIZE, saved, HMR_BLOCK_SIZE);
	bytes[root * HMR_BLOCK_SIZE + 100] ^= 0x10;
	snprintf(want, sizeof(want), "slot %c (block %d): root node: bad CRC "
		 "or header in block %llu", 'A' + slot, 1 + slot,
		 (unsigned long long)root);
	expect_diag(dev, 0, 0, want);
	bytes[root * HMR_BLOCK_SIZE + 100] ^= 0x10;
	expect_diag(dev, sb->commit_tid + 5, EINVAL,
		    "is beyond the last commit");
	hmr_bdev_close(dev);
}
