/*
 * ls_inline.h - inline delivery: the sync engine's fast path for sinks that
 * write locally and durably (ls_sink.h deliver_inline, the JSONL file).
 *
 * When every configured sink is inline and none has outbox rows pending,
 * a page's new row versions are handed to the sinks in chunks, inside the
 * page's open ledger transaction, instead of going through the outbox. An
 * item a sink does not take is enqueued in that same transaction, so the
 * delivery engine retries it as usual. A crash before the page commits
 * re-reads the page and writes the same versions again under the same
 * delivery ids (an allowed repeat).
 */
#ifndef LS_INLINE_H
#define LS_INLINE_H

#include "ls_ledger.h"
#include "ls_sink.h"
#include "ls_sync.h"

#include <stdint.h>

struct ls_inline;

/* *out: the inline path for these sinks, or NULL when it does not apply
 * (a sink is not inline, or has deliveries pending). */
LS_NODISCARD int ls_inline_open(struct ls_ledger *ledger, const struct ls_sink *sinks,
                                size_t nsinks, struct ls_inline **out);
void ls_inline_free(struct ls_inline *in);

/* Adds a row version; takes payload over. late: older than the lead's
 * newest version (enqueued as such for a sink that did not take it). Hands
 * a full chunk to the sinks. */
LS_NODISCARD int ls_inline_add(struct ls_inline *in, const char *lead_id, const char *delivery_id,
                               char *payload, int created, int late, int64_t now,
                               struct ls_sync_stats *st);
/* Hands what is held to the sinks and empties it; before the page commits. */
LS_NODISCARD int ls_inline_flush(struct ls_inline *in, int64_t now, struct ls_sync_stats *st);

#endif /* LS_INLINE_H */
