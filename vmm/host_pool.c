/* See host_pool.h. */
#include "vmm/host_pool.h"
#include "vmm/numa_topology.h"
#include "vmm/stage2.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guestmm/buddy.h"
#include "vmm/kswapd.h"
#include "vmm/log.h"

static void pool_corruption(struct gmm_pool *pool, pfn_t pfn, const char *what, void *ctx)
{
	(void)pool;
	(void)ctx;
	log_error("pool: frame %#llx: %s", (unsigned long long)pfn, what);
}

/* The allocator took a zone of node nid below its low watermark: that
 * node's kswapd (wakeup_kswapd()). Nothing before kswapd is started. */
static void pool_wake_kswapd(struct gmm_pool *pool, int nid, unsigned order, void *ctx)
{
	struct host_pool *hp = ctx;

	(void)pool;
	(void)order;
	kswapd_wake_node(atomic_load_explicit(&hp->kswapd, memory_order_acquire), nid);
}

/*
 * The pool's file, on a tmpfs gmm mounts privately with huge=within_size:
 * a whole 2 MiB block written with pwrite() becomes one 2 MiB folio, in
 * about 0.6 us a page here (fallocate() leaves pages to be zeroed at first
 * map, about 5 us a page; a write fault through a mapping costs 9-10 us).
 * Such a block maps into a window as one huge mapping (THP guests) or in
 * pieces of PTEs, and punching one 4 KiB frame out of it splits the folio
 * and unmaps all of it, so a thp=never guest's blocks are populated in
 * 4 KiB folios instead (host_pool_populate_small()). gmm's own view of the pool
 * is MADV_NOHUGEPAGE, so what the VMM writes itself (stage-2 tables, slab)
 * stays in 4 KiB folios: with huge=always, or a plain mapping, one byte
 * would allocate 2 MiB. (DESIGN.md's huge=advise needs MADV_HUGEPAGE write
 * faults to make huge folios, 5 us a page and under mmap_lock; measured
 * in docs/fault-path.md.) The mount is detached at once: the open file
 * keeps it alive and nothing is left behind. Without mount rights the
 * pool is a plain memfd of 4 KiB folios.
 */
static int pool_open_backing(bool *shmem_thp)
{
	char dir[] = "/tmp/gmm-pool-XXXXXX", path[64];
	int fd = -1;

	*shmem_thp = false;
	if (mkdtemp(dir)) {
		if (!mount("gmm-pool", dir, "tmpfs", MS_NOSUID | MS_NODEV, "huge=within_size,mode=0700")) {
			snprintf(path, sizeof(path), "%s/pool", dir);
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (fd >= 0)
				unlink(path);
			umount2(dir, MNT_DETACH);
		}
		rmdir(dir);
	}
	if (fd >= 0) {
		*shmem_thp = true;
		return fd;
	}
	return memfd_create("gmm-pool", MFD_CLOEXEC);
}

static uint64_t hugetlb_cfg_bytes(const struct pool_config *cfg, enum hugetlb_size s)
{
	return s == HUGETLB_2M ? cfg->hugetlb_2m_bytes : cfg->hugetlb_1g_bytes;
}

static const char *const hugetlb_field[NR_HUGETLB_SIZES] = {
	[HUGETLB_2M] = "host.pool.hugetlb_2m",
	[HUGETLB_1G] = "host.pool.hugetlb_1g",
};

/*
 * gmm's view of the pool: one reservation of address space holding the
 * normal file at base and each hugetlb region at base + start_pfn * 4096,
 * start_pfn aligned to its page size (a hugetlb mapping must start on a
 * page boundary); the gaps stay PROT_NONE. start[] gets each region's
 * first pfn. Returns -errno with err set.
 */
static int pool_map(struct host_pool *hp, const struct pool_config *cfg, pfn_t start[NR_HUGETLB_SIZES],
		    char *err, size_t errlen)
{
	uint64_t file = hp->size_bytes + (hp->home.nr << GMM_FRAME_SHIFT);
	uint64_t end = file >> GMM_FRAME_SHIFT, align = POOL_ALIGN_BYTES;
	char *raw, *base;

	for (int s = 0; s < NR_HUGETLB_SIZES; s++) {
		uint64_t unit = 1ULL << hugetlb_size_order((enum hugetlb_size)s);

		if (!hugetlb_cfg_bytes(cfg, (enum hugetlb_size)s))
			continue;
		start[s] = (end + unit - 1) & ~(unit - 1);
		end = start[s] + (hugetlb_cfg_bytes(cfg, (enum hugetlb_size)s) >> GMM_FRAME_SHIFT);
		if ((unit << GMM_FRAME_SHIFT) > align)
			align = unit << GMM_FRAME_SHIFT;
	}
	hp->span_bytes = end << GMM_FRAME_SHIFT;
	raw = mmap(NULL, hp->span_bytes + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED) {
		snprintf(err, errlen, "host.pool: reserving %llu bytes of address space: %s",
			 (unsigned long long)hp->span_bytes, strerror(errno));
		return -ENOMEM;
	}
	base = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	if (base > raw)
		munmap(raw, (size_t)(base - raw));
	munmap(base + hp->span_bytes, (size_t)(raw + align - base));
	hp->base = base;
	/* MAP_NORESERVE: the pool is sparse; only allocated frames hold memory */
	if (mmap(base, file, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED, hp->memfd,
		 0) == MAP_FAILED) {
		int e = errno;

		snprintf(err, errlen, "host.pool: mapping it: %s", strerror(e));
		return -e;
	}
	/* gmm's own writes (tables, slab) stay 4 KiB folios (see above) */
	madvise(base, file, MADV_NOHUGEPAGE);
	return 0;
}

/* Each page size in use: enough free pages in the kernel, then the region. */
static int pool_hugetlb_init(struct host_pool *hp, const struct pool_config *cfg,
			     const pfn_t start[NR_HUGETLB_SIZES], char *err, size_t errlen)
{
	for (int i = 0; i < NR_HUGETLB_SIZES; i++) {
		enum hugetlb_size s = (enum hugetlb_size)i;
		uint64_t bytes = hugetlb_cfg_bytes(cfg, s);
		int ret;

		if (!bytes)
			continue;
		ret = hugetlb_host_check(s, bytes >> (hugetlb_size_order(s) + GMM_FRAME_SHIFT), hugetlb_field[s],
					 err, errlen);
		if (!ret)
			ret = hugetlb_region_init(&hp->huge[s], s, start[s], bytes,
						  hp->base + (start[s] << GMM_FRAME_SHIFT), err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* Each pool node's frames on its host node: an mbind of its range of the
 * pool file, which shmem keeps as the file's shared policy, so every
 * mapping of those frames (gmm's, the guests' windows) allocates there. */
static int pool_bind_nodes(struct host_pool *hp, const struct pool_config *cfg, char *err, size_t errlen)
{
	struct gmm_pool *mm = hp->mm;

	hp->real_nodes = cfg->real_nodes;
	for (int n = 0; cfg->real_nodes && n < mm->nr_nodes; n++) {
		int ret = host_topology_mbind(hp->base + (mm->nodes[n].start_pfn << GMM_FRAME_SHIFT),
					      (uint64_t)mm->nodes[n].spanned_pages << GMM_FRAME_SHIFT,
					      cfg->host_node[n]);

		if (ret) {
			snprintf(err, errlen, "host.pool: binding node %d to host node %d (mbind): %s", n,
				 cfg->host_node[n], strerror(-ret));
			return ret;
		}
		if (host_topology_cpuset(cfg->node_cpus[n], &hp->node_cpus[n]))
			CPU_ZERO(&hp->node_cpus[n]); /* a node without CPUs: vCPUs stay unpinned */
	}
	return 0;
}

int host_pool_pin_to_node(struct host_pool *hp, int nid)
{
	if (!hp->real_nodes || nid < 0 || nid >= hp->mm->nr_nodes || !CPU_COUNT(&hp->node_cpus[nid]))
		return 0;
	return -pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), &hp->node_cpus[nid]);
}

void host_pool_set_owner(struct host_pool *hp, uint32_t owner, struct stage2 *s2)
{
	if (owner >= HOST_POOL_MAX_OWNERS)
		return;
	pthread_rwlock_wrlock(&hp->owners_lock);
	hp->owners[owner] = s2;
	pthread_rwlock_unlock(&hp->owners_lock);
}

/* The migrate_frame hook: the frame's owner moves it (stage 2). */
static int pool_migrate_frame(struct gmm_pool *pool, pfn_t src, pfn_t dst, unsigned order, void *ctx)
{
	struct host_pool *hp = ctx;
	uint32_t owner = pfn_to_frame(pool, src)->owner;
	int ret = -ENOENT;

	if (owner == HOME_TOKEN_OWNER && !order)
		return home_token_migrate(hp, src, dst);
	if (owner >= HOST_POOL_MAX_OWNERS)
		return -ENOENT;
	pthread_rwlock_rdlock(&hp->owners_lock);
	if (hp->owners[owner])
		ret = stage2_migrate_frame(hp->owners[owner], src, dst, order);
	pthread_rwlock_unlock(&hp->owners_lock);
	return ret;
}

int host_pool_create(const struct pool_config *cfg, struct host_pool **out, char *err, size_t errlen)
{
	struct gmm_pool_config pc = { 0 };
	struct gmm_mm_hooks hooks;
	struct host_pool *hp = calloc(1, sizeof(*hp));
	pfn_t start[NR_HUGETLB_SIZES] = { 0 };
	int ret;

	if (!hp)
		return -ENOMEM;
	for (int s = 0; s < NR_HUGETLB_SIZES; s++)
		hp->huge[s].memfd = -1;
	frame_recycle_init(&hp->recycle);
	hp->size_bytes = cfg->size_bytes;
	ret = home_frames_init(&hp->home, hp->size_bytes >> GMM_FRAME_SHIFT,
			       cfg->home_frames ? cfg->home_bytes >> GMM_FRAME_SHIFT : 0);
	if (ret) {
		snprintf(err, errlen, "host.pool: home frames: %s", strerror(-ret));
		goto fail;
	}
	hp->memfd = pool_open_backing(&hp->shmem_thp);
	if (hp->memfd < 0 || ftruncate(hp->memfd, (off_t)(hp->size_bytes + (hp->home.nr << GMM_FRAME_SHIFT)))) {
		ret = -errno;
		snprintf(err, errlen, "host.pool: a file of %llu bytes: %s", (unsigned long long)hp->size_bytes,
			 strerror(errno));
		goto fail;
	}
	ret = pool_map(hp, cfg, start, err, errlen);
	if (!ret)
		ret = pool_hugetlb_init(hp, cfg, start, err, errlen);
	if (ret)
		goto fail;
	pc.nr_frames = hp->size_bytes >> GMM_FRAME_SHIFT;
	pc.nr_outside_frames = hp->home.nr;
	pc.nr_nodes = cfg->nodes;
	memcpy(pc.distance, cfg->distance, sizeof(pc.distance));
	pc.min_free_frames = cfg->min_free_bytes >> GMM_FRAME_SHIFT;
	pc.debug = cfg->debug;
	pc.base = hp->base;
	pthread_rwlock_init(&hp->owners_lock, NULL);
	hooks = (struct gmm_mm_hooks){ .wake_kswapd = pool_wake_kswapd, .corruption = pool_corruption,
				       .migrate_frame = pool_migrate_frame, .ctx = hp };
	pc.hooks = &hooks; /* copied by gmm_pool_create() */
	ret = gmm_pool_create(&pc, &hp->mm);
	if (ret) {
		snprintf(err, errlen, "host.pool: %s", strerror(-ret));
		goto fail;
	}
	frame_recycle_size(hp);
	ret = pool_bind_nodes(hp, cfg, err, errlen);
	if (ret)
		goto fail;
	ret = zero_reserve_start(&hp->reserve, hp, cfg->reserve_bytes);
	if (ret) {
		snprintf(err, errlen, "host.pool.reserve: starting its thread: %s", strerror(-ret));
		goto fail;
	}
	*out = hp;
	return 0;
fail:
	host_pool_destroy(hp);
	return ret;
}

void host_pool_destroy(struct host_pool *hp)
{
	if (!hp)
		return;
	zero_reserve_stop(&hp->reserve);
	home_frames_destroy(&hp->home, hp);
	if (hp->mm) {
		frame_recycle_shrink(hp, -1, UINT64_MAX);
		gmm_pool_destroy(hp->mm);
	}
	frame_recycle_destroy(&hp->recycle);
	if (hp->base)
		munmap(hp->base, hp->span_bytes);
	for (int s = 0; s < NR_HUGETLB_SIZES; s++)
		hugetlb_region_destroy(&hp->huge[s]);
	if (hp->memfd >= 0)
		close(hp->memfd);
	free(hp);
}

uint64_t host_pool_held_bytes(const struct host_pool *hp)
{
	struct stat st;

	if (fstat(hp->memfd, &st))
		return 0;
	return (uint64_t)st.st_blocks * 512;
}

int host_pool_punch(struct host_pool *hp, pfn_t pfn, uint64_t nr)
{
	if (fallocate(hp->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(pfn << GMM_FRAME_SHIFT),
		      (off_t)(nr << GMM_FRAME_SHIFT)))
		return -errno;
	atomic_fetch_add_explicit(&hp->punched_frames, nr, memory_order_relaxed);
	return 0;
}

/* pwrite() source: never written, so it is the zero page when read */
static const char zero_block[2UL << 20] __attribute__((aligned(4096)));

static int populate(struct host_pool *hp, pfn_t pfn, uint64_t nr, bool small)
{
	uint64_t bytes = nr << GMM_FRAME_SHIFT;
	off_t off = (off_t)(pfn << GMM_FRAME_SHIFT);
	int ret = 0;

	if (!small && bytes == sizeof(zero_block) && !(off & (off_t)(sizeof(zero_block) - 1))) {
		ssize_t n = pwrite(hp->memfd, zero_block, bytes, off);

		if (n != (ssize_t)bytes)
			ret = n < 0 ? -errno : -EIO;
	} else if (madvise(frame_mem(hp->mm, pfn), bytes, MADV_POPULATE_WRITE)) {
		/* through gmm's 4 KiB view, so it does not grow into a 2 MiB
		 * folio (a write() into an empty 2 MiB range would) */
		ret = -errno;
	}
	if (!ret)
		atomic_fetch_add_explicit(&hp->populated_frames, nr, memory_order_relaxed);
	return ret;
}

int host_pool_populate(struct host_pool *hp, pfn_t pfn, uint64_t nr)
{
	return populate(hp, pfn, nr, false);
}

int host_pool_populate_small(struct host_pool *hp, pfn_t pfn, uint64_t nr)
{
	return populate(hp, pfn, nr, true);
}

/*
 * A frame is unmapped from every window before it is punched or reused
 * (DESIGN.md): a frame still mapped somewhere is not freed but reported
 * and leaked, the safe failure. The realizer keeps mapcount.
 */
static bool still_mapped(struct host_pool *hp, pfn_t pfn)
{
	struct gmm_frame *f = pfn_to_frame(hp->mm, pfn);

	if (!atomic_load_explicit(&f->mapcount, memory_order_relaxed))
		return false;
	atomic_fetch_add_explicit(&hp->mapped_free_refused, 1, memory_order_relaxed);
	log_error("pool: frame %#llx is still mapped (guest %u gfn %#llx): not freed",
		  (unsigned long long)pfn, f->owner, (unsigned long long)f->gfn);
	return true;
}

int host_pool_free(struct host_pool *hp, pfn_t pfn, unsigned order)
{
	if (home_frames_contains(&hp->home, pfn) && !order) {
		host_pool_free_frames(hp, &pfn, 1);
		return 0;
	}
	if (!pfn_valid(hp->mm, pfn))
		return -EINVAL;
	if (still_mapped(hp, pfn))
		return -EBUSY;
	host_pool_punch(hp, pfn, 1ULL << order);
	return gmm_free_frames(hp->mm, pfn, order);
}

int host_pool_cmp_pfn(const void *a, const void *b)
{
	pfn_t x = *(const pfn_t *)a, y = *(const pfn_t *)b;

	return x < y ? -1 : x > y;
}

void host_pool_free_frames(struct host_pool *hp, const pfn_t *pfns, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		bool home = home_frames_contains(&hp->home, pfns[i]);

		/* a run of contiguous, unmapped frames of one kind: one punch */
		while (j < n && (home ? home_frames_contains(&hp->home, pfns[j]) : pfn_valid(hp->mm, pfns[j])) &&
		       (j == i || pfns[j] == pfns[j - 1] + 1) && !still_mapped(hp, pfns[j]))
			j++;
		if (j == i) {
			i++;
			continue;
		}
		host_pool_punch(hp, pfns[i], j - i);
		if (home) {
			/* the page is gone from the file (and from the window,
			 * which the punch unmapped): its budget goes back, and
			 * its descriptor is a free one's */
			home_tokens_put(hp, j - i);
			for (; i < j; i++) {
				struct gmm_frame *f = pfn_to_frame(hp->mm, pfns[i]);

				atomic_store_explicit(&f->flags, 0, memory_order_relaxed);
				atomic_store_explicit(&f->refcount, 0, memory_order_relaxed);
				f->owner = 0;
				f->gfn = GMM_GFN_NONE;
			}
			continue;
		}
		for (; i < j; i++)
			gmm_free_frames(hp->mm, pfns[i], 0);
	}
}

struct hugetlb_region *host_pool_hugetlb(struct host_pool *hp, pfn_t pfn)
{
	for (int s = 0; s < NR_HUGETLB_SIZES; s++)
		if (hugetlb_region_contains(&hp->huge[s], pfn))
			return &hp->huge[s];
	return NULL;
}

bool host_pool_pfn_valid(struct host_pool *hp, pfn_t pfn)
{
	return pfn_valid(hp->mm, pfn) || home_frames_contains(&hp->home, pfn) || host_pool_hugetlb(hp, pfn);
}

struct gmm_frame *host_pool_frame(struct host_pool *hp, pfn_t pfn)
{
	struct hugetlb_region *r;

	if (pfn_has_desc(hp->mm, pfn))
		return pfn_to_frame(hp->mm, pfn);
	r = host_pool_hugetlb(hp, pfn);
	return r ? hugetlb_unit(r, pfn) : NULL;
}

int host_pool_fd_offset(const struct host_pool *hp, pfn_t pfn, int *fd, off_t *off)
{
	if (pfn_valid(hp->mm, pfn) || home_frames_contains(&hp->home, pfn)) {
		*fd = hp->memfd;
		*off = (off_t)(pfn << GMM_FRAME_SHIFT);
		return 0;
	}
	for (int s = 0; s < NR_HUGETLB_SIZES; s++) {
		const struct hugetlb_region *r = &hp->huge[s];

		if (hugetlb_region_contains(r, pfn)) {
			*fd = r->memfd;
			*off = (off_t)((pfn - r->start_pfn) << GMM_FRAME_SHIFT);
			return 0;
		}
	}
	return -EINVAL;
}
