/*
 * ls_sink.h - the sink contract: every destination (JSONL file, webhook,
 * CRMs) is a const struct ls_sink_ops listed in the one registry in
 * ls_sink.c. The delivery engine (ls_deliver.c) owns retries, backoff,
 * ordering and dead letters; a sink only turns items into requests and
 * classifies each item's outcome.
 */
#ifndef LS_SINK_H
#define LS_SINK_H

#include "azt.h"
#include "ls_common.h"
#include "ls_config.h"
#include "ls_route.h"

#include <jansson.h>
#include <stdint.h>

/* What one attempt at one item came to (worker/README.md, Sync semantics). */
enum ls_outcome {
    LS_SINK_OK = 0,
    LS_SINK_RETRY,    /* this item failed in a way worth another try (500, 408, a record
                       * lock): counts an attempt; after the last one, a dead letter.
                       * With throttled=1, or status 0 (no answer) or 502/503/504, the
                       * receiver did not process it: the engine treats it as NOT_SENT */
    LS_SINK_REJECT,   /* the receiver refused this item (validation): dead letter, go on */
    LS_SINK_FATAL,    /* auth or configuration: stop the sink and the run */
    LS_SINK_NOT_SENT, /* the item did not reach the receiver, or was not processed (the sink
                       * stopped its batch after a throttled or fatal answer, a local limit):
                       * no attempt is counted, the item stays due, the sink pauses */
};

/* The longest pause a receiver's Retry-After may ask of a sink (one day);
 * sinks read the header with azt_retry_after_ms(..., LS_RETRY_AFTER_MAX_MS). */
#define LS_RETRY_AFTER_MAX_MS (86400L * 1000)

struct ls_sink_result {
    enum ls_outcome outcome;
    int status;          /* HTTP status, 0 when none */
    long retry_after_ms; /* from Retry-After and the like; -1 when none */
    int throttled;       /* 1: the receiver throttled: pause the whole sink, count no attempt */
    int auth;            /* with FATAL: credentials refused (exit 77) rather than config (78) */
    char error[320];     /* short reason / receiver body excerpt; no secrets */
};

struct ls_sink_item {
    int64_t id;              /* outbox id */
    const char *delivery_id; /* stable per row version (webhook-id, Idempotency-Key, deliveryId) */
    const char *lead_id;
    json_t *lead;        /* the contract's lead object (borrowed); NULL for a wants_text sink */
    const char *payload; /* the same object as stored: compact JSON text (borrowed) */
    int created;         /* 1: first delivery of lead_id to this sink (lead.created) */
    int attempt;         /* 1-based attempt number */
    int pause_streak;    /* the sink's pauses in a row the ledger records (sink_pause; kept
                          * across runs), 0 when none: for a sink's own growing pause */
};

/* The API allowance a receiver last reported (ls_sink_ops.usage). */
struct ls_sink_usage {
    int64_t used;  /* requests counted against the allowance */
    int64_t limit; /* the allowance; 0 when the receiver names none */
};

struct ls_ledger;

struct ls_sink_ops {
    const char *name; /* "jsonl", "webhook", ... as written in LEADSYNC_SINKS before ':' */
    const struct ls_conf_entry *conf; /* this kind's configuration keys (ls_config.h) */
    size_t nconf;
    int coalesce;   /* pending states of one lead may be coalesced into the newest */
    int wants_text; /* deliver() reads only item.payload: the engine does not parse it */
    /*
     * deliver_inline: 1 for a local, append-only sink whose deliver() is
     * synchronous and durable when it returns (the JSONL file: write +
     * fsync). When every configured sink is inline and none has pending
     * outbox rows, the sync engine keeps no outbox for them: it hands each
     * page's new row versions to deliver() (oldest version first, as
     * ls_row_version_compare orders them; created/updated and
     * delivery ids as in the outbox path, id = 0, attempt = 1) BEFORE it
     * commits the page's ledger transaction (rows, leads, the sink's
     * delivered counter). A crash after deliver() and before the commit
     * re-reads the page next run and delivers the same lines again under the
     * same delivery ids (an allowed repeat); a crash inside deliver() must
     * leave nothing that counts (the JSONL sink cuts a torn tail on open).
     * An item deliver() does not report OK goes to the outbox in the same
     * transaction and the delivery engine retries or dead-letters it as
     * usual. `created` for an inline delivery means the ledger had never seen
     * the lead_id (the leads table), not the sink_leads table.
     */
    int deliver_inline;
    /* url_arg: the text after "name:" is a URL; the sink is named by its
     * scheme://host[:port]/path (ls_url.h), and userinfo is refused. */
    int url_arg;
    /* arg: the text after "name:" (may be ""). *ctx owned by the sink. */
    int (*create)(const char *arg, const struct ls_config *cfg, void **ctx);
    /* Attempts n items (distinct lead_ids); fills results[i] for each. Returns 0,
     * or a negative ls_err when the sink itself failed (all items retried). */
    int (*deliver)(void *ctx, const struct ls_sink_item *items, size_t n,
                   struct ls_sink_result *results);
    /* One line for `check`: 0 when the sink answers. */
    int (*check)(void *ctx, char *msg, size_t msglen);
    void (*destroy)(void *ctx);
    /* Optional: for a sink that keeps posts of its own in the ledger (ls_ledger.h,
     * "A sink's posts": Web-to-Lead's post marks and daily count). The delivery
     * engine hands over its ledger connection and the id the sink is stored
     * under before the first deliver(), and takes it back (NULL, NULL) before
     * the ledger closes. deliver() calls the ledger outside any transaction of
     * the engine's. Never called by `send-test-lead`, which opens no ledger. */
    void (*use_ledger)(void *ctx, struct ls_ledger *l, const char *sink_id);
    /* Optional, NULL when the receiver reports no allowance: the API usage its
     * last answer reported (Salesforce: Sforce-Limit-Info api-usage=N/M).
     * Returns 1 and fills *out when known, 0 when nothing was seen yet. The
     * engine asks after each round: /metrics gauges leadsync_sink_api_usage
     * and leadsync_sink_api_limit, and the ledger's record of it
     * (ls_ledger_usage_put) for `status`. */
    int (*usage)(void *ctx, struct ls_sink_usage *out);
};

/*
 * For the sinks' deliver() (ls_sink_send.c).
 *
 * ls_sink_not_sent: r = not sent, "not sent: WHY" (no attempt is counted, the
 * item stays due). ls_sink_halts: 1 when r stops the rest of a batch (a fatal
 * answer, or a throttled one).
 */
void ls_sink_not_sent(struct ls_sink_result *r, const char *why);
/* The reason for the items a halted batch leaves: ls_sink_not_sent(r, LS_SINK_HALTED). */
#define LS_SINK_HALTED "the batch stopped after a throttled or fatal answer"
int ls_sink_halts(const struct ls_sink_result *r);

/* How a sink that sends one item at a time (email, Teams, Slack) sends. */
struct ls_sink_one_by_one {
    /* sends one item and fills *r */
    void (*send)(void *ctx, const struct ls_sink_item *it, struct ls_sink_result *r);
    /* 1: after r, send nothing more of the batch */
    int (*halts)(const struct ls_sink_result *r);
    const char *halt_why;   /* the reason the rest was not sent after a halt */
    const char *crashpoint; /* ls_crashpoint after each item sent OK, before it is recorded */
};

/* Sends items[0..n) in order with how->send. After an item how->halts stops
 * the batch on, or once a signal asks the process to stop
 * (ls_stop_requested), the rest come back not sent. Returns LS_OK. */
int ls_sink_send_each(const struct ls_sink_one_by_one *how, void *ctx,
                      const struct ls_sink_item *items, size_t n, struct ls_sink_result *results);

/*
 * One LEADSYNC_SINKS entry: [NAME=]KIND[:ARG]. The id is what `status`,
 * metrics, `retry --sink` and routes call the sink: NAME when given, else the
 * key. The key says what the sink is: KIND, or KIND:ARG with a URL reduced to
 * scheme://host[:port]/path (no userinfo, no query). Earlier versions stored
 * deliveries under the unnamed form; ls_sinks_attach() moves them.
 */
struct ls_sink_spec {
    const struct ls_sink_ops *ops;
    char *id;
    char *key;
    char *arg; /* as written after "KIND:" ("" when none); a URL keeps its query */
};

/* A configured sink instance. */
struct ls_sink {
    const struct ls_sink_ops *ops;
    void *ctx;
    char *id;               /* ledger name (ls_sink_spec.id) */
    char *key;              /* ls_sink_spec.key */
    struct ls_route *route; /* which leads it receives (ls_route.h); NULL: every lead */
};

/* Parses a LEADSYNC_SINKS list without creating anything: rejects unknown
 * kinds, malformed names, URLs with userinfo and duplicate ids with
 * LS_ECONFIG naming the entry (never its query or credentials). */
LS_NODISCARD int ls_sink_specs_parse(const char *list, struct ls_sink_spec **out, size_t *n);
void ls_sink_specs_free(struct ls_sink_spec *specs, size_t n);
/* The key a stored sink id names (an older ledger's "webhook:https://u:p@h/x"
 * is "webhook:https://h/x"); malloc'd. */
char *ls_sink_key_of(const char *stored_id);

/* The configured sink a stored id belongs to, by key (an older ledger's id
 * of a sink since named or stored by its raw URL); NULL when none or when
 * two configured sinks share the key. */
const struct ls_sink_spec *ls_sink_owner_of(const char *stored, const struct ls_sink_spec *specs,
                                            size_t n);

/*
 * Brings a writable ledger up to the configured names (list: LEADSYNC_SINKS),
 * in one transaction: deliveries, dead
 * letters and counters stored under an id that is not configured but whose
 * key is a configured sink's key (the sink was named, or an older version
 * named it by its raw URL) move to that sink's id; every sink's kind is
 * recorded. Nothing is re-delivered and nothing stays stranded.
 */
LS_NODISCARD int ls_sinks_attach(struct ls_ledger *l, const char *list);

/* Looks an ops table up by name; NULL when unknown. */
const struct ls_sink_ops *ls_sink_lookup(const char *name);
/* Parses LEADSYNC_SINKS and LEADSYNC_ROUTES and creates every sink; rejects unknown and duplicate
 * entries with LS_ECONFIG naming them. *out array of *n, free with ls_sinks_destroy. */
LS_NODISCARD int ls_sinks_create(const struct ls_config *cfg, struct ls_sink **out, size_t *n);
/* Like ls_sinks_create with the routes, but creates no sink (ctx NULL): what
 * `run --dry-run` shows leads would go to. */
LS_NODISCARD int ls_sinks_plan(const struct ls_config *cfg, struct ls_sink **out, size_t *n);
void ls_sinks_destroy(struct ls_sink *sinks, size_t n);
/* The registered sink names, comma-separated, for messages. */
const char *ls_sink_names(void);

/* The i-th sink kind of the registry, NULL past the last. */
const struct ls_sink_ops *ls_sink_registered(size_t i);

#endif /* LS_SINK_H */
