/* ls_ledger_outbox.c - the ledger's outbox: deliveries from enqueue to
 * delivered, retry or dead letter; the leads each sink has seen; inline
 * sinks' counters and API usage; purging delivered payloads; sinks' pauses.
 * See ls_ledger.h. */
#include "ls_ledger_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The outbox part's statements. */
const struct ls_ledger_sql ls_ledger_outbox_sql[] = {
    {ST_ENQUEUE, "INSERT OR IGNORE INTO outbox (sink, lead_id, delivery_id, payload, state,"
                 " attempts, created_at, updated_at, next_attempt_at)"
                 " VALUES (:sink, :lead_id, :delivery_id, :payload, :state, 0, :now, :now,"
                 " :now)"},
    {ST_COALESCE, "UPDATE outbox SET state = 'superseded', updated_at = :now"
                  " WHERE sink = :sink AND lead_id = :lead_id AND state = 'pending'"
                  " AND id < :id"},
    /* The oldest pending of each lead, only when it is due: a lead whose
     * oldest pending waits for a retry holds back its newer states. */
    {ST_PENDING, "SELECT o.id, o.sink, o.lead_id, o.delivery_id, o.payload, o.attempts,"
                 " o.created_at, o.next_attempt_at"
                 " FROM outbox AS o"
                 " WHERE o.sink = :sink AND o.state = 'pending' AND o.next_attempt_at <= :now"
                 " AND NOT EXISTS (SELECT 1 FROM outbox AS p"
                 " WHERE p.sink = o.sink AND p.lead_id = o.lead_id AND p.state = 'pending'"
                 " AND p.id < o.id)"
                 " ORDER BY o.next_attempt_at, o.id LIMIT :limit"},
    {ST_MARK_DELIVERED, "UPDATE outbox SET state = 'delivered', attempts = attempts + 1,"
                        " last_status = :status, last_error = NULL, updated_at = :now"
                        " WHERE id = :id RETURNING sink, lead_id, delivery_id"},
    {ST_SINK_LEAD_PUT, "INSERT INTO sink_leads (sink, lead_id, first_delivered_at,"
                       " last_delivery_id) VALUES (:sink, :lead_id, :now, :delivery_id)"
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
    {ST_PURGE, "UPDATE outbox SET payload = NULL"
               " WHERE state IN ('delivered', 'superseded') AND updated_at < :before"
               " AND payload IS NOT NULL"},
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
    sqlite3_stmt *st = l->st[ST_ENQUEUE];
    sqlite3_stmt *co = l->st[ST_COALESCE];
    int64_t id;
    int err;

    if (!sink || !lead_id || !delivery_id || !payload)
        return ls_error(LS_EINVAL, "ledger: enqueue needs a sink, lead, delivery id and payload");
    err = ledger_op_begin(l);
    if (err)
        return err;
    err = ledger_bind_text(l, st, ":sink", sink);
    if (!err)
        err = ledger_bind_text(l, st, ":lead_id", lead_id);
    if (!err)
        err = ledger_bind_text(l, st, ":delivery_id", delivery_id);
    if (!err)
        err = ledger_bind_text(l, st, ":payload", payload);
    if (!err)
        err = ledger_bind_text(l, st, ":state", mode == LS_ENQUEUE_LATE ? "superseded" : "pending");
    if (!err)
        err = ledger_bind_i64(l, st, ":now", now);
    if (err) {
        ledger_reset(st);
        goto done;
    }
    err = ledger_run(l, st, "enqueueing a delivery");
    /* changes() == 0: this (sink, delivery_id) is already known, in any state. */
    if (err || mode != LS_ENQUEUE_COALESCE || sqlite3_changes(l->db) == 0)
        goto done;
    id = sqlite3_last_insert_rowid(l->db);
    err = ledger_bind_text(l, co, ":sink", sink);
    if (!err)
        err = ledger_bind_text(l, co, ":lead_id", lead_id);
    if (!err)
        err = ledger_bind_i64(l, co, ":id", id);
    if (!err)
        err = ledger_bind_i64(l, co, ":now", now);
    if (err) {
        ledger_reset(co);
        goto done;
    }
    err = ledger_run(l, co, "coalescing deliveries");
done:
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
 * The one row collector: steps st (bound by the caller, reset by the caller)
 * and reads each row with read_row into a growing array of elem-sized
 * entries. On failure frees what it read with free_rows and returns the
 * error, saying what it was doing.
 */
static int collect_rows(struct ls_ledger *l, sqlite3_stmt *st, size_t elem,
                        void (*read_row)(sqlite3_stmt *st, void *row),
                        void (*free_rows)(void *rows, size_t n), const char *what, void **out,
                        size_t *n)
{
    char *rows = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

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
        return ledger_db_err(l, rc, what);
    }
    *out = rows;
    *n = cnt;
    return LS_OK;
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
    sqlite3_stmt *st = l->st[ST_PENDING];
    void *rows = NULL;
    int err;

    *out = NULL;
    *n = 0;
    err = ledger_bind_text(l, st, ":sink", sink);
    if (!err)
        err = ledger_bind_i64(l, st, ":now", now);
    if (!err)
        err = ledger_bind_i64(l, st, ":limit", sql_limit(limit));
    if (!err)
        err = collect_rows(l, st, sizeof(**out), read_delivery, free_deliveries,
                           "listing pending deliveries", &rows, n);
    if (!err)
        *out = rows;
    ledger_reset(st);
    return err;
}

static int no_delivery(struct ls_ledger *l, int64_t id)
{
    return ls_error(LS_EINVAL, "ledger %s: no delivery with id %" PRId64, l->path, id);
}

int ls_ledger_mark_delivered(struct ls_ledger *l, int64_t id, int status, int64_t now)
{
    sqlite3_stmt *st = l->st[ST_MARK_DELIVERED];
    sqlite3_stmt *sl = l->st[ST_SINK_LEAD_PUT];
    char *sink = NULL;
    char *lead_id = NULL;
    char *delivery_id = NULL;
    int found = 0;
    int rc;
    int err;

    err = ledger_op_begin(l);
    if (err)
        return err;
    err = ledger_bind_i64(l, st, ":id", id);
    if (!err)
        err = ledger_bind_i64(l, st, ":status", status);
    if (!err)
        err = ledger_bind_i64(l, st, ":now", now);
    if (err) {
        ledger_reset(st);
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sink = ledger_col_strdup(st, 0);
        lead_id = ledger_col_strdup(st, 1);
        delivery_id = ledger_col_strdup(st, 2);
        found = 1;
    }
    ledger_reset(st);
    if (rc != SQLITE_DONE) {
        err = ledger_db_err(l, rc, "marking a delivery delivered");
        goto done;
    }
    if (!found) {
        err = no_delivery(l, id);
        goto done;
    }
    err = ledger_bind_text(l, sl, ":sink", sink);
    if (!err)
        err = ledger_bind_text(l, sl, ":lead_id", lead_id);
    if (!err)
        err = ledger_bind_text(l, sl, ":delivery_id", delivery_id);
    if (!err)
        err = ledger_bind_i64(l, sl, ":now", now);
    if (err) {
        ledger_reset(sl);
        goto done;
    }
    err = ledger_run(l, sl, "recording a delivered lead");
done:
    free(sink);
    free(lead_id);
    free(delivery_id);
    return ledger_op_end(l, err);
}

static int mark_failed(struct ls_ledger *l, enum ls_ledger_stmt which, int64_t id,
                       const int64_t *next, int status, const char *error, int64_t now,
                       const char *what)
{
    sqlite3_stmt *st = l->st[which];
    int err;

    err = ledger_bind_i64(l, st, ":id", id);
    if (!err && next)
        err = ledger_bind_i64(l, st, ":next", *next);
    if (!err)
        err = ledger_bind_i64(l, st, ":status", status);
    if (!err)
        err = ledger_bind_error(l, st, error);
    if (!err)
        err = ledger_bind_i64(l, st, ":now", now);
    if (err) {
        ledger_reset(st);
        return err;
    }
    err = ledger_run(l, st, what);
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
    sqlite3_stmt *st = l->st[ST_SINK_LEAD_GET];
    int rc;
    int err;

    *delivered = 0;
    err = ledger_bind_text(l, st, ":sink", sink);
    if (!err)
        err = ledger_bind_text(l, st, ":lead_id", lead_id);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *delivered = 1;
    else if (rc != SQLITE_DONE)
        err = ledger_db_err(l, rc, "reading delivered leads");
done:
    ledger_reset(st);
    return err;
}

int ls_ledger_pending_count(struct ls_ledger *l, const char *sink, int64_t *n)
{
    sqlite3_stmt *st = l->st[ST_PENDING_COUNT];
    int rc;
    int err;

    *n = 0;
    err = ledger_bind_text(l, st, ":sink", sink);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        err = ledger_db_err(l, rc, "counting pending deliveries");
done:
    ledger_reset(st);
    return err;
}

int ls_ledger_next_due(struct ls_ledger *l, const char *sink, int64_t *at, int *found)
{
    sqlite3_stmt *st = l->st[ST_NEXT_DUE];
    int rc;
    int err;

    *at = 0;
    *found = 0;
    err = ledger_bind_text(l, st, ":sink", sink);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *at = sqlite3_column_int64(st, 0);
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        err = ledger_db_err(l, rc, "finding the next due delivery");
    }
done:
    ledger_reset(st);
    return err;
}

int ls_ledger_retry_dead(struct ls_ledger *l, const char *sink, int64_t now, size_t *n)
{
    sqlite3_stmt *sup = l->st[ST_DEAD_SUPERSEDE];
    sqlite3_stmt *req = l->st[ST_DEAD_REQUEUE];
    sqlite3_stmt *due = l->st[ST_PENDING_DUE_NOW];
    int err;

    *n = 0;
    err = ledger_op_begin(l);
    if (err)
        return err;
    err = ledger_bind_text(l, sup, ":sink", sink);
    if (!err)
        err = ledger_bind_i64(l, sup, ":now", now);
    if (err) {
        ledger_reset(sup);
        goto done;
    }
    err = ledger_run(l, sup, "superseding stale dead letters");
    if (err)
        goto done;
    err = ledger_bind_text(l, req, ":sink", sink);
    if (!err)
        err = ledger_bind_i64(l, req, ":now", now);
    if (err) {
        ledger_reset(req);
        goto done;
    }
    err = ledger_run(l, req, "re-queueing dead letters");
    if (err)
        goto done;
    *n = (size_t)sqlite3_changes(l->db);
    err = ledger_bind_text(l, due, ":sink", sink);
    if (!err)
        err = ledger_bind_i64(l, due, ":now", now);
    if (err) {
        ledger_reset(due);
        goto done;
    }
    err = ledger_run(l, due, "making waiting deliveries due");
done:
    err = ledger_op_end(l, err);
    if (err)
        *n = 0;
    return err;
}

int ls_ledger_inline_delivered(struct ls_ledger *l, const char *sink, int64_t n)
{
    sqlite3_stmt *st = l->st[ST_INLINE_ADD];
    int err;

    if (n == 0)
        return LS_OK;
    err = ledger_bind_text(l, st, ":sink", sink);
    if (!err)
        err = ledger_bind_i64(l, st, ":n", n);
    if (err) {
        ledger_reset(st);
        return err;
    }
    return ledger_run(l, st, "counting inline deliveries");
}

int ls_ledger_usage_put(struct ls_ledger *l, const char *sink, const struct ls_api_usage *u)
{
    sqlite3_stmt *st = l->st[ST_USAGE_PUT];
    int err;

    err = ledger_bind_text(l, st, ":sink", sink);
    if (!err)
        err = ledger_bind_i64(l, st, ":used", u->used);
    if (!err)
        err = ledger_bind_i64(l, st, ":quota", u->limit);
    if (!err)
        err = ledger_bind_i64(l, st, ":at", u->at_s);
    if (err) {
        ledger_reset(st);
        return err;
    }
    return ledger_run(l, st, "recording a sink's API usage");
}

int ls_ledger_usage_get(struct ls_ledger *l, const char *sink, struct ls_api_usage *u, int *found)
{
    sqlite3_stmt *st = l->st[ST_USAGE_GET];
    int rc;
    int err;

    *found = 0;
    memset(u, 0, sizeof(*u));
    err = ledger_bind_text(l, st, ":sink", sink);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        u->used = sqlite3_column_int64(st, 0);
        u->limit = sqlite3_column_int64(st, 1);
        u->at_s = sqlite3_column_int64(st, 2);
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        err = ledger_db_err(l, rc, "reading a sink's API usage");
    }
done:
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
    sqlite3_stmt *st = l->st[ST_DEAD_LETTERS];
    void *rows = NULL;
    int err;

    *out = NULL;
    *n = 0;
    err = ledger_bind_text(l, st, ":sink", sink);
    if (!err)
        err = ledger_bind_i64(l, st, ":limit", sql_limit(limit));
    if (!err)
        err = collect_rows(l, st, sizeof(**out), read_dead_letter, free_dead_letters,
                           "listing dead letters", &rows, n);
    if (!err)
        *out = rows;
    ledger_reset(st);
    return err;
}

int ls_ledger_purge(struct ls_ledger *l, int64_t before, size_t *n)
{
    sqlite3_stmt *st = l->st[ST_PURGE];
    int err;

    *n = 0;
    err = ledger_bind_i64(l, st, ":before", before);
    if (err) {
        ledger_reset(st);
        return err;
    }
    err = ledger_run(l, st, "purging payloads");
    if (!err)
        *n = (size_t)sqlite3_changes(l->db);
    return err;
}

/* ------------------------------------------------------------------------ */
/* Sinks' pauses                                                             */

int ls_ledger_pause_set(struct ls_ledger *l, const char *sink, int64_t until, const char *reason,
                        int64_t now)
{
    sqlite3_stmt *st = l->st[ST_PAUSE_SET];
    int err;

    if (!sink || !reason)
        return ls_error(LS_EINVAL, "ledger: a pause needs a sink and a reason");
    err = ledger_bind_text(l, st, ":sink", sink);
    if (!err)
        err = ledger_bind_i64(l, st, ":until", until);
    if (!err)
        err = ledger_bind_error(l, st, reason);
    if (!err)
        err = ledger_bind_i64(l, st, ":now", now);
    if (err) {
        ledger_reset(st);
        return err;
    }
    return ledger_run(l, st, "pausing a sink");
}

int ls_ledger_pause_get(struct ls_ledger *l, const char *sink, struct ls_sink_pause *out,
                        int *found)
{
    sqlite3_stmt *st = l->st[ST_PAUSE_GET];
    const unsigned char *why;
    int rc;
    int err;

    memset(out, 0, sizeof(*out));
    *found = 0;
    err = ledger_bind_text(l, st, ":sink", sink);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *found = 1;
        out->until = sqlite3_column_int64(st, 0);
        why = sqlite3_column_text(st, 1);
        snprintf(out->reason, sizeof(out->reason), "%s", why ? (const char *)why : "");
        out->streak = sqlite3_column_int(st, 2);
        out->since = sqlite3_column_int64(st, 3);
    } else if (rc != SQLITE_DONE) {
        err = ledger_db_err(l, rc, "reading a sink's pause");
    }
done:
    ledger_reset(st);
    return err;
}

int ls_ledger_pause_clear(struct ls_ledger *l, const char *sink)
{
    sqlite3_stmt *st = l->st[ST_PAUSE_CLEAR];
    int err = ledger_bind_text(l, st, ":sink", sink);

    if (err) {
        ledger_reset(st);
        return err;
    }
    return ledger_run(l, st, "ending a sink's pause");
}
