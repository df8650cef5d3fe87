/*
 * seed_serve.c - `leadsync-seed serve N`: a loopback Table service that
 * answers entity queries over the rows `leadsync-seed bulk N` writes (the
 * same options, the same rows), generated on the fly instead of stored.
 *
 * Why this exists: a 1,000,000-row benchmark needs a table of that size, and
 * loading one into Azurite takes hours on a small machine. This server holds
 * only each row's keys (sorted once at start, about 45 bytes a row) and
 * builds the entities of a page when it is asked for them.
 *
 * What it speaks (enough for leadsync and the official SDKs' list calls):
 * GET /devstoreaccount1/<table>() with $filter, $select, $top (1..1000,
 * default 1000), $format, NextPartitionKey/NextRowKey; the Accept header's
 * nometadata, minimalmetadata (also plain application/json) and fullmetadata
 * forms, shaped like Azurite's answers (odata.etag, Timestamp last); rows in
 * (PartitionKey, RowKey) order; continuation tokens are the next row's keys
 * in base64, as Azurite's; full pages until the last. $filter takes
 * comparisons (eq ne lt le gt ge) of PartitionKey, RowKey (quoted strings)
 * and Timestamp (datetime'...') joined by "and"; anything else is answered
 * 501 NotImplemented, never guessed at. Row k of the load (index K+k) has the
 * Timestamp start - age + k x 10 us, so every row is older than the settle
 * delay and a window that starts after them holds none.
 *
 * It does not check the SharedKey signature (any Authorization is accepted)
 * and does not write: it is a benchmark fixture, not a test double of the
 * service's rules. It listens on 127.0.0.1 only.
 */
#include "seed.h"

#include "azt.h"
#include "tool_cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACCOUNT "devstoreaccount1"
#define ACCOUNT_KEY                                                                                \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define PAGE_MAX    1000
#define TICK_STEP   100 /* 100-ns ticks between consecutive rows' Timestamps: 10 us */
#define MAX_CLAUSES 8
#define KEY_MAX     256

enum meta { META_NONE, META_MINIMAL, META_FULL };
enum prop { P_PK, P_RK, P_TS };
enum op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };

struct srow {
    char rk[37];
    uint32_t off; /* k: the row's index is start + k */
};

struct table {
    const struct seed_opts *o;
    long nparts;
    char (*pk)[32];    /* by rank (PartitionKey order) */
    long *first;       /* by rank: the first position; first[nparts] = n */
    struct srow *rows; /* by position: (PartitionKey, RowKey) order */
    int64_t ts0;       /* row k's Timestamp: ts0 + k * TICK_STEP (100-ns ticks) */
    unsigned port;
    unsigned long long requests, served;
};

struct clause {
    enum prop prop;
    enum op op;
    int64_t ticks;
    char text[KEY_MAX];
};

struct query {
    enum meta meta;
    int top;
    long pos; /* where the scan starts */
    size_t nclauses;
    struct clause clauses[MAX_CLAUSES];
    char select[1024]; /* ",A,B," or "" for every property */
};

/* ------------------------------------------------------------------------ */
/* The rows' order                                                           */

static struct table *sort_table;

static int cmp_rank(const void *a, const void *b)
{
    return strcmp(sort_table->pk[*(const long *)a], sort_table->pk[*(const long *)b]);
}

static int cmp_srow(const void *a, const void *b)
{
    return strcmp(((const struct srow *)a)->rk, ((const struct srow *)b)->rk);
}

/* Fills t: the partitions in key order, each one's rows in RowKey order. */
static int table_build(struct table *t, const struct seed_opts *o)
{
    long P = o->partitions, p, k, r, *order = NULL, *fill = NULL;
    char(*pk)[32] = NULL;
    struct gen_row g;
    int rc = -1;

    t->o = o;
    t->nparts = P;
    t->pk = calloc((size_t)P, sizeof(*t->pk));
    t->first = calloc((size_t)P + 1, sizeof(*t->first));
    t->rows = calloc((size_t)(o->n ? o->n : 1), sizeof(*t->rows));
    order = calloc((size_t)P, sizeof(*order));
    fill = calloc((size_t)P, sizeof(*fill));
    pk = calloc((size_t)P, sizeof(*pk));
    if (!t->pk || !t->first || !t->rows || !order || !fill || !pk) {
        fprintf(stderr, "leadsync-seed: serve: out of memory for %ld rows\n", o->n);
        goto done;
    }
    for (p = 0; p < P; p++) {
        seed_gen_row(GEN_BULK, o->seed, p, P, o->customers, 0, &g); /* index p: partition p */
        memcpy(pk[p], g.pk, sizeof(g.pk));
        order[p] = p;
    }
    sort_table = &(struct table){.pk = pk};
    qsort(order, (size_t)P, sizeof(*order), cmp_rank);
    for (k = 0; k < o->n; k++)
        fill[(o->start + k) % P]++;
    for (r = 0; r < P; r++) {
        memcpy(t->pk[r], pk[order[r]], sizeof(pk[0]));
        t->first[r + 1] = t->first[r] + fill[order[r]];
        fill[order[r]] = t->first[r]; /* from now on: the next free position */
    }
    for (k = 0; k < o->n; k++) {
        struct srow *s = &t->rows[fill[(o->start + k) % P]++];

        seed_row_key(GEN_BULK, o->seed, o->start + k, s->rk);
        s->off = (uint32_t)k;
    }
    for (r = 0; r < P; r++)
        qsort(t->rows + t->first[r], (size_t)(t->first[r + 1] - t->first[r]), sizeof(*t->rows),
              cmp_srow);
    t->ts0 = ((int64_t)time(NULL) - o->age) * 10000000 - (int64_t)o->n * TICK_STEP + 1234567;
    rc = 0;
done:
    free(order);
    free(fill);
    free(pk);
    return rc;
}

static long partition_of(const struct table *t, long pos)
{
    long lo = 0, hi = t->nparts - 1;

    while (lo < hi) { /* the last rank whose first position is <= pos */
        long mid = (lo + hi + 1) / 2;

        if (t->first[mid] <= pos)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* The first position at or after (pk, rk); rk NULL: the partition's start. */
static long position_of(const struct table *t, const char *pk, const char *rk)
{
    long r, lo, hi;

    for (r = 0; r < t->nparts && strcmp(t->pk[r], pk) < 0; r++)
        ;
    if (r == t->nparts || strcmp(t->pk[r], pk) > 0 || !rk)
        return r == t->nparts ? t->first[t->nparts] : t->first[r];
    lo = t->first[r];
    hi = t->first[r + 1];
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;

        if (strcmp(t->rows[mid].rk, rk) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ------------------------------------------------------------------------ */
/* Times                                                                     */

static void ticks_text(int64_t ticks, char out[40])
{
    time_t secs = (time_t)(ticks / 10000000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%07" PRId64 "Z", (tm.tm_year + 1900) % 10000,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, (ticks % 10000000 + 10000000) % 10000000);
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,7}]Z" to ticks; -1 when it is not that. */
static int text_ticks(const char *s, int64_t *out)
{
    int64_t secs, frac = 0;
    char digits[8];
    int i;

    if (azt_iso8601_parse(s, strlen(s), &secs, digits) != AZT_OK)
        return -1;
    for (i = 0; i < 7; i++)
        frac = frac * 10 + (digits[i] - '0');
    *out = secs * 10000000 + frac;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The query                                                                 */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes s[0..n) into out[cap] ('+' stays '+'); -1 when malformed. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t i, j = 0;

    for (i = 0; i < n; i++) {
        int c = (unsigned char)s[i];

        if (c == '%') {
            if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                return -1;
            c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
            i += 2;
        }
        if (j + 1 >= cap)
            return -1;
        out[j++] = (char)c;
    }
    out[j] = '\0';
    return 0;
}

static int b64_decode(const char *in, char *out, size_t cap)
{
    size_t n = strlen(in);
    int len;

    if (n == 0 || n % 4 || n / 4 * 3 + 1 > cap)
        return -1;
    len = EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)in, (int)n);
    if (len < 0)
        return -1;
    len -= (int)(n >= 1 && in[n - 1] == '=') + (int)(n >= 2 && in[n - 2] == '=');
    out[len] = '\0';
    return 0;
}

static void b64_encode(const char *in, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)strlen(in));
}

/* One comparison: NAME OP datetime'...' or NAME OP '...', optionally in
 * parentheses. Returns the length read, or -1. */
static int parse_clause(const char *s, struct clause *c)
{
    static const char *const ops[] = {"eq", "ne", "lt", "le", "gt", "ge"};
    const char *p = s, *q;
    int paren = 0, datetime = 0;
    size_t n = 0, i;

    if (*p == '(')
        paren = 1, p++;
    if (strncmp(p, "PartitionKey ", 13) == 0)
        c->prop = P_PK, p += 13;
    else if (strncmp(p, "RowKey ", 7) == 0)
        c->prop = P_RK, p += 7;
    else if (strncmp(p, "Timestamp ", 10) == 0)
        c->prop = P_TS, p += 10;
    else
        return -1;
    for (i = 0; i < 6 && strncmp(p, ops[i], 2) != 0; i++)
        ;
    if (i == 6 || p[2] != ' ')
        return -1;
    c->op = (enum op)i;
    p += 3;
    if (strncmp(p, "datetime'", 9) == 0)
        datetime = 1, p += 9;
    else if (*p++ != '\'')
        return -1;
    for (q = p; *q; q++) { /* '' is a quote inside the string */
        if (*q == '\'' && q[1] == '\'')
            q++;
        else if (*q == '\'')
            break;
        if (n + 1 >= sizeof(c->text))
            return -1;
        c->text[n++] = *q;
    }
    if (*q != '\'' || datetime != (c->prop == P_TS))
        return -1;
    c->text[n] = '\0';
    q++;
    if (paren && *q++ != ')')
        return -1;
    if (datetime && text_ticks(c->text, &c->ticks) != 0)
        return -1;
    return (int)(q - s);
}

static int parse_filter(const char *f, struct query *qy)
{
    while (*f) {
        int n;

        if (qy->nclauses == MAX_CLAUSES || (n = parse_clause(f, &qy->clauses[qy->nclauses++])) < 0)
            return -1;
        f += n;
        if (*f && strncmp(f, " and ", 5) != 0)
            return -1;
        f += *f ? 5 : 0;
    }
    return 0;
}

static int compare_ok(int cmp, enum op op)
{
    switch (op) {
    case OP_EQ:
        return cmp == 0;
    case OP_NE:
        return cmp != 0;
    case OP_LT:
        return cmp < 0;
    case OP_LE:
        return cmp <= 0;
    case OP_GT:
        return cmp > 0;
    default:
        return cmp >= 0;
    }
}

static int row_matches(const struct table *t, const struct query *qy, long rank, long pos)
{
    size_t i;

    for (i = 0; i < qy->nclauses; i++) {
        const struct clause *c = &qy->clauses[i];
        int64_t ts = t->ts0 + (int64_t)t->rows[pos].off * TICK_STEP;
        int cmp = c->prop == P_PK   ? strcmp(t->pk[rank], c->text)
                  : c->prop == P_RK ? strcmp(t->rows[pos].rk, c->text)
                                    : (ts > c->ticks) - (ts < c->ticks);

        if (!compare_ok(cmp, c->op))
            return 0;
    }
    return 1;
}

static int selected(const struct query *qy, const char *name)
{
    char key[KEY_MAX + 2];

    if (!qy->select[0])
        return 1;
    snprintf(key, sizeof(key), ",%s,", name);
    return strstr(qy->select, key) != NULL;
}

/* Reads the query string qs into qy; an error message in why[cap] and -1
 * when it cannot be served. */
static int parse_query(const struct table *t, const char *qs, struct query *qy, char *why,
                       size_t cap)
{
    char name[64], value[4096], npk[KEY_MAX] = "", nrk[KEY_MAX] = "", key[KEY_MAX];
    int has_npk = 0, has_nrk = 0;
    long top;

    while (qs && *qs) {
        const char *amp = strchr(qs, '&'), *eq = strchr(qs, '=');
        size_t len = amp ? (size_t)(amp - qs) : strlen(qs);

        if (!eq || eq > qs + len || pct_decode(qs, (size_t)(eq - qs), name, sizeof(name)) ||
            pct_decode(eq + 1, len - (size_t)(eq - qs) - 1, value, sizeof(value))) {
            snprintf(why, cap, "a query parameter this server cannot read: %.*s", (int)len, qs);
            return -1;
        }
        qs += len + (amp ? 1 : 0);
        if (strcmp(name, "$filter") == 0 && parse_filter(value, qy) != 0) {
            snprintf(why, cap,
                     "$filter \"%.300s\": this server evaluates only comparisons of PartitionKey, "
                     "RowKey and Timestamp joined by \"and\"",
                     value);
            return -1;
        } else if (strcmp(name, "$select") == 0) {
            snprintf(qy->select, sizeof(qy->select), ",%.1000s,", value);
        } else if (strcmp(name, "$top") == 0) {
            char *end;

            errno = 0;
            top = strtol(value, &end, 10);
            if (errno || *end || top < 1) {
                snprintf(why, cap, "$top \"%.40s\" is not a count of 1 or more", value);
                return -1;
            }
            qy->top = top > PAGE_MAX ? PAGE_MAX : (int)top;
        } else if (strcmp(name, "$format") == 0) {
            qy->meta = strstr(value, "nometadata")     ? META_NONE
                       : strstr(value, "fullmetadata") ? META_FULL
                                                       : META_MINIMAL;
        } else if (strcmp(name, "NextPartitionKey") == 0) {
            has_npk = b64_decode(value, npk, sizeof(npk)) == 0 ? 1 : -1;
        } else if (strcmp(name, "NextRowKey") == 0) {
            has_nrk = b64_decode(value, nrk, sizeof(nrk)) == 0 ? 1 : -1;
        }
    }
    if (has_npk < 0 || has_nrk < 0 || (has_nrk && !has_npk)) {
        snprintf(why, cap, "a continuation token this server did not hand out");
        return -1;
    }
    snprintf(key, sizeof(key), "%s", nrk);
    qy->pos = has_npk ? position_of(t, npk, has_nrk ? key : NULL) : 0;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The page                                                                  */

static int put(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v);
}

/* The entity at position pos as the service shapes it for qy, or NULL. */
static json_t *entity(const struct table *t, const struct query *qy, long rank, long pos)
{
    const struct seed_opts *o = t->o;
    long i = o->start + (long)t->rows[pos].off;
    json_t *src, *e = json_object(), *v;
    struct gen_row g;
    char ts[40], etag[96], id[512];
    const char *key;
    int bad = !e;

    seed_gen_row(GEN_BULK, o->seed, i, o->partitions, o->customers, 0, &g);
    if (!(src = seed_row_object(&g.row, g.rk))) {
        json_decref(e);
        return NULL;
    }
    ticks_text(t->ts0 + (int64_t)t->rows[pos].off * TICK_STEP, ts);
    /* the etag is the Timestamp with its colons escaped, as the service writes it */
    snprintf(etag, sizeof(etag), "W/\"datetime'%.13s%%3A%.2s%%3A%s'\"", ts, ts + 14, ts + 17);
    snprintf(id, sizeof(id), "%s(PartitionKey='%s',RowKey='%s')", o->table, t->pk[rank], g.rk);
    if (!bad && qy->meta == META_FULL) {
        char abs[700];

        snprintf(abs, sizeof(abs), "http://127.0.0.1:%u/" ACCOUNT "/%s", t->port, id);
        bad |= put(e, "odata.type", json_sprintf(ACCOUNT ".%s", o->table));
        bad |= put(e, "odata.id", json_string(abs));
        bad |= put(e, "odata.editLink", json_string(id));
    }
    if (!bad && qy->meta != META_NONE)
        bad |= put(e, "odata.etag", json_string(etag));
    json_object_foreach(src, key, v)
    {
        const char *at = strchr(key, '@');
        char base[KEY_MAX];

        snprintf(base, sizeof(base), "%.*s", at ? (int)(at - key) : (int)strlen(key), key);
        if (!bad && selected(qy, base) && (!at || qy->meta != META_NONE))
            bad |= json_object_set(e, key, v);
    }
    if (!bad && selected(qy, "Timestamp")) {
        if (qy->meta == META_FULL)
            bad |= put(e, "Timestamp@odata.type", json_string("Edm.DateTime"));
        bad |= put(e, "Timestamp", json_string(ts));
    }
    json_decref(src);
    if (bad) {
        json_decref(e);
        return NULL;
    }
    return e;
}

/* Scans from qy->pos for up to qy->top matching rows: the page's body
 * (malloc'd) and the position to continue from (-1: the last page). */
static char *page(struct table *t, const struct query *qy, long *next)
{
    long n = t->first[t->nparts], pos = qy->pos, rank;
    json_t *body = json_object(), *value = json_array();
    char *text = NULL;
    int count = 0, bad = !body || !value;

    for (; pos < n && count < qy->top && !bad; pos++) {
        json_t *e;

        rank = partition_of(t, pos);
        if (!row_matches(t, qy, rank, pos))
            continue;
        if (!(e = entity(t, qy, rank, pos)) || json_array_append_new(value, e))
            bad = 1;
        count++;
    }
    *next = pos < n ? pos : -1;
    if (!bad && qy->meta != META_NONE)
        bad =
            put(body, "odata.metadata",
                json_sprintf("http://127.0.0.1:%u/" ACCOUNT "/$metadata#%s", t->port, t->o->table));
    if (!bad && !json_object_set(body, "value", value))
        text = json_dumps(body, JSON_COMPACT);
    json_decref(value);
    json_decref(body);
    t->served += (unsigned long long)count;
    return text;
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                      */

static enum MHD_Result answer(struct MHD_Connection *conn, struct table *t, unsigned status,
                              enum meta meta, char *body, const char *error_code, const char *npk,
                              const char *nrk)
{
    static const char *const ctype[] = {"application/json;odata=nometadata",
                                        "application/json;odata=minimalmetadata",
                                        "application/json;odata=fullmetadata"};
    const char *creq = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-ms-client-request-id");
    struct MHD_Response *r;
    enum MHD_Result ret;
    char reqid[48];

    r = MHD_create_response_from_buffer(body ? strlen(body) : 0, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    snprintf(reqid, sizeof(reqid), "00000000-0000-4000-8000-%012llx", t->requests);
    MHD_add_response_header(r, "Content-Type", ctype[meta]);
    MHD_add_response_header(r, "x-ms-request-id", reqid);
    MHD_add_response_header(r, "x-ms-version", "2019-02-02");
    if (creq)
        MHD_add_response_header(r, "x-ms-client-request-id", creq);
    if (error_code)
        MHD_add_response_header(r, "x-ms-error-code", error_code);
    if (npk)
        MHD_add_response_header(r, "x-ms-continuation-NextPartitionKey", npk);
    if (nrk)
        MHD_add_response_header(r, "x-ms-continuation-NextRowKey", nrk);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result fail(struct MHD_Connection *conn, struct table *t, unsigned status,
                            const char *code, const char *message)
{
    json_t *e = json_pack("{s:{s:s,s:{s:s,s:s}}}", "odata.error", "code", code, "message", "lang",
                          "en-US", "value", message);
    char *body = e ? json_dumps(e, JSON_COMPACT) : NULL;

    json_decref(e);
    fprintf(stderr, "leadsync-seed: serve: %u %s: %s\n", status, code, message);
    return answer(conn, t, status, META_MINIMAL, body, code, NULL, NULL);
}

/* The raw request target, query string and all: MHD hands the handler a
 * decoded form that turns '+' into ' ', which would spoil base64 tokens. */
static void *keep_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    return strdup(uri);
}

static void forget_uri(void *cls, struct MHD_Connection *conn, void **req_cls,
                       enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    free(*req_cls);
    *req_cls = NULL;
}

/* Accept as the service reads it: JSON in one of its three forms. */
static int accept_meta(const char *accept, enum meta *m)
{
    if (!accept || !strstr(accept, "application/json"))
        return -1;
    *m = strstr(accept, "nometadata")     ? META_NONE
         : strstr(accept, "fullmetadata") ? META_FULL
                                          : META_MINIMAL;
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    struct table *t = cls;
    const char *uri = *req_cls, *qs;
    struct query qy;
    char why[600], path[KEY_MAX + 32], want[KEY_MAX + 32], npk[KEY_MAX * 2], nrk[KEY_MAX * 2];
    char *body;
    long next;

    (void)url;
    (void)version;
    (void)upload;
    t->requests++;
    if (*upload_size)
        return fail(conn, t, 501, "NotImplemented", "this server answers queries only");
    if (!uri || strcmp(method, "GET") != 0)
        return fail(conn, t, 501, "NotImplemented", "this server answers GET queries only");
    memset(&qy, 0, sizeof(qy));
    qy.top = PAGE_MAX;
    if (accept_meta(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"), &qy.meta) != 0 &&
        !strstr(uri, "$format="))
        return fail(conn, t, 415, "AtomFormatNotSupported", "Atom format is not supported");
    qs = strchr(uri, '?');
    snprintf(path, sizeof(path), "%.*s", qs ? (int)(qs - uri) : (int)strlen(uri), uri);
    snprintf(want, sizeof(want), "/" ACCOUNT "/%s", t->o->table);
    if (strncmp(path, want, strlen(want)) != 0 ||
        (path[strlen(want)] && strcmp(path + strlen(want), "()") != 0)) {
        snprintf(why, sizeof(why), "%s: this server holds only table %s of account " ACCOUNT, path,
                 t->o->table);
        return fail(conn, t, 404, "TableNotFound", why);
    }
    if (parse_query(t, qs ? qs + 1 : NULL, &qy, why, sizeof(why)) != 0)
        return fail(conn, t, strstr(why, "$filter") ? 501 : 400,
                    strstr(why, "$filter") ? "NotImplemented" : "InvalidInput", why);
    if (!(body = page(t, &qy, &next)))
        return fail(conn, t, 500, "InternalError", "out of memory building the page");
    if (next < 0)
        return answer(conn, t, 200, qy.meta, body, NULL, NULL, NULL);
    b64_encode(t->pk[partition_of(t, next)], npk);
    b64_encode(t->rows[next].rk, nrk);
    return answer(conn, t, 200, qy.meta, body, NULL, npk, nrk);
}

int seed_serve(const struct seed_opts *o)
{
    struct table t = {0};
    struct sockaddr_in sa = {0};
    struct MHD_Daemon *d = NULL;
    const union MHD_DaemonInfo *info;
    sigset_t set;
    int sig, rc = EXIT_FAIL;

    if (o->n > (long)UINT32_MAX || table_build(&t, o) != 0)
        goto done;
    /* SIGINT/SIGTERM are waited for below, so no thread of the daemon takes them */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)o->port,
                         NULL, NULL, on_request, &t, MHD_OPTION_SOCK_ADDR, &sa,
                         MHD_OPTION_URI_LOG_CALLBACK, keep_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED,
                         forget_uri, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 600u, MHD_OPTION_END);
    if (!d || !(info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT))) {
        fprintf(stderr, "leadsync-seed: serve: cannot listen on 127.0.0.1:%ld\n", o->port);
        goto done;
    }
    t.port = info->port;
    printf("DefaultEndpointsProtocol=http;AccountName=" ACCOUNT ";AccountKey=" ACCOUNT_KEY
           ";TableEndpoint=http://127.0.0.1:%u/" ACCOUNT ";\n",
           t.port);
    fflush(stdout);
    fprintf(stderr,
            "leadsync-seed: serving table %s: %ld rows over %ld partitions (seed %" PRIu64
            ") on 127.0.0.1:%u until SIGTERM\n",
            o->table, o->n, o->partitions, o->seed, t.port);
    sigwait(&set, &sig);
    fprintf(stderr, "leadsync-seed: serve: %llu requests, %llu rows served\n", t.requests,
            t.served);
    rc = EXIT_OK;
done:
    if (d)
        MHD_stop_daemon(d);
    free(t.pk);
    free(t.first);
    free(t.rows);
    return rc;
}
