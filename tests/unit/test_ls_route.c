/* test_ls_route.c - routes: parsing, matching, the words `check` prints. */
#include "ls_test.h"

#include "ls_route.h"

#include <stdlib.h>
#include <string.h>

static const char *const ids[] = {"sales", "alerts", "all"};

static struct ls_route_lead lead(const char *offer, const char *source, const char *action,
                                 const char *stage, const char *country)
{
    struct ls_route_lead l = {{offer, source, action, stage, country}};

    return l;
}

static void test_ls_route__match(void **state)
{
    struct ls_route *r[3];
    struct ls_route_lead a = lead("contoso.crm", "SPZA", "PLT", "initial-interest", "US");
    struct ls_route_lead b = lead("fabrikam.erp", "TestDrive", "StartTestDrive", "trial", "de");
    struct ls_route_lead c = lead("contoso.x", "AzurePortal", "Create", "active", NULL);
    char buf[256];

    (void)state;
    assert_int_equal(ls_routes_parse("{\"sales\": {\"offer\": [\"contoso.*\", \"tailspin.?\"],"
                                     " \"country\": [\"us\", \"[cC][aA]\"]},"
                                     " \"alerts\": {\"stage\": [\"trial\", \"active\"]}}",
                                     "LEADSYNC_ROUTES", ids, 3, r),
                     0);
    assert_true(ls_route_match(r[0], &a));  /* offer glob, country without regard to case */
    assert_false(ls_route_match(r[0], &b)); /* neither */
    assert_false(ls_route_match(r[0], &c)); /* offer yes, no country: fields are ANDed */
    assert_false(ls_route_match(r[1], &a));
    assert_true(ls_route_match(r[1], &b)); /* values are ORed */
    assert_true(ls_route_match(r[1], &c));
    assert_null(r[2]);
    assert_true(ls_route_match(r[2], &b)); /* no route: every lead */
    ls_route_describe(r[0], buf, sizeof(buf));
    assert_string_equal(buf, "offer contoso.*|tailspin.? and country us|[cC][aA]");
    ls_route_describe(r[2], buf, sizeof(buf));
    assert_string_equal(buf, "every lead");
    ls_route_describe(r[0], buf, 12); /* cut, still terminated */
    assert_true(strlen(buf) < 12);
    ls_route_free(r[0]);
    ls_route_free(r[1]);
    assert_int_equal(ls_routes_parse(NULL, "x", ids, 3, r), 0);
    assert_null(r[0]);
    assert_int_equal(ls_routes_parse("{\"all\": {}}", "x", ids, 3, r), 0);
    assert_true(ls_route_match(r[2], &c)); /* an empty filter takes every lead */
    ls_route_free(r[2]);
}

static void test_ls_route__errors_name_the_key(void **state)
{
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"nosuch\": {}}", "\"nosuch\""},
        {"{\"sales\": {\"offers\": [\"x\"]}}", "unknown field \"offers\""},
        {"{\"sales\": {\"offer\": \"x\"}}", "\"offer\" must be a non-empty list"},
        {"{\"sales\": {\"offer\": []}}", "\"offer\" must be a non-empty list"},
        {"{\"sales\": {\"offer\": [\"a\", \"[b\"]}}", "\"offer\" item 2"},
        {"{\"sales\": {\"offer\": [\"a\\\\\"]}}", "\"offer\" item 1"},
        {"{\"sales\": {\"offer\": [\"\"]}}", "\"offer\" item 1"},
        {"{\"sales\": {\"offer\": [1]}}", "\"offer\" item 1"},
        {"{\"sales\": 1}", "route \"sales\" must be an object"},
        {"{\"sales\": {}, \"sales\": {}}", "not JSON"},
        {"[]", "must be a JSON object"},
        {"{", "line 1"},
    };
    struct ls_route *r[3] = {NULL, NULL, NULL};
    size_t i;

    (void)state;
    for (i = 0; i < LS_ARRAY_LEN(bad); i++) {
        assert_int_equal(ls_routes_parse(bad[i].json, "LEADSYNC_ROUTES", ids, 3, r), LS_ECONFIG);
        if (!strstr(ls_error_last(), bad[i].want))
            fail_msg("%s: got \"%s\"", bad[i].json, ls_error_last());
        assert_non_null(strstr(ls_error_last(), "LEADSYNC_ROUTES"));
        assert_null(r[0]);
        assert_null(r[1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_route__match),
        cmocka_unit_test(test_ls_route__errors_name_the_key),
    };

    return lst_run_group(tests, NULL, NULL);
}
