/*
 * Lifecycle events (`virsh event --loop --all`): a client registers a
 * callback per event id (only VIR_DOMAIN_EVENT_ID_LIFECYCLE is served);
 * each registration gets an id of this connection, and every lifecycle
 * change of a matching domain becomes one DOMAIN_EVENT_CALLBACK_LIFECYCLE
 * message (type MESSAGE) carrying that id. The server (server.c) fans the
 * registry's events out to every connection through
 * remote_event_lifecycle().
 */
#include <errno.h>
#include <string.h>

#include "vmm/domains.h"
#include "vmm/libvirt/remote.h"

#define VIR_DOMAIN_EVENT_ID_LIFECYCLE 0
#define REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE 318

REMOTE_HANDLER(connect_domain_event_callback_register_any)
{
	struct remote_conn *rc = cc->priv;
	struct remote_dom dom = { 0 };
	struct domain_info info;
	int32_t event_id;
	bool has_dom;
	int slot = -1, id;

	xdr_get_i32(cc->args, &event_id);
	xdr_get_opt(cc->args, &has_dom);
	if (has_dom)
		remote_get_dom(cc->args, &dom);
	if (xdr_dec_err(cc->args)) {
		remote_dom_free(&dom);
		return -EBADMSG;
	}
	if (has_dom && remote_find_dom(cc, &dom, &info)) {
		remote_dom_free(&dom);
		return -ENOENT;
	}
	remote_dom_free(&dom);
	if (event_id != VIR_DOMAIN_EVENT_ID_LIFECYCLE)
		return remote_err(cc, VIR_ERR_NO_SUPPORT, "gmm sends lifecycle events only (event id %d)", event_id);

	pthread_mutex_lock(&rc->ev_lock);
	for (int i = 0; i < REMOTE_EVENT_CALLBACKS_MAX && slot < 0; i++)
		if (!rc->ev[i].id)
			slot = i;
	if (slot >= 0) {
		id = rc->next_ev_id++;
		rc->ev[slot] = (struct remote_event_cb){ .id = id, .any_domain = !has_dom };
		if (has_dom)
			memcpy(rc->ev[slot].uuid, info.uuid_raw, 16);
	}
	pthread_mutex_unlock(&rc->ev_lock);
	if (slot < 0)
		return remote_err(cc, VIR_ERR_OPERATION_FAILED, "too many event callbacks (%d)",
				  REMOTE_EVENT_CALLBACKS_MAX);
	return xdr_put_i32(cc->ret, id);
}

REMOTE_HANDLER(connect_domain_event_callback_deregister_any)
{
	struct remote_conn *rc = cc->priv;
	int32_t id;
	bool found = false;

	if (xdr_get_i32(cc->args, &id))
		return -EBADMSG;
	pthread_mutex_lock(&rc->ev_lock);
	for (int i = 0; i < REMOTE_EVENT_CALLBACKS_MAX; i++)
		if (id > 0 && rc->ev[i].id == id) {
			rc->ev[i].id = 0;
			found = true;
		}
	pthread_mutex_unlock(&rc->ev_lock);
	if (!found)
		return remote_err(cc, VIR_ERR_INVALID_ARG, "callback ID %d not registered", id);
	return 0;
}

static void lifecycle_msg(struct xdr_enc *out, int cb_id, const struct domain_info *dom, int event, int detail)
{
	struct rpc_header h = {
		.prog = REMOTE_PROGRAM, .vers = REMOTE_PROTOCOL_VERSION,
		.proc = REMOTE_PROC_DOMAIN_EVENT_CALLBACK_LIFECYCLE, .type = VIR_NET_MESSAGE,
		.serial = 1, .status = VIR_NET_OK,
	};

	rpc_msg_begin(out, &h);
	xdr_put_i32(out, cb_id);
	remote_put_dom(out, dom);
	xdr_put_i32(out, event);
	xdr_put_i32(out, detail);
	rpc_msg_end(out);
}

int remote_event_lifecycle(struct remote_conn *rc, const struct domain_info *dom, int event, int detail,
			   struct xdr_enc *tmp, remote_send_fn send, void *arg)
{
	int ret = 0, sent = 0;

	/* under ev_lock: a deregistered callback gets nothing after its reply */
	pthread_mutex_lock(&rc->ev_lock);
	for (int i = 0; i < REMOTE_EVENT_CALLBACKS_MAX && !ret; i++) {
		const struct remote_event_cb *cb = &rc->ev[i];

		if (!cb->id || (!cb->any_domain && memcmp(cb->uuid, dom->uuid_raw, 16)))
			continue;
		lifecycle_msg(tmp, cb->id, dom, event, detail);
		ret = xdr_enc_err(tmp);
		if (!ret)
			ret = send(arg, tmp->data, tmp->len);
		sent += !ret;
	}
	pthread_mutex_unlock(&rc->ev_lock);
	return ret < 0 ? ret : sent;
}
