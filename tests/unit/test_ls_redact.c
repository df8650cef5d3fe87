/* test_ls_redact.c - the redaction of remote error bodies, with fixed
 * vectors: personal data and secrets masked, the excerpt bounded, valid
 * UTF-8 and free of control characters. */
#include "ls_test.h"

#include "ls_redact.h"

#include <string.h>

struct vector {
    const char *in;
    const char *want;
};

static void check(const struct vector *v, size_t n)
{
    char out[512];
    size_t i;

    for (i = 0; i < n; i++) {
        size_t got = ls_redact(out, sizeof(out), v[i].in, strlen(v[i].in));

        if (strcmp(out, v[i].want) != 0)
            fail_msg("redact(%s)\n  got  %s\n  want %s", v[i].in, out, v[i].want);
        assert_int_equal(got, strlen(out));
    }
}

static void test_ls_redact__emails(void **state)
{
    static const struct vector v[] = {
        {"Contact already exists: jane.doe+crm@example.co.uk.", "Contact already exists: (email)"},
        {"{\"email\":\"jane@example.com\",\"x\":1}", "{\"email\":\"(email)\",\"x\":1}"},
        {"email=jane%40example.com&last=Doe", "email=(email)&last=Doe"},
        {"a%3Djane%40example.com", "(email)"},
        {"<j\xc3\xb6rg@m\xc3\xbcller.de>", "<(email)>"},
        {"cut at the end: jane@ex", "cut at the end: (email)"},
        {"x@y", "(email)"},
        {"no address @ here and a@ nor @b", "no address @ here and a@ nor @b"},
    };
    (void)state;
    check(v, sizeof(v) / sizeof(v[0]));
}

static void test_ls_redact__phones(void **state)
{
    static const struct vector v[] = {
        {"phone +1 (555) 010-9999 is invalid", "phone (phone) is invalid"},
        {"\"mobilephone\":\"555.010.9999\"", "\"mobilephone\":\"(phone)\""},
        {"Phone=5550109999;", "Phone=(phone);"},
        {"+44 20 7946 0958", "(phone)"},
        {"HTTP 400 at 2026-12-01 after 3 tries", "HTTP 400 at 2026-12-01 after 3 tries"},
        {"id 00Q5e000001AbCdEAL and 12345 and 1234567890123456789",
         "id 00Q5e000001AbCdEAL and 12345 and 1234567890123456789"},
        {"Existing ID: 101", "Existing ID: 101"},
    };
    (void)state;
    check(v, sizeof(v) / sizeof(v[0]));
}

static void test_ls_redact__secrets(void **state)
{
    static const struct vector v[] = {
        {"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "Authorization: Bearer (secret)"},
        {"{\"access_token\":\"cdf01657-110d:int\",\"token_type\":\"bearer\"}",
         "{\"access_token\":\"(secret)\",\"token_type\":\"(secret)\"}"},
        {"client_secret=s3cr3t&grant_type=x", "client_secret=(secret)&grant_type=x"},
        {"refresh_token : 'abc'", "refresh_token : '(secret)'"},
        {"\"error\":\"invalid_token\"", "\"error\":\"invalid_token\""},
        {"sig 0123456789abcdefABCDEF0123456789abcdef0123 end", "sig (secret) end"},
        {"request id 7f3c2a10-0b1e-4c5d-9e8f-001122334455", /* 36: a GUID stays */
         "request id 7f3c2a10-0b1e-4c5d-9e8f-001122334455"},
    };
    (void)state;
    check(v, sizeof(v) / sizeof(v[0]));
}

static void test_ls_redact__controls_and_utf8(void **state)
{
    static const struct vector v[] = {
        {"a\x1b[2Jb\r\nc\x7f"
         "d",
         "a [2Jb  c d"},
        {"C1 \xc2\x9b"
         "31m",
         "C1  31m"},
        {"bidi \xe2\x80\xae"
         "evil \xe2\x81\xa6"
         "x",
         "bidi  evil  x"},
        {"bad \xff\xc3 \xed\xa0\x80 ok \xc3\xa9", "bad ?? ??? ok \xc3\xa9"},
    };
    char out[16];
    (void)state;
    check(v, sizeof(v) / sizeof(v[0]));
    /* a NUL inside the body is blanked, not an end */
    ls_redact(out, sizeof(out), "a\0b", 3);
    assert_string_equal(out, "a b");
}

static void test_ls_redact__bounds(void **state)
{
    char big[1000], out[512], small[6];
    size_t i, n;

    (void)state;
    for (i = 0; i < sizeof(big); i++)
        big[i] = (char)(i % 7 == 0 ? ' ' : 'a' + i % 7);
    n = ls_redact_excerpt(out, sizeof(out), big, sizeof(big));
    assert_int_equal(n, LS_EXCERPT_MAX);
    assert_int_equal(strlen(out), LS_EXCERPT_MAX);
    /* a character is never cut: 3 bytes of room hold one 2-byte 'é' */
    n = ls_redact(small, 4, "\xc3\xa9\xc3\xa9", 4);
    assert_int_equal(n, 2);
    assert_string_equal(small, "\xc3\xa9");
    /* a mask that does not fit is left out whole, never cut into */
    n = ls_redact(small, sizeof(small), "ab jane@example.com", 19);
    assert_string_equal(small, "ab ");
    /* the mask decision is made on the whole body, before the bound */
    n = ls_redact(small, 3, "jane@example.com", 16);
    assert_string_equal(small, "");
    assert_int_equal(ls_redact(small, 0, "x", 1), 0);
}

static void test_ls_redact__inplace_and_idempotent(void **state)
{
    char s[64] = "HTTP 400: jane@example.com +1 555 010 9999";
    char again[64];

    (void)state;
    ls_redact_inplace(s, sizeof(s));
    assert_string_equal(s, "HTTP 400: (email) (phone)");
    ls_redact(again, sizeof(again), s, strlen(s));
    assert_string_equal(again, s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_redact__emails),
        cmocka_unit_test(test_ls_redact__phones),
        cmocka_unit_test(test_ls_redact__secrets),
        cmocka_unit_test(test_ls_redact__controls_and_utf8),
        cmocka_unit_test(test_ls_redact__bounds),
        cmocka_unit_test(test_ls_redact__inplace_and_idempotent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
