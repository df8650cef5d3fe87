/*
 * tool_cli.h - what the project's command-line tools (leadsync-seed,
 * leadsync-parsefloor) share: their exit codes, one-line error reports that
 * name the tool, integer options and the table client.
 */
#ifndef LS_TOOL_CLI_H
#define LS_TOOL_CLI_H

#include "azt.h"

enum tool_exit {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 64,
    EXIT_UNAVAILABLE = 69,
    EXIT_NOPERM = 77,
    EXIT_CONFIG = 78,
};

/* The tool's name, for every message it prints; call first. */
void tool_init(const char *name);
const char *tool_name(void);

/* The exit code for an azt error. */
int tool_exit_for(int azt_rc);

/* "<tool>: <what>: <azt's last error>" on stderr. */
void tool_report(const char *what);

/* Splits the option argv[*i] ("--name=value" or "--name value", stepping *i
 * over the value) into name[name_cap] and *val, checking the name against
 * known[0..nknown). 0, or -1 after saying why. */
int tool_option(int argc, char **argv, int *i, const char *const *known, size_t nknown, char *name,
                size_t name_cap, const char **val);

/* Parses s as an integer in lo..hi into *out; 0, or -1 after saying why. */
int tool_parse_long(const char *name, const char *s, long lo, long hi, long *out);

/* A client for a connection string, logging warnings and errors to stderr
 * and sending the tool's name as its user agent. AZT_OK or an azt error
 * (already reported). */
int tool_open_client(const char *conn_string, struct azt_client **out);

#endif /* LS_TOOL_CLI_H */
