/* virtio-mmio transport, version 2; see virtio_mmio.h and virtio 1.2 4.2.2. */
#include "devices/virtio_mmio.h"

#include <errno.h>
#include <string.h>

const char *const virtio_mmio_bad_names[NR_VMMIO_BAD] = {
	[VMMIO_BAD_OFFSET]       = "bad_offset",
	[VMMIO_BAD_SIZE]         = "bad_size",
	[VMMIO_BAD_READONLY]     = "bad_readonly",
	[VMMIO_BAD_QUEUE_SEL]    = "bad_queue_sel",
	[VMMIO_BAD_QUEUE_LIVE]   = "bad_queue_live",
	[VMMIO_BAD_QUEUE_NUM]    = "bad_queue_num",
	[VMMIO_BAD_QUEUE_ENABLE] = "bad_queue_enable",
	[VMMIO_BAD_FEATURES]     = "bad_features",
	[VMMIO_BAD_STATUS]       = "bad_status",
	[VMMIO_BAD_NOTIFY]       = "bad_notify",
	[VMMIO_BAD_CONFIG]       = "bad_config",
};

#define STATUS_DRIVER_BITS (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
			    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK | \
			    VIRTIO_STATUS_FAILED)

static void bad(struct virtio_mmio *t, enum virtio_mmio_bad why)
{
	atomic_fetch_add(&t->bad[why], 1);
}

/* Give the irq line its level (InterruptStatus != 0) when that changed,
 * or again when an interrupt was raised (an edge-triggered line needs
 * one per event). Called with t->lock held. */
static void irq_update(struct virtio_mmio *t, bool raised)
{
	bool level = t->interrupt_status != 0;

	if (t->irq && (raised || level != t->irq_level))
		t->irq(t->irq_ctx, level);
	t->irq_level = level;
}

/* Raise InterruptStatus bits; the spec lets a device notify only once
 * DRIVER_OK is set (2.1.2, 2.7.23). Called with t->lock held. */
static void interrupt_raise(struct virtio_mmio *t, uint32_t bits)
{
	if (!(t->status & VIRTIO_STATUS_DRIVER_OK))
		return;
	t->interrupt_status |= bits;
	irq_update(t, true);
}

static struct virtq *sel_vq(struct virtio_mmio *t)
{
	return t->queue_sel < t->nr_queues ? &t->vqs[t->queue_sel] : NULL;
}

/* Back to the state after power-on, as 4.2.2.1 asks of a Status write of
 * 0. ops->reset runs without t->lock (it waits for the device's thread,
 * which may be inside virtio_mmio_signal_used()); `resetting` keeps the
 * driver from bringing the device back up under it. Status reads 0 from
 * the start, so notifications stop at once. */
static void device_reset(struct virtio_mmio *t)
{
	unsigned q;

	pthread_mutex_lock(&t->lock);
	t->resetting++;
	t->status = 0;
	pthread_mutex_unlock(&t->lock);

	if (t->ops->reset)
		t->ops->reset(t->dev);

	pthread_mutex_lock(&t->lock);
	for (q = 0; q < t->nr_queues; q++) {
		virtq_reset(&t->vqs[q]);
		t->vqs[q].size = t->queue_num_max;   /* QueueNum's default */
	}
	t->status = 0;
	t->device_features_sel = t->driver_features_sel = t->queue_sel = 0;
	t->driver_features = 0;
	t->interrupt_status = 0;
	irq_update(t, false);
	t->resetting--;
	atomic_fetch_add(&t->resets, 1);
	pthread_mutex_unlock(&t->lock);
}

static uint32_t features_word(uint64_t features, uint32_t sel)
{
	if (sel == 0)
		return (uint32_t)features;
	if (sel == 1)
		return (uint32_t)(features >> 32);
	return 0;
}

/* FEATURES_OK may be set only for a subset of what was offered that
 * includes VERSION_1: gmm has no legacy interface (6.1). */
static bool features_acceptable(const struct virtio_mmio *t)
{
	return !(t->driver_features & ~t->device_features) &&
	       (t->driver_features >> VIRTIO_F_VERSION_1 & 1);
}

static void driver_features_write(struct virtio_mmio *t, uint32_t val)
{
	if (t->status & VIRTIO_STATUS_FEATURES_OK) {
		bad(t, VMMIO_BAD_FEATURES);       /* fixed once accepted */
		return;
	}
	if (t->driver_features_sel == 0) {
		t->driver_features = (t->driver_features & ~0xffffffffull) | val;
	} else if (t->driver_features_sel == 1) {
		t->driver_features = (t->driver_features & 0xffffffffull) | (uint64_t)val << 32;
	} else if (val) {
		bad(t, VMMIO_BAD_FEATURES);       /* bits 64+ are never offered */
	}
}

/* A nonzero Status write: bits are only ever added, each after the one
 * before it (3.1.1): ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK. FAILED
 * may come at any time. DEVICE_NEEDS_RESET belongs to the device: what the
 * driver writes there is ignored and only a reset clears it. */
static void status_write(struct virtio_mmio *t, uint32_t val)
{
	uint32_t old = t->status & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	uint32_t new = val & ~VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	uint32_t set = new & ~old;

	if (t->resetting || (new & ~STATUS_DRIVER_BITS) || (old & ~new) ||
	    ((set & VIRTIO_STATUS_DRIVER) && !(new & VIRTIO_STATUS_ACKNOWLEDGE)) ||
	    ((set & VIRTIO_STATUS_FEATURES_OK) && !(new & VIRTIO_STATUS_DRIVER)) ||
	    ((set & VIRTIO_STATUS_DRIVER_OK) && !(new & VIRTIO_STATUS_FEATURES_OK))) {
		bad(t, VMMIO_BAD_STATUS);
		return;
	}
	if ((set & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(t)) {
		/* 3.1.1 step 6: the driver reads FEATURES_OK back and finds it clear */
		bad(t, VMMIO_BAD_FEATURES);
		new &= ~VIRTIO_STATUS_FEATURES_OK;
		set &= ~VIRTIO_STATUS_FEATURES_OK;
		if (set & VIRTIO_STATUS_DRIVER_OK) {
			bad(t, VMMIO_BAD_STATUS);
			new &= ~VIRTIO_STATUS_DRIVER_OK;
			set &= ~VIRTIO_STATUS_DRIVER_OK;
		}
	}
	t->status = new | (t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* The queues enabled by QueueReady go live with DRIVER_OK: from now
	 * on notifies reach the device. */
	if ((set & VIRTIO_STATUS_DRIVER_OK) && t->ops->activate)
		t->ops->activate(t->dev);
}

static void queue_num_write(struct virtio_mmio *t, uint32_t val)
{
	struct virtq *vq = sel_vq(t);

	if (!vq)
		bad(t, VMMIO_BAD_QUEUE_SEL);
	else if (vq->ready)
		bad(t, VMMIO_BAD_QUEUE_LIVE);
	else if (!val || val > t->queue_num_max || (val & (val - 1)))
		bad(t, VMMIO_BAD_QUEUE_NUM);
	else
		vq->size = (uint16_t)val;
}

/* QueueReady: 1 resolves the layout (virtq_enable()), 0 takes the queue
 * down again. Neither is allowed once DRIVER_OK: the device's thread
 * works on ready queues without t->lock (virtq.h), and this transport
 * offers no VIRTIO_F_RING_RESET. */
static void queue_ready_write(struct virtio_mmio *t, uint32_t val)
{
	struct virtq *vq = sel_vq(t);

	if (!vq) {
		bad(t, VMMIO_BAD_QUEUE_SEL);
		return;
	}
	if (val == (uint32_t)vq->ready)
		return;
	if (t->resetting) {
		/* ops->reset may still be stopping the device's thread */
		bad(t, VMMIO_BAD_QUEUE_ENABLE);
		return;
	}
	if (t->status & VIRTIO_STATUS_DRIVER_OK) {
		bad(t, val ? VMMIO_BAD_QUEUE_ENABLE : VMMIO_BAD_QUEUE_LIVE);
		return;
	}
	if (!val) {
		vq->ready = false;
		return;
	}
	if (val != 1 || virtq_enable(vq, &t->mem))
		bad(t, VMMIO_BAD_QUEUE_ENABLE);
}

/* One 32-bit half of a ring address, only while the queue is not ready. */
static void queue_addr_write(struct virtio_mmio *t, uint32_t off, uint32_t val)
{
	struct virtq *vq = sel_vq(t);
	uint64_t *gpa;
	bool high = off & 4;

	if (!vq) {
		bad(t, VMMIO_BAD_QUEUE_SEL);
		return;
	}
	if (vq->ready) {
		bad(t, VMMIO_BAD_QUEUE_LIVE);
		return;
	}
	switch (off & ~4u) {
	case VIRTIO_MMIO_QUEUE_DESC_LOW:  gpa = &vq->desc_gpa; break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: gpa = &vq->avail_gpa; break;
	default:                          gpa = &vq->used_gpa; break;
	}
	if (high)
		*gpa = (*gpa & 0xffffffffull) | (uint64_t)val << 32;
	else
		*gpa = (*gpa & ~0xffffffffull) | val;
}

/* QueueNotify carries the queue index (no VIRTIO_F_NOTIFICATION_DATA). */
static void queue_notify(struct virtio_mmio *t, uint32_t q)
{
	if (q >= t->nr_queues || !(t->status & VIRTIO_STATUS_DRIVER_OK) || !t->vqs[q].ready) {
		bad(t, VMMIO_BAD_NOTIFY);
		return;
	}
	atomic_fetch_add(&t->notifies, 1);
	if (t->ops->notify)
		t->ops->notify(t->dev, q);
}

static uint32_t reg_read(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *vq = sel_vq(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:       return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION:           return 2;
	case VIRTIO_MMIO_DEVICE_ID:         return t->device_id;
	case VIRTIO_MMIO_VENDOR_ID:         return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:   return features_word(t->device_features, t->device_features_sel);
	/* a driver probes queues by QueueNumMax == 0: not counted */
	case VIRTIO_MMIO_QUEUE_NUM_MAX:     return vq ? t->queue_num_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:       return vq ? vq->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:  return t->interrupt_status;
	case VIRTIO_MMIO_STATUS:            return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION: return t->config_generation;
	default:
		bad(t, VMMIO_BAD_OFFSET);   /* unknown, or write-only */
		return 0;
	}
}

static void reg_write(struct virtio_mmio *t, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
	case VIRTIO_MMIO_VERSION:
	case VIRTIO_MMIO_DEVICE_ID:
	case VIRTIO_MMIO_VENDOR_ID:
	case VIRTIO_MMIO_DEVICE_FEATURES:
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
	case VIRTIO_MMIO_INTERRUPT_STATUS:
	case VIRTIO_MMIO_CONFIG_GENERATION:
		bad(t, VMMIO_BAD_READONLY);
		break;
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->device_features_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->driver_features_sel = val; break;
	case VIRTIO_MMIO_QUEUE_SEL:           t->queue_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES:     driver_features_write(t, val); break;
	case VIRTIO_MMIO_QUEUE_NUM:           queue_num_write(t, val); break;
	case VIRTIO_MMIO_QUEUE_READY:         queue_ready_write(t, val); break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:        queue_notify(t, val); break;
	case VIRTIO_MMIO_STATUS:              status_write(t, val); break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->interrupt_status &= ~val;
		irq_update(t, false);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		queue_addr_write(t, (uint32_t)off, val);
		break;
	default:
		bad(t, VMMIO_BAD_OFFSET);
		break;
	}
}

/* Config space: any size, wholly inside config_len (the bus already
 * refused accesses straddling the slot's end). */
static bool config_bounded(struct virtio_mmio *t, uint64_t off, unsigned size)
{
	if (off > t->config_len || size > t->config_len - off) {
		bad(t, VMMIO_BAD_CONFIG);
		return false;
	}
	return true;
}

static void mmio_read(void *opaque, struct vcpu *vcpu, uint64_t off, void *data, unsigned size)
{
	struct virtio_mmio *t = opaque;
	uint32_t val;

	(void)vcpu;
	memset(data, 0, size);
	if (off >= VIRTIO_MMIO_CONFIG) {
		off -= VIRTIO_MMIO_CONFIG;
		if (!config_bounded(t, off, size))
			return;
		pthread_mutex_lock(&t->lock);
		if (t->ops->read_config)
			t->ops->read_config(t->dev, (uint32_t)off, data, size);
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (size != 4) {
		bad(t, VMMIO_BAD_SIZE);
		return;
	}
	pthread_mutex_lock(&t->lock);
	val = reg_read(t, off);
	pthread_mutex_unlock(&t->lock);
	memcpy(data, &val, 4);
}

static void mmio_write(void *opaque, struct vcpu *vcpu, uint64_t off, const void *data, unsigned size)
{
	struct virtio_mmio *t = opaque;
	uint32_t val;

	(void)vcpu;
	if (off >= VIRTIO_MMIO_CONFIG) {
		off -= VIRTIO_MMIO_CONFIG;
		if (!config_bounded(t, off, size))
			return;
		pthread_mutex_lock(&t->lock);
		if (t->ops->write_config)
			t->ops->write_config(t->dev, (uint32_t)off, data, size);
		pthread_mutex_unlock(&t->lock);
		return;
	}
	if (size != 4) {
		bad(t, VMMIO_BAD_SIZE);
		return;
	}
	memcpy(&val, data, 4);
	if (off == VIRTIO_MMIO_STATUS && val == 0) {
		device_reset(t);
		return;
	}
	pthread_mutex_lock(&t->lock);
	reg_write(t, off, val);
	pthread_mutex_unlock(&t->lock);
}

static const struct bus_ops virtio_mmio_ops = { .read = mmio_read, .write = mmio_write };

static int config_validate(const struct virtio_mmio_config *cfg)
{
	if (cfg->base % VIRTIO_MMIO_SIZE || cfg->base + VIRTIO_MMIO_SIZE < cfg->base)
		return -EINVAL;
	if (cfg->nr_queues < 1 || cfg->nr_queues > VIRTIO_MMIO_MAX_QUEUES)
		return -EINVAL;
	if (!cfg->queue_num_max || cfg->queue_num_max > VIRTQ_MAX_SIZE ||
	    (cfg->queue_num_max & (cfg->queue_num_max - 1)))
		return -EINVAL;
	if (cfg->config_len > VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG)
		return -EINVAL;
	if (!cfg->ops || !cfg->mem.gpa_to_hva)
		return -EINVAL;
	return 0;
}

int virtio_mmio_init(struct virtio_mmio *t, struct bus *mmio, const struct virtio_mmio_config *cfg)
{
	unsigned q;
	int ret;

	ret = config_validate(cfg);
	if (ret)
		return ret;
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->base = cfg->base;
	t->device_id = cfg->device_id;
	t->device_features = cfg->device_features | 1ull << VIRTIO_F_VERSION_1;
	t->config_len = cfg->config_len;
	t->nr_queues = cfg->nr_queues;
	t->queue_num_max = cfg->queue_num_max;
	t->ops = cfg->ops;
	t->dev = cfg->dev;
	t->mem = cfg->mem;
	t->irq = cfg->irq;
	t->irq_ctx = cfg->irq_ctx;
	for (q = 0; q < t->nr_queues; q++)
		t->vqs[q].size = t->queue_num_max;
	ret = bus_register(mmio, t->base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, t);
	if (ret)
		pthread_mutex_destroy(&t->lock);
	return ret;
}

void virtio_mmio_destroy(struct virtio_mmio *t, struct bus *mmio)
{
	/* The bus's write lock waits out accesses in flight on other vCPUs. */
	bus_unregister(mmio, t->base);
	device_reset(t);
	pthread_mutex_destroy(&t->lock);
}

void virtio_mmio_signal_used(struct virtio_mmio *t, unsigned q)
{
	if (q >= t->nr_queues)
		return;
	pthread_mutex_lock(&t->lock);
	interrupt_raise(t, VIRTIO_MMIO_INT_VRING);
	pthread_mutex_unlock(&t->lock);
}

static void config_changed_locked(struct virtio_mmio *t)
{
	t->config_generation++;
	interrupt_raise(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	config_changed_locked(t);
	pthread_mutex_unlock(&t->lock);
}

/* 2.1.2: with DRIVER_OK set, DEVICE_NEEDS_RESET comes with a
 * configuration change notification. */
void virtio_mmio_needs_reset(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	if (!(t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)) {
		t->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
		config_changed_locked(t);
	}
	pthread_mutex_unlock(&t->lock);
}

bool virtio_mmio_has_feature(struct virtio_mmio *t, unsigned bit)
{
	bool ret;

	if (bit >= 64)
		return false;
	pthread_mutex_lock(&t->lock);
	ret = (t->status & VIRTIO_STATUS_DRIVER_OK) && (t->driver_features >> bit & 1);
	pthread_mutex_unlock(&t->lock);
	return ret;
}

bool virtio_mmio_driver_ok(struct virtio_mmio *t)
{
	bool ret;

	pthread_mutex_lock(&t->lock);
	ret = t->status & VIRTIO_STATUS_DRIVER_OK;
	pthread_mutex_unlock(&t->lock);
	return ret;
}
