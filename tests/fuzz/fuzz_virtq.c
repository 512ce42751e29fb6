/*
 * libFuzzer target: split virtqueues as a hostile guest lays them out.
 *
 * Input: a 24-byte header, then the guest RAM's contents (the rest of the
 * input, held in a buffer of exactly that size so ASan sees any access
 * past it). Header, little-endian:
 *   0      size: 1 << (b % 11), or b & 0x7f raw when bit 7 is set
 *   1      rounds (b % 4 + 1): pop everything, then let the "guest" add
 *          byte 2 to avail->idx and go again
 *   2      avail->idx bump between rounds
 *   3      bit 0: re-enable the queue between rounds (indices restart)
 *   4..11  guest-physical address of RAM's first byte
 *   12..15 desc table offset into RAM (may be anything)
 *   16..19 avail ring offset
 *   20..23 used ring offset
 * Every chain popped is checked against RAM's bounds, read, written with
 * a pattern and pushed; any broken invariant traps.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtq.h"

#define HDR 24

struct ram {
	uint8_t *buf;
	uint64_t base, len;
};

static void *ram_gpa_to_hva(void *ctx, uint64_t gpa, uint64_t len)
{
	struct ram *r = ctx;

	if (gpa < r->base || gpa - r->base > r->len || len > r->len - (gpa - r->base))
		return NULL;
	return r->buf + (gpa - r->base);
}

static uint32_t le32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t le64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

#define check(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static void chain_check(const struct ram *r, const struct virtq *vq, const struct virtq_chain *c)
{
	uint64_t rd = 0, wr = 0;
	unsigned i;

	check(c->head < vq->size);
	check(c->nr >= 1 && c->nr <= VIRTQ_MAX_CHAIN && c->nr_readable <= c->nr);
	for (i = 0; i < c->nr; i++) {
		const struct virtq_buf *b = &c->buf[i];
		uint64_t off = (uint64_t)((uint8_t *)b->hva - r->buf);

		check((uint8_t *)b->hva >= r->buf && b->len && off + b->len <= r->len);
		check(b->gpa - r->base == off);
		check(b->writable == (i >= c->nr_readable));
		if (b->writable)
			wr += b->len;
		else
			rd += b->len;
	}
	check(rd == c->readable_bytes && wr == c->writable_bytes);
}

/* What a device does with a chain: consume the request, fill the reply. */
static void chain_use(struct virtq *vq, const struct virtq_chain *c)
{
	static const uint8_t pattern[512] = { [0 ... 511] = 0xa5 };
	uint8_t tmp[512];
	uint64_t off = 0, n;

	while ((n = virtq_chain_read(c, off, tmp, sizeof(tmp))) > 0)
		off += n;
	check(off == c->readable_bytes);
	off = 0;
	while ((n = virtq_chain_write(c, off, pattern, sizeof(pattern))) > 0)
		off += n;
	check(off == c->writable_bytes);
	virtq_push(vq, c->head, c->writable_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)c->writable_bytes);
}

static void drain(const struct ram *r, struct virtq *vq)
{
	static struct virtq_chain c;
	unsigned n;
	int ret;

	/* bounded: writes into the chains may land on the rings themselves
	 * (the guest may place them there) and keep publishing entries */
	for (n = 0; n < 2u * vq->size + 2; n++) {
		ret = virtq_pop(vq, &c);
		if (ret == 0 || ret == -EIO)
			return;
		if (ret == -EINVAL)
			continue;
		check(ret == 1);
		chain_check(r, vq, &c);
		chain_use(vq, &c);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ram r;
	struct virtq vq;
	struct virtq_mem mem = { ram_gpa_to_hva, &r };
	unsigned rounds, i;

	if (size < HDR)
		return 0;
	r.len = size - HDR;
	r.buf = malloc(r.len ? r.len : 1);
	if (!r.buf)
		return 0;
	memcpy(r.buf, data + HDR, r.len);
	r.base = le64(data + 4);

	memset(&vq, 0, sizeof(vq));
	vq.size = data[0] & 0x80 ? data[0] & 0x7f : 1u << (data[0] % 11);
	vq.desc_gpa = r.base + le32(data + 12);
	vq.avail_gpa = r.base + le32(data + 16);
	vq.used_gpa = r.base + le32(data + 20);
	rounds = data[1] % 4 + 1;
	if (virtq_enable(&vq, &mem) == 0) {
		for (i = 0; i < rounds; i++) {
			drain(&r, &vq);
			if (data[3] & 1)
				check(virtq_enable(&vq, &mem) == 0);
			vq.avail[1] += data[2];   /* the guest publishes more (or nonsense) */
		}
		virtq_reset(&vq);
		check(virtq_pop(&vq, &(struct virtq_chain){ 0 }) == 0);
	} else {
		check(!vq.ready);
	}
	free(r.buf);
	return 0;
}
