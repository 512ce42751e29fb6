/*
 * The registry's insides, shared by domains.c (lifecycle), domains_store.c
 * (the state dir) and domains_mem.c (memory, limits, NUMA). Not for other
 * modules: they use domains.h.
 */
#ifndef GMM_VMM_DOMAINS_INTERNAL_H
#define GMM_VMM_DOMAINS_INTERNAL_H

#include <limits.h>
#include <pthread.h>

#include "vmm/domains.h"
#include "vmm/host.h"

/* One domain: virDomainObj's twin. */
struct domain {
	struct domain_def def;        /* the definition the next start uses */
	struct domain_def live;       /* running: the one it started with, kept up to
				       * date by live changes (dumpxml shows it) */
	bool persistent;
	bool autostart;
	enum domain_state state;
	int reason;
	int id;                       /* -1 when not running */
	struct vm *vm;                /* running */
	int stop_kind;                /* the reason a stop we asked for gives: DOMAIN_SHUTOFF_* */
	int exit_code;
	char stop_reason[160];
};

/* events one call may raise: the reaper may find every running guest stopped */
#define DOMAINS_MAX_EVENTS HOST_MAX_GUESTS

struct domains_event {
	struct domain_info info;
	int event, detail;
};

struct domains {
	pthread_mutex_t lock;
	struct host *host;
	struct gmm_config *host_cfg;
	char dir[PATH_MAX];
	char default_kernel[PATH_MAX];
	struct domain *dom[DOMAINS_MAX];
	int nr;
	int next_id;
	domains_event_fn event_fn;
	void *event_ctx;
	/* events raised under the lock, sent once it is dropped */
	struct domains_event pending[DOMAINS_MAX_EVENTS];
	int nr_pending;
	int events_in_flight;         /* domains_unlock()s calling event_fn now */
	pthread_cond_t events_done;   /* ... the last of them returned */
};

/* Under d->lock. */
struct domain *domains_find(struct domains *d, const char *name);
void domain_fill_info(const struct domain *dom, struct domain_info *out);
void domains_raise(struct domains *d, const struct domain *dom, int event, int detail);
void domains_reap_locked(struct domains *d);
/* Lock, reap, and find name: NULL with err set if there is none. The
 * caller unlocks either way. */
struct domain *domains_lock_find(struct domains *d, const char *name, char *err, size_t errlen);
/* Lock, reap, ...; unlock sends the events raised meanwhile. */
void domains_lock(struct domains *d);
void domains_unlock(struct domains *d);
/* Which definition an `affect` means: -EBUSY/-EINVAL with err set when it
 * cannot (live on a shut-off domain, config on a transient one). */
int domains_affect(struct domain *dom, unsigned affect, bool *live, bool *config, char *err, size_t errlen);

/* domains_store.c: the state dir. */
int domains_store_init(const char *dir, char *err, size_t errlen);
int domains_store_save(const char *dir, const struct domain *dom, char *err, size_t errlen);
int domains_store_remove(const char *dir, const char *name);
int domains_store_set_autostart(const char *dir, const char *name, bool on, char *err, size_t errlen);
/* Calls add(ctx, xml, len, autostart, file) for every domains/NAME.xml. */
typedef void (*domains_store_load_fn)(void *ctx, const char *xml, size_t len, bool autostart, const char *file);
int domains_store_load(const char *dir, domains_store_load_fn add, void *ctx);

/* libvirt's virDomainEventType and the details gmm raises (libvirt-domain.h). */
enum {
	DOMAIN_EVENT_DEFINED = 0,
	DOMAIN_EVENT_UNDEFINED = 1,
	DOMAIN_EVENT_STARTED = 2,
	DOMAIN_EVENT_STOPPED = 5,
};
enum {
	DOMAIN_EVENT_DEFINED_ADDED = 0,
	DOMAIN_EVENT_DEFINED_UPDATED = 1,
	DOMAIN_EVENT_UNDEFINED_REMOVED = 0,
	DOMAIN_EVENT_STARTED_BOOTED = 0,
	DOMAIN_EVENT_STOPPED_SHUTDOWN = 0,
	DOMAIN_EVENT_STOPPED_DESTROYED = 1,
	DOMAIN_EVENT_STOPPED_CRASHED = 2,
	DOMAIN_EVENT_STOPPED_FAILED = 5,
};

#endif
