/*
 * ls_run.c - `leadsync run`: one window then delivery (--once), or the same
 * on a schedule until SIGTERM/SIGINT (daemon). Every run ends with a
 * one-line summary and is recorded in the ledger for `status`.
 */
#include "ls_cmd.h"

#include "ls_deliver.h"
#include "ls_lead.h"
#include "ls_ledger.h"
#include "ls_log.h"
#include "ls_ops.h"
#include "ls_sink.h"
#include "ls_sync.h"
#include "ls_table.h"

#include "azt.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void on_signal(int sig)
{
    (void)sig;
    if (ls_stop_requested < 2) /* the second signal means "stop now" */
        ls_stop_requested++;
}

void ls_install_signal_handlers(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: sleeps end early */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

struct run_ctx {
    struct ls_deliverer *deliverer;
    struct ls_deliver_stats total;
    int fatal;
    int fatal_code;
    char fatal_msg[400]; /* the stopped sink's message, kept for the run's last line */
    struct ls_ops *ops;  /* metrics, /healthz, Pushgateway */
};

static void add_stats(struct run_ctx *r, const struct ls_deliver_stats *d)
{
    r->total.delivered += d->delivered;
    r->total.retried += d->retried;
    r->total.dead += d->dead;
    r->total.pending = d->pending;
    r->total.held = d->held;
    if (d->held && d->held_msg[0])
        snprintf(r->total.held_msg, sizeof(r->total.held_msg), "%s", d->held_msg);
    if (d->fatal) {
        r->fatal = 1;
        r->fatal_code = d->fatal_code;
        if (d->fatal_msg[0])
            snprintf(r->fatal_msg, sizeof(r->fatal_msg), "%s", d->fatal_msg);
    }
}

/* Between pages of a long window: deliver what is due, without waiting. */
static int deliver_between_pages(void *ctx)
{
    struct run_ctx *r = ctx;
    struct ls_deliver_stats d;
    int rc;

    if (!r->deliverer || r->fatal)
        return LS_OK;
    rc = ls_deliver_run(r->deliverer, 0, &d);
    if (rc)
        return rc;
    add_stats(r, &d);
    return LS_OK;
}

static char *summary_json(const struct ls_sync_stats *s, const struct run_ctx *r, int64_t ms)
{
    json_t *o = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:s}", "rows",
        (json_int_t)s->rows, "late", (json_int_t)s->late, "settling", (json_int_t)s->settling,
        "new", (json_int_t)s->fresh, "updated", (json_int_t)s->updated, "unchanged",
        (json_int_t)s->unchanged, "testLeads", (json_int_t)s->test_leads, "malformed",
        (json_int_t)s->malformed, "skipped", (json_int_t)s->skipped, "delivered",
        (json_int_t)r->total.delivered, "retried", (json_int_t)r->total.retried, "dead",
        (json_int_t)r->total.dead, "pending", (json_int_t)r->total.pending, "ms", (json_int_t)ms,
        "windowFrom", s->lower, "windowTo", s->upper);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    return txt;
}

static void print_summary(const char *what, const struct ls_sync_stats *s, const struct run_ctx *r,
                          int64_t ms)
{
    const struct ls_log_field f[] = {
        {"rows", NULL, (long long)s->rows},
        {"new", NULL, (long long)s->fresh},
        {"updated", NULL, (long long)s->updated},
        {"unchanged", NULL, (long long)s->unchanged},
        {"test", NULL, (long long)s->test_leads},
        {"malformed", NULL, (long long)s->malformed},
        {"skipped", NULL, (long long)s->skipped},
        {"late", NULL, (long long)s->late},
        {"settling", NULL, (long long)s->settling},
        {"delivered", NULL, (long long)r->total.delivered},
        {"retried", NULL, (long long)r->total.retried},
        {"dead", NULL, (long long)r->total.dead},
        {"pending", NULL, (long long)r->total.pending},
        {"ms", NULL, (long long)ms},
    };

    if (ls_log_enabled(LS_LOG_INFO))
        ls_log_fields(LS_LOG_INFO, "run", f, LS_ARRAY_LEN(f),
                      "%s: rows=%lld new=%lld updated=%lld unchanged=%lld test=%lld malformed=%lld "
                      "skipped=%lld late=%lld settling=%lld delivered=%lld retried=%lld dead=%lld "
                      "pending=%lld in %lld.%03llds",
                      what, (long long)s->rows, (long long)s->fresh, (long long)s->updated,
                      (long long)s->unchanged, (long long)s->test_leads, (long long)s->malformed,
                      (long long)s->skipped, (long long)s->late, (long long)s->settling,
                      (long long)r->total.delivered, (long long)r->total.retried,
                      (long long)r->total.dead, (long long)r->total.pending, (long long)(ms / 1000),
                      (long long)(ms % 1000));
    if (r->total.dead > 0)
        LS_WARN("run",
                "%lld deliveries parked as dead letters: see 'leadsync status', then "
                "'leadsync retry'",
                (long long)r->total.dead);
}

static int dry_run(const struct ls_config *cfg, struct azt_client *client,
                   const struct ls_sync_opts *so)
{
    struct ls_ledger *ledger = NULL;
    struct ls_ledger_opts lo = {0};
    struct ls_sync_stats st;
    struct ls_sink *sinks = NULL;
    size_t nsinks = 0;
    struct stat sb;
    int rc;

    rc = ls_sinks_plan(cfg, &sinks, &nsinks); /* routes: which sinks each lead goes to */
    if (rc)
        return rc;
    if (stat(cfg->state, &sb) == 0) {
        lo.path = cfg->state;
        lo.readonly = 1;
        rc = ls_ledger_open(&lo, &ledger);
        if (rc)
            goto done;
    }
    rc = ls_sync_window(client, ledger, sinks, nsinks, so, &st);
    if (rc == LS_OK)
        LS_INFO("run",
                "dry run: rows=%lld would deliver new=%lld updated=%lld; unchanged=%lld "
                "test=%lld malformed=%lld; nothing was changed",
                (long long)st.rows, (long long)st.fresh, (long long)st.updated,
                (long long)st.unchanged, (long long)st.test_leads, (long long)st.malformed);
done:
    ls_ledger_close(ledger);
    ls_sinks_destroy(sinks, nsinks);
    return rc;
}

/* What one cycle (a window, then delivery) came to. */
struct cycle {
    int rc;   /* ls_err of the window or the ledger; 0 when the cycle completed */
    int exit; /* the contract's exit code for this cycle */
};

/*
 * The one place a run's exit code is decided, from what its cycle came to:
 * the window's error first (78 configuration, 77 credentials, 74 ledger, 75
 * table unreachable or throttled: ls_exit_code), then a sink that stopped
 * for good (77 credentials, 78 configuration), then, for --once, work
 * waiting for a sink the breaker paused (69: a person must fix what it
 * refuses), then other work left for the next run (75: a sink down or
 * throttled). A run that parked dead letters exits 0.
 */
static int cycle_exit_code(int window_rc, const struct run_ctx *r, int once)
{
    if (window_rc)
        return ls_exit_code(window_rc);
    if (r->fatal)
        return ls_exit_code(r->fatal_code);
    if (once && r->total.held > 0)
        return LS_EXIT_UNAVAILABLE;
    if (once && r->total.pending > 0)
        return LS_EXIT_TEMPFAIL;
    return LS_EXIT_OK;
}

/* One window, then delivery; records the cycle as a run in the ledger. */
static int run_cycle(struct azt_client *client, struct ls_ledger *ledger, struct ls_sink *sinks,
                     size_t nsinks, struct ls_sync_opts *so, struct run_ctx *r, int once,
                     struct cycle *out)
{
    struct ls_sync_stats st;
    struct ls_deliver_stats d;
    int64_t run_id = 0, t0 = ls_mono_ms(), window_ms;
    char *sum = NULL;
    int window_rc;
    char msg[1024] = "";
    int rc;

    memset(&st, 0, sizeof(st));
    memset(&r->total, 0, sizeof(r->total));
    out->rc = LS_OK;
    out->exit = LS_EXIT_OK;
    rc = ls_ledger_run_start(ledger, once ? "once" : "daemon", ls_now_ms(), &run_id);
    if (rc)
        return rc;
    out->rc = ls_sync_window(client, ledger, sinks, nsinks, so, &st);
    window_rc = out->rc;
    window_ms = ls_mono_ms() - t0;
    r->total.delivered += st.delivered; /* inline sinks (ls_sink.h) */
    if (out->rc == LS_ECANCELED)
        out->rc = LS_OK; /* stopped between pages: the window is re-read next time */
    if (out->rc)
        snprintf(msg, sizeof(msg), "%s", ls_error_last());
    /* Deliver even when the window failed: earlier work may be pending. */
    rc = ls_deliver_run(r->deliverer, once, &d);
    if (rc)
        return rc;
    add_stats(r, &d);
    ls_ops_poll_done(r->ops, window_rc, &st, client, ledger, window_ms);
    out->exit = cycle_exit_code(out->rc, r, once);
    sum = summary_json(&st, r, ls_mono_ms() - t0);
    rc = ls_ledger_run_finish(ledger, run_id, out->exit, sum, ls_now_ms());
    free(sum);
    if (rc)
        return rc;
    print_summary(once ? "run done" : "poll done", &st, r, ls_mono_ms() - t0);
    if (out->rc)
        ls_error(out->rc, "%s", msg); /* the window's own message, for the caller */
    return LS_OK;
}

/* Daemon: sleep until the next poll, delivering due retries meanwhile. */
static void daemon_sleep(struct run_ctx *r, long seconds)
{
    int64_t until = ls_mono_ms() + (int64_t)seconds * 1000;
    struct ls_deliver_stats d;

    while (!ls_stop_requested && ls_mono_ms() < until) {
        int64_t left = until - ls_mono_ms();
        struct timespec ts;

        ts.tv_sec = left >= 1000 ? 1 : 0;
        ts.tv_nsec = left >= 1000 ? 0 : (long)left * 1000000L;
        nanosleep(&ts, NULL);
        if (!r->fatal && ls_deliver_run(r->deliverer, 0, &d) == LS_OK)
            add_stats(r, &d);
    }
}

/* The daemon's one startup line: what it reads, where it delivers, how
 * often, and where its health and metrics answer (sink types only: a URL
 * may carry a credential). */
static void log_startup(const struct ls_config *cfg, const struct ls_sink *sinks, size_t nsinks)
{
    char types[256] = "";
    size_t i, len = 0;

    for (i = 0; i < nsinks && len < sizeof(types); i++) {
        snprintf(types + len, sizeof(types) - len, "%s%s", i ? ", " : "", sinks[i].ops->name);
        len += strlen(types + len);
    }
    LS_INFO("run",
            "leadsync %s daemon: table %s, %zu sink%s (%s), poll every %ld s, ledger %s, "
            "/healthz and /metrics %s%s",
            LS_VERSION, cfg->table, nsinks, nsinks == 1 ? "" : "s", types, cfg->poll_seconds,
            cfg->state, cfg->metrics_addr ? "on " : "off (LEADSYNC_METRICS_ADDR unset)",
            cfg->metrics_addr ? cfg->metrics_addr : "");
}

/* Everything a run holds, from set-up to tear-down. */
struct run_env {
    struct azt_client *client;
    struct ls_ledger *ledger;
    struct ls_sink *sinks;
    size_t nsinks;
    struct ls_sync_opts so;
    struct run_ctx r;
};

static void sync_opts(const struct ls_config *cfg, const struct ls_cmd_args *a,
                      struct ls_sync_opts *so)
{
    so->table = cfg->table;
    so->overlap_seconds = cfg->overlap_seconds;
    so->settle_seconds = cfg->settle_seconds;
    so->page_size = (int)cfg->page_size;
    so->identity = strcmp(cfg->identity, "row") == 0 ? LS_IDENTITY_ROW : LS_IDENTITY_CUSTOMER_OFFER;
    so->deliver_test_leads = strcmp(cfg->test_leads, "deliver") == 0;
    so->since = a->since_iso[0] ? a->since_iso : NULL;
    so->dry_run = a->dry_run;
    so->progress_seconds = cfg->progress_seconds;
    so->max_pages = cfg->window_max_pages;
    so->max_seconds = cfg->window_max_seconds;
    so->stop = &ls_stop_requested;
}

/* Set-up: the ledger, the sinks, the delivery engine and the listener. A
 * first run asks the table once before it creates the ledger, so a
 * misnamed table or refused key (78, 77) leaves no file behind. */
static int run_setup(const struct ls_config *cfg, const struct ls_cmd_args *a, struct run_env *e)
{
    struct ls_ledger_opts lo = {0};
    struct ls_deliver_opts dopt = {0};
    struct stat sb;
    int rc;

    if (stat(cfg->state, &sb) != 0) {
        rc = ls_table_probe(e->client, cfg->table);
        if (rc && rc != LS_EUNAVAIL) /* an outage: the run records it and retries */
            return rc;
    }
    lo.path = cfg->state;
    lo.wal = strcmp(cfg->journal_mode, "wal") == 0;
    rc = ls_ledger_open(&lo, &e->ledger);
    if (rc)
        return rc;
    rc = ls_sinks_create(cfg, &e->sinks, &e->nsinks);
    if (rc == LS_OK)
        rc = ls_sinks_attach(e->ledger, cfg->sinks);
    if (rc)
        return rc;
    dopt.max_attempts = (int)cfg->delivery_max_attempts;
    dopt.backoff_base_ms = cfg->delivery_backoff_base_ms;
    dopt.backoff_cap_ms = cfg->delivery_backoff_cap_ms;
    dopt.batch = (size_t)cfg->delivery_batch;
    dopt.max_wait_ms = a->once ? cfg->once_max_wait_seconds * 1000 : 0;
    dopt.stop = &ls_stop_requested;
    dopt.breaker_rejects = (int)cfg->delivery_breaker;
    rc = ls_deliverer_create(e->ledger, e->sinks, e->nsinks, &dopt, &e->r.deliverer);
    if (rc)
        return rc;
    e->so.delivered = &e->r.total.delivered;
    e->so.after_page = deliver_between_pages;
    e->so.after_page_ctx = &e->r;
    rc = ls_ops_start(cfg, !a->once, &e->r.ops);
    if (rc == LS_OK && !a->once)
        log_startup(cfg, e->sinks, e->nsinks);
    return rc;
}

/* The cycles: one for --once, until a signal for the daemon. */
static int run_loop(const struct ls_config *cfg, const struct ls_cmd_args *a, struct run_env *e,
                    int *exit_code)
{
    struct run_ctx *r = &e->r;
    struct cycle cy;
    int rc;

    for (;;) {
        rc = run_cycle(e->client, e->ledger, e->sinks, e->nsinks, &e->so, r, a->once, &cy);
        if (rc) /* the ledger failed: nothing can be recorded, stop */
            return rc;
        e->so.since = NULL; /* a backfill is one window */
        *exit_code = cy.exit;
        if (r->fatal) /* the message as the sink gave it, not whatever came last */
            return ls_error(r->fatal_code, "%s", r->fatal_msg[0] ? r->fatal_msg : ls_error_last());
        if (a->once) {
            if (cy.rc)
                return cy.rc;
            if (cy.exit == LS_EXIT_UNAVAILABLE)
                return ls_error(LS_EUNAVAIL, "%s", r->total.held_msg);
            if (cy.exit == LS_EXIT_TEMPFAIL)
                return ls_error(LS_EUNAVAIL,
                                "%lld deliveries are still pending (a sink is unavailable); "
                                "they go out on the next run",
                                (long long)r->total.pending);
            return LS_OK;
        }
        *exit_code = LS_EXIT_OK;
        /* The daemon keeps going through outages; configuration errors stop it. */
        if (cy.rc == LS_ECONFIG || cy.rc == LS_EDB) {
            *exit_code = cy.exit;
            return cy.rc;
        }
        if (cy.rc)
            LS_ERR("run", "poll failed, next try in %lds: %s", cfg->poll_seconds, ls_error_last());
        if (!ls_stop_requested)
            daemon_sleep(r, cfg->poll_seconds);
        if (ls_stop_requested)
            return LS_OK;
    }
}

static void run_teardown(struct run_env *e)
{
    ls_ops_finish(e->r.ops);
    ls_deliverer_destroy(e->r.deliverer);
    ls_sinks_destroy(e->sinks, e->nsinks);
    ls_ledger_close(e->ledger);
    azt_client_destroy(e->client);
}

int ls_cmd_run(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code)
{
    struct run_env e;
    int rc;

    memset(&e, 0, sizeof(e));
    *exit_code = LS_EXIT_OK;
    ls_install_signal_handlers();
    rc = ls_open_table_client(cfg, &e.client);
    if (rc)
        goto done;
    sync_opts(cfg, a, &e.so);
    if (a->dry_run)
        rc = dry_run(cfg, e.client, &e.so);
    else if ((rc = run_setup(cfg, a, &e)) == LS_OK)
        rc = run_loop(cfg, a, &e, exit_code);
    if (ls_stop_requested && !a->dry_run)
        LS_INFO("run", "stopped by signal after committing the current batch");
done:
    if (rc && *exit_code == LS_EXIT_OK)
        *exit_code = ls_exit_code(rc);
    run_teardown(&e);
    return rc;
}
