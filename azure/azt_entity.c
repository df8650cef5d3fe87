/*
 * azt_entity.c - Query Entities pages: JSON in no, minimal or full metadata
 * turned into typed properties without losing fidelity. Timestamps and
 * DateTimes stay verbatim (7 fractional digits), Int64 stays exact, an
 * integral Double stays a Double ("2.0") because jansson tells real tokens
 * from integer tokens. All of a page's memory lives in one arena freed by
 * azt_page_free, so a page is bounded by its body.
 *
 * Error messages name the entity index and the property, never a value:
 * values are personal data.
 */
#include "azt.h"
#include "internal/azt_int.h"
#include "internal/azt_iso.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define ARENA_BLOCK  (64 * 1024)
#define ARENA_ALIGN  16
#define NAME_IN_MSG  64 /* property-name bytes quoted in an error message */
#define ANNOT_SUFFIX "@odata.type"

struct arena_block {
    struct arena_block *next;
    size_t used;
    size_t cap;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

/* The public page plus what frees it. */
struct page_impl {
    struct azt_page page;
    struct arena_block *blocks;
};

/* Where in the page we are, for error messages. */
struct ctx {
    struct page_impl *pi;
    size_t index;
};

enum annot {
    ANNOT_NONE = -1,
    ANNOT_STRING = AZT_TYPE_STRING,
    ANNOT_INT32 = AZT_TYPE_INT32,
    ANNOT_INT64 = AZT_TYPE_INT64,
    ANNOT_DOUBLE = AZT_TYPE_DOUBLE,
    ANNOT_BOOL = AZT_TYPE_BOOL,
    ANNOT_DATETIME = AZT_TYPE_DATETIME,
    ANNOT_GUID = AZT_TYPE_GUID,
    ANNOT_BINARY = AZT_TYPE_BINARY,
};

static const struct {
    const char *name;
    enum annot type;
} edm_types[] = {
    {"Edm.String", ANNOT_STRING}, {"Edm.Int32", ANNOT_INT32},   {"Edm.Int64", ANNOT_INT64},
    {"Edm.Double", ANNOT_DOUBLE}, {"Edm.Boolean", ANNOT_BOOL},  {"Edm.DateTime", ANNOT_DATETIME},
    {"Edm.Guid", ANNOT_GUID},     {"Edm.Binary", ANNOT_BINARY},
};

/* n bytes of the page's arena, not zeroed. */
static void *arena_take(struct page_impl *pi, size_t n)
{
    struct arena_block *b = pi->blocks;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    void *p;

    if (need < n)
        abort(); /* size overflow: cannot come from a parsed body */
    if (!b || b->cap - b->used < need) {
        size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;

        b = azt_xmalloc(sizeof(*b) + cap);
        b->cap = cap;
        b->used = 0;
        b->next = pi->blocks;
        pi->blocks = b;
    }
    p = b->data + b->used;
    b->used += need;
    return p;
}

static void *arena_alloc(struct page_impl *pi, size_t n)
{
    return memset(arena_take(pi, n), 0, n);
}

static char *arena_strndup(struct page_impl *pi, const char *s, size_t n)
{
    char *p = arena_take(pi, n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static int prop_error(const struct ctx *cx, const char *name, size_t name_len, const char *why)
{
    return azt__error(AZT_EPARSE, "page: entity %zu: property '%.*s': %s", cx->index,
                      (int)(name_len > NAME_IN_MSG ? NAME_IN_MSG : name_len), name, why);
}

/* Shortest text that reads back as d, always with a '.' or an exponent. */
static void format_double(double d, char out[40])
{
    int prec;
    size_t i, len;

    for (prec = 1; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    /* Whatever the locale's decimal point is, the wire wants '.'. */
    len = strlen(out);
    for (i = 0; i < len; i++)
        if (!strchr("0123456789+-e", out[i]))
            out[i] = '.';
    if (!strchr(out, '.') && !strchr(out, 'e'))
        memcpy(out + len, ".0", 3);
}

/* Strict decimal: optional '-', digits, no spaces or '+'. */
static int parse_int64(const char *s, size_t n, int64_t *v)
{
    uint64_t acc = 0, limit;
    size_t i = 0;
    int neg = 0;

    if (n && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i == n || n - i > 19)
        return -1;
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        acc = acc * 10 + (uint64_t)(s[i] - '0');
        if (acc > limit)
            return -1;
    }
    if (neg)
        *v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    else
        *v = (int64_t)acc;
    return 0;
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int valid_guid(const char *s, size_t n)
{
    size_t i;

    if (n != 36)
        return 0;
    for (i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!is_hex(s[i])) {
            return 0;
        }
    }
    return 1;
}

static int valid_base64(const char *s, size_t n)
{
    unsigned char *bytes = NULL;
    size_t len = 0;
    int ok = azt_base64_decode(s, n, &bytes, &len) == AZT_OK;

    free(bytes);
    return ok;
}

/* DateTime values written by any client: YYYY-MM-DDThh:mm:ss, an optional
 * fraction and 'Z' or an offset. Timestamps use the strict UTC check. */
static int valid_datetime(const char *s, size_t n)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t i = 0, frac = 0;

    if (n < 20)
        return 0;
    for (i = 0; i < 19; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return 0;
    }
    if (s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            frac++;
        if (frac == 0 || frac > 9)
            return 0;
    }
    if (i + 1 == n && s[i] == 'Z')
        return 1;
    return i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 1] >= '0' && s[i + 1] <= '9' &&
           s[i + 2] >= '0' && s[i + 2] <= '9' && s[i + 3] == ':' && s[i + 4] >= '0' &&
           s[i + 4] <= '9' && s[i + 5] >= '0' && s[i + 5] <= '9';
}

static void set_text(struct page_impl *pi, struct azt_prop *p, const char *s, size_t n)
{
    p->text = arena_strndup(pi, s, n);
    p->text_len = n;
}

static void set_int(struct page_impl *pi, struct azt_prop *p, enum azt_type t, int64_t v)
{
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%" PRId64, v);

    p->type = t;
    p->i = v;
    set_text(pi, p, buf, (size_t)len);
}

static void set_double(struct page_impl *pi, struct azt_prop *p, double d)
{
    char buf[40];

    format_double(d, buf);
    p->type = AZT_TYPE_DOUBLE;
    p->d = d;
    set_text(pi, p, buf, strlen(buf));
}

static void set_bool(struct page_impl *pi, struct azt_prop *p, int b)
{
    p->type = AZT_TYPE_BOOL;
    p->b = b;
    set_text(pi, p, b ? "true" : "false", b ? 4 : 5);
}

/* A value without an annotation: its type inferred from the JSON. 0, or -1
 * for an object or array. */
static int convert_inferred(struct page_impl *pi, json_t *v, const char *s, size_t sn,
                            struct azt_prop *p)
{
    int64_t iv;

    if (s) {
        p->type = AZT_TYPE_STRING;
        set_text(pi, p, s, sn);
    } else if (json_is_boolean(v)) {
        set_bool(pi, p, json_is_true(v));
    } else if (json_is_integer(v)) {
        iv = (int64_t)json_integer_value(v);
        set_int(pi, p, iv >= INT32_MIN && iv <= INT32_MAX ? AZT_TYPE_INT32 : AZT_TYPE_INT64, iv);
    } else if (json_is_real(v)) {
        set_double(pi, p, json_real_value(v));
    } else {
        return -1;
    }
    return 0;
}

/* An Edm.Double: a JSON number, or the string "NaN", "Infinity" or
 * "-Infinity". 0, or -1 when v is none of those. */
static int convert_double(struct page_impl *pi, json_t *v, const char *s, size_t sn,
                          struct azt_prop *p)
{
    if (json_is_real(v) || json_is_integer(v)) {
        set_double(pi, p, json_number_value(v));
        return 0;
    }
    if (!s)
        return -1;
    p->type = AZT_TYPE_DOUBLE;
    if (sn == 3 && memcmp(s, "NaN", 3) == 0)
        p->d = NAN;
    else if (sn == 8 && memcmp(s, "Infinity", 8) == 0)
        p->d = INFINITY;
    else if (sn == 9 && memcmp(s, "-Infinity", 9) == 0)
        p->d = -INFINITY;
    else
        return -1;
    set_text(pi, p, s, sn);
    return 0;
}

/* Fills p from a JSON value v and its annotation (ANNOT_NONE: inferred). */
static int convert(const struct ctx *cx, const char *name, size_t name_len, json_t *v,
                   enum annot annot, struct azt_prop *p)
{
    struct page_impl *pi = cx->pi;
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t sn = s ? json_string_length(v) : 0;
    int64_t iv = 0;

    switch (annot) {
    case ANNOT_NONE:
        if (convert_inferred(pi, v, s, sn, p) != 0)
            return prop_error(cx, name, name_len, "objects and arrays are not table values");
        return AZT_OK;
    case ANNOT_STRING:
        if (!s)
            break;
        p->type = AZT_TYPE_STRING;
        set_text(pi, p, s, sn);
        return AZT_OK;
    case ANNOT_INT32:
    case ANNOT_INT64:
        if (json_is_integer(v))
            iv = (int64_t)json_integer_value(v);
        else if (!s || parse_int64(s, sn, &iv) != 0)
            break;
        if (annot == ANNOT_INT32 && (iv < INT32_MIN || iv > INT32_MAX))
            break;
        set_int(pi, p, (enum azt_type)annot, iv);
        return AZT_OK;
    case ANNOT_DOUBLE:
        if (convert_double(pi, v, s, sn, p) != 0)
            break;
        return AZT_OK;
    case ANNOT_BOOL:
        if (json_is_boolean(v))
            set_bool(pi, p, json_is_true(v));
        else if (s && sn == 4 && memcmp(s, "true", 4) == 0)
            set_bool(pi, p, 1);
        else if (s && sn == 5 && memcmp(s, "false", 5) == 0)
            set_bool(pi, p, 0);
        else
            break;
        return AZT_OK;
    case ANNOT_DATETIME:
    case ANNOT_GUID:
    case ANNOT_BINARY:
        if (!s || (annot == ANNOT_DATETIME && !valid_datetime(s, sn)) ||
            (annot == ANNOT_GUID && !valid_guid(s, sn)) ||
            (annot == ANNOT_BINARY && !valid_base64(s, sn)))
            break;
        p->type = (enum azt_type)annot;
        set_text(pi, p, s, sn);
        return AZT_OK;
    }
    return prop_error(cx, name, name_len, "value does not fit its type annotation");
}

/* The annotation for property `name`, or ANNOT_NONE; < -1 is an error code
 * already set. */
static int lookup_annotation(const struct ctx *cx, json_t *obj, const char *name, size_t name_len,
                             enum annot *out)
{
    char small[320];
    char *key = small;
    size_t klen = name_len + sizeof(ANNOT_SUFFIX) - 1;
    const char *tname;
    json_t *a;
    size_t i;
    int rc = AZT_OK;

    *out = ANNOT_NONE;
    if (klen + 1 > sizeof(small))
        key = azt_xmalloc(klen + 1);
    memcpy(key, name, name_len);
    memcpy(key + name_len, ANNOT_SUFFIX, sizeof(ANNOT_SUFFIX));
    a = json_object_getn(obj, key, klen);
    if (!a)
        goto done;
    if (!json_is_string(a)) {
        rc = prop_error(cx, name, name_len, "type annotation is not a string");
        goto done;
    }
    tname = json_string_value(a);
    for (i = 0; i < sizeof(edm_types) / sizeof(edm_types[0]); i++) {
        if (strlen(edm_types[i].name) == json_string_length(a) &&
            strcmp(tname, edm_types[i].name) == 0) {
            *out = edm_types[i].type;
            goto done;
        }
    }
    rc = prop_error(cx, name, name_len, "unknown type annotation");
done:
    if (key != small)
        free(key);
    return rc;
}

static int take_key_string(const struct ctx *cx, const char *name, json_t *v, const char **dst,
                           int strict_time)
{
    size_t n;

    if (!json_is_string(v))
        return prop_error(cx, name, strlen(name), "not a string");
    n = json_string_length(v);
    if (memchr(json_string_value(v), '\0', n))
        return prop_error(cx, name, strlen(name), "contains a NUL character");
    if (strict_time && !azt__iso8601_utc_valid(json_string_value(v), n))
        return prop_error(cx, name, strlen(name), "not an ISO 8601 UTC time");
    *dst = arena_strndup(cx->pi, json_string_value(v), n);
    return AZT_OK;
}

/* The properties of an entity object: its keys less annotations and
 * odata.*; *annotated: whether any key is an annotation. */
static size_t count_properties(json_t *obj, int *annotated)
{
    const char *key;
    size_t key_len, n = 0;
    json_t *v;

    *annotated = 0;
    json_object_keylen_foreach(obj, key, key_len, v)
    {
        (void)v;
        if (memchr(key, '@', key_len))
            *annotated = 1;
        else if (!(key_len > 6 && memcmp(key, "odata.", 6) == 0))
            n++;
    }
    return n;
}

static int parse_entity(struct ctx *cx, json_t *obj, struct azt_entity *e)
{
    const char *key;
    size_t key_len;
    json_t *v;
    int annotated, rc = AZT_OK;

    if (!json_is_object(obj))
        return azt__error(AZT_EPARSE, "page: entity %zu is not an object", cx->index);
    if (count_properties(obj, &annotated) > AZT_MAX_PROPERTIES)
        return azt__error(AZT_EPARSE, "page: entity %zu has more than the service's %d properties",
                          cx->index, AZT_MAX_PROPERTIES);
    e->props = arena_alloc(cx->pi, json_object_size(obj) * sizeof(*e->props));
    json_object_keylen_foreach(obj, key, key_len, v)
    {
        enum annot annot = ANNOT_NONE;
        struct azt_prop *p;

        if (strlen(key) != key_len)
            return azt__error(AZT_EPARSE, "page: entity %zu: a property name contains NUL",
                              cx->index);
        if (key_len > 6 && memcmp(key, "odata.", 6) == 0) {
            /* odata.etag, odata.metadata, odata.type, odata.id, odata.editLink */
            if (strcmp(key, "odata.etag") == 0 && !json_is_null(v))
                rc = take_key_string(cx, key, v, &e->etag, 0);
            if (rc != AZT_OK)
                return rc;
            continue;
        }
        if (memchr(key, '@', key_len))
            continue; /* an annotation: read with its property */
        if (json_is_null(v))
            continue; /* the service never stores nulls */
        /* an entity of strings (most rows, in any metadata) has none to look up */
        if (annotated)
            rc = lookup_annotation(cx, obj, key, key_len, &annot);
        if (rc != AZT_OK)
            return rc;
        if (strcmp(key, "PartitionKey") == 0) {
            rc = take_key_string(cx, key, v, &e->partition_key, 0);
        } else if (strcmp(key, "RowKey") == 0) {
            rc = take_key_string(cx, key, v, &e->row_key, 0);
        } else if (strcmp(key, "Timestamp") == 0) {
            rc = take_key_string(cx, key, v, &e->timestamp, 1);
        } else {
            p = &e->props[e->nprops];
            rc = convert(cx, key, key_len, v, annot, p);
            if (rc == AZT_OK) {
                p->name = arena_strndup(cx->pi, key, key_len);
                e->nprops++;
            }
        }
        if (rc != AZT_OK)
            return rc;
    }
    return AZT_OK;
}

/*
 * A page body is {"odata.metadata": "...", "value": [{entity}, ...]}. The
 * entities are decoded by jansson one at a time (JSON_DISABLE_EOF_CHECK stops
 * after one value and reports how many bytes it read), converted into the
 * arena and dropped, so a page never holds a document tree of all its
 * entities: its peak memory is the body plus the arena. Only the
 * punctuation between values ({ : , [ ] }) and whitespace are read here;
 * every key and value is decoded by jansson.
 */
struct reader {
    const char *p;
    size_t n, pos;
};

static void skip_ws(struct reader *r)
{
    while (r->pos < r->n && (r->p[r->pos] == ' ' || r->p[r->pos] == '\t' || r->p[r->pos] == '\n' ||
                             r->p[r->pos] == '\r'))
        r->pos++;
}

/* Skips whitespace and takes `c` when it comes next. */
static int take(struct reader *r, char c)
{
    skip_ws(r);
    if (r->pos < r->n && r->p[r->pos] == c) {
        r->pos++;
        return 1;
    }
    return 0;
}

static int invalid_json(const struct reader *r, size_t at)
{
    /* jansson's text may quote the input (personal data): offsets only. */
    return azt__error(AZT_EPARSE, "page: invalid JSON at byte %zu of %zu", at, r->n);
}

/* Decodes the next JSON value with jansson and steps over it. */
static json_t *next_value(struct reader *r, size_t flags, int *rc)
{
    json_error_t jerr;
    json_t *v;

    v = json_loadb(r->p + r->pos, r->n - r->pos,
                   flags | JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
    if (!v) {
        *rc = invalid_json(r, r->pos + (size_t)(jerr.position > 0 ? jerr.position : 0));
        return NULL;
    }
    r->pos += (size_t)jerr.position;
    return v;
}

static struct azt_entity *next_entity_slot(struct page_impl *pi, size_t *cap)
{
    struct azt_page *pg = &pi->page;

    if (pg->count == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        pg->entities = azt_xrealloc(pg->entities, *cap * sizeof(*pg->entities));
    }
    memset(&pg->entities[pg->count], 0, sizeof(*pg->entities));
    return &pg->entities[pg->count];
}

static int parse_value_array(struct reader *r, struct page_impl *pi, size_t max_entities)
{
    struct azt_json_arena arena; /* one entity's jansson values at a time */
    struct ctx cx = {pi, 0};
    size_t cap = 0;
    json_t *obj;
    int rc = AZT_OK;

    if (!take(r, '['))
        return azt__error(AZT_EPARSE, "page: \"value\" is not an array");
    if (take(r, ']'))
        return AZT_OK;
    do {
        struct azt_entity *e;

        if (pi->page.count >= max_entities)
            return azt__error(AZT_EPARSE, "page: more than the %zu entities asked for ($top)",
                              max_entities);
        e = next_entity_slot(pi, &cap);

        cx.index = pi->page.count;
        azt_json_arena_begin(&arena);
        obj = next_value(r, 0, &rc);
        if (obj)
            rc = parse_entity(&cx, obj, e);
        json_decref(obj);
        azt_json_arena_end(&arena);
        if (rc != AZT_OK)
            return rc;
        pi->page.count++;
    } while (take(r, ','));
    if (!take(r, ']'))
        return invalid_json(r, r->pos);
    return AZT_OK;
}

/* Parses the page; when own is set, disposes of it as soon as it is read. */
static int page_parse(const char *body, size_t n, size_t max_entities, struct azt_buf *own,
                      struct azt_page **out)
{
    struct reader r = {body ? body : "", n, 0};
    struct page_impl *pi = NULL;
    json_t *key = NULL, *skipped;
    int seen_value = 0;
    int rc = AZT_OK;

    *out = NULL;
    if (!body && n)
        return azt__error(AZT_EINVAL, "page: NULL body");
    pi = azt_xcalloc(1, sizeof(*pi));
    if (!take(&r, '{')) {
        if (r.pos < r.n && r.p[r.pos] == '[')
            rc = azt__error(AZT_EPARSE, "page: body is not an object with a \"value\" array");
        else
            rc = invalid_json(&r, r.pos);
        goto done;
    }
    if (!take(&r, '}')) {
        do {
            skip_ws(&r);
            key = next_value(&r, 0, &rc);
            if (!key)
                goto done;
            if (!json_is_string(key) || !take(&r, ':')) {
                rc = invalid_json(&r, r.pos);
                goto done;
            }
            if (strcmp(json_string_value(key), "value") == 0 && !seen_value) {
                seen_value = 1;
                rc = parse_value_array(&r, pi, max_entities);
            } else {
                /* odata.metadata and anything else: decoded, not kept */
                skip_ws(&r);
                skipped = next_value(&r, 0, &rc);
                json_decref(skipped);
            }
            json_decref(key);
            key = NULL;
            if (rc != AZT_OK)
                goto done;
        } while (take(&r, ','));
        if (!take(&r, '}')) {
            rc = invalid_json(&r, r.pos);
            goto done;
        }
    }
    skip_ws(&r);
    if (r.pos != r.n) {
        rc = invalid_json(&r, r.pos);
        goto done;
    }
    if (!seen_value) {
        rc = azt__error(AZT_EPARSE, "page: body is not an object with a \"value\" array");
        goto done;
    }
    *out = &pi->page;
    pi = NULL;
done:
    json_decref(key);
    if (own)
        azt__buf_dispose(own);
    if (pi)
        azt_page_free(&pi->page);
    return rc;
}

int azt_page_parse(const char *body, size_t n, struct azt_page **out)
{
    return page_parse(body, n, AZT_MAX_TOP, NULL, out);
}

int azt__page_parse_body(struct azt_buf *body, size_t max_entities, struct azt_page **out)
{
    return page_parse(body->ptr ? body->ptr : "", body->len, max_entities, body, out);
}

void azt_page_free(struct azt_page *page)
{
    struct page_impl *pi;
    struct arena_block *b, *next;

    if (!page)
        return;
    pi = (struct page_impl *)(void *)((char *)page - offsetof(struct page_impl, page));
    for (b = pi->blocks; b; b = next) {
        next = b->next;
        free(b);
    }
    free(page->entities);
    free(page->next_partition_key);
    free(page->next_row_key);
    free(page->server_date);
    free(page->request_id);
    free(pi);
}

const struct azt_prop *azt_entity_prop(const struct azt_entity *e, const char *name)
{
    size_t i;

    if (!e || !name)
        return NULL;
    for (i = 0; i < e->nprops; i++)
        if (strcmp(e->props[i].name, name) == 0)
            return &e->props[i];
    return NULL;
}
