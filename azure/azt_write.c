/*
 * azt_write.c - table and entity writes, and entity group transactions.
 *
 * These exist for seeding, tests, the demo and benchmarks. Inserts and
 * batches are not idempotent: azt__request retries them only when the
 * request surely was not applied (connection refused, 503, 429).
 */
#include "azt.h"
#include "internal/azt_int.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AZT_BATCH_MAX 100

int azt__table_name_check(const char *name)
{
    size_t i;

    if (!name)
        return AZT_EINVAL;
    if (!((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')))
        return AZT_EINVAL;
    for (i = 1; name[i]; i++) {
        char ch = name[i];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            return AZT_EINVAL;
        if (i >= 62)
            return AZT_EINVAL;
    }
    return i >= 3 ? AZT_OK : AZT_EINVAL;
}

/* A key literal for the URL: quotes doubled, percent-encoded, with the
 * quotes themselves left literal (as the service and the SDKs send them). */
static int key_literal(struct azt_buf *b, const char *key)
{
    struct azt_buf doubled = {0};
    char *enc = NULL;
    const char *p;
    int rc;

    for (p = key; *p; p++) {
        rc = azt__buf_append(&doubled, p, 1);
        if (rc == AZT_OK && *p == '\'')
            rc = azt__buf_append(&doubled, p, 1);
        if (rc != AZT_OK)
            goto done;
    }
    rc = azt_url_encode(doubled.ptr ? doubled.ptr : "", doubled.len, &enc);
    if (rc != AZT_OK)
        goto done;
    rc = azt__buf_append(b, "'", 1);
    for (p = enc; rc == AZT_OK && *p; p++) {
        if (p[0] == '%' && p[1] == '2' && p[2] == '7') {
            rc = azt__buf_append(b, "'", 1);
            p += 2;
        } else {
            rc = azt__buf_append(b, p, 1);
        }
    }
    if (rc == AZT_OK)
        rc = azt__buf_append(b, "'", 1);
done:
    azt__buf_dispose(&doubled);
    free(enc);
    return rc;
}

int azt__key_path(const char *pk, const char *rk, char **out)
{
    struct azt_buf b = {0};
    int rc;

    *out = NULL;
    if (!pk || !rk)
        return azt__error(AZT_EINVAL, "PartitionKey and RowKey are required");
    if ((rc = azt__buf_append(&b, "(PartitionKey=", 14)) != AZT_OK ||
        (rc = key_literal(&b, pk)) != AZT_OK ||
        (rc = azt__buf_append(&b, ",RowKey=", 8)) != AZT_OK ||
        (rc = key_literal(&b, rk)) != AZT_OK || (rc = azt__buf_append(&b, ")", 1)) != AZT_OK) {
        azt__buf_dispose(&b);
        return rc;
    }
    *out = azt__buf_take(&b);
    return AZT_OK;
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                    */

int azt_table_create(struct azt_client *c, const char *table, int exist_ok)
{
    static const char *const headers[] = {"Prefer: return-no-content", NULL};
    struct azt__response resp;
    char body[128];
    int n, rc;

    memset(&resp, 0, sizeof(resp));
    if (!c || azt__table_name_check(table) != AZT_OK)
        return azt__error(AZT_EINVAL, "azt_table_create: invalid client or table name");
    n = snprintf(body, sizeof(body), "{\"TableName\":\"%s\"}", table);
    rc = azt__request(c, "POST", "/Tables", "application/json", body, (size_t)n, headers,
                      AZT__REQ_NONIDEMPOTENT, &resp);
    if (rc == AZT_ECONFLICT && exist_ok && resp.error_code &&
        strcmp(resp.error_code, "TableAlreadyExists") == 0) {
        azt__error_clear();
        rc = AZT_OK;
    }
    azt__response_dispose(&resp);
    return rc;
}

int azt_table_name_valid(const char *name)
{
    return azt__table_name_check(name) == AZT_OK;
}

int azt_table_list(struct azt_client *c, char ***names, size_t *n)
{
    static const char *const headers[] = {"Accept: application/json;odata=nometadata", NULL};
    struct azt__response resp;
    struct azt_page *page = NULL;
    size_t i;
    int rc;

    memset(&resp, 0, sizeof(resp));
    if (!c || !names || !n)
        return azt__error(AZT_EINVAL, "azt_table_list: bad arguments");
    *names = NULL;
    *n = 0;
    rc = azt__request(c, "GET", "/Tables", NULL, NULL, 0, headers, 0, &resp);
    if (rc == AZT_OK)
        rc = azt_page_parse(resp.body.ptr ? resp.body.ptr : "", resp.body.len, &page);
    if (rc != AZT_OK)
        goto done;
    *names = azt_xcalloc(page->count ? page->count : 1, sizeof(char *));
    for (i = 0; i < page->count; i++) {
        const struct azt_prop *p = azt_entity_prop(&page->entities[i], "TableName");

        if (p && p->type == AZT_TYPE_STRING)
            (*names)[(*n)++] = azt_xstrndup(p->text, p->text_len);
    }
done:
    azt_page_free(page);
    azt__response_dispose(&resp);
    return rc;
}

void azt_table_list_free(char **names, size_t n)
{
    size_t i;

    for (i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

int azt_table_delete(struct azt_client *c, const char *table)
{
    struct azt__response resp;
    char path[96];
    int rc;

    memset(&resp, 0, sizeof(resp));
    if (!c || azt__table_name_check(table) != AZT_OK)
        return azt__error(AZT_EINVAL, "azt_table_delete: invalid client or table name");
    snprintf(path, sizeof(path), "/Tables('%s')", table);
    rc = azt__request(c, "DELETE", path, NULL, NULL, 0, NULL, 0, &resp);
    azt__response_dispose(&resp);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Entities                                                                  */

static const char *op_verb(enum azt_write_op op)
{
    switch (op) {
    case AZT_OP_INSERT:
        return "POST";
    case AZT_OP_UPSERT_REPLACE:
        return "PUT";
    case AZT_OP_UPSERT_MERGE:
        return "MERGE";
    case AZT_OP_DELETE:
        return "DELETE";
    default:
        return NULL;
    }
}

static int check_write(const struct azt_write *w, size_t index)
{
    if (!op_verb(w->op))
        return azt__error(AZT_EINVAL, "write %zu: unknown operation %d", index, (int)w->op);
    if (w->op != AZT_OP_DELETE && (!w->json || w->json_len == 0))
        return azt__error(AZT_EINVAL, "write %zu: an entity body is required", index);
    if (w->op != AZT_OP_INSERT && (!w->partition_key || !w->row_key))
        return azt__error(AZT_EINVAL, "write %zu: PartitionKey and RowKey are required", index);
    return AZT_OK;
}

/* "/table" for inserts, "/table(PartitionKey='..',RowKey='..')" otherwise. */
static int write_path(const char *table, const struct azt_write *w, char **out)
{
    struct azt_buf b = {0};
    char *keys = NULL;
    int rc;

    *out = NULL;
    rc = azt__buf_appendf(&b, "/%s", table);
    if (rc == AZT_OK && w->op != AZT_OP_INSERT) {
        rc = azt__key_path(w->partition_key, w->row_key, &keys);
        if (rc == AZT_OK)
            rc = azt__buf_append(&b, keys, strlen(keys));
    }
    free(keys);
    if (rc != AZT_OK) {
        azt__buf_dispose(&b);
        return rc;
    }
    *out = azt__buf_take(&b);
    return AZT_OK;
}

int azt_entity_write(struct azt_client *c, const char *table, const struct azt_write *w)
{
    static const char *const insert_headers[] = {"Prefer: return-no-content", NULL};
    static const char *const delete_headers[] = {"If-Match: *", NULL};
    struct azt__response resp;
    char *path = NULL;
    const char *const *headers = NULL;
    int rc;

    memset(&resp, 0, sizeof(resp));
    if (!c || !w || azt__table_name_check(table) != AZT_OK)
        return azt__error(AZT_EINVAL, "azt_entity_write: invalid client, write or table name");
    if ((rc = check_write(w, 0)) != AZT_OK)
        return rc;
    if ((rc = write_path(table, w, &path)) != AZT_OK)
        goto done;
    if (w->op == AZT_OP_INSERT)
        headers = insert_headers;
    else if (w->op == AZT_OP_DELETE)
        headers = delete_headers;
    if (w->op == AZT_OP_DELETE)
        rc = azt__request(c, "DELETE", path, NULL, NULL, 0, headers, 0, &resp);
    else
        rc = azt__request(c, op_verb(w->op), path, "application/json", w->json, w->json_len,
                          headers, w->op == AZT_OP_INSERT ? AZT__REQ_NONIDEMPOTENT : 0, &resp);
done:
    azt__response_dispose(&resp);
    free(path);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Entity group transactions                                                 */

static void boundary_id(char out[33])
{
    unsigned char b[16];
    size_t i;
    static const char hex[] = "0123456789abcdef";

    if (RAND_bytes(b, sizeof(b)) != 1) {
        for (i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)(rand() & 0xff);
    }
    for (i = 0; i < sizeof(b); i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[32] = '\0';
}

static int batch_body(const char *endpoint, const char *table, const struct azt_write *ws, size_t n,
                      const char *batch, const char *changeset, struct azt_buf *b)
{
    char *path = NULL;
    size_t i;
    int rc;

    rc = azt__buf_appendf(b,
                          "--batch_%s\r\nContent-Type: multipart/mixed; boundary=changeset_%s\r\n"
                          "\r\n",
                          batch, changeset);
    for (i = 0; rc == AZT_OK && i < n; i++) {
        const struct azt_write *w = &ws[i];

        if ((rc = write_path(table, w, &path)) != AZT_OK)
            break;
        rc = azt__buf_appendf(b,
                              "--changeset_%s\r\nContent-Type: application/http\r\n"
                              "Content-Transfer-Encoding: binary\r\n\r\n"
                              "%s %s%s HTTP/1.1\r\n"
                              "Accept: application/json;odata=minimalmetadata\r\n"
                              "DataServiceVersion: 3.0;\r\n",
                              changeset, op_verb(w->op), endpoint, path);
        free(path);
        path = NULL;
        if (rc == AZT_OK && w->op == AZT_OP_INSERT)
            rc = azt__buf_appendf(b, "Prefer: return-no-content\r\n");
        if (rc == AZT_OK && w->op == AZT_OP_DELETE)
            rc = azt__buf_appendf(b, "If-Match: *\r\n\r\n");
        if (rc == AZT_OK && w->op != AZT_OP_DELETE) {
            rc = azt__buf_appendf(b, "Content-Type: application/json\r\n\r\n");
            if (rc == AZT_OK)
                rc = azt__buf_append(b, w->json, w->json_len);
            if (rc == AZT_OK)
                rc = azt__buf_append(b, "\r\n", 2);
        }
    }
    if (rc == AZT_OK)
        rc = azt__buf_appendf(b, "--changeset_%s--\r\n--batch_%s--\r\n", changeset, batch);
    return rc;
}

/* The first occurrence of needle[0..m) in hay[0..n), or NULL. */
static const char *find(const char *hay, size_t n, const char *needle, size_t m)
{
    size_t i;

    if (m == 0 || n < m)
        return NULL;
    for (i = 0; i + m <= n; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0)
            return hay + i;
    }
    return NULL;
}

/* Parses up to 3 digits at p[0..n); -1 when absent. */
static long parse_status(const char *p, size_t n)
{
    long v = 0;
    size_t i;

    for (i = 0; i < n && i < 3; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return i == 3 ? v : -1;
}

/* Walks the per-operation statuses of a 202 batch response. */
static int batch_result(const char *verb, const char *table, const struct azt__response *resp,
                        size_t n)
{
    static const char status_tag[] = "HTTP/1.1 ";
    const char *body = resp->body.ptr ? resp->body.ptr : "";
    size_t len = resp->body.len;
    const char *p = body;
    const char *end = body + len;
    const char *hit, *part, *part_end;
    struct azt_service_error se;
    size_t seen = 0;
    long st, index;
    size_t i;

    for (;;) {
        hit = find(p, (size_t)(end - p), status_tag, sizeof(status_tag) - 1);
        if (!hit)
            break;
        p = hit + sizeof(status_tag) - 1;
        st = parse_status(p, (size_t)(end - p));
        if (st < 0)
            return azt__error(AZT_EPARSE, "%s $batch on %s: malformed sub-response status", verb,
                              table);
        if (st >= 200 && st < 300) {
            seen++;
            continue;
        }
        /* the failing operation: its body follows the blank line */
        part = find(p, (size_t)(end - p), "\r\n\r\n", 4);
        part = part ? part + 4 : end;
        part_end = find(part, (size_t)(end - part), "\r\n--", 4);
        if (!part_end)
            part_end = end;
        memset(&se, 0, sizeof(se));
        azt_service_error_parse(part, (size_t)(part_end - part), &se);
        index = (long)seen;
        if (se.message[0] >= '0' && se.message[0] <= '9') {
            index = 0;
            for (i = 0; se.message[i] >= '0' && se.message[i] <= '9' && index < 1000; i++)
                index = index * 10 + (se.message[i] - '0');
        }
        return azt__error(st == 409 ? AZT_ECONFLICT : AZT_EHTTP,
                          "%s $batch on %s: operation %ld failed: %ld %s%s%s (request id %s)", verb,
                          table, index, st, se.code, se.message[0] ? ": " : "", se.message,
                          resp->request_id ? resp->request_id : "none");
    }
    if (seen != n)
        return azt__error(AZT_EPARSE, "%s $batch on %s: response holds %zu of %zu results", verb,
                          table, seen, n);
    return AZT_OK;
}

int azt_batch(struct azt_client *c, const char *table, const struct azt_write *ws, size_t n)
{
    struct azt_buf body = {0};
    struct azt__response resp;
    struct azt_buf ctype = {0};
    char batch[33], changeset[33];
    size_t i;
    int rc;

    memset(&resp, 0, sizeof(resp));
    if (!c || azt__table_name_check(table) != AZT_OK || (!ws && n))
        return azt__error(AZT_EINVAL, "azt_batch: invalid client, writes or table name");
    if (n < 1 || n > AZT_BATCH_MAX)
        return azt__error(AZT_EINVAL, "a batch holds 1..%d operations (got %zu)", AZT_BATCH_MAX, n);
    for (i = 0; i < n; i++) {
        if ((rc = check_write(&ws[i], i)) != AZT_OK)
            return rc;
    }
    boundary_id(batch);
    boundary_id(changeset);
    if ((rc = batch_body(azt__client_endpoint(c), table, ws, n, batch, changeset, &body)) != AZT_OK)
        goto done;
    if ((rc = azt__buf_appendf(&ctype, "multipart/mixed; boundary=batch_%s", batch)) != AZT_OK)
        goto done;
    rc = azt__request(c, "POST", "/$batch", ctype.ptr, body.ptr, body.len, NULL,
                      AZT__REQ_NONIDEMPOTENT, &resp);
    if (rc != AZT_OK)
        goto done;
    rc = batch_result("POST", table, &resp, n);
done:
    azt__response_dispose(&resp);
    azt__buf_dispose(&body);
    azt__buf_dispose(&ctype);
    return rc;
}
