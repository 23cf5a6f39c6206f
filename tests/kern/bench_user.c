/*
 * bench_user.c - what user mode costs (docs/user.md, "Costs"): each body
 * runs tests/user/ubench.c, which times its operations itself with RDTSC
 * (guest instructions under -icount) and prints "TICKS N"; the body
 * reports that.
 *
 *   user_null_syscall                   getppid, from user mode and back
 *   user_anon_write_fault               a write to a fresh anonymous page
 *   user_anon_write_fault_minus_zeroing a write to a fresh anonymous page,
 *                                       minus what zeroing a page costs
 *   user_cow_fault_minus_copy           a write to a page shared with a
 *                                       forked child, minus what copying a
 *                                       page costs
 *   user_fork_exit_wait                 fork, the child _exits, wait4
 *   user_port_roundtrip                 port_domsg to a server in another
 *                                       process, and its reply
 *
 * The zeroing and the copy are measured here, with the kernel's own
 * memset and memcpy on direct-map pages, as vm_page_alloc and cow_copy
 * do them.  The programs need the user programs on the disk: make bench
 * puts them on its HMR image (tools/kbench); without them the bodies
 * skip and say so.
 */
#include <kern/file.h>
#include <kern/kbench.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/proc.h>
#include <fs/vfs.h>
#include <machine/cpufunc.h>
#include <vm/vm_page.h>

static char *const ubench_envp[] = { NULL };

/* The unsigned decimal at *s; *s moves past it. */
static uint64_t parse_decimal(const char **s)
{
	uint64_t v = 0;

	while (**s == ' ')
		(*s)++;
	while (**s >= '0' && **s <= '9')
		v = v * 10 + (uint64_t)(*(*s)++ - '0');
	return v;
}

/* Run "ubench mode n"; its ticks for the n operations, or 0 (skipped:
 * no program, or it failed). */
static uint64_t ubench(const char *mode, uint64_t n)
{
	char count[24];
	char *argv[] = { "ubench", (char *)mode, count, NULL };
	struct ufile *sink;
	struct spawn_opts opts = { .cpu = 0 };
	struct vattr va;
	const char *out;
	uint64_t ticks;
	int pid, status;

	if (vfs_stat("/bin/ubench", &va) != 0) {
		kbench_skip("needs /bin/ubench on the disk (make bench "
			    "copies the user programs there)");
		return 0;
	}
	ksnprintf(count, sizeof(count), "%lu", n);
	sink = ufile_sink(64);
	opts.stdio[1] = sink;
	if (proc_spawn("/bin/ubench", argv, ubench_envp, &opts, &pid) != 0) {
		ufile_rele(sink);
		kbench_skip("could not start /bin/ubench");
		return 0;
	}
	status = proc_wait(pid);
	out = ufile_sink_data(sink, NULL);
	ticks = status == 0 ? parse_decimal(&out) : 0;
	ufile_rele(sink);
	if (ticks == 0)
		kbench_skip("/bin/ubench failed");
	return ticks;
}

/* Ticks per page of fn over a few pages through the direct map. */
static uint64_t page_op_ticks(bool copy)
{
	vm_page_t a = vm_page_alloc(0), b = vm_page_alloc(0);
	uint64_t t0, best = UINT64_MAX;

	for (int i = 0; i < 8; i++) {
		t0 = rdtsc();
		if (copy)
			memcpy(vm_page_to_dmap(b), vm_page_to_dmap(a), PAGE_SIZE);
		else
			memset(vm_page_to_dmap(b), 0, PAGE_SIZE);
		best = MIN(best, rdtsc() - t0);
	}
	vm_page_free(a);
	vm_page_free(b);
	return best;
}

KBENCH(user_null_syscall, 20000)
{
	kbench_report(ubench("null", n), n);
}

/* With the zeroing: the figure Linux's is set beside. */
KBENCH(user_anon_write_fault, 1000)
{
	kbench_report(ubench("fault", n), n);
}

KBENCH(user_anon_write_fault_minus_zeroing, 1000)
{
	uint64_t t = ubench("fault", n), zero = page_op_ticks(false) * n;

	kbench_report(t > zero ? t - zero : 0, n);
}

KBENCH(user_cow_fault_minus_copy, 1000)
{
	uint64_t t = ubench("cow", n), copy = page_op_ticks(true) * n;

	kbench_report(t > copy ? t - copy : 0, n);
}

KBENCH(user_fork_exit_wait, 100)
{
	kbench_report(ubench("fork", n), n);
}

KBENCH(user_port_roundtrip, 5000)
{
	kbench_report(ubench("port", n), n);
}
