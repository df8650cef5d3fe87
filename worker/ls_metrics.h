/*
 * ls_metrics.h - a small metrics registry: counters, gauges and histograms
 * with labels, rendered in the Prometheus text exposition format (0.0.4).
 *
 * The daemon serves it on /metrics (ls_http_server.c); a one-shot run pushes
 * it to a Pushgateway. Every update locks the registry, so the HTTP thread may
 * render while the run loop writes. Labels are given as a NULL-terminated
 * array of alternating names and values: (const char *[]){"sink", id, NULL};
 * NULL means no labels. Updates to a name that was never defined are ignored.
 *
 * Health (/healthz) lives here too, as plain state plus a pure check.
 */
#ifndef LS_METRICS_H
#define LS_METRICS_H

#include "ls_common.h"

#include <stddef.h>
#include <stdint.h>

enum ls_metric_type { LS_METRIC_COUNTER = 0, LS_METRIC_GAUGE, LS_METRIC_HISTOGRAM };

struct ls_metrics;

LS_NODISCARD int ls_metrics_create(struct ls_metrics **out);
void ls_metrics_free(struct ls_metrics *m);

/* The process-wide registry with every leadsync metric defined (created on
 * first use, never freed before exit). */
struct ls_metrics *ls_metrics_default(void);
/* Defines the standard leadsync metrics in m (see ls_metrics.c). */
LS_NODISCARD int ls_metrics_define_standard(struct ls_metrics *m);

/* buckets: upper bounds, ascending, without +Inf (histograms only). */
LS_NODISCARD int ls_metrics_define(struct ls_metrics *m, const char *name, enum ls_metric_type type,
                                   const char *help, const double *buckets, size_t nbuckets);
/* By name, for a registry of one's own (updates to an unknown name are ignored). */
void ls_metrics_inc(struct ls_metrics *m, const char *name, const char *const *labels, double by);
void ls_metrics_set(struct ls_metrics *m, const char *name, const char *const *labels, double v);
void ls_metrics_observe(struct ls_metrics *m, const char *name, const char *const *labels,
                        double v);
/* The standard leadsync metrics (ls_metrics_define_standard), by handle:
 * a misspelt metric does not compile, and no name is looked up. */
enum ls_metric {
    LS_M_ROWS_READ,             /* leadsync_rows_read_total */
    LS_M_ROWS_ENQUEUED,         /* leadsync_rows_enqueued_total */
    LS_M_LEADS_DELIVERED,       /* leadsync_leads_delivered_total */
    LS_M_LEADS_FAILED,          /* leadsync_leads_failed_total */
    LS_M_LEADS_DEAD,            /* leadsync_leads_dead_total */
    LS_M_PENDING,               /* leadsync_pending */
    LS_M_OLDEST_PENDING_AGE,    /* leadsync_oldest_pending_age_seconds */
    LS_M_CURSOR_LAG,            /* leadsync_cursor_lag_seconds */
    LS_M_LAST_SUCCESS,          /* leadsync_last_success_timestamp_seconds */
    LS_M_POLLS,                 /* leadsync_polls_total */
    LS_M_AZURE_REQUESTS,        /* leadsync_azure_requests_total */
    LS_M_AZURE_RETRIES,         /* leadsync_azure_retries_total */
    LS_M_POLL_DURATION,         /* leadsync_poll_duration_seconds */
    LS_M_SINK_API_USAGE,        /* leadsync_sink_api_usage */
    LS_M_SINK_API_LIMIT,        /* leadsync_sink_api_limit */
    LS_M_SINK_REQUEST_DURATION, /* leadsync_sink_request_duration_seconds */
    LS_M_COUNT
};
/* Updates of a standard metric in the default registry. */
void ls_metric_inc(enum ls_metric id, const char *const *labels, double by);
void ls_metric_set(enum ls_metric id, const char *const *labels, double v);
void ls_metric_observe(enum ls_metric id, const char *const *labels, double v);

/* The value of a counter or gauge series, or a histogram's count; 0 when the
 * series does not exist. */
double ls_metrics_get(struct ls_metrics *m, const char *name, const char *const *labels);

/* The whole registry as Prometheus text; *out malloc'd, NUL-terminated. */
LS_NODISCARD int ls_metrics_format(struct ls_metrics *m, char **out, size_t *len);

/* Pure helpers, exposed for tests. */
/* Renders labels as `a="x",b="y"` with \\, \" and \n escaped; *out malloc'd
 * ("" for none). Label names must match [a-zA-Z_][a-zA-Z0-9_]*. */
LS_NODISCARD int ls_metrics_render_labels(const char *const *labels, char **out);
/* A sample value: integers without a fraction, +Inf/-Inf/NaN as Prometheus
 * spells them, otherwise the shortest %g that round-trips. */
void ls_metrics_format_value(double v, char out[40]);

/* ------------------------------------------------------------------------ */
/* Health                                                                    */

#define LS_HEALTH_MAX_SINKS 32

struct ls_health {
    int ready;                 /* a poll has succeeded */
    int64_t last_success_ms;   /* wall clock of the last successful poll */
    int64_t source_failing_ms; /* since when the source fails, 0 = it does not */
    size_t nsinks;
    char sink[LS_HEALTH_MAX_SINKS][64];
    int64_t sink_failing_ms[LS_HEALTH_MAX_SINKS]; /* since when, 0 = healthy */
    char sink_paused[LS_HEALTH_MAX_SINKS][160];   /* the breaker's reason, "" = not paused */
};

/* Updates, under the default registry's lock. */
void ls_health_poll_result(int ok, int64_t now_ms);
/* A sink round: ok = something was delivered or nothing failed. */
void ls_health_sink_result(const char *sink, int ok, int64_t now_ms);
/* The breaker paused the sink (reason), or its pause ended (NULL). */
void ls_health_sink_paused(const char *sink, const char *reason);
void ls_health_snapshot(struct ls_health *out);
void ls_health_reset(void);

/*
 * Pure: 1 healthy, 0 not. Not healthy while the breaker holds a sink paused
 * (ls_deliver.h), before the first successful poll, when the source has
 * failed for longer than fail_after_ms, or when every sink has failed for
 * longer than that. why gets a short reason.
 */
int ls_health_check(const struct ls_health *h, int64_t now_ms, int64_t fail_after_ms, char *why,
                    size_t whylen);

#endif /* LS_METRICS_H */
