/*
 * azt.h - a small Azure Table Storage client.
 *
 * Why this exists: the sync worker needs exactly one thing from Azure, reading
 * a table page by page with full-fidelity values (7-digit Timestamps, typed
 * EDM properties) and correct continuation, plus a few writes for seeding and
 * tests. The official SDKs are large, lossy on Timestamp and not available in
 * C. This library knows nothing of leads or CRMs; the worker links it.
 *
 * Conventions:
 *  - Functions that can fail return 0 or a negative enum azt_err; the last
 *    error's one-line message is in azt_error_last() (thread-local). Messages
 *    never contain the account key, a SAS signature or a bearer token.
 *  - A `**out` parameter hands ownership to the caller, who frees it with the
 *    matching _free/_destroy function. Every _free/_destroy accepts NULL.
 *  - Strings are UTF-8 and NUL-terminated unless a length is given.
 *
 * Reading order: connection strings, credentials, signing (pure), entities
 * and pages (pure), the client (I/O), queries, writes.
 */
#ifndef AZT_H
#define AZT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AZT_NODISCARD __attribute__((warn_unused_result))

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

enum azt_err {
    AZT_OK = 0,
    AZT_ERROR = -1,       /* anything not listed below */
    AZT_ENOMEM = -2,      /* allocation failed */
    AZT_EINVAL = -3,      /* bad argument from the caller */
    AZT_ECONFIG = -4,     /* malformed connection string or option */
    AZT_ENET = -5,        /* service unreachable (connect/DNS/TLS/timeout) after retries */
    AZT_EAUTH = -6,       /* 401/403: credentials refused */
    AZT_ENOTFOUND = -7,   /* 404 */
    AZT_ECONFLICT = -8,   /* 409 (already exists) */
    AZT_EHTTP = -9,       /* any other non-retryable HTTP status */
    AZT_EPARSE = -10,     /* response body or header malformed */
    AZT_ETHROTTLED = -11, /* retries exhausted on 429/503/500/5xx */
    AZT_ETOOBIG = -12,    /* response larger than the configured cap */
    AZT_ECANCELED = -13,  /* the cancel callback asked to stop */
    AZT_ETLS = -14,       /* the server's TLS certificate does not verify (not retried) */
};

/* The last error's message for this thread ("" when none). Borrowed. */
const char *azt_error_last(void);
/* A short constant name for a code ("AZT_EAUTH"). */
const char *azt_error_name(int code);

/* ------------------------------------------------------------------------ */
/* Connection strings                                                        */

/*
 * Parsed connection string. Keys are matched case-insensitively, elements are
 * trimmed, empty elements and a trailing ';' are allowed, values split on the
 * first '='. UseDevelopmentStorage=true expands to the Azurite well-known
 * account. Exactly one of key (SharedKey) or sas is set, or neither when the
 * caller supplies a bearer-token credential.
 */
struct azt_conn {
    char *account;      /* account name; derived from the endpoint host when absent */
    unsigned char *key; /* decoded AccountKey bytes, or NULL */
    size_t key_len;
    char *sas;            /* SAS query string without leading '?', or NULL */
    char *table_endpoint; /* e.g. https://acct.table.core.windows.net (no trailing '/') */
    int is_emulator;      /* path-style endpoint: account is the first path segment */
};

/* Parses s[0..n). On error returns AZT_ECONFIG with a message naming the bad
 * element (never echoing a key or signature). */
AZT_NODISCARD int azt_conn_parse(const char *s, size_t n, struct azt_conn **out);
void azt_conn_free(struct azt_conn *conn);

/* ------------------------------------------------------------------------ */
/* Credentials                                                               */

enum azt_auth {
    AZT_AUTH_SHAREDKEY = 0,
    AZT_AUTH_SHAREDKEY_LITE,
    AZT_AUTH_SAS,
    AZT_AUTH_BEARER,
};

/*
 * A bearer-token source (Entra ID). get_token returns a token the client owns
 * (freed with free()) and its expiry (unix seconds); the client calls it before
 * each request and again once after a 401, with force_refresh=1. It returns
 * 0, AZT_ENET when its token endpoint could not be reached (a temporary
 * failure), or any other negative value when the credentials were refused.
 */
struct azt_token_source {
    int (*get_token)(void *ctx, int force_refresh, char **token, time_t *expires_at);
    void *ctx;
};

/* ------------------------------------------------------------------------ */
/* Signing (pure; no I/O)                                                    */

/*
 * Builds the Table-service string-to-sign.
 *   SharedKey:     VERB\nContent-MD5\nContent-Type\nDate\nCanonicalizedResource
 *   SharedKeyLite: Date\nCanonicalizedResource
 * CanonicalizedResource = "/" account + path (exactly as sent, already
 * encoded) + "?comp=" value when the query has comp. `query` is the raw query
 * string without '?', or NULL. Result in *out (caller frees with free()).
 */
AZT_NODISCARD int azt_string_to_sign(enum azt_auth scheme, const char *verb,
                                     const char *content_md5, const char *content_type,
                                     const char *date, const char *account, const char *path,
                                     const char *query, char **out);

/* base64(HMAC-SHA256(key, msg)) into out (at least 45 bytes, NUL-terminated). */
AZT_NODISCARD int azt_hmac_sha256_b64(const unsigned char *key, size_t key_len, const char *msg,
                                      size_t msg_len, char out[45]);

/* Strict-but-lenient base64 decode (padding optional, whitespace rejected).
 * *out is malloc'd; *out_len is the true byte count. */
AZT_NODISCARD int azt_base64_decode(const char *s, size_t n, unsigned char **out, size_t *out_len);

/* RFC 1123 date in the C locale: "Mon, 05 Dec 2011 17:55:02 GMT". */
void azt_format_http_date(time_t t, char out[30]);
/* Parses an RFC 1123 date; returns 0 and sets *t, or AZT_EPARSE. */
AZT_NODISCARD int azt_parse_http_date(const char *s, time_t *t);

/* ------------------------------------------------------------------------ */
/* $filter helpers (pure)                                                    */

/* 'text' with every ' doubled. *out malloc'd. */
AZT_NODISCARD int azt_filter_string(const char *s, char **out);
/* datetime'YYYY-MM-DDThh:mm:ss.fffffffZ' from an ISO-8601 UTC string, which
 * is validated and kept verbatim (up to 7 fractional digits). */
AZT_NODISCARD int azt_filter_datetime(const char *iso, char **out);
/* Percent-encodes s for use in a URL query value (RFC 3986 unreserved kept). */
AZT_NODISCARD int azt_url_encode(const char *s, size_t n, char **out);

/* ------------------------------------------------------------------------ */
/* Allocation (a program using the library may share it)                    */

/* malloc, calloc, realloc and strdup that never return NULL: out of memory,
 * they print one line on stderr and abort (a program that keeps its state
 * on disk, as the sync worker does, resumes from there). A size of 0
 * allocates 1 byte. */
void *azt_xmalloc(size_t n);
void *azt_xcalloc(size_t n, size_t size);
void *azt_xrealloc(void *p, size_t n);
char *azt_xstrdup(const char *s);
char *azt_xstrndup(const char *s, size_t n);

/* ------------------------------------------------------------------------ */
/* Small time and retry utilities (pure; a program using the library may     */
/* share them)                                                               */

/*
 * An ISO 8601 UTC instant s[0..n): YYYY-MM-DDThh:mm:ss[.f{1,7}]Z with every
 * field in range (real calendar days, no leap second). Sets *secs to the
 * seconds since the epoch and frac to the fraction as seven digits padded
 * with '0' (either may be NULL). AZT_OK or AZT_EPARSE.
 */
AZT_NODISCARD int azt_iso8601_parse(const char *s, size_t n, int64_t *secs, char frac[8]);

/*
 * A Retry-After value s[0..n) (delta-seconds or an HTTP date in any of the
 * three forms HTTP allows; blanks and a line end around it are ignored) as
 * milliseconds after now_ms, at most max_ms; a date already past is 0.
 * -1 when malformed.
 */
long azt_retry_after_ms(const char *s, size_t n, int64_t now_ms, long max_ms);

/*
 * Delay before retry number `retry` (0 = the first retry): d = min(cap_ms,
 * base_ms * 2^retry), jittered uniformly into [d/2, d] by rnd (the caller's
 * injectable randomness), and never below retry_after_ms (-1 for none).
 */
long azt_backoff_ms(int retry, long base_ms, long cap_ms, long retry_after_ms, uint32_t rnd);

/* ------------------------------------------------------------------------ */
/* Entities and pages (pure parsing)                                         */

enum azt_type {
    AZT_TYPE_STRING = 0,
    AZT_TYPE_INT32,
    AZT_TYPE_INT64,
    AZT_TYPE_DOUBLE,
    AZT_TYPE_BOOL,
    AZT_TYPE_DATETIME,
    AZT_TYPE_GUID,
    AZT_TYPE_BINARY,
};

/*
 * One property. `text` is the canonical text of the value, always set:
 * strings as received; Int32/Int64 in decimal; Double as the JSON number
 * token ("2.0" stays "2.0") or "NaN"/"Infinity"/"-Infinity"; Bool as
 * "true"/"false"; DateTime verbatim; Guid verbatim; Binary as base64 verbatim.
 * Numeric values are also decoded into i/d/b.
 */
struct azt_prop {
    const char *name;
    enum azt_type type;
    const char *text;
    size_t text_len; /* strings may contain NUL */
    int64_t i;       /* INT32, INT64 */
    double d;        /* DOUBLE */
    int b;           /* BOOL */
};

/* An entity. PartitionKey, RowKey and Timestamp are lifted out (Timestamp
 * verbatim, up to 7 fractional digits; NULL when not selected). `props` holds
 * every other property in the order received; odata.* annotations are not
 * properties. All memory belongs to the page. */
struct azt_entity {
    const char *partition_key;
    const char *row_key;
    const char *timestamp;
    const char *etag; /* odata.etag when present, else NULL */
    size_t nprops;
    struct azt_prop *props;
};

/* A page of a query. Memory is bounded by the page. */
struct azt_page {
    size_t count;
    struct azt_entity *entities;
    char *next_partition_key; /* continuation tokens, NULL when absent */
    char *next_row_key;
    char *server_date; /* the response's Date header, or NULL */
    char *request_id;  /* x-ms-request-id, or NULL */
};

/* The service's limits: at most 1000 entities a page, 255 properties an
 * entity (PartitionKey, RowKey and Timestamp included). */
#define AZT_MAX_TOP        1000
#define AZT_MAX_PROPERTIES 255

/* Parses a Query Entities JSON body ({"value":[...]}) in no, minimal or full
 * metadata. Continuation and header fields are left NULL (the client fills
 * them). Returns AZT_EPARSE with a message naming the entity index and
 * property on malformed input, and on a page over the limits above (an
 * iterator's pages are held to the query's $top). */
AZT_NODISCARD int azt_page_parse(const char *body, size_t n, struct azt_page **out);
void azt_page_free(struct azt_page *page);

/* Looks up a property by exact name; NULL when absent. */
const struct azt_prop *azt_entity_prop(const struct azt_entity *e, const char *name);

/*
 * A scratch arena for jansson (azt_jarena.c). Between azt_json_arena_begin
 * and azt_json_arena_end, the allocations jansson makes on this thread come
 * from the caller's buffer (from malloc once it is full) and its frees of
 * them are no-ops: decoding or encoding a small document then costs no
 * malloc/free, which were a tenth of a page's parse. Rules: every jansson
 * value made inside is released inside (json_decref before the end), and no
 * text jansson allocates inside (json_dumps) goes to free(). Values made
 * outside may be used and released inside. Scopes nest; begin installs the
 * allocator once per process (it hands everything else to malloc/free).
 */
#define AZT_JSON_ARENA_BYTES (32 * 1024)

struct azt_json_arena {
    struct azt_json_arena *prev; /* the scope this one nests in, or NULL */
    size_t used;
    _Alignas(16) unsigned char buf[AZT_JSON_ARENA_BYTES];
};

void azt_json_arena_begin(struct azt_json_arena *a);
void azt_json_arena_end(struct azt_json_arena *a);

/* ------------------------------------------------------------------------ */
/* Error bodies (pure parsing)                                               */

struct azt_service_error {
    char code[128];    /* e.g. "ResourceNotFound"; "" when none */
    char message[512]; /* first line of the message; "" when none */
};

/* Extracts code and message from a JSON odata.error body, an XML <Error> or
 * Atom <error> body. Never fails: garbage gives empty fields. XML is parsed
 * with libxml2 with no network access and no entity expansion. */
void azt_service_error_parse(const char *body, size_t n, struct azt_service_error *out);

/* ------------------------------------------------------------------------ */
/* The client (I/O)                                                          */

/* Logging callback; azt never writes to stdout/stderr itself. level: 0 error,
 * 1 warn, 2 info, 3 debug. Lines never hold secrets. */
typedef void (*azt_log_fn)(void *ctx, int level, const char *msg);

/*
 * The transport seam: one HTTP exchange, for tests that answer a client's
 * requests from fixtures instead of a network. The request is exactly what
 * would go on the wire (signed, SAS in the URL). The transport fills the
 * response with memory it owns, valid until its next call; headers is
 * "Name: value" lines separated by "\r\n" (or "\n"). A non-zero return is
 * a transport failure (no response), retried like a refused connection.
 */
struct azt_http_request {
    const char *verb;
    const char *url;
    const char *const *headers; /* "Name: value", NULL-terminated */
    const char *body;           /* NULL when there is none */
    size_t body_len;
};
struct azt_http_response {
    long status;
    const char *headers;
    const char *body;
    size_t body_len;
};
typedef int (*azt_transport_fn)(void *ctx, const struct azt_http_request *req,
                                struct azt_http_response *resp);

struct azt_client_opts {
    enum azt_auth auth; /* SHAREDKEY default when the conn has a key, SAS when it has a sas */
    const struct azt_token_source *token_source; /* for AZT_AUTH_BEARER */
    long connect_timeout_ms;                     /* default 10000 */
    long request_timeout_ms;                     /* whole request, default 30000 */
    int max_attempts;                            /* default 5 (1 = no retry) */
    long backoff_base_ms;                        /* default 500 */
    long backoff_cap_ms;                         /* default 30000 */
    size_t max_response_bytes;                   /* default 32 MiB */
    const char *ca_file;                         /* extra CA bundle, NULL for system */
    const char *user_agent;                      /* default "azt/<version>" */
    azt_log_fn log;
    void *log_ctx;
    /* Seams for tests; NULL means the real thing. */
    time_t (*now)(void *ctx);             /* wall clock for x-ms-date */
    void (*sleep_ms)(void *ctx, long ms); /* backoff sleeps */
    uint32_t (*random)(void *ctx);        /* jitter */
    int (*cancel)(void *ctx);             /* non-zero: stop retrying, AZT_ECANCELED */
    azt_transport_fn transport;           /* instead of libcurl (azt_http_request) */
    void *seam_ctx;
};

struct azt_client;

/* Creates a client. conn is copied. opts may be NULL for defaults. */
AZT_NODISCARD int azt_client_create(const struct azt_conn *conn, const struct azt_client_opts *opts,
                                    struct azt_client **out);
void azt_client_destroy(struct azt_client *c);

/* The Date header of the most recent response (the server's clock), parsed;
 * 0 if no response has been seen yet. */
time_t azt_client_server_time(const struct azt_client *c);

/* Counters since creation. */
struct azt_stats {
    uint64_t requests; /* HTTP requests sent, retries included */
    uint64_t retries;
    uint64_t bytes_in;
};
void azt_client_stats(const struct azt_client *c, struct azt_stats *out);

/* ------------------------------------------------------------------------ */
/* Queries                                                                   */

struct azt_query {
    const char *filter; /* $filter expression, unencoded; NULL for none */
    const char *select; /* comma-separated property names; NULL for all */
    int top;            /* page size, 1..1000; 0 means 1000 */
    enum { AZT_META_NONE = 0, AZT_META_MINIMAL, AZT_META_FULL } metadata;
    /* 1: while the caller works on a page, the next page's request is in
     * flight on a helper thread (at most one response body more in memory).
     * The client is then in use: the caller must not use it for anything
     * else until azt_iter_free. */
    int prefetch;
};

struct azt_iter;

/* Starts a Query Entities on `table`. No request is sent until the first
 * azt_iter_next. The query struct is copied. */
AZT_NODISCARD int azt_query_open(struct azt_client *c, const char *table, const struct azt_query *q,
                                 struct azt_iter **out);
/*
 * Fetches the next page into *page (caller frees with azt_page_free). Returns
 * 1 when a page was returned (it may be empty and still continue), 0 when the
 * query is complete (*page NULL), or a negative error. Retries transient
 * failures itself; on error the iterator may be called again to retry the
 * same page.
 */
AZT_NODISCARD int azt_iter_next(struct azt_iter *it, struct azt_page **page);
void azt_iter_free(struct azt_iter *it);

/* ------------------------------------------------------------------------ */
/* Writes (for seeding, tests, the demo and benchmarks)                      */

/* Creates a table; an existing table is not an error when exist_ok. */
AZT_NODISCARD int azt_table_create(struct azt_client *c, const char *table, int exist_ok);
AZT_NODISCARD int azt_table_delete(struct azt_client *c, const char *table);
/* The account's table names (the first page: up to 1000), each malloc'd, in
 * *names (free with azt_table_list_free). Needs account-wide read access: a
 * SAS for one table gets AZT_EAUTH. */
AZT_NODISCARD int azt_table_list(struct azt_client *c, char ***names, size_t *n);
void azt_table_list_free(char **names, size_t n);
/* 1 when name is a valid table name: 3-63 letters and digits, a letter first. */
int azt_table_name_valid(const char *name);

enum azt_write_op {
    AZT_OP_INSERT = 0,     /* POST, 409 if present */
    AZT_OP_UPSERT_REPLACE, /* PUT without If-Match */
    AZT_OP_UPSERT_MERGE,   /* MERGE without If-Match */
    AZT_OP_DELETE,         /* DELETE with If-Match: * */
};

/*
 * One entity write. json is the entity as a JSON object (UTF-8) holding at
 * least PartitionKey and RowKey, with "Prop@odata.type" annotations for typed
 * values; for DELETE only partition_key/row_key are used.
 */
struct azt_write {
    enum azt_write_op op;
    const char *partition_key;
    const char *row_key;
    const char *json;
    size_t json_len;
};

AZT_NODISCARD int azt_entity_write(struct azt_client *c, const char *table,
                                   const struct azt_write *w);

/* An entity group transaction: 1..100 writes sharing one PartitionKey,
 * atomic. On a failed sub-operation returns AZT_EHTTP (or ECONFLICT) with the
 * failing index in the message. */
AZT_NODISCARD int azt_batch(struct azt_client *c, const char *table, const struct azt_write *ws,
                            size_t n);

#ifdef __cplusplus
}
#endif
#endif /* AZT_H */
