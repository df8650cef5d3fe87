/* ls_redact.c - bounded, masked copies of remote text (see ls_redact.h). */
#include "ls_redact.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PHONE_SCAN 32 /* bytes a phone number may span */
#define KEY_SCAN   64 /* bytes of a field name looked at */
#define OPAQUE_MIN 40 /* a run this long of token characters is a secret */

struct out {
    char *p;
    size_t cap, n;
    int full;
};

/* Appends n bytes, or marks the output full when they do not fit whole. */
static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || n >= o->cap - o->n) {
        o->full = 1;
        return;
    }
    memcpy(o->p + o->n, s, n);
    o->n += n;
}

static int is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Characters of an address's local part ('%' starts an escape; bytes of
 * UTF-8 characters count, so a non-ASCII name is masked whole). */
static int is_local(unsigned char c)
{
    return is_alnum(c) || c >= 0x80 || (c && strchr("._+-%'", c) != NULL);
}

/* Characters of a token, a key or a JWT. */
static int is_tokch(unsigned char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '-' || c == '~' || c == '+' || c == '/' ||
           c == '=';
}

/* An '@', plain or percent-encoded, at s: its length, else 0. */
static size_t at_sign(const char *s, size_t len)
{
    if (len >= 1 && s[0] == '@')
        return 1;
    if (len >= 3 && s[0] == '%' && s[1] == '4' && s[2] == '0')
        return 3;
    return 0;
}

/* The length of an address's domain at s (possibly cut short). */
static size_t domain_len(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len && (is_alnum((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80 ||
                       s[i] == '.' || s[i] == '-'))
        i++;
    return i;
}

/* local@domain (the domain may be cut short by the excerpt): its length. */
static size_t match_email(const char *s, size_t len)
{
    size_t i = 0, at, d;

    while (i < len && !at_sign(s + i, len - i) && is_local((unsigned char)s[i])) {
        int esc = s[i] == '%' && i + 2 < len && is_hex((unsigned char)s[i + 1]) &&
                  is_hex((unsigned char)s[i + 2]);

        i += esc ? 3 : 1;
    }
    if (i == 0 || i >= len || !(at = at_sign(s + i, len - i)))
        return 0;
    i += at;
    d = domain_len(s + i, len - i);
    return d ? i + d : 0;
}

/* A dddd-dd-dd date at s. */
static int is_date(const char *s, size_t len)
{
    static const char shape[] = "dddd-dd-dd";
    size_t i;

    if (len < sizeof(shape) - 1)
        return 0;
    for (i = 0; i < sizeof(shape) - 1; i++)
        if (shape[i] == 'd' ? !is_digit((unsigned char)s[i]) : s[i] != '-')
            return 0;
    return 1;
}

/* 7 to 15 digits with the usual separators, not glued to letters. */
static size_t match_phone(const char *s, size_t len)
{
    size_t i, end = 0, digits = 0;

    if (len > PHONE_SCAN)
        len = PHONE_SCAN;
    if (!len || !(is_digit((unsigned char)s[0]) || s[0] == '+' || s[0] == '(') || is_date(s, len))
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (is_digit(c)) {
            digits++;
            end = i + 1;
        } else if (!strchr(" -.()/+", c) || c == '\0' || (c == ' ' && i && s[i - 1] == ' ')) {
            break;
        }
    }
    if (digits < 7 || digits > 15 || (end < len && is_alnum((unsigned char)s[end])))
        return 0;
    return end;
}

/* "Bearer <value>": the length of the whole, else 0. */
static size_t match_bearer(const char *s, size_t len)
{
    size_t i = 6, v;

    if (len < 8 || strncasecmp(s, "bearer", 6) || s[6] != ' ')
        return 0;
    while (i < len && s[i] == ' ')
        i++;
    v = i;
    while (i < len && is_tokch((unsigned char)s[i]))
        i++;
    return i > v ? i : 0;
}

/* A field name that says its value is a secret. */
static int secret_key(const char *s, size_t n)
{
    static const char *const words[] = {"token",  "secret",  "password", "passwd",
                                        "apikey", "api_key", "api-key",  "assertion"};
    char low[KEY_SCAN + 1];
    size_t i;

    for (i = 0; i < n; i++)
        low[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
    low[n] = '\0';
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(low, words[i]))
            return 1;
    return 0;
}

/* key<sep>value where key names a secret: *keep gets the bytes up to the
 * value; returns the length of the whole, else 0. */
static size_t match_field(const char *s, size_t len, size_t *keep)
{
    size_t i = 0, v;

    while (i < len && i <= KEY_SCAN &&
           (is_alnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
        i++;
    if (i == 0 || i > KEY_SCAN || !secret_key(s, i))
        return 0;
    if (i < len && (s[i] == '"' || s[i] == '\''))
        i++;
    while (i < len && s[i] == ' ')
        i++;
    if (i >= len || (s[i] != ':' && s[i] != '='))
        return 0;
    i++;
    while (i < len && (s[i] == ' ' || s[i] == '"' || s[i] == '\''))
        i++;
    v = i;
    while (i < len && !strchr("\"'&,;}<> \t\r\n", s[i]))
        i++;
    *keep = v;
    return i > v ? i : 0;
}

/* An opaque run of OPAQUE_MIN or more token characters with a digit. */
static size_t match_opaque(const char *s, size_t len)
{
    size_t i = 0;
    int digit = 0;

    while (i < len && is_tokch((unsigned char)s[i])) {
        digit |= is_digit((unsigned char)s[i]);
        i++;
    }
    return i >= OPAQUE_MIN && digit ? i : 0;
}

/* The length of the valid UTF-8 character at s (1-4), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t len)
{
    size_t n, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4;
    else
        return 0;
    if (n > len)
        return 0;
    for (i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

/* C1 controls, U+2028/2029 and the bidirectional overrides and isolates. */
static int blanked(const unsigned char *s, size_t n)
{
    if (n == 2)
        return s[0] == 0xc2 && s[1] < 0xa0;
    return n == 3 && s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0xa8 && s[2] <= 0xae;
}

/* Copies one character at s (blanked or replaced as needed); its length. */
static size_t copy_char(struct out *o, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = utf8_len(u, len);

    if (n == 0) {
        put(o, "?", 1);
        return 1;
    }
    if ((n == 1 && (u[0] < 0x20 || u[0] == 0x7f)) || blanked(u, n) ||
        (n == 3 && u[0] == 0xe2 && u[1] == 0x81 && u[2] >= 0xa6 && u[2] <= 0xa9))
        put(o, " ", 1);
    else
        put(o, s, n);
    return n;
}

/* A mask that starts at s (after the byte prev), written to o: the bytes
 * it covers, else 0. Each kind starts only where its kind of word starts. */
static size_t mask_at(struct out *o, const char *s, size_t len, unsigned char prev)
{
    int word = is_alnum(prev) || prev == '_' || prev == '-';
    size_t m = 0, keep = 0;

    if (!word && (m = match_bearer(s, len))) {
        put(o, "Bearer (secret)", 15);
    } else if (!word && (m = match_field(s, len, &keep))) {
        put(o, s, keep);
        put(o, "(secret)", 8);
    } else if (!is_local(prev) && (m = match_email(s, len))) {
        put(o, "(email)", 7);
    } else if (!word && prev != '.' && (m = match_phone(s, len))) {
        put(o, "(phone)", 7);
    } else if (!is_tokch(prev) && (m = match_opaque(s, len))) {
        put(o, "(secret)", 8);
    }
    return m;
}

size_t ls_redact(char *dst, size_t cap, const char *src, size_t len)
{
    struct out o = {dst, cap, 0, 0};
    unsigned char prev = ' ';              /* the start, and the end of a mask, start words */
    size_t i = 0, run_in = 0, run_out = 0; /* where the last run of local chars began */

    if (cap == 0)
        return 0;
    while (i < len && !o.full) {
        size_t m = mask_at(&o, src + i, len - i, prev), at;

        /* The safety net: an '@' after local characters (however the run
         * began) takes the run back out and masks the address. */
        if (!m && i > run_in && (at = at_sign(src + i, len - i)) &&
            (m = domain_len(src + i + at, len - i - at))) {
            o.n = run_out;
            put(&o, "(email)", 7);
            m += at;
        }
        if (m) {
            i += m;
            prev = ' ';
        } else {
            i += copy_char(&o, src + i, len - i);
            prev = (unsigned char)src[i - 1];
            if (is_local(prev))
                continue;
        }
        run_in = i;
        run_out = o.n;
    }
    dst[o.n] = '\0';
    return o.n;
}

size_t ls_redact_excerpt(char *dst, size_t cap, const char *body, size_t len)
{
    return ls_redact(dst, cap > LS_EXCERPT_MAX + 1 ? LS_EXCERPT_MAX + 1 : cap, body, len);
}

void ls_redact_inplace(char *s, size_t cap)
{
    char tmp[1024];
    size_t n = strnlen(s, cap);

    if (cap > sizeof(tmp))
        cap = sizeof(tmp);
    ls_redact(tmp, cap, s, n);
    memcpy(s, tmp, strlen(tmp) + 1);
}
