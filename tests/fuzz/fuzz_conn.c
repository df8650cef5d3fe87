/* fuzz_conn.c - connection strings through azt_conn_parse. */
#include "azt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct azt_conn *c = NULL;

    if (azt_conn_parse((const char *)data, size, &c) == AZT_OK) {
        /* Whatever parsed must be usable: strings terminated, key sized. */
        if (!c->account || !c->table_endpoint || strlen(c->account) == 0 ||
            strncmp(c->table_endpoint, "http", 4) != 0 || (c->key && c->key_len == 0) ||
            (c->key && c->sas))
            abort();
    } else if (c) {
        abort();
    }
    azt_conn_free(c);
    return 0;
}
