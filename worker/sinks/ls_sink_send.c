/* ls_sink_send.c - what the sinks' deliver() share: the "not sent" result,
 * the halt rule, and the one-at-a-time batch loop (ls_sink.h). */
#include "ls_sink.h"

#include <stdio.h>
#include <string.h>

void ls_sink_not_sent(struct ls_sink_result *r, const char *why)
{
    memset(r, 0, sizeof(*r));
    r->outcome = LS_SINK_NOT_SENT;
    r->retry_after_ms = -1;
    snprintf(r->error, sizeof(r->error), "not sent: %s", why);
}

int ls_sink_halts(const struct ls_sink_result *r)
{
    return r->outcome == LS_SINK_FATAL || (r->outcome == LS_SINK_RETRY && r->throttled);
}

int ls_sink_send_each(const struct ls_sink_one_by_one *how, void *ctx,
                      const struct ls_sink_item *items, size_t n, struct ls_sink_result *results)
{
    size_t i;
    int halt = 0;

    for (i = 0; i < n; i++) {
        struct ls_sink_result *r = &results[i];

        if (halt || ls_stop_requested) {
            ls_sink_not_sent(r, halt ? how->halt_why : "stopping on a signal");
            continue;
        }
        how->send(ctx, &items[i], r);
        if (r->outcome == LS_SINK_OK)
            ls_crashpoint(how->crashpoint); /* sent, not yet recorded */
        halt = how->halts(r);
    }
    return LS_OK;
}
