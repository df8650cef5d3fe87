/* fuzz_marketo.c - Marketo answers through ls_mkto_classify and identity
 * answers through ls_mkto_parse_token. */
#include "ls_marketo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ls_sink_result res[4];
    char *tok = NULL;
    long exp = 0;
    size_t n = size ? (size_t)(data[0] % 4) + 1 : 1, i;

    ls_mkto_classify(200, (const char *)data, size, n, size > 1 && (data[1] & 1), res);
    for (i = 0; i < n; i++) {
        if (!memchr(res[i].error, '\0', sizeof(res[i].error)))
            abort();
        if (res[i].outcome > LS_SINK_FATAL)
            abort();
    }
    if (ls_mkto_parse_token((const char *)data, size, &tok, &exp) == 0 && (!tok || !*tok))
        abort();
    free(tok);
    return 0;
}
