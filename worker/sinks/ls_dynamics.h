/*
 * ls_dynamics.h - the pure halves of the Dynamics 365 / Dataverse sink
 * (sink_dynamics.c): URLs, records, client assertions and answer
 * classification. No I/O.
 *
 * The sink (LEADSYNC_SINKS=dynamics):
 *   auth     Microsoft Entra client credentials against
 *            LEADSYNC_DYNAMICS_TOKEN_URL with scope https://ORG/.default, using
 *            the client secret, or a client assertion: a JWT signed RS256 with
 *            the certificate's key, header x5t = the certificate's SHA-1
 *            thumbprint, claims aud = token URL, iss = sub = client id, jti,
 *            nbf, exp (+10 min). The token is renewed a minute before
 *            expires_in runs out, and once when the API answers 401.
 *   upsert   PATCH {api}/leads(<key>='<leadId>') through the alternate key
 *            (LEADSYNC_DYNAMICS_KEY_FIELD); 204/200/201 are success.
 *   batch    a round of several leads goes out as POST {api}/$batch with up to
 *            LEADSYNC_DYNAMICS_BATCH (100; at most 1000) independent PATCHes
 *            and Prefer: odata.continue-on-error: each part's status is that
 *            lead's own (a 400 part is its dead letter, the rest delivered). A
 *            429 or 5xx for the whole batch retries every lead in it (429
 *            pauses the sink for Retry-After); another 4xx for the whole batch
 *            falls back to one PATCH per lead. Parts the answer lacks are
 *            retried (upserts are idempotent). One lead alone is a plain PATCH.
 *   DNC      the same PATCH with If-Match: * so a missing lead is never created
 *            (404 = nothing to do, delivered); the mapping's doNotContact
 *            columns (donotemail, donotphone, donotbulkemail) are set.
 *   limits   429 with Retry-After (service protection limits 0x80072322,
 *            0x80072321, 0x80072326) pauses the whole sink for Retry-After.
 *   check    obtains a token and reads the lead table's metadata
 *            (EntityDefinitions(LogicalName='lead')?$select=LogicalName); no data
 *            is written.
 */
#ifndef LS_DYNAMICS_H
#define LS_DYNAMICS_H

#include "ls_common.h"
#include "ls_mapping.h"
#include "ls_sink.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* "{api_base}/leads(<key_field>='<value>')" with ' doubled and the value
 * percent-encoded. malloc'd. */
char *ls_dv_key_url(const char *api_base, const char *entity_set, const char *key_field,
                    const char *value);

/* The lead's columns; the key column never appears (Dataverse copies the
 * URL's key in on create). */
LS_NODISCARD int ls_dv_record(const struct ls_mapping *m, const json_t *lead, const char *key_field,
                              json_t **out);

/* A signed client assertion for the Entra token endpoint at time now
 * (unix seconds); jti is the caller's unique id. LS_ECONFIG on an unusable
 * certificate or key. */
LS_NODISCARD int ls_dv_assertion(const char *client_id, const char *token_url, const char *cert_pem,
                                 const char *key_pem, int64_t now, const char *jti, char **out);

/*
 * Classifies an answer ({"error":{"code","message"}}): 2xx OK; 429 RETRY
 * throttled with Retry-After; 401 FATAL auth (the caller refreshes once
 * first); 403 FATAL auth (the application user lacks a role); 412 RETRY;
 * 408, 5xx, no answer RETRY (503 with Retry-After throttled); other 4xx
 * REJECT with the code and message.
 */
void ls_dv_classify(int status, const char *body, size_t len, long retry_after_ms,
                    struct ls_sink_result *r);

/* Dataverse takes at most this many requests in one $batch. */
#define LS_DV_BATCH_MAX 1000

/* One upsert of a $batch. */
struct ls_dv_op {
    const char *url;  /* absolute URL of the PATCH (ls_dv_key_url) */
    int update_only;  /* 1: If-Match: * (DNC: never creates); 0: If-None-Match: null */
    const char *body; /* the JSON record */
};

/*
 * The multipart/mixed body of a $batch of n independent PATCH requests,
 * delimited by "--batch_<id>" (id: [A-Za-z0-9-], at most 60 characters; the
 * request's Content-Type is multipart/mixed; boundary="batch_<id>"). No change
 * sets: with Prefer: odata.continue-on-error a failing request fails only
 * itself. *out malloc'd, NUL-terminated, *len its length. LS_EINVAL on a bad id.
 */
LS_NODISCARD int ls_dv_batch_body(const char *id, const struct ls_dv_op *ops, size_t n, char **out,
                                  size_t *len);

/* One part of a $batch answer. */
struct ls_dv_part {
    int status;          /* the part's HTTP status; 0 when its status line is unreadable */
    long retry_after_ms; /* the part's Retry-After, -1 when none */
    const char *body;    /* the part's body, pointing into the answer (not NUL-terminated) */
    size_t len;
};

/*
 * Parses a multipart/mixed $batch answer (CRLF or LF line ends). The boundary
 * comes from ctype (the answer's Content-Type, ctlen bytes), or from the
 * body's first delimiter line when ctype names none. Change-set responses
 * nested inside are flattened in order. Fills at most cap parts; *n = parts
 * filled. now_ms dates Retry-After given as an HTTP date. LS_EPARSE when the
 * answer is not multipart or holds no part.
 */
LS_NODISCARD int ls_dv_batch_parse(const char *ctype, size_t ctlen, const char *body, size_t len,
                                   int64_t now_ms, struct ls_dv_part *parts, size_t cap, size_t *n);

#endif /* LS_DYNAMICS_H */
