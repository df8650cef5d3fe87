/*
 * parsefloor.c - leadsync-parsefloor: the CPU that jansson alone needs to
 * parse the query pages of a table, for the benchmarks.
 *
 * Why this exists: the performance targets compare leadsync's CPU with the
 * official SDKs' bare pulls. Any pipeline built on jansson must at least
 * load every page body and every entity's CustomerInfo text; this tool
 * measures that floor on the same rows, so the benchmark table shows it next
 * to the contenders.
 *
 * It fetches every page of the table the way leadsync queries it ($top =
 * page size, minimal metadata, all continuation pages) and keeps the raw
 * response bodies. Then, with the process CPU clock only (no HTTP in it):
 *   parse     json_loadb of each body, a walk over `value` and every
 *             property of every entity, json_decref
 *   parse_ci  the same plus json_loadb of each entity's CustomerInfo string
 * Each is repeated --reps times; the minimum is printed as one line:
 *   rows=N pages=P bytes=B parse_s=S parse_ci_s=S
 */
#include "azt.h"
#include "tool_cli.h"
#include "internal/azt_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TABLE     "MarketplaceLeads"
#define DEFAULT_PAGE_SIZE 1000
#define DEFAULT_REPS      3
#define MAX_REPS          100

struct floor_opts {
    const char *conn_string;
    const char *table;
    long page_size;
    long reps;
};

/* The raw response bodies, in query order. */
struct pages {
    char **body;
    size_t *len;
    size_t n;
    size_t cap;
    size_t bytes;
};

/* What one parse pass saw; compared across passes. */
struct pass {
    size_t rows;
    size_t props;
    size_t ci_parsed;
    size_t ci_failed;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: leadsync-parsefloor [--connection-string S] [--table T] [--page-size N]\n"
            "                           [--reps R]\n"
            "\n"
            "Reads every page of a table as leadsync queries it (minimal metadata, $top N,\n"
            "all continuation pages) and keeps the response bodies. Then measures the CPU\n"
            "(process clock, no HTTP) of parsing them with jansson: parse_s loads each page\n"
            "and walks every property of every entity; parse_ci_s also loads each entity's\n"
            "CustomerInfo JSON text. Each is run R times; the minimum is printed:\n"
            "  rows=N pages=P bytes=B parse_s=S parse_ci_s=S\n"
            "\n"
            "options:\n"
            "  --connection-string S  default $LEADSYNC_CONNECTION_STRING, else\n"
            "                         $AZURE_STORAGE_CONNECTION_STRING\n"
            "  --table T              default $LEADSYNC_TABLE, else " DEFAULT_TABLE "\n"
            "  --page-size N          rows per page, 1..1000 (default %d)\n"
            "  --reps R               parse repetitions, 1..%d (default %d)\n"
            "  -h, --help             this text\n"
            "\n"
            "exit: 0 done, 64 usage, 69 service unreachable, 77 auth refused, 78 bad connection\n"
            "string, 1 any other failure.\n",
            DEFAULT_PAGE_SIZE, MAX_REPS, DEFAULT_REPS);
}

static int parse_args(int argc, char **argv, struct floor_opts *o)
{
    static const char *const with_value[] = {"--connection-string", "--table", "--page-size",
                                             "--reps"};
    int i;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        char name[32];

        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            exit(EXIT_OK);
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            fprintf(stderr, "leadsync-parsefloor: unexpected argument '%s'\n", arg);
            usage(stderr);
            return -1;
        }
        if (tool_option(argc, argv, &i, with_value, sizeof(with_value) / sizeof(with_value[0]),
                        name, sizeof(name), &val))
            return -1;
        if (strcmp(name, "--connection-string") == 0) {
            o->conn_string = val;
        } else if (strcmp(name, "--table") == 0) {
            o->table = val;
        } else if (strcmp(name, "--page-size") == 0) {
            if (tool_parse_long(name, val, 1, 1000, &o->page_size))
                return -1;
        } else if (strcmp(name, "--reps") == 0) {
            if (tool_parse_long(name, val, 1, MAX_REPS, &o->reps))
                return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Fetching                                                                  */

static void pages_free(struct pages *p)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        free(p->body[i]);
    free(p->body);
    free(p->len);
    memset(p, 0, sizeof(*p));
}

/* Appends a body (taking it over). */
static void pages_add(struct pages *p, char *body, size_t len)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->body = azt_xrealloc(p->body, p->cap * sizeof(*p->body));
        p->len = azt_xrealloc(p->len, p->cap * sizeof(*p->len));
    }
    p->body[p->n] = body;
    p->len[p->n] = len;
    p->n++;
    p->bytes += len;
}

/* Every page of the table, raw: the query leadsync sends, through the
 * library's iterator without its parse. */
static int fetch_pages(struct azt_client *c, const struct floor_opts *o, struct pages *out)
{
    struct azt_query q;
    struct azt_iter *it = NULL;
    struct azt_buf body = {0};
    int rc;

    memset(&q, 0, sizeof(q));
    q.top = (int)o->page_size;
    q.metadata = AZT_META_MINIMAL;
    rc = azt_query_open(c, o->table, &q, &it);
    while (rc == AZT_OK && (rc = azt__iter_next_body(it, &body)) > 0) {
        size_t len = body.len;

        pages_add(out, body.ptr ? azt__buf_take(&body) : azt_xstrdup(""), len);
        rc = AZT_OK;
    }
    if (rc < 0)
        tool_report("query");
    azt__buf_dispose(&body);
    azt_iter_free(it);
    return rc < 0 ? rc : AZT_OK;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * One pass over every body: load, walk every property of every entity
 * (reading each value, so the walk is not optimized away), and with
 * customer_info also load the CustomerInfo text. Returns 0 or -1 (a page
 * that is not a query page).
 */
static int parse_all(const struct pages *p, int customer_info, struct pass *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < p->n; i++) {
        json_error_t jerr;
        json_t *root = json_loadb(p->body[i], p->len[i], JSON_ALLOW_NUL, &jerr);
        json_t *value = json_object_get(root, "value"), *entity;
        size_t k;

        if (!root) {
            fprintf(stderr, "leadsync-parsefloor: page %zu is not JSON (line %d column %d)\n",
                    i + 1, jerr.line, jerr.column);
            return -1;
        }
        if (!json_is_array(value)) {
            fprintf(stderr, "leadsync-parsefloor: page %zu has no \"value\" array\n", i + 1);
            json_decref(root);
            return -1;
        }
        json_array_foreach(value, k, entity)
        {
            const char *key;
            json_t *v, *ci;

            out->rows++;
            json_object_foreach(entity, key, v)
            {
                out->props += json_is_string(v) ? json_string_length(v) : 1;
            }
            if (customer_info && json_is_string(ci = json_object_get(entity, "CustomerInfo"))) {
                json_t *doc = json_loadb(json_string_value(ci), json_string_length(ci),
                                         JSON_DECODE_ANY, NULL);

                if (doc)
                    out->ci_parsed++;
                else
                    out->ci_failed++;
                json_decref(doc);
            }
        }
        json_decref(root);
    }
    return 0;
}

/* The minimum CPU seconds over reps passes; the passes must agree. */
static int measure(const struct pages *p, int customer_info, long reps, struct pass *seen,
                   double *best)
{
    struct pass pass;
    long r;

    *best = -1;
    for (r = 0; r < reps; r++) {
        double t0 = cpu_now(), t;

        if (parse_all(p, customer_info, &pass) != 0)
            return -1;
        t = cpu_now() - t0;
        if (*best < 0 || t < *best)
            *best = t;
        if (r > 0 && memcmp(&pass, seen, sizeof(pass)) != 0) {
            fprintf(stderr, "leadsync-parsefloor: two parses of the same pages disagree\n");
            return -1;
        }
        *seen = pass;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct floor_opts o;
    struct azt_client *client = NULL;
    struct pages pages;
    struct pass plain, with_ci;
    double parse_s = 0, parse_ci_s = 0;
    const char *env;
    int rc = AZT_OK, code = EXIT_OK;

    tool_init("leadsync-parsefloor");

    memset(&o, 0, sizeof(o));
    memset(&pages, 0, sizeof(pages));
    o.page_size = DEFAULT_PAGE_SIZE;
    o.reps = DEFAULT_REPS;
    if (parse_args(argc, argv, &o) != 0)
        return EXIT_USAGE;
    if (!o.conn_string && (env = getenv("LEADSYNC_CONNECTION_STRING")) && *env)
        o.conn_string = env;
    if (!o.conn_string && (env = getenv("AZURE_STORAGE_CONNECTION_STRING")) && *env)
        o.conn_string = env;
    if (!o.table && (env = getenv("LEADSYNC_TABLE")) && *env)
        o.table = env;
    if (!o.table)
        o.table = DEFAULT_TABLE;
    if (azt__table_name_check(o.table) != AZT_OK) {
        fprintf(stderr, "leadsync-parsefloor: invalid table name '%s'\n", o.table);
        return EXIT_USAGE;
    }
    if (!o.conn_string) {
        fprintf(stderr, "leadsync-parsefloor: no connection string: set "
                        "LEADSYNC_CONNECTION_STRING or pass --connection-string\n");
        return EXIT_CONFIG;
    }

    if ((rc = tool_open_client(o.conn_string, &client)) != AZT_OK)
        goto done;
    if ((rc = fetch_pages(client, &o, &pages)) != AZT_OK)
        goto done;
    if (measure(&pages, 0, o.reps, &plain, &parse_s) != 0 ||
        measure(&pages, 1, o.reps, &with_ci, &parse_ci_s) != 0) {
        code = EXIT_FAIL;
        goto done;
    }
    if (with_ci.ci_failed)
        fprintf(stderr, "leadsync-parsefloor: %zu CustomerInfo values are not JSON\n",
                with_ci.ci_failed);
    printf("rows=%zu pages=%zu bytes=%zu parse_s=%.3f parse_ci_s=%.3f\n", plain.rows, pages.n,
           pages.bytes, parse_s, parse_ci_s);
done:
    pages_free(&pages);
    azt_client_destroy(client);
    if (rc != AZT_OK)
        code = tool_exit_for(rc);
    return code;
}
