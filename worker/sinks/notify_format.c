/*
 * notify_format.c - what the notification sinks say about a lead
 * (ls_notify.h): pure text, HTML and JSON building, and the classification
 * of SMTP and chat-webhook answers.
 */
#include "ls_notify.h"

#include "ls_webhook.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DESC_MAX        2400 /* bytes of a description kept (Slack: 3000 characters a section) */
#define VALUE_MAX       400  /* bytes of any other value */
#define HEAD_MAX        140  /* bytes of a headline in Slack's header block (150 characters) */
#define SLACK_TEXT_MAX  3000 /* bytes of a section's text, escaped */
#define SLACK_FIELD_MAX 2000 /* bytes of a section field's text, escaped */

/* ------------------------------------------------------------------------ */
/* cutting and cleaning text                                                 */

/* How many bytes of s (n of them) fit in max without cutting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/* s clipped to max bytes ("..." marks a cut), control characters (but
 * newlines when keep_nl) turned into spaces. */
static void put_clean(struct ls_buf *b, const char *s, size_t max, int keep_nl)
{
    size_t n = strlen(s), k = utf8_cut(s, n, max), i;

    for (i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        char o = (c < 0x20 && !(keep_nl && c == '\n')) || c == 0x7f ? ' ' : (char)c;

        ls_buf_add(b, &o, 1);
    }
    if (k < n)
        ls_buf_puts(b, "...");
}

/* ------------------------------------------------------------------------ */
/* the facts of a lead                                                       */

static const char *str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));

    return v ? v : "";
}

const char *ls_notify_action_words(const char *action)
{
    static const char *const words[][2] = {
        {"PLT", "asked to be contacted"},  {"StartTestDrive", "started a test drive"},
        {"INS", "deployed the offer"},     {"Create", "deployed the offer"},
        {"DNC", "is not to be contacted"},
    };
    size_t i;

    for (i = 0; action && i < LS_ARRAY_LEN(words); i++)
        if (strcasecmp(words[i][0], action) == 0)
            return words[i][1];
    return NULL;
}

static int is_dnc(const json_t *lead)
{
    return json_is_true(json_object_get(lead, "doNotContact")) ||
           strcmp(str(lead, "stage"), "do-not-contact") == 0;
}

enum {
    F_NAME,
    F_COMPANY,
    F_TITLE,
    F_COUNTRY,
    F_EMAIL,
    F_PHONE,
    F_OFFER,
    F_ACTION,
    F_STAGE,
    F_TIME,
    NFACTS
};

static const char *const labels[NFACTS] = {"Name",  "Company", "Title",  "Country", "Email",
                                           "Phone", "Offer",   "Action", "Stage",   "Time"};

/* The values shown for a lead, cleaned and clipped; free with facts_free. */
struct facts {
    char *v[NFACTS];
    char *desc;
};

static char *clean(const char *s, size_t max, int keep_nl)
{
    struct ls_buf b = {0};

    put_clean(&b, s, max, keep_nl);
    return ls_buf_take(&b);
}

static void facts_of(const json_t *lead, struct facts *f)
{
    const json_t *cu = json_object_get(lead, "customer");
    const char *first = str(cu, "firstName"), *last = str(cu, "lastName");
    const char *words = ls_notify_action_words(str(lead, "action"));
    const char *when = str(lead, "createdTime");
    char *name, *action, *stage, *p;

    name = ls_xasprintf("%s%s%s", first, *first && *last ? " " : "", last);
    action = words ? ls_xstrdup(words) : ls_xasprintf("took the action '%s'", str(lead, "action"));
    stage = ls_xstrdup(str(lead, "stage"));
    for (p = stage; *p; p++)
        if (*p == '-')
            *p = ' ';
    f->v[F_NAME] = clean(*name ? name : "(no name given)", VALUE_MAX, 0);
    f->v[F_COMPANY] = clean(str(cu, "company"), VALUE_MAX, 0);
    f->v[F_TITLE] = clean(str(cu, "title"), VALUE_MAX, 0);
    f->v[F_COUNTRY] = clean(str(cu, "country"), VALUE_MAX, 0);
    f->v[F_EMAIL] = clean(str(cu, "email"), VALUE_MAX, 0);
    f->v[F_PHONE] = clean(str(cu, "phone"), VALUE_MAX, 0);
    f->v[F_OFFER] = clean(*str(lead, "offerTitle") ? str(lead, "offerTitle") : str(lead, "offerId"),
                          VALUE_MAX, 0);
    f->v[F_ACTION] = clean(action, VALUE_MAX, 0);
    f->v[F_STAGE] = clean(stage, VALUE_MAX, 0);
    f->v[F_TIME] = clean(*when ? when : str(lead, "timestamp"), VALUE_MAX, 0);
    f->desc = clean(str(lead, "description"), DESC_MAX, 1);
    free(name);
    free(action);
    free(stage);
}

static void facts_free(struct facts *f)
{
    size_t i;

    for (i = 0; i < NFACTS; i++)
        free(f->v[i]);
    free(f->desc);
}

static const char *const dnc_notice =
    "Do not contact: this customer is not to be contacted by you. This message is for your "
    "records only.";

char *ls_notify_headline(const json_t *lead)
{
    struct facts f;
    struct ls_buf b = {0};

    facts_of(lead, &f);
    if (is_dnc(lead))
        ls_buf_puts(&b, "Do not contact: ");
    ls_buf_puts(&b, f.v[F_NAME]);
    if (*f.v[F_COMPANY]) {
        ls_buf_puts(&b, " (");
        ls_buf_puts(&b, f.v[F_COMPANY]);
        ls_buf_puts(&b, ")");
    }
    ls_buf_puts(&b, " ");
    ls_buf_puts(&b, f.v[F_ACTION]);
    if (*f.v[F_OFFER]) {
        ls_buf_puts(&b, ": ");
        ls_buf_puts(&b, f.v[F_OFFER]);
    }
    facts_free(&f);
    return ls_buf_take(&b);
}

/* A mail address safe in a mailto: link and in Slack's <url|text>:
 * one '@', only characters that need no escaping. */
static int plain_address(const char *s)
{
    const char *at = strchr(s, '@');
    size_t i;

    if (!at || at == s || !at[1] || strchr(at + 1, '@'))
        return 0;
    for (i = 0; s[i]; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              strchr("@._+-", c)))
            return 0;
    }
    return 1;
}

/* ------------------------------------------------------------------------ */
/* email                                                                     */

char *ls_notify_email_text(const json_t *lead)
{
    struct facts f;
    struct ls_buf b = {0};
    char *head = ls_notify_headline(lead);
    size_t i;

    facts_of(lead, &f);
    ls_buf_puts(&b, head);
    ls_buf_puts(&b, "\n\n");
    if (is_dnc(lead)) {
        ls_buf_puts(&b, dnc_notice);
        ls_buf_puts(&b, "\n\n");
    }
    for (i = 0; i < NFACTS; i++) {
        char line[32];

        snprintf(line, sizeof(line), "%-9s", labels[i]);
        ls_buf_puts(&b, line);
        ls_buf_puts(&b, *f.v[i] ? f.v[i] : "-");
        ls_buf_puts(&b, "\n");
    }
    ls_buf_puts(&b, "\nDescription:\n");
    ls_buf_puts(&b, *f.desc ? f.desc : "-");
    ls_buf_puts(&b, "\n");
    if (!is_dnc(lead) && plain_address(f.v[F_EMAIL])) {
        ls_buf_puts(&b, "\nReply to the customer: ");
        ls_buf_puts(&b, f.v[F_EMAIL]);
        ls_buf_puts(&b, "\n");
    }
    ls_buf_puts(&b, "\n-- \nSent by leadsync from the marketplace's leads table.\n");
    facts_free(&f);
    free(head);
    return ls_buf_take(&b);
}

static void put_html(struct ls_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            ls_buf_puts(b, "&amp;");
            break;
        case '<':
            ls_buf_puts(b, "&lt;");
            break;
        case '>':
            ls_buf_puts(b, "&gt;");
            break;
        case '"':
            ls_buf_puts(b, "&quot;");
            break;
        case '\'':
            ls_buf_puts(b, "&#39;");
            break;
        case '\n':
            ls_buf_puts(b, "<br>");
            break;
        default:
            ls_buf_add(b, s, 1);
        }
    }
}

char *ls_notify_email_html(const json_t *lead)
{
    struct facts f;
    struct ls_buf b = {0};
    char *head = ls_notify_headline(lead);
    size_t i;

    facts_of(lead, &f);
    ls_buf_puts(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>");
    put_html(&b, head);
    ls_buf_puts(&b, "</title></head>\n<body>\n<h2>");
    put_html(&b, head);
    ls_buf_puts(&b, "</h2>\n");
    if (is_dnc(lead)) {
        ls_buf_puts(&b, "<p><strong>");
        put_html(&b, dnc_notice);
        ls_buf_puts(&b, "</strong></p>\n");
    }
    ls_buf_puts(&b, "<table>\n");
    for (i = 0; i < NFACTS; i++) {
        ls_buf_puts(&b, "<tr><th align=\"left\">");
        ls_buf_puts(&b, labels[i]);
        ls_buf_puts(&b, "</th><td>");
        put_html(&b, *f.v[i] ? f.v[i] : "-");
        ls_buf_puts(&b, "</td></tr>\n");
    }
    ls_buf_puts(&b, "</table>\n<h3>Description</h3>\n<p>");
    put_html(&b, *f.desc ? f.desc : "-");
    ls_buf_puts(&b, "</p>\n");
    if (!is_dnc(lead) && plain_address(f.v[F_EMAIL])) {
        ls_buf_puts(&b, "<p><a href=\"mailto:");
        ls_buf_puts(&b, f.v[F_EMAIL]);
        ls_buf_puts(&b, "\">Reply to the customer</a></p>\n");
    }
    ls_buf_puts(&b, "<p><small>Sent by leadsync from the marketplace's leads table.</small></p>\n"
                    "</body></html>\n");
    facts_free(&f);
    free(head);
    return ls_buf_take(&b);
}

static int printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

char *ls_notify_rfc2047(const char *s)
{
    /* "=?UTF-8?B?" + 60 base64 characters + "?=" = 72: 45 bytes a word */
    const size_t word = 45;
    struct ls_buf b = {0};
    char *c = clean(s, 900, 0);
    size_t n = strlen(c), off = 0;

    if (printable_ascii(c) && n <= 900) {
        ls_buf_puts(&b, c);
        free(c);
        return ls_buf_take(&b);
    }
    while (off < n) {
        unsigned char enc[64];
        size_t k = utf8_cut(c + off, n - off, word);

        if (k == 0) /* a malformed sequence longer than a word: take it whole */
            k = n - off < word ? n - off : word;
        EVP_EncodeBlock(enc, (const unsigned char *)c + off, (int)k);
        if (off)
            ls_buf_puts(&b, "\r\n ");
        ls_buf_puts(&b, "=?UTF-8?B?");
        ls_buf_puts(&b, (const char *)enc);
        ls_buf_puts(&b, "?=");
        off += k;
    }
    free(c);
    return ls_buf_take(&b);
}

void ls_notify_rfc5322_date(int64_t now_ms, char out[40])
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* s with every character outside atext (and '.') replaced by '_'. */
static void put_atom(struct ls_buf *b, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        char c = s[i];
        char o = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                         (c && strchr(".-_+=", c))
                     ? c
                     : '_';

        ls_buf_add(b, &o, 1);
    }
}

char *ls_notify_message_id(const char *delivery_id, const char *from)
{
    const char *at = from ? strrchr(from, '@') : NULL;
    struct ls_buf b = {0};
    size_t dn = at ? strcspn(at + 1, "> \t") : 0;

    ls_buf_puts(&b, "<");
    put_atom(&b, delivery_id, strlen(delivery_id));
    ls_buf_puts(&b, "@");
    if (dn)
        put_atom(&b, at + 1, dn);
    else
        ls_buf_puts(&b, "leadsync.invalid");
    ls_buf_puts(&b, ">");
    return ls_buf_take(&b);
}

char **ls_notify_email_headers(const json_t *lead, const char *delivery_id, const char *from,
                               const char *to, int64_t now_ms)
{
    char **lines = ls_xcalloc(7, sizeof(*lines));
    char *head = ls_notify_headline(lead);
    char *subject = ls_notify_rfc2047(head);
    char *mid = ls_notify_message_id(delivery_id, from);
    char date[40];

    ls_notify_rfc5322_date(now_ms, date);
    lines[0] = ls_xasprintf("From: %s", from);
    lines[1] = ls_xasprintf("To: %s", to);
    lines[2] = ls_xasprintf("Subject: %s", subject);
    lines[3] = ls_xasprintf("Date: %s", date);
    lines[4] = ls_xasprintf("Message-ID: %s", mid);
    {
        struct ls_buf id = {0};

        put_atom(&id, delivery_id, strlen(delivery_id));
        lines[5] = ls_xasprintf("X-Leadsync-Delivery: %s", id.p ? id.p : "");
        free(id.p);
    }
    free(head);
    free(subject);
    free(mid);
    return lines;
}

void ls_notify_lines_free(char **lines)
{
    size_t i;

    for (i = 0; lines && lines[i]; i++)
        free(lines[i]);
    free(lines);
}

/* ------------------------------------------------------------------------ */
/* Teams and Slack                                                           */

json_t *ls_notify_teams_body(const json_t *lead)
{
    struct facts f;
    char *head = ls_notify_headline(lead);
    json_t *body = json_array(), *facts = json_array(), *card, *actions = json_array();
    size_t i;

    facts_of(lead, &f);
    json_array_append_new(body, json_pack("{s:s,s:s,s:s,s:s,s:b}", "type", "TextBlock", "text",
                                          head, "size", "Medium", "weight", "Bolder", "wrap", 1));
    if (is_dnc(lead))
        json_array_append_new(body, json_pack("{s:s,s:s,s:s,s:s,s:b}", "type", "TextBlock", "text",
                                              dnc_notice, "color", "Attention", "weight", "Bolder",
                                              "wrap", 1));
    for (i = 0; i < NFACTS; i++)
        json_array_append_new(
            facts, json_pack("{s:s,s:s}", "title", labels[i], "value", *f.v[i] ? f.v[i] : "-"));
    json_array_append_new(body, json_pack("{s:s,s:o}", "type", "FactSet", "facts", facts));
    json_array_append_new(body, json_pack("{s:s,s:s,s:s}", "type", "TextBlock", "text",
                                          "Description", "weight", "Bolder"));
    json_array_append_new(body, json_pack("{s:s,s:s,s:b}", "type", "TextBlock", "text",
                                          *f.desc ? f.desc : "-", "wrap", 1));
    if (!is_dnc(lead) && plain_address(f.v[F_EMAIL])) {
        char *url = ls_xasprintf("mailto:%s", f.v[F_EMAIL]);

        json_array_append_new(actions, json_pack("{s:s,s:s,s:s}", "type", "Action.OpenUrl", "title",
                                                 "Reply to the customer", "url", url));
        free(url);
    }
    card = json_pack("{s:s,s:s,s:s,s:o,s:o}", "$schema",
                     "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard",
                     "version", "1.4", "body", body, "actions", actions);
    facts_free(&f);
    free(head);
    return json_pack("{s:s,s:[{s:s,s:n,s:o}]}", "type", "message", "attachments", "contentType",
                     "application/vnd.microsoft.card.adaptive", "contentUrl", "content", card);
}

/* The bytes of the UTF-8 sequence s starts (1 for a stray byte). */
static size_t seq_len(const char *s)
{
    unsigned char c = (unsigned char)s[0];
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1, i;

    for (i = 1; i < n; i++)
        if (!s[i])
            return i;
    return n;
}

/* Slack mrkdwn: &, < and > escaped, so no value can form a link or a
 * mention; at most budget bytes once escaped ("..." marks a cut). */
static void put_mrkdwn(struct ls_buf *b, const char *s, size_t budget)
{
    size_t start = b->len;

    while (*s) {
        const char *esc = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : NULL;
        size_t n = esc ? strlen(esc) : seq_len(s);

        if (b->len - start + n + 3 > budget) {
            ls_buf_puts(b, "...");
            return;
        }
        if (esc)
            ls_buf_puts(b, esc);
        else
            ls_buf_add(b, s, n);
        s += esc ? 1 : n;
    }
}

/* A mrkdwn text object of at most max bytes: "*label*\n" and the value. */
static json_t *mrkdwn(const char *label, const char *value, size_t max)
{
    struct ls_buf b = {0};
    json_t *o;

    if (label) {
        ls_buf_puts(&b, "*");
        ls_buf_puts(&b, label);
        ls_buf_puts(&b, "*\n");
    }
    put_mrkdwn(&b, value, max - b.len);
    o = json_pack("{s:s,s:s}", "type", "mrkdwn", "text", b.p ? b.p : "");
    free(b.p);
    return o;
}

static json_t *section(json_t *text)
{
    return json_pack("{s:s,s:o}", "type", "section", "text", text);
}

json_t *ls_notify_slack_body(const json_t *lead)
{
    struct facts f;
    char *head = ls_notify_headline(lead);
    json_t *blocks = json_array(), *fields = json_array();
    struct ls_buf b = {0};
    size_t i;

    facts_of(lead, &f);
    put_clean(&b, head, HEAD_MAX, 0);
    json_array_append_new(blocks,
                          json_pack("{s:s,s:{s:s,s:s,s:b}}", "type", "header", "text", "type",
                                    "plain_text", "text", b.p ? b.p : "-", "emoji", 0));
    free(b.p);
    if (is_dnc(lead))
        json_array_append_new(blocks, section(mrkdwn(NULL, dnc_notice, SLACK_TEXT_MAX)));
    for (i = 0; i < NFACTS; i++) /* ten: Slack's most for one section */
        json_array_append_new(fields, mrkdwn(labels[i], *f.v[i] ? f.v[i] : "-", SLACK_FIELD_MAX));
    json_array_append_new(blocks, json_pack("{s:s,s:o}", "type", "section", "fields", fields));
    json_array_append_new(blocks,
                          section(mrkdwn("Description", *f.desc ? f.desc : "-", SLACK_TEXT_MAX)));
    if (!is_dnc(lead) && plain_address(f.v[F_EMAIL])) {
        char *t = ls_xasprintf("Reply to the customer: <mailto:%s|%s>", f.v[F_EMAIL], f.v[F_EMAIL]);

        json_array_append_new(blocks, section(json_pack("{s:s,s:s}", "type", "mrkdwn", "text", t)));
        free(t);
    }
    json_array_append_new(blocks, json_pack("{s:s,s:[{s:s,s:s}]}", "type", "context", "elements",
                                            "type", "mrkdwn", "text", "Sent by leadsync"));
    b.p = NULL;
    b.len = b.cap = 0;
    put_mrkdwn(&b, head, SLACK_TEXT_MAX);
    facts_free(&f);
    free(head);
    {
        json_t *o = json_pack("{s:s,s:o}", "text", b.p ? b.p : "-", "blocks", blocks);

        free(b.p);
        return o;
    }
}

/* ------------------------------------------------------------------------ */
/* answers                                                                   */

void ls_notify_http_classify(const char *kind, int status, const char *transport,
                             long retry_after_ms, const char *body, size_t len,
                             struct ls_sink_result *r)
{
    char ex[LS_WEBHOOK_EXCERPT_MAX + 1];
    size_t i, n = len > LS_WEBHOOK_EXCERPT_MAX ? LS_WEBHOOK_EXCERPT_MAX : len;

    ls_webhook_classify(status, transport, retry_after_ms, body, len, r);
    for (i = 0; i < n; i++)
        ex[i] = (unsigned char)body[i] < 0x20 || body[i] == 0x7f ? ' ' : body[i];
    ex[n] = '\0';
    if (status == 401 || status == 403) {
        snprintf(r->error, sizeof(r->error),
                 "HTTP %d: %s refuses this webhook URL (revoked, or the workflow lost its "
                 "permission): put a valid URL in LEADSYNC_SINKS: %.120s",
                 status, kind, ex);
    } else if (status == 404 || status == 410) {
        r->outcome = LS_SINK_FATAL;
        r->auth = 0;
        snprintf(r->error, sizeof(r->error),
                 "HTTP %d: the %s webhook is gone (deleted, or its channel archived); leads stay "
                 "pending until LEADSYNC_SINKS names a live URL: %.120s",
                 status, kind, ex);
    } else if (status >= 400 && status < 500 && r->outcome == LS_SINK_REJECT) {
        snprintf(r->error, sizeof(r->error), "HTTP %d: %s refused this message: %.200s", status,
                 kind, ex);
    }
}

void ls_notify_smtp_classify(enum ls_smtp_failure kind, int smtp_code, const char *detail,
                             struct ls_sink_result *r)
{
    const char *raw = detail && *detail ? detail : "no detail";
    char d[201];
    size_t i;

    /* curl's text may carry the server's reply: control characters blanked */
    for (i = 0; raw[i] && i < sizeof(d) - 1; i++)
        d[i] = (unsigned char)raw[i] < 0x20 || raw[i] == 0x7f ? ' ' : raw[i];
    d[i] = '\0';
    memset(r, 0, sizeof(*r));
    r->status = smtp_code;
    r->retry_after_ms = -1;
    switch (kind) {
    case LS_SMTP_OK:
        r->outcome = LS_SINK_OK;
        return;
    case LS_SMTP_AUTH:
        r->outcome = LS_SINK_FATAL;
        r->auth = 1;
        snprintf(r->error, sizeof(r->error),
                 "SMTP %d: the server refuses our login (check LEADSYNC_EMAIL_USERNAME and "
                 "LEADSYNC_EMAIL_PASSWORD): %.200s",
                 smtp_code, d);
        return;
    case LS_SMTP_TLS:
        r->outcome = LS_SINK_FATAL;
        snprintf(r->error, sizeof(r->error),
                 "SMTP: no trusted TLS (a private CA goes in LEADSYNC_EMAIL_CA_FILE; smtp:// "
                 "needs a server offering STARTTLS): %.200s",
                 d);
        return;
    case LS_SMTP_REFUSED:
        if (smtp_code >= 500 && smtp_code < 600) {
            r->outcome = LS_SINK_REJECT;
            snprintf(r->error, sizeof(r->error),
                     "SMTP %d: the server refused this message%s: %.200s", smtp_code,
                     strstr(d, "RCPT") ? " (a recipient in LEADSYNC_EMAIL_TO was rejected)" : "",
                     d);
            return;
        }
        break;
    case LS_SMTP_TRANSPORT:
        break;
    }
    r->outcome = LS_SINK_NOT_SENT;
    snprintf(r->error, sizeof(r->error), "not sent: SMTP %d, try again later: %.200s", smtp_code,
             d);
}
