/* fuzz_routes.c - LEADSYNC_ROUTES text through ls_routes_parse, then each
 * route against a fixed lead and through ls_route_describe. */
#include "ls_route.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ids[] = {"sales", "alerts", "jsonl:./leads.jsonl"};
    const struct ls_route_lead lead = {{"contoso.crm", "SPZA", "PLT", "initial-interest", "US"}};
    struct ls_route *r[3];
    char *text = malloc(size + 1);
    char buf[128];
    size_t i;

    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (ls_routes_parse(text, "fuzz", ids, 3, r) == 0) {
        for (i = 0; i < 3; i++) {
            int m = ls_route_match(r[i], &lead);

            if (m != 0 && m != 1)
                abort();
            ls_route_describe(r[i], buf, sizeof(buf));
            if (strlen(buf) >= sizeof(buf))
                abort();
            ls_route_free(r[i]);
        }
    } else {
        for (i = 0; i < 3; i++)
            if (r[i])
                abort();
    }
    free(text);
    return 0;
}
