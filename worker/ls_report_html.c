/*
 * ls_report_html.c - `leadsync report --html FILE`: one self-contained page
 * from the report's JSON object (ls_report.h). Inline CSS and inline SVG
 * charts only: no scripts, fonts, images or anything fetched, so it opens
 * offline, on a phone (the charts scale with the page) and prints. Every
 * figure on the page comes from the same object as --json.
 *
 * Charts, each an <svg id="chart-..."> with a table of its figures:
 *   chart-funnel     per offer: initial interest, trial, active bars
 *   chart-new-leads  new leads per day or week
 *   chart-sources    leads per source
 *   chart-countries  leads per country (the 15 largest)
 */
#include "ls_report.h"

#include <string.h>

#define BAR_W      560 /* width of the longest horizontal bar */
#define LABEL_W    220
#define ROW_H      22
#define MAX_BARS   15
#define MAX_OFFERS 10

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static const char *label(const json_t *e, const char *key)
{
    const char *s = json_string_value(json_object_get(e, key));

    return s && *s ? s : "(unknown)";
}

static long long num(const json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static void pct(FILE *f, const json_t *v)
{
    if (json_is_number(v))
        fprintf(f, "%.1f%%", json_number_value(v) * 100.0);
    else
        fputs("&ndash;", f);
}

/* Horizontal bars: one row per entry, the largest as wide as BAR_W. */
static void hbars(FILE *f, const char *id, const char *title, const json_t *a, const char *key)
{
    size_t n = json_array_size(a) < MAX_BARS ? json_array_size(a) : MAX_BARS;
    long long most = 1;
    size_t i;

    for (i = 0; i < n; i++)
        if (num(json_array_get(a, i), "leads") > most)
            most = num(json_array_get(a, i), "leads");
    fprintf(f,
            "<section><h2>%s</h2>\n<svg id=\"%s\" viewBox=\"0 0 %d %zu\" role=\"img\" "
            "aria-label=\"%s\">\n",
            title, id, LABEL_W + BAR_W + 60, n * ROW_H + 4, title);
    for (i = 0; i < n; i++) {
        const json_t *e = json_array_get(a, i);
        long long v = num(e, "leads");

        fprintf(f, "<text x=\"%d\" y=\"%zu\" text-anchor=\"end\">", LABEL_W - 6, i * ROW_H + 16);
        esc(f, label(e, key));
        fprintf(f,
                "</text><rect class=\"bar\" x=\"%d\" y=\"%zu\" width=\"%lld\" height=\"%d\"/>"
                "<text x=\"%lld\" y=\"%zu\">%lld</text>\n",
                LABEL_W, i * ROW_H + 3, v * BAR_W / most, ROW_H - 6, LABEL_W + v * BAR_W / most + 4,
                i * ROW_H + 16, v);
    }
    fputs("</svg>\n<table><tr><th>", f);
    esc(f, key);
    fputs("</th><th>leads</th></tr>\n", f);
    for (i = 0; i < json_array_size(a); i++) {
        fputs("<tr><td>", f);
        esc(f, label(json_array_get(a, i), key));
        fprintf(f, "</td><td>%lld</td></tr>\n", num(json_array_get(a, i), "leads"));
    }
    fputs("</table></section>\n", f);
}

/* Per offer, three bars (interest, trial, active) scaled to the offer's interest. */
static void funnel(FILE *f, const json_t *a)
{
    static const char *const stage[] = {"initialInterest", "trial", "active"};
    static const char *const name[] = {"initial interest", "trial", "active"};
    size_t n = json_array_size(a) < MAX_OFFERS ? json_array_size(a) : MAX_OFFERS;
    size_t i, y = 0;

    fprintf(f,
            "<section><h2>Funnel per offer</h2>\n<svg id=\"chart-funnel\" viewBox=\"0 0 %d "
            "%zu\" role=\"img\" aria-label=\"Funnel per offer\">\n",
            LABEL_W + BAR_W + 60, n * ROW_H * 4 + 4);
    for (i = 0; i < n; i++, y += ROW_H) {
        const json_t *e = json_array_get(a, i);
        long long top = num(e, "initialInterest") > 0 ? num(e, "initialInterest") : 1;

        fprintf(f, "<text class=\"offer\" x=\"0\" y=\"%zu\">", y + 16);
        esc(f, label(e, "offer"));
        fputs("</text>\n", f);
        for (int s = 0; s < 3; s++) {
            long long v = num(e, stage[s]);

            y += ROW_H;
            fprintf(f,
                    "<text x=\"%d\" y=\"%zu\" text-anchor=\"end\">%s</text>"
                    "<rect class=\"bar s%d\" x=\"%d\" y=\"%zu\" width=\"%lld\" height=\"%d\"/>"
                    "<text x=\"%lld\" y=\"%zu\">%lld</text>\n",
                    LABEL_W - 6, y + 16, name[s], s, LABEL_W, y + 3, v * BAR_W / top, ROW_H - 6,
                    LABEL_W + v * BAR_W / top + 4, y + 16, v);
        }
    }
    fputs("</svg>\n<table><tr><th>offer</th><th>interest</th><th>trial</th><th>active</th>"
          "<th>&rarr;trial</th><th>&rarr;active</th><th>overall</th></tr>\n",
          f);
    for (i = 0; i < json_array_size(a); i++) {
        const json_t *e = json_array_get(a, i);

        fputs("<tr><td>", f);
        esc(f, label(e, "offer"));
        fprintf(f, "</td><td>%lld</td><td>%lld</td><td>%lld</td><td>", num(e, "initialInterest"),
                num(e, "trial"), num(e, "active"));
        pct(f, json_object_get(e, "interestToTrial"));
        fputs("</td><td>", f);
        pct(f, json_object_get(e, "trialToActive"));
        fputs("</td><td>", f);
        pct(f, json_object_get(e, "interestToActive"));
        fputs("</td></tr>\n", f);
    }
    fputs("</table></section>\n", f);
}

/* Vertical bars over time, 200 units high. */
static void over_time(FILE *f, const json_t *nl)
{
    const json_t *s = json_object_get(nl, "series");
    size_t n = json_array_size(s), i;
    long long most = 1;
    size_t w = n ? (BAR_W + LABEL_W) / n : 1;

    for (i = 0; i < n; i++)
        if (num(json_array_get(s, i), "leads") > most)
            most = num(json_array_get(s, i), "leads");
    fprintf(f,
            "<section><h2>New leads per %s</h2>\n<svg id=\"chart-new-leads\" viewBox=\"0 0 "
            "%zu 240\" role=\"img\" aria-label=\"New leads over time\">\n",
            json_string_value(json_object_get(nl, "bucket")), (w ? w : 1) * (n ? n : 1) + 40);
    fprintf(f,
            "<text x=\"0\" y=\"14\">%lld</text><line x1=\"0\" y1=\"220\" x2=\"%zu\" "
            "y2=\"220\" class=\"axis\"/>\n",
            most, w * n + 40);
    for (i = 0; i < n; i++) {
        const json_t *e = json_array_get(s, i);
        long long h = num(e, "leads") * 200 / most;

        fprintf(f,
                "<rect class=\"bar\" x=\"%zu\" y=\"%lld\" width=\"%zu\" height=\"%lld\">"
                "<title>%s: %lld</title></rect>\n",
                40 + i * w, 220 - h, w > 2 ? w - 1 : w, h,
                json_string_value(json_object_get(e, "start")), num(e, "leads"));
    }
    if (n)
        fprintf(f,
                "<text x=\"40\" y=\"236\">%s</text><text x=\"%zu\" y=\"236\" "
                "text-anchor=\"end\">%s</text>\n",
                json_string_value(json_object_get(json_array_get(s, 0), "start")), w * n + 40,
                json_string_value(json_object_get(json_array_get(s, n - 1), "start")));
    fputs("</svg></section>\n", f);
}

static const char css[] =
    "body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:60em;padding:1em;"
    "color:#1b1f24}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}"
    "svg{width:100%;height:auto;display:block}svg text{font-size:13px;fill:#1b1f24}"
    ".offer{font-weight:600}.bar{fill:#2f6fb3}.s1{fill:#4d9a6a}.s2{fill:#c27c1a}"
    ".axis{stroke:#888}table{border-collapse:collapse;margin:.6em 0;font-size:.9em}"
    "td,th{border-bottom:1px solid #ddd;padding:.2em .6em;text-align:right}"
    "td:first-child,th:first-child{text-align:left;word-break:break-all}"
    ".totals td:last-child{font-weight:600}"
    "@media print{body{max-width:none}section{break-inside:avoid}}";

static void totals(FILE *f, const json_t *r)
{
    const json_t *p = json_object_get(r, "period");

    fputs("<h1>leadsync report</h1>\n<p>Rows with a Timestamp from ", f);
    esc(f, json_string_value(json_object_get(p, "since")));
    fputs(" up to ", f);
    esc(f, json_string_value(json_object_get(p, "until")));
    fprintf(f,
            ". Counts only.</p>\n<table class=\"totals\">"
            "<tr><td>leads</td><td>%lld</td></tr><tr><td>rows of those leads</td><td>%lld"
            "</td></tr><tr><td>do-not-contact leads</td><td>%lld</td></tr>"
            "<tr><td>validation leads (not counted elsewhere)</td><td>%lld</td></tr>"
            "</table>\n",
            num(r, "leads"), num(r, "rows"), num(r, "doNotContact"), num(r, "validation"));
}

static void sinks(FILE *f, const json_t *a)
{
    size_t i;
    const json_t *e;

    fputs("<section><h2>Deliveries per sink (all time)</h2>\n<table><tr><th>sink</th>"
          "<th>delivered</th><th>pending</th><th>dead</th></tr>\n",
          f);
    for (i = 0; i < json_array_size(a); i++) {
        e = json_array_get(a, i);
        fputs("<tr><td>", f);
        esc(f, label(e, "sink"));
        fprintf(f, "</td><td>%lld</td><td>%lld</td><td>%lld</td></tr>\n", num(e, "delivered"),
                num(e, "pending"), num(e, "dead"));
    }
    fputs("</table></section>\n", f);
}

void ls_report_html(const json_t *r, FILE *f)
{
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'\">\n"
            "<title>leadsync report</title>\n<style>%s</style></head><body>\n",
            css);
    totals(f, r);
    funnel(f, json_object_get(r, "funnel"));
    over_time(f, json_object_get(r, "newLeads"));
    hbars(f, "chart-sources", "Leads per source", json_object_get(r, "bySource"), "source");
    hbars(f, "chart-countries", "Leads per country", json_object_get(r, "byCountry"), "country");
    hbars(f, "chart-offers", "Leads per offer", json_object_get(r, "byOffer"), "offer");
    sinks(f, json_object_get(r, "sinks"));
    fputs("</body></html>\n", f);
}
