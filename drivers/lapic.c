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

/*
 * IA32_APIC_BASE (SDM 3A, 11.4.4): bits 12 and up hold the physical page
 * of the xAPIC registers, bit 11 enables the APIC as a whole and bit 10
 * (EXTD) switches it to x2APIC mode (11.12.1).
 */
#define MSR_APIC_BASE		0x1b
#define APIC_BASE_ENABLE	(1UL << 11)	/* xAPIC global enable */
#define APIC_BASE_X2APIC	(1UL << 10)	/* x2APIC mode */
#define APIC_BASE_ADDR_MASK	0xffffff000UL
#define MSR_X2APIC_BASE		0x800
#define CPUID_1_ECX_X2APIC	(1U << 21)

/* Register offsets in the xAPIC page (SDM 3A, table 11-1). */
#define LAPIC_ID	0x020
#define LAPIC_EOI	0x0b0
#define LAPIC_SVR	0x0f0
#define LAPIC_ISR	0x100	/* 8 registers, 0x100..0x170: 32 vectors each */
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

/*
 * Bits inside those registers.  LVT entries (11.5.1): vector in 7..0,
 * bit 16 masks, bits 18..17 pick the timer mode (00 one-shot, 01
 * periodic).  ICR (11.6.1): vector in 7..0, delivery mode in 10..8, bit
 * 14 assert, bit 15 level trigger, bits 19..18 destination shorthand.
 */
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

/* Long enough that one tick of TSC error hardly matters, short at boot. */
#define CALIBRATE_MS	10

/*
 * Chosen once by the boot CPU before any AP starts, then read-only: every
 * CPU runs its APIC in the same mode, and all APIC timers tick at the
 * same rate, so one calibration serves them all.
 */
static volatile uint32_t *lapic_mmio;
static bool x2apic, mode_chosen;
static uint64_t timer_counts_per_sec;

/*
 * Read or write a register of this CPU's own local APIC, in whichever
 * mode we chose.  In x2APIC mode register offset off is MSR 0x800 +
 * off / 16 (SDM 3A, 11.12.1.2).  Any context; never blocks.
 */
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

/* True when the APICs run in x2APIC mode.  Valid after lapic_init(). */
bool lapic_is_x2apic(void)
{
	return x2apic;
}

/*
 * This CPU's APIC id (SDM 3A, 11.4.6): the number other CPUs and the
 * IOAPIC use to address it.  It is not the kernel's CPU number.
 */
uint32_t lapic_id(void)
{
	uint32_t id = lapic_read(LAPIC_ID);

	return x2apic ? id : id >> 24;	/* xAPIC: bits 31..24 */
}

/*
 * Signal end of interrupt (SDM 3A, 11.8.5): the write clears the highest
 * bit in the In-Service Register, letting interrupts of the same or lower
 * priority through again.  The value written must be 0.  Every handler
 * of a real (non-spurious) APIC interrupt calls this exactly once.
 */
void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

/*
 * Is vector in service on this CPU's APIC: delivered to the CPU and not
 * yet acknowledged with an EOI?  The In-Service Register is 256 bits in
 * eight 32-bit registers, 16 bytes apart (SDM 3A, 11.8.4, Figure 11-20).
 * Any context, this CPU; false before lapic_init() has chosen a mode.
 */
bool lapic_in_service(unsigned vector)
{
	KASSERT(vector < 256, "vector %u does not exist", vector);
	if (!mode_chosen)
		return false;
	return (lapic_read(LAPIC_ISR + 0x10 * (vector / 32)) >>
		(vector % 32)) & 1;
}

/*
 * Acknowledge vector if, and only if, the APIC has it in service.  An
 * EOI clears the highest-priority ISR bit, whatever vector that is, so
 * an EOI for an interrupt that never set one would acknowledge someone
 * else's.  While vector's handler runs with interrupts off, nothing of
 * higher priority can have been delivered after it, so its bit is the
 * highest one set and the EOI clears exactly it.  Returns whether it
 * sent the EOI.  Interrupts off, this CPU.
 */
bool lapic_eoi_if_in_service(unsigned vector)
{
	if (!lapic_in_service(vector))
		return false;
	lapic_eoi();
	return true;
}

static volatile uint64_t spurious_count;

/* Spurious-vector interrupts seen on all CPUs since boot. */
uint64_t lapic_spurious_count(void)
{
	return __atomic_load_n(&spurious_count, __ATOMIC_RELAXED);
}

/*
 * The APIC raises the spurious vector when an interrupt it was about to
 * deliver went away (its priority was raised past it, or it was masked)
 * in the meantime.  It sets no ISR bit for it, and the SDM (vol. 3A,
 * 11.9 "Spurious Interrupt") says its handler must not send an EOI:
 * that EOI would acknowledge a real interrupt still in service.  The
 * ISR check sends none for a true spurious interrupt, and still
 * acknowledges a fixed interrupt someone sent on this vector by mistake.
 */
static void lapic_spurious(struct trapframe *tf __unused)
{
	__atomic_add_fetch(&spurious_count, 1, __ATOMIC_RELAXED);
	lapic_eoi_if_in_service(APIC_VECTOR_SPURIOUS);
}

/*
 * The LVT error vector: the APIC saw a bad vector, an illegal register
 * access or a failed IPI.  The ESR only shows fresh bits after a write
 * (SDM 3A, 11.5.3), hence write-then-read.  Reported, not fatal.
 */
static void lapic_error(struct trapframe *tf __unused)
{
	uint32_t esr;

	lapic_write(LAPIC_ESR, 0);	/* latch the error bits, then read */
	esr = lapic_read(LAPIC_ESR);
	lapic_eoi();
	kprintf("lapic: cpu APIC id %u reports error status %#x (SDM vol. 3A, "
		"11.5.3)\n", lapic_id(), esr);
}

/*
 * The tick.  EOI comes first because intr_hard_done() may run the
 * clock work right here, and until the EOI the ISR bit would hold back
 * every interrupt of this priority class.
 */
static void lapic_timer_intr(struct trapframe *tf __unused)
{
	lapic_eoi();
	intr_hard_done(RQF_TIMER);
}

/*
 * Without x2APIC we must map the xAPIC page: the MSR gives its physical
 * address (normally 0xfee00000, SDM 3A, 11.4.1).  The handlers are set
 * here, once, because the vectors are the same on every CPU.
 */
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

/*
 * Turn on and reset this CPU's local APIC.  Called by each CPU for
 * itself, interrupts off; the boot CPU calls it first (and again after
 * clock calibration, see mp_init).  On return the APIC is software
 * enabled with our spurious vector (11.9), the timer and both LINT pins
 * are masked, errors are reported on APIC_VECTOR_ERROR, and any stale
 * in-service interrupt has been acknowledged.
 */
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
	/* Bit 8 of the SVR is the software enable; until it is set the
	 * APIC accepts no interrupts but INIT, SIPI and NMI (11.4.7). */
	lapic_write(LAPIC_SVR, SVR_ENABLE | APIC_VECTOR_SPURIOUS);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | INTR_VECTOR_TIMER);
	/* LINT0/LINT1 carry the 8259's output and NMI in virtual-wire
	 * mode; we use the IOAPIC instead, so both stay masked. */
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
	lapic_write(LAPIC_LVT_LINT1, LVT_MASKED);
	lapic_write(LAPIC_LVT_ERROR, APIC_VECTOR_ERROR);
	lapic_write(LAPIC_ESR, 0);
	lapic_eoi();
}

/*
 * In xAPIC mode the write to ICR low is what sends the IPI, so the
 * destination (ICR high, bits 31..24) must be written first, and only
 * once the previous IPI has left (delivery status bit 12, 11.6.1).
 * Interrupts are off so that a handler on this CPU cannot send its own
 * IPI between our two writes.  x2APIC has a single 64-bit ICR MSR with
 * the destination in bits 63..32 (11.12.9), and no delivery status.
 * Any context; spins briefly at most, never blocks.
 */
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

/* Fixed-delivery IPI of vector to the CPU whose APIC id is dest. */
void lapic_send_ipi(uint32_t dest, int vector)
{
	lapic_icr(dest, ICR_ASSERT | (uint32_t)vector);
}

/* Interrupt this CPU itself with vector, through the APIC (shorthand). */
void lapic_send_self(int vector)
{
	lapic_icr(0, ICR_SELF | ICR_ASSERT | (uint32_t)vector);
}

/*
 * NMI every other CPU.  An NMI gets through even with interrupts off,
 * which is why the panic path uses it to stop CPUs that may be spinning.
 */
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
	/* INIT resets the AP into the wait-for-SIPI state.  The second
	 * SIPI is a retry: an AP that already woke ignores it. */
	lapic_icr(dest, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	DELAY(10000);
	lapic_icr(dest, ICR_STARTUP | ICR_ASSERT | (uint32_t)page);
	DELAY(200);
	lapic_icr(dest, ICR_STARTUP | ICR_ASSERT | (uint32_t)page);
	DELAY(200);
}

/*
 * Measure the APIC timer's rate, in timer counts per second after the
 * divide-by-16 (SDM 3A, 11.5.4).  Boot CPU, once, interrupts off; spins
 * for CALIBRATE_MS.  The timer runs one-shot and masked, so it counts
 * down without ever interrupting us; writing 0 to the initial count
 * stops it afterwards.  Each end of the interval reads the current count
 * and the TSC back to back, so a delay between the end of the spin and
 * the reads (a descheduled virtual CPU) lengthens both measures alike.
 */
void lapic_timer_calibrate(uint64_t tsc_hz)
{
	uint64_t t0, t1, wait = tsc_hz * CALIBRATE_MS / 1000;
	uint32_t c0, c1;

	lapic_write(LAPIC_TIMER_DCR, TIMER_DIV_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | INTR_VECTOR_TIMER);
	lapic_write(LAPIC_TIMER_ICR, 0xffffffff);
	c0 = lapic_read(LAPIC_TIMER_CCR);
	t0 = rdtsc();
	while (rdtsc() - t0 < wait)
		cpu_pause();
	c1 = lapic_read(LAPIC_TIMER_CCR);
	t1 = rdtsc();
	lapic_write(LAPIC_TIMER_ICR, 0);
	timer_counts_per_sec = (uint64_t)(c0 - c1) * tsc_hz / (t1 - t0);
	KASSERT(timer_counts_per_sec != 0, "the local APIC timer did not "
		"count during calibration; is the APIC enabled?");
}

/* The rate found by lapic_timer_calibrate(); 0 before it ran. */
uint64_t lapic_timer_hz(void)
{
	return timer_counts_per_sec;
}

/*
 * Start this CPU's periodic tick at hz per second: in periodic mode the
 * APIC reloads the initial count itself each time it reaches 0.  Needs
 * lapic_timer_calibrate() first; each CPU calls it for itself.
 */
void lapic_timer_start(int hz)
{
	lapic_write(LAPIC_TIMER_DCR, TIMER_DIV_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | INTR_VECTOR_TIMER);
	lapic_write(LAPIC_TIMER_ICR, (uint32_t)(timer_counts_per_sec / hz));
}
