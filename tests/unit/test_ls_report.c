/* test_ls_report.c - `leadsync report`: the figures against a seeded ledger,
 * the period's parsing, and the text and HTML renderers of those figures. */
#include "ls_test.h"

#include "ls_ledger.h"
#include "ls_report.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fix {
    char *dir;
    struct ls_ledger *l;
    json_t *r;
};

static void row(struct ls_ledger *l, const char *rk, const char *ts, const char *lead,
                const char *offer, const char *source, const char *action, int stage,
                const char *country, int is_test)
{
    struct ls_row_facts f = {offer, source, action, stage, country, is_test};

    assert_int_equal(ls_ledger_row_put(l, "pk", rk, "hash", ts, lead, &f, 1), 0);
}

/*
 * November 2026. Offer o1: A interest then active, B interest then trial,
 * C interest, F active (its interest row is in October: not new). Offer o2:
 * D active (portal), E do-not-contact only. G a validation lead, H after
 * the period.
 */
static void seed(struct ls_ledger *l)
{
    row(l, "a1", "2026-11-02T10:00:00.1234567Z", "A", "o1", "SPZA", "PLT", 1, "US", 0);
    row(l, "a2", "2026-11-05T10:00:00.0000000Z", "A", "o1", "SPZA", "INS", 3, "US", 0);
    row(l, "b1", "2026-11-02T23:59:59.9999999Z", "B", "o1", "AzureMarketplace", "PLT", 1, "DE", 0);
    row(l, "b2", "2026-11-03T08:00:00.0000000Z", "B", "o1", "AzureMarketplace", "StartTestDrive", 2,
        "DE", 0);
    row(l, "c1", "2026-11-10T00:00:00.0000000Z", "C", "o1", "SPZA", "PLT", 1, "US", 0);
    row(l, "d1", "2026-11-10T12:00:00.0000000Z", "D", "o2", "AzurePortal", "Create", 3, "", 0);
    row(l, "e1", "2026-11-12T12:00:00.0000000Z", "E", "o2", "SPZA", "DNC", 4, "US", 0);
    row(l, "f0", "2026-10-20T12:00:00.0000000Z", "F", "o1", "SPZA", "PLT", 1, "FR", 0);
    row(l, "f1", "2026-11-03T12:00:00.0000000Z", "F", "o1", "SPZA", "INS", 3, "FR", 0);
    row(l, "g1", "2026-11-04T12:00:00.0000000Z", "G", "o1", "SPZA", "PLT", 1, "US", 1);
    row(l, "h1", "2026-12-05T12:00:00.0000000Z", "H", "o1", "SPZA", "PLT", 1, "US", 0);
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    struct ls_ledger_opts o = {0};
    struct ls_report_period p;
    char *path;
    int64_t id;
    struct ls_delivery *d = NULL;
    size_t n = 0;

    assert_non_null(f);
    f->dir = lst_tmpdir();
    path = ls_xasprintf("%s/ledger.db", f->dir);
    o.path = path;
    assert_int_equal(ls_ledger_open(&o, &f->l), 0);
    seed(f->l);
    assert_int_equal(ls_ledger_enqueue(f->l, "webhook", "A", "d1", "{}", 0, 1), 0);
    assert_int_equal(ls_ledger_enqueue(f->l, "webhook", "B", "d2", "{}", 0, 1), 0);
    assert_int_equal(ls_ledger_pending(f->l, "webhook", 10, 10, &d, &n), 0);
    assert_int_equal(n, 2);
    id = d[0].id;
    ls_deliveries_free(d, n);
    assert_int_equal(ls_ledger_mark_delivered(f->l, id, 200, 2), 0);
    assert_int_equal(ls_report_period("2026-11-01", "2026-11-30", 0, &p), 0);
    assert_int_equal(ls_report_build(f->l, &p, &f->r), 0);
    free(path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;

    json_decref(f->r);
    ls_ledger_close(f->l);
    lst_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static long long num(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void test_totals(void **state)
{
    json_t *r = ((struct fix *)*state)->r;

    assert_string_equal(str(r, "schema"), "leadsync.report/1");
    assert_int_equal(num(r, "leads"), 6); /* A B C D E F: not G (validation), not H (December) */
    assert_int_equal(num(r, "rows"), 8);
    assert_int_equal(num(r, "doNotContact"), 1);
    assert_int_equal(num(r, "validation"), 1);
}

static void test_breakdowns(void **state)
{
    json_t *r = ((struct fix *)*state)->r;
    json_t *off = json_object_get(r, "byOffer"), *src = json_object_get(r, "bySource");
    json_t *cty = json_object_get(r, "byCountry");

    assert_int_equal(json_array_size(off), 2);
    assert_string_equal(str(json_array_get(off, 0), "offer"), "o1");
    assert_int_equal(num(json_array_get(off, 0), "leads"), 4);
    assert_int_equal(num(json_array_get(off, 1), "leads"), 2);
    assert_int_equal(json_array_size(src), 3);
    assert_string_equal(str(json_array_get(src, 0), "source"), "SPZA");
    assert_int_equal(num(json_array_get(src, 0), "leads"), 4);
    assert_string_equal(str(json_array_get(src, 1), "source"), "AzureMarketplace");
    assert_string_equal(str(json_array_get(src, 2), "source"), "AzurePortal");
    assert_int_equal(json_array_size(cty), 4);
    assert_string_equal(str(json_array_get(cty, 0), "country"), "US");
    assert_int_equal(num(json_array_get(cty, 0), "leads"), 3);
    assert_string_equal(str(json_array_get(cty, 1), "country"), ""); /* unknown */
}

static void test_funnel(void **state)
{
    json_t *fu = json_object_get(((struct fix *)*state)->r, "funnel");
    json_t *o1 = json_array_get(fu, 0), *o2 = json_array_get(fu, 1);

    assert_int_equal(json_array_size(fu), 2);
    assert_string_equal(str(o1, "offer"), "o1");
    assert_int_equal(num(o1, "initialInterest"), 4);
    assert_int_equal(num(o1, "trial"), 3);
    assert_int_equal(num(o1, "active"), 2);
    assert_true(json_real_value(json_object_get(o1, "interestToTrial")) == 0.75);
    assert_true(json_real_value(json_object_get(o1, "trialToActive")) == 0.6667);
    assert_true(json_real_value(json_object_get(o1, "interestToActive")) == 0.5);
    /* E reached no funnel stage (do-not-contact only) */
    assert_int_equal(num(o2, "initialInterest"), 1);
    assert_int_equal(num(o2, "active"), 1);
}

static void test_new_leads_per_day(void **state)
{
    json_t *nl = json_object_get(((struct fix *)*state)->r, "newLeads");
    json_t *s = json_object_get(nl, "series");
    long long sum = 0;

    assert_string_equal(str(nl, "bucket"), "day");
    assert_int_equal(json_array_size(s), 30);
    assert_string_equal(str(json_array_get(s, 0), "start"), "2026-11-01");
    assert_string_equal(str(json_array_get(s, 29), "start"), "2026-11-30");
    assert_int_equal(num(json_array_get(s, 0), "leads"), 0);
    assert_int_equal(num(json_array_get(s, 1), "leads"), 2);  /* A and B */
    assert_int_equal(num(json_array_get(s, 9), "leads"), 2);  /* C and D */
    assert_int_equal(num(json_array_get(s, 11), "leads"), 1); /* E */
    for (size_t i = 0; i < json_array_size(s); i++)
        sum += num(json_array_get(s, i), "leads");
    assert_int_equal(sum, 5); /* F's first row is in October */
}

static void test_weeks_for_long_periods(void **state)
{
    struct fix *f = *state;
    struct ls_report_period p;
    json_t *r = NULL, *s;
    long long sum = 0;

    assert_int_equal(ls_report_period("2026-09-01", "2026-12-31", 0, &p), 0);
    assert_int_equal(ls_report_build(f->l, &p, &r), 0);
    s = json_object_get(json_object_get(r, "newLeads"), "series");
    assert_string_equal(str(json_object_get(r, "newLeads"), "bucket"), "week");
    assert_string_equal(str(json_array_get(s, 0), "start"), "2026-08-31"); /* a Monday */
    for (size_t i = 0; i < json_array_size(s); i++)
        sum += num(json_array_get(s, i), "leads");
    assert_int_equal(sum, 7); /* A B C D E F H */
    json_decref(r);
}

static void test_sinks(void **state)
{
    json_t *s = json_object_get(((struct fix *)*state)->r, "sinks");

    assert_int_equal(json_array_size(s), 1);
    assert_string_equal(str(json_array_get(s, 0), "sink"), "webhook");
    assert_int_equal(num(json_array_get(s, 0), "delivered"), 1);
    assert_int_equal(num(json_array_get(s, 0), "pending"), 1);
    assert_int_equal(num(json_array_get(s, 0), "dead"), 0);
}

static void test_period(void **state)
{
    struct ls_report_period p;

    (void)state;
    assert_int_equal(ls_report_period(NULL, NULL, 1764547200, &p), 0); /* 2025-12-01 */
    assert_string_equal(p.until, "2025-12-01T00:00:00.0000000Z");
    assert_string_equal(p.since, "2025-11-01T00:00:00.0000000Z");
    assert_int_equal(ls_report_period("2026-11-01T10:20:30.5Z", "2026-11-02T00:00:00Z", 0, &p), 0);
    assert_string_equal(p.since, "2026-11-01T10:20:30.0000000Z");
    assert_string_equal(p.until, "2026-11-02T00:00:00.0000000Z");
    assert_int_equal(ls_report_period("2026-13-01", NULL, 0, &p), LS_EUSAGE);
    assert_int_equal(ls_report_period("yesterday", NULL, 0, &p), LS_EUSAGE);
    assert_int_equal(ls_report_period(NULL, "2026-11-01T00:00:00", 0, &p), LS_EUSAGE);
    assert_int_equal(ls_report_period("2026-11-02", "2026-11-01", 0, &p), LS_EUSAGE);
}

/* Renders into a string. */
static char *render(const json_t *r, int html)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    if (html)
        ls_report_html(r, f);
    else
        ls_report_text(r, f);
    fclose(f);
    return buf;
}

static void test_text(void **state)
{
    char *t = render(((struct fix *)*state)->r, 0);

    assert_non_null(strstr(t, "Funnel per offer"));
    assert_non_null(strstr(t, "75.0%"));
    assert_non_null(strstr(t, "66.7%"));
    assert_non_null(strstr(t, "2026-11-02      2"));
    assert_null(strstr(t, "2026-11-01      0")); /* days without new leads are left out */
    assert_non_null(strstr(t, "(unknown)"));
    free(t);
}

static void test_html(void **state)
{
    json_t *r = json_deep_copy(((struct fix *)*state)->r);
    char *h;

    /* an offer id is remote input: it is escaped, never markup */
    json_object_set_new(json_array_get(json_object_get(r, "byOffer"), 0), "offer",
                        json_string("<script>x</script>&"));
    h = render(r, 1);
    for (const char *id = "chart-funnel\0chart-new-leads\0chart-sources\0chart-countries\0"
                          "chart-offers\0";
         *id; id += strlen(id) + 1)
        assert_non_null(strstr(h, id));
    assert_null(strstr(h, "<script"));
    assert_non_null(strstr(h, "&lt;script&gt;x&lt;/script&gt;&amp;"));
    assert_null(strstr(h, "http://"));
    assert_null(strstr(h, "https://"));
    assert_non_null(strstr(h, "default-src 'none'"));
    free(h);
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_totals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_breakdowns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_funnel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_leads_per_day, setup, teardown),
        cmocka_unit_test_setup_teardown(test_weeks_for_long_periods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sinks, setup, teardown),
        cmocka_unit_test(test_period),
        cmocka_unit_test_setup_teardown(test_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_html, setup, teardown),
    };
    return lst_run_group(tests, NULL, NULL);
}
