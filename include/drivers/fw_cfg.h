/*
 * drivers/fw_cfg.h - QEMU's firmware configuration device (drivers/fw_cfg.c):
 * what QEMU itself was told on its command line, read as a witness by the
 * tests that check what the kernel found out on its own.
 */
#ifndef DRIVERS_FW_CFG_H
#define DRIVERS_FW_CFG_H

#include <kern/types.h>

/* Is there a fw_cfg device (its signature reads "QEMU")?  Any thread; the
 * fw_cfg functions serialise on one spinlock. */
bool fw_cfg_present(void);

/* QEMU's -m, in bytes, and -smp (the CPUs started at boot).  0 if there
 * is no fw_cfg device. */
uint64_t fw_cfg_ram_size(void);
int fw_cfg_cpu_count(void);

/* Does QEMU offer the named fw_cfg file ("etc/table-loader", ...)?  False
 * without a fw_cfg device. */
bool fw_cfg_has_file(const char *name);

#endif /* DRIVERS_FW_CFG_H */
