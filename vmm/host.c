/* See host.h. */
#include "vmm/host.h"

#include <errno.h>
#include <string.h>

#include "vmm/vm.h"

void host_init(struct host *h, const struct accel_ops *accel)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cond, NULL);
	h->accel = accel;
}

int host_add_guest(struct host *h, struct vm *vm)
{
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	if (h->nr_guests == HOST_MAX_GUESTS)
		ret = -ENOSPC;
	else
		h->guests[h->nr_guests++] = (struct host_guest){ vm, 0, false };
	pthread_mutex_unlock(&h->lock);
	return ret;
}

struct vm *host_get_guest(struct host *h, const char *name)
{
	struct vm *vm = NULL;

	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < h->nr_guests; i++) {
		if (!h->guests[i].removing && !strcmp(h->guests[i].vm->cfg.name, name)) {
			h->guests[i].refs++;
			vm = h->guests[i].vm;
			break;
		}
	}
	pthread_mutex_unlock(&h->lock);
	return vm;
}

void host_put_guest(struct host *h, struct vm *vm)
{
	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < h->nr_guests; i++) {
		if (h->guests[i].vm == vm) {
			h->guests[i].refs--;
			break;
		}
	}
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

void host_remove_guest(struct host *h, struct vm *vm)
{
	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < h->nr_guests; i++) {
		if (h->guests[i].vm != vm)
			continue;
		h->guests[i].removing = true;
		while (h->guests[i].refs > 0)
			pthread_cond_wait(&h->cond, &h->lock);
		memmove(&h->guests[i], &h->guests[i + 1], (h->nr_guests - i - 1) * sizeof(h->guests[0]));
		h->nr_guests--;
		break;
	}
	pthread_mutex_unlock(&h->lock);
}

int host_get_all(struct host *h, struct vm **out, int max)
{
	int n = 0;

	pthread_mutex_lock(&h->lock);
	for (int i = 0; i < h->nr_guests && n < max; i++) {
		if (h->guests[i].removing)
			continue;
		h->guests[i].refs++;
		out[n++] = h->guests[i].vm;
	}
	pthread_mutex_unlock(&h->lock);
	return n;
}
