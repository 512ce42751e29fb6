/*
 * Split virtqueues, the device side (virtio 1.2, 2.7 "Split Virtqueues").
 * The guest owns the rings and may write anything into them at any time:
 * every index, address, length and flag read from guest memory is checked
 * before it is used, each read once (no double fetch). A malformed chain
 * is reported as an error; the caller counts it, drops it and may mark the
 * device DEVICE_NEEDS_RESET. Nothing a guest writes can make this code
 * read or write outside that guest's RAM, loop, or allocate.
 *
 * Not offered, so refused when seen: indirect descriptors
 * (VIRTQ_DESC_F_INDIRECT), packed rings, event index.
 *
 * Locking: none inside. One consumer at a time per queue (the device's
 * worker); the transport changes the layout only while the queue is not
 * ready.
 */
#ifndef GMM_DEVICES_VIRTQ_H
#define GMM_DEVICES_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#define VIRTQ_DESC_F_NEXT      1
#define VIRTQ_DESC_F_WRITE     2
#define VIRTQ_DESC_F_INDIRECT  4

#define VIRTQ_MAX_SIZE   1024   /* largest queue size any gmm device offers */
#define VIRTQ_MAX_CHAIN  64     /* longer chains are refused (-E2BIG) */

/* Guest memory as a device sees it: a host pointer to [gpa, gpa+len) if
 * that lies wholly in guest RAM the device may touch, else NULL. Must be
 * overflow-safe for any values (they come from the guest). */
struct virtq_mem {
	void *(*gpa_to_hva)(void *ctx, uint64_t gpa, uint64_t len);
	void *ctx;
};

/* The ring layouts in guest memory (little-endian, x86 only here). */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* One buffer of a chain: device-readable (out) or device-writable (in). */
struct virtq_buf {
	uint64_t gpa;
	void *hva;          /* checked: [hva, hva+len) is guest RAM */
	uint32_t len;
	bool writable;
};

struct virtq_chain {
	uint16_t head;      /* what virtq_push() gives back */
	unsigned nr;        /* buffers; readable ones first (the spec's order) */
	unsigned nr_readable;
	uint64_t readable_bytes, writable_bytes;
	struct virtq_buf buf[VIRTQ_MAX_CHAIN];
};

/* Why a chain or a queue was refused; each has a counter. */
enum virtq_error {
	VIRTQ_ERR_AVAIL_IDX,     /* avail->idx ran more than size ahead of the device */
	VIRTQ_ERR_HEAD,          /* a head or next index >= size */
	VIRTQ_ERR_LOOP,          /* a chain visiting more descriptors than the ring holds */
	VIRTQ_ERR_TOO_LONG,      /* more than VIRTQ_MAX_CHAIN buffers */
	VIRTQ_ERR_ADDR,          /* a buffer not wholly inside guest RAM (or wrapping) */
	VIRTQ_ERR_ORDER,         /* a readable buffer after a writable one */
	VIRTQ_ERR_INDIRECT,      /* VIRTQ_DESC_F_INDIRECT, never negotiated */
	VIRTQ_ERR_ZERO_LEN,      /* a buffer of length 0 */
	NR_VIRTQ_ERRORS
};
extern const char *const virtq_error_names[NR_VIRTQ_ERRORS];

struct virtq {
	/* layout, written by the transport while !ready */
	uint16_t size;             /* power of two, 1..VIRTQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool ready;
	/* resolved by virtq_enable() */
	struct virtq_desc *desc;
	uint16_t *avail;           /* flags, idx, ring[size], (used_event) */
	uint16_t *used;            /* flags, idx, then used_elem ring[size] */
	struct virtq_mem mem;
	/* device state */
	uint16_t last_avail;       /* next avail ring slot the device reads */
	uint16_t used_idx;         /* next used ring slot the device writes */
	bool broken;               /* a ring-level error: nothing more is popped */
	uint64_t errors[NR_VIRTQ_ERRORS];
	uint64_t chains;           /* chains popped */
};

/* Resolve the rings (size and the three addresses as the transport
 * recorded them): 0, or -EINVAL for a size that is no power of two or too
 * large, -EFAULT for a ring not wholly in guest RAM or misaligned (desc 16,
 * avail 2, used 4 bytes; the host address too). Resets last_avail,
 * used_idx, broken, counters are kept. Sets vq->ready on success and
 * clears it on failure. Ring bytes: desc 16*size, avail 6+2*size, used
 * 6+8*size. */
int virtq_enable(struct virtq *vq, const struct virtq_mem *mem);
/* Forget the layout (device reset): not ready, size and ring addresses 0,
 * indices and broken cleared. Counters are kept. */
void virtq_reset(struct virtq *vq);

/*
 * Take the next available chain. Returns 1 with *chain filled, 0 when the
 * ring is empty (or the queue not ready / broken), -EINVAL when the chain
 * was malformed: it is counted in vq->errors, returned to the used ring
 * with length 0 so the guest can reclaim it when its head was valid, and
 * the caller goes on with the next one. A ring-level error (avail index
 * nonsense, a head out of range) sets vq->broken and returns -EIO: the
 * caller should mark the device DEVICE_NEEDS_RESET.
 */
int virtq_pop(struct virtq *vq, struct virtq_chain *chain);
/* Return a chain to the guest with `written` bytes written into its
 * writable buffers. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t written);
/* Copy up to len bytes out of the chain's readable buffers starting at
 * byte off of the readable part; returns the bytes copied. */
uint64_t virtq_chain_read(const struct virtq_chain *chain, uint64_t off, void *dst, uint64_t len);
/* The same into its writable buffers; returns the bytes written. */
uint64_t virtq_chain_write(const struct virtq_chain *chain, uint64_t off, const void *src, uint64_t len);

#endif
