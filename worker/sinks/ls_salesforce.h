/*
 * ls_salesforce.h - the pure halves of the Salesforce REST sink
 * (sink_salesforce.c): record building and answer classification. No I/O.
 *
 * The sink (LEADSYNC_SINKS=salesforce):
 *   auth     OAuth 2.0 client credentials, or the JWT bearer flow (RS256
 *            assertion: iss client id, sub username, aud login URL, exp +3 min)
 *            against LEADSYNC_SALESFORCE_TOKEN_URL. The token is kept until the
 *            API answers INVALID_SESSION_ID, then fetched again once; a second
 *            refusal stops the sink (exit 77).
 *   upsert   PATCH .../sobjects/Lead/<ExternalIdField>/<leadId>, or for several
 *            leads PATCH .../composite/sobjects/Lead/<ExternalIdField> with up to
 *            LEADSYNC_SALESFORCE_BATCH (200) records and allOrNone=false: each
 *            record's result is its own (failed ones become dead letters, the
 *            rest are delivered). A whole-call 400 falls back to single PATCHes.
 *   DNC      never creates: GET .../sobjects/Lead/<ExternalIdField>/<leadId>?fields=Id;
 *            404 means no record (nothing to do, delivered); else PATCH
 *            .../sobjects/Lead/<Id> with the opt-out flags.
 *   limits   403 REQUEST_LIMIT_EXCEEDED pauses the whole sink for
 *            LEADSYNC_SALESFORCE_LIMIT_PAUSE_SECONDS, doubling while it repeats
 *            (cap one day). Sforce-Limit-Info is logged at debug and kept; its
 *            api-usage=N/M is the sink's usage (ls_sink_ops.usage: /metrics and
 *            `status`).
 *   check    obtains a token and describes Lead (no data written); the
 *            external-ID field must exist.
 *   fallbacks  LastName and Company are required by Salesforce: the built-in
 *            mapping sends "[not provided]" when the marketplace left them
 *            empty (as Web-to-Lead does).
 */
#ifndef LS_SALESFORCE_H
#define LS_SALESFORCE_H

#include "ls_common.h"
#include "ls_mapping.h"
#include "ls_sink.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The Lead record of a lead object. The external-ID field and Id never
 * appear in a single-upsert body; with collection=1 the record carries
 * "attributes":{"type":"Lead"} and the external-ID field = leadId.
 */
LS_NODISCARD int ls_sf_record(const struct ls_mapping *m, const json_t *lead, const char *ext_field,
                              int collection, json_t **out);

/* What an answer asks of the sink beyond the item's outcome. */
enum ls_sf_signal {
    LS_SF_NONE = 0,
    LS_SF_SESSION, /* INVALID_SESSION_ID: fetch a token, try once more */
    LS_SF_LIMIT,   /* REQUEST_LIMIT_EXCEEDED: pause the sink */
};

/*
 * Classifies the answer to a single request (status, body of
 * [{"message","errorCode"}]). 2xx OK; 401 -> FATAL auth + LS_SF_SESSION;
 * 403 REQUEST_LIMIT_EXCEEDED -> RETRY throttled + LS_SF_LIMIT; other 403 ->
 * FATAL auth (permissions); 300, 400, 404 and other 4xx -> REJECT with the
 * errorCode and message; 408, 5xx, no answer -> RETRY.
 */
enum ls_sf_signal ls_sf_classify(int status, const char *body, size_t len,
                                 struct ls_sink_result *r);

/* Classifies one element of a Collections answer
 * ({"success":bool,"errors":[{"statusCode","message"}]}): success OK,
 * UNABLE_TO_LOCK_ROW RETRY, otherwise REJECT. */
void ls_sf_classify_record(const json_t *res, struct ls_sink_result *r);

/* Pause for the streak-th REQUEST_LIMIT_EXCEEDED in a row (1-based):
 * base_s * 2^(streak-1) seconds, at most a day, in ms. */
long ls_sf_limit_pause_ms(long base_s, int streak);

/* Reads "api-usage=N/M" out of a Sforce-Limit-Info value (p, n; other
 * entries such as per-app-api-usage are skipped). 0 and *used, *limit; or
 * LS_EPARSE when there is none. */
LS_NODISCARD int ls_sf_limit_info(const char *p, size_t n, int64_t *used, int64_t *limit);

#endif /* LS_SALESFORCE_H */
