/* fuzz_token.c - Entra ID token responses through ls_entra_parse_token. */
#include "ls_entra.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *token = NULL;
    time_t expires = 0;
    const time_t now = 1795485814;

    if (ls_entra_parse_token((const char *)data, size, now, &token, &expires) == 0) {
        /* a parsed token is a non-empty string that expires after now */
        if (!token || !ls_token_text_ok(token, strlen(token)) || expires <= now)
            abort();
    } else if (token) {
        abort();
    }
    free(token);
    return 0;
}
