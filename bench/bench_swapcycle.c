/*
 * bench_swapcycle: the floor under a page's round trip through swap, the
 * kernel's against a user-space pager's, on the same work.
 *
 * One process touches a working set of PAGES pages uniformly at random
 * while only RESIDENT of them may be in memory, so about 1 - RESIDENT/PAGES
 * of its touches miss. A touch checks the page's stamp and writes a new
 * one. Uniform touches make every replacement policy equal (the kernel's
 * LRU, the pager's random victims), so the misses compare one to one and
 * what differs is what a miss costs. Modes (one process each; the driver,
 * bench_swapcycle.py, interleaves them):
 *
 *   kernel       anonymous memory in a memory cgroup limited to RESIDENT
 *                pages, with a host swap file: the kernel's memcg reclaim
 *                and swap do the work, a fault is served in the touching
 *                thread, reclaim batches 32 pages under one TLB flush.
 *   fixed        a user-space pager built as cheaply as gmm could be: the
 *                working set is a memfd mapped once (bench-window's `fixed`
 *                window: no VMA is ever made), registered with userfaultfd
 *                and served by a fault thread (gmm's handoff); eviction
 *                writes 32 random victims with one O_DIRECT pwritev() to
 *                consecutive slots and punches each (its zap: one TLB flush
 *                a page, as a program cannot share one between scattered
 *                pages); a swap-in is one O_DIRECT pread() and UFFDIO_COPY.
 *   fixed-sigbus the same pager, but the touching thread serves its own
 *                fault (UFFD_FEATURE_SIGBUS), as a vCPU of the native
 *                accelerator could: no handoff.
 *   vma          the same pager in gmm's window model today (DESIGN.md's
 *                realizer): a page lives in any free frame of a pool memfd;
 *                a swap-in reads into a bounce buffer, writes it into a
 *                free frame, maps that frame over the window page
 *                (mmap MAP_FIXED, a VMA of its own) and wakes the toucher;
 *                eviction maps anonymous memory back over each victim,
 *                registers it again and punches the frame.
 *
 * No LRU, no stage-2 table, no locks, no accounting: what is left is what
 * the host's kernel charges any user-space pager here. A second thread, at
 * SCHED_IDLE, writes its own memory on the other CPU as vCPU threads do,
 * so the process's TLB flushes reach a CPU that runs it; its CPU time and
 * context switches are not counted.
 *
 * Usage: bench_swapcycle MODE SWAPFILE PAGES RESIDENT OPS SEED
 * (SWAPFILE: the pager's swap file, created and removed; the kernel
 * mode ignores it). Prints one JSON object.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PAGE        4096UL
#define EVICT_BATCH 32 /* SWAP_CLUSTER_MAX */
#define NO_SLOT     UINT32_MAX

enum mode { MODE_KERNEL, MODE_VMA, MODE_FIXED, MODE_FIXED_SIGBUS };

static enum mode mode;
static size_t npages, nresident_max;
static char *window;
static uint64_t *stamp_of; /* what each page must hold */

/* the user-space pager's state: touched only by whoever serves faults */
static int uffd, memfd, swapfd;
static uint32_t *slot_of;   /* swap slot of each page, NO_SLOT if none */
static uint8_t *slot_used;  /* 2 * npages slots */
static size_t nslots, slot_cursor;
static uint32_t *resident;  /* resident pages, unordered */
static size_t nresident;
static uint64_t victim_rng = 0x2545f4914f6cdd1dULL;
static char *bounce;        /* O_DIRECT read buffer */
static uint32_t *frame_of;  /* vma: the pool frame each resident page maps */
static uint32_t *free_frames; /* vma: a stack of free pool frames */
static size_t nfree_frames;
static uint64_t swap_ins, swap_outs, scattered_batches;

static atomic_bool stop;
static atomic_int spinner_tid;
static char spin_buf[64 * PAGE];

static void die(const char *what)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "bench_swapcycle: %s: %s\n", what, strerror(errno));

	/* async-signal-safe: the SIGBUS handler ends here too */
	if (write(2, line, (size_t)n) < 0)
		_exit(1);
	_exit(1);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the pager -------------------------------------------------------------- */

/* EVICT_BATCH consecutive free slots from the cursor on, like the kernel's
 * swap clusters: one write for the whole batch. False when the free slots
 * are too scattered for a run. */
static bool slots_take_run(size_t *slot0)
{
	for (size_t tried = 0; tried < nslots; tried++) {
		size_t s = (slot_cursor + tried) % (nslots - EVICT_BATCH + 1), i;

		for (i = 0; i < EVICT_BATCH && !slot_used[s + i]; i++)
			;
		if (i == EVICT_BATCH) {
			memset(slot_used + s, 1, EVICT_BATCH);
			slot_cursor = s + EVICT_BATCH;
			*slot0 = s;
			return true;
		}
		tried += i; /* slot s + i is taken: no run starts before it */
	}
	return false;
}

/* One free slot, as the kernel scans for one when no cluster is free. */
static size_t slot_take_one(void)
{
	for (size_t tried = 0; tried < nslots; tried++) {
		size_t s = (slot_cursor + tried) % nslots;

		if (!slot_used[s]) {
			slot_used[s] = 1;
			slot_cursor = s + 1;
			return s;
		}
	}
	errno = ENOSPC;
	die("swap file full");
	return 0;
}

static void register_missing(char *addr, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (uint64_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		die("UFFDIO_REGISTER");
}

/* vma model: the window page goes back to registered anonymous memory (the
 * zap, a TLB flush), then its frame is punched and free again. */
static void vma_release(uint32_t page)
{
	char *w = window + (size_t)page * PAGE;

	if (mmap(w, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		die("mmap anonymous over an evicted page");
	register_missing(w, PAGE);
	if (fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)frame_of[page] * (off_t)PAGE,
		      (off_t)PAGE))
		die("punch");
	free_frames[nfree_frames++] = frame_of[page];
}

/* vma model: the page's data (in bounce) goes into a free frame, which is
 * mapped over the window page: a VMA of its own. */
static void vma_map(size_t page, bool wake)
{
	char *w = window + page * PAGE;
	struct uffdio_range r = { .start = (uint64_t)w, .len = PAGE };
	uint32_t frame = free_frames[--nfree_frames];

	if (pwrite(memfd, bounce, PAGE, (off_t)frame * (off_t)PAGE) != (ssize_t)PAGE)
		die("pwrite into a frame");
	if (mmap(w, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED | MAP_POPULATE, memfd,
		 (off_t)frame * (off_t)PAGE) == MAP_FAILED)
		die("mmap a frame over the window");
	frame_of[page] = frame;
	if (wake && ioctl(uffd, UFFDIO_WAKE, &r))
		die("UFFDIO_WAKE");
}

static void evict_batch(void)
{
	struct iovec iov[EVICT_BATCH];
	uint32_t victims[EVICT_BATCH];
	size_t slots[EVICT_BATCH], slot0;

	for (int i = 0; i < EVICT_BATCH; i++) {
		size_t k = xorshift(&victim_rng) % nresident;

		victims[i] = resident[k];
		resident[k] = resident[--nresident];
		iov[i].iov_base = window + (size_t)victims[i] * PAGE;
		iov[i].iov_len = PAGE;
	}
	if (slots_take_run(&slot0)) {
		for (int i = 0; i < EVICT_BATCH; i++)
			slots[i] = slot0 + (size_t)i;
		if (pwritev(swapfd, iov, EVICT_BATCH, (off_t)(slot0 * PAGE)) != (ssize_t)(EVICT_BATCH * PAGE))
			die("swap write");
	} else {
		scattered_batches++;
		for (int i = 0; i < EVICT_BATCH; i++) {
			slots[i] = slot_take_one();
			if (pwrite(swapfd, iov[i].iov_base, PAGE, (off_t)(slots[i] * PAGE)) != (ssize_t)PAGE)
				die("swap write");
		}
	}
	/* the data is on disk: now the frames may go (each punch zaps the
	 * window's PTE, a TLB flush of every CPU running the process) */
	for (int i = 0; i < EVICT_BATCH; i++) {
		slot_of[victims[i]] = (uint32_t)slots[i];
		if (mode == MODE_VMA)
			vma_release(victims[i]);
		else if (fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   (off_t)victims[i] * (off_t)PAGE, (off_t)PAGE))
			die("punch");
	}
	swap_outs += EVICT_BATCH;
}

/* Serve a missing page: make room, read it back (or zero it), map it. */
static void serve_fault(uint64_t addr, bool wake)
{
	size_t page = (addr - (uint64_t)window) / PAGE;
	struct uffdio_copy copy = {
		.dst = (uint64_t)window + page * PAGE,
		.src = (uint64_t)bounce,
		.len = PAGE,
		.mode = wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE,
	};

	if (page >= npages) {
		errno = EFAULT;
		die("fault outside the window");
	}
	if (nresident + 1 > nresident_max)
		evict_batch();
	if (slot_of[page] != NO_SLOT) {
		if (pread(swapfd, bounce, PAGE, (off_t)slot_of[page] * (off_t)PAGE) != (ssize_t)PAGE)
			die("swap read");
		slot_used[slot_of[page]] = 0;
		slot_of[page] = NO_SLOT;
		swap_ins++;
	} else {
		memset(bounce, 0, PAGE); /* its first touch */
	}
	if (mode == MODE_VMA)
		vma_map(page, wake);
	else if (ioctl(uffd, UFFDIO_COPY, &copy) && errno != EEXIST)
		die("UFFDIO_COPY");
	resident[nresident++] = (uint32_t)page;
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	serve_fault((uint64_t)si->si_addr, false);
}

static void *fault_thread(void *arg)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };

	(void)arg;
	while (!atomic_load(&stop)) {
		struct uffd_msg msg[16];
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(uffd, msg, sizeof(msg));
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n < 0)
			die("read userfaultfd");
		for (size_t i = 0; i < (size_t)n / sizeof(msg[0]); i++)
			if (msg[i].event == UFFD_EVENT_PAGEFAULT)
				serve_fault(msg[i].arg.pagefault.address & ~(PAGE - 1), true);
	}
	return NULL;
}

static void pager_init(const char *swap_path)
{
	struct uffdio_api api = { .api = UFFD_API, .features = mode == MODE_FIXED_SIGBUS ? UFFD_FEATURE_SIGBUS : 0 };
	size_t nframes = nresident_max; /* vma: the pool holds what may be resident */

	/* the kernel's internal tmpfs: 4 KiB folios unless shmem_enabled says
	 * otherwise (never here), as gmm's thp=never frames are */
	memfd = memfd_create("bench-swapcycle", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)((mode == MODE_VMA ? nframes : npages) * PAGE)))
		die("memfd");
	if (mode == MODE_VMA)
		window = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		window = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (window == MAP_FAILED)
		die("mmap window");
	madvise(window, npages * PAGE, MADV_NOHUGEPAGE);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api))
		die("userfaultfd");
	register_missing(window, npages * PAGE);
	swapfd = open(swap_path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
	nslots = 2 * npages;
	if (swapfd < 0 || fallocate(swapfd, 0, 0, (off_t)(nslots * PAGE)))
		die("swap file");
	unlink(swap_path);
	slot_of = malloc(npages * sizeof(*slot_of));
	slot_used = calloc(nslots, 1);
	resident = malloc(nresident_max * sizeof(*resident));
	frame_of = malloc(npages * sizeof(*frame_of));
	free_frames = malloc(nframes * sizeof(*free_frames));
	bounce = aligned_alloc(PAGE, PAGE);
	if (!slot_of || !slot_used || !resident || !frame_of || !free_frames || !bounce)
		die("malloc");
	memset(slot_of, 0xff, npages * sizeof(*slot_of));
	for (nfree_frames = 0; nfree_frames < nframes; nfree_frames++)
		free_frames[nfree_frames] = (uint32_t)(nframes - 1 - nfree_frames);
	if (mode == MODE_FIXED_SIGBUS) {
		struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGBUS, &sa, NULL))
			die("sigaction");
	}
}

/* --- the work and its measurement ------------------------------------------- */

static void *spin(void *arg)
{
	struct sched_param sp = { 0 };

	(void)arg;
	atomic_store(&spinner_tid, (int)gettid());
	sched_setscheduler(0, SCHED_IDLE, &sp);
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		for (size_t i = 0; i < sizeof(spin_buf); i += PAGE)
			spin_buf[i]++;
	return NULL;
}

static uint64_t failures;

static void touch(size_t page, uint64_t stamp)
{
	volatile uint64_t *p = (volatile uint64_t *)(window + page * PAGE);

	if (p[0] != stamp_of[page] || p[PAGE / 8 - 1] != stamp_of[page])
		failures++;
	p[0] = stamp;
	p[PAGE / 8 - 1] = stamp;
	stamp_of[page] = stamp;
}

/* voluntary + involuntary switches of one thread, from its status file */
static long thread_switches(int tid)
{
	char path[64], line[128];
	long total = 0, v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			total += v;
	fclose(f);
	return total;
}

struct sample {
	double wall_s, cpu_s;
	long switches;
	uint64_t pswpin, pswpout; /* the host's, for the kernel mode */
};

static uint64_t vmstat_read(const char *key)
{
	char k[64];
	unsigned long long v;
	uint64_t out = 0;
	FILE *f = fopen("/proc/vmstat", "r");

	while (f && fscanf(f, "%63s %llu", k, &v) == 2)
		if (!strcmp(k, key))
			out = v;
	if (f)
		fclose(f);
	return out;
}

static void take_sample(struct sample *s, pthread_t spinner)
{
	struct rusage ru;
	struct timespec spin_cpu = { 0 };
	clockid_t cid;

	getrusage(RUSAGE_SELF, &ru);
	if (!pthread_getcpuclockid(spinner, &cid))
		clock_gettime(cid, &spin_cpu);
	s->wall_s = now_s();
	s->cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6 -
		   ((double)spin_cpu.tv_sec + (double)spin_cpu.tv_nsec / 1e9);
	s->switches = ru.ru_nvcsw + ru.ru_nivcsw - thread_switches(atomic_load(&spinner_tid));
	s->pswpin = vmstat_read("pswpin");
	s->pswpout = vmstat_read("pswpout");
}

int main(int argc, char **argv)
{
	static const char *names[] = { "kernel", "vma", "fixed", "fixed-sigbus" };
	uint64_t ops, seed, rng, in, out;
	pthread_t spinner, faulter;
	struct sample a, b;
	double prefill_s;

	if (argc != 7) {
		fprintf(stderr, "usage: bench_swapcycle kernel|vma|fixed|fixed-sigbus SWAPFILE PAGES RESIDENT OPS SEED\n");
		return 2;
	}
	for (mode = MODE_KERNEL; mode <= MODE_FIXED_SIGBUS && strcmp(argv[1], names[mode]); mode++)
		;
	npages = strtoul(argv[3], NULL, 0);
	nresident_max = strtoul(argv[4], NULL, 0);
	ops = strtoull(argv[5], NULL, 0);
	seed = strtoull(argv[6], NULL, 0) | 1;
	if (mode > MODE_FIXED_SIGBUS || npages < 2 * EVICT_BATCH || nresident_max < 2 * EVICT_BATCH ||
	    nresident_max > npages || npages > UINT32_MAX / 4) {
		fprintf(stderr, "bench_swapcycle: bad arguments (PAGES >= RESIDENT >= %d)\n", 2 * EVICT_BATCH);
		return 2;
	}
	stamp_of = calloc(npages, sizeof(*stamp_of));
	if (!stamp_of)
		die("calloc");
	if (mode == MODE_KERNEL) {
		window = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (window == MAP_FAILED)
			die("mmap");
		madvise(window, npages * PAGE, MADV_NOHUGEPAGE);
	} else {
		pager_init(argv[2]);
	}
	if (pthread_create(&spinner, NULL, spin, NULL))
		die("pthread_create");
	while (!atomic_load(&spinner_tid))
		sched_yield();
	if ((mode == MODE_VMA || mode == MODE_FIXED) && pthread_create(&faulter, NULL, fault_thread, NULL))
		die("pthread_create");

	/* prefill: every page written once, in order, the rest pushed out */
	prefill_s = now_s();
	for (size_t p = 0; p < npages; p++)
		touch(p, (uint64_t)p << 32 | 1);
	prefill_s = now_s() - prefill_s;

	in = swap_ins;
	out = swap_outs;
	rng = seed;
	take_sample(&a, spinner);
	for (uint64_t i = 0; i < ops; i++) {
		size_t p = xorshift(&rng) % npages;

		touch(p, (uint64_t)p << 32 | (i + 2));
	}
	take_sample(&b, spinner);
	if (mode == MODE_KERNEL) {
		in = b.pswpin - a.pswpin;
		out = b.pswpout - a.pswpout;
	} else {
		in = swap_ins - in;
		out = swap_outs - out;
	}
	/* the closing check: every page once more */
	for (size_t p = 0; p < npages; p++)
		touch(p, 0);
	atomic_store(&stop, true);
	pthread_join(spinner, NULL);
	if (mode == MODE_VMA || mode == MODE_FIXED)
		pthread_join(faulter, NULL);

	printf("{\"mode\": \"%s\", \"pages\": %zu, \"resident_pages\": %zu, \"ops\": %llu, \"prefill_s\": %.3f, "
	       "\"seconds\": %.3f, \"cpu_s\": %.3f, \"switches\": %ld, \"swap_ins\": %llu, \"swap_outs\": %llu, "
	       "\"scattered_batches\": %llu, \"verify_failures\": %llu}\n",
	       names[mode], npages, nresident_max, (unsigned long long)ops, prefill_s, b.wall_s - a.wall_s,
	       b.cpu_s - a.cpu_s, b.switches - a.switches, (unsigned long long)in, (unsigned long long)out,
	       (unsigned long long)scattered_batches, (unsigned long long)failures);
	return failures ? 1 : 0;
}
