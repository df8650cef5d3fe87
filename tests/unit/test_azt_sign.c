/* test_azt_sign.c - Shared Key signing against the published vectors. */
#include "ls_test.h"

#include "azt.h"

#include <stdlib.h>
#include <string.h>

#define DEVSTORE_KEY                                                                               \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define DATE_2011 "Mon, 05 Dec 2011 17:55:02 GMT"

struct vector {
    const char *name;
    const char *key_b64;
    enum azt_auth scheme;
    const char *verb;
    const char *content_type;
    const char *date;
    const char *account;
    const char *path;
    const char *query;
    const char *expected_sts; /* NULL: not published */
    const char *expected_sig;
};

/*
 * A: published SDK test vectors (A1: azure-sdk-for-node's SharedKeyLite
 * SignRequestServiceProperties; A2: azure-sdk-for-js data-tables'
 * sharedKeyCredential spec). B: the Azure C++ SDK's SharedKeyLite policy test
 * inputs, outputs computed independently. C1-C6: signatures Azurite accepts.
 */
static const struct vector vectors[] = {
    {"A1", DEVSTORE_KEY, AZT_AUTH_SHAREDKEY_LITE, "GET", NULL, DATE_2011, "devstoreaccount1", "/",
     "restype=service&comp=properties", DATE_2011 "\n/devstoreaccount1/?comp=properties",
     "b89upLBiJ54w3Ju3zBv4GzThZGj/M6C3CdTm1BySj28="},
    {"A2", "accountKey", AZT_AUTH_SHAREDKEY_LITE, "GET", NULL, "Thu, 03 Sep 2020 18:50:45 GMT",
     "accountName", "/tablename(PartitionKey='p1',RowKey='r1')", NULL,
     "Thu, 03 Sep 2020 18:50:45 GMT\n/accountName/tablename(PartitionKey='p1',RowKey='r1')",
     "mzKy4ZjXbTEueNQp2cxou+kKrfCnWpdau5I6kJIO58g="},
    {"B1", "YWNjb3VudC1rZXk=", AZT_AUTH_SHAREDKEY_LITE, "GET", NULL,
     "Thu, 23 Apr 2020 09:43:37 GMT", "account-name", "", "restype=service&comp=properties",
     "Thu, 23 Apr 2020 09:43:37 GMT\n/account-name/?comp=properties",
     "tW8SGePdivpFOEJfTxikbSwjdDWkpxSTfFtqUMED3v8="},
    {"B2", "YWNjb3VudC1rZXk=", AZT_AUTH_SHAREDKEY_LITE, "GET", NULL,
     "Thu, 23 Apr 2020 09:43:37 GMT", "account-name", "", NULL,
     "Thu, 23 Apr 2020 09:43:37 GMT\n/account-name/",
     "NA09pT0WJ/MYPJdfa2OFRAEgPAneu1jTv8fXVpiQVxE="},
    {"C1", DEVSTORE_KEY, AZT_AUTH_SHAREDKEY, "GET", NULL, DATE_2011, "devstoreaccount1",
     "/devstoreaccount1/Tables", NULL,
     "GET\n\n\n" DATE_2011 "\n/devstoreaccount1/devstoreaccount1/Tables",
     "8ErQWg68jd1fU19Opk28/DTWzPq4CzdT9AIm5+SGJ6c="},
    {"C2", DEVSTORE_KEY, AZT_AUTH_SHAREDKEY_LITE, "GET", NULL, DATE_2011, "devstoreaccount1",
     "/devstoreaccount1/Tables", NULL, DATE_2011 "\n/devstoreaccount1/devstoreaccount1/Tables",
     "lsvJVulIWz/T/GHlu1GMdNBvuM7ER+OQyVeKxBlvk7A="},
    {"C3", DEVSTORE_KEY, AZT_AUTH_SHAREDKEY, "GET", NULL, DATE_2011, "devstoreaccount1",
     "/devstoreaccount1/pagetest()", "$filter=PartitionKey%20eq%20%27p1%27&$top=2",
     "GET\n\n\n" DATE_2011 "\n/devstoreaccount1/devstoreaccount1/pagetest()",
     "fGIoqMaUpWMnvOyYyxNB+679Zl+2ltR+VzFjgBul72I="},
    {"C4", DEVSTORE_KEY, AZT_AUTH_SHAREDKEY, "POST", "application/json", DATE_2011,
     "devstoreaccount1", "/devstoreaccount1/Tables", NULL,
     "POST\n\napplication/json\n" DATE_2011 "\n/devstoreaccount1/devstoreaccount1/Tables",
     "pBejWDXa1vpuAn1a2TwoVK2qCapoLtLLPB09sH4mP5Q="},
    {"C5", DEVSTORE_KEY, AZT_AUTH_SHAREDKEY, "GET", NULL, DATE_2011, "devstoreaccount1", "/Tables",
     NULL, "GET\n\n\n" DATE_2011 "\n/devstoreaccount1/Tables",
     "5Q3MmPp5LSePt0SwcFwUYEOo90EsstE4UEA6CfWIERQ="},
    {"C6", DEVSTORE_KEY, AZT_AUTH_SHAREDKEY_LITE, "GET", NULL, DATE_2011, "devstoreaccount1",
     "/pagetest(PartitionKey='p1',RowKey='r00001')", NULL,
     DATE_2011 "\n/devstoreaccount1/pagetest(PartitionKey='p1',RowKey='r00001')",
     "svhNZSYI6eeWfEJwORs8B1COEdoqDzvGPiP45MxRscg="},
};

static void test_azt_sign__vectors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        const struct vector *v = &vectors[i];
        unsigned char *key = NULL;
        size_t key_len = 0;
        char *sts = NULL;
        char sig[45];

        print_message("vector %s\n", v->name);
        assert_int_equal(azt_base64_decode(v->key_b64, strlen(v->key_b64), &key, &key_len), 0);
        assert_int_equal(azt_string_to_sign(v->scheme, v->verb, NULL, v->content_type, v->date,
                                            v->account, v->path, v->query, &sts),
                         0);
        assert_string_equal(sts, v->expected_sts);
        assert_int_equal(azt_hmac_sha256_b64(key, key_len, sts, strlen(sts), sig), 0);
        assert_string_equal(sig, v->expected_sig);
        free(sts);
        free(key);
    }
}

static void test_azt_sign__devstore_key_length(void **state)
{
    unsigned char *key = NULL;
    size_t len = 0;

    (void)state;
    /* EVP_DecodeBlock alone would report 66 bytes. */
    assert_int_equal(azt_base64_decode(DEVSTORE_KEY, strlen(DEVSTORE_KEY), &key, &len), 0);
    assert_int_equal(len, 64);
    assert_int_equal(key[0], 0x11);
    assert_int_equal(key[63], 0x1b);
    free(key);
}

static void test_azt_sign__a2_lenient_key(void **state)
{
    static const unsigned char expect[7] = {0x69, 0xc7, 0x28, 0xba, 0x7b, 0x4a, 0x7b};
    unsigned char *key = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(azt_base64_decode("accountKey", 10, &key, &len), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(key, expect, 7);
    free(key);
    assert_int_equal(azt_base64_decode("accountKey==", 12, &key, &len), 0);
    assert_int_equal(len, 7);
    assert_memory_equal(key, expect, 7);
    free(key);
}

static void test_azt_sign__base64_edges(void **state)
{
    static const struct {
        const char *in;
        const char *out; /* NULL: must fail */
        size_t out_len;
    } cases[] = {
        {"", "", 0},
        {"Zg==", "f", 1},
        {"Zg", "f", 1},
        {"Zm8=", "fo", 2},
        {"Zm8", "fo", 2},
        {"Zm9v", "foo", 3},
        {"Zm9vYmFy", "foobar", 6},
        {"AA==", "\0", 1},
        {"Zg=", NULL, 0},    /* padding that does not complete the quantum */
        {"Z", NULL, 0},      /* a lone sextet is not a byte */
        {"Zm9vY", NULL, 0},  /* ditto after a full quantum */
        {"Zg===", NULL, 0},  /* too much padding */
        {"Zm 9v", NULL, 0},  /* whitespace rejected */
        {"Zm9v\n", NULL, 0}, /* trailing newline rejected */
        {"Zg==Zg==", NULL, 0},
        {"Zm9-", NULL, 0}, /* base64url alphabet is not base64 */
        {"====", NULL, 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char *out = NULL;
        size_t len = 99;
        int rc = azt_base64_decode(cases[i].in, strlen(cases[i].in), &out, &len);

        print_message("case '%s'\n", cases[i].in);
        if (cases[i].out) {
            assert_int_equal(rc, 0);
            assert_int_equal(len, cases[i].out_len);
            if (len)
                assert_memory_equal(out, cases[i].out, len);
            assert_int_equal(out[len], 0); /* NUL-terminated for convenience */
        } else {
            assert_int_equal(rc, AZT_EPARSE);
            assert_null(out);
            assert_int_equal(len, 0);
        }
        free(out);
    }
}

static void test_azt_sign__hmac_rfc4231(void **state)
{
    /* RFC 4231 test case 2: key "Jefe". */
    char sig[45];

    (void)state;
    assert_int_equal(azt_hmac_sha256_b64((const unsigned char *)"Jefe", 4,
                                         "what do ya want for nothing?", 28, sig),
                     0);
    /* 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843 */
    assert_string_equal(sig, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    assert_int_equal(azt_hmac_sha256_b64(NULL, 0, "", 0, sig), 0);
    assert_int_equal(strlen(sig), 44);
}

static void test_azt_sign__sts_rejects(void **state)
{
    char *sts = (char *)"sentinel";

    (void)state;
    assert_int_equal(
        azt_string_to_sign(AZT_AUTH_SAS, "GET", NULL, NULL, DATE_2011, "a", "/t", NULL, &sts),
        AZT_EINVAL);
    assert_null(sts);
    assert_int_equal(
        azt_string_to_sign(AZT_AUTH_BEARER, "GET", NULL, NULL, DATE_2011, "a", "/t", NULL, &sts),
        AZT_EINVAL);
    assert_int_equal(
        azt_string_to_sign(AZT_AUTH_SHAREDKEY, NULL, NULL, NULL, DATE_2011, "a", "/t", NULL, &sts),
        AZT_EINVAL);
    assert_int_equal(
        azt_string_to_sign(AZT_AUTH_SHAREDKEY, "GET", NULL, NULL, NULL, "a", "/t", NULL, &sts),
        AZT_EINVAL);
    assert_int_equal(azt_string_to_sign(AZT_AUTH_SHAREDKEY, "GET", NULL, "text/plain\nx", DATE_2011,
                                        "a", "/t", NULL, &sts),
                     AZT_EINVAL);
    assert_null(sts);
}

static void test_azt_sign__sts_comp_only(void **state)
{
    char *sts = NULL;

    (void)state;
    /* Only comp is signed; a parameter merely ending in "comp" is not comp. */
    assert_int_equal(azt_string_to_sign(AZT_AUTH_SHAREDKEY, "PUT", "md5==", "application/xml",
                                        DATE_2011, "acct", "/mytable",
                                        "xcomp=1&timeout=30&comp=acl&sig=abc", &sts),
                     0);
    assert_string_equal(sts, "PUT\nmd5==\napplication/xml\n" DATE_2011 "\n/acct/mytable?comp=acl");
    free(sts);
    assert_int_equal(azt_string_to_sign(AZT_AUTH_SHAREDKEY_LITE, "GET", NULL, NULL, DATE_2011,
                                        "acct", "/mytable()", "xcomp=1&NextPartitionKey=1", &sts),
                     0);
    assert_string_equal(sts, DATE_2011 "\n/acct/mytable()");
    free(sts);
}

static void test_azt_sign__http_date_format(void **state)
{
    char buf[30];

    (void)state;
    azt_format_http_date((time_t)1323107702, buf);
    assert_string_equal(buf, DATE_2011);
    azt_format_http_date((time_t)0, buf);
    assert_string_equal(buf, "Thu, 01 Jan 1970 00:00:00 GMT");
    azt_format_http_date((time_t)951782400, buf); /* leap day 2000 */
    assert_string_equal(buf, "Tue, 29 Feb 2000 00:00:00 GMT");
}

static void test_azt_sign__http_date_parse(void **state)
{
    time_t t = 0;
    time_t probe;
    char buf[30];

    (void)state;
    assert_int_equal(azt_parse_http_date(DATE_2011, &t), 0);
    assert_int_equal((long long)t, 1323107702LL);
    assert_int_equal(azt_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    assert_int_equal((long long)t, 784111777LL);
    assert_int_equal(azt_parse_http_date("Sun Nov  6 08:49:37 1994", &t), 0);
    assert_int_equal((long long)t, 784111777LL);
    assert_int_equal(azt_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT\r\n", &t), 0);
    assert_int_equal((long long)t, 784111777LL);

    assert_int_equal(azt_parse_http_date("", &t), AZT_EPARSE);
    assert_int_equal(azt_parse_http_date("Mon, 31 Feb 2011 17:55:02 GMT", &t), AZT_EPARSE);
    assert_int_equal(azt_parse_http_date("Mon, 05 Dec 2011 24:55:02 GMT", &t), AZT_EPARSE);
    assert_int_equal(azt_parse_http_date("Mon, 05 Dec 2011 17:55:02", &t), AZT_EPARSE);
    assert_int_equal(azt_parse_http_date("Mon, 05 Foo 2011 17:55:02 GMT", &t), AZT_EPARSE);
    assert_int_equal(azt_parse_http_date("Mon, 5 Dec 2011 17:55:02 GMT", &t), AZT_EPARSE);
    assert_int_equal(azt_parse_http_date("Mon, 05 Dec 2011 17:55:02 GMT junk", &t), AZT_EPARSE);
    assert_int_equal(azt_parse_http_date("2011-12-05T17:55:02Z", &t), AZT_EPARSE);

    /* Round trip over a spread of instants. */
    for (probe = 0; probe < (time_t)4102444800; probe += (time_t)86399 * 97) {
        azt_format_http_date(probe, buf);
        assert_int_equal(azt_parse_http_date(buf, &t), 0);
        assert_int_equal((long long)t, (long long)probe);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_azt_sign__vectors),
        cmocka_unit_test(test_azt_sign__devstore_key_length),
        cmocka_unit_test(test_azt_sign__a2_lenient_key),
        cmocka_unit_test(test_azt_sign__base64_edges),
        cmocka_unit_test(test_azt_sign__hmac_rfc4231),
        cmocka_unit_test(test_azt_sign__sts_rejects),
        cmocka_unit_test(test_azt_sign__sts_comp_only),
        cmocka_unit_test(test_azt_sign__http_date_format),
        cmocka_unit_test(test_azt_sign__http_date_parse),
    };

    return lst_run_group(tests, NULL, NULL);
}
