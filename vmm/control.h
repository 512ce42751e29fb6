/*
 * The control socket: newline-delimited JSON over a unix socket, mode 0600,
 * every peer's credentials checked (root or gmm's own uid). One request
 * {"cmd": "stat", "guest": "a"} per line, one reply {"ok": true, ...} or
 * {"ok": false, "error": "..."}. Commands live in one table (control_cmds.c)
 * that later mechanisms extend. A malformed or oversized request gets an
 * error reply; it never disturbs a guest. While gmm stops, a request that
 * already reached it is answered {"ok": false, "error": "gmm is shutting
 * down"} and a new connection is refused, never reset without a word.
 */
#ifndef GMM_VMM_CONTROL_H
#define GMM_VMM_CONTROL_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>

struct host;

#define CONTROL_MAX_CLIENTS 16
#define CONTROL_LINE_MAX    (64 * 1024)

struct control_server {
	struct host *host;
	int listen_fd;
	int wake[2];               /* pipe: wakes the server to stop */
	pthread_t thread;
	char path[108];
	atomic_ulong nr_rejected;  /* peers refused, lines too long, bad JSON */
	bool stopping;             /* the server thread's own: answers are refusals */
};

int control_start(struct control_server *cs, struct host *host, const char *path, char *err, size_t errlen);
void control_stop(struct control_server *cs);

/* The dispatcher (control_cmds.c): one request object in, one reply out. */
json_t *control_dispatch(struct host *host, json_t *req);

/* `balloon` (control_balloon.c): the command, and a guest's balloon as
 * JSON (stat shows it too). */
struct vm;
json_t *cmd_balloon(struct host *h, json_t *req, const char **err);
json_t *balloon_info_json(struct vm *vm);
/* `numa` (control_numa.c): nodes, a guest's placement, migratepages. */
json_t *cmd_numa(struct host *h, json_t *req, const char **err);
/* `domains` (control_domains.c): a daemon's domains and libvirt counters. */
json_t *cmd_domains(struct host *h, json_t *req, const char **err);

/* Client side: one request, one reply. Returns -errno with err set. */
int control_call(const char *path, json_t *req, json_t **reply, char *err, size_t errlen);

#endif
