/* ls_ledger_sinks.c - the ledger's sink names: which sinks it holds
 * anything for, moving a sink's deliveries to another name, and each
 * configured sink's kind (table sinks). See ls_ledger.h. */
#include "ls_ledger_int.h"

#include <stdlib.h>
#include <string.h>

/* Runs one statement with text parameters :from and :to (when present). */
static int exec_names(struct ls_ledger *l, const char *q, const char *from, const char *to,
                      const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(l->db, q, -1, &st, NULL);
    int err = 0;

    if (rc != SQLITE_OK)
        return ledger_db_err(l, rc, what);
    if (sqlite3_bind_parameter_index(st, ":from"))
        err = ledger_bind_text(l, st, ":from", from);
    if (!err && sqlite3_bind_parameter_index(st, ":to"))
        err = ledger_bind_text(l, st, ":to", to);
    if (!err)
        err = ledger_run(l, st, what);
    sqlite3_finalize(st);
    return err;
}

/* The next id after `after` ("" first) in one column; *id NULL at the end.
 * One index probe per sink, however many deliveries the ledger holds. */
static int next_sink_id(struct ls_ledger *l, const char *q, const char *after, char **id)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(l->db, q, -1, &st, NULL);
    int err = 0;

    *id = NULL;
    if (rc != SQLITE_OK)
        return ledger_db_err(l, rc, "listing sinks");
    err = ledger_bind_text(l, st, ":from", after);
    if (!err) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *id = ledger_col_strdup(st, 0);
        else if (rc != SQLITE_DONE)
            err = ledger_db_err(l, rc, "listing sinks");
    }
    sqlite3_finalize(st);
    return err;
}

static int add_unique(char ***ids, size_t *n, char *id)
{
    size_t i;

    for (i = 0; i < *n; i++) {
        if (strcmp((*ids)[i], id) == 0) {
            free(id);
            return 0;
        }
    }
    *ids = ls_xrealloc(*ids, (*n + 1) * sizeof(**ids));
    (*ids)[(*n)++] = id;
    return 1;
}

int ls_ledger_sink_ids(struct ls_ledger *l, char ***ids, size_t *n)
{
    static const char *const q[] = {
        "SELECT min(sink) FROM outbox WHERE sink > :from",
        "SELECT min(sink) FROM sink_leads WHERE sink > :from",
        "SELECT min(sink) FROM sink_counts WHERE sink > :from",
    };
    char *prev = NULL, *id = NULL;
    size_t k;
    int err = 0;

    *ids = NULL;
    *n = 0;
    for (k = 0; !err && k < LS_ARRAY_LEN(q); k++) {
        free(prev);
        prev = ls_xstrdup("");
        while (!(err = next_sink_id(l, q[k], prev, &id)) && id) {
            free(prev);
            prev = ls_xstrdup(id);
            add_unique(ids, n, id);
        }
    }
    free(prev);
    if (err) {
        while (*n)
            free((*ids)[--*n]);
        free(*ids);
        *ids = NULL;
    }
    return err;
}

int ls_ledger_sink_rename(struct ls_ledger *l, const char *from, const char *to)
{
    static const char *const q[] = {
        "UPDATE OR IGNORE outbox SET sink = :to WHERE sink = :from",
        ("UPDATE outbox SET state = 'superseded' WHERE sink = :from"
         " AND state IN ('pending', 'dead')"),
        "UPDATE OR IGNORE sink_leads SET sink = :to WHERE sink = :from",
        "DELETE FROM sink_leads WHERE sink = :from",
        ("INSERT INTO sink_counts (sink, inline_delivered) SELECT :to, inline_delivered"
         " FROM sink_counts WHERE sink = :from ON CONFLICT (sink) DO UPDATE SET"
         " inline_delivered = inline_delivered + excluded.inline_delivered"),
        "DELETE FROM sink_counts WHERE sink = :from",
        "UPDATE OR IGNORE sink_usage SET sink = :to WHERE sink = :from",
        "DELETE FROM sink_usage WHERE sink = :from",
        "UPDATE OR IGNORE sink_pause SET sink = :to WHERE sink = :from",
        "DELETE FROM sink_pause WHERE sink = :from",
        "UPDATE OR IGNORE sink_posts SET sink = :to WHERE sink = :from",
        "DELETE FROM sink_posts WHERE sink = :from",
        "UPDATE OR IGNORE sink_day_posts SET sink = :to WHERE sink = :from",
        "DELETE FROM sink_day_posts WHERE sink = :from",
        ("UPDATE OR IGNORE meta SET key = substr(key, 1, instr(key, ':')) || :to"
         " WHERE instr(key, ':') > 0 AND substr(key, instr(key, ':') + 1) = :from"),
        "DELETE FROM meta WHERE instr(key, ':') > 0 AND substr(key, instr(key, ':') + 1) = :from",
    };
    size_t i;
    int err;

    if (l->readonly)
        return ls_error(LS_EDB, "ledger %s: opened read-only", l->path);
    err = ledger_op_begin(l);
    for (i = 0; !err && i < LS_ARRAY_LEN(q); i++)
        err = exec_names(l, q[i], from, to, "renaming a sink");
    return ledger_op_end(l, err);
}

int ls_ledger_sink_register(struct ls_ledger *l, const char *name, const char *kind)
{
    return exec_names(l,
                      "INSERT INTO sinks (name, kind) VALUES (:from, :to)"
                      " ON CONFLICT (name) DO UPDATE SET kind = excluded.kind"
                      " WHERE kind <> excluded.kind",
                      name, kind, "recording a sink");
}
