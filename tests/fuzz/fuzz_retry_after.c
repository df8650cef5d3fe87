/*
 * fuzz_retry_after.c - Retry-After values (delta-seconds or an HTTP date in
 * any of its three forms) through azt_retry_after_ms, as the table client
 * (5 minute cap) and the sinks (one day cap) read them, the table's
 * retry-after-ms through azt__parse_ms, and HTTP dates (also the table's
 * Date header) through azt_parse_http_date.
 *
 * Checks beyond "no crash": every delay is -1 or within its cap, and the two
 * caps differ only by capping; a number reads as its value; a parsed HTTP
 * date formats and parses back to the same instant; a date made from the
 * input's first bytes reads back as the delay it encodes.
 */
#include "azt.h"
#include "internal/azt_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY_MS (86400L * 1000) /* the sinks' cap */

static void check(int ok)
{
    if (!ok)
        abort();
}

static long min_long(long a, long b)
{
    return a < b ? a : b;
}

/* 1 when p[0..n) is blanks, digits, blanks (a delta-seconds value); its
 * value, at most 10^9, into *v. */
static int is_number(const char *p, size_t n, long *v)
{
    size_t i = 0, d;

    *v = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    for (d = i; i < n && p[i] >= '0' && p[i] <= '9'; i++)
        *v = min_long(*v * 10 + (p[i] - '0'), 1000000000L);
    if (i == d)
        return 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i == n;
}

/* The value with the table client's cap and the sinks' cap, the same clock. */
static void both(const char *p, size_t n, time_t now)
{
    long a = azt_retry_after_ms(p, n, (int64_t)now * 1000, AZT__RETRY_AFTER_MAX_MS);
    long w = azt_retry_after_ms(p, n, (int64_t)now * 1000, DAY_MS);
    long m = azt__parse_ms(p, n);
    long v;

    check(w >= -1 && w <= DAY_MS);
    check(a >= -1 && a <= AZT__RETRY_AFTER_MAX_MS);
    check(m >= -1 && m <= AZT__RETRY_AFTER_MAX_MS);
    /* the cap only caps: the same value reads the same below it */
    check(a == (w < 0 ? -1 : min_long(w, AZT__RETRY_AFTER_MAX_MS)));
    if (is_number(p, n, &v)) {
        check(w == min_long(v, 86400) * 1000);
        check(m == min_long(v, AZT__RETRY_AFTER_MAX_MS));
    } else {
        check(m == -1);
    }
}

/* Whatever azt_parse_http_date accepts formats and reads back the same. */
static void date_round_trip(const char *p, size_t n)
{
    char *text = malloc(n + 1);
    char out[30];
    time_t t, back;

    check(text != NULL);
    memcpy(text, p, n);
    text[n] = '\0';
    if (azt_parse_http_date(text, &t) == AZT_OK) {
        azt_format_http_date(t, out); /* empty for years past 9999 */
        check(!out[0] || (azt_parse_http_date(out, &back) == AZT_OK && back == t));
    }
    free(text);
}

/* The first four bytes as an offset from now, written as a date: both
 * parsers read it back as that many seconds (capped; 0 in the past). */
static void made_date(const uint8_t *data, size_t size, time_t now)
{
    int32_t off;
    char d[30];
    long want;

    if (size < 4)
        return;
    memcpy(&off, data, sizeof(off));
    off %= 3 * 86400;
    azt_format_http_date(now + off, d);
    want = off <= 0 ? 0 : min_long((long)off * 1000, DAY_MS);
    check(azt_retry_after_ms(d, strlen(d), (int64_t)now * 1000, DAY_MS) == want);
    check(azt_retry_after_ms(d, strlen(d), (int64_t)now * 1000, AZT__RETRY_AFTER_MAX_MS) ==
          min_long(want, AZT__RETRY_AFTER_MAX_MS));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 2026-11-24T02:03:30Z, and a clock in 1994 for dates near the examples */
    const time_t nows[] = {1795485810, 784111777};
    const char *p = (const char *)data;
    size_t i;

    for (i = 0; i < sizeof(nows) / sizeof(nows[0]); i++) {
        both(p, size, nows[i]);
        made_date(data, size, nows[i]);
    }
    date_round_trip(p, size);
    return 0;
}
