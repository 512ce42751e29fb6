/*
 * The daemon's libvirt endpoint: libvirt's remote protocol on a unix
 * socket (URI gmm+unix:///system?socket=PATH), serving the remote program
 * (remote.h) over the daemon's domain registry. Stock virsh and the
 * libvirt bindings talk to it; docs/libvirt.md lists what they can do.
 *
 * Several clients at once, a thread each (rpc_server.h); keepalive as
 * libvirtd's defaults (ping after 5 s idle, drop after 5 unanswered);
 * lifecycle events go to every client that registered for them.
 */
#ifndef GMM_LIBVIRT_SERVER_H
#define GMM_LIBVIRT_SERVER_H

#include <jansson.h>
#include <stddef.h>

struct domains;
struct libvirt_server;

/* Listen on path (0600; peers must be root or our euid) and register for
 * the registry's lifecycle events. Returns 0 or -errno with err set. */
int libvirt_server_start(struct domains *d, const char *path, struct libvirt_server **out, char *err,
			 size_t errlen);
/* Stop listening, close every client, join the threads. Unregisters the
 * event callback first (the registry must outlive this call). */
void libvirt_server_stop(struct libvirt_server *s);
/* The counters (rpc_server_stat_names[]) and "clients" (connected now)
 * into the object into, for the control socket. */
void libvirt_server_stats(struct libvirt_server *s, json_t *into);

#endif
