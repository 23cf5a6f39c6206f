/*
 * vfs_cases.h - the VFS test list, written once against a directory and
 * run on every filesystem (tests/fs/vfs_test.c: tmpfs; hmr_vfs_test.c:
 * HMR on a virtio disk).
 *
 * VFS_CASE(name) declares `static void vfs_case_name(const char *base)`:
 * base is an empty directory on the filesystem under test, and the case
 * leaves it empty again.  Each filesystem's file turns every case into a
 * KTEST of its own suite with VFS_CASES(SUITE_MACRO).
 */
#ifndef TESTS_FS_VFS_CASES_H
#define TESTS_FS_VFS_CASES_H

#include <kern/errno.h>
#include <kern/globaldata.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/thread.h>
#include <fs/vfs.h>

/* Four path buffers in turn, so one call can take several paths. */
struct vt_paths {
	char buf[4][VFS_PATH_MAX];
	unsigned next;
};

/* base + "/" + rel in the next buffer (a function call: each argument's
 * call is sequenced, unlike an increment inside a macro). */
static inline const char *vt_path(struct vt_paths *p, const char *base,
				  const char *rel)
{
	char *buf = p->buf[p->next++ % 4];

	ksnprintf(buf, VFS_PATH_MAX, "%s/%s", base, rel);
	return buf;
}

#define P(rel) vt_path(&vt_paths_, base, (rel))
#define VT_PATHS static struct vt_paths vt_paths_

/* Write a whole file: create/truncate, write, close. */
static inline int vt_put(const char *path, const void *data, size_t len)
{
	struct file *fp;
	size_t done;
	int error = vfs_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fp);

	if (error)
		return error;
	error = vfs_write(fp, data, len, &done);
	vfs_close(fp);
	return error;
}

/* Read up to size bytes of a file from offset 0; *len gets how many. */
static inline int vt_get(const char *path, void *buf, size_t size,
			 size_t *len)
{
	struct file *fp;
	int error = vfs_open(path, O_RDONLY, 0, &fp);

	if (error)
		return error;
	error = vfs_read(fp, buf, size, len);
	vfs_close(fp);
	return error;
}

/* ---- the cases -------------------------------------------------------------- */

static __unused void vfs_case_create_write_read_back(const char *base)
{
	VT_PATHS;
	static uint8_t out[20000], in[20000];
	struct vattr va;
	size_t len;

	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i * 7 + (i >> 8));
	KT_ASSERT_EQ(vt_put(P("f"), out, sizeof(out)), 0);
	KT_ASSERT_EQ(vfs_stat(P("f"), &va), 0);
	KT_EXPECT_EQ(va.va_size, sizeof(out));
	KT_EXPECT_TRUE(S_ISREG(va.va_mode));
	KT_EXPECT_EQ(va.va_nlink, 1);
	KT_ASSERT_EQ(vt_get(P("f"), in, sizeof(in), &len), 0);
	KT_EXPECT_EQ(len, sizeof(out));
	KT_EXPECT_EQ(memcmp(in, out, sizeof(out)), 0);
	KT_EXPECT_EQ(vfs_unlink(P("f")), 0);
	KT_EXPECT_EQ(vfs_stat(P("f"), &va), ENOENT);
}

static __unused void vfs_case_writes_inside_keep_the_size_and_holes_read_zero(
	const char *base)
{
	VT_PATHS;
	static uint8_t buf[12288];
	struct file *fp;
	struct vattr va;
	size_t len;

	KT_ASSERT_EQ(vfs_open(P("h"), O_RDWR | O_CREAT, 0644, &fp), 0);
	KT_ASSERT_EQ(vfs_pwrite(fp, "end", 3, 10000, &len), 0);
	KT_ASSERT_EQ(vfs_pwrite(fp, "mid", 3, 5000, &len), 0);
	KT_ASSERT_EQ(vfs_fstat(fp, &va), 0);
	KT_EXPECT_EQ(va.va_size, 10003);
	memset(buf, 0x77, sizeof(buf));
	KT_ASSERT_EQ(vfs_pread(fp, buf, sizeof(buf), 0, &len), 0);
	KT_EXPECT_EQ(len, 10003);
	KT_EXPECT_EQ(buf[0], 0);			/* a hole */
	KT_EXPECT_EQ(buf[4999], 0);
	KT_EXPECT_EQ(memcmp(buf + 5000, "mid", 3), 0);
	KT_EXPECT_EQ(buf[5003], 0);
	KT_EXPECT_EQ(memcmp(buf + 10000, "end", 3), 0);
	/* Reading at or past the end gives nothing, not an error. */
	KT_EXPECT_EQ(vfs_pread(fp, buf, 10, 10003, &len), 0);
	KT_EXPECT_EQ(len, 0);
	KT_EXPECT_EQ(vfs_pread(fp, buf, 10, 1 << 30, &len), 0);
	KT_EXPECT_EQ(len, 0);
	vfs_close(fp);
	KT_EXPECT_EQ(vfs_unlink(P("h")), 0);
}

static __unused void vfs_case_dot_and_dotdot_walk_the_tree(const char *base)
{
	VT_PATHS;
	struct vattr a, b;

	KT_ASSERT_EQ(vfs_mkdir(P("d1"), 0755), 0);
	KT_ASSERT_EQ(vfs_mkdir(P("d1/d2"), 0755), 0);
	KT_ASSERT_EQ(vt_put(P("d1/d2/f"), "x", 1), 0);
	KT_ASSERT_EQ(vfs_stat(P("d1/./d2/../d2/f"), &a), 0);
	KT_ASSERT_EQ(vfs_stat(P("d1/d2/f"), &b), 0);
	KT_EXPECT_EQ(a.va_ino, b.va_ino);
	KT_ASSERT_EQ(vfs_stat(P("d1/d2/.."), &a), 0);
	KT_ASSERT_EQ(vfs_stat(P("d1"), &b), 0);
	KT_EXPECT_EQ(a.va_ino, b.va_ino);
	KT_EXPECT_EQ(vfs_stat(P("d1/d2/f/x"), &a), ENOTDIR);
	KT_EXPECT_EQ(vfs_stat(P("d1/nothere/f"), &a), ENOENT);
	KT_EXPECT_EQ(vfs_mkdir(P("d1"), 0755), EEXIST);
	KT_EXPECT_EQ(vfs_rmdir(P("d1")), ENOTEMPTY);
	KT_EXPECT_EQ(vfs_unlink(P("d1")), EISDIR);
	KT_EXPECT_EQ(vfs_rmdir(P("d1/d2/f")), ENOTDIR);
	KT_EXPECT_EQ(vfs_unlink(P("d1/d2/f")), 0);
	KT_EXPECT_EQ(vfs_rmdir(P("d1/d2")), 0);
	KT_EXPECT_EQ(vfs_rmdir(P("d1")), 0);
}

static __unused void vfs_case_directory_link_counts_follow_subdirectories(
	const char *base)
{
	VT_PATHS;
	struct vattr va;

	KT_ASSERT_EQ(vfs_mkdir(P("p"), 0755), 0);
	KT_ASSERT_EQ(vfs_stat(P("p"), &va), 0);
	KT_EXPECT_EQ(va.va_nlink, 2);
	KT_ASSERT_EQ(vfs_mkdir(P("p/c1"), 0755), 0);
	KT_ASSERT_EQ(vfs_mkdir(P("p/c2"), 0755), 0);
	KT_ASSERT_EQ(vfs_stat(P("p"), &va), 0);
	KT_EXPECT_EQ(va.va_nlink, 4);
	KT_EXPECT_EQ(vfs_rmdir(P("p/c1")), 0);
	KT_EXPECT_EQ(vfs_rmdir(P("p/c2")), 0);
	KT_ASSERT_EQ(vfs_stat(P("p"), &va), 0);
	KT_EXPECT_EQ(va.va_nlink, 2);
	KT_EXPECT_EQ(vfs_rmdir(P("p")), 0);
}

static __unused void vfs_case_rename_moves_replaces_and_refuses_loops(const char *base)
{
	VT_PATHS;
	char buf[8];
	size_t len;

	KT_ASSERT_EQ(vfs_mkdir(P("a"), 0755), 0);
	KT_ASSERT_EQ(vfs_mkdir(P("a/b"), 0755), 0);
	KT_ASSERT_EQ(vt_put(P("one"), "1", 1), 0);
	KT_ASSERT_EQ(vt_put(P("two"), "2", 1), 0);
	KT_EXPECT_EQ(vfs_rename(P("one"), P("a/b/moved")), 0);
	KT_EXPECT_EQ(vt_get(P("one"), buf, 8, &len), ENOENT);
	KT_ASSERT_EQ(vt_get(P("a/b/moved"), buf, 8, &len), 0);
	KT_EXPECT_EQ(buf[0], '1');
	/* Over an existing file: the target is replaced. */
	KT_EXPECT_EQ(vfs_rename(P("two"), P("a/b/moved")), 0);
	KT_ASSERT_EQ(vt_get(P("a/b/moved"), buf, 8, &len), 0);
	KT_EXPECT_EQ(buf[0], '2');
	KT_EXPECT_EQ(vfs_rename(P("a"), P("a/b/c")), EINVAL);
	KT_EXPECT_EQ(vfs_rename(P("a/b/moved"), P("a")), EISDIR);
	KT_EXPECT_EQ(vfs_rename(P("a/b"), P("a/b/moved")), EINVAL);
	KT_ASSERT_EQ(vt_put(P("three"), "3", 1), 0);
	KT_EXPECT_EQ(vfs_rename(P("a/b"), P("three")), ENOTDIR);
	KT_EXPECT_EQ(vfs_unlink(P("three")), 0);
	KT_EXPECT_EQ(vfs_rename(P("nothere"), P("x")), ENOENT);
	KT_EXPECT_EQ(vfs_rename(P("a"), P("z")), 0);	/* a directory */
	KT_EXPECT_EQ(vfs_unlink(P("z/b/moved")), 0);
	KT_EXPECT_EQ(vfs_rmdir(P("z/b")), 0);
	KT_EXPECT_EQ(vfs_rmdir(P("z")), 0);
}

static __unused void vfs_case_hard_links_share_data_and_count(const char *base)
{
	VT_PATHS;
	struct vattr va;
	char buf[8];
	size_t len;

	KT_ASSERT_EQ(vt_put(P("orig"), "data", 4), 0);
	KT_ASSERT_EQ(vfs_link(P("orig"), P("alias")), 0);
	KT_ASSERT_EQ(vfs_stat(P("alias"), &va), 0);
	KT_EXPECT_EQ(va.va_nlink, 2);
	KT_EXPECT_EQ(vfs_unlink(P("orig")), 0);
	KT_ASSERT_EQ(vt_get(P("alias"), buf, 8, &len), 0);
	KT_EXPECT_EQ(len, 4);
	KT_EXPECT_EQ(memcmp(buf, "data", 4), 0);
	KT_ASSERT_EQ(vfs_stat(P("alias"), &va), 0);
	KT_EXPECT_EQ(va.va_nlink, 1);
	KT_EXPECT_EQ(vfs_link(P("alias"), P("alias")), EEXIST);
	KT_EXPECT_EQ(vfs_mkdir(P("dir"), 0755), 0);
	KT_EXPECT_EQ(vfs_link(P("dir"), P("dirlink")), EPERM);
	KT_EXPECT_EQ(vfs_rmdir(P("dir")), 0);
	KT_EXPECT_EQ(vfs_unlink(P("alias")), 0);
}

static __unused void vfs_case_symlinks_follow_read_and_loop(const char *base)
{
	VT_PATHS;
	char target[64];
	struct vattr va;
	size_t len;

	KT_ASSERT_EQ(vfs_mkdir(P("real"), 0755), 0);
	KT_ASSERT_EQ(vt_put(P("real/f"), "hello", 5), 0);
	KT_ASSERT_EQ(vfs_symlink("real", P("rel")), 0);
	KT_ASSERT_EQ(vfs_symlink(P("real/f"), P("abs")), 0);
	KT_ASSERT_EQ(vfs_stat(P("rel/f"), &va), 0);
	KT_EXPECT_EQ(va.va_size, 5);
	KT_ASSERT_EQ(vfs_stat(P("abs"), &va), 0);
	KT_EXPECT_TRUE(S_ISREG(va.va_mode));
	KT_ASSERT_EQ(vfs_lstat(P("abs"), &va), 0);
	KT_EXPECT_TRUE(S_ISLNK(va.va_mode));
	KT_ASSERT_EQ(vfs_readlink(P("rel"), target, sizeof(target), &len), 0);
	KT_EXPECT_EQ(len, 4);
	KT_EXPECT_EQ(memcmp(target, "real", 4), 0);
	/* ".." after a followed link is the target's parent. */
	KT_ASSERT_EQ(vfs_stat(P("rel/../real/f"), &va), 0);
	KT_ASSERT_EQ(vfs_symlink("loop2", P("loop1")), 0);
	KT_ASSERT_EQ(vfs_symlink("loop1", P("loop2")), 0);
	KT_EXPECT_EQ(vfs_stat(P("loop1"), &va), ELOOP);
	KT_EXPECT_EQ(vfs_readlink(P("real"), target, sizeof(target), &len),
		     EINVAL);
	KT_EXPECT_EQ(vfs_unlink(P("loop1")), 0);	/* the link, not a loop */
	KT_EXPECT_EQ(vfs_unlink(P("loop2")), 0);
	KT_EXPECT_EQ(vfs_unlink(P("abs")), 0);
	KT_EXPECT_EQ(vfs_unlink(P("rel")), 0);
	KT_EXPECT_EQ(vfs_unlink(P("real/f")), 0);
	KT_EXPECT_EQ(vfs_rmdir(P("real")), 0);
}

static __unused void vfs_case_truncate_cuts_and_extends_with_zeros(const char *base)
{
	VT_PATHS;
	static uint8_t buf[9000];
	struct vattr va;
	size_t len;

	memset(buf, 0xab, sizeof(buf));
	KT_ASSERT_EQ(vt_put(P("t"), buf, sizeof(buf)), 0);
	KT_ASSERT_EQ(vfs_truncate(P("t"), 100), 0);
	KT_ASSERT_EQ(vfs_stat(P("t"), &va), 0);
	KT_EXPECT_EQ(va.va_size, 100);
	KT_ASSERT_EQ(vfs_truncate(P("t"), 8192), 0);
	memset(buf, 0x11, sizeof(buf));
	KT_ASSERT_EQ(vt_get(P("t"), buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(len, 8192);
	KT_EXPECT_EQ(buf[99], 0xab);
	KT_EXPECT_EQ(buf[100], 0);		/* the cut part comes back 0 */
	KT_EXPECT_EQ(buf[8191], 0);
	KT_EXPECT_EQ(vfs_truncate(P("."), 0), EISDIR);
	KT_EXPECT_EQ(vfs_unlink(P("t")), 0);
}

/* readdir into a small buffer: every name exactly once, across resumes. */
struct vt_seen {
	int count, dots, entries;
	uint32_t mask;			/* bit i: "e<i>" seen */
	int budget;			/* entries to take this call */
};

static int vt_fill(void *arg, const struct vdirent *d)
{
	struct vt_seen *s = arg;

	if (s->budget-- == 0)
		return 1;
	s->count++;
	if (d->name[0] == '.')
		s->dots++;
	else if (d->namelen >= 2 && d->name[0] == 'e') {
		int i = d->name[1] - 'a';

		if (s->mask & (1u << i))
			s->mask |= 1u << 31;	/* seen twice */
		s->mask |= 1u << i;
		s->entries++;
	}
	return 0;
}

static __unused void vfs_case_readdir_lists_each_name_once_across_resumes(
	const char *base)
{
	VT_PATHS;
	struct vt_seen seen = { 0 };
	struct file *fp;
	char name[8];

	KT_ASSERT_EQ(vfs_mkdir(P("rd"), 0755), 0);
	for (int i = 0; i < 20; i++) {
		ksnprintf(name, sizeof(name), "rd/e%c", 'a' + i);
		KT_ASSERT_EQ(vt_put(P(name), "", 0), 0);
	}
	KT_ASSERT_EQ(vfs_open(P("rd"), O_RDONLY | O_DIRECTORY, 0, &fp), 0);
	for (int call = 0; call < 30; call++) {
		int before = seen.count;

		seen.budget = 3;
		KT_EXPECT_EQ(vfs_readdir(fp, vt_fill, &seen), 0);
		if (seen.count == before)
			break;
	}
	vfs_close(fp);
	KT_EXPECT_EQ(seen.dots, 2);
	KT_EXPECT_EQ(seen.entries, 20);
	KT_EXPECT_EQ(seen.mask, (1u << 20) - 1);
	for (int i = 0; i < 20; i++) {
		ksnprintf(name, sizeof(name), "rd/e%c", 'a' + i);
		KT_EXPECT_EQ(vfs_unlink(P(name)), 0);
	}
	KT_EXPECT_EQ(vfs_rmdir(P("rd")), 0);
}

static __unused void vfs_case_open_flags_mean_what_posix_says(const char *base)
{
	VT_PATHS;
	struct file *fp;
	char buf[16];
	size_t len;

	KT_EXPECT_EQ(vfs_open(P("nofile"), O_RDONLY, 0, &fp), ENOENT);
	KT_ASSERT_EQ(vt_put(P("f"), "abc", 3), 0);
	KT_EXPECT_EQ(vfs_open(P("f"), O_WRONLY | O_CREAT | O_EXCL, 0644, &fp),
		     EEXIST);
	KT_EXPECT_EQ(vfs_open(P("f"), O_RDONLY | O_DIRECTORY, 0, &fp),
		     ENOTDIR);
	KT_EXPECT_EQ(vfs_open(P("."), O_WRONLY, 0, &fp), EISDIR);
	/* O_APPEND writes at the end whatever the offset. */
	KT_ASSERT_EQ(vfs_open(P("f"), O_WRONLY | O_APPEND, 0, &fp), 0);
	KT_EXPECT_EQ(vfs_write(fp, "de", 2, &len), 0);
	KT_EXPECT_EQ(vfs_read(fp, buf, 1, &len), EBADF);
	vfs_close(fp);
	KT_ASSERT_EQ(vt_get(P("f"), buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(len, 5);
	KT_EXPECT_EQ(memcmp(buf, "abcde", 5), 0);
	KT_ASSERT_EQ(vfs_open(P("f"), O_RDONLY, 0, &fp), 0);
	KT_EXPECT_EQ(vfs_write(fp, "x", 1, &len), EBADF);
	vfs_close(fp);
	/* O_TRUNC empties it. */
	KT_ASSERT_EQ(vfs_open(P("f"), O_RDWR | O_TRUNC, 0, &fp), 0);
	KT_EXPECT_EQ(vfs_read(fp, buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(len, 0);
	vfs_close(fp);
	KT_EXPECT_EQ(vfs_unlink(P("f")), 0);
}

static __unused void vfs_case_an_open_unlinked_file_stays_readable(const char *base)
{
	VT_PATHS;
	struct file *fp, *again;
	char buf[8];
	size_t len;

	KT_ASSERT_EQ(vt_put(P("ghost"), "boo", 3), 0);
	KT_ASSERT_EQ(vfs_open(P("ghost"), O_RDONLY, 0, &fp), 0);
	KT_EXPECT_EQ(vfs_unlink(P("ghost")), 0);
	KT_EXPECT_EQ(vfs_open(P("ghost"), O_RDONLY, 0, &again), ENOENT);
	KT_EXPECT_EQ(vfs_read(fp, buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(len, 3);
	KT_EXPECT_EQ(memcmp(buf, "boo", 3), 0);
	vfs_close(fp);
}

/*
 * What a lookup or a stat just saw may be remembered (fs/vfs_cache.c):
 * each change must show in the very next lookup or stat, with nothing in
 * between that could empty the caches by chance.
 */
static __unused void vfs_case_the_next_stat_sees_each_change(const char *base)
{
	VT_PATHS;
	struct file *fp;
	struct vattr va;
	size_t done;

	KT_ASSERT_EQ(vfs_open(P("c"), O_RDWR | O_CREAT, 0644, &fp), 0);
	KT_ASSERT_EQ(vfs_stat(P("c"), &va), 0);
	KT_EXPECT_EQ(va.va_size, 0);
	KT_EXPECT_EQ(vfs_write(fp, "12345", 5, &done), 0);
	KT_EXPECT_EQ(vfs_stat(P("c"), &va), 0);		/* a write */
	KT_EXPECT_EQ(va.va_size, 5);
	KT_EXPECT_EQ(vfs_fstat(fp, &va), 0);
	KT_EXPECT_EQ(vfs_chmod(P("c"), 0600), 0);
	KT_EXPECT_EQ(vfs_fstat(fp, &va), 0);		/* a setattr */
	KT_EXPECT_EQ(va.va_mode & 07777, 0600);
	KT_EXPECT_EQ(vfs_stat(P("c"), &va), 0);
	KT_EXPECT_EQ(vfs_rename(P("c"), P("d")), 0);
	KT_EXPECT_EQ(vfs_stat(P("c"), &va), ENOENT);	/* a rename */
	KT_EXPECT_EQ(vfs_stat(P("d"), &va), 0);
	KT_EXPECT_EQ(vfs_link(P("d"), P("e")), 0);
	KT_EXPECT_EQ(vfs_fstat(fp, &va), 0);		/* a link */
	KT_EXPECT_EQ(va.va_nlink, 2);
	KT_EXPECT_EQ(vfs_unlink(P("e")), 0);
	KT_EXPECT_EQ(vfs_stat(P("e"), &va), ENOENT);	/* an unlink */
	KT_EXPECT_EQ(vfs_fstat(fp, &va), 0);
	KT_EXPECT_EQ(va.va_nlink, 1);
	vfs_close(fp);
	KT_EXPECT_EQ(vfs_unlink(P("d")), 0);
}

/*
 * Each stat below runs twice: the first fills the name and attribute
 * caches, the second may be answered from them alone (vfs_cache_stat,
 * on a filesystem that is the root mount).  Both must give the long
 * way's answer: a trailing slash after a file, a symlink followed or
 * not, "." and ".." on the way.
 */
static void vt_stat_twice(const char *path, bool follow, int want_error,
			  uint32_t want_type)
{
	struct vattr va;

	for (int round = 0; round < 2; round++) {
		memset(&va, 0, sizeof(va));
		KT_EXPECT_EQ(follow ? vfs_stat(path, &va) : vfs_lstat(path, &va),
			     want_error);
		if (want_error == 0)
			KT_EXPECT_EQ(va.va_mode & S_IFMT, want_type);
	}
}

static __unused void vfs_case_a_cached_stat_agrees_with_the_long_way(
	const char *base)
{
	VT_PATHS;
	struct file *fp;

	KT_ASSERT_EQ(vfs_mkdir(P("d"), 0755), 0);
	KT_ASSERT_EQ(vfs_open(P("d/f"), O_WRONLY | O_CREAT, 0644, &fp), 0);
	vfs_close(fp);
	KT_ASSERT_EQ(vfs_symlink("d/f", P("lf")), 0);
	KT_ASSERT_EQ(vfs_symlink("d", P("ld")), 0);
	vt_stat_twice(P("d/f"), true, 0, S_IFREG);
	vt_stat_twice(P("d/f/"), true, ENOTDIR, 0);
	vt_stat_twice(P("d/f/."), true, ENOTDIR, 0);
	vt_stat_twice(P("d/./f"), true, 0, S_IFREG);
	vt_stat_twice(P("d/../d/f"), true, 0, S_IFREG);
	vt_stat_twice(P("lf"), false, 0, S_IFLNK);	/* caches the link's */
	vt_stat_twice(P("lf"), true, 0, S_IFREG);
	vt_stat_twice(P("ld"), false, 0, S_IFLNK);
	vt_stat_twice(P("ld/"), false, 0, S_IFDIR);
	vt_stat_twice(P("ld/f"), false, 0, S_IFREG);
	vt_stat_twice(P("d/nothing"), true, ENOENT, 0);
	KT_EXPECT_EQ(vfs_unlink(P("ld")), 0);
	KT_EXPECT_EQ(vfs_unlink(P("lf")), 0);
	KT_EXPECT_EQ(vfs_unlink(P("d/f")), 0);
	KT_EXPECT_EQ(vfs_rmdir(P("d")), 0);
}

static __unused void vfs_case_bad_names_get_clear_errors(const char *base)
{
	VT_PATHS;
	char longname[VFS_NAME_MAX + 2];
	struct vattr va;

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	KT_EXPECT_EQ(vfs_stat(P(longname), &va), ENAMETOOLONG);
	KT_EXPECT_EQ(vfs_mkdir(P(longname), 0755), ENAMETOOLONG);
	KT_EXPECT_EQ(vfs_stat("relative/path", &va), EINVAL);
	KT_EXPECT_EQ(vfs_mkdir(P("."), 0755), EEXIST);
	KT_EXPECT_EQ(vfs_rmdir(P("..")), EBUSY);
	KT_EXPECT_EQ(vfs_symlink("", P("empty")), ENOENT);
}

/* Several threads on every CPU creating and removing at once. */
struct vt_worker {
	const char *base;
	int id, failures;
	struct thread *td;
};

static void vt_worker_main(void *arg)
{
	struct vt_worker *w = arg;
	char dir[VFS_PATH_MAX], path[VFS_PATH_MAX], buf[32];
	size_t len;

	ksnprintf(dir, sizeof(dir), "%s/w%d", w->base, w->id);
	if (vfs_mkdir(dir, 0755) != 0)
		w->failures++;
	for (int i = 0; i < 20; i++) {
		ksnprintf(path, sizeof(path), "%s/f%d", dir, i);
		if (vt_put(path, path, strlen(path)) != 0 ||
		    vt_get(path, buf, sizeof(buf), &len) != 0 ||
		    len != MIN(strlen(path), sizeof(buf)) ||
		    memcmp(buf, path, len) != 0)
			w->failures++;
	}
	for (int i = 0; i < 20; i++) {
		ksnprintf(path, sizeof(path), "%s/f%d", dir, i);
		if (vfs_unlink(path) != 0)
			w->failures++;
	}
	if (vfs_rmdir(dir) != 0)
		w->failures++;
}

static __unused void vfs_case_threads_on_every_cpu_work_at_once(const char *base)
{
	static struct vt_worker w[2 * MAXCPU];
	int n = 2 * ncpus;

	for (int i = 0; i < n; i++) {
		w[i] = (struct vt_worker){ .base = base, .id = i };
		KT_ASSERT_EQ(lwkt_create(vt_worker_main, &w[i], &w[i].td, 0,
					 i % ncpus, "vfs-worker %d", i), 0);
	}
	for (int i = 0; i < n; i++) {
		lwkt_thread_join(w[i].td);
		KT_EXPECT_EQ(w[i].failures, 0);
	}
}

/*
 * O_APPEND from several threads on every CPU at once, each with a file
 * of its own on one object: every record must land once and whole.  An
 * append that reads the size and writes in two steps lets two writers
 * pick the same end, and one record overwrites another.
 */
#define VT_APPEND_RECORDS	60
#define VT_RECORD_LEN		16	/* "t%02d r%04d ....\n" */

struct vt_appender {
	const char *path;
	int id, failures;
	struct thread *td;
};

/* One record: thread id and record number, padded to VT_RECORD_LEN. */
static inline void vt_record(char *rec, int id, int r)
{
	ksnprintf(rec, VT_RECORD_LEN + 1, "t%02d r%04d .....", id, r);
	rec[VT_RECORD_LEN - 1] = '\n';
}

static void vt_appender_main(void *arg)
{
	struct vt_appender *a = arg;
	char rec[VT_RECORD_LEN + 1];
	struct file *fp;
	size_t done;

	if (vfs_open(a->path, O_WRONLY | O_APPEND, 0, &fp) != 0) {
		a->failures++;
		return;
	}
	for (int r = 0; r < VT_APPEND_RECORDS; r++) {
		vt_record(rec, a->id, r);
		if (vfs_write(fp, rec, VT_RECORD_LEN, &done) != 0 ||
		    done != VT_RECORD_LEN)
			a->failures++;
	}
	vfs_close(fp);
}

/* Count each whole record of buf (len bytes) in seen[id][r]; false if
 * a record is not whole. */
static inline bool vt_count_records(const char *buf, size_t len,
				    uint8_t seen[][VT_APPEND_RECORDS], int n)
{
	char want[VT_RECORD_LEN + 1];

	for (size_t off = 0; off + VT_RECORD_LEN <= len; off += VT_RECORD_LEN) {
		int id = (buf[off + 1] - '0') * 10 + (buf[off + 2] - '0');
		int r = 0;

		for (int k = 5; k < 9; k++)
			r = r * 10 + (buf[off + k] - '0');
		if (id < 0 || id >= n || r < 0 || r >= VT_APPEND_RECORDS)
			return false;
		vt_record(want, id, r);
		if (memcmp(buf + off, want, VT_RECORD_LEN) != 0)
			return false;
		seen[id][r]++;
	}
	return true;
}

static __unused void vfs_case_appenders_on_every_cpu_each_land_once_whole(
	const char *base)
{
	VT_PATHS;
	static struct vt_appender a[2 * MAXCPU];
	static uint8_t seen[2 * MAXCPU][VT_APPEND_RECORDS];
	static char buf[2 * MAXCPU * VT_APPEND_RECORDS * VT_RECORD_LEN + 1];
	int n = 2 * ncpus;
	const char *path = P("appended");
	size_t len;
	int wrong = 0;

	KT_ASSERT_EQ(vt_put(path, "", 0), 0);
	for (int i = 0; i < n; i++) {
		a[i] = (struct vt_appender){ .path = path, .id = i };
		KT_ASSERT_EQ(lwkt_create(vt_appender_main, &a[i], &a[i].td, 0,
					 i % ncpus, "vfs-append %d", i), 0);
	}
	for (int i = 0; i < n; i++) {
		lwkt_thread_join(a[i].td);
		KT_EXPECT_EQ(a[i].failures, 0);
	}
	/* Exactly n * records whole records, each once. */
	KT_ASSERT_EQ(vt_get(path, buf, sizeof(buf), &len), 0);
	KT_EXPECT_EQ(len, (size_t)n * VT_APPEND_RECORDS * VT_RECORD_LEN);
	memset(seen, 0, sizeof(seen));
	KT_EXPECT_TRUE(vt_count_records(buf, len, seen, n));
	for (int i = 0; i < n; i++)
		for (int r = 0; r < VT_APPEND_RECORDS; r++)
			wrong += seen[i][r] != 1;
	KT_EXPECT_EQ(wrong, 0);		/* records lost or doubled */
	KT_EXPECT_EQ(vfs_unlink(path), 0);
}

/* Every case, for a file that turns each into a test: X(case_name). */
#define VFS_CASES(X)                                                     \
	X(create_write_read_back)                                        \
	X(writes_inside_keep_the_size_and_holes_read_zero)               \
	X(dot_and_dotdot_walk_the_tree)                                  \
	X(directory_link_counts_follow_subdirectories)                   \
	X(rename_moves_replaces_and_refuses_loops)                       \
	X(hard_links_share_data_and_count)                               \
	X(symlinks_follow_read_and_loop)                                 \
	X(truncate_cuts_and_extends_with_zeros)                          \
	X(readdir_lists_each_name_once_across_resumes)                   \
	X(open_flags_mean_what_posix_says)                               \
	X(an_open_unlinked_file_stays_readable)                          \
	X(the_next_stat_sees_each_change)                                \
	X(a_cached_stat_agrees_with_the_long_way)                        \
	X(bad_names_get_clear_errors)                                    \
	X(threads_on_every_cpu_work_at_once)                              \
	X(appenders_on_every_cpu_each_land_once_whole)

#endif /* TESTS_FS_VFS_CASES_H */
