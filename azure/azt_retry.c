/*
 * azt_retry.c - the retry policy, pure: which statuses are transient, the
 * backoff between attempts, and the Retry-After family of headers.
 */
#include "azt.h"
#include "internal/azt_int.h"

#include <string.h>
#include <time.h>

int azt__status_retryable(long status)
{
    return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
           status == 504;
}

long azt_backoff_ms(int retry, long base_ms, long cap_ms, long retry_after_ms, uint32_t rnd)
{
    long d = base_ms > 0 ? base_ms : 0;
    long lo, span, out;
    int i;

    if (cap_ms < 0)
        cap_ms = 0;
    for (i = 0; i < retry && d < cap_ms; i++)
        d = d > cap_ms / 2 ? cap_ms : d * 2;
    if (d > cap_ms)
        d = cap_ms;
    lo = d / 2;
    span = d - lo;
    out = lo + (span > 0 ? (long)(rnd % ((uint32_t)span + 1u)) : 0);
    if (retry_after_ms > out)
        out = retry_after_ms;
    return out;
}

/* Drops the blanks around a header value (and the line end a raw header keeps). */
static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r' ||
                  (*s)[*n - 1] == '\n'))
        (*n)--;
}

long azt_retry_after_ms(const char *s, size_t n, int64_t now_ms, long max_ms)
{
    char tmp[64];
    time_t t;
    size_t i;
    long v = 0;
    int64_t at;

    trim(&s, &n);
    if (n == 0 || max_ms < 0)
        return -1;
    for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (v < 100000000L)
            v = v * 10 + (s[i] - '0');
    }
    if (i == n)
        return v > max_ms / 1000 ? max_ms : v * 1000;
    /* a NUL inside would end the date early and let trailing garbage through */
    if (n >= sizeof(tmp) || memchr(s, '\0', n) != NULL)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (azt_parse_http_date(tmp, &t) != AZT_OK)
        return -1;
    at = (int64_t)t * 1000;
    if (at <= now_ms)
        return 0;
    return at - now_ms > max_ms ? max_ms : (long)(at - now_ms);
}

long azt__parse_ms(const char *s, size_t n)
{
    size_t i;
    long v = 0;

    trim(&s, &n);
    if (n == 0)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v < 100000000L)
            v = v * 10 + (s[i] - '0');
    }
    return v > AZT__RETRY_AFTER_MAX_MS ? AZT__RETRY_AFTER_MAX_MS : v;
}
