/*
 * pic8259.c - the legacy 8259A interrupt controller pair: move it out of
 * the way and mask it.
 *
 * At reset the master PIC delivers IRQ 0-7 on vectors 8-15, on top of the
 * CPU's exceptions.  Even though the IOAPIC does all routing, a masked
 * PIC can still raise a spurious interrupt, so we first reprogram it to
 * vectors 32..47 with the four initialisation words (Intel 8259A data
 * sheet, "Initialization Command Words"), then mask every input.
 */
#include <kern/types.h>
#include <kern/intr.h>
#include <machine/apic.h>
#include <machine/cpufunc.h>

#define PIC1_CMD	0x20
#define PIC1_DATA	0x21
#define PIC2_CMD	0xa0
#define PIC2_DATA	0xa1
#define ICW1_INIT	0x11	/* init, cascade, expect ICW4 */
#define ICW3_MASTER	0x04	/* slave on IRQ 2 */
#define ICW3_SLAVE	0x02	/* slave's cascade identity */
#define ICW4_8086	0x01
#define MASK_ALL	0xff

void pic8259_disable(void)
{
	outb(PIC1_CMD, ICW1_INIT);
	outb(PIC2_CMD, ICW1_INIT);
	outb(PIC1_DATA, IDT_OFFSET_PIC);
	outb(PIC2_DATA, IDT_OFFSET_PIC + 8);
	outb(PIC1_DATA, ICW3_MASTER);
	outb(PIC2_DATA, ICW3_SLAVE);
	outb(PIC1_DATA, ICW4_8086);
	outb(PIC2_DATA, ICW4_8086);
	outb(PIC1_DATA, MASK_ALL);
	outb(PIC2_DATA, MASK_ALL);
}
