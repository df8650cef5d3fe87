/* test_ls_sync.c - the sync engine's pure helpers: ISO times and delivery ids. */
#include "ls_test.h"

#include "ls_sync.h"

#include <string.h>

static void test_ls_sync__iso_add_keeps_seven_digits(void **state)
{
    char out[40];

    (void)state;
    assert_int_equal(ls_iso_add_seconds("2026-11-24T02:03:34.5663250Z", -300, out), 0);
    assert_string_equal(out, "2026-11-24T01:58:34.5663250Z");
    assert_int_equal(ls_iso_add_seconds("2026-01-01T00:00:10Z", -20, out), 0);
    assert_string_equal(out, "2025-12-31T23:59:50.0000000Z");
    assert_int_equal(ls_iso_add_seconds("2026-02-28T23:59:59.1Z", 1, out), 0);
    assert_string_equal(out, "2026-03-01T00:00:00.1000000Z");
    assert_int_equal(ls_iso_add_seconds("2024-02-28T23:59:59.1234567Z", 1, out), 0);
    assert_string_equal(out, "2024-02-29T00:00:00.1234567Z");
}

static void test_ls_sync__iso_rejects_garbage(void **state)
{
    char out[40];

    (void)state;
    assert_int_not_equal(ls_iso_add_seconds("2026-11-24", 0, out), 0);
    assert_int_not_equal(ls_iso_add_seconds("2026-11-24T02:03:34.12345678Z", 0, out), 0);
    assert_int_not_equal(ls_iso_add_seconds("2026-11-24T02:03:34+01:00", 0, out), 0);
    assert_int_not_equal(ls_iso_add_seconds("2026-13-24T02:03:34Z", 0, out), 0);
    assert_int_not_equal(ls_iso_add_seconds("2026-11-24T02:03:34.Z", 0, out), 0);
    assert_int_not_equal(ls_iso_add_seconds("", 0, out), 0);
}

static void test_ls_sync__iso_compare(void **state)
{
    (void)state;
    assert_true(ls_iso_compare("2026-11-24T02:03:34.5Z", "2026-11-24T02:03:34.4999999Z") > 0);
    assert_int_equal(ls_iso_compare("2026-11-24T02:03:34.5Z", "2026-11-24T02:03:34.5000000Z"), 0);
    assert_true(ls_iso_compare("2026-11-24T02:03:34Z", "2026-11-24T02:03:35Z") < 0);
    assert_true(ls_iso_compare("2025-12-31T23:59:59.9999999Z", "2026-01-01T00:00:00Z") < 0);
    /* the service's own 7-digit form, compared as strings */
    assert_true(ls_iso_compare("2026-11-24T02:03:34.5663250Z", "2026-11-24T02:03:34.5663251Z") < 0);
    assert_true(ls_iso_compare("2026-11-24T02:03:35.0000000Z", "2026-11-24T02:03:34.9999999Z") > 0);
    assert_true(ls_iso_compare("2027-01-01T00:00:00.0000000Z", "2026-12-31T23:59:59.9999999Z") > 0);
    assert_int_equal(ls_iso_compare("2026-11-24T02:03:34.5663250Z", "2026-11-24T02:03:34.5663250Z"),
                     0);
    /* text that names no instant (a bad field, the canonical shape included)
     * is older than every instant: compared as strings it made a cycle */
    assert_true(ls_iso_compare("2026-01-01T00:00:00A", "2026-01-01T00:00:00Z") < 0);
    assert_true(ls_iso_compare("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.1Z") < 0);
    assert_true(ls_iso_compare("2026-01-01T00:00:00A", "2026-01-01T00:00:00.1Z") < 0);
    assert_true(ls_iso_compare("2026-13-01T00:00:00.0000000Z", "2026-11-01T00:00:00Z") < 0);
    assert_true(ls_iso_compare("2026-13-01T00:00:00.0000000Z", "2026-12-01T00:00:00.0000000Z") < 0);
}

static void test_ls_sync__iso_format(void **state)
{
    char out[40];

    (void)state;
    ls_iso_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.0000000Z");
    ls_iso_format(1795485814, out);
    assert_string_equal(out, "2026-11-24T02:03:34.0000000Z");
}

static void test_ls_sync__delivery_id_stable_and_distinct(void **state)
{
    char a[40], b[40], c[40], d[40], e[40];

    (void)state;
    ls_delivery_id("p", "r", "00ff", a);
    ls_delivery_id("p", "r", "00ff", b);
    ls_delivery_id("p", "r", "00fe", c);
    /* the separator keeps ("pr", "") apart from ("p", "r") */
    ls_delivery_id("pr", "", "00ff", d);
    ls_delivery_id("p", "r0", "0ff", e);
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 36);
    assert_memory_equal(a, "msg_", 4);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    assert_string_not_equal(a, e);
}

/*
 * Golden vectors: receivers deduplicate on the delivery id, so a change to
 * how it is derived would make every receiver record every lead again after
 * an upgrade. The expected ids were computed once, independently, as
 * "msg_" + the first 16 bytes of SHA-256(pk NUL rk NUL content_hash) in hex;
 * if this test fails, the change breaks every deployment's deduplication.
 */
static void test_ls_sync__delivery_id_golden(void **state)
{
    char id[40];

    (void)state;
    ls_delivery_id("p", "r", "00ff", id);
    assert_string_equal(id, "msg_adaa4f1b39bb74886e6221daa9df81d2");
    ls_delivery_id("2026-11-24", "a1b2c3d4-0000-4000-8000-000000000001",
                   "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", id);
    assert_string_equal(id, "msg_77a3569e854b8dd7f5f7b4d6c139aedf");
}

/* The ordering rule of a lead's versions: Timestamp, then CreatedTime, then
 * the keys - never the keys first (issue: a lead's newest click wins). */
static void test_ls_sync__row_version_order(void **state)
{
    struct ls_row_version older = {"2026-11-24T02:03:34.1000000Z", "11/24/2026 2:03:34 AM", "p",
                                   "zz-older"};
    struct ls_row_version newer = {"2026-11-24T02:03:34.2500000Z", "11/24/2026 2:03:34 AM", "p",
                                   "aa-newer"};
    struct ls_row_version a = older, b = older;

    (void)state;
    /* Timestamp decides before the keys, in both key orders */
    assert_int_equal(ls_row_version_compare(&older, &newer), -1);
    assert_int_equal(ls_row_version_compare(&newer, &older), 1);
    older.row_key = "aa-older";
    newer.row_key = "zz-newer";
    assert_int_equal(ls_row_version_compare(&older, &newer), -1);
    assert_int_equal(ls_row_version_compare(&newer, &older), 1);
    /* a shorter fraction is the same instant: compared as times, not text */
    a.timestamp = "2026-11-24T02:03:34.1Z";
    assert_int_equal(ls_row_version_compare(&a, &b), 0);
    /* equal Timestamps: CreatedTime, as an instant (12 PM is noon, 1 PM after it) */
    a.created_time = "11/24/2026 1:00:00 PM";
    b.created_time = "11/24/2026 12:59:59 PM";
    b.row_key = "zzzz";
    assert_int_equal(ls_row_version_compare(&a, &b), 1);
    a.created_time = "11/24/2026 12:00:00 AM"; /* midnight */
    b.created_time = "11/24/2026 1:00:00 AM";
    assert_int_equal(ls_row_version_compare(&a, &b), -1);
    a.created_time = "2026-11-24T13:00:00Z"; /* ISO against the US form */
    b.created_time = "11/24/2026 12:00:00 PM";
    assert_int_equal(ls_row_version_compare(&a, &b), 1);
    /* a CreatedTime that reads as no instant is older than one that does
     * (were it not to decide, the keys could make a cycle); two such tie */
    a.created_time = "yesterday";
    b.created_time = "11/24/2026 1:00:00 AM";
    a.row_key = "b";
    b.row_key = "a";
    assert_int_equal(ls_row_version_compare(&a, &b), -1);
    a.created_time = NULL;
    assert_int_equal(ls_row_version_compare(&a, &b), -1);
    b.created_time = "tomorrow";
    assert_int_equal(ls_row_version_compare(&a, &b), 1);
    /* then PartitionKey before RowKey */
    a.partition_key = "p1";
    b.partition_key = "p2";
    assert_int_equal(ls_row_version_compare(&a, &b), -1);
    /* the same row is the same version */
    assert_int_equal(ls_row_version_compare(&a, &a), 0);
    /* no Timestamp is older than any time */
    a.timestamp = NULL;
    assert_int_equal(ls_row_version_compare(&a, &b), -1);
    assert_int_equal(ls_row_version_compare(&b, &a), 1);
}

/* The catch-up progress line: an ETA only when the ledger knows more rows
 * in the window than were read so far. */
static void test_ls_sync__progress_line(void **state)
{
    struct ls_sync_stats st;
    char line[512];

    (void)state;
    memset(&st, 0, sizeof(st));
    snprintf(st.upper, sizeof(st.upper), "2026-12-01T17:13:52.0000000Z");
    st.rows = 58000;
    st.fresh = 1200;
    st.updated = 300;
    st.unchanged = 56500;
    ls_sync_progress_line(&st, 15000, 900, 103600, line, sizeof(line));
    assert_string_equal(line, "catching up to 17:13:52 UTC: 58000 rows read (1200 new, 300 "
                              "updated, 56500 unchanged), 3866 rows/s, 900 delivered; ETA 12 s "
                              "(58000 of at least 103600 rows)");
    ls_sync_progress_line(&st, 15000, 0, 2000000, line, sizeof(line));
    assert_non_null(strstr(line, "; ETA 8 min ("));
    ls_sync_progress_line(&st, 15000, 0, 0, line, sizeof(line));
    assert_non_null(strstr(line, "; ETA unknown (a first read of these rows)"));
    ls_sync_progress_line(&st, 15000, 0, 1000, line, sizeof(line));
    assert_non_null(strstr(line, "; ETA unknown (more rows than the ledger knew of)"));
    ls_sync_progress_line(&st, 0, 0, 100000, line, sizeof(line));
    assert_non_null(strstr(line, " 0 rows/s, "));
    assert_non_null(strstr(line, "ETA unknown"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_sync__iso_add_keeps_seven_digits),
        cmocka_unit_test(test_ls_sync__iso_rejects_garbage),
        cmocka_unit_test(test_ls_sync__iso_compare),
        cmocka_unit_test(test_ls_sync__iso_format),
        cmocka_unit_test(test_ls_sync__delivery_id_stable_and_distinct),
        cmocka_unit_test(test_ls_sync__delivery_id_golden),
        cmocka_unit_test(test_ls_sync__row_version_order),
        cmocka_unit_test(test_ls_sync__progress_line),
    };

    return lst_run_group(tests, NULL, NULL);
}
