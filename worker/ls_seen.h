/*
 * ls_seen.h - what a dry run has seen of each lead in its window. A real
 * run records each lead's highest stage, do-not-contact flag and newest
 * version in the ledger as it goes, so a lead's later rows in the same window
 * are read against its earlier ones; a dry run writes nothing, so it keeps
 * the same facts here, and `run --dry-run` shows the stage, the event type
 * (lead.created or lead.updated) and late rows a real run would.
 *
 * The facts live in a private temporary SQLite database whose page cache is
 * capped (LS_SEEN_CACHE_KIB): past that, SQLite moves pages to an unnamed
 * file in its temporary directory (SQLITE_TMPDIR or TMPDIR, else /var/tmp or
 * /tmp; mode 0600, deleted at once), so a window of a million leads costs
 * disk, not memory. Nothing is written while the window's leads fit the cache.
 */
#ifndef LS_SEEN_H
#define LS_SEEN_H

#include "ls_common.h"
#include "ls_ledger.h"

#define LS_SEEN_CACHE_KIB 1024

struct ls_seen;

/* An empty set: 0, or LS_EIO with the last error set. */
LS_NODISCARD int ls_seen_new(struct ls_seen **out);
void ls_seen_free(struct ls_seen *s);

/* 1 and the lead's facts when the window has seen it, 0 when not, or LS_EIO.
 * *newest points into s (valid until the next get or put). */
LS_NODISCARD int ls_seen_get(struct ls_seen *s, const char *lead_id, int *max_stage, int *dnc,
                             const struct ls_ledger_version **newest);
/* Records the lead's facts (0 or LS_EIO); newest NULL keeps the one recorded
 * (none for a lead not seen before). newest may point into s. */
LS_NODISCARD int ls_seen_put(struct ls_seen *s, const char *lead_id, int max_stage, int dnc,
                             const struct ls_ledger_version *newest);

#endif /* LS_SEEN_H */
