/* ls_log.c - the stderr logger. */
#include "ls_log.h"
#include "ls_redact.h"

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

void ls_log_blank_controls(char *s)
{
    unsigned char *p = (unsigned char *)s;

    for (; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            *p = ' ';
        else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) /* C1 controls (CSI is one) */
            p[0] = p[1] = ' ';
    }
}

static void write_event(int level, const char *component, char *msg,
                        const struct ls_log_field *fields, size_t nfields)
{
    char ts[32];
    struct tm tm;
    time_t now = time(NULL);
    size_t i;

    if (level < 0 || level > LS_LOG_DEBUG)
        level = LS_LOG_ERROR;
    /* one event per line, and no terminal escapes from whatever the message quotes */
    ls_log_blank_controls(msg);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (log_json) {
        json_t *o = json_pack("{s:s,s:s,s:s}", "ts", ts, "level", level_names[level], "component",
                              component);
        json_t *m = json_string(msg); /* NULL when not UTF-8: keep the event */
        char *line = NULL;

        if (o) {
            /* fields first: the four reserved names always win */
            for (i = 0; i < nfields; i++)
                json_object_set_new(o, fields[i].key,
                                    fields[i].str ? json_string(fields[i].str)
                                                  : json_integer((json_int_t)fields[i].num));
            json_object_set_new(o, "ts", json_string(ts));
            json_object_set_new(o, "level", json_string(level_names[level]));
            json_object_set_new(o, "component", json_string(component));
            json_object_set_new(o, "msg", m ? m : json_string("(message not UTF-8)"));
        } else {
            json_decref(m);
        }
        line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (line)
            fprintf(stderr, "%s\n", line);
        free(line);
        json_decref(o);
    } else {
        fprintf(stderr, "%s %-5s %s: %s\n", ts, level_names[level], component, msg);
    }
}

void ls_log_write(int level, const char *component, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    write_event(level, component, msg, NULL, 0);
}

void ls_log_fields(int level, const char *component, const struct ls_log_field *fields,
                   size_t nfields, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    write_event(level, component, msg, fields, nfields);
}

void ls_log_azt(void *ctx, int level, const char *msg)
{
    char kept[1024];

    /* The table client's warnings quote the service's answers. */
    ls_redact(kept, sizeof(kept), msg, strlen(msg));
    LS_LOG(level, ctx ? (const char *)ctx : "azure", "%s", kept);
}
