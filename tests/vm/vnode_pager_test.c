/*
 * vnode_pager_test.c - a mapped file's object and the VFS's read, write
 * and fsync see one file (vm/vnode_pager.c; docs/vm.md section 6), in
 * suite `vnode_pager` on whatever the root filesystem is (tmpfs in the
 * core group).  The user programs of tests/user/cachetest.c test the
 * same through real mappings; these look underneath, at what the
 * filesystem itself holds (its vop_read, past the object), which no
 * program can see.
 *
 * The "mapping" here is the kernel's own: the test takes the file's
 * object (vm_object_vnode, as mmap does), reads a page in with the
 * pager, and stores into it and marks it as a write fault would.
 */
#include <kern/errno.h>
#include <kern/ktest.h>
#include <kern/libkern.h>
#include <kern/token.h>
#include <fs/vfs.h>
#include <vm/vm_map.h>
#include <vm/vnode_pager.h>

#define VPT_PATH "/vnode_pager_test"

/* A fresh two-page file of 'a', open read-write. */
static struct file *vpt_file(void)
{
	static char buf[2 * PAGE_SIZE];
	struct file *fp;
	size_t done;

	memset(buf, 'a', sizeof(buf));
	KT_ASSERT_EQ(vfs_open(VPT_PATH, O_RDWR | O_CREAT | O_TRUNC, 0644, &fp),
		     0);
	KT_ASSERT_EQ(vfs_pwrite(fp, buf, sizeof(buf), 0, &done), 0);
	return fp;
}

/* Store s at off of page 0 of obj, as a write fault and a store would:
 * the page read in by the pager and marked for write-back. */
static void vpt_store(vm_object_t obj, uint64_t off, const char *s)
{
	vm_page_t m;
	int error = 0;

	lwkt_gettoken(&vm_object_token);
	m = vnode_pager_getpage(obj, 0, &error);
	KT_ASSERT_TRUE(m != NULL);
	memcpy((char *)vm_page_to_dmap(m) + off, s, strlen(s));
	m->flags |= PG_MDIRTY;
	lwkt_reltoken(&vm_object_token);
}

/* n bytes at off as the filesystem has them (its vop_read, not the VFS's
 * read, which lays the object's pages over them). */
static const char *vpt_fs_bytes(struct file *fp, uint64_t off, size_t n)
{
	static char buf[32];
	size_t done = 0;

	memset(buf, 0, sizeof(buf));
	fp->f_vp->v_ops->vop_read(fp->f_vp, off, buf, n, &done);
	return buf;
}

/* n bytes at off as read(2) sees them. */
static const char *vpt_read(struct file *fp, uint64_t off, size_t n)
{
	static char buf[32];
	size_t done = 0;

	memset(buf, 0, sizeof(buf));
	vfs_pread(fp, buf, n, off, &done);
	return buf;
}

static void vpt_done(struct file *fp, vm_object_t obj)
{
	vm_object_deallocate(obj);
	KT_EXPECT_EQ(vfs_close(fp), 0);
	KT_EXPECT_EQ(vfs_unlink(VPT_PATH), 0);
}

KTEST(vnode_pager, a_store_is_read_at_once_and_reaches_the_filesystem_on_fsync)
{
	struct file *fp = vpt_file();
	vm_object_t obj = vm_object_vnode(fp->f_vp, 2 * PAGE_SIZE);

	vpt_store(obj, 5, "dirty");
	KT_EXPECT_STREQ(vpt_read(fp, 5, 5), "dirty");
	KT_EXPECT_STREQ(vpt_fs_bytes(fp, 5, 5), "aaaaa");
	KT_EXPECT_EQ(vfs_fsync(fp), 0);
	KT_EXPECT_STREQ(vpt_fs_bytes(fp, 5, 5), "dirty");
	vpt_done(fp, obj);
}

/* The ordering rule: a write(2) after a store to the same bytes is what
 * the filesystem keeps, though the page stays marked and is written
 * back after the write. */
KTEST(vnode_pager, a_write_after_a_store_outlives_the_pages_write_back)
{
	struct file *fp = vpt_file();
	vm_object_t obj = vm_object_vnode(fp->f_vp, 2 * PAGE_SIZE);
	size_t done;

	vpt_store(obj, 100, "store");
	KT_EXPECT_EQ(vfs_pwrite(fp, "write", 5, 100, &done), 0);
	KT_EXPECT_EQ(vm_object_clean(obj, 0, obj->size, false), 0);
	KT_EXPECT_STREQ(vpt_fs_bytes(fp, 98, 9), "aawriteaa");
	KT_EXPECT_STREQ(vpt_read(fp, 98, 9), "aawriteaa");
	vpt_done(fp, obj);
}

/* A page not resident is not made resident by read(2) or write(2): the
 * object holds only what mappings touched. */
KTEST(vnode_pager, read_and_write_leave_pages_that_are_not_resident_alone)
{
	struct file *fp = vpt_file();
	vm_object_t obj = vm_object_vnode(fp->f_vp, 2 * PAGE_SIZE);
	size_t done;

	KT_EXPECT_EQ(vfs_pwrite(fp, "page1", 5, PAGE_SIZE, &done), 0);
	KT_EXPECT_STREQ(vpt_read(fp, PAGE_SIZE, 5), "page1");
	KT_EXPECT_EQ(obj->resident_page_count, 0);
	vpt_done(fp, obj);
}
