/*
 * libFuzzer target: a virtio-mmio transport driven by a sequence of
 * register accesses, with a dummy device that pops and completes chains
 * from a fake guest RAM when notified, as a device thread would.
 *
 * Input, little-endian:
 *   header (16 bytes):
 *     0      nr_queues (b % VIRTIO_MMIO_MAX_QUEUES + 1)
 *     1      queue_num_max: 1 << (b % 11)
 *     2..3   config_len (% 0xf01)
 *     4..11  device features offered
 *     12..13 n: the next n bytes are RAM's initial contents (at gpa 0)
 *     14..15 unused
 *   then records, one after another:
 *     op byte: bits 0-1 kind, bits 2-3 size (1 << x), bits 4-7 argument
 *       kind 0: read,  u16 offset (& 0xfff)
 *       kind 1: write, u16 offset, u64 value (the low `size` bytes used)
 *       kind 2: device side, argument picks: signal_used, config_changed,
 *               needs_reset, has_feature, driver_ok, run pending queues
 *       kind 3: guest RAM poke, u16 offset, u32 value
 * Invariants checked after every record trap when broken.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/virtio_mmio.h"

#define BASE      0xd0000000ull
#define RAM_BYTES 0x10000u
#define HDR       16

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

struct ram {
	uint8_t *buf;
	uint64_t len;
};

static void *ram_gpa_to_hva(void *ctx, uint64_t gpa, uint64_t len)
{
	struct ram *r = ctx;

	if (gpa > r->len || len > r->len - gpa)
		return NULL;
	return r->buf + gpa;
}

struct dummy {
	struct virtio_mmio *t;
	uint8_t config[VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG];
	unsigned pending;   /* queues notified, for the "device thread" */
	bool active;
};

static void d_read_config(void *dev, uint32_t off, void *data, unsigned size)
{
	struct dummy *d = dev;

	check(off <= d->t->config_len && size <= d->t->config_len - off);
	memcpy(data, d->config + off, size);
}

static void d_write_config(void *dev, uint32_t off, const void *data, unsigned size)
{
	struct dummy *d = dev;

	check(off <= d->t->config_len && size <= d->t->config_len - off);
	memcpy(d->config + off, data, size);
}

static void d_activate(void *dev)
{
	struct dummy *d = dev;

	check(d->t->status & VIRTIO_STATUS_FEATURES_OK);
	d->active = true;
}

static void d_notify(void *dev, unsigned q)
{
	struct dummy *d = dev;

	check(q < d->t->nr_queues && d->t->vqs[q].ready);
	check(d->t->status & VIRTIO_STATUS_DRIVER_OK);
	d->pending |= 1u << q;
}

static void d_reset(void *dev)
{
	struct dummy *d = dev;

	d->pending = 0;
	d->active = false;
}

static const struct virtio_dev_ops dummy_ops = {
	.read_config = d_read_config, .write_config = d_write_config,
	.activate = d_activate, .notify = d_notify, .reset = d_reset,
};

static void d_irq(void *ctx, bool level)
{
	struct virtio_mmio *t = ctx;

	check(level == (t->interrupt_status != 0));
}

/* The device thread's work: drain each notified queue, complete each
 * chain, signal. A broken ring asks the driver for a reset. */
static void d_run(struct dummy *d)
{
	static struct virtq_chain c;
	uint8_t tmp[256];
	unsigned q, n;
	int ret;

	for (q = 0; q < d->t->nr_queues; q++) {
		struct virtq *vq = &d->t->vqs[q];

		if (!(d->pending & (1u << q)))
			continue;
		d->pending &= ~(1u << q);
		for (n = 0; n < 2u * vq->size + 2; n++) {
			ret = virtq_pop(vq, &c);
			if (ret == 0)
				break;
			if (ret == -EIO) {
				virtio_mmio_needs_reset(d->t);
				break;
			}
			if (ret < 0)
				continue;
			virtq_chain_read(&c, 0, tmp, sizeof(tmp));
			memset(tmp, 0x5a, sizeof(tmp));
			virtq_push(vq, c.head, (uint32_t)virtq_chain_write(&c, 0, tmp, sizeof(tmp)));
		}
		virtio_mmio_signal_used(d->t, q);
	}
}

static void invariants(struct virtio_mmio *t)
{
	unsigned q;

	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		check(t->status & VIRTIO_STATUS_FEATURES_OK);
	if (t->status & VIRTIO_STATUS_FEATURES_OK) {
		check(!(t->driver_features & ~t->device_features));
		check(t->driver_features >> VIRTIO_F_VERSION_1 & 1);
	}
	for (q = 0; q < t->nr_queues; q++) {
		const struct virtq *vq = &t->vqs[q];

		check(vq->size <= t->queue_num_max);
		if (vq->ready)
			check(vq->desc && vq->avail && vq->used && vq->size);
	}
}

static void device_side(struct dummy *d, unsigned arg, uint32_t v)
{
	switch (arg % 6) {
	case 0: virtio_mmio_signal_used(d->t, v % 10); break;
	case 1: virtio_mmio_config_changed(d->t); break;
	case 2: virtio_mmio_needs_reset(d->t); break;
	case 3: (void)virtio_mmio_has_feature(d->t, v % 70); break;
	case 4: (void)virtio_mmio_driver_ok(d->t); break;
	default: d_run(d); break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dummy d;
	static struct virtio_mmio t;
	struct bus bus;
	struct ram r = { NULL, RAM_BYTES };
	struct virtio_mmio_config cfg;
	uint16_t init, off;
	size_t pos = HDR;

	if (size < HDR)
		return 0;
	r.buf = calloc(1, RAM_BYTES);
	if (!r.buf)
		return 0;
	memcpy(&init, data + 12, 2);
	if (init > size - HDR)
		init = (uint16_t)(size - HDR);
	memcpy(r.buf, data + HDR, init);
	pos += init;

	memset(&d, 0, sizeof(d));
	d.t = &t;
	cfg = (struct virtio_mmio_config){
		.base = BASE, .device_id = 5, .nr_queues = data[0] % VIRTIO_MMIO_MAX_QUEUES + 1,
		.queue_num_max = (uint16_t)(1u << (data[1] % 11)),
		.ops = &dummy_ops, .dev = &d, .mem = { ram_gpa_to_hva, &r },
		.irq = d_irq, .irq_ctx = &t,
	};
	memcpy(&off, data + 2, 2);
	cfg.config_len = off % 0xf01;
	memcpy(&cfg.device_features, data + 4, 8);
	bus_init(&bus);
	check(virtio_mmio_init(&t, &bus, &cfg) == 0);

	while (pos < size) {
		uint8_t op = data[pos++];
		unsigned sz = 1u << ((op >> 2) & 3), kind = op & 3;
		uint64_t v = 0;
		uint32_t v32 = 0;

		if (pos + 2 > size)
			break;
		memcpy(&off, data + pos, 2);
		pos += 2;
		switch (kind) {
		case 0:
			(void)bus_access(&bus, NULL, BASE + (off & 0xfff), &v, sz, false);
			break;
		case 1:
			memcpy(&v, data + pos, size - pos < 8 ? size - pos : 8);
			pos += 8;
			(void)bus_access(&bus, NULL, BASE + (off & 0xfff), &v, sz, true);
			break;
		case 2:
			device_side(&d, op >> 4, off);
			break;
		default:
			memcpy(&v32, data + pos, size - pos < 4 ? size - pos : 4);
			pos += 4;
			memcpy(r.buf + (off & (RAM_BYTES - 4)), &v32, 4);
			break;
		}
		invariants(&t);
	}
	d_run(&d);
	virtio_mmio_destroy(&t, &bus);
	check(!t.status && !d.active);
	bus_destroy(&bus);
	free(r.buf);
	return 0;
}
