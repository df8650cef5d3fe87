/* test_ls_metrics.c - the metrics registry, its Prometheus text, health. */
#include "ls_test.h"

#include "ls_http_server.h"
#include "ls_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_ls_metrics__labels_escaped(void **state)
{
    char *out = NULL;

    (void)state;
    assert_int_equal(ls_metrics_render_labels((const char *[]){"sink", "a\"b\\c\nd", NULL}, &out),
                     0);
    assert_string_equal(out, "sink=\"a\\\"b\\\\c\\nd\"");
    free(out);
    assert_int_equal(ls_metrics_render_labels((const char *[]){"a", "1", "b", "2", NULL}, &out), 0);
    assert_string_equal(out, "a=\"1\",b=\"2\"");
    free(out);
    assert_int_equal(ls_metrics_render_labels(NULL, &out), 0);
    assert_string_equal(out, "");
    free(out);
    assert_int_not_equal(ls_metrics_render_labels((const char *[]){"9bad", "x", NULL}, &out), 0);
    assert_null(out);
}

static void test_ls_metrics__values(void **state)
{
    char v[40];

    (void)state;
    ls_metrics_format_value(3, v);
    assert_string_equal(v, "3");
    ls_metrics_format_value(0.25, v);
    assert_string_equal(v, "0.25");
    ls_metrics_format_value(0.1, v);
    assert_string_equal(v, "0.1");
    ls_metrics_format_value(INFINITY, v);
    assert_string_equal(v, "+Inf");
    ls_metrics_format_value(-INFINITY, v);
    assert_string_equal(v, "-Inf");
    ls_metrics_format_value(NAN, v);
    assert_string_equal(v, "NaN");
    ls_metrics_format_value(1234567.5, v);
    assert_string_equal(v, "1234567.5");
}

static void test_ls_metrics__text_format(void **state)
{
    static const double b[] = {0.1, 1};
    struct ls_metrics *m = NULL;
    char *txt = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(ls_metrics_create(&m), 0);
    assert_int_equal(
        ls_metrics_define(m, "x_total", LS_METRIC_COUNTER, "Things\ncounted.", NULL, 0), 0);
    assert_int_equal(ls_metrics_define(m, "g", LS_METRIC_GAUGE, "A gauge.", NULL, 0), 0);
    assert_int_equal(ls_metrics_define(m, "h_seconds", LS_METRIC_HISTOGRAM, "Latency.", b, 2), 0);
    /* duplicate and bad definitions */
    assert_int_not_equal(ls_metrics_define(m, "g", LS_METRIC_GAUGE, "again", NULL, 0), 0);
    assert_int_not_equal(ls_metrics_define(m, "bad-name", LS_METRIC_GAUGE, "", NULL, 0), 0);
    assert_int_not_equal(ls_metrics_define(m, "h2", LS_METRIC_HISTOGRAM, "", NULL, 0), 0);

    ls_metrics_inc(m, "x_total", (const char *[]){"sink", "jsonl", NULL}, 2);
    ls_metrics_inc(m, "x_total", (const char *[]){"sink", "jsonl", NULL}, 1);
    ls_metrics_inc(m, "x_total", (const char *[]){"sink", "webhook", NULL}, 1);
    ls_metrics_inc(m, "x_total", (const char *[]){"sink", "webhook", NULL}, -5); /* ignored */
    ls_metrics_inc(m, "undefined_total", NULL, 1);                               /* ignored */
    ls_metrics_set(m, "g", NULL, 7.5);
    ls_metrics_set(m, "g", NULL, 4);
    ls_metrics_observe(m, "h_seconds", (const char *[]){"sink", "w", NULL}, 0.05);
    ls_metrics_observe(m, "h_seconds", (const char *[]){"sink", "w", NULL}, 0.5);
    ls_metrics_observe(m, "h_seconds", (const char *[]){"sink", "w", NULL}, 3);

    assert_true(ls_metrics_get(m, "x_total", (const char *[]){"sink", "jsonl", NULL}) == 3);
    assert_true(ls_metrics_get(m, "h_seconds", (const char *[]){"sink", "w", NULL}) == 3);
    assert_true(ls_metrics_get(m, "nope", NULL) == 0);

    assert_int_equal(ls_metrics_format(m, &txt, &len), 0);
    assert_int_equal(len, strlen(txt));
    assert_string_equal(txt, "# HELP x_total Things\\ncounted.\n"
                             "# TYPE x_total counter\n"
                             "x_total{sink=\"jsonl\"} 3\n"
                             "x_total{sink=\"webhook\"} 1\n"
                             "# HELP g A gauge.\n"
                             "# TYPE g gauge\n"
                             "g 4\n"
                             "# HELP h_seconds Latency.\n"
                             "# TYPE h_seconds histogram\n"
                             "h_seconds_bucket{sink=\"w\",le=\"0.1\"} 1\n"
                             "h_seconds_bucket{sink=\"w\",le=\"1\"} 2\n"
                             "h_seconds_bucket{sink=\"w\",le=\"+Inf\"} 3\n"
                             "h_seconds_sum{sink=\"w\"} 3.55\n"
                             "h_seconds_count{sink=\"w\"} 3\n");
    free(txt);
    ls_metrics_free(m);
    ls_metrics_free(NULL);
}

static void test_ls_metrics__standard_defined(void **state)
{
    struct ls_metrics *m = ls_metrics_default();
    char *txt = NULL;

    (void)state;
    assert_non_null(m);
    assert_ptr_equal(m, ls_metrics_default());
    assert_int_equal(ls_metrics_format(m, &txt, NULL), 0);
    assert_non_null(strstr(txt, "# TYPE leadsync_leads_delivered_total counter\n"));
    assert_non_null(strstr(txt, "# TYPE leadsync_pending gauge\n"));
    assert_non_null(strstr(txt, "# TYPE leadsync_sink_request_duration_seconds histogram\n"));
    assert_non_null(strstr(txt, "# TYPE leadsync_cursor_lag_seconds gauge\n"));
    free(txt);
}

static void test_ls_metrics__health(void **state)
{
    struct ls_health h;
    char why[128];
    const int64_t t = 1000000;

    (void)state;
    ls_health_reset();
    ls_health_snapshot(&h);
    assert_int_equal(ls_health_check(&h, t, 60000, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "not ready"));

    ls_health_poll_result(1, t);
    ls_health_sink_result("a", 1, t);
    ls_health_sink_result("b", 1, t);
    ls_health_snapshot(&h);
    assert_int_equal(ls_health_check(&h, t, 60000, why, sizeof(why)), 1);

    /* the source fails: healthy until the threshold passes */
    ls_health_poll_result(0, t + 1000);
    ls_health_poll_result(0, t + 30000); /* keeps the first failure time */
    ls_health_snapshot(&h);
    assert_int_equal(ls_health_check(&h, t + 60000, 60000, why, sizeof(why)), 1);
    assert_int_equal(ls_health_check(&h, t + 62000, 60000, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "source"));
    ls_health_poll_result(1, t + 63000);

    /* one sink failing is not enough; both failing past the threshold is */
    ls_health_sink_result("a", 0, t + 63000);
    ls_health_snapshot(&h);
    assert_int_equal(ls_health_check(&h, t + 200000, 60000, why, sizeof(why)), 1);
    ls_health_sink_result("b", 0, t + 100000);
    ls_health_snapshot(&h);
    assert_int_equal(ls_health_check(&h, t + 150000, 60000, why, sizeof(why)), 1);
    assert_int_equal(ls_health_check(&h, t + 170000, 60000, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "every sink"));
    ls_health_sink_result("b", 1, t + 171000);
    ls_health_snapshot(&h);
    assert_int_equal(ls_health_check(&h, t + 172000, 60000, why, sizeof(why)), 1);
    ls_health_reset();
}

/* LEADSYNC_METRICS_ADDR: host:port, :port, port, [v6]:port; a bracket left
 * in the host is refused (it names no address and cannot be written back). */
static void test_ls_metrics__listen_addr(void **state)
{
    static const char *const bad[] = {"",          "127.0.0.1:", "host:90x",  "localhost:65536",
                                      "[::1]9090", "[::1",       "[[::1]:80", "a]:80",
                                      "[a[b]:80"};
    char host[64];
    int port;
    size_t i;

    (void)state;
    assert_int_equal(ls_http_parse_addr("127.0.0.1:9090", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9090);
    assert_int_equal(ls_http_parse_addr("[::1]:65535", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 65535);
    assert_int_equal(ls_http_parse_addr(":0", host, sizeof(host), &port), 0);
    assert_string_equal(host, "");
    assert_int_equal(port, 0);
    assert_int_equal(ls_http_parse_addr("9090", host, sizeof(host), &port), 0);
    assert_string_equal(host, "");
    assert_int_equal(ls_http_parse_addr("a.example.com:1", host, 8, &port), LS_ECONFIG);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ls_http_parse_addr(bad[i], host, sizeof(host), &port), LS_ECONFIG);
        assert_string_equal(host, "");
        assert_int_equal(port, 0);
    }
    /* a bare IPv6 address is ambiguous: the message says what to write */
    assert_int_equal(ls_http_parse_addr("::1:9090", host, sizeof(host), &port), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "write [::1]:9090"));
    assert_int_equal(ls_http_parse_addr("fe80::1:80", host, sizeof(host), &port), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "write [fe80::1]:80"));
    assert_int_equal(ls_http_parse_addr(":::9090", host, sizeof(host), &port), LS_ECONFIG);
    assert_string_equal(host, "");
    assert_int_equal(port, 0);
}

/* A handle updates the standard metric of that name in the default registry. */
static void test_ls_metrics__handles(void **state)
{
    struct ls_metrics *m = ls_metrics_default();
    const char *lab[] = {"sink", "handles", NULL};
    double before = ls_metrics_get(m, "leadsync_rows_read_total", NULL);

    (void)state;
    ls_metric_inc(LS_M_ROWS_READ, NULL, 3);
    assert_true(ls_metrics_get(m, "leadsync_rows_read_total", NULL) == before + 3);
    ls_metric_set(LS_M_SINK_API_LIMIT, lab, 15000);
    assert_true(ls_metrics_get(m, "leadsync_sink_api_limit", lab) == 15000);
    assert_true(ls_metrics_get(m, "leadsync_sink_api_usage", lab) == 0);
    ls_metric_observe(LS_M_SINK_REQUEST_DURATION, lab, 0.2);
    ls_metric_observe(LS_M_SINK_REQUEST_DURATION, lab, 0.3);
    assert_true(ls_metrics_get(m, "leadsync_sink_request_duration_seconds", lab) == 2);
    ls_metric_inc(LS_M_LEADS_DEAD, lab, -1); /* a counter never goes down */
    assert_true(ls_metrics_get(m, "leadsync_leads_dead_total", lab) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_metrics__labels_escaped),
        cmocka_unit_test(test_ls_metrics__values),
        cmocka_unit_test(test_ls_metrics__text_format),
        cmocka_unit_test(test_ls_metrics__standard_defined),
        cmocka_unit_test(test_ls_metrics__health),
        cmocka_unit_test(test_ls_metrics__handles),
        cmocka_unit_test(test_ls_metrics__listen_addr),
    };

    return lst_run_group(tests, NULL, NULL);
}
