/* fuzz_errbody.c - service error bodies through azt_service_error_parse. */
#include "azt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct azt_service_error e;
    size_t i;

    azt_service_error_parse((const char *)data, size, &e);
    /* Both fields terminated within bounds and free of control characters. */
    if (!memchr(e.code, '\0', sizeof(e.code)) || !memchr(e.message, '\0', sizeof(e.message)))
        abort();
    for (i = 0; e.message[i]; i++)
        if ((unsigned char)e.message[i] < 0x20)
            abort();
    return 0;
}
