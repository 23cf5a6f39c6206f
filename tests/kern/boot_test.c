/*
 * boot_test.c - what the boot path left behind: the boot information from
 * GRUB, the command line, the ACPI tables, the page-table layout.
 *
 * Where a fact has an independent witness, the test asks it: the CPU
 * itself (control registers, the instruction pointer, the page tables),
 * and QEMU's fw_cfg device, which reports the -m and -smp the runner
 * passed on QEMU's command line (drivers/fw_cfg.c).  A count compared
 * with what QEMU was told fails on an off-by-one; a count compared with
 * a range would not.
 */
#include <kern/cmdline.h>
#include <kern/globaldata.h>
#include <kern/kernel.h>
#include <kern/ktest.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <drivers/acpi.h>
#include <drivers/fw_cfg.h>
#include <machine/cpufunc.h>
#include <machine/vmparam.h>
#include <vm/pmap.h>

#define CR0_PG		(1UL << 31)
#define CR4_PAE		(1UL << 5)
#define MSR_EFER	0xc0000080
#define EFER_LMA	(1UL << 10)	/* long mode active */

KTEST(boot, runs_in_long_mode_with_paging)
{
	KT_EXPECT_TRUE(rcr0() & CR0_PG);
	KT_EXPECT_TRUE(rcr4() & CR4_PAE);
	KT_EXPECT_TRUE(rdmsr(MSR_EFER) & EFER_LMA);
}

/* The address of the instruction after the lea: where the CPU runs now. */
static uint64_t current_rip(void)
{
	uint64_t rip;

	__asm__ volatile("lea 0(%%rip), %0" : "=r"(rip));
	return rip;
}

/*
 * Where the CPU is actually executing, not where the linker said it
 * would: the running instruction is at KERNBASE + its physical address,
 * the kernel page tables map it there, and the boot identity map that
 * got us to 64-bit mode (entry.S) no longer maps it at its physical
 * address.  The stack is in the kernel's half of the address space.
 */
KTEST(boot, kernel_runs_in_the_higher_half)
{
	uint64_t rip = current_rip(), rsp;

	__asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
	KT_ASSERT_TRUE(rip >= KERNBASE);
	KT_EXPECT_EQ(pmap_kextract(rip), rip - KERNBASE);
	KT_EXPECT_EQ(pmap_kextract(rip - KERNBASE), (vm_paddr_t)-1);
	KT_EXPECT_GE(rsp, DMAP_BASE);
	KT_EXPECT_NE(pmap_kextract(rsp), (vm_paddr_t)-1);
}

/* A frame the compiler cannot elide, recursing until the stack ends
 * (the depth limit is far beyond any kernel stack; it only keeps the
 * compiler from calling the recursion infinite). */
static __attribute__((noinline)) int recurse_deep(int depth)
{
	volatile char frame[256];

	frame[0] = (char)depth;
	if (depth > 1000000)
		return frame[0];
	return recurse_deep(depth + 1) + frame[0];
}

/*
 * The tests run on the boot thread, thread0, which also runs the shell.
 * Its stack is an ordinary kernel stack with an unmapped guard page
 * below it (kern/init_main.c), so running off its end is a fault that
 * names the thread, not silent corruption of whatever lies below.  The
 * #PF cannot be delivered on the full stack, so the CPU raises #DF,
 * which runs on its own IST stack and reports (kern/trap.c).  The guard
 * is checked first, so on a kernel without one the test fails without
 * scribbling below the stack.
 */
KTEST(boot, boot_thread_overflow_hits_its_guard_page)
{
	struct thread *td = curthread;
	uint64_t base = (uint64_t)td->td_kstack, rsp;
	struct panic_catch pc;

	__asm__ volatile("mov %%rsp, %0" : "=r"(rsp));
	KT_ASSERT_STREQ(td->td_comm, "thread0");
	KT_ASSERT_TRUE(rsp > base && rsp <= base + td->td_kstack_size);
	KT_ASSERT_EQ(pmap_kextract(base - 1), (vm_paddr_t)-1);
	KT_CATCH_PANIC(&pc, recurse_deep(0));
	KT_ASSERT_TRUE(pc.caught);
	KT_EXPECT_SUBSTR(pc.msg, "kernel stack overflow in thread thread0");
	KT_EXPECT_SUBSTR(pc.msg, "#DF");
	ktest_diag("panic: %s", pc.msg);
}

/* QEMU's -m, through fw_cfg, or a skip on a machine that is not QEMU. */
static uint64_t qemu_ram_or_skip(void)
{
	if (!fw_cfg_present())
		KT_SKIP("no QEMU fw_cfg device to say what -m was");
	return fw_cfg_ram_size();
}

KTEST(boot, grub_gave_a_memory_map_and_its_name)
{
	KT_EXPECT_TRUE(boot_info.error == NULL);
	KT_EXPECT_GT(boot_info.mmap_count, 0);
	KT_EXPECT_SUBSTR(boot_info.loader_name, "GRUB");
	KT_EXPECT_NE(boot_info.info_phys, 0);
}

/*
 * The usable RAM in GRUB's memory map is what QEMU was given with -m,
 * less what the firmware keeps: the 384 KiB between 640 KiB and 1 MiB,
 * the ACPI tables and the BIOS's own data at the top of RAM: about 520
 * KiB under QEMU 7.2 with SeaBIOS, so a 1 MiB margin leaves room and still
 * notices a lost region of more than half a MiB.
 */
KTEST(boot, memory_map_matches_qemus_ram_size)
{
	uint64_t ram = qemu_ram_or_skip();
	uint64_t usable = boot_usable_memory(&boot_info);

	ktest_diag("QEMU -m %lu KiB, usable %lu KiB", ram >> 10, usable >> 10);
	KT_EXPECT_LE(usable, ram);
	KT_EXPECT_GT(usable, ram - (1UL << 20));
}

KTEST(boot, command_line_reached_the_kernel)
{
	char sel[64];

	KT_EXPECT_TRUE(cmdline_get("ktest", sel, sizeof(sel)));
	KT_EXPECT_SUBSTR(cmdline_string(), "ktest=");
}

KTEST(boot, direct_map_shows_the_same_bytes_as_the_image)
{
	const volatile uint64_t *via_image = (const uint64_t *)&boot_info;
	const volatile uint64_t *via_dmap =
		PHYS_TO_DMAP(KVA_TO_PHYS((uint64_t)&boot_info));

	KT_EXPECT_EQ(*via_image, *via_dmap);
}

/* QEMU's -smp, through fw_cfg, or a skip on a machine that is not QEMU. */
static int qemu_cpus_or_skip(void)
{
	if (!fw_cfg_present())
		KT_SKIP("no QEMU fw_cfg device to say what -smp was");
	return fw_cfg_cpu_count();
}

/*
 * The MADT lists exactly the CPUs QEMU was started with.  Without a MADT
 * QEMU must really have given no ACPI tables (no "etc/table-loader" in
 * fw_cfg, as with -machine acpi=off): ACPI tables that exist but were
 * not found would be a bug, not a machine without ACPI.
 */
KTEST(acpi, madt_lists_the_cpus_qemu_was_given)
{
	const struct acpi_sdt_header *madt = acpi_find_table("APIC");
	int qemu_cpus = qemu_cpus_or_skip();

	if (madt == NULL) {
		KT_EXPECT_FALSE(fw_cfg_has_file("etc/table-loader"));
		KT_EXPECT_EQ(acpi_cpu_count(), 1);
		return;
	}
	KT_EXPECT_TRUE(acpi_checksum_ok(madt, madt->length));
	KT_EXPECT_EQ(acpi_cpu_count(), qemu_cpus);
}

/*
 * Every CPU QEMU started is running -- or, with no ACPI to list the
 * others, just the boot CPU.
 */
KTEST(boot, every_cpu_qemu_started_is_running)
{
	int qemu_cpus = qemu_cpus_or_skip();

	if (acpi_find_table("APIC") == NULL)
		KT_EXPECT_EQ(ncpus, 1);
	else
		KT_EXPECT_EQ(ncpus, qemu_cpus);
}

KTEST(acpi, checksum_rejects_a_flipped_byte)
{
	uint8_t table[64];
	uint8_t sum = 0;

	for (int i = 0; i < 63; i++) {
		table[i] = (uint8_t)(i * 7 + 3);
		sum += table[i];
	}
	table[63] = (uint8_t)-sum;
	KT_EXPECT_TRUE(acpi_checksum_ok(table, sizeof(table)));
	table[10] ^= 0x40;
	KT_EXPECT_FALSE(acpi_checksum_ok(table, sizeof(table)));
	KT_EXPECT_TRUE(acpi_find_table("NONE") == NULL);
}
