/*
 * drivers/uart16550.h - polled 16550 UART (see drivers/uart16550.c).
 */
#ifndef DRIVERS_UART16550_H
#define DRIVERS_UART16550_H

#include <kern/types.h>

#define COM1_PORT	0x3f8

/* Program the UART at I/O port base for baud, 8N1, polled.  Boot CPU only. */
void uart_init(uint16_t base, unsigned baud);
/* Has uart_init() run? */
bool uart_ready(void);
/* Send one byte, spinning until the transmitter has room.  Any context. */
void uart_putc(int c);
/* One received byte, or -1 if none is waiting.  Never blocks. */
int uart_getc(void);

#endif /* DRIVERS_UART16550_H */
