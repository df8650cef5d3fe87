/*
 * ls_deliver.h - the delivery engine, one for every sink: takes due
 * deliveries from the ledger's outbox, hands them to the sink, and records
 * each outcome (worker/README.md, Sync semantics):
 *   OK      delivered; (sink, lead_id) remembered for lead.created/updated
 *   RETRY   backoff base*2^(n-1) with jitter, never sooner than Retry-After;
 *           after max attempts the delivery becomes a dead letter
 *   REJECT  dead letter with the receiver's status and body excerpt
 *   FATAL   the sink stops; the run exits 77 (auth) or 78 (config)
 *   NOT_SENT, and a RETRY that is throttled, got no answer (status 0) or
 *           502/503/504: the receiver did not process the item. No attempt
 *           is counted (a sustained API limit never makes dead letters), the
 *           item stays due and the whole sink pauses: for the longest
 *           Retry-After, and at least base*2^(k-1) for the k-th pause in a
 *           row. The pause (until when, why, k) is kept in the ledger
 *           (ls_ledger_pause_*), so the next run honours it and `status`
 *           shows it; a delivery the receiver accepts ends it.
 * The breaker: a sink that rejects breaker_rejects deliveries in a row the
 * same way (the same status and error code: a required field the CRM wants,
 * a mapping it refuses) rejects everything, so it pauses - through the same
 * recorded pause, with a reason that starts LS_BREAKER_REASON - instead of
 * dead-lettering every lead: the deliveries after the trip stay pending, no
 * attempt counted. It is logged once with the likely fix, /healthz turns 503
 * and `run --once` exits 69 while work waits for it. It ends on `leadsync
 * retry --sink NAME` (which clears the pause) or on the next accepted
 * delivery: after breaker_pause_ms one delivery probes the sink, and one
 * more rejection pauses it again.
 * Retry delays and pauses count from the end of the sink's deliver() call
 * (after the answer), so no request comes sooner than Retry-After allows.
 * Per lead, states go out in order: the ledger hands out only the oldest
 * pending delivery of each lead. One sink down never holds up another.
 */
#ifndef LS_DELIVER_H
#define LS_DELIVER_H

#include "ls_common.h"
#include "ls_ledger.h"
#include "ls_sink.h"

#include <signal.h>
#include <stdint.h>

struct ls_deliver_opts {
    int max_attempts;
    long backoff_base_ms;
    long backoff_cap_ms;
    size_t batch;
    long max_wait_ms; /* drain(): wait this long at most for a sink to come back */
    /* Seams; NULL = real clock, sleep, random. */
    int64_t (*now_ms)(void *ctx);
    void (*sleep_ms)(void *ctx, long ms);
    uint32_t (*random)(void *ctx);
    void *seam_ctx;
    volatile sig_atomic_t *stop; /* set by SIGTERM/SIGINT: finish the batch, return */
    int breaker_rejects;         /* rejections of one kind in a row that pause a sink; 0 never */
    long breaker_pause_ms;       /* until one delivery probes it again; 0: 15 minutes */
};

/* How the reason of a pause the breaker set begins. */
#define LS_BREAKER_REASON "rejected every delivery"
/* 1 when a recorded pause reason is the breaker's. */
int ls_breaker_paused(const char *reason);

struct ls_deliver_stats {
    int64_t delivered;
    int64_t retried;
    int64_t dead;
    int64_t pending;     /* left pending when drain returned */
    int fatal;           /* a sink failed fatally */
    int fatal_code;      /* LS_EAUTH or LS_ECONFIG */
    char fatal_msg[400]; /* "sink <id>: <what failed and what to fix>" when fatal */
    int64_t held;        /* of pending, those waiting for a sink the breaker paused */
    char held_msg[640];  /* "sink <id> rejected every delivery ..." when held */
};

struct ls_deliverer;

LS_NODISCARD int ls_deliverer_create(struct ls_ledger *l, struct ls_sink *sinks, size_t nsinks,
                                     const struct ls_deliver_opts *opts, struct ls_deliverer **out);
void ls_deliverer_destroy(struct ls_deliverer *d);

/*
 * Delivers everything due. With wait=1 (run --once) it sleeps through
 * retry delays and sink pauses while the next due time is within
 * max_wait_ms, and returns when nothing is pending or the wait would be
 * longer: stats->pending > 0 then means "rerun later". With wait=0 (daemon)
 * it returns as soon as nothing is due now. Returns 0, or a negative ls_err
 * for ledger failures (sink failures are in stats).
 */
LS_NODISCARD int ls_deliver_run(struct ls_deliverer *d, int wait, struct ls_deliver_stats *stats);

#endif /* LS_DELIVER_H */
