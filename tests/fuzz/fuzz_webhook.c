/*
 * fuzz_webhook.c - receivers' answers through ls_webhook_classify. The first
 * two bytes give the status (0..999; 0 is "no answer"), the third whether a
 * Retry-After came with it; the rest is the body.
 *
 * Checks beyond "no crash": the outcome is the one ls_webhook.h documents for
 * the status, the error text is terminated, bounded and free of control
 * characters, and a Retry-After is kept only on a retried answer.
 */
#include "ls_webhook.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok)
{
    if (!ok)
        abort();
}

/* The class ls_webhook.h's table gives a status. */
static enum ls_outcome expected(int status, long retry_after_ms, int *throttled, int *auth)
{
    *throttled = 0;
    *auth = 0;
    if (status == 0)
        return LS_SINK_RETRY;
    if (status >= 200 && status < 300)
        return LS_SINK_OK;
    if (status == 429 || (status == 503 && retry_after_ms >= 0)) {
        *throttled = 1;
        return LS_SINK_RETRY;
    }
    if (status == 408 || status == 409 || status == 425 || status >= 500)
        return LS_SINK_RETRY;
    if (status == 401 || status == 403) {
        *auth = 1;
        return LS_SINK_FATAL;
    }
    if (status == 410 || (status >= 300 && status < 400))
        return LS_SINK_FATAL;
    return LS_SINK_REJECT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ls_sink_result r;
    int status, throttled, auth;
    long ra;
    const char *body;
    size_t len, i, elen;

    if (size < 3)
        return 0;
    status = ((data[0] << 8) | data[1]) % 1000;
    ra = data[2] & 1 ? (long)data[2] * 1000 : -1;
    body = (const char *)data + 3;
    len = size - 3;
    ls_webhook_classify(status, status ? NULL : "Connection refused", ra, len ? body : NULL, len,
                        &r);
    check(memchr(r.error, '\0', sizeof(r.error)) != NULL);
    check(r.outcome == expected(status, ra, &throttled, &auth));
    check(r.throttled == throttled && r.auth == auth && r.status == status);
    check(r.outcome == LS_SINK_OK ? r.error[0] == '\0' : r.error[0] != '\0');
    check(r.retry_after_ms == -1 || (r.outcome == LS_SINK_RETRY && r.retry_after_ms == ra));
    elen = strlen(r.error);
    /* the body shows as an excerpt: the rest of the text is fixed wording */
    check(elen <= LS_WEBHOOK_EXCERPT_MAX + 160);
    for (i = 0; i < elen; i++)
        check((unsigned char)r.error[i] >= 0x20 && r.error[i] != 0x7f);
    return 0;
}
