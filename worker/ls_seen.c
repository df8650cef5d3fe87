/* ls_seen.c - a dry run's leads (see ls_seen.h): one table in a private
 * temporary SQLite database, written in one transaction that is never
 * committed (nothing outlives the set; journal off, no syncs). An in-memory
 * hash table of the same facts cost about 370 bytes a lead, 50 MiB of a
 * 100,000-row dry run; this one stays at its page cache however many leads. */
#include "ls_seen.h"

#include <sqlite3.h>
#include <stdlib.h>

struct ls_seen {
    sqlite3 *db;
    sqlite3_stmt *get, *put;
    struct ls_ledger_version got; /* the newest version of the last get */
};

#define STR_(x) #x
#define STR(x)  STR_(x)

static const char setup_sql[] =
    "PRAGMA journal_mode = OFF;"
    "PRAGMA synchronous = OFF;"
    "PRAGMA cache_size = -" STR(
        LS_SEEN_CACHE_KIB) ";"
                           "CREATE TABLE seen (lead_id TEXT PRIMARY KEY,"
                           " max_stage INTEGER NOT NULL, dnc INTEGER NOT NULL,"
                           " ts TEXT, created TEXT, pk TEXT, rk TEXT) WITHOUT ROWID;"
                           "BEGIN;";
static const char get_sql[] =
    "SELECT max_stage, dnc, ts, created, pk, rk FROM seen WHERE lead_id = ?1";
/* ?8 = 1 keeps the recorded version (a late row) */
static const char put_sql[] =
    "INSERT INTO seen VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (lead_id) DO UPDATE SET"
    " max_stage = excluded.max_stage, dnc = excluded.dnc,"
    " ts = CASE WHEN ?8 THEN ts ELSE excluded.ts END,"
    " created = CASE WHEN ?8 THEN created ELSE excluded.created END,"
    " pk = CASE WHEN ?8 THEN pk ELSE excluded.pk END,"
    " rk = CASE WHEN ?8 THEN rk ELSE excluded.rk END";

static int seen_err(struct ls_seen *s, const char *what)
{
    return ls_error(LS_EIO, "dry run: %s the window's leads (a temporary SQLite file): %s", what,
                    s->db ? sqlite3_errmsg(s->db) : "out of memory");
}

int ls_seen_new(struct ls_seen **out)
{
    struct ls_seen *s = ls_xcalloc(1, sizeof(*s));
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int err = 0;

    *out = NULL;
    /* "": a private temporary database, on disk only once the cache spills */
    if (sqlite3_open_v2("", &s->db, flags, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, setup_sql, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(s->db, get_sql, -1, SQLITE_PREPARE_PERSISTENT, &s->get, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v3(s->db, put_sql, -1, SQLITE_PREPARE_PERSISTENT, &s->put, NULL) !=
            SQLITE_OK) {
        err = seen_err(s, "cannot keep");
        ls_seen_free(s);
        return err;
    }
    *out = s;
    return 0;
}

void ls_seen_free(struct ls_seen *s)
{
    if (!s)
        return;
    sqlite3_finalize(s->get);
    sqlite3_finalize(s->put);
    sqlite3_close(s->db); /* rolls the transaction back; the file goes with it */
    ls_ledger_version_free(&s->got);
    free(s);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? ls_xstrdup((const char *)t) : NULL;
}

int ls_seen_get(struct ls_seen *s, const char *lead_id, int *max_stage, int *dnc,
                const struct ls_ledger_version **newest)
{
    int rc, found = 0;

    sqlite3_bind_text(s->get, 1, lead_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s->get);
    if (rc == SQLITE_ROW) {
        ls_ledger_version_free(&s->got);
        *max_stage = sqlite3_column_int(s->get, 0);
        *dnc = sqlite3_column_int(s->get, 1);
        s->got.timestamp = col_dup(s->get, 2);
        s->got.created_time = col_dup(s->get, 3);
        s->got.partition_key = col_dup(s->get, 4);
        s->got.row_key = col_dup(s->get, 5);
        *newest = &s->got;
        found = 1;
    } else if (rc != SQLITE_DONE) {
        found = seen_err(s, "cannot read");
    }
    sqlite3_reset(s->get);
    return found;
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

int ls_seen_put(struct ls_seen *s, const char *lead_id, int max_stage, int dnc,
                const struct ls_ledger_version *newest)
{
    static const struct ls_ledger_version none = {0};
    const struct ls_ledger_version *v = newest ? newest : &none;
    int rc = sqlite3_bind_text(s->put, 1, lead_id, -1, SQLITE_STATIC);
    int err = 0;

    /* the version is copied before the step: it may be s->got */
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s->put, 2, max_stage);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s->put, 3, dnc ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = bind_text(s->put, 4, v->timestamp);
    if (rc == SQLITE_OK)
        rc = bind_text(s->put, 5, v->created_time);
    if (rc == SQLITE_OK)
        rc = bind_text(s->put, 6, v->partition_key);
    if (rc == SQLITE_OK)
        rc = bind_text(s->put, 7, v->row_key);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int(s->put, 8, newest ? 0 : 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s->put);
    if (rc != SQLITE_DONE)
        err = seen_err(s, "cannot record");
    sqlite3_reset(s->put);
    sqlite3_clear_bindings(s->put);
    return err;
}
