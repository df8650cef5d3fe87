/*
 * azt_filter.c - building blocks for $filter expressions and URLs: quoted
 * string literals, datetime literals (validated, kept verbatim so the 7th
 * fractional digit survives) and RFC 3986 percent-encoding.
 */
#include "azt.h"
#include "internal/azt_int.h"
#include "internal/azt_iso.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int digits(const char *s, size_t n, int *v)
{
    size_t i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

/* The fields of s[0..n) as YYYY-MM-DDThh:mm:ss[.f{1,7}]Z into *tm and frac;
 * -1 when the shape or a field is wrong. */
static int iso_fields(const char *s, size_t n, struct tm *tm, char frac[8])
{
    int year, mon, day, hh, mm, ss, unused;
    size_t nfrac;

    /* 0123456789012345678 */
    /* YYYY-MM-DDThh:mm:ss */
    if (!s || n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':' || s[n - 1] != 'Z')
        return -1;
    if (digits(s, 4, &year) || digits(s + 5, 2, &mon) || digits(s + 8, 2, &day) ||
        digits(s + 11, 2, &hh) || digits(s + 14, 2, &mm) || digits(s + 17, 2, &ss))
        return -1;
    if (year < 1 || mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hh > 23 ||
        mm > 59 || ss > 59)
        return -1;
    memcpy(frac, "0000000", 8);
    if (n > 20) {
        nfrac = n - 21;
        if (s[19] != '.' || nfrac < 1 || nfrac > 7 || digits(s + 20, nfrac, &unused))
            return -1;
        memcpy(frac, s + 20, nfrac);
    }
    memset(tm, 0, sizeof(*tm));
    tm->tm_year = year - 1900;
    tm->tm_mon = mon - 1;
    tm->tm_mday = day;
    tm->tm_hour = hh;
    tm->tm_min = mm;
    tm->tm_sec = ss;
    return 0;
}

int azt__iso8601_utc_valid(const char *s, size_t n)
{
    struct tm tm;
    char frac[8];

    return iso_fields(s, n, &tm, frac) == 0;
}

int azt_iso8601_parse(const char *s, size_t n, int64_t *secs, char frac[8])
{
    struct tm tm;
    char f[8];

    if (iso_fields(s, n, &tm, f) != 0)
        return azt__error(AZT_EPARSE, "not an ISO 8601 UTC time (YYYY-MM-DDThh:mm:ss[.fffffff]Z)");
    if (secs)
        *secs = (int64_t)timegm(&tm);
    if (frac)
        memcpy(frac, f, 8);
    return AZT_OK;
}

int azt_filter_string(const char *s, char **out)
{
    struct azt_buf b = {0};
    const char *p;
    int rc;

    *out = NULL;
    if (!s)
        return azt__error(AZT_EINVAL, "filter string: NULL");
    rc = azt__buf_append(&b, "'", 1);
    for (p = s; rc == AZT_OK && *p; p++)
        rc = *p == '\'' ? azt__buf_append(&b, "''", 2) : azt__buf_append(&b, p, 1);
    if (rc == AZT_OK)
        rc = azt__buf_append(&b, "'", 1);
    if (rc == AZT_OK)
        *out = azt__buf_take(&b);
    azt__buf_dispose(&b);
    return rc;
}

int azt_filter_datetime(const char *iso, char **out)
{
    struct azt_buf b = {0};
    int rc;

    *out = NULL;
    if (!iso)
        return azt__error(AZT_EINVAL, "filter datetime: NULL");
    if (!azt__iso8601_utc_valid(iso, strlen(iso)))
        return azt__error(AZT_EINVAL, "filter datetime: not YYYY-MM-DDThh:mm:ss[.fffffff]Z in UTC");
    rc = azt__buf_appendf(&b, "datetime'%s'", iso);
    if (rc == AZT_OK)
        *out = azt__buf_take(&b);
    azt__buf_dispose(&b);
    return rc;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int azt_url_encode(const char *s, size_t n, char **out)
{
    static const char hex[] = "0123456789ABCDEF";
    char *p = NULL;
    size_t i, j = 0;

    *out = NULL;
    if (!s && n)
        return azt__error(AZT_EINVAL, "url encode: NULL");
    if (n > (SIZE_MAX - 1) / 3)
        return azt__error(AZT_ETOOBIG, "url encode: input too long");
    p = azt_xmalloc(n * 3 + 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (unreserved(c)) {
            p[j++] = (char)c;
        } else {
            p[j++] = '%';
            p[j++] = hex[c >> 4];
            p[j++] = hex[c & 15];
        }
    }
    p[j] = '\0';
    *out = p;
    return AZT_OK;
}
