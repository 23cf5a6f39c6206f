/*
 * fs_shell.c - the shell's filesystem commands: ls, cat, stat, mkdir, rm,
 * write, cd, pwd, snap, df, sync, mount.
 *
 * Each is a few VFS calls (include/fs/vfs.h) and prints what went wrong
 * in words.  Paths may be relative to the shell's current directory,
 * which `cd` changes; "name@@0x<tid>" names reach the past on HMR, so
 * `cat notes@@0x1f` and `ls docs@@0x1f` show a snapshot.
 *
 * How a command runs.  The kernel shell (kern/kern_shell.c) reads a
 * line, finds the command in fs_shell_commands by its first word, and
 * calls it with the rest of the line after the first space (so "ls  x"
 * passes " x": a second space is kept).  Every
 * command here then does the same three things:
 *
 *   abspath(arg)        the shell's relative path made absolute, or
 *                       refused whole (ENAMETOOLONG) if it cannot fit
 *   vfs_*(...)          one or a few VFS calls; each may block
 *   complain or print   output indented two spaces; an error in words,
 *                       with its number for whoever reads the code
 *
 * Nothing here knows which filesystem answers, but snap, which asks the
 * root's HMR core directly (snapshots are not a VFS operation).
 *
 * State and locking: the only state is cwd, the current directory.  The
 * shell is one thread, and only it calls these commands, so cwd needs
 * no lock.  Every VFS call takes and gives back its own references;
 * a command that opens a file closes it on every path.
 */
#include <kern/types.h>
#include <kern/errno.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/malloc.h>
#include <kern/panic.h>
#include <kern/shell.h>
#include <fs/hmr.h>
#include <fs/vfs.h>
#include <fs/hmr_kern.h>

/* The current directory: always absolute, always a directory when cd
 * set it (it may be removed later; commands then say ENOENT).  The
 * shell thread's. */
static char cwd[VFS_PATH_MAX] = "/";

/* The shell's words for the errors a user meets most; any other gets
 * "error" and its number. */
static const char *strerror(int error)
{
	switch (error) {
	case ENOENT:	  return "no such file or directory";
	case EEXIST:	  return "already exists";
	case ENOTDIR:	  return "not a directory";
	case EISDIR:	  return "is a directory";
	case ENOTEMPTY:	  return "directory not empty";
	case EROFS:	  return "read-only (a past view, or a read-only "
				 "disk)";
	case ENOSPC:	  return "no space left";
	case EIO:	  return "I/O error, or damaged data";
	case ELOOP:	  return "too many symbolic links";
	case ENAMETOOLONG: return "name too long";
	case EINVAL:	  return "invalid argument";
	case EBUSY:	  return "busy";
	case EXDEV:	  return "across filesystems";
	default:	  return "error";
	}
}

/* One line: which command, on which path, what went wrong. */
static void complain(const char *what, const char *path, int error)
{
	kprintf("  %s %s: %s (%d)\n", what, path, strerror(error), error);
}

/*
 * Absolute path for a shell argument, in out (VFS_PATH_MAX bytes): the
 * argument itself if it starts with '/', else cwd and the argument
 * joined by exactly one '/'.  "." and ".." are left for the VFS's
 * lookup to resolve.  0, or ENAMETOOLONG when the result would not fit
 * (out is then ""): a path cut short would be a different, shorter name,
 * and the command would act on a file nobody named.  Any thread.
 */
int fs_shell_abspath(const char *arg, char *out)
{
	const char *sep = cwd[strlen(cwd) - 1] == '/' ? "" : "/";
	size_t len;

	KASSERT(arg != NULL && out != NULL, "fs_shell_abspath needs an "
		"argument and a VFS_PATH_MAX buffer");
	if (arg[0] == '/')
		len = strlcpy(out, arg, VFS_PATH_MAX);
	else
		len = ksnprintf(out, VFS_PATH_MAX, "%s%s%s", cwd, sep, arg);
	/* Both return the length they wanted, not the length they wrote:
	 * so a result that does not fit is seen, not silently cut (the
	 * terminating NUL needs the last byte of out). */
	if (len >= VFS_PATH_MAX) {
		out[0] = '\0';
		return ENAMETOOLONG;
	}
	return 0;
}

/* fs_shell_abspath for command cmd: true, or false after telling the
 * user the path is too long (the command then does nothing). */
static bool abspath(const char *cmd, const char *arg, char *out)
{
	if (fs_shell_abspath(arg, out) == 0)
		return true;
	kprintf("  %s: path too long: the most is %d bytes, with the current "
		"directory (%d)\n", cmd, VFS_PATH_MAX - 1, ENAMETOOLONG);
	return false;
}

/* The first word of args into word (size bytes, cut to fit); returns
 * the rest with its leading spaces skipped.  Words are split on ' '
 * only: there is no quoting. */
static const char *first_word(const char *args, char *word, size_t size)
{
	size_t n = 0;

	while (*args == ' ')
		args++;
	while (args[n] != '\0' && args[n] != ' ')
		n++;
	strlcpy(word, args, MIN(n + 1, size));
	args += n;
	while (*args == ' ')
		args++;
	return args;
}

/* ---- looking ---------------------------------------------------------------- */

/* ls's first column, as `ls -l` writes it. */
static const char type_char[] = { [VNON] = '?', [VREG] = '-', [VDIR] = 'd',
				   [VLNK] = 'l', [VCHR] = 'c' };

/*
 * ls reads a batch of names, then stats each: a readdir callback runs
 * inside the filesystem's lock and must not call back into it.
 */
#define LS_BATCH 16

/* Up to LS_BATCH names with the type and inode readdir gave. */
struct ls_batch {
	int n;				/* entries filled */
	struct {
		uint64_t ino;
		enum vtype type;
		char name[VFS_NAME_MAX + 1];
	} e[LS_BATCH];
};

/* The readdir callback: copy one entry into the batch, or say "full"
 * (that entry is then not consumed: vfs_readdir resumes at it). */
static int ls_collect(void *arg, const struct vdirent *d)
{
	struct ls_batch *b = arg;

	if (b->n == LS_BATCH)
		return 1;			/* full: resume next time */
	b->e[b->n].ino = d->ino;
	b->e[b->n].type = d->type;
	strlcpy(b->e[b->n].name, d->name, MIN(d->namelen + 1,
					      sizeof(b->e[0].name)));
	b->n++;
	return 0;
}

/* Print a batch: type, inode, size, name.  Outside the filesystem's
 * lock now, so lstat may be called.  A name that vanished meanwhile
 * prints with size 0. */
static void ls_print(const char *dir, const struct ls_batch *b)
{
	char path[VFS_PATH_MAX];

	for (int i = 0; i < b->n; i++) {
		struct vattr va = { 0 };

		ksnprintf(path, sizeof(path), "%s/%s", dir, b->e[i].name);
		vfs_lstat(path, &va);
		kprintf("  %c %5lu %10lu  %s\n", type_char[b->e[i].type],
			b->e[i].ino, va.va_size, b->e[i].name);
	}
}

/* List the directory open as fp, a batch at a time; a batch that is
 * not full was the last.  The batch is allocated: at 16 names of up to
 * 256 bytes it is too big for a kernel stack. */
static int ls_dir(struct file *fp, const char *dir)
{
	struct ls_batch *b = kmalloc(sizeof(*b), M_TEMP, M_WAITOK);
	int error;

	do {
		b->n = 0;
		error = vfs_readdir(fp, ls_collect, b);
		ls_print(dir, b);
	} while (error == 0 && b->n == LS_BATCH);
	kfree(b, M_TEMP);
	return error;
}

/* ls [dir]: one line per entry ("." and ".." included); ls of a file
 * prints its size and name, as ls does. */
static void cmd_ls(const char *args)
{
	char path[VFS_PATH_MAX];
	struct file *fp;
	int error;

	/* Every command starts so: a path too long has been refused with
	 * a message, and the command does nothing at all. */
	if (!abspath("ls", *args ? args : ".", path))
		return;
	error = vfs_open(path, O_RDONLY | O_DIRECTORY, 0, &fp);

	/* Not a directory: describe the one name, as `ls FILE` does. */
	if (error == ENOTDIR) {
		struct vattr va;

		if ((error = vfs_lstat(path, &va)) == 0) {
			kprintf("  %10lu  %s\n", va.va_size, args);
			return;
		}
	}
	if (error) {
		complain("ls", path, error);
		return;
	}
	error = ls_dir(fp, path);
	vfs_close(fp);
	if (error)
		complain("ls", path, error);
}

/* cat FILE: the file's bytes on the console, 256 at a time; an error
 * midway is reported after what was printed. */
static void cmd_cat(const char *args)
{
	char path[VFS_PATH_MAX], buf[256];
	struct file *fp;
	size_t got;
	int error;

	if (!abspath("cat", args, path))
		return;
	if ((error = vfs_open(path, O_RDONLY, 0, &fp)) != 0) {
		complain("cat", path, error);
		return;
	}
	/* got == 0 without an error is the end of the file. */
	while ((error = vfs_read(fp, buf, sizeof(buf), &got)) == 0 && got)
		kprintf("%.*s", (int)got, buf);
	vfs_close(fp);
	if (error)
		complain("cat", path, error);
}

/* stat PATH: the attributes of PATH itself (a symlink is not followed),
 * and whether it is a view of the past. */
static void cmd_stat(const char *args)
{
	char path[VFS_PATH_MAX];
	struct vattr va;
	int error;

	if (!abspath("stat", args, path))
		return;
	if ((error = vfs_lstat(path, &va)) != 0) {
		complain("stat", path, error);
		return;
	}
	kprintf("  %s: inode %lu, mode %06o, %lu link(s), %lu bytes, %lu "
		"block(s)\n", path, va.va_ino, va.va_mode, va.va_nlink,
		va.va_size, va.va_blocks);
	kprintf("  modified %lu s after 1970%s\n", va.va_mtime_ns / 1000000000,
		va.va_asof ? ", a view of the past (read-only)" : "");
}

/* ---- changing ------------------------------------------------------------- */

/* mkdir DIR: mode 0755; the parent must exist. */
static void cmd_mkdir(const char *args)
{
	char path[VFS_PATH_MAX];
	int error;

	if (!abspath("mkdir", args, path))
		return;
	if ((error = vfs_mkdir(path, 0755)) != 0)
		complain("mkdir", path, error);
}

/* rm PATH: unlink, and if PATH is a directory, rmdir instead (which
 * refuses one that is not empty). */
static void cmd_rm(const char *args)
{
	char path[VFS_PATH_MAX];
	int error;

	if (!abspath("rm", args, path))
		return;
	error = vfs_unlink(path);
	if (error == EISDIR)
		error = vfs_rmdir(path);
	if (error)
		complain("rm", path, error);
}

/* write FILE TEXT: FILE is created or emptied, and holds TEXT and a
 * newline (the rest of the line after FILE, spaces inside kept). */
static void cmd_write(const char *args)
{
	/* name has a byte more than a path: a word too long for a path is
	 * then still too long after first_word cuts it, and abspath refuses. */
	char name[VFS_PATH_MAX + 1], path[VFS_PATH_MAX];
	const char *text = first_word(args, name, sizeof(name));
	struct file *fp;
	size_t done;
	int error;

	if (name[0] == '\0') {
		kprintf("  usage: write FILE TEXT\n");
		return;
	}
	if (!abspath("write", name, path))
		return;
	error = vfs_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fp);
	/* The text, then the newline: two writes at the moving offset, so
	 * TEXT needs no copy to have a newline added. */
	if (error == 0) {
		error = vfs_write(fp, text, strlen(text), &done);
		if (error == 0)
			error = vfs_write(fp, "\n", 1, &done);
		vfs_close(fp);
	}
	if (error)
		complain("write", path, error);
}

/* cd [dir]: symlinks followed; cwd changes only if the target is a
 * directory that exists.  No argument: "/". */
static void cmd_cd(const char *args)
{
	char path[VFS_PATH_MAX];
	struct vattr va;
	int error;

	if (!abspath("cd", *args ? args : "/", path))
		return;
	error = vfs_stat(path, &va);

	/* A file is no directory to be in; a symlink to a directory is. */
	if (error == 0 && !S_ISDIR(va.va_mode))
		error = ENOTDIR;
	if (error)
		complain("cd", path, error);
	else
		strlcpy(cwd, path, sizeof(cwd));
}

/* pwd: the path cd last accepted, as it was typed (not resolved). */
static void cmd_pwd(const char *args __unused)
{
	kprintf("  %s\n", cwd);
}

/* ---- the filesystem as a whole ----------------------------------------------- */

/* One mount: source, path, type, "(ro)" when read-only. */
static void print_mount(struct mount *mp, void *arg)
{
	kprintf("  %-10s on %-20s type %s%s\n", mp->mnt_source, mp->mnt_path,
		mp->mnt_op->name, (mp->mnt_flags & MNT_RDONLY) ? " (ro)" : "");
}

/* mount: every mount, in the order they were made; one being mounted
 * or unmounted right now is not listed. */
static void cmd_mount(const char *args __unused)
{
	vfs_foreach_mount(print_mount, NULL);
}

/* One mount's space in KiB (blocks are 4 KiB), and on HMR the TID of
 * the last durable commit.  A mount whose statfs fails is left out.
 * Called from a walk (vfs_foreach_mount) with no token held: statfs may
 * block, and mp stays mounted until this returns (an unmount waits). */
static void print_df(struct mount *mp, void *arg)
{
	struct vstatfs st;

	if (vfs_statfs(mp->mnt_path, &st) != 0)
		return;
	kprintf("  %-20s %-6s %8lu KiB %8lu KiB free", mp->mnt_path,
		st.fstype, st.blocks * 4, st.free_blocks * 4);
	if (st.commit_tid)
		kprintf("  last commit 0x%lx", st.commit_tid);
	kprintf("\n");
}

/* df: every mount's space. */
static void cmd_df(const char *args __unused)
{
	vfs_foreach_mount(print_df, NULL);
}

/* sync: commit every filesystem now (HMR: a commit and a device
 * FLUSH); silent when it works. */
static void cmd_sync(const char *args __unused)
{
	int error = vfs_sync_all();

	if (error)
		kprintf("  sync: %s (%d)\n", strerror(error), error);
}

/* The HMR core behind the root, or NULL (with a message) if there is
 * none.  The root's vnode reference is given back at once, so the core
 * stays valid only while the root stays mounted -- which the shell has
 * no command to change. */
static struct hmr_mount *root_hmr(void)
{
	struct hmr_mount *hm = NULL;
	struct vnode *vp;

	if (vfs_namei("/", true, &vp) == 0) {
		hm = hmr_vfs_core(vp->v_mount);
		vrele(vp);
	}
	if (hm == NULL)
		kprintf("  snap: the root is not HMR; snapshots need an HMR "
			"disk\n");
	return hm;
}

/* One snapshot: its TID (what NAME@@0x<tid> takes) and label. */
static int print_snap(void *arg, const struct hmr_snapshot *s)
{
	kprintf("  0x%016lx  %s\n", s->tid, s->label);
	return 0;
}

/* snap [label]: take a snapshot of the root filesystem (a commit that
 * the history prune keeps); snap list: the snapshots there are. */
static void cmd_snap(const char *args)
{
	struct hmr_mount *hm = root_hmr();
	uint64_t tid;
	int error;

	if (hm == NULL)
		return;
	if (strcmp(args, "list") == 0) {
		hmr_snapshot_list(hm, print_snap, NULL);
		return;
	}
	error = hmr_snapshot_create(hm, *args ? args : "shell", &tid);
	if (error)
		kprintf("  snap: %s (%d)\n", strerror(error), error);
	else
		kprintf("  snapshot 0x%lx; read it as NAME@@0x%lx\n", tid, tid);
}

/* The table kern/kern_shell.c searches; the help text is what `help`
 * prints.  Ends with a NULL name. */
const struct shell_cmd fs_shell_commands[] = {
	{ "ls", "ls [dir]: list a directory", cmd_ls },
	{ "cat", "cat FILE: print a file", cmd_cat },
	{ "stat", "stat PATH: inode, mode, links, size", cmd_stat },
	{ "mkdir", "mkdir DIR: make a directory", cmd_mkdir },
	{ "rm", "rm PATH: remove a file or an empty directory", cmd_rm },
	{ "write", "write FILE TEXT: FILE holds TEXT and a newline",
	  cmd_write },
	{ "cd", "cd [dir]: change the current directory", cmd_cd },
	{ "pwd", "print the current directory", cmd_pwd },
	{ "snap", "snap [label] | snap list: HMR snapshots", cmd_snap },
	{ "df", "space on each filesystem", cmd_df },
	{ "sync", "commit every filesystem to disk", cmd_sync },
	{ "mount", "the mounted filesystems", cmd_mount },
	{ NULL, NULL, NULL },
};
