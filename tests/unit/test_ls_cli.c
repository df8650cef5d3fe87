/* test_ls_cli.c - the command line's pure parts: run --since. */
#include "ls_test.h"

#include "ls_cli.h"
#include "ls_common.h"

#include <string.h>

/* 2026-12-01T12:00:00Z */
#define NOW 1796126400LL

static void expect(const char *in, const char *want)
{
    char out[40] = "";

    assert_int_equal(ls_cli_parse_since(in, NOW, out), LS_OK);
    assert_string_equal(out, want);
}

static void refuse(const char *in, const char *why)
{
    char out[40] = "";

    assert_int_equal(ls_cli_parse_since(in, NOW, out), LS_EUSAGE);
    assert_non_null(strstr(ls_error_last(), why));
    /* the message quotes the input once, not garbled by re-formatting */
    assert_non_null(strstr(ls_error_last(), in));
    assert_null(strstr(ls_error_last(), "--since: --since"));
}

static void test_ls_cli__since_dates_and_offsets(void **state)
{
    (void)state;
    expect("2026-11-30", "2026-11-30T00:00:00.0000000Z");
    expect("2026-11-30T08:00:00Z", "2026-11-30T08:00:00.0000000Z");
    expect("2026-11-30T08:00Z", "2026-11-30T08:00:00.0000000Z");
    expect("2026-11-30T08:00:00+01:00", "2026-11-30T07:00:00.0000000Z");
    expect("2026-11-30T23:30:00-0530", "2026-12-01T05:00:00.0000000Z");
    expect("2026-11-30 08:00:00+02", "2026-11-30T06:00:00.0000000Z");
    /* the fraction is kept: a bound between tied Timestamps stays exact */
    expect("2026-11-30T08:00:00.1234567Z", "2026-11-30T08:00:00.1234567Z");
    expect("2026-11-30T08:00:00.5+01:00", "2026-11-30T07:00:00.5000000Z");
    expect("2026-12-01T12:00:00Z", "2026-12-01T12:00:00.0000000Z"); /* now itself */
}

static void test_ls_cli__since_durations(void **state)
{
    (void)state;
    expect("24h", "2026-11-30T12:00:00.0000000Z");
    expect("7d", "2026-11-24T12:00:00.0000000Z");
    expect("90m", "2026-12-01T10:30:00.0000000Z");
    expect("30s", "2026-12-01T11:59:30.0000000Z");
    expect("2w", "2026-11-17T12:00:00.0000000Z");
}

static void test_ls_cli__since_refused(void **state)
{
    (void)state;
    refuse("yesterday", "not a time");
    refuse("", "not a time");
    refuse("7", "not a time");
    refuse("7y", "not a time");
    refuse("-7d", "not a time");
    refuse("2026-11-30T08:00:00", "no offset");
    refuse("2026-11-30T08:00:00+1", "offset");
    refuse("2026-11-30T08:00:00Zjunk", "offset");
    refuse("2026-02-30", "no such date");
    refuse("2026-13-01", "no such date");
    refuse("2026-11-30T25:00Z", "no such date");
    refuse("2026-12-02", "future");
    refuse("2026-12-01T12:00:01Z", "future");
    refuse("2026-12-01T13:30:00+01:00", "future");
}

/* Adding context to the last message reads the buffer it writes. */
static void test_ls_cli__error_context_is_not_garbled(void **state)
{
    (void)state;
    ls_error(LS_EUSAGE, "'y' is not a time");
    assert_int_equal(ls_error(LS_EUSAGE, "--since: %s", ls_error_last()), LS_EUSAGE);
    assert_string_equal(ls_error_last(), "--since: 'y' is not a time");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_cli__since_dates_and_offsets),
        cmocka_unit_test(test_ls_cli__since_durations),
        cmocka_unit_test(test_ls_cli__since_refused),
        cmocka_unit_test(test_ls_cli__error_context_is_not_garbled),
    };

    return lst_run_group(tests, NULL, NULL);
}
