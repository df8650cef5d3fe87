/* test_azt_retry.c - the pure retry policy of the azt client: backoff with
 * jitter and caps, Retry-After parsing, which statuses are transient. */
#include "ls_test.h"

#include "azt.h"
#include "internal/azt_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void backoff_doubles_within_jitter(void **state)
{
    int retry;
    long base = 500, cap = 30000;

    (void)state;
    for (retry = 0; retry < 10; retry++) {
        long d = base << retry;
        long lo, hi;

        if (d > cap)
            d = cap;
        /* rnd = 0 gives the bottom of the window, a huge rnd stays inside it */
        lo = azt_backoff_ms(retry, base, cap, -1, 0);
        hi = azt_backoff_ms(retry, base, cap, -1, UINT32_MAX);
        assert_int_equal(lo, d / 2);
        assert_true(hi >= d / 2);
        assert_true(hi <= d);
    }
}

static void backoff_span_is_covered(void **state)
{
    uint32_t r;
    long seen_lo = 100000, seen_hi = 0;

    (void)state;
    /* retry 2 with base 100: d = 400, window [200, 400] */
    for (r = 0; r < 1000; r++) {
        long v = azt_backoff_ms(2, 100, 100000, -1, r);

        assert_true(v >= 200 && v <= 400);
        if (v < seen_lo)
            seen_lo = v;
        if (v > seen_hi)
            seen_hi = v;
    }
    assert_int_equal(seen_lo, 200);
    assert_int_equal(seen_hi, 400);
}

static void backoff_capped(void **state)
{
    (void)state;
    assert_true(azt_backoff_ms(60, 500, 30000, -1, UINT32_MAX) <= 30000);
    assert_true(azt_backoff_ms(60, 500, 30000, -1, 0) >= 15000);
    /* no overflow on huge retry counts or bases */
    assert_true(azt_backoff_ms(1000, 1L << 40, 60000, -1, 7) <= 60000);
    assert_int_equal(azt_backoff_ms(3, 0, 1000, -1, 5), 0);
}

static void backoff_honours_retry_after(void **state)
{
    (void)state;
    /* the larger of the jittered delay and Retry-After */
    assert_int_equal(azt_backoff_ms(0, 500, 30000, 5000, 0), 5000);
    assert_int_equal(azt_backoff_ms(6, 500, 30000, 100, 0), 15000);
    /* Retry-After above the cap still wins: its own limit is the parser's max_ms */
    assert_int_equal(azt_backoff_ms(0, 10, 100, 2000, 0), 2000);
    assert_int_equal(azt_backoff_ms(0, 10, 100, 86400000L, 0), 86400000L);
}

/* Fixed vectors: retry n waits in [d/2, d] for d = base * 2^n, cap included. */
static void backoff_vectors(void **state)
{
    (void)state;
    assert_int_equal(azt_backoff_ms(0, 1000, 60000, -1, 0), 500);
    assert_int_equal(azt_backoff_ms(0, 1000, 60000, -1, 500), 1000);
    assert_int_equal(azt_backoff_ms(2, 1000, 60000, -1, 2000), 4000);
    assert_int_equal(azt_backoff_ms(29, 1000, 60000, -1, 30000), 60000);
    assert_int_equal(azt_backoff_ms(29, 1000, 60000, -1, 7), 30007);
    assert_int_equal(azt_backoff_ms(0, 1000, 60000, 7000, 0), 7000);
    assert_int_equal(azt_backoff_ms(4, 1000, 60000, 10, 8000), 16000);
}

/* The client's Retry-After: the table service's 300 s limit. */
static long ra(const char *s, size_t n, time_t now)
{
    return azt_retry_after_ms(s, n, (int64_t)now * 1000, AZT__RETRY_AFTER_MAX_MS);
}

static void retry_after_seconds(void **state)
{
    (void)state;
    assert_int_equal(ra("2", 1, 0), 2000);
    assert_int_equal(ra(" 30 \r\n", 6, 0), 30000);
    assert_int_equal(ra("0", 1, 0), 0);
    assert_int_equal(ra("99999999999", 11, 0), AZT__RETRY_AFTER_MAX_MS);
    /* only the given length is read */
    assert_int_equal(ra("12345", 2, 0), 12000);
}

static void retry_after_http_date(void **state)
{
    time_t now = 0;
    const char *d = "Mon, 05 Dec 2011 17:55:02 GMT";

    (void)state;
    assert_int_equal(azt_parse_http_date(d, &now), AZT_OK);
    now -= 7;
    assert_int_equal(ra(d, strlen(d), now), 7000);
    /* a date in the past means now */
    assert_int_equal(ra(d, strlen(d), now + 100), 0);
}

/* The limit is the caller's: the same values under a one-day max_ms. */
static void retry_after_max_is_a_parameter(void **state)
{
    const char *d = "Mon, 05 Dec 2011 17:55:02 GMT";
    time_t t = 0;
    int64_t now_ms;

    (void)state;
    assert_int_equal(azt_retry_after_ms("3600", 4, 0, 86400000L), 3600000L);
    assert_int_equal(azt_retry_after_ms("3600", 4, 0, 300000L), 300000L);
    assert_int_equal(azt_retry_after_ms("99999999999", 11, 0, 86400000L), 86400000L);
    assert_int_equal(azt_parse_http_date(d, &t), AZT_OK);
    now_ms = (int64_t)t * 1000 - 7200500; /* 2 h 0.5 s before the date */
    assert_int_equal(azt_retry_after_ms(d, strlen(d), now_ms, 86400000L), 7200500L);
    assert_int_equal(azt_retry_after_ms(d, strlen(d), now_ms, 300000L), 300000L);
    assert_int_equal(azt_retry_after_ms("5", 1, 0, -1), -1);
}

static void retry_after_garbage(void **state)
{
    (void)state;
    assert_int_equal(ra("", 0, 0), -1);
    assert_int_equal(ra("   ", 3, 0), -1);
    assert_int_equal(ra("soon", 4, 0), -1);
    assert_int_equal(ra("-5", 2, 0), -1);
    assert_int_equal(ra("1.5", 3, 0), -1);
    /* a NUL inside a date would end it early and let what follows through */
    assert_int_equal(ra("Mon, 05 Dec 2011 17:55:02 GMT\0junk", 34, 0), -1);
    /* no such day (timegm would make it 3 March) */
    assert_int_equal(ra("Wed, 31 Feb 2027 02:03:35 GMT", 29, 0), -1);
}

static void retryable_statuses(void **state)
{
    static const long yes[] = {408, 429, 500, 502, 503, 504};
    static const long no[] = {200, 204, 400, 401, 403, 404, 405, 409, 412, 413, 415, 501, 505};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(azt__status_retryable(yes[i]));
    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(azt__status_retryable(no[i]));
}

static void table_names_and_key_paths(void **state)
{
    char *p = NULL;

    (void)state;
    assert_int_equal(azt__table_name_check("leads"), AZT_OK);
    assert_int_equal(azt__table_name_check("MarketplaceLeads"), AZT_OK);
    assert_int_not_equal(azt__table_name_check("ab"), AZT_OK);
    assert_int_not_equal(azt__table_name_check("1abc"), AZT_OK);
    assert_int_not_equal(azt__table_name_check("lea/ds"), AZT_OK);
    assert_int_not_equal(azt__table_name_check("leads()"), AZT_OK);
    assert_int_not_equal(azt__table_name_check(""), AZT_OK);

    assert_int_equal(azt__key_path("a b'c", "r\xc3\xa9", &p), AZT_OK);
    assert_string_equal(p, "(PartitionKey='a%20b''c',RowKey='r%C3%A9')");
    free(p);
    assert_int_equal(azt__key_path("p1", "r1", &p), AZT_OK);
    assert_string_equal(p, "(PartitionKey='p1',RowKey='r1')");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_doubles_within_jitter),
        cmocka_unit_test(backoff_span_is_covered),
        cmocka_unit_test(backoff_capped),
        cmocka_unit_test(backoff_honours_retry_after),
        cmocka_unit_test(backoff_vectors),
        cmocka_unit_test(retry_after_seconds),
        cmocka_unit_test(retry_after_http_date),
        cmocka_unit_test(retry_after_max_is_a_parameter),
        cmocka_unit_test(retry_after_garbage),
        cmocka_unit_test(retryable_statuses),
        cmocka_unit_test(table_names_and_key_paths),
    };

    return lst_run_group(tests, NULL, NULL);
}
