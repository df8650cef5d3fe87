/*
 * ls_sync.h - the sync engine (worker/README.md, Sync semantics): reads one window of the
 * table, page by page, and records every new or changed row in the ledger,
 * enqueueing one delivery per sink, in the same transaction as the page.
 *
 * Window: Timestamp ge (cursor - overlap) and Timestamp lt (server now -
 * settle), where "server now" is the Date header of the service's last
 * response, never the local clock. Rows are deduplicated by content hash, so
 * the overlap re-reads rows harmlessly. The cursor moves to the window's
 * upper bound only once every page of the window is committed; a crash
 * anywhere re-reads the window and skips what was committed.
 *
 * A lead's newest click wins: a page's rows are processed oldest version
 * first (ls_row_version_compare, below), and a row older than the newest
 * version of its lead already recorded - on an earlier page or in an earlier
 * window - is late: it is recorded and goes to the sinks that keep every
 * version, never over the newer state at a coalescing sink.
 */
#ifndef LS_SYNC_H
#define LS_SYNC_H

#include "ls_common.h"
#include "ls_config.h"
#include "ls_ledger.h"
#include "ls_sink.h"

#include "azt.h"

#include <signal.h>
#include <stdint.h>

struct ls_sync_stats {
    int64_t pages;
    int64_t rows;       /* rows read */
    int64_t fresh;      /* new rows enqueued */
    int64_t updated;    /* changed rows enqueued */
    int64_t unchanged;  /* skipped by content hash */
    int64_t test_leads; /* validation leads skipped */
    int64_t malformed;  /* rows with a problem */
    int64_t skipped;    /* of which not delivered: no keys, or a NUL inside a value */
    unsigned warned;    /* problem kinds logged row by row this window (once each) */
    int64_t unlogged;   /* rows with problems not logged one by one */
    int64_t late;       /* new versions older than their lead's newest (ls_row_version_compare) */
    int64_t settling;   /* rows at or past the upper bound: the settle delay holds them back */
    int64_t enqueued;   /* deliveries enqueued (rows x sinks) */
    int64_t delivered;  /* delivered inline, before the page commit (ls_sink.h) */
    char lower[40];     /* the window read, "" for the beginning of time */
    char upper[40];
};

struct ls_sync_opts {
    const char *table;
    long overlap_seconds;
    long settle_seconds;
    int page_size;
    int identity; /* enum ls_identity */
    int deliver_test_leads;
    const char *since; /* run --since: lower bound override (ISO 8601), or NULL */
    int dry_run;       /* read and report, change nothing (ledger may be NULL) */
    long progress_seconds;
    const int64_t *delivered;    /* the run's deliveries so far, for the progress line (or NULL) */
    long max_pages, max_seconds; /* the window's budget; past it the run stops, cursor kept */
    volatile sig_atomic_t *stop;
    /* Called after each committed page (the daemon delivers between pages on a long catch-up). */
    int (*after_page)(void *ctx);
    void *after_page_ctx;
};

/*
 * Reads one window. sinks/nsinks name the outbox queues. With dry_run, the
 * ledger may be NULL or read-only, nothing is written, and one line per
 * would-be delivery is printed to stdout (keys and stage, no personal data).
 */
LS_NODISCARD int ls_sync_window(struct azt_client *client, struct ls_ledger *ledger,
                                const struct ls_sink *sinks, size_t nsinks,
                                const struct ls_sync_opts *opts, struct ls_sync_stats *stats);

/* Pure helpers, exposed for tests. */
/* The catch-up progress line: where the window ends, rows read, rate,
 * deliveries, and an ETA when known (rows the ledger already holds in the
 * window) is more than the rows read so far. */
void ls_sync_progress_line(const struct ls_sync_stats *st, int64_t elapsed_ms, int64_t delivered,
                           int64_t known, char *out, size_t cap);
/* ISO 8601 UTC "YYYY-MM-DDThh:mm:ss[.fffffff]Z" minus `seconds`, keeping the
 * fraction; output always has 7 fractional digits. */
LS_NODISCARD int ls_iso_add_seconds(const char *iso, long seconds, char out[40]);
/* time_t to "YYYY-MM-DDThh:mm:ss.0000000Z". */
void ls_iso_format(int64_t t, char out[40]);
/* Compares two ISO strings as instants (normalizing fraction length); a
 * text that names no instant is older than any, such texts as strings. */
int ls_iso_compare(const char *a, const char *b);
/*
 * Which of two versions of one lead is the newer: the only place that says
 * what "a lead's newest click" means. By the row's Timestamp (the service's
 * write time), then CreatedTime as an instant (ISO 8601 or
 * "M/D/YYYY h:mm:ss AM"; one that reads as none is older than any), then
 * PartitionKey, then RowKey. NULL reads as "", which is older than any time. A page is processed in
 * this order, and a row older than its lead's newest known version is late: it never replaces the
 * newer state (ls_ledger_enqueue's LS_ENQUEUE_LATE).
 */
struct ls_row_version {
    const char *timestamp;
    const char *created_time;
    const char *partition_key;
    const char *row_key;
};
/* -1, 0 or 1 as a is older than, the same as or newer than b. */
int ls_row_version_compare(const struct ls_row_version *a, const struct ls_row_version *b);
/* The webhook-id for a row version: "msg_" + 32 hex of SHA-256(pk, rk, hash). */
void ls_delivery_id(const char *pk, const char *rk, const char *content_hash, char out[40]);

#endif /* LS_SYNC_H */
