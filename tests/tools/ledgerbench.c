/*
 * ledgerbench.c - the ledger's cost per row at any scale, without a table
 * service: feeds N synthetic rows through the ledger calls a sync makes
 * (worker/ls_sync.c, worker/ls_inline.c) and, for the webhook path, the
 * delivery engine's (worker/ls_deliver.c), into a fresh ledger, and reports
 * the CPU of every slice of rows, so the cost of the last rows of a large
 * ledger compares with the first. A benchmark tool; never run by the tests.
 *
 *   leadsync-ledgerbench LEDGER ROWS [jsonl|webhook] [SLICE]
 *
 * jsonl:   per page of 1,000 rows, one transaction: for each row the row's
 *          look-up, its lead's look-up and upsert, the row's upsert, and the
 *          inline sink's counter every 256 rows (the JSONL run --once).
 * webhook: the same sync with one outbox delivery per row (enqueue with the
 *          lead body), then delivery rounds of 200: pending, delivered
 *          before?, marked delivered in one transaction per round.
 * Rows come a page at a time, each page one partition in RowKey order (a
 * random GUID), processed in a shuffled order (the page's Timestamp sort);
 * every lead is new (a random 64-bit lead id), as in a first catch-up.
 */
#include "ls_ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define PAGE         1000
#define INLINE_CHUNK 256
#define ROUND        200

struct row {
    char pk[24], rk[40], lead[17], hash[65], ts[48], did[41];
};

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static int rk_cmp(const void *a, const void *b)
{
    return strcmp(((const struct row *)a)->rk, ((const struct row *)b)->rk);
}

/* Page p's rows: one partition, RowKeys sorted, then shuffled (Timestamp order). */
static void make_page(long p, struct row *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t k = mix64((uint64_t)p * PAGE + i + 1), h = mix64(k ^ 0x9e3779b97f4a7c15ULL);

        snprintf(r[i].pk, sizeof(r[i].pk), "%ld:2F%ld:2F2026", 1 + p / 28 % 12, 1 + p % 28);
        snprintf(r[i].rk, sizeof(r[i].rk), "%08llx-%04llx-4%03llx-%012llx",
                 (unsigned long long)(k >> 32), (unsigned long long)((k >> 16) & 0xffff),
                 (unsigned long long)(k & 0xfff), (unsigned long long)(h & 0xffffffffffffULL));
        snprintf(r[i].lead, sizeof(r[i].lead), "%016" PRIx64, mix64(h));
        snprintf(r[i].hash, sizeof(r[i].hash),
                 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, h, mix64(h + 1),
                 mix64(h + 2), mix64(h + 3));
        snprintf(r[i].did, sizeof(r[i].did), "%016" PRIx64 "%016" PRIx64, mix64(h + 4),
                 mix64(h + 5));
    }
    qsort(r, n, sizeof(*r), rk_cmp);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(mix64((uint64_t)p * 7919 + i) % i);
        struct row t = r[i - 1];

        r[i - 1] = r[j];
        r[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        snprintf(r[i].ts, sizeof(r[i].ts), "2026-12-01T%02ld:%02ld:%02ld.%07zuZ", p / 3600 % 24,
                 p / 60 % 60, p % 60, i % 10000000);
}

static int sync_row(struct ls_ledger *l, struct row *r, int webhook, const char *payload,
                    int64_t now)
{
    struct ls_ledger_version newest = {0};
    struct ls_ledger_version mine = {r->ts, r->ts, r->pk, r->rk};
    struct ls_row_facts f = {"contoso.app", "AzureMarketplace", "Create", 3, "US", 0};
    char old[65];
    int found, stage, dnc, lead_found;
    int rc;

    rc = ls_ledger_row_get(l, r->pk, r->rk, old, &found);
    if (!rc)
        rc = ls_ledger_lead_get(l, r->lead, &stage, &dnc, &newest, &lead_found);
    if (!rc)
        rc = ls_ledger_lead_put(l, r->lead, 3, 0, &mine, now);
    if (!rc && webhook)
        rc = ls_ledger_enqueue(l, "hook", r->lead, r->did, payload, LS_ENQUEUE_COALESCE, now);
    if (!rc)
        rc = ls_ledger_row_put(l, r->pk, r->rk, r->hash, r->ts, r->lead, &f, now);
    ls_ledger_version_free(&newest);
    return rc;
}

static int sync_page(struct ls_ledger *l, struct row *r, size_t n, int webhook, const char *payload,
                     int64_t now)
{
    int rc = ls_ledger_begin(l);

    for (size_t i = 0; i < n && !rc; i++) {
        rc = sync_row(l, &r[i], webhook, payload, now);
        if (!rc && !webhook && (i + 1) % INLINE_CHUNK == 0)
            rc = ls_ledger_inline_delivered(l, "jsonl", INLINE_CHUNK);
    }
    if (!rc && !webhook)
        rc = ls_ledger_inline_delivered(l, "jsonl", (int64_t)(n % INLINE_CHUNK));
    if (!rc)
        return ls_ledger_commit(l);
    ls_ledger_rollback(l);
    return rc;
}

/* One delivery round: 0 and *n how many were due. */
static int deliver_round(struct ls_ledger *l, int64_t now, size_t *n)
{
    struct ls_delivery *d = NULL;
    int rc, seen;

    rc = ls_ledger_pending(l, "hook", now, ROUND, &d, n);
    for (size_t i = 0; i < *n && !rc; i++)
        rc = ls_ledger_sink_lead_delivered(l, "hook", d[i].lead_id, &seen);
    if (!rc && *n)
        rc = ls_ledger_begin(l);
    for (size_t i = 0; i < *n && !rc; i++)
        rc = ls_ledger_mark_delivered(l, d[i].id, 204, now);
    if (!rc && *n)
        rc = ls_ledger_commit(l);
    ls_deliveries_free(d, *n);
    return rc;
}

static double cpu_s(void)
{
    struct rusage u;

    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
           (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

static long long file_size(const char *path, const char *suffix)
{
    char p[4096];
    struct stat sb;

    snprintf(p, sizeof(p), "%s%s", path, suffix);
    return stat(p, &sb) == 0 ? (long long)sb.st_size : 0;
}

int main(int argc, char **argv)
{
    struct ls_ledger_opts o = {0};
    struct ls_ledger *l = NULL;
    struct row *page = calloc(PAGE, sizeof(*page));
    char payload[700];
    long rows, slice, done = 0, delivered = 0;
    int webhook, rc;
    double t0, t;

    if (argc < 3 || !page) {
        fprintf(stderr, "usage: leadsync-ledgerbench LEDGER ROWS [jsonl|webhook] [SLICE]\n");
        return 64;
    }
    rows = strtol(argv[2], NULL, 10);
    webhook = argc > 3 && strcmp(argv[3], "webhook") == 0;
    slice = argc > 4 ? strtol(argv[4], NULL, 10) : 20000;
    memset(payload, 'x', sizeof(payload) - 1);
    payload[sizeof(payload) - 1] = '\0';
    o.path = argv[1];
    o.wal = 1;
    rc = ls_ledger_open(&o, &l);
    t0 = t = cpu_s();
    for (long p = 0; !rc && done < rows; p++) {
        size_t n = rows - done < PAGE ? (size_t)(rows - done) : PAGE;

        make_page(p, page, n);
        rc = sync_page(l, page, n, webhook, payload, 1000 + p);
        done += (long)n;
        if (!webhook && (done % slice == 0 || done == rows)) {
            printf(
                "rows %ld: %.1f us/row (slice), %.1f us/row (all), ledger %lld KiB, wal %lld KiB\n",
                done, (cpu_s() - t) * 1e6 / (double)slice, (cpu_s() - t0) * 1e6 / (double)done,
                file_size(o.path, "") / 1024, file_size(o.path, "-wal") / 1024);
            t = cpu_s();
        }
    }
    for (size_t n = 1; !rc && webhook && n > 0; delivered += (long)n)
        rc = deliver_round(l, 1000000, &n);
    if (webhook && !rc)
        printf("rows %ld, delivered %ld: %.1f us/row, ledger %lld KiB\n", done, delivered,
               (cpu_s() - t0) * 1e6 / (double)done, file_size(o.path, "") / 1024);
    if (rc)
        fprintf(stderr, "leadsync-ledgerbench: %s\n", ls_error_last());
    ls_ledger_close(l);
    free(page);
    return rc ? 1 : 0;
}
