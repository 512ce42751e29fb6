/*
 * `gmm daemon --state-dir DIR`: a long-running host that owns the pool and
 * runs any number of guests, defined and started at run time: libvirt's
 * libvirtd and its qemu driver folded into one process (docs/virsh.md).
 *
 *   DIR/control.sock   the JSON control socket (`gmm stat NAME --control ...`)
 *   DIR/libvirt.sock   libvirt's remote protocol (virsh, python3-libvirt)
 *   DIR/domains/       persistent definitions; DIR/autostart/ their links
 *
 * Both sockets are 0600 and check their peer (root or the daemon's uid).
 * SIGTERM or SIGINT stops every guest (reason "daemon"), closes the
 * sockets and exits 0; definitions stay for the next start.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/cmds.h"
#include "vmm/config.h"
#include "vmm/control.h"
#include "vmm/domains.h"
#include "vmm/host.h"
#include "vmm/host_pool.h"
#include "vmm/host_services.h"
#include "vmm/libvirt/server.h"
#include "vmm/log.h"
#include "vmm/signals.h"

/* A pool the config does not size: the daemon cannot add up guests it has
 * not seen, so it takes a fixed size (a memfd: host memory is used only as
 * guests touch it). */
#define DAEMON_DEFAULT_POOL_BYTES (2ULL << 30)

static volatile sig_atomic_t daemon_stop;

static void on_term(int sig)
{
	(void)sig;
	daemon_stop = 1;
}

static void usage_daemon(FILE *f)
{
	fprintf(f,
		"usage: gmm daemon --state-dir DIR [--config FILE] [--accel NAME] [-q]\n"
		"  -d, --state-dir DIR   definitions and sockets: DIR/domains/, DIR/control.sock,\n"
		"                        DIR/libvirt.sock (virsh -c 'gmm+unix:///system?socket=DIR/libvirt.sock')\n"
		"  -c, --config FILE     the host: pool, swap, reclaim, NUMA (a configs/*.json with only \"host\";\n"
		"                        default pool 2G)\n"
		"  -a, --accel NAME      auto (default), kvm, native\n"
		"  -q, --quiet           no progress lines on stderr\n");
}

struct daemon_args {
	char state_dir[PATH_MAX - 32];
	char accel[16];
};

static int parse_daemon_args(int argc, char **argv, struct gmm_config *cfg, struct daemon_args *a)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, 0, 'd' }, { "config", required_argument, 0, 'c' },
		{ "accel", required_argument, 0, 'a' },     { "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },            { 0, 0, 0, 0 },
	};
	char err[CONFIG_ERR_MAX];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:c:a:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (strlen(optarg) >= sizeof(a->state_dir) - 64) {
				fprintf(stderr, "gmm: --state-dir: too long\n");
				return 2;
			}
			strcpy(a->state_dir, optarg);
			break;
		case 'c':
			if (config_load_file(cfg, optarg, err, sizeof(err))) {
				fprintf(stderr, "gmm: config: %s\n", err);
				return 2;
			}
			break;
		case 'a': snprintf(a->accel, sizeof(a->accel), "%s", optarg); break;
		case 'q': log_quiet = true; break;
		case 'h': usage_daemon(stdout); return 1;
		default: usage_daemon(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gmm: daemon: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	if (!a->state_dir[0]) {
		fprintf(stderr, "gmm: daemon: --state-dir DIR is required\n");
		usage_daemon(stderr);
		return 2;
	}
	if (a->accel[0])
		strcpy(cfg->host.accel, a->accel);
	if (cfg->host.control[0]) {
		fprintf(stderr, "gmm: config: host.control: the daemon's control socket is STATE_DIR/control.sock\n");
		return 2;
	}
	return 0;
}

/* The daemon's running state, torn down in reverse. */
struct daemon {
	struct gmm_config *cfg;
	struct host host;
	struct host_services hs;
	struct control_server cs;
	struct domains *domains;
	struct libvirt_server *lv;
};

static int daemon_start(struct daemon *dm, const struct daemon_args *a)
{
	char err[CONFIG_ERR_MAX], path[PATH_MAX];
	const struct accel_ops *accel;
	const char *why;

	if (config_finish_host(dm->cfg, DAEMON_DEFAULT_POOL_BYTES, err, sizeof(err))) {
		fprintf(stderr, "gmm: config: %s\n", err);
		return -EINVAL;
	}
	accel = accel_select(dm->cfg->host.accel, &why);
	if (!accel) {
		fprintf(stderr, "gmm: host.accel: %s\n", why);
		return -EINVAL;
	}
	dm->host.accel = accel;
	if (host_services_open(&dm->hs, &dm->host, dm->cfg, dm->cfg->host.pool.size_bytes, err, sizeof(err))) {
		fprintf(stderr, "gmm: %s\n", err);
		return -EINVAL;
	}
	host_services_start_reclaim(&dm->hs, &dm->host, dm->cfg);
	host_services_start_scanners(&dm->hs, &dm->host);
	if (domains_open(&dm->host, dm->cfg, a->state_dir, default_test_guest(), &dm->domains, err, sizeof(err))) {
		fprintf(stderr, "gmm: daemon: %s\n", err);
		return -EINVAL;
	}
	dm->host.domains = dm->domains;
	snprintf(path, sizeof(path), "%s/control.sock", a->state_dir);
	if (control_start(&dm->cs, &dm->host, path, err, sizeof(err))) {
		fprintf(stderr, "gmm: %s\n", err);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/libvirt.sock", a->state_dir);
	if (libvirt_server_start(dm->domains, path, &dm->lv, err, sizeof(err))) {
		fprintf(stderr, "gmm: %s\n", err);
		return -EINVAL;
	}
	dm->host.libvirt = dm->lv;
	log_info("daemon: pool %llu MiB on accel=%s; virsh -c 'gmm+unix:///system?socket=%s'",
		 (unsigned long long)(dm->host.pool->size_bytes >> 20), accel->name, path);
	domains_autostart(dm->domains);
	return 0;
}

static void daemon_stop_all(struct daemon *dm)
{
	control_stop(&dm->cs); /* first: its `domains` command reads both below */
	dm->host.libvirt = NULL;
	dm->host.domains = NULL;
	if (dm->lv)
		libvirt_server_stop(dm->lv);
	dm->lv = NULL;
	if (dm->domains) {
		domains_stop_all(dm->domains);
		domains_close(dm->domains);
	}
	dm->domains = NULL;
	host_services_stop(&dm->hs, &dm->host);
	host_services_close(&dm->hs, &dm->host);
}

int cmd_daemon(int argc, char **argv)
{
	struct daemon *dm = calloc(1, sizeof(*dm));
	struct daemon_args a = { "", "" };
	int ret;

	if (!dm || !(dm->cfg = calloc(1, sizeof(*dm->cfg)))) {
		fprintf(stderr, "gmm: out of memory\n");
		free(dm);
		return 1;
	}
	dm->cs.listen_fd = -1;
	config_init(dm->cfg);
	ret = parse_daemon_args(argc, argv, dm->cfg, &a);
	if (ret) {
		free(dm->cfg);
		free(dm);
		return ret == 1 ? 0 : ret;
	}
	host_init(&dm->host, NULL);
	signals_init();
	signal(SIGINT, on_term);
	signal(SIGTERM, on_term);
	signal(SIGPIPE, SIG_IGN);
	umask(077);
	ret = daemon_start(dm, &a) ? 2 : 0;
	while (!ret && !daemon_stop) {
		domains_reap(dm->domains);
		usleep(50 * 1000);
	}
	if (!ret)
		log_info("daemon: signal: stopping every guest");
	daemon_stop_all(dm);
	free(dm->cfg);
	free(dm);
	return ret;
}
