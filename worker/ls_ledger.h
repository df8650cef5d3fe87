/*
 * ls_ledger.h - the SQLite ledger: the one place leadsync remembers anything.
 *
 * Why: nothing may be lost or duplicated across crashes, so every fact lives
 * in one SQLite file and changes in transactions:
 *   meta      key/value: the sync cursor and the table it belongs to
 *   rows      (PartitionKey, RowKey) -> content hash, last Timestamp, lead_id
 *   leads     lead_id -> highest stage reached, do-not-contact flag
 *   outbox    one delivery per (sink, row version): pending, delivered,
 *             dead (dead letter) or superseded (coalesced into a newer one)
 *   sink_leads (sink, lead_id) -> delivered before? (lead.created vs updated)
 *   sink_counts, sink_usage  per sink: inline deliveries, reported API usage
 *   sink_pause sink -> paused until when, why, how many pauses in a row
 *   sink_posts, sink_day_posts  per sink: post marks and the day's posts of
 *             a receiver that cannot deduplicate (Web-to-Lead)
 *   runs      one line per run, for status
 * The schema is in schema/sqlite/NNN_*.sql, applied in order by
 * ls_ledger_open() (PRAGMA user_version = highest applied).
 *
 * One writer: ls_ledger_open() takes an exclusive lock on "<path>.lock"
 * (flock); a second worker gets LS_ELOCKED with a message naming the path.
 * Read-only commands (status) open with readonly=1 and take no lock.
 * The file is created with mode 0600 (it holds personal data).
 *
 * Durability: WAL runs with synchronous=NORMAL, DELETE with FULL. In WAL
 * mode a commit is in the WAL file (the OS page cache) when COMMIT returns,
 * so it survives a crash of the process (kill -9, OOM, a panic of ours) -
 * the failure the contract guards against. Only an OS crash or power loss
 * can roll back the last commits, and then they roll back together, cursor
 * and all (the WAL is replayed up to its last intact commit frame): the next
 * run re-reads those rows and repeats their deliveries under the same
 * delivery ids, which the contract allows. Nothing is lost: a sink's own
 * writes (the JSONL fsync, a CRM's 2xx) always come before the commit that
 * records them, never after.
 *
 * Times are unix MILLISECONDS (int64), always passed in by the caller (the
 * ledger never reads a clock). Functions return 0 or a negative ls_err.
 * Statements are prepared once at open.
 */
#ifndef LS_LEDGER_H
#define LS_LEDGER_H

#include "ls_common.h"

#include <stdint.h>

struct ls_ledger;

struct ls_ledger_opts {
    const char *path;
    int wal;      /* 1: journal_mode=WAL (default), 0: DELETE */
    int readonly; /* 1: no lock, no writes, no migrations (fails if the file is missing) */
    int share;    /* 1: when another process holds the lock (the daemon), open beside it for a
                     short edit (retry, purge): no migration, no integrity check; SQLite's own
                     locking orders the two writers' transactions */
};

LS_NODISCARD int ls_ledger_open(const struct ls_ledger_opts *opts, struct ls_ledger **out);
void ls_ledger_close(struct ls_ledger *l);

/* 1 when this writer's open read the whole file to check its integrity; 0
 * when the file was exactly as the last clean close left it and was checked
 * in full less than a day ago (ls_ledger.c, "The integrity check"). */
int ls_ledger_checked_on_open(const struct ls_ledger *l);

/* Statements are prepared on their first use; this prepares every one now
 * (the tests), so SQL that does not fit the schema shows without running it. */
LS_NODISCARD int ls_ledger_prepare_all(struct ls_ledger *l);

/* Transactions (BEGIN IMMEDIATE / COMMIT / ROLLBACK). */
LS_NODISCARD int ls_ledger_begin(struct ls_ledger *l);
LS_NODISCARD int ls_ledger_commit(struct ls_ledger *l);
void ls_ledger_rollback(struct ls_ledger *l);

/* meta: *value malloc'd, NULL when absent. */
LS_NODISCARD int ls_ledger_meta_get(struct ls_ledger *l, const char *key, char **value);
LS_NODISCARD int ls_ledger_meta_set(struct ls_ledger *l, const char *key, const char *value);

/* rows: found=0 when unknown; hash is 64 hex chars + NUL. */
LS_NODISCARD int ls_ledger_row_get(struct ls_ledger *l, const char *pk, const char *rk,
                                   char hash[65], int *found);

/* What `leadsync report` counts of a row (migration 006), recorded with the
 * row: no personal data but the country, which forget clears. NULL strings
 * are stored as NULL (unknown). */
struct ls_row_facts {
    const char *offer_id;
    const char *source;
    const char *action;
    int stage; /* the row's own stage: enum ls_stage */
    const char *country;
    int is_test;
};
/* Records a row version seen (insert or replace) with its report facts in
 * one statement; facts NULL: unknown. */
LS_NODISCARD int ls_ledger_row_put(struct ls_ledger *l, const char *pk, const char *rk,
                                   const char *hash, const char *timestamp, const char *lead_id,
                                   const struct ls_row_facts *facts, int64_t now);

/*
 * Figures for `leadsync report` over the rows whose Timestamp is in [since,
 * until) (ISO 8601 text with 7 fractional digits, compared as text). Each
 * entry is a key and up to three counts; validation leads are left out
 * except in TOTALS. Never a personal field but the country.
 *   TOTALS        "leads" / "doNotContact" / "validation": n[0] leads, n[1] rows
 *   BY_OFFER, BY_SOURCE, BY_COUNTRY   n[0] leads ("" when unknown)
 *   FUNNEL        per offer, n[0..2]: leads that reached initial interest,
 *                 trial, active (at least; a later stage implies the earlier)
 *   NEW_PER_DAY   "YYYY-MM-DD": n[0] leads whose first row ever is that day
 */
enum ls_report_query {
    LS_REPORT_TOTALS,
    LS_REPORT_BY_OFFER,
    LS_REPORT_BY_SOURCE,
    LS_REPORT_BY_COUNTRY,
    LS_REPORT_FUNNEL,
    LS_REPORT_NEW_PER_DAY,
};
struct ls_ledger_count {
    char *key;
    int64_t n[3];
};
LS_NODISCARD int ls_ledger_report(struct ls_ledger *l, enum ls_report_query q, const char *since,
                                  const char *until, struct ls_ledger_count **out, size_t *n);
void ls_ledger_counts_free(struct ls_ledger_count *c, size_t n);

/*
 * Erasure (`leadsync forget`). A person is found by the email in the lead
 * bodies the ledger still holds and by the lead ids their email gives with
 * each known offer; ls_ledger_forget_lead then erases one lead's personal
 * data: its stored lead bodies, the outbox's error excerpts, the rows'
 * country; its pending deliveries and dead letters become 'superseded'
 * (never sent). Row keys, content hashes, lead ids and stages stay, so the
 * rows are not delivered again. With dry_run=1 it only counts. String
 * arrays: ls_ledger_strings_free.
 */
struct ls_forget_counts {
    int64_t payloads, errors, cancelled, countries;
};
/* email: already trimmed and lower-cased (ASCII). */
LS_NODISCARD int ls_ledger_leads_by_email(struct ls_ledger *l, const char *email, char ***ids,
                                          size_t *n);
LS_NODISCARD int ls_ledger_offers(struct ls_ledger *l, char ***offers, size_t *n);
/* "PartitionKey '...', RowKey '...'" of each row of the lead. */
LS_NODISCARD int ls_ledger_lead_rows(struct ls_ledger *l, const char *lead_id, char ***keys,
                                     size_t *n);
/* The sinks the lead was delivered to, but JSONL files. */
LS_NODISCARD int ls_ledger_lead_sinks(struct ls_ledger *l, const char *lead_id, char ***sinks,
                                      size_t *n);
LS_NODISCARD int ls_ledger_forget_lead(struct ls_ledger *l, const char *lead_id, int dry_run,
                                       struct ls_forget_counts *c);
void ls_ledger_strings_free(char **s, size_t n);
/* An erasure's transaction: secure_delete on, then BEGIN; the commit is
 * followed by VACUUM and a WAL checkpoint that truncates it, so no old page
 * keeps a copy of what was erased. LS_EUNAVAIL (committed, the WAL not yet
 * emptied) when a reader kept that checkpoint from finishing for 2 s. */
LS_NODISCARD int ls_ledger_forget_begin(struct ls_ledger *l);
LS_NODISCARD int ls_ledger_forget_commit(struct ls_ledger *l);

/* leads: stage is an int rank chosen by the lead model; found=0 when unknown. */
/* A lead's newest row version as recorded (what ls_row_version_compare in
 * ls_sync.h orders). From ls_ledger_lead_get: malloc'd, all NULL when the
 * ledger has none (a lead recorded before it kept them). ls_ledger_lead_put
 * only reads it. */
struct ls_ledger_version {
    char *timestamp, *created_time, *partition_key, *row_key;
};
void ls_ledger_version_free(struct ls_ledger_version *v);

/* leads: stage is an int rank chosen by the lead model; found=0 when unknown.
 * newest may be NULL (get: not wanted; put: keep the recorded one). Inside a
 * transaction a put is kept in memory (get sees it) and written when the
 * transaction commits, all its leads in key order; a rollback drops it. */
LS_NODISCARD int ls_ledger_lead_get(struct ls_ledger *l, const char *lead_id, int *max_stage,
                                    int *dnc, struct ls_ledger_version *newest, int *found);
LS_NODISCARD int ls_ledger_lead_put(struct ls_ledger *l, const char *lead_id, int max_stage,
                                    int dnc, const struct ls_ledger_version *newest, int64_t now);

/* How ls_ledger_enqueue files a delivery. */
enum ls_enqueue_mode {
    LS_ENQUEUE_EVERY = 0,    /* every version goes out, in the order enqueued */
    LS_ENQUEUE_COALESCE = 1, /* the newest state: the lead's pending ones become superseded */
    LS_ENQUEUE_LATE = 2,     /* a version older than the lead's newest, for a coalescing sink:
                                recorded as superseded, never sent */
};

/*
 * Enqueues one delivery. delivery_id is stable per row version; enqueueing
 * the same (sink, delivery_id) twice is a no-op. The payload is stored once
 * per delivery_id, for every sink: the first text stays (a row version's
 * body is the same for each sink). mode: enum ls_enqueue_mode.
 */
LS_NODISCARD int ls_ledger_enqueue(struct ls_ledger *l, const char *sink, const char *lead_id,
                                   const char *delivery_id, const char *payload, int mode,
                                   int64_t now);

struct ls_delivery {
    int64_t id;
    char *sink;
    char *lead_id;
    char *delivery_id;
    char *payload; /* JSON text as enqueued */
    int attempts;
    int64_t created_at;
    int64_t next_attempt_at;
};

/*
 * Up to `limit` pending deliveries of `sink` due at `now` (next_attempt_at <=
 * now), oldest first, at most one per lead_id (the oldest pending of each
 * lead, so a lead's states go out in order). *out is an array of *n entries;
 * free with ls_deliveries_free.
 */
LS_NODISCARD int ls_ledger_pending(struct ls_ledger *l, const char *sink, int64_t now, size_t limit,
                                   struct ls_delivery **out, size_t *n);
void ls_deliveries_free(struct ls_delivery *d, size_t n);

/* Outcomes. mark_delivered also records (sink, lead_id) as delivered (ask
 * ls_ledger_sink_lead_delivered() before sending to tell created from
 * updated). mark_retry keeps the delivery pending until next_attempt_at;
 * mark_dead parks a pending one as a dead letter. Errors are cut to ~300
 * bytes. An unknown id is LS_EINVAL. */
LS_NODISCARD int ls_ledger_mark_delivered(struct ls_ledger *l, int64_t id, int status, int64_t now);
LS_NODISCARD int ls_ledger_mark_retry(struct ls_ledger *l, int64_t id, int64_t next_attempt_at,
                                      int status, const char *error, int64_t now);
LS_NODISCARD int ls_ledger_mark_dead(struct ls_ledger *l, int64_t id, int status, const char *error,
                                     int64_t now);
/* Has this lead ever been delivered to this sink? (lead.created vs lead.updated) */
LS_NODISCARD int ls_ledger_sink_lead_delivered(struct ls_ledger *l, const char *sink,
                                               const char *lead_id, int *delivered);

/* The earliest next_attempt_at among the pending deliveries of `sink` that
 * ls_ledger_pending() can return (the oldest pending of each lead);
 * *found = 0 when none is pending. */
LS_NODISCARD int ls_ledger_next_due(struct ls_ledger *l, const char *sink, int64_t *at, int *found);

/* How many deliveries of `sink` are pending (due or not): a count over the
 * partial index of pending deliveries, cheap enough after every round. */
LS_NODISCARD int ls_ledger_pending_count(struct ls_ledger *l, const char *sink, int64_t *n);

/* Dead letters back to pending (sink NULL = all sinks); *n = how many. The
 * sink's waiting deliveries become due now too (a backoff, or a due time set
 * while the clock ran ahead, ends when the operator asks). */
LS_NODISCARD int ls_ledger_retry_dead(struct ls_ledger *l, const char *sink, int64_t now,
                                      size_t *n);

/* Inline sinks (ls_sink.h) keep no outbox rows: their delivered count is a
 * counter (table sink_counts), raised by n inside the page's transaction,
 * and merged into ls_ledger_sink_stats' delivered. */
LS_NODISCARD int ls_ledger_inline_delivered(struct ls_ledger *l, const char *sink, int64_t n);

/* The API usage a sink's receiver last reported (ls_sink.h usage), kept
 * (table sink_usage) so that `status`, another process, can show it. */
struct ls_api_usage {
    int64_t used;
    int64_t limit;
    int64_t at_s; /* when it was reported, unix SECONDS */
};
LS_NODISCARD int ls_ledger_usage_put(struct ls_ledger *l, const char *sink,
                                     const struct ls_api_usage *u);
/* found = 0 when the sink never reported any. */
LS_NODISCARD int ls_ledger_usage_get(struct ls_ledger *l, const char *sink, struct ls_api_usage *u,
                                     int *found);

/* Every sink id the ledger holds anything under (outbox, sink_leads, inline
 * counts), sorted; *ids malloc'd, each entry too. */
LS_NODISCARD int ls_ledger_sink_ids(struct ls_ledger *l, char ***ids, size_t *n);
/* Moves everything stored under sink `from` to `to`, atomically: deliveries
 * (one already under `to` with the same delivery id wins; the other is
 * superseded), delivered leads, inline counts (added), API usage, its pause,
 * meta keys "<prefix>:<sink>". */
LS_NODISCARD int ls_ledger_sink_rename(struct ls_ledger *l, const char *from, const char *to);
/* Records a configured sink's kind (table sinks). */
LS_NODISCARD int ls_ledger_sink_register(struct ls_ledger *l, const char *name, const char *kind);

/*
 * A sink's pause: its receiver throttled or could not be reached, so
 * nothing goes to it before `until` (unix ms). Kept across runs. The
 * delivery engine sets it after such an answer and clears it when the
 * receiver accepts a delivery; anything else that decides a sink must rest
 * (a breaker) uses the same three calls. set: a pause while one is recorded
 * (expired or not) raises streak; reason is one line without secrets, cut
 * to ~300 bytes. get: *found = 0 when none is recorded (an expired one is
 * still returned: compare until with the clock).
 */
struct ls_sink_pause {
    int64_t until;
    int64_t since; /* when the streak began */
    int streak;    /* pauses in a row without a delivery between (1-based) */
    char reason[320];
};
LS_NODISCARD int ls_ledger_pause_set(struct ls_ledger *l, const char *sink, int64_t until,
                                     const char *reason, int64_t now);
LS_NODISCARD int ls_ledger_pause_get(struct ls_ledger *l, const char *sink,
                                     struct ls_sink_pause *out, int *found);
LS_NODISCARD int ls_ledger_pause_clear(struct ls_ledger *l, const char *sink);

/*
 * A sink's posts: the narrow state a sink keeps for a receiver that cannot
 * deduplicate (Salesforce Web-to-Lead: every post creates a record), in
 * tables sink_posts and sink_day_posts, per sink id. The delivery engine
 * hands its connection to such a sink (ls_sink_ops.use_ledger); the sink
 * calls these from deliver(), outside any transaction.
 *   post_begin   before a request: the lead marked POSTING and the sink's
 *                count for `day` raised by one, in one transaction that is
 *                on disk (fsync'd, whatever the journal mode) when it
 *                returns, so a crash after it can neither post the lead
 *                again nor let the day pass its limit
 *   post_answer  the answer: CREATED (2xx/3xx) or UNKNOWN, with its HTTP
 *                status (0: none)
 *   post_drop    a provable non-send: the mark goes and the day's count
 *                goes down by one, in one transaction
 *   post_get     the lead's mark (LS_POST_NONE when none) and the status
 *                recorded with it; an unreadable mark reads POSTING
 *   post_count   the posts counted for `day` ("YYYY-MM-DD", UTC); 0 when
 *                the count stored is of another day
 * `leadsync retry` (ls_ledger_retry_dead) marks a re-queued dead letter's
 * POSTING or UNKNOWN lead REQUEUED (a trigger, migration 008): a human
 * checked the receiver, so the next delivery posts it.
 */
enum ls_post_mark {
    LS_POST_NONE = 0, /* never posted, or provably not sent */
    LS_POST_POSTING,  /* committed before a post: the outcome is unknown */
    LS_POST_CREATED,  /* answered 2xx/3xx */
    LS_POST_UNKNOWN,  /* sent, no usable answer */
    LS_POST_REQUEUED, /* a human re-queued the dead letter: post it */
};
LS_NODISCARD int ls_ledger_post_begin(struct ls_ledger *l, const char *sink, const char *lead_id,
                                      const char *delivery_id, const char *day, int64_t now);
LS_NODISCARD int ls_ledger_post_answer(struct ls_ledger *l, const char *sink, const char *lead_id,
                                       enum ls_post_mark mark, int status, int64_t now);
LS_NODISCARD int ls_ledger_post_drop(struct ls_ledger *l, const char *sink, const char *lead_id,
                                     const char *day);
LS_NODISCARD int ls_ledger_post_get(struct ls_ledger *l, const char *sink, const char *lead_id,
                                    enum ls_post_mark *mark, int *status);
LS_NODISCARD int ls_ledger_post_count(struct ls_ledger *l, const char *sink, const char *day,
                                      int64_t *n);

struct ls_sink_stats {
    char sink[256];
    int64_t pending;
    int64_t delivered;
    int64_t dead;
    int64_t superseded;
    int64_t oldest_pending_at; /* created_at of the oldest pending, 0 if none */
    int64_t paused_until;      /* the sink's recorded pause (ls_sink_pause), 0 if none */
    char pause_reason[320];
};
/* One entry per sink that has any delivery; *out malloc'd. */
LS_NODISCARD int ls_ledger_sink_stats(struct ls_ledger *l, struct ls_sink_stats **out, size_t *n);

struct ls_dead_letter {
    int64_t id;
    char *sink;
    char *lead_id;
    char *delivery_id;
    int attempts;
    int last_status;
    char *last_error;
    int64_t updated_at;
};
LS_NODISCARD int ls_ledger_dead_letters(struct ls_ledger *l, const char *sink, size_t limit,
                                        struct ls_dead_letter **out, size_t *n);
void ls_dead_letters_free(struct ls_dead_letter *d, size_t n);

/* Drops the stored lead bodies (personal data) whose deliveries are all
 * delivered or superseded and were last updated before `before`; *n = how
 * many bodies. */
LS_NODISCARD int ls_ledger_purge(struct ls_ledger *l, int64_t before, size_t *n);

/* Counts for status. */
LS_NODISCARD int ls_ledger_row_count(struct ls_ledger *l, int64_t *rows, int64_t *leads);
/* Rows recorded with a Timestamp in [lower, upper) (ISO 8601 with 7
 * fractional digits; lower "" for the beginning): how many rows a window is
 * known to hold at least, for the progress line's ETA. */
LS_NODISCARD int ls_ledger_rows_between(struct ls_ledger *l, const char *lower, const char *upper,
                                        int64_t *n);

/* Runs: start returns an id; finish stores counters as a JSON summary. */
LS_NODISCARD int ls_ledger_run_start(struct ls_ledger *l, const char *mode, int64_t now,
                                     int64_t *run_id);
LS_NODISCARD int ls_ledger_run_finish(struct ls_ledger *l, int64_t run_id, int exit_code,
                                      const char *summary_json, int64_t now);
/* The last finished run: *summary_json malloc'd or NULL. */
LS_NODISCARD int ls_ledger_last_run(struct ls_ledger *l, int64_t *started_at, int64_t *finished_at,
                                    int *exit_code, char **summary_json);

#endif /* LS_LEDGER_H */
