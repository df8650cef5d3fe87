/* ls_metrics.c - the metrics registry, its text format, and health state. */
#include "ls_metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct series {
    char *labels; /* rendered, "" for none */
    double value; /* counter/gauge; histogram sum */
    uint64_t count;
    uint64_t *bucket_counts; /* histograms: per bucket, not cumulative */
};

struct metric {
    char *name;
    char *help;
    enum ls_metric_type type;
    double *buckets;
    size_t nbuckets;
    struct series *series;
    size_t nseries, cap;
};

struct ls_metrics {
    pthread_mutex_t lock;
    struct metric *metrics;
    size_t n, cap;
    int standard; /* metrics[0..LS_M_COUNT) are the standard ones, by enum ls_metric */
};

int ls_metrics_create(struct ls_metrics **out)
{
    struct ls_metrics *m = ls_xcalloc(1, sizeof(*m));

    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return LS_OK;
}

void ls_metrics_free(struct ls_metrics *m)
{
    size_t i, j;

    if (!m)
        return;
    for (i = 0; i < m->n; i++) {
        struct metric *x = &m->metrics[i];

        for (j = 0; j < x->nseries; j++) {
            free(x->series[j].labels);
            free(x->series[j].bucket_counts);
        }
        free(x->series);
        free(x->name);
        free(x->help);
        free(x->buckets);
    }
    free(m->metrics);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int name_ok(const char *s)
{
    size_t i;

    if (!s || !*s)
        return 0;
    for (i = 0; s[i]; i++) {
        char c = s[i];
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

        if (!alpha && !(i > 0 && c >= '0' && c <= '9') && c != ':')
            return 0;
    }
    return 1;
}

int ls_metrics_define(struct ls_metrics *m, const char *name, enum ls_metric_type type,
                      const char *help, const double *buckets, size_t nbuckets)
{
    struct metric *x;
    size_t i;
    int rc = LS_OK;

    if (!name_ok(name))
        return ls_error(LS_EINVAL, "metric name '%s' is not valid", name ? name : "");
    for (i = 1; i < nbuckets; i++)
        if (!(buckets[i] > buckets[i - 1]))
            return ls_error(LS_EINVAL, "metric %s: buckets must ascend", name);
    if (type == LS_METRIC_HISTOGRAM && nbuckets == 0)
        return ls_error(LS_EINVAL, "metric %s: a histogram needs buckets", name);
    pthread_mutex_lock(&m->lock);
    for (i = 0; i < m->n; i++) {
        if (strcmp(m->metrics[i].name, name) == 0) {
            rc = ls_error(LS_EINVAL, "metric %s is already defined", name);
            goto done;
        }
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->metrics = ls_xrealloc(m->metrics, m->cap * sizeof(*m->metrics));
    }
    x = &m->metrics[m->n++];
    memset(x, 0, sizeof(*x));
    x->name = ls_xstrdup(name);
    x->help = ls_xstrdup(help ? help : "");
    x->type = type;
    if (type == LS_METRIC_HISTOGRAM) {
        x->buckets = ls_xcalloc(nbuckets, sizeof(double));
        memcpy(x->buckets, buckets, nbuckets * sizeof(double));
        x->nbuckets = nbuckets;
    }
done:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int ls_metrics_render_labels(const char *const *labels, char **out)
{
    struct ls_buf b = {0};
    size_t i;

    *out = NULL;
    ls_buf_puts(&b, "");
    for (i = 0; labels && labels[i]; i += 2) {
        const char *v = labels[i + 1];
        const char *p;

        if (!name_ok(labels[i]) || strchr(labels[i], ':')) {
            free(b.p);
            return ls_error(LS_EINVAL, "label name '%s' is not valid", labels[i]);
        }
        if (!v) {
            free(b.p);
            return ls_error(LS_EINVAL, "label %s has no value", labels[i]);
        }
        if (i)
            ls_buf_puts(&b, ",");
        ls_buf_puts(&b, labels[i]);
        ls_buf_puts(&b, "=\"");
        for (p = v; *p; p++) {
            if (*p == '\\')
                ls_buf_puts(&b, "\\\\");
            else if (*p == '"')
                ls_buf_puts(&b, "\\\"");
            else if (*p == '\n')
                ls_buf_puts(&b, "\\n");
            else
                ls_buf_add(&b, p, 1);
        }
        ls_buf_puts(&b, "\"");
    }
    *out = b.p;
    return LS_OK;
}

void ls_metrics_format_value(double v, char out[40])
{
    int prec;

    if (isnan(v)) {
        snprintf(out, 40, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, 40, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, 40, "%.0f", v);
        return;
    }
    for (prec = 6; prec <= 17; prec++) {
        snprintf(out, 40, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* A metric by name, or by handle when name is NULL; NULL when unknown. */
static struct metric *metric_of(struct ls_metrics *m, const char *name, enum ls_metric id)
{
    size_t i;

    if (!name)
        return m->standard && id >= 0 && id < LS_M_COUNT ? &m->metrics[id] : NULL;
    for (i = 0; i < m->n; i++)
        if (strcmp(m->metrics[i].name, name) == 0)
            return &m->metrics[i];
    return NULL;
}

/* Finds or creates a series of the metric (metric_of); NULL when the metric
 * is unknown or the labels are invalid. Called with the lock held. */
static struct series *find_series(struct ls_metrics *m, const char *name, enum ls_metric id,
                                  const char *const *labels, int create, struct metric **mx)
{
    struct metric *x = metric_of(m, name, id);
    struct series *s = NULL;
    char *lab = NULL;
    size_t i;

    if (!x || ls_metrics_render_labels(labels, &lab) != LS_OK)
        goto done;
    for (i = 0; i < x->nseries; i++) {
        if (strcmp(x->series[i].labels, lab) == 0) {
            s = &x->series[i];
            goto done;
        }
    }
    if (!create)
        goto done;
    if (x->nseries == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 4;
        x->series = ls_xrealloc(x->series, x->cap * sizeof(*x->series));
    }
    s = &x->series[x->nseries++];
    memset(s, 0, sizeof(*s));
    s->labels = lab;
    lab = NULL;
    if (x->type == LS_METRIC_HISTOGRAM)
        s->bucket_counts = ls_xcalloc(x->nbuckets, sizeof(uint64_t));
done:
    free(lab);
    if (mx)
        *mx = x;
    return s;
}

enum update { UPDATE_INC, UPDATE_SET, UPDATE_OBSERVE };

/* One update of a series of the metric (metric_of), under the lock. Updates
 * of an unknown metric, and decrements of a counter, are ignored. */
static void update(struct ls_metrics *m, const char *name, enum ls_metric id,
                   const char *const *labels, enum update op, double v)
{
    struct metric *x = NULL;
    struct series *s;
    size_t i;

    if (!m || (op == UPDATE_INC && v < 0))
        return;
    pthread_mutex_lock(&m->lock);
    s = find_series(m, name, id, labels, 1, &x);
    if (s && op == UPDATE_INC) {
        s->value += v;
    } else if (s && op == UPDATE_SET) {
        s->value = v;
    } else if (s && x->type == LS_METRIC_HISTOGRAM) {
        for (i = 0; i < x->nbuckets; i++) {
            if (v <= x->buckets[i]) {
                s->bucket_counts[i]++;
                break;
            }
        }
        s->count++;
        s->value += v;
    }
    pthread_mutex_unlock(&m->lock);
}

void ls_metrics_inc(struct ls_metrics *m, const char *name, const char *const *labels, double by)
{
    update(m, name, LS_M_COUNT, labels, UPDATE_INC, by);
}

void ls_metrics_set(struct ls_metrics *m, const char *name, const char *const *labels, double v)
{
    update(m, name, LS_M_COUNT, labels, UPDATE_SET, v);
}

void ls_metrics_observe(struct ls_metrics *m, const char *name, const char *const *labels, double v)
{
    update(m, name, LS_M_COUNT, labels, UPDATE_OBSERVE, v);
}

void ls_metric_inc(enum ls_metric id, const char *const *labels, double by)
{
    update(ls_metrics_default(), NULL, id, labels, UPDATE_INC, by);
}

void ls_metric_set(enum ls_metric id, const char *const *labels, double v)
{
    update(ls_metrics_default(), NULL, id, labels, UPDATE_SET, v);
}

void ls_metric_observe(enum ls_metric id, const char *const *labels, double v)
{
    update(ls_metrics_default(), NULL, id, labels, UPDATE_OBSERVE, v);
}

double ls_metrics_get(struct ls_metrics *m, const char *name, const char *const *labels)
{
    struct metric *x = NULL;
    struct series *s;
    double v = 0;

    if (!m)
        return 0;
    pthread_mutex_lock(&m->lock);
    s = find_series(m, name, LS_M_COUNT, labels, 0, &x);
    if (s)
        v = x->type == LS_METRIC_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&m->lock);
    return v;
}

static void ob_sample(struct ls_buf *b, const char *name, const char *suffix, const char *labels,
                      const char *extra, double v)
{
    char val[40];

    ls_metrics_format_value(v, val);
    ls_buf_puts(b, name);
    ls_buf_puts(b, suffix);
    if (*labels || extra) {
        ls_buf_puts(b, "{");
        ls_buf_puts(b, labels);
        if (extra) {
            if (*labels)
                ls_buf_puts(b, ",");
            ls_buf_puts(b, extra);
        }
        ls_buf_puts(b, "}");
    }
    ls_buf_printf(b, " %s\n", val);
}

static void ob_help(struct ls_buf *b, const char *help)
{
    const char *p;

    for (p = help; *p; p++) {
        if (*p == '\\')
            ls_buf_puts(b, "\\\\");
        else if (*p == '\n')
            ls_buf_puts(b, "\\n");
        else
            ls_buf_add(b, p, 1);
    }
}

int ls_metrics_format(struct ls_metrics *m, char **out, size_t *len)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    struct ls_buf b = {0};
    size_t i, j, k;

    ls_buf_puts(&b, "");
    pthread_mutex_lock(&m->lock);
    for (i = 0; i < m->n; i++) {
        const struct metric *x = &m->metrics[i];

        ls_buf_printf(&b, "# HELP %s ", x->name);
        ob_help(&b, x->help);
        ls_buf_printf(&b, "\n# TYPE %s %s\n", x->name, type_names[x->type]);
        for (j = 0; j < x->nseries; j++) {
            const struct series *s = &x->series[j];

            if (x->type != LS_METRIC_HISTOGRAM) {
                ob_sample(&b, x->name, "", s->labels, NULL, s->value);
                continue;
            }
            {
                uint64_t cum = 0;
                char le[64], val[40];

                for (k = 0; k < x->nbuckets; k++) {
                    cum += s->bucket_counts[k];
                    ls_metrics_format_value(x->buckets[k], val);
                    snprintf(le, sizeof(le), "le=\"%s\"", val);
                    ob_sample(&b, x->name, "_bucket", s->labels, le, (double)cum);
                }
                ob_sample(&b, x->name, "_bucket", s->labels, "le=\"+Inf\"", (double)s->count);
                ob_sample(&b, x->name, "_sum", s->labels, NULL, s->value);
                ob_sample(&b, x->name, "_count", s->labels, NULL, (double)s->count);
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    *out = b.p;
    if (len)
        *len = b.len;
    return LS_OK;
}

/* ------------------------------------------------------------------------ */

int ls_metrics_define_standard(struct ls_metrics *m)
{
    static const double latency[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    static const double poll[] = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
    static const struct {
        const char *name;
        enum ls_metric_type type;
        const char *help;
        int hist; /* 0 none, 1 latency, 2 poll */
    } std[LS_M_COUNT] = {
        [LS_M_ROWS_READ] = {"leadsync_rows_read_total", LS_METRIC_COUNTER,
                            "Table rows read from the source.", 0},
        [LS_M_ROWS_ENQUEUED] = {"leadsync_rows_enqueued_total", LS_METRIC_COUNTER,
                                "New or changed rows enqueued for delivery.", 0},
        [LS_M_LEADS_DELIVERED] = {"leadsync_leads_delivered_total", LS_METRIC_COUNTER,
                                  "Deliveries a sink accepted.", 0},
        [LS_M_LEADS_FAILED] = {"leadsync_leads_failed_total", LS_METRIC_COUNTER,
                               "Delivery attempts that failed and will be retried.", 0},
        [LS_M_LEADS_DEAD] = {"leadsync_leads_dead_total", LS_METRIC_COUNTER,
                             "Deliveries parked as dead letters.", 0},
        [LS_M_PENDING] = {"leadsync_pending", LS_METRIC_GAUGE, "Deliveries waiting per sink.", 0},
        [LS_M_OLDEST_PENDING_AGE] = {"leadsync_oldest_pending_age_seconds", LS_METRIC_GAUGE,
                                     "Age of the oldest pending delivery per sink.", 0},
        [LS_M_CURSOR_LAG] = {"leadsync_cursor_lag_seconds", LS_METRIC_GAUGE,
                             "How far the sync cursor is behind the server's clock.", 0},
        [LS_M_LAST_SUCCESS] = {"leadsync_last_success_timestamp_seconds", LS_METRIC_GAUGE,
                               "Unix time of the last successful poll.", 0},
        [LS_M_POLLS] = {"leadsync_polls_total", LS_METRIC_COUNTER, "Polls of the source by result.",
                        0},
        [LS_M_AZURE_REQUESTS] = {"leadsync_azure_requests_total", LS_METRIC_COUNTER,
                                 "HTTP requests to the table service, retries included.", 0},
        [LS_M_AZURE_RETRIES] = {"leadsync_azure_retries_total", LS_METRIC_COUNTER,
                                "Retried requests to the table service.", 0},
        [LS_M_POLL_DURATION] = {"leadsync_poll_duration_seconds", LS_METRIC_HISTOGRAM,
                                "Time to read one window from the table.", 2},
        [LS_M_SINK_API_USAGE] =
            {"leadsync_sink_api_usage", LS_METRIC_GAUGE,
             "API requests the receiver last reported as used (Salesforce Sforce-Limit-Info).", 0},
        [LS_M_SINK_API_LIMIT] = {"leadsync_sink_api_limit", LS_METRIC_GAUGE,
                                 "The API allowance the receiver last reported.", 0},
        [LS_M_SINK_REQUEST_DURATION] = {"leadsync_sink_request_duration_seconds",
                                        LS_METRIC_HISTOGRAM,
                                        "Time a sink took to answer one delivery batch.", 1},
    };
    size_t i;
    int standard = m->n == 0;
    int rc;

    for (i = 0; i < LS_ARRAY_LEN(std); i++) {
        const double *bk = std[i].hist == 1 ? latency : std[i].hist == 2 ? poll : NULL;
        size_t nb = std[i].hist == 1   ? LS_ARRAY_LEN(latency)
                    : std[i].hist == 2 ? LS_ARRAY_LEN(poll)
                                       : 0;

        rc = ls_metrics_define(m, std[i].name, std[i].type, std[i].help, bk, nb);
        if (rc)
            return rc;
    }
    m->standard = standard;
    return LS_OK;
}

static struct ls_metrics *default_registry;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t health_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ls_health health;

static void default_init(void)
{
    if (ls_metrics_create(&default_registry) == LS_OK &&
        ls_metrics_define_standard(default_registry) != LS_OK) {
        ls_metrics_free(default_registry);
        default_registry = NULL;
    }
}

struct ls_metrics *ls_metrics_default(void)
{
    pthread_once(&default_once, default_init);
    return default_registry;
}

void ls_health_poll_result(int ok, int64_t now_ms)
{
    pthread_mutex_lock(&health_lock);
    if (ok) {
        health.ready = 1;
        health.last_success_ms = now_ms;
        health.source_failing_ms = 0;
    } else if (!health.source_failing_ms) {
        health.source_failing_ms = now_ms;
    }
    pthread_mutex_unlock(&health_lock);
}

/* The sink's slot, added when new; LS_HEALTH_MAX_SINKS when full. Under the lock. */
static size_t health_slot(const char *sink)
{
    size_t i;

    for (i = 0; i < health.nsinks; i++)
        if (strcmp(health.sink[i], sink) == 0)
            return i;
    if (i == LS_HEALTH_MAX_SINKS)
        return i;
    snprintf(health.sink[i], sizeof(health.sink[i]), "%s", sink);
    health.sink_failing_ms[i] = 0;
    health.sink_paused[i][0] = '\0';
    health.nsinks++;
    return i;
}

void ls_health_sink_result(const char *sink, int ok, int64_t now_ms)
{
    size_t i;

    pthread_mutex_lock(&health_lock);
    i = health_slot(sink);
    if (i < LS_HEALTH_MAX_SINKS) {
        if (ok)
            health.sink_failing_ms[i] = 0;
        else if (!health.sink_failing_ms[i])
            health.sink_failing_ms[i] = now_ms;
    }
    pthread_mutex_unlock(&health_lock);
}

void ls_health_sink_paused(const char *sink, const char *reason)
{
    size_t i;

    pthread_mutex_lock(&health_lock);
    i = health_slot(sink);
    if (i < LS_HEALTH_MAX_SINKS)
        snprintf(health.sink_paused[i], sizeof(health.sink_paused[i]), "%s", reason ? reason : "");
    pthread_mutex_unlock(&health_lock);
}

void ls_health_snapshot(struct ls_health *out)
{
    pthread_mutex_lock(&health_lock);
    *out = health;
    pthread_mutex_unlock(&health_lock);
}

void ls_health_reset(void)
{
    pthread_mutex_lock(&health_lock);
    memset(&health, 0, sizeof(health));
    pthread_mutex_unlock(&health_lock);
}

int ls_health_check(const struct ls_health *h, int64_t now_ms, int64_t fail_after_ms, char *why,
                    size_t whylen)
{
    size_t i;
    int64_t newest = 0;

    for (i = 0; i < h->nsinks; i++) {
        if (h->sink_paused[i][0]) {
            snprintf(why, whylen, "sink %.60s paused: %s", h->sink[i], h->sink_paused[i]);
            return 0;
        }
    }
    if (!h->ready) {
        snprintf(why, whylen, "not ready: no successful poll yet");
        return 0;
    }
    if (h->source_failing_ms && now_ms - h->source_failing_ms > fail_after_ms) {
        snprintf(why, whylen, "source failing for %llds",
                 (long long)((now_ms - h->source_failing_ms) / 1000));
        return 0;
    }
    for (i = 0; i < h->nsinks; i++) {
        if (!h->sink_failing_ms[i])
            break;
        if (h->sink_failing_ms[i] > newest)
            newest = h->sink_failing_ms[i];
    }
    if (h->nsinks > 0 && i == h->nsinks && now_ms - newest > fail_after_ms) {
        snprintf(why, whylen, "every sink failing for %llds",
                 (long long)((now_ms - newest) / 1000));
        return 0;
    }
    snprintf(why, whylen, "ok");
    return 1;
}
