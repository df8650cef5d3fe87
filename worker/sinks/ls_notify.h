/*
 * ls_notify.h - the pure halves of the notification sinks (sink_email.c,
 * sink_chat.c): what a person reads about one lead event, as an email's
 * headers and text/HTML parts, a Teams Adaptive Card and a Slack Block Kit
 * message, and how an SMTP or chat-webhook answer becomes a delivery
 * outcome. No I/O, no clock (the time comes in as now_ms): tests hit them
 * with fixed vectors.
 *
 * Every message names the customer, company, title, country, email, phone,
 * the offer's title, the action in words, the stage, the description and the
 * lead's time. A do-not-contact lead says so first and carries no call to
 * action (no mail link, no button).
 */
#ifndef LS_NOTIFY_H
#define LS_NOTIFY_H

#include "ls_common.h"
#include "ls_sink.h"

#include <jansson.h>
#include <stdint.h>

/* "asked to be contacted", "started a test drive", "deployed the offer",
 * "is not to be contacted"; NULL for an action code it does not know. */
const char *ls_notify_action_words(const char *action);

/* One line naming the event: "Ada Lovelace (Contoso) asked to be contacted:
 * Contoso Widget", prefixed "Do not contact: " for a do-not-contact lead.
 * malloc'd, no control characters. */
char *ls_notify_headline(const json_t *lead);

/* The email's text/plain and text/html parts (UTF-8; values HTML-escaped in
 * the HTML one). malloc'd. */
char *ls_notify_email_text(const json_t *lead);
char *ls_notify_email_html(const json_t *lead);

/*
 * An RFC 2047 encoded header value: s as is when it is printable ASCII,
 * else UTF-8 "B" encoded-words of at most 75 characters, folded with CRLF
 * SP, never splitting a UTF-8 sequence; control characters become spaces.
 * malloc'd.
 */
char *ls_notify_rfc2047(const char *s);

/* The RFC 5322 date of now_ms (UTC): "Tue, 01 Dec 2026 22:00:58 +0000". */
void ls_notify_rfc5322_date(int64_t now_ms, char out[40]);

/* The Message-ID of a delivery: "<DELIVERY_ID@DOMAIN>", the domain taken
 * from the sender address (leadsync.invalid when it has none); characters a
 * message id cannot hold become '_'. The same delivery always gets the same
 * id, so a repeated delivery is recognisable. malloc'd. */
char *ls_notify_message_id(const char *delivery_id, const char *from);

/*
 * The email's header lines (NULL-terminated array of malloc'd strings, free
 * with ls_notify_lines_free): From, To, Subject, Date, Message-ID and
 * X-Leadsync-Delivery. from and to (the comma-separated recipient list) come
 * from the configuration, checked at start; lead values reach the Subject
 * only, RFC 2047 encoded.
 */
char **ls_notify_email_headers(const json_t *lead, const char *delivery_id, const char *from,
                               const char *to, int64_t now_ms);
void ls_notify_lines_free(char **lines);

/* The Teams workflow message: {"type":"message","attachments":[{"contentType":
 * "application/vnd.microsoft.card.adaptive","content":<Adaptive Card 1.4>}]}.
 * New reference. */
json_t *ls_notify_teams_body(const json_t *lead);

/* The Slack incoming-webhook message: {"text":..., "blocks":[header, fields,
 * description, call to action or do-not-contact notice, context]}; lead
 * values escaped for mrkdwn (&, <, >) so a value cannot mention @channel.
 * New reference. */
json_t *ls_notify_slack_body(const json_t *lead);

/*
 * A chat webhook's answer (Teams, Slack) as ls_webhook_classify reads it,
 * except: 404 and 410 (Slack: no_service, channel_not_found,
 * channel_is_archived) stop the sink until the URL is fixed (FATAL config);
 * 401 and 403 are the webhook's URL refused (FATAL auth, exit 77); and a
 * transport failure or 429 pause the sink without counting an attempt.
 * kind names the sink in messages ("slack").
 */
void ls_notify_http_classify(const char *kind, int status, const char *transport,
                             long retry_after_ms, const char *body, size_t len,
                             struct ls_sink_result *r);

/* What one SMTP transaction came to. */
enum ls_smtp_failure {
    LS_SMTP_OK = 0,
    LS_SMTP_AUTH,      /* AUTH refused (535, 534, 530) or no usable mechanism */
    LS_SMTP_TLS,       /* TLS trust, or STARTTLS not offered: configuration */
    LS_SMTP_REFUSED,   /* a 4xx/5xx answer to MAIL, RCPT or DATA (smtp_code says which) */
    LS_SMTP_TRANSPORT, /* no connection, a timeout, a dropped line */
};

/*
 * Fills *r for one message. kind: what went wrong; smtp_code: the server's
 * last reply code (0 when none); detail: curl's text (names the command:
 * "RCPT failed: 550"). A 5xx refusal is this lead's dead letter; 4xx and
 * transport failures are not sent (the sink pauses, no attempt counted);
 * AUTH refused is FATAL auth (exit 77); TLS is FATAL config.
 */
void ls_notify_smtp_classify(enum ls_smtp_failure kind, int smtp_code, const char *detail,
                             struct ls_sink_result *r);

#endif /* LS_NOTIFY_H */
