/*
 * A polling virtio-mmio driver core for the test guest (virtio 1.2:
 * 4.2.2 the MMIO register layout, version 2 only; 3.1.1 device
 * initialization; 2.7 split virtqueues). There are no interrupts: a
 * driver posts buffers, kicks the queue (QueueNotify) and polls the used
 * ring.
 *
 * Registers are reached with plain 32-bit `mov` loads and stores: gmm's
 * native accelerator decodes mov/movzx alone, and a 64-bit access to a
 * register is not allowed by the spec (4.2.2.2).
 */
#ifndef GMM_GUEST_VIRTIO_H
#define GMM_GUEST_VIRTIO_H

#include "devices/virtio_mmio_regs.h"
#include "guest/compiler.h"
#include "guest/fmt.h"

/* Split virtqueue layout (2.7), little-endian. */
#define VRING_DESC_F_NEXT       1
#define VRING_DESC_F_WRITE      2
#define VRING_AVAIL_F_NO_INTERRUPT 1

struct vring_desc {
	uint64_t addr;     /* guest-physical */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};

/* The largest queue this driver sets up, and the memory one takes: each
 * ring on a page of its own (desc 16 * 256 = 4096 bytes, avail and used
 * smaller), which satisfies every alignment the spec asks. */
#define VQ_MAX_SIZE   256
#define VQ_RING_BYTES (3 * PAGE_SIZE)

struct virtio_dev {
	uint64_t regs;         /* gva of the register block */
	uint64_t base;         /* gva of gpa 0 (rings are given to the device by gpa) */
	unsigned slot;
	uint32_t device_id;
	uint64_t offered;      /* device features */
	uint64_t features;     /* negotiated */
};

/* One split virtqueue, the driver's side. Used by one vCPU at a time. */
struct vq {
	struct virtio_dev *dev;
	unsigned index;
	uint16_t num;          /* entries, a power of two */
	uint16_t free_head;    /* free descriptors, chained through next */
	uint16_t num_free;
	uint16_t avail_idx;    /* our copy of avail->idx */
	uint16_t last_used;    /* next used->ring slot to read */
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
};

/* One buffer of a chain, by guest-physical address. */
struct vq_buf {
	uint64_t gpa;
	uint32_t len;
};

/* Probe the virtio-mmio slots (guest/abi.h) for a version-2 device with
 * this DeviceID. 0, or -1 when there is none. */
int virtio_find(struct virtio_dev *d, uint64_t base, uint32_t device_id);
/* 3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, read the device's
 * features, accept `wanted` & offered (VERSION_1 is required), write them,
 * FEATURES_OK and check it stuck. 0, or -1 with err filled (the device is
 * then marked FAILED). */
int virtio_negotiate(struct virtio_dev *d, uint64_t wanted, struct sbuf *err);
/* 3.1.1 step 7 for queue `index`: rings in `ring_mem` (VQ_RING_BYTES of
 * guest RAM the driver owns), size min(QueueNumMax, VQ_MAX_SIZE). 0, or
 * -1 with err filled. */
int virtio_setup_vq(struct virtio_dev *d, struct vq *vq, unsigned index, void *ring_mem, struct sbuf *err);
void virtio_driver_ok(struct virtio_dev *d);
void virtio_fail(struct virtio_dev *d);
/* Write 0 to Status: the device forgets the queues. */
void virtio_reset(struct virtio_dev *d);
uint32_t virtio_status(struct virtio_dev *d);
static inline bool virtio_has(const struct virtio_dev *d, unsigned bit)
{
	return (d->features >> bit) & 1;
}

/* Config space: 32-bit fields at `off` (from the start of config space).
 * virtio_config_read32 retries until ConfigGeneration is the same before
 * and after (4.2.2.2: a multi-field or racing read is consistent only
 * then). */
uint32_t virtio_config_read32(struct virtio_dev *d, uint32_t off);
void virtio_config_write32(struct virtio_dev *d, uint32_t off, uint32_t v);
uint32_t virtio_config_generation(struct virtio_dev *d);

/* Add one chain: n_out device-readable buffers, then n_in device-writable
 * ones (the spec's order). Returns its head, or -1 when the queue has too
 * few free descriptors. Not visible to the device before vq_kick(). */
int vq_add(struct vq *vq, const struct vq_buf *out, unsigned n_out, const struct vq_buf *in, unsigned n_in);
/* Publish what was added (avail->idx, release) and notify the device. */
void vq_kick(struct vq *vq);
/* The next used chain: its head (descriptors freed), *len the bytes the
 * device wrote; -1 when none is used yet. */
int vq_get_used(struct vq *vq, uint32_t *len);

#endif
