/* test_azt_filter.c - $filter literals and URL encoding. */
#include "ls_test.h"

#include "azt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_azt_filter__string_quotes(void **state)
{
    static const char *const cases[][2] = {
        {"", "''"},       {"p1", "'p1'"},     {"o'clock", "'o''clock'"},
        {"''", "''''''"}, {"'a'", "'''a'''"}, {"caf\xc3\xa9 & co", "'caf\xc3\xa9 & co'"},
    };
    size_t i;
    char *out = NULL;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(azt_filter_string(cases[i][0], &out), 0);
        assert_string_equal(out, cases[i][1]);
        free(out);
    }
    assert_int_equal(azt_filter_string(NULL, &out), AZT_EINVAL);
    assert_null(out);
}

static void test_azt_filter__datetime_valid(void **state)
{
    static const char *const ok[] = {
        "2024-01-02T03:04:05Z",         "2024-01-02T03:04:05.1Z",
        "2024-01-02T03:04:05.1234567Z", "2026-11-24T02:03:34.5663250Z",
        "2024-02-29T23:59:59.9999999Z", "2000-02-29T00:00:00Z",
        "0001-01-01T00:00:00.0000000Z", "9999-12-31T23:59:59.9999999Z",
    };
    size_t i;
    char *out = NULL;
    char expect[64];

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        print_message("%s\n", ok[i]);
        assert_int_equal(azt_filter_datetime(ok[i], &out), 0);
        snprintf(expect, sizeof(expect), "datetime'%s'", ok[i]);
        assert_string_equal(out, expect);
        free(out);
    }
}

static void test_azt_filter__datetime_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "2024-01-02T03:04:05.12345678Z", /* 8 fractional digits */
        "2024-01-02T03:04:05",           /* no Z */
        "2024-01-02T03:04:05.123",       /* no Z */
        "2024-01-02T03:04:05+00:00",     /* offsets are not UTC form */
        "2024-01-02T03:04:05.Z",         /* empty fraction */
        "2024-01-02 03:04:05Z",          /* space instead of T */
        "2024-1-02T03:04:05Z",           /* short month */
        "2024-13-02T03:04:05Z",
        "2024-00-02T03:04:05Z",
        "2023-02-29T03:04:05Z", /* not a leap year */
        "1900-02-29T03:04:05Z",
        "2024-04-31T03:04:05Z",
        "2024-01-02T24:00:00Z",
        "2024-01-02T23:60:00Z",
        "2024-01-02T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "2024-01-02T03:04:05.12a4Z",
        "2024-01-02T03:04:05Zjunk",
        "2024-01-02T03:04:05z",
        "'2024-01-02T03:04:05Z'",
        "2024-01-02T03:04:05Z' or 1 eq 1 or 'x",
    };
    size_t i;
    char *out = (char *)"sentinel";

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("%s\n", bad[i]);
        assert_int_equal(azt_filter_datetime(bad[i], &out), AZT_EINVAL);
        assert_null(out);
    }
    assert_int_equal(azt_filter_datetime(NULL, &out), AZT_EINVAL);
}

/* Fixed vectors for the one ISO 8601 parser the worker shares. */
static void test_azt_filter__iso8601_parse(void **state)
{
    static const char *bad[] = {
        "2026-11-24T02:03:30",           /* no Z */
        "2026-11-24 02:03:30Z",          /* no T */
        "2026-02-29T00:00:00Z",          /* not a leap year */
        "2026-04-31T00:00:00Z",          /* April has 30 days */
        "2026-11-24T24:00:00Z",          /* hour */
        "2026-11-24T02:03:60Z",          /* leap second */
        "2026-11-24T02:03:30.Z",         /* empty fraction */
        "2026-11-24T02:03:30.12345678Z", /* 8 fraction digits */
        "+026-11-24T02:03:30Z",          /* sign */
        "2026-1-24T02:03:30Z",           /* short field */
        "",
    };
    int64_t secs = 0;
    char frac[8];
    size_t i;

    (void)state;
    assert_int_equal(azt_iso8601_parse("2026-11-24T02:03:30Z", 20, &secs, frac), AZT_OK);
    assert_int_equal(secs, 1795485810);
    assert_string_equal(frac, "0000000");
    assert_int_equal(azt_iso8601_parse("2026-11-24T02:03:30.25Z", 23, &secs, frac), AZT_OK);
    assert_string_equal(frac, "2500000");
    assert_int_equal(azt_iso8601_parse("2024-02-29T23:59:59.1234567Z", 28, &secs, NULL), AZT_OK);
    assert_int_equal(secs, 1709251199);
    assert_int_equal(azt_iso8601_parse("1970-01-01T00:00:00Z", 20, &secs, NULL), AZT_OK);
    assert_int_equal(secs, 0);
    /* only n bytes are read */
    assert_int_equal(azt_iso8601_parse("2026-11-24T02:03:30Zjunk", 20, NULL, NULL), AZT_OK);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(azt_iso8601_parse(bad[i], strlen(bad[i]), &secs, frac), AZT_EPARSE);
        assert_non_null(strstr(azt_error_last(), "ISO 8601"));
    }
}

static void test_azt_filter__url_encode(void **state)
{
    static const char *const cases[][2] = {
        {"", ""},
        {"AZaz09-._~", "AZaz09-._~"},
        {"PartitionKey eq 'p1'", "PartitionKey%20eq%20%27p1%27"},
        {"/?:@&=+,$#%", "%2F%3F%3A%40%26%3D%2B%2C%24%23%25"},
        {"r\xc3\xa9", "r%C3%A9"},
        {"1!8!U21pdGg-", "1%218%21U21pdGg-"},
        {"cDI=", "cDI%3D"},
    };
    size_t i;
    char *out = NULL;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(azt_url_encode(cases[i][0], strlen(cases[i][0]), &out), 0);
        assert_string_equal(out, cases[i][1]);
        free(out);
    }
    /* Lengths are honoured: an embedded NUL and bytes past n. */
    assert_int_equal(azt_url_encode("a\0b", 3, &out), 0);
    assert_string_equal(out, "a%00b");
    free(out);
    assert_int_equal(azt_url_encode("abc d", 3, &out), 0);
    assert_string_equal(out, "abc");
    free(out);
    assert_int_equal(azt_url_encode("\x7f\x80\xff", 3, &out), 0);
    assert_string_equal(out, "%7F%80%FF");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_azt_filter__string_quotes),
        cmocka_unit_test(test_azt_filter__datetime_valid),
        cmocka_unit_test(test_azt_filter__datetime_invalid),
        cmocka_unit_test(test_azt_filter__iso8601_parse),
        cmocka_unit_test(test_azt_filter__url_encode),
    };

    return lst_run_group(tests, NULL, NULL);
}
