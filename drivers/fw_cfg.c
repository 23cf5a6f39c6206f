/*
 * fw_cfg.c - QEMU's firmware configuration device, read as a witness.
 *
 * QEMU hands its firmware (SeaBIOS) the machine's shape through a tiny
 * I/O-port device: write a 16-bit key to the selector port, then read
 * the item's bytes one at a time from the data port (QEMU,
 * docs/specs/fw_cfg.rst, "Selector Register" and "Data Register"):
 *
 *   port 0x510  selector (write a key; the read offset goes back to 0)
 *   port 0x511  data     (each read returns the next byte of the item)
 *
 *   key 0x00  signature   "QEMU"
 *   key 0x03  RAM size    u64, little endian: -m
 *   key 0x05  CPU count   u16, little endian: -smp (CPUs at boot)
 *   key 0x19  file dir    u32 count, then count x { u32 size, u16 key,
 *                         u16 reserved, char name[56] }, all big endian
 *
 * The kernel never needs it: it learns the machine from GRUB's memory map
 * and the ACPI tables.  The tests use it because it is an independent
 * witness of what the runner asked QEMU for, so "the MADT lists 4 CPUs"
 * can be checked against "QEMU was started with -smp 4" instead of
 * against a loose range.  On a machine that is not QEMU the signature
 * does not read "QEMU" and every question answers "unknown".
 */
#include <kern/types.h>
#include <kern/libkern.h>
#include <kern/spinlock.h>
#include <machine/cpufunc.h>
#include <drivers/fw_cfg.h>

#define FW_CFG_PORT_SEL	  0x510
#define FW_CFG_PORT_DATA  0x511
#define FW_CFG_SIGNATURE  0x00
#define FW_CFG_RAM_SIZE	  0x03
#define FW_CFG_NB_CPUS	  0x05
#define FW_CFG_FILE_DIR	  0x19
#define FW_CFG_NAME_LEN	  56	/* bytes of a file name, NUL included */

/* The selector and the data port's read offset are one shared state. */
static struct spinlock fw_cfg_lock = SPINLOCK_INITIALIZER("fw_cfg");

/* Select key and read n bytes of it into buf.  Caller holds the lock. */
static void fw_cfg_read(uint16_t key, void *buf, size_t n)
{
	uint8_t *b = buf;

	outw(FW_CFG_PORT_SEL, key);
	for (size_t i = 0; i < n; i++)
		b[i] = inb(FW_CFG_PORT_DATA);
}

/* Read the next n bytes of the item already selected. */
static void fw_cfg_more(void *buf, size_t n)
{
	uint8_t *b = buf;

	for (size_t i = 0; i < n; i++)
		b[i] = inb(FW_CFG_PORT_DATA);
}

/* Any thread; a few port reads. */
bool fw_cfg_present(void)
{
	char sig[4];
	uint64_t rf = spin_lock_irqsave(&fw_cfg_lock);

	fw_cfg_read(FW_CFG_SIGNATURE, sig, sizeof(sig));
	spin_unlock_irqrestore(&fw_cfg_lock, rf);
	return memcmp(sig, "QEMU", 4) == 0;
}

/* The legacy items are little endian, like the CPU: read in place. */
uint64_t fw_cfg_ram_size(void)
{
	uint64_t bytes = 0;
	uint64_t rf;

	if (!fw_cfg_present())
		return 0;
	rf = spin_lock_irqsave(&fw_cfg_lock);
	fw_cfg_read(FW_CFG_RAM_SIZE, &bytes, sizeof(bytes));
	spin_unlock_irqrestore(&fw_cfg_lock, rf);
	return bytes;
}

int fw_cfg_cpu_count(void)
{
	uint16_t n = 0;
	uint64_t rf;

	if (!fw_cfg_present())
		return 0;
	rf = spin_lock_irqsave(&fw_cfg_lock);
	fw_cfg_read(FW_CFG_NB_CPUS, &n, sizeof(n));
	spin_unlock_irqrestore(&fw_cfg_lock, rf);
	return n;
}

/* A big-endian u32, as the file directory stores it. */
static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/*
 * Walk the file directory entry by entry (64 bytes each).  Names are
 * compared with the last byte forced to NUL, so a name QEMU filled to
 * the brim cannot run the comparison past the entry.
 */
bool fw_cfg_has_file(const char *name)
{
	uint8_t count[4], entry[8 + FW_CFG_NAME_LEN];
	bool found = false;
	uint64_t rf;

	if (!fw_cfg_present())
		return false;
	rf = spin_lock_irqsave(&fw_cfg_lock);
	fw_cfg_read(FW_CFG_FILE_DIR, count, sizeof(count));
	for (uint32_t i = 0; i < be32(count) && !found; i++) {
		fw_cfg_more(entry, sizeof(entry));
		entry[sizeof(entry) - 1] = '\0';
		found = strcmp((const char *)entry + 8, name) == 0;
	}
	spin_unlock_irqrestore(&fw_cfg_lock, rf);
	return found;
}
