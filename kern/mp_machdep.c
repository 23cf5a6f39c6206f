/*
 * mp_machdep.c - bring up the interrupt hardware and the other CPUs.
 *
 * The boot CPU, in mp_init():
 *   1. its local APIC (x2APIC mode if available), the MADT, the legacy
 *      8259 PIC moved and masked, every IOAPIC input masked;
 *   2. the IPIQ vector, the clock (TSC and APIC timer calibrated) and its
 *      own tick, its callout thread, and the test interrupt thread;
 *   3. each other CPU in the MADT, one at a time:
 *        - set up its globaldata and idle thread (whose stack the CPU
 *          will boot on),
 *        - copy the trampoline below 1 MiB and fill in its data block,
 *        - INIT-SIPI-SIPI, and wait for the CPU to say it is up.
 *
 * Each application processor then runs ap_main(): GS base, GDT/TSS, IDT,
 * local APIC, tick, callout thread, one line on the console, and its idle
 * loop -- from then on it is an ordinary LWKT CPU that only ever runs its
 * own threads.
 *
 * The trampoline's page tables map the first GiB twice (identity, so the
 * code at AP_TRAMPOLINE_PHYS keeps running when paging turns on; and at
 * KERNBASE, so it can jump into the kernel image) with 2 MiB pages:
 *
 *   ap_pml4[0]   -> ap_pdpt_lo[0]   -> ap_pd: 512 x 2 MiB = phys 0..1 GiB
 *   ap_pml4[511] -> ap_pdpt_hi[510] -> ap_pd
 */
#include <kern/types.h>
#include <kern/clock.h>
#include <kern/critical.h>
#include <kern/globaldata.h>
#include <kern/intr.h>
#include <kern/ipiq.h>
#include <kern/kprintf.h>
#include <kern/libkern.h>
#include <kern/panic.h>
#include <kern/thread.h>
#include <kern/timeout.h>
#include <kern/trap.h>
#include <drivers/acpi.h>
#include <machine/apic.h>
#include <machine/cpufunc.h>
#include <machine/gdt.h>
#include <machine/smp.h>
#include <machine/vmparam.h>
#include <vm/pmap.h>

/*
 * Page-table entry bits (SDM 3A, 4.5): present, writable, and PS, which
 * in a page-directory entry maps a 2 MiB page directly.  EFER (MSR
 * 0xC0000080): LME turns on long mode, NXE makes bit 63 of an entry the
 * no-execute bit instead of a reserved one.
 */
#define PTE_P		0x001
#define PTE_W		0x002
#define PTE_PS		0x080
#define EFER_LME	(1UL << 8)
#define EFER_NXE	(1UL << 11)
#define MSR_EFER	0xc0000080
#define AP_START_TIMEOUT_US 2000000	/* TCG at -smp 8 can be slow */

/*
 * Labels in boot/ap_trampoline.S: its start and end, the data block
 * we fill in per AP, and where it jumps once in 64-bit mode.  The
 * control registers are what ap_entry64 loads to match this CPU.
 */
extern char ap_trampoline[], ap_trampoline_end[];
extern char tramp_pml4[], tramp_efer[], tramp_stack[], tramp_gd[],
	tramp_entry[];
extern char ap_entry64[];
uint64_t ap_boot_cr0, ap_boot_cr3, ap_boot_cr4;

/* The trampoline's page tables (drawn above); page aligned for CR3. */
static uint64_t ap_pml4[512] __aligned(4096);
static uint64_t ap_pdpt_lo[512] __aligned(4096);
static uint64_t ap_pdpt_hi[512] __aligned(4096);
static uint64_t ap_pd[512] __aligned(4096);
static volatile int ap_started;		/* cpu id of the last AP up */

void ap_main(struct globaldata *gd) __noreturn;

/*
 * KERNBASE is 0xffffffff80000000: PML4 slot 511, PDPT slot 510.  The
 * low PDPT's slot 0 maps the same page directory at address 0.
 */
static void build_trampoline_tables(void)
{
	for (int i = 0; i < 512; i++)
		ap_pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_W | PTE_PS;
	ap_pdpt_lo[0] = KVA_TO_PHYS(ap_pd) | PTE_P | PTE_W;
	ap_pdpt_hi[510] = KVA_TO_PHYS(ap_pd) | PTE_P | PTE_W;
	ap_pml4[0] = KVA_TO_PHYS(ap_pdpt_lo) | PTE_P | PTE_W;
	ap_pml4[511] = KVA_TO_PHYS(ap_pdpt_hi) | PTE_P | PTE_W;
}

/*
 * The AP runs the copy below 1 MiB, not the original in the kernel
 * image, so values go into the copy at the label's offset.
 */
/* Write a 64-bit value into the trampoline's copy at its label. */
static void tramp_set(char *label, uint64_t value)
{
	char *copy = PHYS_TO_DMAP(AP_TRAMPOLINE_PHYS);

	memcpy(copy + (label - ap_trampoline), &value, sizeof(value));
}

/*
 * Copy the trampoline to AP_TRAMPOLINE_PHYS (a SIPI can only start a
 * CPU in the first MiB, at a page boundary) and fill in what every AP
 * shares.  NXE is copied from this CPU because the kernel's page tables
 * set the NX bit, which faults as a reserved bit while NXE is off.
 * Boot CPU, once, before the first start_ap().
 */
static void install_trampoline(void)
{
	size_t size = ap_trampoline_end - ap_trampoline;

	KASSERT(size <= PAGE_SIZE, "AP trampoline is %zu bytes", size);
	memcpy(PHYS_TO_DMAP(AP_TRAMPOLINE_PHYS), ap_trampoline, size);
	build_trampoline_tables();
	tramp_set(tramp_pml4, KVA_TO_PHYS(ap_pml4));
	tramp_set(tramp_efer, EFER_LME | (rdmsr(MSR_EFER) & EFER_NXE));
	tramp_set(tramp_entry, (uint64_t)ap_entry64);
	ap_boot_cr0 = rcr0();
	ap_boot_cr3 = rcr3();
	ap_boot_cr4 = rcr4();
}

/*
 * Boot CPU, one AP at a time: the trampoline's data block is shared.
 * Polls, never sleeps; gives up after AP_START_TIMEOUT_US.
 */
/* Start CPU cpu; true once it has said it is up. */
static bool start_ap(int cpu)
{
	struct globaldata *gd = globaldata_find(cpu);
	struct thread *idle;

	memset(gd, 0, sizeof(*gd));
	mi_gdinit(gd, cpu);
	gd->gd_apic_id = madt.apic_ids[cpu];
	idle = lwkt_alloc_idlethread(gd);
	/* The AP boots on its idle thread's stack; -16 keeps the 16-byte
	 * alignment the ABI expects at a call. */
	tramp_set(tramp_stack, (uint64_t)idle->td_kstack +
				       idle->td_kstack_size - 16);
	tramp_set(tramp_gd, (uint64_t)gd);
	/* Count the AP before it runs: its own setup creates threads on
	 * its cpu id, and lwkt_create() checks ids against ncpus. */
	ncpus = cpu + 1;
	lapic_start_ap(gd->gd_apic_id, AP_TRAMPOLINE_PHYS >> 12);
	for (int us = 0; us < AP_START_TIMEOUT_US && ap_started != cpu;
	     us += 100)
		DELAY(100);
	if (ap_started == cpu)
		return true;
	/* CPU ids must stay dense, so a failure ends the bring-up. */
	ncpus = cpu;
	kprintf("cpu%d: APIC id %u did not start; continuing with %d CPU%s\n",
		cpu, gd->gd_apic_id, cpu, cpu == 1 ? "" : "s");
	return false;
}

/* Runs on the CPU being set up, interrupts on, its idle thread. */
/* Per-CPU pieces every CPU sets up for itself. */
static void cpu_common_init(struct globaldata *gd)
{
	clock_start_cpu();
	softclock_init_cpu();
	kprintf("cpu%d: APIC id %u online (%s), idle thread \"%s\"\n",
		gd->gd_cpuid, gd->gd_apic_id,
		lapic_is_x2apic() ? "x2APIC" : "xAPIC",
		gd->gd_idlethread->td_comm);
}

/*
 * First C code of an AP, on its idle thread's stack, interrupts off.
 * The order matters: GS base first, since mycpu and curthread read
 * through it; descriptor tables and the APIC before interrupts are
 * enabled; the bit in smp_active_mask before anyone may IPI us; and
 * ap_started last, a sequentially consistent store, so the boot CPU
 * sees every earlier write once it sees the id.
 */
void ap_main(struct globaldata *gd)
{
	struct thread *td = gd->gd_idlethread;

	wrmsr(MSR_GS_BASE, (uint64_t)gd);
	gd->gd_curthread = td;
	td->td_flags |= TDF_RUNNING;
	td->td_oncpu = gd->gd_cpuid;
	gdt_init_cpu(gd->gd_cpuid);
	idt_load();
	lapic_init();
	gd->gd_online = true;
	__atomic_or_fetch(&smp_active_mask, gd->gd_cpumask, __ATOMIC_SEQ_CST);
	cpu_enable_intr();
	cpu_common_init(gd);
	__atomic_store_n(&ap_started, gd->gd_cpuid, __ATOMIC_SEQ_CST);
	crit_exit_quick(td);		/* every thread starts in one */
	lwkt_idle_loop();
}

/* Vector INTR_VECTOR_TEST's handler calls this hook (tests set it). */
void (*volatile intr_test_hook)(void *arg);

/* Runs in the "test" interrupt thread; a no-op until a test hooks it. */
static void intr_test_handler(void *arg)
{
	if (intr_test_hook != NULL)
		intr_test_hook(arg);
}

/*
 * The panic path's way to halt the other CPUs: an NMI reaches them even
 * with interrupts off or inside a critical section.
 */
static void mp_stop_nmi(void)
{
	if (ncpus > 1)
		lapic_send_nmi_others();
}

/*
 * Boot CPU, once, interrupts off on entry and on on return.  Each step
 * needs the one before: the MADT lookup asks lapic_id(), IOAPIC setup
 * needs the MADT, the clock calibrates the APIC timer, and the APs need
 * the IPIQ rings and a running clock on the boot CPU.
 */
void mp_init(void)
{
	struct globaldata *gd = mycpu;

	lapic_init();
	madt_init();
	gd->gd_apic_id = lapic_id();
	pic8259_disable();
	ioapic_init();
	lwkt_ipiq_init();
	clock_init();
	/*
	 * Program the APIC again after the timer calibration: under QEMU TCG
	 * the one-shot calibration run leaves the APIC in a state that
	 * delivers a bogus interrupt at the first STI (observed, vector -1
	 * reported as #GP); a fresh setup with an EOI clears it.
	 */
	lapic_init();
	cpu_enable_intr();
	cpu_common_init(gd);
	register_int(INTR_VECTOR_TEST, intr_test_handler, NULL, "test", 0);
	panic_stop_cpus_hook = mp_stop_nmi;
	if (madt.ncpus > 1)
		install_trampoline();
	for (int cpu = 1; cpu < madt.ncpus; cpu++)
		if (!start_ap(cpu))
			break;
	kprintf("smp: %d of %d CPU%s running%s\n", ncpus, madt.ncpus,
		madt.ncpus == 1 ? "" : "s",
		acpi_find_table("APIC") == NULL ?
		    " (no ACPI MADT lists any other CPU)" : "");
}
