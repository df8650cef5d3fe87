/*
 * ls_ops.h - what `leadsync run` reports for operations: metrics after each
 * poll, the /metrics + /healthz listener in daemon mode, and a Pushgateway
 * push at the end of a one-shot run. Kept apart from ls_run.c so the run loop
 * only calls three functions.
 */
#ifndef LS_OPS_H
#define LS_OPS_H

#include "ls_common.h"
#include "ls_config.h"
#include "ls_ledger.h"
#include "ls_sync.h"

#include "azt.h"

struct ls_ops;

/* Starts the listener when daemon and LEADSYNC_METRICS_ADDR is set. */
LS_NODISCARD int ls_ops_start(const struct ls_config *cfg, int daemon, struct ls_ops **out);
/* After each window: window_rc is its result, ms its duration. */
void ls_ops_poll_done(struct ls_ops *o, int window_rc, const struct ls_sync_stats *st,
                      struct azt_client *client, struct ls_ledger *ledger, int64_t ms);
/* Pushes to the Pushgateway (one-shot runs with LEADSYNC_PUSHGATEWAY_URL),
 * stops the listener and frees o. NULL is accepted. */
void ls_ops_finish(struct ls_ops *o);

#endif /* LS_OPS_H */
