/* ls_crm.c - JWT (RS256) and HTTPS requests shared by the CRM sinks (ls_crm.h). */
#include "ls_crm.h"
#include "ls_redact.h"

#include "ls_log.h"
#include "ls_oauth.h"
#include "ls_sink.h"
#include "ls_webhook.h"

#include <ctype.h>
#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BODY_MAX (8u * 1024 * 1024)

char *ls_b64url(const unsigned char *p, size_t len)
{
    char *out = ls_xmalloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, p, (int)len);
    int i;

    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return out;
}

static char *b64url_json(const json_t *j)
{
    char *txt = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *out;

    if (!txt)
        return NULL;
    out = ls_b64url((const unsigned char *)txt, strlen(txt));
    free(txt);
    return out;
}

int ls_jwt_rs256(const json_t *header, const json_t *claims, const char *key_pem, char **out)
{
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_MD_CTX *md = NULL;
    char *h64 = NULL, *c64 = NULL, *input = NULL, *s64 = NULL;
    unsigned char *sig = NULL;
    size_t siglen = 0;
    int rc = LS_OK;

    *out = NULL;
    h64 = b64url_json(header);
    c64 = b64url_json(claims);
    if (!h64 || !c64) {
        rc = ls_error(LS_EINVAL, "JWT: header or claims do not serialize");
        goto done;
    }
    input = ls_xasprintf("%s.%s", h64, c64);
    bio = BIO_new_mem_buf(key_pem, -1);
    pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    if (!pkey || EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
        rc = ls_error(LS_ECONFIG, "the private key is not an unencrypted PEM RSA private key");
        goto done;
    }
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
        rc = ls_error(LS_ERROR, "JWT: RS256 signing failed");
        goto done;
    }
    sig = ls_xmalloc(siglen);
    if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) != 1) {
        rc = ls_error(LS_ERROR, "JWT: RS256 signing failed");
        goto done;
    }
    s64 = ls_b64url(sig, siglen);
    *out = ls_xasprintf("%s.%s", input, s64);
done:
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    free(h64);
    free(c64);
    free(input);
    free(sig);
    free(s64);
    return rc;
}

int ls_jwt_x5t(const char *cert_pem, char **out)
{
    BIO *bio = NULL;
    X509 *x = NULL;
    unsigned char *der = NULL;
    unsigned char sha[SHA_DIGEST_LENGTH];
    int n, rc = LS_OK;

    *out = NULL;
    bio = BIO_new_mem_buf(cert_pem, -1);
    x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    if (!x || (n = i2d_X509(x, &der)) <= 0) {
        rc = ls_error(LS_ECONFIG, "the certificate is not a PEM X.509 certificate");
        goto done;
    }
    SHA1(der, (size_t)n, sha);
    *out = ls_b64url(sha, sizeof(sha));
done:
    OPENSSL_free(der);
    X509_free(x);
    BIO_free(bio);
    return rc;
}

void ls_crm_uuid(char out[37])
{
    unsigned char b[16];
    size_t i, o = 0;

    if (RAND_bytes(b, sizeof(b)) != 1) {
        int64_t t = ls_now_ms();

        for (i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)((t >> (i % 8 * 8)) ^ (int64_t)(i * 131));
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        snprintf(out + o, 3, "%02x", b[i]);
        o += 2;
    }
    out[o] = '\0';
}

void ls_crm_headers_wipe(struct curl_slist *list)
{
    for (; list; list = list->next)
        if (list->data)
            OPENSSL_cleanse(list->data, strlen(list->data));
}

void ls_crm_headers_free(struct curl_slist *list)
{
    ls_crm_headers_wipe(list);
    curl_slist_free_all(list);
}

char *ls_crm_escape(const char *s)
{
    char *out = NULL;

    /* fails only for a string longer than SIZE_MAX / 3 bytes */
    if (azt_url_encode(s, strlen(s), &out) != AZT_OK)
        abort();
    return out;
}

void ls_crm_excerpt(char *dst, size_t cap, const char *body, size_t len)
{
    char tmp[LS_EXCERPT_MAX + 1];

    /* Through a copy: callers may pass dst itself as the body. */
    if (cap == 0)
        return;
    ls_redact_excerpt(tmp, cap < sizeof(tmp) ? cap : sizeof(tmp), body, len);
    memcpy(dst, tmp, strlen(tmp) + 1);
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                      */

int ls_crm_stop_due(struct ls_crm_stop *st)
{
    if (!ls_stop_requested)
        return 0;
    if (!st->until_ms) {
        st->until_ms = ls_mono_ms() + (int64_t)st->grace_s * 1000;
        LS_INFO(st->comp, "finishing the request in flight (again to stop now)");
    }
    return ls_stop_requested > 1 || ls_mono_ms() >= st->until_ms;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return ls_crm_stop_due(ud); /* nonzero: curl ends the transfer */
}

CURLcode ls_crm_stop_watch(CURL *easy, struct ls_crm_stop *st)
{
    CURLcode c = CURLE_OK;

    c |= curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    c |= curl_easy_setopt(easy, CURLOPT_XFERINFODATA, st);
    c |= curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
    return c;
}

void ls_crm_stopped_result(struct ls_sink_result *r)
{
    ls_sink_not_sent(r, "stopping on a signal");
}

struct ls_crm_http {
    CURL *easy;
    char *ca_file;
    char *comp;
    char *noproxy;
    int allow_http;
    long timeout_ms, connect_ms;
    size_t body_cap;
    ls_crm_transport_fn send;
    void *send_ctx;
    int stop_on_signal; /* ls_crm_http_stop_grace */
    struct ls_crm_stop stop;
    char ua[64];
    char errbuf[CURL_ERROR_SIZE];
};

/* Where curl writes an answer: resp, keeping at most cap bytes. */
struct sink {
    struct ls_crm_resp *resp;
    size_t cap;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sink *k = ud;
    struct ls_crm_resp *r = k->resp;
    size_t n = size * nmemb, take = n;

    if (r->len + take > k->cap) {
        take = k->cap - r->len;
        r->truncated = 1;
    }
    if (take) {
        r->body = ls_xrealloc(r->body, r->len + take + 1);
        memcpy(r->body + r->len, ptr, take);
        r->len += take;
        r->body[r->len] = '\0';
    }
    return n;
}

static void copy_header(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static int header_is(const char *p, size_t n, const char *name)
{
    size_t l = strlen(name);

    return n > l && strncasecmp(p, name, l) == 0 && p[l] == ':';
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct ls_crm_resp *r = ud;
    size_t n = size * nmemb;

    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        r->retry_after_ms = -1;
        r->limit_info[0] = r->entity_id[0] = r->content_type[0] = '\0';
    } else if (header_is(ptr, n, "retry-after")) {
        r->retry_after_ms =
            azt_retry_after_ms(ptr + 12, n - 12, ls_now_ms(), LS_RETRY_AFTER_MAX_MS);
    } else if (header_is(ptr, n, "sforce-limit-info")) {
        copy_header(r->limit_info, sizeof(r->limit_info), ptr + 18, n - 18);
    } else if (header_is(ptr, n, "odata-entityid")) {
        copy_header(r->entity_id, sizeof(r->entity_id), ptr + 15, n - 15);
    } else if (header_is(ptr, n, "content-type")) {
        copy_header(r->content_type, sizeof(r->content_type), ptr + 13, n - 13);
    }
    return n;
}

static int curl_send(void *ctx, const struct ls_crm_req *req, const char *const *headers,
                     struct ls_crm_resp *resp);

int ls_crm_http_create(const char *comp, const char *ca_file, long timeout_s,
                       struct ls_crm_http **out)
{
    struct ls_crm_http *h;

    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return ls_error(LS_ERROR, "%s: curl_global_init failed", comp);
    h = ls_xcalloc(1, sizeof(*h));
    h->comp = ls_xstrdup(comp);
    ls_crm_http_timeouts(h, (timeout_s > 0 ? timeout_s : 30) * 1000, 10000);
    h->body_cap = BODY_MAX;
    h->send = curl_send;
    h->send_ctx = h;
    if (ca_file && *ca_file) {
        FILE *f = fopen(ca_file, "r");

        if (!f) {
            ls_crm_http_free(h);
            return ls_error(LS_ECONFIG, "%s: cannot read the CA file %s", comp, ca_file);
        }
        fclose(f);
        h->ca_file = ls_xstrdup(ca_file);
    }
    snprintf(h->ua, sizeof(h->ua), "leadsync/%s", LS_VERSION);
    h->easy = curl_easy_init();
    if (!h->easy) {
        ls_crm_http_free(h);
        return ls_error(LS_ERROR, "%s: curl_easy_init failed", comp);
    }
    *out = h;
    return LS_OK;
}

void ls_crm_http_allow_http(struct ls_crm_http *h, const char *noproxy)
{
    h->allow_http = 1;
    free(h->noproxy);
    h->noproxy = noproxy ? ls_xstrdup(noproxy) : NULL;
}

void ls_crm_http_timeouts(struct ls_crm_http *h, long timeout_ms, long connect_ms)
{
    h->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    h->connect_ms = connect_ms > 0 && connect_ms < h->timeout_ms ? connect_ms : h->timeout_ms;
}

void ls_crm_http_body_cap(struct ls_crm_http *h, size_t cap)
{
    h->body_cap = cap;
}

void ls_crm_http_transport(struct ls_crm_http *h, ls_crm_transport_fn fn, void *ctx)
{
    h->send = fn ? fn : curl_send;
    h->send_ctx = fn ? ctx : h;
}

void ls_crm_http_stop_grace(struct ls_crm_http *h, long grace_s)
{
    h->stop_on_signal = 1;
    h->stop.comp = h->comp;
    h->stop.grace_s = grace_s;
}

void ls_crm_http_free(struct ls_crm_http *h)
{
    if (!h)
        return;
    if (h->easy)
        curl_easy_cleanup(h->easy);
    free(h->ca_file);
    free(h->comp);
    free(h->noproxy);
    free(h);
    curl_global_cleanup();
}

void ls_crm_resp_dispose(struct ls_crm_resp *resp)
{
    if (!resp)
        return;
    /* a token answer's body holds the token */
    if (resp->body)
        OPENSSL_cleanse(resp->body, resp->len);
    free(resp->body);
    resp->body = NULL;
    resp->len = 0;
}

static CURLcode set_options(struct ls_crm_http *h, const struct ls_crm_req *req,
                            struct curl_slist *list, struct sink *k)
{
    CURL *e = h->easy;
    CURLcode c = CURLE_OK;

    c |= curl_easy_setopt(e, CURLOPT_URL, req->url);
    c |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    c |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    c |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, h->allow_http ? "http,https" : "https");
    c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca_file)
        c |= curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    if (h->noproxy)
        c |= curl_easy_setopt(e, CURLOPT_NOPROXY, h->noproxy);
    c |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    c |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->connect_ms);
    c |= curl_easy_setopt(e, CURLOPT_USERAGENT, h->ua);
    c |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    c |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    c |= curl_easy_setopt(e, CURLOPT_WRITEDATA, k);
    c |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    c |= curl_easy_setopt(e, CURLOPT_HEADERDATA, k->resp);
    c |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
    c |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
    c |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
    if (h->stop_on_signal)
        c |= ls_crm_stop_watch(e, &h->stop);
    if (req->body) {
        c |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
        c |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
    } else if (strcmp(req->method, "GET") == 0) {
        c |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    return c;
}

/* The answer's status, or why there is none, and whether the request left. */
static void note_outcome(struct ls_crm_http *h, CURLcode cc, struct ls_crm_resp *resp)
{
    curl_off_t up = 0;
    long status = 0;

    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h->easy, CURLINFO_SIZE_UPLOAD_T, &up);
    resp->sent = up > 0 || status > 0;
    if (cc == CURLE_OK && status > 0) {
        resp->status = (int)status;
        return;
    }
    resp->status = 0;
    if (cc == CURLE_ABORTED_BY_CALLBACK) { /* only the stop's progress callback aborts */
        resp->stopped = 1;
        snprintf(resp->transport, sizeof(resp->transport),
                 "stopped by a signal before the answer came");
        return;
    }
    snprintf(resp->transport, sizeof(resp->transport), "%s%s%.200s", curl_easy_strerror(cc),
             h->errbuf[0] ? ": " : "", h->errbuf);
    resp->tls_config = cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
                       cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT;
    /* A refused or unresolved connection, or a TLS handshake that failed,
     * never carried the request: HTTP starts after the handshake. */
    if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
        cc == CURLE_SSL_CONNECT_ERROR || resp->tls_config)
        resp->sent = 0;
}

/* The curl transport: one request on the kept-alive handle. */
static int curl_send(void *ctx, const struct ls_crm_req *req, const char *const *headers,
                     struct ls_crm_resp *resp)
{
    struct ls_crm_http *h = ctx;
    struct sink k = {resp, h->body_cap};
    struct curl_slist *list = NULL, *n;
    CURLcode cc;
    size_t i;

    list = curl_slist_append(NULL, "Expect:");
    for (i = 0; list && headers && headers[i]; i++) {
        n = curl_slist_append(list, headers[i]);
        if (!n)
            break;
        list = n;
    }
    if (!list || (headers && headers[i])) {
        ls_crm_headers_free(list);
        return ls_error(LS_ENOMEM, "%s: out of memory", h->comp);
    }
    curl_easy_reset(h->easy);
    h->errbuf[0] = '\0';
    if (set_options(h, req, list, &k) != CURLE_OK) {
        ls_crm_headers_free(list);
        return ls_error(LS_ERROR, "%s: curl_easy_setopt failed", h->comp);
    }
    cc = curl_easy_perform(h->easy);
    note_outcome(h, cc, resp);
    ls_crm_headers_free(list);
    curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, NULL);
    if (resp->status && !resp->body)
        resp->body = ls_xstrdup("");
    return LS_OK;
}

/* req's headers, after an Authorization line when auth is not NULL. */
static const char **header_list(const struct ls_crm_req *req, const char *auth)
{
    size_t n = 0, o = 0;
    const char **all;

    while (req->headers && req->headers[n])
        n++;
    all = ls_xcalloc(n + 2, sizeof(*all));
    if (auth)
        all[o++] = auth;
    for (n = 0; req->headers && req->headers[n]; n++)
        all[o++] = req->headers[n];
    return all;
}

static int sent_once(struct ls_crm_http *h, const struct ls_crm_req *req, const char *token,
                     struct ls_crm_resp *resp)
{
    char *auth = token ? ls_xasprintf("Authorization: Bearer %s", token) : NULL;
    const char **hdrs = header_list(req, auth);
    int rc;

    memset(resp, 0, sizeof(*resp));
    resp->retry_after_ms = -1;
    if (h->stop_on_signal && ls_stop_requested) {
        resp->stopped = 1;
        snprintf(resp->transport, sizeof(resp->transport), "not started: stopping on a signal");
        rc = LS_OK;
    } else {
        rc = h->send(h->send_ctx, req, hdrs, resp);
    }
    free(hdrs);
    ls_secret_free(auth);
    return rc;
}

static int token_refused(const struct ls_crm_req *req, const struct ls_crm_resp *resp)
{
    if (req->refused)
        return req->refused(resp);
    return resp->status == 401;
}

int ls_crm_call(struct ls_crm_http *h, const struct ls_crm_req *req, struct ls_crm_resp *resp)
{
    const char *token = NULL;
    int tries, rc;

    memset(resp, 0, sizeof(*resp));
    resp->retry_after_ms = -1;
    for (tries = 0; tries < 2; tries++) {
        if (req->auth && (rc = ls_oauth_get(req->auth, req->auth_arg, &token)) != LS_OK)
            return rc;
        ls_crm_resp_dispose(resp);
        rc = sent_once(h, req, token, resp);
        if (rc || !req->auth || !token_refused(req, resp))
            return rc;
        ls_oauth_invalidate(req->auth);
        if (tries == 0)
            LS_INFO(h->comp, "the access token was refused (expired?): fetching a new one");
    }
    resp->auth_refused = 1;
    return LS_OK;
}

void ls_crm_call_failed(int rc, struct ls_sink_result *fail)
{
    if (fail->error[0])
        return;
    fail->outcome = rc == LS_EPARSE ? LS_SINK_FATAL : LS_SINK_RETRY;
    fail->retry_after_ms = -1;
    snprintf(fail->error, sizeof(fail->error), "%.300s", ls_error_last());
}

char *ls_crm_strip_slash(const char *s)
{
    size_t n = strlen(s);

    while (n && s[n - 1] == '/')
        n--;
    return ls_xstrndup(s, n);
}

char *ls_crm_lower_trim(const char *s)
{
    size_t n = strlen(s), i;
    char *out;

    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    out = ls_xstrndup(s, n);
    for (i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
    return out;
}
