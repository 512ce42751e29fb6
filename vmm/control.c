/* Control socket server and client; see control.h. */
#include "vmm/control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/unix_socket.h"

struct control_client {
	int fd;
	size_t len;
	char *buf;                 /* CONTROL_LINE_MAX bytes */
	bool owes_line;            /* connected, has not asked anything yet */
};

/* How long a stopping server waits for the requests of clients that
 * connected just before it stopped; see control_refuse_pending(). */
#define CONTROL_STOP_GRACE_MS 200

static void send_line(int fd, json_t *reply)
{
	char *text = json_dumps(reply, JSON_COMPACT);
	size_t n, off = 0;

	if (!text)
		return;
	n = strlen(text);
	text[n] = '\n'; /* json_dumps leaves room: replace NUL, write n+1 */
	while (off < n + 1) {
		ssize_t w = send(fd, text + off, n + 1 - off, MSG_NOSIGNAL);

		if (w <= 0)
			break;
		off += w;
	}
	free(text);
}

static json_t *error_reply(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static void handle_line(struct control_server *cs, int fd, const char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr), *reply;
	char msg[256];

	if (!req || !json_is_object(req)) {
		atomic_fetch_add(&cs->nr_rejected, 1);
		snprintf(msg, sizeof(msg), "bad request: %s", req ? "must be a JSON object" : jerr.text);
		reply = error_reply(msg);
	} else if (cs->stopping) {
		reply = error_reply("gmm is shutting down");
	} else {
		reply = control_dispatch(cs->host, req);
	}
	send_line(fd, reply);
	json_decref(reply);
	json_decref(req);
}

/* Returns false when the client is to be dropped. */
static bool client_read(struct control_server *cs, struct control_client *c)
{
	ssize_t n = recv(c->fd, c->buf + c->len, CONTROL_LINE_MAX - c->len, 0);
	char *nl;

	if (n <= 0)
		return false;
	c->len += n;
	while ((nl = memchr(c->buf, '\n', c->len))) {
		*nl = '\0';
		c->owes_line = false;
		handle_line(cs, c->fd, c->buf);
		c->len -= nl + 1 - c->buf;
		memmove(c->buf, nl + 1, c->len);
	}
	if (c->len == CONTROL_LINE_MAX) {
		atomic_fetch_add(&cs->nr_rejected, 1);
		json_t *r = error_reply("request longer than 64 KiB");

		send_line(c->fd, r);
		json_decref(r);
		return false;
	}
	return true;
}

/* Returns false when nothing was waiting to be accepted. */
static bool accept_client(struct control_server *cs, struct control_client *clients, int *nr)
{
	int fd = accept4(cs->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return false;
	if (!unix_peer_allowed(fd) || *nr == CONTROL_MAX_CLIENTS) {
		atomic_fetch_add(&cs->nr_rejected, 1);
		close(fd);
		return true;
	}
	clients[*nr].fd = fd;
	clients[*nr].len = 0;
	clients[*nr].owes_line = true;
	clients[*nr].buf = malloc(CONTROL_LINE_MAX);
	if (!clients[*nr].buf) {
		close(fd);
		return true;
	}
	(*nr)++;
	return true;
}

static void drop_client(struct control_client *clients, int *nr, int i)
{
	close(clients[i].fd);
	free(clients[i].buf);
	clients[i] = clients[--*nr];
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * Stopping. Closing a unix socket with unread data in it resets its peer,
 * and so does closing a listener with connections it has not accepted yet
 * (unix_release_sock()): a client that asked at the wrong moment would see
 * ECONNRESET and no reason. So the listener is first shut for reading,
 * after which connect() fails with ECONNREFUSED; what already queued is
 * accepted, and every request read within a short grace is answered
 * {"ok": false, "error": "gmm is shutting down"}. The grace ends early once
 * no client owes its first line or holds half of one; a client that asked
 * before and sends again after the grace is the one left to a reset.
 */
static void control_refuse_pending(struct control_server *cs, struct control_client *clients, int *nr)
{
	struct pollfd pfd[CONTROL_MAX_CLIENTS];
	struct timespec t0;
	long left;

	cs->stopping = true;
	shutdown(cs->listen_fd, SHUT_RD);
	fcntl(cs->listen_fd, F_SETFL, fcntl(cs->listen_fd, F_GETFL) | O_NONBLOCK);
	while (*nr < CONTROL_MAX_CLIENTS && accept_client(cs, clients, nr))
		;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((left = CONTROL_STOP_GRACE_MS - ms_since(&t0)) > 0) {
		bool waiting = false;

		for (int i = 0; i < *nr; i++) {
			pfd[i] = (struct pollfd){ clients[i].fd, POLLIN, 0 };
			waiting |= clients[i].owes_line || clients[i].len;
		}
		if (!waiting || poll(pfd, *nr, left) <= 0)
			break;
		for (int i = *nr - 1; i >= 0; i--)
			if (pfd[i].revents && !client_read(cs, &clients[i]))
				drop_client(clients, nr, i);
	}
}

static void *control_thread(void *arg)
{
	struct control_server *cs = arg;
	struct control_client clients[CONTROL_MAX_CLIENTS];
	struct pollfd pfd[CONTROL_MAX_CLIENTS + 2];
	int nr = 0;

	pthread_setname_np(pthread_self(), "gmm-control");
	for (;;) {
		pfd[0] = (struct pollfd){ cs->wake[0], POLLIN, 0 };
		pfd[1] = (struct pollfd){ cs->listen_fd, POLLIN, 0 };
		for (int i = 0; i < nr; i++)
			pfd[2 + i] = (struct pollfd){ clients[i].fd, POLLIN, 0 };
		if (poll(pfd, 2 + nr, -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		for (int i = nr - 1; i >= 0; i--)
			if (pfd[2 + i].revents && !client_read(cs, &clients[i]))
				drop_client(clients, &nr, i);
		if (pfd[1].revents & POLLIN)
			accept_client(cs, clients, &nr);
	}
	control_refuse_pending(cs, clients, &nr);
	while (nr)
		drop_client(clients, &nr, nr - 1);
	return NULL;
}

int control_start(struct control_server *cs, struct host *host, const char *path, char *err, size_t errlen)
{
	char why[256];
	int ret;

	memset(cs, 0, sizeof(*cs));
	cs->host = host;
	cs->listen_fd = unix_listen(path, 16, 0, why, sizeof(why));
	if (cs->listen_fd < 0) {
		ret = cs->listen_fd;
		snprintf(err, errlen, "control socket %s", why);
		cs->listen_fd = -1;
		return ret;
	}
	if (pipe2(cs->wake, O_CLOEXEC)) {
		ret = -errno;
		snprintf(err, errlen, "control socket %s: %s", path, strerror(-ret));
		close(cs->listen_fd);
		unlink(path);
		cs->listen_fd = -1;
		return ret;
	}
	snprintf(cs->path, sizeof(cs->path), "%s", path);
	ret = pthread_create(&cs->thread, NULL, control_thread, cs);
	if (ret) {
		snprintf(err, errlen, "control socket: cannot start its thread");
		return -ret;
	}
	return 0;
}

void control_stop(struct control_server *cs)
{
	if (cs->listen_fd < 0)
		return;
	if (write(cs->wake[1], "x", 1) != 1)
		log_warn("control: cannot wake the server thread");
	pthread_join(cs->thread, NULL);
	close(cs->listen_fd);
	close(cs->wake[0]);
	close(cs->wake[1]);
	unlink(cs->path);
	cs->listen_fd = -1;
}

int control_call(const char *path, json_t *req, json_t **reply, char *err, size_t errlen)
{
	char *buf = NULL, *nl;
	size_t len = 0;
	json_error_t jerr;
	int fd = unix_connect(path), ret = 0;

	if (fd == -ENAMETOOLONG) {
		snprintf(err, errlen, "%s: path too long", path);
		return fd;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s (is gmm running with --control?)", path, strerror(-fd));
		return fd;
	}
	send_line(fd, req);
	buf = malloc(CONTROL_LINE_MAX * 16);
	while (buf && len < CONTROL_LINE_MAX * 16) {
		ssize_t n = recv(fd, buf + len, CONTROL_LINE_MAX * 16 - len, 0);

		if (n <= 0)
			break;
		len += n;
		if ((nl = memchr(buf, '\n', len))) {
			*nl = '\0';
			*reply = json_loads(buf, 0, &jerr);
			ret = *reply ? 0 : -EPROTO;
			if (ret)
				snprintf(err, errlen, "%s: bad reply: %s", path, jerr.text);
			free(buf);
			close(fd);
			return ret;
		}
	}
	free(buf);
	close(fd);
	snprintf(err, errlen, "%s: connection closed without a reply", path);
	return -EPROTO;
}
