/*
 * ls_lead.c - the lead model (worker/README.md, The lead model) and the lead's JSON bodies
 * (worker/README.md, The contract).
 * CustomerInfo is parsed in ls_lead_customer.c, the lead id and the content
 * hash are computed in ls_lead_hash.c; ls_lead_int.h holds what they share.
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
#include "ls_lead_int.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define MSFT_TEST "MSFT_TEST_"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

int ls_lead__is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

struct slice ls_lead__trim(struct slice s)
{
    while (s.n && ls_lead__is_ws((unsigned char)s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && ls_lead__is_ws((unsigned char)s.p[s.n - 1]))
        s.n--;
    return s;
}

/* Case-insensitive (ASCII) comparison of s[0..n) with a NUL-terminated word. */
int ls_lead__slice_ieq(struct slice s, const char *word)
{
    size_t i;

    for (i = 0; i < s.n; i++) {
        if (word[i] == '\0' || ls_lead__ascii_lower((unsigned char)s.p[i]) !=
                                   ls_lead__ascii_lower((unsigned char)word[i]))
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

/* The length of p[0..*n) once its invalid UTF-8 bytes become U+FFFD (three
 * bytes each), or SIZE_MAX when that does not fit a size_t. A NULL p is
 * empty (*n becomes 0). ASCII, most of a lead, is stepped over eight bytes
 * at a time. */
static size_t repaired_len(const char *p, size_t *np)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i = 0, bad = 0, k, n;
    uint64_t w;

    if (!p)
        *np = 0;
    n = *np;
    while (i < n) {
        if (n - i >= 8) {
            memcpy(&w, s + i, 8);
            if ((w & UINT64_C(0x8080808080808080)) == 0) {
                i += 8;
                continue;
            }
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        k = utf8_seq(s + i, n - i);
        if (k == 0) {
            bad++;
            k = 1;
        }
        i += k;
    }
    if (bad > (SIZE_MAX - 1 - n) / 2)
        return SIZE_MAX;
    return n + 2 * bad;
}

/* Writes the repaired copy of p[0..n) (rn bytes, from repaired_len) and a
 * NUL into r. */
static void repair_into(char *r, const char *p, size_t n, size_t rn)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i, k, o = 0;

    if (rn == n) {
        if (n)
            memcpy(r, p, n);
        r[n] = '\0';
        return;
    }
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
    r[o] = '\0';
}

/* malloc'd NUL-terminated copy of p[0..n) with invalid UTF-8 bytes replaced
 * by U+FFFD; *out_n gets the copy's length. NULL on allocation failure. */
char *ls_lead__dup_utf8(const char *p, size_t n, size_t *out_n)
{
    size_t rn;
    char *r;

    rn = repaired_len(p, &n);
    if (rn == SIZE_MAX)
        return NULL;
    r = malloc(rn + 1);
    if (!r)
        return NULL;
    repair_into(r, p, n, rn);
    if (out_n)
        *out_n = rn;
    return r;
}

char *ls_lead__strdup(struct ls_lead *lead, const char *p, size_t n)
{
    struct lead_impl *li = (struct lead_impl *)(void *)lead; /* lead is its first member */
    struct lead_chunk *c;
    size_t rn;
    char *r;

    rn = repaired_len(p, &n);
    if (rn == SIZE_MAX)
        return NULL;
    if (rn < sizeof(li->strings) - li->used) {
        r = li->strings + li->used;
        li->used += rn + 1;
    } else {
        if (rn > SIZE_MAX - sizeof(*c) - 1 || !(c = malloc(sizeof(*c) + rn + 1)))
            return NULL;
        c->next = li->more;
        li->more = c;
        r = c->data;
    }
    repair_into(r, p, n, rn);
    return r;
}

static char *dup_slice(struct ls_lead *lead, struct slice s)
{
    return ls_lead__strdup(lead, s.p, s.n);
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
    fixed = ls_lead__dup_utf8(p, n, &fn);
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
    fixed = ls_lead__dup_utf8(key, strlen(key), NULL);
    if (!fixed) {
        json_decref(v);
        return -1;
    }
    rc = json_object_set_new(obj, fixed, v);
    free(fixed);
    return rc;
}

struct slice ls_lead__prop_text(const struct azt_prop *p)
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
    if (ls_lead__slice_ieq(action, "PLT"))
        return LS_STAGE_INITIAL_INTEREST;
    if (ls_lead__slice_ieq(action, "StartTestDrive"))
        return LS_STAGE_TRIAL;
    if (ls_lead__slice_ieq(action, "INS") || ls_lead__slice_ieq(action, "Create"))
        return LS_STAGE_ACTIVE;
    if (ls_lead__slice_ieq(action, "DNC"))
        return LS_STAGE_DO_NOT_CONTACT;
    return LS_STAGE_UNKNOWN;
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
    if (ls_lead__trim(ls).n == 0)
        return;
    bar = memchr(ls.p, '|', ls.n);
    if (bar) {
        left.n = (size_t)(bar - ls.p);
        offer->p = bar + 1;
        offer->n = ls.n - left.n - 1;
        *offer = ls_lead__trim(*offer);
    } else {
        *problems |= LS_LEAD_LEADSOURCE_MALFORMED;
    }
    dash = memchr(left.p, '-', left.n);
    if (dash) {
        source->p = left.p;
        source->n = (size_t)(dash - left.p);
        action->p = dash + 1;
        action->n = left.n - source->n - 1;
        *action = ls_lead__trim(*action);
    } else {
        *source = left;
        *problems |= LS_LEAD_LEADSOURCE_MALFORMED;
    }
    *source = ls_lead__trim(*source);
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
    struct slice t = ls_lead__prop_text(p);
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

static char *dup_cstr(struct ls_lead *lead, const char *s)
{
    return ls_lead__strdup(lead, s ? s : "", s ? strlen(s) : 0);
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
    lead->partition_key = dup_cstr(lead, e->partition_key);
    lead->row_key = dup_cstr(lead, e->row_key);
    lead->timestamp = dup_cstr(lead, e->timestamp);
    return lead->partition_key && lead->row_key && lead->timestamp ? 0 : -1;
}

/* The marketplace's named properties: the customer, the lead source (source,
 * action, offer), the stage, and the texts. */
static int read_named(const struct azt_prop *const *named, struct ls_lead *lead)
{
    struct slice src, act, offer, code;
    int k;

    if (ls_lead__parse_customer(named[N_CUSTOMER], lead) != 0)
        return -1;
    for (k = 0; k < CI_N; k++) {
        char **f = ls_lead__ci_field(&lead->customer, k);

        if (!*f && !(*f = dup_cstr(lead, "")))
            return -1;
    }
    parse_lead_source(ls_lead__prop_text(named[N_SOURCE]), &src, &act, &offer, &lead->problems);
    code = ls_lead__trim(ls_lead__prop_text(named[N_ACTION]));
    if (code.n == 0)
        code = act;
    lead->stage = stage_of(code);
    if (lead->stage == LS_STAGE_UNKNOWN)
        lead->problems |= LS_LEAD_ACTION_UNKNOWN;
    lead->source = dup_slice(lead, src);
    lead->action = dup_slice(lead, code);
    lead->offer_id = dup_slice(lead, offer);
    lead->offer_title = dup_slice(lead, ls_lead__prop_text(named[N_OFFER_TITLE]));
    lead->description = dup_slice(lead, ls_lead__prop_text(named[N_DESCRIPTION]));
    lead->created_time = dup_slice(lead, ls_lead__prop_text(named[N_CREATED]));
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
    struct lead_impl *impl;
    struct ls_lead *lead = NULL;
    EVP_MD_CTX *md = NULL;
    size_t i;
    int idx, rc = LEAD_ENOMEM;

    if (!out)
        return LEAD_EINVAL;
    *out = NULL;
    if (!e || (e->nprops && !e->props))
        return LEAD_EINVAL;
    impl = malloc(sizeof(*impl));
    if (!impl)
        goto done;
    memset(impl, 0, offsetof(struct lead_impl, strings));
    lead = &impl->lead;
    for (i = 0; i < e->nprops; i++) {
        const char *name = e->props[i].name;

        if (name && (idx = named_index(name)) >= 0 && !named[idx])
            named[idx] = &e->props[i];
    }
    if (read_keys(e, lead) != 0 || read_named(named, lead) != 0)
        goto done;
    lead->is_test = detect_test(e, lead);
    md = EVP_MD_CTX_new();
    if (!md || ls_lead__compute_lead_id(md, lead, identity) != 0 ||
        ls_lead__compute_content_hash(md, e, lead) != 0)
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
    struct lead_impl *impl = (struct lead_impl *)(void *)lead;
    struct lead_chunk *c, *next;

    if (!lead)
        return;
    json_decref(lead->extra);
    for (c = impl->more; c; c = next) {
        next = c->next;
        free(c);
    }
    free(impl);
}

/* ------------------------------------------------------------------------ */
/* JSON bodies                                                               */

/* A lead's own strings are valid UTF-8 by construction (dup_utf8) and the
 * keys below are ASCII literals: the bodies skip jansson's checks. */
static json_t *js(const char *s)
{
    return s ? json_stringn_nocheck(s, strlen(s)) : json_string_nocheck("");
}

/* obj[key] = v for a key that is a string literal: its length is known. */
#define SET(obj, key, v) json_object_setn_new_nocheck(obj, key, sizeof(key) - 1, v)

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
    bad |= SET(c, "firstName", js(cu->first_name));
    bad |= SET(c, "lastName", js(cu->last_name));
    bad |= SET(c, "email", js(cu->email));
    bad |= SET(c, "phone", js(cu->phone));
    bad |= SET(c, "country", js(cu->country));
    bad |= SET(c, "company", js(cu->company));
    bad |= SET(c, "title", js(cu->title));

    bad |= SET(o, "leadId", js(lead->lead_id));
    bad |= SET(o, "partitionKey", js(lead->partition_key));
    bad |= SET(o, "rowKey", js(lead->row_key));
    bad |= SET(o, "timestamp", js(lead->timestamp));
    bad |= SET(o, "source", js(lead->source));
    bad |= SET(o, "action", js(lead->action));
    bad |= SET(o, "offerId", js(lead->offer_id));
    bad |= SET(o, "offerTitle", js(lead->offer_title));
    bad |= SET(o, "stage", js(ls_stage_name(stage)));
    bad |= SET(o, "doNotContact", json_boolean(dnc || stage == LS_STAGE_DO_NOT_CONTACT));
    bad |= SET(o, "isTest", json_boolean(lead->is_test));
    bad |= SET(o, "customer", c);
    c = NULL;
    bad |= SET(o, "description", js(lead->description));
    bad |= SET(o, "createdTime", js(lead->created_time));
    /* A shallow copy: the caller may add to its extra without touching the
     * lead's; the (immutable) values are shared. */
    bad |= SET(o, "extra", lead->extra ? json_copy(lead->extra) : json_object());
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
