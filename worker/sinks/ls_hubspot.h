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
 *            "properties"}, one contact per person: keyed on the e-mail
 *            (lower-cased) - HubSpot deduplicates contacts by e-mail, so a
 *            person's second offer keyed otherwise would be refused as
 *            "Contact already exists". A custom LEADSYNC_HUBSPOT_ID_PROPERTY
 *            (a unique property) receives the lead id of the contact's first
 *            lead, and keys the leads that have no e-mail. An id occurs once
 *            per call.
 *   offers   LEADSYNC_HUBSPOT_OFFERS_PROPERTY names a contact property
 *            (multiple checkboxes, or text) that lists every offer the person
 *            asked about, ";"-separated (HubSpot's multiple-checkbox form).
 *            HubSpot overwrites a value with what is sent and documents no
 *            way to add to it, so the sink reads it first: POST .../contacts/
 *            batch/read by the same idProperty, the union with each lead's
 *            offerId, then the upsert. The union is idempotent: a retry, or a
 *            kill -9 between read and write, sends the same list again.
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
 * The batch input of a lead object: {"idProperty": "email", "id": the
 * e-mail lower-cased, "properties": {...}}; with a custom id_property the
 * properties carry it (the leadId), and a lead without an e-mail is keyed
 * on it. *key is the id, malloc'd. Returns 0, or LS_EINVAL when the lead
 * has no id value (no e-mail, and id_property is "email").
 */
LS_NODISCARD int ls_hs_input(const struct ls_mapping *m, const json_t *lead,
                             const char *id_property, json_t **out, char **key);

/* The ";"-separated list existing (NULL or "": empty) with offer added
 * unless it is in it already. malloc'd. */
char *ls_hs_offers_union(const char *existing, const char *offer);

/*
 * The modify step of the read-modify-write: found is the contact's
 * properties as batch/read returned them (NULL: no contact yet). Sets the
 * input's offers_prop (when not NULL) to the union of found's list and offer
 * (skipped when offer is empty); a custom id_prop the contact already has a
 * value for is left out (a unique value never moves).
 */
void ls_hs_merge(json_t *input, const json_t *found, const char *offers_prop, const char *offer,
                 const char *id_prop);

/*
 * The contacts of a batch/read answer (200 or 207) matched to ids[0..n) by
 * their id_property value (no case): found[i] a new reference to the
 * contact's properties, or NULL when HubSpot has none. Returns 0, or
 * LS_EPARSE when the body is not a batch answer.
 */
LS_NODISCARD int ls_hs_read_found(const char *body, size_t len, const char *id_property,
                                  const char *const *ids, size_t n, json_t **found);

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
