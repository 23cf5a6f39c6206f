/*
 * boot_test.c - what the boot path left behind: the boot information from
 * GRUB, the command line, the ACPI tables, the page-table layout.
 */
#include <kern/cmdline.h>
#include <kern/kernel.h>
#include <kern/ktest.h>
#include <drivers/acpi.h>
#include <machine/cpufunc.h>
#include <machine/vmparam.h>

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

KTEST(boot, kernel_runs_in_the_higher_half)
{
	KT_EXPECT_GE((uint64_t)shell_run, KERNBASE);
	KT_EXPECT_GE((uint64_t)&boot_info, KERNBASE);
}

KTEST(boot, grub_gave_a_memory_map_and_its_name)
{
	KT_EXPECT_TRUE(boot_info.error == NULL);
	KT_EXPECT_GT(boot_info.mmap_count, 0);
	KT_EXPECT_GT(boot_usable_memory(&boot_info), 16UL << 20);
	KT_EXPECT_SUBSTR(boot_info.loader_name, "GRUB");
	KT_EXPECT_NE(boot_info.info_phys, 0);
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

KTEST(acpi, finds_validated_madt_and_counts_cpus)
{
	const struct acpi_sdt_header *madt = acpi_find_table("APIC");

	KT_ASSERT_TRUE(madt != NULL);
	KT_EXPECT_TRUE(acpi_checksum_ok(madt, madt->length));
	KT_EXPECT_GE(acpi_cpu_count(), 1);
	KT_EXPECT_LE(acpi_cpu_count(), 64);
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
