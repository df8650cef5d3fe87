/*
 * test_azt_azurite.c - the azt client against a real Azurite table service:
 * tables, entity writes, batches, paged queries through continuation,
 * Timestamp windows, typed properties, SharedKeyLite, a read-only service
 * SAS and a refused key.
 */
#include "ls_test.h"

#include "azt.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WRONG_KEY "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ=="

static struct azt_conn *parse_conn(const char *s)
{
    struct azt_conn *conn = NULL;
    int rc = azt_conn_parse(s, strlen(s), &conn);

    if (rc != AZT_OK)
        fail_msg("azt_conn_parse: %s", azt_error_last());
    return conn;
}

static struct azt_client *client_with(const char *connstr, enum azt_auth auth)
{
    struct azt_conn *conn = parse_conn(connstr);
    struct azt_client_opts opts;
    struct azt_client *c = NULL;
    int rc;

    memset(&opts, 0, sizeof(opts));
    opts.auth = auth;
    opts.max_attempts = 2;
    opts.backoff_base_ms = 10;
    rc = azt_client_create(conn, &opts, &c);
    azt_conn_free(conn);
    if (rc != AZT_OK)
        fail_msg("azt_client_create: %s", azt_error_last());
    return c;
}

static struct azt_client *client_default(void)
{
    return client_with(lst_azurite(), AZT_AUTH_SHAREDKEY);
}

static char *new_table(struct azt_client *c, const char *prefix)
{
    char *t = lst_unique_table(prefix);

    if (azt_table_create(c, t, 0) != AZT_OK)
        fail_msg("create %s: %s", t, azt_error_last());
    return t;
}

static void drop_table(struct azt_client *c, char *t)
{
    if (azt_table_delete(c, t) != AZT_OK)
        fail_msg("delete %s: %s", t, azt_error_last());
    free(t);
}

static void put(struct azt_client *c, const char *table, enum azt_write_op op, const char *pk,
                const char *rk, const char *json)
{
    struct azt_write w;
    int rc;

    memset(&w, 0, sizeof(w));
    w.op = op;
    w.partition_key = pk;
    w.row_key = rk;
    w.json = json;
    w.json_len = json ? strlen(json) : 0;
    rc = azt_entity_write(c, table, &w);
    if (rc != AZT_OK)
        fail_msg("write %s/%s: %s", pk, rk, azt_error_last());
}

/* Runs a query to completion; calls fn for each entity; returns the count. */
typedef void (*entity_fn)(const struct azt_entity *e, void *ctx);

static size_t run_query(struct azt_client *c, const char *table, const char *filter,
                        const char *select, int top, int metadata, entity_fn fn, void *ctx,
                        size_t *pages)
{
    struct azt_query q;
    struct azt_iter *it = NULL;
    struct azt_page *p = NULL;
    size_t n = 0, i, np = 0;
    int rc;

    memset(&q, 0, sizeof(q));
    q.filter = filter;
    q.select = select;
    q.top = top;
    q.metadata = metadata;
    assert_int_equal(azt_query_open(c, table, &q, &it), AZT_OK);
    while ((rc = azt_iter_next(it, &p)) == 1) {
        np++;
        for (i = 0; i < p->count; i++) {
            if (fn)
                fn(&p->entities[i], ctx);
        }
        n += p->count;
        if (p->next_partition_key == NULL)
            assert_null(p->next_row_key);
        azt_page_free(p);
        p = NULL;
    }
    if (rc != 0)
        fail_msg("query %s: %s", table, azt_error_last());
    assert_null(p);
    /* a finished iterator stays finished */
    assert_int_equal(azt_iter_next(it, &p), 0);
    azt_iter_free(it);
    if (pages)
        *pages = np;
    return n;
}

static const char *prop_text(const struct azt_entity *e, const char *name)
{
    const struct azt_prop *p = azt_entity_prop(e, name);

    return p ? p->text : NULL;
}

/* ------------------------------------------------------------------------ */

static void create_table_twice(void **state)
{
    struct azt_client *c = client_default();
    char *t = lst_unique_table("tw");

    (void)state;
    assert_int_equal(azt_table_create(c, t, 0), AZT_OK);
    assert_int_equal(azt_table_create(c, t, 1), AZT_OK);
    assert_int_equal(azt_table_create(c, t, 0), AZT_ECONFLICT);
    assert_non_null(strstr(azt_error_last(), "TableAlreadyExists"));
    assert_int_equal(azt_table_delete(c, t), AZT_OK);
    assert_int_equal(azt_table_delete(c, t), AZT_ENOTFOUND);
    assert_int_equal(azt_table_create(c, "no-such/table", 1), AZT_EINVAL);
    free(t);
    azt_client_destroy(c);
}

static void grab_entity(const struct azt_entity *e, void *ctx)
{
    char **out = ctx;
    const char *a = prop_text(e, "A"), *b = prop_text(e, "B"), *cc = prop_text(e, "C");
    char buf[256];

    snprintf(buf, sizeof(buf), "%s/%s A=%s B=%s C=%s", e->partition_key, e->row_key, a ? a : "-",
             b ? b : "-", cc ? cc : "-");
    free(*out);
    *out = strdup(buf);
}

static void upserts_insert_delete(void **state)
{
    struct azt_client *c = client_default();
    char *t = new_table(c, "up");
    char *got = NULL;
    struct azt_write w;
    const char *filt = "PartitionKey eq 'p' and RowKey eq 'a b''c'";

    (void)state;
    put(c, t, AZT_OP_UPSERT_REPLACE, "p", "a b'c",
        "{\"PartitionKey\":\"p\",\"RowKey\":\"a b'c\",\"A\":\"1\",\"B\":2}");
    put(c, t, AZT_OP_UPSERT_MERGE, "p", "a b'c",
        "{\"PartitionKey\":\"p\",\"RowKey\":\"a b'c\",\"C\":true}");
    assert_int_equal(run_query(c, t, filt, NULL, 0, AZT_META_MINIMAL, grab_entity, &got, NULL), 1);
    assert_string_equal(got, "p/a b'c A=1 B=2 C=true");
    put(c, t, AZT_OP_UPSERT_REPLACE, "p", "a b'c",
        "{\"PartitionKey\":\"p\",\"RowKey\":\"a b'c\",\"A\":\"x\"}");
    assert_int_equal(run_query(c, t, filt, NULL, 0, AZT_META_NONE, grab_entity, &got, NULL), 1);
    assert_string_equal(got, "p/a b'c A=x B=- C=-");

    /* insert, then insert again: conflict */
    memset(&w, 0, sizeof(w));
    w.op = AZT_OP_INSERT;
    w.json = "{\"PartitionKey\":\"p\",\"RowKey\":\"r\xc3\xa9\",\"A\":\"i\"}";
    w.json_len = strlen(w.json);
    assert_int_equal(azt_entity_write(c, t, &w), AZT_OK);
    assert_int_equal(azt_entity_write(c, t, &w), AZT_ECONFLICT);
    assert_non_null(strstr(azt_error_last(), "EntityAlreadyExists"));
    assert_int_equal(
        run_query(c, t, "PartitionKey eq 'p'", NULL, 0, AZT_META_NONE, NULL, NULL, NULL), 2);

    /* delete (non-ASCII key in the URL), then again: not found */
    put(c, t, AZT_OP_DELETE, "p", "r\xc3\xa9", NULL);
    memset(&w, 0, sizeof(w));
    w.op = AZT_OP_DELETE;
    w.partition_key = "p";
    w.row_key = "r\xc3\xa9";
    assert_int_equal(azt_entity_write(c, t, &w), AZT_ENOTFOUND);
    assert_int_equal(run_query(c, t, NULL, NULL, 0, AZT_META_NONE, NULL, NULL, NULL), 1);
    free(got);
    drop_table(c, t);
    azt_client_destroy(c);
}

/* Fills ws/bodies with n upserts in partition pk, rows base..base+n-1. */
static void make_batch(struct azt_write *ws, char **bodies, char **rks, size_t n, const char *pk,
                       size_t base)
{
    size_t i;
    char buf[256];

    for (i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "r%06zu", base + i);
        rks[i] = strdup(buf);
        snprintf(buf, sizeof(buf),
                 "{\"PartitionKey\":\"%s\",\"RowKey\":\"%s\",\"Seq\":%zu,\"Name\":\"n%zu\"}", pk,
                 rks[i], base + i, base + i);
        bodies[i] = strdup(buf);
        memset(&ws[i], 0, sizeof(ws[i]));
        ws[i].op = AZT_OP_UPSERT_REPLACE;
        ws[i].partition_key = pk;
        ws[i].row_key = rks[i];
        ws[i].json = bodies[i];
        ws[i].json_len = strlen(bodies[i]);
    }
}

static void free_batch(char **bodies, char **rks, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(bodies[i]);
        free(rks[i]);
    }
}

static void batches(void **state)
{
    struct azt_client *c = client_default();
    char *t = new_table(c, "bt");
    struct azt_write ws[101];
    char *bodies[101], *rks[101];
    char msg[512];

    (void)state;
    make_batch(ws, bodies, rks, 101, "bp", 0);
    assert_int_equal(azt_batch(c, t, ws, 101), AZT_EINVAL);
    assert_int_equal(azt_batch(c, t, ws, 0), AZT_EINVAL);
    assert_int_equal(azt_batch(c, t, ws, 100), AZT_OK);
    assert_int_equal(run_query(c, t, NULL, NULL, 0, AZT_META_NONE, NULL, NULL, NULL), 100);

    /* a failing third operation: inserting an existing row */
    ws[2].op = AZT_OP_INSERT;
    assert_int_equal(azt_batch(c, t, ws, 5), AZT_ECONFLICT);
    snprintf(msg, sizeof(msg), "%s", azt_error_last());
    assert_non_null(strstr(msg, "operation 2 "));
    /* a delete in a batch */
    ws[0].op = AZT_OP_DELETE;
    assert_int_equal(azt_batch(c, t, ws, 1), AZT_OK);
    assert_int_equal(run_query(c, t, NULL, NULL, 0, AZT_META_NONE, NULL, NULL, NULL), 99);
    free_batch(bodies, rks, 101);
    drop_table(c, t);
    azt_client_destroy(c);
}

struct seen {
    unsigned char *hits;
    size_t n;
    size_t dup;
    size_t bad;
};

static void mark_seen(const struct azt_entity *e, void *ctx)
{
    struct seen *s = ctx;
    const struct azt_prop *p = azt_entity_prop(e, "Seq");
    char expect[32];

    if (!p || p->i < 0 || (size_t)p->i >= s->n) {
        s->bad++;
        return;
    }
    snprintf(expect, sizeof(expect), "r%06lld", (long long)p->i);
    if (strcmp(expect, e->row_key) != 0)
        s->bad++;
    if (s->hits[p->i]++)
        s->dup++;
}

static void check_all_once(struct seen *s)
{
    size_t i;

    assert_int_equal(s->dup, 0);
    assert_int_equal(s->bad, 0);
    for (i = 0; i < s->n; i++) {
        if (s->hits[i] != 1)
            fail_msg("entity %zu seen %u times", i, s->hits[i]);
    }
}

static void query_2500_through_continuation(void **state)
{
    struct azt_client *c = client_default();
    char *t = new_table(c, "pg");
    struct azt_write ws[100];
    char *bodies[100], *rks[100];
    char pk[16];
    struct seen s;
    size_t b, pages = 0;
    struct azt_stats st;
    static const int tops[] = {1000, 97};
    size_t k;

    (void)state;
    for (b = 0; b < 25; b++) {
        snprintf(pk, sizeof(pk), "p%zu", b / 5);
        make_batch(ws, bodies, rks, 100, pk, b * 100);
        if (azt_batch(c, t, ws, 100) != AZT_OK)
            fail_msg("seed batch %zu: %s", b, azt_error_last());
        free_batch(bodies, rks, 100);
    }
    s.n = 2500;
    s.hits = calloc(s.n, 1);
    for (k = 0; k < sizeof(tops) / sizeof(tops[0]); k++) {
        memset(s.hits, 0, s.n);
        s.dup = s.bad = 0;
        assert_int_equal(
            run_query(c, t, NULL, NULL, tops[k], AZT_META_MINIMAL, mark_seen, &s, &pages), 2500);
        check_all_once(&s);
        assert_true(pages >= (2500 + (size_t)tops[k] - 1) / (size_t)tops[k]);
    }
    /* a filtered query across partitions, with a projection */
    memset(s.hits, 0, s.n);
    s.dup = s.bad = 0;
    assert_int_equal(run_query(c, t, "Seq ge 1000 and Seq lt 2100", "RowKey,Seq", 50, AZT_META_NONE,
                               mark_seen, &s, &pages),
                     1100);
    assert_int_equal(s.dup + s.bad, 0);
    azt_client_stats(c, &st);
    assert_true(st.requests > 25);
    assert_true(st.bytes_in > 0);
    assert_true(azt_client_server_time(c) > 1600000000);
    free(s.hits);
    drop_table(c, t);
    azt_client_destroy(c);
}

struct stamps {
    char ts[40][40];
    char rk[40][16];
    size_t n;
};

static void grab_stamp(const struct azt_entity *e, void *ctx)
{
    struct stamps *s = ctx;

    if (s->n >= 40 || !e->timestamp)
        return;
    snprintf(s->ts[s->n], sizeof(s->ts[0]), "%s", e->timestamp);
    snprintf(s->rk[s->n], sizeof(s->rk[0]), "%s", e->row_key);
    s->n++;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void timestamp_window(void **state)
{
    struct azt_client *c = client_default();
    char *t = new_table(c, "ts");
    struct stamps all, win;
    char sorted[30][40];
    char lo[40], hi[40], rk[16], body[128], filter[256];
    char *dlo = NULL, *dhi = NULL;
    struct timespec pause = {0, 3 * 1000 * 1000};
    size_t i, j, expect = 0;

    (void)state;
    for (i = 0; i < 30; i++) {
        snprintf(rk, sizeof(rk), "r%02zu", i);
        snprintf(body, sizeof(body), "{\"PartitionKey\":\"w\",\"RowKey\":\"%s\"}", rk);
        put(c, t, AZT_OP_UPSERT_REPLACE, "w", rk, body);
        nanosleep(&pause, NULL);
    }
    memset(&all, 0, sizeof(all));
    assert_int_equal(run_query(c, t, "PartitionKey eq 'w'", "RowKey,Timestamp", 0, AZT_META_NONE,
                               grab_stamp, &all, NULL),
                     30);
    assert_int_equal(all.n, 30);
    for (i = 0; i < 30; i++) {
        /* 7 fractional digits, verbatim */
        assert_int_equal(strlen(all.ts[i]), 28);
        assert_int_equal(all.ts[i][19], '.');
        snprintf(sorted[i], sizeof(sorted[i]), "%s", all.ts[i]);
    }
    qsort(sorted, 30, sizeof(sorted[0]), cmp_str);
    /* bounds at millisecond boundaries with 7 digits (Azurite compares in ms) */
    snprintf(lo, sizeof(lo), "%.23s0000Z", sorted[8]);
    snprintf(hi, sizeof(hi), "%.23s0000Z", sorted[22]);
    assert_int_equal(azt_filter_datetime(lo, &dlo), AZT_OK);
    assert_int_equal(azt_filter_datetime(hi, &dhi), AZT_OK);
    snprintf(filter, sizeof(filter), "PartitionKey eq 'w' and Timestamp ge %s and Timestamp lt %s",
             dlo, dhi);
    memset(&win, 0, sizeof(win));
    run_query(c, t, filter, "RowKey,Timestamp", 5, AZT_META_NONE, grab_stamp, &win, NULL);
    for (i = 0; i < all.n; i++) {
        int in = strncmp(all.ts[i], lo, 23) >= 0 && strncmp(all.ts[i], hi, 23) < 0;
        int found = 0;

        for (j = 0; j < win.n; j++)
            found += strcmp(win.rk[j], all.rk[i]) == 0;
        if (in != found)
            fail_msg("row %s (%s) in window [%s, %s): expected %d got %d", all.rk[i], all.ts[i], lo,
                     hi, in, found);
        expect += (size_t)in;
    }
    assert_int_equal(win.n, expect);
    assert_true(expect > 0);
    free(dlo);
    free(dhi);
    drop_table(c, t);
    azt_client_destroy(c);
}

static void check_typed(const struct azt_entity *e, void *ctx)
{
    const struct azt_prop *p;
    int *ok = ctx;

    p = azt_entity_prop(e, "I64");
    assert_non_null(p);
    assert_int_equal(p->type, AZT_TYPE_INT64);
    assert_true(p->i == INT64_MAX);
    assert_string_equal(p->text, "9223372036854775807");
    p = azt_entity_prop(e, "D");
    assert_non_null(p);
    assert_int_equal(p->type, AZT_TYPE_DOUBLE);
    assert_true(p->d == 2.0);
    p = azt_entity_prop(e, "G");
    assert_non_null(p);
    assert_int_equal(p->type, AZT_TYPE_GUID);
    assert_string_equal(p->text, "a455c695-df98-5678-aaaa-81d3367e5a34");
    p = azt_entity_prop(e, "Bin");
    assert_non_null(p);
    assert_int_equal(p->type, AZT_TYPE_BINARY);
    assert_string_equal(p->text, "AQID/w==");
    p = azt_entity_prop(e, "Dt");
    assert_non_null(p);
    assert_int_equal(p->type, AZT_TYPE_DATETIME);
    assert_string_equal(p->text, "2024-01-02T03:04:05.1234567Z");
    p = azt_entity_prop(e, "B");
    assert_non_null(p);
    assert_int_equal(p->type, AZT_TYPE_BOOL);
    assert_true(p->b);
    p = azt_entity_prop(e, "I32");
    assert_non_null(p);
    assert_int_equal(p->type, AZT_TYPE_INT32);
    assert_int_equal(p->i, -42);
    p = azt_entity_prop(e, "S");
    assert_non_null(p);
    assert_int_equal(p->type, AZT_TYPE_STRING);
    assert_string_equal(p->text, "h\xc3\xa9llo \"q\"");
    (*ok)++;
}

static void typed_round_trip(void **state)
{
    struct azt_client *c = client_default();
    char *t = new_table(c, "ty");
    int ok = 0;
    const char *json = "{\"PartitionKey\":\"t\",\"RowKey\":\"1\","
                       "\"I64\":\"9223372036854775807\",\"I64@odata.type\":\"Edm.Int64\","
                       "\"D\":2.0,\"D@odata.type\":\"Edm.Double\","
                       "\"G\":\"a455c695-df98-5678-aaaa-81d3367e5a34\","
                       "\"G@odata.type\":\"Edm.Guid\","
                       "\"Bin\":\"AQID/w==\",\"Bin@odata.type\":\"Edm.Binary\","
                       "\"Dt\":\"2024-01-02T03:04:05.1234567Z\",\"Dt@odata.type\":\"Edm.DateTime\","
                       "\"B\":true,\"I32\":-42,\"S\":\"h\xc3\xa9llo \\\"q\\\"\"}";

    (void)state;
    put(c, t, AZT_OP_UPSERT_REPLACE, "t", "1", json);
    assert_int_equal(run_query(c, t, NULL, NULL, 0, AZT_META_FULL, check_typed, &ok, NULL), 1);
    assert_int_equal(ok, 1);
    /* Int64 filter literal with L */
    assert_int_equal(
        run_query(c, t, "I64 eq 9223372036854775807L", NULL, 0, AZT_META_MINIMAL, NULL, NULL, NULL),
        1);
    drop_table(c, t);
    azt_client_destroy(c);
}

static void shared_key_lite(void **state)
{
    struct azt_client *c = client_with(lst_azurite(), AZT_AUTH_SHAREDKEY_LITE);
    char *t = new_table(c, "lt");

    (void)state;
    put(c, t, AZT_OP_UPSERT_MERGE, "k", "1", "{\"PartitionKey\":\"k\",\"RowKey\":\"1\",\"V\":1}");
    assert_int_equal(
        run_query(c, t, "PartitionKey eq 'k'", NULL, 0, AZT_META_NONE, NULL, NULL, NULL), 1);
    drop_table(c, t);
    azt_client_destroy(c);
}

/* A Table service SAS (sv 2019-02-02): the string-to-sign is
 * sp \n st \n se \n /table/<account>/<table> \n si \n sip \n spr \n sv \n spk \n srk \n epk \n erk
 */
static char *make_sas(const struct azt_conn *conn, const char *table, const char *perms)
{
    char se[32], sts[512], sig_enc[160];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    unsigned char sig[128];
    char out[1024];
    time_t exp = time(NULL) + 3600;
    struct tm tm;
    size_t i, o = 0;
    int n;

    gmtime_r(&exp, &tm);
    strftime(se, sizeof(se), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(sts, sizeof(sts), "%s\n\n%s\n/table/%s/%s\n\n\n\n2019-02-02\n\n\n\n", perms, se,
             conn->account, table);
    assert_non_null(HMAC(EVP_sha256(), conn->key, (int)conn->key_len, (unsigned char *)sts,
                         strlen(sts), mac, &maclen));
    n = EVP_EncodeBlock(sig, mac, (int)maclen);
    for (i = 0; i < (size_t)n; i++) {
        if (sig[i] == '+' || sig[i] == '/' || sig[i] == '=')
            o += (size_t)snprintf(sig_enc + o, sizeof(sig_enc) - o, "%%%02X", sig[i]);
        else
            sig_enc[o++] = (char)sig[i];
    }
    sig_enc[o] = '\0';
    /* se's ':' stays literal in the SAS query (it is a legal query character) */
    snprintf(out, sizeof(out), "sv=2019-02-02&tn=%s&sp=%s&se=%s&sig=%s", table, perms, se, sig_enc);
    return strdup(out);
}

static void read_only_sas(void **state)
{
    struct azt_conn *conn = parse_conn(lst_azurite());
    struct azt_client *c = client_default();
    struct azt_client *sc = NULL;
    char *t = new_table(c, "sas");
    char *sas, connstr[2048];
    struct azt_write w;
    const char *msg;

    (void)state;
    put(c, t, AZT_OP_UPSERT_REPLACE, "s", "1", "{\"PartitionKey\":\"s\",\"RowKey\":\"1\"}");
    sas = make_sas(conn, t, "r");
    snprintf(connstr, sizeof(connstr), "TableEndpoint=%s;SharedAccessSignature=%s",
             conn->table_endpoint, sas);
    sc = client_with(connstr, AZT_AUTH_SHAREDKEY); /* defaults to SAS: the conn has no key */
    assert_int_equal(run_query(sc, t, NULL, NULL, 0, AZT_META_NONE, NULL, NULL, NULL), 1);
    memset(&w, 0, sizeof(w));
    w.op = AZT_OP_UPSERT_REPLACE;
    w.partition_key = "s";
    w.row_key = "2";
    w.json = "{\"PartitionKey\":\"s\",\"RowKey\":\"2\"}";
    w.json_len = strlen(w.json);
    assert_int_equal(azt_entity_write(sc, t, &w), AZT_EAUTH);
    msg = azt_error_last();
    assert_null(strstr(msg, "sig="));
    assert_null(strstr(msg, strstr(sas, "sig=") + 4));
    assert_int_equal(run_query(c, t, NULL, NULL, 0, AZT_META_NONE, NULL, NULL, NULL), 1);
    azt_client_destroy(sc);
    free(sas);
    azt_conn_free(conn);
    drop_table(c, t);
    azt_client_destroy(c);
}

static void wrong_key_refused(void **state)
{
    struct azt_conn *conn = parse_conn(lst_azurite());
    struct azt_client *bad = NULL;
    char connstr[1024];
    struct azt_query q;
    struct azt_iter *it = NULL;
    struct azt_page *p = NULL;
    const char *msg;

    (void)state;
    snprintf(connstr, sizeof(connstr),
             "DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=" WRONG_KEY
             ";TableEndpoint=%s",
             conn->account, conn->table_endpoint);
    bad = client_with(connstr, AZT_AUTH_SHAREDKEY);
    memset(&q, 0, sizeof(q));
    assert_int_equal(azt_query_open(bad, "whatever", &q, &it), AZT_OK);
    assert_int_equal(azt_iter_next(it, &p), AZT_EAUTH);
    assert_null(p);
    msg = azt_error_last();
    assert_non_null(strstr(msg, "403"));
    assert_null(strstr(msg, WRONG_KEY));
    assert_null(strstr(msg, "d3Jvbmcta2V5"));
    assert_null(strstr(msg, "Eby8vdM02xNOcqFl"));
    assert_null(strstr(msg, "SharedKey "));
    assert_null(strstr(msg, "$top"));
    assert_int_equal(azt_table_create(bad, "neverthere", 1), AZT_EAUTH);
    azt_iter_free(it);
    azt_client_destroy(bad);
    azt_conn_free(conn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_table_twice),
        cmocka_unit_test(upserts_insert_delete),
        cmocka_unit_test(batches),
        cmocka_unit_test(query_2500_through_continuation),
        cmocka_unit_test(timestamp_window),
        cmocka_unit_test(typed_round_trip),
        cmocka_unit_test(shared_key_lite),
        cmocka_unit_test(read_only_sas),
        cmocka_unit_test(wrong_key_refused),
    };

    return lst_run_group(tests, NULL, NULL);
}
