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
                  " VALUES (:lead_id, :max_stage, :dnc, :first, :now, :ts, :created, :pk, :rk)"
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
    sqlite3_stmt *st = ledger_st(l, ST_ROW_GET);
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
    sqlite3_stmt *st = ledger_st(l, ST_ROW_PUT);
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

/* ------------------------------------------------------------------------ */
/* Leads                                                                     */
/*
 * A lead id is a hash: each lead's line sits at a random place in the leads
 * table, so a page of 1,000 new rows touches ~1,000 of its pages, far more
 * than the page cache holds. Upserted as they come, those pages were spilled
 * and read back again and again within one transaction. Inside a
 * transaction the upserts are kept here instead, merged per lead (what two
 * upserts of one lead would leave: the higher stage, the last do-not-contact
 * flag, the last newest version given), and written in key order when it
 * commits, so each page of the table is read and written once. A read of a
 * lead sees them. Outside a transaction an upsert is written at once.
 */

static size_t lead_hash(const char *s)
{
    size_t h = 14695981039346656037ULL & SIZE_MAX;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * (1099511628211ULL & SIZE_MAX);
    return h;
}

/* The kept upsert of lead_id, or NULL. */
static struct lead_put *put_find(struct lead_puts *p, const char *lead_id)
{
    size_t i;

    if (!p->nslot)
        return NULL;
    for (i = lead_hash(lead_id) & (p->nslot - 1); p->slot[i]; i = (i + 1) & (p->nslot - 1)) {
        if (strcmp(p->v[p->slot[i] - 1].lead_id, lead_id) == 0)
            return &p->v[p->slot[i] - 1];
    }
    return NULL;
}

static void put_index(struct lead_puts *p, size_t k)
{
    size_t i = lead_hash(p->v[k].lead_id) & (p->nslot - 1);

    while (p->slot[i])
        i = (i + 1) & (p->nslot - 1);
    p->slot[i] = k + 1;
}

/* Sets an entry's lead id and newest version (NULL: none), all in one
 * block (e->lead_id) in place of the one it had. */
static void put_set(struct lead_put *e, const char *lead_id, const struct ls_ledger_version *v)
{
    const char *src[5] = {lead_id, v ? v->timestamp : NULL, v ? v->created_time : NULL,
                          v ? v->partition_key : NULL, v ? v->row_key : NULL};
    char **dst[5] = {NULL, &e->newest.timestamp, &e->newest.created_time, &e->newest.partition_key,
                     &e->newest.row_key};
    size_t len[5], total = 0;
    char *block, *at;

    for (int i = 0; i < 5; i++) {
        len[i] = src[i] ? strlen(src[i]) + 1 : 0;
        total += len[i];
    }
    at = block = ls_xmalloc(total);
    for (int i = 0; i < 5; i++) {
        if (i > 0)
            *dst[i] = src[i] ? at : NULL;
        if (src[i])
            memcpy(at, src[i], len[i]);
        at += len[i];
    }
    free(e->lead_id);
    e->lead_id = block;
}

/* A new entry for lead_id (not yet kept), zeroed but for its id. */
static struct lead_put *put_add(struct lead_puts *p, const char *lead_id)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->v = ls_xrealloc(p->v, p->cap * sizeof(*p->v));
        free(p->slot);
        p->nslot = 2 * p->cap;
        p->slot = ls_xcalloc(p->nslot, sizeof(*p->slot));
        for (size_t k = 0; k < p->n; k++)
            put_index(p, k);
    }
    memset(&p->v[p->n], 0, sizeof(p->v[p->n]));
    put_set(&p->v[p->n], lead_id, NULL);
    put_index(p, p->n);
    return &p->v[p->n++];
}

static char *dup_or_null(const char *s)
{
    return s ? ls_xstrdup(s) : NULL;
}

void ledger_leads_drop(struct ls_ledger *l)
{
    struct lead_puts *p = &l->puts;

    for (size_t k = 0; k < p->n; k++) {
        free(p->v[k].lead_id); /* its newest version's block too */
    }
    p->n = 0;
    if (p->nslot)
        memset(p->slot, 0, p->nslot * sizeof(*p->slot));
}

/* One upsert of a lead: first_seen counts only when it is new. */
static int lead_write(struct ls_ledger *l, const char *lead_id, const struct lead_put *e)
{
    sqlite3_stmt *st = ledger_st(l, ST_LEAD_PUT);
    const struct ls_ledger_version *v = &e->newest;
    const struct ledger_arg args[] = {
        ARG_STATIC(":lead_id", lead_id),         ARG_I64(":max_stage", e->max_stage),
        ARG_I64(":dnc", e->dnc ? 1 : 0),         ARG_I64(":first", e->first_seen),
        ARG_I64(":now", e->updated_at),          ARG_STATIC(":ts", v->timestamp),
        ARG_STATIC(":created", v->created_time), ARG_STATIC(":pk", v->partition_key),
        ARG_STATIC(":rk", v->row_key),
    };

    return ledger_exec(l, st, args, LS_ARRAY_LEN(args), "recording a lead");
}

static int put_key_compare(const void *a, const void *b)
{
    return strcmp(((const struct lead_put *)a)->lead_id, ((const struct lead_put *)b)->lead_id);
}

int ledger_leads_flush(struct ls_ledger *l)
{
    struct lead_puts *p = &l->puts;
    int err = 0;

    if (!p->n)
        return LS_OK;
    /* the table's key order (text, BINARY collation: strcmp) */
    qsort(p->v, p->n, sizeof(*p->v), put_key_compare);
    for (size_t k = 0; k < p->n && !err; k++)
        err = lead_write(l, p->v[k].lead_id, &p->v[k]);
    ledger_leads_drop(l);
    return err;
}

int ls_ledger_lead_get(struct ls_ledger *l, const char *lead_id, int *max_stage, int *dnc,
                       struct ls_ledger_version *newest, int *found)
{
    sqlite3_stmt *st = ledger_st(l, ST_LEAD_GET);
    const struct ledger_arg args[] = {ARG_STATIC(":lead_id", lead_id)};
    const struct lead_put *kept = put_find(&l->puts, lead_id);
    int err;

    *max_stage = 0;
    *dnc = 0;
    if (newest)
        memset(newest, 0, sizeof(*newest));
    err = ledger_row(l, st, args, LS_ARRAY_LEN(args), "reading a lead", found);
    if (!err && *found) {
        *max_stage = sqlite3_column_int(st, 0);
        *dnc = sqlite3_column_int(st, 1);
        if (newest && !(kept && kept->newest.timestamp) &&
            sqlite3_column_type(st, 2) != SQLITE_NULL) {
            newest->timestamp = ledger_col_strdup(st, 2);
            newest->created_time = ledger_col_strdup(st, 3);
            newest->partition_key = ledger_col_strdup(st, 4);
            newest->row_key = ledger_col_strdup(st, 5);
        }
    }
    ledger_reset(st);
    if (!err && kept) { /* what the commit will write over it */
        *found = 1;
        *max_stage = kept->max_stage > *max_stage ? kept->max_stage : *max_stage;
        *dnc = kept->dnc;
        if (newest && kept->newest.timestamp) {
            newest->timestamp = dup_or_null(kept->newest.timestamp);
            newest->created_time = dup_or_null(kept->newest.created_time);
            newest->partition_key = dup_or_null(kept->newest.partition_key);
            newest->row_key = dup_or_null(kept->newest.row_key);
        }
    }
    return err;
}

int ls_ledger_lead_put(struct ls_ledger *l, const char *lead_id, int max_stage, int dnc,
                       const struct ls_ledger_version *newest, int64_t now)
{
    struct lead_put *e;

    if (!lead_id)
        return ls_error(LS_EINVAL, "ledger: a lead needs an id");
    if (sqlite3_get_autocommit(l->db)) { /* no transaction: at once */
        struct lead_put one = {NULL, max_stage, dnc, now, now, {0}};

        if (newest)
            one.newest = *newest;
        return lead_write(l, lead_id, &one);
    }
    e = put_find(&l->puts, lead_id);
    if (!e) {
        e = put_add(&l->puts, lead_id);
        e->first_seen = now;
    }
    e->max_stage = max_stage > e->max_stage ? max_stage : e->max_stage;
    e->dnc = dnc;
    e->updated_at = now;
    if (newest && newest->timestamp)
        put_set(e, lead_id, newest);
    return LS_OK;
}
