/*
 * hmr_host_test.c - files written in the kernel, checked on the host.
 *
 * Suite `hmr_host` (group `hmr`) writes HOSTCHECK_FILES files from a
 * thread on every CPU at once under /hostcheck/cpu<c>/, each with a size
 * and bytes the host can compute again, and leaves them there.  The run
 * ends with the shutdown hooks (every filesystem committed and
 * unmounted); then the runner checks the image on the host
 * (tools/hmr-hostcheck): fsck.hmr finds no problem, and every file
 * reads back byte for byte through the host's own copy of the HMR code.
 * tools/hmr-hostcheck computes the same sizes and bytes: change both or
 * neither.
 */
#include "vfs_cases.h"

#define HOSTCHECK_FILES	12

/* The size and the bytes of file i of CPU c. */
static size_t hc_size(int c, int i)
{
	return 1 + (size_t)(((uint64_t)(c * 1000 + i) * 2654435761u) % 70000);
}

static uint8_t hc_byte(int c, int i, size_t j)
{
	return (uint8_t)(c * 97 + i * 31 + j * 7 + (j >> 12));
}

struct hc_writer {
	int cpu, failures;
	struct thread *td;
};

static void hc_writer_main(void *arg)
{
	struct hc_writer *w = arg;
	static uint8_t bufs[MAXCPU][70001];
	uint8_t *buf = bufs[w->cpu];
	char path[64];

	ksnprintf(path, sizeof(path), "/hostcheck/cpu%d", w->cpu);
	if (vfs_mkdir(path, 0755) != 0)
		w->failures++;
	for (int i = 0; i < HOSTCHECK_FILES; i++) {
		size_t n = hc_size(w->cpu, i);

		for (size_t j = 0; j < n; j++)
			buf[j] = hc_byte(w->cpu, i, j);
		ksnprintf(path, sizeof(path), "/hostcheck/cpu%d/f%d", w->cpu,
			  i);
		if (vt_put(path, buf, n) != 0)
			w->failures++;
	}
}

KTEST(hmr_host, every_cpu_writes_files_the_host_will_read_back)
{
	static struct hc_writer w[MAXCPU];
	struct vstatfs st;

	if (vfs_statfs("/", &st) != 0 || strcmp(st.fstype, "hmr") != 0)
		KT_SKIP("the root is not HMR: no HMR disk attached to this boot");
	KT_ASSERT_EQ(vfs_mkdir("/hostcheck", 0755), 0);
	for (int c = 0; c < ncpus; c++) {
		w[c] = (struct hc_writer){ .cpu = c };
		KT_ASSERT_EQ(lwkt_create(hc_writer_main, &w[c], &w[c].td, 0, c,
					 "hostcheck %d", c), 0);
	}
	for (int c = 0; c < ncpus; c++) {
		lwkt_thread_join(w[c].td);
		KT_EXPECT_EQ(w[c].failures, 0);
	}
	kprintf("# hostcheck: cpus=%d files=%d\n", ncpus, HOSTCHECK_FILES);
}
