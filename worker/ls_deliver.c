/* ls_deliver.c - the delivery engine (see ls_deliver.h). */
#include "ls_deliver.h"

#include "ls_lead.h"
#include "ls_log.h"
#include "ls_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sink_state {
    struct ls_sink *sink;
    int64_t paused_until; /* ms; 0 when not paused */
    int fatal;
    char comp[96];              /* log component "sink:<id>" */
    struct ls_sink_usage usage; /* last API usage written to the ledger */
};

struct ls_deliverer {
    struct ls_ledger *ledger;
    struct sink_state *states;
    size_t n;
    struct ls_deliver_opts o;
};

static int64_t real_now_ms(void *ctx)
{
    (void)ctx;
    return ls_now_ms();
}

static void real_sleep_ms(void *ctx, long ms)
{
    struct timespec ts;

    (void)ctx;
    if (ms <= 0)
        return;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL); /* a signal cuts it short; callers re-check */
}

static uint32_t real_random(void *ctx)
{
    static unsigned seed;

    (void)ctx;
    if (!seed)
        seed = (unsigned)time(NULL) ^ (unsigned)clock();
    return (uint32_t)rand_r(&seed);
}

long ls_backoff_ms(int attempt, long base_ms, long cap_ms, long retry_after_ms, uint32_t rnd)
{
    long d = base_ms > 0 ? base_ms : 1;
    long half;
    int i;

    for (i = 1; i < attempt && d < cap_ms; i++)
        d = d > cap_ms / 2 ? cap_ms : d * 2;
    if (d > cap_ms)
        d = cap_ms;
    half = d / 2;
    d = half + (long)(rnd % (uint32_t)(d - half + 1));
    if (retry_after_ms > d)
        d = retry_after_ms;
    return d;
}

int ls_deliverer_create(struct ls_ledger *l, struct ls_sink *sinks, size_t nsinks,
                        const struct ls_deliver_opts *opts, struct ls_deliverer **out)
{
    struct ls_deliverer *d = ls_xcalloc(1, sizeof(*d));
    size_t i;

    d->ledger = l;
    d->o = *opts;
    if (!d->o.now_ms)
        d->o.now_ms = real_now_ms;
    if (!d->o.sleep_ms)
        d->o.sleep_ms = real_sleep_ms;
    if (!d->o.random)
        d->o.random = real_random;
    if (d->o.batch == 0)
        d->o.batch = 200;
    if (d->o.max_attempts <= 0)
        d->o.max_attempts = 8;
    d->states = ls_xcalloc(nsinks ? nsinks : 1, sizeof(*d->states));
    d->n = nsinks;
    for (i = 0; i < nsinks; i++) {
        d->states[i].sink = &sinks[i];
        snprintf(d->states[i].comp, sizeof(d->states[i].comp), "sink:%s", sinks[i].ops->name);
    }
    *out = d;
    return LS_OK;
}

void ls_deliverer_destroy(struct ls_deliverer *d)
{
    if (!d)
        return;
    free(d->states);
    free(d);
}

static int stopping(const struct ls_deliverer *d)
{
    return d->o.stop && *d->o.stop;
}

/* Parsed, or for a wants_text sink at least shaped like the object it was stored as. */
static int sendable(const struct ls_sink *sink, const struct ls_sink_item *it)
{
    size_t n;

    if (!sink->ops->wants_text)
        return it->lead != NULL;
    n = it->payload ? strlen(it->payload) : 0;
    return n >= 2 && it->payload[0] == '{' && it->payload[n - 1] == '}';
}

/* One round for one sink: take due items, deliver, record. *progress = items handled. */
/* The API usage the sink's receiver last reported (ls_sink.h usage): the
 * gauges, and the ledger's record of it (ls_ledger_usage_put) when it
 * changed, so that `status` (another process) can show it. In the round's
 * transaction. */
static int note_usage(struct ls_deliverer *d, struct sink_state *s, int64_t now)
{
    struct ls_sink_usage u = {0, 0};
    const char *lab[] = {"sink", s->sink->id, NULL};
    struct ls_api_usage rec;
    int rc;

    if (!s->sink->ops->usage || s->sink->ops->usage(s->sink->ctx, &u) != 1)
        return LS_OK;
    ls_metric_set(LS_M_SINK_API_USAGE, lab, (double)u.used);
    ls_metric_set(LS_M_SINK_API_LIMIT, lab, (double)u.limit);
    if (u.used == s->usage.used && u.limit == s->usage.limit)
        return LS_OK;
    rec.used = (int64_t)u.used;
    rec.limit = (int64_t)u.limit;
    rec.at_s = now / 1000;
    rc = ls_ledger_usage_put(d->ledger, s->sink->id, &rec);
    if (rc == LS_OK)
        s->usage = u;
    return rc;
}

static int sink_round(struct ls_deliverer *d, struct sink_state *s, int64_t now,
                      struct ls_deliver_stats *st, size_t *progress)
{
    struct ls_delivery *ds = NULL;
    struct ls_sink_item *items = NULL;
    struct ls_sink_result *res = NULL;
    size_t n = 0, i;
    int rc;
    int in_txn = 0;
    long pause_ms = -1;
    int64_t after, sent_at = 0;
    size_t not_sent = 0;
    int64_t ok_n = 0, retry_n = 0, dead_n = 0;

    *progress = 0;
    rc = ls_ledger_pending(d->ledger, s->sink->id, now, d->o.batch, &ds, &n);
    if (rc || n == 0)
        goto done;
    items = ls_xcalloc(n, sizeof(*items));
    res = ls_xcalloc(n, sizeof(*res));
    for (i = 0; i < n; i++) {
        json_error_t jerr;
        int delivered = 0;

        items[i].id = ds[i].id;
        items[i].delivery_id = ds[i].delivery_id;
        items[i].lead_id = ds[i].lead_id;
        items[i].attempt = ds[i].attempts + 1;
        items[i].payload = ds[i].payload;
        /* A sink that writes the stored text as it is needs no parse of it. */
        if (!s->sink->ops->wants_text)
            items[i].lead = ds[i].payload ? json_loads(ds[i].payload, 0, &jerr) : NULL;
        rc = ls_ledger_sink_lead_delivered(d->ledger, s->sink->id, ds[i].lead_id, &delivered);
        if (rc)
            goto done;
        items[i].created = !delivered;
    }
    /* Items whose payload is gone (purged) or unreadable cannot be sent. */
    for (i = 0; i < n; i++) {
        res[i].retry_after_ms = -1;
        if (!sendable(s->sink, &items[i])) {
            res[i].outcome = LS_SINK_REJECT;
            snprintf(res[i].error, sizeof(res[i].error), "payload missing or unreadable");
        }
    }
    {
        /* Hand the sink only the sendable items, in order. */
        struct ls_sink_item *send = ls_xcalloc(n, sizeof(*send));
        struct ls_sink_result *sres = ls_xcalloc(n, sizeof(*sres));
        size_t *map = ls_xcalloc(n, sizeof(*map));
        size_t k = 0;

        for (i = 0; i < n; i++) {
            if (sendable(s->sink, &items[i])) {
                send[k] = items[i];
                map[k++] = i;
            }
        }
        if (k) {
            int src;

            sent_at = d->o.now_ms(d->o.seam_ctx);
            src = s->sink->ops->deliver(s->sink->ctx, send, k, sres);

            for (i = 0; i < k; i++) {
                if (src) {
                    sres[i].outcome = LS_SINK_RETRY;
                    sres[i].retry_after_ms = -1;
                    snprintf(sres[i].error, sizeof(sres[i].error), "%s", ls_error_last());
                }
                res[map[i]] = sres[i];
            }
        }
        free(send);
        free(sres);
        free(map);
    }

    /* Outcomes are timed from when the answers came in, not from when the
     * round began: a Retry-After counts from its answer. */
    after = d->o.now_ms(d->o.seam_ctx);
    if (sent_at)
        ls_metric_observe(LS_M_SINK_REQUEST_DURATION, (const char *[]){"sink", s->sink->id, NULL},
                          (double)(after - sent_at) / 1000.0);
    if (after > now)
        now = after;
    rc = ls_ledger_begin(d->ledger);
    if (rc)
        goto done;
    in_txn = 1;
    for (i = 0; i < n; i++) {
        struct ls_sink_result *r = &res[i];
        int attempts = ds[i].attempts + 1;

        if (r->outcome == LS_SINK_RETRY && r->status == 0 && r->throttled) {
            /* Not sent (the sink stopped the batch): no attempt to count;
             * it stays due and goes out when the sink's pause ends. */
            not_sent++;
            continue;
        }
        switch (r->outcome) {
        case LS_SINK_OK:
            rc = ls_ledger_mark_delivered(d->ledger, ds[i].id, r->status, now);
            st->delivered++;
            ok_n++;
            break;
        case LS_SINK_REJECT:
            LS_WARN(s->comp, "dead letter: lead %s delivery %s rejected (status %d): %s",
                    ds[i].lead_id, ds[i].delivery_id, r->status, r->error);
            rc = ls_ledger_mark_dead(d->ledger, ds[i].id, r->status, r->error, now);
            st->dead++;
            dead_n++;
            break;
        case LS_SINK_FATAL:
            /* Not this lead's fault: leave it pending, stop the sink. */
            if (!s->fatal) {
                LS_ERR(s->comp, "stopped: %s", r->error);
                ls_error(r->auth ? LS_EAUTH : LS_ECONFIG, "sink %s: %s", s->sink->id, r->error);
            }
            s->fatal = 1;
            st->fatal = 1;
            st->fatal_code = r->auth ? LS_EAUTH : LS_ECONFIG;
            break;
        case LS_SINK_RETRY:
        default:
            if (attempts >= d->o.max_attempts) {
                LS_WARN(s->comp, "dead letter after %d attempts: lead %s (status %d): %s", attempts,
                        ds[i].lead_id, r->status, r->error);
                rc = ls_ledger_mark_dead(d->ledger, ds[i].id, r->status, r->error, now);
                st->dead++;
                dead_n++;
            } else {
                long wait = ls_backoff_ms(attempts, d->o.backoff_base_ms, d->o.backoff_cap_ms,
                                          r->retry_after_ms, d->o.random(d->o.seam_ctx));

                LS_DEBUG(s->comp, "retry in %ld ms: lead %s attempt %d (status %d): %s", wait,
                         ds[i].lead_id, attempts, r->status, r->error);
                rc =
                    ls_ledger_mark_retry(d->ledger, ds[i].id, now + wait, r->status, r->error, now);
                st->retried++;
                retry_n++;
                if (r->throttled && r->retry_after_ms > pause_ms)
                    pause_ms = r->retry_after_ms > 0 ? r->retry_after_ms : wait;
            }
            break;
        }
        if (rc)
            goto done;
    }
    rc = note_usage(d, s, now);
    if (rc)
        goto done;
    rc = ls_ledger_commit(d->ledger);
    in_txn = 0;
    if (rc)
        goto done;
    ls_crashpoint("delivered");
    {
        const char *lab[] = {"sink", s->sink->id, NULL};

        ls_metric_inc(LS_M_LEADS_DELIVERED, lab, (double)ok_n);
        ls_metric_inc(LS_M_LEADS_FAILED, lab, (double)(retry_n + dead_n));
        ls_metric_inc(LS_M_LEADS_DEAD, lab, (double)dead_n);
        ls_health_sink_result(s->sink->id, ok_n > 0 || (retry_n == 0 && !s->fatal), ls_now_ms());
    }
    if (pause_ms >= 0) {
        s->paused_until = now + pause_ms;
        LS_WARN(s->comp, "throttled: pausing for %ld ms", pause_ms);
    }
    *progress = n - not_sent;
done:
    if (in_txn)
        ls_ledger_rollback(d->ledger);
    for (i = 0; items && i < n; i++)
        json_decref(items[i].lead);
    free(items);
    free(res);
    ls_deliveries_free(ds, n);
    return rc;
}

int ls_deliver_run(struct ls_deliverer *d, int wait, struct ls_deliver_stats *st)
{
    int64_t deadline = 0;
    size_t i;
    int rc = LS_OK;

    memset(st, 0, sizeof(*st));
    for (;;) {
        int64_t now = d->o.now_ms(d->o.seam_ctx);
        int64_t next = INT64_MAX;
        size_t progress = 0;
        int any_pending = 0;

        if (!deadline)
            deadline = now + d->o.max_wait_ms;
        for (i = 0; i < d->n && !stopping(d); i++) {
            struct sink_state *s = &d->states[i];
            size_t p = 0;

            if (s->fatal)
                continue;
            if (s->paused_until > now) {
                if (s->paused_until < next)
                    next = s->paused_until;
                any_pending = 1;
                continue;
            }
            rc = sink_round(d, s, now, st, &p);
            if (rc)
                return rc;
            progress += p;
        }
        if (stopping(d))
            break;
        if (progress)
            continue;
        /* Nothing was due: when is the next delivery due? */
        for (i = 0; i < d->n; i++) {
            struct sink_state *s = &d->states[i];
            int64_t at = 0;
            int found = 0;

            if (s->fatal)
                continue;
            rc = ls_ledger_next_due(d->ledger, s->sink->id, &at, &found);
            if (rc)
                return rc;
            if (!found)
                continue;
            any_pending = 1;
            if (s->paused_until > at)
                at = s->paused_until;
            if (at < next)
                next = at;
        }
        if (!any_pending || !wait)
            break;
        now = d->o.now_ms(d->o.seam_ctx);
        if (next > deadline) {
            LS_WARN("deliver", "a sink is still unavailable; leaving the rest pending for the "
                               "next run");
            break;
        }
        if (next > now)
            d->o.sleep_ms(d->o.seam_ctx, (long)(next - now));
    }
    /* What is left: an index count per sink (a scan of the whole outbox
     * here, after every page of a long window, made a big run quadratic). */
    for (i = 0; i < d->n; i++) {
        int64_t left = 0;

        rc = ls_ledger_pending_count(d->ledger, d->states[i].sink->id, &left);
        if (rc)
            return rc;
        st->pending += left;
    }
    return LS_OK;
}
