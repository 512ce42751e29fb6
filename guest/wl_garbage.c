/*
 * workload=garbage: nonsense for the VMM's device models, a bounded number
 * of times (count= of each kind), then exit 0. Guest input is hostile input:
 * the VMM must count and ignore all of it and keep its other guests running.
 *   - writes and reads of random widths at random ports;
 *   - writes and reads of random widths at random addresses in the device
 *     hole [3 GiB, 4 GiB) (gva = base + gpa), plain `mov`s, so the native
 *     accelerator's decoder sees the same instructions KVM exits on;
 *   - malformed test-device commands (unknown command, wrong width) and
 *     random UART register writes (then the UART is put back).
 * Under QEMU, which has real devices (reset, PCI config, DMA engines,
 * isa-debug-exit), ports and addresses come only from ranges nothing
 * decodes, and the test device and UART are left alone.
 */
#include "guest/plat.h"
#include "guest/workload.h"

struct span {
	uint32_t lo, hi;   /* [lo, hi) */
};

/* QEMU pc: no device decodes these (ISA 0x100-0x16f, 0x200-0x26f; above
 * the chipset's 0x600-0x7ff and below the PCI I/O BARs at 0xc000). */
static const struct span qemu_ports[] = { { 0x100, 0x170 }, { 0x200, 0x270 }, { 0x1000, 0x8000 } };
/* gmm: anything but the test device and exception ports and the UART's
 * transmit register (console noise). */
static const struct span gmm_ports[] = { { 0x0, 0x3f8 }, { 0x3f9, 0x510 }, { 0x518, 0x10000 } };

static uint16_t pick_port(struct wl_ctl *c, bool qemu)
{
	const struct span *s = qemu ? qemu_ports : gmm_ports;
	uint32_t total = 0, r;

	for (int i = 0; i < 3; i++)
		total += s[i].hi - s[i].lo;
	r = (uint32_t)rng_below(&c->rng, total);
	for (int i = 0;; i++) {
		if (r < s[i].hi - s[i].lo)
			return (uint16_t)(s[i].lo + r);
		r -= s[i].hi - s[i].lo;
	}
}

static void port_write(uint16_t port, unsigned width, uint32_t v)
{
	if (width == 1)
		outb(port, (uint8_t)v);
	else if (width == 2)
		outw(port, (uint16_t)v);
	else
		outl(port, v);
}

static uint32_t port_read(uint16_t port, unsigned width)
{
	return width == 1 ? inb(port) : width == 2 ? inw(port) : inl(port);
}

static void mmio_write(uint64_t a, unsigned width, uint64_t v)
{
	switch (width) {
	case 1: __asm__ volatile("movb %b1, (%0)" : : "r"(a), "q"(v) : "memory"); break;
	case 2: __asm__ volatile("movw %w1, (%0)" : : "r"(a), "r"(v) : "memory"); break;
	case 4: __asm__ volatile("movl %k1, (%0)" : : "r"(a), "r"(v) : "memory"); break;
	default: __asm__ volatile("movq %1, (%0)" : : "r"(a), "r"(v) : "memory"); break;
	}
}

static uint64_t mmio_read(uint64_t a, unsigned width)
{
	uint64_t v = 0;

	switch (width) {
	case 1: __asm__ volatile("movzbl (%1), %k0" : "=r"(v) : "r"(a) : "memory"); break;
	case 2: __asm__ volatile("movzwl (%1), %k0" : "=r"(v) : "r"(a) : "memory"); break;
	case 4: __asm__ volatile("movl (%1), %k0" : "=r"(v) : "r"(a) : "memory"); break;
	default: __asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(a) : "memory"); break;
	}
	return v;
}

/* A width-aligned address in the hole; QEMU: only its lower half, below
 * the PCI BARs firmware places under 4 GiB. */
static uint64_t pick_mmio(struct wl_ctl *c, bool qemu, unsigned width)
{
	uint64_t len = qemu ? (GMM_GPA_HOLE_END - GMM_GPA_HOLE_START) / 2 : GMM_GPA_HOLE_END - GMM_GPA_HOLE_START;
	uint64_t gpa = GMM_GPA_HOLE_START + rng_below(&c->rng, len);

	return c->base + (gpa & ~(uint64_t)(width - 1));
}

static void gmm_device_garbage(struct wl_ctl *c)
{
	outl(GMM_TDEV_PORT, 0);          /* no such command */
	outl(GMM_TDEV_PORT, 0x7fffffff);
	outb(GMM_TDEV_PORT, GMM_TDEV_PRINT); /* wrong width */
	outw(GMM_TDEV_PORT, GMM_TDEV_PRINT);
	c->r.sink ^= inb(GMM_TDEV_PORT) ^ inw(GMM_TDEV_PORT + 2);
	for (int i = 0; i < 64; i++)
		outb((uint16_t)(GMM_UART_PORT + 1 + rng_below(&c->rng, 7)), (uint8_t)rng_next(&c->rng));
	outb(GMM_UART_PORT + 3, 0x03);   /* LCR: 8n1, DLAB off */
	outb(GMM_UART_PORT + 1, 0x00);   /* IER: no interrupts */
	outb(GMM_UART_PORT + 4, 0x0b);   /* MCR: DTR, RTS, OUT2; loopback off */
	c->r.ops += 71;
}

int wl_garbage(struct wl_ctl *c)
{
	static const unsigned widths[] = { 1, 2, 4, 8 };
	bool qemu = c->accel == GMM_ACCEL_QEMU;
	char buf[160];
	struct sbuf sb;

	c->r.t_start = plat_now_tsc();
	for (uint64_t n = 0; n < c->p->count; n++) {
		unsigned pw = widths[rng_below(&c->rng, 3)], mw = widths[rng_below(&c->rng, 4)];
		uint64_t v = rng_next(&c->rng);

		port_write(pick_port(c, qemu), pw, (uint32_t)v);
		c->r.sink ^= port_read(pick_port(c, qemu), pw);
		mmio_write(pick_mmio(c, qemu, mw), mw, v);
		c->r.sink ^= mmio_read(pick_mmio(c, qemu, mw), mw);
		c->r.ops += 4;
	}
	if (!qemu)
		gmm_device_garbage(c);
	c->r.t_end = plat_now_tsc();
	sb_init(&sb, buf, sizeof(buf));
	sb_puts(&sb, "garbage: ");
	sb_putu(&sb, c->p->count);
	sb_puts(&sb, " port writes, port reads, MMIO writes and MMIO reads each; still alive");
	wl_print(c, buf);
	return GMM_EXIT_OK;
}
