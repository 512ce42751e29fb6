/* See virtio.h. */
#include "guest/virtio.h"

#include "guest/abi.h"
#include "guest/x86.h"

/* Register access: one 32-bit `mov` each, forced by asm so the compiler
 * can neither fold a load into another instruction (the native
 * accelerator decodes mov/movzx only) nor merge two stores into one. The
 * memory clobber keeps ring writes before a notify and ring reads after a
 * status read. */
static uint32_t reg_read(const struct virtio_dev *d, uint32_t off)
{
	const volatile uint32_t *p = (const volatile uint32_t *)(d->regs + off);
	uint32_t v;

	__asm__ volatile("movl %1, %0" : "=r"(v) : "m"(*p) : "memory");
	return v;
}

static void reg_write(const struct virtio_dev *d, uint32_t off, uint32_t v)
{
	volatile uint32_t *p = (volatile uint32_t *)(d->regs + off);

	__asm__ volatile("movl %1, %0" : "=m"(*p) : "r"(v) : "memory");
}

int virtio_find(struct virtio_dev *d, uint64_t base, uint32_t device_id)
{
	for (unsigned slot = 0; slot < GMM_VIRTIO_MMIO_SLOTS; slot++) {
		struct virtio_dev t = {
			.regs = base + GMM_GPA_MMIO_BASE + (uint64_t)slot * GMM_VIRTIO_MMIO_SLOT_SIZE,
			.base = base,
			.slot = slot,
		};

		/* an empty slot reads all ones; legacy (version 1) devices
		 * have another queue layout and are not driven here */
		if (reg_read(&t, VIRTIO_MMIO_MAGIC_VALUE) != VIRTIO_MMIO_MAGIC || reg_read(&t, VIRTIO_MMIO_VERSION) != 2)
			continue;
		t.device_id = reg_read(&t, VIRTIO_MMIO_DEVICE_ID);
		if (t.device_id != device_id)  /* 0 is a placeholder slot */
			continue;
		*d = t;
		return 0;
	}
	return -1;
}

uint32_t virtio_status(struct virtio_dev *d)
{
	return reg_read(d, VIRTIO_MMIO_STATUS);
}

static void add_status(struct virtio_dev *d, uint32_t bits)
{
	reg_write(d, VIRTIO_MMIO_STATUS, reg_read(d, VIRTIO_MMIO_STATUS) | bits);
}

void virtio_reset(struct virtio_dev *d)
{
	reg_write(d, VIRTIO_MMIO_STATUS, 0);
	/* 4.2.3.1: the reset is done when Status reads back 0 */
	for (int i = 0; i < 100000 && reg_read(d, VIRTIO_MMIO_STATUS); i++)
		cpu_relax();
}

void virtio_fail(struct virtio_dev *d)
{
	add_status(d, VIRTIO_STATUS_FAILED);
}

void virtio_driver_ok(struct virtio_dev *d)
{
	add_status(d, VIRTIO_STATUS_DRIVER_OK);
}

static uint64_t read_features(struct virtio_dev *d)
{
	uint64_t lo, hi;

	reg_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = reg_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	reg_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	hi = reg_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	return hi << 32 | lo;
}

static void write_features(struct virtio_dev *d, uint64_t f)
{
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

int virtio_negotiate(struct virtio_dev *d, uint64_t wanted, struct sbuf *err)
{
	virtio_reset(d);
	add_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	add_status(d, VIRTIO_STATUS_DRIVER);
	d->offered = read_features(d);
	if (!((d->offered >> VIRTIO_F_VERSION_1) & 1)) {
		sb_puts(err, "the device does not offer VIRTIO_F_VERSION_1 (a legacy device)");
		virtio_fail(d);
		return -1;
	}
	d->features = (wanted & d->offered) | 1ULL << VIRTIO_F_VERSION_1;
	write_features(d, d->features);
	add_status(d, VIRTIO_STATUS_FEATURES_OK);
	/* 3.1.1 step 6: the device leaves FEATURES_OK clear when it cannot
	 * work with this subset */
	if (!(reg_read(d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
		sb_puts(err, "the device refused features ");
		sb_putx(err, d->features);
		virtio_fail(d);
		return -1;
	}
	return 0;
}

static void queue_err(struct sbuf *err, unsigned index, const char *why)
{
	sb_puts(err, "queue ");
	sb_putu(err, index);
	sb_puts(err, why);
}

static void write_addr(struct virtio_dev *d, uint32_t lo_reg, uint64_t gpa)
{
	reg_write(d, lo_reg, (uint32_t)gpa);
	reg_write(d, lo_reg + 4, (uint32_t)(gpa >> 32));
}

int virtio_setup_vq(struct virtio_dev *d, struct vq *vq, unsigned index, void *ring_mem, struct sbuf *err)
{
	uint64_t gpa = (uint64_t)ring_mem - d->base;
	uint32_t max;
	uint16_t num = 1;

	reg_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (reg_read(d, VIRTIO_MMIO_QUEUE_READY)) {
		queue_err(err, index, ": already in use after reset");
		return -1;
	}
	max = reg_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (!max) {
		queue_err(err, index, ": not available (QueueNumMax 0)");
		return -1;
	}
	/* split rings are a power of two long */
	while (num * 2u <= max && num * 2u <= VQ_MAX_SIZE)
		num = (uint16_t)(num * 2);
	for (uint64_t *w = ring_mem; w < (uint64_t *)ring_mem + VQ_RING_BYTES / 8; w++)
		*w = 0;
	*vq = (struct vq){
		.dev = d,
		.index = index,
		.num = num,
		.num_free = num,
		.desc = ring_mem,
		.avail = (struct vring_avail *)((char *)ring_mem + PAGE_SIZE),
		.used = (struct vring_used *)((char *)ring_mem + 2 * PAGE_SIZE),
	};
	for (uint16_t i = 0; i + 1 < num; i++)
		vq->desc[i].next = (uint16_t)(i + 1);
	/* we poll: no interrupt wanted (a hint the device may ignore) */
	vq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	reg_write(d, VIRTIO_MMIO_QUEUE_NUM, num);
	write_addr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, gpa);
	write_addr(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, gpa + PAGE_SIZE);
	write_addr(d, VIRTIO_MMIO_QUEUE_USED_LOW, gpa + 2 * PAGE_SIZE);
	reg_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (reg_read(d, VIRTIO_MMIO_QUEUE_READY) != 1) {
		queue_err(err, index, ": the device refused its layout (QueueReady stayed 0)");
		return -1;
	}
	return 0;
}

uint32_t virtio_config_generation(struct virtio_dev *d)
{
	return reg_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
}

uint32_t virtio_config_read32(struct virtio_dev *d, uint32_t off)
{
	uint32_t gen, v;

	do {
		gen = reg_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
		v = reg_read(d, VIRTIO_MMIO_CONFIG + off);
	} while (reg_read(d, VIRTIO_MMIO_CONFIG_GENERATION) != gen);
	return v;
}

void virtio_config_write32(struct virtio_dev *d, uint32_t off, uint32_t v)
{
	reg_write(d, VIRTIO_MMIO_CONFIG + off, v);
}

int vq_add(struct vq *vq, const struct vq_buf *out, unsigned n_out, const struct vq_buf *in, unsigned n_in)
{
	unsigned n = n_out + n_in;
	uint16_t head = vq->free_head, i = head, last = head;

	if (!n || n > vq->num_free)
		return -1;
	/* The free descriptors are already chained through next (like
	 * Linux's virtqueue_add_split): fill them in list order and cut the
	 * chain after the last. */
	for (unsigned k = 0; k < n; k++) {
		const struct vq_buf *b = k < n_out ? &out[k] : &in[k - n_out];

		vq->desc[i].addr = b->gpa;
		vq->desc[i].len = b->len;
		vq->desc[i].flags = (uint16_t)((k < n_out ? 0 : VRING_DESC_F_WRITE) |
					       (k + 1 < n ? VRING_DESC_F_NEXT : 0));
		last = i;
		i = vq->desc[i].next;
	}
	vq->free_head = vq->desc[last].next;
	vq->num_free = (uint16_t)(vq->num_free - n);
	vq->avail->ring[vq->avail_idx & (vq->num - 1)] = head;
	vq->avail_idx++;
	return head;
}

void vq_kick(struct vq *vq)
{
	/* release: the descriptors and ring entry before the index (2.7.13) */
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
	/* x86 keeps these stores before the notify, which traps to the VMM */
	reg_write(vq->dev, VIRTIO_MMIO_QUEUE_NOTIFY, vq->index);
}

int vq_get_used(struct vq *vq, uint32_t *len)
{
	/* acquire: the used entry (and what the device wrote into our
	 * buffers) is read only after the index that published it */
	uint16_t idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	struct vring_used_elem e;
	uint16_t i, n = 1;

	if (idx == vq->last_used)
		return -1;
	e = vq->used->ring[vq->last_used & (vq->num - 1)];
	if (e.id >= vq->num)
		return -1;  /* a device bug; leave the entry there */
	vq->last_used++;
	for (i = (uint16_t)e.id; vq->desc[i].flags & VRING_DESC_F_NEXT; i = vq->desc[i].next)
		n++;
	vq->desc[i].next = vq->free_head;
	vq->free_head = (uint16_t)e.id;
	vq->num_free = (uint16_t)(vq->num_free + n);
	*len = e.len;
	return (int)e.id;
}
