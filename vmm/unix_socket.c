/* See unix_socket.h. */
#include "vmm/unix_socket.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int sun_fill(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	strcpy(sun->sun_path, path);
	return 0;
}

int unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, ret = sun_fill(&sun, path);

	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* A socket file left by a process that died is removed; a live one is not. */
static int remove_stale(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = unix_connect(path);
	if (fd >= 0) {
		close(fd);
		return -EADDRINUSE;
	}
	unlink(path);
	return 0;
}

int unix_listen(const char *path, int backlog, int sock_flags, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	char tmp[sizeof(sun.sun_path) + 16];
	mode_t old;
	int fd, ret;

	if (snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid()) >= (int)sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	ret = remove_stale(path);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path,
			 ret == -EADDRINUSE ? "another process is listening there" : "exists and is not a socket");
		return ret;
	}
	sun_fill(&sun, tmp);
	unlink(tmp);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | sock_flags, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return ret;
	}
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (ret || chmod(tmp, 0600) || listen(fd, backlog) || rename(tmp, path)) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		close(fd);
		unlink(tmp);
		return ret;
	}
	return fd;
}

bool unix_peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len))
		return false;
	return cr.uid == 0 || cr.uid == geteuid();
}
