/* ls_ops.c - metrics after each poll, the listener, the Pushgateway push. */
#include "ls_ops.h"

#include "ls_http_server.h"
#include "ls_log.h"
#include "ls_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ls_ops {
    struct ls_http_server *server;
    char *push_url;
    long timeout_ms;
    int daemon;
    uint64_t azt_requests, azt_retries; /* last seen, to turn totals into increments */
};

int ls_ops_start(const struct ls_config *cfg, int daemon, struct ls_ops **out)
{
    struct ls_ops *o = ls_xcalloc(1, sizeof(*o));
    int rc = LS_OK;

    *out = NULL;
    (void)ls_metrics_default();
    ls_health_reset();
    o->daemon = daemon;
    o->timeout_ms = cfg->http_timeout_seconds * 1000;
    if (!daemon && cfg->pushgateway_url && *cfg->pushgateway_url)
        o->push_url = ls_xstrdup(cfg->pushgateway_url);
    if (daemon && cfg->metrics_addr && *cfg->metrics_addr) {
        rc = ls_http_server_start(cfg->metrics_addr, (int64_t)cfg->health_fail_seconds * 1000,
                                  &o->server);
        if (rc) {
            ls_ops_finish(o);
            return rc;
        }
    }
    *out = o;
    return LS_OK;
}

/* The window's upper bound (ls_iso_format) as unix seconds; -1 when unreadable. */
static int64_t iso_seconds(const char *iso)
{
    int64_t secs;

    return iso && azt_iso8601_parse(iso, strlen(iso), &secs, NULL) == AZT_OK ? secs : -1;
}

void ls_ops_poll_done(struct ls_ops *o, int window_rc, const struct ls_sync_stats *st,
                      struct azt_client *client, struct ls_ledger *ledger, int64_t ms)
{
    struct ls_metrics *m = ls_metrics_default();
    struct ls_sink_stats *ss = NULL;
    struct azt_stats as;
    size_t n = 0, i;
    int64_t now = ls_now_ms();
    int ok = window_rc == LS_OK;

    if (!o || !m)
        return;
    ls_metric_inc(LS_M_POLLS,
                  (const char *[]){"result",
                                   ok                          ? "ok"
                                   : window_rc == LS_ECANCELED ? "canceled"
                                                               : "error",
                                   NULL},
                  1);
    if (window_rc != LS_ECANCELED)
        ls_health_poll_result(ok, now);
    ls_metric_observe(LS_M_POLL_DURATION, NULL, (double)ms / 1000.0);
    ls_metric_inc(LS_M_ROWS_READ, NULL, (double)st->rows);
    ls_metric_inc(LS_M_ROWS_ENQUEUED, NULL, (double)(st->fresh + st->updated));
    if (ok) {
        time_t server = client ? azt_client_server_time(client) : 0;
        int64_t upper = iso_seconds(st->upper);

        ls_metric_set(LS_M_LAST_SUCCESS, NULL, (double)now / 1000.0);
        if (server > 0 && upper > 0)
            ls_metric_set(LS_M_CURSOR_LAG, NULL, (double)(server - upper));
    }
    if (client) {
        azt_client_stats(client, &as);
        if (as.requests >= o->azt_requests)
            ls_metric_inc(LS_M_AZURE_REQUESTS, NULL, (double)(as.requests - o->azt_requests));
        if (as.retries >= o->azt_retries)
            ls_metric_inc(LS_M_AZURE_RETRIES, NULL, (double)(as.retries - o->azt_retries));
        o->azt_requests = as.requests;
        o->azt_retries = as.retries;
    }
    if (ledger && ls_ledger_sink_stats(ledger, &ss, &n) == LS_OK) {
        for (i = 0; i < n; i++) {
            const char *lab[] = {"sink", ss[i].sink, NULL};
            double age =
                ss[i].oldest_pending_at > 0 ? (double)(now - ss[i].oldest_pending_at) / 1000.0 : 0;

            ls_metric_set(LS_M_PENDING, lab, (double)ss[i].pending);
            ls_metric_set(LS_M_OLDEST_PENDING_AGE, lab, age < 0 ? 0 : age);
        }
        free(ss);
    }
}

void ls_ops_finish(struct ls_ops *o)
{
    if (!o)
        return;
    if (o->push_url) {
        char saved[1024];

        snprintf(saved, sizeof(saved), "%s", ls_error_last());
        if (ls_metrics_push(o->push_url, "leadsync", o->timeout_ms) == LS_OK)
            LS_INFO("ops", "metrics pushed to the Pushgateway");
        else
            LS_WARN("ops", "metrics push failed: %s", ls_error_last());
        ls_error(LS_ERROR, "%s", saved); /* keep the run's own message */
    }
    ls_http_server_stop(o->server);
    free(o->push_url);
    free(o);
}
