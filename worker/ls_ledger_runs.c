/* ls_ledger_runs.c - the ledger's runs and statistics: one line per run,
 * the counts `status` shows. See ls_ledger.h. */
#include "ls_ledger_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The runs part's statements. */
const struct ls_ledger_sql ls_ledger_runs_sql[] = {
    /* Counts over the covering index outbox_lead, not the table: the
     * index's pages are fewer to read. */
    {ST_SINK_STATS, "SELECT o.sink,"
                    " sum(o.state = 'pending'), sum(o.state = 'delivered'),"
                    " sum(o.state = 'dead'), sum(o.state = 'superseded'),"
                    " (SELECT min(p.created_at) FROM outbox AS p INDEXED BY outbox_pending"
                    " WHERE p.sink = o.sink AND p.state = 'pending')"
                    " FROM outbox AS o INDEXED BY outbox_lead GROUP BY o.sink ORDER BY o.sink"},
    {ST_INLINE_STATS, "SELECT sink, inline_delivered FROM sink_counts ORDER BY sink"},
    {ST_ROW_COUNT, "SELECT (SELECT count(*) FROM rows), (SELECT count(*) FROM leads)"},
    /* A scan of rows (Timestamp has no index): once per long window. */
    {ST_ROWS_BETWEEN, "SELECT count(*) FROM rows WHERE timestamp >= :lower AND timestamp < :upper"},
    {ST_RUN_START, "INSERT INTO runs (mode, started_at) VALUES (:mode, :now)"},
    {ST_RUN_FINISH, "UPDATE runs SET finished_at = :now, exit_code = :exit_code,"
                    " summary = :summary WHERE id = :id"},
    {ST_LAST_RUN, "SELECT started_at, finished_at, exit_code, summary FROM runs"
                  " WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1"},
    {ST_COUNT, NULL},
};

/* Adds the inline sinks' counters to *s (cnt entries of cap), new entries
 * for sinks the outbox never saw. */
static int merge_inline_stats(struct ls_ledger *l, struct ls_sink_stats **s, size_t *cnt,
                              size_t *cap)
{
    sqlite3_stmt *st = ledger_st(l, ST_INLINE_STATS);
    struct ls_sink_stats *e;
    const unsigned char *name;
    size_t i;
    int rc;
    int err = 0;

    if (!st)
        return LS_EDB; /* the message is ledger_st's */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        name = sqlite3_column_text(st, 0);
        if (!name)
            continue;
        e = NULL;
        for (i = 0; i < *cnt; i++) {
            if (strcmp((*s)[i].sink, (const char *)name) == 0) {
                e = &(*s)[i];
                break;
            }
        }
        if (!e) {
            if (*cnt == *cap) {
                *cap = *cap ? *cap * 2 : 8;
                *s = ls_xrealloc(*s, *cap * sizeof(**s));
            }
            e = &(*s)[(*cnt)++];
            memset(e, 0, sizeof(*e));
            snprintf(e->sink, sizeof(e->sink), "%s", (const char *)name);
        }
        e->delivered += sqlite3_column_int64(st, 1);
    }
    if (rc != SQLITE_DONE)
        err = ledger_db_err(l, rc, "reading inline delivery counts");
    ledger_reset(st);
    return err;
}

int ls_ledger_sink_stats(struct ls_ledger *l, struct ls_sink_stats **out, size_t *n)
{
    sqlite3_stmt *st = ledger_st(l, ST_SINK_STATS);
    struct ls_sink_stats *s = NULL;
    struct ls_sink_stats *e;
    const unsigned char *name;
    size_t cnt = 0;
    size_t cap = 0;
    int rc;
    int err = 0;

    *out = NULL;
    *n = 0;
    if (!st)
        return LS_EDB; /* the message is ledger_st's */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            s = ls_xrealloc(s, cap * sizeof(*s));
        }
        e = &s[cnt++];
        memset(e, 0, sizeof(*e));
        name = sqlite3_column_text(st, 0);
        snprintf(e->sink, sizeof(e->sink), "%s", name ? (const char *)name : "");
        e->pending = sqlite3_column_int64(st, 1);
        e->delivered = sqlite3_column_int64(st, 2);
        e->dead = sqlite3_column_int64(st, 3);
        e->superseded = sqlite3_column_int64(st, 4);
        e->oldest_pending_at = sqlite3_column_int64(st, 5); /* NULL reads as 0 */
    }
    if (rc != SQLITE_DONE) {
        err = ledger_db_err(l, rc, "counting deliveries");
        goto done;
    }
    err = merge_inline_stats(l, &s, &cnt, &cap);
    ledger_reset(st);
    for (size_t i = 0; !err && i < cnt; i++) {
        struct ls_sink_pause p;
        int found = 0;

        err = ls_ledger_pause_get(l, s[i].sink, &p, &found);
        if (!err && found) {
            s[i].paused_until = p.until;
            snprintf(s[i].pause_reason, sizeof(s[i].pause_reason), "%s", p.reason);
        }
    }
    if (err)
        goto done;
    *out = s;
    *n = cnt;
    s = NULL;
done:
    ledger_reset(st);
    free(s);
    return err;
}

int ls_ledger_row_count(struct ls_ledger *l, int64_t *rows, int64_t *leads)
{
    sqlite3_stmt *st = ledger_st(l, ST_ROW_COUNT);
    int rc;
    int err = 0;

    *rows = 0;
    *leads = 0;
    err = ledger_leads_flush(l);
    if (err)
        return err;
    if (!st)
        return LS_EDB; /* the message is ledger_st's */
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *rows = sqlite3_column_int64(st, 0);
        *leads = sqlite3_column_int64(st, 1);
    } else {
        err = ledger_db_err(l, rc, "counting rows");
    }
    ledger_reset(st);
    return err;
}

int ls_ledger_rows_between(struct ls_ledger *l, const char *lower, const char *upper, int64_t *n)
{
    sqlite3_stmt *st = ledger_st(l, ST_ROWS_BETWEEN);
    const struct ledger_arg args[] = {
        ARG_TEXT(":lower", lower),
        ARG_TEXT(":upper", upper),
    };
    int found;
    int err;

    /* COUNT(*) always answers one row */
    err = ledger_row(l, st, args, LS_ARRAY_LEN(args), "counting the window's rows", &found);
    *n = !err && found ? sqlite3_column_int64(st, 0) : 0;
    ledger_reset(st);
    return err;
}

int ls_ledger_run_start(struct ls_ledger *l, const char *mode, int64_t now, int64_t *run_id)
{
    sqlite3_stmt *st = ledger_st(l, ST_RUN_START);
    int err;

    *run_id = 0;
    err = ledger_bind_text(l, st, ":mode", mode ? mode : "");
    if (!err)
        err = ledger_bind_i64(l, st, ":now", now);
    if (err) {
        ledger_reset(st);
        return err;
    }
    err = ledger_run(l, st, "recording a run");
    if (!err)
        *run_id = sqlite3_last_insert_rowid(l->db);
    return err;
}

int ls_ledger_run_finish(struct ls_ledger *l, int64_t run_id, int exit_code,
                         const char *summary_json, int64_t now)
{
    sqlite3_stmt *st = ledger_st(l, ST_RUN_FINISH);
    int err;

    err = ledger_bind_i64(l, st, ":id", run_id);
    if (!err)
        err = ledger_bind_i64(l, st, ":exit_code", exit_code);
    if (!err)
        err = ledger_bind_text(l, st, ":summary", summary_json);
    if (!err)
        err = ledger_bind_i64(l, st, ":now", now);
    if (err) {
        ledger_reset(st);
        return err;
    }
    err = ledger_run(l, st, "finishing a run");
    if (!err && sqlite3_changes(l->db) == 0)
        err = ls_error(LS_EINVAL, "ledger %s: no run with id %" PRId64, l->path, run_id);
    return err;
}

int ls_ledger_last_run(struct ls_ledger *l, int64_t *started_at, int64_t *finished_at,
                       int *exit_code, char **summary_json)
{
    sqlite3_stmt *st = ledger_st(l, ST_LAST_RUN);
    int rc;
    int err = 0;

    *started_at = 0;
    *finished_at = 0;
    *exit_code = 0;
    *summary_json = NULL;
    if (!st)
        return LS_EDB; /* the message is ledger_st's */
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *started_at = sqlite3_column_int64(st, 0);
        *finished_at = sqlite3_column_int64(st, 1);
        *exit_code = sqlite3_column_int(st, 2);
        *summary_json = ledger_col_strdup(st, 3);
    } else if (rc != SQLITE_DONE) {
        err = ledger_db_err(l, rc, "reading the last run");
    }
    ledger_reset(st);
    return err;
}
