/* ls_entra.c - the Entra ID credential chain and token cache. */
#include "ls_entra.h"

#include "ls_url.h"

#include "azt.h"

#include "ls_log.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STORAGE_SCOPE    "https://storage.azure.com/.default"
#define STORAGE_RESOURCE "https://storage.azure.com"
#define MAX_BODY         (256 * 1024)

struct ls_entra {
    struct ls_entra_opts o;
    enum ls_entra_kind kind;
    char *tenant, *client_id, *secret, *token_file, *authority;
    char *endpoint, *header; /* managed identity */
    char *token;
    time_t expires_at;
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

static char *strip_slash(char *s)
{
    size_t n = strlen(s);

    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
    return s;
}

int ls_entra_create(const struct ls_entra_opts *opts, struct ls_entra **out)
{
    struct ls_entra *e = ls_xcalloc(1, sizeof(*e));

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
    e->tenant = env_dup(e, "AZURE_TENANT_ID");
    e->client_id = env_dup(e, "AZURE_CLIENT_ID");
    e->secret = env_dup(e, "AZURE_CLIENT_SECRET");
    e->token_file = env_dup(e, "AZURE_FEDERATED_TOKEN_FILE");
    e->authority = env_dup(e, "AZURE_AUTHORITY_HOST");
    if (!e->authority)
        e->authority = ls_xstrdup("https://login.microsoftonline.com");
    strip_slash(e->authority);
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
            e->endpoint = env_dup(e, "AZURE_POD_IDENTITY_AUTHORITY_HOST");
            if (!e->endpoint)
                e->endpoint = ls_xstrdup("http://169.254.169.254");
            strip_slash(e->endpoint);
        }
    }
    /* A client secret, a federated token or an App Service identity header
     * goes only over TLS, or to this machine. */
    if (e->kind != LS_ENTRA_IMDS_MI) {
        const char *url = e->kind == LS_ENTRA_APP_SERVICE_MI ? e->endpoint : e->authority;
        const char *what =
            e->kind == LS_ENTRA_APP_SERVICE_MI ? "IDENTITY_ENDPOINT" : "AZURE_AUTHORITY_HOST";
        int rc = ls_url_check(url, what, LS_URL_HTTP | LS_URL_TLS_ONLY | LS_URL_NO_USERINFO, NULL);

        if (rc) {
            ls_entra_free(e);
            return rc;
        }
    }
    *out = e;
    return LS_OK;
}

static void free_secret(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void ls_entra_free(struct ls_entra *e)
{
    if (!e)
        return;
    free(e->tenant);
    free(e->client_id);
    free_secret(e->secret);
    free(e->token_file);
    free(e->authority);
    free(e->endpoint);
    free_secret(e->header);
    free_secret(e->token);
    free(e);
}

enum ls_entra_kind ls_entra_kind_of(const struct ls_entra *e)
{
    return e->kind;
}

/* An integer given as a JSON number or as a decimal string; -1 otherwise. */
static long long json_number_text(const json_t *v)
{
    const char *s;
    char *end = NULL;
    long long n;

    if (json_is_integer(v))
        return json_integer_value(v);
    if (!json_is_string(v))
        return -1;
    s = json_string_value(v);
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno || end == s || *end)
        return -1;
    return n;
}

int ls_entra_parse_token(const char *body, size_t len, time_t now, char **token, time_t *expires_at)
{
    json_error_t jerr;
    json_t *root = NULL, *tok, *v;
    long long exp = 0;
    int rc = LS_OK;

    *token = NULL;
    *expires_at = 0;
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        rc = ls_error(LS_EPARSE, "token response is not a JSON object");
        goto done;
    }
    tok = json_object_get(root, "access_token");
    if (!json_is_string(tok) || json_string_length(tok) == 0) {
        rc = ls_error(LS_EPARSE, "token response has no access_token");
        goto done;
    }
    if (!ls_token_text_ok(json_string_value(tok), json_string_length(tok))) {
        rc = ls_error(LS_EPARSE, "token response's access_token holds a blank, control or "
                                 "non-ASCII character");
        goto done;
    }
    /* expires_in is relative, so it does not depend on the two clocks
     * agreeing; expires_on (absolute, IMDS and App Service) is the fallback. */
    if ((v = json_object_get(root, "expires_in")) != NULL) {
        long long in = json_number_text(v);

        if (in > 0 && in < 10LL * 365 * 86400)
            exp = (long long)now + in;
    }
    if (exp <= 0 && (v = json_object_get(root, "expires_on")) != NULL)
        exp = json_number_text(v);
    if (exp <= (long long)now) {
        rc = ls_error(LS_EPARSE, "token response has no usable expires_in or expires_on");
        goto done;
    }
    *token = ls_xstrdup(json_string_value(tok));
    *expires_at = (time_t)exp;
done:
    json_decref(root);
    return rc;
}

struct body {
    char *p;
    size_t len;
    int too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct body *b = ud;
    size_t n = size * nmemb;

    if (b->len + n > MAX_BODY) {
        b->too_big = 1;
        return 0;
    }
    b->p = ls_xrealloc(b->p, b->len + n + 1);
    memcpy(b->p + b->len, ptr, n);
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

/* Reads the federated token file (whole, trailing whitespace stripped). */
static int read_assertion(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    struct body b = {0};
    char chunk[4096];
    size_t n;

    *out = NULL;
    if (!f)
        return ls_error(LS_EAUTH, "AZURE_FEDERATED_TOKEN_FILE: cannot read %s: %s", path,
                        strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (on_data(chunk, 1, n, &b) != n)
            break;
    fclose(f);
    while (b.len > 0 && (b.p[b.len - 1] == '\n' || b.p[b.len - 1] == '\r' || b.p[b.len - 1] == ' '))
        b.p[--b.len] = '\0';
    if (b.too_big || b.len == 0) {
        free_secret(b.p);
        return ls_error(LS_EAUTH, "AZURE_FEDERATED_TOKEN_FILE %s is empty or too large", path);
    }
    *out = b.p;
    return LS_OK;
}

static void form_add(CURL *h, char **form, const char *name, const char *value)
{
    char *esc = curl_easy_escape(h, value, 0);
    char *next =
        ls_xasprintf("%s%s%s=%s", *form ? *form : "", *form ? "&" : "", name, esc ? esc : "");

    if (esc) {
        OPENSSL_cleanse(esc, strlen(esc));
        curl_free(esc);
    }
    free_secret(*form);
    *form = next;
}

/* What one token request sends; every part freed (secrets wiped) by req_free. */
struct req {
    char *url, *form, *assertion, *hline;
    struct curl_slist *hdr;
};

static void req_free(struct req *q)
{
    curl_slist_free_all(q->hdr);
    free(q->url);
    free_secret(q->form);
    free_secret(q->assertion);
    free_secret(q->hline);
}

/* The URL, form and headers of the token request for the configured credential. */
static int req_build(struct ls_entra *e, CURL *h, struct req *q)
{
    int rc;

    switch (e->kind) {
    case LS_ENTRA_CLIENT_SECRET:
    case LS_ENTRA_WORKLOAD_IDENTITY:
        q->url = ls_xasprintf("%s/%s/oauth2/v2.0/token", e->authority, e->tenant);
        form_add(h, &q->form, "grant_type", "client_credentials");
        form_add(h, &q->form, "client_id", e->client_id);
        form_add(h, &q->form, "scope", STORAGE_SCOPE);
        if (e->kind == LS_ENTRA_CLIENT_SECRET) {
            form_add(h, &q->form, "client_secret", e->secret);
        } else {
            rc = read_assertion(e->token_file, &q->assertion);
            if (rc)
                return rc;
            form_add(h, &q->form, "client_assertion_type",
                     "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
            form_add(h, &q->form, "client_assertion", q->assertion);
        }
        q->hdr = curl_slist_append(q->hdr, "Content-Type: application/x-www-form-urlencoded");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->form);
        break;
    case LS_ENTRA_APP_SERVICE_MI:
        q->url =
            ls_xasprintf("%s?api-version=2019-08-01&resource=%s%s%s", e->endpoint, STORAGE_RESOURCE,
                         e->client_id ? "&client_id=" : "", e->client_id ? e->client_id : "");
        q->hline = ls_xasprintf("X-IDENTITY-HEADER: %s", e->header);
        q->hdr = curl_slist_append(q->hdr, q->hline);
        break;
    case LS_ENTRA_IMDS_MI:
    default:
        q->url = ls_xasprintf("%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=%s"
                              "%s%s",
                              e->endpoint, STORAGE_RESOURCE, e->client_id ? "&client_id=" : "",
                              e->client_id ? e->client_id : "");
        q->hdr = curl_slist_append(q->hdr, "Metadata: true");
        break;
    }
    q->hdr = curl_slist_append(q->hdr, "Accept: application/json");
    return LS_OK;
}

/* One token request for the configured credential. */
static int fetch(struct ls_entra *e, char **token, time_t *expires_at)
{
    CURL *h = NULL;
    struct req q = {0};
    struct body b = {0};
    long status = 0;
    CURLcode cc;
    int rc = LS_OK;

    h = curl_easy_init();
    if (!h) {
        rc = ls_error(LS_ENOMEM, "entra: curl_easy_init failed");
        goto done;
    }
    rc = req_build(e, h, &q);
    if (rc)
        goto done;
    curl_easy_setopt(h, CURLOPT_URL, q.url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, q.hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, e->o.timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, e->o.timeout_ms < 5000 ? e->o.timeout_ms : 5000);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOPROXY, "169.254.169.254");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        rc = ls_error(LS_EUNAVAIL, "entra %s: token request failed: %s",
                      ls_entra_kind_name(e->kind), curl_easy_strerror(cc));
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        rc = ls_error(status == 400 || status == 401 || status == 403 ? LS_EAUTH : LS_EUNAVAIL,
                      "entra %s: the token endpoint answered HTTP %ld", ls_entra_kind_name(e->kind),
                      status);
        goto done;
    }
    rc = ls_entra_parse_token(b.p ? b.p : "", b.len, e->o.now(e->o.ctx), token, expires_at);
    if (rc)
        rc = ls_error(LS_EAUTH, "entra %s: %s", ls_entra_kind_name(e->kind), ls_error_last());
done:
    if (h)
        curl_easy_cleanup(h);
    req_free(&q);
    free_secret(b.p);
    return rc;
}

int ls_entra_get_token(void *ctx, int force_refresh, char **token, time_t *expires_at)
{
    struct ls_entra *e = ctx;
    time_t now = e->o.now(e->o.ctx);
    char *fresh = NULL;
    time_t exp = 0;
    int rc;

    *token = NULL;
    *expires_at = 0;
    if (force_refresh || !e->token || now >= e->expires_at - e->o.refresh_early_sec) {
        rc = fetch(e, &fresh, &exp);
        if (rc) {
            LS_WARN("entra", "%s", ls_error_last());
            /* a token that has not expired yet still works */
            if (!e->token || force_refresh || now >= e->expires_at)
                return rc == LS_EAUTH ? AZT_EAUTH : AZT_ENET;
        } else {
            free_secret(e->token);
            e->token = fresh;
            e->expires_at = exp;
            LS_DEBUG("entra", "new token from %s, valid for %llds", ls_entra_kind_name(e->kind),
                     (long long)(exp - now));
        }
    }
    *token = ls_xstrdup(e->token);
    *expires_at = e->expires_at;
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
