/*
 * The daemon's state dir, laid out as libvirt's /etc/libvirt/qemu:
 *   DIR/domains/NAME.xml      a persistent definition (dumpxml --inactive)
 *   DIR/autostart/NAME.xml    a symlink to it when the domain autostarts
 * A definition is written to NAME.xml.tmp, fsynced, then renamed over the
 * old one, so a crash leaves the old or the new file, never half of one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/domains_internal.h"
#include "vmm/log.h"

#define STORE_XML_MAX (1 << 20)

static int mkdir_0700(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (!mkdir(path, 0700))
		return 0;
	if (errno == EEXIST && !stat(path, &st) && S_ISDIR(st.st_mode))
		return 0;
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return -errno;
}

int domains_store_init(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX + 16];

	if (mkdir_0700(dir, err, errlen))
		return -EIO;
	snprintf(path, sizeof(path), "%s/domains", dir);
	if (mkdir_0700(path, err, errlen))
		return -EIO;
	snprintf(path, sizeof(path), "%s/autostart", dir);
	return mkdir_0700(path, err, errlen) ? -EIO : 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int domains_store_save(const char *dir, const struct domain *dom, char *err, size_t errlen)
{
	char path[PATH_MAX + 96], tmp[PATH_MAX + 100];
	char *xml = domain_xml_format(&dom->def, NULL);
	int fd, ret;

	if (!xml) {
		snprintf(err, errlen, "cannot format the definition: out of memory");
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/domains/%s.xml", dir, dom->def.cfg.name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = write_all(fd, xml, strlen(xml));
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
fail:
	free(xml);
	if (ret)
		snprintf(err, errlen, "cannot save %s: %s", path, strerror(-ret));
	return ret;
}

int domains_store_remove(const char *dir, const char *name)
{
	char path[PATH_MAX + 96];

	domains_store_set_autostart(dir, name, false, NULL, 0);
	snprintf(path, sizeof(path), "%s/domains/%s.xml", dir, name);
	return unlink(path) && errno != ENOENT ? -errno : 0;
}

int domains_store_set_autostart(const char *dir, const char *name, bool on, char *err, size_t errlen)
{
	char link[PATH_MAX + 96], target[PATH_MAX + 96];

	snprintf(link, sizeof(link), "%s/autostart/%s.xml", dir, name);
	if (!on)
		return unlink(link) && errno != ENOENT ? -errno : 0;
	snprintf(target, sizeof(target), "../domains/%s.xml", name);
	if (symlink(target, link) && errno != EEXIST) {
		if (err)
			snprintf(err, errlen, "cannot create %s: %s", link, strerror(errno));
		return -errno;
	}
	return 0;
}

static char *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	ssize_t n;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > STORE_XML_MAX)
		goto out;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto out;
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	*len = (size_t)n;
out:
	close(fd);
	return buf;
}

int domains_store_load(const char *dir, domains_store_load_fn add, void *ctx)
{
	char path[PATH_MAX + 16], file[PATH_MAX + 300], link[PATH_MAX + 300];
	struct dirent *de;
	DIR *dp;
	int n = 0;

	snprintf(path, sizeof(path), "%s/domains", dir);
	dp = opendir(path);
	if (!dp)
		return -errno;
	while ((de = readdir(dp))) {
		size_t l = strlen(de->d_name), len = 0;
		struct stat st;
		char *xml;

		if (l < 5 || strcmp(de->d_name + l - 4, ".xml"))
			continue; /* NAME.xml.tmp left by a crash, NAME.xml.bad */
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		xml = read_file(file, &len);
		if (!xml) {
			log_warn("daemon: %s: cannot read it (%s): skipped", file, strerror(errno));
			continue;
		}
		snprintf(link, sizeof(link), "%s/autostart/%s", dir, de->d_name);
		add(ctx, xml, len, lstat(link, &st) == 0, file);
		free(xml);
		n++;
	}
	closedir(dp);
	return n;
}
