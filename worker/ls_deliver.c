/* ls_deliver.c - the delivery engine (see ls_deliver.h). */
#include "ls_deliver.h"

#include "ls_lead.h"
#include "ls_log.h"
#include "ls_metrics.h"
#include "ls_redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long the breaker pauses a sink before one delivery probes it. */
#define BREAKER_PAUSE_MS (15L * 60 * 1000)

struct sink_state {
    struct ls_sink *sink;
    int64_t paused_until; /* ms; 0 when not paused */
    int pause_recorded;   /* the ledger holds a pause for this sink (ls_ledger_pause_get) */
    int streak;           /* pauses in a row, as recorded */
    int fatal;
    int breaker;                /* the recorded pause is the breaker's: probe with one delivery */
    int rejects;                /* rejections of reject_kind in a row */
    char reject_kind[96];       /* "<status> <error up to its first ':'>" */
    int tripped;                /* the breaker tripped in this round */
    char reason[320];           /* the breaker's pause reason */
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
    if (d->o.breaker_pause_ms <= 0)
        d->o.breaker_pause_ms = BREAKER_PAUSE_MS;
    d->states = ls_xcalloc(nsinks ? nsinks : 1, sizeof(*d->states));
    d->n = nsinks;
    for (i = 0; i < nsinks; i++) {
        struct sink_state *s = &d->states[i];
        struct ls_sink_pause p;
        int found = 0, rc;

        s->sink = &sinks[i];
        snprintf(s->comp, sizeof(s->comp), "sink:%s", sinks[i].ops->name);
        if (sinks[i].ops->use_ledger && sinks[i].ctx)
            sinks[i].ops->use_ledger(sinks[i].ctx, l, sinks[i].id);
        /* A pause an earlier run recorded still holds. */
        rc = ls_ledger_pause_get(l, sinks[i].id, &p, &found);
        if (rc) {
            ls_deliverer_destroy(d);
            return rc;
        }
        if (found) {
            s->paused_until = p.until;
            s->pause_recorded = 1;
            s->streak = p.streak;
            if (ls_breaker_paused(p.reason)) {
                s->breaker = 1;
                snprintf(s->reason, sizeof(s->reason), "%s", p.reason);
                ls_health_sink_paused(sinks[i].id, p.reason);
            }
        }
    }
    *out = d;
    return LS_OK;
}

void ls_deliverer_destroy(struct ls_deliverer *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        const struct ls_sink *k = d->states[i].sink;

        if (k && k->ops->use_ledger && k->ctx)
            k->ops->use_ledger(k->ctx, NULL, NULL);
    }
    free(d->states);
    free(d);
}

int ls_breaker_paused(const char *reason)
{
    return reason && strncmp(reason, LS_BREAKER_REASON, strlen(LS_BREAKER_REASON)) == 0;
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

/* 1 when a result says the receiver did not process the item - not sent,
 * throttled, no answer, or a gateway / unavailable status: the sink as a
 * whole is unavailable, so no attempt is counted and the sink pauses. */
static int unavailable(const struct ls_sink_result *r)
{
    if (r->outcome == LS_SINK_NOT_SENT)
        return 1;
    return r->outcome == LS_SINK_RETRY && (r->throttled || r->status == 0 || r->status == 502 ||
                                           r->status == 503 || r->status == 504);
}

/* One round for one sink: the due deliveries, what was sent, the answers. */
struct round {
    struct ls_delivery *ds;
    struct ls_sink_item *items;
    struct ls_sink_result *res;
    char *sent; /* 1: the sink answered it (not rejected up front) */
    size_t n;
    int64_t sent_at; /* when deliver() was called; 0 when nothing was sent */
};

static void round_free(struct round *r)
{
    for (size_t i = 0; r->items && i < r->n; i++)
        json_decref(r->items[i].lead);
    free(r->items);
    free(r->res);
    free(r->sent);
    ls_deliveries_free(r->ds, r->n);
    memset(r, 0, sizeof(*r));
}

/* The items of a round, read from its deliveries. */
static int load_items(struct ls_deliverer *d, struct sink_state *s, struct round *r)
{
    size_t i;
    int rc;

    r->sent = ls_xcalloc(r->n, 1);
    r->items = ls_xcalloc(r->n, sizeof(*r->items));
    r->res = ls_xcalloc(r->n, sizeof(*r->res));
    for (i = 0; i < r->n; i++) {
        struct ls_sink_item *it = &r->items[i];
        json_error_t jerr;
        int delivered = 0;

        it->id = r->ds[i].id;
        it->delivery_id = r->ds[i].delivery_id;
        it->lead_id = r->ds[i].lead_id;
        it->attempt = r->ds[i].attempts + 1;
        it->pause_streak = s->streak;
        it->payload = r->ds[i].payload;
        /* A sink that writes the stored text as it is needs no parse of it. */
        if (!s->sink->ops->wants_text)
            it->lead = r->ds[i].payload ? json_loads(r->ds[i].payload, 0, &jerr) : NULL;
        rc = ls_ledger_sink_lead_delivered(d->ledger, s->sink->id, it->lead_id, &delivered);
        if (rc)
            return rc;
        it->created = !delivered;
        r->res[i].retry_after_ms = -1;
        if (!sendable(s->sink, it)) {
            r->res[i].outcome = LS_SINK_REJECT;
            snprintf(r->res[i].error, sizeof(r->res[i].error), "payload missing or unreadable");
        }
    }
    return LS_OK;
}

/* Load due: the sink's due deliveries as items; those whose payload is gone
 * (purged) or unreadable are rejected up front. One read transaction: the
 * ledger is locked and checked once per round rather than once per item. */
static int load_due(struct ls_deliverer *d, struct sink_state *s, int64_t now, struct round *r)
{
    int rc;

    rc = ls_ledger_begin(d->ledger);
    if (rc)
        return rc;
    /* a sink the breaker paused is probed with one delivery */
    rc = ls_ledger_pending(d->ledger, s->sink->id, now, s->breaker ? 1 : d->o.batch, &r->ds, &r->n);
    if (rc == LS_OK && r->n)
        rc = load_items(d, s, r);
    if (rc == LS_OK)
        rc = ls_ledger_commit(d->ledger);
    if (rc)
        ls_ledger_rollback(d->ledger);
    return rc;
}

/* Send: hands the sink the sendable items, in order; a sink that failed as
 * a whole sent nothing that counts. */
static void send_due(struct ls_deliverer *d, struct sink_state *s, struct round *r)
{
    struct ls_sink_item *send = ls_xcalloc(r->n, sizeof(*send));
    struct ls_sink_result *sres = ls_xcalloc(r->n, sizeof(*sres));
    size_t *map = ls_xcalloc(r->n, sizeof(*map));
    size_t k = 0, i;
    int src;

    for (i = 0; i < r->n; i++) {
        if (r->res[i].outcome != LS_SINK_REJECT) {
            send[k] = r->items[i];
            map[k++] = i;
        }
    }
    if (k) {
        r->sent_at = d->o.now_ms(d->o.seam_ctx);
        src = s->sink->ops->deliver(s->sink->ctx, send, k, sres);
        for (i = 0; i < k; i++) {
            if (src) {
                memset(&sres[i], 0, sizeof(sres[i]));
                sres[i].outcome = LS_SINK_NOT_SENT;
                sres[i].retry_after_ms = -1;
                snprintf(sres[i].error, sizeof(sres[i].error), "%s", ls_error_last());
            }
            /* One place for every sink: no personal data or secret from
             * an answer reaches a log line, a pause reason or the ledger. */
            ls_redact_inplace(sres[i].error, sizeof(sres[i].error));
            r->res[map[i]] = sres[i];
            r->sent[map[i]] = 1;
        }
    }
    free(send);
    free(sres);
    free(map);
}

/* The counts of one round's record. */
struct tally {
    int64_t ok, retry, dead, deferred;
    int64_t failed;  /* deferred ones that were sent and answered with a failure */
    int64_t held;    /* deferred ones the breaker held back (not dead-lettered) */
    long pause_ms;   /* the longest Retry-After among the unavailable answers, -1 none */
    const char *why; /* the answer that paused the sink */
};

/* Records one answer on its delivery. */
static int record_one(struct ls_deliverer *d, struct sink_state *s, const struct ls_delivery *ds,
                      const struct ls_sink_result *r, int64_t now, struct ls_deliver_stats *st,
                      struct tally *t)
{
    int attempts = ds->attempts + 1;
    long wait;

    if (unavailable(r)) {
        /* Not this lead's fault: it stays due, no attempt counted. */
        t->deferred++;
        if (r->outcome != LS_SINK_NOT_SENT)
            t->failed++;
        if (r->retry_after_ms > t->pause_ms)
            t->pause_ms = r->retry_after_ms;
        if (!t->why || (r->outcome != LS_SINK_NOT_SENT && r->status))
            t->why = r->error;
        return LS_OK;
    }
    switch (r->outcome) {
    case LS_SINK_OK:
        st->delivered++;
        t->ok++;
        return ls_ledger_mark_delivered(d->ledger, ds->id, r->status, now);
    case LS_SINK_REJECT:
        LS_WARN(s->comp, "dead letter: lead %s delivery %s rejected (status %d): %s", ds->lead_id,
                ds->delivery_id, r->status, r->error);
        st->dead++;
        t->dead++;
        return ls_ledger_mark_dead(d->ledger, ds->id, r->status, r->error, now);
    case LS_SINK_FATAL:
        /* Not this lead's fault either: it stays pending, the sink stops. */
        if (!s->fatal) {
            LS_ERR(s->comp, "stopped: %s", r->error);
            snprintf(st->fatal_msg, sizeof(st->fatal_msg), "sink %s: %s", s->sink->id, r->error);
            ls_error(r->auth ? LS_EAUTH : LS_ECONFIG, "%s", st->fatal_msg);
        }
        s->fatal = 1;
        st->fatal = 1;
        st->fatal_code = r->auth ? LS_EAUTH : LS_ECONFIG;
        return LS_OK;
    default:
        break;
    }
    if (attempts >= d->o.max_attempts) {
        LS_WARN(s->comp, "dead letter after %d attempts: lead %s (status %d): %s", attempts,
                ds->lead_id, r->status, r->error);
        st->dead++;
        t->dead++;
        return ls_ledger_mark_dead(d->ledger, ds->id, r->status, r->error, now);
    }
    wait = azt_backoff_ms(attempts - 1, d->o.backoff_base_ms, d->o.backoff_cap_ms,
                          r->retry_after_ms, d->o.random(d->o.seam_ctx));
    LS_DEBUG(s->comp, "retry in %ld ms: lead %s attempt %d (status %d): %s", wait, ds->lead_id,
             attempts, r->status, r->error);
    st->retried++;
    t->retry++;
    return ls_ledger_mark_retry(d->ledger, ds->id, now + wait, r->status, r->error, now);
}

/* The breaker's count after one answer of the sink: an accepted delivery
 * ends a run of rejections; breaker_rejects of one kind in a row (or one,
 * while a paused sink is probed) trip it. */
static void breaker_count(const struct ls_deliverer *d, struct sink_state *s,
                          const struct ls_sink_result *r)
{
    char kind[96];
    size_t n;

    if (r->outcome == LS_SINK_OK)
        s->rejects = 0;
    if (r->outcome != LS_SINK_REJECT || d->o.breaker_rejects <= 0 || s->tripped)
        return;
    n = strcspn(r->error, ":");
    snprintf(kind, sizeof(kind), "%d %.*s", r->status, (int)(n < 80 ? n : 80), r->error);
    if (s->rejects > 0 && strcmp(kind, s->reject_kind) == 0) {
        s->rejects++;
    } else {
        snprintf(s->reject_kind, sizeof(s->reject_kind), "%s", kind);
        s->rejects = 1;
    }
    if (s->breaker || s->rejects >= d->o.breaker_rejects) {
        s->tripped = 1;
        snprintf(s->reason, sizeof(s->reason), "%s: %d in a row the same way, the last: %.200s",
                 LS_BREAKER_REASON, s->rejects, r->error);
    }
}

/* The breaker tripped: the sink pauses (a recorded pause, its reason the
 * breaker's) and the rest of its deliveries wait. Logged once per trip. In
 * the round's transaction. */
static int breaker_trip(struct ls_deliverer *d, struct sink_state *s, const struct tally *t,
                        int64_t now)
{
    int64_t until = now + d->o.breaker_pause_ms;
    char at[32];
    time_t tt = (time_t)(until / 1000);
    struct tm tm;
    int rc;

    rc = ls_ledger_pause_set(d->ledger, s->sink->id, until, s->reason, now);
    if (rc)
        return rc;
    gmtime_r(&tt, &tm);
    strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (s->breaker)
        LS_WARN(s->comp, "still rejects deliveries, paused again until %s: %s", at, s->reason);
    else
        LS_ERR(s->comp,
               "paused: %s. The likely cause is the same for every lead: a field the receiver "
               "requires, a value or mapping it refuses, or a wrong signing secret. %lld more "
               "deliveries wait (not dead letters). Fix it, then 'leadsync retry --sink %s' "
               "resumes the sink and re-queues the dead letters; otherwise one delivery probes "
               "it at %s",
               s->reason, (long long)t->held, s->sink->id, at);
    ls_health_sink_paused(s->sink->id, s->reason);
    s->paused_until = until;
    s->pause_recorded = 1;
    s->breaker = 1;
    s->streak++;
    s->tripped = 0;
    s->rejects = 0;
    return LS_OK;
}

/* The sink's pause after a round: a receiver that did not process items
 * pauses the sink for its Retry-After, and at least the engine's backoff
 * for the pauses in a row (which survive restarts in the ledger); a
 * delivery the receiver accepted ends a recorded pause. Items left unsent
 * because the process is stopping pause nothing. In the round's
 * transaction. */
static int settle_pause(struct ls_deliverer *d, struct sink_state *s, const struct tally *t,
                        int64_t now)
{
    long wait;
    int rc;

    if (s->tripped)
        return breaker_trip(d, s, t, now);
    /* Items a stop left unsent (no answer said the receiver failed) are not
     * the receiver's doing: they wait without a pause, the streak stays. */
    if (t->deferred == 0 || (stopping(d) && t->failed == 0)) {
        if (!s->pause_recorded || t->ok == 0)
            return LS_OK;
        rc = ls_ledger_pause_clear(d->ledger, s->sink->id);
        if (rc == LS_OK) {
            s->pause_recorded = 0;
            s->streak = 0;
            if (s->breaker)
                ls_health_sink_paused(s->sink->id, NULL);
            s->breaker = 0;
            LS_INFO(s->comp, "receiver accepts deliveries again: pause ended");
        }
        return rc;
    }
    wait = azt_backoff_ms(s->streak, d->o.backoff_base_ms, d->o.backoff_cap_ms, t->pause_ms,
                          d->o.random(d->o.seam_ctx));
    rc = ls_ledger_pause_set(d->ledger, s->sink->id, now + wait, t->why ? t->why : "unavailable",
                             now);
    if (rc)
        return rc;
    s->paused_until = now + wait;
    s->pause_recorded = 1;
    s->streak++;
    LS_WARN(s->comp,
            "paused for %ld ms (%d in a row), %lld deliveries wait, no attempt counted: "
            "%s",
            wait, s->streak, (long long)t->deferred, t->why ? t->why : "unavailable");
    return LS_OK;
}

/* Record: every answer on its delivery, the sink's pause and API usage, in
 * one transaction; then the metrics. */
static int record_round(struct ls_deliverer *d, struct sink_state *s, struct round *r, int64_t now,
                        struct ls_deliver_stats *st, size_t *progress)
{
    const char *lab[] = {"sink", s->sink->id, NULL};
    struct tally t = {0, 0, 0, 0, 0, 0, -1, NULL};
    size_t i;
    int rc;

    rc = ls_ledger_begin(d->ledger);
    for (i = 0; !rc && i < r->n; i++) {
        if (s->tripped && r->sent[i] && r->res[i].outcome == LS_SINK_REJECT) {
            t.deferred++; /* the breaker holds it back: pending, no attempt counted */
            t.held++;
            continue;
        }
        rc = record_one(d, s, &r->ds[i], &r->res[i], now, st, &t);
        if (r->sent[i])
            breaker_count(d, s, &r->res[i]);
    }
    if (!rc)
        rc = settle_pause(d, s, &t, now);
    if (!rc)
        rc = note_usage(d, s, now);
    if (!rc)
        rc = ls_ledger_commit(d->ledger);
    if (rc) {
        ls_ledger_rollback(d->ledger);
        s->tripped = 0;
        return rc;
    }
    ls_crashpoint("delivered");
    ls_metric_inc(LS_M_LEADS_DELIVERED, lab, (double)t.ok);
    ls_metric_inc(LS_M_LEADS_FAILED, lab, (double)(t.retry + t.dead + t.failed));
    ls_metric_inc(LS_M_LEADS_DEAD, lab, (double)t.dead);
    ls_health_sink_result(s->sink->id, t.ok > 0 || (t.retry == 0 && t.deferred == 0 && !s->fatal),
                          ls_now_ms());
    *progress = r->n - (size_t)t.deferred;
    return LS_OK;
}

/* One round for one sink: load due, send, record. *progress = items handled. */
static int sink_round(struct ls_deliverer *d, struct sink_state *s, int64_t now,
                      struct ls_deliver_stats *st, size_t *progress)
{
    struct round r;
    int64_t after;
    int rc;

    memset(&r, 0, sizeof(r));
    *progress = 0;
    rc = load_due(d, s, now, &r);
    if (rc || r.n == 0)
        goto done;
    send_due(d, s, &r);
    /* Outcomes are timed from when the answers came in, not from when the
     * round began: a Retry-After counts from its answer. */
    after = d->o.now_ms(d->o.seam_ctx);
    if (r.sent_at)
        ls_metric_observe(LS_M_SINK_REQUEST_DURATION, (const char *[]){"sink", s->sink->id, NULL},
                          (double)(after - r.sent_at) / 1000.0);
    rc = record_round(d, s, &r, after > now ? after : now, st, progress);
done:
    round_free(&r);
    return rc;
}

/* A pause the breaker set ends when `leadsync retry --sink` clears it from
 * the ledger, perhaps in another process while the daemon runs. */
static int breaker_refresh(struct ls_deliverer *d)
{
    struct ls_sink_pause p;
    size_t i;
    int found, rc;

    for (i = 0; i < d->n; i++) {
        struct sink_state *s = &d->states[i];

        if (!s->breaker)
            continue;
        rc = ls_ledger_pause_get(d->ledger, s->sink->id, &p, &found);
        if (rc)
            return rc;
        if (found && ls_breaker_paused(p.reason))
            continue;
        s->breaker = 0;
        s->paused_until = found ? p.until : 0;
        s->pause_recorded = found;
        s->streak = found ? p.streak : 0;
        ls_health_sink_paused(s->sink->id, NULL);
        LS_INFO(s->comp, "resumed: its pause was cleared ('leadsync retry')");
    }
    return LS_OK;
}

/* What is left: an index count per sink (a scan of the whole outbox here,
 * after every page of a long window, made a big run quadratic); of it, what
 * waits for a sink the breaker paused. */
static int count_left(struct ls_deliverer *d, struct ls_deliver_stats *st)
{
    size_t i;
    int rc;

    for (i = 0; i < d->n; i++) {
        const struct sink_state *s = &d->states[i];
        int64_t left = 0;

        rc = ls_ledger_pending_count(d->ledger, s->sink->id, &left);
        if (rc)
            return rc;
        st->pending += left;
        if (!s->breaker || left == 0)
            continue;
        if (!st->held)
            snprintf(st->held_msg, sizeof(st->held_msg),
                     "sink %.100s %.200s; %lld deliveries wait: fix what it refuses, then "
                     "'leadsync retry --sink %.60s'",
                     s->sink->id, s->reason, (long long)left, s->sink->id);
        st->held += left;
    }
    return LS_OK;
}

int ls_deliver_run(struct ls_deliverer *d, int wait, struct ls_deliver_stats *st)
{
    int64_t deadline = 0;
    size_t i;
    int rc = LS_OK;

    memset(st, 0, sizeof(*st));
    rc = breaker_refresh(d);
    if (rc)
        return rc;
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
    return count_left(d, st);
}
