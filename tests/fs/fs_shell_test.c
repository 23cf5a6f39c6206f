/*
 * fs_shell_test.c - the shell's filesystem commands (fs/fs_shell.c) with
 * paths that do not fit: suite `fs_shell`.
 *
 * A shell argument becomes an absolute path of at most VFS_PATH_MAX
 * bytes.  One that would be longer must be refused (ENAMETOOLONG, and a
 * message), never cut short: a cut path is a different, shorter name,
 * and the command would then act on a file the user never named.
 */
#include <kern/errno.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/shell.h>
#include <fs/vfs.h>

/* The short name a cut path lands on (see long_path). */
#define SHELL_CUT_NAME	"/kt-shell-l"

/*
 * "/" then "./" again and again, then "kt-shell-long-name": one name in
 * the root, spelled in more than VFS_PATH_MAX bytes.  Cut to
 * VFS_PATH_MAX - 1 bytes it still parses, as SHELL_CUT_NAME.
 */
static const char *long_path(void)
{
	static char arg[VFS_PATH_MAX + 32];
	char *p = arg;

	*p++ = '/';
	while (p - arg < VFS_PATH_MAX - 12) {
		*p++ = '.';
		*p++ = '/';
	}
	strlcpy(p, "kt-shell-long-name", sizeof(arg) - (p - arg));
	return arg;
}

/* The function behind a command of the filesystem's table. */
static void (*shell_fn(const char *name))(const char *)
{
	for (const struct shell_cmd *c = fs_shell_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c->fn;
	return NULL;
}

KTEST(fs_shell, a_path_that_fits_is_made_absolute_unchanged)
{
	static char arg[VFS_PATH_MAX], out[VFS_PATH_MAX];

	/* The longest absolute path there is: VFS_PATH_MAX - 1 bytes. */
	memset(arg, 'a', VFS_PATH_MAX - 1);
	arg[0] = '/';
	arg[VFS_PATH_MAX - 1] = '\0';
	KT_EXPECT_EQ(fs_shell_abspath(arg, out), 0);
	KT_EXPECT_STREQ(out, arg);
}

KTEST(fs_shell, a_path_too_long_is_refused_not_cut)
{
	static char rel[VFS_PATH_MAX + 1], out[VFS_PATH_MAX];
	const char *arg = long_path();
	struct vattr va;

	KT_ASSERT_TRUE(strlen(arg) > VFS_PATH_MAX - 1);
	KT_EXPECT_EQ(fs_shell_abspath(arg, out), ENAMETOOLONG);
	/* A relative one as long: whatever the current directory, too. */
	memset(rel, 'r', VFS_PATH_MAX);
	rel[VFS_PATH_MAX] = '\0';
	KT_EXPECT_EQ(fs_shell_abspath(rel, out), ENAMETOOLONG);
	/* mkdir and write act on nothing: the cut name is not made. */
	KT_ASSERT_EQ(vfs_stat(SHELL_CUT_NAME, &va), ENOENT);
	shell_fn("mkdir")(arg);
	KT_EXPECT_EQ(vfs_stat(SHELL_CUT_NAME, &va), ENOENT);
	vfs_rmdir(SHELL_CUT_NAME);		/* what a cut path made */
	{
		static char line[VFS_PATH_MAX + 64];

		ksnprintf(line, sizeof(line), "%s some text", arg);
		shell_fn("write")(line);
	}
	KT_EXPECT_EQ(vfs_stat(SHELL_CUT_NAME, &va), ENOENT);
	vfs_unlink(SHELL_CUT_NAME);
}
