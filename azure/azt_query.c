/*
 * azt_query.c - Query Entities with continuation.
 *
 * Every page repeats the identical query ($filter, $select, $top) plus the
 * continuation tokens of the previous page. Pages may be short or empty and
 * still continue; only the absence of x-ms-continuation-NextPartitionKey ends
 * the query. The iterator advances only after a page was fully received and
 * parsed, so a failed azt_iter_next can simply be called again.
 *
 * With prefetch, the request for page N+1 goes out on a helper thread as soon
 * as page N is handed to the caller, so the service's time and the caller's
 * work on a page overlap. Only the HTTP exchange runs there (the body is
 * parsed by the caller, as without prefetch), and a failed prefetch is
 * reported by the next azt_iter_next, whose retry is an ordinary request.
 */
#include "azt.h"
#include "internal/azt_int.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A server handing back the same continuation this many times in a row is
 * not making progress; stop instead of looping forever. */
#define AZT_MAX_SAME_TOKEN 20

struct azt_iter {
    struct azt_client *c;
    char *table;
    char *base_query; /* "?$filter=..&$select=..&", encoded; $top follows */
    int top;          /* halved after an answer over the size cap */
    int metadata;
    char *next_pk;
    char *next_rk;
    int same_token;
    int done;
    int prefetch;
    struct {
        pthread_t thread;
        int running;               /* a request is in flight on thread */
        char *path;                /* what it asks for */
        struct azt__response resp; /* its answer, once joined */
        int rc;
        char error[512]; /* its last-error message (thread-local there) */
    } pf;
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
    if ((rc = azt__buf_appendf(&b, "%c", b.len ? '&' : '?')) != AZT_OK)
        goto done;

    it = azt_xcalloc(1, sizeof(*it));
    it->c = c;
    it->table = azt_xstrdup(table);
    it->base_query = azt__buf_take(&b);
    it->top = top;
    it->metadata = q ? (int)q->metadata : AZT_META_NONE;
    it->prefetch = q ? q->prefetch : 0;
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

/* The request path of the next page: the query plus the continuation. */
static int next_path(const struct azt_iter *it, struct azt_buf *path)
{
    int rc = azt__buf_appendf(path, "/%s()%s$top=%d", it->table, it->base_query, it->top);

    if (rc == AZT_OK && it->next_pk)
        rc = append_param(path, "NextPartitionKey", it->next_pk);
    if (rc == AZT_OK && it->next_rk)
        rc = append_param(path, "NextRowKey", it->next_rk);
    return rc;
}

static int fetch(struct azt_iter *it, const char *path, struct azt__response *resp)
{
    char accept[80];
    const char *headers[2];

    snprintf(accept, sizeof(accept), "Accept: %s", azt__accept_for(it->metadata));
    headers[0] = accept;
    headers[1] = NULL;
    return azt__request(it->c, "GET", path, NULL, NULL, 0, headers, 0, resp);
}

static void *prefetch_main(void *arg)
{
    struct azt_iter *it = arg;

    it->pf.rc = fetch(it, it->pf.path, &it->pf.resp);
    if (it->pf.rc != AZT_OK)
        snprintf(it->pf.error, sizeof(it->pf.error), "%s", azt_error_last());
    return NULL;
}

/* Sends the next page's request on a helper thread; when no thread can be
 * started the next azt_iter_next simply asks itself. */
static void prefetch_start(struct azt_iter *it)
{
    struct azt_buf path = {0};
    sigset_t all, old;
    int started;

    if (next_path(it, &path) != AZT_OK) {
        azt__buf_dispose(&path);
        return;
    }
    it->pf.path = azt__buf_take(&path);
    memset(&it->pf.resp, 0, sizeof(it->pf.resp));
    it->pf.rc = AZT_OK;
    it->pf.error[0] = '\0';
    /* The helper takes no signals: SIGTERM and the like stay with the
     * caller's thread, whose handlers and blocking calls expect them. */
    sigfillset(&all);
    azt__json_arena_install(); /* before the helper parses a page with it */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    started = pthread_create(&it->pf.thread, NULL, prefetch_main, it) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!started) {
        free(it->pf.path);
        it->pf.path = NULL;
        return;
    }
    it->pf.running = 1;
}

/* Waits for the request in flight and takes its answer over. */
static int prefetch_finish(struct azt_iter *it, struct azt__response *resp)
{
    pthread_join(it->pf.thread, NULL);
    it->pf.running = 0;
    free(it->pf.path);
    it->pf.path = NULL;
    *resp = it->pf.resp;
    memset(&it->pf.resp, 0, sizeof(it->pf.resp));
    if (it->pf.rc != AZT_OK)
        return azt__error(it->pf.rc, "%s", it->pf.error);
    return AZT_OK;
}

/* The next page's answer: the prefetched one, or asked for now. 1 with
 * *resp filled, 0 when the query is complete, or a negative error. */
static int next_response(struct azt_iter *it, struct azt__response *resp)
{
    struct azt_buf path = {0};
    int rc;

    if (it->pf.running)
        return (rc = prefetch_finish(it, resp)) == AZT_OK ? 1 : rc;
    if (it->done)
        return 0;
    rc = next_path(it, &path);
    if (rc == AZT_OK)
        rc = fetch(it, path.ptr, resp);
    azt__buf_dispose(&path);
    return rc == AZT_OK ? 1 : rc;
}

/* Checks the answer's continuation and moves the iterator past the page it
 * carries (taking the tokens over from resp). */
static int advance(struct azt_iter *it, struct azt__response *resp)
{
    if (resp->next_rk && !resp->next_pk)
        return azt__error(AZT_EPARSE,
                          "query %s: NextRowKey without NextPartitionKey (request id %s)",
                          it->table, resp->request_id ? resp->request_id : "none");
    if (resp->next_pk && it->next_pk && same_str(resp->next_pk, it->next_pk) &&
        same_str(resp->next_rk, it->next_rk)) {
        if (++it->same_token >= AZT_MAX_SAME_TOKEN)
            return azt__error(AZT_EPARSE,
                              "query %s: the server returned the same continuation %d times",
                              it->table, it->same_token);
    } else {
        it->same_token = 0;
    }
    free(it->next_pk);
    free(it->next_rk);
    it->next_pk = resp->next_pk;
    it->next_rk = resp->next_pk ? resp->next_rk : NULL;
    if (!resp->next_pk)
        free(resp->next_rk);
    resp->next_pk = resp->next_rk = NULL;
    if (!it->next_pk)
        it->done = 1;
    return AZT_OK;
}

int azt_iter_next(struct azt_iter *it, struct azt_page **page)
{
    struct azt__response resp;
    struct azt_page *p = NULL;
    char why[400];
    int rc;

    memset(&resp, 0, sizeof(resp));
    if (!page)
        return azt__error(AZT_EINVAL, "azt_iter_next: page is NULL");
    *page = NULL;
    if (!it)
        return azt__error(AZT_EINVAL, "azt_iter_next: iterator is NULL");
    /* An answer over the size cap is asked for again with half the $top
     * (the same continuation), down to one entity a page. */
    while ((rc = next_response(it, &resp)) == AZT_ETOOBIG && it->top > 1) {
        it->top /= 2;
        azt__response_dispose(&resp);
        memset(&resp, 0, sizeof(resp));
        azt__warn(it->c, "azt: query %s: a page over the size cap; asking again with $top=%d",
                  it->table, it->top);
    }
    if (rc <= 0)
        goto done;
    /* the body is freed once loaded: it is not needed past the JSON */
    rc = azt__page_parse_body(&resp.body, (size_t)it->top, &p);
    if (rc != AZT_OK) {
        snprintf(why, sizeof(why), "%s", azt_error_last());
        rc = azt__error(rc, "query %s page: %s (request id %s)", it->table, why,
                        resp.request_id ? resp.request_id : "none");
        goto done;
    }
    /* the page is complete: advance */
    if ((rc = advance(it, &resp)) != AZT_OK)
        goto done;
    p->next_partition_key = it->next_pk ? azt_xstrdup(it->next_pk) : NULL;
    p->next_row_key = it->next_rk ? azt_xstrdup(it->next_rk) : NULL;
    p->server_date = resp.date;
    p->request_id = resp.request_id;
    resp.date = resp.request_id = NULL;
    *page = p;
    p = NULL;
    rc = 1;
    if (it->prefetch && !it->done)
        prefetch_start(it);
done:
    azt_page_free(p);
    azt__response_dispose(&resp);
    return rc;
}

int azt__iter_next_body(struct azt_iter *it, struct azt_buf *body)
{
    struct azt__response resp;
    int rc;

    memset(&resp, 0, sizeof(resp));
    rc = next_response(it, &resp);
    if (rc > 0 && (rc = advance(it, &resp)) == AZT_OK) {
        *body = resp.body;
        memset(&resp.body, 0, sizeof(resp.body));
        rc = 1;
    }
    azt__response_dispose(&resp);
    return rc;
}

void azt_iter_free(struct azt_iter *it)
{
    struct azt__response resp;

    if (!it)
        return;
    if (it->pf.running) {
        memset(&resp, 0, sizeof(resp));
        (void)prefetch_finish(it, &resp);
        azt__response_dispose(&resp);
    }
    free(it->table);
    free(it->base_query);
    free(it->next_pk);
    free(it->next_rk);
    free(it);
}
