/*
 * ls_ledger_int.h - what the parts of the ledger share; nothing outside
 * worker/ls_ledger*.c includes it.
 *
 * The ledger is one SQLite file with four parts, one source file each:
 *   ls_ledger.c         the file: open, lock, integrity record, migrations,
 *                       transactions, meta
 *   ls_ledger_sync.c    sync state: rows and leads
 *   ls_ledger_outbox.c  the outbox: deliveries, delivered leads, dead
 *                       letters, purge, sinks' pauses
 *   ls_ledger_runs.c    runs and statistics
 *   ls_ledger_sinks.c   sink names: renames, each sink's kind
 *   ls_ledger_posts.c   a sink's posts: marks and the day's count
 * and the statement plumbing they all use (ls_ledger_stmt.c). Each part
 * lists its SQL in a table of its own; each statement is prepared once, on
 * its first use (ledger_st).
 */
#ifndef LS_LEDGER_INT_H
#define LS_LEDGER_INT_H

#include "ls_ledger.h"

#include <sqlite3.h>

#include <stdint.h>

/* How long a statement waits for another connection's lock. */
#define LEDGER_BUSY_TIMEOUT_MS 10000

/* Runtime statements, each prepared on first use (ledger_st). */
enum ls_ledger_stmt {
    /* the file: transactions and savepoints, meta (ls_ledger.c) */
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_META_GET,
    ST_META_SET,
    ST_META_DEL,
    /* sync state: rows and leads (ls_ledger_sync.c) */
    ST_ROW_GET,
    ST_ROW_PUT,
    ST_LEAD_GET,
    ST_LEAD_PUT,
    /* the outbox: deliveries, delivered leads, dead letters, purge (ls_ledger_outbox.c) */
    ST_BODY_PUT,
    ST_ENQUEUE,
    ST_COALESCE,
    ST_PENDING,
    ST_MARK_DELIVERED,
    ST_SINK_LEAD_PUT,
    ST_SINK_LEAD_GET,
    ST_NEXT_DUE,
    ST_PENDING_COUNT,
    ST_MARK_RETRY,
    ST_MARK_DEAD,
    ST_DEAD_SUPERSEDE,
    ST_DEAD_REQUEUE,
    ST_PENDING_DUE_NOW,
    ST_DEAD_LETTERS,
    ST_PURGE,
    ST_INLINE_ADD,
    ST_USAGE_PUT,
    ST_USAGE_GET,
    ST_PAUSE_SET,
    ST_PAUSE_GET,
    ST_PAUSE_CLEAR,
    /* a sink's posts (ls_ledger_posts.c) */
    ST_POST_GET,
    ST_POST_MARK,
    ST_POST_ANSWER,
    ST_POST_DELETE,
    ST_DAY_RAISE,
    ST_DAY_LOWER,
    ST_DAY_GET,
    ST_SYNC_GET,
    /* runs and statistics (ls_ledger_runs.c) */
    ST_SINK_STATS,
    ST_INLINE_STATS,
    ST_ROW_COUNT,
    ST_ROWS_BETWEEN,
    ST_RUN_START,
    ST_RUN_FINISH,
    ST_LAST_RUN,
    ST_COUNT
};

/* One statement of a part: ST_COUNT and NULL end a part's table. */
struct ls_ledger_sql {
    enum ls_ledger_stmt id;
    const char *sql;
};

extern const struct ls_ledger_sql ls_ledger_file_sql[];
extern const struct ls_ledger_sql ls_ledger_sync_sql[];
extern const struct ls_ledger_sql ls_ledger_outbox_sql[];
extern const struct ls_ledger_sql ls_ledger_runs_sql[];
extern const struct ls_ledger_sql ls_ledger_posts_sql[];

/* The ledger file as leadsync left it at its last clean close, and when it
 * was last checked in full (ls_ledger.c, "The integrity check"). */
struct file_record {
    int valid;
    unsigned long long dev, ino;
    long long size, mtime_s, mtime_ns, checked_at;
};

/* The lock file's text (pure, for tests): "<pid>\n" and, after a clean
 * close, "clean <dev> <ino> <size> <mtime_s> <mtime_ns> <checked_at>\n".
 * Reads text[0..n) into *pid (0 when the first line is not a pid) and *r
 * (valid only when the record is exactly that, every number in range). */
void ledger_lock_parse(const char *text, size_t n, long *pid, struct file_record *r);
/* Writes the lock file's text into buf; its length, or -1 when it does not fit. */
int ledger_lock_format(long pid, const struct file_record *r, char *buf, size_t cap);

/* The leads' upserts of the open transaction, one merged entry per lead,
 * written in key order when it commits (ls_ledger_sync.c, "Leads"). */
struct lead_put {
    char *lead_id;
    int max_stage, dnc;
    int64_t first_seen, updated_at;
    struct ls_ledger_version newest; /* timestamp NULL: keep the recorded one */
};
struct lead_puts {
    struct lead_put *v;
    size_t n, cap;
    size_t *slot; /* open addressing over v: index + 1, 0 for a free slot */
    size_t nslot; /* a power of two, at least twice cap */
};

struct ls_ledger {
    sqlite3 *db;
    char *path;
    int lock_fd;
    int readonly;
    int shared;              /* opened beside the lock's holder (ls_ledger_opts.share) */
    int opened;              /* the open completed: a clean close may be recorded */
    int suspect;             /* SQLite reported damage or an I/O error: record nothing */
    int checked;             /* the integrity check ran on this open */
    long long checked_at;    /* when the last full check ran (epoch seconds) */
    struct file_record prev; /* what the lock file said when we took it */
    struct lead_puts puts;   /* leads written when the transaction commits */
    sqlite3_stmt *st[ST_COUNT];
    /* Where each named parameter of st[] is, found once (ls_ledger_stmt.c):
     * SQLite finds a name by comparing it with each of the statement's. */
    struct ledger_param {
        const sqlite3_stmt *st;
        const char *name; /* the caller's string: the same literal each call */
        int i;
    } params[512];
};

/* The leads' upserts kept for the commit (ls_ledger_sync.c): flush writes
 * them, in key order, into the open transaction; drop forgets them (the
 * transaction rolls back, or the ledger closes). */
int ledger_leads_flush(struct ls_ledger *l);
void ledger_leads_drop(struct ls_ledger *l);

/* Prepares statement id into l->st[id]: the statement, or NULL with the
 * last error set (ls_ledger.c). */
sqlite3_stmt *ledger_prepare(struct ls_ledger *l, enum ls_ledger_stmt id);
/* Statement id, prepared on its first use; NULL when that failed, with the
 * last error set. The plumbing below takes a NULL statement as that failure
 * (returns LS_EDB, keeps the message), so a caller need not check it. */
static inline sqlite3_stmt *ledger_st(struct ls_ledger *l, enum ls_ledger_stmt id)
{
    return l->st[id] ? l->st[id] : ledger_prepare(l, id);
}

/* Statement plumbing (ls_ledger_stmt.c). Each sets the last error. */

/* Sets the last error for a failed SQLite call made while doing `what`. */
int ledger_db_err(struct ls_ledger *l, int rc, const char *what);
/* Resets a statement and clears its bindings. */
void ledger_reset(sqlite3_stmt *st);
int ledger_bind_text(struct ls_ledger *l, sqlite3_stmt *st, const char *name, const char *v);
/* ledger_bind_text without a copy: v must stay as it is until the statement
 * is reset (ledger_run, ledger_reset), as in a bind-then-step function. */
int ledger_bind_static(struct ls_ledger *l, sqlite3_stmt *st, const char *name, const char *v);
int ledger_bind_i64(struct ls_ledger *l, sqlite3_stmt *st, const char *name, int64_t v);
/* Binds :error, cut to ~300 bytes on a UTF-8 boundary. */
int ledger_bind_error(struct ls_ledger *l, sqlite3_stmt *st, const char *error);
/* Steps a statement that returns no rows to completion and resets it. */
int ledger_run(struct ls_ledger *l, sqlite3_stmt *st, const char *what);

/* One named parameter of a statement, for ledger_bind and ledger_exec:
 *   const struct ledger_arg args[] = {ARG_TEXT(":sink", sink), ARG_I64(":now", now)};
 *   return ledger_exec(l, st, args, LS_ARRAY_LEN(args), "doing this");   */
enum ledger_arg_kind { ARG_KIND_TEXT, ARG_KIND_STATIC, ARG_KIND_I64, ARG_KIND_ERROR };
struct ledger_arg {
    const char *name;
    enum ledger_arg_kind kind;
    const char *text; /* TEXT, STATIC, ERROR; NULL binds SQL NULL */
    int64_t i64;      /* I64 */
};
#define ARG_TEXT(name, v)                                                                          \
    {                                                                                              \
        (name), ARG_KIND_TEXT, (v), 0                                                              \
    }
#define ARG_STATIC(name, v)                                                                        \
    {                                                                                              \
        (name), ARG_KIND_STATIC, (v), 0                                                            \
    } /* as ledger_bind_static */
#define ARG_I64(name, v)                                                                           \
    {                                                                                              \
        (name), ARG_KIND_I64, NULL, (v)                                                            \
    }
#define ARG_ERROR(v)                                                                               \
    {                                                                                              \
        ":error", ARG_KIND_ERROR, (v), 0                                                           \
    } /* as ledger_bind_error */
/* Binds args[0..n); on failure resets the statement and returns the error. */
int ledger_bind(struct ls_ledger *l, sqlite3_stmt *st, const struct ledger_arg *args, size_t n);
/* ledger_bind, then ledger_run. */
int ledger_exec(struct ls_ledger *l, sqlite3_stmt *st, const struct ledger_arg *args, size_t n,
                const char *what);
/* ledger_bind, then one step: *found = 1 with the row's columns readable, or
 * 0 when there is none. The caller reads the row, then resets the statement
 * (also on error). */
int ledger_row(struct ls_ledger *l, sqlite3_stmt *st, const struct ledger_arg *args, size_t n,
               const char *what, int *found);
/* Column i as a malloc'd string, NULL for SQL NULL. */
char *ledger_col_strdup(sqlite3_stmt *st, int i);
/* A savepoint makes a multi-statement operation atomic inside or outside a
 * caller's transaction; op_end releases it, or undoes it when err != 0 and
 * returns err unchanged. */
int ledger_op_begin(struct ls_ledger *l);
int ledger_op_end(struct ls_ledger *l, int err);

#endif /* LS_LEDGER_INT_H */
