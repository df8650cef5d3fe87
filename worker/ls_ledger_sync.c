/* ls_ledger_sync.c - the ledger's sync state: the rows seen in the table
 * (content hash, Timestamp, lead) and the leads they belong to (highest
 * stage, do-not-contact). See ls_ledger.h. */
#include "ls_ledger_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sync part's statements. */
const struct ls_ledger_sql ls_ledger_sync_sql[] = {
    {ST_ROW_GET, "SELECT content_hash FROM rows"
                 " WHERE partition_key = :partition_key AND row_key = :row_key"},
    /* One statement for the row and its report facts: one B-tree visit. */
    {ST_ROW_PUT, "INSERT INTO rows (partition_key, row_key, content_hash, timestamp, lead_id,"
                 " first_seen, last_seen, offer_id, source, action, stage, country, is_test)"
                 " VALUES (:partition_key, :row_key, :content_hash, :timestamp, :lead_id,"
                 " :now, :now, :offer_id, :source, :action, :stage, :country, :is_test)"
                 " ON CONFLICT (partition_key, row_key) DO UPDATE SET"
                 " content_hash = excluded.content_hash, timestamp = excluded.timestamp,"
                 " lead_id = excluded.lead_id, last_seen = excluded.last_seen,"
                 " offer_id = excluded.offer_id, source = excluded.source,"
                 " action = excluded.action, stage = excluded.stage,"
                 " country = excluded.country, is_test = excluded.is_test"},
    {ST_LEAD_GET, "SELECT max_stage, dnc, newest_timestamp, newest_created_time,"
                  " newest_partition_key, newest_row_key FROM leads WHERE lead_id = :lead_id"},
    /* A NULL :ts keeps the newest version recorded. */
    {ST_LEAD_PUT, "INSERT INTO leads (lead_id, max_stage, dnc, first_seen, updated_at,"
                  " newest_timestamp, newest_created_time, newest_partition_key,"
                  " newest_row_key)"
                  " VALUES (:lead_id, :max_stage, :dnc, :now, :now, :ts, :created, :pk, :rk)"
                  " ON CONFLICT (lead_id) DO UPDATE SET"
                  " max_stage = max(max_stage, excluded.max_stage), dnc = excluded.dnc,"
                  " updated_at = excluded.updated_at,"
                  " newest_timestamp = iif(:ts IS NULL, newest_timestamp, :ts),"
                  " newest_created_time = iif(:ts IS NULL, newest_created_time, :created),"
                  " newest_partition_key = iif(:ts IS NULL, newest_partition_key, :pk),"
                  " newest_row_key = iif(:ts IS NULL, newest_row_key, :rk)"},
    {ST_COUNT, NULL},
};

int ls_ledger_row_get(struct ls_ledger *l, const char *pk, const char *rk, char hash[65],
                      int *found)
{
    sqlite3_stmt *st = l->st[ST_ROW_GET];
    const struct ledger_arg args[] = {
        ARG_STATIC(":partition_key", pk),
        ARG_STATIC(":row_key", rk),
    };
    const unsigned char *h;
    int err;

    hash[0] = '\0';
    err = ledger_row(l, st, args, LS_ARRAY_LEN(args), "reading a row", found);
    if (!err && *found) {
        h = sqlite3_column_text(st, 0);
        snprintf(hash, 65, "%s", h ? (const char *)h : "");
    }
    ledger_reset(st);
    return err;
}

/* Binds a row's report facts; NULL f: all unknown. */
static int bind_facts(struct ls_ledger *l, sqlite3_stmt *st, const struct ls_row_facts *f)
{
    int err;

    err = ledger_bind_static(l, st, ":offer_id", f ? f->offer_id : NULL);
    if (!err)
        err = ledger_bind_static(l, st, ":source", f ? f->source : NULL);
    if (!err)
        err = ledger_bind_static(l, st, ":action", f ? f->action : NULL);
    if (!err)
        err = ledger_bind_static(l, st, ":country", f ? f->country : NULL);
    if (!err && f)
        err = ledger_bind_i64(l, st, ":stage", f->stage);
    if (!err && f)
        err = ledger_bind_i64(l, st, ":is_test", f->is_test ? 1 : 0);
    return err; /* without f, :stage and :is_test stay NULL */
}

int ls_ledger_row_put(struct ls_ledger *l, const char *pk, const char *rk, const char *hash,
                      const char *timestamp, const char *lead_id, const struct ls_row_facts *facts,
                      int64_t now)
{
    sqlite3_stmt *st = l->st[ST_ROW_PUT];
    int err;

    err = ledger_bind_static(l, st, ":partition_key", pk);
    if (!err)
        err = ledger_bind_static(l, st, ":row_key", rk);
    if (!err)
        err = ledger_bind_static(l, st, ":content_hash", hash);
    if (!err)
        err = ledger_bind_static(l, st, ":timestamp", timestamp);
    if (!err)
        err = ledger_bind_static(l, st, ":lead_id", lead_id);
    if (!err)
        err = ledger_bind_i64(l, st, ":now", now);
    if (!err)
        err = bind_facts(l, st, facts);
    if (err) {
        ledger_reset(st);
        return err;
    }
    return ledger_run(l, st, "recording a row");
}

void ls_ledger_version_free(struct ls_ledger_version *v)
{
    free(v->timestamp);
    free(v->created_time);
    free(v->partition_key);
    free(v->row_key);
    memset(v, 0, sizeof(*v));
}

static char *column_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? ls_xstrdup((const char *)t) : NULL;
}

int ls_ledger_lead_get(struct ls_ledger *l, const char *lead_id, int *max_stage, int *dnc,
                       struct ls_ledger_version *newest, int *found)
{
    sqlite3_stmt *st = l->st[ST_LEAD_GET];
    int rc;
    int err;

    *found = 0;
    *max_stage = 0;
    *dnc = 0;
    if (newest)
        memset(newest, 0, sizeof(*newest));
    err = ledger_bind_static(l, st, ":lead_id", lead_id);
    if (err)
        goto done;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *max_stage = sqlite3_column_int(st, 0);
        *dnc = sqlite3_column_int(st, 1);
        if (newest && sqlite3_column_type(st, 2) != SQLITE_NULL) {
            newest->timestamp = column_dup(st, 2);
            newest->created_time = column_dup(st, 3);
            newest->partition_key = column_dup(st, 4);
            newest->row_key = column_dup(st, 5);
        }
        *found = 1;
    } else if (rc != SQLITE_DONE) {
        err = ledger_db_err(l, rc, "reading a lead");
    }
done:
    ledger_reset(st);
    return err;
}

int ls_ledger_lead_put(struct ls_ledger *l, const char *lead_id, int max_stage, int dnc,
                       const struct ls_ledger_version *newest, int64_t now)
{
    sqlite3_stmt *st = l->st[ST_LEAD_PUT];
    int err;

    err = ledger_bind_static(l, st, ":lead_id", lead_id);
    if (!err)
        err = ledger_bind_i64(l, st, ":max_stage", max_stage);
    if (!err)
        err = ledger_bind_i64(l, st, ":dnc", dnc ? 1 : 0);
    if (!err)
        err = ledger_bind_i64(l, st, ":now", now);
    if (!err)
        err = ledger_bind_static(l, st, ":ts", newest ? newest->timestamp : NULL);
    if (!err)
        err = ledger_bind_static(l, st, ":created", newest ? newest->created_time : NULL);
    if (!err)
        err = ledger_bind_static(l, st, ":pk", newest ? newest->partition_key : NULL);
    if (!err)
        err = ledger_bind_static(l, st, ":rk", newest ? newest->row_key : NULL);
    if (err) {
        ledger_reset(st);
        return err;
    }
    return ledger_run(l, st, "recording a lead");
}
