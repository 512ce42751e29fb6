/* Split virtqueues, device side: chains a guest builds in a fake RAM,
 * good ones and each kind of malformed one. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtq.h"

#define RAM_BASE  0x100000ull   /* guest-physical start of the fake RAM */
#define RAM_BYTES 0x20000ull
#define DATA_OFF  0x10000ull    /* buffers live from here on */

struct fake_ram {
	uint8_t *buf;
	uint64_t base, len;
};

static void *fake_gpa_to_hva(void *ctx, uint64_t gpa, uint64_t len)
{
	struct fake_ram *r = ctx;

	if (gpa < r->base || gpa - r->base > r->len || len > r->len - (gpa - r->base))
		return NULL;
	return r->buf + (gpa - r->base);
}

/* A queue laid out at the start of the fake RAM: desc, avail, used. */
struct tq {
	struct fake_ram ram;
	struct virtq_mem mem;
	struct virtq vq;
	struct virtq_desc *desc;
	uint16_t *avail;
	uint16_t *used;
	uint16_t avail_idx;
};

static void tq_init(struct tq *q, uint16_t size)
{
	uint64_t desc = RAM_BASE, avail = desc + 16ull * size;
	uint64_t used = (avail + 6 + 2ull * size + 3) & ~3ull;

	memset(q, 0, sizeof(*q));
	q->ram.buf = aligned_alloc(4096, RAM_BYTES);
	cr_assert(q->ram.buf);
	memset(q->ram.buf, 0, RAM_BYTES);
	q->ram.base = RAM_BASE;
	q->ram.len = RAM_BYTES;
	q->mem = (struct virtq_mem){ fake_gpa_to_hva, &q->ram };
	q->vq.size = size;
	q->vq.desc_gpa = desc;
	q->vq.avail_gpa = avail;
	q->vq.used_gpa = used;
	cr_assert_eq(virtq_enable(&q->vq, &q->mem), 0);
	cr_assert(q->vq.ready);
	q->desc = fake_gpa_to_hva(&q->ram, desc, 16);
	q->avail = fake_gpa_to_hva(&q->ram, avail, 2);
	q->used = fake_gpa_to_hva(&q->ram, used, 4);
}

static void tq_fini(struct tq *q)
{
	free(q->ram.buf);
}

static void set_desc(struct tq *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	q->desc[i] = (struct virtq_desc){ addr, len, flags, next };
}

static void offer(struct tq *q, uint16_t head)
{
	q->avail[2 + (q->avail_idx % q->vq.size)] = head;
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
}

static void *gpa(struct tq *q, uint64_t addr)
{
	return q->ram.buf + (addr - RAM_BASE);
}

static struct virtq_used_elem used_elem(struct tq *q, uint16_t slot)
{
	struct virtq_used_elem *ring = (struct virtq_used_elem *)(q->used + 2);

	return ring[slot % q->vq.size];
}

/* A malformed chain: -EINVAL, counted, given back with length 0. */
static void expect_refused(struct tq *q, uint16_t head, enum virtq_error err)
{
	struct virtq_chain c;

	cr_assert_eq(virtq_pop(&q->vq, &c), -EINVAL);
	cr_assert_eq(q->vq.errors[err], 1, "%s not counted", virtq_error_names[err]);
	cr_assert_eq(q->used[1], 1);
	cr_assert_eq(used_elem(q, 0).id, head);
	cr_assert_eq(used_elem(q, 0).len, 0);
	cr_assert_not(q->vq.broken);
	cr_assert_eq(q->vq.chains, 0);
}

Test(virtq, pop_returns_readable_then_writable_buffers_of_a_chain)
{
	struct tq q;
	struct virtq_chain c;
	uint64_t d = RAM_BASE + DATA_OFF;

	tq_init(&q, 8);
	set_desc(&q, 3, d, 100, VIRTQ_DESC_F_NEXT, 5);
	set_desc(&q, 5, d + 0x100, 28, VIRTQ_DESC_F_NEXT, 0);
	set_desc(&q, 0, d + 0x200, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(&q, 3);
	cr_assert_eq(virtq_pop(&q.vq, &c), 1);
	cr_assert_eq(c.head, 3);
	cr_assert_eq(c.nr, 3);
	cr_assert_eq(c.nr_readable, 2);
	cr_assert_eq(c.readable_bytes, 128);
	cr_assert_eq(c.writable_bytes, 64);
	cr_assert_eq(c.buf[0].gpa, d);
	cr_assert_eq(c.buf[0].hva, gpa(&q, d));
	cr_assert_not(c.buf[1].writable);
	cr_assert(c.buf[2].writable);
	cr_assert_eq(q.vq.chains, 1);
	cr_assert_eq(virtq_pop(&q.vq, &c), 0, "ring is empty now");
	tq_fini(&q);
}

Test(virtq, chain_read_and_write_cross_buffer_boundaries_from_an_offset)
{
	struct tq q;
	struct virtq_chain c;
	uint64_t d = RAM_BASE + DATA_OFF;
	char out[16] = { 0 };

	tq_init(&q, 4);
	memcpy(gpa(&q, d), "abcd", 4);
	memcpy(gpa(&q, d + 0x100), "efgh", 4);
	set_desc(&q, 0, d, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc(&q, 1, d + 0x100, 4, VIRTQ_DESC_F_NEXT, 2);
	set_desc(&q, 2, d + 0x200, 3, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	set_desc(&q, 3, d + 0x300, 3, VIRTQ_DESC_F_WRITE, 0);
	offer(&q, 0);
	cr_assert_eq(virtq_pop(&q.vq, &c), 1);
	cr_assert_eq(virtq_chain_read(&c, 2, out, sizeof(out)), 6);
	cr_assert_str_eq(out, "cdefgh");
	cr_assert_eq(virtq_chain_read(&c, 8, out, 4), 0, "past the readable part");
	cr_assert_eq(virtq_chain_write(&c, 1, "WXYZ!", 5), 5);
	cr_assert_eq(memcmp(gpa(&q, d + 0x201), "WX", 2), 0);
	cr_assert_eq(memcmp(gpa(&q, d + 0x300), "YZ!", 3), 0);
	cr_assert_eq(virtq_chain_write(&c, 0, "0123456789", 10), 6, "only 6 writable bytes");
	cr_assert_eq(memcmp(gpa(&q, d), "abcd", 4), 0, "readable buffers untouched");
	tq_fini(&q);
}

Test(virtq, push_writes_the_used_element_then_the_index)
{
	struct tq q;
	struct virtq_chain c;
	uint64_t d = RAM_BASE + DATA_OFF;

	tq_init(&q, 2);
	set_desc(&q, 0, d, 8, VIRTQ_DESC_F_WRITE, 0);
	set_desc(&q, 1, d + 8, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(&q, 1);
	offer(&q, 0);
	cr_assert_eq(virtq_pop(&q.vq, &c), 1);
	virtq_push(&q.vq, c.head, 5);
	cr_assert_eq(q.used[1], 1);
	cr_assert_eq(used_elem(&q, 0).id, 1);
	cr_assert_eq(used_elem(&q, 0).len, 5);
	cr_assert_eq(virtq_pop(&q.vq, &c), 1);
	virtq_push(&q.vq, c.head, 8);
	cr_assert_eq(q.used[1], 2);
	cr_assert_eq(used_elem(&q, 1).id, 0);
	cr_assert_eq(used_elem(&q, 1).len, 8);
	tq_fini(&q);
}

Test(virtq, indices_wrap_at_65536)
{
	struct tq q;
	struct virtq_chain c;
	int i;

	tq_init(&q, 4);
	set_desc(&q, 2, RAM_BASE + DATA_OFF, 8, 0, 0);
	q.avail_idx = 0xfffe;
	q.vq.last_avail = 0xfffe;
	q.vq.used_idx = 0xfffe;
	for (i = 0; i < 4; i++)
		offer(&q, 2);
	cr_assert_eq(q.avail[1], 2);
	for (i = 0; i < 4; i++) {
		cr_assert_eq(virtq_pop(&q.vq, &c), 1);
		virtq_push(&q.vq, c.head, 0);
	}
	cr_assert_eq(virtq_pop(&q.vq, &c), 0);
	cr_assert_eq(q.used[1], 2);
	cr_assert_not(q.vq.broken);
	tq_fini(&q);
}

Test(virtq, a_queue_not_ready_pops_nothing)
{
	struct virtq vq = { 0 };
	struct virtq_chain c;

	cr_assert_eq(virtq_pop(&vq, &c), 0);
}

Test(virtq, buffer_outside_ram_is_refused)
{
	struct tq q;

	tq_init(&q, 4);
	set_desc(&q, 1, RAM_BASE + RAM_BYTES - 4, 8, 0, 0);  /* straddles the end */
	offer(&q, 1);
	expect_refused(&q, 1, VIRTQ_ERR_ADDR);
	set_desc(&q, 1, RAM_BASE - 8, 8, 0, 0);              /* just below */
	offer(&q, 1);
	cr_assert_eq(virtq_pop(&q.vq, &(struct virtq_chain){ 0 }), -EINVAL);
	cr_assert_eq(q.vq.errors[VIRTQ_ERR_ADDR], 2);
	tq_fini(&q);
}

Test(virtq, buffer_whose_address_plus_length_wraps_is_refused)
{
	struct tq q;

	tq_init(&q, 4);
	set_desc(&q, 0, ~0ull - 3, 0x1000, 0, 0);
	offer(&q, 0);
	expect_refused(&q, 0, VIRTQ_ERR_ADDR);
	tq_fini(&q);
}

Test(virtq, descriptor_loop_is_detected)
{
	struct tq q;

	tq_init(&q, 4);
	set_desc(&q, 0, RAM_BASE + DATA_OFF, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(&q, 1, RAM_BASE + DATA_OFF, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(&q, 0);
	expect_refused(&q, 0, VIRTQ_ERR_LOOP);
	tq_fini(&q);
}

Test(virtq, chain_longer_than_the_maximum_is_refused)
{
	struct tq q;
	uint16_t i;

	tq_init(&q, 128);
	for (i = 0; i <= VIRTQ_MAX_CHAIN; i++)
		set_desc(&q, i, RAM_BASE + DATA_OFF, 8, VIRTQ_DESC_F_NEXT, i + 1);
	q.desc[VIRTQ_MAX_CHAIN].flags = 0;               /* 65 buffers */
	offer(&q, 0);
	expect_refused(&q, 0, VIRTQ_ERR_TOO_LONG);
	/* exactly the maximum is fine */
	q.desc[VIRTQ_MAX_CHAIN - 1].flags = 0;
	offer(&q, 0);
	cr_assert_eq(virtq_pop(&q.vq, &(struct virtq_chain){ 0 }), 1);
	tq_fini(&q);
}

Test(virtq, next_index_out_of_range_is_refused)
{
	struct tq q;

	tq_init(&q, 4);
	set_desc(&q, 2, RAM_BASE + DATA_OFF, 8, VIRTQ_DESC_F_NEXT, 4);
	offer(&q, 2);
	expect_refused(&q, 2, VIRTQ_ERR_HEAD);
	tq_fini(&q);
}

Test(virtq, indirect_descriptor_is_refused)
{
	struct tq q;

	tq_init(&q, 4);
	set_desc(&q, 0, RAM_BASE + DATA_OFF, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(&q, 0);
	expect_refused(&q, 0, VIRTQ_ERR_INDIRECT);
	tq_fini(&q);
}

Test(virtq, zero_length_buffer_is_refused)
{
	struct tq q;

	tq_init(&q, 4);
	set_desc(&q, 0, RAM_BASE + DATA_OFF, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(&q, 1, RAM_BASE + DATA_OFF, 0, VIRTQ_DESC_F_WRITE, 0);
	offer(&q, 0);
	expect_refused(&q, 0, VIRTQ_ERR_ZERO_LEN);
	tq_fini(&q);
}

Test(virtq, readable_buffer_after_a_writable_one_is_refused)
{
	struct tq q;

	tq_init(&q, 4);
	set_desc(&q, 0, RAM_BASE + DATA_OFF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(&q, 1, RAM_BASE + DATA_OFF, 8, 0, 0);
	offer(&q, 0);
	expect_refused(&q, 0, VIRTQ_ERR_ORDER);
	tq_fini(&q);
}

Test(virtq, a_refused_chain_does_not_stop_the_next_one)
{
	struct tq q;
	struct virtq_chain c;

	tq_init(&q, 4);
	set_desc(&q, 0, RAM_BASE + DATA_OFF, 0, 0, 0);
	set_desc(&q, 1, RAM_BASE + DATA_OFF, 8, 0, 0);
	offer(&q, 0);
	offer(&q, 1);
	cr_assert_eq(virtq_pop(&q.vq, &c), -EINVAL);
	cr_assert_eq(virtq_pop(&q.vq, &c), 1);
	cr_assert_eq(c.head, 1);
	tq_fini(&q);
}

Test(virtq, avail_index_jumping_past_the_ring_breaks_the_queue)
{
	struct tq q;
	struct virtq_chain c;

	tq_init(&q, 4);
	set_desc(&q, 0, RAM_BASE + DATA_OFF, 8, 0, 0);
	q.avail[1] = 5;
	cr_assert_eq(virtq_pop(&q.vq, &c), -EIO);
	cr_assert(q.vq.broken);
	cr_assert_eq(q.vq.errors[VIRTQ_ERR_AVAIL_IDX], 1);
	q.avail[1] = 1;
	cr_assert_eq(virtq_pop(&q.vq, &c), 0, "broken: nothing more is popped");
	cr_assert_eq(q.used[1], 0);
	/* enabling again starts over */
	cr_assert_eq(virtq_enable(&q.vq, &q.mem), 0);
	cr_assert_eq(virtq_pop(&q.vq, &c), 1);
	cr_assert_eq(q.vq.errors[VIRTQ_ERR_AVAIL_IDX], 1, "counters are kept");
	tq_fini(&q);
}

Test(virtq, head_out_of_range_breaks_the_queue)
{
	struct tq q;
	struct virtq_chain c;

	tq_init(&q, 4);
	offer(&q, 4);
	cr_assert_eq(virtq_pop(&q.vq, &c), -EIO);
	cr_assert(q.vq.broken);
	cr_assert_eq(q.vq.errors[VIRTQ_ERR_HEAD], 1);
	cr_assert_eq(q.used[1], 0, "no valid id to give back");
	tq_fini(&q);
}

Test(virtq, enable_refuses_bad_sizes_and_misplaced_rings)
{
	struct tq q;
	struct virtq saved;

	tq_init(&q, 8);
	saved = q.vq;
	q.vq.size = 6;
	cr_assert_eq(virtq_enable(&q.vq, &q.mem), -EINVAL);
	cr_assert_not(q.vq.ready);
	q.vq.size = 2048;
	cr_assert_eq(virtq_enable(&q.vq, &q.mem), -EINVAL);
	q.vq.size = 0;
	cr_assert_eq(virtq_enable(&q.vq, &q.mem), -EINVAL);

	q.vq = saved;
	q.vq.desc_gpa += 8;
	cr_assert_eq(virtq_enable(&q.vq, &q.mem), -EFAULT, "desc must be 16-aligned");
	q.vq = saved;
	q.vq.avail_gpa += 1;
	cr_assert_eq(virtq_enable(&q.vq, &q.mem), -EFAULT, "avail must be 2-aligned");
	q.vq = saved;
	q.vq.used_gpa += 2;
	cr_assert_eq(virtq_enable(&q.vq, &q.mem), -EFAULT, "used must be 4-aligned");
	q.vq = saved;
	q.vq.used_gpa = RAM_BASE + RAM_BYTES - (6 + 8 * 8) + 2;  /* 4-aligned, 2 bytes too far */
	cr_assert_eq(virtq_enable(&q.vq, &q.mem), -EFAULT, "used ring runs past RAM");
	q.vq = saved;
	q.vq.desc_gpa = ~0ull - 15;
	cr_assert_eq(virtq_enable(&q.vq, &q.mem), -EFAULT, "desc table wraps");
	q.vq = saved;
	q.vq.used_gpa = RAM_BASE + RAM_BYTES - (6 + 8 * 8);
	q.vq.used_gpa &= ~3ull;
	cr_assert_eq(virtq_enable(&q.vq, &q.mem), 0, "used ring ends exactly at RAM's end");
	tq_fini(&q);
}

Test(virtq, reset_forgets_the_layout_and_keeps_counters)
{
	struct tq q;
	struct virtq_chain c;

	tq_init(&q, 4);
	offer(&q, 9);
	cr_assert_eq(virtq_pop(&q.vq, &c), -EIO);
	virtq_reset(&q.vq);
	cr_assert_not(q.vq.ready);
	cr_assert_not(q.vq.broken);
	cr_assert_eq(q.vq.size, 0);
	cr_assert_null(q.vq.desc);
	cr_assert_eq(q.vq.desc_gpa, 0);
	cr_assert_eq(q.vq.errors[VIRTQ_ERR_HEAD], 1);
	cr_assert_eq(virtq_pop(&q.vq, &c), 0);
	virtq_push(&q.vq, 0, 0);   /* ignored, not a crash */
	tq_fini(&q);
}

Test(virtq, every_error_has_a_name)
{
	for (int i = 0; i < NR_VIRTQ_ERRORS; i++)
		cr_assert(virtq_error_names[i] && virtq_error_names[i][0]);
}
