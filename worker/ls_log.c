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

/* key=value words of a message become JSON fields (numbers as numbers);
 * the message itself stays whole. Reserved names are left alone. */
static void add_fields(json_t *o, const char *msg)
{
    const char *p = msg;

    while (*p) {
        const char *w = p, *eq = NULL, *end;
        char key[64];
        char val[512];
        size_t kl, vl;

        while (*p && *p != ' ')
            p++;
        end = p;
        while (*p == ' ')
            p++;
        for (eq = w; eq < end && ((*eq >= 'a' && *eq <= 'z') || *eq == '_' ||
                                  (eq > w && *eq >= '0' && *eq <= '9'));
             eq++)
            ;
        if (eq == w || eq >= end || *eq != '=' || eq + 1 == end)
            continue;
        kl = (size_t)(eq - w);
        vl = (size_t)(end - eq - 1);
        if (kl >= sizeof(key) || vl >= sizeof(val))
            continue;
        memcpy(key, w, kl);
        key[kl] = '\0';
        memcpy(val, eq + 1, vl);
        val[vl] = '\0';
        if (!strcmp(key, "ts") || !strcmp(key, "level") || !strcmp(key, "component") ||
            !strcmp(key, "msg"))
            continue;
        {
            char *num_end = NULL;
            long long n = strtoll(val, &num_end, 10);

            if (num_end && *num_end == '\0' && num_end != val && (val[0] != '0' || vl == 1))
                json_object_set_new(o, key, json_integer(n));
            else
                json_object_set_new(o, key, json_string(val));
        }
    }
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
        json_t *o = json_pack("{s:s,s:s,s:s}", "ts", ts, "level", level_names[level], "component",
                              component);
        json_t *m = json_string(msg); /* NULL when not UTF-8: keep the event */
        char *line = NULL;

        if (o) {
            json_object_set_new(o, "msg", m ? m : json_string("(message not UTF-8)"));
            add_fields(o, msg);
        } else {
            json_decref(m);
        }
        line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;

        if (line)
            fprintf(stderr, "%s\n", line);
        free(line);
        json_decref(o);
    } else {
        char *nl;

        /* one event per line */
        for (nl = msg; (nl = strpbrk(nl, "\r\n")) != NULL;)
            *nl = ' ';
        fprintf(stderr, "%s %-5s %s: %s\n", ts, level_names[level], component, msg);
    }
}

void ls_log_azt(void *ctx, int level, const char *msg)
{
    LS_LOG(level, ctx ? (const char *)ctx : "azure", "%s", msg);
}
