/* test_azt_conn.c - connection string parsing. */
#include "ls_test.h"

#include "azt.h"

#include <stdlib.h>
#include <string.h>

#define DEVSTORE_KEY                                                                               \
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
#define KEY_B64 "YWNjb3VudC1rZXk=" /* "account-key" */
#define SAS_SIG "hmPUVlz5i3k58iOvOAz1DFh%2Bf5cg3bJFO3do8H64BR8%3D"
#define SAS     "sv=2019-02-02&se=2026-11-24T02%3A55%3A03Z&sp=r&sig=" SAS_SIG "&tn=pagetest"

static struct azt_conn *parse_ok(const char *s)
{
    struct azt_conn *c = NULL;
    int rc = azt_conn_parse(s, strlen(s), &c);

    if (rc != 0)
        fail_msg("parse failed (%d): %s", rc, azt_error_last());
    assert_non_null(c);
    return c;
}

static void assert_key(const struct azt_conn *c, const char *raw)
{
    assert_non_null(c->key);
    assert_int_equal(c->key_len, strlen(raw));
    assert_memory_equal(c->key, raw, strlen(raw));
}

static void test_azt_conn__portal(void **state)
{
    struct azt_conn *c =
        parse_ok("DefaultEndpointsProtocol=https;AccountName=myacct;AccountKey=" KEY_B64
                 ";EndpointSuffix=core.windows.net");

    (void)state;
    assert_string_equal(c->account, "myacct");
    assert_string_equal(c->table_endpoint, "https://myacct.table.core.windows.net");
    assert_key(c, "account-key");
    assert_null(c->sas);
    assert_int_equal(c->is_emulator, 0);
    azt_conn_free(c);

    /* EndpointSuffix defaults to core.windows.net; http is honoured. */
    c = parse_ok("DefaultEndpointsProtocol=http;AccountName=myacct;AccountKey=" KEY_B64);
    assert_string_equal(c->table_endpoint, "http://myacct.table.core.windows.net");
    azt_conn_free(c);
}

static void test_azt_conn__azurite(void **state)
{
    struct azt_conn *c = parse_ok(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" DEVSTORE_KEY
        ";TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;");

    (void)state;
    assert_string_equal(c->account, "devstoreaccount1");
    assert_string_equal(c->table_endpoint, "http://127.0.0.1:10002/devstoreaccount1");
    assert_int_equal(c->key_len, 64);
    assert_int_equal(c->is_emulator, 1);
    azt_conn_free(c);
}

static void test_azt_conn__use_development_storage(void **state)
{
    struct azt_conn *c = parse_ok("UseDevelopmentStorage=true");

    (void)state;
    assert_string_equal(c->account, "devstoreaccount1");
    assert_string_equal(c->table_endpoint, "http://127.0.0.1:10002/devstoreaccount1");
    assert_int_equal(c->key_len, 64);
    assert_int_equal(c->key[0], 0x11);
    assert_null(c->sas);
    assert_int_equal(c->is_emulator, 1);
    azt_conn_free(c);

    c = parse_ok("usedevelopmentstorage=TRUE;DevelopmentStorageProxyUri=http://myproxy/");
    assert_string_equal(c->table_endpoint, "http://myproxy:10002/devstoreaccount1");
    assert_int_equal(c->is_emulator, 1);
    azt_conn_free(c);

    /* An explicit endpoint overrides the emulator default (another port). */
    c = parse_ok(
        "UseDevelopmentStorage=true;TableEndpoint=http://127.0.0.1:20002/devstoreaccount1");
    assert_string_equal(c->table_endpoint, "http://127.0.0.1:20002/devstoreaccount1");
    assert_string_equal(c->account, "devstoreaccount1");
    azt_conn_free(c);
}

static void test_azt_conn__sas_with_endpoint(void **state)
{
    struct azt_conn *c = parse_ok(
        "TableEndpoint=https://myacct.table.core.windows.net/;SharedAccessSignature=?" SAS);

    (void)state;
    assert_string_equal(c->sas, SAS);
    assert_string_equal(c->table_endpoint, "https://myacct.table.core.windows.net");
    assert_string_equal(c->account, "myacct");
    assert_null(c->key);
    assert_int_equal(c->is_emulator, 0);
    azt_conn_free(c);

    /* Path-style: the account is the first path segment. */
    c = parse_ok(
        "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1/;SharedAccessSignature=" SAS);
    assert_string_equal(c->sas, SAS);
    assert_string_equal(c->account, "devstoreaccount1");
    assert_string_equal(c->table_endpoint, "http://127.0.0.1:10002/devstoreaccount1");
    assert_int_equal(c->is_emulator, 1);
    azt_conn_free(c);
}

static void test_azt_conn__lenient_syntax(void **state)
{
    struct azt_conn *c = parse_ok("  accountname = myacct ;; ACCOUNTKEY=" KEY_B64
                                  " ; ;\tendpointSUFFIX=core.chinacloudapi.cn;;");

    (void)state;
    assert_string_equal(c->account, "myacct");
    assert_string_equal(c->table_endpoint, "https://myacct.table.core.chinacloudapi.cn");
    assert_key(c, "account-key");
    azt_conn_free(c);

    /* Other services' endpoints and unknown keys are ignored. */
    c = parse_ok("BlobEndpoint=https://x.blob.core.windows.net/;QueueEndpoint=https://x.queue.core."
                 "windows.net/;Foo=bar;TableSecondaryEndpoint=https://x-secondary.table.core."
                 "windows.net;AccountName=x1;AccountKey=" KEY_B64);
    assert_string_equal(c->table_endpoint, "https://x1.table.core.windows.net");
    azt_conn_free(c);

    /* Bearer tokens later: neither key nor SAS. */
    c = parse_ok("AccountName=myacct");
    assert_null(c->key);
    assert_null(c->sas);
    assert_string_equal(c->table_endpoint, "https://myacct.table.core.windows.net");
    azt_conn_free(c);
}

static void test_azt_conn__endpoint_forms(void **state)
{
    struct azt_conn *c = NULL;

    (void)state;
    /* Production-style emulator URL: the account comes from the host. */
    c = parse_ok("TableEndpoint=http://devstoreaccount1.table.localhost:10002;AccountKey=" KEY_B64);
    assert_string_equal(c->account, "devstoreaccount1");
    assert_int_equal(c->is_emulator, 0);
    azt_conn_free(c);

    /* An emulator host without the account in its path gets it appended. */
    c = parse_ok("AccountName=devstoreaccount1;TableEndpoint=http://localhost:10002/");
    assert_string_equal(c->table_endpoint, "http://localhost:10002/devstoreaccount1");
    assert_int_equal(c->is_emulator, 1);
    azt_conn_free(c);

    /* A custom domain with AccountName: endpoint kept, account as given. */
    c = parse_ok("AccountName=myacct;TableEndpoint=HTTPS://tables.example.com");
    assert_string_equal(c->table_endpoint, "https://tables.example.com");
    assert_string_equal(c->account, "myacct");
    assert_int_equal(c->is_emulator, 0);
    azt_conn_free(c);

    c = parse_ok("TableEndpoint=http://[::1]:10002/acct2");
    assert_string_equal(c->account, "acct2");
    assert_int_equal(c->is_emulator, 1);
    azt_conn_free(c);
}

static void expect_error(const char *s, size_t n, const char *needle, const char *const *secrets)
{
    struct azt_conn *c = (struct azt_conn *)0x1;
    const char *msg;

    print_message("input: %.*s\n", (int)(n > 80 ? 80 : n), s);
    assert_int_equal(azt_conn_parse(s, n, &c), AZT_ECONFIG);
    assert_null(c);
    msg = azt_error_last();
    print_message("  -> %s\n", msg);
    if (needle && !strstr(msg, needle))
        fail_msg("message '%s' lacks '%s'", msg, needle);
    for (; secrets && *secrets; secrets++)
        if (strstr(msg, *secrets))
            fail_msg("message '%s' leaks '%s'", msg, *secrets);
}

static void test_azt_conn__broken(void **state)
{
    static const char *const secrets[] = {"Eby8vdM02x", "YWNjb3Vud", "hmPUVlz5",
                                          "SECRET",     "sig=",      NULL};
    static const struct {
        const char *s;
        const char *needle;
    } cases[] = {
        {"", "empty"},
        {"   ", "empty"},
        {";;;", "endpoint"},
        {"AccountKey=" KEY_B64, "endpoint"},
        {"AccountName=myacct;AccountKey=not*valid!SECRET", "AccountKey is not valid base64"},
        {"AccountName=myacct;AccountKey=YWNjb3Vud", "AccountKey is not valid base64"},
        {"AccountName=myacct;AccountKey=", "AccountKey is empty"},
        {"AccountName=myacct;AccountKey", "element 2"},
        {"AccountName=myacct; ;Eby8vdM02x", "element 3"},
        {"=value;AccountName=myacct", "element 1"},
        {"DefaultEndpointsProtocol=ftp;AccountName=myacct", "DefaultEndpointsProtocol"},
        {"AccountName=myacct;AccountKey=" KEY_B64 ";SharedAccessSignature=" SAS, "both"},
        {"TableEndpoint=https://a.table.core.windows.net/?sig=SECRET", "TableEndpoint"},
        {"TableEndpoint=ftp://a.table.core.windows.net", "TableEndpoint"},
        {"TableEndpoint=https://", "TableEndpoint"},
        {"TableEndpoint=https://user:SECRET@a.table.core.windows.net", "TableEndpoint"},
        {"TableEndpoint=https://a.table.core.windows.net:99999", "port"},
        {"TableEndpoint=https://a.table.core.windows.net:", "port"},
        {"TableEndpoint=http://127.0.0.1:10002;SharedAccessSignature=" SAS, "path segment"},
        {"TableEndpoint=https://a.table.core.windows.net;SharedAccessSignature=?", "empty"},
        {"TableEndpoint=https://a.table.core.windows.net;SharedAccessSignature=sv=1 sig=SECRET",
         "SharedAccessSignature"},
        {"UseDevelopmentStorage=maybe", "UseDevelopmentStorage"},
        {"AccountName=my_acct!", "AccountName"},
        {"AccountName=myacct;EndpointSuffix=core/windows", "EndpointSuffix"},
        {"UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://proxy/path",
         "DevelopmentStorageProxyUri"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_error(cases[i].s, strlen(cases[i].s), cases[i].needle, secrets);
    /* A NUL inside the given length. */
    expect_error("AccountName=a1\0;AccountKey=" KEY_B64, 32, "NUL", secrets);
    /* The length is honoured: the tail past n is not read. */
    {
        struct azt_conn *c = NULL;
        const char *s = "AccountName=myacct;AccountKey=!!!!";

        assert_int_equal(azt_conn_parse(s, 18, &c), 0);
        assert_string_equal(c->account, "myacct");
        assert_null(c->key);
        azt_conn_free(c);
    }
    azt_conn_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_azt_conn__portal),
        cmocka_unit_test(test_azt_conn__azurite),
        cmocka_unit_test(test_azt_conn__use_development_storage),
        cmocka_unit_test(test_azt_conn__sas_with_endpoint),
        cmocka_unit_test(test_azt_conn__lenient_syntax),
        cmocka_unit_test(test_azt_conn__endpoint_forms),
        cmocka_unit_test(test_azt_conn__broken),
    };

    return lst_run_group(tests, NULL, NULL);
}
