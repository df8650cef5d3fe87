/* test_ls_seen.c - a dry run's seen-set: the facts it answers, a late row
 * keeping the recorded version, and its memory staying at its page cache
 * while it holds many times that. */
#include "ls_test.h"

#include "ls_seen.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fmt_version(int i, char ts[64], char pk[24], char rk[24])
{
    snprintf(ts, 64, "2026-03-%02dT%02d:%02d:%02d.1234567Z", 1 + i % 28, i % 24, i % 60, i % 59);
    snprintf(pk, 24, "p%d", i % 97);
    snprintf(rk, 24, "r%08d", i);
}

static void test_ls_seen__facts(void **state)
{
    struct ls_seen *s = NULL;
    const struct ls_ledger_version *v = NULL;
    struct ls_ledger_version mine = {"2026-03-01T10:00:00.0000000Z", NULL, "p1", "r1"};
    struct ls_ledger_version newer = {"2026-03-02T10:00:00.0000000Z", "c", "p2", "r2"};
    int stage = -1, dnc = -1;

    (void)state;
    assert_int_equal(ls_seen_new(&s), 0);
    assert_int_equal(ls_seen_get(s, "L1", &stage, &dnc, &v), 0);
    assert_int_equal(stage, -1); /* untouched when unseen */
    assert_int_equal(ls_seen_put(s, "L1", 2, 0, &mine), 0);
    assert_int_equal(ls_seen_get(s, "L1", &stage, &dnc, &v), 1);
    assert_int_equal(stage, 2);
    assert_int_equal(dnc, 0);
    assert_string_equal(v->timestamp, mine.timestamp);
    assert_null(v->created_time);
    assert_string_equal(v->partition_key, "p1");
    assert_string_equal(v->row_key, "r1");

    /* a late row: stage and flag move, the version stays */
    assert_int_equal(ls_seen_put(s, "L1", 3, 1, NULL), 0);
    assert_int_equal(ls_seen_get(s, "L1", &stage, &dnc, &v), 1);
    assert_int_equal(stage, 3);
    assert_int_equal(dnc, 1);
    assert_string_equal(v->row_key, "r1");
    /* the version handed back by get can be put again */
    assert_int_equal(ls_seen_put(s, "L2", 1, 0, v), 0);
    assert_int_equal(ls_seen_put(s, "L1", 4, 1, &newer), 0);
    assert_int_equal(ls_seen_get(s, "L2", &stage, &dnc, &v), 1);
    assert_string_equal(v->row_key, "r1");
    assert_int_equal(ls_seen_get(s, "L1", &stage, &dnc, &v), 1);
    assert_int_equal(stage, 4);
    assert_string_equal(v->created_time, "c");
    assert_string_equal(v->row_key, "r2");
    /* a lead first seen late has no version */
    assert_int_equal(ls_seen_put(s, "L3", 0, 0, NULL), 0);
    assert_int_equal(ls_seen_get(s, "L3", &stage, &dnc, &v), 1);
    assert_null(v->timestamp);
    assert_null(v->row_key);
    ls_seen_free(s);
}

/* 20,000 leads (about 3 MiB of facts): every answer exact, SQLite's memory
 * at most a few MiB (its page cache is LS_SEEN_CACHE_KIB). */
static void test_ls_seen__bounded(void **state)
{
    enum { N = 20000 };
    struct ls_seen *s = NULL;
    const struct ls_ledger_version *v = NULL;
    char id[80], ts[64], pk[24], rk[24];
    sqlite3_int64 cur = 0, high = 0;
    int stage, dnc;

    (void)state;
    assert_int_equal(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &cur, &high, 1), SQLITE_OK);
    assert_int_equal(ls_seen_new(&s), 0);
    for (int i = 0; i < N; i++) {
        struct ls_ledger_version ver = {ts, NULL, pk, rk};

        /* lead ids as the lead model makes them: 64 hex digits */
        snprintf(id, sizeof(id), "%016x%016x%016x%016x", (unsigned)i * 2654435761u, (unsigned)i,
                 ~(unsigned)i, (unsigned)i * 7u);
        fmt_version(i, ts, pk, rk);
        assert_int_equal(ls_seen_put(s, id, i % 5, i % 7 == 0, &ver), 0);
    }
    for (int i = N - 1; i >= 0; i--) {
        snprintf(id, sizeof(id), "%016x%016x%016x%016x", (unsigned)i * 2654435761u, (unsigned)i,
                 ~(unsigned)i, (unsigned)i * 7u);
        fmt_version(i, ts, pk, rk);
        assert_int_equal(ls_seen_get(s, id, &stage, &dnc, &v), 1);
        assert_int_equal(stage, i % 5);
        assert_int_equal(dnc, i % 7 == 0);
        assert_string_equal(v->timestamp, ts);
        assert_string_equal(v->partition_key, pk);
        assert_string_equal(v->row_key, rk);
    }
    assert_int_equal(ls_seen_get(s, "not-seen", &stage, &dnc, &v), 0);
    assert_int_equal(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &cur, &high, 0), SQLITE_OK);
    assert_true(high < (sqlite3_int64)(LS_SEEN_CACHE_KIB + 512) * 1024);
    ls_seen_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_seen__facts),
        cmocka_unit_test(test_ls_seen__bounded),
    };

    /* the spilled pages go to a private directory */
    char *dir = lst_tmpdir();
    int rc;

    setenv("SQLITE_TMPDIR", dir, 1);
    rc = lst_run_group(tests, NULL, NULL);
    lst_rmtree(dir);
    free(dir);
    return rc;
}
