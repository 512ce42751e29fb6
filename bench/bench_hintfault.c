/*
 * bench_hintfault: what it costs gmm to learn that a guest touched a page,
 * against the kernel learning the same from a PTE, same run.
 *
 * gmm has no accessed bits: it ages a page by zapping its PTE while the
 * frame stays in the pool's file (arming) and catching the next touch
 * (docs/reclaim.md#hinting-faults). Two ways to catch it, on one memfd
 * mapped twice:
 *
 *   uffd    (gmm today): the window is registered for minor faults, so a
 *           touch of an armed page is a SIGBUS to the touching thread,
 *           whose handler notes the touch and maps the page again with
 *           UFFDIO_CONTINUE.
 *   kernel  (a possible next step): the window is registered for missing
 *           pages and write protection (none of it protected), not minor
 *           faults, so the kernel maps an armed page on the touch itself,
 *           a minor fault; the scan learns which pages came back from
 *           /proc/self/pagemap's present bit, one read per range. The
 *           write-protect mode is there because a registration for
 *           missing pages alone lets the kernel's fault-around map the
 *           16 neighbours of a page read (do_read_fault()), which would
 *           then look touched; minor or write-protect registration turns
 *           fault-around off (uffd_disable_fault_around()).
 *
 * Each round arms every other page of the window (one MADV_DONTNEED a
 * page, as scattered arms are), touches every other armed page, and
 * finds the touched ones; the bench exits 1 if a way finds a different
 * set. A second thread of the process writes its own memory on the other
 * CPU, as vCPU threads do, so the zaps' TLB flushes cost what they cost in
 * gmm. Figures are microseconds, medians of ROUNDS rounds run A B A B.
 * Not measured: what the kernel way would need to evict safely (the page
 * can be mapped again behind gmm's back, so eviction would have to
 * write-protect it first; docs/benchmarks.md). Last line: one JSON object.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
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

#define PAGE    4096UL
#define NPAGES  (1UL << 14)     /* a 64 MiB window */
#define ROUNDS  7
#define PM_PRESENT (1ULL << 63) /* /proc/PID/pagemap: the page is mapped */

struct way {
	const char *name;
	char *window;
	bool uffd;
	double arm_us, touch_us, find_us; /* per page armed, touched, looked at */
};

static int uffd, pagemap_fd;
static uint8_t touched_by_handler[NPAGES];
static char *uffd_window;

static void die(const char *what)
{
	bench_die("bench_hintfault", what);
}

/* gmm's hinting fault, reduced to its host work: note the touch, map the
 * page back (stage2_hint_fault()) */
static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t page = (uintptr_t)si->si_addr & ~(PAGE - 1);
	struct uffdio_continue c = { .range = { .start = page, .len = PAGE } };

	(void)sig;
	(void)uc;
	if ((char *)page < uffd_window || (char *)page >= uffd_window + NPAGES * PAGE)
		abort();
	touched_by_handler[((char *)page - uffd_window) / PAGE] = 1;
	if (ioctl(uffd, UFFDIO_CONTINUE, &c))
		abort();
}

static void setup(struct way *w, int memfd, uint64_t mode)
{
	struct uffdio_register r = { .mode = mode };

	w->window = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (w->window == MAP_FAILED)
		die("mmap");
	/* every page in the file and mapped before the faults are gmm's */
	for (size_t i = 0; i < NPAGES; i++)
		w->window[i * PAGE] = 1;
	r.range.start = (uint64_t)w->window;
	r.range.len = NPAGES * PAGE;
	if (ioctl(uffd, UFFDIO_REGISTER, &r))
		die("UFFDIO_REGISTER");
}

/* One round: arm pages 0, 2, 4, ...; touch 0, 4, 8, ...; find them. */
static void round_of(struct way *w)
{
	static uint64_t pm[NPAGES];
	volatile char sink = 0;
	size_t armed = NPAGES / 2, touched = NPAGES / 4;
	double t0, t1, t2, t3;

	memset(touched_by_handler, 0, sizeof(touched_by_handler));
	t0 = bench_now_us();
	for (size_t i = 0; i < NPAGES; i += 2)
		if (madvise(w->window + i * PAGE, PAGE, MADV_DONTNEED))
			die("MADV_DONTNEED");
	t1 = bench_now_us();
	for (size_t i = 0; i < NPAGES; i += 4)
		sink += w->window[i * PAGE];
	t2 = bench_now_us();
	if (!w->uffd) {
		off_t at = (off_t)((uintptr_t)w->window / PAGE * sizeof(uint64_t));

		if (pread(pagemap_fd, pm, sizeof(pm), at) != (ssize_t)sizeof(pm))
			die("pread /proc/self/pagemap");
	}
	t3 = bench_now_us();
	(void)sink;
	for (size_t i = 0; i < NPAGES; i += 2) {
		bool want = i % 4 == 0, saw = w->uffd ? touched_by_handler[i] : !!(pm[i] & PM_PRESENT);

		if (want != saw) {
			fprintf(stderr, "bench_hintfault: %s: page %zu %s but was %s\n", w->name, i,
				want ? "touched" : "left alone", saw ? "seen touched" : "not seen");
			exit(1);
		}
	}
	w->arm_us = (t1 - t0) / (double)armed;
	w->touch_us = (t2 - t1) / (double)touched;
	w->find_us = (t3 - t2) / (double)armed;
	/* the untouched armed pages back, for the next round */
	for (size_t i = 2; i < NPAGES; i += 4)
		sink += w->window[i * PAGE];
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, ROUNDS, sizeof(double), cmp_double);
	return v[ROUNDS / 2];
}

int main(void)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_SIGBUS |
								 UFFD_FEATURE_WP_HUGETLBFS_SHMEM };
	struct way hint = { .name = "uffd", .uffd = true }, kern = { .name = "kernel" };
	double arm[2][ROUNDS], touch[2][ROUNDS], find[2][ROUNDS], today, next;
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	static struct bench_sibling sibling;
	int memfd;

	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		die("userfaultfd with minor faults and write protection on shmem");
	memfd = memfd_create("bench_hintfault", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)(NPAGES * PAGE)))
		die("memfd");
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pagemap_fd < 0)
		die("/proc/self/pagemap");
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL))
		die("sigaction");
	setup(&hint, memfd, UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR);
	setup(&kern, memfd, UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP);
	uffd_window = hint.window;
	if (bench_sibling_start(&sibling))
		die("pthread_create");
	for (int r = 0; r < ROUNDS; r++) {
		round_of(&hint);
		round_of(&kern);
		arm[0][r] = hint.arm_us, touch[0][r] = hint.touch_us, find[0][r] = hint.find_us;
		arm[1][r] = kern.arm_us, touch[1][r] = kern.touch_us, find[1][r] = kern.find_us;
		printf("round %d: uffd arm %.2f touch %.2f us; kernel arm %.2f touch %.2f find %.3f us\n", r + 1,
		       hint.arm_us, hint.touch_us, kern.arm_us, kern.touch_us, kern.find_us);
	}
	bench_sibling_stop(&sibling);
	for (int i = 0; i < 2; i++) {
		arm[i][0] = median(arm[i]);
		touch[i][0] = median(touch[i]);
		find[i][0] = median(find[i]);
	}
	/* per touched page: its fault, and the look at the two armed pages
	 * (one touched, one not) that found it */
	today = touch[0][0];
	next = touch[1][0] + 2 * find[1][0];
	printf("%lu armed pages a round (every other page of a %lu MiB window), half of them touched; "
	       "a sibling thread writing on the other CPU; medians of %d rounds\n",
	       NPAGES / 2, NPAGES * PAGE >> 20, ROUNDS);
	printf("arm (one MADV_DONTNEED a page):            uffd %7.2f us   kernel %7.2f us\n", arm[0][0], arm[1][0]);
	printf("touch (SIGBUS + UFFDIO_CONTINUE / minor):   uffd %7.2f us   kernel %7.2f us\n", touch[0][0],
	       touch[1][0]);
	printf("find (pagemap, per armed page):             uffd       -      kernel %7.3f us\n", find[1][0]);
	printf("per touched page seen: uffd %.2f us, kernel %.2f us: %.2fx\n", today, next, today / next);
	printf("{\"armed_pages\": %lu, \"rounds\": %d, \"uffd_arm_us\": %.3f, \"kernel_arm_us\": %.3f, "
	       "\"hint_fault_us\": %.3f, \"kernel_minor_fault_us\": %.3f, \"pagemap_find_us_per_page\": %.4f, "
	       "\"uffd_us_per_touch_seen\": %.3f, \"kernel_us_per_touch_seen\": %.3f, "
	       "\"ratio_uffd_vs_kernel\": %.3f}\n",
	       NPAGES / 2, ROUNDS, arm[0][0], arm[1][0], touch[0][0], touch[1][0], find[1][0], today, next,
	       today / next);
	return 0;
}
