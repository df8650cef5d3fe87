/*
 * main.c - the command line: parses argv, sets up logging and signals, runs
 * one command and maps its result to the contract's exit codes. Nothing else.
 */
#include "ls_cli.h"

int main(int argc, char **argv)
{
    return ls_cli_main(argc, argv);
}
