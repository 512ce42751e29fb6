/* See hugetlb.h. */
#include "vmm/hugetlb.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/log.h"

#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << MFD_HUGE_SHIFT)
#endif
#ifndef MFD_HUGE_1GB
#define MFD_HUGE_1GB (30U << MFD_HUGE_SHIFT)
#endif

static const struct {
	const char *name;
	unsigned order;
	unsigned mfd_flag;
	const char *sysfs;
} sizes[NR_HUGETLB_SIZES] = {
	[HUGETLB_2M] = { "2M", 9, MFD_HUGE_2MB, "/sys/kernel/mm/hugepages/hugepages-2048kB" },
	[HUGETLB_1G] = { "1G", 18, MFD_HUGE_1GB, "/sys/kernel/mm/hugepages/hugepages-1048576kB" },
};

const char *hugetlb_size_name(enum hugetlb_size s)
{
	return s < NR_HUGETLB_SIZES ? sizes[s].name : "none";
}

unsigned hugetlb_size_order(enum hugetlb_size s)
{
	return s < NR_HUGETLB_SIZES ? sizes[s].order : 0;
}

const char *hugetlb_sysfs_dir(enum hugetlb_size s)
{
	return s < NR_HUGETLB_SIZES ? sizes[s].sysfs : "";
}

int hugetlb_size_parse(const char *text, enum hugetlb_size *out)
{
	if (!strcasecmp(text, "none")) {
		*out = HUGETLB_NONE;
		return 0;
	}
	for (int s = 0; s < NR_HUGETLB_SIZES; s++) {
		if (!strcasecmp(text, sizes[s].name)) {
			*out = (enum hugetlb_size)s;
			return 0;
		}
	}
	return -EINVAL;
}

/* --- what the host kernel has ------------------------------------------- */

static int read_sysfs_ulong(enum hugetlb_size s, const char *file, unsigned long long *v)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", sizes[s].sysfs, file);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	ok = fscanf(f, "%llu", v) == 1;
	fclose(f);
	return ok ? 0 : -EIO;
}

/* The CPU maps 1 GiB pages (X86_FEATURE_GBPAGES, "pdpe1gb"). */
static bool cpu_has_gbpages(void)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, "flags", 5) && strstr(line, " pdpe1gb");
	fclose(f);
	return found;
}

int hugetlb_host_check(enum hugetlb_size s, uint64_t nr_pages, const char *field, char *err, size_t errlen)
{
	unsigned long long nr = 0, free_pages = 0, resv = 0, avail;
	struct stat st;

	if (s == HUGETLB_1G && !cpu_has_gbpages()) {
		snprintf(err, errlen, "%s: this CPU has no 1G pages (no pdpe1gb in /proc/cpuinfo): use hugepages=2M",
			 field);
		return -EOPNOTSUPP;
	}
	if (stat(sizes[s].sysfs, &st)) {
		snprintf(err, errlen, "%s: the kernel has no %s hugetlb pages (%s is missing)", field, sizes[s].name,
			 sizes[s].sysfs);
		return -EOPNOTSUPP;
	}
	if (read_sysfs_ulong(s, "nr_hugepages", &nr) || read_sysfs_ulong(s, "free_hugepages", &free_pages) ||
	    read_sysfs_ulong(s, "resv_hugepages", &resv)) {
		snprintf(err, errlen, "%s: cannot read %s: %s", field, sizes[s].sysfs, strerror(errno));
		return -EIO;
	}
	avail = free_pages > resv ? free_pages - resv : 0;
	if (avail < nr_pages) {
		snprintf(err, errlen, "%s: needs %llu free %s hugetlb pages, the kernel has %llu: reserve them "
			 "with `echo %llu > %s/nr_hugepages`", field, (unsigned long long)nr_pages, sizes[s].name,
			 avail, nr + (nr_pages - avail), sizes[s].sysfs);
		return -ENOMEM;
	}
	return 0;
}

/* --- the region ------------------------------------------------------------ */

int hugetlb_region_init(struct hugetlb_region *r, enum hugetlb_size s, pfn_t start_pfn, uint64_t bytes,
			void *addr, char *err, size_t errlen)
{
	char name[32];
	uint64_t nr_units;

	memset(r, 0, sizeof(*r));
	r->size = s;
	r->order = sizes[s].order;
	r->start_pfn = start_pfn;
	r->nr_pages = bytes >> (r->order + GMM_FRAME_SHIFT);
	pthread_mutex_init(&r->lock, NULL);
	snprintf(name, sizeof(name), "gmm-hugetlb-%s", sizes[s].name);
	r->memfd = memfd_create(name, MFD_CLOEXEC | MFD_HUGETLB | sizes[s].mfd_flag);
	if (r->memfd < 0 || ftruncate(r->memfd, (off_t)bytes)) {
		int e = errno;

		snprintf(err, errlen, "host.pool.hugetlb_%s: a %s hugetlb file of %llu bytes: %s",
			 s == HUGETLB_2M ? "2m" : "1g", sizes[s].name, (unsigned long long)bytes, strerror(e));
		return -e;
	}
	/* gmm's own view: MAP_NORESERVE, pages come and go with fallocate
	 * and punch, never by reservation at mmap time */
	if (mmap(addr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED, r->memfd, 0) ==
	    MAP_FAILED) {
		int e = errno;

		snprintf(err, errlen, "host.pool.hugetlb_%s: mapping it: %s", s == HUGETLB_2M ? "2m" : "1g",
			 strerror(e));
		return -e;
	}
	nr_units = bytes >> (HUGETLB_UNIT_ORDER + GMM_FRAME_SHIFT);
	r->units = calloc(nr_units, sizeof(*r->units));
	r->free = calloc(r->nr_pages ? r->nr_pages : 1, sizeof(*r->free));
	if (!r->units || !r->free) {
		snprintf(err, errlen, "host.pool: hugetlb descriptors: out of memory");
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < nr_units; i++)
		r->units[i].gfn = GMM_GFN_NONE;
	/* a stack: the lowest page on top, taken first */
	for (uint64_t i = 0; i < r->nr_pages; i++)
		r->free[i] = (uint32_t)(r->nr_pages - 1 - i);
	r->nr_free = r->nr_pages;
	return 0;
}

void hugetlb_region_destroy(struct hugetlb_region *r)
{
	if (!r->order)
		return; /* never set up */
	if (r->memfd >= 0)
		close(r->memfd);
	r->memfd = -1;
	free(r->units);
	free(r->free);
	r->units = NULL;
	r->free = NULL;
	pthread_mutex_destroy(&r->lock);
	r->order = 0;
}

static uint64_t page_bytes(const struct hugetlb_region *r)
{
	return 1ULL << (r->order + GMM_FRAME_SHIFT);
}

static uint64_t units_per_page(const struct hugetlb_region *r)
{
	return 1ULL << (r->order - HUGETLB_UNIT_ORDER);
}

static void push_free(struct hugetlb_region *r, uint64_t idx)
{
	pthread_mutex_lock(&r->lock);
	r->free[r->nr_free++] = (uint32_t)idx;
	pthread_mutex_unlock(&r->lock);
}

/* alloc_hugetlb_folio(): off the free list, then the kernel allocates and
 * zeroes it (fallocate); with no page left there, the page goes back on
 * the list and the caller gets none: no fallback to smaller pages. */
pfn_t hugetlb_alloc(struct hugetlb_region *r)
{
	uint64_t idx, n = units_per_page(r);
	pfn_t pfn;

	pthread_mutex_lock(&r->lock);
	if (!r->nr_free) {
		pthread_mutex_unlock(&r->lock);
		atomic_fetch_add_explicit(&r->alloc_failed, 1, memory_order_relaxed);
		return GMM_PFN_NONE;
	}
	idx = r->free[--r->nr_free];
	pthread_mutex_unlock(&r->lock);
	if (fallocate(r->memfd, 0, (off_t)(idx * page_bytes(r)), (off_t)page_bytes(r))) {
		log_warn("hugetlb: the kernel has no free %s page left (%s)", sizes[r->size].name, strerror(errno));
		push_free(r, idx);
		atomic_fetch_add_explicit(&r->alloc_failed, 1, memory_order_relaxed);
		return GMM_PFN_NONE;
	}
	pfn = r->start_pfn + (idx << r->order);
	for (uint64_t i = 0; i < n; i++) {
		struct gmm_frame *f = hugetlb_unit(r, pfn + (i << HUGETLB_UNIT_ORDER));

		atomic_store_explicit(&f->refcount, 1, memory_order_relaxed);
		atomic_store_explicit(&f->mapcount, 0, memory_order_relaxed);
		atomic_store_explicit(&f->flags, FRAME_FLAG_MASK(FRAME_head), memory_order_relaxed);
		f->order = HUGETLB_UNIT_ORDER;
		f->owner = 0;
		f->gfn = GMM_GFN_NONE;
	}
	atomic_fetch_add_explicit(&r->allocs, 1, memory_order_relaxed);
	return pfn;
}

static bool page_mapped(struct hugetlb_region *r, pfn_t head)
{
	for (uint64_t i = 0; i < units_per_page(r); i++)
		if (atomic_load_explicit(&hugetlb_unit(r, head + (i << HUGETLB_UNIT_ORDER))->mapcount,
					 memory_order_relaxed))
			return true;
	return false;
}

int hugetlb_free(struct hugetlb_region *r, pfn_t pfn)
{
	pfn_t head = pfn & ~((1ULL << r->order) - 1);
	uint64_t idx = (head - r->start_pfn) >> r->order;

	if (!hugetlb_region_contains(r, pfn))
		return -EINVAL;
	if (page_mapped(r, head)) {
		atomic_fetch_add_explicit(&r->free_refused, 1, memory_order_relaxed);
		log_error("hugetlb: %s page at pfn %#llx is still mapped: not freed", sizes[r->size].name,
			  (unsigned long long)head);
		return -EBUSY;
	}
	/* back to the kernel's hugetlb pool; the next fallocate is zeroed */
	if (fallocate(r->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(idx * page_bytes(r)),
		      (off_t)page_bytes(r)))
		log_error("hugetlb: punching a %s page: %s", sizes[r->size].name, strerror(errno));
	for (uint64_t i = 0; i < units_per_page(r); i++) {
		struct gmm_frame *f = hugetlb_unit(r, head + (i << HUGETLB_UNIT_ORDER));

		atomic_store_explicit(&f->refcount, 0, memory_order_relaxed);
		atomic_store_explicit(&f->flags, 0, memory_order_relaxed);
		f->owner = 0;
		f->gfn = GMM_GFN_NONE;
	}
	push_free(r, idx);
	atomic_fetch_add_explicit(&r->frees, 1, memory_order_relaxed);
	return 0;
}

int hugetlb_put_unit(struct hugetlb_region *r, pfn_t pfn)
{
	pfn_t head = pfn & ~((1ULL << r->order) - 1);

	if (!hugetlb_region_contains(r, pfn))
		return -EINVAL;
	atomic_store_explicit(&hugetlb_unit(r, pfn)->mapcount, 0, memory_order_relaxed);
	if (page_mapped(r, head))
		return 0;
	return hugetlb_free(r, head) ? -EBUSY : 1;
}

uint64_t hugetlb_nr_free(struct hugetlb_region *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->lock);
	n = r->nr_free;
	pthread_mutex_unlock(&r->lock);
	return n;
}

uint64_t hugetlb_held_bytes(const struct hugetlb_region *r)
{
	struct stat st;

	if (r->memfd < 0 || fstat(r->memfd, &st))
		return 0;
	return (uint64_t)st.st_blocks * 512;
}
