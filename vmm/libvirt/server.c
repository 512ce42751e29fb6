/* The libvirt endpoint: rpc_server + remote program + events (server.h). */
#include "vmm/libvirt/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmm/domains.h"
#include "vmm/libvirt/remote.h"
#include "vmm/libvirt/rpc_server.h"

struct libvirt_server {
	struct domains *d;
	struct rpc_server *rpc;
	pthread_mutex_t ev_lock;   /* serialises event fan-out (ev_enc) */
	struct xdr_enc ev_enc;
};

static void conn_keepalive(void *client)
{
	rpc_server_client_keepalive(client);
}

static const struct remote_conn_ops conn_ops = { .keepalive_start = conn_keepalive };

static void *conn_open(void *ctx, struct rpc_server_client *c)
{
	struct libvirt_server *s = ctx;
	struct remote_conn *rc = malloc(sizeof(*rc));

	if (rc)
		remote_conn_init(rc, s->d, &conn_ops, c);
	return rc;
}

static void conn_close(void *ctx, void *priv)
{
	(void)ctx;
	remote_conn_destroy(priv);
	free(priv);
}

static const struct rpc_server_ops server_ops = { .conn_open = conn_open, .conn_close = conn_close };

struct fanout {
	struct libvirt_server *s;
	const struct domain_info *dom;
	int event, detail;
};

static int send_to_client(void *arg, const void *msg, size_t len)
{
	/* a client too far behind is dropped by the send; others go on */
	rpc_server_client_send(arg, msg, len);
	return 0;
}

static void fanout_one(void *arg, struct rpc_server_client *c, void *priv)
{
	struct fanout *f = arg;

	remote_event_lifecycle(priv, f->dom, f->event, f->detail, &f->s->ev_enc, send_to_client, c);
}

/* The registry's lifecycle callback: any thread, registry unlocked. */
static void on_event(void *ctx, const struct domain_info *dom, int event, int detail)
{
	struct libvirt_server *s = ctx;
	struct fanout f = { s, dom, event, detail };

	pthread_mutex_lock(&s->ev_lock);
	rpc_server_foreach_client(s->rpc, fanout_one, &f);
	pthread_mutex_unlock(&s->ev_lock);
}

int libvirt_server_start(struct domains *d, const char *path, struct libvirt_server **out, char *err,
			 size_t errlen)
{
	struct libvirt_server *s = calloc(1, sizeof(*s));
	int ret;

	if (!s || rpc_enc_init(&s->ev_enc)) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->d = d;
	pthread_mutex_init(&s->ev_lock, NULL);
	ret = rpc_server_start(path, &remote_program, &server_ops, s, NULL, &s->rpc, err, errlen);
	if (ret) {
		xdr_enc_free(&s->ev_enc);
		pthread_mutex_destroy(&s->ev_lock);
		free(s);
		return ret;
	}
	domains_set_event_cb(d, on_event, s);
	*out = s;
	return 0;
}

void libvirt_server_stop(struct libvirt_server *s)
{
	if (!s)
		return;
	/* waits for an event already being sent: none runs after this */
	domains_set_event_cb(s->d, NULL, NULL);
	rpc_server_stop(s->rpc);
	xdr_enc_free(&s->ev_enc);
	pthread_mutex_destroy(&s->ev_lock);
	free(s);
}

void libvirt_server_stats(struct libvirt_server *s, json_t *into)
{
	uint64_t st[NR_SRV_STATS];

	rpc_server_read_stats(s->rpc, st);
	for (int i = 0; i < NR_SRV_STATS; i++)
		json_object_set_new(into, rpc_server_stat_names[i], json_integer((json_int_t)st[i]));
	json_object_set_new(into, "clients", json_integer(rpc_server_nr_clients(s->rpc)));
}
