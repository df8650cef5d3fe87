/*
 * ls_web_to_lead.h - the pure halves of the Salesforce Web-to-Lead sink
 * (sink_web_to_lead.c), the route for orgs without API access. No I/O.
 *
 * The sink (LEADSYNC_SINKS=web_to_lead):
 *   POST LEADSYNC_WEB_TO_LEAD_URL, form-urlencoded: oid=<LEADSYNC_WEB_TO_LEAD_OID>
 *   and the standard field names of the mapping (first_name, last_name, email,
 *   company, ...). Web-to-Lead can only create and cannot deduplicate, so:
 *   - only the first delivery of a lead id is posted; later states (updates)
 *     are logged and not sent;
 *   - do-not-contact leads are never posted (logged);
 *   - a request whose body went out is never retried: an answer other than
 *     2xx/3xx, or a failure after sending, makes it a dead letter saying it
 *     may or may not have been created; only requests that never left
 *     (connection refused, DNS, a failed TLS handshake) are retried;
 *   - not even across a crash: before each post the lead id is marked
 *     "posting" in the ledger (ls_ledger_post_begin: table sink_posts,
 *     schema/sqlite/008_sink_posts.sql), committed durably; the answer then
 *     makes it "created" or "unknown", a provable non-send deletes it. A
 *     later delivery of a lead marked "created" is reported delivered without
 *     a post; one marked "posting" or "unknown" (a crash came between the post
 *     and the outbox commit) becomes a dead letter saying the outcome is
 *     unknown. `leadsync retry` re-queues such a dead letter and, through a
 *     trigger, marks the lead "requeued": the next run posts it (a human
 *     checked Salesforce);
 *   - at most LEADSYNC_WEB_TO_LEAD_DAILY_LIMIT (500) posts per UTC day, counted
 *     in the ledger (table sink_day_posts) in the same transaction as the
 *     mark, so the count survives restarts; past it the sink pauses until
 *     00:00 UTC. `send-test-lead` opens no ledger: its post is neither marked
 *     nor counted.
 *   A warning at start says so.
 *   Crash points (LEADSYNC_TEST_CRASH_AT, ls_common.h): w2l-marked (mark
 *   committed, form not sent), w2l-answered (answer in, not recorded),
 *   w2l-recorded (answer recorded, outbox not yet told).
 */
#ifndef LS_WEB_TO_LEAD_H
#define LS_WEB_TO_LEAD_H

#include "ls_common.h"
#include "ls_mapping.h"
#include "ls_sink.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* The form body of a lead: oid first, then every mapped field (strings as
 * they are, numbers and booleans as text, true as "1"), percent-encoded.
 * Returns 0 or LS_EINVAL. *out malloc'd. */
LS_NODISCARD int ls_w2l_form(const struct ls_mapping *m, const json_t *lead, const char *oid,
                             char **out);

/* Fills *r for one post: status 0 and sent 0 (never left) RETRY; TLS or URL
 * trouble (tls_config) FATAL; 2xx/3xx OK; anything else, or no answer after
 * the body went out, REJECT (never retried). */
void ls_w2l_classify(int status, int sent, int tls_config, const char *transport,
                     struct ls_sink_result *r);

/* The UTC day of unix ms now_ms as "YYYY-MM-DD" (out must hold 11). */
void ls_w2l_day(int64_t now_ms, char out[11]);

#endif /* LS_WEB_TO_LEAD_H */
