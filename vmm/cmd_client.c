/*
 * The control socket's command-line client: `gmm list`, `gmm stat NAME`,
 * `gmm stop NAME`, `gmm version`, `gmm cat [FILE]`, `gmm pool`, `gmm
 * check`, `gmm translate NAME GPA`, `gmm dirty-log NAME [OP]`, each with
 * --control PATH (or $GMM_CONTROL). Prints the reply as indented JSON
 * (--json: the raw reply line); `cat` prints the file's text as the
 * kernel would.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cmds.h"
#include "vmm/control.h"

/* The positional argument each command takes, and the request key it fills. */
enum arg2_kind { ARG2_NONE, ARG2_STRING, ARG2_INTEGER };

static const struct {
	const char *cmd, *arg, *key;
	bool required;
	const char *key2;       /* a second positional argument, optional unless ARG2_INTEGER */
	enum arg2_kind kind2;
	const char *request;    /* the socket command, if it is spelled differently */
} client_cmds[] = {
	{ "list", "", NULL, false, NULL, ARG2_NONE, NULL },
	{ "version", "", NULL, false, NULL, ARG2_NONE, NULL },
	{ "stat", " NAME", "guest", true, NULL, ARG2_NONE, NULL },
	{ "stop", " NAME", "guest", true, NULL, ARG2_NONE, NULL },
	{ "cat", " [FILE]", "file", false, NULL, ARG2_NONE, NULL },
	{ "pool", "", NULL, false, NULL, ARG2_NONE, NULL },
	{ "check", "", NULL, false, NULL, ARG2_NONE, NULL },
	{ "translate", " NAME GPA", "guest", true, "gpa", ARG2_INTEGER, NULL },
	{ "dirty-log", " NAME [start|stop|harvest|status] [--runs]", "guest", true, "op", ARG2_STRING,
	  "dirty_log" },
	{ "limits", " NAME [max=SIZE high=SIZE low=SIZE min=SIZE swap_max=SIZE ...]", "guest", true, NULL,
	  ARG2_NONE, NULL },
	{ "balloon", " NAME [target=SIZE | guest_mem=SIZE] [stats_period=SECONDS] [auto=0|1] [refresh=1]", "guest",
	  true, NULL, ARG2_NONE, NULL },
	{ "numa", " [NAME]", "guest", false, NULL, ARG2_NONE, NULL },
	{ "compact", " [node=N] [order=N]", NULL, false, NULL, ARG2_NONE, NULL },
	{ "domains", "", NULL, false, NULL, ARG2_NONE, NULL },
};

static int client_cmd_find(const char *cmd)
{
	for (size_t i = 0; i < sizeof(client_cmds) / sizeof(client_cmds[0]); i++)
		if (!strcmp(client_cmds[i].cmd, cmd))
			return (int)i;
	return -1;
}

bool cmd_client_known(const char *cmd)
{
	return client_cmd_find(cmd) >= 0;
}

static void usage_client(FILE *f, const char *cmd)
{
	fprintf(f, "usage: gmm %s%s --control PATH [--json]\n", cmd, client_cmds[client_cmd_find(cmd)].arg);
}

/* Print a successful reply: `cat` as plain text, the rest as JSON. */
static void print_reply(const char *cmd, json_t *reply, bool raw)
{
	json_t *text = json_object_get(reply, "text"), *files = json_object_get(reply, "files"), *v;
	size_t i;

	if (!raw && !strcmp(cmd, "cat") && json_is_string(text)) {
		fwrite(json_string_value(text), 1, json_string_length(text), stdout);
		return;
	}
	if (!raw && !strcmp(cmd, "cat") && json_is_array(files)) {
		json_array_foreach(files, i, v)
			printf("%s\n", json_string_value(v));
		return;
	}
	json_dumpf(reply, stdout, raw ? JSON_COMPACT : JSON_INDENT(2));
	fputc('\n', stdout);
}

int cmd_client(const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "control", required_argument, 0, 's' }, { "json", no_argument, 0, 'j' },
		{ "runs", no_argument, 0, 'r' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	const char *path = getenv("GMM_CONTROL"), *arg = NULL, *arg2 = NULL;
	int ci = client_cmd_find(cmd);
	bool raw = false, runs = false;
	json_t *set = NULL;
	unsigned long long num = 0;
	char *end;
	json_t *req, *reply = NULL;
	char err[512];
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
		switch (c) {
		case 's': path = optarg; break;
		case 'j': raw = true; break;
		case 'r': runs = true; break;
		case 'h': usage_client(stdout, cmd); return 0;
		default: usage_client(stderr, cmd); return 2;
		}
	}
	if (client_cmds[ci].key && optind < argc)
		arg = argv[optind++];
	if (client_cmds[ci].key2 && optind < argc)
		arg2 = argv[optind++];
	if (arg2 && client_cmds[ci].kind2 == ARG2_INTEGER) {
		errno = 0;
		num = strtoull(arg2, &end, 0);
		if (errno || end == arg2 || *end) {
			fprintf(stderr, "gmm %s: %s: not a number (decimal or 0x hex)\n", cmd, arg2);
			return 2;
		}
	}
	if (!strcmp(cmd, "limits") || !strcmp(cmd, "balloon") || !strcmp(cmd, "compact")) {
		/* KEY=VALUE pairs: the settings to change ("none": no limit) */
		for (; optind < argc; optind++) {
			char *eq = strchr(argv[optind], '=');

			if (!eq || eq == argv[optind]) {
				fprintf(stderr, "gmm %s: %s: expected KEY=VALUE\n", cmd, argv[optind]);
				return 2;
			}
			if (!set)
				set = json_object();
			*eq = 0;
			json_object_set_new(set, argv[optind], !strcmp(eq + 1, "none") ? json_null() : json_string(eq + 1));
		}
	}
	if (optind < argc || (client_cmds[ci].required && !arg) ||
	    (client_cmds[ci].kind2 == ARG2_INTEGER && !arg2) || !path) {
		if (!path)
			fprintf(stderr, "gmm %s: no control socket: give --control PATH or set GMM_CONTROL\n", cmd);
		usage_client(stderr, cmd);
		return 2;
	}
	req = json_pack("{s:s}", "cmd", client_cmds[ci].request ? client_cmds[ci].request : cmd);
	if (arg)
		json_object_set_new(req, client_cmds[ci].key, json_string(arg));
	if (arg2)
		json_object_set_new(req, client_cmds[ci].key2, client_cmds[ci].kind2 == ARG2_INTEGER ?
				    json_integer((json_int_t)num) : json_string(arg2));
	if (runs)
		json_object_set_new(req, "runs", json_true());
	if (set)
		json_object_set_new(req, "set", set);
	ret = control_call(path, req, &reply, err, sizeof(err));
	json_decref(req);
	if (ret) {
		fprintf(stderr, "gmm %s: %s\n", cmd, err);
		return 1;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *e = json_object_get(reply, "error");

		fprintf(stderr, "gmm %s: %s%s%s\n", cmd, arg ? arg : "", arg ? ": " : "",
			json_is_string(e) ? json_string_value(e) : "failed");
		json_decref(reply);
		return 1;
	}
	print_reply(cmd, reply, raw);
	json_decref(reply);
	return 0;
}
