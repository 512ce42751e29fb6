/*
 * `gmm run`: build every guest of the config, run them in this process until
 * they finish (or --timeout, or SIGINT/SIGTERM), then print one JSON line per
 * guest on stdout. Exit status 0 when every guest exited with code 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/cmds.h"
#include "vmm/config.h"
#include "vmm/control.h"
#include "vmm/host.h"
#include "vmm/host_pool.h"
#include "vmm/host_services.h"
#include "vmm/stage2.h"
#include "vmm/log.h"
#include "vmm/report.h"
#include "vmm/signals.h"
#include "vmm/vm.h"

static volatile sig_atomic_t run_interrupted;

static void on_term(int sig)
{
	(void)sig;
	run_interrupted = 1;
}

/* The test guest built beside gmm: build/gmm -> build/guest/gmm-guest.elf,
 * and build/san/gmm -> build/guest/gmm-guest.elf too. */
const char *default_test_guest(void)
{
	static const char *const rel[] = { "/guest/gmm-guest.elf", "/../guest/gmm-guest.elf" };
	static char path[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *dir;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	dir = dirname(exe);
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if (strlen(dir) + strlen(rel[i]) >= sizeof(path))
			return NULL;
		strcat(strcpy(path, dir), rel[i]);
		if (access(path, R_OK) == 0)
			return path;
	}
	return NULL;
}

static void usage_run(FILE *f)
{
	fprintf(f,
		"usage: gmm run [--config FILE] [--guest SPEC]... [options]\n"
		"  -c, --config FILE     host and guests from a JSON file (configs/*.json)\n"
		"  -g, --guest SPEC      a guest: name=a,mem=512M,vcpus=2,kernel=PATH,cmdline=\"...\"\n"
		"                        (also initrd=PATH, console=FILE); repeatable\n"
		"  -a, --accel NAME      auto (default: kvm when /dev/kvm opens), kvm, native\n"
		"  -s, --control PATH    serve the JSON control socket at PATH (0600)\n"
		"  -t, --timeout SEC     stop every guest still running after SEC seconds\n"
		"  -q, --quiet           no progress lines on stderr\n");
}

static int parse_run_args(int argc, char **argv, struct gmm_config *cfg, double *timeout)
{
	static const struct option opts[] = {
		{ "config", required_argument, 0, 'c' }, { "guest", required_argument, 0, 'g' },
		{ "accel", required_argument, 0, 'a' },  { "control", required_argument, 0, 's' },
		{ "timeout", required_argument, 0, 't' }, { "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },         { 0, 0, 0, 0 },
	};
	char err[CONFIG_ERR_MAX], accel[16] = "", control[PATH_MAX] = "";
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:g:a:s:t:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (config_load_file(cfg, optarg, err, sizeof(err))) {
				fprintf(stderr, "gmm: config: %s\n", err);
				return 2;
			}
			break;
		case 'g':
			if (config_add_guest_flag(cfg, optarg, err, sizeof(err))) {
				fprintf(stderr, "gmm: %s\n", err);
				return 2;
			}
			break;
		case 'a': snprintf(accel, sizeof(accel), "%s", optarg); break;
		case 's': snprintf(control, sizeof(control), "%s", optarg); break;
		case 't':
			*timeout = strtod(optarg, NULL);
			if (*timeout <= 0) {
				fprintf(stderr, "gmm: --timeout: \"%s\" must be a positive number of seconds\n", optarg);
				return 2;
			}
			break;
		case 'q': log_quiet = true; break;
		case 'h': usage_run(stdout); return 1;
		default: usage_run(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gmm: run: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (accel[0])
		strcpy(cfg->host.accel, accel);
	if (control[0])
		strcpy(cfg->host.control, control);
	return 0;
}

static int create_guests(struct gmm_config *cfg, struct host *host, const struct accel_ops *accel)
{
	char err[CONFIG_ERR_MAX];

	for (int i = 0; i < cfg->nr_guests; i++) {
		struct vm *vm;
		int ret = vm_create(&cfg->guests[i], accel, host->pool, i, &vm, err, sizeof(err));

		if (ret) {
			fprintf(stderr, "gmm: guests[%d] (%s): %s\n", i, cfg->guests[i].name, err);
			return ret;
		}
		host_add_guest(host, vm);
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What the run held on the host at its peak, sampled while guests run:
 * the pool's allocated blocks, and gmm's own anonymous memory beside it
 * (frame descriptors, swap cache arrays, stacks, heap: everything but the
 * pool and guest windows, which are shared memory). */
struct run_peaks {
	uint64_t pool_held;
	uint64_t vmm_anon;
};

static uint64_t self_rss_anon_bytes(void)
{
	char line[128];
	unsigned long long kb = 0;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb << 10;
}

static void sample_peaks(struct host *host, struct run_peaks *p)
{
	uint64_t held = host->pool ? host_pool_held_bytes(host->pool) : 0, anon = self_rss_anon_bytes();

	if (held > p->pool_held)
		p->pool_held = held;
	if (anon > p->vmm_anon)
		p->vmm_anon = anon;
}

/* One line before the guests' (which stay last): the pool and gmm itself. */
static void report_host(struct host *host, const struct run_peaks *p)
{
	json_t *h = json_object();
	json_t *o = json_pack("{s:o}", "host", h);

	json_object_set_new(h, "accel", json_string(host->accel->name));
	if (host->pool) {
		json_object_set_new(h, "pool_bytes", json_integer((json_int_t)host->pool->size_bytes));
		json_object_set_new(h, "pool_held_peak_bytes", json_integer((json_int_t)p->pool_held));
	}
	json_object_set_new(h, "vmm_anon_peak_bytes", json_integer((json_int_t)p->vmm_anon));
	json_dumpf(o, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(o);
}

/* How often an anon guest's resident RAM is sampled: mincore() over 1 GiB
 * of partly swapped RAM costs about 1.4 ms here, and every 50 ms for three
 * such guests it took 8% of a CPU from the guests (2026-12-05, perf of a
 * bench-overcommit kernel run). A pool guest's is a counter, read at each
 * poll; every guest is sampled once more when it stops (vm_wait()). */
#define ANON_RESIDENT_SAMPLE_S 1.0

/* Poll until every guest has stopped, sampling host memory as we go. */
static void wait_guests(struct host *host, double timeout, struct run_peaks *peaks)
{
	double start = now_s(), anon_sampled = 0;
	bool stopping = false;

	for (;;) {
		double now = now_s();
		bool anon_due = now - anon_sampled >= ANON_RESIDENT_SAMPLE_S;
		int running = 0;

		sample_peaks(host, peaks);
		if (anon_due)
			anon_sampled = now;
		for (int i = 0; i < host->nr_guests; i++) {
			struct vm *vm = host->guests[i].vm;

			if (anon_due || guest_mem_resident_is_cheap(&vm->mem))
				vm_sample_resident(vm);
			if (!vm_is_stopped(vm))
				running++;
			else
				vm_release_memory(vm); /* a stopped guest's frames go back at once */
		}
		if (!running)
			return;
		if (!stopping && (run_interrupted || (timeout > 0 && now_s() - start > timeout))) {
			log_info("%s: stopping %d running guest(s)", run_interrupted ? "signal" : "timeout", running);
			for (int i = 0; i < host->nr_guests; i++)
				vm_request_stop(host->guests[i].vm, -1, false,
						run_interrupted ? "interrupted" : "timeout");
			stopping = true;
		}
		usleep(50 * 1000);
	}
}

static int finish_guests(struct host *host)
{
	int status = 0;

	for (int i = 0; i < host->nr_guests; i++) {
		struct vm *vm = host->guests[i].vm;
		json_t *o;

		vm_wait(vm);
		o = report_guest_json(vm);
		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
		if (vm->exit_code != 0 || vm->crashed)
			status = 1;
	}
	fflush(stdout);
	return status;
}

int cmd_run(int argc, char **argv)
{
	struct gmm_config *cfg = calloc(1, sizeof(*cfg));
	struct host host;
	struct control_server cs = { .listen_fd = -1 };
	struct host_services *hs = calloc(1, sizeof(*hs));
	struct run_peaks peaks = { 0, 0 };
	const struct accel_ops *accel;
	const char *why;
	char err[CONFIG_ERR_MAX];
	uint64_t guest_bytes = 0;
	double timeout = 0;
	int ret;

	if (!cfg || !hs) {
		fprintf(stderr, "gmm: out of memory\n");
		free(cfg);
		free(hs);
		return 1;
	}
	config_init(cfg);
	ret = parse_run_args(argc, argv, cfg, &timeout);
	if (ret) {
		free(cfg);
		free(hs);
		return ret == 1 ? 0 : ret; /* 1: --help */
	}
	ret = 2;
	if (config_finish(cfg, default_test_guest(), err, sizeof(err))) {
		fprintf(stderr, "gmm: config: %s\n", err);
		goto out_free;
	}
	host_init(&host, NULL);
	accel = accel_select(cfg->host.accel, &why);
	if (!accel) {
		fprintf(stderr, "gmm: host.accel: %s\n", why);
		goto out_free;
	}
	signals_init();
	signal(SIGINT, on_term);
	signal(SIGTERM, on_term);
	host.accel = accel;
	for (int i = 0; i < cfg->nr_guests; i++)
		guest_bytes += cfg->guests[i].mem_bytes;
	if (host_services_open(hs, &host, cfg, guest_bytes, err, sizeof(err))) {
		fprintf(stderr, "gmm: %s\n", err);
		goto out_free;
	}
	if (create_guests(cfg, &host, accel))
		goto out_destroy;
	host_services_start_reclaim(hs, &host, cfg);
	if (cfg->host.control[0] && control_start(&cs, &host, cfg->host.control, err, sizeof(err))) {
		fprintf(stderr, "gmm: %s\n", err);
		goto out_destroy;
	}
	log_info("running %d guest(s) on accel=%s", host.nr_guests, accel->name);
	for (int i = 0; i < host.nr_guests; i++)
		vm_start(host.guests[i].vm);
	host_services_start_scanners(hs, &host);
	wait_guests(&host, timeout, &peaks);
	host_services_stop(hs, &host);
	control_stop(&cs);
	report_host(&host, &peaks);
	ret = finish_guests(&host);
out_destroy:
	control_stop(&cs);
	host_services_stop(hs, &host);
	for (int i = 0; i < host.nr_guests; i++)
		vm_destroy(host.guests[i].vm);
	host_services_close(hs, &host);
out_free:
	free(hs);
	free(cfg);
	return ret;
}
