/* ls_oauth.c - the access-token cache and the grant forms (ls_oauth.h). */
#include "ls_oauth.h"

#include "ls_crm.h"
#include "ls_log.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JWT_BEARER  "urn:ietf:params:oauth:grant-type:jwt-bearer"
#define CLIENT_JWT  "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define TEN_YEARS_S (10LL * 365 * 86400) /* a longer expiry is not believed */

void ls_oauth_init(struct ls_oauth *o, ls_oauth_fetch_fn fetch, void *ctx, int64_t skew_ms)
{
    memset(o, 0, sizeof(*o));
    o->fetch = fetch;
    o->ctx = ctx;
    o->skew_ms = skew_ms > 0 ? skew_ms : 0;
}

static int64_t now_ms(const struct ls_oauth *o)
{
    return o->now_ms ? o->now_ms(o->clock_ctx) : ls_now_ms();
}

/* Wipes the cached token and takes fresh (wiped and freed here), if any. */
static int replace(struct ls_oauth *o, char *fresh, int64_t expires_ms)
{
    size_t n = fresh ? strlen(fresh) : 0;
    int rc = LS_OK;

    OPENSSL_cleanse(o->token, sizeof(o->token));
    o->expires_ms = 0;
    if (n >= sizeof(o->token))
        rc = ls_error(LS_EPARSE, "the access token is too long (%zu bytes)", n);
    else if (fresh && n == 0)
        rc = ls_error(LS_EPARSE, "the token source gave an empty token");
    else if (fresh) {
        memcpy(o->token, fresh, n + 1);
        o->expires_ms = expires_ms;
    }
    ls_secret_free(fresh);
    return rc;
}

int ls_oauth_get(struct ls_oauth *o, void *arg, const char **token)
{
    struct ls_oauth_token fresh = {NULL, 0};
    int64_t now = now_ms(o);
    int valid = o->token[0] && (!o->expires_ms || now < o->expires_ms);
    int rc;

    *token = NULL;
    if (valid && (!o->expires_ms || now < o->expires_ms - o->skew_ms)) {
        *token = o->token;
        return LS_OK;
    }
    rc = o->fetch(o->ctx, arg, &fresh);
    if (rc && valid) {
        /* Refreshing ahead failed; the token still works until it expires. */
        LS_DEBUG("oauth", "early token refresh failed, the current token is kept: %s",
                 ls_error_last());
        ls_secret_free(fresh.value);
        *token = o->token;
        return LS_OK;
    }
    if (rc) {
        ls_secret_free(fresh.value);
        replace(o, NULL, 0);
        return rc;
    }
    rc = replace(o, fresh.value, fresh.expires_ms);
    if (rc)
        return rc;
    o->fetches++;
    *token = o->token;
    return LS_OK;
}

void ls_oauth_invalidate(struct ls_oauth *o)
{
    replace(o, NULL, 0);
}

void ls_oauth_dispose(struct ls_oauth *o)
{
    if (o)
        replace(o, NULL, 0);
}

/* ---- pure ---------------------------------------------------------------- */

static void form_add(char **form, const char *name, const char *value)
{
    char *esc, *next;

    if (!value)
        return;
    esc = ls_crm_escape(value);
    next = ls_xasprintf("%s%s%s=%s", *form ? *form : "", *form ? "&" : "", name, esc);
    ls_secret_free(esc);
    ls_secret_free(*form);
    *form = next;
}

char *ls_oauth_form(const struct ls_oauth_grant *g)
{
    char *form = NULL;

    if (g->type == LS_OAUTH_JWT_BEARER) {
        form_add(&form, "grant_type", JWT_BEARER);
        form_add(&form, "assertion", g->assertion);
    } else {
        form_add(&form, "grant_type", "client_credentials");
    }
    form_add(&form, "client_id", g->client_id);
    form_add(&form, "scope", g->scope);
    if (g->type == LS_OAUTH_CLIENT_CREDENTIALS) {
        form_add(&form, "client_secret", g->client_secret);
        if (g->client_assertion) {
            form_add(&form, "client_assertion_type", CLIENT_JWT);
            form_add(&form, "client_assertion", g->client_assertion);
        }
    }
    return form;
}

/* Seconds as a JSON number or a decimal string; -1 otherwise. */
static long long seconds(const json_t *v)
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
    return errno || end == s || *end ? -1 : n;
}

int ls_oauth_parse(const char *body, size_t len, int64_t now_ms, struct ls_oauth_token *out,
                   const char *extra, char **extra_out)
{
    json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
    const char *tok = json_string_value(json_object_get(j, "access_token"));
    const char *ex = extra ? json_string_value(json_object_get(j, extra)) : NULL;
    long long in = seconds(json_object_get(j, "expires_in"));
    long long on = seconds(json_object_get(j, "expires_on"));
    int rc = LS_OK;

    out->value = NULL;
    out->expires_ms = 0;
    if (extra_out)
        *extra_out = NULL;
    if (!tok || !*tok) {
        rc = ls_error(LS_EPARSE, "the token answer lacks access_token");
        goto done;
    }
    if (!ls_token_text_ok(tok, json_string_length(json_object_get(j, "access_token")))) {
        rc = ls_error(LS_EPARSE, "the token answer's access_token holds a blank, control or "
                                 "non-ASCII character");
        goto done;
    }
    out->value = ls_xstrdup(tok);
    /* expires_in is relative, so it does not depend on two clocks agreeing;
     * expires_on (absolute, Azure managed identity) is the fallback */
    if (in > 0 && in < TEN_YEARS_S)
        out->expires_ms = now_ms + in * 1000;
    else if (on > now_ms / 1000 && on - now_ms / 1000 < TEN_YEARS_S)
        out->expires_ms = on * 1000;
    if (extra_out && ex && *ex)
        *extra_out = ls_xstrdup(ex);
done:
    json_decref(j);
    return rc;
}

int ls_oauth_post(struct ls_crm_http *h, const char *url, const char *form, int64_t now_ms,
                  const char *extra, char **extra_out, struct ls_crm_resp *resp,
                  struct ls_oauth_token *out)
{
    static const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
                                       "Accept: application/json", NULL};
    struct ls_crm_req req = {"POST", url, hdrs, form, strlen(form), NULL, NULL, NULL};
    int rc;

    out->value = NULL;
    out->expires_ms = 0;
    if (extra_out)
        *extra_out = NULL;
    rc = ls_crm_call(h, &req, resp);
    if (rc) {
        /* not sent at all: told like a request that got no answer */
        snprintf(resp->transport, sizeof(resp->transport), "%.300s", ls_error_last());
        return rc;
    }
    if (resp->status == 0)
        return LS_EUNAVAIL;
    if (resp->status != 200)
        return LS_EAUTH;
    return ls_oauth_parse(resp->body, resp->len, now_ms, out, extra, extra_out);
}
