/* ls_log.c - the stderr logger. */
#include "ls_log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

static int log_level = LS_LOG_INFO;
static int log_json;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void ls_log_setup(int level, int json)
{
    log_level = level;
    log_json = json;
}

int ls_log_level_parse(const char *s)
{
    size_t i;

    for (i = 0; i < LS_ARRAY_LEN(level_names); i++)
        if (strcmp(s, level_names[i]) == 0)
            return (int)i;
    if (strcmp(s, "warning") == 0)
        return LS_LOG_WARN;
    return -1;
}

int ls_log_enabled(int level)
{
    return level <= log_level;
}

void ls_log_write(int level, const char *component, const char *fmt, ...)
{
    char msg[2048];
    char ts[32];
    struct tm tm;
    time_t now = time(NULL);
    va_list ap;

    if (level < 0 || level > LS_LOG_DEBUG)
        level = LS_LOG_ERROR;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (log_json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "ts", ts, "level", level_names[level],
                              "component", component, "msg", msg);
        char *line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

        if (line)
            fprintf(stderr, "%s\n", line);
        free(line);
        json_decref(o);
    } else {
        fprintf(stderr, "%s %-5s %s: %s\n", ts, level_names[level], component, msg);
    }
}

void ls_log_azt(void *ctx, int level, const char *msg)
{
    LS_LOG(level, ctx ? (const char *)ctx : "azure", "%s", msg);
}
