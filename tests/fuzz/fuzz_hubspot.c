/* fuzz_hubspot.c - HubSpot answers (200, 207, 400, 429, 404 bodies) through
 * ls_hs_classify, and batch/read answers through ls_hs_read_found and
 * ls_hs_merge. */
#include "ls_hubspot.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int statuses[] = {200, 207, 400, 404, 429, 423, 477, 502};
    const char *ids[] = {"a@x.com", "b@x.com", "c@x.com"};
    struct ls_sink_result res[3];
    long pause = 0;
    size_t i, s;

    for (s = 0; s < sizeof(statuses) / sizeof(statuses[0]); s++) {
        ls_hs_classify(statuses[s], -1, (const char *)data, size, ids, 3, (int)(s & 1),
                       1795496400000LL, res, &pause);
        for (i = 0; i < 3; i++)
            if (!memchr(res[i].error, '\0', sizeof(res[i].error)) || res[i].outcome > LS_SINK_FATAL)
                abort();
    }
    {
        json_t *found[3];

        if (ls_hs_read_found((const char *)data, size, "email", ids, 3, found) == 0) {
            for (i = 0; i < 3; i++) {
                json_t *in = json_pack("{s:s, s:s, s:{}}", "idProperty", "email", "id", ids[i],
                                       "properties");

                ls_hs_merge(in, found[i], "offers", "x.crm", "lid");
                json_decref(in);
                json_decref(found[i]);
            }
        }
    }
    return 0;
}
