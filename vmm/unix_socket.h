/*
 * Unix stream sockets for gmm's servers (the control socket, libvirt's
 * endpoint) and their clients: one place for how a socket is born 0600,
 * how a stale socket file is told from a live one, and who may connect.
 */
#ifndef GMM_VMM_UNIX_SOCKET_H
#define GMM_VMM_UNIX_SOCKET_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Listen on path: a socket file left by a process that died is replaced,
 * a live one (-EADDRINUSE) or any other file (-EEXIST) is not. The socket
 * is 0600 from birth (no window where others may connect) and bound under
 * a temporary name, then renamed: the path appears only once connect()
 * to it succeeds. sock_flags: extra socket() type flags (SOCK_NONBLOCK).
 * Returns the listening fd, or -errno with "PATH: reason" in err.
 */
int unix_listen(const char *path, int backlog, int sock_flags, char *err, size_t errlen);
/* The peer of an accepted fd is root or this process's euid. */
bool unix_peer_allowed(int fd);
/* A connected fd, or -errno (-ENAMETOOLONG for a path that cannot fit). */
int unix_connect(const char *path);

#endif
