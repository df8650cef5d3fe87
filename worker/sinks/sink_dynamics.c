/* sink_dynamics.c - the Dynamics 365 / Dataverse Web API sink (see ls_dynamics.h). */
#include "ls_dynamics.h"

#include "ls_crm.h"
#include "ls_log.h"
#include "ls_mapping.h"
#include "ls_sink.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMP "sink:dynamics"

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
    char *token;
    int64_t token_expires_ms;
    size_t batch; /* upserts per $batch; 1 = none */
};

static char *strip_slash(const char *s)
{
    size_t n = strlen(s);

    while (n && s[n - 1] == '/')
        n--;
    return ls_xstrndup(s, n);
}

static void wipe_free(char *s)
{
    if (s)
        OPENSSL_cleanse(s, strlen(s));
    free(s);
}

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
    wipe_free(d->client_secret);
    free(d->cert);
    wipe_free(d->key);
    free(d->key_field);
    free(d->entity_set);
    wipe_free(d->token);
    free(d);
}

static int set(const char *v)
{
    return v && *v;
}

static int dv_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    struct dv *d = ls_xcalloc(1, sizeof(*d));
    char *org = NULL, *auth = NULL;
    int rc = LS_OK;

    *ctx = NULL;
    if (arg && *arg) {
        rc = ls_error(LS_ECONFIG, "LEADSYNC_SINKS: dynamics takes no argument; configure it with "
                                  "LEADSYNC_DYNAMICS_*");
        goto done;
    }
    if (!set(cfg->dynamics_url) || !set(cfg->dynamics_client_id) ||
        (!set(cfg->dynamics_tenant_id) && !set(cfg->dynamics_token_url))) {
        rc = ls_error(LS_ECONFIG, "sink dynamics: set LEADSYNC_DYNAMICS_URL, "
                                  "LEADSYNC_DYNAMICS_TENANT_ID and LEADSYNC_DYNAMICS_CLIENT_ID");
        goto done;
    }
    if (!set(cfg->dynamics_client_secret) &&
        !(set(cfg->dynamics_certificate) && set(cfg->dynamics_private_key))) {
        rc =
            ls_error(LS_ECONFIG, "sink dynamics: set LEADSYNC_DYNAMICS_CLIENT_SECRET, or "
                                 "LEADSYNC_DYNAMICS_CERTIFICATE and LEADSYNC_DYNAMICS_PRIVATE_KEY");
        goto done;
    }
    if (!set(cfg->dynamics_key_field) || strpbrk(cfg->dynamics_key_field, "/?#%'() ")) {
        rc = ls_error(LS_ECONFIG,
                      "sink dynamics: LEADSYNC_DYNAMICS_KEY_FIELD must be a column name");
        goto done;
    }
    org = strip_slash(cfg->dynamics_url);
    auth = strip_slash(set(cfg->dynamics_authority_url) ? cfg->dynamics_authority_url : "");
    d->token_url = set(cfg->dynamics_token_url)
                       ? ls_xstrdup(cfg->dynamics_token_url)
                       : ls_xasprintf("%s/%s/oauth2/v2.0/token", auth, cfg->dynamics_tenant_id);
    d->scope = set(cfg->dynamics_scope) ? ls_xstrdup(cfg->dynamics_scope)
                                        : ls_xasprintf("%s/.default", org);
    d->api_base = set(cfg->dynamics_api_base) ? strip_slash(cfg->dynamics_api_base)
                                              : ls_xasprintf("%s/api/data/v9.2", org);
    d->client_id = ls_xstrdup(cfg->dynamics_client_id);
    if (set(cfg->dynamics_client_secret)) {
        d->client_secret = ls_xstrdup(cfg->dynamics_client_secret);
    } else {
        char jti[37], *probe = NULL;

        d->cert = ls_xstrdup(cfg->dynamics_certificate);
        d->key = ls_xstrdup(cfg->dynamics_private_key);
        ls_crm_uuid(jti);
        rc = ls_dv_assertion(d->client_id, d->token_url, d->cert, d->key, 0, jti, &probe);
        free(probe);
        if (rc) {
            rc = ls_error(LS_ECONFIG,
                          "sink dynamics: LEADSYNC_DYNAMICS_CERTIFICATE / PRIVATE_KEY: %s",
                          ls_error_last());
            goto done;
        }
    }
    d->key_field = ls_xstrdup(cfg->dynamics_key_field);
    d->batch = cfg->dynamics_batch > 0 ? (size_t)cfg->dynamics_batch : 100;
    if (d->batch > LS_DV_BATCH_MAX)
        d->batch = LS_DV_BATCH_MAX;
    rc = ls_mapping_load("dynamics", cfg->dynamics_mapping, &d->map);
    if (rc)
        goto done;
    d->entity_set = ls_xstrdup(*ls_mapping_object(d->map) ? ls_mapping_object(d->map) : "leads");
    if (strpbrk(d->entity_set, "/?#%'() ")) {
        rc = ls_error(LS_ECONFIG, "sink dynamics: the mapping's object must be an entity set name");
        goto done;
    }
    if (ls_mapping_targets(d->map, d->key_field)) {
        rc = ls_error(
            LS_ECONFIG,
            "sink dynamics: the mapping writes %s, the key column; leadsync sets it itself",
            d->key_field);
        goto done;
    }
    rc = ls_crm_http_create("dynamics", cfg->dynamics_ca_file, cfg->http_timeout_seconds, &d->http);
    if (rc)
        goto done;
    *ctx = d;
    d = NULL;
done:
    free(org);
    free(auth);
    dv_free(d);
    return rc;
}

static void dv_destroy(void *ctx)
{
    dv_free(ctx);
}

static void drop_token(struct dv *d)
{
    wipe_free(d->token);
    d->token = NULL;
}

static int fetch_token(struct dv *d, struct ls_sink_result *r)
{
    struct ls_crm_resp resp;
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
                          "Accept: application/json", NULL};
    char *form = NULL, *cid = NULL, *scope = NULL, *cred = NULL, *assertion = NULL;
    json_t *j = NULL;
    const char *tok;
    json_int_t exp;
    int rc;

    memset(&resp, 0, sizeof(resp));
    memset(r, 0, sizeof(*r));
    r->retry_after_ms = -1;
    drop_token(d);
    cid = ls_crm_escape(d->client_id);
    scope = ls_crm_escape(d->scope);
    if (d->client_secret) {
        char *s = ls_crm_escape(d->client_secret);

        cred = ls_xasprintf("client_secret=%s", s);
        wipe_free(s);
    } else {
        char jti[37], *a;

        ls_crm_uuid(jti);
        rc = ls_dv_assertion(d->client_id, d->token_url, d->cert, d->key, ls_now_ms() / 1000, jti,
                             &assertion);
        if (rc) {
            r->outcome = LS_SINK_FATAL;
            snprintf(r->error, sizeof(r->error), "client assertion: %.280s", ls_error_last());
            goto done;
        }
        a = ls_crm_escape(assertion);
        cred = ls_xasprintf("client_assertion_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Aclient-"
                            "assertion-type%%3Ajwt-bearer&client_assertion=%s",
                            a);
        free(a);
    }
    form = ls_xasprintf("grant_type=client_credentials&client_id=%s&scope=%s&%s", cid, scope, cred);
    rc = ls_crm_request(d->http, "POST", d->token_url, hdrs, form, strlen(form), &resp);
    if (rc) {
        r->outcome = LS_SINK_RETRY;
        snprintf(r->error, sizeof(r->error), "token request: %.280s", ls_error_last());
        goto done;
    }
    if (resp.status == 0) {
        r->outcome = resp.tls_config ? LS_SINK_FATAL : LS_SINK_RETRY;
        snprintf(r->error, sizeof(r->error), "token endpoint unreachable: %.200s%s", resp.transport,
                 resp.tls_config ? " (check the URL and LEADSYNC_DYNAMICS_CA_FILE)" : "");
        rc = LS_EUNAVAIL;
        goto done;
    }
    if (resp.status != 200) {
        ls_dv_classify(resp.status, resp.body, resp.len, resp.retry_after_ms, r);
        if (r->outcome != LS_SINK_RETRY) {
            char why[200];

            snprintf(why, sizeof(why), "%.190s", r->error);
            r->outcome = LS_SINK_FATAL;
            r->auth = 1;
            snprintf(r->error, sizeof(r->error), "Microsoft Entra refused the client %s (%.200s)",
                     d->client_secret ? "secret" : "assertion", why);
        }
        rc = LS_EAUTH;
        goto done;
    }
    j = json_loadb(resp.body, resp.len, 0, NULL);
    tok = json_string_value(json_object_get(j, "access_token"));
    exp = json_integer_value(json_object_get(j, "expires_in"));
    if (!tok || !*tok) {
        r->outcome = LS_SINK_RETRY;
        r->status = resp.status;
        snprintf(r->error, sizeof(r->error), "the token answer lacks access_token");
        rc = LS_EPARSE;
        goto done;
    }
    d->token = ls_xstrdup(tok);
    if (exp <= 0)
        exp = 3599;
    d->token_expires_ms = ls_now_ms() + (exp > 120 ? exp - 60 : exp / 2) * 1000;
    LS_DEBUG(COMP, "token obtained, valid %lld s", (long long)exp);
    rc = LS_OK;
done:
    json_decref(j);
    if (form)
        OPENSSL_cleanse(form, strlen(form));
    free(form);
    wipe_free(cred);
    free(cid);
    free(scope);
    free(assertion);
    ls_crm_resp_dispose(&resp);
    return rc;
}

/* One API call (url absolute) with the JSON content type or ctype, and up to
 * two more header lines (either may be NULL); fetches a token when there is
 * none or it is about to expire, and once more after a 401. */
static int dv_call(struct dv *d, const char *method, const char *url, const char *ctype,
                   const char *h1, const char *h2, const char *body, size_t len,
                   struct ls_crm_resp *resp, struct ls_sink_result *fail)
{
    int tries, rc;

    memset(resp, 0, sizeof(*resp));
    for (tries = 0; tries < 2; tries++) {
        char auth[8192];
        const char *hdrs[8] = {auth,
                               "Accept: application/json",
                               ctype ? ctype : "Content-Type: application/json; charset=utf-8",
                               "OData-MaxVersion: 4.0",
                               "OData-Version: 4.0",
                               NULL,
                               NULL,
                               NULL};
        size_t nh = 5;

        if (h1)
            hdrs[nh++] = h1;
        if (h2)
            hdrs[nh++] = h2;
        if ((!d->token || ls_now_ms() >= d->token_expires_ms) && fetch_token(d, fail))
            return -1;
        if (snprintf(auth, sizeof(auth), "Authorization: Bearer %s", d->token) >=
            (int)sizeof(auth)) {
            memset(fail, 0, sizeof(*fail));
            fail->outcome = LS_SINK_FATAL;
            snprintf(fail->error, sizeof(fail->error), "the access token is too long");
            return -1;
        }
        rc = ls_crm_request(d->http, method, url, hdrs, body, body ? len : 0, resp);
        OPENSSL_cleanse(auth, sizeof(auth));
        if (rc) {
            memset(fail, 0, sizeof(*fail));
            fail->outcome = LS_SINK_RETRY;
            fail->retry_after_ms = -1;
            snprintf(fail->error, sizeof(fail->error), "%.300s", ls_error_last());
            return -1;
        }
        if (resp->status != 401 || tries == 1)
            break;
        LS_INFO(COMP, "token refused (expired?): fetching a new one");
        drop_token(d);
        ls_crm_resp_dispose(resp);
    }
    return 0;
}

static void dv_result(const struct ls_crm_resp *resp, struct ls_sink_result *r)
{
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

static void not_sent(struct ls_sink_result *r)
{
    memset(r, 0, sizeof(*r));
    r->retry_after_ms = -1;
    /* Not sent: the engine counts no attempt. */
    r->outcome = LS_SINK_NOT_SENT;
    snprintf(r->error, sizeof(r->error),
             "not sent: the batch stopped after a throttled or fatal answer");
}

static int halts(const struct ls_sink_result *r)
{
    return r->outcome == LS_SINK_FATAL || (r->outcome == LS_SINK_RETRY && r->throttled);
}

/* One PATCH per item, stopping after a throttled or fatal answer. */
static void deliver_each(struct dv *d, const struct ls_sink_item *items, size_t n,
                         struct ls_sink_result *results)
{
    size_t i;
    int halt = 0;

    for (i = 0; i < n; i++) {
        if (halt) {
            not_sent(&results[i]);
            continue;
        }
        memset(&results[i], 0, sizeof(results[i]));
        results[i].retry_after_ms = -1;
        deliver_one(d, &items[i], &results[i]);
        halt = halts(&results[i]);
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

/* Up to d->batch items as one $batch request. */
static void deliver_batch(struct dv *d, const struct ls_sink_item *items, size_t n,
                          struct ls_sink_result *results)
{
    struct ls_crm_resp resp;
    struct ls_sink_result whole;
    struct ls_dv_op *ops = NULL;
    struct ls_dv_part *parts = NULL;
    size_t *idx = NULL, k = 0, np = 0, i, len = 0, nok = 0;
    char **bodies = NULL, **urls = NULL, *batch = NULL, *url = NULL, *ctype = NULL;
    int *dnc = NULL;
    char id[37];

    memset(&resp, 0, sizeof(resp));
    ops = ls_xcalloc(n, sizeof(*ops));
    idx = ls_xcalloc(n, sizeof(*idx));
    dnc = ls_xcalloc(n, sizeof(*dnc));
    bodies = ls_xcalloc(n, sizeof(*bodies));
    urls = ls_xcalloc(n, sizeof(*urls));
    for (i = 0; i < n; i++) {
        json_t *rec = NULL;

        memset(&results[i], 0, sizeof(results[i]));
        results[i].retry_after_ms = -1;
        if (ls_dv_record(d->map, items[i].lead, d->key_field, &rec) != LS_OK ||
            !(bodies[k] = json_dumps(rec, JSON_COMPACT))) {
            json_decref(rec);
            ls_dv_classify(400, "lead does not map to a record", 29, -1, &results[i]);
            continue;
        }
        json_decref(rec);
        urls[k] = ls_dv_key_url(d->api_base, d->entity_set, d->key_field, items[i].lead_id);
        dnc[k] = json_is_true(json_object_get(items[i].lead, "doNotContact"));
        ops[k].url = urls[k];
        ops[k].update_only = dnc[k];
        ops[k].body = bodies[k];
        idx[k++] = i;
    }
    if (k == 0)
        goto done;
    if (k == 1) {
        deliver_one(d, &items[idx[0]], &results[idx[0]]);
        goto done;
    }
    ls_crm_uuid(id);
    if (ls_dv_batch_body(id, ops, k, &batch, &len) != LS_OK) {
        memset(&whole, 0, sizeof(whole));
        whole.outcome = LS_SINK_RETRY;
        whole.retry_after_ms = -1;
        snprintf(whole.error, sizeof(whole.error), "$batch: %.280s", ls_error_last());
        goto all;
    }
    url = ls_xasprintf("%s/$batch", d->api_base);
    ctype = ls_xasprintf("Content-Type: multipart/mixed; boundary=\"batch_%s\"", id);
    if (dv_call(d, "POST", url, ctype, "Prefer: odata.continue-on-error", NULL, batch, len, &resp,
                &whole))
        goto all;
    if (resp.status != 200) {
        dv_result(&resp, &whole);
        if (whole.outcome == LS_SINK_REJECT) {
            /* The batch as a whole was refused (too large, malformed): one
             * request per lead finds the lead at fault, if any. */
            LS_WARN(COMP, "$batch of %zu refused (%s): sending one request per lead", k,
                    whole.error);
            for (i = 0; i < k; i++) {
                size_t j;
                int halt = 0;

                for (j = 0; j < i; j++)
                    halt |= halts(&results[idx[j]]);
                if (halt)
                    not_sent(&results[idx[i]]);
                else
                    deliver_one(d, &items[idx[i]], &results[idx[i]]);
            }
            goto done;
        }
        goto all;
    }
    parts = ls_xcalloc(k, sizeof(*parts));
    if (ls_dv_batch_parse(resp.content_type, strlen(resp.content_type), resp.body, resp.len,
                          ls_now_ms(), parts, k, &np) != LS_OK) {
        memset(&whole, 0, sizeof(whole));
        whole.outcome = LS_SINK_RETRY;
        whole.status = resp.status;
        whole.retry_after_ms = -1;
        snprintf(whole.error, sizeof(whole.error), "%.300s", ls_error_last());
        goto all;
    }
    for (i = 0; i < k; i++) {
        struct ls_sink_result *r = &results[idx[i]];

        if (i < np) {
            part_result(&items[idx[i]], dnc[i], &parts[i], r);
        } else {
            /* Not in the answer: maybe not executed; upserts are safe to repeat. */
            r->outcome = LS_SINK_RETRY;
            r->status = resp.status;
            snprintf(r->error, sizeof(r->error), "$batch answer has no part for this lead");
        }
        nok += r->outcome == LS_SINK_OK;
    }
    LS_DEBUG(COMP, "$batch of %zu: %zu parts answered, %zu delivered", k, np, nok);
    goto done;
all:
    for (i = 0; i < k; i++)
        results[idx[i]] = whole;
done:
    for (i = 0; i < n; i++) {
        free(bodies[i]);
        free(urls[i]);
    }
    free(bodies);
    free(urls);
    free(ops);
    free(idx);
    free(dnc);
    free(parts);
    free(batch);
    free(url);
    free(ctype);
    ls_crm_resp_dispose(&resp);
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
            halt |= halts(&results[i]);
        at += m;
        if (halt)
            break;
    }
    for (; at < n; at++)
        not_sent(&results[at]);
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

const struct ls_sink_ops ls_sink_dynamics_ops = {
    .name = "dynamics",
    .coalesce = 1,
    .create = dv_create,
    .deliver = dv_deliver,
    .check = dv_check,
    .destroy = dv_destroy,
};
