/*
 * kern_shell.c - a tiny command shell on the serial console.
 *
 * What `make run` lands in when no tests were asked for.  It reads a line
 * by polling the UART (sleeping a tick between polls), splits off the
 * first word and looks it up in its tables of commands (kern/shell.h).
 * Each command is a small function; adding one is adding a row.
 *
 *   shell_run (the boot thread, for as long as the machine is up)
 *     loop: shell_step
 *             "damselfly> "
 *             read_line    uart_getc until CR/LF; none: tsleep 1 tick
 *             execute      "ping 10.0.2.2 3" -> name "ping", args "10.0.2.2 3"
 *                          shell_tables in order: commands (here),
 *                          fs_shell_commands, user_shell_commands;
 *                          the first row whose name matches runs
 *
 * A command runs in the shell's thread and may block (ping waits for
 * replies, `run` for its program); the next prompt comes when it
 * returns.  The shell keeps no state between lines: the line is on the
 * stack and the tables are constant, so it needs no lock.  Its output
 * goes through kprintf, which serialises against other CPUs' lines.
 */
#include <kern/types.h>
#include <kern/cmdline.h>
#include <kern/kernel.h>
#include <kern/kprintf.h>
#include <kern/ktest.h>
#include <kern/kbench.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/shell.h>
#include <kern/uport.h>
#include <kern/shutdown.h>
#include <kern/synch.h>
#include <drivers/acpi.h>
#include <drivers/pci.h>
#include <kern/malloc.h>
#include <vm/pmap.h>
#include <vm/vm_page.h>
#include <vm/vm_map.h>
#include <drivers/uart16550.h>
#include <net/net.h>
#include <machine/cpufunc.h>

#define LINE_MAX	128	/* a longer line is cut (read_line) */
/* The PC/AT's 8042 keyboard controller: command 0xFE on its command
 * port pulses output port bit 0, which is wired to the CPU's reset. */
#define KBD_CTRL	0x64	/* 8042 keyboard controller command port */
#define KBD_RESET	0xfe	/* pulse the CPU reset line */

static const struct shell_cmd commands[];

/* Every table the shell searches, in order (kern/shell.h). */
static const struct shell_cmd *const shell_tables[] = {
	commands, fs_shell_commands, user_shell_commands,
};

static void cmd_help(const char *args __unused);

/* Each command gets the rest of the line after its name ("" if none),
 * runs in the shell's thread and may block; what it prints is its
 * answer, two spaces in, so it stands apart from the prompt. */

/* The memory map GRUB gave, one line per range. */
static void cmd_mem(const char *args __unused)
{
	static const char *const types[] = { "?", "available", "reserved",
					     "ACPI reclaimable", "ACPI NVS",
					     "bad" };

	for (int i = 0; i < boot_mmap_count(&boot_info); i++) {
		struct boot_mmap_entry e = boot_mmap_get(&boot_info, i);

		kprintf("  %#014lx-%#014lx %s\n", e.base,
			e.base + e.length - 1,
			e.type < nitems(types) ? types[e.type] : "?");
	}
	kprintf("  usable: %lu MiB\n", boot_usable_memory(&boot_info) >> 20);
}

/* Memory counters: pages by state, domain and CPU; kmalloc by type. */
static void cmd_vmstat(const char *args __unused)
{
	struct kmalloc_stats ks;
	struct pmap_stats ps;

	vm_page_print_stats();
	pmap_get_stats(&ps);
	kprintf("  pmap: %lu page-table pages, %lu kenter, %lu kremove, "
		"%lu invalidations (%lu shootdowns)\n", ps.pt_pages,
		ps.kenters, ps.kremoves, ps.invalidations, ps.shootdowns);
	vm_user_print_stats();
	uport_print_stats();
	kmalloc_get_stats(&ks);
	kprintf("  kmalloc: %lu zones (%lu empty, kept), %lu large, %lu "
		"remote frees\n", ks.zones, ks.free_zones, ks.large_allocs,
		ks.remote_frees);
	kmalloc_print_types("  ", false);
}

/* Every PCI function found at boot, as pci_init printed it. */
static void cmd_pci(const char *args __unused)
{
	kprintf("  config space through %s\n", pci_access_method());
	pci_print_all();
}

/* CPUs as ACPI lists them (the MADT), which is how many boot. */
static void cmd_cpus(const char *args __unused)
{
	kprintf("  %d CPU(s) listed by ACPI\n", acpi_cpu_count());
}

/* The command line GRUB passed (CMDLINE= on make run). */
static void cmd_cmdline(const char *args __unused)
{
	kprintf("  \"%s\"\n", cmdline_string());
}

/* Runs the harness in place; QEMU exits at the end if it has the
 * isa-debug-exit device (make run adds it), else the CPU halts. */
static void cmd_ktest(const char *args)
{
	ktest_run(*args != '\0' ? args : "all");
}

/* Benchmarks print cost per operation in TSC ticks here; they are
 * instruction counts only under make bench's -icount. */
static void cmd_kbench(const char *args)
{
	kbench_run(*args != '\0' ? args : "all");
}

/* A panic on purpose: shows the message, the backtrace and the halt. */
static void cmd_panic(const char *args)
{
	panic("shell: panic requested from the console (%s)",
	      *args != '\0' ? args : "no reason given");
}

/* The 8042 keyboard controller can pulse the CPU's reset line: the
 * classic PC reboot, which QEMU implements. */
static void cmd_reboot(const char *args __unused)
{
	shutdown_run();
	outb(KBD_CTRL, KBD_RESET);
	for (;;)
		cpu_halt();
}

/* An orderly stop: the shutdown hooks, then QEMU's exit device (make run
 * gives the machine one) or, without it, a halted CPU. */
static void cmd_halt(const char *args __unused)
{
	shutdown_run();
	kprintf("  halted\n");
	ktest_exit_qemu(true);
}

/* The table the shell looks commands up in; ends with a NULL name. */
static const struct shell_cmd commands[] = {
	{ "help", "list the commands", cmd_help },
	{ "mem", "show the boot memory map", cmd_mem },
	{ "cpus", "how many CPUs the machine has", cmd_cpus },
	{ "pci", "PCI devices: address, ids, class, BARs, driver", cmd_pci },
	{ "vmstat", "memory: pages, domains, page tables, kmalloc types",
	  cmd_vmstat },
	{ "cmdline", "show the kernel command line", cmd_cmdline },
	{ "ifconfig", "ifconfig [NAME A.B.C.D/len [GW]]: interfaces",
	  net_cmd_ifconfig },
	{ "arp", "the ARP table", net_cmd_arp },
	{ "netstat", "netisr work per CPU and the stack's counters",
	  net_cmd_netstat },
	{ "ping", "ping A.B.C.D [COUNT]: ICMP echo", net_cmd_ping },
	{ "ktest", "ktest [spec]: run in-kernel tests (then exit)", cmd_ktest },
	{ "kbench", "kbench [names]: run benchmarks (then exit)", cmd_kbench },
	{ "panic", "panic [why]: see what a panic looks like", cmd_panic },
	{ "reboot", "commit the filesystems, reset the machine", cmd_reboot },
	{ "halt", "commit the filesystems, leave QEMU", cmd_halt },
	{ NULL, NULL, NULL },
};

/* Every command with its help line, in table order. */
static void cmd_help(const char *args __unused)
{
	for (size_t t = 0; t < nitems(shell_tables); t++)
		for (const struct shell_cmd *c = shell_tables[t]; c->name;
		     c++)
			kprintf("  %-8s %s\n", c->name, c->help);
	kprintf("  (leave QEMU with Ctrl-A then X)\n");
}

/*
 * Read one line with echo and backspace into buf (size bytes, NUL
 * ended; what does not fit is dropped, unechoed, until the Enter);
 * returns its length.  Only printable ASCII is kept.  Polls the
 * UART: the shell is all this CPU does, so there is nothing better to
 * spend the time on.  Terminals send CR for Enter and DEL (0x7f) for
 * backspace; "\b \b" erases the character on screen.
 */
static size_t read_line(char *buf, size_t size)
{
	size_t len = 0;

	for (;;) {
		int c = uart_getc();

		if (c < 0) {
			/* Nothing typed: let this CPU's other threads (the
			 * filesystem flusher, say) run for a tick. */
			tsleep(&read_line, 0, "uart", 1);
			continue;
		}
		if (c == '\r' || c == '\n') {
			kprintf("\n");
			buf[len] = '\0';
			return len;
		}
		if ((c == 0x7f || c == '\b') && len > 0) {
			len--;
			kprintf("\b \b");
		} else if (c >= ' ' && c < 0x7f && len + 1 < size) {
			buf[len++] = (char)c;
			kprintf("%c", c);
		}
	}
}

/* Split the first word off the line and run the command it names. */
static void execute(char *line)
{
	char *args = strchr(line, ' ');

	if (args != NULL)
		*args++ = '\0';
	else
		args = line + strlen(line);
	if (*line == '\0')
		return;
	for (size_t t = 0; t < nitems(shell_tables); t++)
		for (const struct shell_cmd *c = shell_tables[t]; c->name;
		     c++)
			if (strcmp(c->name, line) == 0) {
				c->fn(args);
				return;
			}
	kprintf("  unknown command \"%s\"; try help\n", line);
}

/*
 * One round of the shell: the prompt, a line read from the console, the
 * command it names.  Blocks until a line comes.  Called by the thread
 * that owns the console input (the boot thread); tests call it too, to
 * run a command a host types on the serial port.  Thread context, no
 * critical section (it sleeps between polls); no locks held.
 */
void shell_step(void)
{
	char line[LINE_MAX];

	KASSERT(!crit_held(), "shell_step in a critical section: it sleeps "
		"a tick at a time while it waits for the console");
	kprintf("damselfly> ");
	read_line(line, sizeof(line));
	execute(line);
}

/* The shell runs in the boot thread for as long as the machine is up:
 * init_main's last act, after the init= program (if any) has ended.
 * Never returns. */
void shell_run(void)
{
	kprintf("Type help for commands. Leave QEMU with Ctrl-A then X.\n");
	for (;;)
		shell_step();
}
