/*
 * sink_email.c - the email notification sink: one message per lead event
 * over SMTP through libcurl (ls_notify.h says what the message holds).
 *
 * LEADSYNC_SINKS=email with LEADSYNC_EMAIL_URL (smtps://HOST:465, or
 * smtp://HOST:587 where STARTTLS is required; plain smtp:// only to a
 * loopback host, which still upgrades when the server offers STARTTLS),
 * LEADSYNC_EMAIL_FROM, LEADSYNC_EMAIL_TO (comma-separated),
 * LEADSYNC_EMAIL_USERNAME and LEADSYNC_EMAIL_PASSWORD (or _FILE) for AUTH.
 * TLS verification is always on; LEADSYNC_EMAIL_CA_FILE replaces the system
 * CA bundle; LEADSYNC_HTTP_TIMEOUT_SECONDS bounds every transaction.
 *
 * The message is built with libcurl's MIME API: the headers of
 * ls_notify_email_headers (Date from the sink's clock, a Message-ID derived
 * from the delivery id) over a multipart/alternative body of a text/plain and
 * a text/html part, both UTF-8 and quoted-printable.
 *
 * One message at a time. Outcomes (ls_notify_smtp_classify): a 5xx refusal
 * (a recipient rejected) is this lead's dead letter; AUTH refused stops the
 * run with exit 77; a 4xx answer or a lost connection pauses the sink
 * without counting an attempt, and the rest of the batch is not sent.
 *
 * check: connects, upgrades to TLS, logs in and sends NOOP; nothing is mailed.
 */
#include "ls_log.h"
#include "ls_notify.h"
#include "ls_sink.h"
#include "ls_url.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mail {
    char *url;
    char *shown;
    char *from;     /* as written: "Leads <leads@example.com>" or an address */
    char *envelope; /* "<leads@example.com>" */
    char *to;       /* the To: header */
    struct curl_slist *rcpt;
    char *user, *pass;
    char *ca_file;
    long use_ssl; /* CURLUSESSL_ALL, or CURLUSESSL_TRY for plain smtp:// to loopback */
    long timeout_s;
    int64_t (*now_ms)(void); /* the Date header's clock */
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
};

static void mail_destroy(void *ctx)
{
    struct mail *m = ctx;

    if (!m)
        return;
    if (m->easy)
        curl_easy_cleanup(m->easy);
    curl_slist_free_all(m->rcpt);
    if (m->pass)
        OPENSSL_cleanse(m->pass, strlen(m->pass));
    free(m->pass);
    free(m->url);
    free(m->shown);
    free(m->from);
    free(m->envelope);
    free(m->to);
    free(m->user);
    free(m->ca_file);
    free(m);
    curl_global_cleanup();
}

/* "Name <a@b>" or "a@b" -> "<a@b>"; NULL when it holds no plausible address
 * or a character a header or an SMTP command cannot carry. */
static char *envelope_of(const char *s)
{
    const char *lt = strrchr(s, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    const char *a = lt && gt ? lt + 1 : s;
    size_t n = lt && gt ? (size_t)(gt - a) : strlen(s), i;
    const char *at;

    for (i = 0; s[i]; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return NULL;
    while (n && *a == ' ') {
        a++;
        n--;
    }
    while (n && a[n - 1] == ' ')
        n--;
    at = memchr(a, '@', n);
    if (!at || at == a || at == a + n - 1 || memchr(a, ' ', n) || memchr(a, '<', n) ||
        memchr(a, '>', n))
        return NULL;
    return ls_xasprintf("<%.*s>", (int)n, a);
}

static int parse_recipients(struct mail *m, const char *list)
{
    const char *p = list;

    while (*p) {
        size_t len = strcspn(p, ",");
        char *one = ls_xstrndup(p, len), *env = envelope_of(one);
        struct curl_slist *n;
        int empty = strspn(one, " \t") == strlen(one);

        free(one);
        p += len + (p[len] == ',');
        if (empty) {
            free(env);
            continue;
        }
        if (!env)
            return ls_error(LS_ECONFIG, "LEADSYNC_EMAIL_TO: '%.*s' is not a mail address",
                            (int)(len > 80 ? 80 : len), p - len - 1);
        n = curl_slist_append(m->rcpt, env);
        free(env);
        if (!n)
            return ls_error(LS_ENOMEM, "email: out of memory");
        m->rcpt = n;
    }
    if (!m->rcpt)
        return ls_error(LS_ECONFIG, "LEADSYNC_EMAIL_TO: name at least one recipient");
    return LS_OK;
}

/* LEADSYNC_EMAIL_URL: smtps://, or smtp:// with STARTTLS required unless loopback. */
static int parse_server(struct mail *m, const char *url)
{
    struct ls_url u;
    int rc = ls_url_check(url, "LEADSYNC_EMAIL_URL", LS_URL_TLS_ONLY | LS_URL_NO_USERINFO, NULL);

    if (rc == LS_OK)
        rc = ls_url_parse(url, "LEADSYNC_EMAIL_URL", &u);
    if (rc)
        return rc;
    if (strcmp(u.scheme, "smtps") != 0 && strcmp(u.scheme, "smtp") != 0)
        return ls_error(LS_ECONFIG,
                        "LEADSYNC_EMAIL_URL: %s:// is not smtps:// (port 465) or smtp:// "
                        "(port 587, STARTTLS)",
                        u.scheme);
    m->use_ssl = strcmp(u.scheme, "smtp") == 0 && u.loopback ? CURLUSESSL_TRY : CURLUSESSL_ALL;
    m->url = ls_xstrdup(url);
    m->shown = ls_url_display(url);
    return LS_OK;
}

static int mail_create(const char *arg, const struct ls_config *cfg, void **ctx)
{
    struct mail *m;
    int rc;

    (void)arg;
    if (!cfg->email_url || !*cfg->email_url || !cfg->email_from || !*cfg->email_from ||
        !cfg->email_to || !*cfg->email_to)
        return ls_error(LS_ECONFIG, "the email sink needs LEADSYNC_EMAIL_URL, LEADSYNC_EMAIL_FROM "
                                    "and LEADSYNC_EMAIL_TO");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return ls_error(LS_ERROR, "email: curl_global_init failed");
    m = ls_xcalloc(1, sizeof(*m));
    m->now_ms = ls_now_ms;
    rc = parse_server(m, cfg->email_url);
    if (rc == LS_OK && !(m->envelope = envelope_of(cfg->email_from)))
        rc = ls_error(LS_ECONFIG, "LEADSYNC_EMAIL_FROM: not a mail address");
    if (rc == LS_OK)
        rc = parse_recipients(m, cfg->email_to);
    if (rc == LS_OK && strpbrk(cfg->email_to, "\r\n"))
        rc = ls_error(LS_ECONFIG, "LEADSYNC_EMAIL_TO: a line break is not allowed");
    if (rc == LS_OK && cfg->email_ca_file && *cfg->email_ca_file) {
        FILE *f = fopen(cfg->email_ca_file, "r");

        if (!f)
            rc = ls_error(LS_ECONFIG, "LEADSYNC_EMAIL_CA_FILE: cannot read %s", cfg->email_ca_file);
        else
            fclose(f);
    }
    if (rc == LS_OK && !(m->easy = curl_easy_init()))
        rc = ls_error(LS_ERROR, "email: curl_easy_init failed");
    if (rc) {
        mail_destroy(m);
        return rc;
    }
    m->from = ls_xstrdup(cfg->email_from);
    m->to = ls_xstrdup(cfg->email_to);
    if (cfg->email_username && *cfg->email_username) {
        m->user = ls_xstrdup(cfg->email_username);
        m->pass = ls_xstrdup(cfg->email_password ? cfg->email_password : "");
    }
    m->ca_file = cfg->email_ca_file && *cfg->email_ca_file ? ls_xstrdup(cfg->email_ca_file) : NULL;
    m->timeout_s = cfg->http_timeout_seconds > 0 ? cfg->http_timeout_seconds : 30;
    *ctx = m;
    return LS_OK;
}

/* The message of one item as a curl MIME structure: multipart/alternative
 * of text/plain and text/html, UTF-8, quoted-printable. */
static curl_mime *build_body(CURL *e, const json_t *lead)
{
    curl_mime *mime = curl_mime_init(e);
    char *text = ls_notify_email_text(lead), *html = ls_notify_email_html(lead);
    curl_mimepart *part;
    int bad = !mime;

    if (!bad && (part = curl_mime_addpart(mime)) != NULL) {
        bad |= curl_mime_data(part, text, CURL_ZERO_TERMINATED) != CURLE_OK;
        bad |= curl_mime_type(part, "text/plain; charset=utf-8") != CURLE_OK;
        bad |= curl_mime_encoder(part, "quoted-printable") != CURLE_OK;
    } else {
        bad = 1;
    }
    if (!bad && (part = curl_mime_addpart(mime)) != NULL) {
        bad |= curl_mime_data(part, html, CURL_ZERO_TERMINATED) != CURLE_OK;
        bad |= curl_mime_type(part, "text/html; charset=utf-8") != CURLE_OK;
        bad |= curl_mime_encoder(part, "quoted-printable") != CURLE_OK;
    } else {
        bad = 1;
    }
    free(text);
    free(html);
    if (bad) {
        curl_mime_free(mime);
        return NULL;
    }
    return mime;
}

/* The options every transaction shares (deliveries and check). */
static void setup_easy(struct mail *m)
{
    CURL *e = m->easy;

    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, m->url);
    curl_easy_setopt(e, CURLOPT_USE_SSL, m->use_ssl);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (m->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, m->ca_file);
    if (m->user) {
        curl_easy_setopt(e, CURLOPT_USERNAME, m->user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, m->pass);
    }
    curl_easy_setopt(e, CURLOPT_TIMEOUT, m->timeout_s);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, m->timeout_s);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, m->errbuf);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    m->errbuf[0] = '\0';
}

/* What a finished transaction came to. */
static enum ls_smtp_failure failure_of(CURLcode cc, long code)
{
    if (cc == CURLE_OK)
        return LS_SMTP_OK;
    if (cc == CURLE_LOGIN_DENIED || code == 535 || code == 534 || code == 530)
        return LS_SMTP_AUTH;
    if (cc == CURLE_USE_SSL_FAILED || cc == CURLE_PEER_FAILED_VERIFICATION ||
        cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM ||
        cc == CURLE_SSL_ISSUER_ERROR || cc == CURLE_UNSUPPORTED_PROTOCOL)
        return LS_SMTP_TLS;
    if (code >= 400 && code < 600)
        return LS_SMTP_REFUSED;
    return LS_SMTP_TRANSPORT;
}

static void classify(struct mail *m, CURLcode cc, struct ls_sink_result *res)
{
    char detail[CURL_ERROR_SIZE + 64];
    long code = 0;

    curl_easy_getinfo(m->easy, CURLINFO_RESPONSE_CODE, &code);
    snprintf(detail, sizeof(detail), "%s%s%s", curl_easy_strerror(cc), m->errbuf[0] ? ": " : "",
             m->errbuf);
    ls_notify_smtp_classify(failure_of(cc, code), (int)code, detail, res);
}

/* Mails one item (ls_sink_one_by_one.send). */
static void mail_send(void *ctx, const struct ls_sink_item *it, struct ls_sink_result *res)
{
    struct mail *m = ctx;
    char **lines =
        it->lead ? ls_notify_email_headers(it->lead, it->delivery_id, m->from, m->to, m->now_ms())
                 : NULL;
    struct curl_slist *hdrs = NULL, *n;
    curl_mime *mime = NULL;
    size_t i;
    int bad = !lines;

    for (i = 0; lines && lines[i]; i++) {
        n = curl_slist_append(hdrs, lines[i]);
        bad |= !n;
        hdrs = n ? n : hdrs;
    }
    n = curl_slist_append(hdrs, "Content-Type: multipart/alternative");
    bad |= !n;
    hdrs = n ? n : hdrs;
    setup_easy(m);
    if (!bad)
        mime = build_body(m->easy, it->lead);
    if (bad || !mime) {
        ls_notify_smtp_classify(LS_SMTP_TRANSPORT, 0, "could not build the message", res);
    } else {
        curl_easy_setopt(m->easy, CURLOPT_MAIL_FROM, m->envelope);
        curl_easy_setopt(m->easy, CURLOPT_MAIL_RCPT, m->rcpt);
        curl_easy_setopt(m->easy, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(m->easy, CURLOPT_MIMEPOST, mime);
        classify(m, curl_easy_perform(m->easy), res);
    }
    curl_easy_reset(m->easy); /* drops its references to hdrs and mime */
    curl_mime_free(mime);
    curl_slist_free_all(hdrs);
    ls_notify_lines_free(lines);
}

/* A refusal that stops the batch: AUTH or TLS (fatal), or a 4xx / lost
 * connection (not sent: the sink pauses). */
static int mail_halts(const struct ls_sink_result *r)
{
    return r->outcome == LS_SINK_FATAL || r->outcome == LS_SINK_NOT_SENT;
}

static int mail_deliver(void *ctx, const struct ls_sink_item *items, size_t n,
                        struct ls_sink_result *results)
{
    static const struct ls_sink_one_by_one how = {
        mail_send, mail_halts, "the batch stopped after a refused or failed transaction",
        "notify-sent"};

    return ls_sink_send_each(&how, ctx, items, n, results);
}

static int mail_check(void *ctx, char *msg, size_t msglen)
{
    struct mail *m = ctx;
    struct ls_sink_result r;
    CURLcode cc;

    setup_easy(m);
    curl_easy_setopt(m->easy, CURLOPT_CUSTOMREQUEST, "NOOP");
    curl_easy_setopt(m->easy, CURLOPT_NOBODY, 1L);
    cc = curl_easy_perform(m->easy);
    classify(m, cc, &r);
    curl_easy_reset(m->easy);
    if (r.outcome == LS_SINK_OK) {
        snprintf(msg, msglen, "%s answers (%s, %s)", m->shown,
                 m->use_ssl == CURLUSESSL_ALL ? "TLS" : "loopback",
                 m->user ? "logged in" : "no AUTH");
        return LS_OK;
    }
    snprintf(msg, msglen, "%s: %s", m->shown, r.error);
    if (r.outcome == LS_SINK_FATAL)
        return r.auth ? LS_EAUTH : LS_ECONFIG;
    return LS_EUNAVAIL;
}

/* The email sink's configuration keys (ls_config.h). */
/* clang-format off */
static const struct ls_conf_entry conf_entries[] = {
    {"LEADSYNC_EMAIL_URL", LS_CONF_STRING, NULL, LS_CONF_AT(email_url), 0, 0, 0, NULL,
     "SMTP server: smtps://HOST:465, or smtp://HOST:587 (STARTTLS required; plain only to loopback)", NULL},
    {"LEADSYNC_EMAIL_FROM", LS_CONF_STRING, NULL, LS_CONF_AT(email_from), 0, 0, 0, NULL,
     "sender address (leads@example.com or 'Leads <leads@example.com>')", NULL},
    {"LEADSYNC_EMAIL_TO", LS_CONF_STRING, NULL, LS_CONF_AT(email_to), 0, 0, 0, NULL,
     "recipients, comma-separated", NULL},
    {"LEADSYNC_EMAIL_USERNAME", LS_CONF_STRING, NULL, LS_CONF_AT(email_username), 0, 0, 0, NULL,
     "SMTP user name (AUTH PLAIN or LOGIN); no AUTH when unset", NULL},
    {"LEADSYNC_EMAIL_PASSWORD", LS_CONF_STRING, NULL, LS_CONF_AT(email_password), LS_CONF_SECRET, 0, 0, NULL,
     "SMTP password (use _FILE)", NULL},
    {"LEADSYNC_EMAIL_CA_FILE", LS_CONF_STRING, NULL, LS_CONF_AT(email_ca_file), 0, 0, 0, NULL,
     "CA bundle (PEM) trusted for the SMTP server's TLS instead of the system's", NULL},
};
/* clang-format on */

const struct ls_sink_ops ls_sink_email_ops = {
    .name = "email",
    .conf = conf_entries,
    .nconf = LS_ARRAY_LEN(conf_entries),
    .coalesce = 0, /* one message per lead event */
    .create = mail_create,
    .deliver = mail_deliver,
    .check = mail_check,
    .destroy = mail_destroy,
};
