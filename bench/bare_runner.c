/*
 * gmm-bare: the test guest's workloads as a plain host process, the "no
 * VMM" ceiling the guest benchmarks compare against. The workload code is
 * the guest's own (guest/ sources compiled for the host); this file is the host
 * back end of guest/plat.h: it mmaps anonymous memory for the working set,
 * fakes the boot_info a VMM would write (one RAM range, base = the mapping,
 * so "gfn" is the page offset in it), runs one thread per vCPU, and prints
 * results as the guest does under QEMU ("GMM-RESULT key=value" on stdout)
 * plus one JSON line at exit. Human lines go to stderr.
 *
 *   gmm-bare [--thp|--no-thp] workload=zipf size=512M iters=10M theta=0.99 verify=1 vcpus=2
 *
 * size= defaults to 256M here (there is no guest RAM to fill). --thp asks
 * for transparent huge pages on the mapping (MADV_HUGEPAGE), --no-thp
 * forbids them; without either the system's setting applies.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "guest/cmdline.h"
#include "guest/plat.h"
#include "guest/workload.h"

#define BARE_DEFAULT_SIZE (256ULL << 20)
#define BARE_MAX_RESULTS  64

struct bare_run {
	char cmdline[GMM_CMDLINE_MAX];
	struct gmm_boot_info bi;
	const char *thp;
	pthread_mutex_t lock;       /* results[], and whole lines on stdout/stderr */
	int nr_results;
	struct {
		char key[64];
		char value[256];
	} results[BARE_MAX_RESULTS];
};

static struct bare_run run = { .lock = PTHREAD_MUTEX_INITIALIZER, .thp = "default" };

void plat_init(int cpu, uint64_t base, const struct gmm_boot_info *bi)
{
	(void)cpu;
	(void)base;
	(void)bi;
}

void plat_print(int cpu, const char *line)
{
	(void)cpu;
	pthread_mutex_lock(&run.lock);
	fprintf(stderr, "%s\n", line);
	pthread_mutex_unlock(&run.lock);
}

void plat_result(int cpu, const char *key, const char *value)
{
	(void)cpu;
	pthread_mutex_lock(&run.lock);
	printf("GMM-RESULT %s=%s\n", key, value);
	if (run.nr_results < BARE_MAX_RESULTS) {
		snprintf(run.results[run.nr_results].key, sizeof(run.results[0].key), "%s", key);
		snprintf(run.results[run.nr_results].value, sizeof(run.results[0].value), "%s", value);
		run.nr_results++;
	}
	pthread_mutex_unlock(&run.lock);
}

static bool is_number(const char *v)
{
	char *end;

	if (!*v || strchr(v, 'x'))  /* strtod takes 0x hex; JSON does not */
		return false;
	strtod(v, &end);
	return !*end;
}

void plat_exit(int cpu, uint32_t code)
{
	(void)cpu;
	pthread_mutex_lock(&run.lock);
	printf("{\"runner\":\"gmm-bare\",\"thp\":\"%s\"", run.thp);
	for (int i = 0; i < run.nr_results; i++) {
		const char *v = run.results[i].value;

		printf(is_number(v) ? ",\"%s\":%s" : ",\"%s\":\"%s\"", run.results[i].key, v);
	}
	if (!run.nr_results || strcmp(run.results[run.nr_results - 1].key, "exit_code"))
		printf(",\"exit_code\":%u", code);  /* the guest did not report it (bad line) */
	printf("}\n");
	fflush(stdout);
	exit((int)code);
}

/* Park, as a vCPU does, rather than pthread_exit(): vCPU 0 still reads
 * this thread's results, which live on its stack (exit() ends it). */
void plat_vcpu_done(int cpu)
{
	(void)cpu;
	for (;;)
		pause();
}

const char *plat_name(void)
{
	return "host";
}

bool plat_has_port_io(void)
{
	return false;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* TSC Hz against CLOCK_MONOTONIC_RAW: median of 3 windows of 20 ms. */
static uint64_t tsc_hz_measure(void)
{
	double est[3], t;

	for (int i = 0; i < 3; i++) {
		double t0 = now_s(), t1;
		uint64_t c0 = rdtsc();

		do
			t1 = now_s();
		while (t1 - t0 < 0.020);
		est[i] = (double)(rdtsc() - c0) / (t1 - t0);
	}
	for (int i = 0; i < 2; i++)
		for (int j = i + 1; j < 3; j++)
			if (est[j] < est[i]) {
				t = est[i];
				est[i] = est[j];
				est[j] = t;
			}
	return (uint64_t)(est[1] / 1e6 + 0.5) * 1000000ULL;
}

static void *vcpu_thread(void *arg)
{
	const struct gmm_boot_info *bi = &run.bi;

	guest_main((uint64_t)(uintptr_t)arg, run.cmdline, bi->ram_bytes, bi->base, bi->tsc_hz, bi);
}

/* Bytes the guest code carves off the top for itself (main.c's reserve:
 * bitmaps, gpool, grow= records, balloon rings), sized for a mapping of
 * up to twice the working set and grow= together, plus a page of rounding. */
static uint64_t reserve_extra(const struct wl_params *p, uint64_t size, unsigned nr)
{
	struct gmm_boot_info bi = { .nr_ranges = 1, .ranges = { { 0, 2 * (size + p->grow_bytes) } } };

	return wl_reserve_bytes(p, &bi, (int)nr) + 4096;
}

static int join_args(int argc, char **argv)
{
	size_t len = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--thp") || !strcmp(argv[i], "--no-thp")) {
			run.thp = argv[i][2] == 't' ? "madvise" : "never";
			continue;
		}
		if (argv[i][0] == '-') {
			fprintf(stderr, "usage: gmm-bare [--thp|--no-thp] workload=NAME key=value ...\n"
				"(the test guest's command line; see docs/test-guest.md)\n");
			return -1;
		}
		len += (size_t)snprintf(run.cmdline + len, sizeof(run.cmdline) - len, "%s%s", len ? " " : "", argv[i]);
		if (len >= sizeof(run.cmdline)) {
			fprintf(stderr, "gmm-bare: command line longer than %d bytes\n", GMM_CMDLINE_MAX);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct wl_params p = { 0 };
	char ebuf[256];
	struct sbuf err;
	uint64_t size, bytes;
	unsigned nr = 1, threads;
	void *mem;

	if (join_args(argc, argv))
		return GMM_EXIT_BAD_CMDLINE;
	sb_init(&err, ebuf, sizeof(ebuf));
	/* A bad line is still handed to guest_main, which reports it as the
	 * guest would; only the sizing here needs the parsed values. */
	if (!cmdline_parse(run.cmdline, &p, &err) && p.vcpus)
		nr = p.vcpus;
	size = p.size_bytes ? p.size_bytes : BARE_DEFAULT_SIZE;
	/* grow= takes its pages from beyond the working set */
	bytes = size + p.grow_bytes + reserve_extra(&p, size, nr);
	/* balloon=1: one more thread, the "balloon vCPU", which finds no
	 * device here and stops */
	threads = nr + (p.balloon ? 1 : 0);
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("gmm-bare: mmap");
		return 1;
	}
	if (strcmp(run.thp, "default"))
		madvise(mem, bytes, run.thp[0] == 'm' ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	run.bi = (struct gmm_boot_info){
		.magic = GMM_BOOT_MAGIC,
		.version = GMM_BOOT_VERSION,
		.nr_vcpus = threads,
		.ram_bytes = bytes,
		.base = (uint64_t)(uintptr_t)mem,
		.tsc_hz = tsc_hz_measure(),
		.nr_ranges = 1,
		.accel = PLAT_ACCEL_HOST,
		.ranges = { { 0, bytes } },
	};
	for (unsigned i = 1; i < threads; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, vcpu_thread, (void *)(uintptr_t)i)) {
			fprintf(stderr, "gmm-bare: cannot start thread %u\n", i);
			return 1;
		}
		pthread_detach(t);
	}
	vcpu_thread((void *)0);
	return 0;
}
