/*
 * fuzz_salesforce.c - Salesforce answers through the sink's pure halves:
 * ls_sf_classify (the first two bytes give the status, 0..999, the rest is
 * the body), ls_sf_classify_record on every element of the body read as a
 * Collections answer, and ls_sf_limit_info on the body read as a
 * Sforce-Limit-Info header.
 *
 * Checks beyond "no crash": the outcome and signal are the ones
 * ls_salesforce.h documents for the status, error texts are terminated and
 * free of control characters (they reach logs, status and the ledger), and a
 * parsed API usage is two non-negative numbers from a header that names it.
 */
#include "ls_salesforce.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
}

static void classify(int status, const char *body, size_t len)
{
    struct ls_sink_result r;
    enum ls_sf_signal sig = ls_sf_classify(status, body, len, &r);

    check_text(&r);
    check(r.status == status && r.retry_after_ms == -1);
    check((sig == LS_SF_SESSION) == (status == 401));
    check(sig != LS_SF_LIMIT || (status == 403 && r.outcome == LS_SINK_RETRY && r.throttled));
    if (status >= 200 && status < 300)
        check(r.outcome == LS_SINK_OK);
    else if (status == 0 || status == 408 || status == 429 || status >= 500)
        check(r.outcome == LS_SINK_RETRY && r.error[0]);
    else if (status == 401 || (status == 403 && sig != LS_SF_LIMIT))
        check(r.outcome == LS_SINK_FATAL && r.auth && r.error[0]);
    else if (status != 403)
        check(r.outcome == LS_SINK_REJECT && r.error[0]);
}

static void records(const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    struct ls_sink_result r;
    size_t i;

    for (i = 0; i < json_array_size(j) && i < 16; i++) {
        ls_sf_classify_record(json_array_get(j, i), &r);
        check_text(&r);
        check(r.outcome <= LS_SINK_REJECT && (r.outcome == LS_SINK_OK) == (r.error[0] == '\0'));
    }
    /* a missing element (the answer is shorter than the request) */
    ls_sf_classify_record(NULL, &r);
    check(r.outcome == LS_SINK_RETRY);
    json_decref(j);
}

static void limit_info(const char *p, size_t n)
{
    int64_t used = -1, limit = -1;
    size_t i;
    int named = 0;

    if (ls_sf_limit_info(p, n, &used, &limit) != 0)
        return;
    check(used >= 0 && limit >= 0);
    for (i = 0; i + 10 <= n && !named; i++)
        named = strncasecmp(p + i, "api-usage=", 10) == 0;
    check(named);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data + 2;
    size_t len;

    if (size < 2)
        return 0;
    len = size - 2;
    classify(((data[0] << 8) | data[1]) % 1000, body, len);
    records(body, len);
    limit_info(body, len);
    return 0;
}
