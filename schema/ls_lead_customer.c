/*
 * ls_lead_customer.c - the lead's CustomerInfo: a jansson parse of the JSON
 * object, and a tolerant salvage scan of a damaged one (ls_lead.c, the file
 * comment, says which values flag which problems).
 */
#include "ls_lead_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The keys, in the order of struct ls_customer, with their lengths: most
 * keys are told apart by length alone. */
#define CI_KEY(s)                                                                                  \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
static const struct {
    const char *name;
    size_t len;
} ci_keys[CI_N] = {CI_KEY("FirstName"), CI_KEY("LastName"), CI_KEY("Email"), CI_KEY("Phone"),
                   CI_KEY("Country"),   CI_KEY("Company"),  CI_KEY("Title")};

char **ls_lead__ci_field(struct ls_customer *c, int i)
{
    char **f[CI_N] = {&c->first_name, &c->last_name, &c->email, &c->phone,
                      &c->country,    &c->company,   &c->title};
    return f[i];
}

static int ci_index(const char *key, size_t n)
{
    struct slice k = {key, n};
    int i;

    for (i = 0; i < CI_N; i++)
        if (n == ci_keys[i].len && ls_lead__slice_ieq(k, ci_keys[i].name))
            return i;
    return -1;
}

/* Stores text as customer field i unless already set. */
static int ci_set(struct ls_lead *lead, int i, const char *p, size_t n)
{
    char **f = ls_lead__ci_field(&lead->customer, i);

    if (*f)
        return 0;
    *f = ls_lead__strdup(lead, p, n);
    return *f ? 0 : LEAD_ENOMEM;
}

/* From a parsed object. Sets *bad when a field is not a string, and the
 * lead's NUL_IN_VALUE when a string value of the object holds a NUL. */
static int ci_from_object(json_t *obj, struct ls_lead *lead, int *bad)
{
    struct ls_customer *c = &lead->customer;
    const char *key;
    size_t key_len;
    json_t *v;
    char num[64];
    int i, rc;

    json_object_keylen_foreach(obj, key, key_len, v)
    {
        if (json_is_string(v) && memchr(json_string_value(v), 0, json_string_length(v)))
            lead->problems |= LS_LEAD_NUL_IN_VALUE;
        i = ci_index(key, key_len);
        if (i < 0 || *ls_lead__ci_field(c, i))
            continue;
        switch (json_typeof(v)) {
        case JSON_STRING:
            rc = ci_set(lead, i, json_string_value(v), json_string_length(v));
            break;
        case JSON_INTEGER:
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            *bad = 1;
            rc = ci_set(lead, i, num, strlen(num));
            break;
        case JSON_REAL:
            snprintf(num, sizeof(num), "%.15g", json_real_value(v));
            *bad = 1;
            rc = ci_set(lead, i, num, strlen(num));
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            *bad = 1;
            rc = ci_set(lead, i, json_is_true(v) ? "true" : "false", json_is_true(v) ? 4 : 5);
            break;
        case JSON_NULL:
            rc = ci_set(lead, i, "", 0);
            break;
        default: /* object or array */
            *bad = 1;
            rc = ci_set(lead, i, "", 0);
            break;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* End of the JSON string token starting at p[0] == '"' (index after the
 * closing quote), or 0 when unterminated. */
static size_t scan_string(const char *p, size_t n)
{
    size_t i;

    for (i = 1; i < n; i++) {
        if (p[i] == '\\')
            i++;
        else if (p[i] == '"')
            return i + 1;
    }
    return 0;
}

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && ls_lead__is_ws((unsigned char)p[i]))
        i++;
    return i;
}

/* Skips a nested object/array starting at p[i]; index after it, or 0. */
static size_t skip_nested(const char *p, size_t n, size_t i)
{
    size_t depth = 0, k;

    while (i < n) {
        if (p[i] == '"') {
            k = scan_string(p + i, n - i);
            if (!k)
                return 0;
            i += k;
            continue;
        }
        if (p[i] == '{' || p[i] == '[')
            depth++;
        else if (p[i] == '}' || p[i] == ']') {
            if (--depth == 0)
                return i + 1;
        }
        i++;
    }
    return 0;
}

/* Decodes a JSON string token with jansson; NULL when it is not one. */
static json_t *decode_string(const char *p, size_t n)
{
    json_t *v = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

    if (v && !json_is_string(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/*
 * Tolerant scan of a damaged object ({"FirstName":"Ann","Email":"a@b.c","Pho):
 * keeps every key/value pair that precedes the damage. Non-string scalars
 * are kept as their token text; nested values read as "".
 */
static int ci_salvage(const char *p, size_t n, struct ls_lead *lead)
{
    size_t i, k, vs;
    json_t *key = NULL, *val = NULL;
    int idx, rc = 0;

    i = skip_ws(p, n, 0);
    if (i >= n || p[i] != '{')
        return 0;
    i++;
    for (;;) {
        i = skip_ws(p, n, i);
        if (i >= n || p[i] != '"')
            break;
        k = scan_string(p + i, n - i);
        if (!k || !(key = decode_string(p + i, k)))
            break;
        i = skip_ws(p, n, i + k);
        if (i >= n || p[i] != ':')
            break;
        i = skip_ws(p, n, i + 1);
        if (i >= n)
            break;
        idx = ci_index(json_string_value(key), json_string_length(key));
        if (p[i] == '"') {
            k = scan_string(p + i, n - i);
            if (!k || !(val = decode_string(p + i, k)))
                break;
            if (idx >= 0 &&
                (rc = ci_set(lead, idx, json_string_value(val), json_string_length(val))))
                break;
            i += k;
        } else if (p[i] == '{' || p[i] == '[') {
            k = skip_nested(p, n, i);
            if (!k)
                break;
            if (idx >= 0 && (rc = ci_set(lead, idx, "", 0)))
                break;
            i = k;
        } else {
            vs = i;
            while (i < n && !ls_lead__is_ws((unsigned char)p[i]) && p[i] != ',' && p[i] != '}')
                i++;
            if (i >= n) /* a truncated scalar is not kept */
                break;
            if (idx >= 0 && !(i - vs == 4 && memcmp(p + vs, "null", 4) == 0) &&
                (rc = ci_set(lead, idx, p + vs, i - vs)))
                break;
        }
        json_decref(key);
        json_decref(val);
        key = val = NULL;
        i = skip_ws(p, n, i);
        if (i >= n || p[i] != ',')
            break;
        i++;
    }
    json_decref(key);
    json_decref(val);
    return rc;
}

/* Parses CustomerInfo into lead->customer; sets problem bits. */
int ls_lead__parse_customer(const struct azt_prop *ci, struct ls_lead *lead)
{
    struct azt_json_arena arena; /* every value parsed here is dropped here */
    struct slice text = ls_lead__trim(ls_lead__prop_text(ci));
    json_t *root = NULL;
    int bad = 0, rc = 0;

    if (!ci || text.n == 0) {
        lead->problems |= LS_LEAD_CUSTOMERINFO_MISSING;
        return 0;
    }
    azt_json_arena_begin(&arena);
    root = json_loadb(text.p, text.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!root) {
        bad = 1;
        rc = ci_salvage(text.p, text.n, lead);
    } else if (!json_is_object(root)) {
        bad = 1;
        /* jansson refuses a NUL in a key: only a string value can hold one */
        if (json_is_string(root) && memchr(json_string_value(root), 0, json_string_length(root)))
            lead->problems |= LS_LEAD_NUL_IN_VALUE;
    } else {
        rc = ci_from_object(root, lead, &bad);
    }
    if (bad)
        lead->problems |= LS_LEAD_CUSTOMERINFO_MALFORMED;
    json_decref(root);
    azt_json_arena_end(&arena);
    return rc;
}
