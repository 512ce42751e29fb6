/*
 * libvirt's REMOTE_PROGRAM (src/remote/remote_protocol.x) served over the
 * daemon's domain registry (vmm/domains.h). The procedures are split by
 * topic: remote_connect.c (handshake, host and node), remote_domain.c
 * (lookup, list, lifecycle, info, XML), remote_memory.c (setmem,
 * dommemstat, memtune, numatune), remote_event.c (lifecycle events);
 * remote_util.c holds what they share (argument shapes, typed parameters,
 * errno -> libvirt error). remote_program.c is the table.
 *
 * Every libvirt <-> gmm mapping of names and units lives in these files;
 * domains.h speaks gmm's terms (bytes, struct limits_config).
 */
#ifndef GMM_LIBVIRT_REMOTE_H
#define GMM_LIBVIRT_REMOTE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/libvirt/rpc.h"

struct domains;
struct domain_info;

/* remote_protocol.x limits gmm enforces on what it decodes or encodes */
#define REMOTE_STRING_MAX                   4194304
#define REMOTE_DOMAIN_LIST_MAX              16384
#define REMOTE_DOMAIN_MEMORY_STATS_MAX      1024
#define REMOTE_DOMAIN_MEMORY_PARAMETERS_MAX 16
#define REMOTE_DOMAIN_NUMA_PARAMETERS_MAX   16
#define REMOTE_NODE_MEMORY_STATS_MAX        16
#define REMOTE_NODE_MAX_CELLS               1024
#define REMOTE_AUTH_TYPE_LIST_MAX           20
#define REMOTE_SECURITY_MODEL_MAX           257  /* VIR_SECURITY_MODEL_BUFLEN */
#define REMOTE_SECURITY_DOI_MAX             257
#define REMOTE_SECURITY_LABEL_MAX           4097
#define REMOTE_VCPUINFO_MAX                 16384
#define REMOTE_CPUMAPS_MAX                  8388608
#define VIR_TYPED_PARAM_FIELD_LENGTH        80

/* The connection's registered lifecycle-event callbacks (virsh event). */
#define REMOTE_EVENT_CALLBACKS_MAX 32
struct remote_event_cb {
	int id;               /* the callbackID we handed out; 0: free slot */
	bool any_domain;
	uint8_t uuid[16];     /* else only this domain's events */
};

/* The rpc_server client, as remote procedures see it (NULL ops: none, as
 * in the fuzzer). */
struct remote_conn_ops {
	void (*keepalive_start)(void *client);
};

/* One client connection: rpc_dispatch()'s priv. */
struct remote_conn {
	struct domains *d;
	const struct remote_conn_ops *ops;
	void *client;
	bool opened;            /* CONNECT_OPEN done */
	pthread_mutex_t ev_lock; /* protects ev[], next_ev_id: events come from any thread */
	struct remote_event_cb ev[REMOTE_EVENT_CALLBACKS_MAX];
	int next_ev_id;
};

void remote_conn_init(struct remote_conn *rc, struct domains *d, const struct remote_conn_ops *ops,
		      void *client);
void remote_conn_destroy(struct remote_conn *rc);

extern const struct rpc_program remote_program;

/* REMOTE_PROC_DOMAIN_FD_ASSOCIATE: the last procedure libvirt 9.0 defines */
#define REMOTE_PROC_LAST 443
/* "DOMAIN_GET_VCPUS" for 20; NULL for a number libvirt 9.0 does not define */
const char *remote_proc_name(int proc);

/*
 * A lifecycle event for rc: one DOMAIN_EVENT_CALLBACK_LIFECYCLE message
 * per callback of rc that wants it, each built in tmp and handed to send
 * (which must not block). Returns how many were sent, or <0. Any thread.
 */
typedef int (*remote_send_fn)(void *arg, const void *msg, size_t len);
int remote_event_lifecycle(struct remote_conn *rc, const struct domain_info *dom, int event, int detail,
			   struct xdr_enc *tmp, remote_send_fn send, void *arg);

/* ---- shared by the procedures (remote_util.c) ---- */

/* remote_nonnull_domain: name, 16-byte uuid, id. */
struct remote_dom {
	char *name;           /* malloc'd */
	uint8_t uuid[16];
	int32_t id;
};
int remote_get_dom(struct xdr_dec *d, struct remote_dom *dom);
void remote_dom_free(struct remote_dom *dom);
int remote_put_dom(struct xdr_enc *e, const struct domain_info *info);

/*
 * Resolve the domain a call names by its uuid, as libvirt's drivers do (a
 * stale handle never reaches a new domain of the same name). On failure
 * err is set (VIR_ERR_NO_DOMAIN) and <0 returned.
 */
int remote_find_dom(struct rpc_call_ctl *cc, const struct remote_dom *dom, struct domain_info *info);

/* The canonical text of a raw uuid (37 bytes with the NUL). */
void remote_uuid_text(const uint8_t u[16], char out[37]);

/* Decode the common "dom, flags" argument shape and resolve it. */
int remote_dom_args(struct rpc_call_ctl *cc, struct domain_info *info, uint32_t *flags);

/*
 * A domains.h error (negative errno and its one-line text) as the libvirt
 * error virsh prints (see the mapping at the top of domains.h). Returns ret.
 */
int remote_fail(struct rpc_call_ctl *cc, int ret, const char *text);
/* The libvirt code and domain for a domains.h errno (unit-tested). */
void remote_errno_code(int ret, int *code, int *domain);

/* Set err to libvirt's phrase for code then ": " and the text. */
int remote_err(struct rpc_call_ctl *cc, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Refuse flags outside allowed, as libvirt's virCheckFlags(). */
int remote_check_flags(struct rpc_call_ctl *cc, uint32_t flags, uint32_t allowed);

/* virDomainModificationImpact -> domains.h affect */
unsigned remote_affect(uint32_t flags);

/* "char x<max>" in the .x files: an XDR array of 4-byte chars; libvirt
 * sends the string with its NUL. */
int remote_put_char_array(struct xdr_enc *e, const char *s, uint32_t max);

/* typed parameters (remote_typed_param) */
enum vir_typed_param_type {
	VIR_TYPED_PARAM_INT = 1,
	VIR_TYPED_PARAM_UINT = 2,
	VIR_TYPED_PARAM_LLONG = 3,
	VIR_TYPED_PARAM_ULLONG = 4,
	VIR_TYPED_PARAM_DOUBLE = 5,
	VIR_TYPED_PARAM_BOOLEAN = 6,
	VIR_TYPED_PARAM_STRING = 7,
};
struct remote_tparam {
	char field[VIR_TYPED_PARAM_FIELD_LENGTH];
	int type;
	union {
		int32_t i;
		uint32_t ui;
		int64_t l;
		uint64_t ul;
		double d;
		int32_t b;
	} v;
	char *s;              /* STRING: malloc'd */
};
int remote_put_tparam_ullong(struct xdr_enc *e, const char *field, uint64_t v);
int remote_put_tparam_int(struct xdr_enc *e, const char *field, int32_t v);
int remote_put_tparam_string(struct xdr_enc *e, const char *field, const char *s);
/* Decode an array of at most max; *out malloc'd (free with remote_tparams_free). */
int remote_get_tparams(struct xdr_dec *d, struct remote_tparam **out, uint32_t *n, uint32_t max);
void remote_tparams_free(struct remote_tparam *p, uint32_t n);
/* A number parameter as u64 (any integer type; negatives refused). */
int remote_tparam_u64(const struct remote_tparam *p, uint64_t *v);

/* ---- the procedures, by file ---- */
#define REMOTE_HANDLER(n) int remote_##n(struct rpc_call_ctl *cc)
/* remote_connect.c */
REMOTE_HANDLER(connect_open);
REMOTE_HANDLER(connect_close);
REMOTE_HANDLER(connect_get_type);
REMOTE_HANDLER(connect_get_version);
REMOTE_HANDLER(connect_get_lib_version);
REMOTE_HANDLER(connect_get_hostname);
REMOTE_HANDLER(connect_get_uri);
REMOTE_HANDLER(connect_get_max_vcpus);
REMOTE_HANDLER(connect_get_capabilities);
REMOTE_HANDLER(connect_supports_feature);
REMOTE_HANDLER(connect_is_secure);
REMOTE_HANDLER(connect_register_close_callback);
REMOTE_HANDLER(connect_unregister_close_callback);
REMOTE_HANDLER(auth_list);
REMOTE_HANDLER(node_get_info);
REMOTE_HANDLER(node_get_memory_stats);
REMOTE_HANDLER(node_get_cells_free_memory);
REMOTE_HANDLER(node_get_free_memory);
REMOTE_HANDLER(node_get_security_model);
/* remote_domain.c */
REMOTE_HANDLER(connect_list_all_domains);
REMOTE_HANDLER(connect_num_of_domains);
REMOTE_HANDLER(connect_list_domains);
REMOTE_HANDLER(connect_num_of_defined_domains);
REMOTE_HANDLER(connect_list_defined_domains);
REMOTE_HANDLER(domain_lookup_by_id);
REMOTE_HANDLER(domain_lookup_by_name);
REMOTE_HANDLER(domain_lookup_by_uuid);
REMOTE_HANDLER(domain_define_xml);
REMOTE_HANDLER(domain_define_xml_flags);
REMOTE_HANDLER(domain_create_xml);
REMOTE_HANDLER(domain_undefine);
REMOTE_HANDLER(domain_undefine_flags);
REMOTE_HANDLER(domain_create);
REMOTE_HANDLER(domain_create_with_flags);
REMOTE_HANDLER(domain_shutdown);
REMOTE_HANDLER(domain_shutdown_flags);
REMOTE_HANDLER(domain_destroy);
REMOTE_HANDLER(domain_destroy_flags);
REMOTE_HANDLER(domain_get_info);
REMOTE_HANDLER(domain_get_state);
REMOTE_HANDLER(domain_get_os_type);
REMOTE_HANDLER(domain_get_autostart);
REMOTE_HANDLER(domain_set_autostart);
REMOTE_HANDLER(domain_is_active);
REMOTE_HANDLER(domain_is_persistent);
REMOTE_HANDLER(domain_is_updated);
REMOTE_HANDLER(domain_has_managed_save_image);
REMOTE_HANDLER(domain_get_xml_desc);
REMOTE_HANDLER(domain_get_security_label);
REMOTE_HANDLER(domain_get_max_vcpus);
REMOTE_HANDLER(domain_get_vcpus_flags);
REMOTE_HANDLER(domain_get_max_memory);
REMOTE_HANDLER(domain_snapshot_num);
REMOTE_HANDLER(domain_get_messages);
/* remote_memory.c */
REMOTE_HANDLER(domain_set_memory);
REMOTE_HANDLER(domain_set_max_memory);
REMOTE_HANDLER(domain_set_memory_flags);
REMOTE_HANDLER(domain_memory_stats);
REMOTE_HANDLER(domain_set_memory_stats_period);
REMOTE_HANDLER(domain_get_memory_parameters);
REMOTE_HANDLER(domain_set_memory_parameters);
REMOTE_HANDLER(domain_get_numa_parameters);
REMOTE_HANDLER(domain_set_numa_parameters);
/* remote_event.c */
REMOTE_HANDLER(connect_domain_event_callback_register_any);
REMOTE_HANDLER(connect_domain_event_callback_deregister_any);

/* The host facts node procedures and capabilities report (remote_node_info.c;
 * the fuzzer supplies a fake). */
#define REMOTE_NODES_MAX 64
struct remote_node_info {
	int nr_cpus;                 /* online host CPUs */
	int mhz;
	int nr_nodes;                /* the pool's nodes */
	uint64_t total_bytes;        /* the pool */
	uint64_t free_bytes;
	uint64_t node_total_bytes[REMOTE_NODES_MAX];
	uint64_t node_free_bytes[REMOTE_NODES_MAX];
	uint8_t distance[REMOTE_NODES_MAX][REMOTE_NODES_MAX];
	char node_cpus[REMOTE_NODES_MAX][256]; /* "0-3": CPUs of a real node; empty: emulated */
};
int remote_node_info_read(struct domains *d, struct remote_node_info *out);

#endif
