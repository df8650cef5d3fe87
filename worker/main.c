/*
 * main.c - the command line: parses argv, sets up logging and signals, runs
 * one command and maps its result to the contract's exit codes. Nothing else.
 */
#include "ls_cli.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
    /* Buffers of 128 KiB and more (response bodies, page arenas) get their
     * own mappings and go back to the system when freed. glibc otherwise
     * raises this threshold to the largest block freed so far, after which
     * each page's buffers are carved from the heap and leave it fragmented:
     * about 0.5 MiB more peak memory for nothing. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    /* No core dumps (they would hold the connection string, tokens and
     * leads) and no ptrace by other users, unless debugging is asked for. */
    {
        const char *lvl = getenv("LEADSYNC_LOG_LEVEL");

        if (!lvl || strcmp(lvl, "debug") != 0)
            (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    return ls_cli_main(argc, argv);
}
