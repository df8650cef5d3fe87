/*
 * ls_report.h - `leadsync report`: what the marketplace brought in a period,
 * counts only (no names, emails or phones). The figures are gathered once
 * from the ledger, opened read-only, into one JSON object (the --json output,
 * schema "leadsync.report/1"); the text and HTML renderers read only that
 * object, so every output shows the same figures.
 *
 * Definitions (all over rows whose Timestamp is in [since, until)):
 *   a lead           one lead id (one customer and offer by default);
 *                    validation leads are counted apart and nowhere else
 *   funnel           per offer, the leads that reached at least initial
 *                    interest, trial, active; rates between the stages
 *   new leads        leads whose first row ever falls in the day or week
 *   sinks            deliveries by state per sink, all time
 */
#ifndef LS_REPORT_H
#define LS_REPORT_H

#include "ls_common.h"
#include "ls_ledger.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/* The period: [since, until) as ISO 8601 bounds with 7 fractional digits. */
struct ls_report_period {
    char since[40];
    char until[40];
    int64_t since_s, until_s; /* the same, unix seconds */
};

/*
 * Parses --since/--until (NULL when not given): "YYYY-MM-DD" (a whole day:
 * --until includes that day) or "YYYY-MM-DDTHH:MM:SS[.f]Z". Defaults: until
 * now, since 30 days before until. LS_EUSAGE with a message on bad input.
 */
LS_NODISCARD int ls_report_period(const char *since, const char *until, int64_t now_s,
                                  struct ls_report_period *out);

/* Gathers the figures; *out is a new JSON object. */
LS_NODISCARD int ls_report_build(struct ls_ledger *l, const struct ls_report_period *p,
                                 json_t **out);

/* Renderers of the object ls_report_build made. */
void ls_report_text(const json_t *r, FILE *f);
void ls_report_html(const json_t *r, FILE *f);

#endif /* LS_REPORT_H */
