/* fuzz_page.c - Query Entities bodies through azt_page_parse. */
#include "azt.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct azt_page *page = NULL;
    size_t i, j;

    if (azt_page_parse((const char *)data, size, &page) != AZT_OK) {
        if (page)
            abort();
        return 0;
    }
    for (i = 0; i < page->count; i++) {
        const struct azt_entity *e = &page->entities[i];

        for (j = 0; j < e->nprops; j++) {
            const struct azt_prop *p = &e->props[j];

            /* Every property has a name and a terminated text of text_len. */
            if (!p->name || !p->text || p->text[p->text_len] != '\0')
                abort();
            if (azt_entity_prop(e, p->name) == NULL)
                abort();
        }
        if (e->timestamp && strlen(e->timestamp) < 20)
            abort();
    }
    azt_page_free(page);
    return 0;
}
