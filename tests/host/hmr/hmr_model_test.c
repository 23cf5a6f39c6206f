/*
 * hmr_model_test.c - a seeded random workload applied both to HMR and to
 * a tiny in-memory model of a POSIX namespace; after every operation the
 * two must return the same error and hold the same namespace (compared by
 * digest: every path, type, mode, link count, size and content CRC), and
 * the same again after every remount.  fsck must stay clean throughout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmr_testlib.h"
#include "htest.h"

/* ---- the model ---- */

#define MOBJS 4096
struct mobj {
	int used, type, nlinks; /* type: HMR_OBJ_* */
	uint8_t *data;
	size_t size;
	char target[64];
};
struct ment {
	int dir, obj;
	char name[16];
	int used;
};
static struct mobj mo[MOBJS];
static struct ment me[MOBJS];

static int m_newobj(int type)
{
	for (int i = 1; i < MOBJS; i++)
		if (!mo[i].used) {
			memset(&mo[i], 0, sizeof(mo[i]));
			mo[i].used = 1, mo[i].type = type, mo[i].nlinks = 1;
			return i;
		}
	abort();
}

static int m_find(int dir, const char *name)
{
	for (int i = 0; i < MOBJS; i++)
		if (me[i].used && me[i].dir == dir && !strcmp(me[i].name, name))
			return i;
	return -1;
}

static void m_addent(int dir, const char *name, int obj)
{
	for (int i = 0; i < MOBJS; i++)
		if (!me[i].used) {
			me[i] = (struct ment){ dir, obj, "", 1 };
			snprintf(me[i].name, sizeof(me[i].name), "%s", name);
			return;
		}
	abort();
}

/* Resolve the parent of path; returns its obj or -ENOENT / -ENOTDIR. */
static int m_parent(const char *path, const char **leaf)
{
	char buf[64];
	int cur = 0;
	const char *slash = strrchr(path, '/');

	*leaf = slash ? slash + 1 : path;
	if (!slash)
		return 0;
	snprintf(buf, sizeof(buf), "%.*s", (int)(slash - path), path);
	for (char *save, *p = strtok_r(buf, "/", &save); p;
	     p = strtok_r(NULL, "/", &save)) {
		int e = m_find(cur, p);

		if (e < 0)
			return -ENOENT;
		if (mo[me[e].obj].type != HMR_OBJ_DIR)
			return -ENOTDIR;
		cur = me[e].obj;
	}
	return cur;
}

static int m_isempty(int dir)
{
	for (int i = 0; i < MOBJS; i++)
		if (me[i].used && me[i].dir == dir)
			return 0;
	return 1;
}

static int m_below(int dir, int anc)
{
	while (dir != 0) {
		if (dir == anc)
			return 1;
		int e = -1;
		for (int i = 0; i < MOBJS; i++)
			if (me[i].used && me[i].obj == dir &&
			    mo[dir].type == HMR_OBJ_DIR)
				e = i;
		if (e < 0)
			return 0;
		dir = me[e].dir;
	}
	return anc == 0;
}

static void m_droplink(int obj)
{
	if (--mo[obj].nlinks == 0) {
		free(mo[obj].data);
		mo[obj].used = 0;
	}
}

static int m_entry(const char *path, int *dir, const char **leaf)
{
	*dir = m_parent(path, leaf);
	if (*dir < 0)
		return *dir;
	return m_find(*dir, *leaf);
}

static void m_resize(struct mobj *o, size_t size)
{
	o->data = realloc(o->data, size + 1);
	if (size > o->size)
		memset(o->data + o->size, 0, size - o->size);
	o->size = size;
}

/* ---- one operation, applied to both ---- */

enum op { OP_CREATE, OP_MKDIR, OP_WRITE, OP_TRUNC, OP_UNLINK, OP_RMDIR,
	  OP_LINK, OP_RENAME, OP_SYMLINK, OP_SYNC, OP_REMOUNT, OP_COUNT };

static const char *paths[] = { "x", "y", "a", "b", "a/x", "a/b", "b/y",
			       "a/b/x" };

/* The model's create/mkdir/symlink: a new object under a free name. */
static int model_create(int op, int dir, int e, const char *leaf,
			const char *q)
{
	int o;

	if (dir < 0)
		return -dir;
	if (e >= 0)
		return EEXIST;
	o = m_newobj(op == OP_MKDIR ? HMR_OBJ_DIR
		     : op == OP_SYMLINK ? HMR_OBJ_SYMLINK : HMR_OBJ_REG);
	if (op == OP_SYMLINK) {
		snprintf(mo[o].target, sizeof(mo[o].target), "%s", q);
		mo[o].size = strlen(q);
	}
	m_addent(dir, leaf, o);
	return 0;
}

/* The model's write and truncate of a regular file. */
static int model_write(int op, struct mobj *w, uint64_t off, size_t len,
		       uint8_t fill)
{
	if (w->type == HMR_OBJ_DIR)
		return EISDIR;
	if (w->type != HMR_OBJ_REG)
		return EINVAL;
	if (op == OP_TRUNC) {
		if (off < w->size)
			memset(w->data + off, 0, w->size - off);
		m_resize(w, off);
		return 0;
	}
	if (off + len > w->size)
		m_resize(w, off + len);
	memset(w->data + off, fill, len);
	return 0;
}

/* The model's unlink (want_dir 0) and rmdir (want_dir 1) of entry e. */
static int model_remove(int e, int want_dir)
{
	int is_dir = mo[me[e].obj].type == HMR_OBJ_DIR;

	if (is_dir && !want_dir)
		return EISDIR;
	if (!is_dir && want_dir)
		return ENOTDIR;
	if (want_dir && !m_isempty(me[e].obj))
		return ENOTEMPTY;
	me[e].used = 0;
	m_droplink(me[e].obj);
	return 0;
}

/* The model's hard link of entry e's object under path q. */
static int model_link(int e, const char *q)
{
	const char *leaf2;
	int dir2, e2 = m_entry(q, &dir2, &leaf2);

	if (dir2 < 0)
		return -dir2;
	if (e2 >= 0)
		return EEXIST;
	if (mo[me[e].obj].type == HMR_OBJ_DIR)
		return EPERM;
	mo[me[e].obj].nlinks++;
	m_addent(dir2, leaf2, me[e].obj);
	return 0;
}

/* The model's rename of entry e to path q, replacing what is there. */
static int model_rename(int e, const char *q)
{
	const char *leaf2;
	int dir2, e2 = m_entry(q, &dir2, &leaf2);
	int src = me[e].obj, sdir = mo[src].type == HMR_OBJ_DIR;

	if (dir2 < 0)
		return -dir2;
	if (sdir && m_below(dir2, src))
		return EINVAL;
	if (e2 >= 0) {
		int tgt = me[e2].obj;

		if (tgt == src)
			return 0;
		if (sdir && mo[tgt].type != HMR_OBJ_DIR)
			return ENOTDIR;
		if (!sdir && mo[tgt].type == HMR_OBJ_DIR)
			return EISDIR;
		if (sdir && !m_isempty(tgt))
			return ENOTEMPTY;
		me[e2].used = 0;
		m_droplink(tgt);
	}
	me[e].used = 0;
	m_addent(dir2, leaf2, src);
	return 0;
}

/* Apply one operation to the model; returns the errno HMR must give. */
static int model_apply(int op, const char *p, const char *q, uint64_t off,
		       size_t len, uint8_t fill)
{
	const char *leaf;
	int dir, e = m_entry(p, &dir, &leaf);

	if (op == OP_CREATE || op == OP_MKDIR || op == OP_SYMLINK)
		return model_create(op, dir, e, leaf, q);
	if (e < 0)
		return dir < 0 ? -dir : ENOENT;
	switch (op) {
	case OP_WRITE:
	case OP_TRUNC:
		return model_write(op, &mo[me[e].obj], off, len, fill);
	case OP_UNLINK:
		return model_remove(e, 0);
	case OP_RMDIR:
		return model_remove(e, 1);
	case OP_LINK:
		return model_link(e, q);
	case OP_RENAME:
		return model_rename(e, q);
	}
	return 0;
}

static int hmr_apply(struct hmr_mount *m, int op, const char *p,
		     const char *q, uint64_t off, size_t len, uint8_t fill)
{
	const char *leaf, *leaf2;
	uint64_t dir, dir2, ino;
	int error = tl_parent(m, p, &dir, &leaf);

	if (error)
		return error;
	switch (op) {
	case OP_CREATE: return hmr_create(m, 0, dir, leaf, 0644, 0, &ino);
	case OP_MKDIR: return hmr_mkdir(m, 0, dir, leaf, 0755, &ino);
	case OP_SYMLINK: return hmr_symlink(m, 0, dir, leaf, q, &ino);
	case OP_UNLINK: return hmr_unlink(m, 0, dir, leaf);
	case OP_RMDIR: return hmr_rmdir(m, 0, dir, leaf);
	default: break;
	}
	if ((error = hmr_lookup(m, 0, dir, leaf, &ino, NULL)) != 0)
		return error;
	if (op == OP_WRITE) {
		uint8_t *buf = malloc(len + 1);
		memset(buf, fill, len);
		error = hmr_write(m, 0, ino, off, buf, len);
		free(buf);
		return error;
	}
	if (op == OP_TRUNC) {
		struct hmr_setattr sa = { .valid = HMR_SET_SIZE, .size = off };
		return hmr_setattr(m, 0, ino, &sa);
	}
	if ((error = tl_parent(m, q, &dir2, &leaf2)) != 0)
		return error;
	if (op == OP_LINK)
		return hmr_link(m, 0, ino, 0, dir2, leaf2);
	return hmr_rename(m, 0, dir, leaf, 0, dir2, leaf2);
}

/* The model's digest, in tl_digest's format. */
static void m_digest_dir(int dir, const char *path, FILE *out)
{
	int idx[MOBJS], n = 0;

	for (int i = 0; i < MOBJS; i++)
		if (me[i].used && me[i].dir == dir)
			idx[n++] = i;
	for (int a = 0; a < n; a++)
		for (int b = a + 1; b < n; b++)
			if (strcmp(me[idx[a]].name, me[idx[b]].name) > 0) {
				int t = idx[a]; idx[a] = idx[b]; idx[b] = t;
			}
	for (int k = 0; k < n; k++) {
		struct mobj *o = &mo[me[idx[k]].obj];
		char sub[512];
		uint32_t crc = o->type == HMR_OBJ_REG && o->size
				       ? hmr_crc32c(0, o->data, o->size)
			       : o->type == HMR_OBJ_SYMLINK
				       ? hmr_crc32c(0, o->target, strlen(o->target)) : 0;
		int dirp = o->type == HMR_OBJ_DIR;

		snprintf(sub, sizeof(sub), "%s/%s", path, me[idx[k]].name);
		fprintf(out, "%s t%d m%o n%d s%zu c%08x\n", sub, o->type,
			dirp ? 0755 : o->type == HMR_OBJ_SYMLINK ? 0777 : 0644,
			dirp ? 0 : o->nlinks, dirp ? 0 : o->size, crc);
		if (dirp)
			m_digest_dir(me[idx[k]].obj, sub, out);
	}
}

static char *m_digest(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	m_digest_dir(0, "", out);
	fclose(out);
	return buf;
}

static void model_reset(void)
{
	for (int i = 0; i < MOBJS; i++) {
		if (mo[i].used)
			free(mo[i].data);
		mo[i].used = 0;
		me[i].used = 0;
	}
	mo[0].used = 1, mo[0].type = HMR_OBJ_DIR;
}

static int compare(struct hmr_mount *m, int step)
{
	char *a = m_digest(), *b = tl_digest(m, 0);
	int same = !strcmp(a, b);

	if (!same)
		printf("  # step %d: model:\n%s  # hmr:\n%s", step, a, b);
	free(a);
	free(b);
	return same;
}

static int run_model(uint64_t seed, int steps, uint64_t nblocks)
{
	struct hmr_bdev *dev = tl_fresh_dev(nblocks);
	struct hmr_mount *m = tl_mount(dev);
	int remounts = 0, enospc = 0, small = nblocks < 1024;

	printf("  # seed=0x%llx steps=%d\n", (unsigned long long)seed, steps);
	model_reset();
	for (int step = 0; step < steps; step++) {
		int op = (int)(tl_rand(&seed) % OP_COUNT);
		const char *p = paths[tl_rand(&seed) % 8];
		const char *q = paths[tl_rand(&seed) % 8];
		uint64_t off = tl_rand(&seed) % 20000;
		size_t len = tl_rand(&seed) % 9000;
		uint8_t fill = (uint8_t)tl_rand(&seed);

		if (op == OP_SYNC) {
			HT_ASSERT_EQ(hmr_sync(m, NULL), 0);
			continue;
		}
		if (op == OP_REMOUNT) {
			m = tl_remount(m, dev);
			remounts++;
			HT_ASSERT_EQ(tl_fsck(dev, 0), 0);
			HT_ASSERT_TRUE(compare(m, step));
			continue;
		}
		int got = hmr_apply(m, op, p, q, off, len, fill);
		if (got == ENOSPC && small) {
			/* A full volume refuses the whole operation: the
			 * state must be exactly as before it. */
			enospc++;
			HT_ASSERT_TRUE(compare(m, step));
			continue;
		}
		int want = model_apply(op, p, q, off, len, fill);
		if (want != got)
			printf("  # step %d op %d %s %s: model %d hmr %d\n", step,
			       op, p, q, want, got);
		HT_ASSERT_EQ(got, want);
		HT_ASSERT_TRUE(compare(m, step));
	}
	m = tl_remount(m, dev);
	HT_ASSERT_TRUE(compare(m, steps));
	HT_EXPECT_EQ(tl_fsck(dev, 0), 0);
	printf("  # remounts=%d enospc=%d\n", remounts, enospc);
	hmr_unmount(m);
	hmr_bdev_close(dev);
	return enospc;
}

HTEST(hmr_model, random_workload_matches_model_after_every_op_and_remount)
{
	uint64_t seed = htest_seed();

	for (int round = 0; round < 3 * tl_scale(); round++)
		run_model(seed + (uint64_t)round * 7919, 600, 8192);
}

HTEST(hmr_model, enospc_refuses_exactly_one_operation_on_a_full_volume)
{
	uint64_t seed = htest_seed() ^ 0x5a5a;

	/* 96 blocks: the workload's files fill it many times over, and
	 * history keeps every overwritten block until prune. */
	int enospc = 0;

	for (int round = 0; round < 4 * tl_scale(); round++)
		enospc += run_model(seed + (uint64_t)round * 104729, 400, 96);
	HT_EXPECT_GT(enospc, 0);
}
