/*
 * The control socket's command-line client: `gmm list`, `gmm stat NAME`,
 * `gmm stop NAME`, `gmm version`, each with --control PATH (or $GMM_CONTROL).
 * Prints the reply as indented JSON (--json: the raw reply line).
 */
#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cmds.h"
#include "vmm/control.h"

static void usage_client(FILE *f, const char *cmd)
{
	fprintf(f, "usage: gmm %s%s --control PATH [--json]\n", cmd,
		strcmp(cmd, "list") && strcmp(cmd, "version") ? " NAME" : "");
}

int cmd_client(const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, 0, 's' }, { "json", no_argument, 0, 'j' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *path = getenv("GMM_CONTROL"), *guest = NULL;
	bool needs_guest = strcmp(cmd, "list") && strcmp(cmd, "version"), raw = false;
	json_t *req, *reply = NULL;
	char err[512];
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'j': raw = true; break;
		case 'h': usage_client(stdout, cmd); return 0;
		default: usage_client(stderr, cmd); return 2;
		}
	}
	if (needs_guest && optind < argc)
		guest = argv[optind++];
	if (optind < argc || (needs_guest && !guest) || !path) {
		if (!path)
			fprintf(stderr, "gmm %s: no control socket: give --control PATH or set GMM_CONTROL\n", cmd);
		usage_client(stderr, cmd);
		return 2;
	}
	req = json_pack("{s:s}", "cmd", cmd);
	if (guest)
		json_object_set_new(req, "guest", json_string(guest));
	ret = control_call(path, req, &reply, err, sizeof(err));
	json_decref(req);
	if (ret) {
		fprintf(stderr, "gmm %s: %s\n", cmd, err);
		return 1;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");

		fprintf(stderr, "gmm %s: %s%s%s\n", cmd, guest ? guest : "", guest ? ": " : "",
			json_is_string(e) ? json_string_value(e) : "failed");
		json_decref(reply);
		return 1;
	}
	json_dumpf(reply, stdout, raw ? JSON_COMPACT : JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(reply);
	return 0;
}
