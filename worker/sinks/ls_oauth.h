/*
 * ls_oauth.h - the one access-token cache of the CRM sinks and of Entra ID.
 *
 * A struct ls_oauth holds one bearer token and when it expires. The owner
 * supplies how a token is obtained (a fetch callback: an OAuth grant, a
 * managed-identity call, a fixed private-app token); the cache decides when
 * to call it: when there is no token, when the token is within skew_ms of
 * its expiry (refreshed ahead), and once after the server refused it
 * (ls_oauth_invalidate, called by ls_crm_call on a 401 or an expired-session
 * answer). A refresh ahead of expiry that fails keeps the old token while it
 * is still valid. The token lives in the cache's own buffer, overwritten
 * (OPENSSL_cleanse) whenever it is replaced, refused or disposed; the copy a
 * fetch hands over is wiped and freed at once. The clock is injectable.
 *
 * The pure half builds the grant forms the sinks use (client credentials
 * with a secret or a signed client assertion, the JWT bearer grant) and
 * reads the common token answer, so both are tested with fixed vectors.
 */
#ifndef LS_OAUTH_H
#define LS_OAUTH_H

#include "ls_common.h"

#include <stddef.h>
#include <stdint.h>

/* A fresh token: value malloc'd (the cache owns and wipes it), expires_ms
 * the absolute wall-clock expiry in ms, 0 when the server gave none (the
 * token is then kept until the server refuses it). */
struct ls_oauth_token {
    char *value;
    int64_t expires_ms;
};

/*
 * Obtains a fresh token. arg is what the caller passed to ls_oauth_get (the
 * sinks pass their struct ls_sink_result, filled on failure). Returns 0 with
 * *out filled, or a negative ls_err.
 */
typedef int (*ls_oauth_fetch_fn)(void *ctx, void *arg, struct ls_oauth_token *out);

/* The longest token kept (the sinks' are a few KiB at most; Entra's grow
 * with the claims they carry). */
#define LS_OAUTH_TOKEN_MAX 16384

struct ls_oauth {
    ls_oauth_fetch_fn fetch;
    void *ctx;
    int64_t skew_ms;                    /* refresh this long before expiry */
    int64_t (*now_ms)(void *clock_ctx); /* wall clock; NULL = ls_now_ms */
    void *clock_ctx;
    char token[LS_OAUTH_TOKEN_MAX]; /* "": none; all zero once wiped */
    int64_t expires_ms;
    unsigned fetches; /* tokens fetched so far (tests, debug logs) */
};

void ls_oauth_init(struct ls_oauth *o, ls_oauth_fetch_fn fetch, void *ctx, int64_t skew_ms);

/* The current token, fetched or refreshed first when needed. Returns 0
 * with *token borrowed (valid until the next call on o), or fetch's error. */
LS_NODISCARD int ls_oauth_get(struct ls_oauth *o, void *arg, const char **token);

/* Forgets the token (wiped): the next ls_oauth_get fetches a new one. */
void ls_oauth_invalidate(struct ls_oauth *o);

/* Wipes the token; o can be initialised again. */
void ls_oauth_dispose(struct ls_oauth *o);

/* ---- pure: grant forms and the token answer ---------------------------- */

enum ls_oauth_grant_type {
    LS_OAUTH_CLIENT_CREDENTIALS, /* client_secret or client_assertion */
    LS_OAUTH_JWT_BEARER,         /* RFC 7523 section 2.1: assertion */
};

struct ls_oauth_grant {
    enum ls_oauth_grant_type type;
    const char *client_id;        /* NULL: not sent (JWT bearer) */
    const char *client_secret;    /* client credentials with a secret */
    const char *client_assertion; /* client credentials with a signed JWT */
    const char *assertion;        /* JWT bearer */
    const char *scope;            /* NULL: not sent */
};

/* The application/x-www-form-urlencoded body of a token request. malloc'd;
 * free it with ls_secret_free (it holds the credential). */
char *ls_oauth_form(const struct ls_oauth_grant *g);

/*
 * Reads a token answer: access_token, and expires_in (seconds, a number or
 * a decimal string), else expires_on (unix seconds, the same two forms, as
 * Azure managed identity answers); neither usable: *expires_ms = 0. An
 * answer with a key given twice is refused. extra, when
 * not NULL, names one more string field copied to *extra_out (Salesforce's
 * instance_url; NULL when absent). LS_EPARSE when there is no access_token.
 */
LS_NODISCARD int ls_oauth_parse(const char *body, size_t len, int64_t now_ms,
                                struct ls_oauth_token *out, const char *extra, char **extra_out);

/* ---- the token request ------------------------------------------------- */

struct ls_crm_http;
struct ls_crm_resp;

/*
 * One token request: POSTs form (ls_oauth_form) to url over h as
 * application/x-www-form-urlencoded, asking for JSON, and reads an HTTP 200
 * answer with ls_oauth_parse (now_ms, extra and extra_out as there).
 * Returns 0 with *out filled, or a negative ls_err with *resp telling why:
 * status 0, no answer (resp->transport says why; resp->stopped, resp->
 * tls_config as ls_crm_call sets them); status 200, not a token answer
 * (LS_EPARSE); any other status, the endpoint refused (LS_EAUTH). *resp
 * holds the answer in every case: free it with ls_crm_resp_dispose.
 */
LS_NODISCARD int ls_oauth_post(struct ls_crm_http *h, const char *url, const char *form,
                               int64_t now_ms, const char *extra, char **extra_out,
                               struct ls_crm_resp *resp, struct ls_oauth_token *out);

#endif /* LS_OAUTH_H */
