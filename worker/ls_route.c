/* ls_route.c - routes (ls_route.h). */
#define _GNU_SOURCE /* FNM_CASEFOLD */
#include "ls_route.h"

#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const field_names[LS_ROUTE_NFIELDS] = {"offer", "source", "action", "stage",
                                                          "country"};

struct ls_route {
    char **globs[LS_ROUTE_NFIELDS]; /* NULL: the field is not filtered */
    size_t nglobs[LS_ROUTE_NFIELDS];
};

void ls_route_free(struct ls_route *r)
{
    size_t f, i;

    if (!r)
        return;
    for (f = 0; f < LS_ROUTE_NFIELDS; f++) {
        for (i = 0; i < r->nglobs[f]; i++)
            free(r->globs[f][i]);
        free(r->globs[f]);
    }
    free(r);
}

/* A glob fnmatch reads as meant: not empty, brackets closed, no trailing
 * backslash, printable. */
static int glob_ok(const char *g)
{
    const char *p;

    if (!*g || strlen(g) > 256)
        return 0;
    for (p = g; *p; p++) {
        if ((unsigned char)*p < 0x20)
            return 0;
        if (*p == '\\') {
            if (!*++p)
                return 0;
        } else if (*p == '[') {
            const char *q = p + 1;

            if (*q == '!' || *q == '^')
                q++;
            if (*q == ']')
                q++;
            while (*q && *q != ']')
                q++;
            if (!*q)
                return 0;
            p = q;
        }
    }
    return 1;
}

static int field_of(const char *name)
{
    int f;

    for (f = 0; f < LS_ROUTE_NFIELDS; f++)
        if (strcmp(field_names[f], name) == 0)
            return f;
    return -1;
}

/* One sink's filter object into a new route. */
static int parse_filter(const char *sink, json_t *obj, const char *origin, struct ls_route **out)
{
    struct ls_route *r = ls_xcalloc(1, sizeof(*r));
    const char *key;
    json_t *val;
    int rc = LS_OK;

    *out = NULL;
    if (!json_is_object(obj)) {
        rc =
            ls_error(LS_ECONFIG, "%s: route \"%s\" must be an object of field lists", origin, sink);
        goto done;
    }
    json_object_foreach(obj, key, val)
    {
        int f = field_of(key);
        size_t i;

        if (f < 0) {
            rc = ls_error(LS_ECONFIG,
                          "%s: route \"%s\": unknown field \"%s\" (fields: offer, source, "
                          "action, stage, country)",
                          origin, sink, key);
            goto done;
        }
        if (!json_is_array(val) || json_array_size(val) == 0) {
            rc = ls_error(LS_ECONFIG, "%s: route \"%s\": \"%s\" must be a non-empty list of globs",
                          origin, sink, key);
            goto done;
        }
        r->globs[f] = ls_xcalloc(json_array_size(val), sizeof(char *));
        for (i = 0; i < json_array_size(val); i++) {
            const char *g = json_string_value(json_array_get(val, i));

            if (!g || !glob_ok(g)) {
                rc = ls_error(LS_ECONFIG, "%s: route \"%s\": \"%s\" item %zu is not a glob", origin,
                              sink, key, i + 1);
                goto done;
            }
            r->globs[f][r->nglobs[f]++] = ls_xstrdup(g);
        }
    }
    *out = r;
    r = NULL;
done:
    ls_route_free(r);
    return rc;
}

int ls_routes_parse(const char *text, const char *origin, const char *const *ids, size_t n,
                    struct ls_route **out)
{
    json_error_t jerr;
    json_t *root = NULL, *val;
    const char *key;
    size_t i;
    int rc = LS_OK;

    for (i = 0; i < n; i++)
        out[i] = NULL;
    if (!text || !*text)
        return LS_OK;
    root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        rc = root ? ls_error(LS_ECONFIG, "%s: routes must be a JSON object of sink names", origin)
                  : ls_error(LS_ECONFIG, "%s: not JSON (line %d, column %d)", origin, jerr.line,
                             jerr.column);
        goto done;
    }
    json_object_foreach(root, key, val)
    {
        for (i = 0; i < n && strcmp(ids[i], key) != 0; i++)
            ;
        if (i == n) {
            rc = ls_error(LS_ECONFIG,
                          "%s: route for \"%s\", which is not a configured sink name (see "
                          "leadsync check)",
                          origin, key);
            goto done;
        }
        rc = parse_filter(key, val, origin, &out[i]);
        if (rc)
            goto done;
    }
done:
    json_decref(root);
    if (rc) {
        for (i = 0; i < n; i++) {
            ls_route_free(out[i]);
            out[i] = NULL;
        }
    }
    return rc;
}

int ls_route_match(const struct ls_route *r, const struct ls_route_lead *lead)
{
    size_t f, i;

    if (!r)
        return 1;
    for (f = 0; f < LS_ROUTE_NFIELDS; f++) {
        const char *v = lead->v[f] ? lead->v[f] : "";
        int any = r->globs[f] == NULL;

        for (i = 0; !any && i < r->nglobs[f]; i++)
            any = fnmatch(r->globs[f][i], v, FNM_CASEFOLD) == 0;
        if (!any)
            return 0;
    }
    return 1;
}

void ls_route_describe(const struct ls_route *r, char *buf, size_t cap)
{
    size_t f, i, off = 0;

    if (cap == 0)
        return;
    buf[0] = '\0';
    for (f = 0; r && f < LS_ROUTE_NFIELDS; f++) {
        int k;

        if (!r->globs[f])
            continue;
        k = snprintf(buf + off, cap - off, "%s%s ", off ? " and " : "", field_names[f]);
        for (i = 0; k > 0 && (size_t)k < cap - off && i < r->nglobs[f]; i++) {
            off += (size_t)k;
            k = snprintf(buf + off, cap - off, "%s%s", i ? "|" : "", r->globs[f][i]);
        }
        if (k < 0 || (size_t)k >= cap - off)
            return;
        off += (size_t)k;
    }
    if (off == 0)
        snprintf(buf, cap, "every lead");
}
