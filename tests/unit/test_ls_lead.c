/* test_ls_lead.c - the lead model (worker/README.md, The lead model) and its JSON bodies
 * (worker/README.md, The contract), on entities built by hand. */
#include "ls_test.h"

#include "ls_lead.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* ------------------------------------------------------------------------ */
/* Hand-built entities                                                       */

#define MAXP         32
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct ent {
    struct azt_entity e;
    struct azt_prop props[MAXP];
};

static void ent_init(struct ent *t, const char *pk, const char *rk)
{
    memset(t, 0, sizeof(*t));
    t->e.partition_key = pk;
    t->e.row_key = rk;
    t->e.timestamp = "2026-11-24T02:03:34.5663250Z";
    t->e.etag = "W/\"datetime'2026-11-24T02%3A03%3A34.5663250Z'\"";
    t->e.props = t->props;
}

static struct azt_prop *ent_add(struct ent *t, const char *name, enum azt_type type,
                                const char *text, size_t len)
{
    struct azt_prop *p;

    assert_true(t->e.nprops < MAXP);
    p = &t->props[t->e.nprops++];
    memset(p, 0, sizeof(*p));
    p->name = name;
    p->type = type;
    p->text = text;
    p->text_len = len;
    return p;
}

static void ent_str(struct ent *t, const char *name, const char *val)
{
    ent_add(t, name, AZT_TYPE_STRING, val, strlen(val));
}

/* A typical "Contact me" row as the marketplace writes it. */
static void ent_standard(struct ent *t)
{
    ent_init(t, "11:2F24:2F2026", "6a1f0c2e-7b7e-4bd3-9c1e-0d5f6a1b2c3d");
    ent_str(t, "ActionCode", "PLT");
    ent_str(t, "CreatedTime", "11/24/2026 2:03:30 AM");
    ent_str(t, "CustomerInfo",
            "{\"FirstName\":\"Alice\",\"LastName\":\"Smith\",\"Email\":\"alice@example.com\","
            "\"Phone\":\"16175555555\",\"Country\":\"US\",\"Company\":\"Contoso\","
            "\"Title\":\"CTO\"}");
    ent_str(t, "Description", "Campaigns: spring");
    ent_str(t, "LeadSource", "SPZA-PLT|contoso.crm");
    ent_str(t, "OfferDisplayName", "Contoso CRM Connector");
    ent_str(t, "PublisherDisplayName", "Contoso Ltd");
}

/* Replaces (or adds) a string property. */
static void ent_set(struct ent *t, const char *name, const char *val)
{
    size_t i;

    for (i = 0; i < t->e.nprops; i++) {
        if (strcmp(t->props[i].name, name) == 0) {
            t->props[i].text = val;
            t->props[i].text_len = strlen(val);
            return;
        }
    }
    ent_str(t, name, val);
}

static void ent_del(struct ent *t, const char *name)
{
    size_t i;

    for (i = 0; i < t->e.nprops; i++) {
        if (strcmp(t->props[i].name, name) == 0) {
            memmove(&t->props[i], &t->props[i + 1], (t->e.nprops - i - 1) * sizeof(t->props[0]));
            t->e.nprops--;
            return;
        }
    }
    fail_msg("no property %s", name);
}

static struct ls_lead *mk_id(const struct ent *t, enum ls_identity id)
{
    struct ls_lead *lead = NULL;

    assert_int_equal(ls_lead_from_entity(&t->e, id, &lead), 0);
    assert_non_null(lead);
    return lead;
}

static struct ls_lead *mk(const struct ent *t)
{
    return mk_id(t, LS_IDENTITY_CUSTOMER_OFFER);
}

/* Builds a lead from a standard row with one property replaced. */
static struct ls_lead *mk_with(const char *name, const char *val)
{
    struct ent t;

    ent_standard(&t);
    ent_set(&t, name, val);
    return mk(&t);
}

/* Independent reference: first 16 hex chars of SHA-256(p[0..n)). */
static void sha16(const void *p, size_t n, char out[17])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    unsigned i;

    assert_int_equal(EVP_Digest(p, n, d, &dn, EVP_sha256(), NULL), 1);
    for (i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void row_id(const char *pk, const char *rk, char out[17])
{
    char buf[512];
    size_t n = 0;

    memcpy(buf, "row", 4);
    n = 4;
    memcpy(buf + n, pk, strlen(pk) + 1);
    n += strlen(pk) + 1;
    memcpy(buf + n, rk, strlen(rk));
    n += strlen(rk);
    sha16(buf, n, out);
}

static void co_id(const char *email, const char *offer, char out[17])
{
    char buf[512];
    size_t n;

    memcpy(buf, "co", 3);
    n = 3;
    memcpy(buf + n, email, strlen(email) + 1);
    n += strlen(email) + 1;
    memcpy(buf + n, offer, strlen(offer));
    n += strlen(offer);
    sha16(buf, n, out);
}

/* ------------------------------------------------------------------------ */
/* The basic mapping                                                         */

/* The customer's fields; NULL: not checked. */
static void assert_customer(const struct ls_lead *lead, const char *first_name,
                            const char *last_name, const char *email, const char *phone,
                            const char *country, const char *company, const char *title)
{
    const char *want[] = {first_name, last_name, email, phone, country, company, title};
    const char *got[] = {lead->customer.first_name, lead->customer.last_name,
                         lead->customer.email,      lead->customer.phone,
                         lead->customer.country,    lead->customer.company,
                         lead->customer.title};

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (want[i])
            assert_string_equal(got[i], want[i]);
}

static void test_ls_lead__standard_row(void **state)
{
    struct ent t;
    struct ls_lead *lead;

    (void)state;
    ent_standard(&t);
    lead = mk(&t);
    assert_string_equal(lead->partition_key, "11:2F24:2F2026");
    assert_string_equal(lead->row_key, "6a1f0c2e-7b7e-4bd3-9c1e-0d5f6a1b2c3d");
    assert_string_equal(lead->timestamp, "2026-11-24T02:03:34.5663250Z");
    assert_string_equal(lead->source, "SPZA");
    assert_string_equal(lead->action, "PLT");
    assert_string_equal(lead->offer_id, "contoso.crm");
    assert_string_equal(lead->offer_title, "Contoso CRM Connector");
    assert_string_equal(lead->description, "Campaigns: spring");
    assert_string_equal(lead->created_time, "11/24/2026 2:03:30 AM");
    assert_customer(lead, "Alice", "Smith", "alice@example.com", "16175555555", "US", "Contoso",
                    "CTO");
    assert_int_equal(lead->stage, LS_STAGE_INITIAL_INTEREST);
    assert_false(lead->is_test);
    assert_int_equal(lead->problems, 0);
    /* printf 'co\0alice@example.com\0contoso.crm' | sha256sum */
    assert_string_equal(lead->lead_id, "aebf944ff215a6b6");
    assert_int_equal(strlen(lead->content_hash), 64);
    /* extra: only the unnamed property */
    assert_int_equal(json_object_size(lead->extra), 1);
    assert_string_equal(json_string_value(json_object_get(lead->extra, "PublisherDisplayName")),
                        "Contoso Ltd");
    ls_lead_free(lead);
}

static void test_ls_lead__stage_names(void **state)
{
    (void)state;
    assert_string_equal(ls_stage_name(LS_STAGE_UNKNOWN), "unknown");
    assert_string_equal(ls_stage_name(LS_STAGE_INITIAL_INTEREST), "initial-interest");
    assert_string_equal(ls_stage_name(LS_STAGE_TRIAL), "trial");
    assert_string_equal(ls_stage_name(LS_STAGE_ACTIVE), "active");
    assert_string_equal(ls_stage_name(LS_STAGE_DO_NOT_CONTACT), "do-not-contact");
    assert_string_equal(ls_stage_name((enum ls_stage)99), "unknown");
}

static void test_ls_lead__bad_arguments(void **state)
{
    struct ls_lead *lead = (struct ls_lead *)&lead;

    (void)state;
    assert_true(ls_lead_from_entity(NULL, LS_IDENTITY_ROW, &lead) < 0);
    assert_null(lead);
    ls_lead_free(NULL);
    assert_null(ls_lead_json(NULL, LS_STAGE_ACTIVE, 0));
    assert_null(ls_lead_envelope(NULL, 1));
    assert_null(ls_lead_marketplace_body(NULL));
}

/* An entity with no properties at all: every string "", no crash. */
static void test_ls_lead__empty_entity(void **state)
{
    struct ent t;
    struct ls_lead *lead;
    char expect[17];

    (void)state;
    ent_init(&t, "p", "r");
    t.e.timestamp = NULL;
    t.e.etag = NULL;
    lead = mk(&t);
    assert_string_equal(lead->timestamp, "");
    assert_string_equal(lead->source, "");
    assert_string_equal(lead->action, "");
    assert_string_equal(lead->offer_id, "");
    assert_string_equal(lead->offer_title, "");
    assert_string_equal(lead->description, "");
    assert_string_equal(lead->created_time, "");
    assert_string_equal(lead->customer.email, "");
    assert_string_equal(lead->customer.title, "");
    assert_int_equal(lead->stage, LS_STAGE_UNKNOWN);
    assert_int_equal(lead->problems, LS_LEAD_CUSTOMERINFO_MISSING | LS_LEAD_ACTION_UNKNOWN);
    row_id("p", "r", expect);
    assert_string_equal(lead->lead_id, expect);
    assert_int_equal(json_object_size(lead->extra), 0);
    ls_lead_free(lead);
}

static void test_ls_lead__keys_missing(void **state)
{
    struct ent t;
    struct ls_lead *lead;
    char expect[17];

    (void)state;
    ent_standard(&t);
    t.e.partition_key = NULL;
    ent_set(&t, "CustomerInfo", "{}");
    lead = mk(&t);
    assert_true(lead->problems & LS_LEAD_KEYS_MISSING);
    assert_string_equal(lead->partition_key, "");
    assert_string_equal(lead->row_key, "6a1f0c2e-7b7e-4bd3-9c1e-0d5f6a1b2c3d");
    row_id("", "6a1f0c2e-7b7e-4bd3-9c1e-0d5f6a1b2c3d", expect);
    assert_string_equal(lead->lead_id, expect);
    ls_lead_free(lead);

    ent_standard(&t);
    t.e.row_key = NULL;
    lead = mk(&t);
    assert_true(lead->problems & LS_LEAD_KEYS_MISSING);
    assert_string_equal(lead->row_key, "");
    ls_lead_free(lead);

    ent_standard(&t);
    t.e.partition_key = "";
    t.e.row_key = "";
    lead = mk(&t);
    assert_false(lead->problems & LS_LEAD_KEYS_MISSING); /* empty keys are legal */
    ls_lead_free(lead);
}

/* A NUL inside a value would cut the address or name a sink sends: the row
 * is flagged, never delivered cut. */
static void test_ls_lead__nul_in_value(void **state)
{
    static const char offer[] = "Contoso\0 CRM";
    struct ent t;
    struct ls_lead *lead;

    (void)state;
    ent_standard(&t);
    lead = mk(&t);
    assert_false(lead->problems & LS_LEAD_NUL_IN_VALUE);
    ls_lead_free(lead);

    ent_standard(&t);
    ent_set(&t, "CustomerInfo",
            "{\"FirstName\":\"Alice\",\"Email\":\"alice@example.com\\u0000.evil.example\"}");
    lead = mk(&t);
    assert_true(lead->problems & LS_LEAD_NUL_IN_VALUE);
    ls_lead_free(lead);

    ent_standard(&t);
    ent_del(&t, "OfferDisplayName");
    ent_add(&t, "OfferDisplayName", AZT_TYPE_STRING, offer, sizeof(offer) - 1);
    lead = mk(&t);
    assert_true(lead->problems & LS_LEAD_NUL_IN_VALUE);
    ls_lead_free(lead);
}

/* ------------------------------------------------------------------------ */
/* CustomerInfo                                                              */

static void assert_customer_empty(const struct ls_lead *lead)
{
    assert_customer(lead, "", "", "", "", "", "", "");
}

static void test_ls_lead__customerinfo_missing(void **state)
{
    static const char *const missing[] = {"", "   ", "\t\r\n "};
    struct ent t;
    struct ls_lead *lead;
    char expect[17];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(missing); i++) {
        lead = mk_with("CustomerInfo", missing[i]);
        assert_int_equal(lead->problems, LS_LEAD_CUSTOMERINFO_MISSING);
        assert_customer_empty(lead);
        ls_lead_free(lead);
    }
    ent_standard(&t);
    ent_del(&t, "CustomerInfo");
    lead = mk(&t);
    assert_int_equal(lead->problems, LS_LEAD_CUSTOMERINFO_MISSING);
    assert_customer_empty(lead);
    /* no email: the row identity */
    row_id(t.e.partition_key, t.e.row_key, expect);
    assert_string_equal(lead->lead_id, expect);
    ls_lead_free(lead);
}

static void test_ls_lead__customerinfo_malformed(void **state)
{
    static const char *const bad[] = {
        "not json", "[\"Alice\",\"Smith\"]", "\"a string\"", "42",         "null",
        "{",        "{\"FirstName\"",        "}{",           "{\"a\":1}x",
    };
    struct ls_lead *lead;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(bad); i++) {
        lead = mk_with("CustomerInfo", bad[i]);
        assert_int_equal(lead->problems, LS_LEAD_CUSTOMERINFO_MALFORMED);
        assert_customer_empty(lead);
        /* the rest of the row still parsed */
        assert_string_equal(lead->offer_id, "contoso.crm");
        assert_int_equal(lead->stage, LS_STAGE_INITIAL_INTEREST);
        ls_lead_free(lead);
    }
}

static void test_ls_lead__customerinfo_non_string_values(void **state)
{
    struct ls_lead *lead;

    (void)state;
    lead = mk_with("CustomerInfo", "{\"FirstName\":\"Ann\",\"Phone\":1234567890,\"Company\":"
                                   "{\"Name\":\"Contoso\"},\"Title\":true,\"Email\":null,"
                                   "\"Country\":[\"US\"],\"LastName\":2.5}");
    assert_int_equal(lead->problems, LS_LEAD_CUSTOMERINFO_MALFORMED);
    assert_customer(lead, "Ann", "2.5", "", "1234567890", "", "", "true");
    ls_lead_free(lead);

    /* null alone is not a problem: it reads as absent */
    lead = mk_with("CustomerInfo", "{\"FirstName\":\"Ann\",\"Phone\":null}");
    assert_int_equal(lead->problems, 0);
    assert_string_equal(lead->customer.phone, "");
    ls_lead_free(lead);
}

static void test_ls_lead__customerinfo_truncated(void **state)
{
    struct ls_lead *lead;

    (void)state;
    lead = mk_with("CustomerInfo",
                   "{\"FirstName\":\"Ann\", \"LastName\" : \"O\\\"Neil\\u00e9\",\"Phone\":12,"
                   "\"Company\":{\"x\":[1,\"}\"]},\"Email\":\"ann@example.com\",\"Pho");
    assert_int_equal(lead->problems, LS_LEAD_CUSTOMERINFO_MALFORMED);
    assert_customer(lead, "Ann", "O\"Neil\xc3\xa9", "ann@example.com", "12", NULL, "", "");
    ls_lead_free(lead);

    /* truncated inside a value: the value is dropped, earlier ones kept */
    lead = mk_with("CustomerInfo", "{\"FirstName\":\"Ann\",\"Email\":\"ann@exa");
    assert_int_equal(lead->problems, LS_LEAD_CUSTOMERINFO_MALFORMED);
    assert_string_equal(lead->customer.first_name, "Ann");
    assert_string_equal(lead->customer.email, "");
    ls_lead_free(lead);

    /* a truncated bare number is not kept either */
    lead = mk_with("CustomerInfo", "{\"FirstName\":\"Ann\",\"Phone\":123");
    assert_string_equal(lead->customer.phone, "");
    ls_lead_free(lead);
}

static void test_ls_lead__customerinfo_keys_case_insensitive(void **state)
{
    struct ls_lead *lead;

    (void)state;
    lead = mk_with("CustomerInfo", "{\"firstname\":\"a\",\"LASTNAME\":\"b\",\"eMail\":\"c@d\","
                                   "\"phone\":\"1\",\"COUNTRY\":\"DE\",\"company\":\"e\","
                                   "\"tItLe\":\"f\",\"Other\":\"ignored\"}");
    assert_int_equal(lead->problems, 0);
    assert_customer(lead, "a", "b", "c@d", "1", "DE", "e", "f");
    ls_lead_free(lead);

    /* a key is not a prefix match */
    lead = mk_with("CustomerInfo", "{\"Emails\":\"x@y\",\"Email2\":\"z@y\"}");
    assert_string_equal(lead->customer.email, "");
    ls_lead_free(lead);
}

static void test_ls_lead__customer_fields_not_trimmed(void **state)
{
    struct ls_lead *lead;

    (void)state;
    lead =
        mk_with("CustomerInfo", "  {\"FirstName\":\"  Ann \",\"Email\":\" Ann@Example.com\\t\"}  ");
    assert_int_equal(lead->problems, 0);
    assert_string_equal(lead->customer.first_name, "  Ann ");
    assert_string_equal(lead->customer.email, " Ann@Example.com\t");
    ls_lead_free(lead);
}

static void test_ls_lead__unicode_byte_exact(void **state)
{
    /* UTF-8 as the marketplace writes it, and as \u escapes */
    static const char ci[] = "{\"FirstName\":\"Zo\xc3\xab\",\"LastName\":\"\xe6\x9d\x8e "
                             "\\u00d1\\u00fa\\u00f1ez\",\"Email\":\"j\xc3\xbcrgen@b\xc3\xa4"
                             "ckerei.de\",\"Company\":\"\xf0\x9f\x8d\x9e GmbH\"}";
    struct ls_lead *lead, *l2;
    json_t *j;

    (void)state;
    lead = mk_with("CustomerInfo", ci);
    assert_int_equal(lead->problems, 0);
    assert_string_equal(lead->customer.first_name, "Zo\xc3\xab");
    assert_string_equal(lead->customer.last_name, "\xe6\x9d\x8e \xc3\x91\xc3\xba\xc3\xb1"
                                                  "ez");
    assert_string_equal(lead->customer.email, "j\xc3\xbcrgen@b\xc3\xa4"
                                              "ckerei.de");
    assert_string_equal(lead->customer.company, "\xf0\x9f\x8d\x9e GmbH");
    j = ls_lead_json(lead, lead->stage, 0);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "customer"), "email")),
                        "j\xc3\xbcrgen@b\xc3\xa4"
                        "ckerei.de");
    json_decref(j);

    /* only ASCII letters are lowered for the identity */
    l2 = mk_with("CustomerInfo", "{\"Email\":\"J\xc3\xbcRGEN@B\xc3\xa4"
                                 "CKEREI.DE\"}");
    assert_string_equal(lead->lead_id, l2->lead_id);
    ls_lead_free(l2);
    l2 = mk_with("CustomerInfo", "{\"Email\":\"j\xc3\x9crgen@b\xc3\xa4"
                                 "ckerei.de\"}");
    assert_string_not_equal(lead->lead_id, l2->lead_id);
    ls_lead_free(l2);
    ls_lead_free(lead);
}

/* Bytes that are not UTF-8 (impossible from the service, possible by hand)
 * never make the lead or its JSON fail. */
static void test_ls_lead__invalid_utf8_repaired(void **state)
{
    struct ent t;
    struct ls_lead *lead;
    json_t *j;
    char *s;

    (void)state;
    ent_standard(&t);
    ent_set(&t, "OfferDisplayName", "Bad \xff\xfe byte \xc3");
    ent_set(&t, "Ext\xc0ra", "v\xed\xa0\x80");
    /* a bad byte after whole words of ASCII, and at the very end */
    ent_set(&t, "Description", "Campaigns: spring \xff and summer\xc3");
    lead = mk(&t);
    assert_string_equal(lead->offer_title, "Bad \xef\xbf\xbd\xef\xbf\xbd byte \xef\xbf\xbd");
    assert_string_equal(lead->description, "Campaigns: spring \xef\xbf\xbd and summer\xef\xbf\xbd");
    assert_int_equal(json_object_size(lead->extra), 2);
    j = ls_lead_json(lead, lead->stage, 0);
    assert_non_null(j);
    s = json_dumps(j, 0);
    assert_non_null(s);
    free(s);
    json_decref(j);
    ls_lead_free(lead);
}

/* ------------------------------------------------------------------------ */
/* LeadSource and actions                                                    */

static void test_ls_lead__leadsource_forms(void **state)
{
    static const struct {
        const char *ls, *source, *action, *offer;
        unsigned problems;
    } cases[] = {
        {"SPZA-PLT|contoso.crm", "SPZA", "PLT", "contoso.crm", 0},
        {"AzureMarketplace-INS|checkpoint.check-point-r77-10sg-byol", "AzureMarketplace", "INS",
         "checkpoint.check-point-r77-10sg-byol", 0},
        {"  AzurePortal - Create |  bitnami.openedxcypress ", "AzurePortal", "Create",
         "bitnami.openedxcypress", 0},
        {"SPZA-PLT", "SPZA", "PLT", "", LS_LEAD_LEADSOURCE_MALFORMED},
        {"AzureMarketplace|pub.offer", "AzureMarketplace", "", "pub.offer",
         LS_LEAD_LEADSOURCE_MALFORMED},
        {"AzureMarketplace", "AzureMarketplace", "", "", LS_LEAD_LEADSOURCE_MALFORMED},
        {"TestDrive-StartTestDrive|a.b|c", "TestDrive", "StartTestDrive", "a.b|c", 0},
        {"Src-Act-More|o", "Src", "Act-More", "o", 0},
        {"-|", "", "", "", 0},
        {"", "", "", "", 0},
        {"   ", "", "", "", 0},
    };
    struct ent t;
    struct ls_lead *lead;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        ent_standard(&t);
        ent_del(&t, "ActionCode");
        ent_set(&t, "LeadSource", cases[i].ls);
        lead = mk(&t);
        assert_string_equal(lead->source, cases[i].source);
        assert_string_equal(lead->action, cases[i].action);
        assert_string_equal(lead->offer_id, cases[i].offer);
        assert_int_equal(lead->problems & ~(unsigned)LS_LEAD_ACTION_UNKNOWN, cases[i].problems);
        ls_lead_free(lead);
    }
    /* absent */
    ent_standard(&t);
    ent_del(&t, "LeadSource");
    lead = mk(&t);
    assert_string_equal(lead->source, "");
    assert_string_equal(lead->offer_id, "");
    assert_string_equal(lead->action, "PLT"); /* from ActionCode */
    assert_int_equal(lead->problems, 0);
    ls_lead_free(lead);
}

static void test_ls_lead__actions(void **state)
{
    static const struct {
        const char *code;
        enum ls_stage stage;
    } cases[] = {
        {"PLT", LS_STAGE_INITIAL_INTEREST}, {"plt", LS_STAGE_INITIAL_INTEREST},
        {"StartTestDrive", LS_STAGE_TRIAL}, {"STARTTESTDRIVE", LS_STAGE_TRIAL},
        {"INS", LS_STAGE_ACTIVE},           {"Ins", LS_STAGE_ACTIVE},
        {"Create", LS_STAGE_ACTIVE},        {"create", LS_STAGE_ACTIVE},
        {"DNC", LS_STAGE_DO_NOT_CONTACT},   {"dnc", LS_STAGE_DO_NOT_CONTACT},
        {" DNC ", LS_STAGE_DO_NOT_CONTACT}, {"Purchase", LS_STAGE_UNKNOWN},
        {"PLTX", LS_STAGE_UNKNOWN},         {"PL", LS_STAGE_UNKNOWN},
    };
    struct ent t;
    struct ls_lead *lead;
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        ent_standard(&t);
        ent_set(&t, "ActionCode", cases[i].code);
        ent_set(&t, "LeadSource", "SPZA-PLT|contoso.crm");
        lead = mk(&t);
        assert_int_equal(lead->stage, cases[i].stage);
        if (cases[i].stage == LS_STAGE_UNKNOWN) {
            assert_int_equal(lead->problems, LS_LEAD_ACTION_UNKNOWN);
            assert_string_equal(lead->action, cases[i].code); /* raw action kept */
        } else {
            assert_int_equal(lead->problems, 0);
        }
        ls_lead_free(lead);
    }
}

static void test_ls_lead__action_code_precedence(void **state)
{
    struct ent t;
    struct ls_lead *lead;

    (void)state;
    /* ActionCode wins over the LeadSource action */
    ent_standard(&t);
    ent_set(&t, "ActionCode", "INS");
    ent_set(&t, "LeadSource", "SPZA-PLT|contoso.crm");
    lead = mk(&t);
    assert_string_equal(lead->action, "INS");
    assert_int_equal(lead->stage, LS_STAGE_ACTIVE);
    ls_lead_free(lead);

    /* empty or blank ActionCode: the LeadSource action */
    ent_set(&t, "ActionCode", "  ");
    ent_set(&t, "LeadSource", "TestDrive-StartTestDrive|contoso.crm");
    lead = mk(&t);
    assert_string_equal(lead->action, "StartTestDrive");
    assert_int_equal(lead->stage, LS_STAGE_TRIAL);
    ls_lead_free(lead);

    /* neither: unknown */
    ent_set(&t, "ActionCode", "");
    ent_set(&t, "LeadSource", "SPZA|contoso.crm");
    lead = mk(&t);
    assert_string_equal(lead->action, "");
    assert_int_equal(lead->stage, LS_STAGE_UNKNOWN);
    assert_int_equal(lead->problems, LS_LEAD_ACTION_UNKNOWN | LS_LEAD_LEADSOURCE_MALFORMED);
    ls_lead_free(lead);
}

/* ------------------------------------------------------------------------ */
/* Identity                                                                  */

static void test_ls_lead__lead_id_email_variants(void **state)
{
    static const char *const variants[] = {
        "{\"Email\":\"alice@example.com\"}",
        "{\"Email\":\"Alice@Example.COM\"}",
        "{\"Email\":\"  ALICE@EXAMPLE.COM\\t\\r\\n\"}",
        "{\"email\":\" alice@example.com \",\"FirstName\":\"Other\"}",
    };
    struct ent t;
    struct ls_lead *lead;
    char expect[17];
    size_t i;

    (void)state;
    co_id("alice@example.com", "contoso.crm", expect);
    assert_string_equal(expect, "aebf944ff215a6b6");
    for (i = 0; i < ARRAY_LEN(variants); i++) {
        ent_standard(&t);
        ent_set(&t, "CustomerInfo", variants[i]);
        /* a different row and action: still one lead */
        t.e.row_key = i % 2 ? "other-row" : "6a1f";
        ent_set(&t, "ActionCode", i % 2 ? "INS" : "PLT");
        lead = mk(&t);
        assert_string_equal(lead->lead_id, expect);
        ls_lead_free(lead);
    }
}

static void test_ls_lead__lead_id_offer_and_fallbacks(void **state)
{
    struct ent t;
    struct ls_lead *a, *b;
    char expect[17];

    (void)state;
    ent_standard(&t);
    a = mk(&t);
    ent_set(&t, "LeadSource", "SPZA-PLT|contoso.other");
    b = mk(&t);
    assert_string_not_equal(a->lead_id, b->lead_id);
    co_id("alice@example.com", "contoso.other", expect);
    assert_string_equal(b->lead_id, expect);
    ls_lead_free(b);

    /* row identity configured: keys, whatever the email */
    b = mk_id(&t, LS_IDENTITY_ROW);
    row_id(t.e.partition_key, t.e.row_key, expect);
    assert_string_equal(b->lead_id, expect);
    assert_string_not_equal(a->lead_id, b->lead_id);
    ls_lead_free(b);
    ls_lead_free(a);

    /* blank email: the row identity, different per row */
    ent_init(&t, "pk1", "rk1");
    ent_str(&t, "CustomerInfo", "{\"Email\":\"  \",\"FirstName\":\"Bob\"}");
    ent_str(&t, "LeadSource", "SPZA-PLT|contoso.crm");
    a = mk(&t);
    /* printf 'row\0pk1\0rk1' | sha256sum */
    assert_string_equal(a->lead_id, "77e8b461baf36713");
    t.e.row_key = "rk2";
    b = mk(&t);
    assert_string_not_equal(a->lead_id, b->lead_id);
    ls_lead_free(a);
    ls_lead_free(b);

    /* the key boundary is unambiguous: ("ab","c") != ("a","bc") */
    ent_init(&t, "ab", "c");
    a = mk_id(&t, LS_IDENTITY_ROW);
    t.e.partition_key = "a";
    t.e.row_key = "bc";
    b = mk_id(&t, LS_IDENTITY_ROW);
    assert_string_not_equal(a->lead_id, b->lead_id);
    ls_lead_free(a);
    ls_lead_free(b);
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */

static void test_ls_lead__long_description(void **state)
{
    struct ls_lead *lead;
    json_t *j;
    char *d;
    size_t i;

    (void)state;
    d = malloc(30001);
    assert_non_null(d);
    for (i = 0; i < 30000; i++)
        d[i] = (char)('a' + i % 26);
    d[30000] = '\0';
    lead = mk_with("Description", d);
    assert_int_equal(strlen(lead->description), 30000);
    assert_string_equal(lead->description, d);
    j = ls_lead_json(lead, lead->stage, 0);
    assert_string_equal(json_string_value(json_object_get(j, "description")), d);
    json_decref(j);
    ls_lead_free(lead);
    free(d);
}

/* A lead's strings share one block; values that do not fit it get their
 * own, and the ones after them still read back whole. */
static void test_ls_lead__strings_past_the_block(void **state)
{
    char desc[701], title[701], source[64];
    struct ent t;
    struct ls_lead *lead;

    (void)state;
    memset(desc, 'd', sizeof(desc) - 1);
    desc[sizeof(desc) - 1] = '\0';
    memset(title, 't', sizeof(title) - 1);
    title[sizeof(title) - 1] = '\0';
    title[350] = '\xff'; /* repaired: the copy grows by two bytes */
    ent_standard(&t);
    ent_set(&t, "Description", desc);
    ent_set(&t, "OfferDisplayName", title);
    snprintf(source, sizeof(source), "SPZA-PLT|contoso.crm");
    ent_set(&t, "LeadSource", source);
    lead = mk(&t);
    assert_string_equal(lead->description, desc);
    assert_int_equal(strlen(lead->offer_title), 702);
    assert_memory_equal(lead->offer_title + 350, "\xef\xbf\xbd", 3);
    assert_string_equal(lead->offer_id, "contoso.crm");
    assert_string_equal(lead->created_time, "11/24/2026 2:03:30 AM");
    assert_string_equal(lead->partition_key, "11:2F24:2F2026");
    assert_customer(lead, "Alice", "Smith", "alice@example.com", "16175555555", "US", "Contoso",
                    "CTO");
    ls_lead_free(lead);
}

static void test_ls_lead__typed_extra(void **state)
{
    struct ent t;
    struct ls_lead *lead;
    struct azt_prop *p;
    json_t *x;

    (void)state;
    ent_standard(&t);
    p = ent_add(&t, "Big", AZT_TYPE_INT64, "9007199254740993", 16);
    p->i = 9007199254740993LL;
    p = ent_add(&t, "Small", AZT_TYPE_INT32, "-42", 3);
    p->i = -42;
    p = ent_add(&t, "Ratio", AZT_TYPE_DOUBLE, "2.5", 3);
    p->d = 2.5;
    p = ent_add(&t, "NotANumber", AZT_TYPE_DOUBLE, "NaN", 3);
    p->d = NAN;
    p = ent_add(&t, "Huge", AZT_TYPE_DOUBLE, "-Infinity", 9);
    p->d = -INFINITY;
    ent_add(&t, "Id", AZT_TYPE_GUID, "c9da6455-213d-42c9-9a79-3e9149a57833", 36);
    ent_add(&t, "Blob", AZT_TYPE_BINARY, "AAEC/w==", 8);
    ent_add(&t, "When", AZT_TYPE_DATETIME, "2026-11-24T02:03:34.1234567Z", 28);
    p = ent_add(&t, "Flag", AZT_TYPE_BOOL, "true", 4);
    p->b = 1;
    p = ent_add(&t, "Off", AZT_TYPE_BOOL, "false", 5);
    p->b = 0;
    ent_add(&t, "WithNul", AZT_TYPE_STRING, "a\0b", 3);
    lead = mk(&t);
    x = lead->extra;
    assert_int_equal(json_object_size(x), 12);
    assert_string_equal(json_string_value(json_object_get(x, "Big")), "9007199254740993");
    assert_true(json_is_integer(json_object_get(x, "Small")));
    assert_int_equal(json_integer_value(json_object_get(x, "Small")), -42);
    assert_true(json_is_real(json_object_get(x, "Ratio")));
    assert_true(json_real_value(json_object_get(x, "Ratio")) == 2.5);
    assert_string_equal(json_string_value(json_object_get(x, "NotANumber")), "NaN");
    assert_string_equal(json_string_value(json_object_get(x, "Huge")), "-Infinity");
    assert_string_equal(json_string_value(json_object_get(x, "Id")),
                        "c9da6455-213d-42c9-9a79-3e9149a57833");
    assert_string_equal(json_string_value(json_object_get(x, "Blob")), "AAEC/w==");
    assert_string_equal(json_string_value(json_object_get(x, "When")),
                        "2026-11-24T02:03:34.1234567Z");
    assert_true(json_is_true(json_object_get(x, "Flag")));
    assert_true(json_is_false(json_object_get(x, "Off")));
    assert_int_equal(json_string_length(json_object_get(x, "WithNul")), 3);
    assert_memory_equal(json_string_value(json_object_get(x, "WithNul")), "a\0b", 3);
    assert_string_equal(json_string_value(json_object_get(x, "PublisherDisplayName")),
                        "Contoso Ltd");
    /* named properties never land in extra */
    assert_null(json_object_get(x, "CustomerInfo"));
    assert_null(json_object_get(x, "LeadSource"));
    assert_null(json_object_get(x, "ActionCode"));

    ls_lead_free(lead);
}

static void test_ls_lead__msft_test_detection(void **state)
{
    static const struct {
        const char *name, *value;
        int is_test;
    } cases[] = {
        {"CustomerInfo", "{\"FirstName\":\"MSFT_TEST_636737558587117715\",\"Phone\":\"1\"}", 1},
        {"CustomerInfo", "{\"Email\":\"MSFT_TEST_1@example.com\"}", 1},
        {"CustomerInfo", "{\"Email\":\"MSFT\\u005fTEST_1@example.com\"}", 1}, /* decoded */
        {"LeadSource", "MSFT_TEST_636737558587117715-MSFT_TEST_636737558587117715|Offer", 1},
        {"ActionCode", "MSFT_TEST_1", 1},
        {"OfferDisplayName", "MSFT_TEST_Offer", 1},
        {"Description", "xxMSFT_TEST_", 1},
        {"SomethingElse", "MSFT_TEST_7", 1},
        {"Description", "MSFT_TEST", 0},
        {"Description", "msft_test_1", 0},
        {"Description", "MSFT-TEST_1", 0},
    };
    struct ls_lead *lead;
    size_t i;

    (void)state;
    lead = mk_with("Description", "ordinary");
    assert_false(lead->is_test);
    ls_lead_free(lead);
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        lead = mk_with(cases[i].name, cases[i].value);
        assert_int_equal(lead->is_test, cases[i].is_test);
        ls_lead_free(lead);
    }
}

/* ------------------------------------------------------------------------ */
/* Content hash                                                              */

static void test_ls_lead__content_hash(void **state)
{
    struct ent t, u;
    struct ls_lead *a, *b;
    struct azt_prop *p;

    (void)state;
    ent_standard(&t);
    a = mk(&t);

    /* rewritten with identical content: new Timestamp and ETag, props reordered */
    ent_standard(&u);
    u.e.timestamp = "2026-12-01T00:00:00.0000001Z";
    u.e.etag = "W/\"other\"";
    memcpy(&u.props[0], &t.props[6], sizeof(u.props[0]));
    memcpy(&u.props[6], &t.props[0], sizeof(u.props[0]));
    b = mk(&u);
    assert_string_equal(a->content_hash, b->content_hash);
    ls_lead_free(b);

    /* a Timestamp property (should one be present) is excluded too */
    ent_str(&u, "Timestamp", "2026");
    b = mk(&u);
    assert_string_equal(a->content_hash, b->content_hash);
    ls_lead_free(b);

    /* any value change */
    b = mk_with("Description", "Campaigns: spring ");
    assert_string_not_equal(a->content_hash, b->content_hash);
    ls_lead_free(b);
    b = mk_with("PublisherDisplayName", "Contoso Ltd.");
    assert_string_not_equal(a->content_hash, b->content_hash);
    ls_lead_free(b);
    /* an added property, even empty */
    b = mk_with("New", "");
    assert_string_not_equal(a->content_hash, b->content_hash);
    ls_lead_free(b);
    /* keys are content */
    ent_standard(&u);
    u.e.row_key = "x";
    b = mk(&u);
    assert_string_not_equal(a->content_hash, b->content_hash);
    ls_lead_free(b);
    /* the same text with another type */
    ent_standard(&u);
    p = ent_add(&u, "N", AZT_TYPE_INT32, "5", 1);
    p->i = 5;
    b = mk(&u);
    u.props[u.e.nprops - 1].type = AZT_TYPE_INT64;
    ls_lead_free(a);
    a = mk(&u);
    assert_string_not_equal(a->content_hash, b->content_hash);
    ls_lead_free(a);
    ls_lead_free(b);

    /* name/value boundaries are length-prefixed: "ab"="c" != "a"="bc" */
    ent_init(&t, "p", "r");
    ent_str(&t, "ab", "c");
    a = mk(&t);
    ent_init(&t, "p", "r");
    ent_str(&t, "a", "bc");
    b = mk(&t);
    assert_string_not_equal(a->content_hash, b->content_hash);
    ls_lead_free(a);
    ls_lead_free(b);
}

/* The documented serialization, computed independently. */
static void test_ls_lead__content_hash_vector(void **state)
{
    static const unsigned char ser[] = {
        0, 0, 0, 0, 0, 0, 0, 1, 'A', 0, 0, 0, 0, 0, 0, 0, 9, 'E', 'd', 'm', '.', 'I', 'n', 't', '6',
        '4', 0, 0, 0, 0, 0, 0, 0, 2, '1', '0',
        /* PartitionKey */
        0, 0, 0, 0, 0, 0, 0, 12, 'P', 'a', 'r', 't', 'i', 't', 'i', 'o', 'n', 'K', 'e', 'y', 0, 0,
        0, 0, 0, 0, 0, 10, 'E', 'd', 'm', '.', 'S', 't', 'r', 'i', 'n', 'g', 0, 0, 0, 0, 0, 0, 0, 1,
        'p',
        /* RowKey */
        0, 0, 0, 0, 0, 0, 0, 6, 'R', 'o', 'w', 'K', 'e', 'y', 0, 0, 0, 0, 0, 0, 0, 10, 'E', 'd',
        'm', '.', 'S', 't', 'r', 'i', 'n', 'g', 0, 0, 0, 0, 0, 0, 0, 0};
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dn = 0, i;
    char hex[65];
    struct ent t;
    struct ls_lead *lead;
    struct azt_prop *p;

    (void)state;
    assert_int_equal(EVP_Digest(ser, sizeof(ser), d, &dn, EVP_sha256(), NULL), 1);
    for (i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    ent_init(&t, "p", "");
    p = ent_add(&t, "A", AZT_TYPE_INT64, "10", 2);
    p->i = 10;
    lead = mk(&t);
    assert_string_equal(lead->content_hash, hex);
    /* The golden value, computed once independently: the content hash
     * decides whether a row changed (and feeds the delivery id), so a
     * different value after an upgrade would deliver every lead again. */
    assert_string_equal(lead->content_hash,
                        "1c4ed436f38b28d44ee60393eb3fcef38046cb89a4f1cecc57c1a8508bda30ec");
    ls_lead_free(lead);
}

/* ------------------------------------------------------------------------ */
/* JSON bodies                                                               */

static void test_ls_lead__json_contract(void **state)
{
    static const char *const keys[] = {
        "leadId", "partitionKey", "rowKey",      "timestamp",   "source",
        "action", "offerId",      "offerTitle",  "stage",       "doNotContact",
        "isTest", "customer",     "description", "createdTime", "extra",
    };
    static const char *const ckeys[] = {"firstName", "lastName", "email", "phone",
                                        "country",   "company",  "title"};
    struct ent t;
    struct ls_lead *lead;
    json_t *j, *c;
    const char *k;
    json_t *v;
    size_t i = 0;

    (void)state;
    ent_standard(&t);
    lead = mk(&t);
    j = ls_lead_json(lead, LS_STAGE_ACTIVE, 0);
    assert_non_null(j);
    /* exactly the contract's keys, in its order */
    assert_int_equal(json_object_size(j), ARRAY_LEN(keys));
    json_object_foreach(j, k, v)
    {
        assert_string_equal(k, keys[i]);
        i++;
    }
    assert_string_equal(json_string_value(json_object_get(j, "leadId")), lead->lead_id);
    assert_string_equal(json_string_value(json_object_get(j, "partitionKey")), "11:2F24:2F2026");
    assert_string_equal(json_string_value(json_object_get(j, "rowKey")),
                        "6a1f0c2e-7b7e-4bd3-9c1e-0d5f6a1b2c3d");
    assert_string_equal(json_string_value(json_object_get(j, "timestamp")),
                        "2026-11-24T02:03:34.5663250Z");
    assert_string_equal(json_string_value(json_object_get(j, "source")), "SPZA");
    assert_string_equal(json_string_value(json_object_get(j, "action")), "PLT");
    assert_string_equal(json_string_value(json_object_get(j, "offerId")), "contoso.crm");
    assert_string_equal(json_string_value(json_object_get(j, "offerTitle")),
                        "Contoso CRM Connector");
    /* the effective stage passed in, not the row's own */
    assert_string_equal(json_string_value(json_object_get(j, "stage")), "active");
    assert_true(json_is_false(json_object_get(j, "doNotContact")));
    assert_true(json_is_false(json_object_get(j, "isTest")));
    assert_string_equal(json_string_value(json_object_get(j, "description")), "Campaigns: spring");
    assert_string_equal(json_string_value(json_object_get(j, "createdTime")),
                        "11/24/2026 2:03:30 AM");
    c = json_object_get(j, "customer");
    assert_int_equal(json_object_size(c), ARRAY_LEN(ckeys));
    i = 0;
    json_object_foreach(c, k, v)
    {
        assert_string_equal(k, ckeys[i]);
        assert_true(json_is_string(v));
        i++;
    }
    assert_string_equal(json_string_value(json_object_get(c, "firstName")), "Alice");
    assert_string_equal(json_string_value(json_object_get(c, "lastName")), "Smith");
    assert_string_equal(json_string_value(json_object_get(c, "email")), "alice@example.com");
    assert_string_equal(json_string_value(json_object_get(c, "phone")), "16175555555");
    assert_string_equal(json_string_value(json_object_get(c, "country")), "US");
    assert_string_equal(json_string_value(json_object_get(c, "company")), "Contoso");
    assert_string_equal(json_string_value(json_object_get(c, "title")), "CTO");
    assert_true(json_equal(json_object_get(j, "extra"), lead->extra));
    /* the body's extra is its own object */
    assert_int_equal(json_object_set_new(json_object_get(j, "extra"), "X", json_true()), 0);
    assert_null(json_object_get(lead->extra, "X"));
    json_decref(j);

    /* DNC: the sticky flag, or the stage itself */
    j = ls_lead_json(lead, LS_STAGE_ACTIVE, 1);
    assert_true(json_is_true(json_object_get(j, "doNotContact")));
    json_decref(j);
    j = ls_lead_json(lead, LS_STAGE_DO_NOT_CONTACT, 0);
    assert_true(json_is_true(json_object_get(j, "doNotContact")));
    assert_string_equal(json_string_value(json_object_get(j, "stage")), "do-not-contact");
    json_decref(j);
    j = ls_lead_json(lead, LS_STAGE_UNKNOWN, 0);
    assert_string_equal(json_string_value(json_object_get(j, "stage")), "unknown");
    json_decref(j);
    ls_lead_free(lead);

    lead = mk_with("Description", "MSFT_TEST_1");
    j = ls_lead_json(lead, lead->stage, 0);
    assert_true(json_is_true(json_object_get(j, "isTest")));
    assert_string_equal(json_string_value(json_object_get(j, "stage")), "initial-interest");
    json_decref(j);
    ls_lead_free(lead);
}

static void test_ls_lead__envelope(void **state)
{
    struct ent t;
    struct ls_lead *lead;
    json_t *j, *env;

    (void)state;
    ent_standard(&t);
    lead = mk(&t);
    j = ls_lead_json(lead, lead->stage, 0);
    env = ls_lead_envelope(j, 1);
    assert_non_null(env);
    assert_int_equal(json_object_size(env), 2);
    assert_string_equal(json_string_value(json_object_get(env, "type")), "lead.created");
    assert_ptr_equal(json_object_get(env, "lead"), j);
    json_decref(env);
    env = ls_lead_envelope(j, 0);
    assert_string_equal(json_string_value(json_object_get(env, "type")), "lead.updated");
    json_decref(env);
    /* borrowed: j is still ours */
    assert_string_equal(json_string_value(json_object_get(j, "leadId")), lead->lead_id);
    json_decref(j);
    ls_lead_free(lead);
}

static void test_ls_lead__marketplace_body(void **state)
{
    struct ent t;
    struct ls_lead *lead;
    json_t *j, *body, *expect;
    json_error_t err;

    (void)state;
    ent_standard(&t);
    ent_set(&t, "ActionCode", "INS");
    lead = mk(&t);
    j = ls_lead_json(lead, LS_STAGE_ACTIVE, 0);
    body = ls_lead_marketplace_body(j);
    assert_non_null(body);
    expect = json_loads("{\"UserDetails\":{\"FirstName\":\"Alice\",\"LastName\":\"Smith\","
                        "\"Email\":\"alice@example.com\",\"Phone\":\"16175555555\","
                        "\"Country\":\"US\",\"Company\":\"Contoso\",\"Title\":\"CTO\"},"
                        "\"LeadSource\":\"SPZA-INS|contoso.crm\",\"ActionCode\":\"INS\","
                        "\"OfferTitle\":\"Contoso CRM Connector\","
                        "\"Description\":\"Campaigns: spring\"}",
                        0, &err);
    assert_non_null(expect);
    assert_true(json_equal(body, expect));
    json_decref(expect);
    json_decref(body);
    json_decref(j);
    ls_lead_free(lead);

    /* an empty lead gives empty strings, not missing fields */
    ent_init(&t, "p", "r");
    lead = mk(&t);
    j = ls_lead_json(lead, lead->stage, 0);
    body = ls_lead_marketplace_body(j);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "LeadSource")), "");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(body, "UserDetails"), "Email")), "");
    assert_string_equal(json_string_value(json_object_get(body, "OfferTitle")), "");
    json_decref(body);
    json_decref(j);
    ls_lead_free(lead);

    /* a lead object missing fields (e.g. an older outbox row) */
    j = json_pack("{s:s}", "offerId", "a.b");
    body = ls_lead_marketplace_body(j);
    assert_non_null(body);
    assert_string_equal(json_string_value(json_object_get(body, "LeadSource")), "-|a.b");
    json_decref(body);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_lead__standard_row),
        cmocka_unit_test(test_ls_lead__stage_names),
        cmocka_unit_test(test_ls_lead__bad_arguments),
        cmocka_unit_test(test_ls_lead__empty_entity),
        cmocka_unit_test(test_ls_lead__keys_missing),
        cmocka_unit_test(test_ls_lead__nul_in_value),
        cmocka_unit_test(test_ls_lead__customerinfo_missing),
        cmocka_unit_test(test_ls_lead__customerinfo_malformed),
        cmocka_unit_test(test_ls_lead__customerinfo_non_string_values),
        cmocka_unit_test(test_ls_lead__customerinfo_truncated),
        cmocka_unit_test(test_ls_lead__customerinfo_keys_case_insensitive),
        cmocka_unit_test(test_ls_lead__customer_fields_not_trimmed),
        cmocka_unit_test(test_ls_lead__unicode_byte_exact),
        cmocka_unit_test(test_ls_lead__invalid_utf8_repaired),
        cmocka_unit_test(test_ls_lead__leadsource_forms),
        cmocka_unit_test(test_ls_lead__actions),
        cmocka_unit_test(test_ls_lead__action_code_precedence),
        cmocka_unit_test(test_ls_lead__lead_id_email_variants),
        cmocka_unit_test(test_ls_lead__lead_id_offer_and_fallbacks),
        cmocka_unit_test(test_ls_lead__long_description),
        cmocka_unit_test(test_ls_lead__strings_past_the_block),
        cmocka_unit_test(test_ls_lead__typed_extra),
        cmocka_unit_test(test_ls_lead__msft_test_detection),
        cmocka_unit_test(test_ls_lead__content_hash),
        cmocka_unit_test(test_ls_lead__content_hash_vector),
        cmocka_unit_test(test_ls_lead__json_contract),
        cmocka_unit_test(test_ls_lead__envelope),
        cmocka_unit_test(test_ls_lead__marketplace_body),
    };

    return lst_run_group(tests, NULL, NULL);
}
