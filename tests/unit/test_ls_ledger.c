/* test_ls_ledger.c - the SQLite ledger: files, lock, schema, every operation. */
#include "ls_test.h"

#include "ls_embed.h"
#include "ls_ledger.h"
#include "ls_ledger_int.h"

#include <sqlite3.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int file_mode(const char *path)
{
    struct stat sb;

    assert_int_equal(stat(path, &sb), 0);
    return (int)(sb.st_mode & 0777);
}

static int known_version(void)
{
    int v = 0;

    for (size_t i = 0; ls_migrations[i].name; i++)
        v = (int)strtol(ls_migrations[i].name, NULL, 10); /* NNN_*.sql */
    return v;
}

/* Runs one integer-returning query on a separate connection. */
static int64_t query_int(const char *path, const char *q)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void exec_raw(const char *path, const char *q)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void write_file(const char *path, const char *data, size_t n, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

/* The deliveries pending for sink at now (at most limit) are those of ids,
 * in order: "a1,b1", or "" for none. */
static void expect_pending(struct ls_ledger *l, const char *sink, int64_t now, size_t limit,
                           const char *ids)
{
    struct ls_delivery *d = NULL;
    size_t n = 0;
    char got[256] = "";

    assert_int_equal(ls_ledger_pending(l, sink, now, limit, &d, &n), 0);
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(got);

        snprintf(got + k, sizeof(got) - k, "%s%s", i ? "," : "", d[i].delivery_id);
    }
    assert_string_equal(got, ids);
    if (n == 0)
        assert_null(d);
    ls_deliveries_free(d, n);
}

static void test_file_modes(void **state)
{
    struct lst_ledger_fix *f = *state;
    char *lock = ls_xasprintf("%s.lock", f->path);
    char *wal = ls_xasprintf("%s-wal", f->path);

    assert_int_equal(file_mode(f->path), 0600);
    assert_int_equal(file_mode(lock), 0600);
    assert_int_equal(ls_ledger_meta_set(f->l, "k", "v"), 0);
    if (access(wal, F_OK) == 0)
        assert_int_equal(file_mode(wal), 0600);
    ls_ledger_close(f->l);
    f->l = NULL;

    /* Wider permissions on existing files are narrowed at open. */
    assert_int_equal(chmod(f->path, 0644), 0);
    assert_int_equal(chmod(lock, 0666), 0);
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(file_mode(f->path), 0600);
    assert_int_equal(file_mode(lock), 0600);
    free(lock);
    free(wal);
}

static void test_wal_files_narrowed(void **state)
{
    struct lst_ledger_fix *f = *state;
    char *wal = ls_xasprintf("%s-wal", f->path);
    struct ls_ledger *l = NULL;

    /* A stray -wal left with wide permissions (e.g. by another tool). */
    ls_ledger_close(f->l);
    f->l = NULL;
    /* Non-empty: SQLite itself narrows only an empty one it opens. */
    write_file(wal, "0123456789abcdef0123456789abcdef", 32, 0644);
    assert_int_equal(chmod(wal, 0644), 0);
    assert_int_equal(lst_ledger_open(f->path, 0, &l), 0);
    assert_int_equal(file_mode(wal), 0600);
    ls_ledger_close(l);
    free(wal);
}

/* A pre-planted symbolic link at the ledger, its -wal or its -shm is
 * refused (not followed, its target untouched), with a message naming it. */
static void test_symlinks_refused(void **state)
{
    struct lst_ledger_fix *f = *state;
    static const char *const suffixes[] = {"-wal", "-shm", ""};
    char *target = ls_xasprintf("%s/target", f->dir);
    struct ls_ledger *l = NULL;
    size_t i;

    ls_ledger_close(f->l);
    f->l = NULL;
    write_file(target, "precious", 8, 0644);
    for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char *p = ls_xasprintf("%s%s", f->path, suffixes[i]);

        if (!*suffixes[i])
            assert_int_equal(unlink(p), 0);
        assert_int_equal(symlink(target, p), 0);
        assert_int_equal(lst_ledger_open(f->path, 0, &l), LS_EIO);
        assert_null(l);
        assert_non_null(strstr(ls_error_last(), p));
        assert_non_null(strstr(ls_error_last(), "symbolic link"));
        assert_int_equal(file_mode(target), 0644); /* not chmodded through the link */
        assert_int_equal(unlink(p), 0);
        free(p);
    }
    free(target);
}

static void test_lock(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_ledger *l2 = NULL;
    char pid[64];

    assert_int_equal(lst_ledger_open(f->path, 0, &l2), LS_ELOCKED);
    assert_null(l2);
    assert_non_null(strstr(ls_error_last(), f->path));
    assert_non_null(strstr(ls_error_last(), "in use by another leadsync process"));
    snprintf(pid, sizeof(pid), "(pid %ld)", (long)getpid());
    assert_non_null(strstr(ls_error_last(), pid));

    /* Read-only opens take no lock. */
    assert_int_equal(lst_ledger_open(f->path, 1, &l2), 0);
    ls_ledger_close(l2);
    l2 = NULL;

    ls_ledger_close(f->l);
    f->l = NULL;
    assert_int_equal(lst_ledger_open(f->path, 0, &l2), 0);
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), LS_ELOCKED);
    ls_ledger_close(l2);
}

static void test_migrations(void **state)
{
    struct lst_ledger_fix *f = *state;
    char *v = NULL;

    assert_true(known_version() >= 1);
    assert_int_equal(query_int(f->path, "PRAGMA user_version"), known_version());
    assert_int_equal(ls_ledger_meta_set(f->l, "cursor", "2026-01-01T00:00:00Z"), 0);
    ls_ledger_close(f->l);
    f->l = NULL;

    /* Reopening applies nothing twice and keeps the data. */
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(query_int(f->path, "PRAGMA user_version"), known_version());
    assert_int_equal(ls_ledger_meta_get(f->l, "cursor", &v), 0);
    assert_string_equal(v, "2026-01-01T00:00:00Z");
    free(v);
    assert_int_equal(
        query_int(f->path, "SELECT count(*) FROM sqlite_schema WHERE name = 'outbox_pending'"), 1);
    /* Statements are prepared on first use: every one fits the schema. */
    assert_int_equal(ls_ledger_prepare_all(f->l), 0);
}

/* A statement prepared on its first use that no longer fits the schema is
 * an error of that call, with SQLite's reason, never a crash. */
static void test_statement_prepared_late(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_api_usage u;
    int64_t started = 0, finished = 0;
    int found = 0, code = 0;
    char *summary = NULL;

    exec_raw(f->path, "DROP TABLE sink_usage; DROP TABLE runs;");
    assert_int_equal(ls_ledger_usage_get(f->l, "hook", &u, &found), LS_EDB);
    assert_non_null(strstr(ls_error_last(), "sink_usage"));
    assert_int_equal(found, 0);
    assert_int_equal(ls_ledger_last_run(f->l, &started, &finished, &code, &summary), LS_EDB);
    assert_non_null(strstr(ls_error_last(), "runs"));
    assert_null(summary);
    assert_int_equal(ls_ledger_prepare_all(f->l), LS_EDB);
    /* The statements that did prepare still work. */
    assert_int_equal(ls_ledger_meta_set(f->l, "k", "v"), 0);
}

static void test_journal_modes(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_ledger_opts o = {0};
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    ls_ledger_close(f->l);
    f->l = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);

    o.path = f->path;
    o.wal = 0;
    assert_int_equal(ls_ledger_open(&o, &f->l), 0);
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "delete");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_newer_schema_refused(void **state)
{
    struct lst_ledger_fix *f = *state;
    char *q = NULL;
    char want[128];

    ls_ledger_close(f->l);
    f->l = NULL;
    q = ls_xasprintf("PRAGMA user_version = %d", known_version() + 5);
    exec_raw(f->path, q);
    free(q);
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), LS_EDB);
    assert_null(f->l);
    snprintf(want, sizeof(want), "ledger schema %d is newer than this leadsync (%d)",
             known_version() + 5, known_version());
    assert_non_null(strstr(ls_error_last(), want));
    assert_int_equal(lst_ledger_open(f->path, 1, &f->l), LS_EDB);
    assert_non_null(strstr(ls_error_last(), "newer"));
}

static void test_garbage_file(void **state)
{
    struct lst_ledger_fix *f = *state;
    char junk[4096];

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)('a' + i % 26);
    write_file(f->path, junk, sizeof(junk), 0600);
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), LS_EDB);
    assert_null(f->l);
    assert_non_null(strstr(ls_error_last(), f->path));
    assert_non_null(strstr(ls_error_last(), "is not a valid leadsync ledger"));
    assert_non_null(strstr(ls_error_last(), "not a database"));
    assert_int_equal(lst_ledger_open(f->path, 1, &f->l), LS_EDB);
    assert_non_null(strstr(ls_error_last(), "is not a valid leadsync ledger"));

    /* Short garbage, too. */
    write_file(f->path, "hello", 5, 0600);
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), LS_EDB);
    assert_non_null(strstr(ls_error_last(), "is not a valid leadsync ledger"));
}

static void test_foreign_sqlite_file(void **state)
{
    struct lst_ledger_fix *f = *state;

    exec_raw(f->path, "CREATE TABLE notes (x TEXT)");
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), LS_EDB);
    assert_non_null(strstr(ls_error_last(), "is not a valid leadsync ledger"));
    assert_int_equal(query_int(f->path, "PRAGMA user_version"), 0);
}

static void test_bad_paths(void **state)
{
    struct lst_ledger_fix *f = *state;
    char *p = ls_xasprintf("%s/missing/dir/ledger.db", f->dir);

    assert_int_equal(lst_ledger_open(p, 0, &f->l), LS_EIO);
    assert_non_null(strstr(ls_error_last(), p));
    assert_int_not_equal(lst_ledger_open(p, 1, &f->l), 0);
    assert_non_null(strstr(ls_error_last(), p));
    /* Read-only never creates the file. */
    assert_int_not_equal(lst_ledger_open(f->path, 1, &f->l), 0);
    assert_int_not_equal(access(f->path, F_OK), 0);
    /* A directory is no ledger. */
    assert_int_not_equal(lst_ledger_open(f->dir, 0, &f->l), 0);
    assert_null(f->l);
    free(p);
}

static void test_readonly(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_ledger *ro = NULL;
    char *v = NULL;
    int64_t rows = 0, leads = 0;
    struct ls_sink_stats *s = NULL;
    size_t n = 0;

    assert_int_equal(ls_ledger_meta_set(f->l, "cursor", "c1"), 0);
    assert_int_equal(ls_ledger_row_put(f->l, "p", "r", "h", "t", "L1", NULL, 1), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "L1", "d1", "{}", 1, 1), 0);

    /* While the writer is open. */
    assert_int_equal(lst_ledger_open(f->path, 1, &ro), 0);
    assert_int_equal(ls_ledger_meta_get(ro, "cursor", &v), 0);
    assert_string_equal(v, "c1");
    free(v);
    assert_int_equal(ls_ledger_row_count(ro, &rows, &leads), 0);
    assert_int_equal(rows, 1);
    assert_int_equal(ls_ledger_sink_stats(ro, &s, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(s[0].pending, 1);
    free(s);

    assert_int_equal(ls_ledger_meta_set(ro, "cursor", "c2"), LS_EDB);
    assert_non_null(strstr(ls_error_last(), "read-only"));
    assert_int_equal(ls_ledger_enqueue(ro, "hook", "L1", "d2", "{}", 1, 1), LS_EDB);
    assert_non_null(strstr(ls_error_last(), "read-only"));
    if (ls_ledger_begin(ro) == 0) {
        assert_int_equal(ls_ledger_row_put(ro, "p", "r2", "h", "t", "L1", NULL, 1), LS_EDB);
        assert_non_null(strstr(ls_error_last(), "read-only"));
        ls_ledger_rollback(ro);
    } else {
        assert_non_null(strstr(ls_error_last(), "read-only"));
    }
    assert_int_equal(ls_ledger_prepare_all(ro), 0);
    ls_ledger_close(ro);

    assert_int_equal(ls_ledger_meta_get(f->l, "cursor", &v), 0);
    assert_string_equal(v, "c1");
    free(v);
}

static void test_readonly_empty_or_old(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_ledger *ro = NULL;

    write_file(f->path, "", 0, 0600);
    assert_int_equal(lst_ledger_open(f->path, 1, &ro), LS_EDB);
    assert_non_null(strstr(ls_error_last(), f->path));
    assert_int_not_equal(access(f->path, F_OK), -1);
}

static void test_meta(void **state)
{
    struct lst_ledger_fix *f = *state;
    char *v = NULL;

    assert_int_equal(ls_ledger_meta_get(f->l, "cursor", &v), 0);
    assert_null(v);
    assert_int_equal(ls_ledger_meta_set(f->l, "cursor", "a"), 0);
    assert_int_equal(ls_ledger_meta_set(f->l, "cursor", "b"), 0);
    assert_int_equal(ls_ledger_meta_set(f->l, "table", "MarketplaceLeads"), 0);
    assert_int_equal(ls_ledger_meta_get(f->l, "cursor", &v), 0);
    assert_string_equal(v, "b");
    free(v);
    assert_int_equal(ls_ledger_meta_get(f->l, "table", &v), 0);
    assert_string_equal(v, "MarketplaceLeads");
    free(v);
    assert_int_equal(ls_ledger_meta_set(f->l, "cursor", NULL), 0);
    assert_int_equal(ls_ledger_meta_get(f->l, "cursor", &v), 0);
    assert_null(v);
}

static void test_rows(void **state)
{
    struct lst_ledger_fix *f = *state;
    char hash[65];
    char h1[65], h2[65];
    int found = -1;
    int64_t rows = 0, leads = 0;

    memset(h1, 'a', 64);
    h1[64] = '\0';
    memset(h2, 'b', 64);
    h2[64] = '\0';
    assert_int_equal(ls_ledger_row_get(f->l, "pk", "rk", hash, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(
        ls_ledger_row_put(f->l, "pk", "rk", h1, "2026-01-01T00:00:00Z", "L1", NULL, 100), 0);
    assert_int_equal(ls_ledger_row_get(f->l, "pk", "rk", hash, &found), 0);
    assert_int_equal(found, 1);
    assert_string_equal(hash, h1);
    assert_int_equal(
        ls_ledger_row_put(f->l, "pk", "rk", h2, "2026-01-02T00:00:00Z", "L1", NULL, 200), 0);
    assert_int_equal(ls_ledger_row_get(f->l, "pk", "rk", hash, &found), 0);
    assert_string_equal(hash, h2);
    /* Same partition key, other row key: a different row. */
    assert_int_equal(ls_ledger_row_get(f->l, "pk", "rk2", hash, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(ls_ledger_row_count(f->l, &rows, &leads), 0);
    assert_int_equal(rows, 1);
    assert_int_equal(leads, 0);
    assert_int_equal(query_int(f->path, "SELECT first_seen FROM rows"), 100);
    assert_int_equal(query_int(f->path, "SELECT last_seen FROM rows"), 200);
}

static void test_leads(void **state)
{
    struct lst_ledger_fix *f = *state;
    int stage = -1, dnc = -1, found = -1;
    int64_t rows = 0, leads = 0;

    assert_int_equal(ls_ledger_lead_get(f->l, "L1", &stage, &dnc, NULL, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(ls_ledger_lead_put(f->l, "L1", 3, 0, NULL, 10), 0);
    assert_int_equal(ls_ledger_lead_get(f->l, "L1", &stage, &dnc, NULL, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(stage, 3);
    assert_int_equal(dnc, 0);
    /* The highest stage stays; dnc follows the latest state. */
    assert_int_equal(ls_ledger_lead_put(f->l, "L1", 1, 1, NULL, 20), 0);
    assert_int_equal(ls_ledger_lead_get(f->l, "L1", &stage, &dnc, NULL, &found), 0);
    assert_int_equal(stage, 3);
    assert_int_equal(dnc, 1);
    assert_int_equal(ls_ledger_lead_put(f->l, "L1", 5, 0, NULL, 30), 0);
    assert_int_equal(ls_ledger_lead_get(f->l, "L1", &stage, &dnc, NULL, &found), 0);
    assert_int_equal(stage, 5);
    assert_int_equal(dnc, 0);
    assert_int_equal(ls_ledger_lead_put(f->l, "L2", 0, 0, NULL, 30), 0);
    assert_int_equal(ls_ledger_row_count(f->l, &rows, &leads), 0);
    assert_int_equal(leads, 2);
}

static void stats_for(struct ls_ledger *l, const char *sink, struct ls_sink_stats *out)
{
    struct ls_sink_stats *s = NULL;
    size_t n = 0;

    memset(out, 0, sizeof(*out));
    assert_int_equal(ls_ledger_sink_stats(l, &s, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].sink, sink) == 0)
            *out = s[i];
    free(s);
}

/* A lead's newest row version: recorded by lead_put, kept when put gives none. */
static void test_lead_newest(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_ledger_version v = {0};
    struct ls_ledger_version in = {"2026-11-24T02:03:34.2500000Z", "11/24/2026 2:03:34 AM", "p",
                                   "aa-newer"};
    int stage = 0, dnc = 0, found = 0;

    assert_int_equal(ls_ledger_lead_put(f->l, "L1", 1, 0, NULL, 10), 0);
    assert_int_equal(ls_ledger_lead_get(f->l, "L1", &stage, &dnc, &v, &found), 0);
    assert_int_equal(found, 1);
    assert_null(v.timestamp);
    assert_null(v.row_key);
    assert_int_equal(ls_ledger_lead_put(f->l, "L1", 3, 0, &in, 20), 0);
    assert_int_equal(ls_ledger_lead_put(f->l, "L1", 1, 0, NULL, 30), 0); /* a late row */
    assert_int_equal(ls_ledger_lead_get(f->l, "L1", &stage, &dnc, &v, &found), 0);
    assert_int_equal(stage, 3);
    assert_string_equal(v.timestamp, in.timestamp);
    assert_string_equal(v.created_time, in.created_time);
    assert_string_equal(v.partition_key, "p");
    assert_string_equal(v.row_key, "aa-newer");
    ls_ledger_version_free(&v);
    assert_null(v.timestamp);
}

/* Inside a transaction a lead's upserts are kept and written at the commit,
 * in key order: reads see them at once, the commit leaves what upserting
 * each at once would have left, a rollback leaves nothing. */
static void test_leads_in_transaction(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_ledger_version v = {0};
    struct ls_ledger_version in = {"2026-11-24T02:03:34.2500000Z", "11/24/2026 2:03:34 AM", "p",
                                   "aa-newer"};
    int stage = 0, dnc = 0, found = 0;
    int64_t rows = 0, leads = 0;

    assert_int_equal(ls_ledger_lead_put(f->l, "L2", 2, 0, NULL, 5), 0); /* at once */
    assert_int_equal(ls_ledger_begin(f->l), 0);
    assert_int_equal(ls_ledger_lead_put(f->l, "L1", 1, 0, NULL, 10), 0);
    assert_int_equal(ls_ledger_lead_get(f->l, "L1", &stage, &dnc, &v, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(stage, 1);
    assert_null(v.timestamp);
    assert_int_equal(ls_ledger_lead_put(f->l, "L1", 3, 1, &in, 20), 0);
    assert_int_equal(ls_ledger_lead_put(f->l, "L1", 1, 0, NULL, 30), 0); /* a late row */
    assert_int_equal(ls_ledger_lead_put(f->l, "L2", 1, 1, &in, 30), 0);  /* over a stored one */
    assert_int_equal(ls_ledger_lead_get(f->l, "L1", &stage, &dnc, &v, &found), 0);
    assert_int_equal(stage, 3);
    assert_int_equal(dnc, 0);
    assert_string_equal(v.row_key, "aa-newer");
    ls_ledger_version_free(&v);
    assert_int_equal(ls_ledger_lead_get(f->l, "L2", &stage, &dnc, &v, &found), 0);
    assert_int_equal(stage, 2); /* the stored stage is higher */
    assert_int_equal(dnc, 1);
    assert_string_equal(v.timestamp, in.timestamp);
    ls_ledger_version_free(&v);
    assert_int_equal(ls_ledger_commit(f->l), 0);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM leads WHERE lead_id = 'L1'"
                                        " AND max_stage = 3 AND dnc = 0 AND first_seen = 10"
                                        " AND updated_at = 30 AND newest_row_key = 'aa-newer'"
                                        " AND newest_created_time = '11/24/2026 2:03:34 AM'"),
                     1);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM leads WHERE lead_id = 'L2'"
                                        " AND max_stage = 2 AND dnc = 1 AND first_seen = 5"
                                        " AND updated_at = 30 AND newest_partition_key = 'p'"),
                     1);
    /* rolled back: none of it */
    assert_int_equal(ls_ledger_begin(f->l), 0);
    assert_int_equal(ls_ledger_lead_put(f->l, "L3", 1, 0, NULL, 40), 0);
    assert_int_equal(ls_ledger_lead_put(f->l, "L1", 4, 1, NULL, 40), 0);
    ls_ledger_rollback(f->l);
    assert_int_equal(ls_ledger_lead_get(f->l, "L3", &stage, &dnc, NULL, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(ls_ledger_lead_get(f->l, "L1", &stage, &dnc, NULL, &found), 0);
    assert_int_equal(stage, 3);
    assert_int_equal(dnc, 0);
    /* many leads in one transaction: counted inside it, all there after it */
    assert_int_equal(ls_ledger_begin(f->l), 0);
    for (int i = 0; i < 3000; i++) {
        char id[17];

        snprintf(id, sizeof(id), "%016x", (unsigned)(i * 2654435761u));
        assert_int_equal(ls_ledger_lead_put(f->l, id, i % 4, 0, NULL, 50), 0);
    }
    assert_int_equal(ls_ledger_row_count(f->l, &rows, &leads), 0);
    assert_int_equal(leads, 3002);
    assert_int_equal(ls_ledger_commit(f->l), 0);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM leads WHERE updated_at = 50"), 3000);
}

/* A late version at a coalescing sink is recorded as superseded: it neither
 * goes out nor supersedes the newer state queued before it. */
static void test_enqueue_late(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_sink_stats st;

    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a-new", "2", LS_ENQUEUE_COALESCE, 10),
                     0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a-old", "1", LS_ENQUEUE_LATE, 11), 0);
    stats_for(f->l, "hook", &st);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.superseded, 1);
    expect_pending(f->l, "hook", 100, 10, "a-new");
    /* replayed after a crash: still one record of it */
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a-old", "1", LS_ENQUEUE_LATE, 12), 0);
    stats_for(f->l, "hook", &st);
    assert_int_equal(st.superseded, 1);
}

/* A ledger from before the leads kept their newest version: the upgrade
 * takes each lead's row with the latest Timestamp. */
static void test_migration_newest_backfill(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_ledger_version v = {0};
    int stage = 0, dnc = 0, found = 0;

    ls_ledger_close(f->l);
    f->l = NULL;
    assert_int_equal(unlink(f->path), 0);
    for (size_t i = 0; ls_migrations[i].name && strtol(ls_migrations[i].name, NULL, 10) < 5; i++)
        exec_raw(f->path, ls_migrations[i].data);
    exec_raw(
        f->path,
        "INSERT INTO rows VALUES ('p', 'zz', 'h1', '2026-11-24T02:03:34.1000000Z', 'L1', 1, 1);"
        "INSERT INTO rows VALUES ('p', 'aa', 'h2', '2026-11-24T02:03:34.2500000Z', 'L1', 1, 1);"
        "INSERT INTO rows VALUES ('q', 'mm', 'h3', '2026-11-24T02:03:30.0000000Z', 'L2', 1, 1);"
        "INSERT INTO leads VALUES ('L1', 3, 0, 1, 1); INSERT INTO leads VALUES ('L2', 1, 0, 1, 1);"
        "PRAGMA user_version = 4;");
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(ls_ledger_lead_get(f->l, "L1", &stage, &dnc, &v, &found), 0);
    assert_int_equal(stage, 3);
    assert_string_equal(v.timestamp, "2026-11-24T02:03:34.2500000Z");
    assert_string_equal(v.row_key, "aa");
    assert_null(v.created_time);
    ls_ledger_version_free(&v);
    assert_int_equal(ls_ledger_lead_get(f->l, "L2", &stage, &dnc, &v, &found), 0);
    assert_string_equal(v.partition_key, "q");
    ls_ledger_version_free(&v);
}

static void test_enqueue_duplicate(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    struct ls_sink_stats st;
    size_t n = 0;

    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "L1", "d1", "{\"v\":1}", 1, 100), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "L1", "d1", "{\"v\":9}", 1, 200), 0);
    stats_for(f->l, "hook", &st);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.superseded, 0);
    assert_int_equal(st.oldest_pending_at, 100);

    assert_int_equal(ls_ledger_pending(f->l, "hook", 100, 10, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].payload, "{\"v\":1}");
    assert_string_equal(d[0].sink, "hook");
    assert_string_equal(d[0].lead_id, "L1");
    assert_string_equal(d[0].delivery_id, "d1");
    assert_int_equal(d[0].attempts, 0);
    assert_int_equal(d[0].created_at, 100);
    assert_int_equal(d[0].next_attempt_at, 100);
    assert_int_equal(ls_ledger_mark_delivered(f->l, d[0].id, 200, 300), 0);
    ls_deliveries_free(d, n);

    /* A replayed enqueue does not resurrect a delivered delivery. */
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "L1", "d1", "{\"v\":1}", 1, 400), 0);
    stats_for(f->l, "hook", &st);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.oldest_pending_at, 0);

    /* Same delivery id for another sink is a separate delivery, sharing
     * the row version's one stored body. */
    assert_int_equal(ls_ledger_enqueue(f->l, "sf", "L1", "d1", "{}", 1, 400), 0);
    stats_for(f->l, "sf", &st);
    assert_int_equal(st.pending, 1);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM bodies"), 1);
    assert_int_equal(ls_ledger_pending(f->l, "sf", 400, 10, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].payload, "{\"v\":1}");
    ls_deliveries_free(d, n);

    assert_int_equal(ls_ledger_enqueue(f->l, NULL, "L1", "d1", "{}", 1, 400), LS_EINVAL);
}

static void test_coalescing(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    struct ls_sink_stats st;
    size_t n = 0;

    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a1", "1", 1, 10), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "B", "b1", "1", 1, 11), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a2", "2", 1, 12), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a3", "3", 1, 13), 0);
    /* Other sinks' deliveries of the same lead are not touched. */
    assert_int_equal(ls_ledger_enqueue(f->l, "sf", "A", "a1", "1", 1, 10), 0);
    stats_for(f->l, "hook", &st);
    assert_int_equal(st.pending, 2);
    assert_int_equal(st.superseded, 2);
    stats_for(f->l, "sf", &st);
    assert_int_equal(st.pending, 1);

    assert_int_equal(ls_ledger_pending(f->l, "hook", 100, 0, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].delivery_id, "b1");
    assert_string_equal(d[1].delivery_id, "a3");
    assert_string_equal(d[1].payload, "3");
    ls_deliveries_free(d, n);

    /* Re-enqueueing a superseded delivery stays a no-op. */
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a1", "1", 1, 20), 0);
    stats_for(f->l, "hook", &st);
    assert_int_equal(st.pending, 2);
    assert_int_equal(st.superseded, 2);
}

static void test_pending_one_per_lead(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    size_t n = 0;

    /* Without coalescing, a lead's states go out one at a time in order. */
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a1", "1", 0, 10), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a2", "2", 0, 11), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "B", "b1", "1", 0, 12), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "C", "c1", "1", 0, 13), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a3", "3", 0, 14), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "other", "D", "d1", "1", 0, 9), 0);

    expect_pending(f->l, "hook", 100, 10, "a1,b1,c1");

    /* limit */
    assert_int_equal(ls_ledger_pending(f->l, "hook", 100, 2, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].delivery_id, "a1");
    assert_string_equal(d[1].delivery_id, "b1");
    assert_int_equal(ls_ledger_mark_delivered(f->l, d[0].id, 200, 101), 0);
    ls_deliveries_free(d, n);

    /* Not yet due (created after now). */
    expect_pending(f->l, "hook", 12, 10, "a2,b1");

    /* An unknown sink has nothing. */
    expect_pending(f->l, "nope", 100, 10, ""); /* and the list is NULL */
}

static void test_mark_retry(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    size_t n = 0;
    int64_t id;
    int64_t at = 0;
    int found = -1;

    assert_int_equal(ls_ledger_next_due(f->l, "hook", &at, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a1", "1", 0, 10), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a2", "2", 0, 11), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "B", "b1", "1", 0, 12), 0);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 20, 10, &d, &n), 0);
    assert_int_equal(n, 2);
    id = d[0].id;
    assert_string_equal(d[0].delivery_id, "a1");
    ls_deliveries_free(d, n);

    assert_int_equal(ls_ledger_mark_retry(f->l, id, 1000, 503, "service unavailable", 20), 0);
    /* a1 waits until 1000 and holds back a2; b1 goes on. */
    expect_pending(f->l, "hook", 999, 10, "b1");
    assert_int_equal(ls_ledger_next_due(f->l, "hook", &at, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(at, 12);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 1000, 10, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].delivery_id, "b1");
    assert_string_equal(d[1].delivery_id, "a1");
    assert_int_equal(d[1].attempts, 1);
    assert_int_equal(d[1].next_attempt_at, 1000);
    assert_int_equal(ls_ledger_mark_delivered(f->l, d[0].id, 200, 1000), 0);
    ls_deliveries_free(d, n);
    /* Only a1 (due at 1000) can go next; a2 (due at 11) waits behind it. */
    assert_int_equal(ls_ledger_next_due(f->l, "hook", &at, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(at, 1000);

    assert_int_equal(ls_ledger_mark_retry(f->l, 424242, 1, 500, "x", 1), LS_EINVAL);
    assert_int_equal(ls_ledger_mark_delivered(f->l, 424242, 200, 1), LS_EINVAL);
    assert_int_equal(ls_ledger_mark_dead(f->l, 424242, 400, "x", 1), LS_EINVAL);
    assert_non_null(strstr(ls_error_last(), "424242"));
}

/* The engine holds a delivery while the sync coalesces it into a newer one. */
static void test_superseded_in_flight(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    struct ls_sink_stats st;
    size_t n = 0;
    int64_t a1, b1;
    int delivered = 0;

    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a1", "1", 1, 10), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "B", "b1", "1", 1, 10), 0);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 10, 10, &d, &n), 0);
    assert_int_equal(n, 2);
    a1 = d[0].id;
    b1 = d[1].id;
    ls_deliveries_free(d, n);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a2", "2", 1, 11), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "B", "b2", "2", 1, 11), 0);

    /* a1 did reach the CRM: it is recorded as delivered. */
    assert_int_equal(ls_ledger_mark_delivered(f->l, a1, 200, 12), 0);
    assert_int_equal(ls_ledger_sink_lead_delivered(f->l, "hook", "A", &delivered), 0);
    assert_int_equal(delivered, 1);
    /* b1 failed: it stays superseded, neither pending again nor dead. */
    assert_int_equal(ls_ledger_mark_retry(f->l, b1, 500, 503, "busy", 12), 0);
    assert_int_equal(ls_ledger_mark_dead(f->l, b1, 400, "bad", 13), 0);
    stats_for(f->l, "hook", &st);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.superseded, 1);
    assert_int_equal(st.dead, 0);
    assert_int_equal(st.pending, 2);
    expect_pending(f->l, "hook", 20, 10, "a2,b2");
}

static void test_mark_delivered_sink_leads(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    size_t n = 0;
    int delivered = -1;

    assert_int_equal(ls_ledger_sink_lead_delivered(f->l, "hook", "A", &delivered), 0);
    assert_int_equal(delivered, 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a1", "1", 0, 10), 0);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 10, 10, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ls_ledger_mark_delivered(f->l, d[0].id, 201, 50), 0);
    ls_deliveries_free(d, n);
    assert_int_equal(ls_ledger_sink_lead_delivered(f->l, "hook", "A", &delivered), 0);
    assert_int_equal(delivered, 1);
    assert_int_equal(ls_ledger_sink_lead_delivered(f->l, "sf", "A", &delivered), 0);
    assert_int_equal(delivered, 0);
    assert_int_equal(query_int(f->path, "SELECT attempts FROM outbox WHERE delivery_id = 'a1'"), 1);
    assert_int_equal(query_int(f->path, "SELECT last_status FROM outbox WHERE delivery_id = 'a1'"),
                     201);

    /* A second delivery keeps the first delivery time. */
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a2", "2", 0, 60), 0);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 60, 10, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ls_ledger_mark_delivered(f->l, d[0].id, 200, 70), 0);
    ls_deliveries_free(d, n);
    assert_int_equal(query_int(f->path, "SELECT first_delivered_at FROM sink_leads"), 50);
}

static void test_mark_dead_and_retry_dead(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    struct ls_dead_letter *dl = NULL;
    struct ls_sink_stats st;
    char longerr[1000];
    size_t n = 0;

    /* 2-byte UTF-8 characters so that a naive cut would split one. */
    for (size_t i = 0; i + 1 < sizeof(longerr); i += 2) {
        longerr[i] = (char)0xc3;
        longerr[i + 1] = (char)0xa9;
    }
    longerr[0] = 'x';
    longerr[1] = 'y'; /* the first character stays whole */
    longerr[sizeof(longerr) - 1] = '\0';

    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a1", "1", 0, 10), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a2", "2", 0, 11), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "sf", "B", "b1", "1", 0, 12), 0);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 20, 10, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ls_ledger_mark_dead(f->l, d[0].id, 400, longerr, 30), 0);
    ls_deliveries_free(d, n);

    /* A dead letter does not block the lead's newer state. */
    expect_pending(f->l, "hook", 30, 10, "a2");
    assert_int_equal(ls_ledger_pending(f->l, "sf", 30, 10, &d, &n), 0);
    assert_int_equal(n, 1);
    /* what is recorded is redacted, whichever path built the message */
    assert_int_equal(
        ls_ledger_mark_dead(f->l, d[0].id, 422, "bad email jane@example.com, +1 555 010 9999", 31),
        0);
    ls_deliveries_free(d, n);

    assert_int_equal(ls_ledger_dead_letters(f->l, NULL, 0, &dl, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(dl[0].delivery_id, "a1");
    assert_string_equal(dl[0].sink, "hook");
    assert_string_equal(dl[0].lead_id, "A");
    assert_int_equal(dl[0].attempts, 1);
    assert_int_equal(dl[0].last_status, 400);
    assert_int_equal(dl[0].updated_at, 30);
    assert_true(strlen(dl[0].last_error) <= 300);
    assert_true(strlen(dl[0].last_error) >= 290);
    assert_int_equal(strncmp(dl[0].last_error, longerr, strlen(dl[0].last_error)), 0);
    /* ends on a whole character */
    assert_int_equal((unsigned char)dl[0].last_error[strlen(dl[0].last_error) - 1], 0xa9);
    assert_string_equal(dl[1].last_error, "bad email (email), (phone)");
    ls_dead_letters_free(dl, n);
    assert_int_equal(ls_ledger_dead_letters(f->l, "sf", 10, &dl, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(dl[0].delivery_id, "b1");
    ls_dead_letters_free(dl, n);

    /* retry one sink */
    assert_int_equal(ls_ledger_retry_dead(f->l, "sf", 100, &n), 0);
    assert_int_equal(n, 1);
    expect_pending(f->l, "sf", 99, 10, "");
    assert_int_equal(ls_ledger_pending(f->l, "sf", 100, 10, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].delivery_id, "b1");
    assert_int_equal(d[0].attempts, 0);
    ls_deliveries_free(d, n);

    /* all sinks: a1 comes back ahead of a2, in order */
    assert_int_equal(ls_ledger_retry_dead(f->l, NULL, 100, &n), 0);
    assert_int_equal(n, 1);
    expect_pending(f->l, "hook", 100, 10, "a1");
    stats_for(f->l, "hook", &st);
    assert_int_equal(st.dead, 0);
    assert_int_equal(st.pending, 2);
    assert_int_equal(ls_ledger_retry_dead(f->l, NULL, 100, &n), 0);
    assert_int_equal(n, 0);
}

/* retry makes waiting deliveries due now: a backoff, or an enqueue under a
 * clock that ran a day ahead, ends when the operator asks. */
static void test_retry_makes_waiting_due(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    size_t n = 0;

    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a1", "1", 0, 86400000), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "B", "b1", "1", 0, 10), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "sf", "C", "c1", "1", 0, 86400000), 0);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 20, 10, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ls_ledger_mark_retry(f->l, d[0].id, 5000000, 500, "busy", 20), 0);
    ls_deliveries_free(d, n);
    expect_pending(f->l, "hook", 100, 10, "");

    assert_int_equal(ls_ledger_retry_dead(f->l, "hook", 100, &n), 0);
    assert_int_equal(n, 0); /* no dead letter re-queued */
    assert_int_equal(ls_ledger_pending(f->l, "hook", 100, 10, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(d[1].attempts, 1); /* the attempt it made still counts */
    ls_deliveries_free(d, n);
    /* another sink's waiting delivery is left as it was */
    expect_pending(f->l, "sf", 100, 10, "");
}

static void test_retry_dead_stale(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    struct ls_sink_stats st;
    size_t n = 0;

    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a1", "1", 0, 10), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a2", "2", 0, 11), 0);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 20, 10, &d, &n), 0);
    assert_int_equal(ls_ledger_mark_dead(f->l, d[0].id, 400, "rejected", 20), 0);
    ls_deliveries_free(d, n);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 20, 10, &d, &n), 0);
    assert_string_equal(d[0].delivery_id, "a2");
    assert_int_equal(ls_ledger_mark_delivered(f->l, d[0].id, 200, 21), 0);
    ls_deliveries_free(d, n);

    /* a1 is older than the delivered a2: re-sending it would overwrite a2. */
    assert_int_equal(ls_ledger_retry_dead(f->l, NULL, 30, &n), 0);
    assert_int_equal(n, 0);
    stats_for(f->l, "hook", &st);
    assert_int_equal(st.dead, 0);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.superseded, 1);
    assert_int_equal(st.delivered, 1);
}

static void test_sink_stats(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_sink_stats *s = NULL;
    struct ls_delivery *d = NULL;
    size_t n = 0;

    assert_int_equal(ls_ledger_sink_stats(f->l, &s, &n), 0);
    assert_int_equal(n, 0);
    free(s);
    assert_int_equal(ls_ledger_enqueue(f->l, "b", "A", "a1", "1", 0, 50), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "b", "B", "b1", "1", 0, 40), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "b", "B", "b2", "1", 1, 60), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "a", "A", "a1", "1", 0, 70), 0);
    assert_int_equal(ls_ledger_pending(f->l, "a", 70, 10, &d, &n), 0);
    assert_int_equal(ls_ledger_mark_delivered(f->l, d[0].id, 200, 80), 0);
    ls_deliveries_free(d, n);

    assert_int_equal(ls_ledger_sink_stats(f->l, &s, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(s[0].sink, "a");
    assert_int_equal(s[0].pending, 0);
    assert_int_equal(s[0].delivered, 1);
    assert_int_equal(s[0].oldest_pending_at, 0);
    assert_string_equal(s[1].sink, "b");
    assert_int_equal(s[1].pending, 2);
    assert_int_equal(s[1].superseded, 1);
    assert_int_equal(s[1].dead, 0);
    assert_int_equal(s[1].oldest_pending_at, 50);
    free(s);
}

/* Inline sinks' counters: merged into an outbox sink's entry, a new entry
 * for a sink without outbox rows, and gone with a rolled-back transaction. */
static void test_inline_delivered(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_sink_stats st;
    struct ls_sink_stats *s = NULL;
    size_t n = 0;

    assert_int_equal(ls_ledger_enqueue(f->l, "a", "A", "a1", "1", 0, 50), 0);
    assert_int_equal(ls_ledger_inline_delivered(f->l, "a", 3), 0);
    assert_int_equal(ls_ledger_inline_delivered(f->l, "a", 4), 0);
    assert_int_equal(ls_ledger_inline_delivered(f->l, "jsonl:x", 0), 0);
    assert_int_equal(ls_ledger_sink_stats(f->l, &s, &n), 0);
    assert_int_equal(n, 1); /* a zero count writes nothing */
    free(s);
    assert_int_equal(ls_ledger_inline_delivered(f->l, "jsonl:x", 12), 0);
    stats_for(f->l, "a", &st);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.delivered, 7);
    stats_for(f->l, "jsonl:x", &st);
    assert_string_equal(st.sink, "jsonl:x");
    assert_int_equal(st.delivered, 12);
    assert_int_equal(st.pending, 0);

    assert_int_equal(ls_ledger_begin(f->l), 0);
    assert_int_equal(ls_ledger_inline_delivered(f->l, "jsonl:x", 5), 0);
    ls_ledger_rollback(f->l);
    stats_for(f->l, "jsonl:x", &st);
    assert_int_equal(st.delivered, 12);
    assert_int_equal(ls_ledger_begin(f->l), 0);
    assert_int_equal(ls_ledger_inline_delivered(f->l, "jsonl:x", 5), 0);
    assert_int_equal(ls_ledger_commit(f->l), 0);
    stats_for(f->l, "jsonl:x", &st);
    assert_int_equal(st.delivered, 17);
}

/* API usage: one record per sink, replaced by each report. */
static void test_usage(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_api_usage u = {12, 15000, 1795485814};
    int found = 1;

    assert_int_equal(ls_ledger_usage_get(f->l, "salesforce", &u, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(u.used, 0);
    u = (struct ls_api_usage){12, 15000, 1795485814};
    assert_int_equal(ls_ledger_usage_put(f->l, "salesforce", &u), 0);
    u = (struct ls_api_usage){13, 15000, 1795485900};
    assert_int_equal(ls_ledger_usage_put(f->l, "salesforce", &u), 0);
    memset(&u, 0, sizeof(u));
    assert_int_equal(ls_ledger_usage_get(f->l, "salesforce", &u, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(u.used, 13);
    assert_int_equal(u.limit, 15000);
    assert_int_equal(u.at_s, 1795485900);
    assert_int_equal(ls_ledger_usage_get(f->l, "salesforce:eu", &u, &found), 0);
    assert_int_equal(found, 0);
}

/* A ledger written by a leadsync from before the per-sink tables (schema 2,
 * the counters in meta) opens, migrates, and keeps its counts and usage. */
static void test_upgrade_from_meta_counters(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_sink_stats st;
    struct ls_api_usage u;
    char *v = NULL;
    char *q;
    int found = 0;

    for (int i = 0; i < 2; i++) {
        assert_int_equal(strtol(ls_migrations[i].name, NULL, 10), i + 1);
        exec_raw(f->path, ls_migrations[i].data);
    }
    q = ls_xasprintf(
        "PRAGMA user_version = 2;"
        "INSERT INTO meta (key, value) VALUES ('cursor', '2026-11-24T02:03:34.0000000Z'),"
        " ('inline_delivered:jsonl', '40'), ('inline_delivered:jsonl:b', '2'),"
        " ('api_usage:salesforce', '120/15000 1795485814'),"
        " ('api_usage:hubspot', 'garbage');"
        "INSERT INTO outbox (sink, lead_id, delivery_id, payload, state, attempts,"
        " created_at, updated_at, next_attempt_at)"
        " VALUES ('jsonl', 'L', 'd1', '{}', 'pending', 0, 1, 1, 1)");
    exec_raw(f->path, q);
    free(q);
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(query_int(f->path, "PRAGMA user_version"), known_version());

    stats_for(f->l, "jsonl", &st);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.delivered, 40);
    stats_for(f->l, "jsonl:b", &st);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(ls_ledger_inline_delivered(f->l, "jsonl", 2), 0);
    stats_for(f->l, "jsonl", &st);
    assert_int_equal(st.delivered, 42);

    assert_int_equal(ls_ledger_usage_get(f->l, "salesforce", &u, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(u.used, 120);
    assert_int_equal(u.limit, 15000);
    assert_int_equal(u.at_s, 1795485814);
    assert_int_equal(ls_ledger_usage_get(f->l, "hubspot", &u, &found), 0);
    assert_int_equal(found, 0); /* unreadable before, dropped */

    /* meta keeps the cursor, and only it */
    assert_int_equal(ls_ledger_meta_get(f->l, "cursor", &v), 0);
    assert_string_equal(v, "2026-11-24T02:03:34.0000000Z");
    free(v);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM meta"), 1);
}

/* A ledger from before the lead bodies had their own table (schema 8):
 * pending deliveries, dead letters and delivered ones keep their state and
 * their text, each row version's body once; a purged one stays purged. */
static void test_upgrade_to_lead_bodies(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    struct ls_dead_letter *dl = NULL;
    struct ls_sink_stats st;
    size_t n = 0;

    for (size_t i = 0; ls_migrations[i].name && strtol(ls_migrations[i].name, NULL, 10) <= 8; i++)
        exec_raw(f->path, ls_migrations[i].data);
    exec_raw(f->path, "INSERT INTO outbox (sink, lead_id, delivery_id, payload, state, attempts,"
                      " created_at, updated_at, next_attempt_at, last_status, last_error) VALUES"
                      " ('hook', 'A', 'a1', '{\"n\":\"a1\"}', 'delivered', 1, 1, 2, 1, 204, NULL),"
                      " ('hook', 'A', 'a2', '{\"n\":\"a2\"}', 'pending', 2, 3, 3, 5, 503, 'busy'),"
                      " ('sf', 'A', 'a2', '{\"n\":\"a2\"}', 'pending', 0, 3, 3, 3, NULL, NULL),"
                      " ('hook', 'B', 'b1', '{\"n\":\"b1\"}', 'dead', 3, 4, 6, 4, 422, 'no'),"
                      " ('hook', 'C', 'c1', NULL, 'delivered', 1, 1, 2, 1, 204, NULL),"
                      " ('sf', 'C', 'c1', '{\"n\":\"c1\"}', 'pending', 0, 1, 1, 1, NULL, NULL),"
                      " ('hook', 'D', 'd1', NULL, 'superseded', 0, 1, 2, 1, NULL, NULL);"
                      "PRAGMA user_version = 8;");
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(query_int(f->path, "PRAGMA user_version"), known_version());
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM pragma_table_info('outbox')"
                                        " WHERE name = 'payload'"),
                     0);
    /* one body per row version that had a text: a1, a2, b1, c1 (not d1) */
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM bodies"), 4);
    stats_for(f->l, "hook", &st);
    assert_int_equal(st.pending, 1);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.dead, 1);
    assert_int_equal(st.superseded, 1);

    assert_int_equal(ls_ledger_pending(f->l, "sf", 10, 10, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(d[0].delivery_id, "c1");
    assert_string_equal(d[0].payload, "{\"n\":\"c1\"}"); /* purged at hook only */
    assert_string_equal(d[1].payload, "{\"n\":\"a2\"}");
    ls_deliveries_free(d, n);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 10, 10, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].delivery_id, "a2");
    assert_int_equal(d[0].attempts, 2);
    assert_string_equal(d[0].payload, "{\"n\":\"a2\"}");
    ls_deliveries_free(d, n);

    /* the dead letter comes back with its text */
    assert_int_equal(ls_ledger_dead_letters(f->l, "hook", 0, &dl, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(dl[0].delivery_id, "b1");
    assert_string_equal(dl[0].last_error, "no");
    ls_dead_letters_free(dl, n);
    assert_int_equal(ls_ledger_retry_dead(f->l, "hook", 10, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 10, 10, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(d[1].delivery_id, "b1");
    assert_string_equal(d[1].payload, "{\"n\":\"b1\"}");
    ls_deliveries_free(d, n);

    /* a1 was delivered everywhere: the first purge takes its body only */
    assert_int_equal(ls_ledger_purge(f->l, 100, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM bodies WHERE payload IS NULL"
                                        " AND delivery_id = 'a1'"),
                     1);
}

/* The per-round count agrees with the stats: pending only, per sink, due or not. */
static void test_pending_count(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    size_t n = 0;
    int64_t c = -1;

    assert_int_equal(ls_ledger_pending_count(f->l, "a", &c), 0);
    assert_int_equal(c, 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "a", "A", "a1", "1", 0, 10), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "a", "B", "b1", "1", 0, 10), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "a", "B", "b2", "1", 1, 11), 0); /* supersedes b1 */
    assert_int_equal(ls_ledger_enqueue(f->l, "a", "C", "c1", "1", 0, 12), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "z", "A", "a1", "1", 0, 10), 0);
    assert_int_equal(ls_ledger_pending_count(f->l, "a", &c), 0);
    assert_int_equal(c, 3);
    assert_int_equal(ls_ledger_pending(f->l, "a", 20, 10, &d, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ls_ledger_mark_delivered(f->l, d[0].id, 200, 20), 0);
    assert_int_equal(ls_ledger_mark_dead(f->l, d[1].id, 400, "no", 20), 0);
    assert_int_equal(ls_ledger_mark_retry(f->l, d[2].id, 5000, 503, "later", 20), 0);
    ls_deliveries_free(d, n);
    /* delivered and dead no longer count; one waiting for its retry does */
    assert_int_equal(ls_ledger_pending_count(f->l, "a", &c), 0);
    assert_int_equal(c, 1);
    assert_int_equal(ls_ledger_pending_count(f->l, "z", &c), 0);
    assert_int_equal(c, 1);
    assert_int_equal(ls_ledger_pending_count(f->l, "nobody", &c), 0);
    assert_int_equal(c, 0);
}

static void test_purge(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    size_t n = 0;

    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "A", "a1", "{\"email\":\"x\"}", 0, 10), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "B", "b1", "{}", 0, 10), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "B", "b2", "{}", 1, 10), 0); /* b1 sup. */
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "C", "c1", "{}", 0, 10), 0);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 10, 10, &d, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(d[0].delivery_id, "a1");
    assert_int_equal(ls_ledger_mark_delivered(f->l, d[0].id, 200, 100), 0);
    ls_deliveries_free(d, n);

    /* updated at 100: not before 100 */
    assert_int_equal(ls_ledger_purge(f->l, 100, &n), 0);
    assert_int_equal(n, 1); /* b1, superseded at 10 */
    assert_int_equal(ls_ledger_purge(f->l, 101, &n), 0);
    assert_int_equal(n, 1); /* a1 */
    assert_int_equal(ls_ledger_purge(f->l, 1000, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM bodies WHERE payload IS NULL"), 2);
    /* c1's body is shared with another sink's delivery: kept while either
     * is pending, purged once both are delivered. */
    assert_int_equal(ls_ledger_enqueue(f->l, "sf", "C", "c1", "{}", 0, 10), 0);
    assert_int_equal(ls_ledger_pending(f->l, "hook", 200, 10, &d, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(d[1].delivery_id, "c1");
    assert_int_equal(ls_ledger_mark_delivered(f->l, d[1].id, 200, 200), 0);
    ls_deliveries_free(d, n);
    assert_int_equal(ls_ledger_purge(f->l, 1000, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(ls_ledger_pending(f->l, "sf", 200, 10, &d, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(d[0].payload, "{}");
    assert_int_equal(ls_ledger_mark_delivered(f->l, d[0].id, 200, 300), 0);
    ls_deliveries_free(d, n);
    assert_int_equal(ls_ledger_purge(f->l, 1000, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM outbox AS o JOIN bodies AS b"
                                        " ON b.delivery_id = o.delivery_id"
                                        " WHERE b.payload IS NULL AND o.state = 'pending'"),
                     0);
}

/* A sink's pause: set, read back across a reopen (another run), a second
 * pause extends the streak, status sees it, clearing ends it. */
static void test_sink_pause(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_sink_pause p;
    struct ls_sink_stats *ss = NULL;
    size_t n = 0;
    int found = -1;

    assert_int_equal(ls_ledger_pause_get(f->l, "salesforce", &p, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(
        ls_ledger_pause_set(f->l, "salesforce", 5000, "HTTP 403 REQUEST_LIMIT_EXCEEDED", 1000), 0);
    ls_ledger_close(f->l);
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(ls_ledger_pause_get(f->l, "salesforce", &p, &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(p.until, 5000);
    assert_int_equal(p.since, 1000);
    assert_int_equal(p.streak, 1);
    assert_string_equal(p.reason, "HTTP 403 REQUEST_LIMIT_EXCEEDED");
    assert_int_equal(ls_ledger_pause_set(f->l, "salesforce", 9000, "again", 6000), 0);
    assert_int_equal(ls_ledger_pause_get(f->l, "salesforce", &p, &found), 0);
    assert_int_equal(p.until, 9000);
    assert_int_equal(p.since, 1000);
    assert_int_equal(p.streak, 2);
    assert_string_equal(p.reason, "again");
    /* status: a sink with deliveries shows its pause */
    assert_int_equal(ls_ledger_enqueue(f->l, "salesforce", "lead1", "d1", "{}", 0, 100), 0);
    assert_int_equal(ls_ledger_sink_stats(f->l, &ss, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ss[0].paused_until, 9000);
    assert_string_equal(ss[0].pause_reason, "again");
    free(ss);
    assert_int_equal(ls_ledger_pause_get(f->l, "hubspot", &p, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(ls_ledger_pause_clear(f->l, "salesforce"), 0);
    assert_int_equal(ls_ledger_pause_get(f->l, "salesforce", &p, &found), 0);
    assert_int_equal(found, 0);
    assert_int_equal(ls_ledger_pause_clear(f->l, "salesforce"), 0); /* none: nothing to do */
    assert_int_equal(ls_ledger_pause_set(f->l, "salesforce", 1, NULL, 1), LS_EINVAL);
}

static void test_runs(void **state)
{
    struct lst_ledger_fix *f = *state;
    int64_t id1 = 0, id2 = 0, started = -1, finished = -1;
    int code = -1;
    char *summary = NULL;

    assert_int_equal(ls_ledger_last_run(f->l, &started, &finished, &code, &summary), 0);
    assert_int_equal(finished, 0);
    assert_null(summary);
    assert_int_equal(ls_ledger_run_start(f->l, "sync", 100, &id1), 0);
    assert_true(id1 > 0);
    assert_int_equal(ls_ledger_run_finish(f->l, id1, 0, "{\"rows\":3}", 150), 0);
    assert_int_equal(ls_ledger_run_start(f->l, "sync", 200, &id2), 0);
    assert_true(id2 > id1);
    /* Not finished: the last finished run is still the first. */
    assert_int_equal(ls_ledger_last_run(f->l, &started, &finished, &code, &summary), 0);
    assert_int_equal(started, 100);
    assert_int_equal(finished, 150);
    assert_int_equal(code, 0);
    assert_string_equal(summary, "{\"rows\":3}");
    free(summary);
    assert_int_equal(ls_ledger_run_finish(f->l, id2, 75, NULL, 260), 0);
    assert_int_equal(ls_ledger_last_run(f->l, &started, &finished, &code, &summary), 0);
    assert_int_equal(started, 200);
    assert_int_equal(finished, 260);
    assert_int_equal(code, 75);
    assert_null(summary);
    assert_int_equal(ls_ledger_run_finish(f->l, 9999, 0, NULL, 1), LS_EINVAL);
}

static void test_transactions(void **state)
{
    struct lst_ledger_fix *f = *state;
    char *v = NULL;
    char hash[65];
    int found = -1;
    struct ls_sink_stats st;

    assert_int_equal(ls_ledger_begin(f->l), 0);
    assert_int_equal(ls_ledger_meta_set(f->l, "cursor", "x"), 0);
    assert_int_equal(ls_ledger_row_put(f->l, "p", "r", "h", "t", "L", NULL, 1), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "L", "d1", "{}", 1, 1), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "L", "d2", "{}", 1, 1), 0);
    ls_ledger_rollback(f->l);
    assert_int_equal(ls_ledger_meta_get(f->l, "cursor", &v), 0);
    assert_null(v);
    assert_int_equal(ls_ledger_row_get(f->l, "p", "r", hash, &found), 0);
    assert_int_equal(found, 0);
    stats_for(f->l, "hook", &st);
    assert_int_equal(st.pending + st.superseded, 0);
    ls_ledger_rollback(f->l); /* harmless outside a transaction */

    assert_int_equal(ls_ledger_begin(f->l), 0);
    assert_int_equal(ls_ledger_meta_set(f->l, "cursor", "y"), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "hook", "L", "d1", "{}", 1, 1), 0);
    assert_int_equal(ls_ledger_commit(f->l), 0);
    ls_ledger_close(f->l);
    f->l = NULL;
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(ls_ledger_meta_get(f->l, "cursor", &v), 0);
    assert_string_equal(v, "y");
    free(v);
    stats_for(f->l, "hook", &st);
    assert_int_equal(st.pending, 1);

    /* Closing with an open transaction discards it. */
    assert_int_equal(ls_ledger_begin(f->l), 0);
    assert_int_equal(ls_ledger_meta_set(f->l, "cursor", "z"), 0);
    ls_ledger_close(f->l);
    f->l = NULL;
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(ls_ledger_meta_get(f->l, "cursor", &v), 0);
    assert_string_equal(v, "y");
    free(v);
}

/* Writes that fail like a full disk (file size limit in a child process):
 * a clear LS_EDB error, no crash, and what was committed survives. */
static void test_write_failure(void **state)
{
    struct lst_ledger_fix *f = *state;
    char payload[8192];
    char did[32];
    char *v = NULL;
    pid_t pid;
    int status = 0;

    assert_int_equal(ls_ledger_meta_set(f->l, "cursor", "kept"), 0);
    ls_ledger_close(f->l);
    f->l = NULL;
    memset(payload, 'x', sizeof(payload) - 1);
    payload[sizeof(payload) - 1] = '\0';

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {256 * 1024, 256 * 1024};
        struct ls_ledger *l = NULL;
        int err = 0;

        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0 || lst_ledger_open(f->path, 0, &l) != 0)
            _exit(2);
        if (ls_ledger_begin(l) != 0)
            _exit(3);
        for (int i = 0; i < 1000 && !err; i++) {
            snprintf(did, sizeof(did), "d%d", i);
            err = ls_ledger_enqueue(l, "hook", did, did, payload, 0, i);
        }
        if (!err)
            err = ls_ledger_commit(l);
        ls_ledger_rollback(l);
        ls_ledger_close(l);
        if (err != LS_EDB)
            _exit(4);
        if (!strstr(ls_error_last(), "disk full") && !strstr(ls_error_last(), "I/O error")) {
            fprintf(stderr, "unexpected error: %s\n", ls_error_last());
            _exit(5);
        }
        if (!strstr(ls_error_last(), f->path))
            _exit(6);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(ls_ledger_meta_get(f->l, "cursor", &v), 0);
    assert_string_equal(v, "kept");
    free(v);
    assert_int_equal(query_int(f->path, "SELECT count(*) FROM outbox"), 0);
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Not a timed test: many rows in transactions of 1000, then pending pages of
 * 200. 2,000 rows on every run; 20,000 and the time taken printed when
 * LEADSYNC_LEDGER_BENCH is set. */
static void test_throughput(void **state)
{
    struct lst_ledger_fix *f = *state;
    char pk[32], rk[32], lead[32], did[32], hash[65];
    const char *payload = "{\"lead_id\":\"x\",\"email\":\"someone@example.com\",\"stage\":2}";
    const int bench = getenv("LEADSYNC_LEDGER_BENCH") != NULL;
    double t0;
    int total = bench ? 20000 : 2000;
    memset(hash, 'f', 64);
    hash[64] = '\0';
    t0 = now_seconds();
    for (int i = 0; i < total; i++) {
        if (i % 1000 == 0)
            assert_int_equal(ls_ledger_begin(f->l), 0);
        snprintf(pk, sizeof(pk), "p%d", i % 97);
        snprintf(rk, sizeof(rk), "r%d", i);
        snprintf(lead, sizeof(lead), "L%d", i);
        snprintf(did, sizeof(did), "D%d", i);
        assert_int_equal(
            ls_ledger_row_put(f->l, pk, rk, hash, "2026-01-01T00:00:00Z", lead, NULL, i), 0);
        assert_int_equal(ls_ledger_enqueue(f->l, "hook", lead, did, payload, 1, i), 0);
        if (i % 1000 == 999)
            assert_int_equal(ls_ledger_commit(f->l), 0);
    }
    if (bench)
        print_message("ledger: %d row_put+enqueue in transactions of 1000: %.3f s\n", total,
                      now_seconds() - t0);
    {
        struct ls_delivery *d = NULL;
        size_t n = 0;

        t0 = now_seconds();
        for (int i = 0; i < (bench ? 100 : 5); i++) {
            assert_int_equal(ls_ledger_pending(f->l, "hook", total, 200, &d, &n), 0);
            assert_int_equal(n, 200);
            ls_deliveries_free(d, n);
        }
        if (bench)
            print_message("ledger: 100 x pending(limit 200) over %d pending: %.3f s\n", total,
                          now_seconds() - t0);
    }
}

/* Rewrites the checked_at field (the last) of the lock file's record. */
static void age_last_check(const char *path, long long seconds)
{
    char *lock = ls_xasprintf("%s.lock", path);
    char *text = lst_read_file(lock, NULL);
    char *rec, *last;
    long long checked_at;
    FILE *fp;

    assert_non_null(text);
    rec = strstr(text, "\nclean ");
    assert_non_null(rec);
    last = strrchr(rec, ' ');
    assert_non_null(last);
    checked_at = strtoll(last + 1, NULL, 10);
    assert_true(checked_at > 0);
    *last = '\0';
    fp = fopen(lock, "w");
    assert_non_null(fp);
    fprintf(fp, "%s %lld\n", text, checked_at - seconds);
    fclose(fp);
    free(text);
    free(lock);
}

/* Writes garbage over a page in the middle of the file and, when
 * keep_mtime, puts the modification time back (damage nothing announced). */
static void damage_middle(const char *path, int keep_mtime)
{
    struct stat sb;
    struct timespec ts[2];
    char junk[4096];
    int fd;

    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size >= 8 * 4096);
    memset(junk, 0xA5, sizeof(junk));
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, junk, sizeof(junk), (sb.st_size / 4096 / 2) * 4096),
                     (ssize_t)sizeof(junk));
    close(fd);
    if (keep_mtime) {
        ts[0] = sb.st_atim;
        ts[1] = sb.st_mtim;
        assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
    }
}

/* Enough rows for a file of many pages; then a clean close. */
static void fill_and_close(struct lst_ledger_fix *f)
{
    char pk[32], rk[32];
    int i;

    assert_int_equal(ls_ledger_begin(f->l), 0);
    for (i = 0; i < 2000; i++) {
        snprintf(pk, sizeof(pk), "pk%d", i % 7);
        snprintf(rk, sizeof(rk), "rk-%06d", i);
        assert_int_equal(ls_ledger_row_put(f->l, pk, rk,
                                           "0123456789abcdef0123456789abcdef0123456789abcdef"
                                           "0123456789abcdef",
                                           "2026-11-24T02:03:34.5663250Z", "3f9c0a7d51e2b846", NULL,
                                           1),
                         0);
    }
    assert_int_equal(ls_ledger_commit(f->l), 0);
    ls_ledger_close(f->l);
    f->l = NULL;
}

static void test_integrity_check_policy(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct timespec ts[2];

    fill_and_close(f);

    /* As the clean close left it: no full read. */
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(ls_ledger_checked_on_open(f->l), 0);
    ls_ledger_close(f->l);
    f->l = NULL;

    /* Touched by something else (its modification time moved): checked. */
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts[0]), 0);
    ts[0].tv_sec -= 3600;
    ts[1] = ts[0];
    assert_int_equal(utimensat(AT_FDCWD, f->path, ts, 0), 0);
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(ls_ledger_checked_on_open(f->l), 1);
    ls_ledger_close(f->l);
    f->l = NULL;
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(ls_ledger_checked_on_open(f->l), 0);
    ls_ledger_close(f->l);
    f->l = NULL;

    /* The last full check more than a day old: checked again. */
    age_last_check(f->path, 25 * 3600);
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(ls_ledger_checked_on_open(f->l), 1);
    ls_ledger_close(f->l);
    f->l = NULL;

    /* A lock file without a record (a crash, an older leadsync): checked. */
    {
        char *lock = ls_xasprintf("%s.lock", f->path);
        FILE *fp = fopen(lock, "w");

        assert_non_null(fp);
        fputs("12345\n", fp);
        fclose(fp);
        free(lock);
    }
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(ls_ledger_checked_on_open(f->l), 1);
    ls_ledger_close(f->l);
    f->l = NULL;

    /* Damage that moves the modification time is found on the next open. */
    damage_middle(f->path, 0);
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), LS_EDB);
    assert_non_null(strstr(ls_error_last(), "not a valid leadsync ledger"));
    assert_null(f->l);
}

static void test_integrity_silent_damage_found_within_a_day(void **state)
{
    struct lst_ledger_fix *f = *state;

    fill_and_close(f);

    /* Damage that leaves size and modification time as they were (the disk
     * itself): the daily full check is what finds it. */
    damage_middle(f->path, 1);
    age_last_check(f->path, 25 * 3600);
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), LS_EDB);
    assert_non_null(strstr(ls_error_last(), "not a valid leadsync ledger"));
    assert_null(f->l);
}

/* The lock file's clean-close record: written and read back exactly; a
 * record anything else wrote (a sign, an overflow, a missing field) is not
 * trusted, so the next open checks the whole file. */
static void test_ls_ledger__lock_record(void **state)
{
    static const char *const bad[] = {
        "7\nclean -1 2 3 4 5 6\n",  "7\nclean 18446744073709551616 2 3 4 5 6\n",
        "7\nclean 1 2 3 4 5\n",     "7\nclean 1 2 3 4 5 6",
        "7\nclean 1 2 3 4 5 6 7\n", "7\nclean 1 2 9223372036854775808 4 5 6\n",
        "7\nclean +1 2 3 4 5 6\n"};
    struct file_record r = {1, 18446744073709551615ULL, 42, 4096, -5, 999999999, 1795485814};
    struct file_record back;
    char buf[256];
    long pid = 0;
    size_t i;
    int len;

    (void)state;
    len = ledger_lock_format(4242, &r, buf, sizeof(buf));
    assert_true(len > 0);
    ledger_lock_parse(buf, (size_t)len, &pid, &back);
    assert_int_equal(pid, 4242);
    assert_true(back.valid && back.dev == r.dev && back.ino == 42 && back.size == 4096 &&
                back.mtime_s == -5 && back.mtime_ns == 999999999 && back.checked_at == 1795485814);
    assert_int_equal(ledger_lock_format(4242, &r, buf, 20), -1);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ledger_lock_parse(bad[i], strlen(bad[i]), &pid, &back);
        assert_int_equal(pid, 7);
        assert_false(back.valid);
    }
    ledger_lock_parse("12abc\n", 6, &pid, &back);
    assert_int_equal(pid, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_ledger__lock_record),
        cmocka_unit_test_setup_teardown(test_file_modes, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_wal_files_narrowed, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_refused, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_lock, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_statement_prepared_late, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_migrations, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_migration_newest_backfill, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_lead_newest, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_leads_in_transaction, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_late, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_journal_modes, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_file, lst_ledger_setup_dir,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_foreign_sqlite_file, lst_ledger_setup_dir,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_bad_paths, lst_ledger_setup_dir, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_readonly, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_readonly_empty_or_old, lst_ledger_setup_dir,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_meta, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_rows, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_leads, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_enqueue_duplicate, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_coalescing, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_pending_one_per_lead, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_mark_retry, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_mark_delivered_sink_leads, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_superseded_in_flight, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_mark_dead_and_retry_dead, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_retry_dead_stale, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_retry_makes_waiting_due, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_sink_stats, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_inline_delivered, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_usage, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_meta_counters, lst_ledger_setup_dir,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_to_lead_bodies, lst_ledger_setup_dir,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_pending_count, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_purge, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_runs, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_sink_pause, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_transactions, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_throughput, lst_ledger_setup, lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_integrity_check_policy, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_integrity_silent_damage_found_within_a_day,
                                        lst_ledger_setup, lst_ledger_teardown),
    };

    return lst_run_group(tests, NULL, NULL);
}
