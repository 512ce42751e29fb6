/*
 * plat.h under QEMU (PVH boot, see pvh.S): there is no gmm test device, so
 * everything goes to the COM1 UART as lines (results as
 * "GMM-RESULT key=value"), and the exit code goes to QEMU's isa-debug-exit
 * device (-device isa-debug-exit,iobase=0xf4,iosize=4), which makes QEMU
 * exit with status (code << 1) | 1. One vCPU only under QEMU.
 */
#include "guest/plat_backend.h"

#define UART_LSR        (GMM_UART_PORT + 5)
#define UART_LSR_THRE   0x20   /* transmit holding register empty */
#define DEBUG_EXIT_PORT 0xf4

static void uart_putc(char c)
{
	/* Bounded wait: a missing or stuck UART must not hang the guest. */
	for (int i = 0; i < 100000 && !(inb(UART_LSR) & UART_LSR_THRE); i++)
		cpu_relax();
	outb(GMM_UART_PORT, (uint8_t)c);
}

void qemu_uart_puts(const char *s)
{
	while (*s) {
		if (*s == '\n')
			uart_putc('\r');
		uart_putc(*s++);
	}
}

static void qemu_init(uint64_t base, const struct gmm_boot_info *bi)
{
	(void)base;
	(void)bi;
	qemu_uart_puts("\n");  /* firmware leaves the cursor mid-line */
}

static void qemu_print(int cpu, const char *line)
{
	(void)cpu;
	qemu_uart_puts(line);
	qemu_uart_puts("\n");
}

static void qemu_result(int cpu, const char *key, const char *value)
{
	(void)cpu;
	qemu_uart_puts("GMM-RESULT ");
	qemu_uart_puts(key);
	qemu_uart_puts("=");
	qemu_uart_puts(value);
	qemu_uart_puts("\n");
}

__attribute__((noreturn)) static void qemu_exit(int cpu, uint32_t code)
{
	(void)cpu;
	outl(DEBUG_EXIT_PORT, code);
	/* Still here: QEMU runs without isa-debug-exit. Say so, then park. */
	qemu_uart_puts("gmm-guest: exit: no isa-debug-exit device at port 0xf4; parked\n");
	plat_park();
}

__attribute__((noreturn)) static void qemu_vcpu_done(int cpu)
{
	(void)cpu;
	plat_park();
}

const struct plat_ops plat_qemu_ops = {
	.init = qemu_init,
	.print = qemu_print,
	.result = qemu_result,
	.exit = qemu_exit,
	.vcpu_done = qemu_vcpu_done,
};
