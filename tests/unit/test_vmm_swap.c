/*
 * The swap device: slot clusters, references, batched O_DIRECT I/O,
 * injected errors, refused slots and the start-up refusals. Files go in
 * a fresh directory under $GMM_SWAP_TEST_DIR or /tmp (ext4 here; a tmpfs
 * there would work too, but is memory). The read-only and no-space cases
 * mount a small tmpfs in a private mount namespace (Criterion runs each
 * test in its own process) and are skipped where that is not allowed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/swap.h"

#define PAGE SWAP_PAGE_BYTES
#define M (1ULL << 20)

static char dir[256];
static char err[512];

static void dir_make(void)
{
	const char *base = getenv("GMM_SWAP_TEST_DIR");

	snprintf(dir, sizeof(dir), "%s/gmm-swap-XXXXXX", base ? base : "/tmp");
	cr_assert(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
}

static void dir_remove(void)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
}

TestSuite(swap, .init = dir_make, .fini = dir_remove);

static struct swap_config config(const char *name, uint64_t size_bytes)
{
	struct swap_config c = { .size_bytes = size_bytes };

	snprintf(c.path, sizeof(c.path), "%s/%s", dir, name);
	return c;
}

static struct swap_device *open_ok(const char *name, uint64_t size_bytes)
{
	struct swap_config c = config(name, size_bytes);
	struct swap_device *sd;
	int ret = swap_open(&c, 0, &sd, err, sizeof(err));

	cr_assert_eq(ret, 0, "swap_open %s: %d %s", c.path, ret, err);
	return sd;
}

static void *pages_alloc(unsigned n)
{
	void *p = NULL;

	cr_assert_eq(posix_memalign(&p, PAGE, n * PAGE), 0);
	memset(p, 0, n * PAGE);
	return p;
}

/* Each page says which slot it belongs to, all through. */
static void page_fill(void *page, uint64_t slot)
{
	uint64_t *w = page;

	for (size_t i = 0; i < PAGE / 8; i++)
		w[i] = slot * 0x9e3779b97f4a7c15ULL + i;
}

static bool page_is(const void *page, uint64_t slot)
{
	const uint64_t *w = page;

	for (size_t i = 0; i < PAGE / 8; i++)
		if (w[i] != slot * 0x9e3779b97f4a7c15ULL + i)
			return false;
	return true;
}

/* --- slots -------------------------------------------------------------- */

Test(swap, a_stream_gets_neighbouring_slots_and_streams_get_their_own_clusters)
{
	struct swap_device *sd = open_ok("swap", 8 * M);
	uint64_t a[8], b[8];

	for (int i = 0; i < 8; i++) {
		a[i] = swap_alloc(sd, 0);
		b[i] = swap_alloc(sd, 1);
	}
	cr_assert_eq(a[0] % SWAP_CLUSTER_SLOTS, 0, "a free cluster is taken first, from its start");
	for (int i = 1; i < 8; i++) {
		cr_assert_eq(a[i], a[i - 1] + 1, "stream 0: %lu after %lu", a[i], a[i - 1]);
		cr_assert_eq(b[i], b[i - 1] + 1, "stream 1: %lu after %lu", b[i], b[i - 1]);
	}
	cr_assert_neq(a[0] / SWAP_CLUSTER_SLOTS, b[0] / SWAP_CLUSTER_SLOTS, "one cluster per stream");
	cr_assert_eq(b[0] % SWAP_CLUSTER_SLOTS, 0, "a fresh cluster is filled from its start");
	cr_assert_eq(swap_stat(sd, SWAP_USED_SLOTS), 16);
	cr_assert_eq(swap_stat(sd, SWAP_TOTAL_SLOTS), 8 * M / PAGE - 1);
	swap_close(sd);
}

Test(swap, alloc_batch_is_consecutive_across_a_cluster)
{
	struct swap_device *sd = open_ok("swap", 8 * M);
	uint64_t s[600];

	cr_assert_eq(swap_alloc_batch(sd, 3, 600, s), 600);
	for (int i = 1; i < 600; i++)
		cr_assert_eq(s[i], s[i - 1] + 1, "slot %d: %lu after %lu", i, s[i], s[i - 1]);
	swap_close(sd);
}

Test(swap, a_full_device_returns_0_and_counts_alloc_fail)
{
	struct swap_device *sd = open_ok("swap", 4 * M);
	uint64_t *s = calloc(2048, sizeof(*s));
	unsigned total = 4 * M / PAGE - 1;

	cr_assert_eq(swap_alloc_batch(sd, 0, 2048, s), total, "every slot but slot 0");
	cr_assert_eq(swap_stat(sd, SWAP_ALLOC_FAIL), 1, "a short batch is one failure");
	cr_assert_eq(swap_alloc(sd, 5), 0);
	cr_assert_eq(swap_alloc(sd, 0), 0);
	cr_assert_eq(swap_stat(sd, SWAP_ALLOC_FAIL), 3);
	cr_assert_eq(swap_stat(sd, SWAP_USED_SLOTS), total);
	cr_assert_eq(swap_stat(sd, SWAP_FREE_CLUSTERS), 0);
	/* a slot freed anywhere is found again */
	cr_assert_eq(swap_free(sd, s[700]), 0);
	cr_assert_eq(swap_alloc(sd, 9), s[700]);
	free(s);
	swap_close(sd);
}

Test(swap, freeing_every_slot_returns_whole_clusters)
{
	struct swap_device *sd = open_ok("swap", 8 * M);
	unsigned total = 8 * M / PAGE - 1;
	uint64_t *s = calloc(total, sizeof(*s));

	cr_assert_eq(swap_stat(sd, SWAP_FREE_CLUSTERS), 3, "cluster 0 holds the header");
	for (unsigned i = 0; i < total; i += 100)
		cr_assert_eq(swap_alloc_batch(sd, i, total - i < 100 ? total - i : 100, s + i),
			     total - i < 100 ? total - i : 100);
	cr_assert_eq(swap_stat(sd, SWAP_FREE_CLUSTERS), 0);
	for (unsigned i = 0; i < total; i++)     /* cluster 2's slots, wherever they went */
		if (s[i] / SWAP_CLUSTER_SLOTS == 2) {
			cr_assert_eq(swap_free(sd, s[i]), 0);
			s[i] = 0;
		}
	cr_assert_eq(swap_stat(sd, SWAP_FREE_CLUSTERS), 1, "cluster 2 is whole again");
	for (unsigned i = 0; i < total; i++)
		if (s[i])
			cr_assert_eq(swap_free(sd, s[i]), 0);
	cr_assert_eq(swap_stat(sd, SWAP_FREE_CLUSTERS), 3);
	cr_assert_eq(swap_stat(sd, SWAP_USED_SLOTS), 0);
	/* and a new stream starts at the front of a free cluster */
	cr_assert_eq(swap_alloc(sd, 7) % SWAP_CLUSTER_SLOTS, 0);
	free(s);
	swap_close(sd);
}

Test(swap, references_and_the_cache_bit_keep_a_slot_until_both_are_gone)
{
	struct swap_device *sd = open_ok("swap", 4 * M);
	uint64_t s = swap_alloc(sd, 0);

	cr_assert_eq(swap_count(sd, s), 1);
	cr_assert_eq(swap_dup(sd, s), 0);
	cr_assert_eq(swap_count(sd, s), 2);
	cr_assert_eq(swap_cache_add(sd, s), 0);
	cr_assert_eq(swap_cache_add(sd, s), -EEXIST, "a second swap-in of the same slot loses the race");
	cr_assert_eq(swap_free(sd, s), 0);
	cr_assert_eq(swap_free(sd, s), 0);
	cr_assert_eq(swap_count(sd, s), 0);
	cr_assert_eq(swap_stat(sd, SWAP_USED_SLOTS), 1, "the cache still holds it");
	cr_assert_eq(swap_free(sd, s), -EINVAL, "no reference left to drop");
	cr_assert_eq(swap_cache_del(sd, s), 0);
	cr_assert_eq(swap_stat(sd, SWAP_USED_SLOTS), 0);
	cr_assert_eq(swap_free(sd, s), -EINVAL, "free: refused");
	cr_assert_eq(swap_stat(sd, SWAP_BAD_SLOTS), 2);
	swap_close(sd);
}

Test(swap, dup_stops_at_swap_map_max)
{
	struct swap_device *sd = open_ok("swap", 4 * M);
	uint64_t s = swap_alloc(sd, 0);

	for (int i = 1; i < SWAP_MAP_MAX; i++)
		cr_assert_eq(swap_dup(sd, s), 0);
	cr_assert_eq(swap_count(sd, s), SWAP_MAP_MAX);
	cr_assert_eq(swap_dup(sd, s), -EOVERFLOW);
	cr_assert_eq(swap_cache_add(sd, s), 0, "the cache bit is apart from the count");
	swap_close(sd);
}

/* --- I/O ---------------------------------------------------------------- */

Test(swap, batched_write_and_read_round_trip_coalesced_into_runs)
{
	struct swap_device *sd = open_ok("swap", 16 * M);
	enum { N = 1000 };
	uint64_t s[N];
	char *buf = pages_alloc(N), *back = pages_alloc(N);
	void *pg[N], *bk[N];
	int status[N];

	cr_assert_eq(swap_alloc_batch(sd, 0, N, s), N);
	for (int i = 0; i < N; i++) {
		pg[i] = buf + i * PAGE;
		bk[i] = back + i * PAGE;
		page_fill(pg[i], s[i]);
	}
	cr_assert_eq(swap_write_pages(sd, s, pg, N, status), N);
	cr_assert_eq(swap_stat(sd, SWAP_WRITES), N);
	cr_assert_eq(swap_stat(sd, SWAP_BYTES_WRITTEN), N * PAGE);
	cr_assert_eq(swap_stat(sd, SWAP_WRITE_CALLS), 2, "1000 consecutive slots: two calls of at most 512");
	cr_assert_eq(swap_read_pages(sd, s, bk, N, status), N);
	cr_assert_eq(swap_stat(sd, SWAP_READ_CALLS), 2);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(status[i], 0);
		cr_assert(page_is(bk[i], s[i]), "page %d (slot %lu) came back different", i, s[i]);
	}
	cr_assert_eq(swap_stat(sd, SWAP_READS), N);
	cr_assert_eq(swap_stat(sd, SWAP_BYTES_READ), N * PAGE);
	cr_assert_eq(swap_stat(sd, SWAP_WRITE_ERRORS) + swap_stat(sd, SWAP_READ_ERRORS), 0);
	free(buf);
	free(back);
	swap_close(sd);
}

Test(swap, single_pages_and_scattered_slots_are_one_call_each)
{
	struct swap_device *sd = open_ok("swap", 8 * M);
	uint64_t s[64], rev[64];
	char *buf = pages_alloc(64), *one = pages_alloc(1);
	void *pg[64];

	cr_assert_eq(swap_alloc_batch(sd, 0, 64, s), 64);
	for (int i = 0; i < 64; i++) {
		rev[i] = s[63 - i];
		pg[i] = buf + i * PAGE;
		page_fill(pg[i], rev[i]);
	}
	cr_assert_eq(swap_write_pages(sd, rev, pg, 64, NULL), 64);
	cr_assert_eq(swap_stat(sd, SWAP_WRITE_CALLS), 64, "descending slots do not coalesce");
	for (int i = 0; i < 64; i++) {
		cr_assert_eq(swap_read_page(sd, s[i], one), 0);
		cr_assert(page_is(one, s[i]), "slot %lu", s[i]);
	}
	cr_assert_eq(swap_stat(sd, SWAP_READ_CALLS), 64);
	free(buf);
	free(one);
	swap_close(sd);
}

Test(swap, a_failing_write_says_which_pages_were_not_written)
{
	struct swap_device *sd = open_ok("swap", 8 * M);
	enum { N = 12 };
	uint64_t s[N], all[3 * N];
	char *buf = pages_alloc(N), *back = pages_alloc(1);
	void *pg[N];
	int status[N];
	unsigned ok = 0;

	/* four runs of three consecutive slots, with gaps between them */
	cr_assert_eq(swap_alloc_batch(sd, 0, 3 * N, all), 3 * N);
	for (int i = 0; i < N; i++) {
		s[i] = all[(i / 3) * 9 + i % 3];
		pg[i] = buf + i * PAGE;
		page_fill(pg[i], s[i]);
	}
	swap_inject_errors(sd, SWAP_WRITE, 2, EIO);
	cr_assert_eq(swap_write_pages(sd, s, pg, N, status), N / 2, "calls 2 and 4 failed");
	for (int i = 0; i < N; i++) {
		int want = (i / 3) % 2 ? -EIO : 0;

		cr_assert_eq(status[i], want, "page %d: %d", i, status[i]);
		ok += !status[i];
	}
	cr_assert_eq(ok, N / 2);
	cr_assert_eq(swap_stat(sd, SWAP_WRITE_ERRORS), N / 2);
	cr_assert_eq(swap_stat(sd, SWAP_INJECTED_ERRORS), 2);
	cr_assert_eq(swap_stat(sd, SWAP_WRITES), N / 2);
	/* the written ones are really there */
	for (int i = 0; i < N; i++) {
		if (status[i])
			continue;
		cr_assert_eq(swap_read_page(sd, s[i], back), 0);
		cr_assert(page_is(back, s[i]));
	}
	swap_inject_errors(sd, SWAP_WRITE, 0, 0);
	cr_assert_eq(swap_write_pages(sd, s, pg, N, status), N, "injection off: all written");
	swap_inject_errors(sd, SWAP_READ, 1, ENOSPC);
	cr_assert_eq(swap_read_page(sd, s[0], back), -ENOSPC);
	cr_assert_eq(swap_stat(sd, SWAP_READ_ERRORS), 1);
	free(buf);
	free(back);
	swap_close(sd);
}

Test(swap, bad_slots_and_buffers_are_refused_and_counted_never_crash)
{
	struct swap_device *sd = open_ok("swap", 4 * M);
	uint64_t nr = 4 * M / PAGE, bad[] = { 0, nr, nr + 1, UINT64_MAX, 1ULL << 40, 5 };
	char *buf = pages_alloc(2);
	void *unaligned = buf + 8;
	uint64_t s = swap_alloc(sd, 0), used[64] = { 0 };
	int status[2];
	unsigned nused = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		void *p = buf;

		cr_assert_eq(swap_free(sd, bad[i]), -EINVAL, "free %lu", bad[i]);
		cr_assert_eq(swap_dup(sd, bad[i]), -EINVAL);
		cr_assert_eq(swap_cache_add(sd, bad[i]), -EINVAL);
		cr_assert_eq(swap_count(sd, bad[i]), -EINVAL);
		cr_assert_eq(swap_read_page(sd, bad[i], buf), -EINVAL);
		cr_assert_eq(swap_write_pages(sd, &bad[i], &p, 1, status), 0);
		cr_assert_eq(status[0], -EINVAL);
	}
	cr_assert_eq(swap_stat(sd, SWAP_BAD_SLOTS), 6 * 6);
	cr_assert_eq(swap_write_pages(sd, &s, &unaligned, 1, status), 0);
	cr_assert_eq(status[0], -EINVAL, "an unaligned page is refused");
	cr_assert_eq(swap_stat(sd, SWAP_WRITE_CALLS), 0, "nothing reached the file");
	cr_assert_eq(swap_free(sd, s), 0);

	/* fuzz: random ops on random slots; the map stays consistent */
	srand(42);
	for (int i = 0; i < 20000; i++) {
		uint64_t slot = rand() % 4 ? (uint64_t)(rand() % (int)(nr + 8)) : ((uint64_t)rand() << 32 | rand());
		void *p = buf;

		switch (rand() % 4) {
		case 0:
			if (nused < 64 && (used[nused] = swap_alloc(sd, rand())))
				nused++;
			break;
		case 1:
			swap_free(sd, slot);   /* may hit a used one: drop it from ours */
			for (unsigned j = 0; j < nused; j++)
				if (used[j] == slot) {
					used[j] = used[--nused];
					break;
				}
			break;
		case 2:
			swap_write_pages(sd, &slot, &p, 1, NULL);
			break;
		case 3:
			swap_read_page(sd, slot, buf);
			break;
		}
	}
	cr_assert_eq(swap_free_batch(sd, used, nused), 0);
	cr_assert_eq(swap_stat(sd, SWAP_USED_SLOTS), 0);
	cr_assert_eq(swap_stat(sd, SWAP_FREE_CLUSTERS), 1);
	free(buf);
	swap_close(sd);
}

struct racer {
	struct swap_device *sd;
	_Atomic unsigned char *owner;   /* per slot: which racer holds it */
	unsigned id;
	bool clash;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	uint64_t s[48];

	for (int it = 0; it < 3000; it++) {
		unsigned n = swap_alloc_batch(r->sd, r->id, 1 + it % 48, s);

		for (unsigned i = 0; i < n; i++) {
			unsigned char none = 0;

			if (!atomic_compare_exchange_strong(&r->owner[s[i]], &none, (unsigned char)r->id))
				r->clash = true;
		}
		for (unsigned i = 0; i < n; i++)
			atomic_store(&r->owner[s[i]], 0);
		if (swap_free_batch(r->sd, s, n))
			r->clash = true;
	}
	return NULL;
}

Test(swap, two_threads_allocating_and_freeing_never_share_a_slot)
{
	struct swap_device *sd = open_ok("swap", 4 * M);
	_Atomic unsigned char *owner = calloc(4 * M / PAGE, 1);
	struct racer r[2] = { { sd, owner, 1, false }, { sd, owner, 2, false } };
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, race, &r[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	cr_assert(!r[0].clash && !r[1].clash, "a slot was handed out twice or freed badly");
	cr_assert_eq(swap_stat(sd, SWAP_USED_SLOTS), 0);
	cr_assert_eq(swap_stat(sd, SWAP_BAD_SLOTS), 0);
	free((void *)owner);
	swap_close(sd);
}

Test(swap, o_direct_writes_leave_nothing_in_the_page_cache)
{
	struct swap_device *sd = open_ok("swap", 8 * M);
	struct swap_config c = config("swap", 8 * M);
	enum { N = 512 };
	uint64_t s[N];
	char *buf = pages_alloc(N);
	void *pg[N];
	unsigned char vec[8 * M / PAGE];
	unsigned resident = 0;
	int fd;
	void *map;

	if (!strcmp(swap_fs_name(sd), "tmpfs"))
		cr_skip_test("tmpfs: the file is the page cache");
	cr_assert_eq(swap_alloc_batch(sd, 0, N, s), N);
	for (int i = 0; i < N; i++)
		pg[i] = buf + i * PAGE;
	cr_assert_eq(swap_write_pages(sd, s, pg, N, NULL), N);
	cr_assert_eq(swap_read_pages(sd, s, pg, N, NULL), N);
	fd = open(c.path, O_RDONLY);
	map = mmap(NULL, 8 * M, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mincore(map, 8 * M, vec), 0);
	for (size_t i = 0; i < sizeof(vec); i++)
		resident += vec[i] & 1;
	cr_assert_eq(resident, 0, "%u pages of the swap file are in the page cache", resident);
	munmap(map, 8 * M);
	close(fd);
	free(buf);
	swap_close(sd);
}

/* --- the file ----------------------------------------------------------- */

Test(swap, close_punches_the_data_and_a_gmm_file_is_reused)
{
	struct swap_device *sd = open_ok("swap", 8 * M);
	struct swap_config c = config("swap", 8 * M);
	uint64_t s[256];
	char *buf = pages_alloc(256);
	void *pg[256];
	struct stat st;

	cr_assert_eq(swap_alloc_batch(sd, 0, 256, s), 256);
	for (int i = 0; i < 256; i++)
		pg[i] = buf + i * PAGE;
	cr_assert_eq(swap_write_pages(sd, s, pg, 256, NULL), 256);
	swap_close(sd);
	cr_assert_eq(stat(c.path, &st), 0, "the file stays: the path is the user's");
	cr_assert_eq(st.st_size, 8 * M);
	cr_assert_leq(st.st_blocks * 512, 64 * 1024, "%ld bytes still allocated", (long)st.st_blocks * 512);
	sd = open_ok("swap", 16 * M);
	cr_assert_eq(swap_stat(sd, SWAP_USED_SLOTS), 0, "state does not persist");
	cr_assert_eq(swap_stat(sd, SWAP_TOTAL_SLOTS), 16 * M / PAGE - 1);
	swap_close(sd);
	free(buf);
}

static int open_err(struct swap_config *c)
{
	struct swap_device *sd = NULL;
	int ret = swap_open(c, 0, &sd, err, sizeof(err));

	if (!ret)
		swap_close(sd);
	return ret;
}

Test(swap, a_missing_directory_a_directory_and_a_device_are_refused)
{
	struct swap_config c = config("nodir/swap", 4 * M);

	cr_assert_eq(open_err(&c), -ENOENT);
	cr_assert(strstr(err, "host.swap.path: ") && strstr(err, "nodir does not exist"), "%s", err);
	c = config("", 4 * M);
	cr_assert_eq(open_err(&c), -EISDIR);
	cr_assert(strstr(err, "is a directory"), "%s", err);
	snprintf(c.path, sizeof(c.path), "/dev/null");
	cr_assert_eq(open_err(&c), -EINVAL);
	cr_assert(strstr(err, "not a regular file"), "%s", err);
	snprintf(c.path, sizeof(c.path), "/proc/gmm-swap");
	cr_assert_lt(open_err(&c), 0);
	cr_assert(strstr(err, "/proc/gmm-swap"), "%s", err);
}

Test(swap, bad_sizes_and_types_are_refused)
{
	struct swap_config c = config("swap", 3 * M);
	struct swap_device *sd;

	cr_assert_eq(open_err(&c), -EINVAL);
	cr_assert(strstr(err, "host.swap.size: 3M must be whole 2M clusters"), "%s", err);
	c.size_bytes = 2 * M;
	cr_assert_eq(open_err(&c), -EINVAL);
	c.size_bytes = 2 * SWAP_MAX_BYTES;
	cr_assert_eq(open_err(&c), -EINVAL);
	c.size_bytes = 4 * M;
	cr_assert_eq(swap_open(&c, SWAP_MAX_TYPES, &sd, err, sizeof(err)), -EINVAL);
	cr_assert_eq(access(c.path, F_OK), -1, "nothing created on a refusal");
}

Test(swap, someone_elses_file_is_never_overwritten)
{
	struct swap_config c = config("data", 4 * M);
	char page[4096] = "precious";
	struct stat st;
	FILE *f = fopen(c.path, "w");

	fputs("precious", f);
	fclose(f);
	cr_assert_eq(open_err(&c), -EEXIST);
	cr_assert(strstr(err, "is not a gmm swap file"), "%s", err);
	cr_assert_eq(stat(c.path, &st), 0);
	cr_assert_eq(st.st_size, 8, "left as it was");
	/* a Linux swap area is named as one */
	memcpy(page + sizeof(page) - 10, "SWAPSPACE2", 10);
	f = fopen(c.path, "w");
	fwrite(page, 1, sizeof(page), f);
	fclose(f);
	cr_assert_eq(open_err(&c), -EEXIST);
	cr_assert(strstr(err, "Linux swap area"), "%s", err);
	/* an empty file is taken */
	f = fopen(c.path, "w");
	fclose(f);
	cr_assert_eq(open_err(&c), 0, "%s", err);
}

Test(swap, a_file_in_use_by_another_gmm_is_refused)
{
	struct swap_device *sd = open_ok("swap", 4 * M);
	struct swap_config c = config("swap", 4 * M);

	cr_assert_eq(open_err(&c), -EBUSY);
	cr_assert(strstr(err, "in use"), "%s", err);
	swap_close(sd);
	cr_assert_eq(open_err(&c), 0, "%s", err);
}

/* A tmpfs of our own over dir, in a private mount namespace. */
static void private_tmpfs(unsigned long flags, const char *opts)
{
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		cr_skip_test("no private mount namespace here: %s", strerror(errno));
	if (mount("gmm-swap-test", dir, "tmpfs", flags, opts))
		cr_skip_test("cannot mount a tmpfs: %s", strerror(errno));
}

Test(swap, a_read_only_filesystem_is_named)
{
	struct swap_config c = config("swap", 4 * M);

	private_tmpfs(MS_RDONLY, "size=1m");
	cr_assert_eq(open_err(&c), -EROFS);
	cr_assert(strstr(err, "read-only filesystem"), "%s", err);
	umount(dir);
}

Test(swap, no_space_is_named_with_what_is_free)
{
	struct swap_config c = config("swap", 16 * M);

	private_tmpfs(0, "size=6m");
	cr_assert_eq(open_err(&c), -ENOSPC);
	cr_assert(strstr(err, "no space for 16M on tmpfs"), "%s", err);
	cr_assert_eq(access(c.path, F_OK), -1, "the file gmm created is gone again");
	c.size_bytes = SWAP_MIN_BYTES;
	cr_assert_eq(open_err(&c), 0, "%s", err);
	umount(dir);
}

Test(swap, tmpfs_takes_o_direct_and_is_shown_as_memory)
{
	struct swap_config c = config("swap", 4 * M);
	struct swap_device *sd;
	char *text = NULL;
	size_t len;
	FILE *f;

	private_tmpfs(0, "size=8m");
	cr_assert_eq(swap_open(&c, 3, &sd, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(swap_fs_name(sd), "tmpfs");
	f = open_memstream(&text, &len);
	swap_stat_show(sd, f);
	fclose(f);
	cr_assert(strstr(text, "filesystem tmpfs (memory"), "%s", text);
	free(text);
	swap_close(sd);
	umount(dir);
}

Test(swap, the_views_read_like_proc_swaps_and_vmstat)
{
	struct swap_device *sd = open_ok("swap", 8 * M), *both[2];
	struct swap_config c = config("swap2", 4 * M);
	char *text = NULL, line[PATH_MAX + 64];
	size_t len;
	FILE *f;

	cr_assert_eq(swap_open(&c, 1, &both[1], err, sizeof(err)), 0, "%s", err);
	both[0] = sd;
	for (int i = 0; i < 10; i++)
		swap_alloc(sd, 0);
	f = open_memstream(&text, &len);
	swap_show(both, 2, f);
	fclose(f);
	cr_assert(!strncmp(text, "Filename", 8) && strstr(text, "Priority"), "%s", text);
	snprintf(line, sizeof(line), "%s/swap", dir);
	cr_assert(strstr(text, line), "%s", text);
	cr_assert(strstr(text, "8188") && strstr(text, " 40 ") && strstr(text, "-2\n") && strstr(text, "-3\n"),
		  "%s", text);
	free(text);
	f = open_memstream(&text, &len);
	swap_stat_show(sd, f);
	fclose(f);
	cr_assert(strstr(text, "used_slots 10\n") && strstr(text, "write_errors 0\n") &&
		  strstr(text, "filesystem "), "%s", text);
	free(text);
	swap_close(both[1]);
	swap_close(sd);
}
