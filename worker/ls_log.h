/*
 * ls_log.h - one event per line on stderr, text or JSON lines.
 *
 * Text:  2026-11-24T02:03:04Z info  sync: window done rows=120 new=3
 * JSON:  {"ts":"2026-11-24T02:03:04Z","level":"info","component":"sync","msg":"window done rows=120
 * new=3"}
 *
 * Never log personal data (names, emails, phones, descriptions) or secrets:
 * rows are named by their PartitionKey/RowKey only.
 */
#ifndef LS_LOG_H
#define LS_LOG_H

#include "ls_common.h"

enum ls_log_level { LS_LOG_ERROR = 0, LS_LOG_WARN, LS_LOG_INFO, LS_LOG_DEBUG };

/* level: one of the above; json: 0 text, 1 JSON lines. */
void ls_log_setup(int level, int json);
/* Parses "error".."debug"; returns the level or -1. */
int ls_log_level_parse(const char *s);
int ls_log_enabled(int level);
void ls_log_write(int level, const char *component, const char *fmt, ...) LS_PRINTF(3, 4);
/* One structured field of an event: JSON lines carry it as a member (a
 * number when str is NULL); the text format shows the message only. JSON
 * fields come only from here, never from the message text. */
struct ls_log_field {
    const char *key;
    const char *str;
    long long num;
};
void ls_log_fields(int level, const char *component, const struct ls_log_field *fields,
                   size_t nfields, const char *fmt, ...) LS_PRINTF(5, 6);
/* Blanks control characters (C0, DEL, C1) in place: text from the network
 * cannot move the cursor, clear the screen or start a new line. */
void ls_log_blank_controls(char *s);
/* An azt_log_fn adapter; ctx is the component name (const char *). */
void ls_log_azt(void *ctx, int level, const char *msg);

#define LS_LOG(level, comp, ...)                                                                   \
    do {                                                                                           \
        if (ls_log_enabled(level))                                                                 \
            ls_log_write(level, comp, __VA_ARGS__);                                                \
    } while (0)
#define LS_ERR(comp, ...)   LS_LOG(LS_LOG_ERROR, comp, __VA_ARGS__)
#define LS_WARN(comp, ...)  LS_LOG(LS_LOG_WARN, comp, __VA_ARGS__)
#define LS_INFO(comp, ...)  LS_LOG(LS_LOG_INFO, comp, __VA_ARGS__)
#define LS_DEBUG(comp, ...) LS_LOG(LS_LOG_DEBUG, comp, __VA_ARGS__)

#endif /* LS_LOG_H */
