/*
 * hmr_testlib.c - helpers shared by the HMR host tests (see the header).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hmr_testlib.h"
#include "htest.h"

#define TL_FSID 0x486d7254657374ull /* fixed so images are reproducible */

struct hmr_bdev *tl_fresh_dev(uint64_t nblocks)
{
	struct hmr_bdev *dev = hmr_bdev_mem_create(nblocks);

	HT_ASSERT_TRUE(dev != NULL);
	HT_ASSERT_EQ(hmr_mkfs(dev, "test", TL_FSID), 0);
	return dev;
}

struct hmr_mount *tl_mount(struct hmr_bdev *dev)
{
	struct hmr_mount *m = NULL;

	HT_ASSERT_EQ(hmr_mount(dev, 0, 0, &m), 0);
	return m;
}

struct hmr_mount *tl_remount(struct hmr_mount *m, struct hmr_bdev *dev)
{
	HT_ASSERT_EQ(hmr_unmount(m), 0);
	return tl_mount(dev);
}

int tl_walk(struct hmr_mount *m, uint64_t asof, const char *path,
	    uint64_t *ino)
{
	char buf[1024], *save = NULL, *part;
	uint64_t cur = HMR_OBJID_ROOT;
	int error = 0;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, "/", &save); part && !error;
	     part = strtok_r(NULL, "/", &save))
		error = hmr_lookup(m, asof, cur, part, &cur, &asof);
	*ino = cur;
	return error;
}

int tl_parent(struct hmr_mount *m, const char *path, uint64_t *dir,
	      const char **leaf)
{
	char buf[1024];
	const char *slash = strrchr(path, '/');

	*leaf = slash ? slash + 1 : path;
	if (!slash) {
		*dir = HMR_OBJID_ROOT;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%.*s", (int)(slash - path), path);
	return tl_walk(m, 0, buf, dir);
}

int tl_put(struct hmr_mount *m, const char *path, const void *data,
	   size_t len)
{
	const char *leaf;
	uint64_t dir, ino;
	struct hmr_setattr sa = { .valid = HMR_SET_SIZE, .size = 0 };
	int error = tl_parent(m, path, &dir, &leaf);

	if (error)
		return error;
	error = hmr_lookup(m, 0, dir, leaf, &ino, NULL);
	if (error == ENOENT)
		error = hmr_create(m, 0, dir, leaf, 0644, 0, &ino);
	else if (!error)
		error = hmr_setattr(m, 0, ino, &sa);
	if (!error && len)
		error = hmr_write(m, 0, ino, 0, data, len);
	return error;
}

int tl_get(struct hmr_mount *m, uint64_t asof, const char *path,
	   uint8_t **out, size_t *len)
{
	struct hmr_stat st;
	uint64_t ino;
	int error = tl_walk(m, asof, path, &ino);

	*out = NULL;
	*len = 0;
	if (!error)
		error = hmr_getattr(m, asof, ino, &st);
	if (error)
		return error;
	*out = malloc(st.size + 1);
	error = hmr_read(m, asof, ino, 0, *out, st.size, len);
	return error;
}

static void _print_report(void *arg, const char *msg)
{
	if (*(int *)arg)
		printf("  # fsck: %s\n", msg);
}

int tl_fsck(struct hmr_bdev *dev, int verbose)
{
	struct hmr_fsck_result res;
	int problems = hmr_fsck(dev, 0, _print_report, &verbose, &res);

	if (problems && !verbose) {
		verbose = 1;
		hmr_fsck(dev, 0, _print_report, &verbose, &res);
	}
	return problems;
}

uint64_t tl_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

int tl_scale(void)
{
	const char *s = getenv("HMR_TEST_SCALE");

	return s && atoi(s) > 0 ? atoi(s) : 1;
}

/* ---- digest ---- */

struct dg_names {
	char **name;
	uint64_t *ino;
	size_t n, cap;
};

static int _dg_fill(void *arg, const struct hmr_dirent *d)
{
	struct dg_names *nm = arg;

	if ((d->namelen == 1 && d->name[0] == '.') ||
	    (d->namelen == 2 && !memcmp(d->name, "..", 2)))
		return 0;
	if (nm->n == nm->cap) {
		nm->cap = nm->cap ? nm->cap * 2 : 16;
		nm->name = realloc(nm->name, nm->cap * sizeof(char *));
		nm->ino = realloc(nm->ino, nm->cap * sizeof(uint64_t));
	}
	nm->name[nm->n] = strndup(d->name, d->namelen);
	nm->ino[nm->n++] = d->ino;
	return 0;
}

static int _cmp_idx(const void *a, const void *b, void *names)
{
	char **n = names;

	return strcmp(n[*(const size_t *)a], n[*(const size_t *)b]);
}

static void _dg_line(struct hmr_mount *m, uint64_t asof, const char *path,
		     uint64_t ino, FILE *out)
{
	struct hmr_stat st;
	int error = hmr_getattr(m, asof, ino, &st);

	if (error) {
		fprintf(out, "%s ERR%d\n", path, error);
		return;
	}
	uint32_t crc = 0;
	if (st.obj_type == HMR_OBJ_REG && st.size) {
		uint8_t *buf = malloc(st.size);
		size_t got = 0;

		error = hmr_read(m, asof, ino, 0, buf, st.size, &got);
		crc = error ? 0xdeadu : hmr_crc32c(0, buf, got);
		free(buf);
	} else if (st.obj_type == HMR_OBJ_SYMLINK) {
		char buf[4096];
		size_t len = 0;

		error = hmr_readlink(m, asof, ino, buf, sizeof(buf), &len);
		crc = error ? 0xdeadu : hmr_crc32c(0, buf, len);
	}
	fprintf(out, "%s t%d m%o n%llu s%llu c%08x\n", path, st.obj_type,
		st.mode & 07777,
		(unsigned long long)(st.obj_type == HMR_OBJ_DIR ? 0 : st.nlinks),
		(unsigned long long)(st.obj_type == HMR_OBJ_DIR ? 0 : st.size),
		crc);
}

static void _dg_dir(struct hmr_mount *m, uint64_t asof, const char *path,
		    uint64_t dir, FILE *out, int depth)
{
	struct dg_names nm = { 0 };
	int error = hmr_readdir(m, asof, dir, 0, _dg_fill, &nm);

	if (error) {
		fprintf(out, "%s/ READDIR-ERR%d\n", path, error);
		for (size_t i = 0; i < nm.n; i++)
			free(nm.name[i]);
		free(nm.name);
		free(nm.ino);
		return;
	}
	size_t *idx = malloc((nm.n + 1) * sizeof(size_t));
	for (size_t i = 0; i < nm.n; i++)
		idx[i] = i;
	qsort_r(idx, nm.n, sizeof(size_t), _cmp_idx, nm.name);
	for (size_t k = 0; k < nm.n; k++) {
		size_t i = idx[k];
		char sub[2048];
		struct hmr_stat st;

		snprintf(sub, sizeof(sub), "%s/%s", path, nm.name[i]);
		_dg_line(m, asof, sub, nm.ino[i], out);
		if (depth < 64 && hmr_getattr(m, asof, nm.ino[i], &st) == 0 &&
		    st.obj_type == HMR_OBJ_DIR)
			_dg_dir(m, asof, sub, nm.ino[i], out, depth + 1);
		free(nm.name[i]);
	}
	free(idx);
	free(nm.name);
	free(nm.ino);
}

static int _dg_snap(void *arg, const struct hmr_snapshot *s)
{
	fprintf(arg, "snapshot %llu %s\n", (unsigned long long)s->tid, s->label);
	return 0;
}

char *tl_digest(struct hmr_mount *m, uint64_t asof)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	_dg_dir(m, asof, "", HMR_OBJID_ROOT, out, 0);
	if (asof == 0)
		hmr_snapshot_list(m, _dg_snap, out);
	fclose(out);
	return buf;
}
