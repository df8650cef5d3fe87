/*
 * ls_report.c - `leadsync report`: the figures from the ledger into one
 * JSON object, and the text renderer (the HTML one is ls_report_html.c).
 * See ls_report.h for what each figure means.
 */
#include "ls_report.h"

#include "azt.h"

#include "ls_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DAY_S        86400
#define DEFAULT_DAYS 30
#define MAX_DAY_SPAN 62 /* longer periods count new leads per week */
#define MAX_SERIES   800

static void iso_bound(int64_t secs, char out[40])
{
    time_t t = (time_t)secs;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%S.0000000Z", &tm);
}

/* "YYYY-MM-DD" (*date_only = 1, midnight UTC) or "YYYY-MM-DDTHH:MM:SS[.fraction]Z". */
static int parse_when(const char *s, int64_t *secs, int *date_only)
{
    char full[24];

    *date_only = strlen(s) == 10;
    if (*date_only) {
        snprintf(full, sizeof(full), "%sT00:00:00Z", s);
        s = full;
    }
    return azt_iso8601_parse(s, strlen(s), secs, NULL) == AZT_OK ? 0 : -1;
}

int ls_report_period(const char *since, const char *until, int64_t now_s,
                     struct ls_report_period *out)
{
    int date_only = 0;

    memset(out, 0, sizeof(*out));
    out->until_s = now_s;
    if (until) {
        if (parse_when(until, &out->until_s, &date_only))
            return ls_error(LS_EUSAGE, "--until: '%s' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ",
                            until);
        if (date_only)
            out->until_s += DAY_S; /* the whole day */
    }
    out->since_s = out->until_s - (int64_t)DEFAULT_DAYS * DAY_S;
    if (since && parse_when(since, &out->since_s, &date_only))
        return ls_error(LS_EUSAGE, "--since: '%s' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ",
                        since);
    if (out->since_s >= out->until_s)
        return ls_error(LS_EUSAGE, "--since must be before --until");
    iso_bound(out->since_s, out->since);
    iso_bound(out->until_s, out->until);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Gathering                                                                  */

static json_t *rate(int64_t part, int64_t whole)
{
    if (whole <= 0)
        return json_null();
    return json_real((double)(int64_t)((double)part * 10000.0 / (double)whole + 0.5) / 10000.0);
}

/* [{"<name>": key, "leads": n}, ...] */
static json_t *count_list(const struct ls_ledger_count *c, size_t n, const char *name)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            a, json_pack("{s:s,s:I}", name, c[i].key, "leads", (json_int_t)c[i].n[0]));
    return a;
}

static json_t *funnel_list(const struct ls_ledger_count *c, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++) {
        int64_t in = c[i].n[0], tr = c[i].n[1], ac = c[i].n[2];

        json_array_append_new(a, json_pack("{s:s,s:I,s:I,s:I,s:o,s:o,s:o}", "offer", c[i].key,
                                           "initialInterest", (json_int_t)in, "trial",
                                           (json_int_t)tr, "active", (json_int_t)ac,
                                           "interestToTrial", rate(tr, in), "trialToActive",
                                           rate(ac, tr), "interestToActive", rate(ac, in)));
    }
    return a;
}

/* Monday 00:00 UTC of the week holding t. */
static int64_t week_start(int64_t t)
{
    int64_t day = t / DAY_S;     /* 1970-01-01 was a Thursday */
    int64_t dow = (day + 3) % 7; /* 0 = Monday */
    return (day - dow) * DAY_S;
}

/* Every day or week of the period, with zero where no lead was new. */
static json_t *new_leads(const struct ls_report_period *p, const struct ls_ledger_count *c,
                         size_t n)
{
    int weekly = p->until_s - p->since_s > (int64_t)MAX_DAY_SPAN * DAY_S;
    int64_t step = weekly ? 7 * DAY_S : DAY_S;
    int64_t t = weekly ? week_start(p->since_s) : p->since_s - p->since_s % DAY_S;
    json_t *series = json_array();
    size_t j = 0;
    char day[40];

    for (int k = 0; t < p->until_s && k < MAX_SERIES; t += step, k++) {
        int64_t sum = 0;

        for (; j < n; j++) {
            int64_t d;
            int date_only;

            if (parse_when(c[j].key, &d, &date_only) || d >= t + step)
                break;
            sum += c[j].n[0];
        }
        iso_bound(t, day);
        day[10] = '\0';
        json_array_append_new(series,
                              json_pack("{s:s,s:I}", "start", day, "leads", (json_int_t)sum));
    }
    return json_pack("{s:s,s:o}", "bucket", weekly ? "week" : "day", "series", series);
}

static json_t *sink_list(struct ls_ledger *l, int *err)
{
    struct ls_sink_stats *s = NULL;
    size_t n = 0;
    json_t *a = json_array();

    *err = ls_ledger_sink_stats(l, &s, &n);
    for (size_t i = 0; !*err && i < n; i++)
        json_array_append_new(a,
                              json_pack("{s:s,s:I,s:I,s:I}", "sink", s[i].sink, "delivered",
                                        (json_int_t)s[i].delivered, "pending",
                                        (json_int_t)s[i].pending, "dead", (json_int_t)s[i].dead));
    free(s);
    return a;
}

static int64_t total(const struct ls_ledger_count *c, size_t n, const char *key, int i)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(c[k].key, key) == 0)
            return c[k].n[i];
    return 0;
}

int ls_report_build(struct ls_ledger *l, const struct ls_report_period *p, json_t **out)
{
    struct ls_ledger_count *c[LS_REPORT_NEW_PER_DAY + 1] = {0};
    size_t n[LS_REPORT_NEW_PER_DAY + 1] = {0};
    json_t *r = NULL, *sinks = NULL;
    int err = 0;

    *out = NULL;
    for (int q = 0; !err && q <= LS_REPORT_NEW_PER_DAY; q++)
        err = ls_ledger_report(l, (enum ls_report_query)q, p->since, p->until, &c[q], &n[q]);
    if (!err)
        sinks = sink_list(l, &err);
    if (err)
        goto done;
    r = json_pack("{s:s,s:{s:s,s:s},s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "schema",
                  "leadsync.report/1", "period", "since", p->since, "until", p->until, "leads",
                  (json_int_t)total(c[0], n[0], "leads", 0), "rows",
                  (json_int_t)total(c[0], n[0], "leads", 1), "doNotContact",
                  (json_int_t)total(c[0], n[0], "doNotContact", 0), "validation",
                  (json_int_t)total(c[0], n[0], "validation", 0), "byOffer",
                  count_list(c[LS_REPORT_BY_OFFER], n[LS_REPORT_BY_OFFER], "offer"), "bySource",
                  count_list(c[LS_REPORT_BY_SOURCE], n[LS_REPORT_BY_SOURCE], "source"), "byCountry",
                  count_list(c[LS_REPORT_BY_COUNTRY], n[LS_REPORT_BY_COUNTRY], "country"), "funnel",
                  funnel_list(c[LS_REPORT_FUNNEL], n[LS_REPORT_FUNNEL]), "newLeads",
                  new_leads(p, c[LS_REPORT_NEW_PER_DAY], n[LS_REPORT_NEW_PER_DAY]), "sinks", sinks);
    sinks = NULL;
    if (!r)
        err = ls_error(LS_ENOMEM, "cannot build the report");
done:
    json_decref(sinks);
    for (int q = 0; q <= LS_REPORT_NEW_PER_DAY; q++)
        ls_ledger_counts_free(c[q], n[q]);
    *out = r;
    return err;
}

/* ------------------------------------------------------------------------ */
/* Text                                                                       */

static const char *key_or_unknown(const char *s)
{
    return s && *s ? s : "(unknown)";
}

static long long num(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static void text_rate(const json_t *v, char out[16])
{
    if (json_is_number(v))
        snprintf(out, 16, "%.1f%%", json_number_value(v) * 100.0);
    else
        snprintf(out, 16, "-");
}

/* A two-column table: name, leads. */
static void text_counts(FILE *f, const char *title, const json_t *a, const char *name)
{
    size_t i;
    json_t *e;

    fprintf(f, "\n%s\n", title);
    if (json_array_size(a) == 0)
        fprintf(f, "  (none)\n");
    json_array_foreach(a, i, e)
    {
        fprintf(f, "  %-40s %8lld\n", key_or_unknown(json_string_value(json_object_get(e, name))),
                num(e, "leads"));
    }
}

static void text_funnel(FILE *f, const json_t *a)
{
    char r1[16], r2[16], r3[16];
    size_t i;
    json_t *e;

    fprintf(f, "\nFunnel per offer (leads that reached each stage)\n");
    fprintf(f, "  %-32s %8s %8s %8s %8s %8s %8s\n", "offer", "interest", "trial", "active",
            "->trial", "->active", "overall");
    json_array_foreach(a, i, e)
    {
        text_rate(json_object_get(e, "interestToTrial"), r1);
        text_rate(json_object_get(e, "trialToActive"), r2);
        text_rate(json_object_get(e, "interestToActive"), r3);
        fprintf(f, "  %-32s %8lld %8lld %8lld %8s %8s %8s\n",
                key_or_unknown(json_string_value(json_object_get(e, "offer"))),
                num(e, "initialInterest"), num(e, "trial"), num(e, "active"), r1, r2, r3);
    }
}

static void text_series(FILE *f, const json_t *nl)
{
    const json_t *series = json_object_get(nl, "series");
    long long most = 0;
    size_t i;
    json_t *e;

    json_array_foreach(series, i, e)
    {
        if (num(e, "leads") > most)
            most = num(e, "leads");
    }
    fprintf(f, "\nNew leads per %s (those without any left out)\n",
            json_string_value(json_object_get(nl, "bucket")));
    json_array_foreach(series, i, e)
    {
        long long n = num(e, "leads");
        int bar = most ? (int)(n * 40 / most) : 0;

        if (n == 0)
            continue;
        fprintf(f, "  %s %6lld %.*s\n", json_string_value(json_object_get(e, "start")), n, bar,
                "########################################");
    }
}

void ls_report_text(const json_t *r, FILE *f)
{
    const json_t *period = json_object_get(r, "period");
    size_t i;
    json_t *e;

    fprintf(f, "leadsync report, %.10s to %.10s (Timestamp >= %s, < %s); counts only\n\n",
            json_string_value(json_object_get(period, "since")),
            json_string_value(json_object_get(period, "until")),
            json_string_value(json_object_get(period, "since")),
            json_string_value(json_object_get(period, "until")));
    fprintf(f, "  %-40s %8lld\n  %-40s %8lld\n  %-40s %8lld\n  %-40s %8lld\n", "leads",
            num(r, "leads"), "rows (row versions) of those leads", num(r, "rows"),
            "do-not-contact leads", num(r, "doNotContact"), "validation leads (not counted above)",
            num(r, "validation"));
    text_counts(f, "Leads per offer", json_object_get(r, "byOffer"), "offer");
    text_counts(f, "Leads per source", json_object_get(r, "bySource"), "source");
    text_funnel(f, json_object_get(r, "funnel"));
    text_series(f, json_object_get(r, "newLeads"));
    text_counts(f, "Leads per country", json_object_get(r, "byCountry"), "country");
    fprintf(f, "\nDeliveries per sink (all time)\n  %-40s %9s %8s %8s\n", "sink", "delivered",
            "pending", "dead");
    json_array_foreach(json_object_get(r, "sinks"), i, e)
    {
        fprintf(f, "  %-40s %9lld %8lld %8lld\n", json_string_value(json_object_get(e, "sink")),
                num(e, "delivered"), num(e, "pending"), num(e, "dead"));
    }
}

/* ------------------------------------------------------------------------ */
/* The command                                                                */

/* Writes the page to a new file beside path, then renames it over path. */
static int write_html(const json_t *r, const char *path)
{
    char *tmp = ls_xasprintf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int rc = 0;

    if (!f) {
        rc = ls_error(LS_EIO, "cannot write %s: %s", tmp, strerror(errno));
        goto done;
    }
    ls_report_html(r, f);
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0)
        rc = ls_error(LS_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && !rc)
        rc = ls_error(LS_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = ls_error(LS_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc)
        unlink(tmp);
done:
    free(tmp);
    return rc;
}

int ls_cmd_report(const struct ls_config *cfg, const struct ls_cmd_args *a, int *exit_code)
{
    struct ls_ledger_opts lo = {0};
    struct ls_ledger *l = NULL;
    struct ls_report_period p;
    json_t *r = NULL;
    char *text = NULL;
    int rc;

    *exit_code = LS_EXIT_OK;
    rc = ls_report_period(a->since, a->until, ls_now_ms() / 1000, &p);
    if (rc)
        goto done;
    lo.path = cfg->state;
    lo.readonly = 1; /* no lock, no writes: works beside a running daemon */
    rc = ls_ledger_open(&lo, &l);
    if (!rc)
        rc = ls_report_build(l, &p, &r);
    if (rc)
        goto done;
    if (a->html) {
        rc = write_html(r, a->html);
        if (!rc)
            printf("wrote the report for %.10s to %.10s to %s\n", p.since, p.until, a->html);
    } else if (a->json) {
        text = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (!text)
            rc = ls_error(LS_ENOMEM, "cannot serialise the report");
        else
            printf("%s\n", text);
    } else {
        ls_report_text(r, stdout);
    }
done:
    free(text);
    json_decref(r);
    ls_ledger_close(l);
    return rc;
}
