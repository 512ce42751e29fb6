/*
 * Device bus: one registry for port I/O and one for MMIO (like kvmtool's
 * mmio.c/ioport.c with one code path). A device registers a range with
 * explicit ops; handlers see the offset inside their own range, never the
 * absolute address. Overlapping ranges are refused (-EEXIST), as
 * Firecracker's bus does.
 */
#ifndef GMM_DEVICES_BUS_H
#define GMM_DEVICES_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vcpu;

struct bus_ops {
	/* size is 1, 2, 4 or 8; *data holds/receives the little-endian value. */
	void (*read)(void *opaque, struct vcpu *vcpu, uint64_t offset, void *data, unsigned size);
	void (*write)(void *opaque, struct vcpu *vcpu, uint64_t offset, const void *data, unsigned size);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
};

#define BUS_MAX_RANGES 32

struct bus {
	pthread_rwlock_t lock;        /* protects ranges[] and nr; handlers run under read */
	struct bus_range ranges[BUS_MAX_RANGES]; /* sorted by base */
	int nr;
};

void bus_init(struct bus *bus);
void bus_destroy(struct bus *bus);
int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops, void *opaque);
int bus_unregister(struct bus *bus, uint64_t base);

/* Dispatch an access. Returns 0 when a device took it, -ENOENT when nothing
 * is there (the caller counts it; a read then sees all ones), -EINVAL for a
 * size other than 1/2/4/8 or an access straddling a range's end. */
int bus_access(struct bus *bus, struct vcpu *vcpu, uint64_t addr, void *data, unsigned size, bool is_write);

#endif
