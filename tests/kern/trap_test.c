/*
 * trap_test.c - exceptions arrive on the right vector with the right
 * details, and a test can provoke one and carry on (KT_CATCH_TRAP);
 * vectors carry the manual's names; an interrupt nobody registered is
 * counted and acknowledged without blocking later ones.
 */
#include <kern/intr.h>
#include <kern/ktest.h>
#include <machine/apic.h>
#include <machine/cpufunc.h>
#include <machine/gdt.h>

/* An address in a PML4 slot the kernel never maps. */
#define UNMAPPED_ADDR	0xffff900000000000UL
/* Bit 47 set but not the bits above it: non-canonical, so #GP, not #PF. */
#define NONCANONICAL_ADDR 0x0000800000000000UL

#define PGEX_P	0x01
#define PGEX_W	0x02

KTEST(trap, divide_by_zero_raises_de)
{
	struct trap_catch tc;

	KT_CATCH_TRAP(&tc, T_DIVIDE,
		      __asm__ volatile("xorl %%ecx, %%ecx\n\t"
				       "movl $1, %%eax\n\t"
				       "xorl %%edx, %%edx\n\t"
				       "divl %%ecx"
				       :
				       :
				       : "eax", "ecx", "edx"));
	KT_EXPECT_TRUE(tc.caught);
	KT_EXPECT_EQ(tc.frame.tf_vector, T_DIVIDE);
}

/* Labels planted inside the asm below, so the tests know the addresses. */
extern const char trap_test_ud2_site[], trap_test_after_int3[];

KTEST(trap, ud2_raises_invalid_opcode_at_its_address)
{
	struct trap_catch tc;

	KT_CATCH_TRAP(&tc, T_INVALID_OP,
		      __asm__ volatile(".globl trap_test_ud2_site\n"
				       "trap_test_ud2_site: ud2"));
	KT_ASSERT_TRUE(tc.caught);
	/* A fault reports the faulting instruction itself. */
	KT_EXPECT_EQ(tc.frame.tf_rip, (uint64_t)trap_test_ud2_site);
}

KTEST(trap, int3_is_a_trap_pointing_past_itself)
{
	struct trap_catch tc;

	KT_CATCH_TRAP(&tc, T_BREAKPOINT,
		      __asm__ volatile("int3\n"
				       ".globl trap_test_after_int3\n"
				       "trap_test_after_int3:"));
	KT_ASSERT_TRUE(tc.caught);
	/* A trap reports the instruction after it. */
	KT_EXPECT_EQ(tc.frame.tf_rip, (uint64_t)trap_test_after_int3);
}

KTEST(trap, write_to_unmapped_page_reports_cr2_and_error_code)
{
	struct trap_catch tc;

	KT_CATCH_TRAP(&tc, T_PAGE_FAULT,
		      *(volatile uint64_t *)UNMAPPED_ADDR = 1);
	KT_ASSERT_TRUE(tc.caught);
	KT_EXPECT_EQ(tc.cr2, UNMAPPED_ADDR);
	KT_EXPECT_EQ(tc.frame.tf_err & (PGEX_P | PGEX_W), PGEX_W);
}

KTEST(trap, noncanonical_address_raises_gp)
{
	struct trap_catch tc;

	KT_CATCH_TRAP(&tc, T_GENERAL_PROT,
		      (void)*(volatile uint64_t *)NONCANONICAL_ADDR);
	KT_EXPECT_TRUE(tc.caught);
	KT_EXPECT_EQ(tc.frame.tf_vector, T_GENERAL_PROT);
}

KTEST(trap, catch_restores_interrupt_flag_and_registers)
{
	struct trap_catch tc;
	volatile uint64_t canary = 0x1234;
	uint64_t rf = read_rflags();

	KT_CATCH_TRAP(&tc, T_INVALID_OP, __asm__ volatile("ud2"));
	KT_EXPECT_TRUE(tc.caught);
	KT_EXPECT_EQ(canary, 0x1234);
	KT_EXPECT_EQ(read_rflags() & PSL_I, rf & PSL_I);
}

KTEST(trap, no_trap_means_not_caught)
{
	struct trap_catch tc;
	volatile int x = 0;

	KT_CATCH_TRAP(&tc, T_PAGE_FAULT, x = 1);
	KT_EXPECT_FALSE(tc.caught);
	KT_EXPECT_EQ(x, 1);
}

KTEST(trap, ist_stacks_are_distinct_and_aligned)
{
	uint64_t df = gdt_ist_top(0, IST_DOUBLE_FAULT);
	uint64_t nmi = gdt_ist_top(0, IST_NMI);
	uint64_t mc = gdt_ist_top(0, IST_MCHECK);

	KT_EXPECT_NE(df, nmi);
	KT_EXPECT_NE(nmi, mc);
	KT_EXPECT_EQ(df % 16, 0);
	KT_EXPECT_GE(nmi > df ? nmi - df : df - nmi, IST_STACK_SIZE);
}

/*
 * The exception vectors as the manuals number them, written out here
 * rather than taken from the kernel's table: Intel SDM vol. 3A, Table 6-1
 * "Exceptions and Interrupts" for 0..21 (and "Intel reserved" for 15 and
 * 22..31), AMD64 APM vol. 2, Table 8-1, for the three AMD defines in that
 * range (28 #HV, 29 #VC, 30 #SX).  Each name must start with its mnemonic.
 */
static const char *const manual_mnemonic[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "coprocessor segment overrun", "#TS", "#NP", "#SS", "#GP",
	"#PF", "reserved", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
	"reserved", "reserved", "reserved", "reserved", "reserved",
	"reserved", "#HV", "#VC", "#SX", "reserved",
};

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

KTEST(trap, vector_names_are_the_manuals)
{
	for (unsigned v = 0; v < 32; v++)
		if (!starts_with(trap_name(v), manual_mnemonic[v]))
			ktest_fail(__FILE__, __LINE__,
				   "vector %u is named \"%s\"; the manual's "
				   "name starts \"%s\"", v, trap_name(v),
				   manual_mnemonic[v]);
	/* Above 31 the IDT holds interrupts; 0xff is the APIC's spurious
	 * vector (kern/intr.h, SDM vol. 3A, 11.9). */
	KT_EXPECT_STREQ(trap_name(32), "interrupt");
	KT_EXPECT_STREQ(trap_name(0xfe), "interrupt");
	KT_EXPECT_STREQ(trap_name(0xff), "spurious interrupt");
}

/* ----------------------------------------------------------------------- */
/* Stray interrupts: counted, and acknowledged at the APIC exactly when    */
/* the APIC has them in service.                                            */

/*
 * A vector nobody registers, in the clock tick's priority class (0xe),
 * and a lower one (class 0xc) for a handler the test owns.  While a
 * vector is in service the APIC holds back every vector of its class and
 * below (SDM vol. 3A, 11.8.3.1), so a stray left unacknowledged would
 * block the probe -- and the tick -- for good.
 */
#define STRAY_VECTOR	0xe8
#define PROBE_VECTOR	0xc8
/* Spins to wait for a self-IPI; it arrives within a few instructions. */
#define ARRIVAL_SPINS	10000000L

static volatile uint64_t probe_hits;
static volatile bool probe_in_service_after_stray;
static volatile bool probe_in_service_after_spurious;

static void probe_counts(struct trapframe *tf __unused)
{
	probe_hits++;
	lapic_eoi();
}

static uint64_t probe_count(void)
{
	return probe_hits;
}

/* Wait (bounded) until count() moves off before; true if it did. */
static bool arrived(uint64_t (*count)(void), uint64_t before)
{
	for (long i = 0; i < ARRIVAL_SPINS; i++) {
		if (count() != before)
			return true;
		cpu_pause();
	}
	return false;
}

KTEST(trap, stray_interrupt_is_counted_and_acknowledged)
{
	uint64_t strays = trap_stray_count(), probes = probe_hits;
	bool stuck;

	KT_ASSERT_FALSE(trap_has_handler(STRAY_VECTOR));
	KT_ASSERT_FALSE(trap_has_handler(PROBE_VECTOR));
	KT_ASSERT_TRUE(read_rflags() & PSL_I);
	trap_set_handler(PROBE_VECTOR, probe_counts);
	lapic_send_self(STRAY_VECTOR);
	KT_EXPECT_TRUE(arrived(trap_stray_count, strays));
	KT_EXPECT_EQ(trap_stray_count(), strays + 1);
	stuck = lapic_in_service(STRAY_VECTOR);
	KT_EXPECT_FALSE(stuck);
	/* A later interrupt of a lower class still gets through. */
	lapic_send_self(PROBE_VECTOR);
	KT_EXPECT_TRUE(arrived(probe_count, probes));
	if (stuck) {		/* repair, so the tests after this one run */
		uint64_t rf = intr_disable();

		lapic_eoi();
		intr_restore(rf);
	}
	trap_set_handler(PROBE_VECTOR, NULL);
}

/*
 * Inside the probe's handler (its ISR bit set), raise the stray vector
 * and the APIC's spurious vector by software `int`: neither went through
 * the APIC, just as a true spurious interrupt sets no ISR bit (SDM 11.9),
 * so neither may send an EOI -- which would acknowledge the probe.
 */
static void probe_raises_strays(struct trapframe *tf __unused)
{
	__asm__ volatile("int %0" : : "i"(STRAY_VECTOR));
	probe_in_service_after_stray = lapic_in_service(PROBE_VECTOR);
	__asm__ volatile("int %0" : : "i"(APIC_VECTOR_SPURIOUS));
	probe_in_service_after_spurious = lapic_in_service(PROBE_VECTOR);
	probe_hits++;
	lapic_eoi();
}

KTEST(trap, stray_or_spurious_not_in_service_gets_no_eoi)
{
	uint64_t strays = trap_stray_count(), probes = probe_hits;
	uint64_t spurious = lapic_spurious_count();

	KT_ASSERT_FALSE(trap_has_handler(PROBE_VECTOR));
	KT_ASSERT_TRUE(read_rflags() & PSL_I);
	trap_set_handler(PROBE_VECTOR, probe_raises_strays);
	lapic_send_self(PROBE_VECTOR);
	KT_ASSERT_TRUE(arrived(probe_count, probes));
	trap_set_handler(PROBE_VECTOR, NULL);
	KT_EXPECT_EQ(trap_stray_count(), strays + 1);
	KT_EXPECT_EQ(lapic_spurious_count(), spurious + 1);
	KT_EXPECT_TRUE(probe_in_service_after_stray);
	KT_EXPECT_TRUE(probe_in_service_after_spurious);
	KT_EXPECT_FALSE(lapic_in_service(PROBE_VECTOR));
}
