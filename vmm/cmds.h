/* gmm's subcommands, one function each (main.c dispatches). */
#ifndef GMM_VMM_CMDS_H
#define GMM_VMM_CMDS_H

int cmd_run(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
#include <stdbool.h>

int cmd_client(const char *cmd, int argc, char **argv);
bool cmd_client_known(const char *cmd); /* list, stat, stop, version, cat */
const char *default_test_guest(void);

#endif
