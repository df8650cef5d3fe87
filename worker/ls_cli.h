/*
 * ls_cli.h - the command line (worker/README.md, The contract):
 *   leadsync run [--once] [--since ISO8601] [--dry-run]
 *   leadsync check | send-test-lead [--sink NAME] | status [--json]
 *   leadsync retry [--sink NAME] | purge --older-than DAYS | --help | --version
 * Global: --config FILE. Returns the process exit code.
 */
#ifndef LS_CLI_H
#define LS_CLI_H

int ls_cli_main(int argc, char **argv);

#endif /* LS_CLI_H */
