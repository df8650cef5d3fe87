/*
 * sink_webhook.c - the HTTPS webhook sink (worker/README.md, The contract).
 *
 * LEADSYNC_SINKS=webhook:URL. Every delivery is a POST of the lead's JSON body
 * (or, with LEADSYNC_WEBHOOK_FORMAT=marketplace, the marketplace's own
 * HTTPS-endpoint payload) with:
 *   Content-Type: application/json
 *   webhook-id: <delivery id>         stable per row version, same on every retry
 *   webhook-timestamp: <unix seconds> fresh per attempt
 *   webhook-signature: v1,<base64>    Standard Webhooks, when a secret is set
 *   Idempotency-Key: <delivery id>    equal to webhook-id
 *   User-Agent: leadsync/<version>
 *   extra headers from LEADSYNC_WEBHOOK_HEADERS (e.g. an API key; never logged)
 *
 * Transport: one curl multi handle per sink; a batch of up to
 * LEADSYNC_DELIVERY_BATCH items (distinct leads, so order is safe) goes out
 * with at most LEADSYNC_MAX_IN_FLIGHT requests at once over kept-alive
 * connections, paced to LEADSYNC_RATE_LIMIT requests per second when set.
 * TLS verification is always on; LEADSYNC_WEBHOOK_CA_FILE replaces the
 * system CA bundle. Redirects are never followed. Plain http:// is accepted
 * only for loopback hosts. Every request has a timeout
 * (LEADSYNC_WEBHOOK_TIMEOUT_SECONDS).
 *
 * Outcomes: see ls_webhook.h. Once an answer says "throttled" (or a fatal
 * one arrives), no further request of the batch is started; the items never
 * sent come back as RETRY with status 0 and throttled=1, which the delivery
 * engine reads as "not attempted" (no attempt counted).
 *
 * check: an OPTIONS request with the extra headers. Any HTTP answer proves
 * the endpoint reachable (TLS included), except 401/403 (the API key is
 * refused) and 410 (the endpoint is gone). Nothing is delivered.
 */
#include "ls_webhook.h"

#include "ls_crm.h"
#include "ls_lead.h"
#include "ls_log.h"
#include "ls_sink.h"
#include "ls_url.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define COMP "sink:webhook"

/* ------------------------------------------------------------------------ */
/* pure helpers (ls_webhook.h)                                               */

int ls_webhook_key_decode(const char *secret, unsigned char key[LS_WEBHOOK_KEY_MAX], size_t *keylen)
{
    unsigned char tmp[3 * 128 / 4 + 4];
    size_t n, i, pad = 0;
    int got;

    *keylen = 0;
    if (strncmp(secret, "whsec_", 6) == 0)
        secret += 6;
    n = strlen(secret);
    if (n == 0 || n % 4 != 0 || n > 128)
        return ls_error(LS_ECONFIG, "LEADSYNC_WEBHOOK_SECRET: expected whsec_ followed by the "
                                    "base64 of 24 to 64 random bytes");
    for (i = 0; i < n; i++) {
        char c = secret[i];

        if (c == '=' && i >= n - 2) {
            pad++;
            continue;
        }
        if (pad || !(isalnum((unsigned char)c) || c == '+' || c == '/'))
            return ls_error(LS_ECONFIG, "LEADSYNC_WEBHOOK_SECRET: not valid base64 after whsec_");
    }
    got = EVP_DecodeBlock(tmp, (const unsigned char *)secret, (int)n);
    if (got < 0 || (size_t)got < pad)
        return ls_error(LS_ECONFIG, "LEADSYNC_WEBHOOK_SECRET: not valid base64 after whsec_");
    got -= (int)pad;
    if (got < 24 || got > LS_WEBHOOK_KEY_MAX) {
        OPENSSL_cleanse(tmp, sizeof(tmp));
        return ls_error(LS_ECONFIG,
                        "LEADSYNC_WEBHOOK_SECRET: decodes to %d bytes; Standard Webhooks secrets "
                        "are 24 to 64 bytes",
                        got);
    }
    memcpy(key, tmp, (size_t)got);
    *keylen = (size_t)got;
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return LS_OK;
}

struct ls_webhook_signer {
    EVP_MAC_CTX *ctx; /* keyed once; EVP_MAC_init without a key restarts it */
};

int ls_webhook_signer_new(const unsigned char *key, size_t keylen, struct ls_webhook_signer **out)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    struct ls_webhook_signer *s = ls_xcalloc(1, sizeof(*s));
    int rc = LS_OK;

    *out = NULL;
    s->ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    if (!s->ctx || !EVP_MAC_init(s->ctx, key, keylen, params)) {
        rc = ls_error(LS_ERROR, "HMAC-SHA256 is not available from OpenSSL");
        ls_webhook_signer_free(s);
        goto done;
    }
    *out = s;
done:
    EVP_MAC_free(mac); /* the context holds its own reference */
    return rc;
}

void ls_webhook_signer_free(struct ls_webhook_signer *s)
{
    if (!s)
        return;
    EVP_MAC_CTX_free(s->ctx); /* cleanses the key state */
    free(s);
}

int ls_webhook_signer_sign(struct ls_webhook_signer *s, const char *id, int64_t ts,
                           const char *body, size_t len, char out[LS_WEBHOOK_SIG_MAX])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    char prefix[256];
    size_t maclen = 0;
    int n;

    out[0] = '\0';
    n = snprintf(prefix, sizeof(prefix), "%s.%lld.", id, (long long)ts);
    if (n < 0 || (size_t)n >= sizeof(prefix))
        return ls_error(LS_EINVAL, "webhook-id is too long to sign");
    /* no key: HMAC restarts from the key state set in ls_webhook_signer_new */
    if (!EVP_MAC_init(s->ctx, NULL, 0, NULL) ||
        !EVP_MAC_update(s->ctx, (const unsigned char *)prefix, (size_t)n) ||
        (len && !EVP_MAC_update(s->ctx, (const unsigned char *)body, len)) ||
        !EVP_MAC_final(s->ctx, mac, &maclen, sizeof(mac)) || maclen != 32)
        return ls_error(LS_ERROR, "HMAC-SHA256 failed");
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen); /* 44 chars + NUL */
    OPENSSL_cleanse(mac, sizeof(mac));
    return LS_OK;
}

int ls_webhook_sign(const unsigned char *key, size_t keylen, const char *id, int64_t ts,
                    const char *body, size_t len, char out[LS_WEBHOOK_SIG_MAX])
{
    struct ls_webhook_signer *s = NULL;
    int rc;

    out[0] = '\0';
    rc = ls_webhook_signer_new(key, keylen, &s);
    if (rc == LS_OK)
        rc = ls_webhook_signer_sign(s, id, ts, body, len, out);
    ls_webhook_signer_free(s);
    return rc;
}

void ls_webhook_classify(int status, const char *transport, long retry_after_ms, const char *body,
                         size_t len, struct ls_sink_result *r)
{
    char ex[LS_WEBHOOK_EXCERPT_MAX + 1];

    memset(r, 0, sizeof(*r));
    r->status = status;
    r->retry_after_ms = -1;
    ls_redact_excerpt(ex, sizeof(ex), body ? body : "", body ? len : 0);
    if (status == 0) {
        r->outcome = LS_SINK_RETRY;
        snprintf(r->error, sizeof(r->error), "no answer: %.280s",
                 transport && *transport ? transport : "transport error");
        return;
    }
    if (status >= 200 && status < 300) {
        r->outcome = LS_SINK_OK;
        return;
    }
    if (status == 429 || (status == 503 && retry_after_ms >= 0)) {
        r->outcome = LS_SINK_RETRY;
        r->throttled = 1;
        r->retry_after_ms = retry_after_ms;
        snprintf(r->error, sizeof(r->error), "HTTP %d (throttled%s): %s", status,
                 retry_after_ms >= 0 ? ", Retry-After" : "", ex);
        return;
    }
    if (status == 408 || status == 409 || status == 425 || status >= 500) {
        r->outcome = LS_SINK_RETRY;
        r->retry_after_ms = retry_after_ms;
        snprintf(r->error, sizeof(r->error), "HTTP %d: %s", status, ex);
        return;
    }
    if (status == 401 || status == 403) {
        r->outcome = LS_SINK_FATAL;
        r->auth = 1;
        snprintf(r->error, sizeof(r->error),
                 "HTTP %d: the receiver refuses our credentials (check LEADSYNC_WEBHOOK_SECRET "
                 "and LEADSYNC_WEBHOOK_HEADERS): %s",
                 status, ex);
        return;
    }
    if (status == 410) {
        r->outcome = LS_SINK_FATAL;
        snprintf(r->error, sizeof(r->error),
                 "HTTP 410 Gone: the endpoint asks to be disabled; leads stay pending until "
                 "LEADSYNC_SINKS names a live URL: %s",
                 ex);
        return;
    }
    if (status >= 300 && status < 400) {
        r->outcome = LS_SINK_FATAL;
        snprintf(r->error, sizeof(r->error),
                 "HTTP %d redirect: redirects are not followed; configure the final URL", status);
        return;
    }
    r->outcome = LS_SINK_REJECT;
    snprintf(r->error, sizeof(r->error), "HTTP %d: %s", status, ex);
}

static int is_token_char(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Headers this sink sets itself: configuration may not override them. */
static int reserved_header(const char *name, size_t n)
{
    static const char *const names[] = {"content-type",    "content-length",    "host",
                                        "webhook-id",      "webhook-timestamp", "webhook-signature",
                                        "idempotency-key", "transfer-encoding", "expect",
                                        "connection",      "user-agent"};
    size_t i;

    for (i = 0; i < LS_ARRAY_LEN(names); i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], name, n) == 0)
            return 1;
    return 0;
}

/* One trimmed, non-empty entry p[0..len): checked, appended to list as "Name: value". */
static int header_entry(const char *p, size_t len, char ***list, size_t *n)
{
    const char *colon = memchr(p, ':', len);
    size_t nl, vs, i;

    if (!colon || colon == p)
        return ls_error(LS_ECONFIG, "LEADSYNC_WEBHOOK_HEADERS: entry %zu is not 'Name: value'",
                        *n + 1);
    nl = (size_t)(colon - p);
    for (i = 0; i < nl; i++)
        if (!is_token_char(p[i]))
            return ls_error(LS_ECONFIG,
                            "LEADSYNC_WEBHOOK_HEADERS: entry %zu has an invalid header name",
                            *n + 1);
    if (reserved_header(p, nl))
        return ls_error(
            LS_ECONFIG,
            "LEADSYNC_WEBHOOK_HEADERS: %.*s is set by leadsync and cannot be overridden", (int)nl,
            p);
    vs = nl + 1;
    while (vs < len && (p[vs] == ' ' || p[vs] == '\t'))
        vs++;
    for (i = vs; i < len; i++)
        if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
            return ls_error(LS_ECONFIG,
                            "LEADSYNC_WEBHOOK_HEADERS: the value of %.*s has a control character",
                            (int)nl, p);
    *list = ls_xrealloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = ls_xasprintf("%.*s: %.*s", (int)nl, p, (int)(len - vs), p + vs);
    return LS_OK;
}

int ls_webhook_headers_parse(const char *spec, char ***out, size_t *n)
{
    char sep = strchr(spec, '\n') ? '\n' : ';';
    const char *p = spec;
    int rc = LS_OK;

    *out = NULL;
    *n = 0;
    while (*p && rc == LS_OK) {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);

        while (len && (*p == ' ' || *p == '\t' || *p == '\r')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
            len--;
        if (len)
            rc = header_entry(p, len, out, n);
        if (!end)
            break;
        p = end + 1;
    }
    if (rc) {
        ls_webhook_headers_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

void ls_webhook_headers_free(char **h, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        ls_secret_free(h[i]);
    free(h);
}

/* ------------------------------------------------------------------------ */
/* the sink                                                                  */

/* The header lines of one request, in their order on the wire; the lines
 * that change per delivery are rewritten in place before it starts. */
enum { H_TYPE, H_ACCEPT, H_EXPECT, H_ID, H_TS, H_SIG, H_IDEM, H_FIXED };

struct hook_xfer {
    CURL *easy;
    /* The header list, linked once (curl reads it when a request starts): the
     * fixed lines, then LEADSYNC_WEBHOOK_HEADERS'; only the texts change. */
    struct curl_slist *hdr;
    char id[320], ts[64], sig[32 + LS_WEBHOOK_SIG_MAX], idem[320];
    struct ls_buf body; /* reused: its length is reset per request */
    size_t idx;
    int busy;
    char ex[4 * LS_WEBHOOK_EXCERPT_MAX]; /* masks are decided past the excerpt's end */
    size_t ex_len;
    long retry_after_ms;
    char errbuf[CURL_ERROR_SIZE];
};

struct hook {
    char *url;
    char *shown;                      /* scheme://host[:port]/path: what messages print */
    struct ls_webhook_signer *signer; /* NULL: deliveries are unsigned */
    int marketplace;
    char **extra; /* "Name: value" */
    size_t nextra;
    char *ca_file;
    long timeout_s;
    long rate; /* requests per second, 0 = unlimited */
    size_t max_in_flight;
    long stop_grace_s; /* after SIGTERM, how long requests in flight may take */
    CURLM *multi;
    struct hook_xfer *xf;
    int64_t next_slot_us; /* rate pacing (monotonic) */
    char ua[64];
};

static int64_t mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct hook_xfer *x = ud;
    size_t n = size * nmemb;
    size_t room = sizeof(x->ex) - x->ex_len;

    if (room) {
        size_t take = n < room ? n : room;

        memcpy(x->ex + x->ex_len, ptr, take);
        x->ex_len += take;
    }
    return n; /* the rest is read and dropped; the timeout bounds it */
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct hook_xfer *x = ud;
    size_t n = size * nmemb;
    static const char name[] = "retry-after:";

    if (n > sizeof(name) - 1 && strncasecmp(ptr, name, sizeof(name) - 1) == 0)
        x->retry_after_ms = azt_retry_after_ms(ptr + sizeof(name) - 1, n - (sizeof(name) - 1),
                                               ls_now_ms(), LS_RETRY_AFTER_MAX_MS);
    else if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
        x->retry_after_ms = -1; /* a new response (after 100 Continue) */
    return n;
}

static int setup_easy(struct hook *h, CURL *e, int ca_required)
{
    CURLcode c = CURLE_OK;

    c |= curl_easy_setopt(e, CURLOPT_URL, h->url);
    c |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    c |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    c |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    c |= curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    c |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca_file && ca_required)
        c |= curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    c |= curl_easy_setopt(e, CURLOPT_TIMEOUT, h->timeout_s);
    c |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, h->timeout_s < 10 ? h->timeout_s : 10L);
    c |= curl_easy_setopt(e, CURLOPT_USERAGENT, h->ua);
    c |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    c |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    c |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    return c == CURLE_OK ? LS_OK : ls_error(LS_ERROR, "webhook: curl_easy_setopt failed");
}

static void hook_free(struct hook *h)
{
    size_t i;

    if (!h)
        return;
    for (i = 0; h->xf && i < h->max_in_flight; i++) {
        if (h->xf[i].easy) {
            if (h->xf[i].busy && h->multi)
                curl_multi_remove_handle(h->multi, h->xf[i].easy);
            curl_easy_cleanup(h->xf[i].easy);
        }
        free(h->xf[i].hdr); /* the nodes; their texts are the transfer's or the sink's */
        free(h->xf[i].body.p);
    }
    free(h->xf);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    ls_webhook_headers_free(h->extra, h->nextra);
    free(h->url);
    free(h->shown);
    free(h->ca_file);
    ls_webhook_signer_free(h->signer); /* cleanses the key state */
    free(h);
    curl_global_cleanup();
}

/* The sink's settings: the URL, the signing key, the body format, the extra
 * headers, the CA file and the limits. */
static int hook_settings(struct hook *h, const char *arg, const struct ls_config *cfg)
{
    int rc;

    if (!arg || !*arg)
        return ls_error(LS_ECONFIG, "LEADSYNC_SINKS: webhook needs a URL (webhook:https://...)");
    rc = ls_url_check(arg, "LEADSYNC_SINKS: webhook",
                      LS_URL_HTTP | LS_URL_TLS_ONLY | LS_URL_NO_USERINFO, NULL);
    if (rc)
        return rc;
    h->url = ls_xstrdup(arg);
    h->shown = ls_url_display(arg);
    if (cfg->webhook_secret && *cfg->webhook_secret) {
        unsigned char key[LS_WEBHOOK_KEY_MAX];
        size_t keylen;

        rc = ls_webhook_key_decode(cfg->webhook_secret, key, &keylen);
        if (rc == LS_OK)
            rc = ls_webhook_signer_new(key, keylen, &h->signer);
        OPENSSL_cleanse(key, sizeof(key)); /* the signer holds its own keyed state */
        if (rc)
            return rc;
    }
    h->marketplace = cfg->webhook_format && strcmp(cfg->webhook_format, "marketplace") == 0;
    if (cfg->webhook_headers && *cfg->webhook_headers) {
        rc = ls_webhook_headers_parse(cfg->webhook_headers, &h->extra, &h->nextra);
        if (rc)
            return rc;
    }
    if (cfg->webhook_ca_file && *cfg->webhook_ca_file) {
        FILE *f = fopen(cfg->webhook_ca_file, "r");

        if (!f)
            return ls_error(LS_ECONFIG, "LEADSYNC_WEBHOOK_CA_FILE: cannot read %s",
                            cfg->webhook_ca_file);
        fclose(f);
        h->ca_file = ls_xstrdup(cfg->webhook_ca_file);
    }
    h->timeout_s = cfg->webhook_timeout_seconds > 0 ? cfg->webhook_timeout_seconds : 15;
    h->rate = cfg->rate_limit > 0 ? cfg->rate_limit : 0;
    h->max_in_flight = cfg->max_in_flight > 0 ? (size_t)cfg->max_in_flight : 1;
    h->stop_grace_s = cfg->stop_grace_seconds;
    snprintf(h->ua, sizeof(h->ua), "leadsync/%s", LS_VERSION);
    return LS_OK;
}

/* Links a transfer's header list once: the fixed lines (webhook-signature only
 * when deliveries are signed), then the configured extra ones. */
static void link_headers(const struct hook *h, struct hook_xfer *x)
{
    char *text[H_FIXED];
    size_t n = 0, i;

    text[H_TYPE] = (char *)"Content-Type: application/json";
    text[H_ACCEPT] = (char *)"Accept: */*";
    text[H_EXPECT] = (char *)"Expect:";
    text[H_ID] = x->id;
    text[H_TS] = x->ts;
    text[H_SIG] = x->sig;
    text[H_IDEM] = x->idem;
    x->hdr = ls_xcalloc(H_FIXED + h->nextra, sizeof(*x->hdr));
    for (i = 0; i < H_FIXED; i++)
        if (i != H_SIG || h->signer)
            x->hdr[n++].data = text[i];
    for (i = 0; i < h->nextra; i++)
        x->hdr[n++].data = h->extra[i];
    for (i = 0; i + 1 < n; i++)
        x->hdr[i].next = &x->hdr[i + 1];
}

/* The multi handle and one easy handle per request that may be in flight. */
static int hook_transfers(struct hook *h)
{
    size_t i;
    int rc;

    h->multi = curl_multi_init();
    if (!h->multi)
        return ls_error(LS_ERROR, "webhook: curl_multi_init failed");
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)h->max_in_flight);
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)h->max_in_flight);
    h->xf = ls_xcalloc(h->max_in_flight, sizeof(*h->xf));
    for (i = 0; i < h->max_in_flight; i++) {
        struct hook_xfer *x = &h->xf[i];

        x->easy = curl_easy_init();
        if (!x->easy)
            return ls_error(LS_ERROR, "webhook: curl_easy_init failed");
        rc = setup_easy(h, x->easy, 1);
        if (rc)
            return rc;
        link_headers(h, x);
        curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
        curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
        curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
        curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->hdr);
    }
    return LS_OK;
}

static int hook_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    struct hook *h;
    int rc;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return ls_error(LS_ERROR, "webhook: curl_global_init failed");
    h = ls_xcalloc(1, sizeof(*h));
    rc = hook_settings(h, arg, cfg);
    if (rc == LS_OK)
        rc = hook_transfers(h);
    if (rc) {
        hook_free(h); /* curl_global_cleanup included */
        return rc;
    }
    *ctx = h;
    return LS_OK;
}

static void hook_destroy(void *ctx)
{
    hook_free(ctx);
}

/*
 * Builds the body of one item into x->body; -1 when the lead cannot be
 * serialized. The contract's body is the stored lead text in its envelope,
 * as the JSONL sink writes it (the engine hands it over unparsed:
 * wants_text); only the marketplace format reads the lead's fields.
 */
static int item_body(const struct hook *h, const struct ls_sink_item *it, struct hook_xfer *x)
{
    json_t *lead, *body;
    char *txt;

    x->body.len = 0;
    if (!h->marketplace) {
        if (!it->payload)
            return -1;
        ls_buf_puts(&x->body, ls_lead_envelope_prefix(it->created));
        ls_buf_puts(&x->body, it->payload);
        ls_buf_add(&x->body, "}", 1);
        return 0;
    }
    lead =
        it->lead ? json_incref(it->lead) : (it->payload ? json_loads(it->payload, 0, NULL) : NULL);
    body = ls_lead_marketplace_body(lead);
    txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    json_decref(lead);
    if (!txt)
        return -1;
    ls_buf_puts(&x->body, txt);
    free(txt);
    return 0;
}

/* The header lines of one delivery (x->hdr points at them): 0, or -1 when
 * one does not fit or the signature fails (*why says which). */
static int item_headers(struct hook *h, struct hook_xfer *x, const char *delivery_id,
                        const char **why)
{
    char sig[LS_WEBHOOK_SIG_MAX];
    int64_t ts = ls_now_ms() / 1000;
    size_t idl = strlen(delivery_id);

    *why = "could not start the request";
    if (idl >= sizeof(x->id) - sizeof("Idempotency-Key: "))
        return -1;
    snprintf(x->id, sizeof(x->id), "webhook-id: %s", delivery_id);
    snprintf(x->ts, sizeof(x->ts), "webhook-timestamp: %lld", (long long)ts);
    snprintf(x->idem, sizeof(x->idem), "Idempotency-Key: %s", delivery_id);
    if (!h->signer)
        return 0;
    if (ls_webhook_signer_sign(h->signer, delivery_id, ts, x->body.p, x->body.len, sig) != LS_OK) {
        *why = ls_error_last();
        return -1;
    }
    snprintf(x->sig, sizeof(x->sig), "webhook-signature: %s", sig);
    return 0;
}

/* Prepares and adds one transfer; fills *res and returns 1 when the item was
 * settled without a request (unserializable lead, a header that cannot be
 * made, curl refusing it). */
static int start_item(struct hook *h, struct hook_xfer *x, const struct ls_sink_item *it,
                      size_t idx, struct ls_sink_result *res)
{
    const char *why;

    if (item_body(h, it, x) != 0) {
        ls_webhook_classify(400, NULL, -1, "lead is not serializable", 24, res);
        return 1;
    }
    if (item_headers(h, x, it->delivery_id, &why) != 0) {
        ls_webhook_classify(0, why, -1, NULL, 0, res);
        return 1;
    }
    x->idx = idx;
    x->ex_len = 0;
    x->retry_after_ms = -1;
    x->errbuf[0] = '\0';
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)x->body.len);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body.p);
    if (curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
        ls_webhook_classify(0, "could not start the request", -1, NULL, 0, res);
        return 1;
    }
    x->busy = 1;
    return 0;
}

static void release_xfer(struct hook *h, struct hook_xfer *x)
{
    curl_multi_remove_handle(h->multi, x->easy);
    x->busy = 0;
}

/* A transfer that failed for a reason a retry cannot fix (TLS trust, the
 * URL): 1 with what to do in out; deliveries and check say the same. */
static int config_failure(const struct hook *h, CURLcode cc, const char *why, char *out,
                          size_t outlen)
{
    const char *host = strstr(h->shown, "://");
    size_t n;

    host = host ? host + 3 : h->shown;
    n = strcspn(host, "/?#");
    if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
        cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_ISSUER_ERROR) {
        snprintf(out, outlen,
                 "the TLS certificate of %.*s does not verify (%.200s): if it uses a private CA, "
                 "set LEADSYNC_WEBHOOK_CA_FILE to its PEM bundle",
                 (int)(n > 200 ? 200 : n), host, why);
        return 1;
    }
    if (cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT) {
        snprintf(out, outlen, "%.200s: check the webhook URL in LEADSYNC_SINKS", why);
        return 1;
    }
    return 0;
}

static void finish_xfer(struct hook *h, struct hook_xfer *x, CURLcode cc,
                        struct ls_sink_result *res)
{
    long status = 0;

    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_OK && status > 0) {
        ls_webhook_classify((int)status, NULL, x->retry_after_ms, x->ex, x->ex_len, res);
    } else {
        char msg[CURL_ERROR_SIZE + 64];

        snprintf(msg, sizeof(msg), "%s%s%s", curl_easy_strerror(cc), x->errbuf[0] ? ": " : "",
                 x->errbuf);
        ls_webhook_classify(0, msg, -1, NULL, 0, res);
        if (config_failure(h, cc, msg, res->error, sizeof(res->error)))
            res->outcome = LS_SINK_FATAL;
    }
    release_xfer(h, x);
}

/*
 * A signal while the batch is out (ls_stop_requested): nothing new starts;
 * the requests in flight get the stop grace to answer. Returns 1 when they
 * must be cut off now (grace over, or a second signal). *until_us is 0 until
 * the stop is first seen.
 */
static int stop_now(const struct hook *h, size_t active, int64_t *until_us)
{
    if (!ls_stop_requested)
        return 0;
    if (!*until_us) {
        *until_us = mono_us() + (int64_t)h->stop_grace_s * 1000000;
        if (active)
            LS_INFO(COMP, "finishing %zu in-flight deliveries (again to stop now)", active);
    }
    return ls_stop_requested > 1 || mono_us() >= *until_us;
}

/* Cuts off every request still in flight: reported not sent (the receiver
 * may have it; it goes out again under the same webhook-id). */
static void cut_off(struct hook *h, struct ls_sink_result *results)
{
    size_t i;

    for (i = 0; i < h->max_in_flight; i++) {
        if (!h->xf[i].busy)
            continue;
        ls_sink_not_sent(&results[h->xf[i].idx], "stopped by a signal before the answer came");
        release_xfer(h, &h->xf[i]);
    }
}

/* One deliver() call: its items, how far it got, and whether it halted. */
struct hook_batch {
    const struct ls_sink_item *items;
    struct ls_sink_result *results;
    size_t n;
    size_t next;   /* the first item not started */
    size_t active; /* requests in flight */
    int halt;      /* throttled, fatal or stopping: start nothing more */
};

/* LEADSYNC_RATE_LIMIT: 0 when a request may start now (its slot is taken),
 * else the milliseconds until the next slot. */
static long pace(struct hook *h)
{
    int64_t now, gap;

    if (!h->rate)
        return 0;
    now = mono_us();
    if (h->next_slot_us > now)
        return (long)((h->next_slot_us - now + 999) / 1000);
    gap = 1000000 / h->rate;
    h->next_slot_us = (h->next_slot_us > now - gap ? h->next_slot_us : now) + gap;
    return 0;
}

static struct hook_xfer *idle_xfer(struct hook *h)
{
    size_t i;

    for (i = 0; i < h->max_in_flight; i++)
        if (!h->xf[i].busy)
            return &h->xf[i];
    return NULL;
}

/* Starts items while a transfer is idle and the pace allows; returns how
 * long the poll may wait for activity (ms). */
static long start_more(struct hook *h, struct hook_batch *b)
{
    long wait_ms = 1000;

    while (!b->halt && b->next < b->n && b->active < h->max_in_flight) {
        struct hook_xfer *x;
        long w = pace(h);

        if (w > 0)
            return w < wait_ms ? w : wait_ms;
        x = idle_xfer(h);
        if (!x)
            break;
        if (start_item(h, x, &b->items[b->next], b->next, &b->results[b->next]) == 0)
            b->active++;
        b->next++;
    }
    return wait_ms;
}

/* Settles every transfer curl reports done; a throttled or fatal answer
 * halts the batch. Returns how many finished. */
static int collect(struct hook *h, struct hook_batch *b)
{
    int finished = 0, left;
    CURLMsg *m;

    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        struct hook_xfer *x = NULL;
        struct ls_sink_result *r;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (!x)
            continue;
        r = &b->results[x->idx];
        finish_xfer(h, x, m->data.result, r);
        b->active--;
        finished++;
        if (ls_sink_halts(r)) {
            if (!b->halt)
                LS_DEBUG(COMP, "halting the batch after HTTP %d", r->status);
            b->halt = 1;
        }
    }
    return finished;
}

static int hook_deliver(void *ctx, const struct ls_sink_item *items, size_t n,
                        struct ls_sink_result *results)
{
    struct hook *h = ctx;
    struct hook_batch b = {items, results, n, 0, 0, 0};
    int64_t stop_until_us = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof(results[i]));
        results[i].retry_after_ms = -1;
    }
    while (b.next < n || b.active > 0) {
        long wait_ms;
        int running = 0;

        if (stop_now(h, b.active, &stop_until_us)) {
            cut_off(h, results);
            break;
        }
        b.halt = b.halt || ls_stop_requested;
        wait_ms = start_more(h, &b);
        if (b.active == 0 && (b.halt || b.next >= n))
            break;
        curl_multi_perform(h->multi, &running);
        /* A finished transfer freed a slot: start the next item now rather
         * than wait in poll for activity that may not come for a while. */
        if (collect(h, &b) && !b.halt && b.next < n)
            continue;
        if (b.active > 0 || (!b.halt && b.next < n))
            curl_multi_poll(h->multi, NULL, 0, (int)wait_ms, NULL);
    }
    for (i = b.next; i < n; i++)
        ls_sink_not_sent(&results[i], ls_stop_requested ? "stopping on a signal" : LS_SINK_HALTED);
    return LS_OK;
}

static int hook_check(void *ctx, char *msg, size_t msglen)
{
    struct hook *h = ctx;
    struct curl_slist *hdrs = NULL;
    struct hook_xfer x;
    CURL *e = NULL;
    CURLcode cc;
    long status = 0;
    size_t i;
    int rc = LS_OK;

    memset(&x, 0, sizeof(x));
    x.retry_after_ms = -1;
    e = curl_easy_init();
    if (!e) {
        snprintf(msg, msglen, "curl_easy_init failed");
        return LS_ERROR;
    }
    rc = setup_easy(h, e, 1);
    if (rc) {
        snprintf(msg, msglen, "%s", ls_error_last());
        goto done;
    }
    for (i = 0; i < h->nextra; i++) {
        struct curl_slist *n = curl_slist_append(hdrs, h->extra[i]);

        if (n)
            hdrs = n;
    }
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "OPTIONS");
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x.errbuf);
    cc = curl_easy_perform(e);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK || status == 0) {
        char why[CURL_ERROR_SIZE + 64];

        snprintf(why, sizeof(why), "%s%s%s", curl_easy_strerror(cc), x.errbuf[0] ? ": " : "",
                 x.errbuf);
        rc = LS_ECONFIG;
        if (!config_failure(h, cc, why, msg, msglen)) {
            snprintf(msg, msglen, "%s unreachable: %s", h->shown, why);
            rc = LS_EUNAVAIL;
        }
    } else if (status == 401 || status == 403) {
        snprintf(msg, msglen,
                 "%s answered OPTIONS with %ld: credentials refused (check "
                 "LEADSYNC_WEBHOOK_HEADERS)",
                 h->shown, status);
        rc = LS_EAUTH;
    } else if (status == 410) {
        snprintf(msg, msglen, "%s answered 410 Gone: the endpoint is disabled", h->shown);
        rc = LS_ECONFIG;
    } else {
        snprintf(msg, msglen, "%s answers (OPTIONS: HTTP %ld)%s", h->shown, status,
                 h->signer ? ", deliveries signed" : ", deliveries unsigned");
    }
done:
    ls_crm_headers_free(hdrs);
    curl_easy_cleanup(e);
    return rc;
}

/* The webhook sink's configuration keys (ls_config.h). */
/* clang-format off */
static const struct ls_conf_entry conf_entries[] = {
    {"LEADSYNC_WEBHOOK_SECRET", LS_CONF_STRING, NULL, LS_CONF_AT(webhook_secret), LS_CONF_SECRET, 0, 0, NULL,
     "Standard Webhooks secret (whsec_ + base64); unsigned deliveries when unset", NULL},
    {"LEADSYNC_WEBHOOK_FORMAT", LS_CONF_ENUM, "json", LS_CONF_AT(webhook_format), 0, 0, 0, "json|marketplace",
     "webhook body: leadsync JSON or the marketplace's own HTTPS-endpoint payload", NULL},
    {"LEADSYNC_WEBHOOK_HEADERS", LS_CONF_STRING, NULL, LS_CONF_AT(webhook_headers), LS_CONF_SECRET, 0, 0, NULL,
     "extra webhook headers, 'Name: value' separated by newlines or ';' (e.g. an API key)", NULL},
    {"LEADSYNC_WEBHOOK_CA_FILE", LS_CONF_STRING, NULL, LS_CONF_AT(webhook_ca_file), 0, 0, 0, NULL,
     "CA bundle (PEM) trusted for webhook TLS instead of the system's", NULL},
    {"LEADSYNC_WEBHOOK_TIMEOUT_SECONDS", LS_CONF_INT, "15", LS_CONF_AT(webhook_timeout_seconds), 0, 1, 600, NULL,
     "timeout of every webhook request (connect included)", NULL},
};
/* clang-format on */

const struct ls_sink_ops ls_sink_webhook_ops = {
    .name = "webhook",
    .conf = conf_entries,
    .nconf = LS_ARRAY_LEN(conf_entries),
    .coalesce = 1, /* a receiver wants the newest state; stage never goes back */
    .wants_text = 1,
    .url_arg = 1,
    .create = hook_create,
    .deliver = hook_deliver,
    .check = hook_check,
    .destroy = hook_destroy,
};
