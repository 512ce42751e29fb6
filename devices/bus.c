/* Port I/O and MMIO dispatch; see bus.h. */
#include "devices/bus.h"

#include <errno.h>
#include <string.h>

void bus_init(struct bus *bus)
{
	memset(bus, 0, sizeof(*bus));
	pthread_rwlock_init(&bus->lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	pthread_rwlock_destroy(&bus->lock);
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, const struct bus_ops *ops, void *opaque)
{
	int i, ret = 0;

	if (!len || base + len < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	if (bus->nr == BUS_MAX_RANGES) {
		ret = -ENOSPC;
		goto out;
	}
	for (i = 0; i < bus->nr; i++) {
		if (ranges_overlap(base, len, bus->ranges[i].base, bus->ranges[i].len)) {
			ret = -EEXIST;
			goto out;
		}
	}
	/* keep sorted: find the slot, shift the rest up */
	for (i = bus->nr; i > 0 && bus->ranges[i - 1].base > base; i--)
		bus->ranges[i] = bus->ranges[i - 1];
	bus->ranges[i] = (struct bus_range){ base, len, ops, opaque };
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, uint64_t base)
{
	int i, ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	for (i = 0; i < bus->nr; i++) {
		if (bus->ranges[i].base != base)
			continue;
		memmove(&bus->ranges[i], &bus->ranges[i + 1], (bus->nr - i - 1) * sizeof(bus->ranges[0]));
		bus->nr--;
		ret = 0;
		break;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

/* Binary search over the sorted ranges; called with the lock held. */
static const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	int lo = 0, hi = bus->nr - 1;

	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (addr < r->base)
			hi = mid - 1;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

int bus_access(struct bus *bus, struct vcpu *vcpu, uint64_t addr, void *data, unsigned size, bool is_write)
{
	const struct bus_range *r;
	int ret = 0;

	if (size != 1 && size != 2 && size != 4 && size != 8)
		return -EINVAL;
	pthread_rwlock_rdlock(&bus->lock);
	r = bus_find(bus, addr);
	if (!r) {
		ret = -ENOENT;
	} else if (addr - r->base + size > r->len) {
		ret = -EINVAL;
	} else if (is_write) {
		if (r->ops->write)
			r->ops->write(r->opaque, vcpu, addr - r->base, data, size);
	} else {
		memset(data, 0xff, size);
		if (r->ops->read)
			r->ops->read(r->opaque, vcpu, addr - r->base, data, size);
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}
