/*
 * azt_sign.c - the pure half of Shared Key signing: the Table-service
 * string-to-sign, HMAC-SHA256, base64 and HTTP dates. No I/O, no clock: the
 * caller passes the date, so tests pin it.
 */
#include "azt.h"
#include "internal/azt_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

static const char *const wdays[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wdays_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};
static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* A field of the string-to-sign must not smuggle in extra lines. */
static int has_newline(const char *s)
{
    return s && (strchr(s, '\n') || strchr(s, '\r'));
}

/* Appends "?comp=<value>" when the raw query has a comp parameter. */
static int append_comp(struct azt_buf *b, const char *query)
{
    const char *p = query;

    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);

        if (len >= 5 && memcmp(p, "comp=", 5) == 0) {
            int rc = azt__buf_append(b, "?comp=", 6);

            return rc ? rc : azt__buf_append(b, p + 5, len - 5);
        }
        p = end ? end + 1 : NULL;
    }
    return AZT_OK;
}

int azt_string_to_sign(enum azt_auth scheme, const char *verb, const char *content_md5,
                       const char *content_type, const char *date, const char *account,
                       const char *path, const char *query, char **out)
{
    struct azt_buf b = {0};
    int rc = AZT_OK;

    *out = NULL;
    if (scheme != AZT_AUTH_SHAREDKEY && scheme != AZT_AUTH_SHAREDKEY_LITE)
        return azt__error(AZT_EINVAL, "string-to-sign: scheme %d does not sign requests",
                          (int)scheme);
    if (!date || !*date || !account || !*account || !path ||
        (scheme == AZT_AUTH_SHAREDKEY && (!verb || !*verb)))
        return azt__error(AZT_EINVAL, "string-to-sign: missing verb, date, account or path");
    if (has_newline(verb) || has_newline(content_md5) || has_newline(content_type) ||
        has_newline(date) || has_newline(account) || has_newline(path))
        return azt__error(AZT_EINVAL, "string-to-sign: a field contains a line break");

    if (scheme == AZT_AUTH_SHAREDKEY)
        rc = azt__buf_appendf(&b, "%s\n%s\n%s\n", verb, content_md5 ? content_md5 : "",
                              content_type ? content_type : "");
    if (rc == AZT_OK)
        /* The request line always carries at least "/" as its path. */
        rc = azt__buf_appendf(&b, "%s\n/%s%s", date, account, *path ? path : "/");
    if (rc == AZT_OK)
        rc = append_comp(&b, query);
    if (rc != AZT_OK)
        goto done;
    *out = azt__buf_take(&b);
done:
    azt__buf_dispose(&b);
    return rc;
}

int azt_hmac_sha256_b64(const unsigned char *key, size_t key_len, const char *msg, size_t msg_len,
                        char out[45])
{
    static const unsigned char empty[1] = {0};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    out[0] = '\0';
    if (key_len > INT_MAX || (!key && key_len) || (!msg && msg_len))
        return azt__error(AZT_EINVAL, "hmac: bad key or message");
    if (!HMAC(EVP_sha256(), key_len ? key : empty, (int)key_len,
              msg_len ? (const unsigned char *)msg : empty, msg_len, md, &md_len) ||
        md_len != 32)
        return azt__error(AZT_ERROR, "hmac: HMAC-SHA256 failed");
    EVP_EncodeBlock((unsigned char *)out, md, (int)md_len);
    out[44] = '\0';
    return AZT_OK;
}

static int is_b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

int azt_base64_decode(const char *s, size_t n, unsigned char **out, size_t *out_len)
{
    char *padded = NULL;
    unsigned char *bytes = NULL;
    size_t chars = n, pads = 0, i, full, true_len;
    int got, rc = AZT_OK;

    *out = NULL;
    *out_len = 0;
    if (!s && n)
        return azt__error(AZT_EINVAL, "base64: NULL input");
    while (chars > 0 && s[chars - 1] == '=') {
        chars--;
        pads++;
    }
    if (pads > 2) {
        rc = azt__error(AZT_EPARSE, "base64: too much padding");
        goto done;
    }
    for (i = 0; i < chars; i++) {
        if (!is_b64_char((unsigned char)s[i])) {
            rc = azt__error(AZT_EPARSE, "base64: invalid character at offset %zu", i);
            goto done;
        }
    }
    /* Padding is optional, but when present it must complete the quantum. */
    if (chars % 4 == 1 || (pads && (chars + pads) % 4 != 0)) {
        rc = azt__error(AZT_EPARSE, "base64: bad length");
        goto done;
    }
    true_len = chars / 4 * 3 + (chars % 4 ? chars % 4 - 1 : 0);
    full = (chars + 3) / 4 * 4;
    if (full > INT_MAX) {
        rc = azt__error(AZT_EPARSE, "base64: input too long");
        goto done;
    }
    /* EVP_DecodeBlock wants whole quanta and counts '=' as output bytes, so
     * decode a re-padded copy and keep only the true length. */
    padded = azt_xmalloc(full + 1);
    if (chars)
        memcpy(padded, s, chars);
    memset(padded + chars, '=', full - chars);
    padded[full] = '\0';
    bytes = azt_xmalloc(full / 4 * 3 + 1);
    got = full ? EVP_DecodeBlock(bytes, (const unsigned char *)padded, (int)full) : 0;
    if (got < 0 || (size_t)got < true_len) {
        rc = azt__error(AZT_EPARSE, "base64: decoding failed");
        goto done;
    }
    bytes[true_len] = '\0';
    *out = bytes;
    *out_len = true_len;
    bytes = NULL;
done:
    free(padded);
    free(bytes);
    return rc;
}

void azt_format_http_date(time_t t, char out[30])
{
    struct tm tm;
    char tmp[64];

    /* Names from fixed tables: strftime's %a/%b follow the locale. */
    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
        out[0] = '\0';
        return;
    }
    snprintf(tmp, sizeof(tmp), "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, tmp, 29);
    out[29] = '\0';
}

/* Reads exactly `width` digits (width 0: one or two digits). */
static int read_num(const char **p, int width, int *v)
{
    const char *s = *p;
    int n = 0, i = 0;

    while (s[i] >= '0' && s[i] <= '9' && (width == 0 ? i < 2 : i < width)) {
        n = n * 10 + (s[i] - '0');
        i++;
    }
    if (i == 0 || (width && i != width))
        return -1;
    *v = n;
    *p = s + i;
    return 0;
}

static int match_lit(const char **p, const char *lit)
{
    size_t n = strlen(lit);

    if (strncmp(*p, lit, n) != 0)
        return -1;
    *p += n;
    return 0;
}

static int match_name(const char **p, const char *const *names, int count, int *idx)
{
    int i;

    for (i = 0; i < count; i++) {
        size_t n = strlen(names[i]);

        if (strncasecmp(*p, names[i], n) == 0) {
            *idx = i;
            *p += n;
            return 0;
        }
    }
    return -1;
}

static int read_clock(const char **p, struct tm *tm)
{
    if (read_num(p, 2, &tm->tm_hour) || match_lit(p, ":") || read_num(p, 2, &tm->tm_min) ||
        match_lit(p, ":") || read_num(p, 2, &tm->tm_sec))
        return -1;
    return 0;
}

int azt_parse_http_date(const char *s, time_t *t)
{
    struct tm tm, check;
    const char *p = s;
    int wday, year = 0, ok = -1;
    time_t v;

    *t = 0;
    if (!s)
        return azt__error(AZT_EPARSE, "HTTP date: missing");
    memset(&tm, 0, sizeof(tm));
    while (*p == ' ' || *p == '\t')
        p++;
    if (match_name(&p, wdays_long, 7, &wday) == 0) {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        if (match_lit(&p, ", ") == 0 && read_num(&p, 2, &tm.tm_mday) == 0 &&
            match_lit(&p, "-") == 0 && match_name(&p, months, 12, &tm.tm_mon) == 0 &&
            match_lit(&p, "-") == 0 && read_num(&p, 2, &year) == 0 && match_lit(&p, " ") == 0 &&
            read_clock(&p, &tm) == 0 && match_lit(&p, " GMT") == 0) {
            year += year < 70 ? 2000 : 1900;
            ok = 0;
        }
    } else if (match_name(&p, wdays, 7, &wday) == 0) {
        if (*p == ',') {
            /* RFC 1123: Sun, 06 Nov 1994 08:49:37 GMT */
            if (match_lit(&p, ", ") == 0 && read_num(&p, 2, &tm.tm_mday) == 0 &&
                match_lit(&p, " ") == 0 && match_name(&p, months, 12, &tm.tm_mon) == 0 &&
                match_lit(&p, " ") == 0 && read_num(&p, 4, &year) == 0 && match_lit(&p, " ") == 0 &&
                read_clock(&p, &tm) == 0 && match_lit(&p, " GMT") == 0)
                ok = 0;
        } else {
            /* asctime: Sun Nov  6 08:49:37 1994 */
            if (match_lit(&p, " ") == 0 && match_name(&p, months, 12, &tm.tm_mon) == 0 &&
                match_lit(&p, " ") == 0) {
                if (*p == ' ')
                    p++;
                if (read_num(&p, 0, &tm.tm_mday) == 0 && match_lit(&p, " ") == 0 &&
                    read_clock(&p, &tm) == 0 && match_lit(&p, " ") == 0 &&
                    read_num(&p, 4, &year) == 0)
                    ok = 0;
            }
        }
    }
    while (ok == 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    if (ok != 0 || *p != '\0')
        return azt__error(AZT_EPARSE, "HTTP date: not an RFC 1123 date");
    (void)wday;
    tm.tm_year = year - 1900;
    if (tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_mday < 1)
        return azt__error(AZT_EPARSE, "HTTP date: field out of range");
    check = tm;
    v = timegm(&tm);
    /* timegm normalises 31 Feb into March: reject what moved. */
    if (v == (time_t)-1 || tm.tm_mday != check.tm_mday || tm.tm_mon != check.tm_mon)
        return azt__error(AZT_EPARSE, "HTTP date: no such day");
    *t = v;
    return AZT_OK;
}
