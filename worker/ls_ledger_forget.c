/* ls_ledger_forget.c - the ledger's part of `leadsync forget`: find one
 * person's leads and erase their personal data, keeping what the sync needs
 * not to deliver them again (row keys, content hashes, lead ids, stages).
 * One-shot statements, prepared per call. See ls_ledger.h. */
#include "ls_ledger_int.h"

#include <stdlib.h>

#define WS " ' ' || char(9, 10, 11, 12, 13)"

static int prepare(struct ls_ledger *l, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(l->db, sql, -1, st, NULL);

    return rc == SQLITE_OK ? 0 : ledger_db_err(l, rc, "preparing an erasure statement");
}

/* Steps st and collects column 0 of every row (NULLs skipped). */
static int collect(struct ls_ledger *l, sqlite3_stmt *st, char ***out, size_t *n)
{
    size_t cap = 0;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char *s = ledger_col_strdup(st, 0);

        if (!s)
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            *out = ls_xrealloc(*out, cap * sizeof(**out));
        }
        (*out)[(*n)++] = s;
    }
    return rc == SQLITE_DONE ? 0 : ledger_db_err(l, rc, "searching the ledger");
}

void ls_ledger_strings_free(char **s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

/* A query with one text parameter :v whose rows' column 0 are collected. */
static int query_strings(struct ls_ledger *l, const char *sql, const char *v, char ***out,
                         size_t *n)
{
    sqlite3_stmt *st = NULL;
    int err;

    *out = NULL;
    *n = 0;
    err = prepare(l, sql, &st);
    if (!err && v && sqlite3_bind_parameter_index(st, ":v"))
        err = ledger_bind_text(l, st, ":v", v);
    if (!err)
        err = collect(l, st, out, n);
    sqlite3_finalize(st);
    if (err) {
        ls_ledger_strings_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return err;
}

int ls_ledger_leads_by_email(struct ls_ledger *l, const char *email, char ***ids, size_t *n)
{
    return query_strings(l,
                         "SELECT DISTINCT lead_id FROM bodies"
                         " WHERE payload IS NOT NULL AND json_valid(payload)"
                         " AND lower(trim(json_extract(payload, '$.customer.email')," WS ")) = :v",
                         email, ids, n);
}

int ls_ledger_offers(struct ls_ledger *l, char ***offers, size_t *n)
{
    return query_strings(l, "SELECT DISTINCT offer_id FROM rows WHERE offer_id IS NOT NULL", NULL,
                         offers, n);
}

int ls_ledger_lead_rows(struct ls_ledger *l, const char *lead_id, char ***keys, size_t *n)
{
    return query_strings(l,
                         "SELECT 'PartitionKey ''' || partition_key || ''', RowKey '''"
                         " || row_key || '''' FROM rows WHERE lead_id = :v ORDER BY 1",
                         lead_id, keys, n);
}

int ls_ledger_lead_sinks(struct ls_ledger *l, const char *lead_id, char ***sinks, size_t *n)
{
    /* JSONL files are rewritten by forget itself: not listed. */
    return query_strings(l,
                         "SELECT sl.sink FROM sink_leads AS sl LEFT JOIN sinks AS s"
                         " ON s.name = sl.sink WHERE sl.lead_id = :v"
                         " AND coalesce(s.kind, sl.sink) NOT LIKE 'jsonl%' ORDER BY 1",
                         lead_id, sinks, n);
}

/* Runs a counting query and, unless dry_run, the update that erases. */
static int count_then(struct ls_ledger *l, const char *count_sql, const char *update_sql,
                      const char *lead_id, int dry_run, int64_t *n)
{
    sqlite3_stmt *st = NULL;
    int err, rc;

    err = prepare(l, count_sql, &st);
    if (!err)
        err = ledger_bind_text(l, st, ":v", lead_id);
    if (!err) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *n += sqlite3_column_int64(st, 0);
        else
            err = ledger_db_err(l, rc, "counting what to erase");
    }
    sqlite3_finalize(st);
    st = NULL;
    if (err || dry_run)
        return err;
    err = prepare(l, update_sql, &st);
    if (!err)
        err = ledger_bind_text(l, st, ":v", lead_id);
    if (!err)
        err = ledger_run(l, st, "erasing a lead");
    sqlite3_finalize(st);
    return err;
}

int ls_ledger_forget_lead(struct ls_ledger *l, const char *lead_id, int dry_run,
                          struct ls_forget_counts *c)
{
    int err;

    /* Pending deliveries and dead letters never go out: nothing is left to send. */
    err = count_then(l,
                     "SELECT count(*) FROM outbox WHERE lead_id = :v"
                     " AND state IN ('pending', 'dead')",
                     "UPDATE outbox SET state = 'superseded' WHERE lead_id = :v"
                     " AND state IN ('pending', 'dead')",
                     lead_id, dry_run, &c->cancelled);
    if (!err)
        err = count_then(
            l, "SELECT count(*) FROM bodies WHERE lead_id = :v AND payload IS NOT NULL",
            "UPDATE bodies SET payload = NULL WHERE lead_id = :v", lead_id, dry_run, &c->payloads);
    if (!err)
        err = count_then(l,
                         "SELECT count(*) FROM outbox WHERE lead_id = :v"
                         " AND last_error IS NOT NULL",
                         "UPDATE outbox SET last_error = NULL WHERE lead_id = :v", lead_id, dry_run,
                         &c->errors);
    if (!err)
        err = count_then(l,
                         "SELECT count(*) FROM rows WHERE lead_id = :v"
                         " AND country IS NOT NULL AND country <> ''",
                         "UPDATE rows SET country = NULL WHERE lead_id = :v", lead_id, dry_run,
                         &c->countries);
    return err;
}

static int exec_sql(struct ls_ledger *l, const char *sql, const char *what)
{
    int rc = sqlite3_exec(l->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : ledger_db_err(l, rc, what);
}

int ls_ledger_forget_begin(struct ls_ledger *l)
{
    int err = exec_sql(l, "PRAGMA secure_delete = ON", "turning secure_delete on");

    return err ? err : ls_ledger_begin(l);
}

/* How long the truncating checkpoint waits for the ledger's readers (a
 * running daemon's round) before it gives up. */
#define CHECKPOINT_WAIT_MS 2000

/* Empties the WAL file (TRUNCATE: every frame copied back, then the file cut
 * to zero bytes). A reader that keeps an older snapshot (the daemon's read
 * transaction) stops it: the WAL's frames (old page images of what was
 * erased) stay, and the file's old pages too where frames were not copied. The daemon's own
 * (passive) checkpoints copy frames but overwrite the file only as far as new writes reach, so only
 * a truncating checkpoint with no reader removes them: forget's rerun. LS_EUNAVAIL (exit 75) then.
 */
static int checkpoint(struct ls_ledger *l)
{
    int frames = -1, copied = -1, rc, both;

    sqlite3_busy_timeout(l->db, CHECKPOINT_WAIT_MS); /* SQLite retries meanwhile */
    rc = sqlite3_wal_checkpoint_v2(l->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &frames, &copied);
    sqlite3_busy_timeout(l->db, LEDGER_BUSY_TIMEOUT_MS);
    if (rc == SQLITE_OK)
        return 0;
    if (rc != SQLITE_BUSY)
        return ledger_db_err(l, rc, "checkpointing the ledger");
    /* Frames not copied back (or unknown): the file still holds old pages. */
    both = frames < 0 || copied < frames;
    return ls_error(LS_EUNAVAIL,
                    "forget: erased, but a reader of the ledger (a running daemon) kept the "
                    "checkpoint from finishing: old copies of erased pages remain in %s%s%s-wal "
                    "until a truncating checkpoint with no reader; rerun forget with the same "
                    "address while the daemon is idle or stopped",
                    both ? l->path : "", both ? " and " : "", l->path);
}

/* Commits, then rewrites the whole file (VACUUM) and empties the WAL, so no
 * free page, old page image or journal keeps a copy of what was erased.
 * LS_EUNAVAIL when only the WAL could not be emptied (see checkpoint). */
int ls_ledger_forget_commit(struct ls_ledger *l)
{
    int err = ls_ledger_commit(l);

    if (!err)
        err = exec_sql(l, "VACUUM", "rewriting the ledger after an erasure");
    if (!err)
        err = checkpoint(l);
    return err;
}
