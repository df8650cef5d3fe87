/*
 * main.c - the command line: parses argv, sets up logging and signals, runs
 * one command and maps its result to the contract's exit codes. Nothing else.
 */
#include "ls_cli.h"
#include "ls_common.h"

#include <malloc.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    /* Buffers of 128 KiB and more (response bodies, page arenas) get their
     * own mappings and go back to the system when freed. glibc otherwise
     * raises this threshold to the largest block freed so far, after which
     * each page's buffers are carved from the heap and leave it fragmented:
     * about 0.5 MiB more peak memory for nothing. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    ls_protect_process(getenv("LEADSYNC_LOG_LEVEL"));
    return ls_cli_main(argc, argv);
}
