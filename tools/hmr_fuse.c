/*
 * hmr_fuse.c - hmr-fuse IMAGE MOUNTPOINT [-f] [-s] [-o ro,asof=TID,...]
 *
 * Serves an HMR image through the Linux kernel's FUSE interface (libfuse3
 * low-level API), so ordinary programs can read and write it.  The
 * daemon is a thin translator: every request becomes one call of the
 * public HMR API (fs/hmr.h) and every error is passed through unchanged.
 *
 * Inode numbers: an object of the live view (or of the as-of TID the
 * whole mount shows) is FUSE inode obj_id, so the root is FUSE's inode 1.
 * An object reached through "name@@0x<TID>" lives in another view; such
 * (obj_id, TID) pairs get FUSE inodes from a table, tagged with bit 63.
 *
 * Commits: on fsync, on unmount, and every five seconds from a small
 * thread (the commit lock keeps it from splitting an operation).
 *
 * Threads: requests are served by libfuse's multi-threaded loop (-s: one
 * thread), each calling the core directly; the core's two locks decide
 * what overlaps (docs/hmr.md, "What runs in parallel"): reads run while
 * a commit writes and flushes, changes take turns.  The daemon's own
 * state is the view table (views_lock); everything else is set before
 * the loop starts and only read after.
 *
 * HMR_FUSE_STALL_FLUSH=PATH (tests only): every device flush waits while
 * PATH exists, so a test can hold a commit in the middle of its I/O and
 * watch other requests go on.
 */
#define FUSE_USE_VERSION 34
#define _GNU_SOURCE
#include <errno.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hmr_bdev.h"

#define ASOF_TAG (1ull << 63)
#define MAX_VIEWS 65536 /* as-of view slots; -o views=N lowers it */
#define COMMIT_INTERVAL_S 5

static struct hmr_mount *mnt;
static int readonly_mount;
static int single_thread; /* -s: libfuse's single-threaded loop */
/* One as-of view slot: an object as of a TID, and how many lookups the
 * kernel holds on it (FUSE's nlookup: each entry reply adds one, forget
 * takes them away).  A slot whose count is 0 is free: the kernel never
 * uses an inode number again after forgetting it, so the slot may name
 * another object.  The slot's generation grows with each reuse. */
static struct view { uint64_t obj, asof, nlookup, gen; } views[MAX_VIEWS];
static unsigned nviews;		   /* slots ever used (a high-water mark) */
static unsigned max_views = MAX_VIEWS;
static pthread_mutex_t views_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int stopping;

/* FUSE inode -> (obj_id, asof).  Untagged numbers are plain obj_ids in
 * the mount's own view; tagged ones index the views table.  A tagged
 * number whose slot is free names nothing (object 0: ENOENT). */
static void decode(fuse_ino_t fi, uint64_t *obj, uint64_t *asof)
{
	unsigned i = (unsigned)(fi & ~ASOF_TAG);

	if (!(fi & ASOF_TAG)) {
		*obj = fi, *asof = 0;
		return;
	}
	pthread_mutex_lock(&views_lock);
	*obj = i < nviews && views[i].nlookup > 0 ? views[i].obj : 0;
	*asof = i < nviews ? views[i].asof : 0;
	pthread_mutex_unlock(&views_lock);
}

/* The slot holding (obj, asof), or -1.  Call with views_lock held. */
static int find_view(uint64_t obj, uint64_t asof)
{
	for (unsigned i = 0; i < nviews; i++)
		if (views[i].nlookup > 0 && views[i].obj == obj &&
		    views[i].asof == asof)
			return (int)i;
	return -1;
}

/* A free slot (never used, or forgotten), or -1 when every slot is held.
 * Call with views_lock held. */
static int free_view(void)
{
	for (unsigned i = 0; i < nviews; i++)
		if (views[i].nlookup == 0)
			return (int)i;
	return nviews < max_views ? (int)nviews++ : -1;
}

/* (obj_id, asof) -> FUSE inode for an entry reply, which the kernel will
 * count as one more lookup.  0, or ENFILE when every view slot is held
 * (the kernel frees them as it forgets; nothing is ever reused while the
 * kernel may still use its number). */
static int encode_ref(uint64_t obj, uint64_t asof, fuse_ino_t *out,
		      uint64_t *gen)
{
	int i;

	*gen = 0;
	if (asof == 0 || asof == hmr_mount_asof(mnt)) {
		*out = obj;
		return 0;
	}
	pthread_mutex_lock(&views_lock);
	i = find_view(obj, asof);
	if (i < 0 && (i = free_view()) >= 0) {
		views[i].obj = obj, views[i].asof = asof;
		views[i].gen++;
	}
	if (i >= 0) {
		views[i].nlookup++;
		*gen = views[i].gen;
	}
	pthread_mutex_unlock(&views_lock);
	if (i < 0)
		return ENFILE;
	*out = (fuse_ino_t)i | ASOF_TAG;
	return 0;
}

/* The inode number readdir shows for (obj, asof): its slot if the kernel
 * holds one, else the object id (readdir's numbers are informative; only
 * lookup's are used to name the object). */
static fuse_ino_t encode_peek(uint64_t obj, uint64_t asof)
{
	int i;

	if (asof == 0 || asof == hmr_mount_asof(mnt))
		return obj;
	pthread_mutex_lock(&views_lock);
	i = find_view(obj, asof);
	pthread_mutex_unlock(&views_lock);
	return i < 0 ? obj : (fuse_ino_t)i | ASOF_TAG;
}

/* The kernel forgot `n` lookups of fino: a view slot that reaches 0 is
 * free again. */
static void forget_one(fuse_ino_t fino, uint64_t n)
{
	unsigned i = (unsigned)(fino & ~ASOF_TAG);

	if (!(fino & ASOF_TAG))
		return;
	pthread_mutex_lock(&views_lock);
	if (i < nviews)
		views[i].nlookup -= n < views[i].nlookup ? n : views[i].nlookup;
	pthread_mutex_unlock(&views_lock);
}

static void op_forget(fuse_req_t req, fuse_ino_t fino, uint64_t nlookup)
{
	forget_one(fino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		forget_one(forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void to_stat(const struct hmr_stat *hs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = hs->mode;
	st->st_nlink = hs->nlinks;
	st->st_uid = hs->uid;
	st->st_gid = hs->gid;
	st->st_rdev = hs->rdev;
	st->st_size = (off_t)hs->size;
	st->st_blksize = HMR_BLOCK_SIZE;
	st->st_blocks = (blkcnt_t)(hs->blocks * (HMR_BLOCK_SIZE / 512));
	st->st_atim.tv_sec = (time_t)(hs->atime_ns / 1000000000ull);
	st->st_atim.tv_nsec = (long)(hs->atime_ns % 1000000000ull);
	st->st_mtim.tv_sec = (time_t)(hs->mtime_ns / 1000000000ull);
	st->st_mtim.tv_nsec = (long)(hs->mtime_ns % 1000000000ull);
	st->st_ctim.tv_sec = (time_t)(hs->ctime_ns / 1000000000ull);
	st->st_ctim.tv_nsec = (long)(hs->ctime_ns % 1000000000ull);
}

/* Reply with the entry for (obj, asof).  Attributes and names are cached
 * by the kernel for one second: only this daemon changes the image, and
 * every change goes through the kernel, which invalidates what it cached. */
static void reply_entry(fuse_req_t req, uint64_t obj, uint64_t asof)
{
	struct fuse_entry_param e;
	struct hmr_stat hs;
	int error = hmr_getattr(mnt, asof, obj, &hs);

	if (error) {
		fuse_reply_err(req, error);
		return;
	}
	memset(&e, 0, sizeof(e));
	error = encode_ref(obj, asof, &e.ino, &e.generation);
	if (error) {
		fuse_reply_err(req, error);
		return;
	}
	e.attr_timeout = e.entry_timeout = 1.0;
	to_stat(&hs, e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	uint64_t dir, asof, ino, asof_out;
	int error;

	decode(parent, &dir, &asof);
	error = hmr_lookup(mnt, asof, dir, name, &ino, &asof_out);
	if (error)
		fuse_reply_err(req, error);
	else
		reply_entry(req, ino, asof_out);
}

static void op_getattr(fuse_req_t req, fuse_ino_t fino, struct fuse_file_info *fi)
{
	uint64_t obj, asof;
	struct hmr_stat hs;
	struct stat st;
	int error;

	(void)fi;
	decode(fino, &obj, &asof);
	error = hmr_getattr(mnt, asof, obj, &hs);
	if (error) {
		fuse_reply_err(req, error);
		return;
	}
	to_stat(&hs, fino, &st);
	fuse_reply_attr(req, &st, 1.0);
}

/* Translate FUSE's setattr mask.  *_NOW means "the current time", which
 * the kernel leaves for the filesystem to fill in. */
static void to_setattr(const struct stat *st, int to_set, struct hmr_setattr *sa)
{
	uint64_t now = (uint64_t)time(NULL) * 1000000000ull;

	memset(sa, 0, sizeof(*sa));
	if (to_set & FUSE_SET_ATTR_MODE)
		sa->valid |= HMR_SET_MODE, sa->mode = (uint16_t)st->st_mode;
	if (to_set & FUSE_SET_ATTR_UID)
		sa->valid |= HMR_SET_UID, sa->uid = st->st_uid;
	if (to_set & FUSE_SET_ATTR_GID)
		sa->valid |= HMR_SET_GID, sa->gid = st->st_gid;
	if (to_set & FUSE_SET_ATTR_SIZE)
		sa->valid |= HMR_SET_SIZE, sa->size = (uint64_t)st->st_size;
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
		sa->valid |= HMR_SET_ATIME;
		sa->atime_ns = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now
			       : (uint64_t)st->st_atim.tv_sec * 1000000000ull +
					 (uint64_t)st->st_atim.tv_nsec;
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		sa->valid |= HMR_SET_MTIME;
		sa->mtime_ns = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now
			       : (uint64_t)st->st_mtim.tv_sec * 1000000000ull +
					 (uint64_t)st->st_mtim.tv_nsec;
	}
}

static void op_setattr(fuse_req_t req, fuse_ino_t fino, struct stat *st,
		       int to_set, struct fuse_file_info *fi)
{
	uint64_t obj, asof;
	struct hmr_setattr sa;
	int error;

	decode(fino, &obj, &asof);
	to_setattr(st, to_set, &sa);
	error = hmr_setattr(mnt, asof, obj, &sa);
	if (error)
		fuse_reply_err(req, error);
	else
		op_getattr(req, fino, fi);
}

static void op_readlink(fuse_req_t req, fuse_ino_t fino)
{
	char buf[HMR_BLOCK_SIZE + 1];
	uint64_t obj, asof;
	size_t len;
	int error;

	decode(fino, &obj, &asof);
	error = hmr_readlink(mnt, asof, obj, buf, HMR_BLOCK_SIZE, &len);
	if (error) {
		fuse_reply_err(req, error);
		return;
	}
	buf[len] = '\0';
	fuse_reply_readlink(req, buf);
}

/* Changing calls pass each object's as-of TID on: the core answers EROFS
 * for an object of an as-of view, and for anything on an as-of or
 * read-only mount, as the spec requires. */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	uint64_t dir, asof, ino;
	int error;

	decode(parent, &dir, &asof);
	error = hmr_create(mnt, asof, dir, name, (uint16_t)mode, (uint32_t)rdev,
			   &ino);
	if (error)
		fuse_reply_err(req, error);
	else
		reply_entry(req, ino, 0);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	uint64_t dir, asof, ino;
	int error;

	decode(parent, &dir, &asof);
	error = hmr_mkdir(mnt, asof, dir, name, (uint16_t)mode, &ino);
	if (error)
		fuse_reply_err(req, error);
	else
		reply_entry(req, ino, 0);
}

static void op_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	uint64_t dir, asof, ino;
	int error;

	decode(parent, &dir, &asof);
	error = hmr_symlink(mnt, asof, dir, name, target, &ino);
	if (error)
		fuse_reply_err(req, error);
	else
		reply_entry(req, ino, 0);
}

static void op_link(fuse_req_t req, fuse_ino_t fino, fuse_ino_t parent,
		    const char *name)
{
	uint64_t dir, dir_asof, obj, asof;
	int error;

	decode(parent, &dir, &dir_asof);
	decode(fino, &obj, &asof);
	error = hmr_link(mnt, asof, obj, dir_asof, dir, name);
	if (error)
		fuse_reply_err(req, error);
	else
		reply_entry(req, obj, 0);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	uint64_t dir, asof;

	decode(parent, &dir, &asof);
	fuse_reply_err(req, hmr_unlink(mnt, asof, dir, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	uint64_t dir, asof;

	decode(parent, &dir, &asof);
	fuse_reply_err(req, hmr_rmdir(mnt, asof, dir, name));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname, unsigned flags)
{
	uint64_t odir, oasof, ndir, nasof;

	decode(parent, &odir, &oasof);
	decode(newparent, &ndir, &nasof);
	if (flags) /* RENAME_NOREPLACE / EXCHANGE not supported */
		fuse_reply_err(req, EINVAL);
	else
		fuse_reply_err(req, hmr_rename(mnt, oasof, odir, name, nasof,
					       ndir, newname));
}

static void op_open(fuse_req_t req, fuse_ino_t fino, struct fuse_file_info *fi)
{
	uint64_t obj, asof;
	int error = 0;

	decode(fino, &obj, &asof);
	if ((fi->flags & O_ACCMODE) != O_RDONLY && (asof || readonly_mount))
		error = EROFS;
	if (!error && !asof)
		error = hmr_open(mnt, obj);
	if (error)
		fuse_reply_err(req, error);
	else
		fuse_reply_open(req, fi);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct hmr_stat hs;
	uint64_t dir, asof, ino;
	int error;

	decode(parent, &dir, &asof);
	error = hmr_create(mnt, asof, dir, name, (uint16_t)mode, 0, &ino);
	if (!error)
		error = hmr_open(mnt, ino);
	if (!error)
		error = hmr_getattr(mnt, 0, ino, &hs);
	if (error) {
		fuse_reply_err(req, error);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = ino;
	e.attr_timeout = e.entry_timeout = 1.0;
	to_stat(&hs, ino, &e.attr);
	fuse_reply_create(req, &e, fi);
}

static void op_release(fuse_req_t req, fuse_ino_t fino, struct fuse_file_info *fi)
{
	uint64_t obj, asof;

	(void)fi;
	decode(fino, &obj, &asof);
	fuse_reply_err(req, asof ? 0 : hmr_release(mnt, obj));
}

static void op_read(fuse_req_t req, fuse_ino_t fino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	uint64_t obj, asof;
	char *buf = malloc(size ? size : 1);
	size_t got = 0;
	int error;

	(void)fi;
	decode(fino, &obj, &asof);
	error = buf ? hmr_read(mnt, asof, obj, (uint64_t)off, buf, size, &got)
		    : ENOMEM;
	if (error)
		fuse_reply_err(req, error);
	else
		fuse_reply_buf(req, buf, got);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t fino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	uint64_t obj, asof;
	int error;

	(void)fi;
	decode(fino, &obj, &asof);
	error = hmr_write(mnt, asof, obj, (uint64_t)off, buf, size);
	if (error)
		fuse_reply_err(req, error);
	else
		fuse_reply_write(req, size);
}

static void op_fsync(fuse_req_t req, fuse_ino_t fino, int datasync,
		     struct fuse_file_info *fi)
{
	(void)datasync, (void)fi;
	fuse_reply_err(req, readonly_mount ? 0 : hmr_fsync(mnt, fino));
}

static void op_flush(fuse_req_t req, fuse_ino_t fino, struct fuse_file_info *fi)
{
	(void)fino, (void)fi;
	fuse_reply_err(req, 0);
}

/* readdir: collect into a FUSE buffer until it is full.  The offset FUSE
 * stores for each entry is HMR's cookie, so the next call resumes right
 * after the last entry that fitted. */
struct dirbuf {
	fuse_req_t req;
	char *buf;
	size_t size, used;
	uint64_t asof;
};

static int fill(void *arg, const struct hmr_dirent *d)
{
	struct dirbuf *db = arg;
	char name[HMR_NAME_MAX + 1];
	struct stat st;
	size_t need;

	memset(&st, 0, sizeof(st));
	snprintf(name, sizeof(name), "%.*s", d->namelen, d->name);
	st.st_ino = encode_peek(d->ino, db->asof);
	st.st_mode = d->obj_type == HMR_OBJ_DIR ? S_IFDIR
		     : d->obj_type == HMR_OBJ_SYMLINK ? S_IFLNK : S_IFREG;
	need = fuse_add_direntry(db->req, NULL, 0, name, NULL, 0);
	if (db->used + need > db->size)
		return 1;
	fuse_add_direntry(db->req, db->buf + db->used, db->size - db->used,
			  name, &st, (off_t)d->cookie);
	db->used += need;
	return 0;
}

static void op_readdir(fuse_req_t req, fuse_ino_t fino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dirbuf db = { .req = req, .size = size };
	uint64_t obj;
	int error;

	(void)fi;
	decode(fino, &obj, &db.asof);
	db.buf = malloc(size);
	error = hmr_readdir(mnt, db.asof, obj, (uint64_t)off, fill, &db);
	if (error)
		fuse_reply_err(req, error);
	else
		fuse_reply_buf(req, db.buf, db.used);
	free(db.buf);
}

static void op_statfs(fuse_req_t req, fuse_ino_t fino)
{
	struct hmr_statfs sf;
	struct statvfs st;

	(void)fino;
	hmr_statfs(mnt, &sf);
	memset(&st, 0, sizeof(st));
	st.f_bsize = st.f_frsize = HMR_BLOCK_SIZE;
	st.f_blocks = sf.nblocks;
	st.f_bfree = sf.free_blocks;
	st.f_bavail = sf.avail_blocks;
	st.f_files = sf.next_obj_id + sf.free_blocks * 32;
	st.f_ffree = sf.free_blocks * 32;
	st.f_namemax = HMR_NAME_MAX;
	fuse_reply_statfs(req, &st);
}

static void op_destroy(void *userdata)
{
	(void)userdata;
	stopping = 1;
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = op_lookup, .getattr = op_getattr, .setattr = op_setattr,
	.readlink = op_readlink, .mknod = op_mknod, .mkdir = op_mkdir,
	.unlink = op_unlink, .rmdir = op_rmdir, .symlink = op_symlink,
	.rename = op_rename, .link = op_link, .open = op_open,
	.read = op_read, .write = op_write, .flush = op_flush,
	.release = op_release, .fsync = op_fsync, .readdir = op_readdir,
	.fsyncdir = op_fsync, .statfs = op_statfs, .create = op_create,
	.destroy = op_destroy, .forget = op_forget,
	.forget_multi = op_forget_multi,
};

/* The periodic committer: like a kernel syncer, it bounds how much an
 * unclean shutdown can lose.  It sleeps in short steps so unmount does
 * not wait for it. */
static void *committer(void *arg)
{
	(void)arg;
	while (!stopping) {
		for (int i = 0; i < COMMIT_INTERVAL_S * 10 && !stopping; i++)
			usleep(100000);
		if (!stopping && !readonly_mount)
			hmr_sync(mnt, NULL);
	}
	return NULL;
}

/* The test hook: a device whose flushes wait while a file exists. */
static struct hmr_bdev *stall_inner;
static const char *stall_path;

static int stall_read(struct hmr_bdev *d, uint64_t b, void *buf)
{
	(void)d;
	return stall_inner->read(stall_inner, b, buf);
}

static int stall_write(struct hmr_bdev *d, uint64_t b, const void *buf)
{
	(void)d;
	return stall_inner->write(stall_inner, b, buf);
}

/* Wait while stall_path exists; PATH.reached tells the test we are. */
static int stall_flush(struct hmr_bdev *d)
{
	char reached[4096];

	(void)d;
	snprintf(reached, sizeof(reached), "%s.reached", stall_path);
	if (access(stall_path, F_OK) == 0) {
		FILE *f = fopen(reached, "w");

		if (f != NULL)
			fclose(f);
	}
	while (access(stall_path, F_OK) == 0)
		usleep(20000);
	return stall_inner->flush(stall_inner);
}

/* dev itself, or (HMR_FUSE_STALL_FLUSH set) dev behind the stall hook. */
static struct hmr_bdev *maybe_stall(struct hmr_bdev *dev)
{
	static struct hmr_bdev wrap;

	stall_path = getenv("HMR_FUSE_STALL_FLUSH");
	if (stall_path == NULL || !*stall_path)
		return dev;
	stall_inner = dev;
	wrap = (struct hmr_bdev){ dev->nblocks, NULL, stall_read, stall_write,
				  stall_flush };
	return &wrap;
}

/* Serve requests until unmount: several threads unless -s. */
static int serve(struct fuse_session *se)
{
	struct fuse_loop_config cfg = { .clone_fd = 0, .max_idle_threads = 8 };

	if (single_thread)
		return fuse_session_loop(se);
	return fuse_session_loop_mt(se, &cfg);
}

/* Take our options (ro, asof=, views=) out of "-o a,b,c", leaving FUSE's.
 * default_permissions is always passed, so the kernel checks modes and
 * owners against the attributes HMR reports. */
static void parse_opts(char *opts, uint64_t *asof, char *rest, size_t restlen)
{
	char *save = NULL;

	rest[0] = '\0';
	for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (!strcmp(o, "ro"))
			readonly_mount = 1;
		else if (!strncmp(o, "asof=", 5))
			*asof = strtoull(o + 5, NULL, 0), readonly_mount = 1;
		else if (!strncmp(o, "views=", 6) && atoi(o + 6) > 0 &&
			 atoi(o + 6) <= MAX_VIEWS)
			max_views = (unsigned)atoi(o + 6);
		else
			snprintf(rest + strlen(rest), restlen - strlen(rest),
				 "%s%s", rest[0] ? "," : "", o);
	}
}

int main(int argc, char **argv)
{
	char fuse_opts[1024] = "default_permissions", extra[1024];
	const char *image = NULL, *mountpoint = NULL;
	int foreground = 0, error;
	uint64_t asof = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f"))
			foreground = 1;
		else if (!strcmp(argv[i], "-s"))
			single_thread = 1;
		else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			parse_opts(argv[++i], &asof, extra, sizeof(extra));
			if (extra[0])
				snprintf(fuse_opts + strlen(fuse_opts),
					 sizeof(fuse_opts) - strlen(fuse_opts),
					 ",%s", extra);
		} else if (!image)
			image = argv[i];
		else
			mountpoint = argv[i];
	}
	if (!image || !mountpoint) {
		fprintf(stderr, "usage: hmr-fuse IMAGE MOUNTPOINT [-f] [-s] "
				"[-o ro,asof=TID,views=N,...]\n");
		return 2;
	}
	struct hmr_bdev *dev = hmr_bdev_file_open(image, readonly_mount);
	if (dev == NULL) {
		perror(image);
		return 1;
	}
	struct hmr_diag diag;
	error = hmr_mount_diag(maybe_stall(dev),
			       readonly_mount ? HMR_MNT_RDONLY : 0, asof, &mnt,
			       &diag);
	if (error) {
		fprintf(stderr, "hmr-fuse: %s: mount: %s: %s\n", image,
			strerror(error), diag.text);
		return 1;
	}
	char *fargv[] = { argv[0], "-o", fuse_opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (se == NULL || fuse_set_signal_handlers(se) != 0 ||
	    fuse_session_mount(se, mountpoint) != 0) {
		fprintf(stderr, "hmr-fuse: cannot mount on %s\n", mountpoint);
		return 1;
	}
	fuse_daemonize(foreground);
	pthread_t t;
	pthread_create(&t, NULL, committer, NULL);
	error = serve(se);
	stopping = 1;
	pthread_join(t, NULL);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	int uerr = hmr_unmount(mnt);
	hmr_bdev_close(dev);
	if (uerr)
		fprintf(stderr, "hmr-fuse: final commit failed: %s\n", strerror(uerr));
	return error || uerr ? 1 : 0;
}
