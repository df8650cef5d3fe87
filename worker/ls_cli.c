/* ls_cli.c - argv parsing and command dispatch. */
#include "ls_cli.h"

#include "ls_common.h"
#include "ls_log.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: leadsync [--config FILE] COMMAND [OPTIONS]\n"
    "\n"
    "Moves Microsoft commercial-marketplace leads from the Azure Table the marketplace\n"
    "writes (MarketplaceLeads) into your CRM, exactly once per change.\n"
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
    "Configuration comes from LEADSYNC_* environment variables (see README.md).\n"
    "Exit codes: 0 done, 64 usage, 65 bad data, 69 sink unavailable, 75 temporary\n"
    "failure (safe to rerun), 77 permission or authentication, 78 configuration.\n";

int ls_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return LS_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return LS_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("leadsync %s\n", LS_VERSION);
        return LS_EXIT_OK;
    }
    fprintf(stderr, "leadsync: unknown command '%s' (try --help)\n", argv[1]);
    return LS_EXIT_USAGE;
}
