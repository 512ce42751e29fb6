/*
 * bench_window: what one swap cycle (evict a page, bring it back) costs
 * the host's memory management under each of two window models, same run.
 *
 *   vma (gmm today, DESIGN.md's realizer): the window maps pool offsets;
 *   eviction zaps the page's PTE (MADV_DONTNEED) and punches its frame;
 *   the page comes back in another frame, filled through gmm's own view
 *   of the pool, mapped with mmap(MAP_FIXED) over the window page (a VMA
 *   of its own) and registered with userfaultfd again.
 *
 *   fixed (the proposed next step): each guest page has a fixed place in
 *   a file mapped once and registered once; eviction is one punch (which
 *   also takes the window's PTE), the page comes back by pwrite() into
 *   the file and UFFDIO_CONTINUE over the window page: no VMA is made.
 *
 * No guest and no swap I/O: only the mapping work, which is what differs.
 * A second thread of the process keeps writing its own memory on the other
 * CPU, as vCPU threads do, so TLB shootdowns cost what they cost in gmm.
 * Figures are microseconds per cycle, the median of ROUNDS rounds run
 * A B A B. Last line: one JSON object.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_sibling.h"

#define PAGE         4096UL
#define NPAGES       (1UL << 15)      /* a 128 MiB window */
#define CYCLES       20000
#define ROUNDS       5

struct model {
	const char *name;
	int fd;             /* vma: the pool (2 * NPAGES frames); fixed: the guest's file */
	char *window;
	char *view;         /* vma: gmm's own view of the pool */
	uint32_t *frame_of; /* vma: the frame each window page maps */
	uint32_t *free_q;   /* vma: free frames, first in first out */
	size_t q_head, q_len;
};

static int uffd;

static void die(const char *what)
{
	bench_die("bench_window", what);
}

static void uffd_register(void *addr, size_t len)
{
	struct uffdio_register r = {
		.range = { .start = (uint64_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR,
	};

	if (ioctl(uffd, UFFDIO_REGISTER, &r))
		die("UFFDIO_REGISTER");
}

static void stamp(char *page, uint64_t g, uint64_t gen)
{
	((uint64_t *)page)[0] = g;
	((uint64_t *)page)[1] = gen;
}

static void setup_vma(struct model *m)
{
	m->fd = memfd_create("bench-pool", MFD_CLOEXEC);
	if (m->fd < 0 || ftruncate(m->fd, (off_t)(2 * NPAGES * PAGE)))
		die("pool memfd");
	m->view = mmap(NULL, 2 * NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	m->window = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, m->fd, 0);
	if (m->view == MAP_FAILED || m->window == MAP_FAILED)
		die("mmap");
	madvise(m->view, 2 * NPAGES * PAGE, MADV_NOHUGEPAGE);
	madvise(m->window, NPAGES * PAGE, MADV_NOHUGEPAGE);
	uffd_register(m->window, NPAGES * PAGE);
	m->frame_of = malloc(NPAGES * sizeof(*m->frame_of));
	m->free_q = malloc(2 * NPAGES * sizeof(*m->free_q));
	for (uint32_t g = 0; g < NPAGES; g++) {
		m->frame_of[g] = g;
		m->free_q[g] = (uint32_t)(NPAGES + g);
	}
	m->q_head = 0;
	m->q_len = NPAGES;
}

static void setup_fixed(struct model *m)
{
	m->fd = memfd_create("bench-guest", MFD_CLOEXEC);
	if (m->fd < 0 || ftruncate(m->fd, (off_t)(NPAGES * PAGE)))
		die("guest memfd");
	m->window = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, m->fd, 0);
	if (m->window == MAP_FAILED)
		die("mmap");
	madvise(m->window, NPAGES * PAGE, MADV_NOHUGEPAGE);
	uffd_register(m->window, NPAGES * PAGE);
}

/* Evict page g and bring it back holding data. */
static void cycle_vma(struct model *m, uint64_t g, const char *data)
{
	char *w = m->window + g * PAGE;
	uint32_t old = m->frame_of[g], new;

	if (madvise(w, PAGE, MADV_DONTNEED))
		die("madvise");
	if (fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)old * PAGE, PAGE))
		die("punch");
	m->free_q[(m->q_head + m->q_len++) % (2 * NPAGES)] = old;
	new = m->free_q[m->q_head];
	m->q_head = (m->q_head + 1) % (2 * NPAGES);
	m->q_len--;
	memcpy(m->view + (size_t)new * PAGE, data, PAGE); /* the swap read lands here */
	if (mmap(w, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, m->fd,
		 (off_t)new * PAGE) == MAP_FAILED)
		die("mmap MAP_FIXED");
	uffd_register(w, PAGE);
	m->frame_of[g] = new;
}

static void cycle_fixed(struct model *m, uint64_t g, const char *data)
{
	struct uffdio_continue c = { .range = { .start = (uint64_t)(m->window + g * PAGE), .len = PAGE } };

	if (fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(g * PAGE), PAGE))
		die("punch");
	if (pwrite(m->fd, data, PAGE, (off_t)(g * PAGE)) != (ssize_t)PAGE)
		die("pwrite");
	if (ioctl(uffd, UFFDIO_CONTINUE, &c))
		die("UFFDIO_CONTINUE");
}

/* CYCLES cycles on random pages; every page that came back is checked. */
static double run(struct model *m, bool vma, uint64_t seed, uint64_t gen)
{
	static char data[PAGE] __attribute__((aligned(4096)));
	uint64_t x = seed;
	double t0 = bench_now_us(), us;

	for (int i = 0; i < CYCLES; i++) {
		uint64_t g;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		g = x % NPAGES;
		stamp(data, g, gen + (uint64_t)i);
		if (vma)
			cycle_vma(m, g, data);
		else
			cycle_fixed(m, g, data);
		/* the guest's next touch: through the window, no fault */
		if (((uint64_t *)(m->window + g * PAGE))[1] != gen + (uint64_t)i) {
			fprintf(stderr, "bench_window: %s: page %llu came back wrong\n", m->name, (unsigned long long)g);
			exit(1);
		}
	}
	us = (bench_now_us() - t0) / CYCLES;
	return us;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	/* SIGBUS: a page this bench failed to map crashes it rather than hanging
	 * it, as nobody serves its faults */
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_SIGBUS };
	struct model vma = { .name = "vma" }, fixed = { .name = "fixed" };
	double t_vma[ROUNDS], t_fixed[ROUNDS];
	static struct bench_sibling sibling;
	long vmas;

	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		die("userfaultfd with minor faults on shmem");
	setup_vma(&vma);
	setup_fixed(&fixed);
	if (bench_sibling_start(&sibling))
		die("pthread_create");
	for (int r = 0; r < ROUNDS; r++) {
		t_vma[r] = run(&vma, true, 0x9e3779b97f4a7c15ULL + (uint64_t)r, (uint64_t)r << 32);
		t_fixed[r] = run(&fixed, false, 0x9e3779b97f4a7c15ULL + (uint64_t)r, (uint64_t)r << 32);
		printf("round %d: vma %.2f us a cycle, fixed %.2f us\n", r + 1, t_vma[r], t_fixed[r]);
	}
	bench_sibling_stop(&sibling);
	{
		char line[256];
		FILE *f = fopen("/proc/self/maps", "r");

		for (vmas = 0; f && fgets(line, sizeof(line), f);)
			vmas++;
		if (f)
			fclose(f);
	}
	qsort(t_vma, ROUNDS, sizeof(double), cmp_double);
	qsort(t_fixed, ROUNDS, sizeof(double), cmp_double);
	printf("%d cycles a round on a %lu MiB window, a sibling thread writing on the other CPU; "
	       "medians of %d rounds\n",
	       CYCLES, NPAGES * PAGE >> 20, ROUNDS);
	printf("vma   (mmap + register per page back): %7.2f us a cycle\n", t_vma[ROUNDS / 2]);
	printf("fixed (pwrite + UFFDIO_CONTINUE):      %7.2f us a cycle\n", t_fixed[ROUNDS / 2]);
	printf("ratio vma / fixed: %.2fx; the process ended with %ld mappings\n", t_vma[ROUNDS / 2] / t_fixed[ROUNDS / 2],
	       vmas);
	printf("{\"cycles\": %d, \"window_bytes\": %lu, \"rounds\": %d, \"vma_cycle_us\": %.3f, "
	       "\"fixed_cycle_us\": %.3f, \"ratio_vma_vs_fixed\": %.3f, \"vma_model_mappings\": %ld}\n",
	       CYCLES, NPAGES * PAGE, ROUNDS, t_vma[ROUNDS / 2], t_fixed[ROUNDS / 2],
	       t_vma[ROUNDS / 2] / t_fixed[ROUNDS / 2], vmas);
	return 0;
}
