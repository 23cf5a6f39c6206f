/*
 * kern/kernel.h - kernel-wide facts and the entry points between layers.
 */
#ifndef KERN_KERNEL_H
#define KERN_KERNEL_H

#include <kern/types.h>
#include <boot/multiboot2.h>

#define DAMSELFLY_VERSION "0.1"

/* What the boot loader told us; filled by kmain, read-only after. */
extern struct boot_info boot_info;

/* The interactive serial console (kern/kern_shell.c).  Never returns. */
void shell_run(void) __noreturn;

#endif /* KERN_KERNEL_H */
