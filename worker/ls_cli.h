/*
 * ls_cli.h - the command line (worker/README.md, The contract):
 *   leadsync run [--once] [--since WHEN] [--dry-run]
 *   leadsync check | send-test-lead [--sink NAME] | status [--json]
 *   leadsync retry [--sink NAME] | purge --older-than DAYS
 *   leadsync COMMAND --help | --help | --version
 * Global: --config FILE. Returns the process exit code.
 */
#ifndef LS_CLI_H
#define LS_CLI_H

#include <stdint.h>

int ls_cli_main(int argc, char **argv);

/*
 * run --since WHEN as a UTC instant "YYYY-MM-DDThh:mm:ss.fffffffZ" (the
 * fraction kept): WHEN is a date (midnight UTC), a date-time with an offset
 * (Z, +01:00, -0530) or a duration back from now_s (90s, 30m, 24h, 7d, 2w).
 * A time after now_s is refused. Returns 0 or LS_EUSAGE with a message.
 */
int ls_cli_parse_since(const char *text, int64_t now_s, char out[40]);

#endif /* LS_CLI_H */
