/*
 * machine/cpu.h - which CPU am I?
 *
 * Until per-CPU globaldata (reached through the GS base) exists, only the
 * boot CPU runs kernel code, and it is CPU 0.  Every per-CPU array in the
 * kernel is indexed through cpu_current_id(), so that SMP bring-up changes
 * this one function and nothing else.
 */
#ifndef MACHINE_CPU_H
#define MACHINE_CPU_H

static inline int cpu_current_id(void)
{
	return 0;
}

#endif /* MACHINE_CPU_H */
