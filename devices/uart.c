/* 8250 UART model, output only; see uart.h. Register numbers follow the
 * kernel's include/uapi/linux/serial_reg.h. */
#include "devices/uart.h"

#include "vmm/console.h"

#define UART_RX   0 /* in: receive buffer; out: transmit (THR) */
#define UART_IER  1
#define UART_IIR  2
#define UART_LCR  3
#define UART_MCR  4
#define UART_LSR  5
#define UART_MSR  6
#define UART_SCR  7

#define UART_LCR_DLAB 0x80
#define UART_LSR_TEMT 0x40
#define UART_LSR_THRE 0x20
#define UART_IIR_NO_INT 0x01
#define UART_MSR_DCD 0x80
#define UART_MSR_DSR 0x20
#define UART_MSR_CTS 0x10

static void uart_read(void *opaque, struct vcpu *vcpu, uint64_t off, void *data, unsigned size)
{
	struct uart *u = opaque;
	uint8_t v = 0;

	(void)vcpu;
	(void)size;
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case UART_RX:  v = (u->lcr & UART_LCR_DLAB) ? u->dll : 0; break;
	case UART_IER: v = (u->lcr & UART_LCR_DLAB) ? u->dlm : u->ier; break;
	case UART_IIR: v = UART_IIR_NO_INT; break;
	case UART_LCR: v = u->lcr; break;
	case UART_MCR: v = u->mcr; break;
	case UART_LSR: v = UART_LSR_TEMT | UART_LSR_THRE; break;
	case UART_MSR: v = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS; break;
	case UART_SCR: v = u->scr; break;
	}
	pthread_mutex_unlock(&u->lock);
	*(uint8_t *)data = v;
}

static void uart_write(void *opaque, struct vcpu *vcpu, uint64_t off, const void *data, unsigned size)
{
	struct uart *u = opaque;
	uint8_t v = *(const uint8_t *)data;
	bool emit = false;

	(void)vcpu;
	(void)size;
	pthread_mutex_lock(&u->lock);
	switch (off) {
	case UART_RX:
		if (u->lcr & UART_LCR_DLAB)
			u->dll = v;
		else
			emit = true;
		break;
	case UART_IER:
		if (u->lcr & UART_LCR_DLAB)
			u->dlm = v;
		else
			u->ier = v & 0x0f;
		break;
	case UART_LCR: u->lcr = v; break;
	case UART_MCR: u->mcr = v & 0x1f; break;
	case UART_SCR: u->scr = v; break;
	default: break; /* FCR and read-only registers: ignored */
	}
	pthread_mutex_unlock(&u->lock);
	if (emit)
		console_putc(u->out, (char)v);
}

static const struct bus_ops uart_ops = { .read = uart_read, .write = uart_write };

int uart_init(struct uart *u, struct bus *pio, uint16_t port, struct console *out)
{
	pthread_mutex_init(&u->lock, NULL);
	u->ier = u->lcr = u->mcr = u->scr = u->dll = u->dlm = 0;
	u->out = out;
	return bus_register(pio, port, 8, &uart_ops, u);
}
