/*
 * ls_redact.h - what may be kept of text a remote service sent: the one
 * helper every error body (CRM sinks, webhooks, Microsoft Entra, the table
 * service) goes through before it reaches a log line, `status` or the
 * ledger's outbox.last_error.
 *
 * The copy is bounded, valid UTF-8 (invalid bytes become '?', never cut
 * inside a character) and free of control characters (C0, DEL, C1, line
 * and bidirectional-override marks become spaces). Personal data and
 * secrets are masked:
 *   jane.doe@example.com, jane%40example.com      -> (email)
 *   +1 (555) 010-9999, 555.010.9999, 5550109999   -> (phone)   (7-15 digits)
 *   Bearer eyJhbGciOi...                          -> Bearer (secret)
 *   "access_token":"...", client_secret=..., ...  -> "access_token":"(secret)"
 *   an opaque run of 40 or more token characters  -> (secret)
 * A date (2026-12-01) is not a phone number; a run of digits glued to
 * letters (an id such as 00Q5e000001AbCd) is kept.
 *
 * Pure: no allocation, no I/O; src need not be NUL-terminated.
 */
#ifndef LS_REDACT_H
#define LS_REDACT_H

#include <stddef.h>

#define LS_EXCERPT_MAX 200 /* bytes of a remote body kept in an error message */

/* Writes the redacted copy of src[0..len) into dst (cap bytes, always
 * NUL-terminated when cap > 0); returns the bytes written. dst and src may
 * not overlap. */
size_t ls_redact(char *dst, size_t cap, const char *src, size_t len);
/* The same, bounded to LS_EXCERPT_MAX bytes: a remote body's excerpt. */
size_t ls_redact_excerpt(char *dst, size_t cap, const char *body, size_t len);
/* Redacts the NUL-terminated string s (a buffer of cap bytes) in place. */
void ls_redact_inplace(char *s, size_t cap);

#endif /* LS_REDACT_H */
