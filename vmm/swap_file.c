/*
 * The swap file (swap.h): mkswap and swapon rolled into one, swapoff, and
 * the /proc/swaps view. Every refusal is one line naming the path and the
 * cause, because a swap file is a path the user typed.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "vmm/size.h"
#include "vmm/swap_internal.h"

#define SWAP_MAGIC "GMMSWAP1"
#define LINUX_SWAP_MAGIC "SWAPSPACE2"   /* mkswap's, at the end of page 0 */

/* Slot 0. Only identifies the file as gmm's: nothing in it survives a
 * run (every open starts empty). */
struct swap_header {
	char magic[8];
	uint32_t version;
	uint32_t page_bytes;
	uint64_t nr_slots;
};

/* statfs f_type names for the filesystems a swap file may land on. */
static const char *fs_name(unsigned long type)
{
	static const struct { unsigned long magic; const char *name; } fs[] = {
		{ 0xef53, "ext4" }, { 0x01021994, "tmpfs" }, { 0x858458f6, "ramfs" },
		{ 0x58465342, "xfs" }, { 0x9123683e, "btrfs" }, { 0xf2f52010, "f2fs" },
		{ 0x2fc12fc1, "zfs" }, { 0x6969, "nfs" }, { 0xff534d42, "cifs" },
		{ 0x65735546, "fuse" }, { 0x01021997, "9p" }, { 0x794c7630, "overlayfs" },
		{ 0x73717368, "squashfs" }, { 0x958458f6, "hugetlbfs" }, { 0x9fa0, "proc" },
		{ 0x62656572, "sysfs" }, { 0x4d44, "vfat" }, { 0x5346544e, "ntfs" },
	};

	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		if (fs[i].magic == type)
			return fs[i].name;
	return NULL;
}

static void fs_describe(struct swap_device *sd, unsigned long type)
{
	const char *name = fs_name(type);

	if (name)
		snprintf(sd->fs, sizeof(sd->fs), "%s", name);
	else
		snprintf(sd->fs, sizeof(sd->fs), "0x%lx", type);
	sd->memory_backed = type == 0x01021994 || type == 0x858458f6;
}

/* Before open(): say what is wrong with the path itself. */
static int path_check(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;

	if (!stat(path, &st)) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "host.swap.path: %s: is a directory (name a file in it)", path);
			return -EISDIR;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(err, errlen, "host.swap.path: %s: not a regular file (gmm swaps to a file, "
				 "not a device)", path);
			return -EINVAL;
		}
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (errno == ENOENT && stat(dirname(dir), &st)) {
		snprintf(err, errlen, "host.swap.path: %s: directory %s does not exist", path, dir);
		return -ENOENT;
	}
	if (errno == ENOENT && !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "host.swap.path: %s: %s is not a directory", path, dir);
		return -ENOTDIR;
	}
	return 0;
}

/* open() failed: name the cause. O_DIRECT gets a second try without it,
 * so a filesystem that refuses it is named rather than "invalid argument". */
static int open_error(const char *path, int e, bool created_probe, char *err, size_t errlen)
{
	struct statfs sf;
	const char *fs = "?";

	if (e == EINVAL && created_probe && !statfs(path, &sf))
		fs = fs_name((unsigned long)sf.f_type) ?: "this filesystem";
	switch (e) {
	case EROFS:
		snprintf(err, errlen, "host.swap.path: %s: read-only filesystem", path);
		break;
	case EACCES:
	case EPERM:
		snprintf(err, errlen, "host.swap.path: %s: permission denied (gmm needs to create and write it)",
			 path);
		break;
	case ETXTBSY:
		snprintf(err, errlen, "host.swap.path: %s: in use as the host's own swap (swapoff it first)", path);
		break;
	case EINVAL:
		snprintf(err, errlen, "host.swap.path: %s: %s does not support O_DIRECT (swap must not sit in the "
			 "page cache): choose a path on another filesystem", path, fs);
		break;
	case ENOENT:     /* the directory exists (path_check): /proc and the like */
		snprintf(err, errlen, "host.swap.path: %s: cannot create a file there (%s)", path, strerror(e));
		break;
	default:
		snprintf(err, errlen, "host.swap.path: %s: %s", path, strerror(e));
	}
	return -e;
}

/* Create the file, or open an existing one; *created says which. */
static int file_open(const char *path, bool *created, char *err, size_t errlen)
{
	int flags = O_RDWR | O_DIRECT | O_CLOEXEC, fd, e;

	*created = true;
	fd = open(path, flags | O_CREAT | O_EXCL, 0600);
	if (fd < 0 && errno == EEXIST) {
		*created = false;
		fd = open(path, flags);
	}
	if (fd >= 0)
		return fd;
	e = errno;
	if (e == EINVAL) {     /* O_DIRECT refused at open? try without, to be sure */
		int probe = open(path, (flags & ~O_DIRECT) | O_CREAT, 0600);

		if (probe >= 0) {
			close(probe);
			if (*created)
				unlink(path);
			return open_error(path, EINVAL, true, err, errlen);
		}
	}
	return open_error(path, e, false, err, errlen);
}

/* An existing non-empty file must be a previous gmm swap file. */
static int header_check(struct swap_device *sd, off_t size, char *err, size_t errlen)
{
	char *page = NULL;
	int ret = 0;

	if (!size)
		return 0;
	if (posix_memalign((void **)&page, SWAP_PAGE_BYTES, SWAP_PAGE_BYTES))
		return -ENOMEM;
	memset(page, 0, SWAP_PAGE_BYTES);
	if (size < (off_t)SWAP_PAGE_BYTES || pread(sd->fd, page, SWAP_PAGE_BYTES, 0) != (ssize_t)SWAP_PAGE_BYTES ||
	    memcmp(page, SWAP_MAGIC, 8)) {
		bool linux_swap = size >= (off_t)SWAP_PAGE_BYTES &&
			!memcmp(page + SWAP_PAGE_BYTES - 10, LINUX_SWAP_MAGIC, 10);

		snprintf(err, errlen, "host.swap.path: %s: exists and is not a gmm swap file%s: gmm will not "
			 "overwrite it (remove it or choose another path)", sd->path,
			 linux_swap ? " (it is a Linux swap area)" : "");
		ret = -EEXIST;
	}
	free(page);
	return ret;
}

/* fallocate the whole size, the old contents punched out first. */
static int file_size(struct swap_device *sd, uint64_t bytes, bool created, char *err, size_t errlen)
{
	struct statfs sf;
	char a[32], b[32];

	if (!created) {
		if (ftruncate(sd->fd, (off_t)bytes))
			goto fail;
		fallocate(sd->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)bytes);
	}
	if (!fallocate(sd->fd, 0, 0, (off_t)bytes))
		return 0;
	if (errno == EOPNOTSUPP && !ftruncate(sd->fd, (off_t)bytes))
		return 0;     /* sparse: a full disk shows up as write errors */
	if (errno == ENOSPC && !fstatfs(sd->fd, &sf)) {
		snprintf(err, errlen, "host.swap.path: %s: no space for %s on %s (%s free)", sd->path,
			 size_format(bytes, a), sd->fs, size_format((uint64_t)sf.f_bavail * sf.f_bsize, b));
		return -ENOSPC;
	}
fail:
	snprintf(err, errlen, "host.swap.path: %s: cannot size it to %s: %s", sd->path, size_format(bytes, a),
		 strerror(errno));
	return -errno;
}

/* The header, written with O_DIRECT: the first real O_DIRECT write, so
 * a filesystem that accepts the flag but not the I/O is caught here. */
static int header_write(struct swap_device *sd, char *err, size_t errlen)
{
	struct swap_header *h = NULL;
	ssize_t r;
	int e;

	if (posix_memalign((void **)&h, SWAP_PAGE_BYTES, SWAP_PAGE_BYTES))
		return -ENOMEM;
	memset(h, 0, SWAP_PAGE_BYTES);
	memcpy(h->magic, SWAP_MAGIC, 8);
	h->version = 1;
	h->page_bytes = SWAP_PAGE_BYTES;
	h->nr_slots = sd->nr_slots;
	r = pwrite(sd->fd, h, SWAP_PAGE_BYTES, 0);
	e = r < 0 ? errno : EIO;
	free(h);
	if (r == (ssize_t)SWAP_PAGE_BYTES)
		return 0;
	if (e == EINVAL)
		snprintf(err, errlen, "host.swap.path: %s: %s does not support O_DIRECT writes (swap must not sit "
			 "in the page cache): choose a path on another filesystem", sd->path, sd->fs);
	else
		snprintf(err, errlen, "host.swap.path: %s: writing the header: %s", sd->path, strerror(e));
	return -e;
}

/* Everything after open(): checks, size, header, slots. */
static int device_setup(struct swap_device *sd, const struct swap_config *cfg, bool created, char *err,
			size_t errlen)
{
	struct statfs sf;
	struct stat st;
	int ret;

	if (fstat(sd->fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "host.swap.path: %s: not a regular file", sd->path);
		return -EINVAL;
	}
	if (flock(sd->fd, LOCK_EX | LOCK_NB)) {
		snprintf(err, errlen, "host.swap.path: %s: in use by another gmm (locked)", sd->path);
		return -EBUSY;
	}
	if (!fstatfs(sd->fd, &sf))
		fs_describe(sd, (unsigned long)sf.f_type);
	if ((ret = header_check(sd, st.st_size, err, errlen)) ||
	    (ret = file_size(sd, cfg->size_bytes, created, err, errlen)) ||
	    (ret = header_write(sd, err, errlen)))
		return ret;
	ret = swap_slots_init(sd);
	if (ret)
		snprintf(err, errlen, "host.swap: no memory for the slot map of %s", sd->path);
	return ret;
}

int swap_open(const struct swap_config *cfg, unsigned type, struct swap_device **out, char *err, size_t errlen)
{
	struct swap_device *sd;
	bool created;
	int ret;

	*out = NULL;
	if ((ret = swap_config_validate(cfg, err, errlen)))
		return ret;
	if (!cfg->path[0]) {
		snprintf(err, errlen, "host.swap.path: missing");
		return -EINVAL;
	}
	if (type >= SWAP_MAX_TYPES) {
		snprintf(err, errlen, "host.swap: type %u: at most %d swap files", type, SWAP_MAX_TYPES);
		return -EINVAL;
	}
	if ((ret = path_check(cfg->path, err, errlen)))
		return ret;
	sd = calloc(1, sizeof(*sd));
	if (!sd)
		return -ENOMEM;
	snprintf(sd->path, sizeof(sd->path), "%s", cfg->path);
	snprintf(sd->fs, sizeof(sd->fs), "?");
	sd->type = type;
	sd->nr_slots = cfg->size_bytes / SWAP_PAGE_BYTES;
	sd->fd = file_open(cfg->path, &created, err, errlen);
	if (sd->fd < 0) {
		ret = sd->fd;
		free(sd);
		return ret;
	}
	ret = device_setup(sd, cfg, created, err, errlen);
	if (ret) {
		if (created)
			unlink(sd->path);    /* leave no litter behind a refusal */
		close(sd->fd);
		swap_slots_destroy(sd);
		free(sd);
		return ret;
	}
	*out = sd;
	return 0;
}

void swap_close(struct swap_device *sd)
{
	if (!sd)
		return;
	/* guest data does not outlive gmm in the file, and the disk gets
	 * its blocks back; the size (and the header) stay */
	fallocate(sd->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)SWAP_PAGE_BYTES,
		  (off_t)((sd->nr_slots - 1) * SWAP_PAGE_BYTES));
	close(sd->fd);
	swap_slots_destroy(sd);
	gmm_lock_destroy(&sd->lock);
	free(sd);
}

unsigned swap_type(const struct swap_device *sd)
{
	return sd->type;
}

const char *swap_path(const struct swap_device *sd)
{
	return sd->path;
}

const char *swap_fs_name(const struct swap_device *sd)
{
	return sd->fs;
}

uint64_t swap_stat(const struct swap_device *sd, enum swap_stat_item item)
{
	return atomic_load_explicit(&sd->stat[item], memory_order_relaxed);
}

/* /proc/swaps' columns; Priority as the kernel numbers swap areas it
 * was given no priority for (-2, -3, ...). */
void swap_show(struct swap_device *const *sds, int nr, FILE *f)
{
	fprintf(f, "%-40s%-16s%-16s%-16s%s\n", "Filename", "Type", "Size", "Used", "Priority");
	for (int i = 0; i < nr; i++) {
		const struct swap_device *sd = sds[i];

		fprintf(f, "%-39s %-15s %-15llu %-15llu %d\n", sd->path, "file",
			(unsigned long long)(swap_stat(sd, SWAP_TOTAL_SLOTS) * (SWAP_PAGE_BYTES / 1024)),
			(unsigned long long)(swap_stat(sd, SWAP_USED_SLOTS) * (SWAP_PAGE_BYTES / 1024)),
			-2 - (int)sd->type);
	}
}

void swap_stat_show(const struct swap_device *sd, FILE *f)
{
	fprintf(f, "path %s\ntype %u\nfilesystem %s%s\n", sd->path, sd->type, sd->fs,
		sd->memory_backed ? " (memory: swapping there frees no host memory)" : "");
	for (int i = 0; i < NR_SWAP_STATS; i++)
		fprintf(f, "%s %llu\n", swap_stat_names[i], (unsigned long long)swap_stat(sd, (enum swap_stat_item)i));
}
