/* test_ls_ledger_posts.c - a sink's posts in the ledger (ls_ledger.h, "A
 * sink's posts"): marks, the day's count, the re-queue on `retry`, and the
 * upgrade from the Web-to-Lead sink's own table of migration 002. */
#include "ls_test.h"

#include "ls_embed.h"
#include "ls_ledger.h"
#include "ls_ledger_int.h"

#include <sqlite3.h>

#include <stdlib.h>
#include <string.h>

static enum ls_post_mark mark_of(struct ls_ledger *l, const char *sink, const char *lead,
                                 int *status)
{
    enum ls_post_mark m = LS_POST_NONE;
    int st = -1;

    assert_int_equal(ls_ledger_post_get(l, sink, lead, &m, &st), 0);
    if (status)
        *status = st;
    return m;
}

static int64_t count_of(struct ls_ledger *l, const char *sink, const char *day)
{
    int64_t n = -1;

    assert_int_equal(ls_ledger_post_count(l, sink, day, &n), 0);
    return n;
}

static int64_t pragma_int(struct ls_ledger *l, const char *q)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    assert_int_equal(sqlite3_prepare_v2(l->db, q, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_marks_and_count(void **state)
{
    struct lst_ledger_fix *f = *state;
    int status = -1;

    assert_int_equal(mark_of(f->l, "w", "L1", &status), LS_POST_NONE);
    assert_int_equal(status, 0);
    assert_int_equal(count_of(f->l, "w", "2026-12-01"), 0);

    assert_int_equal(ls_ledger_post_begin(f->l, "w", "L1", "d1", "2026-12-01", 10), 0);
    assert_int_equal(mark_of(f->l, "w", "L1", NULL), LS_POST_POSTING);
    assert_int_equal(count_of(f->l, "w", "2026-12-01"), 1);
    assert_int_equal(ls_ledger_post_answer(f->l, "w", "L1", LS_POST_CREATED, 201, 11), 0);
    assert_int_equal(mark_of(f->l, "w", "L1", &status), LS_POST_CREATED);
    assert_int_equal(status, 201);

    /* a provable non-send: the mark goes, the day's slot comes back */
    assert_int_equal(ls_ledger_post_begin(f->l, "w", "L2", "d2", "2026-12-01", 12), 0);
    assert_int_equal(count_of(f->l, "w", "2026-12-01"), 2);
    assert_int_equal(ls_ledger_post_drop(f->l, "w", "L2", "2026-12-01"), 0);
    assert_int_equal(mark_of(f->l, "w", "L2", NULL), LS_POST_NONE);
    assert_int_equal(count_of(f->l, "w", "2026-12-01"), 1);

    /* sent, no answer: unknown, with no status */
    assert_int_equal(ls_ledger_post_begin(f->l, "w", "L3", "d3", "2026-12-01", 13), 0);
    assert_int_equal(ls_ledger_post_answer(f->l, "w", "L3", LS_POST_UNKNOWN, 0, 14), 0);
    assert_int_equal(mark_of(f->l, "w", "L3", &status), LS_POST_UNKNOWN);
    assert_int_equal(status, 0);
    assert_int_equal(ls_ledger_post_answer(f->l, "w", "L3", LS_POST_POSTING, 0, 14), LS_EINVAL);

    /* per sink: another sink has neither the marks nor the count */
    assert_int_equal(mark_of(f->l, "other", "L1", NULL), LS_POST_NONE);
    assert_int_equal(count_of(f->l, "other", "2026-12-01"), 0);

    /* a new UTC day starts at one; the day before reads 0 from then on */
    assert_int_equal(ls_ledger_post_begin(f->l, "w", "L4", "d4", "2026-12-02", 15), 0);
    assert_int_equal(count_of(f->l, "w", "2026-12-02"), 1);
    assert_int_equal(count_of(f->l, "w", "2026-12-01"), 0);
    /* a drop for a day that has passed leaves the new day's count alone */
    assert_int_equal(ls_ledger_post_drop(f->l, "w", "L3", "2026-12-01"), 0);
    assert_int_equal(count_of(f->l, "w", "2026-12-02"), 1);
}

/* The mark is committed durably and on its own: synchronous is FULL for its
 * commit and back to the connection's level after, and a caller's open
 * transaction is refused rather than joined. */
static void test_begin_is_its_own_durable_commit(void **state)
{
    struct lst_ledger_fix *f = *state;
    int64_t level = pragma_int(f->l, "PRAGMA synchronous");

    assert_int_equal(level, 1); /* WAL: NORMAL */
    assert_int_equal(ls_ledger_post_begin(f->l, "w", "L1", "d1", "2026-12-01", 1), 0);
    assert_int_equal(pragma_int(f->l, "PRAGMA synchronous"), level);
    assert_int_not_equal(sqlite3_get_autocommit(f->l->db), 0);

    assert_int_equal(ls_ledger_begin(f->l), 0);
    assert_int_not_equal(ls_ledger_post_begin(f->l, "w", "L2", "d2", "2026-12-01", 2), 0);
    ls_ledger_rollback(f->l);
    assert_int_equal(pragma_int(f->l, "PRAGMA synchronous"), level);
    assert_int_equal(mark_of(f->l, "w", "L2", NULL), LS_POST_NONE);
    assert_int_equal(count_of(f->l, "w", "2026-12-01"), 1);
}

/* Dead letter -> pending re-queues the mark of that sink only. */
static void test_retry_requeues_its_own_sink(void **state)
{
    struct lst_ledger_fix *f = *state;
    struct ls_delivery *d = NULL;
    size_t n = 0, i;

    assert_int_equal(ls_ledger_enqueue(f->l, "w", "L1", "d1", "{}", LS_ENQUEUE_COALESCE, 1), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "x", "L2", "d2", "{}", LS_ENQUEUE_COALESCE, 1), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "w", "L3", "d3", "{}", LS_ENQUEUE_COALESCE, 1), 0);
    assert_int_equal(ls_ledger_post_begin(f->l, "w", "L1", "d1", "2026-12-01", 2), 0);
    assert_int_equal(ls_ledger_post_begin(f->l, "w", "L2", "d2", "2026-12-01", 2), 0);
    assert_int_equal(ls_ledger_post_answer(f->l, "w", "L2", LS_POST_UNKNOWN, 0, 3), 0);
    assert_int_equal(ls_ledger_post_begin(f->l, "w", "L3", "d3", "2026-12-01", 2), 0);
    assert_int_equal(ls_ledger_post_answer(f->l, "w", "L3", LS_POST_CREATED, 200, 3), 0);
    for (const char *sink = "w"; sink; sink = strcmp(sink, "w") == 0 ? "x" : NULL) {
        assert_int_equal(ls_ledger_pending(f->l, sink, 10, 10, &d, &n), 0);
        for (i = 0; i < n; i++)
            assert_int_equal(ls_ledger_mark_dead(f->l, d[i].id, 0, "outcome unknown", 4), 0);
        ls_deliveries_free(d, n);
    }
    assert_int_equal(ls_ledger_retry_dead(f->l, "x", 5, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(mark_of(f->l, "w", "L2", NULL), LS_POST_UNKNOWN); /* x's retry */
    assert_int_equal(ls_ledger_retry_dead(f->l, "w", 6, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(mark_of(f->l, "w", "L1", NULL), LS_POST_REQUEUED);
    assert_int_equal(mark_of(f->l, "w", "L3", NULL), LS_POST_CREATED); /* known to exist */
}

/* The index of the migration that brought sink_posts. */
static size_t posts_migration(void)
{
    size_t i;

    for (i = 0; ls_migrations[i].name; i++)
        if (strstr(ls_migrations[i].name, "_sink_posts.sql"))
            return i;
    fail_msg("no sink_posts migration");
    return 0;
}

/* A ledger at the schema before sink_posts, as the Web-to-Lead sink left
 * it: its own marks table (002), the day's count in meta. */
static void write_previous_ledger(const char *path, const char *count)
{
    size_t i, upto = posts_migration();
    sqlite3 *db = NULL;
    char *fill = ls_xasprintf(
        "INSERT INTO sinks VALUES ('forms', 'web_to_lead'), ('sales', 'salesforce');"
        "INSERT INTO outbox (sink, lead_id, delivery_id, payload, state, attempts, created_at,"
        " updated_at, next_attempt_at) VALUES"
        " ('forms', 'L1', 'd1', '{}', 'delivered', 1, 1, 1, 1),"
        " ('forms', 'L2', 'd2', '{}', 'dead', 1, 1, 1, 1),"
        " ('sales', 'L2', 'd2', '{}', 'dead', 1, 1, 1, 1),"
        " ('forms', 'L3', 'd3', '{}', 'pending', 0, 1, 1, 1);"
        "INSERT INTO web_to_lead_posts VALUES ('L1', 'd1', 'created', 200, 1, 1),"
        " ('L2', 'd2', 'unknown', NULL, 1, 1), ('L3', 'd3', 'posting', NULL, 1, 1);"
        "INSERT INTO meta VALUES ('cursor', 'c'), ('sink.web_to_lead.posts', '%s');"
        "PRAGMA user_version = %ld;",
        count, strtol(ls_migrations[upto].name, NULL, 10) - 1);

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    for (i = 0; i < upto; i++)
        assert_int_equal(sqlite3_exec(db, ls_migrations[i].data, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, fill, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    free(fill);
}

static void test_upgrade_keeps_marks_and_count(void **state)
{
    struct lst_ledger_fix *f = *state;
    char *v = NULL;
    size_t n = 0;
    int status = 0;

    write_previous_ledger(f->path, "2026-12-01 37");
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(mark_of(f->l, "forms", "L1", &status), LS_POST_CREATED);
    assert_int_equal(status, 200);
    assert_int_equal(mark_of(f->l, "forms", "L2", NULL), LS_POST_UNKNOWN);
    assert_int_equal(mark_of(f->l, "forms", "L3", NULL), LS_POST_POSTING);
    assert_int_equal(mark_of(f->l, "sales", "L1", NULL), LS_POST_NONE);
    assert_int_equal(count_of(f->l, "forms", "2026-12-01"), 37);
    /* meta keeps the cursor, and only it; the old table and trigger are gone */
    assert_int_equal(ls_ledger_meta_get(f->l, "sink.web_to_lead.posts", &v), 0);
    assert_null(v);
    assert_int_equal(pragma_int(f->l, "SELECT count(*) FROM meta"), 1);
    assert_int_equal(pragma_int(f->l, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                      " ('web_to_lead_posts', 'web_to_lead_requeue')"),
                     0);

    /* and it works: the count goes on, retry re-queues the unknown post */
    assert_int_equal(ls_ledger_post_begin(f->l, "forms", "L4", "d4", "2026-12-01", 2), 0);
    assert_int_equal(count_of(f->l, "forms", "2026-12-01"), 38);
    assert_int_equal(ls_ledger_retry_dead(f->l, "sales", 3, &n), 0);
    assert_int_equal(mark_of(f->l, "forms", "L2", NULL), LS_POST_UNKNOWN);
    assert_int_equal(ls_ledger_retry_dead(f->l, "forms", 3, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(mark_of(f->l, "forms", "L2", NULL), LS_POST_REQUEUED);
}

/* A count that is not "YYYY-MM-DD N" read as 0 before the upgrade and is
 * dropped by it; the marks still move. */
static void test_upgrade_drops_a_malformed_count(void **state)
{
    struct lst_ledger_fix *f = *state;

    write_previous_ledger(f->path, "2026-12-01 3x");
    assert_int_equal(lst_ledger_open(f->path, 0, &f->l), 0);
    assert_int_equal(count_of(f->l, "forms", "2026-12-01"), 0);
    assert_int_equal(pragma_int(f->l, "SELECT count(*) FROM sink_day_posts"), 0);
    assert_int_equal(mark_of(f->l, "forms", "L3", NULL), LS_POST_POSTING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_marks_and_count, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_begin_is_its_own_durable_commit, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_retry_requeues_its_own_sink, lst_ledger_setup,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_keeps_marks_and_count, lst_ledger_setup_dir,
                                        lst_ledger_teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_drops_a_malformed_count, lst_ledger_setup_dir,
                                        lst_ledger_teardown),
    };

    return lst_run_group(tests, NULL, NULL);
}
