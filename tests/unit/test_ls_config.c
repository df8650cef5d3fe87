/* test_ls_config.c - the configuration loader. */
#include "ls_test.h"

#include "ls_config.h"
#include "ls_sink.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A fake environment: NULL-terminated "NAME=value" list. */
struct fake_env {
    char *const *vars;
};

static const char *fake_getenv(void *ctx, const char *name)
{
    const struct fake_env *e = ctx;
    size_t n = strlen(name);
    size_t i;

    for (i = 0; e->vars[i]; i++)
        if (strncmp(e->vars[i], name, n) == 0 && e->vars[i][n] == '=')
            return e->vars[i] + n + 1;
    return NULL;
}

static int load(struct ls_config *cfg, const char *file, char *const *vars)
{
    struct fake_env e = {vars};

    return ls_config_load(cfg, file, vars, fake_getenv, &e);
}

/* Each sink kind declares its keys beside the sink: every key is named once
 * in the whole table, each sink key carries its kind's prefix, and a sink
 * kind's keys come together, in registry order. */
static void test_ls_config__sink_sections(void **state)
{
    const struct ls_conf_entry *e, *f;
    const char *kind, *other;
    const struct ls_sink_ops *ops;
    size_t i, j, k = 0, nsink = 0;
    char prefix[64];

    (void)state;
    for (i = 0; (e = ls_conf_entry_at(i, &kind)) != NULL; i++) {
        for (j = 0; (f = ls_conf_entry_at(j, &other)) != NULL; j++)
            if (j != i)
                assert_string_not_equal(e->env, f->env);
        if (!kind)
            continue;
        nsink++;
        while ((ops = ls_sink_registered(k)) != NULL && strcmp(ops->name, kind) != 0)
            k++;
        assert_non_null(ops); /* the kinds come in registry order */
        snprintf(prefix, sizeof(prefix), "LEADSYNC_%s_", kind);
        for (j = 9; prefix[j]; j++)
            prefix[j] = (char)toupper((unsigned char)prefix[j]);
        assert_int_equal(strncmp(e->env, prefix, strlen(prefix)), 0);
    }
    assert_true(i > nsink && nsink >= 40);
    /* ... and the loader finds them like any other key */
    assert_non_null(ls_sink_lookup("hubspot"));
    assert_int_equal(ls_sink_lookup("hubspot")->nconf, 7);
    assert_int_equal(ls_sink_lookup("jsonl")->nconf, 0);
}

static void test_ls_config__defaults(void **state)
{
    char *vars[] = {NULL};
    struct ls_config cfg;

    (void)state;
    assert_int_equal(load(&cfg, NULL, vars), 0);
    assert_string_equal(cfg.table, "MarketplaceLeads");
    assert_string_equal(cfg.state, "./leadsync.db");
    assert_string_equal(cfg.sinks, "jsonl:./leads.jsonl");
    assert_int_equal(cfg.overlap_seconds, 300);
    assert_int_equal(cfg.settle_seconds, 15);
    assert_int_equal(cfg.poll_seconds, 60);
    assert_string_equal(cfg.identity, "customer-offer");
    assert_string_equal(cfg.test_leads, "skip");
    assert_string_equal(cfg.log_format, "text");
    assert_string_equal(cfg.log_level, "info");
    assert_null(cfg.connection_string);
    assert_int_equal(ls_config_require_source(&cfg), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "LEADSYNC_CONNECTION_STRING"));
    ls_config_dispose(&cfg);
}

static void test_ls_config__environment(void **state)
{
    char *vars[] = {"LEADSYNC_TABLE=Leads2",
                    "LEADSYNC_OVERLAP_SECONDS=60",
                    "AZURE_STORAGE_CONNECTION_STRING=UseDevelopmentStorage=true",
                    "LEADSYNC_IDENTITY=row",
                    "PATH=/bin",
                    NULL};
    struct ls_config cfg;

    (void)state;
    assert_int_equal(load(&cfg, NULL, vars), 0);
    assert_string_equal(cfg.table, "Leads2");
    assert_int_equal(cfg.overlap_seconds, 60);
    assert_string_equal(cfg.identity, "row");
    /* the alias is read when the main name is unset */
    assert_string_equal(cfg.connection_string, "UseDevelopmentStorage=true");
    assert_int_equal(ls_config_require_source(&cfg), 0);
    ls_config_dispose(&cfg);
}

static void test_ls_config__main_name_wins_over_alias(void **state)
{
    char *vars[] = {"AZURE_STORAGE_CONNECTION_STRING=A=1", "LEADSYNC_CONNECTION_STRING=B=2", NULL};
    struct ls_config cfg;

    (void)state;
    assert_int_equal(load(&cfg, NULL, vars), 0);
    assert_string_equal(cfg.connection_string, "B=2");
    ls_config_dispose(&cfg);
}

static void test_ls_config__unknown_env_rejected(void **state)
{
    char *vars[] = {"LEADSYNC_TABEL=x", NULL};
    char *reserved[] = {"LEADSYNC_TEST_AZURITE=x", NULL};
    struct ls_config cfg;

    (void)state;
    assert_int_equal(load(&cfg, NULL, vars), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "LEADSYNC_TABEL"));
    ls_config_dispose(&cfg);
    assert_int_equal(load(&cfg, NULL, reserved), 0);
    ls_config_dispose(&cfg);
}

static void test_ls_config__bad_values(void **state)
{
    char *notint[] = {"LEADSYNC_POLL_SECONDS=soon", NULL};
    char *range[] = {"LEADSYNC_PAGE_SIZE=5000", NULL};
    char *choice[] = {"LEADSYNC_TEST_LEADS=maybe", NULL};
    struct ls_config cfg;

    (void)state;
    assert_int_equal(load(&cfg, NULL, notint), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "LEADSYNC_POLL_SECONDS"));
    ls_config_dispose(&cfg);
    assert_int_equal(load(&cfg, NULL, range), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "1..1000"));
    ls_config_dispose(&cfg);
    assert_int_equal(load(&cfg, NULL, choice), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "skip|deliver"));
    ls_config_dispose(&cfg);
}

/* The listen address is checked when the configuration loads: a bare IPv6
 * address is ambiguous, the message says how to write it. */
static void test_ls_config__metrics_addr(void **state)
{
    char bare[] = "LEADSYNC_METRICS_ADDR=::1:9090";
    char good[] = "LEADSYNC_METRICS_ADDR=[::1]:9090";
    char *vars[2] = {NULL, NULL};
    struct ls_config cfg;

    (void)state;
    vars[0] = bare;
    assert_int_equal(load(&cfg, NULL, vars), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "LEADSYNC_METRICS_ADDR '::1:9090'"));
    assert_non_null(strstr(ls_error_last(), "write [::1]:9090"));
    assert_null(strchr(ls_error_last(), '\n'));
    ls_config_dispose(&cfg);
    vars[0] = good;
    assert_int_equal(load(&cfg, NULL, vars), LS_OK);
    assert_string_equal(cfg.metrics_addr, "[::1]:9090");
    ls_config_dispose(&cfg);
}

/* CRM base URLs follow the rule the webhook URLs do: https (loopback
 * excepted), no userinfo; the message names the key, never the password. */
static void test_ls_config__crm_urls(void **state)
{
    static const char *const keys[] = {
        "LEADSYNC_SALESFORCE_LOGIN_URL",    "LEADSYNC_SALESFORCE_TOKEN_URL",
        "LEADSYNC_SALESFORCE_INSTANCE_URL", "LEADSYNC_DYNAMICS_URL",
        "LEADSYNC_DYNAMICS_API_BASE",       "LEADSYNC_DYNAMICS_AUTHORITY_URL",
        "LEADSYNC_DYNAMICS_TOKEN_URL",      "LEADSYNC_MARKETO_BASE_URL",
        "LEADSYNC_HUBSPOT_BASE_URL",        "LEADSYNC_WEB_TO_LEAD_URL"};
    char plain[128], creds[128], ftp[128];
    char *vars[2] = {NULL, NULL};
    struct ls_config cfg;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(plain, sizeof(plain), "%s=http://crm.example.com/x", keys[i]);
        snprintf(creds, sizeof(creds), "%s=https://u:Pa55word@crm.example.com/", keys[i]);
        snprintf(ftp, sizeof(ftp), "%s=ftp://crm.example.com/", keys[i]);
        vars[0] = plain;
        assert_int_equal(load(&cfg, NULL, vars), LS_ECONFIG);
        assert_non_null(strstr(ls_error_last(), keys[i]));
        ls_config_dispose(&cfg);
        vars[0] = creds;
        assert_int_equal(load(&cfg, NULL, vars), LS_ECONFIG);
        assert_non_null(strstr(ls_error_last(), keys[i]));
        assert_null(strstr(ls_error_last(), "Pa55word"));
        ls_config_dispose(&cfg);
        vars[0] = ftp;
        assert_int_equal(load(&cfg, NULL, vars), LS_ECONFIG);
        ls_config_dispose(&cfg);
    }
    vars[0] = "LEADSYNC_HUBSPOT_BASE_URL=http://127.0.0.1:8443"; /* loopback: a test double */
    assert_int_equal(load(&cfg, NULL, vars), 0);
    ls_config_dispose(&cfg);
    vars[0] = "LEADSYNC_SALESFORCE_INSTANCE_URL=https://acme.my.salesforce.com";
    assert_int_equal(load(&cfg, NULL, vars), 0);
    ls_config_dispose(&cfg);
}

/* The Pushgateway URL has its own rule: http or https with a host (plain
 * http anywhere: a Pushgateway usually sits in the cluster), no userinfo;
 * the message names the key, never the password. */
static void test_ls_config__pushgateway_url(void **state)
{
    static char bad[][96] = {
        "LEADSYNC_PUSHGATEWAY_URL=https://u:Pa55word@pushgateway.example.com:9091",
        "LEADSYNC_PUSHGATEWAY_URL=http://:Pa55word@pushgateway:9091",
        "LEADSYNC_PUSHGATEWAY_URL=ftp://pushgateway:9091",
        "LEADSYNC_PUSHGATEWAY_URL=pushgateway:9091",
        "LEADSYNC_PUSHGATEWAY_URL=http://",
        "LEADSYNC_PUSHGATEWAY_URL=/metrics/job/leadsync"};
    static char good[][96] = {
        "LEADSYNC_PUSHGATEWAY_URL=http://prometheus-pushgateway.monitoring.svc:9091",
        "LEADSYNC_PUSHGATEWAY_URL=https://push.example.com/", "LEADSYNC_PUSHGATEWAY_URL="};
    char *vars[2] = {NULL, NULL};
    struct ls_config cfg;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        vars[0] = bad[i];
        assert_int_equal(load(&cfg, NULL, vars), LS_ECONFIG);
        assert_non_null(strstr(ls_error_last(), "LEADSYNC_PUSHGATEWAY_URL"));
        assert_null(strstr(ls_error_last(), "Pa55word"));
        assert_int_equal(ls_exit_code(LS_ECONFIG), 78);
        ls_config_dispose(&cfg);
    }
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        vars[0] = good[i];
        assert_int_equal(load(&cfg, NULL, vars), LS_OK);
        ls_config_dispose(&cfg);
    }
}

static char *write_tmp(const char *dir, const char *name, const char *text)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *path = malloc(n);
    FILE *f;

    assert_non_null(path);
    snprintf(path, n, "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_ls_config__file_and_precedence(void **state)
{
    char *dir = lst_tmpdir();
    char *file = write_tmp(dir, "c.json",
                           "{\"LEADSYNC_TABLE\": \"FromFile\", \"LEADSYNC_POLL_SECONDS\": 5,"
                           " \"LEADSYNC_STATE\": \"/x.db\"}");
    char *vars[] = {"LEADSYNC_TABLE=FromEnv", NULL};
    struct ls_config cfg;

    (void)state;
    assert_int_equal(load(&cfg, file, vars), 0);
    assert_string_equal(cfg.table, "FromEnv"); /* environment beats the file */
    assert_int_equal(cfg.poll_seconds, 5);
    assert_string_equal(cfg.state, "/x.db");
    assert_int_equal(ls_config_set(&cfg, "LEADSYNC_TABLE", "FromFlag", "flag"), 0);
    assert_string_equal(cfg.table, "FromFlag");
    ls_config_dispose(&cfg);
    free(file);
    lst_rmtree(dir);
    free(dir);
}

static void test_ls_config__file_errors(void **state)
{
    char *dir = lst_tmpdir();
    char *unknown = write_tmp(dir, "u.json", "{\"LEADSYNC_TABLE\": \"T\", \"table_name\": 1}");
    char *broken = write_tmp(dir, "b.json", "{\"LEADSYNC_TABLE\": ");
    char *leaky = write_tmp(
        dir, "l.json", "{\"LEADSYNC_TABLE\": \"T\",\n \"LEADSYNC_HUBSPOT_TOKEN\": s3cr3t-pat}");
    char *arr = write_tmp(dir, "a.json", "[1,2]");
    char *typed = write_tmp(dir, "t.json", "{\"LEADSYNC_TABLE\": [\"x\"]}");
    char *vars[] = {NULL};
    struct ls_config cfg;

    (void)state;
    assert_int_equal(load(&cfg, unknown, vars), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "table_name"));
    assert_non_null(strstr(ls_error_last(), unknown));
    ls_config_dispose(&cfg);
    assert_int_equal(load(&cfg, broken, vars), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "line"));
    ls_config_dispose(&cfg);
    /* a syntax error names the line and column, never the text near it (a secret) */
    assert_int_equal(load(&cfg, leaky, vars), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "line 2, column"));
    assert_null(strstr(ls_error_last(), "s3cr"));
    ls_config_dispose(&cfg);
    assert_int_equal(load(&cfg, arr, vars), LS_ECONFIG);
    ls_config_dispose(&cfg);
    assert_int_equal(load(&cfg, typed, vars), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "LEADSYNC_TABLE"));
    ls_config_dispose(&cfg);
    assert_int_equal(load(&cfg, "/nonexistent/leadsync.json", vars), LS_ECONFIG);
    ls_config_dispose(&cfg);
    free(unknown);
    free(broken);
    free(leaky);
    free(arr);
    free(typed);
    lst_rmtree(dir);
    free(dir);
}

static void test_ls_config__secret_from_file(void **state)
{
    char *dir = lst_tmpdir();
    char *secret =
        write_tmp(dir, "s", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k==\n");
    char var[4096];
    char *vars[] = {var, NULL};
    char *missing[] = {"LEADSYNC_CONNECTION_STRING_FILE=/nonexistent/secret", NULL};
    struct ls_config cfg;
    FILE *dump;
    char out[8192] = "";
    size_t n;

    (void)state;
    snprintf(var, sizeof(var), "LEADSYNC_CONNECTION_STRING_FILE=%s", secret);
    assert_int_equal(load(&cfg, NULL, vars), 0);
    /* trailing newline stripped */
    assert_string_equal(cfg.connection_string,
                        "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k==");
    /* the dump never shows a secret */
    dump = tmpfile();
    ls_config_dump(&cfg, dump);
    rewind(dump);
    n = fread(out, 1, sizeof(out) - 1, dump);
    out[n] = '\0';
    fclose(dump);
    assert_null(strstr(out, "AccountKey"));
    assert_non_null(strstr(out, "LEADSYNC_CONNECTION_STRING=(set)"));
    ls_config_dispose(&cfg);
    assert_int_equal(load(&cfg, NULL, missing), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "LEADSYNC_CONNECTION_STRING_FILE"));
    ls_config_dispose(&cfg);
    free(secret);
    lst_rmtree(dir);
    free(dir);
}

/* A NUL byte would cut the secret short without a word: the file is refused,
 * and the message quotes none of it. */
static void test_ls_config__secret_file_with_nul_refused(void **state)
{
    char *dir = lst_tmpdir();
    char *path = ls_xasprintf("%s/bin", dir);
    char var[4096];
    char *vars[] = {var, NULL};
    struct ls_config cfg;
    FILE *f = fopen(path, "wb");

    (void)state;
    assert_non_null(f);
    assert_int_equal(fwrite("whsec_abc\0tail\n", 1, 15, f), 15);
    fclose(f);
    snprintf(var, sizeof(var), "LEADSYNC_WEBHOOK_SECRET_FILE=%s", path);
    assert_int_equal(load(&cfg, NULL, vars), LS_ECONFIG);
    assert_non_null(strstr(ls_error_last(), "LEADSYNC_WEBHOOK_SECRET_FILE"));
    assert_non_null(strstr(ls_error_last(), "NUL byte"));
    assert_null(strstr(ls_error_last(), "whsec"));
    assert_null(cfg.webhook_secret);
    ls_config_dispose(&cfg);
    free(path);
    lst_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ls_config__sink_sections),
        cmocka_unit_test(test_ls_config__defaults),
        cmocka_unit_test(test_ls_config__environment),
        cmocka_unit_test(test_ls_config__main_name_wins_over_alias),
        cmocka_unit_test(test_ls_config__unknown_env_rejected),
        cmocka_unit_test(test_ls_config__bad_values),
        cmocka_unit_test(test_ls_config__crm_urls),
        cmocka_unit_test(test_ls_config__pushgateway_url),
        cmocka_unit_test(test_ls_config__metrics_addr),
        cmocka_unit_test(test_ls_config__file_and_precedence),
        cmocka_unit_test(test_ls_config__file_errors),
        cmocka_unit_test(test_ls_config__secret_from_file),
        cmocka_unit_test(test_ls_config__secret_file_with_nul_refused),
    };

    return lst_run_group(tests, NULL, NULL);
}
