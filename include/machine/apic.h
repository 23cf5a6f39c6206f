/*
 * machine/apic.h - the local APIC, the IOAPIC and the legacy PIC
 * (drivers/lapic.c, drivers/ioapic.c, drivers/pic8259.c, drivers/madt.c).
 */
#ifndef MACHINE_APIC_H
#define MACHINE_APIC_H

#include <kern/types.h>
#include <machine/param.h>

/* What the MADT (ACPI 6.5, 5.2.12) told us. */
struct madt_info {
	uint64_t lapic_phys;		/* local APIC MMIO base */
	int ncpus;			/* enabled processors */
	uint32_t apic_ids[MAXCPU];	/* their local APIC ids, BSP first */
	int nioapics;
	struct {
		uint32_t id, phys, gsi_base;
	} ioapics[4];
	/* ISA IRQ -> global system interrupt, with polarity/trigger flags. */
	struct {
		uint32_t gsi;
		uint16_t flags;
	} isa_irq[16];
};

extern struct madt_info madt;

/* Parse the MADT (or assume one CPU and the standard addresses). */
void madt_init(void);

/* Mask every input of the legacy 8259 pair after moving it to 32..47. */
void pic8259_disable(void);

/* Local APIC of this CPU: enable (x2APIC mode when the CPU has it),
 * spurious and error vectors, everything else masked. */
void lapic_init(void);
bool lapic_is_x2apic(void);
uint32_t lapic_id(void);
void lapic_eoi(void);
/* Is vector in this CPU's In-Service Register?  EOI only if it is
 * (returns whether it sent one). */
bool lapic_in_service(unsigned vector);
bool lapic_eoi_if_in_service(unsigned vector);
/* Interrupts on the spurious vector, all CPUs, since boot. */
uint64_t lapic_spurious_count(void);
/* Send vector to the CPU with APIC id dest. */
void lapic_send_ipi(uint32_t dest, int vector);
void lapic_send_self(int vector);
/* NMI to every other CPU (panic). */
void lapic_send_nmi_others(void);
/* INIT-SIPI-SIPI: start the processor dest at physical page vector<<12. */
void lapic_start_ap(uint32_t dest, int page);

/* Calibrate the timer against the TSC (once, BSP), then run it at hz on
 * this CPU on vector INTR_VECTOR_TIMER. */
void lapic_timer_calibrate(uint64_t tsc_hz);
void lapic_timer_start(int hz);
uint64_t lapic_timer_hz(void);

/* IOAPIC: every input masked; route(isa irq) -> vector on apic id. */
void ioapic_init(void);
void ioapic_route_isa(int irq, int vector, uint32_t dest);
void ioapic_mask_isa(int irq);
/* A PCI INTx line on ISA irq: level-triggered; masked from the hard
 * handler, unmasked by its driver (drivers/ioapic.c). */
void ioapic_route_pci(int irq, int vector, uint32_t dest);
void ioapic_set_mask_isa(int irq, bool masked);

#endif /* MACHINE_APIC_H */
