/*
 * uart16550.c - the PC serial port (COM1), the kernel's console.
 *
 * A 16550 has eight byte-wide registers at consecutive I/O ports.  We use it
 * in the simplest way: polled output, no interrupts, 115200 baud 8N1 with the
 * FIFOs on.  Register meanings are from the National Semiconductor PC16550D
 * datasheet (the "UART" every PC emulates).
 *
 *   base+0  THR  transmit holding register (write)   DLL when DLAB=1
 *   base+1  IER  interrupt enable                    DLM when DLAB=1
 *   base+2  FCR  FIFO control (write)
 *   base+3  LCR  line control: word length, DLAB
 *   base+4  MCR  modem control: DTR, RTS, OUT2
 *   base+5  LSR  line status: bit 5 = THR empty
 */
#include <kern/types.h>
#include <machine/cpufunc.h>
#include <drivers/uart16550.h>

#define UART_THR	0
#define UART_RBR	0
#define UART_DLL	0
#define UART_IER	1
#define UART_DLM	1
#define UART_FCR	2
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5

#define LCR_8N1		0x03	/* 8 data bits, no parity, 1 stop bit */
#define LCR_DLAB	0x80	/* divisor latch access */
#define FCR_ENABLE	0x07	/* enable and clear both FIFOs */
#define MCR_DTR_RTS	0x03
#define LSR_DATA_READY	0x01
#define LSR_THR_EMPTY	0x20

#define UART_CLOCK_DIVISOR_BASE 115200	/* 1.8432 MHz / 16 */

static uint16_t uart_base;

void uart_init(uint16_t base, unsigned baud)
{
	unsigned divisor = UART_CLOCK_DIVISOR_BASE / baud;

	outb(base + UART_IER, 0);		/* polled: no interrupts */
	outb(base + UART_LCR, LCR_DLAB);
	outb(base + UART_DLL, divisor & 0xff);
	outb(base + UART_DLM, divisor >> 8);
	outb(base + UART_LCR, LCR_8N1);
	outb(base + UART_FCR, FCR_ENABLE);
	outb(base + UART_MCR, MCR_DTR_RTS);
	uart_base = base;
}

bool uart_ready(void)
{
	return uart_base != 0;
}

void uart_putc(int c)
{
	while ((inb(uart_base + UART_LSR) & LSR_THR_EMPTY) == 0)
		cpu_pause();
	outb(uart_base + UART_THR, (uint8_t)c);
}

int uart_getc(void)
{
	if ((inb(uart_base + UART_LSR) & LSR_DATA_READY) == 0)
		return -1;
	return inb(uart_base + UART_RBR);
}
