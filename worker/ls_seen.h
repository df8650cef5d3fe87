/*
 * ls_seen.h - what a dry run has seen of each lead in its window. A real
 * run records each lead's highest stage, do-not-contact flag and newest
 * version in the ledger as it goes, so a lead's later rows in the same window
 * are read against its earlier ones; a dry run writes nothing, so it keeps
 * the same facts here, in memory, and `run --dry-run` shows the stage, the
 * event type (lead.created or lead.updated) and late rows a real run would.
 */
#ifndef LS_SEEN_H
#define LS_SEEN_H

#include "ls_common.h"
#include "ls_ledger.h"

struct ls_seen;

struct ls_seen *ls_seen_new(void);
void ls_seen_free(struct ls_seen *s);

/* 1 and the lead's facts when the window has seen it, else 0. *newest
 * points into s (valid until the next put). */
int ls_seen_get(const struct ls_seen *s, const char *lead_id, int *max_stage, int *dnc,
                const struct ls_ledger_version **newest);
/* Records the lead's facts; newest NULL keeps the one recorded (a late row). */
void ls_seen_put(struct ls_seen *s, const char *lead_id, int max_stage, int dnc,
                 const struct ls_ledger_version *newest);

#endif /* LS_SEEN_H */
