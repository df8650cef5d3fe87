/* ls_ledger_outbox.c - the ledger's outbox: deliveries from enqueue to
 * delivered, retry or dead letter; the leads each sink has seen; inline
 * sinks' counters and API usage; lead bodies and their purge; sinks' pauses.
 * See ls_ledger.h. */
#include "ls_ledger_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The outbox part's statements. */
const struct ls_ledger_sql ls_ledger_outbox_sql[] = {
    /* A row version's body, once for all its sinks' deliveries (one that
     * was purged or erased and is queued again gets its text back). */
    {ST_BODY_PUT, "INSERT INTO bodies (delivery_id, lead_id, payload)"
                  " VALUES (:delivery_id, :lead_id, :payload)"
                  " ON CONFLICT (delivery_id) DO UPDATE SET payload = excluded.payload"
                  " WHERE bodies.payload IS NULL"},
    {ST_ENQUEUE, "INSERT OR IGNORE INTO outbox (sink, lead_id, delivery_id, state,"
                 " attempts, created_at, updated_at, next_attempt_at)"
                 " VALUES (:sink, :lead_id, :delivery_id, :state, 0, :now, :now, :now)"},
    {ST_COALESCE, "UPDATE outbox SET state = 'superseded', updated_at = :now"
                  " WHERE sink = :sink AND lead_id = :lead_id AND state = 'pending'"
                  " AND id < :id"},
    /* The oldest pending of each lead, only when it is due: a lead whose
     * oldest pending waits for a retry holds back its newer states. */
    {ST_PENDING, "SELECT o.id, o.sink, o.lead_id, o.delivery_id, b.payload, o.attempts,"
                 " o.created_at, o.next_attempt_at"
                 " FROM outbox AS o LEFT JOIN bodies AS b ON b.delivery_id = o.delivery_id"
                 " WHERE o.sink = :sink AND o.state = 'pending' AND o.next_attempt_at <= :now"
                 " AND NOT EXISTS (SELECT 1 FROM outbox AS p"
                 " WHERE p.sink = o.sink AND p.lead_id = o.lead_id AND p.state = 'pending'"
                 " AND p.id < o.id)"
                 " ORDER BY o.next_attempt_at, o.id LIMIT :limit"},
    /* No RETURNING: SQLite gathers its rows in a temporary table, which
     * costs more than the update itself. */
    {ST_MARK_DELIVERED, "UPDATE outbox SET state = 'delivered', attempts = attempts + 1,"
                        " last_status = :status, last_error = NULL, updated_at = :now"
                        " WHERE id = :id"},
    {ST_SINK_LEAD_PUT, "INSERT INTO sink_leads (sink, lead_id, first_delivered_at,"
                       " last_delivery_id) SELECT sink, lead_id, :now, delivery_id"
                       " FROM outbox WHERE id = :id"
                       " ON CONFLICT (sink, lead_id) DO UPDATE SET"
                       " last_delivery_id = excluded.last_delivery_id"},
    {ST_SINK_LEAD_GET, "SELECT 1 FROM sink_leads WHERE sink = :sink AND lead_id = :lead_id"},
    {ST_NEXT_DUE, "SELECT o.next_attempt_at FROM outbox AS o"
                  " WHERE o.sink = :sink AND o.state = 'pending'"
                  " AND NOT EXISTS (SELECT 1 FROM outbox AS p"
                  " WHERE p.sink = o.sink AND p.lead_id = o.lead_id AND p.state = 'pending'"
                  " AND p.id < o.id)"
                  " ORDER BY o.next_attempt_at, o.id LIMIT 1"},
    /* Only the partial index of pending deliveries: without INDEXED BY the
     * planner walks every delivery of the sink in outbox_lead. */
    {ST_PENDING_COUNT, "SELECT count(*) FROM outbox INDEXED BY outbox_pending"
                       " WHERE sink = :sink AND state = 'pending'"},
    {ST_MARK_RETRY, "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = :next,"
                    " last_status = :status, last_error = :error, updated_at = :now"
                    " WHERE id = :id"},
    /* Only a pending delivery becomes a dead letter; a superseded one stays
     * superseded (a newer state of the lead is queued). */
    {ST_MARK_DEAD, "UPDATE outbox SET"
                   " state = CASE state WHEN 'pending' THEN 'dead' ELSE state END,"
                   " attempts = attempts + 1, last_status = :status, last_error = :error,"
                   " updated_at = :now WHERE id = :id"},
    /* A dead letter older than a delivered state of the same lead would
     * overwrite the newer state: it is superseded instead of re-queued. */
    {ST_DEAD_SUPERSEDE, "UPDATE outbox SET state = 'superseded', updated_at = :now"
                        " WHERE state = 'dead' AND (:sink IS NULL OR sink = :sink)"
                        " AND EXISTS (SELECT 1 FROM outbox AS n"
                        " WHERE n.sink = outbox.sink AND n.lead_id = outbox.lead_id"
                        " AND n.state = 'delivered' AND n.id > outbox.id)"},
    {ST_DEAD_REQUEUE, "UPDATE outbox SET state = 'pending', attempts = 0,"
                      " next_attempt_at = :now, updated_at = :now"
                      " WHERE state = 'dead' AND (:sink IS NULL OR sink = :sink)"},
    /* retry also makes what waits due now: a backoff, or a due time set
     * under a clock that ran ahead, ends when the operator asks. */
    {ST_PENDING_DUE_NOW, "UPDATE outbox SET next_attempt_at = :now"
                         " WHERE state = 'pending' AND next_attempt_at > :now"
                         " AND (:sink IS NULL OR sink = :sink)"},
    {ST_DEAD_LETTERS, "SELECT id, sink, lead_id, delivery_id, attempts, last_status,"
                      " last_error, updated_at FROM outbox"
                      " WHERE state = 'dead' AND (:sink IS NULL OR sink = :sink)"
                      " ORDER BY id LIMIT :limit"},
    /* A body goes once no delivery of it still needs it: none pending or
     * dead, none updated since :before. */
    {ST_PURGE, "UPDATE bodies SET payload = NULL"
               " WHERE payload IS NOT NULL AND delivery_id NOT IN"
               " (SELECT delivery_id FROM outbox"
               " WHERE state IN ('pending', 'dead') OR updated_at >= :before)"},
    /* Inline sinks' delivered counts (they keep no outbox rows). */
    {ST_INLINE_ADD, "INSERT INTO sink_counts (sink, inline_delivered) VALUES (:sink, :n)"
                    " ON CONFLICT (sink) DO UPDATE SET"
                    " inline_delivered = inline_delivered + excluded.inline_delivered"},
    {ST_USAGE_PUT, "INSERT INTO sink_usage (sink, used, quota, reported_at)"
                   " VALUES (:sink, :used, :quota, :at)"
                   " ON CONFLICT (sink) DO UPDATE SET used = excluded.used,"
                   " quota = excluded.quota, reported_at = excluded.reported_at"},
    {ST_USAGE_GET, "SELECT used, quota, reported_at FROM sink_usage WHERE sink = :sink"},
    /* A pause again before a delivery ended the last one extends the streak. */
    {ST_PAUSE_SET, "INSERT INTO sink_pause (sink, until, reason, streak, since, updated_at)"
                   " VALUES (:sink, :until, :error, 1, :now, :now)" /* :error = the reason */
                   " ON CONFLICT (sink) DO UPDATE SET until = excluded.until,"
                   " reason = excluded.reason, streak = streak + 1,"
                   " updated_at = excluded.updated_at"},
    {ST_PAUSE_GET, "SELECT until, reason, streak, since FROM sink_pause WHERE sink = :sink"},
    {ST_PAUSE_CLEAR, "DELETE FROM sink_pause WHERE sink = :sink"},
    {ST_COUNT, NULL},
};

/* LIMIT value for a caller's limit: 0 means no limit. */
static int64_t sql_limit(size_t limit)
{
    return limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit;
}

int ls_ledger_enqueue(struct ls_ledger *l, const char *sink, const char *lead_id,
                      const char *delivery_id, const char *payload, int mode, int64_t now)
{
    const struct ledger_arg body[] = {
        ARG_STATIC(":delivery_id", delivery_id),
        ARG_STATIC(":lead_id", lead_id),
        ARG_STATIC(":payload", payload),
    };
    const struct ledger_arg row[] = {
        ARG_STATIC(":sink", sink),
        ARG_STATIC(":lead_id", lead_id),
        ARG_STATIC(":delivery_id", delivery_id),
        ARG_STATIC(":state", mode == LS_ENQUEUE_LATE ? "superseded" : "pending"),
        ARG_I64(":now", now),
    };
    int err;

    if (!sink || !lead_id || !delivery_id || !payload)
        return ls_error(LS_EINVAL, "ledger: enqueue needs a sink, lead, delivery id and payload");
    err = ledger_op_begin(l);
    if (err)
        return err;
    /* the row version's body, or the one another sink's delivery stored */
    err =
        ledger_exec(l, ledger_st(l, ST_BODY_PUT), body, LS_ARRAY_LEN(body), "storing a lead body");
    if (!err)
        err = ledger_exec(l, ledger_st(l, ST_ENQUEUE), row, LS_ARRAY_LEN(row),
                          "enqueueing a delivery");
    /* changes() == 0: this (sink, delivery_id) is already known, in any state. */
    if (!err && mode == LS_ENQUEUE_COALESCE && sqlite3_changes(l->db) != 0) {
        const struct ledger_arg older[] = {
            ARG_STATIC(":sink", sink),
            ARG_STATIC(":lead_id", lead_id),
            ARG_I64(":id", sqlite3_last_insert_rowid(l->db)),
            ARG_I64(":now", now),
        };

        err = ledger_exec(l, ledger_st(l, ST_COALESCE), older, LS_ARRAY_LEN(older),
                          "coalescing deliveries");
    }
    return ledger_op_end(l, err);
}

void ls_deliveries_free(struct ls_delivery *d, size_t n)
{
    if (!d)
        return;
    for (size_t i = 0; i < n; i++) {
        free(d[i].sink);
        free(d[i].lead_id);
        free(d[i].delivery_id);
        free(d[i].payload);
    }
    free(d);
}

/*
 * The one row collector: binds args to st, steps it and reads each row with
 * read_row into a growing array of elem-sized entries; resets st. On failure
 * frees what it read with free_rows and returns the error, saying what it
 * was doing (*out NULL, *n 0).
 */
static int collect_rows(struct ls_ledger *l, sqlite3_stmt *st, const struct ledger_arg *args,
                        size_t nargs, size_t elem, void (*read_row)(sqlite3_stmt *st, void *row),
                        void (*free_rows)(void *rows, size_t n), const char *what, void **out,
                        size_t *n)
{
    char *rows = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    int err;

    *out = NULL;
    *n = 0;
    err = ledger_bind(l, st, args, nargs);
    if (err)
        return err;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            rows = ls_xrealloc(rows, cap * elem);
        }
        memset(rows + cnt * elem, 0, elem);
        read_row(st, rows + cnt * elem);
        cnt++;
    }
    if (rc != SQLITE_DONE) {
        free_rows(rows, cnt);
        err = ledger_db_err(l, rc, what);
    } else {
        *out = rows;
        *n = cnt;
    }
    ledger_reset(st);
    return err;
}

static void read_delivery(sqlite3_stmt *st, void *row)
{
    struct ls_delivery *e = row;

    e->id = sqlite3_column_int64(st, 0);
    e->sink = ledger_col_strdup(st, 1);
    e->lead_id = ledger_col_strdup(st, 2);
    e->delivery_id = ledger_col_strdup(st, 3);
    e->payload = ledger_col_strdup(st, 4);
    e->attempts = sqlite3_column_int(st, 5);
    e->created_at = sqlite3_column_int64(st, 6);
    e->next_attempt_at = sqlite3_column_int64(st, 7);
}

static void free_deliveries(void *rows, size_t n)
{
    ls_deliveries_free(rows, n);
}

int ls_ledger_pending(struct ls_ledger *l, const char *sink, int64_t now, size_t limit,
                      struct ls_delivery **out, size_t *n)
{
    const struct ledger_arg args[] = {
        ARG_TEXT(":sink", sink),
        ARG_I64(":now", now),
        ARG_I64(":limit", sql_limit(limit)),
    };
    void *rows = NULL;
    int err;

    err = collect_rows(l, ledger_st(l, ST_PENDING), args, LS_ARRAY_LEN(args), sizeof(**out),
                       read_delivery, free_deliveries, "listing pending deliveries", &rows, n);

    *out = rows;
    return err;
}

static int no_delivery(struct ls_ledger *l, int64_t id)
{
    return ls_error(LS_EINVAL, "ledger %s: no delivery with id %" PRId64, l->path, id);
}

int ls_ledger_mark_delivered(struct ls_ledger *l, int64_t id, int status, int64_t now)
{
    const struct ledger_arg mark[] = {
        ARG_I64(":id", id),
        ARG_I64(":status", status),
        ARG_I64(":now", now),
    };
    const struct ledger_arg seen[] = {
        ARG_I64(":id", id),
        ARG_I64(":now", now),
    };
    int err;

    err = ledger_op_begin(l);
    if (err)
        return err;
    err = ledger_exec(l, ledger_st(l, ST_MARK_DELIVERED), mark, LS_ARRAY_LEN(mark),
                      "marking a delivery delivered");
    if (!err && sqlite3_changes(l->db) == 0)
        err = no_delivery(l, id);
    if (!err)
        err = ledger_exec(l, ledger_st(l, ST_SINK_LEAD_PUT), seen, LS_ARRAY_LEN(seen),
                          "recording a delivered lead");
    return ledger_op_end(l, err);
}

static int mark_failed(struct ls_ledger *l, enum ls_ledger_stmt which, int64_t id,
                       const int64_t *next, int status, const char *error, int64_t now,
                       const char *what)
{
    const struct ledger_arg args[] = {
        ARG_I64(":id", id),   ARG_I64(":status", status),         ARG_ERROR(error),
        ARG_I64(":now", now), ARG_I64(":next", next ? *next : 0), /* last: only ST_MARK_RETRY has it
                                                                   */
    };
    int err;

    err = ledger_exec(l, ledger_st(l, which), args, LS_ARRAY_LEN(args) - (next ? 0 : 1), what);
    if (!err && sqlite3_changes(l->db) == 0)
        err = no_delivery(l, id);
    return err;
}

int ls_ledger_mark_retry(struct ls_ledger *l, int64_t id, int64_t next_attempt_at, int status,
                         const char *error, int64_t now)
{
    return mark_failed(l, ST_MARK_RETRY, id, &next_attempt_at, status, error, now,
                       "scheduling a retry");
}

int ls_ledger_mark_dead(struct ls_ledger *l, int64_t id, int status, const char *error, int64_t now)
{
    return mark_failed(l, ST_MARK_DEAD, id, NULL, status, error, now, "parking a dead letter");
}

int ls_ledger_sink_lead_delivered(struct ls_ledger *l, const char *sink, const char *lead_id,
                                  int *delivered)
{
    sqlite3_stmt *st = ledger_st(l, ST_SINK_LEAD_GET);
    const struct ledger_arg args[] = {ARG_TEXT(":sink", sink), ARG_TEXT(":lead_id", lead_id)};
    int err;

    err = ledger_row(l, st, args, LS_ARRAY_LEN(args), "reading delivered leads", delivered);
    ledger_reset(st);
    return err;
}

int ls_ledger_pending_count(struct ls_ledger *l, const char *sink, int64_t *n)
{
    sqlite3_stmt *st = ledger_st(l, ST_PENDING_COUNT);
    const struct ledger_arg args[] = {ARG_TEXT(":sink", sink)};
    int found;
    int err;

    err = ledger_row(l, st, args, LS_ARRAY_LEN(args), "counting pending deliveries", &found);
    *n = !err && found ? sqlite3_column_int64(st, 0) : 0;
    ledger_reset(st);
    return err;
}

int ls_ledger_next_due(struct ls_ledger *l, const char *sink, int64_t *at, int *found)
{
    sqlite3_stmt *st = ledger_st(l, ST_NEXT_DUE);
    const struct ledger_arg args[] = {ARG_TEXT(":sink", sink)};
    int err;

    err = ledger_row(l, st, args, LS_ARRAY_LEN(args), "finding the next due delivery", found);
    *at = !err && *found ? sqlite3_column_int64(st, 0) : 0;
    ledger_reset(st);
    return err;
}

int ls_ledger_retry_dead(struct ls_ledger *l, const char *sink, int64_t now, size_t *n)
{
    const struct ledger_arg args[] = {ARG_TEXT(":sink", sink), ARG_I64(":now", now)};
    int err;

    *n = 0;
    err = ledger_op_begin(l);
    if (err)
        return err;
    err = ledger_exec(l, ledger_st(l, ST_DEAD_SUPERSEDE), args, LS_ARRAY_LEN(args),
                      "superseding stale dead letters");
    if (!err)
        err = ledger_exec(l, ledger_st(l, ST_DEAD_REQUEUE), args, LS_ARRAY_LEN(args),
                          "re-queueing dead letters");
    if (!err) {
        *n = (size_t)sqlite3_changes(l->db);
        err = ledger_exec(l, ledger_st(l, ST_PENDING_DUE_NOW), args, LS_ARRAY_LEN(args),
                          "making waiting deliveries due");
    }
    err = ledger_op_end(l, err);
    if (err)
        *n = 0;
    return err;
}

int ls_ledger_inline_delivered(struct ls_ledger *l, const char *sink, int64_t n)
{
    const struct ledger_arg args[] = {ARG_TEXT(":sink", sink), ARG_I64(":n", n)};

    if (n == 0)
        return LS_OK;
    return ledger_exec(l, ledger_st(l, ST_INLINE_ADD), args, LS_ARRAY_LEN(args),
                       "counting inline deliveries");
}

int ls_ledger_usage_put(struct ls_ledger *l, const char *sink, const struct ls_api_usage *u)
{
    const struct ledger_arg args[] = {
        ARG_TEXT(":sink", sink),
        ARG_I64(":used", u->used),
        ARG_I64(":quota", u->limit),
        ARG_I64(":at", u->at_s),
    };

    return ledger_exec(l, ledger_st(l, ST_USAGE_PUT), args, LS_ARRAY_LEN(args),
                       "recording a sink's API usage");
}

int ls_ledger_usage_get(struct ls_ledger *l, const char *sink, struct ls_api_usage *u, int *found)
{
    sqlite3_stmt *st = ledger_st(l, ST_USAGE_GET);
    const struct ledger_arg args[] = {ARG_TEXT(":sink", sink)};
    int err;

    memset(u, 0, sizeof(*u));
    err = ledger_row(l, st, args, LS_ARRAY_LEN(args), "reading a sink's API usage", found);
    if (!err && *found) {
        u->used = sqlite3_column_int64(st, 0);
        u->limit = sqlite3_column_int64(st, 1);
        u->at_s = sqlite3_column_int64(st, 2);
    }
    ledger_reset(st);
    return err;
}

void ls_dead_letters_free(struct ls_dead_letter *d, size_t n)
{
    if (!d)
        return;
    for (size_t i = 0; i < n; i++) {
        free(d[i].sink);
        free(d[i].lead_id);
        free(d[i].delivery_id);
        free(d[i].last_error);
    }
    free(d);
}

static void read_dead_letter(sqlite3_stmt *st, void *row)
{
    struct ls_dead_letter *e = row;

    e->id = sqlite3_column_int64(st, 0);
    e->sink = ledger_col_strdup(st, 1);
    e->lead_id = ledger_col_strdup(st, 2);
    e->delivery_id = ledger_col_strdup(st, 3);
    e->attempts = sqlite3_column_int(st, 4);
    e->last_status = sqlite3_column_int(st, 5);
    e->last_error = ledger_col_strdup(st, 6);
    e->updated_at = sqlite3_column_int64(st, 7);
}

static void free_dead_letters(void *rows, size_t n)
{
    ls_dead_letters_free(rows, n);
}

int ls_ledger_dead_letters(struct ls_ledger *l, const char *sink, size_t limit,
                           struct ls_dead_letter **out, size_t *n)
{
    const struct ledger_arg args[] = {
        ARG_TEXT(":sink", sink),
        ARG_I64(":limit", sql_limit(limit)),
    };
    void *rows = NULL;
    int err;

    err = collect_rows(l, ledger_st(l, ST_DEAD_LETTERS), args, LS_ARRAY_LEN(args), sizeof(**out),
                       read_dead_letter, free_dead_letters, "listing dead letters", &rows, n);

    *out = rows;
    return err;
}

int ls_ledger_purge(struct ls_ledger *l, int64_t before, size_t *n)
{
    const struct ledger_arg args[] = {ARG_I64(":before", before)};
    int err;

    *n = 0;
    err = ledger_exec(l, ledger_st(l, ST_PURGE), args, LS_ARRAY_LEN(args), "purging lead bodies");
    if (!err)
        *n = (size_t)sqlite3_changes(l->db);
    return err;
}

/* ------------------------------------------------------------------------ */
/* Sinks' pauses                                                             */

int ls_ledger_pause_set(struct ls_ledger *l, const char *sink, int64_t until, const char *reason,
                        int64_t now)
{
    const struct ledger_arg args[] = {
        ARG_TEXT(":sink", sink),
        ARG_I64(":until", until),
        ARG_ERROR(reason),
        ARG_I64(":now", now),
    };

    if (!sink || !reason)
        return ls_error(LS_EINVAL, "ledger: a pause needs a sink and a reason");
    return ledger_exec(l, ledger_st(l, ST_PAUSE_SET), args, LS_ARRAY_LEN(args), "pausing a sink");
}

int ls_ledger_pause_get(struct ls_ledger *l, const char *sink, struct ls_sink_pause *out,
                        int *found)
{
    sqlite3_stmt *st = ledger_st(l, ST_PAUSE_GET);
    const struct ledger_arg args[] = {ARG_TEXT(":sink", sink)};
    const unsigned char *why;
    int err;

    memset(out, 0, sizeof(*out));
    err = ledger_row(l, st, args, LS_ARRAY_LEN(args), "reading a sink's pause", found);
    if (!err && *found) {
        out->until = sqlite3_column_int64(st, 0);
        why = sqlite3_column_text(st, 1);
        snprintf(out->reason, sizeof(out->reason), "%s", why ? (const char *)why : "");
        out->streak = sqlite3_column_int(st, 2);
        out->since = sqlite3_column_int64(st, 3);
    }
    ledger_reset(st);
    return err;
}

int ls_ledger_pause_clear(struct ls_ledger *l, const char *sink)
{
    const struct ledger_arg args[] = {ARG_TEXT(":sink", sink)};

    return ledger_exec(l, ledger_st(l, ST_PAUSE_CLEAR), args, LS_ARRAY_LEN(args),
                       "ending a sink's pause");
}
