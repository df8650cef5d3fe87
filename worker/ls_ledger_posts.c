/* ls_ledger_posts.c - a sink's posts: post marks and the day's post count
 * of a receiver that cannot deduplicate (ls_ledger.h, "A sink's posts";
 * schema/sqlite/008_sink_posts.sql). */
#include "ls_ledger_int.h"

#include <stdio.h>
#include <string.h>

/* The posts part's statements. */
const struct ls_ledger_sql ls_ledger_posts_sql[] = {
    {ST_POST_GET, "SELECT state, coalesce(status, 0) FROM sink_posts"
                  " WHERE sink = :sink AND lead_id = :lead_id"},
    {ST_POST_MARK,
     "INSERT INTO sink_posts (sink, lead_id, delivery_id, state, status, posted_at,"
     " updated_at) VALUES (:sink, :lead_id, :delivery_id, 'posting', NULL, :now, :now)"
     " ON CONFLICT (sink, lead_id) DO UPDATE SET delivery_id = excluded.delivery_id,"
     " state = 'posting', status = NULL, posted_at = excluded.posted_at,"
     " updated_at = excluded.updated_at"},
    {ST_POST_ANSWER, "UPDATE sink_posts SET state = :state, status = nullif(:status, 0),"
                     " updated_at = :now WHERE sink = :sink AND lead_id = :lead_id"},
    {ST_POST_DELETE, "DELETE FROM sink_posts WHERE sink = :sink AND lead_id = :lead_id"},
    {ST_DAY_RAISE, "INSERT INTO sink_day_posts (sink, day, posts) VALUES (:sink, :day, 1)"
                   " ON CONFLICT (sink) DO UPDATE SET"
                   " posts = CASE WHEN day = excluded.day THEN posts + 1 ELSE 1 END,"
                   " day = excluded.day"},
    {ST_DAY_LOWER, "UPDATE sink_day_posts SET posts = max(posts - 1, 0)"
                   " WHERE sink = :sink AND day = :day"},
    {ST_DAY_GET, "SELECT posts FROM sink_day_posts WHERE sink = :sink AND day = :day"},
    {ST_SYNC_GET, "PRAGMA synchronous"},
    {ST_COUNT, NULL},
};

/* The text each mark is stored as (the CHECK of sink_posts.state). */
static const char *const mark_text[] = {"", "posting", "created", "unknown", "requeued"};

/* Binds :sink and :lead_id (or :day) of a statement of this part. */
static int bind_two(struct ls_ledger *l, sqlite3_stmt *st, const char *sink, const char *name,
                    const char *v)
{
    int err = ledger_bind_static(l, st, ":sink", sink);

    return err ? err : ledger_bind_static(l, st, name, v);
}

/* Runs a statement whose parameters are bound, unless binding failed (err):
 * then it only resets it. */
static int run_bound(struct ls_ledger *l, sqlite3_stmt *st, int err, const char *what)
{
    if (err) {
        ledger_reset(st);
        return err;
    }
    return ledger_run(l, st, what);
}

/* Commits (err 0) or rolls back; returns err, or the commit's error. */
static int txn_end(struct ls_ledger *l, int err)
{
    if (!err)
        err = ls_ledger_commit(l);
    if (err)
        ls_ledger_rollback(l);
    return err;
}

/* Sets the connection's synchronous level (0..3). */
static int sync_set(struct ls_ledger *l, int level)
{
    char q[40];
    int rc;

    snprintf(q, sizeof(q), "PRAGMA synchronous = %d", level);
    rc = sqlite3_exec(l->db, q, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : ledger_db_err(l, rc, "setting synchronous");
}

/* Starts a transaction whose commit is fsync'd: synchronous = FULL until
 * durable_end, as WAL with NORMAL syncs only at checkpoints. */
static int durable_begin(struct ls_ledger *l, int *level)
{
    sqlite3_stmt *st = l->st[ST_SYNC_GET];
    int rc, err;

    if (l->readonly)
        return ls_error(LS_EDB, "ledger %s: opened read-only", l->path);
    rc = sqlite3_step(st);
    *level = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 2;
    ledger_reset(st);
    if (rc != SQLITE_ROW)
        return ledger_db_err(l, rc, "reading synchronous");
    err = *level >= 2 ? 0 : sync_set(l, 2);
    if (!err)
        err = ls_ledger_begin(l);
    if (err && *level < 2)
        (void)sync_set(l, *level);
    return err;
}

/* txn_end, then the synchronous level durable_begin found. */
static int durable_end(struct ls_ledger *l, int level, int err)
{
    err = txn_end(l, err);
    if (level < 2) {
        int e = sync_set(l, level);

        err = err ? err : e;
    }
    return err;
}

int ls_ledger_post_begin(struct ls_ledger *l, const char *sink, const char *lead_id,
                         const char *delivery_id, const char *day, int64_t now)
{
    sqlite3_stmt *mark = l->st[ST_POST_MARK], *raise = l->st[ST_DAY_RAISE];
    int level = 2;
    int err = durable_begin(l, &level);

    if (err)
        return err;
    err = bind_two(l, mark, sink, ":lead_id", lead_id);
    if (!err)
        err = ledger_bind_static(l, mark, ":delivery_id", delivery_id);
    if (!err)
        err = ledger_bind_i64(l, mark, ":now", now);
    err = run_bound(l, mark, err, "marking a post");
    if (!err)
        err = run_bound(l, raise, bind_two(l, raise, sink, ":day", day), "counting a post");
    return durable_end(l, level, err);
}

int ls_ledger_post_answer(struct ls_ledger *l, const char *sink, const char *lead_id,
                          enum ls_post_mark mark, int status, int64_t now)
{
    sqlite3_stmt *st = l->st[ST_POST_ANSWER];
    int err;

    if (mark != LS_POST_CREATED && mark != LS_POST_UNKNOWN)
        return ls_error(LS_EINVAL, "ledger: a post's answer is created or unknown");
    err = bind_two(l, st, sink, ":lead_id", lead_id);
    if (!err)
        err = ledger_bind_static(l, st, ":state", mark_text[mark]);
    if (!err)
        err = ledger_bind_i64(l, st, ":status", status);
    if (!err)
        err = ledger_bind_i64(l, st, ":now", now);
    return run_bound(l, st, err, "recording a post's answer");
}

int ls_ledger_post_drop(struct ls_ledger *l, const char *sink, const char *lead_id, const char *day)
{
    sqlite3_stmt *del = l->st[ST_POST_DELETE], *lower = l->st[ST_DAY_LOWER];
    int err =
        l->readonly ? ls_error(LS_EDB, "ledger %s: opened read-only", l->path) : ls_ledger_begin(l);

    if (err)
        return err;
    err = run_bound(l, del, bind_two(l, del, sink, ":lead_id", lead_id), "dropping a post mark");
    if (!err)
        err = run_bound(l, lower, bind_two(l, lower, sink, ":day", day), "uncounting a post");
    return txn_end(l, err);
}

/* Steps a one-row read; *row 0 when it found none. The caller resets. */
static int read_one(struct ls_ledger *l, sqlite3_stmt *st, const char *what, int *row)
{
    int rc = sqlite3_step(st);

    *row = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ledger_db_err(l, rc, what);
}

int ls_ledger_post_get(struct ls_ledger *l, const char *sink, const char *lead_id,
                       enum ls_post_mark *mark, int *status)
{
    sqlite3_stmt *st = l->st[ST_POST_GET];
    int row = 0;
    int err = bind_two(l, st, sink, ":lead_id", lead_id);

    *mark = LS_POST_NONE;
    *status = 0;
    if (!err)
        err = read_one(l, st, "reading a post mark", &row);
    if (!err && row) {
        const char *v = (const char *)sqlite3_column_text(st, 0);

        *mark = LS_POST_POSTING; /* anything unreadable counts as unknown */
        for (int i = LS_POST_POSTING; i <= LS_POST_REQUEUED; i++)
            if (v && strcmp(v, mark_text[i]) == 0)
                *mark = (enum ls_post_mark)i;
        *status = sqlite3_column_int(st, 1);
    }
    ledger_reset(st);
    return err;
}

int ls_ledger_post_count(struct ls_ledger *l, const char *sink, const char *day, int64_t *n)
{
    sqlite3_stmt *st = l->st[ST_DAY_GET];
    int row = 0;
    int err = bind_two(l, st, sink, ":day", day);

    *n = 0;
    if (!err)
        err = read_one(l, st, "reading the day's posts", &row);
    if (!err && row)
        *n = sqlite3_column_int64(st, 0);
    ledger_reset(st);
    return err;
}
