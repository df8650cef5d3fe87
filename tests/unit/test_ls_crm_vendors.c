/* test_ls_crm_vendors.c - the pure halves of the Marketo, HubSpot and
 * Web-to-Lead sinks: record building from the embedded mappings, answer
 * classification, quota and day arithmetic; the CRM string helpers. */
#include "ls_test.h"

#include "ls_crm.h"
#include "ls_hubspot.h"
#include "ls_mapping.h"
#include "ls_marketo.h"
#include "ls_web_to_lead.h"

#include <stdlib.h>
#include <string.h>

static json_t *lead(const char *email, int dnc)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}",
                     "leadId", "3f9c0a7d51e2b846", "stage", dnc ? "do-not-contact" : "active",
                     "offerId", "contoso.crm", "offerTitle", "Contoso & Co", "source", "SPZA",
                     "doNotContact", dnc, "action", dnc ? "DNC" : "INS", "description", "hi",
                     "customer", "email", email, "firstName", "Ada", "lastName", "", "company",
                     "Example Corp", "title", "CTO");
}

static void test_mkto__record(void **state)
{
    struct ls_mapping *m = NULL;
    json_t *l = lead("  Ada@Example.COM ", 0), *l2 = lead("", 1), *rec = NULL;
    char *key = NULL;

    (void)state;
    assert_int_equal(ls_mapping_load("marketo", NULL, &m), 0);
    assert_int_equal(ls_mkto_record(m, l, "email", &rec, &key), 0);
    assert_string_equal(key, "ada@example.com");
    assert_string_equal(json_string_value(json_object_get(rec, "firstName")), "Ada");
    assert_null(json_object_get(rec, "lastName")); /* empty: never blanks a field */
    assert_string_equal(json_string_value(json_object_get(rec, "leadStatus")), "Customer");
    assert_null(json_object_get(rec, "unsubscribed"));
    json_decref(rec);
    free(key);
    /* No e-mail: no lookup value. */
    assert_int_equal(ls_mkto_record(m, l2, "email", &rec, &key), LS_EINVAL);
    assert_null(rec);
    /* A custom lookup field receives the lead id; DNC flags are set. */
    assert_int_equal(ls_mkto_record(m, l2, "marketplaceLeadId", &rec, &key), 0);
    assert_string_equal(key, "3f9c0a7d51e2b846");
    assert_string_equal(json_string_value(json_object_get(rec, "marketplaceLeadId")),
                        "3f9c0a7d51e2b846");
    assert_true(json_is_true(json_object_get(rec, "unsubscribed")));
    assert_null(
        json_object_get(rec, "marketingSuspended")); /* unsubscribed is the standard field */
    json_decref(rec);
    free(key);
    json_decref(l);
    json_decref(l2);
    ls_mapping_free(m);
}

#define CLASSIFY(body, n, upd, res) ls_mkto_classify(200, body, strlen(body), n, upd, res)

static void test_mkto__classify(void **state)
{
    struct ls_sink_result r[3];
    const char *ok = "{\"success\":true,\"result\":[{\"id\":1,\"status\":\"created\"},"
                     "{\"id\":2,\"status\":\"updated\"},{\"status\":\"skipped\",\"reasons\":"
                     "[{\"code\":\"1007\",\"message\":\"Multiple leads match\"}]}]}";
    const char *nf = "{\"success\":true,\"result\":[{\"status\":\"skipped\",\"reasons\":"
                     "[{\"code\":\"1004\",\"message\":\"Lead not found\"}]}]}";

    (void)state;
    assert_int_equal(CLASSIFY(ok, 3, 0, r), LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_OK);
    assert_int_equal(r[1].outcome, LS_SINK_OK);
    assert_int_equal(r[2].outcome, LS_SINK_REJECT);
    assert_non_null(strstr(r[2].error, "1007"));
    /* Fewer results than records: nothing is trusted. */
    assert_int_equal(CLASSIFY(ok, 2, 0, r), LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_RETRY);
    /* 1004 is "nothing to do" only for a DNC update. */
    assert_int_equal(CLASSIFY(nf, 1, 1, r), LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_OK);
    assert_int_equal(CLASSIFY(nf, 1, 0, r), LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_REJECT);
    /* Call-level codes, as strings or numbers. */
    assert_int_equal(CLASSIFY("{\"success\":false,\"errors\":[{\"code\":\"601\"}]}", 2, 0, r),
                     LS_MKTO_TOKEN);
    assert_int_equal(CLASSIFY("{\"success\":false,\"errors\":[{\"code\":602}]}", 1, 0, r),
                     LS_MKTO_TOKEN);
    assert_int_equal(CLASSIFY("{\"success\":false,\"errors\":[{\"code\":\"606\"}]}", 2, 0, r),
                     LS_MKTO_THROTTLE);
    assert_true(r[1].throttled);
    assert_int_equal(r[1].outcome, LS_SINK_RETRY);
    assert_int_equal(CLASSIFY("{\"success\":false,\"errors\":[{\"code\":\"615\"}]}", 1, 0, r),
                     LS_MKTO_THROTTLE);
    assert_int_equal(CLASSIFY("{\"success\":false,\"errors\":[{\"code\":\"607\"}]}", 1, 0, r),
                     LS_MKTO_QUOTA);
    assert_int_equal(CLASSIFY("{\"success\":false,\"errors\":[{\"code\":\"611\"}]}", 1, 0, r),
                     LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_RETRY);
    assert_false(r[0].throttled);
    assert_int_equal(CLASSIFY("{\"success\":false,\"errors\":[{\"code\":\"603\"}]}", 1, 0, r),
                     LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_FATAL);
    assert_true(r[0].auth);
    assert_int_equal(CLASSIFY("{\"success\":false,\"errors\":[{\"code\":\"1003\"}]}", 1, 0, r),
                     LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_REJECT);
    assert_int_equal(CLASSIFY("not json", 1, 0, r), LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_RETRY);
    /* HTTP-level answers. */
    assert_int_equal(ls_mkto_classify(413, "", 0, 2, 0, r), LS_MKTO_SPLIT);
    assert_int_equal(ls_mkto_classify(413, "", 0, 1, 0, r), LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_REJECT);
    assert_int_equal(ls_mkto_classify(503, "x", 1, 1, 0, r), LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_RETRY);
    assert_int_equal(ls_mkto_classify(0, NULL, 0, 1, 0, r), LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_RETRY);
    assert_int_equal(ls_mkto_classify(401, "expired", 7, 2, 0, r), LS_MKTO_TOKEN);
    assert_int_equal(r[1].outcome, LS_SINK_RETRY);
    assert_string_equal(r[1].error, "HTTP 401: expired");
    assert_int_equal(ls_mkto_classify(429, "", 0, 2, 0, r), LS_MKTO_THROTTLE);
    assert_true(r[1].throttled);
    assert_int_equal(r[1].status, 429);
    assert_int_equal(ls_mkto_classify(403, "", 0, 1, 0, r), LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_FATAL);
    assert_true(r[0].auth);
    assert_int_equal(ls_mkto_classify(404, "", 0, 1, 0, r), LS_MKTO_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_FATAL);
    assert_false(r[0].auth);
    assert_int_equal(ls_mkto_classify(400, "", 0, 2, 0, r), LS_MKTO_NONE);
    assert_int_equal(r[1].outcome, LS_SINK_REJECT);
    assert_false(r[1].throttled);
}

static void test_crm__strings(void **state)
{
    char *s;

    (void)state;
    s = ls_crm_strip_slash("https://x.example///");
    assert_string_equal(s, "https://x.example");
    free(s);
    s = ls_crm_strip_slash("https://x.example/api");
    assert_string_equal(s, "https://x.example/api");
    free(s);
    s = ls_crm_strip_slash("");
    assert_string_equal(s, "");
    free(s);
    s = ls_crm_lower_trim("  Ada@Example.COM\t");
    assert_string_equal(s, "ada@example.com");
    free(s);
}

static void test_mkto__quota_and_token(void **state)
{
    char *tok = NULL;
    long exp = 0;
    const char *t = "{\"access_token\":\"cdf01657-110d:int\",\"expires_in\":3599}";

    (void)state;
    /* 2026-11-24T05:00:00Z is 23:00 CST: one hour to the reset. */
    assert_int_equal(ls_mkto_quota_reset_ms(1795496400000LL), 3600000L);
    /* 06:00Z is 00:00 CST: a whole day. */
    assert_int_equal(ls_mkto_quota_reset_ms(1795500000000LL), 86400000L);
    assert_int_equal(ls_mkto_parse_token(t, strlen(t), &tok, &exp), 0);
    assert_string_equal(tok, "cdf01657-110d:int");
    assert_int_equal(exp, 3599);
    free(tok);
    assert_int_equal(ls_mkto_parse_token("{\"expires_in\":3}", 16, &tok, &exp), LS_EPARSE);
    assert_null(tok);
    assert_int_equal(ls_mkto_parse_token("{\"access_token\":\"a\\nb\"}", 23, &tok, &exp),
                     LS_EPARSE);
}

static void test_hs__input(void **state)
{
    struct ls_mapping *m = NULL;
    json_t *l = lead("Ada@Example.com", 1), *in = NULL, *props;
    char *key = NULL;

    (void)state;
    assert_int_equal(ls_mapping_load("hubspot", NULL, &m), 0);
    assert_int_equal(ls_hs_input(m, l, "email", &in, &key), 0);
    assert_string_equal(key, "ada@example.com");
    assert_string_equal(json_string_value(json_object_get(in, "idProperty")), "email");
    assert_string_equal(json_string_value(json_object_get(in, "id")), "ada@example.com");
    props = json_object_get(in, "properties");
    assert_string_equal(json_string_value(json_object_get(props, "jobtitle")), "CTO");
    assert_null(
        json_object_get(props, "hs_email_optout")); /* read-only in HubSpot: never written */
    json_decref(in);
    free(key);
    /* A custom unique property: still one contact per e-mail (HubSpot
     * deduplicates by it); the property carries the lead id. */
    assert_int_equal(ls_hs_input(m, l, "marketplace_lead_id", &in, &key), 0);
    assert_string_equal(key, "ada@example.com");
    assert_string_equal(json_string_value(json_object_get(in, "idProperty")), "email");
    assert_string_equal(json_string_value(json_object_get(json_object_get(in, "properties"),
                                                          "marketplace_lead_id")),
                        "3f9c0a7d51e2b846");
    json_decref(in);
    free(key);
    json_decref(l);
    l = lead("", 0);
    assert_int_equal(ls_hs_input(m, l, "email", &in, &key), LS_EINVAL);
    /* No e-mail: keyed on the custom property. */
    assert_int_equal(ls_hs_input(m, l, "marketplace_lead_id", &in, &key), 0);
    assert_string_equal(key, "3f9c0a7d51e2b846");
    assert_string_equal(json_string_value(json_object_get(in, "idProperty")),
                        "marketplace_lead_id");
    json_decref(in);
    free(key);
    json_decref(l);
    ls_mapping_free(m);
}

static void test_hs__offers_union(void **state)
{
    char *u;

    (void)state;
    u = ls_hs_offers_union(NULL, "a.crm");
    assert_string_equal(u, "a.crm");
    free(u);
    u = ls_hs_offers_union("a.crm;b.erp", "c.bi");
    assert_string_equal(u, "a.crm;b.erp;c.bi");
    free(u);
    /* idempotent: a retry sends the same list */
    u = ls_hs_offers_union("a.crm; c.bi ;b.erp", "c.bi");
    assert_string_equal(u, "a.crm; c.bi ;b.erp");
    free(u);
    u = ls_hs_offers_union("a.crm", "a.crm.x"); /* whole items, not prefixes */
    assert_string_equal(u, "a.crm;a.crm.x");
    free(u);
    u = ls_hs_offers_union("a.crm", "");
    assert_string_equal(u, "a.crm");
    free(u);
}

static void test_hs__read_and_merge(void **state)
{
    const char *ids[] = {"ada@example.com", "bob@example.com", "cy@example.com"};
    const char *ans = "{\"status\":\"COMPLETE\",\"results\":[{\"id\":\"7\",\"properties\":{"
                      "\"email\":\"Bob@Example.com\",\"offers\":\"x.crm;y.erp\",\"lid\":\"L1\","
                      "\"hs_object_id\":\"7\"}},{\"id\":\"8\",\"properties\":{\"email\":"
                      "\"ada@example.com\"}}],\"errors\":[{\"category\":\"OBJECT_NOT_FOUND\","
                      "\"context\":{\"ids\":[\"cy@example.com\"]}}]}";
    json_t *found[3], *in;
    size_t i;

    (void)state;
    assert_int_equal(ls_hs_read_found(ans, strlen(ans), "email", ids, 3, found), 0);
    assert_non_null(found[0]);
    assert_non_null(found[1]);
    assert_null(found[2]);
    in = json_pack("{s:s, s:s, s:{s:s, s:s}}", "idProperty", "email", "id", ids[1], "properties",
                   "email", ids[1], "lid", "L2");
    ls_hs_merge(in, found[1], "offers", "y.erp", "lid");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(in, "properties"), "offers")),
        "x.crm;y.erp");
    /* the contact keeps the lead id it has: a unique value never moves */
    assert_null(json_object_get(json_object_get(in, "properties"), "lid"));
    ls_hs_merge(in, found[2], "offers", "z.bi", "lid"); /* a new contact */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(in, "properties"), "offers")), "z.bi");
    json_decref(in);
    for (i = 0; i < 3; i++)
        json_decref(found[i]);
    assert_int_equal(ls_hs_read_found("{}", 2, "email", ids, 3, found), LS_EPARSE);
}

static void test_hs__classify(void **state)
{
    const char *ids[] = {"a@x.com", "b@x.com", "c@x.com"};
    struct ls_sink_result r[3];
    long pause = 0;
    const char *partial = "{\"status\":\"COMPLETE\",\"results\":[{}],\"numErrors\":2,\"errors\":["
                          "{\"category\":\"VALIDATION_ERROR\",\"message\":\"bad\",\"context\":"
                          "{\"ids\":[\"B@x.com\"]}},{\"category\":\"OBJECT_NOT_FOUND\","
                          "\"message\":\"gone\",\"context\":{\"ids\":[\"c@x.com\"]}}]}";
    const char *ten = "{\"status\":\"error\",\"policyName\":\"TEN_SECONDLY_ROLLING\"}";
    const char *daily = "{\"status\":\"error\",\"policyName\":\"DAILY\"}";
    const int64_t now = 1795496400000LL; /* 05:00Z */

    (void)state;
    assert_int_equal(ls_hs_classify(200, -1, "{}", 2, ids, 3, 0, now, r, &pause), LS_HS_NONE);
    assert_int_equal(r[2].outcome, LS_SINK_OK);
    assert_int_equal(ls_hs_classify(207, -1, partial, strlen(partial), ids, 3, 0, now, r, &pause),
                     LS_HS_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_OK);
    assert_int_equal(r[1].outcome, LS_SINK_REJECT);
    assert_non_null(strstr(r[1].error, "VALIDATION_ERROR"));
    assert_int_equal(r[2].outcome, LS_SINK_REJECT);
    ls_hs_classify(207, -1, partial, strlen(partial), ids, 3, 1, now, r, &pause);
    assert_int_equal(r[2].outcome, LS_SINK_OK); /* DNC update of a missing contact */
    assert_int_equal(ls_hs_classify(429, -1, ten, strlen(ten), ids, 2, 0, now, r, &pause),
                     LS_HS_PAUSE);
    assert_int_equal(pause, 10000);
    assert_true(r[0].throttled);
    ls_hs_classify(429, 3000, ten, strlen(ten), ids, 2, 0, now, r, &pause);
    assert_int_equal(pause, 3000);
    ls_hs_classify(429, 3000, daily, strlen(daily), ids, 2, 0, now, r, &pause);
    assert_int_equal(pause, 19L * 3600000L); /* to midnight UTC */
    assert_int_equal(ls_hs_classify(423, -1, "", 0, ids, 1, 0, now, r, &pause), LS_HS_PAUSE);
    assert_int_equal(pause, 2000);
    assert_int_equal(ls_hs_classify(477, 7000, "", 0, ids, 1, 0, now, r, &pause), LS_HS_PAUSE);
    assert_int_equal(pause, 7000);
    assert_int_equal(ls_hs_classify(401, -1, "{}", 2, ids, 2, 0, now, r, &pause), LS_HS_NONE);
    assert_int_equal(r[1].outcome, LS_SINK_FATAL);
    assert_true(r[1].auth);
    assert_non_null(strstr(r[1].error, "revoked"));
    assert_int_equal(ls_hs_classify(400, -1, "{}", 2, ids, 2, 0, now, r, &pause), LS_HS_SINGLE);
    assert_int_equal(ls_hs_classify(400, -1, "{}", 2, ids, 1, 0, now, r, &pause), LS_HS_NONE);
    assert_int_equal(r[0].outcome, LS_SINK_REJECT);
    ls_hs_classify(502, -1, "", 0, ids, 1, 0, now, r, &pause);
    assert_int_equal(r[0].outcome, LS_SINK_RETRY);
    assert_false(r[0].throttled);
    ls_hs_classify(404, -1, "", 0, ids, 1, 0, now, r, &pause);
    assert_int_equal(r[0].outcome, LS_SINK_FATAL);
}

static void test_w2l__form_and_classify(void **state)
{
    struct ls_mapping *m = NULL;
    json_t *l = lead("ada+x@example.com", 0);
    struct ls_sink_result r;
    char *form = NULL;

    (void)state;
    assert_int_equal(ls_mapping_load("web_to_lead", NULL, &m), 0);
    assert_int_equal(ls_w2l_form(m, l, "00D5e000000AbCd", &form), 0);
    assert_true(strncmp(form, "oid=00D5e000000AbCd&", 20) == 0);
    assert_non_null(strstr(form, "&email=ada%2Bx%40example.com"));
    assert_non_null(strstr(form, "&last_name=%5Bnot%20provided%5D"));
    assert_non_null(strstr(form, "&description=Contoso%20%26%20Co"));
    free(form);
    json_decref(l);
    ls_mapping_free(m);

    ls_w2l_classify(200, 1, 0, NULL, &r);
    assert_int_equal(r.outcome, LS_SINK_OK);
    ls_w2l_classify(302, 1, 0, NULL, &r);
    assert_int_equal(r.outcome, LS_SINK_OK);
    ls_w2l_classify(0, 0, 0, "Couldn't connect", &r);
    assert_int_equal(r.outcome, LS_SINK_RETRY);
    ls_w2l_classify(0, 1, 0, "timeout", &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    assert_non_null(strstr(r.error, "not retried"));
    ls_w2l_classify(503, 1, 0, NULL, &r);
    assert_int_equal(r.outcome, LS_SINK_REJECT);
    ls_w2l_classify(0, 0, 1, "certificate", &r);
    assert_int_equal(r.outcome, LS_SINK_FATAL);
}

static void test_w2l__utc_day_of_ms(void **state)
{
    char d[11];

    (void)state;
    ls_w2l_day(0, d);
    assert_string_equal(d, "1970-01-01");
    ls_w2l_day(1795496400000LL, d);
    assert_string_equal(d, "2026-11-24");
    ls_w2l_day(951782400000LL, d); /* leap day */
    assert_string_equal(d, "2000-02-29");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mkto__record),          cmocka_unit_test(test_mkto__classify),
        cmocka_unit_test(test_mkto__quota_and_token), cmocka_unit_test(test_hs__input),
        cmocka_unit_test(test_hs__classify),          cmocka_unit_test(test_hs__offers_union),
        cmocka_unit_test(test_hs__read_and_merge),    cmocka_unit_test(test_w2l__form_and_classify),
        cmocka_unit_test(test_w2l__utc_day_of_ms),    cmocka_unit_test(test_crm__strings),
    };
    return lst_run_group(tests, NULL, NULL);
}
