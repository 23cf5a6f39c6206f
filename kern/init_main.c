/*
 * init_main.c - kmain(), the first C code, and the order of boot.
 *
 * boot/entry.S arrives here on the boot CPU in 64-bit mode, on the boot
 * stack, with the early page tables (identity + direct map of 4 GiB, and
 * the kernel image at KERNBASE) and interrupts off.  kmain brings up the
 * machine one layer at a time, each step relying only on the ones before:
 *
 *   console        so that everything after can explain itself
 *   GDT, TSS, IDT  so that a fault prints a report instead of rebooting
 *   boot info      memory map, command line, ACPI RSDP from GRUB
 *   ACPI           which tables exist, how many CPUs, NUMA domains
 *   memory         physical pages, kernel page tables (W^X), kmalloc
 *   thread0 stack  off the boot stack, onto a kernel stack with a guard
 *   SMP            APICs, the clock, the other CPUs
 *   devices        wall clock, PCI and drivers, the root filesystem
 *   then: the tests or benchmarks the command line asks for, or the shell.
 */
#include <kern/types.h>
#include <kern/cmdline.h>
#include <kern/console.h>
#include <kern/device.h>
#include <kern/globaldata.h>
#include <kern/kbench.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/panic.h>
#include <kern/shell.h>
#include <kern/trap.h>
#include <boot/multiboot2.h>
#include <drivers/acpi.h>
#include <drivers/pci.h>
#include <drivers/rtc.h>
#include <fs/vfs.h>
#include <net/net.h>
#include <machine/gdt.h>
#include <machine/smp.h>
#include <kern/thread.h>
#include <kern/tty.h>
#include <machine/vmparam.h>
#include <kern/malloc.h>
#include <vm/pmap.h>
#include <vm/vm_kern.h>
#include <vm/vm_page.h>

#define SELECTION_MAX 256

struct boot_info boot_info;

void kmain(uint64_t mbi_phys, uint32_t magic);

/* Read GRUB's boot information; complain clearly if it is not usable. */
static void read_boot_info(uint64_t mbi_phys, uint32_t magic)
{
	if (magic != MB2_BOOTLOADER_MAGIC)
		panic("kmain: boot magic %#x is not Multiboot2's %#x; the "
		      "kernel must be started by GRUB's multiboot2 command",
		      magic, MB2_BOOTLOADER_MAGIC);
	if (mbi_phys == 0 || mbi_phys + 16 > BOOT_DMAP_SIZE) {
		kprintf("boot: boot information at %#lx is outside the early "
			"direct map; booting without it\n", mbi_phys);
		mb2_parse(NULL, 0, &boot_info);
		return;
	}
	if (mb2_parse(PHYS_TO_DMAP(mbi_phys), mbi_phys, &boot_info) != 0)
		kprintf("boot: boot information is malformed (%s); using what "
			"came before the problem\n", boot_info.error);
	if (boot_info.mmap_count == 0)
		kprintf("boot: no memory map from the boot loader\n");
}

static void print_banner(void)
{
	uint64_t mem = boot_usable_memory(&boot_info);
	int ncpu = acpi_cpu_count();

	/* Which of the two kernels this is (kern/panic.h, INVARIANT). */
	kprintf("Damselfly %s (%s): %d CPU%s, %lu MiB RAM, booted by %s\n",
		DAMSELFLY_VERSION, INVARIANTS_ON ? "checked" : "production",
		ncpu, ncpu == 1 ? "" : "s", mem >> 20, boot_info.loader_name);
	kprintf("command line: \"%s\"\n", cmdline_string());
}

/* Run what the command line asks for: tests, benchmarks or the shell. */
static void __noreturn run_selected(void)
{
	char sel[SELECTION_MAX];

	if (cmdline_get("ktest", sel, sizeof(sel)))
		ktest_run(sel);
	if (cmdline_get("kbench", sel, sizeof(sel)))
		kbench_run(sel);
	user_run_init();
	shell_run();
}

/*
 * The boot thread (thread0) runs the shell and every test and benchmark
 * body, so it gets a real kernel stack, with the unmapped guard page
 * below it that every other thread's stack has (vm_kstack_alloc).  The
 * 16 KiB boot stack in .bss that entry.S started on has nothing below
 * it but other .bss data: an overflow there corrupts silently, while an
 * overflow into a guard page faults at once and the fault report names
 * the thread (a #DF on its own IST stack, since the #PF cannot be pushed
 * on a stack that is full; see trap_fatal and pmap_fault_cause).  Twice
 * an ordinary thread's size: the tests and the shell nest deeper than a
 * service thread does.
 */
#define THREAD0_STACK_SIZE (2 * LWKT_STACK_SIZE)

static void __noreturn kmain_on_thread0_stack(void);

/*
 * Move thread0 onto its own kernel stack and continue boot there.  The
 * frames on the boot stack (kmain's) are abandoned, never returned to:
 * nothing on them is referenced after the switch.  RBP starts at 0 on
 * the new stack, ending backtraces there as entry.S does.  Boot CPU,
 * once, after kmalloc_init() (stacks come from the kernel's virtual
 * address space and the page allocator).
 */
static void __noreturn switch_to_thread0_stack(void)
{
	struct thread *td = curthread;
	char *stack = vm_kstack_alloc(THREAD0_STACK_SIZE, "thread0");

	if (stack == NULL)
		panic("boot: no memory for thread0's %d KiB kernel stack, "
		      "right after kmalloc_init(); the machine has too little "
		      "RAM to boot", THREAD0_STACK_SIZE / 1024);
	td->td_kstack = stack;
	td->td_kstack_size = THREAD0_STACK_SIZE;
	/* The top is page aligned, so the call leaves RSP 16-byte aligned
	 * minus the return address, as the ABI wants at function entry. */
	__asm__ volatile("movq %0, %%rsp\n\t"
			 "xorl %%ebp, %%ebp\n\t"
			 "callq *%1\n\t"
			 "ud2"
			 :
			 : "r"(stack + THREAD0_STACK_SIZE),
			   "r"(kmain_on_thread0_stack)
			 : "memory");
	__builtin_unreachable();
}

/* The rest of boot, on thread0's guarded stack. */
static void __noreturn kmain_on_thread0_stack(void)
{
	lwkt_init_bsp();	/* CPU 0's idle thread */
	mp_init();		/* APICs, clock, then the other CPUs */
	rtc_init();		/* the wall clock */
	pci_init();		/* devices, and their drivers */
	memio_init();		/* /dev/null, zero, mem, console, tty */
	vfs_init();		/* the root filesystem */
	net_init();		/* protocol threads, addresses */
	tty_init();		/* the console's ttywatch thread */
	print_banner();
	run_selected();
}

void kmain(uint64_t mbi_phys, uint32_t magic)
{
	lwkt_init_thread0();	/* GS base: mycpu, curthread from here on */
	cons_init();
	kprintf("\nDamselfly: console up\n");
	gdt_init_cpu(0);
	idt_init();
	read_boot_info(mbi_phys, magic);
	cmdline_init(boot_info.cmdline);
	ktest_boot_hooks();
	acpi_init(boot_info.rsdp, boot_info.rsdp_version);
	vm_page_init();
	pmap_init();
	kmalloc_init();
	switch_to_thread0_stack();	/* and on in kmain_on_thread0_stack */
}
