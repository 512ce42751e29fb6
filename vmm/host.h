/*
 * The host: every guest one gmm process runs, and what the control socket
 * reaches them by. `gmm run` fills it from the config; `gmm daemon`
 * adds and removes guests at run time (vmm/domains.c).
 *
 * Locking: host->lock protects guests[] and nr_guests. A guest found by
 * host_get_guest() carries a reference; host_put_guest() drops it, so the
 * control thread never uses a guest that is being destroyed.
 */
#ifndef GMM_VMM_HOST_H
#define GMM_VMM_HOST_H

#include <pthread.h>
#include <stdatomic.h>

#include "vmm/accel.h"

#define HOST_MAX_GUESTS 64

struct vm;
struct host_pool;

struct host_guest {
	struct vm *vm;
	int refs;           /* under host->lock */
	bool removing;
};

struct host {
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* a reference was dropped */
	struct host_guest guests[HOST_MAX_GUESTS];
	int nr_guests;
	const struct accel_ops *accel;
	struct host_pool *pool;   /* set before any guest or the control server starts */
	struct balloon_policy *balloon_policy; /* balloon before swap; NULL: none */
	struct domains *domains;       /* gmm daemon's registry (domains.h); NULL: gmm run */
	struct libvirt_server *libvirt; /* gmm daemon's libvirt endpoint; NULL: none */
	atomic_bool shutdown;  /* SIGINT/SIGTERM or a control request */
};

void host_init(struct host *h, const struct accel_ops *accel);
int host_add_guest(struct host *h, struct vm *vm);
/* Takes a reference; NULL if no such guest. */
struct vm *host_get_guest(struct host *h, const char *name);
void host_put_guest(struct host *h, struct vm *vm);
/* Waits for references to drop, then forgets the guest (does not destroy). */
void host_remove_guest(struct host *h, struct vm *vm);
/* Snapshot of the guests (references taken); returns how many. */
int host_get_all(struct host *h, struct vm **out, int max);

#endif
