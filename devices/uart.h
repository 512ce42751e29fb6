/*
 * A minimal 8250/16550 UART: enough for a guest (the test guest, or Linux's
 * 8250 driver with earlyprintk=serial / console=ttyS0) to print. Output only:
 * the transmitter is always empty, nothing is ever received, no interrupts.
 */
#ifndef GMM_DEVICES_UART_H
#define GMM_DEVICES_UART_H

#include <stdint.h>

#include "devices/bus.h"

struct console;

struct uart {
	pthread_mutex_t lock;  /* protects the registers below */
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	struct console *out;
};

int uart_init(struct uart *u, struct bus *pio, uint16_t port, struct console *out);

#endif
