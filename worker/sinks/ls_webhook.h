/*
 * ls_webhook.h - the pure halves of the webhook sink (sink_webhook.c):
 * Standard Webhooks signing, Retry-After parsing and the classification of
 * an HTTP answer into a delivery outcome. No I/O, no clock: tests hit them
 * with fixed vectors.
 *
 * Classification (worker/README.md, Sync semantics):
 *   2xx                       OK
 *   408, 409, 425, 5xx,
 *   transport errors/timeouts RETRY
 *   429                       RETRY, throttled (the whole sink pauses)
 *   503 with Retry-After      RETRY, throttled
 *   401, 403                  FATAL auth: the receiver refuses our credentials
 *                             (an API key in LEADSYNC_WEBHOOK_HEADERS, the secret)
 *   410                       FATAL config: Standard Webhooks says 410 Gone means
 *                             "disable this endpoint"; the sink stops, leads stay
 *                             pending, the run exits 78 until the URL is fixed
 *   3xx                       FATAL config: redirects are not followed
 *   other 4xx                 REJECT: dead letter with status and body excerpt
 */
#ifndef LS_WEBHOOK_H
#define LS_WEBHOOK_H

#include "ls_common.h"
#include "ls_redact.h"
#include "ls_sink.h"

#include <stddef.h>
#include <stdint.h>

#define LS_WEBHOOK_KEY_MAX     64             /* Standard Webhooks secrets are 24..64 bytes */
#define LS_WEBHOOK_SIG_MAX     64             /* "v1," + 44 base64 chars + NUL fits */
#define LS_WEBHOOK_EXCERPT_MAX LS_EXCERPT_MAX /* bytes of a receiver's body kept in errors */

/*
 * Decodes a Standard Webhooks secret ("whsec_" + base64; the prefix is
 * optional) into key[]. Returns 0, or LS_ECONFIG (message never quotes the
 * secret) when it is not base64 or not 24..64 bytes long.
 */
LS_NODISCARD int ls_webhook_key_decode(const char *secret, unsigned char key[LS_WEBHOOK_KEY_MAX],
                                       size_t *keylen);

/*
 * Writes "v1,<base64 HMAC-SHA256(key, id "." ts "." body)>" into out.
 * Returns 0 or LS_ERROR (OpenSSL failure). One signature: a sink signing
 * many uses a signer (below).
 */
LS_NODISCARD int ls_webhook_sign(const unsigned char *key, size_t keylen, const char *id,
                                 int64_t ts, const char *body, size_t len,
                                 char out[LS_WEBHOOK_SIG_MAX]);

/*
 * A signer: the HMAC-SHA256 fetched and keyed once, then restarted from its
 * keyed state for every signature (what ls_webhook_sign does in one call,
 * without looking up the algorithm and hashing the key each time).
 * ls_webhook_signer_new copies what it needs of the key (0 or LS_ERROR);
 * ls_webhook_signer_sign writes the same text as ls_webhook_sign;
 * ls_webhook_signer_free wipes the key state (NULL is fine).
 */
struct ls_webhook_signer;
LS_NODISCARD int ls_webhook_signer_new(const unsigned char *key, size_t keylen,
                                       struct ls_webhook_signer **out);
LS_NODISCARD int ls_webhook_signer_sign(struct ls_webhook_signer *s, const char *id, int64_t ts,
                                        const char *body, size_t len, char out[LS_WEBHOOK_SIG_MAX]);
void ls_webhook_signer_free(struct ls_webhook_signer *s);

/*
 * LEADSYNC_WEBHOOK_HEADERS: "Name: value" entries separated by newlines (or
 * by ';' when there is none), blanks around an entry and empty entries
 * ignored. A name is an HTTP token and not one the sink sets itself; a value
 * has no control character but tab. *out gets the *n entries as
 * "Name: value" (free with ls_webhook_headers_free). 0, or LS_ECONFIG with a
 * message naming the entry or header, never a value (values are secrets).
 */
LS_NODISCARD int ls_webhook_headers_parse(const char *spec, char ***out, size_t *n);
/* Wipes and frees what ls_webhook_headers_parse gave. */
void ls_webhook_headers_free(char **headers, size_t n);

/*
 * Fills *r for one attempt. status: the HTTP status, 0 when there was no
 * answer; transport: the transport error text when there was no answer
 * (NULL otherwise); retry_after_ms: parsed Retry-After or -1; body/len: the
 * start of the answer's body (an excerpt of at most LS_WEBHOOK_EXCERPT_MAX
 * bytes is kept, redacted by ls_redact_excerpt).
 */
void ls_webhook_classify(int status, const char *transport, long retry_after_ms, const char *body,
                         size_t len, struct ls_sink_result *r);

#endif /* LS_WEBHOOK_H */
