/*
 * virtio-mmio transport, version 2 ("modern", virtio 1.2 section 4.2.2):
 * the register block a driver programs, feature negotiation, the status
 * state machine, and the queues' layout registers. The device model
 * (balloon/balloon_dev.c) supplies its features, config space and queue
 * work through virtio_dev_ops, as Firecracker keeps the transport apart
 * from its devices; the transport never interprets a queue's contents.
 *
 * A driver's nonsense is counted and ignored, never fatal: an unknown or
 * read-only register written, a write of the wrong size, queue layout
 * changed while the queue is ready, a feature the device did not offer,
 * FEATURES_OK without VIRTIO_F_VERSION_1, DRIVER_OK before FEATURES_OK,
 * a queue that fails virtq_enable(). Where the spec says the device must
 * refuse (features), FEATURES_OK is left clear; where a queue is broken the
 * device is marked DEVICE_NEEDS_RESET and a config change raised.
 *
 * Interrupts: the test guest polls; Linux guests take an interrupt line,
 * raised through the irq callback (level: InterruptStatus != 0).
 *
 * Locking: t->lock serializes register accesses (any vCPU) against the
 * device's own calls below; dev ops are called with it held except
 * reset, which is called without it and must return only once the device
 * no longer touches its queues. So ops (and irq, also called with it held)
 * must not call the virtio_mmio_*() functions below: hand the work to the
 * device's thread. While a reset is in flight, Status and QueueReady
 * writes are refused (counted).
 *
 * Queues: QueueReady=1 calls virtq_enable(); queues are enabled and taken
 * down only before DRIVER_OK (no VIRTIO_F_RING_RESET). A reset gives each
 * queue QueueNum = queue_num_max until the driver writes another.
 * Interrupts are raised only once DRIVER_OK is set.
 */
#ifndef GMM_DEVICES_VIRTIO_MMIO_H
#define GMM_DEVICES_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/virtio_mmio_regs.h"
#include "devices/virtq.h"

#define VIRTIO_MMIO_MAX_QUEUES 8

struct virtio_mmio;

struct virtio_dev_ops {
	/* config space: off/size already checked to lie inside config_len */
	void (*read_config)(void *dev, uint32_t off, void *data, unsigned size);
	void (*write_config)(void *dev, uint32_t off, const void *data, unsigned size);
	/* DRIVER_OK was set: the negotiated features are in t->driver_features
	 * and every ready queue is enabled. */
	void (*activate)(void *dev);
	/* QueueNotify for queue q (< nr_queues, ready) while DRIVER_OK. Runs
	 * on a vCPU thread: hand the work to the device's own thread. */
	void (*notify)(void *dev, unsigned q);
	/* The driver wrote 0 to Status (or the transport is torn down): stop
	 * using the queues, forget negotiated state. Called without t->lock. */
	void (*reset)(void *dev);
};

/* What a misbehaving driver did, counted (each ignored). */
enum virtio_mmio_bad {
	VMMIO_BAD_OFFSET,        /* unknown register, or a read of a write-only one */
	VMMIO_BAD_SIZE,          /* registers are 32-bit; config space any size within */
	VMMIO_BAD_READONLY,      /* a write to a read-only register */
	VMMIO_BAD_QUEUE_SEL,     /* a queue register with QueueSel >= nr_queues */
	VMMIO_BAD_QUEUE_LIVE,    /* layout changed while the queue is ready */
	VMMIO_BAD_QUEUE_NUM,     /* QueueNum 0, above QueueNumMax, or no power of two */
	VMMIO_BAD_QUEUE_ENABLE,  /* QueueReady=1 on a layout virtq_enable() refused */
	VMMIO_BAD_FEATURES,      /* features not offered, or no VERSION_1: FEATURES_OK refused */
	VMMIO_BAD_STATUS,        /* a status transition the spec does not allow */
	VMMIO_BAD_NOTIFY,        /* notify of a queue that is not ready, or before DRIVER_OK */
	VMMIO_BAD_CONFIG,        /* config access outside config_len */
	NR_VMMIO_BAD
};
extern const char *const virtio_mmio_bad_names[NR_VMMIO_BAD];

struct virtio_mmio {
	pthread_mutex_t lock;
	uint64_t base;                /* guest-physical address on the bus */
	uint32_t device_id;
	uint64_t device_features;     /* offered, VIRTIO_F_VERSION_1 included */
	uint32_t config_len;
	unsigned nr_queues;
	uint16_t queue_num_max;
	const struct virtio_dev_ops *ops;
	void *dev;
	struct virtq_mem mem;
	void (*irq)(void *ctx, bool level); /* may be NULL (polling guests) */
	void *irq_ctx;

	/* register state */
	uint32_t status;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t driver_features;     /* as written; valid once FEATURES_OK */
	uint32_t interrupt_status;
	uint32_t config_generation;
	struct virtq vqs[VIRTIO_MMIO_MAX_QUEUES];
	bool irq_level;               /* last level given to irq */
	unsigned resetting;           /* resets in flight (ops->reset runs unlocked):
	                               * Status and QueueReady writes are refused meanwhile */

	_Atomic uint64_t bad[NR_VMMIO_BAD];
	_Atomic uint64_t notifies, resets;
};

struct virtio_mmio_config {
	uint64_t base;                /* VIRTIO_MMIO_SIZE-aligned, in the device hole */
	uint32_t device_id;
	uint64_t device_features;     /* VIRTIO_F_VERSION_1 is added */
	uint32_t config_len;          /* bytes of device config space, <= 0xf00 */
	unsigned nr_queues;           /* 1..VIRTIO_MMIO_MAX_QUEUES */
	uint16_t queue_num_max;       /* power of two, <= VIRTQ_MAX_SIZE */
	const struct virtio_dev_ops *ops;
	void *dev;
	struct virtq_mem mem;
	void (*irq)(void *ctx, bool level);
	void *irq_ctx;
};

/* Register the device's VIRTIO_MMIO_SIZE slot on the MMIO bus. -errno. */
int virtio_mmio_init(struct virtio_mmio *t, struct bus *mmio, const struct virtio_mmio_config *cfg);
/* Unregister (the guest is gone); calls ops->reset. */
void virtio_mmio_destroy(struct virtio_mmio *t, struct bus *mmio);

/* The device's side, from its own thread (each takes t->lock): */
/* queue q's used ring has new entries: InterruptStatus bit 0, irq */
void virtio_mmio_signal_used(struct virtio_mmio *t, unsigned q);
/* config space changed: ConfigGeneration++, InterruptStatus bit 1, irq */
void virtio_mmio_config_changed(struct virtio_mmio *t);
/* a broken queue: Status |= DEVICE_NEEDS_RESET and a config change */
void virtio_mmio_needs_reset(struct virtio_mmio *t);
/* true when the driver negotiated feature bit `bit` and set DRIVER_OK */
bool virtio_mmio_has_feature(struct virtio_mmio *t, unsigned bit);
bool virtio_mmio_driver_ok(struct virtio_mmio *t);

#endif
