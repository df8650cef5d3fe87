/* sink_salesforce.c - the Salesforce REST sink (see ls_salesforce.h). */
#include "ls_salesforce.h"

#include "ls_crm.h"
#include "ls_log.h"
#include "ls_mapping.h"
#include "ls_oauth.h"
#include "ls_sink.h"
#include "ls_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COMP "sink:salesforce"

/* ------------------------------------------------------------------------ */
/* pure halves                                                               */

int ls_sf_record(const struct ls_mapping *m, const json_t *lead, const char *ext_field,
                 int collection, json_t **out)
{
    json_t *rec = NULL;
    const char *id = json_string_value(json_object_get(lead, "leadId"));
    int rc;

    *out = NULL;
    rc = ls_mapping_apply(m, lead, &rec);
    if (rc)
        return rc;
    json_object_del(rec, "Id");
    json_object_del(rec, ext_field);
    if (collection) {
        if (!id || !*id) {
            json_decref(rec);
            return ls_error(LS_EINVAL, "the lead has no leadId");
        }
        json_object_set_new(rec, "attributes", json_pack("{s:s}", "type", "Lead"));
        json_object_set_new(rec, ext_field, json_string(id));
    }
    *out = rec;
    return LS_OK;
}

/* "CODE: message" of the first error of a Salesforce error array. */
static void first_error(const char *body, size_t len, char *code, size_t codecap, char *msg,
                        size_t msgcap)
{
    json_t *j = json_loadb(body ? body : "", len, 0, NULL);
    json_t *e = json_is_array(j) ? json_array_get(j, 0) : j;
    const char *c = json_string_value(json_object_get(e, "errorCode"));
    const char *m = json_string_value(json_object_get(e, "message"));

    if (!c)
        c = json_string_value(json_object_get(e, "error")); /* OAuth errors */
    if (!m)
        m = json_string_value(json_object_get(e, "error_description"));
    /* the server's text reaches logs, status and the ledger: control characters blanked */
    ls_crm_excerpt(code, codecap, c ? c : "", c ? strlen(c) : 0);
    if (m)
        ls_crm_excerpt(msg, msgcap, m, strlen(m));
    else
        ls_crm_excerpt(msg, msgcap, body ? body : "", len);
    json_decref(j);
}

enum ls_sf_signal ls_sf_classify(int status, const char *body, size_t len, struct ls_sink_result *r)
{
    char code[64], msg[200];

    memset(r, 0, sizeof(*r));
    r->status = status;
    r->retry_after_ms = -1;
    if (status >= 200 && status < 300) {
        r->outcome = LS_SINK_OK;
        return LS_SF_NONE;
    }
    if (status == 0) {
        r->outcome = LS_SINK_RETRY;
        if (body && len) {
            ls_crm_excerpt(msg, sizeof(msg), body, len);
            snprintf(r->error, sizeof(r->error), "no answer: %s", msg);
        } else {
            snprintf(r->error, sizeof(r->error), "no answer: transport error");
        }
        return LS_SF_NONE;
    }
    first_error(body, len, code, sizeof(code), msg, sizeof(msg));
    if (status == 401) {
        r->outcome = LS_SINK_FATAL;
        r->auth = 1;
        snprintf(r->error, sizeof(r->error), "HTTP 401 %s: %s", code[0] ? code : "unauthorized",
                 msg);
        return LS_SF_SESSION;
    }
    if (status == 403 && strcmp(code, "REQUEST_LIMIT_EXCEEDED") == 0) {
        r->outcome = LS_SINK_RETRY;
        r->throttled = 1;
        snprintf(r->error, sizeof(r->error), "HTTP 403 REQUEST_LIMIT_EXCEEDED: %s", msg);
        return LS_SF_LIMIT;
    }
    if (status == 403) {
        r->outcome = LS_SINK_FATAL;
        r->auth = 1;
        snprintf(r->error, sizeof(r->error), "HTTP 403 %s: the integration user lacks access: %s",
                 code, msg);
        return LS_SF_NONE;
    }
    if (status == 408 || status == 429 || status >= 500) {
        r->outcome = LS_SINK_RETRY;
        snprintf(r->error, sizeof(r->error), "HTTP %d %s: %s", status, code, msg);
        return LS_SF_NONE;
    }
    r->outcome = LS_SINK_REJECT;
    snprintf(r->error, sizeof(r->error), "HTTP %d %s: %s", status,
             status == 300 ? "MULTIPLE_CHOICES (external ID matches several leads)" : code, msg);
    return LS_SF_NONE;
}

void ls_sf_classify_record(const json_t *res, struct ls_sink_result *r)
{
    json_t *e = json_array_get(json_object_get(res, "errors"), 0);
    const char *code = json_string_value(json_object_get(e, "statusCode"));
    const char *msg = json_string_value(json_object_get(e, "message"));

    memset(r, 0, sizeof(*r));
    r->status = 200;
    r->retry_after_ms = -1;
    if (json_is_true(json_object_get(res, "success"))) {
        r->outcome = LS_SINK_OK;
        r->status = json_is_true(json_object_get(res, "created")) ? 201 : 200;
        return;
    }
    if (!json_is_object(res)) {
        r->outcome = LS_SINK_RETRY;
        snprintf(r->error, sizeof(r->error), "collection answer lacks this record's result");
        return;
    }
    r->outcome = code && strcmp(code, "UNABLE_TO_LOCK_ROW") == 0 ? LS_SINK_RETRY : LS_SINK_REJECT;
    r->status = 400;
    snprintf(r->error, sizeof(r->error), "%s: %.240s", code ? code : "failed",
             msg ? msg : "(no message)");
    /* the server's text: control characters blanked, in place */
    ls_crm_excerpt(r->error, sizeof(r->error), r->error, strlen(r->error));
}

long ls_sf_limit_pause_ms(long base_s, int streak)
{
    long s = base_s > 0 ? base_s : 1;
    int i;

    for (i = 1; i < streak && s < 86400; i++)
        s *= 2;
    if (s > 86400)
        s = 86400;
    return s * 1000;
}

static int read_int(const char **pp, const char *end, int64_t *out)
{
    const char *p = *pp;
    int64_t v = 0;

    if (p >= end || *p < '0' || *p > '9')
        return 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (*p++ - '0');
    }
    *pp = p;
    *out = v;
    return 1;
}

int ls_sf_limit_info(const char *p, size_t n, int64_t *used, int64_t *limit)
{
    const char *end = p + n, *q = p;

    /* "api-usage=25/5000" or "api-usage=18/5000, per-app-api-usage=17/250(appName=x)" */
    while (q + 10 <= end) {
        if (strncasecmp(q, "api-usage=", 10) == 0 &&
            (q == p || q[-1] == ' ' || q[-1] == ',' || q[-1] == ';')) {
            const char *v = q + 10;

            if (read_int(&v, end, used) && v < end && *v == '/' && (v++, read_int(&v, end, limit)))
                return LS_OK;
            break;
        }
        q++;
    }
    return ls_error(LS_EPARSE, "Sforce-Limit-Info: no api-usage");
}

/* ------------------------------------------------------------------------ */
/* the sink                                                                  */

struct sf {
    struct ls_crm_http *http;
    struct ls_mapping *map;
    int jwt;
    char *token_url, *instance_override, *api_version, *client_id, *client_secret, *username,
        *private_key, *audience, *ext_field;
    long batch;
    long limit_pause_s;
    int limit_streak;
    struct ls_oauth oauth;
    char *instance; /* API host; NULL until the first token */
    char limit_info[128];
    int64_t api_used, api_limit; /* api-usage=used/limit of the last answer */
    int api_known;
};

static void sf_free(struct sf *s)
{
    if (!s)
        return;
    ls_crm_http_free(s->http);
    ls_mapping_free(s->map);
    free(s->token_url);
    free(s->instance_override);
    free(s->api_version);
    free(s->client_id);
    ls_secret_free(s->client_secret);
    free(s->username);
    ls_secret_free(s->private_key);
    free(s->audience);
    free(s->ext_field);
    ls_oauth_dispose(&s->oauth);
    free(s->instance);
    free(s);
}

static int fetch_token(void *ctx, void *arg, struct ls_oauth_token *out);

/* Fails at start, not at the first lead, on a key that cannot sign. */
static int probe_key(const char *key_pem)
{
    json_t *h = json_pack("{s:s}", "alg", "RS256"), *c = json_pack("{s:s}", "iss", "x");
    char *probe = NULL;
    int rc = ls_jwt_rs256(h, c, key_pem, &probe);

    json_decref(h);
    json_decref(c);
    free(probe);
    if (rc)
        return ls_error(LS_ECONFIG, "sink salesforce: LEADSYNC_SALESFORCE_PRIVATE_KEY: %s",
                        ls_error_last());
    return LS_OK;
}

/* The settings the chosen flow needs, before anything is built. */
static int check_config(const char *arg, const struct ls_config *cfg, int jwt)
{
    if (arg && *arg)
        return ls_error(LS_ECONFIG, "LEADSYNC_SINKS: salesforce takes no argument; configure it "
                                    "with LEADSYNC_SALESFORCE_*");
    if (!cfg->salesforce_client_id || !*cfg->salesforce_client_id)
        return ls_error(LS_ECONFIG, "sink salesforce: LEADSYNC_SALESFORCE_CLIENT_ID is not set");
    if (!jwt && (!cfg->salesforce_client_secret || !*cfg->salesforce_client_secret))
        return ls_error(LS_ECONFIG, "sink salesforce: LEADSYNC_SALESFORCE_CLIENT_SECRET is not set "
                                    "(or set LEADSYNC_SALESFORCE_AUTH=jwt)");
    if (jwt && (!cfg->salesforce_username || !*cfg->salesforce_username ||
                !cfg->salesforce_private_key || !*cfg->salesforce_private_key))
        return ls_error(LS_ECONFIG,
                        "sink salesforce: the JWT bearer flow needs "
                        "LEADSYNC_SALESFORCE_USERNAME and LEADSYNC_SALESFORCE_PRIVATE_KEY");
    if (!cfg->salesforce_external_id_field || !*cfg->salesforce_external_id_field ||
        strpbrk(cfg->salesforce_external_id_field, "/?#% "))
        return ls_error(
            LS_ECONFIG,
            "sink salesforce: LEADSYNC_SALESFORCE_EXTERNAL_ID_FIELD must be a field name");
    return LS_OK;
}

/* Copies the settings into s: the endpoints, the credentials, the limits. */
static void take_settings(struct sf *s, const struct ls_config *cfg)
{
    char *login = ls_crm_strip_slash(cfg->salesforce_login_url ? cfg->salesforce_login_url : "");

    s->token_url = cfg->salesforce_token_url && *cfg->salesforce_token_url
                       ? ls_xstrdup(cfg->salesforce_token_url)
                       : ls_xasprintf("%s/services/oauth2/token", login);
    if (cfg->salesforce_instance_url && *cfg->salesforce_instance_url)
        s->instance_override = ls_crm_strip_slash(cfg->salesforce_instance_url);
    s->audience = ls_xstrdup(
        cfg->salesforce_audience && *cfg->salesforce_audience ? cfg->salesforce_audience : login);
    s->api_version =
        ls_xstrdup(cfg->salesforce_api_version ? cfg->salesforce_api_version : "v62.0");
    s->client_id = ls_xstrdup(cfg->salesforce_client_id);
    if (cfg->salesforce_client_secret)
        s->client_secret = ls_xstrdup(cfg->salesforce_client_secret);
    if (cfg->salesforce_username)
        s->username = ls_xstrdup(cfg->salesforce_username);
    if (cfg->salesforce_private_key)
        s->private_key = ls_xstrdup(cfg->salesforce_private_key);
    s->ext_field = ls_xstrdup(cfg->salesforce_external_id_field);
    s->batch = cfg->salesforce_batch > 0 ? cfg->salesforce_batch : 200;
    s->limit_pause_s =
        cfg->salesforce_limit_pause_seconds > 0 ? cfg->salesforce_limit_pause_seconds : 300;
    free(login);
}

static int sf_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    struct sf *s = NULL;
    int jwt = cfg->salesforce_auth && strcmp(cfg->salesforce_auth, "jwt") == 0;
    int rc;

    *ctx = NULL;
    rc = check_config(arg, cfg, jwt);
    if (rc)
        return rc;
    s = ls_xcalloc(1, sizeof(*s));
    s->jwt = jwt;
    take_settings(s, cfg);
    if (s->jwt && (rc = probe_key(s->private_key)) != LS_OK)
        goto done;
    rc = ls_mapping_load("salesforce", cfg->salesforce_mapping, &s->map);
    if (rc)
        goto done;
    if (ls_mapping_targets(s->map, s->ext_field)) {
        rc = ls_error(LS_ECONFIG,
                      "sink salesforce: the mapping writes %s, the external-ID field; leadsync "
                      "sets it itself",
                      s->ext_field);
        goto done;
    }
    rc = ls_crm_http_create("salesforce", cfg->salesforce_ca_file, cfg->http_timeout_seconds,
                            &s->http);
    if (rc)
        goto done;
    ls_crm_http_stop_grace(s->http, cfg->stop_grace_seconds);
    ls_oauth_init(&s->oauth, fetch_token, s, 0);
    *ctx = s;
    s = NULL;
done:
    sf_free(s);
    return rc;
}

static void sf_destroy(void *ctx)
{
    sf_free(ctx);
}

static void note_limits(struct sf *s, const struct ls_crm_resp *resp)
{
    int64_t used, limit;

    if (resp->limit_info[0]) {
        snprintf(s->limit_info, sizeof(s->limit_info), "%s", resp->limit_info);
        LS_DEBUG(COMP, "Sforce-Limit-Info: %s", s->limit_info);
        if (ls_sf_limit_info(resp->limit_info, strlen(resp->limit_info), &used, &limit) == LS_OK) {
            s->api_used = used;
            s->api_limit = limit;
            s->api_known = 1;
        }
    }
}

static int sf_usage(void *ctx, struct ls_sink_usage *out)
{
    struct sf *s = ctx;

    if (!s->api_known)
        return 0;
    out->used = s->api_used;
    out->limit = s->api_limit;
    return 1;
}

/* The token request's form: the JWT bearer grant with a fresh assertion,
 * or client credentials. NULL with *r filled. */
static char *token_form(struct sf *s, struct ls_sink_result *r)
{
    struct ls_oauth_grant g = {
        LS_OAUTH_CLIENT_CREDENTIALS, s->client_id, s->client_secret, NULL, NULL, NULL};
    char *assertion = NULL, *form;

    if (s->jwt) {
        int64_t now = ls_now_ms() / 1000;
        json_t *h = json_pack("{s:s}", "alg", "RS256");
        json_t *c = json_pack("{s:s,s:s,s:s,s:I}", "iss", s->client_id, "sub", s->username, "aud",
                              s->audience, "exp", (json_int_t)(now + 180));
        int rc = ls_jwt_rs256(h, c, s->private_key, &assertion);

        json_decref(h);
        json_decref(c);
        if (rc) {
            r->outcome = LS_SINK_FATAL;
            snprintf(r->error, sizeof(r->error), "JWT assertion: %.280s", ls_error_last());
            return NULL;
        }
        memset(&g, 0, sizeof(g));
        g.type = LS_OAUTH_JWT_BEARER;
        g.assertion = assertion;
    }
    form = ls_oauth_form(&g);
    free(assertion);
    return form;
}

/* Fills *r for a token endpoint that did not hand out a token. */
static void token_refusal(const struct sf *s, const struct ls_crm_resp *resp,
                          struct ls_sink_result *r)
{
    char code[64], msg[200];

    if (resp->status == 0) {
        r->outcome = resp->tls_config ? LS_SINK_FATAL : LS_SINK_RETRY;
        snprintf(r->error, sizeof(r->error), "token endpoint unreachable: %.200s%s",
                 resp->transport,
                 resp->tls_config ? " (check the URL and LEADSYNC_SALESFORCE_CA_FILE)" : "");
        return;
    }
    first_error(resp->body, resp->len, code, sizeof(code), msg, sizeof(msg));
    r->status = resp->status;
    if (resp->status >= 500 || resp->status == 429 || resp->status == 408) {
        r->outcome = LS_SINK_RETRY;
    } else {
        r->outcome = LS_SINK_FATAL;
        r->auth = 1;
    }
    snprintf(r->error, sizeof(r->error),
             "the token endpoint refused the %s (HTTP %d %.60s: %.180s)",
             s->jwt ? "JWT assertion" : "client credentials", resp->status, code, msg);
}

/* Takes the token answer (rc: ls_oauth_post's): the token, and the
 * instance the API calls go to (inst, taken over). */
static int token_answer(struct sf *s, int rc, const struct ls_crm_resp *resp, char *inst,
                        struct ls_oauth_token *out, struct ls_sink_result *r)
{
    if (rc || (!s->instance_override && !inst)) {
        r->outcome = LS_SINK_RETRY;
        r->status = resp->status;
        snprintf(r->error, sizeof(r->error), "the token answer lacks access_token or instance_url");
        rc = LS_EPARSE;
    } else if (!s->instance_override &&
               ls_url_check(inst, "Salesforce token answer: instance_url",
                            LS_URL_HTTP | LS_URL_TLS_ONLY | LS_URL_NO_USERINFO, NULL) != LS_OK) {
        /* the bearer token goes wherever instance_url points: https only
         * (loopback excepted, for tests), no userinfo, like every configured URL */
        r->outcome = LS_SINK_FATAL;
        r->status = resp->status;
        snprintf(r->error, sizeof(r->error), "%s", ls_error_last());
        rc = LS_EPARSE;
    }
    if (rc) {
        ls_secret_free(out->value);
        out->value = NULL;
        free(inst);
        return rc;
    }
    free(s->instance);
    s->instance =
        s->instance_override ? ls_xstrdup(s->instance_override) : ls_crm_strip_slash(inst);
    free(inst);
    LS_DEBUG(COMP, "token obtained (%s)", s->jwt ? "jwt bearer" : "client credentials");
    return LS_OK;
}

/* The ls_oauth fetch: one token from the token endpoint. arg: the
 * struct ls_sink_result filled on failure. */
static int fetch_token(void *ctx, void *arg, struct ls_oauth_token *out)
{
    struct sf *s = ctx;
    struct ls_sink_result *r = arg;
    struct ls_crm_resp resp;
    char *form, *inst = NULL;
    int rc;

    memset(r, 0, sizeof(*r));
    r->retry_after_ms = -1;
    form = token_form(s, r);
    if (!form)
        return LS_EAUTH;
    rc = ls_oauth_post(s->http, s->token_url, form, ls_now_ms(), "instance_url", &inst, &resp, out);
    ls_secret_free(form);
    note_limits(s, &resp);
    if (resp.stopped)
        ls_crm_stopped_result(r);
    else if (resp.status == 200)
        rc = token_answer(s, rc, &resp, inst, out, r);
    else
        token_refusal(s, &resp, r);
    ls_crm_resp_dispose(&resp);
    return rc;
}

/*
 * One API call on path (after /services/data/vNN.N) with the token; fetches
 * a token first when there is none, and once more on INVALID_SESSION_ID.
 * Returns 0 with *resp filled, or nonzero with *fail filled (token trouble).
 */
static int sf_call(struct sf *s, const char *method, const char *path, const char *body,
                   struct ls_crm_resp *resp, struct ls_sink_result *fail)
{
    static const char *const hdrs[] = {"Accept: application/json",
                                       "Content-Type: application/json; charset=UTF-8", NULL};
    struct ls_crm_req req = {method,    NULL, hdrs, body, body ? strlen(body) : 0,
                             &s->oauth, fail, NULL};
    const char *token;
    char *url = NULL;
    int rc;

    memset(fail, 0, sizeof(*fail));
    memset(resp, 0, sizeof(*resp));
    /* The instance comes with the token: fetch one before the URL is made. */
    if (!s->instance && (rc = ls_oauth_get(&s->oauth, fail, &token)) != LS_OK)
        goto done;
    url = ls_xasprintf("%s/services/data/%s%s", s->instance, s->api_version, path);
    req.url = url;
    rc = ls_crm_call(s->http, &req, resp);
    if (rc == LS_OK)
        note_limits(s, resp);
done:
    free(url);
    if (rc)
        ls_crm_call_failed(rc, fail);
    return rc ? -1 : 0;
}

/* Result of a finished response (transport failures included). */
static enum ls_sf_signal sf_result(const struct ls_crm_resp *resp, struct ls_sink_result *r)
{
    enum ls_sf_signal sig;

    if (resp->stopped) {
        ls_crm_stopped_result(r);
        return LS_SF_NONE;
    }
    if (resp->status == 0) {
        sig = ls_sf_classify(0, resp->transport, strlen(resp->transport), r);
        if (resp->tls_config) {
            r->outcome = LS_SINK_FATAL;
            snprintf(r->error, sizeof(r->error),
                     "%.200s (check the URLs and LEADSYNC_SALESFORCE_CA_FILE)", resp->transport);
        }
        return sig;
    }
    return ls_sf_classify(resp->status, resp->body, resp->len, r);
}

static void limit_hit(struct sf *s, struct ls_sink_result *r)
{
    s->limit_streak++;
    r->retry_after_ms = ls_sf_limit_pause_ms(s->limit_pause_s, s->limit_streak);
    LS_WARN(COMP, "API request limit exceeded (%s): pausing %ld s", s->limit_info,
            r->retry_after_ms / 1000);
}

/* One lead: single upsert, or for DNC an update of an existing record only. */
static void deliver_one(struct sf *s, const struct ls_sink_item *it, struct ls_sink_result *r)
{
    struct ls_crm_resp resp;
    json_t *rec = NULL, *found = NULL;
    char *body = NULL, *idq = NULL, *path = NULL;
    const char *lead_id = it->lead_id;
    int dnc = json_is_true(json_object_get(it->lead, "doNotContact"));

    memset(&resp, 0, sizeof(resp));
    if (ls_sf_record(s->map, it->lead, s->ext_field, 0, &rec) != LS_OK ||
        !(body = json_dumps(rec, JSON_COMPACT))) {
        ls_sf_classify(400, "lead does not map to a record", 29, r);
        goto done;
    }
    idq = ls_crm_escape(lead_id);
    if (dnc) {
        const char *sfid;

        path = ls_xasprintf("/sobjects/Lead/%s/%s?fields=Id", s->ext_field, idq);
        if (sf_call(s, "GET", path, NULL, &resp, r))
            goto done;
        if (resp.status == 404) {
            memset(r, 0, sizeof(*r));
            r->outcome = LS_SINK_OK;
            r->status = 404;
            r->retry_after_ms = -1;
            LS_DEBUG(COMP, "DNC lead %s: no record, none created", lead_id);
            goto done;
        }
        if (resp.status != 200) {
            if (sf_result(&resp, r) == LS_SF_LIMIT)
                limit_hit(s, r);
            goto done;
        }
        found = json_loadb(resp.body, resp.len, 0, NULL);
        sfid = json_string_value(json_object_get(found, "Id"));
        if (!sfid || !*sfid || strpbrk(sfid, "/?#% ")) {
            ls_sf_classify(502, "lookup answer lacks the record Id", 33, r);
            goto done;
        }
        free(path);
        path = ls_xasprintf("/sobjects/Lead/%s", sfid);
        ls_crm_resp_dispose(&resp);
    } else {
        path = ls_xasprintf("/sobjects/Lead/%s/%s", s->ext_field, idq);
    }
    if (sf_call(s, "PATCH", path, body, &resp, r))
        goto done;
    if (sf_result(&resp, r) == LS_SF_LIMIT)
        limit_hit(s, r);
done:
    json_decref(found);
    json_decref(rec);
    free(body);
    free(idq);
    free(path);
    ls_crm_resp_dispose(&resp);
}

/* Up to s->batch non-DNC leads in one Collections upsert. Returns 1 when the
 * whole call failed in a way single requests may fix (400). */
static int deliver_collection(struct sf *s, const struct ls_sink_item *items, const size_t *idx,
                              size_t k, struct ls_sink_result *results)
{
    struct ls_crm_resp resp;
    json_t *recs = json_array(), *doc = NULL, *ans = NULL;
    char *body = NULL, *path = NULL;
    struct ls_sink_result whole;
    size_t i;
    int fallback = 0;

    memset(&resp, 0, sizeof(resp));
    for (i = 0; i < k; i++) {
        json_t *rec = NULL;

        if (ls_sf_record(s->map, items[idx[i]].lead, s->ext_field, 1, &rec) != LS_OK) {
            json_decref(recs);
            return 1;
        }
        json_array_append_new(recs, rec);
    }
    doc = json_pack("{s:b,s:o}", "allOrNone", 0, "records", recs);
    body = json_dumps(doc, JSON_COMPACT);
    path = ls_xasprintf("/composite/sobjects/Lead/%s", s->ext_field);
    if (!body || sf_call(s, "PATCH", path, body, &resp, &whole)) {
        if (!body)
            ls_sf_classify(400, "records do not serialize", 24, &whole);
        for (i = 0; i < k; i++)
            results[idx[i]] = whole;
        goto done;
    }
    if (resp.status != 200) {
        enum ls_sf_signal sig = sf_result(&resp, &whole);

        if (sig == LS_SF_LIMIT)
            limit_hit(s, &whole);
        if (whole.outcome == LS_SINK_REJECT && resp.status == 400) {
            fallback = 1;
            goto done;
        }
        for (i = 0; i < k; i++)
            results[idx[i]] = whole;
        goto done;
    }
    ans = json_loadb(resp.body, resp.len, 0, NULL);
    for (i = 0; i < k; i++) {
        ls_sf_classify_record(json_array_get(ans, i), &results[idx[i]]);
        if (results[idx[i]].outcome != LS_SINK_OK)
            LS_DEBUG(COMP, "lead %s: %s", items[idx[i]].lead_id, results[idx[i]].error);
    }
done:
    json_decref(ans);
    json_decref(doc);
    free(body);
    free(path);
    ls_crm_resp_dispose(&resp);
    return fallback;
}

static int is_dnc(const struct ls_sink_item *it)
{
    return json_is_true(json_object_get(it->lead, "doNotContact"));
}

static int sf_deliver(void *ctx, const struct ls_sink_item *items, size_t n,
                      struct ls_sink_result *results)
{
    struct sf *s = ctx;
    size_t *idx = ls_xcalloc(n ? n : 1, sizeof(*idx));
    size_t i, k;
    int halt = 0;

    /* The limit pause grows from the pauses in a row the ledger keeps, so
     * CronJob-style runs, each a new process, grow it too. */
    if (n && items[0].pause_streak > s->limit_streak)
        s->limit_streak = items[0].pause_streak;
    for (i = 0; i < n; i++)
        ls_sink_not_sent(&results[i], LS_SINK_HALTED); /* until tried */
    /* Runs of non-DNC leads go through Collections; DNC leads (and
     * everything when the batch size is 1) one by one. */
    i = 0;
    while (i < n && !halt) {
        size_t j;

        if (s->batch == 1 || is_dnc(&items[i])) {
            deliver_one(s, &items[i], &results[i]);
            halt = ls_sink_halts(&results[i]);
            i++;
            continue;
        }
        k = 0;
        while (i < n && k < (size_t)s->batch && !is_dnc(&items[i]))
            idx[k++] = i++;
        if (k > 1 && deliver_collection(s, items, idx, k, results) == 0) {
            for (j = 0; j < k; j++)
                halt |= ls_sink_halts(&results[idx[j]]);
            continue;
        }
        if (k > 1)
            LS_DEBUG(COMP, "collection refused as a whole: sending %zu leads one by one", k);
        for (j = 0; j < k && !halt; j++) {
            deliver_one(s, &items[idx[j]], &results[idx[j]]);
            halt = ls_sink_halts(&results[idx[j]]);
        }
    }
    for (i = 0; i < n; i++)
        if (results[i].outcome == LS_SINK_OK)
            s->limit_streak = 0;
    free(idx);
    return LS_OK;
}

static int sf_check(void *ctx, char *msg, size_t msglen)
{
    struct sf *s = ctx;
    struct ls_crm_resp resp;
    struct ls_sink_result r;
    json_t *d = NULL, *f;
    size_t i;
    int found = 0, rc = LS_OK;

    memset(&resp, 0, sizeof(resp));
    if (sf_call(s, "GET", "/sobjects/Lead/describe", NULL, &resp, &r)) {
        snprintf(msg, msglen, "%s", r.error);
        rc = r.outcome == LS_SINK_FATAL ? (r.auth ? LS_EAUTH : LS_ECONFIG) : LS_EUNAVAIL;
        goto done;
    }
    if (resp.status != 200) {
        sf_result(&resp, &r);
        snprintf(msg, msglen, "describe Lead: %s", r.error);
        rc = r.outcome == LS_SINK_FATAL ? (r.auth ? LS_EAUTH : LS_ECONFIG) : LS_EUNAVAIL;
        goto done;
    }
    d = json_loadb(resp.body, resp.len, 0, NULL);
    json_array_foreach(json_object_get(d, "fields"), i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));

        if (name && strcmp(name, s->ext_field) == 0)
            found = json_is_true(json_object_get(f, "externalId")) ? 2 : 1;
    }
    if (found != 2) {
        snprintf(msg, msglen,
                 "Lead has %s %s: create it (External ID, Unique) or set "
                 "LEADSYNC_SALESFORCE_EXTERNAL_ID_FIELD",
                 found ? "no External ID flag on" : "no field", s->ext_field);
        rc = LS_ECONFIG;
        goto done;
    }
    snprintf(msg, msglen, "token ok, Lead describes with external ID %s%s%s", s->ext_field,
             s->limit_info[0] ? ", " : "", s->limit_info);
done:
    json_decref(d);
    ls_crm_resp_dispose(&resp);
    return rc;
}

/* The salesforce sink's configuration keys (ls_config.h). */
/* clang-format off */
static const struct ls_conf_entry conf_entries[] = {
    {"LEADSYNC_SALESFORCE_AUTH", LS_CONF_ENUM, "client_credentials", LS_CONF_AT(salesforce_auth), 0, 0, 0, "client_credentials|jwt",
     "Salesforce OAuth flow: client credentials (client id + secret) or JWT bearer (client id + username + private key)", NULL},
    {"LEADSYNC_SALESFORCE_LOGIN_URL", LS_CONF_STRING, "https://login.salesforce.com", LS_CONF_AT(salesforce_login_url), LS_CONF_URL, 0, 0, NULL,
     "Salesforce login URL (My Domain, login. or test.salesforce.com)", NULL},
    {"LEADSYNC_SALESFORCE_TOKEN_URL", LS_CONF_STRING, NULL, LS_CONF_AT(salesforce_token_url), LS_CONF_URL, 0, 0, NULL,
     "Salesforce token endpoint (default: LOGIN_URL/services/oauth2/token)", NULL},
    {"LEADSYNC_SALESFORCE_INSTANCE_URL", LS_CONF_STRING, NULL, LS_CONF_AT(salesforce_instance_url), LS_CONF_URL, 0, 0, NULL,
     "Salesforce API host (default: the token response's instance_url)", NULL},
    {"LEADSYNC_SALESFORCE_API_VERSION", LS_CONF_STRING, "v62.0", LS_CONF_AT(salesforce_api_version), 0, 0, 0, NULL,
     "Salesforce REST API version (v46.0 or later)", NULL},
    {"LEADSYNC_SALESFORCE_CLIENT_ID", LS_CONF_STRING, NULL, LS_CONF_AT(salesforce_client_id), 0, 0, 0, NULL,
     "Salesforce connected app consumer key", NULL},
    {"LEADSYNC_SALESFORCE_CLIENT_SECRET", LS_CONF_STRING, NULL, LS_CONF_AT(salesforce_client_secret), LS_CONF_SECRET, 0, 0, NULL,
     "Salesforce consumer secret (client_credentials)", NULL},
    {"LEADSYNC_SALESFORCE_USERNAME", LS_CONF_STRING, NULL, LS_CONF_AT(salesforce_username), 0, 0, 0, NULL,
     "Salesforce user the JWT bearer flow acts as (jwt)", NULL},
    {"LEADSYNC_SALESFORCE_PRIVATE_KEY", LS_CONF_STRING, NULL, LS_CONF_AT(salesforce_private_key), LS_CONF_SECRET, 0, 0, NULL,
     "PEM RSA private key signing the JWT assertion (jwt; use _FILE)", NULL},
    {"LEADSYNC_SALESFORCE_AUDIENCE", LS_CONF_STRING, NULL, LS_CONF_AT(salesforce_audience), 0, 0, 0, NULL,
     "JWT aud claim (default: LOGIN_URL)", NULL},
    {"LEADSYNC_SALESFORCE_EXTERNAL_ID_FIELD", LS_CONF_STRING, "Marketplace_Lead_Id__c", LS_CONF_AT(salesforce_external_id_field), 0, 0, 0, NULL,
     "Lead field (External ID, Unique) holding leadId; upserts key on it", NULL},
    {"LEADSYNC_SALESFORCE_MAPPING", LS_CONF_STRING, NULL, LS_CONF_AT(salesforce_mapping), 0, 0, 0, NULL,
     "JSON file extending the built-in Salesforce field mapping", NULL},
    {"LEADSYNC_SALESFORCE_CA_FILE", LS_CONF_STRING, NULL, LS_CONF_AT(salesforce_ca_file), 0, 0, 0, NULL,
     "CA bundle (PEM) trusted for Salesforce TLS instead of the system's", NULL},
    {"LEADSYNC_SALESFORCE_BATCH", LS_CONF_INT, "200", LS_CONF_AT(salesforce_batch), 0, 1, 200, NULL,
     "records per sObject Collections upsert (1 = single PATCH per lead)", NULL},
    {"LEADSYNC_SALESFORCE_LIMIT_PAUSE_SECONDS", LS_CONF_INT, "300", LS_CONF_AT(salesforce_limit_pause_seconds), 0, 1, 86400, NULL,
     "first pause after REQUEST_LIMIT_EXCEEDED (doubles while it repeats, up to a day)", NULL},
};
/* clang-format on */

const struct ls_sink_ops ls_sink_salesforce_ops = {
    .name = "salesforce",
    .conf = conf_entries,
    .nconf = LS_ARRAY_LEN(conf_entries),
    .coalesce = 1,
    .create = sf_create,
    .deliver = sf_deliver,
    .check = sf_check,
    .destroy = sf_destroy,
    .usage = sf_usage,
};
