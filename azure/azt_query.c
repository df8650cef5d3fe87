/*
 * azt_query.c - Query Entities with continuation.
 *
 * Every page repeats the identical query ($filter, $select, $top) plus the
 * continuation tokens of the previous page. Pages may be short or empty and
 * still continue; only the absence of x-ms-continuation-NextPartitionKey ends
 * the query. The iterator advances only after a page was fully received and
 * parsed, so a failed azt_iter_next can simply be called again.
 */
#include "azt.h"
#include "internal/azt_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A server handing back the same continuation this many times in a row is
 * not making progress; stop instead of looping forever. */
#define AZT_MAX_SAME_TOKEN 20

struct azt_iter {
    struct azt_client *c;
    char *table;
    char *base_query; /* "?$filter=..&$select=..&$top=N", encoded */
    int metadata;
    char *next_pk;
    char *next_rk;
    int same_token;
    int done;
};

static int append_param(struct azt_buf *b, const char *name, const char *value)
{
    char *enc = NULL;
    int rc;

    rc = azt_url_encode(value, strlen(value), &enc);
    if (rc != AZT_OK)
        return rc;
    rc = azt__buf_appendf(b, "%c%s=%s", b->len ? '&' : '?', name, enc);
    free(enc);
    return rc;
}

int azt_query_open(struct azt_client *c, const char *table, const struct azt_query *q,
                   struct azt_iter **out)
{
    struct azt_iter *it = NULL;
    struct azt_buf b = {0};
    int top = 1000;
    int rc = AZT_OK;

    if (!out)
        return azt__error(AZT_EINVAL, "azt_query_open: out is NULL");
    *out = NULL;
    if (!c || !table)
        return azt__error(AZT_EINVAL, "azt_query_open: client and table are required");
    if (azt__table_name_check(table) != AZT_OK)
        return azt__error(AZT_EINVAL, "invalid table name");
    if (q) {
        if (q->top < 0 || q->top > 1000)
            return azt__error(AZT_EINVAL, "$top must be 1..1000 (got %d)", q->top);
        if (q->top > 0)
            top = q->top;
        if (q->metadata < AZT_META_NONE || q->metadata > AZT_META_FULL)
            return azt__error(AZT_EINVAL, "unknown metadata level");
    }
    if (q && q->filter && *q->filter && (rc = append_param(&b, "$filter", q->filter)) != AZT_OK)
        goto done;
    if (q && q->select && *q->select && (rc = append_param(&b, "$select", q->select)) != AZT_OK)
        goto done;
    if ((rc = azt__buf_appendf(&b, "%c$top=%d", b.len ? '&' : '?', top)) != AZT_OK)
        goto done;

    it = azt__xcalloc(1, sizeof(*it));
    it->c = c;
    it->table = azt__xstrdup(table);
    it->base_query = azt__buf_take(&b);
    it->metadata = q ? (int)q->metadata : AZT_META_NONE;
    *out = it;
    it = NULL;
done:
    azt__buf_dispose(&b);
    azt_iter_free(it);
    return rc;
}

static int same_str(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

int azt_iter_next(struct azt_iter *it, struct azt_page **page)
{
    struct azt_buf path = {0};
    struct azt__response resp;
    struct azt_page *p = NULL;
    char accept[80];
    char why[400];
    const char *headers[2];
    int rc;

    memset(&resp, 0, sizeof(resp));
    if (!page)
        return azt__error(AZT_EINVAL, "azt_iter_next: page is NULL");
    *page = NULL;
    if (!it)
        return azt__error(AZT_EINVAL, "azt_iter_next: iterator is NULL");
    if (it->done)
        return 0;

    if ((rc = azt__buf_appendf(&path, "/%s()%s", it->table, it->base_query)) != AZT_OK)
        goto done;
    if (it->next_pk && (rc = append_param(&path, "NextPartitionKey", it->next_pk)) != AZT_OK)
        goto done;
    if (it->next_rk && (rc = append_param(&path, "NextRowKey", it->next_rk)) != AZT_OK)
        goto done;
    snprintf(accept, sizeof(accept), "Accept: %s", azt__accept_for(it->metadata));
    headers[0] = accept;
    headers[1] = NULL;

    rc = azt__request(it->c, "GET", path.ptr, NULL, NULL, 0, headers, 0, &resp);
    if (rc != AZT_OK)
        goto done;
    /* the body is freed once loaded: it is not needed past the JSON */
    rc = azt__page_parse_body(&resp.body, &p);
    if (rc != AZT_OK) {
        snprintf(why, sizeof(why), "%s", azt_error_last());
        rc = azt__error(rc, "query %s page: %s (request id %s)", it->table, why,
                        resp.request_id ? resp.request_id : "none");
        goto done;
    }
    if (resp.next_rk && !resp.next_pk) {
        rc = azt__error(AZT_EPARSE, "query %s: NextRowKey without NextPartitionKey (request id %s)",
                        it->table, resp.request_id ? resp.request_id : "none");
        goto done;
    }
    if (resp.next_pk && it->next_pk && same_str(resp.next_pk, it->next_pk) &&
        same_str(resp.next_rk, it->next_rk)) {
        if (++it->same_token >= AZT_MAX_SAME_TOKEN) {
            rc = azt__error(AZT_EPARSE,
                            "query %s: the server returned the same continuation %d times",
                            it->table, it->same_token);
            goto done;
        }
    } else {
        it->same_token = 0;
    }

    /* the page is complete: advance */
    free(it->next_pk);
    free(it->next_rk);
    it->next_pk = resp.next_pk;
    it->next_rk = resp.next_pk ? resp.next_rk : NULL;
    if (!resp.next_pk)
        free(resp.next_rk);
    resp.next_pk = resp.next_rk = NULL;
    if (!it->next_pk)
        it->done = 1;

    p->next_partition_key = it->next_pk ? azt__xstrdup(it->next_pk) : NULL;
    p->next_row_key = it->next_rk ? azt__xstrdup(it->next_rk) : NULL;
    p->server_date = resp.date;
    p->request_id = resp.request_id;
    resp.date = resp.request_id = NULL;
    *page = p;
    p = NULL;
    rc = 1;
done:
    azt_page_free(p);
    azt__response_dispose(&resp);
    azt__buf_dispose(&path);
    return rc;
}

void azt_iter_free(struct azt_iter *it)
{
    if (!it)
        return;
    free(it->table);
    free(it->base_query);
    free(it->next_pk);
    free(it->next_rk);
    free(it);
}
