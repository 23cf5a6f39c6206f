/*
 * lapic.c - the local APIC: interrupts in, IPIs out, and the timer.
 *
 * Each CPU has its own local APIC (SDM vol. 3A, chapter 11).  It can be
 * driven two ways:
 *   - xAPIC: registers are 4 KiB of MMIO at the address in the
 *     IA32_APIC_BASE MSR (0x1B), each 32-bit register 16 bytes apart;
 *   - x2APIC (SDM 3A, 11.12): the same registers as MSRs 0x800 + offset/16,
 *     32-bit APIC ids, and the interrupt command register (ICR) as one
 *     64-bit MSR write -- no MMIO and no "wait for delivery" loop.
 * We use x2APIC when CPUID.01H:ECX[21] says the CPU has it.
 *
 * The register file (offsets for xAPIC; x2APIC MSR = 0x800 + off >> 4):
 *
 *   0x020 ID        0x0b0 EOI        0x0f0 SVR (enable + spurious vector)
 *   0x280 ESR       0x300 ICR low    0x310 ICR high (xAPIC destination)
 *   0x320 LVT timer 0x350 LVT LINT0  0x360 LVT LINT1  0x370 LVT error
 *   0x380 timer initial count  0x390 timer current count  0x3e0 divide
 *
 * The timer is calibrated once, on the boot CPU, against the TSC (itself
 * calibrated against the PIT, drivers/i8254.c): run it one-shot from a
 * large count for 10 ms of TSC time and see how far it counted.
 */
#include <kern/types.h>
#include <kern/intr.h>
#include <kern/kprintf.h>
#include <kern/panic.h>
#include <kern/trap.h>
#include <machine/apic.h>
#include <machine/cpufunc.h>
#include <machine/vmparam.h>
#include <vm/vm_kern.h>

#define MSR_APIC_BASE		0x1b
#define APIC_BASE_ENABLE	(1UL << 11)	/* xAPIC global enable */
#define APIC_BASE_X2APIC	(1UL << 10)	/* x2APIC mode */
#define APIC_BASE_ADDR_MASK	0xffffff000UL
#define MSR_X2APIC_BASE		0x800
#define CPUID_1_ECX_X2APIC	(1U << 21)

#define LAPIC_ID	0x020
#define LAPIC_EOI	0x0b0
#define LAPIC_SVR	0x0f0
#define LAPIC_ESR	0x280
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310
#define LAPIC_LVT_TIMER	0x320
#define LAPIC_LVT_LINT0	0x350
#define LAPIC_LVT_LINT1	0x360
#define LAPIC_LVT_ERROR	0x370
#define LAPIC_TIMER_ICR	0x380
#define LAPIC_TIMER_CCR	0x390
#define LAPIC_TIMER_DCR	0x3e0

#define SVR_ENABLE	0x100		/* APIC software enable */
#define LVT_MASKED	0x10000
#define LVT_PERIODIC	0x20000
#define TIMER_DIV_16	0x3		/* divide configuration: by 16 */
#define ICR_INIT	0x500		/* delivery mode INIT */
#define ICR_STARTUP	0x600		/* delivery mode start-up (SIPI) */
#define ICR_NMI		0x400
#define ICR_ASSERT	0x4000
#define ICR_LEVEL	0x8000
#define ICR_PENDING	0x1000		/* xAPIC delivery status */
#define ICR_SELF	0x40000		/* destination shorthand: self */
#define ICR_ALL_BUT_SELF 0xc0000	/* destination shorthand: all others */

#define CALIBRATE_MS	10

static volatile uint32_t *lapic_mmio;
static bool x2apic, mode_chosen;
static uint64_t timer_counts_per_sec;

static uint32_t lapic_read(unsigned reg)
{
	if (x2apic)
		return (uint32_t)rdmsr(MSR_X2APIC_BASE + (reg >> 4));
	return lapic_mmio[reg / 4];
}

static void lapic_write(unsigned reg, uint32_t val)
{
	if (x2apic)
		wrmsr(MSR_X2APIC_BASE + (reg >> 4), val);
	else
		lapic_mmio[reg / 4] = val;
}

bool lapic_is_x2apic(void)
{
	return x2apic;
}

uint32_t lapic_id(void)
{
	uint32_t id = lapic_read(LAPIC_ID);

	return x2apic ? id : id >> 24;	/* xAPIC: bits 31..24 */
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

static void lapic_spurious(struct trapframe *tf __unused)
{
	/* No EOI for a spurious interrupt (SDM vol. 3A, 11.9). */
}

static void lapic_error(struct trapframe *tf __unused)
{
	uint32_t esr;

	lapic_write(LAPIC_ESR, 0);	/* latch the error bits, then read */
	esr = lapic_read(LAPIC_ESR);
	lapic_eoi();
	kprintf("lapic: cpu APIC id %u reports error status %#x (SDM vol. 3A, "
		"11.5.3)\n", lapic_id(), esr);
}

static void lapic_timer_intr(struct trapframe *tf __unused)
{
	lapic_eoi();
	intr_hard_done(RQF_TIMER);
}

/* Choose the mode once, on the boot CPU. */
static void lapic_choose_mode(void)
{
	uint32_t r[4];
	uint64_t base = rdmsr(MSR_APIC_BASE);

	cpuid_count(1, 0, r);
	x2apic = (r[2] & CPUID_1_ECX_X2APIC) != 0;
	if (!x2apic)
		lapic_mmio = pmap_mapdev(base & APIC_BASE_ADDR_MASK, PAGE_SIZE);
	trap_set_handler(APIC_VECTOR_SPURIOUS, lapic_spurious);
	trap_set_handler(APIC_VECTOR_ERROR, lapic_error);
	trap_set_handler(INTR_VECTOR_TIMER, lapic_timer_intr);
}

void lapic_init(void)
{
	uint64_t base;

	if (!mode_chosen) {
		lapic_choose_mode();
		mode_chosen = true;
	}
	base = rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE;
	if (x2apic)
		base |= APIC_BASE_X2APIC;
	wrmsr(MSR_APIC_BASE, base);
	lapic_write(LAPIC_SVR, SVR_ENABLE | APIC_VECTOR_SPURIOUS);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | INTR_VECTOR_TIMER);
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
	lapic_write(LAPIC_LVT_LINT1, LVT_MASKED);
	lapic_write(LAPIC_LVT_ERROR, APIC_VECTOR_ERROR);
	lapic_write(LAPIC_ESR, 0);
	lapic_eoi();
}

/* Write the ICR: the destination and the command, in the right order. */
static void lapic_icr(uint32_t dest, uint32_t cmd)
{
	uint64_t rf = intr_disable();

	if (x2apic) {
		wrmsr(MSR_X2APIC_BASE + (LAPIC_ICR_LO >> 4),
		      (uint64_t)dest << 32 | cmd);
	} else {
		while (lapic_read(LAPIC_ICR_LO) & ICR_PENDING)
			cpu_pause();
		lapic_write(LAPIC_ICR_HI, dest << 24);
		lapic_write(LAPIC_ICR_LO, cmd);
	}
	intr_restore(rf);
}

void lapic_send_ipi(uint32_t dest, int vector)
{
	lapic_icr(dest, ICR_ASSERT | (uint32_t)vector);
}

void lapic_send_self(int vector)
{
	lapic_icr(0, ICR_SELF | ICR_ASSERT | (uint32_t)vector);
}

void lapic_send_nmi_others(void)
{
	lapic_icr(0, ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_NMI);
}

/* Busy-wait us microseconds on the TSC. */
void DELAY(uint64_t us);

/*
 * The universal start-up algorithm (SDM vol. 3A, 9.4.4.1 "Typical BSP
 * Initialization Sequence"; MP spec B.4): INIT, 10 ms, SIPI, 200 us,
 * SIPI.  The SIPI vector is the physical page the AP starts at in real
 * mode (CS = page << 8, IP = 0).
 */
void lapic_start_ap(uint32_t dest, int page)
{
	lapic_icr(dest, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	DELAY(10000);
	lapic_icr(dest, ICR_STARTUP | ICR_ASSERT | (uint32_t)page);
	DELAY(200);
	lapic_icr(dest, ICR_STARTUP | ICR_ASSERT | (uint32_t)page);
	DELAY(200);
}

void lapic_timer_calibrate(uint64_t tsc_hz)
{
	uint64_t t0, wait = tsc_hz * CALIBRATE_MS / 1000;
	uint32_t left;

	lapic_write(LAPIC_TIMER_DCR, TIMER_DIV_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | INTR_VECTOR_TIMER);
	lapic_write(LAPIC_TIMER_ICR, 0xffffffff);
	t0 = rdtsc();
	while (rdtsc() - t0 < wait)
		cpu_pause();
	left = lapic_read(LAPIC_TIMER_CCR);
	lapic_write(LAPIC_TIMER_ICR, 0);
	timer_counts_per_sec = (0xffffffffUL - left) * (1000 / CALIBRATE_MS);
	KASSERT(timer_counts_per_sec != 0, "the local APIC timer did not "
		"count during calibration; is the APIC enabled?");
}

uint64_t lapic_timer_hz(void)
{
	return timer_counts_per_sec;
}

void lapic_timer_start(int hz)
{
	lapic_write(LAPIC_TIMER_DCR, TIMER_DIV_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | INTR_VECTOR_TIMER);
	lapic_write(LAPIC_TIMER_ICR, (uint32_t)(timer_counts_per_sec / hz));
}
