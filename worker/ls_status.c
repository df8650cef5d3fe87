/*
 * ls_status.c - `leadsync status`: what the ledger says, for a person and
 * for a program. One read of the ledger (read-only) fills a status_view; a
 * verdict (healthy, degraded, failing) with its reason is decided from it;
 * then one renderer prints text and another JSON, from the same view.
 *
 * JSON schema (stable; times ISO 8601 UTC, null when unknown):
 *   {"ledger", "exists", "verdict", "reason", "cursor", "table", "rows",
 *    "leads", "lastRun": {"startedAt", "finishedAt", "agoSeconds",
 *    "exitCode", "summary"} | null, "sinks": [{"sink", "pending",
 *    "delivered", "dead", "superseded", "oldestPendingAgeSeconds", "configured",
 *    "apiUsage"?: {"used", "limit", "at"}, "paused"?: {"until", "reason",
 *    "breaker"}}],
 *    "deadLetters": [{"id", "sink",
 *    "leadId", "deliveryId", "attempts", "lastStatus", "lastError",
 *    "at"}]}
 */
#include "ls_cmd.h"

#include "ls_deliver.h"
#include "ls_ledger.h"
#include "ls_redact.h"
#include "ls_sink.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Dead letters status lists at most. */
#define STATUS_DEAD_MAX 20
/* A delivery pending longer than this makes the verdict degraded. */
#define STALE_PENDING_MS (60LL * 60 * 1000)

struct status_view {
    char ledger[PATH_MAX];
    int exists;
    char *cursor, *cursor_table;
    int64_t rows, leads;
    int64_t started, finished; /* last run, ms; 0 = none */
    int last_exit;
    char *summary;            /* the last run's JSON summary */
    struct ls_sink_stats *ss; /* the configured sinks first, by their configured names */
    size_t nss;
    char *unconfigured; /* per ss entry: 1 when no longer in LEADSYNC_SINKS */
    struct ls_dead_letter *dl;
    size_t ndl;
    int64_t dead_total;
    int64_t now;
    const char *verdict;
    char reason[400];
};

static void view_dispose(struct status_view *v)
{
    free(v->cursor);
    free(v->cursor_table);
    free(v->summary);
    free(v->ss);
    free(v->unconfigured);
    ls_dead_letters_free(v->dl, v->ndl);
}

static void iso_ms(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "3 min", "2 h", "4 days": how long ms is, for a person. */
static void span(int64_t ms, char out[32])
{
    int64_t s = ms < 0 ? 0 : ms / 1000;

    if (s < 90)
        snprintf(out, 32, "%lld s", (long long)s);
    else if (s < 90 * 60)
        snprintf(out, 32, "%lld min", (long long)(s / 60));
    else if (s < 48 * 3600)
        snprintf(out, 32, "%lld h", (long long)(s / 3600));
    else
        snprintf(out, 32, "%lld days", (long long)(s / 86400));
}

/* A receiver's error text without personal data or secrets (ledgers from
 * before the redaction at recording may still hold them). */
static void scrub(const char *in, char *out, size_t cap)
{
    ls_redact(out, cap, in ? in : "", in ? strlen(in) : 0);
}

static const char *exit_meaning(int code)
{
    switch (code) {
    case 0:
        return "done";
    case 64:
        return "usage";
    case 65:
        return "data";
    case 69:
        return "a sink unavailable";
    case 74:
        return "ledger";
    case 75:
        return "temporary";
    case 77:
        return "credentials refused";
    case 78:
        return "configuration";
    default:
        return "internal error";
    }
}

/* healthy, degraded or failing, and why; pure over the view. */
static void decide_verdict(struct status_view *v)
{
    size_t i;

    v->verdict = "healthy";
    if (!v->started) {
        v->verdict = "degraded";
        snprintf(v->reason, sizeof(v->reason), "no run recorded yet");
        return;
    }
    for (i = 0; i < v->nss; i++) {
        if (ls_breaker_paused(v->ss[i].pause_reason)) {
            v->verdict = "failing";
            snprintf(v->reason, sizeof(v->reason),
                     "sink %.80s %s and is paused (%lld deliveries wait): fix what it refuses, "
                     "then 'leadsync retry --sink %.80s'",
                     v->ss[i].sink, LS_BREAKER_REASON, (long long)v->ss[i].pending, v->ss[i].sink);
            return;
        }
    }
    if (v->last_exit != 0 && v->last_exit != LS_EXIT_TEMPFAIL) {
        v->verdict = "failing";
        snprintf(v->reason, sizeof(v->reason),
                 "the last run exited %d (%s): run 'leadsync check' and see the run's log",
                 v->last_exit, exit_meaning(v->last_exit));
        return;
    }
    if (v->dead_total > 0) {
        v->verdict = "degraded";
        snprintf(v->reason, sizeof(v->reason),
                 "%lld dead letter%s: fix the cause shown below, then 'leadsync retry'",
                 (long long)v->dead_total, v->dead_total == 1 ? "" : "s");
        return;
    }
    for (i = 0; i < v->nss; i++) {
        if (v->ss[i].oldest_pending_at && v->now - v->ss[i].oldest_pending_at > STALE_PENDING_MS) {
            char age[32];

            span(v->now - v->ss[i].oldest_pending_at, age);
            v->verdict = "degraded";
            snprintf(v->reason, sizeof(v->reason),
                     "sink %.150s has had deliveries pending for %s: is it down?", v->ss[i].sink,
                     age);
            return;
        }
    }
    for (i = 0; i < v->nss; i++) {
        if (v->ss[i].paused_until > v->now) {
            char at[32];

            iso_ms(v->ss[i].paused_until, at);
            v->verdict = "degraded";
            snprintf(v->reason, sizeof(v->reason),
                     "sink %.60s is paused until %s (deliveries wait, none is lost): %.60s",
                     v->ss[i].sink, at, v->ss[i].pause_reason);
            return;
        }
    }
    if (v->last_exit == LS_EXIT_TEMPFAIL) {
        v->verdict = "degraded";
        snprintf(v->reason, sizeof(v->reason),
                 "the last run left work for the next one (exit 75, temporary)");
        return;
    }
    snprintf(v->reason, sizeof(v->reason), "the last run finished its work");
}

/* 1 when the ledger's sink entry `stored` is configured sink k: by its id,
 * or by its key when no configured sink has that id (an older ledger). */
static int owned_by(const char *stored, const struct ls_sink_spec *specs, size_t n, size_t k)
{
    size_t i;

    if (strcmp(stored, specs[k].id) == 0)
        return 1;
    for (i = 0; i < n; i++)
        if (strcmp(stored, specs[i].id) == 0)
            return 0;
    return ls_sink_owner_of(stored, specs, n) == &specs[k];
}

static void merge_stats(struct ls_sink_stats *into, const struct ls_sink_stats *s)
{
    into->pending += s->pending;
    into->delivered += s->delivered;
    into->dead += s->dead;
    into->superseded += s->superseded;
    if (s->oldest_pending_at &&
        (!into->oldest_pending_at || s->oldest_pending_at < into->oldest_pending_at))
        into->oldest_pending_at = s->oldest_pending_at;
    if (s->pause_reason[0] && s->paused_until >= into->paused_until) {
        into->paused_until = s->paused_until;
        snprintf(into->pause_reason, sizeof(into->pause_reason), "%s", s->pause_reason);
    }
}

/* The sinks as LEADSYNC_SINKS names them, before any run too: what the
 * ledger holds under an older id of a configured sink counts under its
 * configured name (as the next run's ls_sinks_attach moves it), a
 * configured sink with nothing yet shows zeros, one no longer configured
 * stays, marked. Dead letters are named the same way. */
static void configured_sinks(const struct ls_config *cfg, struct status_view *v)
{
    struct ls_sink_spec *specs = NULL;
    struct ls_sink_stats *out;
    size_t n = 0, nout = 0, i, k;
    char *used;

    if (ls_sink_specs_parse(cfg->sinks, &specs, &n) != LS_OK)
        n = 0; /* shown as the ledger has them; `check` names the mistake */
    out = ls_xcalloc(n + v->nss + 1, sizeof(*out));
    used = ls_xcalloc(v->nss + 1, 1);
    v->unconfigured = ls_xcalloc(n + v->nss + 1, 1);
    for (k = 0; k < n; k++, nout++) {
        snprintf(out[nout].sink, sizeof(out[nout].sink), "%s", specs[k].id);
        for (i = 0; i < v->nss; i++) {
            if (!used[i] && owned_by(v->ss[i].sink, specs, n, k)) {
                merge_stats(&out[nout], &v->ss[i]);
                used[i] = 1;
            }
        }
        for (i = 0; i < v->ndl; i++) {
            if (strcmp(v->dl[i].sink, specs[k].id) != 0 && owned_by(v->dl[i].sink, specs, n, k)) {
                free(v->dl[i].sink);
                v->dl[i].sink = ls_xstrdup(specs[k].id);
            }
        }
    }
    for (i = 0; i < v->nss; i++) {
        if (used[i])
            continue;
        out[nout] = v->ss[i];
        v->unconfigured[nout++] = 1;
    }
    free(used);
    free(v->ss);
    v->ss = out;
    v->nss = nout;
    ls_sink_specs_free(specs, n);
}

/* Fills v from the ledger, opened read-only into *lp (NULL when there is
 * none yet); the renderers read each sink's API usage from it. */
static int load_view(const struct ls_config *cfg, struct status_view *v, struct ls_ledger **lp)
{
    struct ls_ledger_opts lo = {0};
    struct ls_ledger *l;
    struct stat sb;
    size_t i;
    int rc;

    v->now = ls_now_ms();
    if (!realpath(cfg->state, v->ledger))
        snprintf(v->ledger, sizeof(v->ledger), "%s", cfg->state);
    if (stat(cfg->state, &sb) != 0) {
        configured_sinks(cfg, v); /* nothing has run */
        return LS_OK;
    }
    v->exists = 1;
    lo.path = cfg->state;
    lo.readonly = 1;
    rc = ls_ledger_open(&lo, lp);
    if (rc)
        return rc;
    l = *lp;
    if ((rc = ls_ledger_meta_get(l, "cursor", &v->cursor)) ||
        (rc = ls_ledger_meta_get(l, "cursor_table", &v->cursor_table)) ||
        (rc = ls_ledger_row_count(l, &v->rows, &v->leads)) ||
        (rc = ls_ledger_sink_stats(l, &v->ss, &v->nss)) ||
        (rc = ls_ledger_last_run(l, &v->started, &v->finished, &v->last_exit, &v->summary)) ||
        (rc = ls_ledger_dead_letters(l, NULL, STATUS_DEAD_MAX, &v->dl, &v->ndl)))
        return rc;
    configured_sinks(cfg, v);
    for (i = 0; i < v->nss; i++)
        v->dead_total += v->ss[i].dead;
    decide_verdict(v);
    return LS_OK;
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */

static json_t *iso_or_null(int64_t ms)
{
    char ts[32];

    if (ms <= 0)
        return json_null();
    iso_ms(ms, ts);
    return json_string(ts);
}

static json_t *json_sinks(const struct status_view *v, struct ls_ledger *l)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; i < v->nss; i++) {
        const struct ls_sink_stats *s = &v->ss[i];
        struct ls_api_usage u;
        int found = 0;
        json_t *one = json_pack(
            "{s:s,s:I,s:I,s:I,s:I,s:I,s:b}", "sink", s->sink, "pending", (json_int_t)s->pending,
            "delivered", (json_int_t)s->delivered, "dead", (json_int_t)s->dead, "superseded",
            (json_int_t)s->superseded, "oldestPendingAgeSeconds",
            (json_int_t)(s->oldest_pending_at ? (v->now - s->oldest_pending_at) / 1000 : 0),
            "configured", !v->unconfigured[i]);

        if (one && l && ls_ledger_usage_get(l, s->sink, &u, &found) == LS_OK && found)
            json_object_set_new(one, "apiUsage",
                                json_pack("{s:I,s:I,s:o}", "used", (json_int_t)u.used, "limit",
                                          (json_int_t)u.limit, "at", iso_or_null(u.at_s * 1000)));
        if (one && (s->paused_until > v->now || ls_breaker_paused(s->pause_reason))) {
            char why[320];

            scrub(s->pause_reason, why, sizeof(why));
            json_object_set_new(one, "paused",
                                json_pack("{s:o,s:s,s:b}", "until", iso_or_null(s->paused_until),
                                          "reason", why, "breaker",
                                          ls_breaker_paused(s->pause_reason)));
        }
        json_array_append_new(a, one);
    }
    return a;
}

static json_t *json_dead(const struct status_view *v)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; i < v->ndl; i++) {
        char err[256];

        scrub(v->dl[i].last_error, err, sizeof(err));
        json_array_append_new(a, json_pack("{s:I,s:s,s:s,s:s,s:i,s:i,s:s,s:o}", "id",
                                           (json_int_t)v->dl[i].id, "sink", v->dl[i].sink, "leadId",
                                           v->dl[i].lead_id, "deliveryId", v->dl[i].delivery_id,
                                           "attempts", v->dl[i].attempts, "lastStatus",
                                           v->dl[i].last_status, "lastError", err, "at",
                                           iso_or_null(v->dl[i].updated_at)));
    }
    return a;
}

static int render_json(const struct status_view *v, struct ls_ledger *l)
{
    json_t *o, *last = json_null();
    char *txt;

    if (v->started) {
        json_error_t jerr;
        json_t *sum = v->summary ? json_loads(v->summary, 0, &jerr) : NULL;

        last = json_pack("{s:o,s:o,s:I,s:i,s:o}", "startedAt", iso_or_null(v->started),
                         "finishedAt", iso_or_null(v->finished), "agoSeconds",
                         (json_int_t)((v->now - v->finished) / 1000), "exitCode", v->last_exit,
                         "summary", sum ? sum : json_null());
    }
    o = json_pack("{s:s,s:b,s:s?,s:s?,s:s?,s:s?,s:I,s:I,s:o,s:o,s:o}", "ledger", v->ledger,
                  "exists", v->exists, "verdict", v->exists ? v->verdict : NULL, "reason",
                  v->exists ? v->reason : NULL, "cursor", v->cursor, "table", v->cursor_table,
                  "rows", (json_int_t)v->rows, "leads", (json_int_t)v->leads, "lastRun", last,
                  "sinks", json_sinks(v, l), "deadLetters", json_dead(v));
    txt = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    json_decref(o);
    if (!txt)
        return ls_error(LS_ENOMEM, "status: cannot build the JSON");
    printf("%s\n", txt);
    free(txt);
    return LS_OK;
}

/* ------------------------------------------------------------------------ */
/* Text                                                                      */

static long long summary_int(json_t *sum, const char *key)
{
    return (long long)json_integer_value(json_object_get(sum, key));
}

static void text_last_run(const struct status_view *v)
{
    json_error_t jerr;
    json_t *sum = v->summary ? json_loads(v->summary, 0, &jerr) : NULL;
    char ago[32], at[32];

    span(v->now - v->finished, ago);
    iso_ms(v->finished, at);
    printf("last run:  %s ago (%s), exit %d (%s), took %.1f s\n", ago, at, v->last_exit,
           exit_meaning(v->last_exit), (double)(v->finished - v->started) / 1000.0);
    if (sum)
        printf("           read %lld rows: %lld new and %lld updated leads queued, %lld unchanged, "
               "%lld test, %lld malformed; delivered %lld, dead %lld, pending %lld\n",
               summary_int(sum, "rows"), summary_int(sum, "new"), summary_int(sum, "updated"),
               summary_int(sum, "unchanged"), summary_int(sum, "testLeads"),
               summary_int(sum, "malformed"), summary_int(sum, "delivered"),
               summary_int(sum, "dead"), summary_int(sum, "pending"));
    if (sum && summary_int(sum, "late") > 0)
        printf("           %lld late rows: older than their lead's newest version, kept in the "
               "audit file, never sent over the newer state\n",
               summary_int(sum, "late"));
    if (sum && summary_int(sum, "settling") > 0)
        printf("           %lld rows newer than the window waited for the settle delay; the next "
               "run reads them\n",
               summary_int(sum, "settling"));
    json_decref(sum);
}

static void text_sink(const struct status_view *v, size_t i, struct ls_ledger *l)
{
    const struct ls_sink_stats *s = &v->ss[i];
    int64_t total = s->pending + s->delivered + s->dead + s->superseded;
    struct ls_api_usage u;
    int found = 0;

    printf("sink %s%s\n", s->sink, v->unconfigured[i] ? " (no longer in LEADSYNC_SINKS)" : "");
    printf("  %lld deliver%s queued: %lld delivered, %lld superseded (a newer state of the same "
           "lead went instead), %lld pending, %lld dead\n",
           (long long)total, total == 1 ? "y" : "ies", (long long)s->delivered,
           (long long)s->superseded, (long long)s->pending, (long long)s->dead);
    if (s->oldest_pending_at) {
        char age[32];

        span(v->now - s->oldest_pending_at, age);
        printf("  the oldest pending delivery has waited %s\n", age);
    }
    if (l && ls_ledger_usage_get(l, s->sink, &u, &found) == LS_OK && found) {
        char at[32];

        iso_ms(u.at_s * 1000, at);
        printf("  API usage %lld of %lld (reported %s)\n", (long long)u.used, (long long)u.limit,
               at);
    }
    if (s->paused_until > v->now || ls_breaker_paused(s->pause_reason)) {
        char at[32], why[320];

        iso_ms(s->paused_until, at);
        scrub(s->pause_reason, why, sizeof(why));
        printf("  paused until %s: %s\n", at, why);
        if (ls_breaker_paused(s->pause_reason))
            printf("  resume: fix what it refuses, then 'leadsync retry --sink %s' (or the "
                   "probe after the pause delivers)\n",
                   s->sink);
    }
}

static void render_text(const struct status_view *v, struct ls_ledger *l)
{
    size_t i;

    if (!v->exists) {
        printf("no ledger at %s yet: nothing has run\n", v->ledger);
        for (i = 0; i < v->nss; i++)
            printf("sink %s: configured, nothing queued yet\n", v->ss[i].sink);
        return;
    }
    printf("status:    %s: %s\n", v->verdict, v->reason);
    printf("ledger:    %s\n", v->ledger);
    printf("cursor:    %s%s%s%s\n",
           v->cursor ? v->cursor : "(none: the next run reads from the start)",
           v->cursor_table ? " (table " : "", v->cursor_table ? v->cursor_table : "",
           v->cursor_table ? ")" : "");
    printf("rows:      %lld seen, %lld distinct leads\n", (long long)v->rows, (long long)v->leads);
    if (v->started)
        text_last_run(v);
    else
        printf("last run:  none\n");
    if (v->nss == 0)
        printf("sinks:     none configured\n");
    for (i = 0; i < v->nss; i++)
        text_sink(v, i, l);
    if (v->ndl)
        printf("dead letters (the newest %zu of %lld; 'leadsync retry' re-queues them):\n", v->ndl,
               (long long)v->dead_total);
    for (i = 0; i < v->ndl; i++) {
        char err[256], at[32];

        scrub(v->dl[i].last_error, err, sizeof(err));
        iso_ms(v->dl[i].updated_at, at);
        printf("  #%lld %s lead %s delivery %s: %d attempts, last HTTP %d at %s: %s\n",
               (long long)v->dl[i].id, v->dl[i].sink, v->dl[i].lead_id, v->dl[i].delivery_id,
               v->dl[i].attempts, v->dl[i].last_status, at, err);
    }
}

int ls_cmd_status(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code)
{
    struct status_view v;
    struct ls_ledger *l = NULL;
    int rc;

    memset(&v, 0, sizeof(v));
    *exit_code = LS_EXIT_OK;
    rc = load_view(cfg, &v, &l);
    if (rc)
        goto done;
    if (a->json)
        rc = render_json(&v, l);
    else
        render_text(&v, l);
done:
    ls_ledger_close(l);
    view_dispose(&v);
    return rc;
}
