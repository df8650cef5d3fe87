/* ls_ledger_report.c - the ledger's figures for `leadsync report`: counts
 * of leads over the rows' facts (migration 006) in a period of row
 * Timestamps, never a personal field. One-shot queries, prepared per call.
 * See ls_ledger.h. */
#include "ls_ledger_int.h"

#include <stdlib.h>

/* Real leads of the period: validation leads are counted apart. */
#define IN_PERIOD " timestamp >= :since AND timestamp < :until"
#define REAL      " AND coalesce(is_test, 0) = 0"

/* Each query returns (key, n0[, n1, n2]) rows; keys are never personal. */
static const char *const report_sql[] = {
    [LS_REPORT_TOTALS] =
        "SELECT 'leads', count(DISTINCT lead_id), count(*) FROM rows WHERE" IN_PERIOD REAL
        " UNION ALL SELECT 'doNotContact', count(DISTINCT lead_id), count(*) FROM rows "
        "WHERE" IN_PERIOD REAL " AND stage = 4"
        " UNION ALL SELECT 'validation', count(DISTINCT lead_id), count(*) FROM rows "
        "WHERE" IN_PERIOD " AND is_test = 1",
    [LS_REPORT_BY_OFFER] = "SELECT coalesce(offer_id, ''), count(DISTINCT lead_id) FROM rows"
                           " WHERE" IN_PERIOD REAL " GROUP BY 1 ORDER BY 2 DESC, 1",
    [LS_REPORT_BY_SOURCE] = "SELECT coalesce(source, ''), count(DISTINCT lead_id) FROM rows"
                            " WHERE" IN_PERIOD REAL " GROUP BY 1 ORDER BY 2 DESC, 1",
    [LS_REPORT_BY_COUNTRY] = "SELECT coalesce(country, ''), count(DISTINCT lead_id) FROM rows"
                             " WHERE" IN_PERIOD REAL " GROUP BY 1 ORDER BY 2 DESC, 1",
    /* Per offer: the leads that reached at least each stage in the period. */
    [LS_REPORT_FUNNEL] = "SELECT offer, sum(top >= 1), sum(top >= 2), sum(top >= 3) FROM"
                         " (SELECT coalesce(offer_id, '') AS offer, lead_id,"
                         "   max(CASE WHEN stage BETWEEN 1 AND 3 THEN stage ELSE 0 END) AS top"
                         "   FROM rows WHERE" IN_PERIOD REAL " GROUP BY offer, lead_id)"
                         " GROUP BY offer ORDER BY 2 DESC, 1",
    /* New leads: a lead counts on the day of its first row ever. */
    [LS_REPORT_NEW_PER_DAY] = "SELECT substr(first, 1, 10), count(*) FROM"
                              " (SELECT lead_id, min(timestamp) AS first FROM rows"
                              "   WHERE coalesce(is_test, 0) = 0 GROUP BY lead_id)"
                              " WHERE first >= :since AND first < :until GROUP BY 1 ORDER BY 1",
};

void ls_ledger_counts_free(struct ls_ledger_count *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        free(c[i].key);
    free(c);
}

static int bind_period(struct ls_ledger *l, sqlite3_stmt *st, const char *since, const char *until)
{
    int err = ledger_bind_text(l, st, ":since", since);

    if (!err)
        err = ledger_bind_text(l, st, ":until", until);
    return err;
}

int ls_ledger_report(struct ls_ledger *l, enum ls_report_query q, const char *since,
                     const char *until, struct ls_ledger_count **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct ls_ledger_count *c = NULL;
    size_t len = 0, cap = 0;
    int rc, err, cols;

    *out = NULL;
    *n = 0;
    rc = sqlite3_prepare_v2(l->db, report_sql[q], -1, &st, NULL);
    if (rc != SQLITE_OK)
        return ledger_db_err(l, rc, "preparing a report query");
    err = bind_period(l, st, since, until);
    cols = sqlite3_column_count(st);
    while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            c = ls_xrealloc(c, cap * sizeof(*c));
        }
        c[len].key = ledger_col_strdup(st, 0);
        if (!c[len].key)
            c[len].key = ls_xstrdup("");
        for (int i = 0; i < 3; i++)
            c[len].n[i] = i + 1 < cols ? sqlite3_column_int64(st, i + 1) : 0;
        len++;
    }
    if (!err && rc != SQLITE_DONE)
        err = ledger_db_err(l, rc, "reading report figures");
    sqlite3_finalize(st);
    if (err) {
        ls_ledger_counts_free(c, len);
        return err;
    }
    *out = c;
    *n = len;
    return 0;
}
