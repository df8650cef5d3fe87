/* ls_cli.c - argv parsing and command dispatch. */
#include "ls_cli.h"

#include "ls_cmd.h"
#include "ls_common.h"
#include "ls_config.h"
#include "ls_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static const char usage[] =
    "usage: leadsync [--config FILE] COMMAND [OPTIONS]\n"
    "\n"
    "Moves Microsoft commercial-marketplace leads from the Azure Table the marketplace\n"
    "writes (MarketplaceLeads) into your CRM: nothing lost, nothing duplicated.\n"
    "\n"
    "commands:\n"
    "  run [--once] [--since ISO8601] [--dry-run]\n"
    "                          poll as a daemon; --once drains and exits\n"
    "  check                   configuration, table access and sink access, one line each\n"
    "  send-test-lead [--sink NAME]\n"
    "                          deliver a clearly marked test lead\n"
    "  status [--json]         cursor, counts per sink, last run, dead letters\n"
    "  retry [--sink NAME]     re-queue dead letters\n"
    "  purge --older-than DAYS drop delivered payloads (personal data)\n"
    "  --help, --version\n"
    "\n"
    "exit codes: 0 done, 64 usage, 65 bad data, 69 sink unavailable, 75 temporary\n"
    "failure (safe to rerun), 77 permission or authentication, 78 configuration.\n"
    "\n"
    "configuration (environment; --config FILE takes the same keys as JSON):\n";

static void print_help(FILE *out)
{
    size_t i;

    fputs(usage, out);
    for (i = 0; i < ls_conf_nentries; i++) {
        const struct ls_conf_entry *e = &ls_conf_entries[i];

        fprintf(out, "  %-34s %s", e->env, e->help);
        if (e->def)
            fprintf(out, " [%s]", e->def);
        if (e->choices)
            fprintf(out, " (%s)", e->choices);
        if (e->flags & LS_CONF_SECRET)
            fprintf(out, " (secret; or %s_FILE)", e->env);
        fputc('\n', out);
    }
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "leadsync: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try leadsync --help)\n");
    return LS_EXIT_USAGE;
}

static int fail(int rc, int code)
{
    fprintf(stderr, "leadsync: %s\n", ls_error_last());
    return code ? code : ls_exit_code(rc);
}

int ls_cli_main(int argc, char **argv)
{
    struct ls_config cfg;
    struct ls_run_args ra = {0};
    const char *config_file = NULL;
    const char *cmd = NULL;
    const char *sink = NULL;
    long days = -1;
    int json = 0;
    int i, rc, code = LS_EXIT_OK;
    int loaded = 0;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0) {
            print_help(stdout);
            return LS_EXIT_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("leadsync %s\n", LS_VERSION);
            return LS_EXIT_OK;
        } else if (strcmp(a, "--config") == 0) {
            if (++i >= argc)
                return usage_error("%s needs a file", a);
            config_file = argv[i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            config_file = a + 9;
        } else if (!cmd && a[0] != '-') {
            cmd = a;
        } else if (strcmp(a, "--once") == 0) {
            ra.once = 1;
        } else if (strcmp(a, "--dry-run") == 0) {
            ra.dry_run = 1;
        } else if (strcmp(a, "--since") == 0) {
            if (++i >= argc)
                return usage_error("%s needs an ISO 8601 time", a);
            ra.since = argv[i];
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--sink") == 0) {
            if (++i >= argc)
                return usage_error("%s needs a sink name", a);
            sink = argv[i];
        } else if (strcmp(a, "--older-than") == 0) {
            char *end = NULL;

            if (++i >= argc)
                return usage_error("%s needs a number of days", a);
            errno = 0;
            days = strtol(argv[i], &end, 10);
            if (errno || !end || *end || days < 0)
                return usage_error("--older-than: '%s' is not a number of days", argv[i]);
        } else {
            return usage_error("unknown option '%s'", a);
        }
    }
    if (!cmd) {
        print_help(stderr);
        return LS_EXIT_USAGE;
    }
    /* Options that belong to other commands are usage errors. */
    if ((ra.once || ra.dry_run || ra.since) && strcmp(cmd, "run") != 0)
        return usage_error("--once, --since and --dry-run belong to 'run', not '%s'", cmd);
    if (json && strcmp(cmd, "status") != 0)
        return usage_error("--json belongs to 'status', not '%s'", cmd);
    if (sink && strcmp(cmd, "retry") != 0 && strcmp(cmd, "send-test-lead") != 0)
        return usage_error("--sink belongs to 'retry' and 'send-test-lead', not '%s'", cmd);
    if (days >= 0 && strcmp(cmd, "purge") != 0)
        return usage_error("--older-than belongs to 'purge', not '%s'", cmd);

    rc = ls_config_load(&cfg, config_file, environ, NULL, NULL);
    loaded = 1;
    if (rc) {
        code = fail(rc, 0);
        goto done;
    }
    ls_log_setup(ls_log_level_parse(cfg.log_level), strcmp(cfg.log_format, "json") == 0);

    if (strcmp(cmd, "run") == 0) {
        rc = ls_cmd_run(&cfg, &ra, &code);
    } else if (strcmp(cmd, "check") == 0) {
        rc = ls_cmd_check(&cfg, &code);
    } else if (strcmp(cmd, "status") == 0) {
        rc = ls_cmd_status(&cfg, json, &code);
    } else if (strcmp(cmd, "retry") == 0) {
        rc = ls_cmd_retry(&cfg, sink, &code);
    } else if (strcmp(cmd, "purge") == 0) {
        if (days < 0) {
            code = usage_error("%s needs --older-than DAYS", cmd);
            goto done;
        }
        rc = ls_cmd_purge(&cfg, days, &code);
    } else if (strcmp(cmd, "send-test-lead") == 0) {
        rc = ls_cmd_send_test_lead(&cfg, sink, &code);
    } else {
        code = usage_error("unknown command '%s'", cmd);
        goto done;
    }
    if (rc)
        code = fail(rc, code);
done:
    if (loaded)
        ls_config_dispose(&cfg);
    return code;
}
