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
    /* Freed memory at the top of the heap goes back to the system only past
     * 1 MiB (glibc's default is 128 KiB): SQLite's page buffers and a
     * delivery round's arrays free and take that much back again every
     * round, and each return cost a brk and, on reuse, a page fault per
     * 4 KiB - as much system time as the webhook path's own work. The peak
     * resident set is unchanged (it held that memory already). */
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024);
    ls_protect_process(getenv("LEADSYNC_LOG_LEVEL"));
    return ls_cli_main(argc, argv);
}
