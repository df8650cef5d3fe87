/* tool_cli.c - see tool_cli.h. */
#include "tool_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *name_ = "leadsync-tool";

void tool_init(const char *name)
{
    name_ = name;
}

const char *tool_name(void)
{
    return name_;
}

int tool_exit_for(int azt_rc)
{
    switch (azt_rc) {
    case AZT_ECONFIG:
        return EXIT_CONFIG;
    case AZT_ENET:
    case AZT_ETHROTTLED:
        return EXIT_UNAVAILABLE;
    case AZT_EAUTH:
        return EXIT_NOPERM;
    default:
        return EXIT_FAIL;
    }
}

void tool_report(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", name_, what, azt_error_last());
}

static void log_cb(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level <= 1)
        fprintf(stderr, "%s: azure: %s\n", name_, msg);
}

int tool_option(int argc, char **argv, int *i, const char *const *known, size_t nknown, char *name,
                size_t name_cap, const char **val)
{
    const char *arg = argv[*i];
    const char *eq = strchr(arg, '=');
    size_t k;

    snprintf(name, name_cap, "%.*s", (int)(eq ? (size_t)(eq - arg) : strlen(arg)), arg);
    for (k = 0; k < nknown; k++)
        if (strcmp(name, known[k]) == 0)
            break;
    if (k == nknown) {
        fprintf(stderr, "%s: unknown option '%s' (see --help)\n", name_, name);
        return -1;
    }
    if (eq) {
        *val = eq + 1;
    } else if (*i + 1 < argc) {
        *val = argv[++*i];
    } else {
        fprintf(stderr, "%s: %s needs a value\n", name_, name);
        return -1;
    }
    return 0;
}

int tool_parse_long(const char *name, const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: %s must be an integer in %ld..%ld (got '%s')\n", name_, name, lo, hi,
                s);
        return -1;
    }
    *out = v;
    return 0;
}

int tool_open_client(const char *conn_string, struct azt_client **out)
{
    struct azt_client_opts copts;
    struct azt_conn *conn = NULL;
    int rc;

    *out = NULL;
    memset(&copts, 0, sizeof(copts));
    copts.log = log_cb;
    copts.user_agent = name_;
    rc = azt_conn_parse(conn_string, strlen(conn_string), &conn);
    if (rc != AZT_OK) {
        tool_report("connection string");
        goto done;
    }
    rc = azt_client_create(conn, &copts, out);
    if (rc != AZT_OK)
        tool_report("client");
done:
    azt_conn_free(conn);
    return rc;
}
