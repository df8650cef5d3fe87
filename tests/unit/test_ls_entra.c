/* test_ls_entra.c - token response parsing and the credential chain's order. */
#include "ls_test.h"

#include "ls_entra.h"

#include <stdlib.h>
#include <string.h>

static const char *fake_getenv(void *ctx, const char *name)
{
    char *const *vars = ctx;
    size_t n = strlen(name);
    size_t i;

    for (i = 0; vars[i]; i++)
        if (strncmp(vars[i], name, n) == 0 && vars[i][n] == '=')
            return vars[i] + n + 1;
    return NULL;
}

static enum ls_entra_kind kind_for(char **vars)
{
    struct ls_entra_opts o;
    struct ls_entra *e = NULL;
    enum ls_entra_kind k;

    memset(&o, 0, sizeof(o));
    o.getenv = fake_getenv;
    o.ctx = vars;
    assert_int_equal(ls_entra_create(&o, &e), 0);
    k = ls_entra_kind_of(e);
    ls_entra_free(e);
    return k;
}

static void test_ls_entra__chain_order(void **state)
{
    char *all[] = {"AZURE_TENANT_ID=t",
                   "AZURE_CLIENT_ID=c",
                   "AZURE_CLIENT_SECRET=s",
                   "AZURE_FEDERATED_TOKEN_FILE=/f",
                   "IDENTITY_ENDPOINT=http://127.0.0.1:41061/msi/token",
                   "IDENTITY_HEADER=h",
                   NULL};
    char *wi[] = {"AZURE_TENANT_ID=t",
                  "AZURE_CLIENT_ID=c",
                  "AZURE_FEDERATED_TOKEN_FILE=/f",
                  "IDENTITY_ENDPOINT=http://127.0.0.1:41061/msi/token",
                  "IDENTITY_HEADER=h",
                  NULL};
    char *app[] = {"AZURE_CLIENT_ID=c", "IDENTITY_ENDPOINT=http://127.0.0.1:41061/msi/token",
                   "IDENTITY_HEADER=h", NULL};
    char *half[] = {"AZURE_CLIENT_SECRET=s", "IDENTITY_ENDPOINT=http://127.0.0.1:41061/msi/token",
                    NULL};
    char *none[] = {NULL};

    (void)state;
    assert_int_equal(kind_for(all), LS_ENTRA_CLIENT_SECRET);
    assert_int_equal(kind_for(wi), LS_ENTRA_WORKLOAD_IDENTITY);
    assert_int_equal(kind_for(app), LS_ENTRA_APP_SERVICE_MI);
    assert_int_equal(kind_for(half), LS_ENTRA_IMDS_MI);
    assert_int_equal(kind_for(none), LS_ENTRA_IMDS_MI);
    ls_entra_free(NULL);
}

static int create_rc(char **vars)
{
    struct ls_entra_opts o;
    struct ls_entra *e = NULL;
    int rc;

    memset(&o, 0, sizeof(o));
    o.getenv = fake_getenv;
    o.ctx = vars;
    rc = ls_entra_create(&o, &e);
    ls_entra_free(e);
    return rc;
}

/* A client secret, federated token or identity header goes only over TLS or
 * to this machine; the host is compared, not a string prefix. */
static void test_ls_entra__secrets_need_tls(void **state)
{
    char *plain[] = {"AZURE_TENANT_ID=t", "AZURE_CLIENT_ID=c", "AZURE_CLIENT_SECRET=s",
                     "AZURE_AUTHORITY_HOST=http://login.example.com", NULL};
    char *trick[] = {"AZURE_TENANT_ID=t", "AZURE_CLIENT_ID=c", "AZURE_CLIENT_SECRET=s",
                     "AZURE_AUTHORITY_HOST=http://127.0.0.1:80@evil.example/", NULL};
    char *local[] = {"AZURE_TENANT_ID=t", "AZURE_CLIENT_ID=c", "AZURE_CLIENT_SECRET=s",
                     "AZURE_AUTHORITY_HOST=http://127.0.0.1:8443", NULL};
    char *wi[] = {"AZURE_TENANT_ID=t", "AZURE_CLIENT_ID=c", "AZURE_FEDERATED_TOKEN_FILE=/f",
                  "AZURE_AUTHORITY_HOST=http://[::2]/", NULL};
    char *app[] = {"IDENTITY_ENDPOINT=http://msi.example.com/token", "IDENTITY_HEADER=h", NULL};
    char *imds[] = {"AZURE_POD_IDENTITY_AUTHORITY_HOST=http://169.254.169.254", NULL};

    (void)state;
    assert_int_equal(create_rc(plain), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "AZURE_AUTHORITY_HOST"));
    assert_int_equal(create_rc(trick), LS_ECONFIG);
    assert_null(strstr(ls_error_last(), "evil"));
    assert_int_equal(create_rc(local), 0);
    assert_int_equal(create_rc(wi), LS_ECONFIG);
    assert_int_equal(create_rc(app), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "IDENTITY_ENDPOINT"));
    assert_int_equal(create_rc(imds), 0); /* no secret travels to the metadata service */
}

static void test_ls_entra__parse(void **state)
{
    char *tok = NULL;
    time_t exp = 0;
    const char *v2 = "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"abc\"}";
    const char *v2s = "{\"expires_in\":\"60\",\"access_token\":\"def\"}";
    const char *mi = "{\"access_token\":\"ghi\",\"expires_on\":\"1790000000\"}";
    const char *bad[] = {"", "[]", "{\"access_token\":\"x\"}", "{\"expires_in\":5}",
                         "{\"access_token\":\"\",\"expires_in\":5}",
                         "{\"access_token\":\"x\",\"expires_on\":\"soon\"}",
                         "{\"access_token\":\"x\",\"expires_in\":-1}",
                         /* a token goes into a header: no line break, NUL or blank */
                         "{\"access_token\":\"x\\r\\nX-Injected: 1\",\"expires_in\":5}",
                         "{\"access_token\":\"x\\u0000y\",\"expires_in\":5}",
                         "{\"access_token\":\"x y\",\"expires_in\":5}"};
    size_t i;

    (void)state;
    assert_int_equal(ls_entra_parse_token(v2, strlen(v2), 1000, &tok, &exp), 0);
    assert_string_equal(tok, "abc");
    assert_int_equal(exp, 1000 + 3599);
    free(tok);
    assert_int_equal(ls_entra_parse_token(v2s, strlen(v2s), 1000, &tok, &exp), 0);
    assert_int_equal(exp, 1060);
    free(tok);
    /* an absolute expiry is believed up to ten years ahead */
    assert_int_equal(ls_entra_parse_token(mi, strlen(mi), 1789000000, &tok, &exp), 0);
    assert_string_equal(tok, "ghi");
    assert_int_equal(exp, 1790000000);
    free(tok);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(ls_entra_parse_token(bad[i], strlen(bad[i]), 1000, &tok, &exp), 0);
        assert_null(tok);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_entra__chain_order),
        cmocka_unit_test(test_ls_entra__secrets_need_tls),
        cmocka_unit_test(test_ls_entra__parse),
    };

    return lst_run_group(tests, NULL, NULL);
}
