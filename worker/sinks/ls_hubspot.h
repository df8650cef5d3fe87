/*
 * ls_hubspot.h - the pure halves of the HubSpot sink (sink_hubspot.c):
 * input building and answer classification. No I/O.
 *
 * The sink (LEADSYNC_SINKS=hubspot):
 *   auth     a private-app (static) token, LEADSYNC_HUBSPOT_TOKEN. It cannot
 *            be refreshed: 401 stops the sink (exit 77) with a message saying
 *            the token was revoked or rotated; 403 (missing scopes) too.
 *   upsert   POST <base>/crm/v3/objects/contacts/batch/upsert with up to
 *            LEADSYNC_HUBSPOT_BATCH (100) inputs {"idProperty","id",
 *            "properties"}, keyed on LEADSYNC_HUBSPOT_ID_PROPERTY: "email"
 *            (the contact's e-mail, lower-cased) or a custom unique property,
 *            which then receives the leadId. An id occurs once per call.
 *   DNC      the e-mail address is opted out of all e-mail through the
 *            subscription preferences API (POST <base>/communication-
 *            preferences/v4/statuses/{email}/unsubscribe-all?channel=EMAIL,
 *            scope communication_preferences.write); hs_email_optout is
 *            read-only in HubSpot and is never written. Then POST
 *            .../contacts/batch/update by the same idProperty with the
 *            mapped properties and the mapping's doNotContact ones: never
 *            creates a contact; a contact HubSpot does not have
 *            (OBJECT_NOT_FOUND) is delivered with nothing to do.
 *   answers  200/201 all done; 207 per input (errors[].context.ids name the
 *            failed ones: dead letters); a whole-call 400/409 with several
 *            inputs (idProperty email answers no 207) is split in halves,
 *            and each half sent again, down to the bad inputs;
 *            429 pauses the sink (TEN_SECONDLY_ROLLING: Retry-After or 10 s;
 *            DAILY: until the next midnight UTC, or Retry-After when later);
 *            423 pauses at least 2 s; 477 pauses for Retry-After (60 s when
 *            absent); 408, 5xx and 521 are retried.
 */
#ifndef LS_HUBSPOT_H
#define LS_HUBSPOT_H

#include "ls_common.h"
#include "ls_mapping.h"
#include "ls_sink.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The batch input of a lead object: {"idProperty": id_property, "id": ...,
 * "properties": {...}}. *key is the id (e-mail lower-cased), malloc'd.
 * Returns 0, or LS_EINVAL when the lead has no id value (no e-mail).
 */
LS_NODISCARD int ls_hs_input(const struct ls_mapping *m, const json_t *lead,
                             const char *id_property, json_t **out, char **key);

enum ls_hs_signal {
    LS_HS_NONE = 0,
    LS_HS_PAUSE,  /* pause the whole sink for *pause_ms */
    LS_HS_SINGLE, /* the call was refused as a whole: send the inputs one by one */
};

/*
 * Classifies the answer (status 0: none; body/len not NUL-terminated;
 * retry_after_ms from Retry-After or -1) to a call of n inputs whose ids are
 * ids[0..n). Fills res[0..n) and, with LS_HS_PAUSE, *pause_ms. now_ms is the
 * wall clock (for the DAILY reset). update_only: the call was a DNC update,
 * where OBJECT_NOT_FOUND means nothing to do.
 */
enum ls_hs_signal ls_hs_classify(int status, long retry_after_ms, const char *body, size_t len,
                                 const char *const *ids, size_t n, int update_only, int64_t now_ms,
                                 struct ls_sink_result *res, long *pause_ms);

#endif /* LS_HUBSPOT_H */
