/*
 * azt_int.h - internals shared between the files of azure/. Never included
 * by anything outside azure/ (tests excepted).
 */
#ifndef AZT_INT_H
#define AZT_INT_H

#include "azt.h"

#include <stdarg.h>

#define AZT_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Sets the thread's last error message and returns code, so callers can
 * write `return azt__error(AZT_EPARSE, "...", ...);`. */
int azt__error(int code, const char *fmt, ...) AZT_PRINTF(2, 3);
void azt__error_clear(void);

/* Installs jansson's allocator for azt_json_arena scopes (azt_jarena.c)
 * once per process; before a second thread may use jansson. */
void azt__json_arena_install(void);

/* A growable byte buffer with a cap. Always NUL-terminated when ptr != NULL. */
struct azt_buf {
    char *ptr;
    size_t len;
    size_t cap;
    size_t max; /* 0 = unlimited */
};
int azt__buf_append(struct azt_buf *b, const void *p, size_t n); /* AZT_ETOOBIG past max */
int azt__buf_appendf(struct azt_buf *b, const char *fmt, ...) AZT_PRINTF(2, 3);
void azt__buf_dispose(struct azt_buf *b);
/* Hands ownership of the contents to the caller and resets b. */
char *azt__buf_take(struct azt_buf *b);

/* ---- HTTP requests (azt_client.c) ---- */

/* What azt__request captured from the final response. */
struct azt__response {
    long status;         /* HTTP status, 0 when no response was received */
    struct azt_buf body; /* capped at the client's max_response_bytes */
    char *date;          /* Date */
    char *request_id;    /* x-ms-request-id */
    char *error_code;    /* x-ms-error-code, else the body's code on errors */
    char *next_pk;       /* x-ms-continuation-NextPartitionKey */
    char *next_rk;       /* x-ms-continuation-NextRowKey */
    char *etag;          /* ETag */
    char *content_type;  /* Content-Type */
    long retry_after_ms; /* Retry-After / retry-after-ms / x-ms-retry-after-ms, -1 when absent */
};
void azt__response_dispose(struct azt__response *r);

/* azt_page_parse that disposes of body once the entities are built: a
 * page's peak memory is its response text plus its arena. (azt_entity.c) */
int azt__page_parse_body(struct azt_buf *body, size_t max_entities, struct azt_page **out);

/* azt_iter_next without the parse: the next page's raw body into *body (the
 * caller disposes of it), continuation and checks as usual; 1, 0 when the
 * query is complete, or a negative error. For measuring the parse alone.
 * (azt_query.c) */
int azt__iter_next_body(struct azt_iter *it, struct azt_buf *body);

/* A warning through the client's log callback. (azt_client.c) */
void azt__warn(const struct azt_client *c, const char *fmt, ...) AZT_PRINTF(2, 3);

/* Request flags. */
#define AZT__REQ_NONIDEMPOTENT 1u /* POST insert, $batch: retry only when surely not applied */

/*
 * Sends one logical request with retries. path_and_query is appended to the
 * table endpoint (it starts with '/', is already encoded, and never holds the
 * SAS). extra_headers is a NULL-terminated list of "Name: value" or NULL.
 * Returns 0 on a 2xx final response; otherwise a mapped negative code with a
 * message, and *resp still describes the last response (status, error_code)
 * so callers can accept e.g. 409 TableAlreadyExists. resp is always
 * initialised; the caller disposes it.
 */
int azt__request(struct azt_client *c, const char *verb, const char *path_and_query,
                 const char *content_type, const char *body, size_t body_len,
                 const char *const extra_headers[], unsigned flags, struct azt__response *resp);

/* The table endpoint the client sends to (borrowed). */
const char *azt__client_endpoint(const struct azt_client *c);

/* The Accept header value for a metadata level (0 none, 1 minimal, 2 full). */
const char *azt__accept_for(int metadata);

/* ---- Retry policy (pure, azt_retry.c) ---- */

/* The longest pause a Retry-After (or retry-after-ms) may ask of the client. */
#define AZT__RETRY_AFTER_MAX_MS 300000L

/* 1 when the HTTP status is transient (408, 429, 500, 502, 503, 504). */
int azt__status_retryable(long status);

/* A retry-after-ms or x-ms-retry-after-ms value in milliseconds, at most
 * AZT__RETRY_AFTER_MAX_MS; -1 when malformed. Takes (ptr, len). */
long azt__parse_ms(const char *s, size_t n);

/* ---- Names and keys (azt_write.c) ---- */

/* 0 when name is a valid table name (letter, then 2..62 letters or digits). */
int azt__table_name_check(const char *name);
/* "(PartitionKey='pk',RowKey='rk')" with quotes doubled and percent-encoded. */
int azt__key_path(const char *pk, const char *rk, char **out);

#endif /* AZT_INT_H */
