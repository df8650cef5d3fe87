/* sink_dynamics.c - the Dynamics 365 / Dataverse Web API sink (see ls_dynamics.h). */
#include "ls_dynamics.h"

#include "ls_crm.h"
#include "ls_log.h"
#include "ls_mapping.h"
#include "ls_oauth.h"
#include "ls_sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMP "sink:dynamics"
/* A token is renewed this long before it expires. */
#define TOKEN_SKEW_MS (60 * 1000)

/* ------------------------------------------------------------------------ */
/* pure halves                                                               */

char *ls_dv_key_url(const char *api_base, const char *entity_set, const char *key_field,
                    const char *value)
{
    size_t n = strlen(value), i, o = 0;
    char *dq = ls_xmalloc(2 * n + 1), *esc, *url;

    for (i = 0; i < n; i++) {
        dq[o++] = value[i];
        if (value[i] == '\'')
            dq[o++] = '\'';
    }
    dq[o] = '\0';
    esc = ls_crm_escape(dq);
    url = ls_xasprintf("%s/%s(%s='%s')", api_base, entity_set, key_field, esc);
    free(dq);
    free(esc);
    return url;
}

int ls_dv_record(const struct ls_mapping *m, const json_t *lead, const char *key_field,
                 json_t **out)
{
    int rc = ls_mapping_apply(m, lead, out);

    if (rc == LS_OK)
        json_object_del(*out, key_field);
    return rc;
}

int ls_dv_assertion(const char *client_id, const char *token_url, const char *cert_pem,
                    const char *key_pem, int64_t now, const char *jti, char **out)
{
    char *x5t = NULL;
    json_t *h = NULL, *c = NULL;
    int rc;

    *out = NULL;
    rc = ls_jwt_x5t(cert_pem, &x5t);
    if (rc)
        return rc;
    h = json_pack("{s:s,s:s,s:s}", "alg", "RS256", "typ", "JWT", "x5t", x5t);
    c = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "aud", token_url, "iss", client_id, "sub",
                  client_id, "jti", jti, "nbf", (json_int_t)now, "iat", (json_int_t)now, "exp",
                  (json_int_t)(now + 600));
    rc = ls_jwt_rs256(h, c, key_pem, out);
    json_decref(h);
    json_decref(c);
    free(x5t);
    return rc;
}

void ls_dv_classify(int status, const char *body, size_t len, long retry_after_ms,
                    struct ls_sink_result *r)
{
    json_t *j = NULL, *e;
    const char *code = NULL, *msg = NULL;
    char ex[200];

    memset(r, 0, sizeof(*r));
    r->status = status;
    r->retry_after_ms = -1;
    if (status >= 200 && status < 300) {
        r->outcome = LS_SINK_OK;
        return;
    }
    if (status == 0) {
        r->outcome = LS_SINK_RETRY;
        if (body && len)
            snprintf(r->error, sizeof(r->error), "no answer: %.*s", (int)(len < 280 ? len : 280),
                     body);
        else
            snprintf(r->error, sizeof(r->error), "no answer: transport error");
        return;
    }
    j = json_loadb(body ? body : "", len, 0, NULL);
    e = json_object_get(j, "error");
    if (json_is_object(e)) {
        code = json_string_value(json_object_get(e, "code"));
        msg = json_string_value(json_object_get(e, "message"));
    } else if (json_is_string(e)) { /* OAuth: {"error":"invalid_client", ...} */
        code = json_string_value(e);
        msg = json_string_value(json_object_get(j, "error_description"));
    }
    if (!msg) {
        ls_crm_excerpt(ex, sizeof(ex), body ? body : "", len);
        msg = ex;
    }
    if (!code)
        code = "";
    if (status == 429 || (status == 503 && retry_after_ms >= 0)) {
        r->outcome = LS_SINK_RETRY;
        r->throttled = 1;
        r->retry_after_ms = retry_after_ms;
        snprintf(r->error, sizeof(r->error), "HTTP %d %s (service protection limit): %.200s",
                 status, code, msg);
    } else if (status == 401 || status == 403) {
        r->outcome = LS_SINK_FATAL;
        r->auth = 1;
        snprintf(r->error, sizeof(r->error), "HTTP %d %s%s: %.200s", status, code,
                 status == 403 ? " (does the application user have a security role?)" : "", msg);
    } else if (status == 408 || status == 412 || status >= 500) {
        r->outcome = LS_SINK_RETRY;
        r->retry_after_ms = retry_after_ms;
        snprintf(r->error, sizeof(r->error), "HTTP %d %s: %.200s", status, code, msg);
    } else {
        r->outcome = LS_SINK_REJECT;
        snprintf(r->error, sizeof(r->error), "HTTP %d %s: %.200s", status, code, msg);
    }
    json_decref(j);
}

/* ------------------------------------------------------------------------ */
/* the sink                                                                  */

struct dv {
    struct ls_crm_http *http;
    struct ls_mapping *map;
    char *token_url, *scope, *api_base, *client_id, *client_secret, *cert, *key, *key_field;
    char *entity_set;
    struct ls_oauth oauth;
    size_t batch; /* upserts per $batch; 1 = none */
};

static void dv_free(struct dv *d)
{
    if (!d)
        return;
    ls_crm_http_free(d->http);
    ls_mapping_free(d->map);
    free(d->token_url);
    free(d->scope);
    free(d->api_base);
    free(d->client_id);
    ls_secret_free(d->client_secret);
    free(d->cert);
    ls_secret_free(d->key);
    free(d->key_field);
    free(d->entity_set);
    ls_oauth_dispose(&d->oauth);
    free(d);
}

static int fetch_token(void *ctx, void *arg, struct ls_oauth_token *out);

static int set(const char *v)
{
    return v && *v;
}

/* The settings every configuration needs, before anything is built. */
static int check_config(const char *arg, const struct ls_config *cfg)
{
    if (arg && *arg)
        return ls_error(LS_ECONFIG, "LEADSYNC_SINKS: dynamics takes no argument; configure it "
                                    "with LEADSYNC_DYNAMICS_*");
    if (!set(cfg->dynamics_url) || !set(cfg->dynamics_client_id) ||
        (!set(cfg->dynamics_tenant_id) && !set(cfg->dynamics_token_url)))
        return ls_error(LS_ECONFIG, "sink dynamics: set LEADSYNC_DYNAMICS_URL, "
                                    "LEADSYNC_DYNAMICS_TENANT_ID and LEADSYNC_DYNAMICS_CLIENT_ID");
    if (!set(cfg->dynamics_client_secret) &&
        !(set(cfg->dynamics_certificate) && set(cfg->dynamics_private_key)))
        return ls_error(LS_ECONFIG,
                        "sink dynamics: set LEADSYNC_DYNAMICS_CLIENT_SECRET, or "
                        "LEADSYNC_DYNAMICS_CERTIFICATE and LEADSYNC_DYNAMICS_PRIVATE_KEY");
    if (!set(cfg->dynamics_key_field) || strpbrk(cfg->dynamics_key_field, "/?#%'() "))
        return ls_error(LS_ECONFIG,
                        "sink dynamics: LEADSYNC_DYNAMICS_KEY_FIELD must be a column name");
    return LS_OK;
}

/* The client secret, or the certificate and key, proven able to sign a
 * client assertion now rather than at the first lead. */
static int take_credentials(struct dv *d, const struct ls_config *cfg)
{
    char jti[37], *probe = NULL;
    int rc;

    if (set(cfg->dynamics_client_secret)) {
        d->client_secret = ls_xstrdup(cfg->dynamics_client_secret);
        return LS_OK;
    }
    d->cert = ls_xstrdup(cfg->dynamics_certificate);
    d->key = ls_xstrdup(cfg->dynamics_private_key);
    ls_crm_uuid(jti);
    rc = ls_dv_assertion(d->client_id, d->token_url, d->cert, d->key, 0, jti, &probe);
    free(probe);
    if (rc)
        return ls_error(LS_ECONFIG,
                        "sink dynamics: LEADSYNC_DYNAMICS_CERTIFICATE / PRIVATE_KEY: %s",
                        ls_error_last());
    return LS_OK;
}

/* The mapping, the entity set it writes, and the key column it leaves alone. */
static int take_mapping(struct dv *d, const struct ls_config *cfg)
{
    int rc = ls_mapping_load("dynamics", cfg->dynamics_mapping, &d->map);

    if (rc)
        return rc;
    d->entity_set = ls_xstrdup(*ls_mapping_object(d->map) ? ls_mapping_object(d->map) : "leads");
    if (strpbrk(d->entity_set, "/?#%'() "))
        return ls_error(LS_ECONFIG,
                        "sink dynamics: the mapping's object must be an entity set name");
    if (ls_mapping_targets(d->map, d->key_field))
        return ls_error(
            LS_ECONFIG,
            "sink dynamics: the mapping writes %s, the key column; leadsync sets it itself",
            d->key_field);
    return LS_OK;
}

static int dv_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    struct dv *d = NULL;
    char *org = NULL, *auth = NULL;
    int rc;

    *ctx = NULL;
    rc = check_config(arg, cfg);
    if (rc)
        return rc;
    d = ls_xcalloc(1, sizeof(*d));
    org = ls_crm_strip_slash(cfg->dynamics_url);
    auth = ls_crm_strip_slash(set(cfg->dynamics_authority_url) ? cfg->dynamics_authority_url : "");
    d->token_url = set(cfg->dynamics_token_url)
                       ? ls_xstrdup(cfg->dynamics_token_url)
                       : ls_xasprintf("%s/%s/oauth2/v2.0/token", auth, cfg->dynamics_tenant_id);
    d->scope = set(cfg->dynamics_scope) ? ls_xstrdup(cfg->dynamics_scope)
                                        : ls_xasprintf("%s/.default", org);
    d->api_base = set(cfg->dynamics_api_base) ? ls_crm_strip_slash(cfg->dynamics_api_base)
                                              : ls_xasprintf("%s/api/data/v9.2", org);
    d->client_id = ls_xstrdup(cfg->dynamics_client_id);
    d->key_field = ls_xstrdup(cfg->dynamics_key_field);
    d->batch = cfg->dynamics_batch > 0 ? (size_t)cfg->dynamics_batch : 100;
    if (d->batch > LS_DV_BATCH_MAX)
        d->batch = LS_DV_BATCH_MAX;
    ls_oauth_init(&d->oauth, fetch_token, d, TOKEN_SKEW_MS);
    rc = take_credentials(d, cfg);
    if (!rc)
        rc = take_mapping(d, cfg);
    if (!rc)
        rc = ls_crm_http_create("dynamics", cfg->dynamics_ca_file, cfg->http_timeout_seconds,
                                &d->http);
    if (!rc) {
        ls_crm_http_stop_grace(d->http, cfg->stop_grace_seconds);
        *ctx = d;
        d = NULL;
    }
    free(org);
    free(auth);
    dv_free(d);
    return rc;
}

static void dv_destroy(void *ctx)
{
    dv_free(ctx);
}

/* The token request's form: client credentials with the secret, or with a
 * client assertion signed by the certificate's key. NULL with *r filled. */
static char *token_form(struct dv *d, struct ls_sink_result *r)
{
    struct ls_oauth_grant g = {
        LS_OAUTH_CLIENT_CREDENTIALS, d->client_id, d->client_secret, NULL, NULL, d->scope};
    char jti[37], *assertion = NULL, *form;

    if (!d->client_secret) {
        ls_crm_uuid(jti);
        if (ls_dv_assertion(d->client_id, d->token_url, d->cert, d->key, ls_now_ms() / 1000, jti,
                            &assertion) != LS_OK) {
            r->outcome = LS_SINK_FATAL;
            snprintf(r->error, sizeof(r->error), "client assertion: %.280s", ls_error_last());
            return NULL;
        }
        g.client_assertion = assertion;
    }
    form = ls_oauth_form(&g);
    free(assertion);
    return form;
}

/* Fills *r for a token endpoint that did not hand out a token. */
static void token_refusal(const struct dv *d, const struct ls_crm_resp *resp,
                          struct ls_sink_result *r)
{
    char why[200];

    if (resp->stopped) {
        ls_crm_stopped_result(r);
        return;
    }
    if (resp->status == 0) {
        r->outcome = resp->tls_config ? LS_SINK_FATAL : LS_SINK_RETRY;
        snprintf(r->error, sizeof(r->error), "token endpoint unreachable: %.200s%s",
                 resp->transport,
                 resp->tls_config ? " (check the URL and LEADSYNC_DYNAMICS_CA_FILE)" : "");
        return;
    }
    ls_dv_classify(resp->status, resp->body, resp->len, resp->retry_after_ms, r);
    if (r->outcome == LS_SINK_RETRY)
        return;
    snprintf(why, sizeof(why), "%.190s", r->error);
    r->outcome = LS_SINK_FATAL;
    r->auth = 1;
    snprintf(r->error, sizeof(r->error), "Microsoft Entra refused the client %s (%.200s)",
             d->client_secret ? "secret" : "assertion", why);
}

/* The ls_oauth fetch: one token from Microsoft Entra ID. arg: the
 * struct ls_sink_result filled on failure. */
static int fetch_token(void *ctx, void *arg, struct ls_oauth_token *out)
{
    struct dv *d = ctx;
    struct ls_sink_result *r = arg;
    struct ls_crm_resp resp;
    char *form;
    int rc;

    memset(r, 0, sizeof(*r));
    r->retry_after_ms = -1;
    form = token_form(d, r);
    if (!form)
        return LS_EAUTH;
    rc = ls_oauth_post(d->http, d->token_url, form, ls_now_ms(), NULL, NULL, &resp, out);
    ls_secret_free(form);
    if (resp.status != 200) {
        token_refusal(d, &resp, r);
    } else if (rc) {
        r->outcome = LS_SINK_RETRY;
        r->status = resp.status;
        snprintf(r->error, sizeof(r->error), "the token answer lacks access_token");
    } else {
        if (!out->expires_ms)
            out->expires_ms = ls_now_ms() + 3599 * 1000; /* Entra's usual hour */
        LS_DEBUG(COMP, "token obtained, valid %lld s",
                 (long long)((out->expires_ms - ls_now_ms()) / 1000));
    }
    ls_crm_resp_dispose(&resp);
    return rc;
}

/* One API call (url absolute) with the JSON content type or ctype, and up to
 * two more header lines (either may be NULL); the bearer token comes from
 * d->oauth (fetched when missing or about to expire, and once more after a
 * 401). Returns 0 with *resp, or -1 with *fail filled. */
static int dv_call(struct dv *d, const char *method, const char *url, const char *ctype,
                   const char *h1, const char *h2, const char *body, size_t len,
                   struct ls_crm_resp *resp, struct ls_sink_result *fail)
{
    const char *hdrs[8] = {"Accept: application/json",
                           ctype ? ctype : "Content-Type: application/json; charset=utf-8",
                           "OData-MaxVersion: 4.0",
                           "OData-Version: 4.0",
                           NULL,
                           NULL,
                           NULL,
                           NULL};
    struct ls_crm_req req = {method, url, hdrs, body, body ? len : 0, &d->oauth, fail, NULL};
    size_t nh = 4;
    int rc;

    if (h1)
        hdrs[nh++] = h1;
    if (h2)
        hdrs[nh++] = h2;
    memset(fail, 0, sizeof(*fail));
    rc = ls_crm_call(d->http, &req, resp);
    if (rc)
        ls_crm_call_failed(rc, fail);
    return rc ? -1 : 0;
}

static void dv_result(const struct ls_crm_resp *resp, struct ls_sink_result *r)
{
    if (resp->stopped) {
        ls_crm_stopped_result(r);
        return;
    }
    if (resp->status == 0) {
        ls_dv_classify(0, resp->transport, strlen(resp->transport), -1, r);
        if (resp->tls_config) {
            r->outcome = LS_SINK_FATAL;
            snprintf(r->error, sizeof(r->error),
                     "%.200s (check the URLs and LEADSYNC_DYNAMICS_CA_FILE)", resp->transport);
        }
        return;
    }
    ls_dv_classify(resp->status, resp->body, resp->len, resp->retry_after_ms, r);
}

static void deliver_one(struct dv *d, const struct ls_sink_item *it, struct ls_sink_result *r)
{
    struct ls_crm_resp resp;
    json_t *rec = NULL;
    char *body = NULL, *url = NULL;
    int dnc = json_is_true(json_object_get(it->lead, "doNotContact"));

    memset(&resp, 0, sizeof(resp));
    if (ls_dv_record(d->map, it->lead, d->key_field, &rec) != LS_OK ||
        !(body = json_dumps(rec, JSON_COMPACT))) {
        ls_dv_classify(400, "lead does not map to a record", 29, -1, r);
        goto done;
    }
    url = ls_dv_key_url(d->api_base, d->entity_set, d->key_field, it->lead_id);
    /* DNC: If-Match: * turns the upsert into update-only (404 when missing). */
    if (dv_call(d, "PATCH", url, NULL, dnc ? "If-Match: *" : "If-None-Match: null", NULL, body,
                strlen(body), &resp, r))
        goto done;
    if (dnc && resp.status == 404) {
        memset(r, 0, sizeof(*r));
        r->outcome = LS_SINK_OK;
        r->status = 404;
        r->retry_after_ms = -1;
        LS_DEBUG(COMP, "DNC lead %s: no record, none created", it->lead_id);
        goto done;
    }
    dv_result(&resp, r);
done:
    json_decref(rec);
    free(body);
    free(url);
    ls_crm_resp_dispose(&resp);
}

/* One PATCH per item, stopping after a throttled or fatal answer. */
static void deliver_each(struct dv *d, const struct ls_sink_item *items, size_t n,
                         struct ls_sink_result *results)
{
    size_t i;
    int halt = 0;

    for (i = 0; i < n; i++) {
        if (halt) {
            ls_sink_not_sent(&results[i], LS_SINK_HALTED);
            continue;
        }
        memset(&results[i], 0, sizeof(results[i]));
        results[i].retry_after_ms = -1;
        deliver_one(d, &items[i], &results[i]);
        halt = ls_sink_halts(&results[i]);
    }
}

/* The outcome of one part of a $batch answer for item it. */
static void part_result(const struct ls_sink_item *it, int dnc, const struct ls_dv_part *part,
                        struct ls_sink_result *r)
{
    if (dnc && part->status == 404) {
        memset(r, 0, sizeof(*r));
        r->outcome = LS_SINK_OK;
        r->status = 404;
        r->retry_after_ms = -1;
        LS_DEBUG(COMP, "DNC lead %s: no record, none created", it->lead_id);
        return;
    }
    if (part->status == 0) {
        memset(r, 0, sizeof(*r));
        r->outcome = LS_SINK_RETRY;
        r->retry_after_ms = -1;
        snprintf(r->error, sizeof(r->error), "$batch answer: unreadable part");
        return;
    }
    ls_dv_classify(part->status, part->body, part->len, part->retry_after_ms, r);
}

/* The upserts of one $batch: ops[i] for item idx[i], k of them. */
struct batch {
    struct ls_dv_op *ops;
    size_t *idx, k;
    char **bodies, **urls;
    int *dnc;
};

/* Builds b from items; a lead that does not map is rejected in results
 * and left out. */
static void batch_prepare(struct dv *d, const struct ls_sink_item *items, size_t n,
                          struct ls_sink_result *results, struct batch *b)
{
    size_t i;

    memset(b, 0, sizeof(*b));
    b->ops = ls_xcalloc(n, sizeof(*b->ops));
    b->idx = ls_xcalloc(n, sizeof(*b->idx));
    b->dnc = ls_xcalloc(n, sizeof(*b->dnc));
    b->bodies = ls_xcalloc(n, sizeof(*b->bodies));
    b->urls = ls_xcalloc(n, sizeof(*b->urls));
    for (i = 0; i < n; i++) {
        size_t k = b->k;
        json_t *rec = NULL;

        memset(&results[i], 0, sizeof(results[i]));
        results[i].retry_after_ms = -1;
        if (ls_dv_record(d->map, items[i].lead, d->key_field, &rec) != LS_OK ||
            !(b->bodies[k] = json_dumps(rec, JSON_COMPACT))) {
            json_decref(rec);
            ls_dv_classify(400, "lead does not map to a record", 29, -1, &results[i]);
            continue;
        }
        json_decref(rec);
        b->urls[k] = ls_dv_key_url(d->api_base, d->entity_set, d->key_field, items[i].lead_id);
        b->dnc[k] = json_is_true(json_object_get(items[i].lead, "doNotContact"));
        b->ops[k].url = b->urls[k];
        b->ops[k].update_only = b->dnc[k];
        b->ops[k].body = b->bodies[k];
        b->idx[b->k++] = i;
    }
}

static void batch_free(struct batch *b)
{
    size_t i;

    for (i = 0; i < b->k; i++) {
        free(b->bodies[i]);
        free(b->urls[i]);
    }
    free(b->bodies);
    free(b->urls);
    free(b->ops);
    free(b->idx);
    free(b->dnc);
}

/* The batch as a whole was refused (too large, malformed): one request per
 * lead finds the lead at fault, if any. */
static void batch_one_by_one(struct dv *d, const struct ls_sink_item *items, const struct batch *b,
                             struct ls_sink_result *results)
{
    size_t i;
    int halt = 0;

    for (i = 0; i < b->k; i++) {
        if (halt)
            ls_sink_not_sent(&results[b->idx[i]], LS_SINK_HALTED);
        else
            deliver_one(d, &items[b->idx[i]], &results[b->idx[i]]);
        halt |= ls_sink_halts(&results[b->idx[i]]);
    }
}

/* Reads the parts of a 200 answer into results. 0, or -1 with *whole filled
 * when the answer is unreadable. */
static int batch_answer(const struct ls_sink_item *items, const struct batch *b,
                        const struct ls_crm_resp *resp, struct ls_sink_result *results,
                        struct ls_sink_result *whole)
{
    struct ls_dv_part *parts = ls_xcalloc(b->k, sizeof(*parts));
    size_t np = 0, i, nok = 0;

    if (ls_dv_batch_parse(resp->content_type, strlen(resp->content_type), resp->body, resp->len,
                          ls_now_ms(), parts, b->k, &np) != LS_OK) {
        memset(whole, 0, sizeof(*whole));
        whole->outcome = LS_SINK_RETRY;
        whole->status = resp->status;
        whole->retry_after_ms = -1;
        snprintf(whole->error, sizeof(whole->error), "%.300s", ls_error_last());
        free(parts);
        return -1;
    }
    for (i = 0; i < b->k; i++) {
        struct ls_sink_result *r = &results[b->idx[i]];

        if (i < np) {
            part_result(&items[b->idx[i]], b->dnc[i], &parts[i], r);
        } else {
            /* Not in the answer: maybe not executed; upserts are safe to repeat. */
            r->outcome = LS_SINK_RETRY;
            r->status = resp->status;
            snprintf(r->error, sizeof(r->error), "$batch answer has no part for this lead");
        }
        nok += r->outcome == LS_SINK_OK;
    }
    LS_DEBUG(COMP, "$batch of %zu: %zu parts answered, %zu delivered", b->k, np, nok);
    free(parts);
    return 0;
}

/* Sends b as one $batch request. 0 when results are filled, or -1 with
 * *whole the outcome of every lead in it. */
static int batch_send(struct dv *d, const struct ls_sink_item *items, const struct batch *b,
                      struct ls_sink_result *results, struct ls_sink_result *whole)
{
    struct ls_crm_resp resp;
    char id[37], *body = NULL, *url = NULL, *ctype = NULL;
    size_t len = 0;
    int rc = -1;

    memset(&resp, 0, sizeof(resp));
    ls_crm_uuid(id);
    if (ls_dv_batch_body(id, b->ops, b->k, &body, &len) != LS_OK) {
        memset(whole, 0, sizeof(*whole));
        whole->outcome = LS_SINK_RETRY;
        whole->retry_after_ms = -1;
        snprintf(whole->error, sizeof(whole->error), "$batch: %.280s", ls_error_last());
        goto done;
    }
    url = ls_xasprintf("%s/$batch", d->api_base);
    ctype = ls_xasprintf("Content-Type: multipart/mixed; boundary=\"batch_%s\"", id);
    if (dv_call(d, "POST", url, ctype, "Prefer: odata.continue-on-error", NULL, body, len, &resp,
                whole))
        goto done;
    if (resp.status == 200) {
        rc = batch_answer(items, b, &resp, results, whole);
        goto done;
    }
    dv_result(&resp, whole);
    if (whole->outcome == LS_SINK_REJECT) {
        LS_WARN(COMP, "$batch of %zu refused (%s): sending one request per lead", b->k,
                whole->error);
        batch_one_by_one(d, items, b, results);
        rc = 0;
    }
done:
    free(body);
    free(url);
    free(ctype);
    ls_crm_resp_dispose(&resp);
    return rc;
}

/* Up to d->batch items as one $batch request. */
static void deliver_batch(struct dv *d, const struct ls_sink_item *items, size_t n,
                          struct ls_sink_result *results)
{
    struct ls_sink_result whole;
    struct batch b;
    size_t i;

    batch_prepare(d, items, n, results, &b);
    if (b.k == 1)
        deliver_one(d, &items[b.idx[0]], &results[b.idx[0]]);
    else if (b.k > 1 && batch_send(d, items, &b, results, &whole) != 0)
        for (i = 0; i < b.k; i++)
            results[b.idx[i]] = whole;
    batch_free(&b);
}

static int dv_deliver(void *ctx, const struct ls_sink_item *items, size_t n,
                      struct ls_sink_result *results)
{
    struct dv *d = ctx;
    size_t at = 0, i;

    if (d->batch <= 1 || n <= 1) {
        deliver_each(d, items, n, results);
        return LS_OK;
    }
    while (at < n) {
        size_t m = n - at < d->batch ? n - at : d->batch;
        int halt = 0;

        deliver_batch(d, items + at, m, results + at);
        for (i = at; i < at + m; i++)
            halt |= ls_sink_halts(&results[i]);
        at += m;
        if (halt)
            break;
    }
    for (; at < n; at++)
        ls_sink_not_sent(&results[at], LS_SINK_HALTED);
    return LS_OK;
}

static int dv_check(void *ctx, char *msg, size_t msglen)
{
    struct dv *d = ctx;
    struct ls_crm_resp resp;
    struct ls_sink_result r;
    char *url =
        ls_xasprintf("%s/EntityDefinitions(LogicalName='lead')?$select=LogicalName", d->api_base);
    int rc = LS_OK;

    memset(&resp, 0, sizeof(resp));
    if (dv_call(d, "GET", url, NULL, "Prefer: odata.include-annotations=\"none\"", NULL, NULL, 0,
                &resp, &r)) {
        snprintf(msg, msglen, "%s", r.error);
        rc = r.outcome == LS_SINK_FATAL ? (r.auth ? LS_EAUTH : LS_ECONFIG) : LS_EUNAVAIL;
        goto done;
    }
    if (resp.status != 200) {
        dv_result(&resp, &r);
        snprintf(msg, msglen, "lead metadata: %s", r.error);
        rc = r.outcome == LS_SINK_FATAL ? (r.auth ? LS_EAUTH : LS_ECONFIG) : LS_EUNAVAIL;
        goto done;
    }
    snprintf(msg, msglen, "token ok, lead table readable, upserts keyed on %s", d->key_field);
done:
    free(url);
    ls_crm_resp_dispose(&resp);
    return rc;
}

/* The dynamics sink's configuration keys (ls_config.h). */
/* clang-format off */
static const struct ls_conf_entry conf_entries[] = {
    {"LEADSYNC_DYNAMICS_URL", LS_CONF_STRING, NULL, LS_CONF_AT(dynamics_url), LS_CONF_URL, 0, 0, NULL,
     "Dataverse environment URL, e.g. https://org.crm.dynamics.com", NULL},
    {"LEADSYNC_DYNAMICS_API_BASE", LS_CONF_STRING, NULL, LS_CONF_AT(dynamics_api_base), LS_CONF_URL, 0, 0, NULL,
     "Dataverse Web API base (default: URL/api/data/v9.2)", NULL},
    {"LEADSYNC_DYNAMICS_AUTHORITY_URL", LS_CONF_STRING, "https://login.microsoftonline.com", LS_CONF_AT(dynamics_authority_url), LS_CONF_URL, 0, 0, NULL,
     "Microsoft Entra authority host", NULL},
    {"LEADSYNC_DYNAMICS_TOKEN_URL", LS_CONF_STRING, NULL, LS_CONF_AT(dynamics_token_url), LS_CONF_URL, 0, 0, NULL,
     "token endpoint (default: AUTHORITY_URL/TENANT_ID/oauth2/v2.0/token)", NULL},
    {"LEADSYNC_DYNAMICS_SCOPE", LS_CONF_STRING, NULL, LS_CONF_AT(dynamics_scope), 0, 0, 0, NULL,
     "token scope (default: URL/.default)", NULL},
    {"LEADSYNC_DYNAMICS_TENANT_ID", LS_CONF_STRING, NULL, LS_CONF_AT(dynamics_tenant_id), 0, 0, 0, NULL,
     "Microsoft Entra tenant (directory) id", NULL},
    {"LEADSYNC_DYNAMICS_CLIENT_ID", LS_CONF_STRING, NULL, LS_CONF_AT(dynamics_client_id), 0, 0, 0, NULL,
     "application (client) id of the app registration", NULL},
    {"LEADSYNC_DYNAMICS_CLIENT_SECRET", LS_CONF_STRING, NULL, LS_CONF_AT(dynamics_client_secret), LS_CONF_SECRET, 0, 0, NULL,
     "client secret (or use CERTIFICATE + PRIVATE_KEY)", NULL},
    {"LEADSYNC_DYNAMICS_CERTIFICATE", LS_CONF_STRING, NULL, LS_CONF_AT(dynamics_certificate), LS_CONF_SECRET, 0, 0, NULL,
     "PEM certificate registered on the app, for a signed client assertion (use _FILE)", NULL},
    {"LEADSYNC_DYNAMICS_PRIVATE_KEY", LS_CONF_STRING, NULL, LS_CONF_AT(dynamics_private_key), LS_CONF_SECRET, 0, 0, NULL,
     "PEM RSA private key of CERTIFICATE (use _FILE)", NULL},
    {"LEADSYNC_DYNAMICS_KEY_FIELD", LS_CONF_STRING, "new_marketplaceleadid", LS_CONF_AT(dynamics_key_field), 0, 0, 0, NULL,
     "lead column with an alternate key holding leadId; upserts key on it", NULL},
    {"LEADSYNC_DYNAMICS_MAPPING", LS_CONF_STRING, NULL, LS_CONF_AT(dynamics_mapping), 0, 0, 0, NULL,
     "JSON file extending the built-in Dynamics field mapping", NULL},
    {"LEADSYNC_DYNAMICS_CA_FILE", LS_CONF_STRING, NULL, LS_CONF_AT(dynamics_ca_file), 0, 0, 0, NULL,
     "CA bundle (PEM) trusted for Dynamics TLS instead of the system's", NULL},
    {"LEADSYNC_DYNAMICS_BATCH", LS_CONF_INT, "100", LS_CONF_AT(dynamics_batch), 0, 1, 1000, NULL,
     "upserts per OData $batch request (1 = one PATCH per lead)", NULL},
};
/* clang-format on */

const struct ls_sink_ops ls_sink_dynamics_ops = {
    .name = "dynamics",
    .conf = conf_entries,
    .nconf = LS_ARRAY_LEN(conf_entries),
    .coalesce = 1,
    .create = dv_create,
    .deliver = dv_deliver,
    .check = dv_check,
    .destroy = dv_destroy,
};
