/*
 * azt_client.c - the I/O half of azt: one libcurl easy handle per client,
 * request signing, header capture, the retry loop and error mapping.
 *
 * Every logical request goes through azt__request(), which re-signs each
 * attempt (fresh x-ms-date), retries transient statuses and transport
 * failures with capped, jittered exponential backoff (honouring Retry-After)
 * and maps the final outcome to an azt_err with a one-line message that never
 * holds the key, the Authorization header, a SAS signature or a token.
 */
#include "azt.h"
#include "internal/azt_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

#ifndef AZT_VERSION
#define AZT_VERSION "0"
#endif

#define AZT_X_MS_VERSION "2019-02-02"

struct azt_client {
    char *account;
    unsigned char *key;
    size_t key_len;
    char *sas;
    char *endpoint;  /* scheme://host[:port][/path], no trailing '/' */
    char *base_path; /* the endpoint's path component ("" or "/devstoreaccount1") */
    enum azt_auth auth;
    struct azt_token_source token_source;
    long connect_timeout_ms;
    long request_timeout_ms;
    int max_attempts;
    long backoff_base_ms;
    long backoff_cap_ms;
    size_t max_response_bytes;
    char *ca_file;
    char *user_agent;
    azt_log_fn log;
    void *log_ctx;
    time_t (*now)(void *ctx);
    void (*sleep_ms)(void *ctx, long ms);
    uint32_t (*random)(void *ctx);
    int (*cancel)(void *ctx);
    azt_transport_fn transport;
    void *seam_ctx;
    CURL *curl;
    time_t server_time;
    struct azt_stats stats;
};

/* Per-attempt state handed to the libcurl callbacks. */
struct xfer {
    struct azt_client *c;
    struct azt__response *resp;
    int toobig;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ------------------------------------------------------------------------ */
/* Seams                                                                     */

static time_t now_of(const struct azt_client *c)
{
    return c->now ? c->now(c->seam_ctx) : time(NULL);
}

static int canceled(const struct azt_client *c)
{
    return c->cancel && c->cancel(c->seam_ctx);
}

/* A backoff sleep of up to 300 s (Retry-After): taken in short slices so a
 * cancellation (SIGTERM) ends it within a slice. The seam gets the whole
 * delay: it records the policy, it does not sleep. */
#define AZT_SLEEP_SLICE_MS 100

static void sleep_of(const struct azt_client *c, long ms)
{
    struct timespec ts;
    long slice;

    if (ms <= 0)
        return;
    if (c->sleep_ms) {
        c->sleep_ms(c->seam_ctx, ms);
        return;
    }
    while (ms > 0 && !canceled(c)) {
        slice = ms < AZT_SLEEP_SLICE_MS ? ms : AZT_SLEEP_SLICE_MS;
        ts.tv_sec = 0;
        ts.tv_nsec = slice * 1000000L;
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        ms -= slice;
    }
}

static uint32_t random_of(const struct azt_client *c)
{
    uint32_t r = 0;

    if (c->random)
        return c->random(c->seam_ctx);
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        r = (uint32_t)time(NULL) * 2654435761u;
    return r;
}

void azt__warn(const struct azt_client *c, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (!c->log)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    c->log(c->log_ctx, 1, line);
}

/* ------------------------------------------------------------------------ */
/* Responses                                                                 */

static void response_clear_headers(struct azt__response *r)
{
    free(r->date);
    free(r->request_id);
    free(r->error_code);
    free(r->next_pk);
    free(r->next_rk);
    free(r->etag);
    free(r->content_type);
    r->date = r->request_id = r->error_code = NULL;
    r->next_pk = r->next_rk = r->etag = r->content_type = NULL;
    r->retry_after_ms = -1;
}

void azt__response_dispose(struct azt__response *r)
{
    if (!r)
        return;
    response_clear_headers(r);
    azt__buf_dispose(&r->body);
    r->status = 0;
}

static void response_reset(struct azt__response *r, size_t max)
{
    azt__response_dispose(r);
    r->body.max = max;
}

const char *azt__accept_for(int metadata)
{
    switch (metadata) {
    case AZT_META_MINIMAL:
        return "application/json;odata=minimalmetadata";
    case AZT_META_FULL:
        return "application/json;odata=fullmetadata";
    default:
        return "application/json;odata=nometadata";
    }
}

/* ------------------------------------------------------------------------ */
/* libcurl callbacks                                                         */

/* A piece of the body; 0 (stop) once it outgrows the limit. */
static size_t take_body(struct xfer *x, const char *ptr, size_t n)
{
    if (azt__buf_append(&x->resp->body, ptr, n) != AZT_OK) {
        x->toobig = 1;
        return 0;
    }
    return n;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    return take_body(ud, ptr, size * nmemb);
}

/* Called by libcurl about once a second and whenever data moves: a stop
 * requested through the cancel seam ends the transfer in flight instead of
 * waiting for its answer or its timeout. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct xfer *x = ud;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return canceled(x->c);
}

static int header_is(const char *p, size_t n, const char *name)
{
    size_t len = strlen(name);

    return n == len && strncasecmp(p, name, len) == 0;
}

/* One header line: the ones the client uses are kept in the response. */
static void take_header(struct xfer *x, const char *ptr, size_t n)
{
    struct azt__response *r = x->resp;
    const char *colon, *v;
    size_t nlen, vlen;
    char **slot = NULL;
    long ms;

    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        /* a new response (after 100-continue or a 401 challenge) */
        response_clear_headers(r);
        return;
    }
    colon = memchr(ptr, ':', n);
    if (!colon)
        return;
    nlen = (size_t)(colon - ptr);
    while (nlen && (ptr[nlen - 1] == ' ' || ptr[nlen - 1] == '\t'))
        nlen--;
    v = colon + 1;
    vlen = n - (size_t)(v - ptr);
    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ' ||
                    v[vlen - 1] == '\t'))
        vlen--;
    if (header_is(ptr, nlen, "Date"))
        slot = &r->date;
    else if (header_is(ptr, nlen, "x-ms-request-id"))
        slot = &r->request_id;
    else if (header_is(ptr, nlen, "x-ms-error-code"))
        slot = &r->error_code;
    else if (header_is(ptr, nlen, "x-ms-continuation-NextPartitionKey"))
        slot = &r->next_pk;
    else if (header_is(ptr, nlen, "x-ms-continuation-NextRowKey"))
        slot = &r->next_rk;
    else if (header_is(ptr, nlen, "ETag"))
        slot = &r->etag;
    else if (header_is(ptr, nlen, "Content-Type"))
        slot = &r->content_type;
    else if (header_is(ptr, nlen, "Retry-After")) {
        ms = azt_retry_after_ms(v, vlen, (int64_t)now_of(x->c) * 1000, AZT__RETRY_AFTER_MAX_MS);
        if (ms > r->retry_after_ms)
            r->retry_after_ms = ms;
    } else if (header_is(ptr, nlen, "retry-after-ms") ||
               header_is(ptr, nlen, "x-ms-retry-after-ms")) {
        ms = azt__parse_ms(v, vlen);
        if (ms > r->retry_after_ms)
            r->retry_after_ms = ms;
    }
    if (slot) {
        free(*slot);
        *slot = azt_xstrndup(v, vlen);
    }
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    take_header(ud, ptr, size * nmemb);
    return size * nmemb;
}

/* ------------------------------------------------------------------------ */
/* Client                                                                    */

static char *endpoint_path(const char *endpoint)
{
    const char *p = strstr(endpoint, "://");
    const char *slash;
    size_t n;

    p = p ? p + 3 : endpoint;
    slash = strchr(p, '/');
    if (!slash)
        return azt_xstrdup("");
    n = strlen(slash);
    while (n && slash[n - 1] == '/')
        n--;
    return azt_xstrndup(slash, n);
}

/* The account, its credentials and the endpoint (without trailing '/'),
 * copied from the connection. */
static void copy_conn(struct azt_client *c, const struct azt_conn *conn)
{
    const char *sas;
    size_t n;

    c->account = azt_xstrdup(conn->account);
    if (conn->key && conn->key_len) {
        c->key = azt_xmalloc(conn->key_len);
        memcpy(c->key, conn->key, conn->key_len);
        c->key_len = conn->key_len;
    }
    if (conn->sas) {
        sas = conn->sas[0] == '?' ? conn->sas + 1 : conn->sas;
        if (*sas)
            c->sas = azt_xstrdup(sas);
    }
    n = strlen(conn->table_endpoint);
    while (n && conn->table_endpoint[n - 1] == '/')
        n--;
    c->endpoint = azt_xstrndup(conn->table_endpoint, n);
    c->base_path = endpoint_path(c->endpoint);
}

/* The authorization scheme, and that the client holds what it needs. */
static int choose_auth(struct azt_client *c, const struct azt_client_opts *opts)
{
    c->auth = opts->auth;
    if (c->auth == AZT_AUTH_SHAREDKEY && !c->key && c->sas)
        c->auth = AZT_AUTH_SAS;
    switch (c->auth) {
    case AZT_AUTH_SHAREDKEY:
    case AZT_AUTH_SHAREDKEY_LITE:
        if (!c->key)
            return azt__error(AZT_ECONFIG, "Shared Key authorization needs an AccountKey");
        return AZT_OK;
    case AZT_AUTH_SAS:
        if (!c->sas)
            return azt__error(AZT_ECONFIG, "SAS authorization needs a SharedAccessSignature");
        return AZT_OK;
    case AZT_AUTH_BEARER:
        if (!opts->token_source || !opts->token_source->get_token)
            return azt__error(AZT_ECONFIG, "bearer authorization needs a token source");
        c->token_source = *opts->token_source;
        return AZT_OK;
    default:
        return azt__error(AZT_ECONFIG, "unknown authorization scheme %d", (int)c->auth);
    }
}

/* Limits (a default for each one not given) and the injected seams. */
static void copy_opts(struct azt_client *c, const struct azt_client_opts *opts)
{
    c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000;
    c->request_timeout_ms = opts->request_timeout_ms > 0 ? opts->request_timeout_ms : 30000;
    c->max_attempts = opts->max_attempts > 0 ? opts->max_attempts : 5;
    c->backoff_base_ms = opts->backoff_base_ms > 0 ? opts->backoff_base_ms : 500;
    c->backoff_cap_ms = opts->backoff_cap_ms > 0 ? opts->backoff_cap_ms : 30000;
    c->max_response_bytes =
        opts->max_response_bytes > 0 ? opts->max_response_bytes : (size_t)32 * 1024 * 1024;
    c->ca_file = opts->ca_file ? azt_xstrdup(opts->ca_file) : NULL;
    c->user_agent = azt_xstrdup(opts->user_agent ? opts->user_agent : "azt/" AZT_VERSION);
    c->log = opts->log;
    c->log_ctx = opts->log_ctx;
    c->now = opts->now;
    c->sleep_ms = opts->sleep_ms;
    c->random = opts->random;
    c->cancel = opts->cancel;
    c->transport = opts->transport;
    c->seam_ctx = opts->seam_ctx;
}

int azt_client_create(const struct azt_conn *conn, const struct azt_client_opts *opts,
                      struct azt_client **out)
{
    struct azt_client *c = NULL;
    struct azt_client_opts defaults;
    int rc;

    if (!out)
        return azt__error(AZT_EINVAL, "azt_client_create: out is NULL");
    *out = NULL;
    if (!conn || !conn->table_endpoint || !*conn->table_endpoint || !conn->account ||
        !*conn->account)
        return azt__error(AZT_ECONFIG, "connection has no table endpoint or account name");
    if (strchr(conn->table_endpoint, '?') || strchr(conn->table_endpoint, '#'))
        return azt__error(AZT_ECONFIG, "table endpoint must not hold a query string");
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return azt__error(AZT_ERROR, "curl_global_init failed: %s",
                          curl_easy_strerror(curl_init_rc));
    if (!opts) {
        memset(&defaults, 0, sizeof(defaults));
        opts = &defaults;
    }

    c = azt_xcalloc(1, sizeof(*c));
    copy_conn(c, conn);
    rc = choose_auth(c, opts);
    if (rc != AZT_OK)
        goto done;
    copy_opts(c, opts);
    c->curl = curl_easy_init();
    if (!c->curl) {
        rc = azt__error(AZT_ERROR, "curl_easy_init failed");
        goto done;
    }
    *out = c;
    c = NULL;
done:
    azt_client_destroy(c);
    return rc;
}

void azt_client_destroy(struct azt_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->account);
    if (c->key) {
        OPENSSL_cleanse(c->key, c->key_len);
        free(c->key);
    }
    if (c->sas) {
        OPENSSL_cleanse(c->sas, strlen(c->sas));
        free(c->sas);
    }
    free(c->endpoint);
    free(c->base_path);
    free(c->ca_file);
    free(c->user_agent);
    free(c);
}

time_t azt_client_server_time(const struct azt_client *c)
{
    return c ? c->server_time : 0;
}

const char *azt__client_endpoint(const struct azt_client *c)
{
    return c->endpoint;
}

void azt_client_stats(const struct azt_client *c, struct azt_stats *out)
{
    if (!out)
        return;
    if (!c) {
        memset(out, 0, sizeof(*out));
        return;
    }
    *out = c->stats;
}

/* ------------------------------------------------------------------------ */
/* One attempt                                                               */

/* The client request id: a random (v4) UUID that only tells requests apart
 * in the service's logs. It needs no CSPRNG: getrandom() is one system call,
 * where RAND_bytes' first call seeds OpenSSL's DRBG (a fifth of a no-op
 * run's instructions). */
static void uuid4(const struct azt_client *c, char out[37])
{
    unsigned char b[16];
    size_t i;
    uint32_t r;

    if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t)sizeof(b)) {
        for (i = 0; i < sizeof(b); i += 4) {
            r = random_of(c);
            memcpy(b + i, &r, 4);
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static int add_header(struct curl_slist **h, const char *line)
{
    struct curl_slist *n = curl_slist_append(*h, line);

    if (!n)
        return azt__error(AZT_ENOMEM, "curl_slist_append failed");
    *h = n;
    return AZT_OK;
}

static int add_headerf(struct curl_slist **h, const char *fmt, ...) AZT_PRINTF(2, 3);

static int add_headerf(struct curl_slist **h, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        return azt__error(AZT_EINVAL, "header too long");
    return add_header(h, line);
}

static int has_header(const char *const extra[], const char *name)
{
    size_t n = strlen(name);
    size_t i;

    for (i = 0; extra && extra[i]; i++) {
        if (strncasecmp(extra[i], name, n) == 0 && extra[i][n] == ':')
            return 1;
    }
    return 0;
}

/* Adds Authorization for the configured scheme. */
static int add_auth(struct azt_client *c, struct curl_slist **h, const char *verb,
                    const char *content_type, const char *date, const char *canon_path,
                    const char *query, int force_refresh)
{
    char *sts = NULL;
    char *token = NULL;
    char sig[45];
    char *line = NULL;
    time_t expires = 0;
    size_t tlen;
    int rc = AZT_OK;

    switch (c->auth) {
    case AZT_AUTH_SHAREDKEY:
    case AZT_AUTH_SHAREDKEY_LITE:
        rc = azt_string_to_sign(c->auth, verb, "", content_type ? content_type : "", date,
                                c->account, canon_path, query, &sts);
        if (rc != AZT_OK)
            goto done;
        rc = azt_hmac_sha256_b64(c->key, c->key_len, sts, strlen(sts), sig);
        if (rc != AZT_OK)
            goto done;
        rc = add_headerf(h, "Authorization: %s %s:%s",
                         c->auth == AZT_AUTH_SHAREDKEY ? "SharedKey" : "SharedKeyLite", c->account,
                         sig);
        break;
    case AZT_AUTH_BEARER:
        rc = c->token_source.get_token(c->token_source.ctx, force_refresh, &token, &expires);
        if (rc == AZT_ENET) {
            rc = azt__error(AZT_ENET, "the bearer token source could not reach its token "
                                      "endpoint");
            goto done;
        }
        if (rc != 0 || !token || !*token) {
            rc = azt__error(AZT_EAUTH, "the bearer token source returned no token");
            goto done;
        }
        tlen = strlen(token);
        line = azt_xmalloc(tlen + 32);
        snprintf(line, tlen + 32, "Authorization: Bearer %s", token);
        rc = add_header(h, line);
        OPENSSL_cleanse(line, strlen(line));
        break;
    case AZT_AUTH_SAS:
    default:
        break;
    }
done:
    free(sts);
    if (token) {
        OPENSSL_cleanse(token, strlen(token));
        free(token);
    }
    free(line);
    return rc;
}

/* One exchange through libcurl; the HTTP status, 0 when none came. */
static long send_curl(struct azt_client *c, const char *verb, const char *url, struct curl_slist *h,
                      const char *body, size_t body_len, struct xfer *x, CURLcode *cc,
                      char errbuf[CURL_ERROR_SIZE])
{
    long status = 0;
    long low_speed_s;

    low_speed_s = c->request_timeout_ms / 1000;
    if (low_speed_s < 1)
        low_speed_s = 1;
    if (low_speed_s > 30)
        low_speed_s = 30;

    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, x);
    if (c->cancel) {
        curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c->curl, CURLOPT_XFERINFODATA, x);
        curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
    }
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->request_timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, low_speed_s);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file)
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    if (body) {
        curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        if (strcmp(verb, "POST") != 0)
            curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, verb);
    } else if (strcmp(verb, "GET") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(verb, "POST") == 0 || strcmp(verb, "PUT") == 0 ||
               strcmp(verb, "MERGE") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, "");
        if (strcmp(verb, "POST") != 0)
            curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, verb);
    } else {
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, verb);
    }

    *cc = curl_easy_perform(c->curl);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* One exchange through the transport seam (azt_http_request), its answer
 * read by the same callbacks as libcurl's, so a fixture is parsed exactly as
 * a response from the wire is. */
static long send_seam(struct azt_client *c, const char *verb, const char *url,
                      const struct curl_slist *h, const char *body, size_t body_len, struct xfer *x,
                      CURLcode *cc)
{
    struct azt_http_request req = {verb, url, NULL, body, body_len};
    struct azt_http_response res = {0, NULL, NULL, 0};
    const struct curl_slist *p;
    const char **lines;
    const char *s, *e;
    size_t n = 0;

    for (p = h; p; p = p->next)
        n++;
    lines = azt_xcalloc(n + 1, sizeof(*lines));
    n = 0;
    for (p = h; p; p = p->next)
        lines[n++] = p->data;
    req.headers = lines;
    if (c->transport(c->seam_ctx, &req, &res) != 0) {
        free(lines);
        *cc = CURLE_COULDNT_CONNECT;
        return 0;
    }
    free(lines);
    for (s = res.headers; s && *s; s = *e ? e + 1 : e) {
        e = s + strcspn(s, "\n");
        take_header(x, s, (size_t)(e - s));
    }
    if (res.body_len && take_body(x, res.body, res.body_len) != res.body_len) {
        *cc = CURLE_WRITE_ERROR;
        return 0;
    }
    *cc = CURLE_OK;
    return res.status;
}

/* The URL sent (endpoint, path and query, the SAS appended), the canonical
 * path signed (exactly the path component sent) and the query without its
 * '?' (*query, malloc'd; NULL when there is none). */
static int request_target(const struct azt_client *c, const char *path_and_query,
                          struct azt_buf *url, struct azt_buf *canon, char **query)
{
    const char *q = strchr(path_and_query, '?');
    int rc;

    if ((rc = azt__buf_appendf(url, "%s%s", c->endpoint, path_and_query)) != AZT_OK)
        return rc;
    if (c->sas && (rc = azt__buf_appendf(url, "%c%s", q ? '&' : '?', c->sas)) != AZT_OK)
        return rc;
    if ((rc = azt__buf_append(canon, c->base_path, strlen(c->base_path))) != AZT_OK)
        return rc;
    if ((rc = azt__buf_append(canon, path_and_query,
                              q ? (size_t)(q - path_and_query) : strlen(path_and_query))) != AZT_OK)
        return rc;
    if (q)
        *query = azt_xstrdup(q + 1);
    return AZT_OK;
}

/* The headers of every request, the caller's extra ones, then the
 * authorization over the canonical path and query. */
static int request_headers(struct azt_client *c, struct curl_slist **h, const char *verb,
                           const char *content_type, const char *body, const char *const extra[],
                           const char *canon, const char *query, int force_refresh)
{
    char date[30];
    char reqid[37];
    size_t i;
    int rc;

    azt_format_http_date(now_of(c), date);
    uuid4(c, reqid);
    if ((rc = add_headerf(h, "x-ms-date: %s", date)) != AZT_OK ||
        (rc = add_header(h, "x-ms-version: " AZT_X_MS_VERSION)) != AZT_OK ||
        (rc = add_header(h, "DataServiceVersion: 3.0")) != AZT_OK ||
        (rc = add_header(h, "MaxDataServiceVersion: 3.0;NetFx")) != AZT_OK ||
        (rc = add_headerf(h, "x-ms-client-request-id: %s", reqid)) != AZT_OK ||
        (rc = add_header(h, "Expect:")) != AZT_OK)
        return rc;
    if (!has_header(extra, "Accept") &&
        (rc = add_headerf(h, "Accept: %s", azt__accept_for(AZT_META_MINIMAL))) != AZT_OK)
        return rc;
    if (body && content_type && (rc = add_headerf(h, "Content-Type: %s", content_type)) != AZT_OK)
        return rc;
    for (i = 0; extra && extra[i]; i++) {
        if ((rc = add_header(h, extra[i])) != AZT_OK)
            return rc;
    }
    return add_auth(c, h, verb, body ? content_type : "", date, canon, query, force_refresh);
}

/* Performs one attempt. Returns the CURLcode via *cc; rc is an azt_err for
 * failures that happened before sending (those are final). */
static int attempt(struct azt_client *c, const char *verb, const char *path_and_query,
                   const char *content_type, const char *body, size_t body_len,
                   const char *const extra[], int force_refresh, struct azt__response *resp,
                   CURLcode *cc, int *toobig, char errbuf[CURL_ERROR_SIZE])
{
    struct azt_buf url = {0};
    struct azt_buf canon = {0};
    struct curl_slist *h = NULL;
    struct xfer x;
    char *query = NULL;
    long status = 0;
    time_t t;
    int rc;

    *cc = CURLE_OK;
    *toobig = 0;
    errbuf[0] = '\0';
    response_reset(resp, c->max_response_bytes);
    rc = request_target(c, path_and_query, &url, &canon, &query);
    if (rc == AZT_OK)
        rc = request_headers(c, &h, verb, content_type, body, extra, canon.ptr, query,
                             force_refresh);
    if (rc != AZT_OK)
        goto done;

    x.c = c;
    x.resp = resp;
    x.toobig = 0;
    c->stats.requests++;
    if (c->transport)
        status = send_seam(c, verb, url.ptr, h, body, body_len, &x, cc);
    else
        status = send_curl(c, verb, url.ptr, h, body, body_len, &x, cc, errbuf);
    *toobig = x.toobig;
    resp->status = *cc == CURLE_OK ? status : 0;
    c->stats.bytes_in += resp->body.len;
    if (resp->date && azt_parse_http_date(resp->date, &t) == AZT_OK)
        c->server_time = t;
done:
    /* the pointers handed to curl die here; drop them from the handle */
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(h);
    azt__buf_dispose(&url);
    azt__buf_dispose(&canon);
    free(query);
    return rc;
}

/* Transport errors worth another attempt. */
static int transport_retryable(CURLcode cc, unsigned flags)
{
    if (flags & AZT__REQ_NONIDEMPOTENT)
        return cc == CURLE_COULDNT_CONNECT;
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return 1;
    default:
        return 0;
    }
}

/* The server's certificate (or the CA file meant to verify it) is wrong:
 * a retry cannot help. */
static int tls_verify_failed(CURLcode cc)
{
    return cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
           cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_ISSUER_ERROR;
}

static int tls_error(const struct azt_client *c, CURLcode cc, const char *errbuf)
{
    const char *host = strstr(c->endpoint, "://");
    size_t n;

    host = host ? host + 3 : c->endpoint;
    n = strcspn(host, "/");
    return azt__error(AZT_ETLS, "the TLS certificate of %.*s does not verify (%s%s%s)", (int)n,
                      host, curl_easy_strerror(cc), errbuf[0] && !strchr(errbuf, '?') ? ": " : "",
                      errbuf[0] && !strchr(errbuf, '?') ? errbuf : "");
}

static int status_retry_allowed(long status, unsigned flags)
{
    if (!azt__status_retryable(status))
        return 0;
    if (flags & AZT__REQ_NONIDEMPOTENT)
        return status == 503 || status == 429;
    return 1;
}

static int map_status(long status)
{
    if (status == 401 || status == 403)
        return AZT_EAUTH;
    if (status == 404)
        return AZT_ENOTFOUND;
    if (status == 409)
        return AZT_ECONFLICT;
    if (azt__status_retryable(status))
        return AZT_ETHROTTLED;
    return AZT_EHTTP;
}

/* The request path for messages: endpoint path + path, without the query. */
static void msg_path(const struct azt_client *c, const char *path_and_query, char *out,
                     size_t outsz)
{
    const char *q = strchr(path_and_query, '?');
    int n = q ? (int)(q - path_and_query) : (int)strlen(path_and_query);

    snprintf(out, outsz, "%s%.*s", c->base_path, n, path_and_query);
}

static int final_http_error(struct azt_client *c, const char *verb, const char *mpath,
                            struct azt__response *resp, int attempts)
{
    struct azt_service_error se;
    char tries[32] = "";

    memset(&se, 0, sizeof(se));
    azt_service_error_parse(resp->body.ptr ? resp->body.ptr : "", resp->body.len, &se);
    if (!resp->error_code && se.code[0])
        resp->error_code = azt_xstrdup(se.code);
    (void)c;
    if (attempts > 1)
        snprintf(tries, sizeof(tries), " after %d attempts", attempts);
    return azt__error(map_status(resp->status), "%s %s: %ld %s%s%s (request id %s)%s", verb, mpath,
                      resp->status, resp->error_code ? resp->error_code : "",
                      se.message[0] ? ": " : "", se.message,
                      resp->request_id ? resp->request_id : "none", tries);
}

/* After an attempt that did not succeed: the final error, or AZT_OK when
 * another attempt may follow. */
static int attempt_verdict(struct azt_client *c, const char *verb, const char *mpath,
                           unsigned flags, CURLcode cc, struct azt__response *resp, int tries,
                           const char *errbuf)
{
    if (cc == CURLE_OK) {
        if (!status_retry_allowed(resp->status, flags) || tries >= c->max_attempts)
            return final_http_error(c, verb, mpath, resp, tries);
    } else if (tls_verify_failed(cc)) {
        return tls_error(c, cc, errbuf);
    } else if (!transport_retryable(cc, flags) || tries >= c->max_attempts) {
        return azt__error(AZT_ENET, "%s %s: %s%s%s after %d attempt%s", verb, mpath,
                          curl_easy_strerror(cc), errbuf[0] && !strchr(errbuf, '?') ? ": " : "",
                          errbuf[0] && !strchr(errbuf, '?') ? errbuf : "", tries,
                          tries == 1 ? "" : "s");
    }
    return AZT_OK;
}

/* Says why another attempt follows and waits for it (the backoff, or the
 * server's Retry-After). */
static void wait_to_retry(struct azt_client *c, const char *verb, const char *mpath, CURLcode cc,
                          const struct azt__response *resp, int tries)
{
    long delay = azt_backoff_ms(tries - 1, c->backoff_base_ms, c->backoff_cap_ms,
                                cc == CURLE_OK ? resp->retry_after_ms : -1, random_of(c));

    if (cc == CURLE_OK)
        azt__warn(c, "azt: %s %s: %ld %s (request id %s), retry %d/%d in %ld ms", verb, mpath,
                  resp->status, resp->error_code ? resp->error_code : "",
                  resp->request_id ? resp->request_id : "none", tries, c->max_attempts - 1, delay);
    else
        azt__warn(c, "azt: %s %s: %s, retry %d/%d in %ld ms", verb, mpath, curl_easy_strerror(cc),
                  tries, c->max_attempts - 1, delay);
    sleep_of(c, delay);
}

int azt__request(struct azt_client *c, const char *verb, const char *path_and_query,
                 const char *content_type, const char *body, size_t body_len,
                 const char *const extra_headers[], unsigned flags, struct azt__response *resp)
{
    char errbuf[CURL_ERROR_SIZE];
    char mpath[512];
    CURLcode cc = CURLE_OK;
    int toobig = 0;
    int tries = 0;
    int refreshed = 0;
    int force_refresh = 0;
    int rc;

    if (resp) {
        memset(resp, 0, sizeof(*resp));
        resp->retry_after_ms = -1;
    }
    if (!c || !verb || !path_and_query || path_and_query[0] != '/' || !resp)
        return azt__error(AZT_EINVAL, "azt__request: bad arguments");
    msg_path(c, path_and_query, mpath, sizeof(mpath));

    for (;;) {
        rc = attempt(c, verb, path_and_query, content_type, body, body_len, extra_headers,
                     force_refresh, resp, &cc, &toobig, errbuf);
        tries++;
        force_refresh = 0;
        if (rc != AZT_OK)
            return rc;
        if (cc == CURLE_ABORTED_BY_CALLBACK && canceled(c))
            return azt__error(AZT_ECANCELED, "%s %s: canceled", verb, mpath);
        if (toobig)
            return azt__error(AZT_ETOOBIG, "%s %s: response larger than the %zu-byte limit", verb,
                              mpath, c->max_response_bytes);
        if (cc == CURLE_OK && resp->status >= 200 && resp->status < 300) {
            azt__error_clear();
            return AZT_OK;
        }
        if (cc == CURLE_OK && resp->status == 401 && c->auth == AZT_AUTH_BEARER && !refreshed) {
            /* one immediate retry with a fresh token; not counted as an attempt */
            refreshed = 1;
            force_refresh = 1;
            tries--;
            continue;
        }
        rc = attempt_verdict(c, verb, mpath, flags, cc, resp, tries, errbuf);
        if (rc != AZT_OK)
            return rc;
        if (canceled(c))
            return azt__error(AZT_ECANCELED, "%s %s: canceled", verb, mpath);
        wait_to_retry(c, verb, mpath, cc, resp, tries);
        if (canceled(c))
            return azt__error(AZT_ECANCELED, "%s %s: canceled", verb, mpath);
        c->stats.retries++;
    }
}
