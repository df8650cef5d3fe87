/* ls_inline.c - inline delivery for local, durable sinks (see ls_inline.h). */
#include "ls_inline.h"

#include "ls_log.h"
#include "ls_metrics.h"

#include <stdlib.h>
#include <string.h>

/* Deliveries handed to a sink at a time (each is one write + fsync for the
 * JSONL file): a page's payloads are never all held at once. */
#define INLINE_CHUNK 256

struct ls_inline {
    struct ls_ledger *ledger;
    const struct ls_sink *sinks;
    size_t nsinks;
    struct ls_sink_item items[INLINE_CHUNK];
    struct ls_sink_result results[INLINE_CHUNK];
    char *owned[3 * INLINE_CHUNK]; /* per item: delivery_id, lead_id, payload */
    int late[INLINE_CHUNK];
    size_t n;
};

int ls_inline_open(struct ls_ledger *ledger, const struct ls_sink *sinks, size_t nsinks,
                   struct ls_inline **out)
{
    struct ls_inline *in;
    size_t k;
    int64_t n = 0;
    int rc;

    *out = NULL;
    if (!ledger || nsinks == 0)
        return LS_OK;
    /* Outbox rows pending go first, in order, through the delivery engine; a
     * sink with a route takes only some leads: the outbox path filters them. */
    for (k = 0; k < nsinks; k++) {
        if (!sinks[k].ops->deliver_inline || sinks[k].route)
            return LS_OK;
        rc = ls_ledger_pending_count(ledger, sinks[k].id, &n);
        if (rc)
            return rc;
        if (n > 0)
            return LS_OK;
    }
    in = ls_xcalloc(1, sizeof(*in));
    in->ledger = ledger;
    in->sinks = sinks;
    in->nsinks = nsinks;
    *out = in;
    return LS_OK;
}

static void clear(struct ls_inline *in)
{
    size_t i;

    for (i = 0; i < 3 * in->n; i++)
        free(in->owned[i]);
    in->n = 0;
}

void ls_inline_free(struct ls_inline *in)
{
    if (!in)
        return;
    clear(in);
    free(in);
}

/* What sink k did not take goes to its outbox, in the open transaction. */
static int enqueue_rest(struct ls_inline *in, size_t k, int drc, int64_t now,
                        struct ls_sync_stats *st, int64_t *ok)
{
    const struct ls_sink *s = &in->sinks[k];
    size_t i;
    int mode, rc;

    *ok = 0;
    for (i = 0; i < in->n; i++) {
        if (drc == LS_OK && in->results[i].outcome == LS_SINK_OK) {
            (*ok)++;
            continue;
        }
        mode = !s->ops->coalesce ? LS_ENQUEUE_EVERY
               : in->late[i]     ? LS_ENQUEUE_LATE
                                 : LS_ENQUEUE_COALESCE;
        rc = ls_ledger_enqueue(in->ledger, s->id, in->items[i].lead_id, in->items[i].delivery_id,
                               in->items[i].payload, mode, now);
        if (rc)
            return rc;
        st->enqueued++;
    }
    return LS_OK;
}

static int deliver(struct ls_inline *in, int64_t now, struct ls_sync_stats *st)
{
    size_t k;
    int64_t ok, t0;
    int drc, rc;

    for (k = 0; k < in->nsinks; k++) {
        const struct ls_sink *s = &in->sinks[k];
        const char *lab[] = {"sink", s->id, NULL};

        memset(in->results, 0, in->n * sizeof(*in->results));
        t0 = ls_mono_ms();
        drc = s->ops->deliver(s->ctx, in->items, in->n, in->results);
        ls_metric_observe(LS_M_SINK_REQUEST_DURATION, lab, (double)(ls_mono_ms() - t0) / 1000.0);
        rc = enqueue_rest(in, k, drc, now, st, &ok);
        if (rc)
            return rc;
        if (ok < (int64_t)in->n)
            LS_WARN("sync", "sink %s took %lld of %zu deliveries; the rest are queued", s->id,
                    (long long)ok, in->n);
        rc = ls_ledger_inline_delivered(in->ledger, s->id, ok);
        if (rc)
            return rc;
        st->delivered += ok;
        ls_metric_inc(LS_M_LEADS_DELIVERED, lab, (double)ok);
    }
    return LS_OK;
}

int ls_inline_flush(struct ls_inline *in, int64_t now, struct ls_sync_stats *st)
{
    int rc = in->n ? deliver(in, now, st) : LS_OK;

    clear(in);
    return rc;
}

int ls_inline_add(struct ls_inline *in, const char *lead_id, const char *delivery_id, char *payload,
                  int created, int late, int64_t now, struct ls_sync_stats *st)
{
    struct ls_sink_item *it = &in->items[in->n];
    char **o = &in->owned[3 * in->n];

    o[0] = ls_xstrdup(delivery_id);
    o[1] = ls_xstrdup(lead_id);
    o[2] = payload;
    memset(it, 0, sizeof(*it));
    it->delivery_id = o[0];
    it->lead_id = o[1];
    it->payload = o[2];
    it->created = created;
    it->attempt = 1;
    in->late[in->n++] = late;
    return in->n == INLINE_CHUNK ? ls_inline_flush(in, now, st) : LS_OK;
}
