/* test_azt_entity.c - Query Entities page parsing. */
#include "ls_test.h"

#include "azt.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct azt_page *parse_fixture(const char *rel)
{
    size_t len = 0;
    char *body = lst_fixture(rel, &len);
    struct azt_page *page = NULL;
    int rc = azt_page_parse(body, len, &page);

    free(body);
    if (rc != 0)
        fail_msg("%s: %s", rel, azt_error_last());
    assert_non_null(page);
    return page;
}

static const struct azt_prop *prop(const struct azt_entity *e, const char *name, enum azt_type type,
                                   const char *text)
{
    const struct azt_prop *p = azt_entity_prop(e, name);

    if (!p)
        fail_msg("no property %s", name);
    assert_int_equal(p->type, type);
    assert_string_equal(p->name, name);
    if (text) {
        assert_int_equal(p->text_len, strlen(text));
        assert_string_equal(p->text, text);
    }
    return p;
}

static void test_azt_entity__nometadata(void **state)
{
    struct azt_page *page = parse_fixture("azure/page_nometadata.json");
    const struct azt_entity *e;

    (void)state;
    assert_int_equal(page->count, 2);
    e = &page->entities[0];
    assert_string_equal(e->partition_key, "p1");
    assert_string_equal(e->row_key, "r00001");
    assert_string_equal(e->timestamp, "2026-11-24T02:03:34.5663250Z");
    assert_null(e->etag);
    assert_int_equal(e->nprops, 5);
    /* Order as received, system properties lifted out. */
    assert_string_equal(e->props[0].name, "offer_title");
    assert_string_equal(e->props[4].name, "active");
    prop(e, "offer_title", AZT_TYPE_STRING, "Contoso Analytics");
    assert_int_equal(prop(e, "lead_score", AZT_TYPE_INT32, "42")->i, 42);
    /* An integral double stays a double. */
    assert_true(prop(e, "ratio", AZT_TYPE_DOUBLE, "2.0")->d == 2.0);
    assert_int_equal(prop(e, "active", AZT_TYPE_BOOL, "true")->b, 1);
    assert_null(azt_entity_prop(e, "PartitionKey"));
    assert_null(azt_entity_prop(e, "Timestamp"));
    assert_null(azt_entity_prop(e, "missing"));

    e = &page->entities[1];
    prop(e, "offer_title", AZT_TYPE_STRING,
         "Contoso \"Pro\" \xc3\xa9"
         "dition");
    prop(e, "first_name", AZT_TYPE_STRING, "");
    assert_int_equal(prop(e, "lead_score", AZT_TYPE_INT32, "-7")->i, -7);
    assert_true(prop(e, "ratio", AZT_TYPE_DOUBLE, "0.1")->d == 0.1);
    assert_int_equal(prop(e, "active", AZT_TYPE_BOOL, "false")->b, 0);
    azt_page_free(page);
}

static void test_azt_entity__minimal_metadata(void **state)
{
    struct azt_page *page = parse_fixture("azure/page_minimal.json");
    const struct azt_entity *e = &page->entities[0];

    (void)state;
    assert_int_equal(page->count, 1);
    assert_null(page->next_partition_key);
    assert_null(page->next_row_key);
    assert_null(page->server_date);
    assert_null(page->request_id);
    assert_string_equal(e->etag, "W/\"datetime'2026-11-24T02%3A03%3A34.5663250Z'\"");
    assert_string_equal(e->partition_key, "11:2F24:2F2026");
    assert_string_equal(e->timestamp, "2026-11-24T02:03:34.5663250Z");
    /* odata.* keys and annotations are not properties. */
    assert_int_equal(e->nprops, 8);
    assert_null(azt_entity_prop(e, "odata.etag"));
    assert_null(azt_entity_prop(e, "BigCount@odata.type"));
    prop(e, "CustomerInfo", AZT_TYPE_STRING,
         "{\"Name\":\"Ada Lovelace\",\"Email\":\"ada@example.com\"}");
    assert_true(prop(e, "BigCount", AZT_TYPE_INT64, "9223372036854775807")->i == INT64_MAX);
    prop(e, "created", AZT_TYPE_DATETIME, "2026-11-24T02:03:30.1234567Z");
    prop(e, "id", AZT_TYPE_GUID, "a455c695-df98-5678-aaaa-81d3367e5a34");
    prop(e, "blob", AZT_TYPE_BINARY, "AQID");
    assert_true(prop(e, "weight", AZT_TYPE_DOUBLE, "2.5")->d == 2.5);
    assert_int_equal(prop(e, "count", AZT_TYPE_INT32, "12")->i, 12);
    azt_page_free(page);
}

static void test_azt_entity__full_metadata(void **state)
{
    struct azt_page *page = parse_fixture("azure/page_full.json");
    const struct azt_entity *e = &page->entities[0];

    (void)state;
    assert_string_equal(e->partition_key, "p1");
    assert_string_equal(e->row_key, "r1");
    assert_string_equal(e->timestamp, "2026-11-24T02:03:34.5663250Z");
    assert_non_null(e->etag);
    assert_int_equal(e->nprops, 5);
    assert_true(prop(e, "Ratio", AZT_TYPE_DOUBLE, "2.0")->d == 2.0);
    assert_int_equal(prop(e, "Small", AZT_TYPE_INT32, "2147483647")->i, INT32_MAX);
    assert_true(prop(e, "Neg", AZT_TYPE_INT64, "-9223372036854775808")->i == INT64_MIN);
    assert_int_equal(prop(e, "Flag", AZT_TYPE_BOOL, "true")->b, 1);
    prop(e, "Name", AZT_TYPE_STRING, "full");
    azt_page_free(page);
}

static void test_azt_entity__every_type(void **state)
{
    struct azt_page *page = parse_fixture("azure/page_types.json");
    const struct azt_entity *e = &page->entities[0];
    const struct azt_prop *p;

    (void)state;
    assert_null(e->timestamp); /* not selected */
    prop(e, "S", AZT_TYPE_STRING, "text");
    prop(e, "S2", AZT_TYPE_STRING, "typed");
    prop(e, "I32", AZT_TYPE_INT32, "2147483647");
    assert_int_equal(prop(e, "I32min", AZT_TYPE_INT32, "-2147483648")->i, INT32_MIN);
    /* An unannotated integer too big for Int32 is an Int64. */
    assert_true(prop(e, "I32big", AZT_TYPE_INT64, "2147483648")->i == 2147483648LL);
    assert_true(prop(e, "I64", AZT_TYPE_INT64, "9223372036854775807")->i == INT64_MAX);
    assert_true(prop(e, "I64min", AZT_TYPE_INT64, "-9223372036854775808")->i == INT64_MIN);
    prop(e, "D", AZT_TYPE_DOUBLE, "2.0");
    prop(e, "Dfrac", AZT_TYPE_DOUBLE, "0.1");
    assert_true(prop(e, "Dexp", AZT_TYPE_DOUBLE, "1e+300")->d == 1e300);
    prop(e, "Dneg", AZT_TYPE_DOUBLE, "-0.5");
    assert_true(prop(e, "Dint", AZT_TYPE_DOUBLE, "3.0")->d == 3.0);
    assert_true(isnan(prop(e, "Dnan", AZT_TYPE_DOUBLE, "NaN")->d));
    p = prop(e, "Dinf", AZT_TYPE_DOUBLE, "Infinity");
    assert_true(isinf(p->d) && p->d > 0);
    p = prop(e, "Dninf", AZT_TYPE_DOUBLE, "-Infinity");
    assert_true(isinf(p->d) && p->d < 0);
    assert_int_equal(prop(e, "B", AZT_TYPE_BOOL, "true")->b, 1);
    assert_int_equal(prop(e, "B2", AZT_TYPE_BOOL, "false")->b, 0);
    prop(e, "DT", AZT_TYPE_DATETIME, "2024-01-02T03:04:05.1234567Z");
    prop(e, "G", AZT_TYPE_GUID, "a455c695-df98-5678-aaaa-81d3367e5a34");
    prop(e, "Bin", AZT_TYPE_BINARY, "AAECAwQ=");
    /* Strings may hold NUL: text_len counts it. */
    p = azt_entity_prop(e, "Nul");
    assert_non_null(p);
    assert_int_equal(p->text_len, 3);
    assert_memory_equal(p->text, "a\0b", 4);
    /* Nulls are skipped, orphan annotations ignored. */
    assert_null(azt_entity_prop(e, "Gone"));
    assert_null(azt_entity_prop(e, "Gone2"));
    assert_null(azt_entity_prop(e, "Orphan"));
    assert_int_equal(e->nprops, 21);
    azt_page_free(page);
}

static void test_azt_entity__empty_page(void **state)
{
    struct azt_page *page = parse_fixture("azure/page_empty.json");

    (void)state;
    assert_int_equal(page->count, 0);
    azt_page_free(page);
    assert_int_equal(azt_page_parse("{\"value\":[{}]}", 14, &page), 0);
    assert_int_equal(page->count, 1);
    assert_int_equal(page->entities[0].nprops, 0);
    assert_null(page->entities[0].partition_key);
    azt_page_free(page);
    azt_page_free(NULL);
    assert_null(azt_entity_prop(NULL, "x"));
}

static void test_azt_entity__length_honoured(void **state)
{
    const char *body = "{\"value\":[]}garbage";
    struct azt_page *page = NULL;

    (void)state;
    assert_int_equal(azt_page_parse(body, 12, &page), 0);
    azt_page_free(page);
    assert_int_equal(azt_page_parse(body, strlen(body), &page), AZT_EPARSE);
    assert_null(page);
}

static void test_azt_entity__large_page(void **state)
{
    /* 1000 entities: the arena spans several blocks. */
    char *body = NULL;
    size_t cap = 1000 * 200 + 64, len = 0, i;
    struct azt_page *page = NULL;

    (void)state;
    body = malloc(cap);
    assert_non_null(body);
    len += (size_t)snprintf(body + len, cap - len, "{\"value\":[");
    for (i = 0; i < 1000; i++)
        len += (size_t)snprintf(body + len, cap - len,
                                "%s{\"PartitionKey\":\"p\",\"RowKey\":\"r%05zu\",\"Timestamp\":"
                                "\"2026-11-24T02:03:34.5663250Z\",\"n\":%zu,\"s\":\"%0100zu\"}",
                                i ? "," : "", i, i, i);
    len += (size_t)snprintf(body + len, cap - len, "]}");
    assert_int_equal(azt_page_parse(body, len, &page), 0);
    assert_int_equal(page->count, 1000);
    assert_string_equal(page->entities[999].row_key, "r00999");
    assert_int_equal(azt_entity_prop(&page->entities[999], "n")->i, 999);
    assert_int_equal(azt_entity_prop(&page->entities[500], "s")->text_len, 100);
    azt_page_free(page);
    free(body);
}

static void test_azt_entity__long_name_and_offset(void **state)
{
    char name[401];
    char body[1200];
    struct azt_page *page = NULL;
    const struct azt_prop *p;
    int len;

    (void)state;
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    len = snprintf(body, sizeof(body),
                   "{\"value\":[{\"%s@odata.type\":\"Edm.Int64\",\"%s\":\"-5\","
                   "\"W@odata.type\":\"Edm.DateTime\",\"W\":\"2024-01-02T03:04:05+01:00\"}]}",
                   name, name);
    assert_true(len > 0 && (size_t)len < sizeof(body));
    assert_int_equal(azt_page_parse(body, (size_t)len, &page), 0);
    p = prop(&page->entities[0], name, AZT_TYPE_INT64, "-5");
    assert_true(p->i == -5);
    prop(&page->entities[0], "W", AZT_TYPE_DATETIME, "2024-01-02T03:04:05+01:00");
    azt_page_free(page);
}

static void test_azt_entity__malformed(void **state)
{
    static const struct {
        const char *body;
        const char *needle; /* NULL: any message */
        const char *secret; /* a value that must not appear, or NULL */
    } cases[] = {
        {"", "invalid JSON", NULL},
        {"[]", "value", NULL},
        {"\"x\"", "invalid JSON", NULL},
        {"{}", "value", NULL},
        {"{\"value\":{}}", "value", NULL},
        {"{\"value\":[1]}", "entity 0 is not an object", NULL},
        {"{\"value\":[{}, \"x\"]}", "entity 1 is not an object", NULL},
        {"{\"value\":[{\"PartitionKey\":\"a\"},{\"I@odata.type\":\"Edm.Int64\",\"I\":\"12x\"}]}",
         "entity 1: property 'I'", "12x"},
        {"{\"value\":[{\"I@odata.type\":\"Edm.Int64\",\"I\":\"9223372036854775808\"}]}",
         "entity 0: property 'I'", "922337"},
        {"{\"value\":[{\"I@odata.type\":\"Edm.Int64\",\"I\":\" 12\"}]}", "property 'I'", NULL},
        {"{\"value\":[{\"I@odata.type\":\"Edm.Int32\",\"I\":2147483648}]}", "property 'I'", NULL},
        {"{\"value\":[{\"X@odata.type\":\"Edm.Decimal\",\"X\":\"1\"}]}",
         "entity 0: property 'X': unknown type", NULL},
        {"{\"value\":[{\"X@odata.type\":5,\"X\":\"1\"}]}", "property 'X'", NULL},
        {"{\"value\":[{\"D@odata.type\":\"Edm.Double\",\"D\":\"nan\"}]}", "property 'D'", NULL},
        {"{\"value\":[{\"D@odata.type\":\"Edm.Double\",\"D\":\"secret-text\"}]}", "property 'D'",
         "secret-text"},
        {"{\"value\":[{\"G@odata.type\":\"Edm.Guid\",\"G\":\"not-a-guid\"}]}", "property 'G'",
         "not-a-guid"},
        {"{\"value\":[{\"B@odata.type\":\"Edm.Binary\",\"B\":\"@@@\"}]}", "property 'B'", NULL},
        {"{\"value\":[{\"T@odata.type\":\"Edm.DateTime\",\"T\":\"yesterday\"}]}", "property 'T'",
         "yesterday"},
        {"{\"value\":[{\"T@odata.type\":\"Edm.DateTime\",\"T\":12}]}", "property 'T'", NULL},
        {"{\"value\":[{\"F@odata.type\":\"Edm.Boolean\",\"F\":1}]}", "property 'F'", NULL},
        {"{\"value\":[{\"S@odata.type\":\"Edm.String\",\"S\":1}]}", "property 'S'", NULL},
        {"{\"value\":[{\"O\":{\"a\":1}}]}", "entity 0: property 'O'", NULL},
        {"{\"value\":[{\"A\":[1,2]}]}", "entity 0: property 'A'", NULL},
        {"{\"value\":[{\"PartitionKey\":1}]}", "property 'PartitionKey'", NULL},
        {"{\"value\":[{\"RowKey\":\"a\\u0000b\"}]}", "property 'RowKey'", NULL},
        {"{\"value\":[{\"Timestamp\":\"2026-11-24T02:03:34.56632501Z\"}]}", "property 'Timestamp'",
         NULL},
        {"{\"value\":[{\"Timestamp\":\"2026-11-24 02:03:34Z\"}]}", "property 'Timestamp'", NULL},
        {"{\"value\":[{\"odata.etag\":5}]}", "property 'odata.etag'", NULL},
        {"{\"value\":[{\"N\":123456789012345678901234567890}]}", "invalid JSON", "123456789012345"},
        {"{\"value\":[{\"a\":1}] ", "invalid JSON", NULL},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct azt_page *page = (struct azt_page *)0x1;
        const char *msg;

        print_message("case %zu: %s\n", i, cases[i].body);
        assert_int_equal(azt_page_parse(cases[i].body, strlen(cases[i].body), &page), AZT_EPARSE);
        assert_null(page);
        msg = azt_error_last();
        print_message("  -> %s\n", msg);
        if (cases[i].needle && !strstr(msg, cases[i].needle))
            fail_msg("message '%s' lacks '%s'", msg, cases[i].needle);
        if (cases[i].secret && strstr(msg, cases[i].secret))
            fail_msg("message '%s' leaks the value", msg);
    }
}

/* The service's limits hold: a page of more than 1000 entities or an entity
 * of more than 255 properties is a hostile or broken server, rejected before
 * it costs memory. */
static void test_azt_entity__service_limits(void **state)
{
    char *body = malloc(16 * 1024);
    struct azt_page *page = NULL;
    size_t n = 0;
    int i;

    (void)state;
    /* 252 properties + PartitionKey, RowKey, Timestamp = 255: accepted */
    n += (size_t)snprintf(body + n, 16 * 1024 - n,
                          "{\"value\":[{\"PartitionKey\":\"p\",\"RowKey\":\"r\","
                          "\"Timestamp\":\"2026-11-24T02:03:34Z\"");
    for (i = 0; i < 252; i++)
        n += (size_t)snprintf(body + n, 16 * 1024 - n,
                              ",\"P%d\":1,\"P%d@odata.type\":\"Edm.Int64\"", i, i);
    memcpy(body + n, "}]}", 4);
    assert_int_equal(azt_page_parse(body, strlen(body), &page), AZT_OK);
    assert_int_equal(page->entities[0].nprops, 252);
    azt_page_free(page);
    page = NULL;
    /* one more: rejected */
    memcpy(body + n, ",\"X\":1}]}", 10);
    assert_int_equal(azt_page_parse(body, strlen(body), &page), AZT_EPARSE);
    assert_null(page);
    assert_non_null(strstr(azt_error_last(), "255 properties"));
    /* 1001 empty entities: rejected */
    n = (size_t)snprintf(body, 16 * 1024, "{\"value\":[{}");
    for (i = 1; i < 1001; i++)
        n += (size_t)snprintf(body + n, 16 * 1024 - n, ",{}");
    memcpy(body + n, "]}", 3);
    assert_int_equal(azt_page_parse(body, strlen(body), &page), AZT_EPARSE);
    assert_null(page);
    assert_non_null(strstr(azt_error_last(), "1000 entities"));
    /* 1000: accepted */
    memcpy(body + n - 3, "]}", 3);
    assert_int_equal(azt_page_parse(body, strlen(body), &page), AZT_OK);
    assert_int_equal(page->count, 1000);
    azt_page_free(page);
    free(body);
}

static int in_arena(const struct azt_json_arena *a, const void *p)
{
    const unsigned char *q = p;

    return q >= a->buf && q < a->buf + sizeof(a->buf);
}

/* The jansson arena (azt_json_arena_begin): values made inside a scope come
 * from its buffer and are released with it; a value too big for it, or made
 * outside any scope, is malloc'd and freed (ASan's leak check sees both);
 * scopes nest, and a value of the outer scope may be released inside the
 * inner one. */
static void test_azt_entity__json_arena(void **state)
{
    struct azt_json_arena outer, inner;
    json_t *before, *o, *i, *big;
    char *text = malloc(3 * AZT_JSON_ARENA_BYTES);

    (void)state;
    memset(text, 'x', 3 * AZT_JSON_ARENA_BYTES - 1);
    text[3 * AZT_JSON_ARENA_BYTES - 1] = '\0';
    before = json_string("made before any scope");
    azt_json_arena_begin(&outer);
    o = json_pack("{s:s,s:O}", "a", "b", "before", before);
    assert_true(in_arena(&outer, o));
    azt_json_arena_begin(&inner);
    i = json_string("inner");
    assert_true(in_arena(&inner, i));
    big = json_string(text); /* larger than the buffer: malloc */
    assert_false(in_arena(&inner, json_string_value(big)));
    json_decref(o); /* the outer scope's object, released in the inner one */
    json_decref(i);
    json_decref(big);
    azt_json_arena_end(&inner);
    azt_json_arena_end(&outer);
    o = json_string("after the scopes");
    assert_false(in_arena(&outer, o));
    assert_string_equal(json_string_value(before), "made before any scope");
    json_decref(o);
    json_decref(before);
    free(text);
}

/* An entity bigger than the arena parses whole (its long value is malloc'd). */
static void test_azt_entity__entity_over_arena(void **state)
{
    size_t vlen = 2 * AZT_JSON_ARENA_BYTES, n = vlen + 256;
    char *body = malloc(n);
    struct azt_page *page = NULL;
    const struct azt_prop *p;
    int k = snprintf(body, n, "{\"value\":[{\"PartitionKey\":\"p\",\"RowKey\":\"r\",\"Big\":\"");

    (void)state;
    memset(body + k, 'y', vlen);
    memcpy(body + (size_t)k + vlen, "\"},{\"PartitionKey\":\"p\",\"RowKey\":\"s\"}]}", 39);
    assert_int_equal(azt_page_parse(body, strlen(body), &page), AZT_OK);
    assert_int_equal(page->count, 2);
    p = azt_entity_prop(&page->entities[0], "Big");
    assert_non_null(p);
    assert_int_equal(p->text_len, vlen);
    assert_string_equal(page->entities[1].row_key, "s");
    azt_page_free(page);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_azt_entity__nometadata),
        cmocka_unit_test(test_azt_entity__minimal_metadata),
        cmocka_unit_test(test_azt_entity__full_metadata),
        cmocka_unit_test(test_azt_entity__every_type),
        cmocka_unit_test(test_azt_entity__empty_page),
        cmocka_unit_test(test_azt_entity__length_honoured),
        cmocka_unit_test(test_azt_entity__large_page),
        cmocka_unit_test(test_azt_entity__long_name_and_offset),
        cmocka_unit_test(test_azt_entity__malformed),
        cmocka_unit_test(test_azt_entity__service_limits),
        cmocka_unit_test(test_azt_entity__json_arena),
        cmocka_unit_test(test_azt_entity__entity_over_arena),
    };

    return lst_run_group(tests, NULL, NULL);
}
