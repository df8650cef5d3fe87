/* sink_marketo.c - Marketo Engage REST sink (ls_marketo.h). */
#include "ls_crm.h"
#include "ls_log.h"
#include "ls_mapping.h"
#include "ls_oauth.h"
#include "ls_marketo.h"
#include "ls_sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMP "sink:marketo"

/* ------------------------------------------------------------------------ */
/* Pure parts                                                                */

int ls_mkto_record(const struct ls_mapping *m, const json_t *lead, const char *lookup_field,
                   json_t **out, char **key)
{
    json_t *rec = NULL, *v;
    int rc;

    *out = NULL;
    *key = NULL;
    rc = ls_mapping_apply(m, lead, &rec);
    if (rc)
        return rc;
    v = json_object_get(rec, lookup_field);
    if (!v && strcmp(lookup_field, "email") != 0) {
        const char *id = json_string_value(json_object_get(lead, "leadId"));

        if (id && *id) {
            json_object_set_new(rec, lookup_field, json_string(id));
            v = json_object_get(rec, lookup_field);
        }
    }
    if (json_is_string(v) && *json_string_value(v)) {
        *key = strcmp(lookup_field, "email") == 0 ? ls_crm_lower_trim(json_string_value(v))
                                                  : ls_xstrdup(json_string_value(v));
    } else if (json_is_integer(v)) {
        *key = ls_xasprintf("%lld", (long long)json_integer_value(v));
    }
    if (!*key || !**key) {
        free(*key);
        *key = NULL;
        json_decref(rec);
        return ls_error(LS_EINVAL, "no %s to look the lead up by (lookupField %s)", lookup_field,
                        lookup_field);
    }
    *out = rec;
    return LS_OK;
}

/* Marketo sends codes as strings ("606"); accept numbers too. */
static int code_of(const json_t *o)
{
    const json_t *c = json_object_get(o, "code");

    if (json_is_integer(c))
        return (int)json_integer_value(c);
    if (json_is_string(c)) {
        const char *s = json_string_value(c);
        long v = 0;
        int digits = 0;

        while (*s >= '0' && *s <= '9' && digits < 9) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }
        return digits && !*s ? (int)v : -1;
    }
    return -1;
}

static void set_all(struct ls_sink_result *res, size_t n, enum ls_outcome o, int status, int auth,
                    const char *msg)
{
    size_t i;

    for (i = 0; i < n; i++) {
        res[i].outcome = o;
        res[i].status = status;
        res[i].retry_after_ms = -1;
        res[i].throttled = 0;
        res[i].auth = auth;
        snprintf(res[i].error, sizeof(res[i].error), "%s", msg);
    }
}

static enum ls_mkto_signal call_error(int code, const char *emsg, size_t n,
                                      struct ls_sink_result *res)
{
    char msg[300];
    size_t i;

    snprintf(msg, sizeof(msg), "Marketo error %d: %.250s", code, emsg ? emsg : "");
    switch (code) {
    case 601:
    case 602:
        set_all(res, n, LS_SINK_RETRY, 200, 0, msg);
        return LS_MKTO_TOKEN;
    case 606:
    case 615:
        set_all(res, n, LS_SINK_RETRY, 200, 0, msg);
        for (i = 0; i < n; i++)
            res[i].throttled = 1;
        return LS_MKTO_THROTTLE;
    case 607:
        set_all(res, n, LS_SINK_RETRY, 200, 0, msg);
        for (i = 0; i < n; i++)
            res[i].throttled = 1;
        return LS_MKTO_QUOTA;
    case 603:
        set_all(res, n, LS_SINK_FATAL, 200, 1, msg);
        return LS_MKTO_NONE;
    case 605:
    case 610:
    case 612:
        set_all(res, n, LS_SINK_FATAL, 200, 0, msg);
        return LS_MKTO_NONE;
    case 413:
    case 414:
        set_all(res, n, LS_SINK_RETRY, 200, 0, msg);
        return n > 1 ? LS_MKTO_SPLIT : LS_MKTO_NONE;
    case 502:
    case 604:
    case 608:
    case 611:
    case 613:
    case 614:
    case 713:
        set_all(res, n, LS_SINK_RETRY, 200, 0, msg);
        return LS_MKTO_NONE;
    default:
        set_all(res, n, LS_SINK_REJECT, 200, 0, msg);
        return LS_MKTO_NONE;
    }
}

static void record_result(const json_t *r, int update_only, struct ls_sink_result *res)
{
    const char *st = json_string_value(json_object_get(r, "status"));
    const json_t *reason = json_array_get(json_object_get(r, "reasons"), 0);
    const char *rmsg = json_string_value(json_object_get(reason, "message"));
    int code = code_of(reason);

    res->retry_after_ms = -1;
    res->status = 200;
    if (st && (strcmp(st, "created") == 0 || strcmp(st, "updated") == 0)) {
        res->outcome = LS_SINK_OK;
        snprintf(res->error, sizeof(res->error), "%s", st);
        return;
    }
    if (update_only && code == 1004) {
        res->outcome = LS_SINK_OK; /* DNC for a lead Marketo never had: nothing to suppress */
        snprintf(res->error, sizeof(res->error), "not in Marketo: nothing to update");
        return;
    }
    res->outcome = LS_SINK_REJECT;
    snprintf(res->error, sizeof(res->error), "Marketo %s %d: %.250s", st ? st : "result", code,
             rmsg ? rmsg : "no reason given");
}

/* An answer other than 200: the HTTP status decides for every item. */
static enum ls_mkto_signal http_error(int status, const char *body, size_t len, size_t n,
                                      struct ls_sink_result *res)
{
    char ex[120], msg[300];
    size_t i;

    ls_crm_excerpt(ex, sizeof(ex), body ? body : "", body ? len : 0);
    snprintf(msg, sizeof(msg), "HTTP %d: %.120s", status, ex);
    if (status == 401) {
        set_all(res, n, LS_SINK_RETRY, status, 0, msg);
        return LS_MKTO_TOKEN;
    }
    if (status == 413 || status == 414) {
        set_all(res, n, n > 1 ? LS_SINK_RETRY : LS_SINK_REJECT, status, 0, msg);
        return n > 1 ? LS_MKTO_SPLIT : LS_MKTO_NONE;
    }
    if (status == 403) {
        set_all(res, n, LS_SINK_FATAL, status, 1, msg);
        return LS_MKTO_NONE;
    }
    if (status == 404 || status == 405) {
        set_all(res, n, LS_SINK_FATAL, status, 0, msg);
        return LS_MKTO_NONE;
    }
    if (status == 408 || status == 429 || status >= 500) {
        set_all(res, n, LS_SINK_RETRY, status, 0, msg);
        if (status == 429)
            for (i = 0; i < n; i++)
                res[i].throttled = 1;
        return status == 429 ? LS_MKTO_THROTTLE : LS_MKTO_NONE;
    }
    set_all(res, n, LS_SINK_REJECT, status, 0, msg);
    return LS_MKTO_NONE;
}

enum ls_mkto_signal ls_mkto_classify(int status, const char *body, size_t len, size_t n,
                                     int update_only, struct ls_sink_result *res)
{
    json_t *doc = NULL, *results, *errs;
    enum ls_mkto_signal sig = LS_MKTO_NONE;
    char msg[300];
    size_t i;

    if (n == 0)
        return LS_MKTO_NONE;
    if (status == 0) {
        set_all(res, n, LS_SINK_RETRY, 0, 0, "no answer from Marketo");
        return LS_MKTO_NONE;
    }
    if (status != 200)
        return http_error(status, body, len, n, res);
    doc = body ? json_loadb(body, len, 0, NULL) : NULL;
    if (!json_is_object(doc)) {
        set_all(res, n, LS_SINK_RETRY, status, 0, "Marketo answered 200 without a JSON object");
        goto done;
    }
    errs = json_object_get(doc, "errors");
    if (!json_is_true(json_object_get(doc, "success"))) {
        const json_t *e = json_array_get(errs, 0);

        if (!e) {
            set_all(res, n, LS_SINK_RETRY, status, 0, "Marketo answered success:false, no error");
            goto done;
        }
        sig = call_error(code_of(e), json_string_value(json_object_get(e, "message")), n, res);
        goto done;
    }
    results = json_object_get(doc, "result");
    if (!json_is_array(results) || json_array_size(results) != n) {
        snprintf(msg, sizeof(msg), "Marketo answered %zu results for %zu leads",
                 json_is_array(results) ? json_array_size(results) : (size_t)0, n);
        set_all(res, n, LS_SINK_RETRY, status, 0, msg);
        goto done;
    }
    for (i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof(res[i]));
        record_result(json_array_get(results, i), update_only, &res[i]);
    }
done:
    json_decref(doc);
    return sig;
}

long ls_mkto_quota_reset_ms(int64_t now_ms)
{
    const int64_t day = 86400000, cst = 6 * 3600000;
    int64_t local = now_ms - cst, next;

    next = (local / day + 1) * day;
    return (long)(next - local);
}

int ls_mkto_parse_token(const char *body, size_t len, char **token, long *expires_in)
{
    json_t *doc = NULL, *e;
    const char *t;
    int rc = LS_OK;

    *token = NULL;
    *expires_in = -1;
    doc = body ? json_loadb(body, len, 0, NULL) : NULL;
    t = json_string_value(json_object_get(doc, "access_token"));
    if (!t || !*t || strpbrk(t, "\r\n")) {
        rc = ls_error(LS_EPARSE, "the identity answer has no access_token");
        goto done;
    }
    e = json_object_get(doc, "expires_in");
    if (json_is_integer(e) && json_integer_value(e) >= 0 && json_integer_value(e) < 86400 * 365)
        *expires_in = (long)json_integer_value(e);
    *token = ls_xstrdup(t);
done:
    json_decref(doc);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The sink                                                                  */

struct mkto {
    struct ls_crm_http *http;
    struct ls_mapping *map;
    char *token_url;
    char *leads_url;
    char *client_id;
    char *client_secret;
    char *lookup;
    char *partition;
    long batch;
    long throttle_s;
    struct ls_oauth oauth;
};

static void mkto_free(struct mkto *s)
{
    if (!s)
        return;
    ls_oauth_dispose(&s->oauth);
    ls_crm_http_free(s->http);
    ls_mapping_free(s->map);
    free(s->token_url);
    free(s->leads_url);
    free(s->client_id);
    ls_secret_free(s->client_secret);
    free(s->lookup);
    free(s->partition);
    free(s);
}

static int set(const char *v)
{
    return v && *v;
}

static int fetch_token(void *ctx, void *arg, struct ls_oauth_token *out);

static int mkto_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    struct mkto *s = ls_xcalloc(1, sizeof(*s));
    char *base = NULL;
    int rc = LS_OK;

    *ctx = NULL;
    if (arg && *arg) {
        rc = ls_error(LS_ECONFIG, "LEADSYNC_SINKS: marketo takes no argument; configure it with "
                                  "LEADSYNC_MARKETO_*");
        goto done;
    }
    if (!set(cfg->marketo_base_url)) {
        rc = ls_error(LS_ECONFIG, "sink marketo: LEADSYNC_MARKETO_BASE_URL is not set "
                                  "(https://NNN-XXX-NNN.mktorest.com)");
        goto done;
    }
    if (!set(cfg->marketo_client_id) || !set(cfg->marketo_client_secret)) {
        rc = ls_error(LS_ECONFIG, "sink marketo: LEADSYNC_MARKETO_CLIENT_ID and "
                                  "LEADSYNC_MARKETO_CLIENT_SECRET must be set");
        goto done;
    }
    if (!set(cfg->marketo_lookup_field) || strpbrk(cfg->marketo_lookup_field, "\"\\/?# ")) {
        rc = ls_error(LS_ECONFIG, "sink marketo: LEADSYNC_MARKETO_LOOKUP_FIELD must be a field "
                                  "name");
        goto done;
    }
    base = ls_crm_strip_slash(cfg->marketo_base_url);
    s->token_url = ls_xasprintf("%s/identity/oauth/token", base);
    s->leads_url = ls_xasprintf("%s/rest/v1/leads.json", base);
    s->client_id = ls_xstrdup(cfg->marketo_client_id);
    s->client_secret = ls_xstrdup(cfg->marketo_client_secret);
    s->lookup = ls_xstrdup(cfg->marketo_lookup_field);
    if (set(cfg->marketo_partition))
        s->partition = ls_xstrdup(cfg->marketo_partition);
    s->batch = cfg->marketo_batch > 0 ? cfg->marketo_batch : 300;
    s->throttle_s = cfg->marketo_throttle_seconds > 0 ? cfg->marketo_throttle_seconds : 20;
    rc = ls_mapping_load("marketo", cfg->marketo_mapping, &s->map);
    if (rc)
        goto done;
    rc = ls_crm_http_create("marketo", cfg->marketo_ca_file, cfg->http_timeout_seconds, &s->http);
    if (rc)
        goto done;
    ls_crm_http_stop_grace(s->http, cfg->stop_grace_seconds);
    ls_oauth_init(&s->oauth, fetch_token, s, 0);
    *ctx = s;
    s = NULL;
done:
    free(base);
    mkto_free(s);
    return rc;
}

static void mkto_destroy(void *ctx)
{
    mkto_free(ctx);
}

/* The ls_oauth fetch: one token from the identity service. arg: the
 * struct ls_sink_result filled on failure (FATAL auth on refusal, RETRY
 * otherwise). */
static int fetch_token(void *ctx, void *arg, struct ls_oauth_token *out)
{
    static const char *const hdrs[] = {"Accept: application/json", NULL};
    struct mkto *s = ctx;
    struct ls_sink_result *r = arg;
    struct ls_crm_req req = {"GET", NULL, hdrs, NULL, 0, NULL, NULL, NULL};
    struct ls_crm_resp resp;
    char *id = NULL, *sec = NULL, *url = NULL;
    long exp = -1;
    int rc = LS_ERROR;

    memset(&resp, 0, sizeof(resp));
    memset(r, 0, sizeof(*r));
    r->retry_after_ms = -1;
    id = ls_crm_escape(s->client_id);
    sec = ls_crm_escape(s->client_secret);
    /* Adobe documents the identity call as a GET with the client id and
     * secret as query parameters; the URL is never logged. */
    url = ls_xasprintf("%s?grant_type=client_credentials&client_id=%s&client_secret=%s",
                       s->token_url, id, sec);
    req.url = url;
    if (ls_crm_call(s->http, &req, &resp) != LS_OK) {
        r->outcome = LS_SINK_RETRY;
        snprintf(r->error, sizeof(r->error), "token request: %.280s", ls_error_last());
        goto done;
    }
    r->status = resp.status;
    if (resp.stopped) {
        ls_crm_stopped_result(r);
        goto done;
    }
    if (resp.status == 0) {
        r->outcome = resp.tls_config ? LS_SINK_FATAL : LS_SINK_RETRY;
        snprintf(r->error, sizeof(r->error), "identity service unreachable: %.250s",
                 resp.transport);
        goto done;
    }
    if (resp.status == 400 || resp.status == 401 || resp.status == 403) {
        char ex[160];

        ls_crm_excerpt(ex, sizeof(ex), resp.body, resp.len);
        r->outcome = LS_SINK_FATAL;
        r->auth = 1;
        snprintf(r->error, sizeof(r->error),
                 "the identity service refused the client id/secret (HTTP %d: %s); check "
                 "LEADSYNC_MARKETO_CLIENT_ID and LEADSYNC_MARKETO_CLIENT_SECRET",
                 resp.status, ex);
        goto done;
    }
    if (resp.status != 200 ||
        ls_mkto_parse_token(resp.body, resp.len, &out->value, &exp) != LS_OK) {
        r->outcome = resp.status == 404 ? LS_SINK_FATAL : LS_SINK_RETRY;
        snprintf(r->error, sizeof(r->error), "identity service answered HTTP %d without a token%s",
                 resp.status, resp.status == 404 ? " (check LEADSYNC_MARKETO_BASE_URL)" : "");
        goto done;
    }
    out->expires_ms = exp > 0 ? ls_now_ms() + exp * 1000 : 0;
    LS_DEBUG(COMP, "token obtained (expires in %ld s)", exp);
    rc = LS_OK;
done:
    ls_secret_free(sec);
    ls_secret_free(url);
    free(id);
    ls_crm_resp_dispose(&resp);
    return rc;
}

/* ls_crm_call's refusal test: HTTP 401, or errors 601/602 in a 200 answer. */
static int token_refused(const struct ls_crm_resp *resp)
{
    struct ls_sink_result one;

    return ls_mkto_classify(resp->status, resp->body, resp->len, 1, 0, &one) == LS_MKTO_TOKEN;
}

/*
 * One sync call for k records (recs, borrowed) on behalf of res[0..k).
 * ls_crm_call handles the token (one fresh token on 601/602). Returns the
 * signal.
 */
static enum ls_mkto_signal sync_call(struct mkto *s, json_t *const *recs, size_t k, int update_only,
                                     struct ls_sink_result *res)
{
    json_t *doc = NULL, *input = json_array();
    char *body = NULL;
    enum ls_mkto_signal sig = LS_MKTO_NONE;
    static const char *const hdrs[] = {"Content-Type: application/json", "Accept: application/json",
                                       NULL};
    struct ls_sink_result tr;
    struct ls_crm_req req = {"POST", s->leads_url, hdrs, NULL, 0, &s->oauth, &tr, token_refused};
    struct ls_crm_resp resp;
    size_t i;
    int rc;

    memset(&resp, 0, sizeof(resp));
    memset(&tr, 0, sizeof(tr));
    for (i = 0; i < k; i++)
        json_array_append(input, recs[i]);
    doc = json_pack("{s:s, s:s, s:o}", "action", update_only ? "updateOnly" : "createOrUpdate",
                    "lookupField", s->lookup, "input", input);
    input = NULL;
    if (doc && s->partition && !update_only)
        json_object_set_new(doc, "partitionName", json_string(s->partition));
    body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (!body) {
        set_all(res, k, LS_SINK_REJECT, 0, 0, "the records do not serialize as JSON");
        goto done;
    }
    req.body = body;
    req.len = strlen(body);
    if ((rc = ls_crm_call(s->http, &req, &resp)) != LS_OK) {
        ls_crm_call_failed(rc, &tr);
        for (i = 0; i < k; i++)
            res[i] = tr;
        goto done;
    }
    if (resp.stopped) {
        for (i = 0; i < k; i++)
            ls_crm_stopped_result(&res[i]);
        goto done;
    }
    if (resp.status == 0) {
        char m[300];

        snprintf(m, sizeof(m), "Marketo unreachable: %.250s", resp.transport);
        set_all(res, k, resp.tls_config ? LS_SINK_FATAL : LS_SINK_RETRY, 0, 0, m);
        goto done;
    }
    sig = ls_mkto_classify(resp.status, resp.body, resp.len, k, update_only, res);
    if (resp.auth_refused) {
        /* A fresh token was refused too. */
        for (i = 0; i < k; i++) {
            res[i].outcome = LS_SINK_FATAL;
            res[i].auth = 1;
        }
        sig = LS_MKTO_NONE;
    }
done:
    json_decref(input);
    json_decref(doc);
    free(body);
    ls_crm_resp_dispose(&resp);
    return sig;
}

static int is_dnc(const struct ls_sink_item *it)
{
    return json_is_true(json_object_get(it->lead, "doNotContact"));
}

/* One deliver() call's work: every item's record and lookup key, and the
 * chunk in hand. */
struct work {
    const struct ls_sink_item *items;
    size_t n;
    json_t **recs;
    char **keys;
    int *todo;
    size_t *idx; /* the chunk: items[idx[j]] */
    json_t **chunk;
    struct ls_sink_result *cres;
};

static void work_init(struct work *w, const struct ls_sink_item *items, size_t n)
{
    size_t cap = n ? n : 1;

    w->items = items;
    w->n = n;
    w->recs = ls_xcalloc(cap, sizeof(*w->recs));
    w->keys = ls_xcalloc(cap, sizeof(*w->keys));
    w->todo = ls_xcalloc(cap, sizeof(*w->todo));
    w->idx = ls_xcalloc(cap, sizeof(*w->idx));
    w->chunk = ls_xcalloc(cap, sizeof(*w->chunk));
    w->cres = ls_xcalloc(cap, sizeof(*w->cres));
}

static void work_free(struct work *w)
{
    size_t i;

    for (i = 0; i < w->n; i++) {
        json_decref(w->recs[i]);
        free(w->keys[i]);
    }
    free(w->recs);
    free(w->keys);
    free(w->todo);
    free(w->idx);
    free(w->chunk);
    free(w->cres);
}

/* Every item's record and key; an item that has none is rejected, the
 * others are not sent until their call answers. Returns how many to send. */
static size_t prepare(const struct mkto *s, struct work *w, struct ls_sink_result *results)
{
    size_t i, left = 0;

    for (i = 0; i < w->n; i++) {
        ls_sink_not_sent(&results[i], LS_SINK_HALTED);
        if (ls_mkto_record(s->map, w->items[i].lead, s->lookup, &w->recs[i], &w->keys[i]) !=
            LS_OK) {
            set_all(&results[i], 1, LS_SINK_REJECT, 0, 0, ls_error_last());
            continue;
        }
        w->todo[i] = 1;
        left++;
    }
    return left;
}

/* The next chunk of at most batch items: one kind per call (upsert or DNC
 * update), each lookup key at most once, in order; repeated keys wait for
 * the next call. Returns its size; *dnc its kind. */
static size_t pick_chunk(struct work *w, size_t batch, int *dnc)
{
    size_t i, j, k = 0, first = w->n;

    for (i = 0; i < w->n && k < batch; i++) {
        int dup = 0;

        if (!w->todo[i])
            continue;
        if (first == w->n) {
            first = i;
            *dnc = is_dnc(&w->items[i]);
        } else if (is_dnc(&w->items[i]) != *dnc) {
            continue;
        }
        for (j = 0; j < k && !dup; j++)
            dup = strcmp(w->keys[w->idx[j]], w->keys[i]) == 0;
        if (dup)
            continue;
        w->idx[k] = i;
        w->chunk[k++] = w->recs[i];
    }
    return k;
}

/* Settles a chunk's items from its call's results, with the pause its
 * signal asks for. Returns 1 when the batch halts. */
static int settle_chunk(const struct mkto *s, struct work *w, size_t k, int dnc,
                        enum ls_mkto_signal sig, struct ls_sink_result *results)
{
    size_t j;
    int halt = 0;

    for (j = 0; j < k; j++) {
        struct ls_sink_result *r = &results[w->idx[j]];

        *r = w->cres[j];
        w->todo[w->idx[j]] = 0;
        if (sig == LS_MKTO_THROTTLE)
            r->retry_after_ms = s->throttle_s * 1000;
        else if (sig == LS_MKTO_QUOTA)
            r->retry_after_ms = ls_mkto_quota_reset_ms(ls_now_ms());
        if (r->outcome == LS_SINK_OK && dnc && strcmp(r->error, "updated") != 0)
            LS_INFO(COMP, "lead %s is do-not-contact and not in Marketo: nothing created",
                    w->items[w->idx[j]].lead_id);
        halt |= ls_sink_halts(r);
    }
    if (sig == LS_MKTO_QUOTA)
        LS_WARN(COMP, "daily API quota used up (607): sink paused until 00:00 CST");
    else if (sig == LS_MKTO_THROTTLE)
        LS_WARN(COMP, "rate or concurrency limit (606/615): sink paused %ld s", s->throttle_s);
    return halt;
}

static int mkto_deliver(void *ctx, const struct ls_sink_item *items, size_t n,
                        struct ls_sink_result *results)
{
    struct mkto *s = ctx;
    struct work w;
    size_t batch = (size_t)s->batch, left;
    int halt = 0;

    work_init(&w, items, n);
    left = prepare(s, &w, results);
    while (left && !halt) {
        int dnc = 0;
        size_t k = pick_chunk(&w, batch, &dnc);
        enum ls_mkto_signal sig = sync_call(s, w.chunk, k, dnc, w.cres);

        if (sig == LS_MKTO_SPLIT) {
            batch = k / 2 ? k / 2 : 1;
            LS_INFO(COMP, "request too large: %zu leads per call from now on", batch);
            continue;
        }
        halt = settle_chunk(s, &w, k, dnc, sig, results);
        left -= k;
    }
    work_free(&w);
    return LS_OK;
}

static int mkto_check(void *ctx, char *msg, size_t msglen)
{
    struct mkto *s = ctx;
    struct ls_sink_result r;
    const char *token;

    ls_oauth_invalidate(&s->oauth);
    if (ls_oauth_get(&s->oauth, &r, &token) != LS_OK) {
        snprintf(msg, msglen, "%s", r.error);
        return r.outcome == LS_SINK_FATAL ? (r.auth ? LS_EAUTH : LS_ECONFIG) : LS_EUNAVAIL;
    }
    snprintf(msg, msglen, "token ok, upserts keyed on %s", s->lookup);
    return LS_OK;
}

/* The marketo sink's configuration keys (ls_config.h). */
/* clang-format off */
static const struct ls_conf_entry conf_entries[] = {
    {"LEADSYNC_MARKETO_BASE_URL", LS_CONF_STRING, NULL, LS_CONF_AT(marketo_base_url), LS_CONF_URL, 0, 0, NULL,
     "Marketo instance base URL (https://NNN-XXX-NNN.mktorest.com): /identity/oauth/token and /rest/v1/leads.json", NULL},
    {"LEADSYNC_MARKETO_CLIENT_ID", LS_CONF_STRING, NULL, LS_CONF_AT(marketo_client_id), 0, 0, 0, NULL,
     "Marketo custom service client id", NULL},
    {"LEADSYNC_MARKETO_CLIENT_SECRET", LS_CONF_STRING, NULL, LS_CONF_AT(marketo_client_secret), LS_CONF_SECRET, 0, 0, NULL,
     "Marketo custom service client secret", NULL},
    {"LEADSYNC_MARKETO_LOOKUP_FIELD", LS_CONF_STRING, "email", LS_CONF_AT(marketo_lookup_field), 0, 0, 0, NULL,
     "Marketo lookupField the upsert is keyed on (email, or a custom field that receives the lead id)", NULL},
    {"LEADSYNC_MARKETO_PARTITION", LS_CONF_STRING, NULL, LS_CONF_AT(marketo_partition), 0, 0, 0, NULL,
     "Marketo lead partition new leads are created in (default partition when unset)", NULL},
    {"LEADSYNC_MARKETO_MAPPING", LS_CONF_STRING, NULL, LS_CONF_AT(marketo_mapping), 0, 0, 0, NULL,
     "JSON file extending the built-in Marketo field mapping", NULL},
    {"LEADSYNC_MARKETO_CA_FILE", LS_CONF_STRING, NULL, LS_CONF_AT(marketo_ca_file), 0, 0, 0, NULL,
     "CA bundle (PEM) trusted for Marketo TLS instead of the system's", NULL},
    {"LEADSYNC_MARKETO_BATCH", LS_CONF_INT, "300", LS_CONF_AT(marketo_batch), 0, 1, 300, NULL,
     "leads per Marketo sync call", NULL},
    {"LEADSYNC_MARKETO_THROTTLE_SECONDS", LS_CONF_INT, "20", LS_CONF_AT(marketo_throttle_seconds), 0, 1, 3600, NULL,
     "how long the Marketo sink pauses after a 606 (rate) or 615 (concurrency) error", NULL},
};
/* clang-format on */

const struct ls_sink_ops ls_sink_marketo_ops = {
    .name = "marketo",
    .conf = conf_entries,
    .nconf = LS_ARRAY_LEN(conf_entries),
    .coalesce = 1,
    .create = mkto_create,
    .deliver = mkto_deliver,
    .check = mkto_check,
    .destroy = mkto_destroy,
};
