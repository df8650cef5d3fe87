/*
 * ls_marketo.h - the pure halves of the Marketo sink (sink_marketo.c):
 * record building and answer classification. No I/O.
 *
 * The sink (LEADSYNC_SINKS=marketo):
 *   auth     client credentials, the documented way: GET
 *            <LEADSYNC_MARKETO_BASE_URL>/identity/oauth/token?grant_type=
 *            client_credentials&client_id=..&client_secret=.. (Adobe, Marketo
 *            REST "Authentication"); calls carry "Authorization: Bearer". The token is
 *            kept until its expires_in (the REMAINING life) has passed or the
 *            API answers 601/602; then fetched again once. Marketo hands out
 *            the same token until it expires, so there is no early refresh.
 *            A refused client id/secret stops the sink (exit 77).
 *   upsert   POST <base>/rest/v1/leads.json {"action":"createOrUpdate",
 *            "lookupField":<LEADSYNC_MARKETO_LOOKUP_FIELD>,"input":[...]} with up
 *            to LEADSYNC_MARKETO_BATCH (300) records. A lookup key never occurs
 *            twice in one call, and calls go out one at a time, so two upserts
 *            of one key are never in flight together.
 *   DNC      {"action":"updateOnly"} with the mapping's doNotContact flags
 *            (unsubscribed, the documented standard opt-out field, and
 *            doNotCall): never creates; a
 *            lead Marketo does not know (1004) is delivered with nothing to do.
 *   errors   always HTTP 200 with success:false: 601/602 token, 606/615 pause
 *            the sink LEADSYNC_MARKETO_THROTTLE_SECONDS, 607 (daily quota)
 *            pauses it until 00:00 US Central Standard Time; per-record
 *            "skipped" reasons (1xxx) make that record a dead letter.
 */
#ifndef LS_MARKETO_H
#define LS_MARKETO_H

#include "ls_common.h"
#include "ls_mapping.h"
#include "ls_sink.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The Marketo lead record of a lead object. When lookup_field is not
 * "email" and the mapping does not fill it, it receives the leadId. *key is
 * the lookup value as text (e-mail addresses lower-cased), malloc'd.
 * Returns 0, or LS_EINVAL with a message when the record has no lookup value.
 */
LS_NODISCARD int ls_mkto_record(const struct ls_mapping *m, const json_t *lead,
                                const char *lookup_field, json_t **out, char **key);

/* What an answer asks of the sink beyond the items' outcomes. */
enum ls_mkto_signal {
    LS_MKTO_NONE = 0,
    LS_MKTO_TOKEN,    /* 601/602 (or HTTP 401): fetch a token, try once more */
    LS_MKTO_THROTTLE, /* 606/615: pause the sink */
    LS_MKTO_QUOTA,    /* 607: pause the sink until the daily quota resets */
    LS_MKTO_SPLIT,    /* 413/414: send fewer records per call */
};

/*
 * Classifies the answer to a sync call of n records (status 0: no answer;
 * body/len the answer, not NUL-terminated). Fills res[0..n): call-level
 * errors give every record the same outcome (RETRY for server trouble and
 * the signals, FATAL for access denied or a wrong URL, REJECT for request
 * errors); a successful call gives each record its own: created/updated OK,
 * skipped REJECT with the reason's code and message, except 1004 (not
 * found) with update_only, which is OK. retry_after_ms is left -1.
 */
enum ls_mkto_signal ls_mkto_classify(int status, const char *body, size_t len, size_t n,
                                     int update_only, struct ls_sink_result *res);

/* Milliseconds from now_ms (unix ms) until the next 00:00 US Central
 * Standard Time (UTC-6), when Marketo's daily quota resets. */
long ls_mkto_quota_reset_ms(int64_t now_ms);

/* Parses an identity answer: access_token and expires_in (seconds; -1 when
 * missing). Returns 0, or LS_EPARSE. *token malloc'd. */
LS_NODISCARD int ls_mkto_parse_token(const char *body, size_t len, char **token, long *expires_in);

#endif /* LS_MARKETO_H */
