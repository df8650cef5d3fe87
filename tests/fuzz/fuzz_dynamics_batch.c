/* fuzz_dynamics_batch.c - Dataverse $batch answers through
 * ls_dv_batch_parse: the first line of the input is the Content-Type, the
 * rest the body. Parts must lie inside the body and classify cleanly. */
#include "ls_dynamics.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *nl = memchr(p, '\n', size);
    size_t ctlen = nl ? (size_t)(nl - p) : 0;
    const char *body = nl ? nl + 1 : p;
    size_t len = nl ? size - ctlen - 1 : size;
    struct ls_dv_part parts[8];
    struct ls_sink_result r;
    size_t n = 0, i;

    if (ls_dv_batch_parse(p, ctlen, body, len, 0, parts, 8, &n) != LS_OK) {
        if (n != 0)
            abort();
        return 0;
    }
    if (n == 0 || n > 8)
        abort();
    for (i = 0; i < n; i++) {
        if (parts[i].body < body || parts[i].body + parts[i].len > body + len)
            abort();
        if (parts[i].status != 0 && (parts[i].status < 100 || parts[i].status > 999))
            abort();
        ls_dv_classify(parts[i].status, parts[i].body, parts[i].len, parts[i].retry_after_ms, &r);
        if (!memchr(r.error, '\0', sizeof(r.error)) || r.outcome > LS_SINK_FATAL)
            abort();
    }
    return 0;
}
