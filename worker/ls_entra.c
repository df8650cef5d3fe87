/* ls_entra.c - the Entra ID credential chain; its tokens are cached by an
 * ls_oauth and fetched over one ls_crm_call handle. */
#include "ls_entra.h"

#include "ls_crm.h"
#include "ls_log.h"
#include "ls_oauth.h"
#include "ls_url.h"

#include "azt.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORAGE_SCOPE    "https://storage.azure.com/.default"
#define STORAGE_RESOURCE "https://storage.azure.com"
#define MAX_BODY         (256 * 1024) /* a token answer, or the federated token file */
#define IMDS_HOST        "169.254.169.254"

struct ls_entra {
    struct ls_entra_opts o;
    enum ls_entra_kind kind;
    char *tenant, *client_id, *secret, *token_file, *authority;
    char *endpoint, *header; /* managed identity */
    struct ls_crm_http *http;
    struct ls_oauth oauth;
};

static const char *real_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

static time_t real_now(void *ctx)
{
    (void)ctx;
    return time(NULL);
}

static char *env_dup(const struct ls_entra *e, const char *name)
{
    const char *v = e->o.getenv(e->o.ctx, name);

    return v && *v ? ls_xstrdup(v) : NULL;
}

const char *ls_entra_kind_name(enum ls_entra_kind k)
{
    switch (k) {
    case LS_ENTRA_CLIENT_SECRET:
        return "client secret";
    case LS_ENTRA_WORKLOAD_IDENTITY:
        return "workload identity";
    case LS_ENTRA_APP_SERVICE_MI:
        return "managed identity (IDENTITY_ENDPOINT)";
    case LS_ENTRA_IMDS_MI:
    default:
        return "managed identity (IMDS)";
    }
}

/* A host URL from the environment, or def when unset, without trailing
 * slashes; NULL when neither is set. */
static char *env_base(const struct ls_entra *e, const char *name, const char *def)
{
    const char *v = e->o.getenv(e->o.ctx, name);

    if (!v || !*v)
        v = def;
    return v ? ls_crm_strip_slash(v) : NULL;
}

/* The credential, in DefaultAzureCredential's order (ls_entra.h). */
static void pick_credential(struct ls_entra *e)
{
    e->tenant = env_dup(e, "AZURE_TENANT_ID");
    e->client_id = env_dup(e, "AZURE_CLIENT_ID");
    e->secret = env_dup(e, "AZURE_CLIENT_SECRET");
    e->token_file = env_dup(e, "AZURE_FEDERATED_TOKEN_FILE");
    e->authority = env_base(e, "AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com");
    if (e->tenant && e->client_id && e->secret) {
        e->kind = LS_ENTRA_CLIENT_SECRET;
    } else if (e->tenant && e->client_id && e->token_file) {
        e->kind = LS_ENTRA_WORKLOAD_IDENTITY;
    } else {
        e->endpoint = env_dup(e, "IDENTITY_ENDPOINT");
        e->header = env_dup(e, "IDENTITY_HEADER");
        if (e->endpoint && e->header) {
            e->kind = LS_ENTRA_APP_SERVICE_MI;
        } else {
            free(e->endpoint);
            e->kind = LS_ENTRA_IMDS_MI;
            e->endpoint = env_base(e, "AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://" IMDS_HOST);
        }
    }
}

static int64_t clock_ms(void *ctx)
{
    const struct ls_entra *e = ctx;

    return (int64_t)e->o.now(e->o.ctx) * 1000;
}

static int fetch(void *ctx, void *arg, struct ls_oauth_token *out);

/* The token cache and the HTTP handle its requests go out on. */
static int open_http(struct ls_entra *e)
{
    int rc = ls_crm_http_create("entra", NULL, 0, &e->http);

    if (rc)
        return rc;
    /* the metadata endpoints are http:// (their URLs are checked above or
     * are the link-local IMDS address, reached without a proxy) */
    ls_crm_http_allow_http(e->http, IMDS_HOST);
    ls_crm_http_timeouts(e->http, e->o.timeout_ms, 5000);
    ls_crm_http_body_cap(e->http, MAX_BODY);
    ls_oauth_init(&e->oauth, fetch, e, (int64_t)e->o.refresh_early_sec * 1000);
    e->oauth.now_ms = clock_ms;
    e->oauth.clock_ctx = e;
    return LS_OK;
}

int ls_entra_create(const struct ls_entra_opts *opts, struct ls_entra **out)
{
    struct ls_entra *e = ls_xcalloc(1, sizeof(*e));
    int rc = LS_OK;

    *out = NULL;
    if (opts)
        e->o = *opts;
    if (!e->o.getenv)
        e->o.getenv = real_getenv;
    if (!e->o.now)
        e->o.now = real_now;
    if (e->o.timeout_ms <= 0)
        e->o.timeout_ms = 10000;
    if (e->o.refresh_early_sec <= 0)
        e->o.refresh_early_sec = 300;
    pick_credential(e);
    /* A client secret, a federated token or an App Service identity header
     * goes only over TLS, or to this machine. */
    if (e->kind != LS_ENTRA_IMDS_MI) {
        const char *url = e->kind == LS_ENTRA_APP_SERVICE_MI ? e->endpoint : e->authority;
        const char *what =
            e->kind == LS_ENTRA_APP_SERVICE_MI ? "IDENTITY_ENDPOINT" : "AZURE_AUTHORITY_HOST";

        rc = ls_url_check(url, what, LS_URL_HTTP | LS_URL_TLS_ONLY | LS_URL_NO_USERINFO, NULL);
    }
    if (rc == LS_OK)
        rc = open_http(e);
    if (rc) {
        ls_entra_free(e);
        return rc;
    }
    *out = e;
    return LS_OK;
}

void ls_entra_free(struct ls_entra *e)
{
    if (!e)
        return;
    free(e->tenant);
    free(e->client_id);
    ls_secret_free(e->secret);
    free(e->token_file);
    free(e->authority);
    free(e->endpoint);
    ls_secret_free(e->header);
    ls_oauth_dispose(&e->oauth);
    ls_crm_http_free(e->http);
    free(e);
}

enum ls_entra_kind ls_entra_kind_of(const struct ls_entra *e)
{
    return e->kind;
}

int ls_entra_parse_token(const char *body, size_t len, time_t now, char **token, time_t *expires_at)
{
    struct ls_oauth_token t;
    int rc = ls_oauth_parse(body, len, (int64_t)now * 1000, &t, NULL, NULL);

    *token = NULL;
    *expires_at = 0;
    if (rc)
        return rc;
    if (!t.expires_ms) {
        ls_secret_free(t.value);
        return ls_error(LS_EPARSE, "the token answer has no usable expires_in or expires_on");
    }
    *token = t.value;
    *expires_at = (time_t)(t.expires_ms / 1000);
    return LS_OK;
}

/* Reads the federated token file (whole, trailing whitespace stripped). */
static int read_assertion(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    char *p;
    size_t len;

    *out = NULL;
    if (!f)
        return ls_error(LS_EAUTH, "AZURE_FEDERATED_TOKEN_FILE: cannot read %s: %s", path,
                        strerror(errno));
    p = ls_xmalloc(MAX_BODY + 1);
    len = fread(p, 1, MAX_BODY + 1, f);
    fclose(f);
    if (len > MAX_BODY)
        len = 0; /* too large: refused below */
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == ' '))
        len--;
    if (len == 0) {
        OPENSSL_cleanse(p, MAX_BODY + 1);
        free(p);
        return ls_error(LS_EAUTH, "AZURE_FEDERATED_TOKEN_FILE %s is empty or too large", path);
    }
    p[len] = '\0';
    *out = p;
    return LS_OK;
}

/* What one token request sends; every part freed (secrets wiped) by req_free. */
struct req {
    struct ls_crm_req http;
    char *url, *form, *assertion, *hline;
    const char *hdrs[3];
};

static void req_free(struct req *q)
{
    free(q->url);
    ls_secret_free(q->form);
    ls_secret_free(q->assertion);
    ls_secret_free(q->hline);
}

/* The client credentials grant for the storage scope, with the secret or
 * the federated token as the client assertion. */
static int req_grant(struct ls_entra *e, struct req *q)
{
    struct ls_oauth_grant g = {
        LS_OAUTH_CLIENT_CREDENTIALS, e->client_id, NULL, NULL, NULL, STORAGE_SCOPE};

    if (e->kind == LS_ENTRA_CLIENT_SECRET) {
        g.client_secret = e->secret;
    } else {
        int rc = read_assertion(e->token_file, &q->assertion);

        if (rc)
            return rc;
        g.client_assertion = q->assertion;
    }
    q->url = ls_xasprintf("%s/%s/oauth2/v2.0/token", e->authority, e->tenant);
    q->form = ls_oauth_form(&g);
    q->hdrs[0] = "Content-Type: application/x-www-form-urlencoded";
    q->http.method = "POST";
    q->http.body = q->form;
    q->http.len = strlen(q->form);
    return LS_OK;
}

/* The request for the configured credential. */
static int req_build(struct ls_entra *e, struct req *q)
{
    const char *cid = e->client_id ? "&client_id=" : "";
    const char *cval = e->client_id ? e->client_id : "";
    int rc = LS_OK;

    memset(q, 0, sizeof(*q));
    q->http.method = "GET";
    switch (e->kind) {
    case LS_ENTRA_CLIENT_SECRET:
    case LS_ENTRA_WORKLOAD_IDENTITY:
        rc = req_grant(e, q);
        break;
    case LS_ENTRA_APP_SERVICE_MI:
        q->url = ls_xasprintf("%s?api-version=2019-08-01&resource=%s%s%s", e->endpoint,
                              STORAGE_RESOURCE, cid, cval);
        q->hline = ls_xasprintf("X-IDENTITY-HEADER: %s", e->header);
        q->hdrs[0] = q->hline;
        break;
    case LS_ENTRA_IMDS_MI:
    default:
        q->url = ls_xasprintf("%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s"
                              "%s%s",
                              e->endpoint, STORAGE_RESOURCE, cid, cval);
        q->hdrs[0] = "Metadata: true";
        break;
    }
    q->hdrs[1] = "Accept: application/json";
    q->http.url = q->url;
    q->http.headers = q->hdrs;
    return rc;
}

/* The token answer, or why there is none (LS_EUNAVAIL: try again later,
 * LS_EAUTH: the credential was refused). */
static int answer(struct ls_entra *e, const struct ls_crm_resp *resp, struct ls_oauth_token *out)
{
    const char *kind = ls_entra_kind_name(e->kind);
    time_t exp = 0;

    if (resp->status == 0)
        return ls_error(LS_EUNAVAIL, "entra %s: token request failed: %s", kind, resp->transport);
    if (resp->truncated)
        return ls_error(LS_EUNAVAIL, "entra %s: token request failed: the answer is over %d KiB",
                        kind, MAX_BODY / 1024);
    if (resp->status != 200)
        return ls_error(resp->status == 400 || resp->status == 401 || resp->status == 403
                            ? LS_EAUTH
                            : LS_EUNAVAIL,
                        "entra %s: the token endpoint answered HTTP %d", kind, resp->status);
    if (ls_entra_parse_token(resp->body, resp->len, e->o.now(e->o.ctx), &out->value, &exp))
        return ls_error(LS_EAUTH, "entra %s: %s", kind, ls_error_last());
    out->expires_ms = (int64_t)exp * 1000;
    LS_DEBUG("entra", "new token from %s, valid for %llds", kind,
             (long long)(exp - e->o.now(e->o.ctx)));
    return LS_OK;
}

/* The ls_oauth fetch: one token request for the configured credential. */
static int fetch(void *ctx, void *arg, struct ls_oauth_token *out)
{
    struct ls_entra *e = ctx;
    struct ls_crm_resp resp;
    struct req q;
    int rc;

    (void)arg;
    memset(&resp, 0, sizeof(resp));
    rc = req_build(e, &q);
    if (rc == LS_OK)
        rc = ls_crm_call(e->http, &q.http, &resp);
    if (rc == LS_OK)
        rc = answer(e, &resp, out);
    if (rc)
        LS_WARN("entra", "%s", ls_error_last());
    ls_crm_resp_dispose(&resp);
    req_free(&q);
    return rc;
}

int ls_entra_get_token(void *ctx, int force_refresh, char **token, time_t *expires_at)
{
    struct ls_entra *e = ctx;
    const char *t = NULL;
    int rc;

    *token = NULL;
    *expires_at = 0;
    /* refused by the table: drop it; a token that has not expired yet is
     * otherwise kept when a refresh ahead of expiry fails (ls_oauth) */
    if (force_refresh)
        ls_oauth_invalidate(&e->oauth);
    rc = ls_oauth_get(&e->oauth, NULL, &t);
    if (rc)
        return rc == LS_EAUTH ? AZT_EAUTH : AZT_ENET;
    *token = ls_xstrdup(t);
    *expires_at = (time_t)(e->oauth.expires_ms / 1000);
    return LS_OK;
}

static struct ls_entra *process_entra;

static void free_process_entra(void)
{
    ls_entra_free(process_entra);
    process_entra = NULL;
}

int ls_entra_process_source(long timeout_ms, struct azt_token_source *out)
{
    struct ls_entra_opts o;
    int rc;

    if (!process_entra) {
        memset(&o, 0, sizeof(o));
        o.timeout_ms = timeout_ms;
        rc = ls_entra_create(&o, &process_entra);
        if (rc)
            return rc;
        atexit(free_process_entra);
        LS_INFO("entra", "table access with Microsoft Entra ID: %s",
                ls_entra_kind_name(process_entra->kind));
    }
    out->get_token = ls_entra_get_token;
    out->ctx = process_entra;
    return LS_OK;
}
