/* Split virtqueues, the device side; see virtq.h and virtio 1.2 2.7. */
#include "devices/virtq.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

const char *const virtq_error_names[NR_VIRTQ_ERRORS] = {
	[VIRTQ_ERR_AVAIL_IDX] = "avail_idx",
	[VIRTQ_ERR_HEAD]      = "head",
	[VIRTQ_ERR_LOOP]      = "loop",
	[VIRTQ_ERR_TOO_LONG]  = "too_long",
	[VIRTQ_ERR_ADDR]      = "addr",
	[VIRTQ_ERR_ORDER]     = "order",
	[VIRTQ_ERR_INDIRECT]  = "indirect",
	[VIRTQ_ERR_ZERO_LEN]  = "zero_len",
};

/* Ring sizes in bytes (2.7.5, 2.7.6, 2.7.8), without the event-index
 * words: VIRTIO_F_EVENT_IDX is never offered. */
static uint64_t desc_bytes(uint16_t size)  { return 16ull * size; }
static uint64_t avail_bytes(uint16_t size) { return 4 + 2ull * size + 2; }
static uint64_t used_bytes(uint16_t size)  { return 4 + 8ull * size + 2; }

static bool size_valid(uint16_t size)
{
	return size && size <= VIRTQ_MAX_SIZE && !(size & (size - 1));
}

/* One ring: aligned in guest-physical and host-virtual terms (the host
 * pointer is dereferenced as the ring's types), wholly in guest RAM. */
static void *ring_map(const struct virtq_mem *mem, uint64_t gpa, uint64_t len, uint64_t align)
{
	void *hva;

	if (gpa & (align - 1))
		return NULL;
	hva = mem->gpa_to_hva(mem->ctx, gpa, len);
	if (!hva || ((uintptr_t)hva & (align - 1)))
		return NULL;
	return hva;
}

int virtq_enable(struct virtq *vq, const struct virtq_mem *mem)
{
	struct virtq_desc *desc;
	uint16_t *avail, *used;

	vq->ready = false;
	if (!size_valid(vq->size))
		return -EINVAL;
	desc = ring_map(mem, vq->desc_gpa, desc_bytes(vq->size), 16);
	avail = ring_map(mem, vq->avail_gpa, avail_bytes(vq->size), 2);
	used = ring_map(mem, vq->used_gpa, used_bytes(vq->size), 4);
	if (!desc || !avail || !used)
		return -EFAULT;
	vq->desc = desc;
	vq->avail = avail;
	vq->used = used;
	vq->mem = *mem;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->broken = false;
	vq->ready = true;
	return 0;
}

void virtq_reset(struct virtq *vq)
{
	vq->ready = false;
	vq->size = 0;
	vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
	vq->desc = NULL;
	vq->avail = vq->used = NULL;
	vq->last_avail = vq->used_idx = 0;
	vq->broken = false;
}

/* The guest may rewrite a descriptor while we look at it: copy it out
 * once, field by field with single loads, and use only the copy. */
static struct virtq_desc desc_fetch(const struct virtq *vq, uint16_t i)
{
	struct virtq_desc *d = &vq->desc[i];

	return (struct virtq_desc){
		.addr  = __atomic_load_n(&d->addr, __ATOMIC_RELAXED),
		.len   = __atomic_load_n(&d->len, __ATOMIC_RELAXED),
		.flags = __atomic_load_n(&d->flags, __ATOMIC_RELAXED),
		.next  = __atomic_load_n(&d->next, __ATOMIC_RELAXED),
	};
}

/* Check one descriptor (a copy) and append it to the chain: returns the
 * error kind, or NR_VIRTQ_ERRORS when it is fine. */
static enum virtq_error chain_add(const struct virtq *vq, struct virtq_chain *c, const struct virtq_desc *d)
{
	struct virtq_buf *b;
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	void *hva;

	if (d->flags & VIRTQ_DESC_F_INDIRECT)
		return VIRTQ_ERR_INDIRECT;
	if (!d->len)
		return VIRTQ_ERR_ZERO_LEN;
	if (!writable && c->nr > c->nr_readable)
		return VIRTQ_ERR_ORDER;
	if (c->nr == VIRTQ_MAX_CHAIN)
		return VIRTQ_ERR_TOO_LONG;
	if (d->addr + d->len < d->addr)
		return VIRTQ_ERR_ADDR;
	hva = vq->mem.gpa_to_hva(vq->mem.ctx, d->addr, d->len);
	if (!hva)
		return VIRTQ_ERR_ADDR;
	b = &c->buf[c->nr++];
	b->gpa = d->addr;
	b->hva = hva;
	b->len = d->len;
	b->writable = writable;
	if (writable) {
		c->writable_bytes += d->len;
	} else {
		c->nr_readable++;
		c->readable_bytes += d->len;
	}
	return NR_VIRTQ_ERRORS;
}

/* Walk the chain from head (< size): NR_VIRTQ_ERRORS or the error kind.
 * Bounded: at most min(size, VIRTQ_MAX_CHAIN) + 1 descriptors are read. */
static enum virtq_error chain_walk(const struct virtq *vq, uint16_t head, struct virtq_chain *c)
{
	uint16_t i = head;
	unsigned visited = 0;
	enum virtq_error err;
	struct virtq_desc d;

	c->head = head;
	c->nr = c->nr_readable = 0;
	c->readable_bytes = c->writable_bytes = 0;
	for (;;) {
		if (++visited > vq->size)
			return VIRTQ_ERR_LOOP;
		d = desc_fetch(vq, i);
		err = chain_add(vq, c, &d);
		if (err != NR_VIRTQ_ERRORS)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return NR_VIRTQ_ERRORS;
		if (d.next >= vq->size)
			return VIRTQ_ERR_HEAD;
		i = d.next;
	}
}

int virtq_pop(struct virtq *vq, struct virtq_chain *chain)
{
	uint16_t avail_idx, pending, head;
	enum virtq_error err;

	if (!vq->ready || vq->broken)
		return 0;
	/* Acquire: the ring entries and descriptors the guest published
	 * before bumping idx are visible once we see the new idx. */
	avail_idx = __atomic_load_n(&vq->avail[1], __ATOMIC_ACQUIRE);
	pending = (uint16_t)(avail_idx - vq->last_avail);
	if (!pending)
		return 0;
	if (pending > vq->size) {
		vq->errors[VIRTQ_ERR_AVAIL_IDX]++;
		vq->broken = true;
		return -EIO;
	}
	head = __atomic_load_n(&vq->avail[2 + (vq->last_avail & (vq->size - 1))], __ATOMIC_RELAXED);
	if (head >= vq->size) {
		/* No valid id to give back: the ring is beyond repair. */
		vq->errors[VIRTQ_ERR_HEAD]++;
		vq->broken = true;
		return -EIO;
	}
	vq->last_avail++;
	err = chain_walk(vq, head, chain);
	if (err != NR_VIRTQ_ERRORS) {
		vq->errors[err]++;
		chain->nr = chain->nr_readable = 0;
		chain->readable_bytes = chain->writable_bytes = 0;
		virtq_push(vq, head, 0);
		return -EINVAL;
	}
	vq->chains++;
	return 1;
}

void virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	struct virtq_used_elem *ring;
	uint16_t slot;

	if (!vq->ready)
		return;
	ring = (struct virtq_used_elem *)(vq->used + 2);
	slot = vq->used_idx & (vq->size - 1);
	__atomic_store_n(&ring[slot].id, (uint32_t)head, __ATOMIC_RELAXED);
	__atomic_store_n(&ring[slot].len, written, __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the element is visible before the index that covers it. */
	__atomic_store_n(&vq->used[1], vq->used_idx, __ATOMIC_RELEASE);
}

/* Copy between the chain's buffers [first, last) and a flat buffer,
 * starting `off` bytes into those buffers. */
static uint64_t chain_copy(const struct virtq_chain *c, unsigned first, unsigned last,
			   uint64_t off, void *flat, uint64_t len, bool to_chain)
{
	uint64_t done = 0;
	unsigned i;

	for (i = first; i < last && done < len; i++) {
		const struct virtq_buf *b = &c->buf[i];
		uint64_t n;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off;
		if (n > len - done)
			n = len - done;
		if (to_chain)
			memcpy((char *)b->hva + off, (const char *)flat + done, n);
		else
			memcpy((char *)flat + done, (const char *)b->hva + off, n);
		done += n;
		off = 0;
	}
	return done;
}

uint64_t virtq_chain_read(const struct virtq_chain *chain, uint64_t off, void *dst, uint64_t len)
{
	return chain_copy(chain, 0, chain->nr_readable, off, dst, len, false);
}

uint64_t virtq_chain_write(const struct virtq_chain *chain, uint64_t off, const void *src, uint64_t len)
{
	return chain_copy(chain, chain->nr_readable, chain->nr, off, (void *)src, len, true);
}
