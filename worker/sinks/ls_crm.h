/*
 * ls_crm.h - what the CRM sinks, Entra ID and the Pushgateway push share:
 * RS256 JSON Web Tokens for OAuth assertions, and the one HTTP call path
 * (ls_crm_call): one blocking request at a time over a kept-alive curl
 * handle with the caller's CA file and timeout, a bearer token from an
 * ls_oauth cache (ls_oauth.h) renewed once when refused, a capped body and
 * the few response headers CRMs signal with.
 *
 * Requests go out one after another from the delivery thread, so a token
 * refresh can never race another: refreshes are serialized by construction.
 */
#ifndef LS_CRM_H
#define LS_CRM_H

#include "ls_common.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* base64url without padding (RFC 7515 section 2). malloc'd. */
char *ls_b64url(const unsigned char *p, size_t len);

/*
 * Builds header.claims.signature with RS256 (RSASSA-PKCS1-v1_5, SHA-256)
 * using the PEM private key key_pem (PKCS#1 or PKCS#8, unencrypted). header
 * and claims are serialized compactly, keys in insertion order. Returns 0,
 * or LS_ECONFIG when the key is not a usable RSA private key (the message
 * never quotes the key).
 */
LS_NODISCARD int ls_jwt_rs256(const json_t *header, const json_t *claims, const char *key_pem,
                              char **out);

/* The x5t of a PEM certificate: base64url of its DER's SHA-1. LS_ECONFIG
 * when cert_pem holds no certificate. */
LS_NODISCARD int ls_jwt_x5t(const char *cert_pem, char **out);

/* A random RFC 4122 version-4 UUID text (jti, batch boundaries). */
void ls_crm_uuid(char out[37]);

/* A curl header list may carry a bearer token or an API key, and curl keeps
 * copies: ls_crm_headers_wipe overwrites the text of every header (the list
 * stays), ls_crm_headers_free wipes and frees it (NULL is fine). */
void ls_crm_headers_wipe(struct curl_slist *list);
void ls_crm_headers_free(struct curl_slist *list);

/*
 * Stopping on a signal inside a sink's own requests (ls_stop_requested,
 * ls_common.h): after the first signal no new request starts, the one in
 * flight gets grace_s seconds to answer and is then cut off; a second signal
 * cuts it off at once. Either way the items go back as not sent.
 */
struct ls_crm_stop {
    const char *comp; /* names the sink in the log line */
    long grace_s;
    int64_t until_ms; /* monotonic; 0 until the signal is first seen */
};

/* 1 when the request in flight must be cut off now (grace over, or a
 * second signal); logs once that the stop waits for it. */
int ls_crm_stop_due(struct ls_crm_stop *st);

/* Makes curl ask ls_crm_stop_due while a request runs (progress callback);
 * st must outlive the transfer. */
LS_NODISCARD CURLcode ls_crm_stop_watch(CURL *easy, struct ls_crm_stop *st);

struct ls_sink_result;
/* r = not sent because the process is stopping: no attempt is counted, the
 * item goes out on the next run. */
void ls_crm_stopped_result(struct ls_sink_result *r);

struct ls_crm_http;
struct ls_oauth;

struct ls_crm_resp {
    int status;       /* 0: no answer */
    int tls_config;   /* 1: no answer because of TLS trust or the URL (fatal) */
    int sent;         /* 1: request bytes left (an answer may still be missing) */
    int truncated;    /* 1: the body was longer than the handle keeps */
    int auth_refused; /* 1: a fresh token was refused too (ls_crm_call gave up) */
    int stopped;      /* 1: not started, or cut off, because the process is stopping
                       * (ls_crm_http_stop_grace; status 0): report the items not sent */
    char *body;       /* NUL-terminated, at most the handle's body cap kept */
    size_t len;
    long retry_after_ms;    /* Retry-After, -1 when none */
    char limit_info[128];   /* Sforce-Limit-Info */
    char entity_id[512];    /* OData-EntityId */
    char content_type[128]; /* Content-Type */
    char transport[320];    /* error text when status == 0 */
};

/* One request. headers: NULL-terminated "Name: value" strings (may be
 * NULL); body NULL: none. */
struct ls_crm_req {
    const char *method;
    const char *url;
    const char *const *headers;
    const char *body;
    size_t len;
    /* Bearer authentication: the token comes from auth (fetched first when
     * needed, auth_arg passed to its fetch); after an answer refused() calls
     * a token refusal (NULL: HTTP 401) the token is dropped and the request
     * sent once more with a fresh one. auth NULL: no Authorization header. */
    struct ls_oauth *auth;
    void *auth_arg;
    int (*refused)(const struct ls_crm_resp *resp);
};

/* What actually sends a request: curl by default; tests put a fake here. */
typedef int (*ls_crm_transport_fn)(void *ctx, const struct ls_crm_req *req,
                                   const char *const *headers, struct ls_crm_resp *resp);

/* comp names the caller in messages ("salesforce"); ca_file may be NULL;
 * timeout_s <= 0 means 30 s. Only https:// URLs are accepted. */
LS_NODISCARD int ls_crm_http_create(const char *comp, const char *ca_file, long timeout_s,
                                    struct ls_crm_http **out);
void ls_crm_http_free(struct ls_crm_http *h);

/* Settings for the non-CRM users: http:// as well (managed identity, whose
 * URLs ls_entra checks when it picks the credential; a Pushgateway), the timeout
 * and connect timeout in ms, a host reached without any proxy (may be
 * NULL), and how much of a body is kept (0: none, the body is discarded). */
void ls_crm_http_allow_http(struct ls_crm_http *h, const char *noproxy);
void ls_crm_http_timeouts(struct ls_crm_http *h, long timeout_ms, long connect_ms);
void ls_crm_http_body_cap(struct ls_crm_http *h, size_t cap);
void ls_crm_http_transport(struct ls_crm_http *h, ls_crm_transport_fn fn, void *ctx);
/* For the sinks: once a signal asks the process to stop, requests on h do
 * not start and the one in flight is cut off after grace_s seconds
 * (LEADSYNC_STOP_GRACE_SECONDS; at once on a second signal), with
 * resp->stopped set. Other users (Entra, the Pushgateway) are not cut. */
void ls_crm_http_stop_grace(struct ls_crm_http *h, long grace_s);

/*
 * The one call path: sends req (with a bearer token when req->auth is set,
 * re-authenticating once on a refusal), fills *resp (free with
 * ls_crm_resp_dispose): the status (0 with resp->transport on no answer),
 * the body up to the cap, Retry-After parsed once (resp->retry_after_ms).
 * Returns 0 when *resp holds the outcome (resp->auth_refused when a fresh
 * token was refused as well), the token source's error when no token could
 * be had (nothing was sent), or a negative ls_err when the request could not
 * be built.
 */
LS_NODISCARD int ls_crm_call(struct ls_crm_http *h, const struct ls_crm_req *req,
                             struct ls_crm_resp *resp);

/* For the sinks: fills *fail after ls_crm_call returned rc != 0 unless the
 * token source filled it already: a token too long to use is fatal, a
 * request that could not be built is retried. */
struct ls_sink_result;
void ls_crm_call_failed(int rc, struct ls_sink_result *fail);

/* Frees the body, overwritten first (a token answer holds the token). */
void ls_crm_resp_dispose(struct ls_crm_resp *resp);

/* Percent-encodes s for a form value or URL segment (RFC 3986 unreserved
 * kept). malloc'd. */
char *ls_crm_escape(const char *s);

/* s without its trailing slashes (a base URL the sink appends paths to).
 * malloc'd. */
char *ls_crm_strip_slash(const char *s);

/* s without surrounding whitespace, ASCII letters lower-cased (upsert keys
 * such as emails). malloc'd. */
char *ls_crm_lower_trim(const char *s);

/* An excerpt of a remote body: ls_redact_excerpt (bounded, personal data
 * and secrets masked, control characters blanked); body may be dst. */
void ls_crm_excerpt(char *dst, size_t cap, const char *body, size_t len);

#endif /* LS_CRM_H */
