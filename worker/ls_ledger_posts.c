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
    sqlite3_stmt *st = ledger_st(l, ST_SYNC_GET);
    int rc, err;

    if (l->readonly)
        return ls_error(LS_EDB, "ledger %s: opened read-only", l->path);
    if (!st)
        return LS_EDB; /* the message is ledger_st's */
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
    const struct ledger_arg mark[] = {ARG_STATIC(":sink", sink), ARG_STATIC(":lead_id", lead_id),
                                      ARG_STATIC(":delivery_id", delivery_id),
                                      ARG_I64(":now", now)};
    const struct ledger_arg count[] = {ARG_STATIC(":sink", sink), ARG_STATIC(":day", day)};
    int level = 2;
    int err = durable_begin(l, &level);

    if (err)
        return err;
    err = ledger_exec(l, ledger_st(l, ST_POST_MARK), mark, LS_ARRAY_LEN(mark), "marking a post");
    if (!err)
        err = ledger_exec(l, ledger_st(l, ST_DAY_RAISE), count, LS_ARRAY_LEN(count),
                          "counting a post");
    return durable_end(l, level, err);
}

int ls_ledger_post_answer(struct ls_ledger *l, const char *sink, const char *lead_id,
                          enum ls_post_mark mark, int status, int64_t now)
{
    const char *state = mark == LS_POST_CREATED   ? "created"
                        : mark == LS_POST_UNKNOWN ? "unknown"
                                                  : NULL;
    const struct ledger_arg args[] = {ARG_STATIC(":sink", sink), ARG_STATIC(":lead_id", lead_id),
                                      ARG_STATIC(":state", state), ARG_I64(":status", status),
                                      ARG_I64(":now", now)};

    if (!state)
        return ls_error(LS_EINVAL, "ledger: a post's answer is created or unknown");
    return ledger_exec(l, ledger_st(l, ST_POST_ANSWER), args, LS_ARRAY_LEN(args),
                       "recording a post's answer");
}

int ls_ledger_post_drop(struct ls_ledger *l, const char *sink, const char *lead_id, const char *day)
{
    const struct ledger_arg mark[] = {ARG_STATIC(":sink", sink), ARG_STATIC(":lead_id", lead_id)};
    const struct ledger_arg count[] = {ARG_STATIC(":sink", sink), ARG_STATIC(":day", day)};
    int err =
        l->readonly ? ls_error(LS_EDB, "ledger %s: opened read-only", l->path) : ls_ledger_begin(l);

    if (err)
        return err;
    err = ledger_exec(l, ledger_st(l, ST_POST_DELETE), mark, LS_ARRAY_LEN(mark),
                      "dropping a post mark");
    if (!err)
        err = ledger_exec(l, ledger_st(l, ST_DAY_LOWER), count, LS_ARRAY_LEN(count),
                          "uncounting a post");
    return txn_end(l, err);
}

int ls_ledger_post_get(struct ls_ledger *l, const char *sink, const char *lead_id,
                       enum ls_post_mark *mark, int *status)
{
    const struct ledger_arg args[] = {ARG_STATIC(":sink", sink), ARG_STATIC(":lead_id", lead_id)};
    sqlite3_stmt *st = ledger_st(l, ST_POST_GET);
    int found = 0;
    int err = ledger_row(l, st, args, LS_ARRAY_LEN(args), "reading a post mark", &found);

    *mark = LS_POST_NONE;
    *status = 0;
    if (!err && found) {
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
    const struct ledger_arg args[] = {ARG_STATIC(":sink", sink), ARG_STATIC(":day", day)};
    sqlite3_stmt *st = ledger_st(l, ST_DAY_GET);
    int found = 0;
    int err = ledger_row(l, st, args, LS_ARRAY_LEN(args), "reading the day's posts", &found);

    *n = !err && found ? sqlite3_column_int64(st, 0) : 0;
    ledger_reset(st);
    return err;
}
