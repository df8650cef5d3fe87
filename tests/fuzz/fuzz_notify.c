/*
 * fuzz_notify.c - the notification sinks' answers: Teams and Slack webhook
 * answers through ls_notify_http_classify (the first two bytes give the
 * status, 0..999, the third a Retry-After; the rest is the body) and SMTP
 * outcomes through ls_notify_smtp_classify (the same bytes give the failure
 * kind and reply code; the rest is curl's text).
 *
 * Checks beyond "no crash": the documented class for each answer (2xx OK,
 * 401/403 FATAL auth, 404/410 FATAL config; SMTP AUTH FATAL auth, TLS FATAL
 * config, 5xx refused a dead letter, 4xx never one), and error texts that
 * are terminated and free of control characters.
 */
#include "ls_notify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_text(const struct ls_sink_result *r)
{
    size_t i;

    check(memchr(r->error, '\0', sizeof(r->error)) != NULL);
    for (i = 0; r->error[i]; i++)
        check((unsigned char)r->error[i] >= 0x20 && r->error[i] != 0x7f);
    check(r->outcome <= LS_SINK_NOT_SENT);
}

static void http(int status, long ra, const char *body, size_t len)
{
    struct ls_sink_result r;

    ls_notify_http_classify(status & 1 ? "slack" : "teams", status,
                            status ? NULL : "Connection refused", ra, body, len, &r);
    check_text(&r);
    if (status >= 200 && status < 300)
        check(r.outcome == LS_SINK_OK);
    if (status == 401 || status == 403)
        check(r.outcome == LS_SINK_FATAL && r.auth);
    if (status == 404 || status == 410)
        check(r.outcome == LS_SINK_FATAL && !r.auth);
}

static void smtp(enum ls_smtp_failure kind, int code, const char *detail)
{
    struct ls_sink_result r;

    ls_notify_smtp_classify(kind, code, detail, &r);
    check_text(&r);
    if (kind == LS_SMTP_OK)
        check(r.outcome == LS_SINK_OK);
    if (kind == LS_SMTP_AUTH)
        check(r.outcome == LS_SINK_FATAL && r.auth);
    if (kind == LS_SMTP_TLS)
        check(r.outcome == LS_SINK_FATAL && !r.auth);
    if (kind == LS_SMTP_REFUSED && code >= 500 && code < 600)
        check(r.outcome == LS_SINK_REJECT);
    if (kind == LS_SMTP_REFUSED && code >= 400 && code < 500)
        check(r.outcome != LS_SINK_REJECT && r.outcome != LS_SINK_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int status;
    char *text;

    if (size < 3)
        return 0;
    status = ((data[0] << 8) | data[1]) % 1000;
    http(status, data[2] & 1 ? (long)data[2] * 1000 : -1, (const char *)data + 3, size - 3);
    text = malloc(size - 2);
    check(text != NULL);
    memcpy(text, data + 3, size - 3);
    text[size - 3] = '\0';
    smtp((enum ls_smtp_failure)(data[2] % 5), status, text);
    free(text);
    return 0;
}
