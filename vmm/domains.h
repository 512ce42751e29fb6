/*
 * Domains: the guests of `gmm daemon` as libvirt sees them (docs/virsh.md).
 * A domain is a definition (struct domain_def: the guest config plus its
 * uuid) that is persistent (kept in STATE_DIR/domains/NAME.xml, surviving
 * a daemon restart) or transient (`virsh create`: gone once it stops), and
 * that is running (a struct vm in the host) or shut off. It mirrors
 * libvirt's virDomainObj: the definition, the live state and its reason,
 * the id a running domain gets (1, 2, ... never reused while the daemon
 * lives), autostart.
 *
 * This is the one API both the libvirt procedures (vmm/libvirt/remote_*.c)
 * and the daemon's own code use; every mapping from gmm to libvirt names
 * and units happens above it, in the procedures. Everything here is in
 * gmm's terms: bytes, pages, struct limits_config.
 *
 * Errors: functions return 0 or a negative errno and write one line into
 * err (DOMAINS_ERR_MAX):
 *   -ENOENT     no such domain                     (VIR_ERR_NO_DOMAIN)
 *   -EBADMSG    the XML is malformed or refused    (VIR_ERR_XML_ERROR)
 *   -EEXIST     name or uuid used by another domain (VIR_ERR_OPERATION_FAILED)
 *   -EBUSY      not in a state for it: "domain is already running",
 *               "domain is not running"           (VIR_ERR_OPERATION_INVALID)
 *   -EINVAL     an argument out of range            (VIR_ERR_INVALID_ARG)
 *   -EOPNOTSUPP gmm cannot do it (setmem without a balloon) (VIR_ERR_OPERATION_UNSUPPORTED)
 *   other       the host failed (out of pool, I/O)  (VIR_ERR_INTERNAL_ERROR)
 *
 * Locking: one mutex over the registry; starting and stopping a guest run
 * under it (they take milliseconds), so the calls are serialised and every
 * function is safe from any thread. Lookups copy out (struct domain_info),
 * so no caller holds a pointer into the registry.
 */
#ifndef GMM_VMM_DOMAINS_H
#define GMM_VMM_DOMAINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "balloon/virtio_balloon.h"
#include "vmm/libvirt/domain_xml.h"
#include "vmm/vm.h"

#define DOMAINS_MAX     256       /* defined; at most HOST_MAX_GUESTS run at once */
#define DOMAINS_ERR_MAX 512

struct host;
struct domains;

/* libvirt's virDomainState and the reasons gmm gives (libvirt-domain.h). */
enum domain_state {
	DOMAIN_NOSTATE = 0,
	DOMAIN_RUNNING = 1,
	DOMAIN_SHUTOFF = 5,
	DOMAIN_CRASHED = 6,
};
enum domain_running_reason { DOMAIN_RUNNING_BOOTED = 1 };
enum domain_shutoff_reason {
	DOMAIN_SHUTOFF_UNKNOWN = 0,   /* never started since it was defined */
	DOMAIN_SHUTOFF_SHUTDOWN = 1,  /* the guest exited, or `shutdown` */
	DOMAIN_SHUTOFF_DESTROYED = 2, /* `destroy` */
	DOMAIN_SHUTOFF_CRASHED = 3,   /* the guest crashed (triple fault, a fault gmm reports) */
	DOMAIN_SHUTOFF_FAILED = 6,    /* it could not start */
	DOMAIN_SHUTOFF_DAEMON = 8,    /* the daemon stopped it when it shut down */
};

/* A copy of one domain's state: what list/lookup/dominfo need. */
struct domain_info {
	char name[VM_NAME_MAX];
	char uuid[DOMAIN_UUID_LEN];   /* canonical text */
	uint8_t uuid_raw[16];
	int id;                       /* -1 when not running */
	enum domain_state state;
	int reason;                   /* enum domain_*_reason of the state */
	bool persistent;
	bool autostart;
	int vcpus;
	uint64_t max_mem_bytes;       /* <memory>: the guest's RAM */
	uint64_t cur_mem_bytes;       /* running: RAM minus the balloon now; else <currentMemory> */
	uint64_t cpu_time_ns;         /* running: the vCPU threads' CPU time; else 0 */
	int exit_code;                /* last stop: the guest's exit code (-1: stopped by gmm) */
	char stop_reason[160];        /* last stop, as `gmm stat` says it; empty: never ran */
};

/* A running domain's memory, for dommemstat (bytes; valid flags say what
 * the guest's balloon statistics included). */
struct domain_mem_stats {
	uint64_t ram_bytes;           /* the guest's RAM */
	uint64_t actual_bytes;        /* RAM minus the balloon (libvirt's "actual") */
	uint64_t rss_bytes;           /* host memory its RAM holds now: pool frames or anon pages */
	uint64_t host_swap_in_pages;  /* gmm's swap of this guest: pswpin */
	uint64_t host_swap_out_pages; /* pswpout */
	uint64_t host_faults;         /* stage-2 faults (minor, from the host's side) */
	bool has_balloon;
	/* the guest's own statistics from its balloon (virtio tags), when sent */
	bool guest_valid[VIRTIO_BALLOON_S_NR]; /* indexed by VIRTIO_BALLOON_S_* */
	uint64_t guest[VIRTIO_BALLOON_S_NR];
	int64_t guest_stats_age_s;    /* seconds since the guest last sent them; -1 never */
};

/*
 * Open the registry over state_dir (created 0700 if missing, with
 * domains/ and autostart/ inside): every domains/NAME.xml is parsed and
 * defined; a file that does not parse is logged and skipped (renamed
 * NAME.xml.bad), never fatal. default_kernel is the test guest used when
 * a definition has no <kernel>. Nothing starts until domains_autostart().
 */
struct gmm_config;
int domains_open(struct host *host, struct gmm_config *host_cfg, const char *state_dir, const char *default_kernel,
		 struct domains **out, char *err, size_t errlen);
/* Start every autostart domain; failures are logged, counted, not fatal.
 * Returns how many started. */
int domains_autostart(struct domains *d);
/* Reap guests that stopped by themselves (the guest exited or crashed):
 * state SHUTOFF/CRASHED, memory back to the pool, transient ones forgotten.
 * The daemon calls it about every 50 ms; every other call reaps first too. */
void domains_reap(struct domains *d);
/* SIGTERM: stop every running domain (reason DAEMON), wait, free. */
void domains_stop_all(struct domains *d);
void domains_close(struct domains *d);

/* Lookups: 0 and *out filled, or -ENOENT. */
int domains_lookup_name(struct domains *d, const char *name, struct domain_info *out);
int domains_lookup_uuid(struct domains *d, const uint8_t uuid[16], struct domain_info *out);
int domains_lookup_id(struct domains *d, int id, struct domain_info *out);
/* Every domain, running ones first (by id), then the shut-off ones by
 * name. Returns how many were written (at most max); *total all there are. */
int domains_list(struct domains *d, struct domain_info *out, int max, int *total);

/* Define (or redefine: same name and uuid) a persistent domain from XML;
 * written to the state dir before it returns. A running domain's new
 * definition takes effect at its next start. */
int domains_define_xml(struct domains *d, const char *xml, size_t len, struct domain_info *out, char *err,
		       size_t errlen);
/* Define a transient domain and start it (`virsh create`). */
int domains_create_xml(struct domains *d, const char *xml, size_t len, struct domain_info *out, char *err,
		       size_t errlen);
/* A running persistent domain becomes transient; a shut-off one is gone.
 * Its XML and autostart link are removed. */
int domains_undefine(struct domains *d, const char *name, char *err, size_t errlen);

int domains_start(struct domains *d, const char *name, char *err, size_t errlen);
/* shutdown: the guest is asked to stop (gmm's test guest has no ACPI: its
 * vCPUs are parked with exit code 0 and reason "shutdown"); destroy:
 * parked at once (reason "destroyed"). Both wait until it has stopped and
 * its memory is back in the pool. */
int domains_shutdown(struct domains *d, const char *name, char *err, size_t errlen);
int domains_destroy(struct domains *d, const char *name, char *err, size_t errlen);

int domains_set_autostart(struct domains *d, const char *name, bool on, char *err, size_t errlen);
int domains_get_autostart(struct domains *d, const char *name, bool *on, char *err, size_t errlen);

/* dumpxml: malloc'd document. inactive: the persistent definition (for a
 * running domain, the one its next start uses); otherwise, for a running
 * domain, the live state (id, currentMemory, memtune, stats period). */
char *domains_xml(struct domains *d, const char *name, bool inactive, char *err, size_t errlen);

/*
 * Memory. live: the running guest; config: the persistent definition
 * (both may be set; neither means live if running, else config, as
 * libvirt's VIR_DOMAIN_AFFECT_CURRENT).
 * - set_memory: the balloon target so the guest keeps `bytes`
 *   (live needs the balloon: -EOPNOTSUPP otherwise; config sets
 *   <currentMemory>). bytes above RAM: -EINVAL.
 * - set_max_memory: <memory> of a definition; live: -EOPNOTSUPP (no
 *   memory hotplug). Lowers currentMemory with it.
 */
enum domain_affect { DOMAIN_AFFECT_CURRENT = 0, DOMAIN_AFFECT_LIVE = 1, DOMAIN_AFFECT_CONFIG = 2 };
int domains_set_memory(struct domains *d, const char *name, uint64_t bytes, unsigned affect, char *err,
		       size_t errlen);
int domains_set_max_memory(struct domains *d, const char *name, uint64_t bytes, unsigned affect, char *err,
			   size_t errlen);
/* Ask for fresh guest statistics (waits up to a second) and read them. */
int domains_memory_stats(struct domains *d, const char *name, struct domain_mem_stats *out, char *err,
			 size_t errlen);
/* The balloon's statistics period: live and/or config; -EOPNOTSUPP without a balloon. */
int domains_set_stats_period(struct domains *d, const char *name, int seconds, unsigned affect, char *err,
			     size_t errlen);

/* memtune: gmm's limits (LIMIT_UNSET: none). get reads live if running
 * (affect CONFIG: the definition). set changes only the fields that are
 * not LIMIT_KEEP; live limits take effect at once (stage2_set_limits). */
#define LIMIT_KEEP (UINT64_MAX - 1)
int domains_get_limits(struct domains *d, const char *name, unsigned affect, struct limits_config *out,
		       char *err, size_t errlen);
int domains_set_limits(struct domains *d, const char *name, const struct limits_config *set, unsigned affect,
		       char *err, size_t errlen);

/* numatune: policy name (gmm's: bind, preferred, preferred-many,
 * interleave, default, ...) and nodeset text ("0-1"). Live changes are
 * refused with -EOPNOTSUPP (gmm binds a guest's policy at start);
 * config changes are checked against the pool's nodes. */
int domains_get_numa(struct domains *d, const char *name, unsigned affect, char *policy, size_t policy_len,
		     char *nodes, size_t nodes_len, char *err, size_t errlen);
int domains_set_numa(struct domains *d, const char *name, const char *policy, const char *nodes,
		     unsigned affect, char *err, size_t errlen);

/* Lifecycle events (virsh event): called with the registry unlocked, from
 * whatever thread made the change (a procedure's, or the reaper's).
 * event/detail are libvirt's virDomainEventType and its detail. */
typedef void (*domains_event_fn)(void *ctx, const struct domain_info *dom, int event, int detail);
/* Replacing the callback (or clearing it: NULL) waits until no call to
 * the old one is running; never call it from inside a callback. */
void domains_set_event_cb(struct domains *d, domains_event_fn fn, void *ctx);

/* The host for node procedures (nodeinfo, freecell, nodememstats). */
struct host *domains_host(struct domains *d);

#endif
