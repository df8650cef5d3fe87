/* ls_mapping.c - field mappings: load, validate, merge, apply (ls_mapping.h). */
#include "ls_mapping.h"

#include "ls_embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LENGTH_LIMIT 1000000

struct ls_mapping {
    json_t *root; /* validated: {"object"?: s, "fields": {..}, "doNotContact": {..}} */
};

static const char *const top_fields[] = {
    "leadId", "partitionKey", "rowKey",      "timestamp", "source",
    "action", "offerId",      "offerTitle",  "stage",     "doNotContact",
    "isTest", "description",  "createdTime",
};
static const char *const customer_fields[] = {"firstName", "lastName", "email", "phone",
                                              "country",   "company",  "title"};

static int in_list(const char *const *list, size_t n, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
            return 1;
    return 0;
}

/* 1 when (s, len) is a valid lead path. */
static int path_ok(const char *s, size_t len)
{
    const char *dot = memchr(s, '.', len);

    if (len == 0 || memchr(s, '\0', len))
        return 0;
    if (!dot)
        return in_list(top_fields, LS_ARRAY_LEN(top_fields), s, len);
    if ((size_t)(dot - s) == 8 && memcmp(s, "customer", 8) == 0)
        return in_list(customer_fields, LS_ARRAY_LEN(customer_fields), dot + 1, len - 9);
    if ((size_t)(dot - s) == 5 && memcmp(s, "extra", 5) == 0)
        return len > 6;
    return 0;
}

json_t *ls_mapping_lookup(const json_t *lead, const char *path)
{
    const char *dot = strchr(path, '.');
    json_t *v;
    char head[16];

    if (!json_is_object(lead))
        return NULL;
    if (!dot)
        return json_object_get(lead, path);
    if ((size_t)(dot - path) >= sizeof(head))
        return NULL;
    memcpy(head, path, (size_t)(dot - path));
    head[dot - path] = '\0';
    v = json_object_get(lead, head);
    return json_is_object(v) ? json_object_get(v, dot + 1) : NULL;
}

/* Checks a template's placeholders; 0 ok, else sets why. */
static int template_ok(const char *t, size_t len, const char **why)
{
    size_t i = 0;

    while (i < len) {
        if (t[i] == '{') {
            const char *close;

            if (i + 1 < len && t[i + 1] == '{') {
                i += 2;
                continue;
            }
            close = memchr(t + i + 1, '}', len - i - 1);
            if (!close) {
                *why = "has a '{' without '}'";
                return -1;
            }
            if (!path_ok(t + i + 1, (size_t)(close - t) - i - 1)) {
                *why = "has a placeholder that names no lead field";
                return -1;
            }
            i = (size_t)(close - t) + 1;
        } else if (t[i] == '}') {
            if (i + 1 < len && t[i + 1] == '}') {
                i += 2;
                continue;
            }
            *why = "has a '}' without '{' (write }} for a literal brace)";
            return -1;
        } else {
            i++;
        }
    }
    return 0;
}

static int bad(const char *name, const char *where, const char *key, const char *why)
{
    return ls_error(LS_ECONFIG, "mapping %s: %s%s%s: %s", name, where, key ? "." : "",
                    key ? key : "", why);
}

static int validate_spec(const char *name, const char *target, json_t *spec)
{
    char where[256];
    const char *k, *why = NULL;
    json_t *v;
    int sources = 0;

    snprintf(where, sizeof(where), "fields.%.200s", target);
    if (json_is_string(spec)) {
        if (!path_ok(json_string_value(spec), json_string_length(spec)))
            return bad(name, where, NULL,
                       "names no lead field (see ls_mapping.h: customer.email, offerId, "
                       "extra.Name, ...)");
        return LS_OK;
    }
    if (!json_is_object(spec))
        return bad(name, where, NULL, "must be a path string, an object or null");
    json_object_foreach(spec, k, v)
    {
        if (strcmp(k, "from") == 0) {
            size_t i;
            json_t *p;

            sources++;
            if (json_is_string(v)) {
                if (!path_ok(json_string_value(v), json_string_length(v)))
                    return bad(name, where, k, "names no lead field");
            } else if (json_is_array(v) && json_array_size(v) > 0) {
                json_array_foreach(v, i, p)
                {
                    if (!json_is_string(p) || !path_ok(json_string_value(p), json_string_length(p)))
                        return bad(name, where, k, "an entry names no lead field");
                }
            } else {
                return bad(name, where, k, "must be a path or a non-empty array of paths");
            }
        } else if (strcmp(k, "const") == 0) {
            sources++;
        } else if (strcmp(k, "template") == 0) {
            sources++;
            if (!json_is_string(v))
                return bad(name, where, k, "must be a string");
            if (template_ok(json_string_value(v), json_string_length(v), &why))
                return bad(name, where, k, why);
        } else if (strcmp(k, "map") == 0) {
            if (!json_is_object(v))
                return bad(name, where, k, "must be an object of value -> value");
        } else if (strcmp(k, "fallback") == 0) {
            if (json_is_null(v))
                return bad(name, where, k, "must not be null");
        } else if (strcmp(k, "maxLength") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > MAX_LENGTH_LIMIT)
                return bad(name, where, k, "must be an integer from 1 to 1000000");
        } else {
            char msg[128];

            snprintf(msg, sizeof(msg),
                     "unknown key \"%.60s\" (from, const, template, map, fallback, maxLength)", k);
            return bad(name, where, NULL, msg);
        }
    }
    if (sources != 1)
        return bad(name, where, NULL, "needs exactly one of \"from\", \"const\", \"template\"");
    return LS_OK;
}

/* Validates one document; allow_null: a user file may null out entries. */
static int validate(const char *name, json_t *root, int allow_null)
{
    const char *k, *f;
    json_t *v, *spec;
    int rc;

    if (!json_is_object(root))
        return bad(name, "the top level", NULL, "must be a JSON object");
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "object") == 0) {
            if (!json_is_string(v))
                return bad(name, "object", NULL, "must be a string");
        } else if (strcmp(k, "fields") == 0 || strcmp(k, "doNotContact") == 0) {
            if (!json_is_object(v))
                return bad(name, k, NULL, "must be an object");
            json_object_foreach(v, f, spec)
            {
                if (!*f || strlen(f) > 200)
                    return bad(name, k, NULL, "has an empty or overlong field name");
                if (json_is_null(spec)) {
                    if (!allow_null)
                        return bad(name, k, f, "null is only allowed in a user mapping");
                    continue;
                }
                if (strcmp(k, "fields") == 0 && (rc = validate_spec(name, f, spec)) != LS_OK)
                    return rc;
            }
        } else {
            char msg[128];

            snprintf(msg, sizeof(msg), "unknown key \"%.60s\" (object, fields, doNotContact)", k);
            return bad(name, "the top level", NULL, msg);
        }
    }
    return LS_OK;
}

static void merge_section(json_t *dst, json_t *src, const char *key)
{
    json_t *d = json_object_get(dst, key), *s = json_object_get(src, key), *v;
    const char *k;

    if (!s)
        return;
    if (!d) {
        d = json_object();
        json_object_set_new(dst, key, d);
    }
    json_object_foreach(s, k, v)
    {
        if (json_is_null(v))
            json_object_del(d, k);
        else
            json_object_set(d, k, v);
    }
}

int ls_mapping_parse(const char *name, const char *p, size_t len, const struct ls_mapping *base,
                     struct ls_mapping **out)
{
    json_error_t jerr;
    json_t *doc = NULL, *root = NULL;
    struct ls_mapping *m = NULL;
    int rc = LS_OK;

    *out = NULL;
    doc = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        rc = ls_error(LS_ECONFIG, "mapping %s: line %d column %d: %s", name, jerr.line, jerr.column,
                      jerr.text);
        goto done;
    }
    rc = validate(name, doc, base != NULL);
    if (rc)
        goto done;
    if (base) {
        json_t *o = json_object_get(doc, "object");

        root = json_deep_copy(base->root);
        if (o)
            json_object_set(root, "object", o);
        merge_section(root, doc, "fields");
        merge_section(root, doc, "doNotContact");
    } else {
        root = json_incref(doc);
    }
    if (!json_object_get(root, "fields"))
        json_object_set_new(root, "fields", json_object());
    if (!json_object_get(root, "doNotContact"))
        json_object_set_new(root, "doNotContact", json_object());
    m = ls_xcalloc(1, sizeof(*m));
    m->root = root;
    root = NULL;
    *out = m;
done:
    json_decref(root);
    json_decref(doc);
    return rc;
}

int ls_mapping_load(const char *crm, const char *user_path, struct ls_mapping **out)
{
    struct ls_mapping *base = NULL;
    char file[64], name[96];
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n, i;
    char chunk[4096];
    int rc = LS_OK;

    *out = NULL;
    snprintf(file, sizeof(file), "%s.json", crm);
    for (i = 0; ls_mappings[i].name; i++)
        if (strcmp(ls_mappings[i].name, file) == 0)
            break;
    if (!ls_mappings[i].name)
        return ls_error(LS_ECONFIG, "no built-in mapping for %s", crm);
    snprintf(name, sizeof(name), "built-in %s", file);
    rc = ls_mapping_parse(name, ls_mappings[i].data, ls_mappings[i].len, NULL, &base);
    if (rc)
        goto done;
    if (!user_path || !*user_path) {
        *out = base;
        base = NULL;
        goto done;
    }
    f = fopen(user_path, "rb");
    if (!f) {
        rc = ls_error(LS_ECONFIG, "mapping %s: cannot read the file", user_path);
        goto done;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n > 1024 * 1024) {
            rc = ls_error(LS_ECONFIG, "mapping %s: larger than 1 MiB", user_path);
            goto done;
        }
        if (len + n > cap) {
            cap = (len + n) * 2;
            buf = ls_xrealloc(buf, cap);
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    rc = ls_mapping_parse(user_path, buf ? buf : "", len, base, out);
done:
    if (f)
        fclose(f);
    free(buf);
    ls_mapping_free(base);
    return rc;
}

void ls_mapping_free(struct ls_mapping *m)
{
    if (!m)
        return;
    json_decref(m->root);
    free(m);
}

int ls_mapping_targets(const struct ls_mapping *m, const char *field)
{
    return json_object_get(json_object_get(m->root, "fields"), field) != NULL ||
           json_object_get(json_object_get(m->root, "doNotContact"), field) != NULL;
}

const char *ls_mapping_object(const struct ls_mapping *m)
{
    const char *s = json_string_value(json_object_get(m->root, "object"));

    return s ? s : "";
}

/* ------------------------------------------------------------------------ */
/* apply                                                                     */

static int is_empty(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

/* Appends the text of a value (strings raw, others as JSON). */
static void append_value(json_t *acc_holder, const json_t *v)
{
    const char *old = json_string_value(json_object_get(acc_holder, "s"));
    size_t ol = json_string_length(json_object_get(acc_holder, "s"));
    char *txt = NULL, *cat;
    const char *add;
    size_t al;

    if (!v || json_is_null(v))
        return;
    if (json_is_string(v)) {
        add = json_string_value(v);
        al = json_string_length(v);
    } else {
        txt = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!txt)
            return;
        add = txt;
        al = strlen(txt);
    }
    cat = ls_xmalloc(ol + al + 1);
    memcpy(cat, old ? old : "", ol);
    memcpy(cat + ol, add, al);
    json_object_set_new(acc_holder, "s", json_stringn_nocheck(cat, ol + al));
    free(cat);
    free(txt);
}

static json_t *render_template(const json_t *lead, const char *t, size_t len)
{
    json_t *acc = json_pack("{s:s}", "s", "");
    json_t *res;
    size_t i = 0, lit = 0;

    while (i < len) {
        if ((t[i] == '{' || t[i] == '}') && i + 1 < len && t[i + 1] == t[i]) {
            json_t *piece = json_stringn_nocheck(t + lit, i - lit + 1);

            append_value(acc, piece);
            json_decref(piece);
            i += 2;
            lit = i;
        } else if (t[i] == '{') {
            const char *close = memchr(t + i + 1, '}', len - i - 1);
            json_t *piece = json_stringn_nocheck(t + lit, i - lit);
            char path[256];
            size_t pl;

            append_value(acc, piece);
            json_decref(piece);
            if (!close)
                break; /* validated: cannot happen */
            pl = (size_t)(close - t) - i - 1;
            if (pl < sizeof(path)) {
                memcpy(path, t + i + 1, pl);
                path[pl] = '\0';
                append_value(acc, ls_mapping_lookup(lead, path));
            }
            i = (size_t)(close - t) + 1;
            lit = i;
        } else {
            i++;
        }
    }
    if (lit < len) {
        json_t *piece = json_stringn_nocheck(t + lit, len - lit);

        append_value(acc, piece);
        json_decref(piece);
    }
    res = json_incref(json_object_get(acc, "s"));
    json_decref(acc);
    return res;
}

/* Cuts a UTF-8 string to at most max UTF-16 code units, the unit every
 * vendor counts its field lengths in (Salesforce, Dataverse, Web-to-Lead):
 * a character beyond U+FFFF (a 4-byte UTF-8 sequence, e.g. an emoji) is a
 * surrogate pair and counts 2. A character that does not fit whole is left
 * out, so neither a UTF-8 sequence nor a surrogate pair is ever split. New
 * reference. */
static json_t *cut(json_t *v, long max)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v), i, units = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t w;

        if ((c & 0xC0) == 0x80)
            continue; /* continuation byte: counted with its lead byte */
        w = c >= 0xF0 ? 2 : 1;
        if (units + w > (size_t)max)
            return json_stringn_nocheck(s, i);
        units += w;
    }
    return json_incref(v);
}

/* The e-mail as CRMs should store it: surrounding whitespace trimmed and the
 * domain (after the last '@') lower-cased; the local part is kept as written
 * (RFC 5321 leaves its case to the receiving host). New reference. */
static json_t *normalize_email(json_t *v)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v), b = 0, e = len, i;
    char *t;
    json_t *out;

    if (!s)
        return json_incref(v);
    while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n'))
        b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n'))
        e--;
    t = ls_xmalloc(e - b + 1);
    memcpy(t, s + b, e - b);
    t[e - b] = '\0';
    for (i = e - b; i > 0 && t[i - 1] != '@'; i--)
        if (t[i - 1] >= 'A' && t[i - 1] <= 'Z')
            t[i - 1] = (char)(t[i - 1] - 'A' + 'a');
    if (i == 0) /* no '@': not an address, only trimmed */
        memcpy(t, s + b, e - b);
    out = json_stringn_nocheck(t, e - b);
    free(t);
    return out;
}

/* The value of a path as the CRMs get it (new reference): customer.email
 * normalized, everything else as in the lead. */
static json_t *source_value(const json_t *lead, const char *path)
{
    json_t *v = ls_mapping_lookup(lead, path);

    if (json_is_string(v) && strcmp(path, "customer.email") == 0)
        return normalize_email(v);
    return json_incref(v);
}

static json_t *eval_spec(const json_t *lead, const json_t *spec)
{
    json_t *from, *tmpl, *map, *fb, *ml;
    json_t *v = NULL, *t;

    if (json_is_string(spec))
        return source_value(lead, json_string_value(spec));
    from = json_object_get(spec, "from");
    tmpl = json_object_get(spec, "template");
    map = json_object_get(spec, "map");
    fb = json_object_get(spec, "fallback");
    ml = json_object_get(spec, "maxLength");
    if (json_object_get(spec, "const")) {
        v = json_incref(json_object_get(spec, "const"));
    } else if (tmpl) {
        v = render_template(lead, json_string_value(tmpl), json_string_length(tmpl));
    } else if (json_is_string(from)) {
        v = source_value(lead, json_string_value(from));
    } else if (json_is_array(from)) {
        size_t i;
        json_t *p;

        json_array_foreach(from, i, p)
        {
            json_t *x = source_value(lead, json_string_value(p));

            if (!is_empty(x)) {
                v = x;
                break;
            }
            json_decref(x);
        }
    }
    if (map && !is_empty(v)) {
        char *key = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        json_t *hit = json_object_get(map, key ? key : json_string_value(v));

        if (!hit)
            hit = json_object_get(map, "*");
        if (hit) {
            json_decref(v);
            v = json_incref(hit);
        }
        free(key);
    }
    if (is_empty(v) && fb) {
        json_decref(v);
        v = json_incref(fb);
    }
    if (json_is_string(v) && ml) {
        t = cut(v, (long)json_integer_value(ml));
        json_decref(v);
        v = t;
    }
    return v;
}

int ls_mapping_apply(const struct ls_mapping *m, const json_t *lead, json_t **out)
{
    json_t *rec = NULL, *spec;
    const char *k;

    *out = NULL;
    if (!json_is_object(lead))
        return ls_error(LS_EINVAL, "mapping: the lead is not a JSON object");
    rec = json_object();
    json_object_foreach(json_object_get(m->root, "fields"), k, spec)
    {
        json_t *v = eval_spec(lead, spec);

        if (!is_empty(v))
            json_object_set(rec, k, v);
        json_decref(v);
    }
    if (json_is_true(json_object_get(lead, "doNotContact")))
        json_object_update(rec, json_object_get(m->root, "doNotContact"));
    *out = rec;
    return LS_OK;
}
