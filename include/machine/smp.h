/*
 * machine/smp.h - starting the other CPUs (kern/mp_machdep.c).
 */
#ifndef MACHINE_SMP_H
#define MACHINE_SMP_H

/* The physical page the APs start at (below 1 MiB, kept free by vm). */
#define AP_TRAMPOLINE_PHYS	0x8000

#ifndef __ASSEMBLER__
#include <kern/types.h>

/*
 * Boot CPU: local APIC, legacy PIC off, IOAPIC masked, IPIQ vector, clock
 * calibration and this CPU's tick, callout thread; then start every other
 * CPU the MADT lists (INIT-SIPI-SIPI), one line printed per CPU.
 */
void mp_init(void);

/* Stop every other CPU (panic). */
void mp_stop_others(void);
#endif

#endif /* MACHINE_SMP_H */
