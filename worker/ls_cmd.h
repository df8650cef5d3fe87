/*
 * ls_cmd.h - the commands behind the command line. Each returns 0 or a
 * negative ls_err with ls_error_last() set; ls_cli maps that to an exit code.
 */
#ifndef LS_CMD_H
#define LS_CMD_H

#include "ls_common.h"
#include "ls_config.h"

#include <signal.h>

struct ls_run_args {
    int once;
    int dry_run;
    const char *since;
};

/* Counts SIGTERM/SIGINT in ls_stop_requested (ls_common.h). */
void ls_install_signal_handlers(void);

/* run: returns LS_OK, or LS_ESINK-like codes; *exit_code gets the contract's code. */
int ls_cmd_run(const struct ls_config *cfg, const struct ls_run_args *a, int *exit_code);
int ls_cmd_check(const struct ls_config *cfg, int *exit_code);
int ls_cmd_status(const struct ls_config *cfg, int json, int *exit_code);
int ls_cmd_retry(const struct ls_config *cfg, const char *sink, int *exit_code);
int ls_cmd_purge(const struct ls_config *cfg, long days, int *exit_code);
int ls_cmd_send_test_lead(const struct ls_config *cfg, const char *sink, int *exit_code);

/* Shared by the commands: an Azure client from the configuration. */
struct azt_client;
LS_NODISCARD int ls_open_table_client(const struct ls_config *cfg, struct azt_client **out);

#endif /* LS_CMD_H */
