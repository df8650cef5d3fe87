/*
 * ls_lead.c - the lead model (worker/README.md, The lead model) and the lead's JSON bodies
 * (worker/README.md, The contract).
 *
 * One call per table row, so the work is linear in the row's size: one pass
 * over the properties, one jansson parse of CustomerInfo (plus a tolerant
 * salvage scan only when that parse fails), two SHA-256 digests on one EVP
 * context, and each property value outside the named ones turned into a
 * jansson value once.
 *
 * Decisions the design leaves open, made here:
 *  - Strings handed to jansson must be UTF-8; invalid bytes (impossible from
 *    azt_page_parse, possible from hand-built entities) become U+FFFD so the
 *    lead never fails on them.
 *  - CustomerInfo absent, empty or all whitespace is MISSING. A JSON null
 *    field reads as "" and is not a problem; a number or boolean is kept as
 *    its text and flags MALFORMED; an object or array reads as "" and flags
 *    MALFORMED. When the text is not JSON at all (e.g. truncated), a tolerant
 *    scan keeps the string fields that precede the damage.
 *  - LeadSource absent or empty sets no problem (any field may be missing);
 *    no '|' or no '-' sets LEADSOURCE_MALFORMED.
 *  - An empty action (no ActionCode, none in LeadSource) is ACTION_UNKNOWN.
 *  - The email used for lead_id is trimmed of ASCII whitespace and lowered
 *    for ASCII letters only; Unicode case folding is not applied, so
 *    "ÄBC@x" and "äbc@x" are different customers.
 */
#include "ls_lead.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* Same values as the worker's LS_ENOMEM / LS_EINVAL (schema/ does not link
 * the worker). */
#define LEAD_ENOMEM (-2)
#define LEAD_EINVAL (-3)

#define MSFT_TEST    "MSFT_TEST_"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

struct slice {
    const char *p;
    size_t n;
};

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static struct slice trim(struct slice s)
{
    while (s.n && is_ws((unsigned char)s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && is_ws((unsigned char)s.p[s.n - 1]))
        s.n--;
    return s;
}

static unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Case-insensitive (ASCII) comparison of s[0..n) with a NUL-terminated word. */
static int slice_ieq(struct slice s, const char *word)
{
    size_t i;

    for (i = 0; i < s.n; i++) {
        if (word[i] == '\0' ||
            ascii_lower((unsigned char)s.p[i]) != ascii_lower((unsigned char)word[i]))
            return 0;
    }
    return word[i] == '\0';
}

static int contains_test_marker(const char *p, size_t n)
{
    const size_t m = sizeof(MSFT_TEST) - 1;
    const char *end, *q;

    if (!p || n < m)
        return 0;
    end = p + n - m + 1; /* last possible start + 1 */
    for (q = p; q < end; q++) {
        q = memchr(q, 'M', (size_t)(end - q));
        if (!q)
            return 0;
        if (memcmp(q, MSFT_TEST, m) == 0)
            return 1;
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at s (n > 0 bytes available), or 0 if
 * invalid. Rejects what jansson rejects: overlong forms, surrogates, code
 * points above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t need, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] < 0xC2)
        return 0;
    if (s[0] < 0xE0) {
        need = 2;
        cp = s[0] & 0x1Fu;
    } else if (s[0] < 0xF0) {
        need = 3;
        cp = s[0] & 0x0Fu;
    } else if (s[0] <= 0xF4) {
        need = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (i = 1; i < need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return need;
}

/* malloc'd NUL-terminated copy of p[0..n) with invalid UTF-8 bytes replaced
 * by U+FFFD; *out_n gets the copy's length. NULL on allocation failure. */
static char *dup_utf8(const char *p, size_t n, size_t *out_n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0, bad = 0, k, o = 0;
    char *r;

    if (!p)
        n = 0;
    while (i < n) {
        k = utf8_seq(s + i, n - i);
        if (k == 0) {
            bad++;
            k = 1;
        }
        i += k;
    }
    if (bad > (SIZE_MAX - 1 - n) / 2)
        return NULL;
    r = malloc(n + 2 * bad + 1);
    if (!r)
        return NULL;
    if (bad == 0) {
        if (n)
            memcpy(r, p, n);
        o = n;
    } else {
        for (i = 0; i < n; i += k) {
            k = utf8_seq(s + i, n - i);
            if (k == 0) {
                r[o++] = (char)0xEF;
                r[o++] = (char)0xBF;
                r[o++] = (char)0xBD;
                k = 1;
            } else {
                memcpy(r + o, p + i, k);
                o += k;
            }
        }
    }
    r[o] = '\0';
    if (out_n)
        *out_n = o;
    return r;
}

static char *dup_slice(struct slice s)
{
    return dup_utf8(s.p, s.n, NULL);
}

/* A jansson string for p[0..n) (may hold NUL), repairing invalid UTF-8.
 * NULL only on allocation failure. */
static json_t *jstr(const char *p, size_t n)
{
    json_t *v;
    char *fixed;
    size_t fn = 0;

    if (!p) {
        p = "";
        n = 0;
    }
    v = json_stringn(p, n);
    if (v)
        return v;
    fixed = dup_utf8(p, n, &fn);
    if (!fixed)
        return NULL;
    v = json_stringn(fixed, fn);
    free(fixed);
    return v;
}

static int utf8_valid(const char *p, size_t n)
{
    size_t i = 0, k;

    while (i < n) {
        k = utf8_seq((const unsigned char *)p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* Sets obj[key] = v (stealing v, which may be NULL after a failed
 * allocation), repairing an invalid UTF-8 key. */
static int obj_set_new(json_t *obj, const char *key, json_t *v)
{
    char *fixed;
    int rc;

    if (!v)
        return -1;
    if (utf8_valid(key, strlen(key)))
        return json_object_set_new(obj, key, v);
    fixed = dup_utf8(key, strlen(key), NULL);
    if (!fixed) {
        json_decref(v);
        return -1;
    }
    rc = json_object_set_new(obj, fixed, v);
    free(fixed);
    return rc;
}

static const char *edm_name(enum azt_type t)
{
    switch (t) {
    case AZT_TYPE_INT32:
        return "Edm.Int32";
    case AZT_TYPE_INT64:
        return "Edm.Int64";
    case AZT_TYPE_DOUBLE:
        return "Edm.Double";
    case AZT_TYPE_BOOL:
        return "Edm.Boolean";
    case AZT_TYPE_DATETIME:
        return "Edm.DateTime";
    case AZT_TYPE_GUID:
        return "Edm.Guid";
    case AZT_TYPE_BINARY:
        return "Edm.Binary";
    case AZT_TYPE_STRING:
    default:
        return "Edm.String";
    }
}

static struct slice prop_text(const struct azt_prop *p)
{
    struct slice s = {"", 0};

    if (p && p->text) {
        s.p = p->text;
        s.n = p->text_len;
    }
    return s;
}

/* ------------------------------------------------------------------------ */
/* Stage                                                                     */

const char *ls_stage_name(enum ls_stage s)
{
    switch (s) {
    case LS_STAGE_INITIAL_INTEREST:
        return "initial-interest";
    case LS_STAGE_TRIAL:
        return "trial";
    case LS_STAGE_ACTIVE:
        return "active";
    case LS_STAGE_DO_NOT_CONTACT:
        return "do-not-contact";
    case LS_STAGE_UNKNOWN:
    default:
        return "unknown";
    }
}

static enum ls_stage stage_of(struct slice action)
{
    if (slice_ieq(action, "PLT"))
        return LS_STAGE_INITIAL_INTEREST;
    if (slice_ieq(action, "StartTestDrive"))
        return LS_STAGE_TRIAL;
    if (slice_ieq(action, "INS") || slice_ieq(action, "Create"))
        return LS_STAGE_ACTIVE;
    if (slice_ieq(action, "DNC"))
        return LS_STAGE_DO_NOT_CONTACT;
    return LS_STAGE_UNKNOWN;
}

/* ------------------------------------------------------------------------ */
/* CustomerInfo                                                              */

enum { CI_FIRST, CI_LAST, CI_EMAIL, CI_PHONE, CI_COUNTRY, CI_COMPANY, CI_TITLE, CI_N };

static const char *const ci_keys[CI_N] = {"FirstName", "LastName", "Email", "Phone",
                                          "Country",   "Company",  "Title"};

static char **ci_field(struct ls_customer *c, int i)
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
        if (slice_ieq(k, ci_keys[i]))
            return i;
    return -1;
}

/* Stores text as customer field i unless already set. */
static int ci_set(struct ls_customer *c, int i, const char *p, size_t n)
{
    char **f = ci_field(c, i);

    if (*f)
        return 0;
    *f = dup_utf8(p, n, NULL);
    return *f ? 0 : LEAD_ENOMEM;
}

/* From a parsed object. Sets *bad when a field is not a string. */
static int ci_from_object(json_t *obj, struct ls_customer *c, int *bad)
{
    const char *key;
    json_t *v;
    char num[64];
    int i, rc;

    json_object_foreach(obj, key, v)
    {
        i = ci_index(key, strlen(key));
        if (i < 0 || *ci_field(c, i))
            continue;
        switch (json_typeof(v)) {
        case JSON_STRING:
            rc = ci_set(c, i, json_string_value(v), json_string_length(v));
            break;
        case JSON_INTEGER:
            snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            *bad = 1;
            rc = ci_set(c, i, num, strlen(num));
            break;
        case JSON_REAL:
            snprintf(num, sizeof(num), "%.15g", json_real_value(v));
            *bad = 1;
            rc = ci_set(c, i, num, strlen(num));
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            *bad = 1;
            rc = ci_set(c, i, json_is_true(v) ? "true" : "false", json_is_true(v) ? 4 : 5);
            break;
        case JSON_NULL:
            rc = ci_set(c, i, "", 0);
            break;
        default: /* object or array */
            *bad = 1;
            rc = ci_set(c, i, "", 0);
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
    while (i < n && is_ws((unsigned char)p[i]))
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
static int ci_salvage(const char *p, size_t n, struct ls_customer *c)
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
            if (idx >= 0 && (rc = ci_set(c, idx, json_string_value(val), json_string_length(val))))
                break;
            i += k;
        } else if (p[i] == '{' || p[i] == '[') {
            k = skip_nested(p, n, i);
            if (!k)
                break;
            if (idx >= 0 && (rc = ci_set(c, idx, "", 0)))
                break;
            i = k;
        } else {
            vs = i;
            while (i < n && !is_ws((unsigned char)p[i]) && p[i] != ',' && p[i] != '}')
                i++;
            if (i >= n) /* a truncated scalar is not kept */
                break;
            if (idx >= 0 && !(i - vs == 4 && memcmp(p + vs, "null", 4) == 0) &&
                (rc = ci_set(c, idx, p + vs, i - vs)))
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
/* 1 when a string value of the object holds a NUL (jansson refuses one in
 * a key). */
static int json_has_nul(json_t *obj)
{
    const char *key;
    json_t *v;

    if (!json_is_object(obj))
        return json_is_string(obj) && memchr(json_string_value(obj), 0, json_string_length(obj));
    json_object_foreach(obj, key, v)
    {
        if (json_is_string(v) && memchr(json_string_value(v), 0, json_string_length(v)))
            return 1;
    }
    return 0;
}

static int parse_customer(const struct azt_prop *ci, struct ls_lead *lead)
{
    struct azt_json_arena arena; /* every value parsed here is dropped here */
    struct slice text = trim(prop_text(ci));
    json_t *root = NULL;
    int bad = 0, rc = 0;

    if (!ci || text.n == 0) {
        lead->problems |= LS_LEAD_CUSTOMERINFO_MISSING;
        return 0;
    }
    azt_json_arena_begin(&arena);
    root = json_loadb(text.p, text.n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (json_has_nul(root))
        lead->problems |= LS_LEAD_NUL_IN_VALUE;
    if (!root) {
        bad = 1;
        rc = ci_salvage(text.p, text.n, &lead->customer);
    } else if (!json_is_object(root)) {
        bad = 1;
    } else {
        rc = ci_from_object(root, &lead->customer, &bad);
    }
    if (bad)
        lead->problems |= LS_LEAD_CUSTOMERINFO_MALFORMED;
    json_decref(root);
    azt_json_arena_end(&arena);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* LeadSource                                                                */

/* "Source-Action|Offer": source before the first '-', action up to the
 * first '|', offer after it; each trimmed. */
static void parse_lead_source(struct slice ls, struct slice *source, struct slice *action,
                              struct slice *offer, unsigned *problems)
{
    const char *bar, *dash;
    struct slice left = ls;

    source->n = action->n = offer->n = 0;
    source->p = action->p = offer->p = "";
    if (trim(ls).n == 0)
        return;
    bar = memchr(ls.p, '|', ls.n);
    if (bar) {
        left.n = (size_t)(bar - ls.p);
        offer->p = bar + 1;
        offer->n = ls.n - left.n - 1;
        *offer = trim(*offer);
    } else {
        *problems |= LS_LEAD_LEADSOURCE_MALFORMED;
    }
    dash = memchr(left.p, '-', left.n);
    if (dash) {
        source->p = left.p;
        source->n = (size_t)(dash - left.p);
        action->p = dash + 1;
        action->n = left.n - source->n - 1;
        *action = trim(*action);
    } else {
        *source = left;
        *problems |= LS_LEAD_LEADSOURCE_MALFORMED;
    }
    *source = trim(*source);
}

/* ------------------------------------------------------------------------ */
/* Hashes                                                                    */

static const char hexd[] = "0123456789abcdef";

static const EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!sha256_md)
        sha256_md = EVP_sha256(); /* looked up at each use, as before */
}

/* EVP_sha256() makes OpenSSL 3 look the algorithm up again at every
 * EVP_DigestInit_ex (about 3% of a sync's CPU): fetched once here and kept
 * for the life of the process. */
const EVP_MD *ls_lead_sha256(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md;
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = hexd[d[i] >> 4];
        out[2 * i + 1] = hexd[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static int upd(EVP_MD_CTX *md, const void *p, size_t n)
{
    return n == 0 || EVP_DigestUpdate(md, p, n) == 1;
}

/* lead_id: "co\0" lower(trim(email)) "\0" offer, or "row\0" PK "\0" RK. */
static int compute_lead_id(EVP_MD_CTX *md, struct ls_lead *lead, enum ls_identity identity)
{
    struct slice email = {lead->customer.email, strlen(lead->customer.email)};
    unsigned char d[EVP_MAX_MD_SIZE], chunk[256];
    unsigned int dn = 0;
    size_t i, k;
    int ok;

    email = trim(email);
    if (EVP_DigestInit_ex(md, ls_lead_sha256(), NULL) != 1)
        return LEAD_ENOMEM;
    if (identity == LS_IDENTITY_CUSTOMER_OFFER && email.n) {
        ok = upd(md, "co", 3);
        for (i = 0; ok && i < email.n; i += k) {
            for (k = 0; k < sizeof(chunk) && i + k < email.n; k++)
                chunk[k] = ascii_lower((unsigned char)email.p[i + k]);
            ok = upd(md, chunk, k);
        }
        ok = ok && upd(md, "", 1) && upd(md, lead->offer_id, strlen(lead->offer_id));
    } else {
        ok = upd(md, "row", 4) && upd(md, lead->partition_key, strlen(lead->partition_key) + 1) &&
             upd(md, lead->row_key, strlen(lead->row_key));
    }
    if (!ok || EVP_DigestFinal_ex(md, d, &dn) != 1 || dn < 8)
        return LEAD_ENOMEM;
    to_hex(d, 8, lead->lead_id);
    return 0;
}

int ls_lead_id_for(const char *email, const char *offer_id, char out[17])
{
    struct ls_lead lead = {0};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc;

    lead.customer.email = (char *)(uintptr_t)email;
    lead.offer_id = (char *)(uintptr_t)offer_id;
    lead.partition_key = lead.row_key = (char *)(uintptr_t) "";
    rc = md ? compute_lead_id(md, &lead, LS_IDENTITY_CUSTOMER_OFFER) : LEAD_ENOMEM;
    EVP_MD_CTX_free(md);
    if (rc == 0)
        memcpy(out, lead.lead_id, sizeof(lead.lead_id));
    return rc;
}

/* The content hash's input, built in one buffer and hashed in one update
 * (52 small updates per row cost more than the hashing itself). */
struct hash_input {
    unsigned char small[2048];
    unsigned char *p;
    size_t len, cap;
};

static int put_field(struct hash_input *h, const char *p, size_t n)
{
    size_t need = h->len + 8 + n;
    int i;

    if (need < n)
        return -1;
    if (need > h->cap) {
        size_t cap = h->cap * 2 > need ? h->cap * 2 : need;
        unsigned char *q = h->p == h->small ? malloc(cap) : realloc(h->p, cap);

        if (!q)
            return -1;
        if (h->p == h->small)
            memcpy(q, h->small, h->len);
        h->p = q;
        h->cap = cap;
    }
    for (i = 0; i < 8; i++)
        h->p[h->len++] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
    if (n)
        memcpy(h->p + h->len, p, n);
    h->len += n;
    return 0;
}

static int cmp_prop(const void *a, const void *b)
{
    const struct azt_prop *pa = *(const struct azt_prop *const *)a;
    const struct azt_prop *pb = *(const struct azt_prop *const *)b;

    return strcmp(pa->name, pb->name);
}

static int excluded_from_hash(const char *name)
{
    return strcmp(name, "Timestamp") == 0 || strcmp(name, "odata.etag") == 0;
}

/*
 * content_hash: SHA-256 over the sorted properties (PartitionKey and RowKey
 * included when present, Timestamp and ETag excluded), each as
 * len(name) name len(type) type len(text) text with 8-byte big-endian
 * lengths; the type is the EDM name so the hash does not depend on enum
 * values.
 */
static int compute_content_hash(EVP_MD_CTX *md, const struct azt_entity *e, struct ls_lead *lead)
{
    const struct azt_prop *small[32];
    const struct azt_prop **v = small;
    struct hash_input h;
    struct azt_prop keys[2];
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    size_t n = 0, i;
    int ok = 1, rc = 0;

    memset(keys, 0, sizeof(keys));
    h.p = h.small;
    h.len = 0;
    h.cap = sizeof(h.small);
    if (e->nprops + 2 > ARRAY_LEN(small)) {
        v = malloc((e->nprops + 2) * sizeof(*v));
        if (!v)
            return LEAD_ENOMEM;
    }
    if (e->partition_key) {
        keys[0].name = "PartitionKey";
        keys[0].text = e->partition_key;
        keys[0].text_len = strlen(e->partition_key);
        v[n++] = &keys[0];
    }
    if (e->row_key) {
        keys[1].name = "RowKey";
        keys[1].text = e->row_key;
        keys[1].text_len = strlen(e->row_key);
        v[n++] = &keys[1];
    }
    for (i = 0; i < e->nprops; i++) {
        const struct azt_prop *p = &e->props[i];

        if (p->name && !excluded_from_hash(p->name))
            v[n++] = p;
    }
    qsort(v, n, sizeof(*v), cmp_prop);
    for (i = 0; ok && i < n; i++) {
        const char *type = edm_name(v[i]->type);
        struct slice t = prop_text(v[i]);

        ok = put_field(&h, v[i]->name, strlen(v[i]->name)) == 0 &&
             put_field(&h, type, strlen(type)) == 0 && put_field(&h, t.p, t.n) == 0;
    }
    if (!ok || EVP_DigestInit_ex(md, ls_lead_sha256(), NULL) != 1 || !upd(md, h.p, h.len) ||
        EVP_DigestFinal_ex(md, d, &dn) != 1 || dn != 32) {
        rc = LEAD_ENOMEM;
        goto done;
    }
    to_hex(d, 32, lead->content_hash);
done:
    if (h.p != h.small)
        free(h.p);
    if (v != small)
        free(v);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* extra                                                                     */

/* The value as `extra` holds it: strings stay strings, Int32 and Double are
 * JSON numbers (non-finite doubles keep their text), Bool a JSON boolean,
 * the rest their canonical text. */
static json_t *typed_value(const struct azt_prop *p, json_t *text)
{
    switch (p->type) {
    case AZT_TYPE_INT32:
        return json_integer((json_int_t)p->i);
    case AZT_TYPE_DOUBLE:
        if (isfinite(p->d))
            return json_real(p->d);
        return json_incref(text);
    case AZT_TYPE_BOOL:
        return json_boolean(p->b);
    default:
        return json_incref(text);
    }
}

static int is_key_name(const char *name)
{
    return strcmp(name, "PartitionKey") == 0 || strcmp(name, "RowKey") == 0 ||
           strcmp(name, "Timestamp") == 0;
}

/* A property that is neither named nor a key goes into extra. */
static int add_prop(json_t *extra, const struct azt_prop *p)
{
    struct slice t = prop_text(p);
    json_t *text = jstr(t.p, t.n);
    int rc = -1;

    if (text)
        rc = obj_set_new(extra, p->name, typed_value(p, text));
    json_decref(text);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The lead                                                                  */

enum { N_ACTION, N_CREATED, N_CUSTOMER, N_DESCRIPTION, N_SOURCE, N_OFFER_TITLE, N_NAMED };

static const char *const named_props[N_NAMED] = {"ActionCode",  "CreatedTime", "CustomerInfo",
                                                 "Description", "LeadSource",  "OfferDisplayName"};

static int named_index(const char *name)
{
    int i;

    for (i = 0; i < N_NAMED; i++)
        if (strcmp(name, named_props[i]) == 0)
            return i;
    return -1;
}

static char *dup_cstr(const char *s)
{
    return dup_utf8(s ? s : "", s ? strlen(s) : 0, NULL);
}

static int detect_test(const struct azt_entity *e, const struct ls_lead *lead)
{
    const struct ls_customer *c = &lead->customer;
    const char *const cf[CI_N] = {c->first_name, c->last_name, c->email, c->phone,
                                  c->country,    c->company,   c->title};
    size_t i;
    int k;

    if (contains_test_marker(lead->partition_key, strlen(lead->partition_key)) ||
        contains_test_marker(lead->row_key, strlen(lead->row_key)))
        return 1;
    for (i = 0; i < e->nprops; i++) {
        const struct azt_prop *p = &e->props[i];

        if (p->name && p->type == AZT_TYPE_STRING && contains_test_marker(p->text, p->text_len))
            return 1;
    }
    for (k = 0; k < CI_N; k++) {
        const char *f = cf[k];

        if (contains_test_marker(f, strlen(f)))
            return 1;
    }
    return 0;
}

/* The row's keys and Timestamp, and the problems its values show. */
static int read_keys(const struct azt_entity *e, struct ls_lead *lead)
{
    size_t i;

    if (!e->partition_key || !e->row_key)
        lead->problems |= LS_LEAD_KEYS_MISSING;
    for (i = 0; i < e->nprops; i++)
        if (e->props[i].type == AZT_TYPE_STRING && e->props[i].text &&
            memchr(e->props[i].text, 0, e->props[i].text_len))
            lead->problems |= LS_LEAD_NUL_IN_VALUE;
    lead->partition_key = dup_cstr(e->partition_key);
    lead->row_key = dup_cstr(e->row_key);
    lead->timestamp = dup_cstr(e->timestamp);
    return lead->partition_key && lead->row_key && lead->timestamp ? 0 : -1;
}

/* The marketplace's named properties: the customer, the lead source (source,
 * action, offer), the stage, and the texts. */
static int read_named(const struct azt_prop *const *named, struct ls_lead *lead)
{
    struct slice src, act, offer, code;
    int k;

    if (parse_customer(named[N_CUSTOMER], lead) != 0)
        return -1;
    for (k = 0; k < CI_N; k++) {
        char **f = ci_field(&lead->customer, k);

        if (!*f && !(*f = dup_cstr("")))
            return -1;
    }
    parse_lead_source(prop_text(named[N_SOURCE]), &src, &act, &offer, &lead->problems);
    code = trim(prop_text(named[N_ACTION]));
    if (code.n == 0)
        code = act;
    lead->stage = stage_of(code);
    if (lead->stage == LS_STAGE_UNKNOWN)
        lead->problems |= LS_LEAD_ACTION_UNKNOWN;
    lead->source = dup_slice(src);
    lead->action = dup_slice(code);
    lead->offer_id = dup_slice(offer);
    lead->offer_title = dup_slice(prop_text(named[N_OFFER_TITLE]));
    lead->description = dup_slice(prop_text(named[N_DESCRIPTION]));
    lead->created_time = dup_slice(prop_text(named[N_CREATED]));
    return lead->source && lead->action && lead->offer_id && lead->offer_title &&
                   lead->description && lead->created_time
               ? 0
               : -1;
}

/* Every property that is neither named nor a key, into lead->extra. */
static int read_extra(const struct azt_entity *e, struct ls_lead *lead)
{
    size_t i;

    lead->extra = json_object();
    if (!lead->extra)
        return -1;
    for (i = 0; i < e->nprops; i++) {
        const struct azt_prop *p = &e->props[i];

        if (p->name && named_index(p->name) < 0 && !is_key_name(p->name) &&
            add_prop(lead->extra, p) != 0)
            return -1;
    }
    return 0;
}

int ls_lead_from_entity(const struct azt_entity *e, enum ls_identity identity, struct ls_lead **out)
{
    const struct azt_prop *named[N_NAMED] = {NULL};
    struct ls_lead *lead = NULL;
    EVP_MD_CTX *md = NULL;
    size_t i;
    int idx, rc = LEAD_ENOMEM;

    if (!out)
        return LEAD_EINVAL;
    *out = NULL;
    if (!e || (e->nprops && !e->props))
        return LEAD_EINVAL;
    lead = calloc(1, sizeof(*lead));
    if (!lead)
        goto done;
    for (i = 0; i < e->nprops; i++) {
        const char *name = e->props[i].name;

        if (name && (idx = named_index(name)) >= 0 && !named[idx])
            named[idx] = &e->props[i];
    }
    if (read_keys(e, lead) != 0 || read_named(named, lead) != 0)
        goto done;
    lead->is_test = detect_test(e, lead);
    md = EVP_MD_CTX_new();
    if (!md || compute_lead_id(md, lead, identity) != 0 || compute_content_hash(md, e, lead) != 0)
        goto done;
    if (read_extra(e, lead) != 0)
        goto done;
    *out = lead;
    lead = NULL;
    rc = 0;
done:
    EVP_MD_CTX_free(md);
    ls_lead_free(lead);
    return rc;
}

void ls_lead_free(struct ls_lead *lead)
{
    int k;

    if (!lead)
        return;
    free(lead->partition_key);
    free(lead->row_key);
    free(lead->timestamp);
    free(lead->source);
    free(lead->action);
    free(lead->offer_id);
    free(lead->offer_title);
    free(lead->description);
    free(lead->created_time);
    for (k = 0; k < CI_N; k++)
        free(*ci_field(&lead->customer, k));
    json_decref(lead->extra);
    free(lead);
}

/* ------------------------------------------------------------------------ */
/* JSON bodies                                                               */

/* A lead's own strings are valid UTF-8 by construction (dup_utf8) and the
 * keys below are ASCII literals: the bodies skip jansson's checks. */
static json_t *js(const char *s)
{
    return s ? json_stringn_nocheck(s, strlen(s)) : json_string_nocheck("");
}

json_t *ls_lead_json(const struct ls_lead *lead, enum ls_stage stage, int dnc)
{
    json_t *o = NULL, *c = NULL;
    const struct ls_customer *cu;
    int bad = 0;

    if (!lead)
        return NULL;
    cu = &lead->customer;
    o = json_object();
    c = json_object();
    if (!o || !c)
        goto fail;
    bad |= json_object_set_new_nocheck(c, "firstName", js(cu->first_name));
    bad |= json_object_set_new_nocheck(c, "lastName", js(cu->last_name));
    bad |= json_object_set_new_nocheck(c, "email", js(cu->email));
    bad |= json_object_set_new_nocheck(c, "phone", js(cu->phone));
    bad |= json_object_set_new_nocheck(c, "country", js(cu->country));
    bad |= json_object_set_new_nocheck(c, "company", js(cu->company));
    bad |= json_object_set_new_nocheck(c, "title", js(cu->title));

    bad |= json_object_set_new_nocheck(o, "leadId", js(lead->lead_id));
    bad |= json_object_set_new_nocheck(o, "partitionKey", js(lead->partition_key));
    bad |= json_object_set_new_nocheck(o, "rowKey", js(lead->row_key));
    bad |= json_object_set_new_nocheck(o, "timestamp", js(lead->timestamp));
    bad |= json_object_set_new_nocheck(o, "source", js(lead->source));
    bad |= json_object_set_new_nocheck(o, "action", js(lead->action));
    bad |= json_object_set_new_nocheck(o, "offerId", js(lead->offer_id));
    bad |= json_object_set_new_nocheck(o, "offerTitle", js(lead->offer_title));
    bad |= json_object_set_new_nocheck(o, "stage", json_string(ls_stage_name(stage)));
    bad |= json_object_set_new_nocheck(o, "doNotContact",
                                       json_boolean(dnc || stage == LS_STAGE_DO_NOT_CONTACT));
    bad |= json_object_set_new_nocheck(o, "isTest", json_boolean(lead->is_test));
    bad |= json_object_set_new_nocheck(o, "customer", c);
    c = NULL;
    bad |= json_object_set_new_nocheck(o, "description", js(lead->description));
    bad |= json_object_set_new_nocheck(o, "createdTime", js(lead->created_time));
    /* A shallow copy: the caller may add to its extra without touching the
     * lead's; the (immutable) values are shared. */
    bad |= json_object_set_new_nocheck(o, "extra",
                                       lead->extra ? json_copy(lead->extra) : json_object());
    if (bad)
        goto fail;
    return o;
fail:
    json_decref(c);
    json_decref(o);
    return NULL;
}

json_t *ls_lead_envelope(json_t *lead_obj, int created)
{
    if (!lead_obj)
        return NULL;
    return json_pack("{s:s,s:O}", "type", created ? "lead.created" : "lead.updated", "lead",
                     lead_obj);
}

const char *ls_lead_envelope_prefix(int created)
{
    return created ? "{\"type\":\"lead.created\",\"lead\":"
                   : "{\"type\":\"lead.updated\",\"lead\":";
}

static const char *get_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : "";
}

json_t *ls_lead_marketplace_body(const json_t *lead_obj)
{
    const json_t *cu;
    const char *source, *action, *offer;
    char *ls = NULL;
    size_t sn, an, on, n;
    json_t *body = NULL;

    if (!json_is_object(lead_obj))
        return NULL;
    cu = json_object_get(lead_obj, "customer");
    source = get_str(lead_obj, "source");
    action = get_str(lead_obj, "action");
    offer = get_str(lead_obj, "offerId");
    sn = strlen(source);
    an = strlen(action);
    on = strlen(offer);
    n = sn + an + on;
    ls = malloc(n + 3);
    if (!ls)
        return NULL;
    if (n == 0) {
        ls[0] = '\0';
    } else {
        memcpy(ls, source, sn);
        ls[sn] = '-';
        memcpy(ls + sn + 1, action, an);
        ls[sn + 1 + an] = '|';
        memcpy(ls + sn + an + 2, offer, on);
        ls[n + 2] = '\0';
    }
    body =
        json_pack("{s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s},s:s,s:s,s:s,s:s}", "UserDetails", "FirstName",
                  get_str(cu, "firstName"), "LastName", get_str(cu, "lastName"), "Email",
                  get_str(cu, "email"), "Phone", get_str(cu, "phone"), "Country",
                  get_str(cu, "country"), "Company", get_str(cu, "company"), "Title",
                  get_str(cu, "title"), "LeadSource", ls, "ActionCode", action, "OfferTitle",
                  get_str(lead_obj, "offerTitle"), "Description", get_str(lead_obj, "description"));
    free(ls);
    return body;
}
