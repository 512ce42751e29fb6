/*
 * The socket side of libvirt's remote protocol: a unix listening socket,
 * one thread per client, each with its rpc_reader, rpc_dispatch() into a
 * procedure table, a bounded output queue and libvirt's server keepalive.
 * It knows nothing of domains: server.c wires it to the remote program and
 * the daemon's registry; unit tests drive it with a stub program.
 *
 * Why a thread per client: a procedure may take a while (starting a guest
 * waits for its memory), and only that client waits. Nothing ever blocks on
 * a client's socket: every send goes through the client's queue, which its
 * own thread flushes with non-blocking writes, so a client that stops
 * reading stalls nobody (past max_out_bytes queued it is dropped).
 *
 * Locking: server->lock protects the client list; a client's lock protects
 * its output queue. Order: server->lock, then a client's lock.
 */
#ifndef GMM_LIBVIRT_RPC_SERVER_H
#define GMM_LIBVIRT_RPC_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/libvirt/rpc.h"

struct rpc_server;
struct rpc_server_client;

struct rpc_server_ops {
	/* A client connected: its priv for rpc_dispatch(), or NULL to refuse. */
	void *(*conn_open)(void *ctx, struct rpc_server_client *c);
	/* The client is gone (its thread, before exit): no call runs on priv
	 * any more and rpc_server_foreach_client() no longer shows it. */
	void (*conn_close)(void *ctx, void *priv);
};

struct rpc_server_opts {
	int keepalive_interval_ms;  /* libvirtd's keepalive_interval: 5000 */
	int keepalive_count;        /* libvirtd's keepalive_count: 5 */
	int max_clients;            /* more are accepted and closed at once */
	size_t max_msg_bytes;       /* the reader's cap; 0: GMM_RPC_MESSAGE_MAX */
	size_t max_out_bytes;       /* a client's queued output beyond this: dropped */
};
#define RPC_SERVER_OPTS_DEFAULT { 5000, 5, 64, 0, 3 * GMM_RPC_MESSAGE_MAX }

/* Counters (the printed name is rpc_server_stat_names[]). */
enum rpc_server_stat_item {
	SRV_CLIENTS_ACCEPTED,
	SRV_CLIENTS_REFUSED,   /* wrong uid, too many clients, conn_open said no */
	SRV_MSGS_IN,           /* whole messages received */
	SRV_CALLS,             /* calls dispatched */
	SRV_ERRORS,            /* error replies sent */
	SRV_EVENTS,            /* messages queued by rpc_server_client_send() */
	SRV_PINGS_SENT,
	SRV_PONGS_SENT,
	SRV_DROP_KEEPALIVE,    /* no answer to our pings */
	SRV_DROP_MALFORMED,    /* bad length word, overrun */
	SRV_DROP_SLOW,         /* output queue over max_out_bytes */
	SRV_DISCONNECTS,       /* the client closed (or reset) */
	SRV_BYTES_IN,
	SRV_BYTES_OUT,
	NR_SRV_STATS
};
extern const char *const rpc_server_stat_names[NR_SRV_STATS];

/*
 * Listen on path (a stale socket file is replaced, a live one refused:
 * -EADDRINUSE), mode 0600; peers other than root and our euid are closed.
 * opts NULL: RPC_SERVER_OPTS_DEFAULT. Returns 0 or -errno with err set.
 */
int rpc_server_start(const char *path, const struct rpc_program *prog, const struct rpc_server_ops *ops,
		     void *ctx, const struct rpc_server_opts *opts, struct rpc_server **out, char *err,
		     size_t errlen);
/* Close the listener and every client, join all threads, unlink path. */
void rpc_server_stop(struct rpc_server *s);

void rpc_server_read_stats(struct rpc_server *s, uint64_t out[NR_SRV_STATS]);
int rpc_server_nr_clients(struct rpc_server *s);

/* From a call on c (CONNECT_SUPPORTS_FEATURE with PROGRAM_KEEPALIVE): from
 * now on ping c when it is idle and drop it when it stays silent. */
void rpc_server_client_keepalive(struct rpc_server_client *c);
/* Queue one whole message for c from any thread; never blocks on the
 * socket. -EPIPE: c is closing; -ENOBUFS: c fell too far behind and is
 * dropped. */
int rpc_server_client_send(struct rpc_server_client *c, const void *msg, size_t len);
/* fn on every live client, under server->lock (fn must not call back into
 * the server except rpc_server_client_send()). */
void rpc_server_foreach_client(struct rpc_server *s, void (*fn)(void *arg, struct rpc_server_client *c,
								void *priv),
			       void *arg);

#endif
