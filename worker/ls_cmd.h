/*
 * ls_cmd.h - the commands behind the command line. Each returns 0 or a
 * negative ls_err with ls_error_last() set, and sets *exit_code when the
 * outcome is not simply that error's code (ls_exit_code); ls_cli prints the
 * message and returns the code.
 */
#ifndef LS_CMD_H
#define LS_CMD_H

#include "ls_common.h"
#include "ls_config.h"

#include <signal.h>

/* Every command's options, filled by ls_cli's per-command parser and
 * validated there before a command runs (a usage error touches nothing). */
struct ls_cmd_args {
    int once;               /* run --once */
    int dry_run;            /* run and forget --dry-run */
    const char *since;      /* run --since, as given */
    char since_iso[40];     /* ...as a UTC instant, "" when not given */
    int json;               /* status and report --json */
    const char *sink;       /* retry/send-test-lead --sink */
    const char *older_than; /* purge --older-than, as given */
    long days;              /* ...as a number */
    const char *until;      /* report --until (and --since, in since) */
    const char *html;       /* report --html FILE */
    const char *email;      /* forget --email */
};

/* Counts SIGTERM/SIGINT in ls_stop_requested (ls_common.h). */
void ls_install_signal_handlers(void);

int ls_cmd_run(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code);
int ls_cmd_check(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code);
int ls_cmd_status(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code);
int ls_cmd_retry(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code);
int ls_cmd_purge(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code);
int ls_cmd_send_test_lead(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code);

/* report (ls_report.c): reads the ledger read-only, counts only. */
int ls_cmd_report(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code);
/* forget (ls_forget.c): erases one person; --dry-run lists without changing. */
int ls_cmd_forget(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code);

#endif /* LS_CMD_H */
