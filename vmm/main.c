/* gmm: a small KVM VMM whose heart is a host-side memory manager. */
#include <stdio.h>
#include <string.h>

#include "vmm/cmds.h"
#include "vmm/version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gmm COMMAND [options]\n"
		"  run      run guests in the foreground until they finish (gmm run --help)\n"
		"  daemon   a long-running host whose guests virsh defines and starts (gmm daemon --help)\n"
		"  list     list the guests of a running gmm (--control PATH)\n"
		"  stat     one guest's state and counters (gmm stat NAME --control PATH)\n"
		"  stop     stop one guest, leaving the others running\n"
		"  version  the version of a running gmm; --version prints this one's\n"
		"  cat      a host memory view: buddyinfo, zoneinfo, vmstat, ... (gmm cat FILE)\n"
		"  pool     the host pool: frames, host memory held, the zeroed reserve\n"
		"  check    run the consistency checkers (buddy, stage-2 tables, reverse map)\n"
		"  translate  where a guest page lives: its EPT entry and frame (gmm translate NAME GPA)\n"
		"  dirty-log  write tracking: gmm dirty-log NAME start|harvest|stop|status [--runs]\n"
		"  limits   a guest's memory limits and events: gmm limits NAME [max=512M high=... ...]\n"
		"  balloon  a guest's virtio-balloon: gmm balloon NAME [target=256M] [refresh=1] ...\n"
		"  numa     the pool's nodes, or a guest's placement: gmm numa [NAME]\n"
		"  domains  a daemon's domains (shut-off ones too) and its libvirt counters\n"
		"  compact  compact the pool (compact_memory): gmm compact [node=N] [order=9]\n"
		"docs/ has the handbook: docs/getting-started.md first.\n");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd || !strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(cmd ? stdout : stderr);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "--version")) {
		printf("gmm %s\n", GMM_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "daemon"))
		return cmd_daemon(argc - 1, argv + 1);
	if (cmd_client_known(cmd))
		return cmd_client(cmd, argc - 1, argv + 1);
	fprintf(stderr, "gmm: unknown command \"%s\" (gmm --help)\n", cmd);
	return 2;
}
