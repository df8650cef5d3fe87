/* test_azt_errbody.c - service error bodies: JSON, XML, Atom and garbage. */
#include "ls_test.h"

#include "azt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct azt_service_error parse(const char *body)
{
    struct azt_service_error e;

    memset(&e, 'x', sizeof(e)); /* prove both fields are always written */
    azt_service_error_parse(body, strlen(body), &e);
    return e;
}

/* A body and the code and message read from it. */
struct errbody_case {
    const char *body, *code, *message;
};

static void check_cases(const struct errbody_case *c, size_t n)
{
    struct azt_service_error e;

    for (size_t i = 0; i < n; i++) {
        e = parse(c[i].body);
        assert_string_equal(e.code, c[i].code);
        assert_string_equal(e.message, c[i].message);
    }
}

static void test_azt_errbody__json(void **state)
{
    static const struct errbody_case cases[] = {
        {"{\"odata.error\":{\"code\":\"ResourceNotFound\",\"message\":{\"lang\":\"en-US\","
         "\"value\":\"The specified resource does not exist.\\nRequestId:5f7c\\nTime:2026-"
         "11-24T02:03:34.5663250Z\"}}}",
         "ResourceNotFound", "The specified resource does not exist."},
        {"  {\"error\":{\"code\":\"InvalidInput\",\"message\":\"One of the request inputs is "
         "not valid.\"}}",
         "InvalidInput", "One of the request inputs is not valid."},
        {"{\"error\":{\"code\":\"EntityAlreadyExists\",\"message\":{\"value\":\"1:The "
         "specified entity already exists.\\r\\nRequestId:x\"}}}",
         "EntityAlreadyExists", "1:The specified entity already exists."},
        {"{\"odata.error\":{\"code\":42}}", "", ""},
    };

    (void)state;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_azt_errbody__xml(void **state)
{
    static const struct errbody_case cases[] = {
        /* Azurite's 403 for a bad signature. */
        {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  "
         "<Code>AuthorizationFailure</Code>\n  <Message>Server failed to authenticate the "
         "request. Make sure the value of the Authorization header is formed correctly "
         "including the signature.\nRequestId:8c1f7e3a-1b2c-4d5e-8f90-123456789abc\n"
         "Time:2026-11-24T02:03:34.566Z</Message>\n</Error>",
         "AuthorizationFailure",
         "Server failed to authenticate the request. Make sure the value of the "
         "Authorization header is formed correctly including the signature."},
        {"<Error><Code>Bad&amp;Worse</Code><Message><![CDATA[in <cdata>]]></Message></Error>",
         "Bad&Worse", "in <cdata>"},
    };

    (void)state;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_azt_errbody__atom(void **state)
{
    static const struct errbody_case cases[] = {
        {"<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\r\n<error "
         "xmlns=\"http://schemas.microsoft.com/ado/2007/08/dataservices/metadata\">\r\n  "
         "<code>TableNotFound</code>\r\n  <message xml:lang=\"en-US\">The table specified "
         "does not exist.\nRequestId:abc\nTime:2011-12-05T17:55:02.0000000Z</message>\r\n"
         "</error>",
         "TableNotFound", "The table specified does not exist."},
        {"<m:error xmlns:m=\"http://schemas.microsoft.com/ado/2007/08/dataservices/"
         "metadata\"><m:code>X</m:code><m:message>Y</m:message></m:error>",
         "X", "Y"},
    };

    (void)state;
    check_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_azt_errbody__garbage(void **state)
{
    static const char *const bodies[] = {
        "",
        "   ",
        "Internal Server Error",
        "{",
        "{\"odata.error\":",
        "[1,2,3]",
        "<",
        "<Error><Code>unclosed",
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
        "<Error/>",
        "\xEF\xBB\xBF",
        "\xff\xfe<\x00E\x00",
    };
    size_t i;
    struct azt_service_error e;

    (void)state;
    for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        e = parse(bodies[i]);
        assert_string_equal(e.code, "");
        assert_string_equal(e.message, "");
    }
    memset(&e, 'x', sizeof(e));
    azt_service_error_parse(NULL, 0, &e);
    assert_string_equal(e.code, "");
    /* Binary garbage with NULs, read by length. */
    azt_service_error_parse("{\"code\":\"A\0B\"}", 14, &e);
}

static void test_azt_errbody__truncation(void **state)
{
    char body[2400];
    struct azt_service_error e;
    size_t i, len;

    (void)state;
    /* A long message of 2-byte characters: cut at a character boundary. */
    len = (size_t)snprintf(body, sizeof(body), "{\"odata.error\":{\"code\":\"");
    for (i = 0; i < 150; i++)
        body[len++] = 'C';
    len += (size_t)snprintf(body + len, sizeof(body) - len, "\",\"message\":{\"value\":\"a");
    for (i = 0; i < 600; i++) {
        body[len++] = '\xc3';
        body[len++] = '\xa9';
    }
    len += (size_t)snprintf(body + len, sizeof(body) - len, "\"}}}");
    azt_service_error_parse(body, len, &e);
    assert_int_equal(strlen(e.code), sizeof(e.code) - 1);
    /* 'a' + 255 whole characters = 511 bytes; the 512th byte would split one. */
    assert_int_equal(strlen(e.message), 511);
    assert_int_equal((unsigned char)e.message[509], 0xc3);
    assert_int_equal((unsigned char)e.message[510], 0xa9);

    /* Control characters never reach a log line. */
    e = parse("{\"error\":{\"code\":\"A\\u001bB\",\"message\":\"x\\ty\"}}");
    assert_string_equal(e.code, "A B");
    assert_string_equal(e.message, "x y");
}

static void test_azt_errbody__no_entity_expansion(void **state)
{
    struct azt_service_error e;
    char *dir = lst_tmpdir();
    char path[4096], dtd[4096], body[16384];
    FILE *f;

    (void)state;
    /* Billion laughs: must neither expand nor hang. */
    e = parse("<?xml version=\"1.0\"?>\n<!DOCTYPE Error [\n"
              "<!ENTITY lol \"lol\">\n"
              "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
              "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
              "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
              "<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
              "<!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
              "<!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
              "<!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
              "<!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
              "<!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
              "]>\n<Error><Code>C&lol9;</Code><Message>&lol9;</Message></Error>");
    assert_null(strstr(e.code, "lol"));
    assert_null(strstr(e.message, "lol"));

    /* External entity and external DTD pointing at local files with a marker. */
    snprintf(path, sizeof(path), "%s/secret.txt", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("LEAKEDSECRET", f);
    fclose(f);
    snprintf(dtd, sizeof(dtd), "%s/evil.dtd", dir);
    f = fopen(dtd, "w");
    assert_non_null(f);
    fputs("<!ENTITY dtdent \"LEAKEDDTD\">", f);
    fclose(f);

    snprintf(body, sizeof(body),
             "<?xml version=\"1.0\"?>\n<!DOCTYPE Error [<!ENTITY xxe SYSTEM \"file://%s\">]>\n"
             "<Error><Code>A&xxe;</Code><Message>&xxe;</Message></Error>",
             path);
    e = parse(body);
    assert_null(strstr(e.code, "LEAKED"));
    assert_null(strstr(e.message, "LEAKED"));

    snprintf(body, sizeof(body),
             "<?xml version=\"1.0\"?>\n<!DOCTYPE Error SYSTEM \"%s\">\n"
             "<Error><Code>B&dtdent;</Code><Message>m</Message></Error>",
             dtd);
    e = parse(body);
    assert_null(strstr(e.code, "LEAKED"));

    /* Network DTD: XML_PARSE_NONET (nothing listens there anyway). */
    e = parse("<?xml version=\"1.0\"?>\n<!DOCTYPE Error SYSTEM \"http://127.0.0.1:9/x.dtd\">\n"
              "<Error><Code>Net</Code><Message>m</Message></Error>");
    assert_null(strstr(e.code, "LEAKED"));

    unlink(path);
    unlink(dtd);
    lst_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_azt_errbody__json),
        cmocka_unit_test(test_azt_errbody__xml),
        cmocka_unit_test(test_azt_errbody__atom),
        cmocka_unit_test(test_azt_errbody__garbage),
        cmocka_unit_test(test_azt_errbody__truncation),
        cmocka_unit_test(test_azt_errbody__no_entity_expansion),
    };

    return lst_run_group(tests, NULL, NULL);
}
