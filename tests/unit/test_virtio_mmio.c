/* The virtio-mmio transport driven through the bus as a driver would,
 * against a dummy device and a fake guest RAM. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/virtio_mmio.h"

#define BASE      0xd0000000ull
#define RAM_BASE  0x0ull
#define RAM_BYTES 0x10000ull
#define CFG_LEN   12

struct fake_ram {
	uint8_t *buf;
	uint64_t len;
};

static void *fake_gpa_to_hva(void *ctx, uint64_t gpa, uint64_t len)
{
	struct fake_ram *r = ctx;

	if (gpa > r->len || len > r->len - gpa)
		return NULL;
	return r->buf + gpa;
}

struct dummy {
	struct virtio_mmio *t;
	uint8_t config[CFG_LEN];
	int activates, resets, notifies, reset_saw_lock_held;
	unsigned last_q;
	unsigned last_cfg_off, last_cfg_size;
	int irqs;
	bool irq_level;
	struct bus *bus_during_reset;   /* set: another "vCPU" writes while reset runs */
};

static void d_read_config(void *dev, uint32_t off, void *data, unsigned size)
{
	struct dummy *d = dev;

	d->last_cfg_off = off;
	d->last_cfg_size = size;
	memcpy(data, d->config + off, size);
}

static void d_write_config(void *dev, uint32_t off, const void *data, unsigned size)
{
	struct dummy *d = dev;

	d->last_cfg_off = off;
	d->last_cfg_size = size;
	memcpy(d->config + off, data, size);
}

static void d_activate(void *dev) { ((struct dummy *)dev)->activates++; }

static void d_notify(void *dev, unsigned q)
{
	struct dummy *d = dev;

	d->notifies++;
	d->last_q = q;
}

static void d_reset(void *dev)
{
	struct dummy *d = dev;

	d->resets++;
	if (pthread_mutex_trylock(&d->t->lock))
		d->reset_saw_lock_held++;
	else
		pthread_mutex_unlock(&d->t->lock);
	if (d->bus_during_reset) {
		uint32_t one = 1, zero = 0;

		bus_access(d->bus_during_reset, NULL, BASE + VIRTIO_MMIO_STATUS, &one, 4, true);
		/* the queue is still ready until the reset clears it */
		bus_access(d->bus_during_reset, NULL, BASE + VIRTIO_MMIO_QUEUE_READY, &zero, 4, true);
	}
}

static void d_irq(void *ctx, bool level)
{
	struct dummy *d = ctx;

	d->irqs++;
	d->irq_level = level;
}

static const struct virtio_dev_ops dummy_ops = {
	.read_config = d_read_config, .write_config = d_write_config,
	.activate = d_activate, .notify = d_notify, .reset = d_reset,
};

struct fix {
	struct bus bus;
	struct virtio_mmio t;
	struct dummy d;
	struct fake_ram ram;
};

static struct virtio_mmio_config fix_config(struct fix *f)
{
	return (struct virtio_mmio_config){
		.base = BASE, .device_id = 5, .device_features = 1ull << 1 | 1ull << 40,
		.config_len = CFG_LEN, .nr_queues = 2, .queue_num_max = 64,
		.ops = &dummy_ops, .dev = &f->d,
		.mem = { fake_gpa_to_hva, &f->ram },
		.irq = d_irq, .irq_ctx = &f->d,
	};
}

static struct fix *fix_new(void)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct virtio_mmio_config cfg;

	cr_assert(f);
	f->ram.buf = aligned_alloc(4096, RAM_BYTES);
	f->ram.len = RAM_BYTES;
	memset(f->ram.buf, 0, RAM_BYTES);
	f->d.t = &f->t;
	bus_init(&f->bus);
	cfg = fix_config(f);
	cr_assert_eq(virtio_mmio_init(&f->t, &f->bus, &cfg), 0);
	return f;
}

static void fix_free(struct fix *f)
{
	virtio_mmio_destroy(&f->t, &f->bus);
	bus_destroy(&f->bus);
	free(f->ram.buf);
	free(f);
}

static uint32_t rd(struct fix *f, uint64_t off)
{
	uint32_t v;

	cr_assert_eq(bus_access(&f->bus, NULL, BASE + off, &v, 4, false), 0);
	return v;
}

static void wr(struct fix *f, uint64_t off, uint32_t v)
{
	cr_assert_eq(bus_access(&f->bus, NULL, BASE + off, &v, 4, true), 0);
}

static uint64_t bad(struct fix *f, enum virtio_mmio_bad why)
{
	return atomic_load(&f->t.bad[why]);
}

/* Queue q: 8 entries, desc at 0x1000, avail at 0x2000, used at 0x3000. */
static void setup_queue(struct fix *f, uint32_t q)
{
	wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000 + q * 0x4000);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_AVAIL_LOW, 0x2000 + q * 0x4000);
	wr(f, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_USED_LOW, 0x3000 + q * 0x4000);
	wr(f, VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
}

/* The driver's side of 3.1.1 with the features given; returns Status. */
static uint32_t negotiate(struct fix *f, uint64_t features)
{
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return rd(f, VIRTIO_MMIO_STATUS);
}

static void bring_up(struct fix *f)
{
	cr_assert(negotiate(f, 1ull << VIRTIO_F_VERSION_1 | 1ull << 1) & VIRTIO_STATUS_FEATURES_OK);
	setup_queue(f, 0);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
	   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	cr_assert(virtio_mmio_driver_ok(&f->t));
}

Test(virtio_mmio, identifies_itself_as_a_version_2_device)
{
	struct fix *f = fix_new();

	cr_assert_eq(rd(f, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	cr_assert_eq(rd(f, VIRTIO_MMIO_VERSION), 2);
	cr_assert_eq(rd(f, VIRTIO_MMIO_DEVICE_ID), 5);
	cr_assert_eq(rd(f, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	cr_assert_eq(rd(f, VIRTIO_MMIO_STATUS), 0);
	cr_assert_eq(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	fix_free(f);
}

Test(virtio_mmio, device_features_are_read_32_bits_at_a_time_with_version_1)
{
	struct fix *f = fix_new();

	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert_eq(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 1u << 1);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	cr_assert_eq(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 1u << (VIRTIO_F_VERSION_1 - 32) | 1u << 8);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	cr_assert_eq(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	fix_free(f);
}

Test(virtio_mmio, offered_features_with_version_1_are_accepted)
{
	struct fix *f = fix_new();
	uint64_t want = 1ull << VIRTIO_F_VERSION_1 | 1ull << 40;

	cr_assert(negotiate(f, want) & VIRTIO_STATUS_FEATURES_OK);
	cr_assert_eq(f->t.driver_features, want);
	cr_assert_not(virtio_mmio_has_feature(&f->t, 40), "not before DRIVER_OK");
	wr(f, VIRTIO_MMIO_STATUS, 0xf);
	cr_assert_eq(f->d.activates, 1);
	cr_assert(virtio_mmio_has_feature(&f->t, 40));
	cr_assert(virtio_mmio_has_feature(&f->t, VIRTIO_F_VERSION_1));
	cr_assert_not(virtio_mmio_has_feature(&f->t, 1), "offered but not taken");
	cr_assert_not(virtio_mmio_has_feature(&f->t, 200));
	fix_free(f);
}

Test(virtio_mmio, features_not_offered_leave_features_ok_clear)
{
	struct fix *f = fix_new();

	cr_assert_not(negotiate(f, 1ull << VIRTIO_F_VERSION_1 | 1ull << 2) & VIRTIO_STATUS_FEATURES_OK);
	cr_assert_eq(bad(f, VMMIO_BAD_FEATURES), 1);
	cr_assert_eq(rd(f, VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	fix_free(f);
}

Test(virtio_mmio, features_without_version_1_are_refused)
{
	struct fix *f = fix_new();

	cr_assert_not(negotiate(f, 1ull << 1) & VIRTIO_STATUS_FEATURES_OK);
	cr_assert_eq(bad(f, VMMIO_BAD_FEATURES), 1);
	/* and DRIVER_OK cannot follow */
	wr(f, VIRTIO_MMIO_STATUS, 0x7);
	cr_assert_eq(bad(f, VMMIO_BAD_STATUS), 1);
	cr_assert_not(virtio_mmio_driver_ok(&f->t));
	cr_assert_eq(f->d.activates, 0);
	fix_free(f);
}

Test(virtio_mmio, features_are_fixed_once_accepted)
{
	struct fix *f = fix_new();

	cr_assert(negotiate(f, 1ull << VIRTIO_F_VERSION_1) & VIRTIO_STATUS_FEATURES_OK);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 2);
	cr_assert_eq(bad(f, VMMIO_BAD_FEATURES), 1);
	cr_assert_eq(f->t.driver_features, 1ull << VIRTIO_F_VERSION_1);
	fix_free(f);
}

Test(virtio_mmio, status_steps_out_of_order_or_backwards_are_ignored)
{
	struct fix *f = fix_new();

	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_DRIVER);            /* no ACK first */
	cr_assert_eq(rd(f, VIRTIO_MMIO_STATUS), 0);
	cr_assert(negotiate(f, 1ull << VIRTIO_F_VERSION_1) & VIRTIO_STATUS_FEATURES_OK);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);       /* clears bits */
	cr_assert_eq(rd(f, VIRTIO_MMIO_STATUS), 0xb);
	wr(f, VIRTIO_MMIO_STATUS, 0xb | 0x10);                      /* unknown bit */
	cr_assert_eq(rd(f, VIRTIO_MMIO_STATUS), 0xb);
	cr_assert_eq(bad(f, VMMIO_BAD_STATUS), 3);
	wr(f, VIRTIO_MMIO_STATUS, 0xb | VIRTIO_STATUS_FAILED);      /* giving up is fine */
	cr_assert_eq(rd(f, VIRTIO_MMIO_STATUS), 0x8b);
	cr_assert_eq(bad(f, VMMIO_BAD_STATUS), 3);
	fix_free(f);
}

Test(virtio_mmio, status_0_resets_the_device_without_its_lock_and_clears_everything)
{
	struct fix *f = fix_new();

	bring_up(f);
	virtio_mmio_signal_used(&f->t, 0);
	cr_assert_eq(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(f->d.resets, 1);
	cr_assert_eq(f->d.reset_saw_lock_held, 0);
	cr_assert_eq(atomic_load(&f->t.resets), 1);
	cr_assert_eq(rd(f, VIRTIO_MMIO_STATUS), 0);
	cr_assert_eq(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_not(f->d.irq_level, "line lowered");
	cr_assert_eq(f->t.driver_features, 0);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_eq(f->t.vqs[0].desc_gpa, 0);
	cr_assert_eq(f->t.vqs[0].size, 64, "QueueNum back to its default");
	cr_assert_not(virtio_mmio_driver_ok(&f->t));
	fix_free(f);
}

Test(virtio_mmio, status_and_queue_ready_writes_during_a_reset_are_refused)
{
	struct fix *f = fix_new();

	bring_up(f);
	f->d.bus_during_reset = &f->bus;
	wr(f, VIRTIO_MMIO_STATUS, 0);
	f->d.bus_during_reset = NULL;
	cr_assert_eq(bad(f, VMMIO_BAD_STATUS), 1);
	cr_assert_eq(bad(f, VMMIO_BAD_QUEUE_ENABLE), 1);
	cr_assert_eq(rd(f, VIRTIO_MMIO_STATUS), 0);
	cr_assert_eq(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	/* and afterwards the driver starts over normally */
	bring_up(f);
	fix_free(f);
}

Test(virtio_mmio, queue_ready_enables_a_valid_layout_only)
{
	struct fix *f = fix_new();

	setup_queue(f, 1);
	cr_assert_eq(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	cr_assert(f->t.vqs[1].ready);
	cr_assert_eq(f->t.vqs[1].size, 8);
	cr_assert_eq(f->t.vqs[1].avail_gpa, 0x6000);

	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_USED_LOW, 0xfff0);    /* used ring past RAM */
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	cr_assert_eq(bad(f, VMMIO_BAD_QUEUE_ENABLE), 1);
	fix_free(f);
}

Test(virtio_mmio, queue_layout_cannot_change_while_ready)
{
	struct fix *f = fix_new();

	setup_queue(f, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 16);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x8000);
	wr(f, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 1);
	wr(f, VIRTIO_MMIO_QUEUE_USED_LOW, 0x9000);
	cr_assert_eq(bad(f, VMMIO_BAD_QUEUE_LIVE), 4);
	cr_assert_eq(f->t.vqs[0].size, 8);
	cr_assert_eq(f->t.vqs[0].desc_gpa, 0x1000);
	cr_assert_eq(f->t.vqs[0].avail_gpa, 0x2000);
	cr_assert_eq(f->t.vqs[0].used_gpa, 0x3000);
	/* taking the queue down before DRIVER_OK allows changes again */
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x8000);
	cr_assert_eq(f->t.vqs[0].desc_gpa, 0x8000);
	fix_free(f);
}

Test(virtio_mmio, queues_cannot_be_taken_down_or_added_after_driver_ok)
{
	struct fix *f = fix_new();

	bring_up(f);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	cr_assert_eq(bad(f, VMMIO_BAD_QUEUE_LIVE), 1);
	cr_assert(f->t.vqs[0].ready);
	setup_queue(f, 1);
	cr_assert_eq(bad(f, VMMIO_BAD_QUEUE_ENABLE), 1);
	cr_assert_not(f->t.vqs[1].ready);
	fix_free(f);
}

Test(virtio_mmio, queue_num_must_be_a_power_of_two_up_to_the_maximum)
{
	struct fix *f = fix_new();

	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 12);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 128);
	cr_assert_eq(bad(f, VMMIO_BAD_QUEUE_NUM), 3);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 32);
	cr_assert_eq(f->t.vqs[0].size, 32);
	fix_free(f);
}

Test(virtio_mmio, queue_registers_past_nr_queues_read_0_and_ignore_writes)
{
	struct fix *f = fix_new();

	wr(f, VIRTIO_MMIO_QUEUE_SEL, 2);
	cr_assert_eq(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	cr_assert_eq(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(bad(f, VMMIO_BAD_QUEUE_SEL), 3);
	fix_free(f);
}

Test(virtio_mmio, notify_reaches_the_device_only_after_driver_ok_on_a_ready_queue)
{
	struct fix *f = fix_new();

	setup_queue(f, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert_eq(bad(f, VMMIO_BAD_NOTIFY), 1);
	cr_assert_eq(f->d.notifies, 0);
	f->d.activates = 0;
	cr_assert(negotiate(f, 1ull << VIRTIO_F_VERSION_1) & VIRTIO_STATUS_FEATURES_OK);
	wr(f, VIRTIO_MMIO_STATUS, 0xf);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 1);           /* not ready */
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 7);           /* no such queue */
	cr_assert_eq(bad(f, VMMIO_BAD_NOTIFY), 3);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert_eq(f->d.notifies, 1);
	cr_assert_eq(f->d.last_q, 0);
	cr_assert_eq(atomic_load(&f->t.notifies), 1);
	fix_free(f);
}

Test(virtio_mmio, config_space_is_forwarded_at_any_size_within_its_length)
{
	struct fix *f = fix_new();
	uint64_t v8 = 0x0807060504030201ull, out = 0;
	uint16_t v2 = 0xbeef;

	cr_assert_eq(bus_access(&f->bus, NULL, BASE + VIRTIO_MMIO_CONFIG + 4, &v8, 8, true), 0);
	cr_assert_eq(f->d.last_cfg_off, 4);
	cr_assert_eq(f->d.last_cfg_size, 8);
	cr_assert_eq(f->d.config[4], 1);
	cr_assert_eq(f->d.config[11], 8);
	cr_assert_eq(bus_access(&f->bus, NULL, BASE + VIRTIO_MMIO_CONFIG + 1, &v2, 2, true), 0);
	cr_assert_eq(bus_access(&f->bus, NULL, BASE + VIRTIO_MMIO_CONFIG + 1, &out, 1, false), 0);
	cr_assert_eq(out, 0xef);
	cr_assert_eq(rd(f, VIRTIO_MMIO_CONFIG + 4), 0x04030201);
	cr_assert_eq(bad(f, VMMIO_BAD_CONFIG), 0);
	fix_free(f);
}

Test(virtio_mmio, config_access_past_its_length_reads_0_and_is_counted)
{
	struct fix *f = fix_new();
	uint64_t v = ~0ull;

	f->d.last_cfg_size = 0;
	cr_assert_eq(bus_access(&f->bus, NULL, BASE + VIRTIO_MMIO_CONFIG + 8, &v, 8, false), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(bus_access(&f->bus, NULL, BASE + VIRTIO_MMIO_CONFIG + CFG_LEN, &v, 1, true), 0);
	cr_assert_eq(bus_access(&f->bus, NULL, BASE + 0xff8, &v, 8, false), 0);
	cr_assert_eq(bad(f, VMMIO_BAD_CONFIG), 3);
	cr_assert_eq(f->d.last_cfg_size, 0, "never forwarded");
	fix_free(f);
}

Test(virtio_mmio, registers_accessed_at_other_sizes_are_counted_and_read_0)
{
	struct fix *f = fix_new();
	uint64_t v = ~0ull;
	uint16_t s = 0;

	cr_assert_eq(bus_access(&f->bus, NULL, BASE + VIRTIO_MMIO_MAGIC_VALUE, &v, 8, false), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(bus_access(&f->bus, NULL, BASE + VIRTIO_MMIO_STATUS, &s, 2, true), 0);
	cr_assert_eq(bad(f, VMMIO_BAD_SIZE), 2);
	cr_assert_eq(rd(f, VIRTIO_MMIO_STATUS), 0);
	fix_free(f);
}

Test(virtio_mmio, unknown_and_write_only_registers_read_0_and_are_counted)
{
	struct fix *f = fix_new();

	cr_assert_eq(rd(f, 0x0e0), 0);
	cr_assert_eq(rd(f, 0x002), 0);
	cr_assert_eq(rd(f, VIRTIO_MMIO_QUEUE_NOTIFY), 0);
	cr_assert_eq(rd(f, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
	wr(f, 0x0e0, 1);
	cr_assert_eq(bad(f, VMMIO_BAD_OFFSET), 5);
	wr(f, VIRTIO_MMIO_MAGIC_VALUE, 0);
	wr(f, VIRTIO_MMIO_INTERRUPT_STATUS, 0);
	wr(f, VIRTIO_MMIO_CONFIG_GENERATION, 0);
	cr_assert_eq(bad(f, VMMIO_BAD_READONLY), 3);
	cr_assert_eq(rd(f, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	fix_free(f);
}

Test(virtio_mmio, interrupt_status_is_raised_by_the_device_and_acked_by_the_driver)
{
	struct fix *f = fix_new();

	virtio_mmio_signal_used(&f->t, 0);
	cr_assert_eq(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0, "no interrupts before DRIVER_OK");
	cr_assert_eq(f->d.irqs, 0);
	bring_up(f);
	virtio_mmio_signal_used(&f->t, 0);
	cr_assert_eq(f->d.irqs, 1);
	cr_assert(f->d.irq_level);
	virtio_mmio_config_changed(&f->t);
	cr_assert_eq(f->d.irqs, 2, "raised again for the new event");
	cr_assert_eq(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	cr_assert_eq(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	cr_assert(f->d.irq_level);
	cr_assert_eq(f->d.irqs, 2, "level unchanged: no call");
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	cr_assert_not(f->d.irq_level);
	cr_assert_eq(f->d.irqs, 3);
	fix_free(f);
}

Test(virtio_mmio, config_generation_counts_config_changes)
{
	struct fix *f = fix_new();
	uint32_t g = rd(f, VIRTIO_MMIO_CONFIG_GENERATION);

	virtio_mmio_config_changed(&f->t);
	virtio_mmio_config_changed(&f->t);
	cr_assert_eq(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), g + 2);
	fix_free(f);
}

Test(virtio_mmio, needs_reset_sets_the_status_bit_until_reset)
{
	struct fix *f = fix_new();

	bring_up(f);
	virtio_mmio_needs_reset(&f->t);
	cr_assert_eq(rd(f, VIRTIO_MMIO_STATUS), 0xf | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	cr_assert_eq(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	wr(f, VIRTIO_MMIO_STATUS, 0xf | VIRTIO_STATUS_FAILED);   /* the driver cannot clear it */
	cr_assert_eq(rd(f, VIRTIO_MMIO_STATUS), 0x8f | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	wr(f, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(rd(f, VIRTIO_MMIO_STATUS), 0);
	fix_free(f);
}

Test(virtio_mmio, init_validates_its_config)
{
	struct fix *f = fix_new();
	struct virtio_mmio t2;
	struct virtio_mmio_config cfg = fix_config(f);

	cfg.base = BASE + 0x2000;
	cfg.base += 0x100;
	cr_assert_eq(virtio_mmio_init(&t2, &f->bus, &cfg), -EINVAL);
	cfg = fix_config(f);
	cfg.base = BASE + 0x2000;
	cfg.nr_queues = 0;
	cr_assert_eq(virtio_mmio_init(&t2, &f->bus, &cfg), -EINVAL);
	cfg.nr_queues = VIRTIO_MMIO_MAX_QUEUES + 1;
	cr_assert_eq(virtio_mmio_init(&t2, &f->bus, &cfg), -EINVAL);
	cfg.nr_queues = 1;
	cfg.queue_num_max = 48;
	cr_assert_eq(virtio_mmio_init(&t2, &f->bus, &cfg), -EINVAL);
	cfg.queue_num_max = VIRTQ_MAX_SIZE * 2;
	cr_assert_eq(virtio_mmio_init(&t2, &f->bus, &cfg), -EINVAL);
	cfg.queue_num_max = VIRTQ_MAX_SIZE;
	cfg.config_len = 0xf01;
	cr_assert_eq(virtio_mmio_init(&t2, &f->bus, &cfg), -EINVAL);
	cfg.config_len = 0xf00;
	cfg.base = BASE;
	cr_assert_eq(virtio_mmio_init(&t2, &f->bus, &cfg), -EEXIST, "slot taken");
	cfg.base = BASE + 0x2000;
	cr_assert_eq(virtio_mmio_init(&t2, &f->bus, &cfg), 0);
	virtio_mmio_destroy(&t2, &f->bus);
	fix_free(f);
}

Test(virtio_mmio, destroy_unregisters_and_resets_the_device)
{
	struct bus bus;
	struct virtio_mmio t;
	struct dummy d = { .t = &t };
	struct fake_ram ram = { NULL, 0 };
	struct virtio_mmio_config cfg = {
		.base = BASE, .nr_queues = 1, .queue_num_max = 8, .ops = &dummy_ops, .dev = &d,
		.mem = { fake_gpa_to_hva, &ram },
	};
	uint32_t v;

	bus_init(&bus);
	cr_assert_eq(virtio_mmio_init(&t, &bus, &cfg), 0);
	virtio_mmio_destroy(&t, &bus);
	cr_assert_eq(d.resets, 1);
	cr_assert_eq(bus_access(&bus, NULL, BASE, &v, 4, false), -ENOENT);
	bus_destroy(&bus);
}

Test(virtio_mmio, every_bad_kind_has_a_name)
{
	for (int i = 0; i < NR_VMMIO_BAD; i++)
		cr_assert(virtio_mmio_bad_names[i] && virtio_mmio_bad_names[i][0]);
}
