/*
 * dynamics_batch.c - the pure $batch halves of the Dynamics 365 sink
 * (ls_dynamics.h): building an OData multipart/mixed batch of upserts and
 * reading the per-request answers out of the multipart response. No I/O.
 */
#include "ls_dynamics.h"

#include "ls_webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BOUNDARY_MAX 200

/* ------------------------------------------------------------------------ */
/* building                                                                  */

int ls_dv_batch_body(const char *id, const struct ls_dv_op *ops, size_t n, char **out, size_t *len)
{
    struct ls_buf b = {NULL, 0, 0};
    size_t i, idlen = strlen(id);

    *out = NULL;
    *len = 0;
    if (idlen == 0 || idlen > 60 ||
        strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789-") != idlen)
        return ls_error(LS_EINVAL, "$batch: bad boundary id");
    for (i = 0; i < n; i++) {
        ls_buf_puts(&b, "--batch_");
        ls_buf_puts(&b, id);
        ls_buf_puts(&b, "\r\nContent-Type: application/http\r\n"
                        "Content-Transfer-Encoding: binary\r\n\r\n"
                        "PATCH ");
        ls_buf_puts(&b, ops[i].url);
        ls_buf_puts(&b, " HTTP/1.1\r\nContent-Type: application/json; charset=utf-8\r\n");
        ls_buf_puts(&b, ops[i].update_only ? "If-Match: *\r\n" : "If-None-Match: null\r\n");
        ls_buf_puts(&b, "\r\n");
        ls_buf_puts(&b, ops[i].body);
        ls_buf_puts(&b, "\r\n");
    }
    ls_buf_puts(&b, "--batch_");
    ls_buf_puts(&b, id);
    ls_buf_puts(&b, "--\r\n");
    *out = b.p;
    *len = b.len;
    return LS_OK;
}

/* ------------------------------------------------------------------------ */
/* parsing                                                                   */

/* The line starting at p: its end (before CR LF / LF) and the next line. */
static const char *line_end(const char *p, const char *end, const char **next)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e;

    if (!nl) {
        *next = end;
        return end;
    }
    *next = nl + 1;
    e = nl;
    if (e > p && e[-1] == '\r')
        e--;
    return e;
}

static int header_name(const char *p, const char *e, const char *name, const char **value)
{
    size_t l = strlen(name);

    if ((size_t)(e - p) <= l || strncasecmp(p, name, l) != 0 || p[l] != ':')
        return 0;
    p += l + 1;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    *value = p;
    return 1;
}

/* The boundary parameter of a Content-Type value; 0 when none. */
static int find_boundary(const char *ct, size_t ctlen, char *out, size_t cap)
{
    const char *p = ct, *end = ct + ctlen;
    size_t n = 0;

    for (; p + 9 <= end; p++) {
        if (strncasecmp(p, "boundary=", 9) == 0 &&
            (p == ct || p[-1] == ';' || p[-1] == ' ' || p[-1] == '\t'))
            break;
    }
    if (p + 9 > end)
        return 0;
    p += 9;
    if (p < end && *p == '"') {
        p++;
        while (p + n < end && p[n] != '"')
            n++;
    } else {
        while (p + n < end && p[n] != ';' && p[n] != ' ' && p[n] != '\t' && p[n] != '\r' &&
               p[n] != '\n')
            n++;
    }
    if (n == 0 || n >= cap)
        return 0;
    memcpy(out, p, n);
    out[n] = '\0';
    return 1;
}

/* The next delimiter line "--boundary" at a line start in [p, end); NULL when none. */
static const char *find_delim(const char *start, const char *p, const char *end, const char *bd,
                              size_t bdlen)
{
    while (p + 2 + bdlen <= end) {
        const char *hit = memchr(p, '-', (size_t)(end - p));

        if (!hit || hit + 2 + bdlen > end)
            return NULL;
        if ((hit == start || hit[-1] == '\n') && hit[1] == '-' && memcmp(hit + 2, bd, bdlen) == 0) {
            const char *a = hit + 2 + bdlen;

            /* the boundary must end there: line end, padding or the closing "--" */
            if (a == end || *a == '\r' || *a == '\n' || *a == ' ' || *a == '\t' ||
                (end - a >= 2 && a[0] == '-' && a[1] == '-'))
                return hit;
        }
        p = hit + 1;
    }
    return NULL;
}

/* One application/http part: "HTTP/1.1 NNN reason", headers, blank line, body. */
static void parse_http(const char *p, const char *end, int64_t now_ms, struct ls_dv_part *part)
{
    const char *next, *e, *v;
    int st = 0, i;

    part->status = 0;
    part->retry_after_ms = -1;
    part->body = end;
    part->len = 0;
    /* skip blank lines before the status line */
    for (;;) {
        e = line_end(p, end, &next);
        if (e != p || next == end)
            break;
        p = next;
    }
    if ((size_t)(e - p) >= 12 && memcmp(p, "HTTP/", 5) == 0) {
        const char *sp = memchr(p, ' ', (size_t)(e - p));

        if (sp && e - sp >= 4) {
            for (i = 1; i <= 3; i++) {
                if (sp[i] < '0' || sp[i] > '9') {
                    st = 0;
                    break;
                }
                st = st * 10 + (sp[i] - '0');
            }
            if (st < 100 || (e - sp > 4 && sp[4] != ' '))
                st = 0;
        }
    }
    part->status = st;
    p = next;
    while (p < end) {
        e = line_end(p, end, &next);
        if (e == p) {
            p = next;
            break;
        }
        if (header_name(p, e, "Retry-After", &v))
            part->retry_after_ms =
                azt_retry_after_ms(v, (size_t)(e - v), now_ms, LS_RETRY_AFTER_MAX_MS);
        p = next;
    }
    part->body = p;
    part->len = (size_t)(end - p);
}

/* The boundary: the one the Content-Type names, or else the first
 * delimiter line's (only blank lines may come before it). */
static int boundary_of(const char *ctype, size_t ctlen, const char *body, const char *end, char *bd,
                       size_t cap)
{
    const char *p, *next, *e;

    if (find_boundary(ctype, ctlen, bd, cap))
        return LS_OK;
    for (p = body; p < end; p = next) {
        e = line_end(p, end, &next);
        if (e - p >= 3 && p[0] == '-' && p[1] == '-' && (size_t)(e - p - 2) <= BOUNDARY_MAX) {
            memcpy(bd, p + 2, (size_t)(e - p - 2));
            bd[e - p - 2] = '\0';
            return LS_OK;
        }
        if (e != p)
            break;
    }
    return ls_error(LS_EPARSE, "$batch answer: no multipart boundary");
}

/* Where the part that starts at p ends: at the next delimiter (*nd, NULL
 * when none), less the line break before it, which belongs to it. */
static const char *part_end(const char *body, const char *p, const char *end, const char *bd,
                            size_t bdlen, const char **nd)
{
    const char *pend;

    *nd = find_delim(body, p, end, bd, bdlen);
    pend = *nd ? *nd : end;
    if (*nd && pend > p && pend[-1] == '\n') {
        pend--;
        if (pend > p && pend[-1] == '\r')
            pend--;
    }
    return pend;
}

/* Reads a part's MIME headers from p: its Content-Type in *ct, *ctl (NULL
 * when none). Returns where the part's content starts. */
static const char *part_headers(const char *p, const char *pend, const char **ct, size_t *ctl)
{
    const char *next, *e, *v;

    *ct = NULL;
    *ctl = 0;
    while (p < pend) {
        e = line_end(p, pend, &next);
        if (e == p)
            return next;
        if (header_name(p, e, "Content-Type", &v)) {
            *ct = v;
            *ctl = (size_t)(e - v);
        }
        p = next;
    }
    return p;
}

static int parse_multipart(const char *ctype, size_t ctlen, const char *body, size_t len,
                           int64_t now_ms, int depth, struct ls_dv_part *parts, size_t cap,
                           size_t *n)
{
    char bd[BOUNDARY_MAX + 1];
    const char *end = body + len, *d;
    size_t bdlen, found = 0;
    int rc = boundary_of(ctype, ctlen, body, end, bd, sizeof(bd));

    if (rc)
        return rc;
    bdlen = strlen(bd);
    d = find_delim(body, body, end, bd, bdlen);
    while (d && found < cap) {
        const char *p = d + 2 + bdlen, *next, *pend, *nd, *ct;
        size_t ctl;

        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            break;               /* closing delimiter */
        line_end(p, end, &next); /* transport padding after the delimiter */
        pend = part_end(body, next, end, bd, bdlen, &nd);
        p = part_headers(next, pend, &ct, &ctl);
        if (ct && ctl >= 10 && strncasecmp(ct, "multipart/", 10) == 0) {
            size_t sub = 0;

            if (depth == 0 && parse_multipart(ct, ctl, p, (size_t)(pend - p), now_ms, 1,
                                              parts + found, cap - found, &sub) == LS_OK)
                found += sub;
        } else {
            parse_http(p, pend, now_ms, &parts[found]);
            found++;
        }
        d = nd;
    }
    *n = found;
    if (found == 0)
        return ls_error(LS_EPARSE, "$batch answer: no part");
    return LS_OK;
}

int ls_dv_batch_parse(const char *ctype, size_t ctlen, const char *body, size_t len, int64_t now_ms,
                      struct ls_dv_part *parts, size_t cap, size_t *n)
{
    *n = 0;
    if (!body || cap == 0)
        return ls_error(LS_EPARSE, "$batch answer: empty");
    return parse_multipart(ctype ? ctype : "", ctype ? ctlen : 0, body, len, now_ms, 0, parts, cap,
                           n);
}
