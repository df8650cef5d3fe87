/* test_ls_mapping.c - field mappings: the built-in defaults, user extensions
 * (renames, constants, custom fields, removals), validation messages that
 * name the file and the key, and applying a mapping to lead objects. */
#include "ls_test.h"

#include "ls_mapping.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *lead_obj(const char *last, const char *company, int dnc)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s},"
                     "s:s,s:s,s:{s:s}}",
                     "leadId", "3f9c0a7d51e2b846", "source", "SPZA", "action", "PLT", "offerId",
                     "contoso.crm", "offerTitle", "Contoso CRM", "stage",
                     dnc ? "do-not-contact" : "initial-interest", "doNotContact", dnc, "isTest", 0,
                     "customer", "firstName", "Jane", "lastName", last, "email", "jane@example.com",
                     "phone", "", "country", "US", "company", company, "title", "CTO",
                     "description", "hello", "createdTime", "", "extra", "Region", "EMEA");
}

static struct ls_mapping *parse_text(const char *name, const char *text,
                                     const struct ls_mapping *base, int want_rc)
{
    struct ls_mapping *m = NULL;

    assert_int_equal(ls_mapping_parse(name, text, strlen(text), base, &m), want_rc);
    return m;
}

static void test_ls_mapping__salesforce_default(void **state)
{
    struct ls_mapping *m = NULL;
    json_t *lead = lead_obj("Doe", "Acme", 0), *rec = NULL;

    (void)state;
    assert_int_equal(ls_mapping_load("salesforce", NULL, &m), 0);
    assert_string_equal(ls_mapping_object(m), "Lead");
    assert_int_equal(ls_mapping_apply(m, lead, &rec), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "LastName")), "Doe");
    assert_string_equal(json_string_value(json_object_get(rec, "Company")), "Acme");
    assert_string_equal(json_string_value(json_object_get(rec, "Email")), "jane@example.com");
    assert_string_equal(json_string_value(json_object_get(rec, "Description")),
                        "Contoso CRM (contoso.crm), SPZA, stage initial-interest: hello");
    assert_null(json_object_get(rec, "Phone")); /* empty values are not sent */
    assert_null(json_object_get(rec, "DoNotCall"));
    json_decref(rec);
    json_decref(lead);
    ls_mapping_free(m);
}

static void test_ls_mapping__fallbacks_and_dnc(void **state)
{
    struct ls_mapping *m = NULL;
    json_t *lead = lead_obj("", "", 1), *rec = NULL;

    (void)state;
    assert_int_equal(ls_mapping_load("dynamics", NULL, &m), 0);
    assert_int_equal(ls_mapping_apply(m, lead, &rec), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "lastname")), "[not provided]");
    assert_string_equal(json_string_value(json_object_get(rec, "companyname")), "[not provided]");
    assert_int_equal(json_integer_value(json_object_get(rec, "leadsourcecode")), 8);
    assert_true(json_is_true(json_object_get(rec, "donotemail")));
    assert_true(json_is_true(json_object_get(rec, "donotphone")));
    assert_true(json_is_true(json_object_get(rec, "donotbulkemail")));
    assert_string_equal(json_string_value(json_object_get(rec, "subject")),
                        "Marketplace lead: Contoso CRM");
    json_decref(rec);
    json_decref(lead);
    ls_mapping_free(m);
}

static void test_ls_mapping__user_extends(void **state)
{
    struct ls_mapping *base = NULL, *m = NULL;
    json_t *lead = lead_obj("Doe", "Acme", 0), *rec = NULL;
    char *dir = lst_tmpdir(), path[512];
    FILE *f;

    (void)state;
    snprintf(path, sizeof(path), "%s/map.json", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"fields\": {\"Phone\": null, \"Title\": {\"from\": \"customer.title\", "
          "\"maxLength\": 2},\n \"Region__c\": \"extra.Region\", \"LeadSource\": {\"const\": "
          "\"Partner\"},\n \"Stage__c\": {\"from\": \"stage\", \"map\": {\"active\": \"Won\", "
          "\"*\": \"Open\"}},\n \"Who__c\": {\"from\": [\"customer.phone\", \"customer.email\"]},"
          "\n \"Braces__c\": {\"template\": \"{{x}} {leadId}\"}}}",
          f);
    fclose(f);
    assert_int_equal(ls_mapping_load("salesforce", path, &m), 0);
    assert_int_equal(ls_mapping_apply(m, lead, &rec), 0);
    assert_false(ls_mapping_targets(m, "Phone"));
    assert_true(ls_mapping_targets(m, "DoNotCall"));
    assert_string_equal(json_string_value(json_object_get(rec, "Title")), "CT");
    assert_string_equal(json_string_value(json_object_get(rec, "Region__c")), "EMEA");
    assert_string_equal(json_string_value(json_object_get(rec, "LeadSource")), "Partner");
    assert_string_equal(json_string_value(json_object_get(rec, "Stage__c")), "Open");
    assert_string_equal(json_string_value(json_object_get(rec, "Who__c")), "jane@example.com");
    assert_string_equal(json_string_value(json_object_get(rec, "Braces__c")),
                        "{x} 3f9c0a7d51e2b846");
    assert_string_equal(json_string_value(json_object_get(rec, "LastName")), "Doe");
    json_decref(rec);

    /* the same text through ls_mapping_parse with a base */
    assert_int_equal(ls_mapping_load("salesforce", NULL, &base), 0);
    ls_mapping_free(m);
    m = parse_text("u.json", "{\"object\": \"Contact\", \"doNotContact\": {\"DoNotCall\": null}}",
                   base, 0);
    assert_string_equal(ls_mapping_object(m), "Contact");
    assert_false(ls_mapping_targets(m, "DoNotCall"));
    assert_true(ls_mapping_targets(base, "DoNotCall")); /* base untouched */
    ls_mapping_free(m);
    ls_mapping_free(base);
    json_decref(lead);
    lst_rmtree(dir);
    free(dir);
}

static void test_ls_mapping__utf8_cut(void **state)
{
    struct ls_mapping *m = parse_text("x",
                                      "{\"fields\": {\"T\": {\"from\": \"customer.lastName\", "
                                      "\"maxLength\": 3}}}",
                                      NULL, 0);
    json_t *lead = lead_obj("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", "A", 0), *rec = NULL;

    (void)state;
    assert_int_equal(ls_mapping_apply(m, lead, &rec), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "T")), "\xc3\xa9\xc3\xa9\xc3\xa9");
    json_decref(rec);
    json_decref(lead);
    ls_mapping_free(m);
}

/* A later "Contact me" (PLT) of a lead that is already active: what the
 * record shows follows the lead's furthest stage, not the newest action. */
static void test_ls_mapping__record_follows_furthest_stage(void **state)
{
    static const char *const crms[] = {"salesforce", "dynamics", "web_to_lead"};
    static const char *const field[] = {"Description", "description", "description"};
    json_t *lead = lead_obj("Doe", "Acme", 0), *rec = NULL;
    size_t i;

    (void)state;
    json_object_set_new(lead, "stage", json_string("active"));
    for (i = 0; i < LS_ARRAY_LEN(crms); i++) {
        struct ls_mapping *m = NULL;
        const char *d;

        assert_int_equal(ls_mapping_load(crms[i], NULL, &m), 0);
        assert_int_equal(ls_mapping_apply(m, lead, &rec), 0);
        d = json_string_value(json_object_get(rec, field[i]));
        assert_non_null(d);
        assert_non_null(strstr(d, "stage active"));
        assert_null(strstr(d, "PLT"));
        if (i == 0)
            assert_string_equal(json_string_value(json_object_get(rec, "Rating")), "Hot");
        if (i == 1)
            assert_int_equal(json_integer_value(json_object_get(rec, "leadqualitycode")), 1);
        json_decref(rec);
        ls_mapping_free(m);
    }
    json_decref(lead);
}

/* Vendors count field lengths in UTF-16 code units: an emoji (U+1F600,
 * 4 bytes of UTF-8) is a surrogate pair and counts 2, and is never split. */
static void test_ls_mapping__utf16_cut(void **state)
{
    struct ls_mapping *m = parse_text("x",
                                      "{\"fields\": {\"T\": {\"from\": \"customer.lastName\", "
                                      "\"maxLength\": 3}, \"C\": {\"from\": \"customer.company\", "
                                      "\"maxLength\": 3}}}",
                                      NULL, 0);
    json_t *lead = lead_obj("a\xf0\x9f\x98\x80\xf0\x9f\x98\x80", "ab\xf0\x9f\x98\x80", 0);
    json_t *rec = NULL;

    (void)state;
    assert_int_equal(ls_mapping_apply(m, lead, &rec), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "T")), "a\xf0\x9f\x98\x80");
    assert_string_equal(json_string_value(json_object_get(rec, "C")), "ab");
    json_decref(rec);
    json_decref(lead);
    ls_mapping_free(m);
}

/* The address the marketplace wrote (" ZO.155@EXAMPLE.COM ") goes out
 * trimmed with its domain lower-cased, through every kind of source. */
static void test_ls_mapping__email_normalized(void **state)
{
    struct ls_mapping *m = NULL;
    json_t *lead = lead_obj("Doe", "Acme", 0), *rec = NULL;

    (void)state;
    json_object_set_new(json_object_get(lead, "customer"), "email",
                        json_string(" ZO.155@EXAMPLE.COM \t"));
    m = parse_text("x",
                   "{\"fields\": {\"A\": \"customer.email\", \"B\": {\"from\": "
                   "[\"customer.phone\", \"customer.email\"]}, \"C\": {\"from\": "
                   "\"customer.email\", \"maxLength\": 80}}}",
                   NULL, 0);
    assert_int_equal(ls_mapping_apply(m, lead, &rec), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "A")), "ZO.155@example.com");
    assert_string_equal(json_string_value(json_object_get(rec, "B")), "ZO.155@example.com");
    assert_string_equal(json_string_value(json_object_get(rec, "C")), "ZO.155@example.com");
    json_decref(rec);
    ls_mapping_free(m);
    assert_int_equal(ls_mapping_load("hubspot", NULL, &m), 0);
    assert_int_equal(ls_mapping_apply(m, lead, &rec), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "email")), "ZO.155@example.com");
    json_decref(rec);
    json_decref(lead);
    ls_mapping_free(m);
}

static void expect_error(const char *text, const char *want1, const char *want2)
{
    struct ls_mapping *base = NULL, *m = NULL;

    assert_int_equal(ls_mapping_load("salesforce", NULL, &base), 0);
    assert_int_equal(ls_mapping_parse("/etc/u.json", text, strlen(text), base, &m), LS_ECONFIG);
    assert_null(m);
    if (!strstr(ls_error_last(), "/etc/u.json") || !strstr(ls_error_last(), want1) ||
        (want2 && !strstr(ls_error_last(), want2)))
        fail_msg("message '%s' lacks '%s' / '%s'", ls_error_last(), want1, want2 ? want2 : "");
    ls_mapping_free(base);
}

static void test_ls_mapping__errors_name_file_and_key(void **state)
{
    struct ls_mapping *m = NULL;

    (void)state;
    expect_error("{\"fields\": {\"Email\": \"customer.mail\"}}", "fields.Email", "names no");
    expect_error("{\"fields\": {\"Email\": {\"frm\": \"customer.email\"}}}", "fields.Email",
                 "unknown key \"frm\"");
    expect_error("{\"fields\": {\"X\": {\"from\": \"stage\", \"const\": 1}}}", "fields.X",
                 "exactly one");
    expect_error("{\"fields\": {\"X\": {\"template\": \"{nope}\"}}}", "fields.X.template", NULL);
    expect_error("{\"fields\": {\"X\": {\"template\": \"a { b\"}}}", "fields.X.template", NULL);
    expect_error("{\"fields\": {\"X\": {\"const\": 1, \"maxLength\": 0}}}", "maxLength", NULL);
    expect_error("{\"field\": {}}", "unknown key \"field\"", NULL);
    expect_error("[1]", "top level", NULL);
    expect_error("{\"fields\": {\"A\": 1, \"A\": 2}}", "line 1", NULL);
    expect_error("{\"fields\": {\"A\": 7}}", "fields.A", NULL);
    /* null removals only in user files */
    assert_int_equal(ls_mapping_parse("d.json", "{\"fields\": {\"A\": null}}", 24, NULL, &m),
                     LS_ECONFIG);
    assert_int_equal(ls_mapping_load("nosuchcrm", NULL, &m), LS_ECONFIG);
    assert_int_equal(ls_mapping_load("salesforce", "/nonexistent/m.json", &m), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "/nonexistent/m.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_mapping__salesforce_default),
        cmocka_unit_test(test_ls_mapping__fallbacks_and_dnc),
        cmocka_unit_test(test_ls_mapping__user_extends),
        cmocka_unit_test(test_ls_mapping__utf8_cut),
        cmocka_unit_test(test_ls_mapping__utf16_cut),
        cmocka_unit_test(test_ls_mapping__record_follows_furthest_stage),
        cmocka_unit_test(test_ls_mapping__email_normalized),
        cmocka_unit_test(test_ls_mapping__errors_name_file_and_key),
    };

    return lst_run_group(tests, NULL, NULL);
}
